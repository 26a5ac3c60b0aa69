/*  =========================================================================
    cli_run - run the built `cairn` client as a child, for the CLI tests

    Shared by e2e_cli.c (node and config commands) and e2e_cli_msg.c (the
    message-store family): one way to run the client with a deadline and
    captured output (harness_run), to log what it printed, to read its JSON,
    and to count failed checks.
    ========================================================================= */

#ifndef CLI_RUN_H_INCLUDED
#define CLI_RUN_H_INCLUDED

#include "harness.h"

#include <jansson.h>
#include <stdbool.h>

#define CLI_RUN_TIMEOUT_MS 15000 //  per client run; the client's own default is 5 s

//  Failed CHECKs so far (the test's exit status).
extern int cli_run_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            cli_run_failures++;                                                                    \
        }                                                                                          \
    } while (0)

typedef harness_run_t run_t;

//  Runs cairn with the NULL-terminated args (CAIRN_ENDPOINT set to
//  env_endpoint, or unset when NULL), logs and returns what it printed.
run_t cli_run_argv(const char *env_endpoint, const char *const *args);

#define RUN(...)          cli_run_argv(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_ENV(env, ...) cli_run_argv(env, (const char *const[]){__VA_ARGS__, NULL})

void cli_run_free(run_t *run);

//  Path of the cairn binary under test.
const char *cli_run_path(void);

//  Parses the run's stdout as one JSON object; NULL (and a failed check)
//  otherwise. Caller decrefs.
json_t *cli_run_json(const run_t *run);

//  object[key] is the string `expected`.
bool cli_json_str_is(json_t *object, const char *key, const char *expected);

bool cli_starts_with(const char *text, const char *prefix);

#endif

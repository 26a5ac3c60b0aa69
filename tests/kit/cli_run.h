/*  =========================================================================
    cli_run - run the built `cairn` client as a child, for the CLI tests

    Shared by e2e_cli.c (node and config commands), e2e_cli_messages.c (the
    message-store family), e2e_cli_content.c (content and cache) and
    e2e_cli_provenance.c (manifests, summaries, provenance): one
    way to run the client with a deadline and captured output
    (harness_run), to log what it printed, to read its JSON, to check how
    it ended, to count failed checks, and a test's temp dir and node.
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

//  object[key] as an integer (0 when absent).
int64_t cli_json_int(json_t *object, const char *key);

//  The run exited `status` and stderr starts "cairn: PREFIX".
bool cli_failed_with(const run_t *run, int status, const char *prefix);

//  Checks that the run exited 0 with {"status":"ok",...} on stdout; frees
//  the run and returns the object (caller decrefs).
json_t *cli_run_json_ok(run_t run);

//  Checks that the run exited 0 with `stdout_part` in its stdout; frees it.
void cli_expect_ok(run_t run, const char *stdout_part);

//  Checks that the run exited `status` with stderr starting "cairn:
//  PREFIX"; frees it.
void cli_expect_fail(run_t run, int status, const char *prefix);

//  Runs `cairn --endpoint ENDPOINT --json WORDS...` (NULL-terminated) and
//  checks that the client refused it itself: exit 2, "cairn: " and the
//  usage on stderr, nothing on stdout (no JSON either).
void cli_expect_usage(const char *endpoint, const char *const *words);

//  Checks that a `cairn --json ...` run exited 1 with {"status": STATUS,
//  "error": MESSAGE} on stdout; frees it.
void cli_expect_json_error(run_t run, const char *status);

//  ---- a test's temp dir and node ---------------------------------------------------

typedef struct {
    harness_node_t *node; //  NULL for tests without one
    char *endpoint;
    char dir[64]; //  temp dir for the test's files
} cli_ctx_t;

//  A temp dir /tmp/cairn-cli-NAME-XXXXXX and, when with_node, a node
//  started with `node_args` (NULL-ended, or NULL); else an endpoint where
//  nothing listens.
cli_ctx_t *cli_ctx_begin(const char *name, bool with_node, const char *const *node_args);

//  The same with a node that has an identity (harness_node_up_identity):
//  for tests that pay, since payments are signed for the node's peer id.
cli_ctx_t *cli_ctx_begin_identity(const char *name);

//  Stops the node (a failed check unless it stops cleanly), removes the
//  temp dir and frees; *self_p becomes NULL.
void cli_ctx_end(cli_ctx_t **self_p);

//  ---- a table of CLI tests ------------------------------------------------------------

//  One CLI test, run inside its own cli_ctx.
typedef struct {
    const char *name;
    bool needs_node; //  false: the endpoint has nothing listening
    void (*run)(const cli_ctx_t *ctx);
} cli_test_t;

//  The main of a CLI test program: runs the test named by argv[1] (all of
//  them without one), each between cli_ctx_begin and cli_ctx_end. Returns
//  2 for an unknown name, 1 when a CHECK failed, else 0; `program` names
//  the program in what it prints.
int cli_run_main(int argc, char **argv, const char *program, const cli_test_t *tests, size_t count);

#endif

/*  =========================================================================
    cli_run - run the built `cairn` client as a child, for the CLI tests

    See cli_run.h. CAIRN_CLI_PATH is the client under test, set by the
    build.
    ========================================================================= */

#include "cli_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#ifndef CAIRN_CLI_PATH
#define CAIRN_CLI_PATH "cairn"
#endif

#define ENDPOINT_ENV "CAIRN_ENDPOINT="

int cli_run_failures = 0;

static void s_log_run(const char *path, const char *const *args, const run_t *run) {
    fprintf(stderr, "$ %s", path);
    for (int i = 0; args[i]; i++)
        fprintf(stderr, " %s", args[i]);
    fprintf(stderr, "\n  -> exit %d in %" PRId64 " ms\n  stdout: %s\n  stderr: %s\n", run->status,
            run->elapsed_ms, run->out, run->err);
}

run_t cli_run_argv(const char *env_endpoint, const char *const *args) {
    char *setting = env_endpoint ? zsys_sprintf("%s%s", ENDPOINT_ENV, env_endpoint) : NULL;
    const char *env_changes[] = {setting ? setting : "CAIRN_ENDPOINT", NULL};
    run_t run = harness_run(CAIRN_CLI_PATH, args, env_changes, CLI_RUN_TIMEOUT_MS);
    zstr_free(&setting);
    s_log_run(CAIRN_CLI_PATH, args, &run);
    return run;
}

const char *cli_run_path(void) {
    return CAIRN_CLI_PATH;
}

void cli_run_free(run_t *run) {
    harness_run_free(run);
}

json_t *cli_run_json(const run_t *run) {
    json_error_t error;
    json_t *object = json_loads(run->out, 0, &error);
    if (!object)
        fprintf(stderr, "cli_run: stdout is not JSON: %s (line %d)\n", error.text, error.line);
    CHECK(object && json_is_object(object));
    return object;
}

bool cli_json_str_is(json_t *object, const char *key, const char *expected) {
    const char *value = json_string_value(json_object_get(object, key));
    return value && streq(value, expected);
}

bool cli_starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/*  =========================================================================
    cli_run - run the built `cairn` client as a child, for the CLI tests

    See cli_run.h. CAIRN_CLI_PATH is the client under test, set by the
    build.
    ========================================================================= */

#include "cli_run.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

int64_t cli_json_int(json_t *object, const char *key) {
    return (int64_t)json_integer_value(json_object_get(object, key));
}

bool cli_failed_with(const run_t *run, int status, const char *prefix) {
    char *expected = zsys_sprintf("cairn: %s", prefix);
    bool ok = run->status == status && cli_starts_with(run->err, expected);
    zstr_free(&expected);
    return ok;
}

json_t *cli_run_json_ok(run_t run) {
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok"));
    cli_run_free(&run);
    return object;
}

void cli_expect_ok(run_t run, const char *stdout_part) {
    CHECK(run.status == 0);
    CHECK(strstr(run.out, stdout_part));
    cli_run_free(&run);
}

void cli_expect_fail(run_t run, int status, const char *prefix) {
    CHECK(cli_failed_with(&run, status, prefix));
    cli_run_free(&run);
}

#define USAGE_ARGS_MAX 24

void cli_expect_usage(const char *endpoint, const char *const *words) {
    const char *args[USAGE_ARGS_MAX] = {"--endpoint", endpoint, "--json"};
    size_t count = 3;
    for (size_t i = 0; words[i] && count < USAGE_ARGS_MAX - 1; i++)
        args[count++] = words[i];
    args[count] = NULL;
    run_t run = cli_run_argv(NULL, args);
    CHECK(run.status == 2);
    CHECK(cli_starts_with(run.err, "cairn: "));
    CHECK(strstr(run.err, "usage: cairn"));
    CHECK(run.out[0] == '\0');
    cli_run_free(&run);
}

void cli_expect_json_error(run_t run, const char *status) {
    CHECK(run.status == 1);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", status));
    CHECK(json_is_string(json_object_get(object, "error")));
    json_decref(object);
    cli_run_free(&run);
}

cli_ctx_t *cli_ctx_begin(const char *name, bool with_node, const char *const *node_args) {
    cli_ctx_t *self = (cli_ctx_t *)calloc(1, sizeof *self);
    assert(self);
    snprintf(self->dir, sizeof self->dir, "/tmp/cairn-cli-%s-XXXXXX", name);
    char *made = mkdtemp(self->dir);
    assert(made);
    if (with_node) {
        self->node = harness_node_start(NULL, node_args);
        HARNESS_CHECK(self->node);
        self->endpoint = strdup(harness_node_endpoint(self->node));
    } else
        self->endpoint = zsys_sprintf("tcp://127.0.0.1:%d", harness_free_port());
    return self;
}

cli_ctx_t *cli_ctx_begin_identity(const char *name) {
    cli_ctx_t *self = cli_ctx_begin(name, false, NULL);
    zstr_free(&self->endpoint);
    self->node = harness_node_up_identity(NULL);
    self->endpoint = strdup(harness_node_endpoint(self->node));
    return self;
}

void cli_ctx_end(cli_ctx_t **self_p) {
    cli_ctx_t *self = *self_p;
    if (!self)
        return;
    if (self->node) {
        CHECK(harness_node_stop(self->node) == 0);
        harness_node_destroy(&self->node);
    }
    zdir_t *files = zdir_new(self->dir, NULL);
    if (files)
        zdir_remove(files, true);
    zdir_destroy(&files);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int cli_run_main(int argc, char **argv, const char *program, const cli_test_t *tests,
                 size_t count) {
    if (argc == 2 && streq(argv[1], "--list")) { //  ctest's registration (tests/CMakeLists.txt)
        for (size_t i = 0; i < count; i++)
            printf("e2e.cli.%s %s\n", tests[i].name, tests[i].name);
        return 0;
    }
    bool ran = false;
    for (size_t i = 0; i < count; i++)
        if (argc < 2 || streq(argv[1], tests[i].name)) {
            fprintf(stderr, "==== e2e.cli.%s\n", tests[i].name);
            cli_ctx_t *ctx = cli_ctx_begin(tests[i].name, tests[i].needs_node, NULL);
            tests[i].run(ctx);
            cli_ctx_end(&ctx);
            ran = true;
        }
    if (!ran) {
        fprintf(stderr, "%s: no test named '%s'\n", program, argv[1]);
        return 2;
    }
    if (cli_run_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", program, cli_run_failures);
    return cli_run_failures ? 1 : 0;
}

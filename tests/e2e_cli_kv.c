/*  =========================================================================
    e2e_cli_kv - the `cairn kv ...` commands against a real cairnd (and a
    real redis-server for the Redis namespace)

        e2e-cli-kv TEST      runs one test (with no argument, all of
                             them), registered as e2e.cli.NAME

    Text and --json output of every kv command on each backend, values from
    an argument, a file and standard input, the client's own usage checks,
    and the node's errors as the client reports them.
    ========================================================================= */

#include "cli_run.h"
#include "redis_server.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

static void s_backend(cli_ctx_t *t, const char *ns, const char *backend, const char *port) {
    json_t *object = port ? CAIRN_JSON(t, "kv", "create", ns, "--backend", backend, "--port", port,
                                       "--prefix", "cli:")
                          : CAIRN_JSON(t, "kv", "create", ns, "--backend", backend);
    CHECK(cli_json_str_is(object, "backend", backend) && cli_json_str_is(object, "namespace", ns));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "kv", "put", ns, "a/1", "hello"), "created");
    cli_expect_ok(CAIRN(t, "kv", "put", ns, "a/1", "hello again"), "replaced");
    cli_expect_ok(CAIRN(t, "kv", "get", ns, "a/1"), "hello again");
    //  A binary value from a file comes back byte for byte (--json: base64).
    char path[4200];
    snprintf(path, sizeof path, "%s/value.bin", t->dir);
    FILE *file = fopen(path, "wb");
    const uint8_t binary[] = {0, 0xff, 0x80, 'x'};
    CHECK(file && fwrite(binary, 1, sizeof binary, file) == sizeof binary && fclose(file) == 0);
    object = CAIRN_JSON(t, "kv", "put", ns, "b", "--file", path);
    CHECK(json_is_true(json_object_get(object, "created")));
    json_decref(object);
    object = CAIRN_JSON(t, "kv", "get", ns, "b");
    CHECK(cli_json_int(object, "size") == 4);
    CHECK(cli_json_str_is(object, "value_base64", "AP+AeA==") ||
          cli_json_str_is(object, "value", "AP+AeA=="));
    json_decref(object);
    //  Standard input (here /dev/null: an empty value).
    cli_expect_ok(CAIRN(t, "kv", "put", ns, "empty", "--file", "-"), "created");
    object = CAIRN_JSON(t, "kv", "exists", ns, "empty");
    CHECK(json_is_true(json_object_get(object, "exists")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "kv", "exists", ns, "nope"), "no");
    object = CAIRN_JSON(t, "kv", "list", ns, "--limit", "2");
    CHECK(json_array_size(json_object_get(object, "keys")) == 2);
    CHECK(json_is_true(json_object_get(object, "more")));
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(object, "keys"), 0)), "a/1"));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "kv", "list", ns, "--prefix", "a/"), "a/1");
    object = CAIRN_JSON(t, "kv", "stats", ns);
    CHECK(cli_json_int(object, "keys") == 3 && cli_json_int(object, "bytes") == 11 + 4);
    json_decref(object);
    char target[64];
    snprintf(target, sizeof target, "%s-copy", ns);
    object = CAIRN_JSON(t, "kv", "clone", ns, target);
    CHECK(cli_json_int(object, "keys") == 3);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "kv", "get", target, "a/1"), "hello again");
    cli_expect_ok(CAIRN(t, "kv", "delete", ns, "a/1"), "deleted 1 key");
    cli_expect_fail(CAIRN(t, "kv", "get", ns, "a/1"), 1, "not_found: ");
    object = CAIRN_JSON(t, "kv", "clear", ns);
    CHECK(cli_json_int(object, "count") == 2);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "kv", "drop", ns), "deleted 0 key");
    cli_expect_ok(CAIRN(t, "kv", "drop", target), "deleted 3 key");
}

static void s_test_kv_commands(void) {
    cli_ctx_t *t = cli_ctx_begin("kv", true, NULL);
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    char port[16];
    snprintf(port, sizeof port, "%d", redis ? redis_server_port(redis) : 0);
    s_backend(t, "s", "sqlite", NULL);
    s_backend(t, "f", "filesystem", NULL);
    s_backend(t, "r", "redis", port);
    cli_expect_ok(CAIRN(t, "kv", "create", "one"), "created one  sqlite");
    json_t *object = CAIRN_JSON(t, "kv", "namespaces");
    CHECK(json_array_size(json_object_get(object, "namespaces")) == 1);
    json_decref(object);
    redis_server_destroy(&redis);
    cli_ctx_end(&t);
}

static void s_test_kv_errors(void) {
    cli_ctx_t *t = cli_ctx_begin("kv-errors", true, NULL);
    cli_expect_usage(t->endpoint, (const char *const[]){"kv", "put", "n", "k", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"kv", "put", "n", "k", "v", "--file", "x", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"kv", "create", "n", "--backend", "tape", NULL});
    cli_expect_json_error(CAIRN(t, "--json", "kv", "get", "nope", "k"), "not_found");
    cli_expect_ok(CAIRN(t, "kv", "create", "n"), "created");
    cli_expect_json_error(CAIRN(t, "--json", "kv", "put", "n", "../escape", "v"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "kv", "list", "n", "--limit", "1001"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "kv", "create", "n"), "conflict");
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"kv_commands", s_test_kv_commands},
    {"kv_errors", s_test_kv_errors},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-kv: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

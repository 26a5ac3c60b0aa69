/*  =========================================================================
    e2e_cli_oplog - the `cairn oplog ...` commands against a real cairnd

        e2e-cli-oplog TEST      runs one test (with no argument, all of
                                them), registered as e2e.cli.NAME

    `append` signs with a key file, fills seq and backlink by asking the
    latest entry; then every other command in text and --json.
    ========================================================================= */

#include "ca_hash.h"
#include "ca_sign.h"
#include "cli_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_SIZE 65

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

static void s_hex(const uint8_t *data, size_t size, char *text) {
    for (size_t i = 0; i < size; i++)
        sprintf(text + 2 * i, "%02x", data[i]);
}

//  Writes a key file (128 hex digits) into the test's dir; `author` gets
//  the public key as hex.
static void s_key_file(const cli_ctx_t *t, char *path, size_t size, char author[HEX_SIZE]) {
    uint8_t seed[32], public_key[32], secret_key[64];
    memset(seed, 0x5a, sizeof seed);
    ca_ed25519_from_seed(seed, public_key, secret_key);
    snprintf(path, size, "%s/author.key", t->dir);
    char hex[129];
    s_hex(secret_key, 64, hex);
    FILE *file = fopen(path, "w");
    CHECK(file && fputs(hex, file) >= 0 && fclose(file) == 0);
    s_hex(public_key, 32, author);
}

static void s_test_oplog_flow(void) {
    cli_ctx_t *t = cli_ctx_begin("oplog", true, NULL);
    char key[200], author[HEX_SIZE], first[HEX_SIZE], second[HEX_SIZE];
    s_key_file(t, key, sizeof key, author);
    cli_expect_ok(CAIRN(t, "oplog", "stats"), "operations   0");
    json_t *object = CAIRN_JSON(t, "oplog", "append", "4", "--key-file", key, "--body", "hello");
    CHECK(cli_json_int(object, "seq") == 0 && !json_is_true(json_object_get(object, "held")));
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(object, "hash")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "append", "4", "--key-file", key, "--body", "again"),
                  "appended seq 1");
    object = CAIRN_JSON(t, "oplog", "latest", author, "4");
    json_t *header = json_object_get(object, "header");
    CHECK(cli_json_int(header, "seq") == 1 && cli_json_str_is(header, "backlink", first));
    snprintf(second, sizeof second, "%s", json_string_value(json_object_get(object, "hash")));
    json_decref(object);
    //  A dependency that never came: held.
    char missing[HEX_SIZE];
    memset(missing, 'e', 64);
    missing[64] = 0;
    object = CAIRN_JSON(t, "oplog", "append", "5", "--key-file", key, "--previous", missing,
                        "--previous", first, "--header-only");
    CHECK(json_is_true(json_object_get(object, "held")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "pending"), missing);
    object = CAIRN_JSON(t, "oplog", "pending");
    CHECK(json_array_size(json_object_get(object, "held")) == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "get", first), "hello");
    object = CAIRN_JSON(t, "oplog", "get", first);
    CHECK(cli_json_str_is(object, "body", "hello"));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "has", second), "present");
    cli_expect_ok(CAIRN(t, "oplog", "heights", author), "4 ");
    object = CAIRN_JSON(t, "oplog", "heights", author);
    CHECK(json_array_size(json_object_get(object, "logs")) == 2);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "size", author, "4"), "2 operations");
    object = CAIRN_JSON(t, "oplog", "range", author, "4", "--bodies", "--limit", "1");
    CHECK(json_array_size(json_object_get(object, "entries")) == 1 &&
          json_is_true(json_object_get(object, "more")) && cli_json_int(object, "next_seq") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "range", author, "4", "--from", "1"), second);
    object = CAIRN_JSON(t, "oplog", "take", "reader");
    CHECK(json_array_size(json_object_get(object, "entries")) == 2);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "take", "reader"), "nothing ready");
    object = CAIRN_JSON(t, "oplog", "stats", "--consumer", "reader");
    CHECK(cli_json_int(object, "operations") == 3 && cli_json_int(object, "pending") == 1 &&
          cli_json_int(object, "ready") == 2 && cli_json_int(object, "ready_for_consumer") == 0);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "forks", author), "no forks");
    cli_expect_ok(CAIRN(t, "oplog", "erase", first), "body erased");
    object = CAIRN_JSON(t, "oplog", "get", first);
    CHECK(json_is_true(json_object_get(object, "erased")));
    json_decref(object);
    object = CAIRN_JSON(t, "oplog", "prune", author, "4", "5");
    CHECK(cli_json_int(object, "removed") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "oplog", "latest", author, "4"), second);
    cli_ctx_end(&t);
}

static void s_test_oplog_errors(void) {
    cli_ctx_t *t = cli_ctx_begin("oplog-errors", true, NULL);
    char key[200], author[HEX_SIZE], h[HEX_SIZE];
    s_key_file(t, key, sizeof key, author);
    memset(h, 'a', 64);
    h[64] = 0;
    cli_expect_json_error(CAIRN(t, "--json", "oplog", "get", h), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "oplog", "latest", author, "1"), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "oplog", "erase", h), "not_found");
    cli_expect_fail(CAIRN(t, "oplog", "get", "abc"), 2, "");
    cli_expect_fail(CAIRN(t, "oplog", "append", "1", "--key-file", "/nonexistent/key"), 2, "");
    cli_expect_fail(
        CAIRN(t, "oplog", "append", "1", "--key-file", key, "--body", "a", "--body-file", key), 2,
        "");
    cli_expect_fail(CAIRN(t, "oplog", "range", author, "1", "--limit", "1001"), 2, "");
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"oplog_flow", s_test_oplog_flow},
    {"oplog_errors", s_test_oplog_errors},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-oplog: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

/*  =========================================================================
    e2e_cli_settlement - the `cairn settle ...` commands against a real cairnd

        e2e-cli-settle TEST      runs one test (with no argument, all of
                                 them), registered as e2e.cli.NAME

    Text and --json output of every settle command, the client's own usage
    checks, and the node's errors as the client reports them.
    ========================================================================= */

#include "ca_hash.h"
#include "ca_validate.h"
#include "cli_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_SIZE 65

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  The SHA-256 of `label` as hex.
static void s_hash(const char *label, char hex[HEX_SIZE]) {
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(label, strlen(label), digest);
    ca_hash_to_hex(digest, hex);
}

static void s_test_settle_flow(void) {
    cli_ctx_t *t = cli_ctx_begin("settle", true, NULL);
    char p1[HEX_SIZE], p2[HEX_SIZE], p3[HEX_SIZE], source[HEX_SIZE], mark_id[HEX_SIZE];
    s_hash("p1", p1);
    s_hash("p2", p2);
    s_hash("p3", p3);
    s_hash("source", source);
    s_hash("mark", mark_id);
    cli_expect_ok(CAIRN(t, "settle", "last"), "never settled");
    cli_expect_ok(CAIRN(t, "settle", "pending"), "nothing pending");
    cli_expect_ok(CAIRN(t, "settle", "enqueue", p1, "alice", "100", source, "--queued-at", "10"),
                  "queued");
    cli_expect_ok(CAIRN(t, "settle", "enqueue", p1, "alice", "7", source), "already queued");
    json_t *object = CAIRN_JSON(t, "settle", "enqueue", p1, "bob", "18446744073709551615", source,
                                "--queued-at", "11");
    CHECK(json_is_true(json_object_get(object, "created")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "settle", "enqueue", p2, "alice", "5", source, "--queued-at", "12"),
                  "queued");
    cli_expect_ok(CAIRN(t, "settle", "enqueue", p3, "carol", "1", source, "--queued-at", "13"),
                  "queued");
    object = CAIRN_JSON(t, "settle", "pending", "--recipient", "alice");
    json_t *list = json_object_get(object, "distributions");
    CHECK(json_array_size(list) == 2);
    CHECK(cli_json_str_is(json_array_get(list, 0), "payment_id", p1));
    CHECK(cli_json_int(json_array_get(list, 0), "amount") == 100);
    CHECK(cli_json_str_is(json_array_get(list, 0), "source_hash", source));
    json_decref(object);
    //  Pages: the cursor a full page prints takes the next one, in text
    //  and JSON; p1 goes to alice (queued 10) and bob (11), so the cursor
    //  needs the recipient too.
    char cursor[HEX_SIZE + 32];
    snprintf(cursor, sizeof cursor, "(more: --after %s:alice)", p1);
    cli_expect_ok(CAIRN(t, "settle", "pending", "--limit", "1"), cursor);
    object = CAIRN_JSON(t, "settle", "pending", "--limit", "2");
    CHECK(json_is_true(json_object_get(object, "more")));
    snprintf(cursor, sizeof cursor, "%s:bob", p1);
    CHECK(cli_json_str_is(object, "next_after", cursor));
    json_decref(object);
    object = CAIRN_JSON(t, "settle", "pending", "--limit", "2", "--after", cursor);
    list = json_object_get(object, "distributions");
    CHECK(json_array_size(list) == 2 && !json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(json_array_get(list, 0), "payment_id", p2));
    CHECK(cli_json_str_is(json_array_get(list, 1), "payment_id", p3));
    CHECK(json_object_get(object, "next_after") == NULL);
    json_decref(object);
    snprintf(cursor, sizeof cursor, "%s:dave", p1);
    cli_expect_fail(CAIRN(t, "settle", "pending", "--after", cursor), 1, "not_found: ");
    cli_expect_ok(CAIRN(t, "settle", "total", "--recipient", "alice"),
                  "105 pending in 2 distributions");
    //  The total of all is over 2^64-1: an error, not a wrapped number.
    cli_expect_fail(CAIRN(t, "settle", "total"), 1, "internal");
    object = CAIRN_JSON(t, "settle", "total", "--recipient", "bob");
    CHECK(cli_json_str_is(object, "total", "18446744073709551615")); //  above 2^63-1: a string
    json_decref(object);
    //  A batch of the oldest two, read back by id.
    object = CAIRN_JSON(t, "settle", "batch", "--limit", "2");
    CHECK(cli_json_int(object, "distributions") == 2);
    CHECK(json_array_size(json_object_get(object, "totals")) == 2);
    const char *id = json_string_value(json_object_get(object, "batch_id"));
    CHECK(id && strlen(id) == 64);
    char batch_id[HEX_SIZE] = "";
    if (id)
        snprintf(batch_id, sizeof batch_id, "%s", id);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "settle", "batch", "--id", batch_id), "alice");
    //  Mark: p2 settles, p1 was settled by the batch.
    object = CAIRN_JSON(t, "settle", "mark", mark_id, p2, p1);
    CHECK(cli_json_int(object, "settled") == 1);
    list = json_object_get(object, "already_settled");
    CHECK(json_array_size(list) == 1 && json_is_string(json_array_get(list, 0)) &&
          streq(json_string_value(json_array_get(list, 0)), p1));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "settle", "batch"), "carol");
    cli_expect_fail(CAIRN(t, "settle", "batch"), 1, "not_found");
    cli_expect_ok(CAIRN(t, "settle", "total"), "0 pending in 0 distributions");
    cli_expect_ok(CAIRN(t, "settle", "last", "--set", "1700000000.5"), "1700000000.500");
    object = CAIRN_JSON(t, "settle", "last");
    CHECK(json_is_true(json_object_get(object, "set")) &&
          json_real_value(json_object_get(object, "time")) == 1700000000.5);
    json_decref(object);
    cli_ctx_end(&t);
}

static void s_test_settle_usage(void) {
    cli_ctx_t *t = cli_ctx_begin("settle-usage", false, NULL);
    char h[HEX_SIZE];
    s_hash("x", h);
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "enqueue", "abc", "alice", "1", h, NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "enqueue", h, "alice", "0", h, NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "enqueue", h, "alice", "-1", h, NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "enqueue", h, "alice",
                                                        "18446744073709551616", h, NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "enqueue", h, "alice", "1", h,
                                                        "--queued-at", "yesterday", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "pending", "--limit", "100001", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "pending", "--after", "alice", NULL});
    char after[HEX_SIZE + 8];
    snprintf(after, sizeof after, "%s-alice", h);
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "pending", "--after", after, NULL});
    snprintf(after, sizeof after, "%s:", h);
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "pending", "--after", after, NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "batch", "--limit", "0", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"settle", "batch", "--id", h, "--limit", "5", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "mark", h, NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "mark", h, "zz", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"settle", "last", "--set", "-5", NULL});
    cli_ctx_end(&t);
}

static void s_test_settle_errors(void) {
    cli_ctx_t *t = cli_ctx_begin("settle-errors", true, NULL);
    char h[HEX_SIZE];
    s_hash("x", h);
    cli_expect_json_error(CAIRN(t, "--json", "settle", "enqueue", h, "no spaces", "1", h),
                          "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "settle", "total", "--recipient", "a/b"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "settle", "mark", h, h), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "settle", "batch", "--id", h), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "settle", "batch"), "not_found");
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"settle_flow", s_test_settle_flow},
    {"settle_usage", s_test_settle_usage},
    {"settle_errors", s_test_settle_errors},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-settle: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

/*  =========================================================================
    e2e_cli_logbook - the `cairn topic|cursor|group|book ...` commands
    against a real cairnd

        e2e-cli-logbook TEST      runs one test (with no argument, all of
                                  them), registered as e2e.cli.NAME

    Text and --json output of every logbook command, the client's own
    usage checks, and the node's errors as the client reports them.
    ========================================================================= */

#include "cli_run.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define HEX_SIZE 65

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  64 hex digits of `digit`.
static void s_hex(char digit, char hex[HEX_SIZE]) {
    memset(hex, digit, HEX_SIZE - 1);
    hex[HEX_SIZE - 1] = 0;
}

static void s_test_logbook_topics_cursors(void) {
    cli_ctx_t *t = cli_ctx_begin("logbook-tc", true, NULL);
    char topic[HEX_SIZE], author[HEX_SIZE];
    s_hex('1', topic);
    s_hex('a', author);
    cli_expect_ok(CAIRN(t, "topic", "associate", topic, author, "7"), "associated the log");
    cli_expect_ok(CAIRN(t, "topic", "associate", topic, author, "7"), "associated with the topic "
                                                                      "already");
    cli_expect_ok(CAIRN(t, "topic", "associate", topic, author, "8"), "associated the log");
    json_t *object = CAIRN_JSON(t, "topic", "resolve", topic, "--limit", "1");
    json_t *logs = json_object_get(object, "logs");
    CHECK(json_array_size(logs) == 1 && json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(json_array_get(logs, 0), "author", author));
    CHECK(cli_json_int(json_array_get(logs, 0), "log_id") == 7);
    json_decref(object);
    object = CAIRN_JSON(t, "topic", "resolve", topic, "--after-author", author, "--after-log", "7");
    logs = json_object_get(object, "logs");
    CHECK(json_array_size(logs) == 1 && !json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_int(json_array_get(logs, 0), "log_id") == 8);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "topic", "remove", topic, author, "7"), "removed");
    cli_expect_fail(CAIRN(t, "topic", "remove", topic, author, "7"), 1, "not_found: ");
    cli_expect_ok(CAIRN(t, "topic", "resolve", topic), "1 logs");

    cli_expect_ok(CAIRN(t, "cursor", "set", "reader", author, "7", "10"),
                  "cursor reader at seq 10");
    cli_expect_fail(CAIRN(t, "cursor", "set", "reader", author, "7", "9"), 1, "conflict: ");
    object = CAIRN_JSON(t, "cursor", "set", "reader", author, "7", "9", "--force");
    CHECK(cli_json_int(object, "seq") == 9 && cli_json_str_is(object, "name", "reader"));
    json_decref(object);
    object = CAIRN_JSON(t, "cursor", "get", "reader", author, "7");
    CHECK(cli_json_int(object, "seq") == 9);
    CHECK(cli_json_int(json_object_get(object, "log"), "log_id") == 7);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "cursor", "set", "reader", author, "8", "1"), "seq 1");
    cli_expect_ok(CAIRN(t, "cursor", "delete", "reader", author, "7"),
                  "deleted 1 cursor positions");
    object = CAIRN_JSON(t, "cursor", "delete", "reader");
    CHECK(cli_json_int(object, "count") == 1);
    json_decref(object);
    cli_expect_json_error(CAIRN(t, "--json", "cursor", "get", "reader", author, "8"), "not_found");
    cli_ctx_end(&t);
}

static void s_test_logbook_groups_book(void) {
    cli_ctx_t *t = cli_ctx_begin("logbook-gb", true, NULL);
    char group[HEX_SIZE], node[HEX_SIZE], other[HEX_SIZE], topic[HEX_SIZE];
    s_hex('2', group);
    s_hex('3', node);
    s_hex('4', other);
    s_hex('5', topic);
    cli_expect_ok(CAIRN(t, "group", "put", group, "0", "--state", "hello"), "group at version 1");
    cli_expect_fail(CAIRN(t, "group", "put", group, "0", "--state", "x"), 1, "conflict: ");
    json_t *object = CAIRN_JSON(t, "group", "put", group, "1", "--state", "two");
    CHECK(cli_json_int(object, "version") == 2 && cli_json_str_is(object, "group_id", group));
    json_decref(object);
    object = CAIRN_JSON(t, "group", "get", group);
    CHECK(cli_json_int(object, "version") == 2 && cli_json_str_is(object, "state", "two"));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "group", "get", group), "two");
    cli_expect_fail(CAIRN(t, "group", "put", group, "1", "--state", "stale"), 1, "conflict: ");
    cli_expect_fail(CAIRN(t, "group", "delete", group, "--if-version", "1"), 1, "conflict: ");
    cli_expect_ok(CAIRN(t, "group", "delete", group, "--if-version", "2"), "deleted 1 groups");
    cli_expect_fail(CAIRN(t, "group", "get", group), 1, "not_found: ");

    cli_expect_ok(CAIRN(t, "book", "put", node, "100", "--address", "tcp://a:1", "--address",
                        "tcp://b:2", "--topic", topic, "--bootstrap"),
                  "stored the node");
    cli_expect_ok(CAIRN(t, "book", "put", node, "99"), "kept the newer entry");
    object = CAIRN_JSON(t, "book", "put", other, "50");
    CHECK(json_is_true(json_object_get(object, "stored")));
    json_decref(object);
    object = CAIRN_JSON(t, "book", "list", "--topic", topic);
    json_t *nodes = json_object_get(object, "nodes");
    CHECK(json_array_size(nodes) == 1 && !json_is_true(json_object_get(object, "more")));
    json_t *first = json_array_get(nodes, 0);
    CHECK(cli_json_str_is(first, "node_id", node) && cli_json_int(first, "timestamp") == 100);
    CHECK(json_is_true(json_object_get(first, "bootstrap")));
    CHECK(json_array_size(json_object_get(first, "addresses")) == 2);
    CHECK(json_is_string(json_array_get(json_object_get(first, "topics"), 0)) &&
          streq(json_string_value(json_array_get(json_object_get(first, "topics"), 0)), topic));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "book", "list", "--limit", "1"), "more: page on with --after");
    cli_expect_ok(CAIRN(t, "book", "list", "--after", node), "1 nodes");
    cli_expect_ok(CAIRN(t, "book", "random", "--bootstrap"), "tcp://a:1");
    object = CAIRN_JSON(t, "book", "counts");
    CHECK(cli_json_int(object, "nodes") == 2 && cli_json_int(object, "bootstrap_nodes") == 1 &&
          cli_json_int(object, "topics") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "book", "remove-older", "60"), "deleted 1 nodes");
    cli_expect_ok(CAIRN(t, "book", "remove", node), "deleted 1 nodes");
    cli_expect_fail(CAIRN(t, "book", "remove", node), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "book", "random"), "not_found");
    cli_ctx_end(&t);
}

static void s_test_logbook_usage(void) {
    cli_ctx_t *t = cli_ctx_begin("logbook-usage", false, NULL);
    char h[HEX_SIZE];
    s_hex('6', h);
    cli_expect_usage(t->endpoint, (const char *const[]){"topic", "associate", "abc", h, "1", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"topic", "associate", h, h, "x", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"topic", "resolve", h, "--after-log", "1", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"cursor", "set", "c", h, "1", "-1", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"cursor", "delete", "c", h, NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"group", "put", h, "v", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"group", "put", h, "0", "--state", "a",
                                                        "--state-file", "/dev/null", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"book", "put", h, "0", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"book", "put", h, "1", "--topic", "zz", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"book", "list", "--after", "12", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"book", "remove-older", "0", NULL});
    cli_ctx_end(&t);
}

static void s_test_logbook_errors(void) {
    cli_ctx_t *t = cli_ctx_begin("logbook-errors", true, NULL);
    char h[HEX_SIZE];
    s_hex('7', h);
    cli_expect_json_error(CAIRN(t, "--json", "cursor", "get", "no space", h, "1"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "cursor", "set", "c", h, "1", "9223372036854775808"),
                          "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "book", "put", h, "18446744073709551615"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "book", "put", h, "1", "--topic", h, "--topic", h),
                          "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "topic", "resolve", h, "--limit", "1001"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "group", "get", h), "not_found");
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"logbook_topics_cursors", s_test_logbook_topics_cursors},
    {"logbook_groups_book", s_test_logbook_groups_book},
    {"logbook_usage", s_test_logbook_usage},
    {"logbook_errors", s_test_logbook_errors},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-logbook: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

/*  =========================================================================
    e2e_cli - the cairn command-line client against a real cairnd

    Black-box: the built `cairn` binary (CAIRN_CLI_PATH) runs as a child
    process with its stdout and stderr captured through pipes, and talks to
    a cairnd started by the harness on a free loopback port. The test reads
    both pipes and waits for the child's exit on a pidfd, all under one
    deadline; nothing waits on a sleep.

    One behaviour per ctest name: `e2e-cli NAME` runs the test NAME (with
    no argument, all of them). A test that needs a node starts its own and
    stops it at the end, and the node must exit with status 0.
    ========================================================================= */

#include "cairn.pb-c.h"
#include "ca_limits.h" //  CA_API_VERSION
#include "cli_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS CLI_RUN_TIMEOUT_MS

//  ---- tests without a node ---------------------------------------------------------

static void s_test_help(const cli_ctx_t *ctx) {
    run_t run = RUN("--help");
    CHECK(run.status == 0);
    const char *expected[] = {
        "ping",           "info",       "config get KEY", "config set KEY VALUE",
        "--default",      "--endpoint", "--json",         "--timeout",
        "CAIRN_ENDPOINT", "\"found\"",  "Exit status"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(run.out, expected[i]));
    CHECK(run.err[0] == '\0');
    cli_run_free(&run);

    run = RUN("--version");
    CHECK(run.status == 0);
    CHECK(cli_starts_with(run.out, "cairn " CAIRN_VERSION));
    cli_run_free(&run);

    //  help: everything; a group's commands; one command's help.
    run = RUN("help");
    CHECK(run.status == 0 && strstr(run.out, "Exit status") && strstr(run.out, "msg send"));
    cli_run_free(&run);
    const char *group_forms[][2] = {{"help", "msg"}, {"msg", "--help"}, {"msg", "-h"}};
    for (size_t i = 0; i < sizeof group_forms / sizeof group_forms[0]; i++) {
        run = RUN(group_forms[i][0], group_forms[i][1]);
        CHECK(run.status == 0 && strstr(run.out, "Commands of 'msg'") &&
              strstr(run.out, "msg send") && strstr(run.out, "msg search") &&
              !strstr(run.out, "config get"));
        CHECK(run.err[0] == '\0');
        cli_run_free(&run);
    }
    run = RUN("help", "msg", "send");
    CHECK(run.status == 0 && cli_starts_with(run.out, "usage: cairn") &&
          strstr(run.out, "msg send CHANNEL TEXT") && !strstr(run.out, "msg search"));
    cli_run_free(&run);
    run = RUN("help", "ping", "extra");
    CHECK(run.status == 2 && strstr(run.err, "help takes a command, not 'extra'"));
    cli_run_free(&run);
    run = RUN("help", "frobnicate");
    CHECK(run.status == 2 && strstr(run.err, "unknown command 'frobnicate'"));
    cli_run_free(&run);
}

static void s_test_unknown_command(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "frobnicate");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "unknown command 'frobnicate'"));
    CHECK(strstr(run.err, "usage:"));
    //  A pointer to the list, not the list: the error stays on screen.
    CHECK(strstr(run.err, "cairn help") && !strstr(run.err, "config get"));
    CHECK(run.out[0] == '\0');
    cli_run_free(&run);

    //  An unknown subcommand lists its group only.
    run = RUN("--endpoint", endpoint, "config", "frobnicate", "k");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "unknown command 'config frobnicate'"));
    CHECK(strstr(run.err, "config get KEY") && !strstr(run.err, "msg send"));
    cli_run_free(&run);

    //  A command's option before the command: said so.
    run = RUN("--endpoint", endpoint, "--limit", "5", "msg", "list", "#g");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "unknown option '--limit' before the command"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "ping", "--frobnicate");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "unknown option '--frobnicate'"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint);
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "no command"));
    cli_run_free(&run);
}

static void s_test_missing_argument(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "config", "set", "k");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "takes 2 arguments"));
    CHECK(strstr(run.err, "usage:"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "needs a subcommand"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config", "get", "k", "--default");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "needs a value"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--timeout", "soon", "ping");
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "--timeout"));
    cli_run_free(&run);
}

static void s_test_unreachable(const cli_ctx_t *ctx) {
    //  Nothing listens: said at once, long before the timeout.
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "--timeout", "60000", "ping");
    CHECK(run.status == 3);
    CHECK(strstr(run.err, "cairn: unreachable:"));
    CHECK(strstr(run.err, "the connection was refused"));
    CHECK(run.elapsed_ms < 10000);
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--timeout", "300", "--json", "config", "get", "k");
    CHECK(run.status == 3);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "unreachable"));
    CHECK(json_is_string(json_object_get(object, "error")));
    json_decref(object);
    cli_run_free(&run);

    //  Something listens and never answers: the timeout decides.
    zsock_t *silent = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(silent, "tcp://127.0.0.1:*");
    CHECK(port > 0);
    char *quiet = zsys_sprintf("tcp://127.0.0.1:%d", port);
    run = RUN("--endpoint", quiet, "--timeout", "300", "ping");
    CHECK(run.status == 3);
    CHECK(strstr(run.err, "300 ms"));
    CHECK(run.elapsed_ms >= 300 && run.elapsed_ms < RUN_TIMEOUT_MS);
    cli_run_free(&run);
    zstr_free(&quiet);
    zsock_destroy(&silent);
}

//  ---- tests against a node -----------------------------------------------------------

static void s_test_ping(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "ping");
    CHECK(run.status == 0);
    char *prefix = zsys_sprintf("pong from %s in ", endpoint);
    CHECK(cli_starts_with(run.out, prefix));
    CHECK(strstr(run.out, " ms\n"));
    CHECK(run.err[0] == '\0');
    zstr_free(&prefix);
    cli_run_free(&run);
}

static void s_test_endpoint_env(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN_ENV(endpoint, "ping");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, endpoint));
    cli_run_free(&run);

    //  The flag wins over the environment.
    char *dead = zsys_sprintf("tcp://127.0.0.1:%d", harness_free_port());
    run = RUN_ENV(dead, "--endpoint", endpoint, "ping");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, endpoint));
    cli_run_free(&run);
    zstr_free(&dead);
}

static void s_test_config_set_get(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "config", "set", "cli/greeting", "hello world");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "created cli/greeting\n"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config", "set", "cli/greeting", "hej");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "updated cli/greeting\n"));
    cli_run_free(&run);

    //  Options may follow the command; "--default" is ignored when found.
    run = RUN("config", "get", "cli/greeting", "--endpoint", endpoint, "--default", "x");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "hej\n"));
    cli_run_free(&run);

    //  A value that starts with '-' goes after "--".
    run = RUN("--endpoint", endpoint, "config", "set", "cli/limit", "--", "-1");
    CHECK(run.status == 0);
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "config", "get", "cli/limit");
    CHECK(streq(run.out, "-1\n"));
    cli_run_free(&run);
}

static void s_test_config_default(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "config", "get", "cli/absent", "--default", "dflt");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "dflt\n"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config", "get", "cli/absent");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "\n"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--json", "config", "get", "cli/absent", "--default", "dflt");
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(json_is_false(json_object_get(object, "found")));
    CHECK(cli_json_str_is(object, "value", "dflt"));
    json_decref(object);
    cli_run_free(&run);
}

static void s_test_json(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "--json", "ping");
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok"));
    CHECK(cli_json_str_is(object, "endpoint", endpoint));
    CHECK(json_is_integer(json_object_get(object, "rtt_us")));
    CHECK(json_integer_value(json_object_get(object, "node_time_us")) > 0);
    json_decref(object);
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config", "set", "cli/k", "v1", "--json");
    CHECK(run.status == 0);
    object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok"));
    CHECK(cli_json_str_is(object, "key", "cli/k"));
    CHECK(json_is_true(json_object_get(object, "created")));
    json_decref(object);
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--json", "config", "get", "cli/k");
    CHECK(run.status == 0);
    object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok"));
    CHECK(cli_json_str_is(object, "key", "cli/k"));
    CHECK(cli_json_str_is(object, "value", "v1"));
    CHECK(json_is_true(json_object_get(object, "found")));
    CHECK(!json_object_get(object, "value_base64"));
    json_decref(object);
    cli_run_free(&run);
}

static void s_test_json_binary(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "config", "set", "cli/bin", "\xff\xfe");
    CHECK(run.status == 0);
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "config", "get", "cli/bin");
    CHECK(run.status == 0);
    CHECK(streq(run.out, "\xff\xfe\n"));
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--json", "config", "get", "cli/bin");
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(json_is_null(json_object_get(object, "value")));
    CHECK(cli_json_str_is(object, "value_base64", "//4="));
    json_decref(object);
    cli_run_free(&run);
}

static void s_test_info(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "info");
    CHECK(run.status == 0);
    const char *expected[] = {endpoint,      CAIRN_VERSION,    "uptime",   "data dir", "database",
                              "requests",    "actors",         "config",   "writer",   "batches",
                              "synchronous", "operation logs", "0 pending"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(run.out, expected[i]));
    cli_run_free(&run);

    //  Sections: only what was asked, in text and in JSON.
    run = RUN("--endpoint", endpoint, "info", "writer", "clients");
    CHECK(run.status == 0 && strstr(run.out, "batches") && strstr(run.out, "clients") &&
          !strstr(run.out, "uptime") && !strstr(run.out, "actors"));
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "--json", "info", "server");
    json_t *object = cli_run_json(&run);
    CHECK(json_is_integer(json_object_get(object, "uptime_s")) &&
          !json_object_get(object, "writer") && !json_object_get(object, "actors") &&
          !json_object_get(object, "clients"));
    json_decref(object);
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "info", "memory");
    CHECK(run.status == 2 && strstr(run.err, "no info section 'memory'"));
    cli_run_free(&run);
}

//  cairn health: 0 and why on a serving node; 3 when none answers (a node
//  whose commits failed: e2e.faults.health_failed_commits).
static void s_test_health(const cli_ctx_t *ctx) {
    run_t run = RUN("--endpoint", ctx->endpoint, "health");
    CHECK(run.status == 0 && cli_starts_with(run.out, "healthy: ") &&
          strstr(run.out, ctx->endpoint));
    cli_run_free(&run);
    run = RUN("--endpoint", ctx->endpoint, "--json", "health");
    json_t *object = cli_run_json(&run);
    CHECK(run.status == 0 && json_is_true(json_object_get(object, "healthy")));
    json_decref(object);
    cli_run_free(&run);
    char *dead = zsys_sprintf("tcp://127.0.0.1:%d", harness_free_port());
    run = RUN("--endpoint", dead, "health");
    CHECK(run.status == 3 && strstr(run.err, "unreachable"));
    cli_run_free(&run);
    zstr_free(&dead);
}

static void s_test_info_json(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "--json", "info");
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok"));
    CHECK(cli_json_str_is(object, "version", CAIRN_VERSION));
    CHECK(json_integer_value(json_object_get(object, "api_version")) == CA_API_VERSION);
    CHECK(json_is_string(json_object_get(object, "data_dir")));
    CHECK(json_is_integer(json_object_get(object, "uptime_s")));
    CHECK(json_integer_value(json_object_get(object, "pid")) > 0);
    CHECK(json_is_integer(json_object_get(object, "requests")));
    json_t *actors = json_object_get(object, "actors");
    CHECK(json_is_array(actors) && json_array_size(actors) >= 1);
    bool config_seen = false;
    for (size_t i = 0; i < json_array_size(actors); i++) {
        json_t *actor = json_array_get(actors, i);
        config_seen |= cli_json_str_is(actor, "name", "config");
        CHECK(json_integer_value(json_object_get(actor, "workers")) >= 1);
    }
    CHECK(config_seen);
    json_t *writer = json_object_get(object, "writer");
    CHECK(json_is_integer(json_object_get(writer, "batches")));
    CHECK(json_is_string(json_object_get(writer, "synchronous")));
    //  The oplog orderer's counts (OplogStats, asked beside Info).
    json_t *oplog = json_object_get(object, "oplog");
    CHECK(json_is_integer(json_object_get(oplog, "pending")) &&
          json_is_integer(json_object_get(oplog, "ready")));
    json_decref(object);
    cli_run_free(&run);
}

static void s_test_invalid_key(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    run_t run = RUN("--endpoint", endpoint, "config", "set", "../x", "v");
    CHECK(run.status == 1);
    CHECK(cli_starts_with(run.err, "cairn: invalid: "));
    CHECK(run.out[0] == '\0');
    cli_run_free(&run);

    run = RUN("--endpoint", endpoint, "--json", "config", "set", "../x", "v");
    CHECK(run.status == 1);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "invalid"));
    const char *error = json_string_value(json_object_get(object, "error"));
    CHECK(error && error[0]);
    json_decref(object);
    CHECK(strstr(run.err, "invalid"));
    cli_run_free(&run);
}

//  `cairn batch FILE`: a JSON list of writes stored all or nothing; typos
//  in kinds or fields are usage errors; a refused request stores nothing.
static void s_test_batch(const cli_ctx_t *ctx) {
    const char *endpoint = ctx->endpoint;
    char path[] = "/tmp/cairn-cli-batch-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *file = fdopen(fd, "w");
    fputs("[{\"config_set\": {\"key\": \"cli/b1\", \"value\": \"one\"}},\n"
          " {\"config_set\": {\"key\": \"cli/b2\", \"value\": {\"hex\": \"00ff\"}}, \"id\": 9}]\n",
          file);
    fclose(file);
    run_t run = RUN("--endpoint", endpoint, "batch", path);
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "stored 2 requests in one transaction"));
    CHECK(strstr(run.out, "id 9 config_set ok"));
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "--json", "batch", path);
    CHECK(run.status == 0);
    json_t *root = json_loads(run.out, 0, NULL);
    CHECK(root);
    json_t *responses = json_object_get(root, "responses");
    CHECK(json_array_size(responses) == 2);
    json_t *second = json_array_get(responses, 1);
    CHECK(json_integer_value(json_object_get(second, "id")) == 9);
    CHECK(streq(json_string_value(json_object_get(second, "kind")), "config_set"));
    CHECK(streq(json_string_value(json_object_get(json_object_get(second, "body"), "key")),
                "cli/b2"));
    json_decref(root);
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "config", "get", "cli/b1");
    CHECK(run.status == 0 && streq(run.out, "one\n"));
    cli_run_free(&run);
    //  Usage errors: not JSON, an unknown kind, an unknown field, bad hex.
    const char *bad[][2] = {{"[{", "not JSON"},
                            {"[{\"config_st\": {}}]", "'config_st' is not a request kind"},
                            {"[{\"config_set\": {\"kee\": \"a\"}}]", "has no field 'kee'"},
                            {"[{\"config_set\": {\"value\": {\"hex\": \"zz\"}}}]", "not valid hex"},
                            {"[]", "1 to 64 requests"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        file = fopen(path, "w");
        fputs(bad[i][0], file);
        fclose(file);
        run = RUN("--endpoint", endpoint, "batch", path);
        CHECK(run.status == 2);
        CHECK(strstr(run.err, bad[i][1]));
        cli_run_free(&run);
    }
    //  The node refuses a read in a batch; the write before it is not kept.
    file = fopen(path, "w");
    fputs("[{\"config_set\": {\"key\": \"cli/b3\", \"value\": \"x\"}},"
          " {\"config_get\": {\"key\": \"cli/b1\"}}]",
          file);
    fclose(file);
    run = RUN("--endpoint", endpoint, "batch", path);
    CHECK(run.status == 1);
    CHECK(strstr(run.err, "invalid: request 2 of 2 (config_get) cannot be part of a batch"));
    cli_run_free(&run);
    run = RUN("--endpoint", endpoint, "--json", "config", "get", "cli/b3");
    CHECK(run.status == 0 && strstr(run.out, "\"found\":false"));
    cli_run_free(&run);
    unlink(path);
}

//  ---- request coverage ------------------------------------------------------------

static int s_compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  Every member of Request's `body` oneof has a command that sends it:
//  `cairn --list-requests` prints the body fields its rows send, sorted.
static void s_test_request_coverage(const cli_ctx_t *ctx) {
    const ProtobufCMessageDescriptor *descriptor = &cairn__request__descriptor;
    const char *expected[256];
    size_t count = 0;
    for (unsigned i = 0; i < descriptor->n_fields && count < 256; i++)
        if (descriptor->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            expected[count++] = descriptor->fields[i].name;
    CHECK(count > 0 && count < 256);
    qsort(expected, count, sizeof expected[0], s_compare_names);
    run_t run = RUN("--list-requests");
    CHECK(run.status == 0);
    CHECK(run.err[0] == '\0');
    //  The output is exactly the expected names, one per line; on a
    //  difference, name the kinds that have no command.
    char *joined = strdup("");
    for (size_t i = 0; i < count; i++) {
        char *line = zsys_sprintf("\n%s\n", expected[i]);
        char *text = zsys_sprintf("\n%s", run.out);
        if (!strstr(text, line))
            fprintf(stderr, "request kind without a cairn command: %s\n", expected[i]);
        char *longer = zsys_sprintf("%s%s\n", joined, expected[i]);
        free(joined);
        joined = longer;
        zstr_free(&text);
        zstr_free(&line);
    }
    CHECK(streq(run.out, joined));
    free(joined);
    cli_run_free(&run);
}

//  ---- the table -------------------------------------------------------------------------

static const cli_test_t s_tests[] = {
    {"help", false, s_test_help},
    {"unknown_command", false, s_test_unknown_command},
    {"missing_argument", false, s_test_missing_argument},
    {"unreachable", false, s_test_unreachable},
    {"ping", true, s_test_ping},
    {"endpoint_env", true, s_test_endpoint_env},
    {"config_set_get", true, s_test_config_set_get},
    {"config_default", true, s_test_config_default},
    {"json", true, s_test_json},
    {"json_binary", true, s_test_json_binary},
    {"info", true, s_test_info},
    {"health", true, s_test_health},
    {"info_json", true, s_test_info_json},
    {"invalid_key", true, s_test_invalid_key},
    {"batch", true, s_test_batch},
    {"request_coverage", false, s_test_request_coverage},
};

int main(int argc, char **argv) {
    return cli_run_main(argc, argv, "e2e-cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

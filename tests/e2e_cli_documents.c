/*  =========================================================================
    e2e_cli_documents - the `cairn doc ...` commands against a real cairnd

        e2e-cli-documents TEST    runs one test (with no argument, all of
                                  them), registered as e2e.cli.NAME

    Text and --json output of every doc command, objects read from a file
    and from standard input, the client's own usage checks, and the node's
    errors as the client reports them.
    ========================================================================= */

#include "cli_run.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  Writes `text` to DIR/NAME; the path goes to `path`.
static void s_write(cli_ctx_t *t, const char *name, const char *text, char *path, size_t size) {
    snprintf(path, size, "%s/%s", t->dir, name);
    FILE *file = fopen(path, "w");
    CHECK(file && fputs(text, file) >= 0);
    if (file)
        fclose(file);
}

//  `cairn --json --endpoint E doc save|put-many TENANT ENTRY --user u < PATH`
//  through /bin/sh, so that the object comes on standard input.
static json_t *s_from_stdin(cli_ctx_t *t, const char *sub, const char *path) {
    char line[1024];
    snprintf(line, sizeof line, "exec '%s' --json --endpoint '%s' doc %s t e --user u < '%s'",
             cli_run_path(), t->endpoint, sub, path);
    run_t run =
        harness_run("/bin/sh", (const char *const[]){"-c", line, NULL}, NULL, CLI_RUN_TIMEOUT_MS);
    return cli_run_json_ok(run);
}

static void s_test_doc_commands(void) {
    cli_ctx_t *t = cli_ctx_begin("doc", true, NULL);
    char path[256], many[256];
    s_write(t, "obj.json", "{ \"b\": [1, 2.0],\n  \"a\": \"x\" }\n", path, sizeof path);
    json_t *object = CAIRN_JSON(t, "doc", "save", "t", "e", path, "--user", "u");
    CHECK(json_is_true(json_object_get(object, "changed")));
    char first[65];
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(object, "digest")));
    CHECK(strlen(first) == 64);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "doc", "load", "t", "e"), "{\"a\":\"x\",\"b\":[1,2]}");
    //  The same object on stdin: no new snapshot.
    object = s_from_stdin(t, "save", path);
    CHECK(object && !json_is_true(json_object_get(object, "changed")));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "doc", "put", "t", "e", "c", "{\"n\": null}", "--user", "v"), "saved ");
    cli_expect_ok(CAIRN(t, "doc", "put", "t", "e", "c", "{\"n\":null}", "--user", "v"),
                  "unchanged");
    s_write(t, "many.json", "{\"d\": 4, \"a\": \"y\"}", many, sizeof many);
    object = s_from_stdin(t, "put-many", many);
    CHECK(object && json_is_true(json_object_get(object, "changed")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "doc", "get", "t", "e", "d"), "d\t4");
    object = CAIRN_JSON(t, "doc", "get", "t", "e");
    json_t *records = json_object_get(object, "records");
    CHECK(json_object_size(records) == 4 && json_integer_value(json_object_get(records, "d")) == 4);
    json_decref(object);
    object = CAIRN_JSON(t, "doc", "load", "t", "e", "--digest", first);
    CHECK(json_integer_value(json_object_get(object, "seq")) == 1);
    CHECK(cli_json_str_is(json_object_get(object, "object"), "a", "x"));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "doc", "exists", "t", "e", "--digest", first), "yes");
    cli_expect_ok(CAIRN(t, "doc", "exists", "t", "nope"), "no");
    object = CAIRN_JSON(t, "doc", "history", "t", "e", "--limit", "2");
    CHECK(json_array_size(json_object_get(object, "snapshots")) == 2);
    CHECK(json_is_true(json_object_get(object, "more")) &&
          cli_json_int(object, "next_before") == 2);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "doc", "history", "t", "e", "--before", "2"), "1 ");
    object = CAIRN_JSON(t, "doc", "head", "t", "e");
    CHECK(cli_json_int(object, "seq") == 3 && cli_json_str_is(object, "user", "u"));
    json_decref(object);
    object = CAIRN_JSON(t, "doc", "diff", "t", "e", first);
    CHECK(json_array_size(json_object_get(object, "added")) == 2);
    CHECK(json_array_size(json_object_get(object, "changed")) == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "doc", "diff", "t", "e", first, first), "no differences");
    cli_expect_ok(CAIRN(t, "doc", "revert", "t", "e", first, "--user", "w"), "saved");
    cli_expect_ok(CAIRN(t, "doc", "truncate", "t", "e", "1"), "removed 3 snapshots");
    object = CAIRN_JSON(t, "doc", "sweep");
    CHECK(cli_json_int(object, "objects") == 2);
    json_decref(object);
    object = CAIRN_JSON(t, "doc", "stats", "--tenant", "t");
    CHECK(cli_json_int(object, "entries") == 1 && cli_json_int(object, "snapshots") == 1 &&
          cli_json_int(object, "objects") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "doc", "stats"), "snapshots       1");
    cli_ctx_end(&t);
}

static void s_test_doc_errors(void) {
    cli_ctx_t *t = cli_ctx_begin("doc-errors", true, NULL);
    char path[256];
    s_write(t, "bad.json", "{\n  \"a\": tru\n}", path, sizeof path);
    cli_expect_json_error(CAIRN(t, "--json", "doc", "save", "t", "e", path, "--user", "u"),
                          "invalid");
    cli_expect_fail(CAIRN(t, "doc", "save", "t", "e", path, "--user", "u"), 1,
                    "invalid: json is not valid JSON");
    cli_expect_json_error(CAIRN(t, "--json", "doc", "load", "t", "e"), "not_found");
    cli_expect_usage(t->endpoint, (const char *const[]){"doc", "save", "t", "e", path, NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"doc", "load", "t", "e", "--digest", "abc", NULL});
    cli_expect_usage(
        t->endpoint,
        (const char *const[]){"doc", "save", "t", "e", "/nonexistent/x.json", "--user", "u", NULL});
    cli_expect_usage(t->endpoint, (const char *const[]){"doc", "truncate", "t", "e", "x", NULL});
    cli_expect_usage(t->endpoint,
                     (const char *const[]){"doc", "put-many", "t", "e", path, "--user", "u", NULL});
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"doc_commands", s_test_doc_commands},
    {"doc_errors", s_test_doc_errors},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-documents: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

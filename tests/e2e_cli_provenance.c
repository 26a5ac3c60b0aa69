/*  =========================================================================
    e2e_cli_prov - the cairn client's manifest, summary and provenance
    commands against a real cairnd

    Black-box, as e2e_cli_content.c: the built `cairn` runs as a child
    (cli_run.h) against a cairnd the harness starts on a free loopback
    port. Hashes are SHA-256s of short labels ("a", "b", ...), so a test
    reads as a graph of letters. Each command is run for its text and its
    --json output, its usage errors (exit 2, nothing sent: nothing listens
    at the endpoint of the usage test) and the node's error answers (exit
    1, "cairn: STATUS: ..." and {"status": STATUS, "error": ...}).

    One behaviour per ctest name: `e2e-cli-prov NAME` runs the test NAME
    (with no argument, all of them), registered as e2e.cli.NAME.
    ========================================================================= */

#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_validate.h"
#include "cli_run.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEX_SIZE 65
//  Arguments of one run built at run time (harness_run passes 32 at most).
#define ARGS_MAX 32
//  Exit status of `prov ancestor` when the answer is no.
#define EXIT_NO 4

typedef cli_ctx_t test_ctx_t;

//  cairn --endpoint E ARGS...
#define CAIRN(t, ...) RUN("--endpoint", (t)->endpoint, __VA_ARGS__)

//  Runs `cairn --json ARGS`, checks exit 0 and "status":"ok"; caller decrefs.
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  ---- a test's node, hashes and checks ------------------------------------------------

static test_ctx_t *s_begin(bool with_node) {
    return cli_ctx_begin("prov", with_node, NULL);
}

static void s_end(test_ctx_t *t) {
    cli_ctx_end(&t);
}

//  The hash of `label` (its SHA-256) as hex.
static void s_hash(const char *label, char hex[HEX_SIZE]) {
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(label, strlen(label), digest);
    ca_hash_to_hex(digest, hex);
}

//  Hashes of labels that tests name by letter.
typedef struct {
    char a[HEX_SIZE], b[HEX_SIZE], c[HEX_SIZE], d[HEX_SIZE], e[HEX_SIZE], f[HEX_SIZE];
} hashes_t;

static void s_hashes(hashes_t *h) {
    s_hash("a", h->a);
    s_hash("b", h->b);
    s_hash("c", h->c);
    s_hash("d", h->d);
    s_hash("e", h->e);
    s_hash("f", h->f);
}

//  The same, with either of two statuses (the node's choice).
static void s_expect_json_error_either(run_t run, const char *status, const char *other) {
    CHECK(run.status == 1);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", status) || cli_json_str_is(object, "status", other));
    json_decref(object);
    cli_run_free(&run);
}

static bool s_json_true(json_t *object, const char *key) {
    return json_is_true(json_object_get(object, key));
}

//  The strings of array object[key] are exactly `expected` (NULL-ended), in order.
static bool s_json_strings_are(json_t *object, const char *key, const char *const *expected) {
    json_t *array = json_object_get(object, key);
    size_t count = 0;
    while (expected[count])
        count++;
    if (!json_is_array(array) || json_array_size(array) != count)
        return false;
    for (size_t i = 0; i < count; i++) {
        const char *value = json_string_value(json_array_get(array, i));
        if (!value || !streq(value, expected[i]))
            return false;
    }
    return true;
}

//  The array object[key] holds the string `value` (in any place).
static bool s_json_array_has(json_t *object, const char *key, const char *value) {
    json_t *array = json_object_get(object, key);
    for (size_t i = 0; i < json_array_size(array); i++) {
        const char *item = json_string_value(json_array_get(array, i));
        if (item && streq(item, value))
            return true;
    }
    return false;
}

//  Runs `cairn --endpoint E WORDS $(cat FILE)` through /bin/sh, FILE
//  holding `count` words `word(i)` one per line: the many arguments
//  (a thousand sources, peers) that harness_run does not pass itself.
//  `words` are plain words (hashes, options) put into the script as they are.
static run_t s_run_many(const test_ctx_t *t, const char *words, size_t count,
                        const char *(*word)(size_t i, void *arg), void *arg) {
    char *path = zsys_sprintf("%s/args", t->dir);
    FILE *file = fopen(path, "w");
    assert(file);
    for (size_t i = 0; i < count; i++)
        fprintf(file, "%s\n", word(i, arg));
    fclose(file);
    char *script = zsys_sprintf("exec \"$0\" --endpoint \"$1\" %s $(cat \"$2\")", words);
    const char *args[] = {"-c", script, cli_run_path(), t->endpoint, path, NULL};
    run_t run = harness_run("/bin/sh", args, NULL, CLI_RUN_TIMEOUT_MS);
    fprintf(stderr,
            "$ sh -c '%s' (%zu words from %s)\n  -> exit %d\n  stdout: %.300s\n  stderr: %.300s\n",
            script, count, path, run.status, run.out, run.err);
    zstr_free(&script);
    zstr_free(&path);
    return run;
}

//  The same word every time.
static const char *s_word_same(size_t i, void *arg) {
    (void)i;
    return (const char *)arg;
}

//  The hash of "source I", as hex (the last one made stays valid).
static const char *s_word_source(size_t i, void *arg) {
    (void)arg;
    static char hex[HEX_SIZE];
    char label[32];
    snprintf(label, sizeof label, "source %zu", i);
    s_hash(label, hex);
    return hex;
}

//  "--OPTION" and "NAME I" by turns: arg is "tag" or "deny".
static const char *s_word_option(size_t i, void *arg) {
    static char word[32];
    if (i % 2 == 0)
        snprintf(word, sizeof word, "--%s", (const char *)arg);
    else
        snprintf(word, sizeof word, "%s%zu", (const char *)arg, i / 2);
    return word;
}

//  `prov add HASH SOURCES...` (NULL-ended) succeeded.
static void s_prov_add(const test_ctx_t *t, const char *hash, const char *const *sources) {
    const char *args[ARGS_MAX] = {"--endpoint", t->endpoint, "prov", "add", hash};
    size_t count = 5;
    for (size_t i = 0; sources[i]; i++)
        args[count++] = sources[i];
    args[count] = NULL;
    run_t run = cli_run_argv(NULL, args);
    CHECK(run.status == 0 && cli_starts_with(run.out, "added "));
    cli_run_free(&run);
}

#define PROV_ADD(t, hash, ...) s_prov_add(t, hash, (const char *const[]){__VA_ARGS__, NULL})

//  ---- without a node ------------------------------------------------------------------

static void s_test_prov_help(void) {
    run_t run = RUN("--help");
    CHECK(run.status == 0);
    const char *expected[] = {"manifest put HASH --type T",
                              "[--tag TAG...]",
                              "manifest get HASH",
                              "manifest update HASH",
                              "manifest rm HASH",
                              "manifest list [--visibility V]",
                              "manifest versions ROOT [--limit N] [--after VERSION]",
                              "summary put HASH",
                              "summary get HASH",
                              "prov add HASH [SOURCE...]",
                              "prov roots HASH [--limit N]",
                              "prov derivations HASH [--transitive] [--limit N] [--after HASH]",
                              "prov ancestor A B",
                              "4 the answer is \"no\""};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(run.out, expected[i]));
    cli_run_free(&run);
    run = RUN("prov", "ancestor", "--help");
    CHECK(run.status == 0 && strstr(run.out, "Exit status 0") && strstr(run.out, "4 when"));
    cli_run_free(&run);
    run = RUN("manifest", "update", "--help");
    CHECK(run.status == 0 && strstr(run.out, "Changes only the fields given"));
    cli_run_free(&run);
    run = RUN("manifest", "versions", "--help");
    CHECK(run.status == 0 && strstr(run.out, "(more: --after VERSION)"));
    cli_run_free(&run);
}

//  Mistakes caught before anything is sent: exit 2 (not 3: nothing
//  listens at the endpoint), usage on stderr, nothing on stdout even with
//  --json.
static void s_test_prov_usage(void) {
    test_ctx_t *t = s_begin(false);
    hashes_t h;
    s_hashes(&h);
    char short_hash[HEX_SIZE - 1], long_hash[HEX_SIZE + 2];
    memcpy(short_hash, h.a, HEX_SIZE - 2);
    short_hash[HEX_SIZE - 2] = '\0';
    snprintf(long_hash, sizeof long_hash, "%s00", h.a);
    char *missing = zsys_sprintf("%s/none", t->dir);
    const char *const cases[][12] = {
        {"manifest", "get", "abc"},
        {"manifest", "get", short_hash},
        {"manifest", "get", long_hash},
        {"manifest", "get", ""},
        {"manifest", "get", "zz3f0a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddee"},
        {"manifest", "get"},
        {"manifest", "get", h.a, h.b},
        {"manifest", "put", h.a},                     //  --type is required
        {"manifest", "put", "xyz", "--type", "text"}, //  bad HASH
        {"manifest", "put", h.a, "--type", "t", "--visibility", "public"},
        {"manifest", "put", h.a, "--type", "t", "--version-number", "0"},
        {"manifest", "put", h.a, "--type", "t", "--version-number", "-1"},
        {"manifest", "put", h.a, "--type", "t", "--previous", "abc"},
        {"manifest", "put", h.a, "--type", "t", "--size", "-5"},
        {"manifest", "put", h.a, "--type", "t", "--size", "99999999999999999999"},
        {"manifest", "put", h.a, "--type", "t", "--price", "ten"},
        {"manifest", "put", h.a, "--type", "t", "--timestamp", "soon"},
        {"manifest", "put", h.a, "--type", "t", "--tags", "x"}, //  no such option
        {"manifest", "update", h.a},                            //  nothing to change
        {"manifest", "update", h.a, "--version-number", "2"},   //  versions never change
        {"manifest", "update", "abc", "--title", "x"},
        {"manifest", "rm", short_hash},
        {"manifest", "list", "--visibility", "all"},
        {"manifest", "list", "--limit", "0"},
        {"manifest", "list", "--offset", "x"},
        {"manifest", "list", "--after", "yesterday"},
        {"manifest", "list", "extra"},
        {"manifest", "versions", "abc"},
        {"manifest", "versions", h.a, "--limit", "0"},
        {"manifest", "versions", h.a, "--limit", "x"},
        {"manifest", "versions", h.a, "--limit", "-1"},
        {"manifest", "versions", h.a, "--after", "first"},
        {"manifest", "versions", h.a, "--after", "-1"},
        {"manifest", "frobnicate"},
        {"summary", "put", "abc"},
        {"summary", "put", h.a, "--text", "x", "--text-file", missing},
        {"summary", "put", h.a, "--text-file", missing},
        {"summary", "put", h.a, "--mentions", "many"},
        {"summary", "get", long_hash},
        {"prov", "add"},
        {"prov", "add", "abc"},
        {"prov", "add", h.a, h.b, "abc"}, //  a bad SOURCE
        {"prov", "add", h.a, short_hash},
        {"prov", "roots", "abc"},
        {"prov", "roots", h.a, "--limit", "0"},
        {"prov", "roots", h.a, "--limit", "100001"}, //  above the node's most
        {"prov", "derivations", h.a, "--limit", "-1"},
        {"prov", "derivations", h.a, "--transitive=yes"},
        {"prov", "derivations", short_hash},
        {"prov", "derivations", h.a, "--after", short_hash},
        {"prov", "derivations", h.a, "--after", h.b, "--transitive"}, //  no cursor there
        {"prov", "ancestor", h.a},
        {"prov", "ancestor", h.a, h.b, h.c},
        {"prov", "ancestor", h.a, "abc"},
        {"prov", "ancestor", "abc", h.b},
        {"prov"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cli_expect_usage(t->endpoint, cases[i]);
    //  The messages say what is wanted.
    run_t run = RUN("--endpoint", t->endpoint, "prov", "add", h.a, h.b, "abc");
    CHECK(strstr(run.err, "SOURCE wants 64 hex digits"));
    cli_run_free(&run);
    run = RUN("--endpoint", t->endpoint, "manifest", "put", h.a, "--type", "t", "--visibility",
              "public");
    CHECK(strstr(run.err, "private, unlisted or shared"));
    cli_run_free(&run);
    run = RUN("--endpoint", t->endpoint, "manifest", "update", h.a);
    CHECK(strstr(run.err, "give at least one"));
    cli_run_free(&run);
    //  More SOURCEs than the client has room for.
    char *words = zsys_sprintf("prov add %s", h.a);
    run = s_run_many(t, words, 2 * CA_PROV_SOURCES_MAX + 1, s_word_same, h.b);
    CHECK(run.status == 2 && strstr(run.err, "at most 2000 SOURCE hashes"));
    cli_run_free(&run);
    zstr_free(&words);
    //  Good requests do go to the node (here: none).
    cli_expect_fail(RUN("--endpoint", t->endpoint, "--timeout", "300", "prov", "roots", h.a), 3,
                    "unreachable: ");
    cli_expect_fail(
        RUN("--endpoint", t->endpoint, "--timeout", "300", "prov", "ancestor", h.a, h.b), 3,
        "unreachable: ");
    cli_expect_fail(
        RUN("--endpoint", t->endpoint, "--timeout", "300", "manifest", "update", h.a, "--tag", ""),
        3, "unreachable: ");
    zstr_free(&missing);
    s_end(t);
}

//  ---- provenance ---------------------------------------------------------------------------

//  A diamond: b and c from a, d from b and c, e from d and b. Roots of
//  e: a, by three paths (e-d-b-a, e-d-c-a, e-b-a).
static void s_diamond(const test_ctx_t *t, const hashes_t *h) {
    run_t run = CAIRN(t, "prov", "add", h->a);
    CHECK(run.status == 0);
    char *expected = zsys_sprintf("added 0 edges; %s has 1 root\n", h->a);
    CHECK(streq(run.out, expected));
    zstr_free(&expected);
    cli_run_free(&run);
    PROV_ADD(t, h->b, h->a);
    PROV_ADD(t, h->c, h->a);
    json_t *added = CAIRN_JSON(t, "prov", "add", h->d, h->b, h->c);
    CHECK(cli_json_str_is(added, "hash", h->d));
    CHECK(cli_json_int(added, "edges_added") == 2 && cli_json_int(added, "roots") == 1);
    json_decref(added);
    PROV_ADD(t, h->e, h->d, h->b);
}

static void s_test_prov_add_roots(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    s_diamond(t, &h);
    //  Text: a header, then hash, weight, visibility, owner.
    run_t run = CAIRN(t, "prov", "roots", h.e);
    CHECK(run.status == 0 && cli_starts_with(run.out, "ROOT "));
    char *line = zsys_sprintf("%s                     3  -           -\n", h.a);
    CHECK(strstr(run.out, line));
    zstr_free(&line);
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "prov", "roots", h.e);
    CHECK(cli_json_str_is(object, "hash", h.e));
    json_t *roots = json_object_get(object, "roots");
    CHECK(json_array_size(roots) == 1);
    json_t *root = json_array_get(roots, 0);
    CHECK(cli_json_str_is(root, "hash", h.a) && cli_json_int(root, "weight") == 3);
    CHECK(!s_json_true(root, "saturated") && !s_json_true(root, "has_manifest"));
    CHECK(json_is_null(json_object_get(root, "owner")));
    CHECK(json_is_false(json_object_get(object, "more")));
    json_decref(object);
    //  Original content is its own root, weight 1.
    object = CAIRN_JSON(t, "prov", "roots", h.a);
    root = json_array_get(json_object_get(object, "roots"), 0);
    CHECK(cli_json_str_is(root, "hash", h.a) && cli_json_int(root, "weight") == 1);
    json_decref(object);
    //  Two roots, and --limit cuts the list with "more".
    PROV_ADD(t, h.f, h.e, h.c);
    object = CAIRN_JSON(t, "prov", "add", h.f); //  known already: nothing new
    CHECK(cli_json_int(object, "edges_added") == 0 && cli_json_int(object, "roots") == 1);
    json_decref(object);
    object = CAIRN_JSON(t, "prov", "roots", h.f);
    root = json_array_get(json_object_get(object, "roots"), 0);
    CHECK(cli_json_int(root, "weight") == 4); //  3 through e, 1 through c
    json_decref(object);
    char g[HEX_SIZE];
    s_hash("g", g);
    PROV_ADD(t, g, h.f, h.d); //  roots of g: a (4 + 2 = 6) and nothing else
    object = CAIRN_JSON(t, "prov", "roots", g);
    CHECK(cli_json_int(json_array_get(json_object_get(object, "roots"), 0), "weight") == 6);
    json_decref(object);
    char x[HEX_SIZE], y[HEX_SIZE];
    s_hash("x", x);
    s_hash("y", y);
    PROV_ADD(t, y, x, g); //  roots of y: a and x
    object = CAIRN_JSON(t, "prov", "roots", y, "--limit", "1");
    CHECK(json_array_size(json_object_get(object, "roots")) == 1 && s_json_true(object, "more"));
    json_decref(object);
    object = CAIRN_JSON(t, "prov", "roots", y);
    CHECK(json_array_size(json_object_get(object, "roots")) == 2 && !s_json_true(object, "more"));
    json_decref(object);
    run = CAIRN(t, "prov", "roots", y, "--limit", "1");
    CHECK(run.status == 0 && strstr(run.out, "(more: raise --limit"));
    cli_run_free(&run);
    s_end(t);
}

static void s_test_prov_derivations(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    s_diamond(t, &h);
    //  Directly from a: b and c, one per line.
    run_t run = CAIRN(t, "prov", "derivations", h.a);
    CHECK(run.status == 0 && strlen(run.out) == 2 * HEX_SIZE);
    CHECK(strstr(run.out, h.b) && strstr(run.out, h.c) && !strstr(run.out, h.d));
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "prov", "derivations", h.a);
    const char *direct[] = {h.b, h.c, NULL};
    CHECK(json_array_size(json_object_get(object, "derivations")) == 2);
    for (size_t i = 0; direct[i]; i++)
        CHECK(s_json_array_has(object, "derivations", direct[i]));
    CHECK(!s_json_true(object, "transitive") && !s_json_true(object, "more"));
    json_decref(object);
    //  Transitively: b, c, d, e, each once.
    object = CAIRN_JSON(t, "prov", "derivations", h.a, "--transitive");
    CHECK(json_array_size(json_object_get(object, "derivations")) == 4);
    const char *all[] = {h.b, h.c, h.d, h.e, NULL};
    for (size_t i = 0; all[i]; i++)
        CHECK(s_json_array_has(object, "derivations", all[i]));
    CHECK(s_json_true(object, "transitive"));
    json_decref(object);
    //  --limit cuts the list.
    object = CAIRN_JSON(t, "prov", "derivations", h.a, "--transitive", "--limit", "3");
    CHECK(json_array_size(json_object_get(object, "derivations")) == 3);
    CHECK(s_json_true(object, "more"));
    json_decref(object);
    run = CAIRN(t, "prov", "derivations", h.a, "--transitive", "--limit", "1");
    CHECK(run.status == 0 && strstr(run.out, "(more: raise --limit"));
    cli_run_free(&run);
    //  Direct ones page on with --after: the smaller hash of b and c first.
    const char *low = strcmp(h.b, h.c) < 0 ? h.b : h.c, *high = low == h.b ? h.c : h.b;
    char hint[HEX_SIZE + 24];
    snprintf(hint, sizeof hint, "(more: --after %s)", low);
    cli_expect_ok(CAIRN(t, "prov", "derivations", h.a, "--limit", "1"), hint);
    object = CAIRN_JSON(t, "prov", "derivations", h.a, "--limit", "1");
    CHECK(s_json_true(object, "more") && cli_json_str_is(object, "next_after", low));
    json_decref(object);
    object = CAIRN_JSON(t, "prov", "derivations", h.a, "--limit", "1", "--after", low);
    const char *rest[] = {high, NULL};
    CHECK(s_json_strings_are(object, "derivations", rest) && !s_json_true(object, "more"));
    CHECK(json_object_get(object, "next_after") == NULL);
    json_decref(object);
    //  Nothing derived from e.
    cli_expect_ok(CAIRN(t, "prov", "derivations", h.e), "(no derivations)");
    object = CAIRN_JSON(t, "prov", "derivations", h.e, "--transitive");
    const char *none[] = {NULL};
    CHECK(s_json_strings_are(object, "derivations", none));
    json_decref(object);
    s_end(t);
}

static void s_test_prov_ancestor(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    s_diamond(t, &h);
    //  Yes: exit 0; through several levels too.
    run_t run = CAIRN(t, "prov", "ancestor", h.a, h.e);
    CHECK(run.status == 0 && cli_starts_with(run.out, "yes: "));
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "prov", "ancestor", h.c, h.d), "yes: ");
    //  No: exit 4, the answer on stdout, nothing on stderr.
    run = CAIRN(t, "prov", "ancestor", h.e, h.a);
    CHECK(run.status == EXIT_NO && cli_starts_with(run.out, "no: ") && run.err[0] == '\0');
    cli_run_free(&run);
    run = CAIRN(t, "prov", "ancestor", h.b, h.c); //  siblings
    CHECK(run.status == EXIT_NO && cli_starts_with(run.out, "no: "));
    cli_run_free(&run);
    //  The same content: no, with "same".
    run = CAIRN(t, "prov", "ancestor", h.d, h.d);
    CHECK(run.status == EXIT_NO && strstr(run.out, "not its own ancestor"));
    cli_run_free(&run);
    //  JSON: one object, same exit statuses.
    run = CAIRN(t, "--json", "prov", "ancestor", h.a, h.e);
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok") && s_json_true(object, "is_ancestor"));
    CHECK(cli_json_str_is(object, "ancestor", h.a) && cli_json_str_is(object, "descendant", h.e));
    json_decref(object);
    cli_run_free(&run);
    run = CAIRN(t, "--json", "prov", "ancestor", h.d, h.d);
    CHECK(run.status == EXIT_NO);
    object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok") && !s_json_true(object, "is_ancestor"));
    CHECK(s_json_true(object, "same"));
    json_decref(object);
    cli_run_free(&run);
    //  A script's view: `if cairn prov ancestor A B; then`.
    const char *script = "if \"$0\" --endpoint \"$1\" prov ancestor \"$2\" \"$3\" >/dev/null; "
                         "then echo yes; else echo \"no $?\"; fi";
    const char *args[] = {"-c", script, cli_run_path(), t->endpoint, h.e, h.a, NULL};
    run = harness_run("/bin/sh", args, NULL, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 0 && streq(run.out, "no 4\n"));
    cli_run_free(&run);
    //  Unknown content is the node's error, exit 1.
    char unknown[HEX_SIZE];
    s_hash("unknown", unknown);
    cli_expect_fail(CAIRN(t, "prov", "ancestor", unknown, h.a), 1, "not_found: ");
    s_end(t);
}

//  Stacked diamonds double the paths to the root at every level: after
//  63 levels the weight is 2^63 (past JSON's signed integers: a string of
//  digits), after 64 it saturates at 2^64-1.
static void s_test_prov_weights_large(void) {
    test_ctx_t *t = s_begin(true);
    char top[HEX_SIZE], left[HEX_SIZE], right[HEX_SIZE], next[HEX_SIZE];
    s_hash("level 0", top);
    for (int level = 0; level < 64; level++) {
        char label[32];
        snprintf(label, sizeof label, "left %d", level);
        s_hash(label, left);
        snprintf(label, sizeof label, "right %d", level);
        s_hash(label, right);
        snprintf(label, sizeof label, "level %d", level + 1);
        s_hash(label, next);
        PROV_ADD(t, left, top);
        PROV_ADD(t, right, top);
        PROV_ADD(t, next, left, right);
        memcpy(top, next, HEX_SIZE);
        if (level == 61) { //  2^62 paths: still an integer
            json_t *object = CAIRN_JSON(t, "prov", "roots", top);
            json_t *root = json_array_get(json_object_get(object, "roots"), 0);
            CHECK(cli_json_int(root, "weight") == INT64_C(1) << 62);
            json_decref(object);
        } else if (level == 62) {
            json_t *object = CAIRN_JSON(t, "prov", "roots", top);
            json_t *root = json_array_get(json_object_get(object, "roots"), 0);
            CHECK(cli_json_str_is(root, "weight", "9223372036854775808"));
            CHECK(!s_json_true(root, "saturated"));
            json_decref(object);
        }
    }
    json_t *object = CAIRN_JSON(t, "prov", "roots", top);
    json_t *root = json_array_get(json_object_get(object, "roots"), 0);
    CHECK(cli_json_str_is(root, "weight", "18446744073709551615"));
    CHECK(s_json_true(root, "saturated"));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "prov", "roots", top), "  18446744073709551615  -");
    s_end(t);
}

//  The node's refusals: exit 1, its status and message; nothing kept.
static void s_test_prov_errors(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    s_diamond(t, &h);
    char unknown[HEX_SIZE];
    s_hash("unknown", unknown);
    //  Unknown content.
    cli_expect_fail(CAIRN(t, "prov", "roots", unknown), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "prov", "roots", unknown), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "prov", "derivations", unknown), "not_found");
    //  A self-edge, a cycle: invalid, nothing kept.
    cli_expect_fail(CAIRN(t, "prov", "add", h.f, h.f), 1, "invalid: ");
    run_t run = CAIRN(t, "prov", "add", h.a, h.e);
    CHECK(cli_failed_with(&run, 1, "invalid: ") && strstr(run.err, "cycle"));
    cli_run_free(&run);
    cli_expect_json_error(CAIRN(t, "--json", "prov", "add", h.b, h.d), "invalid");
    run = CAIRN(t, "prov", "ancestor", h.e, h.a);
    CHECK(run.status == EXIT_NO);
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "prov", "roots", h.a);
    CHECK(json_array_size(json_object_get(object, "roots")) == 1);
    json_decref(object);
    //  New sources for content that has derivations: conflict.
    cli_expect_json_error(CAIRN(t, "--json", "prov", "add", h.b, h.f), "conflict");
    cli_expect_fail(CAIRN(t, "prov", "roots", h.f), 1, "not_found: "); //  f not kept
    //  More sources than the node takes (the client has room for them).
    char *words = zsys_sprintf("prov add %s", h.f);
    run = s_run_many(t, words, CA_PROV_SOURCES_MAX + 1, s_word_source, NULL);
    CHECK(cli_failed_with(&run, 1, "invalid: "));
    cli_run_free(&run);
    //  ... and exactly as many is fine.
    run = s_run_many(t, words, CA_PROV_SOURCES_MAX, s_word_source, NULL);
    CHECK(run.status == 0 && strstr(run.out, "added 1000 edges"));
    cli_run_free(&run);
    zstr_free(&words);
    object = CAIRN_JSON(t, "prov", "roots", h.f);
    CHECK(json_array_size(json_object_get(object, "roots")) == CA_PROV_SOURCES_MAX);
    json_decref(object);
    s_end(t);
}

//  ---- manifests ----------------------------------------------------------------------------

static void s_test_manifest_crud(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    //  put: every field as an option; the answer is the manifest stored.
    json_t *object = CAIRN_JSON(
        t, "manifest", "put", h.a, "--type", "text/article", "--title", "On cairns",
        "--description", "Stacked stones\nmark a trail", "--tag", "stones", "--tag", "trails",
        "--visibility", "shared", "--size", "1234", "--mime", "text/plain", "--price", "42",
        "--owner", "peer-1", "--allow", "peer-2", "--allow", "peer-3", "--deny", "peer-4");
    CHECK(cli_json_str_is(object, "hash", h.a));
    CHECK(cli_json_str_is(object, "content_type", "text/article"));
    CHECK(cli_json_str_is(object, "title", "On cairns"));
    CHECK(cli_json_str_is(object, "description", "Stacked stones\nmark a trail"));
    const char *tags[] = {"stones", "trails", NULL};
    CHECK(s_json_strings_are(object, "tags", tags));
    CHECK(cli_json_str_is(object, "visibility", "shared"));
    CHECK(cli_json_int(object, "content_size") == 1234 && cli_json_int(object, "price") == 42);
    CHECK(cli_json_str_is(object, "mime_type", "text/plain"));
    CHECK(cli_json_str_is(object, "owner", "peer-1"));
    json_t *access = json_object_get(object, "access");
    const char *allow[] = {"peer-2", "peer-3", NULL}, *deny[] = {"peer-4", NULL};
    CHECK(s_json_strings_are(access, "allow", allow) && s_json_strings_are(access, "deny", deny));
    CHECK(cli_json_int(object, "version_number") == 1);
    CHECK(cli_json_str_is(object, "version_root", h.a)); //  a first version is its own root
    CHECK(json_is_null(json_object_get(object, "version_previous")));
    CHECK(json_real_value(json_object_get(object, "created_at")) > 0);
    json_decref(object);
    //  get, as text: a block of fields, control characters escaped.
    run_t run = CAIRN(t, "manifest", "get", h.a);
    CHECK(run.status == 0);
    char *first = zsys_sprintf("manifest %s\n", h.a);
    CHECK(cli_starts_with(run.out, first));
    zstr_free(&first);
    CHECK(strstr(run.out, "  title           On cairns\n"));
    CHECK(strstr(run.out, "  description     Stacked stones\\nmark a trail\n"));
    CHECK(strstr(run.out, "  tags            stones, trails\n"));
    CHECK(strstr(run.out, "  visibility      shared\n"));
    CHECK(strstr(run.out, "  allow           peer-2, peer-3\n"));
    CHECK(strstr(run.out, "  previous        -\n"));
    cli_run_free(&run);
    //  update: only the fields given change; a lone empty value clears a list.
    object = CAIRN_JSON(t, "manifest", "update", h.a, "--title", "On cairns, 2nd ed.", "--tag", "",
                        "--deny", "peer-5", "--deny", "peer-6", "--visibility", "unlisted");
    CHECK(cli_json_str_is(object, "title", "On cairns, 2nd ed."));
    const char *no_tags[] = {NULL}, *denied[] = {"peer-5", "peer-6", NULL};
    CHECK(s_json_strings_are(object, "tags", no_tags));
    access = json_object_get(object, "access");
    CHECK(s_json_strings_are(access, "allow", allow) && s_json_strings_are(access, "deny", denied));
    CHECK(cli_json_str_is(object, "visibility", "unlisted"));
    CHECK(cli_json_str_is(object, "description", "Stacked stones\nmark a trail"));
    CHECK(cli_json_int(object, "price") == 42 && cli_json_str_is(object, "owner", "peer-1"));
    json_decref(object);
    object = CAIRN_JSON(t, "manifest", "get", h.a);
    CHECK(cli_json_str_is(object, "title", "On cairns, 2nd ed."));
    CHECK(json_real_value(json_object_get(object, "updated_at")) >=
          json_real_value(json_object_get(object, "created_at")));
    json_decref(object);
    //  rm: removed, then not there.
    run = CAIRN(t, "manifest", "rm", h.a);
    char *removed = zsys_sprintf("removed %s\n", h.a);
    CHECK(run.status == 0 && streq(run.out, removed));
    zstr_free(&removed);
    cli_run_free(&run);
    object = CAIRN_JSON(t, "manifest", "rm", h.a);
    CHECK(!s_json_true(object, "removed") && cli_json_str_is(object, "hash", h.a));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "manifest", "rm", h.a), "no manifest for ");
    cli_expect_fail(CAIRN(t, "manifest", "get", h.a), 1, "not_found: ");
    s_end(t);
}

static void s_test_manifest_versions(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    json_decref(CAIRN_JSON(t, "manifest", "put", h.a, "--type", "doc", "--title", "v1"));
    //  --previous fills the number and the root from the previous manifest.
    json_t *object =
        CAIRN_JSON(t, "manifest", "put", h.b, "--type", "doc", "--title", "v2", "--previous", h.a);
    CHECK(cli_json_int(object, "version_number") == 2);
    CHECK(cli_json_str_is(object, "version_root", h.a));
    CHECK(cli_json_str_is(object, "version_previous", h.a));
    json_decref(object);
    object = CAIRN_JSON(t, "manifest", "put", h.c, "--type", "doc", "--title", "v3", "--previous",
                        h.b, "--version-number", "3");
    CHECK(cli_json_int(object, "version_number") == 3);
    json_decref(object);
    //  versions: in version order.
    object = CAIRN_JSON(t, "manifest", "versions", h.a);
    json_t *manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 3);
    const char *order[] = {h.a, h.b, h.c};
    for (size_t i = 0; i < 3; i++) {
        CHECK(cli_json_str_is(json_array_get(manifests, i), "hash", order[i]));
        CHECK(cli_json_int(json_array_get(manifests, i), "version_number") == (int64_t)i + 1);
    }
    json_decref(object);
    run_t run = CAIRN(t, "manifest", "versions", h.a);
    CHECK(run.status == 0 && cli_starts_with(run.out, "HASH "));
    CHECK(strstr(run.out, h.a) < strstr(run.out, h.b) &&
          strstr(run.out, h.b) < strstr(run.out, h.c));
    cli_run_free(&run);
    //  The node's version rules (INVALID or CONFLICT naming the rule): a
    //  number that is not previous + 1; an unknown previous is the
    //  client's read of it, not_found.
    s_expect_json_error_either(CAIRN(t, "--json", "manifest", "put", h.d, "--type", "doc",
                                     "--previous", h.c, "--version-number", "5"),
                               "invalid", "conflict");
    char unknown[HEX_SIZE];
    s_hash("unknown", unknown);
    cli_expect_fail(CAIRN(t, "manifest", "put", h.d, "--type", "doc", "--previous", unknown), 1,
                    "not_found: ");
    //  A first version with a number other than 1.
    s_expect_json_error_either(
        CAIRN(t, "--json", "manifest", "put", h.e, "--type", "doc", "--version-number", "2"),
        "invalid", "conflict");
    cli_expect_fail(CAIRN(t, "manifest", "get", h.d), 1, "not_found: "); //  nothing kept
    //  An unknown root, or a later version's hash, is not a version root.
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "versions", unknown), "not_found");
    cli_expect_fail(CAIRN(t, "manifest", "versions", h.b), 1, "not_found: ");

    //  Pages: --limit 2 ends with the hint, --after picks up after it.
    run = CAIRN(t, "manifest", "versions", h.a, "--limit", "2");
    CHECK(run.status == 0 && strstr(run.out, h.a) && strstr(run.out, h.b) && !strstr(run.out, h.c));
    CHECK(strstr(run.out, "(more: --after 2)"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "manifest", "versions", h.a, "--limit", "2");
    CHECK(json_array_size(json_object_get(object, "manifests")) == 2);
    CHECK(json_is_true(json_object_get(object, "more")) && cli_json_int(object, "next_after") == 2);
    json_decref(object);
    run = CAIRN(t, "manifest", "versions", h.a, "--limit", "2", "--after", "2");
    CHECK(run.status == 0 && strstr(run.out, h.c) && !strstr(run.out, h.b));
    CHECK(!strstr(run.out, "(more:"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "manifest", "versions", h.a, "--limit", "2", "--after", "2");
    manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 1 &&
          cli_json_str_is(json_array_get(manifests, 0), "hash", h.c));
    CHECK(json_is_false(json_object_get(object, "more")) && !json_object_get(object, "next_after"));
    json_decref(object);
    //  A full last page has no hint; past the end is an empty page of a known root.
    run = CAIRN(t, "manifest", "versions", h.a, "--limit", "3");
    CHECK(run.status == 0 && strstr(run.out, h.c) && !strstr(run.out, "(more:"));
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "manifest", "versions", h.a, "--after", "3"), "(no manifests)");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "versions", unknown, "--after", "3"),
                          "not_found");
    cli_expect_fail(CAIRN(t, "manifest", "versions", h.a, "--limit", "1001"), 1, "invalid: ");
    s_end(t);
}

static void s_test_manifest_list(void) {
    test_ctx_t *t = s_begin(true);
    //  Eight manifests: created one after the other (--timestamp is the
    //  version time; created_at is the node's), alternating types and
    //  visibilities.
    static const char *visibilities[] = {"private", "unlisted", "shared"};
    char hashes[8][HEX_SIZE];
    double created[8];
    for (int i = 0; i < 8; i++) {
        char label[16];
        snprintf(label, sizeof label, "m%d", i);
        s_hash(label, hashes[i]);
        json_t *object = CAIRN_JSON(t, "manifest", "put", hashes[i], "--type",
                                    i % 2 ? "image" : "text", "--visibility", visibilities[i % 3]);
        created[i] = json_real_value(json_object_get(object, "created_at"));
        json_decref(object);
    }
    //  All, newest first.
    json_t *object = CAIRN_JSON(t, "manifest", "list");
    json_t *manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 8 && !s_json_true(object, "more"));
    for (size_t i = 1; i < json_array_size(manifests); i++)
        CHECK(json_real_value(json_object_get(json_array_get(manifests, i - 1), "created_at")) >=
              json_real_value(json_object_get(json_array_get(manifests, i), "created_at")));
    json_decref(object);
    //  Each filter.
    object = CAIRN_JSON(t, "manifest", "list", "--type", "image");
    manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 4);
    for (size_t i = 0; i < json_array_size(manifests); i++)
        CHECK(cli_json_str_is(json_array_get(manifests, i), "content_type", "image"));
    json_decref(object);
    object = CAIRN_JSON(t, "manifest", "list", "--visibility", "shared");
    manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 2); //  2 and 5
    for (size_t i = 0; i < json_array_size(manifests); i++)
        CHECK(cli_json_str_is(json_array_get(manifests, i), "visibility", "shared"));
    json_decref(object);
    object = CAIRN_JSON(t, "manifest", "list", "--visibility", "private", "--type", "text");
    CHECK(json_array_size(json_object_get(object, "manifests")) == 2); //  0 and 6
    json_decref(object);
    //  --after / --before: bounds on created_at, here between 1 and 2 and
    //  between 5 and 6 (each put is a run of the client: milliseconds apart).
    char after[32], before[32];
    snprintf(after, sizeof after, "%.6f", (created[1] + created[2]) / 2);
    snprintf(before, sizeof before, "%.6f", (created[5] + created[6]) / 2);
    object = CAIRN_JSON(t, "manifest", "list", "--after", after, "--before", before);
    manifests = json_object_get(object, "manifests");
    CHECK(json_array_size(manifests) == 4);
    for (size_t i = 0; i < json_array_size(manifests); i++)
        CHECK(cli_json_str_is(json_array_get(manifests, i), "hash", hashes[5 - i]));
    json_decref(object);
    object = CAIRN_JSON(t, "manifest", "list", "--after", before);
    CHECK(json_array_size(json_object_get(object, "manifests")) == 2);
    json_decref(object);
    //  Paging: 3 + 3 + 2, no repeats, the text says where to go on.
    object = CAIRN_JSON(t, "manifest", "list", "--limit", "3");
    CHECK(json_array_size(json_object_get(object, "manifests")) == 3);
    CHECK(s_json_true(object, "more") && cli_json_int(object, "next_offset") == 3);
    json_decref(object);
    run_t run = CAIRN(t, "manifest", "list", "--limit", "3", "--offset", "3");
    CHECK(run.status == 0 && strstr(run.out, "(more: --offset 6)"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "manifest", "list", "--limit", "3", "--offset", "6");
    CHECK(json_array_size(json_object_get(object, "manifests")) == 2);
    CHECK(!s_json_true(object, "more") && !json_object_get(object, "next_offset"));
    json_decref(object);
    int seen = 0;
    for (int offset = 0; offset < 8; offset += 3) {
        char text[8];
        snprintf(text, sizeof text, "%d", offset);
        object = CAIRN_JSON(t, "manifest", "list", "--limit", "3", "--offset", text);
        manifests = json_object_get(object, "manifests");
        for (size_t i = 0; i < json_array_size(manifests); i++)
            for (int k = 0; k < 8; k++)
                if (cli_json_str_is(json_array_get(manifests, i), "hash", hashes[k]))
                    seen |= 1 << k;
        json_decref(object);
    }
    CHECK(seen == 0xff);
    //  Nothing matches: text says so.
    cli_expect_ok(CAIRN(t, "manifest", "list", "--type", "audio"), "(no manifests)");
    s_end(t);
}

//  The node's refusals of manifests: exit 1 with its status.
static void s_test_manifest_errors(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    //  Unknown hashes.
    cli_expect_fail(CAIRN(t, "manifest", "get", h.a), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "get", h.a), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "update", h.a, "--title", "x"),
                          "not_found");
    //  A second put of the same hash.
    json_decref(CAIRN_JSON(t, "manifest", "put", h.a, "--type", "doc"));
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "put", h.a, "--type", "doc"), "conflict");
    //  Oversized and malformed fields (the client passes them on).
    char title[258];
    memset(title, 't', 257);
    title[257] = '\0';
    cli_expect_json_error(
        CAIRN(t, "--json", "manifest", "put", h.b, "--type", "doc", "--title", title), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "put", h.b, "--type", ""), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "put", h.b, "--type", "has space"),
                          "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "manifest", "update", h.a, "--title", title),
                          "invalid");
    //  Too many tags (33) and too many peers (1001).
    char *words = zsys_sprintf("--json manifest put %s --type doc", h.b);
    cli_expect_json_error(s_run_many(t, words, 2 * 33, s_word_option, "tag"), "invalid");
    cli_expect_json_error(s_run_many(t, words, 2 * 1001, s_word_option, "deny"), "invalid");
    zstr_free(&words);
    cli_expect_fail(CAIRN(t, "manifest", "get", h.b), 1, "not_found: "); //  nothing kept
    s_end(t);
}

//  Roots carry owner and visibility from their manifests.
static void s_test_prov_roots_manifest(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    json_decref(CAIRN_JSON(t, "manifest", "put", h.a, "--type", "doc", "--owner", "peer-9",
                           "--visibility", "shared"));
    PROV_ADD(t, h.c, h.a, h.b);
    json_t *object = CAIRN_JSON(t, "prov", "roots", h.c);
    json_t *roots = json_object_get(object, "roots");
    CHECK(json_array_size(roots) == 2);
    for (size_t i = 0; i < json_array_size(roots); i++) {
        json_t *root = json_array_get(roots, i);
        if (cli_json_str_is(root, "hash", h.a)) {
            CHECK(s_json_true(root, "has_manifest"));
            CHECK(cli_json_str_is(root, "owner", "peer-9"));
            CHECK(cli_json_str_is(root, "visibility", "shared"));
        } else {
            CHECK(cli_json_str_is(root, "hash", h.b) && !s_json_true(root, "has_manifest"));
            CHECK(json_is_null(json_object_get(root, "visibility")));
        }
    }
    json_decref(object);
    run_t run = CAIRN(t, "prov", "roots", h.c);
    CHECK(run.status == 0 && strstr(run.out, "  shared      peer-9\n"));
    cli_run_free(&run);
    s_end(t);
}

//  ---- summaries ------------------------------------------------------------------------------

static void s_test_summary_commands(void) {
    test_ctx_t *t = s_begin(true);
    hashes_t h;
    s_hashes(&h);
    json_t *object =
        CAIRN_JSON(t, "summary", "put", h.a, "--mentions", "7", "--preview", "first mention",
                   "--preview", "second", "--topic", "stones", "--text", "A short text.");
    CHECK(cli_json_str_is(object, "l0_hash", h.a) && cli_json_int(object, "mention_count") == 7);
    const char *previews[] = {"first mention", "second", NULL}, *topics[] = {"stones", NULL};
    CHECK(s_json_strings_are(object, "preview_mentions", previews));
    CHECK(s_json_strings_are(object, "primary_topics", topics));
    CHECK(cli_json_str_is(object, "summary_text", "A short text."));
    json_decref(object);
    run_t run = CAIRN(t, "summary", "get", h.a);
    CHECK(run.status == 0 && strstr(run.out, "  mentions        7\n"));
    CHECK(strstr(run.out, "    - first mention\n") &&
          strstr(run.out, "  topics          stones\n"));
    cli_run_free(&run);
    //  Replaced whole; the text from a file.
    char *path = zsys_sprintf("%s/text", t->dir);
    FILE *file = fopen(path, "w");
    assert(file);
    fputs("Line one.\nLine two.\n", file);
    fclose(file);
    object = CAIRN_JSON(t, "summary", "put", h.a, "--text-file", path);
    CHECK(cli_json_str_is(object, "summary_text", "Line one.\nLine two.\n"));
    CHECK(cli_json_int(object, "mention_count") == 0);
    const char *none[] = {NULL};
    CHECK(s_json_strings_are(object, "preview_mentions", none));
    json_decref(object);
    //  Errors: unknown, oversized text (the client has room for it).
    cli_expect_json_error(CAIRN(t, "--json", "summary", "get", h.b), "not_found");
    file = fopen(path, "w");
    assert(file);
    for (int i = 0; i < 64 * 1024 + 1; i++)
        fputc('x', file);
    fclose(file);
    cli_expect_json_error(CAIRN(t, "--json", "summary", "put", h.b, "--text-file", path),
                          "invalid");
    zstr_free(&path);
    s_end(t);
}

static const harness_test_t s_tests[] = {
    {"prov_help", s_test_prov_help},
    {"prov_usage", s_test_prov_usage},
    {"prov_add_roots", s_test_prov_add_roots},
    {"prov_derivations", s_test_prov_derivations},
    {"prov_ancestor", s_test_prov_ancestor},
    {"prov_errors", s_test_prov_errors},
    {"prov_weights_large", s_test_prov_weights_large},
    {"prov_roots_manifest", s_test_prov_roots_manifest},
    {"manifest_crud", s_test_manifest_crud},
    {"manifest_versions", s_test_manifest_versions},
    {"manifest_list", s_test_manifest_list},
    {"manifest_errors", s_test_manifest_errors},
    {"manifest_summary", s_test_summary_commands},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-prov: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

/*  =========================================================================
    e2e_cli_content - the cairn client's content and cache commands against
    a real cairnd

    Black-box, as e2e_cli.c: the built `cairn` runs as a child (cli_run.h)
    against a cairnd the harness starts on a free loopback port, with a
    fresh temp dir for the files each test writes. Every byte that goes in
    comes back compared byte for byte, and every hash printed is checked
    against a SHA-256 computed here. Blob files are damaged, removed and
    planted under <data dir>/content/ to see what get and fsck make of it.
    Standard input and terminals come from /bin/sh and script(1), both
    run through harness_run under its deadline.

    One behaviour per ctest name: `e2e-cli-content NAME` runs the test
    NAME (with no argument, all of them), registered as e2e.cli.NAME.
    ========================================================================= */

#include "ca_hash.h"
#include "content.h"
#include "ca_limits.h"
#include "ca_validate.h"
#include "cli_run.h"
#include "fs_trace.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB          (1024 * 1024)
#define HEX_SIZE     65
#define SHELL_PATH   "/bin/sh"
#define SCRIPT_PATH  "/usr/bin/script"
#define WIRE_TIMEOUT 5000

typedef cli_ctx_t test_ctx_t;

//  cairn --endpoint E ARGS...
#define CAIRN(t, ...) RUN("--endpoint", (t)->endpoint, __VA_ARGS__)

//  Runs `cairn --json ARGS`, checks exit 0 and "status":"ok"; caller decrefs.
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  ---- a test's node and files ---------------------------------------------------------

static test_ctx_t *s_begin_with(bool with_node, const char *const *args) {
    return cli_ctx_begin("content", with_node, args);
}

static test_ctx_t *s_begin(bool with_node) {
    return s_begin_with(with_node, NULL);
}

static void s_end(test_ctx_t *t) {
    cli_ctx_end(&t);
}

//  dir/name; caller frees.
static char *s_path(const test_ctx_t *t, const char *name) {
    return zsys_sprintf("%s/%s", t->dir, name);
}

//  Writes `size` bytes made from `seed` into dir/name; returns the path.
static char *s_make_file(const test_ctx_t *t, const char *name, size_t size, uint32_t seed) {
    char *path = s_path(t, name);
    FILE *file = fopen(path, "wb");
    assert(file);
    uint8_t *piece = (uint8_t *)malloc(MIB);
    uint8_t key[randombytes_SEEDBYTES] = {0};
    for (size_t done = 0, round = 0; done < size; round++) {
        size_t length = size - done < MIB ? size - done : MIB;
        memcpy(key, &seed, sizeof seed);
        memcpy(key + sizeof seed, &round, sizeof round);
        randombytes_buf_deterministic(piece, length, key);
        size_t written = fwrite(piece, 1, length, file);
        assert(written == length);
        done += length;
    }
    free(piece);
    fclose(file);
    return path;
}

static char *s_make_text(const test_ctx_t *t, const char *name, const char *text) {
    char *path = s_path(t, name);
    FILE *file = fopen(path, "wb");
    assert(file);
    fputs(text, file);
    fclose(file);
    return path;
}

//  The SHA-256 of a file's bytes as 64 hex digits.
static void s_file_hash(const char *path, char hex[HEX_SIZE]) {
    ca_sha256_t *sha = ca_sha256_new();
    FILE *file = fopen(path, "rb");
    assert(sha && file);
    uint8_t buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0)
        ca_sha256_update(sha, buffer, got);
    fclose(file);
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256_final(sha, digest);
    ca_sha256_destroy(&sha);
    ca_hash_to_hex(digest, hex);
}

static void s_text_hash(const char *text, char hex[HEX_SIZE]) {
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(text, strlen(text), digest);
    ca_hash_to_hex(digest, hex);
}

//  True when both files exist and hold the same bytes.
static bool s_same_files(const char *a, const char *b) {
    FILE *left = fopen(a, "rb"), *right = fopen(b, "rb");
    bool same = left && right;
    static uint8_t one[65536], other[65536];
    while (same) {
        size_t got = fread(one, 1, sizeof one, left);
        size_t got_other = fread(other, 1, sizeof other, right);
        same = got == got_other && memcmp(one, other, got) == 0;
        if (got == 0)
            break;
    }
    if (left)
        fclose(left);
    if (right)
        fclose(right);
    return same;
}

static bool s_exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0;
}

//  No FILE.partial-XXXXXX left in the test's dir.
static bool s_no_partials(const test_ctx_t *t) {
    DIR *dir = opendir(t->dir);
    assert(dir);
    bool none = true;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strstr(entry->d_name, ".partial-")) {
            fprintf(stderr, "left behind: %s\n", entry->d_name);
            none = false;
        }
    closedir(dir);
    return none;
}

//  <data dir>/content/<2 hex>/<64 hex>; caller frees.
static char *s_blob_path(const test_ctx_t *t, const char *hex) {
    return zsys_sprintf("%s/%s/%.2s/%s", harness_node_data_dir(t->node), CA_CONTENT_DIR, hex, hex);
}

//  Flips one byte in the middle of a blob: its file, or its inline bytes
//  in the database (a blob of at most CA_CONTENT_INLINE_MAX put whole).
static void s_damage_blob(const test_ctx_t *t, const char *hex) {
    char *path = s_blob_path(t, hex);
    if (access(path, F_OK) != 0) {
        uint8_t hash[32];
        HARNESS_CHECK(ca_hash_from_hex(hex, hash));
        content_fixture_flip_inline(harness_node_data_dir(t->node), hash);
        zstr_free(&path);
        return;
    }
    chmod(path, 0600);
    int fd = open(path, O_RDWR);
    HARNESS_CHECK(fd >= 0);
    struct stat info;
    HARNESS_CHECK(fstat(fd, &info) == 0 && info.st_size > 0);
    uint8_t byte;
    off_t middle = info.st_size / 2;
    HARNESS_CHECK(pread(fd, &byte, 1, middle) == 1);
    byte ^= 0x5a;
    HARNESS_CHECK(pwrite(fd, &byte, 1, middle) == 1);
    close(fd);
    zstr_free(&path);
}

//  ---- runs and their output ------------------------------------------------------------

static bool s_json_true(json_t *object, const char *key) {
    return json_is_true(json_object_get(object, key));
}

//  `content put PATH`: checks that it prints the file's SHA-256 (into hex).
static void s_put_file(const test_ctx_t *t, const char *path, char hex[HEX_SIZE]) {
    s_file_hash(path, hex);
    run_t run = CAIRN(t, "content", "put", path);
    CHECK(run.status == 0);
    CHECK(strlen(run.out) == HEX_SIZE && strncmp(run.out, hex, HEX_SIZE - 1) == 0);
    CHECK(run.err[0] == '\0'); //  no progress: stderr is not a terminal
    cli_run_free(&run);
}

//  `content get HEX -o dir/NAME` and a byte-for-byte comparison with `original`.
static void s_get_same(const test_ctx_t *t, const char *hex, const char *original) {
    char *out = s_path(t, "got");
    unlink(out);
    run_t run = CAIRN(t, "content", "get", hex, "-o", out);
    CHECK(run.status == 0 && cli_starts_with(run.out, "wrote ") && strstr(run.out, out));
    CHECK(run.err[0] == '\0');
    cli_run_free(&run);
    CHECK(s_same_files(original, out));
    CHECK(s_no_partials(t));
    zstr_free(&out);
}

//  Runs `script` with /bin/sh -c; $0 is the cairn binary, $1 the endpoint.
static run_t s_shell(const test_ctx_t *t, const char *script) {
    const char *args[] = {"-c", script, cli_run_path(), t->endpoint, NULL};
    const char *env[] = {"CAIRN_ENDPOINT", NULL};
    run_t run = harness_run(SHELL_PATH, args, env, CLI_RUN_TIMEOUT_MS);
    fprintf(stderr, "$ sh -c '%s'\n  -> exit %d\n  stdout: %s\n  stderr: %s\n", script, run.status,
            run.out, run.err);
    return run;
}

//  ---- without a node ------------------------------------------------------------------

static void s_test_content_help(void) {
    run_t run = RUN("--help");
    CHECK(run.status == 0);
    const char *expected[] = {"content put FILE|- [--expect HASH]",
                              "content get HASH [-o FILE] [--skip-verify]",
                              "content has HASH",
                              "content size HASH",
                              "content rm HASH",
                              "content fsck [--verify] [--repair]",
                              "content stats",
                              "cache put FILE|- --peer PEER_ID",
                              "cache get HASH [-o FILE]",
                              "cache has HASH",
                              "cache evict BYTES",
                              "cache clear",
                              "cache stats",
                              "64 hex digits",
                              "corrupt"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(run.out, expected[i]));
    cli_run_free(&run);

    run = RUN("content", "get", "--help");
    CHECK(run.status == 0 && strstr(run.out, "FILE.partial-XXXXXX") &&
          strstr(run.out, "--skip-verify"));
    cli_run_free(&run);
    run = RUN("content", "fsck", "--help");
    CHECK(run.status == 0 && strstr(run.out, "quarantine") && strstr(run.out, "Exit 1"));
    cli_run_free(&run);
}

//  Mistakes caught before anything is sent: exit 2 (not 3: nothing
//  listens at the endpoint), usage on stderr, nothing on stdout even with
//  --json.
static void s_test_content_usage(void) {
    test_ctx_t *t = s_begin(false);
    char *file = s_make_text(t, "f", "bytes");
    const char *good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const char *const cases[][10] = {
        {"content", "get", "abc"},
        {"content", "get", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982"},
        {"content", "get", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98245"},
        {"content", "has", "gcf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
        {"content", "size", "../../../../../../../../etc/passwd"},
        {"content", "rm", ""},
        {"cache", "get", "2cf24dba 5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
        {"cache", "has", "0x2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98"},
        {"content", "get", good},             //  --json needs -o
        {"content", "get", good, "-o", "-"},  //  ... a file, not stdout
        {"content", "get", good, "-o"},       //  -o needs a value
        {"content", "get", good, "--o", "x"}, //  -o is short only
        {"content", "put", "/nonexistent/file"},
        {"content", "put", t->dir}, //  a directory
        {"content", "put", file, "--expect", "1234"},
        {"content", "put"},
        {"cache", "evict", "lots"},
        {"cache", "evict", "-5"},
        {"cache", "evict", "99999999999G"},
        {"cache", "put", file}, //  --peer is required
        {"cache", "put", file, "--peer", "p", "--receipt", "xyz"},
        {"cache", "put", file, "--peer", "p", "--queried-at", "soon"},
        {"content", "fsck", "--fix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cli_expect_usage(t->endpoint, cases[i]);
    //  The messages say what is wanted.
    run_t run = RUN("--endpoint", t->endpoint, "content", "get", "abc");
    CHECK(strstr(run.err, "64 hex digits"));
    cli_run_free(&run);
    run = RUN("--endpoint", t->endpoint, "--json", "content", "get", good);
    CHECK(strstr(run.err, "give -o FILE"));
    cli_run_free(&run);
    //  A good hash does go to the node (here: none).
    cli_expect_fail(RUN("--endpoint", t->endpoint, "--timeout", "300", "content", "has", good), 3,
                    "unreachable: ");
    zstr_free(&file);
    s_end(t);
}

//  ---- content put / get ------------------------------------------------------------------

//  0 B, 1 B, small and 1 MiB: one ContentPut and one ContentGet each.
static void s_test_content_roundtrip(void) {
    test_ctx_t *t = s_begin(true);
    const size_t sizes[] = {0, 1, 1000, MIB, 4 * MIB - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[32], hex[HEX_SIZE];
        snprintf(name, sizeof name, "in-%zu", sizes[i]);
        char *path = s_make_file(t, name, sizes[i], (uint32_t)i);
        s_put_file(t, path, hex);
        s_get_same(t, hex, path);
        json_t *object = CAIRN_JSON(t, "content", "put", path);
        CHECK(cli_json_str_is(object, "hash", hex) &&
              cli_json_int(object, "size") == (int64_t)sizes[i]);
        CHECK(s_json_true(object, "deduplicated") && !s_json_true(object, "streamed"));
        json_decref(object);
        zstr_free(&path);
    }
    //  Text comes back on stdout as it went in.
    char *path = s_make_text(t, "hello", "hello, content\n");
    char hex[HEX_SIZE];
    s_put_file(t, path, hex);
    run_t run = CAIRN(t, "content", "get", hex);
    CHECK(run.status == 0 && streq(run.out, "hello, content\n"));
    cli_run_free(&run);
    //  The empty blob, on stdout: nothing.
    s_text_hash("", hex);
    run = CAIRN(t, "content", "get", hex);
    CHECK(run.status == 0 && run.out[0] == '\0' && run.err[0] == '\0');
    cli_run_free(&run);
    //  JSON of a get names the file.
    char *out = s_path(t, "hello.out");
    s_text_hash("hello, content\n", hex);
    json_t *object = CAIRN_JSON(t, "content", "get", hex, "-o", out);
    CHECK(cli_json_str_is(object, "hash", hex) && cli_json_str_is(object, "path", out));
    CHECK(cli_json_int(object, "size") == 15 && s_json_true(object, "verified"));
    json_decref(object);
    CHECK(s_same_files(path, out));
    zstr_free(&out);
    zstr_free(&path);
    s_end(t);
}

//  `get -o FILE` is durable once it says so: the partial file is fsynced
//  before its rename to FILE (replacing an older FILE), the directory after.
static void s_test_content_get_durable(void) {
    test_ctx_t *t = s_begin(true);
    char *path = s_make_file(t, "in", MIB, 7);
    char hex[HEX_SIZE];
    s_put_file(t, path, hex);
    char *out = s_make_text(t, "got", "an older file");
    char *log_path = s_path(t, "strace.log");
    const char *args[] = {"--endpoint", t->endpoint, "content", "get", hex, "-o", out, NULL};
    fs_trace_t *trace = NULL;
    run_t run = fs_trace_run(log_path, cli_run_path(), args, NULL, CLI_RUN_TIMEOUT_MS, &trace);
    CHECK(trace != NULL);
    CHECK(run.status == 0 && cli_starts_with(run.out, "wrote "));
    cli_run_free(&run);
    CHECK(s_same_files(path, out) && s_no_partials(t));
    char *problem = trace ? fs_trace_durable_file(trace, out) : NULL;
    if (problem)
        fprintf(stderr, "content get -o: %s\n", problem);
    CHECK(!problem);
    zstr_free(&problem);
    fs_trace_destroy(&trace);
    unlink(log_path);
    zstr_free(&log_path);
    zstr_free(&out);
    zstr_free(&path);
    s_end(t);
}

//  Streams: exactly one chunk, a chunk and a byte, and ~40 MiB; up in
//  chunks, down in ranges, compared byte for byte.
static void s_test_content_large(void) {
    test_ctx_t *t = s_begin(true);
    const size_t sizes[] = {4 * MIB, 4 * MIB + 1, 40 * MIB + 123};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[32], hex[HEX_SIZE];
        snprintf(name, sizeof name, "big-%zu", sizes[i]);
        char *path = s_make_file(t, name, sizes[i], 100 + (uint32_t)i);
        s_put_file(t, path, hex);
        s_get_same(t, hex, path);
        char size[32];
        snprintf(size, sizeof size, "%zu\n", sizes[i]);
        cli_expect_ok(CAIRN(t, "content", "size", hex), size);
        json_t *object = CAIRN_JSON(t, "content", "put", path);
        CHECK(cli_json_str_is(object, "hash", hex) && s_json_true(object, "streamed"));
        CHECK(s_json_true(object, "deduplicated"));
        json_decref(object);
        //  --skip-verify brings the same bytes.
        char *out = s_path(t, "unverified");
        object = CAIRN_JSON(t, "content", "get", hex, "-o", out, "--skip-verify");
        CHECK(!s_json_true(object, "verified") &&
              cli_json_int(object, "size") == (int64_t)sizes[i]);
        json_decref(object);
        CHECK(s_same_files(path, out));
        zstr_free(&out);
        zstr_free(&path);
    }
    json_t *object = CAIRN_JSON(t, "content", "stats");
    CHECK(cli_json_int(object, "blobs") == 3);
    CHECK(cli_json_int(object, "bytes") == (int64_t)(8 * MIB + 1 + 40 * MIB + 123));
    CHECK(cli_json_int(object, "open_streams") == 0);
    CHECK(json_is_string(json_object_get(object, "hash_backend")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "content", "stats"), "hash backend");
    s_end(t);
}

//  `put -` reads stdin: a redirected file (one request) and a pipe of
//  9 MiB (streamed; its size is not known in advance).
static void s_test_content_stdin(void) {
    test_ctx_t *t = s_begin(true);
    char *small = s_make_file(t, "small", 5000, 7);
    char *large = s_make_file(t, "large", 9 * MIB + 17, 8);
    char small_hex[HEX_SIZE], large_hex[HEX_SIZE];
    s_file_hash(small, small_hex);
    s_file_hash(large, large_hex);

    char *script = zsys_sprintf("exec \"$0\" --endpoint \"$1\" content put - < '%s'", small);
    run_t run = s_shell(t, script);
    CHECK(run.status == 0 && strncmp(run.out, small_hex, HEX_SIZE - 1) == 0);
    cli_run_free(&run);
    zstr_free(&script);

    script = zsys_sprintf("cat '%s' | \"$0\" --endpoint \"$1\" --json content put -", large);
    run = s_shell(t, script);
    CHECK(run.status == 0);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "hash", large_hex) && s_json_true(object, "streamed"));
    CHECK(cli_json_int(object, "size") == 9 * MIB + 17 && !s_json_true(object, "deduplicated"));
    json_decref(object);
    cli_run_free(&run);
    zstr_free(&script);

    s_get_same(t, small_hex, small);
    s_get_same(t, large_hex, large);
    zstr_free(&small);
    zstr_free(&large);
    s_end(t);
}

//  --expect: a mismatch keeps nothing (one request and streamed); a blob
//  the node has is not sent again, but the input is still checked.
static void s_test_content_expect(void) {
    test_ctx_t *t = s_begin(true);
    char *small = s_make_file(t, "small", 3000, 1);
    char *large = s_make_file(t, "large", 5 * MIB, 2);
    char *other = s_make_file(t, "other", 5 * MIB, 3);
    char small_hex[HEX_SIZE], large_hex[HEX_SIZE];
    s_file_hash(small, small_hex);
    s_file_hash(large, large_hex);

    cli_expect_fail(CAIRN(t, "content", "put", small, "--expect", large_hex), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "content", "put", large, "--expect", small_hex), 1, "invalid: ");
    cli_expect_json_error(CAIRN(t, "--json", "content", "put", small, "--expect", large_hex),
                          "invalid");
    cli_expect_ok(CAIRN(t, "content", "has", small_hex), "not stored");
    cli_expect_ok(CAIRN(t, "content", "has", large_hex), "not stored");

    json_t *object = CAIRN_JSON(t, "content", "put", large, "--expect", large_hex);
    CHECK(cli_json_str_is(object, "hash", large_hex) && !s_json_true(object, "deduplicated"));
    json_decref(object);
    //  Stored already: Begin says so and no chunk is sent.
    object = CAIRN_JSON(t, "content", "put", large, "--expect", large_hex);
    CHECK(s_json_true(object, "deduplicated") && cli_json_int(object, "size") == 5 * MIB);
    json_decref(object);
    //  ... yet other bytes under that hash are refused here.
    run_t run = CAIRN(t, "content", "put", other, "--expect", large_hex);
    CHECK(run.status == 1 && cli_starts_with(run.err, "cairn: invalid: "));
    CHECK(strstr(run.err, "does not match --expect") && strstr(run.err, "nothing was sent"));
    cli_run_free(&run);

    //  Dedup without --expect: the second put of the same bytes.
    cli_expect_ok(CAIRN(t, "content", "put", small, "--expect", small_hex), small_hex);
    object = CAIRN_JSON(t, "content", "put", small);
    CHECK(s_json_true(object, "deduplicated"));
    json_decref(object);
    object = CAIRN_JSON(t, "content", "stats");
    CHECK(cli_json_int(object, "blobs") == 2);
    json_decref(object);
    zstr_free(&small);
    zstr_free(&large);
    zstr_free(&other);
    s_end(t);
}

static void s_test_content_has_size_rm(void) {
    test_ctx_t *t = s_begin(true);
    char *path = s_make_file(t, "blob", 2048, 4);
    char hex[HEX_SIZE];
    s_put_file(t, path, hex);

    char *line = zsys_sprintf("stored %s (2048 bytes)\n", hex);
    cli_expect_ok(CAIRN(t, "content", "has", hex), line);
    zstr_free(&line);
    json_t *object = CAIRN_JSON(t, "content", "has", hex);
    CHECK(s_json_true(object, "exists") && cli_json_int(object, "size") == 2048);
    CHECK(cli_json_str_is(object, "hash", hex));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "content", "size", hex), "2048\n");
    object = CAIRN_JSON(t, "content", "size", hex);
    CHECK(cli_json_int(object, "size") == 2048);
    json_decref(object);

    line = zsys_sprintf("removed %s\n", hex);
    cli_expect_ok(CAIRN(t, "content", "rm", hex), line);
    zstr_free(&line);
    object = CAIRN_JSON(t, "content", "rm", hex);
    CHECK(!s_json_true(object, "removed") && cli_json_str_is(object, "hash", hex));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "content", "rm", hex), "nothing removed");

    //  Absent: has says so and exits 0; size is not_found.
    line = zsys_sprintf("not stored %s\n", hex);
    cli_expect_ok(CAIRN(t, "content", "has", hex), line);
    zstr_free(&line);
    object = CAIRN_JSON(t, "content", "has", hex);
    CHECK(!s_json_true(object, "exists"));
    json_decref(object);
    cli_expect_fail(CAIRN(t, "content", "size", hex), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "content", "size", hex), "not_found");
    zstr_free(&path);
    s_end(t);
}

//  An unknown hash: not_found, exit 1, and -o FILE neither made nor touched.
static void s_test_content_not_found(void) {
    test_ctx_t *t = s_begin(true);
    char hex[HEX_SIZE];
    s_text_hash("never stored", hex);
    char *out = s_path(t, "out");
    cli_expect_fail(CAIRN(t, "content", "get", hex), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "content", "get", hex, "-o", out), 1, "not_found: ");
    CHECK(!s_exists(out) && s_no_partials(t));
    char *kept = s_make_text(t, "kept", "keep me");
    cli_expect_json_error(CAIRN(t, "--json", "content", "get", hex, "-o", kept), "not_found");
    char *copy = s_make_text(t, "copy", "keep me");
    CHECK(s_same_files(kept, copy) && s_no_partials(t));
    zstr_free(&copy);
    zstr_free(&kept);
    zstr_free(&out);
    s_end(t);
}

//  A damaged blob file is never delivered as good: exit 1 "corrupt", no
//  output file, nothing partial left (one ContentGet and ranged reads).
static void s_test_content_corrupt(void) {
    test_ctx_t *t = s_begin(true);
    char *small = s_make_file(t, "small", 1000, 5);
    char *large = s_make_file(t, "large", 9 * MIB, 6);
    char small_hex[HEX_SIZE], large_hex[HEX_SIZE];
    s_put_file(t, small, small_hex);
    s_put_file(t, large, large_hex);
    s_damage_blob(t, small_hex);
    s_damage_blob(t, large_hex);

    char *out = s_path(t, "out");
    const char *hashes[] = {small_hex, large_hex};
    for (size_t i = 0; i < 2; i++) {
        cli_expect_fail(CAIRN(t, "content", "get", hashes[i], "-o", out), 1, "corrupt: ");
        CHECK(!s_exists(out) && s_no_partials(t));
        cli_expect_json_error(CAIRN(t, "--json", "content", "get", hashes[i], "-o", out),
                              "corrupt");
        CHECK(!s_exists(out) && s_no_partials(t));
    }
    run_t run = CAIRN(t, "content", "get", small_hex);
    CHECK(run.status == 1 && cli_starts_with(run.err, "cairn: corrupt: "));
    cli_run_free(&run);
    //  --skip-verify serves the damaged bytes as they are.
    cli_expect_ok(CAIRN(t, "content", "get", large_hex, "-o", out, "--skip-verify"),
                  "(not verified)");
    CHECK(s_exists(out) && !s_same_files(out, large));
    zstr_free(&out);
    zstr_free(&small);
    zstr_free(&large);
    s_end(t);
}

//  A node that stops answering (SIGSTOP) mid-stream or before a get: the
//  client gives up after --timeout (exit 3), keeps no output file, and the
//  node, running again, drops the abandoned stream and its bytes.
static void s_test_content_node_lost(void) {
    const char *args[] = {"--workers=1", "--stream-timeout-ms=1000", "--maintenance-ms=20", NULL};
    test_ctx_t *t = s_begin_with(true, args);
    pid_t pid = harness_node_pid(t->node);
    char *path = s_make_file(t, "big", 9 * MIB, 60);
    char hex[HEX_SIZE];
    s_file_hash(path, hex);
    char *script = zsys_sprintf("{ cat '%s'; kill -STOP %d; cat '%s'; } | \"$0\" --endpoint \"$1\" "
                                "--timeout 300 content put -",
                                path, (int)pid, path);
    run_t run = s_shell(t, script);
    CHECK(kill(pid, SIGCONT) == 0);
    CHECK(run.status == 3 && cli_starts_with(run.err, "cairn: unreachable: "));
    CHECK(run.out[0] == '\0');
    cli_run_free(&run);

    //  The stream is dropped once idle for stream_timeout_ms.
    int64_t deadline = zclock_mono() + 10000;
    int64_t open_streams = -1;
    for (int polls = 0; polls < 500 && open_streams != 0 && zclock_mono() < deadline; polls++) {
        json_t *object = CAIRN_JSON(t, "content", "stats");
        open_streams = cli_json_int(object, "open_streams");
        json_decref(object);
    }
    CHECK(open_streams == 0);
    cli_expect_ok(CAIRN(t, "content", "has", hex), "not stored");
    cli_expect_ok(CAIRN(t, "content", "fsck", "--verify"), "clean\n");

    //  A get from a node that does not answer leaves no file.
    s_put_file(t, path, hex);
    char *out = s_path(t, "out");
    CHECK(kill(pid, SIGSTOP) == 0);
    run = CAIRN(t, "--timeout", "300", "content", "get", hex, "-o", out);
    CHECK(kill(pid, SIGCONT) == 0);
    CHECK(run.status == 3 && cli_starts_with(run.err, "cairn: unreachable: "));
    cli_run_free(&run);
    CHECK(!s_exists(out) && s_no_partials(t));
    s_get_same(t, hex, path);
    zstr_free(&out);
    zstr_free(&script);
    zstr_free(&path);
    s_end(t);
}

//  ---- fsck --------------------------------------------------------------------------------

//  A JSON array of hex hashes holds exactly `hex`.
static bool s_json_lists(json_t *object, const char *key, const char *hex) {
    json_t *list = json_object_get(object, key);
    return json_array_size(list) == 1 && streq(json_string_value(json_array_get(list, 0)), hex);
}

static void s_test_content_fsck(void) {
    test_ctx_t *t = s_begin(true);
    char *paths[3];
    char hex[3][HEX_SIZE]; //  damaged, removed, kept
    for (uint32_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "blob-%u", i);
        //  Files (over CA_CONTENT_INLINE_MAX): one of them is removed.
        paths[i] = s_make_file(t, name, CA_CONTENT_INLINE_MAX + 1500 + i, 20 + i);
        s_put_file(t, paths[i], hex[i]);
    }
    cli_expect_ok(CAIRN(t, "content", "fsck"), "clean\n");
    json_t *object = CAIRN_JSON(t, "content", "fsck", "--verify");
    CHECK(cli_json_int(object, "blobs") == 3 && cli_json_int(object, "files") == 3);
    CHECK(s_json_true(object, "clean") && cli_json_int(object, "problems") == 0);
    json_decref(object);

    //  Damage one, remove one, plant an orphan (good bytes under their
    //  hash, no row) and a stray (a name that is no hash).
    s_damage_blob(t, hex[0]);
    char *removed = s_blob_path(t, hex[1]);
    CHECK(unlink(removed) == 0);
    char orphan_hex[HEX_SIZE];
    s_text_hash("an orphan", orphan_hex);
    char *orphan = s_blob_path(t, orphan_hex);
    char *orphan_dir =
        zsys_sprintf("%s/%s/%.2s", harness_node_data_dir(t->node), CA_CONTENT_DIR, orphan_hex);
    mkdir(orphan_dir, 0700);
    FILE *file = fopen(orphan, "wb");
    HARNESS_CHECK(file);
    fputs("an orphan", file);
    fclose(file);
    char *stray = zsys_sprintf("%s/%s/%.2s/notes.txt", harness_node_data_dir(t->node),
                               CA_CONTENT_DIR, hex[2]);
    file = fopen(stray, "wb");
    HARNESS_CHECK(file);
    fputs("not a blob", file);
    fclose(file);

    //  Without --verify: the missing file and the orphan; exit 1.
    run_t run = CAIRN(t, "content", "fsck");
    CHECK(run.status == 1 && strstr(run.out, hex[1]) && strstr(run.out, orphan_hex));
    CHECK(!strstr(run.out, hex[0]) && strstr(run.err, "2 problems") && strstr(run.err, "--repair"));
    cli_run_free(&run);
    //  With it, the damaged one too.
    run = CAIRN(t, "--json", "content", "fsck", "--verify");
    CHECK(run.status == 1);
    object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "ok") && !s_json_true(object, "clean"));
    CHECK(cli_json_int(object, "problems") == 3 && cli_json_int(object, "stray_count") == 1);
    CHECK(s_json_lists(object, "corrupt", hex[0]) && s_json_lists(object, "missing", hex[1]));
    CHECK(s_json_lists(object, "orphans", orphan_hex) && !s_json_true(object, "repaired"));
    json_decref(object);
    cli_run_free(&run);

    cli_expect_ok(CAIRN(t, "content", "fsck", "--verify", "--repair"), "repaired 3 problems");
    run = CAIRN(t, "content", "fsck", "--verify");
    CHECK(run.status == 0 && strstr(run.out, "clean\n") && run.err[0] == '\0');
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "content", "has", orphan_hex), "stored"); //  indexed again
    cli_expect_ok(CAIRN(t, "content", "has", hex[0]), "not stored"); //  quarantined
    cli_expect_ok(CAIRN(t, "content", "has", hex[1]), "not stored");
    s_get_same(t, hex[2], paths[2]);
    for (int i = 0; i < 3; i++)
        zstr_free(&paths[i]);
    zstr_free(&removed);
    zstr_free(&orphan);
    zstr_free(&orphan_dir);
    zstr_free(&stray);
    s_end(t);
}

//  ---- cache ---------------------------------------------------------------------------------

//  Caches `text` as a peer would have it, over the wire (CachePut).
static void s_seed_cache(const test_ctx_t *t, const char *text, const char *peer,
                         double queried_at) {
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(text, strlen(text), hash);
    const uint8_t receipt[] = {0x01, 0x02, 0x03};
    Cairn__CachePut body;
    Cairn__Request request;
    ca_request_cache_put(&request, &body, 77, hash, sizeof hash, text, strlen(text), peer,
                         queried_at, receipt, sizeof receipt);
    zsock_t *client = harness_connect(t->endpoint);
    Cairn__Response *response = harness_call(client, &request, WIRE_TIMEOUT);
    harness_expect(response, CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
}

static void s_test_content_cache_commands(void) {
    test_ctx_t *t = s_begin(true);
    const char *text = "bytes from a peer\n";
    char hex[HEX_SIZE];
    s_text_hash(text, hex);
    s_seed_cache(t, text, "peer-1", 1700000000); //  a whole number: read back as one

    char *line = zsys_sprintf("cached %s (%zu bytes)\n", hex, strlen(text));
    cli_expect_ok(CAIRN(t, "cache", "has", hex), line);
    zstr_free(&line);
    json_t *object = CAIRN_JSON(t, "cache", "has", hex);
    CHECK(s_json_true(object, "cached") && cli_json_int(object, "size") == (int64_t)strlen(text));
    json_decref(object);
    run_t run = CAIRN(t, "cache", "get", hex);
    CHECK(run.status == 0 && streq(run.out, text));
    cli_run_free(&run);
    char *out = s_path(t, "cached");
    cli_expect_ok(CAIRN(t, "cache", "get", hex, "-o", out),
                  "from peer peer-1, queried at 2023-11-14T22:13:20.000Z");
    object = CAIRN_JSON(t, "cache", "get", hex, "-o", out);
    CHECK(cli_json_str_is(object, "source_peer", "peer-1"));
    CHECK(cli_json_str_is(object, "receipt", "010203") && cli_json_str_is(object, "path", out));
    CHECK(json_number_value(json_object_get(object, "queried_at")) == 1700000000);
    CHECK(s_json_true(object, "verified") && cli_json_int(object, "last_access") > 0);
    json_decref(object);
    char *copy = s_make_text(t, "copy", text);
    CHECK(s_same_files(out, copy));

    //  cache put from the CLI, with a receipt and a query time.
    char *file = s_make_file(t, "from-peer", 70000, 9);
    char file_hex[HEX_SIZE];
    s_file_hash(file, file_hex);
    cli_expect_ok(CAIRN(t, "cache", "put", file, "--peer", "peer-2", "--receipt", "0a0b",
                        "--queried-at", "1700000100"),
                  file_hex);
    object = CAIRN_JSON(t, "cache", "get", file_hex, "-o", out);
    CHECK(cli_json_str_is(object, "source_peer", "peer-2") &&
          cli_json_str_is(object, "receipt", "0a0b"));
    json_decref(object);
    CHECK(s_same_files(out, file));
    cli_expect_fail(CAIRN(t, "cache", "put", file, "--peer", "peer-2", "--expect", hex), 1,
                    "invalid: ");

    //  The cache is not the content store.
    cli_expect_ok(CAIRN(t, "content", "has", hex), "not stored");
    object = CAIRN_JSON(t, "cache", "stats");
    CHECK(cli_json_int(object, "entries") == 2);
    CHECK(cli_json_int(object, "bytes") == (int64_t)(strlen(text) + 70000));
    CHECK(cli_json_int(object, "max_bytes") == 1024LL * 1024 * 1024);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "cache", "stats"), "entries         2");

    cli_expect_ok(CAIRN(t, "cache", "clear"), "cleared 2 entries");
    cli_expect_ok(CAIRN(t, "cache", "has", hex), "not cached");
    cli_expect_fail(CAIRN(t, "cache", "get", hex, "-o", out), 1, "not_found: ");
    CHECK(s_no_partials(t));
    object = CAIRN_JSON(t, "cache", "clear");
    CHECK(cli_json_int(object, "entries") == 0 && cli_json_int(object, "bytes") == 0);
    json_decref(object);
    zstr_free(&file);
    zstr_free(&copy);
    zstr_free(&out);
    s_end(t);
}

//  evict BYTES drops the least recently used entries: a get counts as use.
static void s_test_content_cache_evict(void) {
    test_ctx_t *t = s_begin(true);
    char *files[3];
    char hex[3][HEX_SIZE];
    for (uint32_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "entry-%u", i);
        files[i] = s_make_file(t, name, 1000, 40 + i);
        s_file_hash(files[i], hex[i]);
        cli_expect_ok(CAIRN(t, "cache", "put", files[i], "--peer", "p"), hex[i]);
    }
    run_t run = CAIRN(t, "cache", "get", hex[0]); //  entry 1 is now the oldest in use
    CHECK(run.status == 0);
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "cache", "evict", "2000"), "evicted 1 entry, freed 1000 bytes\n");
    cli_expect_ok(CAIRN(t, "cache", "has", hex[1]), "not cached");
    cli_expect_ok(CAIRN(t, "cache", "has", hex[0]), "cached");
    cli_expect_ok(CAIRN(t, "cache", "has", hex[2]), "cached");
    json_t *object = CAIRN_JSON(t, "cache", "evict", "1K");
    CHECK(cli_json_int(object, "entries") == 1 && cli_json_int(object, "bytes") == 1000);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "cache", "has", hex[0]), "cached");
    cli_expect_ok(CAIRN(t, "cache", "evict", "0"), "evicted 1 entry");
    object = CAIRN_JSON(t, "cache", "stats");
    CHECK(cli_json_int(object, "entries") == 0 && cli_json_int(object, "bytes") == 0);
    json_decref(object);
    for (int i = 0; i < 3; i++)
        zstr_free(&files[i]);
    s_end(t);
}

//  ---- progress ----------------------------------------------------------------------------

//  With stderr on a terminal (script(1) makes one) a large transfer shows
//  a progress line; s_put_file and s_get_same check that none shows on a
//  pipe.
static void s_test_content_progress(void) {
    test_ctx_t *t = s_begin(true);
    char *path = s_make_file(t, "big", 24 * MIB, 50);
    char hex[HEX_SIZE];
    s_file_hash(path, hex);
    char *out = s_path(t, "out");
    char *command =
        zsys_sprintf("%s --endpoint %s content put %s && %s --endpoint %s content get "
                     "%s -o %s",
                     cli_run_path(), t->endpoint, path, cli_run_path(), t->endpoint, hex, out);
    const char *args[] = {"-qefc", command, "/dev/null", NULL};
    run_t run = harness_run(SCRIPT_PATH, args, NULL, CLI_RUN_TIMEOUT_MS);
    fprintf(stderr, "$ script -qefc '%s'\n  -> exit %d\n", command, run.status);
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "cairn: put ") && strstr(run.out, " of 24.0 MiB ("));
    CHECK(strstr(run.out, "cairn: get ") && strstr(run.out, "(100%)"));
    CHECK(strstr(run.out, "\r\033[K") && strstr(run.out, hex));
    cli_run_free(&run);
    CHECK(s_same_files(path, out));
    //  Small transfers stay quiet even there.
    char *small = s_make_text(t, "small", "tiny");
    zstr_free(&command);
    command = zsys_sprintf("%s --endpoint %s content put %s", cli_run_path(), t->endpoint, small);
    args[1] = command;
    run = harness_run(SCRIPT_PATH, args, NULL, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 0 && !strstr(run.out, "cairn: put"));
    cli_run_free(&run);
    zstr_free(&small);
    zstr_free(&command);
    zstr_free(&out);
    zstr_free(&path);
    s_end(t);
}

//  ---- the table ---------------------------------------------------------------------------

static const harness_test_t s_tests[] = {
    {"content_help", s_test_content_help},
    {"content_usage", s_test_content_usage},
    {"content_roundtrip", s_test_content_roundtrip},
    {"content_get_durable", s_test_content_get_durable},
    {"content_large", s_test_content_large},
    {"content_stdin", s_test_content_stdin},
    {"content_expect", s_test_content_expect},
    {"content_has_size_rm", s_test_content_has_size_rm},
    {"content_not_found", s_test_content_not_found},
    {"content_corrupt", s_test_content_corrupt},
    {"content_node_lost", s_test_content_node_lost},
    {"content_fsck", s_test_content_fsck},
    {"content_cache_commands", s_test_content_cache_commands},
    {"content_cache_evict", s_test_content_cache_evict},
    {"content_progress", s_test_content_progress},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-content: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

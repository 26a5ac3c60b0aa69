/*  =========================================================================
    e2e_export - `cairnd export` and `cairnd import` (docs/EXPORT.md)
    against real cairnd processes and a real redis-server

        e2e-export TEST      runs one test (ctest registers each by name)

    round_trip fills every store of a node through the wire (the cairn
    client), stops it, exports, empties Redis, imports into a new data dir,
    starts a node there and reads every store back through the wire: each
    read's output must be the first node's. Then the new node's export
    must be the first export, except the header (its time) and the folder
    of a filesystem kv namespace (made anew in the new data dir). The
    others: damaged and hostile files, targets and outputs, a node still
    running, and an unreachable Redis.
    ========================================================================= */

#include "cli_run.h"
#include "ca_testbed.h"
#include "redis_server.h"

#include <assert.h>
#include <glob.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_MS 120000
#define SIG                                                                                        \
    "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111" \
    "111111111111111111111111111111111111"
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BATCH  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define QUERY  "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

#define CAIRN(endpoint, ...) RUN("--endpoint", endpoint, __VA_ARGS__)

static void s_cairnd(const char *const *args, int expected, const char *fragment) {
    CHECK(harness_cairnd_expect(args, expected, fragment, RUN_MS, NULL));
}

static void s_export(const char *data_dir, const char *file, int expected, const char *fragment,
                     bool skip_redis) {
    char *flag = zsys_sprintf("--data-dir=%s", data_dir);
    const char *args[] = {"export", file, flag, skip_redis ? "--skip-redis" : NULL, NULL};
    s_cairnd(args, expected, fragment);
    zstr_free(&flag);
}

static void s_import(const char *data_dir, const char *file, int expected, const char *fragment) {
    char *flag = zsys_sprintf("--data-dir=%s", data_dir);
    const char *args[] = {"import", file, flag, NULL};
    s_cairnd(args, expected, fragment);
    zstr_free(&flag);
}

static void s_write_file(const char *path, const void *data, size_t size) {
    FILE *file = fopen(path, "wb");
    CHECK(file && fwrite(data, 1, size, file) == size && fclose(file) == 0);
}

//  A file of `size` bytes numbered by `seed`.
static char *s_blob_file(const char *dir, const char *name, size_t size, int seed) {
    char *path = zsys_sprintf("%s/%s", dir, name);
    uint8_t *data = (uint8_t *)malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
    s_write_file(path, data, size);
    free(data);
    return path;
}

//  The first line of what a run printed (a hash, an id), run freed.
static char *s_first_line(run_t run) {
    CHECK(run.status == 0);
    char *line = strndup(run.out, strcspn(run.out, "\n"));
    cli_run_free(&run);
    return line;
}

//  The lines of a file (caller destroys).
static zlistx_t *s_lines(const char *path) {
    zlistx_t *lines = zlistx_new();
    zlistx_set_destructor(lines, (zlistx_destructor_fn *)zstr_free);
    FILE *file = fopen(path, "r");
    CHECK(file);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while (file && (length = getline(&line, &capacity, file)) > 0) {
        line[length - (line[length - 1] == '\n')] = '\0';
        zlistx_add_end(lines, strdup(line));
    }
    free(line);
    if (file)
        fclose(file);
    return lines;
}

//  ---- round trip ------------------------------------------------------------------

//  Reads of every store; each one's --json output must be the same on the
//  imported node. (Nothing that changes state when read: no cache get, no
//  oplog take; nothing about the process: no info, stats.)
typedef struct {
    const char *words[16];
} read_t;

static char s_author[65], s_hash_small[65], s_hash_file[65], s_hash_big[65], s_cached[65];

static void s_fill(const char *e, const char *dir, int redis_port) {
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    //  messages, channels, members, gossip, config
    cli_expect_ok(CAIRN(e, "channel", "create", "#export", "--unsigned"), "created");
    cli_expect_ok(CAIRN(e, "channel", "create", "#closed"), "created");
    for (int i = 0; i < 5; i++) {
        char text[64];
        snprintf(text, sizeof text, "round trip message %d", i);
        cli_expect_ok(CAIRN(e, "msg", "send", "#export", text, "--signature-hex", SIG,
                            "--timestamp", i == 4 ? "1700000100.25" : "1700000000.5"),
                      "");
    }
    cli_expect_ok(CAIRN(e, "msg", "send", "#export", "00ff10", "--encrypted", "--nonce-hex",
                        "000102030405060708090a0b0c0d0e0f1011121314151617", "--signature-hex", SIG),
                  "");
    cli_expect_ok(CAIRN(e, "member", "join", "#export", "peer-m"), "");
    cli_expect_ok(CAIRN(e, "gossip", "add", "gossip-id-1", "--ttl", "3"), "");
    cli_expect_ok(CAIRN(e, "config", "set", "export/key", "value"), "");
    //  content: inline, a file, a file of several chunks; the cache
    char *small = s_blob_file(dir, "small", 100, 1);
    char *file = s_blob_file(dir, "file", 100 * 1024, 2);
    char *big = s_blob_file(dir, "big", 300 * 1024 + 7, 3);
    char *cached = s_blob_file(dir, "cached", 70 * 1024, 4);
    char *hash = s_first_line(CAIRN(e, "content", "put", small));
    snprintf(s_hash_small, sizeof s_hash_small, "%s", hash);
    zstr_free(&hash);
    hash = s_first_line(CAIRN(e, "content", "put", file));
    snprintf(s_hash_file, sizeof s_hash_file, "%s", hash);
    zstr_free(&hash);
    hash = s_first_line(CAIRN(e, "content", "put", big));
    snprintf(s_hash_big, sizeof s_hash_big, "%s", hash);
    zstr_free(&hash);
    hash = s_first_line(CAIRN(e, "cache", "put", cached, "--peer", "peer-c"));
    snprintf(s_cached, sizeof s_cached, "%s", hash);
    zstr_free(&hash);
    //  manifests, summaries, provenance
    cli_expect_ok(CAIRN(e, "manifest", "put", s_hash_file, "--type", "text", "--title", "T",
                        "--tag", "a", "--tag", "b", "--allow", "peer-x"),
                  "");
    cli_expect_ok(CAIRN(e, "summary", "put", s_hash_file, "--mentions", "2", "--topic", "t1",
                        "--text", "summary text"),
                  "");
    cli_expect_ok(CAIRN(e, "prov", "add", s_hash_file, s_hash_small), "");
    cli_expect_ok(CAIRN(e, "prov", "add", s_hash_big, s_hash_file, s_hash_small), "");
    //  peers, ledger (a signed payment), settlement
    char *key = zsys_sprintf("%s/alice.key", dir);
    char *alice = s_first_line(RUN("key", "new", key));
    snprintf(s_author, sizeof s_author, "%s", alice);
    cli_expect_ok(CAIRN(e, "peer", "add", "alice", "--key", alice, "--address", "127.0.0.1",
                        "--port", "7402", "--name", "Alice"),
                  "");
    cli_expect_ok(CAIRN(e, "peer", "status", "alice", "online", "--last-seen", "1700000000"), "");
    cli_expect_ok(CAIRN(e, "ledger", "open", "alice", "--theirs", "1000", "--mine", "5"), "");
    char share[80];
    snprintf(share, sizeof share, "%s:3", s_hash_small);
    cli_expect_ok(CAIRN(e, "ledger", "pay", "alice", "--amount", "100", "--recipient", "author-1",
                        "--query", QUERY, "--share", share, "--key-file", key),
                  "");
    cli_expect_ok(CAIRN(e, "ledger", "adjust", "alice", "--mine", "7", "--reason", "deposit"), "");
    cli_expect_ok(CAIRN(e, "settle", "enqueue", HASH_A, "author-1", "10", s_hash_small), "");
    cli_expect_ok(CAIRN(e, "settle", "enqueue", QUERY, "author-2", "20", s_hash_small), "");
    cli_expect_ok(CAIRN(e, "settle", "mark", BATCH, HASH_A), "");
    cli_expect_ok(CAIRN(e, "settle", "last", "--set", "1700000000"), "");
    //  oplog and logbook (topics, cursors, groups, the address book)
    cli_expect_ok(CAIRN(e, "oplog", "append", "4", "--key-file", key, "--body", "op one"), "");
    cli_expect_ok(CAIRN(e, "oplog", "append", "4", "--key-file", key, "--body", "op two"), "");
    cli_expect_ok(CAIRN(e, "topic", "associate", QUERY, alice, "4"), "");
    cli_expect_ok(CAIRN(e, "cursor", "set", "reader", alice, "4", "1"), "");
    cli_expect_ok(CAIRN(e, "group", "put", HASH_A, "0", "--state", "state one"), "");
    cli_expect_ok(CAIRN(e, "book", "put", BATCH, "1700000000000000", "--address", "10.0.0.1:9",
                        "--topic", HASH_A, "--bootstrap"),
                  "");
    //  kv on every backend
    cli_expect_ok(CAIRN(e, "kv", "create", "s"), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "s", "a/b", "sqlite value"), "");
    cli_expect_ok(CAIRN(e, "kv", "create", "f", "--backend", "filesystem"), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "f", "dir/sub/key", "filesystem value"), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "f", "bin", "--file", cached), "");
    cli_expect_ok(CAIRN(e, "kv", "create", "empty-f", "--backend", "filesystem"), "");
    cli_expect_ok(
        CAIRN(e, "kv", "create", "r", "--backend", "redis", "--port", port, "--prefix", "export:"),
        "");
    cli_expect_ok(CAIRN(e, "kv", "put", "r", "x/y", "redis value"), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "r", "z", "--file", small), "");
    //  documents with history
    char *object = zsys_sprintf("%s/doc.json", dir);
    s_write_file(object, "{\"a\": 1, \"list\": [1, 2]}", 24);
    cli_expect_ok(CAIRN(e, "doc", "save", "tenant", "entry", object, "--user", "u1"), "saved");
    cli_expect_ok(CAIRN(e, "doc", "put", "tenant", "entry", "b", "\"two\"", "--user", "u2"), "");
    zstr_free(&object);
    zstr_free(&alice);
    zstr_free(&key);
    zstr_free(&small);
    zstr_free(&file);
    zstr_free(&big);
    zstr_free(&cached);
}

//  The reads, with the hashes and keys s_fill made.
static size_t s_reads(read_t *reads, size_t most) {
    const read_t all[] = {
        {{"channel", "list"}},
        {{"channel", "get", "#export"}},
        {{"msg", "list", "#export", "--limit", "100"}},
        {{"msg", "search", "round"}},
        {{"member", "list", "--channel", "#export"}},
        {{"gossip", "has", "gossip-id-1"}},
        {{"config", "get", "export/key"}},
        {{"content", "has", s_hash_small}},
        {{"content", "size", s_hash_big}},
        {{"content", "fsck", "--verify"}},
        {{"cache", "has", s_cached}},
        {{"manifest", "get", s_hash_file}},
        {{"summary", "get", s_hash_file}},
        {{"prov", "roots", s_hash_big}},
        {{"prov", "derivations", s_hash_small, "--transitive"}},
        {{"prov", "ancestor", s_hash_small, s_hash_big}},
        {{"peer", "list"}},
        {{"ledger", "get", "alice"}},
        {{"ledger", "list"}},
        {{"ledger", "pending", "alice"}},
        {{"ledger", "history", "alice"}},
        {{"settle", "pending"}},
        {{"settle", "total"}},
        {{"settle", "last"}},
        {{"oplog", "heights", s_author}},
        {{"oplog", "range", s_author, "4", "--bodies"}},
        {{"oplog", "pending"}},
        {{"topic", "resolve", QUERY}},
        {{"cursor", "get", "reader", s_author, "4"}},
        {{"group", "get", HASH_A}},
        {{"book", "list"}},
        {{"book", "counts"}},
        {{"kv", "namespaces"}},
        {{"kv", "list", "s"}},
        {{"kv", "get", "s", "a/b"}},
        {{"kv", "list", "f"}},
        {{"kv", "get", "f", "dir/sub/key"}},
        {{"kv", "get", "f", "bin"}},
        {{"kv", "list", "empty-f"}},
        {{"kv", "list", "r"}},
        {{"kv", "get", "r", "x/y"}},
        {{"kv", "get", "r", "z"}},
        {{"doc", "history", "tenant", "entry"}},
        {{"doc", "load", "tenant", "entry"}},
        {{"doc", "stats"}},
    };
    size_t count = sizeof all / sizeof all[0];
    assert(count <= most);
    memcpy(reads, all, sizeof all);
    return count;
}

//  Runs every read against `endpoint`: their outputs, one string each.
static zlistx_t *s_read_all(const char *endpoint, const read_t *reads, size_t count) {
    zlistx_t *outputs = zlistx_new();
    zlistx_set_destructor(outputs, (zlistx_destructor_fn *)zstr_free);
    for (size_t i = 0; i < count; i++) {
        const char *args[20] = {"--endpoint", endpoint, "--json"};
        size_t n = 3;
        for (size_t w = 0; reads[i].words[w]; w++)
            args[n++] = reads[i].words[w];
        run_t run = cli_run_argv(NULL, args);
        if (run.status != 0 && !(streq(reads[i].words[0], "prov") && run.status == 4))
            fprintf(stderr, "read %s %s: exit %d\n", reads[i].words[0], reads[i].words[1],
                    run.status);
        //  A filesystem namespace's folder is made anew in the new data dir.
        json_t *object = json_loads(run.out, 0, NULL);
        json_t *spaces = json_object_get(object, "namespaces");
        for (size_t k = 0; k < json_array_size(spaces); k++)
            if (json_object_get(json_array_get(spaces, k), "path"))
                json_object_set_new(json_array_get(spaces, k), "path", json_string("(folder)"));
        char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
        zlistx_add_end(outputs, zsys_sprintf("%d %s", run.status, text ? text : run.out));
        free(text);
        json_decref(object);
        cli_run_free(&run);
    }
    return outputs;
}

//  A content blob read back from the node is the file's bytes.
static void s_expect_blob(const char *endpoint, const char *dir, const char *hash,
                          const char *name) {
    char *out = zsys_sprintf("%s/%s.read", dir, name);
    char *original = zsys_sprintf("%s/%s", dir, name);
    cli_expect_ok(CAIRN(endpoint, "content", "get", hash, "-o", out), "");
    zfile_t *a = zfile_new(NULL, out), *b = zfile_new(NULL, original);
    CHECK(a && b && zfile_size(out) == zfile_size(original));
    CHECK(streq(zfile_digest(a), zfile_digest(b)));
    zfile_destroy(&a);
    zfile_destroy(&b);
    unlink(out);
    zstr_free(&out);
    zstr_free(&original);
}

//  An export's lines without its header, a filesystem namespace's path
//  taken out (it is made anew in the new data dir).
static zlistx_t *s_comparable(const char *path) {
    zlistx_t *lines = s_lines(path);
    zlistx_t *result = zlistx_new();
    zlistx_set_destructor(result, (zlistx_destructor_fn *)zstr_free);
    size_t number = 0;
    for (const char *line = (const char *)zlistx_first(lines); line;
         line = (const char *)zlistx_next(lines)) {
        if (number++ == 0)
            continue;
        json_t *object = json_loads(line, 0, NULL);
        CHECK(object);
        const char *table = json_string_value(json_object_get(object, "table"));
        json_t *row = json_object_get(object, "row");
        if (table && streq(table, "kv_namespaces") &&
            json_integer_value(json_object_get(row, "backend")) == 1) {
            const char *folder = json_string_value(json_object_get(row, "path"));
            CHECK(folder && strstr(folder, "/kv/"));
            json_object_del(row, "path");
        }
        zlistx_add_end(result, json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS));
        json_decref(object);
    }
    zlistx_destroy(&lines);
    return result;
}

static void test_round_trip(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    if (!redis)
        return;
    char *root = ca_test_tempdir("cairn-export");
    harness_node_t *first = harness_node_up_identity(NULL);
    CHECK(first);
    const char *e = harness_node_endpoint(first);
    s_fill(e, root, redis_server_port(redis));
    read_t reads[64];
    size_t count = s_reads(reads, 64);
    zlistx_t *before = s_read_all(e, reads, count);
    CHECK(harness_node_stop(first) == 0);

    //  Export; Redis loses everything; import into a new data dir.
    char *file = zsys_sprintf("%s/export.jsonl", root);
    char *second_dir = zsys_sprintf("%s/second", root);
    s_export(harness_node_data_dir(first), file, 0, "exported to", false);
    redis_server_kill(redis);
    CHECK(redis_server_restart(redis) == 0);
    s_import(second_dir, file, 0, "imported into");
    char *flag = zsys_sprintf("--data-dir=%s", second_dir);
    s_cairnd((const char *const[]){"check", flag, NULL}, 0, "is clean");
    zstr_free(&flag);

    //  Every store reads the same on the new node.
    harness_node_t *second = harness_node_start(second_dir, NULL);
    CHECK(second);
    const char *e2 = harness_node_endpoint(second);
    zlistx_t *after = s_read_all(e2, reads, count);
    CHECK(zlistx_size(before) == zlistx_size(after));
    const char *one = (const char *)zlistx_first(before);
    const char *two = (const char *)zlistx_first(after);
    for (size_t i = 0; one && two; i++) {
        if (!streq(one, two))
            fprintf(stderr, "read %s %s differs:\n  first:  %s\n  second: %s\n", reads[i].words[0],
                    reads[i].words[1], one, two);
        CHECK(streq(one, two));
        one = (const char *)zlistx_next(before);
        two = (const char *)zlistx_next(after);
    }
    s_expect_blob(e2, root, s_hash_small, "small");
    s_expect_blob(e2, root, s_hash_file, "file");
    s_expect_blob(e2, root, s_hash_big, "big");
    //  The new node takes writes on every backend.
    cli_expect_ok(CAIRN(e2, "kv", "put", "f", "new", "v"), "created");
    cli_expect_ok(CAIRN(e2, "kv", "delete", "f", "new"), "");
    cli_expect_ok(CAIRN(e2, "kv", "create", "after"), "");
    cli_expect_ok(CAIRN(e2, "kv", "drop", "after"), "");
    cli_expect_ok(CAIRN(e2, "msg", "search", "message"), "round trip");
    CHECK(harness_node_stop(second) == 0);

    //  Its export is the first one, but for the header and the folder of a
    //  filesystem namespace. (kv create/drop above moved sqlite_sequence:)
    char *again = zsys_sprintf("%s/again.jsonl", root);
    s_export(second_dir, again, 0, "exported to", false);
    zlistx_t *a = s_comparable(file), *b = s_comparable(again);
    CHECK(zlistx_size(a) == zlistx_size(b));
    const char *line_a = (const char *)zlistx_first(a);
    const char *line_b = (const char *)zlistx_first(b);
    size_t differ = 0;
    while (line_a && line_b) {
        if (!streq(line_a, line_b) && !strstr(line_a, "\"sqlite_sequence\"") &&
            !strstr(line_a, "\"end\"")) {
            fprintf(stderr, "export lines differ:\n  first:  %s\n  second: %s\n", line_a, line_b);
            differ++;
        }
        line_a = (const char *)zlistx_next(a);
        line_b = (const char *)zlistx_next(b);
    }
    CHECK(differ == 0);
    zlistx_destroy(&a);
    zlistx_destroy(&b);
    zlistx_destroy(&before);
    zlistx_destroy(&after);
    harness_node_destroy(&second);
    harness_node_destroy(&first);
    redis_server_destroy(&redis);
    ca_test_rmtree(root);
    zstr_free(&again);
    zstr_free(&second_dir);
    zstr_free(&file);
    zstr_free(&root);
}

//  ---- damaged and hostile input ------------------------------------------------------

//  A node with a little of everything that has a file: its stopped data dir.
static harness_node_t *s_small_node(const char *root) {
    harness_node_t *node = harness_node_up(NULL);
    CHECK(node);
    const char *e = harness_node_endpoint(node);
    cli_expect_ok(CAIRN(e, "channel", "create", "#bad", "--unsigned"), "created");
    cli_expect_ok(CAIRN(e, "msg", "send", "#bad", "text", "--signature-hex", SIG), "");
    char *file = s_blob_file(root, "file", 100 * 1024, 9);
    char *hash = s_first_line(CAIRN(e, "content", "put", file));
    zstr_free(&hash);
    zstr_free(&file);
    cli_expect_ok(CAIRN(e, "kv", "create", "f", "--backend", "filesystem"), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "f", "k", "v"), "");
    cli_expect_ok(CAIRN(e, "config", "set", "nul", "v"), "");
    CHECK(harness_node_stop(node) == 0);
    return node;
}

//  `lines` with the line holding `marker` replaced by `with` (NULL:
//  removed), written to root/name; its path (caller frees).
static char *s_variant(const char *root, zlistx_t *lines, const char *name, const char *marker,
                       const char *with) {
    char *path = zsys_sprintf("%s/%s", root, name);
    FILE *file = fopen(path, "w");
    CHECK(file);
    bool replaced = false;
    for (const char *line = (const char *)zlistx_first(lines); line && file;
         line = (const char *)zlistx_next(lines))
        if (!replaced && strstr(line, marker)) {
            replaced = true;
            if (with)
                fprintf(file, "%s\n", with);
        } else
            fprintf(file, "%s\n", line);
    CHECK(replaced);
    if (file)
        CHECK(fclose(file) == 0);
    return path;
}

//  Nothing installed: no target, no staging directory beside it.
static void s_nothing_installed(const char *root, const char *target) {
    struct stat info;
    CHECK(stat(target, &info) != 0);
    zdir_t *dir = zdir_new(root, NULL);
    zfile_t **files = dir ? zdir_flatten(dir) : NULL;
    for (size_t i = 0; files && files[i]; i++)
        CHECK(!strstr(zfile_filename(files[i], NULL), ".import-"));
    zdir_flatten_free(&files);
    zdir_destroy(&dir);
}

//  `line` with its first `from` replaced by `to` (caller frees).
static char *s_replaced(const char *line, const char *from, const char *to) {
    const char *at = line ? strstr(line, from) : NULL;
    CHECK(at);
    if (!at)
        return strdup("");
    return zsys_sprintf("%.*s%s%s", (int)(at - line), line, to, at + strlen(from));
}

//  The first of `lines` holding `marker` (NULL: none).
static const char *s_line_with(zlistx_t *lines, const char *marker) {
    for (const char *line = (const char *)zlistx_first(lines); line;
         line = (const char *)zlistx_next(lines))
        if (strstr(line, marker))
            return line;
    return NULL;
}

//  No entry of `dir` whose name starts with `prefix`.
static void s_no_entry(const char *dir, const char *prefix) {
    char *pattern = zsys_sprintf("%s/%s*", dir, prefix);
    glob_t found;
    CHECK(glob(pattern, 0, NULL, &found) == GLOB_NOMATCH);
    globfree(&found);
    zstr_free(&pattern);
}

static void s_sql(const char *data_dir, const char *sql) {
    char *path = zsys_sprintf("%s/cairn.db", data_dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        CHECK(false);
    }
    sqlite3_free(error);
    sqlite3_close(db);
    zstr_free(&path);
}

//  A small node's stopped data dir, its export (file, lines) and a
//  target for imports, under root.
typedef struct {
    char *root;
    harness_node_t *node;
    char *file;
    char *target;
    zlistx_t *lines;
} fixture_t;

static fixture_t s_fixture_up(const char *name) {
    fixture_t f = {.root = ca_test_tempdir(name)};
    f.node = s_small_node(f.root);
    f.file = zsys_sprintf("%s/good.jsonl", f.root);
    f.target = zsys_sprintf("%s/target", f.root);
    s_export(harness_node_data_dir(f.node), f.file, 0, "exported to", false);
    f.lines = s_lines(f.file);
    CHECK(zlistx_size(f.lines) > 5);
    return f;
}

static void s_fixture_down(fixture_t *f) {
    harness_node_destroy(&f->node);
    zlistx_destroy(&f->lines);
    ca_test_rmtree(f->root);
    zstr_free(&f->target);
    zstr_free(&f->file);
    zstr_free(&f->root);
}

//  Hostile names, malformed lines, NUL in text, and what an export leaves
//  when it fails (the file as it was) or succeeds (a private file).
static void test_hostile(void) {
    fixture_t f = s_fixture_up("cairn-export-hostile");
    const char *data_dir = harness_node_data_dir(f.node);
    const char *root = f.root, *file = f.file, *target = f.target;
    zlistx_t *lines = f.lines;
    struct stat info;
    CHECK(stat(file, &info) == 0 && (info.st_mode & 0777) == 0600);
    s_no_entry(root, "good.jsonl.tmp-");
    off_t exported = info.st_size;
    //  A namespace name that climbs out of the staging directory, or has a '/'.
    const char *row = s_line_with(lines, "\"table\":\"kv_namespaces\"");
    const char *names[] = {"../../escape", "a/b", ".hidden"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *name = zsys_sprintf("\"name\":\"%s\"", names[i]);
        char *with = s_replaced(row, "\"name\":\"f\"", name);
        char *path = s_variant(root, lines, "names", "\"table\":\"kv_namespaces\"", with);
        s_import(target, path, 1, "is refused");
        s_nothing_installed(root, target);
        zstr_free(&path);
        zstr_free(&with);
        zstr_free(&name);
    }
    s_no_entry(root, "escape");
    //  A table that is not a string.
    char *path = s_variant(root, lines, "table-number", "\"table\":\"channels\"",
                           "{\"table\":1,\"row\":{}}");
    s_import(target, path, 1, "\"table\" must be a string");
    zstr_free(&path);
    //  A line longer than any export line: named as such.
    path = zsys_sprintf("%s/long", root);
    FILE *long_file = fopen(path, "w");
    CHECK(long_file);
    if (long_file) {
        fprintf(long_file, "%s\n{\"table\":\"", (const char *)zlistx_first(lines));
        for (size_t i = 0; i < 64 * 1024 * 1024 + 16; i++)
            fputc('x', long_file);
        fputs("\"}\n", long_file);
        CHECK(fclose(long_file) == 0);
    }
    s_import(target, path, 1, "longer than 67108864 bytes, the longest line an export has");
    s_nothing_installed(root, target);
    zstr_free(&path);
    //  NUL in a TEXT value (a config key) travels as \u0000 both ways.
    char *with = s_replaced(s_line_with(lines, "\"key\":\"nul\""), "\"nul\"", "\"a\\u0000b\"");
    path = s_variant(root, lines, "nul", "\"key\":\"nul\"", with);
    s_import(target, path, 0, "imported into");
    char *again = zsys_sprintf("%s/again.jsonl", root);
    s_export(target, again, 0, "exported to", false);
    zlistx_t *read = s_lines(again);
    CHECK(s_line_with(read, "\"a\\u0000b\""));
    zlistx_destroy(&read);
    zstr_free(&again);
    zstr_free(&path);
    zstr_free(&with);
    //  An index row whose hash is not 32 bytes fails the export; the file
    //  it would have replaced is left as it was.
    s_sql(data_dir, "PRAGMA ignore_check_constraints = ON; INSERT INTO content_blobs VALUES "
                    "(x'0102', 1, 0)");
    s_export(data_dir, file, 1, "hash is not 32 bytes: run `cairnd check`", false);
    CHECK(stat(file, &info) == 0 && info.st_size == exported);
    s_sql(data_dir, "DELETE FROM content_blobs WHERE hash = x'0102'");
    //  A value whose line would be longer than import reads fails the export.
    char *pattern = zsys_sprintf("%s/kv/f-*/data", data_dir);
    glob_t found;
    CHECK(glob(pattern, 0, NULL, &found) == 0 && found.gl_pathc == 1);
    if (found.gl_pathc == 1) {
        char *big = s_blob_file(found.gl_pathv[0], "big", 49 * 1024 * 1024, 5);
        s_export(data_dir, file, 1, "kv namespace 'f': a line of", false);
        CHECK(stat(file, &info) == 0 && info.st_size == exported);
        CHECK(unlink(big) == 0);
        zstr_free(&big);
    }
    globfree(&found);
    zstr_free(&pattern);
    s_no_entry(root, "good.jsonl.tmp-");
    s_fixture_down(&f);
}

static void test_bad_input(void) {
    fixture_t f = s_fixture_up("cairn-export-bad");
    const char *data_dir = harness_node_data_dir(f.node);
    const char *root = f.root, *file = f.file, *target = f.target;
    zlistx_t *lines = f.lines;

    //  Truncated: without its end line; cut inside a line.
    char *path = s_variant(root, lines, "truncated", "\"end\":true", NULL);
    s_import(target, path, 1, "it is truncated");
    s_nothing_installed(root, target);
    zstr_free(&path);
    struct stat info;
    CHECK(stat(file, &info) == 0);
    path = zsys_sprintf("%s/cut", root);
    zfile_t *whole = zfile_new(NULL, file);
    CHECK(zfile_input(whole) == 0);
    zchunk_t *bytes = zfile_read(whole, (size_t)info.st_size - 10, 0);
    s_write_file(path, zchunk_data(bytes), zchunk_size(bytes));
    zchunk_destroy(&bytes);
    zfile_destroy(&whole);
    s_import(target, path, 1, "ends inside this line");
    s_nothing_installed(root, target);
    zstr_free(&path);
    //  A corrupted line; a row too many (the counts differ).
    path = s_variant(root, lines, "corrupted", "\"table\":\"channels\"", "{\"table\":\"chan");
    s_import(target, path, 1, "not a JSON object");
    zstr_free(&path);
    const char *channel = NULL;
    for (const char *line = (const char *)zlistx_first(lines); line && !channel;
         line = (const char *)zlistx_next(lines))
        if (strstr(line, "\"table\":\"channels\""))
            channel = line;
    CHECK(channel);
    char *extra = zsys_sprintf(
        "%s\n{\"table\":\"config\",\"row\":{\"key\":\"x\",\"value\":\"y\",\"updated_at\":1}}",
        channel);
    path = s_variant(root, lines, "extra", "\"table\":\"channels\"", extra);
    s_import(target, path, 1, "the end line counts");
    zstr_free(&path);
    zstr_free(&extra);
    //  A table this cairnd does not import; SQL in a column name.
    path = s_variant(root, lines, "schema-table", "\"table\":\"channels\"",
                     "{\"table\":\"schema_version\",\"row\":{\"store\":\"x\",\"version\":9}}");
    s_import(target, path, 1, "not a table this cairnd imports");
    zstr_free(&path);
    path = s_variant(root, lines, "column", "\"table\":\"channels\"",
                     "{\"table\":\"channels\",\"row\":{\"name\\\") VALUES (1); DROP TABLE "
                     "peers; --\":1}}");
    s_import(target, path, 1, "cannot insert into channels");
    zstr_free(&path);
    s_nothing_installed(root, target);
    //  Unknown format version; an unknown schema version; not an export.
    const char *header = (const char *)zlistx_first(lines);
    char *other = strdup(header);
    char *at = strstr(other, "\"version\":1");
    CHECK(at);
    if (at)
        at[10] = '7';
    path = s_variant(root, lines, "version", "\"format\"", other);
    s_import(target, path, 2, "format version 7 is not");
    zstr_free(&path);
    zstr_free(&other);
    other = strdup(header);
    at = strstr(other, "\"messages\":");
    CHECK(at);
    if (at)
        at[11] = '9';
    path = s_variant(root, lines, "schema", "\"format\"", other);
    s_import(target, path, 2, "store 'messages' is at schema version");
    zstr_free(&path);
    zstr_free(&other);
    path = s_variant(root, lines, "not-export", "\"format\"", "{\"hello\":1}");
    s_import(target, path, 1, "not a cairn export");
    zstr_free(&path);
    s_nothing_installed(root, target);
    //  A content chunk changed (valid base64, other bytes): wrong hash.
    char *chunk = NULL;
    for (const char *line = (const char *)zlistx_first(lines); line && !chunk;
         line = (const char *)zlistx_next(lines))
        if (strncmp(line, "{\"chunk\":\"", 10) == 0)
            chunk = strdup(line);
    CHECK(chunk);
    if (chunk) {
        char *marker = strndup(chunk, 40);
        chunk[20] = chunk[20] == 'A' ? 'B' : 'A';
        path = s_variant(root, lines, "hash", marker, chunk);
        s_import(target, path, 1, "do not hash to its name");
        zstr_free(&path);
        zstr_free(&marker);
        zstr_free(&chunk);
    }
    s_nothing_installed(root, target);
    //  Path tricks in a filesystem namespace's keys.
    const char *tricks[] = {"../../../escaped", "/etc/escaped", "a/../../escaped", "a//b"};
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        char *line = zsys_sprintf("{\"kv\":\"f\",\"key\":\"%s\",\"value\":\"eA==\"}", tricks[i]);
        path = s_variant(root, lines, "tricks", "\"kv\":\"f\"", line);
        s_import(target, path, 1, "is refused");
        zstr_free(&path);
        zstr_free(&line);
    }
    char *escaped = zsys_sprintf("%s/escaped", root);
    CHECK(stat(escaped, &info) != 0);
    zstr_free(&escaped);
    s_nothing_installed(root, target);
    //  A target that is not empty is refused and left alone.
    CHECK(mkdir(target, 0700) == 0);
    char *kept = zsys_sprintf("%s/kept", target);
    s_write_file(kept, "x", 1);
    s_import(target, file, 2, "is not empty");
    CHECK(stat(kept, &info) == 0 && info.st_size == 1);
    CHECK(unlink(kept) == 0);
    //  ... an empty one is taken.
    s_import(target, file, 0, "imported into");
    //  Unwritable output: no such folder, a full device; nothing left.
    char *nowhere = zsys_sprintf("%s/no/such/dir/out.jsonl", root);
    s_export(data_dir, nowhere, 1, "cannot create", false);
    s_export(data_dir, "/dev/full", 1, "cannot write", false);
    CHECK(stat("/dev/full", &info) == 0 && S_ISCHR(info.st_mode));
    zstr_free(&nowhere);
    //  To stdout ("-"), the summary on stderr.
    char *flag = zsys_sprintf("--data-dir=%s", data_dir);
    s_cairnd((const char *const[]){"export", "-", flag, NULL}, 0, "{\"format\":\"cairn-export\"");
    zstr_free(&flag);
    //  Usage: no file.
    s_cairnd((const char *const[]){"export", NULL}, 2, "need a file");
    //  A running node's data dir is refused (export a backup instead).
    CHECK(harness_node_restart(f.node) == 0);
    char *busy = zsys_sprintf("%s/busy.jsonl", root);
    s_export(data_dir, busy, 2, "cairn backup DIR", false);
    CHECK(stat(busy, &info) != 0);
    zstr_free(&busy);
    zstr_free(&kept);
    s_fixture_down(&f);
}

//  A Redis namespace whose server is gone: the export fails naming it,
//  unless --skip-redis; an import refuses a server already holding keys.
static void test_redis_down(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    if (!redis)
        return;
    char *root = ca_test_tempdir("cairn-export-redis");
    harness_node_t *node = harness_node_up(NULL);
    const char *e = harness_node_endpoint(node);
    char port[16];
    snprintf(port, sizeof port, "%d", redis_server_port(redis));
    cli_expect_ok(CAIRN(e, "kv", "create", "r", "--backend", "redis", "--port", port), "");
    cli_expect_ok(CAIRN(e, "kv", "put", "r", "k", "v"), "");
    CHECK(harness_node_stop(node) == 0);
    char *file = zsys_sprintf("%s/out.jsonl", root);
    char *target = zsys_sprintf("%s/target", root);
    //  The server still holds the keys: the import refuses to merge.
    s_export(harness_node_data_dir(node), file, 0, "exported to", false);
    s_import(target, file, 1, "already holds 1 key");
    s_nothing_installed(root, target);
    redis_server_kill(redis);
    struct stat info;
    CHECK(stat(file, &info) == 0);
    off_t exported = info.st_size;
    s_export(harness_node_data_dir(node), file, 1, "kv namespace 'r'", false);
    //  The failed export left the file it would have replaced as it was.
    CHECK(stat(file, &info) == 0 && info.st_size == exported);
    s_export(harness_node_data_dir(node), file, 0, "left out (--skip-redis)", true);
    s_import(target, file, 1, "kv namespace 'r' (redis)");
    char *flag = zsys_sprintf("--data-dir=%s", target);
    s_cairnd((const char *const[]){"import", file, flag, "--skip-redis", NULL}, 0,
             "warning: the file holds no keys of Redis namespace 'r'");
    CHECK(stat(target, &info) == 0 && S_ISDIR(info.st_mode));
    zstr_free(&flag);
    harness_node_destroy(&node);
    redis_server_destroy(&redis);
    ca_test_rmtree(root);
    zstr_free(&target);
    zstr_free(&file);
    zstr_free(&root);
}

static const harness_test_t s_tests[] = {
    {"round_trip", test_round_trip},
    {"bad_input", test_bad_input},
    {"hostile", test_hostile},
    {"redis_down", test_redis_down},
};

int main(int argc, char **argv) {
    int rc = harness_main(argc, argv, "e2e.export", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-export: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

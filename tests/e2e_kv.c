/*  =========================================================================
    e2e_kv - black-box tests of the kv store on its three backends
    (schemas/kv.proto): SQLite, a folder of files, and a real redis-server
    that each Redis test starts on a free loopback port (tests/kit/
    redis_server.h) and kills or restarts by its PID

        e2e-kv TEST      runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir
    and talks to it only through its ZeroMQ endpoint.
    ========================================================================= */

#include "harness.h"
#include "ca_testbed.h"
#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK HARNESS_CHECK

enum { SQLITE = 0, FILESYSTEM = 1, REDIS = 2, BACKENDS = 3 };
static const char *const s_backend_names[BACKENDS] = {"sqlite", "filesystem", "redis"};

//  ---- requests ---------------------------------------------------------------------

static Cairn__Response *s_call(zsock_t *client, Cairn__Request__BodyCase kind, void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = kind;
    request.kv_store = body; //  every member of the body oneof is at the same place
    return harness_request(client, &request);
}

//  Redis settings of the test's server (port 0: none).
static Cairn__KvRedis s_redis_settings(redis_server_t *redis, const char *prefix) {
    Cairn__KvRedis settings = CAIRN__KV_REDIS__INIT;
    settings.host = "127.0.0.1";
    settings.port = redis ? (uint32_t)redis_server_port(redis) : 0;
    settings.prefix = (char *)prefix;
    return settings;
}

static Cairn__Response *s_create(zsock_t *client, const char *name, int backend,
                                 Cairn__KvRedis *redis) {
    Cairn__KvNamespaceCreate create = CAIRN__KV_NAMESPACE_CREATE__INIT;
    create.namespace_ = (char *)name;
    create.backend = (Cairn__KvBackend)backend;
    create.redis = backend == REDIS ? redis : NULL;
    return s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE, &create);
}

//  Creates `name` on `backend` (Redis: under prefix "<name>:"); returns the
//  folder of a filesystem namespace (caller frees) or NULL.
static char *s_create_ok(zsock_t *client, const char *name, int backend, redis_server_t *redis) {
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s:", name);
    Cairn__KvRedis settings = s_redis_settings(redis, prefix);
    Cairn__Response *response = harness_ok(s_create(client, name, backend, &settings),
                                           CAIRN__RESPONSE__BODY_KV_NAMESPACE_CREATE);
    Cairn__KvNamespace *ns = response->kv_namespace_create;
    CHECK(!strcmp(ns->namespace_, name) && (int)ns->backend == backend);
    char *path = backend == FILESYSTEM ? strdup(ns->path) : NULL;
    CHECK(backend != FILESYSTEM || (path && path[0] == '/'));
    CHECK(backend != REDIS || (ns->redis && !ns->redis->password[0]));
    cairn__response__free_unpacked(response, NULL);
    return path;
}

static Cairn__Response *s_store(zsock_t *client, const char *ns, const char *key, const void *value,
                                size_t size) {
    Cairn__KvStore put = CAIRN__KV_STORE__INIT;
    put.namespace_ = (char *)ns;
    put.key = (char *)key;
    put.value = (ProtobufCBinaryData){size, (uint8_t *)value};
    return s_call(client, CAIRN__REQUEST__BODY_KV_STORE, &put);
}

static bool s_store_ok(zsock_t *client, const char *ns, const char *key, const void *value,
                       size_t size) {
    Cairn__Response *response =
        harness_ok(s_store(client, ns, key, value, size), CAIRN__RESPONSE__BODY_KV_STORE);
    bool created = response->kv_store->created;
    cairn__response__free_unpacked(response, NULL);
    return created;
}

static Cairn__Response *s_retrieve(zsock_t *client, const char *ns, const char *key) {
    Cairn__KvRetrieve get = CAIRN__KV_RETRIEVE__INIT;
    get.namespace_ = (char *)ns;
    get.key = (char *)key;
    return s_call(client, CAIRN__REQUEST__BODY_KV_RETRIEVE, &get);
}

static void s_retrieve_is(zsock_t *client, const char *ns, const char *key, const void *value,
                          size_t size) {
    Cairn__Response *response =
        harness_ok(s_retrieve(client, ns, key), CAIRN__RESPONSE__BODY_KV_RETRIEVE);
    CHECK(response->kv_retrieve->value.len == size);
    CHECK(size == 0 || memcmp(response->kv_retrieve->value.data, value, size) == 0);
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_key_request(zsock_t *client, Cairn__Request__BodyCase kind,
                                      const char *ns, const char *key) {
    Cairn__KvDelete body = CAIRN__KV_DELETE__INIT; //  same layout as KvExists
    Cairn__KvExists exists = CAIRN__KV_EXISTS__INIT;
    if (kind == CAIRN__REQUEST__BODY_KV_EXISTS) {
        exists.namespace_ = (char *)ns;
        exists.key = (char *)key;
        return s_call(client, kind, &exists);
    }
    body.namespace_ = (char *)ns;
    body.key = (char *)key;
    return s_call(client, kind, &body);
}

static bool s_exists(zsock_t *client, const char *ns, const char *key) {
    Cairn__Response *response =
        harness_ok(s_key_request(client, CAIRN__REQUEST__BODY_KV_EXISTS, ns, key),
                   CAIRN__RESPONSE__BODY_KV_EXISTS);
    bool exists = response->kv_exists->exists;
    cairn__response__free_unpacked(response, NULL);
    return exists;
}

static uint64_t s_count(Cairn__Response *response, Cairn__Response__BodyCase body) {
    harness_ok(response, body);
    uint64_t count = response->kv_delete->count; //  a Deleted, whatever the member
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static uint64_t s_delete(zsock_t *client, const char *ns, const char *key) {
    return s_count(s_key_request(client, CAIRN__REQUEST__BODY_KV_DELETE, ns, key),
                   CAIRN__RESPONSE__BODY_KV_DELETE);
}

static uint64_t s_clear(zsock_t *client, const char *ns) {
    Cairn__KvClear clear = CAIRN__KV_CLEAR__INIT;
    clear.namespace_ = (char *)ns;
    return s_count(s_call(client, CAIRN__REQUEST__BODY_KV_CLEAR, &clear),
                   CAIRN__RESPONSE__BODY_KV_CLEAR);
}

static uint64_t s_drop(zsock_t *client, const char *ns) {
    Cairn__KvNamespaceDrop drop = CAIRN__KV_NAMESPACE_DROP__INIT;
    drop.namespace_ = (char *)ns;
    return s_count(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_DROP, &drop),
                   CAIRN__RESPONSE__BODY_KV_NAMESPACE_DROP);
}

static Cairn__Response *s_list(zsock_t *client, const char *ns, const char *prefix,
                               const char *after, uint32_t limit) {
    Cairn__KvList list = CAIRN__KV_LIST__INIT;
    list.namespace_ = (char *)ns;
    list.prefix = (char *)prefix;
    list.after = (char *)after;
    list.limit = limit;
    return s_call(client, CAIRN__REQUEST__BODY_KV_LIST, &list);
}

//  Every key with `prefix`, paging by `limit`, joined by spaces.
static void s_list_all(zsock_t *client, const char *ns, const char *prefix, uint32_t limit,
                       char *out, size_t size) {
    char after[1100] = "";
    out[0] = 0;
    for (int page = 0; page < 100000; page++) {
        Cairn__Response *response =
            harness_ok(s_list(client, ns, prefix, after, limit), CAIRN__RESPONSE__BODY_KV_LIST);
        Cairn__KvKeys *keys = response->kv_list;
        CHECK(keys->n_keys <= limit);
        for (size_t i = 0; i < keys->n_keys; i++) {
            CHECK(strcmp(keys->keys[i], after) > 0); //  sorted, after the cursor
            snprintf(after, sizeof after, "%s", keys->keys[i]);
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%s%s", used ? " " : "", keys->keys[i]);
        }
        bool more = keys->more;
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            return;
    }
    CHECK(!"list did not end");
}

static void s_stats_are(zsock_t *client, const char *ns, uint64_t keys, uint64_t bytes) {
    Cairn__KvNamespaceStats stats = CAIRN__KV_NAMESPACE_STATS__INIT;
    stats.namespace_ = (char *)ns;
    Cairn__Response *response =
        harness_ok(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_STATS, &stats),
                   CAIRN__RESPONSE__BODY_KV_NAMESPACE_STATS);
    CHECK(response->kv_namespace_stats->keys == keys);
    CHECK(response->kv_namespace_stats->bytes == bytes);
    CHECK(!strcmp(response->kv_namespace_stats->namespace_->namespace_, ns));
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_clone(zsock_t *client, const char *from, const char *to, int backend,
                                Cairn__KvRedis *redis) {
    Cairn__KvClone clone = CAIRN__KV_CLONE__INIT;
    clone.namespace_ = (char *)from;
    clone.target = (char *)to;
    clone.backend = (Cairn__KvBackend)backend;
    clone.redis = backend == REDIS ? redis : NULL;
    return s_call(client, CAIRN__REQUEST__BODY_KV_CLONE, &clone);
}

//  ---- every request on every backend ----------------------------------------------

static void s_requests(int backend) {
    redis_server_t *redis = NULL;
    if (backend == REDIS) {
        redis = redis_server_start(NULL);
        CHECK(redis);
    }
    HARNESS_SESSION_UP(NULL);
    char *path = s_create_ok(client, "n1", backend, redis);
    harness_fails(s_create(client, "n1", SQLITE, NULL), CAIRN__STATUS__CONFLICT, "exists");

    //  store / retrieve / exists / replace, binary and empty values.
    const uint8_t binary[] = {0, 1, 2, 0xff, 0, 0x80};
    CHECK(s_store_ok(client, "n1", "a/1", binary, sizeof binary));
    CHECK(!s_store_ok(client, "n1", "a/1", "one", 3));
    s_retrieve_is(client, "n1", "a/1", "one", 3);
    CHECK(s_store_ok(client, "n1", "a/2", binary, sizeof binary));
    s_retrieve_is(client, "n1", "a/2", binary, sizeof binary);
    CHECK(s_store_ok(client, "n1", "empty", "", 0));
    s_retrieve_is(client, "n1", "empty", "", 0);
    harness_fails(s_retrieve(client, "n1", "missing"), CAIRN__STATUS__NOT_FOUND, "no value");
    harness_fails(s_retrieve(client, "n1", "a"), CAIRN__STATUS__NOT_FOUND, NULL);
    harness_fails(s_retrieve(client, "nope", "a"), CAIRN__STATUS__NOT_FOUND, "no namespace");
    CHECK(s_exists(client, "n1", "a/1") && !s_exists(client, "n1", "a/3") &&
          !s_exists(client, "n1", "missing/deeper"));

    //  list: sorted by bytes, paged, by prefix.
    const char *more[] = {"a/3", "a/4", "a/5", "b", "a0", "a/sub/x"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        CHECK(s_store_ok(client, "n1", more[i], more[i], strlen(more[i])));
    char keys[4096];
    s_list_all(client, "n1", "", 2, keys, sizeof keys);
    CHECK(!strcmp(keys, "a/1 a/2 a/3 a/4 a/5 a/sub/x a0 b empty"));
    s_list_all(client, "n1", "a/", 3, keys, sizeof keys);
    CHECK(!strcmp(keys, "a/1 a/2 a/3 a/4 a/5 a/sub/x"));
    s_list_all(client, "n1", "a/s", 1000, keys, sizeof keys);
    CHECK(!strcmp(keys, "a/sub/x"));
    s_list_all(client, "n1", "zz", 10, keys, sizeof keys);
    CHECK(!strcmp(keys, ""));

    //  stats, delete, clear.
    s_stats_are(client, "n1", 9, 3 + 6 + 0 + 3 + 3 + 3 + 1 + 2 + 7);
    CHECK(s_delete(client, "n1", "a/sub/x") == 1);
    CHECK(s_delete(client, "n1", "a/sub/x") == 0);
    CHECK(s_delete(client, "n1", "never") == 0);
    CHECK(!s_exists(client, "n1", "a/sub/x"));
    if (backend == FILESYSTEM) {
        //  The folder a/sub went with its last key.
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/data/a/sub", path);
        struct stat st;
        CHECK(stat(sub, &st) != 0 && errno == ENOENT);
    }
    CHECK(s_clear(client, "n1") == 8);
    s_list_all(client, "n1", "", 10, keys, sizeof keys);
    CHECK(!strcmp(keys, ""));
    s_stats_are(client, "n1", 0, 0);

    //  namespace list and drop.
    s_create_ok(client, "n0", SQLITE, NULL);
    Cairn__KvNamespaceList list = CAIRN__KV_NAMESPACE_LIST__INIT;
    list.limit = 1;
    Cairn__Response *response =
        harness_ok(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_LIST, &list),
                   CAIRN__RESPONSE__BODY_KV_NAMESPACE_LIST);
    CHECK(response->kv_namespace_list->n_namespaces == 1 && response->kv_namespace_list->more);
    CHECK(!strcmp(response->kv_namespace_list->namespaces[0]->namespace_, "n0"));
    cairn__response__free_unpacked(response, NULL);
    list.after = "n0";
    response = harness_ok(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_LIST, &list),
                          CAIRN__RESPONSE__BODY_KV_NAMESPACE_LIST);
    CHECK(response->kv_namespace_list->n_namespaces == 1 && !response->kv_namespace_list->more);
    CHECK((int)response->kv_namespace_list->namespaces[0]->backend == backend);
    cairn__response__free_unpacked(response, NULL);

    CHECK(s_store_ok(client, "n1", "x/y", "v", 1));
    CHECK(s_store_ok(client, "n1", "z", "v", 1));
    CHECK(s_drop(client, "n1") == 2);
    harness_fails(s_retrieve(client, "n1", "z"), CAIRN__STATUS__NOT_FOUND, "no namespace");
    if (path) {
        struct stat st;
        CHECK(stat(path, &st) != 0 && errno == ENOENT);
    }
    //  A new namespace of the same name starts empty.
    free(s_create_ok(client, "n1", backend, redis));
    harness_fails(s_retrieve(client, "n1", "z"), CAIRN__STATUS__NOT_FOUND, "no value");
    free(path);
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

static void test_requests_sqlite(void) {
    s_requests(SQLITE);
}
static void test_requests_filesystem(void) {
    s_requests(FILESYSTEM);
}
static void test_requests_redis(void) {
    s_requests(REDIS);
}

//  ---- bad keys on every backend -------------------------------------------------------

//  A KvStore frame built by hand (protobuf-c strings cannot hold a NUL):
//  Request{id 9, kv_store{namespace, key (with a NUL), value "x"}}.
static void s_store_nul_key(zsock_t *client, const char *ns) {
    uint8_t body[64], frame[80];
    size_t n = 0, ns_length = strlen(ns);
    body[n++] = 0x0a;
    body[n++] = (uint8_t)ns_length;
    memcpy(body + n, ns, ns_length);
    n += ns_length;
    const uint8_t key[] = {0x12, 0x03, 'a', 0x00, 'b', 0x1a, 0x01, 'x'};
    memcpy(body + n, key, sizeof key);
    n += sizeof key;
    size_t f = 0;
    frame[f++] = 0x08;
    frame[f++] = 0x09;
    frame[f++] = 0xd2; //  field 1610, length-delimited: (1610 << 3) | 2 = 0x3252
    frame[f++] = 0x64;
    frame[f++] = (uint8_t)n;
    memcpy(frame + f, body, n);
    f += n;
    harness_fails_raw(client, frame, f, 9, "NUL");
}

static void test_bad_keys(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    HARNESS_SESSION_UP(NULL);
    char long_key[1100], long_segment[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    memset(long_segment, 's', sizeof long_segment - 1);
    long_segment[sizeof long_segment - 1] = 0;
    const char *bad[] = {"",     "/etc/passwd", "../x",   "a/../../x", "a/..",
                         "..",   ".",           "a/./b",  "a//b",      "a/",
                         "a\nb", "a\x01",       long_key, long_segment};
    for (int backend = 0; backend < BACKENDS; backend++) {
        const char *ns = s_backend_names[backend];
        char *path = s_create_ok(client, ns, backend, redis);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            harness_fails(s_store(client, ns, bad[i], "x", 1), CAIRN__STATUS__INVALID, "key");
            harness_fails(s_retrieve(client, ns, bad[i]), CAIRN__STATUS__INVALID, "key");
            harness_fails(s_key_request(client, CAIRN__REQUEST__BODY_KV_DELETE, ns, bad[i]),
                          CAIRN__STATUS__INVALID, "key");
            harness_fails(s_key_request(client, CAIRN__REQUEST__BODY_KV_EXISTS, ns, bad[i]),
                          CAIRN__STATUS__INVALID, "key");
        }
        s_store_nul_key(client, ns);
        //  Keys that look odd but are fine, the same on every backend.
        CHECK(s_store_ok(client, ns, "..a/b..", "1", 1));
        CHECK(s_store_ok(client, ns, ".hidden", "2", 1));
        s_stats_are(client, ns, 2, 2);
        if (backend == FILESYSTEM) {
            //  A value where a folder must be, and the reverse: CONFLICT.
            harness_fails(s_store(client, ns, ".hidden/x", "3", 1), CAIRN__STATUS__CONFLICT,
                          "holds a value");
            harness_fails(s_store(client, ns, "..a", "3", 1), CAIRN__STATUS__CONFLICT,
                          "keys under it");
            //  Nothing was written outside the folder's data/.
            char escaped[4200];
            snprintf(escaped, sizeof escaped, "%s/x", path);
            CHECK(access(escaped, F_OK) != 0);
        }
        free(path);
    }
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

//  Symbolic links planted in a filesystem namespace's folder are never
//  followed: not to read, not to write through a linked folder.
static void test_fs_symlink(void) {
    HARNESS_SESSION_UP(NULL);
    char *path = s_create_ok(client, "files", FILESYSTEM, NULL);
    char outside[4200], secret[4300], link[4300], dir_link[4300], planted[4300];
    snprintf(outside, sizeof outside, "%s/outside", harness_node_data_dir(node));
    CHECK(mkdir(outside, 0700) == 0);
    snprintf(secret, sizeof secret, "%s/secret", outside);
    FILE *file = fopen(secret, "w");
    CHECK(file && fputs("secret", file) >= 0 && fclose(file) == 0);
    snprintf(link, sizeof link, "%s/data/link", path);
    CHECK(symlink(secret, link) == 0);
    snprintf(dir_link, sizeof dir_link, "%s/data/dir", path);
    CHECK(symlink(outside, dir_link) == 0);

    harness_fails(s_retrieve(client, "files", "link"), CAIRN__STATUS__CONFLICT, "symbolic link");
    harness_fails(s_retrieve(client, "files", "dir/secret"), CAIRN__STATUS__CONFLICT,
                  "symbolic link");
    CHECK(!s_exists(client, "files", "link"));
    harness_fails(s_store(client, "files", "dir/planted", "x", 1), CAIRN__STATUS__CONFLICT,
                  "symbolic link");
    snprintf(planted, sizeof planted, "%s/planted", outside);
    CHECK(access(planted, F_OK) != 0);
    //  A store over the link replaces the link itself; the target is untouched.
    CHECK(s_store_ok(client, "files", "link", "mine", 4));
    s_retrieve_is(client, "files", "link", "mine", 4);
    char buffer[16] = "";
    file = fopen(secret, "r");
    CHECK(file && fgets(buffer, sizeof buffer, file) && fclose(file) == 0);
    CHECK(!strcmp(buffer, "secret"));
    //  Lists and stats skip links; clear and drop remove them, never their targets.
    char keys[256];
    s_list_all(client, "files", "", 10, keys, sizeof keys);
    CHECK(!strcmp(keys, "link"));
    CHECK(s_clear(client, "files") == 1);
    CHECK(s_drop(client, "files") == 0);
    CHECK(access(secret, F_OK) == 0);
    free(path);
    harness_session_down(&caller, &client, &node);
}

//  A filesystem namespace whose folder was removed by hand: its requests
//  say so, and it can still be dropped.
static void test_fs_folder_lost(void) {
    HARNESS_SESSION_UP(NULL);
    char *path = s_create_ok(client, "lost", FILESYSTEM, NULL);
    CHECK(s_store_ok(client, "lost", "k", "v", 1));
    ca_test_rmtree(path);
    harness_fails(s_retrieve(client, "lost", "k"), CAIRN__STATUS__INTERNAL, "drop the namespace");
    CHECK(s_drop(client, "lost") == 0);
    free(s_create_ok(client, "lost", FILESYSTEM, NULL));
    harness_fails(s_retrieve(client, "lost", "k"), CAIRN__STATUS__NOT_FOUND, "no value");
    free(path);
    harness_session_down(&caller, &client, &node);
}

//  A folder no namespace row names (a create or clone a crash cut short)
//  is removed at the next start; the namespaces' own folders stay.
static void test_fs_orphan_swept(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    char *kept = s_create_ok(client, "kept", FILESYSTEM, NULL);
    CHECK(s_store_ok(client, "kept", "k", "v", 1));
    char *orphan = zsys_sprintf("%s/kv/ghost-0011223344556677", harness_node_data_dir(node));
    char *inner = zsys_sprintf("%s/data", orphan);
    char *file = zsys_sprintf("%s/k", inner);
    CHECK(mkdir(orphan, 0700) == 0 && mkdir(inner, 0700) == 0);
    FILE *stray = fopen(file, "w");
    CHECK(stray && fputs("half a clone", stray) >= 0 && fclose(stray) == 0);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    CHECK(harness_node_restart(node) == 0);
    client = harness_connect(harness_node_endpoint(node));
    CHECK(access(orphan, F_OK) != 0 && errno == ENOENT);
    CHECK(access(kept, F_OK) == 0);
    CHECK(harness_node_log_has(node, "removed 1 namespace folder(s)"));
    Cairn__Response *response =
        harness_ok(s_retrieve(client, "kept", "k"), CAIRN__RESPONSE__BODY_KV_RETRIEVE);
    CHECK(response->kv_retrieve->value.len == 1);
    cairn__response__free_unpacked(response, NULL);
    zstr_free(&file);
    zstr_free(&inner);
    zstr_free(&orphan);
    free(kept);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  ---- Redis going away --------------------------------------------------------------------

static void test_redis_restart(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    HARNESS_SESSION_UP(NULL);
    s_create_ok(client, "r", REDIS, redis);
    s_create_ok(client, "s", SQLITE, NULL);
    CHECK(s_store_ok(client, "r", "k", "v1", 2));

    redis_server_kill(redis);
    //  Every request of the Redis namespace: UNAVAILABLE with the reason.
    harness_fails(s_store(client, "r", "k", "v2", 2), CAIRN__STATUS__UNAVAILABLE, "unavailable");
    harness_fails(s_retrieve(client, "r", "k"), CAIRN__STATUS__UNAVAILABLE, "127.0.0.1");
    harness_fails(s_list(client, "r", "", "", 0), CAIRN__STATUS__UNAVAILABLE, NULL);
    //  The other namespaces serve on.
    CHECK(s_store_ok(client, "s", "k", "v", 1));
    s_retrieve_is(client, "s", "k", "v", 1);

    CHECK(redis_server_restart(redis) == 0);
    //  Back by itself (the restarted server is empty: no persistence).
    CHECK(s_store_ok(client, "r", "k", "v3", 2));
    s_retrieve_is(client, "r", "k", "v3", 2);
    //  Killed again between two requests of a live connection, then back.
    redis_server_kill(redis);
    harness_fails(s_retrieve(client, "r", "k"), CAIRN__STATUS__UNAVAILABLE, NULL);
    CHECK(redis_server_restart(redis) == 0);
    harness_fails(s_retrieve(client, "r", "k"), CAIRN__STATUS__NOT_FOUND, NULL);
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

//  A server that stops answering (SIGSTOP: it still accepts connections):
//  the command timeout turns a request into UNAVAILABLE within seconds,
//  the other namespaces serve on, and it recovers after SIGCONT.
static void test_redis_stalled(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    HARNESS_SESSION_UP(NULL);
    s_create_ok(client, "r", REDIS, redis);
    s_create_ok(client, "s", SQLITE, NULL);
    CHECK(s_store_ok(client, "r", "k", "v1", 2));
    CHECK(kill(redis_server_pid(redis), SIGSTOP) == 0);
    int64_t start = zclock_mono();
    harness_fails(s_store(client, "r", "k", "v2", 2), CAIRN__STATUS__UNAVAILABLE, "unavailable");
    printf("   a stalled Redis answered UNAVAILABLE after %" PRId64 " ms\n", zclock_mono() - start);
    CHECK(s_store_ok(client, "s", "k", "v", 1));
    CHECK(kill(redis_server_pid(redis), SIGCONT) == 0);
    //  The SET that timed out may have been applied once Redis resumed.
    CHECK(s_store_ok(client, "r", "k2", "v3", 2));
    s_retrieve_is(client, "r", "k2", "v3", 2);
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

//  A server with a password: the wrong one is UNAUTHORIZED at create, the
//  right one works and is never answered.
static void test_redis_password(void) {
    redis_server_t *redis = redis_server_start("s3cret-pass");
    CHECK(redis);
    HARNESS_SESSION_UP(NULL);
    Cairn__KvRedis settings = s_redis_settings(redis, "p:");
    harness_fails(s_create(client, "p", REDIS, &settings), CAIRN__STATUS__UNAVAILABLE, NULL);
    settings.password = "wrong";
    harness_fails(s_create(client, "p", REDIS, &settings), CAIRN__STATUS__UNAUTHORIZED, "password");
    settings.password = "s3cret-pass";
    Cairn__Response *response = harness_ok(s_create(client, "p", REDIS, &settings),
                                           CAIRN__RESPONSE__BODY_KV_NAMESPACE_CREATE);
    CHECK(response->kv_namespace_create->redis->has_password);
    CHECK(!response->kv_namespace_create->redis->password[0]);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_store_ok(client, "p", "k", "v", 1));
    s_retrieve_is(client, "p", "k", "v", 1);
    CHECK(!harness_node_log_has(node, "s3cret-pass"));
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

//  ---- clone ------------------------------------------------------------------------------

static void test_clone_across(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    HARNESS_SESSION_UP(NULL);
    const char *keys[] = {"a/1", "a/2/x", "b", "c.d/e"};
    const uint8_t binary[] = {0, 0xff, 7};
    for (int from = 0; from < BACKENDS; from++) {
        char source[32];
        snprintf(source, sizeof source, "src-%s", s_backend_names[from]);
        free(s_create_ok(client, source, from, redis));
        for (size_t i = 0; i < 4; i++)
            CHECK(s_store_ok(client, source, keys[i], keys[i], strlen(keys[i])));
        CHECK(s_store_ok(client, source, "bin", binary, sizeof binary));
        for (int to = 0; to < BACKENDS; to++) {
            char target[64], prefix[80];
            snprintf(target, sizeof target, "%s-to-%s", source, s_backend_names[to]);
            snprintf(prefix, sizeof prefix, "%s:", target);
            Cairn__KvRedis settings = s_redis_settings(redis, prefix);
            Cairn__Response *response = harness_ok(s_clone(client, source, target, to, &settings),
                                                   CAIRN__RESPONSE__BODY_KV_CLONE);
            CHECK(response->kv_clone->keys == 5);
            CHECK(response->kv_clone->bytes == 3 + 5 + 1 + 5 + 3);
            CHECK((int)response->kv_clone->namespace_->backend == to);
            cairn__response__free_unpacked(response, NULL);
            for (size_t i = 0; i < 4; i++)
                s_retrieve_is(client, target, keys[i], keys[i], strlen(keys[i]));
            s_retrieve_is(client, target, "bin", binary, sizeof binary);
            //  The two are independent afterwards.
            CHECK(!s_store_ok(client, target, "b", "changed", 7));
            s_retrieve_is(client, source, "b", "b", 1);
            //  A clone onto an existing name: CONFLICT, the target untouched.
            harness_fails(s_clone(client, source, target, SQLITE, NULL), CAIRN__STATUS__CONFLICT,
                          "exists");
            s_retrieve_is(client, target, "b", "changed", 7);
        }
    }
    harness_fails(s_clone(client, "nope", "x", SQLITE, NULL), CAIRN__STATUS__NOT_FOUND,
                  "no namespace");
    //  A Redis target whose prefix already holds keys: CONFLICT, nothing registered.
    Cairn__KvRedis settings = s_redis_settings(redis, "src-redis:");
    harness_fails(s_clone(client, "src-sqlite", "again", REDIS, &settings), CAIRN__STATUS__CONFLICT,
                  "already start with");
    harness_fails(s_retrieve(client, "again", "b"), CAIRN__STATUS__NOT_FOUND, "no namespace");
    s_stats_are(client, "src-redis", 5, 17);
    harness_session_down(&caller, &client, &node);
    redis_server_destroy(&redis);
}

//  ---- bad input ------------------------------------------------------------------------

static void test_bad_input(void) {
    const char *args[] = {"--kv-max-value-bytes=1000", NULL};
    HARNESS_SESSION_UP(args);
    s_create_ok(client, "ok", SQLITE, NULL);
    //  Names.
    harness_fails(s_create(client, "", SQLITE, NULL), CAIRN__STATUS__INVALID, "missing");
    harness_fails(s_create(client, ".dot", SQLITE, NULL), CAIRN__STATUS__INVALID, "'.'");
    harness_fails(s_create(client, "a/b", SQLITE, NULL), CAIRN__STATUS__INVALID, "character");
    char long_name[70];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    harness_fails(s_create(client, long_name, SQLITE, NULL), CAIRN__STATUS__INVALID, "64");
    //  Backends and their settings.
    harness_fails(s_create(client, "x", 7, NULL), CAIRN__STATUS__INVALID, "unknown");
    harness_fails(s_create(client, "x", REDIS, NULL), CAIRN__STATUS__INVALID, "redis settings");
    Cairn__KvRedis settings = s_redis_settings(NULL, "p");
    settings.host = "";
    harness_fails(s_create(client, "x", REDIS, &settings), CAIRN__STATUS__INVALID, "host");
    settings.host = "127.0.0.1";
    settings.port = 70000;
    harness_fails(s_create(client, "x", REDIS, &settings), CAIRN__STATUS__INVALID, "65535");
    settings.port = (uint32_t)harness_free_port(); //  nobody listens there
    harness_fails(s_create(client, "x", REDIS, &settings), CAIRN__STATUS__UNAVAILABLE,
                  "unavailable");
    Cairn__KvNamespaceCreate create = CAIRN__KV_NAMESPACE_CREATE__INIT;
    create.namespace_ = "x";
    create.redis = &settings;
    harness_fails(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE, &create),
                  CAIRN__STATUS__INVALID, "non-redis");
    //  Missing fields, sizes, pages.
    harness_fails(s_store(client, "", "k", "v", 1), CAIRN__STATUS__INVALID, "namespace");
    harness_fails(s_store(client, "ok", "", "v", 1), CAIRN__STATUS__INVALID, "key is missing");
    static uint8_t big[1001];
    harness_fails(s_store(client, "ok", "k", big, sizeof big), CAIRN__STATUS__INVALID,
                  "kv_max_value_bytes");
    CHECK(s_store_ok(client, "ok", "k", big, 1000));
    harness_fails(s_list(client, "ok", "", "", 1001), CAIRN__STATUS__INVALID, "at most");
    harness_fails(s_clone(client, "ok", "", SQLITE, NULL), CAIRN__STATUS__INVALID, "target");
    harness_fails(s_clone(client, "ok", "ok", SQLITE, NULL), CAIRN__STATUS__CONFLICT, "exists");
    harness_fails(s_store(client, "unknown", "k", "v", 1), CAIRN__STATUS__NOT_FOUND,
                  "no namespace");
    Cairn__KvNamespaceDrop drop = CAIRN__KV_NAMESPACE_DROP__INIT;
    drop.namespace_ = "unknown";
    harness_fails(s_call(client, CAIRN__REQUEST__BODY_KV_NAMESPACE_DROP, &drop),
                  CAIRN__STATUS__NOT_FOUND, NULL);
    //  Malformed protobuf: a KvStore body cut short, and an unknown field.
    const uint8_t truncated[] = {0x08, 0x09, 0xd2, 0x64, 0x05, 0x0a, 0x02, 'o', 'k'};
    harness_fails_raw(client, truncated, sizeof truncated, 9, NULL);
    const uint8_t unknown[] = {0x08, 0x09, 0xd2, 0x64, 0x02, 0x48, 0x01};
    harness_fails_raw(client, unknown, sizeof unknown, 9, NULL);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

//  ---- kill -9 during writes, on each backend ----------------------------------------------

static void test_kill9(void) {
    redis_server_t *redis = redis_server_start(NULL);
    CHECK(redis);
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    for (int backend = 0; backend < BACKENDS; backend++)
        free(s_create_ok(client, s_backend_names[backend], backend, redis));
    enum { COUNT = 3000, WINDOW = 32, KILL_AFTER = 400 };
    uint64_t next_id = 1000;
    for (int backend = 0; backend < BACKENDS; backend++) {
        const char *ns = s_backend_names[backend];
        uint64_t sent = 0, acked = 0;
        while (acked < KILL_AFTER) {
            while (sent < COUNT && sent - acked < WINDOW) {
                char key[32], value[64];
                snprintf(key, sizeof key, "k/%06" PRIu64, sent);
                snprintf(value, sizeof value, "value of %" PRIu64, sent);
                Cairn__KvStore put = CAIRN__KV_STORE__INIT;
                put.namespace_ = (char *)ns;
                put.key = key;
                put.value = (ProtobufCBinaryData){strlen(value), (uint8_t *)value};
                Cairn__Request request = CAIRN__REQUEST__INIT;
                request.id = next_id++;
                request.body_case = CAIRN__REQUEST__BODY_KV_STORE;
                request.kv_store = &put;
                CHECK(harness_send(client, &request) == 0);
                sent++;
            }
            Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
            CHECK(response && response->status == CAIRN__STATUS__OK);
            acked++;
            cairn__response__free_unpacked(response, NULL);
        }
        harness_node_kill9(node);
        zsock_destroy(&client);
        CHECK(harness_node_restart(node) == 0);
        client = harness_connect(harness_node_endpoint(node));
        //  Every acknowledged write is there, whole.
        for (uint64_t i = 0; i < acked; i++) {
            char key[32], value[64];
            snprintf(key, sizeof key, "k/%06" PRIu64, i);
            snprintf(value, sizeof value, "value of %" PRIu64, i);
            s_retrieve_is(client, ns, key, value, strlen(value));
        }
        printf("   %s: acknowledged %" PRIu64 ", sent %" PRIu64 "\n", ns, acked, sent);
    }
    zsock_destroy(&client);
    harness_node_down(&node);
    redis_server_destroy(&redis);
}

//  SIGHUP applies kv_max_value_bytes on every kv worker at once (README:
//  Signals): a value over the limit the node started with is refused, and
//  once the file raises it and the node has reloaded, stored (several
//  keys, so that every worker of the pool is asked).
static void test_sighup_value_limit(void) {
    char *dir = ca_test_tempdir("cairn-e2e-kv-hup");
    char *path = zsys_sprintf("%s/cairn.cfg", dir);
    char *arg = zsys_sprintf("--config=%s", path);
    harness_write_file(path, "kv\n    max_value_bytes = 1024\n");
    const char *args[] = {arg, NULL};
    harness_node_t *node = harness_node_up(args);
    zsock_t *client = harness_node_connect(node);
    s_create_ok(client, "hup", SQLITE, NULL);
    static uint8_t value[4000];
    harness_fails(s_store(client, "hup", "before", value, sizeof value), CAIRN__STATUS__INVALID,
                  "over kv_max_value_bytes (1024)");
    harness_write_file(path, "kv\n    max_value_bytes = 8192\n");
    CHECK(kill(harness_node_pid(node), SIGHUP) == 0);
    CHECK(harness_node_wait_log(node, "SIGHUP: configuration reloaded", 10000));
    CHECK(harness_node_log_has(node, "SIGHUP: kv_max_value_bytes changed, applied"));
    for (int i = 0; i < 16; i++) {
        char key[16];
        snprintf(key, sizeof key, "after-%d", i);
        CHECK(s_store_ok(client, "hup", key, value, sizeof value));
    }
    zsock_destroy(&client);
    harness_node_down(&node);
    ca_test_rmtree(dir);
    zstr_free(&arg);
    zstr_free(&path);
    zstr_free(&dir);
}

static const harness_test_t s_tests[] = {
    {"requests_sqlite", test_requests_sqlite},
    {"requests_filesystem", test_requests_filesystem},
    {"requests_redis", test_requests_redis},
    {"bad_keys", test_bad_keys},
    {"fs_symlink", test_fs_symlink},
    {"fs_folder_lost", test_fs_folder_lost},
    {"fs_orphan_swept", test_fs_orphan_swept},
    {"redis_restart", test_redis_restart},
    {"sighup_value_limit", test_sighup_value_limit},
    {"redis_stalled", test_redis_stalled},
    {"redis_password", test_redis_password},
    {"clone_across", test_clone_across},
    {"bad_input", test_bad_input},
    {"kill9", test_kill9},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.kv", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

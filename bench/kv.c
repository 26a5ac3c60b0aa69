/*  =========================================================================
    kv - cairn-bench cases of the kv store: put and get on each backend,
    against the raw backend in the same run

        case                        versus                what
        --------------------------  --------------------  ---------------------------
        raw.kv_sqlite_put           -                     the store's UPSERT, batches
        node.kv_put_sqlite.pipelined raw.kv_sqlite_put     KvStore, a window
        raw.kv_sqlite_get           -                     the store's SELECT
        node.kv_get_sqlite.pipelined raw.kv_sqlite_get     KvRetrieve, a window
        raw.kv_fs_put               -                     write+fsync+rename+dir fsync
        node.kv_put_fs.pipelined     raw.kv_fs_put         KvStore, a window
        raw.kv_fs_get               -                     open+read of the value file
        node.kv_get_fs.pipelined     raw.kv_fs_get         KvRetrieve, a window
        raw.kv_redis_put            -                     hiredis SETs, pipelined
        node.kv_put_redis.pipelined  raw.kv_redis_put      KvStore, a window
        raw.kv_redis_get            -                     hiredis GETs, pipelined
        node.kv_get_redis.pipelined  raw.kv_redis_get      KvRetrieve, a window

    Values are VALUE_BYTES of the bench's pattern under KEYSPACE keys
    ("k/<n>"), so puts overwrite. The node's namespaces and the Redis server
    (tests/kit/redis_server, on a free loopback port) are made once, on
    first use, untimed; the get cases fill their keys first, untimed. The
    raw SQLite baseline runs the store's own statements (kv_sqlite.h) on
    its own tables in batches of SQLITE_BATCH rows (its best case); the raw
    file baseline does per put what the filesystem backend does; the raw
    Redis baseline pipelines the window's SETs in one write.
    ========================================================================= */

#include "bench.h"
#include "kv.h"
#include "kv_sqlite.h"
#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALUE_BYTES  100
#define KEYSPACE     10000
#define SQLITE_BATCH 1000
#define GET_KEYS     1000 //  keys the get cases read (filled first)

typedef struct {
    redis_server_t *redis;
    bool node_ready;
    bool filled[3]; //  per backend: the node's GET_KEYS keys are there
} bench_kv_t;

static bench_kv_t *s_state;

static const char *const s_ns[3] = {"bench-sqlite", "bench-fs", "bench-redis"};

static bench_kv_t *s_kv(void) {
    if (!s_state)
        s_state = (bench_kv_t *)calloc(1, sizeof *s_state);
    return s_state;
}

static redis_server_t *s_redis(void) {
    bench_kv_t *self = s_kv();
    if (self && !self->redis && redis_server_available())
        self->redis = redis_server_start(NULL);
    return self ? self->redis : NULL;
}

static void s_key(uint64_t n, char *key, size_t size) {
    snprintf(key, size, "k/%" PRIu64, n % KEYSPACE);
}

//  ---- raw SQLite -------------------------------------------------------------------

typedef struct {
    bench_t *bench;
    sqlite3 *db;
    sqlite3_stmt *put;
} sqlite_rows_t;

static int s_sqlite_rows(void *context, uint64_t first, uint64_t count) {
    sqlite_rows_t *rows = context;
    const uint8_t *value = bench_pattern(rows->bench, VALUE_BYTES);
    for (uint64_t i = first; i < first + count; i++) {
        char key[32];
        s_key(i, key, sizeof key);
        sqlite3_bind_int64(rows->put, 1, 1);
        sqlite3_bind_text(rows->put, 2, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(rows->put, 3, value, VALUE_BYTES, SQLITE_STATIC);
        if (bench_sqlite_step(rows->db, rows->put, "kv put") != 0)
            return -1;
    }
    return 0;
}

static sqlite3 *s_sqlite_open(char **dir) {
    *dir = ca_test_tempdir("cairn-bench-kv");
    sqlite3 *db = *dir ? bench_sqlite_open_schema(*dir, &kv_schema) : NULL;
    if (db && bench_sqlite_exec(db, "INSERT INTO kv_namespaces (id, name, backend, created_at)"
                                    " VALUES (1, 'raw', 0, 0)") != 0) {
        sqlite3_close(db);
        db = NULL;
    }
    return db;
}

static int s_run_raw_sqlite_put(bench_t *bench, result_t *result) {
    char *dir = NULL;
    sqlite_rows_t rows = {bench, s_sqlite_open(&dir), NULL};
    int rc = rows.db ? bench_sqlite_prepare(rows.db, kv_sqlite_put_sql, &rows.put) : -1;
    if (rc == 0)
        rc = bench_sqlite_batches(bench, result, rows.db, SQLITE_BATCH, s_sqlite_rows, &rows, 0);
    result->bytes = result->ok * VALUE_BYTES;
    sqlite3_finalize(rows.put);
    sqlite3_close(rows.db);
    if (dir)
        ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

static int s_run_raw_sqlite_get(bench_t *bench, result_t *result) {
    char *dir = NULL;
    sqlite_rows_t rows = {bench, s_sqlite_open(&dir), NULL};
    sqlite3_stmt *get = NULL;
    int rc = rows.db ? bench_sqlite_prepare(rows.db, kv_sqlite_put_sql, &rows.put) : -1;
    if (rc == 0)
        rc = bench_sqlite_transaction(rows.db, s_sqlite_rows, &rows, 0, GET_KEYS);
    if (rc == 0)
        rc = bench_sqlite_prepare(rows.db, kv_sqlite_get_sql, &get);
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(bench->seconds * 1e6);
    for (uint64_t i = 0; rc == 0 && bench_go_on(bench, result, deadline); i++) {
        char key[32];
        s_key(i % GET_KEYS, key, sizeof key);
        sqlite3_bind_int64(get, 1, 1);
        sqlite3_bind_text(get, 2, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_bytes(get, 0) == VALUE_BYTES) {
            result->ok++;
            result->bytes += VALUE_BYTES;
        } else
            rc = bench_fail("raw.kv_sqlite_get", "key %s not read", key);
        sqlite3_reset(get);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(get);
    sqlite3_finalize(rows.put);
    sqlite3_close(rows.db);
    if (dir)
        ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  ---- raw files ----------------------------------------------------------------------

//  One durable put as the filesystem backend makes it.
static int s_file_put(int tmp, int data, const char *name, const uint8_t *value) {
    int fd = openat(tmp, "t", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, value, VALUE_BYTES) == VALUE_BYTES && fsync(fd) == 0;
    close(fd);
    return ok && renameat(tmp, "t", data, name) == 0 && fsync(data) == 0 ? 0 : -1;
}

static int s_file_dirs(char **dir, int *tmp, int *data) {
    *dir = ca_test_tempdir("cairn-bench-kv");
    char path[4200];
    snprintf(path, sizeof path, "%s/tmp", *dir ? *dir : "");
    if (!*dir || mkdir(path, 0700) != 0)
        return -1;
    *tmp = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/data", *dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    *data = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *tmp >= 0 && *data >= 0 ? 0 : -1;
}

static void s_file_close(char **dir, int tmp, int data) {
    if (tmp >= 0)
        close(tmp);
    if (data >= 0)
        close(data);
    if (*dir)
        ca_test_rmtree(*dir);
    zstr_free(dir);
}

static int s_run_raw_fs_put(bench_t *bench, result_t *result) {
    char *dir = NULL;
    int tmp = -1, data = -1;
    int rc = s_file_dirs(&dir, &tmp, &data);
    const uint8_t *value = bench_pattern(bench, VALUE_BYTES);
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(bench->seconds * 1e6);
    for (uint64_t i = 0; rc == 0 && bench_go_on(bench, result, deadline); i++) {
        char name[32];
        snprintf(name, sizeof name, "%" PRIu64, i % KEYSPACE);
        rc = s_file_put(tmp, data, name, value);
        if (rc == 0) {
            result->ok++;
            result->bytes += VALUE_BYTES;
        } else
            bench_fail("raw.kv_fs_put", "put %s: %s", name, strerror(errno));
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    s_file_close(&dir, tmp, data);
    return rc;
}

static int s_run_raw_fs_get(bench_t *bench, result_t *result) {
    char *dir = NULL;
    int tmp = -1, data = -1;
    int rc = s_file_dirs(&dir, &tmp, &data);
    const uint8_t *value = bench_pattern(bench, VALUE_BYTES);
    for (uint64_t i = 0; rc == 0 && i < GET_KEYS; i++) {
        char name[32];
        snprintf(name, sizeof name, "%" PRIu64, i);
        rc = s_file_put(tmp, data, name, value);
    }
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(bench->seconds * 1e6);
    for (uint64_t i = 0; rc == 0 && bench_go_on(bench, result, deadline); i++) {
        char name[32];
        uint8_t buffer[VALUE_BYTES];
        snprintf(name, sizeof name, "%" PRIu64, i % GET_KEYS);
        int fd = openat(data, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && read(fd, buffer, sizeof buffer) == VALUE_BYTES) {
            result->ok++;
            result->bytes += VALUE_BYTES;
        } else
            rc = bench_fail("raw.kv_fs_get", "read %s: %s", name, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    s_file_close(&dir, tmp, data);
    return rc;
}

//  ---- raw Redis ----------------------------------------------------------------------

static int s_run_raw_redis(bench_t *bench, result_t *result, bool put) {
    const char *name = put ? "raw.kv_redis_put" : "raw.kv_redis_get";
    redis_server_t *redis = s_redis();
    if (!redis) {
        result->skipped = true;
        snprintf(result->note, sizeof result->note, "no redis-server");
        return 0;
    }
    struct timeval timeout = {2, 0};
    redisContext *context = redisConnectWithTimeout("127.0.0.1", redis_server_port(redis), timeout);
    if (!context || context->err) {
        if (context)
            redisFree(context);
        return bench_fail(name, "cannot connect to the bench's redis-server");
    }
    const uint8_t *value = bench_pattern(bench, VALUE_BYTES);
    int rc = 0;
    //  The get case reads keys the put case or this fill wrote.
    for (uint64_t i = 0; !put && i < GET_KEYS; i++) {
        char key[32];
        s_key(i, key, sizeof key);
        redisAppendCommand(context, "SET raw:%s %b", key, value, (size_t)VALUE_BYTES);
    }
    for (uint64_t i = 0; !put && rc == 0 && i < GET_KEYS; i++) {
        redisReply *reply = NULL;
        rc = redisGetReply(context, (void **)&reply) == REDIS_OK ? 0 : -1;
        freeReplyObject(reply);
    }
    int window = bench->window > 0 ? bench->window : 1;
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(bench->seconds * 1e6);
    uint64_t n = 0;
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        for (int i = 0; i < window; i++, n++) {
            char key[32];
            s_key(put ? n : n % GET_KEYS, key, sizeof key);
            if (put)
                redisAppendCommand(context, "SET raw:%s %b", key, value, (size_t)VALUE_BYTES);
            else
                redisAppendCommand(context, "GET raw:%s", key);
        }
        for (int i = 0; i < window && rc == 0; i++) {
            redisReply *reply = NULL;
            if (redisGetReply(context, (void **)&reply) != REDIS_OK || !reply ||
                reply->type == REDIS_REPLY_ERROR ||
                (!put && (reply->type != REDIS_REPLY_STRING || reply->len != VALUE_BYTES)))
                rc = bench_fail(name, "a command failed: %s", context->errstr);
            else {
                result->ok++;
                result->bytes += VALUE_BYTES;
            }
            freeReplyObject(reply);
        }
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    redisFree(context);
    return rc;
}

static int s_run_raw_redis_put(bench_t *bench, result_t *result) {
    return s_run_raw_redis(bench, result, true);
}

static int s_run_raw_redis_get(bench_t *bench, result_t *result) {
    return s_run_raw_redis(bench, result, false);
}

//  ---- the node -----------------------------------------------------------------------

typedef struct {
    bench_t *bench;
    int backend;
    bool put;
} node_case_t;

//  Creates the three namespaces once (the Redis one when a server runs).
static int s_node_ready(bench_t *bench) {
    bench_kv_t *self = s_kv();
    harness_node_t *node = self ? bench_node(bench) : NULL;
    if (!node)
        return -1;
    if (self->node_ready)
        return 0;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    redis_server_t *redis = s_redis();
    int rc = 0;
    for (int backend = 0; backend < 3 && rc == 0; backend++) {
        if (backend == 2 && !redis)
            break;
        Cairn__KvRedis settings = CAIRN__KV_REDIS__INIT;
        settings.host = "127.0.0.1";
        settings.port = redis ? (uint32_t)redis_server_port(redis) : 0;
        settings.prefix = "node:";
        Cairn__KvNamespaceCreate create = CAIRN__KV_NAMESPACE_CREATE__INIT;
        create.namespace_ = (char *)s_ns[backend];
        create.backend = (Cairn__KvBackend)backend;
        create.redis = backend == 2 ? &settings : NULL;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.id = (uint64_t)backend + 1;
        request.body_case = CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE;
        request.kv_namespace_create = &create;
        Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
        if (!response || response->status != CAIRN__STATUS__OK)
            rc = bench_fail("node.kv", "cannot create namespace %s: %s", s_ns[backend],
                            response ? response->error : "no answer");
        if (response)
            cairn__response__free_unpacked(response, NULL);
    }
    zsock_destroy(&client);
    self->node_ready = rc == 0;
    return rc;
}

static int s_node_send(void *handle, uint64_t id, void *context) {
    node_case_t *kase = context;
    char key[32];
    //  Ids start at 1: puts write k/0.. (the fill's GET_KEYS puts: the keys
    //  the gets read).
    s_key(kase->put ? id - 1 : id % GET_KEYS, key, sizeof key);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    Cairn__KvStore put = CAIRN__KV_STORE__INIT;
    Cairn__KvRetrieve get = CAIRN__KV_RETRIEVE__INIT;
    if (kase->put) {
        put.namespace_ = (char *)s_ns[kase->backend];
        put.key = key;
        put.value =
            (ProtobufCBinaryData){VALUE_BYTES, (uint8_t *)bench_pattern(kase->bench, VALUE_BYTES)};
        request.body_case = CAIRN__REQUEST__BODY_KV_STORE;
        request.kv_store = &put;
    } else {
        get.namespace_ = (char *)s_ns[kase->backend];
        get.key = key;
        request.body_case = CAIRN__REQUEST__BODY_KV_RETRIEVE;
        request.kv_retrieve = &get;
    }
    return bench_send_request(handle, &request);
}

static int s_node_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                         result_t *result, void *context) {
    (void)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK)
        result->bytes += VALUE_BYTES;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_node_wire = {s_node_send, s_node_decode};

//  A node row: its backend and whether it puts, from its name
//  ("node.kv_put_fs.pipelined"); `size` is VALUE_BYTES.
static int s_run_node(bench_t *bench, result_t *result, const char *name, size_t size) {
    (void)size;
    bool put = strstr(name, "_put_") != NULL;
    int backend = strstr(name, "_sqlite") ? 0 : strstr(name, "_fs") ? 1 : 2;
    if (backend == 2 && !s_redis()) {
        result->skipped = true;
        snprintf(result->note, sizeof result->note, "no redis-server");
        return 0;
    }
    if (s_node_ready(bench) != 0)
        return -1;
    bench_kv_t *self = s_kv();
    if (!put && !self->filled[backend]) {
        zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
        node_case_t fill = {bench, backend, true};
        result_t filled = {0};
        int rc = bench_drive_for(60, GET_KEYS, name, client, &s_node_wire, &fill, bench->window,
                                 &filled);
        zsock_destroy(&client);
        if (rc != 0 || filled.ok != GET_KEYS)
            return bench_fail(name, "fill: %" PRIu64 " of %d puts: %s", filled.ok, GET_KEYS,
                              filled.first_error);
        self->filled[backend] = true;
    }
    node_case_t kase = {bench, backend, put};
    return bench_run_node(bench, result, name, &s_node_wire, &kase, bench->window);
}

static void s_destroy(bench_t *bench) {
    (void)bench;
    if (!s_state)
        return;
    redis_server_destroy(&s_state->redis);
    free(s_state);
    s_state = NULL;
}

//  ---- the rows -------------------------------------------------------------------------

#define KV_CASE(case_name, case_kind, function, against, text)                                     \
    {                                                                                              \
        .name = case_name, .kind = case_kind, .run = function, .versus = {against}, .what = text,  \
        .optional = true                                                                           \
    }
#define KV_NODE_CASE(case_name, against, text)                                                     \
    {                                                                                              \
        .name = case_name, .kind = KIND_NODE, .sized = s_run_node, .size = VALUE_BYTES,            \
        .versus = {against}, .what = text, .optional = true                                        \
    }

static const bench_case_t s_cases[] = {
    KV_CASE("raw.kv_sqlite_put", KIND_BASELINE, s_run_raw_sqlite_put, NULL,
            "the kv store's UPSERT of 100-byte values, 1,000 rows a transaction"),
    KV_NODE_CASE("node.kv_put_sqlite.pipelined", "raw.kv_sqlite_put",
                 "cairnd KvStore into a SQLite namespace, a window"),
    KV_CASE("raw.kv_sqlite_get", KIND_BASELINE, s_run_raw_sqlite_get, NULL,
            "the kv store's SELECT of one value"),
    KV_NODE_CASE("node.kv_get_sqlite.pipelined", "raw.kv_sqlite_get",
                 "cairnd KvRetrieve from a SQLite namespace, a window"),
    KV_CASE("raw.kv_fs_put", KIND_BASELINE, s_run_raw_fs_put, NULL,
            "write + fsync + rename + fsync of the folder, 100-byte values"),
    KV_NODE_CASE("node.kv_put_fs.pipelined", "raw.kv_fs_put",
                 "cairnd KvStore into a filesystem namespace, a window"),
    KV_CASE("raw.kv_fs_get", KIND_BASELINE, s_run_raw_fs_get, NULL,
            "open + read of one value file"),
    KV_NODE_CASE("node.kv_get_fs.pipelined", "raw.kv_fs_get",
                 "cairnd KvRetrieve from a filesystem namespace, a window"),
    KV_CASE("raw.kv_redis_put", KIND_BASELINE, s_run_raw_redis_put, NULL,
            "hiredis SET of 100-byte values, a window pipelined"),
    KV_NODE_CASE("node.kv_put_redis.pipelined", "raw.kv_redis_put",
                 "cairnd KvStore into a Redis namespace, a window"),
    KV_CASE("raw.kv_redis_get", KIND_BASELINE, s_run_raw_redis_get, NULL,
            "hiredis GET, a window pipelined"),
    KV_NODE_CASE("node.kv_get_redis.pipelined", "raw.kv_redis_get",
                 "cairnd KvRetrieve from a Redis namespace, a window"),
};

const bench_area_t bench_kv_area = BENCH_AREA(s_cases, NULL, s_destroy);

/*  =========================================================================
    kv - key-value namespaces, each kept by the backend chosen at creation

    What it owns: the table of namespaces (kv_namespaces, in cairn.db,
    written through the writer) and, for SQLite namespaces, their rows
    (kv_entries). A namespace's backend is fixed when it is created:

        backend     where the values are                  file
        ----------  ------------------------------------  ---------------
        sqlite      kv_entries rows in cairn.db            kv_sqlite.c
        filesystem  <data dir>/kv/<name>-<random>/data/    kv_fs.c
        redis       <prefix><key> on a Redis server        kv_redis.c

    The filesystem and Redis backends sit behind one small table of
    operations (kv_backend.h) that the worker runs itself; SQLite writes go
    through the writer like any store's, so its rows are separate calls
    (kv_sqlite.h). This file checks every request (names, keys, sizes), loads
    the namespace's row and hands the request to its backend.

    Routing: every request naming a namespace (field 1 of each) is routed by
    that name, so one namespace is served by one worker, one request at a
    time, in the order a connection sent them. That is what makes a
    filesystem or Redis put atomic against a concurrent delete or clone of
    the same namespace through cairnd, what lets each worker keep its own
    Redis connections, and what makes a clone one point in time: the
    source's worker reads it whole (SQLite: one statement, one snapshot of
    cairn.db; SQLite into SQLite: one INSERT ... SELECT in the writer's
    transaction; filesystem and Redis: no write through cairnd can run
    meanwhile) before the target is written and then registered. A target
    exists (has its row) only once every key is in it.

    Requests and their rules: schemas/kv.proto.
    ========================================================================= */

#include "kv.h"
#include "ca_log.h"
#include "kv_backend.h"
#include "kv_sqlite.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  ---- schema --------------------------------------------------------------------

static const char *const s_migrations[] = {
    "CREATE TABLE kv_namespaces ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    "  backend INTEGER NOT NULL, created_at INTEGER NOT NULL, path TEXT NOT NULL DEFAULT '',"
    "  host TEXT NOT NULL DEFAULT '', port INTEGER NOT NULL DEFAULT 0,"
    "  db INTEGER NOT NULL DEFAULT 0, prefix TEXT NOT NULL DEFAULT '',"
    "  password TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE kv_entries ("
    "  ns INTEGER NOT NULL REFERENCES kv_namespaces (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key));",
};

const ca_schema_t kv_schema = {
    .store = "kv",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

//  ---- checks ----------------------------------------------------------------------

#define KEY_RULE                                                                                   \
    "keys are 1..1024 bytes, segments separated by '/', each 1..255 bytes and not '.' or '..', "   \
    "no leading, trailing or double '/', no control characters"

//  The namespace name rule (a filesystem namespace's folder is named after
//  it, so nothing in a name can leave the kv folder).
const char *kv_name_problem(const char *name) {
    size_t length = strnlen(name, KV_NAME_MAX + 1);
    if (length == 0)
        return "is missing";
    if (length > KV_NAME_MAX)
        return "is longer than 64 bytes";
    if (name[0] == '.')
        return "starts with '.'";
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return "has a character other than A-Z a-z 0-9 . _ -";
    }
    return NULL;
}

static bool s_name_ok(const char *name, const char *what, ca_reply_t *reply) {
    const char *problem = kv_name_problem(name);
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s %s (%s)", what, problem, KV_NAME_RULE);
    return !problem;
}

//  The key rules of every backend (kv.proto): nothing can leave a
//  filesystem namespace's folder, and a key valid anywhere is valid in any
//  clone target.
const char *kv_key_problem(const char *key) {
    size_t length = strnlen(key, KV_KEY_MAX + 1);
    if (length == 0)
        return "is missing";
    if (length > KV_KEY_MAX)
        return "is longer than 1024 bytes";
    if (key[0] == '/')
        return "starts with '/' (keys are relative)";
    if (key[length - 1] == '/')
        return "ends with '/'";
    const char *segment = key;
    for (size_t i = 0; i <= length; i++) {
        unsigned char c = (unsigned char)key[i];
        if (i < length && (c < 0x20 || c == 0x7f))
            return "has a control character";
        if (i == length || c == '/') {
            size_t n = (size_t)(key + i - segment);
            if (n == 0)
                return "has an empty segment ('//')";
            if (n > KV_SEGMENT_MAX)
                return "has a segment longer than 255 bytes";
            if ((n == 1 && segment[0] == '.') || (n == 2 && segment[0] == '.' && segment[1] == '.'))
                return "has a '.' or '..' segment";
            segment = key + i + 1;
        }
    }
    return NULL;
}

static bool s_key_ok(const char *key, ca_reply_t *reply) {
    const char *problem = kv_key_problem(key);
    if (problem)
        ca_reply_error(reply, CA_INVALID, "key %s (%s)", problem, KEY_RULE);
    return !problem;
}

static bool s_text_ok(const char *text, size_t most, const char *what, bool empty_ok,
                      ca_reply_t *reply) {
    size_t length = strnlen(text, most + 1);
    if (length > most) {
        ca_reply_error(reply, CA_INVALID, "%s is longer than %zu bytes", what, most);
        return false;
    }
    if (!length && !empty_ok) {
        ca_reply_error(reply, CA_INVALID, "%s is missing", what);
        return false;
    }
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            ca_reply_error(reply, CA_INVALID, "%s has a control character", what);
            return false;
        }
    return true;
}

//  The backend and Redis settings of a create or a clone, into *ns.
static bool s_backend_ok(int backend, const Cairn__KvRedis *redis, kv_ns_t *ns, ca_reply_t *reply) {
    if (backend < CAIRN__KV_BACKEND__KV_BACKEND_SQLITE ||
        backend > CAIRN__KV_BACKEND__KV_BACKEND_REDIS) {
        ca_reply_error(reply, CA_INVALID,
                       "backend %d is unknown: use sqlite (0), filesystem (1) or redis (2)",
                       backend);
        return false;
    }
    ns->backend = backend;
    if (backend != CAIRN__KV_BACKEND__KV_BACKEND_REDIS) {
        if (redis)
            ca_reply_error(reply, CA_INVALID,
                           "redis settings are given for a non-redis backend: leave them out");
        return !redis;
    }
    if (!redis) {
        ca_reply_error(reply, CA_INVALID,
                       "a redis namespace needs its redis settings (host, port, db, prefix)");
        return false;
    }
    if (!s_text_ok(redis->host, KV_HOST_MAX, "redis.host", false, reply) ||
        !s_text_ok(redis->prefix, KV_PREFIX_MAX, "redis.prefix", true, reply) ||
        !s_text_ok(redis->password, KV_PASSWORD_MAX, "redis.password", true, reply))
        return false;
    if (redis->port > 65535 || redis->db > 65535 || redis->has_password) {
        ca_reply_error(reply, CA_INVALID,
                       redis->has_password ? "redis.has_password is an answer field: leave it out"
                                           : "redis.port and redis.db are at most 65535");
        return false;
    }
    snprintf(ns->host, sizeof ns->host, "%s", redis->host);
    ns->port = redis->port ? redis->port : KV_REDIS_PORT;
    ns->db = redis->db;
    snprintf(ns->prefix, sizeof ns->prefix, "%s", redis->prefix);
    snprintf(ns->password, sizeof ns->password, "%s", redis->password);
    return true;
}

const kv_backend_t *kv_backend_of(const kv_ns_t *ns) {
    return ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM ? &kv_fs_backend
                                                                   : &kv_redis_backend;
}

bool kv_is_sqlite(const kv_ns_t *ns) {
    return ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_SQLITE;
}

bool kv_is_redis(const kv_ns_t *ns) {
    return ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_REDIS;
}

//  ---- the namespace row -----------------------------------------------------------

void kv_ns_from_row(sqlite3_stmt *stmt, kv_ns_t *ns) {
    memset(ns, 0, sizeof *ns);
    ns->id = sqlite3_column_int64(stmt, 0);
    snprintf(ns->name, sizeof ns->name, "%s", (const char *)sqlite3_column_text(stmt, 1));
    ns->backend = sqlite3_column_int(stmt, 2);
    ns->created_at = sqlite3_column_int64(stmt, 3);
    snprintf(ns->path, sizeof ns->path, "%s", (const char *)sqlite3_column_text(stmt, 4));
    snprintf(ns->host, sizeof ns->host, "%s", (const char *)sqlite3_column_text(stmt, 5));
    ns->port = (uint32_t)sqlite3_column_int(stmt, 6);
    ns->db = (uint32_t)sqlite3_column_int(stmt, 7);
    snprintf(ns->prefix, sizeof ns->prefix, "%s", (const char *)sqlite3_column_text(stmt, 8));
    snprintf(ns->password, sizeof ns->password, "%s", (const char *)sqlite3_column_text(stmt, 9));
}

//  Checks the name and loads its row; false (reply failed) when unknown.
static bool s_ns_load(ca_store_t *store, const char *name, kv_ns_t *ns, ca_reply_t *reply) {
    if (!s_name_ok(name, "namespace", reply))
        return false;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT " KV_NS_COLUMNS " FROM kv_namespaces WHERE name = ?1", reply);
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        kv_ns_from_row(stmt, ns);
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no namespace %s: create it first (kv namespace create), or list them",
                       name);
    else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read namespace %s: %s; retry",
                       name, sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static void s_ns_wipe(kv_ns_t *ns) {
    explicit_bzero(ns->password, sizeof ns->password);
}

//  The INSERT of a namespace row (CONFLICT when the name is taken).
static void s_write_ns_row(ca_write_t *write, const kv_ns_t *ns) {
    ca_write_statement(write,
                       "INSERT INTO kv_namespaces (name, backend, created_at, path, host, port, "
                       "db, prefix, password) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                       " ON CONFLICT (name) DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT,
                       "a namespace of that name exists: choose another name or drop it first");
    ca_write_text(write, ns->name);
    ca_write_int(write, ns->backend);
    ca_write_int(write, ns->created_at);
    ca_write_text(write, ns->path);
    ca_write_text(write, ns->host);
    ca_write_int(write, ns->port);
    ca_write_int(write, ns->db);
    ca_write_text(write, ns->prefix);
    ca_write_text(write, ns->password);
}

//  The answer's view of a namespace (no password).
static Cairn__KvNamespace *s_ns_answer(ca_reply_t *reply, const kv_ns_t *ns) {
    Cairn__KvNamespace *out = ca_reply_alloc(reply, sizeof *out);
    cairn__kv_namespace__init(out);
    out->namespace_ = ca_reply_strdup(reply, ns->name);
    out->backend = (Cairn__KvBackend)ns->backend;
    out->created_at = (uint64_t)ns->created_at;
    if (ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM)
        out->path = ca_reply_strdup(reply, ns->path);
    if (ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_REDIS) {
        Cairn__KvRedis *redis = ca_reply_alloc(reply, sizeof *redis);
        cairn__kv_redis__init(redis);
        redis->host = ca_reply_strdup(reply, ns->host);
        redis->port = ns->port;
        redis->db = ns->db;
        redis->prefix = ca_reply_strdup(reply, ns->prefix);
        redis->has_password = ns->password[0] != 0;
        out->redis = redis;
    }
    return out;
}

static void s_answer(ca_reply_t *reply, Cairn__Response__BodyCase body_case, void *body) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body_case;
    //  Every member of the body oneof is a pointer at the same place.
    response->kv_store = body;
}

static void s_deleted(ca_reply_t *reply, Cairn__Response__BodyCase body_case, uint64_t count) {
    Cairn__Deleted *deleted = ca_reply_alloc(reply, sizeof *deleted);
    cairn__deleted__init(deleted);
    deleted->count = count;
    s_answer(reply, body_case, deleted);
}

static void s_stats_answer(ca_reply_t *reply, Cairn__Response__BodyCase body_case,
                           const kv_ns_t *ns, uint64_t keys, uint64_t bytes) {
    Cairn__KvStats *stats = ca_reply_alloc(reply, sizeof *stats);
    cairn__kv_stats__init(stats);
    stats->namespace_ = s_ns_answer(reply, ns);
    stats->keys = keys;
    stats->bytes = bytes;
    s_answer(reply, body_case, stats);
}

static void s_backend_failed(ca_reply_t *reply, const kv_err_t *err) {
    ca_reply_error(reply, err->status, "%s", err->message);
}

//  ---- the context of a namespace write (create, clone, drop) ----------------------
//  Echoed by the writer so that `done` and `write_failed` know the row's
//  namespace (its folder) and the counts, without reading the request again.

typedef struct {
    kv_ns_t ns;
    uint64_t keys;
    uint64_t bytes;
    bool made;         //  the backend's storage was made by this request (undo on failure)
    bool has_password; //  the password itself is not in the context
} ns_context_t;

static void s_context(ca_write_t *write, const kv_ns_t *ns, uint64_t keys, uint64_t bytes,
                      bool made) {
    ns_context_t context = {.ns = *ns,
                            .keys = keys,
                            .bytes = bytes,
                            .made = made,
                            .has_password = ns->password[0] != 0};
    //  The password is in the row already; the context never carries it.
    explicit_bzero(context.ns.password, sizeof context.ns.password);
    ca_write_context(write, &context, sizeof context);
}

static const ns_context_t *s_context_of(const Cairn__Internal__WriteReply *write) {
    return write->context.len == sizeof(ns_context_t) ? (const ns_context_t *)write->context.data
                                                      : NULL;
}

//  The namespace of a context, for an answer: a password placeholder says
//  there is one (s_ns_answer answers has_password, never the text).
static kv_ns_t s_context_ns(const ns_context_t *context) {
    kv_ns_t ns = context->ns;
    snprintf(ns.password, sizeof ns.password, "%s", context->has_password ? "*" : "");
    return ns;
}

//  ---- keys --------------------------------------------------------------------------

static void s_store(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvStore *put = request->kv_store;
    int64_t most = ca_store_settings(store)->kv_max_value_bytes;
    if (most <= 0)
        most = 16 * 1024 * 1024;
    if (put->value.len > (uint64_t)most) {
        ca_reply_error(reply, CA_INVALID,
                       "the value is %zu bytes, over kv_max_value_bytes (%" PRId64
                       "); store it in smaller pieces or raise kv_max_value_bytes",
                       put->value.len, most);
        return;
    }
    kv_ns_t ns;
    if (!s_key_ok(put->key, reply) || !s_ns_load(store, put->namespace_, &ns, reply))
        return;
    if (kv_is_sqlite(&ns))
        kv_sqlite_store(store, &ns, put, reply);
    else {
        kv_err_t err;
        bool created = false;
        if (kv_backend_of(&ns)->put(ca_store_state(store), &ns, put->key, put->value.data,
                                    put->value.len, &created, &err) != CA_OK)
            s_backend_failed(reply, &err);
        else {
            Cairn__KvStored *stored = ca_reply_alloc(reply, sizeof *stored);
            cairn__kv_stored__init(stored);
            stored->created = created;
            s_answer(reply, CAIRN__RESPONSE__BODY_KV_STORE, stored);
        }
    }
    s_ns_wipe(&ns);
}

static void s_retrieve(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvRetrieve *get = request->kv_retrieve;
    kv_ns_t ns;
    if (!s_key_ok(get->key, reply) || !s_ns_load(store, get->namespace_, &ns, reply))
        return;
    if (kv_is_sqlite(&ns))
        kv_sqlite_retrieve(store, &ns, get->key, reply);
    else {
        kv_err_t err;
        uint8_t *data = NULL;
        size_t size = 0;
        if (kv_backend_of(&ns)->get(ca_store_state(store), &ns, get->key, &data, &size, &err) !=
            CA_OK)
            s_backend_failed(reply, &err);
        else {
            Cairn__KvValue *value = ca_reply_alloc(reply, sizeof *value);
            cairn__kv_value__init(value);
            value->value.len = size;
            value->value.data = size ? ca_reply_alloc_large(reply, size) : NULL;
            if (value->value.data)
                memcpy(value->value.data, data, size);
            s_answer(reply, CAIRN__RESPONSE__BODY_KV_RETRIEVE, value);
        }
        free(data);
    }
    s_ns_wipe(&ns);
}

static void s_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvDelete *del = request->kv_delete;
    kv_ns_t ns;
    if (!s_key_ok(del->key, reply) || !s_ns_load(store, del->namespace_, &ns, reply))
        return;
    if (kv_is_sqlite(&ns))
        kv_sqlite_delete(store, &ns, del->key, reply);
    else {
        kv_err_t err;
        bool deleted = false;
        if (kv_backend_of(&ns)->del(ca_store_state(store), &ns, del->key, &deleted, &err) != CA_OK)
            s_backend_failed(reply, &err);
        else
            s_deleted(reply, CAIRN__RESPONSE__BODY_KV_DELETE, deleted ? 1 : 0);
    }
    s_ns_wipe(&ns);
}

//  Delete and clear through the writer: the last statement's changes.
static void s_deleted_done(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    (void)store;
    if (write->n_results == 0) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the delete's result; retry");
        return;
    }
    s_deleted(reply, (Cairn__Response__BodyCase)request->body_case,
              write->results[write->n_results - 1]->changes);
}

static void s_clear(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    kv_ns_t ns;
    if (!s_ns_load(store, request->kv_clear->namespace_, &ns, reply))
        return;
    if (kv_is_sqlite(&ns))
        kv_sqlite_clear(store, &ns, reply);
    else {
        kv_err_t err;
        uint64_t count = 0;
        if (kv_backend_of(&ns)->clear(ca_store_state(store), &ns, &count, &err) != CA_OK)
            s_backend_failed(reply, &err);
        else
            s_deleted(reply, CAIRN__RESPONSE__BODY_KV_CLEAR, count);
    }
    s_ns_wipe(&ns);
}

static void s_exists(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvExists *exists = request->kv_exists;
    kv_ns_t ns;
    if (!s_key_ok(exists->key, reply) || !s_ns_load(store, exists->namespace_, &ns, reply))
        return;
    if (kv_is_sqlite(&ns))
        kv_sqlite_exists(store, &ns, exists->key, reply);
    else {
        kv_err_t err;
        bool found = false;
        if (kv_backend_of(&ns)->exists(ca_store_state(store), &ns, exists->key, &found, &err) !=
            CA_OK)
            s_backend_failed(reply, &err);
        else {
            Cairn__KvExistsReply *answer = ca_reply_alloc(reply, sizeof *answer);
            cairn__kv_exists_reply__init(answer);
            answer->exists = found;
            s_answer(reply, CAIRN__RESPONSE__BODY_KV_EXISTS, answer);
        }
    }
    s_ns_wipe(&ns);
}

static void s_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvList *list = request->kv_list;
    if (!s_text_ok(list->prefix, KV_KEY_MAX, "prefix", true, reply) ||
        !s_text_ok(list->after, KV_KEY_MAX, "after", true, reply))
        return;
    size_t limit = ca_page_limit(list->limit, KV_PAGE_DEFAULT, KV_PAGE_MAX, "keys", "after", reply);
    kv_ns_t ns;
    if (!limit || !s_ns_load(store, list->namespace_, &ns, reply))
        return;
    kv_keys_t keys = {0};
    size_t first = 0;
    bool ok;
    if (kv_is_sqlite(&ns))
        ok = kv_sqlite_keys(store, &ns, list->prefix, list->after, limit, &keys, reply);
    else {
        kv_err_t err;
        ok = kv_backend_of(&ns)->keys(ca_store_state(store), &ns, list->prefix, &keys, &err) ==
             CA_OK;
        if (!ok)
            s_backend_failed(reply, &err);
        else {
            kv_keys_sort(&keys);
            while (first < keys.count && strcmp(keys.keys[first], list->after) <= 0)
                first++;
        }
    }
    if (ok) {
        Cairn__KvKeys *page = ca_reply_alloc(reply, sizeof *page);
        cairn__kv_keys__init(page);
        size_t count = keys.count - first;
        page->more = count > limit;
        page->n_keys = page->more ? limit : count;
        page->keys = ca_reply_alloc(reply, (page->n_keys ? page->n_keys : 1) * sizeof(char *));
        for (size_t i = 0; page->keys && i < page->n_keys; i++)
            page->keys[i] = ca_reply_strdup(reply, keys.keys[first + i]);
        s_answer(reply, CAIRN__RESPONSE__BODY_KV_LIST, page);
    }
    kv_keys_free(&keys);
    s_ns_wipe(&ns);
}

//  ---- namespaces ----------------------------------------------------------------------

//  Makes the storage of a new namespace (filesystem: its folder; Redis:
//  checks the server answers); SQLite needs none.
static bool s_ns_make(ca_store_t *store, kv_ns_t *ns, ca_reply_t *reply) {
    if (kv_is_sqlite(ns))
        return true;
    kv_err_t err;
    if (ns->backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM &&
        !kv_fs_new_path(ca_store_data_dir(store), ns->name, ns->path, sizeof ns->path, &err)) {
        s_backend_failed(reply, &err);
        return false;
    }
    if (kv_backend_of(ns)->create(ca_store_state(store), ns, &err) != CA_OK) {
        s_backend_failed(reply, &err);
        return false;
    }
    return true;
}

static void s_ns_create(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvNamespaceCreate *create = request->kv_namespace_create;
    kv_ns_t ns = {0};
    if (!s_name_ok(create->namespace_, "namespace", reply) ||
        !s_backend_ok(create->backend, create->redis, &ns, reply))
        return;
    snprintf(ns.name, sizeof ns.name, "%s", create->namespace_);
    ns.created_at = (int64_t)time(NULL);
    if (s_ns_make(store, &ns, reply)) {
        ca_write_t *write = ca_write_new();
        s_write_ns_row(write, &ns);
        s_context(write, &ns, 0, 0, ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM);
        if (ca_store_write(store, &write, reply) != 0 &&
            ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM) {
            uint64_t count;
            kv_err_t err;
            kv_fs_backend.drop(NULL, &ns, &count, &err);
        }
    }
    s_ns_wipe(&ns);
}

static void s_ns_created(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    (void)store;
    (void)request;
    const ns_context_t *context = s_context_of(write);
    if (!context) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the namespace; list them");
        return;
    }
    kv_ns_t ns = s_context_ns(context);
    s_answer(reply, CAIRN__RESPONSE__BODY_KV_NAMESPACE_CREATE, s_ns_answer(reply, &ns));
}

//  A create or clone whose row was refused (the name was taken): removes
//  the storage the request made.
static void s_ns_write_failed(ca_store_t *store, const Cairn__Request *request,
                              const Cairn__Internal__WriteReply *write) {
    (void)request;
    const ns_context_t *context = s_context_of(write);
    if (!context || !context->made ||
        (request->body_case != CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE &&
         request->body_case != CAIRN__REQUEST__BODY_KV_CLONE))
        return;
    kv_ns_t ns = context->ns;
    const Cairn__KvRedis *redis = request->body_case == CAIRN__REQUEST__BODY_KV_CLONE
                                      ? request->kv_clone->redis
                                      : request->kv_namespace_create->redis;
    if (ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_REDIS && redis)
        snprintf(ns.password, sizeof ns.password, "%s", redis->password);
    uint64_t count;
    kv_err_t err;
    if (kv_backend_of(&ns)->drop(ca_store_state(store), &ns, &count, &err) != CA_OK)
        ca_log_warning("kv: cannot undo the storage of %s: %s", ns.name, err.message);
    s_ns_wipe(&ns);
}

static void s_ns_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvNamespaceList *list = request->kv_namespace_list;
    if (!s_text_ok(list->after, KV_NAME_MAX, "after", true, reply))
        return;
    size_t limit =
        ca_page_limit(list->limit, KV_PAGE_DEFAULT, KV_PAGE_MAX, "namespaces", "after", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT " KV_NS_COLUMNS " FROM kv_namespaces WHERE name > ?1 ORDER BY name LIMIT ?2",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, list->after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1);
    Cairn__KvNamespacePage *page = ca_reply_alloc(reply, sizeof *page);
    cairn__kv_namespace_page__init(page);
    page->namespaces = ca_reply_alloc(reply, (limit + 1) * sizeof *page->namespaces);
    int rc;
    while (page->namespaces && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_namespaces == limit) {
            page->more = true;
            break;
        }
        kv_ns_t ns;
        kv_ns_from_row(stmt, &ns);
        page->namespaces[page->n_namespaces++] = s_ns_answer(reply, &ns);
        s_ns_wipe(&ns);
    }
    if (page->namespaces && !page->more && rc != SQLITE_DONE)
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot list namespaces: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    else
        s_answer(reply, CAIRN__RESPONSE__BODY_KV_NAMESPACE_LIST, page);
    sqlite3_reset(stmt);
}

//  Drop: SQLite rows go with the row (one write); a folder or Redis keys
//  are emptied first (clear), then the row goes, then the folder (in
//  `done`): a crash between leaves an empty namespace, or a folder without
//  a row, never a row whose data is half gone. A folder already missing
//  (lost by hand) does not stop the drop.
static void s_ns_drop(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    kv_ns_t ns;
    if (!s_ns_load(store, request->kv_namespace_drop->namespace_, &ns, reply))
        return;
    uint64_t count = 0;
    kv_err_t err;
    bool folder_gone = ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM &&
                       access(ns.path, F_OK) != 0 && errno == ENOENT;
    if (!kv_is_sqlite(&ns) && !folder_gone &&
        kv_backend_of(&ns)->clear(ca_store_state(store), &ns, &count, &err) != CA_OK) {
        s_backend_failed(reply, &err);
        s_ns_wipe(&ns);
        return;
    }
    ca_write_t *write = ca_write_new();
    kv_sqlite_delete_all(write, ns.id);
    ca_write_statement(write, "DELETE FROM kv_namespaces WHERE id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       "the namespace was dropped meanwhile");
    ca_write_int(write, ns.id);
    s_context(write, &ns, count, 0, false);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
    s_ns_wipe(&ns);
}

static void s_ns_dropped(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    (void)store;
    (void)request;
    const ns_context_t *context = s_context_of(write);
    if (!context || write->n_results < 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the drop's result");
        return;
    }
    if (context->ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM) {
        uint64_t ignored;
        kv_err_t err;
        kv_fs_backend.drop(NULL, &context->ns, &ignored, &err);
    }
    s_deleted(reply, CAIRN__RESPONSE__BODY_KV_NAMESPACE_DROP,
              context->ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_SQLITE
                  ? write->results[0]->changes
                  : context->keys);
}

static void s_ns_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    kv_ns_t ns;
    if (!s_ns_load(store, request->kv_namespace_stats->namespace_, &ns, reply))
        return;
    uint64_t keys = 0, bytes = 0;
    bool ok;
    if (kv_is_sqlite(&ns))
        ok = kv_sqlite_stats(store, &ns, &keys, &bytes, reply);
    else {
        kv_err_t err;
        ok = kv_backend_of(&ns)->stats(ca_store_state(store), &ns, &keys, &bytes, &err) == CA_OK;
        if (!ok)
            s_backend_failed(reply, &err);
    }
    if (ok)
        s_stats_answer(reply, CAIRN__RESPONSE__BODY_KV_NAMESPACE_STATS, &ns, keys, bytes);
    s_ns_wipe(&ns);
}

//  ---- clone ---------------------------------------------------------------------------

#define TARGET_STATS_SQL                                                                           \
    "SELECT count(*), coalesce(sum(length(value)), 0) FROM kv_entries"                             \
    " WHERE ns = (SELECT id FROM kv_namespaces WHERE name = ?1)"

static void s_clone(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__KvClone *clone = request->kv_clone;
    kv_ns_t source, target = {0};
    if (!s_name_ok(clone->target, "target", reply) ||
        !s_backend_ok(clone->backend, clone->redis, &target, reply))
        return;
    if (!s_ns_load(store, clone->namespace_, &source, reply)) {
        s_ns_wipe(&target);
        return;
    }
    snprintf(target.name, sizeof target.name, "%s", clone->target);
    target.created_at = (int64_t)time(NULL);
    ca_write_t *write = NULL;
    kv_entries_t entries = {0};
    if (kv_is_sqlite(&source) && kv_is_sqlite(&target)) {
        //  One write: the row, then INSERT ... SELECT in the same transaction.
        write = ca_write_new();
        s_write_ns_row(write, &target);
        kv_sqlite_copy(write, target.name, source.id);
    } else {
        kv_err_t err;
        bool read = kv_is_sqlite(&source)
                        ? kv_sqlite_dump(store, &source, &entries, reply)
                        : kv_backend_of(&source)->dump(ca_store_state(store), &source, &entries,
                                                       &err) == CA_OK;
        if (!read && !kv_is_sqlite(&source))
            s_backend_failed(reply, &err);
        if (read && kv_is_sqlite(&target)) {
            write = ca_write_new();
            s_write_ns_row(write, &target);
            kv_sqlite_load(write, target.name, &entries);
        } else if (read && s_ns_make(store, &target, reply)) {
            if (kv_backend_of(&target)->load(ca_store_state(store), &target, &entries, &err) !=
                CA_OK) {
                s_backend_failed(reply, &err);
                uint64_t count;
                kv_err_t ignored;
                //  A Redis target is only emptied when load refused for
                //  another reason than keys already there (CONFLICT).
                if (err.status != CA_CONFLICT)
                    kv_backend_of(&target)->drop(ca_store_state(store), &target, &count, &ignored);
            } else {
                write = ca_write_new();
                s_write_ns_row(write, &target);
            }
        }
    }
    if (write) {
        ca_write_statement(write, TARGET_STATS_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                           NULL);
        ca_write_want_rows(write);
        ca_write_text(write, target.name);
        s_context(write, &target, entries.count, entries.bytes, !kv_is_sqlite(&target));
        if (ca_store_write(store, &write, reply) != 0 && !kv_is_sqlite(&target)) {
            uint64_t count;
            kv_err_t ignored;
            kv_backend_of(&target)->drop(ca_store_state(store), &target, &count, &ignored);
        }
    }
    kv_entries_free(&entries);
    s_ns_wipe(&source);
    s_ns_wipe(&target);
}

static void s_cloned(ca_store_t *store, const Cairn__Request *request,
                     const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    (void)store;
    (void)request;
    const ns_context_t *context = s_context_of(write);
    if (!context || write->n_results < 2) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the clone's result");
        return;
    }
    uint64_t keys = context->keys, bytes = context->bytes;
    const Cairn__Internal__StatementResult *last = write->results[write->n_results - 1];
    if (context->ns.backend == CAIRN__KV_BACKEND__KV_BACKEND_SQLITE && last->n_rows == 1 &&
        last->rows[0]->n_values == 2) {
        keys = (uint64_t)last->rows[0]->values[0]->integer;
        bytes = (uint64_t)last->rows[0]->values[1]->integer;
    }
    kv_ns_t ns = s_context_ns(context);
    s_stats_answer(reply, CAIRN__RESPONSE__BODY_KV_CLONE, &ns, keys, bytes);
}

//  ---- worker state, wipe ------------------------------------------------------------

static void *s_state_new(ca_store_t *store, char **error) {
    (void)store;
    void *state = kv_redis_state_new();
    if (!state)
        *error = strdup("out of memory for the kv worker's Redis connections");
    return state;
}

//  Redis passwords travel in KvNamespaceCreate and KvClone.
static void s_wipe_request(Cairn__Request *request) {
    Cairn__KvRedis *redis = NULL;
    if (request->body_case == CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE)
        redis = request->kv_namespace_create->redis;
    else if (request->body_case == CAIRN__REQUEST__BODY_KV_CLONE)
        redis = request->kv_clone->redis;
    if (redis && redis->password)
        explicit_bzero(redis->password, strlen(redis->password));
}

//  ---- the table ----------------------------------------------------------------------------

#define BY_NAMESPACE 1 //  field 1 of every request naming a namespace

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE, "kv_namespace_create", s_ns_create, s_ns_created,
     BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_NAMESPACE_LIST, "kv_namespace_list", s_ns_list, NULL, 0},
    {CAIRN__REQUEST__BODY_KV_NAMESPACE_DROP, "kv_namespace_drop", s_ns_drop, s_ns_dropped,
     BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_NAMESPACE_STATS, "kv_namespace_stats", s_ns_stats, NULL, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_CLONE, "kv_clone", s_clone, s_cloned, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_STORE, "kv_store", s_store, NULL, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_RETRIEVE, "kv_retrieve", s_retrieve, NULL, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_DELETE, "kv_delete", s_delete, s_deleted_done, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_CLEAR, "kv_clear", s_clear, s_deleted_done, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_EXISTS, "kv_exists", s_exists, NULL, BY_NAMESPACE},
    {CAIRN__REQUEST__BODY_KV_LIST, "kv_list", s_list, NULL, BY_NAMESPACE},
};

const ca_store_def_t kv_store_def = {
    .name = "kv",
    .schema = &kv_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .prepare = kv_fs_prepare,
    .state_new = s_state_new,
    .state_destroy = kv_redis_state_destroy,
    .write_failed = s_ns_write_failed,
    .wipe_request = s_wipe_request,
};

//  ---- self-test ---------------------------------------------------------------
//  The key rules; the requests on every backend over a real node (and a
//  real redis-server) are in tests/e2e_kv.c.

void kv_test(bool verbose) {
    if (verbose)
        printf(" * kv: ");
    const char *good[] = {"a", "a/b/c", "a.b", "..a", "a..", "x/.y", "é/ü"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert(kv_key_problem(good[i]) == NULL);
    const char *bad[] = {"",       "/a",   "a/",  "a//b", ".",    "..",
                         "a/../b", "../a", "a/.", "a\tb", "a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert(kv_key_problem(bad[i]) != NULL);
    char segment[KV_SEGMENT_MAX + 2];
    memset(segment, 'a', sizeof segment - 1);
    segment[sizeof segment - 1] = 0;
    assert(kv_key_problem(segment) != NULL);
    segment[KV_SEGMENT_MAX] = 0;
    assert(kv_key_problem(segment) == NULL);
    if (verbose)
        printf("OK\n");
}

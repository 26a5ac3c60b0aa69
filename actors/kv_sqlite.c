/*  =========================================================================
    kv_sqlite - the kv store's SQLite backend

    Rows of kv_entries (ns, key, value) in cairn.db; the primary key
    (ns, key) keeps keys sorted by their bytes (TEXT, BINARY collation), so
    a list by prefix is a range scan and pages are keyset pages on `key`.
    Reads run on the worker's read-only connection; writes are ordinary
    ca_writes through the writer (group commit: an acknowledged write is
    committed and survives kill -9). Every write first checks that its
    namespace still exists (ids are AUTOINCREMENT, never reused), so a put
    racing a drop fails NOT_FOUND rather than landing in another namespace.
    ========================================================================= */

#include "kv_sqlite.h"

#include <string.h>

#define NS_EXISTS_SQL "SELECT 1 FROM kv_namespaces WHERE id = ?1"
#define NS_GONE                                                                                    \
    "the namespace was dropped meanwhile; create it again (kv namespace create) and retry"

static void s_ns_check(ca_write_t *write, int64_t ns) {
    ca_write_statement(write, NS_EXISTS_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                       CA_NOT_FOUND, NS_GONE);
    ca_write_int(write, ns);
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the namespace: %s; retry",
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

const char kv_sqlite_put_sql[] = "INSERT INTO kv_entries (ns, key, value) VALUES (?1, ?2, ?3)"
                                 " ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value";
const char kv_sqlite_get_sql[] = "SELECT value FROM kv_entries WHERE ns = ?1 AND key = ?2";

static void s_existed(ca_reply_t *reply) {
    ca_reply_response(reply)->kv_store->created = false;
}

void kv_sqlite_store(ca_store_t *store, const kv_ns_t *ns, const Cairn__KvStore *put,
                     ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    s_ns_check(write, ns->id);
    //  Statement 1 picks the answer: created unless it found the key.
    ca_write_statement(write, "SELECT 1 FROM kv_entries WHERE ns = ?1 AND key = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_int(write, ns->id);
    ca_write_text(write, put->key);
    ca_write_statement(write, kv_sqlite_put_sql, CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE,
                       CA_INTERNAL, "the value was not stored; retry");
    ca_write_int(write, ns->id);
    ca_write_text(write, put->key);
    ca_write_blob(write, put->value.data, put->value.len);
    Cairn__KvStored *stored = ca_reply_alloc(reply, sizeof *stored);
    cairn__kv_stored__init(stored);
    stored->created = true;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_KV_STORE;
    response->kv_store = stored;
    ca_store_write_answered(store, &write, reply, 1, s_existed);
}

void kv_sqlite_retrieve(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, kv_sqlite_get_sql, reply);
    if (!stmt)
        return;
    sqlite3_bind_int64(stmt, 1, ns->id);
    sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__KvValue *value = ca_reply_alloc(reply, sizeof *value);
        cairn__kv_value__init(value);
        value->value.len = (size_t)sqlite3_column_bytes(stmt, 0);
        if (value->value.len) {
            value->value.data = ca_reply_alloc_large(reply, value->value.len);
            if (value->value.data)
                memcpy(value->value.data, sqlite3_column_blob(stmt, 0), value->value.len);
        }
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_KV_RETRIEVE;
        response->kv_retrieve = value;
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "no value is stored under '%s'", key);
    else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
}

void kv_sqlite_delete(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    s_ns_check(write, ns->id);
    ca_write_statement(write, "DELETE FROM kv_entries WHERE ns = ?1 AND key = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_int(write, ns->id);
    ca_write_text(write, key);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

void kv_sqlite_delete_all(ca_write_t *write, int64_t ns) {
    ca_write_statement(write, "DELETE FROM kv_entries WHERE ns = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_int(write, ns);
}

void kv_sqlite_clear(ca_store_t *store, const kv_ns_t *ns, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    s_ns_check(write, ns->id);
    kv_sqlite_delete_all(write, ns->id);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

void kv_sqlite_exists(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT 1 FROM kv_entries WHERE ns = ?1 AND key = ?2", reply);
    if (!stmt)
        return;
    sqlite3_bind_int64(stmt, 1, ns->id);
    sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        Cairn__KvExistsReply *exists = ca_reply_alloc(reply, sizeof *exists);
        cairn__kv_exists_reply__init(exists);
        exists->exists = rc == SQLITE_ROW;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_KV_EXISTS;
        response->kv_exists = exists;
    } else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
}

bool kv_sqlite_keys(ca_store_t *store, const kv_ns_t *ns, const char *prefix, const char *after,
                    size_t limit, kv_keys_t *keys, ca_reply_t *reply) {
    //  The prefix's range: [prefix, prefix with its last byte + 1). UTF-8
    //  has no 0xff byte, so the increment never carries.
    char upper[KV_KEY_MAX + 2];
    size_t length = strlen(prefix);
    memcpy(upper, prefix, length + 1);
    if (length)
        upper[length - 1] = (char)((unsigned char)upper[length - 1] + 1);
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT key FROM kv_entries WHERE ns = ?1"
                                          " AND key >= ?2 AND (?3 = '' OR key < ?3) AND key > ?4"
                                          " ORDER BY key LIMIT ?5",
                                          reply);
    if (!stmt)
        return false;
    sqlite3_bind_int64(stmt, 1, ns->id);
    sqlite3_bind_text(stmt, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, length ? upper : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, (int64_t)limit + 1);
    int rc;
    bool ok = true;
    while (ok && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (!kv_keys_add(keys, (const char *)sqlite3_column_text(stmt, 0),
                         (size_t)sqlite3_column_bytes(stmt, 0))) {
            ca_reply_error(reply, CA_INTERNAL, "out of memory listing keys; retry");
            ok = false;
        }
    if (ok && rc != SQLITE_DONE) {
        s_read_failed(reply, stmt, rc);
        ok = false;
    }
    sqlite3_reset(stmt);
    return ok;
}

bool kv_sqlite_stats(ca_store_t *store, const kv_ns_t *ns, uint64_t *keys, uint64_t *bytes,
                     ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT count(*), coalesce(sum(length(value)), 0) FROM kv_entries WHERE ns = ?1",
        reply);
    if (!stmt)
        return false;
    sqlite3_bind_int64(stmt, 1, ns->id);
    int rc = sqlite3_step(stmt);
    bool ok = rc == SQLITE_ROW;
    if (ok) {
        *keys = (uint64_t)sqlite3_column_int64(stmt, 0);
        *bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
    return ok;
}

bool kv_sqlite_dump(ca_store_t *store, const kv_ns_t *ns, kv_entries_t *entries,
                    ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT key, value FROM kv_entries WHERE ns = ?1", reply);
    if (!stmt)
        return false;
    sqlite3_bind_int64(stmt, 1, ns->id);
    int rc;
    bool ok = true;
    while (ok && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        size_t size = (size_t)sqlite3_column_bytes(stmt, 1);
        if (entries->count >= KV_SCAN_MAX_KEYS || entries->bytes + size > KV_CLONE_MAX_BYTES) {
            ca_reply_error(reply, CA_INVALID,
                           "the namespace holds over %d keys or %d bytes, more than a clone "
                           "into another backend copies; clone it into SQLite",
                           KV_SCAN_MAX_KEYS, KV_CLONE_MAX_BYTES);
            ok = false;
            break;
        }
        uint8_t *value = malloc(size ? size : 1);
        if (value && size)
            memcpy(value, sqlite3_column_blob(stmt, 1), size);
        if (!value ||
            !kv_entries_add(entries, (const char *)sqlite3_column_text(stmt, 0), value, size)) {
            ca_reply_error(reply, CA_INTERNAL, "out of memory cloning; retry");
            ok = false;
        }
    }
    if (ok && rc != SQLITE_DONE) {
        s_read_failed(reply, stmt, rc);
        ok = false;
    }
    sqlite3_reset(stmt);
    return ok;
}

#define TARGET_ID_SQL "(SELECT id FROM kv_namespaces WHERE name = ?1)"

void kv_sqlite_load(ca_write_t *write, const char *name, const kv_entries_t *entries) {
    for (size_t i = 0; i < entries->count; i++) {
        ca_write_statement(
            write, "INSERT INTO kv_entries (ns, key, value) VALUES (" TARGET_ID_SQL ", ?2, ?3)",
            CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
            "a key was not copied; retry the clone");
        ca_write_text(write, name);
        ca_write_text(write, entries->items[i].key);
        ca_write_blob(write, entries->items[i].value, entries->items[i].size);
    }
}

void kv_sqlite_copy(ca_write_t *write, const char *name, int64_t from) {
    ca_write_statement(write,
                       "INSERT INTO kv_entries (ns, key, value)"
                       " SELECT " TARGET_ID_SQL ", key, value FROM kv_entries WHERE ns = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, name);
    ca_write_int(write, from);
}

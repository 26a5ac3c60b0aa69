/*  =========================================================================
    kv_sqlite - the kv store's SQLite backend: rows of kv_entries in
    cairn.db, read on the worker's connection, written through the writer
    (private to actors/kv.c)
    ========================================================================= */

#ifndef KV_SQLITE_H_INCLUDED
#define KV_SQLITE_H_INCLUDED

#include "ca_store.h"
#include "kv_backend.h"

//  The statements of a put and a get (the bench's raw baseline runs them too).
extern const char kv_sqlite_put_sql[];
extern const char kv_sqlite_get_sql[];

//  Each answers the request (reads) or sends its write (answered by the
//  row's done, or packed up front for store).
void kv_sqlite_store(ca_store_t *store, const kv_ns_t *ns, const Cairn__KvStore *put,
                     ca_reply_t *reply);
void kv_sqlite_retrieve(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply);
void kv_sqlite_delete(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply);
void kv_sqlite_clear(ca_store_t *store, const kv_ns_t *ns, ca_reply_t *reply);
void kv_sqlite_exists(ca_store_t *store, const kv_ns_t *ns, const char *key, ca_reply_t *reply);
//  Keys with `prefix` after `after`, at most limit + 1 (the last says `more`).
bool kv_sqlite_keys(ca_store_t *store, const kv_ns_t *ns, const char *prefix, const char *after,
                    size_t limit, kv_keys_t *keys, ca_reply_t *reply);
bool kv_sqlite_stats(ca_store_t *store, const kv_ns_t *ns, uint64_t *keys, uint64_t *bytes,
                     ca_reply_t *reply);
//  Every key and value, read by one statement (one snapshot of cairn.db).
bool kv_sqlite_dump(ca_store_t *store, const kv_ns_t *ns, kv_entries_t *entries, ca_reply_t *reply);
//  Adds the statements that fill namespace `name` (inserted earlier in the
//  same write) with `entries`, which must live until the write is sent.
void kv_sqlite_load(ca_write_t *write, const char *name, const kv_entries_t *entries);
//  The statement that copies every row of `from` into `name` inside the
//  writer's transaction (one point in time of the source).
void kv_sqlite_copy(ca_write_t *write, const char *name, int64_t from);
//  Deletes every row of the namespace (its first statement's changes).
void kv_sqlite_delete_all(ca_write_t *write, int64_t ns);

#endif

/*  =========================================================================
    cache - content fetched from peers, kept within a byte budget, least
    recently used first out

    What it owns: the `cache_entries` table (hash, size, source peer,
    queried_at, payment receipt, stored_at, last_access) with running
    totals, and the files under <data dir>/cache/ (ca_blobs: same layout
    and crash safety as the content store, but a separate directory and
    table: evicting never touches stored content).

    Requests: schemas/cache.proto. A put or a get counts as a use; a has
    does not.

    LRU order: `last_access` is a counter, not a clock: every put and get
    sets it to the largest value in the table plus one, inside the writer's
    transaction, so the order of uses is the order the single writer
    committed them, exact even when several workers serve at once (two uses
    in the same millisecond still have an order). That is why CacheGet is a
    write: it is answered after its use is committed, so a CacheEvict sent
    after a CacheGet's answer never evicts what that get just used.

    Eviction walks the last_access index from the oldest entry, one
    entry at a time, until the freed bytes cover the excess (a recursive
    query), so its cost follows the entries it removes, not the size of the
    cache. After every CachePut the cache is trimmed to cache_max_bytes in
    the same transaction; an entry larger than the whole budget is refused.
    Files of evicted entries are removed once the eviction has committed.

    A corrupt entry (its file missing or not matching its hash) is answered
    CORRUPT and dropped: a cache can always fetch again.
    ========================================================================= */

#include "cache.h"
#include "ca_clock.h"
#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_names.h"
#include "ca_validate.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static const char *const s_migrations[] = {
    //  1: entries, their LRU order and running totals
    "CREATE TABLE cache_entries ("
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    "  size INTEGER NOT NULL CHECK (size >= 0),"
    "  source_peer TEXT NOT NULL,"
    "  queried_at REAL NOT NULL,"
    "  receipt BLOB NOT NULL,"
    "  stored_at REAL NOT NULL,"
    "  last_access INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX cache_by_access ON cache_entries (last_access);"
    "CREATE TABLE cache_totals ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  entries INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL"
    ");"
    "INSERT INTO cache_totals VALUES (1, 0, 0);"
    "CREATE TRIGGER cache_entry_added AFTER INSERT ON cache_entries BEGIN"
    "  UPDATE cache_totals SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 1;"
    " END;"
    "CREATE TRIGGER cache_entry_removed AFTER DELETE ON cache_entries BEGIN"
    "  UPDATE cache_totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 1;"
    " END;",
};

const ca_schema_t cache_schema = {
    .store = "cache",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

//  Deletes least recently used entries until at most ?1 bytes remain and
//  returns (hash, size) of each. `victims` walks last_access upwards from
//  the oldest entry through the unique index, adding up sizes, and stops
//  once they cover the excess.
#define EVICT_SQL                                                                                  \
    "WITH RECURSIVE"                                                                               \
    " excess(need) AS (SELECT bytes - ?1 FROM cache_totals WHERE id = 1),"                         \
    " victims(hash, last_access, freed) AS ("                                                      \
    "  SELECT hash, last_access, size FROM cache_entries"                                          \
    "   WHERE (SELECT need FROM excess) > 0 AND last_access ="                                     \
    "    (SELECT min(last_access) FROM cache_entries)"                                             \
    "  UNION ALL"                                                                                  \
    "  SELECT e.hash, e.last_access, v.freed + e.size FROM victims v, cache_entries e"             \
    "   WHERE v.freed < (SELECT need FROM excess) AND e.last_access ="                             \
    "    (SELECT min(last_access) FROM cache_entries WHERE last_access > v.last_access))"          \
    " DELETE FROM cache_entries WHERE hash IN (SELECT hash FROM victims) RETURNING hash, size"

//  The next use in LRU order.
#define NEXT_ACCESS_SQL "(SELECT coalesce(max(last_access), 0) + 1 FROM cache_entries)"

static ca_blobs_t *s_blobs(ca_store_t *store) {
    return (ca_blobs_t *)ca_store_state(store);
}

//  ca_blob_wanted_fn: is there (again) an entry for this hash?
static bool s_entry_exists(void *store, const uint8_t hash[CA_SHA256_BYTES]) {
    sqlite3_stmt *stmt =
        ca_store_prepare((ca_store_t *)store, "SELECT 1 FROM cache_entries WHERE hash = ?1", NULL);
    if (!stmt)
        return true; //  cannot tell: keep the file
    sqlite3_bind_blob(stmt, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc != SQLITE_DONE; //  on a read error keep the file
}

static Cairn__CacheEvicted *s_evicted_answer(ca_reply_t *reply, Cairn__Response__BodyCase body) {
    Cairn__CacheEvicted *evicted =
        (Cairn__CacheEvicted *)ca_reply_alloc(reply, sizeof(Cairn__CacheEvicted));
    cairn__cache_evicted__init(evicted);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_CACHE_EVICT)
        response->cache_evict = evicted;
    else
        response->cache_clear = evicted;
    return evicted;
}

//  ---- put -------------------------------------------------------------------------

//  Checks a CachePut's fields other than the bytes; false with the reply set.
static bool s_put_fields_ok(ca_store_t *store, const Cairn__CachePut *put, ca_reply_t *reply) {
    if (!ca_blob_store_hash_ok(&put->hash, "hash", reply))
        return false;
    const char *problem = ca_validate_peer_id(put->source_peer);
    if (problem) {
        ca_reply_error(reply, CA_INVALID, "source_peer: %s", problem);
        return false;
    }
    if (!isfinite(put->queried_at) || put->queried_at < 0) {
        ca_reply_error(reply, CA_INVALID, "queried_at must be unix seconds (0 or more)");
        return false;
    }
    if (put->receipt.len > CA_CACHE_RECEIPT_MAX) {
        ca_reply_error(reply, CA_INVALID, "receipt is %zu bytes; at most %d are kept",
                       put->receipt.len, CA_CACHE_RECEIPT_MAX);
        return false;
    }
    int64_t budget = ca_store_settings(store)->cache_max_bytes;
    if (budget > 0 && put->data.len > (uint64_t)budget) {
        ca_reply_error(reply, CA_INVALID,
                       "the entry holds %zu bytes, more than the whole cache (cache_max_bytes "
                       "%lld); raise cache_max_bytes to cache it",
                       put->data.len, (long long)budget);
        return false;
    }
    return true;
}

static void s_cache_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CachePut *put = request->cache_put;
    if (!s_put_fields_ok(store, put, reply))
        return;
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(put->data.data, put->data.len, hash);
    if (memcmp(hash, put->hash.data, CA_SHA256_BYTES) != 0) {
        ca_reply_error(reply, CA_INVALID,
                       "the content does not match its hash; nothing was cached (the peer sent "
                       "other bytes than it announced)");
        return;
    }
    if (!ca_blob_store_size_ok(store, put->data.len, "nothing was cached", reply) ||
        !ca_blob_store_disk_ok(store, s_blobs(store), put->data.len, reply))
        return;
    //  The bytes are written even when a file exists: its temp name keeps
    //  them safe from an eviction racing on another worker (see ca_blobs.h).
    ca_upload_t *upload =
        ca_blob_store_upload(s_blobs(store), put->data.data, put->data.len, hash, reply);
    if (!upload)
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT count(*) FROM cache_entries WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_statement(write,
                       "INSERT INTO cache_entries (hash, size, source_peer, queried_at, receipt,"
                       " stored_at, last_access) VALUES (?1, ?2, ?3, ?4, ?5, ?6, " NEXT_ACCESS_SQL
                       ") ON CONFLICT (hash) DO UPDATE SET source_peer = excluded.source_peer,"
                       " queried_at = excluded.queried_at, receipt = excluded.receipt,"
                       " stored_at = excluded.stored_at, last_access = excluded.last_access",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the cache entry was not written; retry");
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_int(write, (int64_t)put->data.len);
    ca_write_text(write, put->source_peer);
    ca_write_real(write, put->queried_at);
    ca_write_blob(write, put->receipt.data, put->receipt.len);
    ca_write_real(write, ca_now_seconds());
    int64_t budget = ca_store_settings(store)->cache_max_bytes;
    if (budget > 0) {
        ca_write_statement(write, EVICT_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_want_rows(write);
        ca_write_int(write, budget);
    }
    ca_blob_store_publish(store, s_blobs(store), &upload, hash, &write, s_entry_exists, reply);
}

static void s_cache_put_done(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__Internal__BlobContext *context = ca_blob_store_settle(s_blobs(store), write, reply);
    if (!context)
        return;
    cairn__internal__blob_context__free_unpacked(context, NULL);
    Cairn__CacheStored *stored =
        (Cairn__CacheStored *)ca_reply_alloc(reply, sizeof(Cairn__CacheStored));
    cairn__cache_stored__init(stored);
    const Cairn__Internal__StatementResult *count = write->n_results ? write->results[0] : NULL;
    stored->replaced = count && count->n_rows == 1 && count->rows[0]->n_values == 1 &&
                       count->rows[0]->values[0]->integer > 0;
    ca_blob_store_unlink_rows(store, s_blobs(store), write, 2, s_entry_exists,
                              &stored->evicted_entries, &stored->evicted_bytes);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CACHE_PUT;
    response->cache_put = stored;
}

//  ---- get, has -----------------------------------------------------------------------

//  A get is a use: bump last_access and read the entry back in one write.
static void s_cache_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CacheGet *get = request->cache_get;
    if (!ca_blob_store_hash_ok(&get->hash, "hash", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "UPDATE cache_entries SET last_access = " NEXT_ACCESS_SQL
                       " WHERE hash = ?1 RETURNING source_peer, queried_at, receipt, size,"
                       " stored_at, last_access",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       "no cache entry with this hash; fetch it from a peer");
    ca_write_want_rows(write);
    ca_write_blob(write, get->hash.data, CA_SHA256_BYTES);
    ca_store_write(store, &write, reply);
}

static bool s_never_wanted(void *store, const uint8_t hash[CA_SHA256_BYTES]) {
    return false;
}

//  Drops a corrupt entry: its file at once (it must never be served), then
//  its row. A get that meets the row alone answers CORRUPT and drops again.
static void s_drop_entry(ca_store_t *store, const uint8_t *hash) {
    ca_blobs_unlink_if_unwanted(s_blobs(store), hash, s_never_wanted, NULL);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM cache_entries WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    if (ca_store_write_internal(store, &write) != 0)
        ca_log_warning("cache: the writer is full; a corrupt entry stays until evicted");
}

//  A REAL column read back through RETURNING may arrive as an integer
//  (SQLite keeps whole REAL values as integers): take either.
static double s_real(const Cairn__Internal__SqlValue *value) {
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return (double)value->integer;
    return value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL ? value->real : 0;
}

static void s_cache_got(ca_store_t *store, const Cairn__Request *request,
                        const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__CacheGet *get = request->cache_get;
    const Cairn__Internal__StatementResult *result = write->n_results ? write->results[0] : NULL;
    if (!result || result->n_rows != 1 || result->rows[0]->n_values != 6) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the cache entry; retry");
        return;
    }
    Cairn__Internal__SqlValue **values = result->rows[0]->values;
    Cairn__CacheEntry *entry =
        (Cairn__CacheEntry *)ca_reply_alloc(reply, sizeof(Cairn__CacheEntry));
    cairn__cache_entry__init(entry);
    entry->hash = get->hash;
    entry->source_peer = ca_reply_strdup(reply, values[0]->text ? values[0]->text : "");
    entry->queried_at = s_real(values[1]);
    entry->receipt.len = values[2]->blob.len;
    entry->receipt.data =
        (uint8_t *)ca_reply_memdup(reply, values[2]->blob.data, values[2]->blob.len);
    entry->size = (uint64_t)values[3]->integer;
    entry->stored_at = s_real(values[4]);
    entry->last_access = (uint64_t)values[5]->integer;
    uint8_t *data = (uint8_t *)ca_reply_alloc_large(reply, (size_t)entry->size);
    if (!data)
        return;
    char *error = NULL;
    ca_status_t status = ca_blobs_read_all(s_blobs(store), get->hash.data, data, entry->size,
                                           !get->skip_verify, &error);
    if (status == CA_NOT_FOUND || status == CA_CORRUPT) {
        ca_reply_error(reply, CA_CORRUPT,
                       "the cached copy is damaged (%s); it was dropped: fetch it from a peer "
                       "again",
                       error);
        s_drop_entry(store, get->hash.data);
    } else if (status != CA_OK)
        ca_reply_error(reply, status, "cannot read the cached copy: %s", error);
    zstr_free(&error);
    if (status != CA_OK)
        return;
    entry->data.data = data;
    entry->data.len = (size_t)entry->size;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CACHE_GET;
    response->cache_get = entry;
}

static void s_cache_has(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CacheHas *has = request->cache_has;
    if (!ca_blob_store_hash_ok(&has->hash, "hash", reply))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT size FROM cache_entries WHERE hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, has->hash.data, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        Cairn__CachePresence *presence =
            (Cairn__CachePresence *)ca_reply_alloc(reply, sizeof(Cairn__CachePresence));
        cairn__cache_presence__init(presence);
        presence->cached = rc == SQLITE_ROW;
        presence->size = presence->cached ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_CACHE_HAS;
        response->cache_has = presence;
    } else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the cache: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
}

//  ---- evict, clear, stats ------------------------------------------------------------

static void s_cache_evict(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    if (request->cache_evict->max_bytes > INT64_MAX) {
        ca_reply_error(reply, CA_INVALID, "max_bytes is over 2^63-1");
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, EVICT_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_int(write, (int64_t)request->cache_evict->max_bytes);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_cache_clear(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM cache_entries RETURNING hash, size",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

//  Evict and clear: remove the files of the rows the write returned.
static void s_cache_evicted(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__CacheEvicted *evicted =
        s_evicted_answer(reply, request->body_case == CAIRN__REQUEST__BODY_CACHE_EVICT
                                    ? CAIRN__RESPONSE__BODY_CACHE_EVICT
                                    : CAIRN__RESPONSE__BODY_CACHE_CLEAR);
    ca_blob_store_unlink_rows(store, s_blobs(store), write, 0, s_entry_exists, &evicted->entries,
                              &evicted->bytes);
}

static void s_cache_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT entries, bytes FROM cache_totals WHERE id = 1", reply);
    if (!stmt)
        return;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the cache totals: %s",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
        sqlite3_reset(stmt);
        return;
    }
    Cairn__CacheStatsReply *stats =
        (Cairn__CacheStatsReply *)ca_reply_alloc(reply, sizeof(Cairn__CacheStatsReply));
    cairn__cache_stats_reply__init(stats);
    stats->entries = (uint64_t)sqlite3_column_int64(stmt, 0);
    stats->bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    stats->max_bytes = (uint64_t)ca_store_settings(store)->cache_max_bytes;
    sqlite3_reset(stmt);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CACHE_STATS;
    response->cache_stats = stats;
}

//  ---- the store -------------------------------------------------------------------------

static char *s_prepare(const char *data_dir) {
    char *error = ca_blobs_prepare(data_dir, CA_CACHE_DIR);
    return error ? error : ca_blob_store_sweep(data_dir, CA_CACHE_DIR, "cache_entries", NULL);
}

static void *s_state_new(ca_store_t *store, char **error) {
    return ca_blobs_open(ca_store_data_dir(store), CA_CACHE_DIR, error);
}

static void s_state_destroy(void **state_p) {
    ca_blobs_destroy((ca_blobs_t **)state_p);
}

static void s_write_failed(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write) {
    ca_blob_store_undo(store, s_blobs(store), write, s_entry_exists);
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_CACHE_PUT, "cache_put", s_cache_put, s_cache_put_done, 0},
    {CAIRN__REQUEST__BODY_CACHE_GET, "cache_get", s_cache_get, s_cache_got, 0},
    {CAIRN__REQUEST__BODY_CACHE_HAS, "cache_has", s_cache_has, NULL, 0},
    {CAIRN__REQUEST__BODY_CACHE_EVICT, "cache_evict", s_cache_evict, s_cache_evicted, 0},
    {CAIRN__REQUEST__BODY_CACHE_CLEAR, "cache_clear", s_cache_clear, s_cache_evicted, 0},
    {CAIRN__REQUEST__BODY_CACHE_STATS, "cache_stats", s_cache_stats, NULL, 0},
};

const ca_store_def_t cache_store_def = {
    .name = "cache",
    .schema = &cache_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .queue_max = CA_CONTENT_QUEUE_MAX,
    .prepare = s_prepare,
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
    .write_failed = s_write_failed,
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

#include <unistd.h>

//  Entry number n: `size` bytes starting with n, its hash in `hash`.
static void *s_entry_data(int n, size_t size, uint8_t hash[32]) {
    uint8_t *data = (uint8_t *)zmalloc(size ? size : 1);
    memset(data, 'a' + n % 26, size);
    if (size >= sizeof n)
        memcpy(data, &n, sizeof n);
    ca_sha256(data, size, hash);
    return data;
}

static Cairn__Response *s_put(ca_testbed_t *bed, int n, size_t size) {
    uint8_t hash[32];
    void *data = s_entry_data(n, size, hash);
    Cairn__Request request;
    Cairn__CachePut put;
    ca_request_cache_put(&request, &put, 0, hash, 32, data, size, "peer-1",
                         n % 2 ? 1700000000 : 1700000000.5, "receipt", 7);
    Cairn__Response *response = ca_testbed_send(bed, &request);
    free(data);
    return response;
}

//  Puts entry n; returns how many entries it evicted.
static uint64_t s_put_ok(ca_testbed_t *bed, int n, size_t size) {
    Cairn__Response *response = ca_testbed_ok(s_put(bed, n, size), CAIRN__RESPONSE__BODY_CACHE_PUT);
    uint64_t evicted = response->cache_put->evicted_entries;
    cairn__response__free_unpacked(response, NULL);
    return evicted;
}

static Cairn__Response *s_get(ca_testbed_t *bed, int n, size_t size) {
    uint8_t hash[32];
    free(s_entry_data(n, size, hash));
    Cairn__Request request;
    Cairn__CacheGet get;
    ca_request_cache_get(&request, &get, 0, hash, 32, false);
    return ca_testbed_send(bed, &request);
}

static bool s_cached(ca_testbed_t *bed, int n, size_t size) {
    uint8_t hash[32];
    free(s_entry_data(n, size, hash));
    Cairn__Request request;
    Cairn__CacheHas has;
    ca_request_cache_has(&request, &has, 0, hash, 32);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CACHE_HAS);
    bool cached = response->cache_has->cached;
    assert(!cached || response->cache_has->size == size);
    cairn__response__free_unpacked(response, NULL);
    return cached;
}

static Cairn__CacheEvicted s_evict(ca_testbed_t *bed, uint64_t max_bytes, bool clear) {
    Cairn__Request request;
    Cairn__CacheEvict evict;
    Cairn__CacheClear clear_body;
    if (clear)
        ca_request_cache_clear(&request, &clear_body, 0);
    else
        ca_request_cache_evict(&request, &evict, 0, max_bytes);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), clear ? CAIRN__RESPONSE__BODY_CACHE_CLEAR
                                                            : CAIRN__RESPONSE__BODY_CACHE_EVICT);
    Cairn__CacheEvicted evicted = *(clear ? response->cache_clear : response->cache_evict);
    cairn__response__free_unpacked(response, NULL);
    return evicted;
}

static void s_stats_expect(ca_testbed_t *bed, uint64_t entries, uint64_t bytes) {
    Cairn__Request request;
    Cairn__CacheStats stats;
    ca_request_cache_stats(&request, &stats, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CACHE_STATS);
    assert(response->cache_stats->entries == entries && response->cache_stats->bytes == bytes);
    cairn__response__free_unpacked(response, NULL);
}

//  The files under cache/<xx>/ (one per entry when nothing is pending).
static size_t s_cache_files(ca_testbed_t *bed) {
    size_t count = 0;
    char *root = zsys_sprintf("%s/cache", ca_testbed_dir(bed));
    zdir_t *dir = zdir_new(root, NULL);
    zlist_t *files = dir ? zdir_list(dir) : NULL;
    for (zfile_t *file = files ? (zfile_t *)zlist_first(files) : NULL; file;
         file = (zfile_t *)zlist_next(files)) {
        const char *name = zfile_filename(file, root);
        count += strlen(name) == 67 && name[2] == '/';
    }
    zlist_destroy(&files);
    zdir_destroy(&dir);
    zstr_free(&root);
    return count;
}

static void s_test_entries(ca_testbed_t *bed) {
    //  Put, get (with every field), has, replace.
    assert(s_put_ok(bed, 1, 100) == 0);
    Cairn__Response *response = ca_testbed_ok(s_get(bed, 1, 100), CAIRN__RESPONSE__BODY_CACHE_GET);
    const Cairn__CacheEntry *entry = response->cache_get;
    assert(entry->size == 100 && entry->data.len == 100 && streq(entry->source_peer, "peer-1"));
    assert(entry->queried_at == 1700000000 && entry->receipt.len == 7); //  a whole number
    assert(memcmp(entry->receipt.data, "receipt", 7) == 0 && entry->stored_at > 0);
    uint64_t first_access = entry->last_access;
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(s_get(bed, 1, 100), CAIRN__RESPONSE__BODY_CACHE_GET);
    assert(response->cache_get->last_access > first_access); //  a get is a use
    cairn__response__free_unpacked(response, NULL);
    assert(s_cached(bed, 1, 100) && !s_cached(bed, 2, 100));
    response = ca_testbed_ok(s_put(bed, 1, 100), CAIRN__RESPONSE__BODY_CACHE_PUT);
    assert(response->cache_put->replaced);
    cairn__response__free_unpacked(response, NULL);
    s_stats_expect(bed, 1, 100);
    assert(s_put_ok(bed, 2, 0) == 0); //  empty content is content too
    assert(s_cached(bed, 2, 0));
    ca_testbed_fails(s_get(bed, 3, 10), CAIRN__STATUS__NOT_FOUND, "fetch it from a peer");

    //  Wrong hash, bad fields: refused, nothing cached.
    uint8_t hash[32];
    void *data = s_entry_data(4, 50, hash);
    hash[5] ^= 1;
    Cairn__Request request;
    Cairn__CachePut put;
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "peer-1", 1, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID,
                     "does not match its hash");
    hash[5] ^= 1;
    ca_request_cache_put(&request, &put, 0, hash, 31, data, 50, "peer-1", 1, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "32 bytes");
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "../etc", 1, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "source_peer");
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "", 1, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "source_peer");
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "peer-1", -1, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "queried_at");
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "peer-1", NAN, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "queried_at");
    void *receipt = zmalloc(CA_CACHE_RECEIPT_MAX + 1);
    ca_request_cache_put(&request, &put, 0, hash, 32, data, 50, "peer-1", 1, receipt,
                         CA_CACHE_RECEIPT_MAX + 1);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "receipt");
    free(receipt);
    free(data);
    assert(!s_cached(bed, 4, 50));
    Cairn__CacheGet get;
    ca_request_cache_get(&request, &get, 0, hash, 0, false);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "hash");
    Cairn__CacheHas has;
    uint8_t wide[33] = {0};
    ca_request_cache_has(&request, &has, 0, wide, sizeof wide);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "hash");

    //  A damaged copy is reported and dropped.
    free(s_entry_data(1, 100, hash));
    char hex[65];
    ca_hash_to_hex(hash, hex);
    char *path = zsys_sprintf("%s/cache/%.2s/%s", ca_testbed_dir(bed), hex, hex);
    FILE *file = fopen(path, "r+");
    assert(file && fputc('!', file) == '!');
    fclose(file);
    ca_testbed_fails(s_get(bed, 1, 100), CAIRN__STATUS__CORRUPT, "dropped");
    int64_t deadline = zclock_mono() + 5000;
    while (s_cached(bed, 1, 100) && zclock_mono() < deadline)
        zclock_sleep(5); //  polls for the drop, bounded
    assert(!s_cached(bed, 1, 100));
    zstr_free(&path);

    Cairn__CacheEvicted cleared = s_evict(bed, 0, true);
    assert(cleared.entries == 1 && cleared.bytes == 0);
    s_stats_expect(bed, 0, 0);
    assert(s_cache_files(bed) == 0);
}

//  Exactly the least recently used entries go, down to the budget.
static void s_test_lru(ca_testbed_t *bed) {
    for (int n = 0; n < 10; n++)
        assert(s_put_ok(bed, n, 1000) == 0);
    //  Use 0, 2 and 4 again: the order of use is now 1 3 5 6 7 8 9 0 2 4.
    for (int n = 0; n <= 4; n += 2)
        cairn__response__free_unpacked(
            ca_testbed_ok(s_get(bed, n, 1000), CAIRN__RESPONSE__BODY_CACHE_GET), NULL);
    assert(s_cached(bed, 1, 1000)); //  Has is not a use
    Cairn__CacheEvicted evicted = s_evict(bed, 6500, false);
    assert(evicted.entries == 4 && evicted.bytes == 4000);
    int kept[] = {0, 2, 4, 7, 8, 9}, gone[] = {1, 3, 5, 6};
    for (size_t i = 0; i < 6; i++)
        assert(s_cached(bed, kept[i], 1000));
    for (size_t i = 0; i < 4; i++)
        assert(!s_cached(bed, gone[i], 1000));
    assert(s_cache_files(bed) == 6);
    s_stats_expect(bed, 6, 6000);
    evicted = s_evict(bed, 6000, false);
    assert(evicted.entries == 0);
    evicted = s_evict(bed, 0, false);
    assert(evicted.entries == 6 && evicted.bytes == 6000);
    assert(s_cache_files(bed) == 0);
}

//  cache_max_bytes is kept after every put.
static void s_test_budget(void) {
    ca_store_settings_t settings = ca_testbed_settings();
    settings.cache_max_bytes = 3500;
    ca_testbed_t *bed = ca_testbed_new_full(&cache_store_def, NULL, 0, &settings);
    assert(s_put_ok(bed, 0, 1000) == 0);
    assert(s_put_ok(bed, 1, 1000) == 0);
    assert(s_put_ok(bed, 2, 1000) == 0);
    cairn__response__free_unpacked(
        ca_testbed_ok(s_get(bed, 0, 1000), CAIRN__RESPONSE__BODY_CACHE_GET), NULL);
    assert(s_put_ok(bed, 3, 1000) == 1); //  4000 > 3500: the oldest use (1) goes
    assert(!s_cached(bed, 1, 1000) && s_cached(bed, 0, 1000) && s_cached(bed, 3, 1000));
    assert(s_put_ok(bed, 4, 3000) == 3); //  6000 > 3500: 2, 0 and 3 go (in order of use)
    assert(s_cached(bed, 4, 3000) && !s_cached(bed, 3, 1000));
    s_stats_expect(bed, 1, 3000);
    ca_testbed_fails(s_put(bed, 5, 3501), CAIRN__STATUS__INVALID, "more than the whole cache");
    assert(s_cache_files(bed) == 1);
    ca_testbed_destroy(&bed);
}

void cache_test(bool verbose) {
    if (verbose)
        printf(" * cache: ");
    ca_testbed_t *bed = ca_testbed_new(&cache_store_def);
    s_test_entries(bed);
    s_test_lru(bed);
    ca_testbed_destroy(&bed);
    s_test_budget();
    if (verbose)
        printf("OK\n");
}

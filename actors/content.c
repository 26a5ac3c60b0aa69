/*  =========================================================================
    content - blobs addressed by their SHA-256: stored once, verified,
    streamed in chunks

    What it owns: the `content_blobs` index (hash, size, stored_at: when
    bytes were last written for it) with its running totals, the bytes of
    small blobs (`content_inline`, below), and the blob files under
    <data dir>/content/ (ca_blobs: layout, crash safety, the
    delete/put race). A blob is
    visible only once its index row has committed; its file is in place
    before that. Whether blobs are what their hashes say is the part of
    content_integrity.c, a private class of which each worker holds one:
    verified ranged reads, ContentCheck with its repair, and the answer to
    a read that meets a missing or corrupt file.

    Requests: schemas/content.proto (hashes are 32 raw bytes). A whole
    blob travels in one answer up to 64 MiB (ContentGet); larger ones are
    read in ranges of at most 16 MiB.

    Streams: an upload stream is state of one worker (its temp file and
    running hash), so every request naming a stream must reach that worker.
    The worker makes stream ids with id % workers == its index, and the
    stream rows ask the gateway to route by stream_id (route_field), which
    picks worker id % workers. A stream that has not received
    CA_CONTENT_RENEW_BYTES for stream_timeout_ms is dropped by the
    worker's tick, with its bytes (so a trickle of tiny chunks cannot hold
    a slot). A blob is at most max_blob_bytes, and blob bytes are refused
    before they are written when the disk would keep less than
    min_free_bytes (ca_blob_store_disk_ok).

    Verified ranged reads: ContentRead routes by hash, so a client reading
    a blob in order meets the same worker every time. The worker's
    content_integrity keeps a running hash per (blob, next offset) for a
    few such readers; the range that reaches the end is checked against
    the hash, and answered CORRUPT instead of its bytes if it does not
    match. Ranges read out of order are served unverified (`verified`
    stays false), as is skip_verify.

    Small blobs are inline. A ContentPut of at most CA_CONTENT_INLINE_MAX
    (16 KiB) bytes keeps them in the `content_inline` table (hash, data;
    migration 2) in the same write that adds the index row, so they are
    committed with the writer's batch: no file, no fsync of their own, as
    durable as any row (kill -9 with synchronous=normal, power loss with
    full). Larger puts, and every stream whatever its size (kept simple:
    its bytes are already in a temp file), are files as before. A blob is
    one kind at a time: a put that rewrites a damaged file blob makes it
    inline and removes the file; a stream that rewrites damaged inline
    bytes deletes them in its row's write and makes it a file. Reads look
    up size and inline bytes in one statement (one read transaction);
    removing the index row removes the inline bytes (trigger), so delete,
    the quota guard, the totals and ContentCheck's repair (which drops a
    corrupt inline row as it drops a corrupt file's row; nothing goes to
    quarantine/) are the same for both. The start sweep walks files only
    and never sees inline blobs; `cairnd check` hashes their bytes.

    Why 16 KiB, by measurement (cairn-bench node.content_put.4k, and the
    same case with its size overridden and the inline threshold raised to
    256 KiB, against the file path of 3397c12; two alternating runs each on
    the shared 2-core machine; bench/RESULTS.md "Issue 13: small blobs
    inline"):

        blob     files (puts/s)   inline (puts/s)   ratio
        4 KiB     326, 1703        5733, 6380        3.7 - 17x
        16 KiB    774, 653         2954, 2607        3.8 - 4.0x
        64 KiB    569, 441         1134, 1139        2.0 - 2.6x
        256 KiB   273, 307          330, 337         1.1 - 1.2x

    The gain shrinks with size while the costs grow: inline bytes pass
    through the one writer (a large blob delays every store's batch),
    are written twice (WAL, then checkpoint), and leave free pages in
    cairn.db until VACUUM, where a deleted file frees its disk at once.
    16 KiB keeps most of the gain for small blobs and leaves anything
    larger to files. The peer-content cache (cache.c) stays on files.

    Memory: a worker holds at most one request's bytes (a put, a chunk or a
    range) plus 1 MiB while checking; a blob is never held whole unless it
    fits one frame. The pool's queue is CA_CONTENT_QUEUE_MAX requests per
    worker, and queue_bytes per worker of those over 64 KiB (gateway_bytes.c).
    Each worker's read connection keeps a page cache of
    CA_CONTENT_READ_CACHE_KIB for inline blobs and maps cairn.db
    (CA_CONTENT_READ_MMAP_BYTES; file pages, counted in VmRSS as RssFile).
    ========================================================================= */

#include "content.h"
#include "ca_clock.h"
#include "content_integrity.h"
#include "ca_blob_store.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_validate.h"

#include <assert.h>
#include <dirent.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#define CA_CONTENT_READ_CACHE_KIB  "16384"
#define CA_CONTENT_READ_MMAP_BYTES "1073741824" //  1 GiB

static const char *const s_migrations[] = {
    //  1: the index and its running totals (kept by triggers, so ContentStats
    //  reads one row however many blobs there are).
    "CREATE TABLE content_blobs ("
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    "  size INTEGER NOT NULL CHECK (size >= 0),"
    "  stored_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE content_totals ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  blobs INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL"
    ");"
    "INSERT INTO content_totals VALUES (1, 0, 0);"
    "CREATE TRIGGER content_blob_added AFTER INSERT ON content_blobs BEGIN"
    "  UPDATE content_totals SET blobs = blobs + 1, bytes = bytes + NEW.size WHERE id = 1;"
    " END;"
    "CREATE TRIGGER content_blob_removed AFTER DELETE ON content_blobs BEGIN"
    "  UPDATE content_totals SET blobs = blobs - 1, bytes = bytes - OLD.size WHERE id = 1;"
    " END;",
    //  2: the bytes of small blobs (inline, see the banner). A row here
    //  always has its content_blobs row; removing that removes this.
    "CREATE TABLE content_inline ("
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    "  data BLOB NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER content_inline_removed AFTER DELETE ON content_blobs BEGIN"
    "  DELETE FROM content_inline WHERE hash = OLD.hash;"
    " END;",
    //  3: arrivals, the cursor of ContentSubscribe: n grows in commit order
    //  and is never reused (AUTOINCREMENT); a new row of the index is an
    //  arrival (a put of a stored blob updates the row: none), a removed
    //  one takes its arrival along. Blobs stored before: in stored order.
    "CREATE TABLE content_arrivals ("
    "  n INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  hash BLOB NOT NULL UNIQUE"
    ");"
    "INSERT INTO content_arrivals (hash) SELECT hash FROM content_blobs ORDER BY stored_at, hash;"
    "CREATE TRIGGER content_arrived AFTER INSERT ON content_blobs BEGIN"
    "  INSERT INTO content_arrivals (hash) VALUES (NEW.hash);"
    " END;"
    "CREATE TRIGGER content_departed AFTER DELETE ON content_blobs BEGIN"
    "  DELETE FROM content_arrivals WHERE hash = OLD.hash;"
    " END;",
};

const ca_schema_t content_schema = {
    .store = "content",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

typedef struct {
    uint64_t id; //  0: free slot
    ca_upload_t *upload;
    uint8_t expected[CA_SHA256_BYTES];
    bool has_expected;
    int64_t last_used;  //  zclock_mono: Begin, then each CA_CONTENT_RENEW_BYTES received
    uint64_t unrenewed; //  bytes received since last_used was set
    uint8_t owner[256]; //  the routing id of the client that began it
    size_t owner_size;
} stream_t;

typedef struct {
    ca_blobs_t *blobs;
    stream_t streams[CA_CONTENT_STREAMS_MAX];
    content_integrity_t *integrity; //  verified reads, ContentCheck
} content_state_t;

static content_state_t *s_state(ca_store_t *store) {
    return (content_state_t *)ca_store_state(store);
}

//  ---- validation and lookups ------------------------------------------------------

//  An answer of `size` bytes could not be allocated.
static void s_no_memory_for(ca_reply_t *reply, uint64_t size) {
    ca_reply_error(reply, CA_INTERNAL,
                   "the node ran out of memory for an answer of %" PRIu64
                   " bytes; read it in smaller ranges (ContentRead) or retry later",
                   size);
}

//  Looks a blob up in the index: 1 found (with *size, and *is_inline when
//  given: its bytes are in content_inline), 0 absent, -1 error (the reply
//  says so).
static int s_lookup_kind(ca_store_t *store, const uint8_t *hash, uint64_t *size, bool *is_inline,
                         ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT size, EXISTS (SELECT 1 FROM content_inline WHERE hash = ?1)"
                         " FROM content_blobs WHERE hash = ?1",
                         reply);
    if (!stmt)
        return -1;
    sqlite3_bind_blob(stmt, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        *size = (uint64_t)sqlite3_column_int64(stmt, 0);
        if (is_inline)
            *is_inline = sqlite3_column_int(stmt, 1) != 0;
    } else if (found < 0 && reply)
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the content index: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    return found;
}

static int s_lookup(ca_store_t *store, const uint8_t *hash, uint64_t *size, ca_reply_t *reply) {
    return s_lookup_kind(store, hash, size, NULL, reply);
}

//  The indexed size of a blob that must be there, for a read; false with
//  the reply NOT_FOUND (or the read error) otherwise. When its bytes are
//  inline, *inline_row is the statement left on its row (column 1 holds
//  them; one read transaction for the lookup and the bytes), which the
//  caller releases with s_release_row; else NULL.
static bool s_require_blob(ca_store_t *store, const uint8_t *hash, uint64_t *size,
                           sqlite3_stmt **inline_row, ca_reply_t *reply) {
    *inline_row = NULL;
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT b.size, i.data FROM content_blobs b"
                                          " LEFT JOIN content_inline i ON i.hash = b.hash"
                                          " WHERE b.hash = ?1",
                                          reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *size = (uint64_t)sqlite3_column_int64(stmt, 0);
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
            *inline_row = stmt;
            return true;
        }
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "no blob with this hash is stored");
    else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the content index: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static void s_release_row(sqlite3_stmt **row_p) {
    if (*row_p)
        sqlite3_reset(*row_p);
    *row_p = NULL;
}

//  Copies bytes [offset, offset + length) of the inline row into `data`:
//  CA_OK, or CA_CORRUPT with *error when the stored bytes are not of the
//  indexed `size`.
static ca_status_t s_inline_copy(sqlite3_stmt *row, uint64_t size, uint64_t offset, void *data,
                                 size_t length, char **error) {
    uint64_t stored = (uint64_t)sqlite3_column_bytes(row, 1);
    const uint8_t *bytes = (const uint8_t *)sqlite3_column_blob(row, 1);
    if (stored != size) {
        *error = zsys_sprintf("its inline bytes are %" PRIu64 " long, its row says %" PRIu64,
                              stored, size);
        return CA_CORRUPT;
    }
    if (length)
        memcpy(data, bytes + offset, length);
    return CA_OK;
}

//  ca_blob_wanted_fn: is there (again) a row for this blob?
static bool s_row_exists(void *store, const uint8_t hash[CA_SHA256_BYTES]) {
    uint64_t size;
    //  On a read error keep the file: a missing row is repaired by a check,
    //  a missing file is lost data.
    return s_lookup((ca_store_t *)store, hash, &size, NULL) != 0;
}

//  ca_blob_wanted_fn for files: is there a row whose bytes are a file (not
//  inline)? True when it cannot tell.
static bool s_file_wanted(void *store, const uint8_t hash[CA_SHA256_BYTES]) {
    uint64_t size;
    bool is_inline = false;
    int found = s_lookup_kind((ca_store_t *)store, hash, &size, &is_inline, NULL);
    return found < 0 || (found == 1 && !is_inline);
}

//  Stored and intact, so a put may skip the rewrite: indexed, and its file
//  (or inline bytes) has the indexed size (given back in *size) and hashes
//  to its name. The hash is checked because bytes that rotted in place keep
//  their size: a put of the right bytes must replace them, not be answered
//  deduplicated. This reads the bytes once, as the put would have written
//  them.
static bool s_stored_intact(ca_store_t *store, const uint8_t *hash, uint64_t *size) {
    ca_blobs_t *blobs = s_state(store)->blobs;
    uint64_t on_disk = 0;
    bool is_inline = false;
    if (s_lookup_kind(store, hash, size, &is_inline, NULL) != 1)
        return false;
    if (is_inline)
        return content_inline_verify(store, hash, *size, true, NULL) == CA_OK;
    if (!ca_blobs_file_size(blobs, hash, &on_disk) || on_disk != *size)
        return false;
    char *path = ca_blobs_path(blobs, hash);
    char *error = NULL;
    bool matches = false;
    if (ca_blobs_verify_file(blobs, path, hash, &matches, &on_disk, &error) != CA_OK) {
        ca_log_warning("content: %s; writing the blob again", error);
        zstr_free(&error);
        matches = false;
    } else if (!matches)
        ca_log_warning("content: %s does not hash to its name; a put replaces it", path);
    zstr_free(&path);
    return matches && on_disk == *size;
}

//  The same, for bytes of a known size.
static bool s_already_stored(ca_store_t *store, const uint8_t *hash, uint64_t size) {
    uint64_t indexed = 0;
    return s_stored_intact(store, hash, &indexed) && indexed == size;
}

//  ---- answers ---------------------------------------------------------------------

static void s_answer_stored(ca_reply_t *reply, const Cairn__Request *request, const uint8_t *hash,
                            uint64_t size, bool deduplicated) {
    Cairn__ContentStored *stored =
        (Cairn__ContentStored *)ca_reply_alloc(reply, sizeof(Cairn__ContentStored));
    cairn__content_stored__init(stored);
    stored->hash.data = (uint8_t *)ca_reply_memdup(reply, hash, CA_SHA256_BYTES);
    stored->hash.len = CA_SHA256_BYTES;
    stored->size = size;
    stored->deduplicated = deduplicated;
    Cairn__Response *response = ca_reply_response(reply);
    if (request->body_case == CAIRN__REQUEST__BODY_CONTENT_COMMIT) {
        response->body_case = CAIRN__RESPONSE__BODY_CONTENT_COMMIT;
        response->content_commit = stored;
    } else {
        response->body_case = CAIRN__RESPONSE__BODY_CONTENT_PUT;
        response->content_put = stored;
    }
}

static Cairn__ContentStream *s_stream_answer(ca_reply_t *reply, Cairn__Response__BodyCase body) {
    Cairn__ContentStream *stream =
        (Cairn__ContentStream *)ca_reply_alloc(reply, sizeof(Cairn__ContentStream));
    cairn__content_stream__init(stream);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_CONTENT_BEGIN)
        response->content_begin = stream;
    else if (body == CAIRN__RESPONSE__BODY_CONTENT_CHUNK)
        response->content_chunk = stream;
    else
        response->content_abort = stream;
    return stream;
}

//  ---- publishing: the index row after the file -----------------------------------

//  A put that wrote bytes over an existing row gives it a new stored_at,
//  always a different value (even within the clock's resolution): a
//  ContentCheck repair deletes a row only if its stored_at is still the one
//  it saw, so a row a racing put just made good again is kept.
#define STORED_AGAIN_SQL                                                                           \
    "CASE WHEN excluded.stored_at > stored_at THEN excluded.stored_at ELSE stored_at + 1e-6 END"

//  The store's running totals; false with the reply saying why.
static bool s_totals(ca_store_t *store, uint64_t *blobs, uint64_t *bytes, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT blobs, bytes FROM content_totals WHERE id = 1", reply);
    if (!stmt)
        return false;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *blobs = (uint64_t)sqlite3_column_int64(stmt, 0);
        *bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the content totals: %s",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

//  content_quota_bytes: `adding` more bytes fit the store (0: no quota);
//  else UNAVAILABLE saying how full it is. The worker's check spares
//  writing bytes that cannot be kept; the writer's guard (below) is exact
//  when several workers put at once.
static bool s_quota_ok(ca_store_t *store, uint64_t adding, ca_reply_t *reply) {
    int64_t quota = ca_store_settings(store)->content_quota_bytes;
    uint64_t blobs = 0, bytes = 0;
    if (quota <= 0)
        return true;
    if (!s_totals(store, &blobs, &bytes, reply))
        return false;
    if (bytes + adding <= (uint64_t)quota)
        return true;
    ca_reply_error(reply, CA_UNAVAILABLE,
                   "the content store holds %" PRIu64 " bytes; %" PRIu64
                   " more would pass content_quota_bytes (%" PRId64
                   "): delete content or raise content_quota_bytes, then retry",
                   bytes, adding, quota);
    return false;
}

//  The writer's check of the quota, in the transaction that adds the row:
//  the blob fits, or it has a row already (a re-put adds no bytes).
static const char s_quota_guard_sql[] =
    "SELECT 1 FROM content_totals WHERE id = 1 AND (bytes + ?1 <= ?2"
    " OR EXISTS (SELECT 1 FROM content_blobs WHERE hash = ?3))";
static const char s_quota_full[] =
    "the content store is at content_quota_bytes (puts from several clients met at the "
    "limit); nothing was kept: delete content or raise content_quota_bytes, then retry";

//  The write that adds (or renews) the row of a blob of `size` bytes: the
//  quota guard, then the row.
static ca_write_t *s_row_write(ca_store_t *store, const uint8_t *hash, uint64_t size) {
    ca_write_t *write = ca_write_new();
    int64_t quota = ca_store_settings(store)->content_quota_bytes;
    if (quota > 0) {
        ca_write_statement(write, s_quota_guard_sql, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                           CA_UNAVAILABLE, s_quota_full);
        ca_write_int(write, (int64_t)size);
        ca_write_int(write, quota);
        ca_write_blob(write, hash, CA_SHA256_BYTES);
    }
    ca_write_statement(write,
                       "INSERT INTO content_blobs (hash, size, stored_at) VALUES (?1, ?2, ?3)"
                       " ON CONFLICT (hash) DO UPDATE SET stored_at = " STORED_AGAIN_SQL,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_int(write, (int64_t)size);
    ca_write_real(write, ca_now_seconds());
    return write;
}

//  The upload is finished and verified: link it into place and commit its
//  row (the blob is a file from now on: inline bytes of an earlier put,
//  which were damaged or the put would have been deduplicated, go). Takes
//  the upload. The answer comes from s_stored, or at once on failure (then
//  nothing is kept).
static void s_publish(ca_store_t *store, ca_upload_t **upload_p, const uint8_t *hash,
                      ca_reply_t *reply) {
    ca_write_t *write = s_row_write(store, hash, ca_upload_size(*upload_p));
    ca_write_statement(write, "DELETE FROM content_inline WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_blob_store_publish(store, s_state(store)->blobs, upload_p, hash, &write, s_file_wanted,
                          reply);
}

//  A small blob: its bytes go into content_inline in the write that adds
//  its row, durable at the writer's COMMIT (no file, no fsync of its own).
//  The write's context has no temp file, so s_stored settles nothing.
static void s_publish_inline(ca_store_t *store, const uint8_t *hash, const void *data, size_t size,
                             ca_reply_t *reply) {
    ca_write_t *write = s_row_write(store, hash, size);
    ca_write_statement(write,
                       "INSERT INTO content_inline (hash, data) VALUES (?1, ?2)"
                       " ON CONFLICT (hash) DO UPDATE SET data = excluded.data",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_blob(write, size ? data : "", size);
    Cairn__Internal__BlobContext context = CAIRN__INTERNAL__BLOB_CONTEXT__INIT;
    context.hash.data = (uint8_t *)hash;
    context.hash.len = CA_SHA256_BYTES;
    context.size = size;
    uint8_t packed[64];
    assert(cairn__internal__blob_context__get_packed_size(&context) <= sizeof packed);
    ca_write_context(write, packed, cairn__internal__blob_context__pack(&context, packed));
    ca_store_write(store, &write, reply);
}

//  The row committed (or was there already): settle the file, answer.
static void s_stored(ca_store_t *store, const Cairn__Request *request,
                     const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__Internal__BlobContext *context =
        ca_blob_store_settle(s_state(store)->blobs, write, reply);
    if (!context)
        return;
    //  An inline put over a blob that was a file (a damaged one): the file
    //  goes, unless a racing file put made the blob a file again.
    if (!*context->temp_path && request->body_case == CAIRN__REQUEST__BODY_CONTENT_PUT &&
        ca_blobs_file_size(s_state(store)->blobs, context->hash.data, &(uint64_t){0}))
        ca_blobs_unlink_if_unwanted(s_state(store)->blobs, context->hash.data, s_file_wanted,
                                    store);
    //  Bytes were written for this request, so it is not a deduplicated
    //  put even when another worker's row for the same blob came first.
    s_answer_stored(reply, request, context->hash.data, context->size, false);
    cairn__internal__blob_context__free_unpacked(context, NULL);
}

//  The writer failed a content write: undo the file side.
static void s_write_failed(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write) {
    ca_blob_store_undo(store, s_state(store)->blobs, write, s_file_wanted);
}

//  ---- put, get, read, has, size, delete ----------------------------------------------

//  Checks bytes against an optional expected hash; false (reply INVALID,
//  nothing kept) on a mismatch.
static bool s_matches_expected(const uint8_t *hash, const ProtobufCBinaryData *expected,
                               ca_reply_t *reply) {
    if (expected->len == 0 || memcmp(hash, expected->data, CA_SHA256_BYTES) == 0)
        return true;
    char got[65], wanted[65];
    ca_hash_to_hex(hash, got);
    ca_hash_to_hex(expected->data, wanted);
    ca_reply_error(reply, CA_INVALID,
                   "the data hashes to %s, not the expected %s; nothing was kept: check that "
                   "the whole content was sent",
                   got, wanted);
    return false;
}

static void s_content_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentPut *put = request->content_put;
    if (!ca_blob_store_optional_hash_ok(&put->expected_hash, "expected_hash", reply))
        return;
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(put->data.data, put->data.len, hash);
    if (!s_matches_expected(hash, &put->expected_hash, reply))
        return;
    if (s_already_stored(store, hash, put->data.len)) {
        s_answer_stored(reply, request, hash, put->data.len, true);
        return;
    }
    if (!ca_blob_store_size_ok(store, put->data.len, "nothing was kept", reply) ||
        !s_quota_ok(store, put->data.len, reply) ||
        !ca_blob_store_disk_ok(store, s_state(store)->blobs, put->data.len, reply))
        return;
    if (put->data.len <= CA_CONTENT_INLINE_MAX) {
        s_publish_inline(store, hash, put->data.data, put->data.len, reply);
        return;
    }
    ca_upload_t *upload =
        ca_blob_store_upload(s_state(store)->blobs, put->data.data, put->data.len, hash, reply);
    if (upload)
        s_publish(store, &upload, hash, reply);
}

static void s_content_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentGet *get = request->content_get;
    if (!ca_blob_store_hash_ok(&get->hash, "hash", reply))
        return;
    uint64_t size = 0;
    sqlite3_stmt *inline_row = NULL;
    if (!s_require_blob(store, get->hash.data, &size, &inline_row, reply))
        return;
    if (size > CA_CONTENT_WHOLE_MAX) {
        s_release_row(&inline_row);
        ca_reply_error(reply, CA_INVALID,
                       "the blob holds %" PRIu64 " bytes, over the %lld a single answer "
                       "carries; read it with ContentRead in ranges of up to %d bytes",
                       size, (long long)CA_CONTENT_WHOLE_MAX, CA_CONTENT_CHUNK_MAX);
        return;
    }
    //  The answer is laid out first and the file read straight into it.
    uint8_t prefix[40];
    size_t prefix_size = ca_encode_bytes_field(prefix, 0, 1, get->hash.data, CA_SHA256_BYTES);
    uint8_t *data = NULL;
    zframe_t *frame = ca_response_with_bytes(request->id, CAIRN__RESPONSE__BODY_CONTENT_GET, prefix,
                                             prefix_size, 2, (size_t)size, NULL, 0, &data);
    if (!frame) {
        s_release_row(&inline_row);
        s_no_memory_for(reply, size);
        return;
    }
    char *error = NULL;
    ca_status_t status;
    if (inline_row) {
        status = s_inline_copy(inline_row, size, 0, data, (size_t)size, &error);
        s_release_row(&inline_row);
        uint8_t digest[CA_SHA256_BYTES];
        if (status == CA_OK && !get->skip_verify) {
            ca_sha256(data, (size_t)size, digest);
            if (memcmp(digest, get->hash.data, CA_SHA256_BYTES) != 0) {
                status = CA_CORRUPT;
                error = strdup("its inline bytes do not match its hash");
            }
        }
    } else
        status = ca_blobs_read_all(s_state(store)->blobs, get->hash.data, data, size,
                                   !get->skip_verify, &error);
    if (status == CA_OK)
        ca_reply_frame(reply, &frame);
    else {
        zframe_destroy(&frame);
        content_integrity_reply_damaged(reply, get->hash.data, status, error);
        zstr_free(&error);
    }
}

static void s_content_read(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentRead *read = request->content_read;
    if (!ca_blob_store_hash_ok(&read->hash, "hash", reply))
        return;
    if (read->length == 0 || read->length > CA_CONTENT_CHUNK_MAX) {
        ca_reply_error(reply, CA_INVALID, "length %" PRIu64 " is out of range; ask for 1..%d bytes",
                       read->length, CA_CONTENT_CHUNK_MAX);
        return;
    }
    uint64_t size = 0;
    sqlite3_stmt *inline_row = NULL;
    if (!s_require_blob(store, read->hash.data, &size, &inline_row, reply))
        return;
    if (read->offset > size) {
        s_release_row(&inline_row);
        ca_reply_error(reply, CA_INVALID,
                       "offset %" PRIu64 " is past the end of the blob (%" PRIu64 " bytes)",
                       read->offset, size);
        return;
    }
    uint64_t left = size - read->offset;
    size_t length = (size_t)(left < read->length ? left : read->length);
    bool end = read->offset + length == size, verified = false;
    //  ContentRange laid out by hand so that the file is read straight into
    //  the answer: data, then offset, size, end, and `verified` last, whose
    //  value byte is the frame's last byte, set once the hash is checked.
    uint8_t suffix[40];
    size_t suffix_size = ca_encode_varint_field(suffix, 0, 2, read->offset);
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 3, size);
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 4, end);
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 5, 0);
    uint8_t *data = NULL;
    zframe_t *frame = ca_response_with_bytes(request->id, CAIRN__RESPONSE__BODY_CONTENT_READ, NULL,
                                             0, 1, length, suffix, suffix_size, &data);
    if (!frame) {
        s_release_row(&inline_row);
        s_no_memory_for(reply, length);
        return;
    }
    size_t got = length;
    char *error = NULL;
    ca_status_t status = inline_row
                             ? s_inline_copy(inline_row, size, read->offset, data, length, &error)
                             : ca_blobs_read_range(s_state(store)->blobs, read->hash.data, data,
                                                   read->offset, length, &got, &error);
    s_release_row(&inline_row);
    if (status == CA_OK && got != length) {
        status = CA_CORRUPT;
        error = strdup("its file is shorter than its indexed size");
    }
    if (status != CA_OK) {
        zframe_destroy(&frame);
        content_integrity_reply_damaged(reply, read->hash.data, status, error);
        zstr_free(&error);
        return;
    }
    if (!read->skip_verify &&
        !content_integrity_verify_range(s_state(store)->integrity, read->hash.data, read->offset,
                                        data, length, end, &verified, reply)) {
        zframe_destroy(&frame);
        return;
    }
    zframe_data(frame)[zframe_size(frame) - 1] = verified;
    ca_reply_frame(reply, &frame);
}

//  ContentHas and ContentSize: one lookup, two ways to answer absence.
static void s_presence(ca_store_t *store, const ProtobufCBinaryData *hash, bool absent_is_error,
                       Cairn__Response__BodyCase body, ca_reply_t *reply) {
    if (!ca_blob_store_hash_ok(hash, "hash", reply))
        return;
    uint64_t size = 0;
    int found = s_lookup(store, hash->data, &size, reply);
    if (found < 0)
        return;
    if (found == 0 && absent_is_error) {
        ca_reply_error(reply, CA_NOT_FOUND, "no blob with this hash is stored");
        return;
    }
    Cairn__ContentPresence *presence =
        (Cairn__ContentPresence *)ca_reply_alloc(reply, sizeof(Cairn__ContentPresence));
    cairn__content_presence__init(presence);
    presence->exists = found == 1;
    presence->size = size;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_CONTENT_HAS)
        response->content_has = presence;
    else
        response->content_size = presence;
}

static void s_content_has(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    s_presence(store, &request->content_has->hash, false, CAIRN__RESPONSE__BODY_CONTENT_HAS, reply);
}

static void s_content_size(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    s_presence(store, &request->content_size->hash, true, CAIRN__RESPONSE__BODY_CONTENT_SIZE,
               reply);
}

static void s_content_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentDelete *del = request->content_delete;
    if (!ca_blob_store_hash_ok(&del->hash, "hash", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM content_blobs WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, del->hash.data, CA_SHA256_BYTES);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_content_deleted(ca_store_t *store, const Cairn__Request *request,
                              const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const uint8_t *hash = request->content_delete->hash.data;
    //  Also removes a file left without a row (an interrupted put). The
    //  row's inline bytes went with it (trigger content_inline_removed).
    ca_blobs_unlink_if_unwanted(s_state(store)->blobs, hash, s_file_wanted, store);
    Cairn__ContentRemoved *removed =
        (Cairn__ContentRemoved *)ca_reply_alloc(reply, sizeof(Cairn__ContentRemoved));
    cairn__content_removed__init(removed);
    removed->removed = write->n_results == 1 && write->results[0]->changes > 0;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONTENT_DELETE;
    response->content_delete = removed;
}

//  ---- streams -------------------------------------------------------------------------

static stream_t *s_stream_find(content_state_t *state, uint64_t id) {
    for (size_t i = 0; id && i < CA_CONTENT_STREAMS_MAX; i++)
        if (state->streams[i].id == id)
            return &state->streams[i];
    return NULL;
}

static size_t s_stream_count(content_state_t *state) {
    size_t count = 0;
    for (size_t i = 0; i < CA_CONTENT_STREAMS_MAX; i++)
        count += state->streams[i].id != 0;
    return count;
}

//  Closes a stream; with `discard` its temp file goes too.
static void s_stream_close(stream_t *stream, bool discard) {
    if (discard)
        ca_upload_discard(&stream->upload);
    else
        ca_upload_release(&stream->upload);
    memset(stream, 0, sizeof *stream);
}

//  A new stream id that routes to this worker: id % workers == index.
static uint64_t s_new_stream_id(ca_store_t *store) {
    unsigned workers = ca_store_worker_count(store), index = ca_store_index(store) % workers;
    uint64_t id = 0;
    while (id == 0 || s_stream_find(s_state(store), id)) {
        randombytes_buf(&id, sizeof id);
        id = id - id % workers + index;
    }
    return id;
}

//  The stream a request names; NULL with the reply saying why.
static stream_t *s_stream_for(ca_store_t *store, uint64_t id, ca_reply_t *reply) {
    stream_t *stream = s_stream_find(s_state(store), id);
    if (!stream)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no open upload stream %" PRIu64 " (it was committed, aborted, or idle "
                       "longer than stream_timeout_ms); start again with ContentBegin",
                       id);
    return stream;
}

static void s_content_begin(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentBegin *begin = request->content_begin;
    if (!ca_blob_store_optional_hash_ok(&begin->expected_hash, "expected_hash", reply))
        return;
    content_state_t *state = s_state(store);
    uint64_t size = 0;
    if (begin->expected_hash.len && s_stored_intact(store, begin->expected_hash.data, &size)) {
        s_stream_answer(reply, CAIRN__RESPONSE__BODY_CONTENT_BEGIN)->exists = true;
        return;
    }
    zframe_t *client = ca_store_client_id(store);
    size_t owner_size =
        client && zframe_size(client) <= sizeof((stream_t *)0)->owner ? zframe_size(client) : 0;
    size_t owned = 0;
    stream_t *slot = NULL;
    for (size_t i = 0; i < CA_CONTENT_STREAMS_MAX; i++) {
        stream_t *stream = &state->streams[i];
        if (!stream->id && !slot)
            slot = stream;
        else if (stream->id && owner_size && stream->owner_size == owner_size &&
                 memcmp(stream->owner, zframe_data(client), owner_size) == 0)
            owned++;
    }
    if (owned >= CA_CONTENT_STREAMS_PER_CLIENT) {
        ca_reply_error(reply, CA_BUSY,
                       "this client has %zu upload streams open on this worker (at most %d); "
                       "commit or abort some first",
                       owned, CA_CONTENT_STREAMS_PER_CLIENT);
        return;
    }
    if (!slot) {
        ca_reply_error(reply, CA_BUSY,
                       "%d upload streams are open on this worker; commit or abort some, or "
                       "retry later",
                       CA_CONTENT_STREAMS_MAX);
        return;
    }
    char *error = NULL;
    slot->upload = ca_upload_new(state->blobs, &error);
    if (!slot->upload) {
        ca_reply_error(reply, CA_INTERNAL, "cannot open an upload stream: %s", error);
        zstr_free(&error);
        return;
    }
    slot->id = s_new_stream_id(store);
    slot->owner_size = owner_size;
    if (owner_size)
        memcpy(slot->owner, zframe_data(client), owner_size);
    slot->has_expected = begin->expected_hash.len > 0;
    if (slot->has_expected)
        memcpy(slot->expected, begin->expected_hash.data, CA_SHA256_BYTES);
    slot->last_used = zclock_mono();
    s_stream_answer(reply, CAIRN__RESPONSE__BODY_CONTENT_BEGIN)->stream_id = slot->id;
}

static void s_content_chunk(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentChunk *chunk = request->content_chunk;
    stream_t *stream = s_stream_for(store, chunk->stream_id, reply);
    if (!stream)
        return;
    uint64_t received = ca_upload_size(stream->upload);
    if (chunk->offset != received) {
        ca_reply_error(reply, CA_CONFLICT,
                       "chunk at offset %" PRIu64 " but the stream has %" PRIu64
                       " bytes; send the chunk that starts at %" PRIu64,
                       chunk->offset, received, received);
        return;
    }
    if (chunk->data.len == 0 || chunk->data.len > CA_CONTENT_CHUNK_MAX) {
        ca_reply_error(reply, CA_INVALID, "a chunk carries 1..%d bytes, not %zu",
                       CA_CONTENT_CHUNK_MAX, chunk->data.len);
        return;
    }
    if (!ca_blob_store_size_ok(store, received + chunk->data.len,
                               "the stream was aborted, nothing was kept", reply)) {
        s_stream_close(stream, true);
        return;
    }
    if (!s_quota_ok(store, received + chunk->data.len, reply) ||
        !ca_blob_store_disk_ok(store, s_state(store)->blobs, chunk->data.len, reply))
        return; //  the stream stays: the client may retry the chunk once there is room
    char *error = NULL;
    if (ca_upload_write(stream->upload, chunk->data.data, chunk->data.len, &error) != 0) {
        ca_reply_error(reply, CA_INTERNAL, "%s; the stream was aborted", error);
        zstr_free(&error);
        s_stream_close(stream, true);
        return;
    }
    stream->unrenewed += chunk->data.len;
    if (stream->unrenewed >= CA_CONTENT_RENEW_BYTES) {
        stream->last_used = zclock_mono();
        stream->unrenewed = 0;
    }
    Cairn__ContentStream *answer = s_stream_answer(reply, CAIRN__RESPONSE__BODY_CONTENT_CHUNK);
    answer->stream_id = stream->id;
    answer->received = ca_upload_size(stream->upload);
}

static void s_content_commit(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ContentCommit *commit = request->content_commit;
    if (!ca_blob_store_optional_hash_ok(&commit->expected_hash, "expected_hash", reply))
        return;
    stream_t *stream = s_stream_for(store, commit->stream_id, reply);
    if (!stream)
        return;
    ProtobufCBinaryData expected = commit->expected_hash;
    if (stream->has_expected) {
        if (expected.len && memcmp(expected.data, stream->expected, CA_SHA256_BYTES) != 0) {
            ca_reply_error(reply, CA_INVALID,
                           "expected_hash differs from the one given at ContentBegin; the "
                           "stream was aborted, nothing was kept");
            s_stream_close(stream, true);
            return;
        }
        expected.data = stream->expected;
        expected.len = CA_SHA256_BYTES;
    }
    uint8_t hash[CA_SHA256_BYTES];
    char *error = NULL;
    if (ca_upload_finish(stream->upload, hash, &error) != 0) {
        ca_reply_error(reply, CA_INTERNAL, "%s; the stream was aborted", error);
        zstr_free(&error);
        s_stream_close(stream, true);
        return;
    }
    if (!s_matches_expected(hash, &expected, reply)) {
        s_stream_close(stream, true);
        return;
    }
    uint64_t size = ca_upload_size(stream->upload);
    if (s_already_stored(store, hash, size)) {
        s_stream_close(stream, true);
        s_answer_stored(reply, request, hash, size, true);
        return;
    }
    ca_upload_t *upload = stream->upload;
    stream->upload = NULL;
    s_stream_close(stream, false);
    s_publish(store, &upload, hash, reply);
}

static void s_content_abort(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    stream_t *stream = s_stream_for(store, request->content_abort->stream_id, reply);
    if (!stream)
        return;
    Cairn__ContentStream *answer = s_stream_answer(reply, CAIRN__RESPONSE__BODY_CONTENT_ABORT);
    answer->stream_id = stream->id;
    answer->received = ca_upload_size(stream->upload);
    s_stream_close(stream, true);
}

//  Every worker: drop streams idle longer than stream_timeout_ms.
static void s_content_tick(ca_store_t *store) {
    content_state_t *state = s_state(store);
    int64_t timeout = ca_store_settings(store)->stream_timeout_ms;
    int64_t now = zclock_mono();
    for (size_t i = 0; i < CA_CONTENT_STREAMS_MAX; i++) {
        stream_t *stream = &state->streams[i];
        if (stream->id && now - stream->last_used >= timeout) {
            ca_log_info("content[%u]: upload stream %" PRIu64 " idle for %" PRId64
                        " ms: abandoned, %" PRIu64 " bytes removed",
                        ca_store_index(store), stream->id, now - stream->last_used,
                        ca_upload_size(stream->upload));
            s_stream_close(stream, true);
        }
    }
}

//  ---- check (fsck): content_integrity ----------------------------------------------------

static void s_content_check(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    content_integrity_check(s_state(store)->integrity, store, request->content_check, reply);
}

//  ---- stats -----------------------------------------------------------------------------

static void s_content_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    uint64_t blobs = 0, bytes = 0;
    if (!s_totals(store, &blobs, &bytes, reply))
        return;
    Cairn__ContentStatsReply *stats =
        (Cairn__ContentStatsReply *)ca_reply_alloc(reply, sizeof(Cairn__ContentStatsReply));
    cairn__content_stats_reply__init(stats);
    stats->blobs = blobs;
    stats->bytes = bytes;
    stats->open_streams = s_stream_count(s_state(store));
    stats->hash_backend = (char *)ca_sha256_backend();
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONTENT_STATS;
    response->content_stats = stats;
}

//  ---- the store ---------------------------------------------------------------------------

static char *s_prepare(const char *data_dir) {
    char *error = ca_blobs_prepare(data_dir, CA_CONTENT_DIR);
    return error ? error : ca_blob_store_sweep(data_dir, CA_CONTENT_DIR, "content_blobs", NULL);
}

static void *s_state_new(ca_store_t *store, char **error) {
    ca_blobs_t *blobs = ca_blobs_open(ca_store_data_dir(store), CA_CONTENT_DIR, error);
    if (!blobs)
        return NULL;
    //  Inline blobs are read through this connection: a page cache of
    //  CA_CONTENT_READ_CACHE_KIB keeps a working set of small blobs off the
    //  disk (SQLite's default is 2 MiB), and pages beyond it are read
    //  through a map of cairn.db (CA_CONTENT_READ_MMAP_BYTES of address
    //  space, file pages shared with the OS cache, not heap) instead of a
    //  pread per page: a 4 KiB blob is a leaf cell plus an overflow page,
    //  and with more blobs than the cache holds (the bench's 13k-24k after
    //  its put case) the preads were the worker's largest cost; ContentGet
    //  4 KiB ran 1.2-1.6x faster with the map (bench/RESULTS.md "Issue 13:
    //  content and cache"). Pages still in the WAL are read as before.
    sqlite3_exec(ca_sql_handle(ca_store_sql(store)),
                 "PRAGMA cache_size = -" CA_CONTENT_READ_CACHE_KIB, NULL, NULL, NULL);
    sqlite3_exec(ca_sql_handle(ca_store_sql(store)),
                 "PRAGMA mmap_size = " CA_CONTENT_READ_MMAP_BYTES, NULL, NULL, NULL);
    content_state_t *state = (content_state_t *)zmalloc(sizeof(content_state_t));
    state->blobs = blobs;
    state->integrity = content_integrity_new(blobs, s_row_exists);
    return state;
}

static void s_state_destroy(void **state_p) {
    content_state_t *state = (content_state_t *)*state_p;
    for (size_t i = 0; i < CA_CONTENT_STREAMS_MAX; i++)
        if (state->streams[i].id)
            s_stream_close(&state->streams[i], true);
    content_integrity_destroy(&state->integrity);
    ca_blobs_destroy(&state->blobs);
    free(state);
    *state_p = NULL;
}

//  route_field 1: stream_id of the stream requests, hash of ContentRead.
static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_CONTENT_PUT, "content_put", s_content_put, s_stored, 0},
    {CAIRN__REQUEST__BODY_CONTENT_GET, "content_get", s_content_get, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_READ, "content_read", s_content_read, NULL, 1},
    {CAIRN__REQUEST__BODY_CONTENT_HAS, "content_has", s_content_has, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_SIZE, "content_size", s_content_size, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_DELETE, "content_delete", s_content_delete, s_content_deleted, 0},
    {CAIRN__REQUEST__BODY_CONTENT_BEGIN, "content_begin", s_content_begin, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_CHUNK, "content_chunk", s_content_chunk, NULL, 1},
    {CAIRN__REQUEST__BODY_CONTENT_COMMIT, "content_commit", s_content_commit, s_stored, 1},
    {CAIRN__REQUEST__BODY_CONTENT_ABORT, "content_abort", s_content_abort, NULL, 1},
    {CAIRN__REQUEST__BODY_CONTENT_CHECK, "content_check", s_content_check,
     content_integrity_checked, 0},
    {CAIRN__REQUEST__BODY_CONTENT_STATS, "content_stats", s_content_stats, NULL, 0},
};

const ca_store_def_t content_store_def = {
    .name = "content",
    .schema = &content_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .queue_max = CA_CONTENT_QUEUE_MAX,
    .tick = s_content_tick,
    .tick_every_worker = true,
    .prepare = s_prepare,
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
    .write_failed = s_write_failed,
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

#include <unistd.h>

//  ---- fixtures: the requests of this self-test and of tests/e2e_content.c ----------

bool content_fixture_put(ca_caller_t *caller, const void *data, size_t size, uint8_t hash[32]) {
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, 0, data, size, NULL, 0);
    Cairn__Response *response =
        ca_response_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_PUT);
    ca_sha256(data, size, hash);
    CA_CHECK(response->content_put->hash.len == 32);
    CA_CHECK(memcmp(response->content_put->hash.data, hash, 32) == 0);
    CA_CHECK(response->content_put->size == size);
    bool deduplicated = response->content_put->deduplicated;
    cairn__response__free_unpacked(response, NULL);
    return deduplicated;
}

Cairn__Response *content_fixture_get(ca_caller_t *caller, const uint8_t *hash, size_t hash_size,
                                     bool skip_verify) {
    Cairn__Request request;
    Cairn__ContentGet get;
    ca_request_content_get(&request, &get, 0, hash, hash_size, skip_verify);
    return ca_caller_call(caller, &request);
}

void content_fixture_get_expect(ca_caller_t *caller, const uint8_t *hash, const void *data,
                                size_t size) {
    Cairn__Response *response = ca_response_ok(content_fixture_get(caller, hash, 32, false),
                                               CAIRN__RESPONSE__BODY_CONTENT_GET);
    CA_CHECK(response->content_get->data.len == size);
    CA_CHECK(size == 0 || memcmp(response->content_get->data.data, data, size) == 0);
    cairn__response__free_unpacked(response, NULL);
}

bool content_fixture_has(ca_caller_t *caller, const uint8_t *hash, uint64_t *size) {
    Cairn__Request request;
    Cairn__ContentHas has;
    ca_request_content_has(&request, &has, 0, hash, 32);
    Cairn__Response *response =
        ca_response_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_HAS);
    bool exists = response->content_has->exists;
    if (size)
        *size = response->content_has->size;
    cairn__response__free_unpacked(response, NULL);
    return exists;
}

uint64_t content_fixture_begin(ca_caller_t *caller, const uint8_t *expected) {
    Cairn__Request request;
    Cairn__ContentBegin begin;
    ca_request_content_begin(&request, &begin, 0, expected, expected ? 32 : 0);
    Cairn__Response *response =
        ca_response_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_BEGIN);
    uint64_t stream_id = response->content_begin->stream_id;
    CA_CHECK(response->content_begin->exists == (stream_id == 0));
    cairn__response__free_unpacked(response, NULL);
    return stream_id;
}

Cairn__Response *content_fixture_commit(ca_caller_t *caller, uint64_t stream_id,
                                        const uint8_t *expected) {
    Cairn__Request request;
    Cairn__ContentCommit commit;
    ca_request_content_commit(&request, &commit, 0, stream_id, expected, expected ? 32 : 0);
    return ca_caller_call(caller, &request);
}

bool content_fixture_put_file(ca_caller_t *caller, const void *data, size_t size,
                              uint8_t hash[32]) {
    ca_sha256(data, size, hash);
    uint64_t stream = content_fixture_begin(caller, NULL);
    if (size) {
        Cairn__Request request;
        Cairn__ContentChunk chunk;
        ca_request_content_chunk(&request, &chunk, 0, stream, 0, data, size);
        cairn__response__free_unpacked(
            ca_response_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_CHUNK),
            NULL);
    }
    Cairn__Response *response = ca_response_ok(content_fixture_commit(caller, stream, hash),
                                               CAIRN__RESPONSE__BODY_CONTENT_COMMIT);
    bool deduplicated = response->content_commit->deduplicated;
    cairn__response__free_unpacked(response, NULL);
    return deduplicated;
}

void content_fixture_set_inline(const char *data_dir, const uint8_t *hash, const void *data,
                                size_t size) {
    char *path = zsys_sprintf("%s/" CA_DB_FILE, data_dir);
    sqlite3 *db = NULL;
    CA_CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *stmt = NULL;
    CA_CHECK(sqlite3_prepare_v2(db, "UPDATE content_inline SET data = ?2 WHERE hash = ?1", -1,
                                &stmt, NULL) == SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, size ? data : "", (int)size, SQLITE_STATIC);
    CA_CHECK(sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(db) == 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    zstr_free(&path);
}

void content_fixture_flip_inline(const char *data_dir, const uint8_t *hash) {
    char *path = zsys_sprintf("%s/" CA_DB_FILE, data_dir);
    sqlite3 *db = NULL;
    CA_CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *stmt = NULL;
    CA_CHECK(sqlite3_prepare_v2(db, "SELECT data FROM content_inline WHERE hash = ?1", -1, &stmt,
                                NULL) == SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    CA_CHECK(sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) > 0);
    size_t size = (size_t)sqlite3_column_bytes(stmt, 0);
    uint8_t *data = (uint8_t *)malloc(size);
    CA_CHECK(data);
    memcpy(data, sqlite3_column_blob(stmt, 0), size);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    data[size / 2] ^= 0x5a;
    content_fixture_set_inline(data_dir, hash, data, size);
    free(data);
    zstr_free(&path);
}

void content_fixture_bad_hashes(ca_caller_t *caller) {
    uint8_t hash[64];
    memset(hash, 0xab, sizeof hash);
    size_t sizes[] = {0, 1, 16, 31, 33, 40, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ca_response_fails(content_fixture_get(caller, hash, sizes[i], false),
                          CAIRN__STATUS__INVALID, "hash");
        Cairn__Request request;
        Cairn__ContentRead read;
        ca_request_content_read(&request, &read, 0, hash, sizes[i], 0, 10, false);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "32");
        Cairn__ContentHas has;
        ca_request_content_has(&request, &has, 0, hash, sizes[i]);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "hash");
        Cairn__ContentSize size_body;
        ca_request_content_size(&request, &size_body, 0, hash, sizes[i]);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "hash");
        Cairn__ContentDelete del;
        ca_request_content_delete(&request, &del, 0, hash, sizes[i]);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "hash");
        Cairn__ContentCommit commit;
        ca_request_content_commit(&request, &commit, 0, 1, hash, sizes[i] ? sizes[i] : 1);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "expected_hash");
        if (sizes[i] == 0)
            continue; //  an absent optional hash is fine
        Cairn__ContentPut put;
        ca_request_content_put(&request, &put, 0, "x", 1, hash, sizes[i]);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "expected_hash");
        Cairn__ContentBegin begin;
        ca_request_content_begin(&request, &begin, 0, hash, sizes[i]);
        ca_caller_fails(caller, &request, CAIRN__STATUS__INVALID, "expected_hash");
    }
}

//  ---- the self-test ------------------------------------------------------------------

static Cairn__Response *s_read(ca_caller_t *caller, const uint8_t *hash, uint64_t offset,
                               uint64_t length) {
    Cairn__Request request;
    Cairn__ContentRead read;
    ca_request_content_read(&request, &read, 0, hash, 32, offset, length, false);
    return ca_caller_call(caller, &request);
}

//  Has: present with size, or absent.
static void s_has_expect(ca_caller_t *caller, const uint8_t *hash, bool exists, uint64_t size) {
    uint64_t got = UINT64_MAX;
    assert(content_fixture_has(caller, hash, &got) == exists && got == size);
}

static bool s_delete(ca_caller_t *caller, const uint8_t *hash) {
    Cairn__Request request;
    Cairn__ContentDelete del;
    ca_request_content_delete(&request, &del, 0, hash, 32);
    Cairn__Response *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_DELETE);
    bool removed = response->content_delete->removed;
    cairn__response__free_unpacked(response, NULL);
    return removed;
}

static Cairn__Response *s_chunk(ca_caller_t *caller, uint64_t stream_id, uint64_t offset,
                                const void *data, size_t size) {
    Cairn__Request request;
    Cairn__ContentChunk chunk;
    ca_request_content_chunk(&request, &chunk, 0, stream_id, offset, data, size);
    return ca_caller_call(caller, &request);
}

static Cairn__ContentCheckReport *s_check(ca_caller_t *caller, bool verify, bool repair,
                                          Cairn__Response **response) {
    Cairn__Request request;
    Cairn__ContentCheck check;
    ca_request_content_check(&request, &check, 0, verify, repair);
    *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_CHECK);
    return (*response)->content_check;
}

//  Entries in <dir>/content/tmp (uploads not yet settled or dropped).
static size_t s_temp_files(ca_caller_t *caller) {
    char *path = zsys_sprintf("%s/content/tmp", ca_testbed_dir(ca_caller_testbed(caller)));
    DIR *dir = opendir(path);
    assert(dir);
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)))
        count += entry->d_name[0] != '.';
    closedir(dir);
    zstr_free(&path);
    return count;
}

static char *s_blob_path(ca_caller_t *caller, const uint8_t *hash) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    return zsys_sprintf("%s/content/%.2s/%s", ca_testbed_dir(ca_caller_testbed(caller)), hex, hex);
}

static void s_flip_byte(ca_caller_t *caller, const uint8_t *hash, long offset) {
    char *path = s_blob_path(caller, hash);
    FILE *file = fopen(path, "r+");
    assert(file && fseek(file, offset, SEEK_SET) == 0);
    int byte = fgetc(file);
    assert(byte != EOF && fseek(file, offset, SEEK_SET) == 0);
    fputc(byte ^ 0x40, file);
    fclose(file);
    zstr_free(&path);
}

static bool s_put_file(ca_caller_t *caller, const void *data, size_t size, uint8_t hash[32]) {
    return content_fixture_put_file(caller, data, size, hash);
}

static bool s_file_exists(ca_caller_t *caller, const uint8_t *hash) {
    char *path = s_blob_path(caller, hash);
    bool exists = access(path, F_OK) == 0;
    zstr_free(&path);
    return exists;
}

static void s_set_inline(ca_caller_t *caller, const uint8_t *hash, const void *data, size_t size) {
    content_fixture_set_inline(ca_testbed_dir(ca_caller_testbed(caller)), hash, data, size);
}

static uint64_t s_stats_bytes(ca_caller_t *caller) {
    Cairn__Request request;
    Cairn__ContentStats stats;
    ca_request_content_stats(&request, &stats, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_STATS);
    uint64_t bytes = response->content_stats->bytes;
    cairn__response__free_unpacked(response, NULL);
    return bytes;
}

//  Small blobs are inline: no file, every request sees them; the
//  threshold is inclusive; streams stay files; the kinds meet on re-puts.
static void s_test_inline(ca_caller_t *caller) {
    enum { SMALL = 4096 };
    uint8_t *data = (uint8_t *)malloc(CA_CONTENT_INLINE_MAX + 1);
    assert(data);
    randombytes_buf(data, CA_CONTENT_INLINE_MAX + 1);
    uint8_t hash[32], again[32];
    uint64_t bytes = s_stats_bytes(caller);
    assert(!content_fixture_put(caller, data, SMALL, hash));
    assert(!s_file_exists(caller, hash) && s_temp_files(caller) == 0);
    assert(s_stats_bytes(caller) == bytes + SMALL);
    content_fixture_get_expect(caller, hash, data, SMALL);
    s_has_expect(caller, hash, true, SMALL);
    assert(content_fixture_put(caller, data, SMALL, again)); //  deduplicated
    assert(content_fixture_begin(caller, hash) == 0);
    //  In-order ranges: the last is verified; out of order: not.
    for (size_t at = 0; at < SMALL; at += 1500) {
        Cairn__Response *response =
            ca_testbed_ok(s_read(caller, hash, at, 1500), CAIRN__RESPONSE__BODY_CONTENT_READ);
        bool end = at + 1500 >= SMALL;
        assert(response->content_read->end == end && response->content_read->verified == end);
        assert(memcmp(response->content_read->data.data, data + at,
                      response->content_read->data.len) == 0);
        cairn__response__free_unpacked(response, NULL);
    }
    Cairn__Response *response =
        ca_testbed_ok(s_read(caller, hash, SMALL - 10, 100), CAIRN__RESPONSE__BODY_CONTENT_READ);
    assert(response->content_read->data.len == 10 && !response->content_read->verified);
    assert(memcmp(response->content_read->data.data, data + SMALL - 10, 10) == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_read(caller, hash, SMALL + 1, 10), CAIRN__STATUS__INVALID, "past the end");
    assert(s_delete(caller, hash) && !s_delete(caller, hash));
    s_has_expect(caller, hash, false, 0);
    ca_testbed_fails(s_read(caller, hash, 0, 10), CAIRN__STATUS__NOT_FOUND, "no blob");
    assert(s_stats_bytes(caller) == bytes);
    assert(!content_fixture_put(caller, data, SMALL, hash)); //  back after its delete

    //  The threshold is inclusive; one byte more is a file.
    assert(!content_fixture_put(caller, data, CA_CONTENT_INLINE_MAX, hash));
    assert(!s_file_exists(caller, hash));
    content_fixture_get_expect(caller, hash, data, CA_CONTENT_INLINE_MAX);
    assert(!content_fixture_put(caller, data, CA_CONTENT_INLINE_MAX + 1, hash));
    assert(s_file_exists(caller, hash));
    content_fixture_get_expect(caller, hash, data, CA_CONTENT_INLINE_MAX + 1);

    //  A small stream stays a file; a put of its bytes is deduplicated.
    assert(!s_put_file(caller, data + 1, 100, hash));
    assert(s_file_exists(caller, hash));
    assert(content_fixture_put(caller, data + 1, 100, again));
    //  A rotten file healed by a put: the blob becomes inline, the file goes.
    s_flip_byte(caller, hash, 7);
    assert(!content_fixture_put(caller, data + 1, 100, again));
    assert(!s_file_exists(caller, hash));
    content_fixture_get_expect(caller, hash, data + 1, 100);
    //  Rotten inline bytes healed by a stream: the blob becomes a file.
    uint8_t rotten[100];
    memcpy(rotten, data + 1, 100);
    rotten[5] ^= 1;
    s_set_inline(caller, hash, rotten, 100);
    assert(!s_put_file(caller, data + 1, 100, again));
    assert(s_file_exists(caller, hash));
    content_fixture_get_expect(caller, hash, data + 1, 100);
    //  ... and healed by a put again: inline, not deduplicated.
    s_flip_byte(caller, hash, 0);
    assert(!content_fixture_put(caller, data + 1, 100, again));
    content_fixture_get_expect(caller, hash, data + 1, 100);
    s_set_inline(caller, hash, rotten, 100);
    assert(!content_fixture_put(caller, data + 1, 100, again));
    content_fixture_get_expect(caller, hash, data + 1, 100);
    assert(s_temp_files(caller) == 0);
    free(data);
}

//  Damaged inline bytes: never served as verified, found by a check (a
//  wrong length always, wrong bytes with verify), and repaired by
//  dropping the row.
static void s_test_damage_inline(ca_caller_t *caller) {
    uint8_t good[32], bad[32], short_[32];
    content_fixture_put(caller, "inline good", 11, good);
    content_fixture_put(caller, "inline bad!", 11, bad);
    content_fixture_put(caller, "inline short", 12, short_);
    s_set_inline(caller, bad, "inline BAD!", 11);
    s_set_inline(caller, short_, "inline", 6);
    ca_testbed_fails(content_fixture_get(caller, bad, 32, false), CAIRN__STATUS__CORRUPT, "fsck");
    Cairn__Response *response = ca_testbed_ok(content_fixture_get(caller, bad, 32, true),
                                              CAIRN__RESPONSE__BODY_CONTENT_GET);
    assert(memcmp(response->content_get->data.data, "inline BAD!", 11) == 0); //  skip_verify
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_read(caller, bad, 0, 100), CAIRN__STATUS__CORRUPT,
                     "nothing of it was served");
    ca_testbed_fails(content_fixture_get(caller, short_, 32, true), CAIRN__STATUS__CORRUPT,
                     "inline");
    ca_testbed_fails(s_read(caller, short_, 0, 5), CAIRN__STATUS__CORRUPT, "inline");
    Cairn__ContentCheckReport *report = s_check(caller, false, false, &response);
    assert(report->corrupt_count == 1 && memcmp(report->corrupt[0].data, short_, 32) == 0);
    assert(!report->missing_count && !report->orphan_count);
    cairn__response__free_unpacked(response, NULL);
    report = s_check(caller, true, true, &response);
    assert(report->corrupt_count == 2 && !report->missing_count && report->repaired);
    cairn__response__free_unpacked(response, NULL);
    s_has_expect(caller, bad, false, 0);
    s_has_expect(caller, short_, false, 0);
    content_fixture_get_expect(caller, good, "inline good", 11);
    report = s_check(caller, true, false, &response);
    assert(!report->corrupt_count && !report->missing_count && !report->orphan_count);
    cairn__response__free_unpacked(response, NULL);
    //  Put again after the repair: stored.
    assert(!content_fixture_put(caller, "inline bad!", 11, bad));
    content_fixture_get_expect(caller, bad, "inline bad!", 11);
}

//  Put, dedup, get, has, size, delete, expected hashes.
static void s_test_basics(ca_caller_t *caller) {
    uint8_t hash[32], again[32];
    assert(!content_fixture_put(caller, "", 0, hash));
    content_fixture_get_expect(caller, hash, "", 0);
    s_has_expect(caller, hash, true, 0);
    assert(!content_fixture_put(caller, "x", 1, hash));
    content_fixture_get_expect(caller, hash, "x", 1);
    size_t big = 1024 * 1024;
    uint8_t *data = (uint8_t *)malloc(big);
    assert(data);
    randombytes_buf(data, big);
    assert(!content_fixture_put(caller, data, big, hash));
    content_fixture_get_expect(caller, hash, data, big);
    //  Stored once: the second put is deduplicated and rewrites nothing.
    char *path = s_blob_path(caller, hash);
    struct stat before, after;
    assert(stat(path, &before) == 0);
    assert(content_fixture_put(caller, data, big, again) && memcmp(hash, again, 32) == 0);
    assert(stat(path, &after) == 0 && before.st_ino == after.st_ino);
    assert(before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);

    //  Expected hash: right is stored; wrong is refused and nothing is kept.
    Cairn__Request request;
    Cairn__ContentPut put;
    uint8_t wrong[32];
    memset(wrong, 0x5a, 32);
    ca_request_content_put(&request, &put, 0, "expected", 8, wrong, 32);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "nothing was kept");
    uint8_t expected_hash[32];
    ca_sha256("expected", 8, expected_hash);
    s_has_expect(caller, expected_hash, false, 0);
    ca_request_content_put(&request, &put, 0, "expected", 8, expected_hash, 32);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_PUT), NULL);
    cairn__response__free_unpacked(ca_caller_call(caller, &request), NULL);
    s_has_expect(caller, expected_hash, true, 8);

    //  Size, delete (idempotent), and the file goes with the row.
    Cairn__ContentSize size_body;
    ca_request_content_size(&request, &size_body, 0, hash, 32);
    Cairn__Response *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_SIZE);
    assert(response->content_size->size == big && response->content_size->exists);
    cairn__response__free_unpacked(response, NULL);
    assert(s_delete(caller, hash));
    assert(!s_delete(caller, hash));
    assert(access(path, F_OK) != 0);
    s_has_expect(caller, hash, false, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__NOT_FOUND, "no blob");
    ca_testbed_fails(content_fixture_get(caller, hash, 32, false), CAIRN__STATUS__NOT_FOUND,
                     "no blob");
    assert(s_temp_files(caller) == 0);
    zstr_free(&path);
    free(data);
}

//  Streams in chunks, in-order verified reads, abort, dedup at Begin.
static void s_test_streams(ca_caller_t *caller) {
    size_t total = 3 * 1000 * 1000 + 17;
    uint8_t *data = (uint8_t *)malloc(total);
    assert(data);
    randombytes_buf(data, total);
    uint8_t hash[32];
    ca_sha256(data, total, hash);

    uint64_t stream = content_fixture_begin(caller, NULL);
    size_t step = 1000 * 1000;
    for (size_t at = 0; at < total; at += step) {
        size_t size = total - at < step ? total - at : step;
        Cairn__Response *response = ca_testbed_ok(s_chunk(caller, stream, at, data + at, size),
                                                  CAIRN__RESPONSE__BODY_CONTENT_CHUNK);
        assert(response->content_chunk->received == at + size);
        cairn__response__free_unpacked(response, NULL);
        //  A repeated or skipped offset is refused and changes nothing.
        ca_testbed_fails(s_chunk(caller, stream, at, data + at, size), CAIRN__STATUS__CONFLICT,
                         "send the chunk that starts at");
    }
    ca_testbed_fails(s_chunk(caller, stream, total, data, 0), CAIRN__STATUS__INVALID, "1..");
    //  Not visible before its commit.
    s_has_expect(caller, hash, false, 0);
    Cairn__Response *response = ca_testbed_ok(content_fixture_commit(caller, stream, hash),
                                              CAIRN__RESPONSE__BODY_CONTENT_COMMIT);
    assert(memcmp(response->content_commit->hash.data, hash, 32) == 0);
    assert(response->content_commit->size == total && !response->content_commit->deduplicated);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_chunk(caller, stream, total, data, 1), CAIRN__STATUS__NOT_FOUND,
                     "ContentBegin");
    assert(s_temp_files(caller) == 0);

    //  Read back in order: the last range is verified.
    size_t range = 700 * 1000;
    for (size_t at = 0; at < total; at += range) {
        response =
            ca_testbed_ok(s_read(caller, hash, at, range), CAIRN__RESPONSE__BODY_CONTENT_READ);
        const Cairn__ContentRange *got = response->content_read;
        bool end = at + range >= total;
        assert(got->offset == at && got->size == total && got->end == end);
        assert(got->verified == end);
        assert(memcmp(got->data.data, data + at, got->data.len) == 0);
        cairn__response__free_unpacked(response, NULL);
    }
    //  Out of order: served, not verified.
    response =
        ca_testbed_ok(s_read(caller, hash, total - 10, 100), CAIRN__RESPONSE__BODY_CONTENT_READ);
    assert(response->content_read->end && !response->content_read->verified);
    assert(response->content_read->data.len == 10);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(s_read(caller, hash, total, 100), CAIRN__RESPONSE__BODY_CONTENT_READ);
    assert(response->content_read->data.len == 0 && response->content_read->end);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_read(caller, hash, total + 1, 100), CAIRN__STATUS__INVALID, "past the end");
    ca_testbed_fails(s_read(caller, hash, 0, 0), CAIRN__STATUS__INVALID, "length 0");
    ca_testbed_fails(s_read(caller, hash, 0, CA_CONTENT_CHUNK_MAX + 1), CAIRN__STATUS__INVALID,
                     "out of range");

    //  Begin with a stored hash: nothing to send.
    assert(content_fixture_begin(caller, hash) == 0);
    //  The same bytes streamed again: deduplicated at commit.
    stream = content_fixture_begin(caller, NULL);
    cairn__response__free_unpacked(s_chunk(caller, stream, 0, data, step), NULL);
    cairn__response__free_unpacked(s_chunk(caller, stream, step, data + step, total - step), NULL);
    response = ca_testbed_ok(content_fixture_commit(caller, stream, NULL),
                             CAIRN__RESPONSE__BODY_CONTENT_COMMIT);
    assert(response->content_commit->deduplicated);
    cairn__response__free_unpacked(response, NULL);

    //  A wrong expected hash at commit: refused, nothing kept.
    stream = content_fixture_begin(caller, NULL);
    cairn__response__free_unpacked(s_chunk(caller, stream, 0, "abc", 3), NULL);
    uint8_t wrong[32];
    memset(wrong, 1, 32);
    ca_testbed_fails(content_fixture_commit(caller, stream, wrong), CAIRN__STATUS__INVALID,
                     "nothing was kept");
    ca_testbed_fails(content_fixture_commit(caller, stream, NULL), CAIRN__STATUS__NOT_FOUND,
                     "no open upload");
    uint8_t abc[32];
    ca_sha256("abc", 3, abc);
    s_has_expect(caller, abc, false, 0);
    //  Begin and Commit disagreeing on the expected hash: refused.
    stream = content_fixture_begin(caller, wrong);
    ca_testbed_fails(content_fixture_commit(caller, stream, abc), CAIRN__STATUS__INVALID,
                     "ContentBegin");

    //  Abort removes the bytes; unknown streams are NOT_FOUND.
    stream = content_fixture_begin(caller, NULL);
    cairn__response__free_unpacked(s_chunk(caller, stream, 0, "abc", 3), NULL);
    Cairn__Request request;
    Cairn__ContentAbort abort_body;
    ca_request_content_abort(&request, &abort_body, 0, stream);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_ABORT);
    assert(response->content_abort->received == 3);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__NOT_FOUND, "no open upload");
    ca_testbed_fails(s_chunk(caller, 12345, 0, "abc", 3), CAIRN__STATUS__NOT_FOUND, "12345");
    assert(s_temp_files(caller) == 0);
    free(data);
}

//  Corruption is never served as good data; check finds and repairs.
//  A check reads the index in batches (a cursor by hash): every row is
//  seen once across batch boundaries, and a repair removes exactly the
//  rows whose files are gone.
static void s_test_check_batches(ca_caller_t *caller) {
    Cairn__Response *response;
    Cairn__ContentCheckReport *report = s_check(caller, false, false, &response);
    uint64_t before = report->blobs;
    assert(!report->missing_count && !report->corrupt_count);
    cairn__response__free_unpacked(response, NULL);
    enum { BLOBS = 600, LOST_EVERY = 97 };
    size_t lost = 0;
    for (int i = 0; i < BLOBS; i++) {
        char text[32];
        uint8_t hash[32];
        snprintf(text, sizeof text, "batch blob %d", i);
        //  Inline blobs, and files (the lost ones) among them.
        if (i % LOST_EVERY == 0)
            s_put_file(caller, text, strlen(text), hash);
        else
            content_fixture_put(caller, text, strlen(text), hash);
        if (i % LOST_EVERY == 0) {
            char *path = s_blob_path(caller, hash);
            assert(unlink(path) == 0);
            zstr_free(&path);
            lost++;
        }
    }
    report = s_check(caller, false, true, &response);
    assert(report->blobs == before + BLOBS && report->missing_count == lost && report->repaired);
    cairn__response__free_unpacked(response, NULL);
    report = s_check(caller, false, false, &response);
    assert(report->blobs == before + BLOBS - lost && !report->missing_count);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_damage(ca_caller_t *caller) {
    uint8_t good[32], bad[32], lost[32];
    s_put_file(caller, "good blob", 9, good);
    s_put_file(caller, "bad blob!", 9, bad);
    s_put_file(caller, "lost blob", 9, lost);
    Cairn__Response *response;
    Cairn__ContentCheckReport *report = s_check(caller, true, false, &response);
    assert(report->missing_count == 0 && report->orphan_count == 0 && report->corrupt_count == 0);
    cairn__response__free_unpacked(response, NULL);

    s_flip_byte(caller, bad, 3);
    ca_testbed_fails(content_fixture_get(caller, bad, 32, false), CAIRN__STATUS__CORRUPT, "fsck");
    response = ca_testbed_ok(content_fixture_get(caller, bad, 32, true),
                             CAIRN__RESPONSE__BODY_CONTENT_GET);
    cairn__response__free_unpacked(response, NULL); //  skip_verify: served as is
    ca_testbed_fails(s_read(caller, bad, 0, 100), CAIRN__STATUS__CORRUPT,
                     "nothing of it was served");

    //  A missing file, an orphan file, a stray name.
    char *lost_path = s_blob_path(caller, lost);
    assert(unlink(lost_path) == 0);
    ca_testbed_fails(content_fixture_get(caller, lost, 32, false), CAIRN__STATUS__CORRUPT,
                     "missing");
    uint8_t orphan[32];
    ca_sha256("orphan", 6, orphan);
    char *orphan_path = s_blob_path(caller, orphan);
    char *orphan_dir =
        zsys_sprintf("%.*s", (int)(strrchr(orphan_path, '/') - orphan_path), orphan_path);
    mkdir(orphan_dir, 0700);
    FILE *file = fopen(orphan_path, "w");
    assert(file && fputs("orphan", file) >= 0);
    fclose(file);
    char *stray = zsys_sprintf("%s/notahash", orphan_dir);
    file = fopen(stray, "w");
    assert(file);
    fclose(file);

    report = s_check(caller, false, false, &response);
    assert(report->missing_count == 1 && memcmp(report->missing[0].data, lost, 32) == 0);
    assert(report->orphan_count == 1 && memcmp(report->orphans[0].data, orphan, 32) == 0);
    assert(report->corrupt_count == 0); //  same size: only `verify` sees it
    assert(report->stray_count == 1 && !report->repaired);
    cairn__response__free_unpacked(response, NULL);
    report = s_check(caller, true, true, &response);
    assert(report->corrupt_count == 1 && memcmp(report->corrupt[0].data, bad, 32) == 0);
    assert(report->missing_count == 1 && report->orphan_count == 1 && report->repaired);
    cairn__response__free_unpacked(response, NULL);

    //  After the repair: the orphan is indexed, the others are gone, the
    //  corrupt file is in quarantine, a second check is clean.
    content_fixture_get_expect(caller, orphan, "orphan", 6);
    s_has_expect(caller, lost, false, 0);
    s_has_expect(caller, bad, false, 0);
    content_fixture_get_expect(caller, good, "good blob", 9);
    char hex[65];
    ca_hash_to_hex(bad, hex);
    char *quarantined =
        zsys_sprintf("%s/content/quarantine/%s", ca_testbed_dir(ca_caller_testbed(caller)), hex);
    assert(access(quarantined, F_OK) == 0);
    report = s_check(caller, true, true, &response);
    assert(!report->missing_count && !report->orphan_count && !report->corrupt_count);
    assert(!report->repaired && report->stray_count == 1);
    cairn__response__free_unpacked(response, NULL);
    //  A corrupt file is healed by putting the right bytes again.
    content_fixture_put(caller, "good blob", 9, good);
    s_flip_byte(caller, good, 0);
    char *good_path = s_blob_path(caller, good);
    file = fopen(good_path, "a"); //  also the wrong size now
    zstr_free(&good_path);
    zstr_free(&quarantined);
    zstr_free(&stray);
    zstr_free(&orphan_dir);
    zstr_free(&orphan_path);
    zstr_free(&lost_path);
    if (file) {
        fputc('!', file);
        fclose(file);
    }
    assert(!content_fixture_put(caller, "good blob", 9, good));
    content_fixture_get_expect(caller, good, "good blob", 9);
}

//  ---- a check raced by puts ----------------------------------------------------------

//  What the split check below scanned, kept between its two requests. Only
//  the race testbed's one worker thread touches it.
static content_check_t *s_test_scanned;

//  ContentCheck in two requests, so that puts can come between the scan
//  and the repair: without `repair` it only scans and keeps what it found
//  (answering OK with no body); with `repair` it answers the kept scan.
static void s_test_check_split(ca_store_t *store, const Cairn__Request *request,
                               ca_reply_t *reply) {
    content_integrity_t *integrity = s_state(store)->integrity;
    if (!request->content_check->repair) {
        assert(!s_test_scanned);
        s_test_scanned =
            content_integrity_scan(integrity, store, request->content_check->verify, reply);
    } else {
        assert(s_test_scanned);
        content_integrity_answer(integrity, store, &s_test_scanned, true, reply);
    }
}

//  The first request of the split check: the scan, kept.
static void s_test_scan(ca_caller_t *caller) {
    Cairn__Request request;
    Cairn__ContentCheck check;
    ca_request_content_check(&request, &check, 0, true, false);
    Cairn__Response *response = ca_caller_call(caller, &request);
    assert(response && response->status == CAIRN__STATUS__OK && s_test_scanned);
    cairn__response__free_unpacked(response, NULL);
}

//  A put that writes a blob again between a check's scan and its repair
//  keeps its row: the repair deletes only the row the scan saw (by its
//  stored_at), and quarantines only a file that is still corrupt. A blob
//  nobody put again is repaired as usual.
static void s_test_check_race(void) {
    ca_handler_t handlers[sizeof s_handlers / sizeof s_handlers[0]];
    memcpy(handlers, s_handlers, sizeof handlers);
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].body == CAIRN__REQUEST__BODY_CONTENT_CHECK)
            handlers[i].handle = s_test_check_split;
    ca_store_def_t def = content_store_def;
    def.handlers = handlers;
    ca_testbed_t *bed = ca_testbed_new(&def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    uint8_t raced[32], rotten[32], lost[32];
    s_put_file(caller, "raced blob", 10, raced);
    s_put_file(caller, "rotten blob", 11, rotten);
    s_put_file(caller, "lost blob", 9, lost);
    char *raced_path = s_blob_path(caller, raced);
    char *lost_path = s_blob_path(caller, lost);
    assert(unlink(raced_path) == 0 && unlink(lost_path) == 0);
    s_flip_byte(caller, rotten, 2);

    //  The scan: two rows without a file, one corrupt.
    s_test_scan(caller);
    //  Puts write two of them again and commit.
    assert(!content_fixture_put(caller, "raced blob", 10, raced));
    assert(!content_fixture_put(caller, "rotten blob", 11, rotten));
    //  The repair of what the scan saw.
    Cairn__Response *response;
    Cairn__ContentCheckReport *report = s_check(caller, true, true, &response);
    assert(report->repaired && report->missing_count == 2 && report->corrupt_count == 1);
    cairn__response__free_unpacked(response, NULL);

    content_fixture_get_expect(caller, raced, "raced blob", 10);
    content_fixture_get_expect(caller, rotten, "rotten blob", 11);
    s_has_expect(caller, lost, false, 0);
    s_test_scan(caller); //  and nothing left to repair
    report = s_check(caller, true, true, &response);
    assert(!report->missing_count && !report->orphan_count && !report->corrupt_count);
    assert(report->blobs == 2 && !report->repaired);
    cairn__response__free_unpacked(response, NULL);
    zstr_free(&raced_path);
    zstr_free(&lost_path);
    ca_testbed_destroy(&bed);
}

//  Wrong sizes, unknown ids, malformed frames: INVALID or NOT_FOUND.
static void s_test_bad_input(ca_caller_t *caller) {
    content_fixture_bad_hashes(caller);
    uint8_t hash[32] = {0};
    const uint8_t garbage[] = {0x08, 0x01, 0xc2, 0x25, 0x05, 0x0a, 0xff};
    Cairn__Response *response =
        ca_testbed_call_raw(ca_caller_testbed(caller), garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_read(caller, hash, 0, 10), CAIRN__STATUS__NOT_FOUND, "no blob");
}

//  Idle streams are dropped by the tick.
static void s_test_timeout(void) {
    ca_store_settings_t settings = ca_testbed_settings();
    settings.maintenance_ms = 20;
    settings.stream_timeout_ms = 100;
    ca_testbed_t *bed = ca_testbed_new_full(&content_store_def, NULL, 0, &settings);
    ca_caller_t *caller = ca_testbed_caller(bed);
    uint64_t stream = content_fixture_begin(caller, NULL);
    cairn__response__free_unpacked(s_chunk(caller, stream, 0, "abc", 3), NULL);
    assert(s_temp_files(caller) == 1);
    int64_t deadline = zclock_mono() + 10000;
    bool gone = false;
    while (!gone && zclock_mono() < deadline) {
        Cairn__Request request;
        Cairn__ContentStats stats;
        ca_request_content_stats(&request, &stats, 0);
        Cairn__Response *response =
            ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_CONTENT_STATS);
        gone = response->content_stats->open_streams == 0;
        cairn__response__free_unpacked(response, NULL);
        if (!gone)
            zclock_sleep(10); //  polling a condition with a deadline, not timing
    }
    assert(gone && s_temp_files(caller) == 0);
    ca_testbed_fails(s_chunk(caller, stream, 3, "d", 1), CAIRN__STATUS__NOT_FOUND,
                     "stream_timeout_ms");
    ca_testbed_destroy(&bed);
}

//  Migration 3 on an index that has blobs: arrivals in stored order; a
//  new blob is a new arrival, a put of a stored one is not, and the
//  newest arrival's n is not given again after its blob is deleted.
static int64_t s_test_one(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

//  Test hashes are 31 zero bytes and `last`.
#define TEST_HASH(last) "x'00000000000000000000000000000000000000000000000000000000000000" last "'"

//  The arrival n of test hash `last`.
static int64_t s_test_arrival(sqlite3 *db, unsigned last) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT n FROM content_arrivals WHERE hash = "
             "x'00000000000000000000000000000000000000000000000000000000000000%02x'",
             last);
    return s_test_one(db, sql);
}

static void s_test_arrivals_migration(void) {
    sqlite3 *db = NULL;
    assert(sqlite3_open(":memory:", &db) == SQLITE_OK);
    ca_schema_t before = content_schema;
    before.count = 2;
    size_t from, to;
    assert(!ca_schema_migrate(db, &before, &from, &to) && to == 2);
    assert(sqlite3_exec(db,
                        "INSERT INTO content_blobs VALUES (" TEST_HASH(
                            "01") ", 1, 30.0),"
                                  " (" TEST_HASH("02") ", 2, 10.0), (" TEST_HASH("03") ", 3, 20.0)",
                        NULL, NULL, NULL) == SQLITE_OK);
    assert(!ca_schema_migrate(db, &content_schema, &from, &to) && from == 2 && to == 3);
    assert(s_test_arrival(db, 2) == 1 && s_test_arrival(db, 3) == 2 && s_test_arrival(db, 1) == 3);
    assert(
        sqlite3_exec(db,
                     "INSERT INTO content_blobs VALUES (" TEST_HASH(
                         "01") ", 1, 40.0)"
                               " ON CONFLICT (hash) DO UPDATE SET stored_at = 40.0;"
                               "INSERT INTO content_blobs VALUES (" TEST_HASH(
                                   "04") ", 4, 50.0);"
                                         "DELETE FROM content_blobs WHERE hash = " TEST_HASH(
                                             "04") ";"
                                                   "INSERT INTO content_blobs VALUES (" TEST_HASH(
                                                       "05") ", 5, 60.0);",
                     NULL, NULL, NULL) == SQLITE_OK);
    assert(s_test_one(db, "SELECT count(*) FROM content_arrivals") == 4);
    assert(s_test_arrival(db, 5) == 5);
    sqlite3_close(db);
}

void content_test(bool verbose) {
    if (verbose)
        printf(" * content: ");
    ca_testbed_t *bed = ca_testbed_new(&content_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    s_test_basics(caller);
    s_test_inline(caller);
    s_test_streams(caller);
    s_test_damage(caller);
    s_test_damage_inline(caller);
    s_test_check_batches(caller);
    s_test_bad_input(caller);
    Cairn__Request request;
    Cairn__ContentStats stats;
    ca_request_content_stats(&request, &stats, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CONTENT_STATS);
    assert(response->content_stats->blobs >= 4 && response->content_stats->open_streams == 0);
    assert(streq(response->content_stats->hash_backend, ca_sha256_backend()));
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_destroy(&bed);
    s_test_check_race();
    s_test_timeout();
    s_test_arrivals_migration();
    if (verbose)
        printf("OK\n");
}

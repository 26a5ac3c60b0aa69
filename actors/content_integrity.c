/*  =========================================================================
    content_integrity - is every blob what its hash says? Verified ranged
    reads, ContentCheck (fsck) and its repair; a private class of content.c

    What it owns, for one content worker (only that worker's thread calls
    it; content.c makes one per worker in its state):

      - The in-order read checks. ContentRead routes by hash, so a client
        reading a blob in order meets the same worker every time; for up to
        READ_CHECKS_MAX such readers the worker keeps the running hash of
        bytes [0, next). The range that reaches the end is compared with the
        blob's hash and answered CORRUPT instead of its bytes on a mismatch.
        A range read out of order, or by a reader whose slot was taken (least
        recently used), is served unverified (`verified` stays false).

      - ContentCheck {verify, repair} -> ContentCheckReport, in two passes:

            1. rows:  every index row has a file of its size (with verify:
                      of its hash)           else missing, or corrupt;
                      an inline row has bytes of its size (with verify:
                      of its hash)           else corrupt (repair drops it)
            2. files: every blob file under the prefix directories has a
                      row                    else an orphan (its bytes hash
                                             to its name) or corrupt
                      other names are strays: counted, never touched

        Pass 1 reads the index in batches of CHECK_BATCH_ROWS rows (a
        cursor by hash), each batch its own short read transaction, so a
        long check (with verify: hashing every file) never pins the WAL
        and checkpoints go on meanwhile.

        With repair and something to repair, one write: rows of missing and
        corrupt blobs go (corrupt files were moved to quarantine/ first),
        intact orphans are indexed. A put may race with the check; every
        put that writes bytes sets the row's stored_at anew, so the repair
        deletes a row only if its stored_at is still the one the check saw
        (the delete is conditional inside the writer's transaction), and
        quarantine moves a file only if, under the store lock, its bytes
        still do not match (a racing put may have replaced it). The report travels as the write's
        context; content_integrity_checked answers it after the COMMIT.
        The report lists at most CA_CONTENT_CHECK_LIST hashes per kind; the
        counts are complete.

      - The wording of damage: a read that meets a missing or corrupt file
        names the blob and the way out (`cairn content fsck`).

    Invariants: bytes that do not match their hash are never served as
    verified. It borrows the worker's ca_blobs_t (content.c destroys this
    class first) and reads the content_blobs index through the worker's
    read-only connection; it changes the index only through the writer. A
    check never deletes a blob file (quarantine keeps a corrupt one) and
    indexes a file again only when its bytes hash to its name. Memory: the
    read checks, and while checking 1 MiB of file bytes plus the hashes
    found.

    Tested through the actor by content_test: s_test_streams (verified
    reads), s_test_damage (damaged reads, check and repair),
    s_test_check_race (puts between the scan and the repair, which
    content_integrity_scan and content_integrity_answer let it place).
    ========================================================================= */

#include "content_integrity.h"
#include "ca_clock.h"
#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_validate.h"

#include <assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <string.h>

#define READ_CHECKS_MAX  16 //  in-order readers tracked per worker for verification
#define FSCK_ADVICE      "run `cairn content fsck --verify --repair`"
#define CHECK_BATCH_ROWS 256 //  index rows per read transaction of a check

//  A reader going through a blob in order: the hash of bytes [0, next).
typedef struct {
    uint8_t hash[CA_SHA256_BYTES];
    uint64_t next;
    ca_sha256_t *sha; //  NULL: free slot
    int64_t last_used;
} read_check_t;

struct _content_integrity_t {
    ca_blobs_t *blobs;          //  borrowed from the worker's state
    ca_blob_wanted_fn *indexed; //  is there a row for this hash? (context: the store)
    read_check_t checks[READ_CHECKS_MAX];
};

//  ---- damage ----------------------------------------------------------------------

void content_integrity_reply_damaged(ca_reply_t *reply, const uint8_t *hash, ca_status_t status,
                                     const char *detail) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    if (status == CA_NOT_FOUND) //  indexed, but the file is gone
        ca_reply_error(reply, CA_CORRUPT, "blob %s is indexed but its file is missing; %s", hex,
                       FSCK_ADVICE);
    else if (status == CA_CORRUPT)
        ca_reply_error(reply, CA_CORRUPT, "blob %s is corrupt (%s); nothing of it was served; %s",
                       hex, detail, FSCK_ADVICE);
    else
        ca_reply_error(reply, status, "cannot read blob %s: %s", hex, detail);
}

//  ---- inline blobs -------------------------------------------------------------------

//  The inline row of `hash`, stepped: SQLITE_ROW (data in column 0),
//  SQLITE_DONE, or an error with *error set. The caller resets `*stmt_p`.
static int s_inline_row(ca_store_t *store, const uint8_t *hash, sqlite3_stmt **stmt_p,
                        char **error) {
    ca_sql_t *sql = ca_store_sql(store);
    *stmt_p = ca_sql_prepare(sql, "SELECT data FROM content_inline WHERE hash = ?1");
    if (!*stmt_p) {
        if (error)
            *error = zsys_sprintf("cannot read the content index: %s",
                                  sqlite3_errmsg(ca_sql_handle(sql)));
        return SQLITE_ERROR;
    }
    sqlite3_bind_blob(*stmt_p, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(*stmt_p);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && error)
        *error =
            zsys_sprintf("cannot read the content index: %s", sqlite3_errmsg(ca_sql_handle(sql)));
    return rc;
}

ca_status_t content_inline_verify(ca_store_t *store, const uint8_t *hash, uint64_t size,
                                  bool verify, char **error) {
    sqlite3_stmt *stmt = NULL;
    int rc = s_inline_row(store, hash, &stmt, error);
    ca_status_t status = rc == SQLITE_ROW ? CA_OK : rc == SQLITE_DONE ? CA_NOT_FOUND : CA_INTERNAL;
    if (status == CA_OK) {
        const void *bytes = sqlite3_column_blob(stmt, 0);
        uint64_t stored = (uint64_t)sqlite3_column_bytes(stmt, 0);
        uint8_t digest[CA_SHA256_BYTES];
        if (stored == size && verify)
            ca_sha256(bytes ? bytes : "", (size_t)stored, digest);
        if (stored != size) {
            status = CA_CORRUPT;
            if (error)
                *error = zsys_sprintf(
                    "its inline bytes are %" PRIu64 " long, its row says %" PRIu64, stored, size);
        } else if (verify && memcmp(digest, hash, CA_SHA256_BYTES) != 0) {
            status = CA_CORRUPT;
            if (error)
                *error = strdup("its inline bytes do not match its hash");
        }
    }
    if (stmt)
        sqlite3_reset(stmt);
    return status;
}

//  ---- verified ranged reads ---------------------------------------------------------

//  The in-order check a range at `offset` continues: a new one at offset 0
//  (taking the least recently used slot), the one whose next byte is
//  `offset` otherwise; NULL when the range is out of order.
static read_check_t *s_read_check(content_integrity_t *self, const uint8_t *hash, uint64_t offset) {
    read_check_t *oldest = &self->checks[0];
    for (size_t i = 0; i < READ_CHECKS_MAX; i++) {
        read_check_t *check = &self->checks[i];
        if (offset > 0 && check->sha && check->next == offset &&
            memcmp(check->hash, hash, CA_SHA256_BYTES) == 0)
            return check;
        if (!check->sha || (oldest->sha && check->last_used < oldest->last_used))
            oldest = check;
    }
    if (offset > 0)
        return NULL;
    if (!oldest->sha)
        oldest->sha = ca_sha256_new();
    else
        ca_sha256_final(oldest->sha, oldest->hash); //  resets it; the value is dropped
    memcpy(oldest->hash, hash, CA_SHA256_BYTES);
    oldest->next = 0;
    return oldest;
}

static void s_read_check_free(read_check_t *check) {
    ca_sha256_destroy(&check->sha);
}

content_integrity_t *content_integrity_new(ca_blobs_t *blobs, ca_blob_wanted_fn *indexed) {
    content_integrity_t *self = (content_integrity_t *)zmalloc(sizeof(content_integrity_t));
    self->blobs = blobs;
    self->indexed = indexed;
    return self;
}

void content_integrity_destroy(content_integrity_t **self_p) {
    content_integrity_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < READ_CHECKS_MAX; i++)
        s_read_check_free(&self->checks[i]);
    free(self);
    *self_p = NULL;
}

bool content_integrity_verify_range(content_integrity_t *self, const uint8_t *hash, uint64_t offset,
                                    const uint8_t *data, size_t size, bool end, bool *verified,
                                    ca_reply_t *reply) {
    read_check_t *check = s_read_check(self, hash, offset);
    if (!check)
        return true; //  out of order: served unverified
    ca_sha256_update(check->sha, data, size);
    check->next += size;
    check->last_used = zclock_mono();
    if (!end)
        return true;
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256_final(check->sha, digest);
    s_read_check_free(check);
    *verified = memcmp(digest, hash, CA_SHA256_BYTES) == 0;
    if (!*verified)
        content_integrity_reply_damaged(reply, hash, CA_CORRUPT, "its bytes do not match its hash");
    return *verified;
}

//  ---- check (fsck) ------------------------------------------------------------------

//  Hashes found in one category: all of them (for repair), and the count.
typedef struct {
    uint8_t (*hashes)[CA_SHA256_BYTES];
    size_t count;
    size_t capacity;
} hash_list_t;

//  Grows `*array` to `capacity` items of `size` bytes; false when memory ran
//  out (the array is left as it was).
static bool s_grow(void **array, size_t capacity, size_t size) {
    void *grown = realloc(*array, capacity * size);
    if (!grown)
        return false;
    *array = grown;
    return true;
}

static bool s_list_add(hash_list_t *list, const uint8_t *hash) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 64;
        if (!s_grow((void **)&list->hashes, capacity, CA_SHA256_BYTES))
            return false;
        list->capacity = capacity;
    }
    memcpy(list->hashes[list->count++], hash, CA_SHA256_BYTES);
    return true;
}

struct _content_check_t {
    uint64_t rows, files, strays;
    hash_list_t missing, orphans, corrupt; //  corrupt: with or without a row
    double *missing_stored_at;             //  per missing: the row's stored_at seen
    uint64_t *orphan_sizes;                //  per orphan: its file's size
    bool *corrupt_indexed;                 //  per corrupt entry: it has a row
    bool *corrupt_inline;                  //  per corrupt entry: its bytes are inline
    double *corrupt_stored_at;             //  per corrupt entry with a row: as seen
    size_t corrupt_capacity;
    bool out_of_memory; //  a finding could not be kept: the check fails
    char *error;        //  an I/O error that stopped the check
};

static void s_check_destroy(content_check_t **check_p) {
    content_check_t *check = *check_p;
    if (!check)
        return;
    free(check->missing.hashes);
    free(check->orphans.hashes);
    free(check->corrupt.hashes);
    free(check->missing_stored_at);
    free(check->orphan_sizes);
    free(check->corrupt_indexed);
    free(check->corrupt_inline);
    free(check->corrupt_stored_at);
    zstr_free(&check->error);
    free(check);
    *check_p = NULL;
}

static void s_check_missing(content_check_t *check, const uint8_t *hash, double stored_at) {
    if (!s_list_add(&check->missing, hash)) {
        check->out_of_memory = true;
        return;
    }
    if (!s_grow((void **)&check->missing_stored_at, check->missing.capacity, sizeof(double))) {
        check->missing.count--;
        check->out_of_memory = true;
        return;
    }
    check->missing_stored_at[check->missing.count - 1] = stored_at;
}

static void s_check_corrupt(content_check_t *check, const uint8_t *hash, bool indexed,
                            bool is_inline, double stored_at) {
    if (!s_list_add(&check->corrupt, hash)) {
        check->out_of_memory = true;
        return;
    }
    if (check->corrupt.count > check->corrupt_capacity) {
        size_t capacity = check->corrupt.capacity;
        if (!s_grow((void **)&check->corrupt_indexed, capacity, sizeof(bool)) ||
            !s_grow((void **)&check->corrupt_inline, capacity, sizeof(bool)) ||
            !s_grow((void **)&check->corrupt_stored_at, capacity, sizeof(double))) {
            check->corrupt.count--;
            check->out_of_memory = true;
            return;
        }
        check->corrupt_capacity = capacity;
    }
    check->corrupt_indexed[check->corrupt.count - 1] = indexed;
    check->corrupt_inline[check->corrupt.count - 1] = is_inline;
    check->corrupt_stored_at[check->corrupt.count - 1] = stored_at;
}

static void s_check_orphan(content_check_t *check, const uint8_t *hash, uint64_t size) {
    if (!s_list_add(&check->orphans, hash)) {
        check->out_of_memory = true;
        return;
    }
    if (!s_grow((void **)&check->orphan_sizes, check->orphans.capacity, sizeof(uint64_t))) {
        check->orphans.count--;
        check->out_of_memory = true;
        return;
    }
    check->orphan_sizes[check->orphans.count - 1] = size;
}

//  One index row as pass 1 saw it.
typedef struct {
    uint8_t hash[CA_SHA256_BYTES];
    uint64_t size;
    double stored_at;
    bool is_inline; //  its bytes are in content_inline
} row_seen_t;

//  Reads the next batch of at most CHECK_BATCH_ROWS rows after `after`
//  (NULL: from the start) in one short read transaction: the statement is
//  reset before any file is looked at. Returns the rows read, or -1 with
//  check->error.
static int s_read_batch(ca_store_t *store, const uint8_t *after, row_seen_t *rows,
                        content_check_t *check) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        ca_store_sql(store), "SELECT hash, size, stored_at,"
                             " EXISTS (SELECT 1 FROM content_inline i WHERE i.hash = b.hash)"
                             " FROM content_blobs b WHERE hash > ?1 ORDER BY hash LIMIT ?2");
    if (!stmt) {
        check->error = zsys_sprintf("cannot read the content index: %s",
                                    sqlite3_errmsg(ca_sql_handle(ca_store_sql(store))));
        return -1;
    }
    if (after)
        sqlite3_bind_blob(stmt, 1, after, CA_SHA256_BYTES, SQLITE_TRANSIENT);
    else
        sqlite3_bind_zeroblob(stmt, 1, 0); //  sorts before every 32-byte hash
    sqlite3_bind_int(stmt, 2, CHECK_BATCH_ROWS);
    int count = 0, rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && count < CHECK_BATCH_ROWS) {
        if (sqlite3_column_bytes(stmt, 0) != CA_SHA256_BYTES)
            continue; //  the table's CHECK rules it out
        memcpy(rows[count].hash, sqlite3_column_blob(stmt, 0), CA_SHA256_BYTES);
        rows[count].size = (uint64_t)sqlite3_column_int64(stmt, 1);
        rows[count].stored_at = sqlite3_column_double(stmt, 2);
        rows[count].is_inline = sqlite3_column_int(stmt, 3) != 0;
        count++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        check->error = zsys_sprintf("cannot read the content index: %s",
                                    sqlite3_errmsg(sqlite3_db_handle(stmt)));
        count = -1;
    }
    sqlite3_reset(stmt); //  ends the read transaction
    sqlite3_clear_bindings(stmt);
    return count;
}

//  Pass 1: every index row has a file of its size (and, with verify, its
//  hash).
static void s_check_rows(content_integrity_t *self, ca_store_t *store, content_check_t *check,
                         bool verify) {
    ca_blobs_t *blobs = self->blobs;
    row_seen_t *rows = (row_seen_t *)malloc(CHECK_BATCH_ROWS * sizeof(row_seen_t));
    if (!rows) {
        check->error = strdup("the node is out of memory");
        return;
    }
    uint8_t after[CA_SHA256_BYTES];
    int count;
    bool first = true;
    while ((count = s_read_batch(store, first ? NULL : after, rows, check)) > 0) {
        first = false;
        memcpy(after, rows[count - 1].hash, CA_SHA256_BYTES);
        for (int i = 0; i < count; i++) {
            const row_seen_t *row = &rows[i];
            check->rows++;
            if (row->is_inline) {
                //  Its bytes are in SQLite: of its size, and with verify
                //  of its hash.
                char *error = NULL;
                ca_status_t status =
                    content_inline_verify(store, row->hash, row->size, verify, &error);
                if (status == CA_CORRUPT)
                    s_check_corrupt(check, row->hash, true, true, row->stored_at);
                else if (status == CA_INTERNAL)
                    ca_log_warning("content check: %s", error);
                zstr_free(&error);
                continue;
            }
            uint64_t on_disk = 0;
            if (!ca_blobs_file_size(blobs, row->hash, &on_disk)) {
                s_check_missing(check, row->hash, row->stored_at);
                continue;
            }
            bool matches = on_disk == row->size;
            if (matches && verify) {
                char *path = ca_blobs_path(blobs, row->hash);
                char *error = NULL;
                if (ca_blobs_verify_file(blobs, path, row->hash, &matches, &on_disk, &error) !=
                    CA_OK) {
                    ca_log_warning("content check: %s", error);
                    zstr_free(&error);
                }
                zstr_free(&path);
            }
            if (!matches)
                s_check_corrupt(check, row->hash, true, false, row->stored_at);
        }
        if (count < CHECK_BATCH_ROWS)
            break;
    }
    free(rows);
}

//  What a file visit of pass 2 needs.
typedef struct {
    content_integrity_t *self;
    ca_store_t *store;
    content_check_t *check;
} file_pass_t;

//  One blob file of a prefix directory: indexed, or an orphan, or corrupt.
static bool s_check_file(void *context, const uint8_t hash[CA_SHA256_BYTES], const char *path) {
    file_pass_t *pass = (file_pass_t *)context;
    content_check_t *check = pass->check;
    check->files++;
    if (pass->self->indexed(pass->store, hash))
        return true; //  indexed: pass 1 looked at it
    //  Never indexed (or its row went): it may be indexed again only if its
    //  bytes are what its name says.
    uint64_t size = 0;
    char *error = NULL;
    bool matches = false;
    if (ca_blobs_verify_file(pass->self->blobs, path, hash, &matches, &size, &error) != CA_OK) {
        ca_log_warning("content check: %s", error);
        zstr_free(&error);
    } else if (matches)
        s_check_orphan(check, hash, size);
    else
        s_check_corrupt(check, hash, false, false, 0);
    return !check->error;
}

//  Pass 2: every file under the prefix directories has a row; other names
//  are strays.
static void s_check_files(content_integrity_t *self, ca_store_t *store, content_check_t *check) {
    const char *root = ca_blobs_root(self->blobs);
    file_pass_t pass = {self, store, check};
    size_t strays = 0;
    if (ca_blobs_walk(root, s_check_file, &pass, &strays) < 0)
        check->error = zsys_sprintf("cannot read %s: %s", root, strerror(errno));
    check->strays += strays;
}

//  Copies at most CA_CONTENT_CHECK_LIST hashes of a list into the answer.
static void s_report_list(ca_reply_t *reply, const hash_list_t *list, uint64_t *count,
                          size_t *n_out, ProtobufCBinaryData **out) {
    *count = list->count;
    *n_out = list->count < CA_CONTENT_CHECK_LIST ? list->count : CA_CONTENT_CHECK_LIST;
    *out = (ProtobufCBinaryData *)ca_reply_alloc(reply, *n_out * sizeof(ProtobufCBinaryData));
    for (size_t i = 0; i < *n_out; i++) {
        (*out)[i].data = (uint8_t *)ca_reply_memdup(reply, list->hashes[i], CA_SHA256_BYTES);
        (*out)[i].len = CA_SHA256_BYTES;
    }
}

static Cairn__ContentCheckReport *s_report(ca_reply_t *reply, const content_check_t *check) {
    Cairn__ContentCheckReport *report =
        (Cairn__ContentCheckReport *)ca_reply_alloc(reply, sizeof(Cairn__ContentCheckReport));
    cairn__content_check_report__init(report);
    report->blobs = check->rows;
    report->files = check->files;
    report->stray_count = check->strays;
    s_report_list(reply, &check->missing, &report->missing_count, &report->n_missing,
                  &report->missing);
    s_report_list(reply, &check->orphans, &report->orphan_count, &report->n_orphans,
                  &report->orphans);
    s_report_list(reply, &check->corrupt, &report->corrupt_count, &report->n_corrupt,
                  &report->corrupt);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONTENT_CHECK;
    response->content_check = report;
    return report;
}

//  The repair, as one write: rows of missing and corrupt blobs go (corrupt
//  files were moved to quarantine first), intact orphans are indexed.
//  The delete of a row the check found damaged: only the row it saw (a
//  put that wrote the blob since set stored_at anew, and keeps its row).
static void s_repair_delete(ca_write_t *write, const uint8_t *hash, double stored_at) {
    ca_write_statement(write, "DELETE FROM content_blobs WHERE hash = ?1 AND stored_at = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_real(write, stored_at);
}

static ca_write_t *s_repair_write(content_integrity_t *self, const content_check_t *check) {
    ca_write_t *write = ca_write_new();
    for (size_t i = 0; i < check->missing.count; i++)
        s_repair_delete(write, check->missing.hashes[i], check->missing_stored_at[i]);
    for (size_t i = 0; i < check->corrupt.count; i++) {
        if (check->corrupt_inline[i]) {
            //  No file: the row goes (and its inline bytes with it).
            s_repair_delete(write, check->corrupt.hashes[i], check->corrupt_stored_at[i]);
            continue;
        }
        char *error = NULL;
        int moved = ca_blobs_quarantine(self->blobs, check->corrupt.hashes[i], &error);
        if (moved < 0) {
            ca_log_warning("content check: %s", error);
            zstr_free(&error);
        }
        if (moved == 1 || !check->corrupt_indexed[i])
            continue; //  a put replaced the file meanwhile: it is intact now
        s_repair_delete(write, check->corrupt.hashes[i], check->corrupt_stored_at[i]);
    }
    double now = ca_now_seconds();
    for (size_t i = 0; i < check->orphans.count; i++) {
        ca_write_statement(write,
                           "INSERT INTO content_blobs (hash, size, stored_at) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (hash) DO NOTHING",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, check->orphans.hashes[i], CA_SHA256_BYTES);
        ca_write_int(write, (int64_t)check->orphan_sizes[i]);
        ca_write_real(write, now);
    }
    return write;
}

content_check_t *content_integrity_scan(content_integrity_t *self, ca_store_t *store, bool verify,
                                        ca_reply_t *reply) {
    content_check_t *check = (content_check_t *)calloc(1, sizeof(content_check_t));
    if (!check) {
        ca_reply_error(reply, CA_INTERNAL, "the node is out of memory; the check did not start");
        return NULL;
    }
    s_check_rows(self, store, check, verify);
    if (!check->error)
        s_check_files(self, store, check);
    if (!check->error && check->out_of_memory)
        check->error = strdup("the node ran out of memory listing the problems found");
    if (check->error) {
        ca_reply_error(reply, CA_INTERNAL, "%s; the check stopped", check->error);
        s_check_destroy(&check);
    }
    return check;
}

void content_integrity_answer(content_integrity_t *self, ca_store_t *store,
                              content_check_t **check_p, bool repair, ca_reply_t *reply) {
    content_check_t *check = *check_p;
    bool problems = check->missing.count || check->orphans.count || check->corrupt.count;
    if (repair && problems) {
        //  The report travels as the write's context; the done answers it.
        Cairn__ContentCheckReport *report = s_report(reply, check);
        report->repaired = true;
        size_t size = cairn__content_check_report__get_packed_size(report);
        uint8_t *packed = (uint8_t *)malloc(size ? size : 1);
        if (!packed) {
            ca_reply_error(reply, CA_INTERNAL,
                           "the node ran out of memory before the repair; nothing was changed, "
                           "retry later");
            s_check_destroy(check_p);
            return;
        }
        cairn__content_check_report__pack(report, packed);
        ca_write_t *write = s_repair_write(self, check);
        ca_write_context(write, packed, size);
        free(packed);
        ca_store_write(store, &write, reply);
    } else
        s_report(reply, check);
    s_check_destroy(check_p);
}

void content_integrity_check(content_integrity_t *self, ca_store_t *store,
                             const Cairn__ContentCheck *ask, ca_reply_t *reply) {
    content_check_t *check = content_integrity_scan(self, store, ask->verify, reply);
    if (check)
        content_integrity_answer(self, store, &check, ask->repair, reply);
}

//  protobuf-c allocator drawing from a reply's arena: what it unpacks lives
//  exactly as long as the answer.
static void *s_arena_alloc(void *reply, size_t size) {
    return ca_reply_alloc((ca_reply_t *)reply, size);
}

static void s_arena_free(void *reply, void *pointer) {
}

void content_integrity_checked(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    ProtobufCAllocator arena = {s_arena_alloc, s_arena_free, reply};
    Cairn__ContentCheckReport *report =
        cairn__content_check_report__unpack(&arena, write->context.len, write->context.data);
    if (!report) {
        ca_reply_error(reply, CA_INTERNAL,
                       "the repair committed but its report was lost; run the check again to "
                       "see the state");
        return;
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONTENT_CHECK;
    response->content_check = report;
}

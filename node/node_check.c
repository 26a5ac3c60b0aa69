/*  =========================================================================
    node_check - offline checks of a data dir (`cairnd check`) and the
    torn-WAL warning at start

    Why offline: PRAGMA integrity_check reads every page and every index
    entry (far more than the quick_check the node runs at start), and
    hashing every blob file reads all of content/; on a live node the
    files would also change under the check. So `cairnd check` takes the
    data dir's lock (node_lock_data_dir, the flock a running node holds),
    which both refuses while a node runs and keeps one from starting
    meanwhile. It opens cairn.db read-only: a check never changes what it
    reports on (no WAL recovery written back, no checkpoint).

    What it reports, one line per finding, NODE_CHECK_LIST per kind:

        kind          found by                                 exit
        wal           node_check_wal (below)                   1
        integrity     PRAGMA integrity_check (full)            1
        foreign key   PRAGMA foreign_key_check                 1
        schema        schema_version against this cairnd       1 (newer, missing)
        missing blob  an index row without its file (inline    1
                      content blobs have none: their bytes
                      are in content_inline)
        corrupt blob  a file, or inline bytes, of the wrong    1
                      size, or whose SHA-256 is not its name
        orphan blob   a blob file without a row                1

    The pieces are the node's own: the lock (node.c), the check pragma
    (ca_sql_check, also the writer's start check), the blob layout, walk
    and hashing (ca_blobs), schema versions (ca_schema_version).

    The WAL. SQLite's log is a 32-byte header (magic 0x377f0682/3, format
    3007000, page size, checkpoint sequence, two salts, a checksum of the
    first 24 bytes), then frames of a 24-byte header (page number, the
    database size for a commit frame, the salts, a running checksum) and
    one page. Recovery keeps frames up to the last valid commit frame and
    silently drops the rest: a file that ends inside a frame lost that
    frame's commit, a header that is not valid loses every frame. After a
    crash in the middle of a commit that is expected (nothing of it was
    acknowledged); after a truncation or an incomplete copy, acknowledged
    writes are gone. Both look alike on disk, so the node warns and goes
    on, and the warning says how to tell. A cut tail whose salts are not
    the header's is left over from an older pass over the file (SQLite
    reuses the file from its start after a checkpoint) and is not reported.
    ========================================================================= */

#include "node_check.h"
#include "ca_blobs.h"
#include "ca_limits.h"
#include "ca_sql.h"
#include "ca_validate.h"
#include "node.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

//  ---- the WAL --------------------------------------------------------------------

#define WAL_HEADER_BYTES       32
#define WAL_FRAME_HEADER_BYTES 24
#define WAL_MAGIC              0x377f0682u //  | 1: checksums of big-endian words
#define WAL_FORMAT             3007000u

static uint32_t s_be32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

static uint32_t s_le32(const uint8_t *bytes) {
    return (uint32_t)bytes[3] << 24 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[1] << 8 | bytes[0];
}

//  Whether the header's checksum (of its first 24 bytes) is right: the WAL
//  checksum over pairs of 32-bit words, in the order the magic says.
static bool s_wal_header_sum_ok(const uint8_t *header) {
    bool big_endian = s_be32(header) & 1;
    uint32_t s0 = 0, s1 = 0;
    for (size_t at = 0; at < 24; at += 8) {
        uint32_t x0 = big_endian ? s_be32(header + at) : s_le32(header + at);
        uint32_t x1 = big_endian ? s_be32(header + at + 4) : s_le32(header + at + 4);
        s0 += x0 + s1;
        s1 += x1 + s0;
    }
    return s0 == s_be32(header + 24) && s1 == s_be32(header + 28);
}

static const char s_wal_advice[] =
    "If cairnd crashed or lost power in the middle of a commit, this is expected and no "
    "acknowledged write was lost. If the file was truncated or copied incompletely (a restore, "
    "a disk that filled outside SQLite), acknowledged writes may be missing: stop cairnd and "
    "restore cairn.db together with its cairn.db-wal from a backup; `cairnd check` lists any "
    "other damage";

char *node_check_wal(const char *db_path) {
    char *path = zsys_sprintf("%s-wal", db_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    uint8_t header[WAL_HEADER_BYTES];
    char *problem = NULL;
    if (fd < 0) {
        if (errno != ENOENT)
            problem = zsys_sprintf("cannot read %s to check it: %s", path, strerror(errno));
    } else if (fstat(fd, &info) != 0)
        problem = zsys_sprintf("cannot read %s to check it: %s", path, strerror(errno));
    else if (info.st_size == 0)
        ; //  no frames: nothing to lose
    else if (info.st_size < WAL_HEADER_BYTES)
        problem = zsys_sprintf("%s is %lld bytes, shorter than its 32-byte header: SQLite ignores "
                               "it, and every write it held. %s",
                               path, (long long)info.st_size, s_wal_advice);
    else if (pread(fd, header, sizeof header, 0) != (ssize_t)sizeof header)
        problem = zsys_sprintf("cannot read %s to check it: %s", path, strerror(errno));
    else {
        uint32_t page = s_be32(header + 8);
        bool valid = (s_be32(header) & ~1u) == WAL_MAGIC && s_be32(header + 4) == WAL_FORMAT &&
                     page >= 512 && page <= 65536 && (page & (page - 1)) == 0 &&
                     s_wal_header_sum_ok(header);
        uint64_t frame = WAL_FRAME_HEADER_BYTES + (uint64_t)page;
        uint64_t tail = valid ? ((uint64_t)info.st_size - WAL_HEADER_BYTES) % frame : 0;
        uint8_t salts[8];
        bool current = tail >= 16 &&
                       pread(fd, salts, sizeof salts, info.st_size - (off_t)tail + 8) ==
                           (ssize_t)sizeof salts &&
                       memcmp(salts, header + 16, sizeof salts) == 0;
        if (!valid)
            problem = zsys_sprintf("the header of %s is not a valid WAL header (a torn or "
                                   "overwritten start of the file): SQLite ignores all of its "
                                   "%lld bytes, and every write they held. %s",
                                   path, (long long)info.st_size, s_wal_advice);
        else if (tail > 0 && (tail < 16 || current))
            problem = zsys_sprintf(
                "%s ends in a partial frame: its last %llu bytes are not a whole frame of %llu "
                "bytes (%u-byte pages), so SQLite ignores them and the commit they belonged to. %s",
                path, (unsigned long long)tail, (unsigned long long)frame, page, s_wal_advice);
    }
    if (fd >= 0)
        close(fd);
    zstr_free(&path);
    return problem;
}

//  ---- findings ---------------------------------------------------------------------

typedef enum {
    KIND_WAL,
    KIND_INTEGRITY,
    KIND_FOREIGN_KEY,
    KIND_SCHEMA,
    KIND_MISSING,
    KIND_CORRUPT,
    KIND_ORPHAN,
    KIND_COUNT
} kind_t;

//  Each kind's name (the start of its lines) and what to do about it.
static const struct {
    const char *name;
    const char *advice;
} s_kinds[KIND_COUNT] = {
    {"wal", "see the line above: a crash mid-commit lost nothing acknowledged; a truncated or "
            "partial copy did, then restore cairn.db with its cairn.db-wal from a backup"},
    {"integrity", "cairn.db is damaged (the node refuses to start on it): restore cairn.db, "
                  "with its cairn.db-wal, from a backup"},
    {"foreign key", "rows refer to rows that are gone: restore cairn.db from a backup"},
    {"schema", "see the lines above: run the cairnd that wrote this database, or restore a "
               "backup"},
    {"missing blob", "start the node and run `cairn content fsck --verify --repair` (drops "
                     "the rows), then put those blobs again; for cache/, `cairn cache clear`"},
    {"corrupt blob", "start the node and run `cairn content fsck --verify --repair` (moves "
                     "the files to content/quarantine/ and drops their rows), then put those "
                     "blobs again; for cache/, `cairn cache clear`"},
    {"orphan blob", "files without a row were never acknowledged: the next start removes "
                    "them (the orphan sweep)"},
};

typedef struct {
    FILE *out;
    const char *data_dir;
    ca_sql_t *sql;
    size_t counts[KIND_COUNT];
    uint64_t blobs_verified;
} check_t;

//  One finding: printed while its kind has had fewer than NODE_CHECK_LIST.
static void s_finding(check_t *check, kind_t kind, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void s_finding(check_t *check, kind_t kind, const char *format, ...) {
    if (check->counts[kind]++ >= NODE_CHECK_LIST)
        return;
    va_list args;
    va_start(args, format);
    fprintf(check->out, "%s: ", s_kinds[kind].name);
    vfprintf(check->out, format, args);
    fputc('\n', check->out);
    va_end(args);
}

//  ---- the database -----------------------------------------------------------------

//  integrity_check rows: one problem each, though SQLite 3.40 may put
//  several on lines of one row under a "*** in database main ***" heading.
static void s_integrity_row(void *context, sqlite3_stmt *row) {
    const char *text = (const char *)sqlite3_column_text(row, 0);
    if (!text) {
        s_finding((check_t *)context, KIND_INTEGRITY, "(a problem without text)");
        return;
    }
    while (*text) {
        size_t length = strcspn(text, "\n");
        if (length > 0 && strncmp(text, "*** ", 4) != 0)
            s_finding((check_t *)context, KIND_INTEGRITY, "%.*s", (int)length, text);
        text += length + (text[length] == '\n');
    }
}

//  foreign_key_check rows: table, rowid, parent table, constraint index.
static void s_foreign_key_row(void *context, sqlite3_stmt *row) {
    const char *table = (const char *)sqlite3_column_text(row, 0);
    const char *parent = (const char *)sqlite3_column_text(row, 2);
    const char *rowid = (const char *)sqlite3_column_text(row, 1);
    s_finding((check_t *)context, KIND_FOREIGN_KEY,
              "a row of %s (rowid %s) refers to a row of %s that does not exist",
              table ? table : "?", rowid ? rowid : "none", parent ? parent : "?");
}

static void s_check_database(check_t *check) {
    struct {
        const char *pragma;
        kind_t kind;
        ca_sql_row_fn *row;
    } passes[] = {{"PRAGMA integrity_check", KIND_INTEGRITY, s_integrity_row},
                  {"PRAGMA foreign_key_check", KIND_FOREIGN_KEY, s_foreign_key_row}};
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        char *error = NULL;
        if (ca_sql_check(check->sql, passes[i].pragma, passes[i].row, check, &error) < 0) {
            s_finding(check, passes[i].kind, "%s", error);
            zstr_free(&error);
        }
    }
}

static bool s_table_exists(check_t *check, const char *table) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        check->sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    bool exists = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return exists;
}

//  Each schema the node migrates, once (pools of one family share one).
static void s_check_schemas(check_t *check) {
    sqlite3 *db = ca_sql_handle(check->sql);
    if (!s_table_exists(check, "schema_version")) {
        s_finding(check, KIND_SCHEMA,
                  "cairn.db has no schema_version table: cairnd never "
                  "initialised it (is this the node's cairn.db?)");
        return;
    }
    size_t count = 0;
    const ca_store_def_t *const *defs = node_store_defs(&count);
    for (size_t i = 0; i < count; i++) {
        const ca_schema_t *schema = defs[i]->schema;
        bool seen = schema == NULL;
        for (size_t k = 0; k < i && !seen; k++)
            seen = defs[k]->schema == schema;
        if (seen)
            continue;
        int64_t version = ca_schema_version(db, schema->store);
        if (version > (int64_t)schema->count)
            s_finding(check, KIND_SCHEMA,
                      "store '%s' is at schema version %lld, newer than this cairnd knows "
                      "(%zu): a newer cairnd wrote it; run that one",
                      schema->store, (long long)version, schema->count);
        else if (version < (int64_t)schema->count)
            fprintf(check->out,
                    "note: store '%s' is at schema version %lld of %zu; the next "
                    "start migrates it\n",
                    schema->store, (long long)version, schema->count);
    }
}

//  ---- the blob directories ---------------------------------------------------------

//  Each blob directory, its index table (the tables the stores' prepare
//  sweeps by: content.c, cache.c) and the table of bytes kept inline in
//  the database instead of a file (content.c; none for the cache).
const node_blob_store_t node_blob_stores[NODE_BLOB_STORES] = {
    {CA_CONTENT_DIR, "content_blobs", "content_inline"}, {CA_CACHE_DIR, "cache_entries", NULL}};

typedef struct {
    check_t *check;
    const char *dir;
    sqlite3_stmt *lookup; //  SELECT 1 FROM <table> WHERE hash = ?1
} blob_pass_t;

static bool s_check_orphan(void *context, const uint8_t hash[CA_SHA256_BYTES], const char *path) {
    blob_pass_t *pass = (blob_pass_t *)context;
    sqlite3_reset(pass->lookup);
    sqlite3_bind_blob(pass->lookup, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(pass->lookup);
    sqlite3_reset(pass->lookup);
    if (rc == SQLITE_DONE)
        s_finding(pass->check, KIND_ORPHAN, "%s has no row in the %s index", path, pass->dir);
    return true;
}

//  An inline blob (no file): its bytes are of its size and hash.
static void s_check_inline(check_t *check, const char *dir, const uint8_t *hash, uint64_t size,
                           const void *data, uint64_t stored) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    uint8_t digest[CA_SHA256_BYTES];
    if (stored == size)
        ca_sha256(data ? data : "", (size_t)stored, digest);
    if (stored != size)
        s_finding(check, KIND_CORRUPT,
                  "%s blob %s is kept inline as %" PRIu64 " bytes, its row says %" PRIu64, dir, hex,
                  stored, size);
    else if (memcmp(digest, hash, CA_SHA256_BYTES) != 0)
        s_finding(check, KIND_CORRUPT, "%s blob %s: its inline bytes do not hash to its name", dir,
                  hex);
    else
        check->blobs_verified++;
}

//  Every row has its file, of its size and hash; or, when its bytes are
//  inline (in `inline_table`, NULL: none), those bytes.
static void s_check_rows(check_t *check, ca_blobs_t *blobs, const char *dir, const char *table,
                         const char *inline_table) {
    char *select = inline_table
                       ? zsys_sprintf("SELECT b.hash, b.size, i.data FROM %s b LEFT JOIN %s i"
                                      " ON i.hash = b.hash",
                                      table, inline_table)
                       : zsys_sprintf("SELECT hash, size, NULL FROM %s", table);
    sqlite3_stmt *rows = ca_sql_prepare(check->sql, select);
    zstr_free(&select);
    int rc = SQLITE_DONE;
    while (rows && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(rows, 0) != CA_SHA256_BYTES)
            continue; //  the table's CHECK rules it out
        uint8_t hash[CA_SHA256_BYTES];
        memcpy(hash, sqlite3_column_blob(rows, 0), CA_SHA256_BYTES);
        uint64_t size = (uint64_t)sqlite3_column_int64(rows, 1), on_disk = 0;
        if (sqlite3_column_type(rows, 2) != SQLITE_NULL) {
            s_check_inline(check, dir, hash, size, sqlite3_column_blob(rows, 2),
                           (uint64_t)sqlite3_column_bytes(rows, 2));
            continue;
        }
        char hex[65];
        ca_hash_to_hex(hash, hex);
        char *path = blobs ? ca_blobs_path(blobs, hash) : zsys_sprintf("%s/%.2s/%s", dir, hex, hex);
        bool matches = false;
        char *error = NULL;
        if (!blobs || !ca_blobs_file_size(blobs, hash, &on_disk))
            s_finding(check, KIND_MISSING, "%s is indexed (%" PRIu64 " bytes) but has no file",
                      path, size);
        else if (on_disk != size)
            s_finding(check, KIND_CORRUPT, "%s is %" PRIu64 " bytes, its row says %" PRIu64, path,
                      on_disk, size);
        else if (ca_blobs_verify_file(blobs, path, hash, &matches, &on_disk, &error) != CA_OK)
            s_finding(check, KIND_CORRUPT, "%s", error);
        else if (!matches)
            s_finding(check, KIND_CORRUPT, "%s: its bytes do not hash to its name", path);
        else
            check->blobs_verified++;
        zstr_free(&error);
        zstr_free(&path);
    }
    if (!rows || rc != SQLITE_DONE)
        s_finding(check, KIND_INTEGRITY, "cannot read the %s index (%s): %s", dir, table,
                  sqlite3_errmsg(ca_sql_handle(check->sql)));
    if (rows)
        sqlite3_reset(rows);
}

static void s_check_blobs(check_t *check) {
    for (size_t i = 0; i < NODE_BLOB_STORES; i++) {
        const char *dir = node_blob_stores[i].dir, *table = node_blob_stores[i].table;
        const char *inline_table = node_blob_stores[i].inline_table;
        if (!s_table_exists(check, table))
            continue; //  reported by the schema check, or migrated at the next start
        if (inline_table && !s_table_exists(check, inline_table))
            inline_table = NULL; //  a database the next start migrates: all files
        char *root = zsys_sprintf("%s/%s", check->data_dir, dir);
        char *error = NULL;
        struct stat info;
        ca_blobs_t *blobs =
            stat(root, &info) == 0 ? ca_blobs_open(check->data_dir, dir, &error) : NULL;
        if (error) {
            fprintf(check->out, "note: %s\n", error);
            zstr_free(&error);
        }
        s_check_rows(check, blobs, dir, table, inline_table);
        char *lookup = zsys_sprintf("SELECT 1 FROM %s WHERE hash = ?1", table);
        blob_pass_t pass = {check, dir, ca_sql_prepare(check->sql, lookup)};
        zstr_free(&lookup);
        if (blobs && pass.lookup)
            ca_blobs_walk(root, s_check_orphan, &pass, NULL);
        ca_blobs_destroy(&blobs);
        zstr_free(&root);
    }
}

//  ---- the command ------------------------------------------------------------------

//  Prints the summary; returns the exit status.
static int s_summary(check_t *check) {
    size_t total = 0;
    for (size_t k = 0; k < KIND_COUNT; k++)
        total += check->counts[k];
    if (total == 0) {
        fprintf(check->out,
                "cairnd check: %s is clean (integrity_check ok, foreign keys ok, schemas known, "
                "%" PRIu64 " blob(s) verified, no orphan)\n",
                check->data_dir, check->blobs_verified);
        return NODE_CHECK_CLEAN;
    }
    fprintf(check->out, "cairnd check: %zu problem(s) in %s:\n", total, check->data_dir);
    for (size_t k = 0; k < KIND_COUNT; k++)
        if (check->counts[k])
            fprintf(check->out, "  %zu %s%s: %s\n", check->counts[k], s_kinds[k].name,
                    check->counts[k] > NODE_CHECK_LIST ? " (the first listed above)" : "",
                    s_kinds[k].advice);
    return NODE_CHECK_DAMAGED;
}

int node_check_run(const char *data_dir, FILE *out, FILE *err) {
    struct stat info;
    if (stat(data_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        fprintf(err,
                "cairnd check: the data dir %s does not exist; give the node's --data-dir "
                "(or its --config)\n",
                data_dir);
        return NODE_CHECK_UNUSED;
    }
    char *error = NULL;
    int lock_fd = node_lock_data_dir(data_dir, &error);
    if (lock_fd < 0) {
        fprintf(err, "cairnd check: %s; the check runs only on a stopped node\n", error);
        zstr_free(&error);
        return NODE_CHECK_UNUSED;
    }
    char *db_path = zsys_sprintf("%s/%s", data_dir, CA_DB_FILE);
    int status = NODE_CHECK_UNUSED;
    check_t check = {.out = out, .data_dir = data_dir};
    if (stat(db_path, &info) != 0 || info.st_size == 0)
        fprintf(err,
                "cairnd check: %s is %s: nothing to check. If this data dir held a node, "
                "restore cairn.db (with its cairn.db-wal) from a backup\n",
                db_path, stat(db_path, &info) != 0 ? "missing" : "empty (0 bytes)");
    else {
        //  Before SQLite opens it: opening recovers the WAL.
        char *wal = node_check_wal(db_path);
        if (wal)
            s_finding(&check, KIND_WAL, "%s", wal);
        zstr_free(&wal);
        check.sql = ca_sql_open(db_path, CA_SQL_READ_ONLY, NULL, &error);
        if (!check.sql) {
            fprintf(err, "cairnd check: %s\n", error);
            zstr_free(&error);
        }
    }
    if (check.sql) {
        s_check_database(&check);
        if (check.counts[KIND_INTEGRITY] == 0) {
            s_check_schemas(&check);
            s_check_blobs(&check);
        } else //  their reading of a damaged file would say little
            fprintf(out, "note: the schema and blob checks were skipped: the database is "
                         "damaged\n");
        status = s_summary(&check);
    }
    ca_sql_destroy(&check.sql);
    zstr_free(&db_path);
    close(lock_fd);
    return status;
}

/*  =========================================================================
    oplog - signed append-only operation logs, fork evidence and the
    orderer

    What it owns: the tables of oplog_schema (oplog_ops, oplog_forks,
    oplog_held, oplog_deps, oplog_ready, oplog_consumers).

    Requests: schemas/oplog.proto, which also documents the canonical
    header encoding (actors/wire/oplog_encoding.c, shared with the CLI).

    Append. The worker checks what needs no database: the header's bounds,
    the Ed25519 signature over the canonical encoding (the costly part,
    done in parallel by every worker), the body against payload_size and
    payload_hash. It then reads whether the operation is known (OK,
    already_had, no write) or whether another operation holds its
    (author, log_id, seq) (a fork: a write that keeps both headers in
    oplog_forks, answered CONFLICT). Everything that decides the log's
    shape is checked again inside the writer's transaction, so appenders
    racing on one log (on several workers, several connections) cannot
    both win a seq:

        INSERT the operation WHERE seq = 0 OR (seq - 1, backlink) is in the
            log, ON CONFLICT DO NOTHING  (UNIQUE hash; UNIQUE author, log, seq)
        expect the hash to be present      else CONFLICT, nothing kept

    A loser of the race gets CONFLICT (and is told to ask the latest); the
    fork evidence of a race lost inside one batch is not recorded (the
    worker had not seen the winner yet); a retry of the loser records it.

    Orderer. Every new operation with `previous` enters oplog_held with a
    row in oplog_deps for each of them that is not released yet (one
    without is released at once). Then the write releases layer by layer:
    each layer is one INSERT into oplog_ready of the held candidates none
    of whose dependencies is unmet (released, or present and no longer
    held), ordered by hash; SQLite computes the SELECT before inserting, so
    a layer never includes what depends on its own rows, and an operation
    always comes after its dependencies. The candidates are the new
    operation and the dependents (oplog_deps_by_dep) of what this write
    released after its mark (oplog_release_mark: oplog_ready's last n when
    the write began), so an append's cost follows what it releases, not
    the number of held operations. An append runs OPLOG_RELEASE_LAYERS
    layers when its worker saw held operations waiting for it, else one
    (a normal append then costs four statements more, not nineteen: a
    dependent that commits in between is still caught by that layer);
    when its last one released something, its `done` starts an
    upkeep pass (every releasable held operation, then OPLOG_PASS_LAYERS
    layers), and each pass that ends the same way starts the next
    (internal_done), so a chain of any depth is released in bounded
    statements per write. (A single recursive statement computing depths
    was exponential in a held chain's length: 62 s for 1,000.) oplog_ready's
    AUTOINCREMENT key is the release order;
    consumers keep a position in it (oplog_consumers) and take what
    follows, moving the position with a statement that expects the
    position they read (two takes racing: one CONFLICT). The first layers
    run in the append's own transaction: when the last dependency commits,
    what waited on it up to OPLOG_RELEASE_LAYERS deep is ready in the same
    commit, deeper layers in the passes that follow at once.

    Expiry: the pool's tick (worker 0, every maintenance_ms) removes from
    the orderer every operation held longer than oplog_hold_max_s, then
    runs the release again (an operation that waited only on expired ones,
    present in their logs, is then free). Expired operations stay in their
    logs and are never released.

    Routing. OplogAppend is routed by its optional top-level `author` (a
    copy of the header's, checked equal): the first 8 bytes of the key
    pick the worker, so one author's appends reach one worker and those
    pipelined on one connection commit in the order sent (a chain sent seq
    after seq needs no round trip per operation), while other authors'
    signatures are checked on the other workers. (The header field itself
    cannot serve: a message's first byte is a tag, the same for every
    operation, and the low byte decides the worker.) It is an affinity
    only: the log's rules are enforced in the writer's transaction
    whatever the worker.

    Prune removes a log's operations below a seq, always keeping the
    latest; released rows stay in oplog_ready (a take skips operations
    gone). Erase keeps the header (hash, signature, backlink), so the chain
    still verifies. seq and log_id are stored as SQLite integers: values
    above 2^63-1 are refused.
    ========================================================================= */

#include "oplog.h"
#include "ca_clock.h"
#include "ca_log.h"
#include "oplog_encoding.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_migrations[] = {
    //  1: operations, fork evidence, the orderer
    "CREATE TABLE oplog_ops ("
    "  id INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    "  author BLOB NOT NULL CHECK (length(author) = 32),"
    "  log_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL CHECK (seq >= 0),"
    "  header BLOB NOT NULL," //  the OpHeader as sent (protobuf)
    "  body BLOB,"            //  NULL: never sent, or erased
    "  erased INTEGER NOT NULL DEFAULT 0,"
    "  encoded_size INTEGER NOT NULL," //  the canonical encoding's length
    "  UNIQUE (author, log_id, seq)"
    ");"
    "CREATE TABLE oplog_forks ("
    "  id INTEGER PRIMARY KEY,"
    "  author BLOB NOT NULL,"
    "  log_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  hash BLOB NOT NULL,"
    "  header BLOB NOT NULL,"
    "  seen_us INTEGER NOT NULL,"
    "  UNIQUE (author, log_id, seq, hash)"
    ");"
    "CREATE TABLE oplog_held ("
    "  id INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  since_us INTEGER NOT NULL"
    ");"
    "CREATE TABLE oplog_deps ("
    "  hash BLOB NOT NULL," //  a held operation
    "  dep BLOB NOT NULL,"  //  ... waits for this one
    "  PRIMARY KEY (hash, dep)"
    ") WITHOUT ROWID;"
    "CREATE INDEX oplog_deps_by_dep ON oplog_deps (dep);"
    "CREATE TABLE oplog_ready ("
    "  n INTEGER PRIMARY KEY AUTOINCREMENT," //  the release order
    "  hash BLOB NOT NULL UNIQUE"
    ");"
    "CREATE TABLE oplog_consumers ("
    "  name TEXT PRIMARY KEY,"
    "  position INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    //  2: the release goes layer by layer from a mark (see the essay)
    "CREATE TABLE oplog_release_mark ("
    "  one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  n INTEGER NOT NULL" //  oplog_ready's last n before this write's releases
    ");"
    "INSERT INTO oplog_release_mark VALUES (1, 0);",
    //  3: an operation's id is its subscription cursor (OplogSubscribe),
    //  which must never be handed out twice: SQLite gives a new row the
    //  largest id + 1, so the newest row must never be deleted (a prune
    //  keeps each log's latest; this makes it a rule).
    "CREATE TRIGGER oplog_ops_keep_newest BEFORE DELETE ON oplog_ops"
    "  WHEN OLD.id = (SELECT max(id) FROM oplog_ops) BEGIN"
    "  SELECT RAISE(ABORT, 'the newest operation cannot be deleted (subscription cursors)');"
    " END;",
};

const ca_schema_t oplog_schema = {
    .store = "oplog",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

const char oplog_sql_range[] = "SELECT hash, header, body, erased, seq FROM oplog_ops"
                               " WHERE author = ?1 AND log_id = ?2 AND seq >= ?3 AND seq < ?4"
                               " ORDER BY seq LIMIT ?5";

const char oplog_sql_heights[] = "SELECT log_id, max(seq), count(*) FROM oplog_ops"
                                 " WHERE author = ?1 AND (?2 = 0 OR log_id > ?3)"
                                 " GROUP BY log_id ORDER BY log_id LIMIT ?4";

static const char s_sql_insert[] =
    "INSERT INTO oplog_ops (hash, author, log_id, seq, header, body, encoded_size)"
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7"
    " WHERE (?4 = 0 OR EXISTS (SELECT 1 FROM oplog_ops WHERE author = ?2 AND log_id = ?3"
    "   AND seq = ?4 - 1 AND hash = ?8))"
    //  A log is contiguous up to its latest: nothing at or above this seq
    //  may be stored yet (after a prune, seqs below the prune point stay
    //  closed: another history there would be a fork stored as entries).
    " AND NOT EXISTS (SELECT 1 FROM oplog_ops WHERE author = ?2 AND log_id = ?3 AND seq >= ?4)"
    " ON CONFLICT DO NOTHING";

//  Layers of the causal order one write releases; what lies deeper is
//  released by a pass the append's `done` starts (s_oplog_appended), and
//  the tick's.
#define OPLOG_RELEASE_LAYERS 16
//  Layers of one upkeep pass; a pass whose last layer released something
//  is followed by another (s_oplog_internal_done), so a deep chain is
//  released pass after pass without waiting for the tick.
#define OPLOG_PASS_LAYERS 128

//  The orderer releases layer by layer (see the essay): each statement
//  appends to oplog_ready, ordered by hash, the held candidates none of
//  whose dependencies is unmet, reading oplog_ready as it was before the
//  statement (SQLite computes an INSERT's SELECT from its own table
//  first), so one statement is one layer and an operation always comes
//  after its dependencies. A dependency is met when released, or present
//  and no longer held (expired). Candidates: the new operation ?1, and the
//  dependents of what this write released so far (oplog_ready rows after
//  the mark), found through oplog_deps_by_dep: an append's cost follows
//  what it releases, not the number of held operations.
#define OPLOG_DEP_UNMET                                                                            \
    "NOT EXISTS (SELECT 1 FROM oplog_ready r WHERE r.hash = d.dep)"                                \
    " AND (NOT EXISTS (SELECT 1 FROM oplog_ops o WHERE o.hash = d.dep)"                            \
    "   OR EXISTS (SELECT 1 FROM oplog_held h WHERE h.hash = d.dep))"

#define OPLOG_RELEASABLE(column)                                                                   \
    " EXISTS (SELECT 1 FROM oplog_held h WHERE h.hash = " column ")"                               \
    " AND NOT EXISTS (SELECT 1 FROM oplog_ready r WHERE r.hash = " column ")"                      \
    " AND NOT EXISTS (SELECT 1 FROM oplog_deps d WHERE d.hash = " column " AND " OPLOG_DEP_UNMET   \
    ")"

static const char s_sql_mark[] =
    "UPDATE oplog_release_mark SET n = coalesce((SELECT max(n) FROM oplog_ready), 0)";

static const char s_sql_release_layer[] =
    "INSERT INTO oplog_ready (hash)"
    " SELECT c.hash FROM ("
    "   SELECT ?1 AS hash WHERE ?1 IS NOT NULL"
    "   UNION"
    "   SELECT d.hash FROM oplog_ready r JOIN oplog_deps d ON d.dep = r.hash"
    "   WHERE r.n > (SELECT n FROM oplog_release_mark)) c"
    " WHERE" OPLOG_RELEASABLE("c.hash") " ORDER BY c.hash";

//  The first layer of an upkeep pass: every held operation (the tick, and
//  a pass that goes on from an append whose layers ran out).
static const char s_sql_release_all[] = "INSERT INTO oplog_ready (hash)"
                                        " SELECT h2.hash FROM oplog_held h2"
                                        " WHERE" OPLOG_RELEASABLE("h2.hash") " ORDER BY h2.hash";

//  After the layers: what this write released leaves the orderer's tables.
static const char s_sql_unhold_released[] =
    "DELETE FROM oplog_held WHERE hash IN (SELECT hash FROM oplog_ready"
    " WHERE n > (SELECT n FROM oplog_release_mark))";

static const char s_sql_undep_released[] =
    "DELETE FROM oplog_deps WHERE hash IN (SELECT hash FROM oplog_ready"
    " WHERE n > (SELECT n FROM oplog_release_mark))";

//  Appends the release: `layers` layer statements from ?1 = `hash` (NULL:
//  none), then the cleanup.
static void s_write_release(ca_write_t *write, const uint8_t *hash, int layers) {
    for (int layer = 0; layer < layers; layer++) {
        ca_write_statement(write, s_sql_release_layer, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                           NULL);
        if (hash)
            ca_write_blob(write, hash, OPLOG_HASH_BYTES);
        else
            ca_write_null(write);
    }
    ca_write_statement(write, s_sql_unhold_released, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                       NULL);
    ca_write_statement(write, s_sql_undep_released, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                       NULL);
}

//  An upkeep pass of the orderer as an internal write: every releasable
//  held operation, then OPLOG_RELEASE_LAYERS more layers.
static void s_release_pass(ca_store_t *store, ca_write_t *write) {
    ca_write_statement(write, s_sql_mark, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_statement(write, s_sql_release_all, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    s_write_release(write, NULL, OPLOG_PASS_LAYERS);
    if (ca_store_write_internal(store, &write) != 0)
        ca_log_warning("oplog: the writer's queue is full; the release goes on at the next tick");
}

static const char s_sql_undep[] = "DELETE FROM oplog_deps WHERE NOT EXISTS (SELECT 1 FROM"
                                  " oplog_held h WHERE h.hash = oplog_deps.hash)";

//  What the write of an append is; the first byte of its context.
//  WRITE_APPEND releases one layer in its own write (nothing was seen
//  waiting for the operation), WRITE_APPEND_DEEP OPLOG_RELEASE_LAYERS.
enum { WRITE_APPEND = 'A', WRITE_APPEND_DEEP = 'D', WRITE_FORK = 'F' };

//  Release layers of an append: many only when held operations were seen
//  waiting for it. One layer still catches a dependent that committed in
//  between; deeper ones follow in passes (s_oplog_appended).
static int s_append_layers(ca_store_t *store, const uint8_t *hash) {
    sqlite3_stmt *stmt = ca_store_prepare(store, "SELECT 1 FROM oplog_deps WHERE dep = ?1", NULL);
    if (!stmt)
        return OPLOG_RELEASE_LAYERS;
    sqlite3_bind_blob(stmt, 1, hash, OPLOG_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 1 : OPLOG_RELEASE_LAYERS;
}

//  ---- checks ------------------------------------------------------------------------

static bool s_bytes_ok(const ProtobufCBinaryData *bytes, size_t size, const char *field,
                       ca_reply_t *reply) {
    if (bytes->len == size)
        return true;
    ca_reply_error(reply, CA_INVALID, "%s must be %zu bytes (this one has %zu)", field, size,
                   bytes->len);
    return false;
}

static bool s_number_ok(uint64_t value, const char *field, ca_reply_t *reply) {
    if (value <= (uint64_t)CA_OPLOG_SEQ_MAX)
        return true;
    ca_reply_error(reply, CA_INVALID, "%s is over 2^63-1, the largest this node stores", field);
    return false;
}

static bool s_log_ok(const ProtobufCBinaryData *author, uint64_t log_id, ca_reply_t *reply) {
    return s_bytes_ok(author, OPLOG_KEY_BYTES, "author", reply) &&
           s_number_ok(log_id, "log_id", reply);
}

static bool s_read_failed(int rc, sqlite3_stmt *stmt, ca_reply_t *reply) {
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return false;
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the operation logs: %s; retry",
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
    return true;
}

//  `size` bytes of a column as reply-owned protobuf bytes (stored hashes
//  and keys have their size by the table's CHECKs and the writes).
static ProtobufCBinaryData s_column_bytes(ca_reply_t *reply, sqlite3_stmt *stmt, int column,
                                          size_t size) {
    return (ProtobufCBinaryData){
        size, (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, column), size)};
}

//  Ends a read: resets the statement; false with the reply failed when
//  the last step was an error.
static bool s_finished(int rc, sqlite3_stmt *stmt, ca_reply_t *reply) {
    bool failed = s_read_failed(rc, stmt, reply);
    sqlite3_reset(stmt);
    return !failed;
}

//  An entry from a row's (hash, header, body, erased) columns starting at
//  `column`. NULL with the reply failed when the stored header does not
//  decode (damage).
static Cairn__OplogEntry *s_entry(ca_reply_t *reply, sqlite3_stmt *stmt, int column,
                                  bool with_body) {
    Cairn__OplogEntry *entry = (Cairn__OplogEntry *)ca_reply_alloc(reply, sizeof *entry);
    cairn__oplog_entry__init(entry);
    entry->hash = s_column_bytes(reply, stmt, column, OPLOG_HASH_BYTES);
    const void *packed = sqlite3_column_blob(stmt, column + 1);
    int packed_size = sqlite3_column_bytes(stmt, column + 1);
    //  Unpacked into malloc'd memory; copied field by field would be longer
    //  than keeping the packed bytes: the reply frees the unpacked header.
    Cairn__OpHeader *header =
        cairn__op_header__unpack(NULL, (size_t)packed_size, (const uint8_t *)packed);
    if (!header) {
        ca_reply_error(reply, CA_CORRUPT,
                       "a stored operation header does not decode; run "
                       "`cairnd check` and restore from a backup");
        return NULL;
    }
    //  Copy into reply memory so that the reply owns everything.
    Cairn__OpHeader *copy = (Cairn__OpHeader *)ca_reply_memdup(reply, header, sizeof *header);
    copy->base.n_unknown_fields = 0;
    copy->base.unknown_fields = NULL;
    copy->author.data = (uint8_t *)ca_reply_memdup(reply, header->author.data, header->author.len);
    copy->signature.data =
        (uint8_t *)ca_reply_memdup(reply, header->signature.data, header->signature.len);
    copy->payload_hash.data =
        (uint8_t *)ca_reply_memdup(reply, header->payload_hash.data, header->payload_hash.len);
    copy->backlink.data =
        header->backlink.len
            ? (uint8_t *)ca_reply_memdup(reply, header->backlink.data, header->backlink.len)
            : NULL;
    copy->extensions.data =
        header->extensions.len
            ? (uint8_t *)ca_reply_memdup(reply, header->extensions.data, header->extensions.len)
            : NULL;
    copy->previous = header->n_previous
                         ? (ProtobufCBinaryData *)ca_reply_alloc(
                               reply, header->n_previous * sizeof(ProtobufCBinaryData))
                         : NULL;
    for (size_t i = 0; i < header->n_previous; i++) {
        copy->previous[i].len = header->previous[i].len;
        copy->previous[i].data =
            (uint8_t *)ca_reply_memdup(reply, header->previous[i].data, header->previous[i].len);
    }
    cairn__op_header__free_unpacked(header, NULL);
    entry->header = copy;
    entry->erased = sqlite3_column_int(stmt, column + 3) != 0;
    if (with_body && sqlite3_column_type(stmt, column + 2) == SQLITE_BLOB) {
        int size = sqlite3_column_bytes(stmt, column + 2);
        entry->has_body = true;
        entry->body.len = (size_t)size;
        entry->body.data = size ? (uint8_t *)ca_reply_memdup(
                                      reply, sqlite3_column_blob(stmt, column + 2), (size_t)size)
                                : NULL;
    }
    return entry;
}

//  ---- OplogAppend -----------------------------------------------------------------

//  Reads what oplog_ops holds at the header's (author, log_id, seq):
//  0 nothing, 1 this very operation, 2 another one (its hash in `other`);
//  -1 with the reply failed.
static int s_seat(ca_store_t *store, const Cairn__OpHeader *header, const uint8_t *hash,
                  uint8_t other[OPLOG_HASH_BYTES], ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT hash FROM oplog_ops WHERE author = ?1 AND log_id = ?2 AND seq = ?3", reply);
    if (!stmt)
        return -1;
    sqlite3_bind_blob(stmt, 1, header->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)header->log_id);
    sqlite3_bind_int64(stmt, 3, (int64_t)header->seq);
    int rc = sqlite3_step(stmt), seat = 0;
    if (rc == SQLITE_ROW) {
        memcpy(other, sqlite3_column_blob(stmt, 0), OPLOG_HASH_BYTES);
        seat = memcmp(other, hash, OPLOG_HASH_BYTES) == 0 ? 1 : 2;
    }
    if (s_read_failed(rc, stmt, reply))
        seat = -1;
    sqlite3_reset(stmt);
    return seat;
}

static void s_answer_appended(ca_reply_t *reply, const uint8_t *hash, bool already_had, bool held) {
    Cairn__OplogAppended *appended =
        (Cairn__OplogAppended *)ca_reply_alloc(reply, sizeof *appended);
    cairn__oplog_appended__init(appended);
    appended->hash.len = OPLOG_HASH_BYTES;
    appended->hash.data = (uint8_t *)ca_reply_memdup(reply, hash, OPLOG_HASH_BYTES);
    appended->already_had = already_had;
    appended->held = held;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_APPEND;
    response->oplog_append = appended;
}

//  The header as stored: packed protobuf, in reply memory.
static uint8_t *s_pack_header(const Cairn__OpHeader *header, size_t *size, ca_reply_t *reply) {
    *size = cairn__op_header__get_packed_size(header);
    uint8_t *packed = (uint8_t *)ca_reply_alloc(reply, *size ? *size : 1);
    cairn__op_header__pack(header, packed);
    return packed;
}

static void s_fork_write(ca_store_t *store, const Cairn__OpHeader *header, const uint8_t *hash,
                         const uint8_t *other, ca_reply_t *reply) {
    size_t packed_size;
    uint8_t *packed = s_pack_header(header, &packed_size, reply);
    int64_t now = (int64_t)(ca_now_seconds() * 1e6);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO oplog_forks (author, log_id, seq, hash, header, seen_us)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, header->author.data, OPLOG_KEY_BYTES);
    ca_write_int(write, (int64_t)header->log_id);
    ca_write_int(write, (int64_t)header->seq);
    ca_write_blob(write, hash, OPLOG_HASH_BYTES);
    ca_write_blob(write, packed, packed_size);
    ca_write_int(write, now);
    ca_write_statement(write,
                       "INSERT INTO oplog_forks (author, log_id, seq, hash, header, seen_us)"
                       " SELECT author, log_id, seq, hash, header, ?2 FROM oplog_ops"
                       " WHERE hash = ?1 ON CONFLICT DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, other, OPLOG_HASH_BYTES);
    ca_write_int(write, now);
    uint8_t context[1 + OPLOG_HASH_BYTES] = {WRITE_FORK};
    memcpy(context + 1, hash, OPLOG_HASH_BYTES);
    ca_write_context(write, context, sizeof context);
    ca_store_write(store, &write, reply);
}

static void s_append_write(ca_store_t *store, const Cairn__OplogAppend *append, const uint8_t *hash,
                           ca_reply_t *reply) {
    const Cairn__OpHeader *header = append->header;
    size_t packed_size;
    uint8_t *packed = s_pack_header(header, &packed_size, reply);
    uint8_t encoded[OPLOG_ENCODED_MAX];
    size_t encoded_size = oplog_header_encode(header, encoded);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, s_sql_insert, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, OPLOG_HASH_BYTES);
    ca_write_blob(write, header->author.data, OPLOG_KEY_BYTES);
    ca_write_int(write, (int64_t)header->log_id);
    ca_write_int(write, (int64_t)header->seq);
    ca_write_blob(write, packed, packed_size);
    if (append->has_body)
        ca_write_blob(write, append->body.data ? append->body.data : (const uint8_t *)"",
                      append->body.len);
    else
        ca_write_null(write);
    ca_write_int(write, (int64_t)encoded_size);
    if (header->backlink.len)
        ca_write_blob(write, header->backlink.data, OPLOG_HASH_BYTES);
    else
        ca_write_null(write);
    ca_write_statement(write, "SELECT 1 FROM oplog_ops WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_CONFLICT,
                       "this operation does not follow its log: seq must be the latest seq + 1 "
                       "(0 for an empty log) with backlink the latest's hash, and another "
                       "operation may have taken this seq; ask the latest (`cairn oplog latest`) "
                       "and sign again");
    ca_write_blob(write, hash, OPLOG_HASH_BYTES);
    ca_write_statement(write, s_sql_mark, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    for (size_t i = 0; i < header->n_previous; i++) {
        ca_write_statement(write,
                           "INSERT INTO oplog_deps (hash, dep) SELECT ?1, ?2"
                           " WHERE NOT EXISTS (SELECT 1 FROM oplog_ready WHERE hash = ?2)"
                           " AND NOT EXISTS (SELECT 1 FROM oplog_ready WHERE hash = ?1)"
                           " ON CONFLICT DO NOTHING",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, hash, OPLOG_HASH_BYTES);
        ca_write_blob(write, header->previous[i].data, OPLOG_HASH_BYTES);
    }
    if (header->n_previous) {
        ca_write_statement(write,
                           "INSERT INTO oplog_held (hash, since_us) SELECT ?1, ?2"
                           " WHERE NOT EXISTS (SELECT 1 FROM oplog_ready WHERE hash = ?1)"
                           " ON CONFLICT DO NOTHING",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, hash, OPLOG_HASH_BYTES);
        ca_write_int(write, (int64_t)(ca_now_seconds() * 1e6));
    } else { //  nothing to wait for: released at once (a repeat changes nothing)
        ca_write_statement(write,
                           "INSERT INTO oplog_ready (hash) VALUES (?1) ON CONFLICT DO NOTHING",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, hash, OPLOG_HASH_BYTES);
    }
    int layers = s_append_layers(store, hash);
    s_write_release(write, hash, layers);
    uint8_t context[1 + OPLOG_HASH_BYTES] = {layers == 1 ? WRITE_APPEND : WRITE_APPEND_DEEP};
    memcpy(context + 1, hash, OPLOG_HASH_BYTES);
    ca_write_context(write, context, sizeof context);
    ca_store_write(store, &write, reply);
}

static void s_oplog_append(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogAppend *append = request->oplog_append;
    const Cairn__OpHeader *header = append->header;
    const char *problem = oplog_header_problem(header);
    if (problem) {
        ca_reply_error(reply, CA_INVALID, "%s", problem);
        return;
    }
    if (!s_number_ok(header->log_id, "log_id", reply) || !s_number_ok(header->seq, "seq", reply))
        return;
    if (append->author.len &&
        (append->author.len != OPLOG_KEY_BYTES ||
         memcmp(append->author.data, header->author.data, OPLOG_KEY_BYTES) != 0)) {
        ca_reply_error(reply, CA_INVALID,
                       "author (the routing copy) differs from the header's author; send the "
                       "same 32 bytes, or leave it empty");
        return;
    }
    uint8_t hash[OPLOG_HASH_BYTES];
    if (!oplog_header_verify(header, hash)) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "the signature does not verify: it must be the author's Ed25519 signature "
                       "of the header's canonical encoding (schemas/oplog.proto)");
        return;
    }
    if (append->has_body) {
        uint8_t payload_hash[OPLOG_HASH_BYTES];
        oplog_payload_hash(append->body.data, append->body.len, payload_hash);
        if (append->body.len != header->payload_size ||
            memcmp(payload_hash, header->payload_hash.data, OPLOG_HASH_BYTES) != 0) {
            ca_reply_error(reply, CA_INVALID,
                           "the body does not match the header: it has %zu bytes (payload_size "
                           "says %llu) or its BLAKE2b-256 is not payload_hash",
                           append->body.len, (unsigned long long)header->payload_size);
            return;
        }
    } else if (append->body.len) {
        ca_reply_error(reply, CA_INVALID, "a body is sent but has_body is false; set has_body");
        return;
    }
    uint8_t other[OPLOG_HASH_BYTES];
    int seat = s_seat(store, header, hash, other, reply);
    if (seat == 1)
        s_answer_appended(reply, hash, true, false);
    else if (seat == 2 && ca_store_in_batch(store))
        ca_reply_error(reply, CA_CONFLICT,
                       "a fork: another operation of this author holds this log's seq; inside a "
                       "batch the evidence cannot be kept (the batch stores nothing): send this "
                       "append alone to record it");
    else if (seat == 2)
        s_fork_write(store, header, hash, other, reply);
    else if (seat == 0)
        s_append_write(store, append, hash, reply);
}

static void s_oplog_appended(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->context.len != 1 + OPLOG_HASH_BYTES) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the append's context; retry");
        return;
    }
    const uint8_t *hash = write->context.data + 1;
    if (write->context.data[0] == WRITE_FORK) {
        ca_reply_error(reply, CA_CONFLICT,
                       "a fork: another operation of this author holds this log's seq; both "
                       "headers are kept as evidence (`cairn oplog forks`)");
        return;
    }
    if (write->n_results == 0) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the append's results; retry");
        return;
    }
    //  Its last release layer released something: deeper layers may wait.
    const Cairn__OplogAppend *append = request->oplog_append;
    size_t layers = write->context.data[0] == WRITE_APPEND_DEEP ? OPLOG_RELEASE_LAYERS : 1;
    size_t last_layer = 3 + append->header->n_previous + layers;
    if (last_layer < write->n_results && write->results[last_layer]->changes > 0)
        s_release_pass(store, ca_write_new());
    //  Held: read after the commit (not one more statement in the writer,
    //  the node's one busy thread): still waiting when answered.
    sqlite3_stmt *stmt = ca_store_prepare(store, "SELECT 1 FROM oplog_held WHERE hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, hash, OPLOG_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (s_finished(rc, stmt, reply))
        s_answer_appended(reply, hash, write->results[0]->changes == 0, rc == SQLITE_ROW);
}

//  ---- OplogGet, OplogHas, OplogLatest --------------------------------------------------

static bool s_hash_ok(const ProtobufCBinaryData *hash, ca_reply_t *reply) {
    return s_bytes_ok(hash, OPLOG_HASH_BYTES, "hash", reply);
}

//  Answers the one row `stmt` (bound) yields as an entry, or NOT_FOUND.
static void s_answer_entry(sqlite3_stmt *stmt, bool with_body, Cairn__Response__BodyCase body,
                           const char *missing, ca_reply_t *reply) {
    int rc = sqlite3_step(stmt);
    Cairn__OplogEntry *entry = NULL;
    if (rc == SQLITE_ROW)
        entry = s_entry(reply, stmt, 0, with_body);
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "%s", missing);
    else
        s_read_failed(rc, stmt, reply);
    sqlite3_reset(stmt);
    if (!entry)
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_OPLOG_GET)
        response->oplog_get = entry;
    else
        response->oplog_latest = entry;
}

static void s_oplog_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogGet *get = request->oplog_get;
    if (!s_hash_ok(&get->hash, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT hash, header, body, erased FROM oplog_ops WHERE hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, get->hash.data, OPLOG_HASH_BYTES, SQLITE_STATIC);
    s_answer_entry(stmt, !get->header_only, CAIRN__RESPONSE__BODY_OPLOG_GET,
                   "no operation has this hash (never appended, or pruned)", reply);
}

static void s_oplog_has(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogHas *has = request->oplog_has;
    if (!s_hash_ok(&has->hash, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store, "SELECT 1 FROM oplog_ops WHERE hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, has->hash.data, OPLOG_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (!s_finished(rc, stmt, reply))
        return;
    Cairn__OplogHasReply *answer = (Cairn__OplogHasReply *)ca_reply_alloc(reply, sizeof *answer);
    cairn__oplog_has_reply__init(answer);
    answer->present = rc == SQLITE_ROW;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_HAS;
    response->oplog_has = answer;
}

static void s_oplog_latest(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogLatest *latest = request->oplog_latest;
    if (!s_log_ok(&latest->author, latest->log_id, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT hash, header, body, erased FROM oplog_ops"
                                          " WHERE author = ?1 AND log_id = ?2"
                                          " ORDER BY seq DESC LIMIT 1",
                                          reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, latest->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)latest->log_id);
    s_answer_entry(stmt, false, CAIRN__RESPONSE__BODY_OPLOG_LATEST,
                   "this log is empty: its first operation has seq 0 and no backlink", reply);
}

//  ---- OplogHeights, OplogSize, OplogRange -------------------------------------------------

static void s_oplog_heights(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogHeights *ask = request->oplog_heights;
    if (!s_bytes_ok(&ask->author, OPLOG_KEY_BYTES, "author", reply) ||
        (ask->has_after && !s_number_ok(ask->after_log_id, "after_log_id", reply)))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_OPLOG_HEIGHTS_DEFAULT, CA_OPLOG_HEIGHTS_MAX,
                                 "logs per page", "after_log_id", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store, oplog_sql_heights, reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, ask->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, ask->has_after ? 1 : 0);
    sqlite3_bind_int64(stmt, 3, (int64_t)ask->after_log_id);
    sqlite3_bind_int64(stmt, 4, (int64_t)limit + 1);
    Cairn__OplogHeightsReply *page =
        (Cairn__OplogHeightsReply *)ca_reply_alloc(reply, sizeof *page);
    cairn__oplog_heights_reply__init(page);
    page->logs = (Cairn__LogHeight **)ca_reply_alloc(reply, limit * sizeof(Cairn__LogHeight *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_logs == limit) {
            page->more = true;
            break;
        }
        Cairn__LogHeight *height = (Cairn__LogHeight *)ca_reply_alloc(reply, sizeof *height);
        cairn__log_height__init(height);
        height->log_id = (uint64_t)sqlite3_column_int64(stmt, 0);
        height->latest_seq = (uint64_t)sqlite3_column_int64(stmt, 1);
        height->operations = (uint64_t)sqlite3_column_int64(stmt, 2);
        page->logs[page->n_logs++] = height;
    }
    if (!s_finished(rc, stmt, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_HEIGHTS;
    response->oplog_heights = page;
}

//  until_seq 0: no bound.
static int64_t s_until(uint64_t until_seq) {
    return until_seq ? (int64_t)until_seq : INT64_MAX;
}

static bool s_seq_range_ok(uint64_t from_seq, uint64_t until_seq, ca_reply_t *reply) {
    return s_number_ok(from_seq, "from_seq", reply) && s_number_ok(until_seq, "until_seq", reply);
}

static void s_oplog_size(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogSize *ask = request->oplog_size;
    if (!s_log_ok(&ask->author, ask->log_id, reply) ||
        !s_seq_range_ok(ask->from_seq, ask->until_seq, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        "SELECT count(*), coalesce(sum(encoded_size + coalesce(length(body), 0)), 0)"
        " FROM oplog_ops WHERE author = ?1 AND log_id = ?2 AND seq >= ?3 AND seq < ?4",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, ask->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)ask->log_id);
    sqlite3_bind_int64(stmt, 3, (int64_t)ask->from_seq);
    sqlite3_bind_int64(stmt, 4, s_until(ask->until_seq));
    int rc = sqlite3_step(stmt);
    Cairn__OplogSizeReply *answer = (Cairn__OplogSizeReply *)ca_reply_alloc(reply, sizeof *answer);
    cairn__oplog_size_reply__init(answer);
    if (rc == SQLITE_ROW) {
        answer->operations = (uint64_t)sqlite3_column_int64(stmt, 0);
        answer->bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    }
    if (!s_finished(rc, stmt, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_SIZE;
    response->oplog_size = answer;
}

static void s_oplog_range(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogRange *ask = request->oplog_range;
    if (!s_log_ok(&ask->author, ask->log_id, reply) ||
        !s_seq_range_ok(ask->from_seq, ask->until_seq, reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_OPLOG_PAGE_DEFAULT, CA_OPLOG_PAGE_MAX,
                                 "entries per page", "from_seq", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store, oplog_sql_range, reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, ask->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)ask->log_id);
    sqlite3_bind_int64(stmt, 3, (int64_t)ask->from_seq);
    sqlite3_bind_int64(stmt, 4, s_until(ask->until_seq));
    sqlite3_bind_int64(stmt, 5, (int64_t)limit + 1);
    Cairn__OplogPage *page = (Cairn__OplogPage *)ca_reply_alloc(reply, sizeof *page);
    cairn__oplog_page__init(page);
    page->entries =
        (Cairn__OplogEntry **)ca_reply_alloc(reply, limit * sizeof(Cairn__OplogEntry *));
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(stmt, 4);
        if (page->n_entries == limit || bytes >= CA_OPLOG_PAGE_BYTES) {
            page->more = true;
            page->next_seq = seq;
            break;
        }
        Cairn__OplogEntry *entry = s_entry(reply, stmt, 0, ask->with_bodies);
        if (!entry)
            break;
        bytes += (size_t)sqlite3_column_bytes(stmt, 1) + entry->body.len;
        page->entries[page->n_entries++] = entry;
        page->next_seq = seq + 1;
    }
    if (!s_finished(rc, stmt, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_RANGE;
    response->oplog_range = page;
}

//  ---- OplogPrune, OplogErase ------------------------------------------------------------

static void s_oplog_prune(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogPrune *prune = request->oplog_prune;
    if (!s_log_ok(&prune->author, prune->log_id, reply) ||
        !s_number_ok(prune->below_seq, "below_seq", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "DELETE FROM oplog_ops WHERE author = ?1 AND log_id = ?2 AND seq < ?3"
                       " AND seq < (SELECT max(seq) FROM oplog_ops WHERE author = ?1"
                       "   AND log_id = ?2)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, prune->author.data, OPLOG_KEY_BYTES);
    ca_write_int(write, (int64_t)prune->log_id);
    ca_write_int(write, (int64_t)prune->below_seq);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_oplog_pruned(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__OplogPruned *pruned = (Cairn__OplogPruned *)ca_reply_alloc(reply, sizeof *pruned);
    cairn__oplog_pruned__init(pruned);
    pruned->removed = write->n_results ? write->results[0]->changes : 0;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_PRUNE;
    response->oplog_prune = pruned;
}

static void s_oplog_erase(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogErase *erase = request->oplog_erase;
    if (!s_hash_ok(&erase->hash, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM oplog_ops WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
                       "no operation has this hash (never appended, or pruned)");
    ca_write_blob(write, erase->hash.data, OPLOG_HASH_BYTES);
    ca_write_statement(write,
                       "UPDATE oplog_ops SET body = NULL, erased = 1"
                       " WHERE hash = ?1 AND body IS NOT NULL",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, erase->hash.data, OPLOG_HASH_BYTES);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_oplog_erased(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__OplogErased *erased = (Cairn__OplogErased *)ca_reply_alloc(reply, sizeof *erased);
    cairn__oplog_erased__init(erased);
    erased->erased = write->n_results == 2 && write->results[1]->changes > 0;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_ERASE;
    response->oplog_erase = erased;
}

//  ---- OplogForks, OplogPending ---------------------------------------------------------------

static void s_oplog_forks(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogForks *ask = request->oplog_forks;
    if (!s_bytes_ok(&ask->author, OPLOG_KEY_BYTES, "author", reply) ||
        !s_number_ok(ask->log_id, "log_id", reply) || !s_number_ok(ask->after, "after", reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_OPLOG_PAGE_DEFAULT, CA_OPLOG_PAGE_MAX,
                                 "forks per page", "after", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT id, hash, header, NULL, 0, seen_us FROM oplog_forks"
                         " WHERE author = ?1 AND (?2 = 0 OR log_id = ?3) AND id > ?4"
                         " ORDER BY id LIMIT ?5",
                         reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, ask->author.data, OPLOG_KEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, ask->has_log_id ? 1 : 0);
    sqlite3_bind_int64(stmt, 3, (int64_t)ask->log_id);
    sqlite3_bind_int64(stmt, 4, (int64_t)ask->after);
    sqlite3_bind_int64(stmt, 5, (int64_t)limit + 1);
    Cairn__OplogForkPage *page = (Cairn__OplogForkPage *)ca_reply_alloc(reply, sizeof *page);
    cairn__oplog_fork_page__init(page);
    page->forks = (Cairn__OplogFork **)ca_reply_alloc(reply, limit * sizeof(Cairn__OplogFork *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_forks == limit) {
            page->more = true;
            break;
        }
        Cairn__OplogFork *fork = (Cairn__OplogFork *)ca_reply_alloc(reply, sizeof *fork);
        cairn__oplog_fork__init(fork);
        fork->hash = s_column_bytes(reply, stmt, 1, OPLOG_HASH_BYTES);
        //  The header through the entry decoder (columns 1 to 4).
        Cairn__OplogEntry *entry = s_entry(reply, stmt, 1, false);
        if (!entry)
            break;
        fork->header = entry->header;
        fork->seen_us = (uint64_t)sqlite3_column_int64(stmt, 5);
        page->forks[page->n_forks++] = fork;
        page->next_after = (uint64_t)sqlite3_column_int64(stmt, 0);
    }
    if (!s_finished(rc, stmt, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_FORKS;
    response->oplog_forks = page;
}

//  The hashes `hash` waits for: its deps that are not released yet.
static bool s_waiting_for(ca_store_t *store, Cairn__HeldOperation *held, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT dep FROM oplog_deps d WHERE d.hash = ?1 AND NOT EXISTS"
                         " (SELECT 1 FROM oplog_ready r WHERE r.hash = d.dep) ORDER BY dep",
                         reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, held->hash.data, OPLOG_HASH_BYTES, SQLITE_STATIC);
    held->waiting_for = (ProtobufCBinaryData *)ca_reply_alloc(
        reply, OPLOG_PREVIOUS_MAX * sizeof(ProtobufCBinaryData));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && held->n_waiting_for < OPLOG_PREVIOUS_MAX) {
        held->waiting_for[held->n_waiting_for++] = s_column_bytes(reply, stmt, 0, OPLOG_HASH_BYTES);
    }
    return s_finished(rc, stmt, reply);
}

static void s_oplog_pending(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogPending *ask = request->oplog_pending;
    if (!s_number_ok(ask->after, "after", reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_OPLOG_PAGE_DEFAULT, CA_OPLOG_PAGE_MAX,
                                 "held operations per page", "after", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT h.id, h.hash, h.since_us, o.author, o.log_id,"
                                          " o.seq FROM oplog_held h JOIN oplog_ops o"
                                          " ON o.hash = h.hash WHERE h.id > ?1"
                                          " ORDER BY h.id LIMIT ?2",
                                          reply);
    if (!stmt)
        return;
    sqlite3_bind_int64(stmt, 1, (int64_t)ask->after);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1);
    Cairn__OplogPendingPage *page = (Cairn__OplogPendingPage *)ca_reply_alloc(reply, sizeof *page);
    cairn__oplog_pending_page__init(page);
    page->held =
        (Cairn__HeldOperation **)ca_reply_alloc(reply, limit * sizeof(Cairn__HeldOperation *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_held == limit) {
            page->more = true;
            break;
        }
        Cairn__HeldOperation *held = (Cairn__HeldOperation *)ca_reply_alloc(reply, sizeof *held);
        cairn__held_operation__init(held);
        held->hash = s_column_bytes(reply, stmt, 1, OPLOG_HASH_BYTES);
        held->held_since_us = (uint64_t)sqlite3_column_int64(stmt, 2);
        held->author = s_column_bytes(reply, stmt, 3, OPLOG_KEY_BYTES);
        held->log_id = (uint64_t)sqlite3_column_int64(stmt, 4);
        held->seq = (uint64_t)sqlite3_column_int64(stmt, 5);
        page->held[page->n_held++] = held;
        page->next_after = (uint64_t)sqlite3_column_int64(stmt, 0);
    }
    bool failed = s_read_failed(rc, stmt, reply);
    sqlite3_reset(stmt);
    //  The waits are read after the page's statement is reset: one
    //  statement of the cache at a time stays simple to reason about.
    for (size_t i = 0; !failed && i < page->n_held; i++)
        failed = !s_waiting_for(store, page->held[i], reply);
    if (failed)
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_PENDING;
    response->oplog_pending = page;
}

//  ---- OplogTake, OplogStats --------------------------------------------------------------------

static bool s_consumer_ok(const char *consumer, ca_reply_t *reply) {
    size_t length = strlen(consumer);
    if (length >= 1 && length <= CA_OPLOG_CONSUMER_MAX)
        return true;
    ca_reply_error(reply, CA_INVALID, "consumer must be a name of 1 to %d bytes",
                   CA_OPLOG_CONSUMER_MAX);
    return false;
}

//  The consumer's position (0: none yet); -1 with the reply failed.
static int64_t s_position(ca_store_t *store, const char *consumer, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT position FROM oplog_consumers WHERE name = ?1", reply);
    if (!stmt)
        return -1;
    sqlite3_bind_text(stmt, 1, consumer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int64_t position = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (s_read_failed(rc, stmt, reply))
        position = -1;
    sqlite3_reset(stmt);
    return position;
}

static const char s_sql_take[] =
    "SELECT r.n, o.hash, o.header, o.body, o.erased FROM oplog_ready r"
    " LEFT JOIN oplog_ops o ON o.hash = r.hash WHERE r.n > ?1 AND r.n <= ?2 ORDER BY r.n LIMIT ?3";

//  Reads the released operations after `from` (up to `to`, at most
//  `limit`, about CA_OPLOG_PAGE_BYTES) into `taken`; returns the position
//  after the last row read, or -1 with the reply failed.
static int64_t s_take_read(ca_store_t *store, int64_t from, int64_t to, size_t limit,
                           bool with_bodies, Cairn__OplogTaken *taken, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, s_sql_take, reply);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, from);
    sqlite3_bind_int64(stmt, 2, to);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit);
    taken->entries =
        (Cairn__OplogEntry **)ca_reply_alloc(reply, limit * sizeof(Cairn__OplogEntry *));
    int64_t position = from;
    size_t bytes = 0;
    int rc;
    while (bytes < CA_OPLOG_PAGE_BYTES && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        position = sqlite3_column_int64(stmt, 0);
        if (sqlite3_column_type(stmt, 1) != SQLITE_BLOB)
            continue; //  pruned since it was released
        Cairn__OplogEntry *entry = s_entry(reply, stmt, 1, with_bodies);
        if (!entry) {
            position = -1;
            break;
        }
        bytes += (size_t)sqlite3_column_bytes(stmt, 2) + entry->body.len;
        taken->entries[taken->n_entries++] = entry;
    }
    if (position >= 0 && bytes < CA_OPLOG_PAGE_BYTES && s_read_failed(rc, stmt, reply))
        position = -1;
    sqlite3_reset(stmt);
    return position;
}

static void s_answer_taken(ca_reply_t *reply, Cairn__OplogTaken *taken) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_TAKE;
    response->oplog_take = taken;
}

static void s_oplog_take(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__OplogTake *ask = request->oplog_take;
    if (!s_consumer_ok(ask->consumer, reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_OPLOG_PAGE_DEFAULT, CA_OPLOG_PAGE_MAX,
                                 "operations per take", NULL, reply);
    if (!limit)
        return;
    int64_t from = s_position(store, ask->consumer, reply);
    if (from < 0)
        return;
    Cairn__OplogTaken *taken = (Cairn__OplogTaken *)ca_reply_alloc(reply, sizeof *taken);
    cairn__oplog_taken__init(taken);
    int64_t to = s_take_read(store, from, INT64_MAX, limit, ask->with_bodies, taken, reply);
    if (to < 0)
        return;
    taken->position = (uint64_t)to;
    if (to == from) { //  nothing new: no write
        s_answer_taken(reply, taken);
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO oplog_consumers (name, position) VALUES (?1, ?3)"
                       " ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                       " WHERE position = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT,
                       "another take moved this consumer's cursor meanwhile; take again");
    ca_write_text(write, ask->consumer);
    ca_write_int(write, from);
    ca_write_int(write, to);
    int64_t context[2] = {from, to};
    ca_write_context(write, context, sizeof context);
    ca_store_write(store, &write, reply);
}

static void s_oplog_taken(ca_store_t *store, const Cairn__Request *request,
                          const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    int64_t context[2];
    if (write->context.len != sizeof context) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the take's context; retry");
        return;
    }
    memcpy(context, write->context.data, sizeof context);
    const Cairn__OplogTake *ask = request->oplog_take;
    size_t limit = ask->limit ? ask->limit : CA_OPLOG_PAGE_DEFAULT;
    Cairn__OplogTaken *taken = (Cairn__OplogTaken *)ca_reply_alloc(reply, sizeof *taken);
    cairn__oplog_taken__init(taken);
    if (s_take_read(store, context[0], context[1], limit, ask->with_bodies, taken, reply) < 0)
        return;
    taken->position = (uint64_t)context[1];
    s_answer_taken(reply, taken);
}

//  One count; -1 with the reply failed.
static int64_t s_count(ca_store_t *store, const char *sql, const char *text, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, sql, reply);
    if (!stmt)
        return -1;
    if (text)
        sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (s_read_failed(rc, stmt, reply))
        count = -1;
    sqlite3_reset(stmt);
    return count;
}

static void s_oplog_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *consumer = request->oplog_stats->consumer;
    if (*consumer && !s_consumer_ok(consumer, reply))
        return;
    int64_t counts[6] = {
        s_count(store, "SELECT count(*) FROM oplog_ops", NULL, reply),
        s_count(store, "SELECT count(*) FROM (SELECT DISTINCT author, log_id FROM oplog_ops)", NULL,
                reply),
        s_count(store, "SELECT count(*) FROM oplog_held", NULL, reply),
        s_count(store, "SELECT count(*) FROM oplog_ready", NULL, reply),
        s_count(store, "SELECT count(*) FROM oplog_forks", NULL, reply),
        *consumer ? s_count(store,
                            "SELECT count(*) FROM oplog_ready WHERE n > coalesce((SELECT position"
                            " FROM oplog_consumers WHERE name = ?1), 0)",
                            consumer, reply)
                  : 0,
    };
    for (size_t i = 0; i < 6; i++)
        if (counts[i] < 0)
            return;
    Cairn__OplogStatsReply *stats = (Cairn__OplogStatsReply *)ca_reply_alloc(reply, sizeof *stats);
    cairn__oplog_stats_reply__init(stats);
    stats->operations = (uint64_t)counts[0];
    stats->logs = (uint64_t)counts[1];
    stats->pending = (uint64_t)counts[2];
    stats->ready = (uint64_t)counts[3];
    stats->forks = (uint64_t)counts[4];
    stats->ready_for_consumer = (uint64_t)counts[5];
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_OPLOG_STATS;
    response->oplog_stats = stats;
}

//  ---- upkeep: expiry ---------------------------------------------------------------------------

static void s_oplog_tick(ca_store_t *store) {
    int64_t hold_max_us = ca_store_settings(store)->oplog_hold_max_s * 1000000;
    int64_t before = (int64_t)(ca_now_seconds() * 1e6) - hold_max_us;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM oplog_held WHERE since_us < ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_int(write, before);
    ca_write_statement(write, s_sql_undep, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    if (ca_store_write_internal(store, &write) != 0)
        ca_log_warning("oplog: the writer's queue is full; expiry waits for the next tick");
    s_release_pass(store, ca_write_new());
}

//  A pass committed: when its last layer released something, deeper
//  layers may be releasable now: another pass. (The expiry write, two
//  statements, is not a pass.)
static void s_oplog_internal_done(ca_store_t *store, const Cairn__Internal__WriteReply *write) {
    size_t last_layer = 1 + OPLOG_PASS_LAYERS;
    if (write->n_results == last_layer + 3 && write->results[last_layer]->changes > 0)
        s_release_pass(store, ca_write_new());
}

static const ca_handler_t s_handlers[] = {
    //  Routed by OplogAppend.author (see the essay).
    {CAIRN__REQUEST__BODY_OPLOG_APPEND, "oplog_append", s_oplog_append, s_oplog_appended, 4},
    {CAIRN__REQUEST__BODY_OPLOG_GET, "oplog_get", s_oplog_get, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_HAS, "oplog_has", s_oplog_has, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_LATEST, "oplog_latest", s_oplog_latest, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_HEIGHTS, "oplog_heights", s_oplog_heights, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_SIZE, "oplog_size", s_oplog_size, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_RANGE, "oplog_range", s_oplog_range, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_PRUNE, "oplog_prune", s_oplog_prune, s_oplog_pruned, 0},
    {CAIRN__REQUEST__BODY_OPLOG_ERASE, "oplog_erase", s_oplog_erase, s_oplog_erased, 0},
    {CAIRN__REQUEST__BODY_OPLOG_FORKS, "oplog_forks", s_oplog_forks, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_PENDING, "oplog_pending", s_oplog_pending, NULL, 0},
    {CAIRN__REQUEST__BODY_OPLOG_TAKE, "oplog_take", s_oplog_take, s_oplog_taken, 0},
    {CAIRN__REQUEST__BODY_OPLOG_STATS, "oplog_stats", s_oplog_stats, NULL, 0},
};

const ca_store_def_t oplog_store_def = {
    .name = "oplog",
    .schema = &oplog_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .tick = s_oplog_tick,
    .internal_done = s_oplog_internal_done,
};

//  ---- self-test ---------------------------------------------------------------------------------

#include "ca_testbed.h"

void oplog_test(bool verbose) {
    if (verbose)
        printf(" * oplog: ");
    //  The release statement on an empty orderer, and a chain held in
    //  reverse: the store's behaviour is tested end to end in
    //  tests/e2e_oplog.c; here only that the schema and SQL compile.
    ca_testbed_t *bed = ca_testbed_new(&oplog_store_def);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__OplogStats stats = CAIRN__OPLOG_STATS__INIT;
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_STATS;
    request.oplog_stats = &stats;
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_OPLOG_STATS);
    assert(response->oplog_stats->operations == 0 && response->oplog_stats->pending == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_destroy(&bed);
    //  Migration 3: the newest operation cannot be deleted, so its id (the
    //  subscription cursor) is never given again; older ones can.
    sqlite3 *db = NULL;
    size_t from, to;
    assert(sqlite3_open(":memory:", &db) == SQLITE_OK);
    assert(!ca_schema_migrate(db, &oplog_schema, &from, &to) && to == oplog_schema.count);
    static const char insert[] =
        "INSERT INTO oplog_ops (hash, author, log_id, seq, header, encoded_size)"
        " VALUES (x'00000000000000000000000000000000000000000000000000000000000000%02x', "
        "x'0000000000000000000000000000000000000000000000000000000000000000', 1, %d, x'', 0)";
    char sql[sizeof insert + 16];
    for (int seq = 0; seq < 3; seq++) {
        snprintf(sql, sizeof sql, insert, seq, seq);
        assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    }
    assert(sqlite3_exec(db, "DELETE FROM oplog_ops WHERE seq = 2", NULL, NULL, NULL) ==
           SQLITE_CONSTRAINT);
    assert(sqlite3_exec(db, "DELETE FROM oplog_ops WHERE seq < 2", NULL, NULL, NULL) == SQLITE_OK);
    snprintf(sql, sizeof sql, insert, 3, 3);
    assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    assert(sqlite3_last_insert_rowid(db) == 4);
    sqlite3_close(db);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    settlement - the settlement queue: distributions owed to recipients
    until a batch settles them

    What it owns: the tables of settlement_schema (settle_distributions,
    settle_batches, settle_last).

    Requests: schemas/settlement.proto (hashes and ids are 32 raw bytes).

    A distribution is keyed by (payment_id, recipient): enqueuing the same
    pair again changes nothing (INSERT ... ON CONFLICT DO NOTHING), so a
    retried enqueue can never double an amount, even with another amount.
    "Oldest first" is queued_at, then the order of enqueue (the rowid), so
    equal times still have one order.

    Amounts are unsigned 64-bit, stored as INTEGER holding the same bits.
    Sums are never left to SQLite: its sum() works on signed values (an
    amount over 2^63-1 reads as negative) and fails with "integer overflow"
    in the middle of a read. The worker steps the rows and adds in C with
    __builtin_add_overflow; a total over 2^64-1 is INTERNAL with a message
    that says what to do, never a wrapped number. The read is one statement,
    so one snapshot of the database.

    Money must not be lost: every write is durable (ca_write_durable: its
    batch commits with synchronous=FULL whatever the node's default). Every
    write is served by worker 0 (CA_ROUTE_ONE_WORKER), so the writes one
    connection sends commit in the order sent (an enqueue then a batch
    that must include it, pipelined).

    SettleBatch. The worker reads the pending distributions, oldest first
    up to the limit, adds them up per recipient (checked), and names the
    batch by the SHA-256 of its canonical content (settlement_batch_id).
    Then one write: the batch's row (its id taken once), an UPDATE that
    settles exactly the picked rows that are still pending (their rowids as
    a JSON array), and a guard that the batch now holds exactly the picked
    number of rows. Anything that settled one of them meanwhile (a batch
    or a mark on another connection) breaks the guard, and the whole write
    rolls back (its statements share one savepoint): CONFLICT, nothing
    settled, try again. The answer is read back from the committed rows,
    the same code as SettleBatchGet, so what a client is told is what an
    auditor reads later. The same pending set always gives the same id.

    Batches in flight. Every SettleBatch is served by worker 0, which picks
    the next batch before the writer has committed the previous one. So
    that pipelined batches (from one client or several) do not all pick
    the same oldest rows and then lose the race, worker 0 keeps the rowids
    of its batches in flight (its state) and skips them when it picks; a
    batch's rowids leave the set when its write commits (`done`) or fails
    (`write_failed`). Races with SettleMark are still CONFLICT.

    SettleMark settles the pending distributions of given payments under a
    batch id the client chose, in one write. Per payment: a guard that the
    queue knows it (else NOT_FOUND, nothing marked), then the UPDATE; a
    payment whose UPDATE changed nothing was settled before and is
    reported in already_settled, unchanged. A client may not mark into a
    batch made by SettleBatch (its id is the hash of its content).
    ========================================================================= */

#include "settlement.h"
#include "ca_clock.h"
#include "ca_blob_store.h"
#include "ca_hash.h"
#include "ca_log.h"
#include "ca_names.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_migrations[] = {
    //  1: the queue, the batches, the last settlement time
    "CREATE TABLE settle_distributions ("
    "  id INTEGER PRIMARY KEY," //  the order of enqueue
    "  payment_id BLOB NOT NULL CHECK (length(payment_id) = 32),"
    "  recipient TEXT NOT NULL,"
    "  amount INTEGER NOT NULL," //  uint64 bits
    "  source_hash BLOB NOT NULL CHECK (length(source_hash) = 32),"
    "  queued_at REAL NOT NULL,"
    "  batch_id BLOB," //  NULL while pending
    "  settled_at REAL,"
    "  UNIQUE (payment_id, recipient)"
    ");"
    "CREATE INDEX settle_pending ON settle_distributions (queued_at, id)"
    "  WHERE batch_id IS NULL;"
    "CREATE INDEX settle_pending_by_recipient ON settle_distributions (recipient, queued_at, id)"
    "  WHERE batch_id IS NULL;"
    "CREATE INDEX settle_by_batch ON settle_distributions (batch_id, recipient)"
    "  WHERE batch_id IS NOT NULL;"
    "CREATE TABLE settle_batches ("
    "  batch_id BLOB PRIMARY KEY CHECK (length(batch_id) = 32),"
    "  settled_at REAL NOT NULL,"
    "  made_by_batch INTEGER NOT NULL" //  1: SettleBatch, 0: SettleMark
    ") WITHOUT ROWID;"
    "CREATE TABLE settle_last ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  time REAL NOT NULL"
    ");",
};

const ca_schema_t settlement_schema = {
    .store = "settlement",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

#define PENDING_COLUMNS "payment_id, recipient, amount, source_hash, queued_at, id"

const char settlement_sql_enqueue[] =
    "INSERT INTO settle_distributions (payment_id, recipient, amount, source_hash, queued_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (payment_id, recipient) DO NOTHING";

const char settlement_sql_pending_amounts[] =
    "SELECT amount FROM settle_distributions WHERE batch_id IS NULL";

//  ---- the batch id ----------------------------------------------------------------

typedef struct {
    const uint8_t *payment_id;
    const char *recipient;
    uint64_t amount;
} triple_t;

static int s_triple_compare(const void *a, const void *b) {
    const triple_t *x = (const triple_t *)a, *y = (const triple_t *)b;
    int order = memcmp(x->payment_id, y->payment_id, CA_SHA256_BYTES);
    return order ? order : strcmp(x->recipient, y->recipient);
}

int settlement_batch_id(const uint8_t *payment_ids, const char *const *recipients,
                        const uint64_t *amounts, size_t count, uint8_t id[32]) {
    ca_sha256_t *hash = ca_sha256_new();
    if (!hash)
        return -1;
    triple_t *triples = (triple_t *)zmalloc((count ? count : 1) * sizeof(triple_t));
    for (size_t i = 0; i < count; i++)
        triples[i] = (triple_t){payment_ids + i * CA_SHA256_BYTES, recipients[i], amounts[i]};
    qsort(triples, count, sizeof(triple_t), s_triple_compare);
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen(triples[i].recipient);
        assert(length <= CA_PEER_ID_MAX); //  recipients are checked peer ids: a bug if not
        uint8_t prefix = (uint8_t)length, amount[8];
        for (int k = 0; k < 8; k++)
            amount[k] = (uint8_t)(triples[i].amount >> (56 - 8 * k));
        ca_sha256_update(hash, triples[i].payment_id, CA_SHA256_BYTES);
        ca_sha256_update(hash, &prefix, 1);
        ca_sha256_update(hash, triples[i].recipient, length);
        ca_sha256_update(hash, amount, sizeof amount);
    }
    ca_sha256_final(hash, id);
    ca_sha256_destroy(&hash);
    free(triples);
    return 0;
}

//  ---- checks --------------------------------------------------------------------

//  An optional recipient filter: "" is none, else a peer id.
static bool s_recipient_ok(const char *recipient, bool required, ca_reply_t *reply) {
    if (!required && (!recipient || !*recipient))
        return true;
    const char *problem = ca_validate_peer_id(recipient ? recipient : "");
    if (problem)
        ca_reply_error(reply, CA_INVALID, "recipient: %s", problem);
    return problem == NULL;
}

static bool s_time_ok(double time, const char *field, ca_reply_t *reply) {
    if (isfinite(time) && time >= 0)
        return true;
    ca_reply_error(reply, CA_INVALID, "%s must be unix seconds (0 or more)", field);
    return false;
}

static bool s_read_failed(int rc, sqlite3_stmt *stmt, const char *what, ca_reply_t *reply) {
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return false;
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
    return true;
}

//  A checked unsigned add; false on overflow with the reply INTERNAL.
static bool s_add(uint64_t *total, uint64_t amount, const char *what, ca_reply_t *reply) {
    if (!__builtin_add_overflow(*total, amount, total))
        return true;
    ca_reply_error(reply, CA_INTERNAL,
                   "%s is over 2^64-1 and cannot be answered as a number; settle part of the "
                   "queue first (SettleBatch with a limit, `cairn settle batch --limit N`)",
                   what);
    return false;
}

//  ---- SettleEnqueue -------------------------------------------------------------

static bool s_distribution_ok(const Cairn__Distribution *d, ca_reply_t *reply) {
    if (!d) {
        ca_reply_error(reply, CA_INVALID, "the request has no distribution; send one");
        return false;
    }
    if (!ca_blob_store_hash_ok(&d->payment_id, "payment_id", reply) ||
        !s_recipient_ok(d->recipient, true, reply) ||
        !ca_blob_store_hash_ok(&d->source_hash, "source_hash", reply) ||
        !s_time_ok(d->queued_at, "queued_at", reply))
        return false;
    if (d->amount == 0) {
        ca_reply_error(reply, CA_INVALID, "amount is 0: nothing is owed; send a positive amount");
        return false;
    }
    if (d->batch_id.len || d->settled_at != 0) {
        ca_reply_error(reply, CA_INVALID,
                       "batch_id and settled_at are set by the node when a distribution is "
                       "settled; leave them empty");
        return false;
    }
    return true;
}

static void s_settle_was_created(ca_reply_t *reply) {
    ca_reply_response(reply)->settle_enqueue->created = true;
}

static void s_settle_enqueue(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Distribution *d = request->settle_enqueue->distribution;
    if (!s_distribution_ok(d, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, settlement_sql_enqueue, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                       NULL);
    ca_write_blob(write, d->payment_id.data, CA_SHA256_BYTES);
    ca_write_text(write, d->recipient);
    ca_write_int(write, (int64_t)d->amount);
    ca_write_blob(write, d->source_hash.data, CA_SHA256_BYTES);
    ca_write_real(write, d->queued_at > 0 ? d->queued_at : ca_now_seconds());
    ca_write_durable(write);
    //  Both answers packed now; the writer sends the gateway created when
    //  the insert changed its row.
    Cairn__SettleEnqueued *enqueued =
        (Cairn__SettleEnqueued *)ca_reply_alloc(reply, sizeof(Cairn__SettleEnqueued));
    cairn__settle_enqueued__init(enqueued);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE;
    response->settle_enqueue = enqueued;
    ca_store_write_answered(store, &write, reply, 0, s_settle_was_created);
}

//  ---- SettlePending, SettleTotal --------------------------------------------------

//  Where a page of pending rows starts: after (queued_at, id), in the
//  order of "oldest first". The start of the queue is before every row
//  (queued_at is always above 0).
typedef struct {
    double queued_at;
    int64_t id;
} position_t;

static const position_t s_queue_start = {-1.0, 0};

//  The pending rows after `after`, oldest first, all or of one recipient;
//  ?1 the recipient (when filtered), then the position, the last
//  parameter a limit.
//  NULL with the reply failed when it cannot be prepared.
static sqlite3_stmt *s_pending_stmt(ca_store_t *store, const char *recipient, position_t after,
                                    int64_t limit, ca_reply_t *reply) {
    bool all = !recipient || !*recipient;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        all ? "SELECT " PENDING_COLUMNS " FROM settle_distributions WHERE batch_id IS NULL"
              " AND (queued_at, id) > (?2, ?3) ORDER BY queued_at, id LIMIT ?4"
            : "SELECT " PENDING_COLUMNS " FROM settle_distributions WHERE batch_id IS NULL"
              " AND recipient = ?1 AND (queued_at, id) > (?2, ?3) ORDER BY queued_at, id"
              " LIMIT ?4",
        reply);
    if (!stmt)
        return NULL;
    if (!all)
        sqlite3_bind_text(stmt, 1, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_double(stmt, 2, after.queued_at);
    sqlite3_bind_int64(stmt, 3, after.id);
    sqlite3_bind_int64(stmt, 4, limit);
    return stmt;
}

//  The position of a SettlePending's cursor distribution (the start of
//  the queue when it names none). False with the reply set when the cursor
//  is malformed or names no distribution.
static bool s_pending_cursor(ca_store_t *store, const Cairn__SettlePending *ask, position_t *after,
                             ca_reply_t *reply) {
    *after = s_queue_start;
    bool has_id = ask->after_payment_id.len > 0, has_recipient = *ask->after_recipient;
    if (!has_id && !has_recipient)
        return true;
    if (!has_id || !has_recipient) {
        ca_reply_error(reply, CA_INVALID,
                       "give after_payment_id and after_recipient together: the payment id and "
                       "recipient of the last distribution of the previous page");
        return false;
    }
    if (!ca_blob_store_hash_ok(&ask->after_payment_id, "after_payment_id", reply))
        return false;
    const char *problem = ca_validate_peer_id(ask->after_recipient);
    if (problem) {
        ca_reply_error(reply, CA_INVALID, "after_recipient: %s", problem);
        return false;
    }
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT queued_at, id FROM settle_distributions"
                                          " WHERE payment_id = ?1 AND recipient = ?2",
                                          reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, ask->after_payment_id.data, CA_SHA256_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, ask->after_recipient, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        after->queued_at = sqlite3_column_double(stmt, 0);
        after->id = sqlite3_column_int64(stmt, 1);
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no distribution of that payment to %s; page on with the payment id and "
                       "recipient of the last distribution of the previous page",
                       ask->after_recipient);
    bool found = rc == SQLITE_ROW;
    if (!found && rc != SQLITE_DONE)
        s_read_failed(rc, stmt, "the settlement queue", reply);
    sqlite3_reset(stmt);
    return found;
}

static Cairn__Distribution *s_distribution(ca_reply_t *reply, sqlite3_stmt *stmt) {
    Cairn__Distribution *d = (Cairn__Distribution *)ca_reply_alloc(reply, sizeof *d);
    cairn__distribution__init(d);
    d->payment_id.len = CA_SHA256_BYTES;
    d->payment_id.data =
        (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 0), CA_SHA256_BYTES);
    d->recipient = ca_reply_strdup(reply, (const char *)sqlite3_column_text(stmt, 1));
    d->amount = (uint64_t)sqlite3_column_int64(stmt, 2);
    d->source_hash.len = CA_SHA256_BYTES;
    d->source_hash.data =
        (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 3), CA_SHA256_BYTES);
    d->queued_at = sqlite3_column_double(stmt, 4);
    return d;
}

static void s_settle_pending(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__SettlePending *ask = request->settle_pending;
    position_t after;
    if (!s_recipient_ok(ask->recipient, false, reply))
        return;
    size_t limit =
        ca_page_limit(ask->limit, CA_SETTLE_LIST_DEFAULT, CA_SETTLE_LIST_MAX,
                      "distributions per page", "after_payment_id and after_recipient", reply);
    if (!limit || !s_pending_cursor(store, ask, &after, reply))
        return;
    Cairn__DistributionPage *page =
        (Cairn__DistributionPage *)ca_reply_alloc(reply, sizeof(Cairn__DistributionPage));
    cairn__distribution_page__init(page);
    page->distributions =
        (Cairn__Distribution **)ca_reply_alloc(reply, limit * sizeof(Cairn__Distribution *));
    sqlite3_stmt *stmt = s_pending_stmt(store, ask->recipient, after, (int64_t)limit + 1, reply);
    if (!stmt)
        return;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_distributions == limit) {
            page->more = true;
            break;
        }
        page->distributions[page->n_distributions++] = s_distribution(reply, stmt);
    }
    bool failed = s_read_failed(rc, stmt, "the settlement queue", reply);
    sqlite3_reset(stmt);
    if (failed)
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SETTLE_PENDING;
    response->settle_pending = page;
}

static void s_settle_total(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__SettleTotal *ask = request->settle_total;
    if (!s_recipient_ok(ask->recipient, false, reply))
        return;
    bool all = !*ask->recipient;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        all ? settlement_sql_pending_amounts
            : "SELECT amount FROM settle_distributions WHERE batch_id IS NULL AND recipient = ?1",
        reply);
    if (!stmt)
        return;
    if (!all)
        sqlite3_bind_text(stmt, 1, ask->recipient, -1, SQLITE_STATIC);
    uint64_t total = 0, count = 0;
    bool overflow = false;
    int rc;
    while (!overflow && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        overflow = !s_add(&total, (uint64_t)sqlite3_column_int64(stmt, 0),
                          all ? "the pending total" : "the recipient's pending total", reply);
        count++;
    }
    bool failed = overflow || s_read_failed(rc, stmt, "the settlement queue", reply);
    sqlite3_reset(stmt);
    if (failed)
        return;
    Cairn__SettleTotalReply *answer =
        (Cairn__SettleTotalReply *)ca_reply_alloc(reply, sizeof(Cairn__SettleTotalReply));
    cairn__settle_total_reply__init(answer);
    answer->total = total;
    answer->count = count;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SETTLE_TOTAL;
    response->settle_total = answer;
}

//  ---- SettleMark ----------------------------------------------------------------------

static bool s_payment_ids_ok(const Cairn__SettleMark *mark, ca_reply_t *reply) {
    if (mark->n_payment_ids == 0 || mark->n_payment_ids > CA_SETTLE_MARK_MAX) {
        ca_reply_error(reply, CA_INVALID, "send 1 to %d payment ids (this request has %zu)",
                       CA_SETTLE_MARK_MAX, mark->n_payment_ids);
        return false;
    }
    for (size_t i = 0; i < mark->n_payment_ids; i++) {
        char field[48];
        snprintf(field, sizeof field, "payment_ids[%zu]", i);
        if (!ca_blob_store_hash_ok(&mark->payment_ids[i], field, reply))
            return false;
        for (size_t k = 0; k < i; k++)
            if (memcmp(mark->payment_ids[k].data, mark->payment_ids[i].data, CA_SHA256_BYTES) ==
                0) {
                ca_reply_error(reply, CA_INVALID,
                               "payment_ids[%zu] repeats payment_ids[%zu]; send each once", i, k);
                return false;
            }
    }
    return true;
}

//  Statements of the mark before the per-payment pairs.
#define MARK_LEADING 2

static void s_settle_mark(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__SettleMark *mark = request->settle_mark;
    if (!ca_blob_store_hash_ok(&mark->batch_id, "batch_id", reply) ||
        !s_payment_ids_ok(mark, reply))
        return;
    double now = ca_now_seconds();
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM settle_batches WHERE batch_id = ?1 AND made_by_batch",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "this batch id names a batch made by SettleBatch; mark under another id "
                       "(nothing was marked)");
    ca_write_blob(write, mark->batch_id.data, CA_SHA256_BYTES);
    ca_write_statement(write,
                       "INSERT INTO settle_batches (batch_id, settled_at, made_by_batch)"
                       " VALUES (?1, ?2, 0) ON CONFLICT (batch_id) DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, mark->batch_id.data, CA_SHA256_BYTES);
    ca_write_real(write, now);
    for (size_t i = 0; i < mark->n_payment_ids; i++) {
        ca_write_statement(write,
                           "SELECT 1 FROM settle_distributions WHERE payment_id = ?1 LIMIT 1",
                           CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
                           "a payment id has no distributions in the queue (enqueue them first, "
                           "or check the id); nothing was marked");
        ca_write_blob(write, mark->payment_ids[i].data, CA_SHA256_BYTES);
        ca_write_statement(write,
                           "UPDATE settle_distributions SET batch_id = ?2, settled_at = ?3"
                           " WHERE payment_id = ?1 AND batch_id IS NULL",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, mark->payment_ids[i].data, CA_SHA256_BYTES);
        ca_write_blob(write, mark->batch_id.data, CA_SHA256_BYTES);
        ca_write_real(write, now);
    }
    ca_write_durable(write);
    ca_store_write(store, &write, reply);
}

static void s_settle_marked(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__SettleMark *mark = request->settle_mark;
    if (write->n_results != MARK_LEADING + 2 * mark->n_payment_ids) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the mark's results; retry");
        return;
    }
    Cairn__SettleMarked *marked =
        (Cairn__SettleMarked *)ca_reply_alloc(reply, sizeof(Cairn__SettleMarked));
    cairn__settle_marked__init(marked);
    marked->already_settled = (ProtobufCBinaryData *)ca_reply_alloc(
        reply, mark->n_payment_ids * sizeof(ProtobufCBinaryData));
    for (size_t i = 0; i < mark->n_payment_ids; i++) {
        uint64_t changes = write->results[MARK_LEADING + 2 * i + 1]->changes;
        marked->settled += changes;
        if (changes == 0)
            marked->already_settled[marked->n_already_settled++] = mark->payment_ids[i];
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SETTLE_MARK;
    response->settle_mark = marked;
}

//  ---- SettleLastGet, SettleLastSet ------------------------------------------------------

static void s_last_answer(ca_reply_t *reply, Cairn__Response__BodyCase body, double time,
                          bool set) {
    Cairn__SettleLast *last = (Cairn__SettleLast *)ca_reply_alloc(reply, sizeof(Cairn__SettleLast));
    cairn__settle_last__init(last);
    last->time = time;
    last->set = set;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_SETTLE_LAST_GET)
        response->settle_last_get = last;
    else
        response->settle_last_set = last;
}

static void s_settle_last_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT time FROM settle_last WHERE id = 1", reply);
    if (!stmt)
        return;
    int rc = sqlite3_step(stmt);
    double time = rc == SQLITE_ROW ? sqlite3_column_double(stmt, 0) : 0;
    bool failed = s_read_failed(rc, stmt, "the last settlement time", reply);
    sqlite3_reset(stmt);
    if (!failed)
        s_last_answer(reply, CAIRN__RESPONSE__BODY_SETTLE_LAST_GET, time, rc == SQLITE_ROW);
}

static void s_settle_last_set(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    double time = request->settle_last_set->time;
    if (!s_time_ok(time, "time", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO settle_last (id, time) VALUES (1, ?1)"
                       " ON CONFLICT (id) DO UPDATE SET time = excluded.time",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the last settlement time was not written; retry");
    ca_write_real(write, time);
    ca_write_durable(write);
    ca_store_write(store, &write, reply);
}

static void s_settle_last_stored(ca_store_t *store, const Cairn__Request *request,
                                 const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_last_answer(reply, CAIRN__RESPONSE__BODY_SETTLE_LAST_SET, request->settle_last_set->time,
                  true);
}

//  ---- SettleBatchGet (and the answer of SettleBatch) -------------------------------------

//  Answers the batch `id` from its committed rows: per-recipient totals
//  (checked sums), by recipient. NOT_FOUND when there is no such batch.
static void s_batch_answer(ca_store_t *store, const uint8_t *id, Cairn__Response__BodyCase body,
                           ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT settled_at FROM settle_batches WHERE batch_id = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, id, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    double settled_at = rc == SQLITE_ROW ? sqlite3_column_double(stmt, 0) : 0;
    bool failed = s_read_failed(rc, stmt, "the settlement batches", reply);
    sqlite3_reset(stmt);
    if (failed)
        return;
    if (rc == SQLITE_DONE) {
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no batch has this id; check it (`cairn settle batch` prints the ids it "
                       "makes)");
        return;
    }
    Cairn__SettleBatchReply *answer =
        (Cairn__SettleBatchReply *)ca_reply_alloc(reply, sizeof(Cairn__SettleBatchReply));
    cairn__settle_batch_reply__init(answer);
    answer->batch_id.len = CA_SHA256_BYTES;
    answer->batch_id.data = (uint8_t *)ca_reply_memdup(reply, id, CA_SHA256_BYTES);
    answer->settled_at = settled_at;
    stmt = ca_store_prepare(store,
                            "SELECT recipient, amount FROM settle_distributions"
                            " WHERE batch_id = ?1 ORDER BY recipient",
                            reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, id, CA_SHA256_BYTES, SQLITE_STATIC);
    zlistx_t *totals = zlistx_new();
    Cairn__RecipientTotal *current = NULL;
    bool overflow = false;
    while (!overflow && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *recipient = (const char *)sqlite3_column_text(stmt, 0);
        if (!current || strcmp(current->recipient, recipient) != 0) {
            current = (Cairn__RecipientTotal *)ca_reply_alloc(reply, sizeof *current);
            cairn__recipient_total__init(current);
            current->recipient = ca_reply_strdup(reply, recipient);
            zlistx_add_end(totals, current);
        }
        overflow = !s_add(&current->total, (uint64_t)sqlite3_column_int64(stmt, 1),
                          "a recipient's total in this batch", reply);
        current->count++;
        answer->distributions++;
    }
    failed = overflow || s_read_failed(rc, stmt, "the settlement batches", reply);
    sqlite3_reset(stmt);
    if (!failed) {
        answer->n_totals = zlistx_size(totals);
        answer->totals = (Cairn__RecipientTotal **)ca_reply_alloc(
            reply, (answer->n_totals ? answer->n_totals : 1) * sizeof(Cairn__RecipientTotal *));
        size_t i = 0;
        for (void *item = zlistx_first(totals); item; item = zlistx_next(totals))
            answer->totals[i++] = (Cairn__RecipientTotal *)item;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = body;
        if (body == CAIRN__RESPONSE__BODY_SETTLE_BATCH)
            response->settle_batch = answer;
        else
            response->settle_batch_get = answer;
    }
    zlistx_destroy(&totals);
}

static void s_settle_batch_get(ca_store_t *store, const Cairn__Request *request,
                               ca_reply_t *reply) {
    const ProtobufCBinaryData *id = &request->settle_batch_get->batch_id;
    if (ca_blob_store_hash_ok(id, "batch_id", reply))
        s_batch_answer(store, id->data, CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET, reply);
}

//  ---- SettleBatch ------------------------------------------------------------------------

//  The distributions a batch picked, as read by the worker.
typedef struct {
    size_t count;
    uint8_t *payment_ids; //  count x 32 bytes
    char **recipients;
    uint64_t *amounts;
    int64_t *ids;     //  their rowids
    zchunk_t *rowids; //  ... as a JSON array
} picked_t;

//  Worker state: rowids of this worker's batches in flight ("%lld" keys).
static zhashx_t *s_in_flight(ca_store_t *store) {
    return (zhashx_t *)ca_store_state(store);
}

static void *s_state_new(ca_store_t *store, char **error) {
    return zhashx_new();
}

static void s_state_destroy(void **state_p) {
    zhashx_destroy((zhashx_t **)state_p);
}

static void s_rowid_key(int64_t id, char key[24]) {
    snprintf(key, 24, "%lld", (long long)id);
}

//  A batch's write context: its id, then its rowids (8 bytes each).
static void s_in_flight_end(ca_store_t *store, const ProtobufCBinaryData *context) {
    if (context->len < CA_SHA256_BYTES)
        return;
    for (size_t at = CA_SHA256_BYTES; at + 8 <= context->len; at += 8) {
        int64_t id;
        memcpy(&id, context->data + at, 8);
        char key[24];
        s_rowid_key(id, key);
        zhashx_delete(s_in_flight(store), key);
    }
}

static void s_picked_free(picked_t *picked) {
    for (size_t i = 0; i < picked->count; i++)
        free(picked->recipients[i]);
    free(picked->payment_ids);
    free(picked->recipients);
    free(picked->amounts);
    free(picked->ids);
    zchunk_destroy(&picked->rowids);
}

//  Reads up to `limit` pending distributions, oldest first, and checks
//  that every recipient's total fits in 64 bits. False with the reply set.
static bool s_pick(ca_store_t *store, uint32_t limit, picked_t *picked, ca_reply_t *reply) {
    picked->payment_ids = (uint8_t *)zmalloc((size_t)limit * CA_SHA256_BYTES);
    picked->recipients = (char **)zmalloc((size_t)limit * sizeof(char *));
    picked->amounts = (uint64_t *)zmalloc((size_t)limit * sizeof(uint64_t));
    picked->ids = (int64_t *)zmalloc((size_t)limit * sizeof(int64_t));
    picked->rowids = zchunk_new(NULL, 16 * (size_t)limit + 2);
    zchunk_extend(picked->rowids, "[", 1);
    zhashx_t *totals = zhashx_new(); //  recipient -> uint64_t total
    zhashx_set_destructor(totals, (zhashx_destructor_fn *)zstr_free);
    zhashx_t *in_flight = s_in_flight(store);
    sqlite3_stmt *stmt = s_pending_stmt(store, NULL, s_queue_start,
                                        (int64_t)limit + (int64_t)zhashx_size(in_flight), reply);
    if (!stmt) {
        zhashx_destroy(&totals);
        return false;
    }
    int rc = SQLITE_DONE;
    bool overflow = false;
    while (!overflow && picked->count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        char key[24];
        s_rowid_key(sqlite3_column_int64(stmt, 5), key);
        if (zhashx_lookup(in_flight, key))
            continue; //  another batch of ours holds it
        size_t i = picked->count++;
        picked->ids[i] = sqlite3_column_int64(stmt, 5);
        memcpy(picked->payment_ids + i * CA_SHA256_BYTES, sqlite3_column_blob(stmt, 0),
               CA_SHA256_BYTES);
        picked->recipients[i] = strdup((const char *)sqlite3_column_text(stmt, 1));
        picked->amounts[i] = (uint64_t)sqlite3_column_int64(stmt, 2);
        char rowid[24];
        int size = snprintf(rowid, sizeof rowid, "%s%lld", i ? "," : "",
                            (long long)sqlite3_column_int64(stmt, 5));
        zchunk_extend(picked->rowids, rowid, (size_t)size);
        uint64_t *total = (uint64_t *)zhashx_lookup(totals, picked->recipients[i]);
        if (!total) {
            total = (uint64_t *)zmalloc(sizeof(uint64_t));
            zhashx_insert(totals, picked->recipients[i], total);
        }
        overflow = !s_add(total, picked->amounts[i],
                          "a recipient's total in this batch (nothing was settled)", reply);
    }
    zchunk_extend(picked->rowids, "]", 2); //  with its NUL
    bool failed = overflow ||
                  (picked->count < limit && s_read_failed(rc, stmt, "the settlement queue", reply));
    sqlite3_reset(stmt);
    zhashx_destroy(&totals);
    if (!failed && picked->count == 0) {
        ca_reply_error(reply, CA_NOT_FOUND, "nothing is pending; there is nothing to settle");
        failed = true;
    }
    return !failed;
}

static void s_settle_batch(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    size_t limit = ca_page_limit(request->settle_batch->limit, CA_SETTLE_BATCH_MAX,
                                 CA_SETTLE_BATCH_MAX, "distributions per batch", NULL, reply);
    if (!limit)
        return;
    picked_t picked = {0};
    if (!s_pick(store, (uint32_t)limit, &picked, reply)) {
        s_picked_free(&picked);
        return;
    }
    uint8_t id[CA_SHA256_BYTES];
    if (settlement_batch_id(picked.payment_ids, (const char *const *)picked.recipients,
                            picked.amounts, picked.count, id) != 0) {
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory naming the batch; nothing was settled, retry");
        s_picked_free(&picked);
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO settle_batches (batch_id, settled_at, made_by_batch)"
                       " VALUES (?1, ?2, 1) ON CONFLICT (batch_id) DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT,
                       "a batch with this id exists already (its id was used by a mark); "
                       "nothing was settled");
    ca_write_blob(write, id, CA_SHA256_BYTES);
    ca_write_real(write, ca_now_seconds());
    ca_write_statement(write,
                       "UPDATE settle_distributions SET batch_id = ?1,"
                       " settled_at = (SELECT settled_at FROM settle_batches WHERE batch_id = ?1)"
                       " WHERE batch_id IS NULL AND id IN (SELECT value FROM json_each(?2))",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_CONFLICT,
                       "the pending distributions were settled meanwhile by another batch or "
                       "mark; nothing was settled; make the batch again");
    ca_write_blob(write, id, CA_SHA256_BYTES);
    ca_write_text(write, (const char *)zchunk_data(picked.rowids));
    ca_write_statement(write,
                       "SELECT 1 WHERE (SELECT count(*) FROM settle_distributions"
                       " WHERE batch_id = ?1) != ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "some of the batch's distributions were settled meanwhile by another "
                       "batch or mark; nothing was settled; make the batch again");
    ca_write_blob(write, id, CA_SHA256_BYTES);
    ca_write_int(write, (int64_t)picked.count);
    size_t context_size = CA_SHA256_BYTES + 8 * picked.count;
    uint8_t *context = (uint8_t *)zmalloc(context_size);
    memcpy(context, id, CA_SHA256_BYTES);
    memcpy(context + CA_SHA256_BYTES, picked.ids, 8 * picked.count);
    ca_write_context(write, context, context_size);
    free(context);
    ca_write_durable(write);
    //  ca_write_text references its text: the frame is made inside ca_store_write.
    if (ca_store_write(store, &write, reply) == 0)
        for (size_t i = 0; i < picked.count; i++) {
            char key[24];
            s_rowid_key(picked.ids[i], key);
            zhashx_insert(s_in_flight(store), key, (void *)1);
        }
    s_picked_free(&picked);
}

static void s_settle_batched(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_in_flight_end(store, &write->context);
    if (write->context.len < CA_SHA256_BYTES) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the batch id; retry");
        return;
    }
    s_batch_answer(store, write->context.data, CAIRN__RESPONSE__BODY_SETTLE_BATCH, reply);
}

//  ---- the store ------------------------------------------------------------------------

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_SETTLE_ENQUEUE, "settle_enqueue", s_settle_enqueue, NULL,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_SETTLE_PENDING, "settle_pending", s_settle_pending, NULL, 0},
    {CAIRN__REQUEST__BODY_SETTLE_TOTAL, "settle_total", s_settle_total, NULL, 0},
    {CAIRN__REQUEST__BODY_SETTLE_MARK, "settle_mark", s_settle_mark, s_settle_marked,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_SETTLE_LAST_GET, "settle_last_get", s_settle_last_get, NULL, 0},
    {CAIRN__REQUEST__BODY_SETTLE_LAST_SET, "settle_last_set", s_settle_last_set,
     s_settle_last_stored, CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_SETTLE_BATCH, "settle_batch", s_settle_batch, s_settle_batched,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_SETTLE_BATCH_GET, "settle_batch_get", s_settle_batch_get, NULL, 0},
};

static void s_write_failed(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write) {
    if (request->body_case == CAIRN__REQUEST__BODY_SETTLE_BATCH)
        s_in_flight_end(store, &write->context);
}

const ca_store_def_t settlement_store_def = {
    .name = "settlement",
    .schema = &settlement_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
    .write_failed = s_write_failed,
};

//  ---- self-test -----------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

//  Payment n's id: the hash of its name.
static void s_payment(uint64_t n, uint8_t id[32]) {
    char name[32];
    snprintf(name, sizeof name, "payment-%" PRIu64, n);
    ca_sha256(name, strlen(name), id);
}

static Cairn__Response *s_enqueue(ca_testbed_t *bed, uint64_t n, const char *recipient,
                                  uint64_t amount, double queued_at) {
    uint8_t id[32], source[32];
    s_payment(n, id);
    ca_sha256("source", 6, source);
    Cairn__Request request;
    Cairn__SettleEnqueue enqueue;
    Cairn__Distribution d;
    ca_request_distribution(&d, id, 32, recipient, amount, source, 32, queued_at);
    ca_request_settle_enqueue(&request, &enqueue, 0, &d);
    return ca_testbed_send(bed, &request);
}

static bool s_enqueue_ok(ca_testbed_t *bed, uint64_t n, const char *recipient, uint64_t amount,
                         double queued_at) {
    Cairn__Response *response = ca_testbed_ok(s_enqueue(bed, n, recipient, amount, queued_at),
                                              CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE);
    bool created = response->settle_enqueue->created;
    cairn__response__free_unpacked(response, NULL);
    return created;
}

static Cairn__Response *s_pending(ca_testbed_t *bed, const char *recipient, uint32_t limit) {
    Cairn__Request request;
    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 0, recipient, limit);
    return ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_PENDING);
}

static Cairn__Response *s_total(ca_testbed_t *bed, const char *recipient) {
    Cairn__Request request;
    Cairn__SettleTotal total;
    ca_request_settle_total(&request, &total, 0, recipient);
    return ca_testbed_send(bed, &request);
}

static void s_total_expect(ca_testbed_t *bed, const char *recipient, uint64_t total,
                           uint64_t count) {
    Cairn__Response *response =
        ca_testbed_ok(s_total(bed, recipient), CAIRN__RESPONSE__BODY_SETTLE_TOTAL);
    assert(response->settle_total->total == total && response->settle_total->count == count);
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_mark(ca_testbed_t *bed, const uint64_t *payments, size_t count,
                               uint8_t batch) {
    uint8_t ids[8][32], batch_id[32];
    ProtobufCBinaryData bytes[8];
    assert(count <= 8);
    for (size_t i = 0; i < count; i++) {
        s_payment(payments[i], ids[i]);
        bytes[i] = (ProtobufCBinaryData){32, ids[i]};
    }
    memset(batch_id, batch, sizeof batch_id);
    Cairn__Request request;
    Cairn__SettleMark mark;
    ca_request_settle_mark(&request, &mark, 0, bytes, count, batch_id, 32);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_batch(ca_testbed_t *bed, uint32_t limit) {
    Cairn__Request request;
    Cairn__SettleBatch batch;
    ca_request_settle_batch(&request, &batch, 0, limit);
    return ca_testbed_send(bed, &request);
}

//  Enqueue, pending (order, filter, paging), totals, idempotence.
static void s_test_queue(ca_testbed_t *bed) {
    s_total_expect(bed, NULL, 0, 0);
    assert(s_enqueue_ok(bed, 1, "alice", 100, 1000));
    assert(s_enqueue_ok(bed, 1, "bob", 50, 1000));     //  one payment, two recipients
    assert(s_enqueue_ok(bed, 2, "alice", 7, 999));     //  older
    assert(!s_enqueue_ok(bed, 1, "alice", 100000, 5)); //  again: nothing changes
    assert(s_enqueue_ok(bed, 3, "carol", 1, 0));       //  now
    Cairn__Response *response = s_pending(bed, NULL, 0);
    const Cairn__DistributionPage *page = response->settle_pending;
    assert(page->n_distributions == 4 && !page->more);
    uint8_t id[32];
    s_payment(2, id);
    assert(memcmp(page->distributions[0]->payment_id.data, id, 32) == 0);
    assert(streq(page->distributions[1]->recipient, "alice") &&
           page->distributions[1]->amount == 100 && page->distributions[1]->queued_at == 1000);
    assert(streq(page->distributions[2]->recipient, "bob"));
    assert(streq(page->distributions[3]->recipient, "carol") &&
           page->distributions[3]->queued_at > 1700000000);
    assert(page->distributions[0]->batch_id.len == 0 &&
           page->distributions[0]->source_hash.len == 32);
    cairn__response__free_unpacked(response, NULL);
    response = s_pending(bed, "alice", 1);
    assert(response->settle_pending->n_distributions == 1 && response->settle_pending->more);
    assert(response->settle_pending->distributions[0]->amount == 7);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(bed, NULL, 158, 4);
    s_total_expect(bed, "alice", 107, 2);
    s_total_expect(bed, "nobody", 0, 0);

    //  Many distributions: the total is exact.
    uint64_t expected = 0;
    for (uint64_t n = 100; n < 600; n++) {
        assert(s_enqueue_ok(bed, n, "dave", n * 1000003, 2000 + (double)n));
        expected += n * 1000003;
    }
    s_total_expect(bed, "dave", expected, 500);
    s_total_expect(bed, NULL, expected + 158, 504);
}

//  Marking: atomic, reported, no longer pending.
static void s_test_mark(ca_testbed_t *bed) {
    uint64_t one[] = {1};
    Cairn__Response *response =
        ca_testbed_ok(s_mark(bed, one, 1, 0xAA), CAIRN__RESPONSE__BODY_SETTLE_MARK);
    assert(response->settle_mark->settled == 2 && response->settle_mark->n_already_settled == 0);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(bed, "alice", 7, 1);
    s_total_expect(bed, "bob", 0, 0);
    uint64_t both[] = {2, 1};
    response = ca_testbed_ok(s_mark(bed, both, 2, 0xAA), CAIRN__RESPONSE__BODY_SETTLE_MARK);
    uint8_t id[32];
    s_payment(1, id);
    assert(response->settle_mark->settled == 1 && response->settle_mark->n_already_settled == 1);
    assert(memcmp(response->settle_mark->already_settled[0].data, id, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    //  An unknown payment: nothing of the request is marked.
    uint64_t unknown[] = {3, 99999};
    ca_testbed_fails(s_mark(bed, unknown, 2, 0xBB), CAIRN__STATUS__NOT_FOUND, "nothing was marked");
    s_total_expect(bed, "carol", 1, 1);
    //  The mark's batch can be read back.
    uint8_t batch_id[32];
    memset(batch_id, 0xAA, 32);
    Cairn__Request request;
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 0, batch_id, 32);
    response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET);
    const Cairn__SettleBatchReply *batch = response->settle_batch_get;
    assert(batch->distributions == 3 && batch->n_totals == 2 && batch->settled_at > 0);
    assert(streq(batch->totals[0]->recipient, "alice") && batch->totals[0]->total == 107 &&
           batch->totals[0]->count == 2);
    assert(streq(batch->totals[1]->recipient, "bob") && batch->totals[1]->total == 50);
    cairn__response__free_unpacked(response, NULL);
    memset(batch_id, 0xCC, 32);
    ca_request_settle_batch_get(&request, &get, 0, batch_id, 32);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__NOT_FOUND, "no batch");
}

//  Batches: totals, id from the content, read back, limit, nothing left.
static void s_test_batch(ca_testbed_t *bed) {
    Cairn__Response *response = ca_testbed_ok(s_batch(bed, 2), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
    const Cairn__SettleBatchReply *batch = response->settle_batch;
    //  Pending: carol's (queued now) and dave's (queued at 2100 and on): the
    //  oldest two are dave's 100 and 101.
    assert(batch->distributions == 2 && batch->n_totals == 1);
    assert(streq(batch->totals[0]->recipient, "dave") && batch->totals[0]->total == 201 * 1000003 &&
           batch->totals[0]->count == 2);
    uint8_t ids[2 * 32];
    s_payment(101, ids); //  any order gives the same id
    s_payment(100, ids + 32);
    const char *recipients[] = {"dave", "dave"};
    uint64_t amounts[] = {101 * 1000003, 100 * 1000003};
    uint8_t expected[32];
    settlement_batch_id(ids, recipients, amounts, 2, expected);
    assert(batch->batch_id.len == 32 && memcmp(batch->batch_id.data, expected, 32) == 0);
    Cairn__Request request;
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 0, expected, 32);
    Cairn__Response *again =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET);
    assert(again->settle_batch_get->distributions == 2 &&
           again->settle_batch_get->totals[0]->total == 201 * 1000003 &&
           again->settle_batch_get->settled_at == batch->settled_at);
    cairn__response__free_unpacked(again, NULL);
    cairn__response__free_unpacked(response, NULL);
    //  A mark may not add to a batch SettleBatch made.
    uint64_t carol[] = {3};
    Cairn__SettleMark mark;
    uint8_t payment[32];
    s_payment(3, payment);
    ProtobufCBinaryData bytes = {32, payment};
    ca_request_settle_mark(&request, &mark, 0, &bytes, 1, expected, 32);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__CONFLICT,
                     "made by SettleBatch");
    //  The rest: all of it in one batch, then nothing is pending.
    response = ca_testbed_ok(s_batch(bed, 0), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
    assert(response->settle_batch->distributions == 499 && response->settle_batch->n_totals == 2);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(bed, NULL, 0, 0);
    ca_testbed_fails(s_batch(bed, 0), CAIRN__STATUS__NOT_FOUND, "nothing is pending");
    response = ca_testbed_ok(s_mark(bed, carol, 1, 0xAB), CAIRN__RESPONSE__BODY_SETTLE_MARK);
    assert(response->settle_mark->settled == 0 && response->settle_mark->n_already_settled == 1);
    cairn__response__free_unpacked(response, NULL);
}

//  The same pending set in two queues gives the same batch id.
static void s_test_reproducible(void) {
    uint8_t ids[2][32];
    for (int round = 0; round < 2; round++) {
        ca_testbed_t *bed = ca_testbed_new(&settlement_store_def);
        for (uint64_t n = 0; n < 20; n++) { //  enqueued in another order each round
            uint64_t k = round ? 19 - n : n;
            assert(s_enqueue_ok(bed, k, k % 3 ? "erin" : "frank", k + 1, 5000 + (double)round));
        }
        Cairn__Response *response =
            ca_testbed_ok(s_batch(bed, 0), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
        assert(response->settle_batch->distributions == 20);
        memcpy(ids[round], response->settle_batch->batch_id.data, 32);
        cairn__response__free_unpacked(response, NULL);
        ca_testbed_destroy(&bed);
    }
    assert(memcmp(ids[0], ids[1], 32) == 0);
}

//  A total over 2^64-1 is an error, never a wrapped number; nothing is
//  settled by a batch whose total would overflow.
static void s_test_overflow(void) {
    ca_testbed_t *bed = ca_testbed_new(&settlement_store_def);
    assert(s_enqueue_ok(bed, 1, "grace", UINT64_MAX - 1, 1));
    s_total_expect(bed, NULL, UINT64_MAX - 1, 1); //  over 2^63: no sign trouble
    assert(s_enqueue_ok(bed, 2, "grace", 1, 2));
    s_total_expect(bed, NULL, UINT64_MAX, 2);
    assert(s_enqueue_ok(bed, 3, "heidi", 1, 3));
    ca_testbed_fails(s_total(bed, NULL), CAIRN__STATUS__INTERNAL, "over 2^64-1");
    s_total_expect(bed, "heidi", 1, 1);
    assert(s_enqueue_ok(bed, 4, "grace", 5, 4));
    ca_testbed_fails(s_total(bed, "grace"), CAIRN__STATUS__INTERNAL, "settle part of the queue");
    ca_testbed_fails(s_batch(bed, 0), CAIRN__STATUS__INTERNAL, "nothing was settled");
    Cairn__Response *response = ca_testbed_ok(s_batch(bed, 3), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
    assert(response->settle_batch->distributions == 3 && response->settle_batch->n_totals == 2);
    assert(response->settle_batch->totals[0]->total == UINT64_MAX);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(bed, NULL, 5, 1);
    ca_testbed_destroy(&bed);
}

static void s_test_last(ca_testbed_t *bed) {
    Cairn__Request request;
    Cairn__SettleLastGet get;
    Cairn__SettleLastSet set;
    ca_request_settle_last_get(&request, &get, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_LAST_GET);
    assert(!response->settle_last_get->set && response->settle_last_get->time == 0);
    cairn__response__free_unpacked(response, NULL);
    for (int i = 0; i < 2; i++) {
        ca_request_settle_last_set(&request, &set, 0, 1700000000.25 + i);
        response =
            ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_LAST_SET);
        assert(response->settle_last_set->set);
        cairn__response__free_unpacked(response, NULL);
    }
    ca_request_settle_last_get(&request, &get, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SETTLE_LAST_GET);
    assert(response->settle_last_get->set && response->settle_last_get->time == 1700000001.25);
    cairn__response__free_unpacked(response, NULL);
    ca_request_settle_last_set(&request, &set, 0, -1);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "time");
    ca_request_settle_last_set(&request, &set, 0, INFINITY);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "time");
}

static void s_test_bad_input(ca_testbed_t *bed) {
    uint8_t id[33] = {0}, source[32] = {0};
    Cairn__Request request;
    Cairn__SettleEnqueue enqueue;
    Cairn__Distribution d;
    ca_request_settle_enqueue(&request, &enqueue, 0, NULL);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "no distribution");
    ca_request_distribution(&d, id, 31, "ivan", 1, source, 32, 0);
    ca_request_settle_enqueue(&request, &enqueue, 0, &d);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "payment_id");
    ca_request_distribution(&d, id, 32, "ivan", 1, source, 0, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "source_hash");
    ca_request_distribution(&d, id, 32, "", 1, source, 32, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "recipient");
    ca_request_distribution(&d, id, 32, "../etc", 1, source, 32, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "recipient");
    ca_request_distribution(&d, id, 32, "ivan", 0, source, 32, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "amount");
    ca_request_distribution(&d, id, 32, "ivan", 1, source, 32, NAN);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "queued_at");
    ca_request_distribution(&d, id, 32, "ivan", 1, source, 32, 0);
    d.settled_at = 5;
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "set by the node");
    ca_testbed_fails(s_enqueue(bed, 1, "ivan", 0, 0), CAIRN__STATUS__INVALID, "amount");

    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 0, NULL, CA_SETTLE_LIST_MAX + 1);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "limit");
    ca_request_settle_pending(&request, &pending, 0, "bad peer", 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "recipient");
    ca_request_settle_pending(&request, &pending, 0, NULL, 0);
    ca_request_settle_pending_after(&pending, id, 32, NULL);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "together");
    ca_request_settle_pending_after(&pending, id, 16, "ivan");
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "after_payment_id");
    ca_request_settle_pending_after(&pending, id, 32, "bad peer");
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "after_recipient");
    ca_request_settle_pending_after(&pending, id, 32, "nobody-here");
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__NOT_FOUND, "previous page");
    ca_testbed_fails(s_total(bed, "bad/peer"), CAIRN__STATUS__INVALID, "recipient");
    ca_testbed_fails(s_batch(bed, CA_SETTLE_BATCH_MAX + 1), CAIRN__STATUS__INVALID, "limit");

    Cairn__SettleMark mark;
    ProtobufCBinaryData ids[2] = {{32, id}, {32, id}};
    ca_request_settle_mark(&request, &mark, 0, ids, 1, source, 31);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "batch_id");
    ca_request_settle_mark(&request, &mark, 0, ids, 0, source, 32);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "payment ids");
    ca_request_settle_mark(&request, &mark, 0, ids, 2, source, 32);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "repeats");
    ids[1].len = 33;
    ca_request_settle_mark(&request, &mark, 0, ids, 2, source, 32);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "payment_ids[1]");
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 0, id, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "batch_id");
}

void settlement_test(bool verbose) {
    if (verbose)
        printf(" * settlement: ");
    ca_testbed_t *bed = ca_testbed_new(&settlement_store_def);
    s_test_queue(bed);
    s_test_mark(bed);
    s_test_batch(bed);
    s_test_last(bed);
    s_test_bad_input(bed);
    ca_testbed_destroy(&bed);
    s_test_reproducible();
    s_test_overflow();
    if (verbose)
        printf("OK\n");
}

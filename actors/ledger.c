/*  =========================================================================
    ledger - payment channels with peers, and the signed payments they carry

    What it owns: the "ledger" schema. `ledger_channels` holds one channel
    per peer (state, my balance, their balance, nonce, last update),
    `ledger_adjustments` logs every change of a channel's sum (its opening
    deposit and each LedgerAdjust), `ledger_payments` the payments received
    on the channels and `ledger_payment_shares` the provenance each payment
    pays for (root hash and weight, in the order given).

    Requests: schemas/ledger.proto.

    Money rules, each a guard inside the writer's transaction, so they hold
    whatever else is queued: an update's nonce must be greater than the
    stored one (CONFLICT, nothing changes) and its balances must add up to
    the stored sum (INVALID); a payment needs an open channel (CONFLICT
    otherwise) and moves its amount from their_balance
    to my_balance with `their_balance >= amount` in the UPDATE's WHERE, so
    two payments racing for the same balance can never both pass; a
    payment id seen before is CONFLICT before anything moves. Every write
    is durable (synchronous=FULL: an acknowledged payment survives power
    loss) and served by worker 0, so one connection's writes commit in the
    order it sent them.

    Amounts: the wire carries uint64, SQLite INTEGER is signed 64-bit. The
    ledger keeps every balance, amount, nonce and the sum of a channel's two
    balances within 0..2^63-1 (LEDGER_AMOUNT_MAX) and refuses anything
    larger as INVALID, so the SQL arithmetic of a guard can never overflow
    and a stored number always reads back as the same uint64. Provenance
    weights are only stored, never added: they keep the uint64's bits.

    Two files, one store. This one owns the schema, the channels and
    their log, the handler table and the self-test that drives every
    handler.
    ledger_payments.c owns the payments: the signature check (over the
    canonical encoding of actors/wire/ledger_encoding.c), paying, the
    pending payments with their shares, and clearing (its prose says how
    a payment is checked and stored). The
    table's payment rows point into it; it takes from this file the checks
    and channel guards both halves share (ledger_peer_ok,
    ledger_channel_known, ledger_write_channel_exists, ledger_read_failed).
    It keeps no state: it runs on this store's worker threads, with their
    connections, and nothing else calls it.

    Pages: LedgerList and LedgerPending answer a page at a time (limits
    in ledger.h: a limit of 0 asks for the default, one above the most is
    INVALID) and set `more` when another page follows, found by reading
    one row past the page. The cursor is the last item of the previous
    page: a peer id for LedgerList (channels with a greater one follow), a
    payment id for LedgerPending, turned into its arrival seq (payments
    with a greater seq follow). A cursor payment cleared since still marks
    its place; one unknown, or on another channel, is NOT_FOUND rather than
    an empty page, so a client with a wrong id learns it instead of
    thinking it is done.
    ========================================================================= */

#include "ledger.h"
#include "ca_clock.h"
#include "ledger_payments.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_names.h"
#include "ca_validate.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#define LEDGER_REASON_MAX 256

static const char *const s_migrations[] = {
    //  1: channels, the log of their sums, payments and their provenance
    "CREATE TABLE ledger_channels ("
    "  peer_id TEXT PRIMARY KEY,"
    "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3)," //  cairn.ChannelState
    "  my_balance INTEGER NOT NULL CHECK (typeof(my_balance) = 'integer' AND my_balance >= 0),"
    "  their_balance INTEGER NOT NULL"
    "   CHECK (typeof(their_balance) = 'integer' AND their_balance >= 0),"
    "  nonce INTEGER NOT NULL CHECK (nonce >= 0),"
    "  last_update REAL NOT NULL,"
    "  created_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX ledger_channels_by_state ON ledger_channels (state, peer_id);"
    "CREATE TABLE ledger_adjustments ("
    "  seq INTEGER PRIMARY KEY,"
    "  peer_id TEXT NOT NULL,"
    "  my_delta INTEGER NOT NULL,"
    "  their_delta INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  at REAL NOT NULL"
    ");"
    "CREATE INDEX ledger_adjustments_by_peer ON ledger_adjustments (peer_id, seq);"
    "CREATE TABLE ledger_payments ("
    "  seq INTEGER PRIMARY KEY," //  arrival order: pending payments come oldest first
    "  id BLOB NOT NULL UNIQUE CHECK (length(id) = 32),"
    "  channel_peer TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  recipient TEXT NOT NULL,"
    "  query_hash BLOB NOT NULL CHECK (length(query_hash) = 32),"
    "  timestamp REAL NOT NULL,"
    "  signature BLOB NOT NULL CHECK (length(signature) = 64),"
    "  cleared INTEGER NOT NULL DEFAULT 0,"
    "  received_at REAL NOT NULL"
    ");"
    "CREATE INDEX ledger_payments_pending ON ledger_payments (channel_peer, seq)"
    "  WHERE cleared = 0;"
    "CREATE TABLE ledger_payment_shares ("
    "  payment_seq INTEGER NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  root BLOB NOT NULL CHECK (length(root) = 32),"
    "  weight INTEGER NOT NULL," //  the uint64's bits
    "  PRIMARY KEY (payment_seq, position)"
    ") WITHOUT ROWID;",
    //  2: the expiry a v3 payment signs (schemas/ledger.proto, Payment);
    //  payments stored before it were v2 and keep 0.
    "ALTER TABLE ledger_payments ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;",
};

const ca_schema_t ledger_schema = {
    .store = "ledger",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

#define CHANNEL_COLUMNS      "peer_id, state, my_balance, their_balance, nonce, last_update, created_at"
#define CHANNEL_COLUMN_COUNT 7

//  The ledger_* functions of this file are shared with ledger_payments.c
//  (ledger_payments.h).

//  ---- checks on input ----------------------------------------------------------------

bool ledger_peer_ok(const char *field, const char *peer_id, ca_reply_t *reply) {
    const char *problem = ca_validate_peer_id(peer_id ? peer_id : "");
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s: %s", field, problem);
    return !problem;
}

static bool s_amount_ok(const char *field, uint64_t amount, ca_reply_t *reply) {
    if (amount > LEDGER_AMOUNT_MAX) {
        ca_reply_error(reply, CA_INVALID, "%s is %llu; the ledger holds at most %lld (2^63-1)",
                       field, (unsigned long long)amount, (long long)LEDGER_AMOUNT_MAX);
        return false;
    }
    return true;
}

static bool s_state_ok(int state, ca_reply_t *reply) {
    if (state < CAIRN__CHANNEL_STATE__CHANNEL_OPENING ||
        state > CAIRN__CHANNEL_STATE__CHANNEL_CLOSED) {
        ca_reply_error(reply, CA_INVALID,
                       "state %d is not a channel state; use 0 opening, 1 open, 2 closing, "
                       "3 closed",
                       state);
        return false;
    }
    return true;
}

//  Balances within the ledger's range, their sum too.
static bool s_balances_ok(uint64_t mine, uint64_t theirs, ca_reply_t *reply) {
    if (!s_amount_ok("my_balance", mine, reply) || !s_amount_ok("their_balance", theirs, reply))
        return false;
    if (mine > LEDGER_AMOUNT_MAX - theirs) {
        ca_reply_error(reply, CA_INVALID,
                       "the balances add up to more than %lld (2^63-1), the most a channel "
                       "holds",
                       (long long)LEDGER_AMOUNT_MAX);
        return false;
    }
    return true;
}

//  ---- channels: rows and answers ---------------------------------------------------------

static Cairn__PaymentChannel *s_channel_new(ca_reply_t *reply) {
    Cairn__PaymentChannel *channel =
        (Cairn__PaymentChannel *)ca_reply_alloc(reply, sizeof(Cairn__PaymentChannel));
    cairn__payment_channel__init(channel);
    return channel;
}

static Cairn__PaymentChannel *s_channel_from_stmt(sqlite3_stmt *stmt, ca_reply_t *reply) {
    Cairn__PaymentChannel *channel = s_channel_new(reply);
    const char *peer_id = (const char *)sqlite3_column_text(stmt, 0);
    channel->peer_id = ca_reply_strdup(reply, peer_id ? peer_id : "");
    channel->state = (Cairn__ChannelState)sqlite3_column_int(stmt, 1);
    channel->my_balance = (uint64_t)sqlite3_column_int64(stmt, 2);
    channel->their_balance = (uint64_t)sqlite3_column_int64(stmt, 3);
    channel->nonce = (uint64_t)sqlite3_column_int64(stmt, 4);
    channel->last_update = sqlite3_column_double(stmt, 5);
    channel->created_at = sqlite3_column_double(stmt, 6);
    return channel;
}

//  A REAL read back through RETURNING may arrive as an integer.
static double s_real(const Cairn__Internal__SqlValue *value) {
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return (double)value->integer;
    return value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL ? value->real : 0;
}

//  The channel row statement `index` of the write returned; NULL (reply
//  set) when the writer's answer lacks it.
static Cairn__PaymentChannel *s_channel_from_write(const Cairn__Internal__WriteReply *write,
                                                   size_t index, ca_reply_t *reply) {
    const Cairn__Internal__StatementResult *result =
        index < write->n_results ? write->results[index] : NULL;
    if (!result || result->n_rows != 1 || result->rows[0]->n_values != CHANNEL_COLUMN_COUNT) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the channel; retry");
        return NULL;
    }
    Cairn__Internal__SqlValue **values = result->rows[0]->values;
    Cairn__PaymentChannel *channel = s_channel_new(reply);
    channel->peer_id = ca_reply_strdup(reply, values[0]->text ? values[0]->text : "");
    channel->state = (Cairn__ChannelState)values[1]->integer;
    channel->my_balance = (uint64_t)values[2]->integer;
    channel->their_balance = (uint64_t)values[3]->integer;
    channel->nonce = (uint64_t)values[4]->integer;
    channel->last_update = s_real(values[5]);
    channel->created_at = s_real(values[6]);
    return channel;
}

static void s_answer_channel(ca_reply_t *reply, Cairn__Response__BodyCase body,
                             Cairn__PaymentChannel *channel) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    switch (body) {
        case CAIRN__RESPONSE__BODY_LEDGER_OPEN:
            response->ledger_open = channel;
            break;
        case CAIRN__RESPONSE__BODY_LEDGER_GET:
            response->ledger_get = channel;
            break;
        case CAIRN__RESPONSE__BODY_LEDGER_UPDATE:
            response->ledger_update = channel;
            break;
        default:
            response->ledger_adjust = channel;
            break;
    }
}

//  ---- channels: guards and reads that the payments use too -------------------------------

//  Guard: the channel of `peer_id` exists (NOT_FOUND otherwise).
void ledger_write_channel_exists(ca_write_t *write, const char *peer_id) {
    ca_write_statement(write, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
                       "no payment channel with this peer; open one first (LedgerOpen)");
    ca_write_text(write, peer_id);
}

//  A read failed: the reply says what could not be read, and to retry.
void ledger_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  Whether the channel of `peer_id` exists; NOT_FOUND (reply set) if not.
bool ledger_channel_known(ca_store_t *store, const char *peer_id, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1", reply);
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no payment channel with peer %s; open one first (cairn ledger open)",
                       peer_id);
    else if (rc != SQLITE_ROW)
        ledger_read_failed(reply, stmt, rc, "read the channel");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

//  ---- LedgerOpen ----------------------------------------------------------------------

static void s_ledger_open(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PaymentChannel *channel = request->ledger_open->channel;
    if (!channel) {
        ca_reply_error(reply, CA_INVALID, "the request has no channel; send one");
        return;
    }
    if (!ledger_peer_ok("channel.peer_id", channel->peer_id, reply) ||
        !s_state_ok(channel->state, reply) ||
        !s_balances_ok(channel->my_balance, channel->their_balance, reply) ||
        !s_amount_ok("channel.nonce", channel->nonce, reply))
        return;
    double now = ca_now_seconds_ms();
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    ca_write_statement(write, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "a payment channel with this peer exists; update it (LedgerUpdate) or "
                       "adjust its balances (LedgerAdjust)");
    ca_write_text(write, channel->peer_id);
    ca_write_statement(write,
                       "INSERT INTO ledger_adjustments (peer_id, my_delta, their_delta, reason, at)"
                       " VALUES (?1, ?2, ?3, 'open', ?4)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the channel's opening was not logged; retry");
    ca_write_text(write, channel->peer_id);
    ca_write_int(write, (int64_t)channel->my_balance);
    ca_write_int(write, (int64_t)channel->their_balance);
    ca_write_real(write, now);
    ca_write_statement(write,
                       "INSERT INTO ledger_channels (" CHANNEL_COLUMNS ")"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING " CHANNEL_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the channel was not stored; retry");
    ca_write_want_rows(write);
    ca_write_text(write, channel->peer_id);
    ca_write_int(write, channel->state);
    ca_write_int(write, (int64_t)channel->my_balance);
    ca_write_int(write, (int64_t)channel->their_balance);
    ca_write_int(write, (int64_t)channel->nonce);
    ca_write_real(write, now);
    ca_store_write(store, &write, reply);
}

static void s_ledger_opened(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__PaymentChannel *channel = s_channel_from_write(write, 2, reply);
    if (channel)
        s_answer_channel(reply, CAIRN__RESPONSE__BODY_LEDGER_OPEN, channel);
}

//  ---- LedgerGet, LedgerList ------------------------------------------------------------

static void s_ledger_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *peer_id = request->ledger_get->peer_id;
    if (!ledger_peer_ok("peer_id", peer_id, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT " CHANNEL_COLUMNS " FROM ledger_channels WHERE peer_id = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        s_answer_channel(reply, CAIRN__RESPONSE__BODY_LEDGER_GET, s_channel_from_stmt(stmt, reply));
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no payment channel with peer %s; open one first (cairn ledger open)",
                       peer_id);
    else
        ledger_read_failed(reply, stmt, rc, "read the channel");
    sqlite3_reset(stmt);
}

static void s_ledger_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerList *list = request->ledger_list;
    const char *after = list->after_peer_id ? list->after_peer_id : "";
    size_t limit = ca_page_limit(list->limit, LEDGER_LIST_DEFAULT, LEDGER_LIST_MAX,
                                 "channels per page", "after_peer_id", reply);
    if (!limit || (*after && !ledger_peer_ok("after_peer_id", after, reply)))
        return;
    //  Peer ids are never empty, so "" as the cursor starts at the first.
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT " CHANNEL_COLUMNS " FROM ledger_channels"
                                          " WHERE state = 1 AND peer_id > ?1 ORDER BY peer_id"
                                          " LIMIT ?2",
                                          reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1); //  one more tells whether more follow
    Cairn__PaymentChannel **channels = NULL;
    size_t count = 0;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        if (!ca_reply_realloc(reply, &channels, count + 1, sizeof *channels))
            break; //  rc is SQLITE_ROW: answered
        channels[count++] = s_channel_from_stmt(stmt, reply);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ledger_read_failed(reply, stmt, rc, "list the channels");
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE) {
        Cairn__PaymentChannelPage *page =
            (Cairn__PaymentChannelPage *)ca_reply_alloc(reply, sizeof(Cairn__PaymentChannelPage));
        cairn__payment_channel_page__init(page);
        page->more = more;
        page->n_channels = count;
        page->channels = count ? (Cairn__PaymentChannel **)ca_reply_memdup(reply, channels,
                                                                           count * sizeof *channels)
                               : NULL;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_LEDGER_LIST;
        response->ledger_list = page;
    }
    free(channels);
}

//  ---- LedgerUpdate ------------------------------------------------------------------------

static void s_ledger_update(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerUpdate *update = request->ledger_update;
    if (!ledger_peer_ok("peer_id", update->peer_id, reply) || !s_state_ok(update->state, reply) ||
        !s_balances_ok(update->my_balance, update->their_balance, reply) ||
        !s_amount_ok("nonce", update->nonce, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    ledger_write_channel_exists(write, update->peer_id);
    ca_write_statement(write, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1 AND nonce >= ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "the nonce is not greater than the channel's; this update is stale or "
                       "replayed and changed nothing (cairn ledger get shows the current nonce)");
    ca_write_text(write, update->peer_id);
    ca_write_int(write, (int64_t)update->nonce);
    ca_write_statement(write,
                       "SELECT 1 FROM ledger_channels WHERE peer_id = ?1"
                       " AND my_balance + their_balance = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_INVALID,
                       "the balances do not add up to the channel's sum; money moves in or out "
                       "only through a deposit or withdrawal (LedgerAdjust)");
    ca_write_text(write, update->peer_id);
    ca_write_int(write, (int64_t)(update->my_balance + update->their_balance));
    ca_write_statement(
        write,
        "UPDATE ledger_channels SET state = ?2, my_balance = ?3, their_balance = ?4,"
        " nonce = ?5, last_update = ?6 WHERE peer_id = ?1 RETURNING " CHANNEL_COLUMNS,
        CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
        "the channel was not updated; retry");
    ca_write_want_rows(write);
    ca_write_text(write, update->peer_id);
    ca_write_int(write, update->state);
    ca_write_int(write, (int64_t)update->my_balance);
    ca_write_int(write, (int64_t)update->their_balance);
    ca_write_int(write, (int64_t)update->nonce);
    ca_write_real(write, ca_now_seconds_ms());
    ca_store_write(store, &write, reply);
}

static void s_ledger_updated(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__PaymentChannel *channel = s_channel_from_write(write, 3, reply);
    if (channel)
        s_answer_channel(reply, CAIRN__RESPONSE__BODY_LEDGER_UPDATE, channel);
}

//  ---- LedgerAdjust -----------------------------------------------------------------------

//  SQL true when `column` + `delta` (a parameter within +-(2^63-1)) stays
//  in 0..2^63-1, computed without overflowing.
#define IN_RANGE(column, delta)                                                                    \
    "(CASE WHEN " delta " >= 0 THEN " column " <= 9223372036854775807 - " delta " ELSE " column    \
    " >= -" delta " END)"

static void s_ledger_adjust(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerAdjust *adjust = request->ledger_adjust;
    if (!ledger_peer_ok("peer_id", adjust->peer_id, reply))
        return;
    size_t reason_len = adjust->reason ? strlen(adjust->reason) : 0;
    if (reason_len < 1 || reason_len > LEDGER_REASON_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "reason is %zu bytes; give 1..%d bytes saying why the money moves",
                       reason_len, LEDGER_REASON_MAX);
        return;
    }
    if (adjust->my_delta == INT64_MIN || adjust->their_delta == INT64_MIN) {
        ca_reply_error(reply, CA_INVALID, "a delta of -2^63 leaves every balance below zero");
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    ledger_write_channel_exists(write, adjust->peer_id);
    //  The sum check comes last in the WHERE: once both balances are known
    //  in range, its arithmetic is exact.
    ca_write_statement(
        write,
        "UPDATE ledger_channels SET my_balance = my_balance + ?2,"
        " their_balance = their_balance + ?3, last_update = ?4"
        " WHERE peer_id = ?1 AND " IN_RANGE("my_balance", "?2") " AND " IN_RANGE(
            "their_balance", "?3") " AND (my_balance + ?2) <= 9223372036854775807 -"
                                   " (their_balance + ?3) RETURNING " CHANNEL_COLUMNS,
        CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INVALID,
        "the adjustment would take a balance below zero, or a balance or the channel's sum "
        "above 2^63-1; nothing changed");
    ca_write_want_rows(write);
    ca_write_text(write, adjust->peer_id);
    ca_write_int(write, adjust->my_delta);
    ca_write_int(write, adjust->their_delta);
    ca_write_real(write, ca_now_seconds_ms());
    ca_write_statement(write,
                       "INSERT INTO ledger_adjustments (peer_id, my_delta, their_delta, reason, at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the adjustment was not logged; nothing changed: retry");
    ca_write_text(write, adjust->peer_id);
    ca_write_int(write, adjust->my_delta);
    ca_write_int(write, adjust->their_delta);
    ca_write_text(write, adjust->reason);
    ca_write_real(write, ca_now_seconds_ms());
    ca_store_write(store, &write, reply);
}

static void s_ledger_adjusted(ca_store_t *store, const Cairn__Request *request,
                              const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__PaymentChannel *channel = s_channel_from_write(write, 1, reply);
    if (channel)
        s_answer_channel(reply, CAIRN__RESPONSE__BODY_LEDGER_ADJUST, channel);
}

//  ---- LedgerHistory ------------------------------------------------------------------------

static Cairn__Adjustment *s_adjustment_from_stmt(sqlite3_stmt *stmt, ca_reply_t *reply) {
    Cairn__Adjustment *entry = (Cairn__Adjustment *)ca_reply_alloc(reply, sizeof *entry);
    cairn__adjustment__init(entry);
    entry->seq = (uint64_t)sqlite3_column_int64(stmt, 0);
    entry->my_delta = sqlite3_column_int64(stmt, 1);
    entry->their_delta = sqlite3_column_int64(stmt, 2);
    const char *reason = (const char *)sqlite3_column_text(stmt, 3);
    entry->reason = ca_reply_strdup(reply, reason ? reason : "");
    entry->at = sqlite3_column_double(stmt, 4);
    return entry;
}

static void s_ledger_history(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerHistory *history = request->ledger_history;
    if (!ledger_peer_ok("peer_id", history->peer_id, reply))
        return;
    size_t limit = ca_page_limit(history->limit, LEDGER_HISTORY_MAX, LEDGER_HISTORY_MAX,
                                 "log entries per page", "after_seq", reply);
    if (!limit)
        return;
    if (history->after_seq > (uint64_t)INT64_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "after_seq is above 2^63-1; give the seq of the last entry of a page");
        return;
    }
    if (!ledger_channel_known(store, history->peer_id, reply))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT seq, my_delta, their_delta, reason, at FROM ledger_adjustments"
                         " WHERE peer_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                         reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, history->peer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)history->after_seq);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1);
    Cairn__AdjustmentPage *page = (Cairn__AdjustmentPage *)ca_reply_alloc(reply, sizeof *page);
    cairn__adjustment_page__init(page);
    page->adjustments = (Cairn__Adjustment **)ca_reply_alloc(reply, limit * sizeof(void *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && page->n_adjustments < limit)
        page->adjustments[page->n_adjustments++] = s_adjustment_from_stmt(stmt, reply);
    page->more = rc == SQLITE_ROW;
    bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    if (!ok)
        ledger_read_failed(reply, stmt, rc, "read the channel's history");
    sqlite3_reset(stmt);
    if (!ok)
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_LEDGER_HISTORY;
    response->ledger_history = page;
}

//  ---- the store -------------------------------------------------------------------------

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_LEDGER_OPEN, "ledger_open", s_ledger_open, s_ledger_opened,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_LEDGER_GET, "ledger_get", s_ledger_get, NULL, 0},
    {CAIRN__REQUEST__BODY_LEDGER_UPDATE, "ledger_update", s_ledger_update, s_ledger_updated,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_LEDGER_LIST, "ledger_list", s_ledger_list, NULL, 0},
    {CAIRN__REQUEST__BODY_LEDGER_ADJUST, "ledger_adjust", s_ledger_adjust, s_ledger_adjusted,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_LEDGER_HISTORY, "ledger_history", s_ledger_history, NULL, 0},
    {CAIRN__REQUEST__BODY_LEDGER_PAY, "ledger_pay", ledger_payments_pay, ledger_payments_paid,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_LEDGER_PENDING, "ledger_pending", ledger_payments_pending, NULL, 0},
    {CAIRN__REQUEST__BODY_LEDGER_CLEAR, "ledger_clear", ledger_payments_clear,
     ledger_payments_cleared, CA_ROUTE_ONE_WORKER},
};

const ca_store_def_t ledger_store_def = {
    .name = "ledger",
    .schema = &ledger_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"
#include "messages_schema.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

//  ---- fixtures: the requests of this self-test and of tests/e2e_ledger.c -----------

Cairn__Response *ledger_fixture_open(ca_caller_t *caller, const char *peer, uint64_t mine,
                                     uint64_t theirs) {
    Cairn__PaymentChannel channel;
    ca_request_ledger_channel_init(&channel, peer, CAIRN__CHANNEL_STATE__CHANNEL_OPEN, mine, theirs,
                                   0);
    Cairn__Request request;
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 0, &channel);
    return ca_caller_call(caller, &request);
}

Cairn__Response *ledger_fixture_update(ca_caller_t *caller, const char *peer, uint64_t nonce,
                                       uint64_t mine, uint64_t theirs) {
    Cairn__Request request;
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, peer, nonce, CAIRN__CHANNEL_STATE__CHANNEL_OPEN,
                             mine, theirs);
    return ca_caller_call(caller, &request);
}

Cairn__Response *ledger_fixture_adjust(ca_caller_t *caller, const char *peer, int64_t mine,
                                       int64_t theirs) {
    Cairn__Request request;
    Cairn__LedgerAdjust adjust;
    ca_request_ledger_adjust(&request, &adjust, 0, peer, mine, theirs, LEDGER_FIXTURE_REASON);
    return ca_caller_call(caller, &request);
}

void ledger_fixture_expect_channel(ca_caller_t *caller, const char *peer, uint64_t mine,
                                   uint64_t theirs, uint64_t nonce) {
    Cairn__Request request;
    Cairn__LedgerGet get;
    ca_request_ledger_get(&request, &get, 0, peer);
    Cairn__Response *response =
        ca_response_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_GET);
    const Cairn__PaymentChannel *channel = response->ledger_get;
    if (channel->my_balance != mine || channel->their_balance != theirs ||
        channel->nonce != nonce) {
        fprintf(stderr,
                "channel %s: %" PRIu64 "/%" PRIu64 " nonce %" PRIu64 ", wanted %" PRIu64 "/%" PRIu64
                " nonce %" PRIu64 "\n",
                peer, channel->my_balance, channel->their_balance, channel->nonce, mine, theirs,
                nonce);
        abort();
    }
    CA_CHECK(streq(channel->peer_id, peer));
    CA_CHECK(channel->created_at > 0 && channel->last_update >= channel->created_at);
    cairn__response__free_unpacked(response, NULL);
}

void ledger_fixture_update_rules(ca_caller_t *caller, const char *peer, uint64_t nonce,
                                 uint64_t mine, uint64_t theirs) {
    CA_CHECK(nonce > 1 && mine + theirs > 0);
    cairn__response__free_unpacked(
        ca_response_ok(ledger_fixture_update(caller, peer, nonce, mine, theirs),
                       CAIRN__RESPONSE__BODY_LEDGER_UPDATE),
        NULL);
    //  The same nonce (a replay), a lower one and nonce 0 are stale.
    ca_response_fails(ledger_fixture_update(caller, peer, nonce, mine, theirs),
                      CAIRN__STATUS__CONFLICT, "stale or replayed");
    ca_response_fails(ledger_fixture_update(caller, peer, nonce - 1, theirs, mine),
                      CAIRN__STATUS__CONFLICT, "stale or replayed");
    ca_response_fails(ledger_fixture_update(caller, peer, 0, theirs, mine), CAIRN__STATUS__CONFLICT,
                      "stale or replayed");
    //  Balances that do not keep the sum, though the nonce is fresh.
    ca_response_fails(ledger_fixture_update(caller, peer, nonce + 1, mine, theirs + 1),
                      CAIRN__STATUS__INVALID, "add up");
    ca_response_fails(ledger_fixture_update(caller, peer, nonce + 1, 0, 0), CAIRN__STATUS__INVALID,
                      "add up");
    ca_response_fails(ledger_fixture_update(caller, "nobody", nonce + 1, mine, theirs),
                      CAIRN__STATUS__NOT_FOUND, "open one");
    ledger_fixture_expect_channel(caller, peer, mine, theirs, nonce);
}

void ledger_fixture_adjust_bounds(ca_caller_t *caller, const char *peer, uint64_t mine,
                                  uint64_t theirs, uint64_t nonce) {
    CA_CHECK(mine < INT64_MAX && theirs < INT64_MAX);
    ca_response_fails(ledger_fixture_adjust(caller, peer, -(int64_t)mine - 1, 0),
                      CAIRN__STATUS__INVALID, "below zero");
    ca_response_fails(ledger_fixture_adjust(caller, peer, 0, -(int64_t)theirs - 1),
                      CAIRN__STATUS__INVALID, "below zero");
    ca_response_fails(ledger_fixture_adjust(caller, peer, INT64_MAX, 0), CAIRN__STATUS__INVALID,
                      "2^63-1");
    ca_response_fails(ledger_fixture_adjust(caller, peer, INT64_MIN, 0), CAIRN__STATUS__INVALID,
                      "-2^63");
    ca_response_fails(ledger_fixture_adjust(caller, "nobody", 1, 0), CAIRN__STATUS__NOT_FOUND,
                      "open one");
    ledger_fixture_expect_channel(caller, peer, mine, theirs, nonce);
}

//  ---- the self-test ------------------------------------------------------------------

//  The testbed node's peer id: the payee its payments are signed for.
#define TEST_PAYEE "7e57000000000000000000000000000000000000000000000000000000007e57"

//  The id of test payment number n.
static void s_payment_id(int n, uint8_t id[32]) {
    memset(id, 0, 32);
    memcpy(id, &n, sizeof n);
}

//  Payment number n of `amount` from `peer`, signed with `secret` (NULL:
//  a signature of zeros) in encoding `version` (2 or 3, for TEST_PAYEE),
//  expiring at `expires_at`, with two provenance shares.
static Cairn__Response *s_pay_signed(ca_caller_t *caller, const char *peer, int n, uint64_t amount,
                                     const uint8_t *secret, int version, uint64_t expires_at) {
    uint8_t id[32], query[32], roots[2][32], signature[64] = {0};
    s_payment_id(n, id);
    memset(query, 'q', 32);
    memset(roots[0], 'a', 32);
    memset(roots[1], 'b', 32);
    Cairn__Payment payment;
    ca_request_payment_init(&payment, id, 32, peer, amount, "author-1", query, 32, 1700000000.25);
    Cairn__ProvenanceShare shares[2], *share_list[2] = {&shares[0], &shares[1]};
    for (int i = 0; i < 2; i++) {
        cairn__provenance_share__init(&shares[i]);
        shares[i].root.data = roots[i];
        shares[i].root.len = 32;
        shares[i].weight = (uint64_t)(i + 1) << 62; //  above 2^63 for i = 1
    }
    payment.provenance = share_list;
    payment.n_provenance = 2;
    payment.expires_at = expires_at;
    if (secret) {
        size_t size;
        uint8_t *message = version == 2 ? ledger_payment_encode_v2(&payment, &size)
                                        : ledger_payment_encode(&payment, TEST_PAYEE, &size);
        crypto_sign_detached(signature, NULL, message, size, secret);
        free(message);
    }
    payment.signature.data = signature;
    payment.signature.len = 64;
    Cairn__Request request;
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 0, &payment);
    return ca_caller_call(caller, &request);
}

//  The same, v3, valid for an hour.
static Cairn__Response *s_pay(ca_caller_t *caller, const char *peer, int n, uint64_t amount,
                              const uint8_t *secret) {
    return s_pay_signed(caller, peer, n, amount, secret, 3, (uint64_t)ca_now_seconds() + 3600);
}

static void s_add_peer(ca_caller_t *caller, const char *peer, const uint8_t *public_key) {
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(ca_caller_testbed(caller)), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    sqlite3_stmt *stmt =
        ca_sql_prepare(sql, "INSERT INTO peers (peer_id, public_key, address,"
                            " port, created_at) VALUES (?1, ?2, '127.0.0.1', 1, 0)");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, peer, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, public_key, 32, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    zstr_free(&path);
}

static void s_test_channels(ca_caller_t *caller) {
    Cairn__Response *response = ca_testbed_ok(ledger_fixture_open(caller, "peer-a", 10, 100),
                                              CAIRN__RESPONSE__BODY_LEDGER_OPEN);
    assert(response->ledger_open->state == CAIRN__CHANNEL_STATE__CHANNEL_OPEN);
    assert(response->ledger_open->their_balance == 100);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(ledger_fixture_open(caller, "peer-a", 1, 1), CAIRN__STATUS__CONFLICT,
                     "exists");
    ca_testbed_fails(ledger_fixture_open(caller, "../x", 1, 1), CAIRN__STATUS__INVALID, "peer_id");
    ca_testbed_fails(ledger_fixture_open(caller, "peer-b", INT64_MAX, 1), CAIRN__STATUS__INVALID,
                     "add up");
    ca_testbed_fails(ledger_fixture_open(caller, "peer-b", (uint64_t)INT64_MAX + 1, 0),
                     CAIRN__STATUS__INVALID, "2^63-1");
    Cairn__Request request;
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 0, NULL);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "no channel");
    ledger_fixture_expect_channel(caller, "peer-a", 10, 100, 0);

    //  Updates: a greater nonce and the same sum; adjustments: logged,
    //  never below zero.
    ledger_fixture_update_rules(caller, "peer-a", 5, 60, 50);
    cairn__response__free_unpacked(ca_testbed_ok(ledger_fixture_adjust(caller, "peer-a", -10, 40),
                                                 CAIRN__RESPONSE__BODY_LEDGER_ADJUST),
                                   NULL);
    ledger_fixture_adjust_bounds(caller, "peer-a", 50, 90, 5);

    //  List: open channels only.
    cairn__response__free_unpacked(ca_testbed_ok(ledger_fixture_open(caller, "peer-c", 0, 0),
                                                 CAIRN__RESPONSE__BODY_LEDGER_OPEN),
                                   NULL);
    cairn__response__free_unpacked(ca_testbed_ok(ledger_fixture_update(caller, "peer-c", 1, 0, 0),
                                                 CAIRN__RESPONSE__BODY_LEDGER_UPDATE),
                                   NULL);
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, "peer-c", 2,
                             CAIRN__CHANNEL_STATE__CHANNEL_CLOSED, 0, 0);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_UPDATE), NULL);
    ca_request_ledger_update(&request, &update, 0, "peer-c", 3, (Cairn__ChannelState)7, 0, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID,
                     "not a channel state");
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, 0, NULL);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    assert(response->ledger_list->n_channels == 1);
    assert(streq(response->ledger_list->channels[0]->peer_id, "peer-a"));
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_history(ca_caller_t *caller, const char *peer, uint32_t limit,
                                  uint64_t after_seq) {
    Cairn__Request request;
    Cairn__LedgerHistory history;
    ca_request_ledger_history(&request, &history, 0, peer, limit, after_seq);
    return ca_caller_call(caller, &request);
}

//  After s_test_channels: peer-a opened with 10/100, adjusted by -10/+40,
//  and nothing else changed its sum (50 + 90).
static void s_test_history(ca_caller_t *caller) {
    Cairn__Response *response =
        ca_testbed_ok(s_history(caller, "peer-a", 0, 0), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    const Cairn__AdjustmentPage *page = response->ledger_history;
    assert(page->n_adjustments == 2 && !page->more);
    assert(streq(page->adjustments[0]->reason, "open"));
    assert(page->adjustments[0]->my_delta == 10 && page->adjustments[0]->their_delta == 100);
    assert(streq(page->adjustments[1]->reason, LEDGER_FIXTURE_REASON));
    assert(page->adjustments[1]->my_delta == -10 && page->adjustments[1]->their_delta == 40);
    assert(page->adjustments[0]->seq < page->adjustments[1]->seq);
    uint64_t first = page->adjustments[0]->seq, second = page->adjustments[1]->seq;
    cairn__response__free_unpacked(response, NULL);

    //  Paging: one at a time, `more` until the last.
    response =
        ca_testbed_ok(s_history(caller, "peer-a", 1, 0), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 1 && response->ledger_history->more);
    assert(response->ledger_history->adjustments[0]->seq == first);
    cairn__response__free_unpacked(response, NULL);
    response =
        ca_testbed_ok(s_history(caller, "peer-a", 1, first), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 1 && !response->ledger_history->more);
    assert(response->ledger_history->adjustments[0]->seq == second);
    cairn__response__free_unpacked(response, NULL);
    response =
        ca_testbed_ok(s_history(caller, "peer-a", 0, second), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 0 && !response->ledger_history->more);
    cairn__response__free_unpacked(response, NULL);

    ca_testbed_fails(s_history(caller, "peer-z", 0, 0), CAIRN__STATUS__NOT_FOUND, "open one");
    ca_testbed_fails(s_history(caller, "../x", 0, 0), CAIRN__STATUS__INVALID, "peer_id");
    ca_testbed_fails(s_history(caller, "peer-a", LEDGER_HISTORY_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "at most");
    ca_testbed_fails(s_history(caller, "peer-a", 0, (uint64_t)INT64_MAX + 1),
                     CAIRN__STATUS__INVALID, "after_seq");
}

static void s_test_payments(ca_caller_t *caller) {
    uint8_t public_key[32], secret[64], other_public[32], other_secret[64];
    crypto_sign_keypair(public_key, secret);
    crypto_sign_keypair(other_public, other_secret);
    ca_testbed_fails(s_pay(caller, "peer-a", 1, 5, secret), CAIRN__STATUS__UNAUTHORIZED,
                     "no public key");
    s_add_peer(caller, "peer-a", public_key);

    Cairn__Response *response =
        ca_testbed_ok(s_pay(caller, "peer-a", 1, 5, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY);
    assert(response->ledger_pay->amount == 5 && !response->ledger_pay->cleared);
    cairn__response__free_unpacked(response, NULL);
    ledger_fixture_expect_channel(caller, "peer-a", 55, 85, 5);
    ca_testbed_fails(s_pay(caller, "peer-a", 1, 5, secret), CAIRN__STATUS__CONFLICT,
                     "already recorded");
    ca_testbed_fails(s_pay(caller, "peer-a", 2, 5, other_secret), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(caller, "peer-a", 2, 5, NULL), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(caller, "peer-a", 2, 86, secret), CAIRN__STATUS__INVALID,
                     "lower than the amount");
    ca_testbed_fails(s_pay(caller, "peer-a", 2, 0, secret), CAIRN__STATUS__INVALID, "amount");
    //  v2 (no payee, no expiry) and expired payments move nothing.
    uint64_t now = (uint64_t)ca_now_seconds();
    ca_testbed_fails(s_pay_signed(caller, "peer-a", 2, 5, secret, 2, 0),
                     CAIRN__STATUS__UNAUTHORIZED, "sign cairn-payment-v3");
    ca_testbed_fails(s_pay_signed(caller, "peer-a", 2, 5, secret, 2, now + 60),
                     CAIRN__STATUS__UNAUTHORIZED, "no longer accepted");
    ca_testbed_fails(s_pay_signed(caller, "peer-a", 2, 5, secret, 3, now - 1),
                     CAIRN__STATUS__UNAUTHORIZED, "expired");
    ca_testbed_fails(s_pay_signed(caller, "peer-a", 2, 5, secret, 3, 0),
                     CAIRN__STATUS__UNAUTHORIZED, "expired");
    ledger_fixture_expect_channel(caller, "peer-a", 55, 85, 5);
    cairn__response__free_unpacked(
        ca_testbed_ok(s_pay(caller, "peer-a", 2, 85, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY),
        NULL);
    ledger_fixture_expect_channel(caller, "peer-a", 140, 0, 5);
    s_add_peer(caller, "peer-q", other_public); //  another peer's key: another signer
    ca_testbed_fails(s_pay(caller, "peer-q", 3, 1, secret), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(caller, "peer-q", 3, 1, other_secret), CAIRN__STATUS__NOT_FOUND,
                     "open one");

    //  Pending, oldest first, with their shares; clearing twice is harmless.
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, "peer-a", 0, NULL, 0);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    const Cairn__PaymentPage *page = response->ledger_pending;
    assert(page->n_payments == 2 && page->payments[0]->amount == 5);
    //  Stored as signed: read back, each still verifies for this node.
    assert(page->payments[0]->expires_at > 0);
    assert(ledger_payment_verify(page->payments[0], TEST_PAYEE, public_key));
    assert(ledger_payment_verify(page->payments[1], TEST_PAYEE, public_key));
    assert(page->payments[1]->amount == 85 && page->payments[1]->n_provenance == 2);
    assert(page->payments[1]->provenance[1]->weight == 2ULL << 62);
    assert(page->payments[0]->timestamp == 1700000000.25);
    uint8_t first_id[32];
    memcpy(first_id, page->payments[0]->id.data, 32);
    cairn__response__free_unpacked(response, NULL);
    ProtobufCBinaryData ids[2] = {{32, first_id}, {32, first_id}};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 2);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    assert(response->ledger_clear->cleared == 1);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    assert(response->ledger_clear->cleared == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_request_ledger_pending(&request, &pending, 0, "peer-a", 0, NULL, 0);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    assert(response->ledger_pending->n_payments == 1);
    cairn__response__free_unpacked(response, NULL);
    ca_request_ledger_pending(&request, &pending, 0, "peer-none", 0, NULL, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__NOT_FOUND, "open one");
    ids[1].len = 31;
    ca_request_ledger_clear(&request, &clear, 0, ids, 2);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "payment_ids[1]");
}

static Cairn__Response *s_list(ca_caller_t *caller, uint32_t limit, const char *after) {
    Cairn__Request request;
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, limit, after);
    return ca_caller_call(caller, &request);
}

//  LedgerPending of `peer` after test payment number `after` (0: none).
static Cairn__Response *s_pending(ca_caller_t *caller, const char *peer, uint32_t limit,
                                  int after) {
    uint8_t id[32];
    s_payment_id(after, id);
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, peer, limit, after ? id : NULL,
                              after ? 32 : 0);
    return ca_caller_call(caller, &request);
}

size_t ledger_fixture_walk_channels(ca_caller_t *caller, uint32_t limit, char (*peers)[16],
                                    size_t total) {
    char after[16] = "";
    size_t seen = 0, pages = 0, page_size = limit ? limit : LEDGER_LIST_DEFAULT;
    bool more = true;
    while (more) {
        Cairn__Response *response =
            ca_response_ok(s_list(caller, limit, after), CAIRN__RESPONSE__BODY_LEDGER_LIST);
        const Cairn__PaymentChannelPage *page = response->ledger_list;
        CA_CHECK(page->n_channels == (total - seen < page_size ? total - seen : page_size));
        for (size_t i = 0; i < page->n_channels; i++) {
            CA_CHECK(streq(page->channels[i]->peer_id, peers[seen++]));
            CA_CHECK(page->channels[i]->state == CAIRN__CHANNEL_STATE__CHANNEL_OPEN);
        }
        more = page->more;
        CA_CHECK(more == (seen < total));
        if (page->n_channels)
            snprintf(after, sizeof after, "%s", page->channels[page->n_channels - 1]->peer_id);
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    CA_CHECK(seen == total);
    return pages;
}

//  Walks LedgerPending of `peer` `limit` at a time: test payments
//  first..last but `skip`, each once, oldest first. Returns the pages.
static size_t s_walk_pending(ca_caller_t *caller, const char *peer, uint32_t limit, int first,
                             int last, int skip) {
    int after = 0, next = first;
    size_t pages = 0, page_size = limit ? limit : LEDGER_PENDING_DEFAULT;
    bool more = true;
    while (more) {
        Cairn__Response *response = ca_testbed_ok(s_pending(caller, peer, limit, after),
                                                  CAIRN__RESPONSE__BODY_LEDGER_PENDING);
        const Cairn__PaymentPage *page = response->ledger_pending;
        assert(page->n_payments <= page_size);
        for (size_t i = 0; i < page->n_payments; i++, next++) {
            if (next == skip)
                next++;
            uint8_t id[32];
            s_payment_id(next, id);
            assert(page->payments[i]->id.len == 32 &&
                   memcmp(page->payments[i]->id.data, id, 32) == 0);
            after = next;
        }
        more = page->more;
        assert(more == (next <= last) && (more || next == last + 1));
        assert(!more || page->n_payments == page_size); //  only a full page has more
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    return pages;
}

static void s_test_paging(ca_caller_t *caller) {
    //  LedgerList: peer-a and 25 more open channels, by peer id.
    char peers[26][16];
    snprintf(peers[0], sizeof peers[0], "peer-a");
    for (int i = 0; i < 25; i++) {
        snprintf(peers[i + 1], sizeof peers[i + 1], "pg-%02d", i);
        cairn__response__free_unpacked(
            ca_testbed_ok(ledger_fixture_open(caller, peers[i + 1], 0, 100),
                          CAIRN__RESPONSE__BODY_LEDGER_OPEN),
            NULL);
    }
    assert(ledger_fixture_walk_channels(caller, 7, peers, 26) == 4); //  7 7 7 5
    assert(ledger_fixture_walk_channels(caller, 13, peers, 26) ==
           2); //  exactly full: no more after
    assert(ledger_fixture_walk_channels(caller, 0, peers, 26) ==
           1); //  the default page holds them all
    assert(ledger_fixture_walk_channels(caller, 1000, peers, 26) == 1); //  the most
    ca_testbed_fails(s_list(caller, LEDGER_LIST_MAX + 1, NULL), CAIRN__STATUS__INVALID,
                     "at most 1000");
    ca_testbed_fails(s_list(caller, 0, "../x"), CAIRN__STATUS__INVALID, "after_peer_id");
    Cairn__Response *response =
        ca_testbed_ok(s_list(caller, 5, "zz"), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    assert(response->ledger_list->n_channels == 0 && !response->ledger_list->more);
    cairn__response__free_unpacked(response, NULL);

    //  LedgerPending: 25 payments (100..124) on pg-00, 7 at a time.
    uint8_t public_key[32], secret[64];
    crypto_sign_keypair(public_key, secret);
    s_add_peer(caller, "pg-00", public_key);
    for (int n = 100; n < 125; n++)
        cairn__response__free_unpacked(
            ca_testbed_ok(s_pay(caller, "pg-00", n, 1, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY),
            NULL);
    assert(s_walk_pending(caller, "pg-00", 7, 100, 124, 0) == 4);
    assert(s_walk_pending(caller, "pg-00", 5, 100, 124, 0) == 5);
    assert(s_walk_pending(caller, "pg-00", 0, 100, 124, 0) == 1);
    ca_testbed_fails(s_pending(caller, "pg-00", LEDGER_PENDING_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "at most 10000");
    ca_testbed_fails(s_pending(caller, "pg-00", 0, 999), CAIRN__STATUS__NOT_FOUND,
                     "last payment of the previous page");
    ca_testbed_fails(s_pending(caller, "pg-00", 0, 2), CAIRN__STATUS__NOT_FOUND, //  peer-a's
                     "last payment of the previous page");
    uint8_t wide[33] = {0};
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, "pg-00", 0, wide, 31);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "after_payment_id");
    ca_request_ledger_pending(&request, &pending, 0, "pg-00", 0, wide, 33);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "after_payment_id");

    //  A cursor cleared since still marks its place; the cleared one is gone.
    uint8_t id[32];
    s_payment_id(106, id);
    ProtobufCBinaryData ids[1] = {{32, id}};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 1);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR), NULL);
    response =
        ca_testbed_ok(s_pending(caller, "pg-00", 3, 106), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    assert(response->ledger_pending->n_payments == 3 && response->ledger_pending->more);
    s_payment_id(107, id);
    assert(memcmp(response->ledger_pending->payments[0]->id.data, id, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    assert(s_walk_pending(caller, "pg-00", 7, 100, 124, 106) == 4); //  24 left: 7 7 7 3
}

void ledger_test(bool verbose) {
    ledger_payments_test(verbose);
    if (verbose)
        printf(" * ledger: ");
    const ca_schema_t *before[] = {&messages_schema};
    ca_store_settings_t settings = ca_testbed_settings();
    snprintf(settings.node_peer_id, sizeof settings.node_peer_id, "%s", TEST_PAYEE);
    ca_testbed_t *bed = ca_testbed_new_full(&ledger_store_def, before, 1, &settings);
    ca_caller_t *caller = ca_testbed_caller(bed);
    s_test_channels(caller);
    s_test_history(caller);
    s_test_payments(caller);
    s_test_paging(caller);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

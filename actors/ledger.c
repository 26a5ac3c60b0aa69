/*  =========================================================================
    ledger - payment channels with peers, and the signed payments they carry

    What it owns: the "ledger" schema. `ledger_channels` holds one channel
    per peer (state, my balance, their balance, nonce, last update),
    `ledger_adjustments` logs every change of a channel's sum (its opening
    deposit and each LedgerAdjust), `ledger_payments` the payments received
    on the channels and `ledger_payment_shares` the provenance each payment
    pays for (root hash and weight, in the order given).

    Requests:

        LedgerOpen {channel}             -> PaymentChannel (CONFLICT if one exists)
        LedgerGet {peer_id}              -> PaymentChannel
        LedgerUpdate {peer_id, nonce, state, my_balance, their_balance}
                                         -> PaymentChannel
        LedgerList {limit, after_peer_id}
                                         -> PaymentChannelPage {channels, more}
                                            (state OPEN, by peer id)
        LedgerAdjust {peer_id, my_delta, their_delta, reason}
                                         -> PaymentChannel
        LedgerHistory {peer_id, limit, after_seq}
                                         -> AdjustmentPage (the log of the
                                            channel's sum, oldest first)
        LedgerPay {payment}              -> Payment
        LedgerPending {peer_id, limit, after_payment_id}
                                         -> PaymentPage {payments, more}
                                            (not cleared, oldest first)
        LedgerClear {payment_ids}        -> LedgerCleared {cleared}

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

    A payment's Ed25519 signature is checked against the public key the
    peers store holds for the paying peer (table `peers` of the same
    database, read through this worker's read connection) before anything
    is written: an unknown or blocked peer, or a bad signature, is
    UNAUTHORIZED. The signed bytes are ledger_payment_encode's.

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
#include "ca_sign.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_names.h"
#include "ca_validate.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <string.h>

#define LEDGER_SHARES_MAX    1000
#define LEDGER_CLEAR_MAX     1000
#define LEDGER_REASON_MAX    256
#define LEDGER_SIGNATURE     64
#define LEDGER_PUBLIC_KEY    32
#define LEDGER_DOMAIN        "cairn-payment-v2"
#define LEDGER_RECIPIENT_MAX 65535

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
};

const ca_schema_t ledger_schema = {
    .store = "ledger",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

#define CHANNEL_COLUMNS      "peer_id, state, my_balance, their_balance, nonce, last_update, created_at"
#define CHANNEL_COLUMN_COUNT 7
#define PAYMENT_COLUMNS                                                                            \
    "seq, id, channel_peer, amount, recipient, query_hash, timestamp, signature, cleared"

static double s_now(void) {
    return (double)zclock_time() / 1000.0;
}

//  ---- the canonical encoding and its signature -------------------------------------

static uint8_t *s_put_be(uint8_t *at, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) {
        at[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
    return at + bytes;
}

uint8_t *ledger_payment_encode(const Cairn__Payment *payment, size_t *size_p) {
    const char *recipient = payment->recipient ? payment->recipient : "";
    const char *channel = payment->channel_peer ? payment->channel_peer : "";
    size_t recipient_len = strlen(recipient), channel_len = strlen(channel);
    if (payment->id.len != 32 || payment->query_hash.len != 32 ||
        recipient_len > LEDGER_RECIPIENT_MAX || channel_len > LEDGER_RECIPIENT_MAX)
        return NULL;
    for (size_t i = 0; i < payment->n_provenance; i++)
        if (!payment->provenance[i] || payment->provenance[i]->root.len != 32)
            return NULL;
    size_t size = strlen(LEDGER_DOMAIN) + 32 + 8 + 2 + recipient_len + 32 + 4 +
                  payment->n_provenance * (32 + 8) + 8 + 2 + channel_len;
    uint8_t *bytes = (uint8_t *)zmalloc(size), *at = bytes;
    memcpy(at, LEDGER_DOMAIN, strlen(LEDGER_DOMAIN));
    at += strlen(LEDGER_DOMAIN);
    memcpy(at, payment->id.data, 32);
    at = s_put_be(at + 32, payment->amount, 8);
    at = s_put_be(at, recipient_len, 2);
    memcpy(at, recipient, recipient_len);
    at += recipient_len;
    memcpy(at, payment->query_hash.data, 32);
    at = s_put_be(at + 32, payment->n_provenance, 4);
    for (size_t i = 0; i < payment->n_provenance; i++) {
        memcpy(at, payment->provenance[i]->root.data, 32);
        at = s_put_be(at + 32, payment->provenance[i]->weight, 8);
    }
    uint64_t bits;
    memcpy(&bits, &payment->timestamp, sizeof bits);
    at = s_put_be(at, bits, 8);
    //  The channel last (v2): a payment signed for one channel cannot be
    //  replayed on another channel whose peer uses the same key.
    at = s_put_be(at, channel_len, 2);
    memcpy(at, channel, channel_len);
    at += channel_len;
    assert((size_t)(at - bytes) == size);
    *size_p = size;
    return bytes;
}

bool ledger_payment_verify(const Cairn__Payment *payment, const uint8_t *public_key) {
    if (payment->signature.len != LEDGER_SIGNATURE)
        return false;
    size_t size;
    uint8_t *message = ledger_payment_encode(payment, &size);
    if (!message)
        return false;
    //  The same verification path the RFC 8032 vectors go through (ca_sign).
    bool valid = ca_ed25519_verify(public_key, message, size, payment->signature.data);
    free(message);
    return valid;
}

//  ---- checks on input ----------------------------------------------------------------

static bool s_peer_ok(const char *field, const char *peer_id, ca_reply_t *reply) {
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

static bool s_bytes_ok(const char *field, const ProtobufCBinaryData *bytes, size_t size,
                       ca_reply_t *reply) {
    if (bytes->len != size) {
        ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; it must be exactly %zu", field,
                       bytes->len, size);
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

//  Guard: the channel of `peer_id` exists (NOT_FOUND otherwise).
static void s_write_channel_exists(ca_write_t *write, const char *peer_id) {
    ca_write_statement(write, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
                       "no payment channel with this peer; open one first (LedgerOpen)");
    ca_write_text(write, peer_id);
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  ---- LedgerOpen ----------------------------------------------------------------------

static void s_ledger_open(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PaymentChannel *channel = request->ledger_open->channel;
    if (!channel) {
        ca_reply_error(reply, CA_INVALID, "the request has no channel; send one");
        return;
    }
    if (!s_peer_ok("channel.peer_id", channel->peer_id, reply) ||
        !s_state_ok(channel->state, reply) ||
        !s_balances_ok(channel->my_balance, channel->their_balance, reply) ||
        !s_amount_ok("channel.nonce", channel->nonce, reply))
        return;
    double now = s_now();
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
    if (!s_peer_ok("peer_id", peer_id, reply))
        return;
    sqlite3_stmt *stmt = ca_sql_prepare(
        ca_store_sql(store), "SELECT " CHANNEL_COLUMNS " FROM ledger_channels WHERE peer_id = ?1");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        s_answer_channel(reply, CAIRN__RESPONSE__BODY_LEDGER_GET, s_channel_from_stmt(stmt, reply));
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no payment channel with peer %s; open one first (cairn ledger open)",
                       peer_id);
    else
        s_read_failed(reply, stmt, rc, "read the channel");
    sqlite3_reset(stmt);
}

//  The page size a request asks for: `limit`, or `fallback` when it is 0;
//  0 (reply set) when it is over `most`.
static size_t s_page_limit(uint32_t limit, size_t fallback, size_t most, const char *what,
                           const char *cursor, ca_reply_t *reply) {
    if (limit > most) {
        ca_reply_error(reply, CA_INVALID,
                       "limit is %u; a page holds at most %zu %s: ask for fewer and page on "
                       "with %s",
                       limit, most, what, cursor);
        return 0;
    }
    return limit ? limit : fallback;
}

static void s_ledger_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerList *list = request->ledger_list;
    const char *after = list->after_peer_id ? list->after_peer_id : "";
    size_t limit = s_page_limit(list->limit, LEDGER_LIST_DEFAULT, LEDGER_LIST_MAX, "channels",
                                "after_peer_id", reply);
    if (!limit || (*after && !s_peer_ok("after_peer_id", after, reply)))
        return;
    //  Peer ids are never empty, so "" as the cursor starts at the first.
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT " CHANNEL_COLUMNS " FROM ledger_channels"
                                            " WHERE state = 1 AND peer_id > ?1 ORDER BY peer_id"
                                            " LIMIT ?2");
    assert(stmt);
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
        channels = (Cairn__PaymentChannel **)realloc(channels, (count + 1) * sizeof *channels);
        assert(channels);
        channels[count++] = s_channel_from_stmt(stmt, reply);
    }
    if (rc != SQLITE_DONE)
        s_read_failed(reply, stmt, rc, "list the channels");
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
    if (!s_peer_ok("peer_id", update->peer_id, reply) || !s_state_ok(update->state, reply) ||
        !s_balances_ok(update->my_balance, update->their_balance, reply) ||
        !s_amount_ok("nonce", update->nonce, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    s_write_channel_exists(write, update->peer_id);
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
    ca_write_real(write, s_now());
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
    if (!s_peer_ok("peer_id", adjust->peer_id, reply))
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
    s_write_channel_exists(write, adjust->peer_id);
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
    ca_write_real(write, s_now());
    ca_write_statement(write,
                       "INSERT INTO ledger_adjustments (peer_id, my_delta, their_delta, reason, at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the adjustment was not logged; nothing changed: retry");
    ca_write_text(write, adjust->peer_id);
    ca_write_int(write, adjust->my_delta);
    ca_write_int(write, adjust->their_delta);
    ca_write_text(write, adjust->reason);
    ca_write_real(write, s_now());
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

static bool s_channel_known(ca_store_t *store, const char *peer_id, ca_reply_t *reply);

static void s_ledger_history(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerHistory *history = request->ledger_history;
    if (!s_peer_ok("peer_id", history->peer_id, reply))
        return;
    size_t limit = s_page_limit(history->limit, LEDGER_HISTORY_MAX, LEDGER_HISTORY_MAX,
                                "entries", "after_seq", reply);
    if (!limit)
        return;
    if (history->after_seq > (uint64_t)INT64_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "after_seq is above 2^63-1; give the seq of the last entry of a page");
        return;
    }
    if (!s_channel_known(store, history->peer_id, reply))
        return;
    sqlite3_stmt *stmt = ca_sql_prepare(
        ca_store_sql(store), "SELECT seq, my_delta, their_delta, reason, at FROM ledger_adjustments"
                             " WHERE peer_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    assert(stmt);
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
        s_read_failed(reply, stmt, rc, "read the channel's history");
    sqlite3_reset(stmt);
    if (!ok)
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_LEDGER_HISTORY;
    response->ledger_history = page;
}

//  ---- LedgerPay ----------------------------------------------------------------------------

static bool s_payment_fields_ok(const Cairn__Payment *payment, ca_reply_t *reply) {
    if (!s_bytes_ok("payment.id", &payment->id, 32, reply) ||
        !s_peer_ok("payment.channel_peer", payment->channel_peer, reply) ||
        !s_peer_ok("payment.recipient", payment->recipient, reply) ||
        !s_bytes_ok("payment.query_hash", &payment->query_hash, 32, reply) ||
        !s_bytes_ok("payment.signature", &payment->signature, LEDGER_SIGNATURE, reply))
        return false;
    if (payment->amount < 1 || payment->amount > LEDGER_AMOUNT_MAX) {
        ca_reply_error(reply, CA_INVALID, "payment.amount is %llu; pay 1..%lld",
                       (unsigned long long)payment->amount, (long long)LEDGER_AMOUNT_MAX);
        return false;
    }
    //  -0.0 too: SQLite would keep it as 0.0, and the stored payment would
    //  no longer match its signature.
    if (!isfinite(payment->timestamp) || signbit(payment->timestamp)) {
        ca_reply_error(reply, CA_INVALID, "payment.timestamp must be unix seconds (0 or more)");
        return false;
    }
    if (payment->n_provenance > LEDGER_SHARES_MAX) {
        ca_reply_error(reply, CA_INVALID, "payment.provenance holds %zu shares; at most %d",
                       payment->n_provenance, LEDGER_SHARES_MAX);
        return false;
    }
    char field[48];
    for (size_t i = 0; i < payment->n_provenance; i++) {
        snprintf(field, sizeof field, "payment.provenance[%zu].root", i);
        if (!s_bytes_ok(field, &payment->provenance[i]->root, 32, reply))
            return false;
    }
    return true;
}

//  The paying peer's public key from the peers store; false (reply set)
//  when the peer is unknown, blocked or unreadable.
static bool s_peer_key(ca_store_t *store, const char *peer_id, uint8_t key[LEDGER_PUBLIC_KEY],
                       ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_sql_prepare(ca_store_sql(store),
                                        "SELECT public_key, blocked FROM peers WHERE peer_id = ?1");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    bool ok = false;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == LEDGER_PUBLIC_KEY &&
        sqlite3_column_int(stmt, 1) == 0) {
        memcpy(key, sqlite3_column_blob(stmt, 0), LEDGER_PUBLIC_KEY);
        ok = true;
    } else if (rc == SQLITE_ROW)
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "peer %s is blocked; its payments are refused (unblock it first)", peer_id);
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "no public key is known for peer %s; add the peer with its key first "
                       "(cairn peer add)",
                       peer_id);
    else
        s_read_failed(reply, stmt, rc, "read the peer's public key");
    sqlite3_reset(stmt);
    return ok;
}

static void s_write_shares(ca_write_t *write, const Cairn__Payment *payment) {
    for (size_t i = 0; i < payment->n_provenance; i++) {
        ca_write_statement(write,
                           "INSERT INTO ledger_payment_shares (payment_seq, position, root, weight)"
                           " VALUES ((SELECT seq FROM ledger_payments WHERE id = ?1), ?2, ?3, ?4)",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                           "a provenance share was not stored; nothing moved: retry");
        ca_write_blob(write, payment->id.data, 32);
        ca_write_int(write, (int64_t)i);
        ca_write_blob(write, payment->provenance[i]->root.data, 32);
        ca_write_int(write, (int64_t)payment->provenance[i]->weight);
    }
}

static void s_ledger_pay(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Payment *payment = request->ledger_pay->payment;
    if (!payment) {
        ca_reply_error(reply, CA_INVALID, "the request has no payment; send one");
        return;
    }
    if (!s_payment_fields_ok(payment, reply))
        return;
    uint8_t key[LEDGER_PUBLIC_KEY];
    if (!s_peer_key(store, payment->channel_peer, key, reply))
        return;
    if (!ledger_payment_verify(payment, key)) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "the payment's signature does not verify with peer %s's key; it must "
                       "sign the canonical encoding (see Payment in cairn.proto); nothing moved",
                       payment->channel_peer);
        return;
    }
    double now = s_now();
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    ca_write_statement(write, "SELECT 1 FROM ledger_payments WHERE id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "a payment with this id is already recorded; nothing moved");
    ca_write_blob(write, payment->id.data, 32);
    s_write_channel_exists(write, payment->channel_peer);
    ca_write_statement(write, "SELECT 1 FROM ledger_channels WHERE peer_id = ?1 AND state <> 1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "the channel with this peer is not open (it is opening, closing or "
                       "closed); payments move only on an open channel: LedgerUpdate it to open "
                       "first; nothing moved");
    ca_write_text(write, payment->channel_peer);
    ca_write_statement(write,
                       "UPDATE ledger_channels SET their_balance = their_balance - ?2,"
                       " my_balance = my_balance + ?2, last_update = ?3"
                       " WHERE peer_id = ?1 AND their_balance >= ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INVALID,
                       "the peer's balance on this channel is lower than the amount; nothing "
                       "moved (the peer must deposit first: LedgerAdjust)");
    ca_write_text(write, payment->channel_peer);
    ca_write_int(write, (int64_t)payment->amount);
    ca_write_real(write, now);
    ca_write_statement(write,
                       "INSERT INTO ledger_payments (id, channel_peer, amount, recipient,"
                       " query_hash, timestamp, signature, received_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the payment was not stored; nothing moved: retry");
    ca_write_blob(write, payment->id.data, 32);
    ca_write_text(write, payment->channel_peer);
    ca_write_int(write, (int64_t)payment->amount);
    ca_write_text(write, payment->recipient);
    ca_write_blob(write, payment->query_hash.data, 32);
    ca_write_real(write, payment->timestamp);
    ca_write_blob(write, payment->signature.data, LEDGER_SIGNATURE);
    ca_write_real(write, now);
    s_write_shares(write, payment);
    ca_store_write(store, &write, reply);
}

//  The payment as stored is the request's, not cleared.
static void s_ledger_paid(ca_store_t *store, const Cairn__Request *request,
                          const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__Payment *payment = (Cairn__Payment *)ca_reply_memdup(reply, request->ledger_pay->payment,
                                                                sizeof(Cairn__Payment));
    payment->cleared = false;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_LEDGER_PAY;
    response->ledger_pay = payment;
}

//  ---- LedgerPending ------------------------------------------------------------------------

static ProtobufCBinaryData s_column_bytes(sqlite3_stmt *stmt, int column, ca_reply_t *reply) {
    ProtobufCBinaryData bytes;
    bytes.len = (size_t)sqlite3_column_bytes(stmt, column);
    bytes.data =
        bytes.len ? (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, column), bytes.len)
                  : NULL;
    return bytes;
}

//  The provenance shares of payment `seq`, in the order given.
static bool s_load_shares(ca_store_t *store, int64_t seq, Cairn__Payment *payment,
                          ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT root, weight FROM ledger_payment_shares"
                                            " WHERE payment_seq = ?1 ORDER BY position");
    assert(stmt);
    sqlite3_bind_int64(stmt, 1, seq);
    Cairn__ProvenanceShare **shares = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        shares = (Cairn__ProvenanceShare **)realloc(shares, (count + 1) * sizeof *shares);
        assert(shares);
        Cairn__ProvenanceShare *share =
            (Cairn__ProvenanceShare *)ca_reply_alloc(reply, sizeof(Cairn__ProvenanceShare));
        cairn__provenance_share__init(share);
        share->root = s_column_bytes(stmt, 0, reply);
        share->weight = (uint64_t)sqlite3_column_int64(stmt, 1);
        shares[count++] = share;
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok)
        s_read_failed(reply, stmt, rc, "read a payment's provenance");
    sqlite3_reset(stmt);
    payment->n_provenance = count;
    payment->provenance =
        count ? (Cairn__ProvenanceShare **)ca_reply_memdup(reply, shares, count * sizeof *shares)
              : NULL;
    free(shares);
    return ok;
}

static Cairn__Payment *s_payment_from_stmt(sqlite3_stmt *stmt, ca_reply_t *reply) {
    Cairn__Payment *payment = (Cairn__Payment *)ca_reply_alloc(reply, sizeof(Cairn__Payment));
    cairn__payment__init(payment);
    payment->id = s_column_bytes(stmt, 1, reply);
    const char *text = (const char *)sqlite3_column_text(stmt, 2);
    payment->channel_peer = ca_reply_strdup(reply, text ? text : "");
    payment->amount = (uint64_t)sqlite3_column_int64(stmt, 3);
    text = (const char *)sqlite3_column_text(stmt, 4);
    payment->recipient = ca_reply_strdup(reply, text ? text : "");
    payment->query_hash = s_column_bytes(stmt, 5, reply);
    payment->timestamp = sqlite3_column_double(stmt, 6);
    payment->signature = s_column_bytes(stmt, 7, reply);
    payment->cleared = sqlite3_column_int(stmt, 8) != 0;
    return payment;
}

static bool s_channel_known(ca_store_t *store, const char *peer_id, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT 1 FROM ledger_channels WHERE peer_id = ?1");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no payment channel with peer %s; open one first (cairn ledger open)",
                       peer_id);
    else if (rc != SQLITE_ROW)
        s_read_failed(reply, stmt, rc, "read the channel");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

//  The arrival seq of the cursor payment `after` (empty or 32 bytes,
//  checked by the caller) on `peer_id`'s channel into *seq; 0 when empty:
//  before the oldest. Cleared or not, it marks its place; unknown or on
//  another channel it is NOT_FOUND.
static bool s_pending_cursor(ca_store_t *store, const char *peer_id,
                             const ProtobufCBinaryData *after, int64_t *seq, ca_reply_t *reply) {
    *seq = 0;
    if (after->len == 0)
        return true;
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT seq FROM ledger_payments"
                                            " WHERE id = ?1 AND channel_peer = ?2");
    assert(stmt);
    sqlite3_bind_blob(stmt, 1, after->data, 32, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(stmt, 0);
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "after_payment_id names no payment on the channel with peer %s; pass the "
                       "id of the last payment of the previous page (or none for the first page)",
                       peer_id);
    else
        s_read_failed(reply, stmt, rc, "read the cursor payment");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static void s_ledger_pending(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerPending *pending = request->ledger_pending;
    const char *peer_id = pending->peer_id;
    if (!s_peer_ok("peer_id", peer_id, reply))
        return;
    size_t limit = s_page_limit(pending->limit, LEDGER_PENDING_DEFAULT, LEDGER_PENDING_MAX,
                                "payments", "after_payment_id", reply);
    int64_t after_seq;
    if (!limit ||
        (pending->after_payment_id.len &&
         !s_bytes_ok("after_payment_id", &pending->after_payment_id, 32, reply)) ||
        !s_channel_known(store, peer_id, reply) ||
        !s_pending_cursor(store, peer_id, &pending->after_payment_id, &after_seq, reply))
        return;
    //  Shares are read with a second statement while this one is open:
    //  collect the payments first.
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT " PAYMENT_COLUMNS " FROM ledger_payments"
                                            " WHERE channel_peer = ?1 AND cleared = 0"
                                            " AND seq > ?2 ORDER BY seq LIMIT ?3");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, after_seq);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1); //  one more tells whether more follow
    Cairn__Payment **payments = NULL;
    int64_t *seqs = NULL;
    size_t count = 0;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        payments = (Cairn__Payment **)realloc(payments, (count + 1) * sizeof *payments);
        seqs = (int64_t *)realloc(seqs, (count + 1) * sizeof *seqs);
        assert(payments && seqs);
        seqs[count] = sqlite3_column_int64(stmt, 0);
        payments[count++] = s_payment_from_stmt(stmt, reply);
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok)
        s_read_failed(reply, stmt, rc, "read the pending payments");
    sqlite3_reset(stmt);
    for (size_t i = 0; ok && i < count; i++)
        ok = s_load_shares(store, seqs[i], payments[i], reply);
    if (ok) {
        Cairn__PaymentPage *page =
            (Cairn__PaymentPage *)ca_reply_alloc(reply, sizeof(Cairn__PaymentPage));
        cairn__payment_page__init(page);
        page->more = more;
        page->n_payments = count;
        page->payments =
            count ? (Cairn__Payment **)ca_reply_memdup(reply, payments, count * sizeof *payments)
                  : NULL;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_LEDGER_PENDING;
        response->ledger_pending = page;
    }
    free(payments);
    free(seqs);
}

//  ---- LedgerClear --------------------------------------------------------------------------

static void s_ledger_clear(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerClear *clear = request->ledger_clear;
    if (clear->n_payment_ids > LEDGER_CLEAR_MAX) {
        ca_reply_error(reply, CA_INVALID, "%zu payment ids; clear at most %d at a time",
                       clear->n_payment_ids, LEDGER_CLEAR_MAX);
        return;
    }
    char field[48];
    for (size_t i = 0; i < clear->n_payment_ids; i++) {
        snprintf(field, sizeof field, "payment_ids[%zu]", i);
        if (!s_bytes_ok(field, &clear->payment_ids[i], 32, reply))
            return;
    }
    if (clear->n_payment_ids == 0) {
        Cairn__LedgerCleared *cleared =
            (Cairn__LedgerCleared *)ca_reply_alloc(reply, sizeof(Cairn__LedgerCleared));
        cairn__ledger_cleared__init(cleared);
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_LEDGER_CLEAR;
        response->ledger_clear = cleared;
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    for (size_t i = 0; i < clear->n_payment_ids; i++) {
        ca_write_statement(write,
                           "UPDATE ledger_payments SET cleared = 1 WHERE id = ?1"
                           " AND cleared = 0",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, clear->payment_ids[i].data, 32);
    }
    ca_store_write(store, &write, reply);
}

static void s_ledger_cleared(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__LedgerCleared *cleared =
        (Cairn__LedgerCleared *)ca_reply_alloc(reply, sizeof(Cairn__LedgerCleared));
    cairn__ledger_cleared__init(cleared);
    for (size_t i = 0; i < write->n_results; i++)
        cleared->cleared += write->results[i]->changes;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_LEDGER_CLEAR;
    response->ledger_clear = cleared;
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
    {CAIRN__REQUEST__BODY_LEDGER_PAY, "ledger_pay", s_ledger_pay, s_ledger_paid,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_LEDGER_PENDING, "ledger_pending", s_ledger_pending, NULL, 0},
    {CAIRN__REQUEST__BODY_LEDGER_CLEAR, "ledger_clear", s_ledger_clear, s_ledger_cleared,
     CA_ROUTE_ONE_WORKER},
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
#include "msg_schema.h"

//  The channel with `peer`: its balances and nonce.
static void s_expect_channel(ca_testbed_t *bed, const char *peer, uint64_t mine, uint64_t theirs,
                             uint64_t nonce) {
    Cairn__Request request;
    Cairn__LedgerGet get;
    ca_request_ledger_get(&request, &get, 0, peer);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_GET);
    const Cairn__PaymentChannel *channel = response->ledger_get;
    assert(streq(channel->peer_id, peer) && channel->my_balance == mine);
    assert(channel->their_balance == theirs && channel->nonce == nonce);
    assert(channel->created_at > 0 && channel->last_update >= channel->created_at);
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_open(ca_testbed_t *bed, const char *peer, uint64_t mine,
                               uint64_t theirs) {
    Cairn__Request request;
    Cairn__LedgerOpen open;
    Cairn__PaymentChannel channel;
    ca_request_ledger_channel_init(&channel, peer, CAIRN__CHANNEL_STATE__CHANNEL_OPEN, mine, theirs,
                                   0);
    ca_request_ledger_open(&request, &open, 0, &channel);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_update(ca_testbed_t *bed, const char *peer, uint64_t nonce, uint64_t mine,
                                 uint64_t theirs) {
    Cairn__Request request;
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, peer, nonce, CAIRN__CHANNEL_STATE__CHANNEL_OPEN,
                             mine, theirs);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_adjust(ca_testbed_t *bed, const char *peer, int64_t mine,
                                 int64_t theirs) {
    Cairn__Request request;
    Cairn__LedgerAdjust adjust;
    ca_request_ledger_adjust(&request, &adjust, 0, peer, mine, theirs, "test deposit");
    return ca_testbed_send(bed, &request);
}

//  The id of test payment number n.
static void s_payment_id(int n, uint8_t id[32]) {
    memset(id, 0, 32);
    memcpy(id, &n, sizeof n);
}

//  Payment number n of `amount` from `peer`, signed with `secret` (NULL:
//  a signature of zeros), with two provenance shares.
static Cairn__Response *s_pay(ca_testbed_t *bed, const char *peer, int n, uint64_t amount,
                              const uint8_t *secret) {
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
    if (secret) {
        size_t size;
        uint8_t *message = ledger_payment_encode(&payment, &size);
        crypto_sign_detached(signature, NULL, message, size, secret);
        free(message);
    }
    payment.signature.data = signature;
    payment.signature.len = 64;
    Cairn__Request request;
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 0, &payment);
    return ca_testbed_send(bed, &request);
}

static void s_add_peer(ca_testbed_t *bed, const char *peer, const uint8_t *public_key) {
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
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

//  The encoding's layout, byte for byte, for one small payment.
static void s_test_encoding(void) {
    uint8_t id[32], query[32], root[32];
    memset(id, 1, 32);
    memset(query, 2, 32);
    memset(root, 3, 32);
    Cairn__Payment payment;
    ca_request_payment_init(&payment, id, 32, "p", 0x0102030405060708ULL, "ab", query, 32, 1.0);
    Cairn__ProvenanceShare share, *shares[1] = {&share};
    cairn__provenance_share__init(&share);
    share.root.data = root;
    share.root.len = 32;
    share.weight = 9;
    payment.provenance = shares;
    payment.n_provenance = 1;
    size_t size;
    uint8_t *bytes = ledger_payment_encode(&payment, &size);
    assert(bytes && size == 16 + 32 + 8 + 2 + 2 + 32 + 4 + 40 + 8 + 2 + 1);
    assert(memcmp(bytes, "cairn-payment-v2", 16) == 0 && bytes[16] == 1 && bytes[47] == 1);
    assert(bytes[144] == 0 && bytes[145] == 1 && bytes[146] == 'p'); //  the channel's peer
    static const uint8_t amount[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert(memcmp(bytes + 48, amount, 8) == 0);
    assert(bytes[56] == 0 && bytes[57] == 2 && bytes[58] == 'a' && bytes[59] == 'b');
    assert(bytes[60] == 2 && bytes[91] == 2);
    assert(bytes[92] == 0 && bytes[93] == 0 && bytes[94] == 0 && bytes[95] == 1);
    assert(bytes[96] == 3 && bytes[127] == 3 && bytes[135] == 9);
    static const uint8_t one[8] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0}; //  1.0 as IEEE-754
    assert(memcmp(bytes + 136, one, 8) == 0);
    //  Signed for one channel, it does not verify on another (same key).
    uint8_t public_key[32], secret_key[64], signature[64];
    crypto_sign_keypair(public_key, secret_key);
    crypto_sign_detached(signature, NULL, bytes, size, secret_key);
    payment.signature.data = signature;
    payment.signature.len = sizeof signature;
    assert(ledger_payment_verify(&payment, public_key));
    payment.channel_peer = (char *)"q";
    assert(!ledger_payment_verify(&payment, public_key));
    free(bytes);
    payment.query_hash.len = 31;
    assert(!ledger_payment_encode(&payment, &size));
}

static void s_test_channels(ca_testbed_t *bed) {
    Cairn__Response *response =
        ca_testbed_ok(s_open(bed, "peer-a", 10, 100), CAIRN__RESPONSE__BODY_LEDGER_OPEN);
    assert(response->ledger_open->state == CAIRN__CHANNEL_STATE__CHANNEL_OPEN);
    assert(response->ledger_open->their_balance == 100);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_open(bed, "peer-a", 1, 1), CAIRN__STATUS__CONFLICT, "exists");
    ca_testbed_fails(s_open(bed, "../x", 1, 1), CAIRN__STATUS__INVALID, "peer_id");
    ca_testbed_fails(s_open(bed, "peer-b", INT64_MAX, 1), CAIRN__STATUS__INVALID, "add up");
    ca_testbed_fails(s_open(bed, "peer-b", (uint64_t)INT64_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "2^63-1");
    Cairn__Request request;
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 0, NULL);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "no channel");
    s_expect_channel(bed, "peer-a", 10, 100, 0);

    //  Updates: a greater nonce and the same sum.
    cairn__response__free_unpacked(
        ca_testbed_ok(s_update(bed, "peer-a", 5, 60, 50), CAIRN__RESPONSE__BODY_LEDGER_UPDATE),
        NULL);
    ca_testbed_fails(s_update(bed, "peer-a", 5, 60, 50), CAIRN__STATUS__CONFLICT, "stale");
    ca_testbed_fails(s_update(bed, "peer-a", 4, 50, 60), CAIRN__STATUS__CONFLICT, "stale");
    ca_testbed_fails(s_update(bed, "peer-a", 6, 60, 51), CAIRN__STATUS__INVALID, "add up");
    ca_testbed_fails(s_update(bed, "peer-z", 6, 60, 50), CAIRN__STATUS__NOT_FOUND, "open one");
    s_expect_channel(bed, "peer-a", 60, 50, 5);

    //  Adjustments: logged, never below zero.
    cairn__response__free_unpacked(
        ca_testbed_ok(s_adjust(bed, "peer-a", -10, 40), CAIRN__RESPONSE__BODY_LEDGER_ADJUST), NULL);
    ca_testbed_fails(s_adjust(bed, "peer-a", -51, 0), CAIRN__STATUS__INVALID, "below zero");
    ca_testbed_fails(s_adjust(bed, "peer-a", INT64_MAX, 0), CAIRN__STATUS__INVALID, "2^63-1");
    ca_testbed_fails(s_adjust(bed, "peer-a", INT64_MIN, 0), CAIRN__STATUS__INVALID, "-2^63");
    ca_testbed_fails(s_adjust(bed, "peer-z", 1, 0), CAIRN__STATUS__NOT_FOUND, "open one");
    s_expect_channel(bed, "peer-a", 50, 90, 5);

    //  List: open channels only.
    cairn__response__free_unpacked(
        ca_testbed_ok(s_open(bed, "peer-c", 0, 0), CAIRN__RESPONSE__BODY_LEDGER_OPEN), NULL);
    cairn__response__free_unpacked(
        ca_testbed_ok(s_update(bed, "peer-c", 1, 0, 0), CAIRN__RESPONSE__BODY_LEDGER_UPDATE), NULL);
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, "peer-c", 2,
                             CAIRN__CHANNEL_STATE__CHANNEL_CLOSED, 0, 0);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_UPDATE), NULL);
    ca_request_ledger_update(&request, &update, 0, "peer-c", 3, (Cairn__ChannelState)7, 0, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "not a channel state");
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, 0, NULL);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    assert(response->ledger_list->n_channels == 1);
    assert(streq(response->ledger_list->channels[0]->peer_id, "peer-a"));
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_history(ca_testbed_t *bed, const char *peer, uint32_t limit,
                                  uint64_t after_seq) {
    Cairn__Request request;
    Cairn__LedgerHistory history;
    ca_request_ledger_history(&request, &history, 0, peer, limit, after_seq);
    return ca_testbed_send(bed, &request);
}

//  After s_test_channels: peer-a opened with 10/100, adjusted by -10/+40,
//  and nothing else changed its sum (50 + 90).
static void s_test_history(ca_testbed_t *bed) {
    Cairn__Response *response =
        ca_testbed_ok(s_history(bed, "peer-a", 0, 0), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    const Cairn__AdjustmentPage *page = response->ledger_history;
    assert(page->n_adjustments == 2 && !page->more);
    assert(streq(page->adjustments[0]->reason, "open"));
    assert(page->adjustments[0]->my_delta == 10 && page->adjustments[0]->their_delta == 100);
    assert(streq(page->adjustments[1]->reason, "test deposit"));
    assert(page->adjustments[1]->my_delta == -10 && page->adjustments[1]->their_delta == 40);
    assert(page->adjustments[0]->seq < page->adjustments[1]->seq);
    uint64_t first = page->adjustments[0]->seq, second = page->adjustments[1]->seq;
    cairn__response__free_unpacked(response, NULL);

    //  Paging: one at a time, `more` until the last.
    response = ca_testbed_ok(s_history(bed, "peer-a", 1, 0), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 1 && response->ledger_history->more);
    assert(response->ledger_history->adjustments[0]->seq == first);
    cairn__response__free_unpacked(response, NULL);
    response =
        ca_testbed_ok(s_history(bed, "peer-a", 1, first), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 1 && !response->ledger_history->more);
    assert(response->ledger_history->adjustments[0]->seq == second);
    cairn__response__free_unpacked(response, NULL);
    response =
        ca_testbed_ok(s_history(bed, "peer-a", 0, second), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    assert(response->ledger_history->n_adjustments == 0 && !response->ledger_history->more);
    cairn__response__free_unpacked(response, NULL);

    ca_testbed_fails(s_history(bed, "peer-z", 0, 0), CAIRN__STATUS__NOT_FOUND, "open one");
    ca_testbed_fails(s_history(bed, "../x", 0, 0), CAIRN__STATUS__INVALID, "peer_id");
    ca_testbed_fails(s_history(bed, "peer-a", LEDGER_HISTORY_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "at most");
    ca_testbed_fails(s_history(bed, "peer-a", 0, (uint64_t)INT64_MAX + 1), CAIRN__STATUS__INVALID,
                     "after_seq");
}

static void s_test_payments(ca_testbed_t *bed) {
    uint8_t public_key[32], secret[64], other_public[32], other_secret[64];
    crypto_sign_keypair(public_key, secret);
    crypto_sign_keypair(other_public, other_secret);
    ca_testbed_fails(s_pay(bed, "peer-a", 1, 5, secret), CAIRN__STATUS__UNAUTHORIZED,
                     "no public key");
    s_add_peer(bed, "peer-a", public_key);

    Cairn__Response *response =
        ca_testbed_ok(s_pay(bed, "peer-a", 1, 5, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY);
    assert(response->ledger_pay->amount == 5 && !response->ledger_pay->cleared);
    cairn__response__free_unpacked(response, NULL);
    s_expect_channel(bed, "peer-a", 55, 85, 5);
    ca_testbed_fails(s_pay(bed, "peer-a", 1, 5, secret), CAIRN__STATUS__CONFLICT,
                     "already recorded");
    ca_testbed_fails(s_pay(bed, "peer-a", 2, 5, other_secret), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(bed, "peer-a", 2, 5, NULL), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(bed, "peer-a", 2, 86, secret), CAIRN__STATUS__INVALID,
                     "lower than the amount");
    ca_testbed_fails(s_pay(bed, "peer-a", 2, 0, secret), CAIRN__STATUS__INVALID, "amount");
    s_expect_channel(bed, "peer-a", 55, 85, 5);
    cairn__response__free_unpacked(
        ca_testbed_ok(s_pay(bed, "peer-a", 2, 85, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY), NULL);
    s_expect_channel(bed, "peer-a", 140, 0, 5);
    s_add_peer(bed, "peer-q", other_public); //  another peer's key: another signer
    ca_testbed_fails(s_pay(bed, "peer-q", 3, 1, secret), CAIRN__STATUS__UNAUTHORIZED,
                     "does not verify");
    ca_testbed_fails(s_pay(bed, "peer-q", 3, 1, other_secret), CAIRN__STATUS__NOT_FOUND,
                     "open one");

    //  Pending, oldest first, with their shares; clearing twice is harmless.
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, "peer-a", 0, NULL, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    const Cairn__PaymentPage *page = response->ledger_pending;
    assert(page->n_payments == 2 && page->payments[0]->amount == 5);
    assert(page->payments[1]->amount == 85 && page->payments[1]->n_provenance == 2);
    assert(page->payments[1]->provenance[1]->weight == 2ULL << 62);
    assert(page->payments[0]->timestamp == 1700000000.25);
    assert(ledger_payment_verify(page->payments[0], public_key)); //  stored as signed
    uint8_t first_id[32];
    memcpy(first_id, page->payments[0]->id.data, 32);
    cairn__response__free_unpacked(response, NULL);
    ProtobufCBinaryData ids[2] = {{32, first_id}, {32, first_id}};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 2);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    assert(response->ledger_clear->cleared == 1);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    assert(response->ledger_clear->cleared == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_request_ledger_pending(&request, &pending, 0, "peer-a", 0, NULL, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    assert(response->ledger_pending->n_payments == 1);
    cairn__response__free_unpacked(response, NULL);
    ca_request_ledger_pending(&request, &pending, 0, "peer-none", 0, NULL, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__NOT_FOUND, "open one");
    ids[1].len = 31;
    ca_request_ledger_clear(&request, &clear, 0, ids, 2);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "payment_ids[1]");
}

static Cairn__Response *s_list(ca_testbed_t *bed, uint32_t limit, const char *after) {
    Cairn__Request request;
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, limit, after);
    return ca_testbed_send(bed, &request);
}

//  LedgerPending of `peer` after test payment number `after` (0: none).
static Cairn__Response *s_pending(ca_testbed_t *bed, const char *peer, uint32_t limit, int after) {
    uint8_t id[32];
    s_payment_id(after, id);
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, peer, limit, after ? id : NULL,
                              after ? 32 : 0);
    return ca_testbed_send(bed, &request);
}

//  Walks LedgerList `limit` at a time: every open channel once, in order,
//  `more` on every page but the last. Returns the number of pages.
static size_t s_walk_channels(ca_testbed_t *bed, uint32_t limit, char (*peers)[16], size_t total) {
    char after[16] = "";
    size_t seen = 0, pages = 0, page_size = limit ? limit : LEDGER_LIST_DEFAULT;
    bool more = true;
    while (more) {
        Cairn__Response *response =
            ca_testbed_ok(s_list(bed, limit, after), CAIRN__RESPONSE__BODY_LEDGER_LIST);
        const Cairn__PaymentChannelPage *page = response->ledger_list;
        size_t expected = total - seen < page_size ? total - seen : page_size;
        assert(page->n_channels == expected);
        for (size_t i = 0; i < page->n_channels; i++)
            assert(streq(page->channels[i]->peer_id, peers[seen++]));
        more = page->more;
        assert(more == (seen < total));
        if (page->n_channels)
            snprintf(after, sizeof after, "%s", page->channels[page->n_channels - 1]->peer_id);
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    assert(seen == total);
    return pages;
}

//  Walks LedgerPending of `peer` `limit` at a time: test payments
//  first..last but `skip`, each once, oldest first. Returns the pages.
static size_t s_walk_pending(ca_testbed_t *bed, const char *peer, uint32_t limit, int first,
                             int last, int skip) {
    int after = 0, next = first;
    size_t pages = 0, page_size = limit ? limit : LEDGER_PENDING_DEFAULT;
    bool more = true;
    while (more) {
        Cairn__Response *response =
            ca_testbed_ok(s_pending(bed, peer, limit, after), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
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

static void s_test_paging(ca_testbed_t *bed) {
    //  LedgerList: peer-a and 25 more open channels, by peer id.
    char peers[26][16];
    snprintf(peers[0], sizeof peers[0], "peer-a");
    for (int i = 0; i < 25; i++) {
        snprintf(peers[i + 1], sizeof peers[i + 1], "pg-%02d", i);
        cairn__response__free_unpacked(
            ca_testbed_ok(s_open(bed, peers[i + 1], 0, 100), CAIRN__RESPONSE__BODY_LEDGER_OPEN),
            NULL);
    }
    assert(s_walk_channels(bed, 7, peers, 26) == 4);    //  7 7 7 5
    assert(s_walk_channels(bed, 13, peers, 26) == 2);   //  exactly full: no more after
    assert(s_walk_channels(bed, 0, peers, 26) == 1);    //  the default page holds them all
    assert(s_walk_channels(bed, 1000, peers, 26) == 1); //  the most
    ca_testbed_fails(s_list(bed, LEDGER_LIST_MAX + 1, NULL), CAIRN__STATUS__INVALID,
                     "at most 1000");
    ca_testbed_fails(s_list(bed, 0, "../x"), CAIRN__STATUS__INVALID, "after_peer_id");
    Cairn__Response *response =
        ca_testbed_ok(s_list(bed, 5, "zz"), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    assert(response->ledger_list->n_channels == 0 && !response->ledger_list->more);
    cairn__response__free_unpacked(response, NULL);

    //  LedgerPending: 25 payments (100..124) on pg-00, 7 at a time.
    uint8_t public_key[32], secret[64];
    crypto_sign_keypair(public_key, secret);
    s_add_peer(bed, "pg-00", public_key);
    for (int n = 100; n < 125; n++)
        cairn__response__free_unpacked(
            ca_testbed_ok(s_pay(bed, "pg-00", n, 1, secret), CAIRN__RESPONSE__BODY_LEDGER_PAY),
            NULL);
    assert(s_walk_pending(bed, "pg-00", 7, 100, 124, 0) == 4);
    assert(s_walk_pending(bed, "pg-00", 5, 100, 124, 0) == 5);
    assert(s_walk_pending(bed, "pg-00", 0, 100, 124, 0) == 1);
    ca_testbed_fails(s_pending(bed, "pg-00", LEDGER_PENDING_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "at most 10000");
    ca_testbed_fails(s_pending(bed, "pg-00", 0, 999), CAIRN__STATUS__NOT_FOUND,
                     "last payment of the previous page");
    ca_testbed_fails(s_pending(bed, "pg-00", 0, 2), CAIRN__STATUS__NOT_FOUND, //  peer-a's
                     "last payment of the previous page");
    uint8_t wide[33] = {0};
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, "pg-00", 0, wide, 31);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "after_payment_id");
    ca_request_ledger_pending(&request, &pending, 0, "pg-00", 0, wide, 33);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "after_payment_id");

    //  A cursor cleared since still marks its place; the cleared one is gone.
    uint8_t id[32];
    s_payment_id(106, id);
    ProtobufCBinaryData ids[1] = {{32, id}};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 1);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR), NULL);
    response = ca_testbed_ok(s_pending(bed, "pg-00", 3, 106), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    assert(response->ledger_pending->n_payments == 3 && response->ledger_pending->more);
    s_payment_id(107, id);
    assert(memcmp(response->ledger_pending->payments[0]->id.data, id, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    assert(s_walk_pending(bed, "pg-00", 7, 100, 124, 106) == 4); //  24 left: 7 7 7 3
}

void ledger_test(bool verbose) {
    if (verbose)
        printf(" * ledger: ");
    s_test_encoding();
    const ca_schema_t *before[] = {&msg_schema};
    ca_testbed_t *bed = ca_testbed_new_with(&ledger_store_def, before, 1);
    s_test_channels(bed);
    s_test_history(bed);
    s_test_payments(bed);
    s_test_paging(bed);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ledger_payments - the payments half of the ledger store

    What it owns: the payments. The check of a payment's Ed25519 signature
    (over the canonical encoding of actors/wire/ledger_encoding.c); the
    payment requests of schemas/ledger.proto (LedgerPay, LedgerPending: a
    page of a channel's payments not cleared, each with its provenance
    shares, and LedgerClear). It reads and writes `ledger_payments` and
    `ledger_payment_shares`, moves a payment's amount in `ledger_channels`
    and reads `peers`; the schema itself, the channels, the handler table
    and the self-test that drives these handlers are ledger.c's (see its
    prose for the requests, the money rules and the paging contract).
    It has no state of its own: ledger.c's table points its rows here, so
    it runs on the ledger's worker threads, with their read connections
    and their replies, and nothing else calls it.

    Invariants:
    - A payment's Ed25519 signature is checked against the public key the
      peers store holds for the paying peer (table `peers` of the same
      database, read through this worker's read connection) before
      anything is written: an unknown or blocked peer, or a bad signature,
      is UNAUTHORIZED. The signed bytes are ledger_payment_encode's (v3):
      the channel is part of them, so a payment cannot be replayed on
      another channel of the same key, and so is this node's own peer id
      (ca_store_settings: node_peer_id), so it cannot be replayed on another
      node. A node without an identity takes no payment; a v2 signature
      (no payee) is recognised and refused with a message to sign v3; an
      expired payment (expires_at not after now) is refused, all
      UNAUTHORIZED and before anything is written.
    - A payment is stored exactly as signed (id, amount, recipient, query
      hash, timestamp, shares in order, their weights' bits), so a pending
      payment read back still verifies; -0.0 and non-finite timestamps are
      refused for that reason.
    - LedgerPay's write checks, in this order and inside the writer's
      transaction: the id is new (CONFLICT), the channel exists
      (NOT_FOUND) and is open (CONFLICT), their_balance covers the amount
      (INVALID, in the UPDATE's WHERE); only then are the payment and its
      shares inserted. Any failure moves nothing.
    - Clearing only turns cleared from 0 to 1: clearing again is harmless
      and counts 0. A pending page's cursor is a payment id on the same
      channel, cleared or not; unknown or on another channel it is NOT_FOUND.
    ========================================================================= */

#include "ledger.h"
#include "ca_clock.h"
#include "ca_limits.h"
#include "ledger_payments.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define LEDGER_SHARES_MAX 1000
#define LEDGER_CLEAR_MAX  1000
#define LEDGER_PUBLIC_KEY 32

#define PAYMENT_COLUMNS                                                                            \
    "seq, id, channel_peer, amount, recipient, query_hash, timestamp, signature, cleared,"         \
    " expires_at"

//  ---- checks on input ----------------------------------------------------------------

static bool s_bytes_ok(const char *field, const ProtobufCBinaryData *bytes, size_t size,
                       ca_reply_t *reply) {
    if (bytes->len != size) {
        ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; it must be exactly %zu", field,
                       bytes->len, size);
        return false;
    }
    return true;
}

//  ---- LedgerPay ----------------------------------------------------------------------------

static bool s_payment_fields_ok(const Cairn__Payment *payment, ca_reply_t *reply) {
    if (!s_bytes_ok("payment.id", &payment->id, 32, reply) ||
        !ledger_peer_ok("payment.channel_peer", payment->channel_peer, reply) ||
        !ledger_peer_ok("payment.recipient", payment->recipient, reply) ||
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
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT public_key, blocked FROM peers WHERE peer_id = ?1", reply);
    if (!stmt)
        return false;
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
        ledger_read_failed(reply, stmt, rc, "read the peer's public key");
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

void ledger_payments_pay(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Payment *payment = request->ledger_pay->payment;
    if (!payment) {
        ca_reply_error(reply, CA_INVALID, "the request has no payment; send one");
        return;
    }
    if (!s_payment_fields_ok(payment, reply))
        return;
    const char *payee = ca_store_settings(store)->node_peer_id;
    if (!*payee) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "this node has no identity, and a payment must be signed for the payee "
                       "node's peer id: create one (cairnd identity init) and restart the node; "
                       "nothing moved");
        return;
    }
    uint8_t key[LEDGER_PUBLIC_KEY];
    if (!s_peer_key(store, payment->channel_peer, key, reply))
        return;
    if (!ledger_payment_verify(payment, payee, key)) {
        if (ledger_payment_verify_v2(payment, key))
            ca_reply_error(reply, CA_UNAUTHORIZED,
                           "the payment is signed with " LEDGER_DOMAIN_V2 ", which is no longer "
                           "accepted (it names no payee node and no expiry): sign " LEDGER_DOMAIN
                           " for payee %s with expires_at set (see Payment in "
                           "schemas/ledger.proto); nothing moved",
                           payee);
        else
            ca_reply_error(reply, CA_UNAUTHORIZED,
                           "the payment's signature does not verify with peer %s's key for "
                           "payee %s (this node); it must sign the " LEDGER_DOMAIN
                           " encoding for this node's peer id (see Payment in "
                           "schemas/ledger.proto); nothing moved",
                           payment->channel_peer, payee);
        return;
    }
    double clock = ca_now_seconds_ms();
    if ((double)payment->expires_at <= clock) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "the payment expired at %" PRIu64 " (unix seconds; the node's clock is "
                       "%.0f): the payer must sign a new one with a later expires_at; nothing "
                       "moved",
                       payment->expires_at, clock);
        return;
    }
    double now = clock;
    ca_write_t *write = ca_write_new();
    ca_write_durable(write);
    ca_write_statement(write, "SELECT 1 FROM ledger_payments WHERE id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "a payment with this id is already recorded; nothing moved");
    ca_write_blob(write, payment->id.data, 32);
    ledger_write_channel_exists(write, payment->channel_peer);
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
                       " query_hash, timestamp, signature, received_at, expires_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
    ca_write_int(write, (int64_t)payment->expires_at);
    s_write_shares(write, payment);
    ca_store_write(store, &write, reply);
}

//  The payment as stored is the request's, not cleared.
void ledger_payments_paid(ca_store_t *store, const Cairn__Request *request,
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
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT root, weight FROM ledger_payment_shares"
                                          " WHERE payment_seq = ?1 ORDER BY position",
                                          reply);
    if (!stmt)
        return false;
    sqlite3_bind_int64(stmt, 1, seq);
    Cairn__ProvenanceShare **shares = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ca_reply_realloc(reply, &shares, count + 1, sizeof *shares))
            break; //  rc is SQLITE_ROW: answered
        Cairn__ProvenanceShare *share =
            (Cairn__ProvenanceShare *)ca_reply_alloc(reply, sizeof(Cairn__ProvenanceShare));
        cairn__provenance_share__init(share);
        share->root = s_column_bytes(stmt, 0, reply);
        share->weight = (uint64_t)sqlite3_column_int64(stmt, 1);
        shares[count++] = share;
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok && rc != SQLITE_ROW)
        ledger_read_failed(reply, stmt, rc, "read a payment's provenance");
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
    payment->expires_at = (uint64_t)sqlite3_column_int64(stmt, 9);
    return payment;
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
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT seq FROM ledger_payments"
                                          " WHERE id = ?1 AND channel_peer = ?2",
                                          reply);
    if (!stmt)
        return false;
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
        ledger_read_failed(reply, stmt, rc, "read the cursor payment");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

void ledger_payments_pending(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__LedgerPending *pending = request->ledger_pending;
    const char *peer_id = pending->peer_id;
    if (!ledger_peer_ok("peer_id", peer_id, reply))
        return;
    size_t limit = ca_page_limit(pending->limit, LEDGER_PENDING_DEFAULT, LEDGER_PENDING_MAX,
                                 "payments per page", "after_payment_id", reply);
    int64_t after_seq;
    if (!limit ||
        (pending->after_payment_id.len &&
         !s_bytes_ok("after_payment_id", &pending->after_payment_id, 32, reply)) ||
        !ledger_channel_known(store, peer_id, reply) ||
        !s_pending_cursor(store, peer_id, &pending->after_payment_id, &after_seq, reply))
        return;
    //  Shares are read with a second statement while this one is open:
    //  collect the payments first.
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT " PAYMENT_COLUMNS " FROM ledger_payments"
                                          " WHERE channel_peer = ?1 AND cleared = 0"
                                          " AND seq > ?2 ORDER BY seq LIMIT ?3",
                                          reply);
    if (!stmt)
        return;
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
        if (!ca_reply_realloc(reply, &payments, count + 1, sizeof *payments) ||
            !ca_reply_realloc(reply, &seqs, count + 1, sizeof *seqs))
            break; //  rc is SQLITE_ROW: answered
        seqs[count] = sqlite3_column_int64(stmt, 0);
        payments[count++] = s_payment_from_stmt(stmt, reply);
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok && rc != SQLITE_ROW)
        ledger_read_failed(reply, stmt, rc, "read the pending payments");
    sqlite3_reset(stmt);
    //  A payment may carry 1000 shares: the page also stops before its
    //  answer passes CA_PAGE_BYTES_MAX (a payment is at most ~50 KB, so
    //  at most one is read in vain).
    size_t bytes = 0;
    for (size_t i = 0; ok && i < count; i++) {
        ok = s_load_shares(store, seqs[i], payments[i], reply);
        size_t item = ok ? cairn__payment__get_packed_size(payments[i]) + 8 : 0; //  + key, length
        if (ok && i > 0 && bytes + item > CA_PAGE_BYTES_MAX) {
            count = i;
            more = true;
            break;
        }
        bytes += item;
    }
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

void ledger_payments_clear(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
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

void ledger_payments_cleared(ca_store_t *store, const Cairn__Request *request,
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

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"

#include <sodium.h>

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
    payment.expires_at = 0x1112131415161718ULL;
    size_t size;
    uint8_t *bytes = ledger_payment_encode(&payment, "n", &size);
    assert(bytes && size == 16 + 32 + 8 + 2 + 2 + 32 + 4 + 40 + 8 + 2 + 1 + 2 + 1 + 8);
    assert(memcmp(bytes, "cairn-payment-v3", 16) == 0 && bytes[16] == 1 && bytes[47] == 1);
    assert(bytes[144] == 0 && bytes[145] == 1 && bytes[146] == 'p'); //  the channel's peer
    assert(bytes[147] == 0 && bytes[148] == 1 && bytes[149] == 'n'); //  the payee
    static const uint8_t expiry[8] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
    assert(memcmp(bytes + 150, expiry, 8) == 0);
    static const uint8_t amount[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert(memcmp(bytes + 48, amount, 8) == 0);
    assert(bytes[56] == 0 && bytes[57] == 2 && bytes[58] == 'a' && bytes[59] == 'b');
    assert(bytes[60] == 2 && bytes[91] == 2);
    assert(bytes[92] == 0 && bytes[93] == 0 && bytes[94] == 0 && bytes[95] == 1);
    assert(bytes[96] == 3 && bytes[127] == 3 && bytes[135] == 9);
    static const uint8_t one[8] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0}; //  1.0 as IEEE-754
    assert(memcmp(bytes + 136, one, 8) == 0);
    //  v2: the same bytes up to the channel, under its own domain.
    size_t v2_size;
    uint8_t *v2 = ledger_payment_encode_v2(&payment, &v2_size);
    assert(v2 && v2_size == size - 11 && memcmp(v2, "cairn-payment-v2", 16) == 0);
    assert(memcmp(v2 + 16, bytes + 16, v2_size - 16) == 0);
    //  Signed for one channel, payee and expiry, it verifies for nothing else.
    uint8_t public_key[32], secret_key[64], signature[64];
    crypto_sign_keypair(public_key, secret_key);
    crypto_sign_detached(signature, NULL, bytes, size, secret_key);
    payment.signature.data = signature;
    payment.signature.len = sizeof signature;
    assert(ledger_payment_verify(&payment, "n", public_key));
    assert(!ledger_payment_verify_v2(&payment, public_key));
    assert(!ledger_payment_verify(&payment, "m", public_key));
    assert(!ledger_payment_verify(&payment, "", public_key));
    payment.expires_at++;
    assert(!ledger_payment_verify(&payment, "n", public_key));
    payment.expires_at--;
    payment.channel_peer = (char *)"q";
    assert(!ledger_payment_verify(&payment, "n", public_key));
    payment.channel_peer = (char *)"p";
    crypto_sign_detached(signature, NULL, v2, v2_size, secret_key);
    assert(ledger_payment_verify_v2(&payment, public_key));
    assert(!ledger_payment_verify(&payment, "n", public_key));
    free(bytes);
    free(v2);
    payment.query_hash.len = 31;
    assert(!ledger_payment_encode(&payment, "n", &size));
}

void ledger_payments_test(bool verbose) {
    if (verbose)
        printf(" * ledger_payments: ");
    s_test_encoding();
    if (verbose)
        printf("OK\n");
}

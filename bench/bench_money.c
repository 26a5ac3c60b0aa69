/*  =========================================================================
    bench_money - cairn-bench's ledger and settlement cases: signed
    payments against raw Ed25519 verification, the settlement queue
    against raw SQLite running the store's own SQL

    The questions: is LedgerPay dominated by verifying the
    payment's signature (the aim: at least half the rate of plain
    crypto_sign_verify_detached on the same payloads), and how fast are
    SettleEnqueue and SettleTotal next to raw SQLite doing the same SQL.

    Payments. One payer with a fresh Ed25519 key, known to the node as a
    peer (PeerPut) with an open channel whose their_balance is far more
    than the run can spend. Payment n has a distinct id (n big-endian,
    then a fixed pattern), amount PAY_AMOUNT, recipient PAY_RECIPIENT, a
    fixed query hash, PAY_SHARES provenance shares and timestamp
    PAY_EPOCH + n; it is signed over ledger_payment_encode's canonical
    bytes (the node's own encoder). Payments are signed ahead, untimed,
    so the client's signing is not measured; the canonical payloads are
    kept for the raw case.

        raw.ed25519_verify     crypto_sign_verify_detached of the signed
                               payloads in turn, one thread (every one
                               must verify)
        node.ledger_pay.pipelined
                               LedgerPay of distinct signed payments from
                               one client, --window outstanding. Every
                               answer must be OK with the payment; at the
                               end LedgerGet must show exactly the amounts
                               paid moved to my_balance. The node serves
                               every ledger write on worker 0 (one thread
                               verifies), and commits with synchronous=FULL

    The number signed is the raw rate times --seconds times PAY_HEADROOM
    (PAY_DEFAULT_RATE when the raw case did not run), at least PAY_MIN,
    at most PAY_MAX and --max-ops; the node case stops early when it has
    sent them all (its rate is still right; the line says so).

    Settlement. The raw database is a fresh one beside the node's temp
    dirs, with settlement_schema's tables and indexes, WAL and
    synchronous=FULL (the node commits every settlement write durably).
    Distribution n: payment id as above (another pattern), recipient
    "bench-recipient-<n % SETTLE_RECIPIENTS>", amount n % 1000 + 1, a fixed
    source hash, queued_at now. Both sides number their distributions
    from 1 and never repeat one.

        sqlite.settle_total    the store's SettleTotal statement (SELECT
                               amount ... WHERE batch_id IS NULL), stepped
                               and added in C with an overflow check, as
                               the worker does, over SETTLE_TOTAL_ROWS
                               pending rows
        node.settle_total      SettleTotal (all recipients) over the same
                               rows, at most TOTAL_WINDOW outstanding;
                               every answer's total and count must be the
                               expected ones
        sqlite.settle_enqueue.tx1000
                               the store's INSERT ... ON CONFLICT DO
                               NOTHING, prepared, 1000 rows per
                               transaction
        node.settle_enqueue.pipelined
                               SettleEnqueue of distinct distributions,
                               --window outstanding; every answer must say
                               created

    The total cases run first (in table order), each filling its side
    with rows 1..SETTLE_TOTAL_ROWS untimed, so both sum exactly the same
    pending rows; the enqueue cases then add rows after those.
    ========================================================================= */

#include "bench.h"
#include "ca_clock.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "ledger.h"
#include "settlement.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAY_PEER          "bench-payer"
#define PAY_RECIPIENT     "bench-author"
#define PAY_AMOUNT        1
#define PAY_SHARES        2
#define PAY_EPOCH         1700000000.25
#define PAY_BALANCE       UINT64_C(1000000000000000) //  the payer's side of the channel
#define PAY_MIN           4096                       //  payments signed at least
#define PAY_MAX           2000000                    //  and at most
#define PAY_DEFAULT_RATE  50000.0 //  verifications/s assumed without the raw case
#define PAY_HEADROOM      1.5     //  the node could be a little faster than raw
#define SETTLE_RECIPIENTS 16
#define SETTLE_TOTAL_ROWS 20000
#define TOTAL_WINDOW      16 //  node.settle_total: at most this many outstanding
#define RAW_BATCH         CA_DEFAULT_WRITER_BATCH
#define SETUP_SECONDS     600.0 //  bound of an untimed fill, never reached
#define SETUP_CALL_MS     10000

struct _bench_money_t {
    //  payments
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret[crypto_sign_SECRETKEYBYTES];
    uint64_t signed_count; //  payments 1..signed_count are signed
    uint64_t capacity;
    size_t payload_size; //  every payment's canonical encoding has this size
    uint8_t *payloads;   //  signed_count * payload_size
    uint8_t (*signatures)[crypto_sign_BYTES];
    double raw_rate; //  of raw.ed25519_verify, 0 when it did not run
    bool node_channel;
    uint64_t node_paid; //  payments the node accepted
    //  settlement
    char *raw_dir;
    sqlite3 *raw;
    uint64_t raw_rows;  //  distributions 1..raw_rows are in the raw database
    uint64_t node_rows; //  and 1..node_rows in the node's
};

//  ---- payments ----------------------------------------------------------------------

typedef struct {
    uint8_t id[32], query[32], roots[PAY_SHARES][32];
    Cairn__ProvenanceShare shares[PAY_SHARES], *share_list[PAY_SHARES];
    Cairn__Payment payment;
} payment_t;

//  A 32-byte id: n big-endian, then `fill`.
static void s_id(uint8_t *id, uint64_t n, uint8_t fill) {
    memset(id, fill, 32);
    for (int i = 0; i < 8; i++)
        id[i] = (uint8_t)(n >> (56 - 8 * i));
}

//  Payment n, unsigned; its bytes live in `p`.
static void s_payment(payment_t *p, uint64_t n) {
    memset(p, 0, sizeof *p);
    s_id(p->id, n, 'p');
    memset(p->query, 'q', sizeof p->query);
    ca_request_payment_init(&p->payment, p->id, sizeof p->id, PAY_PEER, PAY_AMOUNT, PAY_RECIPIENT,
                            p->query, sizeof p->query, PAY_EPOCH + (double)n);
    for (int i = 0; i < PAY_SHARES; i++) {
        memset(p->roots[i], 'a' + i, 32);
        cairn__provenance_share__init(&p->shares[i]);
        p->shares[i].root.data = p->roots[i];
        p->shares[i].root.len = 32;
        p->shares[i].weight = 100 + (uint64_t)i;
        p->share_list[i] = &p->shares[i];
    }
    p->payment.provenance = p->share_list;
    p->payment.n_provenance = PAY_SHARES;
}

static bench_money_t *s_money(bench_t *bench) {
    if (bench->money)
        return bench->money;
    bench_money_t *self = (bench_money_t *)calloc(1, sizeof *self);
    assert(self);
    crypto_sign_keypair(self->public_key, self->secret);
    bench->money = self;
    return self;
}

//  Signs payments up to `count` (untimed); -1 after saying why.
static int s_sign_up_to(bench_money_t *self, uint64_t count) {
    if (count <= self->signed_count)
        return 0;
    int64_t start = zclock_usecs();
    for (uint64_t n = self->signed_count + 1; n <= count; n++) {
        payment_t p;
        s_payment(&p, n);
        size_t size = 0;
        uint8_t *payload = ledger_payment_encode(&p.payment, &size);
        if (!payload || (self->payload_size && size != self->payload_size)) {
            free(payload);
            return bench_fail("ledger", "payment %" PRIu64 " has no canonical encoding", n);
        }
        if (n > self->capacity) {
            uint64_t capacity = self->capacity ? self->capacity : PAY_MIN;
            while (capacity < count)
                capacity *= 2;
            self->payloads = (uint8_t *)realloc(self->payloads, capacity * size);
            self->signatures = realloc(self->signatures, capacity * sizeof *self->signatures);
            assert(self->payloads && self->signatures);
            self->capacity = capacity;
        }
        self->payload_size = size;
        memcpy(self->payloads + (n - 1) * size, payload, size);
        crypto_sign_detached(self->signatures[n - 1], NULL, payload, size, self->secret);
        free(payload);
        self->signed_count = n;
    }
    printf("ledger: %" PRIu64 " payments signed (%zu-byte canonical payloads) in %.2f s, "
           "untimed\n",
           self->signed_count, self->payload_size, (double)(zclock_usecs() - start) / 1e6);
    fflush(stdout);
    return 0;
}

int bench_run_raw_ed25519_verify(bench_t *bench, result_t *result) {
    bench_money_t *self = s_money(bench);
    if (s_sign_up_to(self, PAY_MIN) != 0)
        return -1;
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t k = result->ok % self->signed_count;
        if (crypto_sign_verify_detached(self->signatures[k],
                                        self->payloads + k * self->payload_size, self->payload_size,
                                        self->public_key) == 0)
            result->ok++;
        else
            rc = bench_fail("raw.ed25519_verify", "payment %" PRIu64 " does not verify", k + 1);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0 && result->seconds > 0)
        self->raw_rate = (double)result->ok / result->seconds;
    return rc;
}

//  Calls the node once; the response when it is OK with `body`, else NULL
//  after saying why.
static Cairn__Response *s_setup_call(zsock_t *client, Cairn__Request *request,
                                     Cairn__Response__BodyCase body, const char *what) {
    Cairn__Response *response = harness_call(client, request, SETUP_CALL_MS);
    if (response && response->status == CAIRN__STATUS__OK && response->body_case == body)
        return response;
    bench_fail(what, "%s", !response ? "no answer" : response->error ? response->error : "?");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return NULL;
}

//  The payer as a peer of the node, with an open channel.
static int s_node_channel(bench_money_t *self, zsock_t *client) {
    if (self->node_channel)
        return 0;
    Cairn__Peer peer;
    ca_request_peer_init(&peer, PAY_PEER, self->public_key, "127.0.0.1", 7000, "cairn bench");
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 1, &peer, NULL);
    Cairn__Response *response =
        s_setup_call(client, &request, CAIRN__RESPONSE__BODY_PEER_PUT, "PeerPut of the payer");
    if (!response)
        return -1;
    cairn__response__free_unpacked(response, NULL);
    Cairn__PaymentChannel channel;
    ca_request_ledger_channel_init(&channel, PAY_PEER, CAIRN__CHANNEL_STATE__CHANNEL_OPEN, 0,
                                   PAY_BALANCE, 0);
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 2, &channel);
    response = s_setup_call(client, &request, CAIRN__RESPONSE__BODY_LEDGER_OPEN,
                            "LedgerOpen of the payer's channel");
    if (!response)
        return -1;
    cairn__response__free_unpacked(response, NULL);
    self->node_channel = true;
    return 0;
}

//  The channel must show exactly the payments accepted.
static int s_check_channel(bench_money_t *self, zsock_t *client) {
    Cairn__Request request;
    Cairn__LedgerGet get;
    ca_request_ledger_get(&request, &get, 3, PAY_PEER);
    Cairn__Response *response = s_setup_call(client, &request, CAIRN__RESPONSE__BODY_LEDGER_GET,
                                             "LedgerGet of the payer's channel");
    if (!response)
        return -1;
    const Cairn__PaymentChannel *channel = response->ledger_get;
    uint64_t paid = self->node_paid * PAY_AMOUNT;
    int rc = channel->my_balance == paid && channel->their_balance == PAY_BALANCE - paid
                 ? 0
                 : bench_fail("node.ledger_pay",
                              "the channel holds %" PRIu64 "/%" PRIu64 " after %" PRIu64
                              " payments; wanted %" PRIu64 "/%" PRIu64,
                              channel->my_balance, channel->their_balance, self->node_paid, paid,
                              PAY_BALANCE - paid);
    cairn__response__free_unpacked(response, NULL);
    return rc;
}

typedef struct {
    bench_money_t *money;
    uint64_t first; //  request id k pays payment first + k
} pay_t;

static int s_pay_send(void *handle, uint64_t id, void *context) {
    pay_t *pay = (pay_t *)context;
    uint64_t n = pay->first + id;
    payment_t p;
    s_payment(&p, n);
    p.payment.signature.data = pay->money->signatures[n - 1];
    p.payment.signature.len = crypto_sign_BYTES;
    Cairn__Request request;
    Cairn__LedgerPay ledger_pay;
    ca_request_ledger_pay(&request, &ledger_pay, id, &p.payment);
    return bench_send_request(handle, &request);
}

static int s_pay_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                        result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_LEDGER_PAY ||
                                   response->ledger_pay->amount != PAY_AMOUNT)) {
        bench_first_error(result, "payment %" PRIu64 ": not the payment's answer", *id);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_pay_wire = {s_pay_send, s_pay_decode};

int bench_run_node_ledger_pay(bench_t *bench, result_t *result) {
    const char *name = "node.ledger_pay.pipelined";
    bench_money_t *self = s_money(bench);
    double rate = self->raw_rate > 0 ? self->raw_rate : PAY_DEFAULT_RATE;
    double want = rate * bench->seconds * PAY_HEADROOM;
    uint64_t count = want < PAY_MIN ? PAY_MIN : want > PAY_MAX ? PAY_MAX : (uint64_t)want;
    count = count < bench->max_ops ? count : bench->max_ops;
    harness_node_t *node = bench_node(bench);
    if (!node || s_sign_up_to(self, self->node_paid + count) != 0)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    int rc = s_node_channel(self, client);
    pay_t pay = {self, self->node_paid};
    if (rc == 0)
        rc = bench_drive_for(bench->seconds, count, name, client, &s_pay_wire, &pay, bench->window,
                             result);
    self->node_paid += result->ok;
    if (rc == 0)
        rc = s_check_channel(self, client);
    zsock_destroy(&client);
    if (rc == 0 && result->ok + result->busy + result->errors == count)
        printf("%s: every signed payment was sent (%" PRIu64 "), before the time bound\n", name,
               count);
    return rc;
}

//  ---- settlement: raw SQLite ------------------------------------------------------------

//  Distribution n's fields.
static uint64_t s_amount(uint64_t n) {
    return n % 1000 + 1;
}

static void s_recipient(char *recipient, size_t size, uint64_t n) {
    snprintf(recipient, size, "bench-recipient-%" PRIu64, n % SETTLE_RECIPIENTS);
}

static uint64_t s_expected_total(uint64_t rows) {
    uint64_t total = 0;
    for (uint64_t n = 1; n <= rows; n++)
        total += s_amount(n);
    return total;
}

//  The raw database (settlement_schema, WAL, synchronous=FULL), made on
//  first use; NULL after saying why.
static sqlite3 *s_raw(bench_money_t *self) {
    if (self->raw)
        return self->raw;
    self->raw_dir = ca_test_tempdir("cairn-bench-settle");
    sqlite3 *db = bench_sqlite_open(self->raw_dir);
    int rc = db ? bench_sqlite_exec(db, "PRAGMA synchronous=FULL") : -1;
    sqlite3_stmt *stmt = NULL;
    if (rc == 0 && (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &stmt, NULL) != SQLITE_OK ||
                    sqlite3_step(stmt) != SQLITE_ROW || sqlite3_column_int(stmt, 0) != 2))
        rc = bench_fail("sqlite", "synchronous=FULL did not apply");
    sqlite3_finalize(stmt);
    for (size_t i = 0; rc == 0 && i < settlement_schema.count; i++)
        rc = bench_sqlite_exec(db, settlement_schema.migrations[i]);
    if (rc != 0) {
        sqlite3_close(db);
        return NULL;
    }
    self->raw = db;
    return db;
}

//  Inserts distributions raw_rows+1 .. raw_rows+count in one transaction.
static int s_raw_batch(bench_money_t *self, sqlite3_stmt *insert, uint64_t count) {
    if (bench_sqlite_exec(self->raw, "BEGIN IMMEDIATE") != 0)
        return -1;
    uint8_t source[32];
    memset(source, 's', sizeof source);
    for (uint64_t n = self->raw_rows + 1; n <= self->raw_rows + count; n++) {
        uint8_t payment_id[32];
        char recipient[48];
        s_id(payment_id, n, 'd');
        s_recipient(recipient, sizeof recipient, n);
        sqlite3_bind_blob(insert, 1, payment_id, sizeof payment_id, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, recipient, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(insert, 3, (sqlite3_int64)s_amount(n));
        sqlite3_bind_blob(insert, 4, source, sizeof source, SQLITE_STATIC);
        sqlite3_bind_double(insert, 5, ca_now_seconds_ms());
        int rc = sqlite3_step(insert);
        bool created = sqlite3_changes(self->raw) == 1;
        sqlite3_reset(insert);
        if (rc != SQLITE_DONE || !created) {
            bench_fail("sqlite", "INSERT of distribution %" PRIu64 ": %s", n,
                       rc != SQLITE_DONE ? sqlite3_errmsg(self->raw) : "not created");
            sqlite3_exec(self->raw, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (bench_sqlite_exec(self->raw, "COMMIT") != 0)
        return -1;
    self->raw_rows += count;
    return 0;
}

static sqlite3_stmt *s_raw_insert(bench_money_t *self) {
    sqlite3_stmt *insert = NULL;
    if (sqlite3_prepare_v2(self->raw,
                           "INSERT INTO settle_distributions (payment_id, recipient, amount,"
                           " source_hash, queued_at) VALUES (?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT (payment_id, recipient) DO NOTHING",
                           -1, &insert, NULL) != SQLITE_OK) {
        bench_fail("sqlite", "INSERT: %s", sqlite3_errmsg(self->raw));
        sqlite3_finalize(insert);
        return NULL;
    }
    return insert;
}

int bench_run_sqlite_settle_enqueue(bench_t *bench, result_t *result) {
    bench_money_t *self = s_money(bench);
    sqlite3_stmt *insert = s_raw(self) ? s_raw_insert(self) : NULL;
    int rc = insert ? 0 : -1;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t count = bench->max_ops - result->ok;
        count = count < RAW_BATCH ? count : RAW_BATCH;
        rc = s_raw_batch(self, insert, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(insert);
    return rc;
}

//  The raw side filled to SETTLE_TOTAL_ROWS (untimed); -1 after saying why.
static int s_raw_fill(bench_money_t *self) {
    if (self->raw_rows > 0)
        return self->raw_rows == SETTLE_TOTAL_ROWS
                   ? 0
                   : bench_fail("sqlite.settle_total",
                                "the raw queue holds %" PRIu64
                                " rows already; the total cases run before the enqueue cases",
                                self->raw_rows);
    sqlite3_stmt *insert = s_raw(self) ? s_raw_insert(self) : NULL;
    int rc = insert ? 0 : -1;
    while (rc == 0 && self->raw_rows < SETTLE_TOTAL_ROWS) {
        uint64_t count = SETTLE_TOTAL_ROWS - self->raw_rows;
        rc = s_raw_batch(self, insert, count < RAW_BATCH ? count : RAW_BATCH);
    }
    sqlite3_finalize(insert);
    return rc;
}

int bench_run_sqlite_settle_total(bench_t *bench, result_t *result) {
    const char *name = "sqlite.settle_total";
    bench_money_t *self = s_money(bench);
    if (s_raw_fill(self) != 0)
        return -1;
    uint64_t expected = s_expected_total(SETTLE_TOTAL_ROWS);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(self->raw,
                                "SELECT amount FROM settle_distributions WHERE batch_id IS NULL",
                                -1, &stmt, NULL) == SQLITE_OK
                 ? 0
                 : bench_fail(name, "%s", sqlite3_errmsg(self->raw));
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t total = 0, count = 0;
        bool overflow = false;
        int step;
        while (!overflow && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
            overflow =
                __builtin_add_overflow(total, (uint64_t)sqlite3_column_int64(stmt, 0), &total);
            count++;
        }
        sqlite3_reset(stmt);
        if (overflow || step != SQLITE_DONE || total != expected || count != SETTLE_TOTAL_ROWS)
            rc = bench_fail(name,
                            "the sum is %" PRIu64 " of %" PRIu64 " rows; wanted %" PRIu64 " of %d",
                            total, count, expected, SETTLE_TOTAL_ROWS);
        else
            result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(stmt);
    return rc;
}

//  ---- settlement: the node ----------------------------------------------------------------

typedef struct {
    uint64_t first; //  request id k enqueues distribution first + k
} enqueue_t;

static int s_enqueue_send(void *handle, uint64_t id, void *context) {
    enqueue_t *enqueue = (enqueue_t *)context;
    uint64_t n = enqueue->first + id;
    uint8_t payment_id[32], source[32];
    char recipient[48];
    s_id(payment_id, n, 'd');
    memset(source, 's', sizeof source);
    s_recipient(recipient, sizeof recipient, n);
    Cairn__Distribution distribution;
    ca_request_distribution(&distribution, payment_id, sizeof payment_id, recipient, s_amount(n),
                            source, sizeof source, 0);
    Cairn__Request request;
    Cairn__SettleEnqueue settle;
    ca_request_settle_enqueue(&request, &settle, id, &distribution);
    return bench_send_request(handle, &request);
}

static int s_enqueue_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                            result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE ||
                                   !response->settle_enqueue->created)) {
        bench_first_error(result, "distribution %" PRIu64 " was not created", *id);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_enqueue_wire = {s_enqueue_send, s_enqueue_decode};

int bench_run_node_settle_enqueue(bench_t *bench, result_t *result) {
    bench_money_t *self = s_money(bench);
    enqueue_t enqueue = {self->node_rows};
    int rc = bench_run_node(bench, result, "node.settle_enqueue.pipelined", &s_enqueue_wire,
                            &enqueue, bench->window);
    self->node_rows += result->ok;
    return rc;
}

//  The node filled to SETTLE_TOTAL_ROWS (untimed); -1 after saying why.
static int s_node_fill(bench_t *bench, bench_money_t *self) {
    if (self->node_rows > 0)
        return self->node_rows == SETTLE_TOTAL_ROWS
                   ? 0
                   : bench_fail("node.settle_total",
                                "the node's queue holds %" PRIu64
                                " rows already; the total cases run before the enqueue cases",
                                self->node_rows);
    harness_node_t *node = bench_node(bench);
    if (!node)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    result_t fill = {0};
    enqueue_t enqueue = {0};
    int rc = bench_drive_for(SETUP_SECONDS, SETTLE_TOTAL_ROWS, "node.settle_total (fill)", client,
                             &s_enqueue_wire, &enqueue, bench->window, &fill);
    zsock_destroy(&client);
    self->node_rows = fill.ok;
    if (rc == 0 && fill.ok != SETTLE_TOTAL_ROWS)
        rc = bench_fail("node.settle_total", "%" PRIu64 " of %d distributions enqueued: %s",
                        fill.ok, SETTLE_TOTAL_ROWS, fill.first_error);
    if (rc == 0)
        printf("node.settle_total: %d distributions enqueued in %.2f s, untimed\n",
               SETTLE_TOTAL_ROWS, fill.seconds);
    return rc;
}

static int s_total_send(void *handle, uint64_t id, void *context) {
    Cairn__Request request;
    Cairn__SettleTotal total;
    ca_request_settle_total(&request, &total, id, NULL);
    return bench_send_request(handle, &request);
}

static int s_total_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context) {
    const uint64_t *expected = (const uint64_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_SETTLE_TOTAL ||
                                   response->settle_total->total != *expected ||
                                   response->settle_total->count != SETTLE_TOTAL_ROWS)) {
        bench_first_error(result, "total %" PRIu64 ": not %" PRIu64 " of %d rows", *id, *expected,
                          SETTLE_TOTAL_ROWS);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_total_wire = {s_total_send, s_total_decode};

int bench_run_node_settle_total(bench_t *bench, result_t *result) {
    bench_money_t *self = s_money(bench);
    if (s_node_fill(bench, self) != 0)
        return -1;
    uint64_t expected = s_expected_total(SETTLE_TOTAL_ROWS);
    int window = bench->window < TOTAL_WINDOW ? bench->window : TOTAL_WINDOW;
    return bench_run_node(bench, result, "node.settle_total", &s_total_wire, &expected, window);
}

void bench_money_destroy(bench_money_t **self_p) {
    bench_money_t *self = *self_p;
    if (!self)
        return;
    sodium_memzero(self->secret, sizeof self->secret);
    free(self->payloads);
    free(self->signatures);
    sqlite3_close(self->raw);
    if (self->raw_dir)
        ca_test_rmtree(self->raw_dir);
    zstr_free(&self->raw_dir);
    free(self);
    *self_p = NULL;
}

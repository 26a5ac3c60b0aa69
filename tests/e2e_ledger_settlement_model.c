/*  =========================================================================
    e2e_ledger_settlement_model - a seeded randomized run of mixed ledger and settlement
    operations against a real cairnd and a plain model kept in the test

        e2e-money model      MONEY_OPS operations (default 100000), then
                             every balance, pending set and total compared
        e2e-money kill9      the same, with a kill -9 of the node at a seeded
                             point while requests are in flight; a restart;
                             the operations in doubt resolved by reading
                             the state back; then the run goes on

    MONEY_SEED sets the seed (defaults: 0x6d6f6e6579 for model, 0x6b696c6c39
    for kill9).

    Operations, valid and invalid: channel opens (some existing), updates
    (stale nonces, sums that do not add up), adjustments (some below zero),
    payments (bad signatures, peers without keys, overspends, duplicate
    ids, amount 0), clears, enqueues (repeats, amount 0), marks (unknown
    payments, repeated ids, ids of batches SettleBatch made), batches and
    the last settlement time.

    The model is applied when an operation is sent, and the node's answer
    is checked against its prediction when it comes: both pools serve
    writes on worker 0, so the writes of one connection commit in the
    order sent, and each pool's state is what the model says after the
    operations sent so far. Requests a worker answers from what is
    committed at the time (SettleBatch picks what is pending; the reads)
    are sent only once every earlier answer is in.

    Whether a payment id is recorded is read without moving anything: a
    payment of 2^63-1 (more than any balance) with that id is CONFLICT when
    it is recorded (the duplicate check comes first), INVALID or NOT_FOUND
    when not.

    kill -9: the writer commits each pool's writes in the order it received
    them, so what survives is a prefix of the writes sent to each pool.
    Every change to the model is journaled per operation; after the
    restart the node's state is read back (channels, pending payments, the
    existence of every payment id, pending distributions, batches, the
    last time) and the operations in doubt are undone from the newest
    until the model matches, never undoing one the node acknowledged. An
    operation in doubt is thus resolved as applied or not by what the
    node holds, and everything else must match exactly.
    ========================================================================= */

#include "harness.h"
#include "ledger.h"
#include "settlement.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAY_EXPIRES 4102444800ULL //  2100-01-01: the model's payments never expire

#define CALL_MS    30000
#define CHECK      HARNESS_CHECK
#define PEERS      8 //  peer-0 .. peer-7; the last KEYLESS have no public key
#define KEYLESS    2
#define RECIPIENTS 5
#define MARK_IDS   16
#define WINDOW     64
#define SETUP_ID   (1ULL << 40) //  request ids of calls outside the run
#define TIME_BASE  1700000000.0

//  ---- the model -------------------------------------------------------------------

typedef struct {
    bool exists;
    int state;
    uint64_t mine, theirs, nonce;
    uint64_t logged; //  entries in its LedgerHistory: the opening and each adjustment
} channel_t;

enum { PAY_ABSENT = 0, PAY_PENDING, PAY_CLEARED };

typedef struct {
    uint8_t status;
    uint8_t peer;
    uint64_t amount;
    uint64_t seq; //  arrival order on the node
} payment_t;

typedef struct {
    bool exists;
    int32_t batch; //  -1: pending, else an index in the batch table
    uint64_t amount;
    double queued_at;
} distribution_t;

typedef struct {
    uint8_t id[32];
    bool made_by_batch;
} batch_t;

typedef struct {
    channel_t channels[PEERS];
    payment_t *payments; //  by payment number
    size_t next_payment;
    uint64_t payment_seq;
    distribution_t *dists; //  [d * RECIPIENTS + r]
    size_t next_dist;
    batch_t *batches;
    int32_t batch_count;
    int32_t mark_batch[MARK_IDS]; //  -1: no batch with mark id k yet
    bool last_set;
    double last_time;
} model_t;

//  ---- the journal: old bytes of every change, per operation -----------------------

typedef struct {
    void *addr;
    size_t size;
    uint8_t old[48];
} patch_t;

static patch_t *s_journal;
static size_t s_journal_size, s_journal_max;

static void s_save(void *addr, size_t size) {
    CHECK(size <= sizeof s_journal[0].old);
    if (s_journal_size == s_journal_max) {
        s_journal_max = s_journal_max ? s_journal_max * 2 : 4096;
        s_journal = (patch_t *)realloc(s_journal, s_journal_max * sizeof *s_journal);
        CHECK(s_journal);
    }
    patch_t *patch = &s_journal[s_journal_size++];
    patch->addr = addr;
    patch->size = size;
    memcpy(patch->old, addr, size);
}

#define SAVE(field) s_save(&(field), sizeof(field))

//  ---- operations ----------------------------------------------------------------

enum { POOL_LEDGER, POOL_SETTLE };

typedef enum {
    OP_OPEN,
    OP_UPDATE,
    OP_ADJUST,
    OP_PAY,
    OP_CLEAR,
    OP_ENQUEUE,
    OP_MARK,
    OP_LAST,
    OP_BATCH,
    OP_READ
} op_kind_t;

static const char *const s_kind_names[] = {"open",    "update", "adjust", "pay",   "clear",
                                           "enqueue", "mark",   "last",   "batch", "read"};

typedef struct {
    uint8_t kind, pool;
    bool answered;
    Cairn__Status expect;
    uint64_t check;                    //  cleared, created or settled as predicted
    uint64_t check2;                   //  a mark's already settled ids
    size_t journal_start, journal_end; //  its patches
} op_t;

typedef struct {
    harness_node_t *node;
    zsock_t *client;
    model_t m;
    op_t *ops;
    size_t op_count; //  sent
    size_t op_max;
    size_t in_flight;
    uint64_t seed;
    uint64_t setup_id;
    uint8_t secrets[PEERS][64];
    uint8_t (*pay_ids)[32];  //  id of payment n
    uint8_t (*dist_ids)[32]; //  payment id of distribution d
    uint8_t mark_ids[MARK_IDS][32];
    size_t counts[OP_READ + 1][2]; //  per kind: sent, answered OK
} run_t;

static uint64_t s_rand(run_t *run) {
    run->seed ^= run->seed << 13;
    run->seed ^= run->seed >> 7;
    run->seed ^= run->seed << 17;
    return run->seed;
}

static uint64_t s_below(run_t *run, uint64_t bound) {
    return bound ? s_rand(run) % bound : 0;
}

static void s_peer_name(int p, char name[16]) {
    snprintf(name, 16, "peer-%d", p);
}

static const char *s_recipient(int r) {
    static const char *const names[RECIPIENTS] = {"author-0", "author-1", "author-2", "author-3",
                                                  "author-4"};
    return names[r];
}

static void s_done(Cairn__Response *response) {
    cairn__response__free_unpacked(response, NULL);
}

//  A call outside the pipelined run (setup and reading back).
static Cairn__Response *s_call(run_t *run, Cairn__Request *request) {
    request->id = run->setup_id++;
    Cairn__Response *response = harness_call(run->client, request, CALL_MS);
    CHECK(response);
    return response;
}

//  ---- sending and answers ----------------------------------------------------------

static void s_answer(run_t *run, Cairn__Response *response) {
    CHECK(response->id >= 1 && response->id <= run->op_count);
    op_t *op = &run->ops[response->id - 1];
    CHECK(!op->answered);
    op->answered = true;
    run->in_flight--;
    if (response->status != op->expect) {
        fprintf(stderr, "op %" PRIu64 " (%s): status %d (%s), the model predicts %d\n",
                response->id, s_kind_names[op->kind], response->status,
                response->error ? response->error : "", op->expect);
        CHECK(false);
    }
    if (response->status == CAIRN__STATUS__OK) {
        run->counts[op->kind][1]++;
        if (op->kind == OP_CLEAR)
            CHECK(response->ledger_clear->cleared == op->check);
        else if (op->kind == OP_ENQUEUE)
            CHECK(response->settle_enqueue->created == (op->check != 0));
        else if (op->kind == OP_MARK)
            CHECK(response->settle_mark->settled == op->check &&
                  response->settle_mark->n_already_settled == op->check2);
    }
    s_done(response);
}

static void s_receive_one(run_t *run) {
    Cairn__Response *response = harness_recv(run->client, CALL_MS);
    CHECK(response);
    s_answer(run, response);
}

static void s_drain(run_t *run) {
    while (run->in_flight)
        s_receive_one(run);
}

//  Starts operation `kind` in the model: its patches go to the journal
//  from here until s_send.
static op_t *s_op_begin(run_t *run, op_kind_t kind, int pool) {
    CHECK(run->op_count < run->op_max);
    op_t *op = &run->ops[run->op_count];
    memset(op, 0, sizeof *op);
    op->kind = (uint8_t)kind;
    op->pool = (uint8_t)pool;
    op->expect = CAIRN__STATUS__OK;
    op->journal_start = s_journal_size;
    return op;
}

//  Sends the request of the operation begun last, within the window.
static void s_send(run_t *run, op_t *op, Cairn__Request *request) {
    op->journal_end = s_journal_size;
    request->id = ++run->op_count;
    run->counts[op->kind][0]++;
    while (run->in_flight >= WINDOW)
        s_receive_one(run);
    CHECK(harness_send(run->client, request) == 0);
    run->in_flight++;
}

//  ---- ledger operations --------------------------------------------------------------

static void s_op_open(run_t *run) {
    op_t *op = s_op_begin(run, OP_OPEN, POOL_LEDGER);
    int p = (int)s_below(run, PEERS);
    char peer[16];
    s_peer_name(p, peer);
    uint64_t mine = s_below(run, 500), theirs = s_below(run, 3000);
    int state = s_below(run, 10) < 8 ? CAIRN__CHANNEL_STATE__CHANNEL_OPEN : (int)s_below(run, 4);
    uint64_t variant = s_below(run, 20);
    Cairn__PaymentChannel channel;
    ca_request_ledger_channel_init(&channel, variant == 0 ? "a b" : peer,
                                   (Cairn__ChannelState)(variant == 1 ? 9 : state), mine, theirs,
                                   0);
    channel_t *c = &run->m.channels[p];
    if (variant <= 1)
        op->expect = CAIRN__STATUS__INVALID;
    else if (c->exists)
        op->expect = CAIRN__STATUS__CONFLICT;
    else {
        SAVE(*c);
        *c = (channel_t){true, state, mine, theirs, 0, 1};
    }
    Cairn__Request request;
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 0, &channel);
    s_send(run, op, &request);
}

static void s_op_update(run_t *run) {
    op_t *op = s_op_begin(run, OP_UPDATE, POOL_LEDGER);
    int p = (int)s_below(run, PEERS);
    char peer[16];
    s_peer_name(p, peer);
    channel_t *c = &run->m.channels[p];
    uint64_t sum = c->mine + c->theirs;
    uint64_t nonce = s_below(run, 5) == 0 ? s_below(run, c->nonce + 1) //  stale or replayed
                                          : c->nonce + 1 + s_below(run, 3);
    uint64_t mine = s_below(run, sum + 1);
    uint64_t theirs = sum - mine + (s_below(run, 6) == 0 ? 1 + s_below(run, 5) : 0);
    int state = s_below(run, 10) < 8 ? CAIRN__CHANNEL_STATE__CHANNEL_OPEN : (int)s_below(run, 4);
    if (!c->exists)
        op->expect = CAIRN__STATUS__NOT_FOUND;
    else if (nonce <= c->nonce)
        op->expect = CAIRN__STATUS__CONFLICT;
    else if (mine + theirs != sum)
        op->expect = CAIRN__STATUS__INVALID;
    else {
        SAVE(*c);
        *c = (channel_t){true, state, mine, theirs, nonce, c->logged};
    }
    Cairn__Request request;
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, peer, nonce, (Cairn__ChannelState)state, mine,
                             theirs);
    s_send(run, op, &request);
}

static void s_op_adjust(run_t *run) {
    op_t *op = s_op_begin(run, OP_ADJUST, POOL_LEDGER);
    int p = (int)s_below(run, PEERS);
    char peer[16];
    s_peer_name(p, peer);
    channel_t *c = &run->m.channels[p];
    int64_t mine = (int64_t)s_below(run, 301) - 150, theirs = (int64_t)s_below(run, 601) - 200;
    bool no_reason = s_below(run, 25) == 0;
    if (no_reason)
        op->expect = CAIRN__STATUS__INVALID;
    else if (!c->exists)
        op->expect = CAIRN__STATUS__NOT_FOUND;
    else if ((int64_t)c->mine + mine < 0 || (int64_t)c->theirs + theirs < 0)
        op->expect = CAIRN__STATUS__INVALID;
    else {
        SAVE(*c);
        c->mine = (uint64_t)((int64_t)c->mine + mine);
        c->theirs = (uint64_t)((int64_t)c->theirs + theirs);
        c->logged++;
    }
    Cairn__Request request;
    Cairn__LedgerAdjust adjust;
    ca_request_ledger_adjust(&request, &adjust, 0, peer, mine, theirs,
                             no_reason ? "" : "money test");
    s_send(run, op, &request);
}

//  A payment being built: the bytes it references live here.
typedef struct {
    char peer[16];
    uint8_t query[32], root[32], signature[64];
    Cairn__ProvenanceShare share, *shares[1];
    Cairn__Payment payment;
} test_payment_t;

//  Payment number n on peer p's channel, signed by p's key.
static void s_payment(run_t *run, test_payment_t *t, size_t n, int p, uint64_t amount) {
    memset(t, 0, sizeof *t);
    s_peer_name(p, t->peer);
    memset(t->query, 'q', 32);
    memset(t->root, 'r', 32);
    ca_request_payment_init(&t->payment, run->pay_ids[n], 32, t->peer, amount,
                            s_recipient((int)(n % RECIPIENTS)), t->query, 32,
                            TIME_BASE + (double)n);
    cairn__provenance_share__init(&t->share);
    t->share.root.data = t->root;
    t->share.root.len = 32;
    t->share.weight = n;
    t->shares[0] = &t->share;
    t->payment.provenance = t->shares;
    t->payment.n_provenance = 1;
    t->payment.expires_at = PAY_EXPIRES;
    size_t size;
    uint8_t *message = ledger_payment_encode(&t->payment, harness_node_peer_id(run->node), &size);
    CHECK(message);
    crypto_sign_detached(t->signature, NULL, message, size, run->secrets[p]);
    free(message);
    t->payment.signature.data = t->signature;
    t->payment.signature.len = 64;
}

static void s_op_pay(run_t *run) {
    op_t *op = s_op_begin(run, OP_PAY, POOL_LEDGER);
    model_t *m = &run->m;
    int p = (int)s_below(run, PEERS);
    bool repeat = m->next_payment > 0 && s_below(run, 7) == 0;
    size_t n = repeat ? s_below(run, m->next_payment) : m->next_payment++;
    uint64_t amount = 1 + s_below(run, 150);
    uint64_t variant = s_below(run, 30);
    test_payment_t t;
    s_payment(run, &t, n, p, amount);
    channel_t *c = &m->channels[p];
    payment_t *payment = &m->payments[n];
    if (variant == 0) { //  amount 0: refused before anything is checked
        t.payment.amount = 0;
        op->expect = CAIRN__STATUS__INVALID;
    } else if (variant <= 2 || p >= PEERS - KEYLESS) { //  a bad signature, or no key
        t.signature[variant] ^= 0x20;
        op->expect = CAIRN__STATUS__UNAUTHORIZED;
    } else if (payment->status != PAY_ABSENT)
        op->expect = CAIRN__STATUS__CONFLICT;
    else if (!c->exists)
        op->expect = CAIRN__STATUS__NOT_FOUND;
    else if (c->state != CAIRN__CHANNEL_STATE__CHANNEL_OPEN)
        op->expect = CAIRN__STATUS__CONFLICT;
    else if (c->theirs < amount)
        op->expect = CAIRN__STATUS__INVALID;
    else {
        SAVE(*c);
        SAVE(*payment);
        SAVE(m->payment_seq);
        c->theirs -= amount;
        c->mine += amount;
        *payment = (payment_t){PAY_PENDING, (uint8_t)p, amount, m->payment_seq++};
    }
    Cairn__Request request;
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 0, &t.payment);
    s_send(run, op, &request);
}

static void s_op_clear(run_t *run) {
    op_t *op = s_op_begin(run, OP_CLEAR, POOL_LEDGER);
    model_t *m = &run->m;
    size_t count = 1 + s_below(run, 5);
    ProtobufCBinaryData ids[5];
    bool bad = s_below(run, 40) == 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = s_below(run, m->next_payment + 1); //  the next one is unknown
        ids[i] = (ProtobufCBinaryData){32, run->pay_ids[n]};
        if (m->payments[n].status == PAY_PENDING && !bad) {
            SAVE(m->payments[n].status);
            m->payments[n].status = PAY_CLEARED;
            op->check++;
        }
    }
    if (bad) {
        ids[count - 1].len = 31;
        op->expect = CAIRN__STATUS__INVALID;
    }
    Cairn__Request request;
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, count);
    s_send(run, op, &request);
}

//  ---- settlement operations ---------------------------------------------------------

static void s_op_enqueue(run_t *run) {
    op_t *op = s_op_begin(run, OP_ENQUEUE, POOL_SETTLE);
    model_t *m = &run->m;
    bool repeat = m->next_dist > 0 && s_below(run, 5) == 0;
    size_t d = repeat ? s_below(run, m->next_dist) : m->next_dist++;
    int r = (int)s_below(run, RECIPIENTS);
    uint64_t amount = s_below(run, 40) == 0 ? 0 : 1 + s_below(run, 1000);
    double queued_at = TIME_BASE + (double)run->op_count;
    uint8_t source[32];
    memset(source, 's', 32);
    Cairn__Distribution distribution;
    ca_request_distribution(&distribution, run->dist_ids[d], 32, s_recipient(r), amount, source, 32,
                            queued_at);
    distribution_t *slot = &m->dists[d * RECIPIENTS + (size_t)r];
    if (amount == 0)
        op->expect = CAIRN__STATUS__INVALID;
    else if (!slot->exists) {
        SAVE(*slot);
        *slot = (distribution_t){true, -1, amount, queued_at};
        op->check = 1;
    }
    Cairn__Request request;
    Cairn__SettleEnqueue enqueue;
    ca_request_settle_enqueue(&request, &enqueue, 0, &distribution);
    s_send(run, op, &request);
}

//  Settles every pending distribution of payment d under batch b; the
//  number settled.
static uint64_t s_settle_payment(model_t *m, size_t d, int32_t b) {
    uint64_t settled = 0;
    for (size_t r = 0; r < RECIPIENTS; r++) {
        distribution_t *slot = &m->dists[d * RECIPIENTS + r];
        if (slot->exists && slot->batch < 0) {
            SAVE(slot->batch);
            slot->batch = b;
            settled++;
        }
    }
    return settled;
}

static bool s_dist_known(const model_t *m, size_t d) {
    for (size_t r = 0; r < RECIPIENTS; r++)
        if (m->dists[d * RECIPIENTS + r].exists)
            return true;
    return false;
}

static int32_t s_batch_add(model_t *m, const uint8_t *id, bool made_by_batch) {
    SAVE(m->batch_count);
    batch_t *batch = &m->batches[m->batch_count];
    memcpy(batch->id, id, 32);
    batch->made_by_batch = made_by_batch;
    return m->batch_count++;
}

static void s_op_mark(run_t *run) {
    op_t *op = s_op_begin(run, OP_MARK, POOL_SETTLE);
    model_t *m = &run->m;
    size_t count = 1 + s_below(run, 4);
    if (count > m->next_dist + 2)
        count = m->next_dist + 2;
    size_t picked[4];
    ProtobufCBinaryData ids[4];
    for (size_t i = 0; i < count; i++) {
        bool again;
        size_t tries = 0;
        do { //  distinct ids; the next one (and the one after) is unknown
            picked[i] = s_below(run, m->next_dist + 2);
            again = false;
            for (size_t k = 0; k < i; k++)
                again = again || picked[k] == picked[i];
        } while (again && ++tries < 1000);
        CHECK(!again);
        ids[i] = (ProtobufCBinaryData){32, run->dist_ids[picked[i]]};
    }
    uint64_t variant = s_below(run, 30);
    int k = (int)s_below(run, MARK_IDS);
    const uint8_t *batch_id = run->mark_ids[k];
    int32_t made = -1;
    if (variant == 0 && count > 1) { //  an id twice
        ids[1] = ids[0];
        op->expect = CAIRN__STATUS__INVALID;
    } else if (variant == 1) { //  no ids
        count = 0;
        op->expect = CAIRN__STATUS__INVALID;
    } else {
        if (variant == 2) //  under the id of a batch SettleBatch made
            for (int32_t b = m->batch_count - 1; b >= 0 && made < 0; b--)
                if (m->batches[b].made_by_batch) {
                    made = b;
                    batch_id = m->batches[b].id;
                }
        bool known = true;
        for (size_t i = 0; i < count; i++)
            known = known && s_dist_known(m, picked[i]);
        if (made >= 0)
            op->expect = CAIRN__STATUS__CONFLICT;
        else if (!known)
            op->expect = CAIRN__STATUS__NOT_FOUND;
        else {
            if (m->mark_batch[k] < 0) {
                SAVE(m->mark_batch[k]);
                m->mark_batch[k] = s_batch_add(m, batch_id, false);
            }
            for (size_t i = 0; i < count; i++) {
                uint64_t settled = s_settle_payment(m, picked[i], m->mark_batch[k]);
                op->check += settled;
                op->check2 += settled == 0;
            }
        }
    }
    Cairn__Request request;
    Cairn__SettleMark mark;
    ca_request_settle_mark(&request, &mark, 0, count ? ids : NULL, count, batch_id, 32);
    s_send(run, op, &request);
}

static void s_op_last(run_t *run) {
    op_t *op = s_op_begin(run, OP_LAST, POOL_SETTLE);
    model_t *m = &run->m;
    double time = TIME_BASE + (double)s_below(run, 1000000) / 8;
    if (s_below(run, 20) == 0) {
        time = -time;
        op->expect = CAIRN__STATUS__INVALID;
    } else {
        SAVE(m->last_set);
        SAVE(m->last_time);
        m->last_set = true;
        m->last_time = time;
    }
    Cairn__Request request;
    Cairn__SettleLastSet set;
    ca_request_settle_last_set(&request, &set, 0, time);
    s_send(run, op, &request);
}

//  ---- the model's pending distributions, oldest first --------------------------------

typedef struct {
    size_t d;
    int r;
    double queued_at;
} pending_t;

static int s_pending_order(const void *a, const void *b) {
    double x = ((const pending_t *)a)->queued_at, y = ((const pending_t *)b)->queued_at;
    return x < y ? -1 : x > y;
}

//  Pending distributions of recipient r (-1: all), oldest first. Caller frees.
static pending_t *s_pending_list(const model_t *m, int r, size_t *count) {
    pending_t *list = (pending_t *)malloc((m->next_dist * RECIPIENTS + 1) * sizeof *list);
    CHECK(list);
    *count = 0;
    for (size_t d = 0; d < m->next_dist; d++)
        for (int k = 0; k < RECIPIENTS; k++) {
            const distribution_t *slot = &m->dists[d * RECIPIENTS + (size_t)k];
            if (slot->exists && slot->batch < 0 && (r < 0 || r == k))
                list[(*count)++] = (pending_t){d, k, slot->queued_at};
        }
    qsort(list, *count, sizeof *list, s_pending_order);
    return list;
}

//  A batch after every answer is in: the model picks what the node must
//  pick, and the answer's id and totals are checked.
static void s_op_batch(run_t *run) {
    s_drain(run);
    op_t *op = s_op_begin(run, OP_BATCH, POOL_SETTLE);
    model_t *m = &run->m;
    uint64_t variant = s_below(run, 100); //  rarely everything, sometimes too many
    uint32_t limit = variant == 0 ? 0 : variant < 4 ? 200000 : 1 + (uint32_t)s_below(run, 8);
    size_t count;
    pending_t *pending = s_pending_list(m, -1, &count);
    size_t take = limit == 0 ? count : limit > 100000 ? 0 : (count < limit ? count : limit);
    uint8_t id[32] = {0};
    uint64_t totals[RECIPIENTS] = {0}, counts[RECIPIENTS] = {0};
    if (limit > 100000)
        op->expect = CAIRN__STATUS__INVALID;
    else if (count == 0)
        op->expect = CAIRN__STATUS__NOT_FOUND;
    else {
        uint8_t *ids = (uint8_t *)malloc(take * 32);
        const char **recipients = (const char **)malloc(take * sizeof *recipients);
        uint64_t *amounts = (uint64_t *)malloc(take * sizeof *amounts);
        CHECK(ids && recipients && amounts);
        for (size_t i = 0; i < take; i++) {
            memcpy(ids + 32 * i, run->dist_ids[pending[i].d], 32);
            recipients[i] = s_recipient(pending[i].r);
            amounts[i] = m->dists[pending[i].d * RECIPIENTS + (size_t)pending[i].r].amount;
            totals[pending[i].r] += amounts[i];
            counts[pending[i].r]++;
        }
        settlement_batch_id(ids, recipients, amounts, take, id);
        free(ids);
        free(recipients);
        free(amounts);
        int32_t b = s_batch_add(m, id, true);
        for (size_t i = 0; i < take; i++) {
            distribution_t *slot = &m->dists[pending[i].d * RECIPIENTS + (size_t)pending[i].r];
            SAVE(slot->batch);
            slot->batch = b;
        }
    }
    free(pending);
    Cairn__Request request;
    Cairn__SettleBatch batch;
    ca_request_settle_batch(&request, &batch, 0, limit);
    s_send(run, op, &request);
    Cairn__Response *response = harness_recv(run->client, CALL_MS);
    CHECK(response);
    if (response->status == CAIRN__STATUS__OK) {
        const Cairn__SettleBatchReply *reply = response->settle_batch;
        CHECK(reply->batch_id.len == 32 && memcmp(reply->batch_id.data, id, 32) == 0);
        CHECK(reply->distributions == take);
        size_t recipients = 0;
        for (int r = 0; r < RECIPIENTS; r++)
            recipients += counts[r] > 0;
        CHECK(reply->n_totals == recipients);
        for (size_t i = 0; i < reply->n_totals; i++) {
            const Cairn__RecipientTotal *total = reply->totals[i];
            CHECK(strlen(total->recipient) == 8);
            int r = total->recipient[7] - '0';
            CHECK(r >= 0 && r < RECIPIENTS);
            CHECK(total->total == totals[r] && total->count == counts[r]);
        }
    }
    s_answer(run, response);
}

//  ---- reading the node's state back, and comparing it with the model ---------------

static const payment_t *s_sort_payments;

static int s_payment_order(const void *a, const void *b) {
    uint64_t x = s_sort_payments[*(const size_t *)a].seq;
    uint64_t y = s_sort_payments[*(const size_t *)b].seq;
    return x < y ? -1 : x > y;
}

//  The channel's LedgerHistory, read in pages: as many entries as the
//  model logged, and their deltas add up to the channel's sum.
static bool s_history_matches(run_t *run, const char *peer, const channel_t *c, bool verbose) {
    uint64_t entries = 0, after = 0;
    int64_t sum = 0;
    bool more = true, ok = true;
    while (more && ok && entries <= c->logged) {
        Cairn__Request request;
        Cairn__LedgerHistory history;
        ca_request_ledger_history(&request, &history, 0, peer, 97, after);
        Cairn__Response *response = s_call(run, &request);
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        const Cairn__AdjustmentPage *page = response->ledger_history;
        for (size_t i = 0; i < page->n_adjustments; i++) {
            ok = ok && page->adjustments[i]->seq > after;
            after = page->adjustments[i]->seq;
            sum += page->adjustments[i]->my_delta + page->adjustments[i]->their_delta;
        }
        entries += page->n_adjustments;
        more = page->more;
        s_done(response);
    }
    ok = ok && entries == c->logged && sum == (int64_t)(c->mine + c->theirs);
    if (!ok && verbose)
        fprintf(stderr,
                "%s: history of %" PRIu64 " entries adds up to %" PRId64 "; model %" PRIu64
                " entries, sum %" PRIu64 "\n",
                peer, entries, sum, c->logged, c->mine + c->theirs);
    return ok;
}

static bool s_ledger_matches(run_t *run, bool verbose) {
    const model_t *m = &run->m;
    bool match = true;
    size_t pending_total = 0;
    for (int p = 0; p < PEERS; p++) {
        char peer[16];
        s_peer_name(p, peer);
        const channel_t *c = &m->channels[p];
        Cairn__Request request;
        Cairn__LedgerGet get;
        ca_request_ledger_get(&request, &get, 0, peer);
        Cairn__Response *response = s_call(run, &request);
        if (response->status == CAIRN__STATUS__NOT_FOUND)
            match = match && !c->exists;
        else {
            harness_expect(response, CAIRN__STATUS__OK, NULL);
            const Cairn__PaymentChannel *got = response->ledger_get;
            bool same = c->exists && got->my_balance == c->mine &&
                        got->their_balance == c->theirs && got->nonce == c->nonce &&
                        (int)got->state == c->state;
            if (!same && verbose)
                fprintf(stderr,
                        "%s: node %" PRIu64 "/%" PRIu64 " nonce %" PRIu64
                        " state %d, model %s %" PRIu64 "/%" PRIu64 " nonce %" PRIu64 " state %d\n",
                        peer, got->my_balance, got->their_balance, got->nonce, got->state,
                        c->exists ? "" : "(none)", c->mine, c->theirs, c->nonce, c->state);
            match = match && same;
        }
        s_done(response);
        if (!c->exists)
            continue;
        match = s_history_matches(run, peer, c, verbose) && match;
        //  Pending payments, oldest first, against the model's.
        Cairn__LedgerPending pending;
        //  One page holds them all: a run makes far fewer than the most.
        ca_request_ledger_pending(&request, &pending, 0, peer, LEDGER_PENDING_MAX, NULL, 0);
        response = s_call(run, &request);
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        const Cairn__PaymentPage *page = response->ledger_pending;
        CHECK(!page->more); //  else this comparison would need to page
        //  The model's pending payments of p, in arrival order.
        size_t model_count = 0;
        size_t *mine = (size_t *)malloc((m->next_payment + 1) * sizeof *mine);
        CHECK(mine);
        for (size_t n = 0; n < m->next_payment; n++)
            if (m->payments[n].status == PAY_PENDING && m->payments[n].peer == p)
                mine[model_count++] = n;
        s_sort_payments = m->payments;
        qsort(mine, model_count, sizeof *mine, s_payment_order);
        if (model_count != page->n_payments) {
            if (verbose)
                fprintf(stderr, "%s: %zu pending payments on the node, %zu in the model\n", peer,
                        page->n_payments, model_count);
            match = false;
        }
        for (size_t i = 0; match && i < model_count; i++) {
            const Cairn__Payment *got = page->payments[i];
            match = got->id.len == 32 && memcmp(got->id.data, run->pay_ids[mine[i]], 32) == 0 &&
                    got->amount == m->payments[mine[i]].amount;
            if (!match && verbose)
                fprintf(stderr, "%s: pending payment %zu is not the model's (payment %zu)\n", peer,
                        i, mine[i]);
        }
        free(mine);
        pending_total += page->n_payments;
        s_done(response);
    }
    //  The list shows the open channels, by peer id.
    Cairn__Request request;
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, LEDGER_LIST_MAX, NULL);
    Cairn__Response *response = s_call(run, &request);
    harness_expect(response, CAIRN__STATUS__OK, NULL);
    size_t open = 0;
    for (int p = 0; p < PEERS; p++)
        if (m->channels[p].exists && m->channels[p].state == CAIRN__CHANNEL_STATE__CHANNEL_OPEN) {
            char peer[16];
            s_peer_name(p, peer);
            match = match && open < response->ledger_list->n_channels &&
                    streq(response->ledger_list->channels[open]->peer_id, peer);
            open++;
        }
    match = match && open == response->ledger_list->n_channels;
    s_done(response);
    if (verbose)
        printf("  ledger: %zu pending payments compared\n", pending_total);
    return match;
}

//  Whether each payment id exists on the node, without moving anything:
//  a payment of 2^63-1 (more than any balance) is CONFLICT when its id
//  is recorded, and INVALID or NOT_FOUND when not. *present[n] set.
static void s_probe_payments(run_t *run, bool *present) {
    size_t total = run->m.next_payment + 1, sent = 0, answered = 0;
    uint64_t base = run->setup_id;
    run->setup_id += total;
    while (answered < total) {
        while (sent < total && sent - answered < WINDOW) {
            test_payment_t t;
            s_payment(run, &t, sent, 0, LEDGER_AMOUNT_MAX);
            Cairn__Request request;
            Cairn__LedgerPay pay;
            ca_request_ledger_pay(&request, &pay, base + sent++, &t.payment);
            CHECK(harness_send(run->client, &request) == 0);
        }
        Cairn__Response *response = harness_recv(run->client, CALL_MS);
        CHECK(response && response->id >= base && response->id < base + total);
        CHECK(response->status == CAIRN__STATUS__CONFLICT ||
              response->status == CAIRN__STATUS__INVALID ||
              response->status == CAIRN__STATUS__NOT_FOUND);
        present[response->id - base] = response->status == CAIRN__STATUS__CONFLICT;
        s_done(response);
        answered++;
    }
}

static bool s_payments_match(run_t *run, const bool *present, bool verbose) {
    for (size_t n = 0; n <= run->m.next_payment; n++) {
        bool model = n < run->m.next_payment && run->m.payments[n].status != PAY_ABSENT;
        if (present[n] != model) {
            if (verbose)
                fprintf(stderr, "payment %zu: %s on the node, %s in the model\n", n,
                        present[n] ? "present" : "absent", model ? "present" : "absent");
            return false;
        }
    }
    return true;
}

//  The distribution whose payment id is `id`: its number, by a search of
//  the ids (they are hashes: no order to use).
static size_t s_dist_number(const run_t *run, const uint8_t *id) {
    for (size_t d = 0; d < run->m.next_dist + 2; d++)
        if (memcmp(run->dist_ids[d], id, 32) == 0)
            return d;
    return SIZE_MAX;
}

static bool s_batch_matches(run_t *run, const uint8_t *id, int32_t b, bool verbose) {
    const model_t *m = &run->m;
    Cairn__Request request;
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 0, id, 32);
    Cairn__Response *response = s_call(run, &request);
    bool match;
    if (b < 0)
        match = response->status == CAIRN__STATUS__NOT_FOUND;
    else if (response->status != CAIRN__STATUS__OK)
        match = false;
    else {
        uint64_t totals[RECIPIENTS] = {0}, counts[RECIPIENTS] = {0}, all = 0;
        for (size_t d = 0; d < m->next_dist; d++)
            for (size_t r = 0; r < RECIPIENTS; r++) {
                const distribution_t *slot = &m->dists[d * RECIPIENTS + r];
                if (slot->exists && slot->batch == b) {
                    totals[r] += slot->amount;
                    counts[r]++;
                    all++;
                }
            }
        const Cairn__SettleBatchReply *reply = response->settle_batch_get;
        match = reply->distributions == all;
        size_t recipients = 0;
        for (size_t r = 0; r < RECIPIENTS; r++)
            recipients += counts[r] > 0;
        match = match && reply->n_totals == recipients;
        for (size_t i = 0; match && i < reply->n_totals; i++) {
            const char *name = reply->totals[i]->recipient;
            int r = strlen(name) == 8 ? name[7] - '0' : -1;
            match = r >= 0 && r < RECIPIENTS && reply->totals[i]->total == totals[r] &&
                    reply->totals[i]->count == counts[r];
        }
    }
    if (!match && verbose)
        fprintf(stderr, "batch %d: status %d on the node, not what the model holds\n", b,
                response->status);
    s_done(response);
    return match;
}

//  `made_batches`: the batches SettleBatch made too (never in doubt: a
//  batch is sent alone and its answer awaited).
static bool s_settlement_matches(run_t *run, bool made_batches, bool verbose) {
    const model_t *m = &run->m;
    bool match = true;
    //  Every pending distribution, oldest first.
    size_t count;
    pending_t *pending = s_pending_list(m, -1, &count);
    Cairn__Request request;
    Cairn__SettlePending ask;
    ca_request_settle_pending(&request, &ask, 0, NULL, 100000);
    Cairn__Response *response = s_call(run, &request);
    harness_expect(response, CAIRN__STATUS__OK, NULL);
    const Cairn__DistributionPage *page = response->settle_pending;
    CHECK(!page->more);
    size_t pending_count = count;
    if (page->n_distributions != count) {
        if (verbose)
            fprintf(stderr, "%zu pending distributions on the node, %zu in the model\n",
                    page->n_distributions, count);
        match = false;
    }
    for (size_t i = 0; match && i < count; i++) {
        const Cairn__Distribution *got = page->distributions[i];
        const distribution_t *slot = &m->dists[pending[i].d * RECIPIENTS + (size_t)pending[i].r];
        match = got->payment_id.len == 32 &&
                memcmp(got->payment_id.data, run->dist_ids[pending[i].d], 32) == 0 &&
                streq(got->recipient, s_recipient(pending[i].r)) && got->amount == slot->amount &&
                got->queued_at == slot->queued_at;
        if (!match && verbose) {
            size_t d = got->payment_id.len == 32 ? s_dist_number(run, got->payment_id.data) : 0;
            fprintf(stderr,
                    "pending distribution %zu: node has d=%zu %s %" PRIu64
                    ", model d=%zu %s %" PRIu64 "\n",
                    i, d, got->recipient, got->amount, pending[i].d, s_recipient(pending[i].r),
                    slot->amount);
        }
    }
    s_done(response);
    free(pending);
    //  Totals: all, and per recipient.
    for (int r = -1; r < RECIPIENTS; r++) {
        pending = s_pending_list(m, r, &count);
        uint64_t total = 0;
        for (size_t i = 0; i < count; i++)
            total += m->dists[pending[i].d * RECIPIENTS + (size_t)pending[i].r].amount;
        free(pending);
        Cairn__SettleTotal ask_total;
        ca_request_settle_total(&request, &ask_total, 0, r < 0 ? NULL : s_recipient(r));
        response = s_call(run, &request);
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        bool same =
            response->settle_total->total == total && response->settle_total->count == count;
        if (!same && verbose)
            fprintf(stderr,
                    "total of %s: node %" PRIu64 " (%" PRIu64 "), model %" PRIu64 " (%zu)\n",
                    r < 0 ? "all" : s_recipient(r), response->settle_total->total,
                    response->settle_total->count, total, count);
        match = match && same;
        s_done(response);
    }
    //  The last settlement time.
    Cairn__SettleLastGet last;
    ca_request_settle_last_get(&request, &last, 0);
    response = s_call(run, &request);
    harness_expect(response, CAIRN__STATUS__OK, NULL);
    match = match && response->settle_last_get->set == m->last_set &&
            (!m->last_set || response->settle_last_get->time == m->last_time);
    s_done(response);
    //  Every batch: the mark ids (made or not) and those SettleBatch made.
    for (int k = 0; k < MARK_IDS && match; k++)
        match = s_batch_matches(run, run->mark_ids[k], m->mark_batch[k], verbose);
    for (int32_t b = 0; made_batches && b < m->batch_count && match; b++)
        if (m->batches[b].made_by_batch)
            match = s_batch_matches(run, m->batches[b].id, b, verbose);
    if (verbose)
        printf("  settlement: %zu pending distributions, %d batches compared\n", pending_count,
               m->batch_count);
    return match;
}

//  ---- the run ---------------------------------------------------------------------------

static void s_setup(run_t *run, size_t ops, uint64_t default_seed) {
    memset(run, 0, sizeof *run);
    const char *seed = getenv("MONEY_SEED");
    run->seed = seed ? strtoull(seed, NULL, 0) : default_seed;
    if (!run->seed)
        run->seed = 1;
    printf("  seed 0x%" PRIx64 ", %zu operations\n", run->seed, ops);
    run->op_max = ops;
    run->ops = (op_t *)calloc(ops, sizeof *run->ops);
    run->m.payments = (payment_t *)calloc(ops + 2, sizeof *run->m.payments);
    run->m.dists = (distribution_t *)calloc((ops + 3) * RECIPIENTS, sizeof *run->m.dists);
    run->m.batches = (batch_t *)calloc(ops + MARK_IDS + 1, sizeof *run->m.batches);
    run->pay_ids = (uint8_t(*)[32])malloc((ops + 2) * 32);
    run->dist_ids = (uint8_t(*)[32])malloc((ops + 3) * 32);
    CHECK(run->ops && run->m.payments && run->m.dists && run->m.batches && run->pay_ids &&
          run->dist_ids);
    for (size_t n = 0; n < ops + 3; n++) {
        char name[48];
        if (n < ops + 2) {
            snprintf(name, sizeof name, "money-payment-%zu", n);
            crypto_hash_sha256(run->pay_ids[n], (const uint8_t *)name, strlen(name));
        }
        snprintf(name, sizeof name, "money-distribution-%zu", n);
        crypto_hash_sha256(run->dist_ids[n], (const uint8_t *)name, strlen(name));
    }
    for (int k = 0; k < MARK_IDS; k++) {
        char name[32];
        snprintf(name, sizeof name, "money-mark-%d", k);
        crypto_hash_sha256(run->mark_ids[k], (const uint8_t *)name, strlen(name));
        run->m.mark_batch[k] = -1;
    }
    run->node = harness_node_up_identity(NULL); //  payments are signed for its peer id
    run->client = harness_connect(harness_node_endpoint(run->node));
    run->setup_id = SETUP_ID;
    //  The payers the node knows (all but the last KEYLESS).
    for (int p = 0; p < PEERS; p++) {
        uint8_t public_key[32];
        crypto_sign_keypair(public_key, run->secrets[p]);
        if (p >= PEERS - KEYLESS)
            continue;
        char name[16];
        s_peer_name(p, name);
        Cairn__Peer peer;
        ca_request_peer_init(&peer, name, public_key, "127.0.0.1", 7000, "payer");
        Cairn__Request request;
        Cairn__PeerPut put;
        ca_request_peer_put(&request, &put, 0, &peer, NULL);
        s_done(harness_expect(s_call(run, &request), CAIRN__STATUS__OK, NULL));
    }
}

static void s_teardown(run_t *run) {
    zsock_destroy(&run->client);
    CHECK(harness_node_stop(run->node) == 0);
    harness_node_destroy(&run->node);
    free(run->ops);
    free(run->m.payments);
    free(run->m.dists);
    free(run->m.batches);
    free(run->pay_ids);
    free(run->dist_ids);
    free(s_journal);
    s_journal = NULL;
    s_journal_size = s_journal_max = 0;
}

//  A read after every answer is in: one channel and one recipient's total.
static void s_op_read(run_t *run) {
    s_drain(run);
    run->counts[OP_READ][0]++;
    int p = (int)s_below(run, PEERS);
    char peer[16];
    s_peer_name(p, peer);
    const channel_t *c = &run->m.channels[p];
    Cairn__Request request;
    Cairn__LedgerGet get;
    ca_request_ledger_get(&request, &get, 0, peer);
    Cairn__Response *response = s_call(run, &request);
    if (c->exists) {
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        CHECK(response->ledger_get->my_balance == c->mine &&
              response->ledger_get->their_balance == c->theirs &&
              response->ledger_get->nonce == c->nonce);
    } else
        harness_expect(response, CAIRN__STATUS__NOT_FOUND, NULL);
    s_done(response);
    int r = (int)s_below(run, RECIPIENTS);
    size_t count;
    pending_t *pending = s_pending_list(&run->m, r, &count);
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += run->m.dists[pending[i].d * RECIPIENTS + (size_t)r].amount;
    free(pending);
    Cairn__SettleTotal ask;
    ca_request_settle_total(&request, &ask, 0, s_recipient(r));
    response = s_call(run, &request);
    harness_expect(response, CAIRN__STATUS__OK, NULL);
    CHECK(response->settle_total->total == total && response->settle_total->count == count);
    s_done(response);
    run->counts[OP_READ][1]++;
}

//  One random operation.
static void s_step(run_t *run) {
    uint64_t roll = s_below(run, 100);
    if (roll < 3)
        s_op_open(run);
    else if (roll < 11)
        s_op_update(run);
    else if (roll < 19)
        s_op_adjust(run);
    else if (roll < 52)
        s_op_pay(run);
    else if (roll < 58)
        s_op_clear(run);
    else if (roll < 92)
        s_op_enqueue(run);
    else if (roll < 96)
        s_op_mark(run);
    else if (roll < 98)
        s_op_last(run);
    else if (roll < 99)
        s_op_batch(run);
    else
        s_op_read(run);
}

//  Everything the node holds against the model, exactly.
static void s_compare_all(run_t *run) {
    s_drain(run);
    CHECK(s_ledger_matches(run, true));
    bool *present = (bool *)calloc(run->m.next_payment + 1, sizeof *present);
    CHECK(present);
    s_probe_payments(run, present);
    CHECK(s_payments_match(run, present, true));
    free(present);
    CHECK(s_settlement_matches(run, true, true));
}

static void s_print_counts(run_t *run, int64_t elapsed_us) {
    printf("  %zu operations in %.2f s: %.0f/s\n", run->op_count, (double)elapsed_us / 1e6,
           (double)run->op_count * 1e6 / (double)(elapsed_us ? elapsed_us : 1));
    for (int k = 0; k <= OP_READ; k++)
        printf("    %-8s %7zu sent, %7zu OK\n", s_kind_names[k], run->counts[k][0],
               run->counts[k][1]);
}

static size_t s_ops(void) {
    const char *ops = getenv("MONEY_OPS");
    size_t count = ops ? (size_t)strtoull(ops, NULL, 10) : 100000;
    return count >= 100 ? count : 100;
}

//  ---- tests ----------------------------------------------------------------------------

static void test_model(void) {
    size_t ops = s_ops();
    run_t run;
    s_setup(&run, ops + ops / 100, 0x6d6f6e6579ULL); //  "money"
    int64_t start = zclock_usecs();
    //  A read counts as an operation but takes no slot: bounded by op_max.
    for (size_t i = 0; i < ops; i++)
        s_step(&run);
    s_drain(&run);
    s_print_counts(&run, zclock_usecs() - start);
    start = zclock_usecs();
    s_compare_all(&run);
    printf("  compared in %.2f s\n", (double)(zclock_usecs() - start) / 1e6);
    s_teardown(&run);
}

//  ---- kill -9: resolving the operations in doubt --------------------------------------

static void s_undo(run_t *run, size_t j) {
    const op_t *op = &run->ops[j];
    for (size_t at = op->journal_end; at > op->journal_start; at--) {
        const patch_t *patch = &s_journal[at - 1];
        memcpy(patch->addr, patch->old, patch->size);
    }
}

//  Undoes the operations of `pool` from the newest sent until the model
//  matches what the node holds; never one at or before `floor` (the first
//  operation not answered) nor one the node acknowledged with a change.
//  Returns how many operations in doubt were undone; *in_doubt counts them.
static size_t s_resolve(run_t *run, int pool, size_t floor, size_t *in_doubt) {
    size_t must_keep = floor; //  ops below this index stay applied
    *in_doubt = 0;
    for (size_t j = floor; j < run->op_count; j++) {
        const op_t *op = &run->ops[j];
        if (op->pool != pool)
            continue;
        if (!op->answered)
            (*in_doubt)++;
        else if (op->journal_end > op->journal_start)
            must_keep = j + 1;
    }
    size_t k = run->op_count, undone = 0;
    bool *present = NULL;
    while (true) {
        bool match;
        if (pool == POOL_LEDGER) {
            free(present);
            present = (bool *)calloc(run->m.next_payment + 1, sizeof *present);
            CHECK(present);
            match = s_ledger_matches(run, false);
            if (match) {
                s_probe_payments(run, present);
                match = s_payments_match(run, present, false);
            }
        } else
            match = s_settlement_matches(run, false, false);
        if (match)
            break;
        size_t j = k;
        while (j > must_keep && run->ops[j - 1].pool != pool)
            j--;
        if (j <= must_keep) { //  no prefix of what was sent explains the node's state
            fprintf(stderr, "the node's %s state is no prefix of the operations sent:\n",
                    pool == POOL_LEDGER ? "ledger" : "settlement");
            if (pool == POOL_LEDGER) {
                s_ledger_matches(run, true);
                s_payments_match(run, present, true);
            } else
                s_settlement_matches(run, false, true);
            CHECK(false);
        }
        k = j - 1;
        CHECK(!run->ops[k].answered || run->ops[k].journal_end == run->ops[k].journal_start);
        s_undo(run, k);
        undone += !run->ops[k].answered;
    }
    free(present);
    return undone;
}

//  kill -9 at a seeded point with requests in flight, a restart, the
//  operations in doubt resolved against what the node holds; then the
//  run goes on and everything must match exactly at the end.
static void test_kill9(void) {
    size_t ops = s_ops();
    run_t run;
    s_setup(&run, ops + ops / 100, 0x6b696c6c39ULL); //  "kill9"
    size_t kill_at = ops / 4 + s_below(&run, ops / 2);
    int64_t start = zclock_usecs();
    size_t i = 0;
    for (; i < ops && (i < kill_at || run.in_flight < WINDOW / 2); i++)
        s_step(&run);
    //  A few answers first: the node is then busy with the rest, some of
    //  them committed and not yet answered when it dies.
    for (size_t answers = 1 + s_below(&run, 8); answers > 0 && run.in_flight > 1; answers--)
        s_receive_one(&run);
    printf("  kill -9 after %zu operations, %zu in flight\n", i, run.in_flight);
    harness_node_kill9(run.node);
    //  A DEALER left open would send its queued requests to the new node.
    zsock_set_linger(run.client, 0);
    zsock_destroy(&run.client);
    run.in_flight = 0;
    CHECK(harness_node_restart(run.node) == 0);
    run.client = harness_connect(harness_node_endpoint(run.node));
    size_t floor = 0;
    while (floor < run.op_count && run.ops[floor].answered)
        floor++;
    size_t ledger_doubt, settle_doubt;
    size_t ledger_undone = s_resolve(&run, POOL_LEDGER, floor, &ledger_doubt);
    size_t settle_undone = s_resolve(&run, POOL_SETTLE, floor, &settle_doubt);
    printf("  in doubt: %zu ledger operations (%zu applied), %zu settlement operations (%zu "
           "applied)\n",
           ledger_doubt, ledger_doubt - ledger_undone, settle_doubt, settle_doubt - settle_undone);
    for (; i < ops; i++)
        s_step(&run);
    s_drain(&run);
    s_print_counts(&run, zclock_usecs() - start);
    s_compare_all(&run);
    s_teardown(&run);
}

static const harness_test_t s_tests[] = {
    {"model", test_model},
    {"kill9", test_kill9},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    return harness_main(argc, argv, "e2e.money", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

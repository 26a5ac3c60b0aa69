/*  =========================================================================
    e2e_settlement - black-box tests of the settlement queue against a real
    cairnd

        e2e-settlement TEST      runs one test (ctest registers each by name)

    Distributions are enqueued pipelined from one client (writes of one
    connection commit in the order sent) and checked against a plain model
    kept by the test: pending sets, totals per recipient, batches. The race
    test makes batches from several clients at once while another enqueues,
    on two workers, and checks that every distribution ends in exactly one
    batch. The restart test kills the node with SIGKILL after the answers
    came and finds everything acknowledged again.
    ========================================================================= */

#include "harness.h"
#include "ca_hash.h"
#include "settlement.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS    30000
#define WINDOW     256
#define RECIPIENTS 7

#define CHECK HARNESS_CHECK

static uint64_t s_next_id = 1;

static const char *const s_recipients[RECIPIENTS] = {"alice", "bob",   "carol",     "dave",
                                                     "erin",  "frank", "peer:7.x-y"};

//  Payment n's id: the hash of its name.
static void s_payment(uint64_t n, uint8_t id[32]) {
    char name[32];
    snprintf(name, sizeof name, "e2e-payment-%" PRIu64, n);
    ca_sha256(name, strlen(name), id);
}

//  The model's distribution n: its recipient and amount.
static const char *s_recipient_of(uint64_t n) {
    return s_recipients[n % RECIPIENTS];
}

static uint64_t s_amount_of(uint64_t n) {
    return 1 + (n * 2654435761ULL) % 1000000007ULL;
}

static void s_send_enqueue(zsock_t *client, uint64_t n, const char *recipient, uint64_t amount,
                           double queued_at) {
    uint8_t id[32], source[32];
    s_payment(n, id);
    ca_sha256(&n, sizeof n, source);
    Cairn__Request request;
    Cairn__SettleEnqueue enqueue;
    Cairn__Distribution d;
    ca_request_distribution(&d, id, 32, recipient, amount, source, 32, queued_at);
    ca_request_settle_enqueue(&request, &enqueue, s_next_id++, &d);
    CHECK(harness_send(client, &request) == 0);
}

static bool s_enqueue(zsock_t *client, uint64_t n, const char *recipient, uint64_t amount,
                      double queued_at) {
    s_send_enqueue(client, n, recipient, amount, queued_at);
    Cairn__Response *response = harness_recv(client, CALL_MS);
    CHECK(response);
    harness_ok(response, CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE);
    bool created = response->settle_enqueue->created;
    cairn__response__free_unpacked(response, NULL);
    return created;
}

//  Enqueues the model's distributions first..first+count-1 (queued at
//  1000 + n), `WINDOW` in flight; every one must be new.
static void s_fill(zsock_t *client, uint64_t first, uint64_t count) {
    uint64_t sent = 0, answered = 0;
    while (answered < count) {
        while (sent < count && sent - answered < WINDOW) {
            uint64_t n = first + sent++;
            s_send_enqueue(client, n, s_recipient_of(n), s_amount_of(n), 1000 + (double)n);
        }
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        harness_ok(response, CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE);
        CHECK(response->settle_enqueue->created);
        cairn__response__free_unpacked(response, NULL);
        answered++;
    }
}

static Cairn__Response *s_total(zsock_t *client, const char *recipient) {
    Cairn__Request request;
    Cairn__SettleTotal total;
    ca_request_settle_total(&request, &total, 0, recipient);
    return harness_request(client, &request);
}

static void s_total_expect(zsock_t *client, const char *recipient, uint64_t total, uint64_t count) {
    Cairn__Response *response =
        harness_ok(s_total(client, recipient), CAIRN__RESPONSE__BODY_SETTLE_TOTAL);
    CHECK(response->settle_total->total == total && response->settle_total->count == count);
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_pending(zsock_t *client, const char *recipient, uint32_t limit) {
    Cairn__Request request;
    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 0, recipient, limit);
    return harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_PENDING);
}

static Cairn__Response *s_batch(zsock_t *client, uint32_t limit) {
    Cairn__Request request;
    Cairn__SettleBatch batch;
    ca_request_settle_batch(&request, &batch, 0, limit);
    return harness_request(client, &request);
}

static Cairn__Response *s_batch_get(zsock_t *client, const uint8_t *id, size_t size) {
    Cairn__Request request;
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 0, id, size);
    return harness_request(client, &request);
}

//  The model's totals of distributions first..first+count-1.
static void s_model_totals(uint64_t first, uint64_t count, uint64_t totals[RECIPIENTS],
                           uint64_t counts[RECIPIENTS]) {
    memset(totals, 0, RECIPIENTS * sizeof(uint64_t));
    memset(counts, 0, RECIPIENTS * sizeof(uint64_t));
    for (uint64_t n = first; n < first + count; n++) {
        totals[n % RECIPIENTS] += s_amount_of(n);
        counts[n % RECIPIENTS]++;
    }
}

//  ---- tests -----------------------------------------------------------------------

//  Enqueue -> retrievable with every field; the same pair again changes
//  nothing; filter by recipient.
static void test_enqueue_pending(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    CHECK(s_enqueue(client, 1, "alice", 500, 1700000000.5));
    CHECK(s_enqueue(client, 1, "bob", 20, 1700000000));
    CHECK(!s_enqueue(client, 1, "alice", 999999, 1)); //  idempotent, even with another amount
    CHECK(s_enqueue(client, 2, "alice", 3, 0));       //  queued now
    Cairn__Response *response = s_pending(client, NULL, 0);
    const Cairn__DistributionPage *page = response->settle_pending;
    CHECK(page->n_distributions == 3 && !page->more);
    uint8_t id[32], source[32];
    uint64_t one = 1;
    s_payment(1, id);
    ca_sha256(&one, sizeof one, source);
    const Cairn__Distribution *d = page->distributions[0]; //  bob's is the oldest
    CHECK(streq(d->recipient, "bob") && d->amount == 20 && d->queued_at == 1700000000);
    d = page->distributions[1];
    CHECK(streq(d->recipient, "alice") && d->amount == 500 && d->queued_at == 1700000000.5);
    CHECK(memcmp(d->payment_id.data, id, 32) == 0 && memcmp(d->source_hash.data, source, 32) == 0);
    CHECK(d->batch_id.len == 0 && d->settled_at == 0);
    CHECK(page->distributions[2]->amount == 3 && page->distributions[2]->queued_at > 1700000000);
    cairn__response__free_unpacked(response, NULL);
    response = s_pending(client, "alice", 0);
    CHECK(response->settle_pending->n_distributions == 2);
    CHECK(response->settle_pending->distributions[0]->amount == 500);
    cairn__response__free_unpacked(response, NULL);
    response = s_pending(client, "nobody", 0);
    CHECK(response->settle_pending->n_distributions == 0);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(client, NULL, 523, 3);
    s_total_expect(client, "alice", 503, 2);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static Cairn__Response *s_pending_after(zsock_t *client, const char *recipient, uint32_t limit,
                                        const uint8_t *after_id, size_t after_id_size,
                                        const char *after_recipient) {
    Cairn__Request request;
    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 0, recipient, limit);
    ca_request_settle_pending_after(&pending, after_id, after_id_size, after_recipient);
    return harness_request(client, &request);
}

//  Walks the pending distributions (of `recipient`, or all) `limit` at a
//  time with the cursor; returns how many, their payment numbers (found
//  by amount: the model's amounts are distinct) in `order`.
static size_t s_walk_pending(zsock_t *client, const char *recipient, uint32_t limit,
                             uint64_t *order, size_t capacity) {
    uint8_t after_id[32];
    char after_recipient[64] = "";
    size_t count = 0;
    bool more = true;
    while (more && count < capacity) {
        Cairn__Response *response =
            harness_ok(s_pending_after(client, recipient, limit, after_id,
                                       *after_recipient ? 32 : 0, after_recipient),
                       CAIRN__RESPONSE__BODY_SETTLE_PENDING);
        const Cairn__DistributionPage *page = response->settle_pending;
        CHECK(page->n_distributions <= limit && (!page->more || page->n_distributions == limit));
        for (size_t i = 0; i < page->n_distributions && count < capacity; i++) {
            const Cairn__Distribution *d = page->distributions[i];
            uint64_t n = 0;
            while (n < 1000 && s_amount_of(n) != d->amount)
                n++;
            order[count++] = n;
            memcpy(after_id, d->payment_id.data, 32);
            snprintf(after_recipient, sizeof after_recipient, "%s", d->recipient);
        }
        more = page->more;
        cairn__response__free_unpacked(response, NULL);
    }
    return count;
}

//  Pending in pages with the (payment_id, recipient) cursor: every
//  distribution once, oldest first (equal times in the order of enqueue),
//  also after the cursor's own distribution was settled; bad cursors.
static void test_pending_pages(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    enum { COUNT = 40 };
    //  Enqueued in reverse groups of five with one time per group, so the
    //  order is by time first, then by enqueue.
    uint64_t expected[COUNT];
    size_t e = 0;
    for (int group = COUNT / 5 - 1; group >= 0; group--)
        for (uint64_t k = 0; k < 5; k++) {
            uint64_t n = (uint64_t)group * 5 + k;
            CHECK(s_enqueue(client, n, s_recipient_of(n), s_amount_of(n), 5000 + group));
        }
    for (uint64_t n = 0; n < COUNT; n++)
        expected[e++] = n;
    uint64_t order[COUNT + 1];
    CHECK(s_walk_pending(client, NULL, 7, order, COUNT + 1) == COUNT);
    CHECK(memcmp(order, expected, sizeof expected) == 0);
    size_t alice = s_walk_pending(client, "alice", 2, order, COUNT + 1);
    CHECK(alice == (COUNT + RECIPIENTS - 1) / RECIPIENTS);
    for (size_t i = 0; i < alice; i++)
        CHECK(order[i] == i * RECIPIENTS);

    //  The cursor's distribution settled since: it still marks the place.
    uint8_t id[32], batch_id[32];
    s_payment(6, id);
    memset(batch_id, 0x77, sizeof batch_id);
    ProtobufCBinaryData ids[] = {{32, id}};
    Cairn__Request request;
    Cairn__SettleMark mark;
    ca_request_settle_mark(&request, &mark, 0, ids, 1, batch_id, 32);
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_MARK), NULL);
    Cairn__Response *response =
        harness_ok(s_pending_after(client, NULL, 3, id, 32, s_recipient_of(6)),
                   CAIRN__RESPONSE__BODY_SETTLE_PENDING);
    CHECK(response->settle_pending->n_distributions == 3 && response->settle_pending->more);
    CHECK(response->settle_pending->distributions[0]->amount == s_amount_of(7));
    cairn__response__free_unpacked(response, NULL);

    //  Bad cursors: the pair is needed whole, and must name a distribution.
    harness_fails(s_pending_after(client, NULL, 0, id, 32, "nobody"), CAIRN__STATUS__NOT_FOUND,
                  "previous page");
    harness_fails(s_pending_after(client, NULL, 0, id, 32, ""), CAIRN__STATUS__INVALID, "together");
    harness_fails(s_pending_after(client, NULL, 0, NULL, 0, "alice"), CAIRN__STATUS__INVALID,
                  "together");
    harness_fails(s_pending_after(client, NULL, 0, id, 31, "alice"), CAIRN__STATUS__INVALID,
                  "after_payment_id");
    harness_fails(s_pending_after(client, NULL, 0, id, 32, "../x"), CAIRN__STATUS__INVALID,
                  "after_recipient");
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Totals over many distributions, all and per recipient; paging.
static void test_totals(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    const uint64_t count = 20000;
    int64_t start = zclock_usecs();
    s_fill(client, 0, count);
    int64_t filled = zclock_usecs();
    uint64_t totals[RECIPIENTS], counts[RECIPIENTS], all = 0;
    s_model_totals(0, count, totals, counts);
    for (int r = 0; r < RECIPIENTS; r++) {
        s_total_expect(client, s_recipients[r], totals[r], counts[r]);
        all += totals[r];
    }
    int64_t summed = zclock_usecs();
    s_total_expect(client, NULL, all, count);
    int64_t done = zclock_usecs();
    printf(" (%" PRIu64 " durable enqueues, %d in flight: %.0f/s; total of %" PRIu64
           " pending: %.2f ms)",
           count, WINDOW, (double)count * 1e6 / (double)(filled - start), count,
           (double)(done - summed) / 1000.0);
    //  The first page of a recipient: the model's oldest, in order.
    Cairn__Response *response = s_pending(client, "carol", 100);
    CHECK(response->settle_pending->n_distributions == 100 && response->settle_pending->more);
    for (uint64_t i = 0; i < 100; i++)
        CHECK(response->settle_pending->distributions[i]->amount ==
              s_amount_of(2 + i * RECIPIENTS));
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Marked distributions are no longer pending; settled ones are reported.
static void test_mark(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    s_fill(client, 0, 10);
    uint8_t ids[3][32], batch_id[32];
    ProtobufCBinaryData bytes[3];
    for (int i = 0; i < 3; i++) {
        s_payment((uint64_t)i, ids[i]);
        bytes[i] = (ProtobufCBinaryData){32, ids[i]};
    }
    memset(batch_id, 0x5A, sizeof batch_id);
    Cairn__Request request;
    Cairn__SettleMark mark;
    ca_request_settle_mark(&request, &mark, 0, bytes, 2, batch_id, 32);
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_MARK);
    CHECK(response->settle_mark->settled == 2 && response->settle_mark->n_already_settled == 0);
    cairn__response__free_unpacked(response, NULL);
    uint64_t totals[RECIPIENTS], counts[RECIPIENTS];
    s_model_totals(2, 8, totals, counts);
    uint64_t all = 0;
    for (int r = 0; r < RECIPIENTS; r++)
        all += totals[r];
    s_total_expect(client, NULL, all, 8);
    response = s_pending(client, NULL, 0);
    CHECK(response->settle_pending->n_distributions == 8);
    for (size_t i = 0; i < 8; i++)
        CHECK(memcmp(response->settle_pending->distributions[i]->payment_id.data, ids[0], 32) &&
              memcmp(response->settle_pending->distributions[i]->payment_id.data, ids[1], 32));
    cairn__response__free_unpacked(response, NULL);
    //  Again with a new one: only that one settles, the others are reported.
    ca_request_settle_mark(&request, &mark, 0, bytes, 3, batch_id, 32);
    response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_MARK);
    CHECK(response->settle_mark->settled == 1 && response->settle_mark->n_already_settled == 2);
    cairn__response__free_unpacked(response, NULL);
    response =
        harness_ok(s_batch_get(client, batch_id, 32), CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET);
    CHECK(response->settle_batch_get->distributions == 3 &&
          response->settle_batch_get->n_totals == 3);
    cairn__response__free_unpacked(response, NULL);
    s_total_expect(client, NULL, all - s_amount_of(2), 7);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Batches from several clients at once (two workers) while another client
//  enqueues: every distribution is settled by exactly one batch, a batch
//  that lost a race settled nothing, and the batches read back as answered.
static void test_batch_race(void) {
    const char *args[] = {"--workers=2", NULL};
    harness_node_t *node = harness_node_up(args);
    const char *endpoint = harness_node_endpoint(node);
    zsock_t *filler = harness_connect(endpoint);
    zsock_t *batchers[3];
    for (int i = 0; i < 3; i++)
        batchers[i] = harness_connect(endpoint);
    const uint64_t count = 6000;
    s_fill(filler, 0, 2000);
    uint64_t settled_total = 0, settled_count = 0, conflicts = 0, batches = 0;
    zlistx_t *ids = zlistx_new();
    zlistx_set_destructor(ids, (zlistx_destructor_fn *)zstr_free);
    uint64_t filled = 2000;
    for (int round = 0; round < 400 && (filled < count || settled_count < count); round++) {
        //  One batch request from each batcher in flight, and more enqueues.
        for (int i = 0; i < 3; i++) {
            Cairn__Request request;
            Cairn__SettleBatch batch;
            ca_request_settle_batch(&request, &batch, s_next_id++, 97);
            CHECK(harness_send(batchers[i], &request) == 0);
        }
        if (filled < count) {
            s_fill(filler, filled, 100);
            filled += 100;
        }
        for (int i = 0; i < 3; i++) {
            Cairn__Response *response = harness_recv(batchers[i], CALL_MS);
            CHECK(response);
            if (response->status == CAIRN__STATUS__CONFLICT)
                conflicts++;
            else if (response->status == CAIRN__STATUS__OK) {
                const Cairn__SettleBatchReply *batch = response->settle_batch;
                uint64_t sum = 0, n = 0;
                for (size_t k = 0; k < batch->n_totals; k++) {
                    sum += batch->totals[k]->total;
                    n += batch->totals[k]->count;
                }
                CHECK(n == batch->distributions && n >= 1 && n <= 97);
                settled_total += sum;
                settled_count += n;
                batches++;
                zlistx_add_end(ids, zmalloc(32));
                memcpy(zlistx_last(ids), batch->batch_id.data, 32);
            } else
                harness_expect(response, CAIRN__STATUS__NOT_FOUND, "nothing is pending");
            cairn__response__free_unpacked(response, NULL);
        }
    }
    CHECK(filled == count && settled_count == count);
    uint64_t totals[RECIPIENTS], counts[RECIPIENTS], all = 0;
    s_model_totals(0, count, totals, counts);
    for (int r = 0; r < RECIPIENTS; r++)
        all += totals[r];
    CHECK(settled_total == all);
    s_total_expect(filler, NULL, 0, 0);
    //  Every batch reads back as it was answered (the sum of the counts).
    uint64_t read_back = 0;
    for (uint8_t *id = (uint8_t *)zlistx_first(ids); id; id = (uint8_t *)zlistx_next(ids)) {
        Cairn__Response *response =
            harness_ok(s_batch_get(filler, id, 32), CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET);
        read_back += response->settle_batch_get->distributions;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(read_back == count && zlistx_size(ids) == batches);
    printf(" (%" PRIu64 " batches, %" PRIu64 " conflicts)", batches, conflicts);
    zlistx_destroy(&ids);
    for (int i = 0; i < 3; i++)
        zsock_destroy(&batchers[i]);
    zsock_destroy(&filler);
    harness_node_down(&node);
}

static uint64_t s_pending_count(zsock_t *client) {
    Cairn__Response *response =
        harness_ok(s_total(client, NULL), CAIRN__RESPONSE__BODY_SETTLE_TOTAL);
    uint64_t count = response->settle_total->count;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

//  A mark pipelined just before a batch: the batch may have picked a row the
//  mark settles before the batch commits. Then the batch is CONFLICT and
//  settles nothing; else it settles what is left. Either way every
//  distribution is settled exactly once.
static void test_batch_mark_race(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    const uint64_t rounds = 200, per_round = 5;
    uint64_t conflicts = 0;
    for (uint64_t round = 0; round < rounds; round++) {
        s_fill(client, round * per_round, per_round); //  only these five are pending
        uint64_t before = s_pending_count(client);
        CHECK(before == per_round);
        //  Mark the newest of the oldest five, then batch the five.
        uint8_t payment[32], batch_id[32];
        s_payment(round * per_round + per_round - 1, payment);
        memset(batch_id, 0, sizeof batch_id);
        memcpy(batch_id, &round, sizeof round);
        ProtobufCBinaryData ids[1] = {{32, payment}};
        Cairn__Request request;
        Cairn__SettleMark mark;
        ca_request_settle_mark(&request, &mark, s_next_id++, ids, 1, batch_id, 32);
        CHECK(harness_send(client, &request) == 0);
        uint64_t mark_id = request.id;
        Cairn__SettleBatch batch;
        ca_request_settle_batch(&request, &batch, s_next_id++, per_round);
        CHECK(harness_send(client, &request) == 0);
        uint64_t batched = 0;
        for (int answers = 0; answers < 2; answers++) {
            Cairn__Response *response = harness_recv(client, CALL_MS);
            CHECK(response);
            if (response->id == mark_id) {
                harness_ok(response, CAIRN__RESPONSE__BODY_SETTLE_MARK);
                CHECK(response->settle_mark->settled == 1);
            } else if (response->status == CAIRN__STATUS__CONFLICT) {
                harness_expect(response, CAIRN__STATUS__CONFLICT, "nothing was settled");
                conflicts++;
            } else {
                harness_ok(response, CAIRN__RESPONSE__BODY_SETTLE_BATCH);
                batched = response->settle_batch->distributions;
                CHECK(batched == per_round - 1); //  the mark came first: four were left
            }
            cairn__response__free_unpacked(response, NULL);
        }
        CHECK(s_pending_count(client) == before - 1 - batched);
        if (batched == 0) { //  after a conflict, settle the four now
            Cairn__Response *response =
                harness_ok(s_batch(client, per_round - 1), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
            CHECK(response->settle_batch->distributions == per_round - 1);
            cairn__response__free_unpacked(response, NULL);
        }
        CHECK(s_pending_count(client) == 0);
    }
    printf(" (%" PRIu64 " conflicts in %" PRIu64 " rounds)", conflicts, rounds);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  The same pending set gives the same batch id on two nodes, whatever the
//  order of enqueue, and that id is the documented hash.
static void test_batch_reproducible(void) {
    uint8_t ids[2][32];
    for (int round = 0; round < 2; round++) {
        harness_node_t *node = harness_node_up(NULL);
        zsock_t *client = harness_connect(harness_node_endpoint(node));
        for (uint64_t k = 0; k < 50; k++) {
            uint64_t n = round ? 49 - k : k;
            CHECK(s_enqueue(client, n, s_recipient_of(n), s_amount_of(n), 1000 + (double)k));
        }
        Cairn__Response *response =
            harness_ok(s_batch(client, 0), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
        CHECK(response->settle_batch->distributions == 50);
        CHECK(response->settle_batch->n_totals == RECIPIENTS);
        for (size_t r = 1; r < RECIPIENTS; r++) //  by recipient
            CHECK(strcmp(response->settle_batch->totals[r - 1]->recipient,
                         response->settle_batch->totals[r]->recipient) < 0);
        memcpy(ids[round], response->settle_batch->batch_id.data, 32);
        cairn__response__free_unpacked(response, NULL);
        zsock_destroy(&client);
        harness_node_down(&node);
    }
    CHECK(memcmp(ids[0], ids[1], 32) == 0);
    uint8_t payments[50 * 32], expected[32];
    const char *recipients[50];
    uint64_t amounts[50];
    for (uint64_t n = 0; n < 50; n++) {
        s_payment(n, payments + 32 * n);
        recipients[n] = s_recipient_of(n);
        amounts[n] = s_amount_of(n);
    }
    settlement_batch_id(payments, recipients, amounts, 50, expected);
    CHECK(memcmp(ids[0], expected, 32) == 0);
}

//  A pending total over 2^64-1 is INTERNAL with advice, never a wrap.
static void test_overflow(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    CHECK(s_enqueue(client, 1, "alice", UINT64_MAX / 2 + 1, 1));
    CHECK(s_enqueue(client, 2, "bob", UINT64_MAX / 2, 2));
    s_total_expect(client, NULL, UINT64_MAX, 2);
    CHECK(s_enqueue(client, 3, "bob", 1, 3));
    harness_fails(s_total(client, NULL), CAIRN__STATUS__INTERNAL, "over 2^64-1");
    harness_fails(s_total(client, NULL), CAIRN__STATUS__INTERNAL, "settle part of the queue");
    s_total_expect(client, "bob", UINT64_MAX / 2 + 1, 2);
    //  Per recipient the batch fits: it settles everything.
    Cairn__Response *response = harness_ok(s_batch(client, 0), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
    CHECK(response->settle_batch->n_totals == 2);
    CHECK(response->settle_batch->totals[0]->total == UINT64_MAX / 2 + 1);
    cairn__response__free_unpacked(response, NULL);
    //  One recipient over 2^64-1: the batch is refused, nothing settled.
    CHECK(s_enqueue(client, 4, "carol", UINT64_MAX, 4));
    CHECK(s_enqueue(client, 5, "carol", 1, 5));
    harness_fails(s_batch(client, 0), CAIRN__STATUS__INTERNAL, "nothing was settled");
    response = s_pending(client, NULL, 0);
    CHECK(response->settle_pending->n_distributions == 2);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Acknowledged writes survive SIGKILL: the pending set, a batch, the last
//  settlement time.
static void test_restart(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    s_fill(client, 0, 3000);
    Cairn__Response *response =
        harness_ok(s_batch(client, 1000), CAIRN__RESPONSE__BODY_SETTLE_BATCH);
    uint8_t id[32];
    memcpy(id, response->settle_batch->batch_id.data, 32);
    cairn__response__free_unpacked(response, NULL);
    Cairn__Request request;
    Cairn__SettleLastSet set;
    ca_request_settle_last_set(&request, &set, 0, 1700001234.5);
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_LAST_SET), NULL);
    zsock_destroy(&client);
    harness_node_kill9(node);
    CHECK(harness_node_restart(node) == 0);
    client = harness_connect(harness_node_endpoint(node));
    uint64_t totals[RECIPIENTS], counts[RECIPIENTS], all = 0;
    s_model_totals(1000, 2000, totals, counts);
    for (int r = 0; r < RECIPIENTS; r++)
        all += totals[r];
    s_total_expect(client, NULL, all, 2000);
    response = harness_ok(s_batch_get(client, id, 32), CAIRN__RESPONSE__BODY_SETTLE_BATCH_GET);
    CHECK(response->settle_batch_get->distributions == 1000);
    cairn__response__free_unpacked(response, NULL);
    Cairn__SettleLastGet get;
    ca_request_settle_last_get(&request, &get, 0);
    response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_SETTLE_LAST_GET);
    CHECK(response->settle_last_get->set && response->settle_last_get->time == 1700001234.5);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_bad_input(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t id[32] = {1}, source[32] = {2}, wide[64] = {3};
    Cairn__Request request;
    Cairn__SettleEnqueue enqueue;
    Cairn__Distribution d;
    ca_request_distribution(&d, id, 16, "alice", 1, source, 32, 0);
    ca_request_settle_enqueue(&request, &enqueue, 0, &d);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "payment_id");
    ca_request_distribution(&d, id, 32, "alice", 1, wide, sizeof wide, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "source_hash");
    ca_request_distribution(&d, id, 32, "no spaces", 1, source, 32, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "recipient");
    ca_request_distribution(&d, id, 32, "alice", 1, source, 32, -5);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "queued_at");
    ca_request_distribution(&d, id, 32, "alice", 0, source, 32, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "amount");
    ca_request_distribution(&d, id, 32, "alice", 1, source, 32, 0);
    d.batch_id = (ProtobufCBinaryData){32, id};
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "set by the node");
    ca_request_settle_enqueue(&request, &enqueue, 0, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "no distribution");
    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 0, NULL, 100001);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "limit");
    harness_fails(s_total(client, "a/b"), CAIRN__STATUS__INVALID, "recipient");
    harness_fails(s_batch(client, 100001), CAIRN__STATUS__INVALID, "limit");
    harness_fails(s_batch(client, 0), CAIRN__STATUS__NOT_FOUND, "nothing is pending");
    harness_fails(s_batch_get(client, id, 31), CAIRN__STATUS__INVALID, "batch_id");
    harness_fails(s_batch_get(client, id, 32), CAIRN__STATUS__NOT_FOUND, "no batch");
    Cairn__SettleMark mark;
    ProtobufCBinaryData ids[1] = {{32, id}};
    ca_request_settle_mark(&request, &mark, 0, ids, 1, source, 32);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__NOT_FOUND, "no distributions");
    ca_request_settle_mark(&request, &mark, 0, ids, 1, source, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "batch_id");
    ProtobufCBinaryData *many = (ProtobufCBinaryData *)calloc(1001, sizeof *many);
    for (size_t i = 0; i < 1001; i++)
        many[i] = (ProtobufCBinaryData){32, id};
    ca_request_settle_mark(&request, &mark, 0, many, 1001, source, 32);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "1 to 1000");
    free(many);
    Cairn__SettleLastSet set;
    ca_request_settle_last_set(&request, &set, 0, NAN);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "time");
    //  A malformed body inside a good envelope: id 9, field 1000 (settle_enqueue)
    //  holding a truncated Distribution.
    const uint8_t malformed[] = {0x08, 0x09, 0xc2, 0x3e, 0x03, 0x0a, 0x05, 0x01};
    zframe_t *frame = zframe_new(malformed, sizeof malformed);
    CHECK(zframe_send(&frame, client, 0) == 0);
    Cairn__Response *response = harness_recv(client, CALL_MS);
    CHECK(response && response->id == 9);
    harness_expect(response, CAIRN__STATUS__INVALID, NULL);
    cairn__response__free_unpacked(response, NULL);
    //  Nothing of the above was queued.
    s_total_expect(client, NULL, 0, 0);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static const harness_test_t s_tests[] = {
    {"enqueue_pending", test_enqueue_pending},
    {"pending_pages", test_pending_pages},
    {"totals", test_totals},
    {"mark", test_mark},
    {"batch_race", test_batch_race},
    {"batch_mark_race", test_batch_mark_race},
    {"batch_reproducible", test_batch_reproducible},
    {"overflow", test_overflow},
    {"restart", test_restart},
    {"bad_input", test_bad_input},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.settlement", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

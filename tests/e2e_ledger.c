/*  =========================================================================
    e2e_ledger - black-box tests of payment channels and payments against a
    real cairnd

        e2e-ledger TEST      runs one test (ctest registers each by name)

    Payers are peers of the node (PeerPut with an Ed25519 public key made
    here); their payments are signed in the test over the canonical
    encoding (ledger_payment_encode). Races: several clients spend the same
    balance at once, and send the same payment id at once; exactly what
    fits is accepted. A seeded run of mixed operations (valid and invalid)
    is checked against a model kept in the test, across a restart.
    ========================================================================= */

#include "harness.h"
#include "ca_clock.h"
#include "ca_limits.h"
#include "ledger.h"
#include "ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 30000
#define CHECK   HARNESS_CHECK

static uint64_t s_next_id = 1;

//  The node under test's peer id: every payment is signed for it (v3).
static char s_payee[72];

//  A node with an identity (payments need a payee), its socket and caller.
#define SESSION_UP()                                                                               \
    HARNESS_SESSION_UP_IDENTITY(NULL);                                                             \
    snprintf(s_payee, sizeof s_payee, "%s", harness_node_peer_id(node))

static harness_node_t *s_node_up(void) {
    harness_node_t *node = harness_node_up_identity(NULL);
    snprintf(s_payee, sizeof s_payee, "%s", harness_node_peer_id(node));
    return node;
}

typedef struct {
    char peer_id[32];
    uint8_t public_key[32];
    uint8_t secret[64];
} payer_t;

static void s_done(Cairn__Response *response) {
    cairn__response__free_unpacked(response, NULL);
}

//  Makes `payer` known to the node behind `client` as a peer.
static void s_payer_known(zsock_t *client, const payer_t *payer) {
    Cairn__Peer peer;
    ca_request_peer_init(&peer, payer->peer_id, payer->public_key, "127.0.0.1", 7000, "payer");
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 0, &peer, NULL);
    s_done(harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_PEER_PUT));
}

//  A payer with a fresh key, known to the node as a peer.
static void s_payer(zsock_t *client, payer_t *payer, const char *peer_id) {
    snprintf(payer->peer_id, sizeof payer->peer_id, "%s", peer_id);
    crypto_sign_keypair(payer->public_key, payer->secret);
    s_payer_known(client, payer);
}

static void s_open_ok(ca_caller_t *caller, const char *peer, uint64_t mine, uint64_t theirs) {
    s_done(harness_ok(ledger_fixture_open(caller, peer, mine, theirs),
                      CAIRN__RESPONSE__BODY_LEDGER_OPEN));
}

//  A payment being built: the bytes it references live here.
typedef struct {
    uint8_t id[32], query[32], roots[4][32], signature[64];
    Cairn__ProvenanceShare shares[4], *share_list[4];
    Cairn__Payment payment;
} test_payment_t;

//  Payment number n of `amount` by `payer`, with `share_count` shares,
//  signed with the payer's key.
static void s_payment(test_payment_t *t, const payer_t *payer, uint64_t n, uint64_t amount,
                      size_t share_count) {
    memset(t, 0, sizeof *t);
    char name[64];
    snprintf(name, sizeof name, "payment-%s-%" PRIu64, payer->peer_id, n);
    crypto_hash_sha256(t->id, (const uint8_t *)name, strlen(name));
    memset(t->query, 'q', 32);
    ca_request_payment_init(&t->payment, t->id, 32, payer->peer_id, amount, "author-1", t->query,
                            32, 1700000000.5 + (double)n);
    CHECK(share_count <= 4);
    for (size_t i = 0; i < share_count; i++) {
        memset(t->roots[i], 'a' + (int)i, 32);
        cairn__provenance_share__init(&t->shares[i]);
        t->shares[i].root.data = t->roots[i];
        t->shares[i].root.len = 32;
        t->shares[i].weight = 100 + i;
        t->share_list[i] = &t->shares[i];
    }
    t->payment.provenance = share_count ? t->share_list : NULL;
    t->payment.n_provenance = share_count;
    t->payment.expires_at = (uint64_t)ca_now_seconds() + 3600;
    size_t size;
    uint8_t *message = ledger_payment_encode(&t->payment, s_payee, &size);
    CHECK(message);
    crypto_sign_detached(t->signature, NULL, message, size, payer->secret);
    free(message);
    t->payment.signature.data = t->signature;
    t->payment.signature.len = 64;
}

static Cairn__Response *s_send_pay(zsock_t *client, test_payment_t *t) {
    Cairn__Request request;
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 0, &t->payment);
    return harness_request(client, &request);
}

static Cairn__Response *s_pay(zsock_t *client, const payer_t *payer, uint64_t n, uint64_t amount) {
    test_payment_t t;
    s_payment(&t, payer, n, amount, 2);
    return s_send_pay(client, &t);
}

static void s_pay_ok(zsock_t *client, const payer_t *payer, uint64_t n, uint64_t amount) {
    Cairn__Response *response =
        harness_ok(s_pay(client, payer, n, amount), CAIRN__RESPONSE__BODY_LEDGER_PAY);
    CHECK(response->ledger_pay->amount == amount && !response->ledger_pay->cleared);
    s_done(response);
}

static Cairn__Response *s_pending(zsock_t *client, const char *peer) {
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, peer, 0, NULL, 0);
    return harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_PENDING);
}

//  One page of `peer`'s pending payments after payment id `after` (NULL:
//  from the oldest; else `after_size` bytes), any status.
static Cairn__Response *s_pending_page(zsock_t *client, const char *peer, uint32_t limit,
                                       const uint8_t *after, size_t after_size) {
    Cairn__Request request;
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 0, peer, limit, after, after_size);
    return harness_request(client, &request);
}

static Cairn__Response *s_list_page(zsock_t *client, uint32_t limit, const char *after) {
    Cairn__Request request;
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 0, limit, after);
    return harness_request(client, &request);
}

//  All of `peer`'s pending payments, counted page by page (the largest).
static size_t s_pending_count(zsock_t *client, const char *peer) {
    uint8_t after[32];
    size_t count = 0;
    bool more = true;
    while (more) {
        Cairn__Response *response = harness_ok(
            s_pending_page(client, peer, LEDGER_PENDING_MAX, count ? after : NULL, count ? 32 : 0),
            CAIRN__RESPONSE__BODY_LEDGER_PENDING);
        const Cairn__PaymentPage *page = response->ledger_pending;
        more = page->more;
        CHECK(!more || page->n_payments == LEDGER_PENDING_MAX);
        if (page->n_payments)
            memcpy(after, page->payments[page->n_payments - 1]->id.data, 32);
        count += page->n_payments;
        s_done(response);
    }
    return count;
}

//  ---- tests ---------------------------------------------------------------------------

//  Open, pay, update, adjust: every balance and nonce right, across a
//  kill -9; the list shows open channels only.
static void test_flow(void) {
    SESSION_UP();
    payer_t alice, bob;
    s_payer(client, &alice, "alice");
    s_payer(client, &bob, "bob");
    s_open_ok(caller, "alice", 0, 1000);
    s_open_ok(caller, "bob", 50, 50);
    harness_fails(ledger_fixture_open(caller, "alice", 0, 1), CAIRN__STATUS__CONFLICT, "exists");
    for (uint64_t n = 1; n <= 10; n++)
        s_pay_ok(client, &alice, n, n * 10); //  550 in all
    ledger_fixture_expect_channel(caller, "alice", 550, 450, 0);
    s_done(harness_ok(ledger_fixture_update(caller, "alice", 1, 500, 500),
                      CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    s_done(harness_ok(ledger_fixture_adjust(caller, "alice", 0, 250),
                      CAIRN__RESPONSE__BODY_LEDGER_ADJUST));
    s_pay_ok(client, &alice, 11, 750);
    ledger_fixture_expect_channel(caller, "alice", 1250, 0, 1);
    harness_fails(s_pay(client, &alice, 12, 1), CAIRN__STATUS__INVALID, "lower than the amount");
    s_done(harness_ok(ledger_fixture_update(caller, "bob", 3, 0, 100),
                      CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    Cairn__Request request;
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 0, "bob", 4, CAIRN__CHANNEL_STATE__CHANNEL_CLOSING,
                             0, 100);
    s_done(harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    //  A closing channel takes no payment, though the balance would cover it.
    harness_fails(s_pay(client, &bob, 1, 10), CAIRN__STATUS__CONFLICT, "not open");

    //  Everything acknowledged is there after a kill -9 and a restart.
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    harness_node_kill9(node);
    harness_session_reopen(node, &client, &caller);
    ledger_fixture_expect_channel(caller, "alice", 1250, 0, 1);
    ledger_fixture_expect_channel(caller, "bob", 0, 100, 4);
    CHECK(s_pending_count(client, "alice") == 11);
    Cairn__Response *response =
        harness_ok(s_list_page(client, 0, NULL), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    CHECK(response->ledger_list->n_channels == 1);
    CHECK(streq(response->ledger_list->channels[0]->peer_id, "alice"));
    CHECK(response->ledger_list->channels[0]->state == CAIRN__CHANNEL_STATE__CHANNEL_OPEN);
    s_done(response);
    //  The refused payment left nothing; once open again, it goes through.
    CHECK(s_pending_count(client, "bob") == 0);
    s_done(harness_ok(ledger_fixture_update(caller, "bob", 5, 0, 100),
                      CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    s_pay_ok(client, &bob, 1, 10);
    ledger_fixture_expect_channel(caller, "bob", 10, 90, 5);
    harness_session_down(&caller, &client, &node);
}

//  A stale or replayed update is CONFLICT and changes nothing; balances
//  that do not keep the sum are INVALID.
static void test_stale_nonce(void) {
    SESSION_UP();
    s_open_ok(caller, "carol", 10, 90);
    ledger_fixture_update_rules(caller, "carol", 7, 20, 80);
    s_done(harness_ok(ledger_fixture_update(caller, "carol", 1000000, 100, 0),
                      CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    ledger_fixture_expect_channel(caller, "carol", 100, 0, 1000000);
    harness_session_down(&caller, &client, &node);
}

//  Signed by another key, a flipped byte in any signed field, or a bad
//  signature: UNAUTHORIZED, nothing moves.
static void test_bad_signature(void) {
    SESSION_UP();
    payer_t dave, mallory;
    s_payer(client, &dave, "dave");
    s_payer(client, &mallory, "mallory");
    s_open_ok(caller, "dave", 0, 100);
    test_payment_t t;
    s_payment(&t, &mallory, 1, 10, 2);
    t.payment.channel_peer = dave.peer_id; //  mallory signs for dave's channel
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.payment.amount = 11;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.payment.recipient = (char *)"author-2";
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.shares[1].weight++;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.payment.n_provenance = 1; //  a share dropped
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.payment.timestamp += 1e-6;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.id[31] ^= 1;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    s_payment(&t, &dave, 1, 10, 2);
    t.signature[0] ^= 1;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    ledger_fixture_expect_channel(caller, "dave", 0, 100, 0);
    CHECK(s_pending_count(client, "dave") == 0);
    s_payment(&t, &dave, 1, 10, 2);
    s_done(harness_ok(s_send_pay(client, &t), CAIRN__RESPONSE__BODY_LEDGER_PAY));
    ledger_fixture_expect_channel(caller, "dave", 10, 90, 0);
    //  A blocked payer is refused.
    Cairn__Request request;
    Cairn__PeerBlock block;
    ca_request_peer_block(&request, &block, 0, "dave", true);
    s_done(harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_PEER_BLOCK));
    harness_fails(s_pay(client, &dave, 2, 10), CAIRN__STATUS__UNAUTHORIZED, "blocked");
    ledger_fixture_expect_channel(caller, "dave", 10, 90, 0);
    harness_session_down(&caller, &client, &node);
}

//  A channel whose peer the node has no key for takes no payment.
static void test_unknown_peer(void) {
    SESSION_UP();
    payer_t erin;
    crypto_sign_keypair(erin.public_key, erin.secret);
    snprintf(erin.peer_id, sizeof erin.peer_id, "erin");
    s_open_ok(caller, "erin", 0, 100);
    harness_fails(s_pay(client, &erin, 1, 10), CAIRN__STATUS__UNAUTHORIZED, "no public key");
    ledger_fixture_expect_channel(caller, "erin", 0, 100, 0);
    //  Known peer, no channel: NOT_FOUND, nothing stored.
    payer_t frank;
    s_payer(client, &frank, "frank");
    harness_fails(s_pay(client, &frank, 1, 10), CAIRN__STATUS__NOT_FOUND, "open one");
    s_open_ok(caller, "frank", 0, 10);
    s_pay_ok(client, &frank, 1, 10); //  the same id was never stored
    harness_session_down(&caller, &client, &node);
}

//  Four clients spend one balance at once: exactly what fits is paid.
static void test_overspend(void) {
    harness_node_t *node = s_node_up();
    enum { CLIENTS = 4, EACH = 50, AMOUNT = 7, BALANCE = 1000 };
    zsock_t *clients[CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        clients[c] = harness_connect(harness_node_endpoint(node));
    ca_caller_t *caller = ca_caller_new_socket(clients[0], HARNESS_CALL_MS);
    payer_t grace;
    s_payer(clients[0], &grace, "grace");
    s_open_ok(caller, "grace", 0, BALANCE);
    for (int i = 0; i < EACH; i++)
        for (int c = 0; c < CLIENTS; c++) {
            test_payment_t t;
            s_payment(&t, &grace, (uint64_t)(c * EACH + i), AMOUNT, 1);
            Cairn__Request request;
            Cairn__LedgerPay pay;
            ca_request_ledger_pay(&request, &pay, s_next_id++, &t.payment);
            CHECK(harness_send(clients[c], &request) == 0);
        }
    int paid = 0, refused = 0;
    for (int c = 0; c < CLIENTS; c++)
        for (int i = 0; i < EACH; i++) {
            Cairn__Response *response = harness_recv(clients[c], CALL_MS);
            CHECK(response);
            if (response->status == CAIRN__STATUS__OK)
                paid++;
            else {
                harness_expect(response, CAIRN__STATUS__INVALID, "lower than the amount");
                refused++;
            }
            s_done(response);
        }
    CHECK(paid == BALANCE / AMOUNT && refused == CLIENTS * EACH - paid);
    ledger_fixture_expect_channel(caller, "grace", (uint64_t)paid * AMOUNT,
                                  BALANCE - (uint64_t)paid * AMOUNT, 0);
    CHECK(s_pending_count(clients[0], "grace") == (size_t)paid);
    for (int c = 1; c < CLIENTS; c++)
        zsock_destroy(&clients[c]);
    ca_caller_destroy(&caller);
    zsock_destroy(&clients[0]);
    harness_node_down(&node);
}

//  The same payment id, again and from several clients at once: paid once.
static void test_duplicate(void) {
    harness_node_t *node = s_node_up();
    enum { CLIENTS = 4 };
    zsock_t *clients[CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        clients[c] = harness_connect(harness_node_endpoint(node));
    ca_caller_t *caller = ca_caller_new_socket(clients[0], HARNESS_CALL_MS);
    payer_t heidi;
    s_payer(clients[0], &heidi, "heidi");
    s_open_ok(caller, "heidi", 0, 1000);
    s_pay_ok(clients[0], &heidi, 1, 10);
    harness_fails(s_pay(clients[0], &heidi, 1, 10), CAIRN__STATUS__CONFLICT, "already recorded");
    test_payment_t t;
    s_payment(&t, &heidi, 2, 20, 3);
    for (int c = 0; c < CLIENTS; c++) {
        Cairn__Request request;
        Cairn__LedgerPay pay;
        ca_request_ledger_pay(&request, &pay, s_next_id++, &t.payment);
        CHECK(harness_send(clients[c], &request) == 0);
    }
    int paid = 0;
    for (int c = 0; c < CLIENTS; c++) {
        Cairn__Response *response = harness_recv(clients[c], CALL_MS);
        CHECK(response);
        if (response->status == CAIRN__STATUS__OK)
            paid++;
        else
            harness_expect(response, CAIRN__STATUS__CONFLICT, "already recorded");
        s_done(response);
    }
    CHECK(paid == 1);
    ledger_fixture_expect_channel(caller, "heidi", 30, 970, 0);
    CHECK(s_pending_count(clients[0], "heidi") == 2);
    for (int c = 1; c < CLIENTS; c++)
        zsock_destroy(&clients[c]);
    ca_caller_destroy(&caller);
    zsock_destroy(&clients[0]);
    harness_node_down(&node);
}

//  ---- conservation: a seeded run against a model ---------------------------------------

typedef struct {
    uint64_t mine, theirs, nonce, paid_count;
} model_channel_t;

static uint64_t s_rand(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

//  Random payments (some too large, some duplicate), updates (some stale,
//  some not keeping the sum) and adjustments (some going below zero) on
//  three channels; every answer and the end state match the model, and
//  the sum of each channel moves only by its adjustments.
static void test_conservation(void) {
    SESSION_UP();
    enum { PAYERS = 3, OPS = 3000 };
    payer_t payers[PAYERS];
    model_channel_t model[PAYERS];
    int64_t adjusted[PAYERS] = {0};
    for (int p = 0; p < PAYERS; p++) {
        char name[16];
        snprintf(name, sizeof name, "payer-%d", p);
        s_payer(client, &payers[p], name);
        model[p] = (model_channel_t){100, 5000, 0, 0};
        s_open_ok(caller, name, 100, 5000);
    }
    uint64_t seed = 0x1edce7;
    uint64_t next_payment = 1;
    for (int op = 0; op < OPS; op++) {
        int p = (int)(s_rand(&seed) % PAYERS);
        model_channel_t *m = &model[p];
        const char *peer = payers[p].peer_id;
        uint64_t kind = s_rand(&seed) % 10;
        if (kind < 6) { //  a payment, sometimes too large, sometimes a repeat
            bool repeat = next_payment > 1 && s_rand(&seed) % 8 == 0;
            uint64_t amount = 1 + s_rand(&seed) % 120;
            uint64_t n = repeat ? 1 + s_rand(&seed) % (next_payment - 1) : next_payment++;
            Cairn__Response *response = s_pay(client, &payers[p], n, amount);
            if (repeat)
                CHECK(response->status == CAIRN__STATUS__CONFLICT ||
                      response->status == CAIRN__STATUS__INVALID ||
                      response->status == CAIRN__STATUS__OK);
            //  A repeat of a refused (never stored) payment may pass now.
            if (response->status == CAIRN__STATUS__OK) {
                CHECK(amount <= m->theirs);
                m->theirs -= amount;
                m->mine += amount;
                m->paid_count++;
            } else if (!repeat)
                CHECK(response->status == CAIRN__STATUS__INVALID && amount > m->theirs);
            s_done(response);
        } else if (kind < 8) { //  an update, sometimes stale or breaking the sum
            uint64_t sum = m->mine + m->theirs;
            uint64_t mine = sum ? s_rand(&seed) % (sum + 1) : 0;
            uint64_t variant = s_rand(&seed) % 4;
            uint64_t nonce = variant == 0 ? m->nonce : m->nonce + 1 + s_rand(&seed) % 3;
            uint64_t theirs = sum - mine + (variant == 1 ? 1 : 0);
            Cairn__Response *response = ledger_fixture_update(caller, peer, nonce, mine, theirs);
            if (variant == 0)
                harness_expect(response, CAIRN__STATUS__CONFLICT, "stale");
            else if (variant == 1)
                harness_expect(response, CAIRN__STATUS__INVALID, "add up");
            else {
                harness_expect(response, CAIRN__STATUS__OK, NULL);
                m->mine = mine;
                m->theirs = theirs;
                m->nonce = nonce;
            }
            s_done(response);
        } else { //  a deposit or a withdrawal, sometimes too large
            int64_t mine = (int64_t)(s_rand(&seed) % 200) - 100;
            int64_t theirs = (int64_t)(s_rand(&seed) % 400) - 150;
            bool fits = (int64_t)m->mine + mine >= 0 && (int64_t)m->theirs + theirs >= 0;
            Cairn__Response *response = ledger_fixture_adjust(caller, peer, mine, theirs);
            if (fits) {
                harness_expect(response, CAIRN__STATUS__OK, NULL);
                m->mine = (uint64_t)((int64_t)m->mine + mine);
                m->theirs = (uint64_t)((int64_t)m->theirs + theirs);
                adjusted[p] += mine + theirs;
            } else
                harness_expect(response, CAIRN__STATUS__INVALID, "below zero");
            s_done(response);
        }
    }
    for (int p = 0; p < PAYERS; p++) {
        ledger_fixture_expect_channel(caller, payers[p].peer_id, model[p].mine, model[p].theirs,
                                      model[p].nonce);
        CHECK((int64_t)(model[p].mine + model[p].theirs) == 5100 + adjusted[p]);
        CHECK(s_pending_count(client, payers[p].peer_id) == model[p].paid_count);
    }
    harness_session_down(&caller, &client, &node);
}

static Cairn__Response *s_history(zsock_t *client, const char *peer, uint32_t limit,
                                  uint64_t after_seq) {
    Cairn__Request request;
    Cairn__LedgerHistory history;
    ca_request_ledger_history(&request, &history, 0, peer, limit, after_seq);
    return harness_request(client, &request);
}

//  The whole history, read `limit` entries a page; checks the order and
//  that `more` is set exactly on full pages that have a successor.
static size_t s_read_history(zsock_t *client, const char *peer, uint32_t limit,
                             Cairn__Adjustment *entries, size_t capacity) {
    size_t count = 0;
    uint64_t after = 0;
    bool more = true;
    while (more && count < capacity) {
        Cairn__Response *response =
            harness_ok(s_history(client, peer, limit, after), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
        const Cairn__AdjustmentPage *page = response->ledger_history;
        CHECK(page->n_adjustments <= limit);
        CHECK(!page->more || page->n_adjustments == limit);
        for (size_t i = 0; i < page->n_adjustments && count < capacity; i++) {
            CHECK(page->adjustments[i]->seq > after);
            after = page->adjustments[i]->seq;
            entries[count] = *page->adjustments[i];
            entries[count].reason = NULL; //  freed with the response
            count++;
        }
        more = page->more;
        s_done(response);
    }
    return count;
}

//  The log of a channel's sum: its opening and every adjustment, oldest
//  first, in pages; payments and updates are not in it; the deltas add up
//  to the sum, across a kill -9.
static void test_history(void) {
    SESSION_UP();
    payer_t ivan;
    s_payer(client, &ivan, "ivan");
    s_open_ok(caller, "ivan", 5, 20);
    s_done(harness_ok(ledger_fixture_adjust(caller, "ivan", 3, 7),
                      CAIRN__RESPONSE__BODY_LEDGER_ADJUST));
    s_pay_ok(client, &ivan, 1, 4);
    s_done(harness_ok(ledger_fixture_update(caller, "ivan", 1, 20, 15),
                      CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
    s_done(harness_ok(ledger_fixture_adjust(caller, "ivan", -8, 0),
                      CAIRN__RESPONSE__BODY_LEDGER_ADJUST));
    ledger_fixture_expect_channel(caller, "ivan", 12, 15, 1);
    Cairn__Response *response =
        harness_ok(s_history(client, "ivan", 0, 0), CAIRN__RESPONSE__BODY_LEDGER_HISTORY);
    const Cairn__AdjustmentPage *page = response->ledger_history;
    CHECK(page->n_adjustments == 3 && !page->more);
    if (page->n_adjustments == 3) {
        CHECK(streq(page->adjustments[0]->reason, "open"));
        CHECK(page->adjustments[0]->my_delta == 5 && page->adjustments[0]->their_delta == 20);
        CHECK(streq(page->adjustments[1]->reason, LEDGER_FIXTURE_REASON));
        CHECK(page->adjustments[1]->my_delta == 3 && page->adjustments[1]->their_delta == 7);
        CHECK(page->adjustments[2]->my_delta == -8 && page->adjustments[2]->their_delta == 0);
        CHECK(page->adjustments[0]->at > 0 && page->adjustments[2]->at >= page->adjustments[0]->at);
    }
    s_done(response);

    //  30 more, read 7 at a time: every entry once, in order, adding up.
    enum { MORE = 30, ALL = MORE + 3 };
    int64_t sum = 27;
    for (int i = 0; i < MORE; i++) {
        s_done(harness_ok(ledger_fixture_adjust(caller, "ivan", i % 3, -(i % 2)),
                          CAIRN__RESPONSE__BODY_LEDGER_ADJUST));
        sum += i % 3 - i % 2;
    }
    for (int round = 0; round < 2; round++) {
        Cairn__Adjustment entries[ALL + 1];
        size_t count = s_read_history(client, "ivan", 7, entries, ALL + 1);
        CHECK(count == ALL);
        int64_t total = 0;
        for (size_t i = 0; i < count; i++)
            total += entries[i].my_delta + entries[i].their_delta;
        CHECK(total == sum);
        Cairn__Request request;
        Cairn__LedgerGet get;
        ca_request_ledger_get(&request, &get, 0, "ivan");
        response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_GET);
        CHECK((int64_t)(response->ledger_get->my_balance + response->ledger_get->their_balance) ==
              sum);
        s_done(response);
        if (round == 0) { //  and again after a kill -9
            ca_caller_destroy(&caller);
            zsock_destroy(&client);
            harness_node_kill9(node);
            harness_session_reopen(node, &client, &caller);
        }
    }
    //  A page of exactly what is left says no more.
    Cairn__Adjustment entries[ALL];
    CHECK(s_read_history(client, "ivan", 11, entries, ALL) == ALL);

    harness_fails(s_history(client, "nobody", 0, 0), CAIRN__STATUS__NOT_FOUND, "open one");
    harness_fails(s_history(client, "ivan", 1001, 0), CAIRN__STATUS__INVALID, "at most 1000");
    harness_fails(s_history(client, "ivan", 0, UINT64_MAX), CAIRN__STATUS__INVALID, "after_seq");
    harness_session_down(&caller, &client, &node);
}

//  Pending payments oldest first with every field; clearing is by id,
//  counts only what was pending, and twice is harmless.
static void test_pending_clear(void) {
    SESSION_UP();
    payer_t ivan;
    s_payer(client, &ivan, "ivan");
    s_open_ok(caller, "ivan", 0, 100);
    test_payment_t sent[5];
    for (uint64_t n = 0; n < 5; n++) {
        s_payment(&sent[n], &ivan, n, n + 1, (size_t)n % 5);
        s_done(harness_ok(s_send_pay(client, &sent[n]), CAIRN__RESPONSE__BODY_LEDGER_PAY));
    }
    Cairn__Response *response = s_pending(client, "ivan");
    const Cairn__PaymentPage *page = response->ledger_pending;
    CHECK(page->n_payments == 5);
    for (size_t i = 0; i < 5; i++) {
        const Cairn__Payment *got = page->payments[i];
        CHECK(memcmp(got->id.data, sent[i].id, 32) == 0 && got->amount == i + 1);
        CHECK(streq(got->channel_peer, "ivan") && streq(got->recipient, "author-1"));
        CHECK(got->n_provenance == i % 5 && got->timestamp == sent[i].payment.timestamp);
        CHECK(got->signature.len == 64 && !got->cleared);
        CHECK(ledger_payment_verify(got, s_payee, ivan.public_key));
    }
    s_done(response);
    uint8_t unknown[32] = {7};
    ProtobufCBinaryData ids[3] = {{32, sent[1].id}, {32, sent[3].id}, {32, unknown}};
    Cairn__Request request;
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 3);
    response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    CHECK(response->ledger_clear->cleared == 2);
    s_done(response);
    response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    CHECK(response->ledger_clear->cleared == 0);
    s_done(response);
    response = s_pending(client, "ivan");
    page = response->ledger_pending;
    CHECK(page->n_payments == 3);
    CHECK(page->payments[0]->amount == 1 && page->payments[1]->amount == 3);
    CHECK(page->payments[2]->amount == 5);
    s_done(response);
    ca_request_ledger_clear(&request, &clear, 0, NULL, 0);
    response = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR);
    CHECK(response->ledger_clear->cleared == 0);
    s_done(response);
    ledger_fixture_expect_channel(caller, "ivan", 15, 85, 0); //  clearing moves no money
    harness_session_down(&caller, &client, &node);
}

//  LedgerList a page at a time: 25 open channels among closed ones, walked
//  with several limits; the bounds of a page.
static void test_list_pages(void) {
    SESSION_UP();
    char peers[25][16];
    for (int i = 0; i < 25; i++) {
        snprintf(peers[i], sizeof peers[i], "chan-%02d", i);
        s_open_ok(caller, peers[i], 0, 10);
        if (i % 6 == 0) { //  a closed one right after: never listed
            char closed[16];
            snprintf(closed, sizeof closed, "chan-%02dx", i);
            s_open_ok(caller, closed, 0, 10);
            Cairn__Request request;
            Cairn__LedgerUpdate update;
            ca_request_ledger_update(&request, &update, 0, closed, 1,
                                     CAIRN__CHANNEL_STATE__CHANNEL_CLOSED, 0, 10);
            s_done(
                harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_UPDATE));
        }
    }
    CHECK(ledger_fixture_walk_channels(caller, 7, peers, 25) == 4); //  7 7 7 4
    CHECK(ledger_fixture_walk_channels(caller, 5, peers, 25) ==
          5); //  the last page full, more false
    CHECK(ledger_fixture_walk_channels(caller, 0, peers, 25) == 1); //  the default holds them all
    CHECK(ledger_fixture_walk_channels(caller, 1, peers, 25) == 25);
    CHECK(ledger_fixture_walk_channels(caller, LEDGER_LIST_MAX, peers, 25) == 1);
    harness_fails(s_list_page(client, LEDGER_LIST_MAX + 1, NULL), CAIRN__STATUS__INVALID,
                  "at most 1000");
    harness_fails(s_list_page(client, 0, "../etc"), CAIRN__STATUS__INVALID, "after_peer_id");
    harness_fails(s_list_page(client, 0, "a b"), CAIRN__STATUS__INVALID, "after_peer_id");
    //  A cursor need not be a channel: the page starts after it.
    Cairn__Response *response =
        harness_ok(s_list_page(client, 2, "chan-12a"), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    CHECK(response->ledger_list->n_channels == 2 && response->ledger_list->more);
    CHECK(streq(response->ledger_list->channels[0]->peer_id, "chan-13"));
    s_done(response);
    response = harness_ok(s_list_page(client, 3, "zzz"), CAIRN__RESPONSE__BODY_LEDGER_LIST);
    CHECK(response->ledger_list->n_channels == 0 && !response->ledger_list->more);
    s_done(response);
    harness_session_down(&caller, &client, &node);
}

//  Walks `peer`'s pending payments `limit` at a time, each cursor the id
//  of the last payment of the page before: sent[0..total) but `skip`
//  (-1: none) each once, oldest first. Returns the pages.
static size_t s_walk_pending(zsock_t *client, const char *peer, uint32_t limit,
                             const test_payment_t *sent, int total, int skip) {
    const uint8_t *after = NULL;
    size_t pages = 0, page_size = limit ? limit : LEDGER_PENDING_DEFAULT;
    int next = 0;
    bool more = true;
    while (more) {
        Cairn__Response *response =
            harness_ok(s_pending_page(client, peer, limit, after, after ? 32 : 0),
                       CAIRN__RESPONSE__BODY_LEDGER_PENDING);
        const Cairn__PaymentPage *page = response->ledger_pending;
        CHECK(page->n_payments <= page_size);
        for (size_t i = 0; i < page->n_payments; i++, next++) {
            if (next == skip)
                next++;
            CHECK(next < total && memcmp(page->payments[i]->id.data, sent[next].id, 32) == 0);
            after = sent[next].id;
        }
        more = page->more;
        CHECK(more == (next < total && !(next == skip && next + 1 == total)));
        CHECK(!more || page->n_payments == page_size); //  only a full page says more
        s_done(response);
        pages++;
    }
    CHECK(next == total);
    return pages;
}

//  LedgerPending a page at a time: 25 payments of mia beside ned's,
//  walked with several limits; bad, unknown, foreign and cleared cursors.
static void test_pending_pages(void) {
    SESSION_UP();
    payer_t mia, ned;
    s_payer(client, &mia, "mia");
    s_payer(client, &ned, "ned");
    s_open_ok(caller, "mia", 0, 1000);
    s_open_ok(caller, "ned", 0, 1000);
    static test_payment_t sent[25], foreign;
    for (int n = 0; n < 25; n++) {
        s_payment(&sent[n], &mia, (uint64_t)n, 1, (size_t)n % 3);
        s_done(harness_ok(s_send_pay(client, &sent[n]), CAIRN__RESPONSE__BODY_LEDGER_PAY));
        if (n == 10) { //  ned pays in between
            s_payment(&foreign, &ned, 0, 1, 1);
            s_done(harness_ok(s_send_pay(client, &foreign), CAIRN__RESPONSE__BODY_LEDGER_PAY));
        }
    }
    CHECK(s_walk_pending(client, "mia", 7, sent, 25, -1) == 4); //  7 7 7 4
    CHECK(s_walk_pending(client, "mia", 5, sent, 25, -1) == 5); //  the last page full
    CHECK(s_walk_pending(client, "mia", 0, sent, 25, -1) == 1); //  the default holds them all
    CHECK(s_walk_pending(client, "mia", 1, sent, 25, -1) == 25);
    harness_fails(s_pending_page(client, "mia", LEDGER_PENDING_MAX + 1, NULL, 0),
                  CAIRN__STATUS__INVALID, "at most 10000");
    uint8_t wide[40] = {1};
    size_t sizes[] = {1, 31, 33, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        harness_fails(s_pending_page(client, "mia", 0, wide, sizes[i]), CAIRN__STATUS__INVALID,
                      "after_payment_id");
    harness_fails(s_pending_page(client, "mia", 0, wide, 32), CAIRN__STATUS__NOT_FOUND,
                  "last payment of the previous page");
    harness_fails(s_pending_page(client, "mia", 0, foreign.id, 32), CAIRN__STATUS__NOT_FOUND,
                  "last payment of the previous page");
    harness_fails(s_pending_page(client, "nobody", 0, sent[0].id, 32), CAIRN__STATUS__NOT_FOUND,
                  "open one");

    //  A cursor cleared since still marks its place; the cleared payment
    //  is on no page.
    ProtobufCBinaryData ids[1] = {{32, sent[6].id}};
    Cairn__Request request;
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 1);
    s_done(harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_LEDGER_CLEAR));
    Cairn__Response *response = harness_ok(s_pending_page(client, "mia", 3, sent[6].id, 32),
                                           CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    CHECK(response->ledger_pending->n_payments == 3 && response->ledger_pending->more);
    CHECK(memcmp(response->ledger_pending->payments[0]->id.data, sent[7].id, 32) == 0);
    s_done(response);
    CHECK(s_walk_pending(client, "mia", 7, sent, 25, 6) == 4); //  24 left: 7 7 7 3
    //  The last payment as the cursor: an empty last page.
    response = harness_ok(s_pending_page(client, "mia", 3, sent[24].id, 32),
                          CAIRN__RESPONSE__BODY_LEDGER_PENDING);
    CHECK(response->ledger_pending->n_payments == 0 && !response->ledger_pending->more);
    s_done(response);
    harness_session_down(&caller, &client, &node);
}

//  Pays payment n of `payer` (amount 1) with `share_count` distinct shares.
static void s_pay_wide(zsock_t *client, const payer_t *payer, uint64_t n, size_t share_count,
                       uint8_t id[32]) {
    test_payment_t t;
    s_payment(&t, payer, n, 1, 0);
    Cairn__ProvenanceShare *shares = calloc(share_count, sizeof *shares);
    Cairn__ProvenanceShare **list = calloc(share_count, sizeof *list);
    uint8_t(*roots)[32] = calloc(share_count, 32);
    CHECK(shares && list && roots);
    for (size_t i = 0; i < share_count; i++) {
        snprintf((char *)roots[i], 32, "root-%" PRIu64 "-%zu", n, i);
        cairn__provenance_share__init(&shares[i]);
        shares[i].root = (ProtobufCBinaryData){32, roots[i]};
        shares[i].weight = 1 + i;
        list[i] = &shares[i];
    }
    t.payment.provenance = list;
    t.payment.n_provenance = share_count;
    size_t size;
    uint8_t *message = ledger_payment_encode(&t.payment, s_payee, &size);
    CHECK(message);
    crypto_sign_detached(t.signature, NULL, message, size, payer->secret);
    free(message);
    s_done(harness_ok(s_send_pay(client, &t), CAIRN__RESPONSE__BODY_LEDGER_PAY));
    memcpy(id, t.id, 32);
    free(roots);
    free(list);
    free(shares);
}

//  LedgerPending stops a page before its answer passes 4 MiB (120 payments
//  of 1000 shares are ~4.7 MB), says more, and the cursor walks on to
//  every payment once, in order.
static void test_pending_bytes(void) {
    SESSION_UP();
    payer_t wes;
    s_payer(client, &wes, "wes");
    s_open_ok(caller, "wes", 0, 1000);
    enum { PAYMENTS = 120, SHARES = 1000 };
    static uint8_t ids[PAYMENTS][32];
    for (uint64_t n = 0; n < PAYMENTS; n++)
        s_pay_wide(client, &wes, n, SHARES, ids[n]);
    size_t seen = 0, pages = 0;
    bool more = true;
    while (more && pages < PAYMENTS) {
        Cairn__Response *response =
            harness_ok(s_pending_page(client, "wes", 0, seen ? ids[seen - 1] : NULL, seen ? 32 : 0),
                       CAIRN__RESPONSE__BODY_LEDGER_PENDING);
        const Cairn__PaymentPage *page = response->ledger_pending;
        CHECK(cairn__payment_page__get_packed_size(page) <= CA_PAGE_BYTES_MAX);
        CHECK(page->n_payments >= 1);
        for (size_t i = 0; i < page->n_payments; i++, seen++) {
            CHECK(seen < PAYMENTS && memcmp(page->payments[i]->id.data, ids[seen], 32) == 0);
            CHECK(page->payments[i]->n_provenance == SHARES);
        }
        more = page->more;
        pages++;
        s_done(response);
    }
    CHECK(seen == PAYMENTS && pages >= 2);
    harness_session_down(&caller, &client, &node);
}

//  Every field out of bounds, and bodies that do not decode: refused,
//  nothing stored, the node fine.
static void test_bad_input(void) {
    SESSION_UP();
    payer_t judy;
    s_payer(client, &judy, "judy");
    s_open_ok(caller, "judy", 0, 100);
    const char *bad_peers[] = {"", "../etc", "a b", "peer/x"};
    for (size_t i = 0; i < sizeof bad_peers / sizeof bad_peers[0]; i++) {
        harness_fails(ledger_fixture_open(caller, bad_peers[i], 0, 0), CAIRN__STATUS__INVALID,
                      "peer_id");
        harness_fails(ledger_fixture_update(caller, bad_peers[i], 1, 0, 0), CAIRN__STATUS__INVALID,
                      "peer_id");
        harness_fails(ledger_fixture_adjust(caller, bad_peers[i], 1, 0), CAIRN__STATUS__INVALID,
                      "peer_id");
        Cairn__Request request;
        Cairn__LedgerGet get;
        ca_request_ledger_get(&request, &get, 0, bad_peers[i]);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "peer_id");
        Cairn__LedgerPending pending;
        ca_request_ledger_pending(&request, &pending, 0, bad_peers[i], 0, NULL, 0);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "peer_id");
        harness_fails(s_history(client, bad_peers[i], 0, 0), CAIRN__STATUS__INVALID, "peer_id");
        test_payment_t t;
        s_payment(&t, &judy, 1, 1, 0);
        t.payment.recipient = (char *)bad_peers[i];
        harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "recipient");
        t.payment.recipient = (char *)"author-1";
        t.payment.channel_peer = (char *)bad_peers[i];
        harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "channel_peer");
    }
    char *long_peer = (char *)malloc(200);
    memset(long_peer, 'p', 199);
    long_peer[199] = 0;
    harness_fails(ledger_fixture_open(caller, long_peer, 0, 0), CAIRN__STATUS__INVALID, "peer_id");
    free(long_peer);
    harness_fails(ledger_fixture_open(caller, "kate", (uint64_t)INT64_MAX + 1, 0),
                  CAIRN__STATUS__INVALID, "2^63-1");
    harness_fails(ledger_fixture_open(caller, "kate", UINT64_MAX, UINT64_MAX),
                  CAIRN__STATUS__INVALID, "2^63-1");
    harness_fails(ledger_fixture_open(caller, "kate", INT64_MAX, 1), CAIRN__STATUS__INVALID,
                  "add up");
    ledger_fixture_adjust_bounds(caller, "judy", 0, 100, 0);
    Cairn__Request request;
    Cairn__LedgerAdjust adjust;
    ca_request_ledger_adjust(&request, &adjust, 0, "judy", 1, 0, "");
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "reason");
    char reason[300];
    memset(reason, 'r', 299);
    reason[299] = 0;
    ca_request_ledger_adjust(&request, &adjust, 0, "judy", 1, 0, reason);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "reason");
    Cairn__LedgerOpen open;
    ca_request_ledger_open(&request, &open, 0, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "no channel");
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 0, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "no payment");

    //  Payment fields: sizes, amount, timestamp, share count and roots.
    test_payment_t t;
    s_payment(&t, &judy, 1, 1, 2);
    t.payment.id.len = 31;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "payment.id");
    t.payment.id.len = 32;
    t.payment.query_hash.len = 0;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "payment.query_hash");
    t.payment.query_hash.len = 32;
    t.payment.signature.len = 63;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "payment.signature");
    t.payment.signature.len = 64;
    t.shares[1].root.len = 33;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "provenance[1].root");
    t.shares[1].root.len = 32;
    t.payment.amount = 0;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "amount");
    t.payment.amount = UINT64_MAX;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "amount");
    t.payment.amount = 1;
    t.payment.timestamp = -1;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "timestamp");
    t.payment.timestamp = -0.0; //  proto3 sends no -0.0: the node reads 0, not what was signed
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    t.payment.timestamp = 1.0 / 0.0;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "timestamp");
    s_payment(&t, &judy, 1, 1, 1);
    Cairn__ProvenanceShare **many = (Cairn__ProvenanceShare **)calloc(1001, sizeof *many);
    for (size_t i = 0; i < 1001; i++)
        many[i] = &t.shares[0];
    t.payment.provenance = many;
    t.payment.n_provenance = 1001;
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__INVALID, "at most 1000");
    free(many);
    ProtobufCBinaryData *ids = (ProtobufCBinaryData *)calloc(1001, sizeof *ids);
    for (size_t i = 0; i < 1001; i++)
        ids[i] = (ProtobufCBinaryData){32, t.id};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 0, ids, 1001);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "at most 1000");
    ids[0].len = 0;
    ca_request_ledger_clear(&request, &clear, 0, ids, 1);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "payment_ids[0]");
    free(ids);
    CHECK(s_pending_count(client, "judy") == 0);
    ledger_fixture_expect_channel(caller, "judy", 0, 100, 0);

    //  Bodies that do not decode: INVALID with the request's id.
    //  id 1; Request.ledger_pay (field 910) whose payment claims 127 bytes.
    static const uint8_t broken_pay[] = {0x08, 0x01, 0xf2, 0x38, 0x02, 0x0a, 0x7f};
    //  id 2; Request.ledger_update (field 902) with the nonce as a string.
    static const uint8_t broken_update[] = {0x08, 0x02, 0xb2, 0x38, 0x03, 0x12, 0x01, 0x41};
    const struct {
        const uint8_t *data;
        size_t size;
        uint64_t id;
    } frames[] = {{broken_pay, sizeof broken_pay, 1}, {broken_update, sizeof broken_update, 2}};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        zframe_t *frame = zframe_new(frames[i].data, frames[i].size);
        CHECK(zframe_send(&frame, client, 0) == 0);
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        harness_expect(response, CAIRN__STATUS__INVALID, NULL);
        CHECK(response->id == frames[i].id);
        s_done(response);
    }
    //  A valid payment cut at every length: never paid by halves.
    s_payment(&t, &judy, 5, 10, 2);
    ca_request_ledger_pay(&request, &pay, 99, &t.payment);
    size_t size = cairn__request__get_packed_size(&request);
    uint8_t *packed = (uint8_t *)malloc(size);
    cairn__request__pack(&request, packed);
    for (size_t cut = 1; cut < size; cut += 3) {
        zframe_t *frame = zframe_new(packed, cut);
        CHECK(zframe_send(&frame, client, 0) == 0);
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response && response->status != CAIRN__STATUS__OK);
        s_done(response);
    }
    free(packed);
    ledger_fixture_expect_channel(caller, "judy", 0, 100, 0);
    s_done(harness_ok(s_send_pay(client, &t), CAIRN__RESPONSE__BODY_LEDGER_PAY)); //  and it is fine
    ledger_fixture_expect_channel(caller, "judy", 10, 90, 0);
    harness_session_down(&caller, &client, &node);
}

//  Payments pipelined from one connection (a window of 256 in flight):
//  every one accepted, in order, the balance exact; prints the rate next
//  to libsodium's raw verification rate on the same payloads.
//  Re-signs t for `payee` in encoding `version` (2: the refused v2).
static void s_resign(test_payment_t *t, const payer_t *payer, const char *payee, int version) {
    size_t size;
    uint8_t *message = version == 2 ? ledger_payment_encode_v2(&t->payment, &size)
                                    : ledger_payment_encode(&t->payment, payee, &size);
    CHECK(message);
    crypto_sign_detached(t->signature, NULL, message, size, payer->secret);
    free(message);
}

//  Two nodes with identities where one payer has a channel on each: a
//  payment signed for node A is paid by A and refused by B (UNAUTHORIZED,
//  B's channel unchanged), whether A took it first or not; an expired
//  payment and a v2 one are refused; a node without an identity takes none.
static void test_payee_binding(void) {
    SESSION_UP(); //  node A
    harness_node_t *node_b = harness_node_up_identity(NULL);
    zsock_t *client_b = harness_connect(harness_node_endpoint(node_b));
    ca_caller_t *caller_b = ca_caller_new_socket(client_b, HARNESS_CALL_MS);
    const char *payee_b = harness_node_peer_id(node_b);
    CHECK(strlen(s_payee) == 64 && strlen(payee_b) == 64 && !streq(s_payee, payee_b));
    payer_t olga;
    s_payer(client, &olga, "olga");
    s_payer_known(client_b, &olga);
    s_open_ok(caller, "olga", 0, 100);
    s_open_ok(caller_b, "olga", 0, 100);

    //  Signed for A: B refuses it before and after A took it.
    test_payment_t t;
    s_payment(&t, &olga, 1, 30, 2);
    harness_fails(s_send_pay(client_b, &t), CAIRN__STATUS__UNAUTHORIZED, payee_b);
    s_done(harness_ok(s_send_pay(client, &t), CAIRN__RESPONSE__BODY_LEDGER_PAY));
    harness_fails(s_send_pay(client_b, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    ledger_fixture_expect_channel(caller, "olga", 30, 70, 0);
    ledger_fixture_expect_channel(caller_b, "olga", 0, 100, 0);
    CHECK(s_pending_count(client_b, "olga") == 0);
    //  The same bytes signed for B are B's to take.
    s_resign(&t, &olga, payee_b, 3);
    s_done(harness_ok(s_send_pay(client_b, &t), CAIRN__RESPONSE__BODY_LEDGER_PAY));
    ledger_fixture_expect_channel(caller_b, "olga", 30, 70, 0);

    //  Expired (a second ago, or never set): refused, nothing moves.
    s_payment(&t, &olga, 2, 5, 1);
    t.payment.expires_at = (uint64_t)ca_now_seconds() - 1;
    s_resign(&t, &olga, s_payee, 3);
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "expired");
    t.payment.expires_at = 0;
    s_resign(&t, &olga, s_payee, 3);
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "expired");
    //  v2 (no payee, no expiry): refused with a message to sign v3.
    s_payment(&t, &olga, 3, 5, 1);
    s_resign(&t, &olga, NULL, 2);
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "sign cairn-payment-v3");
    harness_fails(s_send_pay(client_b, &t), CAIRN__STATUS__UNAUTHORIZED, "sign cairn-payment-v3");
    //  Signed for an empty payee: no node has it.
    s_payment(&t, &olga, 4, 5, 1);
    s_resign(&t, &olga, "", 3);
    harness_fails(s_send_pay(client, &t), CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    ledger_fixture_expect_channel(caller, "olga", 30, 70, 0);
    ledger_fixture_expect_channel(caller_b, "olga", 30, 70, 0);
    CHECK(s_pending_count(client, "olga") == 1);

    //  A node without an identity takes no payment at all.
    harness_node_t *anonymous = harness_node_up(NULL);
    zsock_t *client_c = harness_connect(harness_node_endpoint(anonymous));
    ca_caller_t *caller_c = ca_caller_new_socket(client_c, HARNESS_CALL_MS);
    s_payer_known(client_c, &olga);
    s_open_ok(caller_c, "olga", 0, 100);
    s_payment(&t, &olga, 5, 5, 1);
    s_resign(&t, &olga, "", 3);
    harness_fails(s_send_pay(client_c, &t), CAIRN__STATUS__UNAUTHORIZED, "no identity");
    ledger_fixture_expect_channel(caller_c, "olga", 0, 100, 0);
    harness_session_down(&caller_c, &client_c, &anonymous);
    harness_session_down(&caller_b, &client_b, &node_b);
    harness_session_down(&caller, &client, &node);
}

static void test_pipelined(void) {
    enum { COUNT = 20000, WINDOW = 256 };
    SESSION_UP();
    payer_t lena;
    s_payer(client, &lena, "lena");
    s_open_ok(caller, "lena", 0, COUNT);
    test_payment_t *payments = (test_payment_t *)malloc(COUNT * sizeof *payments);
    CHECK(payments);
    for (uint64_t n = 0; n < COUNT; n++)
        s_payment(&payments[n], &lena, n, 1, 2);
    int64_t start = zclock_usecs();
    for (uint64_t n = 0; n < COUNT; n++) {
        size_t size;
        uint8_t *message = ledger_payment_encode(&payments[n].payment, s_payee, &size);
        CHECK(crypto_sign_verify_detached(payments[n].signature, message, size, lena.public_key) ==
              0);
        free(message);
    }
    int64_t raw_us = zclock_usecs() - start;
    uint64_t sent = 0, answered = 0;
    start = zclock_usecs();
    while (answered < COUNT) {
        while (sent < COUNT && sent - answered < WINDOW) {
            Cairn__Request request;
            Cairn__LedgerPay pay;
            ca_request_ledger_pay(&request, &pay, s_next_id++, &payments[sent++].payment);
            CHECK(harness_send(client, &request) == 0);
        }
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        s_done(harness_ok(response, CAIRN__RESPONSE__BODY_LEDGER_PAY));
        answered++;
    }
    int64_t node_us = zclock_usecs() - start;
    printf("  %d payments: %.0f/s through the node, %.0f/s raw verification (ratio %.2f)\n", COUNT,
           COUNT * 1e6 / (double)node_us, COUNT * 1e6 / (double)raw_us,
           (double)raw_us / (double)node_us);
    ledger_fixture_expect_channel(caller, "lena", COUNT, 0, 0);
    CHECK(s_pending_count(client, "lena") == COUNT);
    free(payments);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"pipelined", test_pipelined},
    {"payee_binding", test_payee_binding},
    {"flow", test_flow},
    {"stale_nonce", test_stale_nonce},
    {"bad_signature", test_bad_signature},
    {"unknown_peer", test_unknown_peer},
    {"overspend", test_overspend},
    {"duplicate", test_duplicate},
    {"conservation", test_conservation},
    {"pending_clear", test_pending_clear},
    {"bad_input", test_bad_input},
    {"list_pages", test_list_pages},
    {"pending_pages", test_pending_pages},
    {"pending_bytes", test_pending_bytes},
    {"history", test_history},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    return harness_main(argc, argv, "e2e.ledger", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

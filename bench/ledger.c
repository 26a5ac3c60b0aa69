/*  =========================================================================
    ledger - cairn-bench's ledger cases: signed payments against raw
    Ed25519 verification

    The question: is LedgerPay dominated by verifying the
    payment's signature (the aim: at least half the rate of plain
    crypto_sign_verify_detached on the same payloads).

    Payments. One payer with a fresh Ed25519 key, known to the node as a
    peer (PeerPut) with an open channel whose their_balance is far more
    than the run can spend. Payment n has a distinct id (n big-endian,
    then a fixed pattern), amount PAY_AMOUNT, recipient PAY_RECIPIENT, a
    fixed query hash, PAY_SHARES provenance shares and timestamp
    PAY_EPOCH + n, expiry PAY_EXPIRES; it is signed over
    ledger_payment_encode's canonical bytes (the node's own encoder, v3)
    for the bench node's peer id (the node runs with an identity). Payments are signed ahead,
   untimed, so the client's signing is not measured; the canonical payloads are kept for the raw
   case.

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
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "ledger.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAY_PEER         "bench-payer"
#define PAY_RECIPIENT    "bench-author"
#define PAY_AMOUNT       1
#define PAY_SHARES       2
#define PAY_EPOCH        1700000000.25
#define PAY_BALANCE      UINT64_C(1000000000000000) //  the payer's side of the channel
#define PAY_MIN          4096                       //  payments signed at least
#define PAY_MAX          2000000                    //  and at most
#define PAY_DEFAULT_RATE 50000.0                    //  verifications/s assumed without the raw case
#define PAY_HEADROOM     1.5                        //  the node could be a little faster than raw
#define SETUP_CALL_MS    10000
#define PAY_EXPIRES      4102444800ULL //  2100-01-01: the bench's payments never expire

struct _bench_ledger_t {
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
    char payee[72];     //  the bench node's peer id, which payments are signed for
};

//  ---- payments ----------------------------------------------------------------------

typedef struct {
    uint8_t id[32], query[32], roots[PAY_SHARES][32];
    Cairn__ProvenanceShare shares[PAY_SHARES], *share_list[PAY_SHARES];
    Cairn__Payment payment;
} payment_t;

//  Payment n, unsigned; its bytes live in `p`.
static void s_payment(payment_t *p, uint64_t n) {
    memset(p, 0, sizeof *p);
    bench_id32(p->id, n, 'p');
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
    p->payment.expires_at = PAY_EXPIRES;
}

static bench_ledger_t *s_ledger(bench_t *bench) {
    if (bench->ledger)
        return bench->ledger;
    bench_ledger_t *self = (bench_ledger_t *)calloc(1, sizeof *self);
    assert(self);
    crypto_sign_keypair(self->public_key, self->secret);
    //  Payments are signed for the node's peer id, so even the raw case
    //  signs what the node will be sent.
    harness_node_t *node = bench_node(bench);
    snprintf(self->payee, sizeof self->payee, "%s", node ? harness_node_peer_id(node) : "");
    bench->ledger = self;
    return self;
}

//  Signs payments up to `count` (untimed); -1 after saying why.
static int s_sign_up_to(bench_ledger_t *self, uint64_t count) {
    if (count <= self->signed_count)
        return 0;
    int64_t start = zclock_usecs();
    for (uint64_t n = self->signed_count + 1; n <= count; n++) {
        payment_t p;
        s_payment(&p, n);
        size_t size = 0;
        uint8_t *payload = ledger_payment_encode(&p.payment, self->payee, &size);
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

static int s_run_raw_ed25519_verify(bench_t *bench, result_t *result) {
    bench_ledger_t *self = s_ledger(bench);
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
static int s_node_channel(bench_ledger_t *self, zsock_t *client) {
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
static int s_check_channel(bench_ledger_t *self, zsock_t *client) {
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
    bench_ledger_t *ledger;
    uint64_t first; //  request id k pays payment first + k
} pay_t;

static int s_pay_send(void *handle, uint64_t id, void *context) {
    pay_t *pay = (pay_t *)context;
    uint64_t n = pay->first + id;
    payment_t p;
    s_payment(&p, n);
    p.payment.signature.data = pay->ledger->signatures[n - 1];
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

static int s_run_node_ledger_pay(bench_t *bench, result_t *result) {
    const char *name = "node.ledger_pay.pipelined";
    bench_ledger_t *self = s_ledger(bench);
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

static void s_destroy(bench_t *bench) {
    bench_ledger_t *self = bench->ledger;
    if (!self)
        return;
    sodium_memzero(self->secret, sizeof self->secret);
    free(self->payloads);
    free(self->signatures);
    free(self);
    bench->ledger = NULL;
}

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "raw.ed25519_verify",
     .kind = KIND_BASELINE,
     .run = s_run_raw_ed25519_verify,
     .what = "libsodium crypto_sign_verify_detached of canonical payment payloads, one thread"},
    {.name = "node.ledger_pay.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_ledger_pay,
     .versus = {"raw.ed25519_verify"},
     .what = "cairnd LedgerPay of distinct signed payments (verified, durable), a window"},
};

const bench_area_t bench_ledger_area = BENCH_AREA(s_cases, NULL, s_destroy);

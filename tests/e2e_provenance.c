/*  =========================================================================
    e2e_provenance - black-box tests of the provenance graph against a real
    cairnd

        e2e-provenance TEST      runs one test (ctest registers each by name)

    Deep and wide graphs (a chain 100,000 deep, a node with 100,000
    derivations) are built with pipelined ProvAdds and then queried; the
    node's peak memory is checked to stay bounded. A race test adds sources
    to content while other clients derive from it, on two workers, and
    checks that every root set matches the order the writes committed in.
    ========================================================================= */

#include "harness.h"
#include "provenance.h"
#include "ca_hash.h"
#include "ca_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS   30000
#define WINDOW    256
#define BIG       100000
#define RSS_LIMIT (256ULL * 1024 * 1024)

#define CHECK HARNESS_CHECK

static uint64_t s_next_id = 1;

//  Sends ProvAdd(n <- sources) without waiting.
static void s_send_add(zsock_t *client, uint64_t n, const uint64_t *sources, size_t count) {
    provenance_fixture_add_t add;
    provenance_fixture_add_init(&add, s_next_id++, n, sources, count);
    CHECK(harness_send(client, &add.request) == 0);
    provenance_fixture_add_done(&add);
}

//  Builds n = first..first+count-1 with `source_of(n)` as the one source,
//  `window` requests in flight; every answer must be OK. Adds from one
//  connection commit in the order sent, so even a chain is pipelined.
static void s_build(zsock_t *client, uint64_t first, uint64_t count,
                    uint64_t (*source_of)(uint64_t n), uint64_t window) {
    uint64_t sent = 0, answered = 0;
    while (answered < count) {
        while (sent < count && sent - answered < window) {
            uint64_t n = first + sent++, source = source_of(n);
            s_send_add(client, n, &source, 1);
        }
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        harness_ok(response, CAIRN__RESPONSE__BODY_PROV_ADD);
        CHECK(response->prov_add->edges_added == 1 && response->prov_add->roots == 1);
        cairn__response__free_unpacked(response, NULL);
        answered++;
    }
}

static uint64_t s_previous(uint64_t n) {
    return n - 1;
}

static uint64_t s_hub(uint64_t n) {
    return 0;
}

static Cairn__Response *s_roots(ca_caller_t *caller, uint64_t n) {
    uint8_t hash[32];
    provenance_fixture_node(n, hash);
    return harness_ok(provenance_fixture_roots(caller, n, 0), CAIRN__RESPONSE__BODY_PROV_ROOTS);
}

//  roots(n) is the single root r with weight w.
static void s_single_root(ca_caller_t *caller, uint64_t n, uint64_t r, uint64_t w) {
    Cairn__Response *response = s_roots(caller, n);
    uint8_t hash[32];
    provenance_fixture_node(r, hash);
    CHECK(response->prov_roots->n_roots == 1);
    CHECK(memcmp(response->prov_roots->roots[0]->hash.data, hash, 32) == 0);
    CHECK(response->prov_roots->roots[0]->weight == w);
    cairn__response__free_unpacked(response, NULL);
}

static bool s_ancestor(ca_caller_t *caller, uint64_t a, uint64_t b) {
    Cairn__Response *response =
        harness_ok(provenance_fixture_ancestor(caller, a, b), CAIRN__RESPONSE__BODY_PROV_ANCESTOR);
    bool is_ancestor = response->prov_ancestor->is_ancestor;
    cairn__response__free_unpacked(response, NULL);
    return is_ancestor;
}

static size_t s_derivations(ca_caller_t *caller, uint64_t n, bool transitive, uint32_t limit,
                            bool *more) {
    Cairn__Response *response =
        harness_ok(provenance_fixture_derivations(caller, n, transitive, limit),
                   CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    size_t count = response->prov_derivations->n_hashes;
    *more = response->prov_derivations->more;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static void s_memory_bounded(harness_node_t *node, const char *what) {
    uint64_t rss = 0, peak = 0;
    CHECK(harness_node_memory(node, &rss, &peak) == 0);
    printf("%s: node peak RSS %.1f MiB\n", what, (double)peak / 1024);
#ifndef CAIRN_SANITIZED //  ASan's quarantine holds freed memory on purpose
    CHECK(peak * 1024 < RSS_LIMIT);
#endif
}

//  ---- tests --------------------------------------------------------------------------

//  A chain 100,000 deep: roots stay one row, ancestry and descendants walk it.
static void test_deep_chain(void) {
    HARNESS_SESSION_UP(NULL);
    Cairn__Response *response = provenance_fixture_add(caller, 0, NULL, 0);
    cairn__response__free_unpacked(harness_ok(response, CAIRN__RESPONSE__BODY_PROV_ADD), NULL);
    int64_t started = zclock_mono();
    s_build(client, 1, BIG - 1, s_previous, WINDOW);
    printf("deep_chain: %d adds in %.1f s\n", BIG, (double)(zclock_mono() - started) / 1000);
    s_single_root(caller, BIG - 1, 0, 1);
    CHECK(s_ancestor(caller, 0, BIG - 1));        //  an original
    CHECK(s_ancestor(caller, BIG / 2, BIG - 1));  //  50,000 apart
    CHECK(!s_ancestor(caller, BIG - 1, BIG / 2)); //  ... and the other way round
    //  Ancestry is answered by the reachability labels, not a walk: 200
    //  pairs ~50,000 apart on average in well under 5 s (walks took
    //  ~0.1 s each).
    started = zclock_mono();
    for (uint64_t i = 0; i < 200; i++) {
        uint64_t a = i * 97 % (BIG / 2), b = BIG / 2 + i * 89 % (BIG / 2);
        CHECK(i % 2 ? s_ancestor(caller, a, b) : !s_ancestor(caller, b, a));
    }
    printf("deep_chain: 200 ancestry answers in %.2f s\n",
           (double)(zclock_mono() - started) / 1000);
    CHECK(zclock_mono() - started < 5000);
    bool more = true;
    CHECK(s_derivations(caller, 0, true, CA_PROV_LIST_MAX, &more) == BIG - 1 && !more);
    CHECK(s_derivations(caller, 0, false, 0, &more) == 1 && !more);
    CHECK(s_derivations(caller, 10, true, 5, &more) == 5 && more);
    s_memory_bounded(node, "deep_chain");
    harness_session_down(&caller, &client, &node);
}

//  One node with 100,000 derivations.
static void test_wide(void) {
    HARNESS_SESSION_UP(NULL);
    Cairn__Response *response = provenance_fixture_add(caller, 0, NULL, 0);
    cairn__response__free_unpacked(harness_ok(response, CAIRN__RESPONSE__BODY_PROV_ADD), NULL);
    s_build(client, 1, BIG, s_hub, WINDOW);
    bool more = true;
    CHECK(s_derivations(caller, 0, false, CA_PROV_LIST_MAX, &more) == BIG && !more);
    CHECK(s_derivations(caller, 0, true, CA_PROV_LIST_MAX, &more) == BIG && !more);
    CHECK(s_derivations(caller, 0, false, 0, &more) == CA_PROV_LIST_DEFAULT && more);
    //  All of them again in pages with the cursor: each once, by hash.
    uint8_t hub[32], after[32];
    provenance_fixture_node(0, hub);
    size_t seen = 0, pages = 0;
    more = true;
    while (more && pages++ < BIG) {
        Cairn__Request request;
        Cairn__ProvDerivations ask;
        ca_request_prov_derivations(&request, &ask, 0, hub, 32, false, 7000);
        if (seen)
            ca_request_prov_derivations_after(&ask, after, 32);
        response =
            harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
        const Cairn__ProvDerivationsReply *page = response->prov_derivations;
        for (size_t i = 0; i < page->n_hashes; i++) {
            CHECK(!seen || memcmp(page->hashes[i].data, after, 32) > 0);
            memcpy(after, page->hashes[i].data, 32);
            seen++;
        }
        more = page->more;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(seen == BIG && pages == (BIG + 6999) / 7000);
    s_single_root(caller, BIG / 3, 0, 1);
    CHECK(s_ancestor(caller, 0, BIG));
    CHECK(!s_ancestor(caller, 1, BIG));
    //  A child of the hub derived from two siblings: a diamond at scale.
    uint64_t siblings[] = {1, 2};
    response = provenance_fixture_add(caller, BIG + 1, siblings, 2);
    cairn__response__free_unpacked(harness_ok(response, CAIRN__RESPONSE__BODY_PROV_ADD), NULL);
    s_single_root(caller, BIG + 1, 0, 2);
    s_memory_bounded(node, "wide");
    harness_session_down(&caller, &client, &node);
}

//  Sources added to s while others derive c from s, on two workers: each
//  root set matches the order the writer committed the two in.
static void test_race(void) {
    const char *args[] = {"--workers=2", NULL};
    harness_node_t *node = harness_node_up(args);
    zsock_t *deriver = harness_connect(harness_node_endpoint(node));
    zsock_t *sourcer = harness_connect(harness_node_endpoint(node));
    enum { ROUNDS = 300 };
    int late_sources = 0;
    for (uint64_t i = 0; i < ROUNDS; i++) {
        uint64_t c = 1000000 + 3 * i, s = c + 1, t = c + 2;
        //  Both kinds go to one worker in arrival order: alternate which
        //  is sent first so that both orders are met.
        if (i % 2) {
            s_send_add(deriver, c, &s, 1);
            s_send_add(sourcer, s, &t, 1);
        } else {
            s_send_add(sourcer, s, &t, 1);
            s_send_add(deriver, c, &s, 1);
        }
        Cairn__Response *derived = harness_recv(deriver, CALL_MS);
        Cairn__Response *sourced = harness_recv(sourcer, CALL_MS);
        CHECK(derived && sourced);
        harness_ok(derived, CAIRN__RESPONSE__BODY_PROV_ADD);
        CHECK(sourced->status == CAIRN__STATUS__OK || sourced->status == CAIRN__STATUS__CONFLICT);
        bool sourced_first = sourced->status == CAIRN__STATUS__OK;
        late_sources += !sourced_first;
        ca_caller_t *caller = ca_caller_new_socket(deriver, HARNESS_CALL_MS);
        s_single_root(caller, c, sourced_first ? t : s, 1);
        ca_caller_destroy(&caller);
        cairn__response__free_unpacked(derived, NULL);
        cairn__response__free_unpacked(sourced, NULL);
    }
    printf("race: %d of %d late source adds refused\n", late_sources, ROUNDS);
    zsock_destroy(&deriver);
    zsock_destroy(&sourcer);
    harness_node_down(&node);
}

//  Bad input over the wire: clear errors, nothing kept, the node serves on.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t hash[40] = {1};
    Cairn__Request request;
    Cairn__ProvAdd add;
    size_t sizes[] = {0, 31, 33};
    for (size_t i = 0; i < 3; i++) {
        ca_request_prov_add(&request, &add, 0, hash, sizes[i], NULL, 0);
        cairn__response__free_unpacked(
            harness_expect(harness_request(client, &request), CAIRN__STATUS__INVALID, "hash"),
            NULL);
        Cairn__ProvRoots roots;
        ca_request_prov_roots(&request, &roots, 0, hash, sizes[i], 0);
        Cairn__Response *response = harness_request(client, &request);
        harness_expect(response, CAIRN__STATUS__INVALID, "hash");
        cairn__response__free_unpacked(response, NULL);
    }
    //  Unknown content, a self-edge, a cycle, late sources.
    Cairn__ProvRoots roots;
    uint8_t unknown[32];
    provenance_fixture_node(424242, unknown);
    ca_request_prov_roots(&request, &roots, 0, unknown, 32, 0);
    Cairn__Response *response = harness_request(client, &request);
    harness_expect(response, CAIRN__STATUS__NOT_FOUND, "ProvAdd");
    cairn__response__free_unpacked(response, NULL);
    uint64_t self = 5, one = 1, two = 2, three = 3;
    response = provenance_fixture_add(caller, 5, &self, 1);
    harness_expect(response, CAIRN__STATUS__INVALID, "itself");
    cairn__response__free_unpacked(response, NULL);
    cairn__response__free_unpacked(
        harness_ok(provenance_fixture_add(caller, 2, &one, 1), CAIRN__RESPONSE__BODY_PROV_ADD),
        NULL);
    response = provenance_fixture_add(caller, 1, &two, 1);
    harness_expect(response, CAIRN__STATUS__INVALID, "cycle");
    cairn__response__free_unpacked(response, NULL);
    response = provenance_fixture_add(caller, 1, &three, 1);
    harness_expect(response, CAIRN__STATUS__CONFLICT, "derivations");
    cairn__response__free_unpacked(response, NULL);
    s_single_root(caller, 2, 1, 1);
    //  A malformed body inside a good envelope.
    const uint8_t malformed[] = {0x08, 0x09, 0x92, 0x35, 0x03, 0x0a, 0x05, 0x01};
    zframe_t *frame = zframe_new(malformed, sizeof malformed);
    CHECK(zframe_send(&frame, client, 0) == 0);
    response = harness_recv(client, CALL_MS);
    CHECK(response && response->id == 9);
    harness_expect(response, CAIRN__STATUS__INVALID, "protobuf");
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_ancestor(caller, 1, 2));
    harness_session_down(&caller, &client, &node);
}

//  A node may have at most CA_PROV_ROOTS_MAX roots: 100 sources of 1000
//  originals each reach the cap and are served; one more source is
//  CONFLICT, and nothing of that add is kept.
static void test_roots_cap(void) {
    HARNESS_SESSION_UP(NULL);
    enum { WIDTH = 1000, PARTS = CA_PROV_ROOTS_MAX / WIDTH + 1 };
    const uint64_t part0 = 1000000, original0 = 2000000, at_cap = 3000000, over = 3000001;
    uint64_t sources[WIDTH], parts[PARTS];
    for (uint64_t k = 0; k < PARTS; k++) {
        for (uint64_t j = 0; j < WIDTH; j++)
            sources[j] = original0 + k * WIDTH + j;
        parts[k] = part0 + k;
        Cairn__Response *response =
            harness_ok(provenance_fixture_add(caller, parts[k], sources, WIDTH),
                       CAIRN__RESPONSE__BODY_PROV_ADD);
        CHECK(response->prov_add->roots == WIDTH);
        cairn__response__free_unpacked(response, NULL);
    }
    //  Exactly at the cap.
    Cairn__Response *response = harness_ok(provenance_fixture_add(caller, at_cap, parts, PARTS - 1),
                                           CAIRN__RESPONSE__BODY_PROV_ADD);
    CHECK(response->prov_add->roots == CA_PROV_ROOTS_MAX);
    cairn__response__free_unpacked(response, NULL);
    //  One source more: refused, nothing kept (no node, no edge, no roots).
    response = provenance_fixture_add(caller, over, parts, PARTS);
    harness_expect(response, CAIRN__STATUS__CONFLICT, "more than 100000 original roots");
    cairn__response__free_unpacked(response, NULL);
    response = provenance_fixture_roots(caller, over, 0);
    harness_expect(response, CAIRN__STATUS__NOT_FOUND, "ProvAdd");
    cairn__response__free_unpacked(response, NULL);
    bool more = true;
    CHECK(s_derivations(caller, parts[PARTS - 1], false, 0, &more) == 0 && !more);
    CHECK(s_derivations(caller, parts[0], false, 0, &more) == 1 && !more);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"deep_chain", test_deep_chain}, {"wide", test_wide},           {"race", test_race},
    {"bad_input", test_bad_input},   {"roots_cap", test_roots_cap},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.provenance", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

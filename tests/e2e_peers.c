/*  =========================================================================
    e2e_peers - black-box tests of the peers store (PeerPut, PeerGet,
    PeerList, PeerStatus, PeerBlock)

        e2e-peers TEST       runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir,
    talks to it only through its ZeroMQ endpoint, and stops it with SIGTERM,
    expecting exit status 0. Waits are polls with timeouts, never sleeps.
    ========================================================================= */

#include "harness.h"
#include "ca_clock.h"
#include "peers.h"
#include "ca_names.h"
#include "ca_limits.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CALL_MS 5000

#define CHECK HARNESS_CHECK

//  A real Ed25519 key as `openssl pkey -pubout` prints it, and its bytes.
static const char s_openssl_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                                    "MCowBQYDK2VwAyEA5BuJnNMfba/71DbAjTWY6JkaiiGQ2hiv60bMk3nNfHA=\n"
                                    "-----END PUBLIC KEY-----\n";
static const char s_openssl_hex[] =
    "e41b899cd31f6daffbd436c08d3598e8991a8a2190da18afeb46cc9379cd7c70";

static uint64_t s_next_id = 1;

//  PeerPut that must succeed; returns the stored row's created_at.
static double s_put_ok(ca_caller_t *caller, const Cairn__Peer *peer, const char *text) {
    Cairn__Response *response =
        harness_expect(peers_fixture_put(caller, peer, text), CAIRN__STATUS__OK, NULL);
    CHECK(response->body_case == CAIRN__RESPONSE__BODY_PEER_PUT);
    CHECK(streq(response->peer_put->peer_id, peer->peer_id));
    double created_at = response->peer_put->created_at;
    cairn__response__free_unpacked(response, NULL);
    return created_at;
}

//  Every peer, page after page (each page at most `limit`).
static size_t s_count(ca_caller_t *caller, uint32_t limit) {
    char after[CA_PEER_ID_MAX + 1] = "";
    size_t count = 0;
    for (int page = 0; page < 10000; page++) {
        Cairn__Response *response = harness_expect(
            peers_fixture_list(caller, false, 0, limit, after), CAIRN__STATUS__OK, NULL);
        const Cairn__PeerPage *list = response->peer_list;
        CHECK(list->n_peers <= (limit ? limit : CA_PEER_LIST_MAX));
        count += list->n_peers;
        bool more = list->more;
        if (list->n_peers)
            snprintf(after, sizeof after, "%s", list->peers[list->n_peers - 1]->peer_id);
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            return count;
    }
    CHECK(false);
    return 0;
}

//  Sends raw bytes as one frame; the answer must be INVALID for `id`.
//  ---- tests ------------------------------------------------------------------

//  Info shows the peers pool with what it served.
static void test_info(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32] = {1};
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "info", key);
    s_put_ok(caller, &peer, NULL);
    cairn__response__free_unpacked(
        harness_expect(peers_fixture_get(caller, "info"), CAIRN__STATUS__OK, NULL), NULL);
    harness_fails(peers_fixture_get(caller, "../info"), CAIRN__STATUS__INVALID, "peer_id");
    cairn__response__free_unpacked(
        harness_expect(peers_fixture_get(caller, "none"), CAIRN__STATUS__NOT_FOUND, NULL), NULL);
    Cairn__Response *response;
    const Cairn__ActorInfo *pool = harness_pool_info(client, "peers", &response);
    CHECK(pool->workers == ca_default_workers() && pool->requests == 4 && pool->errors == 2);
    CHECK(pool->busy == 0 && pool->queue_depth == 0);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  Put, get back exactly what was stored (canonical address), and it
//  survives a restart.
static void test_put_get(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xa0 + i);
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "alice:7402", key);
    peer.address = (char *)"2001:DB8:0000::0A";
    peer.port = 65535;
    peer.display_name = (char *)"Alice's node";
    peer.state = CAIRN__PEER_STATE__PEER_ONLINE;
    peer.last_seen = 1700000000.5;
    double created_at = peers_fixture_put_new(caller, &peer, "2001:db8::a");
    peers_fixture_get_expect(caller, &peer, "2001:db8::a", created_at);
    harness_session_restart(node, &client, &caller);
    peers_fixture_get_expect(caller, &peer, "2001:db8::a", created_at);
    Cairn__Response *response =
        harness_expect(peers_fixture_get(caller, "bob"), CAIRN__STATUS__NOT_FOUND, NULL);
    CHECK(strstr(response->error, "no peer 'bob'") && strstr(response->error, "PeerPut"));
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  The key forms: raw, base64 in every variant, PEM (openssl's and ours).
static void test_key_forms(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32];
    CHECK(sodium_hex2bin(key, 32, s_openssl_hex, 64, NULL, NULL, NULL) == 0);
    const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    char texts[6][256];
    for (size_t v = 0; v < 4; v++)
        sodium_bin2base64(texts[v], sizeof texts[v], key, 32, variants[v]);
    CHECK(strchr(texts[0], '/') && strchr(texts[2], '_')); //  the alphabets differ here
    snprintf(texts[4], sizeof texts[4], "%s", s_openssl_pem);
    //  Our own PEM with CRLF lines and the body split over two lines.
    uint8_t der[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    memcpy(der + 12, key, 32);
    char body[128];
    sodium_bin2base64(body, sizeof body, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    snprintf(texts[5], sizeof texts[5],
             "-----BEGIN PUBLIC KEY-----\r\n%.30s\r\n%s\r\n-----END PUBLIC KEY-----\r\n", body,
             body + 30);
    for (size_t t = 0; t < 6; t++) {
        char peer_id[32];
        snprintf(peer_id, sizeof peer_id, "form-%zu", t);
        Cairn__Peer peer;
        peers_fixture_peer(&peer, peer_id, NULL);
        s_put_ok(caller, &peer, texts[t]);
        Cairn__Response *response =
            harness_expect(peers_fixture_get(caller, peer_id), CAIRN__STATUS__OK, NULL);
        CHECK(response->peer_get->public_key.len == 32 &&
              memcmp(response->peer_get->public_key.data, key, 32) == 0);
        cairn__response__free_unpacked(response, NULL);
    }
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "form-raw", key);
    s_put_ok(caller, &peer, NULL);

    //  Wrong sizes and forms: each INVALID, each says what is accepted.
    uint8_t bytes[40] = {0};
    peer.public_key.data = bytes;
    const size_t raw_sizes[] = {1, 31, 33, 40};
    for (size_t i = 0; i < 4; i++) {
        peer.public_key.len = raw_sizes[i];
        harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "exactly 32");
    }
    peer.public_key.len = 0;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "key is missing");
    peer.public_key.len = 32;
    harness_fails(peers_fixture_put(caller, &peer, texts[0]), CAIRN__STATUS__INVALID,
                  "given twice");
    peer.public_key.len = 0;
    char text[256];
    sodium_bin2base64(text, sizeof text, bytes, 31, sodium_base64_VARIANT_ORIGINAL);
    harness_fails(peers_fixture_put(caller, &peer, text), CAIRN__STATUS__INVALID,
                  "base64 of 31 bytes");
    sodium_bin2base64(text, sizeof text, bytes, 33, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    harness_fails(peers_fixture_put(caller, &peer, text), CAIRN__STATUS__INVALID,
                  "base64 of 33 bytes");
    harness_fails(peers_fixture_put(caller, &peer, "%%%"), CAIRN__STATUS__INVALID,
                  "accepted: 32 raw bytes");
    harness_fails(
        peers_fixture_put(caller, &peer,
                          "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----"),
        CAIRN__STATUS__INVALID, "not \"-----BEGIN PUBLIC KEY-----\"");
    der[8] = 0x71; //  Ed448's OID arc, not Ed25519
    sodium_bin2base64(body, sizeof body, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----", body);
    harness_fails(peers_fixture_put(caller, &peer, text), CAIRN__STATUS__INVALID, "not an Ed25519");
    CHECK(s_count(caller, 0) == 7);
    harness_session_down(&caller, &client, &node);
}

//  A second PeerPut replaces the fields and keeps created_at and blocked.
static void test_upsert(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32], new_key[32];
    memset(key, 1, sizeof key);
    memset(new_key, 2, sizeof new_key);
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "carol", key);
    double created_at = s_put_ok(caller, &peer, NULL);
    Cairn__Response *response =
        harness_expect(peers_fixture_block(caller, "carol", true), CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);

    peers_fixture_peer(&peer, "carol", new_key);
    peer.address = (char *)"203.0.113.9";
    peer.port = 1;
    peer.display_name = (char *)"";
    peer.state = CAIRN__PEER_STATE__PEER_OFFLINE;
    peer.created_at = 5;
    response = harness_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    const Cairn__Peer *stored = response->peer_put;
    CHECK(stored->created_at == created_at && stored->blocked);
    CHECK(memcmp(stored->public_key.data, new_key, 32) == 0 && stored->port == 1);
    CHECK(streq(stored->address, "203.0.113.9") && streq(stored->display_name, ""));
    CHECK(stored->state == CAIRN__PEER_STATE__PEER_OFFLINE);
    cairn__response__free_unpacked(response, NULL);
    response = harness_expect(peers_fixture_get(caller, "carol"), CAIRN__STATUS__OK, NULL);
    CHECK(response->peer_get->created_at == created_at && response->peer_get->port == 1 &&
          response->peer_get->blocked);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_count(caller, 0) == 1);
    harness_session_down(&caller, &client, &node);
}

//  PeerStatus sets state and last_seen (0: now); unknown peers NOT_FOUND.
static void test_status(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32] = {7};
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "dave", key);
    double created_at = s_put_ok(caller, &peer, NULL);
    double before = ca_now_seconds();
    Cairn__Response *response =
        harness_expect(peers_fixture_status(caller, "dave", CAIRN__PEER_STATE__PEER_ONLINE, 0),
                       CAIRN__STATUS__OK, NULL);
    CHECK(response->body_case == CAIRN__RESPONSE__BODY_PEER_STATUS);
    CHECK(response->peer_status->state == CAIRN__PEER_STATE__PEER_ONLINE);
    CHECK(response->peer_status->last_seen >= before - 1 &&
          response->peer_status->last_seen <= ca_now_seconds() + 1);
    CHECK(response->peer_status->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    response =
        harness_expect(peers_fixture_status(caller, "dave", CAIRN__PEER_STATE__PEER_OFFLINE, 42.25),
                       CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);
    response = harness_expect(peers_fixture_get(caller, "dave"), CAIRN__STATUS__OK, NULL);
    CHECK(response->peer_get->state == CAIRN__PEER_STATE__PEER_OFFLINE &&
          response->peer_get->last_seen == 42.25);
    cairn__response__free_unpacked(response, NULL);
    response =
        harness_expect(peers_fixture_status(caller, "erin", 1, 0), CAIRN__STATUS__NOT_FOUND, NULL);
    CHECK(strstr(response->error, "no peer 'erin'"));
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_count(caller, 0) == 1); //  the unknown peer was not created
    harness_session_down(&caller, &client, &node);
}

//  Block and unblock; is-blocked is PeerGet's `blocked`.
static void test_block(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32] = {9};
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "frank", key);
    s_put_ok(caller, &peer, NULL);
    const bool steps[] = {true, true, false, false, true};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        Cairn__Response *response =
            harness_expect(peers_fixture_block(caller, "frank", steps[i]), CAIRN__STATUS__OK, NULL);
        CHECK(response->body_case == CAIRN__RESPONSE__BODY_PEER_BLOCK);
        CHECK(response->peer_block->blocked == steps[i]);
        cairn__response__free_unpacked(response, NULL);
        response = harness_expect(peers_fixture_get(caller, "frank"), CAIRN__STATUS__OK, NULL);
        CHECK(response->peer_get->blocked == steps[i]);
        cairn__response__free_unpacked(response, NULL);
    }
    Cairn__Response *response =
        harness_expect(peers_fixture_block(caller, "grace", true), CAIRN__STATUS__NOT_FOUND, NULL);
    CHECK(strstr(response->error, "no peer 'grace'"));
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_count(caller, 0) == 1);
    harness_session_down(&caller, &client, &node);
}

//  List all or by state, in peer_id order, in pages.
static void test_list(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32] = {3};
    enum { PEERS = 25 };
    for (int i = PEERS - 1; i >= 0; i--) {
        char peer_id[32];
        snprintf(peer_id, sizeof peer_id, "peer-%02d", i);
        Cairn__Peer peer;
        peers_fixture_peer(&peer, peer_id, key);
        peer.state = (Cairn__PeerState)(i % 3);
        s_put_ok(caller, &peer, NULL);
    }
    //  One page of everything, in order.
    Cairn__Response *response =
        harness_expect(peers_fixture_list(caller, false, 0, 0, ""), CAIRN__STATUS__OK, NULL);
    CHECK(response->body_case == CAIRN__RESPONSE__BODY_PEER_LIST);
    CHECK(response->peer_list->n_peers == PEERS && !response->peer_list->more);
    for (int i = 0; i < PEERS; i++) {
        char peer_id[32];
        snprintf(peer_id, sizeof peer_id, "peer-%02d", i);
        CHECK(streq(response->peer_list->peers[i]->peer_id, peer_id));
    }
    cairn__response__free_unpacked(response, NULL);
    //  By state: UNKNOWN 0, 3, .. 24 (9), ONLINE 1, 4, .. 22 (8), OFFLINE 8.
    const size_t expected[] = {9, 8, 8};
    for (int state = 0; state < 3; state++) {
        response =
            harness_expect(peers_fixture_list(caller, true, state, 0, ""), CAIRN__STATUS__OK, NULL);
        CHECK(response->peer_list->n_peers == expected[state] && !response->peer_list->more);
        for (size_t i = 0; i < response->peer_list->n_peers; i++) {
            CHECK((int)response->peer_list->peers[i]->state == state);
            CHECK(i == 0 || strcmp(response->peer_list->peers[i - 1]->peer_id,
                                   response->peer_list->peers[i]->peer_id) < 0);
        }
        cairn__response__free_unpacked(response, NULL);
    }
    //  Pages of 4 and of 1 reach every peer once.
    CHECK(s_count(caller, 4) == PEERS);
    CHECK(s_count(caller, 1) == PEERS);
    //  A page by state after a cursor.
    response =
        harness_expect(peers_fixture_list(caller, true, 1, 2, "peer-04"), CAIRN__STATUS__OK, NULL);
    CHECK(response->peer_list->n_peers == 2 && response->peer_list->more);
    CHECK(streq(response->peer_list->peers[0]->peer_id, "peer-07") &&
          streq(response->peer_list->peers[1]->peer_id, "peer-10"));
    cairn__response__free_unpacked(response, NULL);
    //  Past the end: empty page.
    response =
        harness_expect(peers_fixture_list(caller, false, 0, 0, "zzz"), CAIRN__STATUS__OK, NULL);
    CHECK(response->peer_list->n_peers == 0 && !response->peer_list->more);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  Every kind of bad input to every request: INVALID with a message, no
//  change to what is stored, and the node still answers.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t key[32] = {5};
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "keeper", key);
    double created_at = s_put_ok(caller, &peer, NULL);

    //  Peer ids: missing, too long, characters and path tricks.
    char long_id[CA_PEER_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    const char *bad_ids[] = {"",    long_id,  "../keeper", "keeper/..", "/etc/passwd",
                             "a b", "a\tb",   "new\nline", "k%20",      "caf\xc3\xa9",
                             "*",   "keeper;"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        peers_fixture_peer(&peer, bad_ids[i], key);
        harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "peer_id");
        harness_fails(peers_fixture_get(caller, bad_ids[i]), CAIRN__STATUS__INVALID, "peer_id");
        harness_fails(peers_fixture_status(caller, bad_ids[i], 1, 0), CAIRN__STATUS__INVALID,
                      "peer_id");
        harness_fails(peers_fixture_block(caller, bad_ids[i], true), CAIRN__STATUS__INVALID,
                      "peer_id");
        if (*bad_ids[i])
            harness_fails(peers_fixture_list(caller, false, 0, 0, bad_ids[i]),
                          CAIRN__STATUS__INVALID, "after_peer_id");
    }
    //  Fields of PeerPut, on the existing peer: none may change it.
    peers_fixture_peer(&peer, "keeper", key);
    const char *bad_addresses[] = {"",          "localhost",    "example.com", "1.2.3",
                                   "1.2.3.256", "1.2.3.4:7402", "[::1]",       "::1%lo",
                                   "::1 ",      "1.2.3.4/24",   "0x01020304",  "12345"};
    for (size_t i = 0; i < sizeof bad_addresses / sizeof bad_addresses[0]; i++) {
        peer.address = (char *)bad_addresses[i];
        harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "address");
    }
    peer.address = (char *)"192.0.2.1";
    const uint32_t bad_ports[] = {0, 65536, 70000, UINT32_MAX};
    for (size_t i = 0; i < 4; i++) {
        peer.port = bad_ports[i];
        harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "1..65535");
    }
    peer.port = 7402;
    char name[CA_PEER_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    peer.display_name = name;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "display_name");
    peer.display_name = (char *)"node";
    peer.state = (Cairn__PeerState)3;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "PeerState");
    peer.state = CAIRN__PEER_STATE__PEER_UNKNOWN;
    peer.last_seen = -1;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "last_seen");
    peer.last_seen = NAN;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "last_seen");
    peer.last_seen = 0;
    uint8_t short_key[31] = {0};
    peer.public_key.data = short_key;
    peer.public_key.len = sizeof short_key;
    harness_fails(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__INVALID, "31 bytes");
    peer.public_key.len = 0;
    char *huge = (char *)malloc(CA_PEER_KEY_TEXT_MAX * 4 + 1);
    memset(huge, 'A', CA_PEER_KEY_TEXT_MAX * 4);
    huge[CA_PEER_KEY_TEXT_MAX * 4] = 0;
    harness_fails(peers_fixture_put(caller, &peer, huge), CAIRN__STATUS__INVALID,
                  "longer than 1024");
    free(huge);
    //  PeerPut without its peer.
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 0, NULL, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID,
                  "PeerPut.peer is missing");
    //  Status and list arguments.
    harness_fails(peers_fixture_status(caller, "keeper", 17, 0), CAIRN__STATUS__INVALID,
                  "PeerState");
    harness_fails(peers_fixture_status(caller, "keeper", 1, -3), CAIRN__STATUS__INVALID,
                  "last_seen");
    harness_fails(peers_fixture_status(caller, "keeper", 1, INFINITY), CAIRN__STATUS__INVALID,
                  "last_seen");
    harness_fails(peers_fixture_list(caller, true, -2, 0, ""), CAIRN__STATUS__INVALID, "PeerState");
    harness_fails(peers_fixture_list(caller, false, 2, 0, ""), CAIRN__STATUS__INVALID, "by_state");
    harness_fails(peers_fixture_list(caller, false, 0, CA_PEER_LIST_MAX + 1, ""),
                  CAIRN__STATUS__INVALID, "after_peer_id");

    //  Wrong types on the wire (hand-made frames): PeerPut.peer as a
    //  varint, PeerGet.peer_id as a varint, PeerStatus.state as bytes, and
    //  strings with NUL or broken UTF-8.
    harness_fails_raw(client, "\x08\x05\x82\x19\x02\x08\x01", 7, 5, "protobuf");
    harness_fails_raw(client, "\x08\x06\x8a\x19\x02\x08\x01", 7, 6, "protobuf");
    harness_fails_raw(client, "\x08\x07\x9a\x19\x03\x12\x01\x00", 8, 7, "protobuf");
    harness_fails_raw(client, "\x08\x08\x8a\x19\x07\x0a\x05kee\x00p", 12, 8, "NUL");
    harness_fails_raw(client, "\x08\x09\x8a\x19\x04\x0a\x02\xc3\x28", 9, 9, "UTF-8");

    //  Nothing changed, and the node still answers.
    harness_expect_alive(client);
    CHECK(s_count(caller, 0) == 1);
    Cairn__Response *response =
        harness_expect(peers_fixture_get(caller, "keeper"), CAIRN__STATUS__OK, NULL);
    const Cairn__Peer *stored = response->peer_get;
    CHECK(streq(stored->address, "192.0.2.1") && stored->port == 7402);
    CHECK(streq(stored->display_name, "node") && memcmp(stored->public_key.data, key, 32) == 0);
    CHECK(stored->state == CAIRN__PEER_STATE__PEER_UNKNOWN && stored->last_seen == 0);
    CHECK(!stored->blocked && stored->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  Many writes to the same peers in flight across the pool's workers:
//  every one answered once, each peer stored once with its first
//  created_at, and the last status wins.
static void test_pipelined(void) {
    HARNESS_SESSION_UP(NULL);
    enum { PEERS = 10, ROUNDS = 30 };
    uint8_t key[32] = {11};
    //  Create first, so every later request finds its peer.
    for (int p = 0; p < PEERS; p++) {
        char peer_id[16];
        snprintf(peer_id, sizeof peer_id, "p%d", p);
        Cairn__Peer peer;
        peers_fixture_peer(&peer, peer_id, key);
        s_put_ok(caller, &peer, NULL);
    }
    uint64_t first = s_next_id;
    for (int round = 0; round < ROUNDS; round++)
        for (int p = 0; p < PEERS; p++) {
            char peer_id[16];
            snprintf(peer_id, sizeof peer_id, "p%d", p);
            Cairn__Request request;
            Cairn__Peer peer;
            Cairn__PeerPut put;
            Cairn__PeerBlock block;
            if (round % 2 == 0) {
                peers_fixture_peer(&peer, peer_id, key);
                peer.port = (uint32_t)(1000 + round);
                ca_request_peer_put(&request, &put, s_next_id++, &peer, NULL);
            } else
                ca_request_peer_block(&request, &block, s_next_id++, peer_id, true);
            CHECK(harness_send(client, &request) == 0);
        }
    static uint8_t seen[PEERS * ROUNDS];
    memset(seen, 0, sizeof seen);
    for (int received = 0; received < PEERS * ROUNDS; received++) {
        Cairn__Response *response = harness_recv(client, 10000);
        CHECK(response && response->id >= first && response->id < first + PEERS * ROUNDS);
        CHECK(!seen[response->id - first]);
        seen[response->id - first] = 1;
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(harness_recv(client, 100) == NULL); //  exactly one answer each
    CHECK(s_count(caller, 0) == PEERS);
    //  Whatever order the workers handed them to the writer in, a put
    //  never unblocks, so every peer ends blocked.
    for (int p = 0; p < PEERS; p++) {
        char peer_id[16];
        snprintf(peer_id, sizeof peer_id, "p%d", p);
        Cairn__Response *response =
            harness_expect(peers_fixture_get(caller, peer_id), CAIRN__STATUS__OK, NULL);
        CHECK(response->peer_get->blocked);
        cairn__response__free_unpacked(response, NULL);
    }
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"put_get", test_put_get},     {"key_forms", test_key_forms}, {"upsert", test_upsert},
    {"status", test_status},       {"block", test_block},         {"list", test_list},
    {"bad_input", test_bad_input}, {"pipelined", test_pipelined}, {"info", test_info},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    return harness_main(argc, argv, "e2e.peers", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

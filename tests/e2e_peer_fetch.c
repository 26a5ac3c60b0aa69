/*  =========================================================================
    e2e_peer_fetch - ContentFetch between real cairnd processes on 127.0.0.1

        e2e-peer-fetch TEST      runs one test (ctest registers each by name)

    Nodes with identities and peer endpoints (B dials the others through
    bootstrap_peers); B fetches what the others store, the tests read B's
    cache afterwards. A peer that serves wrong bytes is simulated by
    corrupting the blob file on its disk (same size, other bytes): it then
    serves bytes that do not hash. Deadlines, never sleeps.
    ========================================================================= */

#include "cli_run.h"
#include "harness.h"
#include "peer_fixture.h"
#include "ca_hash.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "ca_validate.h"
#include "peer.pb-c.h"

#include <sodium.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#undef CHECK
#define CHECK   HARNESS_CHECK
#define BEAT_MS PEER_FIXTURE_BEAT_MS
#define WAIT_MS 30000

//  Waits until `self` has `online` sessions online.
static void s_wait_online(peer_node_t *self, uint32_t online) {
    int64_t deadline = zclock_mono() + WAIT_MS;
    bool reached = false;
    while (!reached && zclock_mono() < deadline) {
        Cairn__Request request = CAIRN__REQUEST__INIT;
        Cairn__PeerSessions sessions = CAIRN__PEER_SESSIONS__INIT;
        request.body_case = CAIRN__REQUEST__BODY_PEER_SESSIONS;
        request.peer_sessions = &sessions;
        Cairn__Response *response = harness_ok(harness_request(self->client, &request),
                                               CAIRN__RESPONSE__BODY_PEER_SESSIONS);
        reached = response->peer_sessions->online == online;
        cairn__response__free_unpacked(response, NULL);
        if (!reached)
            zclock_sleep(20); //  a poll interval; the deadline decides
    }
    CHECK(reached);
}

//  `size` bytes from `seed`; their hash in `hash`. Caller frees.
static uint8_t *s_blob(size_t size, uint32_t seed, uint8_t hash[32]) {
    uint8_t *data = (uint8_t *)malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    ca_sha256(data, size, hash);
    return data;
}

static void s_put(peer_node_t *self, const uint8_t *data, size_t size) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, 0, data, size, NULL, 0);
    cairn__response__free_unpacked(
        harness_ok(harness_request(self->client, &request), CAIRN__RESPONSE__BODY_CONTENT_PUT),
        NULL);
}

static Cairn__Response *s_fetch(peer_node_t *self, const uint8_t *hash, size_t hash_size,
                                uint32_t timeout_ms) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ContentFetch fetch = CAIRN__CONTENT_FETCH__INIT;
    fetch.hash.data = (uint8_t *)hash;
    fetch.hash.len = hash_size;
    fetch.timeout_ms = timeout_ms;
    request.body_case = CAIRN__REQUEST__BODY_CONTENT_FETCH;
    request.content_fetch = &fetch;
    return harness_request(self->client, &request);
}

//  Fetches `hash` on self: OK from `source`, then the cache serves the bytes.
static void s_fetch_ok(peer_node_t *self, const uint8_t *data, size_t size, const uint8_t *hash,
                       peer_node_t *source) {
    Cairn__Response *response =
        harness_ok(s_fetch(self, hash, 32, 20000), CAIRN__RESPONSE__BODY_CONTENT_FETCH);
    CHECK(response->content_fetch->size == size && response->content_fetch->hash.len == 32 &&
          memcmp(response->content_fetch->hash.data, hash, 32) == 0 &&
          streq(response->content_fetch->source_peer, harness_node_peer_id(source->node)) &&
          response->content_fetch->peers_asked >= 1);
    cairn__response__free_unpacked(response, NULL);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__CacheGet get;
    ca_request_cache_get(&request, &get, 0, hash, 32, false);
    response = harness_ok(harness_request(self->client, &request), CAIRN__RESPONSE__BODY_CACHE_GET);
    CHECK(response->cache_get->data.len == size &&
          memcmp(response->cache_get->data.data, data, size) == 0 &&
          streq(response->cache_get->source_peer, harness_node_peer_id(source->node)));
    cairn__response__free_unpacked(response, NULL);
}

static bool s_cached(peer_node_t *self, const uint8_t *hash) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__CacheHas has;
    ca_request_cache_has(&request, &has, 0, hash, 32);
    Cairn__Response *response =
        harness_ok(harness_request(self->client, &request), CAIRN__RESPONSE__BODY_CACHE_HAS);
    bool cached = response->cache_has->cached;
    cairn__response__free_unpacked(response, NULL);
    return cached;
}

//  Overwrites bytes in the middle of a stored blob file (same size).
static void s_corrupt(peer_node_t *self, const uint8_t hash[32]) {
    char hex[65], path[1024];
    ca_hash_to_hex(hash, hex);
    snprintf(path, sizeof path, "%s/content/%.2s/%s", harness_node_data_dir(self->node), hex, hex);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "XXXXXXXX", 8, 4096) == 8);
    close(fd);
}

//  ---- a hand-made peer, asking the node directly ------------------------------------------

//  A DEALER with a fresh key, online with `node` (Hello both ways).
static zsock_t *s_raw_peer(peer_node_t *node) {
    CHECK(sodium_init() >= 0);
    uint8_t ed_public[32], ed_secret[64], server_ed[32];
    crypto_sign_keypair(ed_public, ed_secret);
    ca_curve_key_t mine, server;
    CHECK(ca_curve_key_from_ed25519(ed_public, ed_secret, &mine) == 0);
    CHECK(ca_hash_from_hex(harness_node_peer_id(node->node), server_ed));
    CHECK(ca_curve_key_from_ed25519(server_ed, NULL, &server) == 0);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(dealer, 0);
    zsock_set_rcvtimeo(dealer, WAIT_MS);
    ca_curve_key_apply_client(&mine, server.public_key, dealer);
    CHECK(zsock_connect(dealer, "tcp://127.0.0.1:%d", node->port) == 0);
    char id[65];
    ca_hash_to_hex(ed_public, id);
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Hello hello = CAIRN__PEER__HELLO__INIT;
    hello.peer_id = id;
    hello.node_name = "raw";
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_HELLO;
    message.hello = &hello;
    message.version = 1;
    size_t size = cairn__peer__peer_message__get_packed_size(&message);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__peer__peer_message__pack(&message, zframe_data(frame));
    CHECK(zframe_send(&frame, dealer, 0) == 0);
    return dealer;
}

//  A client's ContentFetch on `self`, sent now on a connection of its own,
//  answered later (s_fetch_end).
static zsock_t *s_fetch_begin(peer_node_t *self, const uint8_t *hash) {
    zsock_t *client = harness_connect(harness_node_endpoint(self->node));
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ContentFetch fetch = CAIRN__CONTENT_FETCH__INIT;
    fetch.hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    fetch.timeout_ms = 20000;
    request.id = 1;
    request.body_case = CAIRN__REQUEST__BODY_CONTENT_FETCH;
    request.content_fetch = &fetch;
    CHECK(ca_caller_send(client, &request) == 0);
    return client;
}

static Cairn__Response *s_fetch_end(zsock_t **client_p) {
    Cairn__Response *response = ca_caller_recv(*client_p, WAIT_MS);
    zsock_destroy(client_p);
    return response;
}

static void s_raw_send(zsock_t *dealer, Cairn__Peer__PeerMessage *message) {
    message->version = 1;
    size_t size = cairn__peer__peer_message__get_packed_size(message);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__peer__peer_message__pack(message, zframe_data(frame));
    CHECK(zframe_send(&frame, dealer, 0) == 0);
}

//  The next message that is not a Hello or Heartbeat (caller frees), NULL
//  after WAIT_MS.
static Cairn__Peer__PeerMessage *s_raw_next(zsock_t *dealer) {
    for (int i = 0; i < 1000; i++) {
        zframe_t *frame = zframe_recv(dealer);
        if (!frame)
            return NULL;
        Cairn__Peer__PeerMessage *answer =
            cairn__peer__peer_message__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        if (answer && answer->kind_case != CAIRN__PEER__PEER_MESSAGE__KIND_HELLO &&
            answer->kind_case != CAIRN__PEER__PEER_MESSAGE__KIND_HEARTBEAT)
            return answer;
        if (answer)
            cairn__peer__peer_message__free_unpacked(answer, NULL);
    }
    return NULL;
}

//  Sends a FetchRequest; returns the first answer that is not a Hello or
//  Heartbeat (caller frees), NULL after WAIT_MS.
static Cairn__Peer__PeerMessage *s_raw_ask(zsock_t *dealer, const uint8_t *hash, size_t hash_size,
                                           uint64_t offset, uint32_t length) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__FetchRequest ask = CAIRN__PEER__FETCH_REQUEST__INIT;
    ask.hash.data = (uint8_t *)hash;
    ask.hash.len = hash_size;
    ask.offset = offset;
    ask.length = length;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST;
    message.fetch_request = &ask;
    s_raw_send(dealer, &message);
    return s_raw_next(dealer);
}

//  Answers a FetchRequest for `length` bytes of `data` (of `total`) at `offset`.
static void s_raw_chunk(zsock_t *dealer, const uint8_t *hash, const uint8_t *data, uint64_t offset,
                        size_t length, uint64_t total) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__FetchChunk chunk = CAIRN__PEER__FETCH_CHUNK__INIT;
    chunk.hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    chunk.offset = offset;
    chunk.data = (ProtobufCBinaryData){length, (uint8_t *)data + offset};
    chunk.total = total;
    chunk.last = offset + length == total;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK;
    message.fetch_chunk = &chunk;
    s_raw_send(dealer, &message);
}

//  The next FetchRequest the raw peer gets: its offset and length.
static void s_raw_expect_ask(zsock_t *dealer, uint64_t offset, uint32_t length) {
    Cairn__Peer__PeerMessage *ask = s_raw_next(dealer);
    CHECK(ask && ask->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST);
    if (ask && ask->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST)
        CHECK(ask->fetch_request->offset == offset && ask->fetch_request->length == length);
    if (ask)
        cairn__peer__peer_message__free_unpacked(ask, NULL);
}

//  ---- tests -------------------------------------------------------------------------------

//  A, and B which dials A, online.
static void s_pair(peer_node_t *a, peer_node_t *b) {
    peer_node_start(a, NULL, 0, NULL);
    peer_node_t *boot[] = {a};
    peer_node_start(b, boot, 1, NULL);
    s_wait_online(b, 1);
}

//  A small (inline) and a 5 MiB blob (5 chunks), and one from A's cache.
static void test_small_and_large(void) {
    peer_node_t a, b;
    s_pair(&a, &b);
    uint8_t small_hash[32], large_hash[32], cached_hash[32];
    uint8_t *small = s_blob(100, 1, small_hash);
    size_t large_size = 5 * 1024 * 1024 + 123;
    uint8_t *large = s_blob(large_size, 2, large_hash);
    uint8_t *cached = s_blob(40000, 3, cached_hash);
    s_put(&a, small, 100);
    s_put(&a, large, large_size);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__CachePut put;
    ca_request_cache_put(&request, &put, 0, cached_hash, 32, cached, 40000, "somewhere", 1.0, NULL,
                         0);
    cairn__response__free_unpacked(
        harness_ok(harness_request(a.client, &request), CAIRN__RESPONSE__BODY_CACHE_PUT), NULL);
    CHECK(!s_cached(&b, small_hash));
    s_fetch_ok(&b, small, 100, small_hash, &a);
    s_fetch_ok(&b, large, large_size, large_hash, &a);
    s_fetch_ok(&b, cached, 40000, cached_hash, &a);
    //  The other way round: A fetches from B's cache what B fetched.
    Cairn__Request del = CAIRN__REQUEST__INIT;
    Cairn__ContentDelete remove;
    ca_request_content_delete(&del, &remove, 0, large_hash, 32);
    cairn__response__free_unpacked(
        harness_ok(harness_request(a.client, &del), CAIRN__RESPONSE__BODY_CONTENT_DELETE), NULL);
    s_fetch_ok(&a, large, large_size, large_hash, &b);
    //  The CLI.
    char endpoint[128], hex[65];
    snprintf(endpoint, sizeof endpoint, "--endpoint=%s", harness_node_endpoint(b.node));
    ca_hash_to_hex(small_hash, hex);
    harness_run_t run =
        harness_run(cli_run_path(),
                    (const char *[]){endpoint, "--timeout", "10000", "content", "fetch", hex, NULL},
                    NULL, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 0 && strstr(run.out, "fetched") && strstr(run.out, "100 bytes") &&
          strstr(run.out, harness_node_peer_id(a.node)));
    harness_run_free(&run);
    run = harness_run(cli_run_path(), (const char *[]){endpoint, "content", "fetch", "00ff", NULL},
                      NULL, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 2 && strstr(run.err, "HASH"));
    harness_run_free(&run);
    free(small);
    free(large);
    free(cached);
    peer_node_stop(&b);
    peer_node_stop(&a);
}

//  No peer has it: NOT_FOUND naming the peers asked; bad input: INVALID.
static void test_not_found_and_invalid(void) {
    peer_node_t a, b;
    s_pair(&a, &b);
    uint8_t hash[32];
    free(s_blob(77, 9, hash));
    harness_fails(s_fetch(&b, hash, 32, 10000), CAIRN__STATUS__NOT_FOUND,
                  "any of the 1 online peers asked");
    CHECK(!s_cached(&b, hash));
    harness_fails(s_fetch(&b, hash, 31, 0), CAIRN__STATUS__INVALID, "32 bytes");
    harness_fails(s_fetch(&b, hash, 0, 0), CAIRN__STATUS__INVALID, "32 bytes");
    harness_fails(s_fetch(&b, hash, 32, 600001), CAIRN__STATUS__INVALID, "600000");
    harness_expect_alive(b.client);
    peer_node_stop(&b);
    peer_node_stop(&a);
}

//  The only peer (a hand-made one) never answers: the fetch ends at its
//  timeout with an error that says so, nothing kept. Heartbeats of 2 s keep
//  the silent peer's session online meanwhile.
static void test_timeout(void) {
    peer_node_t b;
    const char *slow[] = {"--peer-heartbeat-ms=2000", NULL};
    peer_node_start(&b, NULL, 0, slow);
    zsock_t *dealer = s_raw_peer(&b);
    s_wait_online(&b, 1);
    uint8_t hash[32];
    free(s_blob(50, 8, hash));
    int64_t start = zclock_mono();
    harness_fails(s_fetch(&b, hash, 32, 300), CAIRN__STATUS__UNAVAILABLE,
                  "not fetched within 300 ms");
    CHECK(zclock_mono() - start < 5000);
    CHECK(!s_cached(&b, hash));
    harness_expect_alive(b.client);
    zsock_destroy(&dealer);
    peer_node_stop(&b);
}

//  The peer has it, but beyond this node's max_blob_bytes: passed over.
static void test_too_big(void) {
    peer_node_t a, b;
    peer_node_start(&a, NULL, 0, NULL);
    peer_node_t *boot[] = {&a};
    const char *small[] = {"--max-blob-bytes=1000", NULL};
    peer_node_start(&b, boot, 1, small);
    s_wait_online(&b, 1);
    uint8_t hash[32];
    uint8_t *data = s_blob(5000, 13, hash);
    s_put(&a, data, 5000);
    harness_fails(s_fetch(&b, hash, 32, 10000), CAIRN__STATUS__NOT_FOUND,
                  "1 holding it beyond the 1000 bytes");
    CHECK(!s_cached(&b, hash));
    free(data);
    peer_node_stop(&b);
    peer_node_stop(&a);
}

//  A node with a peer endpoint but no session, and one without a peer network.
static void test_no_peers(void) {
    peer_node_t a;
    peer_node_start(&a, NULL, 0, NULL);
    uint8_t hash[32];
    free(s_blob(10, 4, hash));
    harness_fails(s_fetch(&a, hash, 32, 1000), CAIRN__STATUS__UNAVAILABLE, "no peer session");
    peer_node_stop(&a);
    HARNESS_SESSION_UP(NULL);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ContentFetch fetch = CAIRN__CONTENT_FETCH__INIT;
    fetch.hash.data = hash;
    fetch.hash.len = 32;
    request.body_case = CAIRN__REQUEST__BODY_CONTENT_FETCH;
    request.content_fetch = &fetch;
    harness_fails(harness_request(client, &request), CAIRN__STATUS__UNAVAILABLE, "peer_endpoint");
    harness_session_down(&caller, &client, &node);
}

//  The only peer serves bytes that do not hash: refused, cut off, nothing kept.
static void test_wrong_bytes_refused(void) {
    peer_node_t a, b;
    s_pair(&a, &b);
    uint8_t hash[32];
    size_t size = 2 * 1024 * 1024 + 5;
    uint8_t *data = s_blob(size, 5, hash);
    s_put(&a, data, size);
    s_corrupt(&a, hash);
    harness_fails(s_fetch(&b, hash, 32, 10000), CAIRN__STATUS__NOT_FOUND, "1 cut off");
    CHECK(!s_cached(&b, hash));
    CHECK(harness_node_log_has(b.node, "do not hash to the requested hash"));
    //  B's dial waits in backoff while A, which knows B's address, dials B:
    //  the session comes back (and B's refusal of the duplicate does not
    //  send on the dial's closed socket).
    s_wait_online(&b, 1);
    harness_expect_alive(b.client);
    free(data);
    peer_node_stop(&b);
    peer_node_stop(&a);
}

//  Two peers hold it, the one asked first (smaller peer id) serves wrong
//  bytes: it is cut off and the other one's bytes are kept.
static void test_wrong_bytes_next_peer(void) {
    peer_node_t a, c, b;
    peer_node_start(&a, NULL, 0, NULL);
    peer_node_start(&c, NULL, 0, NULL);
    peer_node_t *boot[] = {&a, &c};
    peer_node_start(&b, boot, 2, NULL);
    s_wait_online(&b, 2);
    uint8_t hash[32];
    size_t size = 1024 * 1024 + 999;
    uint8_t *data = s_blob(size, 6, hash);
    s_put(&a, data, size);
    s_put(&c, data, size);
    bool a_first = strcmp(harness_node_peer_id(a.node), harness_node_peer_id(c.node)) < 0;
    peer_node_t *bad = a_first ? &a : &c, *good = a_first ? &c : &a;
    s_corrupt(bad, hash);
    s_fetch_ok(&b, data, size, hash, good);
    CHECK(harness_node_log_has(b.node, "do not hash to the requested hash"));
    free(data);
    peer_node_stop(&b);
    peer_node_stop(&c);
    peer_node_stop(&a);
}

//  The fetching side against a hand-made server: once the first chunk
//  told the size, the following ranges are asked for together (the
//  window); and a server whose chunk is shorter than asked before the end
//  is cut off.
static void test_window(void) {
    peer_node_t b;
    peer_node_start(&b, NULL, 0, NULL);
    zsock_t *server = s_raw_peer(&b);
    s_wait_online(&b, 1);
    enum { MIB = 1024 * 1024 };
    uint8_t hash[32];
    size_t size = 3 * MIB + 100;
    uint8_t *data = s_blob(size, 9, hash);
    zsock_t *caller = s_fetch_begin(&b, hash);
    s_raw_expect_ask(server, 0, MIB);
    s_raw_chunk(server, hash, data, 0, MIB, size);
    //  Three requests before any answer: the rest of the blob.
    s_raw_expect_ask(server, MIB, MIB);
    s_raw_expect_ask(server, 2 * MIB, MIB);
    s_raw_expect_ask(server, 3 * MIB, 100);
    for (uint64_t offset = MIB; offset < size; offset += MIB)
        s_raw_chunk(server, hash, data, offset, size - offset < MIB ? size - offset : MIB, size);
    Cairn__Response *response =
        harness_ok(s_fetch_end(&caller), CAIRN__RESPONSE__BODY_CONTENT_FETCH);
    CHECK(response->content_fetch->size == size);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_cached(&b, hash));
    //  Another blob; the server answers the first range short.
    uint8_t other[32];
    uint8_t *more = s_blob(size, 10, other);
    caller = s_fetch_begin(&b, other);
    s_raw_expect_ask(server, 0, MIB);
    s_raw_chunk(server, other, more, 0, 1000, size);
    harness_fails(s_fetch_end(&caller), CAIRN__STATUS__NOT_FOUND, "1 cut off");
    CHECK(harness_node_log_has(b.node, "shorter than asked before the end"));
    CHECK(!s_cached(&b, other));
    harness_expect_alive(b.client);
    zsock_destroy(&server);
    free(data);
    free(more);
    peer_node_stop(&b);
}

//  The serving side, asked by a hand-made peer: ranges, the end, a hash it
//  lacks, and a request out of bounds (cut off; the node keeps serving).
static void test_serving(void) {
    peer_node_t a;
    peer_node_start(&a, NULL, 0, NULL);
    uint8_t hash[32], other[32];
    size_t size = 3 * 1024 * 1024 / 2;
    uint8_t *data = s_blob(size, 11, hash);
    free(s_blob(12, 12, other));
    s_put(&a, data, size);
    zsock_t *dealer = s_raw_peer(&a);
    Cairn__Peer__PeerMessage *answer = s_raw_ask(dealer, hash, 32, 1000, 1024 * 1024);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK);
    CHECK(answer->fetch_chunk->offset == 1000 && answer->fetch_chunk->total == size &&
          answer->fetch_chunk->data.len == 1024 * 1024 && !answer->fetch_chunk->last &&
          memcmp(answer->fetch_chunk->data.data, data + 1000, 1024 * 1024) == 0);
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    answer = s_raw_ask(dealer, hash, 32, size - 10, 1024 * 1024);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK);
    CHECK(answer->fetch_chunk->data.len == 10 && answer->fetch_chunk->last);
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    answer = s_raw_ask(dealer, hash, 32, size + 1, 10);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_MISSING &&
          strstr(answer->fetch_missing->reason, "beyond"));
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    answer = s_raw_ask(dealer, other, 32, 0, 10);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_MISSING);
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    answer = s_raw_ask(dealer, hash, 32, 0, 1024 * 1024 + 1);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_ERROR &&
          strstr(answer->error->message, "out of bounds"));
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    CHECK(harness_node_log_has(a.node, "FetchRequest out of bounds"));
    zsock_destroy(&dealer);
    dealer = s_raw_peer(&a);
    answer = s_raw_ask(dealer, hash, 31, 0, 10);
    CHECK(answer && answer->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_ERROR);
    cairn__peer__peer_message__free_unpacked(answer, NULL);
    zsock_destroy(&dealer);
    harness_expect_alive(a.client);
    free(data);
    peer_node_stop(&a);
}

//  Set reconciliation of the content store (actors/peer_recon.c): blobs
//  stored while apart, then connected: each side fetches what it lacks
//  into its cache, with the other as source; the common blob moves not.
static void test_reconcile(void) {
    peer_node_t a, b;
    peer_node_start(&a, NULL, 0, NULL);
    peer_node_start(&b, NULL, 0, NULL);
    enum { EACH = 3 };
    uint8_t hashes[2][EACH][32], common_hash[32];
    uint8_t *common = s_blob(5000, 99, common_hash);
    s_put(&a, common, 5000);
    s_put(&b, common, 5000);
    free(common);
    peer_node_t *sides[2] = {&a, &b};
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < EACH; i++) {
            size_t size = i == 0 ? 100 : 70000 + (size_t)i;
            uint8_t *data = s_blob(size, (uint32_t)(side * 10 + i + 1), hashes[side][i]);
            s_put(sides[side], data, size);
            free(data);
        }
    peer_node_connect(&b, &a);
    s_wait_online(&a, 1);
    s_wait_online(&b, 1);
    //  Each side's blobs reach the other's cache.
    int64_t deadline = zclock_mono() + WAIT_MS;
    bool done = false;
    while (!done && zclock_mono() < deadline) {
        done = true;
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < EACH; i++)
                done = done && s_cached(sides[!side], hashes[side][i]);
        if (!done)
            zclock_sleep(20); //  a poll interval; the deadline decides
    }
    if (!done)
        fprintf(stderr, "blobs not reconciled (logs: %s %s)\n", harness_node_log_path(a.node),
                harness_node_log_path(b.node));
    CHECK(done);
    CHECK(!s_cached(&a, common_hash) && !s_cached(&b, common_hash));
    for (int i = 0; i < EACH; i++)
        CHECK(!s_cached(&a, hashes[0][i]) && !s_cached(&b, hashes[1][i]));
    peer_node_stop(&b);
    peer_node_stop(&a);
}

static const harness_test_t s_tests[] = {
    {"small_and_large", test_small_and_large},
    {"not_found_and_invalid", test_not_found_and_invalid},
    {"no_peers", test_no_peers},
    {"timeout", test_timeout},
    {"too_big", test_too_big},
    {"serving", test_serving},
    {"window", test_window},
    {"wrong_bytes_refused", test_wrong_bytes_refused},
    {"wrong_bytes_next_peer", test_wrong_bytes_next_peer},
    {"reconcile", test_reconcile},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.peer_fetch", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

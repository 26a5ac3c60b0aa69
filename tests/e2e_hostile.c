/*  =========================================================================
    e2e_hostile - clients that do not play by the rules

    Each test starts a real cairnd and drives it with clients that a careless
    or hostile user could write, then checks by status and by count (never
    by timing) that the node stays bounded and that a well-behaved client is
    answered throughout:

        never_read   100 clients send reads and never read a byte: the
                     node's peak RSS stays under HOSTILE_RSS_CAP
        flood_fair   one client floods ChannelVerify (Argon2id, slow):
                     another client's requests are all answered OK
        stream_slots one client begins upload streams until refused: it
                     holds at most its share, another client's upload
                     goes through
    ========================================================================= */

#include "harness.h"
#include "ca_limits.h"
#include "ca_status.h"
#include "channels.h"

#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK HARNESS_CHECK

#define HOSTILE_CLIENTS 100
#define HOSTILE_READS   4                 //  per client
#define HOSTILE_BLOB    (4 * 1024 * 1024) //  bytes per read answer
//  The documented bound on the node's peak RSS in never_read (README,
//  "Durability and limits"): baseline + answer_bytes_max + working copies.
#define HOSTILE_RSS_CAP (128ULL * 1024 * 1024)

static uint64_t s_next_id = 1;

//  ---- a client that never reads ------------------------------------------------
//
//  A libzmq DEALER reads its socket eagerly into its own queue even when the
//  application does not, so the hostile client here speaks ZMTP 3.0 itself
//  over a plain TCP socket with a tiny receive buffer and never calls recv:
//  whatever the node sends it stays in the node (or the kernel's few KiB).

static int s_port(const char *endpoint) {
    const char *colon = strrchr(endpoint, ':');
    return colon ? atoi(colon + 1) : 0;
}

static bool s_write_all(int fd, const void *data, size_t size) {
    const uint8_t *at = (const uint8_t *)data;
    while (size) {
        ssize_t n = send(fd, at, size, MSG_NOSIGNAL);
        if (n <= 0) {
            fprintf(stderr, "send: %s\n", strerror(errno));
            return false;
        }
        at += n;
        size -= (size_t)n;
    }
    return true;
}

//  Connects, sends the ZMTP greeting (NULL mechanism) and READY as a DEALER.
static int s_raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&address, sizeof address) == 0);
    uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    CHECK(s_write_all(fd, greeting, sizeof greeting));
    static const uint8_t ready[] = {0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',
                                    'o',  'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
                                    0,    0,   0,   6,   'D', 'E', 'A', 'L', 'E', 'R'};
    CHECK(s_write_all(fd, ready, sizeof ready));
    //  Messages sent before the node's READY are refused with the
    //  connection: read its greeting and READY (a short command), no more.
    uint8_t reply[64 + 2 + 255];
    size_t have = 0, want = 64 + 2;
    int64_t deadline = zclock_mono() + HARNESS_CALL_MS;
    while (have < want && zclock_mono() < deadline) {
        zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, reply + have, want - have, 0);
        CHECK(n > 0);
        have += (size_t)n;
        if (have == 64 + 2)
            want = 64 + 2 + reply[65];
    }
    CHECK(have == want && reply[64] == 0x04);
    return fd;
}

//  Sends one request as a single-frame ZMTP message.
static void s_raw_send(int fd, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    uint8_t *frame = (uint8_t *)malloc(9 + size);
    size_t head = 0;
    if (size < 256) {
        frame[head++] = 0x00;
        frame[head++] = (uint8_t)size;
    } else {
        frame[head++] = 0x02;
        for (int i = 7; i >= 0; i--)
            frame[head++] = (uint8_t)((uint64_t)size >> (8 * i));
    }
    cairn__request__pack(request, frame + head);
    CHECK(s_write_all(fd, frame, head + size));
    free(frame);
}

static Cairn__Response *s_call(zsock_t *client, Cairn__Request *request) {
    request->id = s_next_id++;
    return harness_request(client, request);
}

//  ---- never_read ---------------------------------------------------------------

static void test_never_read(void) {
#ifdef CAIRN_SANITIZED //  ASan's quarantine and shadow memory make RSS meaningless
    printf("skipped under the sanitizers\n");
    return;
#endif
    const char *args[] = {"--answer-bytes-max=33554432", NULL};
    harness_node_t *node = harness_node_up(args);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t *blob = (uint8_t *)malloc(HOSTILE_BLOB);
    for (size_t i = 0; i < HOSTILE_BLOB; i++)
        blob[i] = (uint8_t)(i * 7 + (i >> 13));
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, 0, blob, HOSTILE_BLOB, NULL, 0);
    Cairn__Response *response =
        harness_ok(s_call(client, &request), CAIRN__RESPONSE__BODY_CONTENT_PUT);
    uint8_t hash[CA_HASH_BYTES];
    memcpy(hash, response->content_put->hash.data, sizeof hash);
    cairn__response__free_unpacked(response, NULL);
    free(blob);
    CHECK(harness_node_reset_peak(node) == 0);

    //  Each hostile client asks for HOSTILE_READS whole reads and never
    //  reads; after each, the good client's ContentSize (same pool) is
    //  answered, which also paces the flood to the pool's speed.
    int fds[HOSTILE_CLIENTS];
    unsigned answered = 0;
    for (int c = 0; c < HOSTILE_CLIENTS; c++) {
        fds[c] = s_raw_connect(s_port(harness_node_endpoint(node)));
        for (int r = 0; r < HOSTILE_READS; r++) {
            Cairn__ContentRead read;
            ca_request_content_read(&request, &read, 1000 + (uint64_t)r, hash, sizeof hash, 0,
                                    HOSTILE_BLOB, false);
            s_raw_send(fds[c], &request);
        }
        Cairn__ContentSize size;
        ca_request_content_size(&request, &size, 0, hash, sizeof hash);
        response = s_call(client, &request);
        answered += response->status == CAIRN__STATUS__OK;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(answered == HOSTILE_CLIENTS);
    harness_expect_alive(client);
    uint64_t rss_kib = 0, peak_kib = 0;
    CHECK(harness_node_memory(node, &rss_kib, &peak_kib) == 0);
    printf("peak RSS %" PRIu64 " MiB with %d clients not reading (cap %llu MiB)\n", peak_kib / 1024,
           HOSTILE_CLIENTS, HOSTILE_RSS_CAP >> 20);
    CHECK(peak_kib * 1024 < HOSTILE_RSS_CAP);

    //  Once they are gone, a large answer goes out again.
    for (int c = 0; c < HOSTILE_CLIENTS; c++)
        close(fds[c]);
    bool read_whole = false;
    int64_t deadline = zclock_mono() + HARNESS_CALL_MS;
    while (!read_whole && zclock_mono() < deadline) {
        Cairn__ContentRead read;
        ca_request_content_read(&request, &read, 0, hash, sizeof hash, 0, HOSTILE_BLOB, false);
        response = s_call(client, &request);
        CHECK(response->status == CAIRN__STATUS__OK || response->status == CAIRN__STATUS__BUSY);
        read_whole = response->status == CAIRN__STATUS__OK;
        cairn__response__free_unpacked(response, NULL);
        if (!read_whole)
            zclock_sleep(20); //  a poll with a deadline: the kernel closes the sockets
    }
    CHECK(read_whole);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  ---- flood_fair -----------------------------------------------------------------

#define FLOOD_ROUNDS 10
#define FLOOD_BURST  40
#define FLOOD_PASS   "correct horse battery staple"

static void test_flood_fair(void) {
    //  ChannelVerify's pool (channel_auth) queues 2 per worker: one client
    //  alone could fill it.
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *good = harness_connect(harness_node_endpoint(node));
    zsock_t *flooder = harness_connect(harness_node_endpoint(node));
    ca_caller_t *caller = ca_caller_new_socket(good, HARNESS_CALL_MS);
    Cairn__Response *response = channels_fixture_create(caller, "#flood", false, FLOOD_PASS);
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);

    Cairn__Request request;
    Cairn__ChannelVerify verify;
    unsigned good_ok = 0, sent = 0;
    for (int round = 0; round < FLOOD_ROUNDS; round++) {
        for (int i = 0; i < FLOOD_BURST; i++) {
            ca_request_channel_verify(&request, &verify, 100000 + sent, "#flood", FLOOD_PASS);
            CHECK(harness_send(flooder, &request) == 0);
            sent++;
        }
        response = channels_fixture_verify(caller, "#flood", FLOOD_PASS);
        if (response->status == CAIRN__STATUS__OK && response->channel_verify->ok)
            good_ok++;
        else
            printf("round %d: %s %s\n", round, ca_status_str((ca_status_t)response->status),
                   response->error ? response->error : "");
        cairn__response__free_unpacked(response, NULL);
    }
    //  Every one of the good client's checks was answered OK; the flooder
    //  was told to read its answers and got some through.
    CHECK(good_ok == FLOOD_ROUNDS);
    unsigned flood_ok = 0, flood_busy = 0;
    for (unsigned i = 0; i < sent; i++) {
        response = harness_recv(flooder, HARNESS_CALL_MS);
        CHECK(response);
        flood_ok += response->status == CAIRN__STATUS__OK;
        if (response->status == CAIRN__STATUS__BUSY) {
            CHECK(strstr(response->error, "read your answers"));
            flood_busy++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    printf("flooder: %u OK, %u BUSY of %u\n", flood_ok, flood_busy, sent);
    CHECK(flood_ok >= 1 && flood_busy >= 1 && flood_ok + flood_busy == sent);
    zsock_destroy(&flooder);
    harness_session_down(&caller, &good, &node);
}

//  ---- stream_slots ---------------------------------------------------------------

#define SLOTS_TRIES (CA_CONTENT_STREAMS_MAX * 2 + 10) //  more than every worker holds

static void test_stream_slots(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *hog = harness_connect(harness_node_endpoint(node));
    zsock_t *good = harness_connect(harness_node_endpoint(node));
    Cairn__Request request;
    Cairn__ContentBegin begin;
    unsigned held = 0, refused = 0;
    for (int i = 0; i < SLOTS_TRIES; i++) {
        ca_request_content_begin(&request, &begin, 0, NULL, 0);
        Cairn__Response *response = s_call(hog, &request);
        if (response->status == CAIRN__STATUS__OK)
            held++;
        else {
            harness_expect(response, CAIRN__STATUS__BUSY, "upload streams open");
            refused++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    printf("hog: %u streams held, %u refused\n", held, refused);
    //  2 workers (the default), CA_CONTENT_STREAMS_PER_CLIENT on each.
    CHECK(held == 2 * CA_CONTENT_STREAMS_PER_CLIENT);
    //  Another client begins, sends and commits an upload.
    ca_request_content_begin(&request, &begin, 0, NULL, 0);
    Cairn__Response *response =
        harness_ok(s_call(good, &request), CAIRN__RESPONSE__BODY_CONTENT_BEGIN);
    uint64_t stream = response->content_begin->stream_id;
    cairn__response__free_unpacked(response, NULL);
    Cairn__ContentChunk chunk;
    ca_request_content_chunk(&request, &chunk, 0, stream, 0, "fair share", 10);
    harness_fails(s_call(good, &request), CAIRN__STATUS__OK, NULL);
    Cairn__ContentCommit commit;
    ca_request_content_commit(&request, &commit, 0, stream, NULL, 0);
    response = harness_ok(s_call(good, &request), CAIRN__RESPONSE__BODY_CONTENT_COMMIT);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&good);
    zsock_destroy(&hog);
    harness_node_down(&node);
}

static const harness_test_t s_tests[] = {
    {"never_read", test_never_read},
    {"flood_fair", test_flood_fair},
    {"stream_slots", test_stream_slots},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.hostile", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

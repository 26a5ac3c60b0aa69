/*  =========================================================================
    e2e_hostile - a real cairnd under clients that use it badly

        e2e-hostile TEST     runs one test (ctest registers each by name)

    Each test starts a real cairnd (tests/kit/harness.c), drives it only
    through its endpoint, and expects it to answer throughout and to exit 0
    on SIGTERM. Waits are polls with deadlines, loops are bounded in count.

    descriptor_exhaustion: the node runs with a small descriptor limit
    (HARNESS_NOFILE_ENV) and idle connections fill its descriptor table.
    Requests on a connection opened before then must each be answered (OK,
    or INTERNAL saying what failed), never abort the node; once the idle
    connections close, the same requests succeed again.
    ========================================================================= */

#include "harness.h"
#include "messages.h"
#include "ca_hash.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CHECK HARNESS_CHECK

#define NOFILE           256   //  the node's limit; it starts with ~170 in use (2 workers)
#define IDLE_MAX         2000  //  at most this many idle connections
#define FILL_DEADLINE_MS 30000 //  to fill the node's descriptor table
#define CONNECT_MS       200   //  a connect slower than this: the node's backlog is full
#define DRAIN_MS         20000 //  for the node to close the idle connections

//  Descriptors the process `pid` holds now (-1 when /proc does not say).
static int s_open_fds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            count++;
    closedir(dir);
    return count;
}

//  A ZMTP 3.0 greeting (NULL mechanism, as client) and a READY command
//  naming a DEALER: after these the node holds the connection open, idle,
//  for as long as we do (an unfinished handshake would time out).
static const uint8_t s_zmtp_hello[] = {
    0xff, 0,   0,   0,   0,   0,   0,   0,   0,   0x7f, 3,   0,   'N', 'U', 'L', 'L', 0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,   0,   0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,   0,   0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0, //  64 bytes of greeting
    0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',  'o', 'c', 'k', 'e', 't', '-', 'T',
    'y',  'p', 'e', 0,   0,   0,   6,   'D', 'E', 'A',  'L', 'E', 'R'};

//  An idle ZeroMQ connection to 127.0.0.1:`port`, or -1 when the connect
//  did not complete within CONNECT_MS (the node's accept backlog is full).
static int s_idle_connection(int port) {
    int fd = harness_tcp_connect(port, CONNECT_MS);
    if (fd >= 0 && write(fd, s_zmtp_hello, sizeof s_zmtp_hello) != (ssize_t)sizeof s_zmtp_hello) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int s_port(harness_node_t *node) {
    const char *colon = strrchr(harness_node_endpoint(node), ':');
    return atoi(colon + 1);
}

//  Raises our own soft descriptor limit: the idle connections are ours too.
static int s_own_fd_room(void) {
    struct rlimit limit;
    CHECK(getrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        CHECK(getrlimit(RLIMIT_NOFILE, &limit) == 0);
    }
    return limit.rlim_cur == RLIM_INFINITY ? IDLE_MAX : (int)limit.rlim_cur;
}

//  One round of requests of most stores on `caller`, reading `stored` (a
//  blob stored before). With `strict` each must succeed (NOT_FOUND only
//  where nothing was stored); otherwise each must be answered, OK or
//  NOT_FOUND, or INTERNAL/BUSY with a message. Returns how many failed.
static int s_round(ca_caller_t *caller, int round, bool strict, const uint8_t *stored) {
    static uint8_t blob[64];
    snprintf((char *)blob, sizeof blob, "descriptor exhaustion, round %d", round);
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(blob, sizeof blob, hash);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 0xfd, (uint64_t)round);
    Cairn__Message message;
    messages_fixture_message(&message, id, 1700000000.0 + round, "#fd", "still here");
    char value[32];
    snprintf(value, sizeof value, "%d", round);

    Cairn__Request requests[19];
    bool may_be_absent[19] = {false};
    Cairn__ContentPut put;
    Cairn__ContentGet get;
    Cairn__ContentRead read;
    Cairn__ContentBegin begin;
    Cairn__ContentStats content_stats;
    Cairn__MessageStore store;
    Cairn__MessageList list;
    Cairn__MessageStats message_stats;
    Cairn__ConfigSet set;
    Cairn__ConfigGet config_get;
    Cairn__ChannelList channels;
    Cairn__PeerList peers;
    Cairn__GossipHas gossip;
    Cairn__CacheGet cache_get;
    Cairn__ProvRoots roots;
    Cairn__ManifestList manifests;
    Cairn__LedgerList ledger;
    Cairn__SettlePending pending;
    Cairn__InfoRequest info;
    size_t n = 0;
    ca_request_content_put(&requests[n++], &put, 0, blob, sizeof blob, NULL, 0);
    ca_request_content_get(&requests[n++], &get, 0, hash, sizeof hash, false);
    ca_request_content_read(&requests[n++], &read, 0, stored, CA_SHA256_BYTES, 0, 16, false);
    ca_request_content_begin(&requests[n++], &begin, 0, NULL, 0);
    ca_request_content_stats(&requests[n++], &content_stats, 0);
    ca_request_message_store(&requests[n++], &store, 0, &message);
    ca_request_message_list(&requests[n++], &list, 0, "#fd", 10, 0, 0, 0, NULL);
    ca_request_message_stats(&requests[n++], &message_stats, 0);
    ca_request_config_set(&requests[n++], &set, 0, "fd.round", value);
    ca_request_config_get(&requests[n++], &config_get, 0, "fd.round", "");
    ca_request_channel_list(&requests[n++], &channels, 0);
    ca_request_peer_list(&requests[n++], &peers, 0, false, 0, 10, "");
    ca_request_gossip_has(&requests[n++], &gossip, 0, id);
    may_be_absent[n] = true;
    ca_request_cache_get(&requests[n++], &cache_get, 0, hash, sizeof hash, false);
    may_be_absent[n] = true;
    ca_request_prov_roots(&requests[n++], &roots, 0, hash, sizeof hash, 10);
    ca_request_manifest_list(&requests[n++], &manifests, 0, false, 0, NULL, 0, 0, 10, 0);
    ca_request_ledger_list(&requests[n++], &ledger, 0, 10, "");
    ca_request_settle_pending(&requests[n++], &pending, 0, "", 10);
    ca_request_info(&requests[n++], &info, 0);
    CHECK(n == sizeof requests / sizeof requests[0]);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        Cairn__Response *response = ca_caller_call(caller, &requests[i]);
        CHECK(response); //  answered, and the node is still there
        bool absent = may_be_absent[i] && response->status == CAIRN__STATUS__NOT_FOUND;
        if (response->status != CAIRN__STATUS__OK && !absent) {
            printf("  round %d, request kind %d: %s: %s\n", round, (int)requests[i].body_case,
                   ca_status_str((ca_status_t)response->status),
                   response->error ? response->error : "");
            CHECK(!strict);
            CHECK(response->status == CAIRN__STATUS__INTERNAL ||
                  response->status == CAIRN__STATUS__BUSY ||
                  response->status == CAIRN__STATUS__NOT_FOUND);
            CHECK(response->error && strlen(response->error) > 10);
            failed++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    return failed;
}

//  ---- tests ------------------------------------------------------------------

static void test_descriptor_exhaustion(void) {
    int room = s_own_fd_room();
    char limit[16];
    snprintf(limit, sizeof limit, "%d", NOFILE);
    setenv(HARNESS_NOFILE_ENV, limit, 1);
    //  A cap on connections above what the descriptors allow: this test is
    //  about running out anyway (max_clients_enforced tests the cap).
    const char *args[] = {"--workers=2", "--max-clients=100000", NULL};
    HARNESS_SESSION_UP(args);
    unsetenv(HARNESS_NOFILE_ENV);
    pid_t pid = harness_node_pid(node);
    Cairn__Request request;
    Cairn__ChannelCreate create;
    ca_request_channel_create(&request, &create, 0, "#fd", false, NULL);
    cairn__response__free_unpacked(
        ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_CHANNEL_CREATE), NULL);
    //  A blob to read while out of descriptors (its file cannot be opened).
    static const char text[] = "stored before the descriptors ran out";
    uint8_t stored[CA_SHA256_BYTES];
    ca_sha256(text, sizeof text - 1, stored);
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, 0, text, sizeof text - 1, NULL, 0);
    cairn__response__free_unpacked(
        ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_CONTENT_PUT), NULL);
    CHECK(s_open_fds(pid) > 0 && s_open_fds(pid) < NOFILE);

    //  Idle connections until the node holds every descriptor it may.
    int idle[IDLE_MAX], count = 0, most = room / 2 < IDLE_MAX ? room / 2 : IDLE_MAX;
    int64_t deadline = zclock_mono() + FILL_DEADLINE_MS;
    int port = s_port(node);
    while (count < most && zclock_mono() < deadline && s_open_fds(pid) < NOFILE) {
        int fd = s_idle_connection(port);
        if (fd < 0)
            break;
        idle[count++] = fd;
    }
    while (zclock_mono() < deadline && s_open_fds(pid) < NOFILE)
        zclock_sleep(10); //  polling /proc: the node accepts at its own pace
    printf("  %d idle connections; the node holds %d descriptors of %d\n", count, s_open_fds(pid),
           NOFILE);
    CHECK(s_open_fds(pid) == NOFILE);

    //  Out of descriptors: answered, never a crash. Twice, so that every
    //  worker of a pool meets a request.
    int refused = s_round(caller, 1, false, stored) + s_round(caller, 2, false, stored);
    printf("  %d requests refused while out of descriptors\n", refused);
    harness_expect_alive(client);

    //  The idle connections go: the node serves everything again.
    for (int i = 0; i < count; i++)
        close(idle[i]);
    deadline = zclock_mono() + DRAIN_MS;
    while (zclock_mono() < deadline && s_open_fds(pid) > NOFILE - 40)
        zclock_sleep(10);
    CHECK(s_open_fds(pid) <= NOFILE - 40);
    s_round(caller, 3, true, stored);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"descriptor_exhaustion", test_descriptor_exhaustion},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.hostile", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

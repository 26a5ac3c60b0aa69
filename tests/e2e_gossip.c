/*  =========================================================================
    e2e_gossip - black-box tests of the gossip seen-cache (GossipAdd,
    GossipHas, GossipClean) and of its periodic cleaning

        e2e-gossip TEST      runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir,
    talks to it only through its ZeroMQ endpoint, and stops it with SIGTERM,
    expecting exit status 0. Waits are polls with deadlines, never sleeps:
    between two polls the test waits on its own socket, where nothing may
    arrive unasked (which is checked).
    ========================================================================= */

#include "harness.h"
#include "gossip.h"
#include "ca_clock.h"
#include "ca_limits.h"
#include "ca_sql.h"

#include <stdio.h>
#include <string.h>

#define CALL_MS     5000
#define DEADLINE_MS 20000 //  for things that take ~1 s
#define POLL_MS     50

#define CHECK HARNESS_CHECK

static uint64_t s_next_id = 1;

//  Paces a poll: waits POLL_MS on the client socket, where nothing may
//  arrive since every request was answered.
static void s_pause(zsock_t *client) {
    Cairn__Response *unasked = harness_recv(client, POLL_MS);
    CHECK(unasked == NULL);
}

//  Rows of the gossip table of a stopped node, read from its database.
static int64_t s_rows_on_disk(harness_node_t *node) {
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_ONLY, NULL, &error);
    CHECK(sql);
    sqlite3_stmt *stmt = ca_sql_prepare(sql, "SELECT count(*) FROM gossip");
    CHECK(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    int64_t rows = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    zstr_free(&path);
    return rows;
}

//  GossipStats (no request builder: the request has no fields).
static const Cairn__GossipStatsReply *s_stats(ca_caller_t *caller, Cairn__Response **response_p) {
    Cairn__GossipStats stats = CAIRN__GOSSIP_STATS__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_GOSSIP_STATS;
    request.gossip_stats = &stats;
    *response_p = harness_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_GOSSIP_STATS);
    return (*response_p)->gossip_stats;
}

//  ---- tests ------------------------------------------------------------------

//  Info shows the gossip pool with what it served.
static void test_info(void) {
    HARNESS_SESSION_UP(NULL);
    gossip_fixture_add_expect(caller, "info-1", 0, true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "info-1", 0, false, CA_GOSSIP_DEFAULT_TTL);
    CHECK(gossip_fixture_present(caller, "info-1", NULL));
    harness_fails(gossip_fixture_add(caller, "bad id", 0), CAIRN__STATUS__INVALID, "message_id");
    CHECK(gossip_fixture_cleaned(caller, 0) == 0);
    Cairn__Response *response;
    const Cairn__ActorInfo *pool = harness_pool_info(client, "gossip", &response);
    CHECK(pool->workers == ca_default_workers() && pool->requests == 5 && pool->errors == 1);
    CHECK(pool->busy == 0 && pool->queue_depth == 0);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  New, then seen; has; the cache survives a restart.
static void test_add_has(void) {
    HARNESS_SESSION_UP(NULL);
    CHECK(!gossip_fixture_present(caller, "a1b2c3", NULL));
    gossip_fixture_add_expect(caller, "a1b2c3", 0, true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "a1b2c3", 0, false, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "a1b2c3", 2, false, 2);
    uint32_t ttl = 0;
    CHECK(gossip_fixture_present(caller, "a1b2c3", &ttl) && ttl == CA_GOSSIP_DEFAULT_TTL);
    CHECK(!gossip_fixture_present(caller, "A1B2C3", NULL)); //  ids are case-sensitive
    gossip_fixture_add_expect(caller, "550e8400-e29b-41d4-a716-446655440000", 3, true, 3);
    harness_session_restart(node, &client, &caller);
    CHECK(gossip_fixture_present(caller, "a1b2c3", NULL));
    CHECK(gossip_fixture_present(caller, "550e8400-e29b-41d4-a716-446655440000", &ttl) && ttl == 3);
    gossip_fixture_add_expect(caller, "a1b2c3", 0, false, CA_GOSSIP_DEFAULT_TTL);
    harness_session_down(&caller, &client, &node);
}

//  ttl: 0 means 5, 1..255 kept, 256 and more INVALID.
static void test_ttl(void) {
    HARNESS_SESSION_UP(NULL);
    const uint32_t ttls[] = {0, 1, 5, 254, 255};
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "ttl-%u", ttls[i]);
        uint32_t expected = ttls[i] ? ttls[i] : CA_GOSSIP_DEFAULT_TTL;
        gossip_fixture_add_expect(caller, id, ttls[i], true, expected);
        uint32_t stored = 0;
        CHECK(gossip_fixture_present(caller, id, &stored) && stored == expected);
    }
    harness_fails(gossip_fixture_add(caller, "ttl-256", 256), CAIRN__STATUS__INVALID, "ttl 256");
    harness_fails(gossip_fixture_add(caller, "ttl-big", 4000000000u), CAIRN__STATUS__INVALID,
                  "over 255 hops");
    CHECK(!gossip_fixture_present(caller, "ttl-256", NULL) &&
          !gossip_fixture_present(caller, "ttl-big", NULL));
    harness_session_down(&caller, &client, &node);
}

//  GossipClean removes entries older than max_age_s and only those; 0 is
//  the node's gossip_max_age_s (3600 s: nothing here is that old).
static void test_clean(void) {
    HARNESS_SESSION_UP(NULL);
    const char *old_ids[] = {"old-1", "old-2", "old-3"};
    for (size_t i = 0; i < 3; i++)
        gossip_fixture_add_expect(caller, old_ids[i], 0, true, CA_GOSSIP_DEFAULT_TTL);
    CHECK(gossip_fixture_cleaned(caller, 0) == 0);
    CHECK(gossip_fixture_cleaned(caller, 3600) == 0);
    //  Poll with max_age_s = 1 until the three have aged past it.
    uint64_t cleaned = 0;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (cleaned < 3 && zclock_mono() < deadline) {
        cleaned += gossip_fixture_cleaned(caller, 1);
        if (cleaned < 3)
            s_pause(client);
    }
    CHECK(cleaned == 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(!gossip_fixture_present(caller, old_ids[i], NULL));
    //  A fresh entry stays; a cleaned id is new again.
    gossip_fixture_add_expect(caller, "fresh", 0, true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "old-1", 7, true, 7);
    CHECK(gossip_fixture_cleaned(caller, 0) == 0 && gossip_fixture_cleaned(caller, 60) == 0);
    CHECK(gossip_fixture_present(caller, "fresh", NULL) &&
          gossip_fixture_present(caller, "old-1", NULL));
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    CHECK(s_rows_on_disk(node) == 2);
    harness_node_destroy(&node);
}

//  The pool's tick cleans by itself: with maintenance every 200 ms and a
//  maximum age of 1 s, an entry disappears without any GossipClean.
static void test_tick(void) {
    const char *args[] = {"--maintenance-ms=200", "--gossip-max-age-s=1", NULL};
    HARNESS_SESSION_UP(args);
    gossip_fixture_add_expect(caller, "tick-old", 9, true, 9);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    bool present = true;
    while (present && zclock_mono() < deadline) {
        present = gossip_fixture_present(caller, "tick-old", NULL);
        if (present)
            s_pause(client);
    }
    CHECK(!present);
    //  Gone from the table, not hidden: adding it again makes it new.
    gossip_fixture_add_expect(caller, "tick-old", 0, true, CA_GOSSIP_DEFAULT_TTL);
    CHECK(gossip_fixture_present(caller, "tick-old", NULL));
    harness_session_down(&caller, &client, &node);
}

//  How many times `needle` occurs in the node's log so far.
static int s_log_count(harness_node_t *node, const char *needle) {
    FILE *file = fopen(harness_node_log_path(node), "r");
    CHECK(file);
    int count = 0;
    char line[1024];
    while (fgets(line, sizeof line, file))
        count += strstr(line, needle) != NULL;
    fclose(file);
    return count;
}

//  Ticks clean only what is old: with ticks every 100 ms and the default
//  age (1 h), an entry outlives several ticks (counted in the debug log,
//  where each tick's write reports what it removed).
static void test_tick_keeps_fresh(void) {
    const char *args[] = {"--maintenance-ms=100", "--log-level=debug", NULL};
    HARNESS_SESSION_UP(args);
    const char *tick_done = "gossip[0]: upkeep write changed 0 rows";
    gossip_fixture_add_expect(caller, "keep-me", 0, true, CA_GOSSIP_DEFAULT_TTL);
    int ticks_before = s_log_count(node, tick_done);
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_log_count(node, tick_done) < ticks_before + 3 && zclock_mono() < deadline)
        s_pause(client);
    CHECK(s_log_count(node, tick_done) >= ticks_before + 3);
    CHECK(gossip_fixture_present(caller, "keep-me", NULL));
    CHECK(s_log_count(node, "upkeep write failed") == 0);
    harness_session_down(&caller, &client, &node);
}

//  Bad input to every request: INVALID with a message, nothing stored, the
//  node still answers.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    gossip_fixture_add_expect(caller, "good", 0, true, CA_GOSSIP_DEFAULT_TTL);
    char long_id[CA_GOSSIP_ID_MAX + 2];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    const char *bad_ids[] = {"",       long_id,       "has space",   " lead",
                             "trail ", "tab\tid",     "new\nline",   "\x01",
                             "\x7f",   "caf\xc3\xa9", "\xe2\x80\x8b"}; //  the last: a zero-width
                                                                       //  space
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        harness_fails(gossip_fixture_add(caller, bad_ids[i], 0), CAIRN__STATUS__INVALID,
                      "message_id");
        harness_fails(gossip_fixture_has(caller, bad_ids[i]), CAIRN__STATUS__INVALID,
                      "printable ASCII");
    }
    harness_fails(gossip_fixture_add(caller, "good-ttl", 256), CAIRN__STATUS__INVALID, "ttl");
    //  Wrong types on the wire: GossipAdd.message_id as a varint,
    //  GossipAdd.ttl as bytes, GossipClean.max_age_s as bytes; a NUL cut.
    const struct {
        const char *bytes;
        size_t size;
        const char *fragment;
    } frames[] = {
        {"\x08\x05\xa2\x1f\x02\x08\x01", 7, "protobuf"},
        {"\x08\x06\xa2\x1f\x03\x12\x01\x05", 8, "protobuf"},
        {"\x08\x07\xb2\x1f\x03\x0a\x01\x05", 8, "protobuf"},
        {"\x08\x08\xaa\x1f\x06\x0a\x04go\x00"
         "d",
         11, "NUL"},
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        zframe_t *frame = zframe_new(frames[i].bytes, frames[i].size);
        zframe_send(&frame, client, 0);
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response && response->id == 5 + i);
        harness_fails(response, CAIRN__STATUS__INVALID, frames[i].fragment);
    }
    harness_expect_alive(client);
    CHECK(gossip_fixture_present(caller, "good", NULL));
    CHECK(!gossip_fixture_present(caller, "good-ttl", NULL) &&
          !gossip_fixture_present(caller, "go", NULL));
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    CHECK(s_rows_on_disk(node) == 1); //  only "good"
    harness_node_destroy(&node);
}

//  The hot path under concurrency: the same id added many times at once
//  through both workers is added exactly once; distinct ids all are.
static void test_concurrent_add(void) {
    HARNESS_SESSION_UP(NULL);
    enum { SAME = 400, DISTINCT = 400 };
    uint64_t first = s_next_id;
    for (int i = 0; i < SAME + DISTINCT; i++) {
        char id[32];
        snprintf(id, sizeof id, "d-%d", i);
        Cairn__Request request;
        Cairn__GossipAdd add;
        ca_request_gossip_add(&request, &add, s_next_id++, i % 2 ? "same" : id, 0);
        CHECK(harness_send(client, &request) == 0);
    }
    static uint8_t answered[SAME + DISTINCT];
    memset(answered, 0, sizeof answered);
    int added_same = 0, added_distinct = 0;
    for (int received = 0; received < SAME + DISTINCT; received++) {
        Cairn__Response *response = harness_recv(client, 10000);
        CHECK(response && response->id >= first && response->id < first + SAME + DISTINCT);
        uint64_t index = response->id - first;
        CHECK(!answered[index]);
        answered[index] = 1;
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        if (response->gossip_add->added)
            *(index % 2 ? &added_same : &added_distinct) += 1;
        CHECK(response->gossip_add->seen == !response->gossip_add->added);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(harness_recv(client, 100) == NULL);
    CHECK(added_same == 1 && added_distinct == DISTINCT);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    CHECK(s_rows_on_disk(node) == DISTINCT + 1);
    harness_node_destroy(&node);
}

//  GossipStats: empty; three entries within the time they were added; a
//  second sighting adds none; the node's max age; the figures survive a
//  restart; a truncated frame of the kind is INVALID and the node serves on.
static void test_stats(void) {
    const char *args[] = {"--gossip-max-age-s=120", NULL};
    HARNESS_SESSION_UP(args);
    Cairn__Response *response;
    const Cairn__GossipStatsReply *stats = s_stats(caller, &response);
    CHECK(stats->entries == 0 && stats->oldest_seen_at == 0 && stats->newest_seen_at == 0);
    CHECK(stats->max_age_s == 120);
    cairn__response__free_unpacked(response, NULL);

    double before = ca_now_seconds();
    gossip_fixture_add_expect(caller, "stats-1", 0, true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "stats-2", 0, true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "stats-3", 7, true, 7);
    double after = ca_now_seconds();
    gossip_fixture_add_expect(caller, "stats-1", 0, false, CA_GOSSIP_DEFAULT_TTL);
    stats = s_stats(caller, &response);
    CHECK(stats->entries == 3);
    CHECK(before <= stats->oldest_seen_at && stats->oldest_seen_at <= stats->newest_seen_at &&
          stats->newest_seen_at <= after);
    double oldest = stats->oldest_seen_at, newest = stats->newest_seen_at;
    cairn__response__free_unpacked(response, NULL);

    harness_session_restart(node, &client, &caller);
    stats = s_stats(caller, &response);
    CHECK(stats->entries == 3 && stats->oldest_seen_at == oldest &&
          stats->newest_seen_at == newest);
    cairn__response__free_unpacked(response, NULL);

    //  Request id 9, then Request.gossip_stats (field 503) whose length
    //  runs 5 bytes past the end of the frame.
    zframe_t *frame = zframe_new("\x08\x09\xba\x1f\x05", 5);
    zframe_send(&frame, client, 0);
    response = harness_recv(client, CALL_MS);
    CHECK(response && response->id == 9);
    harness_fails(response, CAIRN__STATUS__INVALID, "protobuf");
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"add_has", test_add_has},
    {"ttl", test_ttl},
    {"clean", test_clean},
    {"tick", test_tick},
    {"tick_keeps_fresh", test_tick_keeps_fresh},
    {"bad_input", test_bad_input},
    {"concurrent_add", test_concurrent_add},
    {"info", test_info},
    {"stats", test_stats},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.gossip", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

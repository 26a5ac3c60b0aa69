/*  =========================================================================
    gossip - the seen-cache of gossiped message ids

    What it owns: the `gossip` table of messages_schema, one row per message id
    this node has seen in gossip (with the hop ttl it arrived with and when
    it was first seen). A node relays a gossiped message only when GossipAdd
    says it was new, so a message circulates once instead of forever.

    Requests: schemas/gossip.proto.

    Rules: message ids are 1..128 bytes of printable ASCII without spaces
    (0x21..0x7e): gossip ids are hashes, UUIDs or similar tokens, and a
    narrow alphabet keeps logs and tools safe. ttl 0 means 5 hops; at most
    255. Anything else is INVALID with a message naming the rule.

    GossipAdd is the hot path of gossip: one INSERT OR IGNORE and nothing
    else, so "new or seen?" is decided by the primary key inside the
    writer's transaction (two workers adding the same id at once: exactly
    one hears added). It reads nothing, so its answer's ttl is the one the
    request asked for; GossipHas gives the stored one.

    Bound: the table must not grow without limit. The pool's tick (worker
    0, every maintenance_ms) sends the writer a DELETE of entries older
    than gossip_max_age_s, the same statement as GossipClean; it walks the
    gossip_by_age index, so its cost follows the rows it removes. If the
    writer's queue is full the tick logs it and the next tick catches up.
    ========================================================================= */

#include "gossip.h"
#include "ca_clock.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "messages_schema.h"

#include <assert.h>
#include <string.h>

#define GOSSIP_ID_RULE "message ids are 1..128 bytes of printable ASCII without spaces"

//  Checks a message id; on failure the reply says what is wrong.
static bool s_id_ok(const char *message_id, ca_reply_t *reply) {
    const char *problem = NULL;
    size_t length = strnlen(message_id, CA_GOSSIP_ID_MAX + 1);
    if (length == 0)
        problem = "message_id is missing";
    else if (length > CA_GOSSIP_ID_MAX)
        problem = "message_id is longer than 128 bytes";
    for (size_t i = 0; i < length && !problem; i++)
        if ((unsigned char)message_id[i] < 0x21 || (unsigned char)message_id[i] > 0x7e)
            problem = "message_id has a space, control or non-ASCII character";
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s (%s)", problem, GOSSIP_ID_RULE);
    return problem == NULL;
}

static Cairn__GossipSeen *s_seen_new(ca_reply_t *reply, const char *message_id) {
    Cairn__GossipSeen *seen = (Cairn__GossipSeen *)ca_reply_alloc(reply, sizeof(*seen));
    cairn__gossip_seen__init(seen);
    seen->message_id = (char *)message_id; //  the request outlives the packing
    return seen;
}

//  The ttl a GossipAdd asks for, with the default applied.
static uint32_t s_ttl(const Cairn__GossipAdd *add) {
    return add->ttl ? add->ttl : CA_GOSSIP_DEFAULT_TTL;
}

//  A write deleting every entry first seen before `cutoff` (unix seconds).
static ca_write_t *s_clean_write(double cutoff) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM gossip WHERE seen_at < ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_real(write, cutoff);
    ca_write_frees_space(write);
    return write;
}

//  ---- handlers -------------------------------------------------------------------

const char gossip_sql_add[] =
    "INSERT OR IGNORE INTO gossip (message_id, ttl, seen_at) VALUES (?1, ?2, ?3)";

static void s_gossip_was_added(ca_reply_t *reply) {
    Cairn__GossipSeen *seen = ca_reply_response(reply)->gossip_add;
    seen->added = true;
    seen->seen = false;
}

static void s_gossip_add(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__GossipAdd *add = request->gossip_add;
    if (!s_id_ok(add->message_id, reply))
        return;
    if (add->ttl > CA_GOSSIP_MAX_TTL) {
        ca_reply_error(reply, CA_INVALID, "ttl %u is over %d hops; send 1..%d (0: the default %d)",
                       add->ttl, CA_GOSSIP_MAX_TTL, CA_GOSSIP_MAX_TTL, CA_GOSSIP_DEFAULT_TTL);
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, gossip_sql_add, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, add->message_id);
    ca_write_int(write, s_ttl(add));
    ca_write_real(write, ca_now_seconds());
    //  Both answers packed now; the writer sends the gateway "added" when
    //  the insert changed its row, "seen" otherwise.
    Cairn__GossipSeen *seen = s_seen_new(reply, add->message_id);
    seen->seen = true;
    seen->ttl = s_ttl(add);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_GOSSIP_ADD;
    response->gossip_add = seen;
    ca_store_write_answered(store, &write, reply, 0, s_gossip_was_added);
}

static void s_gossip_has(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *message_id = request->gossip_has->message_id;
    if (!s_id_ok(message_id, reply))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT ttl FROM gossip WHERE message_id = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, message_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        Cairn__GossipSeen *seen = s_seen_new(reply, message_id);
        seen->seen = rc == SQLITE_ROW;
        seen->ttl = seen->seen ? (uint32_t)sqlite3_column_int64(stmt, 0) : 0;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_GOSSIP_HAS;
        response->gossip_has = seen;
    } else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the gossip cache: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
}

static void s_gossip_clean(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    uint32_t max_age_s = request->gossip_clean->max_age_s;
    double max_age =
        max_age_s ? (double)max_age_s : (double)ca_store_settings(store)->gossip_max_age_s;
    ca_write_t *write = s_clean_write(ca_now_seconds() - max_age);
    ca_store_write(store, &write, reply);
}

static void s_gossip_cleaned(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results != 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the delete's result; retry");
        return;
    }
    Cairn__Deleted *deleted = (Cairn__Deleted *)ca_reply_alloc(reply, sizeof(Cairn__Deleted));
    cairn__deleted__init(deleted);
    deleted->count = write->results[0]->changes;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_GOSSIP_CLEAN;
    response->gossip_clean = deleted;
}

static void s_gossip_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT count(*), coalesce(min(seen_at), 0), "
                                          "coalesce(max(seen_at), 0) FROM gossip",
                                          reply);
    if (!stmt)
        return;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__GossipStatsReply *stats =
            (Cairn__GossipStatsReply *)ca_reply_alloc(reply, sizeof(Cairn__GossipStatsReply));
        cairn__gossip_stats_reply__init(stats);
        stats->entries = (uint64_t)sqlite3_column_int64(stmt, 0);
        stats->oldest_seen_at = sqlite3_column_double(stmt, 1);
        stats->newest_seen_at = sqlite3_column_double(stmt, 2);
        stats->max_age_s = (uint32_t)ca_store_settings(store)->gossip_max_age_s;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_GOSSIP_STATS;
        response->gossip_stats = stats;
    } else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the gossip cache: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
}

//  Periodic upkeep: drop entries older than gossip_max_age_s.
static void s_gossip_tick(ca_store_t *store) {
    ca_write_t *write =
        s_clean_write(ca_now_seconds() - (double)ca_store_settings(store)->gossip_max_age_s);
    if (ca_store_write_internal(store, &write) != 0)
        ca_log_warning("gossip: the writer's queue is full; cleaning waits for the next tick");
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_GOSSIP_ADD, "gossip_add", s_gossip_add, NULL, 0},
    {CAIRN__REQUEST__BODY_GOSSIP_HAS, "gossip_has", s_gossip_has, NULL, 0},
    {CAIRN__REQUEST__BODY_GOSSIP_CLEAN, "gossip_clean", s_gossip_clean, s_gossip_cleaned, 0},
    {CAIRN__REQUEST__BODY_GOSSIP_STATS, "gossip_stats", s_gossip_stats, NULL, 0},
};

const ca_store_def_t gossip_store_def = {
    .name = "gossip",
    .schema = &messages_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .tick = s_gossip_tick,
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

//  ---- fixtures: the requests of this self-test and of tests/e2e_gossip.c -----------

Cairn__Response *gossip_fixture_add(ca_caller_t *caller, const char *message_id, uint32_t ttl) {
    Cairn__Request request;
    Cairn__GossipAdd add;
    ca_request_gossip_add(&request, &add, 0, message_id, ttl);
    return ca_caller_call(caller, &request);
}

Cairn__Response *gossip_fixture_has(ca_caller_t *caller, const char *message_id) {
    Cairn__Request request;
    Cairn__GossipHas has;
    ca_request_gossip_has(&request, &has, 0, message_id);
    return ca_caller_call(caller, &request);
}

Cairn__Response *gossip_fixture_clean(ca_caller_t *caller, uint32_t max_age_s) {
    Cairn__Request request;
    Cairn__GossipClean clean;
    ca_request_gossip_clean(&request, &clean, 0, max_age_s);
    return ca_caller_call(caller, &request);
}

void gossip_fixture_add_expect(ca_caller_t *caller, const char *message_id, uint32_t ttl,
                               bool added, uint32_t answered_ttl) {
    Cairn__Response *response = ca_response_ok(gossip_fixture_add(caller, message_id, ttl),
                                               CAIRN__RESPONSE__BODY_GOSSIP_ADD);
    const Cairn__GossipSeen *seen = response->gossip_add;
    CA_CHECK(streq(seen->message_id, message_id));
    CA_CHECK(seen->added == added && seen->seen == !added && seen->ttl == answered_ttl);
    cairn__response__free_unpacked(response, NULL);
}

bool gossip_fixture_present(ca_caller_t *caller, const char *message_id, uint32_t *ttl) {
    Cairn__Response *response =
        ca_response_ok(gossip_fixture_has(caller, message_id), CAIRN__RESPONSE__BODY_GOSSIP_HAS);
    const Cairn__GossipSeen *seen = response->gossip_has;
    CA_CHECK(streq(seen->message_id, message_id) && !seen->added);
    bool present = seen->seen;
    if (ttl)
        *ttl = seen->ttl;
    cairn__response__free_unpacked(response, NULL);
    return present;
}

uint64_t gossip_fixture_cleaned(ca_caller_t *caller, uint32_t max_age_s) {
    Cairn__Response *response =
        ca_response_ok(gossip_fixture_clean(caller, max_age_s), CAIRN__RESPONSE__BODY_GOSSIP_CLEAN);
    uint64_t count = response->gossip_clean->count;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

//  ---- the self-test ------------------------------------------------------------------

//  GossipHas: present (with `ttl`) or absent.
static void s_has_expect(ca_caller_t *caller, const char *message_id, bool present, uint32_t ttl) {
    uint32_t got = UINT32_MAX;
    assert(gossip_fixture_present(caller, message_id, &got) == present);
    assert(got == (present ? ttl : 0));
}

//  Moves the first sighting of `message_id` `seconds` into the past, as if
//  it had been seen that long ago (a second connection to the testbed's
//  database; the writer's lock is waited for by the busy timeout).
static void s_backdate(ca_caller_t *caller, const char *message_id, double seconds) {
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(ca_caller_testbed(caller)), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    sqlite3_stmt *stmt =
        ca_sql_prepare(sql, "UPDATE gossip SET seen_at = seen_at - ?2 WHERE message_id = ?1");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(stmt, 2, seconds);
    assert(sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(ca_sql_handle(sql)) == 1);
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    zstr_free(&path);
}

void gossip_test(bool verbose) {
    if (verbose)
        printf(" * gossip: ");
    ca_testbed_t *bed = ca_testbed_new(&gossip_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);

    //  New, then seen; the first ttl stays.
    s_has_expect(caller, "msg-1", false, 0);
    gossip_fixture_add_expect(caller, "msg-1", 0, true, CA_GOSSIP_DEFAULT_TTL);
    s_has_expect(caller, "msg-1", true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "msg-1", 9, false, 9);
    s_has_expect(caller, "msg-1", true, CA_GOSSIP_DEFAULT_TTL);
    gossip_fixture_add_expect(caller, "msg-2", 1, true, 1);
    gossip_fixture_add_expect(caller, "msg-3", CA_GOSSIP_MAX_TTL, true, CA_GOSSIP_MAX_TTL);
    s_has_expect(caller, "msg-3", true, CA_GOSSIP_MAX_TTL);
    //  Ids: the whole printable range, up to 128 bytes, case-sensitive.
    gossip_fixture_add_expect(caller, "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~", 0, true, 5);
    gossip_fixture_add_expect(caller, "MSG-1", 0, true, 5);
    char id[CA_GOSSIP_ID_MAX + 2];
    memset(id, 'g', sizeof id - 1);
    id[sizeof id - 1] = 0;
    ca_response_fails(gossip_fixture_add(caller, id, 0), CAIRN__STATUS__INVALID,
                      "longer than 128 bytes");
    ca_response_fails(gossip_fixture_has(caller, id), CAIRN__STATUS__INVALID,
                      "longer than 128 bytes");
    id[CA_GOSSIP_ID_MAX] = 0;
    gossip_fixture_add_expect(caller, id, 0, true, 5);
    s_has_expect(caller, id, true, 5);

    //  Bad input: INVALID, nothing stored.
    const char *bad_ids[] = {"", "with space", "tab\there", "new\nline", "caf\xc3\xa9", "\x7f"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        ca_response_fails(gossip_fixture_add(caller, bad_ids[i], 0), CAIRN__STATUS__INVALID,
                          "message_id");
        ca_response_fails(gossip_fixture_has(caller, bad_ids[i]), CAIRN__STATUS__INVALID,
                          "printable ASCII");
    }
    ca_response_fails(gossip_fixture_add(caller, "msg-4", CA_GOSSIP_MAX_TTL + 1),
                      CAIRN__STATUS__INVALID, "ttl 256");
    ca_response_fails(gossip_fixture_add(caller, "msg-4", UINT32_MAX), CAIRN__STATUS__INVALID,
                      "ttl");
    s_has_expect(caller, "msg-4", false, 0);
    s_has_expect(caller, "with", false, 0);

    //  Clean: nothing is old yet; entries seen two hours ago go, and only
    //  they. 0 means the node's gossip_max_age_s (one hour in the testbed).
    assert(gossip_fixture_cleaned(caller, 0) == 0);
    s_backdate(caller, "msg-1", 7200);
    s_backdate(caller, "msg-2", 7200);
    s_backdate(caller, "msg-3", 600);
    assert(gossip_fixture_cleaned(caller, 86400) == 0);
    assert(gossip_fixture_cleaned(caller, 0) == 2);
    s_has_expect(caller, "msg-1", false, 0);
    s_has_expect(caller, "msg-2", false, 0);
    s_has_expect(caller, "msg-3", true, CA_GOSSIP_MAX_TTL);
    assert(gossip_fixture_cleaned(caller, 0) == 0);
    assert(gossip_fixture_cleaned(caller, 300) == 1);
    s_has_expect(caller, "msg-3", false, 0);
    //  A cleaned id is new again.
    gossip_fixture_add_expect(caller, "msg-1", 3, true, 3);
    s_has_expect(caller, "msg-1", true, 3);

    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

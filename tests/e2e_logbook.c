/*  =========================================================================
    e2e_logbook - black-box tests of the logbook store: topics, cursors,
    groups and the address book (schemas/logbook.proto)

        e2e-logbook TEST      runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir,
    talks to it only through its ZeroMQ endpoint, and stops it with SIGTERM,
    expecting exit status 0. Concurrent writers are several connections
    whose requests are all sent before any answer is read.
    ========================================================================= */

#include "harness.h"
#include "logbook.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK HARNESS_CHECK
#define KEY   CA_LOGBOOK_KEY_BYTES

//  A 32-byte id: `fill` everywhere but the last two bytes, which hold `n`
//  big-endian (so ids sort by n).
typedef struct {
    uint8_t bytes[KEY];
} id_t32;

static id_t32 s_key(uint8_t fill, uint16_t n) {
    id_t32 key;
    memset(key.bytes, fill, KEY);
    key.bytes[KEY - 2] = (uint8_t)(n >> 8);
    key.bytes[KEY - 1] = (uint8_t)n;
    return key;
}

static ProtobufCBinaryData s_bin(const id_t32 *key) {
    return (ProtobufCBinaryData){KEY, (uint8_t *)key->bytes};
}

static Cairn__LogbookLog s_log(const id_t32 *author, uint64_t log_id) {
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = s_bin(author);
    log.log_id = log_id;
    return log;
}

static bool s_same(ProtobufCBinaryData bytes, const id_t32 *key) {
    return bytes.len == KEY && memcmp(bytes.data, key->bytes, KEY) == 0;
}

//  ---- requests ---------------------------------------------------------------------

//  Sends a request of kind `kind` whose body is `body` (every member of the
//  body oneof is a pointer at the same place) and returns its answer.
static Cairn__Response *s_call(zsock_t *client, Cairn__Request__BodyCase kind, void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = kind;
    request.topic_associate = body;
    return harness_request(client, &request);
}

static Cairn__Response *s_topic_associate(zsock_t *client, ProtobufCBinaryData topic,
                                          Cairn__LogbookLog *log) {
    Cairn__TopicAssociate body = CAIRN__TOPIC_ASSOCIATE__INIT;
    body.topic = topic;
    body.log = log;
    return s_call(client, CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE, &body);
}

static Cairn__Response *s_topic_remove(zsock_t *client, ProtobufCBinaryData topic,
                                       Cairn__LogbookLog *log) {
    Cairn__TopicRemove body = CAIRN__TOPIC_REMOVE__INIT;
    body.topic = topic;
    body.log = log;
    return s_call(client, CAIRN__REQUEST__BODY_TOPIC_REMOVE, &body);
}

static Cairn__Response *s_topic_resolve(zsock_t *client, ProtobufCBinaryData topic, uint32_t limit,
                                        Cairn__LogbookLog *after) {
    Cairn__TopicResolve body = CAIRN__TOPIC_RESOLVE__INIT;
    body.topic = topic;
    body.limit = limit;
    body.after = after;
    return s_call(client, CAIRN__REQUEST__BODY_TOPIC_RESOLVE, &body);
}

static void s_cursor_set_request(Cairn__Request *request, Cairn__CursorSet *body, const char *name,
                                 Cairn__LogbookLog *log, uint64_t seq, bool force) {
    cairn__cursor_set__init(body);
    body->name = (char *)name;
    body->log = log;
    body->seq = seq;
    body->force = force;
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_CURSOR_SET;
    request->cursor_set = body;
}

static Cairn__Response *s_cursor_set(zsock_t *client, const char *name, Cairn__LogbookLog *log,
                                     uint64_t seq, bool force) {
    Cairn__CursorSet body;
    Cairn__Request request;
    s_cursor_set_request(&request, &body, name, log, seq, force);
    return harness_request(client, &request);
}

static Cairn__Response *s_cursor_get(zsock_t *client, const char *name, Cairn__LogbookLog *log) {
    Cairn__CursorGet body = CAIRN__CURSOR_GET__INIT;
    body.name = (char *)name;
    body.log = log;
    return s_call(client, CAIRN__REQUEST__BODY_CURSOR_GET, &body);
}

static Cairn__Response *s_cursor_delete(zsock_t *client, const char *name, Cairn__LogbookLog *log) {
    Cairn__CursorDelete body = CAIRN__CURSOR_DELETE__INIT;
    body.name = (char *)name;
    body.log = log;
    return s_call(client, CAIRN__REQUEST__BODY_CURSOR_DELETE, &body);
}

//  The cursor's seq, or -1 when it has no position.
static int64_t s_cursor_at(zsock_t *client, const char *name, Cairn__LogbookLog *log) {
    Cairn__Response *response = s_cursor_get(client, name, log);
    if (response->status == CAIRN__STATUS__NOT_FOUND) {
        cairn__response__free_unpacked(response, NULL);
        return -1;
    }
    harness_ok(response, CAIRN__RESPONSE__BODY_CURSOR_GET);
    int64_t seq = (int64_t)response->cursor_get->seq;
    CHECK(streq(response->cursor_get->name, name));
    cairn__response__free_unpacked(response, NULL);
    return seq;
}

static void s_group_put_request(Cairn__Request *request, Cairn__GroupPut *body, const id_t32 *id,
                                uint64_t version, const void *state, size_t size) {
    cairn__group_put__init(body);
    body->group_id = s_bin(id);
    body->version = version;
    body->state = (ProtobufCBinaryData){size, (uint8_t *)state};
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_GROUP_PUT;
    request->group_put = body;
}

static Cairn__Response *s_group_put(zsock_t *client, const id_t32 *id, uint64_t version,
                                    const char *state) {
    Cairn__GroupPut body;
    Cairn__Request request;
    s_group_put_request(&request, &body, id, version, state, strlen(state));
    return harness_request(client, &request);
}

//  A put that must succeed and reach version + 1.
static void s_group_put_ok(zsock_t *client, const id_t32 *id, uint64_t version, const char *state) {
    Cairn__Response *response =
        harness_ok(s_group_put(client, id, version, state), CAIRN__RESPONSE__BODY_GROUP_PUT);
    CHECK(response->group_put->version == version + 1);
    CHECK(s_same(response->group_put->group_id, id));
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_group_get(zsock_t *client, ProtobufCBinaryData id) {
    Cairn__GroupGet body = CAIRN__GROUP_GET__INIT;
    body.group_id = id;
    return s_call(client, CAIRN__REQUEST__BODY_GROUP_GET, &body);
}

//  The group must be at `version` with `state`.
static void s_group_is(zsock_t *client, const id_t32 *id, uint64_t version, const char *state) {
    Cairn__Response *response =
        harness_ok(s_group_get(client, s_bin(id)), CAIRN__RESPONSE__BODY_GROUP_GET);
    const Cairn__GroupState *group = response->group_get;
    CHECK(group->version == version && group->state.len == strlen(state));
    CHECK(!group->state.len || memcmp(group->state.data, state, group->state.len) == 0);
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_group_delete(zsock_t *client, ProtobufCBinaryData id, uint64_t version) {
    Cairn__GroupDelete body = CAIRN__GROUP_DELETE__INIT;
    body.group_id = id;
    body.version = version;
    return s_call(client, CAIRN__REQUEST__BODY_GROUP_DELETE, &body);
}

static Cairn__Response *s_book_put_info(zsock_t *client, Cairn__BookNodeInfo *info) {
    Cairn__BookPut body = CAIRN__BOOK_PUT__INIT;
    body.node = info;
    return s_call(client, CAIRN__REQUEST__BODY_BOOK_PUT, &body);
}

//  Puts node `id` with one address ("tcp://node-<address>:1"), the given
//  topics; answers whether it was stored.
static bool s_book_put(zsock_t *client, const id_t32 *id, uint64_t timestamp, bool bootstrap,
                       int address, const id_t32 *topics, size_t topic_count) {
    char text[64];
    snprintf(text, sizeof text, "tcp://node-%d:1", address);
    char *addresses[] = {text};
    ProtobufCBinaryData topic_list[8];
    CHECK(topic_count <= 8);
    for (size_t i = 0; i < topic_count; i++)
        topic_list[i] = s_bin(&topics[i]);
    Cairn__BookNodeInfo info = CAIRN__BOOK_NODE_INFO__INIT;
    info.node_id = s_bin(id);
    info.timestamp = timestamp;
    info.bootstrap = bootstrap;
    info.addresses = addresses;
    info.n_addresses = 1;
    info.topics = topic_list;
    info.n_topics = topic_count;
    Cairn__Response *response =
        harness_ok(s_book_put_info(client, &info), CAIRN__RESPONSE__BODY_BOOK_PUT);
    bool stored = response->book_put->stored;
    CHECK(response->book_put->kept_newer == !stored);
    cairn__response__free_unpacked(response, NULL);
    return stored;
}

static Cairn__Response *s_book_remove(zsock_t *client, ProtobufCBinaryData id) {
    Cairn__BookRemove body = CAIRN__BOOK_REMOVE__INIT;
    body.node_id = id;
    return s_call(client, CAIRN__REQUEST__BODY_BOOK_REMOVE, &body);
}

static Cairn__Response *s_book_remove_older(zsock_t *client, uint64_t before) {
    Cairn__BookRemoveOlder body = CAIRN__BOOK_REMOVE_OLDER__INIT;
    body.before = before;
    return s_call(client, CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER, &body);
}

static Cairn__Response *s_book_list(zsock_t *client, ProtobufCBinaryData topic, bool bootstrap,
                                    uint32_t limit, ProtobufCBinaryData after) {
    Cairn__BookList body = CAIRN__BOOK_LIST__INIT;
    body.topic = topic;
    body.bootstrap_only = bootstrap;
    body.limit = limit;
    body.after = after;
    return s_call(client, CAIRN__REQUEST__BODY_BOOK_LIST, &body);
}

static Cairn__Response *s_book_random(zsock_t *client, bool bootstrap) {
    Cairn__BookRandom body = CAIRN__BOOK_RANDOM__INIT;
    body.bootstrap = bootstrap;
    return s_call(client, CAIRN__REQUEST__BODY_BOOK_RANDOM, &body);
}

static void s_book_counts_are(zsock_t *client, uint64_t nodes, uint64_t bootstrap,
                              uint64_t topics) {
    Cairn__BookCounts body = CAIRN__BOOK_COUNTS__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_BOOK_COUNTS;
    request.book_counts = &body;
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_BOOK_COUNTS);
    const Cairn__BookCountsReply *counts = response->book_counts;
    CHECK(counts->nodes == nodes && counts->bootstrap_nodes == bootstrap &&
          counts->topics == topics);
    cairn__response__free_unpacked(response, NULL);
}

//  An answer that must be OK with `body_case`; freed.
static void s_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    harness_ok(response, body_case);
    cairn__response__free_unpacked(response, NULL);
}

//  The count of a Deleted answer that must be OK.
static uint64_t s_deleted(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    harness_ok(response, body_case);
    uint64_t count = response->cursor_delete->count; //  every Deleted is at the same place
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static bool s_changed(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    harness_ok(response, body_case);
    bool changed = response->topic_associate->changed;
    cairn__response__free_unpacked(response, NULL);
    return changed;
}

//  Walks every page of BookList (limit 0: the default page) and returns
//  the number of nodes seen, checking that ids ascend and, with
//  `bootstrap`, that each is a bootstrap node; *pages counts the pages.
static size_t s_book_walk(zsock_t *client, ProtobufCBinaryData topic, bool bootstrap,
                          size_t *pages) {
    size_t seen = 0;
    *pages = 0;
    id_t32 last;
    ProtobufCBinaryData after = {0, NULL};
    for (bool more = true; more;) {
        CHECK(*pages < 100);
        Cairn__Response *response = harness_ok(s_book_list(client, topic, bootstrap, 0, after),
                                               CAIRN__RESPONSE__BODY_BOOK_LIST);
        const Cairn__BookPage *page = response->book_list;
        CHECK(page->n_nodes <= CA_LOGBOOK_PAGE_DEFAULT);
        for (size_t i = 0; i < page->n_nodes; i++) {
            const Cairn__BookNodeInfo *node = page->nodes[i];
            CHECK(node->node_id.len == KEY);
            CHECK(!after.len || memcmp(node->node_id.data, last.bytes, KEY) > 0);
            CHECK(!bootstrap || node->bootstrap);
            memcpy(last.bytes, node->node_id.data, KEY);
            after = s_bin(&last);
        }
        seen += page->n_nodes;
        more = page->more;
        CHECK(!more || page->n_nodes == CA_LOGBOOK_PAGE_DEFAULT);
        (*pages)++;
        cairn__response__free_unpacked(response, NULL);
    }
    return seen;
}

//  ---- tests ---------------------------------------------------------------------------

//  Associate (twice: no change), resolve, remove (twice: NOT_FOUND); an
//  unknown topic resolves to nothing; topics survive a restart.
static void test_topics(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 topic = s_key(0x70, 1), other = s_key(0x70, 2), author = s_key(0xa1, 0);
    Cairn__LogbookLog log1 = s_log(&author, 1), log2 = s_log(&author, 2);
    CHECK(s_changed(s_topic_associate(client, s_bin(&topic), &log1),
                    CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE));
    CHECK(!s_changed(s_topic_associate(client, s_bin(&topic), &log1),
                     CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE));
    CHECK(s_changed(s_topic_associate(client, s_bin(&topic), &log2),
                    CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE));
    CHECK(s_changed(s_topic_associate(client, s_bin(&other), &log2),
                    CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE));
    harness_session_restart(node, &client, &caller);
    Cairn__Response *response = harness_ok(s_topic_resolve(client, s_bin(&topic), 0, NULL),
                                           CAIRN__RESPONSE__BODY_TOPIC_RESOLVE);
    const Cairn__TopicLogs *logs = response->topic_resolve;
    CHECK(logs->n_logs == 2 && !logs->more);
    CHECK(s_same(logs->logs[0]->author, &author) && logs->logs[0]->log_id == 1);
    CHECK(s_same(logs->logs[1]->author, &author) && logs->logs[1]->log_id == 2);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_changed(s_topic_remove(client, s_bin(&topic), &log1),
                    CAIRN__RESPONSE__BODY_TOPIC_REMOVE));
    harness_fails(s_topic_remove(client, s_bin(&topic), &log1), CAIRN__STATUS__NOT_FOUND,
                  "not associated");
    response = harness_ok(s_topic_resolve(client, s_bin(&topic), 0, NULL),
                          CAIRN__RESPONSE__BODY_TOPIC_RESOLVE);
    CHECK(response->topic_resolve->n_logs == 1 && response->topic_resolve->logs[0]->log_id == 2);
    cairn__response__free_unpacked(response, NULL);
    id_t32 unknown = s_key(0x71, 0);
    response = harness_ok(s_topic_resolve(client, s_bin(&unknown), 0, NULL),
                          CAIRN__RESPONSE__BODY_TOPIC_RESOLVE);
    CHECK(response->topic_resolve->n_logs == 0 && !response->topic_resolve->more);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  250 logs (pipelined) resolve in three pages of the default 100, in
//  order, each once; a smaller limit pages too; log ids above 2^63 work.
static void test_topic_pages(void) {
    HARNESS_SESSION_UP(NULL);
    enum { LOGS = 250 };
    id_t32 topic = s_key(0x72, 0);
    id_t32 authors[5];
    for (int i = 0; i < 5; i++)
        authors[i] = s_key(0xb0, (uint16_t)i);
    for (int i = 0; i < LOGS; i++) {
        Cairn__LogbookLog log =
            s_log(&authors[i % 5], (uint64_t)(i / 5) + (i % 2 ? 0 : 1ULL << 63));
        Cairn__TopicAssociate body = CAIRN__TOPIC_ASSOCIATE__INIT;
        body.topic = s_bin(&topic);
        body.log = &log;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.id = 1000 + (uint64_t)i;
        request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
        request.topic_associate = &body;
        CHECK(harness_send(client, &request) == 0);
    }
    for (int i = 0; i < LOGS; i++) {
        Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
        CHECK(response && response->id >= 1000 && response->id < 1000 + LOGS);
        CHECK(s_changed(response, CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE));
    }
    const uint32_t limits[] = {0, 7};
    for (size_t l = 0; l < 2; l++) {
        size_t seen = 0, pages = 0;
        Cairn__LogbookLog last = CAIRN__LOGBOOK_LOG__INIT;
        id_t32 last_author;
        bool more = true;
        while (more) {
            CHECK(pages++ < 100);
            Cairn__Response *response =
                harness_ok(s_topic_resolve(client, s_bin(&topic), limits[l], seen ? &last : NULL),
                           CAIRN__RESPONSE__BODY_TOPIC_RESOLVE);
            const Cairn__TopicLogs *page = response->topic_resolve;
            size_t full = limits[l] ? limits[l] : CA_LOGBOOK_PAGE_DEFAULT;
            CHECK(page->more ? page->n_logs == full : page->n_logs <= full);
            for (size_t i = 0; i < page->n_logs; i++) {
                const Cairn__LogbookLog *log = page->logs[i];
                CHECK(log->author.len == KEY);
                int order = seen ? memcmp(log->author.data, last_author.bytes, KEY) : 1;
                CHECK(order > 0 || (order == 0 && (int64_t)log->log_id > (int64_t)last.log_id));
                memcpy(last_author.bytes, log->author.data, KEY);
                last = s_log(&last_author, log->log_id);
                seen++;
            }
            more = page->more;
            cairn__response__free_unpacked(response, NULL);
        }
        CHECK(seen == LOGS);
        CHECK(pages == (limits[l] ? (LOGS + 6) / 7 : 3));
    }
    harness_session_down(&caller, &client, &node);
}

//  Forward only: a lower seq is CONFLICT and changes nothing; the same seq
//  is accepted; force moves back; per log; delete one log or all.
static void test_cursors(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 author = s_key(0xc1, 0);
    Cairn__LogbookLog log1 = s_log(&author, 1), log2 = s_log(&author, 2);
    CHECK(s_cursor_at(client, "reader", &log1) == -1);
    harness_fails(s_cursor_get(client, "reader", &log1), CAIRN__STATUS__NOT_FOUND,
                  "no position in this log");
    s_ok(s_cursor_set(client, "reader", &log1, 10, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    CHECK(s_cursor_at(client, "reader", &log1) == 10);
    harness_fails(s_cursor_set(client, "reader", &log1, 9, false), CAIRN__STATUS__CONFLICT,
                  "moves only forward");
    harness_fails(s_cursor_set(client, "reader", &log1, 0, false), CAIRN__STATUS__CONFLICT,
                  "set with force");
    CHECK(s_cursor_at(client, "reader", &log1) == 10);
    Cairn__Response *response = harness_ok(s_cursor_set(client, "reader", &log1, 10, false),
                                           CAIRN__RESPONSE__BODY_CURSOR_SET);
    CHECK(response->cursor_set->seq == 10 && streq(response->cursor_set->name, "reader"));
    cairn__response__free_unpacked(response, NULL);
    s_ok(s_cursor_set(client, "reader", &log1, 11, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    s_ok(s_cursor_set(client, "reader", &log1, 3, true), CAIRN__RESPONSE__BODY_CURSOR_SET);
    CHECK(s_cursor_at(client, "reader", &log1) == 3);
    //  Other logs and other names are independent; names are case-sensitive.
    s_ok(s_cursor_set(client, "reader", &log2, 0, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    s_ok(s_cursor_set(client, "Reader", &log1, 100, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    s_ok(s_cursor_set(client, "reader", &log1, INT64_MAX, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    CHECK(s_cursor_at(client, "reader", &log2) == 0 && s_cursor_at(client, "Reader", &log1) == 100);
    CHECK(s_cursor_at(client, "reader", &log1) == INT64_MAX);
    harness_session_restart(node, &client, &caller);
    CHECK(s_cursor_at(client, "reader", &log1) == INT64_MAX);
    //  Delete one log's position, then the rest of the cursor.
    CHECK(s_deleted(s_cursor_delete(client, "reader", &log1),
                    CAIRN__RESPONSE__BODY_CURSOR_DELETE) == 1);
    harness_fails(s_cursor_delete(client, "reader", &log1), CAIRN__STATUS__NOT_FOUND,
                  "no position in this log");
    CHECK(s_cursor_at(client, "reader", &log2) == 0);
    s_ok(s_cursor_set(client, "reader", &log1, 1, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    CHECK(s_deleted(s_cursor_delete(client, "reader", NULL), CAIRN__RESPONSE__BODY_CURSOR_DELETE) ==
          2);
    harness_fails(s_cursor_delete(client, "reader", NULL), CAIRN__STATUS__NOT_FOUND,
                  "no cursor of this name");
    CHECK(s_cursor_at(client, "reader", &log2) == -1 &&
          s_cursor_at(client, "Reader", &log1) == 100);
    harness_session_down(&caller, &client, &node);
}

//  One connection pipelines 300 forward sets: all succeed, in order (the
//  store commits one connection's writes in the order sent), and the
//  cursor ends at the last.
static void test_cursor_pipelined(void) {
    HARNESS_SESSION_UP(NULL);
    enum { SETS = 300 };
    id_t32 author = s_key(0xc2, 0);
    Cairn__LogbookLog log = s_log(&author, 7);
    for (int i = 0; i < SETS; i++) {
        Cairn__CursorSet body;
        Cairn__Request request;
        s_cursor_set_request(&request, &body, "tail", &log, (uint64_t)i + 1, false);
        request.id = 5000 + (uint64_t)i;
        CHECK(harness_send(client, &request) == 0);
    }
    for (int i = 0; i < SETS; i++) {
        Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
        CHECK(response && response->id >= 5000 && response->id < 5000 + SETS);
        harness_ok(response, CAIRN__RESPONSE__BODY_CURSOR_SET);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(s_cursor_at(client, "tail", &log) == SETS);
    harness_session_down(&caller, &client, &node);
}

//  Versions: 0 creates (twice: CONFLICT), N replaces N (stale: CONFLICT,
//  nothing changes), unknown: NOT_FOUND; delete at a version or any.
static void test_groups(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 group = s_key(0xd1, 0), missing = s_key(0xd1, 1);
    harness_fails(s_group_get(client, s_bin(&group)), CAIRN__STATUS__NOT_FOUND, "no group");
    s_group_put_ok(client, &group, 0, "first");
    s_group_is(client, &group, 1, "first");
    harness_fails(s_group_put(client, &group, 0, "again"), CAIRN__STATUS__CONFLICT,
                  "exists already");
    s_group_put_ok(client, &group, 1, "second");
    harness_fails(s_group_put(client, &group, 1, "stale"), CAIRN__STATUS__CONFLICT,
                  "no longer at version 1");
    harness_fails(s_group_put(client, &group, 7, "ahead"), CAIRN__STATUS__CONFLICT,
                  "no longer at version 7");
    s_group_is(client, &group, 2, "second");
    harness_fails(s_group_put(client, &missing, 1, "x"), CAIRN__STATUS__NOT_FOUND, "version 0");
    //  Empty state and the largest state.
    s_group_put_ok(client, &group, 2, "");
    s_group_is(client, &group, 3, "");
    char *big = malloc(CA_LOGBOOK_STATE_MAX + 1);
    CHECK(big);
    memset(big, 'g', CA_LOGBOOK_STATE_MAX);
    big[CA_LOGBOOK_STATE_MAX] = 0;
    s_group_put_ok(client, &group, 3, big);
    harness_session_restart(node, &client, &caller);
    s_group_is(client, &group, 4, big);
    free(big);
    harness_fails(s_group_delete(client, s_bin(&group), 3), CAIRN__STATUS__CONFLICT,
                  "not at version 3");
    CHECK(s_deleted(s_group_delete(client, s_bin(&group), 4), CAIRN__RESPONSE__BODY_GROUP_DELETE) ==
          1);
    harness_fails(s_group_get(client, s_bin(&group)), CAIRN__STATUS__NOT_FOUND, "no group");
    harness_fails(s_group_delete(client, s_bin(&group), 0), CAIRN__STATUS__NOT_FOUND, "no group");
    //  Recreated from 0; deleted whatever its version.
    s_group_put_ok(client, &group, 0, "reborn");
    s_group_put_ok(client, &group, 1, "reborn 2");
    CHECK(s_deleted(s_group_delete(client, s_bin(&group), 0), CAIRN__RESPONSE__BODY_GROUP_DELETE) ==
          1);
    harness_session_down(&caller, &client, &node);
}

//  Eight connections put over the same version at once, several rounds:
//  exactly one wins each round, the others get CONFLICT, and the group
//  holds the winner's state.
static void test_group_race(void) {
    HARNESS_SESSION_UP(NULL);
    enum { WRITERS = 8, ROUNDS = 10 };
    id_t32 group = s_key(0xd2, 0);
    s_group_put_ok(client, &group, 0, "start");
    zsock_t *writers[WRITERS];
    for (int w = 0; w < WRITERS; w++)
        writers[w] = harness_node_connect(node);
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        char states[WRITERS][32];
        for (int w = 0; w < WRITERS; w++) {
            snprintf(states[w], sizeof states[w], "round %" PRIu64 " writer %d", round, w);
            Cairn__GroupPut body;
            Cairn__Request request;
            s_group_put_request(&request, &body, &group, round, states[w], strlen(states[w]));
            request.id = round * 100 + (uint64_t)w;
            CHECK(harness_send(writers[w], &request) == 0);
        }
        int winner = -1, conflicts = 0;
        for (int w = 0; w < WRITERS; w++) {
            Cairn__Response *response = harness_recv(writers[w], HARNESS_CALL_MS);
            CHECK(response && response->id == round * 100 + (uint64_t)w);
            if (response->status == CAIRN__STATUS__OK) {
                CHECK(winner == -1 && response->group_put->version == round + 1);
                winner = w;
                cairn__response__free_unpacked(response, NULL);
            } else {
                conflicts++;
                harness_fails(response, CAIRN__STATUS__CONFLICT, "another writer put first");
            }
        }
        CHECK(winner >= 0 && conflicts == WRITERS - 1);
        s_group_is(client, &group, round + 1, states[winner]);
    }
    for (int w = 0; w < WRITERS; w++)
        zsock_destroy(&writers[w]);
    harness_session_down(&caller, &client, &node);
}

//  Newer wins: older and equal timestamps are kept out (OK, kept newer); a
//  newer entry replaces addresses, bootstrap and topics (the topic index
//  follows); remove; remove older than; counts.
static void test_book(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 a = s_key(0xe1, 1), b = s_key(0xe1, 2), c = s_key(0xe1, 3);
    id_t32 t1 = s_key(0x11, 0), t2 = s_key(0x12, 0);
    s_book_counts_are(client, 0, 0, 0);
    CHECK(s_book_put(client, &a, 100, true, 1, &t1, 1));
    CHECK(!s_book_put(client, &a, 99, false, 2, &t2, 1));
    CHECK(!s_book_put(client, &a, 100, false, 3, NULL, 0));
    Cairn__Response *response =
        harness_ok(s_book_list(client, s_bin(&t1), false, 0, (ProtobufCBinaryData){0, NULL}),
                   CAIRN__RESPONSE__BODY_BOOK_LIST);
    CHECK(response->book_list->n_nodes == 1);
    const Cairn__BookNodeInfo *info = response->book_list->nodes[0];
    CHECK(s_same(info->node_id, &a) && info->timestamp == 100 && info->bootstrap);
    CHECK(info->n_addresses == 1 && streq(info->addresses[0], "tcp://node-1:1"));
    CHECK(info->n_topics == 1 && s_same(info->topics[0], &t1));
    cairn__response__free_unpacked(response, NULL);
    s_book_counts_are(client, 1, 1, 1);
    //  Newer: replaces everything, and the topic index.
    CHECK(s_book_put(client, &a, 101, false, 4, &t2, 1));
    response = harness_ok(s_book_list(client, s_bin(&t1), false, 0, (ProtobufCBinaryData){0, NULL}),
                          CAIRN__RESPONSE__BODY_BOOK_LIST);
    CHECK(response->book_list->n_nodes == 0);
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_book_list(client, s_bin(&t2), false, 0, (ProtobufCBinaryData){0, NULL}),
                          CAIRN__RESPONSE__BODY_BOOK_LIST);
    CHECK(response->book_list->n_nodes == 1);
    info = response->book_list->nodes[0];
    CHECK(info->timestamp == 101 && !info->bootstrap &&
          streq(info->addresses[0], "tcp://node-4:1"));
    cairn__response__free_unpacked(response, NULL);
    s_book_counts_are(client, 1, 0, 1);
    id_t32 both[2] = {t1, t2};
    CHECK(s_book_put(client, &b, 200, true, 5, both, 2));
    CHECK(s_book_put(client, &c, 300, false, 6, NULL, 0));
    s_book_counts_are(client, 3, 1, 2);
    harness_session_restart(node, &client, &caller);
    s_book_counts_are(client, 3, 1, 2);
    //  Remove one; again: NOT_FOUND; its topics go with it.
    CHECK(s_deleted(s_book_remove(client, s_bin(&b)), CAIRN__RESPONSE__BODY_BOOK_REMOVE) == 1);
    harness_fails(s_book_remove(client, s_bin(&b)), CAIRN__STATUS__NOT_FOUND, "no node");
    s_book_counts_are(client, 2, 0, 1);
    //  Older than: strictly below.
    CHECK(s_deleted(s_book_remove_older(client, 101), CAIRN__RESPONSE__BODY_BOOK_REMOVE_OLDER) ==
          0);
    CHECK(s_deleted(s_book_remove_older(client, 102), CAIRN__RESPONSE__BODY_BOOK_REMOVE_OLDER) ==
          1);
    s_book_counts_are(client, 1, 0, 0);
    CHECK(s_deleted(s_book_remove_older(client, INT64_MAX),
                    CAIRN__RESPONSE__BODY_BOOK_REMOVE_OLDER) == 1);
    s_book_counts_are(client, 0, 0, 0);
    harness_session_down(&caller, &client, &node);
}

//  250 nodes: every node once over three default pages; by topic (every
//  other node) and bootstrap only (every third) likewise; a page stops at
//  its limit.
static void test_book_pages(void) {
    HARNESS_SESSION_UP(NULL);
    enum { NODES = 250 };
    id_t32 topic = s_key(0x21, 0), other = s_key(0x22, 0);
    for (int i = 0; i < NODES; i++) {
        id_t32 id = s_key(0xe2, (uint16_t)(NODES - i)); //  put in descending order
        CHECK(
            s_book_put(client, &id, 1000 + (uint64_t)i, i % 3 == 0, i, i % 2 ? &other : &topic, 1));
    }
    size_t pages = 0;
    CHECK(s_book_walk(client, (ProtobufCBinaryData){0, NULL}, false, &pages) == NODES &&
          pages == 3);
    CHECK(s_book_walk(client, s_bin(&topic), false, &pages) == NODES / 2 && pages == 2);
    CHECK(s_book_walk(client, (ProtobufCBinaryData){0, NULL}, true, &pages) == (NODES + 2) / 3 &&
          pages == 1);
    Cairn__Response *response =
        harness_ok(s_book_list(client, s_bin(&other), true, 5, (ProtobufCBinaryData){0, NULL}),
                   CAIRN__RESPONSE__BODY_BOOK_LIST);
    CHECK(response->book_list->n_nodes == 5 && response->book_list->more);
    for (size_t i = 0; i < 5; i++)
        CHECK(response->book_list->nodes[i]->bootstrap &&
              s_same(response->book_list->nodes[i]->topics[0], &other));
    cairn__response__free_unpacked(response, NULL);
    s_book_counts_are(client, NODES, (NODES + 2) / 3, 2);
    harness_session_down(&caller, &client, &node);
}

//  Random: NOT_FOUND when empty; only bootstrap nodes with `bootstrap`
//  (NOT_FOUND when there is none); every eligible node comes up.
static void test_book_random(void) {
    HARNESS_SESSION_UP(NULL);
    harness_fails(s_book_random(client, false), CAIRN__STATUS__NOT_FOUND, "no node");
    harness_fails(s_book_random(client, true), CAIRN__STATUS__NOT_FOUND, "no bootstrap node");
    enum { NODES = 6, DRAWS = 200 };
    for (int i = 0; i < NODES; i++) {
        id_t32 id = s_key(0xe3, (uint16_t)i);
        CHECK(s_book_put(client, &id, 10, false, i, NULL, 0));
    }
    harness_fails(s_book_random(client, true), CAIRN__STATUS__NOT_FOUND, "no bootstrap node");
    for (int i = 0; i < NODES; i += 2) { //  0, 2, 4 become bootstrap nodes
        id_t32 id = s_key(0xe3, (uint16_t)i);
        CHECK(s_book_put(client, &id, 11, true, i, NULL, 0));
    }
    //  Each node is drawn with probability 1/6 (1/3 among bootstrap nodes):
    //  one missing from 200 draws has a chance below 1e-15.
    int drawn[NODES] = {0}, drawn_bootstrap[NODES] = {0};
    for (int d = 0; d < DRAWS; d++) {
        for (int bootstrap = 0; bootstrap < 2; bootstrap++) {
            Cairn__Response *response =
                harness_ok(s_book_random(client, bootstrap), CAIRN__RESPONSE__BODY_BOOK_RANDOM);
            const Cairn__BookNodeInfo *info = response->book_random->node;
            CHECK(info && info->node_id.len == KEY);
            int index = info->node_id.data[KEY - 1];
            CHECK(index < NODES && info->bootstrap == (index % 2 == 0));
            CHECK(!bootstrap || info->bootstrap);
            (bootstrap ? drawn_bootstrap : drawn)[index]++;
            cairn__response__free_unpacked(response, NULL);
        }
    }
    for (int i = 0; i < NODES; i++) {
        CHECK(drawn[i] > 0);
        CHECK(i % 2 ? drawn_bootstrap[i] == 0 : drawn_bootstrap[i] > 0);
    }
    harness_session_down(&caller, &client, &node);
}

//  Bad input on every request: INVALID with a message naming the field,
//  nothing stored, and the node serves on.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 good = s_key(0xf1, 0);
    uint8_t short_bytes[31] = {1}, long_bytes[33] = {1};
    ProtobufCBinaryData none = {0, NULL}, shorter = {31, short_bytes}, longer = {33, long_bytes};
    Cairn__LogbookLog log = s_log(&good, 1), bad_log = CAIRN__LOGBOOK_LOG__INIT;
    bad_log.author = shorter;

    //  Topics.
    harness_fails(s_topic_associate(client, none, &log), CAIRN__STATUS__INVALID,
                  "topic is missing");
    harness_fails(s_topic_associate(client, shorter, &log), CAIRN__STATUS__INVALID,
                  "topic is 31 bytes");
    harness_fails(s_topic_associate(client, longer, &log), CAIRN__STATUS__INVALID,
                  "topic is 33 bytes");
    harness_fails(s_topic_associate(client, s_bin(&good), NULL), CAIRN__STATUS__INVALID,
                  "log is missing");
    harness_fails(s_topic_associate(client, s_bin(&good), &bad_log), CAIRN__STATUS__INVALID,
                  "log.author is 31 bytes");
    harness_fails(s_topic_remove(client, s_bin(&good), NULL), CAIRN__STATUS__INVALID,
                  "log is missing");
    harness_fails(s_topic_remove(client, longer, &log), CAIRN__STATUS__INVALID, "topic is 33");
    harness_fails(s_topic_resolve(client, none, 0, NULL), CAIRN__STATUS__INVALID,
                  "topic is missing");
    harness_fails(s_topic_resolve(client, s_bin(&good), CA_LOGBOOK_PAGE_MAX + 1, NULL),
                  CAIRN__STATUS__INVALID, "at most 1000");
    harness_fails(s_topic_resolve(client, s_bin(&good), 0, &bad_log), CAIRN__STATUS__INVALID,
                  "after.author");

    //  Cursors.
    char long_name[CA_LOGBOOK_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const char *bad_names[] = {"", "with space", "tab\t", "caf\xc3\xa9", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        harness_fails(s_cursor_set(client, bad_names[i], &log, 1, false), CAIRN__STATUS__INVALID,
                      "cursor names are 1..64 bytes");
        harness_fails(s_cursor_get(client, bad_names[i], &log), CAIRN__STATUS__INVALID, "name");
        harness_fails(s_cursor_delete(client, bad_names[i], NULL), CAIRN__STATUS__INVALID, "name");
    }
    long_name[CA_LOGBOOK_NAME_MAX] = 0; //  64 bytes: fine
    s_ok(s_cursor_set(client, long_name, &log, 1, false), CAIRN__RESPONSE__BODY_CURSOR_SET);
    harness_fails(s_cursor_set(client, "c", NULL, 1, false), CAIRN__STATUS__INVALID,
                  "log is missing");
    harness_fails(s_cursor_set(client, "c", &bad_log, 1, false), CAIRN__STATUS__INVALID,
                  "log.author is 31 bytes");
    harness_fails(s_cursor_set(client, "c", &log, (uint64_t)INT64_MAX + 1, true),
                  CAIRN__STATUS__INVALID, "seq 9223372036854775808 is over 2^63-1");
    harness_fails(s_cursor_get(client, "c", NULL), CAIRN__STATUS__INVALID, "log is missing");
    harness_fails(s_cursor_delete(client, "c", &bad_log), CAIRN__STATUS__INVALID, "log.author");
    CHECK(s_cursor_at(client, "c", &log) == -1);

    //  Groups.
    harness_fails(s_group_get(client, none), CAIRN__STATUS__INVALID, "group_id is missing");
    harness_fails(s_group_get(client, longer), CAIRN__STATUS__INVALID, "group_id is 33 bytes");
    harness_fails(s_group_delete(client, shorter, 0), CAIRN__STATUS__INVALID, "group_id is 31");
    harness_fails(s_group_delete(client, s_bin(&good), UINT64_MAX), CAIRN__STATUS__INVALID,
                  "over 2^63-1");
    harness_fails(s_group_put(client, &good, INT64_MAX, "x"), CAIRN__STATUS__INVALID,
                  "beyond the last one");
    char *big = malloc(CA_LOGBOOK_STATE_MAX + 2);
    CHECK(big);
    memset(big, 's', CA_LOGBOOK_STATE_MAX + 1);
    big[CA_LOGBOOK_STATE_MAX + 1] = 0;
    harness_fails(s_group_put(client, &good, 0, big), CAIRN__STATUS__INVALID,
                  "state is 65537 bytes; at most 65536");
    free(big);
    harness_fails(s_group_get(client, s_bin(&good)), CAIRN__STATUS__NOT_FOUND, "no group");

    //  Address book.
    harness_fails(s_book_put_info(client, NULL), CAIRN__STATUS__INVALID, "node is missing");
    Cairn__BookNodeInfo info = CAIRN__BOOK_NODE_INFO__INIT;
    info.timestamp = 1;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "node.node_id is missing");
    info.node_id = longer;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID, "node.node_id is 33");
    info.node_id = s_bin(&good);
    info.timestamp = 0;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID, "node.timestamp 0");
    info.timestamp = UINT64_MAX;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID, "out of range");
    info.timestamp = 5;
    char *addresses[CA_LOGBOOK_ADDRESSES_MAX + 1];
    char address[CA_LOGBOOK_ADDRESS_MAX + 2];
    memset(address, 'a', sizeof address - 1);
    address[sizeof address - 1] = 0;
    for (int i = 0; i <= CA_LOGBOOK_ADDRESSES_MAX; i++)
        addresses[i] = "tcp://x:1";
    info.addresses = addresses;
    info.n_addresses = CA_LOGBOOK_ADDRESSES_MAX + 1;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "17 addresses; at most 16");
    info.n_addresses = 2;
    addresses[1] = address;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "node.addresses[1] is 257 bytes");
    addresses[1] = "";
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "node.addresses[1] is 0 bytes");
    info.n_addresses = 1;
    ProtobufCBinaryData topics[CA_LOGBOOK_TOPICS_MAX + 1];
    id_t32 topic_keys[CA_LOGBOOK_TOPICS_MAX + 1];
    for (int i = 0; i <= CA_LOGBOOK_TOPICS_MAX; i++) {
        topic_keys[i] = s_key(0x31, (uint16_t)i);
        topics[i] = s_bin(&topic_keys[i]);
    }
    info.topics = topics;
    info.n_topics = CA_LOGBOOK_TOPICS_MAX + 1;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID, "65 topics; at most 64");
    info.n_topics = 3;
    topics[2] = topics[0];
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "node.topics[2] repeats node.topics[0]");
    topics[2] = shorter;
    harness_fails(s_book_put_info(client, &info), CAIRN__STATUS__INVALID,
                  "node.topics[2] is 31 bytes");
    harness_fails(s_book_remove(client, shorter), CAIRN__STATUS__INVALID, "node_id is 31");
    harness_fails(s_book_remove(client, s_bin(&good)), CAIRN__STATUS__NOT_FOUND, "no node");
    harness_fails(s_book_remove_older(client, 0), CAIRN__STATUS__INVALID, "before 0");
    harness_fails(s_book_remove_older(client, UINT64_MAX), CAIRN__STATUS__INVALID, "out of range");
    harness_fails(s_book_list(client, shorter, false, 0, none), CAIRN__STATUS__INVALID,
                  "topic is 31");
    harness_fails(s_book_list(client, none, false, 0, longer), CAIRN__STATUS__INVALID,
                  "after is 33");
    harness_fails(s_book_list(client, none, false, CA_LOGBOOK_PAGE_MAX + 1, none),
                  CAIRN__STATUS__INVALID, "at most 1000 nodes");
    s_book_counts_are(client, 0, 0, 0);
    //  The largest entry is fine: 16 addresses of 256 bytes, 64 topics.
    address[CA_LOGBOOK_ADDRESS_MAX] = 0;
    for (int i = 0; i < CA_LOGBOOK_ADDRESSES_MAX; i++)
        addresses[i] = address;
    info.n_addresses = CA_LOGBOOK_ADDRESSES_MAX;
    topics[2] = s_bin(&topic_keys[2]);
    info.n_topics = CA_LOGBOOK_TOPICS_MAX;
    s_ok(s_book_put_info(client, &info), CAIRN__RESPONSE__BODY_BOOK_PUT);
    s_book_counts_are(client, 1, 0, CA_LOGBOOK_TOPICS_MAX);

    //  Malformed protobuf: id 9, then field 1200 (topic_associate) holding
    //  a topic whose length runs past the end; field 1221 (group_put) whose
    //  length runs past the frame; field 1230 (book_put) with an unknown
    //  field 9 in BookNodeInfo.
    const uint8_t truncated[] = {0x08, 0x09, 0x82, 0x4b, 0x03, 0x0a, 0x05, 0x01};
    harness_fails_raw(client, truncated, sizeof truncated, 9, NULL);
    const uint8_t past_end[] = {0x08, 0x09, 0xaa, 0x4c, 0x05};
    harness_fails_raw(client, past_end, sizeof past_end, 9, NULL);
    const uint8_t unknown[] = {0x08, 0x09, 0xf2, 0x4c, 0x04, 0x0a, 0x02, 0x48, 0x01};
    harness_fails_raw(client, unknown, sizeof unknown, 9, NULL);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

//  Info lists the logbook pool with what it served.
static void test_info(void) {
    HARNESS_SESSION_UP(NULL);
    id_t32 group = s_key(0x99, 0);
    s_group_put_ok(client, &group, 0, "x");
    harness_fails(s_group_put(client, &group, 0, "y"), CAIRN__STATUS__CONFLICT, NULL);
    harness_fails(s_group_get(client, (ProtobufCBinaryData){0, NULL}), CAIRN__STATUS__INVALID,
                  NULL);
    Cairn__Response *response;
    const Cairn__ActorInfo *pool = harness_pool_info(client, "logbook", &response);
    CHECK(pool->requests == 3 && pool->errors == 2);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"topics", test_topics},
    {"topic_pages", test_topic_pages},
    {"cursors", test_cursors},
    {"cursor_pipelined", test_cursor_pipelined},
    {"groups", test_groups},
    {"group_race", test_group_race},
    {"book", test_book},
    {"book_pages", test_book_pages},
    {"book_random", test_book_random},
    {"bad_input", test_bad_input},
    {"info", test_info},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.logbook", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

/*  =========================================================================
    e2e_subscriptions_feeds - OplogSubscribe and ContentSubscribe against a
    real cairnd

    The two feeds besides a channel's messages (e2e_subscriptions.c): a
    topic's operations and content arrivals, checked over the wire only.
    Each test runs for one feed: every item exactly once, in ascending
    position, across three disconnects and a kill -9 of the node when the
    subscriber resumes with the cursor of the last push it processed; from
    now against a cursor; a subscriber that never reads is ended with
    "resume from cursor" while another goes on; a cursor is never given
    twice, also after the newest item is deleted or pruned; bad input; the
    CLI. Item i is told by what it carries: operation i is seq i of the
    topic's log, blob i is i + 1 bytes long. Every loop is bounded by a
    count and a deadline.
    ========================================================================= */

#include "ca_hash.h"
#include "ca_push.h"
#include "cli_run.h"
#include "harness.h"
#include "oplog_fixture.h"
#include "subscriptions.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef CHECK
#define CHECK HARNESS_CHECK

#define WAIT_MS     20000
#define DEADLINE_MS (180 * 1000)
#define LOG_TOPIC   7 //  the topic's log
#define LOG_OTHER   8 //  a log of the same author outside the topic
#define ITEMS_MAX   1200

typedef enum { FEED_TOPIC, FEED_CONTENT } feed_t;

static const uint8_t s_topic[32] = {0x70, 0x6f, 0x70, 0x69, 0x63, 1};

//  The node, a writer connection, and the operations of both logs.
typedef struct {
    feed_t feed;
    harness_node_t *node;
    zsock_t *writer;
    oplog_key_t key;
    oplog_op_t ops[ITEMS_MAX];    //  LOG_TOPIC
    oplog_op_t others[ITEMS_MAX]; //  LOG_OTHER, never pushed
} world_t;

typedef struct {
    feed_t feed;
    zsock_t *socket;
    uint64_t request_id; //  the subscribe request's: every push carries it
    uint64_t id;         //  the subscription's
    uint64_t cursor;     //  the last push processed
} subscriber_t;

//  ---- the world -------------------------------------------------------------------

static world_t *s_world_up(feed_t feed) {
    world_t *world = (world_t *)zmalloc(sizeof(world_t));
    world->feed = feed;
    world->node = harness_node_up(NULL);
    CHECK(world->node);
    world->writer = harness_connect(harness_node_endpoint(world->node));
    oplog_key(3, &world->key);
    uint64_t time_us = 1700000000000000ULL;
    for (size_t i = 0; feed == FEED_TOPIC && i < ITEMS_MAX; i++) {
        oplog_op_make(&world->ops[i], &world->key, LOG_TOPIC, i, i ? world->ops[i - 1].hash : NULL,
                      8, i, NULL, 0, time_us++);
        oplog_op_make(&world->others[i], &world->key, LOG_OTHER, i,
                      i ? world->others[i - 1].hash : NULL, 8, i, NULL, 0, time_us++);
    }
    if (feed == FEED_TOPIC) {
        Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
        log.author = (ProtobufCBinaryData){32, world->key.public_key};
        log.log_id = LOG_TOPIC;
        Cairn__TopicAssociate associate = CAIRN__TOPIC_ASSOCIATE__INIT;
        associate.topic = (ProtobufCBinaryData){32, (uint8_t *)s_topic};
        associate.log = &log;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
        request.topic_associate = &associate;
        Cairn__Response *response = harness_request(world->writer, &request);
        harness_ok(response, CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE);
        cairn__response__free_unpacked(response, NULL);
    }
    return world;
}

static void s_world_down(world_t **world_p) {
    world_t *world = *world_p;
    for (size_t i = 0; world->feed == FEED_TOPIC && i < ITEMS_MAX; i++) {
        oplog_op_free(&world->ops[i]);
        oplog_op_free(&world->others[i]);
    }
    zsock_destroy(&world->writer);
    harness_node_down(&world->node);
    free(world);
    *world_p = NULL;
}

static const char *s_endpoint(const world_t *world) {
    return harness_node_endpoint(world->node);
}

//  Stores items [from, to) of the feed, pipelined (for the topic, the
//  other log's too); every one must be acknowledged OK.
static void s_produce_some(world_t *world, unsigned from, unsigned to);

static void s_produce(world_t *world, unsigned from, unsigned to) {
    CHECK(to <= ITEMS_MAX);
    //  At most 200 requests in flight (the node's share is 256 a store).
    for (unsigned at = from; at < to; at += 100)
        s_produce_some(world, at, at + 100 < to ? at + 100 : to);
}

//  One at a time, each committed before the next is sent: then commit
//  order is item order (pipelined puts spread over the content workers
//  may commit in any order).
static void s_produce_each(world_t *world, unsigned from, unsigned to) {
    for (unsigned i = from; i < to; i++)
        s_produce(world, i, i + 1);
}

static void s_produce_some(world_t *world, unsigned from, unsigned to) {
    size_t sent = 0;
    uint8_t data[ITEMS_MAX];
    memset(data, 'c', sizeof data);
    for (unsigned i = from; i < to; i++) {
        Cairn__Request request;
        if (world->feed == FEED_TOPIC) {
            Cairn__OplogAppend append, other;
            oplog_request_append(&request, &append, &world->ops[i]);
            CHECK(harness_send(world->writer, &request) == 0);
            oplog_request_append(&request, &other, &world->others[i]);
            CHECK(harness_send(world->writer, &request) == 0);
            sent += 2;
        } else {
            Cairn__ContentPut put;
            ca_request_content_put(&request, &put, ca_caller_next_id(), data, i + 1, NULL, 0);
            CHECK(harness_send(world->writer, &request) == 0);
            sent++;
        }
    }
    for (size_t n = 0; n < sent; n++) {
        Cairn__Response *response = harness_recv(world->writer, WAIT_MS);
        CHECK(response);
        harness_ok(response, world->feed == FEED_TOPIC ? CAIRN__RESPONSE__BODY_OPLOG_APPEND
                                                       : CAIRN__RESPONSE__BODY_CONTENT_PUT);
        cairn__response__free_unpacked(response, NULL);
    }
}

//  ---- subscribing ------------------------------------------------------------------

static Cairn__Response *s_subscribe_call(zsock_t *client, feed_t feed, uint64_t after,
                                         bool from_now, uint32_t window, uint32_t lease_ms,
                                         uint64_t id) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    Cairn__OplogSubscribe topic = CAIRN__OPLOG_SUBSCRIBE__INIT;
    Cairn__ContentSubscribe content = CAIRN__CONTENT_SUBSCRIBE__INIT;
    if (feed == FEED_TOPIC) {
        topic.topic = (ProtobufCBinaryData){32, (uint8_t *)s_topic};
        topic.after = after;
        topic.from_now = from_now;
        topic.window = window;
        topic.lease_ms = lease_ms;
        request.body_case = CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE;
        request.oplog_subscribe = &topic;
    } else {
        content.after = after;
        content.from_now = from_now;
        content.window = window;
        content.lease_ms = lease_ms;
        request.body_case = CAIRN__REQUEST__BODY_CONTENT_SUBSCRIBE;
        request.content_subscribe = &content;
    }
    return id ? harness_call(client, &request, WAIT_MS) : harness_request(client, &request);
}

static Cairn__Response__BodyCase s_push_case(feed_t feed) {
    return feed == FEED_TOPIC ? CAIRN__RESPONSE__BODY_OPLOG_SUBSCRIBE
                              : CAIRN__RESPONSE__BODY_CONTENT_SUBSCRIBE;
}

//  Subscribes; the first answer (a push without items) must come back OK.
//  Returns the cursor the subscription starts from.
static uint64_t s_subscribe(subscriber_t *sub, world_t *world, uint64_t after, bool from_now,
                            uint32_t window, uint32_t lease_ms) {
    sub->feed = world->feed;
    sub->socket = harness_connect(s_endpoint(world));
    sub->request_id = ca_caller_next_id();
    Cairn__Response *response = s_subscribe_call(sub->socket, sub->feed, after, from_now, window,
                                                 lease_ms, sub->request_id);
    harness_ok(response, s_push_case(sub->feed));
    ca_push_head_t head;
    CHECK(ca_push_head(response, &head));
    CHECK(head.items == 0 && !head.ended && head.after == head.cursor);
    if (!from_now)
        CHECK(head.cursor == after);
    sub->id = head.subscription_id;
    sub->cursor = head.cursor;
    cairn__response__free_unpacked(response, NULL);
    return sub->cursor;
}

static void s_close(subscriber_t *sub) {
    zsock_destroy(&sub->socket);
}

//  The next push of `sub` (answers to acks are checked and skipped); NULL
//  after timeout_ms without one.
static Cairn__Response *s_next_push(subscriber_t *sub, int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    for (int n = 0; n < 100000 && zclock_mono() < deadline; n++) {
        Cairn__Response *response = harness_recv(sub->socket, (int)(deadline - zclock_mono() + 1));
        if (!response)
            return NULL;
        if (response->id == sub->request_id) {
            harness_ok(response, s_push_case(sub->feed));
            return response;
        }
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE_ACK);
        cairn__response__free_unpacked(response, NULL);
    }
    return NULL;
}

//  Item `i` of a push: its position and which item of the feed it is.
static void s_item(const world_t *world, const Cairn__Response *response, size_t i,
                   uint64_t *position, size_t *index) {
    if (world->feed == FEED_TOPIC) {
        const Cairn__SubscribedOp *op = response->oplog_subscribe->ops[i];
        CHECK(op->entry && op->entry->header);
        CHECK(op->entry->header->log_id == LOG_TOPIC); //  never the other log
        *position = op->position;
        *index = (size_t)op->entry->header->seq;
        CHECK(*index < ITEMS_MAX);
        CHECK(op->entry->hash.len == 32 &&
              memcmp(op->entry->hash.data, world->ops[*index].hash, 32) == 0);
        CHECK(op->entry->has_body && op->entry->body.len == 8);
    } else {
        const Cairn__ContentArrival *arrival = response->content_subscribe->arrivals[i];
        CHECK(arrival->hash.len == 32 && arrival->size >= 1);
        *position = arrival->position;
        *index = (size_t)arrival->size - 1;
    }
}

//  Marks each item of the push in `seen`: each exactly once, positions
//  ascending after the subscriber's cursor; then the cursor moves and the
//  push is acknowledged. Returns the items taken.
static size_t s_take(const world_t *world, subscriber_t *sub, const Cairn__Response *response,
                     uint8_t *seen, size_t total) {
    ca_push_head_t head;
    CHECK(ca_push_head(response, &head));
    CHECK(!head.ended);
    CHECK(head.subscription_id == sub->id);
    CHECK(head.after == sub->cursor); //  no push lost on the way
    uint64_t last = sub->cursor;
    for (size_t i = 0; i < head.items; i++) {
        uint64_t position;
        size_t index;
        s_item(world, response, i, &position, &index);
        CHECK(position > last);
        last = position;
        CHECK(index < total);
        if (seen[index])
            fprintf(stderr, "item %zu (position %" PRIu64 ") pushed twice\n", index, position);
        CHECK(!seen[index]);
        seen[index] = 1;
    }
    CHECK(head.items > 0 && head.cursor == last);
    sub->cursor = head.cursor;
    harness_subscribe_ack(sub->socket, sub->id, sub->cursor);
    return head.items;
}

//  Reads pushes of `sub` until at least `want` items in all were taken
//  (each push is taken whole).
static void s_drain(const world_t *world, subscriber_t *sub, uint8_t *seen, size_t total,
                    size_t *taken, size_t want) {
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (*taken < want && zclock_mono() < deadline) {
        Cairn__Response *response = s_next_push(sub, WAIT_MS);
        if (!response)
            fprintf(stderr, "no push after %zu of %zu items\n", *taken, want);
        CHECK(response);
        *taken += s_take(world, sub, response, seen, total);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(*taken >= want && *taken <= total);
}

//  Nothing more comes within `ms`.
static void s_expect_quiet(subscriber_t *sub, int ms) {
    Cairn__Response *response = s_next_push(sub, ms);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    CHECK(!response);
}

//  ---- tests ---------------------------------------------------------------------------

//  1,200 items stored while a subscriber reads them; it disconnects three
//  times (dropping the pushes in flight) and resumes from its last cursor.
static void s_resume(feed_t feed) {
    enum { TOTAL = ITEMS_MAX, ROUND = 200 };
    world_t *world = s_world_up(feed);
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    subscriber_t sub;
    s_subscribe(&sub, world, 0, false, 8, 0);
    size_t taken = 0, reconnects = 0;
    for (unsigned round = 0; round < TOTAL / ROUND; round++) {
        s_produce(world, round * ROUND, (round + 1) * ROUND);
        if (round >= 1 && reconnects < 3) {
            //  Take one push, then go away with the rest in flight.
            Cairn__Response *response = s_next_push(&sub, WAIT_MS);
            CHECK(response);
            taken += s_take(world, &sub, response, seen, TOTAL);
            cairn__response__free_unpacked(response, NULL);
            s_close(&sub);
            s_subscribe(&sub, world, sub.cursor, false, 8, 0);
            reconnects++;
        }
        s_drain(world, &sub, seen, TOTAL, &taken, (round + 1) * ROUND);
    }
    CHECK(reconnects == 3);
    for (size_t i = 0; i < TOTAL; i++)
        CHECK(seen[i]);
    s_expect_quiet(&sub, 300); //  no duplicates after the end
    free(seen);
    s_close(&sub);
    s_world_down(&world);
}

//  from_now skips what is there; a cursor from a push gets what follows it.
static void s_from_now(feed_t feed) {
    enum { TOTAL = 8 };
    world_t *world = s_world_up(feed);
    s_produce(world, 0, 5);
    subscriber_t now, later;
    s_subscribe(&now, world, 0, true, 0, 0);
    CHECK(now.cursor > 0);
    s_produce_each(world, 5, TOTAL);
    uint8_t seen[TOTAL] = {0};
    size_t taken = 0;
    //  Only 5, 6, 7; remember item 5's position.
    uint64_t fifth = 0;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (taken < 3 && zclock_mono() < deadline) {
        Cairn__Response *response = s_next_push(&now, WAIT_MS);
        CHECK(response);
        if (!fifth) {
            size_t index;
            s_item(world, response, 0, &fifth, &index);
            CHECK(index == 5);
        }
        taken += s_take(world, &now, response, seen, TOTAL);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(taken == 3 && seen[5] && seen[6] && seen[7] && !seen[4]);
    s_expect_quiet(&now, 300);
    //  From item 5's cursor: 6 and 7 only.
    memset(seen, 0, sizeof seen);
    taken = 0;
    s_subscribe(&later, world, fifth, false, 0, 0);
    s_drain(world, &later, seen, TOTAL, &taken, 2);
    CHECK(seen[6] && seen[7] && !seen[5]);
    s_expect_quiet(&later, 300);
    s_close(&now);
    s_close(&later);
    s_world_down(&world);
}

//  kill -9 of the node while pushes flow; after the restart the subscriber
//  resumes from its cursor and gets the rest, each once.
static void s_kill9(feed_t feed) {
    enum { TOTAL = 900 };
    world_t *world = s_world_up(feed);
    for (unsigned from = 0; from < TOTAL; from += 300)
        s_produce(world, from, from + 300);
    zsock_destroy(&world->writer);
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    size_t taken = 0;
    subscriber_t sub;
    s_subscribe(&sub, world, 0, false, 2, 0);
    s_drain(world, &sub, seen, TOTAL, &taken, 100);
    CHECK(taken < TOTAL);
    harness_node_kill9(world->node);
    s_close(&sub);
    CHECK(harness_node_restart(world->node) == 0);
    world->writer = harness_connect(s_endpoint(world));
    s_subscribe(&sub, world, sub.cursor, false, 4, 0);
    s_drain(world, &sub, seen, TOTAL, &taken, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        CHECK(seen[i]);
    free(seen);
    s_close(&sub);
    s_world_down(&world);
}

//  A subscriber that never reads gets at most its window, then is ended
//  with "resume from cursor"; another receives everything meanwhile.
static void s_never_reads(feed_t feed) {
    enum { TOTAL = 600 };
    world_t *world = s_world_up(feed);
    subscriber_t idle, busy;
    s_subscribe(&idle, world, 0, false, 2, CA_SUBSCRIPTION_LEASE_MIN_MS);
    s_subscribe(&busy, world, 0, false, 0, 0);
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    size_t taken = 0;
    s_produce(world, 0, TOTAL / 2);
    s_drain(world, &busy, seen, TOTAL, &taken, TOTAL / 2);
    s_produce(world, TOTAL / 2, TOTAL);
    s_drain(world, &busy, seen, TOTAL, &taken, TOTAL);
    size_t pushes = 0;
    bool ended = false;
    for (int n = 0; n < 10 && !ended; n++) {
        Cairn__Response *response = harness_recv(idle.socket, WAIT_MS);
        CHECK(response && response->id == idle.request_id);
        harness_ok(response, s_push_case(feed));
        ca_push_head_t head;
        CHECK(ca_push_head(response, &head));
        if (head.ended) {
            ended = true;
            CHECK(head.cursor == 0 && head.items == 0);
            CHECK(strstr(head.reason, "resume from cursor 0"));
        } else
            pushes++;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(ended && pushes <= 2);
    harness_expect_alive(world->writer);
    free(seen);
    s_close(&idle);
    s_close(&busy);
    s_world_down(&world);
}

//  The newest item removed (a blob deleted; a log pruned, which keeps its
//  latest): a cursor at it still resumes, and the next item gets a larger
//  position than any given before.
static void s_never_reused(feed_t feed) {
    enum { TOTAL = 6 };
    world_t *world = s_world_up(feed);
    s_produce_each(world, 0, 3);
    subscriber_t sub;
    uint8_t seen[TOTAL] = {0};
    size_t taken = 0;
    s_subscribe(&sub, world, 0, false, 0, 0);
    s_drain(world, &sub, seen, TOTAL, &taken, 3);
    uint64_t newest = sub.cursor;
    s_close(&sub);
    Cairn__Request request;
    if (feed == FEED_CONTENT) {
        uint8_t data[3] = {'c', 'c', 'c'}, hash[32];
        ca_sha256(data, sizeof data, hash);
        Cairn__ContentDelete del;
        ca_request_content_delete(&request, &del, 0, hash, sizeof hash);
        Cairn__Response *response = harness_request(world->writer, &request);
        harness_ok(response, CAIRN__RESPONSE__BODY_CONTENT_DELETE);
        cairn__response__free_unpacked(response, NULL);
    } else {
        Cairn__OplogPrune prune = CAIRN__OPLOG_PRUNE__INIT;
        prune.author = (ProtobufCBinaryData){32, world->key.public_key};
        prune.log_id = LOG_OTHER;
        prune.below_seq = 3; //  all but the latest: the newest operation stays
        request = (Cairn__Request)CAIRN__REQUEST__INIT;
        request.body_case = CAIRN__REQUEST__BODY_OPLOG_PRUNE;
        request.oplog_prune = &prune;
        Cairn__Response *response = harness_request(world->writer, &request);
        harness_ok(response, CAIRN__RESPONSE__BODY_OPLOG_PRUNE);
        cairn__response__free_unpacked(response, NULL);
    }
    //  The cursor is not "ahead of the newest"; the new item comes after it.
    s_subscribe(&sub, world, newest, false, 0, 0);
    s_produce(world, 3, 4);
    s_drain(world, &sub, seen, TOTAL, &taken, 4);
    CHECK(sub.cursor > newest);
    s_close(&sub);
    s_world_down(&world);
}

//  Bodies reach 512 KiB: one that does not fit in a push's 64 KiB is left
//  out (body_left_out, the header there), and the push stays bounded.
static void s_topic_big_body(void) {
    world_t *world = s_world_up(FEED_TOPIC);
    s_produce(world, 0, 2);
    oplog_op_t big;
    oplog_op_make(&big, &world->key, LOG_TOPIC, 2, world->ops[1].hash, 300 * 1024, 2, NULL, 0,
                  1800000000000000ULL);
    Cairn__Request request;
    Cairn__OplogAppend append;
    oplog_request_append(&request, &append, &big);
    Cairn__Response *response = harness_request(world->writer, &request);
    harness_ok(response, CAIRN__RESPONSE__BODY_OPLOG_APPEND);
    cairn__response__free_unpacked(response, NULL);
    subscriber_t sub;
    s_subscribe(&sub, world, 0, false, 0, 0);
    size_t items = 0;
    bool left_out = false;
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (items < 3 && zclock_mono() < deadline) {
        response = s_next_push(&sub, WAIT_MS);
        CHECK(response);
        const Cairn__OplogPush *push = response->oplog_subscribe;
        for (size_t i = 0; i < push->n_ops; i++, items++) {
            const Cairn__SubscribedOp *op = push->ops[i];
            CHECK(op->entry->header && op->entry->header->seq == items);
            CHECK(op->entry->has_body);
            if (items == 2) {
                left_out = op->body_left_out;
                CHECK(op->entry->body.len == 0);
                CHECK(op->entry->header->payload_size == 300 * 1024);
                CHECK(memcmp(op->entry->hash.data, big.hash, 32) == 0);
            } else
                CHECK(!op->body_left_out && op->entry->body.len == 8);
        }
        sub.cursor = push->cursor;
        harness_subscribe_ack(sub.socket, sub.id, sub.cursor);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(items == 3 && left_out);
    oplog_op_free(&big);
    s_close(&sub);
    s_world_down(&world);
}

static void s_bad_input(feed_t feed) {
    world_t *world = s_world_up(feed);
    zsock_t *client = world->writer;
    s_produce(world, 0, 3);
    harness_fails(s_subscribe_call(client, feed, 2, true, 0, 0, 0), CAIRN__STATUS__INVALID,
                  "not both");
    harness_fails(s_subscribe_call(client, feed, 1000000, false, 0, 0, 0), CAIRN__STATUS__INVALID,
                  feed == FEED_TOPIC ? "ahead of this node's newest topic position"
                                     : "ahead of this node's newest content position (3)");
    harness_fails(s_subscribe_call(client, feed, 0, false, CA_SUBSCRIPTION_WINDOW_MAX + 1, 0, 0),
                  CAIRN__STATUS__INVALID, "window must be");
    harness_fails(s_subscribe_call(client, feed, 0, false, 0, CA_SUBSCRIPTION_LEASE_MAX_MS + 1, 0),
                  CAIRN__STATUS__INVALID, "lease_ms");
    //  A body that is not protobuf, under the kind's field (1113 or 622).
    static const uint8_t topic_garbage[] = {0x08, 0x07, 0xca, 0x45, 0x03, 0xff, 0xff, 0xff};
    static const uint8_t content_garbage[] = {0x08, 0x07, 0xf2, 0x26, 0x03, 0xff, 0xff, 0xff};
    if (feed == FEED_TOPIC)
        harness_fails_raw(client, topic_garbage, sizeof topic_garbage, 7, NULL);
    else
        harness_fails_raw(client, content_garbage, sizeof content_garbage, 7, NULL);
    if (feed == FEED_TOPIC) {
        Cairn__OplogSubscribe subscribe = CAIRN__OPLOG_SUBSCRIBE__INIT;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.body_case = CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE;
        request.oplog_subscribe = &subscribe;
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID,
                      "topic is 0 bytes");
        uint8_t unknown[33] = {9, 9, 9};
        subscribe.topic = (ProtobufCBinaryData){5, unknown};
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID,
                      "topic is 5 bytes");
        subscribe.topic = (ProtobufCBinaryData){33, unknown};
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID,
                      "topic is 33 bytes");
        subscribe.topic = (ProtobufCBinaryData){32, unknown};
        harness_fails(harness_request(client, &request), CAIRN__STATUS__NOT_FOUND,
                      "TopicAssociate");
    }
    //  The shared ack: a cursor beyond the last push is refused.
    subscriber_t sub;
    s_subscribe(&sub, world, 0, true, 0, 0);
    Cairn__MessageSubscribeAck ack = CAIRN__MESSAGE_SUBSCRIBE_ACK__INIT;
    ack.subscription_id = sub.id;
    ack.cursor = sub.cursor + 1;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK;
    request.message_subscribe_ack = &ack;
    harness_fails(harness_request(sub.socket, &request), CAIRN__STATUS__INVALID,
                  "beyond the last push");
    Cairn__MessageUnsubscribe unsubscribe = CAIRN__MESSAGE_UNSUBSCRIBE__INIT;
    unsubscribe.subscription_id = sub.id;
    Cairn__Request stop = CAIRN__REQUEST__INIT;
    stop.body_case = CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
    stop.message_unsubscribe = &unsubscribe;
    Cairn__Response *response = harness_request(sub.socket, &stop);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_UNSUBSCRIBE);
    CHECK(response->message_unsubscribe->cursor == sub.cursor);
    cairn__response__free_unpacked(response, NULL);
    harness_expect_alive(client);
    s_close(&sub);
    s_world_down(&world);
}

//  cairn oplog subscribe TOPIC / cairn content subscribe, --cursor 0
//  --count N prints N items and the cursor to resume with.
static void s_cli(feed_t feed) {
    world_t *world = s_world_up(feed);
    s_produce(world, 0, 4);
    char topic[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(topic + 2 * i, 3, "%02x", s_topic[i]);
    run_t run = feed == FEED_TOPIC ? RUN("--endpoint", s_endpoint(world), "oplog", "subscribe",
                                         topic, "--cursor", "0", "--count", "3")
                                   : RUN("--endpoint", s_endpoint(world), "content", "subscribe",
                                         "--cursor", "0", "--count", "3");
    CHECK(run.status == 0);
    size_t lines = 0;
    for (const char *p = run.out; (p = strchr(p, '\n')); p++)
        lines++;
    CHECK(lines == 3);
    CHECK(strstr(run.err, "resume with --cursor"));
    cli_run_free(&run);
    if (feed == FEED_TOPIC) {
        run = RUN("--endpoint", s_endpoint(world), "oplog", "subscribe", "abcd", "--count", "1");
        CHECK(run.status == 2 && strstr(run.err, "64 hex digits"));
        cli_run_free(&run);
        topic[0] = topic[0] == 'f' ? 'e' : 'f';
        run = RUN("--endpoint", s_endpoint(world), "oplog", "subscribe", topic, "--count", "1");
        CHECK(run.status == 1 && strstr(run.err, "TopicAssociate"));
        cli_run_free(&run);
    } else {
        run = RUN("--endpoint", s_endpoint(world), "content", "subscribe", "--cursor", "99",
                  "--count", "1");
        CHECK(run.status == 1 && strstr(run.err, "ahead of"));
        cli_run_free(&run);
    }
    run = feed == FEED_TOPIC
              ? RUN("--endpoint", s_endpoint(world), "oplog", "subscribe", topic, "--count", "0")
              : RUN("--endpoint", s_endpoint(world), "content", "subscribe", "--count", "0");
    CHECK(run.status == 2);
    cli_run_free(&run);
    s_world_down(&world);
    CHECK(cli_run_failures == 0);
}

#define BOTH(name)                                                                                 \
    static void s_topic_##name(void) {                                                             \
        s_##name(FEED_TOPIC);                                                                      \
    }                                                                                              \
    static void s_content_##name(void) {                                                           \
        s_##name(FEED_CONTENT);                                                                    \
    }

BOTH(resume)
BOTH(from_now)
BOTH(kill9)
BOTH(never_reads)
BOTH(never_reused)
BOTH(bad_input)
BOTH(cli)

static const harness_test_t s_tests[] = {
    {"topic_resume", s_topic_resume},
    {"content_resume", s_content_resume},
    {"topic_from_now", s_topic_from_now},
    {"content_from_now", s_content_from_now},
    {"topic_kill9_resume", s_topic_kill9},
    {"content_kill9_resume", s_content_kill9},
    {"topic_never_reads", s_topic_never_reads},
    {"content_never_reads", s_content_never_reads},
    {"topic_never_reused", s_topic_never_reused},
    {"content_never_reused", s_content_never_reused},
    {"topic_big_body", s_topic_big_body},
    {"topic_bad_input", s_topic_bad_input},
    {"content_bad_input", s_content_bad_input},
    {"topic_cli", s_topic_cli},
    {"content_cli", s_content_cli},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.subscription_feeds", s_tests,
                        sizeof s_tests / sizeof s_tests[0]);
}

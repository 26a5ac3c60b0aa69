/*  =========================================================================
    e2e_subscriptions - MessageSubscribe against a real cairnd

    A subscriber's pushes, checked over the wire only: every message of its
    channel exactly once, in ascending seq, across disconnects and a kill -9
    of the node when it resumes with the cursor of the last push it
    processed; a subscriber that never reads is ended with "resume from
    cursor" while others go on; bad input; `cairn msg subscribe`. Message i
    carries the content "m<i>", from which the checks know which it is.
    Every loop is bounded by a count and a deadline.
    ========================================================================= */

#include "cli_run.h"
#include "harness.h"
#include "messages_fixture.h"
#include "subscriptions.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef CHECK
#define CHECK HARNESS_CHECK

#define CHANNEL     "#subs"
#define OTHER       "#other"
#define T0          1700000000.0
#define WAIT_MS     20000
#define DEADLINE_MS (180 * 1000)

typedef struct {
    zsock_t *socket;
    uint64_t request_id; //  the MessageSubscribe's: every push carries it
    uint64_t id;         //  the subscription's
    uint64_t cursor;     //  the last push processed
} subscriber_t;

//  ---- helpers ---------------------------------------------------------------------

//  Sends MessageSubscribe; the first answer (a push without messages) must
//  come back OK. A window of 0 and lease of 0 are the defaults.
static void s_subscribe(subscriber_t *sub, const char *endpoint, const char *channel,
                        uint64_t after, uint32_t window, uint32_t lease_ms) {
    sub->socket = harness_connect(endpoint);
    Cairn__MessageSubscribe subscribe = CAIRN__MESSAGE_SUBSCRIBE__INIT;
    subscribe.channel = (char *)channel;
    subscribe.after_seq = after;
    subscribe.window = window;
    subscribe.lease_ms = lease_ms;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = ca_caller_next_id();
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE;
    request.message_subscribe = &subscribe;
    Cairn__Response *response = harness_call(sub->socket, &request, WAIT_MS);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
    CHECK(response->message_subscribe->n_messages == 0);
    CHECK(response->message_subscribe->cursor == after);
    CHECK(!response->message_subscribe->ended);
    sub->request_id = request.id;
    sub->id = response->message_subscribe->subscription_id;
    sub->cursor = after;
    cairn__response__free_unpacked(response, NULL);
}

static void s_close(subscriber_t *sub) {
    zsock_destroy(&sub->socket);
}

//  The next push of `sub` (answers to acks are checked and skipped); NULL
//  after timeout_ms without one.
static Cairn__MessagePush *s_next_push(subscriber_t *sub, int timeout_ms,
                                       Cairn__Response **response_p) {
    int64_t deadline = zclock_mono() + timeout_ms;
    for (int n = 0; n < 100000 && zclock_mono() < deadline; n++) {
        Cairn__Response *response = harness_recv(sub->socket, (int)(deadline - zclock_mono() + 1));
        if (!response)
            return NULL;
        if (response->id == sub->request_id) {
            harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
            *response_p = response;
            return response->message_subscribe;
        }
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE_ACK);
        cairn__response__free_unpacked(response, NULL);
    }
    return NULL;
}

//  Marks each message of `push` in `seen` (index from its content "m<i>"):
//  each exactly once, seqs ascending after the subscriber's cursor. Then
//  the push is processed: the cursor moves and the push is acknowledged.
static size_t s_take(subscriber_t *sub, const Cairn__MessagePush *push, uint8_t *seen,
                     size_t total) {
    CHECK(!push->ended);
    CHECK(push->subscription_id == sub->id);
    CHECK(push->after == sub->cursor); //  no push lost on the way
    uint64_t last = sub->cursor;
    for (size_t i = 0; i < push->n_messages; i++) {
        const Cairn__SubscribedMessage *item = push->messages[i];
        CHECK(item->seq > last);
        last = item->seq;
        CHECK(streq(item->message->channel, CHANNEL));
        char text[32] = "";
        size_t length = item->message->content.len < sizeof text - 1 ? item->message->content.len
                                                                     : sizeof text - 1;
        memcpy(text, item->message->content.data, length);
        CHECK(text[0] == 'm');
        unsigned long index = strtoul(text + 1, NULL, 10);
        CHECK(index < total);
        if (seen[index])
            fprintf(stderr, "message m%lu (seq %" PRIu64 ") pushed twice\n", index, item->seq);
        CHECK(!seen[index]);
        seen[index] = 1;
    }
    CHECK(push->n_messages > 0 && push->cursor == last);
    sub->cursor = push->cursor;
    harness_subscribe_ack(sub->socket, sub->id, sub->cursor);
    return push->n_messages;
}

//  Stores messages [from, to) into `channel`, pipelined; every one must be
//  acknowledged OK.
static void s_store(zsock_t *client, const char *channel, unsigned from, unsigned to) {
    uint64_t first = 0;
    for (unsigned i = from; i < to; i++) {
        char id[CA_UUID_TEXT_LENGTH + 1], content[32];
        messages_fixture_uuid(id, streq(channel, CHANNEL) ? 1 : 2, i);
        snprintf(content, sizeof content, "m%u", i);
        Cairn__Message message;
        messages_fixture_message(&message, id, T0 + i, channel, content);
        Cairn__MessageStore store = CAIRN__MESSAGE_STORE__INIT;
        store.message = &message;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.id = ca_caller_next_id();
        if (!first)
            first = request.id;
        request.body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
        request.message_store = &store;
        CHECK(harness_send(client, &request) == 0);
    }
    for (unsigned i = from; i < to; i++) {
        Cairn__Response *response = harness_recv(client, WAIT_MS);
        CHECK(response);
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_STORE);
        cairn__response__free_unpacked(response, NULL);
    }
}

//  Reads pushes of `sub` until `want` messages in all were taken.
static void s_drain(subscriber_t *sub, uint8_t *seen, size_t total, size_t *taken, size_t want) {
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (*taken < want && zclock_mono() < deadline) {
        Cairn__Response *response = NULL;
        Cairn__MessagePush *push = s_next_push(sub, WAIT_MS, &response);
        if (!push)
            fprintf(stderr, "no push after %zu of %zu messages\n", *taken, want);
        CHECK(push);
        *taken += s_take(sub, push, seen, total);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(*taken >= want && *taken <= total);
}

static harness_node_t *s_node_with_channels(void) {
    static const char *const channels[] = {CHANNEL, OTHER, NULL};
    harness_node_t *node = messages_fixture_start(channels, NULL);
    CHECK(node);
    return node;
}

//  ---- tests ---------------------------------------------------------------------------

//  10,000 messages stored while a subscriber reads them; it disconnects three
//  times (dropping the pushes in flight) and resumes from its last cursor.
static void s_test_resume(void) {
    enum { TOTAL = 10000, ROUND = 500 };
    harness_node_t *node = s_node_with_channels();
    zsock_t *writer = harness_connect(harness_node_endpoint(node));
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    subscriber_t sub;
    s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, 0, 8, 0);
    size_t taken = 0, reconnects = 0;
    for (unsigned round = 0; round < TOTAL / ROUND; round++) {
        s_store(writer, CHANNEL, round * ROUND, (round + 1) * ROUND);
        s_store(writer, OTHER, round * 10, round * 10 + 10); //  never pushed to sub
        if (round % 5 == 4 && reconnects < 3) {
            //  Take one push, then go away with the rest in flight.
            Cairn__Response *response = NULL;
            Cairn__MessagePush *push = s_next_push(&sub, WAIT_MS, &response);
            CHECK(push);
            taken += s_take(&sub, push, seen, TOTAL);
            cairn__response__free_unpacked(response, NULL);
            s_close(&sub);
            s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, sub.cursor, 8, 0);
            reconnects++;
        }
        s_drain(&sub, seen, TOTAL, &taken, (round + 1) * ROUND);
    }
    CHECK(reconnects == 3);
    for (size_t i = 0; i < TOTAL; i++)
        CHECK(seen[i]);
    //  Nothing more comes: no duplicates after the end.
    Cairn__Response *response = NULL;
    CHECK(!s_next_push(&sub, 300, &response));
    free(seen);
    s_close(&sub);
    zsock_destroy(&writer);
    harness_node_down(&node);
}

//  A subscriber that never reads (and so never acknowledges) gets at most
//  its window, then is ended with "resume from cursor"; another subscriber
//  receives everything meanwhile.
static void s_test_never_reads(void) {
    enum { TOTAL = 600 };
    harness_node_t *node = s_node_with_channels();
    zsock_t *writer = harness_connect(harness_node_endpoint(node));
    subscriber_t idle, busy;
    s_subscribe(&idle, harness_node_endpoint(node), CHANNEL, 0, 2, CA_SUBSCRIPTION_LEASE_MIN_MS);
    s_subscribe(&busy, harness_node_endpoint(node), CHANNEL, 0, 0, 0);
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    size_t taken = 0;
    s_store(writer, CHANNEL, 0, TOTAL / 2);
    s_drain(&busy, seen, TOTAL, &taken, TOTAL / 2);
    s_store(writer, CHANNEL, TOTAL / 2, TOTAL);
    s_drain(&busy, seen, TOTAL, &taken, TOTAL);
    //  Now read what the idle one was sent: at most 2 pushes, then the end.
    size_t pushes = 0;
    bool ended = false;
    for (int n = 0; n < 10 && !ended; n++) {
        Cairn__Response *response = harness_recv(idle.socket, WAIT_MS);
        CHECK(response && response->id == idle.request_id);
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
        Cairn__MessagePush *push = response->message_subscribe;
        if (push->ended) {
            ended = true;
            CHECK(push->cursor == 0);
            CHECK(strstr(push->reason, "resume from cursor 0"));
        } else
            pushes++;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(ended && pushes <= 2);
    //  It is gone: an ack is NOT_FOUND, and the node serves on.
    Cairn__MessageSubscribeAck ack = CAIRN__MESSAGE_SUBSCRIBE_ACK__INIT;
    ack.subscription_id = idle.id;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK;
    request.message_subscribe_ack = &ack;
    harness_fails(harness_request(idle.socket, &request), CAIRN__STATUS__NOT_FOUND,
                  "subscribe again");
    harness_expect_alive(writer);
    free(seen);
    s_close(&idle);
    s_close(&busy);
    zsock_destroy(&writer);
    harness_node_down(&node);
}

//  kill -9 of the node while pushes flow; after the restart the subscriber
//  resumes from its cursor and gets the rest, each message once.
static void s_test_kill9(void) {
    enum { TOTAL = 3000 };
    harness_node_t *node = s_node_with_channels();
    zsock_t *writer = harness_connect(harness_node_endpoint(node));
    for (unsigned from = 0; from < TOTAL; from += 500)
        s_store(writer, CHANNEL, from, from + 500);
    zsock_destroy(&writer);
    uint8_t *seen = (uint8_t *)zmalloc(TOTAL);
    size_t taken = 0;
    subscriber_t sub;
    s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, 0, 4, 0);
    s_drain(&sub, seen, TOTAL, &taken, 1000);
    harness_node_kill9(node);
    s_close(&sub);
    CHECK(harness_node_restart(node) == 0);
    s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, sub.cursor, 4, 0);
    s_drain(&sub, seen, TOTAL, &taken, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        CHECK(seen[i]);
    free(seen);
    s_close(&sub);
    harness_node_down(&node);
}

static Cairn__Response *s_subscribe_call(zsock_t *client, const char *channel, uint64_t after,
                                         bool from_now, uint32_t window, uint32_t lease_ms) {
    Cairn__MessageSubscribe subscribe = CAIRN__MESSAGE_SUBSCRIBE__INIT;
    subscribe.channel = (char *)channel;
    subscribe.after_seq = after;
    subscribe.from_now = from_now;
    subscribe.window = window;
    subscribe.lease_ms = lease_ms;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE;
    request.message_subscribe = &subscribe;
    return harness_request(client, &request);
}

static void s_test_bad_input(void) {
    harness_node_t *node = s_node_with_channels();
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    s_store(client, CHANNEL, 0, 5);
    harness_fails(s_subscribe_call(client, "#nowhere", 0, false, 0, 0), CAIRN__STATUS__NOT_FOUND,
                  "does not exist");
    harness_fails(s_subscribe_call(client, "", 0, false, 0, 0), CAIRN__STATUS__INVALID,
                  "needs a channel");
    harness_fails(s_subscribe_call(client, CHANNEL, 3, true, 0, 0), CAIRN__STATUS__INVALID,
                  "not both");
    harness_fails(s_subscribe_call(client, CHANNEL, 1000000, false, 0, 0), CAIRN__STATUS__INVALID,
                  "ahead of this node's newest channel position (5)");
    harness_fails(s_subscribe_call(client, CHANNEL, 0, false, CA_SUBSCRIPTION_WINDOW_MAX + 1, 0),
                  CAIRN__STATUS__INVALID, "window must be");
    harness_fails(s_subscribe_call(client, CHANNEL, 0, false, 0, 10), CAIRN__STATUS__INVALID,
                  "lease_ms");
    //  A frame that is not protobuf, with the kind's field.
    static const uint8_t garbage[] = {0x08, 0x07, 0xfa, 0x0c, 0x03, 0xff, 0xff, 0xff};
    harness_fails_raw(client, garbage, sizeof garbage, 7, NULL);
    //  Ack and unsubscribe of unknown subscriptions.
    Cairn__MessageSubscribeAck ack = CAIRN__MESSAGE_SUBSCRIBE_ACK__INIT;
    ack.subscription_id = 999999;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK;
    request.message_subscribe_ack = &ack;
    harness_fails(harness_request(client, &request), CAIRN__STATUS__NOT_FOUND, "subscribe again");
    Cairn__MessageUnsubscribe unsubscribe = CAIRN__MESSAGE_UNSUBSCRIBE__INIT;
    unsubscribe.subscription_id = 999999;
    Cairn__Request stop = CAIRN__REQUEST__INIT;
    stop.body_case = CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
    stop.message_unsubscribe = &unsubscribe;
    harness_fails(harness_request(client, &stop), CAIRN__STATUS__NOT_FOUND, "no such");
    //  Too many on one connection: the 17th is BUSY.
    subscriber_t subs[CA_SUBSCRIPTIONS_PER_CLIENT];
    zsock_t *many = harness_connect(harness_node_endpoint(node));
    for (size_t i = 0; i < CA_SUBSCRIPTIONS_PER_CLIENT; i++) {
        Cairn__Response *response = s_subscribe_call(many, OTHER, 0, true, 0, 0);
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
        subs[i].id = response->message_subscribe->subscription_id;
        subs[i].cursor = response->message_subscribe->cursor;
        cairn__response__free_unpacked(response, NULL);
    }
    harness_fails(s_subscribe_call(many, OTHER, 0, true, 0, 0), CAIRN__STATUS__BUSY,
                  "unsubscribe some");
    //  Another connection may neither ack nor end them; their own may.
    ack.subscription_id = subs[0].id;
    ack.cursor = subs[0].cursor;
    harness_fails(harness_request(client, &request), CAIRN__STATUS__NOT_FOUND, "subscribe again");
    unsubscribe.subscription_id = subs[0].id;
    harness_fails(harness_request(client, &stop), CAIRN__STATUS__NOT_FOUND, "no such");
    ack.cursor = subs[0].cursor + 100;
    harness_fails(harness_request(many, &request), CAIRN__STATUS__INVALID, "beyond the last push");
    ack.cursor = subs[0].cursor;
    Cairn__Response *response = harness_request(many, &request);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE_ACK);
    CHECK(response->message_subscribe_ack->credit == CA_SUBSCRIPTION_WINDOW);
    cairn__response__free_unpacked(response, NULL);
    response = harness_request(many, &stop);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_UNSUBSCRIBE);
    cairn__response__free_unpacked(response, NULL);
    //  Now there is room for one more; the ended one is unknown.
    response = s_subscribe_call(many, OTHER, 0, true, 0, 0);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
    cairn__response__free_unpacked(response, NULL);
    harness_fails(harness_request(many, &request), CAIRN__STATUS__NOT_FOUND, "subscribe again");
    harness_expect_alive(client);
    zsock_destroy(&many);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  The node's cap: 1024 subscriptions over 64 connections, then BUSY naming
//  the node; ending one makes room.
static void s_test_node_cap(void) {
    enum { CONNECTIONS = CA_SUBSCRIPTIONS_PER_NODE / CA_SUBSCRIPTIONS_PER_CLIENT };
    harness_node_t *node = s_node_with_channels();
    zsock_t *clients[CONNECTIONS];
    uint64_t last = 0;
    for (size_t c = 0; c < CONNECTIONS; c++) {
        clients[c] = harness_connect(harness_node_endpoint(node));
        for (size_t i = 0; i < CA_SUBSCRIPTIONS_PER_CLIENT; i++) {
            Cairn__Response *response = s_subscribe_call(clients[c], OTHER, 0, true, 0, 0);
            harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
            last = response->message_subscribe->subscription_id;
            cairn__response__free_unpacked(response, NULL);
        }
    }
    zsock_t *one_more = harness_connect(harness_node_endpoint(node));
    harness_fails(s_subscribe_call(one_more, OTHER, 0, true, 0, 0), CAIRN__STATUS__BUSY,
                  "the node has 1024 subscriptions");
    Cairn__MessageUnsubscribe unsubscribe = CAIRN__MESSAGE_UNSUBSCRIBE__INIT;
    unsubscribe.subscription_id = last;
    Cairn__Request stop = CAIRN__REQUEST__INIT;
    stop.body_case = CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
    stop.message_unsubscribe = &unsubscribe;
    Cairn__Response *response = harness_request(clients[CONNECTIONS - 1], &stop);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_UNSUBSCRIBE);
    cairn__response__free_unpacked(response, NULL);
    response = s_subscribe_call(one_more, OTHER, 0, true, 0, 0);
    harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE);
    cairn__response__free_unpacked(response, NULL);
    harness_expect_alive(one_more);
    zsock_destroy(&one_more);
    for (size_t c = 0; c < CONNECTIONS; c++)
        zsock_destroy(&clients[c]);
    harness_node_down(&node);
}

//  A seq is never given twice: the newest messages deleted (MessageDelete
//  of everything before a timestamp takes the whole tail here), the next
//  message stored is numbered past the deleted ones, so a subscriber that
//  resumes from the cursor of the last push it had gets it (with rowids it
//  got the deleted message's seq and was never pushed; the cursor was
//  even refused as ahead of the newest).
static void s_test_seq_not_reused(void) {
    enum { FIRST = 5 };
    harness_node_t *node = s_node_with_channels();
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t seen[FIRST + 1] = {0};
    s_store(client, CHANNEL, 0, FIRST);
    subscriber_t sub;
    s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, 0, 8, 0);
    size_t taken = 0;
    s_drain(&sub, seen, FIRST + 1, &taken, FIRST);
    uint64_t cursor = sub.cursor;
    s_close(&sub);
    Cairn__MessageDelete erase = CAIRN__MESSAGE_DELETE__INIT;
    erase.channel = CHANNEL;
    erase.before = T0 + FIRST;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = ca_caller_next_id();
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_DELETE;
    request.message_delete = &erase;
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_MESSAGE_DELETE), NULL);
    s_store(client, CHANNEL, FIRST, FIRST + 1);
    s_subscribe(&sub, harness_node_endpoint(node), CHANNEL, cursor, 8, 0);
    s_drain(&sub, seen, FIRST + 1, &taken, FIRST + 1);
    CHECK(seen[FIRST] && sub.cursor > cursor);
    s_close(&sub);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  cairn msg subscribe CHANNEL --from 0 --count N prints N messages.
static void s_test_cli(void) {
    harness_node_t *node = s_node_with_channels();
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    for (unsigned i = 0; i < 5; i++) //  one at a time: m<i> is seq i + 1
        s_store(client, CHANNEL, i, i + 1);
    run_t run = RUN("--endpoint", harness_node_endpoint(node), "msg", "subscribe", CHANNEL,
                    "--from", "2", "--count", "3");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "3\t") && strstr(run.out, "\tm2\n") && strstr(run.out, "\tm4\n"));
    CHECK(!strstr(run.out, "\tm1\n"));
    CHECK(strstr(run.err, "resume with --from 5"));
    cli_run_free(&run);
    run = RUN("--endpoint", harness_node_endpoint(node), "msg", "subscribe", "#nowhere", "--count",
              "1");
    CHECK(run.status == 1 && strstr(run.err, "does not exist"));
    cli_run_free(&run);
    run =
        RUN("--endpoint", harness_node_endpoint(node), "msg", "subscribe", CHANNEL, "--count", "0");
    CHECK(run.status == 2);
    cli_run_free(&run);
    zsock_destroy(&client);
    harness_node_down(&node);
    CHECK(cli_run_failures == 0);
}

static const harness_test_t s_tests[] = {
    {"resume_10000", s_test_resume},
    {"never_reads", s_test_never_reads},
    {"kill9_resume", s_test_kill9},
    {"bad_input", s_test_bad_input},
    {"node_cap", s_test_node_cap},
    {"cli", s_test_cli},
    {"seq_not_reused", s_test_seq_not_reused},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.subscriptions", s_tests,
                        sizeof s_tests / sizeof s_tests[0]);
}

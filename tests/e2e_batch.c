/*  =========================================================================
    e2e_batch - black-box tests of Batch: several writes of several stores,
    all or nothing (schemas/batch.proto)

        e2e-batch TEST       runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir
    and talks to it only through its ZeroMQ endpoint. Waits are polls with
    timeouts, never sleeps.
    ========================================================================= */

#include "harness.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "oplog_fixture.h"

#include <stdio.h>
#include <string.h>

#define CHECK HARNESS_CHECK

#define RACE_ROUNDS     40
#define CRASH_BATCHES   400
#define CRASH_KEYS      4
#define CRASH_ACKED_MIN 20
#define WAIT_MS         30000

//  ---- building batches -------------------------------------------------------------

//  The requests of one Batch, packed as frames would carry them.
typedef struct {
    ProtobufCBinaryData items[CA_BATCH_REQUESTS_MAX + 2];
    size_t count;
} packed_t;

static void s_add(packed_t *packed, const Cairn__Request *request) {
    CHECK(packed->count < sizeof packed->items / sizeof packed->items[0]);
    ProtobufCBinaryData *item = &packed->items[packed->count++];
    item->len = cairn__request__get_packed_size(request);
    item->data = (uint8_t *)malloc(item->len ? item->len : 1);
    CHECK(item->data);
    cairn__request__pack(request, item->data);
}

static void s_add_raw(packed_t *packed, const void *data, size_t size) {
    CHECK(packed->count < sizeof packed->items / sizeof packed->items[0]);
    ProtobufCBinaryData *item = &packed->items[packed->count++];
    item->data = (uint8_t *)malloc(size ? size : 1);
    CHECK(item->data);
    memcpy(item->data, data, size);
    item->len = size;
}

static void s_add_config_set(packed_t *packed, uint64_t id, const char *key, const char *value) {
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, id, key, value);
    s_add(packed, &request);
}

//  Any 64 bytes: these tests create their channel unsigned.
static const uint8_t s_signature[64] = {0x11};

//  Message ids are UUIDs; the tests number theirs.
static void s_uuid(char *text, size_t size, int number) {
    snprintf(text, size, "00000000-0000-4000-8000-%012d", number);
}

static void s_add_message(packed_t *packed, uint64_t id, int number) {
    char message_id[40];
    s_uuid(message_id, sizeof message_id, number);
    Cairn__Request request;
    Cairn__MessageStore store;
    Cairn__Message message;
    ca_request_message_init(&message, message_id, 1700000000.0, "sender", "Sender", "#general",
                            "hello", s_signature, sizeof s_signature);
    ca_request_message_store(&request, &store, id, &message);
    s_add(packed, &request);
}

static void s_packed_free(packed_t *packed) {
    for (size_t i = 0; i < packed->count; i++)
        free(packed->items[i].data);
    packed->count = 0;
}

//  The Batch request of `packed` (which must outlive it).
static void s_batch_request(Cairn__Request *request, Cairn__Batch *batch, uint64_t id,
                            packed_t *packed) {
    cairn__request__init(request);
    cairn__batch__init(batch);
    batch->requests = packed->items;
    batch->n_requests = packed->count;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_BATCH;
    request->batch = batch;
}

static Cairn__Response *s_batch(zsock_t *client, packed_t *packed) {
    Cairn__Request request;
    Cairn__Batch batch;
    s_batch_request(&request, &batch, 0, packed);
    Cairn__Response *response = harness_request(client, &request);
    s_packed_free(packed);
    return response;
}

//  ---- reading back ------------------------------------------------------------------

//  The value of config key `key`, or NULL when absent (the caller frees).
static char *s_config_value(zsock_t *client, const char *key) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, 0, key, "");
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_CONFIG_VALUE);
    char *value = NULL;
    if (response->config_value->found) {
        value = (char *)calloc(1, response->config_value->value.len + 1);
        memcpy(value, response->config_value->value.data, response->config_value->value.len);
    }
    cairn__response__free_unpacked(response, NULL);
    return value;
}

static bool s_config_has(zsock_t *client, const char *key) {
    char *value = s_config_value(client, key);
    free(value);
    return value != NULL;
}

static void s_create_channel(zsock_t *client, const char *name) {
    Cairn__Request request;
    Cairn__ChannelCreate create;
    ca_request_channel_create(&request, &create, 0, name, false, "");
    //  Unsigned: these tests are about atomic batches; a signed message in
    //  a batch is tested in e2e_message_signatures.c.
    create.unsigned_messages = true;
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_CHANNEL_CREATE), NULL);
}

static bool s_message_exists(zsock_t *client, int number) {
    char message_id[40];
    s_uuid(message_id, sizeof message_id, number);
    Cairn__Request request;
    Cairn__MessageGet get;
    ca_request_message_get(&request, &get, 0, message_id);
    Cairn__Response *response = harness_request(client, &request);
    bool found = response->status == CAIRN__STATUS__OK;
    CHECK(found || response->status == CAIRN__STATUS__NOT_FOUND);
    cairn__response__free_unpacked(response, NULL);
    return found;
}

//  Response `index` of a BatchResult, decoded (the caller frees).
static Cairn__Response *s_inner(const Cairn__Response *response, size_t index) {
    CHECK(response->body_case == CAIRN__RESPONSE__BODY_BATCH);
    CHECK(index < response->batch->n_responses);
    ProtobufCBinaryData bytes = response->batch->responses[index];
    Cairn__Response *inner = cairn__response__unpack(NULL, bytes.len, bytes.data);
    CHECK(inner);
    return inner;
}

//  ---- tests -------------------------------------------------------------------------

//  Writes of three stores in one batch: each answered as it would be
//  alone, in order, with its own id; all stored, and still after a restart.
static void test_stores_all(void) {
    HARNESS_SESSION_UP(NULL);
    s_create_channel(client, "#general");
    packed_t packed = {0};
    s_add_config_set(&packed, 11, "batch.a", "1");
    s_add_config_set(&packed, 12, "batch.b", "2");
    s_add_message(&packed, 13, 1);
    Cairn__Request peer_request;
    Cairn__PeerPut put;
    Cairn__Peer peer;
    uint8_t key[32] = {7};
    ca_request_peer_init(&peer, "peer-1", key, "127.0.0.1", 7402, "Peer one");
    ca_request_peer_put(&peer_request, &put, 14, &peer, NULL);
    s_add(&packed, &peer_request);
    Cairn__Response *response = harness_ok(s_batch(client, &packed), CAIRN__RESPONSE__BODY_BATCH);
    CHECK(response->batch->n_responses == 4);
    const Cairn__Response__BodyCase bodies[] = {
        CAIRN__RESPONSE__BODY_CONFIG_SET, CAIRN__RESPONSE__BODY_CONFIG_SET,
        CAIRN__RESPONSE__BODY_MESSAGE_STORE, CAIRN__RESPONSE__BODY_PEER_PUT};
    for (size_t i = 0; i < 4; i++) {
        Cairn__Response *inner = s_inner(response, i);
        CHECK(inner->status == CAIRN__STATUS__OK && inner->id == 11 + i);
        CHECK(inner->body_case == bodies[i]);
        if (i == 0)
            CHECK(inner->config_set->created && streq(inner->config_set->key, "batch.a"));
        cairn__response__free_unpacked(inner, NULL);
    }
    cairn__response__free_unpacked(response, NULL);
    //  Answers packed up front follow what the transaction found: the key
    //  exists now (created = false), the other is new.
    s_add_config_set(&packed, 21, "batch.a", "3");
    s_add_config_set(&packed, 22, "batch.c", "4");
    response = harness_ok(s_batch(client, &packed), CAIRN__RESPONSE__BODY_BATCH);
    for (size_t i = 0; i < 2; i++) {
        Cairn__Response *inner = s_inner(response, i);
        CHECK(inner->status == CAIRN__STATUS__OK && inner->id == 21 + i);
        CHECK(inner->body_case == CAIRN__RESPONSE__BODY_CONFIG_SET);
        CHECK(inner->config_set->created == (i == 1));
        cairn__response__free_unpacked(inner, NULL);
    }
    cairn__response__free_unpacked(response, NULL);
    s_add_config_set(&packed, 1, "batch.a", "1");
    cairn__response__free_unpacked(
        harness_ok(s_batch(client, &packed), CAIRN__RESPONSE__BODY_BATCH), NULL);
    for (int round = 0; round < 2; round++) {
        char *a = s_config_value(client, "batch.a");
        char *b = s_config_value(client, "batch.b");
        CHECK(a && streq(a, "1") && b && streq(b, "2"));
        free(a);
        free(b);
        CHECK(s_message_exists(client, 1));
        if (round == 0)
            harness_session_restart(node, &client, &caller);
    }
    harness_session_down(&caller, &client, &node);
}

//  A request its store refuses before writing: the batch fails naming it,
//  and the requests before it are not stored.
static void test_refused_before_write(void) {
    HARNESS_SESSION_UP(NULL);
    packed_t packed = {0};
    s_add_config_set(&packed, 1, "before.ok", "1");
    s_add_config_set(&packed, 2, "../escape", "2");
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "request 2 of 2 (config_set)");
    CHECK(!s_config_has(client, "before.ok"));
    //  A store that answers NOT_FOUND: the channel does not exist.
    s_add_config_set(&packed, 1, "before.ok", "1");
    s_add_message(&packed, 2, 2);
    Cairn__Response *response = s_batch(client, &packed);
    CHECK(response->status != CAIRN__STATUS__OK);
    CHECK(strstr(response->error, "request 2 of 2 (message_store)"));
    cairn__response__free_unpacked(response, NULL);
    CHECK(!s_config_has(client, "before.ok") && !s_message_exists(client, 2));
    harness_session_down(&caller, &client, &node);
}

//  A request refused inside the transaction (a message id already
//  stored): the whole batch is rolled back, and the answer names it.
static void test_refused_inside(void) {
    HARNESS_SESSION_UP(NULL);
    s_create_channel(client, "#general");
    packed_t packed = {0};
    s_add_message(&packed, 1, 3);
    cairn__response__free_unpacked(
        harness_ok(s_batch(client, &packed), CAIRN__RESPONSE__BODY_BATCH), NULL);
    s_add_config_set(&packed, 1, "inside.a", "1");
    s_add_message(&packed, 2, 4);
    s_add_message(&packed, 3, 3);
    s_add_config_set(&packed, 4, "inside.b", "1");
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__CONFLICT,
                  "request 3 of 4 (message_store)");
    CHECK(!s_config_has(client, "inside.a") && !s_config_has(client, "inside.b"));
    CHECK(!s_message_exists(client, 4));
    //  The same message twice in one batch: the second meets the first.
    s_add_message(&packed, 1, 5);
    s_add_message(&packed, 2, 5);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__CONFLICT, "request 2 of 2");
    CHECK(!s_message_exists(client, 5));
    harness_session_down(&caller, &client, &node);
}

//  Malformed batches: each INVALID with what to do; the node keeps serving.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    packed_t packed = {0};
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "1 to 64 requests");
    for (int i = 0; i <= CA_BATCH_REQUESTS_MAX; i++)
        s_add_config_set(&packed, (uint64_t)i, "many", "1");
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "this one has 65");
    CHECK(!s_config_has(client, "many"));
    //  Bytes that are no Request, a truncated one, a Request with no body.
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
    s_add_raw(&packed, garbage, sizeof garbage);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "request 1 of 1");
    s_add_config_set(&packed, 1, "cut", "1");
    packed.items[0].len -= 2;
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "request 1 of 1");
    Cairn__Request empty = CAIRN__REQUEST__INIT;
    empty.id = 5;
    s_add(&packed, &empty);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "(no body) cannot be part");
    //  An unknown field is refused as in a frame.
    const uint8_t unknown[] = {0x08, 0x01, 0xf8, 0xff, 0x03, 0x01}; //  id 1, field 65535 = 1
    s_add_raw(&packed, unknown, sizeof unknown);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "request 1 of 1");
    //  A read, a nested batch, a kind with secrets or files.
    Cairn__Request read;
    Cairn__ConfigGet get;
    ca_request_config_get(&read, &get, 1, "x", "");
    s_add(&packed, &read);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID,
                  "(config_get) cannot be part of a batch");
    packed_t inner = {0};
    s_add_config_set(&inner, 1, "nested", "1");
    Cairn__Request nested;
    Cairn__Batch nested_batch;
    s_batch_request(&nested, &nested_batch, 2, &inner);
    s_add(&packed, &nested);
    s_packed_free(&inner);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "(batch) cannot be part");
    Cairn__Request put;
    Cairn__ContentPut content;
    ca_request_content_put(&put, &content, 3, "abc", 3, NULL, 0);
    s_add(&packed, &put);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, "(content_put) cannot be part");
    CHECK(!s_config_has(client, "nested"));
    //  A frame over the small-frame limit is refused by the gateway.
    static char big[64 * 1024];
    memset(big, 'v', sizeof big - 1);
    for (int i = 0; i < 17; i++)
        s_add_config_set(&packed, (uint64_t)i, "big", big);
    harness_fails(s_batch(client, &packed), CAIRN__STATUS__INVALID, NULL);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

//  Two clients race batches that each claim the same message id: for every
//  round exactly one wins, and nothing of the loser's batch is kept.
static void test_racing_writers(void) {
    HARNESS_SESSION_UP(NULL);
    s_create_channel(client, "#general");
    zsock_t *other = harness_node_connect(node);
    zsock_t *clients[2] = {client, other};
    for (int round = 0; round < RACE_ROUNDS; round++)
        for (int c = 0; c < 2; c++) {
            char key[64];
            snprintf(key, sizeof key, "race.%d.%d", round, c);
            packed_t packed = {0};
            s_add_config_set(&packed, 1, key, "won");
            s_add_message(&packed, 2, 100 + round);
            Cairn__Request request;
            Cairn__Batch batch;
            s_batch_request(&request, &batch, (uint64_t)(round * 2 + c + 1), &packed);
            CHECK(harness_send(clients[c], &request) == 0);
            s_packed_free(&packed);
        }
    size_t wins = 0;
    for (int c = 0; c < 2; c++)
        for (int n = 0; n < RACE_ROUNDS; n++) {
            Cairn__Response *response = harness_recv(clients[c], WAIT_MS);
            CHECK(response);
            CHECK(response->status == CAIRN__STATUS__OK ||
                  (response->status == CAIRN__STATUS__CONFLICT &&
                   strstr(response->error, "request 2 of 2 (message_store)")));
            wins += response->status == CAIRN__STATUS__OK;
            cairn__response__free_unpacked(response, NULL);
        }
    CHECK(wins == RACE_ROUNDS);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char key0[64], key1[64];
        snprintf(key0, sizeof key0, "race.%d.0", round);
        snprintf(key1, sizeof key1, "race.%d.1", round);
        CHECK(s_config_has(client, key0) != s_config_has(client, key1));
    }
    zsock_destroy(&other);
    harness_session_down(&caller, &client, &node);
}

//  kill -9 while batches stream in: after the restart every acknowledged
//  batch is whole, and every batch is whole or absent.
static void s_send_crash_batch(zsock_t *client, int b) {
    packed_t packed = {0};
    for (int k = 0; k < CRASH_KEYS; k++) {
        char key[64];
        snprintf(key, sizeof key, "crash.%d.%d", b, k);
        s_add_config_set(&packed, (uint64_t)k, key, "x");
    }
    Cairn__Request request;
    Cairn__Batch batch;
    s_batch_request(&request, &batch, (uint64_t)b + 1, &packed);
    CHECK(harness_send(client, &request) == 0);
    s_packed_free(&packed);
}

static void test_kill9(void) {
    HARNESS_SESSION_UP(NULL);
    size_t acked = 0;
    bool ack[CRASH_BATCHES] = {false};
    //  Half the batches, then their answers until enough are acknowledged;
    //  then the other half, and the kill lands while they are in flight.
    for (int b = 0; b < CRASH_BATCHES / 2; b++)
        s_send_crash_batch(client, b);
    Cairn__Response *response;
    for (int n = 0; n < CRASH_BATCHES / 2 && acked < CRASH_ACKED_MIN; n++) {
        response = harness_recv(client, WAIT_MS);
        CHECK(response && response->id >= 1 && response->id <= CRASH_BATCHES);
        if (response->status == CAIRN__STATUS__OK) {
            ack[response->id - 1] = true;
            acked++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    for (int b = CRASH_BATCHES / 2; b < CRASH_BATCHES; b++)
        s_send_crash_batch(client, b);
    while ((response = harness_recv(client, 0))) {
        if (response->status == CAIRN__STATUS__OK) {
            ack[response->id - 1] = true;
            acked++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(acked >= CRASH_ACKED_MIN);
    harness_node_kill9(node);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    harness_session_reopen(node, &client, &caller);
    size_t whole = 0;
    for (int b = 0; b < CRASH_BATCHES; b++) {
        int present = 0;
        for (int k = 0; k < CRASH_KEYS; k++) {
            char key[64];
            snprintf(key, sizeof key, "crash.%d.%d", b, k);
            present += s_config_has(client, key);
        }
        CHECK(present == 0 || present == CRASH_KEYS);
        CHECK(!ack[b] || present == CRASH_KEYS);
        whole += present == CRASH_KEYS;
    }
    CHECK(whole >= acked);
    harness_session_down(&caller, &client, &node);
}

//  ---- operation logs with their topic and cursor -------------------------------------

#define LOG_ROUNDS 25
#define LOG_ID     5

//  The latest entry's seq and hash of the log (false: empty).
static bool s_latest(zsock_t *client, const oplog_key_t *key, uint64_t *seq, uint8_t hash[32]) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__OplogLatest latest = CAIRN__OPLOG_LATEST__INIT;
    latest.author = (ProtobufCBinaryData){32, (uint8_t *)key->public_key};
    latest.log_id = LOG_ID;
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_LATEST;
    request.oplog_latest = &latest;
    Cairn__Response *response = harness_request(client, &request);
    bool found = response->status == CAIRN__STATUS__OK;
    CHECK(found || response->status == CAIRN__STATUS__NOT_FOUND);
    if (found) {
        *seq = response->oplog_latest->header->seq;
        memcpy(hash, response->oplog_latest->hash.data, 32);
    }
    cairn__response__free_unpacked(response, NULL);
    return found;
}

//  [append `op`, associate its log with `topic`, move cursor `cursor` to
//  its seq], packed.
static void s_add_log_step(packed_t *packed, const oplog_op_t *op, const uint8_t topic[32],
                           const char *cursor) {
    Cairn__Request request;
    Cairn__OplogAppend append;
    oplog_request_append(&request, &append, op);
    request.id = 1;
    s_add(packed, &request);
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = (ProtobufCBinaryData){32, (uint8_t *)op->author};
    log.log_id = LOG_ID;
    Cairn__TopicAssociate associate = CAIRN__TOPIC_ASSOCIATE__INIT;
    associate.topic = (ProtobufCBinaryData){32, (uint8_t *)topic};
    associate.log = &log;
    cairn__request__init(&request);
    request.id = 2;
    request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
    request.topic_associate = &associate;
    s_add(packed, &request);
    Cairn__CursorSet set = CAIRN__CURSOR_SET__INIT;
    set.name = (char *)cursor;
    set.log = &log;
    set.seq = op->header.seq;
    cairn__request__init(&request);
    request.id = 3;
    request.body_case = CAIRN__REQUEST__BODY_CURSOR_SET;
    request.cursor_set = &set;
    s_add(packed, &request);
}

//  The seq of cursor `name` in the log (-1: none).
static int64_t s_cursor(zsock_t *client, const oplog_key_t *key, const char *name) {
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = (ProtobufCBinaryData){32, (uint8_t *)key->public_key};
    log.log_id = LOG_ID;
    Cairn__CursorGet get = CAIRN__CURSOR_GET__INIT;
    get.name = (char *)name;
    get.log = &log;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_CURSOR_GET;
    request.cursor_get = &get;
    Cairn__Response *response = harness_request(client, &request);
    int64_t seq = -1;
    if (response->status == CAIRN__STATUS__OK)
        seq = (int64_t)response->cursor_get->seq;
    else
        CHECK(response->status == CAIRN__STATUS__NOT_FOUND);
    cairn__response__free_unpacked(response, NULL);
    return seq;
}

//  Two writers, each round: read the log's latest entry, then one batch
//  that appends the next operation, associates the log with a topic and
//  moves the writer's cursor. Exactly one wins each seq; the loser's batch
//  leaves nothing (its cursor does not move), and the log is one chain.
static void test_oplog_topic_cursor(void) {
    const char *args[] = {"--workers", "2", NULL};
    HARNESS_SESSION_UP(args);
    zsock_t *other = harness_node_connect(node);
    zsock_t *clients[2] = {client, other};
    const char *cursors[2] = {"writer-0", "writer-1"};
    oplog_key_t key;
    oplog_key(3, &key);
    uint8_t topic[32];
    memset(topic, 0x7a, sizeof topic);
    int64_t last_won[2] = {-1, -1};
    uint64_t time_us = 1700000000000000ULL;
    for (int round = 0; round < LOG_ROUNDS; round++) {
        uint64_t seq = 0;
        uint8_t backlink[32];
        bool any = s_latest(client, &key, &seq, backlink);
        CHECK(any == (round > 0) && (!any || seq == (uint64_t)round - 1));
        oplog_op_t ops[2];
        for (int c = 0; c < 2; c++) {
            oplog_op_make(&ops[c], &key, LOG_ID, any ? seq + 1 : 0, any ? backlink : NULL, 16,
                          (uint64_t)(round * 2 + c), NULL, 0, time_us++);
            packed_t packed = {0};
            s_add_log_step(&packed, &ops[c], topic, cursors[c]);
            Cairn__Request request;
            Cairn__Batch batch;
            s_batch_request(&request, &batch, (uint64_t)round + 1, &packed);
            CHECK(harness_send(clients[c], &request) == 0);
            s_packed_free(&packed);
        }
        int winner = -1;
        for (int c = 0; c < 2; c++) {
            Cairn__Response *response = harness_recv(clients[c], WAIT_MS);
            CHECK(response && response->id == (uint64_t)round + 1);
            if (response->status == CAIRN__STATUS__OK) {
                CHECK(winner == -1);
                winner = c;
                CHECK(response->batch->n_responses == 3);
                Cairn__Response *appended = s_inner(response, 0);
                CHECK(appended->body_case == CAIRN__RESPONSE__BODY_OPLOG_APPEND);
                CHECK(memcmp(appended->oplog_append->hash.data, ops[c].hash, 32) == 0);
                cairn__response__free_unpacked(appended, NULL);
            } else {
                CHECK(response->status == CAIRN__STATUS__CONFLICT);
                CHECK(strstr(response->error, "request 1 of 3 (oplog_append)"));
            }
            cairn__response__free_unpacked(response, NULL);
        }
        CHECK(winner >= 0);
        last_won[winner] = (int64_t)ops[winner].header.seq;
        oplog_op_free(&ops[0]);
        oplog_op_free(&ops[1]);
        for (int c = 0; c < 2; c++)
            CHECK(s_cursor(client, &key, cursors[c]) == last_won[c]);
    }
    uint64_t seq = 0;
    uint8_t hash[32];
    CHECK(s_latest(client, &key, &seq, hash) && seq == LOG_ROUNDS - 1);
    zsock_destroy(&other);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"stores_all", test_stores_all},
    {"refused_before_write", test_refused_before_write},
    {"refused_inside", test_refused_inside},
    {"bad_input", test_bad_input},
    {"racing_writers", test_racing_writers},
    {"kill9", test_kill9},
    {"oplog_topic_cursor", test_oplog_topic_cursor},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.batch", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

/*  =========================================================================
    e2e_sync - set reconciliation (schemas/sync.proto): cairn's negentropy
    against an independent implementation, and the node under bad input

        e2e-sync TEST      runs one test (ctest registers each by name)

    The independent implementation is the Negentropy class of the
    nostr-tools npm package, driven over ZeroMQ (the zeromq npm package) by
    tests/js/negentropy_peer.mjs, in both directions: the script initiates
    against the node's SyncReconcile; cairn's initiator (ca_negentropy)
    initiates against the script. The sets overlap by 0%, 1%, 50% and
    100%, and the differences found must equal the true ones. Tests that
    need Node.js skip with a note when `node` is not installed
    (deploy/install-deps installs it and the npm packages); with node but
    without tests/js/node_modules they fail, saying how to install them.
    ========================================================================= */

#include "harness.h"
#include "cli_run.h"
#include "ca_hash.h"
#include "ca_negentropy.h"
#include "ca_validate.h"
#include "messages.h"
#include "messages_fixture.h"
#include "oplog_fixture.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#undef CHECK
#define CHECK HARNESS_CHECK

#define SET_SIZE     300 //  items on each side
#define CHANNEL      "#sync"
#define SET_NAME     "channel:#sync"
#define BASE_TIME    1700000000.0
#define SCRIPT       CAIRN_SOURCE_DIR "/tests/js/negentropy_peer.mjs"
#define NODE_MODULES CAIRN_SOURCE_DIR "/tests/js/node_modules/zeromq"
#define JS_TIMEOUT   60000

extern char **environ;

typedef struct {
    uint64_t timestamp;
    uint8_t id[CA_NEG_ID_BYTES];
    char uuid[CA_UUID_TEXT_LENGTH + 1]; //  "" for an item only the client has
} item_t;

//  The two sides of one case and the true differences.
typedef struct {
    item_t node[SET_SIZE];
    item_t client[SET_SIZE];
    ca_neg_ids_t only_client; //  what the client has and the node lacks
    ca_neg_ids_t only_node;
} sides_t;

static const unsigned s_overlaps[] = {0, 1, 50, 100}; //  percent shared

//  Node item i: message uuid (7, i), timestamp BASE + i/4 (+0.5: whole
//  seconds are the key, so four messages share each).
static void s_node_item(item_t *item, unsigned i) {
    messages_fixture_uuid(item->uuid, 7, i);
    item->timestamp = (uint64_t)floor(BASE_TIME + i / 4 + 0.5);
    ca_sha256(item->uuid, CA_UUID_TEXT_LENGTH, item->id);
}

//  The client shares node item i when i % 100 < percent; its other items
//  are its own, interleaved in time.
static void s_sides(sides_t *sides, unsigned percent) {
    memset(sides, 0, sizeof *sides);
    for (unsigned i = 0; i < SET_SIZE; i++) {
        s_node_item(&sides->node[i], i);
        if (i % 100 < percent) {
            sides->client[i] = sides->node[i];
            continue;
        }
        char text[32];
        snprintf(text, sizeof text, "client-only %u", i);
        item_t *own = &sides->client[i];
        own->timestamp = (uint64_t)BASE_TIME + i / 3;
        ca_sha256(text, strlen(text), own->id);
    }
}

static void s_ids_add(ca_neg_ids_t *ids, const uint8_t id[CA_NEG_ID_BYTES]) {
    if (ids->count == ids->capacity) {
        ids->capacity = ids->capacity ? ids->capacity * 2 : 64;
        ids->ids = realloc(ids->ids, ids->capacity * CA_NEG_ID_BYTES);
        CHECK(ids->ids);
    }
    memcpy(ids->ids[ids->count++], id, CA_NEG_ID_BYTES);
}

static void s_truth(sides_t *sides, unsigned percent) {
    s_sides(sides, percent);
    for (unsigned i = 0; i < SET_SIZE; i++)
        if (i % 100 >= percent) {
            s_ids_add(&sides->only_client, sides->client[i].id);
            s_ids_add(&sides->only_node, sides->node[i].id);
        }
    ca_neg_ids_sort(&sides->only_client);
    ca_neg_ids_sort(&sides->only_node);
}

static void s_sides_free(sides_t *sides) {
    ca_neg_ids_free(&sides->only_client);
    ca_neg_ids_free(&sides->only_node);
}

//  Writes "TIMESTAMP HEXID" lines (or "TIMESTAMP UUID" when by_uuid and
//  the item is a message) to a new file in dir; returns its path (free it).
static char *s_items_file(const char *dir, const char *name, const item_t *items, bool by_uuid) {
    char *path = zsys_sprintf("%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    CHECK(file);
    for (unsigned i = 0; i < SET_SIZE; i++) {
        char hex[2 * CA_NEG_ID_BYTES + 1];
        ca_hash_to_hex(items[i].id, hex);
        fprintf(file, "%llu %s\n", (unsigned long long)items[i].timestamp,
                by_uuid && items[i].uuid[0] ? items[i].uuid : hex);
    }
    CHECK(fclose(file) == 0);
    return path;
}

//  The JSON array of hex ids equals ids (sorted, unique).
static bool s_json_ids_equal(json_t *array, const ca_neg_ids_t *ids) {
    if (!json_is_array(array) || json_array_size(array) != ids->count) {
        fprintf(stderr, "expected %zu ids, got %zu\n", ids->count, json_array_size(array));
        return false;
    }
    ca_neg_ids_t got = {0};
    for (size_t i = 0; i < json_array_size(array); i++) {
        uint8_t id[CA_NEG_ID_BYTES];
        const char *hex = json_string_value(json_array_get(array, i));
        CHECK(hex && ca_hash_from_hex(hex, id));
        s_ids_add(&got, id);
    }
    ca_neg_ids_sort(&got);
    bool equal = got.count == ids->count &&
                 (got.count == 0 || memcmp(got.ids, ids->ids, got.count * CA_NEG_ID_BYTES) == 0);
    ca_neg_ids_free(&got);
    return equal;
}

//  Node.js to run the script, or NULL (with a note) when it is not there.
static char *s_node_js(void) {
    char *node = harness_which("node");
    if (!node) {
        printf("SKIPPED: Node.js (`node`) is not installed; deploy/install-deps installs it and "
               "the npm packages of tests/js\n");
        return NULL;
    }
    if (access(NODE_MODULES, R_OK) != 0) {
        fprintf(stderr, "tests/js/node_modules is missing: run `npm ci` in tests/js (or "
                        "deploy/install-deps)\n");
        CHECK(!"npm packages of tests/js installed");
    }
    return node;
}

//  Stores the node's side of `sides` as messages of #sync.
static void s_store_node_side(ca_caller_t *caller, const sides_t *sides) {
    for (unsigned i = 0; i < SET_SIZE; i++) {
        Cairn__Message message;
        messages_fixture_message(&message, sides->node[i].uuid, BASE_TIME + i / 4 + 0.5, CHANNEL,
                                 "hello");
        Cairn__Response *response = messages_fixture_store(caller, &message);
        harness_ok(response, CAIRN__RESPONSE__BODY_MESSAGE_STORE);
        cairn__response__free_unpacked(response, NULL);
    }
}

static const char *const s_channels[] = {CHANNEL, NULL};

//  A node whose #sync holds the node side of the sets (the same for
//  every overlap), a socket and a caller to it.
static harness_node_t *s_start_node(zsock_t **client_p, ca_caller_t **caller_p) {
    harness_node_t *node = messages_fixture_start(s_channels, NULL);
    *client_p = harness_connect(harness_node_endpoint(node));
    *caller_p = ca_caller_new_socket(*client_p, HARNESS_CALL_MS);
    sides_t *sides = calloc(1, sizeof *sides);
    CHECK(sides);
    s_truth(sides, 0);
    s_store_node_side(*caller_p, sides);
    s_sides_free(sides);
    free(sides);
    return node;
}

//  The script initiates against the node (SyncReconcile), at two frame
//  limits (4096 forces many rounds), on each overlap.
static void test_js_initiates(void) {
    char *node_js = s_node_js();
    if (!node_js)
        return;
    zsock_t *client;
    ca_caller_t *caller;
    harness_node_t *node = s_start_node(&client, &caller);
    sides_t *sides = calloc(1, sizeof *sides);
    for (size_t o = 0; o < sizeof s_overlaps / sizeof s_overlaps[0]; o++) {
        s_truth(sides, s_overlaps[o]);
        char *items =
            s_items_file(harness_node_data_dir(node), "client-items", sides->client, false);
        const char *limits[] = {"60000", "4096"};
        for (size_t l = 0; l < 2; l++) {
            harness_run_t run =
                harness_run(node_js,
                            (const char *const[]){SCRIPT, "initiate", harness_node_endpoint(node),
                                                  SET_NAME, items, limits[l], NULL},
                            NULL, JS_TIMEOUT);
            if (run.status != 0)
                fprintf(stderr, "script: %s%s\n", run.out, run.err);
            CHECK(run.status == 0);
            json_t *result = json_loads(run.out, 0, NULL);
            CHECK(result);
            printf("  overlap %u%%, limit %s: %lld rounds, %lld bytes sent, %lld received\n",
                   s_overlaps[o], limits[l],
                   (long long)json_integer_value(json_object_get(result, "rounds")),
                   (long long)json_integer_value(json_object_get(result, "sent")),
                   (long long)json_integer_value(json_object_get(result, "received")));
            CHECK(s_json_ids_equal(json_object_get(result, "have"), &sides->only_client));
            CHECK(s_json_ids_equal(json_object_get(result, "need"), &sides->only_node));
            json_decref(result);
            harness_run_free(&run);
        }
        free(items);
        s_sides_free(sides);
    }
    free(sides);
    free(node_js);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

//  Starts the script as a responder on `endpoint`; returns its pid.
static pid_t s_spawn_responder(const char *node_js, const char *endpoint, const char *items,
                               const char *out_path, const char *limit) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT, 0600);
    char *const argv[] = {(char *)node_js, (char *)SCRIPT, "respond", (char *)endpoint,
                          (char *)items,   (char *)limit,  NULL};
    pid_t pid = 0;
    CHECK(posix_spawn(&pid, node_js, &actions, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

//  cairn's initiator against the script's responder (REQ/REP). The
//  nostr-tools class reports differences on the side that reads an id
//  list, so the union of both sides' findings must be the truth.
static void test_cairn_initiates_js(void) {
    char *node_js = s_node_js();
    if (!node_js)
        return;
    char dir[] = "/tmp/cairn-sync-XXXXXX";
    CHECK(mkdtemp(dir));
    const char *limits[] = {"60000", "4096"};
    for (size_t o = 0; o < sizeof s_overlaps / sizeof s_overlaps[0]; o++)
        for (size_t l = 0; l < 2; l++) {
            sides_t *sides = calloc(1, sizeof *sides);
            s_truth(sides, s_overlaps[o]);
            char *items = s_items_file(dir, "js-items", sides->node, false);
            char *out_path = zsys_sprintf("%s/js-out", dir);
            char *endpoint = zsys_sprintf("tcp://127.0.0.1:%d", harness_free_port());
            pid_t pid = s_spawn_responder(node_js, endpoint, items, out_path, limits[l]);
            zsock_t *req = zsock_new_req(endpoint);
            CHECK(req);
            zsock_set_rcvtimeo(req, JS_TIMEOUT);
            ca_neg_set_t *set = ca_neg_set_new();
            for (unsigned i = 0; i < SET_SIZE; i++)
                CHECK(ca_neg_set_add(set, sides->client[i].timestamp, sides->client[i].id) == 0);
            char err[CA_NEG_ERR_BYTES];
            CHECK(ca_neg_set_seal(set, err) == 0);
            ca_neg_opts_t opts = {true, (size_t)atoi(limits[l])};
            ca_neg_buf_t query = {0};
            ca_neg_ids_t have = {0}, need = {0};
            CHECK(ca_neg_initiate(set, &opts, &query, err) == 0);
            unsigned rounds = 0;
            size_t sent = 0, received = 0;
            while (query.size) {
                CHECK(++rounds < 200);
                sent += query.size;
                CHECK(zsock_send(req, "b", query.data, query.size) == 0);
                zframe_t *frame = zframe_recv(req);
                CHECK(frame); //  NULL: the script did not answer in time
                received += zframe_size(frame);
                if (zframe_size(frame) >= 6 && memcmp(zframe_data(frame), "ERROR ", 6) == 0)
                    fprintf(stderr, "script refused: %.*s\n", (int)zframe_size(frame),
                            (char *)zframe_data(frame));
                if (zframe_size(frame) == 0) {
                    zframe_destroy(&frame);
                    break; //  the script had nothing more to say
                }
                int rc = ca_neg_reconcile(set, &opts, zframe_data(frame), zframe_size(frame),
                                          &query, &have, &need, err);
                if (rc)
                    fprintf(stderr, "cairn refused the script's message: %s\n", err);
                CHECK(rc == 0);
                zframe_destroy(&frame);
            }
            CHECK(zstr_send(req, "END") == 0);
            char *js = zstr_recv(req);
            CHECK(js);
            json_t *result = json_loads(js, 0, NULL);
            CHECK(result);
            //  The script's have is the node side's: what cairn needs.
            json_t *js_have = json_object_get(result, "have"),
                   *js_need = json_object_get(result, "need");
            for (size_t i = 0; i < json_array_size(js_need); i++) {
                uint8_t id[CA_NEG_ID_BYTES];
                CHECK(ca_hash_from_hex(json_string_value(json_array_get(js_need, i)), id));
                s_ids_add(&have, id);
            }
            for (size_t i = 0; i < json_array_size(js_have); i++) {
                uint8_t id[CA_NEG_ID_BYTES];
                CHECK(ca_hash_from_hex(json_string_value(json_array_get(js_have, i)), id));
                s_ids_add(&need, id);
            }
            ca_neg_ids_sort(&have);
            ca_neg_ids_sort(&need);
            printf("  overlap %u%%, limit %s: %u rounds, %zu bytes sent, %zu received\n",
                   s_overlaps[o], limits[l], rounds, sent, received);
            CHECK(have.count == sides->only_client.count &&
                  (!have.count ||
                   memcmp(have.ids, sides->only_client.ids, have.count * CA_NEG_ID_BYTES) == 0));
            CHECK(need.count == sides->only_node.count &&
                  (!need.count ||
                   memcmp(need.ids, sides->only_node.ids, need.count * CA_NEG_ID_BYTES) == 0));
            int status = -1;
            CHECK(harness_wait_child(pid, JS_TIMEOUT, &status) == 0 && status == 0);
            json_decref(result);
            zstr_free(&js);
            zsock_destroy(&req);
            ca_neg_buf_free(&query);
            ca_neg_ids_free(&have);
            ca_neg_ids_free(&need);
            ca_neg_set_destroy(&set);
            unlink(items);
            unlink(out_path);
            free(items);
            free(out_path);
            free(endpoint);
            s_sides_free(sides);
            free(sides);
        }
    rmdir(dir);
    free(node_js);
}

//  `cairn sync` (cairn's initiator in the CLI) against the node, with the
//  client's items given by message UUID.
static void test_cli(void) {
    zsock_t *client;
    ca_caller_t *caller;
    harness_node_t *node = s_start_node(&client, &caller);
    sides_t *sides = calloc(1, sizeof *sides);
    for (size_t o = 0; o < sizeof s_overlaps / sizeof s_overlaps[0]; o++) {
        s_truth(sides, s_overlaps[o]);
        char *items = s_items_file(harness_node_data_dir(node), "cli-items", sides->client, true);
        const char *limit = o % 2 ? "4096" : "60000";
        run_t run = RUN("--endpoint", harness_node_endpoint(node), "--json", "sync", "--client-set",
                        SET_NAME, "--items", items, "--frame-limit", limit, "--dry-run");
        json_t *result = cli_run_json_ok(run);
        CHECK(result);
        CHECK(s_json_ids_equal(json_object_get(result, "have"), &sides->only_client));
        CHECK(s_json_ids_equal(json_object_get(result, "need"), &sides->only_node));
        CHECK(cli_json_int(result, "items_node") == SET_SIZE);
        json_decref(result);
        free(items);
        s_sides_free(sides);
    }
    //  Text output, and the usage and node errors.
    cli_expect_ok(RUN("--endpoint", harness_node_endpoint(node), "sync", "--client-set", SET_NAME),
                  "need 300 (on the node, not here)");
    cli_expect_fail(
        RUN("--endpoint", harness_node_endpoint(node), "sync", "--client-set", "channel:#nope"), 1,
        "not_found");
    cli_expect_fail(RUN("--endpoint", harness_node_endpoint(node), "sync", "--client-set", "x"), 1,
                    "invalid: unknown set");
    cli_expect_fail(RUN("--endpoint", harness_node_endpoint(node), "sync", "--client-set",
                        "content", "--items", "/nonexistent/items"),
                    2, "cannot open --items");
    CHECK(cli_run_failures == 0);
    free(sides);
    harness_session_down(&caller, &client, &node);
}

static Cairn__Response *s_reconcile(zsock_t *client, const char *set, const uint8_t *message,
                                    size_t size, uint32_t limit) {
    Cairn__Request request;
    cairn__request__init(&request);
    Cairn__SyncReconcile body;
    cairn__sync_reconcile__init(&body);
    body.set = (char *)set;
    body.message.data = (uint8_t *)message;
    body.message.len = size;
    body.frame_size_limit = limit;
    request.body_case = CAIRN__REQUEST__BODY_SYNC_RECONCILE;
    request.sync_reconcile = &body;
    return harness_request(client, &request);
}

//  A topic's operations as a set ("topic:<hex>"): items (0, operation
//  hash) of the logs the topic names; a client holding some of them and
//  one of its own learns exactly the differences.
static void test_topic_set(void) {
    zsock_t *client;
    ca_caller_t *caller;
    harness_node_t *node = s_start_node(&client, &caller);
    enum { OPS = 6 };
    oplog_key_t key;
    oplog_key(7, &key);
    oplog_op_t ops[OPS];
    for (int i = 0; i < OPS; i++) {
        oplog_op_make(&ops[i], &key, 3, (uint64_t)i, i ? ops[i - 1].hash : NULL, 16, (uint64_t)i,
                      NULL, 0, 1700000000000000ULL + (uint64_t)i);
        Cairn__Request request = CAIRN__REQUEST__INIT;
        Cairn__OplogAppend append;
        oplog_request_append(&request, &append, &ops[i]);
        cairn__response__free_unpacked(
            harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_OPLOG_APPEND),
            NULL);
    }
    uint8_t topic[32];
    memset(topic, 0x5a, sizeof topic);
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = (ProtobufCBinaryData){32, key.public_key};
    log.log_id = 3;
    Cairn__TopicAssociate associate = CAIRN__TOPIC_ASSOCIATE__INIT;
    associate.topic = (ProtobufCBinaryData){32, topic};
    associate.log = &log;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
    request.topic_associate = &associate;
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_TOPIC_ASSOCIATE), NULL);
    //  The client holds ops 0..3 and one hash of its own.
    char *items = zsys_sprintf("%s/topic-items", harness_node_data_dir(node));
    FILE *file = fopen(items, "w");
    CHECK(file);
    char hex[65];
    for (int i = 0; i < 4; i++) {
        ca_hash_to_hex(ops[i].hash, hex);
        fprintf(file, "0 %s\n", hex);
    }
    uint8_t own[32];
    memset(own, 0x11, sizeof own);
    ca_hash_to_hex(own, hex);
    fprintf(file, "0 %s\n", hex);
    CHECK(fclose(file) == 0);
    char topic_hex[65], set[80];
    ca_hash_to_hex(topic, topic_hex);
    snprintf(set, sizeof set, "topic:%s", topic_hex);
    json_t *result = cli_run_json_ok(RUN("--endpoint", harness_node_endpoint(node), "--json",
                                         "sync", "--client-set", set, "--items", items));
    json_t *have = json_object_get(result, "have"), *need = json_object_get(result, "need");
    CHECK(cli_json_int(result, "items_node") == OPS);
    CHECK(json_array_size(have) == 1 && streq(json_string_value(json_array_get(have, 0)), hex));
    CHECK(json_array_size(need) == 2);
    for (size_t i = 0; i < json_array_size(need); i++) {
        char want[65];
        ca_hash_to_hex(ops[4 + i].hash, want);
        bool found = false;
        for (size_t k = 0; k < json_array_size(need); k++)
            found |= streq(json_string_value(json_array_get(need, k)), want);
        CHECK(found);
    }
    json_decref(result);
    //  A topic nobody associated: an empty set; a malformed topic: INVALID.
    char empty[80];
    snprintf(empty, sizeof empty, "topic:%064d", 0);
    result = cli_run_json_ok(RUN("--endpoint", harness_node_endpoint(node), "--json", "sync",
                                 "--client-set", empty, "--items", items));
    CHECK(cli_json_int(result, "items_node") == 0);
    json_decref(result);
    cli_expect_fail(
        RUN("--endpoint", harness_node_endpoint(node), "sync", "--client-set", "topic:abc"), 1,
        "invalid: ");
    for (int i = 0; i < OPS; i++)
        oplog_op_free(&ops[i]);
    zstr_free(&items);
    CHECK(cli_run_failures == 0);
    harness_session_down(&caller, &client, &node);
}

//  Malformed messages, wrong versions, bad sets and limits, oversize
//  messages and endless splitting: INVALID with a message, and the node
//  keeps serving; every answer stays within the frame limit.
static void test_bad_input(void) {
    zsock_t *client;
    ca_caller_t *caller;
    harness_node_t *node = s_start_node(&client, &caller);

    struct {
        const char *hex;
        const char *fragment;
    } bad[] = {
        {"", "empty negentropy message"},
        {"ff", "not a negentropy message"},
        {"6100", "ends inside a varint"},
        {"61000003", "unknown negentropy mode 3"},
        {"610021", "longer than 32 bytes"},
        {"61000001aabb", "ends inside a range"},
        {"6100000205", "id list count larger"},
        {"61ffffffffffffffffffff7f", "varint longer than 64 bits"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t message[64];
        size_t size = strlen(bad[i].hex) / 2;
        for (size_t at = 0; at < size; at++)
            sscanf(bad[i].hex + 2 * at, "%2hhx", &message[at]);
        harness_fails(s_reconcile(client, SET_NAME, message, size, 0), CAIRN__STATUS__INVALID,
                      bad[i].fragment);
    }
    //  Another version in 0x60..0x6f: answered "I speak 0x61".
    uint8_t v2 = 0x62;
    Cairn__Response *response =
        harness_ok(s_reconcile(client, SET_NAME, &v2, 1, 0), CAIRN__RESPONSE__BODY_SYNC_RECONCILE);
    CHECK(response->sync_reconcile->message.len == 1 &&
          response->sync_reconcile->message.data[0] == 0x61);
    cairn__response__free_unpacked(response, NULL);
    //  Sets and limits.
    uint8_t empty_query[] = {0x61};
    harness_fails(s_reconcile(client, "channel:#nope", empty_query, 1, 0), CAIRN__STATUS__NOT_FOUND,
                  "does not exist");
    harness_fails(s_reconcile(client, "channel:nohash", empty_query, 1, 0), CAIRN__STATUS__INVALID,
                  "set \"channel:nohash\"");
    harness_fails(s_reconcile(client, "everything", empty_query, 1, 0), CAIRN__STATUS__INVALID,
                  "unknown set");
    harness_fails(s_reconcile(client, SET_NAME, empty_query, 1, 100), CAIRN__STATUS__INVALID,
                  "frame_size_limit 100 is outside");
    harness_fails(s_reconcile(client, SET_NAME, empty_query, 1, 1000000), CAIRN__STATUS__INVALID,
                  "frame_size_limit 1000000 is outside");
    size_t big_size = 600 * 1024;
    uint8_t *big = calloc(1, big_size);
    big[0] = 0x61;
    harness_fails(s_reconcile(client, SET_NAME, big, big_size, 0), CAIRN__STATUS__INVALID,
                  "more than 524288");
    //  A message of tens of thousands of ranges (each "bound +1 s, Fingerprint
    //  of zeros"): the node splits every one it can, the answer stays within
    //  the limit, whatever the client asks for.
    size_t at = 0;
    big[at++] = 0x61;
    while (at + 20 < 500 * 1024) {
        big[at++] = 0x02; //  timestamp delta 1
        big[at++] = 0x00; //  no id prefix
        big[at++] = 0x01; //  Fingerprint
        memset(big + at, 0, CA_NEG_FP_BYTES);
        at += CA_NEG_FP_BYTES;
    }
    for (int round = 0; round < 50; round++) {
        response = harness_ok(s_reconcile(client, SET_NAME, big, at, 4096),
                              CAIRN__RESPONSE__BODY_SYNC_RECONCILE);
        CHECK(response->sync_reconcile->message.len <= 4096);
        cairn__response__free_unpacked(response, NULL);
    }
    //  Endless splitting: a client that always answers a differing
    //  fingerprint for the whole set gets a bounded answer every round.
    uint8_t split[] = {0x61, 0x00, 0x00, 0x01, 1,  2,  3,  4,  5,  6,
                       7,    8,    9,    10,   11, 12, 13, 14, 15, 16};
    for (int round = 0; round < 200; round++) {
        response = harness_ok(s_reconcile(client, SET_NAME, split, sizeof split, 4096),
                              CAIRN__RESPONSE__BODY_SYNC_RECONCILE);
        CHECK(response->sync_reconcile->message.len <= 4096);
        CHECK(response->sync_reconcile->items == SET_SIZE);
        cairn__response__free_unpacked(response, NULL);
    }
    free(big);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"js_initiates", test_js_initiates},
    {"cairn_initiates_js", test_cairn_initiates_js},
    {"cli", test_cli},
    {"bad_input", test_bad_input},
    {"topic_set", test_topic_set},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.sync", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

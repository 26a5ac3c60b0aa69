/*  =========================================================================
    e2e_messages - black-box tests of the messages requests

        e2e-messages TEST        runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir
    with the channels it needs already in its database (tests/messages_fixture.c),
    talks to it only through its ZeroMQ endpoint, and stops it with
    SIGTERM, expecting exit status 0. Waits are polls with timeouts.
    ========================================================================= */

#include "messages_fixture.h"
#include "ca_limits.h"
#include "messages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 10000

#define CHECK HARNESS_CHECK

//  One test's node and client.
typedef struct {
    harness_node_t *node;
    zsock_t *client;
    ca_caller_t *caller; //  over client
} ctx_t;

static const char *const s_channels[] = {"#general", "#random", "#empty", NULL};

static ctx_t s_start_with(const char *const *args) {
    ctx_t ctx = {0};
    ctx.node = messages_fixture_start(s_channels, args);
    CHECK(ctx.node);
    ctx.client = harness_connect(harness_node_endpoint(ctx.node));
    ctx.caller = ca_caller_new_socket(ctx.client, HARNESS_CALL_MS);
    return ctx;
}

static ctx_t s_start(void) {
    return s_start_with(NULL);
}

static void s_stop(ctx_t *ctx) {
    ca_caller_destroy(&ctx->caller);
    zsock_destroy(&ctx->client);
    harness_node_down(&ctx->node);
}

static Cairn__Response *s_call(ctx_t *ctx, Cairn__Request *request) {
    return harness_request(ctx->client, request);
}

static void s_store_ok(ctx_t *ctx, Cairn__Message *message) {
    Cairn__Response *response = messages_fixture_store(ctx->caller, message);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_STORE);
    CHECK(streq(response->message_store->id, message->id));
    cairn__response__free_unpacked(response, NULL);
}

//  Stores a clear message with the id made of (high, low).
static void s_store_simple(ctx_t *ctx, uint32_t high, uint64_t low, double timestamp,
                           const char *channel, const char *content) {
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, high, low);
    Cairn__Message message;
    messages_fixture_message(&message, id, timestamp, channel, content);
    s_store_ok(ctx, &message);
}

static Cairn__Response *s_list(ctx_t *ctx, Cairn__MessageList *list) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_LIST;
    request.message_list = list;
    return s_call(ctx, &request);
}

static uint64_t s_delete_count(ctx_t *ctx, const char *channel, double before) {
    Cairn__Response *response = messages_fixture_delete(ctx->caller, channel, before);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_DELETE);
    uint64_t count = response->message_delete->count;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static Cairn__Response *s_stats(ctx_t *ctx) {
    Cairn__Response *response = messages_fixture_stats(ctx->caller);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_STATS);
    return response;
}

static uint64_t s_count(ctx_t *ctx) {
    Cairn__Response *response = s_stats(ctx);
    uint64_t count = response->message_stats->messages;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

//  Messages of `channel` counted by paging through all of it.
static size_t s_channel_count(ctx_t *ctx, const char *channel) {
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, channel, MESSAGES_PAGE_MAX, 0, 0, 0, "");
    size_t count = 0;
    for (int page = 0; page < 100; page++) {
        list.offset = (uint32_t)count;
        Cairn__Response *response = s_list(ctx, &list);
        CHECK(response->status == CAIRN__STATUS__OK);
        count += response->message_list->n_messages;
        bool more = response->message_list->more;
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            return count;
    }
    CHECK(false);
    return count;
}

static bool s_blob_is(ProtobufCBinaryData data, const char *expected) {
    size_t size = strlen(expected);
    return data.len == size && (size == 0 || memcmp(data.data, expected, size) == 0);
}

//  ---- store and get ---------------------------------------------------------------

static void test_store_get(void) {
    ctx_t ctx = s_start();
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 1, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 1700000000.25, "#general", "hello, world");
    message.sender_id = "node-7.example:7402";
    message.sender_name = "Zoë";
    s_store_ok(&ctx, &message);
    //  Encrypted, with a nonce, and an upper-case id kept as given.
    const char *upper = "0123ABCD-4567-4890-ABCD-EF0123456789";
    Cairn__Message secret;
    messages_fixture_message(&secret, upper, 1700000001, "#random", "\x01\x02 not text");
    uint8_t nonce[24];
    memset(nonce, 0x6e, sizeof nonce);
    secret.encrypted = true;
    secret.nonce.data = nonce;
    secret.nonce.len = sizeof nonce;
    s_store_ok(&ctx, &secret);

    Cairn__Response *response = messages_fixture_get(ctx.caller, id);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_GET);
    Cairn__Message *got = response->message_get;
    CHECK(streq(got->id, id) && got->timestamp == 1700000000.25);
    CHECK(streq(got->sender_id, "node-7.example:7402") && streq(got->sender_name, "Zoë"));
    CHECK(streq(got->channel, "#general") && s_blob_is(got->content, "hello, world"));
    CHECK(!got->encrypted && got->nonce.len == 0 && got->signature.len == 64);
    CHECK(memcmp(got->signature.data, message.signature.data, 64) == 0);
    cairn__response__free_unpacked(response, NULL);
    response = messages_fixture_get(ctx.caller, upper);
    CHECK(response->status == CAIRN__STATUS__OK && streq(response->message_get->id, upper));
    CHECK(response->message_get->encrypted && response->message_get->nonce.len == 24);
    CHECK(s_blob_is(response->message_get->content, "\x01\x02 not text"));
    cairn__response__free_unpacked(response, NULL);
    //  Absent and malformed ids.
    messages_fixture_uuid(id, 1, 2);
    harness_fails(messages_fixture_get(ctx.caller, id), CAIRN__STATUS__NOT_FOUND, "does not exist");
    harness_fails(messages_fixture_get(ctx.caller, "not-a-uuid"), CAIRN__STATUS__INVALID, "UUID");

    //  Stored for good, and the channel's last_activity followed.
    ca_caller_destroy(&ctx.caller);
    zsock_destroy(&ctx.client);
    CHECK(harness_node_stop(ctx.node) == 0);
    sqlite3 *db = messages_fixture_open_db(ctx.node);
    CHECK(db);
    sqlite3_stmt *stmt = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT last_activity FROM channels WHERE name = '#general'", -1,
                             &stmt, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_double(stmt, 0) == 1700000000.25);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    CHECK(harness_node_restart(ctx.node) == 0);
    ctx.client = harness_connect(harness_node_endpoint(ctx.node));
    ctx.caller = ca_caller_new_socket(ctx.client, HARNESS_CALL_MS);
    messages_fixture_uuid(id, 1, 1);
    response = messages_fixture_get(ctx.caller, id);
    CHECK(response->status == CAIRN__STATUS__OK &&
          s_blob_is(response->message_get->content, "hello, world"));
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

static void test_conflict(void) {
    ctx_t ctx = s_start();
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 2, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 100, "#general", "first");
    s_store_ok(&ctx, &message);
    //  Same id, other content, other channel: CONFLICT, nothing changes.
    messages_fixture_message(&message, id, 200, "#random", "second");
    harness_fails(messages_fixture_store(ctx.caller, &message), CAIRN__STATUS__CONFLICT,
                  "already exists");
    Cairn__Response *response = messages_fixture_get(ctx.caller, id);
    CHECK(response->status == CAIRN__STATUS__OK &&
          s_blob_is(response->message_get->content, "first"));
    CHECK(response->message_get->timestamp == 100);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_count(&ctx) == 1 && s_channel_count(&ctx, "#random") == 0);
    s_stop(&ctx);
}

static void test_unknown_channel(void) {
    ctx_t ctx = s_start();
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 3, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 100, "#nowhere", "lost");
    harness_fails(messages_fixture_store(ctx.caller, &message), CAIRN__STATUS__NOT_FOUND,
                  "channel #nowhere does not exist; create it first");
    harness_fails(messages_fixture_get(ctx.caller, id), CAIRN__STATUS__NOT_FOUND, NULL);
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, "#nowhere", 10, 0, 0, 0, "");
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__NOT_FOUND, "does not exist");
    harness_fails(messages_fixture_search(ctx.caller, "lost", "#nowhere", 0),
                  CAIRN__STATUS__NOT_FOUND, "does not exist");
    harness_fails(messages_fixture_delete(ctx.caller, "#nowhere", 0), CAIRN__STATUS__NOT_FOUND,
                  "does not exist");
    CHECK(s_count(&ctx) == 0);
    s_stop(&ctx);
}

//  ---- listing -----------------------------------------------------------------------

enum { PAGED = 120 };

//  Stores PAGED messages into #general, three per timestamp, in an order
//  unlike the listing's; `expected` gets their (timestamp, id) newest first.
typedef struct {
    double timestamp;
    char id[CA_UUID_TEXT_LENGTH + 1];
} paged_key_t;

static int s_newest_first(const void *a, const void *b) {
    const paged_key_t *left = (const paged_key_t *)a, *right = (const paged_key_t *)b;
    if (left->timestamp != right->timestamp)
        return left->timestamp < right->timestamp ? 1 : -1;
    return -strcmp(left->id, right->id);
}

static void s_store_paged(ctx_t *ctx, paged_key_t *expected) {
    for (unsigned i = 0; i < PAGED; i++) {
        unsigned k = (i * 37) % PAGED; //  a permutation of 0..PAGED-1
        expected[i].timestamp = 5000 + k / 3;
        messages_fixture_uuid(expected[i].id, 4, (k * 7919) % 997);
        Cairn__Message message;
        messages_fixture_message(&message, expected[i].id, expected[i].timestamp, "#general",
                                 "paged");
        s_store_ok(ctx, &message);
    }
    s_store_simple(ctx, 4, 5000, 9999, "#random", "elsewhere"); //  not in #general
    qsort(expected, PAGED, sizeof expected[0], s_newest_first);
}

//  Checks that a page holds expected[from..from+n) in order.
static void s_check_page(const Cairn__MessagePage *page, const paged_key_t *expected, size_t from) {
    for (size_t i = 0; i < page->n_messages; i++) {
        CHECK(from + i < PAGED);
        CHECK(page->messages[i]->timestamp == expected[from + i].timestamp);
        CHECK(streq(page->messages[i]->id, expected[from + i].id));
        CHECK(streq(page->messages[i]->channel, "#general"));
    }
}

static void test_list_order(void) {
    ctx_t ctx = s_start();
    static paged_key_t expected[PAGED];
    s_store_paged(&ctx, expected);
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, "#general", 1000, 0, 0, 0, "");
    Cairn__Response *response = s_list(&ctx, &list);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_list->n_messages == PAGED);
    CHECK(!response->message_list->more);
    s_check_page(response->message_list, expected, 0);
    cairn__response__free_unpacked(response, NULL);
    //  Limit 0 is the default page of 100; an empty channel is an empty page.
    list.limit = 0;
    response = s_list(&ctx, &list);
    CHECK(response->message_list->n_messages == MESSAGES_PAGE_DEFAULT &&
          response->message_list->more);
    s_check_page(response->message_list, expected, 0);
    cairn__response__free_unpacked(response, NULL);
    list.channel = "#empty";
    response = s_list(&ctx, &list);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_list->n_messages == 0 &&
          !response->message_list->more);
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

static void test_list_offset(void) {
    ctx_t ctx = s_start();
    static paged_key_t expected[PAGED];
    s_store_paged(&ctx, expected);
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, "#general", 7, 0, 0, 0, "");
    size_t seen = 0;
    for (int page = 0; page < PAGED; page++) {
        list.offset = (uint32_t)seen;
        Cairn__Response *response = s_list(&ctx, &list);
        CHECK(response->status == CAIRN__STATUS__OK);
        s_check_page(response->message_list, expected, seen);
        seen += response->message_list->n_messages;
        bool more = response->message_list->more;
        CHECK(more == (seen < PAGED));
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            break;
    }
    CHECK(seen == PAGED);
    s_stop(&ctx);
}

static void test_list_keyset(void) {
    ctx_t ctx = s_start();
    static paged_key_t expected[PAGED];
    s_store_paged(&ctx, expected);
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, "#general", 7, 0, 0, 0, "");
    size_t seen = 0;
    char last_id[CA_UUID_TEXT_LENGTH + 1] = "";
    for (int page = 0; page < PAGED; page++) {
        Cairn__Response *response = s_list(&ctx, &list);
        CHECK(response->status == CAIRN__STATUS__OK);
        Cairn__MessagePage *got = response->message_list;
        s_check_page(got, expected, seen);
        seen += got->n_messages;
        bool more = got->more;
        CHECK(more == (seen < PAGED));
        if (got->n_messages) {
            //  The cursor is the last message of this page.
            list.before_timestamp = got->messages[got->n_messages - 1]->timestamp;
            snprintf(last_id, sizeof last_id, "%s", got->messages[got->n_messages - 1]->id);
            list.before_id = last_id;
        }
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            break;
    }
    CHECK(seen == PAGED);
    //  Offset and cursor together are refused.
    list.offset = 3;
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "cannot be combined");
    s_stop(&ctx);
}

static void test_list_since(void) {
    ctx_t ctx = s_start();
    static paged_key_t expected[PAGED];
    s_store_paged(&ctx, expected);
    Cairn__MessageList list;
    Cairn__Request request;
    ca_request_message_list(&request, &list, 0, "#general", 1000, 0, 0, 0, "");
    list.since = 5000 + 29; //  timestamps 5030..5039: 30 messages
    Cairn__Response *response = s_list(&ctx, &list);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_list->n_messages == 30);
    s_check_page(response->message_list, expected, 0);
    for (size_t i = 0; i < response->message_list->n_messages; i++)
        CHECK(response->message_list->messages[i]->timestamp > list.since);
    cairn__response__free_unpacked(response, NULL);
    //  since with the cursor: the 30 newer ones, in pages of 4.
    list.limit = 4;
    size_t seen = 0;
    char last_id[CA_UUID_TEXT_LENGTH + 1];
    for (int page = 0; page < 20; page++) {
        response = s_list(&ctx, &list);
        CHECK(response->status == CAIRN__STATUS__OK);
        Cairn__MessagePage *got = response->message_list;
        s_check_page(got, expected, seen);
        seen += got->n_messages;
        bool more = got->more;
        if (got->n_messages) {
            list.before_timestamp = got->messages[got->n_messages - 1]->timestamp;
            snprintf(last_id, sizeof last_id, "%s", got->messages[got->n_messages - 1]->id);
            list.before_id = last_id;
        }
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            break;
    }
    CHECK(seen == 30);
    //  since past the newest: nothing.
    list.since = 6000;
    list.before_timestamp = 0;
    list.before_id = "";
    response = s_list(&ctx, &list);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_list->n_messages == 0);
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

//  ---- delete ------------------------------------------------------------------------

//  Ten messages (timestamps 1..10) in #general and in #random.
static void s_store_twenty(ctx_t *ctx) {
    for (unsigned i = 1; i <= 10; i++) {
        s_store_simple(ctx, 5, i, i, "#general", "general words");
        s_store_simple(ctx, 5, 100 + i, i, "#random", "random words");
    }
}

static void test_delete_channel(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    CHECK(s_delete_count(&ctx, "#general", 0) == 10);
    CHECK(s_channel_count(&ctx, "#general") == 0 && s_channel_count(&ctx, "#random") == 10);
    CHECK(s_delete_count(&ctx, "#general", 0) == 0);
    CHECK(s_delete_count(&ctx, "#empty", 0) == 0);
    CHECK(s_count(&ctx) == 10);
    s_stop(&ctx);
}

static void test_delete_before(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    CHECK(s_delete_count(&ctx, "", 4) == 6); //  timestamps 1..3 of both channels
    CHECK(s_channel_count(&ctx, "#general") == 7 && s_channel_count(&ctx, "#random") == 7);
    CHECK(s_delete_count(&ctx, "", 4) == 0);
    CHECK(s_delete_count(&ctx, "", 1e12) == 14);
    CHECK(s_count(&ctx) == 0);
    s_stop(&ctx);
}

static void test_delete_both(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    CHECK(s_delete_count(&ctx, "#random", 5.5) == 5); //  timestamps 1..5 of #random
    CHECK(s_channel_count(&ctx, "#general") == 10 && s_channel_count(&ctx, "#random") == 5);
    //  The full-text index followed: the rest of #random is still found.
    Cairn__Response *response = messages_fixture_search(ctx.caller, "random", "", 0);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_search->n_messages == 5);
    for (size_t i = 0; i < 5; i++)
        CHECK(response->message_search->messages[i]->timestamp > 5.5);
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

static void test_delete_neither(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    harness_fails(messages_fixture_delete(ctx.caller, "", 0), CAIRN__STATUS__INVALID,
                  "give channel, before or both");
    harness_fails(messages_fixture_delete(ctx.caller, "", -1), CAIRN__STATUS__INVALID, "before");
    harness_fails(messages_fixture_delete(ctx.caller, "", NAN), CAIRN__STATUS__INVALID, "before");
    harness_fails(messages_fixture_delete(ctx.caller, "../x", 0), CAIRN__STATUS__INVALID,
                  "channel");
    CHECK(s_count(&ctx) == 20);
    s_stop(&ctx);
}

//  ---- search ------------------------------------------------------------------------

static void s_store_corpus(ctx_t *ctx) {
    s_store_simple(ctx, 6, 1, 10, "#general", "the quick brown fox jumps over the lazy dog");
    s_store_simple(ctx, 6, 2, 11, "#general", "release notes: cairn stores messages");
    s_store_simple(ctx, 6, 3, 12, "#random", "a fox, another fox, and a third fox");
    s_store_simple(ctx, 6, 4, 13, "#random", "nothing to see here");
}

static size_t s_hits(ctx_t *ctx, const char *query, const char *channel) {
    Cairn__Response *response = messages_fixture_search(ctx->caller, query, channel, 0);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_SEARCH);
    size_t hits = response->message_search->n_messages;
    cairn__response__free_unpacked(response, NULL);
    return hits;
}

static void test_search(void) {
    ctx_t ctx = s_start();
    s_store_corpus(&ctx);
    //  Best match first: three foxes in a short message beat one.
    Cairn__Response *response = messages_fixture_search(ctx.caller, "fox", "", 0);
    CHECK(response->status == CAIRN__STATUS__OK && response->message_search->n_messages == 2);
    CHECK(s_blob_is(response->message_search->messages[0]->content,
                    "a fox, another fox, and a third fox"));
    CHECK(!response->message_search->more);
    cairn__response__free_unpacked(response, NULL);
    response = messages_fixture_search(ctx.caller, "fox", "", 1);
    CHECK(response->message_search->n_messages == 1 && response->message_search->more);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_hits(&ctx, "\"brown fox\"", "") == 1);
    CHECK(s_hits(&ctx, "stor*", "") == 1);
    CHECK(s_hits(&ctx, "fox AND lazy", "") == 1);
    CHECK(s_hits(&ctx, "fox OR cairn", "") == 3);
    CHECK(s_hits(&ctx, "fox NOT lazy", "") == 1);
    CHECK(s_hits(&ctx, "absent", "") == 0);
    harness_fails(messages_fixture_search(ctx.caller, "fox", "", MESSAGES_PAGE_MAX + 1),
                  CAIRN__STATUS__INVALID, "1000");
    harness_fails(messages_fixture_search(ctx.caller, "", "", 0), CAIRN__STATUS__INVALID,
                  "query is empty");
    s_stop(&ctx);
}

static void test_search_channel(void) {
    ctx_t ctx = s_start();
    s_store_corpus(&ctx);
    CHECK(s_hits(&ctx, "fox", "#general") == 1);
    CHECK(s_hits(&ctx, "fox", "#random") == 1);
    CHECK(s_hits(&ctx, "fox", "#empty") == 0);
    CHECK(s_hits(&ctx, "cairn", "#random") == 0);
    harness_fails(messages_fixture_search(ctx.caller, "fox", "random", 0), CAIRN__STATUS__INVALID,
                  "channel");
    s_stop(&ctx);
}

static void test_search_encrypted(void) {
    ctx_t ctx = s_start();
    s_store_corpus(&ctx);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 6, 100);
    Cairn__Message message;
    messages_fixture_message(&message, id, 20, "#general", "fox ciphertext-looking secret");
    uint8_t nonce[12] = {1};
    message.encrypted = true;
    message.nonce.data = nonce;
    message.nonce.len = sizeof nonce;
    s_store_ok(&ctx, &message);
    CHECK(s_hits(&ctx, "secret", "") == 0);
    CHECK(s_hits(&ctx, "fox", "") == 2);
    CHECK(s_hits(&ctx, "fox", "#general") == 1);
    //  It is stored and listed all the same.
    CHECK(s_channel_count(&ctx, "#general") == 3);
    s_stop(&ctx);
}

static void test_search_malformed(void) {
    ctx_t ctx = s_start();
    s_store_corpus(&ctx);
    const char *malformed[] = {"\"unbalanced", "AND AND", "col:", "nosuch:fox", "(fox",
                               "fox OR",       "NEAR(",   "*",    "fox-trot"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        harness_fails(messages_fixture_search(ctx.caller, malformed[i], "", 0),
                      CAIRN__STATUS__INVALID, "query syntax");
    //  The same words, quoted, are fine; the node still answers.
    CHECK(s_hits(&ctx, "\"fox-trot\"", "") == 0);
    CHECK(s_hits(&ctx, "fox", "") == 2);
    harness_expect_alive(ctx.client);
    s_stop(&ctx);
}

//  ---- stats and vacuum ----------------------------------------------------------------

static void test_stats_empty(void) {
    ctx_t ctx = s_start();
    Cairn__Response *response = s_stats(&ctx);
    Cairn__MessageStatsReply *stats = response->message_stats;
    CHECK(stats->messages == 0 && stats->channels == 3 && stats->peers == 0);
    CHECK(!stats->has_messages && stats->oldest_timestamp == 0 && stats->newest_timestamp == 0);
    CHECK(stats->db_size_bytes > 0);
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

static void test_stats_counts(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    s_store_simple(&ctx, 7, 1, 1234.5, "#empty", "late");
    Cairn__Response *response = s_stats(&ctx);
    Cairn__MessageStatsReply *stats = response->message_stats;
    CHECK(stats->messages == 21 && stats->channels == 3 && stats->has_messages);
    CHECK(stats->oldest_timestamp == 1 && stats->newest_timestamp == 1234.5);
    CHECK(stats->db_size_bytes > 0);
    cairn__response__free_unpacked(response, NULL);
    //  Info carries the same statistics.
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 77);
    response = s_call(&ctx, &request);
    CHECK(response->status == CAIRN__STATUS__OK && response->info->messages);
    CHECK(response->info->messages->messages == 21 && response->info->messages->channels == 3);
    CHECK(response->info->messages->newest_timestamp == 1234.5);
    cairn__response__free_unpacked(response, NULL);
    s_stop(&ctx);
}

static void test_vacuum(void) {
    ctx_t ctx = s_start();
    //  Fill, delete most, vacuum: the file shrinks and the rest is intact.
    static char content[4001];
    memset(content, 'v', sizeof content - 1);
    for (unsigned i = 0; i < 500; i++)
        s_store_simple(&ctx, 8, i, 100 + i, i < 490 ? "#random" : "#general", content);
    CHECK(s_delete_count(&ctx, "#random", 0) == 490);
    Cairn__Request request;
    Cairn__Vacuum vacuum;
    ca_request_vacuum(&request, &vacuum, 0);
    Cairn__Response *response = s_call(&ctx, &request);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_VACUUM);
    Cairn__VacuumReply *reply = response->vacuum;
    fprintf(stderr, "vacuum: %llu -> %llu bytes\n", (unsigned long long)reply->bytes_before,
            (unsigned long long)reply->bytes_after);
    CHECK(reply->bytes_before > reply->bytes_after && reply->bytes_after > 0);
    CHECK(reply->bytes_reclaimed == reply->bytes_before - reply->bytes_after);
    CHECK(reply->bytes_reclaimed >= 490 * 4000 / 2);
    cairn__response__free_unpacked(response, NULL);
    CHECK(s_count(&ctx) == 10 && s_channel_count(&ctx, "#general") == 10);
    s_stop(&ctx);
}

//  ---- bad input -----------------------------------------------------------------------

//  Stores `message` expecting INVALID with `fragment`.
static void s_expect_refused(ctx_t *ctx, Cairn__Message *message, const char *fragment) {
    harness_fails(messages_fixture_store(ctx->caller, message), CAIRN__STATUS__INVALID, fragment);
}

static void test_bad_input(void) {
    ctx_t ctx = s_start();
    s_store_twenty(&ctx);
    Cairn__Response *response = s_stats(&ctx);
    uint64_t before = response->message_stats->messages;
    cairn__response__free_unpacked(response, NULL);

    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 9, 1);
    Cairn__Message message;
    //  MessageStore without its message.
    Cairn__Request request;
    Cairn__MessageStore store;
    ca_request_message_store(&request, &store, 0, NULL);
    harness_fails(s_call(&ctx, &request), CAIRN__STATUS__INVALID, "message is missing");
    //  Missing or malformed id.
    const char *bad_ids[] = {"", "123", "123e4567-e89b-12d3-a456-42661417400z", "../etc/passwd"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        messages_fixture_message(&message, bad_ids[i], 1, "#general", "x");
        s_expect_refused(&ctx, &message, "message.id");
    }
    //  Times.
    const double bad_times[] = {0, -5, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        messages_fixture_message(&message, id, bad_times[i], "#general", "x");
        s_expect_refused(&ctx, &message, "message.timestamp");
    }
    //  Channel names with path and character tricks.
    const char *bad_channels[] = {"../x", "#a b", "", "#", "general", "#a/b", "#a\\b", "#a\tb"};
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++) {
        messages_fixture_message(&message, id, 1, bad_channels[i], "x");
        s_expect_refused(&ctx, &message, "message.channel");
    }
    //  Senders.
    char long_name[CA_PEER_ID_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const char *bad_senders[] = {"", "a b", "../x", long_name};
    for (size_t i = 0; i < sizeof bad_senders / sizeof bad_senders[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        message.sender_id = (char *)bad_senders[i];
        s_expect_refused(&ctx, &message, "message.sender_id");
    }
    messages_fixture_message(&message, id, 1, "#general", "x");
    message.sender_name = long_name;
    s_expect_refused(&ctx, &message, "message.sender_name");
    //  Wrong signature lengths.
    uint8_t bytes[128] = {0};
    const size_t bad_signatures[] = {0, 32, 63, 65, 128};
    for (size_t i = 0; i < sizeof bad_signatures / sizeof bad_signatures[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        message.signature.data = bytes;
        message.signature.len = bad_signatures[i];
        s_expect_refused(&ctx, &message, "exactly 64 bytes");
    }
    //  Nonce rules: required (12..24) when encrypted, absent otherwise.
    const size_t bad_nonces[] = {0, 8, 11, 25, 64};
    for (size_t i = 0; i < sizeof bad_nonces / sizeof bad_nonces[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        message.encrypted = true;
        message.nonce.data = bytes;
        message.nonce.len = bad_nonces[i];
        s_expect_refused(&ctx, &message, "12..24 bytes");
    }
    messages_fixture_message(&message, id, 1, "#general", "x");
    message.nonce.data = bytes;
    message.nonce.len = 12;
    s_expect_refused(&ctx, &message, "not encrypted");
    //  Oversized content: the message names the limit.
    char *big = (char *)malloc(CA_DEFAULT_MAX_CONTENT + 2);
    memset(big, 'b', CA_DEFAULT_MAX_CONTENT + 1);
    big[CA_DEFAULT_MAX_CONTENT + 1] = 0;
    messages_fixture_message(&message, id, 1, "#general", big);
    s_expect_refused(&ctx, &message, "65536");
    free(big);
    //  Unknown channel.
    messages_fixture_message(&message, id, 1, "#unknown", "x");
    harness_fails(messages_fixture_store(ctx.caller, &message), CAIRN__STATUS__NOT_FOUND,
                  "create it first");
    //  Reads: limit over the cap, bad ids, bad channels, bad cursors.
    Cairn__MessageList list;
    ca_request_message_list(&request, &list, 0, "#general", MESSAGES_PAGE_MAX + 1, 0, 0, 0, "");
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "1000");
    list.limit = UINT32_MAX;
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "1000");
    list.limit = 10;
    list.before_id = "not-a-uuid";
    list.before_timestamp = 5;
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "before_id");
    list.before_id = "";
    list.before_timestamp = -1;
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "before_timestamp");
    list.before_timestamp = 0;
    list.since = NAN;
    harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "since");
    list.since = 0;
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++) {
        list.channel = (char *)bad_channels[i];
        harness_fails(s_list(&ctx, &list), CAIRN__STATUS__INVALID, "channel");
    }
    harness_fails(messages_fixture_get(ctx.caller, ""), CAIRN__STATUS__INVALID, "missing");
    harness_fails(messages_fixture_get(ctx.caller, "../../etc/passwd"), CAIRN__STATUS__INVALID,
                  "UUID");
    harness_fails(messages_fixture_search(ctx.caller, "words", "../x", 0), CAIRN__STATUS__INVALID,
                  "channel");
    //  A body that does not decode (MessageStore with a truncated field).
    zframe_t *frame = zframe_new("\x08\x63\xc2\x0c\x03\x0a\x10\x61", 8);
    zframe_send(&frame, ctx.client, 0);
    response = harness_recv(ctx.client, CALL_MS);
    CHECK(response && response->status == CAIRN__STATUS__INVALID && response->id == 0x63);
    cairn__response__free_unpacked(response, NULL);

    //  Nothing was stored, and the node still answers and stores.
    harness_expect_alive(ctx.client);
    CHECK(s_count(&ctx) == before);
    CHECK(s_channel_count(&ctx, "#general") == 10);
    messages_fixture_message(&message, id, 1, "#general", "fine");
    s_store_ok(&ctx, &message);
    CHECK(s_count(&ctx) == before + 1);
    s_stop(&ctx);
}

//  The content limit is the node's messages/max_content_bytes setting.
static void test_content_limit(void) {
    const char *args[] = {"--max-content-bytes=1000", NULL};
    ctx_t ctx = s_start_with(args);
    static char content[1002];
    memset(content, 'c', 1001);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 10, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 1, "#general", content);
    harness_fails(messages_fixture_store(ctx.caller, &message), CAIRN__STATUS__INVALID,
                  "limit is 1000 bytes");
    content[1000] = 0;
    messages_fixture_message(&message, id, 1, "#general", content);
    s_store_ok(&ctx, &message);
    s_stop(&ctx);
}

static const harness_test_t s_tests[] = {
    {"store_get", test_store_get},
    {"conflict", test_conflict},
    {"unknown_channel", test_unknown_channel},
    {"list_order", test_list_order},
    {"list_offset", test_list_offset},
    {"list_keyset", test_list_keyset},
    {"list_since", test_list_since},
    {"delete_channel", test_delete_channel},
    {"delete_before", test_delete_before},
    {"delete_both", test_delete_both},
    {"delete_neither", test_delete_neither},
    {"search", test_search},
    {"search_channel", test_search_channel},
    {"search_encrypted", test_search_encrypted},
    {"search_malformed", test_search_malformed},
    {"stats_empty", test_stats_empty},
    {"stats_counts", test_stats_counts},
    {"vacuum", test_vacuum},
    {"bad_input", test_bad_input},
    {"content_limit", test_content_limit},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.messages", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

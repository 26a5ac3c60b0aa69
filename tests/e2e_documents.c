/*  =========================================================================
    e2e_documents - black-box tests of the documents store: versioned JSON
    documents per tenant (schemas/documents.proto)

        e2e-documents TEST    runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir,
    talks to it only through its ZeroMQ endpoint, and stops it with SIGTERM,
    expecting exit status 0 (kill9 kills it on purpose, then restarts it).
    ========================================================================= */

#include "ca_hash.h"
#include "ca_validate.h"
#include "documents.h"
#include "documents_json.h"
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK     HARNESS_CHECK
#define NO_DIGEST ((ProtobufCBinaryData){0, NULL})

//  ---- requests ---------------------------------------------------------------------

static Cairn__Response *s_call(zsock_t *client, Cairn__Request__BodyCase kind, void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = kind;
    request.doc_save = body; //  every member of the body oneof is a pointer at the same place
    return harness_request(client, &request);
}

static Cairn__Response *s_save(zsock_t *client, const char *tenant, const char *entry,
                               const char *json) {
    Cairn__DocSave save = CAIRN__DOC_SAVE__INIT;
    save.tenant = (char *)tenant;
    save.entry = (char *)entry;
    save.user = "alice";
    save.json = (char *)json;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_SAVE, &save);
}

typedef struct {
    uint8_t bytes[CA_SHA256_BYTES];
} digest_t;

static ProtobufCBinaryData s_bin(const digest_t *digest) {
    return (ProtobufCBinaryData){CA_SHA256_BYTES, (uint8_t *)digest->bytes};
}

static bool s_same(ProtobufCBinaryData bytes, const digest_t *digest) {
    return bytes.len == CA_SHA256_BYTES && memcmp(bytes.data, digest->bytes, CA_SHA256_BYTES) == 0;
}

//  Saves and returns the digest; `changed` must be as said.
static digest_t s_save_ok(zsock_t *client, const char *tenant, const char *entry, const char *json,
                          bool changed) {
    Cairn__Response *response =
        harness_ok(s_save(client, tenant, entry, json), CAIRN__RESPONSE__BODY_DOC_SAVE);
    CHECK(response->doc_save->changed == changed);
    CHECK(response->doc_save->digest.len == CA_SHA256_BYTES);
    digest_t digest;
    memcpy(digest.bytes, response->doc_save->digest.data, CA_SHA256_BYTES);
    cairn__response__free_unpacked(response, NULL);
    return digest;
}

static Cairn__Response *s_load(zsock_t *client, const char *tenant, const char *entry,
                               ProtobufCBinaryData digest) {
    Cairn__DocLoad load = CAIRN__DOC_LOAD__INIT;
    load.tenant = (char *)tenant;
    load.entry = (char *)entry;
    load.digest = digest;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_LOAD, &load);
}

//  Loads and checks the canonical text.
static void s_load_is(zsock_t *client, const char *tenant, const char *entry,
                      ProtobufCBinaryData digest, const char *json) {
    Cairn__Response *response =
        harness_ok(s_load(client, tenant, entry, digest), CAIRN__RESPONSE__BODY_DOC_LOAD);
    if (!streq(response->doc_load->json, json))
        printf("   loaded %s, expected %s\n", response->doc_load->json, json);
    CHECK(streq(response->doc_load->json, json));
    cairn__response__free_unpacked(response, NULL);
}

static Cairn__Response *s_put(zsock_t *client, const char *tenant, const char *entry,
                              const char *key, const char *value) {
    Cairn__DocPut put = CAIRN__DOC_PUT__INIT;
    put.tenant = (char *)tenant;
    put.entry = (char *)entry;
    put.user = "bob";
    put.key = (char *)key;
    put.value = (char *)value;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_PUT, &put);
}

static bool s_put_ok(zsock_t *client, const char *entry, const char *key, const char *value) {
    Cairn__Response *response =
        harness_ok(s_put(client, "t", entry, key, value), CAIRN__RESPONSE__BODY_DOC_PUT);
    bool changed = response->doc_put->changed;
    cairn__response__free_unpacked(response, NULL);
    return changed;
}

static Cairn__Response *s_exists(zsock_t *client, const char *tenant, const char *entry,
                                 ProtobufCBinaryData digest) {
    Cairn__DocExists exists = CAIRN__DOC_EXISTS__INIT;
    exists.tenant = (char *)tenant;
    exists.entry = (char *)entry;
    exists.digest = digest;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_EXISTS, &exists);
}

static bool s_exists_ok(zsock_t *client, const char *tenant, const char *entry,
                        ProtobufCBinaryData digest) {
    Cairn__Response *response =
        harness_ok(s_exists(client, tenant, entry, digest), CAIRN__RESPONSE__BODY_DOC_EXISTS);
    bool exists = response->doc_exists->exists;
    cairn__response__free_unpacked(response, NULL);
    return exists;
}

static Cairn__Response *s_history(zsock_t *client, const char *tenant, const char *entry,
                                  uint32_t max_items, uint64_t before) {
    Cairn__DocHistory history = CAIRN__DOC_HISTORY__INIT;
    history.tenant = (char *)tenant;
    history.entry = (char *)entry;
    history.max_items = max_items;
    history.before_seq = before;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_HISTORY, &history);
}

static Cairn__Response *s_head(zsock_t *client, const char *tenant, const char *entry) {
    Cairn__DocHead head = CAIRN__DOC_HEAD__INIT;
    head.tenant = (char *)tenant;
    head.entry = (char *)entry;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_HEAD, &head);
}

static Cairn__Response *s_get(zsock_t *client, const char *tenant, const char *entry,
                              const char *key) {
    Cairn__DocGet get = CAIRN__DOC_GET__INIT;
    get.tenant = (char *)tenant;
    get.entry = (char *)entry;
    get.key = (char *)key;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_GET, &get);
}

static Cairn__Response *s_diff(zsock_t *client, const char *entry, ProtobufCBinaryData from,
                               ProtobufCBinaryData to) {
    Cairn__DocDiff diff = CAIRN__DOC_DIFF__INIT;
    diff.tenant = "t";
    diff.entry = (char *)entry;
    diff.from = from;
    diff.to = to;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_DIFF, &diff);
}

static Cairn__Response *s_revert(zsock_t *client, const char *tenant, const char *entry,
                                 ProtobufCBinaryData digest) {
    Cairn__DocRevert revert = CAIRN__DOC_REVERT__INIT;
    revert.tenant = (char *)tenant;
    revert.entry = (char *)entry;
    revert.user = "carol";
    revert.digest = digest;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_REVERT, &revert);
}

static Cairn__Response *s_truncate(zsock_t *client, const char *tenant, const char *entry,
                                   uint32_t keep) {
    Cairn__DocTruncate truncate = CAIRN__DOC_TRUNCATE__INIT;
    truncate.tenant = (char *)tenant;
    truncate.entry = (char *)entry;
    truncate.keep = keep;
    return s_call(client, CAIRN__REQUEST__BODY_DOC_TRUNCATE, &truncate);
}

static uint64_t s_sweep_ok(zsock_t *client) {
    Cairn__DocSweep sweep = CAIRN__DOC_SWEEP__INIT;
    Cairn__Response *response = harness_ok(s_call(client, CAIRN__REQUEST__BODY_DOC_SWEEP, &sweep),
                                           CAIRN__RESPONSE__BODY_DOC_SWEEP);
    uint64_t objects = response->doc_sweep->objects;
    cairn__response__free_unpacked(response, NULL);
    return objects;
}

//  Checks the counts of DocStats (tenant "" for the whole store).
static void s_stats_are(zsock_t *client, const char *tenant, uint64_t entries, uint64_t snapshots,
                        uint64_t objects) {
    Cairn__DocStats stats = CAIRN__DOC_STATS__INIT;
    stats.tenant = (char *)tenant;
    Cairn__Response *response = harness_ok(s_call(client, CAIRN__REQUEST__BODY_DOC_STATS, &stats),
                                           CAIRN__RESPONSE__BODY_DOC_STATS);
    const Cairn__DocStatsReply *got = response->doc_stats;
    if (got->entries != entries || got->snapshots != snapshots || got->objects != objects)
        printf("   stats: %" PRIu64 " entries, %" PRIu64 " snapshots, %" PRIu64 " objects\n",
               got->entries, got->snapshots, got->objects);
    CHECK(got->entries == entries && got->snapshots == snapshots && got->objects == objects);
    cairn__response__free_unpacked(response, NULL);
}

static void s_digest_of(const char *canonical, digest_t *digest) {
    ca_sha256(canonical, strlen(canonical), digest->bytes);
}

//  ---- tests -------------------------------------------------------------------------

//  save, load (head and by digest), head, exists, get: the happy paths.
static void test_save_load(void) {
    HARNESS_SESSION_UP(NULL);
    digest_t one = s_save_ok(client, "t", "doc", "{\"b\": 1, \"a\": {\"z\": [1, 2]}}", true);
    digest_t expected;
    s_digest_of("{\"a\":{\"z\":[1,2]},\"b\":1}", &expected);
    CHECK(memcmp(one.bytes, expected.bytes, CA_SHA256_BYTES) == 0);
    digest_t two = s_save_ok(client, "t", "doc", "{\"b\": 2}", true);
    s_load_is(client, "t", "doc", NO_DIGEST, "{\"b\":2}");
    s_load_is(client, "t", "doc", s_bin(&one), "{\"a\":{\"z\":[1,2]},\"b\":1}");

    Cairn__Response *response =
        harness_ok(s_load(client, "t", "doc", NO_DIGEST), CAIRN__RESPONSE__BODY_DOC_LOAD);
    const Cairn__DocSnapshotInfo *info = response->doc_load->info;
    CHECK(info->seq == 2 && s_same(info->digest, &two) && s_same(info->parent, &one));
    CHECK(streq(info->user, "alice") && info->date > 1600000000000000ULL);
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_head(client, "t", "doc"), CAIRN__RESPONSE__BODY_DOC_HEAD);
    CHECK(response->doc_head->seq == 2 && s_same(response->doc_head->digest, &two));
    cairn__response__free_unpacked(response, NULL);

    CHECK(s_exists_ok(client, "t", "doc", NO_DIGEST));
    CHECK(s_exists_ok(client, "t", "doc", s_bin(&one)));
    CHECK(!s_exists_ok(client, "t", "other", NO_DIGEST));
    CHECK(!s_exists_ok(client, "u", "doc", s_bin(&one)));

    s_save_ok(client, "t", "doc", "{\"k\": \"v\", \"n\": [1.50, true]}", true);
    response = harness_ok(s_get(client, "t", "doc", "n"), CAIRN__RESPONSE__BODY_DOC_GET);
    CHECK(response->doc_get->n_items == 1 &&
          streq(response->doc_get->items[0]->value, "[1.5,true]"));
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_get(client, "t", "doc", ""), CAIRN__RESPONSE__BODY_DOC_GET);
    CHECK(response->doc_get->n_items == 2 && streq(response->doc_get->items[0]->key, "k") &&
          streq(response->doc_get->items[0]->value, "\"v\"") &&
          streq(response->doc_get->items[1]->key, "n"));
    cairn__response__free_unpacked(response, NULL);
    harness_fails(s_get(client, "t", "doc", "missing"), CAIRN__STATUS__NOT_FOUND, "no key");
    harness_session_down(&caller, &client, &node);
}

//  put and put_many: a new snapshot only when something changed; a no-op
//  put creates nothing (counts unchanged).
static void test_put_noop(void) {
    HARNESS_SESSION_UP(NULL);
    CHECK(s_put_ok(client, "rec", "a", "1")); //  a missing entry starts from {}
    CHECK(s_put_ok(client, "rec", "b", "{\"x\": [1]}"));
    s_stats_are(client, "", 1, 2, 2);
    CHECK(!s_put_ok(client, "rec", "a", " 1 "));
    CHECK(!s_put_ok(client, "rec", "b", "{ \"x\" : [ 1 ] }"));
    s_stats_are(client, "", 1, 2, 2);

    Cairn__DocItem items[3] = {CAIRN__DOC_ITEM__INIT, CAIRN__DOC_ITEM__INIT, CAIRN__DOC_ITEM__INIT};
    Cairn__DocItem *list[3] = {&items[0], &items[1], &items[2]};
    items[0].key = "a";
    items[0].value = "1";
    items[1].key = "c";
    items[1].value = "null";
    items[2].key = "c";
    items[2].value = "\"last wins\"";
    Cairn__DocPutMany many = CAIRN__DOC_PUT_MANY__INIT;
    many.tenant = "t";
    many.entry = "rec";
    many.user = "bob";
    many.items = list;
    many.n_items = 3;
    Cairn__Response *response = harness_ok(s_call(client, CAIRN__REQUEST__BODY_DOC_PUT_MANY, &many),
                                           CAIRN__RESPONSE__BODY_DOC_PUT_MANY);
    CHECK(response->doc_put_many->changed);
    cairn__response__free_unpacked(response, NULL);
    s_load_is(client, "t", "rec", NO_DIGEST, "{\"a\":1,\"b\":{\"x\":[1]},\"c\":\"last wins\"}");
    response = harness_ok(s_call(client, CAIRN__REQUEST__BODY_DOC_PUT_MANY, &many),
                          CAIRN__RESPONSE__BODY_DOC_PUT_MANY);
    CHECK(!response->doc_put_many->changed);
    cairn__response__free_unpacked(response, NULL);
    s_stats_are(client, "", 1, 3, 3);
    //  A save of the head's object is a no-op too.
    s_save_ok(client, "t", "rec", "{\"c\":\"last wins\",\"b\":{\"x\":[1]},\"a\":1}", false);
    s_stats_are(client, "", 1, 3, 3);
    harness_session_down(&caller, &client, &node);
}

//  Two connections pipeline puts of their own keys into one entry: each
//  answer is OK or CONFLICT (a put over a head that moved), never a lost
//  update: the final object holds exactly the keys whose put was OK. As
//  worker 0 builds each put on the head its writes in flight will make,
//  none is CONFLICT here (one was, for most, when puts were built on the
//  committed head).
static void test_put_race(void) {
    HARNESS_SESSION_UP(NULL);
    enum { PUTS = 40 };
    zsock_t *other = harness_connect(harness_node_endpoint(node));
    zsock_t *clients[2] = {client, other};
    uint64_t next_id = 1000;
    for (int i = 0; i < PUTS; i++)
        for (int c = 0; c < 2; c++) {
            char key[16];
            snprintf(key, sizeof key, "c%d-%02d", c, i);
            Cairn__DocPut put = CAIRN__DOC_PUT__INIT;
            put.tenant = "t";
            put.entry = "race";
            put.user = "u";
            put.key = key;
            put.value = "1";
            Cairn__Request request = CAIRN__REQUEST__INIT;
            request.id = next_id + (uint64_t)(2 * i + c);
            request.body_case = CAIRN__REQUEST__BODY_DOC_PUT;
            request.doc_put = &put;
            CHECK(harness_send(clients[c], &request) == 0);
        }
    bool applied[2 * PUTS] = {false};
    int ok = 0, conflicts = 0;
    for (int n = 0; n < 2 * PUTS; n++) {
        Cairn__Response *response = harness_recv(clients[n % 2], HARNESS_CALL_MS);
        CHECK(response && response->id >= next_id && response->id < next_id + 2 * PUTS);
        if (response->status == CAIRN__STATUS__OK) {
            CHECK(response->doc_put->changed);
            applied[response->id - next_id] = true;
            ok++;
        } else {
            CHECK(response->status == CAIRN__STATUS__CONFLICT);
            CHECK(strstr(response->error, "retry"));
            conflicts++;
        }
        cairn__response__free_unpacked(response, NULL);
    }
    printf("   %d puts applied, %d conflicts\n", ok, conflicts);
    CHECK(ok == 2 * PUTS && conflicts == 0);
    Cairn__Response *response =
        harness_ok(s_get(client, "t", "race", ""), CAIRN__RESPONSE__BODY_DOC_GET);
    CHECK(response->doc_get->n_items == (size_t)ok);
    for (size_t i = 0; i < response->doc_get->n_items; i++) {
        int c = 0, number = 0;
        CHECK(sscanf(response->doc_get->items[i]->key, "c%d-%d", &c, &number) == 2);
        CHECK(applied[2 * number + c]);
    }
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_head(client, "t", "race"), CAIRN__RESPONSE__BODY_DOC_HEAD);
    CHECK(response->doc_head->seq == (uint64_t)ok);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&other);
    harness_session_down(&caller, &client, &node);
}

//  History: newest first, each snapshot's parent is the next older one, and
//  pages of max_items continue with next_before until more is false.
static void test_history_paging(void) {
    HARNESS_SESSION_UP(NULL);
    enum { COUNT = 25 };
    digest_t digests[COUNT];
    for (int i = 0; i < COUNT; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"n\":%d}", i);
        digests[i] = s_save_ok(client, "t", "h", json, true);
    }
    int seen = 0;
    uint64_t before = 0;
    for (int page = 0; page < 10; page++) {
        Cairn__Response *response =
            harness_ok(s_history(client, "t", "h", 10, before), CAIRN__RESPONSE__BODY_DOC_HISTORY);
        const Cairn__DocHistoryPage *got = response->doc_history;
        CHECK(got->n_snapshots == (page < 2 ? 10u : 5u) && got->more == (page < 2));
        for (size_t i = 0; i < got->n_snapshots; i++, seen++) {
            int n = COUNT - 1 - seen;
            CHECK(got->snapshots[i]->seq == (uint64_t)n + 1);
            CHECK(s_same(got->snapshots[i]->digest, &digests[n]));
            CHECK(n == 0 ? got->snapshots[i]->parent.len == 0
                         : s_same(got->snapshots[i]->parent, &digests[n - 1]));
        }
        before = got->next_before;
        bool more = got->more;
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            break;
    }
    CHECK(seen == COUNT);
    Cairn__Response *response =
        harness_ok(s_history(client, "t", "h", 0, 0), CAIRN__RESPONSE__BODY_DOC_HISTORY);
    CHECK(response->doc_history->n_snapshots == COUNT && !response->doc_history->more);
    cairn__response__free_unpacked(response, NULL);
    harness_fails(s_history(client, "t", "h", CA_DOC_PAGE_MAX + 1, 0), CAIRN__STATUS__INVALID,
                  "at most");
    harness_fails(s_history(client, "t", "nope", 0, 0), CAIRN__STATUS__NOT_FOUND, "no entry");
    harness_session_down(&caller, &client, &node);
}

//  Identical objects are stored once across entries and tenants.
static void test_dedup(void) {
    HARNESS_SESSION_UP(NULL);
    const char *tenants[] = {"t1", "t2", "t3"};
    const char *entries[] = {"a", "b", "c", "d"};
    for (size_t t = 0; t < 3; t++)
        for (size_t e = 0; e < 4; e++)
            s_save_ok(client, tenants[t], entries[e],
                      e % 2 ? "{\"same\":true}" : "{ \"same\" : true }", true);
    s_stats_are(client, "", 12, 12, 1);
    s_stats_are(client, "t2", 4, 4, 1);
    s_save_ok(client, "t1", "a", "{\"other\":1}", true);
    s_stats_are(client, "", 12, 13, 2);
    harness_session_down(&caller, &client, &node);
}

//  Nothing of one tenant is visible from another, even by digest.
static void test_tenant_isolation(void) {
    HARNESS_SESSION_UP(NULL);
    digest_t secret = s_save_ok(client, "acme", "plan", "{\"secret\":42}", true);
    s_save_ok(client, "globex", "plan", "{\"public\":1}", true);
    s_load_is(client, "globex", "plan", NO_DIGEST, "{\"public\":1}");
    harness_fails(s_load(client, "globex", "plan", s_bin(&secret)), CAIRN__STATUS__NOT_FOUND,
                  "no snapshot");
    harness_fails(s_revert(client, "globex", "plan", s_bin(&secret)), CAIRN__STATUS__NOT_FOUND,
                  "no snapshot");
    harness_fails(s_diff(client, "plan", s_bin(&secret), NO_DIGEST), CAIRN__STATUS__NOT_FOUND,
                  NULL);
    CHECK(!s_exists_ok(client, "globex", "plan", s_bin(&secret)));
    harness_fails(s_load(client, "initech", "plan", NO_DIGEST), CAIRN__STATUS__NOT_FOUND,
                  "no entry");
    s_stats_are(client, "acme", 1, 1, 2);
    s_stats_are(client, "initech", 0, 0, 2);
    //  Truncating and sweeping one tenant leaves the other's objects.
    cairn__response__free_unpacked(
        harness_ok(s_truncate(client, "globex", "plan", 1), CAIRN__RESPONSE__BODY_DOC_TRUNCATE),
        NULL);
    CHECK(s_sweep_ok(client) == 0);
    s_load_is(client, "acme", "plan", s_bin(&secret), "{\"secret\":42}");
    harness_session_down(&caller, &client, &node);
}

//  Canonical digests: stable across key order and whitespace; the pinned
//  vectors of documents.proto and documents_json.c over the wire.
static void test_canonical(void) {
    HARNESS_SESSION_UP(NULL);
    const documents_json_vector_t *vectors = documents_json_vectors;
    for (size_t v = 0; v < documents_json_vector_count; v++) {
        char entry[32];
        snprintf(entry, sizeof entry, "v%zu", v);
        digest_t digest = s_save_ok(client, "t", entry, vectors[v].input, true);
        char hex[2 * CA_SHA256_BYTES + 1];
        ca_hash_to_hex(digest.bytes, hex);
        CHECK(streq(hex, vectors[v].digest));
        s_load_is(client, "t", entry, NO_DIGEST, vectors[v].canonical);
        //  Saving the canonical text again changes nothing.
        s_save_ok(client, "t", entry, vectors[v].canonical, false);
    }
    //  Key order and whitespace.
    digest_t a = s_save_ok(client, "t", "o1", "{\"x\":1,\"y\":{\"q\":2,\"p\":[3]}}", true);
    digest_t b =
        s_save_ok(client, "t", "o2", "\n{ \"y\" :{\"p\" : [ 3 ],\t\"q\":2}, \"x\" : 1 }\r\n", true);
    CHECK(memcmp(a.bytes, b.bytes, CA_SHA256_BYTES) == 0);
    harness_session_down(&caller, &client, &node);
}

//  diff between two digests; revert makes an old object the head again as a
//  new snapshot, the history kept.
static void test_diff_revert(void) {
    HARNESS_SESSION_UP(NULL);
    digest_t v1 = s_save_ok(client, "t", "d", "{\"keep\":1,\"gone\":2,\"edit\":3}", true);
    digest_t v2 = s_save_ok(client, "t", "d", "{\"keep\":1,\"edit\":4,\"new\":5,\"new2\":6}", true);
    Cairn__Response *response =
        harness_ok(s_diff(client, "d", s_bin(&v1), s_bin(&v2)), CAIRN__RESPONSE__BODY_DOC_DIFF);
    const Cairn__DocDiffReply *diff = response->doc_diff;
    CHECK(diff->n_added == 2 && streq(diff->added[0], "new") && streq(diff->added[1], "new2"));
    CHECK(diff->n_removed == 1 && streq(diff->removed[0], "gone"));
    CHECK(diff->n_changed == 1 && streq(diff->changed[0], "edit"));
    cairn__response__free_unpacked(response, NULL);
    response =
        harness_ok(s_diff(client, "d", s_bin(&v2), NO_DIGEST), CAIRN__RESPONSE__BODY_DOC_DIFF);
    CHECK(response->doc_diff->n_added + response->doc_diff->n_removed +
              response->doc_diff->n_changed ==
          0);
    cairn__response__free_unpacked(response, NULL);

    response = harness_ok(s_revert(client, "t", "d", s_bin(&v1)), CAIRN__RESPONSE__BODY_DOC_REVERT);
    CHECK(response->doc_revert->changed && s_same(response->doc_revert->digest, &v1));
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_head(client, "t", "d"), CAIRN__RESPONSE__BODY_DOC_HEAD);
    CHECK(response->doc_head->seq == 3 && s_same(response->doc_head->parent, &v2) &&
          streq(response->doc_head->user, "carol"));
    cairn__response__free_unpacked(response, NULL);
    s_load_is(client, "t", "d", NO_DIGEST, "{\"edit\":3,\"gone\":2,\"keep\":1}");
    //  Reverting to the head's object is a no-op.
    response = harness_ok(s_revert(client, "t", "d", s_bin(&v1)), CAIRN__RESPONSE__BODY_DOC_REVERT);
    CHECK(!response->doc_revert->changed);
    cairn__response__free_unpacked(response, NULL);
    s_stats_are(client, "t", 1, 3, 2);
    harness_session_down(&caller, &client, &node);
}

//  Truncation keeps the newest N; the sweep removes exactly the objects no
//  kept snapshot references, and everything kept still loads.
static void test_gc(void) {
    HARNESS_SESSION_UP(NULL);
    digest_t d[6];
    char json[32];
    for (int i = 0; i < 6; i++) {
        snprintf(json, sizeof json, "{\"v\":%d}", i);
        d[i] = s_save_ok(client, "t", "g", json, true);
    }
    s_save_ok(client, "t", "shared", "{\"v\":0}", true); //  v0 stays reachable from here
    s_stats_are(client, "", 2, 7, 6);
    CHECK(s_sweep_ok(client) == 0);
    Cairn__Response *response =
        harness_ok(s_truncate(client, "t", "g", 2), CAIRN__RESPONSE__BODY_DOC_TRUNCATE);
    CHECK(response->doc_truncate->removed == 4);
    cairn__response__free_unpacked(response, NULL);
    s_stats_are(client, "", 2, 3, 6); //  objects wait for the sweep
    CHECK(s_sweep_ok(client) == 3);   //  v1, v2, v3
    s_stats_are(client, "", 2, 3, 3);
    CHECK(s_sweep_ok(client) == 0);
    s_load_is(client, "t", "g", s_bin(&d[4]), "{\"v\":4}");
    s_load_is(client, "t", "g", s_bin(&d[5]), "{\"v\":5}");
    s_load_is(client, "t", "shared", NO_DIGEST, "{\"v\":0}");
    harness_fails(s_load(client, "t", "g", s_bin(&d[3])), CAIRN__STATUS__NOT_FOUND, "truncated");
    response = harness_ok(s_history(client, "t", "g", 0, 0), CAIRN__RESPONSE__BODY_DOC_HISTORY);
    CHECK(response->doc_history->n_snapshots == 2 && response->doc_history->snapshots[1]->seq == 5);
    cairn__response__free_unpacked(response, NULL);
    //  A saved-again object is stored again and reachable.
    s_save_ok(client, "t", "g", "{\"v\":1}", true);
    s_load_is(client, "t", "g", s_bin(&d[1]), "{\"v\":1}");
    response = harness_ok(s_truncate(client, "t", "g", 100), CAIRN__RESPONSE__BODY_DOC_TRUNCATE);
    CHECK(response->doc_truncate->removed == 0);
    cairn__response__free_unpacked(response, NULL);
    harness_fails(s_truncate(client, "t", "nope", 1), CAIRN__STATUS__NOT_FOUND, "no such entry");
    harness_fails(s_truncate(client, "t", "g", 0), CAIRN__STATUS__INVALID, "keep");
    harness_session_down(&caller, &client, &node);
}

//  Invalid JSON is INVALID with its line, column and position.
static void test_invalid_json(void) {
    HARNESS_SESSION_UP(NULL);
    harness_fails(s_save(client, "t", "j", "{\n  \"a\": 1,\n  \"b\": tru\n}"),
                  CAIRN__STATUS__INVALID, "line 3, column");
    harness_fails(s_save(client, "t", "j", "{\"a\":1"), CAIRN__STATUS__INVALID, "position 6");
    harness_fails(s_save(client, "t", "j", "{\"a\":1,\"a\":2}"), CAIRN__STATUS__INVALID,
                  "duplicate");
    harness_fails(s_save(client, "t", "j", "[1,2]"), CAIRN__STATUS__INVALID, "not a JSON object");
    harness_fails(s_save(client, "t", "j", ""), CAIRN__STATUS__INVALID, "not valid JSON");
    harness_fails(s_put(client, "t", "j", "k", "{oops}"), CAIRN__STATUS__INVALID,
                  "column 5, position 5");
    harness_fails(s_save(client, "t", "j", "{\"big\":123456789012345678901234567890}"),
                  CAIRN__STATUS__INVALID, "line 1");
    char deep[2 * 70 + 8];
    size_t at = 0;
    at += (size_t)snprintf(deep, sizeof deep, "{\"d\":");
    for (int i = 0; i < 66; i++)
        deep[at++] = '[';
    for (int i = 0; i < 66; i++)
        deep[at++] = ']';
    deep[at++] = '}';
    deep[at] = 0;
    harness_fails(s_save(client, "t", "e", deep), CAIRN__STATUS__INVALID, "deeper than 64");
    s_stats_are(client, "", 0, 0, 0);
    harness_session_down(&caller, &client, &node);
}

//  Missing fields, wrong sizes, unknown tenant/entry/digest, oversized and
//  too deep objects, malformed protobuf: an error with a message, nothing
//  stored, and the node serves on.
static void test_bad_input(void) {
    static const char *const args[] = {"--doc-max-bytes", "64", NULL};
    HARNESS_SESSION_UP(args);
    digest_t good = s_save_ok(client, "t", "e", "{\"a\":1}", true);
    harness_fails(s_save(client, "", "e", "{}"), CAIRN__STATUS__INVALID, "tenant is missing");
    harness_fails(s_save(client, "t", "", "{}"), CAIRN__STATUS__INVALID, "entry is missing");
    Cairn__DocSave save = CAIRN__DOC_SAVE__INIT;
    save.tenant = "t";
    save.entry = "e";
    save.json = "{}";
    harness_fails(s_call(client, CAIRN__REQUEST__BODY_DOC_SAVE, &save), CAIRN__STATUS__INVALID,
                  "user is missing");
    char long_name[CA_DOC_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    harness_fails(s_save(client, long_name, "e", "{}"), CAIRN__STATUS__INVALID, "longer than 256");
    harness_fails(s_save(client, "t\001", "e", "{}"), CAIRN__STATUS__INVALID, "control");
    //  Oversized (doc_max_bytes 64; too deep: invalid_json).
    harness_fails(s_save(client, "t", "e",
                         "{\"k\":\"0123456789012345678901234567890123456789012345678901234567\"}"),
                  CAIRN__STATUS__INVALID, "longer than 64 bytes");
    harness_fails(s_put(client, "t", "e", "k",
                        "\"0123456789012345678901234567890123456789012345678901234567\""),
                  CAIRN__STATUS__INVALID, "doc_max_bytes");
    //  Digests: wrong size, unknown.
    uint8_t short_digest[5] = {1, 2, 3, 4, 5};
    harness_fails(s_load(client, "t", "e", (ProtobufCBinaryData){5, short_digest}),
                  CAIRN__STATUS__INVALID, "32-byte");
    harness_fails(s_revert(client, "t", "e", NO_DIGEST), CAIRN__STATUS__INVALID, "digest is 0");
    harness_fails(s_diff(client, "e", NO_DIGEST, NO_DIGEST), CAIRN__STATUS__INVALID, "from");
    digest_t unknown;
    memset(unknown.bytes, 0xee, sizeof unknown.bytes);
    harness_fails(s_load(client, "t", "e", s_bin(&unknown)), CAIRN__STATUS__NOT_FOUND,
                  "no snapshot");
    harness_fails(s_diff(client, "e", s_bin(&good), s_bin(&unknown)), CAIRN__STATUS__NOT_FOUND,
                  "no snapshot");
    //  Unknown tenant and entry.
    harness_fails(s_load(client, "nobody", "e", NO_DIGEST), CAIRN__STATUS__NOT_FOUND, "no entry");
    harness_fails(s_head(client, "t", "nothing"), CAIRN__STATUS__NOT_FOUND, "no entry");
    harness_fails(s_get(client, "t", "nothing", ""), CAIRN__STATUS__NOT_FOUND, "no entry");
    //  put: no key, too many items, a value that is not JSON.
    harness_fails(s_put(client, "t", "e", "", "1"), CAIRN__STATUS__INVALID, "key is missing");
    Cairn__DocPutMany many = CAIRN__DOC_PUT_MANY__INIT;
    many.tenant = "t";
    many.entry = "e";
    many.user = "u";
    harness_fails(s_call(client, CAIRN__REQUEST__BODY_DOC_PUT_MANY, &many), CAIRN__STATUS__INVALID,
                  "1..1000 records");
    harness_fails(s_put(client, "t", "e", "k", "nope"), CAIRN__STATUS__INVALID, "not valid JSON");
    s_stats_are(client, "", 1, 1, 1);

    //  Malformed protobuf: id 9, then field 1700 (doc_save) whose length
    //  runs past the frame; a DocSave with an unknown field 9; a DocSave
    //  whose tenant (field 1) is a varint.
    const uint8_t past_end[] = {0x08, 0x09, 0xa2, 0x6a, 0x05, 0x0a, 0x01};
    harness_fails_raw(client, past_end, sizeof past_end, 9, NULL);
    const uint8_t unknown_field[] = {0x08, 0x09, 0xa2, 0x6a, 0x02, 0x48, 0x01};
    harness_fails_raw(client, unknown_field, sizeof unknown_field, 9, NULL);
    const uint8_t wrong_type[] = {0x08, 0x09, 0xa2, 0x6a, 0x02, 0x08, 0x01};
    harness_fails_raw(client, wrong_type, sizeof wrong_type, 9, NULL);
    harness_expect_alive(client);
    s_load_is(client, "t", "e", NO_DIGEST, "{\"a\":1}");
    harness_session_down(&caller, &client, &node);
}

//  kill -9 while saves are in flight: after each restart every
//  acknowledged save is there (exists by digest, in the history), and the
//  chain goes on from what was stored.
static void test_kill9(void) {
    harness_node_t *node = harness_node_up(NULL);
    enum { COUNT = 3000, WINDOW = 32, CYCLES = 3 };
    static const int kill_after[CYCLES] = {300, 500, 700};
    int acked = 0, sent = 0;
    uint64_t next_id = 1;
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        zsock_t *client = harness_connect(harness_node_endpoint(node));
        int first = acked;
        sent = acked;
        while (acked < first + kill_after[cycle]) {
            while (sent < COUNT && sent - acked < WINDOW) {
                char json[32];
                snprintf(json, sizeof json, "{\"n\":%d}", sent++);
                Cairn__DocSave save = CAIRN__DOC_SAVE__INIT;
                save.tenant = "t";
                save.entry = "crash";
                save.user = "u";
                save.json = json;
                Cairn__Request request = CAIRN__REQUEST__INIT;
                request.id = next_id++;
                request.body_case = CAIRN__REQUEST__BODY_DOC_SAVE;
                request.doc_save = &save;
                CHECK(harness_send(client, &request) == 0);
            }
            Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
            CHECK(response && response->status == CAIRN__STATUS__OK && response->doc_save->changed);
            char json[32];
            snprintf(json, sizeof json, "{\"n\":%d}", acked);
            digest_t digest;
            s_digest_of(json, &digest);
            CHECK(s_same(response->doc_save->digest, &digest)); //  answered in order sent
            acked++;
            cairn__response__free_unpacked(response, NULL);
        }
        harness_node_kill9(node);
        zsock_destroy(&client);
        CHECK(harness_node_restart(node) == 0);
        client = harness_connect(harness_node_endpoint(node));
        for (int n = 0; n < acked; n += 7) {
            char json[32];
            snprintf(json, sizeof json, "{\"n\":%d}", n);
            digest_t digest;
            s_digest_of(json, &digest);
            CHECK(s_exists_ok(client, "t", "crash", s_bin(&digest)));
        }
        Cairn__Response *response =
            harness_ok(s_head(client, "t", "crash"), CAIRN__RESPONSE__BODY_DOC_HEAD);
        uint64_t stored = response->doc_head->seq;
        cairn__response__free_unpacked(response, NULL);
        printf("   cycle %d: acknowledged %d, sent %d, stored %" PRIu64 "\n", cycle, acked, sent,
               stored);
        CHECK(stored >= (uint64_t)acked && stored <= (uint64_t)sent);
        acked = (int)stored; //  the next cycle goes on from what is stored
        zsock_destroy(&client);
    }
    harness_node_down(&node);
}

static const harness_test_t s_tests[] = {
    {"save_load", test_save_load},
    {"put_noop", test_put_noop},
    {"put_race", test_put_race},
    {"history_paging", test_history_paging},
    {"dedup", test_dedup},
    {"tenant_isolation", test_tenant_isolation},
    {"canonical", test_canonical},
    {"diff_revert", test_diff_revert},
    {"gc", test_gc},
    {"invalid_json", test_invalid_json},
    {"bad_input", test_bad_input},
    {"kill9", test_kill9},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.documents", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

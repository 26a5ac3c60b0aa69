/*  =========================================================================
    e2e_manifests - black-box tests of the manifests pool (manifests,
    version chains, L1 summaries) against a real cairnd

        e2e-manifests TEST    runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir
    and talks to it only through its ZeroMQ endpoint. List tests keep a
    plain model of what they stored (hash, created_at as the node answered
    it, visibility, content type) and compare every page with the model
    filtered and sorted the same way, so each filter, the order and the
    paging are checked exactly, not by counts alone.
    ========================================================================= */

#include "harness.h"
#include "manifests.h"
#include "ca_hash.h"
#include "ca_limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 10000
#define CHECK   HARNESS_CHECK

//  ---- helpers ----------------------------------------------------------------------

//  ---- CRUD ---------------------------------------------------------------------------

static void test_crud(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.price = UINT64_MAX; //  every bit of the unsigned fields survives
    t.manifest.total_revenue = 1ULL << 63;
    t.manifest.version_timestamp = 1700000000.25;
    Cairn__Response *response =
        harness_ok(manifests_fixture_put(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    manifests_fixture_expect(response->manifest_put, &t);
    double created_at = response->manifest_put->created_at;
    CHECK(response->manifest_put->updated_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    manifests_fixture_get_expect(caller, 1, &t);

    //  Update replaces every mutable field and both lists, keeps the rest.
    t.manifest.content_type = (char *)"image/png";
    t.manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_SHARED;
    t.manifest.title = (char *)"";
    t.manifest.description = (char *)"new";
    t.manifest.n_tags = 1;
    t.manifest.content_size = 1;
    t.manifest.mime_type = (char *)"image/png";
    t.manifest.price = 0;
    t.manifest.total_queries = 1000;
    t.manifest.total_revenue = 5;
    t.access.n_allow = 0;
    t.manifest.owner = (char *)"";
    t.manifest.version_timestamp = 0; //  unset: kept
    response =
        harness_ok(manifests_fixture_update(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE);
    manifests_fixture_expect(response->manifest_update, &t);
    CHECK(response->manifest_update->created_at == created_at);
    CHECK(response->manifest_update->updated_at >= created_at);
    CHECK(response->manifest_update->version_timestamp == 1700000000.25);
    cairn__response__free_unpacked(response, NULL);
    manifests_fixture_get_expect(caller, 1, &t);
    t.manifest.access = NULL; //  no access lists at all: both emptied
    cairn__response__free_unpacked(
        harness_ok(manifests_fixture_update(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE),
        NULL);
    response = harness_ok(manifests_fixture_get(caller, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    CHECK(response->manifest_get->access->n_allow == 0 &&
          response->manifest_get->access->n_deny == 0);
    cairn__response__free_unpacked(response, NULL);

    //  Delete takes the lists along; a new put of the hash starts clean.
    CHECK(manifests_fixture_removed(caller, 1));
    harness_fails(manifests_fixture_get(caller, 1), CAIRN__STATUS__NOT_FOUND, "ManifestPut");
    CHECK(!manifests_fixture_removed(caller, 1));
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.n_tags = 0;
    t.manifest.access = NULL;
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_get_expect(caller, 1, &t);
    harness_session_down(&caller, &client, &node);
}

static void test_conflict(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    t.manifest.title = (char *)"other";
    harness_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT, "ManifestUpdate");
    manifests_fixture_init(&t, 1, 1, 0, 0);
    manifests_fixture_get_expect(caller, 1, &t); //  the first put stands
    manifests_fixture_init(&t, 2, 1, 0, 0);
    harness_fails(manifests_fixture_update(caller, &t), CAIRN__STATUS__NOT_FOUND, "put it first");
    harness_fails(manifests_fixture_get(caller, 2), CAIRN__STATUS__NOT_FOUND, "no manifest");
    //  An update cannot move the version fields.
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.version_number = 2;
    harness_fails(manifests_fixture_update(caller, &t), CAIRN__STATUS__INVALID,
                  "version_number cannot change");
    manifests_fixture_init(&t, 1, 1, 0, 0);
    manifests_fixture_hash(9, t.root);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.root};
    harness_fails(manifests_fixture_update(caller, &t), CAIRN__STATUS__INVALID,
                  "version_root cannot change");
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.version_timestamp = 5;
    harness_fails(manifests_fixture_update(caller, &t), CAIRN__STATUS__INVALID,
                  "version_timestamp cannot change");
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.hash}; //  repeating it is fine
    cairn__response__free_unpacked(
        harness_ok(manifests_fixture_update(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE),
        NULL);
    harness_session_down(&caller, &client, &node);
}

//  ---- lists: a model of what was stored ---------------------------------------------

typedef struct {
    uint8_t hash[32];
    double created_at;
    int visibility;
    const char *content_type;
} entry_t;

typedef struct {
    bool by_visibility;
    int visibility;
    const char *content_type;
    double after, before;
} filter_t;

static const char *const s_types[] = {"text/article", "image/png", "audio/ogg"};

//  Puts `count` manifests numbered from `first` with visibilities and
//  content types in turn, recording each in `model`.
static void s_fill(ca_caller_t *caller, entry_t *model, int first, int count) {
    for (int i = 0; i < count; i++) {
        manifests_fixture_t t;
        manifests_fixture_init(&t, first + i, 1, 0, 0);
        t.manifest.visibility = (Cairn__Visibility)(i % 3);
        t.manifest.content_type = (char *)s_types[(i / 3) % 3];
        memcpy(model[i].hash, t.hash, 32);
        model[i].visibility = i % 3;
        model[i].content_type = s_types[(i / 3) % 3];
        model[i].created_at = manifests_fixture_put_ok(caller, &t);
    }
}

//  Newest first: created_at, then hash, descending.
static int s_newest_first(const void *a, const void *b) {
    const entry_t *x = (const entry_t *)a, *y = (const entry_t *)b;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? 1 : -1;
    return -memcmp(x->hash, y->hash, 32);
}

static bool s_matches(const entry_t *entry, const filter_t *filter) {
    return (!filter->by_visibility || entry->visibility == filter->visibility) &&
           (!filter->content_type || streq(entry->content_type, filter->content_type)) &&
           (filter->after == 0 || entry->created_at > filter->after) &&
           (filter->before == 0 || entry->created_at < filter->before);
}

static Cairn__Response *s_list(zsock_t *client, const filter_t *filter, uint32_t limit,
                               uint32_t offset) {
    Cairn__Request request;
    Cairn__ManifestList list;
    ca_request_manifest_list(&request, &list, 0, filter->by_visibility,
                             (Cairn__Visibility)filter->visibility, filter->content_type,
                             filter->after, filter->before, limit, offset);
    return harness_request(client, &request);
}

//  One page equals the model filtered, sorted, cut at [offset, offset+limit).
static void s_page_expect(zsock_t *client, entry_t *model, size_t count, const filter_t *filter,
                          uint32_t limit, uint32_t offset) {
    qsort(model, count, sizeof *model, s_newest_first);
    Cairn__Response *response =
        harness_ok(s_list(client, filter, limit, offset), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    const Cairn__ManifestPage *page = response->manifest_list;
    size_t effective = limit ? limit : CA_MANIFEST_PAGE_DEFAULT;
    size_t seen = 0, at = 0;
    for (size_t i = 0; i < count; i++) {
        if (!s_matches(&model[i], filter))
            continue;
        if (seen >= offset && at < effective) {
            CHECK(at < page->n_manifests);
            CHECK(memcmp(page->manifests[at]->hash.data, model[i].hash, 32) == 0);
            CHECK(page->manifests[at]->created_at == model[i].created_at);
            CHECK(page->manifests[at]->n_tags == 2 && page->manifests[at]->access);
            at++;
        }
        seen++;
    }
    CHECK(page->n_manifests == at);
    CHECK(page->more == (seen > (size_t)offset + at));
    cairn__response__free_unpacked(response, NULL);
}

#define LIST_COUNT 27

static void test_list_visibility(void) {
    HARNESS_SESSION_UP(NULL);
    entry_t model[LIST_COUNT];
    s_fill(caller, model, 100, LIST_COUNT);
    for (int visibility = 0; visibility < 3; visibility++) {
        filter_t filter = {true, visibility, NULL, 0, 0};
        s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
    }
    filter_t all = {false, 0, NULL, 0, 0}; //  visibility 0 without by_visibility: no filter
    s_page_expect(client, model, LIST_COUNT, &all, 0, 0);
    harness_session_down(&caller, &client, &node);
}

static void test_list_content_type(void) {
    HARNESS_SESSION_UP(NULL);
    entry_t model[LIST_COUNT];
    s_fill(caller, model, 200, LIST_COUNT);
    for (size_t i = 0; i < 3; i++) {
        filter_t filter = {false, 0, s_types[i], 0, 0};
        s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
    }
    filter_t none = {false, 0, "video/mp4", 0, 0};
    s_page_expect(client, model, LIST_COUNT, &none, 0, 0);
    harness_session_down(&caller, &client, &node);
}

static void test_list_created(void) {
    HARNESS_SESSION_UP(NULL);
    entry_t model[LIST_COUNT];
    s_fill(caller, model, 300, LIST_COUNT);
    double early = model[5].created_at, late = model[20].created_at;
    filter_t after = {false, 0, NULL, early, 0};
    s_page_expect(client, model, LIST_COUNT, &after, 0, 0);
    filter_t before = {false, 0, NULL, 0, late};
    s_page_expect(client, model, LIST_COUNT, &before, 0, 0);
    filter_t between = {false, 0, NULL, early, late};
    s_page_expect(client, model, LIST_COUNT, &between, 0, 0);
    filter_t empty = {false, 0, NULL, late, early};
    s_page_expect(client, model, LIST_COUNT, &empty, 0, 0);
    harness_session_down(&caller, &client, &node);
}

static void test_list_combined(void) {
    HARNESS_SESSION_UP(NULL);
    entry_t model[LIST_COUNT];
    s_fill(caller, model, 400, LIST_COUNT);
    double early = model[3].created_at, late = model[24].created_at;
    for (int visibility = 0; visibility < 3; visibility++)
        for (size_t type = 0; type < 3; type++) {
            filter_t filter = {true, visibility, s_types[type], early, late};
            s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
            filter.after = 0;
            s_page_expect(client, model, LIST_COUNT, &filter, 2, 1);
        }
    harness_session_down(&caller, &client, &node);
}

#define PAGING_COUNT 250

static void test_list_paging(void) {
    HARNESS_SESSION_UP(NULL);
    entry_t *model = (entry_t *)calloc(PAGING_COUNT, sizeof(entry_t));
    s_fill(caller, model, 1000, PAGING_COUNT);
    filter_t all = {false, 0, NULL, 0, 0};
    for (uint32_t offset = 0; offset < PAGING_COUNT + 50; offset += 100)
        s_page_expect(client, model, PAGING_COUNT, &all, 100, offset);
    s_page_expect(client, model, PAGING_COUNT, &all, 0, 0);   //  the default page: 100
    s_page_expect(client, model, PAGING_COUNT, &all, 7, 243); //  the tail
    s_page_expect(client, model, PAGING_COUNT, &all, CA_MANIFEST_PAGE_MAX, 0);
    s_page_expect(client, model, PAGING_COUNT, &all, 1, UINT32_MAX);
    filter_t shared = {true, CAIRN__VISIBILITY__VISIBILITY_SHARED, NULL, 0, 0};
    for (uint32_t offset = 0; offset < 90; offset += 30)
        s_page_expect(client, model, PAGING_COUNT, &shared, 30, offset);
    free(model);
    harness_session_down(&caller, &client, &node);
}

//  ---- versions ----------------------------------------------------------------------

static void test_versions(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    //  Two interleaved chains: 10 <- 11 <- ... <- 14 and 20 <- 21.
    manifests_fixture_init(&t, 10, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_init(&t, 20, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    for (int n = 11; n <= 14; n++) {
        manifests_fixture_init(&t, n, (uint32_t)(n - 9), n - 1, 10);
        Cairn__Response *response =
            harness_ok(manifests_fixture_put(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
        manifests_fixture_expect(response->manifest_put, &t);
        cairn__response__free_unpacked(response, NULL);
        if (n == 11) {
            manifests_fixture_init(&t, 21, 2, 20, 20);
            manifests_fixture_put_ok(caller, &t);
        }
    }
    Cairn__Response *response =
        harness_ok(manifests_fixture_versions(caller, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    const Cairn__ManifestPage *page = response->manifest_versions;
    CHECK(page->n_manifests == 5 && !page->more);
    for (size_t i = 0; i < 5; i++) {
        uint8_t hash[32], root[32];
        manifests_fixture_hash(10 + (int)i, hash);
        manifests_fixture_hash(10, root);
        CHECK(page->manifests[i]->version_number == i + 1);
        CHECK(memcmp(page->manifests[i]->hash.data, hash, 32) == 0);
        CHECK(memcmp(page->manifests[i]->version_root.data, root, 32) == 0);
    }
    cairn__response__free_unpacked(response, NULL);
    response =
        harness_ok(manifests_fixture_versions(caller, 20), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == 2);
    cairn__response__free_unpacked(response, NULL);
    harness_fails(manifests_fixture_versions(caller, 12), CAIRN__STATUS__NOT_FOUND,
                  "version root"); //  not a root
    harness_fails(manifests_fixture_versions(caller, 99), CAIRN__STATUS__NOT_FOUND, "version root");
    harness_session_down(&caller, &client, &node);
}

//  ManifestVersions a page at a time: 25 versions of 100 beside a chain of
//  200 put in between, walked with several limits; the bounds of a page.
static void test_version_pages(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_version_pages(caller, 100);
    harness_session_down(&caller, &client, &node);
}

//  Each version rule broken once; nothing of a refused put is stored.
static void test_version_rules(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_version_rules(caller);
    harness_session_down(&caller, &client, &node);
}

//  Competing puts of version 2 of one root, all in flight at once, over
//  both workers: exactly one wins, the others are CONFLICT.
#define RACERS 16

static void test_version_race(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 10, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    uint8_t previous_hash[32]; //  the winner of the last round
    manifests_fixture_hash(10, previous_hash);
    for (int round = 0; round < 5; round++) {
        manifests_fixture_t racers[RACERS];
        for (int i = 0; i < RACERS; i++) {
            manifests_fixture_init(&racers[i], 100 * (round + 1) + i, (uint32_t)round + 2, 10, 10);
            memcpy(racers[i].previous, previous_hash, 32);
            Cairn__Request request;
            Cairn__ManifestPut put;
            ca_request_manifest_put(&request, &put, 5000 + (uint64_t)i, &racers[i].manifest);
            CHECK(harness_send(client, &request) == 0);
        }
        int wins = 0, winner = -1;
        for (int i = 0; i < RACERS; i++) {
            Cairn__Response *response = harness_recv(client, CALL_MS);
            CHECK(response);
            if (response->status == CAIRN__STATUS__OK) {
                wins++;
                winner = (int)(response->id - 5000);
            } else
                harness_expect(response, CAIRN__STATUS__CONFLICT, "exists already");
            cairn__response__free_unpacked(response, NULL);
        }
        CHECK(wins == 1 && winner >= 0);
        memcpy(previous_hash, racers[winner].hash, 32);
    }
    Cairn__Response *response =
        harness_ok(manifests_fixture_versions(caller, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == 6);
    for (size_t i = 0; i < 6; i++)
        CHECK(response->manifest_versions->manifests[i]->version_number == i + 1);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  A chain, an update of each version and a summary, all pipelined
//  without waiting: the writes commit in the order sent, so all succeed.
#define PIPELINED 40

static void test_version_pipeline(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t *chain =
        (manifests_fixture_t *)calloc(PIPELINED, sizeof(manifests_fixture_t));
    uint64_t sent = 0;
    for (int i = 0; i < PIPELINED; i++) {
        manifests_fixture_init(&chain[i], 500 + i, (uint32_t)i + 1, 500 + i - 1, 500);
        Cairn__Request request;
        Cairn__ManifestPut put;
        ca_request_manifest_put(&request, &put, 7000 + sent++, &chain[i].manifest);
        CHECK(harness_send(client, &request) == 0);
    }
    for (int i = 0; i < PIPELINED; i++) {
        chain[i].manifest.title = (char *)"updated";
        Cairn__Request request;
        Cairn__ManifestUpdate update;
        ca_request_manifest_update(&request, &update, 7000 + sent++, &chain[i].manifest);
        CHECK(harness_send(client, &request) == 0);
    }
    for (uint64_t i = 0; i < sent; i++) {
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        harness_expect(response, CAIRN__STATUS__OK, NULL);
        cairn__response__free_unpacked(response, NULL);
    }
    Cairn__Response *response = harness_ok(manifests_fixture_versions(caller, 500),
                                           CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == PIPELINED);
    for (size_t i = 0; i < PIPELINED; i++) {
        manifests_fixture_expect(response->manifest_versions->manifests[i], &chain[i]);
        CHECK(streq(response->manifest_versions->manifests[i]->title, "updated"));
    }
    cairn__response__free_unpacked(response, NULL);
    free(chain);
    harness_session_down(&caller, &client, &node);
}

static void test_delete_versions(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 10, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_init(&t, 11, 2, 10, 10);
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_init(&t, 12, 3, 11, 10);
    manifests_fixture_put_ok(caller, &t);
    harness_fails(manifests_fixture_delete(caller, 10), CAIRN__STATUS__CONFLICT,
                  "later versions first");
    harness_fails(manifests_fixture_delete(caller, 11), CAIRN__STATUS__CONFLICT,
                  "later versions first");
    manifests_fixture_init(&t, 10, 1, 0, 0);
    manifests_fixture_get_expect(caller, 10, &t); //  a refused delete keeps the lists too
    CHECK(manifests_fixture_removed(caller, 12));
    //  The freed slot takes a new version 3.
    manifests_fixture_init(&t, 13, 3, 11, 10);
    manifests_fixture_put_ok(caller, &t);
    CHECK(manifests_fixture_removed(caller, 13) && manifests_fixture_removed(caller, 11) &&
          manifests_fixture_removed(caller, 10));
    harness_fails(manifests_fixture_versions(caller, 10), CAIRN__STATUS__NOT_FOUND, "version root");
    harness_session_down(&caller, &client, &node);
}

//  ---- summaries ----------------------------------------------------------------------

static Cairn__Response *s_summary_get(zsock_t *client, const uint8_t *hash, size_t size) {
    Cairn__Request request;
    Cairn__SummaryGet get;
    ca_request_summary_get(&request, &get, 0, hash, size);
    return harness_request(client, &request);
}

static Cairn__Response *s_summary_put(zsock_t *client, Cairn__Summary *summary) {
    Cairn__Request request;
    Cairn__SummaryPut put;
    ca_request_summary_put(&request, &put, 0, summary);
    return harness_request(client, &request);
}

static void s_summary_expect(zsock_t *client, const Cairn__Summary *want) {
    Cairn__Response *response = harness_ok(s_summary_get(client, want->l0_hash.data, 32),
                                           CAIRN__RESPONSE__BODY_SUMMARY_GET);
    const Cairn__Summary *got = response->summary_get;
    CHECK(got->l0_hash.len == 32 && memcmp(got->l0_hash.data, want->l0_hash.data, 32) == 0);
    CHECK(got->mention_count == want->mention_count);
    CHECK(streq(got->summary_text, want->summary_text));
    CHECK(manifests_fixture_strings_equal(got->preview_mentions, got->n_preview_mentions,
                                          want->preview_mentions, want->n_preview_mentions));
    CHECK(manifests_fixture_strings_equal(got->primary_topics, got->n_primary_topics,
                                          want->primary_topics, want->n_primary_topics));
    cairn__response__free_unpacked(response, NULL);
}

static void test_summaries(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t hash[32], other[32];
    manifests_fixture_hash(1, hash);
    manifests_fixture_hash(2, other);
    harness_fails(s_summary_get(client, hash, 32), CAIRN__STATUS__NOT_FOUND, "SummaryPut");
    char *mentions[CA_SUMMARY_ITEMS_MAX], *topics[] = {(char *)"storage", (char *)"c", (char *)""};
    char mention_text[CA_SUMMARY_ITEMS_MAX][16];
    for (int i = 0; i < CA_SUMMARY_ITEMS_MAX; i++) {
        snprintf(mention_text[i], sizeof mention_text[i], "mention %d", i);
        mentions[i] = mention_text[i];
    }
    char *text = (char *)malloc(CA_SUMMARY_TEXT_MAX + 1);
    memset(text, 's', CA_SUMMARY_TEXT_MAX);
    text[CA_SUMMARY_TEXT_MAX] = 0;
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){32, hash};
    summary.mention_count = UINT64_MAX;
    summary.preview_mentions = mentions;
    summary.n_preview_mentions = CA_SUMMARY_ITEMS_MAX; //  every limit at its edge
    summary.primary_topics = topics;
    summary.n_primary_topics = 3;
    summary.summary_text = text;
    Cairn__Response *response =
        harness_ok(s_summary_put(client, &summary), CAIRN__RESPONSE__BODY_SUMMARY_PUT);
    CHECK(response->summary_put->n_preview_mentions == CA_SUMMARY_ITEMS_MAX);
    cairn__response__free_unpacked(response, NULL);
    s_summary_expect(client, &summary);
    //  A second put replaces the whole summary, items included.
    summary.mention_count = 2;
    summary.n_preview_mentions = 2;
    summary.n_primary_topics = 0;
    summary.summary_text = (char *)"short";
    cairn__response__free_unpacked(
        harness_ok(s_summary_put(client, &summary), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    s_summary_expect(client, &summary);
    Cairn__Summary empty = CAIRN__SUMMARY__INIT;
    empty.l0_hash = (ProtobufCBinaryData){32, other};
    cairn__response__free_unpacked(
        harness_ok(s_summary_put(client, &empty), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    s_summary_expect(client, &empty);
    s_summary_expect(client, &summary); //  untouched by the other
    free(text);
    harness_session_down(&caller, &client, &node);
}

//  ---- bad input -------------------------------------------------------------------------

//  A string of `size` copies of `c` (caller frees).
static char *s_repeat(char c, size_t size) {
    char *text = (char *)malloc(size + 1);
    memset(text, c, size);
    text[size] = 0;
    return text;
}

static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t wide[40] = {0};
    Cairn__Request request;
    //  Wrong hash sizes in every request that takes one.
    size_t sizes[] = {0, 1, 31, 33, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        manifests_fixture_t t;
        manifests_fixture_init(&t, 1, 1, 0, 0);
        t.manifest.hash = (ProtobufCBinaryData){sizes[i], wide};
        harness_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "manifest.hash");
        harness_fails(manifests_fixture_update(caller, &t), CAIRN__STATUS__INVALID,
                      "manifest.hash");
        harness_fails(manifests_fixture_get_hash(caller, wide, sizes[i]), CAIRN__STATUS__INVALID,
                      "hash");
        Cairn__ManifestDelete del;
        ca_request_manifest_delete(&request, &del, 0, wide, sizes[i]);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "hash");
        Cairn__ManifestVersions versions;
        ca_request_manifest_versions(&request, &versions, 0, wide, sizes[i], 0, 0);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "version_root");
        harness_fails(s_summary_get(client, wide, sizes[i]), CAIRN__STATUS__INVALID, "l0_hash");
        Cairn__Summary summary = CAIRN__SUMMARY__INIT;
        summary.l0_hash = (ProtobufCBinaryData){sizes[i], wide};
        harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID, "l0_hash");
        if (sizes[i]) {
            manifests_fixture_init(&t, 1, 2, 10, 10);
            t.manifest.version_previous.len = sizes[i];
            harness_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                          "version_previous");
            manifests_fixture_init(&t, 1, 2, 10, 10);
            t.manifest.version_root.len = sizes[i];
            harness_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                          "version_root");
        }
    }
    //  Missing bodies.
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "no manifest");
    Cairn__ManifestUpdate update;
    ca_request_manifest_update(&request, &update, 0, NULL);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "no manifest");
    harness_fails(s_summary_put(client, NULL), CAIRN__STATUS__INVALID, "no summary");

    //  Each field over its limit, or malformed; put and update alike.
    char *long_type = s_repeat('t', CA_MANIFEST_TYPE_MAX + 1);
    char *long_title = s_repeat('x', CA_MANIFEST_TITLE_MAX + 1);
    char *long_description = s_repeat('d', CA_MANIFEST_DESCRIPTION_MAX + 1);
    char *long_mime = s_repeat('m', CA_MANIFEST_MIME_MAX + 1);
    char *long_tag = s_repeat('g', CA_MANIFEST_TAG_MAX + 1);
    char *long_peer = s_repeat('p', 129);
    char *many_tags[CA_MANIFEST_TAGS_MAX + 1];
    for (int i = 0; i <= CA_MANIFEST_TAGS_MAX; i++)
        many_tags[i] = (char *)"tag";
    char **many_peers = (char **)calloc(CA_MANIFEST_ACCESS_MAX + 1, sizeof(char *));
    char(*peer_names)[16] = calloc(CA_MANIFEST_ACCESS_MAX + 1, 16);
    for (int i = 0; i <= CA_MANIFEST_ACCESS_MAX; i++) {
        snprintf(peer_names[i], 16, "peer:%d", i);
        many_peers[i] = peer_names[i];
    }
    for (int pass = 0; pass < 2; pass++) {
        Cairn__Response *(*send)(ca_caller_t *, manifests_fixture_t *) =
            pass ? manifests_fixture_update : manifests_fixture_put;
        if (pass) {
            manifests_fixture_t base;
            manifests_fixture_init(&base, 1, 1, 0, 0);
            manifests_fixture_put_ok(caller, &base); //  updates need a manifest to exist
        }
        manifests_fixture_t t;
#define BAD(edit, fragment)                                                                        \
    do {                                                                                           \
        manifests_fixture_init(&t, 1, 1, 0, 0);                                                    \
        edit;                                                                                      \
        harness_fails(send(caller, &t), CAIRN__STATUS__INVALID, fragment);                         \
    } while (0)
        BAD(t.manifest.content_type = (char *)"", "content_type");
        BAD(t.manifest.content_type = long_type, "content_type");
        BAD(t.manifest.content_type = (char *)"text/a b", "content_type");
        BAD(t.manifest.content_type = (char *)"text;x", "content_type");
        BAD(t.manifest.visibility = (Cairn__Visibility)3, "visibility");
        BAD(t.manifest.visibility = (Cairn__Visibility)-1, "visibility");
        BAD(t.manifest.title = long_title, "title is 257 bytes");
        BAD(t.manifest.description = long_description, "description is 4097 bytes");
        BAD(t.manifest.mime_type = long_mime, "mime_type is 129 bytes");
        BAD(t.manifest.mime_type = (char *)"text/\nplain", "control character");
        BAD((t.manifest.tags = many_tags, t.manifest.n_tags = CA_MANIFEST_TAGS_MAX + 1),
            "at most 32");
        BAD(t.tags[1] = long_tag, "tags[1] is 65 bytes");
        BAD(t.tags[0] = (char *)"", "tags[0] is 0 bytes");
        BAD(t.tags[1] = (char *)"a\x7f", "control character");
        BAD((t.access.allow = many_peers, t.access.n_allow = CA_MANIFEST_ACCESS_MAX + 1),
            "at most 1000");
        BAD((t.access.deny = many_peers, t.access.n_deny = CA_MANIFEST_ACCESS_MAX + 1),
            "at most 1000");
        BAD(t.allow[0] = (char *)"", "access.allow[0]");
        BAD(t.allow[1] = long_peer, "access.allow[1]");
        BAD(t.deny[0] = (char *)"peer/../x", "access.deny[0]");
        BAD(t.allow[1] = (char *)"peer:b", "repeats peer");
        BAD(t.manifest.owner = (char *)"not a peer", "owner");
        BAD(t.manifest.owner = long_peer, "owner");
#undef BAD
    }
    //  Every list at its limit is fine.
    manifests_fixture_t t;
    manifests_fixture_init(&t, 2, 1, 0, 0);
    t.manifest.tags = many_tags;
    t.manifest.n_tags = CA_MANIFEST_TAGS_MAX;
    t.access.allow = many_peers;
    t.access.n_allow = CA_MANIFEST_ACCESS_MAX;
    t.access.deny = many_peers; //  on both lists: allowed, deny wins
    t.access.n_deny = CA_MANIFEST_ACCESS_MAX;
    t.manifest.title = long_title;
    t.manifest.title[CA_MANIFEST_TITLE_MAX] = 0;
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_get_expect(caller, 2, &t);
    //  Version timestamps: finite, not negative.
    double times[] = {NAN, INFINITY, -INFINITY, -1};
    for (size_t i = 0; i < 4; i++) {
        manifests_fixture_init(&t, 3, 1, 0, 0);
        t.manifest.version_timestamp = times[i];
        harness_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                      "version_timestamp");
    }
    //  List filters and limits.
    Cairn__ManifestList list;
    for (size_t i = 0; i < 4; i++) {
        ca_request_manifest_list(&request, &list, 0, false, 0, NULL, times[i], 0, 0, 0);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "created_after");
        ca_request_manifest_list(&request, &list, 0, false, 0, NULL, 0, times[i], 0, 0);
        harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "created_before");
    }
    ca_request_manifest_list(&request, &list, 0, false, 0, NULL, 0, 0, CA_MANIFEST_PAGE_MAX + 1, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "limit");
    ca_request_manifest_list(&request, &list, 0, true, (Cairn__Visibility)9, NULL, 0, 0, 0, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "visibility");
    ca_request_manifest_list(&request, &list, 0, false, 0, "bad type!", 0, 0, 0, 0);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__INVALID, "content_type");
    //  Summaries over their limits.
    uint8_t hash[32];
    manifests_fixture_hash(5, hash);
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){32, hash};
    char *long_mention = s_repeat('m', CA_SUMMARY_MENTION_MAX + 1);
    char *long_topic = s_repeat('t', CA_SUMMARY_TOPIC_MAX + 1);
    char *long_text = s_repeat('s', CA_SUMMARY_TEXT_MAX + 1);
    char *items[CA_SUMMARY_ITEMS_MAX + 1];
    for (int i = 0; i <= CA_SUMMARY_ITEMS_MAX; i++)
        items[i] = (char *)"x";
    summary.preview_mentions = items;
    summary.n_preview_mentions = CA_SUMMARY_ITEMS_MAX + 1;
    harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID,
                  "preview_mentions holds 101");
    summary.n_preview_mentions = 1;
    items[0] = long_mention;
    harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID, "preview_mentions[0]");
    summary.n_preview_mentions = 0;
    summary.primary_topics = items;
    summary.n_primary_topics = CA_SUMMARY_ITEMS_MAX + 1;
    harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID,
                  "primary_topics holds 101");
    summary.n_primary_topics = 1;
    items[0] = long_topic;
    harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID, "primary_topics[0]");
    summary.n_primary_topics = 0;
    summary.summary_text = long_text;
    harness_fails(s_summary_put(client, &summary), CAIRN__STATUS__INVALID, "summary_text");
    harness_fails(s_summary_get(client, hash, 32), CAIRN__STATUS__NOT_FOUND, "no summary");

    //  Nothing refused was stored: only 1 and 2, as put.
    filter_t all = {false, 0, NULL, 0, 0};
    Cairn__Response *response =
        harness_ok(s_list(client, &all, 0, 0), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    CHECK(response->manifest_list->n_manifests == 2);
    cairn__response__free_unpacked(response, NULL);
    manifests_fixture_init(&t, 1, 1, 0, 0);
    manifests_fixture_get_expect(caller, 1, &t);
    free(long_type);
    free(long_title);
    free(long_description);
    free(long_mime);
    free(long_tag);
    free(long_peer);
    free(many_peers);
    free(peer_names);
    free(long_mention);
    free(long_topic);
    free(long_text);
    harness_session_down(&caller, &client, &node);
}

//  Bodies that do not decode are answered INVALID with the request's id.
static void test_malformed(void) {
    HARNESS_SESSION_UP(NULL);
    //  id 1; Request.manifest_put (field 800, length 4) holding
    //  ManifestPut.manifest (length 2) whose hash claims 255 bytes.
    static const uint8_t broken_put[] = {0x08, 0x01, 0x82, 0x32, 0x04, 0x0a, 0x02, 0x0a, 0xff};
    //  id 2; Request.manifest_list (field 804) with limit as a string.
    static const uint8_t broken_list[] = {0x08, 0x02, 0xa2, 0x32, 0x03, 0x32, 0x01, 0x41};
    //  id 3; Request.summary_put (field 810), the summary cut short.
    static const uint8_t broken_summary[] = {0x08, 0x03, 0xd2, 0x32, 0x03, 0x0a, 0x05, 0x0a};
    const struct {
        const uint8_t *data;
        size_t size;
        uint64_t id;
    } frames[] = {{broken_put, sizeof broken_put, 1},
                  {broken_list, sizeof broken_list, 2},
                  {broken_summary, sizeof broken_summary, 3}};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        zframe_t *frame = zframe_new(frames[i].data, frames[i].size);
        CHECK(zframe_send(&frame, client, 0) == 0);
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response);
        harness_expect(response, CAIRN__STATUS__INVALID, NULL);
        CHECK(response->id == frames[i].id);
        cairn__response__free_unpacked(response, NULL);
    }
    //  A valid put packed, then cut at every length: never stored by halves.
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 9, &t.manifest);
    size_t size = cairn__request__get_packed_size(&request);
    uint8_t *packed = (uint8_t *)malloc(size);
    cairn__request__pack(&request, packed);
    for (size_t cut = 1; cut < size; cut += 7) {
        zframe_t *frame = zframe_new(packed, cut);
        CHECK(zframe_send(&frame, client, 0) == 0);
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response && response->status != CAIRN__STATUS__OK);
        cairn__response__free_unpacked(response, NULL);
    }
    free(packed);
    harness_fails(manifests_fixture_get(caller, 1), CAIRN__STATUS__NOT_FOUND, "no manifest");
    manifests_fixture_put_ok(caller, &t); //  and the node is fine
    harness_session_down(&caller, &client, &node);
}

//  ---- across restarts, pools and Info --------------------------------------------------

static void test_restart(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t first, second;
    manifests_fixture_init(&first, 10, 1, 0, 0);
    manifests_fixture_put_ok(caller, &first);
    manifests_fixture_init(&second, 11, 2, 10, 10);
    manifests_fixture_put_ok(caller, &second);
    uint8_t hash[32];
    manifests_fixture_hash(10, hash);
    char *mentions[] = {(char *)"kept"};
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){32, hash};
    summary.mention_count = 1;
    summary.preview_mentions = mentions;
    summary.n_preview_mentions = 1;
    summary.summary_text = (char *)"survives";
    cairn__response__free_unpacked(
        harness_ok(s_summary_put(client, &summary), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    harness_session_restart(node, &client, &caller);
    manifests_fixture_get_expect(caller, 10, &first);
    manifests_fixture_get_expect(caller, 11, &second);
    s_summary_expect(client, &summary);
    //  The chain rules hold across the restart.
    manifests_fixture_init(&second, 12, 2, 10, 10);
    harness_fails(manifests_fixture_put(caller, &second), CAIRN__STATUS__CONFLICT,
                  "exists already");
    harness_session_down(&caller, &client, &node);
}

//  ProvRoots answers owner and visibility from the manifests pool's rows.
static void test_prov_owner(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.owner = (char *)"peer:alice";
    t.manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_UNLISTED;
    manifests_fixture_put_ok(caller, &t);
    uint8_t a[32], b[32], c[32];
    manifests_fixture_hash(1, a); //  has a manifest
    manifests_fixture_hash(2, b); //  has none
    manifests_fixture_hash(3, c);
    ProtobufCBinaryData sources[] = {{32, a}, {32, b}};
    Cairn__Request request;
    Cairn__ProvAdd add;
    ca_request_prov_add(&request, &add, 0, c, 32, sources, 2);
    cairn__response__free_unpacked(
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_PROV_ADD), NULL);
    Cairn__ProvRoots roots;
    ca_request_prov_roots(&request, &roots, 0, c, 32, 0);
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_PROV_ROOTS);
    CHECK(response->prov_roots->n_roots == 2);
    for (size_t i = 0; i < 2; i++) {
        const Cairn__ProvRoot *root = response->prov_roots->roots[i];
        bool is_a = memcmp(root->hash.data, a, 32) == 0;
        CHECK(root->weight == 1 && root->has_manifest == is_a);
        if (is_a)
            CHECK(streq(root->owner, "peer:alice") &&
                  root->visibility == CAIRN__VISIBILITY__VISIBILITY_UNLISTED);
    }
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_info(void) {
    HARNESS_SESSION_UP(NULL);
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    harness_fails(manifests_fixture_get(caller, 2), CAIRN__STATUS__NOT_FOUND, "no manifest");
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 0);
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_INFO);
    bool found = false;
    for (size_t i = 0; i < response->info->n_actors; i++) {
        const Cairn__ActorInfo *actor = response->info->actors[i];
        if (streq(actor->name, "manifests")) {
            found = true;
            CHECK(actor->workers >= 1 && actor->requests >= 2 && actor->errors >= 1);
        }
    }
    CHECK(found);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"crud", test_crud},
    {"conflict", test_conflict},
    {"list_visibility", test_list_visibility},
    {"list_content_type", test_list_content_type},
    {"list_created", test_list_created},
    {"list_combined", test_list_combined},
    {"list_paging", test_list_paging},
    {"versions", test_versions},
    {"version_pages", test_version_pages},
    {"version_rules", test_version_rules},
    {"version_race", test_version_race},
    {"version_pipeline", test_version_pipeline},
    {"delete_versions", test_delete_versions},
    {"summaries", test_summaries},
    {"bad_input", test_bad_input},
    {"malformed", test_malformed},
    {"restart", test_restart},
    {"prov_owner", test_prov_owner},
    {"info", test_info},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.manifests", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

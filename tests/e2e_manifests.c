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
#include "ca_hash.h"
#include "ca_limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 10000
#define CHECK   HARNESS_CHECK

//  ---- helpers ----------------------------------------------------------------------

//  Content number n: the hash of its name.
static void s_hash(int n, uint8_t hash[32]) {
    char name[32];
    snprintf(name, sizeof name, "e2e-content-%d", n);
    ca_sha256(name, strlen(name), hash);
}

//  A manifest with its own storage, so tests can edit fields in place.
typedef struct {
    Cairn__Manifest manifest;
    Cairn__AccessControl access;
    uint8_t hash[32], previous[32], root[32];
    char *tags[2], *allow[2], *deny[1];
} test_manifest_t;

//  Content n as version `number` (following content `previous`, root `root`).
static void s_manifest_init(test_manifest_t *t, int n, uint32_t number, int previous, int root) {
    memset(t, 0, sizeof *t);
    cairn__manifest__init(&t->manifest);
    cairn__access_control__init(&t->access);
    s_hash(n, t->hash);
    t->manifest.hash = (ProtobufCBinaryData){32, t->hash};
    t->manifest.content_type = (char *)"text/article";
    t->manifest.version_number = number;
    if (number > 1) {
        s_hash(previous, t->previous);
        s_hash(root, t->root);
        t->manifest.version_previous = (ProtobufCBinaryData){32, t->previous};
        t->manifest.version_root = (ProtobufCBinaryData){32, t->root};
    }
    t->manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_UNLISTED;
    t->manifest.title = (char *)"Title";
    t->manifest.description = (char *)"Description, with \"quotes\" and \xc3\xa9";
    t->tags[0] = (char *)"zeta";
    t->tags[1] = (char *)"alpha";
    t->manifest.tags = t->tags;
    t->manifest.n_tags = 2;
    t->manifest.content_size = 4096;
    t->manifest.mime_type = (char *)"text/markdown";
    t->manifest.price = 250;
    t->manifest.total_queries = 3;
    t->manifest.total_revenue = 750;
    t->allow[0] = (char *)"peer:b";
    t->allow[1] = (char *)"peer:a";
    t->deny[0] = (char *)"peer:evil";
    t->access.allow = t->allow;
    t->access.n_allow = 2;
    t->access.deny = t->deny;
    t->access.n_deny = 1;
    t->manifest.access = &t->access;
    t->manifest.owner = (char *)"peer:owner";
}

static Cairn__Response *s_put(zsock_t *client, test_manifest_t *t) {
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, &t->manifest);
    return harness_request(client, &request);
}

//  Puts; returns created_at as the node answered it.
static double s_put_ok(zsock_t *client, test_manifest_t *t) {
    Cairn__Response *response = harness_ok(s_put(client, t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    double created_at = response->manifest_put->created_at;
    cairn__response__free_unpacked(response, NULL);
    return created_at;
}

static Cairn__Response *s_update(zsock_t *client, test_manifest_t *t) {
    Cairn__Request request;
    Cairn__ManifestUpdate update;
    ca_request_manifest_update(&request, &update, 0, &t->manifest);
    return harness_request(client, &request);
}

static Cairn__Response *s_get_hash(zsock_t *client, const uint8_t *hash, size_t size) {
    Cairn__Request request;
    Cairn__ManifestGet get;
    ca_request_manifest_get(&request, &get, 0, hash, size);
    return harness_request(client, &request);
}

static Cairn__Response *s_get(zsock_t *client, int n) {
    uint8_t hash[32];
    s_hash(n, hash);
    return s_get_hash(client, hash, 32);
}

static Cairn__Response *s_delete(zsock_t *client, int n) {
    uint8_t hash[32];
    s_hash(n, hash);
    Cairn__Request request;
    Cairn__ManifestDelete del;
    ca_request_manifest_delete(&request, &del, 0, hash, 32);
    return harness_request(client, &request);
}

static bool s_removed(zsock_t *client, int n) {
    Cairn__Response *response =
        harness_ok(s_delete(client, n), CAIRN__RESPONSE__BODY_MANIFEST_DELETE);
    bool removed = response->manifest_delete->removed;
    cairn__response__free_unpacked(response, NULL);
    return removed;
}

//  One page of the versions of content `root` after version `after`.
static Cairn__Response *s_versions_page(zsock_t *client, int root, uint32_t limit, uint64_t after) {
    uint8_t hash[32];
    s_hash(root, hash);
    Cairn__Request request;
    Cairn__ManifestVersions versions;
    ca_request_manifest_versions(&request, &versions, 0, hash, 32, limit, after);
    return harness_request(client, &request);
}

static Cairn__Response *s_versions(zsock_t *client, int root) {
    return s_versions_page(client, root, 0, 0);
}

static bool s_strings_equal(char **a, size_t n_a, char *const *b, size_t n_b) {
    if (n_a != n_b)
        return false;
    for (size_t i = 0; i < n_a; i++)
        if (!streq(a[i], b[i]))
            return false;
    return true;
}

//  The same peers in any order (the node answers them sorted).
static bool s_same_set(char *const *got, char *const *want, size_t count) {
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t k = 0; k < count && !found; k++)
            found = streq(got[k], want[i]);
        if (!found)
            return false;
    }
    return true;
}

//  Every field of `got` against what was put (the node's own fields sane).
static void s_manifest_expect(const Cairn__Manifest *got, const test_manifest_t *t) {
    const Cairn__Manifest *want = &t->manifest;
    CHECK(got->hash.len == 32 && memcmp(got->hash.data, t->hash, 32) == 0);
    CHECK(streq(got->content_type, want->content_type));
    CHECK(got->version_number == want->version_number);
    const uint8_t *root = want->version_number > 1 ? t->root : t->hash;
    CHECK(got->version_root.len == 32 && memcmp(got->version_root.data, root, 32) == 0);
    if (want->version_number > 1)
        CHECK(got->version_previous.len == 32 &&
              memcmp(got->version_previous.data, t->previous, 32) == 0);
    else
        CHECK(got->version_previous.len == 0);
    CHECK(isfinite(got->version_timestamp) && got->version_timestamp > 0);
    CHECK(want->version_timestamp == 0 || got->version_timestamp == want->version_timestamp);
    CHECK(got->created_at > 0 && got->updated_at >= got->created_at);
    CHECK(got->visibility == want->visibility);
    CHECK(streq(got->title, want->title) && streq(got->description, want->description));
    CHECK(s_strings_equal(got->tags, got->n_tags, want->tags, want->n_tags));
    CHECK(got->content_size == want->content_size && streq(got->mime_type, want->mime_type));
    CHECK(got->price == want->price && got->total_queries == want->total_queries);
    CHECK(got->total_revenue == want->total_revenue && streq(got->owner, want->owner));
    size_t n_allow = want->access ? want->access->n_allow : 0;
    size_t n_deny = want->access ? want->access->n_deny : 0;
    CHECK(got->access || (n_allow == 0 && n_deny == 0));
    if (got->access)
        CHECK(got->access->n_allow == n_allow && got->access->n_deny == n_deny);
    if (got->access && want->access) {
        CHECK(s_same_set(got->access->allow, want->access->allow, n_allow));
        CHECK(s_same_set(got->access->deny, want->access->deny, n_deny));
    }
}

static void s_get_expect(zsock_t *client, int n, const test_manifest_t *t) {
    Cairn__Response *response = harness_ok(s_get(client, n), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    s_manifest_expect(response->manifest_get, t);
    cairn__response__free_unpacked(response, NULL);
}

//  ---- CRUD ---------------------------------------------------------------------------

static void test_crud(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.price = UINT64_MAX; //  every bit of the unsigned fields survives
    t.manifest.total_revenue = 1ULL << 63;
    t.manifest.version_timestamp = 1700000000.25;
    Cairn__Response *response = harness_ok(s_put(client, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    s_manifest_expect(response->manifest_put, &t);
    double created_at = response->manifest_put->created_at;
    CHECK(response->manifest_put->updated_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    s_get_expect(client, 1, &t);

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
    response = harness_ok(s_update(client, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE);
    s_manifest_expect(response->manifest_update, &t);
    CHECK(response->manifest_update->created_at == created_at);
    CHECK(response->manifest_update->updated_at >= created_at);
    CHECK(response->manifest_update->version_timestamp == 1700000000.25);
    cairn__response__free_unpacked(response, NULL);
    s_get_expect(client, 1, &t);
    t.manifest.access = NULL; //  no access lists at all: both emptied
    cairn__response__free_unpacked(
        harness_ok(s_update(client, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE), NULL);
    response = harness_ok(s_get(client, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    CHECK(response->manifest_get->access->n_allow == 0 &&
          response->manifest_get->access->n_deny == 0);
    cairn__response__free_unpacked(response, NULL);

    //  Delete takes the lists along; a new put of the hash starts clean.
    CHECK(s_removed(client, 1));
    harness_fails(s_get(client, 1), CAIRN__STATUS__NOT_FOUND, "ManifestPut");
    CHECK(!s_removed(client, 1));
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.n_tags = 0;
    t.manifest.access = NULL;
    s_put_ok(client, &t);
    s_get_expect(client, 1, &t);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_conflict(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
    s_put_ok(client, &t);
    t.manifest.title = (char *)"other";
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "ManifestUpdate");
    s_manifest_init(&t, 1, 1, 0, 0);
    s_get_expect(client, 1, &t); //  the first put stands
    s_manifest_init(&t, 2, 1, 0, 0);
    harness_fails(s_update(client, &t), CAIRN__STATUS__NOT_FOUND, "put it first");
    harness_fails(s_get(client, 2), CAIRN__STATUS__NOT_FOUND, "no manifest");
    //  An update cannot move the version fields.
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.version_number = 2;
    harness_fails(s_update(client, &t), CAIRN__STATUS__INVALID, "version_number cannot change");
    s_manifest_init(&t, 1, 1, 0, 0);
    s_hash(9, t.root);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.root};
    harness_fails(s_update(client, &t), CAIRN__STATUS__INVALID, "version_root cannot change");
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.version_timestamp = 5;
    harness_fails(s_update(client, &t), CAIRN__STATUS__INVALID, "version_timestamp cannot change");
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.hash}; //  repeating it is fine
    cairn__response__free_unpacked(
        harness_ok(s_update(client, &t), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE), NULL);
    zsock_destroy(&client);
    harness_node_down(&node);
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
static void s_fill(zsock_t *client, entry_t *model, int first, int count) {
    for (int i = 0; i < count; i++) {
        test_manifest_t t;
        s_manifest_init(&t, first + i, 1, 0, 0);
        t.manifest.visibility = (Cairn__Visibility)(i % 3);
        t.manifest.content_type = (char *)s_types[(i / 3) % 3];
        memcpy(model[i].hash, t.hash, 32);
        model[i].visibility = i % 3;
        model[i].content_type = s_types[(i / 3) % 3];
        model[i].created_at = s_put_ok(client, &t);
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
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    entry_t model[LIST_COUNT];
    s_fill(client, model, 100, LIST_COUNT);
    for (int visibility = 0; visibility < 3; visibility++) {
        filter_t filter = {true, visibility, NULL, 0, 0};
        s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
    }
    filter_t all = {false, 0, NULL, 0, 0}; //  visibility 0 without by_visibility: no filter
    s_page_expect(client, model, LIST_COUNT, &all, 0, 0);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_list_content_type(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    entry_t model[LIST_COUNT];
    s_fill(client, model, 200, LIST_COUNT);
    for (size_t i = 0; i < 3; i++) {
        filter_t filter = {false, 0, s_types[i], 0, 0};
        s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
    }
    filter_t none = {false, 0, "video/mp4", 0, 0};
    s_page_expect(client, model, LIST_COUNT, &none, 0, 0);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_list_created(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    entry_t model[LIST_COUNT];
    s_fill(client, model, 300, LIST_COUNT);
    double early = model[5].created_at, late = model[20].created_at;
    filter_t after = {false, 0, NULL, early, 0};
    s_page_expect(client, model, LIST_COUNT, &after, 0, 0);
    filter_t before = {false, 0, NULL, 0, late};
    s_page_expect(client, model, LIST_COUNT, &before, 0, 0);
    filter_t between = {false, 0, NULL, early, late};
    s_page_expect(client, model, LIST_COUNT, &between, 0, 0);
    filter_t empty = {false, 0, NULL, late, early};
    s_page_expect(client, model, LIST_COUNT, &empty, 0, 0);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_list_combined(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    entry_t model[LIST_COUNT];
    s_fill(client, model, 400, LIST_COUNT);
    double early = model[3].created_at, late = model[24].created_at;
    for (int visibility = 0; visibility < 3; visibility++)
        for (size_t type = 0; type < 3; type++) {
            filter_t filter = {true, visibility, s_types[type], early, late};
            s_page_expect(client, model, LIST_COUNT, &filter, 0, 0);
            filter.after = 0;
            s_page_expect(client, model, LIST_COUNT, &filter, 2, 1);
        }
    zsock_destroy(&client);
    harness_node_down(&node);
}

#define PAGING_COUNT 250

static void test_list_paging(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    entry_t *model = (entry_t *)calloc(PAGING_COUNT, sizeof(entry_t));
    s_fill(client, model, 1000, PAGING_COUNT);
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
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  ---- versions ----------------------------------------------------------------------

static void test_versions(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    //  Two interleaved chains: 10 <- 11 <- ... <- 14 and 20 <- 21.
    s_manifest_init(&t, 10, 1, 0, 0);
    s_put_ok(client, &t);
    s_manifest_init(&t, 20, 1, 0, 0);
    s_put_ok(client, &t);
    for (int n = 11; n <= 14; n++) {
        s_manifest_init(&t, n, (uint32_t)(n - 9), n - 1, 10);
        Cairn__Response *response =
            harness_ok(s_put(client, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
        s_manifest_expect(response->manifest_put, &t);
        cairn__response__free_unpacked(response, NULL);
        if (n == 11) {
            s_manifest_init(&t, 21, 2, 20, 20);
            s_put_ok(client, &t);
        }
    }
    Cairn__Response *response =
        harness_ok(s_versions(client, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    const Cairn__ManifestPage *page = response->manifest_versions;
    CHECK(page->n_manifests == 5 && !page->more);
    for (size_t i = 0; i < 5; i++) {
        uint8_t hash[32], root[32];
        s_hash(10 + (int)i, hash);
        s_hash(10, root);
        CHECK(page->manifests[i]->version_number == i + 1);
        CHECK(memcmp(page->manifests[i]->hash.data, hash, 32) == 0);
        CHECK(memcmp(page->manifests[i]->version_root.data, root, 32) == 0);
    }
    cairn__response__free_unpacked(response, NULL);
    response = harness_ok(s_versions(client, 20), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == 2);
    cairn__response__free_unpacked(response, NULL);
    harness_fails(s_versions(client, 12), CAIRN__STATUS__NOT_FOUND, "version root"); //  not a root
    harness_fails(s_versions(client, 99), CAIRN__STATUS__NOT_FOUND, "version root");
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Walks the chain of content `root` (version k is content root + k - 1,
//  `total` versions) `limit` at a time, each cursor the last version of
//  the page before: every version once, in order, `more` until the last.
//  Returns the pages.
static size_t s_walk_versions(zsock_t *client, int root, uint32_t limit, uint32_t total) {
    size_t pages = 0, page_size = limit ? limit : CA_MANIFEST_PAGE_DEFAULT;
    uint64_t after = 0;
    uint32_t next = 1;
    bool more = true;
    while (more) {
        Cairn__Response *response = harness_ok(s_versions_page(client, root, limit, after),
                                               CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        const Cairn__ManifestPage *page = response->manifest_versions;
        size_t left = total - next + 1;
        CHECK(page->n_manifests == (left < page_size ? left : page_size));
        for (size_t i = 0; i < page->n_manifests; i++, next++) {
            uint8_t hash[32];
            s_hash(root + (int)next - 1, hash);
            CHECK(page->manifests[i]->version_number == next);
            CHECK(memcmp(page->manifests[i]->hash.data, hash, 32) == 0);
            after = page->manifests[i]->version_number;
        }
        more = page->more;
        CHECK(more == (next <= total));
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    CHECK(next == total + 1);
    return pages;
}

//  ManifestVersions a page at a time: 25 versions of 100 beside a chain of
//  200 put in between, walked with several limits; the bounds of a page.
static void test_version_pages(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    for (int k = 1; k <= 25; k++) {
        s_manifest_init(&t, 100 + k - 1, (uint32_t)k, 100 + k - 2, 100);
        s_put_ok(client, &t);
        if (k <= 3) {
            s_manifest_init(&t, 200 + k - 1, (uint32_t)k, 200 + k - 2, 200);
            s_put_ok(client, &t);
        }
    }
    CHECK(s_walk_versions(client, 100, 7, 25) == 4); //  7 7 7 4
    CHECK(s_walk_versions(client, 100, 5, 25) == 5); //  the last page full, more false
    CHECK(s_walk_versions(client, 100, 0, 25) == 1); //  the default (100) holds them all
    CHECK(s_walk_versions(client, 100, 1, 25) == 25);
    CHECK(s_walk_versions(client, 200, 2, 3) == 2);
    CHECK(s_walk_versions(client, 100, CA_MANIFEST_PAGE_MAX, 25) == 1);
    harness_fails(s_versions_page(client, 100, CA_MANIFEST_PAGE_MAX + 1, 0), CAIRN__STATUS__INVALID,
                  "at most 1000");
    //  Past the last version: an empty page for a known root, NOT_FOUND
    //  for an unknown one (and for a later version's hash) on any page.
    uint64_t beyond[] = {25, 26, 1ULL << 32, UINT64_MAX};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        Cairn__Response *response = harness_ok(s_versions_page(client, 100, 3, beyond[i]),
                                               CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        CHECK(response->manifest_versions->n_manifests == 0 && !response->manifest_versions->more);
        cairn__response__free_unpacked(response, NULL);
        harness_fails(s_versions_page(client, 99, 3, beyond[i]), CAIRN__STATUS__NOT_FOUND,
                      "version root");
        harness_fails(s_versions_page(client, 101, 3, beyond[i]), CAIRN__STATUS__NOT_FOUND,
                      "version root");
    }
    harness_fails(s_versions_page(client, 99, 0, 0), CAIRN__STATUS__NOT_FOUND, "version root");
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Each version rule broken once; nothing of a refused put is stored.
static void test_version_rules(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 10, 1, 0, 0);
    s_put_ok(client, &t);
    s_manifest_init(&t, 11, 2, 10, 10);
    s_put_ok(client, &t);
    s_manifest_init(&t, 30, 1, 0, 0);
    s_put_ok(client, &t);

    s_manifest_init(&t, 50, 0, 0, 0); //  number 0
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "versions count from 1");
    s_manifest_init(&t, 50, 1, 0, 0); //  a first version with a previous
    s_hash(10, t.previous);
    t.manifest.version_previous = (ProtobufCBinaryData){32, t.previous};
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "a first version has none");
    s_manifest_init(&t, 50, 1, 0, 0); //  a first version with a foreign root
    s_hash(10, t.root);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.root};
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "its own root");
    s_manifest_init(&t, 50, 3, 11, 10); //  a later version without previous
    t.manifest.version_previous.len = 0;
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "needs version_previous");
    s_manifest_init(&t, 50, 3, 11, 10); //  ... or without root
    t.manifest.version_root.len = 0;
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID,
                  "needs version_previous and version_root");
    s_manifest_init(&t, 50, 3, 50, 10); //  its own previous
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "names itself");
    s_manifest_init(&t, 50, 3, 11, 50); //  its own root
    harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "names itself");
    s_manifest_init(&t, 50, 3, 77, 10); //  the previous is missing
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "has no manifest");
    s_manifest_init(&t, 50, 2, 30, 10); //  the previous has another root
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "another version root");
    s_manifest_init(&t, 50, 4, 11, 10); //  number is not previous + 1
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "cannot be version 4");
    s_manifest_init(&t, 50, 2, 10, 10); //  (root 10, version 2) is taken by 11
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "exists already");
    s_manifest_init(&t, 11, 2, 10, 10); //  the same hash again
    harness_fails(s_put(client, &t), CAIRN__STATUS__CONFLICT, "exists");
    harness_fails(s_get(client, 50), CAIRN__STATUS__NOT_FOUND, "no manifest");
    Cairn__Response *response =
        harness_ok(s_versions(client, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == 2);
    cairn__response__free_unpacked(response, NULL);
    s_manifest_init(&t, 50, 3, 11, 10); //  and right at last
    s_put_ok(client, &t);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Competing puts of version 2 of one root, all in flight at once, over
//  both workers: exactly one wins, the others are CONFLICT.
#define RACERS 16

static void test_version_race(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 10, 1, 0, 0);
    s_put_ok(client, &t);
    uint8_t previous_hash[32]; //  the winner of the last round
    s_hash(10, previous_hash);
    for (int round = 0; round < 5; round++) {
        test_manifest_t racers[RACERS];
        for (int i = 0; i < RACERS; i++) {
            s_manifest_init(&racers[i], 100 * (round + 1) + i, (uint32_t)round + 2, 10, 10);
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
        harness_ok(s_versions(client, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == 6);
    for (size_t i = 0; i < 6; i++)
        CHECK(response->manifest_versions->manifests[i]->version_number == i + 1);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  A chain, an update of each version and a summary, all pipelined
//  without waiting: the writes commit in the order sent, so all succeed.
#define PIPELINED 40

static void test_version_pipeline(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t *chain = (test_manifest_t *)calloc(PIPELINED, sizeof(test_manifest_t));
    uint64_t sent = 0;
    for (int i = 0; i < PIPELINED; i++) {
        s_manifest_init(&chain[i], 500 + i, (uint32_t)i + 1, 500 + i - 1, 500);
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
    Cairn__Response *response =
        harness_ok(s_versions(client, 500), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CHECK(response->manifest_versions->n_manifests == PIPELINED);
    for (size_t i = 0; i < PIPELINED; i++) {
        s_manifest_expect(response->manifest_versions->manifests[i], &chain[i]);
        CHECK(streq(response->manifest_versions->manifests[i]->title, "updated"));
    }
    cairn__response__free_unpacked(response, NULL);
    free(chain);
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_delete_versions(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 10, 1, 0, 0);
    s_put_ok(client, &t);
    s_manifest_init(&t, 11, 2, 10, 10);
    s_put_ok(client, &t);
    s_manifest_init(&t, 12, 3, 11, 10);
    s_put_ok(client, &t);
    harness_fails(s_delete(client, 10), CAIRN__STATUS__CONFLICT, "later versions first");
    harness_fails(s_delete(client, 11), CAIRN__STATUS__CONFLICT, "later versions first");
    s_manifest_init(&t, 10, 1, 0, 0);
    s_get_expect(client, 10, &t); //  a refused delete keeps the lists too
    CHECK(s_removed(client, 12));
    //  The freed slot takes a new version 3.
    s_manifest_init(&t, 13, 3, 11, 10);
    s_put_ok(client, &t);
    CHECK(s_removed(client, 13) && s_removed(client, 11) && s_removed(client, 10));
    harness_fails(s_versions(client, 10), CAIRN__STATUS__NOT_FOUND, "version root");
    zsock_destroy(&client);
    harness_node_down(&node);
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
    CHECK(s_strings_equal(got->preview_mentions, got->n_preview_mentions, want->preview_mentions,
                          want->n_preview_mentions));
    CHECK(s_strings_equal(got->primary_topics, got->n_primary_topics, want->primary_topics,
                          want->n_primary_topics));
    cairn__response__free_unpacked(response, NULL);
}

static void test_summaries(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t hash[32], other[32];
    s_hash(1, hash);
    s_hash(2, other);
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
    zsock_destroy(&client);
    harness_node_down(&node);
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
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t wide[40] = {0};
    Cairn__Request request;
    //  Wrong hash sizes in every request that takes one.
    size_t sizes[] = {0, 1, 31, 33, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        test_manifest_t t;
        s_manifest_init(&t, 1, 1, 0, 0);
        t.manifest.hash = (ProtobufCBinaryData){sizes[i], wide};
        harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "manifest.hash");
        harness_fails(s_update(client, &t), CAIRN__STATUS__INVALID, "manifest.hash");
        harness_fails(s_get_hash(client, wide, sizes[i]), CAIRN__STATUS__INVALID, "hash");
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
            s_manifest_init(&t, 1, 2, 10, 10);
            t.manifest.version_previous.len = sizes[i];
            harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "version_previous");
            s_manifest_init(&t, 1, 2, 10, 10);
            t.manifest.version_root.len = sizes[i];
            harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "version_root");
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
        Cairn__Response *(*send)(zsock_t *, test_manifest_t *) = pass ? s_update : s_put;
        if (pass) {
            test_manifest_t base;
            s_manifest_init(&base, 1, 1, 0, 0);
            s_put_ok(client, &base); //  updates need a manifest to exist
        }
        test_manifest_t t;
#define BAD(edit, fragment)                                                                        \
    do {                                                                                           \
        s_manifest_init(&t, 1, 1, 0, 0);                                                           \
        edit;                                                                                      \
        harness_fails(send(client, &t), CAIRN__STATUS__INVALID, fragment);                         \
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
    test_manifest_t t;
    s_manifest_init(&t, 2, 1, 0, 0);
    t.manifest.tags = many_tags;
    t.manifest.n_tags = CA_MANIFEST_TAGS_MAX;
    t.access.allow = many_peers;
    t.access.n_allow = CA_MANIFEST_ACCESS_MAX;
    t.access.deny = many_peers; //  on both lists: allowed, deny wins
    t.access.n_deny = CA_MANIFEST_ACCESS_MAX;
    t.manifest.title = long_title;
    t.manifest.title[CA_MANIFEST_TITLE_MAX] = 0;
    s_put_ok(client, &t);
    s_get_expect(client, 2, &t);
    //  Version timestamps: finite, not negative.
    double times[] = {NAN, INFINITY, -INFINITY, -1};
    for (size_t i = 0; i < 4; i++) {
        s_manifest_init(&t, 3, 1, 0, 0);
        t.manifest.version_timestamp = times[i];
        harness_fails(s_put(client, &t), CAIRN__STATUS__INVALID, "version_timestamp");
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
    s_hash(5, hash);
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
    s_manifest_init(&t, 1, 1, 0, 0);
    s_get_expect(client, 1, &t);
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
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  Bodies that do not decode are answered INVALID with the request's id.
static void test_malformed(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
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
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
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
    harness_fails(s_get(client, 1), CAIRN__STATUS__NOT_FOUND, "no manifest");
    s_put_ok(client, &t); //  and the node is fine
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  ---- across restarts, pools and Info --------------------------------------------------

static void test_restart(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t first, second;
    s_manifest_init(&first, 10, 1, 0, 0);
    s_put_ok(client, &first);
    s_manifest_init(&second, 11, 2, 10, 10);
    s_put_ok(client, &second);
    uint8_t hash[32];
    s_hash(10, hash);
    char *mentions[] = {(char *)"kept"};
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){32, hash};
    summary.mention_count = 1;
    summary.preview_mentions = mentions;
    summary.n_preview_mentions = 1;
    summary.summary_text = (char *)"survives";
    cairn__response__free_unpacked(
        harness_ok(s_summary_put(client, &summary), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    CHECK(harness_node_restart(node) == 0);
    client = harness_connect(harness_node_endpoint(node));
    s_get_expect(client, 10, &first);
    s_get_expect(client, 11, &second);
    s_summary_expect(client, &summary);
    //  The chain rules hold across the restart.
    s_manifest_init(&second, 12, 2, 10, 10);
    harness_fails(s_put(client, &second), CAIRN__STATUS__CONFLICT, "exists already");
    zsock_destroy(&client);
    harness_node_down(&node);
}

//  ProvRoots answers owner and visibility from the manifests pool's rows.
static void test_prov_owner(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.owner = (char *)"peer:alice";
    t.manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_UNLISTED;
    s_put_ok(client, &t);
    uint8_t a[32], b[32], c[32];
    s_hash(1, a); //  has a manifest
    s_hash(2, b); //  has none
    s_hash(3, c);
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
    zsock_destroy(&client);
    harness_node_down(&node);
}

static void test_info(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
    s_put_ok(client, &t);
    harness_fails(s_get(client, 2), CAIRN__STATUS__NOT_FOUND, "no manifest");
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
    zsock_destroy(&client);
    harness_node_down(&node);
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

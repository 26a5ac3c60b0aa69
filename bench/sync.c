/*  =========================================================================
    sync - cairn-bench's set reconciliation cases (negentropy, in process)

    Two sets of 1,000,000 items each (ids SHA-256 of a counter, timestamps
    one a second), differing by 1% (10,000 items only on each side) or by
    0.01% (100), reconciled with ca_negentropy's initiator and responder
    in this process, against sending the full id lists in the same run:

        sync.negentropy.1m_1pct     a whole session: rounds, bytes, time
        sync.full_list.1m_1pct      each side sends all its ids; the other
                                    sorts them and diffs with its own
        sync.negentropy.1m_001pct   the same at 0.01%
        sync.full_list.1m_001pct
        sync.negentropy.1m_1pct_60k frames of at most 60000 bytes (the
                                    SyncReconcile default) instead of none
        sync.negentropy.*_recent    the differing items the most recent
                                    ones (nodes apart for a while) rather
                                    than spread evenly (the worst case)
        sync.fp_prefix.1m           one fingerprint of a 62,500-item range
                                    (a first-round bucket) from the prefix
                                    sums, per second
        sync.fp_scan.1m             the same by adding every id of the range

    The sets are built once (not timed) and shared by the cases. A session
    case prints its rounds and bytes against the full lists' bytes. The
    cases are optional (`--cases sync.negentropy.1m_1pct,...` names them):
    building the sets takes seconds and 150 MB.
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_negentropy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_ITEMS  1000000
#define SYNC_BUCKET (SYNC_ITEMS / CA_NEG_BUCKETS)

typedef struct {
    ca_neg_set_t *a;
    ca_neg_set_t *b;
} sync_pair_t;

//  Spread or recent, 1% or 0.01%.
static sync_pair_t s_pairs[4];

//  Item n: id SHA-256 of its 8 bytes, timestamp 1.7e9 + n.
static void s_item(uint64_t n, uint8_t id[CA_NEG_ID_BYTES]) {
    ca_sha256(&n, sizeof n, id);
}

//  Sides a and b share all but `differ` items each: a has items
//  [0, SYNC_ITEMS); b the same with `differ` of them replaced by its own
//  items at the same times: spread evenly (every SYNC_ITEMS/differ-th, the
//  worst case) or the most recent ones (two nodes apart for a while).
static sync_pair_t *s_pair(unsigned differ, bool recent) {
    sync_pair_t *pair = &s_pairs[(differ == 10000 ? 0 : 1) + (recent ? 2 : 0)];
    if (pair->a)
        return pair;
    pair->a = ca_neg_set_new();
    pair->b = ca_neg_set_new();
    if (!pair->a || !pair->b)
        return NULL;
    unsigned every = SYNC_ITEMS / differ;
    for (uint64_t n = 0; n < SYNC_ITEMS; n++) {
        uint8_t id[CA_NEG_ID_BYTES];
        s_item(n, id);
        if (ca_neg_set_add(pair->a, 1700000000 + n, id))
            return NULL;
        bool own = recent ? n >= SYNC_ITEMS - differ : n % every == every / 2;
        if (own)
            s_item(n + 100000000, id); //  b's own item at the same time
        if (ca_neg_set_add(pair->b, 1700000000 + n, id))
            return NULL;
    }
    char err[CA_NEG_ERR_BYTES];
    if (ca_neg_set_seal(pair->a, err) || ca_neg_set_seal(pair->b, err))
        return NULL;
    return pair;
}

static int s_session(result_t *result, const char *name, unsigned differ, bool recent,
                     size_t limit) {
    sync_pair_t *pair = s_pair(differ, recent);
    if (!pair)
        return bench_fail(name, "out of memory building the sets");
    ca_neg_opts_t initiator = {true, limit}, responder = {false, limit};
    ca_neg_buf_t query = {0}, answer = {0};
    ca_neg_ids_t have = {0}, need = {0};
    char err[CA_NEG_ERR_BYTES];
    uint64_t bytes = 0, rounds = 0;
    int64_t start = zclock_usecs();
    int rc = ca_neg_initiate(pair->a, &initiator, &query, err);
    while (rc == 0 && query.size && rounds < 10000) {
        rounds++;
        bytes += query.size;
        rc =
            ca_neg_reconcile(pair->b, &responder, query.data, query.size, &answer, NULL, NULL, err);
        bytes += answer.size;
        if (rc == 0)
            rc = ca_neg_reconcile(pair->a, &initiator, answer.data, answer.size, &query, &have,
                                  &need, err);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    ca_neg_ids_sort(&have);
    ca_neg_ids_sort(&need);
    bool right = have.count == differ && need.count == differ;
    ca_neg_buf_free(&query);
    ca_neg_buf_free(&answer);
    ca_neg_ids_free(&have);
    ca_neg_ids_free(&need);
    if (rc)
        return bench_fail(name, "%s", err);
    if (!right)
        return bench_fail(name, "found the wrong differences");
    result->ok = 1; //  bytes stay 0: the ratio is then one of wall times
    uint64_t full = 2ull * SYNC_ITEMS * CA_NEG_ID_BYTES;
    printf("  %s: %llu rounds, %llu bytes on the wire = %.2f%% of both full lists (%llu), "
           "%.2f%% of one, %.3f s\n",
           name, (unsigned long long)rounds, (unsigned long long)bytes, 100.0 * bytes / full,
           (unsigned long long)full, 200.0 * bytes / full, result->seconds);
    return 0;
}

static int s_id_compare(const void *a, const void *b) {
    return memcmp(a, b, CA_NEG_ID_BYTES);
}

//  One side's part of the full-list exchange: receive the other's list
//  (copy), sort it, and count what each lacks by a merge with its own
//  sorted ids.
static uint64_t s_full_side(const ca_neg_set_t *own, const ca_neg_set_t *other, uint8_t *list,
                            uint8_t *mine) {
    size_t count = ca_neg_set_size(other), own_count = ca_neg_set_size(own);
    for (size_t at = 0; at < count; at++)
        ca_neg_set_item(other, at, NULL, list + at * CA_NEG_ID_BYTES); //  "the wire"
    for (size_t at = 0; at < own_count; at++)
        ca_neg_set_item(own, at, NULL, mine + at * CA_NEG_ID_BYTES);
    qsort(list, count, CA_NEG_ID_BYTES, s_id_compare);
    qsort(mine, own_count, CA_NEG_ID_BYTES, s_id_compare);
    uint64_t lacking = 0;
    size_t i = 0, j = 0;
    while (i < count || j < own_count) {
        int order = i == count       ? 1
                    : j == own_count ? -1
                                     : memcmp(list + i * CA_NEG_ID_BYTES,
                                              mine + j * CA_NEG_ID_BYTES, CA_NEG_ID_BYTES);
        if (order < 0) {
            lacking++;
            i++;
        } else if (order > 0)
            j++;
        else {
            i++;
            j++;
        }
    }
    return lacking;
}

static int s_full_list(result_t *result, const char *name, unsigned differ) {
    sync_pair_t *pair = s_pair(differ, false);
    if (!pair)
        return bench_fail(name, "out of memory building the sets");
    uint8_t *list = malloc((size_t)SYNC_ITEMS * CA_NEG_ID_BYTES);
    uint8_t *mine = malloc((size_t)SYNC_ITEMS * CA_NEG_ID_BYTES);
    if (!list || !mine) {
        free(list);
        free(mine);
        return bench_fail(name, "out of memory");
    }
    int64_t start = zclock_usecs();
    uint64_t b_lacks = s_full_side(pair->b, pair->a, list, mine);
    uint64_t a_lacks = s_full_side(pair->a, pair->b, list, mine);
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    free(list);
    free(mine);
    if (a_lacks != differ || b_lacks != differ)
        return bench_fail(name, "found the wrong differences");
    result->ok = 1;
    printf("  %s: 1 round, %llu bytes on the wire, %.3f s\n", name,
           2ull * SYNC_ITEMS * CA_NEG_ID_BYTES, result->seconds);
    return 0;
}

static int s_run_negentropy_1pct(bench_t *bench, result_t *result) {
    (void)bench;
    return s_session(result, "sync.negentropy.1m_1pct", 10000, false, 0);
}

static int s_run_negentropy_1pct_60k(bench_t *bench, result_t *result) {
    (void)bench;
    return s_session(result, "sync.negentropy.1m_1pct_60k", 10000, false, 60000);
}

static int s_run_negentropy_1pct_recent(bench_t *bench, result_t *result) {
    (void)bench;
    return s_session(result, "sync.negentropy.1m_1pct_recent", 10000, true, 0);
}

static int s_run_full_1pct(bench_t *bench, result_t *result) {
    (void)bench;
    return s_full_list(result, "sync.full_list.1m_1pct", 10000);
}

static int s_run_negentropy_001pct(bench_t *bench, result_t *result) {
    (void)bench;
    return s_session(result, "sync.negentropy.1m_001pct", 100, false, 0);
}

static int s_run_negentropy_001pct_recent(bench_t *bench, result_t *result) {
    (void)bench;
    return s_session(result, "sync.negentropy.1m_001pct_recent", 100, true, 0);
}

static int s_run_full_001pct(bench_t *bench, result_t *result) {
    (void)bench;
    return s_full_list(result, "sync.full_list.1m_001pct", 100);
}

typedef void(fingerprint_fn)(const ca_neg_set_t *set, size_t lo, size_t hi,
                             uint8_t fp[CA_NEG_FP_BYTES]);

static int s_fingerprints(bench_t *bench, result_t *result, const char *name,
                          fingerprint_fn *fingerprint) {
    sync_pair_t *pair = s_pair(10000, false);
    if (!pair)
        return bench_fail(name, "out of memory building the sets");
    uint8_t fp[CA_NEG_FP_BYTES];
    uint64_t lo = 12345;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    do {
        lo = (lo * 6364136223846793005ull + 1442695040888963407ull) % (SYNC_ITEMS - SYNC_BUCKET);
        fingerprint(pair->a, (size_t)lo, (size_t)lo + SYNC_BUCKET, fp);
        result->ok++;
    } while (bench_go_on(bench, result, deadline));
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return 0;
}

static int s_run_fp_prefix(bench_t *bench, result_t *result) {
    return s_fingerprints(bench, result, "sync.fp_prefix.1m", ca_neg_set_fingerprint);
}

static int s_run_fp_scan(bench_t *bench, result_t *result) {
    return s_fingerprints(bench, result, "sync.fp_scan.1m", ca_neg_set_fingerprint_scan);
}

static void s_destroy(bench_t *bench) {
    (void)bench;
    for (size_t at = 0; at < sizeof s_pairs / sizeof s_pairs[0]; at++) {
        ca_neg_set_destroy(&s_pairs[at].a);
        ca_neg_set_destroy(&s_pairs[at].b);
    }
}

static const bench_case_t s_cases[] = {
    {.name = "sync.full_list.1m_1pct",
     .kind = KIND_BASELINE,
     .run = s_run_full_1pct,
     .what = "1M ids each side, 1% differ: full id lists both ways, sort + diff",
     .optional = true},
    {.name = "sync.negentropy.1m_1pct",
     .kind = KIND_HELPER,
     .run = s_run_negentropy_1pct,
     .versus = {"sync.full_list.1m_1pct"},
     .what = "the same with negentropy (ca_negentropy), whole session; spread evenly",
     .optional = true},
    {.name = "sync.negentropy.1m_1pct_60k",
     .kind = KIND_HELPER,
     .run = s_run_negentropy_1pct_60k,
     .versus = {"sync.full_list.1m_1pct"},
     .what = "the same with messages of at most 60000 bytes (the client request's default)",
     .optional = true},
    {.name = "sync.negentropy.1m_1pct_recent",
     .kind = KIND_HELPER,
     .run = s_run_negentropy_1pct_recent,
     .versus = {"sync.full_list.1m_1pct"},
     .what = "the same, the differing 1% the most recent items",
     .optional = true},
    {.name = "sync.full_list.1m_001pct",
     .kind = KIND_BASELINE,
     .run = s_run_full_001pct,
     .what = "1M ids each side, 0.01% differ: full id lists",
     .optional = true},
    {.name = "sync.negentropy.1m_001pct",
     .kind = KIND_HELPER,
     .run = s_run_negentropy_001pct,
     .versus = {"sync.full_list.1m_001pct"},
     .what = "the same with negentropy",
     .optional = true},
    {.name = "sync.negentropy.1m_001pct_recent",
     .kind = KIND_HELPER,
     .run = s_run_negentropy_001pct_recent,
     .versus = {"sync.full_list.1m_001pct"},
     .what = "the same, the differing 0.01% the most recent items",
     .optional = true},
    {.name = "sync.fp_scan.1m",
     .kind = KIND_BASELINE,
     .run = s_run_fp_scan,
     .what = "fingerprint of a 62,500-item range by adding its ids",
     .optional = true},
    {.name = "sync.fp_prefix.1m",
     .kind = KIND_HELPER,
     .run = s_run_fp_prefix,
     .versus = {"sync.fp_scan.1m"},
     .what = "the same from the prefix sums (O(1))",
     .optional = true},
};

const bench_area_t bench_sync_area = BENCH_AREA(s_cases, NULL, s_destroy);

/*  =========================================================================
    provenance - cairn-bench's provenance cases: the node's root cache
    against recursive CTEs over a plain edge table

    The question: how fast are get_roots and is_ancestor on a
    deep random DAG of about a million edges when answered by the node
    (ProvRoots from its root cache, ProvAncestor from the cache then a
    breadth-first walk) compared with the same question asked of raw
    SQLite as a recursive CTE; and how fast are edges added when every add
    also maintains the cache.

    The graph (seeded, the same in every run; --prov-nodes N nodes: 50,000
    by default, ~200k edges; 250,000 gives the issue's ~1M edges). Node k belongs to strand k %
   STRANDS at position k / STRANDS. The first STRAND_ROOTS positions of each strand are original
   content (no sources); every later node was derived from SOURCES distinct nodes picked among the
   SPAN positions just before it in its own strand. So a strand is a long band: paths are deep (a
    random path back steps ~SPAN/2 positions, the longest one a few) and
    every node reaches every original at its strand's head, but nothing
    of the other strands: root sets stay at STRAND_ROOTS, and the root
    cache at about STRAND_ROOTS rows per node. (One band whose originals
    were sprinkled along it would give node k every original before k as a
    root: a cache quadratic in the length.) Path counts grow by about
    SOURCES per level and saturate at 2^64-1 a few dozen levels in.
    Hashes are SHA-256 of "cairn-bench-prov-<k>".

    Cases (ops/s; each node case's ratio is taken to the raw case above it):

        sqlite.prov_add.tx1000   raw: the store's edge INSERT of each node's
                                 edges into prov_edges (its tables, made by
                                 its migrations),
                                 1000 nodes per transaction; an op is one
                                 node with its sources (~4 edges). It keeps
                                 less than the node must: no nodes, labels
                                 or root cache
        sqlite.prov_add.cache    raw doing the node's job: ProvAdd's own
                                 statements (provenance_sql_add) for the
                                 node, its edges, its label and its root
                                 rows, 1000 nodes per transaction, without
                                 what this input cannot need (the guard,
                                 the roots' cap and delete)
        node.prov_add.pipelined  ProvAdd of each node with its sources, in
                                 order, up to --window outstanding; a node is
                                 sent only once all its sources have been
                                 answered (the node refuses sources for
                                 content that already has derivations, and
                                 two workers may commit out of order); the
                                 root cache is maintained by every add
        sqlite.prov_roots.cte    WITH RECURSIVE up the edges from a random
                                 node (UNION: each ancestor once), keeping
                                 those without sources: the root SET only.
                                 A plain CTE that also counts paths must
                                 enumerate every path (UNION ALL), ~4^depth
                                 rows here: it never finishes on this graph
        node.prov_roots.pipelined, node.prov_roots.rtt
                                 ProvRoots of the same random nodes, a
                                 window outstanding / one at a time; roots,
                                 weights, owner and visibility
        sqlite.prov_ancestor.random, node.prov_ancestor.random
                                 is-ancestor(a, b) for a and b picked
                                 uniformly among all nodes (the node:
                                 at most ANCESTOR_WINDOW outstanding): mostly in
                                 different strands, so mostly false. CTE:
                                 the same walk up from b, LIMIT 1 on a
        sqlite.prov_ancestor.strand, node.prov_ancestor.strand
                                 a and b picked uniformly within one strand:
                                 about half true; the node's cache cannot
                                 decide these (same roots) and it walks

    The raw databases are fresh ones in a temp dir with the writer's
    pragmas (WAL, synchronous=NORMAL, its 64 MiB page cache). The add cases build the whole graph
    whatever --seconds and --max-ops say (the query cases need all of it);
    a query case whose add case did not run builds its side first, untimed.
    Query n (request id n) asks about the same node or pair on both sides;
    the raw answers of the first EXPECT_MAX queries are kept and the node's
    must match them (root count, ancestry), else the answer is an error.
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "provenance.h"
#include "provenance_schema.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STRANDS      32 //  independent bands the nodes are dealt into
#define STRAND_ROOTS 8  //  originals at the head of each strand (<= 64: a root mask)
#define SOURCES      4  //  sources of every derived node
#define SPAN         50 //  sources are picked among this many positions before
#define GRAPH_SEED   0x70726f76656e616eULL
#define SALT_ROOTS   0x1111111111111111ULL
#define SALT_A       0x2222222222222222ULL
#define SALT_B       0x3333333333333333ULL
#define RAW_BATCH    CA_DEFAULT_WRITER_BATCH //  nodes per raw transaction
#define EXPECT_MAX   100000                  //  raw answers kept to check the node's
#define LOOKAHEAD    4096 //  ProvAdd: nodes past the first unsent one that may be sent
//  ProvAncestor: at most this many outstanding. A pair of one strand may
//  cost the node a walk of thousands of nodes (~60 ms at 250,000 nodes);
//  with a window of 1000 the answers owed at the time bound would take
//  half a minute to drain. 16 keeps both workers busy.
#define ANCESTOR_WINDOW 16

typedef enum { QUERY_ROOTS, QUERY_RANDOM, QUERY_STRAND, QUERY_KINDS } query_kind_t;

static const char *const s_query_names[QUERY_KINDS] = {"roots", "ancestor.random",
                                                       "ancestor.strand"};

struct _bench_prov_t {
    uint64_t nodes;
    uint64_t edges;
    uint8_t (*hashes)[CA_SHA256_BYTES];
    uint32_t (*sources)[SOURCES];
    uint8_t *source_count;
    char *raw_dir;
    sqlite3 *raw;
    char *cache_dir; //  sqlite.prov_add.cache's database
    bool raw_built;
    bool node_built;
    //  The raw answers of queries 1..expected[kind]: root counts, or 0/1
    uint32_t *expect[QUERY_KINDS];
    uint64_t expected[QUERY_KINDS];
};

//  ---- the graph ---------------------------------------------------------------------

static uint64_t s_strand_length(uint64_t nodes, uint64_t strand) {
    return (nodes - strand + STRANDS - 1) / STRANDS;
}

//  Picks node k's sources: distinct positions among the SPAN before it in
//  its strand (none for the originals at the head).
static void s_pick_sources(bench_prov_t *self, uint64_t k) {
    uint64_t strand = k % STRANDS, position = k / STRANDS;
    self->source_count[k] = 0;
    if (position < STRAND_ROOTS)
        return;
    uint64_t span = position < SPAN ? position : SPAN;
    uint64_t state = bench_mix(GRAPH_SEED ^ k);
    //  span >= STRAND_ROOTS >= SOURCES, so this ends; bounded all the same
    for (int tries = 0; self->source_count[k] < SOURCES && tries < 64 * SOURCES; tries++) {
        state = bench_mix(state);
        uint64_t source = (position - 1 - state % span) * STRANDS + strand;
        bool repeat = false;
        for (int i = 0; i < self->source_count[k]; i++)
            repeat |= self->sources[k][i] == source;
        if (!repeat)
            self->sources[k][self->source_count[k]++] = (uint32_t)source;
    }
    self->edges += self->source_count[k];
}

//  Prints the graph's shape: the longest path, and the root cache's size
//  (every node's root set, as a mask of its strand's originals).
static void s_print_shape(const bench_prov_t *self) {
    uint32_t *depth = (uint32_t *)calloc(self->nodes, sizeof *depth);
    uint64_t *roots = (uint64_t *)calloc(self->nodes, sizeof *roots);
    assert(depth && roots);
    uint64_t longest = 0, depth_sum = 0, cache_rows = 0;
    for (uint64_t k = 0; k < self->nodes; k++) {
        if (self->source_count[k] == 0)
            roots[k] = 1ULL << (k / STRANDS);
        for (int i = 0; i < self->source_count[k]; i++) {
            uint32_t source = self->sources[k][i];
            depth[k] = depth[source] + 1 > depth[k] ? depth[source] + 1 : depth[k];
            roots[k] |= roots[source];
        }
        longest = depth[k] > longest ? depth[k] : longest;
        depth_sum += depth[k];
        cache_rows += (uint64_t)__builtin_popcountll(roots[k]);
    }
    printf("prov graph: %" PRIu64 " nodes, %" PRIu64 " edges, %d strands of ~%" PRIu64
           " nodes, %d originals each (%d sources per derived node among the %d before it); "
           "longest path %" PRIu64 " edges, mean longest path to a node %.0f; root cache "
           "%" PRIu64 " rows (%.2f per node)\n",
           self->nodes, self->edges, STRANDS, s_strand_length(self->nodes, 0), STRAND_ROOTS,
           SOURCES, SPAN, longest, (double)depth_sum / (double)self->nodes, cache_rows,
           (double)cache_rows / (double)self->nodes);
    fflush(stdout);
    free(depth);
    free(roots);
}

//  The graph, made on first use.
static bench_prov_t *s_prov(bench_t *bench) {
    if (bench->prov)
        return bench->prov;
    bench_prov_t *self = (bench_prov_t *)calloc(1, sizeof *self);
    assert(self);
    self->nodes = bench->prov_nodes;
    self->hashes = calloc(self->nodes, sizeof *self->hashes);
    self->sources = calloc(self->nodes, sizeof *self->sources);
    self->source_count = (uint8_t *)calloc(self->nodes, 1);
    assert(self->hashes && self->sources && self->source_count);
    for (uint64_t k = 0; k < self->nodes; k++) {
        char name[48];
        int length = snprintf(name, sizeof name, "cairn-bench-prov-%" PRIu64, k);
        ca_sha256(name, (size_t)length, self->hashes[k]);
        s_pick_sources(self, k);
    }
    for (int kind = 0; kind < QUERY_KINDS; kind++) {
        self->expect[kind] = (uint32_t *)calloc(EXPECT_MAX, sizeof(uint32_t));
        assert(self->expect[kind]);
    }
    s_print_shape(self);
    bench->prov = self;
    return self;
}

static void s_prov_destroy(bench_prov_t **self_p) {
    bench_prov_t *self = *self_p;
    if (!self)
        return;
    if (self->raw)
        sqlite3_close(self->raw);
    if (self->raw_dir)
        ca_test_rmtree(self->raw_dir);
    zstr_free(&self->raw_dir);
    if (self->cache_dir)
        ca_test_rmtree(self->cache_dir);
    zstr_free(&self->cache_dir);
    for (int kind = 0; kind < QUERY_KINDS; kind++)
        free(self->expect[kind]);
    free(self->hashes);
    free(self->sources);
    free(self->source_count);
    free(self);
    *self_p = NULL;
}

//  The node (roots) or pair (ancestor, descendant) query n asks about.
static void s_query(const bench_prov_t *self, query_kind_t kind, uint64_t n, uint64_t *a,
                    uint64_t *b) {
    *b = bench_mix(n ^ (kind == QUERY_ROOTS ? SALT_ROOTS : SALT_B)) % self->nodes;
    *a = bench_mix(n ^ SALT_A ^ (uint64_t)kind) % self->nodes;
    if (kind == QUERY_STRAND) {
        uint64_t strand = *b % STRANDS;
        *a = *a % s_strand_length(self->nodes, strand) * STRANDS + strand;
    }
}

//  ---- raw SQLite: an edge table and recursive CTEs ------------------------------------

//  The raw side has provenance_schema's tables (its migrations) and adds
//  edges with the store's own statement (provenance_sql_edge_insert); it
//  keeps no root cache, so its queries are the baseline's own recursive
//  CTEs over prov_edges, the fastest way plain SQL answers them.
//  Every ancestor once (UNION), then those without sources: the root set.
#define RAW_ROOTS                                                                                  \
    "WITH RECURSIVE up(h) AS (SELECT ?1 UNION SELECT e.source FROM prov_edges e"                   \
    " JOIN up ON e.child = up.h)"                                                                  \
    " SELECT h FROM up WHERE NOT EXISTS (SELECT 1 FROM prov_edges s WHERE s.child = up.h)"
//  Whether ?1 is among the ancestors of ?2.
#define RAW_ANCESTOR                                                                               \
    "WITH RECURSIVE up(h) AS (SELECT source FROM prov_edges WHERE child = ?2"                      \
    " UNION SELECT e.source FROM prov_edges e JOIN up ON e.child = up.h)"                          \
    " SELECT 1 FROM up WHERE h = ?1 LIMIT 1"

//  A raw database with provenance_schema's tables and the writer's page
//  cache (64 MiB: the graph's tables outgrow SQLite's default 2 MiB).
static sqlite3 *s_raw_open(const char *dir) {
    sqlite3 *db = bench_sqlite_open_schema(dir, &provenance_schema);
    if (db && bench_sqlite_exec(db, "PRAGMA cache_size=" CA_WRITER_CACHE_KIB) != 0) {
        sqlite3_close(db);
        db = NULL;
    }
    return db;
}

//  Inserts the edges of nodes [first, first + count) in one transaction.
static int s_raw_batch(bench_prov_t *self, sqlite3_stmt *insert, uint64_t first, uint64_t count) {
    if (bench_sqlite_exec(self->raw, "BEGIN IMMEDIATE") != 0)
        return -1;
    int rc = SQLITE_DONE;
    for (uint64_t k = first; k < first + count && rc == SQLITE_DONE; k++)
        for (int i = 0; i < self->source_count[k] && rc == SQLITE_DONE; i++) {
            sqlite3_bind_blob(insert, 1, self->hashes[k], CA_SHA256_BYTES, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 2, self->hashes[self->sources[k][i]], CA_SHA256_BYTES,
                              SQLITE_STATIC);
            rc = sqlite3_step(insert);
            sqlite3_reset(insert);
        }
    if (rc != SQLITE_DONE) {
        bench_fail("sqlite", "INSERT of an edge: %s", sqlite3_errmsg(self->raw));
        sqlite3_exec(self->raw, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return bench_sqlite_exec(self->raw, "COMMIT");
}

//  Builds the raw side: a fresh database, every node's edges.
static int s_raw_build(bench_t *bench, result_t *result) {
    bench_prov_t *self = s_prov(bench);
    if (self->raw_built)
        return bench_fail("sqlite.prov_add", "the raw graph was built already");
    self->raw_dir = ca_test_tempdir("cairn-bench-prov");
    self->raw = s_raw_open(self->raw_dir);
    sqlite3_stmt *insert = NULL;
    int rc = self->raw ? bench_sqlite_prepare(self->raw, provenance_sql_edge_insert, &insert) : -1;
    int64_t start = zclock_usecs();
    for (uint64_t k = 0; rc == 0 && k < self->nodes; k += RAW_BATCH) {
        uint64_t count = self->nodes - k < RAW_BATCH ? self->nodes - k : RAW_BATCH;
        rc = zsys_interrupted ? bench_fail("sqlite.prov_add", "interrupted")
                              : s_raw_batch(self, insert, k, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(insert);
    self->raw_built = rc == 0;
    if (rc == 0)
        printf("sqlite.prov_add: %" PRIu64 " edges in %.2f s, %.0f edges/s\n", self->edges,
               result->seconds, (double)self->edges / result->seconds);
    return rc;
}

static int s_run_sqlite_prov_add(bench_t *bench, result_t *result) {
    return s_raw_build(bench, result);
}

//  ---- raw SQLite doing the node's job: edges, labels, root cache ------------------------

//  The statements of sqlite.prov_add.cache, in provenance_sql_add: an
//  original is a labelled node and its own root; a derived node is its
//  edges, the labelled node and its roots. What ProvAdd also runs is left
//  out because this input needs none of it: the guard and the roots' cap
//  and delete (every node is new, with few roots).
enum { CACHE_ORIGINAL, CACHE_EDGES, CACHE_NODE, CACHE_ROOTS, CACHE_STATEMENTS };
static const provenance_sql_t s_cache_sql[CACHE_STATEMENTS] = {
    PROV_SQL_SOURCE_NODE, PROV_SQL_EDGES, PROV_SQL_DERIVED, PROV_SQL_ROOTS_INSERT};

//  Runs `stmt` with ?1 = node k's hash and ?2 = `blob` (size bytes, or
//  the time when blob is NULL).
static int s_cache_step(bench_prov_t *self, sqlite3_stmt *stmt, uint64_t k, const void *blob,
                        size_t size) {
    sqlite3_bind_blob(stmt, 1, self->hashes[k], CA_SHA256_BYTES, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob(stmt, 2, blob, (int)size, SQLITE_STATIC);
    else if (sqlite3_bind_parameter_count(stmt) >= 2)
        sqlite3_bind_double(stmt, 2, (double)zclock_time() / 1000);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

//  Adds nodes [first, first + count) with their edges, labels and roots
//  in one transaction.
static int s_cache_batch(bench_prov_t *self, sqlite3 *db, sqlite3_stmt **stmts, uint64_t first,
                         uint64_t count) {
    if (bench_sqlite_exec(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    int rc = 0;
    for (uint64_t k = first; k < first + count && rc == 0; k++) {
        uint8_t sources[SOURCES][CA_SHA256_BYTES];
        for (int i = 0; i < self->source_count[k]; i++)
            memcpy(sources[i], self->hashes[self->sources[k][i]], CA_SHA256_BYTES);
        size_t size = (size_t)self->source_count[k] * CA_SHA256_BYTES;
        if (size == 0)
            rc = s_cache_step(self, stmts[CACHE_ORIGINAL], k, NULL, 0);
        else {
            rc = s_cache_step(self, stmts[CACHE_EDGES], k, sources, size);
            rc = rc ? rc : s_cache_step(self, stmts[CACHE_NODE], k, NULL, 0);
        }
        rc = rc ? rc : s_cache_step(self, stmts[CACHE_ROOTS], k, NULL, 0);
    }
    if (rc != 0) {
        bench_fail("sqlite.prov_add.cache", "a statement failed: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return bench_sqlite_exec(db, "COMMIT");
}

static int s_run_sqlite_prov_add_cache(bench_t *bench, result_t *result) {
    bench_prov_t *self = s_prov(bench);
    if (self->cache_dir)
        return bench_fail("sqlite.prov_add.cache", "the graph was built already");
    self->cache_dir = ca_test_tempdir("cairn-bench-prov-cache");
    sqlite3 *db = s_raw_open(self->cache_dir);
    sqlite3_stmt *stmts[CACHE_STATEMENTS] = {NULL};
    int rc = db ? 0 : -1;
    for (int i = 0; i < CACHE_STATEMENTS && rc == 0; i++)
        rc = bench_sqlite_prepare(db, provenance_sql_add[s_cache_sql[i]], &stmts[i]);
    int64_t start = zclock_usecs();
    for (uint64_t k = 0; rc == 0 && k < self->nodes; k += RAW_BATCH) {
        uint64_t count = self->nodes - k < RAW_BATCH ? self->nodes - k : RAW_BATCH;
        rc = zsys_interrupted ? bench_fail("sqlite.prov_add.cache", "interrupted")
                              : s_cache_batch(self, db, stmts, k, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    for (int i = 0; i < CACHE_STATEMENTS; i++)
        sqlite3_finalize(stmts[i]);
    if (db)
        sqlite3_close(db);
    return rc;
}

//  The raw side, built untimed when its add case did not run.
static bench_prov_t *s_raw_ready(bench_t *bench) {
    bench_prov_t *self = s_prov(bench);
    result_t ignored = {0};
    if (!self->raw_built && s_raw_build(bench, &ignored) != 0)
        return NULL;
    return self;
}

//  Runs query n on the raw side; its answer (a root count, or 0/1) in *answer.
static int s_raw_query(bench_prov_t *self, sqlite3_stmt *stmt, query_kind_t kind, uint64_t n,
                       uint32_t *answer) {
    uint64_t a, b;
    s_query(self, kind, n, &a, &b);
    if (kind != QUERY_ROOTS)
        sqlite3_bind_blob(stmt, 1, self->hashes[a], CA_SHA256_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, kind == QUERY_ROOTS ? 1 : 2, self->hashes[b], CA_SHA256_BYTES,
                      SQLITE_STATIC);
    int rc;
    *answer = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        (*answer)++;
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int s_run_raw_queries(bench_t *bench, result_t *result, query_kind_t kind,
                             const char *name) {
    bench_prov_t *self = s_raw_ready(bench);
    sqlite3_stmt *stmt = NULL;
    if (!self ||
        bench_sqlite_prepare(self->raw, kind == QUERY_ROOTS ? RAW_ROOTS : RAW_ANCESTOR, &stmt) != 0)
        return -1;
    uint64_t yes = 0;
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t n = result->ok + 1;
        uint32_t answer = 0;
        rc = s_raw_query(self, stmt, kind, n, &answer);
        if (rc != 0)
            bench_fail(name, "query %" PRIu64 ": %s", n, sqlite3_errmsg(self->raw));
        else {
            result->ok++;
            yes += answer > 0;
            if (n <= EXPECT_MAX)
                self->expect[kind][n - 1] = answer;
        }
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(stmt);
    self->expected[kind] = result->ok < EXPECT_MAX ? result->ok : EXPECT_MAX;
    if (rc == 0 && kind != QUERY_ROOTS)
        printf("%s: %" PRIu64 " of %" PRIu64 " pairs are ancestor and descendant\n", name, yes,
               result->ok);
    return rc;
}

static int s_run_sqlite_prov_roots(bench_t *bench, result_t *result) {
    return s_run_raw_queries(bench, result, QUERY_ROOTS, "sqlite.prov_roots.cte");
}

static int s_run_sqlite_prov_ancestor_random(bench_t *bench, result_t *result) {
    return s_run_raw_queries(bench, result, QUERY_RANDOM, "sqlite.prov_ancestor.random");
}

static int s_run_sqlite_prov_ancestor_strand(bench_t *bench, result_t *result) {
    return s_run_raw_queries(bench, result, QUERY_STRAND, "sqlite.prov_ancestor.strand");
}

//  ---- the node: ProvAdd ------------------------------------------------------------------

static bool s_answered(const tracker_t *tracker, uint64_t id) {
    return id <= tracker->sent && (tracker->bits[id / 64] & (1ULL << (id % 64))) != 0;
}

//  Node k (request id k + 1) may be sent once every source was answered.
static bool s_sources_answered(const bench_prov_t *self, const tracker_t *tracker, uint64_t k) {
    for (int i = 0; i < self->source_count[k]; i++)
        if (!s_answered(tracker, (uint64_t)self->sources[k][i] + 1))
            return false;
    return true;
}

static int s_add_send(bench_prov_t *self, void *handle, uint64_t k) {
    ProtobufCBinaryData sources[SOURCES];
    for (int i = 0; i < self->source_count[k]; i++)
        sources[i] = (ProtobufCBinaryData){CA_SHA256_BYTES, self->hashes[self->sources[k][i]]};
    Cairn__Request request;
    Cairn__ProvAdd add;
    ca_request_prov_add(&request, &add, k + 1, self->hashes[k], CA_SHA256_BYTES, sources,
                        self->source_count[k]);
    return bench_send_request(handle, &request);
}

//  Decodes one ProvAdd answer: OK only when it added the edges asked for.
static int s_add_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                        result_t *result, void *context) {
    const bench_prov_t *self = (const bench_prov_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && *id >= 1 && *id <= self->nodes &&
        (response->body_case != CAIRN__RESPONSE__BODY_PROV_ADD ||
         response->prov_add->edges_added != self->source_count[*id - 1])) {
        bench_first_error(result, "node %" PRIu64 ": not an answer adding its %d edges", *id - 1,
                          self->source_count[*id - 1]);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_add_wire = {NULL, s_add_decode}; //  the add loop sends itself

//  Reads one ProvAdd answer (flags as bench_receive). Every add must
//  succeed with the edges it asked for: the query cases need the whole
//  graph.
static int s_add_receive(bench_prov_t *self, void *handle, tracker_t *tracker, int flags,
                         result_t *result) {
    int rc = bench_receive(handle, &s_add_wire, self, tracker, "node.prov_add", flags, result);
    if (rc == 0 && (result->busy || result->errors))
        return bench_fail("node.prov_add", "an add failed, so the graph is incomplete: %s",
                          result->first_error);
    return rc;
}

//  The add loop's sending side: which nodes were sent, the first unsent.
typedef struct {
    uint8_t *state; //  per node: UNSENT, HELD (once found waiting), SENT
    uint64_t first_unsent;
    uint64_t outstanding;
    uint64_t held; //  nodes that had to wait for a source's answer
} add_sender_t;

enum { UNSENT, HELD, SENT };

//  Sends the nodes, among the LOOKAHEAD from the first unsent one, whose
//  sources have all been answered, while fewer than `window` are
//  outstanding. The ids of the nodes sent are marked in the tracker.
static int s_add_send_ready(bench_prov_t *self, void *handle, tracker_t *tracker,
                            add_sender_t *sender, uint64_t window) {
    uint64_t end = sender->first_unsent + LOOKAHEAD;
    end = end < self->nodes ? end : self->nodes;
    for (uint64_t k = sender->first_unsent; k < end && sender->outstanding < window; k++) {
        if (sender->state[k] == SENT)
            continue;
        if (!s_sources_answered(self, tracker, k)) {
            sender->held += sender->state[k] == UNSENT;
            sender->state[k] = HELD;
            continue;
        }
        if (s_add_send(self, handle, k) != 0)
            return bench_fail("node.prov_add", "send: %s", zmq_strerror(zmq_errno()));
        sender->state[k] = SENT;
        sender->outstanding++;
        if (k + 1 > tracker->sent)
            bench_tracker_sent(tracker, k + 1);
    }
    while (sender->first_unsent < self->nodes && sender->state[sender->first_unsent] == SENT)
        sender->first_unsent++;
    return 0;
}

//  Sends every node, up to `window` outstanding, a node only once its
//  sources were answered (out of order within LOOKAHEAD, so that one node
//  waiting does not hold back the strands that could go on); waits for
//  every answer.
static int s_node_build(bench_t *bench, result_t *result) {
    bench_prov_t *self = s_prov(bench);
    harness_node_t *node = bench_node(bench);
    if (!node)
        return -1;
    if (self->node_built)
        return bench_fail("node.prov_add", "the node's graph was built already");
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    zsock_set_rcvtimeo(client, STALL_TIMEOUT_MS);
    void *handle = zsock_resolve(client);
    tracker_t tracker = {0};
    bench_tracker_sent(&tracker, 0);
    add_sender_t sender = {.state = (uint8_t *)calloc(self->nodes, 1)};
    assert(sender.state);
    int rc = 0;
    int64_t start = zclock_usecs();
    while (rc == 0 && tracker.answered < self->nodes) {
        rc = zsys_interrupted
                 ? bench_fail("node.prov_add", "interrupted")
                 : s_add_send_ready(self, handle, &tracker, &sender, (uint64_t)bench->window);
        if (rc == 0 && sender.outstanding == 0)
            rc = bench_fail("node.prov_add", "nothing to send and nothing outstanding");
        //  one answer (waiting for it), then every answer already there
        int received = rc == 0 ? s_add_receive(self, handle, &tracker, 0, result) : -1;
        while (received == 0) {
            sender.outstanding--;
            received = sender.outstanding > 0
                           ? s_add_receive(self, handle, &tracker, ZMQ_DONTWAIT, result)
                           : 1;
        }
        rc = received < 0 ? -1 : 0;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0)
        rc = bench_tracker_check(&tracker, "node.prov_add");
    bench_tracker_free(&tracker);
    free(sender.state);
    zsock_destroy(&client);
    self->node_built = rc == 0;
    if (rc == 0) {
        printf("node.prov_add: %" PRIu64 " edges in %.2f s, %.0f edges/s (%" PRIu64
               " nodes waited for a source's answer)\n",
               self->edges, result->seconds, (double)self->edges / result->seconds, sender.held);
        bench_print_node_memory(bench, "after the provenance graph was built");
    }
    return rc;
}

static int s_run_node_prov_add(bench_t *bench, result_t *result) {
    return s_node_build(bench, result);
}

//  ---- the node: ProvRoots, ProvAncestor -------------------------------------------------

typedef struct {
    bench_prov_t *prov;
    query_kind_t kind;
    uint64_t yes; //  answers saying is_ancestor
} query_t;

static int s_query_send(void *handle, uint64_t id, void *context) {
    query_t *query = (query_t *)context;
    uint64_t a, b;
    s_query(query->prov, query->kind, id, &a, &b);
    Cairn__Request request;
    if (query->kind == QUERY_ROOTS) {
        Cairn__ProvRoots roots;
        ca_request_prov_roots(&request, &roots, id, query->prov->hashes[b], CA_SHA256_BYTES, 0);
        return bench_send_request(handle, &request);
    }
    Cairn__ProvAncestor ancestor;
    ca_request_prov_ancestor(&request, &ancestor, id, query->prov->hashes[a], CA_SHA256_BYTES,
                             query->prov->hashes[b], CA_SHA256_BYTES);
    return bench_send_request(handle, &request);
}

//  The answer's root count or ancestry; false when the body is not the
//  one asked for or a root has no weight.
static bool s_query_answer(const query_t *query, const Cairn__Response *response,
                           uint32_t *answer) {
    if (query->kind == QUERY_ROOTS) {
        if (response->body_case != CAIRN__RESPONSE__BODY_PROV_ROOTS || response->prov_roots->more)
            return false;
        *answer = (uint32_t)response->prov_roots->n_roots;
        for (size_t i = 0; i < response->prov_roots->n_roots; i++)
            if (response->prov_roots->roots[i]->weight == 0)
                return false;
        return *answer > 0;
    }
    if (response->body_case != CAIRN__RESPONSE__BODY_PROV_ANCESTOR)
        return false;
    *answer = response->prov_ancestor->is_ancestor;
    return true;
}

static int s_query_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context) {
    query_t *query = (query_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    uint32_t answer = 0;
    if (*outcome == OUTCOME_OK && !s_query_answer(query, response, &answer)) {
        bench_first_error(result, "query %" PRIu64 ": not a %s answer", *id,
                          s_query_names[query->kind]);
        *outcome = OUTCOME_ERROR;
    }
    const bench_prov_t *prov = query->prov;
    if (*outcome == OUTCOME_OK && *id >= 1 && *id <= prov->expected[query->kind] &&
        prov->expect[query->kind][*id - 1] != answer) {
        bench_first_error(result, "query %" PRIu64 ": the node answers %u, raw SQLite %u", *id,
                          answer, prov->expect[query->kind][*id - 1]);
        *outcome = OUTCOME_ERROR;
    }
    query->yes += *outcome == OUTCOME_OK && answer > 0;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_query_wire = {s_query_send, s_query_decode};

static int s_run_node_queries(bench_t *bench, result_t *result, query_kind_t kind, const char *name,
                              int window) {
    bench_prov_t *self = s_prov(bench);
    result_t ignored = {0};
    if (!self->node_built && s_node_build(bench, &ignored) != 0)
        return -1;
    query_t query = {self, kind, 0};
    int rc = bench_run_node(bench, result, name, &s_query_wire, &query, window);
    if (rc == 0 && kind != QUERY_ROOTS)
        printf("%s: %" PRIu64 " of %" PRIu64 " pairs are ancestor and descendant\n", name,
               query.yes, result->ok);
    return rc;
}

static int s_run_node_prov_roots(bench_t *bench, result_t *result) {
    return s_run_node_queries(bench, result, QUERY_ROOTS, "node.prov_roots.pipelined",
                              bench->window);
}

static int s_run_node_prov_roots_rtt(bench_t *bench, result_t *result) {
    return s_run_node_queries(bench, result, QUERY_ROOTS, "node.prov_roots.rtt", 1);
}

static int s_ancestor_window(const bench_t *bench) {
    return bench->window < ANCESTOR_WINDOW ? bench->window : ANCESTOR_WINDOW;
}

static int s_run_node_prov_ancestor_random(bench_t *bench, result_t *result) {
    return s_run_node_queries(bench, result, QUERY_RANDOM, "node.prov_ancestor.random",
                              s_ancestor_window(bench));
}

static int s_run_node_prov_ancestor_strand(bench_t *bench, result_t *result) {
    return s_run_node_queries(bench, result, QUERY_STRAND, "node.prov_ancestor.strand",
                              s_ancestor_window(bench));
}

//  Frees the provenance cases' state and removes the raw baseline's files.
static void s_destroy(bench_t *bench) {
    s_prov_destroy(&bench->prov);
}

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "sqlite.prov_add.tx1000",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_prov_add,
     .what = "INSERT of each DAG node's edges (--prov-nodes), 1000 nodes per transaction"},
    {.name = "sqlite.prov_add.cache",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_prov_add_cache,
     .what = "the node's job in plain SQLite: nodes, edges, labels and root cache (ProvAdd's "
             "statements), 1000 nodes per transaction"},
    {.name = "node.prov_add.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_prov_add,
     .versus = {"sqlite.prov_add.tx1000", "sqlite.prov_add.cache"},
     .what = "cairnd ProvAdd of each node with its sources (root cache kept), a window"},
    {.name = "sqlite.prov_roots.cte",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_prov_roots,
     .what = "the root set of a random node: WITH RECURSIVE up the edge table"},
    {.name = "node.prov_roots.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_prov_roots,
     .versus = {"sqlite.prov_roots.cte"},
     .what = "cairnd ProvRoots of the same nodes (root cache), a window outstanding"},
    {.name = "node.prov_roots.rtt",
     .kind = KIND_NODE,
     .run = s_run_node_prov_roots_rtt,
     .versus = {"sqlite.prov_roots.cte"},
     .what = "cairnd ProvRoots of the same nodes, one at a time"},
    {.name = "sqlite.prov_ancestor.random",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_prov_ancestor_random,
     .what = "is-ancestor of two random nodes: WITH RECURSIVE up from one, LIMIT 1"},
    {.name = "node.prov_ancestor.random",
     .kind = KIND_NODE,
     .run = s_run_node_prov_ancestor_random,
     .versus = {"sqlite.prov_ancestor.random"},
     .what = "cairnd ProvAncestor of the same pairs, a window outstanding"},
    {.name = "sqlite.prov_ancestor.strand",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_prov_ancestor_strand,
     .what = "the same CTE, two random nodes of one strand (related: about half true)"},
    {.name = "node.prov_ancestor.strand",
     .kind = KIND_NODE,
     .run = s_run_node_prov_ancestor_strand,
     .versus = {"sqlite.prov_ancestor.strand"},
     .what = "cairnd ProvAncestor of the same pairs (the cache cannot decide: a walk)"},
};

const bench_area_t bench_provenance_area = BENCH_AREA(s_cases, NULL, s_destroy);

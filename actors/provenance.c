/*  =========================================================================
    provenance - where content came from: the derivation graph and its
    root cache

    What it owns: the graph tables of provenance_schema (prov_nodes, prov_edges,
    prov_roots). It reads `manifests` (owner and visibility of roots).

    Requests: schemas/provenance.proto (hashes are 32 raw bytes).
    ProvDerivations pages direct derivations by hash (`after`) and walks
    transitive ones breadth first.

    The root cache. For every known hash, prov_roots holds its original
    sources (hashes with no sources of their own) and, for each, the number
    of distinct derivation paths that reach it: content derived from
    sources s1..sn has roots(c) = the sum over i of roots(si), root by
    root, and original content is its own root with weight 1 (a row like
    any other, so no reader needs a special case). Weights are unsigned
    64-bit and saturate (the aggregate cairn_usat_sum, registered on every
    connection by ca_sql) instead of overflowing: stacked diamonds double
    the paths at every level.

    ProvAdd computes the new rows inside the writer's transaction, from the
    sources' rows as committed (INSERT ... SELECT with cairn_usat_sum over
    the edges), so two adds racing on two workers can never build a root
    set from a stale one. Its cost follows the sources' root sets, not the
    depth of the graph: a chain 100,000 deep costs the same per add as a
    chain of 2, and ProvRoots is one indexed range read at any depth.

    A node's root set is capped at CA_PROV_ROOTS_MAX (100,000): one add of
    1000 sources could otherwise write the union of their root sets, a
    million rows or more. The cap is checked in the same transaction
    before the rows are written (a (cap+1)-th distinct root among the
    sources' rows means CONFLICT), so a refused add costs a bounded read.

    Why adding sources to content that already has derivations is refused
    (CONFLICT): every descendant's roots would change, which is a walk over
    all of them inside one transaction; provenance is known when content
    is made, so the node asks for it then. The rule also makes cycles
    impossible: a new edge c <- s closes a cycle only if c is an ancestor
    of s, so c already has derivations. For a clearer answer the handler
    looks for that cycle first (a search up from the new sources) and
    names it INVALID; the writer's guard (c has no derivations, checked in
    the transaction) keeps the rule under races. Nothing of a refused add
    is kept: all its statements share one savepoint.

    Order: every ProvAdd is served by worker 0 (CA_ROUTE_ONE_WORKER), so
    the adds one connection sends are committed in the order sent, and a
    client may pipeline dependent adds (a chain: c1 <- c0, c2 <- c1, ...)
    without waiting for each answer. Round robin over workers would let
    c2 <- c1 commit first and make c1 original, so that c1 <- c0 would then
    be refused. The adds' real work is the writer's, which is single
    anyway; the reads (ProvRoots, ProvDerivations, ProvAncestor) still run
    on every worker.

    Searches (transitive derivations, and ancestry when a label is
    missing) walk the edge index breadth first in C with a visited set
    (ca_hashset: 32-byte keys, about 48 bytes per hash seen) and no
    recursion, so a chain of any depth or a node with 100,000 derivations
    needs memory in proportion to what is visited and no stack. The walk
    up is bounded by generations (0 for originals, else one more than the
    highest of the sources, final once content has derivations): it skips
    every node below the ancestor's, since nothing there leads up to it.

    Reachability (ProvAncestor). The graph is split into chains, each a
    path of ancestors: every node has a label (chain, position), and on
    one chain a node at a lower position is an ancestor of one higher up.
    For every chain it reaches, a node's reach vector (prov_nodes.reach,
    one BLOB packed by ca_reach.c) holds the highest position there of an
    ancestor (the ancestors on a chain are a prefix of it, since each is
    an ancestor of the next). So a (a != d) is an ancestor of d exactly
    when they share a chain and a comes first, or d's vector reaches a's
    position on a's chain: two label reads, at any depth, true or false
    (issue 13; the walk it replaces took thousands of reads between two
    nodes of one deep strand). Labels are written by ProvAdd in the same
    transaction (PROV_DERIVED_SQL in provenance_schema.h, which writes the
    node's row with them): a node's vector is the chain-wise maximum of its sources' vectors and
    labels (the aggregate cairn_reach), and it goes at the end of the
    longest chain whose last node its vector names (an ancestor), else
    starts a chain. This fits how the graph grows: edges are only ever
    added to content without derivations (the rule above), so only a node
    nobody's vector names is ever labelled again, from all its sources.
    Cost: a vector follows the width of the graph behind it (the chains it
    reaches), not its depth; on the bench's strands (width ~40, 50,000
    nodes, ~1,400 chains) ~63 bytes a node, ~125 with the (chain,
    position) index (the root cache: ~700). One vector per node, not one
    row per chain reached (the first version: ~30 prov_reach rows, ~530
    bytes a node), because rows were what an add paid for: the writer
    spends ~40 us an add on labels, against ~140 us with rows. A damaged
    vector is never a wrong answer: ProvAncestor walks instead, and an add
    that would merge it fails. Databases from before migration 3 are
    labelled by it, in generation order, with the same choice in two
    statements (PROV_REACH_SQL, PROV_LABEL_SQL); a node that still has no
    label (none should) is answered by the walk.

    What an add costs the writer (issue 13). The writer's time per add
    followed its statement count more than the rows written (each one
    travels as text and values, is looked up, bound, stepped, answered),
    so an add of a new node with sources the worker has seen is six
    statements: the guard, its edges (one INSERT over the hashes packed
    in one blob), its row with label and generation (one upsert after the
    edges, so the index entry of its label is written once), and the
    roots' cap, delete and insert (whose change count is the answer's
    root count). A source the worker has not seen adds two (its node and
    self root); one it has seen needs neither, since nodes are never
    removed and each was committed with its label and root rows. What is
    left is SQLite's: B-tree seeks on 32-byte random keys and the pages
    a batch dirties (figures: bench/RESULTS.md, "Issue 13: ProvAdd").
    ========================================================================= */

#include "provenance.h"
#include "ca_clock.h"
#include "ca_blob_store.h"
#include "ca_hashset.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_reach.h"
#include "ca_validate.h"
#include "provenance_schema.h"

#include <assert.h>
#include <string.h>

#define UNKNOWN_ADVICE "record it with ProvAdd first"

//  ---- lookups -----------------------------------------------------------------------

//  A node's reachability label: (chain, position), `labelled` false when
//  it has none (only inside a ProvAdd's transaction, never seen by a
//  reader; the walk answers then), and what its reach vector holds for
//  `reach_chain` when that is not 0 (`reaches` false when nothing; a
//  malformed vector counts as no label, so the walk answers). Known, else
//  the reply says NOT_FOUND (naming `what`) or why it could not be read.
typedef struct {
    int64_t chain, position, reach_chain, reach_position;
    bool labelled, reaches;
} label_t;

static bool s_label(ca_store_t *store, const uint8_t *hash, const char *what, int64_t reach_chain,
                    label_t *label, ca_reply_t *reply) {
    *label = (label_t){.reach_chain = reach_chain};
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT chain, position, reach FROM prov_nodes WHERE hash = ?1", reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        label->labelled = sqlite3_column_type(stmt, 0) == SQLITE_INTEGER &&
                          sqlite3_column_type(stmt, 1) == SQLITE_INTEGER;
        label->chain = sqlite3_column_int64(stmt, 0);
        label->position = sqlite3_column_int64(stmt, 1);
        bool malformed = false;
        label->reaches =
            reach_chain != 0 &&
            ca_reach_find(sqlite3_column_blob(stmt, 2), (size_t)sqlite3_column_bytes(stmt, 2),
                          label->reach_chain, &label->reach_position, &malformed);
        label->labelled &= !malformed;
    } else if (rc == SQLITE_DONE) {
        char hex[65];
        ca_hash_to_hex(hash, hex);
        ca_reply_error(reply, CA_NOT_FOUND, "%s %s is not in the provenance graph; %s", what, hex,
                       UNKNOWN_ADVICE);
    } else
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the graph: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static bool s_require_known(ca_store_t *store, const uint8_t *hash, const char *what,
                            ca_reply_t *reply) {
    label_t label;
    return s_label(store, hash, what, 0, &label, reply);
}

//  Whether a row exists for the query with (a) or (a, b) bound.
//  A statement that cannot be prepared (logged) counts as no row, as a
//  failed step does.
static bool s_exists(ca_store_t *store, const char *sql, const uint8_t *a, const uint8_t *b) {
    sqlite3_stmt *stmt = ca_store_prepare(store, sql, NULL);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, a, CA_SHA256_BYTES, SQLITE_STATIC);
    if (b)
        sqlite3_bind_blob(stmt, 2, b, CA_SHA256_BYTES, SQLITE_STATIC);
    bool exists = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return exists;
}

static bool s_has_derivations(ca_store_t *store, const uint8_t *hash) {
    return s_exists(store, "SELECT 1 FROM prov_edges WHERE source = ?1 LIMIT 1", hash, NULL);
}

//  What the committed graph says of `source` for `child`: whether the
//  edge exists, and whether the source is a known node (nodes are never
//  removed, so a known node stays known, with its root rows). A read that
//  fails says neither, which only costs the add the statements it would
//  have skipped.
static void s_source_state(ca_store_t *store, const uint8_t *child, const uint8_t *source,
                           bool *edge, bool *known) {
    *edge = *known = false;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        "SELECT EXISTS (SELECT 1 FROM prov_edges WHERE child = ?1 AND source = ?2),"
        " EXISTS (SELECT 1 FROM prov_nodes WHERE hash = ?2)",
        NULL);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, child, CA_SHA256_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, source, CA_SHA256_BYTES, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *edge = sqlite3_column_int(stmt, 0) != 0;
        *known = sqlite3_column_int(stmt, 1) != 0;
    }
    sqlite3_reset(stmt);
}

//  ---- breadth-first walks over the edge index -------------------------------------

//  Visits the hashes reachable from `start` (not `start` itself) through
//  `next_sql` (?1 = a hash, rows = its neighbours), breadth first, each
//  once. `visit` returns false to stop the walk. Returns false on a read
//  error.
typedef bool(visit_fn)(void *context, const uint8_t *hash);

static bool s_walk(ca_store_t *store, const char *next_sql, int64_t floor, const uint8_t *start,
                   visit_fn *visit, void *context) {
    ca_hashset_t *seen = ca_hashset_new();
    if (!seen)
        return false;
    //  The queue is the set's insertion order: entry i is visited i-th.
    ca_hashset_add(seen, start);
    bool going = true;
    sqlite3_stmt *stmt = ca_store_prepare(store, next_sql, NULL);
    bool ok = stmt != NULL;
    for (size_t at = 0; going && ok && at < ca_hashset_size(seen); at++) {
        uint8_t current[CA_SHA256_BYTES];
        memcpy(current, ca_hashset_at(seen, at), CA_SHA256_BYTES);
        sqlite3_bind_blob(stmt, 1, current, CA_SHA256_BYTES, SQLITE_TRANSIENT);
        if (floor >= 0)
            sqlite3_bind_int64(stmt, 2, floor);
        int rc;
        while (going && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            const uint8_t *next = (const uint8_t *)sqlite3_column_blob(stmt, 0);
            if (sqlite3_column_bytes(stmt, 0) == CA_SHA256_BYTES && ca_hashset_add(seen, next))
                going = visit(context, next);
        }
        if (going && rc != SQLITE_DONE)
            ok = false;
        sqlite3_reset(stmt);
    }
    ok = ok && !ca_hashset_failed(seen); //  out of memory: the walk missed nodes
    ca_hashset_destroy(&seen);
    return ok;
}

//  Sources of ?1 whose generation is at least ?2: below an ancestor's
//  generation nothing leads up to it (its ancestors are lower still).
#define SOURCES_SQL                                                                                \
    "SELECT e.source FROM prov_edges e JOIN prov_nodes n ON n.hash = e.source"                     \
    " WHERE e.child = ?1 AND n.generation >= ?2"
#define CHILDREN_SQL "SELECT child FROM prov_edges WHERE source = ?1 ORDER BY child"
//  A page of direct derivations: the children above ?2 (a blob sorts
//  above every integer, so 0 starts at the first).
#define CHILDREN_AFTER_SQL                                                                         \
    "SELECT child FROM prov_edges WHERE source = ?1 AND child > ?2 ORDER BY child"

typedef struct {
    const uint8_t *target;
    bool found;
} search_t;

static bool s_search_visit(void *context, const uint8_t *hash) {
    search_t *search = (search_t *)context;
    search->found = memcmp(hash, search->target, CA_SHA256_BYTES) == 0;
    return !search->found;
}

//  A node's generation (0 for originals; -1 when unknown; -2 when it
//  cannot be read, logged).
static int64_t s_generation(ca_store_t *store, const uint8_t *hash) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT generation FROM prov_nodes WHERE hash = ?1", NULL);
    if (!stmt)
        return -2;
    sqlite3_bind_blob(stmt, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int64_t generation = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_reset(stmt);
    return generation;
}

//  Whether `ancestor` is reachable upwards from `descendant`: a walk over
//  the nodes of generations between the two.
static bool s_reaches_up(ca_store_t *store, const uint8_t *descendant, const uint8_t *ancestor,
                         bool *ok) {
    int64_t floor = s_generation(store, ancestor);
    int64_t top = floor < 0 ? floor : s_generation(store, descendant);
    *ok = floor != -2 && top != -2;
    if (floor < 0 || floor >= top)
        return false;
    search_t search = {ancestor, false};
    *ok = s_walk(store, SOURCES_SQL, floor, descendant, s_search_visit, &search);
    return search.found;
}

//  ---- ProvAdd -------------------------------------------------------------------------

const char provenance_sql_edge_insert[] =
    "INSERT OR IGNORE INTO prov_edges (child, source) VALUES (?1, ?2)";

//  The edges from ?1 to each 32-byte hash packed in ?2 (one statement for
//  all of an add's sources: the writer pays per statement).
#define EDGES_INSERT_SQL                                                                           \
    "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i"                               \
    "  WHERE n + 1 < length(?2) / 32)"                                                             \
    " INSERT OR IGNORE INTO prov_edges (child, source) SELECT ?1, substr(?2, n * 32 + 1, 32)"      \
    " FROM i"

const char *const provenance_sql_add[PROV_SQL_COUNT] = {
    [PROV_SQL_GUARD] = "SELECT 1 FROM prov_edges WHERE source = ?1 LIMIT 1",
    [PROV_SQL_NODE] = "INSERT OR IGNORE INTO prov_nodes (hash, added_at) VALUES (?1, ?2)",
    [PROV_SQL_SOURCE_NODE] = "INSERT OR IGNORE INTO prov_nodes (hash, added_at, chain, position)"
                             " SELECT ?1, ?2, coalesce(max(chain), 0) + 1, 0 FROM prov_nodes",
    [PROV_SQL_SOURCE_ROOT] =
        "INSERT OR IGNORE INTO prov_roots (hash, root, weight) SELECT ?1, ?1, 1"
        " WHERE NOT EXISTS (SELECT 1 FROM prov_edges WHERE child = ?1)",
    [PROV_SQL_EDGES] = EDGES_INSERT_SQL,
    [PROV_SQL_LABEL_NEW] = "UPDATE prov_nodes SET (chain, position) ="
                           " (SELECT coalesce(max(chain), 0) + 1, 0 FROM prov_nodes)"
                           " WHERE hash = ?1 AND chain IS NULL",
    [PROV_SQL_DERIVED] = PROV_DERIVED_SQL,
    [PROV_SQL_ROOTS_CAP] = "SELECT 1 FROM (SELECT DISTINCT r.root"
                           "  FROM prov_edges e JOIN prov_roots r ON r.hash = e.source"
                           "  WHERE e.child = ?1) LIMIT 1 OFFSET ?2",
    [PROV_SQL_ROOTS_DELETE] = "DELETE FROM prov_roots WHERE hash = ?1",
    [PROV_SQL_ROOTS_INSERT] = "INSERT INTO prov_roots (hash, root, weight)"
                              " SELECT ?1, r.root, cairn_usat_sum(r.weight)"
                              "  FROM prov_edges e JOIN prov_roots r ON r.hash = e.source"
                              "  WHERE e.child = ?1 GROUP BY r.root"
                              " UNION ALL SELECT ?1, ?1, 1"
                              "  WHERE NOT EXISTS (SELECT 1 FROM prov_edges WHERE child = ?1)",
};

//  The sources of a ProvAdd, checked, without repeats, and without those
//  that are edges already; known[i] says out[i] is a node already. False
//  with the reply set on bad input.
static bool s_new_sources(ca_store_t *store, const Cairn__ProvAdd *add, uint8_t (*out)[32],
                          bool *known, size_t *count, ca_reply_t *reply) {
    *count = 0;
    if (add->n_sources > CA_PROV_SOURCES_MAX) {
        ca_reply_error(reply, CA_INVALID, "%zu sources; at most %d per ProvAdd", add->n_sources,
                       CA_PROV_SOURCES_MAX);
        return false;
    }
    ca_hashset_t *seen = ca_hashset_new();
    bool ok = seen != NULL;
    if (!ok)
        ca_reply_error(reply, CA_INTERNAL, "the node ran out of memory; retry later");
    for (size_t i = 0; i < add->n_sources && ok; i++) {
        const ProtobufCBinaryData *source = &add->sources[i];
        char field[32];
        snprintf(field, sizeof field, "sources[%zu]", i);
        ok = ca_blob_store_hash_ok(source, field, reply);
        if (ok && memcmp(source->data, add->hash.data, CA_SHA256_BYTES) == 0) {
            ca_reply_error(reply, CA_INVALID,
                           "sources[%zu] is the content itself; content cannot be derived from "
                           "itself",
                           i);
            ok = false;
        }
        bool edge = false;
        if (ok && ca_hashset_add(seen, source->data)) {
            s_source_state(store, add->hash.data, source->data, &edge, &known[*count]);
            if (!edge)
                memcpy(out[(*count)++], source->data, CA_SHA256_BYTES);
        }
        if (ok && ca_hashset_failed(seen)) {
            ca_reply_error(reply, CA_INTERNAL, "the node ran out of memory; retry later");
            ok = false;
        }
    }
    ca_hashset_destroy(&seen);
    return ok;
}

//  The content has derivations: name the cycle a new source would close,
//  or refuse with CONFLICT.
static void s_refuse_derived(ca_store_t *store, const uint8_t *hash, uint8_t (*sources)[32],
                             size_t count, ca_reply_t *reply) {
    char hex[65], source_hex[65];
    ca_hash_to_hex(hash, hex);
    for (size_t i = 0; i < count; i++) {
        bool ok = true;
        if (s_reaches_up(store, sources[i], hash, &ok)) {
            ca_hash_to_hex(sources[i], source_hex);
            ca_reply_error(reply, CA_INVALID,
                           "deriving %s from %s would close a cycle: %s is already derived from "
                           "%s; nothing was kept",
                           hex, source_hex, source_hex, hex);
            return;
        }
    }
    ca_reply_error(reply, CA_CONFLICT,
                   "%s already has derivations, whose roots would change; record the sources of "
                   "content before deriving from it (nothing was kept)",
                   hex);
}

//  The statements that register `source`, which the worker did not see
//  as a node, as one (labelled at the head of a new chain) and, when it
//  has no sources, as its own root. A source the worker saw needs
//  neither: it was committed with its label and root rows, and nodes are
//  never removed.
#define STATEMENTS_PER_NEW_SOURCE 2
static void s_write_new_source(ca_write_t *write, const uint8_t *source, double now) {
    ca_write_statement(write, provenance_sql_add[PROV_SQL_SOURCE_NODE],
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, source, CA_SHA256_BYTES);
    ca_write_real(write, now);
    ca_write_statement(write, provenance_sql_add[PROV_SQL_SOURCE_ROOT],
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, source, CA_SHA256_BYTES);
}

//  The node `hash` and its reachability label (and generation). Content
//  that gained sources is labelled again from all of them (the guard of
//  s_prov_add made sure it has no derivations, so no other label depends
//  on its own): its row is written with its reach vector, label and
//  generation in one statement, after its edges. Without new sources the
//  node is inserted if new and labelled only if it has no label, at the
//  head of a new chain: known content keeps its label, which its
//  derivations' vectors name, and its generation.
static void s_write_node(ca_write_t *write, const uint8_t *hash, bool new_sources, double now) {
    if (new_sources) {
        ca_write_statement(write, provenance_sql_add[PROV_SQL_DERIVED],
                           CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_INTERNAL,
                           "the reachability label could not be written; retry");
        ca_write_blob(write, hash, CA_SHA256_BYTES);
        ca_write_real(write, now);
        return;
    }
    ca_write_statement(write, provenance_sql_add[PROV_SQL_NODE],
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_real(write, now);
    ca_write_statement(write, provenance_sql_add[PROV_SQL_LABEL_NEW],
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
}

#define STRINGIFY(x) #x
#define STRING(x)    STRINGIFY(x)
static const char s_too_many_roots[] = "the content would have more than " STRING(
    CA_PROV_ROOTS_MAX) " original roots, the most a "
                       "node may have; nothing was kept: derive it from fewer or narrower sources";

//  The root cache row set of `hash`, rebuilt from its sources' rows (or
//  itself when it has none): the insert's changes are its roots, the
//  answer's count. First the cap: the union of the sources' roots may
//  hold at most CA_PROV_ROOTS_MAX, checked by reading at most one past it
//  (a (cap+1)-th distinct root), before any row is written.
#define ROOTS_STATEMENTS 3
static void s_write_roots(ca_write_t *write, const uint8_t *hash) {
    ca_write_statement(write, provenance_sql_add[PROV_SQL_ROOTS_CAP],
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT, s_too_many_roots);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_int(write, CA_PROV_ROOTS_MAX);
    ca_write_statement(write, provenance_sql_add[PROV_SQL_ROOTS_DELETE],
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_SHA256_BYTES);
    ca_write_statement(write, provenance_sql_add[PROV_SQL_ROOTS_INSERT],
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_INTERNAL,
                       "the root cache could not be rebuilt; retry");
    ca_write_blob(write, hash, CA_SHA256_BYTES);
}

//  The write's layout, for s_prov_added. With new sources: guard,
//  STATEMENTS_PER_NEW_SOURCE for each source the worker did not know,
//  edges, node (1 statement), roots (ROOTS_STATEMENTS); without: node (2
//  statements), roots. Sent as the write's context.
typedef struct {
    uint8_t has_sources;
    uint8_t unknown[2]; //  sources not known to the worker, little endian
} layout_t;

static size_t s_layout_statements(const layout_t *layout) {
    size_t unknown = (size_t)layout->unknown[0] | (size_t)layout->unknown[1] << 8;
    return layout->has_sources ? 2 + STATEMENTS_PER_NEW_SOURCE * unknown + 1 + ROOTS_STATEMENTS
                               : 2 + ROOTS_STATEMENTS;
}

static void s_prov_add(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ProvAdd *add = request->prov_add;
    if (!ca_blob_store_hash_ok(&add->hash, "hash", reply))
        return;
    size_t room = add->n_sources ? add->n_sources : 1;
    uint8_t(*sources)[32] = (uint8_t(*)[32])ca_reply_alloc(reply, room * 32);
    bool *known = (bool *)ca_reply_alloc(reply, room * sizeof(bool));
    size_t count = 0;
    if (!s_new_sources(store, add, sources, known, &count, reply))
        return;
    if (count > 0 && s_has_derivations(store, add->hash.data)) {
        s_refuse_derived(store, add->hash.data, sources, count, reply);
        return;
    }
    double now = ca_now_seconds();
    ca_write_t *write = ca_write_new();
    size_t unknown = 0;
    if (count > 0) {
        //  the rule, checked again where it cannot race
        ca_write_statement(write, provenance_sql_add[PROV_SQL_GUARD],
                           CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                           "the content gained derivations meanwhile; its sources can no longer "
                           "be added (nothing was kept)");
        ca_write_blob(write, add->hash.data, CA_SHA256_BYTES);
        for (size_t i = 0; i < count; i++)
            if (!known[i]) {
                s_write_new_source(write, sources[i], now);
                unknown++;
            }
        ca_write_statement(write, provenance_sql_add[PROV_SQL_EDGES],
                           CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
        ca_write_blob(write, add->hash.data, CA_SHA256_BYTES);
        ca_write_blob(write, sources, count * CA_SHA256_BYTES);
    }
    s_write_node(write, add->hash.data, count > 0, now);
    s_write_roots(write, add->hash.data);
    layout_t layout = {count > 0, {(uint8_t)(unknown & 0xff), (uint8_t)(unknown >> 8)}};
    ca_write_context(write, &layout, sizeof layout);
    ca_store_write(store, &write, reply);
}

static void s_prov_added(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    layout_t layout = {0, {0, 0}};
    bool laid_out = write->context.len == sizeof layout;
    if (laid_out)
        memcpy(&layout, write->context.data, sizeof layout);
    size_t last = s_layout_statements(&layout) - 1;
    if (!laid_out || write->n_results != last + 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the add's results; retry");
        return;
    }
    Cairn__ProvAdded *added = (Cairn__ProvAdded *)ca_reply_alloc(reply, sizeof(Cairn__ProvAdded));
    cairn__prov_added__init(added);
    if (layout.has_sources) //  edges, node, then the roots' statements
        added->edges_added = write->results[last - ROOTS_STATEMENTS - 1]->changes;
    added->roots = write->results[last]->changes; //  the roots' insert
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_PROV_ADD;
    response->prov_add = added;
}

//  ---- ProvRoots --------------------------------------------------------------------------

static void s_prov_roots(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ProvRoots *ask = request->prov_roots;
    if (!ca_blob_store_hash_ok(&ask->hash, "hash", reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_PROV_LIST_DEFAULT, CA_PROV_LIST_MAX,
                                 "roots per answer", NULL, reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        "SELECT r.root, r.weight, m.hash IS NOT NULL, m.owner, m.visibility FROM prov_roots r"
        " LEFT JOIN manifests m ON m.hash = r.root WHERE r.hash = ?1 ORDER BY r.root LIMIT ?2",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, ask->hash.data, CA_SHA256_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1);
    Cairn__ProvRootsReply *answer =
        (Cairn__ProvRootsReply *)ca_reply_alloc(reply, sizeof(Cairn__ProvRootsReply));
    cairn__prov_roots_reply__init(answer);
    answer->roots = (Cairn__ProvRoot **)ca_reply_alloc(reply, limit * sizeof(Cairn__ProvRoot *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (answer->n_roots == limit) {
            answer->more = true;
            break;
        }
        Cairn__ProvRoot *root = (Cairn__ProvRoot *)ca_reply_alloc(reply, sizeof(Cairn__ProvRoot));
        cairn__prov_root__init(root);
        root->hash.len = CA_SHA256_BYTES;
        root->hash.data =
            (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 0), CA_SHA256_BYTES);
        root->weight = (uint64_t)sqlite3_column_int64(stmt, 1);
        root->has_manifest = sqlite3_column_int(stmt, 2) != 0;
        const char *owner = (const char *)sqlite3_column_text(stmt, 3);
        root->owner = ca_reply_strdup(reply, owner ? owner : "");
        root->visibility = (Cairn__Visibility)sqlite3_column_int(stmt, 4);
        answer->roots[answer->n_roots++] = root;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read the root cache: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    sqlite3_reset(stmt);
    if (failed ||
        (answer->n_roots == 0 && !s_require_known(store, ask->hash.data, "content", reply)))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_PROV_ROOTS;
    response->prov_roots = answer;
}

//  ---- ProvDerivations ----------------------------------------------------------------------

typedef struct {
    ca_reply_t *reply;
    Cairn__ProvDerivationsReply *answer;
    size_t limit;
} collect_t;

static bool s_collect_visit(void *context, const uint8_t *hash) {
    collect_t *collect = (collect_t *)context;
    if (collect->answer->n_hashes == collect->limit) {
        collect->answer->more = true;
        return false;
    }
    ProtobufCBinaryData *slot = &collect->answer->hashes[collect->answer->n_hashes++];
    slot->len = CA_SHA256_BYTES;
    slot->data = (uint8_t *)ca_reply_memdup(collect->reply, hash, CA_SHA256_BYTES);
    return true;
}

static void s_prov_derivations(ca_store_t *store, const Cairn__Request *request,
                               ca_reply_t *reply) {
    const Cairn__ProvDerivations *ask = request->prov_derivations;
    if (!ca_blob_store_hash_ok(&ask->hash, "hash", reply))
        return;
    size_t limit = ca_page_limit(ask->limit, CA_PROV_LIST_DEFAULT, CA_PROV_LIST_MAX,
                                 "derivations per answer", ask->transitive ? NULL : "after", reply);
    if (!limit || (ask->after.len && !ca_blob_store_hash_ok(&ask->after, "after", reply)))
        return;
    if (ask->after.len && ask->transitive) {
        ca_reply_error(reply, CA_INVALID,
                       "`after` pages direct derivations only; a transitive walk has no cursor: "
                       "raise limit (at most %d) instead",
                       CA_PROV_LIST_MAX);
        return;
    }
    if (!s_require_known(store, ask->hash.data, "content", reply))
        return;
    Cairn__ProvDerivationsReply *answer =
        (Cairn__ProvDerivationsReply *)ca_reply_alloc(reply, sizeof(Cairn__ProvDerivationsReply));
    cairn__prov_derivations_reply__init(answer);
    answer->hashes =
        (ProtobufCBinaryData *)ca_reply_alloc(reply, limit * sizeof(ProtobufCBinaryData));
    collect_t collect = {reply, answer, limit};
    bool ok;
    if (ask->transitive)
        ok = s_walk(store, CHILDREN_SQL, -1, ask->hash.data, s_collect_visit, &collect);
    else {
        //  Direct derivations only: one level, from `after` on.
        sqlite3_stmt *stmt = ca_store_prepare(store, CHILDREN_AFTER_SQL, reply);
        if (!stmt)
            return;
        sqlite3_bind_blob(stmt, 1, ask->hash.data, CA_SHA256_BYTES, SQLITE_STATIC);
        if (ask->after.len)
            sqlite3_bind_blob(stmt, 2, ask->after.data, CA_SHA256_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_int(stmt, 2, 0);
        int rc;
        bool going = true;
        while (going && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
            going = s_collect_visit(&collect, (const uint8_t *)sqlite3_column_blob(stmt, 0));
        ok = !going || rc == SQLITE_DONE;
        sqlite3_reset(stmt);
    }
    if (!ok) {
        ca_reply_error(reply, CA_INTERNAL, "cannot read the graph: %s; retry",
                       sqlite3_errmsg(ca_sql_handle(ca_store_sql(store))));
        return;
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_PROV_DERIVATIONS;
    response->prov_derivations = answer;
}

//  ---- ProvAncestor -------------------------------------------------------------------------

//  Whether `ancestor` (a) is an ancestor of `descendant` (b), two distinct
//  labelled nodes, b read with a's chain: on one chain, a is one when it
//  comes first; else when b's reach on a's chain is at or past a.
static bool s_reaches_by_label(const label_t *a, const label_t *b) {
    if (a->chain == b->chain)
        return a->position < b->position;
    return b->reaches && b->reach_position >= a->position;
}

static void s_prov_ancestor(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ProvAncestor *ask = request->prov_ancestor;
    label_t ancestor, descendant;
    if (!ca_blob_store_hash_ok(&ask->ancestor, "ancestor", reply) ||
        !ca_blob_store_hash_ok(&ask->descendant, "descendant", reply) ||
        !s_label(store, ask->ancestor.data, "ancestor", 0, &ancestor, reply) ||
        !s_label(store, ask->descendant.data, "descendant", ancestor.chain, &descendant, reply))
        return;
    Cairn__ProvAncestorReply *answer =
        (Cairn__ProvAncestorReply *)ca_reply_alloc(reply, sizeof(Cairn__ProvAncestorReply));
    cairn__prov_ancestor_reply__init(answer);
    answer->same = memcmp(ask->ancestor.data, ask->descendant.data, CA_SHA256_BYTES) == 0;
    if (!answer->same) {
        bool ok = true;
        answer->is_ancestor =
            ancestor.labelled && descendant.labelled
                ? s_reaches_by_label(&ancestor, &descendant)
                : s_reaches_up(store, ask->descendant.data, ask->ancestor.data, &ok);
        if (!ok) {
            ca_reply_error(reply, CA_INTERNAL, "cannot read the graph: %s; retry",
                           sqlite3_errmsg(ca_sql_handle(ca_store_sql(store))));
            return;
        }
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_PROV_ANCESTOR;
    response->prov_ancestor = answer;
}

//  ---- the store ------------------------------------------------------------------------------

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_PROV_ADD, "prov_add", s_prov_add, s_prov_added, CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_PROV_ROOTS, "prov_roots", s_prov_roots, NULL, 0},
    {CAIRN__REQUEST__BODY_PROV_DERIVATIONS, "prov_derivations", s_prov_derivations, NULL, 0},
    {CAIRN__REQUEST__BODY_PROV_ANCESTOR, "prov_ancestor", s_prov_ancestor, NULL, 0},
};

const ca_store_def_t provenance_store_def = {
    .name = "provenance",
    .schema = &provenance_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test -----------------------------------------------------------------

#include "ca_hash.h"
#include "ca_request.h"
#include "ca_testbed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

//  ---- fixtures: the graph and requests of this self-test and of
//  tests/e2e_provenance.c ------------------------------------------------------------

void provenance_fixture_node(uint64_t n, uint8_t hash[32]) {
    char name[32];
    snprintf(name, sizeof name, "node-%" PRIu64, n);
    ca_sha256(name, strlen(name), hash);
}

void provenance_fixture_add_init(provenance_fixture_add_t *t, uint64_t id, uint64_t n,
                                 const uint64_t *sources, size_t count) {
    provenance_fixture_node(n, t->hash);
    t->sources = (uint8_t(*)[32])calloc(count ? count : 1, 32);
    t->bytes = (ProtobufCBinaryData *)calloc(count ? count : 1, sizeof(ProtobufCBinaryData));
    for (size_t i = 0; i < count; i++) {
        provenance_fixture_node(sources[i], t->sources[i]);
        t->bytes[i].data = t->sources[i];
        t->bytes[i].len = 32;
    }
    ca_request_prov_add(&t->request, &t->add, id, t->hash, 32, t->bytes, count);
}

void provenance_fixture_add_done(provenance_fixture_add_t *t) {
    free(t->bytes);
    free(t->sources);
    t->bytes = NULL;
    t->sources = NULL;
}

Cairn__Response *provenance_fixture_add(ca_caller_t *caller, uint64_t n, const uint64_t *sources,
                                        size_t count) {
    provenance_fixture_add_t t;
    provenance_fixture_add_init(&t, 0, n, sources, count);
    Cairn__Response *response = ca_caller_call(caller, &t.request);
    provenance_fixture_add_done(&t);
    return response;
}

Cairn__Response *provenance_fixture_roots(ca_caller_t *caller, uint64_t n, uint32_t limit) {
    uint8_t hash[32];
    provenance_fixture_node(n, hash);
    Cairn__Request request;
    Cairn__ProvRoots roots;
    ca_request_prov_roots(&request, &roots, 0, hash, 32, limit);
    return ca_caller_call(caller, &request);
}

Cairn__Response *provenance_fixture_derivations(ca_caller_t *caller, uint64_t n, bool transitive,
                                                uint32_t limit) {
    uint8_t hash[32];
    provenance_fixture_node(n, hash);
    Cairn__Request request;
    Cairn__ProvDerivations derivations;
    ca_request_prov_derivations(&request, &derivations, 0, hash, 32, transitive, limit);
    return ca_caller_call(caller, &request);
}

Cairn__Response *provenance_fixture_ancestor(ca_caller_t *caller, uint64_t a, uint64_t b) {
    uint8_t ancestor[32], descendant[32];
    provenance_fixture_node(a, ancestor);
    provenance_fixture_node(b, descendant);
    Cairn__Request request;
    Cairn__ProvAncestor ask;
    ca_request_prov_ancestor(&request, &ask, 0, ancestor, 32, descendant, 32);
    return ca_caller_call(caller, &request);
}

//  ---- the self-test ------------------------------------------------------------------

//  Adds n derived from `sources`; checks the edges added.
static void s_add_ok(ca_caller_t *caller, uint64_t n, const uint64_t *sources, size_t count,
                     uint64_t edges_added) {
    Cairn__Response *response = ca_testbed_ok(provenance_fixture_add(caller, n, sources, count),
                                              CAIRN__RESPONSE__BODY_PROV_ADD);
    assert(response->prov_add->edges_added == edges_added && response->prov_add->roots >= 1);
    cairn__response__free_unpacked(response, NULL);
}

//  roots(n) is exactly {expected_roots[i]: weights[i]}.
static void s_roots_expect(ca_caller_t *caller, uint64_t n, const uint64_t *expected_roots,
                           const uint64_t *weights, size_t count) {
    Cairn__Response *response =
        ca_testbed_ok(provenance_fixture_roots(caller, n, 0), CAIRN__RESPONSE__BODY_PROV_ROOTS);
    const Cairn__ProvRootsReply *reply = response->prov_roots;
    assert(reply->n_roots == count && !reply->more);
    for (size_t i = 0; i < count; i++) {
        uint8_t hash[32];
        provenance_fixture_node(expected_roots[i], hash);
        bool found = false;
        for (size_t k = 0; k < reply->n_roots && !found; k++)
            if (memcmp(reply->roots[k]->hash.data, hash, 32) == 0) {
                found = true;
                assert(reply->roots[k]->weight == weights[i]);
            }
        assert(found);
    }
    cairn__response__free_unpacked(response, NULL);
}

static bool s_is_ancestor(ca_caller_t *caller, uint64_t a, uint64_t b, bool *same) {
    Cairn__Response *response = ca_testbed_ok(provenance_fixture_ancestor(caller, a, b),
                                              CAIRN__RESPONSE__BODY_PROV_ANCESTOR);
    bool is_ancestor = response->prov_ancestor->is_ancestor;
    if (same)
        *same = response->prov_ancestor->same;
    cairn__response__free_unpacked(response, NULL);
    return is_ancestor;
}

//  Originals, chains, diamonds, refusals.
static void s_test_shapes(ca_caller_t *caller) {
    ca_testbed_fails(provenance_fixture_roots(caller, 1, 0), CAIRN__STATUS__NOT_FOUND, "ProvAdd");
    s_add_ok(caller, 1, NULL, 0, 0); //  an original: its own root
    uint64_t one = 1, w1 = 1, w2 = 2;
    s_roots_expect(caller, 1, &one, &w1, 1);
    uint64_t s1[] = {1};
    s_add_ok(caller, 2, s1, 1, 1); //  2 <- 1
    s_add_ok(caller, 3, s1, 1, 1); //  3 <- 1
    uint64_t s23[] = {2, 3, 3};
    s_add_ok(caller, 4, s23, 3, 2); //  4 <- 2, 3 (a diamond; the repeat counts once)
    s_roots_expect(caller, 4, &one, &w2, 1);
    s_add_ok(caller, 4, s23, 2, 0); //  again: nothing new
    //  Unknown sources become originals.
    uint64_t s9[] = {9, 4};
    s_add_ok(caller, 5, s9, 2, 2);
    uint64_t roots5[] = {1, 9}, weights5[] = {2, 1};
    s_roots_expect(caller, 5, roots5, weights5, 2);
    s_roots_expect(caller, 9, (uint64_t[]){9}, &w1, 1);

    //  Refusals keep nothing: self-edge, cycle, sources for derived content.
    uint64_t self[] = {6};
    ca_testbed_fails(provenance_fixture_add(caller, 6, self, 1), CAIRN__STATUS__INVALID,
                     "derived from itself");
    ca_testbed_fails(provenance_fixture_roots(caller, 6, 0), CAIRN__STATUS__NOT_FOUND,
                     "not in the provenance graph");
    uint64_t closing[] = {5};
    ca_testbed_fails(provenance_fixture_add(caller, 1, closing, 1), CAIRN__STATUS__INVALID,
                     "would close a cycle");
    uint64_t other[] = {7};
    ca_testbed_fails(provenance_fixture_add(caller, 2, other, 1), CAIRN__STATUS__CONFLICT,
                     "already has derivations");
    ca_testbed_fails(provenance_fixture_roots(caller, 7, 0), CAIRN__STATUS__NOT_FOUND,
                     "not in the provenance graph");
    s_roots_expect(caller, 2, &one, &w1, 1);
    //  Content without derivations may gain sources.
    s_add_ok(caller, 5, other, 1, 1);
    uint64_t roots5b[] = {1, 7, 9}, weights5b[] = {2, 1, 1};
    s_roots_expect(caller, 5, roots5b, weights5b, 3);

    //  Derivations: direct, transitive, limited.
    Cairn__Response *response = ca_testbed_ok(provenance_fixture_derivations(caller, 1, false, 0),
                                              CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 2 && !response->prov_derivations->more);
    uint8_t first[32], second[32];
    memcpy(first, response->prov_derivations->hashes[0].data, 32);
    memcpy(second, response->prov_derivations->hashes[1].data, 32);
    assert(memcmp(first, second, 32) < 0); //  by hash
    cairn__response__free_unpacked(response, NULL);
    //  ... one a page: the cursor is the last hash of the page.
    uint8_t hub[32];
    provenance_fixture_node(1, hub);
    Cairn__Request request;
    Cairn__ProvDerivations paged;
    ca_request_prov_derivations(&request, &paged, 0, hub, 32, false, 1);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 1 && response->prov_derivations->more);
    assert(memcmp(response->prov_derivations->hashes[0].data, first, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_request_prov_derivations_after(&paged, first, 32);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 1 && !response->prov_derivations->more);
    assert(memcmp(response->prov_derivations->hashes[0].data, second, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_request_prov_derivations_after(&paged, second, 32);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 0 && !response->prov_derivations->more);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(provenance_fixture_derivations(caller, 1, true, 0),
                             CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 4); //  2, 3, 4, 5
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(provenance_fixture_derivations(caller, 1, true, 3),
                             CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 3 && response->prov_derivations->more);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(provenance_fixture_derivations(caller, 5, true, 0),
                             CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
    assert(response->prov_derivations->n_hashes == 0);
    cairn__response__free_unpacked(response, NULL);

    //  Ancestry: through originals, through the walk, false, the same hash.
    bool same = true;
    assert(s_is_ancestor(caller, 1, 5, &same) && !same);
    assert(s_is_ancestor(caller, 2, 5, NULL) && s_is_ancestor(caller, 4, 5, NULL));
    assert(!s_is_ancestor(caller, 5, 1, NULL) && !s_is_ancestor(caller, 2, 3, NULL));
    assert(!s_is_ancestor(caller, 9, 4, NULL));
    assert(!s_is_ancestor(caller, 4, 4, &same) && same);
    ca_testbed_fails(provenance_fixture_ancestor(caller, 1, 99), CAIRN__STATUS__NOT_FOUND,
                     "descendant");
    ca_testbed_fails(provenance_fixture_ancestor(caller, 99, 1), CAIRN__STATUS__NOT_FOUND,
                     "ancestor");
}

//  Stacked diamonds double the paths per level: weights saturate.
static void s_test_saturation(ca_caller_t *caller) {
    uint64_t base = 1000;
    s_add_ok(caller, base, NULL, 0, 0);
    uint64_t top = base;
    for (uint64_t level = 0; level < 70; level++) {
        uint64_t left = base + 3 * level + 1, right = left + 1, join = left + 2;
        s_add_ok(caller, left, &top, 1, 1);
        s_add_ok(caller, right, &top, 1, 1);
        uint64_t both[] = {left, right};
        s_add_ok(caller, join, both, 2, 2);
        uint64_t expected = level < 63 ? 2ULL << level : UINT64_MAX;
        if (level == 62 || level == 63 || level == 69 || level < 3)
            s_roots_expect(caller, join, &base, &expected, 1);
        top = join;
    }
}

//  Bad input: wrong sizes, too many sources, limits.
static void s_test_bad_input(ca_caller_t *caller) {
    uint8_t hash[40] = {0};
    Cairn__Request request;
    Cairn__ProvAdd add;
    ca_request_prov_add(&request, &add, 0, hash, 31, NULL, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "hash");
    ProtobufCBinaryData bad = {33, hash};
    uint8_t good[32];
    provenance_fixture_node(1, good);
    ca_request_prov_add(&request, &add, 0, good, 32, &bad, 1);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "sources[0]");
    ProtobufCBinaryData *many = calloc(CA_PROV_SOURCES_MAX + 1, sizeof(ProtobufCBinaryData));
    ca_request_prov_add(&request, &add, 0, good, 32, many, CA_PROV_SOURCES_MAX + 1);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "at most 1000");
    free(many);
    ca_testbed_fails(provenance_fixture_roots(caller, 1, CA_PROV_LIST_MAX + 1),
                     CAIRN__STATUS__INVALID, "limit");
    ca_testbed_fails(provenance_fixture_derivations(caller, 1, true, CA_PROV_LIST_MAX + 1),
                     CAIRN__STATUS__INVALID, "limit");
    Cairn__ProvAncestor ancestor;
    ca_request_prov_ancestor(&request, &ancestor, 0, good, 32, hash, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "descendant");
    Cairn__ProvDerivations derivations;
    ca_request_prov_derivations(&request, &derivations, 0, hash, 40, false, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "hash");
    ca_request_prov_derivations(&request, &derivations, 0, good, 32, false, 0);
    ca_request_prov_derivations_after(&derivations, good, 31);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "after");
    ca_request_prov_derivations(&request, &derivations, 0, good, 32, true, 0);
    ca_request_prov_derivations_after(&derivations, good, 32);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "no cursor");
}

//  A damaged reach vector (written behind the node's back) is never a
//  wrong answer: ProvAncestor walks instead, and an add that would merge
//  it fails whole.
static void s_test_damaged_reach(ca_testbed_t *bed, ca_caller_t *caller) {
    uint64_t x = 900001, y = 900002, both = 900003, z = 900004, w = 900005;
    s_add_ok(caller, x, NULL, 0, 0);
    s_add_ok(caller, y, NULL, 0, 0);
    s_add_ok(caller, both, (uint64_t[]){x, y}, 2, 2);
    s_add_ok(caller, z, &both, 1, 1);
    assert(s_is_ancestor(caller, x, z, NULL) && s_is_ancestor(caller, y, z, NULL));
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    assert(rc == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(db, "UPDATE prov_nodes SET reach = x'05' WHERE hash = ?1", -1, &stmt,
                            NULL);
    assert(rc == SQLITE_OK);
    uint8_t hash[32];
    provenance_fixture_node(z, hash);
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_DONE && sqlite3_changes(db) == 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    zstr_free(&path);
    assert(s_is_ancestor(caller, x, z, NULL) && s_is_ancestor(caller, y, z, NULL));
    assert(s_is_ancestor(caller, both, z, NULL) && !s_is_ancestor(caller, z, x, NULL));
    ca_testbed_fails(provenance_fixture_add(caller, w, &z, 1), CAIRN__STATUS__INTERNAL,
                     "malformed reach vector");
    ca_testbed_fails(provenance_fixture_roots(caller, w, 0), CAIRN__STATUS__NOT_FOUND,
                     "not in the provenance graph");
}

//  The labels and the root cache as ProvAdd must leave them, read from the
//  database behind the node (all but `skip`, damaged on purpose): every
//  node labelled, its reach vector the merge of its sources' vectors and
//  labels, its generation one past its sources', the node before it on
//  its chain one of its ancestors, and at least one root row. ProvAdd
//  writes a derived node's row, label and generation in one statement
//  from its sources', and skips the statements a source known to the
//  worker needs no more (issue 13): this checks what they leave.
static void s_check_labels(ca_testbed_t *bed, uint64_t skip) {
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    assert(rc == SQLITE_OK);
    zstr_free(&path);
    sqlite3_busy_timeout(db, 5000);
    rc = ca_sql_register(db);
    assert(rc == SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(
        db,
        "WITH src AS (SELECT e.child AS hash, s.* FROM prov_edges e"
        "  JOIN prov_nodes s ON s.hash = e.source)"
        " SELECT count(*), (SELECT count(*) FROM prov_nodes) FROM prov_nodes n WHERE n.hash <> ?1"
        " AND (n.chain IS NULL OR n.position IS NULL"
        "  OR n.reach IS NOT (SELECT cairn_reach(reach, chain, position) FROM src"
        "   WHERE src.hash = n.hash)"
        "  OR n.generation IS NOT (SELECT coalesce(max(generation) + 1, 0) FROM src"
        "   WHERE src.hash = n.hash)"
        "  OR (n.position > 0 AND coalesce(cairn_reach_at(n.reach, n.chain), -1) < n.position - 1)"
        "  OR NOT EXISTS (SELECT 1 FROM prov_roots r WHERE r.hash = n.hash))",
        -1, &stmt, NULL);
    assert(rc == SQLITE_OK);
    uint8_t hash[32];
    provenance_fixture_node(skip, hash);
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_ROW);
    assert(sqlite3_column_int64(stmt, 0) == 0 && sqlite3_column_int64(stmt, 1) > 1000);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

//  ---- the property test: random DAGs against a plain reference ------------------

#define PROP_NODES 160

typedef struct {
    size_t count[PROP_NODES];
    uint64_t sources[PROP_NODES][5];          //  up to 4, and one more for a leaf
    uint64_t weight[PROP_NODES][PROP_NODES];  //  weight[n][r]: paths from n to root r
    uint8_t ancestor[PROP_NODES][PROP_NODES]; //  ancestor[n][a]: a is an ancestor of n
} reference_t;

static uint64_t s_sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

//  Node n derived from earlier nodes: its roots and ancestors from theirs.
static void s_reference_add(reference_t *ref, uint64_t n) {
    if (ref->count[n] == 0)
        ref->weight[n][n] = 1;
    for (size_t i = 0; i < ref->count[n]; i++) {
        uint64_t s = ref->sources[n][i];
        ref->ancestor[n][s] = 1;
        for (uint64_t k = 0; k < PROP_NODES; k++) {
            ref->weight[n][k] = s_sat_add(ref->weight[n][k], ref->weight[s][k]);
            ref->ancestor[n][k] |= ref->ancestor[s][k];
        }
    }
}

static void s_property_check(ca_caller_t *caller, reference_t *ref, uint64_t offset) {
    for (uint64_t n = 0; n < PROP_NODES; n++) {
        uint64_t roots[PROP_NODES], weights[PROP_NODES];
        size_t count = 0;
        for (uint64_t r = 0; r < PROP_NODES; r++)
            if (ref->weight[n][r]) {
                roots[count] = offset + r;
                weights[count++] = ref->weight[n][r];
            }
        s_roots_expect(caller, offset + n, roots, weights, count);
        size_t descendants = 0;
        for (uint64_t d = 0; d < PROP_NODES; d++)
            descendants += ref->ancestor[d][n];
        Cairn__Response *response =
            ca_testbed_ok(provenance_fixture_derivations(caller, offset + n, true, 0),
                          CAIRN__RESPONSE__BODY_PROV_DERIVATIONS);
        assert(response->prov_derivations->n_hashes == descendants);
        for (size_t i = 0; i < response->prov_derivations->n_hashes; i++) {
            bool known = false;
            for (uint64_t d = 0; d < PROP_NODES && !known; d++) {
                uint8_t hash[32];
                provenance_fixture_node(offset + d, hash);
                known = ref->ancestor[d][n] &&
                        memcmp(hash, response->prov_derivations->hashes[i].data, 32) == 0;
            }
            assert(known);
        }
        cairn__response__free_unpacked(response, NULL);
    }
    for (int pair = 0; pair < 600; pair++) {
        uint64_t a = (uint64_t)rand() % PROP_NODES, b = (uint64_t)rand() % PROP_NODES;
        assert(s_is_ancestor(caller, offset + a, offset + b, NULL) == (ref->ancestor[b][a] != 0));
    }
}

//  A random DAG into ref->sources: node n is in strand n % strands and
//  takes up to 4 sources among the `span` nodes of its strand before it
//  (span >= PROP_NODES: any earlier node). Few strands and a short span
//  make deep chains full of diamonds.
static void s_random_dag(reference_t *ref, uint64_t strands, uint64_t span) {
    for (uint64_t n = 0; n < PROP_NODES; n++) {
        uint64_t position = n / strands, reach = position < span ? position : span;
        size_t count = n < 5 || reach == 0 ? 0 : (size_t)(rand() % 5);
        for (size_t i = 0; i < count; i++) {
            uint64_t s = n - strands * (1 + (uint64_t)rand() % reach);
            bool repeat = false;
            for (size_t k = 0; k < ref->count[n]; k++)
                repeat |= ref->sources[n][k] == s;
            if (!repeat)
                ref->sources[n][ref->count[n]++] = s;
        }
    }
}

static void s_test_property(ca_caller_t *caller, unsigned seed, uint64_t strands, uint64_t span) {
    srand(seed);
    reference_t *ref = (reference_t *)calloc(1, sizeof(reference_t));
    s_random_dag(ref, strands, span);
    uint64_t offset = 100000 + (uint64_t)seed * PROP_NODES;
    for (uint64_t n = 0; n < PROP_NODES; n++) {
        uint64_t sources[4];
        for (size_t i = 0; i < ref->count[n]; i++)
            sources[i] = offset + ref->sources[n][i];
        s_add_ok(caller, offset + n, sources, ref->count[n], ref->count[n]);
        s_reference_add(ref, n);
    }
    //  Leaves (content without derivations) gain one more source: their
    //  roots and labels are rebuilt.
    for (uint64_t n = PROP_NODES / 2; n < PROP_NODES; n++) {
        bool leaf = ref->count[n] < 5;
        for (uint64_t d = n + 1; d < PROP_NODES && leaf; d++)
            for (size_t k = 0; k < ref->count[d]; k++)
                leaf &= ref->sources[d][k] != n;
        uint64_t source = (uint64_t)rand() % n;
        for (size_t k = 0; k < ref->count[n]; k++)
            leaf &= ref->sources[n][k] != source;
        if (!leaf || rand() % 3)
            continue;
        uint64_t hash = offset + source;
        s_add_ok(caller, offset + n, &hash, 1, 1);
        ref->sources[n][ref->count[n]++] = source;
        memset(ref->weight[n], 0, sizeof ref->weight[n]);
        memset(ref->ancestor[n], 0, sizeof ref->ancestor[n]);
        s_reference_add(ref, n);
    }
    s_property_check(caller, ref, offset);
    free(ref);
}

//  Migration 3 labels the graph of an older database: a random DAG
//  written as schema version 2 left it, then migrated; every pair's answer
//  from the labels must be the reference's.
static void s_test_label_migration(unsigned seed, uint64_t strands, uint64_t span) {
    srand(seed);
    reference_t *ref = (reference_t *)calloc(1, sizeof(reference_t));
    s_random_dag(ref, strands, span);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(":memory:", &db);
    assert(rc == SQLITE_OK);
    rc = ca_reach_register(db);
    assert(rc == SQLITE_OK);
    ca_schema_t before = provenance_schema;
    before.count = 2;
    size_t from = 0, to = 0;
    char *failed = ca_schema_migrate(db, &before, &from, &to);
    assert(!failed && to == 2);
    sqlite3_stmt *node = NULL, *edge = NULL, *ask = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO prov_nodes (hash, added_at, generation) VALUES (?1, 0, ?2)",
                       -1, &node, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO prov_edges (child, source) VALUES (?1, ?2)", -1, &edge,
                       NULL);
    int64_t generation[PROP_NODES];
    for (uint64_t n = 0; n < PROP_NODES; n++) {
        uint8_t hash[32], source[32];
        provenance_fixture_node(n, hash);
        generation[n] = 0;
        for (size_t i = 0; i < ref->count[n]; i++) {
            uint64_t s = ref->sources[n][i];
            generation[n] = generation[s] + 1 > generation[n] ? generation[s] + 1 : generation[n];
            provenance_fixture_node(s, source);
            sqlite3_bind_blob(edge, 1, hash, 32, SQLITE_TRANSIENT);
            sqlite3_bind_blob(edge, 2, source, 32, SQLITE_TRANSIENT);
            rc = sqlite3_step(edge);
            assert(rc == SQLITE_DONE);
            sqlite3_reset(edge);
        }
        sqlite3_bind_blob(node, 1, hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(node, 2, generation[n]);
        rc = sqlite3_step(node);
        assert(rc == SQLITE_DONE);
        sqlite3_reset(node);
        s_reference_add(ref, n);
    }
    sqlite3_finalize(node);
    sqlite3_finalize(edge);
    failed = ca_schema_migrate(db, &provenance_schema, &from, &to);
    assert(!failed && from == 2 && to == provenance_schema.count);
    sqlite3_prepare_v2(db,
                       "SELECT CASE WHEN a.chain = d.chain THEN a.position < d.position ELSE"
                       " coalesce(cairn_reach_at(d.reach, a.chain) >= a.position, 0) END"
                       " FROM prov_nodes a, prov_nodes d WHERE a.hash = ?1 AND d.hash = ?2"
                       " AND a.chain IS NOT NULL AND d.chain IS NOT NULL",
                       -1, &ask, NULL);
    for (uint64_t a = 0; a < PROP_NODES; a++)
        for (uint64_t d = 0; d < PROP_NODES; d++) {
            uint8_t ah[32], dh[32];
            provenance_fixture_node(a, ah);
            provenance_fixture_node(d, dh);
            sqlite3_bind_blob(ask, 1, ah, 32, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ask, 2, dh, 32, SQLITE_TRANSIENT);
            rc = sqlite3_step(ask);
            assert(rc == SQLITE_ROW); //  both labelled
            assert((sqlite3_column_int(ask, 0) != 0) == (ref->ancestor[d][a] != 0));
            sqlite3_reset(ask);
        }
    sqlite3_finalize(ask);
    sqlite3_close(db);
    free(ref);
}

void provenance_test(bool verbose) {
    if (verbose)
        printf(" * provenance: ");
    ca_testbed_t *bed = ca_testbed_new(&provenance_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    s_test_shapes(caller);
    s_test_saturation(caller);
    s_test_bad_input(caller);
    s_test_damaged_reach(bed, caller);
    for (unsigned seed = 1; seed <= 3; seed++)
        s_test_property(caller, seed, 1, PROP_NODES); //  sources anywhere before
    s_test_property(caller, 4, 3, 4);                 //  three strands: deep, diamonds
    s_test_property(caller, 5, 1, 2);                 //  one deep chain of diamonds
    s_check_labels(bed, 900004);                      //  s_test_damaged_reach's damaged node
    s_test_label_migration(6, 1, PROP_NODES);
    s_test_label_migration(7, 4, 6);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

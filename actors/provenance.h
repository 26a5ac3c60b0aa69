/*  =========================================================================
    provenance - the derivation graph and its root cache; pool
    "provenance", tables of provenance_schema (requests: schemas/provenance.proto)
    ========================================================================= */

#ifndef PROVENANCE_H_INCLUDED
#define PROVENANCE_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

extern const ca_store_def_t provenance_store_def;

//  ProvAdd's edge statement (?1 child, ?2 source; an edge known already is
//  left as it is), defined once here for the store and cairn-bench.
extern const char provenance_sql_edge_insert[];

//  ProvAdd's statements (?1 the content's hash), for the store and for
//  cairn-bench's baseline doing the same job in plain SQLite.
typedef enum {
    PROV_SQL_GUARD,        //  a row when ?1 has derivations
    PROV_SQL_NODE,         //  ?1 as a node (?2 added_at), if new
    PROV_SQL_SOURCE_NODE,  //  ?1 as a node at the head of a new chain, if new
    PROV_SQL_SOURCE_ROOT,  //  ?1 as its own root, if it has no sources
    PROV_SQL_EDGES,        //  edges ?1 <- each 32-byte hash packed in ?2
    PROV_SQL_LABEL_NEW,    //  ?1 at the head of a new chain, if unlabelled
    PROV_SQL_DERIVED,      //  ?1 as a node (?2 added_at) labelled from its sources
    PROV_SQL_ROOTS_CAP,    //  a row when ?1's sources have more than ?2 roots
    PROV_SQL_ROOTS_DELETE, //  ?1's root rows removed
    PROV_SQL_ROOTS_INSERT, //  ?1's root rows from its sources' (itself without):
                           //  its changes are ?1's roots
    PROV_SQL_COUNT
} provenance_sql_t;
extern const char *const provenance_sql_add[PROV_SQL_COUNT];

void provenance_test(bool verbose);

//  ---- fixtures: the test graph and requests of the self-test and of
//  tests/e2e_provenance.c, sent through `caller` (a testbed or a node); a
//  returned response is the caller's to free.

//  Node n of a test graph: the hash of its name ("node-N").
void provenance_fixture_node(uint64_t n, uint8_t hash[32]);

//  A ProvAdd request (id `id`) of node n derived from `sources`, with its
//  own storage, for a test that sends it itself (e.g. pipelined).
typedef struct {
    Cairn__Request request;
    Cairn__ProvAdd add;
    uint8_t hash[32];
    uint8_t (*sources)[32];
    ProtobufCBinaryData *bytes;
} provenance_fixture_add_t;
void provenance_fixture_add_init(provenance_fixture_add_t *t, uint64_t id, uint64_t n,
                                 const uint64_t *sources, size_t count);
//  Frees what provenance_fixture_add_init allocated.
void provenance_fixture_add_done(provenance_fixture_add_t *t);

Cairn__Response *provenance_fixture_add(ca_caller_t *caller, uint64_t n, const uint64_t *sources,
                                        size_t count);
Cairn__Response *provenance_fixture_roots(ca_caller_t *caller, uint64_t n, uint32_t limit);
Cairn__Response *provenance_fixture_derivations(ca_caller_t *caller, uint64_t n, bool transitive,
                                                uint32_t limit);
Cairn__Response *provenance_fixture_ancestor(ca_caller_t *caller, uint64_t a, uint64_t b);

#endif

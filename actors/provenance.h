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

/*  =========================================================================
    provenance - the derivation graph and its root cache; pool
    "provenance", tables of provenance_schema (requests: schemas/provenance.proto)
    ========================================================================= */

#ifndef PROVENANCE_H_INCLUDED
#define PROVENANCE_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t provenance_store_def;

//  ProvAdd's edge statement (?1 child, ?2 source; an edge known already is
//  left as it is), defined once here for the store and cairn-bench.
extern const char provenance_sql_edge_insert[];

void provenance_test(bool verbose);

#endif

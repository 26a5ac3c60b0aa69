/*  =========================================================================
    provenance - the derivation graph and its root cache; pool
    "provenance", tables of prov_schema (requests: schemas/provenance.proto)
    ========================================================================= */

#ifndef PROVENANCE_H_INCLUDED
#define PROVENANCE_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t provenance_store_def;

void provenance_test(bool verbose);

#endif

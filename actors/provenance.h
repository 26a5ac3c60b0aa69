/*  =========================================================================
    provenance - the derivation graph and its root cache (ProvAdd,
    ProvRoots, ProvDerivations, ProvAncestor); pool "provenance", tables of
    provenance_schema
    ========================================================================= */

#ifndef PROVENANCE_H_INCLUDED
#define PROVENANCE_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t provenance_store_def;

void provenance_test(bool verbose);

#endif

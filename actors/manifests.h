/*  =========================================================================
    manifests - what each piece of content is: manifests (metadata, tags,
    access lists, versions) and L1 summaries; pool "manifests", tables of
    provenance_schema (requests: schemas/manifests.proto)
    ========================================================================= */

#ifndef MANIFESTS_H_INCLUDED
#define MANIFESTS_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t manifests_store_def;

void manifests_test(bool verbose);

#endif

/*  =========================================================================
    provenance_schema - the tables of manifests, summaries and the provenance
    graph, shared by the `manifests` and `provenance` pools (migrated once
    under the name "provenance"): a root in the graph answers with the
    owner and visibility of its manifest
    ========================================================================= */

#ifndef PROVENANCE_SCHEMA_H_INCLUDED
#define PROVENANCE_SCHEMA_H_INCLUDED

#include "ca_sql.h"

extern const ca_schema_t provenance_schema;

#endif

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

//  The reachability labels (see "Reachability" in actors/provenance.c),
//  written once for ProvAdd (V = "?1") and for migration 3's trigger,
//  which labels the rows of older databases (V = "NEW.hash"). Both need
//  the cairn_reach functions (actors/common/ca_reach.h).
//
//  PROV_REACH_SQL(V): V's reach vector, the chain-wise maximum of its
//  sources' vectors and labels (cairn_reach), its label cleared for
//  PROV_LABEL_SQL.
#define PROV_REACH_SQL(V)                                                                          \
    "UPDATE prov_nodes SET chain = NULL, position = NULL, reach ="                                 \
    " (SELECT cairn_reach(s.reach, s.chain, s.position) FROM prov_edges e"                         \
    "  JOIN prov_nodes s ON s.hash = e.source WHERE e.child = " V ") WHERE hash = " V
//  V goes at the end of the longest chain whose last node is an ancestor
//  of V (one its reach vector names), else at the head of a new chain.
#define PROV_LABEL_SQL(V)                                                                          \
    "UPDATE prov_nodes SET (chain, position) = (SELECT c, p + 1 FROM ("                            \
    "  SELECT r.chain AS c, r.position AS p FROM prov_nodes v, cairn_reach_each(v.reach) r"        \
    "  WHERE v.hash = " V ")"                                                                      \
    " WHERE NOT EXISTS (SELECT 1 FROM prov_nodes x WHERE x.chain = c AND x.position = p + 1)"      \
    " UNION ALL SELECT (SELECT coalesce(max(chain), 0) + 1 FROM prov_nodes), 0"                    \
    " ORDER BY 2 DESC LIMIT 1) WHERE hash = " V

#endif

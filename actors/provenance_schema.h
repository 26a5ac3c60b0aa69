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
//  which labels the rows of older databases (V = "NEW.hash").
//
//  PROV_REACH_OF(V): the merged reach of V from its sources, one row
//  (rc, rp) per chain: the highest position on chain rc of an ancestor.
#define PROV_REACH_OF(V)                                                                           \
    "(SELECT rc, max(rp) AS rp FROM ("                                                             \
    "  SELECT r.reach_chain AS rc, r.reach_position AS rp FROM prov_edges e"                       \
    "   JOIN prov_nodes s ON s.hash = e.source"                                                    \
    "   JOIN prov_reach r ON r.chain = s.chain AND r.position = s.position"                        \
    "   WHERE e.child = " V " UNION ALL SELECT s.chain, s.position FROM prov_edges e"              \
    "   JOIN prov_nodes s ON s.hash = e.source WHERE e.child = " V ") GROUP BY rc)"
//  V goes at the end of the longest chain whose last node is an ancestor
//  of V, else at the head of a new chain. The candidates are V's sources
//  and the nodes its highest-generation source reaches (reading one
//  source's reach rows, not merging all of them: nearly as few chains at
//  a third of the cost). V's label must be NULL before.
#define PROV_LABEL_SQL(V)                                                                          \
    "UPDATE prov_nodes SET (chain, position) = (SELECT c, p + 1 FROM ("                            \
    "  SELECT s.chain AS c, s.position AS p FROM prov_edges e"                                     \
    "   JOIN prov_nodes s ON s.hash = e.source WHERE e.child = " V                                 \
    "  UNION ALL SELECT r.reach_chain, r.reach_position FROM (SELECT s.chain, s.position"          \
    "   FROM prov_edges e JOIN prov_nodes s ON s.hash = e.source WHERE e.child = " V               \
    "   ORDER BY s.generation DESC LIMIT 1) t"                                                     \
    "   JOIN prov_reach r ON r.chain = t.chain AND r.position = t.position)"                       \
    " WHERE NOT EXISTS (SELECT 1 FROM prov_nodes x WHERE x.chain = c AND x.position = p + 1)"      \
    " UNION ALL SELECT (SELECT coalesce(max(chain), 0) + 1 FROM prov_nodes), 0"                    \
    " ORDER BY 2 DESC LIMIT 1) WHERE hash = " V
//  V's reach rows (its own chain is implicit: the positions before its own).
#define PROV_REACH_SQL(V)                                                                          \
    "INSERT INTO prov_reach (chain, position, reach_chain, reach_position)"                        \
    " SELECT v.chain, v.position, m.rc, m.rp FROM prov_nodes v, " PROV_REACH_OF(                   \
        V) " m WHERE v.hash = " V " AND m.rc <> v.chain"

#endif

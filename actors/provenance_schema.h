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

//  PROV_DERIVED_SQL: ?1 (added at ?2) as a node, or the node it is,
//  labelled from its sources (edges in place): what PROV_REACH_SQL then
//  PROV_LABEL_SQL do, plus its generation, in the statement that writes
//  the row (ProvAdd's, issue 13: an add paid per statement, and a row
//  inserted unlabelled then labelled wrote its index entry twice). The
//  node's own old label does not count as taken, as the two statements'
//  cleared label does not. The candidates are tried highest position
//  first and the first free one is taken (the same choice as
//  PROV_LABEL_SQL's, which probes every chain reached).
#define PROV_DERIVED_SQL                                                                           \
    "WITH m AS (SELECT cairn_reach(s.reach, s.chain, s.position) AS reach,"                        \
    "   coalesce(max(s.generation) + 1, 0) AS generation"                                          \
    "   FROM prov_edges e JOIN prov_nodes s ON s.hash = e.source WHERE e.child = ?1),"             \
    " k AS MATERIALIZED (SELECT r.chain AS c, r.position + 1 AS p"                                 \
    "   FROM m, cairn_reach_each(m.reach) r ORDER BY p DESC),"                                     \
    " l AS (SELECT c, p FROM k"                                                                    \
    "   WHERE NOT EXISTS (SELECT 1 FROM prov_nodes x WHERE x.chain = c"                            \
    "    AND x.position = p AND x.hash <> ?1)"                                                     \
    "  UNION ALL SELECT (SELECT coalesce(max(chain), 0) + 1 FROM prov_nodes), 0"                   \
    "  LIMIT 1)"                                                                                   \
    " INSERT INTO prov_nodes (hash, added_at, reach, generation, chain, position)"                 \
    " SELECT ?1, ?2, m.reach, m.generation, l.c, l.p FROM m, l WHERE true"                         \
    " ON CONFLICT (hash) DO UPDATE SET reach = excluded.reach,"                                    \
    "  generation = excluded.generation, chain = excluded.chain, position = excluded.position"

#endif

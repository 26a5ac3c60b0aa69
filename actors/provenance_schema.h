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

//  PROV_RELABEL_SQL: what PROV_REACH_SQL then PROV_LABEL_SQL do for ?1,
//  plus its generation, in one statement (ProvAdd's, issue 13: an add
//  paid per statement). The node's own old label does not count as taken,
//  as the two statements' cleared label does not.
#define PROV_RELABEL_SQL                                                                           \
    "UPDATE prov_nodes SET (reach, generation, chain, position) = ("                               \
    " WITH m AS (SELECT cairn_reach(s.reach, s.chain, s.position) AS reach,"                       \
    "   coalesce(max(s.generation) + 1, 0) AS generation"                                          \
    "   FROM prov_edges e JOIN prov_nodes s ON s.hash = e.source WHERE e.child = ?1),"             \
    " l AS (SELECT r.chain AS c, r.position + 1 AS p FROM m, cairn_reach_each(m.reach) r"          \
    "   WHERE NOT EXISTS (SELECT 1 FROM prov_nodes x WHERE x.chain = r.chain"                      \
    "    AND x.position = r.position + 1 AND x.hash <> ?1)"                                        \
    "  UNION ALL SELECT (SELECT coalesce(max(chain), 0) + 1 FROM prov_nodes), 0"                   \
    "  ORDER BY 2 DESC LIMIT 1)"                                                                   \
    " SELECT m.reach, m.generation, l.c, l.p FROM m, l) WHERE hash = ?1"

#endif

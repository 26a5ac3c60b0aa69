/*  =========================================================================
    ca_reach - packed reach vectors: what a provenance node reaches of each
    chain of the graph's chain decomposition, as one BLOB (see
    "Reachability" in actors/provenance.c)

    Format: (chain, position) pairs, chains strictly ascending, each pair
    two unsigned LEB128 varints: the chain as its difference from the
    previous pair's chain (the first: from 0), then the position. ~3-4
    bytes a pair; an empty vector is NULL (or a zero-length BLOB).

    SQL, registered on every connection by ca_sql_open (and by
    ca_reach_register for raw connections):
    - cairn_reach(reach, chain, position): aggregate, the chain-wise
      maximum of the rows' vectors and (chain, position) pairs (either may
      be NULL); NULL when empty. A malformed vector is an error.
    - cairn_reach_at(reach, chain): the position reached on `chain`, or NULL.
    - cairn_reach_each(reach): table-valued, one row (chain, position) per
      pair; a malformed vector is an error.
    ========================================================================= */

#ifndef CA_REACH_H_INCLUDED
#define CA_REACH_H_INCLUDED

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The position `reach` (size bytes) holds for `chain`: true and
//  *position when it has one, false when not or when the vector is
//  malformed (then *malformed is set, when given).
bool ca_reach_find(const void *reach, size_t size, int64_t chain, int64_t *position,
                   bool *malformed);

//  Registers the SQL functions above on `db`; SQLITE_OK or an error code.
int ca_reach_register(sqlite3 *db);

void ca_reach_test(bool verbose);

#endif

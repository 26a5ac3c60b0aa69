/*  =========================================================================
    ca_hashset - a set of 32-byte hashes that remembers insertion order

    For graph walks: the entries, in the order they were added, double as
    the breadth-first queue, and the set answers "seen?" in O(1). Memory:
    32 bytes per entry plus an index of 4-byte slots kept at most half
    full (about 48 bytes per hash). Not shared between threads.
    ========================================================================= */

#ifndef CA_HASHSET_H_INCLUDED
#define CA_HASHSET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ca_hashset_t ca_hashset_t;

//  A new set, or NULL when memory ran out.
ca_hashset_t *ca_hashset_new(void);
void ca_hashset_destroy(ca_hashset_t **self_p);

//  Adds a 32-byte hash; true when it was not there yet. False as well when
//  memory ran out: the hash is not added and ca_hashset_failed says so.
bool ca_hashset_add(ca_hashset_t *self, const uint8_t *hash);

//  Whether an add failed for want of memory (the set misses that hash).
bool ca_hashset_failed(ca_hashset_t *self);

bool ca_hashset_has(ca_hashset_t *self, const uint8_t *hash);

size_t ca_hashset_size(ca_hashset_t *self);

//  The index-th hash added (index < size). Valid until the next add.
const uint8_t *ca_hashset_at(ca_hashset_t *self, size_t index);

void ca_hashset_test(bool verbose);

#endif

/*  =========================================================================
    ca_hashset - a set of 32-byte hashes that remembers insertion order

    Open addressing with linear probing over slots holding entry index + 1
    (0 = empty); the table doubles when half full. Hashes are already
    uniformly distributed, so their first 8 bytes are the slot hash.
    ========================================================================= */

#include "ca_hashset.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BYTES    32
#define INITIAL_SLOTS 64

struct _ca_hashset_t {
    uint8_t (*entries)[HASH_BYTES];
    size_t size;
    size_t capacity; //  entries allocated
    uint32_t *slots;
    size_t slot_count; //  a power of two
    bool failed;       //  an add ran out of memory
};

ca_hashset_t *ca_hashset_new(void) {
    ca_hashset_t *self = (ca_hashset_t *)calloc(1, sizeof(ca_hashset_t));
    if (!self)
        return NULL;
    self->slot_count = INITIAL_SLOTS;
    self->slots = (uint32_t *)calloc(self->slot_count, sizeof(uint32_t));
    if (!self->slots)
        ca_hashset_destroy(&self);
    return self;
}

void ca_hashset_destroy(ca_hashset_t **self_p) {
    ca_hashset_t *self = *self_p;
    if (!self)
        return;
    free(self->entries);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static size_t s_home(const ca_hashset_t *self, const uint8_t *hash) {
    uint64_t key;
    memcpy(&key, hash, sizeof key);
    key ^= key >> 29; //  test inputs are not always uniform
    key *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(key >> 32) & (self->slot_count - 1);
}

//  The slot holding `hash`, or the empty slot where it would go.
static size_t s_find(const ca_hashset_t *self, const uint8_t *hash) {
    size_t slot = s_home(self, hash);
    while (self->slots[slot] && memcmp(self->entries[self->slots[slot] - 1], hash, HASH_BYTES) != 0)
        slot = (slot + 1) & (self->slot_count - 1);
    return slot;
}

//  False when memory ran out (the old index stays).
static bool s_grow_slots(ca_hashset_t *self) {
    uint32_t *slots = (uint32_t *)calloc(self->slot_count * 2, sizeof(uint32_t));
    if (!slots)
        return false;
    free(self->slots);
    self->slots = slots;
    self->slot_count *= 2;
    for (size_t i = 0; i < self->size; i++)
        self->slots[s_find(self, self->entries[i])] = (uint32_t)(i + 1);
    return true;
}

bool ca_hashset_add(ca_hashset_t *self, const uint8_t *hash) {
    size_t slot = s_find(self, hash);
    if (self->slots[slot])
        return false;
    //  Room first: the index must stay at most half full after the add.
    bool room = self->size < UINT32_MAX - 1 &&
                (2 * (self->size + 1) <= self->slot_count || s_grow_slots(self));
    if (room && self->size == self->capacity) {
        size_t capacity = self->capacity ? 2 * self->capacity : INITIAL_SLOTS / 2;
        void *entries = realloc(self->entries, capacity * HASH_BYTES);
        room = entries != NULL;
        if (room) {
            self->entries = entries;
            self->capacity = capacity;
        }
    }
    if (!room) {
        self->failed = true;
        return false;
    }
    slot = s_find(self, hash); //  the index may have grown
    memcpy(self->entries[self->size++], hash, HASH_BYTES);
    self->slots[slot] = (uint32_t)self->size;
    return true;
}

bool ca_hashset_failed(ca_hashset_t *self) {
    return self->failed;
}

bool ca_hashset_has(ca_hashset_t *self, const uint8_t *hash) {
    return self->slots[s_find(self, hash)] != 0;
}

size_t ca_hashset_size(ca_hashset_t *self) {
    return self->size;
}

const uint8_t *ca_hashset_at(ca_hashset_t *self, size_t index) {
    assert(index < self->size);
    return self->entries[index];
}

void ca_hashset_test(bool verbose) {
    if (verbose)
        printf(" * ca_hashset: ");
    ca_hashset_t *set = ca_hashset_new();
    uint8_t hash[HASH_BYTES] = {0};
    //  Keys that differ only past the first 8 bytes all collide at home.
    for (uint32_t i = 0; i < 10000; i++) {
        memcpy(hash + (i % 2 ? 0 : 24), &i, sizeof i);
        assert(ca_hashset_add(set, hash));
        assert(!ca_hashset_add(set, hash));
        memset(hash, 0, sizeof hash);
    }
    assert(ca_hashset_size(set) == 10000);
    for (uint32_t i = 0; i < 10000; i++) {
        memcpy(hash + (i % 2 ? 0 : 24), &i, sizeof i);
        assert(ca_hashset_has(set, hash));
        assert(memcmp(ca_hashset_at(set, i), hash, HASH_BYTES) == 0); //  insertion order
        memset(hash, 0, sizeof hash);
    }
    memset(hash, 0xff, sizeof hash);
    assert(!ca_hashset_has(set, hash));
    ca_hashset_destroy(&set);
    ca_hashset_destroy(&set);
    if (verbose)
        printf("OK\n");
}

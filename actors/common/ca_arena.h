/*  =========================================================================
    ca_arena - a bump allocator for the messages an actor decodes per turn

    The writer and the store workers decode a protobuf message for every
    request and free it a moment later; with malloc that is a dozen small
    allocations and frees per request, which the profile of pipelined
    writes showed costing the writer twice its SQLite work. An arena hands
    out memory from a few large chunks and takes it all back at once with
    ca_arena_reset, at the end of the turn that used it.

    Use it through ca_arena_allocator() as protobuf-c's allocator: unpack
    with it, then skip free_unpacked (freeing is a no-op) and reset the
    arena when nothing decoded in it is used any more. One arena belongs to
    one actor (no locking). Reset keeps the first chunk and frees the
    others, so a turn that decoded a large message does not keep its
    memory.
    ========================================================================= */

#ifndef CA_ARENA_H_INCLUDED
#define CA_ARENA_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _ca_arena_t ca_arena_t;

//  An arena whose chunks are `chunk_size` bytes (larger requests get a
//  chunk of their own).
ca_arena_t *ca_arena_new(size_t chunk_size);
void ca_arena_destroy(ca_arena_t **self_p);

//  `size` bytes aligned for any type, or NULL when memory ran out.
void *ca_arena_alloc(ca_arena_t *self, size_t size);

//  Takes back everything allocated since the last reset.
void ca_arena_reset(ca_arena_t *self);

//  Bytes handed out since the last reset (for tests and logs).
size_t ca_arena_used(ca_arena_t *self);

//  protobuf-c's allocator over this arena (valid while the arena lives).
ProtobufCAllocator *ca_arena_allocator(ca_arena_t *self);

void ca_arena_test(bool verbose);

#endif

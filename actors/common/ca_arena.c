/*  =========================================================================
    ca_arena - a bump allocator for the messages an actor decodes per turn

    Chunks form a list, newest first; allocation bumps an offset in the
    newest chunk, or starts a new chunk (of chunk_size, or of the request's
    own size when it is larger than a quarter chunk, so one large bytes
    field does not waste the rest of a chunk). Reset frees every chunk but
    the first one made, and rewinds that one.
    ========================================================================= */

#include "ca_arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CA_ARENA_ALIGN 16

//  Under AddressSanitizer the free room of a chunk is poisoned and each
//  allocation unpoisoned to its exact size, so a write past a block is
//  caught as with malloc (a chunk is one malloc block to ASan otherwise).
#if defined(__has_feature)
#    if __has_feature(address_sanitizer)
#        define CA_ARENA_ASAN 1
#    endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#    define CA_ARENA_ASAN 1
#endif
#ifdef CA_ARENA_ASAN
#    include <sanitizer/asan_interface.h>
#    define POISON(at, size)   ASAN_POISON_MEMORY_REGION((at), (size))
#    define UNPOISON(at, size) ASAN_UNPOISON_MEMORY_REGION((at), (size))
#else
#    define POISON(at, size)   ((void)(at), (void)(size))
#    define UNPOISON(at, size) ((void)(at), (void)(size))
#endif

typedef struct chunk_t {
    struct chunk_t *next; //  older chunk
    size_t size;          //  usable bytes after the header
    size_t used;
} chunk_t;

struct _ca_arena_t {
    chunk_t *chunks; //  newest first; the last one is kept by reset
    size_t chunk_size;
    size_t used; //  bytes handed out since reset
    ProtobufCAllocator allocator;
};

//  The header rounded up so that chunk data starts aligned.
#define CHUNK_HEADER ((sizeof(chunk_t) + CA_ARENA_ALIGN - 1) & ~(size_t)(CA_ARENA_ALIGN - 1))

static void *s_protobuf_alloc(void *data, size_t size) {
    return ca_arena_alloc((ca_arena_t *)data, size);
}

static void s_protobuf_free(void *data, void *pointer) {
    (void)data;
    (void)pointer; //  taken back by ca_arena_reset
}

ca_arena_t *ca_arena_new(size_t chunk_size) {
    ca_arena_t *self = (ca_arena_t *)calloc(1, sizeof(ca_arena_t));
    if (!self)
        return NULL;
    self->chunk_size = chunk_size < 1024 ? 1024 : chunk_size;
    self->allocator.alloc = s_protobuf_alloc;
    self->allocator.free = s_protobuf_free;
    self->allocator.allocator_data = self;
    return self;
}

void ca_arena_destroy(ca_arena_t **self_p) {
    ca_arena_t *self = *self_p;
    if (!self)
        return;
    while (self->chunks) {
        chunk_t *next = self->chunks->next;
        UNPOISON((uint8_t *)self->chunks + CHUNK_HEADER, self->chunks->size);
        free(self->chunks);
        self->chunks = next;
    }
    free(self);
    *self_p = NULL;
}

//  A new chunk for at least `size` bytes, linked after the newest one when
//  it is a large request's own (so the newest chunk keeps its free room).
static chunk_t *s_chunk_new(ca_arena_t *self, size_t size) {
    size_t usable = size > self->chunk_size / 4 ? size : self->chunk_size;
    if (usable > SIZE_MAX - CHUNK_HEADER)
        return NULL;
    chunk_t *chunk = (chunk_t *)malloc(CHUNK_HEADER + usable);
    if (!chunk)
        return NULL;
    chunk->size = usable;
    chunk->used = 0;
    POISON((uint8_t *)chunk + CHUNK_HEADER, usable);
    if (usable != self->chunk_size && self->chunks) {
        chunk->next = self->chunks->next;
        self->chunks->next = chunk;
    } else {
        chunk->next = self->chunks;
        self->chunks = chunk;
    }
    return chunk;
}

void *ca_arena_alloc(ca_arena_t *self, size_t size) {
    size_t rounded = (size + CA_ARENA_ALIGN - 1) & ~(size_t)(CA_ARENA_ALIGN - 1);
    if (rounded < size)
        return NULL;
    chunk_t *chunk = self->chunks;
    if (!chunk || chunk->size - chunk->used < rounded) {
        chunk = s_chunk_new(self, rounded);
        if (!chunk)
            return NULL;
    }
    void *pointer = (uint8_t *)chunk + CHUNK_HEADER + chunk->used;
    UNPOISON(pointer, size);
    chunk->used += rounded;
    self->used += rounded;
    return pointer;
}

void ca_arena_reset(ca_arena_t *self) {
    //  Keep the oldest chunk of the standard size; free the rest.
    chunk_t *keep = NULL;
    for (chunk_t *chunk = self->chunks; chunk; chunk = chunk->next)
        if (chunk->size == self->chunk_size)
            keep = chunk;
    chunk_t *chunk = self->chunks;
    while (chunk) {
        chunk_t *next = chunk->next;
        if (chunk != keep) {
            UNPOISON((uint8_t *)chunk + CHUNK_HEADER, chunk->size);
            free(chunk);
        }
        chunk = next;
    }
    self->chunks = keep;
    if (keep) {
        POISON((uint8_t *)keep + CHUNK_HEADER, keep->size);
        keep->used = 0;
        keep->next = NULL;
    }
    self->used = 0;
}

size_t ca_arena_used(ca_arena_t *self) {
    return self->used;
}

ProtobufCAllocator *ca_arena_allocator(ca_arena_t *self) {
    return &self->allocator;
}

//  ---- self-test ---------------------------------------------------------------------

void ca_arena_test(bool verbose) {
    if (verbose)
        printf(" * ca_arena: ");
    ca_arena_t *arena = ca_arena_new(4096);
    assert(arena);
    //  Aligned, distinct, writable.
    uint8_t *a = (uint8_t *)ca_arena_alloc(arena, 1);
    uint8_t *b = (uint8_t *)ca_arena_alloc(arena, 3);
    assert(a && b && a != b);
    assert(((uintptr_t)a % CA_ARENA_ALIGN) == 0 && ((uintptr_t)b % CA_ARENA_ALIGN) == 0);
    memset(a, 1, 1);
    memset(b, 2, 3);
    assert(ca_arena_used(arena) == 32);
    //  A large request gets its own chunk; small ones go on in the current.
    uint8_t *big = (uint8_t *)ca_arena_alloc(arena, 100000);
    assert(big);
    memset(big, 3, 100000);
    uint8_t *c = (uint8_t *)ca_arena_alloc(arena, 16);
    assert(c == b + 16);
    //  Many small ones span chunks.
    for (int i = 0; i < 1000; i++) {
        uint8_t *p = (uint8_t *)ca_arena_alloc(arena, 40);
        assert(p);
        memset(p, 4, 40);
    }
    assert(a[0] == 1 && b[2] == 2 && big[99999] == 3);
    //  Reset: everything back, the first chunk reused.
    ca_arena_reset(arena);
    assert(ca_arena_used(arena) == 0);
    uint8_t *again = (uint8_t *)ca_arena_alloc(arena, 8);
    assert(again == a);
    //  Overflowing sizes are refused.
    assert(ca_arena_alloc(arena, SIZE_MAX - 3) == NULL);
    //  As protobuf-c's allocator.
    ProtobufCAllocator *allocator = ca_arena_allocator(arena);
    void *p = allocator->alloc(allocator->allocator_data, 24);
    assert(p);
    allocator->free(allocator->allocator_data, p);
    //  Reset after a large-only turn keeps nothing oversized.
    ca_arena_reset(arena);
    ca_arena_t *fresh = ca_arena_new(4096);
    assert(ca_arena_alloc(fresh, 50000));
    ca_arena_reset(fresh);
    assert(ca_arena_alloc(fresh, 8));
    ca_arena_destroy(&fresh);
    ca_arena_destroy(&arena);
    ca_arena_destroy(&arena); //  safe twice
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    gateway_bytes - bytes of large requests in flight per store pool

    Why: a pool's queue was bounded by a count of requests (queue_max, the
    high-water mark of its sockets), and a count bounds memory only as
    count x the largest frame. For the content and cache pools, whose
    frames may be 64 MiB, that forced a count of 16 per worker, so 4 KiB
    puts and gets queued 16 deep: the writer committed ~8 puts at a time
    and one client could not keep two workers busy. Now the two bounds are
    apart (bench/RESULTS.md "Issue 13: content and cache"):

        request frame              bounded by
        <= CA_QUEUE_SMALL_BYTES    the pool's queue_max (count) alone:
                                   queue_max x 64 KiB per worker
        larger                     also its bytes: admitted while the
                                   pool's large requests in flight plus
                                   this one are within workers x
                                   queue_bytes, or when none is in flight
                                   (a frame larger than the budget still
                                   passes, alone)

    so a flood of large puts is answered BUSY while small requests, of that
    client or another, keep flowing up to the count.

    How an answer finds its request's size without a table of every
    request: only large requests are recorded, in one open-addressing hash
    table keyed by (pool, client routing id, request id), reduced to 64
    bits; an answer is matched by the request id at the head of its
    Response and the client id it goes back to. Two requests with the same
    key (a client reusing an id, or a hash collision) are a multiset: each
    answer removes one of them, so the sum comes right once both are
    answered. An answer that matches nothing (a worker answering with
    another id) removes nothing; and whenever a pool has no request in
    flight its ledger is emptied, so no leftover can hold bytes for good.
    ========================================================================= */

#include "gateway_bytes.h"
#include "ca_limits.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN 64 //  slots at first; grows at half full

typedef struct {
    uint64_t key; //  0: free slot
    int64_t size;
    size_t pool;
} slot_t;

typedef struct {
    int64_t budget;
    int64_t bytes;
    size_t entries;
} pool_bytes_t;

struct _gateway_bytes_t {
    pool_bytes_t *pools;
    size_t pool_count;
    slot_t *slots;
    size_t capacity; //  a power of two
    size_t used;
};

gateway_bytes_t *gateway_bytes_new(size_t pool_count, const int64_t *budget) {
    gateway_bytes_t *self = (gateway_bytes_t *)zmalloc(sizeof(gateway_bytes_t));
    self->pools = (pool_bytes_t *)zmalloc((pool_count ? pool_count : 1) * sizeof(pool_bytes_t));
    self->pool_count = pool_count;
    for (size_t i = 0; i < pool_count; i++)
        self->pools[i].budget = budget[i];
    self->capacity = TABLE_MIN;
    self->slots = (slot_t *)zmalloc(self->capacity * sizeof(slot_t));
    return self;
}

void gateway_bytes_destroy(gateway_bytes_t **self_p) {
    gateway_bytes_t *self = *self_p;
    if (!self)
        return;
    free(self->slots);
    free(self->pools);
    free(self);
    *self_p = NULL;
}

//  FNV-1a over the pool, the client id and the request id, never 0.
static uint64_t s_key(size_t pool, zframe_t *client_id, uint64_t id) {
    uint64_t hash = 14695981039346656037ULL;
    const uint8_t *at = zframe_data(client_id);
    for (size_t i = 0; i < zframe_size(client_id); i++)
        hash = (hash ^ at[i]) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        hash = (hash ^ ((id >> (8 * i)) & 0xff)) * 1099511628211ULL;
    hash = (hash ^ (uint64_t)pool) * 1099511628211ULL;
    return hash ? hash : 1;
}

static size_t s_home(const gateway_bytes_t *self, uint64_t key) {
    return (size_t)(key ^ (key >> 29)) & (self->capacity - 1);
}

static void s_put(gateway_bytes_t *self, const slot_t *entry) {
    size_t at = s_home(self, entry->key);
    while (self->slots[at].key)
        at = (at + 1) & (self->capacity - 1);
    self->slots[at] = *entry;
    self->used++;
}

//  Rebuilds the table with `capacity` slots, leaving out the entries of
//  pool `drop` (pool_count: none); false (nothing changed) when memory is
//  short.
static bool s_rebuild(gateway_bytes_t *self, size_t capacity, size_t drop) {
    slot_t *old = self->slots;
    size_t old_capacity = self->capacity;
    slot_t *slots = (slot_t *)calloc(capacity, sizeof(slot_t));
    if (!slots)
        return false;
    self->slots = slots;
    self->capacity = capacity;
    self->used = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key && old[i].pool != drop)
            s_put(self, &old[i]);
    free(old);
    return true;
}

//  Removes one entry of `key`: its size, or -1 when there is none. Linear
//  probing with backward shift, so no tombstones.
static int64_t s_take(gateway_bytes_t *self, uint64_t key, size_t pool) {
    size_t mask = self->capacity - 1;
    size_t at = s_home(self, key);
    while (self->slots[at].key && (self->slots[at].key != key || self->slots[at].pool != pool))
        at = (at + 1) & mask;
    if (!self->slots[at].key)
        return -1;
    int64_t size = self->slots[at].size;
    size_t hole = at;
    for (size_t next = (hole + 1) & mask; self->slots[next].key; next = (next + 1) & mask) {
        size_t home = s_home(self, self->slots[next].key);
        //  The entry at `next` may fill the hole unless its home lies
        //  cyclically in (hole, next].
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            self->slots[hole] = self->slots[next];
            hole = next;
        }
    }
    memset(&self->slots[hole], 0, sizeof(slot_t));
    self->used--;
    return size;
}

bool gateway_bytes_admit(gateway_bytes_t *self, size_t pool, zframe_t *client_id, uint64_t id,
                         size_t size, char *message, size_t message_size) {
    if (size <= CA_QUEUE_SMALL_BYTES || pool >= self->pool_count)
        return true;
    pool_bytes_t *bytes = &self->pools[pool];
    if (bytes->entries > 0 && bytes->bytes + (int64_t)size > bytes->budget) {
        snprintf(message, message_size,
                 "this store holds %" PRId64 " bytes of large requests (over %d bytes each), its "
                 "budget is %" PRId64 " (queue_bytes x workers); retry when earlier ones are "
                 "answered, or send smaller requests",
                 bytes->bytes, CA_QUEUE_SMALL_BYTES, bytes->budget);
        return false;
    }
    if (self->used + 1 > self->capacity / 2 &&
        !s_rebuild(self, self->capacity * 2, self->pool_count)) {
        snprintf(message, message_size, "the node is short of memory; retry later");
        return false;
    }
    slot_t entry = {s_key(pool, client_id, id), (int64_t)size, pool};
    s_put(self, &entry);
    bytes->bytes += (int64_t)size;
    bytes->entries++;
    return true;
}

static void s_remove(gateway_bytes_t *self, size_t pool, zframe_t *client_id, uint64_t id) {
    pool_bytes_t *bytes = &self->pools[pool];
    int64_t size = s_take(self, s_key(pool, client_id, id), pool);
    if (size >= 0 && bytes->entries > 0) {
        bytes->bytes = bytes->bytes > size ? bytes->bytes - size : 0;
        bytes->entries--;
    }
}

void gateway_bytes_unsent(gateway_bytes_t *self, size_t pool, zframe_t *client_id, uint64_t id) {
    if (pool < self->pool_count && self->pools[pool].entries > 0)
        s_remove(self, pool, client_id, id);
}

//  The id of a Response: its field 1, which protobuf-c writes first; 0 when
//  absent (proto3 leaves out a zero id, so the request's was 0 too).
static uint64_t s_response_id(const uint8_t *data, size_t size) {
    if (size < 2 || data[0] != 0x08)
        return 0;
    uint64_t value = 0;
    for (size_t i = 1; i < size && i <= 10; i++) {
        value |= (uint64_t)(data[i] & 0x7f) << (7 * (i - 1));
        if (!(data[i] & 0x80))
            return value;
    }
    return 0;
}

void gateway_bytes_answered(gateway_bytes_t *self, size_t pool, zframe_t *client_id,
                            zframe_t *response, bool pool_idle) {
    if (pool >= self->pool_count || self->pools[pool].entries == 0)
        return;
    s_remove(self, pool, client_id, s_response_id(zframe_data(response), zframe_size(response)));
    if (!pool_idle || self->pools[pool].entries == 0)
        return;
    //  Idle with entries left (answers that matched none): drop them. If
    //  memory is short the table keeps them; the pool's counts restart
    //  anyway, and a later match of a kept entry finds its count at zero.
    s_rebuild(self, self->capacity, pool);
    self->pools[pool].bytes = 0;
    self->pools[pool].entries = 0;
}

int64_t gateway_bytes_in_flight(gateway_bytes_t *self, size_t pool) {
    return pool < self->pool_count ? self->pools[pool].bytes : 0;
}

//  ---- self-test ---------------------------------------------------------------

static zframe_t *s_answer(uint64_t id) {
    uint8_t data[12] = {0x08};
    size_t size = 1;
    do {
        data[size++] = (uint8_t)((id & 0x7f) | (id > 0x7f ? 0x80 : 0));
        id >>= 7;
    } while (id);
    data[size++] = 0x10; //  status
    data[size++] = 0x00;
    return zframe_new(data, size);
}

void gateway_bytes_test(bool verbose) {
    if (verbose)
        printf(" * gateway_bytes: ");
    int64_t budget[2] = {3 * (CA_QUEUE_SMALL_BYTES + 1), 1 << 20};
    gateway_bytes_t *self = gateway_bytes_new(2, budget);
    zframe_t *a = zframe_new("a", 1);
    zframe_t *b = zframe_new("b", 1);
    char message[300];
    size_t large = CA_QUEUE_SMALL_BYTES + 1;
    //  Small requests are never counted.
    for (uint64_t id = 1; id <= 1000; id++)
        assert(gateway_bytes_admit(self, 0, a, id, CA_QUEUE_SMALL_BYTES, message, sizeof message));
    assert(gateway_bytes_in_flight(self, 0) == 0);
    //  Large ones up to the budget, then BUSY; other pools have their own.
    assert(gateway_bytes_admit(self, 0, a, 1, large, message, sizeof message));
    assert(gateway_bytes_admit(self, 0, b, 1, large, message, sizeof message)); //  same id
    assert(gateway_bytes_admit(self, 0, a, 2, large, message, sizeof message));
    assert(!gateway_bytes_admit(self, 0, a, 3, large, message, sizeof message));
    assert(strstr(message, "budget"));
    assert(gateway_bytes_admit(self, 0, a, 3, 100, message, sizeof message)); //  small: flows
    assert(gateway_bytes_admit(self, 1, a, 3, large, message, sizeof message));
    assert(gateway_bytes_in_flight(self, 0) == 3 * (int64_t)large);
    //  Answers give bytes back, matched by client and id.
    zframe_t *answer = s_answer(1);
    gateway_bytes_answered(self, 0, b, answer, false);
    assert(gateway_bytes_in_flight(self, 0) == 2 * (int64_t)large);
    gateway_bytes_answered(self, 0, b, answer, false); //  no second entry: nothing
    assert(gateway_bytes_in_flight(self, 0) == 2 * (int64_t)large);
    zframe_destroy(&answer);
    assert(gateway_bytes_admit(self, 0, a, 4, large, message, sizeof message));
    gateway_bytes_unsent(self, 0, a, 4);
    assert(gateway_bytes_in_flight(self, 0) == 2 * (int64_t)large);
    //  One frame over the whole budget passes when none is in flight.
    assert(!gateway_bytes_admit(self, 1, b, 9, 2 << 20, message, sizeof message));
    answer = s_answer(3);
    gateway_bytes_answered(self, 1, a, answer, true);
    zframe_destroy(&answer);
    assert(gateway_bytes_in_flight(self, 1) == 0);
    assert(gateway_bytes_admit(self, 1, b, 9, 2 << 20, message, sizeof message));
    //  An idle pool forgets answers that never matched; other pools keep theirs.
    answer = s_answer(77);
    gateway_bytes_answered(self, 0, a, answer, true);
    zframe_destroy(&answer);
    assert(gateway_bytes_in_flight(self, 0) == 0);
    assert(gateway_bytes_in_flight(self, 1) == 2 << 20);
    //  The table grows and shrinks back through many entries, ids over 127.
    int64_t wide[1] = {INT64_MAX};
    gateway_bytes_t *many = gateway_bytes_new(1, wide);
    for (uint64_t id = 1; id <= 5000; id++)
        assert(
            gateway_bytes_admit(many, 0, id % 2 ? a : b, id, large + id, message, sizeof message));
    for (uint64_t id = 5000; id >= 1; id--) {
        answer = s_answer(id);
        gateway_bytes_answered(many, 0, id % 2 ? a : b, answer, false);
        zframe_destroy(&answer);
    }
    assert(gateway_bytes_in_flight(many, 0) == 0 && many->used == 0);
    gateway_bytes_destroy(&many);
    gateway_bytes_destroy(&self);
    gateway_bytes_destroy(&self); //  safe twice
    zframe_destroy(&a);
    zframe_destroy(&b);
    if (verbose)
        printf("OK\n");
}

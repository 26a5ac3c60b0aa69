/*  =========================================================================
    gateway_bytes - bytes of large requests in flight per store pool

    A private class of the gateway (see gateway_bytes.c for the design):
    the memory bound of a pool's queue held in bytes. A request of at most
    CA_QUEUE_SMALL_BYTES is bounded by the pool's queue_max (a count) alone;
    a larger one is admitted while the pool's large requests in flight add
    up to at most its byte budget (always, when none is in flight), and is
    counted until its answer comes back.
    ========================================================================= */

#ifndef GATEWAY_BYTES_H_INCLUDED
#define GATEWAY_BYTES_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _gateway_bytes_t gateway_bytes_t;

//  A ledger for `pool_count` pools; `budget[i]` is pool i's byte budget
//  (copied).
gateway_bytes_t *gateway_bytes_new(size_t pool_count, const int64_t *budget);
void gateway_bytes_destroy(gateway_bytes_t **self_p);

//  Admits request `id` of `client_id`, a frame of `size` bytes, to `pool`:
//  true (counted if large); or false with the reason for BUSY in `message`.
bool gateway_bytes_admit(gateway_bytes_t *self, size_t pool, zframe_t *client_id, uint64_t id,
                         size_t size, char *message, size_t message_size);

//  Takes back an admitted request that could not be sent.
void gateway_bytes_unsent(gateway_bytes_t *self, size_t pool, zframe_t *client_id, uint64_t id);

//  `pool` answered `response` to `client_id`; `pool_idle` when the pool has
//  no request in flight any more (then its ledger is emptied whatever it
//  held, so an answer that never matched cannot keep bytes counted).
void gateway_bytes_answered(gateway_bytes_t *self, size_t pool, zframe_t *client_id,
                            zframe_t *response, bool pool_idle);

//  Bytes of large requests in flight to `pool` now (for tests).
int64_t gateway_bytes_in_flight(gateway_bytes_t *self, size_t pool);

void gateway_bytes_test(bool verbose);

#endif

/*  =========================================================================
    gateway_clients - what each client of the gateway may hold at once

    A private class of the gateway (see gateway_clients.c for the design):
    per client routing id, the requests it has in flight (routed, not yet
    answered), per pool and in all, and the bytes of answers handed to the
    client socket that have not yet been written out to the client.
    ========================================================================= */

#ifndef GATEWAY_CLIENTS_H_INCLUDED
#define GATEWAY_CLIENTS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _gateway_clients_t gateway_clients_t;

typedef struct {
    size_t in_flight_max;      //  requests in flight per client, all pools
    int64_t answer_bytes_max;  //  unread answer bytes per client
    int64_t answers_bytes_max; //  unread answer bytes, all clients together
} gateway_clients_limits_t;

//  A table for `pool_count` pools; `pool_share[i]` is the most requests one
//  client may have in flight to pool i (copied).
gateway_clients_t *gateway_clients_new(size_t pool_count, const size_t *pool_share,
                                       const gateway_clients_limits_t *limits);
void gateway_clients_destroy(gateway_clients_t **self_p);

//  Admits one request of `client_id` to `pool` and counts it in flight:
//  true; or false with the reason for BUSY in `message`.
bool gateway_clients_admit(gateway_clients_t *self, zframe_t *client_id, size_t pool, char *message,
                           size_t message_size);

//  The answer to an admitted request of `client_id` to `pool` came back.
void gateway_clients_answered(gateway_clients_t *self, zframe_t *client_id, size_t pool);

//  Sends [client id][response] on the ROUTER `client`; a response over
//  CA_ANSWER_UNCOUNTED_BYTES is counted against the client until libzmq
//  has written it out. A response over the budgets is replaced by a small
//  BUSY answer that says so (returns false). Takes the response (sets
//  *response_p to NULL); the client id stays the caller's.
bool gateway_clients_send(gateway_clients_t *self, zsock_t *client, zframe_t *client_id,
                          zframe_t **response_p);

//  New limits (SIGHUP): each admission and answer from now on is held to
//  them; what was admitted or queued before stays.
void gateway_clients_set_limits(gateway_clients_t *self, const gateway_clients_limits_t *limits);

//  Unread answer bytes of all clients now (for tests and Info).
int64_t gateway_clients_queued(gateway_clients_t *self);

void gateway_clients_test(bool verbose);

#endif

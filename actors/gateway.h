/*  =========================================================================
    gateway - the client endpoint: decode the envelope, route, answer

    See gateway.c for the design. Lifecycle: zactor_new(gateway_actor,
    &config) (copied), ca_actor_start() binds the endpoint, DRAIN stops
    intake (answers "is": 0 + requests left unanswered), $TERM closes.
    ========================================================================= */

#ifndef GATEWAY_H_INCLUDED
#define GATEWAY_H_INCLUDED

#include "ca_curve.h"
#include "ca_store.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *endpoint;    //  client endpoint to bind
    int64_t max_frame_bytes; //  ZMQ_MAXMSGSIZE of the client socket
    size_t max_clients;      //  connections let in at once (0: no cap; gateway_connections.h)
    const ca_store_def_t *const *stores;
    size_t store_count;
    unsigned workers;            //  workers per store (endpoints to connect)
    size_t queue_max;            //  per store pool
    int64_t queue_bytes;         //  per worker, large requests (0: default; gateway_bytes.h)
    int drain_ms;                //  DRAIN waits at most this long
    const char *writer_endpoint; //  NULL: CA_WRITER_ENDPOINT
    //  Bound (PULL) for the writer's answers to committed writes; NULL:
    //  CA_GATEWAY_ANSWERS_ENDPOINT.
    const char *answers_endpoint;
    //  The subscriptions actor's ROUTER (subscriptions.h); NULL: none, its
    //  kinds are unknown.
    const char *subscriptions_endpoint;
    const char *data_dir;            //  for Info
    const char *db_path;             //  for Info (size)
    const char *peer_id;             //  for Info: the node's identity (NULL: none)
    const char *metrics_endpoint;    //  tcp endpoint of GET /metrics (NULL: off; gateway_metrics.h)
    size_t client_in_flight_max;     //  requests in flight per client (0: default)
    int64_t client_answer_bytes_max; //  unread answer bytes per client (0: default)
    int64_t answer_bytes_max;        //  unread answer bytes, all clients (0: default)
    bool curve;                      //  the client endpoint is a CURVE server (ca_curve.h) ...
    ca_curve_key_t curve_key;        //  ... with this key, checked by the ZAP handler's
                                     //  CA_CURVE_CLIENT_DOMAIN (copied, wiped at the end)
} gateway_config_t;

void gateway_actor(zsock_t *pipe, void *args);

//  The endpoint the gateway actually bound (resolves tcp port 0 / '*').
//  Asks over the pipe; caller frees.
char *gateway_endpoint(zactor_t *gateway);

//  Whether the gateway answers request kind `body` (a Request.body field
//  number) itself, as it does Ping and Info, instead of routing it to a pool.
bool gateway_answers_itself(uint32_t body);

void gateway_test(bool verbose);

#endif

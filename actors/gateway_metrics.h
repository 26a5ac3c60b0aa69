/*  =========================================================================
    gateway_metrics - the metrics endpoint: Prometheus text over HTTP

    A private class of the gateway (see gateway_metrics.c for the design).
    The gateway makes it at START when metrics_endpoint is set, polls its
    socket beside the others, calls gateway_metrics_handle when it is
    readable, answers the scrapes that wait with gateway_metrics_answer
    (the text from gateway_metrics_render), and calls gateway_metrics_expire
    when gateway_metrics_next_ms says a deadline is due.
    ========================================================================= */

#ifndef GATEWAY_METRICS_H_INCLUDED
#define GATEWAY_METRICS_H_INCLUDED

#include "cairn.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _gateway_metrics_t gateway_metrics_t;

//  Binds a ZMQ_STREAM socket on `endpoint` (tcp://HOST:PORT). NULL with
//  *error (caller frees) when it cannot.
gateway_metrics_t *gateway_metrics_new(const char *endpoint, char **error);
void gateway_metrics_destroy(gateway_metrics_t **self_p);

//  The socket to poll.
zsock_t *gateway_metrics_socket(gateway_metrics_t *self);

//  The endpoint bound (port * resolved); caller frees.
char *gateway_metrics_endpoint(gateway_metrics_t *self);

//  Reads what arrived (at most a burst): new connections (beyond
//  CA_METRICS_CONNECTIONS closed at once), request bytes; answers 400, 404,
//  405 and 431 itself. True when a GET /metrics is complete and waits for
//  gateway_metrics_answer.
bool gateway_metrics_handle(gateway_metrics_t *self);

//  Scrapes waiting for their answer.
size_t gateway_metrics_waiting(gateway_metrics_t *self);

//  Answers every waiting scrape 200 with `body` and closes them.
void gateway_metrics_answer(gateway_metrics_t *self, const char *body, size_t size);

//  Closes connections whose request did not complete within
//  CA_METRICS_REQUEST_TIMEOUT_MS.
void gateway_metrics_expire(gateway_metrics_t *self);

//  Milliseconds until the next connection's deadline (-1: none open).
int gateway_metrics_next_ms(gateway_metrics_t *self);

//  Connections open now.
size_t gateway_metrics_open(gateway_metrics_t *self);

//  ---- latency ------------------------------------------------------------
//
//  Per store pool: the time from routing a request to its answer, as a
//  histogram. Requests are timed in a small table (CA_METRICS_TIMED slots)
//  keyed by a hash of client id and request id; one whose slot is taken
//  goes untimed, so under deep pipelining the histogram is a sample.

#define GATEWAY_METRICS_BUCKETS 14

typedef struct {
    uint64_t key;
    int64_t at_us; //  0: free
} gateway_metrics_timed_t;

typedef struct {
    uint64_t buckets[GATEWAY_METRICS_BUCKETS + 1]; //  the last: +Inf
    uint64_t count;
    uint64_t sum_us;
    gateway_metrics_timed_t *slots; //  CA_METRICS_TIMED, allocated on first use
} gateway_metrics_latency_t;

//  The request `id` of the client `client_id` left for its pool now.
void gateway_metrics_latency_sent(gateway_metrics_latency_t *latency, const uint8_t *client_id,
                                  size_t client_id_size, uint64_t id);

//  Its answer `response` (a packed Response) came back.
void gateway_metrics_latency_answered(gateway_metrics_latency_t *latency, const uint8_t *client_id,
                                      size_t client_id_size, const uint8_t *response,
                                      size_t response_size);

void gateway_metrics_latency_free(gateway_metrics_latency_t *latency);

//  ---- rendering ----------------------------------------------------------

typedef struct {
    const char *name;
    unsigned workers;
    uint64_t requests, errors, busy, queue_depth;
    const gateway_metrics_latency_t *latency;
} gateway_metrics_pool_t;

typedef struct {
    uint64_t uptime_s;
    uint64_t frames, invalid;
    uint64_t clients, clients_refused;
    uint64_t db_bytes, wal_bytes;
    const gateway_metrics_pool_t *pools;
    size_t pool_count;
    const Cairn__WriterInfo *writer; //  NULL: the writer has not answered yet
} gateway_metrics_figures_t;

//  The exposition (text format 0.0.4); caller frees.
char *gateway_metrics_render(const gateway_metrics_figures_t *figures, size_t *size);

void gateway_metrics_test(bool verbose);

#endif

/*  =========================================================================
    gateway_connections - counts the client endpoint's connections and
    closes those beyond max_clients

    A private class of the gateway (see gateway_connections.c for the
    design). The gateway makes it before it binds the client socket, polls
    its socket beside the others, calls gateway_connections_handle when that
    socket is readable, and destroys it before the client socket.
    ========================================================================= */

#ifndef GATEWAY_CONNECTIONS_H_INCLUDED
#define GATEWAY_CONNECTIONS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _gateway_connections_t gateway_connections_t;

//  Starts monitoring `client` (a ROUTER, not yet bound: connections made
//  before would go uncounted); at most `max_clients` connections are let in
//  (0: no cap, only counted). NULL when libzmq refused the monitor (out of
//  descriptors or sockets). `client` must outlive the object.
gateway_connections_t *gateway_connections_new(zsock_t *client, size_t max_clients);

//  Stops the monitor. Before the client socket is destroyed.
void gateway_connections_destroy(gateway_connections_t **self_p);

//  The socket to poll (readable: call gateway_connections_handle).
zsock_t *gateway_connections_socket(gateway_connections_t *self);

//  Reads the pending monitor events (at most a burst), closes connections
//  over the cap, and logs a warning at most every CA_CLIENTS_WARN_MS.
void gateway_connections_handle(gateway_connections_t *self);

//  Connections let in and still open (TCP connections, also those still in
//  their ZMTP/CURVE handshake).
size_t gateway_connections_open(gateway_connections_t *self);

//  Connections closed at once because max_clients were open, since start.
uint64_t gateway_connections_refused(gateway_connections_t *self);

size_t gateway_connections_max(gateway_connections_t *self);

//  A new cap (SIGHUP): connections accepted from now on count against it;
//  those open stay, also when they are more than it.
void gateway_connections_set_max(gateway_connections_t *self, size_t max_clients);

void gateway_connections_test(bool verbose);

#endif

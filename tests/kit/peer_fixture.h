/*  =========================================================================
    peer_fixture - cairnd nodes with an identity and a peer endpoint, for
    the peer network's tests (e2e_peer, e2e_peer_fetch)
    ========================================================================= */

#ifndef PEER_FIXTURE_H_INCLUDED
#define PEER_FIXTURE_H_INCLUDED

#include "harness.h"

//  peer_heartbeat_ms of the test nodes.
#define PEER_FIXTURE_BEAT_MS "200"
//  Arguments a test may add to a node's.
#define PEER_FIXTURE_MORE_MAX 8

//  A node with a peer endpoint, its client and what its arguments point at.
typedef struct {
    harness_node_t *node;
    zsock_t *client;
    int port;
    char endpoint_arg[64];
    char bootstrap_arg[512];
    const char *args[4 + PEER_FIXTURE_MORE_MAX];
} peer_node_t;

//  Starts a node with an identity and a peer endpoint on a free loopback
//  port, heartbeats every PEER_FIXTURE_BEAT_MS; the `count` `bootstrap`
//  nodes (may be NULL) are its bootstrap peers; `more` extra arguments
//  (NULL-ended, may be NULL; a later argument overrides an earlier one).
void peer_node_start(peer_node_t *self, peer_node_t **bootstrap, size_t count,
                     const char *const *more);

//  PeerConnect on `self` to `other` (answered OK; the session comes later).
void peer_node_connect(peer_node_t *self, peer_node_t *other);

//  Closes the client and stops the node (it must exit 0).
void peer_node_stop(peer_node_t *self);

#endif

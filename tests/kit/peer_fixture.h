/*  =========================================================================
    peer_fixture - cairnd nodes with an identity and a peer endpoint, for
    the peer network's tests (e2e_peer, e2e_peer_fetch)
    ========================================================================= */

#ifndef PEER_FIXTURE_H_INCLUDED
#define PEER_FIXTURE_H_INCLUDED

#include "harness.h"
#include "ca_curve_key.h"
#include "peer.pb-c.h"

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

//  PeerSessions on the node's client, which must answer OK. Caller frees.
Cairn__Response *peer_node_sessions(peer_node_t *self);

//  A hand-made peer: a DEALER with a CURVE key derived from an Ed25519 key
//  of its own, speaking schemas/peer.proto, to play a hostile, outdated
//  or out-of-order node.
typedef struct {
    uint8_t ed_public[32], ed_secret[64];
    char peer_id[65];
    ca_curve_key_t curve;
    zsock_t *dealer;
} peer_fake_t;

//  A fresh key pair (not yet connected).
void peer_fake_new(peer_fake_t *self);

//  Connects to `node`'s peer endpoint: CURVE with the fake's key, or the
//  NULL mechanism (curve false).
void peer_fake_connect(peer_fake_t *self, peer_node_t *node, bool curve);

//  Sends `message` with `version` as one frame.
void peer_fake_send(peer_fake_t *self, Cairn__Peer__PeerMessage *message, uint32_t version);

//  Sends Hello (node name "fake", listen port 9) with `version`, the
//  `kinds` it speaks and its `topics` (32 bytes each); both may be empty.
void peer_fake_hello(peer_fake_t *self, uint32_t version, uint32_t *kinds, size_t kind_count,
                     ProtobufCBinaryData *topics, size_t topic_count);

//  The next PeerMessage within timeout_ms, or NULL. Caller frees.
Cairn__Peer__PeerMessage *peer_fake_recv(peer_fake_t *self, int timeout_ms);

#endif

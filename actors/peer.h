/*  =========================================================================
    peer - the node's peer network: its peer endpoint and one session per
    other node (dial, handshake, heartbeats, online/offline, backoff).
    Wire: schemas/peer.proto. Design: the banner of peer.c and
    docs/ARCHITECTURE.md "Peer sessions".
    ========================================================================= */

#ifndef PEER_H_INCLUDED
#define PEER_H_INCLUDED

#include "ca_curve_key.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define PEER_PROTOCOL_VERSION 1
//  Where the sessions pool asks the peer actor (PeerConnect, ...).
#define PEER_CONTROL_ENDPOINT "inproc://cairn-peer"
//  Largest PeerMessage frame; a bigger one drops the connection (ZMQ_MAXMSGSIZE).
#define PEER_MAX_FRAME (1024 * 1024 + 64 * 1024)
//  Flood bound: messages and bytes one session may send per second; past
//  either, it is cut off (logged).
#define PEER_MAX_MSGS_PER_S  2000
#define PEER_MAX_BYTES_PER_S (32 * 1024 * 1024)
//  Messages queued towards one peer in libzmq (SNDHWM) and from all (RCVHWM).
#define PEER_SNDHWM 1000
#define PEER_RCVHWM 10000
//  Silence of this many heartbeats ends a session; backoff grows to this many.
#define PEER_TIMEOUT_BEATS 3
#define PEER_BACKOFF_BEATS 30
//  last_seen of an online peer is written at most this often.
#define PEER_LAST_SEEN_MS 10000
//  A cut-off connection's Error has this long to leave before it is shut.
#define PEER_LINGER_MS 250
//  Connections being refused beyond peer_max, their Error leaving; past
//  this many more they are cut without one.
#define PEER_CLOSING_MAX   16
#define PEER_NODE_NAME_MAX 128
#define PEER_INTEREST_MAX  256 //  channels or topics in a Hello

typedef struct {
    const char *endpoint;  //  tcp endpoint to bind (peer_endpoint)
    bool allow_list;       //  peer_admission=allow-list (else open)
    const char *bootstrap; //  "none" or PEER_ID@ADDRESS:PORT[,...]
    size_t peer_max;
    int64_t heartbeat_ms;
    int64_t in_flight_bytes;
    int64_t gossip_ttl;         //  hops of this node's own messages (gossip_ttl)
    int64_t reconcile_ms;       //  set reconciliation period (reconcile_ms; 0: never)
    const char *db_path;        //  read-only reads of the peers table
    const char *peers_endpoint; //  the peers pool (worker 0), for its writes
    const char *peer_id;        //  this node's (hex Ed25519 public key)
    const char *node_name;      //  sent in Hello
    ca_curve_key_t curve_key;   //  derived from the identity (copied, wiped)
    const char *data_dir;       //  ContentFetch: blob files and temp files
    const char *cache_endpoint; //  ContentFetch: the cache pool (worker 0), for CachePut
    uint64_t fetch_max_bytes;   //  ContentFetch: min(max_blob_bytes, max_frame_bytes)
    int64_t oplog_sync_ms;      //  operation log sync: interval of rounds (oplog_sync_ms)
    unsigned oplog_workers;     //  operation log sync: the oplog pool's size (appends by author)
} peer_config_t;

//  zactor_new(peer_actor, &config), then ca_actor_start (binds; a bad
//  endpoint or bootstrap list is its error). Start it after the store
//  workers (it writes through the peers pool) and before the gateway.
void peer_actor(zsock_t *pipe, void *args);

//  The bound endpoint (resolved port) of a started actor; caller frees.
char *peer_endpoint(zactor_t *self);

//  Parses one bootstrap entry PEER_ID@ADDRESS:PORT ([v6]:PORT for IPv6):
//  true with the parts filled, else false with `problem`.
bool peer_parse_address(const char *text, char peer_id[65], char address[64], uint32_t *port,
                        char *problem, size_t size);

void peer_test(bool verbose);

#endif

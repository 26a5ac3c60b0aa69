/*  =========================================================================
    peer_oplog - operation logs synced between peer sessions (issue 15)

    A private part of the peer actor (actors/peer.c), shaped like
    peer_fetch: it owns no socket of the peer endpoint and no session; it
    keeps its per-peer state by peer id, peer.c hands it each OplogHeights
    and OplogOps a session received, and every turn it sends through the
    host's send (the peer actor's, with its in-flight bound). It reaches the
    oplog pool (OplogAppend, routed by author) and the logbook pool
    (TopicAssociate) as an ordinary client. Wire and rules:
    schemas/peer.proto, OplogHeights. Design: the banner of peer_oplog.c and
    docs/ARCHITECTURE.md "Operation log sync".
    ========================================================================= */

#ifndef PEER_OPLOG_H_INCLUDED
#define PEER_OPLOG_H_INCLUDED

#include "ca_sql.h"
#include "peer.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define PEER_OPLOG_HEIGHTS_KIND CAIRN__PEER__PEER_MESSAGE__KIND_OPLOG_HEIGHTS
#define PEER_OPLOG_OPS_KIND     CAIRN__PEER__PEER_MESSAGE__KIND_OPLOG_OPS
#define PEER_OPLOG_LOGS_MAX     1024         //  logs of one OplogHeights (and of a topic synced)
#define PEER_OPLOG_OPS_MAX      256          //  ops of one OplogOps
#define PEER_OPLOG_FRAME_BYTES  (768 * 1024) //  an OplogOps stops growing past this (or in_flight/4)
#define PEER_OPLOG_ROUND_OPS    1024         //  ops sent for one OplogHeights received
#define PEER_OPLOG_ROUND_BYTES  (4 * 1024 * 1024) //  ... and bytes
#define PEER_OPLOG_PENDING      16384             //  appends sent to the oplog pool, not answered
#define PEER_OPLOG_PENDING_MS   10000             //  an unanswered append is forgotten after this
#define PEER_OPLOG_TOPICS_MS    200 //  the topic table is counted this often (a change starts rounds)
//  Sender pacing, under the receiver's flood bound (PEER_MAX_*_PER_S),
//  whose window is not ours: frames and bytes to one peer per second.
#define PEER_OPLOG_FRAMES_PER_S 400
#define PEER_OPLOG_BYTES_PER_S  (12 * 1024 * 1024)

//  What peer.c lends: send to a session by peer id (0 sent, -1 not now),
//  cut a session off, and whether a peer id has an online session.
typedef struct {
    void *host;
    int (*send)(void *host, const char *peer_id, Cairn__Peer__PeerMessage *message);
    void (*cut_off)(void *host, const char *peer_id, const char *why);
    bool (*online)(void *host, const char *peer_id);
} peer_oplog_host_t;

//  Ops counted for one peer (this session) or in all.
typedef struct {
    uint64_t sent, received, already, refused;
} peer_oplog_figures_t;

typedef struct _peer_oplog_t peer_oplog_t;

//  `sql`: the peer actor's read-only connection (borrowed); `sync_ms`:
//  oplog_sync_ms; `workers`: the oplog pool's size; `in_flight_bytes`:
//  the host's bound (an OplogOps is at most a quarter of it, so one always
//  fits). NULL with *error when the pools cannot be reached.
peer_oplog_t *peer_oplog_new(ca_sql_t *sql, const peer_oplog_host_t *host, int64_t sync_ms,
                             unsigned workers, int64_t in_flight_bytes, char **error);
void peer_oplog_destroy(peer_oplog_t **self_p);

//  Adds its pool sockets to `poller` (their answers wake the peer actor).
void peer_oplog_watch(peer_oplog_t *self, zpoller_t *poller);

//  Whether `socket` is one of its own (an answer arrived: the turn's tick
//  reads it).
bool peer_oplog_owns(peer_oplog_t *self, void *socket);

//  This node's topics of interest, for its Hello: at most `most`, 32 bytes
//  each in `topics`; returns how many.
size_t peer_oplog_topics(peer_oplog_t *self, uint8_t (*topics)[32], size_t most);

//  A session with `peer_id` came online with `hello`: a round starts at once.
void peer_oplog_online(peer_oplog_t *self, const char *peer_id, const Cairn__Peer__Hello *hello);

//  An OplogHeights or OplogOps from an online session: true when it was
//  one (handled; a peer that broke the rules is cut off through the host).
bool peer_oplog_on_message(peer_oplog_t *self, const char *peer_id,
                           const Cairn__Peer__PeerMessage *message);

//  Once per turn: answers of the pools, rounds due, ops to send.
void peer_oplog_tick(peer_oplog_t *self);

//  The figures of `peer_id`'s session (zeros when none); with NULL, the totals.
peer_oplog_figures_t peer_oplog_figures(peer_oplog_t *self, const char *peer_id);

void peer_oplog_test(bool verbose);

#endif

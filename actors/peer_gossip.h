/*  =========================================================================
    peer_gossip - messages by gossip between peer sessions (issue 15)

    A private part of the peer actor (actors/peer.c): it owns no socket of
    the peer endpoint and no session; peer.c hands it each GossipMessage a
    session received and, every turn, lets it send to each online session
    through the peer actor's own send (with its in-flight bound). Wire and
    rules: schemas/peer.proto, GossipMessage. Design: the banner of
    peer_gossip.c and docs/ARCHITECTURE.md "Message gossip".
    ========================================================================= */

#ifndef PEER_GOSSIP_H_INCLUDED
#define PEER_GOSSIP_H_INCLUDED

#include "ca_sql.h"
#include "peer.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define PEER_GOSSIP_KIND        CAIRN__PEER__PEER_MESSAGE__KIND_GOSSIP_MESSAGE
#define PEER_GOSSIP_BATCH_KIND  CAIRN__PEER__PEER_MESSAGE__KIND_GOSSIP_BATCH
#define PEER_GOSSIP_BAD_MAX     3   //  bad signatures a session may send; then it is cut off
#define PEER_GOSSIP_BATCH_MAX   256 //  messages in one GossipBatch (and rows read per turn)
#define PEER_GOSSIP_BATCH_BYTES (256 * 1024) //  a GossipBatch stops growing past this
//  Stores submitted to the batch pool and not yet answered, all sessions:
//  under the pool's own admission bound, so it never answers BUSY.
#define PEER_GOSSIP_OUTSTANDING 128
#define PEER_GOSSIP_PENDING_MS  10000
//  Frames sent to one session per second: under the receiver's flood
//  bound (PEER_MAX_MSGS_PER_S), whose one-second window is not ours.
#define PEER_GOSSIP_PER_S 900
//  ... and bytes, under its PEER_MAX_BYTES_PER_S (32 MiB), which a batch of
//  256 KiB frames would pass long before 900 of them (whatever
//  peer_heartbeat_ms and peer_in_flight_bytes allow).
#define PEER_GOSSIP_BYTES_PER_S (16 * 1024 * 1024)

//  What the gossip keeps per session (in peer.c's session).
typedef struct {
    int64_t cursor;        //  seq of the last message row sent or passed over
    uint64_t epoch;        //  this session's number in the gossip (peer_gossip_online)
    uint32_t bad;          //  bad signatures received
    bool speaks;           //  its Hello listed PEER_GOSSIP_KIND
    bool batches;          //  ... and PEER_GOSSIP_BATCH_KIND
    int64_t window_start;  //  mono start of the current second
    uint32_t window_sent;  //  frames sent in it
    uint64_t window_bytes; //  and their bytes
} peer_gossip_session_t;

//  peer.c's send: 0 when the message went, -1 when it did not (in flight
//  full, queue full): it is tried again next turn.
typedef int(peer_gossip_send_fn)(void *ctx, void *session, Cairn__Peer__PeerMessage *message);

typedef struct _peer_gossip_t peer_gossip_t;

//  `sql`: the peer actor's read-only connection (borrowed); `ttl`: the
//  setting gossip_ttl (hops of this node's own messages); `in_flight`:
//  peer_in_flight_bytes (what a session may have sent beyond what it was
//  acknowledged). NULL with *error when the batch pool cannot be reached.
peer_gossip_t *peer_gossip_new(ca_sql_t *sql, uint32_t ttl, uint64_t in_flight, char **error);
void peer_gossip_destroy(peer_gossip_t **self_p);

//  A session came online: gossip starts after the newest stored message.
void peer_gossip_online(peer_gossip_t *self, peer_gossip_session_t *session,
                        const Cairn__Peer__Hello *hello);

//  A GossipMessage (kind 20) or GossipBatch (kind 21) `message` of `size`
//  bytes from a session whose peers-table id is `member_id`. NULL, or why
//  the session must be cut off, with the Error code in *code: MALFORMED
//  (a frame that breaks the rules, too many bad signatures) or LIMIT (sent
//  past its credit).
const char *peer_gossip_receive(peer_gossip_t *self, peer_gossip_session_t *session,
                                const char *member_id, const Cairn__Peer__PeerMessage *message,
                                size_t size, Cairn__Peer__Error__Code *code);

//  Bytes of the session's gossip frames whose messages are queued or being
//  stored here: its heartbeats acknowledge bytes_in minus these, so a
//  sender waits while this node's batch pool is behind instead of this
//  node dropping what it sent.
uint64_t peer_gossip_held(peer_gossip_t *self, const peer_gossip_session_t *session);

//  The socket on which the batch pool answers (for the peer actor's
//  poller: an answer wakes it, and peer_gossip_tick reads them).
zsock_t *peer_gossip_socket(peer_gossip_t *self);

//  Once per turn, before the sends: answers of the batch pool, queued
//  messages to it, newest seq.
void peer_gossip_tick(peer_gossip_t *self);

//  Sends an online session what it has not had yet (at most
//  PEER_GOSSIP_BATCH_MAX rows; stops where `send` refuses). True when it
//  stopped at that bound with more rows to go (the caller comes back soon
//  rather than at its next timer).
bool peer_gossip_flush(peer_gossip_t *self, peer_gossip_session_t *session, const char *member_id,
                       peer_gossip_send_fn *send, void *ctx, void *handle);

//  Sends messages `ids` to an online session (set reconciliation,
//  actors/peer_recon.c) with the ttl the flush would give them, at least
//  1, under the same rules and per-second bound as the flush, in one
//  GossipBatch when the session speaks it (at most PEER_GOSSIP_BATCH_MAX
//  and PEER_GOSSIP_BATCH_BYTES). Returns how many of `ids`, from the
//  first, were sent or are not to be sent (no such row, the peer not a
//  member of its channel, no valid signature); the others wait (`send` or
//  the window refused them).
size_t peer_gossip_send_ids(peer_gossip_t *self, peer_gossip_session_t *session,
                            const char *member_id, const char *const *ids, size_t count,
                            peer_gossip_send_fn *send, void *ctx, void *handle);

void peer_gossip_test(bool verbose);

#endif

/*  =========================================================================
    peer_recon - set reconciliation between peer sessions (issue 16):
    negentropy v1 over schemas/peer.proto kinds 80..84, then what each
    side lacks through the gossip and content-fetch paths. A private part
    of the peer actor (actors/peer.c), as peer_gossip is: it owns no socket
    and no session; peer.c keeps a peer_recon_session_t in each session and
    lends its sends through peer_recon_host_t. Design: the banner of
    peer_recon.c and docs/ARCHITECTURE.md "Set reconciliation between nodes".
    ========================================================================= */

#ifndef PEER_RECON_H_INCLUDED
#define PEER_RECON_H_INCLUDED

#include "ca_negentropy.h"
#include "ca_sql.h"
#include "ca_status.h"
#include "sync_sets.h"
#include "cairn.pb-c.h"
#include "peer.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define PEER_RECON_KIND CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REQUEST //  80, listed in Hello
//  Bounds of one run (all sets of a session): past one, the responder is
//  cut off (Error LIMIT). A responder answers at most RECON_ROUNDS_MAX
//  requests of a session per RECON_RUN_MS.
#define RECON_ROUNDS_MAX 256
#define RECON_BYTES_MAX  (64 * 1024 * 1024)
#define RECON_RUN_MS     120000
//  An answer not come within this long abandons the run (retried next time).
#define RECON_STEP_MS 15000
//  frame_size_limit of the negentropy messages a node builds (less when
//  peer_in_flight_bytes / 2 is less); a received one may be this plus
//  RECON_FRAME_SLACK (the protocol's closing range).
#define RECON_FRAME_LIMIT (512 * 1024)
#define RECON_FRAME_SLACK 4096
//  Ids in one ReconWant or ReconOffer.
#define RECON_IDS_MAX 2048
//  Messages to send and hashes to fetch queued per session; beyond, the
//  rest waits for the next run.
#define RECON_QUEUE_MAX 200000
#define RECON_SETS_MAX  257 //  PEER_INTEREST_MAX channels + content
//  ReconWant and ReconOffer a session may send per RECON_RUN_MS: twice
//  what a full queue needs.
#define RECON_LISTS_MAX (2 * (RECON_QUEUE_MAX / RECON_IDS_MAX + 1))

typedef struct _peer_recon_t peer_recon_t;

//  What the reconciliation keeps per session (in peer.c's session).
//  Zero-initialise; peer_recon_end frees it.
typedef struct {
    peer_recon_t *owner; //  set online, to answer a waiting client at the end
    bool speaks;         //  its Hello listed PEER_RECON_KIND
    bool initiator;      //  this node's peer id is the smaller
    char **hello_channels;
    size_t n_hello_channels;
    int64_t next_run; //  mono; 0: none
    //  the run (initiator)
    bool running, awaiting, has_pending;
    int64_t run_started, step_deadline;
    char **sets;
    size_t n_sets, set_index;
    ca_neg_set_t *items;
    ca_neg_buf_t pending;
    ca_neg_ids_t have, need;
    uint32_t rounds;
    uint64_t bytes;
    //  what moves (both roles)
    zlistx_t *send_ids; //  message ids (text) to send as GossipMessage
    zlistx_t *fetches;  //  32-byte hashes to fetch
    zlistx_t *out;      //  packed PeerMessages waiting for the in-flight bound (want, offer)
    //  the responder's flood window
    int64_t window_start;
    uint32_t window_rounds, window_lists;
    //  a client's PeerReconcile waiting for this run (NULL: none)
    zframe_t *client;
    uint64_t client_id;
    bool dry_run;
    uint64_t client_have, client_need;
    ca_status_t client_status; //  CA_OK, else why its set was not reconciled
    char client_error[SYNC_SETS_ERR_BYTES];
    //  figures
    uint32_t runs, last_rounds;
    uint64_t last_bytes, moved;
    double last;
} peer_recon_session_t;

//  A session as the reconciliation sees it.
typedef struct {
    peer_recon_session_t *state;
    void *handle;         //  peer.c's session
    const char *peer_id;  //  hex
    const char *table_id; //  its peers-table id ("" when none)
} peer_recon_peer_t;

//  What the peer actor lends: `host` is its self.
typedef struct {
    void *host;
    //  Sends on the session; -1 when refused (in-flight bound).
    int (*send)(void *host, void *handle, Cairn__Peer__PeerMessage *message);
    //  Cuts the session off (Error with code, logged); the session's
    //  recon state is reset by it.
    void (*cut_off)(void *host, void *handle, Cairn__Peer__Error__Code code, const char *why);
    //  peer_gossip_send_ids for the session: how many of `ids` (from the
    //  first) were sent or are not to be sent; the rest wait.
    size_t (*send_messages)(void *host, void *handle, const char *const *ids, size_t count);
    //  peer_fetch_want: 0 started, -1 later.
    int (*fetch)(void *host, const char *peer_id, const uint8_t hash[32]);
    //  Sends `response` to the sessions worker `*worker` (taken).
    void (*answer)(void *host, zframe_t **worker, Cairn__Response *response);
} peer_recon_host_t;

//  `sql`: the peer actor's read-only connection (borrowed); `peer_id`:
//  this node's; `every_ms`: the setting reconcile_ms (0: never);
//  `in_flight_bytes`: peer_in_flight_bytes (what it sends stays within
//  half of it: frames and id lists shrink below RECON_FRAME_LIMIT).
peer_recon_t *peer_recon_new(ca_sql_t *sql, const char *peer_id, int64_t every_ms,
                             int64_t in_flight_bytes, const peer_recon_host_t *host, char **error);
void peer_recon_destroy(peer_recon_t **self_p);

//  A session came online: the initiator's first run is due at once.
void peer_recon_online(peer_recon_t *self, peer_recon_peer_t *peer,
                       const Cairn__Peer__Hello *hello);

//  A session ended: frees its run and queues (safe twice).
void peer_recon_end(peer_recon_session_t *state);

//  A PeerMessage of kinds 80..84; false when it is not one.
bool peer_recon_on_message(peer_recon_t *self, peer_recon_peer_t *peer,
                           const Cairn__Peer__PeerMessage *message);

//  Every turn per online session: runs due, timeouts, queued sends.
void peer_recon_tick(peer_recon_t *self, peer_recon_peer_t *peer);

//  A client's PeerReconcile (takes *worker): answered at once when it
//  cannot run (peer NULL: no online session), else when its run ends.
void peer_recon_ask(peer_recon_t *self, peer_recon_peer_t *peer, zframe_t **worker,
                    const Cairn__Request *request);

//  Its figures into a PeerSession.
void peer_recon_describe(const peer_recon_session_t *state, Cairn__PeerSession *out);

#endif

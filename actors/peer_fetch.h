/*  =========================================================================
    peer_fetch - ContentFetch over peer sessions: the fetching and the
    serving side of the content flow (schemas/peer.proto kinds 40..42).
    One private class owned by the peer actor; it reaches sessions only
    through the host functions below. Design: the banner of peer_fetch.c.
    ========================================================================= */

#ifndef PEER_FETCH_H_INCLUDED
#define PEER_FETCH_H_INCLUDED

#include "cairn.pb-c.h"
#include "peer.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  What the peer actor lends: `host` is its self.
typedef struct {
    void *host;
    //  Sends on the online session of peer_id; -1 when none or refused
    //  (in-flight bound, libzmq full).
    int (*send)(void *host, const char *peer_id, Cairn__Peer__PeerMessage *message);
    //  Cuts off the session of peer_id (Error, logged).
    void (*cut_off)(void *host, const char *peer_id, const char *why);
    //  Peer ids of the online sessions, sorted, at most `most`; the count.
    size_t (*online)(void *host, char (*ids)[65], size_t most);
    //  Bytes received so far on the session of peer_id (0: none).
    uint64_t (*bytes_in)(void *host, const char *peer_id);
    //  The peer's flow credit (FetchRequest.bytes_received), as a Heartbeat's.
    void (*acked)(void *host, const char *peer_id, uint64_t bytes_received);
} peer_fetch_host_t;

typedef struct {
    const char *data_dir;
    const char *db_path;        //  read-only reads of content and cache rows
    const char *cache_endpoint; //  the cache pool (worker 0), for CachePut
    uint64_t max_bytes;         //  min(max_blob_bytes, max_frame_bytes)
    int64_t heartbeat_ms;
} peer_fetch_config_t;

typedef struct _peer_fetch_t peer_fetch_t;

//  NULL with *error (caller frees). `control` is the peer actor's control
//  ROUTER, on which fetches are answered.
peer_fetch_t *peer_fetch_new(const peer_fetch_config_t *config, const peer_fetch_host_t *host,
                             zsock_t *control, char **error);
void peer_fetch_destroy(peer_fetch_t **self_p);

//  The DEALER to the cache pool, for the actor's poller.
zsock_t *peer_fetch_socket(peer_fetch_t *self);

//  A ContentFetch from the sessions pool; takes `*worker` (the control
//  routing id), answers on the control socket now or later.
void peer_fetch_start(peer_fetch_t *self, zframe_t **worker, const Cairn__Request *request);

//  Fetches `hash` from peer_id into the cache, for the set reconciliation
//  (no client answered; the end is logged). 0 when started (or running
//  already), -1 when all fetch slots but one are taken (that one stays
//  for clients' ContentFetch): try again later.
int peer_fetch_want(peer_fetch_t *self, const char *peer_id, const uint8_t hash[32]);

//  A PeerMessage of kinds 40..42 from an online session; false when the
//  kind is not one of them.
//  Whether `message` is a FetchChunk this node asked `peer_id` for (the
//  next one one of its fetches waits on): such bytes are bounded by the
//  fetch window, so the session's flood bound does not count them.
bool peer_fetch_solicited(peer_fetch_t *self, const char *peer_id,
                          const Cairn__Peer__PeerMessage *message);

bool peer_fetch_on_message(peer_fetch_t *self, const char *peer_id,
                           const Cairn__Peer__PeerMessage *message);

//  Answers of the cache pool; deadlines and retries.
void peer_fetch_on_cache(peer_fetch_t *self);
void peer_fetch_tick(peer_fetch_t *self);

#endif

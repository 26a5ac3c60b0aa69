/*  =========================================================================
    sessions - pool "sessions": how clients reach the peer actor

    The peer actor (actors/peer.c) keeps its sessions in its own memory, so
    their requests cannot be answered from the database like a store's.
    This pool has no table: its one worker forwards each request, packed
    again, to the peer actor's control socket (a DEALER per worker on
    PEER_CONTROL_ENDPOINT) and answers with the Response frame the actor
    built, unchanged. The wait is bounded (SESSIONS_ANSWER_MS) and the
    actor never blocks, so the worker does not either for long; the
    gateway's pool bounds (one worker, SESSIONS_QUEUE requests) make a
    flood of these requests BUSY without touching anything else.

    ContentFetch (actors/peer_fetch.c) is forwarded the same way but may
    wait its timeout_ms (plus SESSIONS_ANSWER_MS): the pool has two workers
    so one fetch leaves the other for PeerSessions and the like; two slow
    fetches at once hold both (later requests queue, BUSY past the bound).

    PeerReconcile waits for its run the same way (at most RECON_RUN_MS
    plus SESSIONS_ANSWER_MS).

    Without peer_endpoint there is no peer actor: UNAVAILABLE at once.
    ========================================================================= */

#include "sessions.h"
#include "peer.h"
#include "peer_recon.h"
#include "ca_envelope.h"

#define SESSIONS_ANSWER_MS 5000
#define SESSIONS_QUEUE     16
#define SESSIONS_WORKERS   2
//  ContentFetch.timeout_ms 0 and its most (as actors/peer_fetch.c).
#define FETCH_TIMEOUT_DEFAULT_MS 30000
#define FETCH_TIMEOUT_MAX_MS     600000

typedef struct {
    zsock_t *dealer;
    zpoller_t *poller;
    uint64_t next_id; //  the worker's own request ids towards the actor
} sessions_state_t;

static void *s_state_new(ca_store_t *store, char **error) {
    sessions_state_t *state = (sessions_state_t *)zmalloc(sizeof(sessions_state_t));
    if (!ca_store_settings(store)->peer_actor)
        return state;
    state->dealer = zsock_new(ZMQ_DEALER);
    if (!state->dealer) {
        *error = ca_actor_socket_error("sessions");
        free(state);
        return NULL;
    }
    zsock_set_linger(state->dealer, 0);
    zsock_connect(state->dealer, PEER_CONTROL_ENDPOINT);
    state->poller = zpoller_new(state->dealer, NULL);
    return state;
}

static void s_state_destroy(void **state_p) {
    sessions_state_t *state = (sessions_state_t *)*state_p;
    if (!state)
        return;
    zpoller_destroy(&state->poller);
    zsock_destroy(&state->dealer);
    free(state);
    *state_p = NULL;
}

//  Sends the request to the peer actor and answers with its Response.
static void s_forward(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sessions_state_t *state = (sessions_state_t *)ca_store_state(store);
    int64_t wait = SESSIONS_ANSWER_MS;
    if (request->body_case == CAIRN__REQUEST__BODY_CONTENT_FETCH) {
        const Cairn__ContentFetch *fetch = request->content_fetch;
        if (fetch->hash.len != 32) {
            ca_reply_error(reply, CA_INVALID, "hash is %zu bytes; give the 32 bytes of a SHA-256",
                           fetch->hash.len);
            return;
        }
        if (fetch->timeout_ms > FETCH_TIMEOUT_MAX_MS) {
            ca_reply_error(reply, CA_INVALID, "timeout_ms %u is above %d", fetch->timeout_ms,
                           FETCH_TIMEOUT_MAX_MS);
            return;
        }
        wait += fetch->timeout_ms ? fetch->timeout_ms : FETCH_TIMEOUT_DEFAULT_MS;
    }
    if (request->body_case == CAIRN__REQUEST__BODY_PEER_RECONCILE)
        wait += RECON_RUN_MS; //  a run ends (or is cut) within it
    if (!state->dealer) {
        ca_reply_error(reply, CA_UNAVAILABLE,
                       "this node has no peer network: set peer_endpoint (and create an identity "
                       "with cairnd identity init) to use peer sessions");
        return;
    }
    //  Sent under an id of the worker's own, so that a late answer to a
    //  request that timed out can never pass for the answer to a later one
    //  that reuses its id (another client's, say).
    Cairn__Request own = *request;
    own.id = ++state->next_id;
    size_t size = cairn__request__get_packed_size(&own);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__request__pack(&own, zframe_data(frame));
    if (zframe_send(&frame, state->dealer, ZFRAME_DONTWAIT) != 0) {
        zframe_destroy(&frame);
        ca_reply_error(reply, CA_BUSY, "the peer actor is busy; retry");
        return;
    }
    int64_t deadline = zclock_mono() + wait;
    while (zclock_mono() < deadline) {
        if (!zpoller_wait(state->poller, (int)(deadline - zclock_mono())))
            continue;
        zframe_t *answer = zframe_recv(state->dealer);
        if (!answer)
            continue;
        //  An answer to an earlier request that timed out is dropped.
        Cairn__Response *response =
            cairn__response__unpack(NULL, zframe_size(answer), zframe_data(answer));
        zframe_destroy(&answer);
        if (response && response->id == own.id) {
            response->id = request->id; //  the client's id back
            zframe_t *frame_back = ca_message_frame_try(&response->base);
            cairn__response__free_unpacked(response, NULL);
            if (frame_back)
                ca_reply_frame(reply, &frame_back);
            else
                ca_reply_error(reply, CA_INTERNAL, "the node ran out of memory for this answer");
            return;
        }
        if (response)
            cairn__response__free_unpacked(response, NULL);
    }
    ca_reply_error(reply, CA_UNAVAILABLE, "the peer actor did not answer within %d ms; retry",
                   (int)wait);
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_PEER_CONNECT, "peer_connect", s_forward, NULL, 0},
    {CAIRN__REQUEST__BODY_PEER_DISCONNECT, "peer_disconnect", s_forward, NULL, 0},
    {CAIRN__REQUEST__BODY_PEER_SESSIONS, "peer_sessions", s_forward, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_FETCH, "content_fetch", s_forward, NULL, 0},
    {CAIRN__REQUEST__BODY_PEER_RECONCILE, "peer_reconcile", s_forward, NULL, 0},
};

const ca_store_def_t sessions_store_def = {
    .name = "sessions",
    .schema = NULL,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .workers = SESSIONS_WORKERS,
    .queue_max = SESSIONS_QUEUE,
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
};

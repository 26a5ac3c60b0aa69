/*  =========================================================================
    peer_recon - set reconciliation between peer sessions

    Gossip covers what is stored while two nodes are connected; what one
    stored while they were apart is found here, on connect and every
    reconcile_ms, with negentropy v1 (actors/wire/ca_negentropy.c) over
    schemas/peer.proto kinds 80..84 (the wire rules and the exchange are
    in the proto's comments).

    Roles: of the two sides of a session, the smaller peer id (hex text)
    initiates, so both never start at once and no tie is possible. The
    initiator walks its sets one after the other (each channel of which
    the peer is a member here, then "content"), each on a set read once at
    its start and held for its rounds (sync_sets_load); the responder keeps
    nothing between rounds and answers from a cache of sealed sets
    (sync_sets_get, as the sync store answers clients).

        IDLE --due (online, every reconcile_ms)--> RUNNING: set i
          ^                                          | ReconRequest
          |                                          v
          +--- all sets done / answer late ---- AWAITING --ReconReply--+
                                                     ^                 |
                                                     +--- not done ----+
                                                          done: settle set i, i+1

        transition                         function
        run due                            s_run_start
        a set's first message              s_set_open
        ReconReply                         s_on_reply
        set reconciled                     s_settle
        all done / abandoned               s_run_end

    What moves, once a set is reconciled (s_settle), both through the
    normal paths, so no second verify/store path exists:
      - messages the peer lacks: queued by id and sent in GossipBatch
        frames (GossipMessage to a peer that does not speak it;
        peer_gossip_send_ids: membership and signature checked, the ttl
        gossip would give the row but at least 1, the gossip's per-second
        bound); the receiver runs its gossip receive path (verify, member,
        stored once) and gossips them on while their ttl lasts;
      - messages this node lacks: ReconWant by item id; the peer queues
        the matching rows the same way;
      - content the peer lacks: ReconOffer; the peer fetches each hash it
        holds nowhere (content store, cache) from this node;
      - content this node lacks: fetched from the peer (peer_fetch_want:
        hash verified, kept in the cache with the peer as source), one
        fetch slot always left to clients.
    Item ids of messages are SHA-256 of the message id, so a side maps them
    back by hashing the ids of the channel's rows (one scan per set, not
    per id).

    Bounds: a run is cut at RECON_ROUNDS_MAX rounds, RECON_BYTES_MAX bytes
    of negentropy messages or RECON_RUN_MS (the responder is cut off with
    Error LIMIT: a peer that sends inconsistent fingerprints or splits
    without end gets no further); a message that does not parse cuts the
    session off (MALFORMED). The responder answers at most
    RECON_ROUNDS_MAX requests and RECON_LISTS_MAX ReconWant/ReconOffer
    per RECON_RUN_MS of a session (each ReconWant costs a scan of the
    channel's ids). Queues hold
    at most RECON_QUEUE_MAX ids per session. A disconnect drops the run
    and the queues; the next connect runs again from the start
    ("resumable" is a restart: what was already moved stays).
    ========================================================================= */

#include "peer_recon.h"
#include "peer_gossip.h" //  PEER_GOSSIP_BATCH_MAX
#include "ca_clock.h"
#include "ca_log.h"
#include "sync_sets.h"

#include <inttypes.h>
#include <string.h>

struct _peer_recon_t {
    ca_sql_t *sql;
    char peer_id[65];
    int64_t every_ms;
    size_t frame_limit;  //  of the negentropy messages this node builds
    size_t ids_per_list; //  ids in one ReconWant or ReconOffer it sends
    peer_recon_host_t host;
    sync_sets_t *sets; //  the responder's cache
};

static sqlite3_stmt *s_prepare(void *sql, const char *text) {
    return ca_sql_prepare((ca_sql_t *)sql, text);
}

peer_recon_t *peer_recon_new(ca_sql_t *sql, const char *peer_id, int64_t every_ms,
                             int64_t in_flight_bytes, const peer_recon_host_t *host, char **error) {
    peer_recon_t *self = (peer_recon_t *)zmalloc(sizeof(peer_recon_t));
    self->sql = sql;
    snprintf(self->peer_id, sizeof self->peer_id, "%s", peer_id);
    self->every_ms = every_ms;
    //  What this node sends must fit the in-flight bound, or it would wait
    //  for ever: at most half of it.
    self->frame_limit = RECON_FRAME_LIMIT;
    if (in_flight_bytes / 2 < (int64_t)self->frame_limit)
        self->frame_limit =
            in_flight_bytes / 2 > CA_NEG_FRAME_MIN ? (size_t)in_flight_bytes / 2 : CA_NEG_FRAME_MIN;
    self->ids_per_list = self->frame_limit / (CA_NEG_ID_BYTES + 8);
    if (self->ids_per_list > RECON_IDS_MAX)
        self->ids_per_list = RECON_IDS_MAX;
    self->host = *host;
    self->sets = sync_sets_new();
    if (!self->sets) {
        *error = strdup("peer: out of memory for the reconciliation's sets");
        peer_recon_destroy(&self);
    }
    return self;
}

void peer_recon_destroy(peer_recon_t **self_p) {
    peer_recon_t *self = *self_p;
    if (!self)
        return;
    sync_sets_destroy(&self->sets);
    free(self);
    *self_p = NULL;
}

//  ---- per session ---------------------------------------------------------------------

static void s_strings_free(char ***list, size_t *count) {
    for (size_t i = 0; *list && i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *count = 0;
}

//  Drops the run (not the figures, not the queues).
static void s_run_free(peer_recon_session_t *state) {
    s_strings_free(&state->sets, &state->n_sets);
    ca_neg_set_destroy(&state->items);
    ca_neg_buf_free(&state->pending);
    ca_neg_ids_free(&state->have);
    ca_neg_ids_free(&state->need);
    state->running = state->awaiting = state->has_pending = state->dry_run = false;
    state->set_index = 0;
}

static void s_client_answer(peer_recon_t *self, peer_recon_session_t *state, zframe_t **worker,
                            uint64_t id, ca_status_t status, const char *text);

void peer_recon_end(peer_recon_session_t *state) {
    if (state->client)
        s_client_answer(state->owner, NULL, &state->client, state->client_id, CA_UNAVAILABLE,
                        "the session with the peer ended before the run did; retry when it is "
                        "back (cairn peer sessions)");
    s_run_free(state);
    s_strings_free(&state->hello_channels, &state->n_hello_channels);
    zlistx_destroy(&state->send_ids);
    zlistx_destroy(&state->fetches);
    zlistx_destroy(&state->out);
    memset(state, 0, sizeof *state);
}

void peer_recon_online(peer_recon_t *self, peer_recon_peer_t *peer,
                       const Cairn__Peer__Hello *hello) {
    peer_recon_session_t *state = peer->state;
    peer_recon_end(state);
    state->owner = self;
    for (size_t i = 0; i < hello->n_kinds; i++)
        state->speaks |= hello->kinds[i] == PEER_RECON_KIND;
    state->initiator = strcasecmp(self->peer_id, peer->peer_id) < 0;
    if (hello->n_channels) {
        state->hello_channels = (char **)zmalloc(hello->n_channels * sizeof(char *));
        for (size_t i = 0; i < hello->n_channels; i++)
            state->hello_channels[state->n_hello_channels++] = strdup(hello->channels[i]);
    }
    state->send_ids = zlistx_new();
    zlistx_set_destructor(state->send_ids, (zlistx_destructor_fn *)zstr_free);
    state->fetches = zlistx_new();
    zlistx_set_destructor(state->fetches, (zlistx_destructor_fn *)zstr_free);
    state->out = zlistx_new();
    zlistx_set_destructor(state->out, (zlistx_destructor_fn *)zframe_destroy);
    state->next_run = state->speaks && state->initiator && self->every_ms > 0 ? zclock_mono() : 0;
}

void peer_recon_describe(const peer_recon_session_t *state, Cairn__PeerSession *out) {
    out->recon_runs = state->runs;
    out->recon_rounds = state->last_rounds;
    out->recon_bytes = state->last_bytes;
    out->recon_items = state->moved;
    out->recon_last = state->last;
}

//  ---- helpers -----------------------------------------------------------------------------

static size_t s_queued(const peer_recon_session_t *state) {
    return zlistx_size(state->send_ids) + zlistx_size(state->fetches);
}

//  Whether the peer (table id) is a member of `channel` here.
static bool s_member(peer_recon_t *self, const char *channel, const char *table_id) {
    if (!*table_id)
        return false;
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT 1 FROM members WHERE channel = ?1 AND peer_id = ?2");
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, table_id, -1, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return found;
}

//  Whether this node holds blob `hash` (content store or cache).
static bool s_holds(peer_recon_t *self, const uint8_t hash[32]) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT 1 FROM content_blobs WHERE hash = ?1"
                                  " UNION ALL SELECT 1 FROM cache_entries WHERE hash = ?1 LIMIT 1");
    if (!stmt)
        return true; //  cannot tell: not fetched now, the next run tries again
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return found;
}

static int s_by_bytes(const void *a, const void *b) {
    return memcmp(a, b, CA_NEG_ID_BYTES);
}

//  Queues the message ids of `channel` whose items are in `items` (sorted)
//  for sending as GossipMessage; the number queued.
static size_t s_queue_messages(peer_recon_t *self, peer_recon_session_t *state, const char *channel,
                               const ca_neg_ids_t *items) {
    if (!items->count)
        return 0;
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT id FROM messages WHERE channel = ?1");
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    size_t queued = 0, rows = 0;
    while (rows++ <= SYNC_SETS_ITEMS_MAX && s_queued(state) < RECON_QUEUE_MAX &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(stmt, 0);
        uint8_t item[CA_NEG_ID_BYTES];
        if (!id)
            continue;
        sync_sets_message_item(id, item);
        if (bsearch(item, items->ids, items->count, CA_NEG_ID_BYTES, s_by_bytes)) {
            zlistx_add_end(state->send_ids, strdup(id));
            queued++;
        }
    }
    sqlite3_reset(stmt);
    return queued;
}

//  Queues a fetch of each hash this node holds nowhere.
static void s_queue_fetches(peer_recon_t *self, peer_recon_session_t *state,
                            const uint8_t (*hashes)[32], size_t count) {
    for (size_t i = 0; i < count && s_queued(state) < RECON_QUEUE_MAX; i++)
        if (!s_holds(self, hashes[i])) {
            char *copy = (char *)zmalloc(32);
            memcpy(copy, hashes[i], 32);
            zlistx_add_end(state->fetches, copy);
        }
}

//  Packs `message` and queues it behind the in-flight bound.
static void s_queue_out(peer_recon_session_t *state, Cairn__Peer__PeerMessage *message) {
    zframe_t *frame = zframe_new(NULL, cairn__peer__peer_message__get_packed_size(message));
    cairn__peer__peer_message__pack(message, zframe_data(frame));
    zlistx_add_end(state->out, frame);
}

//  ReconWant (channel set) or ReconOffer (content) of `ids`, in batches.
static void s_queue_ids(peer_recon_t *self, peer_recon_session_t *state, const char *set,
                        const ca_neg_ids_t *ids) {
    size_t most = self->ids_per_list;
    for (size_t at = 0; at < ids->count; at += most) {
        size_t n = ids->count - at < most ? ids->count - at : most;
        ProtobufCBinaryData *list = (ProtobufCBinaryData *)zmalloc(n * sizeof *list);
        for (size_t i = 0; i < n; i++)
            list[i] = (ProtobufCBinaryData){CA_NEG_ID_BYTES, ids->ids[at + i]};
        Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
        Cairn__Peer__ReconWant want = CAIRN__PEER__RECON_WANT__INIT;
        Cairn__Peer__ReconOffer offer = CAIRN__PEER__RECON_OFFER__INIT;
        if (strcmp(set, SYNC_SETS_CONTENT) == 0) {
            offer.hashes = list;
            offer.n_hashes = n;
            message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_RECON_OFFER;
            message.recon_offer = &offer;
        } else {
            want.set = (char *)set;
            want.items = list;
            want.n_items = n;
            message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_RECON_WANT;
            message.recon_want = &want;
        }
        s_queue_out(state, &message);
        free(list);
    }
}

//  ---- the initiator's run ----------------------------------------------------------------

static void s_set_open(peer_recon_t *self, peer_recon_peer_t *peer);

static void s_run_end(peer_recon_t *self, peer_recon_peer_t *peer, const char *why) {
    peer_recon_session_t *state = peer->state;
    if (why)
        ca_log_notice("peer_recon: run with %.16s abandoned after %u rounds: %s", peer->peer_id,
                      state->rounds, why);
    else {
        state->runs++;
        state->last_rounds = state->rounds;
        state->last_bytes = state->bytes;
        state->last = ca_now_seconds();
        ca_log_info("peer_recon: run with %.16s done: %zu sets, %u rounds, %" PRIu64
                    " bytes; %zu messages and %zu hashes queued",
                    peer->peer_id, state->n_sets, state->rounds, state->bytes,
                    zlistx_size(state->send_ids), zlistx_size(state->fetches));
    }
    if (state->client) {
        ca_status_t status = why ? CA_UNAVAILABLE : state->client_status;
        s_client_answer(self, status == CA_OK ? state : NULL, &state->client, state->client_id,
                        status, why ? why : state->client_error);
    }
    s_run_free(state);
    state->next_run = state->speaks && state->initiator && self->every_ms > 0
                          ? zclock_mono() + self->every_ms
                          : 0;
}

static void s_run_go(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    state->running = true;
    state->run_started = zclock_mono();
    state->rounds = 0;
    state->bytes = 0;
    s_set_open(self, peer);
}

//  The sets of a run: channels the peer is a member of here (and named in
//  its Hello, when it names any), then content.
static void s_run_start(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    s_run_free(state);
    state->sets = (char **)zmalloc(RECON_SETS_MAX * sizeof(char *));
    sqlite3_stmt *stmt = *peer->table_id
                             ? ca_sql_prepare(self->sql, "SELECT channel FROM members WHERE "
                                                         "peer_id = ?1 ORDER BY channel")
                             : NULL;
    if (stmt) {
        sqlite3_bind_text(stmt, 1, peer->table_id, -1, SQLITE_STATIC);
        while (state->n_sets + 1 < RECON_SETS_MAX && sqlite3_step(stmt) == SQLITE_ROW) {
            const char *channel = (const char *)sqlite3_column_text(stmt, 0);
            bool named = !state->n_hello_channels;
            for (size_t i = 0; channel && i < state->n_hello_channels && !named; i++)
                named = strcmp(state->hello_channels[i], channel) == 0;
            if (channel && named)
                state->sets[state->n_sets++] = zsys_sprintf(SYNC_SETS_CHANNEL "%s", channel);
        }
        sqlite3_reset(stmt);
    }
    state->sets[state->n_sets++] = strdup(SYNC_SETS_CONTENT);
    s_run_go(self, peer);
}

//  Sends the pending negentropy message when the in-flight bound lets it.
static void s_push(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__ReconRequest request = CAIRN__PEER__RECON_REQUEST__INIT;
    request.set = state->sets[state->set_index];
    request.message.data = state->pending.data;
    request.message.len = state->pending.size;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REQUEST;
    message.recon_request = &request;
    if (self->host.send(self->host.host, peer->handle, &message) != 0)
        return; //  the tick tries again
    state->bytes += state->pending.size;
    state->has_pending = false;
    state->awaiting = true;
    state->step_deadline = zclock_mono() + RECON_STEP_MS;
}

//  Opens the set at set_index (or the next one that can be read).
static void s_set_open(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    for (; state->set_index < state->n_sets; state->set_index++) {
        const char *set = state->sets[state->set_index];
        ca_status_t status = CA_OK;
        char err[SYNC_SETS_ERR_BYTES];
        ca_neg_set_destroy(&state->items);
        state->items = sync_sets_load(set, s_prepare, self->sql, &status, err);
        if (!state->items) {
            ca_log_notice("peer_recon: set %.64s skipped: %s", set, err);
            if (state->client) {
                state->client_status = status;
                snprintf(state->client_error, sizeof state->client_error, "%s", err);
            }
            continue;
        }
        ca_neg_opts_t opts = {true, self->frame_limit};
        char neg_err[CA_NEG_ERR_BYTES];
        ca_neg_buf_free(&state->pending);
        if (ca_neg_initiate(state->items, &opts, &state->pending, neg_err)) {
            ca_log_warning("peer_recon: set %.64s skipped: %s", set, neg_err);
            continue;
        }
        state->has_pending = true;
        s_push(self, peer);
        return;
    }
    s_run_end(self, peer, NULL);
}

//  A set reconciled: what moves is queued.
static void s_settle(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    const char *set = state->sets[state->set_index];
    ca_neg_ids_sort(&state->have);
    ca_neg_ids_sort(&state->need);
    const char *channel = NULL;
    char err[SYNC_SETS_ERR_BYTES];
    sync_sets_parse(set, &channel, err);
    size_t have = state->have.count, need = state->need.count;
    state->client_have += have;
    state->client_need += need;
    if (state->dry_run)
        ; //  a client asked what would move: nothing does
    else if (channel) {
        s_queue_messages(self, state, channel, &state->have);
        s_queue_ids(self, state, set, &state->need);
    } else {
        s_queue_ids(self, state, set, &state->have);
        s_queue_fetches(self, state, (const uint8_t(*)[32])state->need.ids, state->need.count);
    }
    state->moved += state->dry_run ? 0 : have + need;
    if (have || need)
        ca_log_info("peer_recon: %.64s with %.16s: %zu to send, %zu to get", set, peer->peer_id,
                    have, need);
    ca_neg_ids_free(&state->have);
    ca_neg_ids_free(&state->need);
    state->set_index++;
    s_set_open(self, peer);
}

//  Cuts the session off; false so callers can `return s_cut(...)`.
static bool s_cut(peer_recon_t *self, peer_recon_peer_t *peer, Cairn__Peer__Error__Code code,
                  const char *why) {
    self->host.cut_off(self->host.host, peer->handle, code, why);
    peer_recon_end(peer->state); //  the host did, unless the session was gone
    return true;
}

static bool s_on_reply(peer_recon_t *self, peer_recon_peer_t *peer,
                       const Cairn__Peer__ReconReply *reply) {
    peer_recon_session_t *state = peer->state;
    if (!state->running || !state->awaiting ||
        strcmp(reply->set, state->sets[state->set_index]) != 0) {
        ca_log_debug("peer_recon: an unasked ReconReply from %.16s dropped", peer->peer_id);
        return true; //  the late answer of an abandoned run
    }
    state->awaiting = false;
    state->rounds++;
    state->bytes += reply->message.len;
    if (state->rounds > RECON_ROUNDS_MAX || state->bytes > RECON_BYTES_MAX)
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "set reconciliation past its bound of rounds or bytes");
    if (reply->message.len > RECON_FRAME_LIMIT + RECON_FRAME_SLACK)
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED,
                     "a ReconReply larger than the frame size limit");
    ca_neg_opts_t opts = {true, self->frame_limit};
    char err[CA_NEG_ERR_BYTES];
    ca_neg_buf_free(&state->pending);
    if (ca_neg_reconcile(state->items, &opts, reply->message.data, reply->message.len,
                         &state->pending, &state->have, &state->need, err)) {
        char why[CA_NEG_ERR_BYTES + 64];
        snprintf(why, sizeof why, "a ReconReply that is not negentropy v1: %s", err);
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED, why);
    }
    if (state->have.count + state->need.count > RECON_QUEUE_MAX)
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "set reconciliation found more differences than a run moves");
    if (state->pending.size == 0)
        s_settle(self, peer);
    else {
        state->has_pending = true;
        s_push(self, peer);
    }
    return true;
}

//  ---- the responder ------------------------------------------------------------------------

static void s_refuse(peer_recon_t *self, peer_recon_peer_t *peer, const char *set,
                     const char *reason) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__ReconRefused refused = CAIRN__PEER__RECON_REFUSED__INIT;
    refused.set = (char *)set;
    refused.reason = (char *)reason;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REFUSED;
    message.recon_refused = &refused;
    self->host.send(self->host.host, peer->handle, &message);
}

//  Counts a request (`list`: a ReconWant or ReconOffer, else a
//  ReconRequest) in the session's window; false when past its bound.
static bool s_window(peer_recon_session_t *state, bool list) {
    int64_t now = zclock_mono();
    if (now - state->window_start >= RECON_RUN_MS) {
        state->window_start = now;
        state->window_rounds = state->window_lists = 0;
    }
    return list ? ++state->window_lists <= RECON_LISTS_MAX
                : ++state->window_rounds <= RECON_ROUNDS_MAX;
}

static bool s_on_request(peer_recon_t *self, peer_recon_peer_t *peer,
                         const Cairn__Peer__ReconRequest *request) {
    if (!s_window(peer->state, false))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "more ReconRequests than a reconciliation needs");
    //  A responder's queue holds only its replies, and an initiator asks
    //  again only after the reply came: one still queued means it did not
    //  wait (and queued replies would grow without bound).
    if (zlistx_size(peer->state->out) > 0)
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "a ReconRequest before the reply to the previous one could be sent");
    const char *channel = NULL;
    char err[SYNC_SETS_ERR_BYTES];
    if (request->message.len > RECON_FRAME_LIMIT + RECON_FRAME_SLACK)
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED,
                     "a ReconRequest larger than the frame size limit");
    if (!sync_sets_parse(request->set, &channel, err))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED, err);
    if (channel && !s_member(self, channel, peer->table_id)) {
        s_refuse(self, peer, request->set, "the peer is not a member of this channel here");
        return true;
    }
    ca_status_t status = CA_OK;
    const ca_neg_set_t *set =
        sync_sets_get(self->sets, request->set, s_prepare, self->sql, &status, err);
    if (!set) {
        s_refuse(self, peer, request->set, err);
        return true;
    }
    ca_neg_opts_t opts = {false, self->frame_limit};
    ca_neg_buf_t out = {0};
    char neg_err[CA_NEG_ERR_BYTES];
    if (ca_neg_reconcile(set, &opts, request->message.data, request->message.len, &out, NULL, NULL,
                         neg_err)) {
        ca_neg_buf_free(&out);
        char why[CA_NEG_ERR_BYTES + 64];
        snprintf(why, sizeof why, "a ReconRequest that is not negentropy v1: %s", neg_err);
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED, why);
    }
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__ReconReply reply = CAIRN__PEER__RECON_REPLY__INIT;
    reply.set = request->set;
    reply.message.data = out.data;
    reply.message.len = out.size;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REPLY;
    message.recon_reply = &reply;
    //  Over the in-flight bound now (the peer has not acknowledged what it
    //  was sent yet): queued, and sent by the tick once it fits.
    if (self->host.send(self->host.host, peer->handle, &message) != 0)
        s_queue_out(peer->state, &message);
    ca_neg_buf_free(&out);
    return true;
}

//  Ids of a ReconWant or ReconOffer: each 32 bytes, at most RECON_IDS_MAX;
//  sorted into `ids`. False when not.
static bool s_ids(const ProtobufCBinaryData *list, size_t count, ca_neg_ids_t *ids) {
    if (count > RECON_IDS_MAX)
        return false;
    for (size_t i = 0; i < count; i++)
        if (list[i].len != CA_NEG_ID_BYTES)
            return false;
    ids->ids = count ? zmalloc(count * CA_NEG_ID_BYTES) : NULL;
    ids->count = ids->capacity = count;
    for (size_t i = 0; i < count; i++)
        memcpy(ids->ids[i], list[i].data, CA_NEG_ID_BYTES);
    ca_neg_ids_sort(ids);
    return true;
}

static bool s_on_want(peer_recon_t *self, peer_recon_peer_t *peer,
                      const Cairn__Peer__ReconWant *want) {
    const char *channel = NULL;
    char err[SYNC_SETS_ERR_BYTES];
    ca_neg_ids_t ids = {0};
    if (!s_window(peer->state, true))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "more ReconWants and ReconOffers than a reconciliation needs");
    if (!sync_sets_parse(want->set, &channel, err) || !channel ||
        !s_ids(want->items, want->n_items, &ids))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED,
                     "a ReconWant without a channel set or with ids not of 32 bytes, or too many");
    //  Membership is checked again when each is sent (peer_gossip_send_id).
    if (s_member(self, channel, peer->table_id))
        peer->state->moved += s_queue_messages(self, peer->state, channel, &ids);
    ca_neg_ids_free(&ids);
    return true;
}

static bool s_on_offer(peer_recon_t *self, peer_recon_peer_t *peer,
                       const Cairn__Peer__ReconOffer *offer) {
    ca_neg_ids_t ids = {0};
    if (!s_window(peer->state, true))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
                     "more ReconWants and ReconOffers than a reconciliation needs");
    if (!s_ids(offer->hashes, offer->n_hashes, &ids))
        return s_cut(self, peer, CAIRN__PEER__ERROR__CODE__MALFORMED,
                     "a ReconOffer with hashes not of 32 bytes, or too many");
    size_t before = zlistx_size(peer->state->fetches);
    s_queue_fetches(self, peer->state, (const uint8_t(*)[32])ids.ids, ids.count);
    peer->state->moved += zlistx_size(peer->state->fetches) - before;
    ca_neg_ids_free(&ids);
    return true;
}

static bool s_on_refused(peer_recon_t *self, peer_recon_peer_t *peer,
                         const Cairn__Peer__ReconRefused *refused) {
    peer_recon_session_t *state = peer->state;
    if (!state->running || !state->awaiting ||
        strcmp(refused->set, state->sets[state->set_index]) != 0)
        return true; //  not asked: dropped
    ca_log_notice("peer_recon: %.16s does not reconcile %.64s: %.200s", peer->peer_id, refused->set,
                  refused->reason);
    if (state->client) {
        state->client_status = CA_UNAVAILABLE;
        snprintf(state->client_error, sizeof state->client_error,
                 "the peer refused the set: %.150s", refused->reason);
    }
    state->awaiting = false;
    state->set_index++;
    s_set_open(self, peer);
    return true;
}

bool peer_recon_on_message(peer_recon_t *self, peer_recon_peer_t *peer,
                           const Cairn__Peer__PeerMessage *message) {
    if (!peer->state->send_ids) //  not online through peer_recon_online
        return false;
    switch (message->kind_case) {
        case CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REQUEST:
            return s_on_request(self, peer, message->recon_request);
        case CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REPLY:
            return s_on_reply(self, peer, message->recon_reply);
        case CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REFUSED:
            return s_on_refused(self, peer, message->recon_refused);
        case CAIRN__PEER__PEER_MESSAGE__KIND_RECON_WANT:
            return s_on_want(self, peer, message->recon_want);
        case CAIRN__PEER__PEER_MESSAGE__KIND_RECON_OFFER:
            return s_on_offer(self, peer, message->recon_offer);
        default:
            return false;
    }
}

//  ---- every turn ---------------------------------------------------------------------------

void peer_recon_tick(peer_recon_t *self, peer_recon_peer_t *peer) {
    peer_recon_session_t *state = peer->state;
    if (!state->send_ids)
        return;
    int64_t now = zclock_mono();
    if (state->running && now - state->run_started > RECON_RUN_MS) {
        s_cut(self, peer, CAIRN__PEER__ERROR__CODE__LIMIT,
              "set reconciliation ran past its time bound");
        return;
    }
    if (state->running && state->awaiting && now > state->step_deadline)
        s_run_end(self, peer, "no answer in time");
    else if (state->running && state->has_pending)
        s_push(self, peer);
    else if (!state->running && state->next_run && now >= state->next_run)
        s_run_start(self, peer);
    if (!state->send_ids)
        return; //  cut off meanwhile
    zframe_t *frame;
    while ((frame = (zframe_t *)zlistx_first(state->out))) {
        Cairn__Peer__PeerMessage *message =
            cairn__peer__peer_message__unpack(NULL, zframe_size(frame), zframe_data(frame));
        int rc = message ? self->host.send(self->host.host, peer->handle, message) : 0;
        if (message)
            cairn__peer__peer_message__free_unpacked(message, NULL);
        if (rc != 0)
            break;
        zlistx_delete(state->out, zlistx_cursor(state->out));
    }
    //  Messages go in GossipBatch frames of up to PEER_GOSSIP_BATCH_MAX.
    const char *ids[PEER_GOSSIP_BATCH_MAX];
    size_t taken = 1;
    while (taken && zlistx_size(state->send_ids)) {
        size_t count = 0;
        for (const char *id = (const char *)zlistx_first(state->send_ids);
             id && count < PEER_GOSSIP_BATCH_MAX; id = (const char *)zlistx_next(state->send_ids))
            ids[count++] = id;
        taken = self->host.send_messages(self->host.host, peer->handle, ids, count);
        for (size_t i = 0; i < taken && zlistx_first(state->send_ids); i++)
            zlistx_delete(state->send_ids, zlistx_cursor(state->send_ids));
        if (taken < count)
            break; //  the window or the in-flight bound: next turn
    }
    const uint8_t *hash;
    while ((hash = (const uint8_t *)zlistx_first(state->fetches))) {
        if (!s_holds(self, hash) && self->host.fetch(self->host.host, peer->peer_id, hash) != 0)
            break;
        zlistx_delete(state->fetches, zlistx_cursor(state->fetches));
    }
}

//  ---- a client's PeerReconcile ------------------------------------------------------------

//  Answers a client: OK with the figures of `state`'s run (NULL: an error).
static void s_client_answer(peer_recon_t *self, peer_recon_session_t *state, zframe_t **worker,
                            uint64_t id, ca_status_t status, const char *text) {
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    Cairn__PeerReconciled done = CAIRN__PEER_RECONCILED__INIT;
    response.id = id;
    response.status = (Cairn__Status)status;
    response.error = (char *)(text ? text : "");
    if (state) {
        done.set = state->n_sets ? state->sets[0] : "";
        done.have = state->client_have;
        done.need = state->client_need;
        done.rounds = state->rounds;
        done.bytes = state->bytes;
        done.items = state->items ? ca_neg_set_size(state->items) : 0;
        done.dry_run = state->dry_run;
        response.body_case = CAIRN__RESPONSE__BODY_PEER_RECONCILE;
        response.peer_reconcile = &done;
    }
    self->host.answer(self->host.host, worker, &response);
}

void peer_recon_ask(peer_recon_t *self, peer_recon_peer_t *peer, zframe_t **worker,
                    const Cairn__Request *request) {
    const Cairn__PeerReconcile *ask = request->peer_reconcile;
    const char *channel = NULL;
    char err[SYNC_SETS_ERR_BYTES], text[300];
    if (!sync_sets_parse(ask->set, &channel, err)) {
        s_client_answer(self, NULL, worker, request->id, CA_INVALID, err);
        return;
    }
    if (!peer) {
        snprintf(text, sizeof text,
                 "no online session with peer '%.70s'; see cairn peer sessions (connect it with "
                 "cairn peer connect)",
                 ask->peer_id);
        s_client_answer(self, NULL, worker, request->id, CA_NOT_FOUND, text);
        return;
    }
    peer_recon_session_t *state = peer->state;
    if (!state->speaks) {
        s_client_answer(self, NULL, worker, request->id, CA_UNAVAILABLE,
                        "the peer does not speak set reconciliation (an older node)");
        return;
    }
    if (state->running || state->client) {
        s_client_answer(self, NULL, worker, request->id, CA_CONFLICT,
                        "a reconciliation with this peer is under way; retry in a moment");
        return;
    }
    s_run_free(state);
    state->client = *worker;
    *worker = NULL;
    state->client_id = request->id;
    state->dry_run = ask->dry_run;
    state->client_have = state->client_need = 0;
    state->client_status = CA_OK;
    state->client_error[0] = '\0';
    state->sets = (char **)zmalloc(sizeof(char *));
    state->sets[state->n_sets++] = strdup(ask->set);
    s_run_go(self, peer);
}

/*  =========================================================================
    peer_gossip - messages by gossip between peer sessions

    Outgoing. No actor tells the peer actor that a message was stored: it
    reads the messages table on its read-only connection. Each session
    keeps a cursor, the `seq` (rowid) of the last row it was sent or passed
    over; a session starts at the newest row when it comes online, and each
    turn reads at most PEER_GOSSIP_BATCH_MAX rows after its cursor, so a
    slow peer (its in-flight bytes full) waits on its own cursor and holds
    no one else up. A peer whose Hello lists GossipBatch gets the rows of a
    turn in one frame (up to PEER_GOSSIP_BATCH_BYTES); one that lists only
    GossipMessage gets a frame per message. When a turn stopped at the row
    bound the peer actor comes back at once instead of at its timer. A row
    goes to the session's peer when that peer (its peers-table id) is a
    member of the row's channel here, its signature verifies against the
    sender's key (peers row of sender_id, not
    blocked), and its ttl is not spent: a row the gossip cache holds
    arrived from a peer with that ttl and leaves with ttl - 1; a row it
    does not hold is this node's own (or older than gossip_max_age_s) and
    leaves with gossip_ttl. What is not sent is passed over, for good.

    Incoming (peer_gossip_receive): malformed (the message does not
    decode, ttl outside 1..255): cut off. Seen (pending here, in the gossip
    cache or in the messages table): dropped. The sending peer not a member
    of the channel here, the sender unknown or blocked: dropped. A bad
    signature: dropped and counted; PEER_GOSSIP_BAD_MAX of them: cut off.
    Else the message is queued; GossipAdd(id, ttl) and MessageStore(message)
    go as ONE Batch to the batch pool, so the cache entry (the ttl the
    outgoing side reads) and the row are committed together or not at all;
    MessageStore applies the messages store's own rules (channel, sizes,
    signature mode) again. At most PEER_GOSSIP_OUTSTANDING Batches are
    unanswered at a time (the rest wait in the queue, in arrival order; a
    BUSY answer puts one back at its head). Until the pool answers, the id
    is pending here, so a second copy that arrives meanwhile is dropped
    instead of failing as a duplicate.

    Nothing accepted is dropped for lack of room: each queued or unanswered
    message holds its share of its frame's bytes against the session, and
    the session's heartbeats acknowledge bytes_in minus what is held
    (peer_gossip_held), so the sender's in-flight credit runs out while
    this node's batch pool is behind. A session holding more than
    peer_in_flight_bytes + PEER_MAX_FRAME ignored that credit: cut off.

    Not here: catching up. Only rows stored while a session is online are
    gossiped to it; a node that was offline gets what it missed from the
    set reconciliation of issue 16. A row whose seq SQLite reuses (the
    newest row deleted, then another stored) is not seen by cursors that
    passed it.
    ========================================================================= */

#include "peer_gossip.h"
#include "ca_clock.h"
#include "peer.h"
#include "ca_log.h"
#include "ca_store.h"
#include "cairn.pb-c.h"
#include "message_encoding.h"
#include "messages_schema.h"

#include <string.h>

#define VERIFIED_SLOTS 256 //  per-row signature checks remembered (all sessions read the same rows)

typedef struct {
    int64_t seq;
    bool ok;
} verified_t;

//  A received message on its way to the batch pool: queued (request 0) or
//  submitted and not yet answered.
typedef struct {
    char *id;
    uint64_t epoch; //  the session it came from
    uint64_t share; //  bytes of its frame it holds against that session
    uint32_t ttl;
    Cairn__Message *message; //  unpacked, owned
    uint64_t request;        //  the Batch's request id; 0 while queued
    int64_t sent_at;         //  mono, when submitted
} held_t;

struct _peer_gossip_t {
    ca_sql_t *sql;
    zsock_t *batch; //  DEALER to the batch pool
    uint32_t ttl;
    uint64_t in_flight;   //  peer_in_flight_bytes
    int64_t newest;       //  max(seq) of messages at this turn
    zhashx_t *pending;    //  message id -> held_t (owns them)
    zlistx_t *queue;      //  held_t not yet submitted, in arrival order
    zhashx_t *by_request; //  request id (text) -> held_t submitted
    zhashx_t *held_bytes; //  session epoch (text) -> uint64_t bytes held
    uint64_t request_id;
    uint64_t epochs;
    int64_t expired_at; //  mono of the last expiry sweep
    verified_t verified[VERIFIED_SLOTS];
};

static void s_held_destroy(held_t **self_p) {
    held_t *self = *self_p;
    if (!self)
        return;
    if (self->message)
        cairn__message__free_unpacked(self->message, NULL);
    free(self->id);
    free(self);
    *self_p = NULL;
}

peer_gossip_t *peer_gossip_new(ca_sql_t *sql, uint32_t ttl, uint64_t in_flight, char **error) {
    peer_gossip_t *self = (peer_gossip_t *)zmalloc(sizeof(peer_gossip_t));
    self->sql = sql;
    self->ttl = ttl;
    self->in_flight = in_flight;
    self->pending = zhashx_new();
    zhashx_set_destructor(self->pending, (zhashx_destructor_fn *)s_held_destroy);
    self->queue = zlistx_new();
    self->by_request = zhashx_new();
    self->held_bytes = zhashx_new();
    zhashx_set_destructor(self->held_bytes, (zhashx_destructor_fn *)zstr_free);
    self->batch = zsock_new(ZMQ_DEALER);
    char *endpoint = ca_store_endpoint("batch", 0);
    if (!self->batch || zsock_connect(self->batch, "%s", endpoint) != 0) {
        *error = zsys_sprintf("peer: cannot connect to the batch pool %s", endpoint);
        zstr_free(&endpoint);
        peer_gossip_destroy(&self);
        return NULL;
    }
    zstr_free(&endpoint);
    zsock_set_sndhwm(self->batch, PEER_GOSSIP_OUTSTANDING * 2);
    for (size_t i = 0; i < VERIFIED_SLOTS; i++)
        self->verified[i].seq = -1;
    return self;
}

void peer_gossip_destroy(peer_gossip_t **self_p) {
    peer_gossip_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->batch);
    zlistx_destroy(&self->queue);
    zhashx_destroy(&self->by_request);
    zhashx_destroy(&self->held_bytes);
    zhashx_destroy(&self->pending); //  last: it owns what the others point to
    free(self);
    *self_p = NULL;
}

static int64_t s_newest(peer_gossip_t *self) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT coalesce(max(seq), 0) FROM messages");
    int64_t newest = self->newest;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        newest = sqlite3_column_int64(stmt, 0);
    if (stmt)
        sqlite3_reset(stmt);
    return newest;
}

void peer_gossip_online(peer_gossip_t *self, peer_gossip_session_t *session,
                        const Cairn__Peer__Hello *hello) {
    session->cursor = self->newest = s_newest(self);
    session->epoch = ++self->epochs;
    session->bad = 0;
    session->speaks = session->batches = false;
    for (size_t i = 0; i < hello->n_kinds; i++) {
        session->speaks |= hello->kinds[i] == PEER_GOSSIP_KIND;
        session->batches |= hello->kinds[i] == PEER_GOSSIP_BATCH_KIND;
    }
    session->batches &= session->speaks;
}

//  ---- bytes held against sessions ------------------------------------------------------

static uint64_t *s_held_slot(peer_gossip_t *self, uint64_t epoch, bool make) {
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, epoch);
    uint64_t *slot = (uint64_t *)zhashx_lookup(self->held_bytes, key);
    if (!slot && make) {
        slot = (uint64_t *)zmalloc(sizeof *slot);
        zhashx_insert(self->held_bytes, key, slot);
    }
    return slot;
}

uint64_t peer_gossip_held(peer_gossip_t *self, const peer_gossip_session_t *session) {
    uint64_t *slot = s_held_slot(self, session->epoch, false);
    return slot ? *slot : 0;
}

//  `held` is stored or given up: it no longer holds bytes or its id.
static void s_settle(peer_gossip_t *self, held_t *held) {
    uint64_t *slot = s_held_slot(self, held->epoch, false);
    if (slot && (*slot -= held->share) == 0) {
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, held->epoch);
        zhashx_delete(self->held_bytes, key);
    }
    if (held->request) {
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, held->request);
        zhashx_delete(self->by_request, key);
    }
    zhashx_delete(self->pending, held->id); //  frees it
}

//  Whether `sql` with one or two text parameters finds a row.
static bool s_exists(peer_gossip_t *self, const char *sql, const char *one, const char *two) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, sql);
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, one, -1, SQLITE_STATIC);
    if (two)
        sqlite3_bind_text(stmt, 2, two, -1, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return found;
}

static bool s_member(peer_gossip_t *self, const char *channel, const char *member_id) {
    return *member_id && s_exists(self, "SELECT 1 FROM members WHERE channel = ?1 AND peer_id = ?2",
                                  channel, member_id);
}

typedef enum { SENDER_OK, SENDER_UNKNOWN, SENDER_BLOCKED, SENDER_BAD } sender_t;

//  The message's signature against its sender's key (the peers row named
//  by sender_id), as MessageStore checks it.
static sender_t s_check_sender(peer_gossip_t *self, const Cairn__Message *message) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT public_key, blocked FROM peers WHERE peer_id = ?1");
    if (!stmt)
        return SENDER_UNKNOWN;
    sqlite3_bind_text(stmt, 1, message->sender_id ? message->sender_id : "", -1, SQLITE_STATIC);
    sender_t verdict = SENDER_UNKNOWN;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32) {
        uint8_t key[32];
        memcpy(key, sqlite3_column_blob(stmt, 0), 32);
        verdict = sqlite3_column_int(stmt, 1)                                    ? SENDER_BLOCKED
                  : message->signature.len == 64 && message_verify(message, key) ? SENDER_OK
                                                                                 : SENDER_BAD;
    }
    sqlite3_reset(stmt);
    return verdict;
}

//  ---- incoming ------------------------------------------------------------------------

static void s_pack_into(Cairn__Request *request, ProtobufCBinaryData *out) {
    out->len = cairn__request__get_packed_size(request);
    out->data = (uint8_t *)zmalloc(out->len ? out->len : 1);
    cairn__request__pack(request, out->data);
}

//  GossipAdd + MessageStore, one Batch to the batch pool. -1: its queue is full.
static int s_store(peer_gossip_t *self, Cairn__Message *message, uint32_t ttl) {
    Cairn__GossipAdd add = CAIRN__GOSSIP_ADD__INIT;
    add.message_id = message->id;
    add.ttl = ttl;
    Cairn__MessageStore store = CAIRN__MESSAGE_STORE__INIT;
    store.message = message;
    Cairn__Request parts[2] = {CAIRN__REQUEST__INIT, CAIRN__REQUEST__INIT};
    parts[0].id = 1;
    parts[0].body_case = CAIRN__REQUEST__BODY_GOSSIP_ADD;
    parts[0].gossip_add = &add;
    parts[1].id = 2;
    parts[1].body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
    parts[1].message_store = &store;
    ProtobufCBinaryData packed[2];
    s_pack_into(&parts[0], &packed[0]);
    s_pack_into(&parts[1], &packed[1]);
    Cairn__Batch batch = CAIRN__BATCH__INIT;
    batch.requests = packed;
    batch.n_requests = 2;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = self->request_id + 1;
    request.body_case = CAIRN__REQUEST__BODY_BATCH;
    request.batch = &batch;
    size_t size = cairn__request__get_packed_size(&request);
    zframe_t *frames[2] = {zframe_new("peer", 4), zframe_new(NULL, size)};
    cairn__request__pack(&request, zframe_data(frames[1]));
    int rc = ca_send_frames(self->batch, frames, 2);
    zframe_destroy(&frames[0]);
    zframe_destroy(&frames[1]);
    free(packed[0].data);
    free(packed[1].data);
    if (rc == 0)
        self->request_id++;
    return rc;
}

//  Queued messages to the batch pool, while fewer than
//  PEER_GOSSIP_OUTSTANDING are unanswered.
static void s_submit(peer_gossip_t *self) {
    held_t *held;
    while (zhashx_size(self->by_request) < PEER_GOSSIP_OUTSTANDING &&
           (held = (held_t *)zlistx_first(self->queue))) {
        if (s_store(self, held->message, held->ttl) != 0)
            return; //  the pool's socket is full: next turn
        zlistx_detach_cur(self->queue);
        held->request = self->request_id;
        held->sent_at = zclock_mono();
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, held->request);
        zhashx_insert(self->by_request, key, held);
    }
}

//  One GossipMessage holding `share` bytes of its frame.
static const char *s_receive_one(peer_gossip_t *self, peer_gossip_session_t *session,
                                 const char *member_id, const Cairn__Peer__GossipMessage *gossip,
                                 uint64_t share) {
    if (gossip->ttl < 1 || gossip->ttl > 255)
        return "a GossipMessage with a ttl outside 1..255";
    Cairn__Message *message =
        cairn__message__unpack(NULL, gossip->message.len, gossip->message.data);
    if (!message || message->base.n_unknown_fields > 0 || !message->id || !*message->id ||
        strlen(message->id) > 128 || !message->channel || !*message->channel) {
        if (message)
            cairn__message__free_unpacked(message, NULL);
        return "a GossipMessage whose message is not a cairn.Message with an id and a channel";
    }
    const char *why = NULL;
    if (zhashx_lookup(self->pending, message->id) ||
        s_exists(self, "SELECT 1 FROM gossip WHERE message_id = ?1", message->id, NULL) ||
        s_exists(self, "SELECT 1 FROM messages WHERE id = ?1", message->id, NULL))
        ; //  seen
    else if (!s_member(self, message->channel, member_id))
        ca_log_debug("peer: gossip %.64s dropped: peer %.64s is not a member of channel %.64s",
                     message->id, member_id, message->channel);
    else {
        sender_t sender = s_check_sender(self, message);
        if (sender == SENDER_BAD) {
            session->bad++;
            ca_log_warning("peer: gossip %.64s from peer %.64s dropped: its signature is not "
                           "the key of sender %.64s (%u of %d)",
                           message->id, member_id, message->sender_id, session->bad,
                           PEER_GOSSIP_BAD_MAX);
            if (session->bad >= PEER_GOSSIP_BAD_MAX)
                why = "gossip with bad signatures";
        } else if (sender != SENDER_OK)
            ca_log_debug("peer: gossip %.64s dropped: sender %.64s is %s here", message->id,
                         message->sender_id, sender == SENDER_BLOCKED ? "blocked" : "unknown");
        else {
            held_t *held = (held_t *)zmalloc(sizeof *held);
            held->id = strdup(message->id);
            held->epoch = session->epoch;
            held->share = share;
            held->ttl = gossip->ttl;
            held->message = message;
            message = NULL;
            zhashx_insert(self->pending, held->id, held);
            zlistx_add_end(self->queue, held);
            *s_held_slot(self, held->epoch, true) += share;
        }
    }
    if (message)
        cairn__message__free_unpacked(message, NULL);
    return why;
}

const char *peer_gossip_receive(peer_gossip_t *self, peer_gossip_session_t *session,
                                const char *member_id, const Cairn__Peer__PeerMessage *message,
                                size_t size, Cairn__Peer__Error__Code *code) {
    *code = CAIRN__PEER__ERROR__CODE__MALFORMED;
    const char *why = NULL;
    if (message->kind_case == PEER_GOSSIP_KIND)
        why = s_receive_one(self, session, member_id, message->gossip_message, size);
    else {
        const Cairn__Peer__GossipBatch *batch = message->gossip_batch;
        if (batch->n_messages == 0 || batch->n_messages > PEER_GOSSIP_BATCH_MAX)
            return "a GossipBatch of no message or more than 256";
        //  Each message holds an equal share; the first the remainder too,
        //  so that the shares add up to the frame.
        uint64_t share = size / batch->n_messages;
        for (size_t i = 0; i < batch->n_messages && !why; i++)
            why = s_receive_one(self, session, member_id, batch->messages[i],
                                share + (i == 0 ? size % batch->n_messages : 0));
    }
    if (!why && peer_gossip_held(self, session) > self->in_flight + PEER_MAX_FRAME) {
        *code = CAIRN__PEER__ERROR__CODE__LIMIT;
        why = "gossip sent past its credit (unacknowledged bytes over peer_in_flight_bytes)";
    }
    s_submit(self);
    return why;
}

zsock_t *peer_gossip_socket(peer_gossip_t *self) {
    return self->batch;
}

//  ---- every turn ------------------------------------------------------------------------

void peer_gossip_tick(peer_gossip_t *self) {
    zmsg_t *msg;
    for (int i = 0; i < 256 && (msg = ca_recv_waiting(self->batch)); i++) {
        zframe_t *last = zmsg_last(msg);
        Cairn__Response *response =
            last ? cairn__response__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, response ? response->id : 0);
        held_t *held = response ? (held_t *)zhashx_lookup(self->by_request, key) : NULL;
        if (held && response->status == CAIRN__STATUS__BUSY) {
            //  The pool's queue was full (other callers): again, first.
            zhashx_delete(self->by_request, key);
            held->request = 0;
            zlistx_add_start(self->queue, held);
        } else if (held) {
            //  CONFLICT: stored meanwhile (a copy through another client or peer).
            if (response->status != CAIRN__STATUS__OK &&
                response->status != CAIRN__STATUS__CONFLICT)
                ca_log_warning("peer: gossiped message %.64s was not stored: %s", held->id,
                               response->error);
            s_settle(self, held);
        }
        if (response)
            cairn__response__free_unpacked(response, NULL);
        zmsg_destroy(&msg);
    }
    //  An answer lost (the node stopping): unanswered for
    //  PEER_GOSSIP_PENDING_MS at most. Checked once a second.
    int64_t now = zclock_mono();
    if (zhashx_size(self->by_request) && now - self->expired_at >= 1000) {
        self->expired_at = now;
        zlistx_t *expired = zlistx_new();
        for (held_t *held = (held_t *)zhashx_first(self->by_request); held;
             held = (held_t *)zhashx_next(self->by_request))
            if (now - held->sent_at >= PEER_GOSSIP_PENDING_MS)
                zlistx_add_end(expired, held);
        for (held_t *held = (held_t *)zlistx_first(expired); held;
             held = (held_t *)zlistx_next(expired)) {
            ca_log_warning("peer: gossiped message %.64s: no answer from the batch pool", held->id);
            s_settle(self, held);
        }
        zlistx_destroy(&expired);
    }
    s_submit(self);
    self->newest = s_newest(self);
}

//  ---- outgoing ------------------------------------------------------------------------

//  Whether row `seq` (`message`) may be gossiped at all: remembered per seq.
static bool s_row_ok(peer_gossip_t *self, int64_t seq, const Cairn__Message *message) {
    verified_t *slot = &self->verified[(uint64_t)seq % VERIFIED_SLOTS];
    if (slot->seq != seq) {
        slot->seq = seq;
        slot->ok = s_check_sender(self, message) == SENDER_OK;
        if (!slot->ok)
            ca_log_debug("peer: message %.64s is not gossiped: no valid signature of a known, "
                         "unblocked sender",
                         message->id);
    }
    return slot->ok;
}

//  The ttl row `id` leaves with: 0 when spent.
static uint32_t s_ttl_out(peer_gossip_t *self, const char *id) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT ttl FROM gossip WHERE message_id = ?1");
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int64_t ttl = self->ttl;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        ttl = sqlite3_column_int64(stmt, 0) - 1;
    sqlite3_reset(stmt);
    return ttl > 0 ? (uint32_t)(ttl > 255 ? 255 : ttl) : 0;
}

//  Packs `message` into `gossip` with `ttl` (its message is the caller's
//  to free).
static void s_pack_gossip(const Cairn__Message *message, uint32_t ttl,
                          Cairn__Peer__GossipMessage *gossip) {
    cairn__peer__gossip_message__init(gossip);
    gossip->ttl = ttl;
    gossip->message.len = cairn__message__get_packed_size(message);
    gossip->message.data = (uint8_t *)zmalloc(gossip->message.len + 1);
    cairn__message__pack(message, gossip->message.data);
}

//  Row `seq` of `stmt` as a GossipMessage for `member_id` (its message
//  packed; caller frees), or false when that peer is not to have it.
static bool s_gossip_of(peer_gossip_t *self, sqlite3_stmt *stmt, int64_t seq, const char *member_id,
                        Cairn__Peer__GossipMessage *gossip) {
    Cairn__Message message;
    messages_schema_row(stmt, &message);
    uint32_t ttl = 0;
    if (!s_member(self, message.channel, member_id) || !(ttl = s_ttl_out(self, message.id)) ||
        !s_row_ok(self, seq, &message))
        return false;
    s_pack_gossip(&message, ttl, gossip);
    return true;
}

static int s_send_one(peer_gossip_send_fn *send, void *ctx, void *handle,
                      Cairn__Peer__GossipMessage *gossip) {
    Cairn__Peer__PeerMessage out = CAIRN__PEER__PEER_MESSAGE__INIT;
    out.kind_case = PEER_GOSSIP_KIND;
    out.gossip_message = gossip;
    return send(ctx, handle, &out);
}

static int s_send_batch(peer_gossip_send_fn *send, void *ctx, void *handle,
                        Cairn__Peer__GossipMessage **gossips, size_t count) {
    Cairn__Peer__GossipBatch batch = CAIRN__PEER__GOSSIP_BATCH__INIT;
    batch.messages = gossips;
    batch.n_messages = count;
    Cairn__Peer__PeerMessage out = CAIRN__PEER__PEER_MESSAGE__INIT;
    out.kind_case = PEER_GOSSIP_BATCH_KIND;
    out.gossip_batch = &batch;
    return send(ctx, handle, &out);
}

//  Whether the session's window of this second has room for a frame
//  (PEER_GOSSIP_PER_S frames, PEER_GOSSIP_BYTES_PER_S bytes).
static bool s_room(const peer_gossip_session_t *session) {
    return session->window_sent < PEER_GOSSIP_PER_S &&
           session->window_bytes < PEER_GOSSIP_BYTES_PER_S;
}

//  Opens the per-second window of a session; false when it is full.
static bool s_window_open(peer_gossip_session_t *session) {
    int64_t now = zclock_mono();
    if (now - session->window_start >= 1000) {
        session->window_start = now;
        session->window_sent = 0;
        session->window_bytes = 0;
    }
    return s_room(session);
}

//  A frame of `bytes` went.
static void s_sent(peer_gossip_session_t *session, size_t bytes) {
    session->window_sent++;
    session->window_bytes += bytes;
}

//  What one turn sends a session: messages collected into one GossipBatch,
//  or each sent alone to a peer that does not speak it.
typedef struct {
    peer_gossip_send_fn *send;
    void *ctx, *handle;
    Cairn__Peer__GossipMessage items[PEER_GOSSIP_BATCH_MAX];
    Cairn__Peer__GossipMessage *batch[PEER_GOSSIP_BATCH_MAX];
    size_t count, bytes;
} outgoing_t;

//  The slot the next message is packed into.
static Cairn__Peer__GossipMessage *s_next_slot(outgoing_t *out) {
    return &out->items[out->count];
}

//  Takes the message packed into the next slot: kept for the batch, or
//  sent alone now. False when that send was refused (in flight full).
static bool s_offer(peer_gossip_session_t *session, outgoing_t *out) {
    Cairn__Peer__GossipMessage *gossip = s_next_slot(out);
    if (session->batches) {
        out->batch[out->count++] = gossip;
        out->bytes += gossip->message.len;
        return true;
    }
    int rc = s_send_one(out->send, out->ctx, out->handle, gossip);
    size_t sent = gossip->message.len;
    free(gossip->message.data);
    if (rc != 0)
        return false;
    s_sent(session, sent);
    return true;
}

//  Sends the batch collected (if any) and frees it; false when refused.
static bool s_send_collected(peer_gossip_session_t *session, outgoing_t *out) {
    if (!out->count)
        return true;
    bool sent = s_send_batch(out->send, out->ctx, out->handle, out->batch, out->count) == 0;
    if (sent)
        s_sent(session, out->bytes);
    for (size_t i = 0; i < out->count; i++)
        free(out->batch[i]->message.data);
    out->count = out->bytes = 0;
    return sent;
}

size_t peer_gossip_send_ids(peer_gossip_t *self, peer_gossip_session_t *session,
                            const char *member_id, const char *const *ids, size_t count,
                            peer_gossip_send_fn *send, void *ctx, void *handle) {
    if (!session->speaks)
        return count; //  nothing goes to it: all of them are done with
    if (!s_window_open(session))
        return 0;
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT " MESSAGES_ROW_COLUMNS " FROM messages WHERE id = ?1");
    if (!stmt)
        return 0;
    count = count < PEER_GOSSIP_BATCH_MAX ? count : PEER_GOSSIP_BATCH_MAX;
    outgoing_t out = {.send = send, .ctx = ctx, .handle = handle};
    size_t handled = 0;
    for (size_t i = 0; i < count && out.bytes < PEER_GOSSIP_BATCH_BYTES; i++) {
        sqlite3_bind_text(stmt, 1, ids[i], -1, SQLITE_STATIC);
        bool found = false;
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            Cairn__Message message;
            messages_schema_row(stmt, &message);
            if (s_member(self, message.channel, member_id) &&
                s_row_ok(self, sqlite3_column_int64(stmt, 0), &message)) {
                uint32_t ttl = s_ttl_out(self, message.id);
                s_pack_gossip(&message, ttl ? ttl : 1, s_next_slot(&out));
                found = true;
            }
        }
        sqlite3_reset(stmt);
        if (found && !s_offer(session, &out))
            break; //  in flight full: this one and the rest later
        handled = i + 1;
        if (!session->batches && !s_window_open(session))
            break;
    }
    if (!s_send_collected(session, &out))
        handled = 0; //  in flight full: all of them again later
    return handled;
}

bool peer_gossip_flush(peer_gossip_t *self, peer_gossip_session_t *session, const char *member_id,
                       peer_gossip_send_fn *send, void *ctx, void *handle) {
    if (!session->speaks || session->cursor >= self->newest || !s_window_open(session))
        return false;
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT " MESSAGES_ROW_COLUMNS
                                  " FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    if (!stmt)
        return false;
    sqlite3_bind_int64(stmt, 1, session->cursor);
    sqlite3_bind_int(stmt, 2, PEER_GOSSIP_BATCH_MAX);
    //  Batched: the rows passed go back to `start` when the frame does not go.
    int64_t start = session->cursor;
    outgoing_t out = {.send = send, .ctx = ctx, .handle = handle};
    bool refused = false;
    while (s_room(session) && out.bytes < PEER_GOSSIP_BATCH_BYTES &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(stmt, 0);
        if (s_gossip_of(self, stmt, seq, member_id, s_next_slot(&out)) && !s_offer(session, &out)) {
            refused = true;
            break; //  in flight full: this row again next turn
        }
        session->cursor = seq;
    }
    sqlite3_reset(stmt);
    if (!s_send_collected(session, &out)) {
        refused = true;
        session->cursor = start; //  in flight full: these rows again next turn
    }
    return !refused && s_room(session) && session->cursor < self->newest;
}

//  ---- self-test ------------------------------------------------------------------------

#include "ca_testbed.h"

#include <assert.h>
#include <sodium.h>

#define TEST_CONTENT 4000

//  A GossipBatch of `count` messages signed by `secret`, ids from `first`;
//  its packed size in *size_p. Caller frees with s_test_batch_free.
static Cairn__Peer__PeerMessage *s_test_batch(const uint8_t *secret, size_t first, size_t count,
                                              size_t *size_p) {
    static uint8_t content[TEST_CONTENT];
    Cairn__Peer__PeerMessage *out = (Cairn__Peer__PeerMessage *)zmalloc(sizeof *out);
    cairn__peer__peer_message__init(out);
    Cairn__Peer__GossipBatch *batch = (Cairn__Peer__GossipBatch *)zmalloc(sizeof *batch);
    cairn__peer__gossip_batch__init(batch);
    batch->messages = (Cairn__Peer__GossipMessage **)zmalloc((count + 1) * sizeof(void *));
    for (size_t i = 0; i < count; i++) {
        char id[32];
        snprintf(id, sizeof id, "m-%zu", first + i);
        uint8_t signature[64];
        Cairn__Message message = CAIRN__MESSAGE__INIT;
        message.id = id;
        message.timestamp = 1700000000.0 + (double)(first + i);
        message.sender_id = "signer";
        message.sender_name = "";
        message.channel = "#g";
        message.content = (ProtobufCBinaryData){TEST_CONTENT, content};
        assert(message_sign(&message, secret, signature));
        message.signature = (ProtobufCBinaryData){64, signature};
        Cairn__Peer__GossipMessage *gossip = (Cairn__Peer__GossipMessage *)zmalloc(sizeof *gossip);
        cairn__peer__gossip_message__init(gossip);
        gossip->ttl = 3;
        gossip->message.len = cairn__message__get_packed_size(&message);
        gossip->message.data = (uint8_t *)zmalloc(gossip->message.len);
        cairn__message__pack(&message, gossip->message.data);
        batch->messages[batch->n_messages++] = gossip;
    }
    out->version = 1;
    out->kind_case = PEER_GOSSIP_BATCH_KIND;
    out->gossip_batch = batch;
    *size_p = cairn__peer__peer_message__get_packed_size(out);
    return out;
}

static void s_test_batch_free(Cairn__Peer__PeerMessage *out) {
    for (size_t i = 0; i < out->gossip_batch->n_messages; i++) {
        free(out->gossip_batch->messages[i]->message.data);
        free(out->gossip_batch->messages[i]);
    }
    free(out->gossip_batch->messages);
    free(out->gossip_batch);
    free(out);
}

//  What a session holds against its credit, with no batch pool answering:
//  each accepted message's share of its frame, nothing for what is seen or
//  dropped, and a cut-off once it passes peer_in_flight_bytes + a frame.
void peer_gossip_test(bool verbose) {
    if (verbose)
        printf(" * peer_gossip: ");
    assert(sodium_init() >= 0);
    char *dir = ca_test_tempdir("cairn-peer-gossip");
    char *path = zsys_sprintf("%s/cairn.db", dir);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    size_t from, to;
    assert(!ca_schema_migrate(ca_sql_handle(sql), &messages_schema, &from, &to));
    uint8_t public_key[32], secret[64];
    crypto_sign_keypair(public_key, secret);
    sqlite3_stmt *stmt = ca_sql_prepare(sql, "INSERT INTO peers (peer_id, public_key, address,"
                                             " port, created_at) VALUES ('signer', ?1, 'h', 1, 0)");
    sqlite3_bind_blob(stmt, 1, public_key, 32, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_reset(stmt);
    assert(ca_sql_exec(sql, "INSERT INTO members VALUES ('#g', 'member', 0)") == 0);

    //  No batch pool answers (nothing is bound at its endpoint here).
    peer_gossip_t *self = peer_gossip_new(sql, 8, 65536, &error);
    assert(self);
    peer_gossip_session_t session = {0};
    uint32_t kinds[] = {PEER_GOSSIP_KIND, PEER_GOSSIP_BATCH_KIND};
    Cairn__Peer__Hello hello = CAIRN__PEER__HELLO__INIT;
    hello.kinds = kinds;
    hello.n_kinds = 2;
    peer_gossip_online(self, &session, &hello);
    assert(session.speaks && session.batches && peer_gossip_held(self, &session) == 0);

    //  A frame of 250 accepted messages holds all of its bytes.
    size_t size_one, size_two, size_seen;
    Cairn__Peer__Error__Code code;
    Cairn__Peer__PeerMessage *one = s_test_batch(secret, 0, 250, &size_one);
    assert(size_one > 1000000 && size_one < 65536 + PEER_MAX_FRAME);
    assert(!peer_gossip_receive(self, &session, "member", one, size_one, &code));
    assert(peer_gossip_held(self, &session) == size_one);
    //  The same messages again: seen, nothing more held; from a non-member:
    //  dropped, nothing held.
    assert(!peer_gossip_receive(self, &session, "member", one, size_one, &code));
    assert(!peer_gossip_receive(self, &session, "stranger", one, size_one, &code));
    assert(peer_gossip_held(self, &session) == size_one);
    //  A second frame of new ones passes peer_in_flight_bytes + a frame:
    //  the sender ignored its credit.
    Cairn__Peer__PeerMessage *two = s_test_batch(secret, 250, 200, &size_two);
    const char *why = peer_gossip_receive(self, &session, "member", two, size_two, &code);
    assert(why && code == CAIRN__PEER__ERROR__CODE__LIMIT);
    //  Another session starts with nothing held.
    peer_gossip_session_t other = {0};
    peer_gossip_online(self, &other, &hello);
    assert(peer_gossip_held(self, &other) == 0);
    Cairn__Peer__PeerMessage *seen = s_test_batch(secret, 0, 3, &size_seen);
    assert(!peer_gossip_receive(self, &other, "member", seen, size_seen, &code));
    assert(peer_gossip_held(self, &other) == 0);
    //  Empty and oversized batches are malformed.
    size_t n = seen->gossip_batch->n_messages;
    seen->gossip_batch->n_messages = 0;
    assert(peer_gossip_receive(self, &other, "member", seen, size_seen, &code));
    seen->gossip_batch->n_messages = PEER_GOSSIP_BATCH_MAX + 1;
    assert(peer_gossip_receive(self, &other, "member", seen, size_seen, &code));
    seen->gossip_batch->n_messages = n;
    s_test_batch_free(one);
    s_test_batch_free(two);
    s_test_batch_free(seen);
    peer_gossip_destroy(&self);
    ca_sql_destroy(&sql);
    ca_test_rmtree(dir);
    zstr_free(&path);
    zstr_free(&dir);
    if (verbose)
        printf("OK\n");
}

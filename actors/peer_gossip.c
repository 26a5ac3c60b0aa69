/*  =========================================================================
    peer_gossip - messages by gossip between peer sessions

    Outgoing. No actor tells the peer actor that a message was stored: it
    reads the messages table on its read-only connection. Each session
    keeps a cursor, the `seq` (rowid) of the last row it was sent or passed
    over; a session starts at the newest row when it comes online, and each
    turn reads at most PEER_GOSSIP_ROWS rows after its cursor, so a slow
    peer (its in-flight bytes full) waits on its own cursor and holds no
    one else up. A row goes to the session's peer when that peer (its
    peers-table id) is a member of the row's channel here, its signature
    verifies against the sender's key (peers row of sender_id, not
    blocked), and its ttl is not spent: a row the gossip cache holds
    arrived from a peer with that ttl and leaves with ttl - 1; a row it
    does not hold is this node's own (or older than gossip_max_age_s) and
    leaves with gossip_ttl. What is not sent is passed over, for good.

    Incoming (peer_gossip_receive): malformed (the message does not
    decode, ttl outside 1..255): cut off. Seen (pending here, in the gossip
    cache or in the messages table): dropped. The sending peer not a member
    of the channel here, the sender unknown or blocked: dropped. A bad
    signature: dropped and counted; PEER_GOSSIP_BAD_MAX of them: cut off.
    Else GossipAdd(id, ttl) and MessageStore(message) go as ONE Batch to
    the batch pool, so the cache entry (the ttl the outgoing side reads)
    and the row are committed together or not at all; MessageStore applies
    the messages store's own rules (channel, sizes, signature mode) again.
    Until the pool answers, the id is pending here, so a second copy that
    arrives meanwhile is dropped instead of failing as a duplicate.

    Not here: catching up. Only rows stored while a session is online are
    gossiped to it; a node that was offline gets what it missed from the
    set reconciliation of issue 16. A row whose seq SQLite reuses (the
    newest row deleted, then another stored) is not seen by cursors that
    passed it.
    ========================================================================= */

#include "peer_gossip.h"
#include "ca_clock.h"
#include "ca_log.h"
#include "ca_store.h"
#include "cairn.pb-c.h"
#include "message_encoding.h"

#include <string.h>

#define VERIFIED_SLOTS 256 //  per-row signature checks remembered (all sessions read the same rows)

typedef struct {
    int64_t seq;
    bool ok;
} verified_t;

struct _peer_gossip_t {
    ca_sql_t *sql;
    zsock_t *batch; //  DEALER to the batch pool
    uint32_t ttl;
    int64_t newest;       //  max(seq) of messages at this turn
    zhashx_t *pending;    //  message id -> its request id (text)
    zhashx_t *by_request; //  request id (text) -> message id and the mono time sent
    uint64_t request_id;
    int64_t expired_at; //  mono of the last expiry sweep
    verified_t verified[VERIFIED_SLOTS];
};

peer_gossip_t *peer_gossip_new(ca_sql_t *sql, uint32_t ttl, char **error) {
    peer_gossip_t *self = (peer_gossip_t *)zmalloc(sizeof(peer_gossip_t));
    self->sql = sql;
    self->ttl = ttl;
    self->pending = zhashx_new();
    zhashx_set_destructor(self->pending, (zhashx_destructor_fn *)zstr_free);
    self->by_request = zhashx_new();
    zhashx_set_destructor(self->by_request, (zhashx_destructor_fn *)zstr_free);
    self->batch = zsock_new(ZMQ_DEALER);
    char *endpoint = ca_store_endpoint("batch", 0);
    if (!self->batch || zsock_connect(self->batch, "%s", endpoint) != 0) {
        *error = zsys_sprintf("peer: cannot connect to the batch pool %s", endpoint);
        zstr_free(&endpoint);
        peer_gossip_destroy(&self);
        return NULL;
    }
    zstr_free(&endpoint);
    zsock_set_sndhwm(self->batch, PEER_GOSSIP_PENDING);
    for (size_t i = 0; i < VERIFIED_SLOTS; i++)
        self->verified[i].seq = -1;
    return self;
}

void peer_gossip_destroy(peer_gossip_t **self_p) {
    peer_gossip_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->batch);
    zhashx_destroy(&self->pending);
    zhashx_destroy(&self->by_request);
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
    session->bad = 0;
    session->speaks = false;
    for (size_t i = 0; i < hello->n_kinds; i++)
        session->speaks |= hello->kinds[i] == PEER_GOSSIP_KIND;
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
    request.id = ++self->request_id;
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
    return rc;
}

const char *peer_gossip_receive(peer_gossip_t *self, peer_gossip_session_t *session,
                                const char *member_id, const Cairn__Peer__GossipMessage *gossip) {
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
        else if (zhashx_size(self->pending) >= PEER_GOSSIP_PENDING ||
                 s_store(self, message, gossip->ttl) != 0)
            ca_log_warning("peer: gossip %.64s dropped: the batch pool is behind", message->id);
        else {
            char key[24];
            snprintf(key, sizeof key, "%" PRIu64, self->request_id);
            zhashx_insert(self->pending, message->id, strdup(key));
            zhashx_insert(self->by_request, key,
                          zsys_sprintf("%" PRId64 " %s", zclock_mono(), message->id));
        }
    }
    cairn__message__free_unpacked(message, NULL);
    return why;
}

//  ---- every turn ------------------------------------------------------------------------

//  Request `key` answered or expired: its message is no longer pending.
static void s_settle(peer_gossip_t *self, const char *key) {
    const char *entry = (const char *)zhashx_lookup(self->by_request, key);
    const char *id = entry ? strchr(entry, ' ') : NULL;
    if (id)
        zhashx_delete(self->pending, id + 1);
    zhashx_delete(self->by_request, key);
}

void peer_gossip_tick(peer_gossip_t *self) {
    zmsg_t *msg;
    for (int i = 0; i < 256 && (msg = ca_recv_waiting(self->batch)); i++) {
        zframe_t *last = zmsg_last(msg);
        Cairn__Response *response =
            last ? cairn__response__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
        //  CONFLICT: stored meanwhile (a copy through another client or peer).
        if (response && response->status != CAIRN__STATUS__OK &&
            response->status != CAIRN__STATUS__CONFLICT)
            ca_log_warning("peer: a gossiped message was not stored: %s", response->error);
        if (response) {
            char key[24];
            snprintf(key, sizeof key, "%" PRIu64, response->id);
            s_settle(self, key);
            cairn__response__free_unpacked(response, NULL);
        }
        zmsg_destroy(&msg);
    }
    //  An answer lost (the node stopping): pending for PEER_GOSSIP_PENDING_MS
    //  at most. Checked once a second.
    int64_t now = zclock_mono();
    if (zhashx_size(self->by_request) && now - self->expired_at >= 1000) {
        self->expired_at = now;
        zlistx_t *keys = zhashx_keys(self->by_request);
        for (const char *key = (const char *)zlistx_first(keys); key;
             key = (const char *)zlistx_next(keys)) {
            const char *entry = (const char *)zhashx_lookup(self->by_request, key);
            if (entry && now - strtoll(entry, NULL, 10) >= PEER_GOSSIP_PENDING_MS)
                s_settle(self, key);
        }
        zlistx_destroy(&keys);
    }
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

static const char *s_text(sqlite3_stmt *stmt, int column) {
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? text : "";
}

//  The message of a row of MESSAGE_COLUMNS (borrowed from the statement).
#define MESSAGE_COLUMNS                                                                            \
    "seq, id, timestamp, sender_id, sender_name, channel, content, encrypted, signature, nonce"
static void s_row_message(sqlite3_stmt *stmt, Cairn__Message *message) {
    message->id = (char *)s_text(stmt, 1);
    message->timestamp = sqlite3_column_double(stmt, 2);
    message->sender_id = (char *)s_text(stmt, 3);
    message->sender_name = (char *)s_text(stmt, 4);
    message->channel = (char *)s_text(stmt, 5);
    message->content.data = (uint8_t *)sqlite3_column_blob(stmt, 6);
    message->content.len = (size_t)sqlite3_column_bytes(stmt, 6);
    message->encrypted = sqlite3_column_int(stmt, 7) != 0;
    message->signature.data = (uint8_t *)sqlite3_column_blob(stmt, 8);
    message->signature.len = (size_t)sqlite3_column_bytes(stmt, 8);
    message->nonce.data = (uint8_t *)sqlite3_column_blob(stmt, 9);
    message->nonce.len = (size_t)sqlite3_column_bytes(stmt, 9);
}

//  Sends `message` as a GossipMessage with `ttl`: send's answer.
static int s_send_message(const Cairn__Message *message, uint32_t ttl, peer_gossip_send_fn *send,
                          void *ctx, void *handle) {
    Cairn__Peer__GossipMessage gossip = CAIRN__PEER__GOSSIP_MESSAGE__INIT;
    gossip.ttl = ttl;
    gossip.message.len = cairn__message__get_packed_size(message);
    gossip.message.data = (uint8_t *)zmalloc(gossip.message.len + 1);
    cairn__message__pack(message, gossip.message.data);
    Cairn__Peer__PeerMessage out = CAIRN__PEER__PEER_MESSAGE__INIT;
    out.kind_case = PEER_GOSSIP_KIND;
    out.gossip_message = &gossip;
    int rc = send(ctx, handle, &out);
    free(gossip.message.data);
    return rc;
}

//  Opens the per-second window of a session; false when it is full.
static bool s_window_open(peer_gossip_session_t *session) {
    int64_t now = zclock_mono();
    if (now - session->window_start >= 1000) {
        session->window_start = now;
        session->window_sent = 0;
    }
    return session->window_sent < PEER_GOSSIP_PER_S;
}

int peer_gossip_send_id(peer_gossip_t *self, peer_gossip_session_t *session, const char *member_id,
                        const char *id, peer_gossip_send_fn *send, void *ctx, void *handle) {
    if (!session->speaks)
        return 0;
    if (!s_window_open(session))
        return -1;
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1");
    if (!stmt)
        return -1;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        Cairn__Message message = CAIRN__MESSAGE__INIT;
        s_row_message(stmt, &message);
        if (s_member(self, message.channel, member_id) &&
            s_row_ok(self, sqlite3_column_int64(stmt, 0), &message)) {
            uint32_t ttl = s_ttl_out(self, message.id);
            rc = s_send_message(&message, ttl ? ttl : 1, send, ctx, handle);
            if (rc == 0)
                session->window_sent++;
        }
    }
    sqlite3_reset(stmt);
    return rc;
}

void peer_gossip_flush(peer_gossip_t *self, peer_gossip_session_t *session, const char *member_id,
                       peer_gossip_send_fn *send, void *ctx, void *handle) {
    if (!session->speaks || session->cursor >= self->newest)
        return;
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    if (!stmt)
        return;
    sqlite3_bind_int64(stmt, 1, session->cursor);
    sqlite3_bind_int(stmt, 2, PEER_GOSSIP_ROWS);
    while (s_window_open(session) && sqlite3_step(stmt) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(stmt, 0);
        Cairn__Message message = CAIRN__MESSAGE__INIT;
        s_row_message(stmt, &message);
        uint32_t ttl = 0;
        if (s_member(self, message.channel, member_id) && (ttl = s_ttl_out(self, message.id)) &&
            s_row_ok(self, seq, &message)) {
            if (s_send_message(&message, ttl, send, ctx, handle) != 0)
                break; //  in flight full: this row again next turn
            session->window_sent++;
        }
        session->cursor = seq;
    }
    sqlite3_reset(stmt);
}

/*  =========================================================================
    peer - the node's peer network: endpoint, dialing, sessions

    What it owns: the peer endpoint (a ROUTER on tcp, CURVE server with the
    key pair derived from the node's Ed25519 identity, ZAP domain "peer"
    decided by peer_admission), one DEALER per node it dials, and the table
    of sessions in its own memory. It is one actor (one thread): it reads
    the peers table read-only on its own connection and writes what it
    learns (online, offline, last_seen, new peers) as ordinary client
    requests (PeerPut, PeerStatus) to the peers pool, so the peers store's
    rules apply to them too. Operators reach it through the pool "sessions"
    (actors/sessions.c), whose worker forwards PeerConnect, PeerDisconnect
    and PeerSessions here over PEER_CONTROL_ENDPOINT.

    A session, per connection (wire: schemas/peer.proto):

                 dial / accept
                      |
                      v        Hello both ways, key checked
                  DIALING --------------------------------> ONLINE
                   |   ^                                     |
         silence,  |   | retry_at                 silence, Goodbye,
         Error     v   |                          Error, blocked, flood
                  BACKOFF <----------------------------------+
                  (dialed only; an accepted session is forgotten)

        transition                      function
        dial (known peer, bootstrap,    s_dial
          PeerConnect)
        Hello received                  s_on_hello
        heartbeat due, silence          s_tick
        peers table changed             s_sync_table (blocks, new rows)
        end of a session                s_session_end

    Flows: message gossip is actors/peer_gossip.c (peer_gossip_receive from
    s_on_message, peer_gossip_tick and peer_gossip_flush per online session
    from s_tick, sending through s_send). Set reconciliation is
    actors/peer_recon.c, plugged in the same way (peer_recon_online from
    s_on_hello, peer_recon_on_message from s_on_message, peer_recon_tick
    per online session from s_tick, peer_recon_end when a session ends),
    sending through the host functions s_recon_*. Operation log sync is
    actors/peer_oplog.c (Hello.topics and kinds from it, peer_oplog_online
    in s_on_hello, peer_oplog_on_message from s_on_message, its tick in the
    loop, its figures in PeerSessions; it sends and cuts off through the
    same host functions as content fetch).

    Invariants and bounds:
    - One session per peer id. When both nodes dial each other, the
      connection dialed by the smaller peer id is kept and the other gets
      Error DUPLICATE; both sides decide the same (s_keep_new).
    - The first message of a connection is Hello; its peer_id must be the
      Ed25519 key whose CURVE key the handshake authenticated (User-Id), so
      a peer id cannot be claimed by another node.
    - At most peer_max sessions, accepted and dialed together; frames at
      most PEER_MAX_FRAME (libzmq drops a bigger one's connection); per
      session at most PEER_MAX_MSGS_PER_S and PEER_MAX_BYTES_PER_S, past
      which the session is cut off and logged; towards a peer at most
      peer_in_flight_bytes not yet acknowledged by its heartbeats (s_send).
    - Cutting off an accepted connection: ROUTER has no per-peer close, so
      the descriptor the message came from (ZMQ_SRCFD) is shut down, as
      gateway_connections does with connections over max_clients; libzmq
      then closes it. A dialed connection is closed by destroying its
      DEALER.
    - Content fetch (PeerMessage kinds 40..42, client ContentFetch) lives in
      actors/peer_fetch.c; this file only plugs it in: a dispatch line in
      s_on_message, ContentFetch handed over in s_handle_control (answered
      later), its cache DEALER and tick in the loop, and the host
      functions (s_fetch_*) by which it sends to and cuts off sessions.
    - Redial backoff doubles from one heartbeat interval to
      PEER_BACKOFF_BEATS intervals; a peer that said Goodbye, or that the
      operator disconnected, is not redialed until PeerConnect names it.
    ========================================================================= */

#include "peer.h"
#include "peer_fetch.h"
#include "peer_gossip.h"
#include "peer_recon.h"
#include "peer_oplog.h"
#include "ca_clock.h"
#include "ca_curve.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_sql.h"
#include "ca_store.h"
#include "ca_validate.h"
#include "cairn.pb-c.h"
#include "peer.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum { S_DIALING, S_ONLINE, S_BACKOFF } state_t;

#define SUPPRESS_DIAL ((void *)1)
#define SUPPRESS_ALL  ((void *)2)

typedef struct {
    char peer_id[65];                //  hex Ed25519 key ("" for an accepted one before Hello)
    char table_id[129];              //  its peer_id in the peers table ("" when not there)
    uint8_t ed_public[32];           //  dialed: the key dialed; accepted: from Hello
    char user_id[CA_CURVE_Z85_SIZE]; //  accepted: the CURVE key ZAP admitted
    char address[64];
    uint32_t port;
    bool outgoing;
    zsock_t *dealer;      //  dialed
    zframe_t *routing_id; //  accepted
    int fd;               //  accepted: the descriptor of its last message
    //  ... and the address at its other end when it was noted, so that a
    //  delayed shutdown never hits a descriptor number reused since.
    struct sockaddr_storage remote;
    socklen_t remote_len;
    state_t state;
    bool hello_sent;
    int64_t since_mono;
    double since;
    int64_t last_recv_mono;
    double last_recv;
    int64_t heartbeat_at;      //  next heartbeat due (mono)
    int64_t last_seen_written; //  mono of the last PeerStatus ONLINE
    uint64_t bytes_in, bytes_out, acked;
    int64_t backoff_ms;
    int64_t retry_at;
    char node_name[PEER_NODE_NAME_MAX + 1];
    int64_t closing_at;   //  accepted, cut off: its descriptor is shut then (0: not)
    int64_t window_start; //  flood window (mono)
    uint64_t window_msgs, window_bytes;
    peer_gossip_session_t gossip; //  its message gossip (peer_gossip.c)
    peer_recon_session_t recon;   //  its set reconciliation (peer_recon.c)
} session_t;

typedef struct {
    zsock_t *pipe;
    zpoller_t *poller;
    bool terminated;
    peer_config_t config;
    char *endpoint; //  bound, resolved
    char *bootstrap;
    char *db_path;
    char *peers_endpoint;
    char *data_dir;       //  ContentFetch
    char *cache_endpoint; //  ContentFetch
    char peer_id[65];
    char node_name[PEER_NODE_NAME_MAX + 1];
    zsock_t *router;  //  the peer endpoint
    zsock_t *control; //  ROUTER on PEER_CONTROL_ENDPOINT
    zsock_t *peers;   //  DEALER to the peers pool
    ca_sql_t *sql;
    session_t **sessions;
    size_t count;
    //  Peer ids not to dial: SUPPRESS_DIAL after its Goodbye (its dials are
    //  welcome), SUPPRESS_ALL after PeerDisconnect (refused too).
    zhashx_t *suppressed;
    int64_t data_version;
    int64_t table_checked;
    uint64_t write_id;
    uint64_t cut_off;      //  sessions cut off for misbehaviour, since start
    peer_fetch_t *fetch;   //  ContentFetch (actors/peer_fetch.c)
    peer_gossip_t *gossip; //  message gossip (actors/peer_gossip.c)
    bool hurry;            //  a gossip flush stopped at its row bound
    peer_recon_t *recon;   //  set reconciliation (actors/peer_recon.c)
    peer_oplog_t *oplog;   //  operation log sync (actors/peer_oplog.c)
} self_t;

//  ---- small helpers ------------------------------------------------------------------

static void s_hex(const uint8_t key[32], char hex[65]) {
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

//  A peer id (64 hex digits, either case) as an Ed25519 key that has a
//  CURVE key: true with both filled.
static bool s_key_of(const char *peer_id, uint8_t ed[32], ca_curve_key_t *curve) {
    if (!peer_id || strlen(peer_id) != 64 || !ca_hash_from_hex(peer_id, ed))
        return false;
    ca_curve_key_t scratch;
    return ca_curve_key_from_ed25519(ed, NULL, curve ? curve : &scratch) == 0;
}

static bool s_address_ok(const char *text, char canonical[64]) {
    unsigned char buffer[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, text, buffer) == 1)
        return inet_ntop(AF_INET, buffer, canonical, 64) != NULL;
    if (inet_pton(AF_INET6, text, buffer) == 1)
        return inet_ntop(AF_INET6, buffer, canonical, 64) != NULL;
    return false;
}

bool peer_parse_address(const char *text, char peer_id[65], char address[64], uint32_t *port,
                        char *problem, size_t size) {
    const char *at = strchr(text, '@');
    if (!at || at - text != 64) {
        snprintf(problem, size, "'%.80s' does not start with a peer id (64 hex digits) and '@'",
                 text);
        return false;
    }
    memcpy(peer_id, text, 64);
    peer_id[64] = 0;
    uint8_t ed[32];
    if (!s_key_of(peer_id, ed, NULL)) {
        snprintf(problem, size, "'%.64s' is not a node key (64 hex digits of an Ed25519 key)",
                 peer_id);
        return false;
    }
    const char *host = at + 1;
    const char *colon = strrchr(host, ':');
    char literal[64];
    size_t length = colon ? (size_t)(colon - host) : 0;
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']') {
        host++;
        length -= 2;
    }
    if (!colon || length == 0 || length >= sizeof literal) {
        snprintf(problem, size, "'%.80s' has no ADDRESS:PORT after '@'", text);
        return false;
    }
    memcpy(literal, host, length);
    literal[length] = 0;
    char *end = NULL;
    long number = strtol(colon + 1, &end, 10);
    if (!s_address_ok(literal, address)) {
        snprintf(problem, size, "'%s' is not an IPv4 or IPv6 literal", literal);
        return false;
    }
    if (!*(colon + 1) || *end || number < 1 || number > 65535) {
        snprintf(problem, size, "port '%.16s' is not in 1..65535", colon + 1);
        return false;
    }
    *port = (uint32_t)number;
    return true;
}

static const char *s_state_name(state_t state) {
    return state == S_ONLINE ? "online" : state == S_DIALING ? "dialing" : "backoff";
}

//  ---- writes through the peers pool ----------------------------------------------------

//  Sends a client request to the peers pool; its answer is only logged
//  when it failed (s_handle_peers).
static void s_peers_request(self_t *self, Cairn__Request *request) {
    request->id = ++self->write_id;
    size_t size = cairn__request__get_packed_size(request);
    zframe_t *frames[2] = {zframe_new("peer", 4), zframe_new(NULL, size)};
    cairn__request__pack(request, zframe_data(frames[1]));
    if (ca_send_frames(self->peers, frames, 2) != 0)
        ca_log_warning("peer: the peers pool is full; a peer state update was dropped");
    zframe_destroy(&frames[0]);
    zframe_destroy(&frames[1]);
}

static void s_write_status(self_t *self, session_t *session, Cairn__PeerState state,
                           double last_seen) {
    if (!*session->table_id)
        return;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__PeerStatus status = CAIRN__PEER_STATUS__INIT;
    status.peer_id = session->table_id;
    status.state = state;
    status.last_seen = last_seen;
    request.body_case = CAIRN__REQUEST__BODY_PEER_STATUS;
    request.peer_status = &status;
    s_peers_request(self, &request);
}

//  Finds the peers-table row of `ed` (by key); fills table_id. False when
//  none (or it cannot be read). *blocked set when found.
static bool s_table_row(self_t *self, const uint8_t ed[32], char table_id[129], bool *blocked) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql,
        "SELECT peer_id, blocked FROM peers WHERE public_key = ?1 ORDER BY blocked DESC");
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, ed, 32, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    if (found) {
        snprintf(table_id, 129, "%s", (const char *)sqlite3_column_text(stmt, 0));
        *blocked = sqlite3_column_int(stmt, 1) != 0;
    }
    sqlite3_reset(stmt);
    return found;
}

//  A session just came online: the peers table learns it (a new row for a
//  peer it did not have, else its state).
static void s_record_online(self_t *self, session_t *session) {
    bool blocked = false;
    if (!s_table_row(self, session->ed_public, session->table_id, &blocked)) {
        Cairn__Request request = CAIRN__REQUEST__INIT;
        Cairn__PeerPut put = CAIRN__PEER_PUT__INIT;
        Cairn__Peer peer = CAIRN__PEER__INIT;
        peer.peer_id = session->peer_id;
        peer.public_key.data = session->ed_public;
        peer.public_key.len = 32;
        peer.display_name = session->node_name;
        peer.address = session->address;
        peer.port = session->port;
        peer.state = CAIRN__PEER_STATE__PEER_ONLINE;
        peer.last_seen = ca_now_seconds();
        put.peer = &peer;
        request.body_case = CAIRN__REQUEST__BODY_PEER_PUT;
        request.peer_put = &put;
        s_peers_request(self, &request);
        snprintf(session->table_id, sizeof session->table_id, "%s", session->peer_id);
    } else
        s_write_status(self, session, CAIRN__PEER_STATE__PEER_ONLINE, 0);
    session->last_seen_written = zclock_mono();
}

//  Answers of the peers pool: logged when one failed.
static void s_handle_peers(self_t *self) {
    zmsg_t *msg;
    for (int i = 0; i < 64 && (msg = ca_recv_waiting(self->peers)); i++) {
        zframe_t *last = zmsg_last(msg);
        Cairn__Response *response =
            last ? cairn__response__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
        if (response && response->status != CAIRN__STATUS__OK)
            ca_log_warning("peer: the peers store refused an update: %s", response->error);
        if (response)
            cairn__response__free_unpacked(response, NULL);
        zmsg_destroy(&msg);
    }
}

//  ---- sending ---------------------------------------------------------------------------

//  Sends `message` on the session without blocking. Control messages
//  (Hello, Heartbeat, Goodbye, Error) always go when libzmq takes them;
//  any other kind only while the bytes not yet acknowledged by the peer's
//  heartbeats stay under peer_in_flight_bytes. -1 when it did not go (the
//  caller retries later or drops it: it is never queued here).
static int s_send(self_t *self, session_t *session, Cairn__Peer__PeerMessage *message) {
    message->version = PEER_PROTOCOL_VERSION;
    size_t size = cairn__peer__peer_message__get_packed_size(message);
    bool control = message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_HELLO ||
                   message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_HEARTBEAT ||
                   message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_GOODBYE ||
                   message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_ERROR;
    if (!control &&
        session->bytes_out - session->acked + size > (uint64_t)self->config.in_flight_bytes)
        return -1;
    if (session->outgoing && !session->dealer)
        return -1; //  a dial in backoff (e.g. the loser of a duplicate): nothing to send on
    zframe_t *body = zframe_new(NULL, size);
    cairn__peer__peer_message__pack(message, zframe_data(body));
    int rc;
    if (session->outgoing) {
        rc = ca_send_frames(session->dealer, &body, 1);
    } else {
        zframe_t *frames[2] = {session->routing_id, body};
        rc = ca_send_frames(self->router, frames, 2);
    }
    zframe_destroy(&body);
    if (rc == 0)
        session->bytes_out += size;
    return rc;
}

static void s_send_error(self_t *self, session_t *session, Cairn__Peer__Error__Code code,
                         const char *text) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Error error = CAIRN__PEER__ERROR__INIT;
    error.code = code;
    error.message = (char *)text;
    error.version = PEER_PROTOCOL_VERSION;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_ERROR;
    message.error = &error;
    s_send(self, session, &message);
}

static void s_send_goodbye(self_t *self, session_t *session, const char *reason) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Goodbye goodbye = CAIRN__PEER__GOODBYE__INIT;
    goodbye.reason = (char *)reason;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_GOODBYE;
    message.goodbye = &goodbye;
    s_send(self, session, &message);
}

static void s_send_hello(self_t *self, session_t *session) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Hello hello = CAIRN__PEER__HELLO__INIT;
    hello.peer_id = self->peer_id;
    hello.node_name = self->node_name;
    char *colon = strrchr(self->endpoint, ':');
    hello.listen_port = colon ? (uint32_t)atoi(colon + 1) : 0;
    uint32_t kinds[] = {CAIRN__PEER__PEER_MESSAGE__KIND_HELLO,
                        CAIRN__PEER__PEER_MESSAGE__KIND_HEARTBEAT,
                        CAIRN__PEER__PEER_MESSAGE__KIND_GOODBYE,
                        CAIRN__PEER__PEER_MESSAGE__KIND_ERROR,
                        CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST,
                        CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK,
                        CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_MISSING,
                        PEER_GOSSIP_KIND,
                        PEER_GOSSIP_BATCH_KIND,
                        CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REQUEST,
                        CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REPLY,
                        CAIRN__PEER__PEER_MESSAGE__KIND_RECON_REFUSED,
                        CAIRN__PEER__PEER_MESSAGE__KIND_RECON_WANT,
                        CAIRN__PEER__PEER_MESSAGE__KIND_RECON_OFFER,
                        PEER_OPLOG_HEIGHTS_KIND,
                        PEER_OPLOG_OPS_KIND};
    hello.kinds = kinds;
    hello.n_kinds = sizeof kinds / sizeof kinds[0];
    uint8_t topics[PEER_INTEREST_MAX][32];
    ProtobufCBinaryData fields[PEER_INTEREST_MAX];
    hello.n_topics = self->oplog ? peer_oplog_topics(self->oplog, topics, PEER_INTEREST_MAX) : 0;
    for (size_t i = 0; i < hello.n_topics; i++)
        fields[i] = (ProtobufCBinaryData){32, topics[i]};
    hello.topics = fields;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_HELLO;
    message.hello = &hello;
    if (s_send(self, session, &message) == 0)
        session->hello_sent = true;
}

//  What a session's peer is told was received: bytes_in but for what its
//  gossip still holds (peer_gossip_held), the sender's in-flight credit.
static uint64_t s_consumed(self_t *self, session_t *session) {
    return session->bytes_in - peer_gossip_held(self->gossip, &session->gossip);
}

static void s_send_heartbeat(self_t *self, session_t *session) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Heartbeat beat = CAIRN__PEER__HEARTBEAT__INIT;
    beat.bytes_received = s_consumed(self, session);
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_HEARTBEAT;
    message.heartbeat = &beat;
    s_send(self, session, &message);
    session->heartbeat_at = zclock_mono() + self->config.heartbeat_ms;
}

//  ---- sessions --------------------------------------------------------------------------

static session_t *s_find_peer(self_t *self, const char *peer_id, session_t *other_than) {
    for (size_t i = 0; i < self->count; i++)
        if (self->sessions[i] != other_than && *self->sessions[i]->peer_id &&
            strcasecmp(self->sessions[i]->peer_id, peer_id) == 0)
            return self->sessions[i];
    return NULL;
}

static session_t *s_find_routing(self_t *self, zframe_t *routing_id) {
    for (size_t i = 0; i < self->count; i++)
        if (!self->sessions[i]->outgoing && zframe_eq(self->sessions[i]->routing_id, routing_id))
            return self->sessions[i];
    return NULL;
}

//  Sessions that count towards peer_max: all but those being cut.
static size_t s_live(self_t *self) {
    size_t live = 0;
    for (size_t i = 0; i < self->count; i++)
        live += self->sessions[i]->closing_at == 0;
    return live;
}

//  A new session; NULL at peer_max. With `closing`, one that is only
//  being refused (its Error leaving): up to PEER_CLOSING_MAX beyond.
static session_t *s_session_new(self_t *self, bool outgoing, bool closing) {
    if (closing ? self->count >= self->config.peer_max + PEER_CLOSING_MAX
                : s_live(self) >= self->config.peer_max ||
                      self->count >= self->config.peer_max + PEER_CLOSING_MAX)
        return NULL;
    session_t *session = (session_t *)zmalloc(sizeof(session_t));
    session->outgoing = outgoing;
    session->fd = -1;
    session->state = S_DIALING;
    session->since_mono = zclock_mono();
    session->since = ca_now_seconds();
    session->last_recv_mono = session->since_mono;
    session->window_start = session->since_mono;
    session->backoff_ms = self->config.heartbeat_ms;
    if (closing)
        session->closing_at = session->since_mono + PEER_LINGER_MS;
    self->sessions[self->count++] = session;
    return session;
}

static void s_close_socket(self_t *self, session_t *session) {
    if (session->dealer) {
        zpoller_remove(self->poller, session->dealer);
        zsock_destroy(&session->dealer);
    }
}

static void s_session_free(self_t *self, session_t *session) {
    for (size_t i = 0; i < self->count; i++)
        if (self->sessions[i] == session) {
            self->sessions[i] = self->sessions[--self->count];
            break;
        }
    s_close_socket(self, session);
    zframe_destroy(&session->routing_id);
    peer_recon_end(&session->recon);
    free(session);
}

//  Cuts an accepted connection: shuts its descriptor down (see the banner),
//  after checking it is a connected socket of the peer endpoint's port.
//  Notes the descriptor an accepted connection's message came from.
static void s_note_fd(session_t *session, int fd) {
    session->fd = fd;
    session->remote_len = sizeof session->remote;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&session->remote, &session->remote_len) != 0)
        session->remote_len = 0;
}

static void s_shutdown_fd(self_t *self, session_t *session) {
    if (session->outgoing || session->fd < 0)
        return;
    //  Still the same connection? (The peer may have closed it, and the
    //  number gone to the next connection accepted.)
    struct sockaddr_storage remote;
    socklen_t remote_length = sizeof remote;
    if (session->remote_len == 0 ||
        getpeername(session->fd, (struct sockaddr *)&remote, &remote_length) != 0 ||
        remote_length != session->remote_len ||
        memcmp(&remote, &session->remote, remote_length) != 0)
        return;
    struct sockaddr_storage local;
    socklen_t length = sizeof local;
    char *colon = strrchr(self->endpoint, ':');
    int port = colon ? atoi(colon + 1) : 0;
    if (getsockname(session->fd, (struct sockaddr *)&local, &length) != 0)
        return;
    int local_port = local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&local)->sin_port)
                     : local.ss_family == AF_INET6
                         ? ntohs(((struct sockaddr_in6 *)&local)->sin6_port)
                         : -1;
    if (local_port == port)
        shutdown(session->fd, SHUT_RDWR);
}

//  Ends a session. A dialed peer goes to BACKOFF unless `forget`; an
//  accepted one is forgotten. The peers table hears "offline" when no
//  other session with that peer remains.
static void s_session_end(self_t *self, session_t *session, bool forget, const char *why) {
    bool was_online = session->state == S_ONLINE;
    if (*session->peer_id)
        ca_log_info("peer: session %s %.16s (%s:%u) ended: %s", session->outgoing ? "to" : "from",
                    session->peer_id, session->address, session->port, why);
    if (was_online && !s_find_peer(self, session->peer_id, session))
        s_write_status(self, session, CAIRN__PEER_STATE__PEER_OFFLINE, session->last_recv);
    peer_recon_end(&session->recon);
    if (!session->outgoing || forget) {
        s_session_free(self, session);
        return;
    }
    s_close_socket(self, session);
    session->state = S_BACKOFF;
    session->hello_sent = false;
    session->since_mono = zclock_mono();
    session->since = ca_now_seconds();
    session->retry_at = session->since_mono + session->backoff_ms;
    int64_t most = self->config.heartbeat_ms * PEER_BACKOFF_BEATS;
    session->backoff_ms = session->backoff_ms * 2 > most ? most : session->backoff_ms * 2;
}

//  Ends a session for misbehaviour: Error to the peer, logged, cut.
static void s_cut_off(self_t *self, session_t *session, Cairn__Peer__Error__Code code,
                      const char *why) {
    self->cut_off++;
    ca_log_warning("peer: cut off %s %s:%u (peer %.16s): %s",
                   session->outgoing ? "dialed" : "accepted", session->address, session->port,
                   *session->peer_id ? session->peer_id : "unknown", why);
    s_send_error(self, session, code, why);
    if (session->outgoing) {
        s_session_end(self, session, false, why); //  the DEALER's linger sends the Error
        return;
    }
    //  An accepted connection: its descriptor is shut once the Error had
    //  time to leave; what it sends meanwhile is dropped.
    if (session->state == S_ONLINE && !s_find_peer(self, session->peer_id, session))
        s_write_status(self, session, CAIRN__PEER_STATE__PEER_OFFLINE, session->last_recv);
    session->state = S_DIALING;
    *session->peer_id = 0;
    session->closing_at = zclock_mono() + PEER_LINGER_MS;
    peer_recon_end(&session->recon);
}

//  (Re)opens the DEALER of a dialed session.
static void s_dial(self_t *self, session_t *session) {
    ca_curve_key_t server;
    if (ca_curve_key_from_ed25519(session->ed_public, NULL, &server) != 0)
        return;
    session->dealer = zsock_new(ZMQ_DEALER);
    if (!session->dealer) {
        session->state = S_BACKOFF;
        session->retry_at = zclock_mono() + session->backoff_ms;
        return;
    }
    zsock_set_linger(session->dealer, 100);
    zsock_set_sndhwm(session->dealer, PEER_SNDHWM);
    zsock_set_rcvhwm(session->dealer, PEER_SNDHWM);
    zsock_set_maxmsgsize(session->dealer, PEER_MAX_FRAME);
    zsock_set_immediate(session->dealer, 1);
    zsock_set_heartbeat_ivl(session->dealer, (int)self->config.heartbeat_ms);
    zsock_set_heartbeat_timeout(session->dealer,
                                (int)(self->config.heartbeat_ms * PEER_TIMEOUT_BEATS));
    zsock_set_heartbeat_ttl(session->dealer, (int)(self->config.heartbeat_ms * PEER_TIMEOUT_BEATS));
    ca_curve_key_apply_client(&self->config.curve_key, server.public_key, session->dealer);
    bool v6 = strchr(session->address, ':') != NULL;
    if (v6)
        zsock_set_ipv6(session->dealer, 1);
    zsock_connect(session->dealer, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", session->address,
                  session->port);
    zpoller_add(self->poller, session->dealer);
    session->state = S_DIALING;
    session->hello_sent = false;
    session->since_mono = zclock_mono();
    session->since = ca_now_seconds();
    session->last_recv_mono = session->since_mono;
    session->bytes_in = session->bytes_out = session->acked = 0;
}

//  A new dialed session to ed:address:port; NULL beyond peer_max.
static session_t *s_dial_new(self_t *self, const uint8_t ed[32], const char *address,
                             uint32_t port) {
    session_t *session = s_session_new(self, true, false);
    if (!session)
        return NULL;
    memcpy(session->ed_public, ed, 32);
    s_hex(ed, session->peer_id);
    snprintf(session->address, sizeof session->address, "%s", address);
    session->port = port;
    s_dial(self, session);
    return session;
}

//  Of two sessions with one peer, whether to keep the newer: of two in
//  the same direction the newer (the older is a connection the peer gave
//  up, e.g. before a restart); the newer over a dial that never connected;
//  else the one dialed by the smaller peer id, so both nodes choose the
//  same.
static bool s_keep_new(self_t *self, session_t *fresh, session_t *other) {
    if (fresh->outgoing == other->outgoing)
        return true;
    //  A dial whose connection never came up (its Hello could not leave:
    //  ZMQ_IMMEDIATE) loses to a session that works: the peer saw no
    //  competing Hello, so both sides still agree.
    if (other->outgoing && !other->hello_sent && other->state != S_ONLINE)
        return true;
    bool i_am_smaller = strcasecmp(self->peer_id, fresh->peer_id) < 0;
    return fresh->outgoing == i_am_smaller;
}

//  The session as peer_recon.c sees it.
static peer_recon_peer_t s_recon_peer(session_t *session) {
    peer_recon_peer_t peer = {&session->recon, session, session->peer_id, session->table_id};
    return peer;
}

//  Hello from the peer: checks, then the session is ONLINE.
static void s_on_hello(self_t *self, session_t *session, Cairn__Peer__Hello *hello) {
    uint8_t ed[32];
    ca_curve_key_t curve;
    if (!s_key_of(hello->peer_id, ed, &curve)) {
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__IDENTITY,
                  "Hello.peer_id is not a node key");
        return;
    }
    if (session->outgoing) {
        if (memcmp(ed, session->ed_public, 32) != 0) {
            s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__IDENTITY,
                      "Hello.peer_id is not the key dialed");
            return;
        }
    } else {
        char z85[CA_CURVE_Z85_SIZE];
        ca_curve_z85(curve.public_key, z85);
        if (!streq(z85, session->user_id)) {
            s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__IDENTITY,
                      "Hello.peer_id is not the key of this connection's CURVE handshake");
            return;
        }
        memcpy(session->ed_public, ed, 32);
        s_hex(ed, session->peer_id);
        if (hello->listen_port >= 1 && hello->listen_port <= 65535)
            session->port = hello->listen_port;
    }
    if (hello->n_channels > PEER_INTEREST_MAX || hello->n_topics > PEER_INTEREST_MAX) {
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__LIMIT,
                  "Hello names more channels or topics than PEER_INTEREST_MAX");
        return;
    }
    snprintf(session->node_name, sizeof session->node_name, "%s", hello->node_name);
    if (strcasecmp(session->peer_id, self->peer_id) == 0) {
        s_send_error(self, session, CAIRN__PEER__ERROR__CODE__DUPLICATE, "that is this node");
        s_session_end(self, session, true, "it is this node");
        return;
    }
    bool blocked = false;
    char table_id[129] = "";
    if (s_table_row(self, ed, table_id, &blocked) && blocked) {
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__BLOCKED, "blocked by this node");
        return;
    }
    if (!session->outgoing && zhashx_lookup(self->suppressed, session->peer_id) == SUPPRESS_ALL) {
        s_send_goodbye(self, session, "disconnected by the operator of this node");
        s_session_end(self, session, true, "disconnected by the operator");
        return;
    }
    session_t *other = s_find_peer(self, session->peer_id, session);
    if (other) {
        session_t *drop = s_keep_new(self, session, other) ? other : session;
        s_send_error(self, drop, CAIRN__PEER__ERROR__CODE__DUPLICATE, "a session exists already");
        bool dropping_fresh = drop == session;
        //  The kept session takes over the online state without an offline
        //  in between.
        if (!dropping_fresh)
            drop->state = S_DIALING;
        s_session_end(self, drop, true, "duplicate");
        if (dropping_fresh)
            return;
    }
    if (!session->outgoing)
        s_send_hello(self, session);
    session->state = S_ONLINE;
    session->since_mono = zclock_mono();
    session->since = ca_now_seconds();
    session->backoff_ms = self->config.heartbeat_ms;
    session->heartbeat_at = session->since_mono + self->config.heartbeat_ms;
    zhashx_delete(self->suppressed, session->peer_id);
    ca_log_info("peer: session %s %s (%s:%u, \"%s\") online", session->outgoing ? "to" : "from",
                session->peer_id, session->address, session->port, session->node_name);
    s_record_online(self, session);
    peer_gossip_online(self->gossip, &session->gossip, hello);
    peer_recon_peer_t peer = s_recon_peer(session);
    peer_recon_online(self->recon, &peer, hello);
    if (self->oplog)
        peer_oplog_online(self->oplog, session->peer_id, hello);
}

//  One message from a session's peer.
static void s_on_message(self_t *self, session_t *session, const uint8_t *data, size_t size) {
    int64_t now = zclock_mono();
    session->bytes_in += size;
    session->last_recv_mono = now;
    session->last_recv = ca_now_seconds();
    if (now - session->window_start >= 1000) {
        session->window_start = now;
        session->window_msgs = session->window_bytes = 0;
    }
    session->window_msgs++;
    if (session->window_msgs > PEER_MAX_MSGS_PER_S) {
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__LIMIT,
                  "flood: more than the messages per second a peer may send");
        return;
    }
    Cairn__Peer__PeerMessage *message = cairn__peer__peer_message__unpack(NULL, size, data);
    //  Bytes this node asked for (a fetch's chunks) are bounded by the
    //  fetch window, not by the flood bound.
    if (!message || !self->fetch || !peer_fetch_solicited(self->fetch, session->peer_id, message))
        session->window_bytes += size;
    if (session->window_bytes > PEER_MAX_BYTES_PER_S) {
        if (message)
            cairn__peer__peer_message__free_unpacked(message, NULL);
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__LIMIT,
                  "flood: more than the bytes per second a peer may send");
        return;
    }
    peer_recon_peer_t recon = s_recon_peer(session);
    if (!message || message->base.n_unknown_fields > 0) {
        if (message)
            cairn__peer__peer_message__free_unpacked(message, NULL);
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__MALFORMED,
                  "a frame that is not a PeerMessage of this version");
        return;
    }
    if (message->version != PEER_PROTOCOL_VERSION) {
        char why[128];
        snprintf(why, sizeof why, "protocol version %u is not spoken here (only %d)",
                 message->version, PEER_PROTOCOL_VERSION);
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__VERSION, why);
    } else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_HELLO) {
        if (session->state == S_ONLINE)
            s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__UNEXPECTED, "a second Hello");
        else
            s_on_hello(self, session, message->hello);
    } else if (!session->outgoing && session->state != S_ONLINE &&
               (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_ERROR ||
                message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_GOODBYE)) {
        //  An accepted connection that never said Hello ends as a cut-off
        //  (its descriptor shut), never as a freed session: else its next
        //  message would open a new one, with a fresh flood window.
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__UNEXPECTED,
                  "Error or Goodbye before Hello");
    } else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_ERROR) {
        if (*session->peer_id) //  else the answer to a connection this node dropped
            ca_log_notice("peer: %s:%u (peer %.16s) refused the session: %s (code %d)",
                          session->address, session->port, session->peer_id,
                          message->error->message, (int)message->error->code);
        bool final = message->error->code == CAIRN__PEER__ERROR__CODE__DUPLICATE ||
                     message->error->code == CAIRN__PEER__ERROR__CODE__BLOCKED;
        bool lasting = message->error->code == CAIRN__PEER__ERROR__CODE__VERSION ||
                       message->error->code == CAIRN__PEER__ERROR__CODE__IDENTITY ||
                       message->error->code == CAIRN__PEER__ERROR__CODE__LIMIT;
        if (session->outgoing && lasting) {
            //  Refused for a reason that may pass: retry, slowly.
            session->backoff_ms = self->config.heartbeat_ms * PEER_BACKOFF_BEATS;
        }
        s_session_end(self, session, final, "the peer sent Error");
    } else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_GOODBYE) {
        if (session->outgoing)
            zhashx_update(self->suppressed, session->peer_id, SUPPRESS_DIAL);
        s_session_end(self, session, true, "the peer said Goodbye");
    } else if (session->state != S_ONLINE) {
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__UNEXPECTED, "a message before Hello");
    } else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_HEARTBEAT) {
        if (message->heartbeat->bytes_received <= session->bytes_out)
            session->acked = message->heartbeat->bytes_received;
    } else if (message->kind_case == PEER_GOSSIP_KIND ||
               message->kind_case == PEER_GOSSIP_BATCH_KIND) {
        Cairn__Peer__Error__Code code;
        const char *why = peer_gossip_receive(self->gossip, &session->gossip, session->table_id,
                                              message, size, &code);
        if (why)
            s_cut_off(self, session, code, why);
    } else if (self->oplog && peer_oplog_on_message(self->oplog, session->peer_id, message)) {
        //  operation log sync: actors/peer_oplog.c
    } else if (self->fetch && peer_fetch_on_message(self->fetch, session->peer_id, message)) {
        //  content fetch: served or taken by actors/peer_fetch.c
    } else if (peer_recon_on_message(self->recon, &recon, message)) {
        //  set reconciliation: actors/peer_recon.c
    } else
        s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__UNEXPECTED,
                  "a message kind this node does not speak");
    cairn__peer__peer_message__free_unpacked(message, NULL);
}

//  At peer_max, an accepted connection takes the slot of a dial that is not
//  connected (BACKOFF, or DIALING whose Hello never left): else keys that
//  once completed a Hello in open mode, with listen ports nobody answers
//  on, would fill every slot with dead dials. True when one was freed.
static bool s_evict_dial(self_t *self) {
    for (size_t i = 0; i < self->count; i++) {
        session_t *session = self->sessions[i];
        if (session->outgoing && session->state != S_ONLINE && !session->hello_sent) {
            s_session_end(self, session, true, "its slot went to an accepted connection");
            return true;
        }
    }
    return false;
}

//  Messages on the peer endpoint: [routing id][PeerMessage]. Received with
//  libzmq's own calls, for the descriptor and metadata of each.
static void s_handle_router(self_t *self) {
    void *socket = zsock_resolve(self->router);
    for (int burst = 0; burst < CA_SERVE_BURST; burst++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&body);
        int parts = 1;
        bool ok = zmq_msg_more(&id) && zmq_msg_recv(&body, socket, 0) >= 0;
        parts += ok;
        //  Drain the rest of a message with more parts than ours.
        while (ok && zmq_msg_more(&body)) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, socket, 0) < 0)
                ok = false;
            zmq_msg_close(&extra);
            parts++;
        }
        zframe_t *routing_id = zframe_new(zmq_msg_data(&id), zmq_msg_size(&id));
        session_t *session = s_find_routing(self, routing_id);
        if (!session && ok) {
            session = s_session_new(self, false, false);
            if (!session && s_evict_dial(self))
                session = s_session_new(self, false, false);
            bool refused = !session;
            if (refused) //  over peer_max: its Error leaves, then it is cut
                session = s_session_new(self, false, true);
            if (refused && session) {
                session->routing_id = routing_id;
                routing_id = NULL;
                s_note_fd(session, zmq_msg_get(&body, ZMQ_SRCFD));
                s_send_error(self, session, CAIRN__PEER__ERROR__CODE__LIMIT,
                             "this node has its most peer sessions");
                ca_log_notice("peer: refused a connection: peer_max (%zu) sessions open",
                              self->config.peer_max);
            } else if (session) {
                session->routing_id = routing_id;
                routing_id = NULL;
                const char *user = zmq_msg_gets(&body, "User-Id");
                const char *address = zmq_msg_gets(&body, "Peer-Address");
                snprintf(session->user_id, sizeof session->user_id, "%s", user ? user : "");
                if (!address || !s_address_ok(address, session->address))
                    snprintf(session->address, sizeof session->address, "%s", "0.0.0.0");
            } else {
                //  Not even room to refuse politely: cut at once.
                session_t cut = {.routing_id = routing_id};
                s_note_fd(&cut, zmq_msg_get(&body, ZMQ_SRCFD));
                s_shutdown_fd(self, &cut);
            }
        }
        zframe_destroy(&routing_id);
        if (session) {
            s_note_fd(session, zmq_msg_get(&body, ZMQ_SRCFD));
            if (session->closing_at)
                ; //  cut off: dropped until its descriptor is shut
            else if (!ok || parts != 2)
                s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__MALFORMED,
                          "a message of more than one frame");
            else
                s_on_message(self, session, zmq_msg_data(&body), zmq_msg_size(&body));
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

static session_t *s_find_dealer(self_t *self, zsock_t *dealer) {
    for (size_t i = 0; i < self->count; i++)
        if (self->sessions[i]->dealer == dealer)
            return self->sessions[i];
    return NULL;
}

//  A message may end its session (and close the DEALER), so the session
//  is looked up again before each one.
static void s_handle_dealer(self_t *self, zsock_t *dealer) {
    for (int burst = 0; burst < CA_SERVE_BURST; burst++) {
        session_t *session = s_find_dealer(self, dealer);
        if (!session)
            return;
        zmsg_t *msg = ca_recv_waiting(dealer);
        if (!msg)
            return;
        zframe_t *frame = zmsg_first(msg);
        if (zmsg_size(msg) != 1)
            s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__MALFORMED,
                      "a message of more than one frame");
        else
            s_on_message(self, session, zframe_data(frame), zframe_size(frame));
        zmsg_destroy(&msg);
    }
}

//  ---- the peers table ------------------------------------------------------------------------

//  When the database changed (or every few heartbeats): cuts sessions of
//  peers now blocked, dials known peers without a session.
static void s_sync_table(self_t *self, bool force) {
    sqlite3_stmt *version = ca_sql_prepare(self->sql, "PRAGMA data_version");
    if (!version || sqlite3_step(version) != SQLITE_ROW) {
        if (version)
            sqlite3_reset(version);
        return;
    }
    int64_t now = sqlite3_column_int64(version, 0);
    sqlite3_reset(version);
    if (now == self->data_version && !force)
        return;
    self->data_version = now;
    //  Blocked while connected: cut at once.
    for (size_t i = 0; i < self->count; i++) {
        session_t *session = self->sessions[i];
        bool blocked = false;
        char table_id[129];
        if (*session->peer_id && s_table_row(self, session->ed_public, table_id, &blocked) &&
            blocked) {
            ca_log_notice("peer: %s is blocked; its session ends", session->peer_id);
            if (session->outgoing && session->state == S_BACKOFF)
                s_session_end(self, session, true, "blocked");
            else if (session->outgoing) {
                s_send_error(self, session, CAIRN__PEER__ERROR__CODE__BLOCKED,
                             "blocked by this node");
                s_session_end(self, session, true, "blocked");
            } else
                s_cut_off(self, session, CAIRN__PEER__ERROR__CODE__BLOCKED, "blocked by this node");
            i = (size_t)-1; //  the array changed: start again (bounded: one fewer each time)
        }
    }
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql,
        "SELECT public_key, address, port FROM peers WHERE blocked = 0 ORDER BY peer_id");
    if (!stmt)
        return;
    while (sqlite3_step(stmt) == SQLITE_ROW && s_live(self) < self->config.peer_max) {
        if (sqlite3_column_bytes(stmt, 0) != 32)
            continue;
        const uint8_t *ed = sqlite3_column_blob(stmt, 0);
        char hex[65];
        s_hex(ed, hex);
        if (streq(hex, self->peer_id) || s_find_peer(self, hex, NULL) ||
            zhashx_lookup(self->suppressed, hex) || !s_key_of(hex, (uint8_t[32]){0}, NULL))
            continue;
        uint8_t key[32];
        memcpy(key, ed, 32);
        s_dial_new(self, key, (const char *)sqlite3_column_text(stmt, 1),
                   (uint32_t)sqlite3_column_int(stmt, 2));
    }
    sqlite3_reset(stmt);
}

static int s_gossip_send(void *self, void *session, Cairn__Peer__PeerMessage *message) {
    return s_send((self_t *)self, (session_t *)session, message);
}

//  Heartbeats, silences, redials, last_seen and gossip.
static void s_tick(self_t *self) {
    int64_t now = zclock_mono();
    peer_gossip_tick(self->gossip);
    self->hurry = false;
    for (size_t i = 0; i < self->count; i++)
        if (self->sessions[i]->state == S_ONLINE && !self->sessions[i]->closing_at) {
            self->hurry |= peer_gossip_flush(self->gossip, &self->sessions[i]->gossip,
                                             self->sessions[i]->table_id, s_gossip_send, self,
                                             self->sessions[i]);
            peer_recon_peer_t peer = s_recon_peer(self->sessions[i]);
            peer_recon_tick(self->recon, &peer);
        }
    int64_t timeout = self->config.heartbeat_ms * PEER_TIMEOUT_BEATS;
    for (size_t i = 0; i < self->count; i++) {
        session_t *session = self->sessions[i];
        size_t before = self->count;
        session_t *online = *session->peer_id ? s_find_peer(self, session->peer_id, session) : NULL;
        if (session->closing_at) {
            if (now >= session->closing_at) {
                s_shutdown_fd(self, session);
                s_session_free(self, session);
            }
        } else if (session->outgoing && session->state != S_ONLINE && online &&
                   online->state == S_ONLINE) {
            s_session_end(self, session, true, "another session with the peer is online");
        } else if (session->state == S_BACKOFF) {
            if (now >= session->retry_at)
                s_dial(self, session);
        } else if (now - session->last_recv_mono > timeout) {
            s_session_end(self, session, false, "silent for 3 heartbeats");
        } else if (session->state == S_DIALING && session->outgoing && !session->hello_sent) {
            s_send_hello(self, session);
        } else if (session->state == S_ONLINE) {
            if (now >= session->heartbeat_at)
                s_send_heartbeat(self, session);
            if (now - session->last_seen_written >= PEER_LAST_SEEN_MS) {
                s_write_status(self, session, CAIRN__PEER_STATE__PEER_ONLINE, session->last_recv);
                session->last_seen_written = now;
            }
        }
        if (self->count < before)
            i--; //  this slot now holds another session
    }
    if (now - self->table_checked >= self->config.heartbeat_ms / 4) {
        s_sync_table(self, now - self->table_checked >= self->config.heartbeat_ms * 10);
        self->table_checked = now;
    }
}

//  ---- what peer_fetch.c may do with sessions (peer_fetch_host_t) -----------------------------

static session_t *s_online(self_t *self, const char *peer_id) {
    session_t *session = s_find_peer(self, peer_id, NULL);
    return session && session->state == S_ONLINE && !session->closing_at ? session : NULL;
}

static int s_fetch_send(void *host, const char *peer_id, Cairn__Peer__PeerMessage *message) {
    session_t *session = s_online((self_t *)host, peer_id);
    return session ? s_send((self_t *)host, session, message) : -1;
}

static void s_fetch_cut_off(void *host, const char *peer_id, const char *why) {
    session_t *session = s_online((self_t *)host, peer_id);
    if (session)
        s_cut_off((self_t *)host, session, CAIRN__PEER__ERROR__CODE__MALFORMED, why);
}

static bool s_oplog_online(void *host, const char *peer_id) {
    return s_online((self_t *)host, peer_id) != NULL;
}

static int s_by_id_text(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static size_t s_fetch_online(void *host, char (*ids)[65], size_t most) {
    self_t *self = (self_t *)host;
    size_t count = 0;
    for (size_t i = 0; i < self->count && count < most; i++)
        if (self->sessions[i]->state == S_ONLINE && !self->sessions[i]->closing_at)
            snprintf(ids[count++], 65, "%s", self->sessions[i]->peer_id);
    qsort(ids, count, 65, s_by_id_text);
    return count;
}

static uint64_t s_fetch_bytes_in(void *host, const char *peer_id) {
    session_t *session = s_online((self_t *)host, peer_id);
    return session ? s_consumed((self_t *)host, session) : 0;
}

static void s_fetch_acked(void *host, const char *peer_id, uint64_t bytes_received) {
    session_t *session = s_online((self_t *)host, peer_id);
    if (session && bytes_received <= session->bytes_out && bytes_received > session->acked)
        session->acked = bytes_received;
}

//  ---- what peer_recon.c may do with sessions (peer_recon_host_t) -----------------------------

static void s_recon_cut_off(void *host, void *session, Cairn__Peer__Error__Code code,
                            const char *why) {
    s_cut_off((self_t *)host, (session_t *)session, code, why);
}

static size_t s_recon_send_messages(void *host, void *handle, const char *const *ids,
                                    size_t count) {
    self_t *self = (self_t *)host;
    session_t *session = (session_t *)handle;
    return peer_gossip_send_ids(self->gossip, &session->gossip, session->table_id, ids, count,
                                s_gossip_send, self, session);
}

static void s_recon_answer(void *host, zframe_t **worker, Cairn__Response *response) {
    self_t *self = (self_t *)host;
    size_t size = cairn__response__get_packed_size(response);
    zframe_t *frames[2] = {*worker, zframe_new(NULL, size)};
    cairn__response__pack(response, zframe_data(frames[1]));
    ca_send_frames(self->control, frames, 2);
    zframe_destroy(&frames[1]);
    zframe_destroy(worker);
}

static int s_recon_fetch(void *host, const char *peer_id, const uint8_t hash[32]) {
    self_t *self = (self_t *)host;
    return self->fetch ? peer_fetch_want(self->fetch, peer_id, hash) : 0;
}

//  ---- control requests (from the sessions pool) ---------------------------------------------

static Cairn__PeerSession *s_describe(session_t *session, Cairn__PeerSession *out) {
    cairn__peer_session__init(out);
    out->peer_id = session->peer_id;
    out->address = session->address;
    out->port = session->port;
    out->state = session->state == S_ONLINE    ? CAIRN__SESSION_STATE__SESSION_ONLINE
                 : session->state == S_BACKOFF ? CAIRN__SESSION_STATE__SESSION_BACKOFF
                                               : CAIRN__SESSION_STATE__SESSION_DIALING;
    out->outgoing = session->outgoing;
    out->since = session->since;
    out->last_heartbeat = session->last_recv;
    out->bytes_in = session->bytes_in;
    out->bytes_out = session->bytes_out;
    out->node_name = session->node_name;
    int64_t wait = session->retry_at - zclock_mono();
    out->retry_in_ms = session->state == S_BACKOFF && wait > 0 ? (uint32_t)wait : 0;
    peer_recon_describe(&session->recon, out);
    return out;
}

static int s_by_peer_id(const void *a, const void *b) {
    return strcmp((*(session_t *const *)a)->peer_id, (*(session_t *const *)b)->peer_id);
}

static int s_answer_error(Cairn__Response *response, Cairn__Status status, char *text) {
    response->status = status;
    response->error = text;
    return -1;
}

static int s_connect(self_t *self, Cairn__PeerConnect *connect, Cairn__Response *response,
                     Cairn__PeerSession *out, char *text, size_t size) {
    char address[64];
    uint8_t ed[32];
    if (!s_address_ok(connect->address, address)) {
        snprintf(text, size, "address '%.64s' is not an IPv4 or IPv6 literal; give e.g. 192.0.2.7",
                 connect->address);
        return s_answer_error(response, CAIRN__STATUS__INVALID, text);
    }
    if (connect->port < 1 || connect->port > 65535) {
        snprintf(text, size, "port %u is not in 1..65535", connect->port);
        return s_answer_error(response, CAIRN__STATUS__INVALID, text);
    }
    if (*connect->key) {
        if (!s_key_of(connect->key, ed, NULL)) {
            snprintf(text, size,
                     "key '%.70s' is not a node key: give its peer id, 64 hex digits "
                     "(`cairn info` on that node)",
                     connect->key);
            return s_answer_error(response, CAIRN__STATUS__INVALID, text);
        }
    } else {
        sqlite3_stmt *stmt = ca_sql_prepare(
            self->sql, "SELECT public_key FROM peers WHERE address = ?1 AND port = ?2 LIMIT 1");
        bool found = false;
        if (stmt) {
            sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
            sqlite3_bind_int(stmt, 2, (int)connect->port);
            found = sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32;
            if (found)
                memcpy(ed, sqlite3_column_blob(stmt, 0), 32);
            sqlite3_reset(stmt);
        }
        if (!found) {
            snprintf(text, size,
                     "no peer at %s:%u in the peers table, so its key is unknown: give "
                     "it (--key PEER_ID; `cairn info` on that node shows it)",
                     address, connect->port);
            return s_answer_error(response, CAIRN__STATUS__INVALID, text);
        }
    }
    char hex[65];
    s_hex(ed, hex);
    bool blocked = false;
    char table_id[129];
    if (streq(hex, self->peer_id)) {
        snprintf(text, size, "that key is this node's own");
        return s_answer_error(response, CAIRN__STATUS__INVALID, text);
    }
    if (s_table_row(self, ed, table_id, &blocked) && blocked) {
        snprintf(text, size, "peer %s is blocked; unblock it first (cairn peer block %s --off)",
                 table_id, table_id);
        return s_answer_error(response, CAIRN__STATUS__UNAUTHORIZED, text);
    }
    zhashx_delete(self->suppressed, hex);
    session_t *session = s_find_peer(self, hex, NULL);
    if (session && session->state != S_BACKOFF) {
        snprintf(text, size, "a session with %s exists already (%s)", hex,
                 s_state_name(session->state));
        response->peer_connect = s_describe(session, out);
        return s_answer_error(response, CAIRN__STATUS__CONFLICT, text);
    }
    if (session) { //  waiting to redial: dial now, to the address given
        snprintf(session->address, sizeof session->address, "%s", address);
        session->port = connect->port;
        session->backoff_ms = self->config.heartbeat_ms;
        s_dial(self, session);
    } else
        session = s_dial_new(self, ed, address, connect->port);
    if (!session) {
        snprintf(text, size,
                 "this node has its most peer sessions (peer_max %zu); disconnect one "
                 "or raise peer_max",
                 self->config.peer_max);
        return s_answer_error(response, CAIRN__STATUS__BUSY, text);
    }
    response->peer_connect = s_describe(session, out);
    return 0;
}

//  [worker id][cairn.Request] -> [worker id][cairn.Response]
static void s_handle_control(self_t *self) {
    zmsg_t *msg;
    for (int burst = 0; burst < CA_SERVE_BURST && (msg = ca_recv_waiting(self->control)); burst++) {
        zframe_t *worker = zmsg_pop(msg);
        zframe_t *frame = zmsg_first(msg);
        Cairn__Request *request =
            frame ? cairn__request__unpack(NULL, zframe_size(frame), zframe_data(frame)) : NULL;
        Cairn__Response response = CAIRN__RESPONSE__INIT;
        char text[512] = "";
        Cairn__PeerSession one;
        Cairn__PeerSessionList list = CAIRN__PEER_SESSION_LIST__INIT;
        Cairn__PeerSession *described = NULL;
        Cairn__PeerSession **pointers = NULL;
        if (request && request->body_case == CAIRN__REQUEST__BODY_CONTENT_FETCH) {
            peer_fetch_start(self->fetch, &worker, request); //  answers now or later
            cairn__request__free_unpacked(request, NULL);
            zmsg_destroy(&msg);
            continue;
        }
        if (request && request->body_case == CAIRN__REQUEST__BODY_PEER_RECONCILE) {
            session_t *session = s_online(self, request->peer_reconcile->peer_id);
            peer_recon_peer_t peer = session ? s_recon_peer(session) : (peer_recon_peer_t){0};
            peer_recon_ask(self->recon, session ? &peer : NULL, &worker, request); //  now or later
            cairn__request__free_unpacked(request, NULL);
            zmsg_destroy(&msg);
            continue;
        }
        if (!request) {
            response.status = CAIRN__STATUS__INVALID;
            response.error = "the request does not decode";
        } else {
            response.id = request->id;
            response.body_case = (Cairn__Response__BodyCase)request->body_case;
        }
        if (request && request->body_case == CAIRN__REQUEST__BODY_PEER_CONNECT) {
            s_connect(self, request->peer_connect, &response, &one, text, sizeof text);
            if (!response.peer_connect)
                response.body_case = CAIRN__RESPONSE__BODY__NOT_SET;
        } else if (request && request->body_case == CAIRN__REQUEST__BODY_PEER_DISCONNECT) {
            session_t *session = s_find_peer(self, request->peer_disconnect->peer_id, NULL);
            if (!session) {
                snprintf(text, sizeof text, "no session with peer '%.70s'; see cairn peer sessions",
                         request->peer_disconnect->peer_id);
                s_answer_error(&response, CAIRN__STATUS__NOT_FOUND, text);
                response.body_case = CAIRN__RESPONSE__BODY__NOT_SET;
            } else {
                response.peer_disconnected = s_describe(session, &one);
                one.peer_id = strdup(session->peer_id);
                one.address = strdup(session->address);
                one.node_name = strdup(session->node_name);
                zhashx_update(self->suppressed, session->peer_id, SUPPRESS_ALL);
                if (session->state != S_BACKOFF)
                    s_send_goodbye(self, session, "disconnected by the operator of the other node");
                s_session_end(self, session, true, "disconnected by the operator");
            }
        } else if (request && request->body_case == CAIRN__REQUEST__BODY_PEER_SESSIONS) {
            session_t **sorted = (session_t **)zmalloc((self->count + 1) * sizeof(session_t *));
            memcpy(sorted, self->sessions, self->count * sizeof(session_t *));
            qsort(sorted, self->count, sizeof(session_t *), s_by_peer_id);
            described =
                (Cairn__PeerSession *)zmalloc((self->count + 1) * sizeof(Cairn__PeerSession));
            pointers =
                (Cairn__PeerSession **)zmalloc((self->count + 1) * sizeof(Cairn__PeerSession *));
            size_t listed = 0;
            for (size_t i = 0; i < self->count; i++) {
                if (sorted[i]->closing_at)
                    continue; //  cut off, its descriptor not yet shut: no session
                pointers[listed] = s_describe(sorted[i], &described[listed]);
                peer_oplog_figures_t figures = peer_oplog_figures(self->oplog, sorted[i]->peer_id);
                described[listed].oplog_sent = figures.sent;
                described[listed].oplog_received = figures.received;
                described[listed].oplog_already = figures.already;
                described[listed].oplog_refused = figures.refused;
                listed++;
                list.online += sorted[i]->state == S_ONLINE;
            }
            free(sorted);
            list.sessions = pointers;
            list.n_sessions = listed;
            sqlite3_stmt *stmt =
                ca_sql_prepare(self->sql, "SELECT count(*) FROM peers WHERE blocked = 0");
            if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
                list.known = (uint32_t)sqlite3_column_int64(stmt, 0);
            if (stmt)
                sqlite3_reset(stmt);
            list.node_peer_id = self->peer_id;
            list.endpoint = self->endpoint;
            response.peer_sessions = &list;
        } else if (request) {
            response.status = CAIRN__STATUS__INVALID;
            response.error = "the peer actor does not serve this request kind";
            response.body_case = CAIRN__RESPONSE__BODY__NOT_SET;
        }
        size_t size = cairn__response__get_packed_size(&response);
        zframe_t *frames[2] = {worker, zframe_new(NULL, size)};
        cairn__response__pack(&response, zframe_data(frames[1]));
        ca_send_frames(self->control, frames, 2);
        zframe_destroy(&frames[0]);
        zframe_destroy(&frames[1]);
        if (response.body_case == CAIRN__RESPONSE__BODY_PEER_DISCONNECTED) {
            free(one.peer_id);
            free(one.address);
            free(one.node_name);
        }
        free(described);
        free(pointers);
        if (request)
            cairn__request__free_unpacked(request, NULL);
        zmsg_destroy(&msg);
    }
}

//  ---- lifecycle ------------------------------------------------------------------------------

static self_t *s_self_new(zsock_t *pipe, const peer_config_t *config) {
    self_t *self = (self_t *)zmalloc(sizeof(self_t));
    self->pipe = pipe;
    self->poller = zpoller_new(pipe, NULL);
    self->config = *config;
    self->endpoint = strdup(config->endpoint);
    self->bootstrap = strdup(config->bootstrap ? config->bootstrap : "none");
    self->db_path = strdup(config->db_path);
    self->peers_endpoint = strdup(config->peers_endpoint);
    self->data_dir = strdup(config->data_dir ? config->data_dir : ".");
    self->cache_endpoint = strdup(config->cache_endpoint ? config->cache_endpoint : "");
    snprintf(self->peer_id, sizeof self->peer_id, "%s", config->peer_id);
    snprintf(self->node_name, sizeof self->node_name, "%s",
             config->node_name ? config->node_name : "");
    self->sessions =
        (session_t **)zmalloc((config->peer_max + PEER_CLOSING_MAX) * sizeof(session_t *));
    self->suppressed = zhashx_new();
    self->data_version = -1;
    return self;
}

static void s_self_destroy(self_t **self_p) {
    self_t *self = *self_p;
    while (self->count) {
        session_t *session = self->sessions[0];
        if (session->state == S_ONLINE)
            s_send_goodbye(self, session, "the node is stopping");
        s_session_end(self, session, true, "the node is stopping");
    }
    peer_fetch_destroy(&self->fetch); //  before the control socket it answers on
    free(self->sessions);
    zhashx_destroy(&self->suppressed);
    zsock_destroy(&self->router);
    zsock_destroy(&self->control);
    zsock_destroy(&self->peers);
    peer_gossip_destroy(&self->gossip);
    peer_recon_destroy(&self->recon);
    peer_oplog_destroy(&self->oplog);
    ca_sql_destroy(&self->sql);
    zpoller_destroy(&self->poller);
    ca_curve_key_wipe(&self->config.curve_key);
    zstr_free(&self->endpoint);
    zstr_free(&self->bootstrap);
    zstr_free(&self->db_path);
    zstr_free(&self->peers_endpoint);
    zstr_free(&self->data_dir);
    zstr_free(&self->cache_endpoint);
    free(self);
    *self_p = NULL;
}

//  Bootstrap peers, PEER_ID@ADDRESS:PORT comma-separated ("none": none):
//  with `dial`, dials each one not known yet (not itself); without, only
//  checks every entry. At start and when a SIGHUP changes bootstrap_peers
//  (BOOTSTRAP); NULL or what is wrong with it.
static char *s_dial_bootstrap(self_t *self, const char *bootstrap, bool dial) {
    if (streq(bootstrap, "none"))
        return NULL;
    char *error = NULL;
    char *list = strdup(bootstrap);
    char *save = NULL;
    for (char *entry = strtok_r(list, ", ", &save); entry && !error;
         entry = strtok_r(NULL, ", ", &save)) {
        char id[65], address[64], problem[256];
        uint32_t port = 0;
        uint8_t ed[32];
        if (!peer_parse_address(entry, id, address, &port, problem, sizeof problem))
            error = zsys_sprintf("bootstrap_peers: %s; write PEER_ID@ADDRESS:PORT, "
                                 "comma-separated",
                                 problem);
        else if (dial && strcasecmp(id, self->peer_id) != 0 && !s_find_peer(self, id, NULL) &&
                 s_key_of(id, ed, NULL) && !s_dial_new(self, ed, address, port))
            error = zsys_sprintf("bootstrap_peers lists more nodes than peer_max (%zu) has "
                                 "room for: raise peer_max or list fewer",
                                 self->config.peer_max);
    }
    free(list);
    return error;
}

static char *s_start(self_t *self) {
    if (strncmp(self->endpoint, "tcp://", 6) != 0)
        return zsys_sprintf("peer_endpoint '%s' must be a tcp:// endpoint, e.g. "
                            "tcp://0.0.0.0:7402",
                            self->endpoint);
    char *error = NULL;
    self->sql = ca_sql_open(self->db_path, CA_SQL_READ_ONLY, NULL, &error);
    if (!self->sql)
        return error;
    self->gossip = peer_gossip_new(self->sql, (uint32_t)self->config.gossip_ttl,
                                   (uint64_t)self->config.in_flight_bytes, &error);
    if (!self->gossip)
        return error;
    peer_recon_host_t recon = {self,          s_gossip_send, s_recon_cut_off, s_recon_send_messages,
                               s_recon_fetch, s_recon_answer};
    self->recon = peer_recon_new(self->sql, self->peer_id, self->config.reconcile_ms,
                                 self->config.in_flight_bytes, &recon, &error);
    if (!self->recon)
        return error;
    self->router = zsock_new(ZMQ_ROUTER);
    self->control = zsock_new(ZMQ_ROUTER);
    self->peers = zsock_new(ZMQ_DEALER);
    if (!self->router || !self->control || !self->peers)
        return ca_actor_socket_error("peer");
    zsock_set_linger(self->router, 100);
    zsock_set_maxmsgsize(self->router, PEER_MAX_FRAME);
    zsock_set_rcvhwm(self->router, PEER_RCVHWM);
    zsock_set_sndhwm(self->router, PEER_SNDHWM);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_heartbeat_ivl(self->router, (int)self->config.heartbeat_ms);
    zsock_set_heartbeat_timeout(self->router,
                                (int)(self->config.heartbeat_ms * PEER_TIMEOUT_BEATS));
    zsock_set_heartbeat_ttl(self->router, (int)(self->config.heartbeat_ms * PEER_TIMEOUT_BEATS));
    if (strchr(self->endpoint + 6, '[') || strchr(self->endpoint + 6, '*'))
        zsock_set_ipv6(self->router, 1);
    ca_curve_apply_server(&self->config.curve_key, CA_CURVE_PEER_DOMAIN, self->router);
    if (zsock_bind(self->router, "%s", self->endpoint) < 0)
        return zsys_sprintf("cannot bind peer_endpoint %s: %s", self->endpoint,
                            zmq_strerror(zmq_errno()));
    zstr_free(&self->endpoint);
    self->endpoint = zsock_last_endpoint(self->router);
    if (zsock_bind(self->control, PEER_CONTROL_ENDPOINT) != 0)
        return zsys_sprintf("cannot bind %s: %s", PEER_CONTROL_ENDPOINT, zmq_strerror(zmq_errno()));
    zsock_set_sndhwm(self->peers, PEER_RCVHWM);
    if (zsock_connect(self->peers, "%s", self->peers_endpoint) != 0)
        return zsys_sprintf("cannot connect to the peers pool %s", self->peers_endpoint);
    zpoller_add(self->poller, self->router);
    zpoller_add(self->poller, self->control);
    zpoller_add(self->poller, self->peers);
    zpoller_add(self->poller, peer_gossip_socket(self->gossip));
    peer_fetch_config_t fetch = {.data_dir = self->data_dir,
                                 .db_path = self->db_path,
                                 .cache_endpoint = self->cache_endpoint,
                                 .max_bytes = self->config.fetch_max_bytes,
                                 .heartbeat_ms = self->config.heartbeat_ms};
    peer_fetch_host_t host = {self,           s_fetch_send,     s_fetch_cut_off,
                              s_fetch_online, s_fetch_bytes_in, s_fetch_acked};
    self->fetch = peer_fetch_new(&fetch, &host, self->control, &error);
    if (!self->fetch)
        return error;
    zpoller_add(self->poller, peer_fetch_socket(self->fetch));
    peer_oplog_host_t oplog_host = {self, s_fetch_send, s_fetch_cut_off, s_oplog_online};
    self->oplog = peer_oplog_new(self->sql, &oplog_host, self->config.oplog_sync_ms,
                                 self->config.oplog_workers, self->config.in_flight_bytes, &error);
    if (!self->oplog)
        return error;
    peer_oplog_watch(self->oplog, self->poller);
    error = s_dial_bootstrap(self, self->bootstrap, true);
    if (error)
        return error;
    ca_log_info("peer: endpoint %s (peer id %s, admission %s, at most %zu peers)", self->endpoint,
                self->peer_id, self->config.allow_list ? "allow-list" : "open",
                self->config.peer_max);
    return NULL;
}

//  BOOTSTRAP [generation uint64][list] (SIGHUP, node_reload): the whole
//  list is checked first (a bad entry changes nothing), then the peers
//  newly listed are dialed; peers no longer listed stay known (cairn peer
//  block|remove them). Answers [BOOTSTRAP][generation][status int]
//  [message]: 0 and "", or 1 and what is wrong.
static void s_rebootstrap(self_t *self, zmsg_t *msg) {
    //  zsock_send's "8" travels as decimal text.
    char *number = zmsg_popstr(msg);
    uint64_t generation = number ? strtoull(number, NULL, 10) : 0;
    zstr_free(&number);
    char *list = zmsg_popstr(msg);
    char *error = list ? s_dial_bootstrap(self, list, false) : strdup("BOOTSTRAP without a list");
    if (!error)
        error = s_dial_bootstrap(self, list, true);
    if (!error) {
        zstr_free(&self->bootstrap);
        self->bootstrap = list;
        list = NULL;
    }
    zsock_send(self->pipe, "s8is", "BOOTSTRAP", generation, error ? 1 : 0, error ? error : "");
    zstr_free(&error);
    zstr_free(&list);
}

static void s_handle_pipe(self_t *self) {
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else if (streq(command, "ENDPOINT"))
        zstr_send(self->pipe, self->endpoint);
    else if (streq(command, "BOOTSTRAP"))
        s_rebootstrap(self, msg);
    else
        ca_log_error("peer: unknown pipe command '%s'", command);
    zstr_free(&command);
    zmsg_destroy(&msg);
}

void peer_actor(zsock_t *pipe, void *args) {
    self_t *self = s_self_new(pipe, (const peer_config_t *)args);
    zsock_signal(pipe, 0);
    int64_t wait = self->config.heartbeat_ms / 4 > 100 ? 100 : self->config.heartbeat_ms / 4;
    while (!self->terminated) {
        //  Gossip with more rows to send comes back at once, not at the timer.
        void *which = zpoller_wait(self->poller, self->hurry ? 1 : (int)wait);
        if (which == pipe)
            s_handle_pipe(self);
        else if (which && which == self->router)
            s_handle_router(self);
        else if (which && which == self->control)
            s_handle_control(self);
        else if (which && which == self->peers)
            s_handle_peers(self);
        else if (which && which == peer_gossip_socket(self->gossip))
            ; //  the batch pool's answers: peer_gossip_tick below
        else if (which && self->fetch && which == peer_fetch_socket(self->fetch))
            peer_fetch_on_cache(self->fetch);
        else if (which && self->oplog && peer_oplog_owns(self->oplog, which))
            ; //  its answers: read by its tick below
        else if (which)
            s_handle_dealer(self, (zsock_t *)which);
        else if (ca_actor_poll_failed(self->poller))
            break;
        if (self->router) {
            //  zpoller reports one ready socket; the others are served too.
            s_handle_router(self);
            s_handle_control(self);
            s_handle_peers(self);
            s_tick(self);
            if (self->fetch) {
                peer_fetch_on_cache(self->fetch);
                peer_fetch_tick(self->fetch);
            }
            if (self->oplog)
                peer_oplog_tick(self->oplog);
        }
    }
    s_self_destroy(&self);
}

char *peer_endpoint(zactor_t *self) {
    zstr_send(self, "ENDPOINT");
    return zstr_recv(self);
}

//  ---- self-test ------------------------------------------------------------------------------

void peer_test(bool verbose) {
    if (verbose)
        printf(" * peer: ");
    assert(sodium_init() >= 0);
    unsigned char ed_public[32], ed_secret[64];
    crypto_sign_keypair(ed_public, ed_secret);
    char hex[65];
    s_hex(ed_public, hex);
    char id[65], address[64], problem[256];
    uint32_t port = 0;
    char *text = zsys_sprintf("%s@127.0.0.1:7402", hex);
    assert(peer_parse_address(text, id, address, &port, problem, sizeof problem));
    assert(streq(id, hex) && streq(address, "127.0.0.1") && port == 7402);
    zstr_free(&text);
    text = zsys_sprintf("%s@[2001:DB8::1]:9", hex);
    assert(peer_parse_address(text, id, address, &port, problem, sizeof problem));
    assert(streq(address, "2001:db8::1") && port == 9);
    zstr_free(&text);
    //  Each bad tail follows the key (the first three replace it).
    const char *bad[] = {"",        "@1.2.3.4:5",  "x@1.2.3.4:5", "",
                         "@",       "@1.2.3.4",    "@1.2.3.4:0",  "@1.2.3.4:65536",
                         "@host:7", "@1.2.3.4:7x", "@:7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s%s", i < 3 ? "" : hex, bad[i]);
        assert(!peer_parse_address(line, id, address, &port, problem, sizeof problem) && *problem);
    }
    //  A key that is not a point has no CURVE key: never a peer id.
    char zeros[65];
    memset(zeros, 'f', 64);
    zeros[64] = 0;
    assert(!s_key_of(zeros, (uint8_t[32]){0}, NULL));
    assert(s_key_of(hex, (uint8_t[32]){0}, NULL));
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    gateway - the client endpoint: decode the envelope, route, answer

    What it owns: the client ROUTER socket (tcp://127.0.0.1:7401 by default),
    one DEALER per store pool (connected to every worker of that store; a
    pool with affinity rows also has one DEALER per worker), a
    DEALER to the writer (for its statistics), one more DEALER to the pool
    serving MessageStats for the gateway's own Info questions, and the
    routing table from request kind to pool, built from the stores' handler
    tables.

    Per frame from a client:

        [client id][Request]
            | ca_envelope_peek_request: id + body field, no full decode
            |-- malformed / no body / unknown kind  -> INVALID at once
            |-- Ping, Info                           -> answered here
            |-- subscriptions_serves (Message/Oplog/ -> subscriptions actor, whose
            |   ContentSubscribe, Ack, Unsubscribe)     answers (pushes) come back
            |                                           any number per request
            '-- store request -> pool DEALER, non-blocking
                    |-- queue full -> BUSY at once (the flood is refused,
                    |                 other pools keep flowing)
                    '-- the worker's Response comes back -> client

    Why the gateway does not decode bodies: it is one thread in front of all
    stores; decoding (and for large values, copying) belongs to the workers,
    which run in parallel. The peek is a single pass with no allocation.

    Bounds: the client socket refuses frames over max_frame_bytes (libzmq's
    ZMQ_MAXMSGSIZE drops the connection; the client's DEALER reconnects);
    each pool holds at most queue_max requests per worker in its pipes;
    per client, gateway_clients bounds the requests in flight (all pools
    and its share of each pool's queue) and the bytes of unread answers;
    beyond CA_CLIENT_SNDHWM answers a slow reader's are dropped.

    State machine:

        new --START--> serving --DRAIN--> draining --$TERM--> gone
                                  (new requests: UNAVAILABLE; answers to
                                   accepted ones still delivered; DRAIN
                                   replies once none is in flight or after
                                   drain_ms)
    ========================================================================= */

#include "gateway.h"
#include "gateway_connections.h"
#include "ca_clock.h"
#include "ca_log.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "gateway_bytes.h"
#include "gateway_clients.h"
#include "subscriptions.h"
#include "gateway_metrics.h"
#include "writer.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    unsigned workers;
    zsock_t *dealer;  //  connected to every worker: round robin
    zsock_t **pinned; //  one per worker, for requests with an affinity key;
                      //  NULL when no request of the pool has one
    uint64_t requests;
    uint64_t errors;
    uint64_t busy;
    uint64_t in_flight;
    uint64_t max_in_flight;            //  the def's cap (0: none)
    gateway_metrics_latency_t latency; //  timed only with a metrics endpoint
} pool_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *client;     //  ROUTER, the public endpoint
    zsock_t *writer;     //  DEALER, statistics only
    zsock_t *info_stats; //  DEALER to the MessageStats pool, Info's own
    zsock_t *answers;    //  PULL: answers the writer sends for committed writes
    zsock_t *subs;       //  DEALER to the subscriptions actor (NULL: none)
    pool_t *info_pool;   //  that pool (NULL: none serves MessageStats)
    zpoller_t *poller;
    bool terminated;
    bool draining;
    zsock_t *drain_waiter; //  the pipe, answered when drained
    int64_t drain_deadline;
    gateway_config_t config; //  strings copied
    pool_t *pools;
    size_t pool_count;
    uint8_t route[CA_MAX_BODY_FIELD + 1];        //  body field -> pool index + 1
    uint32_t route_field[CA_MAX_BODY_FIELD + 1]; //  body field -> affinity field
    uint32_t frame_max[CA_MAX_BODY_FIELD + 1];   //  body field -> largest frame, bytes
    const char *kind[CA_MAX_BODY_FIELD + 1];     //  body field -> its row's name
    int64_t started_at;
    uint64_t requests;
    uint64_t invalid;
    uint64_t info_in_flight;
    uint64_t turns;             //  of the serve loop (see s_serve_ready)
    unsigned instance;          //  this gateway's number in the process (pool socket ids)
    gateway_clients_t *clients; //  per client: in flight, unread answer bytes
    gateway_bytes_t *bytes;     //  per pool: bytes of large requests in flight
    //  The client socket's connections, counted and capped (max_clients).
    gateway_connections_t *connections;
    //  The metrics endpoint (NULL: off), the writer's figures of the last
    //  answer it gave (NULL: none yet), and when they were last asked for
    //  (0: no question out).
    gateway_metrics_t *metrics;
    Cairn__WriterInfo *metrics_writer;
    int64_t metrics_asked_at;
} self_t;

//  ---- answering ---------------------------------------------------------------

//  Sends [client id][response] and takes the response; a client that is
//  gone or not reading loses its answer (ROUTER drops, or gateway_clients
//  replaces it by a BUSY), which never blocks the gateway.
static void s_send_to_client(self_t *self, zframe_t *client_id, zframe_t **response_p) {
    gateway_clients_send(self->clients, self->client, client_id, response_p);
}

static void s_answer_error(self_t *self, zframe_t *client_id, uint64_t id, ca_status_t status,
                           const char *message) {
    zframe_t *response = ca_error_frame(id, status, "%s", message);
    s_send_to_client(self, client_id, &response);
    if (status == CA_INVALID)
        self->invalid++;
}

static void s_answer_ping(self_t *self, zframe_t *client_id, zframe_t *request_frame, uint64_t id) {
    char problem[200];
    if (!ca_envelope_check_request(&cairn__request__descriptor, zframe_data(request_frame),
                                   zframe_size(request_frame), problem, sizeof problem)) {
        s_answer_error(self, client_id, id, CA_INVALID, problem);
        return;
    }
    Cairn__Request *request =
        cairn__request__unpack(NULL, zframe_size(request_frame), zframe_data(request_frame));
    if (!request) {
        s_answer_error(self, client_id, id, CA_INVALID, "Ping is not a valid protobuf message");
        return;
    }
    if (request->ping->payload.len > CA_MAX_PING_PAYLOAD) {
        s_answer_error(self, client_id, id, CA_INVALID,
                       "Ping payload is over 1024 bytes; send a shorter one");
        cairn__request__free_unpacked(request, NULL);
        return;
    }
    Cairn__Pong pong = CAIRN__PONG__INIT;
    pong.payload = request->ping->payload;
    pong.node_time_us = (uint64_t)ca_now_ms() * 1000;
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.body_case = CAIRN__RESPONSE__BODY_PONG;
    response.pong = &pong;
    zframe_t *frame = ca_response_frame(&response);
    s_send_to_client(self, client_id, &frame);
    cairn__request__free_unpacked(request, NULL);
}

//  The writer's socket and Info's own are polled only while an Info is in
//  flight (see s_pool_watch).
static void s_info_up(self_t *self) {
    if (self->info_in_flight++ > 0)
        return;
    zpoller_add(self->poller, self->writer);
    if (self->info_stats)
        zpoller_add(self->poller, self->info_stats);
}

static void s_info_down(self_t *self) {
    if (self->info_in_flight == 0 || --self->info_in_flight > 0)
        return;
    zpoller_remove(self->poller, self->writer);
    if (self->info_stats)
        zpoller_remove(self->poller, self->info_stats);
}

//  Info needs the writer's figures: ask it, finish in s_handle_writer.
//  Context frames: [client id][request id, 8 bytes little-endian].
static void s_ask_writer_stats(self_t *self, zframe_t *client_id, uint64_t id) {
    zframe_t *body = writer_stats_request();
    uint8_t id_bytes[8];
    for (int i = 0; i < 8; i++)
        id_bytes[i] = (uint8_t)(id >> (8 * i));
    zframe_t *id_frame = zframe_new(id_bytes, 8);
    zframe_t *frames[] = {client_id, id_frame, body};
    if (ca_send_frames(self->writer, frames, 3) == 0)
        s_info_up(self);
    else
        s_answer_error(self, client_id, id, CA_BUSY, "the writer is saturated; retry Info");
    zframe_destroy(&id_frame);
    zframe_destroy(&body);
}

static uint64_t s_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void s_db_sizes(self_t *self, uint64_t *db, uint64_t *wal) {
    char *wal_path = zsys_sprintf("%s-wal", self->config.db_path);
    *db = s_file_size(self->config.db_path);
    *wal = s_file_size(wal_path);
    zstr_free(&wal_path);
}

static void s_answer_info(self_t *self, zframe_t *client_id, uint64_t id, Cairn__WriterInfo *writer,
                          Cairn__MessageStatsReply *messages) {
    Cairn__InfoReply info = CAIRN__INFO_REPLY__INIT;
    info.version = CAIRN_VERSION;
    info.api_version = CA_API_VERSION;
    info.uptime_s = (uint64_t)((zclock_mono() - self->started_at) / 1000);
    info.data_dir = (char *)self->config.data_dir;
    info.pid = (uint32_t)getpid();
    if (self->config.peer_id)
        info.peer_id = (char *)self->config.peer_id;
    uint64_t db, wal;
    s_db_sizes(self, &db, &wal);
    info.db_size_bytes = db + wal;
    info.requests = self->requests;
    info.clients = (uint32_t)gateway_connections_open(self->connections);
    info.clients_refused = gateway_connections_refused(self->connections);
    info.max_clients = (uint32_t)gateway_connections_max(self->connections);
    info.invalid = self->invalid;
    info.writer = writer;
    info.messages = messages;
    Cairn__ActorInfo *actors = (Cairn__ActorInfo *)zmalloc(
        (self->pool_count ? self->pool_count : 1) * sizeof(Cairn__ActorInfo));
    Cairn__ActorInfo **actor_list =
        (Cairn__ActorInfo **)zmalloc((self->pool_count + 1) * sizeof(Cairn__ActorInfo *));
    for (size_t i = 0; i < self->pool_count; i++) {
        cairn__actor_info__init(&actors[i]);
        actors[i].name = (char *)self->pools[i].name;
        actors[i].workers = self->pools[i].workers;
        actors[i].requests = self->pools[i].requests;
        actors[i].errors = self->pools[i].errors;
        actors[i].busy = self->pools[i].busy;
        actors[i].queue_depth = self->pools[i].in_flight;
        actor_list[i] = &actors[i];
    }
    info.actors = actor_list;
    info.n_actors = self->pool_count;
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.body_case = CAIRN__RESPONSE__BODY_INFO;
    response.info = &info;
    zframe_t *frame = ca_response_frame(&response);
    s_send_to_client(self, client_id, &frame);
    free(actor_list);
    free(actors);
}

//  ---- routing -------------------------------------------------------------------

//  The socket that reaches the right worker: the one pinned to the worker
//  the affinity key picks, else the round-robin dealer.
static zsock_t *s_pool_socket(self_t *self, pool_t *pool, const ca_envelope_t *env) {
    uint32_t field = self->route_field[env->body_field];
    uint64_t key;
    if (field == CA_ROUTE_ONE_WORKER && pool->pinned)
        return pool->pinned[0];
    if (field && pool->pinned && ca_envelope_route_key(env->body, env->body_size, field, &key))
        return pool->pinned[key % pool->workers];
    return pool->dealer;
}

//  A pool's sockets are in the poller only while answers are owed on them
//  (in_flight > 0). zmq_poll asks every socket it is given for its events,
//  and libzmq answers that with a poll() of the socket's mailbox: with a
//  dozen idle pools (two dozen sockets) each wake-up of the gateway cost
//  ~50 system calls, the single largest cost of a request one at a time.
static void s_pool_watch(self_t *self, pool_t *pool, bool watch) {
    if (watch)
        zpoller_add(self->poller, pool->dealer);
    else
        zpoller_remove(self->poller, pool->dealer);
    for (unsigned w = 0; pool->pinned && w < pool->workers; w++) {
        if (watch)
            zpoller_add(self->poller, pool->pinned[w]);
        else
            zpoller_remove(self->poller, pool->pinned[w]);
    }
}

static void s_in_flight_up(self_t *self, pool_t *pool) {
    if (pool->in_flight++ == 0)
        s_pool_watch(self, pool, true);
}

static void s_in_flight_down(self_t *self, pool_t *pool) {
    if (pool->in_flight && --pool->in_flight == 0)
        s_pool_watch(self, pool, false);
}

static void s_route_to_pool(self_t *self, pool_t *pool, zframe_t *client_id,
                            zframe_t *request_frame, const ca_envelope_t *env) {
    uint64_t id = env->id;
    zframe_t *frames[] = {client_id, request_frame};
    pool->requests++;
    size_t index = (size_t)(pool - self->pools);
    char message[300];
    if (pool->max_in_flight && pool->in_flight >= pool->max_in_flight) {
        pool->busy++;
        pool->errors++;
        snprintf(message, sizeof message,
                 "the %s store serves %" PRIu64 " request(s) at a time and is busy with one; "
                 "retry when it has answered",
                 pool->name, pool->max_in_flight);
        s_answer_error(self, client_id, id, CA_BUSY, message);
        return;
    }
    if (!gateway_clients_admit(self->clients, client_id, index, message, sizeof message)) {
        pool->busy++;
        pool->errors++;
        s_answer_error(self, client_id, id, CA_BUSY, message);
        return;
    }
    if (!gateway_bytes_admit(self->bytes, index, client_id, id, zframe_size(request_frame), message,
                             sizeof message)) {
        gateway_clients_answered(self->clients, client_id, index);
        pool->busy++;
        pool->errors++;
        s_answer_error(self, client_id, id, CA_BUSY, message);
        return;
    }
    if (ca_send_frames(s_pool_socket(self, pool, env), frames, 2) == 0) {
        s_in_flight_up(self, pool);
        if (self->metrics)
            gateway_metrics_latency_sent(&pool->latency, zframe_data(client_id),
                                         zframe_size(client_id), id);
        return;
    }
    gateway_bytes_unsent(self->bytes, index, client_id, id);
    gateway_clients_answered(self->clients, client_id, index);
    pool->busy++;
    pool->errors++;
    snprintf(message, sizeof message,
             "the %s store is saturated (%" PRIu64 " requests queued); retry later", pool->name,
             pool->in_flight);
    s_answer_error(self, client_id, id, CA_BUSY, message);
}

//  Subscription requests go to the subscriptions actor, which answers each
//  any number of times (pushes) and bounds them itself (credit windows, caps
//  per client and node, docs/PROTOCOL.md "Subscriptions"): they are not
//  counted in flight, and a full queue is BUSY at once.
static void s_route_to_subscriptions(self_t *self, zframe_t *client_id, zframe_t *request_frame,
                                     uint64_t id) {
    zframe_t *frames[] = {client_id, request_frame};
    if (ca_send_frames(self->subs, frames, 2) != 0)
        s_answer_error(self, client_id, id, CA_BUSY,
                       "the subscriptions queue is full; retry later");
}

//  A subscription's answer or push: [client id][Response], sent as it is (the
//  actor's windows bound them). One the client socket refuses (a client past
//  CA_CLIENT_SNDHWM) goes back to the actor, which ends that subscription.
static void s_handle_subscriptions(self_t *self, zmsg_t *msg) {
    if (zmsg_size(msg) == 2) {
        zframe_t *client_id = zmsg_first(msg);
        zframe_t *response = zmsg_next(msg);
        zframe_t *id = client_id;
        zmsg_remove(msg, response);
        if (zframe_send(&id, self->client, ZFRAME_REUSE | ZFRAME_MORE | ZFRAME_DONTWAIT) != 0 ||
            zframe_send(&response, self->client, ZFRAME_DONTWAIT) != 0) {
            //  Not sent (a failed zframe_send keeps the frame): back to the
            //  actor, which ends the subscription (it has a gap now).
            zframe_t *mark = zframe_from(CA_SUBSCRIPTIONS_DROPPED);
            zframe_t *frames[] = {client_id, mark, response};
            ca_send_frames(self->subs, frames, 3);
            zframe_destroy(&mark);
            zframe_destroy(&response);
        }
    } else
        ca_log_error("gateway: subscriptions sent an answer of %zu frames", zmsg_size(msg));
    zmsg_destroy(&msg);
}

//  The kinds whose frames may be larger than CA_FRAME_SMALL_MAX: those that
//  carry content (up to max_frame_bytes, which the client socket enforces),
//  and MessageStore (whose content is at most 16 MiB). The rule is written
//  once for clients in schemas/envelope.proto.
static const struct {
    uint32_t body;
    uint32_t frame_max;
} s_large_kinds[] = {
    {CAIRN__REQUEST__BODY_CONTENT_PUT, CA_FRAME_CONTENT},
    {CAIRN__REQUEST__BODY_CONTENT_CHUNK, CA_FRAME_CONTENT},
    {CAIRN__REQUEST__BODY_CACHE_PUT, CA_FRAME_CONTENT},
    {CAIRN__REQUEST__BODY_MESSAGE_STORE, CA_FRAME_MESSAGE_MAX},
    {CAIRN__REQUEST__BODY_KV_STORE, CA_FRAME_CONTENT},
};

static uint32_t s_kind_frame_max(uint32_t body) {
    for (size_t i = 0; i < sizeof s_large_kinds / sizeof s_large_kinds[0]; i++)
        if (s_large_kinds[i].body == body)
            return s_large_kinds[i].frame_max;
    return CA_FRAME_SMALL_MAX;
}

//  True when the frame is larger than its kind allows (see CA_FRAME_* in
//  ca_limits.h); then message says so. Unknown kinds are left to routing.
static bool s_over_frame_max(self_t *self, const ca_envelope_t *env, size_t size, char *message,
                             size_t message_size) {
    uint32_t body = env->body_field;
    size_t most;
    const char *kind;
    if (body == CAIRN__REQUEST__BODY_PING || body == CAIRN__REQUEST__BODY_INFO) {
        most = CA_FRAME_GATEWAY_MAX;
        kind = body == CAIRN__REQUEST__BODY_PING ? "ping" : "info";
    } else if (self->subs && subscriptions_serves(body)) {
        most = CA_FRAME_SMALL_MAX;
        kind = "subscription";
    } else if (body <= CA_MAX_BODY_FIELD && self->route[body]) {
        most = self->frame_max[body];
        kind = self->kind[body];
    } else
        return false;
    if (size <= most)
        return false;
    snprintf(message, message_size,
             "a %s request may be at most %zu bytes (its frame limit, see envelope.proto); this "
             "one is %zu bytes: send less per request",
             kind, most, size);
    return true;
}

static void s_handle_client(self_t *self, zmsg_t *msg) {
    self->requests++;
    zframe_t *client_id = zmsg_first(msg);
    zframe_t *request_frame = zmsg_next(msg);
    ca_envelope_t env = {0};
    const char *problem = NULL;
    char message[240];
    if (zmsg_size(msg) != 2)
        problem = "send exactly one frame per request (a cairn.Request)";
    else if (!ca_envelope_peek_request(zframe_data(request_frame), zframe_size(request_frame), &env,
                                       &problem))
        ;
    else if (env.body_field == 0)
        problem = "the request has no body; set one of Request.body";
    else if (s_over_frame_max(self, &env, zframe_size(request_frame), message, sizeof message))
        problem = message;
    else if (self->draining) {
        s_answer_error(self, client_id, env.id, CA_UNAVAILABLE,
                       "the node is shutting down and takes no new requests; retry on restart");
        zmsg_destroy(&msg);
        return;
    }

    if (problem)
        s_answer_error(self, client_id, env.id, CA_INVALID, problem);
    else if (env.body_field == CAIRN__REQUEST__BODY_PING)
        s_answer_ping(self, client_id, request_frame, env.id);
    else if (env.body_field == CAIRN__REQUEST__BODY_INFO)
        s_ask_writer_stats(self, client_id, env.id);
    else if (self->subs && subscriptions_serves(env.body_field))
        s_route_to_subscriptions(self, client_id, request_frame, env.id);
    else if (env.body_field <= CA_MAX_BODY_FIELD && self->route[env.body_field])
        s_route_to_pool(self, &self->pools[self->route[env.body_field] - 1], client_id,
                        request_frame, &env);
    else {
        snprintf(message, sizeof message,
                 "unknown request kind (Request.body field %u); this node speaks cairn API "
                 "version %d: upgrade the node or use a matching client",
                 env.body_field, CA_API_VERSION);
        s_answer_error(self, client_id, env.id, CA_INVALID, message);
    }
    zmsg_destroy(&msg);
}

bool gateway_answers_itself(uint32_t body) {
    return body == CAIRN__REQUEST__BODY_PING || body == CAIRN__REQUEST__BODY_INFO;
}

//  ---- Info: writer figures, then message statistics ----------------------------
//
//  Info is answered in two hops without any table of pending requests: the
//  writer's figures come back with [client id][request id]; then, if a pool
//  serves MessageStats, the gateway asks it on its own socket (info_stats)
//  with a *continuation* in place of the client id, which the worker echoes
//  untouched:
//
//      continuation = request id (8, LE) | WriterInfo length (4, LE) |
//                     WriterInfo (packed) | client id
//
//  An answer is a continuation because of the socket it arrives on, never
//  because of its bytes: only the gateway sends on info_stats, so no client
//  (whatever routing id it gives itself) can make the gateway read its
//  frames as a continuation and answer another client.

#define INFO_HEADER (8 + 4)

static void s_put_le(uint8_t *at, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t s_get_le(const uint8_t *at, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value |= (uint64_t)at[i] << (8 * i);
    return value;
}

//  Asks the pool serving MessageStats to finish this Info; false when no
//  pool serves it or its queue is full (then Info goes without it).
static bool s_ask_message_stats(self_t *self, zframe_t *client_id, uint64_t id,
                                Cairn__WriterInfo *writer) {
    pool_t *pool = self->info_pool;
    if (!pool)
        return false;
    size_t writer_size = cairn__writer_info__get_packed_size(writer);
    zframe_t *continuation = zframe_new(NULL, INFO_HEADER + writer_size + zframe_size(client_id));
    uint8_t *at = zframe_data(continuation);
    s_put_le(at, id, 8);
    s_put_le(at + 8, writer_size, 4);
    cairn__writer_info__pack(writer, at + INFO_HEADER);
    memcpy(at + INFO_HEADER + writer_size, zframe_data(client_id), zframe_size(client_id));
    Cairn__MessageStats stats = CAIRN__MESSAGE_STATS__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_STATS;
    request.message_stats = &stats;
    zframe_t *body = ca_message_frame(&request.base);
    zframe_t *frames[] = {continuation, body};
    bool sent = ca_send_frames(self->info_stats, frames, 2) == 0;
    if (sent) {
        pool->requests++;
        s_in_flight_up(self, pool);
    }
    zframe_destroy(&continuation);
    zframe_destroy(&body);
    return sent;
}

//  The pool answered an Info's MessageStats: answer the client.
static void s_finish_info(self_t *self, zframe_t *continuation, zframe_t *answer) {
    const uint8_t *at = zframe_data(continuation);
    size_t size = zframe_size(continuation);
    if (size < INFO_HEADER) {
        ca_log_error("gateway: dropped a malformed Info continuation");
        return;
    }
    uint64_t id = s_get_le(at, 8);
    size_t writer_size = (size_t)s_get_le(at + 8, 4);
    if (writer_size > size - INFO_HEADER) {
        ca_log_error("gateway: dropped a malformed Info continuation");
        return;
    }
    zframe_t *client_id =
        zframe_new(at + INFO_HEADER + writer_size, size - INFO_HEADER - writer_size);
    Cairn__WriterInfo *writer = cairn__writer_info__unpack(NULL, writer_size, at + INFO_HEADER);
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(answer), zframe_data(answer));
    Cairn__MessageStatsReply *messages =
        response && response->status == CAIRN__STATUS__OK &&
                response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_STATS
            ? response->message_stats
            : NULL;
    s_answer_info(self, client_id, id, writer, messages);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    if (writer)
        cairn__writer_info__free_unpacked(writer, NULL);
    zframe_destroy(&client_id);
}

//  A worker answered (on `socket`, one of the pool's): pass it on, count it.
//  On info_stats the answer finishes one of the gateway's own Info.
static void s_handle_pool(self_t *self, pool_t *pool, zsock_t *socket, zmsg_t *msg) {
    s_in_flight_down(self, pool);
    if (zmsg_size(msg) == 2) {
        zframe_t *client_id = zmsg_first(msg);
        zframe_t *response = zmsg_next(msg);
        ca_status_t status = ca_envelope_peek_status(zframe_data(response), zframe_size(response));
        pool->errors += status != CA_OK;
        pool->busy += status == CA_BUSY;
        if (socket == self->info_stats) {
            s_info_down(self);
            s_finish_info(self, client_id, response);
        } else {
            gateway_clients_answered(self->clients, client_id, (size_t)(pool - self->pools));
            if (self->metrics)
                gateway_metrics_latency_answered(&pool->latency, zframe_data(client_id),
                                                 zframe_size(client_id), zframe_data(response),
                                                 zframe_size(response));
            gateway_bytes_answered(self->bytes, (size_t)(pool - self->pools), client_id, response,
                                   pool->in_flight == 0);
            zmsg_remove(msg, response); //  the answer goes out without a copy
            s_send_to_client(self, client_id, &response);
        }
    } else
        ca_log_error("gateway: %s sent an answer of %zu frames", pool->name, zmsg_size(msg));
    zmsg_destroy(&msg);
}

//  The writer answered a committed write for a worker (ca_store_write_
//  answered): [pool socket's routing id][client id][Response]. Counted as
//  the worker's answer would have been.
static void s_handle_direct_answer(self_t *self, zmsg_t *msg) {
    zframe_t *pool_id = zmsg_first(msg);
    const uint8_t *id = pool_id ? zframe_data(pool_id) : NULL;
    size_t index = id && zframe_size(pool_id) == CA_GATEWAY_ID_SIZE && id[0] == CA_GATEWAY_ID_MARK
                       ? (size_t)id[1] | (size_t)id[2] << 8
                       : SIZE_MAX;
    if (zmsg_size(msg) != 3 || index >= self->pool_count) {
        ca_log_error("gateway: dropped a malformed answer of %zu frames from the writer",
                     zmsg_size(msg));
        zmsg_destroy(&msg);
        return;
    }
    zmsg_remove(msg, pool_id);
    zframe_destroy(&pool_id);
    pool_t *pool = &self->pools[index];
    s_handle_pool(self, pool, pool->dealer, msg);
}

//  ---- metrics -----------------------------------------------------------------
//
//  A scrape is answered once the writer has given its figures for it: the
//  gateway asks (one question at a time, with an empty frame where Info
//  puts the client id; no client's routing id is empty) and renders when
//  the answer comes, or after CA_METRICS_WRITER_WAIT_MS with the figures of
//  the writer's previous answer. The gateway's own counters are read at
//  that moment.

static void s_metrics_answer(self_t *self) {
    gateway_metrics_pool_t *pools = (gateway_metrics_pool_t *)zmalloc(
        (self->pool_count ? self->pool_count : 1) * sizeof(gateway_metrics_pool_t));
    for (size_t i = 0; i < self->pool_count; i++) {
        pool_t *pool = &self->pools[i];
        pools[i] = (gateway_metrics_pool_t){.name = pool->name,
                                            .workers = pool->workers,
                                            .requests = pool->requests,
                                            .errors = pool->errors,
                                            .busy = pool->busy,
                                            .queue_depth = pool->in_flight,
                                            .latency = &pool->latency};
    }
    gateway_metrics_figures_t figures = {
        .uptime_s = (uint64_t)((zclock_mono() - self->started_at) / 1000),
        .frames = self->requests,
        .invalid = self->invalid,
        .clients = gateway_connections_open(self->connections),
        .clients_refused = gateway_connections_refused(self->connections),
        .pools = pools,
        .pool_count = self->pool_count,
        .writer = self->metrics_writer};
    s_db_sizes(self, &figures.db_bytes, &figures.wal_bytes);
    size_t size = 0;
    char *text = gateway_metrics_render(&figures, &size);
    gateway_metrics_answer(self->metrics, text, size);
    free(text);
    free(pools);
}

static void s_metrics_ask_writer(self_t *self) {
    if (self->metrics_asked_at)
        return; //  the answer to the question out serves this scrape too
    zframe_t *none = zframe_new(NULL, 0);
    zframe_t *id_frame = zframe_new("\0\0\0\0\0\0\0\0", 8);
    zframe_t *body = writer_stats_request();
    zframe_t *frames[] = {none, id_frame, body};
    if (ca_send_frames(self->writer, frames, 3) == 0) {
        s_info_up(self);
        self->metrics_asked_at = zclock_mono();
    } else
        s_metrics_answer(self); //  the writer is saturated: its previous figures
    zframe_destroy(&none);
    zframe_destroy(&id_frame);
    zframe_destroy(&body);
}

//  The writer answered the metrics' question: keep its figures, answer.
static void s_metrics_writer_answered(self_t *self, Cairn__Internal__WriterResponse *response) {
    s_info_down(self);
    self->metrics_asked_at = 0;
    if (response && response->body_case == CAIRN__INTERNAL__WRITER_RESPONSE__BODY_STATS &&
        self->metrics) {
        if (self->metrics_writer)
            cairn__writer_info__free_unpacked(self->metrics_writer, NULL);
        //  Taken out of the response, which no longer frees it.
        self->metrics_writer = response->stats;
        response->stats = NULL;
        response->body_case = CAIRN__INTERNAL__WRITER_RESPONSE__BODY__NOT_SET;
    }
    if (self->metrics && gateway_metrics_waiting(self->metrics))
        s_metrics_answer(self);
}

//  Reads the metrics socket; closes connections past their deadline, and
//  answers scrapes the writer left waiting too long.
static void s_metrics_serve(self_t *self, bool readable) {
    if (readable && gateway_metrics_handle(self->metrics))
        s_metrics_ask_writer(self);
    gateway_metrics_expire(self->metrics);
    if (self->metrics_asked_at &&
        zclock_mono() - self->metrics_asked_at >= CA_METRICS_WRITER_WAIT_MS &&
        gateway_metrics_waiting(self->metrics)) {
        ca_log_warning("gateway: the writer gave no figures within %d ms; a scrape got its "
                       "previous ones",
                       CA_METRICS_WRITER_WAIT_MS);
        s_metrics_answer(self);
    }
}

//  How long the loop may wait for the metrics' deadlines (-1: none).
static int s_metrics_timeout(self_t *self) {
    if (!self->metrics)
        return -1;
    int next = gateway_metrics_next_ms(self->metrics);
    if (self->metrics_asked_at && gateway_metrics_waiting(self->metrics)) {
        int64_t left = self->metrics_asked_at + CA_METRICS_WRITER_WAIT_MS - zclock_mono();
        int wait = left > 0 ? (int)left : 0;
        if (next < 0 || wait < next)
            next = wait;
    }
    return next;
}

static void s_handle_writer(self_t *self, zmsg_t *msg) {
    zframe_t *client_id = zmsg_first(msg);
    zframe_t *id_frame = zmsg_next(msg);
    zframe_t *body = zmsg_next(msg);
    if (zmsg_size(msg) == 3 && zframe_size(client_id) == 0) {
        Cairn__Internal__WriterResponse *response =
            cairn__internal__writer_response__unpack(NULL, zframe_size(body), zframe_data(body));
        s_metrics_writer_answered(self, response);
        if (response)
            cairn__internal__writer_response__free_unpacked(response, NULL);
    } else if (zmsg_size(msg) == 3 && zframe_size(id_frame) == 8) {
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id |= (uint64_t)zframe_data(id_frame)[i] << (8 * i);
        Cairn__Internal__WriterResponse *response =
            cairn__internal__writer_response__unpack(NULL, zframe_size(body), zframe_data(body));
        bool continued = false;
        if (response && response->body_case == CAIRN__INTERNAL__WRITER_RESPONSE__BODY_STATS) {
            continued = s_ask_message_stats(self, client_id, id, response->stats);
            if (!continued)
                s_answer_info(self, client_id, id, response->stats, NULL);
        } else
            s_answer_error(self, client_id, id, CA_INTERNAL,
                           "the writer's statistics were unreadable");
        //  A continued Info stays in flight until the pool answers.
        if (!continued)
            s_info_down(self);
        if (response)
            cairn__internal__writer_response__free_unpacked(response, NULL);
    }
    zmsg_destroy(&msg);
}

//  ---- lifecycle -------------------------------------------------------------------

static uint64_t s_in_flight(self_t *self) {
    uint64_t total = self->info_in_flight;
    for (size_t i = 0; i < self->pool_count; i++)
        total += self->pools[i].in_flight;
    return total;
}

//  A pool socket's routing id (CA_GATEWAY_ID_MARK, pool index, slot):
//  the writer's direct answers name it, so they find their pool. Unique per
//  worker ROUTER, which would drop a second connection with the same id.
static void s_set_pool_id(self_t *self, zsock_t *dealer, size_t pool, unsigned slot) {
    uint8_t id[CA_GATEWAY_ID_SIZE] = {
        CA_GATEWAY_ID_MARK,   (uint8_t)pool,           (uint8_t)(pool >> 8),          (uint8_t)slot,
        (uint8_t)(slot >> 8), (uint8_t)self->instance, (uint8_t)(self->instance >> 8)};
    zmq_setsockopt(zsock_resolve(dealer), ZMQ_ROUTING_ID, id, sizeof id);
}

static zsock_t *s_pool_dealer(self_t *self, const ca_store_def_t *def) {
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL; //  the start fails (ca_actor_socket_error)
    zsock_set_sndhwm(dealer, (int)ca_store_queue_max(def, self->config.queue_max));
    zsock_set_rcvhwm(dealer, 0); //  answers: bounded by what was admitted
    return dealer;
}

static bool s_pool_has_affinity(const ca_store_def_t *def) {
    for (size_t h = 0; h < def->handler_count; h++)
        if (def->handlers[h].route_field)
            return true;
    return false;
}

static bool s_pool_serves(const ca_store_def_t *def, Cairn__Request__BodyCase body) {
    for (size_t h = 0; h < def->handler_count; h++)
        if (def->handlers[h].body == body)
            return true;
    return false;
}

//  Connects the pool's sockets to its workers (and Info's own socket, when
//  the pool serves MessageStats).
static char *s_connect_workers(self_t *self, const ca_store_def_t *def, pool_t *pool) {
    size_t index = (size_t)(pool - self->pools);
    pool->dealer = s_pool_dealer(self, def);
    if (!pool->dealer)
        return ca_actor_socket_error("gateway");
    s_set_pool_id(self, pool->dealer, index, 0);
    if (s_pool_has_affinity(def))
        pool->pinned = (zsock_t **)zmalloc(pool->workers * sizeof(zsock_t *));
    if (!self->info_stats && s_pool_serves(def, CAIRN__REQUEST__BODY_MESSAGE_STATS)) {
        self->info_stats = s_pool_dealer(self, def);
        if (!self->info_stats)
            return ca_actor_socket_error("gateway");
        self->info_pool = pool;
    }
    for (unsigned w = 0; w < pool->workers; w++) {
        char *endpoint = ca_store_endpoint(def->name, w);
        int rc = zsock_connect(pool->dealer, "%s", endpoint);
        if (rc == 0 && pool->pinned) {
            pool->pinned[w] = s_pool_dealer(self, def);
            if (!pool->pinned[w]) {
                zstr_free(&endpoint);
                return ca_actor_socket_error("gateway");
            }
            s_set_pool_id(self, pool->pinned[w], index, w + 1);
            rc = zsock_connect(pool->pinned[w], "%s", endpoint);
        }
        if (rc == 0 && self->info_pool == pool)
            rc = zsock_connect(self->info_stats, "%s", endpoint);
        zstr_free(&endpoint);
        if (rc != 0)
            return zsys_sprintf("gateway cannot reach store %s worker %u", def->name, w);
    }
    return NULL;
}

static char *s_connect_pools(self_t *self) {
    self->pool_count = self->config.store_count;
    self->pools = (pool_t *)zmalloc((self->pool_count ? self->pool_count : 1) * sizeof(pool_t));
    for (size_t i = 0; i < self->pool_count; i++) {
        const ca_store_def_t *def = self->config.stores[i];
        pool_t *pool = &self->pools[i];
        pool->name = def->name;
        pool->workers = ca_store_workers(def, self->config.workers);
        pool->max_in_flight = def->max_in_flight;
        char *error = s_connect_workers(self, def, pool);
        if (error)
            return error;
        for (size_t h = 0; h < def->handler_count; h++) {
            unsigned field = (unsigned)def->handlers[h].body;
            if (field > CA_MAX_BODY_FIELD || self->route[field] ||
                field == CAIRN__REQUEST__BODY_PING || field == CAIRN__REQUEST__BODY_INFO)
                return zsys_sprintf("request kind %u of store %s is routed twice or out of range",
                                    field, def->name);
            self->route[field] = (uint8_t)(i + 1);
            self->route_field[field] = def->handlers[h].route_field;
            self->kind[field] = def->handlers[h].name;
            self->frame_max[field] = s_kind_frame_max((uint32_t)field);
        }
    }
    return NULL;
}

//  What one client and all of them may hold (gateway_clients.h).
static gateway_clients_limits_t s_client_limits(const self_t *self) {
    return (gateway_clients_limits_t){
        .in_flight_max = self->config.client_in_flight_max,
        .answer_bytes_max = self->config.client_answer_bytes_max,
        .answers_bytes_max = self->config.answer_bytes_max,
    };
}

//  Per client bounds: each pool's share is half its queue (all its
//  workers), so one client alone cannot fill it, but at least one request
//  per worker, so one client can still use all of them.
static void s_new_clients(self_t *self) {
    size_t *share = (size_t *)zmalloc((self->pool_count ? self->pool_count : 1) * sizeof(size_t));
    for (size_t i = 0; i < self->pool_count; i++) {
        size_t capacity = self->pools[i].workers *
                          ca_store_queue_max(self->config.stores[i], self->config.queue_max);
        share[i] = capacity / CA_CLIENT_POOL_SHARE_DIVISOR;
        if (share[i] < self->pools[i].workers) //  a client may keep every worker busy
            share[i] = self->pools[i].workers;
    }
    gateway_clients_limits_t limits = s_client_limits(self);
    self->clients = gateway_clients_new(self->pool_count, share, &limits);
    free(share);
    int64_t *budget =
        (int64_t *)zmalloc((self->pool_count ? self->pool_count : 1) * sizeof(int64_t));
    for (size_t i = 0; i < self->pool_count; i++)
        budget[i] = (int64_t)self->pools[i].workers * self->config.queue_bytes;
    self->bytes = gateway_bytes_new(self->pool_count, budget);
    free(budget);
}

static char *s_start(self_t *self) {
    char *error = s_connect_pools(self);
    if (error)
        return error;
    s_new_clients(self);
    self->answers = zsock_new(ZMQ_PULL);
    if (!self->answers)
        return ca_actor_socket_error("gateway");
    zsock_set_rcvhwm(self->answers, 0); //  bounded by what was admitted
    if (zsock_bind(self->answers, "%s", self->config.answers_endpoint) != 0)
        return zsys_sprintf("gateway cannot bind %s: %s", self->config.answers_endpoint,
                            zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->answers);
    if (self->config.subscriptions_endpoint) {
        self->subs = zsock_new(ZMQ_DEALER);
        if (!self->subs)
            return ca_actor_socket_error("gateway");
        zsock_set_sndhwm(self->subs, (int)self->config.queue_max);
        zsock_set_rcvhwm(self->subs, 0); //  bounded by the subscriptions' windows
        zsock_connect(self->subs, "%s", self->config.subscriptions_endpoint);
        zpoller_add(self->poller, self->subs);
    }
    self->writer = zsock_new(ZMQ_DEALER);
    self->client = self->writer ? zsock_new(ZMQ_ROUTER) : NULL;
    if (!self->client)
        return ca_actor_socket_error("gateway");
    zsock_connect(self->writer, "%s",
                  self->config.writer_endpoint ? self->config.writer_endpoint : CA_WRITER_ENDPOINT);
    //  libzmq takes an int64 here; CZMQ's setter would truncate it to int.
    int64_t max_frame = self->config.max_frame_bytes;
    zmq_setsockopt(zsock_resolve(self->client), ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    zsock_set_sndhwm(self->client, CA_CLIENT_SNDHWM);
    zsock_set_rcvhwm(self->client, (int)self->config.queue_max);
    zsock_set_linger(self->client, 2000); //  deliver the last answers on close
    if (self->config.curve)
        ca_curve_apply_server(&self->config.curve_key, CA_CURVE_CLIENT_DOMAIN, self->client);
    //  Before the bind, so that every connection is counted.
    self->connections = gateway_connections_new(self->client, self->config.max_clients);
    if (!self->connections)
        return ca_actor_socket_error("gateway");
    zpoller_add(self->poller, gateway_connections_socket(self->connections));
    if (zsock_bind(self->client, "%s", self->config.endpoint) == -1)
        return zsys_sprintf("cannot bind the client endpoint %s: %s; is another cairnd using "
                            "it? Choose another with --client-endpoint",
                            self->config.endpoint, zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->client);
    self->started_at = zclock_mono();
    if (self->config.metrics_endpoint) {
        self->metrics = gateway_metrics_new(self->config.metrics_endpoint, &error);
        if (!self->metrics)
            return error;
        zpoller_add(self->poller, gateway_metrics_socket(self->metrics));
        char *bound = gateway_metrics_endpoint(self->metrics);
        ca_log_info("gateway: metrics at %s/metrics", bound ? bound : "?");
        zstr_free(&bound);
    }
    return NULL;
}

static void s_finish_drain_if_done(self_t *self) {
    if (!self->drain_waiter)
        return;
    uint64_t left = s_in_flight(self);
    if (left == 0 || zclock_mono() >= self->drain_deadline) {
        if (left)
            ca_log_warning("gateway: drain timed out with %" PRIu64 " requests unanswered", left);
        zsock_send(self->drain_waiter, "is", 0, left ? "timeout" : "drained");
        self->drain_waiter = NULL;
    }
}

//  LIMITS [generation uint64][client_in_flight_max int64]
//  [client_answer_bytes_max int64][answer_bytes_max int64][max_clients
//  int64] (SIGHUP, node_reload): held to from the next request on (0 keeps
//  a limit as it is); answers [LIMITS][generation] once applied.
static void s_apply_limits(self_t *self) {
    uint64_t generation = 0;
    int64_t in_flight = 0, answer_bytes = 0, answers_bytes = 0, max_clients = 0;
    if (zsock_recv(self->pipe, "88888", &generation, &in_flight, &answer_bytes, &answers_bytes,
                   &max_clients) == 0) {
        if (in_flight > 0)
            self->config.client_in_flight_max = (size_t)in_flight;
        if (answer_bytes > 0)
            self->config.client_answer_bytes_max = answer_bytes;
        if (answers_bytes > 0)
            self->config.answer_bytes_max = answers_bytes;
        if (max_clients > 0)
            self->config.max_clients = (size_t)max_clients;
        gateway_clients_limits_t limits = s_client_limits(self);
        if (self->clients)
            gateway_clients_set_limits(self->clients, &limits);
        if (self->connections)
            gateway_connections_set_max(self->connections, self->config.max_clients);
    }
    zsock_send(self->pipe, "s8", "LIMITS", generation);
}

static void s_handle_pipe(self_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else if (streq(command, "DRAIN")) {
        self->draining = true;
        self->drain_waiter = self->pipe;
        self->drain_deadline = zclock_mono() + self->config.drain_ms;
        s_finish_drain_if_done(self);
    } else if (streq(command, "LIMITS"))
        s_apply_limits(self);
    else if (streq(command, "ENDPOINT")) {
        char *endpoint = self->client ? zsock_last_endpoint(self->client) : NULL;
        zstr_send(self->pipe, endpoint ? endpoint : "");
        zstr_free(&endpoint);
    } else
        ca_log_error("gateway: unknown pipe command '%s'", command);
    zstr_free(&command);
}

static void s_serve_pool_socket(self_t *self, pool_t *pool, zsock_t *socket) {
    zmsg_t *msg;
    for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(socket)); n++)
        s_handle_pool(self, pool, socket, msg);
}

//  Answers first (they finish admitted work), then new client requests, each
//  socket up to a burst per turn so none starves the others. A socket is
//  looked at only when an answer is owed on it (its pool or Info has
//  requests in flight), the connections monitor when the poller woke on it,
//  and all of them every CA_GATEWAY_SWEEP_TURNS turns:
//  asking an idle socket for its events costs libzmq a poll() of its
//  mailbox, and a dozen idle pools cost the pipelined Ping a fifth of its
//  rate.
static void s_serve_ready(self_t *self, void *woken_by) {
    if (!self->client)
        return; //  START failed half-way; nothing to serve
    bool sweep = ++self->turns % CA_GATEWAY_SWEEP_TURNS == 0;
    zmsg_t *msg;
    for (size_t i = 0; i < self->pool_count; i++) {
        pool_t *pool = &self->pools[i];
        if (!sweep && pool->in_flight == 0)
            continue;
        s_serve_pool_socket(self, pool, pool->dealer);
        for (unsigned w = 0; pool->pinned && w < pool->workers; w++)
            s_serve_pool_socket(self, pool, pool->pinned[w]);
    }
    //  Answers the writer sends for committed writes are owed on any pool.
    bool owed = sweep;
    for (size_t i = 0; i < self->pool_count && !owed; i++)
        owed = self->pools[i].in_flight > 0;
    for (int n = 0; owed && n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->answers)); n++)
        s_handle_direct_answer(self, msg);
    bool info_owed = sweep || self->info_in_flight > 0;
    if (self->info_pool && info_owed)
        s_serve_pool_socket(self, self->info_pool, self->info_stats);
    for (int n = 0; info_owed && n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->writer)); n++)
        s_handle_writer(self, msg);
    for (int n = 0; self->subs && (sweep || woken_by == self->subs) && n < CA_SERVE_BURST &&
                    (msg = ca_recv_waiting(self->subs));
         n++)
        s_handle_subscriptions(self, msg);
    for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->client)); n++)
        s_handle_client(self, msg);
    if (self->connections && (sweep || woken_by == gateway_connections_socket(self->connections)))
        gateway_connections_handle(self->connections);
    if (self->metrics && (sweep || woken_by == gateway_metrics_socket(self->metrics)))
        s_metrics_serve(self, true);
}

static self_t *s_self_new(zsock_t *pipe, const gateway_config_t *config) {
    self_t *self = (self_t *)zmalloc(sizeof(self_t));
    self->pipe = pipe;
    self->config = *config;
    self->config.endpoint = strdup(config->endpoint);
    self->config.data_dir = strdup(config->data_dir ? config->data_dir : "");
    self->config.db_path = strdup(config->db_path ? config->db_path : "");
    self->config.writer_endpoint = config->writer_endpoint ? strdup(config->writer_endpoint) : NULL;
    self->config.metrics_endpoint =
        config->metrics_endpoint ? strdup(config->metrics_endpoint) : NULL;
    self->config.answers_endpoint =
        strdup(config->answers_endpoint ? config->answers_endpoint : CA_GATEWAY_ANSWERS_ENDPOINT);
    self->config.subscriptions_endpoint =
        config->subscriptions_endpoint ? strdup(config->subscriptions_endpoint) : NULL;
    if (!self->config.queue_max)
        self->config.queue_max = CA_DEFAULT_QUEUE_MAX;
    if (!self->config.queue_bytes)
        self->config.queue_bytes = CA_DEFAULT_QUEUE_BYTES;
    if (!self->config.client_in_flight_max)
        self->config.client_in_flight_max = CA_DEFAULT_CLIENT_IN_FLIGHT_MAX;
    if (!self->config.client_answer_bytes_max)
        self->config.client_answer_bytes_max = CA_DEFAULT_CLIENT_ANSWER_BYTES_MAX;
    if (!self->config.answer_bytes_max)
        self->config.answer_bytes_max = CA_DEFAULT_ANSWER_BYTES_MAX;
    static atomic_uint instances;
    self->instance = atomic_fetch_add(&instances, 1);
    self->poller = zpoller_new(pipe, NULL);
    return self;
}

static void s_self_destroy(self_t **self_p) {
    self_t *self = *self_p;
    zpoller_destroy(&self->poller);
    for (size_t i = 0; i < self->pool_count; i++) {
        pool_t *pool = &self->pools[i];
        zsock_destroy(&pool->dealer);
        for (unsigned w = 0; pool->pinned && w < pool->workers; w++)
            zsock_destroy(&pool->pinned[w]);
        free(pool->pinned);
        gateway_metrics_latency_free(&pool->latency);
    }
    gateway_metrics_destroy(&self->metrics);
    if (self->metrics_writer)
        cairn__writer_info__free_unpacked(self->metrics_writer, NULL);
    free((char *)self->config.metrics_endpoint);
    free(self->pools);
    zsock_destroy(&self->info_stats);
    if (self->answers) //  free the inproc name at once (see writer.c)
        zsock_unbind(self->answers, "%s", self->config.answers_endpoint);
    zsock_destroy(&self->answers);
    free((char *)self->config.answers_endpoint);
    zsock_destroy(&self->writer);
    zsock_destroy(&self->subs);
    free((char *)self->config.subscriptions_endpoint);
    gateway_connections_destroy(&self->connections);
    zsock_destroy(&self->client);
    gateway_clients_destroy(&self->clients);
    gateway_bytes_destroy(&self->bytes);
    free((char *)self->config.endpoint);
    free((char *)self->config.data_dir);
    free((char *)self->config.db_path);
    free((char *)self->config.writer_endpoint);
    ca_curve_key_wipe(&self->config.curve_key);
    free(self);
    *self_p = NULL;
}

void gateway_actor(zsock_t *pipe, void *args) {
    self_t *self = s_self_new(pipe, (const gateway_config_t *)args);
    pthread_setname_np(pthread_self(), "cairn-gateway");
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        //  While draining, wake up to honour the deadline; so for the
        //  metrics connections' deadlines.
        int timeout = s_metrics_timeout(self);
        if (self->drain_waiter && (timeout < 0 || timeout > 50))
            timeout = 50;
        void *which = zpoller_wait(self->poller, timeout);
        if (which == self->pipe)
            s_handle_pipe(self);
        else if (which)
            s_serve_ready(self, which);
        else if (ca_actor_poll_failed(self->poller))
            break;
        else if (self->metrics)
            s_metrics_serve(self, false);
        s_finish_drain_if_done(self);
    }
    s_self_destroy(&self);
}

char *gateway_endpoint(zactor_t *gateway) {
    zstr_send(gateway, "ENDPOINT");
    return zstr_recv(gateway);
}

//  ---- self-test -------------------------------------------------------------------
//
//  The gateway between a real writer (for Info) and store workers played by
//  the test: ROUTER sockets bound where the gateway expects a pool's workers,
//  so the test sees exactly which worker each request reaches and decides
//  when (or whether) it is answered. Every wait has a timeout.

#include "ca_request.h"
#include "ca_testbed.h"

#define TEST_TIMEOUT_MS 5000
#define TEST_FLOOD      20

//  Pool "gwtest-kv": one worker, two requests queued at most.
static const ca_handler_t s_test_kv_rows[] = {
    {CAIRN__REQUEST__BODY_CONFIG_GET, "config_get", NULL, NULL, 0},
    {CAIRN__REQUEST__BODY_CONFIG_SET, "config_set", NULL, NULL, 0},
};
static const ca_store_def_t s_test_kv = {.name = "gwtest-kv",
                                         .handlers = s_test_kv_rows,
                                         .handler_count = 2,
                                         .workers = 1,
                                         .queue_max = 2};

//  Pool "gwtest-stats": two workers; MessageStats round robin, ContentChunk
//  by stream_id, ContentAbort always on worker 0.
static const ca_handler_t s_test_stats_rows[] = {
    {CAIRN__REQUEST__BODY_MESSAGE_STATS, "message_stats", NULL, NULL, 0},
    {CAIRN__REQUEST__BODY_CONTENT_CHUNK, "content_chunk", NULL, NULL, 1},
    {CAIRN__REQUEST__BODY_CONTENT_ABORT, "content_abort", NULL, NULL, CA_ROUTE_ONE_WORKER},
};
static const ca_store_def_t s_test_stats = {
    .name = "gwtest-stats", .handlers = s_test_stats_rows, .handler_count = 3, .workers = 2};

typedef struct {
    char *dir;
    char *db_path;
    zactor_t *writer;
    zsock_t *kv;       //  worker 0 of gwtest-kv
    zsock_t *stats[2]; //  workers of gwtest-stats
    zactor_t *gateway;
    char *endpoint;  //  the gateway's tcp endpoint
    zsock_t *client; //  a DEALER client
} test_bed_t;

static zsock_t *s_test_worker(const ca_store_def_t *def, unsigned index, int rcvhwm) {
    zsock_t *worker = zsock_new(ZMQ_ROUTER);
    zsock_set_rcvhwm(worker, rcvhwm);
    zsock_set_rcvtimeo(worker, TEST_TIMEOUT_MS);
    char *endpoint = ca_store_endpoint(def->name, index);
    int rc = zsock_bind(worker, "%s", endpoint);
    assert(rc == 0);
    zstr_free(&endpoint);
    return worker;
}

static zsock_t *s_test_client(test_bed_t *bed, const void *routing_id, size_t size) {
    zsock_t *client = zsock_new(ZMQ_DEALER);
    if (routing_id) {
        int rc = zmq_setsockopt(zsock_resolve(client), ZMQ_ROUTING_ID, routing_id, size);
        assert(rc == 0);
    }
    zsock_set_rcvtimeo(client, TEST_TIMEOUT_MS);
    int rc = zsock_connect(client, "%s", bed->endpoint);
    assert(rc == 0);
    return client;
}

static const ca_store_def_t *const s_test_stores[] = {&s_test_kv, &s_test_stats};

static zactor_t *s_test_gateway(test_bed_t *bed, int drain_ms) {
    char *writer_endpoint = zsys_sprintf("inproc://gwtest-writer-%p", (void *)bed);
    //  One per gateway: the drain test runs a second beside the bed's.
    char *answers_endpoint = zsys_sprintf("inproc://gwtest-answers-%p-%d", (void *)bed, drain_ms);
    gateway_config_t config = {.endpoint = "tcp://127.0.0.1:*",
                               .answers_endpoint = answers_endpoint,
                               .max_frame_bytes = CA_DEFAULT_MAX_FRAME_BYTES,
                               .stores = s_test_stores,
                               .store_count = 2,
                               .workers = 3, //  the defs' own counts win
                               .drain_ms = drain_ms,
                               .writer_endpoint = writer_endpoint,
                               .data_dir = bed->dir,
                               .db_path = bed->db_path};
    zactor_t *gateway = zactor_new(gateway_actor, &config);
    char *error = NULL;
    int rc = ca_actor_start(gateway, &error);
    assert(rc == 0);
    zstr_free(&writer_endpoint);
    zstr_free(&answers_endpoint);
    return gateway;
}

static void s_test_bed_new(test_bed_t *bed) {
    memset(bed, 0, sizeof *bed);
    bed->dir = ca_test_tempdir("cairn-gateway");
    bed->db_path = zsys_sprintf("%s/%s", bed->dir, CA_DB_FILE);
    char *writer_endpoint = zsys_sprintf("inproc://gwtest-writer-%p", (void *)bed);
    writer_config_t writer = {
        .db_path = bed->db_path, .endpoint = writer_endpoint, .batch_max = CA_DEFAULT_WRITER_BATCH};
    bed->writer = zactor_new(writer_actor, &writer);
    char *error = NULL;
    int rc = ca_actor_start(bed->writer, &error);
    assert(rc == 0);
    zstr_free(&writer_endpoint);
    bed->kv = s_test_worker(&s_test_kv, 0, 1);
    bed->stats[0] = s_test_worker(&s_test_stats, 0, 1000);
    bed->stats[1] = s_test_worker(&s_test_stats, 1, 1000);
    bed->gateway = s_test_gateway(bed, TEST_TIMEOUT_MS);
    bed->endpoint = gateway_endpoint(bed->gateway);
    bed->client = s_test_client(bed, NULL, 0);
}

static void s_test_bed_destroy(test_bed_t *bed) {
    zactor_destroy(&bed->gateway);
    zsock_destroy(&bed->client);
    zsock_destroy(&bed->kv);
    zsock_destroy(&bed->stats[0]);
    zsock_destroy(&bed->stats[1]);
    zactor_destroy(&bed->writer);
    ca_test_rmtree(bed->dir);
    zstr_free(&bed->dir);
    zstr_free(&bed->db_path);
    zstr_free(&bed->endpoint);
}

static void s_test_send(zsock_t *client, const Cairn__Request *request) {
    zframe_t *frame = ca_message_frame(&request->base);
    int rc = zframe_send(&frame, client, 0);
    assert(rc == 0);
}

//  The next answer on `client`; aborts when none comes in time.
static Cairn__Response *s_test_recv(zsock_t *client) {
    zframe_t *frame = zframe_recv(client);
    assert(frame);
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert(response);
    zframe_destroy(&frame);
    return response;
}

//  The answer to a request whose answer must be `status` with `fragment`.
static void s_test_expect(zsock_t *client, uint64_t id, Cairn__Status status,
                          const char *fragment) {
    Cairn__Response *response = s_test_recv(client);
    assert(response->id == id);
    ca_testbed_fails(response, status, fragment);
}

//  A request as a worker gets it: [gateway id][client id][Request]. Returns
//  the message (the caller answers or destroys it) and the decoded request.
static zmsg_t *s_test_take(zsock_t *worker, Cairn__Request **request_p) {
    zmsg_t *msg = zmsg_recv(worker);
    assert(msg && zmsg_size(msg) == 3);
    zframe_t *frame = zmsg_last(msg);
    *request_p = cairn__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert(*request_p);
    return msg;
}

//  Answers a taken request with `response` (its id is the request's).
static void s_test_answer(zsock_t *worker, zmsg_t **msg_p, Cairn__Response *response) {
    zmsg_t *msg = *msg_p;
    zframe_t *request = zmsg_last(msg);
    zmsg_remove(msg, request);
    zframe_destroy(&request);
    zframe_t *answer = ca_response_frame(response);
    zmsg_append(msg, &answer);
    int rc = zmsg_send(msg_p, worker);
    assert(rc == 0);
}

//  Takes one request of kind `body` on `worker` and answers it OK (a
//  MessageStatsReply saying `messages`, or an empty OK).
static void s_test_serve(zsock_t *worker, Cairn__Request__BodyCase body, uint64_t messages) {
    Cairn__Request *request;
    zmsg_t *msg = s_test_take(worker, &request);
    assert(request->body_case == body);
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    Cairn__MessageStatsReply stats = CAIRN__MESSAGE_STATS_REPLY__INIT;
    response.id = request->id;
    if (body == CAIRN__REQUEST__BODY_MESSAGE_STATS) {
        stats.messages = messages;
        response.body_case = CAIRN__RESPONSE__BODY_MESSAGE_STATS;
        response.message_stats = &stats;
    }
    s_test_answer(worker, &msg, &response);
    cairn__request__free_unpacked(request, NULL);
}

//  Whether a socket has a message within `timeout` ms.
static bool s_test_ready(void *socket, int timeout) {
    zpoller_t *poller = zpoller_new(socket, NULL);
    bool ready = zpoller_wait(poller, timeout) == socket;
    zpoller_destroy(&poller);
    return ready;
}

//  Ping answered at the gateway; malformed, bodiless, multi-frame and
//  unknown requests answered INVALID there.
static void s_test_invalid(test_bed_t *bed) {
    Cairn__Request request;
    Cairn__Ping ping;
    ca_request_ping(&request, &ping, 1);
    ping.payload.data = (uint8_t *)"hello";
    ping.payload.len = 5;
    s_test_send(bed->client, &request);
    Cairn__Response *response = ca_testbed_ok(s_test_recv(bed->client), CAIRN__RESPONSE__BODY_PONG);
    assert(response->id == 1 && response->pong->payload.len == 5 && response->pong->node_time_us);
    cairn__response__free_unpacked(response, NULL);

    zstr_send(bed->client, "\xff\xff\xff not a request");
    Cairn__Response *garbage = s_test_recv(bed->client);
    ca_testbed_fails(garbage, CAIRN__STATUS__INVALID, "");

    Cairn__Request empty = CAIRN__REQUEST__INIT;
    empty.id = 2;
    s_test_send(bed->client, &empty);
    s_test_expect(bed->client, 2, CAIRN__STATUS__INVALID, "no body");

    Cairn__ChannelList list;
    ca_request_channel_list(&request, &list, 3);
    s_test_send(bed->client, &request);
    s_test_expect(bed->client, 3, CAIRN__STATUS__INVALID, "unknown request kind");

    //  An extra frame before the request (what the Info continuation once
    //  looked like) is refused, and the node keeps serving.
    zframe_t *extra = zframe_new("\0INF", 4);
    zframe_send(&extra, bed->client, ZFRAME_MORE);
    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 4);
    s_test_send(bed->client, &request);
    ca_testbed_fails(s_test_recv(bed->client), CAIRN__STATUS__INVALID, "exactly one frame");
    ca_request_ping(&request, &ping, 5);
    s_test_send(bed->client, &request);
    response = ca_testbed_ok(s_test_recv(bed->client), CAIRN__RESPONSE__BODY_PONG);
    cairn__response__free_unpacked(response, NULL);
    assert(!s_test_ready(bed->kv, 0) && !s_test_ready(bed->stats[0], 0));
}

//  Requests reach the pool serving their kind, the worker their affinity
//  key picks, and the answer comes back to the client that asked.
static void s_test_routing(test_bed_t *bed) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, 10, "some/key", "");
    s_test_send(bed->client, &request);
    s_test_serve(bed->kv, CAIRN__REQUEST__BODY_CONFIG_GET, 0);
    Cairn__Response *response = s_test_recv(bed->client);
    assert(response->id == 10 && response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);

    //  Round robin: four MessageStats reach both workers.
    Cairn__MessageStats stats;
    for (uint64_t id = 11; id <= 14; id++) {
        ca_request_message_stats(&request, &stats, id);
        s_test_send(bed->client, &request);
    }
    unsigned served[2] = {0, 0};
    zpoller_t *poller = zpoller_new(bed->stats[0], bed->stats[1], NULL);
    while (served[0] + served[1] < 4) {
        zsock_t *which = (zsock_t *)zpoller_wait(poller, TEST_TIMEOUT_MS);
        assert(which);
        unsigned w = which == bed->stats[1];
        s_test_serve(which, CAIRN__REQUEST__BODY_MESSAGE_STATS, 100 + w);
        served[w]++;
    }
    zpoller_destroy(&poller);
    assert(served[0] >= 1 && served[1] >= 1);
    for (int i = 0; i < 4; i++) {
        response = ca_testbed_ok(s_test_recv(bed->client), CAIRN__RESPONSE__BODY_MESSAGE_STATS);
        assert(response->id >= 11 && response->id <= 14);
        cairn__response__free_unpacked(response, NULL);
    }

    //  Affinity: stream 7 always on worker 1, stream 8 on worker 0; aborts
    //  (CA_ROUTE_ONE_WORKER) all on worker 0 whatever their stream.
    Cairn__ContentChunk chunk;
    Cairn__ContentAbort abort_body;
    for (uint64_t i = 0; i < 3; i++) {
        ca_request_content_chunk(&request, &chunk, 20 + i, 7, 0, "x", 1);
        s_test_send(bed->client, &request);
        s_test_serve(bed->stats[1], CAIRN__REQUEST__BODY_CONTENT_CHUNK, 0);
        ca_request_content_chunk(&request, &chunk, 30 + i, 8, 0, "x", 1);
        s_test_send(bed->client, &request);
        s_test_serve(bed->stats[0], CAIRN__REQUEST__BODY_CONTENT_CHUNK, 0);
        ca_request_content_abort(&request, &abort_body, 40 + i, 7 + i);
        s_test_send(bed->client, &request);
        s_test_serve(bed->stats[0], CAIRN__REQUEST__BODY_CONTENT_ABORT, 0);
    }
    for (int i = 0; i < 9; i++) {
        response = s_test_recv(bed->client);
        assert(response->status == CAIRN__STATUS__OK);
        cairn__response__free_unpacked(response, NULL);
    }
    assert(!s_test_ready(bed->stats[0], 0) && !s_test_ready(bed->stats[1], 0));
}

//  A pool whose worker does not read fills up: the flood is refused BUSY at
//  once, other pools keep flowing, and what was admitted is answered once
//  the worker catches up.
static void s_test_busy(test_bed_t *bed) {
    Cairn__Request request;
    Cairn__ConfigSet set;
    for (uint64_t id = 100; id < 100 + TEST_FLOOD; id++) {
        ca_request_config_set(&request, &set, id, "k", "v");
        s_test_send(bed->client, &request);
    }
    //  The gateway handles one client's frames in order: the Pong comes
    //  after every BUSY answer to the flood. One client meets its share of
    //  the pool's queue (gateway_clients) before the queue itself is full.
    Cairn__Ping ping;
    ca_request_ping(&request, &ping, 200);
    s_test_send(bed->client, &request);
    unsigned busy = ca_test_count_busy(s_test_recv, bed->client, 100, TEST_FLOOD, 200,
                                       "its share of the store's queue");
    unsigned admitted = TEST_FLOOD - busy;
    assert(busy >= 1 && admitted >= 1);
    //  Another pool is not held up by the saturated one.
    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 201);
    s_test_send(bed->client, &request);
    zsock_t *which = s_test_ready(bed->stats[0], TEST_TIMEOUT_MS) ? bed->stats[0] : bed->stats[1];
    s_test_serve(which, CAIRN__REQUEST__BODY_MESSAGE_STATS, 0);
    Cairn__Response *response = s_test_recv(bed->client);
    assert(response->id == 201 && response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    //  The worker catches up: every admitted request is answered.
    for (unsigned i = 0; i < admitted; i++)
        s_test_serve(bed->kv, CAIRN__REQUEST__BODY_CONFIG_SET, 0);
    for (unsigned i = 0; i < admitted; i++) {
        response = s_test_recv(bed->client);
        assert(response->status == CAIRN__STATUS__OK);
        cairn__response__free_unpacked(response, NULL);
    }
    assert(!s_test_ready(bed->kv, 0));
}

//  Info: the writer's figures, the pools' counters and, from the pool
//  serving MessageStats, the message statistics.
//  Asks Info; the stats pool's worker answers MessageStats with `messages`.
static Cairn__Response *s_test_info_call(test_bed_t *bed, uint64_t id, uint64_t messages) {
    Cairn__Request request;
    Cairn__InfoRequest info_body;
    ca_request_info(&request, &info_body, id);
    s_test_send(bed->client, &request);
    zpoller_t *poller = zpoller_new(bed->stats[0], bed->stats[1], NULL);
    zsock_t *which = (zsock_t *)zpoller_wait(poller, TEST_TIMEOUT_MS);
    zpoller_destroy(&poller);
    assert(which);
    s_test_serve(which, CAIRN__REQUEST__BODY_MESSAGE_STATS, messages);
    return ca_testbed_ok(s_test_recv(bed->client), CAIRN__RESPONSE__BODY_INFO);
}

static void s_test_info(test_bed_t *bed) {
    Cairn__Response *response = s_test_info_call(bed, 300, 42);
    Cairn__InfoReply *info = response->info;
    assert(response->id == 300);
    assert(streq(info->version, CAIRN_VERSION) && streq(info->data_dir, bed->dir));
    assert(info->api_version == CA_API_VERSION);
    assert(info->writer && info->messages && info->messages->messages == 42);
    assert(info->invalid >= 4 && info->requests > info->invalid);
    assert(info->n_actors == 2);
    assert(streq(info->actors[0]->name, "gwtest-kv") && info->actors[0]->workers == 1);
    assert(info->actors[0]->busy >= 1 && info->actors[0]->queue_depth == 0);
    assert(streq(info->actors[1]->name, "gwtest-stats") && info->actors[1]->workers == 2);
    cairn__response__free_unpacked(response, NULL);
}

//  A client that names itself like an Info continuation (0x00 'INF', a
//  request id, an empty WriterInfo, then another client's routing id) gets
//  the answer to its own request; the other client gets nothing forged.
static void s_test_forged_continuation(test_bed_t *bed) {
    zsock_t *victim = s_test_client(bed, "victim", 6);
    uint8_t forged[16 + 6] = {0, 'I', 'N', 'F', 77};
    memcpy(forged + 16, "victim", 6);
    zsock_t *forger = s_test_client(bed, forged, sizeof forged);
    Cairn__Request request;
    Cairn__Ping ping;
    ca_request_ping(&request, &ping, 1);
    s_test_send(victim, &request); //  so that the victim is connected
    Cairn__Response *response = ca_testbed_ok(s_test_recv(victim), CAIRN__RESPONSE__BODY_PONG);
    cairn__response__free_unpacked(response, NULL);
    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 400);
    s_test_send(forger, &request);
    zpoller_t *poller = zpoller_new(bed->stats[0], bed->stats[1], NULL);
    zsock_t *which = (zsock_t *)zpoller_wait(poller, TEST_TIMEOUT_MS);
    zpoller_destroy(&poller);
    assert(which);
    s_test_serve(which, CAIRN__REQUEST__BODY_MESSAGE_STATS, 7);
    response = ca_testbed_ok(s_test_recv(forger), CAIRN__RESPONSE__BODY_MESSAGE_STATS);
    assert(response->id == 400 && response->message_stats->messages == 7);
    cairn__response__free_unpacked(response, NULL);
    //  Anything sent to the victim before this Pong would arrive first.
    ca_request_ping(&request, &ping, 2);
    s_test_send(victim, &request);
    response = ca_testbed_ok(s_test_recv(victim), CAIRN__RESPONSE__BODY_PONG);
    assert(response->id == 2);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&forger);
    zsock_destroy(&victim);
}

//  DRAIN: new requests are answered UNAVAILABLE, the request in flight is
//  still answered, and DRAIN replies once none is left.
static void s_test_drain(test_bed_t *bed) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, 500, "held", "");
    s_test_send(bed->client, &request);
    Cairn__Request *held_request;
    zmsg_t *held = s_test_take(bed->kv, &held_request);
    assert(held_request->id == 500);
    cairn__request__free_unpacked(held_request, NULL);

    zstr_send(bed->gateway, "DRAIN");
    //  DRAIN is not acknowledged until done: ping until the gateway has
    //  taken it (a Pong came from before, UNAVAILABLE from after).
    Cairn__Ping ping;
    Cairn__Response *response = NULL;
    for (uint64_t id = 1000; !response; id++) {
        assert(id < 1000 + TEST_TIMEOUT_MS);
        ca_request_ping(&request, &ping, id);
        s_test_send(bed->client, &request);
        response = s_test_recv(bed->client);
        if (response->status == CAIRN__STATUS__OK) {
            cairn__response__free_unpacked(response, NULL);
            response = NULL;
        }
    }
    ca_testbed_fails(response, CAIRN__STATUS__UNAVAILABLE, "shutting down");
    ca_request_config_get(&request, &get, 501, "late", "");
    s_test_send(bed->client, &request);
    s_test_expect(bed->client, 501, CAIRN__STATUS__UNAVAILABLE, "shutting down");
    assert(!s_test_ready(bed->kv, 0));
    assert(!s_test_ready(bed->gateway, 0)); //  one request still in flight

    Cairn__Response answer = CAIRN__RESPONSE__INIT;
    answer.id = 500;
    s_test_answer(bed->kv, &held, &answer);
    response = s_test_recv(bed->client);
    assert(response->id == 500 && response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    assert(s_test_ready(bed->gateway, TEST_TIMEOUT_MS));
    int status = -1;
    char *outcome = NULL;
    zsock_recv(bed->gateway, "is", &status, &outcome);
    assert(status == 0 && streq(outcome, "drained"));
    zstr_free(&outcome);
}

//  A drain whose request never comes back gives up after drain_ms.
static void s_test_drain_timeout(test_bed_t *bed) {
    zactor_t *gateway = s_test_gateway(bed, 100);
    char *endpoint = gateway_endpoint(gateway);
    zsock_t *client = zsock_new_dealer(endpoint);
    zsock_set_rcvtimeo(client, TEST_TIMEOUT_MS);
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, 600, "never", "");
    s_test_send(client, &request);
    Cairn__Request *lost;
    zmsg_t *msg = s_test_take(bed->kv, &lost);
    cairn__request__free_unpacked(lost, NULL);
    zmsg_destroy(&msg);
    zstr_send(gateway, "DRAIN");
    assert(s_test_ready(gateway, TEST_TIMEOUT_MS));
    int status = -1;
    char *outcome = NULL;
    zsock_recv(gateway, "is", &status, &outcome);
    assert(status == 0 && streq(outcome, "timeout"));
    zstr_free(&outcome);
    zactor_destroy(&gateway);
    zsock_destroy(&client);
    zstr_free(&endpoint);
}

//  The kv pool's figures in Info: requests, errors, in flight.
static void s_test_kv_figures(test_bed_t *bed, uint64_t figures[3]) {
    Cairn__Response *response = s_test_info_call(bed, 800, 0);
    Cairn__ActorInfo *kv = response->info->actors[0];
    figures[0] = kv->requests;
    figures[1] = kv->errors;
    figures[2] = kv->queue_depth;
    cairn__response__free_unpacked(response, NULL);
}

//  The writer answers a committed write on the answers socket, naming the
//  pool socket the request left on: the client gets it, and the pool's and
//  the client's in-flight counts go down as for a worker's answer (the kv
//  pool lets one client have one request in flight: the next is admitted).
static void s_test_direct_answers(test_bed_t *bed) {
    char *endpoint = zsys_sprintf("inproc://gwtest-answers-%p-%d", (void *)bed, TEST_TIMEOUT_MS);
    zsock_t *writer = zsock_new_push(endpoint);
    assert(writer);
    zstr_free(&endpoint);
    uint64_t before[3], after[3];
    s_test_kv_figures(bed, before);
    Cairn__Request request;
    Cairn__ConfigSet set;
    for (uint64_t id = 700; id < 703; id++) {
        ca_request_config_set(&request, &set, id, "k", "v");
        s_test_send(bed->client, &request);
        Cairn__Request *taken;
        zmsg_t *msg = s_test_take(bed->kv, &taken);
        assert(taken->id == id);
        cairn__request__free_unpacked(taken, NULL);
        zframe_t *gateway_id = zmsg_first(msg);
        assert(zframe_size(gateway_id) == CA_GATEWAY_ID_SIZE &&
               zframe_data(gateway_id)[0] == CA_GATEWAY_ID_MARK);
        //  The last one is an error answer (counted as one).
        Cairn__Response answer = CAIRN__RESPONSE__INIT;
        answer.id = id;
        answer.status = id == 702 ? CAIRN__STATUS__CONFLICT : CAIRN__STATUS__OK;
        zframe_t *request_frame = zmsg_last(msg);
        zmsg_remove(msg, request_frame);
        zframe_destroy(&request_frame);
        zframe_t *frame = ca_response_frame(&answer);
        zmsg_append(msg, &frame);
        int rc = zmsg_send(&msg, writer);
        assert(rc == 0);
        Cairn__Response *response = s_test_recv(bed->client);
        assert(response->id == id && response->status == answer.status);
        cairn__response__free_unpacked(response, NULL);
    }
    //  A message that names no pool is dropped, not delivered.
    zstr_sendm(writer, "Gxx");
    zstr_sendm(writer, "client");
    zstr_send(writer, "answer");
    s_test_kv_figures(bed, after);
    assert(after[0] == before[0] + 3 && after[1] == before[1] + 1 && after[2] == 0);
    assert(!s_test_ready(bed->client, 0));
    zsock_destroy(&writer);
}

void gateway_test(bool verbose) {
    if (verbose)
        printf(" * gateway: ");
    test_bed_t bed;
    s_test_bed_new(&bed);
    s_test_invalid(&bed);
    s_test_routing(&bed);
    s_test_busy(&bed);
    s_test_info(&bed);
    s_test_direct_answers(&bed);
    s_test_forged_continuation(&bed);
    s_test_drain(&bed);
    s_test_drain_timeout(&bed);
    s_test_bed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

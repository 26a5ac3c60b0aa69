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
    answers to a client that stops reading are dropped beyond
    CA_CLIENT_SNDHWM rather than buffered without end.

    State machine:

        new --START--> serving --DRAIN--> draining --$TERM--> gone
                                  (new requests: UNAVAILABLE; answers to
                                   accepted ones still delivered; DRAIN
                                   replies once none is in flight or after
                                   drain_ms)
    ========================================================================= */

#include "gateway.h"
#include "ca_clock.h"
#include "ca_log.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "writer.h"

#include <assert.h>
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
} pool_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *client;     //  ROUTER, the public endpoint
    zsock_t *writer;     //  DEALER, statistics only
    zsock_t *info_stats; //  DEALER to the MessageStats pool, Info's own
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
    int64_t started_at;
    uint64_t requests;
    uint64_t invalid;
    uint64_t info_in_flight;
} self_t;

//  ---- answering ---------------------------------------------------------------

//  Sends [client id][response]; a client that is gone or not reading loses
//  its answer (ROUTER drops), which never blocks the gateway.
static void s_send_to_client(self_t *self, zframe_t *client_id, zframe_t *response) {
    zframe_t *frames[] = {client_id, response};
    ca_send_frames(self->client, frames, 2);
}

static void s_answer_error(self_t *self, zframe_t *client_id, uint64_t id, ca_status_t status,
                           const char *message) {
    zframe_t *response = ca_error_frame(id, status, "%s", message);
    s_send_to_client(self, client_id, response);
    zframe_destroy(&response);
    if (status == CA_INVALID)
        self->invalid++;
}

static void s_answer_ping(self_t *self, zframe_t *client_id, zframe_t *request_frame, uint64_t id) {
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
    s_send_to_client(self, client_id, frame);
    zframe_destroy(&frame);
    cairn__request__free_unpacked(request, NULL);
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
        self->info_in_flight++;
    else
        s_answer_error(self, client_id, id, CA_BUSY, "the writer is saturated; retry Info");
    zframe_destroy(&id_frame);
    zframe_destroy(&body);
}

static uint64_t s_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void s_answer_info(self_t *self, zframe_t *client_id, uint64_t id, Cairn__WriterInfo *writer,
                          Cairn__MessageStatsReply *messages) {
    Cairn__InfoReply info = CAIRN__INFO_REPLY__INIT;
    info.version = CAIRN_VERSION;
    info.uptime_s = (uint64_t)((zclock_mono() - self->started_at) / 1000);
    info.data_dir = (char *)self->config.data_dir;
    info.pid = (uint32_t)getpid();
    if (self->config.peer_id)
        info.peer_id = (char *)self->config.peer_id;
    char *wal = zsys_sprintf("%s-wal", self->config.db_path);
    info.db_size_bytes = s_file_size(self->config.db_path) + s_file_size(wal);
    zstr_free(&wal);
    info.requests = self->requests;
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
    s_send_to_client(self, client_id, frame);
    zframe_destroy(&frame);
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

static void s_route_to_pool(self_t *self, pool_t *pool, zframe_t *client_id,
                            zframe_t *request_frame, const ca_envelope_t *env) {
    uint64_t id = env->id;
    zframe_t *frames[] = {client_id, request_frame};
    pool->requests++;
    if (ca_send_frames(s_pool_socket(self, pool, env), frames, 2) == 0) {
        pool->in_flight++;
        return;
    }
    pool->busy++;
    pool->errors++;
    char message[160];
    snprintf(message, sizeof message,
             "the %s store is saturated (%" PRIu64 " requests queued); retry later", pool->name,
             pool->in_flight);
    s_answer_error(self, client_id, id, CA_BUSY, message);
}

static void s_handle_client(self_t *self) {
    zmsg_t *msg = zmsg_recv(self->client);
    if (!msg)
        return;
    self->requests++;
    zframe_t *client_id = zmsg_first(msg);
    zframe_t *request_frame = zmsg_next(msg);
    ca_envelope_t env = {0};
    const char *problem = NULL;
    if (zmsg_size(msg) != 2)
        problem = "send exactly one frame per request (a cairn.Request)";
    else if (!ca_envelope_peek_request(zframe_data(request_frame), zframe_size(request_frame), &env,
                                       &problem))
        ;
    else if (env.body_field == 0)
        problem = "the request has no body; set one of Request.body";
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
    else if (env.body_field <= CA_MAX_BODY_FIELD && self->route[env.body_field])
        s_route_to_pool(self, &self->pools[self->route[env.body_field] - 1], client_id,
                        request_frame, &env);
    else {
        char message[160];
        snprintf(message, sizeof message,
                 "unknown request kind (Request.body field %u); this node speaks cairn API "
                 "version %d: upgrade the node or use a matching client",
                 env.body_field, CA_API_VERSION);
        s_answer_error(self, client_id, env.id, CA_INVALID, message);
    }
    zmsg_destroy(&msg);
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
        pool->in_flight++;
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
static void s_handle_pool(self_t *self, pool_t *pool, zsock_t *socket) {
    zmsg_t *msg = zmsg_recv(socket);
    if (!msg)
        return;
    if (pool->in_flight)
        pool->in_flight--;
    if (zmsg_size(msg) == 2) {
        zframe_t *client_id = zmsg_first(msg);
        zframe_t *response = zmsg_next(msg);
        ca_status_t status = ca_envelope_peek_status(zframe_data(response), zframe_size(response));
        pool->errors += status != CA_OK;
        pool->busy += status == CA_BUSY;
        if (socket == self->info_stats) {
            if (self->info_in_flight)
                self->info_in_flight--;
            s_finish_info(self, client_id, response);
        } else
            s_send_to_client(self, client_id, response);
    } else
        ca_log_error("gateway: %s sent an answer of %zu frames", pool->name, zmsg_size(msg));
    zmsg_destroy(&msg);
}

static void s_handle_writer(self_t *self) {
    zmsg_t *msg = zmsg_recv(self->writer);
    if (!msg)
        return;
    zframe_t *client_id = zmsg_first(msg);
    zframe_t *id_frame = zmsg_next(msg);
    zframe_t *body = zmsg_next(msg);
    if (zmsg_size(msg) == 3 && zframe_size(id_frame) == 8) {
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
        if (!continued && self->info_in_flight)
            self->info_in_flight--;
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

static zsock_t *s_pool_dealer(self_t *self, const ca_store_def_t *def) {
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(dealer, (int)ca_store_queue_max(def, self->config.queue_max));
    zsock_set_rcvhwm(dealer, 0); //  answers: bounded by what was admitted
    zpoller_add(self->poller, dealer);
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
    pool->dealer = s_pool_dealer(self, def);
    if (s_pool_has_affinity(def))
        pool->pinned = (zsock_t **)zmalloc(pool->workers * sizeof(zsock_t *));
    if (!self->info_stats && s_pool_serves(def, CAIRN__REQUEST__BODY_MESSAGE_STATS)) {
        self->info_stats = s_pool_dealer(self, def);
        self->info_pool = pool;
    }
    for (unsigned w = 0; w < pool->workers; w++) {
        char *endpoint = ca_store_endpoint(def->name, w);
        int rc = zsock_connect(pool->dealer, "%s", endpoint);
        if (rc == 0 && pool->pinned) {
            pool->pinned[w] = s_pool_dealer(self, def);
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
        }
    }
    return NULL;
}

static char *s_start(self_t *self) {
    char *error = s_connect_pools(self);
    if (error)
        return error;
    self->writer = zsock_new(ZMQ_DEALER);
    zsock_connect(self->writer, "%s",
                  self->config.writer_endpoint ? self->config.writer_endpoint : CA_WRITER_ENDPOINT);
    zpoller_add(self->poller, self->writer);
    self->client = zsock_new(ZMQ_ROUTER);
    //  libzmq takes an int64 here; CZMQ's setter would truncate it to int.
    int64_t max_frame = self->config.max_frame_bytes;
    zmq_setsockopt(zsock_resolve(self->client), ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    zsock_set_sndhwm(self->client, CA_CLIENT_SNDHWM);
    zsock_set_rcvhwm(self->client, (int)self->config.queue_max);
    zsock_set_linger(self->client, 2000); //  deliver the last answers on close
    if (zsock_bind(self->client, "%s", self->config.endpoint) == -1)
        return zsys_sprintf("cannot bind the client endpoint %s: %s; is another cairnd using "
                            "it? Choose another with --client-endpoint",
                            self->config.endpoint, zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->client);
    self->started_at = zclock_mono();
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
    } else if (streq(command, "ENDPOINT")) {
        char *endpoint = self->client ? zsock_last_endpoint(self->client) : NULL;
        zstr_send(self->pipe, endpoint ? endpoint : "");
        zstr_free(&endpoint);
    } else
        ca_log_error("gateway: unknown pipe command '%s'", command);
    zstr_free(&command);
}

static void s_serve_pool_socket(self_t *self, pool_t *pool, zsock_t *socket) {
    for (int n = 0; n < CA_SERVE_BURST && socket && (zsock_events(socket) & ZMQ_POLLIN); n++)
        s_handle_pool(self, pool, socket);
}

//  Answers first (they finish admitted work), then new client requests, each
//  socket up to a burst per turn so none starves the others.
static void s_serve_ready(self_t *self) {
    if (!self->client)
        return; //  START failed half-way; nothing to serve
    for (size_t i = 0; i < self->pool_count; i++) {
        pool_t *pool = &self->pools[i];
        s_serve_pool_socket(self, pool, pool->dealer);
        for (unsigned w = 0; pool->pinned && w < pool->workers; w++)
            s_serve_pool_socket(self, pool, pool->pinned[w]);
    }
    if (self->info_pool)
        s_serve_pool_socket(self, self->info_pool, self->info_stats);
    for (int n = 0; n < CA_SERVE_BURST && (zsock_events(self->writer) & ZMQ_POLLIN); n++)
        s_handle_writer(self);
    for (int n = 0; n < CA_SERVE_BURST && (zsock_events(self->client) & ZMQ_POLLIN); n++)
        s_handle_client(self);
}

static self_t *s_self_new(zsock_t *pipe, const gateway_config_t *config) {
    self_t *self = (self_t *)zmalloc(sizeof(self_t));
    self->pipe = pipe;
    self->config = *config;
    self->config.endpoint = strdup(config->endpoint);
    self->config.data_dir = strdup(config->data_dir ? config->data_dir : "");
    self->config.db_path = strdup(config->db_path ? config->db_path : "");
    self->config.writer_endpoint = config->writer_endpoint ? strdup(config->writer_endpoint) : NULL;
    if (!self->config.queue_max)
        self->config.queue_max = CA_DEFAULT_QUEUE_MAX;
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
    }
    free(self->pools);
    zsock_destroy(&self->info_stats);
    zsock_destroy(&self->writer);
    zsock_destroy(&self->client);
    free((char *)self->config.endpoint);
    free((char *)self->config.data_dir);
    free((char *)self->config.db_path);
    free((char *)self->config.writer_endpoint);
    free(self);
    *self_p = NULL;
}

void gateway_actor(zsock_t *pipe, void *args) {
    self_t *self = s_self_new(pipe, (const gateway_config_t *)args);
    pthread_setname_np(pthread_self(), "cairn-gateway");
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        //  While draining, wake up to honour the deadline.
        int timeout = self->drain_waiter ? 50 : -1;
        void *which = zpoller_wait(self->poller, timeout);
        if (which == self->pipe)
            s_handle_pipe(self);
        else if (which)
            s_serve_ready(self);
        else if (ca_actor_poll_failed(self->poller))
            break;
        s_finish_drain_if_done(self);
    }
    s_self_destroy(&self);
}

char *gateway_endpoint(zactor_t *gateway) {
    zstr_send(gateway, "ENDPOINT");
    return zstr_recv(gateway);
}

/*  =========================================================================
    ca_store - the actor loop every store shares, driven by a table

    One instance per worker: a ROUTER the gateway(s) connect to, a DEALER to
    the writer, a read-only SQLite connection, and the store's handler table.
    The loop never blocks on anything but its poller: reads are answered from
    the read connection, writes are handed to the writer and finished when
    its answer comes back, so a worker keeps serving reads while its writes
    wait for their group commit.
    ========================================================================= */

#include "ca_log.h"
#include "ca_store.h"
#include "ca_envelope.h"
#include "ca_limits.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

struct _ca_store_t {
    zsock_t *pipe;
    zsock_t *router; //  requests from gateways
    zsock_t *writer; //  DEALER to the writer actor
    zpoller_t *poller;
    bool terminated;
    const ca_store_def_t *def;
    unsigned index;
    unsigned workers;
    char *data_dir;
    void *state; //  the store's own, from def->state_new
    char *db_path;
    char *vfs;
    char *writer_endpoint;
    size_t queue_max;
    ca_store_settings_t settings;
    int64_t next_tick; //  zclock_mono time of the next tick, 0: none
    ca_sql_t *sql;
    const ca_handler_t *by_body[CA_MAX_BODY_FIELD + 1];
    //  context of the request being handled (for ca_store_write)
    zframe_t *gateway_id;
    zframe_t *client_id;
    zframe_t *request_frame;
};

//  Answer memory is an arena: handlers allocate many small pieces (a page of
//  50 messages is ~350 strings and blobs) that all die together once the
//  answer is packed. Pieces are bumped out of a small buffer inside the
//  reply (on the worker's stack) and then out of chunks; freeing is one walk
//  over the chunks.
#define REPLY_INLINE_BYTES 2048
#define REPLY_CHUNK_BYTES  (32 * 1024)
#define REPLY_ALIGN        16

typedef struct reply_chunk {
    struct reply_chunk *next;
    size_t size; //  bytes of data
    size_t used;
    _Alignas(REPLY_ALIGN) uint8_t data[];
} reply_chunk_t;

struct _ca_reply_t {
    Cairn__Response response;
    zframe_t *frame; //  laid out by the handler; sent instead of `response`
    bool pending;    //  a write was started: answer later
    reply_chunk_t *chunks;
    size_t inline_used;
    _Alignas(REPLY_ALIGN) uint8_t inline_data[REPLY_INLINE_BYTES];
};

//  ---- replies ------------------------------------------------------------------

static void s_reply_init(ca_reply_t *reply, uint64_t id) {
    cairn__response__init(&reply->response);
    reply->response.id = id;
    reply->pending = false;
    reply->frame = NULL;
    reply->chunks = NULL;
    reply->inline_used = 0;
}

static void s_reply_clear(ca_reply_t *reply) {
    zframe_destroy(&reply->frame);
    while (reply->chunks) {
        reply_chunk_t *next = reply->chunks->next;
        free(reply->chunks);
        reply->chunks = next;
    }
}

//  `size` bytes of answer memory, not zeroed.
static void *s_reply_raw(ca_reply_t *reply, size_t size) {
    size = (size + REPLY_ALIGN - 1) & ~(size_t)(REPLY_ALIGN - 1);
    if (size == 0)
        size = REPLY_ALIGN;
    if (size <= REPLY_INLINE_BYTES - reply->inline_used) {
        void *block = reply->inline_data + reply->inline_used;
        reply->inline_used += size;
        return block;
    }
    reply_chunk_t *chunk = reply->chunks;
    if (!chunk || size > chunk->size - chunk->used) {
        size_t data_size = size > REPLY_CHUNK_BYTES ? size : REPLY_CHUNK_BYTES;
        chunk = (reply_chunk_t *)malloc(sizeof(reply_chunk_t) + data_size);
        assert(chunk);
        chunk->size = data_size;
        chunk->used = 0;
        chunk->next = reply->chunks;
        reply->chunks = chunk;
    }
    void *block = chunk->data + chunk->used;
    chunk->used += size;
    return block;
}

void *ca_reply_alloc(ca_reply_t *reply, size_t size) {
    void *block = s_reply_raw(reply, size);
    memset(block, 0, size);
    return block;
}

char *ca_reply_strdup(ca_reply_t *reply, const char *text) {
    return (char *)ca_reply_memdup(reply, text, strlen(text) + 1);
}

void *ca_reply_memdup(ca_reply_t *reply, const void *data, size_t size) {
    void *block = s_reply_raw(reply, size);
    if (size)
        memcpy(block, data, size);
    return block;
}

Cairn__Response *ca_reply_response(ca_reply_t *reply) {
    return &reply->response;
}

void ca_reply_frame(ca_reply_t *reply, zframe_t **frame_p) {
    zframe_destroy(&reply->frame);
    reply->frame = *frame_p;
    *frame_p = NULL;
}

void ca_reply_error(ca_reply_t *reply, ca_status_t status, const char *format, ...) {
    zframe_destroy(&reply->frame);
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    reply->response.status = (Cairn__Status)status;
    reply->response.error = ca_reply_strdup(reply, message);
    reply->response.body_case = CAIRN__RESPONSE__BODY__NOT_SET;
}

size_t ca_page_limit(uint32_t asked, size_t fallback, size_t most, const char *items,
                     const char *cursor, ca_reply_t *reply) {
    if (asked <= most)
        return asked ? asked : fallback;
    if (cursor)
        ca_reply_error(reply, CA_INVALID,
                       "limit is %u; at most %zu %s: ask for fewer and page on with %s", asked,
                       most, items, cursor);
    else
        ca_reply_error(reply, CA_INVALID, "limit is %u; at most %zu %s: ask for fewer", asked, most,
                       items);
    return 0;
}

//  ---- sockets ------------------------------------------------------------------

int ca_send_frames(zsock_t *socket, zframe_t **frames, size_t count) {
    for (size_t i = 0; i < count; i++) {
        //  ZFRAME_REUSE sends a reference to the frame's buffer (zmq_msg_copy
        //  shares it), so forwarding a large answer costs no copy; the frame
        //  stays the caller's.
        int flags = ZFRAME_REUSE | ZFRAME_DONTWAIT | (i + 1 < count ? ZFRAME_MORE : 0);
        zframe_t *frame = frames[i];
        //  Once the first part is queued the rest always is (ZeroMQ delivers
        //  multipart messages whole), so only the first can meet EAGAIN.
        if (zframe_send(&frame, socket, flags) == -1) {
            assert(i == 0);
            return -1;
        }
    }
    return 0;
}

char *ca_store_endpoint(const char *name, unsigned index) {
    return zsys_sprintf(CA_STORE_ENDPOINT_FMT, name, index);
}

ca_sql_t *ca_store_sql(ca_store_t *store) {
    return store->sql;
}

const ca_store_settings_t *ca_store_settings(ca_store_t *store) {
    return &store->settings;
}

const char *ca_store_db_path(ca_store_t *store) {
    return store->db_path;
}

const char *ca_store_data_dir(ca_store_t *store) {
    return store->data_dir;
}

unsigned ca_store_index(ca_store_t *store) {
    return store->index;
}

unsigned ca_store_worker_count(ca_store_t *store) {
    return store->workers;
}

void *ca_store_state(ca_store_t *store) {
    return store->state;
}

unsigned ca_store_workers(const ca_store_def_t *def, unsigned node_workers) {
    return def->workers ? def->workers : node_workers;
}

size_t ca_store_queue_max(const ca_store_def_t *def, size_t node_queue_max) {
    return def->queue_max ? def->queue_max : node_queue_max;
}

//  Internal writes carry three empty context frames where a client's
//  request has [gateway id][client id][Request].
int ca_store_write_internal(ca_store_t *store, ca_write_t **write_p) {
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    zframe_t *empty = zframe_new_empty();
    zframe_t *frames[] = {empty, empty, empty, body};
    int rc = ca_send_frames(store->writer, frames, 4);
    zframe_destroy(&empty);
    zframe_destroy(&body);
    return rc;
}

//  Sends the answer for the current request context.
static void s_send_reply(ca_store_t *self, zframe_t *gateway_id, zframe_t *client_id,
                         ca_reply_t *reply) {
    zframe_t *response = reply->frame;
    reply->frame = NULL;
    if (!response)
        response = ca_response_frame(&reply->response);
    zframe_t *frames[] = {gateway_id, client_id, response};
    //  The gateway always drains its store sockets; if its queue is full it
    //  is gone or wedged, and the answer cannot be delivered anyway.
    if (ca_send_frames(self->router, frames, 3) != 0)
        ca_log_warning("%s[%u]: answer dropped, gateway queue full", self->def->name, self->index);
    zframe_destroy(&response);
}

int ca_store_write(ca_store_t *store, ca_write_t **write_p, ca_reply_t *reply) {
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    zframe_t *frames[] = {store->gateway_id, store->client_id, store->request_frame, body};
    int rc = ca_send_frames(store->writer, frames, 4);
    if (rc == 0)
        reply->pending = true;
    else
        ca_reply_error(reply, CA_BUSY,
                       "the writer is saturated (its queue is full); retry shortly");
    zframe_destroy(&body);
    return rc;
}

//  ---- requests -----------------------------------------------------------------

static uint64_t s_peek_id(zframe_t *request_frame) {
    ca_envelope_t env;
    const char *error;
    ca_envelope_peek_request(zframe_data(request_frame), zframe_size(request_frame), &env, &error);
    return env.id;
}

static const ca_handler_t *s_handler_for(ca_store_t *self, const Cairn__Request *request) {
    unsigned body = (unsigned)request->body_case;
    return body <= CA_MAX_BODY_FIELD ? self->by_body[body] : NULL;
}

static void s_handle_request(ca_store_t *self) {
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return;
    if (zmsg_size(msg) != 3) {
        ca_log_error("%s[%u]: dropped a message of %zu frames from the gateway", self->def->name,
                     self->index, zmsg_size(msg));
        zmsg_destroy(&msg);
        return;
    }
    self->gateway_id = zmsg_first(msg);
    self->client_id = zmsg_next(msg);
    self->request_frame = zmsg_next(msg);
    const char *bad_string =
        ca_envelope_check_strings(&cairn__request__descriptor, zframe_data(self->request_frame),
                                  zframe_size(self->request_frame));
    Cairn__Request *request = bad_string
                                  ? NULL
                                  : cairn__request__unpack(NULL, zframe_size(self->request_frame),
                                                           zframe_data(self->request_frame));
    ca_reply_t reply;
    s_reply_init(&reply, request ? request->id : s_peek_id(self->request_frame));
    const ca_handler_t *handler = request ? s_handler_for(self, request) : NULL;
    if (bad_string)
        ca_reply_error(&reply, CA_INVALID, "%s", bad_string);
    else if (!request)
        ca_reply_error(&reply, CA_INVALID,
                       "the request is not a valid protobuf cairn.Request; check that the "
                       "client uses schemas/cairn.proto of this node's version");
    else if (!handler)
        ca_reply_error(&reply, CA_INVALID, "the %s store does not serve request kind %d",
                       self->def->name, (int)request->body_case);
    else
        handler->handle(self, request, &reply);
    if (!reply.pending)
        s_send_reply(self, self->gateway_id, self->client_id, &reply);
    s_reply_clear(&reply);
    if (request)
        cairn__request__free_unpacked(request, NULL);
    self->gateway_id = self->client_id = self->request_frame = NULL;
    zmsg_destroy(&msg);
}

//  An internal write (from a tick) has no client: log how it went.
static void s_log_internal_write(ca_store_t *self, zframe_t *answer) {
    Cairn__Internal__WriterResponse *response =
        cairn__internal__writer_response__unpack(NULL, zframe_size(answer), zframe_data(answer));
    if (!response || response->body_case != CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE)
        ca_log_error("%s[%u]: unreadable answer to an internal write", self->def->name,
                     self->index);
    else if (response->write->status != CA_OK)
        ca_log_warning("%s[%u]: upkeep write failed: %s", self->def->name, self->index,
                       response->write->error);
    else {
        uint64_t changes = 0;
        for (size_t i = 0; i < response->write->n_results; i++)
            changes += response->write->results[i]->changes;
        ca_log_debug("%s[%u]: upkeep write changed %" PRIu64 " rows", self->def->name, self->index,
                     changes);
    }
    if (response)
        cairn__internal__writer_response__free_unpacked(response, NULL);
}

//  The writer answered one of our writes: finish the client's request.
static void s_handle_write_done(ca_store_t *self) {
    zmsg_t *msg = zmsg_recv(self->writer);
    if (!msg)
        return;
    if (zmsg_size(msg) != 4) {
        ca_log_error("%s[%u]: dropped a writer answer of %zu frames", self->def->name, self->index,
                     zmsg_size(msg));
        zmsg_destroy(&msg);
        return;
    }
    zframe_t *gateway_id = zmsg_first(msg);
    zframe_t *client_id = zmsg_next(msg);
    zframe_t *request_frame = zmsg_next(msg);
    zframe_t *answer = zmsg_next(msg);
    if (zframe_size(request_frame) == 0) {
        s_log_internal_write(self, answer);
        zmsg_destroy(&msg);
        return;
    }
    //  The request was decoded and accepted before the write was sent.
    Cairn__Request *request =
        cairn__request__unpack(NULL, zframe_size(request_frame), zframe_data(request_frame));
    Cairn__Internal__WriterResponse *response =
        cairn__internal__writer_response__unpack(NULL, zframe_size(answer), zframe_data(answer));
    assert(request);
    ca_reply_t reply;
    s_reply_init(&reply, request->id);
    const ca_handler_t *handler = s_handler_for(self, request);
    if (!response || response->body_case != CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE)
        ca_reply_error(&reply, CA_INTERNAL, "the writer's answer was unreadable; retry");
    else if (response->write->status != CA_OK) {
        ca_reply_error(&reply, (ca_status_t)response->write->status, "%s", response->write->error);
        if (self->def->write_failed)
            self->def->write_failed(self, request, response->write);
    } else if (handler && handler->done)
        handler->done(self, request, response->write, &reply);
    s_send_reply(self, gateway_id, client_id, &reply);
    s_reply_clear(&reply);
    cairn__request__free_unpacked(request, NULL);
    if (response)
        cairn__internal__writer_response__free_unpacked(response, NULL);
    zmsg_destroy(&msg);
}

//  ---- lifecycle ------------------------------------------------------------------

int ca_actor_start(zactor_t *actor, char **error) {
    zstr_send(actor, "START");
    int status = -1;
    char *message = NULL;
    if (zsock_recv(actor, "is", &status, &message) != 0) {
        *error = strdup("the actor stopped before it answered START");
        return -1;
    }
    if (status != 0) {
        *error = message;
        return -1;
    }
    zstr_free(&message);
    return 0;
}

bool ca_actor_poll_failed(zpoller_t *poller) {
    return zpoller_terminated(poller) && zmq_errno() != EINTR;
}

void ca_actor_reply_start(zsock_t *pipe, const char *error) {
    zsock_send(pipe, "is", error ? -1 : 0, error ? error : "");
}

static char *s_start(ca_store_t *self) {
    char *error = NULL;
    self->sql = ca_sql_open(self->db_path, CA_SQL_READ_ONLY, self->vfs, &error);
    if (!self->sql)
        return error;
    char *endpoint = ca_store_endpoint(self->def->name, self->index);
    self->router = zsock_new(ZMQ_ROUTER);
    zsock_set_rcvhwm(self->router, (int)self->queue_max);
    zsock_set_sndhwm(self->router, (int)self->queue_max);
    if (zsock_bind(self->router, "%s", endpoint) != 0)
        error = zsys_sprintf("store %s cannot bind %s", self->def->name, endpoint);
    zstr_free(&endpoint);
    if (error)
        return error;
    self->writer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(self->writer, (int)self->queue_max);
    zsock_set_rcvhwm(self->writer, 0); //  answers to our own writes: bounded by them
    if (zsock_connect(self->writer, "%s", self->writer_endpoint) != 0)
        return zsys_sprintf("store %s cannot reach the writer at %s", self->def->name,
                            self->writer_endpoint);
    if (self->def->state_new) {
        self->state = self->def->state_new(self, &error);
        if (!self->state)
            return error ? error : strdup("the store's state could not be made");
    }
    zpoller_add(self->poller, self->router);
    zpoller_add(self->poller, self->writer);
    return NULL;
}

static ca_store_t *s_self_new(zsock_t *pipe, const ca_store_args_t *args) {
    ca_store_t *self = (ca_store_t *)zmalloc(sizeof(ca_store_t));
    self->pipe = pipe;
    self->def = args->def;
    self->index = args->index;
    self->workers = args->workers ? args->workers : 1;
    self->db_path = strdup(args->db_path);
    if (args->data_dir)
        self->data_dir = strdup(args->data_dir);
    else {
        self->data_dir = strdup(args->db_path);
        char *slash = strrchr(self->data_dir, '/');
        if (slash)
            *slash = 0;
        else
            strcpy(self->data_dir, ".");
    }
    self->vfs = args->vfs ? strdup(args->vfs) : NULL;
    self->writer_endpoint =
        strdup(args->writer_endpoint ? args->writer_endpoint : CA_WRITER_ENDPOINT);
    self->queue_max = args->queue_max ? args->queue_max : CA_DEFAULT_QUEUE_MAX;
    self->settings = args->settings;
    if (self->def->tick && (self->index == 0 || self->def->tick_every_worker) &&
        self->settings.maintenance_ms > 0)
        self->next_tick = zclock_mono() + self->settings.maintenance_ms;
    for (size_t i = 0; i < self->def->handler_count; i++) {
        const ca_handler_t *handler = &self->def->handlers[i];
        assert((unsigned)handler->body <= CA_MAX_BODY_FIELD);
        self->by_body[handler->body] = handler;
    }
    self->poller = zpoller_new(pipe, NULL);
    return self;
}

static void s_self_destroy(ca_store_t **self_p) {
    ca_store_t *self = *self_p;
    zpoller_destroy(&self->poller);
    if (self->state)
        self->def->state_destroy(&self->state);
    if (self->router) { //  free the inproc name at once (see writer.c)
        char *endpoint = ca_store_endpoint(self->def->name, self->index);
        zsock_unbind(self->router, "%s", endpoint);
        zstr_free(&endpoint);
    }
    zsock_destroy(&self->router);
    zsock_destroy(&self->writer);
    ca_sql_destroy(&self->sql);
    free(self->db_path);
    free(self->data_dir);
    free(self->vfs);
    free(self->writer_endpoint);
    free(self);
    *self_p = NULL;
}

static void s_handle_pipe(ca_store_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else
        ca_log_error("%s[%u]: unknown pipe command '%s'", self->def->name, self->index, command);
    zstr_free(&command);
}

//  zpoller_wait reports only the first ready socket, so serving just that
//  one would let a flood of requests starve the writer's answers (and the
//  writes would never finish). Each turn serves both sockets, answers first
//  since they complete work already admitted, each up to a burst.
static void s_serve_ready(ca_store_t *self) {
    for (int n = 0; n < CA_SERVE_BURST && (zsock_events(self->writer) & ZMQ_POLLIN); n++)
        s_handle_write_done(self);
    for (int n = 0; n < CA_SERVE_BURST && (zsock_events(self->router) & ZMQ_POLLIN); n++)
        s_handle_request(self);
}

//  Milliseconds until the next tick, -1 (forever) when the store has none.
static int s_tick_timeout(ca_store_t *self) {
    if (!self->next_tick)
        return -1;
    int64_t remaining = self->next_tick - zclock_mono();
    return remaining > 0 ? (int)remaining : 0;
}

static void s_tick_if_due(ca_store_t *self) {
    if (!self->next_tick || zclock_mono() < self->next_tick || !self->writer)
        return;
    self->def->tick(self);
    self->next_tick = zclock_mono() + self->settings.maintenance_ms;
}

void ca_store_actor(zsock_t *pipe, void *args) {
    ca_store_t *self = s_self_new(pipe, (const ca_store_args_t *)args);
    char name[16]; //  the kernel keeps 15 characters
    snprintf(name, sizeof name, "%s-%u", self->def->name, self->index);
    pthread_setname_np(pthread_self(), name);
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait(self->poller, s_tick_timeout(self));
        if (which == self->pipe)
            s_handle_pipe(self);
        else if (which)
            s_serve_ready(self);
        else if (ca_actor_poll_failed(self->poller))
            break;
        s_tick_if_due(self);
    }
    s_self_destroy(&self);
}

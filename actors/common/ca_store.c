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
#include "ca_arena.h"
#include "ca_store.h"
#include "ca_store_batch.h"
#include "ca_envelope.h"
#include "ca_limits.h"

#include <sodium.h>
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
    int64_t received_us; //  zclock_usecs at its receipt (slow-request log)
    //  Memory of one turn (a request, or a write's answer): the decoded
    //  messages and the answer's pieces, taken back when the turn ends.
    ca_arena_t *arena;
    //  The node's stores (the batch engine runs their rows), and, while it
    //  runs one, where ca_store_write leaves the row's write.
    const ca_store_def_t *const *stores;
    size_t store_count;
    ca_batch_capture_t *capture;
};

//  Answer memory comes from the worker's arena (ca_arena): handlers
//  allocate many small pieces (a page of 50 messages is ~350 strings and
//  blobs) that all die together once the answer is packed, with the
//  decoded request they point into.
struct _ca_reply_t {
    Cairn__Response response;
    zframe_t *frame; //  laid out by the handler; sent instead of `response`
    bool pending;    //  a write was started: answer later
    ca_arena_t *arena;
};

//  ---- replies ------------------------------------------------------------------

static void s_reply_init(ca_reply_t *reply, uint64_t id, ca_arena_t *arena) {
    cairn__response__init(&reply->response);
    reply->response.id = id;
    reply->pending = false;
    reply->frame = NULL;
    reply->arena = arena;
}

//  The reply's memory goes back with the turn's arena (s_end_turn).
static void s_reply_clear(ca_reply_t *reply) {
    zframe_destroy(&reply->frame);
}

//  `size` bytes of answer memory, not zeroed; NULL when memory ran out and
//  `may_fail`.
static void *s_reply_raw(ca_reply_t *reply, size_t size, bool may_fail) {
    void *block = ca_arena_alloc(reply->arena, size ? size : 1);
    if (!block && !may_fail) {
        //  Handlers write into what they are given without checking, as
        //  with CZMQ's zmalloc: out of memory here stops the process.
        //  Large answers use ca_reply_alloc_large, ca_reply_frame or
        //  ca_reply_realloc, which fail alone.
        ca_log_error("out of memory: cannot allocate %zu bytes of answer memory; stopping", size);
        abort();
    }
    return block;
}

void *ca_reply_alloc(ca_reply_t *reply, size_t size) {
    void *block = s_reply_raw(reply, size, false);
    memset(block, 0, size);
    return block;
}

void *ca_reply_alloc_large(ca_reply_t *reply, size_t size) {
    void *block = s_reply_raw(reply, size, true);
    if (!block)
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory for an answer of %zu bytes; retry later", size);
    return block;
}

bool ca_reply_realloc(ca_reply_t *reply, void *array_p, size_t count, size_t size) {
    void *array;
    memcpy(&array, array_p, sizeof array);
    void *grown = size && count > SIZE_MAX / size ? NULL : realloc(array, count * size + 1);
    if (!grown) {
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory building this answer; ask for a smaller page "
                       "or retry later");
        return false;
    }
    memcpy(array_p, &grown, sizeof grown);
    return true;
}

char *ca_reply_strdup(ca_reply_t *reply, const char *text) {
    return (char *)ca_reply_memdup(reply, text, strlen(text) + 1);
}

void *ca_reply_memdup(ca_reply_t *reply, const void *data, size_t size) {
    void *block = s_reply_raw(reply, size, false);
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

zmsg_t *ca_recv_waiting(zsock_t *socket) {
    //  CZMQ deprecates zmsg_recv_nowait as "poor style" for callers that
    //  should poll; here it follows a poll.
    return socket ? zmsg_recv_nowait(socket) : NULL;
}

char *ca_store_endpoint(const char *name, unsigned index) {
    return zsys_sprintf(CA_STORE_ENDPOINT_FMT, name, index);
}

ca_sql_t *ca_store_sql(ca_store_t *store) {
    return store->sql;
}

sqlite3_stmt *ca_store_prepare(ca_store_t *store, const char *sql, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_sql_prepare(store->sql, sql);
    if (stmt)
        return stmt;
    const char *reason = sqlite3_errmsg(ca_sql_handle(store->sql));
    const char *advice = "the node may be out of file descriptors (raise ulimit -n) or memory, "
                         "or its database is damaged (see its log)";
    if (reply)
        ca_reply_error(reply, CA_INTERNAL, "the %s store cannot prepare a statement: %s; %s; retry",
                       store->def->name, reason, advice);
    else
        ca_log_error("%s[%u]: cannot prepare a statement: %s; %s", store->def->name, store->index,
                     reason, advice);
    return NULL;
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

zframe_t *ca_store_client_id(ca_store_t *store) {
    return store->client_id;
}

bool ca_store_in_batch(ca_store_t *store) {
    return store->capture != NULL;
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
    if (ca_write_failed(*write_p)) {
        ca_log_error("%s[%u]: out of memory building an upkeep write; skipped", store->def->name,
                     store->index);
        ca_write_destroy(write_p);
        return -1;
    }
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    zframe_t *empty = zframe_new_empty();
    zframe_t *frames[] = {empty, empty, empty, body};
    int rc = ca_send_frames(store->writer, frames, 4);
    zframe_destroy(&empty);
    zframe_destroy(&body);
    return rc;
}

//  The reply as a frame (the handler's own, else the packed response);
//  NULL when memory ran out (logged).
static zframe_t *s_reply_pack(ca_store_t *self, ca_reply_t *reply) {
    zframe_t *response = reply->frame;
    reply->frame = NULL;
    if (!response)
        response = ca_message_frame_try(&reply->response.base);
    if (!response)
        ca_log_error("%s[%u]: out of memory packing an answer of %zu bytes", self->def->name,
                     self->index, cairn__response__get_packed_size(&reply->response));
    return response;
}

//  Sends `*response_p` (taken) to the gateway that sent the request.
static void s_send_answer(ca_store_t *self, zframe_t *gateway_id, zframe_t *client_id,
                          zframe_t **response_p) {
    zframe_t *frames[] = {gateway_id, client_id, *response_p};
    //  The gateway always drains its store sockets; if its queue is full it
    //  is gone or wedged, and the answer cannot be delivered anyway.
    if (ca_send_frames(self->router, frames, 3) != 0)
        ca_log_warning("%s[%u]: answer dropped, gateway queue full", self->def->name, self->index);
    zframe_destroy(response_p);
}

//  Sends the answer for the current request context.
static void s_send_reply(ca_store_t *self, zframe_t *gateway_id, zframe_t *client_id,
                         ca_reply_t *reply) {
    zframe_t *response = s_reply_pack(self, reply);
    if (!response) {
        size_t size = cairn__response__get_packed_size(&reply->response);
        response = ca_error_frame(reply->response.id, CA_INTERNAL,
                                  "the node ran out of memory for an answer of %zu bytes; ask "
                                  "for a smaller page or retry later",
                                  size);
    }
    s_send_answer(self, gateway_id, client_id, &response);
}

//  Whether the request came on one of a gateway's pool sockets, whose
//  routing id says so (CA_GATEWAY_ID_MARK): only then may the writer
//  answer it through the gateway.
static bool s_from_gateway_pool(zframe_t *gateway_id) {
    return gateway_id && zframe_size(gateway_id) == CA_GATEWAY_ID_SIZE &&
           zframe_data(gateway_id)[0] == CA_GATEWAY_ID_MARK;
}

int ca_store_write_answered(ca_store_t *store, ca_write_t **write_p, ca_reply_t *reply,
                            uint32_t answer_by, ca_reply_fn *if_counted) {
    if (ca_write_failed(*write_p)) {
        ca_write_destroy(write_p);
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory building this write; nothing was stored, retry");
        return -1;
    }
    zframe_t *answers[2] = {s_reply_pack(store, reply), NULL};
    uint32_t count = 1;
    if (answers[0] && if_counted) {
        if_counted(reply);
        answers[1] = s_reply_pack(store, reply);
        count = 2;
    }
    if (!answers[0] || (if_counted && !answers[1])) {
        zframe_destroy(&answers[0]);
        ca_write_destroy(write_p);
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory for this write's answer; nothing was stored, "
                       "retry");
        return -1;
    }
    if (store->capture) { //  a request of a batch: the batch store sends it
        store->capture->answers[0] = answers[0];
        store->capture->answers[1] = answers[1];
        store->capture->answer_by = answer_by;
        store->capture->write = ca_write_frame(*write_p);
        ca_write_destroy(write_p);
        reply->pending = true;
        return 0;
    }
    //  A store with secrets wipes the request once its write is answered,
    //  so its answers come back through it.
    bool to_gateway = s_from_gateway_pool(store->gateway_id) && !store->def->wipe_request;
    ca_write_answers(*write_p, count, answer_by, to_gateway);
    ca_write_received(*write_p, store->capture ? 0 : store->received_us, store->def->name);
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    zframe_t *frames[] = {store->gateway_id, store->client_id, store->request_frame,
                          answers[0],        answers[1],       body};
    frames[3 + count] = body;
    int rc = ca_send_frames(store->writer, frames, 4 + count);
    if (rc == 0)
        reply->pending = true;
    else
        ca_reply_error(reply, CA_BUSY,
                       "the writer is saturated (its queue is full); retry shortly");
    zframe_destroy(&answers[0]);
    zframe_destroy(&answers[1]);
    zframe_destroy(&body);
    return rc;
}

//  Sends a packed write for the current request (the frame stays the
//  caller's).
static int s_send_write(ca_store_t *store, zframe_t *body, ca_reply_t *reply) {
    zframe_t *frames[] = {store->gateway_id, store->client_id, store->request_frame, body};
    int rc = ca_send_frames(store->writer, frames, 4);
    if (rc == 0)
        reply->pending = true;
    else
        ca_reply_error(reply, CA_BUSY,
                       "the writer is saturated (its queue is full); retry shortly");
    return rc;
}

int ca_store_write(ca_store_t *store, ca_write_t **write_p, ca_reply_t *reply) {
    if (ca_write_failed(*write_p)) {
        ca_write_destroy(write_p);
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory building this write; nothing was stored, retry");
        return -1;
    }
    //  Packed now: the write references the handler's bytes, which may live
    //  on its stack.
    ca_write_received(*write_p, store->capture ? 0 : store->received_us, store->def->name);
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    if (store->capture) { //  a request of a batch: the batch store sends it
        store->capture->write = body;
        reply->pending = true;
        return 0;
    }
    int rc = s_send_write(store, body, reply);
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

//  For a store whose requests carry secrets: wipes the decoded request
//  (the def's hook) and, when `frame` is given, the bytes it came in.
static void s_wipe_secrets(ca_store_t *self, Cairn__Request *request, zframe_t *frame) {
    if (!self->def->wipe_request)
        return;
    if (request)
        self->def->wipe_request(request);
    if (frame)
        sodium_memzero(zframe_data(frame), zframe_size(frame));
}

void ca_store_log_if_slow(const char *store, zframe_t *request_frame, int64_t received_us) {
    int64_t slow_ms = ca_log_slow_ms();
    if (slow_ms <= 0 || received_us <= 0)
        return;
    int64_t took_us = zclock_usecs() - received_us;
    if (took_us < slow_ms * 1000)
        return;
    ca_envelope_t env = {0};
    const char *error;
    bool read = ca_envelope_peek_request(zframe_data(request_frame), zframe_size(request_frame),
                                         &env, &error);
    const ProtobufCFieldDescriptor *field =
        read && env.body_field
            ? protobuf_c_message_descriptor_get_field(&cairn__request__descriptor, env.body_field)
            : NULL;
    ca_log_set_request(read ? env.id : 0); //  the writer's line is request-scoped too
    ca_log_warning("slow request: %s, pool %s, request id %" PRIu64 ", answered after %" PRId64
                   " ms (slow_request_ms %" PRId64 ")",
                   field ? field->name : "(unreadable)", store, read ? env.id : 0, took_us / 1000,
                   slow_ms);
    ca_log_clear_request();
}

static void s_handle_request(ca_store_t *self, zmsg_t *msg) {
    self->received_us = zclock_usecs();
    if (zmsg_size(msg) != 3) {
        ca_log_error("%s[%u]: dropped a message of %zu frames from the gateway", self->def->name,
                     self->index, zmsg_size(msg));
        zmsg_destroy(&msg);
        return;
    }
    self->gateway_id = zmsg_first(msg);
    self->client_id = zmsg_next(msg);
    self->request_frame = zmsg_next(msg);
    //  Checked before unpacking: unknown fields, bad strings and a decode
    //  out of proportion to the frame are refused before protobuf-c
    //  allocates for them.
    char problem[200];
    bool clean =
        ca_envelope_check_request(&cairn__request__descriptor, zframe_data(self->request_frame),
                                  zframe_size(self->request_frame), problem, sizeof problem);
    Cairn__Request *request = clean ? cairn__request__unpack(ca_arena_allocator(self->arena),
                                                             zframe_size(self->request_frame),
                                                             zframe_data(self->request_frame))
                                    : NULL;
    ca_reply_t reply;
    s_reply_init(&reply, request ? request->id : s_peek_id(self->request_frame), self->arena);
    ca_log_set_request(reply.response.id);
    const ca_handler_t *handler = request ? s_handler_for(self, request) : NULL;
    if (!clean)
        ca_reply_error(&reply, CA_INVALID, "%s", problem);
    else if (!request)
        ca_reply_error(&reply, CA_INVALID,
                       "the request is not a valid protobuf cairn.Request; check that the "
                       "client was generated from the schemas/ of this node's version");
    else if (!handler)
        ca_reply_error(&reply, CA_INVALID, "the %s store does not serve request kind %d",
                       self->def->name, (int)request->body_case);
    else
        handler->handle(self, request, &reply);
    //  Before the answer leaves (the answer never holds a secret). A pending
    //  write shares the frame's buffer with the writer (sent with
    //  ZFRAME_REUSE): its bytes are wiped when the write is answered.
    s_wipe_secrets(self, request, reply.pending ? NULL : self->request_frame);
    if (!reply.pending) {
        s_send_reply(self, self->gateway_id, self->client_id, &reply);
        //  (a pending write is logged by the writer, when it answers)
        ca_store_log_if_slow(self->def->name, self->request_frame, self->received_us);
    }
    s_reply_clear(&reply);
    ca_log_clear_request();
    self->received_us = 0;
    self->gateway_id = self->client_id = self->request_frame = NULL;
    zmsg_destroy(&msg);
    ca_arena_reset(self->arena); //  the request and the answer's pieces
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
        if (self->def->internal_done)
            self->def->internal_done(self, response->write);
    }
    if (response)
        cairn__internal__writer_response__free_unpacked(response, NULL);
}

//  The writer answered one of our writes: finish the client's request.
//  A committed write that carried its answer (ca_store_write_answered) and
//  came back here rather than through the gateway: [gateway id][client id]
//  [Request][answer][WriterResponse]. The writer kept the answer its
//  outcome picked.
static void s_send_attached_answer(ca_store_t *self, zmsg_t *msg) {
    zframe_t *gateway_id = zmsg_first(msg);
    zframe_t *client_id = zmsg_next(msg);
    zframe_t *request_frame = zmsg_next(msg);
    zframe_t *answer = zmsg_next(msg);
    if (self->def->wipe_request) {
        Cairn__Request *request =
            cairn__request__unpack(ca_arena_allocator(self->arena), zframe_size(request_frame),
                                   zframe_data(request_frame));
        s_wipe_secrets(self, request, request_frame);
    }
    zmsg_remove(msg, answer);
    s_send_answer(self, gateway_id, client_id, &answer);
    zmsg_destroy(&msg);
    ca_arena_reset(self->arena);
}

static void s_handle_write_done(ca_store_t *self, zmsg_t *msg) {
    if (zmsg_size(msg) == 5) {
        s_send_attached_answer(self, msg);
        return;
    }
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
    //  The request was decoded and accepted before the write was sent, so
    //  decoding it again fails only when memory ran out.
    ProtobufCAllocator *allocator = ca_arena_allocator(self->arena);
    Cairn__Request *request =
        cairn__request__unpack(allocator, zframe_size(request_frame), zframe_data(request_frame));
    Cairn__Internal__WriterResponse *response = cairn__internal__writer_response__unpack(
        allocator, zframe_size(answer), zframe_data(answer));
    ca_reply_t reply;
    s_reply_init(&reply, request ? request->id : s_peek_id(request_frame), self->arena);
    ca_log_set_request(reply.response.id);
    const ca_handler_t *handler = request ? s_handler_for(self, request) : NULL;
    if (!request)
        ca_reply_error(
            &reply, CA_INTERNAL,
            "the node ran out of memory finishing this write; it %s; check before "
            "retrying",
            response && response->body_case == CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE &&
                    response->write->status == CA_OK
                ? "was stored"
                : "may not have been stored");
    else if (!response || response->body_case != CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE)
        ca_reply_error(&reply, CA_INTERNAL, "the writer's answer was unreadable; retry");
    else if (response->write->status != CA_OK) {
        ca_reply_error(&reply, (ca_status_t)response->write->status, "%s", response->write->error);
        if (self->def->write_failed)
            self->def->write_failed(self, request, response->write);
    } else if (handler && handler->done)
        handler->done(self, request, response->write, &reply);
    s_wipe_secrets(self, request, request_frame);
    s_send_reply(self, gateway_id, client_id, &reply);
    ca_log_clear_request();
    s_reply_clear(&reply);
    zmsg_destroy(&msg);
    ca_arena_reset(self->arena); //  request, writer's answer, the answer's pieces
}

//  ---- for the batch engine (ca_batch.c) ------------------------------------------

ca_reply_t *ca_batch_reply_new(ca_store_t *store, uint64_t id) {
    ca_reply_t *reply =
        (ca_reply_t *)s_reply_raw(&(ca_reply_t){.arena = store->arena}, sizeof(ca_reply_t), false);
    s_reply_init(reply, id, store->arena);
    return reply;
}

void ca_batch_reply_end(ca_reply_t *reply) {
    s_reply_clear(reply);
}

bool ca_batch_reply_pending(const ca_reply_t *reply) {
    return reply->pending;
}

//  A frame the handler laid out is an OK answer (an error replaces it).
ca_status_t ca_batch_reply_status(const ca_reply_t *reply) {
    return reply->frame ? CA_OK : (ca_status_t)reply->response.status;
}

const char *ca_batch_reply_error(const ca_reply_t *reply) {
    return reply->response.error ? reply->response.error : "";
}

bool ca_batch_reply_pack(ca_reply_t *reply, ProtobufCBinaryData *packed) {
    if (reply->frame) {
        packed->len = zframe_size(reply->frame);
        packed->data = (uint8_t *)s_reply_raw(reply, packed->len, true);
        if (packed->data)
            memcpy(packed->data, zframe_data(reply->frame), packed->len);
    } else {
        packed->len = cairn__response__get_packed_size(&reply->response);
        packed->data = (uint8_t *)s_reply_raw(reply, packed->len, true);
        if (packed->data)
            cairn__response__pack(&reply->response, packed->data);
    }
    return packed->data != NULL;
}

const ca_handler_t *ca_batch_row(ca_store_t *store, unsigned body, const ca_store_def_t **def_p) {
    for (size_t i = 0; i < store->store_count; i++)
        for (size_t h = 0; h < store->stores[i]->handler_count; h++)
            if ((unsigned)store->stores[i]->handlers[h].body == body) {
                *def_p = store->stores[i];
                return &store->stores[i]->handlers[h];
            }
    return NULL;
}

void ca_batch_handle_as(ca_store_t *store, const ca_store_def_t *def, const ca_handler_t *row,
                        const Cairn__Request *request, ca_reply_t *reply,
                        ca_batch_capture_t *capture) {
    const ca_store_def_t *own = store->def;
    *capture = (ca_batch_capture_t){0};
    store->def = def;
    store->capture = capture;
    row->handle(store, request, reply);
    store->capture = NULL;
    store->def = own;
}

void ca_batch_done_as(ca_store_t *store, const ca_store_def_t *def, const ca_handler_t *row,
                      const Cairn__Request *request, const Cairn__Internal__WriteReply *write,
                      ca_reply_t *reply) {
    const ca_store_def_t *own = store->def;
    store->def = def;
    if (row->done)
        row->done(store, request, write, reply);
    store->def = own;
}

ca_arena_t *ca_batch_arena(ca_store_t *store) {
    return store->arena;
}

int ca_batch_write(ca_store_t *store, zframe_t **body_p, ca_reply_t *reply) {
    int rc = s_send_write(store, *body_p, reply);
    zframe_destroy(body_p);
    return rc;
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

char *ca_actor_socket_error(const char *actor) {
    return zsys_sprintf("%s cannot make a ZeroMQ socket: %s; the process may be out of file "
                        "descriptors (raise ulimit -n)",
                        actor, zmq_strerror(zmq_errno()));
}

static char *s_start(ca_store_t *self) {
    char *error = NULL;
    self->arena = ca_arena_new(CA_WORKER_ARENA_CHUNK);
    if (!self->arena)
        return zsys_sprintf("store %s has no memory for its arena; free memory and restart",
                            self->def->name);
    self->sql = ca_sql_open(self->db_path, CA_SQL_READ_ONLY, self->vfs, &error);
    if (!self->sql)
        return error;
    char *endpoint = ca_store_endpoint(self->def->name, self->index);
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        zstr_free(&endpoint);
        return ca_actor_socket_error(self->def->name);
    }
    zsock_set_rcvhwm(self->router, (int)self->queue_max);
    zsock_set_sndhwm(self->router, (int)self->queue_max);
    if (zsock_bind(self->router, "%s", endpoint) != 0)
        error = zsys_sprintf("store %s cannot bind %s", self->def->name, endpoint);
    zstr_free(&endpoint);
    if (error)
        return error;
    self->writer = zsock_new(ZMQ_DEALER);
    if (!self->writer)
        return ca_actor_socket_error(self->def->name);
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
    self->stores = args->stores;
    self->store_count = args->store_count;
    bool ticks = self->def->tick && (self->index == 0 || self->def->tick_every_worker);
    if (ticks && self->def->tick_at_start)
        self->next_tick = zclock_mono();
    else if (ticks && self->settings.maintenance_ms > 0)
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
    ca_arena_destroy(&self->arena);
    free(self);
    *self_p = NULL;
}

//  LIMITS [generation uint64] and the stores' size limits (SIGHUP,
//  node_reload), each int64, in this order: max_content_bytes,
//  cache_max_bytes, content_quota_bytes, doc_max_bytes,
//  kv_max_value_bytes, min_free_bytes, stream_timeout_ms. Handlers read
//  them from ca_store_settings at each request, so they hold from the next
//  one; answers [LIMITS][generation] once applied.
static void s_apply_limits(ca_store_t *self) {
    ca_store_settings_t *settings = &self->settings;
    uint64_t generation = 0;
    int64_t values[7];
    if (zsock_recv(self->pipe, "88888888", &generation, &values[0], &values[1], &values[2],
                   &values[3], &values[4], &values[5], &values[6]) == 0) {
        settings->max_content_bytes = values[0];
        settings->cache_max_bytes = values[1];
        settings->content_quota_bytes = values[2];
        settings->doc_max_bytes = values[3];
        settings->kv_max_value_bytes = values[4];
        settings->min_free_bytes = values[5];
        settings->stream_timeout_ms = values[6];
    }
    zsock_send(self->pipe, "s8", "LIMITS", generation);
}

static void s_handle_pipe(ca_store_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else if (streq(command, "LIMITS"))
        s_apply_limits(self);
    else
        ca_log_error("%s[%u]: unknown pipe command '%s'", self->def->name, self->index, command);
    zstr_free(&command);
}

//  zpoller_wait reports only the first ready socket, so serving just that
//  one would let a flood of requests starve the writer's answers (and the
//  writes would never finish). Each turn serves both sockets, answers first
//  since they complete work already admitted, each up to a burst.
static void s_serve_ready(ca_store_t *self) {
    zmsg_t *msg;
    for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->writer)); n++)
        s_handle_write_done(self, msg);
    for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->router)); n++)
        s_handle_request(self, msg);
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
    self->next_tick = self->settings.maintenance_ms > 0
                          ? zclock_mono() + self->settings.maintenance_ms
                          : 0; //  ticked once at start only
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

//  ---- self-test -------------------------------------------------------------------
//
//  A store made here, with three rows: a read (ConfigGet), a write
//  (ConfigSet, its `done` and a write_failed hook) and MessageStats, which
//  answers with the worker's number. First one worker beside a real writer
//  (ca_testbed); then two workers beside a writer played by the test, which
//  decides when a write commits, whether it fails, and when its queue is
//  full. The test plays the gateway: a DEALER sending [client id][Request].

#include "ca_request.h"
#include "ca_testbed.h"

#define TEST_TIMEOUT_MS      5000
#define TEST_FLOOD           20
#define TEST_WRITER          "inproc://ca-store-test-writer"
#define TEST_GATEWAY_POOL_ID "G\x01\x00\x00\x00\x00\x00"

static const char *const s_test_migrations[] = {
    "CREATE TABLE store_test (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
};
static const ca_schema_t s_test_schema = {"store_test", s_test_migrations, 1};

//  write_failed calls, read by the test once the failed write is answered.
static volatile int s_test_failed_writes;
//  wipe_request calls, and the last ConfigSet value they wiped.
static volatile int s_test_wiped;
static volatile bool s_test_value_wiped;

static void s_test_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT value FROM store_test WHERE key = ?1");
    assert(stmt);
    sqlite3_bind_text(stmt, 1, request->config_get->key, -1, SQLITE_STATIC);
    Cairn__ConfigValue *value =
        (Cairn__ConfigValue *)ca_reply_alloc(reply, sizeof(Cairn__ConfigValue));
    cairn__config_value__init(value);
    value->key = request->config_get->key;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        value->found = true;
        value->value.len = (size_t)sqlite3_column_bytes(stmt, 0);
        value->value.data =
            (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 0), value->value.len);
    }
    sqlite3_reset(stmt);
    ca_reply_response(reply)->body_case = CAIRN__RESPONSE__BODY_CONFIG_VALUE;
    ca_reply_response(reply)->config_value = value;
}

static void s_test_set(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "INSERT INTO store_test (key, value) VALUES (?1, ?2)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL, "not stored");
    ca_write_text(write, request->config_set->key);
    ca_write_blob(write, request->config_set->value.data, request->config_set->value.len);
    ca_store_write(store, &write, reply);
}

static void s_test_set_done(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__ConfigSetReply *answer =
        (Cairn__ConfigSetReply *)ca_reply_alloc(reply, sizeof(Cairn__ConfigSetReply));
    cairn__config_set_reply__init(answer);
    answer->key = request->config_set->key;
    answer->created = true;
    ca_reply_response(reply)->body_case = CAIRN__RESPONSE__BODY_CONFIG_SET;
    ca_reply_response(reply)->config_set = answer;
}

static void s_test_set_failed(ca_store_t *store, const Cairn__Request *request,
                              const Cairn__Internal__WriteReply *write) {
    s_test_failed_writes++;
}

static void s_test_wipe(Cairn__Request *request) {
    if (request->body_case == CAIRN__REQUEST__BODY_CONFIG_SET) {
        ProtobufCBinaryData *value = &request->config_set->value;
        sodium_memzero(value->data, value->len);
        s_test_value_wiped = true;
    }
    s_test_wiped++;
}

//  MessageStats says which worker answered: messages = its number,
//  channels = the pool's size.
static void s_test_whoami(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    Cairn__MessageStatsReply *stats =
        (Cairn__MessageStatsReply *)ca_reply_alloc(reply, sizeof(Cairn__MessageStatsReply));
    cairn__message_stats_reply__init(stats);
    stats->messages = ca_store_index(store);
    stats->channels = ca_store_worker_count(store);
    ca_reply_response(reply)->body_case = CAIRN__RESPONSE__BODY_MESSAGE_STATS;
    ca_reply_response(reply)->message_stats = stats;
}

//  GossipAdd plays a write answered up front (ca_store_write_answered):
//  "seen" unless the insert changed a row. An id starting "dup" uses a
//  plain INSERT, which the writer refuses the second time.
static void s_test_was_added(ca_reply_t *reply) {
    ca_reply_response(reply)->gossip_add->added = true;
}

static void s_test_add(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *id = request->gossip_add->message_id;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       strncmp(id, "dup", 3) == 0
                           ? "INSERT INTO store_test (key, value) VALUES (?1, '')"
                           : "INSERT OR IGNORE INTO store_test (key, value) VALUES (?1, '')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, id);
    Cairn__GossipSeen *seen = (Cairn__GossipSeen *)ca_reply_alloc(reply, sizeof(*seen));
    cairn__gossip_seen__init(seen);
    seen->message_id = (char *)id;
    ca_reply_response(reply)->body_case = CAIRN__RESPONSE__BODY_GOSSIP_ADD;
    ca_reply_response(reply)->gossip_add = seen;
    ca_store_write_answered(store, &write, reply, 0, s_test_was_added);
}

static const ca_handler_t s_test_rows[] = {
    {CAIRN__REQUEST__BODY_GOSSIP_ADD, "gossip_add", s_test_add, NULL, 0},
    {CAIRN__REQUEST__BODY_CONFIG_GET, "config_get", s_test_get, NULL, 0},
    {CAIRN__REQUEST__BODY_CONFIG_SET, "config_set", s_test_set, s_test_set_done, 0},
    {CAIRN__REQUEST__BODY_MESSAGE_STATS, "whoami", s_test_whoami, NULL, 0},
};

static const ca_store_def_t s_test_def = {.name = "store-test",
                                          .schema = &s_test_schema,
                                          .handlers = s_test_rows,
                                          .handler_count = 4,
                                          .write_failed = s_test_set_failed,
                                          .wipe_request = s_test_wipe};

//  The same rows as a pool of two beside the test's writer.
static const ca_store_def_t s_test_pool_def = {.name = "store-test-pool",
                                               .schema = &s_test_schema,
                                               .handlers = s_test_rows,
                                               .handler_count = 4,
                                               .workers = 2,
                                               .queue_max = 2,
                                               .write_failed = s_test_set_failed};

//  Dispatch by kind, refusals of what no row serves or cannot be decoded,
//  and a write whose answer means committed, beside a real writer.
static void s_test_real_writer(ca_testbed_t *bed) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    Cairn__ConfigSet set;
    int wiped = s_test_wiped;
    ca_request_config_get(&request, &get, 0, "a", "");
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CONFIG_VALUE);
    assert(!response->config_value->found);
    cairn__response__free_unpacked(response, NULL);
    assert(s_test_wiped == wiped + 1); //  a read answered at once

    ca_request_config_set(&request, &set, 0, "a", "1");
    s_test_value_wiped = false;
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CONFIG_SET);
    assert(streq(response->config_set->key, "a") && response->config_set->created);
    cairn__response__free_unpacked(response, NULL);
    //  Once when the write was sent, once when it was answered.
    assert(s_test_wiped == wiped + 3 && s_test_value_wiped);
    //  Answered means committed: another connection sees the row at once.
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_ONLY, NULL, &error);
    assert(sql);
    sqlite3_stmt *stmt = ca_sql_prepare(sql, "SELECT value FROM store_test WHERE key = 'a'");
    assert(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    assert(streq((const char *)sqlite3_column_text(stmt, 0), "1"));
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    zstr_free(&path);
    ca_request_config_get(&request, &get, 0, "a", "");
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_CONFIG_VALUE);
    assert(response->config_value->found && response->config_value->value.len == 1);
    cairn__response__free_unpacked(response, NULL);

    //  The writer refuses the same key again: its status, and write_failed.
    int failed = s_test_failed_writes;
    wiped = s_test_wiped;
    ca_request_config_set(&request, &set, 0, "a", "2");
    s_test_value_wiped = false;
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__CONFLICT, "");
    assert(s_test_failed_writes == failed + 1);
    //  A failed write wipes its request too.
    assert(s_test_wiped == wiped + 2 && s_test_value_wiped);

    //  A write answered up front: the answer its outcome picks, sent after
    //  COMMIT (here by the worker: the testbed's writer has no gateway to
    //  answer); a refused one gets the writer's error and write_failed.
    Cairn__GossipAdd add;
    const char *ids[] = {"new", "new", "dup-1", "dup-1"};
    for (int i = 0; i < 4; i++) {
        failed = s_test_failed_writes;
        ca_request_gossip_add(&request, &add, 0, ids[i], 0);
        if (i == 3) {
            ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__CONFLICT, "");
            assert(s_test_failed_writes == failed + 1);
            continue;
        }
        response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_GOSSIP_ADD);
        assert(streq(response->gossip_add->message_id, ids[i]));
        assert(response->gossip_add->added == (i != 1));
        cairn__response__free_unpacked(response, NULL);
    }

    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MESSAGE_STATS);
    assert(response->message_stats->channels == 1);
    cairn__response__free_unpacked(response, NULL);

    Cairn__ChannelList list;
    ca_request_channel_list(&request, &list, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID,
                     "does not serve request kind");
    ca_testbed_fails(ca_testbed_call_raw(bed, "\x08\x07\xff", 3), CAIRN__STATUS__INVALID,
                     "not a valid protobuf");
    //  A string that is not UTF-8 is refused before any handler sees it,
    //  with the request's id.
    ca_request_config_get(&request, &get, 9, "\xff\xfe", "");
    response = ca_testbed_call(bed, &request);
    assert(response && response->id == 9);
    ca_testbed_fails(response, CAIRN__STATUS__INVALID, "");
}

//  ---- a pool beside a writer played by the test ----

typedef struct {
    zsock_t *writer;     //  ROUTER at TEST_WRITER
    zactor_t *worker[2]; //  workers 0 and 1 of s_test_pool_def
    zsock_t *gateway[2]; //  DEALER to each worker
} test_pool_t;

static void s_test_pool_new(test_pool_t *pool, ca_testbed_t *bed) {
    pool->writer = zsock_new(ZMQ_ROUTER);
    zsock_set_rcvhwm(pool->writer, 1);
    zsock_set_rcvtimeo(pool->writer, TEST_TIMEOUT_MS);
    int rc = zsock_bind(pool->writer, TEST_WRITER);
    assert(rc == 0);
    char *db_path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    for (unsigned w = 0; w < 2; w++) {
        ca_store_args_t args = {.def = &s_test_pool_def,
                                .index = w,
                                .workers = ca_store_workers(&s_test_pool_def, 8),
                                .db_path = db_path,
                                .writer_endpoint = TEST_WRITER,
                                .queue_max = ca_store_queue_max(&s_test_pool_def, 1000),
                                .settings = ca_testbed_settings()};
        pool->worker[w] = zactor_new(ca_store_actor, &args);
        char *error = NULL;
        rc = ca_actor_start(pool->worker[w], &error);
        assert(rc == 0);
        char *endpoint = ca_store_endpoint(s_test_pool_def.name, w);
        //  Worker 0's "gateway" names itself as a gateway's pool socket does.
        pool->gateway[w] = zsock_new(ZMQ_DEALER);
        if (w == 0)
            zmq_setsockopt(zsock_resolve(pool->gateway[w]), ZMQ_ROUTING_ID, TEST_GATEWAY_POOL_ID,
                           CA_GATEWAY_ID_SIZE);
        rc = zsock_connect(pool->gateway[w], "%s", endpoint);
        assert(rc == 0);
        assert(pool->gateway[w]);
        zsock_set_rcvtimeo(pool->gateway[w], TEST_TIMEOUT_MS);
        zstr_free(&endpoint);
    }
    zstr_free(&db_path);
}

static void s_test_pool_destroy(test_pool_t *pool) {
    for (unsigned w = 0; w < 2; w++) {
        zsock_destroy(&pool->gateway[w]);
        zactor_destroy(&pool->worker[w]);
    }
    zsock_unbind(pool->writer, TEST_WRITER);
    zsock_destroy(&pool->writer);
}

static void s_test_pool_send(zsock_t *gateway, Cairn__Request *request, uint64_t id) {
    request->id = id;
    zframe_t *frame = ca_message_frame(&request->base);
    zsock_send(gateway, "sf", "client", frame);
    zframe_destroy(&frame);
}

//  The next answer the worker sends the gateway; aborts when none comes.
static Cairn__Response *s_test_pool_recv(zsock_t *gateway) {
    zmsg_t *msg = zmsg_recv(gateway);
    assert(msg && zmsg_size(msg) == 2);
    char *client = zmsg_popstr(msg);
    assert(streq(client, "client"));
    zstr_free(&client);
    zframe_t *frame = zmsg_first(msg);
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert(response);
    zmsg_destroy(&msg);
    return response;
}

//  Takes one write at the test's writer, which must carry `answers` packed
//  answers (for the gateway or not), and answers it with `status` (OK: one
//  statement that changed one row). Answers are only ever refused here:
//  the writer removes them, as for any failed write.
static void s_test_commit_answered(test_pool_t *pool, ca_status_t status, uint32_t answers,
                                   bool to_gateway) {
    zmsg_t *msg = zmsg_recv(pool->writer);
    //  [routing id][gateway id][client id][Request][answers...][WriterRequest]
    assert(msg && zmsg_size(msg) == 5 + answers);
    zframe_t *body = zmsg_last(msg);
    Cairn__Internal__WriterRequest *asked =
        cairn__internal__writer_request__unpack(NULL, zframe_size(body), zframe_data(body));
    assert(asked && asked->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE);
    assert(asked->write->n_statements == 1 && asked->write->answers == answers);
    assert(asked->write->answer_by == 0 && asked->write->answer_to_gateway == to_gateway);
    cairn__internal__writer_request__free_unpacked(asked, NULL);
    assert(answers == 0 || status != CA_OK);
    for (uint32_t i = 0; i <= answers; i++) {
        zframe_t *last = zmsg_last(msg);
        zmsg_remove(msg, last);
        zframe_destroy(&last);
    }
    Cairn__Internal__StatementResult result = CAIRN__INTERNAL__STATEMENT_RESULT__INIT;
    Cairn__Internal__StatementResult *results[] = {&result};
    Cairn__Internal__WriteReply reply = CAIRN__INTERNAL__WRITE_REPLY__INIT;
    Cairn__Internal__WriterResponse response = CAIRN__INTERNAL__WRITER_RESPONSE__INIT;
    reply.status = status;
    if (status == CA_OK) {
        result.changes = 1;
        reply.results = results;
        reply.n_results = 1;
    } else
        reply.error = "the test's writer refused this write";
    response.body_case = CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE;
    response.write = &reply;
    zframe_t *answer = ca_message_frame(&response.base);
    zmsg_append(msg, &answer);
    int rc = zmsg_send(&msg, pool->writer);
    assert(rc == 0);
}

static void s_test_commit(test_pool_t *pool, ca_status_t status) {
    s_test_commit_answered(pool, status, 0, false);
}

static void s_test_pool(ca_testbed_t *bed) {
    assert(ca_store_workers(&s_test_def, 8) == 8 && ca_store_workers(&s_test_pool_def, 8) == 2);
    assert(ca_store_queue_max(&s_test_def, 7) == 7 && ca_store_queue_max(&s_test_pool_def, 7) == 2);
    test_pool_t pool;
    s_test_pool_new(&pool, bed);
    Cairn__Request request;
    Cairn__MessageStats stats;
    Cairn__ConfigGet get;
    Cairn__ConfigSet set;

    //  Each worker knows its number and the pool's size (what affinity
    //  state, e.g. an upload stream, relies on).
    for (unsigned w = 0; w < 2; w++) {
        ca_request_message_stats(&request, &stats, 0);
        s_test_pool_send(pool.gateway[w], &request, 1 + w);
        Cairn__Response *response =
            ca_testbed_ok(s_test_pool_recv(pool.gateway[w]), CAIRN__RESPONSE__BODY_MESSAGE_STATS);
        assert(response->message_stats->messages == w && response->message_stats->channels == 2);
        cairn__response__free_unpacked(response, NULL);
    }

    //  A message that is not [client id][Request] is dropped, not answered:
    //  the next answer is the next request's.
    zstr_send(pool.gateway[0], "client");
    ca_request_config_get(&request, &get, 0, "k", "");
    s_test_pool_send(pool.gateway[0], &request, 10);
    Cairn__Response *response = s_test_pool_recv(pool.gateway[0]);
    assert(response->id == 10);
    cairn__response__free_unpacked(response, NULL);

    //  A write is answered once the writer answers, not before; reads are
    //  served meanwhile.
    ca_request_config_set(&request, &set, 0, "k", "v");
    s_test_pool_send(pool.gateway[0], &request, 20);
    ca_request_config_get(&request, &get, 0, "k", "");
    s_test_pool_send(pool.gateway[0], &request, 21);
    response = s_test_pool_recv(pool.gateway[0]);
    assert(response->id == 21);
    cairn__response__free_unpacked(response, NULL);
    s_test_commit(&pool, CA_OK);
    response = ca_testbed_ok(s_test_pool_recv(pool.gateway[0]), CAIRN__RESPONSE__BODY_CONFIG_SET);
    assert(response->id == 20 && streq(response->config_set->key, "k"));
    cairn__response__free_unpacked(response, NULL);

    //  A refused write: the writer's status and message, and write_failed.
    int failed = s_test_failed_writes;
    ca_request_config_set(&request, &set, 0, "k", "w");
    s_test_pool_send(pool.gateway[1], &request, 30);
    s_test_commit(&pool, CA_CONFLICT);
    response = s_test_pool_recv(pool.gateway[1]);
    assert(response->id == 30);
    ca_testbed_fails(response, CAIRN__STATUS__CONFLICT, "the test's writer refused");
    assert(s_test_failed_writes == failed + 1);

    //  A writer that does not read: writes beyond the queue bound are
    //  answered BUSY at once, reads still flow, and every admitted write is
    //  answered once the writer catches up.
    for (uint64_t id = 100; id < 100 + TEST_FLOOD; id++) {
        ca_request_config_set(&request, &set, 0, "k", "v");
        s_test_pool_send(pool.gateway[0], &request, id);
    }
    ca_request_config_get(&request, &get, 0, "k", "");
    s_test_pool_send(pool.gateway[0], &request, 200);
    unsigned busy = ca_test_count_busy(s_test_pool_recv, pool.gateway[0], 100, TEST_FLOOD, 200,
                                       "the writer is saturated");
    unsigned admitted = TEST_FLOOD - busy;
    assert(busy >= 1 && admitted >= 1);
    for (unsigned i = 0; i < admitted; i++)
        s_test_commit(&pool, CA_OK);
    for (unsigned i = 0; i < admitted; i++) {
        response =
            ca_testbed_ok(s_test_pool_recv(pool.gateway[0]), CAIRN__RESPONSE__BODY_CONFIG_SET);
        cairn__response__free_unpacked(response, NULL);
    }
    //  A write answered up front is meant for the gateway only when it came
    //  on a gateway's pool socket; refused, it is answered by the worker.
    Cairn__GossipAdd add;
    for (unsigned w = 0; w < 2; w++) {
        failed = s_test_failed_writes;
        ca_request_gossip_add(&request, &add, 0, "g", 0);
        s_test_pool_send(pool.gateway[w], &request, 300 + w);
        s_test_commit_answered(&pool, CA_CONFLICT, 2, w == 0);
        response = s_test_pool_recv(pool.gateway[w]);
        assert(response->id == 300 + w);
        ca_testbed_fails(response, CAIRN__STATUS__CONFLICT, "the test's writer refused");
        assert(s_test_failed_writes == failed + 1);
    }
    s_test_pool_destroy(&pool);
}

void ca_store_test(bool verbose) {
    if (verbose)
        printf(" * ca_store: ");
    ca_testbed_t *bed = ca_testbed_new(&s_test_def);
    s_test_real_writer(bed);
    s_test_pool(bed);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

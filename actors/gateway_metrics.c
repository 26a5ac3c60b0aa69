/*  =========================================================================
    gateway_metrics - the metrics endpoint: Prometheus text over HTTP

    What it is: an HTTP/1.x endpoint (metrics_endpoint, off by default)
    that answers GET /metrics with the gateway's counters in Prometheus'
    text format 0.0.4. It lives in the gateway because the gateway owns the
    per-pool counters (the same ones Info reports) and already asks the
    writer for its figures.

    How: a ZMQ_STREAM socket, so libzmq does the TCP (accept, buffers,
    close) and the gateway's poller sees it beside the others. Only as much
    HTTP as a scraper needs is read: the request line and the blank line
    that ends the head; headers are skipped, a body is never read.

        connect (empty frame, new id)  -> open < CA_METRICS_CONNECTIONS: track
                                          else close at once
        bytes                          -> append (over CA_METRICS_REQUEST_MAX:
                                          431 and close); once the head is
                                          complete:
            request line not "M P HTTP/1.x"   -> 400
            M not GET                         -> 405 (Allow: GET)
            P (query dropped) not /metrics    -> 404
            GET /metrics                      -> waiting (the gateway asks
                                                 the writer, then answers 200)
        no complete head within CA_METRICS_REQUEST_TIMEOUT_MS -> closed
        disconnect (empty frame, known id)    -> forgotten

    Every answer has Content-Length and Connection: close. The client
    closes once it has read it (curl, Prometheus and Python's http.client
    do); the node closes the connection CA_METRICS_LINGER_MS after the
    answer if the client has not. Not at once: closing a STREAM connection
    (an empty frame) ends its engine when the close reaches the I/O
    thread, dropping what the kernel had not yet taken (libzmq issue 4763:
    a 30 KiB answer to a client across a network would be cut short).

        reading --head complete--> waiting --figures--> answered
           |  \--error answer---------------------------^  |
           '--timeout: closed              client close or linger: closed

    Latency: per pool, a request is timed from the moment the gateway
    routes it to the moment its answer passes back (worker time, queueing
    and, for writes, the writer's batch). The start time sits in a table of
    CA_METRICS_TIMED slots per pool, keyed by a hash of the client's routing
    id and the request id, so no allocation per request; the answer's id is
    read from its first field (protobuf-c writes fields in number order).
    A request whose slot is taken is not timed: under deep pipelining the
    histogram is a sample. Stale slots (an answer that never came) are
    reused after a minute.
    ========================================================================= */

#include "gateway_metrics.h"
#include "ca_limits.h"
#include "ca_log.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

#define ID_MAX    256 //  a STREAM routing id is 5 bytes; room to spare
#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)

typedef enum { FREE, READING, WAITING, ANSWERED } state_t;

typedef struct {
    state_t state;
    uint8_t id[ID_MAX];
    size_t id_size;
    char head[CA_METRICS_REQUEST_MAX + 1];
    size_t size;
    int64_t deadline; //  zclock_mono; READING and ANSWERED
} connection_t;

struct _gateway_metrics_t {
    zsock_t *socket; //  ZMQ_STREAM
    connection_t connections[CA_METRICS_CONNECTIONS];
    size_t open;
    size_t waiting;
};

gateway_metrics_t *gateway_metrics_new(const char *endpoint, char **error) {
    gateway_metrics_t *self = (gateway_metrics_t *)zmalloc(sizeof(gateway_metrics_t));
    self->socket = zsock_new(ZMQ_STREAM);
    if (!self->socket) {
        *error = zsys_sprintf("cannot make the metrics socket: %s", zmq_strerror(zmq_errno()));
        free(self);
        return NULL;
    }
    zsock_set_linger(self->socket, 0);
    if (zsock_bind(self->socket, "%s", endpoint) == -1) {
        *error = zsys_sprintf("cannot bind the metrics endpoint %s: %s; choose another with "
                              "--metrics-endpoint",
                              endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&self->socket);
        free(self);
        return NULL;
    }
    return self;
}

void gateway_metrics_destroy(gateway_metrics_t **self_p) {
    gateway_metrics_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->socket);
    free(self);
    *self_p = NULL;
}

zsock_t *gateway_metrics_socket(gateway_metrics_t *self) {
    return self->socket;
}

char *gateway_metrics_endpoint(gateway_metrics_t *self) {
    return zsock_last_endpoint(self->socket);
}

size_t gateway_metrics_open(gateway_metrics_t *self) {
    return self->open;
}

size_t gateway_metrics_waiting(gateway_metrics_t *self) {
    return self->waiting;
}

//  ---- connections ----------------------------------------------------------

static connection_t *s_find(gateway_metrics_t *self, const uint8_t *id, size_t size) {
    for (size_t i = 0; i < CA_METRICS_CONNECTIONS; i++) {
        connection_t *c = &self->connections[i];
        if (c->state != FREE && c->id_size == size && memcmp(c->id, id, size) == 0)
            return c;
    }
    return NULL;
}

//  Closes the connection `id` (what was sent on it before goes out first).
static void s_close_id(gateway_metrics_t *self, const uint8_t *id, size_t size) {
    void *socket = zsock_resolve(self->socket);
    zmq_send(socket, id, size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(socket, "", 0, ZMQ_DONTWAIT);
}

static void s_forget(gateway_metrics_t *self, connection_t *c) {
    if (c->state == WAITING)
        self->waiting--;
    c->state = FREE;
    self->open--;
}

//  Sends an answer with `status` and `body`; the connection lingers.
static void s_reply(gateway_metrics_t *self, connection_t *c, int status, const char *reason,
                    const char *content_type, const char *extra, const char *body, size_t size) {
    char *head = zsys_sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "%sConnection: close\r\n\r\n",
                              status, reason, content_type, size, extra);
    size_t head_size = strlen(head);
    zframe_t *frame = zframe_new(NULL, head_size + size);
    memcpy(zframe_data(frame), head, head_size);
    if (size)
        memcpy(zframe_data(frame) + head_size, body, size);
    zstr_free(&head);
    void *socket = zsock_resolve(self->socket);
    if (zmq_send(socket, c->id, c->id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        zmq_send(socket, zframe_data(frame), zframe_size(frame), ZMQ_DONTWAIT) == -1)
        ca_log_debug("gateway: a metrics answer was lost: %s", zmq_strerror(zmq_errno()));
    zframe_destroy(&frame);
    if (c->state == WAITING)
        self->waiting--;
    c->state = ANSWERED;
    c->deadline = zclock_mono() + CA_METRICS_LINGER_MS;
}

static void s_reply_error(gateway_metrics_t *self, connection_t *c, int status, const char *reason,
                          const char *extra, const char *text) {
    s_reply(self, c, status, reason, "text/plain; charset=utf-8", extra, text, strlen(text));
}

//  The head is complete: the request line decides.
static void s_dispatch(gateway_metrics_t *self, connection_t *c) {
    char *line = c->head;
    line[strcspn(line, "\r\n")] = 0;
    char *method = line;
    char *target = strchr(method, ' ');
    char *version = target ? strchr(target + 1, ' ') : NULL;
    if (!target || !version || strchr(version + 1, ' ') || target == method ||
        version == target + 1 || strncmp(version + 1, "HTTP/1.", 7) != 0 ||
        strlen(version + 1) != 8) {
        s_reply_error(self, c, 400, "Bad Request", "",
                      "a request line is METHOD PATH HTTP/1.x; ask GET /metrics\n");
        return;
    }
    *target++ = 0;
    *version = 0;
    target[strcspn(target, "?")] = 0;
    if (!streq(method, "GET"))
        s_reply_error(self, c, 405, "Method Not Allowed", "Allow: GET\r\n",
                      "only GET is served; ask GET /metrics\n");
    else if (!streq(target, "/metrics"))
        s_reply_error(self, c, 404, "Not Found", "", "the metrics are at /metrics\n");
    else {
        c->state = WAITING;
        self->waiting++;
    }
}

//  Whether the head ends (a blank line, CRLF or bare LF) in the first
//  `size` bytes.
static bool s_head_complete(const char *head, size_t size) {
    for (size_t i = 1; i < size; i++)
        if (head[i] == '\n' &&
            (head[i - 1] == '\n' || (i >= 2 && head[i - 1] == '\r' && head[i - 2] == '\n')))
            return true;
    return false;
}

static void s_take(gateway_metrics_t *self, const uint8_t *id, size_t id_size, const uint8_t *data,
                   size_t size) {
    connection_t *c = s_find(self, id, id_size);
    if (size == 0) { //  a connection made, or gone
        if (c)
            s_forget(self, c);
        else if (self->open >= CA_METRICS_CONNECTIONS || id_size > ID_MAX) {
            ca_log_debug("gateway: closed a metrics connection over the cap of %d",
                         CA_METRICS_CONNECTIONS);
            s_close_id(self, id, id_size);
        } else {
            for (size_t i = 0; i < CA_METRICS_CONNECTIONS && !c; i++)
                if (self->connections[i].state == FREE)
                    c = &self->connections[i];
            assert(c); //  open < CA_METRICS_CONNECTIONS
            c->state = READING;
            memcpy(c->id, id, id_size);
            c->id_size = id_size;
            c->size = 0;
            c->deadline = zclock_mono() + CA_METRICS_REQUEST_TIMEOUT_MS;
            self->open++;
        }
        return;
    }
    if (!c || c->state != READING)
        return; //  bytes after the head (a body, a pipelined request): ignored
    if (size > CA_METRICS_REQUEST_MAX - c->size) {
        s_reply_error(self, c, 431, "Request Header Fields Too Large", "",
                      "the request head is over " S_STR(CA_METRICS_REQUEST_MAX) " bytes\n");
        return;
    }
    memcpy(c->head + c->size, data, size);
    c->size += size;
    c->head[c->size] = 0;
    //  A NUL in the head is no HTTP; the line parse below would stop at it.
    if (memchr(c->head, 0, c->size))
        s_reply_error(self, c, 400, "Bad Request", "", "the request holds a NUL byte\n");
    else if (s_head_complete(c->head, c->size))
        s_dispatch(self, c);
}

bool gateway_metrics_handle(gateway_metrics_t *self) {
    size_t waiting = self->waiting;
    for (int n = 0; n < CA_SERVE_BURST; n++) {
        zmsg_t *msg = zmsg_recv_nowait(self->socket);
        if (!msg)
            break;
        zframe_t *id = zmsg_first(msg);
        zframe_t *data = zmsg_next(msg);
        if (zmsg_size(msg) == 2)
            s_take(self, zframe_data(id), zframe_size(id), zframe_data(data), zframe_size(data));
        zmsg_destroy(&msg);
    }
    return self->waiting > waiting;
}

void gateway_metrics_answer(gateway_metrics_t *self, const char *body, size_t size) {
    for (size_t i = 0; i < CA_METRICS_CONNECTIONS && self->waiting; i++) {
        connection_t *c = &self->connections[i];
        if (c->state == WAITING)
            s_reply(self, c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", body, size);
    }
}

void gateway_metrics_expire(gateway_metrics_t *self) {
    int64_t now = zclock_mono();
    for (size_t i = 0; i < CA_METRICS_CONNECTIONS; i++) {
        connection_t *c = &self->connections[i];
        if ((c->state == READING || c->state == ANSWERED) && now >= c->deadline) {
            if (c->state == READING)
                ca_log_debug("gateway: dropped a metrics connection that sent no request within "
                             "%d ms",
                             CA_METRICS_REQUEST_TIMEOUT_MS);
            s_close_id(self, c->id, c->id_size);
            s_forget(self, c);
        }
    }
}

int gateway_metrics_next_ms(gateway_metrics_t *self) {
    int64_t next = -1, now = zclock_mono();
    for (size_t i = 0; i < CA_METRICS_CONNECTIONS; i++) {
        connection_t *c = &self->connections[i];
        if ((c->state == READING || c->state == ANSWERED) && (next < 0 || c->deadline - now < next))
            next = c->deadline > now ? c->deadline - now : 0;
    }
    return (int)next;
}

//  ---- latency ------------------------------------------------------------

#define STALE_US (60LL * 1000 * 1000)

//  Upper bounds of the buckets, in microseconds and as Prometheus shows them.
static const struct {
    uint64_t us;
    const char *le;
} s_buckets[GATEWAY_METRICS_BUCKETS] = {
    {100, "0.0001"},  {250, "0.00025"}, {500, "0.0005"},  {1000, "0.001"},  {2500, "0.0025"},
    {5000, "0.005"},  {10000, "0.01"},  {25000, "0.025"}, {50000, "0.05"},  {100000, "0.1"},
    {250000, "0.25"}, {500000, "0.5"},  {1000000, "1"},   {2500000, "2.5"},
};

//  FNV-1a of the client id, then the request id.
static uint64_t s_key(const uint8_t *client_id, size_t size, uint64_t id) {
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ client_id[i]) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        hash = (hash ^ (uint8_t)(id >> (8 * i))) * 1099511628211ULL;
    return hash;
}

void gateway_metrics_latency_sent(gateway_metrics_latency_t *latency, const uint8_t *client_id,
                                  size_t client_id_size, uint64_t id) {
    if (!latency->slots)
        latency->slots =
            (gateway_metrics_timed_t *)zmalloc(CA_METRICS_TIMED * sizeof(gateway_metrics_timed_t));
    uint64_t key = s_key(client_id, client_id_size, id);
    gateway_metrics_timed_t *slot = &latency->slots[key % CA_METRICS_TIMED];
    int64_t now = zclock_usecs();
    if (slot->at_us && now - slot->at_us < STALE_US)
        return; //  taken: this one goes untimed
    slot->key = key;
    slot->at_us = now;
}

//  The id of a packed Response: field 1 (a varint), written first; 0 when
//  absent, as the request's.
static uint64_t s_response_id(const uint8_t *data, size_t size) {
    if (size < 2 || data[0] != 0x08)
        return 0;
    uint64_t id = 0;
    for (size_t i = 1; i < size && i <= 10; i++) {
        id |= (uint64_t)(data[i] & 0x7f) << (7 * (i - 1));
        if (!(data[i] & 0x80))
            return id;
    }
    return 0;
}

void gateway_metrics_latency_answered(gateway_metrics_latency_t *latency, const uint8_t *client_id,
                                      size_t client_id_size, const uint8_t *response,
                                      size_t response_size) {
    if (!latency->slots)
        return;
    uint64_t key = s_key(client_id, client_id_size, s_response_id(response, response_size));
    gateway_metrics_timed_t *slot = &latency->slots[key % CA_METRICS_TIMED];
    if (!slot->at_us || slot->key != key)
        return;
    int64_t took = zclock_usecs() - slot->at_us;
    uint64_t us = took > 0 ? (uint64_t)took : 0;
    slot->at_us = 0;
    size_t b = 0;
    while (b < GATEWAY_METRICS_BUCKETS && us > s_buckets[b].us)
        b++;
    latency->buckets[b]++;
    latency->count++;
    latency->sum_us += us;
}

void gateway_metrics_latency_free(gateway_metrics_latency_t *latency) {
    free(latency->slots);
    latency->slots = NULL;
}

//  ---- rendering ----------------------------------------------------------

typedef struct {
    char *data;
    size_t size, capacity;
} text_t;

static void s_put(text_t *text, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void s_put(text_t *text, const char *format, ...) {
    va_list args;
    va_start(args, format);
    char *line = zsys_vprintf(format, args);
    va_end(args);
    size_t length = strlen(line);
    if (text->size + length + 1 > text->capacity) {
        text->capacity = (text->size + length + 1) * 2;
        text->data = (char *)realloc(text->data, text->capacity);
        assert(text->data);
    }
    memcpy(text->data + text->size, line, length + 1);
    text->size += length;
    zstr_free(&line);
}

static void s_family(text_t *text, const char *name, const char *type, const char *help) {
    s_put(text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_one(text_t *text, const char *name, const char *type, const char *help,
                  uint64_t value) {
    s_family(text, name, type, help);
    s_put(text, "%s %" PRIu64 "\n", name, value);
}

//  One sample per pool of the figure at `offset` in gateway_metrics_pool_t.
static void s_per_pool(text_t *text, const gateway_metrics_figures_t *f, const char *name,
                       const char *type, const char *help, size_t offset) {
    s_family(text, name, type, help);
    for (size_t i = 0; i < f->pool_count; i++) {
        uint64_t value = *(const uint64_t *)((const char *)&f->pools[i] + offset);
        s_put(text, "%s{store=\"%s\"} %" PRIu64 "\n", name, f->pools[i].name, value);
    }
}

char *gateway_metrics_render(const gateway_metrics_figures_t *f, size_t *size) {
    text_t text = {0};
    s_one(&text, "cairn_uptime_seconds", "gauge", "Seconds since the node started.", f->uptime_s);
    s_one(&text, "cairn_client_frames_total", "counter", "Frames received on the client endpoint.",
          f->frames);
    s_one(&text, "cairn_client_invalid_total", "counter", "Frames the gateway answered INVALID.",
          f->invalid);
    s_one(&text, "cairn_client_connections", "gauge", "Client connections open.", f->clients);
    s_one(&text, "cairn_client_connections_refused_total", "counter",
          "Client connections closed at accept because max_clients were open.", f->clients_refused);
    s_one(&text, "cairn_db_bytes", "gauge", "Size of cairn.db.", f->db_bytes);
    s_one(&text, "cairn_wal_bytes", "gauge", "Size of cairn.db-wal.", f->wal_bytes);
    s_family(&text, "cairn_store_workers", "gauge", "Workers serving the store.");
    for (size_t i = 0; i < f->pool_count; i++)
        s_put(&text, "cairn_store_workers{store=\"%s\"} %u\n", f->pools[i].name,
              f->pools[i].workers);
    s_per_pool(&text, f, "cairn_store_requests_total", "counter", "Requests routed to the store.",
               offsetof(gateway_metrics_pool_t, requests));
    s_per_pool(&text, f, "cairn_store_errors_total", "counter",
               "Answers with a status other than OK (BUSY included).",
               offsetof(gateway_metrics_pool_t, errors));
    s_per_pool(&text, f, "cairn_store_busy_total", "counter", "Answers BUSY.",
               offsetof(gateway_metrics_pool_t, busy));
    s_per_pool(&text, f, "cairn_store_queue_depth", "gauge", "Requests routed and not answered.",
               offsetof(gateway_metrics_pool_t, queue_depth));
    s_family(&text, "cairn_store_latency_seconds", "histogram",
             "Time from routing a request to its answer (sampled, see ARCHITECTURE.md).");
    for (size_t i = 0; i < f->pool_count; i++) {
        const gateway_metrics_pool_t *pool = &f->pools[i];
        gateway_metrics_latency_t none = {0};
        const gateway_metrics_latency_t *latency = pool->latency ? pool->latency : &none;
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= GATEWAY_METRICS_BUCKETS; b++) {
            cumulative += latency->buckets[b];
            s_put(&text, "cairn_store_latency_seconds_bucket{store=\"%s\",le=\"%s\"} %" PRIu64 "\n",
                  pool->name, b < GATEWAY_METRICS_BUCKETS ? s_buckets[b].le : "+Inf", cumulative);
        }
        s_put(&text, "cairn_store_latency_seconds_sum{store=\"%s\"} %.6f\n", pool->name,
              (double)latency->sum_us / 1e6);
        s_put(&text, "cairn_store_latency_seconds_count{store=\"%s\"} %" PRIu64 "\n", pool->name,
              latency->count);
    }
    if (f->writer) {
        const Cairn__WriterInfo *w = f->writer;
        s_one(&text, "cairn_writer_batches_total", "counter", "Transactions the writer committed.",
              w->batches);
        s_one(&text, "cairn_writer_writes_total", "counter", "Writes committed or failed.",
              w->writes);
        s_one(&text, "cairn_writer_failed_writes_total", "counter",
              "Writes answered with an error.", w->failed_writes);
        s_one(&text, "cairn_writer_failed_commits_total", "counter",
              "COMMITs that failed (I/O, disk full).", w->failed_commits);
        s_one(&text, "cairn_writer_queue_depth", "gauge",
              "Writes waiting when the last batch began.", w->queue_depth);
        s_family(&text, "cairn_writer_mean_batch_size", "gauge", "Writes per committed batch.");
        s_put(&text, "cairn_writer_mean_batch_size %.3f\n", w->mean_batch_size);
    }
    *size = text.size;
    return text.data;
}

//  ---- self-test ----------------------------------------------------------
//
//  The HTTP side against a real STREAM socket over loopback tcp, spoken by
//  a test STREAM socket as the client; the rest of the gateway is in
//  gateway.c's test and e2e.metrics.

#define TEST_TIMEOUT_MS 5000

//  Whether `answer` is a whole HTTP answer (its head and Content-Length
//  bytes of body).
static bool s_test_complete(const char *answer) {
    const char *end = strstr(answer, "\r\n\r\n");
    const char *length = strstr(answer, "Content-Length: ");
    return end && length && strlen(end + 4) >= strtoul(length + 16, NULL, 10);
}

//  Sends `request` as a client on a new connection to `endpoint`, serves
//  it, answers waiting scrapes with "ok\n", and returns the answer once it
//  is whole (caller frees); then the client closes.
static char *s_test_exchange(gateway_metrics_t *self, const char *endpoint, const char *request) {
    zsock_t *client = zsock_new(ZMQ_STREAM);
    int rc = zsock_connect(client, "%s", endpoint);
    assert(rc == 0);
    zsock_set_rcvtimeo(client, TEST_TIMEOUT_MS);
    zmsg_t *hello = zmsg_recv(client); //  connected: [id][]
    assert(hello && zmsg_size(hello) == 2);
    zframe_t *id = zframe_dup(zmsg_first(hello));
    zmsg_destroy(&hello);
    zframe_t *id_copy = zframe_dup(id);
    zframe_send(&id_copy, client, ZFRAME_MORE);
    zstr_send(client, request);
    char *answer = strdup("");
    zpoller_t *poller = zpoller_new(gateway_metrics_socket(self), client, NULL);
    int64_t deadline = zclock_mono() + TEST_TIMEOUT_MS;
    bool complete = false;
    while (!complete && zclock_mono() < deadline) {
        void *which = zpoller_wait(poller, 100);
        if (which == gateway_metrics_socket(self)) {
            if (gateway_metrics_handle(self))
                gateway_metrics_answer(self, "ok\n", 3);
        } else if (which == client) {
            zmsg_t *msg = zmsg_recv(client);
            zframe_t *data = zmsg_last(msg);
            assert(zframe_size(data) > 0); //  not closed before the answer
            char *more = zframe_strdup(data);
            char *joined = zsys_sprintf("%s%s", answer, more);
            zstr_free(&more);
            zstr_free(&answer);
            answer = joined;
            complete = s_test_complete(answer);
            zmsg_destroy(&msg);
        }
    }
    assert(complete);
    zpoller_destroy(&poller);
    zframe_destroy(&id);
    zsock_destroy(&client);
    return answer;
}

static void s_test_expect(gateway_metrics_t *self, const char *endpoint, const char *request,
                          const char *fragment) {
    char *answer = s_test_exchange(self, endpoint, request);
    if (!strstr(answer, fragment)) {
        printf("request %s answered %s\n", request, answer);
        assert(false);
    }
    zstr_free(&answer);
}

void gateway_metrics_test(bool verbose) {
    if (verbose)
        printf(" * gateway_metrics: ");
    char *error = NULL;
    assert(!gateway_metrics_new("tcp://no-such-host-x:1", &error) && error);
    zstr_free(&error);
    gateway_metrics_t *self = gateway_metrics_new("tcp://127.0.0.1:*", &error);
    assert(self);
    char *endpoint = gateway_metrics_endpoint(self);
    s_test_expect(self, endpoint, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4");
    s_test_expect(self, endpoint, "GET /metrics?x=1 HTTP/1.0\n\n", "Content-Length: 3\r\n");
    s_test_expect(self, endpoint, "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 ");
    s_test_expect(self, endpoint, "POST /metrics HTTP/1.1\r\n\r\n", "Allow: GET");
    s_test_expect(self, endpoint, "hello\r\n\r\n", "HTTP/1.1 400 ");
    s_test_expect(self, endpoint, "GET /metrics SPDY/3\r\n\r\n", "HTTP/1.1 400 ");
    s_test_expect(self, endpoint, "GET  /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ");
    char big[CA_METRICS_REQUEST_MAX + 64];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s_test_expect(self, endpoint, big, "HTTP/1.1 431 ");
    zstr_free(&endpoint);
    //  Every connection was forgotten once closed.
    int64_t deadline = zclock_mono() + TEST_TIMEOUT_MS;
    while (gateway_metrics_open(self) && zclock_mono() < deadline) {
        zpoller_t *poller = zpoller_new(gateway_metrics_socket(self), NULL);
        if (zpoller_wait(poller, 100))
            gateway_metrics_handle(self);
        zpoller_destroy(&poller);
    }
    assert(gateway_metrics_open(self) == 0 && gateway_metrics_next_ms(self) == -1);
    gateway_metrics_destroy(&self);
    gateway_metrics_destroy(&self);

    //  Latency: a request timed from sent to answered, in the right bucket.
    gateway_metrics_latency_t latency = {0};
    uint8_t response[] = {0x08, 0x96, 0x01}; //  id 150
    gateway_metrics_latency_answered(&latency, (const uint8_t *)"c", 1, response, 3);
    assert(latency.count == 0);
    gateway_metrics_latency_sent(&latency, (const uint8_t *)"c", 1, 150);
    gateway_metrics_latency_answered(&latency, (const uint8_t *)"d", 1, response, 3);
    assert(latency.count == 0);
    gateway_metrics_latency_answered(&latency, (const uint8_t *)"c", 1, response, 3);
    assert(latency.count == 1 && latency.buckets[GATEWAY_METRICS_BUCKETS] == 0);
    gateway_metrics_latency_answered(&latency, (const uint8_t *)"c", 1, response, 3);
    assert(latency.count == 1);

    gateway_metrics_pool_t pool = {.name = "kv", .workers = 2, .requests = 7, .latency = &latency};
    Cairn__WriterInfo writer = CAIRN__WRITER_INFO__INIT;
    writer.batches = 3;
    gateway_metrics_figures_t figures = {.pools = &pool, .pool_count = 1, .writer = &writer};
    size_t size = 0;
    char *text = gateway_metrics_render(&figures, &size);
    assert(size == strlen(text));
    assert(strstr(text, "cairn_store_requests_total{store=\"kv\"} 7\n"));
    assert(strstr(text, "cairn_store_latency_seconds_bucket{store=\"kv\",le=\"+Inf\"} 1\n"));
    assert(strstr(text, "cairn_writer_batches_total 3\n"));
    free(text);
    gateway_metrics_latency_free(&latency);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    gateway_clients - what each client of the gateway may hold at once

    The gateway reads every client's requests and hands answers to one
    ROUTER socket. Without bounds, one client can take a whole store pool's
    queue (others get BUSY), and a client that never reads makes libzmq
    keep every answer for it in memory until it disconnects. This class
    keeps, per client routing id:

        in_flight[pool]  requests routed to a pool and not yet answered;
                         admit() refuses (BUSY) beyond the pool's share
                         (half the pool's queue, so one client cannot
                         fill it) and beyond in_flight_max in all
        queued           bytes of answers handed to the ROUTER that libzmq
                         has not yet written to the client's connection

    ZeroMQ does not report a peer's queued bytes, so each counted answer is
    sent as a zero-copy message over the answer frame's own bytes, whose
    free function (run by libzmq's I/O thread once the bytes are written
    out, or the peer is gone) destroys the frame and takes its size off the
    client's and the node's counters (atomics: the only state shared with
    the I/O thread; a record lives while the table or a message refers to
    it). An answer that would take a client past answer_bytes_max (unless
    none of its answers is queued), or the node past answers_bytes_max, is
    dropped and replaced by a short BUSY that says so. A client whose
    queued bytes are over its budget gets BUSY for new requests.

    Answers up to CA_ANSWER_UNCOUNTED_BYTES (Pongs, statuses of writes,
    errors) go as they are: counting them cost a fifth of the pipelined
    Ping rate (a record, a copy and an allocation per answer), and the
    socket's CA_CLIENT_SNDHWM messages already bound them per client.

    Records are keyed by the routing id's bytes, made on first use and
    forgotten when nothing is in flight or queued (checked on use and by a
    sweep every CA_CLIENT_SWEEP calls), so the table holds only clients
    that have something outstanding.
    ========================================================================= */

#include "gateway_clients.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#define CA_CLIENT_SWEEP 1024

typedef struct {
    atomic_int refs;
    atomic_llong queued;
} total_t;

typedef struct {
    atomic_int refs;
    atomic_llong queued;
    total_t *total;
    size_t in_flight;
    bool warned; //  a dropped answer was logged for this client
    size_t pool_in_flight[];
} client_t;

//  The hint of a counted answer: whose it is, and the frame it points into.
typedef struct {
    client_t *client;
    size_t size;
    zframe_t *frame;
} answer_head_t;

//  A table key: a routing id's length, then its bytes (ZeroMQ ids are 1 to
//  255 bytes).
typedef struct {
    uint8_t size;
    uint8_t bytes[255];
} client_key_t;

struct _gateway_clients_t {
    zhashx_t *table; //  client_key_t -> client_t (one reference)
    total_t *total;
    size_t pool_count;
    size_t *pool_share;
    gateway_clients_limits_t limits;
    size_t calls; //  since the last sweep
};

static void s_total_unref(total_t *total) {
    if (atomic_fetch_sub(&total->refs, 1) == 1)
        free(total);
}

static void s_client_unref(client_t *client) {
    if (atomic_fetch_sub(&client->refs, 1) == 1) {
        s_total_unref(client->total);
        free(client);
    }
}

//  ---- the table's keys ------------------------------------------------------------

static void s_table_destructor(void **item) {
    s_client_unref((client_t *)*item);
    *item = NULL;
}

static void s_key_destructor(void **key) {
    free(*key);
    *key = NULL;
}

static void *s_key_duplicator(const void *key) {
    const client_key_t *source = (const client_key_t *)key;
    size_t size = 1 + source->size;
    void *copy = malloc(size);
    if (copy)
        memcpy(copy, source, size);
    return copy;
}

static int s_key_comparator(const void *a, const void *b) {
    const client_key_t *left = (const client_key_t *)a;
    const client_key_t *right = (const client_key_t *)b;
    if (left->size != right->size)
        return left->size < right->size ? -1 : 1;
    return memcmp(left->bytes, right->bytes, left->size);
}

//  FNV-1a over the id's bytes: ids are short and mostly counters.
static size_t s_key_hasher(const void *key) {
    const client_key_t *client_key = (const client_key_t *)key;
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < client_key->size; i++) {
        hash ^= client_key->bytes[i];
        hash *= 1099511628211ULL;
    }
    return (size_t)hash;
}

static void s_key(zframe_t *client_id, client_key_t *key) {
    size_t size = zframe_size(client_id);
    key->size = (uint8_t)(size < sizeof key->bytes ? size : sizeof key->bytes);
    memcpy(key->bytes, zframe_data(client_id), key->size);
}

//  The routing id in hex, for a log line.
static void s_key_hex(const client_key_t *key, char *hex, size_t hex_size) {
    static const char digits[] = "0123456789abcdef";
    size_t at = 0;
    for (size_t i = 0; i < key->size && at + 2 < hex_size; i++) {
        hex[at++] = digits[key->bytes[i] >> 4];
        hex[at++] = digits[key->bytes[i] & 15];
    }
    hex[at] = 0;
}

//  ---- the table --------------------------------------------------------------------

gateway_clients_t *gateway_clients_new(size_t pool_count, const size_t *pool_share,
                                       const gateway_clients_limits_t *limits) {
    gateway_clients_t *self = (gateway_clients_t *)zmalloc(sizeof(gateway_clients_t));
    self->table = zhashx_new();
    zhashx_set_destructor(self->table, s_table_destructor);
    zhashx_set_key_destructor(self->table, s_key_destructor);
    zhashx_set_key_duplicator(self->table, s_key_duplicator);
    zhashx_set_key_comparator(self->table, s_key_comparator);
    zhashx_set_key_hasher(self->table, s_key_hasher);
    self->total = (total_t *)zmalloc(sizeof(total_t));
    atomic_init(&self->total->refs, 1);
    atomic_init(&self->total->queued, 0);
    self->pool_count = pool_count;
    self->pool_share = (size_t *)zmalloc((pool_count ? pool_count : 1) * sizeof(size_t));
    if (pool_count)
        memcpy(self->pool_share, pool_share, pool_count * sizeof(size_t));
    self->limits = *limits;
    return self;
}

void gateway_clients_destroy(gateway_clients_t **self_p) {
    gateway_clients_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->table);
    s_total_unref(self->total); //  answers still queued keep it alive
    free(self->pool_share);
    free(self);
    *self_p = NULL;
}

static client_t *s_client(gateway_clients_t *self, const client_key_t *key) {
    client_t *client = (client_t *)zhashx_lookup(self->table, key);
    if (client)
        return client;
    client = (client_t *)zmalloc(sizeof(client_t) + self->pool_count * sizeof(size_t));
    atomic_init(&client->refs, 1);
    atomic_init(&client->queued, 0);
    client->total = self->total;
    atomic_fetch_add(&self->total->refs, 1);
    zhashx_insert(self->table, key, client);
    return client;
}

static void s_forget_if_idle(gateway_clients_t *self, const void *key, client_t *client) {
    if (client->in_flight == 0 && atomic_load(&client->queued) == 0)
        zhashx_delete(self->table, key);
}

static void s_sweep(gateway_clients_t *self) {
    if (++self->calls < CA_CLIENT_SWEEP)
        return;
    self->calls = 0;
    zlistx_t *keys = zhashx_keys(self->table);
    for (const void *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        client_t *client = (client_t *)zhashx_lookup(self->table, key);
        if (client)
            s_forget_if_idle(self, key, client);
    }
    zlistx_destroy(&keys);
}

//  ---- requests in flight -------------------------------------------------------------

bool gateway_clients_admit(gateway_clients_t *self, zframe_t *client_id, size_t pool, char *message,
                           size_t message_size) {
    s_sweep(self);
    client_key_t key;
    s_key(client_id, &key);
    client_t *client = s_client(self, &key);
    long long queued = atomic_load(&client->queued);
    bool admitted = false;
    if (client->in_flight >= self->limits.in_flight_max)
        snprintf(message, message_size,
                 "too many requests in flight from this client (%zu, at most %zu): read your "
                 "answers before sending more",
                 client->in_flight, self->limits.in_flight_max);
    else if (pool < self->pool_count && client->pool_in_flight[pool] >= self->pool_share[pool])
        snprintf(message, message_size,
                 "this client has %zu requests in flight to this store, its share of the "
                 "store's queue: read your answers before sending more",
                 client->pool_in_flight[pool]);
    else if (queued > self->limits.answer_bytes_max)
        snprintf(message, message_size,
                 "%lld bytes of answers to this client are unread (at most %" PRId64
                 "): read your answers before sending more",
                 queued, self->limits.answer_bytes_max);
    else {
        client->in_flight++;
        if (pool < self->pool_count)
            client->pool_in_flight[pool]++;
        admitted = true;
    }
    if (!admitted)
        s_forget_if_idle(self, &key, client);
    return admitted;
}

void gateway_clients_answered(gateway_clients_t *self, zframe_t *client_id, size_t pool) {
    client_key_t key;
    s_key(client_id, &key);
    client_t *client = (client_t *)zhashx_lookup(self->table, &key);
    if (!client)
        return;
    if (client->in_flight)
        client->in_flight--;
    if (pool < self->pool_count && client->pool_in_flight[pool])
        client->pool_in_flight[pool]--;
    s_forget_if_idle(self, &key, client);
}

//  ---- answers ----------------------------------------------------------------------

//  Sends [client id][frame] and destroys the frame, whatever happens: the
//  ROUTER drops a message for a peer that is gone or over its HWM (never
//  blocks).
static void s_send_plain(zsock_t *socket, zframe_t *client_id, zframe_t **frame_p) {
    zframe_t *id = client_id;
    if (zframe_send(&id, socket, ZFRAME_REUSE | ZFRAME_MORE | ZFRAME_DONTWAIT) != 0 ||
        zframe_send(frame_p, socket, ZFRAME_DONTWAIT) != 0)
        zframe_destroy(frame_p);
}

//  libzmq is done with an answer: written out, or its peer is gone.
static void s_answer_free(void *data, void *hint) {
    (void)data;
    answer_head_t *head = (answer_head_t *)hint;
    client_t *client = head->client;
    atomic_fetch_sub(&client->queued, (long long)head->size);
    atomic_fetch_sub(&client->total->queued, (long long)head->size);
    s_client_unref(client);
    zframe_destroy(&head->frame);
    free(head);
}

//  Sends the frame as a message over its own bytes, counted against
//  `client` until libzmq frees it; takes the frame.
static void s_send_counted(zsock_t *socket, client_t *client, zframe_t *client_id,
                           zframe_t **frame_p) {
    answer_head_t *head = (answer_head_t *)malloc(sizeof(answer_head_t));
    if (!head) {
        ca_log_error("gateway: no memory to send an answer of %zu bytes; dropped",
                     zframe_size(*frame_p));
        zframe_destroy(frame_p);
        return;
    }
    head->frame = *frame_p;
    *frame_p = NULL;
    head->client = client;
    head->size = zframe_size(head->frame);
    atomic_fetch_add(&client->refs, 1);
    atomic_fetch_add(&client->queued, (long long)head->size);
    atomic_fetch_add(&client->total->queued, (long long)head->size);
    zmq_msg_t msg;
    if (zmq_msg_init_data(&msg, zframe_data(head->frame), head->size, s_answer_free, head) != 0) {
        s_answer_free(NULL, head);
        return;
    }
    //  Dropped or sent, libzmq closes the message and s_answer_free runs.
    zframe_t *id = client_id;
    if (zframe_send(&id, socket, ZFRAME_REUSE | ZFRAME_MORE | ZFRAME_DONTWAIT) != 0 ||
        zmq_msg_send(&msg, zsock_resolve(socket), ZMQ_DONTWAIT) == -1)
        zmq_msg_close(&msg);
}

//  The request id of a Response frame: protobuf-c writes field 1 first.
static uint64_t s_response_id(zframe_t *response) {
    const uint8_t *data = zframe_data(response);
    size_t size = zframe_size(response);
    uint64_t id = 0;
    if (size < 2 || data[0] != 0x08)
        return 0;
    for (size_t i = 1, shift = 0; i < size && i < 11; i++, shift += 7) {
        id |= (uint64_t)(data[i] & 0x7f) << shift;
        if (!(data[i] & 0x80))
            break;
    }
    return id;
}

bool gateway_clients_send(gateway_clients_t *self, zsock_t *socket, zframe_t *client_id,
                          zframe_t **response_p) {
    long long size = (long long)zframe_size(*response_p);
    if (size <= CA_ANSWER_UNCOUNTED_BYTES) {
        s_send_plain(socket, client_id, response_p);
        return true;
    }
    s_sweep(self);
    client_key_t key;
    s_key(client_id, &key);
    client_t *client = s_client(self, &key);
    long long mine = atomic_load(&client->queued);
    long long all = atomic_load(&self->total->queued);
    char message[300] = "";
    if (mine > 0 && mine + size > self->limits.answer_bytes_max)
        snprintf(message, sizeof message,
                 "an answer of %lld bytes was dropped: %lld bytes of earlier answers to this "
                 "client are unread (at most %" PRId64
                 "); read your answers, then repeat the request (it was carried out)",
                 size, mine, self->limits.answer_bytes_max);
    else if (all > 0 && all + size > self->limits.answers_bytes_max)
        snprintf(message, sizeof message,
                 "an answer of %lld bytes was dropped: the node holds %lld bytes of unread "
                 "answers (at most %" PRId64
                 "); read your answers, then repeat the request (it was carried out)",
                 size, all, self->limits.answers_bytes_max);
    if (!*message) {
        s_send_counted(socket, client, client_id, response_p);
        return true;
    }
    if (!client->warned) {
        char hex[2 * sizeof key.bytes + 1];
        s_key_hex(&key, hex, sizeof hex);
        ca_log_warning("gateway: client %s reads too slowly: %s", hex, message);
    }
    client->warned = true;
    zframe_t *busy = ca_error_frame(s_response_id(*response_p), CA_BUSY, "%s", message);
    zframe_destroy(response_p);
    s_send_plain(socket, client_id, &busy);
    return false;
}

void gateway_clients_set_limits(gateway_clients_t *self, const gateway_clients_limits_t *limits) {
    self->limits = *limits;
}

int64_t gateway_clients_queued(gateway_clients_t *self) {
    return (int64_t)atomic_load(&self->total->queued);
}

//  ---- self-test -------------------------------------------------------------------

void gateway_clients_test(bool verbose) {
    if (verbose)
        printf(" * gateway_clients: ");
    size_t share[2] = {2, 100};
    gateway_clients_limits_t limits = {
        .in_flight_max = 3, .answer_bytes_max = 100000, .answers_bytes_max = 150000};
    gateway_clients_t *self = gateway_clients_new(2, share, &limits);
    zframe_t *a = zframe_new("\0A", 2);
    zframe_t *b = zframe_new("\0B", 2);
    char message[300];
    //  Per pool share, then the total.
    assert(gateway_clients_admit(self, a, 0, message, sizeof message));
    assert(gateway_clients_admit(self, a, 0, message, sizeof message));
    assert(!gateway_clients_admit(self, a, 0, message, sizeof message));
    assert(strstr(message, "its share"));
    assert(gateway_clients_admit(self, b, 0, message, sizeof message)); //  b has its own
    assert(gateway_clients_admit(self, a, 1, message, sizeof message));
    assert(!gateway_clients_admit(self, a, 1, message, sizeof message));
    assert(strstr(message, "too many requests in flight"));
    gateway_clients_answered(self, a, 0);
    assert(gateway_clients_admit(self, a, 1, message, sizeof message));
    gateway_clients_answered(self, b, 0);
    gateway_clients_answered(self, b, 0); //  twice: no underflow
    //  Answers to a peer that is not connected are dropped by the ROUTER
    //  and their bytes given back at once.
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zframe_t *big = zframe_new(NULL, 60000);
    memset(zframe_data(big), 0, 60000);
    assert(gateway_clients_send(self, router, a, &big));
    assert(big == NULL); //  taken
    assert(gateway_clients_queued(self) == 0);
    //  A real peer that does not read: bytes stay counted, budgets apply.
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    zsock_set_identity(peer, "peer-c");
    int rc = zsock_bind(router, "inproc://gateway-clients-test");
    assert(rc == 0);
    rc = zsock_connect(peer, "inproc://gateway-clients-test");
    assert(rc == 0);
    zstr_send(peer, "hello");
    zmsg_t *hello = zmsg_recv(router);
    zframe_t *c = zframe_dup(zmsg_first(hello));
    zmsg_destroy(&hello);
    //  Small answers go uncounted.
    zframe_t *small = zframe_new(NULL, CA_ANSWER_UNCOUNTED_BYTES);
    memset(zframe_data(small), 7, CA_ANSWER_UNCOUNTED_BYTES);
    assert(gateway_clients_send(self, router, c, &small));
    assert(small == NULL && gateway_clients_queued(self) == 0);
    //  One answer goes whatever its size when none is queued; then the
    //  client is over its budget: new requests and large answers refused.
    zframe_t *huge = zframe_new(NULL, 150000);
    memset(zframe_data(huge), 0, 150000);
    assert(gateway_clients_send(self, router, c, &huge));
    assert(gateway_clients_queued(self) == 150000);
    assert(!gateway_clients_admit(self, c, 0, message, sizeof message));
    assert(strstr(message, "bytes of answers to this client are unread"));
    big = zframe_new(NULL, 60000);
    memset(zframe_data(big), 0, 60000);
    assert(!gateway_clients_send(self, router, c, &big)); //  past its 100,000
    assert(big == NULL);
    zframe_t *got = zframe_recv(peer);
    assert(zframe_size(got) == CA_ANSWER_UNCOUNTED_BYTES && zframe_data(got)[0] == 7);
    zframe_destroy(&got);
    got = zframe_recv(peer);
    assert(zframe_size(got) == 150000);
    zframe_destroy(&got);
    got = zframe_recv(peer);
    Cairn__Response *response = cairn__response__unpack(NULL, zframe_size(got), zframe_data(got));
    assert(response && response->status == CAIRN__STATUS__BUSY);
    assert(strstr(response->error, "read your answers"));
    cairn__response__free_unpacked(response, NULL);
    zframe_destroy(&got);
    assert(gateway_clients_queued(self) == 0); //  read: given back
    assert(gateway_clients_admit(self, c, 0, message, sizeof message));
    zframe_destroy(&a);
    zframe_destroy(&b);
    zframe_destroy(&c);
    zsock_destroy(&peer);
    zsock_destroy(&router);
    gateway_clients_destroy(&self);
    gateway_clients_destroy(&self); //  safe twice
    if (verbose)
        printf("OK\n");
}

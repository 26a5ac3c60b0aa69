/*  =========================================================================
    gateway_connections - counts the client endpoint's connections and
    closes those beyond max_clients

    Why: every connection holds a descriptor from its accept on, whether it
    ever speaks or not. libzmq 4.3.4 has no accept limit, and when the
    descriptors run out its I/O thread retries accept() at once, forever
    (~0.9 of a core), while the node's own files (SQLite, blobs) fail to
    open. A cap below the descriptor limit keeps accept() succeeding and
    leaves the node its files.

    How: zmq_socket_monitor on the client ROUTER, asking only for
    ZMQ_EVENT_ACCEPTED and ZMQ_EVENT_DISCONNECTED (stable API; both carry
    the connection's descriptor). libzmq emits ACCEPTED for every accepted
    TCP connection, before any byte of its handshake, and DISCONNECTED when
    the engine of that connection fails for any reason (EOF, error,
    handshake timeout or refusal, an oversized frame), before it closes the
    descriptor. So ACCEPTED minus DISCONNECTED is the number of connections
    holding a descriptor, and for one descriptor the events always come in
    the order ACCEPTED, DISCONNECTED, (reuse) ACCEPTED, ...

        ACCEPTED fd:     open < max  -> open++
                         else        -> shutdown(fd, SHUT_RDWR), refused++,
                                        fd marked "refusing"
        DISCONNECTED fd: fd refusing -> unmark
                         else        -> open--

    shutdown() rather than close(): the descriptor stays libzmq's. Its I/O
    thread reads EOF, drops the connection, emits DISCONNECTED and closes
    the descriptor itself; the peer reads EOF at once.

    Why not ZAP: libzmq 4.3.4 does call the ZAP handler for NULL when a ZAP
    domain is set, but only once a greeting arrived; a connection that never
    speaks holds its descriptor for the whole handshake timeout (30 s) and
    ZAP never hears of it. Descriptors are used at accept, so the count
    starts there. (ZMQ_ROUTER_NOTIFY, which would say it on the ROUTER
    itself, is draft-only in 4.3.4.)

    The descriptor-reuse race: the events arrive late. Between libzmq's
    DISCONNECTED for a descriptor and our reading of its ACCEPTED, libzmq
    may have closed it and the number may serve something else. shutdown()
    only acts on sockets, and we check first that the descriptor is a
    connected (not listening) TCP socket on the client endpoint's port (a
    Unix socket for an ipc:// endpoint); so
    the worst case is that we cut another client connection accepted within
    that window, while the node is over its cap. That client's DEALER
    reconnects; the counts stay right (events pair per descriptor, and the
    "refusing" mark is cleared by the first DISCONNECTED). SQLite files,
    blob files, eventfds and pipes are never touched (ENOTSOCK).

    The monitor's pipe is unbounded (our PAIR's RCVHWM is 0): libzmq sends
    monitor events blocking from its I/O thread, so a bounded pipe would
    stall every client connection when the gateway falls behind. An event is
    two small frames per connection made; the gateway reads them in bursts.
    ========================================================================= */

#include "gateway_connections.h"
#include "ca_store.h"
#include "ca_limits.h"
#include "ca_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct _gateway_connections_t {
    zsock_t *client;   //  the monitored ROUTER (not ours)
    zsock_t *monitor;  //  PAIR, receives the events
    size_t max;        //  0: no cap
    size_t open;       //  let in, not yet disconnected
    uint64_t refused;  //  since start
    uint8_t *refusing; //  by descriptor: 1 = shut, its DISCONNECTED pending
    size_t refusing_size;
    uint64_t refused_since_warning;
    int64_t warned_at; //  zclock_mono of the last warning (0: never)
};

gateway_connections_t *gateway_connections_new(zsock_t *client, size_t max_clients) {
    gateway_connections_t *self = (gateway_connections_t *)zmalloc(sizeof *self);
    self->client = client;
    self->max = max_clients;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://cairn-gateway-connections-%p", (void *)self);
    if (zmq_socket_monitor(zsock_resolve(client), endpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
        free(self);
        return NULL;
    }
    self->monitor = zsock_new(ZMQ_PAIR);
    if (self->monitor) {
        zsock_set_rcvhwm(self->monitor, 0); //  see the essay: never stall libzmq
        if (zsock_connect(self->monitor, "%s", endpoint) != 0)
            zsock_destroy(&self->monitor);
    }
    if (!self->monitor) {
        zmq_socket_monitor(zsock_resolve(client), NULL, 0);
        free(self);
        return NULL;
    }
    return self;
}

void gateway_connections_destroy(gateway_connections_t **self_p) {
    gateway_connections_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor(zsock_resolve(self->client), NULL, 0);
    zsock_destroy(&self->monitor);
    free(self->refusing);
    free(self);
    *self_p = NULL;
}

zsock_t *gateway_connections_socket(gateway_connections_t *self) {
    return self->monitor;
}

size_t gateway_connections_open(gateway_connections_t *self) {
    return self->open;
}

uint64_t gateway_connections_refused(gateway_connections_t *self) {
    return self->refused;
}

size_t gateway_connections_max(gateway_connections_t *self) {
    return self->max;
}

void gateway_connections_set_max(gateway_connections_t *self, size_t max_clients) {
    self->max = max_clients;
}

static bool s_is_refusing(gateway_connections_t *self, int fd) {
    return fd >= 0 && (size_t)fd < self->refusing_size && self->refusing[fd];
}

//  Marks fd as shut; false when the mark cannot be kept (out of memory),
//  then the connection is counted as open instead, never lost.
static bool s_mark_refusing(gateway_connections_t *self, int fd) {
    if (fd < 0 || fd > CA_MAX_CLIENTS * 4)
        return false; //  not a descriptor libzmq would report: counted, never shut
    if ((size_t)fd >= self->refusing_size) {
        size_t size = self->refusing_size ? self->refusing_size : 1024;
        while (size <= (size_t)fd)
            size *= 2;
        uint8_t *grown = (uint8_t *)realloc(self->refusing, size);
        if (!grown)
            return false;
        memset(grown + self->refusing_size, 0, size - self->refusing_size);
        self->refusing = grown;
        self->refusing_size = size;
    }
    self->refusing[fd] = 1;
    return true;
}

//  The port of a tcp endpoint text ("tcp://127.0.0.1:7401"), 0 if none.
static int s_endpoint_port(const char *endpoint) {
    const char *colon = endpoint ? strrchr(endpoint, ':') : NULL;
    return colon ? atoi(colon + 1) : 0;
}

//  True when fd is still a connected socket of the client endpoint (see the
//  essay on descriptor reuse): TCP on the endpoint's port, or a Unix socket
//  when the endpoint is ipc://. Then shutting it can only cut a client.
static bool s_is_client_connection(int fd, const char *endpoint) {
    int listening = 0;
    socklen_t length = sizeof listening;
    if (!endpoint || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 ||
        listening)
        return false;
    struct sockaddr_storage address;
    length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0)
        return false;
    int port = s_endpoint_port(endpoint);
    if (address.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&address)->sin_port) == port;
    if (address.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&address)->sin6_port) == port;
    if (address.ss_family == AF_UNIX)
        return strncmp(endpoint, "ipc://", 6) == 0;
    return false;
}

static void s_warn(gateway_connections_t *self) {
    int64_t now = zclock_mono();
    if (self->warned_at && now - self->warned_at < CA_CLIENTS_WARN_MS)
        return;
    ca_log_warning("gateway: closed %" PRIu64 " connection(s) over max_clients (%zu open, %zu "
                   "allowed, %" PRIu64 " closed since start); raise --max-clients if they are "
                   "genuine, else find who opens them",
                   self->refused_since_warning, self->open, self->max, self->refused);
    self->warned_at = now;
    self->refused_since_warning = 0;
}

static void s_accepted(gateway_connections_t *self, int fd, const char *endpoint) {
    if (!self->max || self->open < self->max || !s_mark_refusing(self, fd)) {
        self->open++;
        return;
    }
    if (s_is_client_connection(fd, endpoint))
        shutdown(fd, SHUT_RDWR);
    self->refused++;
    self->refused_since_warning++;
    s_warn(self);
}

static void s_disconnected(gateway_connections_t *self, int fd) {
    if (s_is_refusing(self, fd))
        self->refusing[fd] = 0;
    else if (self->open)
        self->open--;
}

void gateway_connections_handle(gateway_connections_t *self) {
    zmsg_t *msg;
    for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->monitor)); n++) {
        zframe_t *event = zmsg_first(msg);
        char *endpoint = zmsg_size(msg) == 2 ? zframe_strdup(zmsg_next(msg)) : NULL;
        if (zframe_size(event) == 6) {
            //  Version 1 events: uint16 event, uint32 value (the descriptor),
            //  in host order.
            uint16_t kind;
            uint32_t value;
            memcpy(&kind, zframe_data(event), 2);
            memcpy(&value, zframe_data(event) + 2, 4);
            if (kind == ZMQ_EVENT_ACCEPTED)
                s_accepted(self, (int)value, endpoint);
            else if (kind == ZMQ_EVENT_DISCONNECTED)
                s_disconnected(self, (int)value);
        }
        zstr_free(&endpoint);
        zmsg_destroy(&msg);
    }
    if (self->refused_since_warning)
        s_warn(self);
}

//  ---- self-test -------------------------------------------------------------------
//
//  A ROUTER with a cap of 2 and raw TCP connections: the third is shut (it
//  reads EOF), the counts follow connects and closes, and a connection made
//  once one closed is let in again. Every wait has a deadline.

#include <assert.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#define TEST_TIMEOUT_MS 5000

//  Handles events until open/refused reach the wanted figures.
static void s_test_wait(gateway_connections_t *self, size_t open, uint64_t refused) {
    int64_t deadline = zclock_mono() + TEST_TIMEOUT_MS;
    while ((self->open != open || self->refused != refused) && zclock_mono() < deadline) {
        zsock_t *monitor = gateway_connections_socket(self);
        zpoller_t *poller = zpoller_new(monitor, NULL);
        zpoller_wait(poller, 50);
        zpoller_destroy(&poller);
        gateway_connections_handle(self);
    }
    assert(self->open == open && self->refused == refused);
}

//  A blocking TCP connection to 127.0.0.1:port.
static int s_test_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&address, sizeof address);
    assert(rc == 0);
    (void)rc;
    return fd;
}

//  True when fd reads EOF (or a reset) within the deadline, after whatever
//  libzmq sent first (its greeting).
static bool s_test_reads_eof(int fd) {
    int64_t deadline = zclock_mono() + TEST_TIMEOUT_MS;
    for (int reads = 0; reads < 1000 && zclock_mono() < deadline; reads++) {
        struct pollfd item = {fd, POLLIN, 0};
        if (poll(&item, 1, (int)(deadline - zclock_mono())) != 1)
            return false;
        char bytes[256];
        if (read(fd, bytes, sizeof bytes) <= 0)
            return true;
    }
    return false;
}

void gateway_connections_test(bool verbose) {
    if (verbose)
        printf(" * gateway_connections: ");
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert(router);
    gateway_connections_t *self = gateway_connections_new(router, 2);
    assert(self && gateway_connections_max(self) == 2);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(port > 0);

    int first = s_test_connect(port), second = s_test_connect(port);
    s_test_wait(self, 2, 0);
    int third = s_test_connect(port);
    s_test_wait(self, 2, 1);
    assert(s_test_reads_eof(third));
    close(third);
    //  The refused one's DISCONNECTED does not lower the count.
    s_test_wait(self, 2, 1);

    //  One leaves: the next one is let in, and the one after is not.
    close(first);
    s_test_wait(self, 1, 1);
    int fourth = s_test_connect(port);
    s_test_wait(self, 2, 1);
    int fifth = s_test_connect(port);
    s_test_wait(self, 2, 2);
    assert(s_test_reads_eof(fifth));
    close(fifth);
    close(second);
    close(fourth);
    s_test_wait(self, 0, 2);

    //  Helpers: ports of endpoint texts; a non-socket is never a client.
    assert(s_endpoint_port("tcp://127.0.0.1:7401") == 7401);
    assert(s_endpoint_port(NULL) == 0);
    int pipe_fds[2];
    assert(pipe(pipe_fds) == 0);
    assert(!s_is_client_connection(pipe_fds[0], "tcp://127.0.0.1:1"));
    close(pipe_fds[0]);
    close(pipe_fds[1]);

    //  No cap: only counted.
    gateway_connections_destroy(&self);
    gateway_connections_destroy(&self);
    zsock_destroy(&router);
    router = zsock_new(ZMQ_ROUTER);
    self = gateway_connections_new(router, 0);
    assert(self);
    port = zsock_bind(router, "tcp://127.0.0.1:*");
    int many[5];
    for (int i = 0; i < 5; i++)
        many[i] = s_test_connect(port);
    s_test_wait(self, 5, 0);
    for (int i = 0; i < 5; i++)
        close(many[i]);
    s_test_wait(self, 0, 0);
    gateway_connections_destroy(&self);
    zsock_destroy(&router);

    //  ipc: Unix sockets are capped the same way.
    router = zsock_new(ZMQ_ROUTER);
    self = gateway_connections_new(router, 1);
    assert(self);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cairn-gwconn-%d.ipc", (int)getpid());
    int rc = zsock_bind(router, "ipc://%s", path);
    assert(rc == 0);
    (void)rc;
    int unix_fds[2];
    for (int i = 0; i < 2; i++) {
        unix_fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
        rc = connect(unix_fds[i], (struct sockaddr *)&address, sizeof address);
        assert(rc == 0);
        s_test_wait(self, 1, (uint64_t)i);
    }
    assert(s_test_reads_eof(unix_fds[1]));
    close(unix_fds[0]);
    close(unix_fds[1]);
    s_test_wait(self, 0, 1);
    gateway_connections_destroy(&self);
    zsock_destroy(&router);
    unlink(path);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    connection - the `cairn` client's connection to a node

    One DEALER socket connected to the client endpoint, one packed
    cairn.Request per frame. Requests carry ids from a random start, one
    up per request, so that a run may pipeline several (content put/get
    keep a window in flight) and match each answer to its request by id;
    answers that come before they are asked for wait in a small stash.
    Every wait has a deadline (the --timeout, per answer): a node that is
    down or wedged costs at most that, never a hang, and is reported as
    "unreachable" (exit 3). A socket monitor ends the wait at once when
    nothing listens at the endpoint (the connection was refused before one
    ever opened) or the node ended the CURVE handshake (a key it does not
    accept): also "unreachable", with that reason.

    An answer must be OK and of the kind that was asked: a request and its
    answer share the body field number (schemas/envelope.proto), so a body of
    another kind means client and node speak different API versions. Each
    request sent is also checked against the sends list of the command
    that runs (cli.h): a row that sends a kind it does not declare is a
    programming error, caught by the e2e tests that run it.
    ========================================================================= */

#include "ca_curve_key.h"
#include "ca_limits.h"
#include "ca_status.h"
#include "cli.h"

#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---- talking to the node --------------------------------------------------------------------

//  Answers kept for a later cli_receive (pipelined requests may be
//  answered in any order); further early answers are dropped.
#define CLI_STASH_MAX 32

struct cli_conn_s {
    const cli_t *cli;
    zsock_t *dealer;
    zsock_t *monitor; //  PAIR: the dealer's connection events
    bool connected;   //  a connection opened once
    bool handshaken;  //  ... and its handshake succeeded
    const char *gone; //  why the node cannot be reached, when known before the timeout
    zpoller_t *poller;
    uint64_t next_id; //  random start, then one up per request
    Cairn__Response *stash[CLI_STASH_MAX];
    size_t stashed;
};

typedef enum { CALL_OK, CALL_TIMEOUT, CALL_GARBLED } call_result_t;

#define MONITOR_EVENTS                                                                             \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |                    \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                        \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

//  A PAIR receiving `dealer`'s connection events; NULL when it cannot be
//  made (the waits then rely on the timeout alone).
static zsock_t *s_monitor_new(zsock_t *dealer) {
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://cairn-cli-monitor-%p", (void *)dealer);
    if (zmq_socket_monitor(zsock_resolve(dealer), endpoint, MONITOR_EVENTS) != 0)
        return NULL;
    zsock_t *monitor = zsock_new(ZMQ_PAIR);
    if (monitor && zsock_connect(monitor, "%s", endpoint) != 0)
        zsock_destroy(&monitor);
    return monitor;
}

static void s_monitor_stop(zsock_t *dealer, zsock_t **monitor_p) {
    if (*monitor_p)
        zmq_socket_monitor(zsock_resolve(dealer), NULL, 0);
    zsock_destroy(monitor_p);
}

//  One event of the monitor: sets `connected`, `handshaken` or `gone`.
static void s_monitor_event(cli_conn_t *self) {
    zmsg_t *msg = zmsg_recv(self->monitor);
    zframe_t *first = msg ? zmsg_first(msg) : NULL;
    if (first && zframe_size(first) >= 2) {
        uint16_t event;
        memcpy(&event, zframe_data(first), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED)
            self->connected = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->handshaken = true;
        else if (event == ZMQ_EVENT_CONNECT_RETRIED && !self->connected)
            self->gone = "the connection was refused: nothing listens there";
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                 (event == ZMQ_EVENT_DISCONNECTED && self->connected && !self->handshaken &&
                  self->cli->client_key))
            self->gone = "the node ended the CURVE handshake: this client key is not on its "
                         "allow-list (DATA_DIR/curve/clients), or --server-key is not the "
                         "node's key";
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            self->gone = self->cli->client_key
                             ? "the handshake failed: is the node's key --server-key, and does "
                               "it speak CURVE?"
                             : "the handshake failed: does the node want CURVE (--client-key, "
                               "--server-key)?";
    }
    zmsg_destroy(&msg);
}

cli_conn_t *cli_conn_new(const cli_t *cli, int *exit_code) {
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer) {
        *exit_code = cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                      "cannot create a ZeroMQ socket", CLI_EXIT_NODE_ERROR);
        return NULL;
    }
    zsock_set_linger(dealer, 0);
    if (cli->client_key) {
        uint8_t server_public[CA_CURVE_KEY_BYTES];
        ca_curve_key_t key;
        char *error = NULL;
        if (ca_curve_public_parse(cli->server_key, server_public) != 0) {
            zsock_destroy(&dealer);
            *exit_code = cli_usage_error(cli, "--server-key wants the node's public key: 40 Z85 "
                                              "characters or 64 hex digits (cairnd server-key)");
            return NULL;
        }
        if (ca_curve_key_load(cli->client_key, &key, &error) != 0) {
            zsock_destroy(&dealer);
            *exit_code = cli_report_error(cli, "io", error, CLI_EXIT_NODE_ERROR);
            free(error);
            return NULL;
        }
        ca_curve_key_apply_client(&key, server_public, dealer);
        ca_curve_key_wipe(&key);
    }
    //  Before the connect, so that no event of the first attempt is missed.
    zsock_t *monitor = s_monitor_new(dealer);
    if (zsock_connect(dealer, "%s", cli->endpoint) != 0) {
        s_monitor_stop(dealer, &monitor);
        zsock_destroy(&dealer);
        *exit_code =
            cli_usage_error(cli, "cannot use endpoint '%s' (%s); expected e.g. %s", cli->endpoint,
                            zmq_strerror(zmq_errno()), CA_DEFAULT_CLIENT_ENDPOINT);
        return NULL;
    }
    cli_conn_t *self = (cli_conn_t *)calloc(1, sizeof *self);
    zpoller_t *poller = self ? zpoller_new(dealer, NULL) : NULL;
    if (!poller) {
        free(self);
        s_monitor_stop(dealer, &monitor);
        zsock_destroy(&dealer);
        *exit_code = cli_report_error(cli, "INTERNAL", "out of memory", CLI_EXIT_NODE_ERROR);
        return NULL;
    }
    self->cli = cli;
    self->dealer = dealer;
    self->poller = poller;
    self->monitor = monitor;
    if (monitor)
        zpoller_add(poller, monitor);
    randombytes_buf(&self->next_id, sizeof self->next_id);
    return self;
}

void cli_conn_destroy(cli_conn_t **self_p) {
    cli_conn_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->stashed; i++)
        cairn__response__free_unpacked(self->stash[i], NULL);
    zpoller_destroy(&self->poller);
    s_monitor_stop(self->dealer, &self->monitor);
    zsock_destroy(&self->dealer);
    free(self);
    *self_p = NULL;
}

//  Takes the stashed answer with `id`, or NULL.
static Cairn__Response *s_conn_unstash(cli_conn_t *self, uint64_t id) {
    for (size_t i = 0; i < self->stashed; i++)
        if (self->stash[i]->id == id) {
            Cairn__Response *response = self->stash[i];
            self->stash[i] = self->stash[--self->stashed];
            return response;
        }
    return NULL;
}

//  Waits until `deadline` (zclock_mono) for the Response with `id`; others
//  are stashed while there is room. *response_p is the caller's to free.
static call_result_t s_conn_await(cli_conn_t *self, uint64_t id, int64_t deadline,
                                  Cairn__Response **response_p) {
    *response_p = s_conn_unstash(self, id);
    int64_t remaining;
    while (!*response_p && !self->gone && (remaining = deadline - zclock_mono()) > 0) {
        void *which = zpoller_wait(self->poller, (int)remaining);
        if (which && which == self->monitor) {
            s_monitor_event(self);
            continue;
        }
        if (which != self->dealer)
            break;
        zframe_t *frame = zframe_recv(self->dealer);
        if (!frame)
            break;
        Cairn__Response *response =
            cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        if (!response)
            return CALL_GARBLED;
        if (response->id == id)
            *response_p = response;
        else if (self->stashed < CLI_STASH_MAX)
            self->stash[self->stashed++] = response;
        else
            cairn__response__free_unpacked(response, NULL);
    }
    return *response_p ? CALL_OK : CALL_TIMEOUT;
}

int cli_await_next(cli_conn_t *conn, int64_t deadline, Cairn__Response **response_p) {
    *response_p = NULL;
    if (conn->stashed) {
        *response_p = conn->stash[0];
        memmove(conn->stash, conn->stash + 1, --conn->stashed * sizeof conn->stash[0]);
        return 1;
    }
    int64_t remaining;
    while (!conn->gone && (remaining = deadline - zclock_mono()) > 0) {
        void *which = zpoller_wait(conn->poller, (int)remaining);
        if (which && which == conn->monitor) {
            s_monitor_event(conn);
            continue;
        }
        if (which != conn->dealer)
            return 0;
        zframe_t *frame = zframe_recv(conn->dealer);
        if (!frame)
            return 0;
        *response_p = cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        return *response_p ? 1 : -1;
    }
    return 0;
}

static int s_report_unreachable(const cli_conn_t *conn) {
    const cli_t *cli = conn->cli;
    char message[512];
    if (conn->gone) {
        snprintf(message, sizeof message, "%s: %s; is cairnd running there? (--endpoint, %s)",
                 cli->endpoint, conn->gone, CLI_ENDPOINT_ENV);
        return cli_report_error(cli, "unreachable", message, CLI_EXIT_UNREACHABLE);
    }
    snprintf(message, sizeof message,
             "no answer from %s within %d ms; is cairnd running there? "
             "(--endpoint, %s, --timeout)%s",
             cli->endpoint, cli->timeout_ms, CLI_ENDPOINT_ENV,
             cli->client_key ? "; with CURVE: is the client key on the node's allow-list and "
                               "--server-key the node's key?"
                             : "; a node with authentication answers only --client-key clients");
    return cli_report_error(cli, "unreachable", message, CLI_EXIT_UNREACHABLE);
}

//  The exit status for an answer that is not an OK one to a request whose
//  body was `sent` (reported), or 0.
static int s_answer_problem(const cli_t *cli, Cairn__Request__BodyCase sent,
                            const Cairn__Response *response) {
    if (response->status != CAIRN__STATUS__OK)
        return cli_report_error(cli, ca_status_str((ca_status_t)response->status),
                                response->error[0] ? response->error : "(no message)",
                                CLI_EXIT_NODE_ERROR);
    //  A request and its answer share the body field number (envelope.proto).
    if ((int)response->body_case != (int)sent)
        return cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                "the node answered with another kind of response; "
                                "client and node speak different API versions",
                                CLI_EXIT_NODE_ERROR);
    return CLI_EXIT_OK;
}

//  ---- sending and receiving (declared in cli.h) ---------------------------------------

//  True when `command` lists `kind` among the requests it sends.
static bool s_declares(const command_t *command, Cairn__Request__BodyCase kind) {
    for (int i = 0; i < CLI_SENDS_MAX && command->sends[i]; i++)
        if (command->sends[i] == kind)
            return true;
    return false;
}

//  Packs `request` under the next id and sends it without waiting; false
//  when the socket cannot queue it.
static bool s_conn_send(cli_conn_t *self, Cairn__Request *request) {
    assert(s_declares(self->cli->command, request->body_case));
    request->id = self->next_id++;
    size_t size = cairn__request__get_packed_size(request);
    //  Packed straight into the frame that libzmq takes over, so this
    //  side keeps no copy of what it may carry (a password).
    zframe_t *frame = zframe_new(NULL, size);
    if (!frame)
        return false; //  out of memory: reported as not sent
    cairn__request__pack(request, zframe_data(frame));
    //  A DEALER queues for a connecting peer; DONTWAIT only fails if it
    //  cannot (then the frame is still ours: wiped and freed).
    if (zframe_send(&frame, self->dealer, ZFRAME_DONTWAIT) == 0)
        return true;
    sodium_memzero(zframe_data(frame), size);
    zframe_destroy(&frame);
    return false;
}

int cli_send(cli_conn_t *conn, Cairn__Request *request) {
    return s_conn_send(conn, request) ? CLI_EXIT_OK : s_report_unreachable(conn);
}

int cli_receive(cli_conn_t *conn, uint64_t id, Cairn__Request__BodyCase sent,
                Cairn__Response **response_p) {
    const cli_t *cli = conn->cli;
    Cairn__Response *response = NULL;
    call_result_t result = s_conn_await(conn, id, zclock_mono() + cli->timeout_ms, &response);
    *response_p = NULL;
    if (result == CALL_GARBLED)
        return cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                "the answer is not a cairn.Response; is this a cairn node?",
                                CLI_EXIT_NODE_ERROR);
    if (result == CALL_TIMEOUT)
        return s_report_unreachable(conn);
    int exit_code = s_answer_problem(cli, sent, response);
    if (exit_code != CLI_EXIT_OK)
        cairn__response__free_unpacked(response, NULL);
    else
        *response_p = response;
    return exit_code;
}

int cli_request(cli_conn_t *conn, Cairn__Request *request, Cairn__Response **response_p) {
    *response_p = NULL;
    int exit_code = cli_send(conn, request);
    return exit_code ? exit_code : cli_receive(conn, request->id, request->body_case, response_p);
}

Cairn__Response *cli_call_quietly(cli_conn_t *conn, Cairn__Request *request) {
    Cairn__Response *response = NULL;
    if (s_conn_send(conn, request))
        s_conn_await(conn, request->id, zclock_mono() + conn->cli->timeout_ms, &response);
    return response;
}

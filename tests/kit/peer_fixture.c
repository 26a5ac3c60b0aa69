/*  =========================================================================
    peer_fixture - cairnd nodes with an identity and a peer endpoint
    ========================================================================= */

#include "peer_fixture.h"

#include <stdio.h>
#include <string.h>

void peer_node_start(peer_node_t *self, peer_node_t **bootstrap, size_t count,
                     const char *const *more) {
    memset(self, 0, sizeof *self);
    self->port = harness_free_port();
    snprintf(self->endpoint_arg, sizeof self->endpoint_arg, "--peer-endpoint=tcp://127.0.0.1:%d",
             self->port);
    size_t n = 0;
    self->args[n++] = self->endpoint_arg;
    self->args[n++] = "--peer-heartbeat-ms=" PEER_FIXTURE_BEAT_MS;
    if (count) {
        size_t at =
            (size_t)snprintf(self->bootstrap_arg, sizeof self->bootstrap_arg, "--bootstrap-peers=");
        for (size_t i = 0; i < count && at < sizeof self->bootstrap_arg; i++)
            at += (size_t)snprintf(self->bootstrap_arg + at, sizeof self->bootstrap_arg - at,
                                   "%s%s@127.0.0.1:%d", i ? "," : "",
                                   harness_node_peer_id(bootstrap[i]->node), bootstrap[i]->port);
        self->args[n++] = self->bootstrap_arg;
    }
    for (size_t i = 0; more && more[i]; i++) {
        HARNESS_CHECK(i < PEER_FIXTURE_MORE_MAX);
        self->args[n++] = more[i];
    }
    self->args[n] = NULL;
    self->node = harness_node_up_identity(self->args);
    self->client = harness_connect(harness_node_endpoint(self->node));
}

void peer_node_stop(peer_node_t *self) {
    zsock_destroy(&self->client);
    harness_node_down(&self->node);
}

void peer_node_connect(peer_node_t *self, peer_node_t *other) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__PeerConnect connect = CAIRN__PEER_CONNECT__INIT;
    request.body_case = CAIRN__REQUEST__BODY_PEER_CONNECT;
    request.peer_connect = &connect;
    connect.address = "127.0.0.1";
    connect.port = (uint32_t)other->port;
    connect.key = (char *)harness_node_peer_id(other->node);
    cairn__response__free_unpacked(
        harness_ok(harness_request(self->client, &request), CAIRN__RESPONSE__BODY_PEER_CONNECT),
        NULL);
}

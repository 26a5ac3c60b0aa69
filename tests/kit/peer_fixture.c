/*  =========================================================================
    peer_fixture - cairnd nodes with an identity and a peer endpoint
    ========================================================================= */

#include "peer_fixture.h"
#include "ca_validate.h"

#include <sodium.h>

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

Cairn__Response *peer_node_sessions(peer_node_t *self) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__PeerSessions sessions = CAIRN__PEER_SESSIONS__INIT;
    request.body_case = CAIRN__REQUEST__BODY_PEER_SESSIONS;
    request.peer_sessions = &sessions;
    return harness_ok(harness_request(self->client, &request), CAIRN__RESPONSE__BODY_PEER_SESSIONS);
}

void peer_fake_new(peer_fake_t *self) {
    memset(self, 0, sizeof *self);
    HARNESS_CHECK(sodium_init() >= 0);
    crypto_sign_keypair(self->ed_public, self->ed_secret);
    ca_hash_to_hex(self->ed_public, self->peer_id);
    HARNESS_CHECK(ca_curve_key_from_ed25519(self->ed_public, self->ed_secret, &self->curve) == 0);
}

void peer_fake_connect(peer_fake_t *self, peer_node_t *node, bool curve) {
    self->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(self->dealer, 0);
    zsock_set_maxmsgsize(self->dealer, -1);
    if (curve) {
        uint8_t ed[32];
        ca_curve_key_t server;
        HARNESS_CHECK(ca_hash_from_hex(harness_node_peer_id(node->node), ed));
        HARNESS_CHECK(ca_curve_key_from_ed25519(ed, NULL, &server) == 0);
        ca_curve_key_apply_client(&self->curve, server.public_key, self->dealer);
    }
    HARNESS_CHECK(zsock_connect(self->dealer, "tcp://127.0.0.1:%d", node->port) == 0);
}

void peer_fake_send(peer_fake_t *self, Cairn__Peer__PeerMessage *message, uint32_t version) {
    message->version = version;
    size_t size = cairn__peer__peer_message__get_packed_size(message);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__peer__peer_message__pack(message, zframe_data(frame));
    HARNESS_CHECK(zframe_send(&frame, self->dealer, 0) == 0);
}

void peer_fake_hello(peer_fake_t *self, uint32_t version, uint32_t *kinds, size_t kind_count,
                     ProtobufCBinaryData *topics, size_t topic_count) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__Hello hello = CAIRN__PEER__HELLO__INIT;
    hello.peer_id = self->peer_id;
    hello.node_name = "fake";
    hello.listen_port = 9;
    hello.kinds = kinds;
    hello.n_kinds = kind_count;
    hello.topics = topics;
    hello.n_topics = topic_count;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_HELLO;
    message.hello = &hello;
    peer_fake_send(self, &message, version);
}

Cairn__Peer__PeerMessage *peer_fake_recv(peer_fake_t *self, int timeout_ms) {
    zpoller_t *poller = zpoller_new(self->dealer, NULL);
    void *ready = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    if (!ready)
        return NULL;
    zframe_t *frame = zframe_recv(self->dealer);
    Cairn__Peer__PeerMessage *message =
        frame ? cairn__peer__peer_message__unpack(NULL, zframe_size(frame), zframe_data(frame))
              : NULL;
    zframe_destroy(&frame);
    return message;
}

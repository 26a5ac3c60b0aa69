/*  =========================================================================
    subscriptions - pushes of a channel's new messages, a topic's new
    operations and new content to subscribed clients

    The actor behind MessageSubscribe, OplogSubscribe, ContentSubscribe,
    MessageSubscribeAck and MessageUnsubscribe (schemas/messages.proto,
    oplog.proto, content.proto, docs/PROTOCOL.md
    "Subscriptions"). The gateway forwards those kinds to its ROUTER and
    passes every answer it sends back to the client, any number per request.
    ========================================================================= */

#ifndef SUBSCRIPTIONS_H_INCLUDED
#define SUBSCRIPTIONS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  The actor binds this ROUTER; the gateway's DEALER connects to it.
#define CA_SUBSCRIPTIONS_ENDPOINT "inproc://cairn-subscriptions"
//  The frame before a push the gateway could not deliver, which it sends
//  back ([client id][this][push]); a client's request is one frame after
//  its id, so it cannot pose as one.
#define CA_SUBSCRIPTIONS_DROPPED "dropped"
//  Bounds (the proto comments state them for clients).
#define CA_SUBSCRIPTIONS_PER_CLIENT  16
#define CA_SUBSCRIPTIONS_PER_NODE    1024
#define CA_SUBSCRIPTION_WINDOW       16 //  default unacknowledged pushes
#define CA_SUBSCRIPTION_WINDOW_MAX   32
#define CA_SUBSCRIPTION_LEASE_MS     30000
#define CA_SUBSCRIPTION_LEASE_MIN_MS 500
#define CA_SUBSCRIPTION_LEASE_MAX_MS 300000
#define CA_PUSH_MESSAGES_MAX         64
#define CA_PUSH_BYTES                (64 * 1024) //  then one more message at most
//  Unacknowledged pushes of all subscriptions together: with pushes of at
//  most ~128 KiB, 256 MiB (the default answer_bytes_max). Past it the
//  subscriptions wait for acknowledgements.
#define CA_SUBSCRIPTIONS_PUSHES_MAX 2048
//  How often the actor looks for commits (PRAGMA data_version) while it
//  has subscriptions.
#define CA_SUBSCRIPTIONS_POLL_MS 5
//  A topic's size (OplogSubscribe), the logbook's key size.
#define CA_TOPIC_BYTES 32

typedef struct {
    const char *db_path;  //  opened read-only
    const char *endpoint; //  NULL: CA_SUBSCRIPTIONS_ENDPOINT
} subscriptions_config_t;

//  The actor (zactor_new(subscriptions_actor, &config); then START).
void subscriptions_actor(zsock_t *pipe, void *args);

void subscriptions_test(bool verbose);

//  Whether request kind `body` is served by this actor (node self-test).
bool subscriptions_serves(uint32_t body);

#endif

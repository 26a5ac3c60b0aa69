/*  =========================================================================
    ca_push - the head of a subscription's push, whatever its kind

    MessagePush, OplogPush and ContentPush (docs/PROTOCOL.md
    "Subscriptions") carry the same fields besides their items; the node
    builds them from one ca_push_head_t, and clients (the CLI, the tests,
    the fuzz target) read them through ca_push_head without caring which
    kind a subscription is.
    ========================================================================= */

#ifndef CA_PUSH_H_INCLUDED
#define CA_PUSH_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t subscription_id;
    uint64_t cursor; //  the position of the last item (see the .proto)
    uint64_t after;  //  the previous push's cursor
    bool ended;
    const char *reason; //  NULL or "" unless ended
    size_t items;       //  read only: the items the push holds
} ca_push_head_t;

//  Whether `response` is a push (any kind), and its head into *head.
bool ca_push_head(const Cairn__Response *response, ca_push_head_t *head);

#endif

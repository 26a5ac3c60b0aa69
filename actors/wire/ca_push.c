/*  =========================================================================
    ca_push - the head of a subscription's push, whatever its kind
    ========================================================================= */

#include "ca_push.h"

#define HEAD_OF(push, items_field)                                                                 \
    do {                                                                                           \
        head->subscription_id = (push)->subscription_id;                                           \
        head->cursor = (push)->cursor;                                                             \
        head->after = (push)->after;                                                               \
        head->ended = (push)->ended;                                                               \
        head->reason = (push)->reason;                                                             \
        head->items = (push)->n_##items_field;                                                     \
    } while (0)

bool ca_push_head(const Cairn__Response *response, ca_push_head_t *head) {
    if (response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE)
        HEAD_OF(response->message_subscribe, messages);
    else if (response->body_case == CAIRN__RESPONSE__BODY_OPLOG_SUBSCRIBE)
        HEAD_OF(response->oplog_subscribe, ops);
    else if (response->body_case == CAIRN__RESPONSE__BODY_CONTENT_SUBSCRIBE)
        HEAD_OF(response->content_subscribe, arrivals);
    else
        return false;
    return true;
}

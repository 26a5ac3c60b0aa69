/*  =========================================================================
    subscriptions - pushes of a channel's new messages to subscribed clients

    What it owns: a ROUTER (CA_SUBSCRIPTIONS_ENDPOINT) that the gateway's
    subscriptions DEALER connects to, a read-only SQLite connection, and the
    table of subscriptions: per subscription the client (gateway socket id +
    client routing id), the subscribe request's id, the channel, the cursor
    (seq of the last message pushed), the cursors of the pushes not yet
    acknowledged (at most `window`), and when the lease ends.

        request                 answer (each [gw id][client id][Response])
        MessageSubscribe        MessagePush (set up), then pushes, then ended
        MessageSubscribeAck     MessageSubscribeAcked (credit)
        MessageUnsubscribe      MessageUnsubscribed (after the last push)

    Why it polls the table rather than being told by the writer: every
    message that commits, from a client, a batch or a peer's gossip, is a
    row with a larger `seq` (one writer, so seqs grow in commit order and a
    read sees a prefix of them). `PRAGMA data_version` on this connection
    changes when another connection commits, which costs one cheap
    statement per CA_SUBSCRIPTIONS_POLL_MS while any subscription exists;
    only then does it read `seq > cursor` for the subscriptions with credit.
    The writer and the stores stay unchanged, and a restart needs no state:
    the client's cursor is all there is to resume from.

    Why credit instead of a queue: the messages already wait in the table,
    so a subscriber that falls behind costs the node nothing but its
    cursor; at most `window` pushes of it are in the gateway's socket. A
    client that stops acknowledging (gone, or not reading) is ended when its
    lease runs out, with a final push naming the cursor to resume from.
    ========================================================================= */

#include "subscriptions.h"
#include "ca_clock.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_sql.h"
#include "ca_store.h"
#include "messages_schema.h"
#include "cairn.pb-c.h"

#include <inttypes.h>
#include <string.h>

typedef struct {
    uint64_t id;          //  the subscription's, node-wide
    zframe_t *gateway_id; //  routing id of the gateway socket it came on
    zframe_t *client_id;
    uint64_t request_id; //  of the MessageSubscribe: every push carries it
    char *channel;
    uint64_t cursor;   //  seq of the last message pushed
    uint64_t acked;    //  the last acknowledged cursor
    uint64_t *unacked; //  cursors of the pushes in flight, oldest first
    size_t in_flight;
    size_t window;
    int64_t lease_ms;
    int64_t lease_end;
    bool dirty; //  there may be messages to push
} sub_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zpoller_t *poller;
    bool terminated;
    subscriptions_config_t config; //  strings copied
    ca_sql_t *sql;
    sub_t **subs;
    size_t count;
    uint64_t next_id;
    int64_t data_version;
    size_t pushes; //  unacknowledged, all subscriptions (CA_SUBSCRIPTIONS_PUSHES_MAX)
} self_t;

bool subscriptions_serves(uint32_t body) {
    return body == CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE ||
           body == CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK ||
           body == CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
}

static void s_sub_destroy(sub_t **sub_p) {
    sub_t *sub = *sub_p;
    if (!sub)
        return;
    zframe_destroy(&sub->gateway_id);
    zframe_destroy(&sub->client_id);
    free(sub->channel);
    free(sub->unacked);
    free(sub);
    *sub_p = NULL;
}

//  Forgets subscription `index` and its unacknowledged pushes.
static void s_remove(self_t *self, size_t index) {
    self->pushes -= self->subs[index]->in_flight;
    s_sub_destroy(&self->subs[index]);
    self->subs[index] = self->subs[--self->count];
}

//  ---- answers -----------------------------------------------------------------

//  Sends [gw id][client id][response]; takes the response.
static void s_send(self_t *self, zframe_t *gateway_id, zframe_t *client_id, zframe_t **response_p) {
    if (!*response_p)
        return;
    zframe_t *frames[] = {gateway_id, client_id, *response_p};
    if (ca_send_frames(self->router, frames, 3) != 0)
        ca_log_warning("subscriptions: an answer to the gateway was dropped");
    zframe_destroy(response_p);
}

static void s_send_error(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                         ca_status_t status, const char *message) {
    zframe_t *frame = ca_error_frame(id, status, "%s", message);
    s_send(self, gateway_id, client_id, &frame);
}

static void s_send_push(self_t *self, sub_t *sub, Cairn__MessagePush *push) {
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = sub->request_id;
    response.body_case = CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE;
    response.message_subscribe = push;
    zframe_t *frame = ca_message_frame_try(&response.base);
    if (!frame)
        frame =
            ca_error_frame(sub->request_id, CA_INTERNAL,
                           "the node is out of memory; resume from cursor %" PRIu64, sub->acked);
    s_send(self, sub->gateway_id, sub->client_id, &frame);
}

//  Ends subscription `index` with a final push saying why.
static void s_end(self_t *self, size_t index, const char *why) {
    sub_t *sub = self->subs[index];
    char reason[300];
    snprintf(reason, sizeof reason, "%s; resume from cursor %" PRIu64, why, sub->acked);
    Cairn__MessagePush push = CAIRN__MESSAGE_PUSH__INIT;
    push.subscription_id = sub->id;
    push.cursor = sub->acked;
    push.after = sub->cursor;
    push.ended = true;
    push.reason = reason;
    s_send_push(self, sub, &push);
    ca_log_info("subscriptions: %" PRIu64 " on %s ended: %s", sub->id, sub->channel, reason);
    s_remove(self, index);
}

//  ---- pushing -------------------------------------------------------------------

//  One push of `sub`'s next messages: true when one was sent. Each row is
//  copied out (packed and decoded) before the statement moves on.
static bool s_push_once(self_t *self, sub_t *sub) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT " MESSAGES_ROW_COLUMNS
                                                   " FROM messages WHERE seq > ?1 AND channel = ?2 "
                                                   "ORDER BY seq LIMIT ?3");
    if (!stmt) {
        ca_log_error("subscriptions: %s", sqlite3_errmsg(ca_sql_handle(self->sql)));
        return false;
    }
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)sub->cursor);
    sqlite3_bind_text(stmt, 2, sub->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, CA_PUSH_MESSAGES_MAX);
    Cairn__SubscribedMessage items[CA_PUSH_MESSAGES_MAX];
    Cairn__SubscribedMessage *pointers[CA_PUSH_MESSAGES_MAX];
    size_t count = 0, bytes = 0;
    bool failed = false;
    while (count < CA_PUSH_MESSAGES_MAX && bytes < CA_PUSH_BYTES &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        Cairn__Message row;
        messages_schema_row(stmt, &row);
        zframe_t *packed = ca_message_frame_try(&row.base);
        Cairn__Message *copy =
            packed ? cairn__message__unpack(NULL, zframe_size(packed), zframe_data(packed)) : NULL;
        bytes += packed ? zframe_size(packed) : 0;
        zframe_destroy(&packed);
        if (!copy) {
            failed = true; //  out of memory: try again at the next tick
            break;
        }
        cairn__subscribed_message__init(&items[count]);
        items[count].seq = (uint64_t)sqlite3_column_int64(stmt, 0);
        items[count].message = copy;
        pointers[count] = &items[count];
        count++;
    }
    sqlite3_reset(stmt);
    if (count > 0) {
        Cairn__MessagePush push = CAIRN__MESSAGE_PUSH__INIT;
        push.subscription_id = sub->id;
        push.messages = pointers;
        push.n_messages = count;
        push.cursor = items[count - 1].seq;
        push.after = sub->cursor;
        s_send_push(self, sub, &push);
        sub->cursor = push.cursor;
        sub->unacked[sub->in_flight++] = push.cursor;
        self->pushes++;
    }
    for (size_t i = 0; i < count; i++)
        cairn__message__free_unpacked(items[i].message, NULL);
    //  A short page: caught up until the next commit.
    if (failed || (count < CA_PUSH_MESSAGES_MAX && bytes < CA_PUSH_BYTES))
        sub->dirty = false;
    return count > 0 && sub->dirty;
}

static void s_push_all(self_t *self) {
    for (size_t i = 0; i < self->count; i++) {
        sub_t *sub = self->subs[i];
        //  Bounded: each push moves the cursor, credit is at most window.
        while (sub->dirty && sub->in_flight < sub->window &&
               self->pushes < CA_SUBSCRIPTIONS_PUSHES_MAX && s_push_once(self, sub))
            ;
    }
}

//  Whether anything committed since the last look.
static bool s_committed(self_t *self) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "PRAGMA data_version");
    if (!stmt)
        return false;
    int64_t version = self->data_version;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    bool changed = version != self->data_version;
    self->data_version = version;
    return changed;
}

static void s_tick(self_t *self) {
    int64_t now = zclock_mono();
    for (size_t i = self->count; i-- > 0;)
        if (now >= self->subs[i]->lease_end)
            s_end(self, i,
                  "no MessageSubscribeAck within lease_ms (the client is gone or does "
                  "not read)");
    if (s_committed(self))
        for (size_t i = 0; i < self->count; i++)
            self->subs[i]->dirty = true;
    s_push_all(self);
}

//  ---- requests --------------------------------------------------------------------

static sub_t *s_find(self_t *self, zframe_t *client_id, uint64_t id, size_t *index_p) {
    for (size_t i = 0; i < self->count; i++)
        if (self->subs[i]->id == id && zframe_eq(self->subs[i]->client_id, client_id)) {
            *index_p = i;
            return self->subs[i];
        }
    return NULL;
}

static bool s_channel_exists(self_t *self, const char *channel, bool *exists) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT 1 FROM channels WHERE name = ?1");
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *exists = rc == SQLITE_ROW;
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static bool s_newest(self_t *self, uint64_t *newest) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT coalesce(max(seq), 0) FROM messages");
    if (!stmt)
        return false;
    bool ok = sqlite3_step(stmt) == SQLITE_ROW;
    if (ok)
        *newest = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return ok;
}

static void s_subscribe(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                        const Cairn__MessageSubscribe *request) {
    char message[300];
    size_t mine = 0;
    for (size_t i = 0; i < self->count; i++)
        mine += zframe_eq(self->subs[i]->client_id, client_id);
    bool exists = false;
    uint64_t newest = 0;
    uint32_t window = request->window ? request->window : CA_SUBSCRIPTION_WINDOW;
    uint32_t lease = request->lease_ms ? request->lease_ms : CA_SUBSCRIPTION_LEASE_MS;
    if (!*request->channel) {
        s_send_error(self, gateway_id, client_id, id, CA_INVALID,
                     "MessageSubscribe needs a channel");
        return;
    }
    if (request->from_now && request->after_seq) {
        s_send_error(self, gateway_id, client_id, id, CA_INVALID,
                     "give after_seq or from_now, not both");
        return;
    }
    if (window > CA_SUBSCRIPTION_WINDOW_MAX || lease < CA_SUBSCRIPTION_LEASE_MIN_MS ||
        lease > CA_SUBSCRIPTION_LEASE_MAX_MS) {
        snprintf(message, sizeof message,
                 "window must be 1..%d and lease_ms %d..%d (0: the defaults %d and %d)",
                 CA_SUBSCRIPTION_WINDOW_MAX, CA_SUBSCRIPTION_LEASE_MIN_MS,
                 CA_SUBSCRIPTION_LEASE_MAX_MS, CA_SUBSCRIPTION_WINDOW, CA_SUBSCRIPTION_LEASE_MS);
        s_send_error(self, gateway_id, client_id, id, CA_INVALID, message);
        return;
    }
    if (mine >= CA_SUBSCRIPTIONS_PER_CLIENT || self->count >= CA_SUBSCRIPTIONS_PER_NODE) {
        snprintf(message, sizeof message,
                 "%s has %zu subscriptions, the most it may have: unsubscribe some "
                 "(MessageUnsubscribe) or retry later",
                 mine >= CA_SUBSCRIPTIONS_PER_CLIENT ? "this connection" : "the node",
                 mine >= CA_SUBSCRIPTIONS_PER_CLIENT ? mine : self->count);
        s_send_error(self, gateway_id, client_id, id, CA_BUSY, message);
        return;
    }
    if (!s_channel_exists(self, request->channel, &exists) || !s_newest(self, &newest)) {
        s_send_error(self, gateway_id, client_id, id, CA_INTERNAL,
                     "the subscription could not read the database; retry later");
        return;
    }
    if (!exists) {
        snprintf(message, sizeof message,
                 "channel '%.100s' does not exist; create it first (ChannelCreate)",
                 request->channel);
        s_send_error(self, gateway_id, client_id, id, CA_NOT_FOUND, message);
        return;
    }
    if (request->after_seq > newest) {
        snprintf(message, sizeof message,
                 "after_seq %" PRIu64 " is ahead of this node's newest message (seq %" PRIu64
                 "): a cursor from another node? Subscribe with a cursor a push of this node "
                 "gave, or from_now",
                 request->after_seq, newest);
        s_send_error(self, gateway_id, client_id, id, CA_INVALID, message);
        return;
    }
    sub_t *sub = (sub_t *)zmalloc(sizeof(sub_t));
    sub->id = ++self->next_id;
    sub->gateway_id = zframe_dup(gateway_id);
    sub->client_id = zframe_dup(client_id);
    sub->request_id = id;
    sub->channel = strdup(request->channel);
    sub->cursor = request->from_now ? newest : request->after_seq;
    sub->acked = sub->cursor;
    sub->window = window;
    sub->unacked = (uint64_t *)zmalloc(window * sizeof(uint64_t));
    sub->lease_ms = lease;
    sub->lease_end = zclock_mono() + lease;
    sub->dirty = true;
    self->subs[self->count++] = sub;
    Cairn__MessagePush push = CAIRN__MESSAGE_PUSH__INIT;
    push.subscription_id = sub->id;
    push.cursor = sub->cursor;
    push.after = sub->cursor;
    s_send_push(self, sub, &push);
    s_push_all(self);
}

static void s_ack(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                  const Cairn__MessageSubscribeAck *request) {
    size_t index;
    sub_t *sub = s_find(self, client_id, request->subscription_id, &index);
    if (!sub) {
        s_send_error(self, gateway_id, client_id, id, CA_NOT_FOUND,
                     "no such subscription on this connection (it ended): subscribe again "
                     "with after_seq = your last cursor");
        return;
    }
    if (request->cursor > sub->cursor) {
        char message[200];
        snprintf(message, sizeof message,
                 "cursor %" PRIu64 " is beyond the last push sent (cursor %" PRIu64
                 "): acknowledge a cursor a push carried",
                 request->cursor, sub->cursor);
        s_send_error(self, gateway_id, client_id, id, CA_INVALID, message);
        return;
    }
    size_t done = 0;
    while (done < sub->in_flight && sub->unacked[done] <= request->cursor)
        done++;
    memmove(sub->unacked, sub->unacked + done, (sub->in_flight - done) * sizeof(uint64_t));
    sub->in_flight -= done;
    self->pushes -= done;
    if (request->cursor > sub->acked)
        sub->acked = request->cursor;
    sub->lease_end = zclock_mono() + sub->lease_ms;
    sub->dirty = true;
    Cairn__MessageSubscribeAcked acked = CAIRN__MESSAGE_SUBSCRIBE_ACKED__INIT;
    acked.credit = (uint32_t)(sub->window - sub->in_flight);
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.body_case = CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE_ACK;
    response.message_subscribe_ack = &acked;
    zframe_t *frame = ca_response_frame(&response);
    s_send(self, gateway_id, client_id, &frame);
    s_push_all(self);
}

static void s_unsubscribe(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                          const Cairn__MessageUnsubscribe *request) {
    size_t index;
    sub_t *sub = s_find(self, client_id, request->subscription_id, &index);
    if (!sub) {
        s_send_error(self, gateway_id, client_id, id, CA_NOT_FOUND,
                     "no such subscription on this connection (it has ended)");
        return;
    }
    Cairn__MessageUnsubscribed done = CAIRN__MESSAGE_UNSUBSCRIBED__INIT;
    done.cursor = sub->cursor;
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.body_case = CAIRN__RESPONSE__BODY_MESSAGE_UNSUBSCRIBE;
    response.message_unsubscribe = &done;
    zframe_t *frame = ca_response_frame(&response);
    s_send(self, gateway_id, client_id, &frame);
    s_remove(self, index);
}

//  The gateway could not hand a push to its client (the connection's queue
//  was full): [gw id][client id][the push]. The subscription has a gap now,
//  so it ends (the client also sees the gap in the next push's `after`).
static void s_handle_dropped(self_t *self, zframe_t *client_id, zframe_t *push) {
    Cairn__Response *response = cairn__response__unpack(NULL, zframe_size(push), zframe_data(push));
    uint64_t request_id = response ? response->id : 0;
    bool ended = response && response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_SUBSCRIBE &&
                 response->message_subscribe->ended;
    if (response)
        cairn__response__free_unpacked(response, NULL);
    for (size_t i = 0; !ended && i < self->count; i++)
        if (self->subs[i]->request_id == request_id &&
            zframe_eq(self->subs[i]->client_id, client_id)) {
            s_end(self, i,
                  "a push could not be delivered (the connection's queue of answers "
                  "was full: read faster)");
            return;
        }
}

//  [gw id][client id][Request] from the gateway, or a dropped push:
//  [gw id][client id][CA_SUBSCRIPTIONS_DROPPED][push].
static void s_handle_request(self_t *self, zmsg_t *msg) {
    zframe_t *gateway_id = zmsg_first(msg);
    zframe_t *client_id = zmsg_next(msg);
    zframe_t *frame = zmsg_next(msg);
    if (zmsg_size(msg) == 4 && zframe_streq(frame, CA_SUBSCRIPTIONS_DROPPED)) {
        s_handle_dropped(self, client_id, zmsg_next(msg));
        zmsg_destroy(&msg);
        return;
    }
    if (zmsg_size(msg) != 3) {
        ca_log_error("subscriptions: dropped a message of %zu frames", zmsg_size(msg));
        zmsg_destroy(&msg);
        return;
    }
    char problem[200];
    Cairn__Request *request = NULL;
    ca_envelope_t env = {0};
    const char *peek_problem = NULL;
    ca_envelope_peek_request(zframe_data(frame), zframe_size(frame), &env, &peek_problem);
    if (!ca_envelope_check_request(&cairn__request__descriptor, zframe_data(frame),
                                   zframe_size(frame), problem, sizeof problem))
        s_send_error(self, gateway_id, client_id, env.id, CA_INVALID, problem);
    else if (!(request = cairn__request__unpack(NULL, zframe_size(frame), zframe_data(frame))))
        s_send_error(self, gateway_id, client_id, env.id, CA_INVALID,
                     "the request is not a valid protobuf message");
    else if (request->body_case == CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE)
        s_subscribe(self, gateway_id, client_id, request->id, request->message_subscribe);
    else if (request->body_case == CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK)
        s_ack(self, gateway_id, client_id, request->id, request->message_subscribe_ack);
    else if (request->body_case == CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE)
        s_unsubscribe(self, gateway_id, client_id, request->id, request->message_unsubscribe);
    else
        s_send_error(self, gateway_id, client_id, request->id, CA_INTERNAL,
                     "this request kind is not served by subscriptions");
    if (request)
        cairn__request__free_unpacked(request, NULL);
    zmsg_destroy(&msg);
}

//  ---- lifecycle --------------------------------------------------------------------

static char *s_start(self_t *self) {
    char *error = NULL;
    self->sql = ca_sql_open(self->config.db_path, CA_SQL_READ_ONLY, NULL, &error);
    if (!self->sql)
        return error;
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return ca_actor_socket_error("subscriptions");
    zsock_set_sndhwm(self->router, 0); //  bounded by the windows
    if (zsock_bind(self->router, "%s", self->config.endpoint) != 0)
        return zsys_sprintf("subscriptions cannot bind %s: %s", self->config.endpoint,
                            zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->router);
    s_committed(self);
    return NULL;
}

static void s_handle_pipe(self_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else
        ca_log_error("subscriptions: unknown pipe command '%s'", command);
    zstr_free(&command);
}

void subscriptions_actor(zsock_t *pipe, void *args) {
    const subscriptions_config_t *config = (const subscriptions_config_t *)args;
    self_t *self = (self_t *)zmalloc(sizeof(self_t));
    self->pipe = pipe;
    self->config.db_path = strdup(config->db_path);
    self->config.endpoint = strdup(config->endpoint ? config->endpoint : CA_SUBSCRIPTIONS_ENDPOINT);
    self->subs = (sub_t **)zmalloc(CA_SUBSCRIPTIONS_PER_NODE * sizeof(sub_t *));
    self->poller = zpoller_new(pipe, NULL);
    zsock_signal(pipe, 0);
    int64_t next_tick = zclock_mono() + CA_SUBSCRIPTIONS_POLL_MS;
    while (!self->terminated) {
        int timeout = -1;
        if (self->count) {
            int64_t left = next_tick - zclock_mono();
            timeout = left > 0 ? (int)left : 0;
        }
        void *which = zpoller_wait(self->poller, timeout);
        if (which == pipe)
            s_handle_pipe(self);
        else if (which == self->router && self->router) {
            zmsg_t *msg;
            for (int n = 0; n < CA_SERVE_BURST && (msg = ca_recv_waiting(self->router)); n++)
                s_handle_request(self, msg);
        } else if (zpoller_terminated(self->poller))
            break;
        if (self->count && zclock_mono() >= next_tick) {
            s_tick(self);
            next_tick = zclock_mono() + CA_SUBSCRIPTIONS_POLL_MS;
        } else if (!self->count)
            next_tick = zclock_mono() + CA_SUBSCRIPTIONS_POLL_MS;
    }
    for (size_t i = 0; i < self->count; i++)
        s_sub_destroy(&self->subs[i]);
    free(self->subs);
    zpoller_destroy(&self->poller);
    if (self->router)
        zsock_unbind(self->router, "%s", self->config.endpoint);
    zsock_destroy(&self->router);
    ca_sql_destroy(&self->sql);
    free((char *)self->config.db_path);
    free((char *)self->config.endpoint);
    free(self);
}

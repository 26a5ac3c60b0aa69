/*  =========================================================================
    subscriptions - pushes of a channel's new messages, a topic's new
    operations and new content to subscribed clients

    Three kinds (kind_t) share everything but their SQL, their items and
    their push message: a channel's messages (cursor: the message's seq), a
    topic's operations (cursor: oplog_ops.id, of logs the topic has when
    the push is read) and content arrivals (cursor: content_arrivals.n).
    Each cursor grows in commit order and is never reused (the message seq
    is numbered past messages_seq_floor, the largest seq ever deleted;
    docs/PROTOCOL.md "Subscriptions").

    What it owns: a ROUTER (CA_SUBSCRIPTIONS_ENDPOINT) that the gateway's
    subscriptions DEALER connects to, a read-only SQLite connection, and the
    table of subscriptions: per subscription the client (gateway socket id +
    client routing id), the subscribe request's id, its kind and key
    (channel or topic), the cursor (position of the last item pushed), the
    read mark (positions read up to), the cursors of the pushes not yet
    acknowledged (at most `window`), and when the lease ends.

        request                 answer (each [gw id][client id][Response])
        MessageSubscribe        MessagePush (set up), then pushes, then ended
        OplogSubscribe          OplogPush, the same way
        ContentSubscribe        ContentPush, the same way
        MessageSubscribeAck     MessageSubscribeAcked (credit, any kind)
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
#include "ca_push.h"
#include "ca_sql.h"
#include "ca_store.h"
#include "messages_schema.h"
#include "ca_testbed.h"
#include "content.h"
#include "logbook.h"
#include "messages.h"
#include "oplog.h"
#include "cairn.pb-c.h"

#include <inttypes.h>
#include <string.h>

//  A kind of subscription: what differs between a channel's messages, a
//  topic's operations and content arrivals. Every page statement takes the
//  position to read after ?1, the key ?2 (when the kind has one), the limit
//  ?3 and the newest position of the read's snapshot ?4, and gives the
//  item's position (the cursor) in column 0.
typedef struct {
    const char *what; //  for logs and errors
    const char *sql_page;
    const char *sql_newest; //  the largest position ever given (0: none)
    const char *sql_exists; //  NULL: no key
    bool key_is_text;
    //  The item of the current row, malloc'd (with its packed size), or
    //  NULL when out of memory; `room` is what is left of the push's
    //  CA_PUSH_BYTES (a kind whose items can be far larger keeps within it).
    void *(*row)(sqlite3_stmt *stmt, size_t room, size_t *bytes);
    void (*item_free)(void *item);
    zframe_t *(*pack)(uint64_t request_id, const ca_push_head_t *head, void **items, size_t count);
} kind_t;

typedef struct {
    uint64_t id;          //  the subscription's, node-wide
    zframe_t *gateway_id; //  routing id of the gateway socket it came on
    zframe_t *client_id;
    uint64_t request_id; //  of the subscribe request: every push carries it
    const kind_t *kind;
    uint8_t *key; //  channel name (with a terminator) or topic; NULL: none
    size_t key_size;
    uint64_t cursor; //  position of the last item pushed
    //  Every position up to here was read (pushed or not this
    //  subscription's): the next read starts past it, so a quiet channel or
    //  topic on a busy node costs only the rows committed since, not a
    //  rescan from its last item at every commit.
    uint64_t scanned;
    uint64_t acked;    //  the last acknowledged cursor
    uint64_t *unacked; //  cursors of the pushes in flight, oldest first
    size_t in_flight;
    size_t window;
    int64_t lease_ms;
    int64_t lease_end;
    bool dirty; //  there may be items to push
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
           body == CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE ||
           body == CAIRN__REQUEST__BODY_CONTENT_SUBSCRIBE ||
           body == CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK ||
           body == CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
}

//  ---- the kinds -------------------------------------------------------------------

//  A copy of `message` in malloc'd memory (packed and decoded), or NULL.
static void *s_copy(const ProtobufCMessage *message, const ProtobufCMessageDescriptor *descriptor,
                    size_t *bytes) {
    zframe_t *packed = ca_message_frame_try(message);
    void *copy = packed ? protobuf_c_message_unpack(descriptor, NULL, zframe_size(packed),
                                                    zframe_data(packed))
                        : NULL;
    *bytes = packed ? zframe_size(packed) : 0;
    zframe_destroy(&packed);
    return copy;
}

static void s_item_free(void *item) {
    if (item)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)item, NULL);
}

static ProtobufCBinaryData s_column_blob(sqlite3_stmt *stmt, int column) {
    ProtobufCBinaryData data = {(size_t)sqlite3_column_bytes(stmt, column),
                                (uint8_t *)sqlite3_column_blob(stmt, column)};
    return data;
}

static void *s_message_row(sqlite3_stmt *stmt, size_t room, size_t *bytes) {
    //  A message is at most max_content_bytes (16 MiB at most): a push holds
    //  what fits in CA_PUSH_BYTES plus the one message that crossed it.
    (void)room;
    Cairn__SubscribedMessage item = CAIRN__SUBSCRIBED_MESSAGE__INIT;
    Cairn__Message row;
    messages_schema_row(stmt, &row);
    item.seq = (uint64_t)sqlite3_column_int64(stmt, 0);
    item.message = &row;
    return s_copy(&item.base, &cairn__subscribed_message__descriptor, bytes);
}

//  Columns: id, hash, header, body, erased. A body (up to 512 KiB) that
//  does not fit in the push's room is left out (body_left_out), so a push
//  stays near CA_PUSH_BYTES: the client reads it with OplogGet.
static void *s_op_row(sqlite3_stmt *stmt, size_t room, size_t *bytes) {
    Cairn__SubscribedOp item = CAIRN__SUBSCRIBED_OP__INIT;
    Cairn__OplogEntry entry = CAIRN__OPLOG_ENTRY__INIT;
    ProtobufCBinaryData header = s_column_blob(stmt, 2);
    item.position = (uint64_t)sqlite3_column_int64(stmt, 0);
    item.entry = &entry;
    entry.hash = s_column_blob(stmt, 1);
    entry.header = cairn__op_header__unpack(NULL, header.len, header.data);
    if (!entry.header)
        ca_log_error("subscriptions: the header of operation %" PRIu64
                     " does not decode (pushed without it); run `cairnd check`",
                     item.position);
    entry.has_body = sqlite3_column_type(stmt, 3) != SQLITE_NULL;
    entry.body = s_column_blob(stmt, 3);
    if (entry.body.len + header.len + 256 > room) {
        item.body_left_out = entry.body.len > 0;
        entry.body = (ProtobufCBinaryData){0, NULL};
    }
    entry.erased = sqlite3_column_int(stmt, 4) != 0;
    void *copy = s_copy(&item.base, &cairn__subscribed_op__descriptor, bytes);
    if (entry.header)
        cairn__op_header__free_unpacked(entry.header, NULL);
    return copy;
}

//  Columns: n, hash, size.
static void *s_arrival_row(sqlite3_stmt *stmt, size_t room, size_t *bytes) {
    (void)room;
    Cairn__ContentArrival item = CAIRN__CONTENT_ARRIVAL__INIT;
    item.position = (uint64_t)sqlite3_column_int64(stmt, 0);
    item.hash = s_column_blob(stmt, 1);
    item.size = (uint64_t)sqlite3_column_int64(stmt, 2);
    return s_copy(&item.base, &cairn__content_arrival__descriptor, bytes);
}

//  The pushes as Response frames (NULL: out of memory): MessagePush,
//  OplogPush and ContentPush have the same fields but are different C
//  types, so one macro spells the three functions.
#define PUSH_FUNCTION(name, Push, PUSH, BODY, member, items_field, Item)                           \
    static zframe_t *name(uint64_t request_id, const ca_push_head_t *head, void **items,           \
                          size_t count) {                                                          \
        Cairn__##Push push = CAIRN__##PUSH##__INIT;                                                \
        push.subscription_id = head->subscription_id;                                              \
        push.cursor = head->cursor;                                                                \
        push.after = head->after;                                                                  \
        push.ended = head->ended;                                                                  \
        push.reason = (char *)(head->reason ? head->reason : "");                                  \
        push.items_field = (Cairn__##Item **)items;                                                \
        push.n_##items_field = count;                                                              \
        Cairn__Response response = CAIRN__RESPONSE__INIT;                                          \
        response.id = request_id;                                                                  \
        response.body_case = CAIRN__RESPONSE__BODY_##BODY;                                         \
        response.member = &push;                                                                   \
        return ca_message_frame_try(&response.base);                                               \
    }

PUSH_FUNCTION(s_message_push, MessagePush, MESSAGE_PUSH, MESSAGE_SUBSCRIBE, message_subscribe,
              messages, SubscribedMessage)
PUSH_FUNCTION(s_op_push, OplogPush, OPLOG_PUSH, OPLOG_SUBSCRIBE, oplog_subscribe, ops, SubscribedOp)
PUSH_FUNCTION(s_arrival_push, ContentPush, CONTENT_PUSH, CONTENT_SUBSCRIBE, content_subscribe,
              arrivals, ContentArrival)

//  Channel messages: the cursor is the message's seq.
static const kind_t s_channel_kind = {
    .what = "channel",
    //  `+channel`: the seq range drives the scan (new rows only), never the
    //  channel's index, which would read and sort the whole channel.
    .sql_page = "SELECT " MESSAGES_ROW_COLUMNS " FROM messages"
                " WHERE seq > ?1 AND seq <= ?4 AND +channel = ?2 ORDER BY seq LIMIT ?3",
    .sql_newest = "SELECT max(coalesce((SELECT max(seq) FROM messages), 0),"
                  " coalesce((SELECT floor FROM messages_seq_floor), 0))",
    .sql_exists = "SELECT 1 FROM channels WHERE name = ?1",
    .key_is_text = true,
    .row = s_message_row,
    .item_free = s_item_free,
    .pack = s_message_push,
};

//  A topic's operations: the cursor is oplog_ops.id (never reused, see
//  oplog.c's migration 3); the logs are the topic's at the time of reading.
static const kind_t s_topic_kind = {
    .what = "topic",
    .sql_page = "SELECT o.id, o.hash, o.header, o.body, o.erased FROM oplog_ops o"
                " WHERE o.id > ?1 AND o.id <= ?4 AND EXISTS (SELECT 1 FROM logbook_topics t"
                "   WHERE t.topic = ?2 AND t.author = o.author AND t.log_id = o.log_id)"
                " ORDER BY o.id LIMIT ?3",
    .sql_newest = "SELECT coalesce(max(id), 0) FROM oplog_ops",
    .sql_exists = "SELECT 1 FROM logbook_topics WHERE topic = ?1 LIMIT 1",
    .row = s_op_row,
    .item_free = s_item_free,
    .pack = s_op_push,
};

//  Content arrivals: the cursor is content_arrivals.n (AUTOINCREMENT, so
//  the newest ever given is in sqlite_sequence even after deletes).
static const kind_t s_content_kind = {
    .what = "content",
    .sql_page = "SELECT a.n, a.hash, b.size FROM content_arrivals a"
                " JOIN content_blobs b ON b.hash = a.hash WHERE a.n > ?1 AND a.n <= ?4"
                " ORDER BY a.n LIMIT ?3",
    .sql_newest = "SELECT coalesce((SELECT seq FROM sqlite_sequence"
                  " WHERE name = 'content_arrivals'), 0)",
    .row = s_arrival_row,
    .item_free = s_item_free,
    .pack = s_arrival_push,
};

static void s_sub_destroy(sub_t **sub_p) {
    sub_t *sub = *sub_p;
    if (!sub)
        return;
    zframe_destroy(&sub->gateway_id);
    zframe_destroy(&sub->client_id);
    free(sub->key);
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

static const char *s_key_text(const sub_t *sub) {
    return sub->kind->key_is_text ? (const char *)sub->key : "";
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

static void s_send_push(self_t *self, sub_t *sub, const ca_push_head_t *head, void **items,
                        size_t count) {
    zframe_t *frame = sub->kind->pack(sub->request_id, head, items, count);
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
    ca_push_head_t head = {sub->id, sub->acked, sub->cursor, true, reason, 0};
    s_send_push(self, sub, &head, NULL, 0);
    ca_log_info("subscriptions: %" PRIu64 " (%s %s) ended: %s", sub->id, sub->kind->what,
                s_key_text(sub), reason);
    s_remove(self, index);
}

//  ---- pushing -------------------------------------------------------------------

static bool s_read_int(self_t *self, const char *sql, const sub_t *key, bool *found,
                       uint64_t *value);

//  One push of `sub`'s next items: true when one was sent and more may
//  wait. Each row is copied out before the statement moves on.
static bool s_push_once(self_t *self, sub_t *sub) {
    //  The newest position first: every item at or below it has committed
    //  (positions are given in commit order by the one writer), so a short
    //  page read up to it leaves nothing behind.
    bool found = false;
    uint64_t newest = 0;
    sqlite3_stmt *stmt = NULL;
    if (s_read_int(self, sub->kind->sql_newest, NULL, &found, &newest) && found)
        stmt = ca_sql_prepare(self->sql, sub->kind->sql_page);
    if (!stmt) {
        ca_log_error("subscriptions: %s", sqlite3_errmsg(ca_sql_handle(self->sql)));
        return false;
    }
    uint64_t after = sub->scanned > sub->cursor ? sub->scanned : sub->cursor;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)after);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)newest);
    if (sub->key && sub->kind->key_is_text)
        sqlite3_bind_text(stmt, 2, (const char *)sub->key, -1, SQLITE_STATIC);
    else if (sub->key)
        sqlite3_bind_blob(stmt, 2, sub->key, (int)sub->key_size, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, CA_PUSH_MESSAGES_MAX);
    void *items[CA_PUSH_MESSAGES_MAX];
    uint64_t last = sub->cursor;
    size_t count = 0, bytes = 0;
    bool failed = false;
    while (count < CA_PUSH_MESSAGES_MAX && bytes < CA_PUSH_BYTES &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        size_t size = 0;
        void *item = sub->kind->row(stmt, CA_PUSH_BYTES - bytes, &size);
        if (!item) {
            failed = true; //  out of memory: try again at the next tick
            break;
        }
        last = (uint64_t)sqlite3_column_int64(stmt, 0);
        bytes += size;
        items[count++] = item;
    }
    sqlite3_reset(stmt);
    if (count > 0) {
        ca_push_head_t head = {sub->id, last, sub->cursor, false, NULL, 0};
        s_send_push(self, sub, &head, items, count);
        sub->cursor = last;
        sub->unacked[sub->in_flight++] = last;
        self->pushes++;
    }
    for (size_t i = 0; i < count; i++)
        sub->kind->item_free(items[i]);
    //  A short page: caught up until the next commit, everything up to
    //  `newest` read.
    if (!failed && count < CA_PUSH_MESSAGES_MAX && bytes < CA_PUSH_BYTES && newest > after)
        sub->scanned = newest;
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

//  The first row's first column of `sql` (with `key` as ?1 when given):
//  false when the read failed; *found false when there was no row.
static bool s_read_int(self_t *self, const char *sql, const sub_t *key, bool *found,
                       uint64_t *value) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, sql);
    if (!stmt)
        return false;
    if (key && key->kind->key_is_text)
        sqlite3_bind_text(stmt, 1, (const char *)key->key, -1, SQLITE_STATIC);
    else if (key)
        sqlite3_bind_blob(stmt, 1, key->key, (int)key->key_size, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && value)
        *value = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

//  What every subscribe request asks: `wanted` carries the kind and key.
typedef struct {
    const char *request; //  its name, for errors
    uint64_t after;
    bool from_now;
    uint32_t window;
    uint32_t lease_ms;
} subscribe_t;

//  Sets up a subscription of `wanted` (kind, key: taken) or answers why
//  not; then the first push, then what is already there.
static void s_subscribe(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                        sub_t *wanted, const subscribe_t *request) {
    char message[300];
    size_t mine = 0;
    for (size_t i = 0; i < self->count; i++)
        mine += zframe_eq(self->subs[i]->client_id, client_id);
    bool exists = true, found = false;
    uint64_t newest = 0;
    uint32_t window = request->window ? request->window : CA_SUBSCRIPTION_WINDOW;
    uint32_t lease = request->lease_ms ? request->lease_ms : CA_SUBSCRIPTION_LEASE_MS;
    const char *problem = NULL;
    ca_status_t status = CA_INVALID;
    if (request->from_now && request->after) {
        snprintf(message, sizeof message, "%s: give a cursor or from_now, not both",
                 request->request);
        problem = message;
    } else if (window > CA_SUBSCRIPTION_WINDOW_MAX || lease < CA_SUBSCRIPTION_LEASE_MIN_MS ||
               lease > CA_SUBSCRIPTION_LEASE_MAX_MS) {
        snprintf(message, sizeof message,
                 "window must be 1..%d and lease_ms %d..%d (0: the defaults %d and %d)",
                 CA_SUBSCRIPTION_WINDOW_MAX, CA_SUBSCRIPTION_LEASE_MIN_MS,
                 CA_SUBSCRIPTION_LEASE_MAX_MS, CA_SUBSCRIPTION_WINDOW, CA_SUBSCRIPTION_LEASE_MS);
        problem = message;
    } else if (mine >= CA_SUBSCRIPTIONS_PER_CLIENT || self->count >= CA_SUBSCRIPTIONS_PER_NODE) {
        snprintf(message, sizeof message,
                 "%s has %zu subscriptions, the most it may have: unsubscribe some "
                 "(MessageUnsubscribe) or retry later",
                 mine >= CA_SUBSCRIPTIONS_PER_CLIENT ? "this connection" : "the node",
                 mine >= CA_SUBSCRIPTIONS_PER_CLIENT ? mine : self->count);
        problem = message;
        status = CA_BUSY;
    } else if ((wanted->kind->sql_exists &&
                !s_read_int(self, wanted->kind->sql_exists, wanted, &exists, NULL)) ||
               !s_read_int(self, wanted->kind->sql_newest, NULL, &found, &newest)) {
        problem = "the subscription could not read the database; retry later";
        status = CA_INTERNAL;
    } else if (!exists) {
        if (wanted->kind->key_is_text)
            snprintf(message, sizeof message,
                     "channel '%.100s' does not exist; create it first (ChannelCreate)",
                     (const char *)wanted->key);
        else
            snprintf(message, sizeof message,
                     "no log is associated with this topic; associate one first "
                     "(TopicAssociate)");
        problem = message;
        status = CA_NOT_FOUND;
    } else if (request->after > newest) {
        snprintf(message, sizeof message,
                 "the cursor %" PRIu64 " is ahead of this node's newest %s position (%" PRIu64
                 "): a cursor from another node? Subscribe with a cursor a push of this node "
                 "gave, or from_now",
                 request->after, wanted->kind->what, newest);
        problem = message;
    }
    if (problem) {
        s_send_error(self, gateway_id, client_id, id, status, problem);
        free(wanted->key);
        return;
    }
    sub_t *sub = (sub_t *)zmalloc(sizeof(sub_t));
    sub->id = ++self->next_id;
    sub->gateway_id = zframe_dup(gateway_id);
    sub->client_id = zframe_dup(client_id);
    sub->request_id = id;
    sub->kind = wanted->kind;
    sub->key = wanted->key;
    sub->key_size = wanted->key_size;
    sub->cursor = request->from_now ? newest : request->after;
    sub->acked = sub->cursor;
    sub->window = window;
    sub->unacked = (uint64_t *)zmalloc(window * sizeof(uint64_t));
    sub->lease_ms = lease;
    sub->lease_end = zclock_mono() + lease;
    sub->dirty = true;
    self->subs[self->count++] = sub;
    ca_push_head_t head = {sub->id, sub->cursor, sub->cursor, false, NULL, 0};
    s_send_push(self, sub, &head, NULL, 0);
    s_push_all(self);
}

static void s_subscribe_channel(self_t *self, zframe_t *gateway_id, zframe_t *client_id,
                                uint64_t id, const Cairn__MessageSubscribe *request) {
    if (!*request->channel) {
        s_send_error(self, gateway_id, client_id, id, CA_INVALID,
                     "MessageSubscribe needs a channel");
        return;
    }
    sub_t wanted = {.kind = &s_channel_kind};
    wanted.key = (uint8_t *)strdup(request->channel);
    wanted.key_size = strlen(request->channel);
    subscribe_t ask = {"MessageSubscribe", request->after_seq, request->from_now, request->window,
                       request->lease_ms};
    s_subscribe(self, gateway_id, client_id, id, &wanted, &ask);
}

static void s_subscribe_topic(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                              const Cairn__OplogSubscribe *request) {
    if (request->topic.len != CA_TOPIC_BYTES) {
        char message[200];
        snprintf(message, sizeof message,
                 "OplogSubscribe: topic is %zu bytes; send the topic's %d bytes",
                 request->topic.len, CA_TOPIC_BYTES);
        s_send_error(self, gateway_id, client_id, id, CA_INVALID, message);
        return;
    }
    sub_t wanted = {.kind = &s_topic_kind};
    wanted.key = (uint8_t *)zmalloc(CA_TOPIC_BYTES);
    memcpy(wanted.key, request->topic.data, CA_TOPIC_BYTES);
    wanted.key_size = CA_TOPIC_BYTES;
    subscribe_t ask = {"OplogSubscribe", request->after, request->from_now, request->window,
                       request->lease_ms};
    s_subscribe(self, gateway_id, client_id, id, &wanted, &ask);
}

static void s_subscribe_content(self_t *self, zframe_t *gateway_id, zframe_t *client_id,
                                uint64_t id, const Cairn__ContentSubscribe *request) {
    sub_t wanted = {.kind = &s_content_kind};
    subscribe_t ask = {"ContentSubscribe", request->after, request->from_now, request->window,
                       request->lease_ms};
    s_subscribe(self, gateway_id, client_id, id, &wanted, &ask);
}

static void s_ack(self_t *self, zframe_t *gateway_id, zframe_t *client_id, uint64_t id,
                  const Cairn__MessageSubscribeAck *request) {
    size_t index;
    sub_t *sub = s_find(self, client_id, request->subscription_id, &index);
    if (!sub) {
        s_send_error(self, gateway_id, client_id, id, CA_NOT_FOUND,
                     "no such subscription on this connection (it ended): subscribe again "
                     "from your last cursor");
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
    ca_push_head_t head = {0};
    bool ended = response && ca_push_head(response, &head) && head.ended;
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
        s_subscribe_channel(self, gateway_id, client_id, request->id, request->message_subscribe);
    else if (request->body_case == CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE)
        s_subscribe_topic(self, gateway_id, client_id, request->id, request->oplog_subscribe);
    else if (request->body_case == CAIRN__REQUEST__BODY_CONTENT_SUBSCRIBE)
        s_subscribe_content(self, gateway_id, client_id, request->id, request->content_subscribe);
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

//  ---- self-test ---------------------------------------------------------------
//  The pushes themselves are tested over the wire (tests/e2e_subscriptions*.c);
//  here, that every kind's page reads a range of positions (the rows
//  committed since its read mark), never a whole channel or table, and
//  never sorts.

void subscriptions_test(bool verbose) {
    if (verbose)
        printf(" * subscriptions: ");
    const ca_schema_t *before[] = {&logbook_schema, &oplog_schema, &content_schema};
    ca_testbed_t *bed = ca_testbed_new_with(&messages_store_def, before, 3);
    assert(bed);
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_ONLY, NULL, &error);
    assert(sql);
    const kind_t *kinds[] = {&s_channel_kind, &s_topic_kind, &s_content_kind};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *explain = zsys_sprintf("EXPLAIN QUERY PLAN %s", kinds[k]->sql_page);
        sqlite3_stmt *stmt = NULL;
        assert(sqlite3_prepare_v2(ca_sql_handle(sql), explain, -1, &stmt, NULL) == SQLITE_OK);
        bool ranged = false;
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(stmt, 3);
            if (verbose)
                printf("\n   %s: %s", kinds[k]->what, detail);
            ranged |= strstr(detail, "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") != NULL;
            assert(!strstr(detail, "TEMP B-TREE"));
        }
        assert(ranged);
        sqlite3_finalize(stmt);
        zstr_free(&explain);
    }
    ca_sql_destroy(&sql);
    zstr_free(&path);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("\n   OK\n");
}

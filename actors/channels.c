/*  =========================================================================
    channels - channels and membership of the message-store family

    What it owns: the requests on the `channels` and `members` tables of
    messages_schema (the family's shared schema) except the two that need an
    Argon2id hash, ChannelCreate and ChannelVerify, which run in their own
    small pool (channel_auth.c) so that a burst of password checks never
    holds up these cheap reads and writes.

    Requests: schemas/channels.proto (pool "channels", workers and queue
    from the node's settings). A channel's message_count is counted from
    `messages` (ChannelList: one LEFT JOIN ... GROUP BY, not N+1); the
    password hash never leaves the node. ChannelDelete removes the
    channel, its messages (the FTS triggers follow) and its memberships in
    ONE write. MemberList is ordered by peer id (a channel's members) or
    by channel (a peer's channels).

    Rules: channel names are 1..64 bytes, '#' then [A-Za-z0-9._-] (case
    matters: #Dev and #dev are two channels); peer ids are 1..128 bytes of
    [A-Za-z0-9._:-] and need not belong to a known peer. A request naming an
    unknown channel is NOT_FOUND, except MemberList by peer, which lists
    whatever channels the peer is in (none: an empty page).

    Decisions:
      - Joining twice is OK with changed=false (INSERT OR IGNORE), so
        clients can retry a join safely. Leaving a channel one is not in is
        NOT_FOUND ("peer X is not a member of #c"): a leave that removes
        nothing usually means a wrong peer id or channel, and the caller
        should hear about it. A successful leave therefore always has
        changed=true.
      - Every write checks what it depends on inside its own savepoint
        (Expect rules), so the answer is right even when another write
        slipped in between the request's validation and its commit.
    ========================================================================= */

#include "channels.h"
#include "ca_clock.h"
#include "ca_limits.h"
#include "ca_names.h"
#include "messages_schema.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#include <time.h>

//  ---- names, ids and time ---------------------------------------------------------

//  Names and ids follow the rules every store shares (ca_names.c).
bool channels_check_name(ca_reply_t *reply, const char *field, const char *name) {
    const char *problem = ca_validate_channel_name(name);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s: %s; a channel name is 2..%d bytes: '#' then letters, digits, '.', "
                       "'_' or '-' (e.g. #general)",
                       field, problem, CA_CHANNEL_NAME_MAX);
    return problem == NULL;
}

static bool s_check_peer_id(ca_reply_t *reply, const char *field, const char *peer_id) {
    const char *problem = ca_validate_peer_id(peer_id);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s: %s; a peer id is 1..%d bytes of letters, digits, '.', '_', ':' or '-'",
                       field, problem, CA_PEER_ID_MAX);
    return problem == NULL;
}

//  ---- building answers ------------------------------------------------------------

static const Cairn__Internal__SqlValue *s_value(const Cairn__Internal__Row *row, size_t column) {
    return column < row->n_values ? row->values[column] : NULL;
}

static double s_value_real(const Cairn__Internal__SqlValue *value) {
    if (value && value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL)
        return value->real;
    if (value && value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return (double)value->integer;
    return 0;
}

static int64_t s_value_int(const Cairn__Internal__SqlValue *value) {
    if (value && value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return value->integer;
    if (value && value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL)
        return (int64_t)value->real;
    return 0;
}

//  Fills the salt of a protected channel (a copy in reply memory).
static void s_set_salt(ca_reply_t *reply, Cairn__Channel *channel, const void *data, size_t size) {
    if (!channel->protected_ || !data || size == 0)
        return;
    channel->salt.data = (uint8_t *)ca_reply_memdup(reply, data, size);
    channel->salt.len = size;
}

Cairn__Channel *channels_from_row(ca_reply_t *reply, const Cairn__Internal__Row *row) {
    Cairn__Channel *channel = (Cairn__Channel *)ca_reply_alloc(reply, sizeof(Cairn__Channel));
    cairn__channel__init(channel);
    const Cairn__Internal__SqlValue *name = s_value(row, 0);
    channel->name = ca_reply_strdup(
        reply, name && name->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT ? name->text : "");
    channel->created_at = s_value_real(s_value(row, 1));
    channel->last_activity = s_value_real(s_value(row, 2));
    channel->encrypted = s_value_int(s_value(row, 3)) != 0;
    channel->protected_ = s_value_int(s_value(row, 4)) != 0;
    const Cairn__Internal__SqlValue *salt = s_value(row, 5);
    if (salt && salt->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB)
        s_set_salt(reply, channel, salt->blob.data, salt->blob.len);
    channel->message_count = (uint64_t)s_value_int(s_value(row, 6));
    channel->unsigned_messages = s_value_int(s_value(row, 7)) != 0;
    return channel;
}

//  The same from the current row of a read of CHANNELS_COLUMNS.
static Cairn__Channel *s_channel_from_stmt(ca_reply_t *reply, sqlite3_stmt *stmt) {
    Cairn__Channel *channel = (Cairn__Channel *)ca_reply_alloc(reply, sizeof(Cairn__Channel));
    cairn__channel__init(channel);
    const unsigned char *name = sqlite3_column_text(stmt, 0);
    channel->name = ca_reply_strdup(reply, name ? (const char *)name : "");
    channel->created_at = sqlite3_column_double(stmt, 1);
    channel->last_activity = sqlite3_column_double(stmt, 2);
    channel->encrypted = sqlite3_column_int64(stmt, 3) != 0;
    channel->protected_ = sqlite3_column_int64(stmt, 4) != 0;
    s_set_salt(reply, channel, sqlite3_column_blob(stmt, 5), (size_t)sqlite3_column_bytes(stmt, 5));
    channel->message_count = (uint64_t)sqlite3_column_int64(stmt, 6);
    channel->unsigned_messages = sqlite3_column_int64(stmt, 7) != 0;
    return channel;
}

//  A growing array of answer items; copied into reply memory when done.
typedef struct {
    void **items;
    size_t count;
    size_t capacity;
} s_items_t;

//  False when memory ran out (the reply says so).
static bool s_items_append(s_items_t *self, void *item, ca_reply_t *reply) {
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        if (!ca_reply_realloc(reply, &self->items, capacity, sizeof(void *)))
            return false;
        self->capacity = capacity;
    }
    self->items[self->count++] = item;
    return true;
}

//  Moves the array into reply memory; returns it (NULL when empty).
static void **s_items_finish(s_items_t *self, ca_reply_t *reply) {
    void **items = self->count
                       ? (void **)ca_reply_memdup(reply, self->items, self->count * sizeof(void *))
                       : NULL;
    free(self->items);
    self->items = NULL;
    return items;
}

//  Fails the reply after a read step returned `rc` (neither ROW nor DONE).
static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read channels: %s; retry",
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  ---- ChannelGet, ChannelList ------------------------------------------------------

static void s_channel_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *name = request->channel_get->name;
    if (!channels_check_name(reply, "ChannelGet.name", name))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT " CHANNELS_COLUMNS " FROM channels WHERE name = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_GET;
        response->channel_get = s_channel_from_stmt(reply, stmt);
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "channel %s does not exist; create it with ChannelCreate (ChannelList "
                       "shows the channels)",
                       name);
    else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
}

//  The page size a list asks for: ca_page_limit with the family's bounds.
static size_t s_page_limit(uint32_t asked, const char *cursor, ca_reply_t *reply) {
    return ca_page_limit(asked, CA_CHANNEL_PAGE_DEFAULT, CA_CHANNEL_PAGE_MAX, "items per page",
                         cursor, reply);
}

static void s_channel_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ChannelList *list = request->channel_list;
    size_t limit = s_page_limit(list->limit, "after_name", reply);
    if (!limit)
        return;
    //  One pass: each channel joined with its messages through the
    //  (channel, timestamp, id) index, counted per channel. Names are never
    //  empty, so "" as the cursor starts at the first.
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT c.name, c.created_at, c.last_activity, c.encrypted,"
                         " typeof(c.password_hash) <> 'null', c.salt, count(m.seq),"
                         " c.signed_messages = 0"
                         " FROM channels c LEFT JOIN messages m ON m.channel = c.name"
                         " WHERE c.name > ?1 GROUP BY c.name ORDER BY c.name LIMIT ?2",
                         reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, list->after_name ? list->after_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1); //  one more tells whether more follow
    s_items_t channels = {NULL, 0, 0};
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (channels.count == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        if (!s_items_append(&channels, s_channel_from_stmt(reply, stmt), reply))
            break; //  out of memory, answered; rc stays SQLITE_ROW
    }
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW) //  a row: out of memory, answered
            s_read_failed(reply, stmt, rc);
        free(channels.items);
        sqlite3_reset(stmt);
        return;
    }
    sqlite3_reset(stmt);
    Cairn__ChannelPage *page =
        (Cairn__ChannelPage *)ca_reply_alloc(reply, sizeof(Cairn__ChannelPage));
    cairn__channel_page__init(page);
    page->more = more;
    page->n_channels = channels.count;
    page->channels = (Cairn__Channel **)s_items_finish(&channels, reply);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_LIST;
    response->channel_list = page;
}

//  ---- ChannelTouch, ChannelDelete --------------------------------------------------

//  Message for an unknown channel in a write (kept alive until the write is
//  framed, which ca_store_write does before it returns).
static void s_not_found_message(char *message, size_t size, const char *name,
                                const char *consequence) {
    snprintf(message, size, "channel %s does not exist; %s (ChannelList shows the channels)", name,
             consequence);
}

static void s_channel_touch(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ChannelTouch *touch = request->channel_touch;
    if (!channels_check_name(reply, "ChannelTouch.name", touch->name))
        return;
    if (!isfinite(touch->timestamp) || touch->timestamp < 0) {
        ca_reply_error(reply, CA_INVALID,
                       "ChannelTouch.timestamp is %g; give unix seconds >= 0, or 0 for now",
                       touch->timestamp);
        return;
    }
    char missing[256];
    s_not_found_message(missing, sizeof missing, touch->name, "create it first with ChannelCreate");
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "UPDATE channels SET last_activity = ?2 WHERE name = ?1"
                       " RETURNING " CHANNELS_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND, missing);
    ca_write_want_rows(write);
    ca_write_text(write, touch->name);
    ca_write_real(write, touch->timestamp > 0 ? touch->timestamp : ca_now_seconds());
    ca_store_write(store, &write, reply);
}

static void s_channel_touch_done(ca_store_t *store, const Cairn__Request *request,
                                 const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results < 1 || write->results[0]->n_rows != 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer returned no channel row; retry");
        return;
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_TOUCH;
    response->channel_touch = channels_from_row(reply, write->results[0]->rows[0]);
}

//  Statements of ChannelDelete, in order; `done` reads the counts by index.
enum { DELETE_CHECK, DELETE_MESSAGES, DELETE_MEMBERS, DELETE_CHANNEL, DELETE_STATEMENTS };

static void s_channel_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *name = request->channel_delete->name;
    if (!channels_check_name(reply, "ChannelDelete.name", name))
        return;
    char missing[256];
    s_not_found_message(missing, sizeof missing, name, "nothing was deleted");
    //  One write, one savepoint: the channel goes with all its messages
    //  (the FTS delete trigger keeps the index right) and memberships, or
    //  nothing goes. The check comes first so an unknown name costs nothing.
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM channels WHERE name = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND, missing);
    ca_write_text(write, name);
    ca_write_statement(write, "DELETE FROM messages WHERE channel = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, name);
    ca_write_statement(write, "DELETE FROM members WHERE channel = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, name);
    ca_write_statement(write, "DELETE FROM channels WHERE name = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND, missing);
    ca_write_text(write, name);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_channel_delete_done(ca_store_t *store, const Cairn__Request *request,
                                  const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results != DELETE_STATEMENTS) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the deleted counts; retry");
        return;
    }
    Cairn__ChannelDeleted *deleted =
        (Cairn__ChannelDeleted *)ca_reply_alloc(reply, sizeof(Cairn__ChannelDeleted));
    cairn__channel_deleted__init(deleted);
    deleted->name = request->channel_delete->name; //  the request outlives the packing
    deleted->messages = write->results[DELETE_MESSAGES]->changes;
    deleted->members = write->results[DELETE_MEMBERS]->changes;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_DELETE;
    response->channel_delete = deleted;
}

//  ---- MemberJoin, MemberLeave, MemberList ------------------------------------------

//  Validates the channel and peer of a join or leave.
static bool s_check_membership(ca_reply_t *reply, const char *kind, const char *channel,
                               const char *peer_id) {
    char field[64];
    snprintf(field, sizeof field, "%s.channel", kind);
    if (!channels_check_name(reply, field, channel))
        return false;
    snprintf(field, sizeof field, "%s.peer_id", kind);
    return s_check_peer_id(reply, field, peer_id);
}

//  Starts a write whose first statement fails NOT_FOUND for an unknown
//  channel. `missing` must stay alive until the write is sent.
static ca_write_t *s_write_for_channel(const char *channel, char *missing, size_t size,
                                       const char *consequence) {
    s_not_found_message(missing, size, channel, consequence);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM channels WHERE name = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND, missing);
    ca_write_text(write, channel);
    return write;
}

static void s_member_join(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MemberJoin *join = request->member_join;
    if (!s_check_membership(reply, "MemberJoin", join->channel, join->peer_id))
        return;
    char missing[256];
    ca_write_t *write =
        s_write_for_channel(join->channel, missing, sizeof missing, "create it before joining");
    ca_write_statement(write,
                       "INSERT OR IGNORE INTO members (channel, peer_id, joined_at)"
                       " VALUES (?1, ?2, ?3)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, join->channel);
    ca_write_text(write, join->peer_id);
    ca_write_real(write, ca_now_seconds());
    ca_store_write(store, &write, reply);
}

static void s_membership_answer(ca_reply_t *reply, Cairn__Response__BodyCase body,
                                const char *channel, const char *peer_id, bool changed) {
    Cairn__Membership *membership =
        (Cairn__Membership *)ca_reply_alloc(reply, sizeof(Cairn__Membership));
    cairn__membership__init(membership);
    membership->channel = (char *)channel; //  the request outlives the packing
    membership->peer_id = (char *)peer_id;
    membership->changed = changed;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body;
    if (body == CAIRN__RESPONSE__BODY_MEMBER_JOIN)
        response->member_join = membership;
    else
        response->member_leave = membership;
}

static void s_member_join_done(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__MemberJoin *join = request->member_join;
    bool joined = write->n_results == 2 && write->results[1]->changes == 1;
    s_membership_answer(reply, CAIRN__RESPONSE__BODY_MEMBER_JOIN, join->channel, join->peer_id,
                        joined);
}

static void s_member_leave(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MemberLeave *leave = request->member_leave;
    if (!s_check_membership(reply, "MemberLeave", leave->channel, leave->peer_id))
        return;
    char missing[256];
    ca_write_t *write =
        s_write_for_channel(leave->channel, missing, sizeof missing, "there is nothing to leave");
    char not_member[512];
    snprintf(not_member, sizeof not_member,
             "peer %s is not a member of %s; nothing changed (MemberList shows the members)",
             leave->peer_id, leave->channel);
    ca_write_statement(write, "DELETE FROM members WHERE channel = ?1 AND peer_id = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND, not_member);
    ca_write_text(write, leave->channel);
    ca_write_text(write, leave->peer_id);
    ca_store_write(store, &write, reply);
}

static void s_member_leave_done(ca_store_t *store, const Cairn__Request *request,
                                const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__MemberLeave *leave = request->member_leave;
    s_membership_answer(reply, CAIRN__RESPONSE__BODY_MEMBER_LEAVE, leave->channel, leave->peer_id,
                        write->n_results == 2 && write->results[1]->changes == 1);
}

static Cairn__Membership *s_member_item(ca_reply_t *reply, const unsigned char *channel,
                                        const unsigned char *peer_id) {
    Cairn__Membership *membership =
        (Cairn__Membership *)ca_reply_alloc(reply, sizeof(Cairn__Membership));
    cairn__membership__init(membership);
    membership->channel = ca_reply_strdup(reply, channel ? (const char *)channel : "");
    membership->peer_id = ca_reply_strdup(reply, peer_id ? (const char *)peer_id : "");
    return membership;
}

static void s_member_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MemberList *list = request->member_list;
    bool by_channel = *list->channel != 0;
    if (by_channel == (*list->peer_id != 0)) {
        ca_reply_error(reply, CA_INVALID,
                       "MemberList needs exactly one of channel (to list its members) or "
                       "peer_id (to list its channels); %s",
                       by_channel ? "both were set" : "neither was set");
        return;
    }
    if (by_channel ? !channels_check_name(reply, "MemberList.channel", list->channel)
                   : !s_check_peer_id(reply, "MemberList.peer_id", list->peer_id))
        return;
    size_t limit = s_page_limit(list->limit, "after", reply);
    if (!limit)
        return;
    //  By channel: the channel row comes first (none: unknown channel), its
    //  members after the cursor follow it (a NULL peer: none), all from one
    //  statement so they are one consistent read. Ids and names are never
    //  empty, so "" as the cursor starts at the first.
    sqlite3_stmt *stmt =
        by_channel ? ca_store_prepare(store,
                                      "SELECT c.name, m.peer_id FROM channels c"
                                      " LEFT JOIN members m ON m.channel = c.name"
                                      " AND m.peer_id > ?2"
                                      " WHERE c.name = ?1 ORDER BY m.peer_id LIMIT ?3",
                                      reply)
                   : ca_store_prepare(store,
                                      "SELECT channel, peer_id FROM members WHERE peer_id = ?1"
                                      " AND channel > ?2 ORDER BY channel LIMIT ?3",
                                      reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, by_channel ? list->channel : list->peer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, list->after ? list->after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1); //  one more tells whether more follow
    s_items_t members = {NULL, 0, 0};
    bool found = !by_channel;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        found = true;
        if (members.count == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL &&
            !s_items_append(
                &members,
                s_member_item(reply, sqlite3_column_text(stmt, 0), sqlite3_column_text(stmt, 1)),
                reply))
            break;
    }
    if (rc != SQLITE_DONE || !found) {
        if (rc == SQLITE_ROW)
            ; //  out of memory, answered
        else if (rc != SQLITE_DONE)
            s_read_failed(reply, stmt, rc);
        else
            ca_reply_error(reply, CA_NOT_FOUND,
                           "channel %s does not exist; check the name (ChannelList shows the "
                           "channels)",
                           list->channel);
        free(members.items);
        sqlite3_reset(stmt);
        return;
    }
    sqlite3_reset(stmt);
    Cairn__MemberPage *page = (Cairn__MemberPage *)ca_reply_alloc(reply, sizeof(Cairn__MemberPage));
    cairn__member_page__init(page);
    page->more = more;
    page->n_members = members.count;
    page->members = (Cairn__Membership **)s_items_finish(&members, reply);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MEMBER_LIST;
    response->member_list = page;
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_CHANNEL_GET, "channel_get", s_channel_get, NULL, 0},
    {CAIRN__REQUEST__BODY_CHANNEL_LIST, "channel_list", s_channel_list, NULL, 0},
    {CAIRN__REQUEST__BODY_CHANNEL_TOUCH, "channel_touch", s_channel_touch, s_channel_touch_done, 0},
    {CAIRN__REQUEST__BODY_CHANNEL_DELETE, "channel_delete", s_channel_delete, s_channel_delete_done,
     0},
    {CAIRN__REQUEST__BODY_MEMBER_JOIN, "member_join", s_member_join, s_member_join_done, 0},
    {CAIRN__REQUEST__BODY_MEMBER_LEAVE, "member_leave", s_member_leave, s_member_leave_done, 0},
    {CAIRN__REQUEST__BODY_MEMBER_LIST, "member_list", s_member_list, NULL, 0},
};

const ca_store_def_t channels_store_def = {
    .name = "channels",
    .schema = &messages_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

//  A stand-in hash: the channels pool never computes one, it only must never
//  show it.
#define TEST_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"

//  ---- fixtures: the requests of the channels and channel_auth self-tests and of
//  tests/e2e_channels.c ----------------------------------------------------------------

void channels_fixture_check(const Cairn__Response *response) {
    size_t size = cairn__response__get_packed_size(response);
    uint8_t *packed = (uint8_t *)malloc(size + 1);
    cairn__response__pack(response, packed);
    bool hash = memmem(packed, size, "$argon2", 7) != NULL;
    free(packed);
    if (hash || (response->status != CAIRN__STATUS__OK &&
                 (!response->error || !*response->error || response->body_case != 0))) {
        fprintf(stderr, "\nchannels: answer %llu carries a password hash or a bad error\n",
                (unsigned long long)response->id);
        abort();
    }
}

Cairn__Response *channels_fixture_call(ca_caller_t *caller, Cairn__Request *request) {
    Cairn__Response *response = ca_caller_call(caller, request);
    channels_fixture_check(response);
    return response;
}

//  The request's strings are copied: the worker wipes its own copy.
Cairn__Response *channels_fixture_create(ca_caller_t *caller, const char *name, bool encrypted,
                                         const char *password) {
    Cairn__Request request;
    Cairn__ChannelCreate create;
    ca_request_channel_create(&request, &create, 0, name, encrypted, password);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_verify(ca_caller_t *caller, const char *name,
                                         const char *password) {
    Cairn__Request request;
    Cairn__ChannelVerify verify;
    ca_request_channel_verify(&request, &verify, 0, name, password);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_get(ca_caller_t *caller, const char *name) {
    Cairn__Request request;
    Cairn__ChannelGet get;
    ca_request_channel_get(&request, &get, 0, name);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_list(ca_caller_t *caller) {
    return channels_fixture_list_page(caller, 0, NULL);
}

Cairn__Response *channels_fixture_list_page(ca_caller_t *caller, uint32_t limit,
                                            const char *after_name) {
    Cairn__Request request;
    Cairn__ChannelList list;
    ca_request_channel_list(&request, &list, 0);
    list.limit = limit;
    if (after_name)
        list.after_name = (char *)after_name;
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_touch(ca_caller_t *caller, const char *name, double timestamp) {
    Cairn__Request request;
    Cairn__ChannelTouch touch;
    ca_request_channel_touch(&request, &touch, 0, name, timestamp);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_delete(ca_caller_t *caller, const char *name) {
    Cairn__Request request;
    Cairn__ChannelDelete del;
    ca_request_channel_delete(&request, &del, 0, name);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_join(ca_caller_t *caller, const char *channel,
                                       const char *peer_id) {
    Cairn__Request request;
    Cairn__MemberJoin join;
    ca_request_member_join(&request, &join, 0, channel, peer_id);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_leave(ca_caller_t *caller, const char *channel,
                                        const char *peer_id) {
    Cairn__Request request;
    Cairn__MemberLeave leave;
    ca_request_member_leave(&request, &leave, 0, channel, peer_id);
    return channels_fixture_call(caller, &request);
}

Cairn__Response *channels_fixture_members(ca_caller_t *caller, const char *channel,
                                          const char *peer_id) {
    return channels_fixture_members_page(caller, channel, peer_id, 0, NULL);
}

Cairn__Response *channels_fixture_members_page(ca_caller_t *caller, const char *channel,
                                               const char *peer_id, uint32_t limit,
                                               const char *after) {
    Cairn__Request request;
    Cairn__MemberList list;
    ca_request_member_list(&request, &list, 0, channel, peer_id);
    list.limit = limit;
    if (after)
        list.after = (char *)after;
    return channels_fixture_call(caller, &request);
}

//  ---- the self-test ------------------------------------------------------------------

static int64_t s_test_count(ca_sql_t *sql, const char *query) {
    sqlite3_stmt *stmt = ca_sql_prepare(sql, query);
    assert(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return count;
}

//  The test caller's database, opened beside its writer: the channels pool
//  creates no channels (channel_auth does) and the messages pool is
//  another store, so the test puts their rows in directly.
static ca_sql_t *s_test_open_db(ca_caller_t *caller) {
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(ca_caller_testbed(caller)), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    zstr_free(&path);
    return sql;
}

static void s_test_seed(ca_sql_t *sql) {
    int rc = ca_sql_exec(
        sql, "INSERT INTO channels (name, created_at, last_activity, encrypted, password_hash,"
             " salt) VALUES"
             " ('#alpha', 100, 150, 0, NULL, NULL),"
             " ('#beta', 200, 200, 1, NULL, NULL),"
             " ('#priv', 300, 300, 0, '" TEST_HASH "', x'000102030405060708090a0b0c0d0e0f');"
             "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel, content,"
             " encrypted, signature) VALUES"
             " ('m1', 1, 's', 'S', '#alpha', 'hello alpha', 0, x'00'),"
             " ('m2', 2, 's', 'S', '#alpha', 'second alpha', 0, x'00'),"
             " ('m3', 3, 's', 'S', '#alpha', 'sealed', 1, x'00'),"
             " ('m4', 4, 's', 'S', '#priv', 'hello priv', 0, x'00'),"
             " ('m5', 5, 's', 'S', '#alphabet', 'hello stray', 0, x'00');");
    assert(rc == SQLITE_OK);
    //  Indexed as the writer indexes a batch of MessageStore writes.
    rc = ca_sql_exec(sql, messages_sql_index_pending);
    assert(rc == SQLITE_OK);
    rc = ca_sql_exec(sql, messages_sql_clear_pending);
    assert(rc == SQLITE_OK);
}

static void s_test_reads(ca_caller_t *caller) {
    Cairn__Response *response = channels_fixture_get(caller, "#alpha");
    assert(response->status == CAIRN__STATUS__OK);
    Cairn__Channel *channel = response->channel_get;
    assert(streq(channel->name, "#alpha") && channel->created_at == 100 &&
           channel->last_activity == 150 && !channel->encrypted && !channel->protected_ &&
           channel->salt.len == 0 && channel->message_count == 3);
    cairn__response__free_unpacked(response, NULL);
    //  Protected: the salt comes back, the hash never does.
    response = channels_fixture_get(caller, "#priv");
    channel = response->channel_get;
    assert(channel->protected_ && channel->salt.len == 16 && channel->salt.data[15] == 15);
    assert(channel->message_count == 1);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_get(caller, "#nowhere"), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    //  Names are case-sensitive.
    ca_response_check(channels_fixture_get(caller, "#Alpha"), CAIRN__STATUS__NOT_FOUND, "#Alpha");

    //  The list: by name, each with its count (the stray '#alphabet'
    //  messages belong to no channel and are counted nowhere).
    response = channels_fixture_list(caller);
    Cairn__ChannelPage *page = response->channel_list;
    assert(response->status == CAIRN__STATUS__OK && page->n_channels == 3);
    assert(streq(page->channels[0]->name, "#alpha") && page->channels[0]->message_count == 3);
    assert(streq(page->channels[1]->name, "#beta") && page->channels[1]->message_count == 0 &&
           page->channels[1]->encrypted);
    assert(streq(page->channels[2]->name, "#priv") && page->channels[2]->message_count == 1 &&
           page->channels[2]->protected_ && page->channels[2]->salt.len == 16);
    assert(page->channels[0]->salt.len == 0 && page->channels[1]->salt.len == 0);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_touch_requests(ca_caller_t *caller) {
    Cairn__Response *response = channels_fixture_touch(caller, "#alpha", 1234.5);
    assert(response->status == CAIRN__STATUS__OK);
    assert(streq(response->channel_touch->name, "#alpha"));
    assert(response->channel_touch->last_activity == 1234.5);
    assert(response->channel_touch->created_at == 100);
    assert(response->channel_touch->message_count == 3);
    //  Written back through RETURNING: still not protected (see
    //  CHANNELS_COLUMNS for the SQLite bug this guards against).
    assert(!response->channel_touch->protected_ && response->channel_touch->salt.len == 0);
    cairn__response__free_unpacked(response, NULL);
    //  0 means now.
    double before = ca_now_seconds();
    response = channels_fixture_touch(caller, "#priv", 0);
    double after = ca_now_seconds();
    assert(response->status == CAIRN__STATUS__OK);
    assert(response->channel_touch->last_activity >= before - 0.001 &&
           response->channel_touch->last_activity <= after + 0.001);
    assert(response->channel_touch->protected_ && response->channel_touch->salt.len == 16);
    cairn__response__free_unpacked(response, NULL);
    //  Read-after-write.
    response = channels_fixture_get(caller, "#alpha");
    assert(response->channel_get->last_activity == 1234.5);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_touch(caller, "#nowhere", 5), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(channels_fixture_touch(caller, "#alpha", -1), CAIRN__STATUS__INVALID,
                      "timestamp");
    ca_response_check(channels_fixture_touch(caller, "#alpha", NAN), CAIRN__STATUS__INVALID,
                      "timestamp");
    ca_response_check(channels_fixture_touch(caller, "#alpha", INFINITY), CAIRN__STATUS__INVALID,
                      "timestamp");
}

static void s_test_membership(ca_caller_t *caller) {
    Cairn__Response *response = channels_fixture_join(caller, "#alpha", "peer-bob");
    assert(response->status == CAIRN__STATUS__OK && response->member_join->changed);
    assert(streq(response->member_join->channel, "#alpha") &&
           streq(response->member_join->peer_id, "peer-bob"));
    cairn__response__free_unpacked(response, NULL);
    //  Joining twice is fine and changes nothing.
    response = channels_fixture_join(caller, "#alpha", "peer-bob");
    assert(response->status == CAIRN__STATUS__OK && !response->member_join->changed);
    cairn__response__free_unpacked(response, NULL);
    const char *joins[][2] = {
        {"#alpha", "node:alice.1"}, {"#beta", "node:alice.1"}, {"#priv", "node:alice.1"}};
    for (size_t i = 0; i < 3; i++) {
        response = channels_fixture_join(caller, joins[i][0], joins[i][1]);
        assert(response->status == CAIRN__STATUS__OK && response->member_join->changed);
        cairn__response__free_unpacked(response, NULL);
    }
    ca_response_check(channels_fixture_join(caller, "#nowhere", "peer-bob"),
                      CAIRN__STATUS__NOT_FOUND, "does not exist");
    //  Members of a channel, ordered by peer id.
    response = channels_fixture_members(caller, "#alpha", "");
    assert(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 2);
    assert(streq(response->member_list->members[0]->peer_id, "node:alice.1"));
    assert(streq(response->member_list->members[1]->peer_id, "peer-bob"));
    assert(streq(response->member_list->members[1]->channel, "#alpha"));
    cairn__response__free_unpacked(response, NULL);
    //  Channels of a peer, ordered by name.
    response = channels_fixture_members(caller, "", "node:alice.1");
    assert(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 3);
    assert(streq(response->member_list->members[0]->channel, "#alpha"));
    assert(streq(response->member_list->members[2]->channel, "#priv"));
    cairn__response__free_unpacked(response, NULL);
    //  Nobody's channels: empty; an unknown channel's members: NOT_FOUND.
    response = channels_fixture_members(caller, "", "nobody");
    assert(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_members(caller, "#nowhere", ""), CAIRN__STATUS__NOT_FOUND,
                      "#nowhere");
    ca_response_check(channels_fixture_members(caller, "", ""), CAIRN__STATUS__INVALID,
                      "exactly one");
    ca_response_check(channels_fixture_members(caller, "#alpha", "peer-bob"),
                      CAIRN__STATUS__INVALID, "exactly one");
    //  Leave: a member goes; a non-member is NOT_FOUND with a clear message.
    response = channels_fixture_leave(caller, "#alpha", "peer-bob");
    assert(response->status == CAIRN__STATUS__OK && response->member_leave->changed);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_leave(caller, "#alpha", "peer-bob"),
                      CAIRN__STATUS__NOT_FOUND, "peer peer-bob is not a member of #alpha");
    ca_response_check(channels_fixture_leave(caller, "#nowhere", "peer-bob"),
                      CAIRN__STATUS__NOT_FOUND, "channel #nowhere does not exist");
    response = channels_fixture_members(caller, "#beta", "");
    assert(response->member_list->n_members == 1);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_delete_requests(ca_caller_t *caller, ca_sql_t *sql) {
    Cairn__Response *response = channels_fixture_join(caller, "#alpha", "peer-carol");
    cairn__response__free_unpacked(response, NULL);
    assert(s_test_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                             "'alpha'") == 2);
    //  One write: the channel, its 3 messages (FTS rows too), its 2 members.
    response = channels_fixture_delete(caller, "#alpha");
    assert(response->status == CAIRN__STATUS__OK);
    assert(streq(response->channel_delete->name, "#alpha"));
    assert(response->channel_delete->messages == 3 && response->channel_delete->members == 2);
    cairn__response__free_unpacked(response, NULL);
    assert(s_test_count(sql, "SELECT count(*) FROM messages WHERE channel = '#alpha'") == 0);
    assert(s_test_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                             "'alpha'") == 0);
    assert(s_test_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                             "'hello'") == 2);
    assert(ca_sql_exec(sql, "INSERT INTO messages_fts (messages_fts) VALUES "
                            "('integrity-check')") == SQLITE_OK);
    //  The others are untouched: the stray '#alphabet' message, #priv's
    //  message, alice's other memberships.
    assert(s_test_count(sql, "SELECT count(*) FROM messages") == 2);
    assert(s_test_count(sql, "SELECT count(*) FROM members") == 2);
    ca_response_check(channels_fixture_get(caller, "#alpha"), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(channels_fixture_delete(caller, "#alpha"), CAIRN__STATUS__NOT_FOUND,
                      "nothing was deleted");
    //  A channel with members but no messages.
    response = channels_fixture_delete(caller, "#beta");
    assert(response->status == CAIRN__STATUS__OK && response->channel_delete->messages == 0 &&
           response->channel_delete->members == 1);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_list(caller);
    assert(response->channel_list->n_channels == 1);
    assert(streq(response->channel_list->channels[0]->name, "#priv"));
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_members(caller, "", "node:alice.1");
    assert(response->member_list->n_members == 1);
    cairn__response__free_unpacked(response, NULL);
}

//  Bad input of every request: INVALID naming the field, nothing changes.
static void s_test_bad_input(ca_caller_t *caller, ca_sql_t *sql) {
    int64_t channels = s_test_count(sql, "SELECT count(*) FROM channels");
    int64_t members = s_test_count(sql, "SELECT count(*) FROM members");
    int64_t messages = s_test_count(sql, "SELECT count(*) FROM messages");
    char long_name[CA_CHANNEL_NAME_MAX + 2];
    long_name[0] = '#';
    memset(long_name + 1, 'n', CA_CHANNEL_NAME_MAX);
    long_name[CA_CHANNEL_NAME_MAX + 1] = 0;
    const char *bad_names[] = {"",   "nohash", "../x", "#a b",    "#a/b",   "#..\\x",
                               "#é", "# ",     "#a\t", long_name, "##a#b*", "#a;DROP"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        ca_response_check(channels_fixture_get(caller, bad_names[i]), CAIRN__STATUS__INVALID,
                          "ChannelGet.name");
        ca_response_check(channels_fixture_touch(caller, bad_names[i], 1), CAIRN__STATUS__INVALID,
                          "ChannelTouch.name");
        ca_response_check(channels_fixture_delete(caller, bad_names[i]), CAIRN__STATUS__INVALID,
                          "ChannelDelete.name");
        ca_response_check(channels_fixture_join(caller, bad_names[i], "p"), CAIRN__STATUS__INVALID,
                          "MemberJoin.channel");
        ca_response_check(channels_fixture_leave(caller, bad_names[i], "p"), CAIRN__STATUS__INVALID,
                          "MemberLeave.channel");
        if (*bad_names[i])
            ca_response_check(channels_fixture_members(caller, bad_names[i], ""),
                              CAIRN__STATUS__INVALID, "MemberList.channel");
    }
    //  Exactly the longest name is a name (and unknown here).
    long_name[CA_CHANNEL_NAME_MAX] = 0;
    ca_response_check(channels_fixture_get(caller, long_name), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");

    char long_peer[CA_PEER_ID_MAX + 2];
    memset(long_peer, 'p', CA_PEER_ID_MAX + 1);
    long_peer[CA_PEER_ID_MAX + 1] = 0;
    const char *bad_peers[] = {"", "a b", "../x", "a/b", "p\n", "p@host", long_peer};
    for (size_t i = 0; i < sizeof bad_peers / sizeof bad_peers[0]; i++) {
        ca_response_check(channels_fixture_join(caller, "#priv", bad_peers[i]),
                          CAIRN__STATUS__INVALID, "MemberJoin.peer_id");
        ca_response_check(channels_fixture_leave(caller, "#priv", bad_peers[i]),
                          CAIRN__STATUS__INVALID, "MemberLeave.peer_id");
        if (*bad_peers[i])
            ca_response_check(channels_fixture_members(caller, "", bad_peers[i]),
                              CAIRN__STATUS__INVALID, "MemberList.peer_id");
    }
    //  Exactly the longest peer id is fine.
    long_peer[CA_PEER_ID_MAX] = 0;
    Cairn__Response *response = channels_fixture_join(caller, "#priv", long_peer);
    assert(response->status == CAIRN__STATUS__OK && response->member_join->changed);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_leave(caller, "#priv", long_peer);
    assert(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);

    //  Undecodable bytes, and a field of the wrong wire type (ChannelGet.name
    //  as a varint): INVALID, and the worker keeps serving.
    const uint8_t garbage[] = {0x08, 0x2a, 0xf2, 0x12, 0x05, 0xff};
    response = ca_testbed_call_raw(ca_caller_testbed(caller), garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 42);
    cairn__response__free_unpacked(response, NULL);
    const uint8_t wrong_type[] = {0x08, 0x2b, 0xf2, 0x12, 0x02, 0x08, 0x01};
    response = ca_testbed_call_raw(ca_caller_testbed(caller), wrong_type, sizeof wrong_type);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 43);
    cairn__response__free_unpacked(response, NULL);
    //  A request kind of the other pool is refused by this one.
    Cairn__ChannelVerify verify = CAIRN__CHANNEL_VERIFY__INIT;
    verify.name = (char *)"#priv";
    verify.password = (char *)"x";
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_CHANNEL_VERIFY;
    request.channel_verify = &verify;
    ca_response_check(channels_fixture_call(caller, &request), CAIRN__STATUS__INVALID,
                      "does not serve");

    assert(s_test_count(sql, "SELECT count(*) FROM channels") == channels);
    assert(s_test_count(sql, "SELECT count(*) FROM members") == members);
    assert(s_test_count(sql, "SELECT count(*) FROM messages") == messages);
    response = channels_fixture_get(caller, "#priv");
    assert(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
}

void channels_test(bool verbose) {
    if (verbose)
        printf(" * channels: ");
    //  The name rule itself.
    assert(ca_validate_channel_name("#general") == NULL);
    assert(ca_validate_channel_name("#A-z_0.9") == NULL);
    assert(ca_validate_channel_name("#")); //  a name needs a character after '#'
    assert(ca_validate_channel_name("#a") == NULL);
    assert(ca_validate_channel_name("") && ca_validate_channel_name("general"));
    assert(ca_validate_channel_name("#a b") && ca_validate_channel_name("#a#"));

    ca_testbed_t *bed = ca_testbed_new(&channels_store_def);

    ca_caller_t *caller = ca_testbed_caller(bed);
    ca_sql_t *sql = s_test_open_db(caller);
    //  An empty store lists nothing.
    Cairn__Response *response = channels_fixture_list(caller);
    assert(response->status == CAIRN__STATUS__OK && response->channel_list->n_channels == 0);
    cairn__response__free_unpacked(response, NULL);
    s_test_seed(sql);
    s_test_reads(caller);
    s_test_touch_requests(caller);
    s_test_membership(caller);
    s_test_bad_input(caller, sql);
    s_test_delete_requests(caller, sql);
    ca_sql_destroy(&sql);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

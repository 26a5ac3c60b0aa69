/*  =========================================================================
    logbook - topics, cursors, groups and the address book

    What it owns: the state a peer-to-peer application keeps around the
    signed operation logs of the oplog store, in five tables of its own
    schema "logbook". A log is named as in the oplog store, (author: a
    32-byte Ed25519 key, log_id); the two stores share no table, so each
    can be used without the other (and the lead's atomic Batch can join
    their writes).

        table                what                           key
        -------------------  -----------------------------  ----------------------
        logbook_topics       topic -> logs                  topic, author, log_id
        logbook_cursors      named position (seq) per log   name, author, log_id
        logbook_groups       opaque state with a version    group_id
        logbook_nodes        address book: one row a node   node_id (+ rowid)
        logbook_node_topics  topic -> nodes (by triggers)   topic (hex), node_id

    Requests and their rules: schemas/logbook.proto.

    Every write is one ordinary ca_write whose rules on what is stored are
    statement expectations, checked by the writer inside the write's
    savepoint, never read here first: a cursor moves forward because its
    UPSERT only updates `WHERE excluded.seq >= seq` and must change one row
    (else CONFLICT); a group put replaces version N only with `UPDATE ...
    WHERE version = N` that must change one row, so of concurrent writers
    over the same version exactly one wins; an address-book entry replaces
    the stored one only `WHERE excluded.timestamp > timestamp`, and the
    answer (stored or kept newer) is that statement's change count. So a
    write means the same alone, in a group commit, or in a later batch.

    The address book keeps each node's info as the packed BookNodeInfo it
    was given (answered as stored) plus the columns it is searched by; its
    topics are also a JSON array of hex ids, from which triggers keep
    logbook_node_topics (topic -> nodes) equal to the rows, whatever
    statement changes them; deleting a node removes its topics by foreign
    key. BookRandom picks one row at a uniformly random offset in one
    statement (one snapshot), O(rows), which suits an address book.

    Writes are pinned to worker 0 (CA_ROUTE_ONE_WORKER), so one
    connection's writes commit in the order sent (a cursor set to 5 then 6
    never meets 6 first). Reads go to any worker.
    ========================================================================= */

#include "logbook.h"
#include "ca_log.h"

#include <inttypes.h>
#include <string.h>

//  ---- schema --------------------------------------------------------------------

static const char *const s_migrations[] = {
    "CREATE TABLE logbook_topics ("
    "  topic BLOB NOT NULL, author BLOB NOT NULL, log_id INTEGER NOT NULL,"
    "  PRIMARY KEY (topic, author, log_id)) WITHOUT ROWID;"
    "CREATE TABLE logbook_cursors ("
    "  name TEXT NOT NULL, author BLOB NOT NULL, log_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL, PRIMARY KEY (name, author, log_id)) WITHOUT ROWID;"
    "CREATE TABLE logbook_groups ("
    "  group_id BLOB PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE logbook_nodes ("
    "  node_id BLOB NOT NULL UNIQUE, timestamp INTEGER NOT NULL, bootstrap INTEGER NOT NULL,"
    "  info BLOB NOT NULL, topics TEXT NOT NULL);"
    "CREATE INDEX logbook_nodes_by_age ON logbook_nodes (timestamp);"
    "CREATE TABLE logbook_node_topics ("
    "  topic TEXT NOT NULL,"
    "  node_id BLOB NOT NULL REFERENCES logbook_nodes (node_id) ON DELETE CASCADE,"
    "  PRIMARY KEY (topic, node_id)) WITHOUT ROWID;"
    "CREATE INDEX logbook_node_topics_by_node ON logbook_node_topics (node_id);"
    "CREATE TRIGGER logbook_nodes_added AFTER INSERT ON logbook_nodes BEGIN"
    "  INSERT INTO logbook_node_topics (topic, node_id)"
    "    SELECT value, NEW.node_id FROM json_each(NEW.topics);"
    "END;"
    "CREATE TRIGGER logbook_nodes_changed AFTER UPDATE OF topics ON logbook_nodes BEGIN"
    "  DELETE FROM logbook_node_topics WHERE node_id = OLD.node_id;"
    "  INSERT INTO logbook_node_topics (topic, node_id)"
    "    SELECT value, NEW.node_id FROM json_each(NEW.topics);"
    "END;",
};

const ca_schema_t logbook_schema = {
    .store = "logbook",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

//  ---- checks ----------------------------------------------------------------------

//  A 32-byte id in field `what`; `optional` allows it empty.
static bool s_key_ok(ProtobufCBinaryData key, const char *what, bool optional, ca_reply_t *reply) {
    if (key.len == CA_LOGBOOK_KEY_BYTES || (optional && key.len == 0))
        return true;
    if (key.len == 0)
        ca_reply_error(reply, CA_INVALID, "%s is missing: send its %d bytes", what,
                       CA_LOGBOOK_KEY_BYTES);
    else
        ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; it must be exactly %d", what, key.len,
                       CA_LOGBOOK_KEY_BYTES);
    return false;
}

static bool s_log_ok(const Cairn__LogbookLog *log, const char *what, ca_reply_t *reply) {
    if (!log) {
        ca_reply_error(reply, CA_INVALID,
                       "%s is missing: send the log's author (32-byte key) and log_id", what);
        return false;
    }
    char field[64];
    snprintf(field, sizeof field, "%s.author", what);
    return s_key_ok(log->author, field, false, reply);
}

//  seq, versions and timestamps are SQLite integers.
static bool s_int63_ok(uint64_t value, const char *what, ca_reply_t *reply) {
    if (value <= INT64_MAX)
        return true;
    ca_reply_error(reply, CA_INVALID, "%s %" PRIu64 " is over 2^63-1", what, value);
    return false;
}

#define NAME_RULE "cursor names are 1..64 bytes of printable ASCII without spaces"

static bool s_name_ok(const char *name, ca_reply_t *reply) {
    const char *problem = NULL;
    size_t length = strnlen(name, CA_LOGBOOK_NAME_MAX + 1);
    if (length == 0)
        problem = "name is missing";
    else if (length > CA_LOGBOOK_NAME_MAX)
        problem = "name is longer than 64 bytes";
    for (size_t i = 0; i < length && !problem; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            problem = "name has a space, control or non-ASCII character";
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s (%s)", problem, NAME_RULE);
    return problem == NULL;
}

//  ---- small pieces shared by the handlers ---------------------------------------

static void s_answer(ca_reply_t *reply, Cairn__Response__BodyCase body_case, void *body) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body_case;
    //  Every member of the body oneof is a pointer at the same place.
    response->topic_associate = body;
}

static bool s_results_ok(const Cairn__Internal__WriteReply *write, size_t count,
                         ca_reply_t *reply) {
    if (write->n_results == count)
        return true;
    ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks a statement's result; retry");
    return false;
}

static void s_deleted(ca_reply_t *reply, Cairn__Response__BodyCase body_case, uint64_t count) {
    Cairn__Deleted *deleted = ca_reply_alloc(reply, sizeof *deleted);
    cairn__deleted__init(deleted);
    deleted->count = count;
    s_answer(reply, body_case, deleted);
}

//  The changes of the last statement of a write, as a Deleted answer.
static void s_deleted_done(const Cairn__Internal__WriteReply *write, ca_reply_t *reply,
                           Cairn__Response__BodyCase body_case) {
    if (write->n_results == 0) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the delete's result; retry");
        return;
    }
    s_deleted(reply, body_case, write->results[write->n_results - 1]->changes);
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

static Cairn__LogbookLog *s_log_new(ca_reply_t *reply, sqlite3_stmt *stmt, int column) {
    Cairn__LogbookLog *log = ca_reply_alloc(reply, sizeof *log);
    cairn__logbook_log__init(log);
    log->author.len = (size_t)sqlite3_column_bytes(stmt, column);
    log->author.data = ca_reply_memdup(reply, sqlite3_column_blob(stmt, column), log->author.len);
    log->log_id = (uint64_t)sqlite3_column_int64(stmt, column + 1);
    return log;
}

//  Binds a key that may be empty: an empty blob (below every 32-byte key).
static void s_bind_key(sqlite3_stmt *stmt, int index, ProtobufCBinaryData key) {
    if (key.len)
        sqlite3_bind_blob(stmt, index, key.data, (int)key.len, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(stmt, index, 0);
}

//  ---- topics ------------------------------------------------------------------------

static bool s_topic_log_ok(ProtobufCBinaryData topic, const Cairn__LogbookLog *log,
                           ca_reply_t *reply) {
    return s_key_ok(topic, "topic", false, reply) && s_log_ok(log, "log", reply);
}

static void s_write_topic_log(ca_write_t *write, ProtobufCBinaryData topic,
                              const Cairn__LogbookLog *log) {
    ca_write_blob(write, topic.data, topic.len);
    ca_write_blob(write, log->author.data, log->author.len);
    ca_write_int(write, (int64_t)log->log_id);
}

static void s_topic_associate(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__TopicAssociate *associate = request->topic_associate;
    if (!s_topic_log_ok(associate->topic, associate->log, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT OR IGNORE INTO logbook_topics (topic, author, log_id)"
                       " VALUES (?1, ?2, ?3)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    s_write_topic_log(write, associate->topic, associate->log);
    ca_store_write(store, &write, reply);
}

static void s_topic_changed(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (!s_results_ok(write, 1, reply))
        return;
    Cairn__TopicChanged *changed = ca_reply_alloc(reply, sizeof *changed);
    cairn__topic_changed__init(changed);
    changed->changed = write->results[0]->changes > 0;
    s_answer(reply, (Cairn__Response__BodyCase)request->body_case, changed);
}

static void s_topic_remove(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__TopicRemove *remove = request->topic_remove;
    if (!s_topic_log_ok(remove->topic, remove->log, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(
        write, "DELETE FROM logbook_topics WHERE topic = ?1 AND author = ?2 AND log_id = ?3",
        CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
        "this log is not associated with the topic; resolve the topic to see its "
        "logs");
    s_write_topic_log(write, remove->topic, remove->log);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_topic_resolve(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__TopicResolve *resolve = request->topic_resolve;
    if (!s_key_ok(resolve->topic, "topic", false, reply) ||
        (resolve->after && !s_log_ok(resolve->after, "after", reply)))
        return;
    size_t limit = ca_page_limit(resolve->limit, CA_LOGBOOK_PAGE_DEFAULT, CA_LOGBOOK_PAGE_MAX,
                                 "logs", "after", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT author, log_id FROM logbook_topics"
                                          " WHERE topic = ?1 AND (author, log_id) > (?2, ?3)"
                                          " ORDER BY author, log_id LIMIT ?4",
                                          reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, resolve->topic.data, (int)resolve->topic.len, SQLITE_STATIC);
    if (resolve->after) {
        s_bind_key(stmt, 2, resolve->after->author);
        sqlite3_bind_int64(stmt, 3, (int64_t)resolve->after->log_id);
    } else {
        sqlite3_bind_zeroblob(stmt, 2, 0);
        sqlite3_bind_int64(stmt, 3, INT64_MIN);
    }
    sqlite3_bind_int64(stmt, 4, (int64_t)limit + 1);
    Cairn__TopicLogs *page = ca_reply_alloc(reply, sizeof *page);
    cairn__topic_logs__init(page);
    page->logs = ca_reply_alloc(reply, limit * sizeof *page->logs);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_logs == limit) {
            page->more = true;
            break;
        }
        page->logs[page->n_logs++] = s_log_new(reply, stmt, 0);
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        s_answer(reply, CAIRN__RESPONSE__BODY_TOPIC_RESOLVE, page);
    else
        s_read_failed(reply, stmt, rc, "the topic's logs");
    sqlite3_reset(stmt);
}

//  ---- cursors -----------------------------------------------------------------------

static void s_cursor_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CursorGet *get = request->cursor_get;
    if (!s_name_ok(get->name, reply) || !s_log_ok(get->log, "log", reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT seq FROM logbook_cursors WHERE name = ?1 AND author = ?2 AND log_id = ?3",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, get->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, get->log->author.data, (int)get->log->author.len, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, (int64_t)get->log->log_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__CursorPosition *position = ca_reply_alloc(reply, sizeof *position);
        cairn__cursor_position__init(position);
        position->name = get->name; //  the request outlives the packing
        position->log = get->log;
        position->seq = (uint64_t)sqlite3_column_int64(stmt, 0);
        s_answer(reply, CAIRN__RESPONSE__BODY_CURSOR_GET, position);
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "cursor '%s' has no position in this log; set one with cursor_set",
                       get->name);
    else
        s_read_failed(reply, stmt, rc, "the cursor");
    sqlite3_reset(stmt);
}

static void s_cursor_set(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CursorSet *set = request->cursor_set;
    if (!s_name_ok(set->name, reply) || !s_log_ok(set->log, "log", reply) ||
        !s_int63_ok(set->seq, "seq", reply))
        return;
    char *refused = ca_reply_alloc(reply, 256);
    snprintf(refused, 256,
             "cursor '%s' is past seq %" PRIu64 " in this log and moves only forward; "
             "get its position, or set with force",
             set->name, set->seq);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO logbook_cursors (name, author, log_id, seq)"
                       " VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT (name, author, log_id) DO UPDATE SET seq = excluded.seq"
                       " WHERE ?5 OR excluded.seq >= logbook_cursors.seq",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT, refused);
    ca_write_text(write, set->name);
    ca_write_blob(write, set->log->author.data, set->log->author.len);
    ca_write_int(write, (int64_t)set->log->log_id);
    ca_write_int(write, (int64_t)set->seq);
    ca_write_int(write, set->force ? 1 : 0);
    ca_store_write(store, &write, reply);
}

static void s_cursor_set_done(ca_store_t *store, const Cairn__Request *request,
                              const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__CursorSet *set = request->cursor_set;
    Cairn__CursorPosition *position = ca_reply_alloc(reply, sizeof *position);
    cairn__cursor_position__init(position);
    position->name = set->name;
    position->log = set->log;
    position->seq = set->seq;
    s_answer(reply, CAIRN__RESPONSE__BODY_CURSOR_SET, position);
}

static void s_cursor_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__CursorDelete *delete = request->cursor_delete;
    if (!s_name_ok(delete->name, reply) || (delete->log && !s_log_ok(delete->log, "log", reply)))
        return;
    ca_write_t *write = ca_write_new();
    if (delete->log) {
        ca_write_statement(
            write, "DELETE FROM logbook_cursors WHERE name = ?1 AND author = ?2 AND log_id = ?3",
            CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_NOT_FOUND,
            "the cursor has no position in this log; nothing to delete");
        ca_write_text(write, delete->name);
        ca_write_blob(write, delete->log->author.data, delete->log->author.len);
        ca_write_int(write, (int64_t) delete->log->log_id);
    } else {
        ca_write_statement(write, "DELETE FROM logbook_cursors WHERE name = ?1",
                           CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_NOT_FOUND,
                           "no cursor of this name; nothing to delete");
        ca_write_text(write, delete->name);
    }
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_cursor_deleted(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_deleted_done(write, reply, CAIRN__RESPONSE__BODY_CURSOR_DELETE);
}

//  ---- groups --------------------------------------------------------------------------

#define GROUP_MISSING_SQL "SELECT 1 FROM logbook_groups WHERE group_id = ?1"

static void s_group_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__GroupGet *get = request->group_get;
    if (!s_key_ok(get->group_id, "group_id", false, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT version, state FROM logbook_groups WHERE group_id = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, get->group_id.data, (int)get->group_id.len, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__GroupState *group = ca_reply_alloc(reply, sizeof *group);
        cairn__group_state__init(group);
        group->group_id = get->group_id;
        group->version = (uint64_t)sqlite3_column_int64(stmt, 0);
        group->state.len = (size_t)sqlite3_column_bytes(stmt, 1);
        group->state.data = ca_reply_memdup(reply, sqlite3_column_blob(stmt, 1), group->state.len);
        s_answer(reply, CAIRN__RESPONSE__BODY_GROUP_GET, group);
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no group with this id; create it with group_put "
                       "version 0");
    else
        s_read_failed(reply, stmt, rc, "the group");
    sqlite3_reset(stmt);
}

static void s_group_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__GroupPut *put = request->group_put;
    if (!s_key_ok(put->group_id, "group_id", false, reply))
        return;
    if (put->version >= INT64_MAX) {
        ca_reply_error(reply, CA_INVALID, "version %" PRIu64 " is beyond the last one (2^63-2)",
                       put->version);
        return;
    }
    if (put->state.len > CA_LOGBOOK_STATE_MAX) {
        ca_reply_error(reply, CA_INVALID, "state is %zu bytes; at most %d", put->state.len,
                       CA_LOGBOOK_STATE_MAX);
        return;
    }
    ca_write_t *write = ca_write_new();
    if (put->version == 0) {
        ca_write_statement(write,
                           "INSERT INTO logbook_groups (group_id, version, state)"
                           " VALUES (?1, 1, coalesce(?2, x'')) ON CONFLICT (group_id) DO NOTHING",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT,
                           "the group exists already; get its version and put over it");
        ca_write_blob(write, put->group_id.data, put->group_id.len);
        ca_write_blob(write, put->state.data, put->state.len);
    } else {
        ca_write_statement(write, GROUP_MISSING_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                           CA_NOT_FOUND, "no group with this id; create it with version 0");
        ca_write_blob(write, put->group_id.data, put->group_id.len);
        char *stale = ca_reply_alloc(reply, 160);
        snprintf(stale, 160,
                 "the group is no longer at version %" PRIu64
                 ": another writer put first; get the group and retry over its version",
                 put->version);
        ca_write_statement(write,
                           "UPDATE logbook_groups SET version = version + 1,"
                           " state = coalesce(?3, x'') WHERE group_id = ?1 AND version = ?2",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT, stale);
        ca_write_blob(write, put->group_id.data, put->group_id.len);
        ca_write_int(write, (int64_t)put->version);
        ca_write_blob(write, put->state.data, put->state.len);
    }
    ca_store_write(store, &write, reply);
}

static void s_group_put_done(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__GroupPut *put = request->group_put;
    Cairn__GroupState *group = ca_reply_alloc(reply, sizeof *group);
    cairn__group_state__init(group);
    group->group_id = put->group_id;
    group->version = put->version + 1;
    s_answer(reply, CAIRN__RESPONSE__BODY_GROUP_PUT, group);
}

static void s_group_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__GroupDelete *delete = request->group_delete;
    if (!s_key_ok(delete->group_id, "group_id", false, reply) ||
        !s_int63_ok(delete->version, "version", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, GROUP_MISSING_SQL, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                       CA_NOT_FOUND, "no group with this id; nothing to delete");
    ca_write_blob(write, delete->group_id.data, delete->group_id.len);
    char *stale = ca_reply_alloc(reply, 160);
    snprintf(stale, 160,
             "the group is not at version %" PRIu64
             ": another writer put first; get the group and retry, or delete with version 0",
             delete->version);
    ca_write_statement(
        write, "DELETE FROM logbook_groups WHERE group_id = ?1 AND (?2 = 0 OR version = ?2)",
        CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT, stale);
    ca_write_blob(write, delete->group_id.data, delete->group_id.len);
    ca_write_int(write, (int64_t) delete->version);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_group_deleted(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_deleted_done(write, reply, CAIRN__RESPONSE__BODY_GROUP_DELETE);
}

//  ---- address book ---------------------------------------------------------------------

static bool s_node_ok(const Cairn__BookNodeInfo *node, ca_reply_t *reply) {
    if (!node) {
        ca_reply_error(reply, CA_INVALID, "node is missing: send the node's info");
        return false;
    }
    if (!s_key_ok(node->node_id, "node.node_id", false, reply))
        return false;
    if (node->timestamp == 0 || node->timestamp > INT64_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "node.timestamp %" PRIu64 " is out of range: send 1..2^63-1 (µs since "
                       "the epoch, when the info was made)",
                       node->timestamp);
        return false;
    }
    if (node->n_addresses > CA_LOGBOOK_ADDRESSES_MAX) {
        ca_reply_error(reply, CA_INVALID, "node has %zu addresses; at most %d", node->n_addresses,
                       CA_LOGBOOK_ADDRESSES_MAX);
        return false;
    }
    for (size_t i = 0; i < node->n_addresses; i++) {
        size_t length = strlen(node->addresses[i]);
        if (length == 0 || length > CA_LOGBOOK_ADDRESS_MAX) {
            ca_reply_error(reply, CA_INVALID, "node.addresses[%zu] is %zu bytes; send 1..%d", i,
                           length, CA_LOGBOOK_ADDRESS_MAX);
            return false;
        }
    }
    if (node->n_topics > CA_LOGBOOK_TOPICS_MAX) {
        ca_reply_error(reply, CA_INVALID, "node has %zu topics; at most %d", node->n_topics,
                       CA_LOGBOOK_TOPICS_MAX);
        return false;
    }
    for (size_t i = 0; i < node->n_topics; i++) {
        char field[48];
        snprintf(field, sizeof field, "node.topics[%zu]", i);
        if (!s_key_ok(node->topics[i], field, false, reply))
            return false;
        for (size_t j = 0; j < i; j++)
            if (memcmp(node->topics[i].data, node->topics[j].data, CA_LOGBOOK_KEY_BYTES) == 0) {
                ca_reply_error(reply, CA_INVALID,
                               "node.topics[%zu] repeats node.topics[%zu]; "
                               "name each topic once",
                               i, j);
                return false;
            }
    }
    return true;
}

//  The node's topics as a JSON array of lower-case hex ids (reply memory).
static char *s_topics_json(const Cairn__BookNodeInfo *node, ca_reply_t *reply) {
    size_t size = 3 + node->n_topics * (2 * CA_LOGBOOK_KEY_BYTES + 3);
    char *json = ca_reply_alloc(reply, size);
    char *at = json;
    *at++ = '[';
    for (size_t i = 0; i < node->n_topics; i++) {
        if (i)
            *at++ = ',';
        *at++ = '"';
        for (size_t b = 0; b < CA_LOGBOOK_KEY_BYTES; b++)
            at += snprintf(at, 3, "%02x", node->topics[i].data[b]);
        *at++ = '"';
    }
    *at++ = ']';
    *at = 0;
    return json;
}

static void s_book_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__BookNodeInfo *node = request->book_put->node;
    if (!s_node_ok(node, reply))
        return;
    size_t size = cairn__book_node_info__get_packed_size(node);
    uint8_t *info = ca_reply_alloc(reply, size);
    cairn__book_node_info__pack(node, info);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO logbook_nodes (node_id, timestamp, bootstrap, info, topics)"
                       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (node_id) DO UPDATE SET"
                       " timestamp = excluded.timestamp, bootstrap = excluded.bootstrap,"
                       " info = excluded.info, topics = excluded.topics"
                       " WHERE excluded.timestamp > logbook_nodes.timestamp",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, node->node_id.data, node->node_id.len);
    ca_write_int(write, (int64_t)node->timestamp);
    ca_write_int(write, node->bootstrap ? 1 : 0);
    ca_write_blob(write, info, size);
    ca_write_text(write, s_topics_json(node, reply));
    ca_store_write(store, &write, reply);
}

static void s_book_put_done(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (!s_results_ok(write, 1, reply))
        return;
    Cairn__BookPutReply *put = ca_reply_alloc(reply, sizeof *put);
    cairn__book_put_reply__init(put);
    put->stored = write->results[0]->changes > 0;
    put->kept_newer = !put->stored;
    s_answer(reply, CAIRN__RESPONSE__BODY_BOOK_PUT, put);
}

static void s_book_remove(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__BookRemove *remove = request->book_remove;
    if (!s_key_ok(remove->node_id, "node_id", false, reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM logbook_nodes WHERE node_id = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       "no node with this id in the address book; nothing to remove");
    ca_write_blob(write, remove->node_id.data, remove->node_id.len);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_book_removed(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_deleted_done(write, reply, (Cairn__Response__BodyCase)request->body_case);
}

static void s_book_remove_older(ca_store_t *store, const Cairn__Request *request,
                                ca_reply_t *reply) {
    uint64_t before = request->book_remove_older->before;
    if (before == 0 || before > INT64_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "before %" PRIu64 " is out of range: send 1..2^63-1 (µs since the epoch)",
                       before);
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM logbook_nodes WHERE timestamp < ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_int(write, (int64_t)before);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

//  protobuf-c's allocator over the reply's memory: decoded infos live as
//  long as the answer and go back with it.
static void *s_reply_allocate(void *data, size_t size) {
    return ca_reply_alloc_large((ca_reply_t *)data, size);
}

static void s_reply_free(void *data, void *pointer) {
    (void)data;
    (void)pointer;
}

//  Decodes a stored info into reply memory; NULL (reply failed) when it
//  does not decode.
static Cairn__BookNodeInfo *s_info_decode(ca_reply_t *reply, sqlite3_stmt *stmt, int column) {
    ProtobufCAllocator allocator = {s_reply_allocate, s_reply_free, reply};
    Cairn__BookNodeInfo *node = cairn__book_node_info__unpack(
        &allocator, (size_t)sqlite3_column_bytes(stmt, column), sqlite3_column_blob(stmt, column));
    if (!node)
        ca_reply_error(reply, CA_CORRUPT,
                       "a stored address-book entry does not decode; remove it and put it again");
    return node;
}

static void s_book_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__BookList *list = request->book_list;
    if (!s_key_ok(list->topic, "topic", true, reply) ||
        !s_key_ok(list->after, "after", true, reply))
        return;
    size_t limit = ca_page_limit(list->limit, CA_LOGBOOK_PAGE_DEFAULT, CA_LOGBOOK_PAGE_MAX, "nodes",
                                 "after", reply);
    if (!limit)
        return;
    sqlite3_stmt *stmt =
        list->topic.len
            ? ca_store_prepare(store,
                               "SELECT n.info FROM logbook_node_topics t"
                               " JOIN logbook_nodes n ON n.node_id = t.node_id"
                               " WHERE t.topic = ?4 AND t.node_id > ?1 AND (?2 = 0 OR n.bootstrap)"
                               " ORDER BY t.node_id LIMIT ?3",
                               reply)
            : ca_store_prepare(store,
                               "SELECT info FROM logbook_nodes WHERE node_id > ?1"
                               " AND (?2 = 0 OR bootstrap) ORDER BY node_id LIMIT ?3",
                               reply);
    if (!stmt)
        return;
    s_bind_key(stmt, 1, list->after);
    sqlite3_bind_int(stmt, 2, list->bootstrap_only ? 1 : 0);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1);
    if (list->topic.len) {
        char hex[2 * CA_LOGBOOK_KEY_BYTES + 1];
        for (size_t b = 0; b < CA_LOGBOOK_KEY_BYTES; b++)
            snprintf(hex + 2 * b, 3, "%02x", list->topic.data[b]);
        sqlite3_bind_text(stmt, 4, hex, -1, SQLITE_TRANSIENT);
    }
    Cairn__BookPage *page = ca_reply_alloc(reply, sizeof *page);
    cairn__book_page__init(page);
    page->nodes = ca_reply_alloc(reply, limit * sizeof *page->nodes);
    size_t bytes = 0;
    bool failed = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        size_t size = (size_t)sqlite3_column_bytes(stmt, 0);
        if (page->n_nodes == limit || (page->n_nodes && bytes + size > CA_LOGBOOK_PAGE_BYTES_MAX)) {
            page->more = true;
            break;
        }
        Cairn__BookNodeInfo *node = s_info_decode(reply, stmt, 0);
        if (!node) {
            failed = true;
            break;
        }
        page->nodes[page->n_nodes++] = node;
        bytes += size;
    }
    if (!failed && (rc == SQLITE_ROW || rc == SQLITE_DONE))
        s_answer(reply, CAIRN__RESPONSE__BODY_BOOK_LIST, page);
    else if (!failed)
        s_read_failed(reply, stmt, rc, "the address book");
    sqlite3_reset(stmt);
}

static void s_book_random(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    bool bootstrap = request->book_random->bootstrap;
    //  One statement, so the count and the row come from one snapshot.
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        "SELECT info FROM logbook_nodes WHERE (?1 = 0 OR bootstrap) ORDER BY node_id LIMIT 1"
        " OFFSET (SELECT abs(random() % max(count(*), 1)) FROM logbook_nodes"
        "         WHERE (?1 = 0 OR bootstrap))",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_int(stmt, 1, bootstrap ? 1 : 0);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__BookNodeInfo *info = s_info_decode(reply, stmt, 0);
        if (info) {
            Cairn__BookNode *node = ca_reply_alloc(reply, sizeof *node);
            cairn__book_node__init(node);
            node->node = info;
            s_answer(reply, CAIRN__RESPONSE__BODY_BOOK_RANDOM, node);
        }
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "the address book has no %s; put one with book_put",
                       bootstrap ? "bootstrap node" : "node");
    else
        s_read_failed(reply, stmt, rc, "the address book");
    sqlite3_reset(stmt);
}

static void s_book_counts(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        "SELECT count(*), coalesce(sum(bootstrap), 0),"
        " (SELECT count(DISTINCT topic) FROM logbook_node_topics) FROM logbook_nodes",
        reply);
    if (!stmt)
        return;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__BookCountsReply *counts = ca_reply_alloc(reply, sizeof *counts);
        cairn__book_counts_reply__init(counts);
        counts->nodes = (uint64_t)sqlite3_column_int64(stmt, 0);
        counts->bootstrap_nodes = (uint64_t)sqlite3_column_int64(stmt, 1);
        counts->topics = (uint64_t)sqlite3_column_int64(stmt, 2);
        s_answer(reply, CAIRN__RESPONSE__BODY_BOOK_COUNTS, counts);
    } else
        s_read_failed(reply, stmt, rc, "the address book");
    sqlite3_reset(stmt);
}

//  ---- the table ----------------------------------------------------------------------------

#define WRITE_ROUTE CA_ROUTE_ONE_WORKER

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE, "topic_associate", s_topic_associate, s_topic_changed,
     WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_TOPIC_REMOVE, "topic_remove", s_topic_remove, s_topic_changed,
     WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_TOPIC_RESOLVE, "topic_resolve", s_topic_resolve, NULL, 0},
    {CAIRN__REQUEST__BODY_CURSOR_GET, "cursor_get", s_cursor_get, NULL, 0},
    {CAIRN__REQUEST__BODY_CURSOR_SET, "cursor_set", s_cursor_set, s_cursor_set_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_CURSOR_DELETE, "cursor_delete", s_cursor_delete, s_cursor_deleted,
     WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_GROUP_GET, "group_get", s_group_get, NULL, 0},
    {CAIRN__REQUEST__BODY_GROUP_PUT, "group_put", s_group_put, s_group_put_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_GROUP_DELETE, "group_delete", s_group_delete, s_group_deleted,
     WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_BOOK_PUT, "book_put", s_book_put, s_book_put_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_BOOK_REMOVE, "book_remove", s_book_remove, s_book_removed, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER, "book_remove_older", s_book_remove_older,
     s_book_removed, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_BOOK_LIST, "book_list", s_book_list, NULL, 0},
    {CAIRN__REQUEST__BODY_BOOK_RANDOM, "book_random", s_book_random, NULL, 0},
    {CAIRN__REQUEST__BODY_BOOK_COUNTS, "book_counts", s_book_counts, NULL, 0},
};

const ca_store_def_t logbook_store_def = {
    .name = "logbook",
    .schema = &logbook_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test ---------------------------------------------------------------
//  The statements' rules through a writer and one worker (ca_testbed); the
//  requests over a real node, every bad input and the races are in
//  tests/e2e_logbook.c.

#include "ca_caller.h"
#include "ca_testbed.h"

static Cairn__Response *s_test_call(ca_caller_t *caller, Cairn__Request__BodyCase body_case,
                                    void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = body_case;
    request.topic_associate = body; //  every member is a pointer at the same place
    return ca_caller_call(caller, &request);
}

static void s_test_cursor(ca_caller_t *caller, Cairn__LogbookLog *log, uint64_t seq, bool force,
                          Cairn__Status status) {
    Cairn__CursorSet set = CAIRN__CURSOR_SET__INIT;
    set.name = "c";
    set.log = log;
    set.seq = seq;
    set.force = force;
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_CURSOR_SET, &set), (int)status,
                      NULL);
}

static void s_test_group(ca_caller_t *caller, uint8_t *id, uint64_t version, Cairn__Status status) {
    Cairn__GroupPut put = CAIRN__GROUP_PUT__INIT;
    put.group_id = (ProtobufCBinaryData){CA_LOGBOOK_KEY_BYTES, id};
    put.version = version;
    put.state = (ProtobufCBinaryData){1, id};
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_GROUP_PUT, &put), (int)status, NULL);
}

//  BookPut of `id` at `timestamp` with `topics` (0..2): whether it was stored.
static bool s_test_book(ca_caller_t *caller, uint8_t *id, uint64_t timestamp, uint8_t *topics,
                        size_t count) {
    ProtobufCBinaryData list[2];
    for (size_t i = 0; i < count; i++)
        list[i] = (ProtobufCBinaryData){CA_LOGBOOK_KEY_BYTES, topics + i * CA_LOGBOOK_KEY_BYTES};
    Cairn__BookNodeInfo info = CAIRN__BOOK_NODE_INFO__INIT;
    info.node_id = (ProtobufCBinaryData){CA_LOGBOOK_KEY_BYTES, id};
    info.timestamp = timestamp;
    info.topics = list;
    info.n_topics = count;
    Cairn__BookPut put = CAIRN__BOOK_PUT__INIT;
    put.node = &info;
    Cairn__Response *response = ca_response_ok(
        s_test_call(caller, CAIRN__REQUEST__BODY_BOOK_PUT, &put), CAIRN__RESPONSE__BODY_BOOK_PUT);
    bool stored = response->book_put->stored;
    cairn__response__free_unpacked(response, NULL);
    return stored;
}

static void s_test_counts(ca_caller_t *caller, uint64_t nodes, uint64_t topics) {
    Cairn__BookCounts counts = CAIRN__BOOK_COUNTS__INIT;
    Cairn__Response *response =
        ca_response_ok(s_test_call(caller, CAIRN__REQUEST__BODY_BOOK_COUNTS, &counts),
                       CAIRN__RESPONSE__BODY_BOOK_COUNTS);
    CA_CHECK(response->book_counts->nodes == nodes && response->book_counts->topics == topics);
    cairn__response__free_unpacked(response, NULL);
}

void logbook_test(bool verbose) {
    if (verbose)
        printf(" * logbook: ");
    ca_testbed_t *bed = ca_testbed_new(&logbook_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    uint8_t a[CA_LOGBOOK_KEY_BYTES], b[CA_LOGBOOK_KEY_BYTES], topics[2 * CA_LOGBOOK_KEY_BYTES];
    memset(a, 0xaa, sizeof a);
    memset(b, 0xbb, sizeof b);
    memset(topics, 0x11, CA_LOGBOOK_KEY_BYTES);
    memset(topics + CA_LOGBOOK_KEY_BYTES, 0x22, CA_LOGBOOK_KEY_BYTES);

    //  Cursors: forward, the same seq, backward refused unless forced.
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = (ProtobufCBinaryData){CA_LOGBOOK_KEY_BYTES, a};
    s_test_cursor(caller, &log, 5, false, CAIRN__STATUS__OK);
    s_test_cursor(caller, &log, 5, false, CAIRN__STATUS__OK);
    s_test_cursor(caller, &log, 4, false, CAIRN__STATUS__CONFLICT);
    s_test_cursor(caller, &log, 4, true, CAIRN__STATUS__OK);
    s_test_cursor(caller, &log, 3, false, CAIRN__STATUS__CONFLICT);

    //  Groups: create once, replace the current version only.
    s_test_group(caller, a, 1, CAIRN__STATUS__NOT_FOUND);
    s_test_group(caller, a, 0, CAIRN__STATUS__OK);
    s_test_group(caller, a, 0, CAIRN__STATUS__CONFLICT);
    s_test_group(caller, a, 1, CAIRN__STATUS__OK);
    s_test_group(caller, a, 1, CAIRN__STATUS__CONFLICT);
    s_test_group(caller, a, 2, CAIRN__STATUS__OK);

    //  Address book: newer wins; the topic index follows updates and deletes.
    CA_CHECK(s_test_book(caller, a, 10, topics, 2));
    CA_CHECK(s_test_book(caller, b, 10, topics, 1));
    s_test_counts(caller, 2, 2);
    CA_CHECK(!s_test_book(caller, a, 10, NULL, 0));
    CA_CHECK(!s_test_book(caller, a, 9, NULL, 0));
    s_test_counts(caller, 2, 2);
    CA_CHECK(s_test_book(caller, a, 11, topics, 1));
    s_test_counts(caller, 2, 1);
    Cairn__BookRemove remove = CAIRN__BOOK_REMOVE__INIT;
    remove.node_id = (ProtobufCBinaryData){CA_LOGBOOK_KEY_BYTES, a};
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_BOOK_REMOVE, &remove), 0, NULL);
    ca_response_fails(s_test_call(caller, CAIRN__REQUEST__BODY_BOOK_REMOVE, &remove),
                      CAIRN__STATUS__NOT_FOUND, "no node");
    s_test_counts(caller, 1, 1);
    Cairn__BookRemoveOlder older = CAIRN__BOOK_REMOVE_OLDER__INIT;
    older.before = 11;
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER, &older), 0, NULL);
    s_test_counts(caller, 0, 0);

    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

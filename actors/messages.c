/*  =========================================================================
    messages - chat messages in channels: store, page, get, delete, search,
    statistics and vacuum

    What it owns: the `messages` table and its full-text index
    `messages_fts` (both in messages_schema, shared with the channels, peers and
    gossip pools). It reads `channels` (a message belongs to an existing
    channel) and writes one column there: a channel's last_activity.

    Requests: schemas/messages.proto (pool "messages"). Stores and
    deletes are answered after COMMIT.

    Rules, each refused with INVALID and a message naming the field:
      - id: UUID text (ca_validate_uuid), stored as given (case kept);
      - timestamp: finite, > 0 (unix seconds, fractions allowed);
      - sender_id: a peer id (ca_validate_peer_id); sender_name <= 128 bytes;
      - channel: a channel name (ca_validate_channel_name) of an existing
        channel, else NOT_FOUND;
      - content <= settings.max_content_bytes; signature exactly 64 bytes;
      - nonce 12..24 bytes when encrypted, empty when not.

    Signatures (schemas/messages.proto, "Signature"): in a signed channel
    the sender_id must name a peer of the peers table (else NOT_FOUND)
    whose public key verifies the signature over message_encode's bytes
    (else UNAUTHORIZED); a blocked sender is UNAUTHORIZED in every channel.
    The channel's mode and the sender's row are read on this worker's read
    connection, so that the Ed25519 check runs here, in parallel, and not
    in the writer; the write then checks both again in its savepoint.

    Invariants:
      - A store is one savepoint in the writer: the channel must exist, the
        id must be new (else CONFLICT, nothing changes), then the row is
        inserted and the channel's last_activity becomes
        max(last_activity, timestamp). The checks run inside the write, so
        no race with a concurrent ChannelDelete or duplicate store.
      - Pages are newest first: ORDER BY timestamp DESC, id DESC, a total
        order (ids are unique), served by the index messages_by_channel_time
        (channel, timestamp DESC, id DESC). The keyset cursor (the last
        message of the previous page) is a range on that index, so page
        10,000 costs what page 1 costs; `offset` walks the index.
      - A page asks for limit+1 rows: the extra one only sets `more`.
        Limits over MESSAGES_PAGE_MAX are refused, never clamped.
      - Encrypted messages are never in messages_fts (messages_schema's triggers
        keep the index in step with inserts and deletes).
      - A malformed FTS5 query is the client's error (INVALID), which
        SQLite reports as SQLITE_ERROR from sqlite3_step; any other failure
        is the node's (INTERNAL, BUSY).
    ========================================================================= */

#include "messages.h"
#include "ca_log.h"
#include "ca_names.h"
#include "messages_schema.h"
#include "ca_sign.h"
#include "message_encoding.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

//  ---- SQL ---------------------------------------------------------------------
//  The statements declared in messages.h are also what cairn-bench's raw
//  SQLite baselines run, so that both sides do the same work.

#define MESSAGE_COLUMNS                                                                            \
    "id, timestamp, sender_id, sender_name, channel, content, encrypted, signature, nonce"
#define MESSAGE_COLUMNS_M                                                                          \
    "m.id, m.timestamp, m.sender_id, m.sender_name, m.channel, m.content, m.encrypted, "           \
    "m.signature, m.nonce"

static const char s_sql_channel_exists[] = "SELECT 1 FROM channels WHERE name = ?1";

//  Signatures (messages.proto, "Signature"): the channel's mode and the
//  sender's key, read before the write; the write checks both again.
//  One read: ?1 channel, ?2 sender_id; no row: no such channel; NULL key:
//  the sender is not a peer.
static const char s_sql_channel_sender[] =
    "SELECT c.signed_messages, p.public_key, p.blocked FROM channels c"
    " LEFT JOIN peers p ON p.peer_id = ?2 WHERE c.name = ?1";
static const char s_sql_channel_mode[] =
    "SELECT 1 FROM channels WHERE name = ?1 AND signed_messages = ?2";
static const char s_sql_sender_unchanged[] =
    "SELECT 1 FROM peers WHERE peer_id = ?1 AND public_key = ?2 AND blocked = 0";
static const char s_sql_sender_blocked[] =
    "SELECT 1 FROM peers WHERE peer_id = ?1 AND blocked <> 0";

static const char s_sql_id_exists[] = "SELECT 1 FROM messages WHERE id = ?1";

static const char s_sql_any_pending[] = "SELECT 1 FROM messages_fts_pending LIMIT 1";

//  The seq: past the newest row and past every seq ever deleted
//  (messages_seq_floor), so never given twice; two index lookups.
const char messages_sql_insert[] =
    "INSERT INTO messages (seq, id, timestamp, sender_id, sender_name, channel, content, encrypted,"
    " signature, nonce) VALUES (max(coalesce((SELECT max(seq) FROM messages), 0),"
    " (SELECT floor FROM messages_seq_floor)) + 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const char messages_sql_touch_channel[] =
    "UPDATE channels SET last_activity = max(last_activity, ?2) WHERE name = ?1";

//  ?1 channel, ?2 since, ?3 limit + 1, ?4 offset
const char messages_sql_list_offset[] = "SELECT " MESSAGE_COLUMNS " FROM messages"
                                        " WHERE channel = ?1 AND timestamp > ?2"
                                        " ORDER BY timestamp DESC, id DESC LIMIT ?3 OFFSET ?4";

//  ?1 channel, ?2 since, ?3 limit + 1, ?4 before_timestamp, ?5 before_id
//  (an empty before_id makes the cursor "older than before_timestamp")
const char messages_sql_list_keyset[] =
    "SELECT " MESSAGE_COLUMNS " FROM messages"
    " WHERE channel = ?1 AND timestamp > ?2 AND (timestamp, id) < (?4, ?5)"
    " ORDER BY timestamp DESC, id DESC LIMIT ?3";

static const char s_sql_get[] = "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1";

static const char s_sql_delete_channel[] = "DELETE FROM messages WHERE channel = ?1";
static const char s_sql_delete_before[] = "DELETE FROM messages WHERE timestamp < ?1";
static const char s_sql_delete_channel_before[] =
    "DELETE FROM messages WHERE channel = ?1 AND timestamp < ?2";

//  Best matches first (bm25), then newest, so equal ranks page stably.
//  ?1 query, ?2 limit + 1 [, ?3 channel]
static const char s_sql_search[] =
    "SELECT " MESSAGE_COLUMNS_M " FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid"
    " WHERE messages_fts MATCH ?1 AND m.encrypted = 0"
    " ORDER BY messages_fts.rank, m.timestamp DESC, m.id DESC LIMIT ?2";
static const char s_sql_search_channel[] =
    "SELECT " MESSAGE_COLUMNS_M " FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid"
    " WHERE messages_fts MATCH ?1 AND m.encrypted = 0 AND m.channel = ?3"
    " ORDER BY messages_fts.rank, m.timestamp DESC, m.id DESC LIMIT ?2";

//  One statement, so one snapshot: the counts agree with each other.
static const char s_sql_stats[] =
    "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM channels),"
    " (SELECT count(*) FROM peers), (SELECT min(timestamp) FROM messages),"
    " (SELECT max(timestamp) FROM messages)";

//  ---- replies and checks ------------------------------------------------------------

//  A formatted string that lives as long as the reply.
static char *s_printf(ca_reply_t *reply, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static char *s_printf(ca_reply_t *reply, const char *format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return ca_reply_strdup(reply, text);
}

static bool s_channel_name_ok(const char *field, const char *name, ca_reply_t *reply) {
    const char *problem = ca_validate_channel_name(name);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s: %s (channel names are '#' then 1..63 of [A-Za-z0-9._-], "
                       "e.g. #general)",
                       field, problem);
    return problem == NULL;
}

static bool s_uuid_ok(const char *field, const char *id, ca_reply_t *reply) {
    const char *problem = ca_validate_uuid(id);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s: %s (e.g. 123e4567-e89b-12d3-a456-426614174000); give each message "
                       "a UUID",
                       field, problem);
    return problem == NULL;
}

//  A time that must be given: finite and > 0.
static bool s_time_ok(const char *field, double value, ca_reply_t *reply) {
    if (isfinite(value) && value > 0)
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s must be a finite time after 1970 in unix seconds (got %g); set it to "
                   "when the message was written",
                   field, value);
    return false;
}

//  An optional time filter: 0 (absent) or finite and > 0.
static bool s_filter_time_ok(const char *field, double value, ca_reply_t *reply) {
    if (value == 0 || (isfinite(value) && value > 0))
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s must be 0 (no filter) or a finite time in unix seconds (got %g)", field,
                   value);
    return false;
}

//  ca_page_limit for a page of messages, as the int64 the statements bind.
static bool s_limit_ok(uint32_t asked, int64_t *effective, ca_reply_t *reply) {
    *effective = (int64_t)ca_page_limit(asked, MESSAGES_PAGE_DEFAULT, MESSAGES_PAGE_MAX,
                                        "messages per page", "the cursor or offset", reply);
    return *effective != 0;
}

static bool s_message_ok(const Cairn__Message *message, int64_t max_content, ca_reply_t *reply) {
    if (!s_uuid_ok("message.id", message->id, reply) ||
        !s_time_ok("message.timestamp", message->timestamp, reply))
        return false;
    const char *problem = ca_validate_peer_id(message->sender_id);
    if (problem) {
        ca_reply_error(reply, CA_INVALID,
                       "message.sender_id: %s (peer ids are 1..%d bytes of [A-Za-z0-9._:-])",
                       problem, CA_PEER_ID_MAX);
        return false;
    }
    size_t name_length = strlen(message->sender_name);
    if (name_length > MESSAGES_SENDER_NAME_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "message.sender_name is %zu bytes; the limit is %d bytes: shorten it",
                       name_length, MESSAGES_SENDER_NAME_MAX);
        return false;
    }
    if (!s_channel_name_ok("message.channel", message->channel, reply))
        return false;
    if ((int64_t)message->content.len > max_content) {
        ca_reply_error(reply, CA_INVALID,
                       "message.content is %zu bytes; the limit is %lld bytes "
                       "(setting messages/max_content_bytes): split it or store it elsewhere",
                       message->content.len, (long long)max_content);
        return false;
    }
    if (message->signature.len != MESSAGES_SIGNATURE_BYTES) {
        ca_reply_error(reply, CA_INVALID,
                       "message.signature is %zu bytes; it must be exactly %d bytes (Ed25519)",
                       message->signature.len, MESSAGES_SIGNATURE_BYTES);
        return false;
    }
    if (message->encrypted &&
        (message->nonce.len < MESSAGES_NONCE_MIN || message->nonce.len > MESSAGES_NONCE_MAX)) {
        ca_reply_error(reply, CA_INVALID,
                       "message.nonce is %zu bytes; an encrypted message needs a nonce of "
                       "%d..%d bytes",
                       message->nonce.len, MESSAGES_NONCE_MIN, MESSAGES_NONCE_MAX);
        return false;
    }
    if (!message->encrypted && message->nonce.len) {
        ca_reply_error(reply, CA_INVALID,
                       "message.nonce is set (%zu bytes) but the message is not encrypted: "
                       "send no nonce, or set encrypted",
                       message->nonce.len);
        return false;
    }
    return true;
}

//  ---- reads -------------------------------------------------------------------------

//  A failed read: SQLite's message with the status it maps to.
static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  SQLITE_ROW when the channel exists, SQLITE_DONE when not, else an error
//  already answered.
static int s_channel_lookup(ca_store_t *store, const char *name, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, s_sql_channel_exists, reply);
    if (!stmt)
        return SQLITE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "channel %s does not exist; create it first", name);
    else if (rc != SQLITE_ROW)
        s_read_failed(reply, stmt, rc, "look up the channel");
    sqlite3_reset(stmt);
    return rc;
}

static char *s_column_text(sqlite3_stmt *stmt, int column, ca_reply_t *reply) {
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return ca_reply_strdup(reply, text ? (const char *)text : "");
}

static ProtobufCBinaryData s_column_blob(sqlite3_stmt *stmt, int column, ca_reply_t *reply) {
    ProtobufCBinaryData data = {0, NULL};
    const void *blob = sqlite3_column_blob(stmt, column);
    data.len = (size_t)sqlite3_column_bytes(stmt, column);
    if (data.len)
        data.data = (uint8_t *)ca_reply_memdup(reply, blob, data.len);
    return data;
}

//  The current row (MESSAGE_COLUMNS order) as a Message owned by the reply.
static Cairn__Message *s_message_from_row(sqlite3_stmt *stmt, ca_reply_t *reply) {
    Cairn__Message *message = (Cairn__Message *)ca_reply_alloc(reply, sizeof(Cairn__Message));
    cairn__message__init(message);
    message->id = s_column_text(stmt, 0, reply);
    message->timestamp = sqlite3_column_double(stmt, 1);
    message->sender_id = s_column_text(stmt, 2, reply);
    message->sender_name = s_column_text(stmt, 3, reply);
    message->channel = s_column_text(stmt, 4, reply);
    message->content = s_column_blob(stmt, 5, reply);
    message->encrypted = sqlite3_column_int(stmt, 6) != 0;
    message->signature = s_column_blob(stmt, 7, reply);
    message->nonce = s_column_blob(stmt, 8, reply); //  NULL column: empty
    return message;
}

//  Steps a bound statement that asks for limit + 1 rows into a page.
//  Returns SQLITE_DONE, or SQLite's error (the statement is reset).
static int s_collect_page(sqlite3_stmt *stmt, int64_t limit, ca_reply_t *reply,
                          Cairn__MessagePage **page_p) {
    Cairn__MessagePage *page =
        (Cairn__MessagePage *)ca_reply_alloc(reply, sizeof(Cairn__MessagePage));
    cairn__message_page__init(page);
    page->messages =
        (Cairn__Message **)ca_reply_alloc(reply, (size_t)limit * sizeof(Cairn__Message *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((int64_t)page->n_messages == limit) {
            page->more = true;
            rc = SQLITE_DONE;
            break;
        }
        page->messages[page->n_messages++] = s_message_from_row(stmt, reply);
    }
    *page_p = page;
    return rc;
}

static void s_message_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MessageList *list = request->message_list;
    int64_t limit;
    if (!s_channel_name_ok("channel", list->channel, reply) ||
        !s_limit_ok(list->limit, &limit, reply) || !s_filter_time_ok("since", list->since, reply) ||
        !s_filter_time_ok("before_timestamp", list->before_timestamp, reply))
        return;
    bool has_id = *list->before_id != 0;
    if (has_id && !s_uuid_ok("before_id", list->before_id, reply))
        return;
    if (has_id && list->before_timestamp == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "before_id needs before_timestamp: pass the timestamp and id of the last "
                       "message of the previous page");
        return;
    }
    bool cursor = list->before_timestamp > 0;
    if (cursor && list->offset) {
        ca_reply_error(reply, CA_INVALID,
                       "offset and the cursor (before_timestamp, before_id) cannot be combined: "
                       "page with one or the other");
        return;
    }
    if (s_channel_lookup(store, list->channel, reply) != SQLITE_ROW)
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, cursor ? messages_sql_list_keyset : messages_sql_list_offset, reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, list->channel, -1, SQLITE_STATIC);
    sqlite3_bind_double(stmt, 2, list->since);
    sqlite3_bind_int64(stmt, 3, limit + 1);
    if (cursor) {
        sqlite3_bind_double(stmt, 4, list->before_timestamp);
        sqlite3_bind_text(stmt, 5, list->before_id, -1, SQLITE_STATIC);
    } else
        sqlite3_bind_int64(stmt, 4, list->offset);
    Cairn__MessagePage *page;
    int rc = s_collect_page(stmt, limit, reply, &page);
    if (rc != SQLITE_DONE)
        s_read_failed(reply, stmt, rc, "list messages");
    else {
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_LIST;
        response->message_list = page;
    }
    sqlite3_reset(stmt);
}

static void s_message_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *id = request->message_get->id;
    if (!s_uuid_ok("id", id, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store, s_sql_get, reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_GET;
        response->message_get = s_message_from_row(stmt, reply);
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "message %s does not exist (ids match exactly, case included)", id);
    else
        s_read_failed(reply, stmt, rc, "read the message");
    sqlite3_reset(stmt);
}

//  True when the query has something besides white space.
static bool s_has_terms(const char *query) {
    for (; *query; query++)
        if (*query != ' ' && *query != '\t' && *query != '\n' && *query != '\r')
            return true;
    return false;
}

static void s_message_search(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MessageSearch *search = request->message_search;
    int64_t limit;
    size_t query_length = strlen(search->query);
    if (!s_has_terms(search->query)) {
        ca_reply_error(reply, CA_INVALID,
                       "query is empty: give words to search for (FTS5 syntax, e.g. "
                       "hello AND world, \"exact phrase\", prefix*)");
        return;
    }
    if (query_length > MESSAGES_QUERY_MAX) {
        ca_reply_error(reply, CA_INVALID, "query is %zu bytes; the limit is %d bytes: shorten it",
                       query_length, MESSAGES_QUERY_MAX);
        return;
    }
    bool in_channel = *search->channel != 0;
    if (!s_limit_ok(search->limit, &limit, reply) ||
        (in_channel && !s_channel_name_ok("channel", search->channel, reply)))
        return;
    if (in_channel && s_channel_lookup(store, search->channel, reply) != SQLITE_ROW)
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store, in_channel ? s_sql_search_channel : s_sql_search, reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, search->query, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, limit + 1);
    if (in_channel)
        sqlite3_bind_text(stmt, 3, search->channel, -1, SQLITE_STATIC);
    Cairn__MessagePage *page;
    int rc = s_collect_page(stmt, limit, reply, &page);
    if (rc != SQLITE_DONE && (rc & 0xff) == SQLITE_ERROR)
        //  fts5 reports what it could not parse ("fts5: syntax error near
        //  ...", "no such column: x", "unterminated string").
        ca_reply_error(reply, CA_INVALID,
                       "query syntax is wrong (%s): use FTS5 syntax, e.g. hello AND world, "
                       "\"exact phrase\", prefix*; put words with - or : in double quotes",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    else if (rc != SQLITE_DONE)
        s_read_failed(reply, stmt, rc, "search messages");
    else {
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_SEARCH;
        response->message_search = page;
    }
    sqlite3_reset(stmt);
}

static uint64_t s_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void s_message_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, s_sql_stats, reply);
    if (!stmt)
        return;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        s_read_failed(reply, stmt, rc, "count messages");
        sqlite3_reset(stmt);
        return;
    }
    Cairn__MessageStatsReply *stats =
        (Cairn__MessageStatsReply *)ca_reply_alloc(reply, sizeof(Cairn__MessageStatsReply));
    cairn__message_stats_reply__init(stats);
    stats->messages = (uint64_t)sqlite3_column_int64(stmt, 0);
    stats->channels = (uint64_t)sqlite3_column_int64(stmt, 1);
    stats->peers = (uint64_t)sqlite3_column_int64(stmt, 2);
    stats->has_messages = stats->messages > 0;
    if (stats->has_messages) {
        stats->oldest_timestamp = sqlite3_column_double(stmt, 3);
        stats->newest_timestamp = sqlite3_column_double(stmt, 4);
    }
    sqlite3_reset(stmt);
    const char *db_path = ca_store_db_path(store);
    char *wal = zsys_sprintf("%s-wal", db_path);
    stats->db_size_bytes = s_file_size(db_path) + s_file_size(wal);
    zstr_free(&wal);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_STATS;
    response->message_stats = stats;
}

//  ---- signatures --------------------------------------------------------------------

//  What MessageStore read about a message's channel and sender.
typedef struct {
    bool signed_channel;                  //  the channel checks signatures
    bool known;                           //  sender_id is in the peers table
    bool blocked;                         //  ... and blocked
    uint8_t key[CA_ED25519_PUBLIC_BYTES]; //  ... with this key
} s_sender_t;

//  Reads the channel's mode and the sender's row (read connection). False
//  when answered (unknown channel, read error).
static bool s_sender_read(ca_store_t *store, const Cairn__Message *message, s_sender_t *sender,
                          ca_reply_t *reply) {
    memset(sender, 0, sizeof *sender);
    sqlite3_stmt *stmt = ca_store_prepare(store, s_sql_channel_sender, reply);
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, message->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, message->sender_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        sender->signed_channel = sqlite3_column_int64(stmt, 0) != 0;
        //  The schema keeps keys at 32 bytes; NULL: no such peer.
        if (sqlite3_column_bytes(stmt, 1) == CA_ED25519_PUBLIC_BYTES) {
            sender->known = true;
            memcpy(sender->key, sqlite3_column_blob(stmt, 1), CA_ED25519_PUBLIC_BYTES);
            sender->blocked = sqlite3_column_int64(stmt, 2) != 0;
        }
    } else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "channel %s does not exist; create it first",
                       message->channel);
    else
        s_read_failed(reply, stmt, rc, "read the channel and the sender");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

//  The sender may store this message: not blocked, and in a signed channel
//  known with a key that verifies the signature. Else answered.
static bool s_sender_ok(const Cairn__Message *message, const s_sender_t *sender,
                        ca_reply_t *reply) {
    if (sender->blocked) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "sender %s is blocked on this node; its messages are refused (unblock it "
                       "with PeerBlock if that is wrong)",
                       message->sender_id);
        return false;
    }
    if (!sender->signed_channel)
        return true;
    if (!sender->known) {
        ca_reply_error(reply, CA_NOT_FOUND,
                       "sender %s is not a known peer, and channel %s takes only signed "
                       "messages: add the sender with PeerPut (its Ed25519 public key) first",
                       message->sender_id, message->channel);
        return false;
    }
    if (!message_verify(message, sender->key)) {
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "message.signature does not verify with the public key of sender %s: "
                       "sign the bytes schemas/messages.proto defines (\"Signature\") with that "
                       "sender's secret key, e.g. cairn msg send --key-file",
                       message->sender_id);
        return false;
    }
    return true;
}

//  ---- writes ------------------------------------------------------------------------

static void s_message_store(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Message *message = request->message_store->message;
    if (!message) {
        ca_reply_error(reply, CA_INVALID, "message is missing: MessageStore carries the message");
        return;
    }
    if (!s_message_ok(message, ca_store_settings(store)->max_content_bytes, reply))
        return;
    s_sender_t sender;
    if (!s_sender_read(store, message, &sender, reply) || !s_sender_ok(message, &sender, reply))
        return;
    //  What was read is checked again inside the savepoint: the channel
    //  still exists with the same mode, and the sender was not blocked nor
    //  given another key in between.
    ca_write_t *write = ca_write_new();
    ca_write_statement(
        write, s_sql_channel_mode, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
        s_printf(reply, "channel %s does not exist; create it first", message->channel));
    ca_write_text(write, message->channel);
    ca_write_int(write, sender.signed_channel ? 1 : 0);
    if (sender.signed_channel) {
        ca_write_statement(write, s_sql_sender_unchanged, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                           CA_UNAUTHORIZED,
                           s_printf(reply,
                                    "sender %s was blocked or given another key while the "
                                    "message was checked; nothing was stored",
                                    message->sender_id));
        ca_write_text(write, message->sender_id);
        ca_write_blob(write, sender.key, sizeof sender.key);
    } else {
        ca_write_statement(
            write, s_sql_sender_blocked, CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_UNAUTHORIZED,
            s_printf(reply, "sender %s is blocked on this node; its messages are refused",
                     message->sender_id));
        ca_write_text(write, message->sender_id);
    }
    ca_write_statement(write, s_sql_id_exists, CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       s_printf(reply,
                                "message %s already exists and was left unchanged; a new "
                                "message needs a new UUID",
                                message->id));
    ca_write_text(write, message->id);
    ca_write_statement(write, messages_sql_insert, CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE,
                       CA_INTERNAL, "the message was not stored; retry");
    ca_write_text(write, message->id);
    ca_write_real(write, message->timestamp);
    ca_write_text(write, message->sender_id);
    ca_write_text(write, message->sender_name);
    ca_write_text(write, message->channel);
    ca_write_blob(write, message->content.data, message->content.len);
    ca_write_int(write, message->encrypted ? 1 : 0);
    ca_write_blob(write, message->signature.data, message->signature.len);
    if (message->encrypted)
        ca_write_blob(write, message->nonce.data, message->nonce.len);
    else
        ca_write_null(write);
    ca_write_statement(write, messages_sql_touch_channel,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the channel's last activity was not updated; retry");
    ca_write_text(write, message->channel);
    ca_write_real(write, message->timestamp);
    if (!message->encrypted) {
        ca_write_before_commit(write, messages_sql_index_pending);
        ca_write_before_commit(write, messages_sql_clear_pending);
    }
    //  The answer is the id alone: packed now, sent by the writer after COMMIT.
    Cairn__MessageStored *stored =
        (Cairn__MessageStored *)ca_reply_alloc(reply, sizeof(Cairn__MessageStored));
    cairn__message_stored__init(stored);
    stored->id = message->id;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_STORE;
    response->message_store = stored;
    ca_store_write_answered(store, &write, reply, 0, NULL);
}

static void s_message_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__MessageDelete *del = request->message_delete;
    bool by_channel = *del->channel != 0;
    if (!by_channel && del->before == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "give channel, before or both: MessageDelete never deletes every "
                       "message at once");
        return;
    }
    if ((by_channel && !s_channel_name_ok("channel", del->channel, reply)) ||
        !s_filter_time_ok("before", del->before, reply))
        return;
    ca_write_t *write = ca_write_new();
    if (by_channel) {
        ca_write_statement(
            write, s_sql_channel_exists, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
            s_printf(reply, "channel %s does not exist; nothing was deleted", del->channel));
        ca_write_text(write, del->channel);
    }
    const char *sql = !by_channel        ? s_sql_delete_before
                      : del->before == 0 ? s_sql_delete_channel
                                         : s_sql_delete_channel_before;
    ca_write_statement(write, sql, CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    if (by_channel)
        ca_write_text(write, del->channel);
    if (del->before != 0)
        ca_write_real(write, del->before);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_message_delete_done(ca_store_t *store, const Cairn__Request *request,
                                  const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__Deleted *deleted = (Cairn__Deleted *)ca_reply_alloc(reply, sizeof(Cairn__Deleted));
    cairn__deleted__init(deleted);
    //  The DELETE is the last statement; trigger changes are not counted.
    if (write->n_results > 0)
        deleted->count = write->results[write->n_results - 1]->changes;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MESSAGE_DELETE;
    response->message_delete = deleted;
}

static void s_vacuum(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    ca_write_vacuum(write);
    ca_store_write(store, &write, reply);
}

static void s_vacuum_done(ca_store_t *store, const Cairn__Request *request,
                          const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__VacuumReply *vacuum =
        (Cairn__VacuumReply *)ca_reply_alloc(reply, sizeof(Cairn__VacuumReply));
    cairn__vacuum_reply__init(vacuum);
    vacuum->bytes_before = write->bytes_before;
    vacuum->bytes_after = write->bytes_after;
    vacuum->bytes_reclaimed =
        write->bytes_before > write->bytes_after ? write->bytes_before - write->bytes_after : 0;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_VACUUM;
    response->vacuum = vacuum;
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_MESSAGE_STORE, "message_store", s_message_store, NULL, 0},
    {CAIRN__REQUEST__BODY_MESSAGE_LIST, "message_list", s_message_list, NULL, 0},
    {CAIRN__REQUEST__BODY_MESSAGE_GET, "message_get", s_message_get, NULL, 0},
    {CAIRN__REQUEST__BODY_MESSAGE_DELETE, "message_delete", s_message_delete, s_message_delete_done,
     0},
    {CAIRN__REQUEST__BODY_MESSAGE_SEARCH, "message_search", s_message_search, NULL, 0},
    {CAIRN__REQUEST__BODY_MESSAGE_STATS, "message_stats", s_message_stats, NULL, 0},
    {CAIRN__REQUEST__BODY_VACUUM, "vacuum", s_vacuum, s_vacuum_done, 0},
};

//  Upkeep, at start and every maintenance_ms: index clear messages that
//  were queued but not indexed, which only rows written without
//  MessageStore (SQL run on the database from outside) can leave, so that
//  search finds them too.
static void s_messages_tick(ca_store_t *store) {
    sqlite3_stmt *stmt = ca_sql_prepare(ca_store_sql(store), s_sql_any_pending);
    bool pending = stmt && sqlite3_step(stmt) == SQLITE_ROW;
    if (stmt)
        sqlite3_reset(stmt);
    if (!pending)
        return;
    ca_write_t *write = ca_write_new();
    ca_write_before_commit(write, messages_sql_index_pending);
    ca_write_before_commit(write, messages_sql_clear_pending);
    if (ca_store_write_internal(store, &write) != 0)
        ca_log_warning("messages: the writer's queue is full; indexing waits for the next tick");
    else
        ca_log_info("messages: indexing messages stored without MessageStore");
}

const ca_store_def_t messages_store_def = {
    .name = "messages",
    .schema = &messages_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .tick = s_messages_tick,
    .tick_at_start = true,
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"

#include <stdlib.h>

//  ---- fixtures: the messages and requests of this self-test and of
//  tests/e2e_messages.c ------------------------------------------------------------------

const uint8_t messages_fixture_signature[MESSAGES_SIGNATURE_BYTES] = {0x5a, 0x5a, 0x5a};

void messages_fixture_uuid(char uuid[CA_UUID_TEXT_LENGTH + 1], uint32_t high, uint64_t low) {
    snprintf(uuid, CA_UUID_TEXT_LENGTH + 1, "%08x-0000-4000-8000-%012llx", high,
             (unsigned long long)(low & 0xffffffffffffULL));
}

void messages_fixture_message(Cairn__Message *message, const char *id, double timestamp,
                              const char *channel, const char *content) {
    ca_request_message_init(message, id, timestamp, "alice", "Alice", channel, content,
                            messages_fixture_signature, sizeof messages_fixture_signature);
}

Cairn__Response *messages_fixture_store(ca_caller_t *caller, Cairn__Message *message) {
    Cairn__Request request;
    Cairn__MessageStore store;
    ca_request_message_store(&request, &store, 0, message);
    return ca_caller_call(caller, &request);
}

Cairn__Response *messages_fixture_get(ca_caller_t *caller, const char *id) {
    Cairn__Request request;
    Cairn__MessageGet get;
    ca_request_message_get(&request, &get, 0, id);
    return ca_caller_call(caller, &request);
}

Cairn__Response *messages_fixture_delete(ca_caller_t *caller, const char *channel, double before) {
    Cairn__Request request;
    Cairn__MessageDelete del;
    ca_request_message_delete(&request, &del, 0, channel, before);
    return ca_caller_call(caller, &request);
}

Cairn__Response *messages_fixture_search(ca_caller_t *caller, const char *query,
                                         const char *channel, uint32_t limit) {
    Cairn__Request request;
    Cairn__MessageSearch search;
    ca_request_message_search(&request, &search, 0, query, channel, limit);
    return ca_caller_call(caller, &request);
}

Cairn__Response *messages_fixture_stats(ca_caller_t *caller) {
    Cairn__Request request;
    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 0);
    return ca_caller_call(caller, &request);
}

//  ---- the self-test ------------------------------------------------------------------

typedef struct {
    ca_testbed_t *bed;
    ca_caller_t *caller; //  the testbed's
    ca_sql_t *rw;        //  the test's own connection, for seeding channels and checks
} s_test_t;

static const uint8_t s_nonce[MESSAGES_NONCE_MAX] = {9, 8, 7};

//  Stores and returns the status; an error message must contain `fragment`.
static Cairn__Status s_store_status(s_test_t *t, Cairn__Message *message, const char *fragment) {
    Cairn__Response *response = messages_fixture_store(t->caller, message);
    Cairn__Status status = response->status;
    if (status == CAIRN__STATUS__OK)
        assert(streq(response->message_store->id, message->id));
    else if (fragment && !strstr(response->error, fragment)) {
        fprintf(stderr, "error '%s' lacks '%s'\n", response->error, fragment);
        assert(false);
    }
    cairn__response__free_unpacked(response, NULL);
    return status;
}

static Cairn__Response *s_list(s_test_t *t, const char *channel, uint32_t limit, uint32_t offset,
                               double since, double before_timestamp, const char *before_id) {
    Cairn__Request request;
    Cairn__MessageList list;
    ca_request_message_list(&request, &list, 0, channel, limit, offset, since, before_timestamp,
                            before_id);
    return ca_caller_call(t->caller, &request);
}

static uint64_t s_message_count(s_test_t *t) {
    Cairn__Response *response = messages_fixture_stats(t->caller);
    assert(response->status == CAIRN__STATUS__OK);
    uint64_t count = response->message_stats->messages;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static void s_seed_channel(s_test_t *t, const char *name) {
    sqlite3_stmt *stmt = ca_sql_prepare(t->rw, "INSERT INTO channels (name, created_at,"
                                               " last_activity, encrypted) VALUES (?1, 1, 1, 0)");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_reset(stmt);
}

static double s_last_activity(s_test_t *t, const char *name) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(t->rw, "SELECT last_activity FROM channels WHERE name = ?1");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    double value = sqlite3_column_double(stmt, 0);
    sqlite3_reset(stmt);
    return value;
}

static bool s_blob_is(ProtobufCBinaryData data, const void *expected, size_t size) {
    return data.len == size && (size == 0 || memcmp(data.data, expected, size) == 0);
}

static void s_test_store_get(s_test_t *t) {
    //  Empty node: no timestamps.
    Cairn__Response *response = messages_fixture_stats(t->caller);
    assert(response->status == CAIRN__STATUS__OK && !response->message_stats->has_messages);
    assert(response->message_stats->messages == 0 && response->message_stats->channels == 0);
    assert(response->message_stats->db_size_bytes > 0);
    cairn__response__free_unpacked(response, NULL);

    s_seed_channel(t, "#general");
    s_seed_channel(t, "#random");
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 1, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 100.5, "#general", "hello world");
    assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    response = messages_fixture_get(t->caller, id);
    assert(response->status == CAIRN__STATUS__OK);
    Cairn__Message *got = response->message_get;
    assert(streq(got->id, id) && got->timestamp == 100.5 && streq(got->sender_id, "alice"));
    assert(streq(got->sender_name, "Alice") && streq(got->channel, "#general"));
    assert(s_blob_is(got->content, "hello world", 11) && !got->encrypted);
    assert(
        s_blob_is(got->signature, messages_fixture_signature, sizeof messages_fixture_signature) &&
        got->nonce.len == 0);
    cairn__response__free_unpacked(response, NULL);
    //  last_activity only moves forward.
    assert(s_last_activity(t, "#general") == 100.5);
    char older[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(older, 1, 2);
    messages_fixture_message(&message, older, 60, "#general", "");
    assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK); //  empty content is fine
    assert(s_last_activity(t, "#general") == 100.5);

    //  Encrypted, with a nonce; the id's case is kept.
    const char *upper = "ABCDEF01-2345-4678-9ABC-DEF012345678";
    messages_fixture_message(&message, upper, 101, "#random", "ciphertext");
    message.encrypted = true;
    message.nonce.data = (uint8_t *)s_nonce;
    message.nonce.len = sizeof s_nonce;
    assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    response = messages_fixture_get(t->caller, upper);
    assert(response->status == CAIRN__STATUS__OK && response->message_get->encrypted);
    assert(s_blob_is(response->message_get->nonce, s_nonce, sizeof s_nonce));
    assert(streq(response->message_get->id, upper));
    cairn__response__free_unpacked(response, NULL);
    assert(s_last_activity(t, "#random") == 101);

    //  The same id again: CONFLICT, the stored message unchanged.
    messages_fixture_message(&message, id, 200, "#general", "changed");
    assert(s_store_status(t, &message, "already exists") == CAIRN__STATUS__CONFLICT);
    response = messages_fixture_get(t->caller, id);
    assert(s_blob_is(response->message_get->content, "hello world", 11));
    cairn__response__free_unpacked(response, NULL);
    assert(s_last_activity(t, "#general") == 100.5);

    //  Unknown channel.
    messages_fixture_uuid(id, 1, 3);
    messages_fixture_message(&message, id, 100, "#nope", "x");
    assert(s_store_status(t, &message, "channel #nope does not exist; create it first") ==
           CAIRN__STATUS__NOT_FOUND);
    ca_response_check(messages_fixture_get(t->caller, id), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(messages_fixture_get(t->caller, "nope"), CAIRN__STATUS__INVALID, "UUID");
    ca_response_check(messages_fixture_get(t->caller, ""), CAIRN__STATUS__INVALID, "missing");

    response = messages_fixture_stats(t->caller);
    Cairn__MessageStatsReply *stats = response->message_stats;
    assert(stats->messages == 3 && stats->channels == 2 && stats->peers == 0);
    assert(stats->has_messages && stats->oldest_timestamp == 60 && stats->newest_timestamp == 101);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_validation(s_test_t *t) {
    uint64_t before = s_message_count(t);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 2, 1);
    Cairn__Message message;
    Cairn__MessageStore store;
    Cairn__Request request;
    ca_request_message_store(&request, &store, 0, NULL); //  no message at all
    ca_response_check(ca_caller_call(t->caller, &request), CAIRN__STATUS__INVALID,
                      "message is missing");

    const char *bad_ids[] = {"", "not-a-uuid", "123e4567e89b12d3a456426614174000", "../x"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        messages_fixture_message(&message, bad_ids[i], 1, "#general", "x");
        assert(s_store_status(t, &message, "message.id") == CAIRN__STATUS__INVALID);
    }
    const double bad_times[] = {0, -1, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        messages_fixture_message(&message, id, bad_times[i], "#general", "x");
        assert(s_store_status(t, &message, "message.timestamp") == CAIRN__STATUS__INVALID);
    }
    char long_text[CA_PEER_ID_MAX + 2];
    memset(long_text, 'a', sizeof long_text);
    long_text[CA_PEER_ID_MAX + 1] = 0;
    const char *bad_senders[] = {"", "a b", "../x", "a/b", long_text};
    for (size_t i = 0; i < sizeof bad_senders / sizeof bad_senders[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        message.sender_id = (char *)bad_senders[i];
        assert(s_store_status(t, &message, "message.sender_id") == CAIRN__STATUS__INVALID);
    }
    messages_fixture_message(&message, id, 1, "#general", "x");
    message.sender_name = long_text; //  129 bytes
    assert(s_store_status(t, &message, "128") == CAIRN__STATUS__INVALID);
    char long_channel[CA_CHANNEL_NAME_MAX + 2];
    memset(long_channel, 'c', sizeof long_channel);
    long_channel[0] = '#';
    long_channel[CA_CHANNEL_NAME_MAX + 1] = 0;
    const char *bad_channels[] = {"", "#", "general", "../x", "#a b", "#a/b", long_channel};
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++) {
        messages_fixture_message(&message, id, 1, bad_channels[i], "x");
        assert(s_store_status(t, &message, "message.channel") == CAIRN__STATUS__INVALID);
    }
    const size_t bad_signatures[] = {0, 63, 65};
    for (size_t i = 0; i < sizeof bad_signatures / sizeof bad_signatures[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        uint8_t signature[65] = {0};
        message.signature.data = signature;
        message.signature.len = bad_signatures[i];
        assert(s_store_status(t, &message, "exactly 64 bytes") == CAIRN__STATUS__INVALID);
    }
    const size_t bad_nonces[] = {0, 11, 25};
    uint8_t nonce[32] = {0};
    for (size_t i = 0; i < sizeof bad_nonces / sizeof bad_nonces[0]; i++) {
        messages_fixture_message(&message, id, 1, "#general", "x");
        message.encrypted = true;
        message.nonce.data = nonce;
        message.nonce.len = bad_nonces[i];
        assert(s_store_status(t, &message, "12..24 bytes") == CAIRN__STATUS__INVALID);
    }
    messages_fixture_message(&message, id, 1, "#general", "x");
    message.nonce.data = nonce;
    message.nonce.len = 12;
    assert(s_store_status(t, &message, "not encrypted") == CAIRN__STATUS__INVALID);
    //  Content: the limit is fine, one byte more is not, and the message
    //  names the limit.
    size_t limit = CA_DEFAULT_MAX_CONTENT;
    char *big = (char *)malloc(limit + 2);
    memset(big, 'b', limit + 1);
    big[limit + 1] = 0;
    messages_fixture_message(&message, id, 1, "#general", big);
    assert(s_store_status(t, &message, "65536") == CAIRN__STATUS__INVALID);
    assert(s_message_count(t) == before);
    big[limit] = 0;
    messages_fixture_message(&message, id, 50, "#general", big);
    assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    free(big);
    //  The boundary values of the other fields are fine too.
    messages_fixture_uuid(id, 2, 2);
    messages_fixture_message(&message, id, 50, "#general", "x");
    long_text[CA_PEER_ID_MAX] = 0; //  128 bytes
    message.sender_id = long_text;
    message.sender_name = long_text;
    message.encrypted = true;
    message.nonce.data = nonce;
    message.nonce.len = MESSAGES_NONCE_MIN;
    assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    assert(s_message_count(t) == before + 2);
}

typedef struct {
    double timestamp;
    char id[CA_UUID_TEXT_LENGTH + 1];
} s_key_t;

//  Newest first: timestamp DESC, id DESC.
static int s_compare_keys(const void *a, const void *b) {
    const s_key_t *left = (const s_key_t *)a, *right = (const s_key_t *)b;
    if (left->timestamp != right->timestamp)
        return left->timestamp < right->timestamp ? 1 : -1;
    return -strcmp(left->id, right->id);
}

//  Every step of the query plan of `sql` uses `index` and none sorts.
static void s_expect_plan(s_test_t *t, const char *sql, const char *index) {
    char *explain = zsys_sprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_prepare_v2(ca_sql_handle(t->rw), explain, -1, &stmt, NULL) == SQLITE_OK);
    bool uses_index = false;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(stmt, 3);
        uses_index |= strstr(detail, index) != NULL;
        assert(!strstr(detail, "TEMP B-TREE"));
    }
    assert(uses_index);
    sqlite3_finalize(stmt);
    zstr_free(&explain);
}

//  Pages through #paging with offset or cursor; the ids in order go to `out`.
static size_t s_page_all(s_test_t *t, bool cursor, uint32_t limit, double since, s_key_t *out,
                         size_t max) {
    size_t count = 0;
    for (int page = 0; page < 1000; page++) {
        Cairn__Response *response =
            cursor ? s_list(t, "#paging", limit, 0, since, count ? out[count - 1].timestamp : 0,
                            count ? out[count - 1].id : "")
                   : s_list(t, "#paging", limit, (uint32_t)count, since, 0, "");
        assert(response->status == CAIRN__STATUS__OK);
        Cairn__MessagePage *got = response->message_list;
        assert(got->n_messages <= limit && count + got->n_messages <= max);
        for (size_t i = 0; i < got->n_messages; i++) {
            out[count].timestamp = got->messages[i]->timestamp;
            snprintf(out[count].id, sizeof out[count].id, "%s", got->messages[i]->id);
            count++;
        }
        bool more = got->more;
        //  `more` is true exactly when the page is full and rows follow.
        assert(!more || got->n_messages == limit);
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            return count;
    }
    assert(false);
    return count;
}

static void s_test_paging(s_test_t *t) {
    enum { COUNT = 250 };
    s_seed_channel(t, "#paging");
    static s_key_t expected[COUNT], got[COUNT];
    for (unsigned i = 0; i < COUNT; i++) {
        //  Four messages per timestamp, ids not in insertion order.
        expected[i].timestamp = 1000 + i / 4;
        messages_fixture_uuid(expected[i].id, 3, (i * 7919) % 1009);
        char content[32];
        snprintf(content, sizeof content, "page message %u", i);
        Cairn__Message message;
        messages_fixture_message(&message, expected[i].id, expected[i].timestamp, "#paging",
                                 content);
        assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    }
    qsort(expected, COUNT, sizeof expected[0], s_compare_keys);
    //  Offset and keyset paging give the same, complete, ordered sequence.
    const uint32_t limits[] = {1, 7, 100, 250, 1000};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
        for (int cursor = 0; cursor < 2; cursor++) {
            memset(got, 0, sizeof got);
            assert(s_page_all(t, cursor, limits[l], 0, got, COUNT) == COUNT);
            for (size_t i = 0; i < COUNT; i++)
                assert(got[i].timestamp == expected[i].timestamp &&
                       streq(got[i].id, expected[i].id));
        }
    //  Limit 0 is the default page.
    Cairn__Response *response = s_list(t, "#paging", 0, 0, 0, 0, "");
    assert(response->message_list->n_messages == MESSAGES_PAGE_DEFAULT &&
           response->message_list->more);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(s_list(t, "#paging", MESSAGES_PAGE_MAX + 1, 0, 0, 0, ""),
                      CAIRN__STATUS__INVALID, "1000");
    //  since: only newer messages, with either kind of paging.
    for (int cursor = 0; cursor < 2; cursor++) {
        size_t count = s_page_all(t, cursor, 10, 1050, got, COUNT);
        assert(count == COUNT - 51 * 4);
        for (size_t i = 0; i < count; i++)
            assert(got[i].timestamp > 1050 && streq(got[i].id, expected[i].id));
    }
    //  before_timestamp alone: strictly older messages.
    response = s_list(t, "#paging", 1000, 0, 0, 1010, "");
    assert(response->status == CAIRN__STATUS__OK && response->message_list->n_messages == 40);
    assert(response->message_list->messages[0]->timestamp == 1009);
    cairn__response__free_unpacked(response, NULL);
    //  Offset past the end: an empty last page.
    response = s_list(t, "#paging", 10, COUNT, 0, 0, "");
    assert(response->message_list->n_messages == 0 && !response->message_list->more);
    cairn__response__free_unpacked(response, NULL);

    //  Bad paging requests.
    ca_response_check(s_list(t, "#paging", 10, 5, 0, 1010, expected[0].id), CAIRN__STATUS__INVALID,
                      "cannot be combined");
    ca_response_check(s_list(t, "#paging", 10, 5, 0, 1010, ""), CAIRN__STATUS__INVALID,
                      "cannot be combined");
    ca_response_check(s_list(t, "#paging", 10, 0, 0, 0, expected[0].id), CAIRN__STATUS__INVALID,
                      "needs before_timestamp");
    ca_response_check(s_list(t, "#paging", 10, 0, 0, 1010, "bad"), CAIRN__STATUS__INVALID,
                      "before_id");
    ca_response_check(s_list(t, "#paging", 10, 0, -1, 0, ""), CAIRN__STATUS__INVALID, "since");
    ca_response_check(s_list(t, "#paging", 10, 0, 0, NAN, ""), CAIRN__STATUS__INVALID,
                      "before_timestamp");
    ca_response_check(s_list(t, "#nope", 10, 0, 0, 0, ""), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(s_list(t, "../x", 10, 0, 0, 0, ""), CAIRN__STATUS__INVALID, "channel");
    ca_response_check(s_list(t, "", 10, 0, 0, 0, ""), CAIRN__STATUS__INVALID, "channel");

    //  The keyset page is a range on the index: no sort, at any depth.
    s_expect_plan(t, messages_sql_list_keyset, "messages_by_channel_time");
    s_expect_plan(t, messages_sql_list_offset, "messages_by_channel_time");
    s_expect_plan(t, s_sql_delete_channel_before, "messages_by_channel_time");
}

static size_t s_search_count(s_test_t *t, const char *query, const char *channel) {
    Cairn__Response *response = messages_fixture_search(t->caller, query, channel, 0);
    assert(response->status == CAIRN__STATUS__OK);
    size_t count = response->message_search->n_messages;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static int64_t s_fts_count(s_test_t *t, const char *query) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(t->rw, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1");
    sqlite3_bind_text(stmt, 1, query, -1, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return count;
}

static void s_test_search(s_test_t *t) {
    s_seed_channel(t, "#search");
    s_seed_channel(t, "#other");
    const struct {
        const char *channel;
        const char *content;
        bool encrypted;
    } items[] = {
        {"#search", "the quick brown fox", false},
        {"#search", "apple apple apple", false},
        {"#other", "apple banana cherry date elderberry fig grape", false},
        {"#search", "apple secret plans", true},
    };
    for (unsigned i = 0; i < sizeof items / sizeof items[0]; i++) {
        char id[CA_UUID_TEXT_LENGTH + 1];
        messages_fixture_uuid(id, 4, i);
        Cairn__Message message;
        messages_fixture_message(&message, id, 500 + i, items[i].channel, items[i].content);
        if (items[i].encrypted) {
            message.encrypted = true;
            message.nonce.data = (uint8_t *)s_nonce;
            message.nonce.len = MESSAGES_NONCE_MIN;
        }
        assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
    }
    assert(s_search_count(t, "fox", "") == 1);
    assert(s_search_count(t, "qui*", "") == 1);
    assert(s_search_count(t, "\"brown fox\"", "#search") == 1);
    assert(s_search_count(t, "apple", "#other") == 1);
    //  Best match first: three apples in three words beat one in seven.
    Cairn__Response *response = messages_fixture_search(t->caller, "apple", "", 0);
    assert(response->status == CAIRN__STATUS__OK && response->message_search->n_messages == 2);
    assert(s_blob_is(response->message_search->messages[0]->content, "apple apple apple", 17));
    assert(!response->message_search->more);
    cairn__response__free_unpacked(response, NULL);
    response = messages_fixture_search(t->caller, "apple", "", 1);
    assert(response->message_search->n_messages == 1 && response->message_search->more);
    cairn__response__free_unpacked(response, NULL);
    //  Encrypted messages are never indexed.
    assert(s_search_count(t, "secret", "") == 0 && s_fts_count(t, "secret") == 0);
    assert(s_search_count(t, "plans", "#search") == 0);

    const char *malformed[] = {"\"unbalanced", "AND AND", "col:", "col:x", "(", "a OR", "*"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ca_response_check(messages_fixture_search(t->caller, malformed[i], "", 0),
                          CAIRN__STATUS__INVALID, "query syntax");
    ca_response_check(messages_fixture_search(t->caller, "", "", 0), CAIRN__STATUS__INVALID,
                      "query is empty");
    ca_response_check(messages_fixture_search(t->caller, " \t ", "", 0), CAIRN__STATUS__INVALID,
                      "query is empty");
    char long_query[MESSAGES_QUERY_MAX + 2];
    memset(long_query, 'q', sizeof long_query);
    long_query[MESSAGES_QUERY_MAX + 1] = 0;
    ca_response_check(messages_fixture_search(t->caller, long_query, "", 0), CAIRN__STATUS__INVALID,
                      "1024");
    ca_response_check(messages_fixture_search(t->caller, "apple", "#nope", 0),
                      CAIRN__STATUS__NOT_FOUND, "does not exist");
    ca_response_check(messages_fixture_search(t->caller, "apple", "nope", 0),
                      CAIRN__STATUS__INVALID, "channel");
    ca_response_check(messages_fixture_search(t->caller, "apple", "", MESSAGES_PAGE_MAX + 1),
                      CAIRN__STATUS__INVALID, "1000");
    //  The worker still answers after the failed queries.
    assert(s_search_count(t, "fox", "") == 1);
}

static uint64_t s_delete_count(s_test_t *t, const char *channel, double before) {
    Cairn__Response *response = messages_fixture_delete(t->caller, channel, before);
    assert(response->status == CAIRN__STATUS__OK &&
           response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_DELETE);
    uint64_t count = response->message_delete->count;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static void s_test_delete(s_test_t *t) {
    s_seed_channel(t, "#del1");
    s_seed_channel(t, "#del2");
    for (unsigned i = 1; i <= 10; i++)
        for (unsigned c = 1; c <= 2; c++) {
            char id[CA_UUID_TEXT_LENGTH + 1];
            messages_fixture_uuid(id, 5, c * 100 + i);
            Cairn__Message message;
            messages_fixture_message(&message, id, i, c == 1 ? "#del1" : "#del2", "doomed words");
            assert(s_store_status(t, &message, NULL) == CAIRN__STATUS__OK);
        }
    uint64_t total = s_message_count(t);
    ca_response_check(messages_fixture_delete(t->caller, "", 0), CAIRN__STATUS__INVALID,
                      "give channel, before or both");
    ca_response_check(messages_fixture_delete(t->caller, "../x", 0), CAIRN__STATUS__INVALID,
                      "channel");
    ca_response_check(messages_fixture_delete(t->caller, "#nope", 0), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(messages_fixture_delete(t->caller, "#del1", -5), CAIRN__STATUS__INVALID,
                      "before");
    ca_response_check(messages_fixture_delete(t->caller, "", NAN), CAIRN__STATUS__INVALID,
                      "before");
    assert(s_message_count(t) == total);
    assert(s_fts_count(t, "doomed") == 20);

    assert(s_delete_count(t, "#del1", 4) == 3);  //  ts 1, 2, 3 of #del1
    assert(s_delete_count(t, "", 3) == 2);       //  ts 1, 2 of #del2
    assert(s_delete_count(t, "#del1", 0) == 7);  //  the rest of #del1
    assert(s_delete_count(t, "#del1", 0) == 0);  //  nothing left
    assert(s_delete_count(t, "#del2", 11) == 8); //  the rest of #del2
    assert(s_message_count(t) == total - 20);
    //  The full-text index followed.
    assert(s_fts_count(t, "doomed") == 0 && s_search_count(t, "doomed", "") == 0);
    assert(ca_sql_exec(t->rw, "INSERT INTO messages_fts (messages_fts) VALUES"
                              " ('integrity-check')") == SQLITE_OK);
}

static void s_test_vacuum(s_test_t *t) {
    Cairn__Request request;
    Cairn__Vacuum vacuum;
    ca_request_vacuum(&request, &vacuum, 0);
    Cairn__Response *response = ca_caller_call(t->caller, &request);
    assert(response->status == CAIRN__STATUS__OK &&
           response->body_case == CAIRN__RESPONSE__BODY_VACUUM);
    Cairn__VacuumReply *reply = response->vacuum;
    assert(reply->bytes_before > 0 && reply->bytes_after > 0);
    assert(
        reply->bytes_reclaimed ==
        (reply->bytes_before > reply->bytes_after ? reply->bytes_before - reply->bytes_after : 0));
    cairn__response__free_unpacked(response, NULL);
    //  Everything is still there and readable.
    assert(s_search_count(t, "fox", "") == 1);
}

void messages_test(bool verbose) {
    if (verbose)
        printf(" * messages: ");
    s_test_t t = {0};
    t.bed = ca_testbed_new(&messages_store_def);
    t.caller = ca_testbed_caller(t.bed);
    char *db_path = zsys_sprintf("%s/%s", ca_testbed_dir(t.bed), CA_DB_FILE);
    char *error = NULL;
    t.rw = ca_sql_open(db_path, CA_SQL_READ_WRITE, NULL, &error);
    assert(t.rw);
    zstr_free(&db_path);

    s_test_store_get(&t);
    s_test_validation(&t);
    s_test_paging(&t);
    s_test_search(&t);
    s_test_delete(&t);
    s_test_vacuum(&t);

    //  Undecodable bytes: INVALID, and the worker keeps serving.
    const uint8_t garbage[] = {0x08, 0x2a, 0xc2, 0x0c, 0x05, 0xff};
    Cairn__Response *response = ca_testbed_call_raw(t.bed, garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 42);
    cairn__response__free_unpacked(response, NULL);
    assert(s_message_count(&t) > 0);

    ca_sql_destroy(&t.rw);
    ca_testbed_destroy(&t.bed);
    if (verbose)
        printf("OK\n");
}

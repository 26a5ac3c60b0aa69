/*  =========================================================================
    messages_schema - the tables of the message-store family

    Conventions: timestamps are unix seconds as REAL (fractions allowed);
    booleans are INTEGER 0/1; binary values (content, keys, signatures) are
    BLOBs. Released migrations are never edited; append new ones.
    ========================================================================= */

#include "messages_schema.h"
#include "cairn.pb-c.h"

static const char *const s_migrations[] = {
    //  1: channels and membership
    "CREATE TABLE channels ("
    "  name TEXT PRIMARY KEY,"
    "  created_at REAL NOT NULL,"
    "  last_activity REAL NOT NULL,"
    "  encrypted INTEGER NOT NULL DEFAULT 0,"
    "  password_hash TEXT," //  crypto_pwhash_str output; NULL: not protected
    "  salt BLOB"           //  crypto_pwhash_SALTBYTES random bytes when protected
    ") WITHOUT ROWID;"
    "CREATE TABLE members ("
    "  channel TEXT NOT NULL,"
    "  peer_id TEXT NOT NULL,"
    "  joined_at REAL NOT NULL,"
    "  PRIMARY KEY (channel, peer_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_by_peer ON members (peer_id, channel);",

    //  2: messages and their full-text index. `seq` is the rowid the FTS
    //  index refers to; encrypted messages are never indexed.
    "CREATE TABLE messages ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  timestamp REAL NOT NULL,"
    "  sender_id TEXT NOT NULL,"
    "  sender_name TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  content BLOB NOT NULL,"
    "  encrypted INTEGER NOT NULL,"
    "  signature BLOB NOT NULL,"
    "  nonce BLOB"
    ");"
    //  Newest-first pages of a channel, by offset or by keyset cursor.
    "CREATE INDEX messages_by_channel_time ON messages (channel, timestamp DESC, id DESC);"
    "CREATE INDEX messages_by_time ON messages (timestamp);"
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "  content, content = 'messages', content_rowid = 'seq');"
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.encrypted = 0 BEGIN"
    "  INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);"
    "END;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.encrypted = 0 BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, content)"
    "    VALUES ('delete', old.seq, old.content);"
    "END;",

    //  3: peers and the gossip cache
    "CREATE TABLE peers ("
    "  peer_id TEXT PRIMARY KEY,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  display_name TEXT NOT NULL DEFAULT '',"
    "  address TEXT NOT NULL,"
    "  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
    "  state INTEGER NOT NULL DEFAULT 0," //  cairn.PeerState
    "  last_seen REAL NOT NULL DEFAULT 0,"
    "  blocked INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX peers_by_state ON peers (state);"
    "CREATE TABLE gossip ("
    "  message_id TEXT PRIMARY KEY,"
    "  ttl INTEGER NOT NULL,"
    "  seen_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX gossip_by_age ON gossip (seen_at);",

    //  4: the full-text index is built once per writer batch, not per row.
    //  A clear message's insert only queues its seq (a cheap integer
    //  insert); the writes that store messages ask the writer to index the
    //  queue before the batch commits (messages_sql_index_pending, then
    //  messages_sql_clear_pending), so the index is complete at every
    //  commit. A queued message deleted before that leaves the queue, not
    //  the index (an FTS5 'delete' of a row never indexed would damage it).
    "CREATE TABLE messages_fts_pending (seq INTEGER PRIMARY KEY);"
    "DROP TRIGGER messages_fts_insert;"
    "CREATE TRIGGER messages_fts_queue AFTER INSERT ON messages WHEN new.encrypted = 0 BEGIN"
    "  INSERT INTO messages_fts_pending (seq) VALUES (new.seq);"
    "END;"
    "DROP TRIGGER messages_fts_delete;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.encrypted = 0 BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, content)"
    "    SELECT 'delete', old.seq, old.content"
    "    WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq);"
    "  DELETE FROM messages_fts_pending WHERE seq = old.seq;"
    "END;",

    //  5: message signatures are checked (messages.proto, "Signature") in
    //  channels with signed_messages = 1, which ChannelCreate sets unless
    //  asked for an unsigned channel. Channels that existed before, whose
    //  messages were never checked, stay unsigned (the column's default).
    "ALTER TABLE channels ADD COLUMN signed_messages INTEGER NOT NULL DEFAULT 0;",
    //  6: a message's seq is never given twice, also after the newest
    //  messages were deleted (a rowid would be: subscription cursors,
    //  docs/PROTOCOL.md "Subscriptions"). The largest seq ever deleted is
    //  kept, and messages_sql_insert numbers past it and the newest row.
    "CREATE TABLE messages_seq_floor (floor INTEGER NOT NULL);"
    "INSERT INTO messages_seq_floor (floor) SELECT coalesce(max(seq), 0) FROM messages;"
    "CREATE TRIGGER messages_seq_floor_delete AFTER DELETE ON messages"
    " WHEN old.seq > (SELECT floor FROM messages_seq_floor) BEGIN"
    "  UPDATE messages_seq_floor SET floor = old.seq;"
    "END;",
};

const char messages_sql_index_pending[] =
    "INSERT INTO messages_fts (rowid, content)"
    " SELECT m.seq, m.content FROM messages_fts_pending p JOIN messages m ON m.seq = p.seq";

const char messages_sql_clear_pending[] = "DELETE FROM messages_fts_pending";

const char messages_sql_reindex[] =
    "INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages"
    " WHERE encrypted = 0 AND seq NOT IN (SELECT seq FROM messages_fts_pending)";

const ca_schema_t messages_schema = {"messages", s_migrations,
                                     sizeof s_migrations / sizeof s_migrations[0]};

static const char *s_text(sqlite3_stmt *stmt, int column) {
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? text : "";
}

void messages_schema_row(sqlite3_stmt *stmt, Cairn__Message *message) {
    cairn__message__init(message);
    message->id = (char *)s_text(stmt, 1);
    message->timestamp = sqlite3_column_double(stmt, 2);
    message->sender_id = (char *)s_text(stmt, 3);
    message->sender_name = (char *)s_text(stmt, 4);
    message->channel = (char *)s_text(stmt, 5);
    message->content.data = (uint8_t *)sqlite3_column_blob(stmt, 6);
    message->content.len = (size_t)sqlite3_column_bytes(stmt, 6);
    message->encrypted = sqlite3_column_int(stmt, 7) != 0;
    message->signature.data = (uint8_t *)sqlite3_column_blob(stmt, 8);
    message->signature.len = (size_t)sqlite3_column_bytes(stmt, 8);
    message->nonce.data = (uint8_t *)sqlite3_column_blob(stmt, 9);
    message->nonce.len = (size_t)sqlite3_column_bytes(stmt, 9);
}

//  ---- self-test ---------------------------------------------------------------

#include <assert.h>
#include <czmq.h>

static int64_t s_count(ca_sql_t *sql, const char *query) {
    sqlite3_stmt *stmt = ca_sql_prepare(sql, query);
    assert(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return count;
}

void messages_schema_test(bool verbose) {
    if (verbose)
        printf(" * messages_schema: ");
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(":memory:", CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    for (size_t i = 0; i < messages_schema.count; i++)
        assert(ca_sql_exec(sql, messages_schema.migrations[i]) == SQLITE_OK);
    //  The index follows inserts and deletes of clear messages only.
    assert(ca_sql_exec(sql, "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel,"
                            " content, encrypted, signature) VALUES"
                            " ('a', 1, 's', 'S', '#c', 'hello world', 0, x'00'),"
                            " ('b', 2, 's', 'S', '#c', 'hello secret', 1, x'00')") == SQLITE_OK);
    //  Queued, not yet indexed; then indexed by the batch's closing pair.
    assert(s_count(sql, "SELECT count(*) FROM messages_fts_pending") == 1);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'") == 0);
    assert(ca_sql_exec(sql, messages_sql_index_pending) == SQLITE_OK);
    assert(ca_sql_exec(sql, messages_sql_clear_pending) == SQLITE_OK);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'") == 1);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'secret'") ==
           0);
    //  A message queued and deleted in the same batch never reaches the
    //  index, and the index stays sound.
    assert(ca_sql_exec(sql, "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel,"
                            " content, encrypted, signature) VALUES"
                            " ('c', 3, 's', 'S', '#c', 'fleeting hello', 0, x'00')") == SQLITE_OK);
    assert(ca_sql_exec(sql, "DELETE FROM messages WHERE id = 'c'") == SQLITE_OK);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts_pending") == 0);
    assert(ca_sql_exec(sql, messages_sql_index_pending) == SQLITE_OK);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'fleeting'") ==
           0);
    assert(ca_sql_exec(sql, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')") ==
           SQLITE_OK);
    assert(ca_sql_exec(sql, "DELETE FROM messages") == SQLITE_OK);
    assert(s_count(sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'") == 0);
    assert(ca_sql_exec(sql, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')") ==
           SQLITE_OK);
    //  Peers are checked by the schema too.
    assert(ca_sql_exec(sql, "INSERT INTO peers (peer_id, public_key, address, port, created_at)"
                            " VALUES ('p', x'00', '127.0.0.1', 1, 0)") != SQLITE_OK);
    ca_sql_destroy(&sql);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    messages_schema - the tables of the message-store family

    The chat-node data (channels, membership, messages with their full-text
    index, peers, gossip cache) is served by several store pools, one file
    each (channels.c, channel_auth.c, messages.c, peers.c, gossip.c), so a
    flood of one kind of request (gossip on the hot path, full-text
    searches, Argon2id checks) cannot starve the others. Their tables read
    each other (a channel's message count, deleting a channel with its
    messages and members, statistics across all of them), so they share
    one schema, migrated once by the writer under the name "messages".
    ========================================================================= */

#ifndef MESSAGES_SCHEMA_H_INCLUDED
#define MESSAGES_SCHEMA_H_INCLUDED

#include "ca_sql.h"

extern const ca_schema_t messages_schema;

//  Before a batch that stored clear messages commits: index the queued
//  messages, then empty the queue (migration 4). MessageStore asks the
//  writer for both (ca_write_before_commit); cairn-bench's baseline runs
//  them once per transaction too.
extern const char messages_sql_index_pending[];
extern const char messages_sql_clear_pending[];

//  The full-text index rebuilt from the rows (`cairnd import`, which
//  writes the tables with triggers off): every clear message that is not
//  still queued, as the node had indexed them.
extern const char messages_sql_reindex[];

//  The columns of a messages row as a cairn.Message, seq first, for
//  messages_schema_row (peer gossip and subscriptions read rows so).
#define MESSAGES_ROW_COLUMNS                                                                       \
    "seq, id, timestamp, sender_id, sender_name, channel, content, encrypted, signature, nonce"

//  The message of a row of MESSAGES_ROW_COLUMNS; its strings and bytes are
//  the statement's (valid until it steps or resets).
struct Cairn__Message;
void messages_schema_row(sqlite3_stmt *stmt, struct Cairn__Message *message);

void messages_schema_test(bool verbose);

#endif

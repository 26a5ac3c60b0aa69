/*  =========================================================================
    messages - chat messages in channels, with full-text search; pool
    "messages", tables of messages_schema (requests: schemas/messages.proto)
    ========================================================================= */

#ifndef MESSAGES_H_INCLUDED
#define MESSAGES_H_INCLUDED

#include "ca_store.h"

//  Limits of the messages requests (content size is the node setting
//  messages/max_content_bytes; names and ids are in ca_names.h).
#define MESSAGES_PAGE_DEFAULT    100  //  MessageList / MessageSearch limit 0
#define MESSAGES_PAGE_MAX        1000 //  largest limit; more is INVALID
#define MESSAGES_SENDER_NAME_MAX 128  //  bytes
#define MESSAGES_SIGNATURE_BYTES 64   //  Ed25519
#define MESSAGES_NONCE_MIN       12   //  bytes, encrypted messages only
#define MESSAGES_NONCE_MAX       24
#define MESSAGES_QUERY_MAX       1024 //  bytes of an FTS5 search query

//  The store's description: schema (messages_schema) and request table.
extern const ca_store_def_t messages_store_def;

//  SQL of the store's hot paths, defined once here for the store and for
//  cairn-bench's raw-SQLite baselines. Store a message (?1 id, ?2
//  timestamp, ?3 sender_id, ?4 sender_name, ?5 channel, ?6 content, ?7
//  encrypted, ?8 signature, ?9 nonce), then raise its channel's
//  last_activity (?1 channel, ?2 timestamp); a page newest first by offset
//  (?1 channel, ?2 since, ?3 limit + 1, ?4 offset) or by keyset cursor (?4
//  before_timestamp, ?5 before_id).
extern const char messages_sql_insert[];
extern const char messages_sql_touch_channel[];
extern const char messages_sql_list_offset[];
extern const char messages_sql_list_keyset[];

void messages_test(bool verbose);

#endif

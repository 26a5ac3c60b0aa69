/*  =========================================================================
    messages - chat messages in channels, with full-text search; pool
    "messages", tables of messages_schema (requests: schemas/messages.proto)
    ========================================================================= */

#ifndef MESSAGES_H_INCLUDED
#define MESSAGES_H_INCLUDED

#include "ca_caller.h"
#include "ca_names.h"
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

//  ---- fixtures: the messages and requests of the self-test and of
//  tests/e2e_messages.c, sent through `caller` (a testbed or a node); a
//  returned response is the caller's to free.

//  The signature every fixture message carries.
extern const uint8_t messages_fixture_signature[MESSAGES_SIGNATURE_BYTES];

//  A UUID made of two numbers: "hhhhhhhh-0000-4000-8000-llllllllllll".
void messages_fixture_uuid(char uuid[CA_UUID_TEXT_LENGTH + 1], uint32_t high, uint64_t low);

//  A valid clear message (sender "alice", messages_fixture_signature);
//  strings and content are referenced, not copied.
void messages_fixture_message(Cairn__Message *message, const char *id, double timestamp,
                              const char *channel, const char *content);
Cairn__Response *messages_fixture_store(ca_caller_t *caller, Cairn__Message *message);
Cairn__Response *messages_fixture_get(ca_caller_t *caller, const char *id);
Cairn__Response *messages_fixture_delete(ca_caller_t *caller, const char *channel, double before);
Cairn__Response *messages_fixture_search(ca_caller_t *caller, const char *query,
                                         const char *channel, uint32_t limit);
Cairn__Response *messages_fixture_stats(ca_caller_t *caller);

#endif

/*  =========================================================================
    channel_auth - the channel requests that cost an Argon2id hash (create,
    verify), on their own small bounded pool (requests:
    schemas/channels.proto)
    ========================================================================= */

#ifndef CHANNEL_AUTH_H_INCLUDED
#define CHANNEL_AUTH_H_INCLUDED

#include "ca_store.h"

//  Longest channel password, in bytes.
#define CHANNEL_AUTH_PASSWORD_MAX 1024

//  The pool's description: 2 workers, 2 queued per worker, messages_schema.
extern const ca_store_def_t channel_auth_store_def;

//  ChannelCreate's INSERT (?1 name, ?2 created_at and last_activity, ?3
//  encrypted, ?4 password_hash, ?5 salt; returns the row, or nothing when
//  the name is taken), defined once here for the store and cairn-bench.
extern const char channel_auth_sql_create[];

void channel_auth_test(bool verbose);

#endif

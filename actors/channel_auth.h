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

//  The pool's description: 2 workers, 2 queued per worker, msg_schema.
extern const ca_store_def_t channel_auth_store_def;

void channel_auth_test(bool verbose);

#endif

/*  =========================================================================
    channel_auth - ChannelCreate and ChannelVerify, the requests that cost
    an Argon2id hash, on their own small bounded pool
    ========================================================================= */

#ifndef CHANNEL_AUTH_H_INCLUDED
#define CHANNEL_AUTH_H_INCLUDED

#include "ca_store.h"

//  Longest channel password, in bytes.
#define CHANNEL_AUTH_PASSWORD_MAX 1024

//  The pool's description: 2 workers, 2 queued per worker, messages_schema.
extern const ca_store_def_t channel_auth_def;

void channel_auth_test(bool verbose);

#endif

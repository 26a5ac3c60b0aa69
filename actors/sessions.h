/*  =========================================================================
    sessions - pool "sessions": the client requests of the peer actor
    (PeerConnect, PeerDisconnect, PeerSessions; schemas/sessions.proto),
    forwarded to it over PEER_CONTROL_ENDPOINT
    ========================================================================= */

#ifndef SESSIONS_H_INCLUDED
#define SESSIONS_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t sessions_store_def;

#endif

/*  =========================================================================
    gossip - the seen-cache of gossiped message ids, with periodic cleaning;
    pool "gossip", tables of messages_schema (requests: schemas/gossip.proto)
    ========================================================================= */

#ifndef GOSSIP_H_INCLUDED
#define GOSSIP_H_INCLUDED

#include "ca_store.h"

//  The store's description: schema (messages_schema), request table and the
//  tick that removes entries older than settings.gossip_max_age_s.
extern const ca_store_def_t gossip_store_def;

//  GossipAdd's statement (?1 message_id, ?2 ttl, ?3 seen_at; a known id is
//  left as it is), defined once here for the store and cairn-bench.
extern const char gossip_sql_add[];

void gossip_test(bool verbose);

#endif

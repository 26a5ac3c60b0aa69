/*  =========================================================================
    gossip - the seen-cache of gossiped message ids, with periodic cleaning;
    pool "gossip", tables of messages_schema (requests: schemas/gossip.proto)
    ========================================================================= */

#ifndef GOSSIP_H_INCLUDED
#define GOSSIP_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

//  The store's description: schema (messages_schema), request table and the
//  tick that removes entries older than settings.gossip_max_age_s.
extern const ca_store_def_t gossip_store_def;

//  GossipAdd's statement (?1 message_id, ?2 ttl, ?3 seen_at; a known id is
//  left as it is), defined once here for the store and cairn-bench.
extern const char gossip_sql_add[];

void gossip_test(bool verbose);

//  ---- fixtures: the requests of the self-test and of tests/e2e_gossip.c, sent
//  through `caller` (a testbed or a node). A returned response is the
//  caller's to free; a failed check aborts.
Cairn__Response *gossip_fixture_add(ca_caller_t *caller, const char *message_id, uint32_t ttl);
Cairn__Response *gossip_fixture_has(ca_caller_t *caller, const char *message_id);
Cairn__Response *gossip_fixture_clean(ca_caller_t *caller, uint32_t max_age_s);

//  GossipAdd that must succeed with `added` (else seen) and answer `answered_ttl`.
void gossip_fixture_add_expect(ca_caller_t *caller, const char *message_id, uint32_t ttl,
                               bool added, uint32_t answered_ttl);

//  GossipHas: whether `message_id` is present; its stored ttl in *ttl (may be NULL).
bool gossip_fixture_present(ca_caller_t *caller, const char *message_id, uint32_t *ttl);

//  GossipClean that must succeed; the number of entries it removed.
uint64_t gossip_fixture_cleaned(ca_caller_t *caller, uint32_t max_age_s);

#endif

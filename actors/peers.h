/*  =========================================================================
    peers - the node's address book of other nodes: identity key, address,
    status and block list; pool "peers", tables of messages_schema (requests:
    schemas/peers.proto)
    ========================================================================= */

#ifndef PEERS_H_INCLUDED
#define PEERS_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

//  The store's description: schema (messages_schema) and request table.
extern const ca_store_def_t peers_store_def;

//  Reads an Ed25519 public key given as raw bytes (`raw`, `raw_size`) or as
//  text (`text`: base64 in any libsodium variant, or a PEM "PUBLIC KEY"
//  block holding an Ed25519 SubjectPublicKeyInfo); exactly one of the two
//  may be non-empty. Returns true with `key` filled, or false with `problem`
//  (size bytes) saying what is wrong.
bool peers_parse_key(const uint8_t *raw, size_t raw_size, const char *text, uint8_t key[32],
                     char *problem, size_t size);

void peers_test(bool verbose);

//  ---- fixtures: one request each, for the self-test and tests/e2e_peers.c ----------
//  Each sends through `caller` (a testbed or a node) and returns the answer,
//  the caller's to free.

//  A valid peer (address 192.0.2.1:7402, display name "node"); strings and
//  key are referenced, not copied.
void peers_fixture_peer(Cairn__Peer *peer, const char *peer_id, const uint8_t *key);
Cairn__Response *peers_fixture_put(ca_caller_t *caller, const Cairn__Peer *peer, const char *text);
Cairn__Response *peers_fixture_get(ca_caller_t *caller, const char *peer_id);
Cairn__Response *peers_fixture_status(ca_caller_t *caller, const char *peer_id, int state,
                                      double last_seen);
Cairn__Response *peers_fixture_block(ca_caller_t *caller, const char *peer_id, bool blocked);
Cairn__Response *peers_fixture_list(ca_caller_t *caller, bool by_state, int state, uint32_t limit,
                                    const char *after);

//  Puts `peer`, new to the store, and checks the answer: every field as
//  given (the address as `address`, its canonical form), created_at now.
//  Returns created_at.
double peers_fixture_put_new(ca_caller_t *caller, const Cairn__Peer *peer, const char *address);

//  PeerGet of `peer` answers every field as given, the address as
//  `address`, and `created_at`.
void peers_fixture_get_expect(ca_caller_t *caller, const Cairn__Peer *peer, const char *address,
                              double created_at);

#endif

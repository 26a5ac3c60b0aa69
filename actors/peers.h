/*  =========================================================================
    peers - the node's address book of other nodes: identity key, address,
    status and block list; pool "peers", tables of messages_schema (requests:
    schemas/peers.proto)
    ========================================================================= */

#ifndef PEERS_H_INCLUDED
#define PEERS_H_INCLUDED

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

#endif

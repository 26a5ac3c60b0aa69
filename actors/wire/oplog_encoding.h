/*  =========================================================================
    oplog_encoding - the canonical bytes of an operation header: what its
    hash (BLAKE2b-256) and its Ed25519 signature cover

    The layout is documented byte by byte in schemas/oplog.proto; the
    self-test below pins it with fixed vectors. The node (actors/oplog.c)
    and the client (cli/oplog.c, which signs) link this one file, so they
    cannot disagree on a byte.
    ========================================================================= */

#ifndef OPLOG_ENCODING_H_INCLUDED
#define OPLOG_ENCODING_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPLOG_DOMAIN          "cairn-op" //  the first 8 bytes encoded
#define OPLOG_VERSION         1
#define OPLOG_HASH_BYTES      32
#define OPLOG_KEY_BYTES       32
#define OPLOG_SIGNATURE_BYTES 64
#define OPLOG_PREVIOUS_MAX    64           //  previous hashes of one header
#define OPLOG_EXTENSIONS_MAX  4096         //  extensions bytes
#define OPLOG_BODY_MAX        (512 * 1024) //  payload_size at most
//  The longest encoding: fixed part, backlink, previous, extensions.
#define OPLOG_ENCODED_MAX (106 + 32 + 2 + 32 * OPLOG_PREVIOUS_MAX + 4 + OPLOG_EXTENSIONS_MAX)

//  What is wrong with the header's fields (sizes, bounds, version, the
//  backlink at seq 0, the order of previous), or NULL when it can be
//  encoded. The signature's size is checked too (not its validity).
const char *oplog_header_problem(const Cairn__OpHeader *header);

//  Writes the canonical encoding of a header that oplog_header_problem
//  accepted into `out` (at least OPLOG_ENCODED_MAX bytes); returns its
//  length.
size_t oplog_header_encode(const Cairn__OpHeader *header, uint8_t *out);

//  The operation hash: BLAKE2b-256 of the encoding. False when the header
//  cannot be encoded.
bool oplog_header_hash(const Cairn__OpHeader *header, uint8_t hash[OPLOG_HASH_BYTES]);

//  BLAKE2b-256 of a body (the payload_hash a header must carry).
void oplog_payload_hash(const void *body, size_t size, uint8_t hash[OPLOG_HASH_BYTES]);

//  Signs the header in place (its signature field must point at 64
//  writable bytes) with a 64-byte libsodium secret key; fills `hash`.
//  False when the header cannot be encoded.
bool oplog_header_sign(Cairn__OpHeader *header, const uint8_t *secret_key,
                       uint8_t hash[OPLOG_HASH_BYTES]);

//  Whether the header's signature verifies against its author; fills `hash`.
bool oplog_header_verify(const Cairn__OpHeader *header, uint8_t hash[OPLOG_HASH_BYTES]);

void oplog_encoding_test(bool verbose);

#endif

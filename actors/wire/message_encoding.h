/*  =========================================================================
    message_encoding - the bytes a message's Ed25519 signature covers

    A message (Message in schemas/messages.proto, which documents the
    layout byte by byte) is signed by its sender over a canonical encoding,
    not over its protobuf bytes, so that any client can sign it without a
    protobuf encoder that orders fields the same way. `cairn msg send
    --key-file` signs what message_encode returns; the node's messages
    store checks the signature with message_verify against the sender's
    key (the public_key of the peers row named by sender_id). Both sides
    link this one file, so they cannot disagree on a byte.

    Every field but the signature itself is covered, the ciphertext and
    nonce of an encrypted message included: changing any of them after
    signing breaks the signature.
    ========================================================================= */

#ifndef MESSAGE_ENCODING_H_INCLUDED
#define MESSAGE_ENCODING_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESSAGE_DOMAIN    "cairn-message-v1" //  the first 16 bytes signed
#define MESSAGE_SIGNATURE 64                 //  Ed25519 signature bytes

//  The canonical encoding of `message` that its signature covers. NULL
//  when a field is longer than 2^32 - 1 bytes or memory ran out. Caller
//  frees; *size_p is its length.
uint8_t *message_encode(const Cairn__Message *message, size_t *size_p);

//  Signs the message's encoding with `secret_key` (libsodium's 64-byte
//  form) into `signature`. False when it cannot be encoded.
bool message_sign(const Cairn__Message *message, const uint8_t *secret_key, uint8_t *signature);

//  Whether the message's `signature` (64 bytes) is the Ed25519 signature by
//  `public_key` (32 bytes) of its encoding.
bool message_verify(const Cairn__Message *message, const uint8_t *public_key);

void message_encoding_test(bool verbose);

#endif

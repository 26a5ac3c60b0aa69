/*  =========================================================================
    ledger_encoding - the bytes a payment's Ed25519 signature covers

    A payment (Payment in schemas/ledger.proto, which documents the layout
    byte by byte) is signed by the paying peer over a canonical encoding,
    not over its protobuf bytes, so that any client can sign it without a
    protobuf encoder that orders fields the same way. The client signs what
    ledger_payment_encode returns; the node's ledger store checks the
    signature with ledger_payment_verify. Both sides link this one file, so
    they cannot disagree on a byte.

    Version 3 ("cairn-payment-v3") binds a payment to the payee node (its
    peer id, as Info.peer_id shows it) and to an expiry (Payment.expires_at),
    so one signed payment cannot be replayed on another node where the payer
    also has a channel. Version 2 lacked both; its encoding is kept only so
    that the node can tell a v2 signature apart and say to sign v3.
    ========================================================================= */

#ifndef LEDGER_ENCODING_H_INCLUDED
#define LEDGER_ENCODING_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_DOMAIN        "cairn-payment-v3" //  the first bytes signed
#define LEDGER_DOMAIN_V2     "cairn-payment-v2" //  refused: no payee, no expiry
#define LEDGER_SIGNATURE     64                 //  Ed25519 signature bytes
#define LEDGER_RECIPIENT_MAX 65535              //  longest recipient (and channel peer)

//  The canonical v3 encoding of a payment to the node whose peer id is
//  `payee`, that its Ed25519 signature covers. NULL when a field cannot be
//  encoded (id, query hash or a share root not 32 bytes, a recipient,
//  channel peer or payee over 65535 bytes). Caller frees; *size_p is its
//  length.
uint8_t *ledger_payment_encode(const Cairn__Payment *payment, const char *payee, size_t *size_p);

//  Whether the payment's `signature` (64 bytes) is the Ed25519 signature by
//  `public_key` (32 bytes) of its v3 encoding for `payee`.
bool ledger_payment_verify(const Cairn__Payment *payment, const char *payee,
                           const uint8_t *public_key);

//  The refused v2 encoding (no payee, no expiry): the node checks it only
//  to tell the payer to sign v3; tests sign it to see it refused.
uint8_t *ledger_payment_encode_v2(const Cairn__Payment *payment, size_t *size_p);

//  Whether the signature is a valid v2 signature (which is refused).
bool ledger_payment_verify_v2(const Cairn__Payment *payment, const uint8_t *public_key);

#endif

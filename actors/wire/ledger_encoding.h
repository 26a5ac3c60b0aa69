/*  =========================================================================
    ledger_encoding - the bytes a payment's Ed25519 signature covers

    A payment (Payment in schemas/ledger.proto, which documents the layout
    byte by byte) is signed by the paying peer over a canonical encoding,
    not over its protobuf bytes, so that any client can sign it without a
    protobuf encoder that orders fields the same way. The client signs what
    ledger_payment_encode returns; the node's ledger store checks the
    signature with ledger_payment_verify. Both sides link this one file, so
    they cannot disagree on a byte.
    ========================================================================= */

#ifndef LEDGER_ENCODING_H_INCLUDED
#define LEDGER_ENCODING_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_DOMAIN        "cairn-payment-v2" //  the first bytes signed
#define LEDGER_SIGNATURE     64                 //  Ed25519 signature bytes
#define LEDGER_RECIPIENT_MAX 65535              //  longest recipient (and channel peer)

//  The canonical encoding of a payment that its Ed25519 signature covers.
//  NULL when a field cannot be encoded (id, query hash or a share root not
//  32 bytes, a recipient over 65535 bytes). Caller frees; *size_p is its
//  length.
uint8_t *ledger_payment_encode(const Cairn__Payment *payment, size_t *size_p);

//  Whether the payment's `signature` (64 bytes) is the Ed25519 signature by
//  `public_key` (32 bytes) of its canonical encoding.
bool ledger_payment_verify(const Cairn__Payment *payment, const uint8_t *public_key);

#endif

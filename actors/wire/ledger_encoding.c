/*  =========================================================================
    ledger_encoding - the bytes a payment's Ed25519 signature covers
    (see ledger_encoding.h)
    ========================================================================= */

#include "ledger_encoding.h"
#include "ca_sign.h"

#include <assert.h>
#include <czmq.h>
#include <string.h>

static uint8_t *s_put_be(uint8_t *at, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) {
        at[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
    return at + bytes;
}

//  Both versions: v2 ends after the channel; v3 (payee non-NULL) adds the
//  payee's peer id and the expiry.
static uint8_t *s_encode(const Cairn__Payment *payment, const char *payee, size_t *size_p) {
    const char *domain = payee ? LEDGER_DOMAIN : LEDGER_DOMAIN_V2;
    const char *recipient = payment->recipient ? payment->recipient : "";
    const char *channel = payment->channel_peer ? payment->channel_peer : "";
    size_t recipient_len = strlen(recipient), channel_len = strlen(channel);
    size_t payee_len = payee ? strlen(payee) : 0;
    if (payment->id.len != 32 || payment->query_hash.len != 32 ||
        recipient_len > LEDGER_RECIPIENT_MAX || channel_len > LEDGER_RECIPIENT_MAX ||
        payee_len > LEDGER_RECIPIENT_MAX)
        return NULL;
    for (size_t i = 0; i < payment->n_provenance; i++)
        if (!payment->provenance[i] || payment->provenance[i]->root.len != 32)
            return NULL;
    size_t size = strlen(domain) + 32 + 8 + 2 + recipient_len + 32 + 4 +
                  payment->n_provenance * (32 + 8) + 8 + 2 + channel_len;
    if (payee)
        size += 2 + payee_len + 8;
    uint8_t *bytes = (uint8_t *)zmalloc(size), *at = bytes;
    memcpy(at, domain, strlen(domain));
    at += strlen(domain);
    memcpy(at, payment->id.data, 32);
    at = s_put_be(at + 32, payment->amount, 8);
    at = s_put_be(at, recipient_len, 2);
    memcpy(at, recipient, recipient_len);
    at += recipient_len;
    memcpy(at, payment->query_hash.data, 32);
    at = s_put_be(at + 32, payment->n_provenance, 4);
    for (size_t i = 0; i < payment->n_provenance; i++) {
        memcpy(at, payment->provenance[i]->root.data, 32);
        at = s_put_be(at + 32, payment->provenance[i]->weight, 8);
    }
    uint64_t bits;
    memcpy(&bits, &payment->timestamp, sizeof bits);
    at = s_put_be(at, bits, 8);
    //  The channel (since v2): a payment signed for one channel cannot be
    //  replayed on another channel whose peer uses the same key.
    at = s_put_be(at, channel_len, 2);
    memcpy(at, channel, channel_len);
    at += channel_len;
    if (payee) {
        //  The payee node and the expiry (v3): a payment signed for one node
        //  cannot be replayed on another, nor kept for later use.
        at = s_put_be(at, payee_len, 2);
        memcpy(at, payee, payee_len);
        at += payee_len;
        at = s_put_be(at, payment->expires_at, 8);
    }
    assert((size_t)(at - bytes) == size);
    *size_p = size;
    return bytes;
}

uint8_t *ledger_payment_encode(const Cairn__Payment *payment, const char *payee, size_t *size_p) {
    return s_encode(payment, payee ? payee : "", size_p);
}

uint8_t *ledger_payment_encode_v2(const Cairn__Payment *payment, size_t *size_p) {
    return s_encode(payment, NULL, size_p);
}

static bool s_verify(const Cairn__Payment *payment, const char *payee, const uint8_t *public_key) {
    if (payment->signature.len != LEDGER_SIGNATURE)
        return false;
    size_t size;
    uint8_t *message = s_encode(payment, payee, &size);
    if (!message)
        return false;
    //  The same verification path the RFC 8032 vectors go through (ca_sign).
    bool valid = ca_ed25519_verify(public_key, message, size, payment->signature.data);
    free(message);
    return valid;
}

bool ledger_payment_verify(const Cairn__Payment *payment, const char *payee,
                           const uint8_t *public_key) {
    return s_verify(payment, payee ? payee : "", public_key);
}

bool ledger_payment_verify_v2(const Cairn__Payment *payment, const uint8_t *public_key) {
    return s_verify(payment, NULL, public_key);
}

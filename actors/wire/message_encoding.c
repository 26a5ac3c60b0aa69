/*  =========================================================================
    message_encoding - the bytes a message's Ed25519 signature covers
    (see message_encoding.h; the layout is documented in
    schemas/messages.proto)
    ========================================================================= */

#include "message_encoding.h"
#include "ca_sign.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *s_put_be(uint8_t *at, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) {
        at[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
    return at + bytes;
}

//  A variable field: its length as 4 bytes big-endian, then its bytes.
static uint8_t *s_put_field(uint8_t *at, const void *data, size_t length) {
    at = s_put_be(at, length, 4);
    if (length)
        memcpy(at, data, length);
    return at + length;
}

static const char *s_text(const char *text) {
    return text ? text : "";
}

uint8_t *message_encode(const Cairn__Message *message, size_t *size_p) {
    const char *texts[] = {s_text(message->id), s_text(message->sender_id),
                           s_text(message->sender_name), s_text(message->channel)};
    size_t lengths[4];
    size_t size = strlen(MESSAGE_DOMAIN) + 8 + 1 + 6 * 4;
    for (size_t i = 0; i < 4; i++) {
        lengths[i] = strlen(texts[i]);
        if (lengths[i] > UINT32_MAX)
            return NULL;
        size += lengths[i];
    }
    if (message->content.len > UINT32_MAX || message->nonce.len > UINT32_MAX)
        return NULL;
    size += message->content.len + message->nonce.len;
    uint8_t *bytes = (uint8_t *)malloc(size), *at = bytes;
    if (!bytes)
        return NULL;
    memcpy(at, MESSAGE_DOMAIN, strlen(MESSAGE_DOMAIN));
    at += strlen(MESSAGE_DOMAIN);
    at = s_put_field(at, texts[0], lengths[0]); //  id
    uint64_t bits;
    memcpy(&bits, &message->timestamp, sizeof bits);
    at = s_put_be(at, bits, 8);                 //  timestamp: IEEE-754 binary64 bits
    at = s_put_field(at, texts[1], lengths[1]); //  sender_id
    at = s_put_field(at, texts[2], lengths[2]); //  sender_name
    at = s_put_field(at, texts[3], lengths[3]); //  channel
    at = s_put_field(at, message->content.data, message->content.len);
    *at++ = message->encrypted ? 1 : 0;
    at = s_put_field(at, message->nonce.data, message->nonce.len);
    assert((size_t)(at - bytes) == size);
    *size_p = size;
    return bytes;
}

bool message_sign(const Cairn__Message *message, const uint8_t *secret_key, uint8_t *signature) {
    size_t size;
    uint8_t *bytes = message_encode(message, &size);
    if (!bytes)
        return false;
    ca_ed25519_sign(secret_key, bytes, size, signature);
    free(bytes);
    return true;
}

bool message_verify(const Cairn__Message *message, const uint8_t *public_key) {
    if (message->signature.len != MESSAGE_SIGNATURE)
        return false;
    size_t size;
    uint8_t *bytes = message_encode(message, &size);
    if (!bytes)
        return false;
    //  The same verification path the RFC 8032 vectors go through (ca_sign).
    bool valid = ca_ed25519_verify(public_key, bytes, size, message->signature.data);
    free(bytes);
    return valid;
}

//  ---- self-test ---------------------------------------------------------------

#include <sodium.h>
#include <stdio.h>

//  The test vectors: a clear and an encrypted message, their encodings
//  and their signatures by the key of seed 00 01 02 .. 1f (independently
//  checked with Python's `cryptography` Ed25519 when they were made).
//  Changing a byte of the encoding is a wire change: these must not move.
static const char s_clear_hex[] =
    "636169726e2d6d6573736167652d76310000002431323365343536372d653839622d343264332d61"
    "3435362d34323636313431373430303041d954fc4010000000000005616c69636500000005416c69"
    "6365000000082367656e6572616c0000000568656c6c6f0000000000";
static const char s_clear_signature_hex[] =
    "c9918a2113b8cea07a6edb95bd3900c5f9bd3c3cf60d7164cfa84b9f770fa519def31b6890b886c4"
    "e6570913397885d291c4ca8d825e21fb7ef14a6d2241a50b";
static const char s_sealed_hex[] =
    "636169726e2d6d6573736167652d76310000002431323365343536372d653839622d343264332d61"
    "3435362d34323636313431373430303041d954fc4010000000000005616c69636500000005416c69"
    "6365000000082367656e6572616c00000003dead01010000000ca0a1a2a3a4a5a6a7a8a9aaab";
static const char s_sealed_signature_hex[] =
    "d3e0ee6b7ea3f381a7df3f37c40960dadd5e1aa5871fde031b57d30d0f0ad3ad0354d9f9f8ec52af"
    "5cfe8612a2ec8514e0cde70ffbd712fbfa327b399573d70a";

static void s_check_vector(const Cairn__Message *message, const uint8_t *secret_key,
                           const char *hex, const char *signature_hex, bool verbose) {
    size_t size;
    uint8_t *bytes = message_encode(message, &size);
    assert(bytes);
    char *text = (char *)malloc(2 * size + 1);
    assert(text);
    sodium_bin2hex(text, 2 * size + 1, bytes, size);
    uint8_t signature[MESSAGE_SIGNATURE];
    assert(message_sign(message, secret_key, signature));
    char signature_text[2 * MESSAGE_SIGNATURE + 1];
    sodium_bin2hex(signature_text, sizeof signature_text, signature, sizeof signature);
    if (verbose && (strcmp(text, hex) != 0 || strcmp(signature_text, signature_hex) != 0))
        printf("\n   encoding %s\n   signature %s\n", text, signature_text);
    assert(strcmp(text, hex) == 0);
    assert(strcmp(signature_text, signature_hex) == 0);
    free(text);
    free(bytes);
}

void message_encoding_test(bool verbose) {
    if (verbose)
        printf(" * message_encoding: ");
    uint8_t seed[32], public_key[32], secret_key[64];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    ca_ed25519_from_seed(seed, public_key, secret_key);

    Cairn__Message message = CAIRN__MESSAGE__INIT;
    message.id = "123e4567-e89b-42d3-a456-426614174000";
    message.timestamp = 1700000000.25;
    message.sender_id = "alice";
    message.sender_name = "Alice";
    message.channel = "#general";
    message.content = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
    s_check_vector(&message, secret_key, s_clear_hex, s_clear_signature_hex, verbose);

    Cairn__Message sealed = message;
    uint8_t ciphertext[3] = {0xde, 0xad, 0x01}, nonce[12];
    for (int i = 0; i < 12; i++)
        nonce[i] = (uint8_t)(0xa0 + i);
    sealed.encrypted = true;
    sealed.content = (ProtobufCBinaryData){sizeof ciphertext, ciphertext};
    sealed.nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
    s_check_vector(&sealed, secret_key, s_sealed_hex, s_sealed_signature_hex, verbose);

    //  Verification: right key and bytes pass; each covered field changed
    //  after signing fails; the signature is not covered.
    uint8_t signature[MESSAGE_SIGNATURE];
    assert(message_sign(&sealed, secret_key, signature));
    sealed.signature = (ProtobufCBinaryData){sizeof signature, signature};
    assert(message_verify(&sealed, public_key));
    Cairn__Message changed = sealed;
    changed.id = "123e4567-e89b-42d3-a456-426614174001";
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.timestamp = 1700000000.5;
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.sender_id = "alicf";
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.sender_name = "Mallory";
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.channel = "#random";
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    uint8_t other[3] = {0xde, 0xad, 0x02};
    changed.content = (ProtobufCBinaryData){sizeof other, other};
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.nonce.len = 11;
    assert(!message_verify(&changed, public_key));
    changed = sealed;
    changed.encrypted = false;
    assert(!message_verify(&changed, public_key));
    //  Field boundaries are bound: moving a byte from one text to the next
    //  changes the encoding.
    changed = sealed;
    changed.sender_id = "alic";
    changed.sender_name = "eAlice";
    assert(!message_verify(&changed, public_key));
    //  Another key, a short signature.
    uint8_t other_public[32], other_secret[64];
    seed[0] = 0xff;
    ca_ed25519_from_seed(seed, other_public, other_secret);
    assert(!message_verify(&sealed, other_public));
    changed = sealed;
    changed.signature.len = 63;
    assert(!message_verify(&changed, public_key));
    sodium_memzero(secret_key, sizeof secret_key);
    sodium_memzero(other_secret, sizeof other_secret);
    if (verbose)
        printf("OK\n");
}

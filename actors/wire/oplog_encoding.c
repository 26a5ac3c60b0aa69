/*  =========================================================================
    oplog_encoding - the canonical bytes of an operation header

    See oplog_encoding.h and the layout in schemas/oplog.proto. Checks come
    before encoding so that an encoder never meets a field it cannot write:
    oplog_header_problem is the one place the header's bounds are decided.
    ========================================================================= */

#include "oplog_encoding.h"
#include "ca_sign.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

const char *oplog_header_problem(const Cairn__OpHeader *header) {
    if (!header)
        return "the request has no header; send the operation's header";
    if (header->version != OPLOG_VERSION)
        return "version must be 1";
    if (header->author.len != OPLOG_KEY_BYTES)
        return "author must be a 32-byte Ed25519 public key";
    if (header->signature.len != OPLOG_SIGNATURE_BYTES)
        return "signature must be 64 bytes (Ed25519)";
    if (header->payload_hash.len != OPLOG_HASH_BYTES)
        return "payload_hash must be 32 bytes (BLAKE2b-256 of the body)";
    if (header->payload_size > OPLOG_BODY_MAX)
        return "payload_size is over 524288 bytes (512 KiB): split the payload";
    if (header->seq == 0 && header->backlink.len != 0)
        return "an operation at seq 0 has no backlink; leave it empty";
    if (header->seq > 0 && header->backlink.len != OPLOG_HASH_BYTES)
        return "backlink must be the 32-byte hash of the log's operation at seq - 1";
    if (header->n_previous > OPLOG_PREVIOUS_MAX)
        return "previous has more than 64 hashes";
    for (size_t i = 0; i < header->n_previous; i++) {
        if (header->previous[i].len != OPLOG_HASH_BYTES)
            return "each previous hash must be 32 bytes";
        if (i > 0 &&
            memcmp(header->previous[i - 1].data, header->previous[i].data, OPLOG_HASH_BYTES) >= 0)
            return "previous hashes must be in strictly increasing bytewise order (sorted, "
                   "no repeats)";
    }
    if (header->extensions.len > OPLOG_EXTENSIONS_MAX)
        return "extensions are over 4096 bytes";
    if (header->seq == UINT64_MAX)
        return "seq is at its largest value; start another log";
    return NULL;
}

static uint8_t *s_put_u64(uint8_t *at, uint64_t value) {
    for (int i = 0; i < 8; i++)
        at[i] = (uint8_t)(value >> (56 - 8 * i));
    return at + 8;
}

static uint8_t *s_put(uint8_t *at, const void *data, size_t size) {
    if (size)
        memcpy(at, data, size);
    return at + size;
}

size_t oplog_header_encode(const Cairn__OpHeader *header, uint8_t *out) {
    uint8_t *at = s_put(out, OPLOG_DOMAIN, 8);
    *at++ = (uint8_t)header->version;
    at = s_put(at, header->author.data, OPLOG_KEY_BYTES);
    at = s_put_u64(at, header->log_id);
    at = s_put_u64(at, header->seq);
    at = s_put_u64(at, header->timestamp_us);
    at = s_put_u64(at, header->payload_size);
    at = s_put(at, header->payload_hash.data, OPLOG_HASH_BYTES);
    *at++ = header->backlink.len ? 1 : 0;
    at = s_put(at, header->backlink.data, header->backlink.len);
    *at++ = (uint8_t)(header->n_previous >> 8);
    *at++ = (uint8_t)header->n_previous;
    for (size_t i = 0; i < header->n_previous; i++)
        at = s_put(at, header->previous[i].data, OPLOG_HASH_BYTES);
    uint32_t length = (uint32_t)header->extensions.len;
    for (int i = 0; i < 4; i++)
        *at++ = (uint8_t)(length >> (24 - 8 * i));
    at = s_put(at, header->extensions.data, header->extensions.len);
    return (size_t)(at - out);
}

//  Encodes the header into `encoded` and hashes it; 0 when the header
//  cannot be encoded, else the encoding's length.
static size_t s_encode_hash(const Cairn__OpHeader *header, uint8_t *encoded,
                            uint8_t hash[OPLOG_HASH_BYTES]) {
    if (oplog_header_problem(header))
        return 0;
    size_t size = oplog_header_encode(header, encoded);
    crypto_generichash(hash, OPLOG_HASH_BYTES, encoded, size, NULL, 0);
    return size;
}

bool oplog_header_hash(const Cairn__OpHeader *header, uint8_t hash[OPLOG_HASH_BYTES]) {
    uint8_t encoded[OPLOG_ENCODED_MAX];
    return s_encode_hash(header, encoded, hash) > 0;
}

void oplog_payload_hash(const void *body, size_t size, uint8_t hash[OPLOG_HASH_BYTES]) {
    crypto_generichash(hash, OPLOG_HASH_BYTES, (const uint8_t *)body, size, NULL, 0);
}

bool oplog_header_sign(Cairn__OpHeader *header, const uint8_t *secret_key,
                       uint8_t hash[OPLOG_HASH_BYTES]) {
    uint8_t encoded[OPLOG_ENCODED_MAX];
    size_t size = s_encode_hash(header, encoded, hash);
    if (!size)
        return false;
    ca_ed25519_sign(secret_key, encoded, size, header->signature.data);
    return true;
}

bool oplog_header_verify(const Cairn__OpHeader *header, uint8_t hash[OPLOG_HASH_BYTES]) {
    uint8_t encoded[OPLOG_ENCODED_MAX];
    size_t size = s_encode_hash(header, encoded, hash);
    return size > 0 &&
           ca_ed25519_verify(header->author.data, encoded, size, header->signature.data);
}

//  ---- self-test ---------------------------------------------------------------

static void s_hex(const uint8_t *data, size_t size, char *text) {
    for (size_t i = 0; i < size; i++)
        sprintf(text + 2 * i, "%02x", data[i]);
}

void oplog_encoding_test(bool verbose) {
    if (verbose)
        printf(" * oplog_encoding: ");
    //  Vector 1: seq 0, no backlink, no previous, no extensions.
    uint8_t author[32], payload_hash[32], signature[64] = {0};
    memset(author, 0x11, 32);
    memset(payload_hash, 0x22, 32);
    Cairn__OpHeader header = CAIRN__OP_HEADER__INIT;
    header.version = 1;
    header.author = (ProtobufCBinaryData){32, author};
    header.signature = (ProtobufCBinaryData){64, signature};
    header.payload_size = 5;
    header.payload_hash = (ProtobufCBinaryData){32, payload_hash};
    header.timestamp_us = 0x0102030405060708ULL;
    header.log_id = 7;
    header.seq = 0;
    assert(oplog_header_problem(&header) == NULL);
    uint8_t encoded[OPLOG_ENCODED_MAX];
    char text[2 * OPLOG_ENCODED_MAX + 1];
    size_t size = oplog_header_encode(&header, encoded);
    s_hex(encoded, size, text);
    const char *expect1 =
        "636169726e2d6f70"                                                 //  "cairn-op"
        "01"                                                               //  version
        "1111111111111111111111111111111111111111111111111111111111111111" //  author
        "0000000000000007"                                                 //  log_id
        "0000000000000000"                                                 //  seq
        "0102030405060708"                                                 //  timestamp_us
        "0000000000000005"                                                 //  payload_size
        "2222222222222222222222222222222222222222222222222222222222222222" //  payload_hash
        "00"                                                               //  no backlink
        "0000"                                                             //  previous: 0
        "00000000";                                                        //  extensions: 0
    assert(size == 112 && strcmp(text, expect1) == 0);
    uint8_t hash[32];
    assert(oplog_header_hash(&header, hash));
    s_hex(hash, 32, text);
    assert(strcmp(text, "d899afcb9ef58bd4957665ffae93e7d00c9ee0fa2bd7a87c9db352a84ffe7555") == 0);

    //  Vector 2: seq 1 with backlink, two previous, 3 extension bytes.
    uint8_t backlink[32], previous_a[32], previous_b[32], extensions[3] = {0xaa, 0xbb, 0xcc};
    memset(backlink, 0x33, 32);
    memset(previous_a, 0x44, 32);
    memset(previous_b, 0x55, 32);
    ProtobufCBinaryData previous[2] = {{32, previous_a}, {32, previous_b}};
    header.seq = 1;
    header.backlink = (ProtobufCBinaryData){32, backlink};
    header.n_previous = 2;
    header.previous = previous;
    header.extensions = (ProtobufCBinaryData){3, extensions};
    assert(oplog_header_problem(&header) == NULL);
    size = oplog_header_encode(&header, encoded);
    s_hex(encoded, size, text);
    const char *expect2 = "636169726e2d6f7001"
                          "1111111111111111111111111111111111111111111111111111111111111111"
                          "0000000000000007"
                          "0000000000000001" //  seq 1
                          "0102030405060708"
                          "0000000000000005"
                          "2222222222222222222222222222222222222222222222222222222222222222"
                          "01" //  a backlink follows
                          "3333333333333333333333333333333333333333333333333333333333333333"
                          "0002" //  two previous
                          "4444444444444444444444444444444444444444444444444444444444444444"
                          "5555555555555555555555555555555555555555555555555555555555555555"
                          "00000003" //  3 extension bytes
                          "aabbcc";
    assert(size == 112 + 32 + 64 + 3 && strcmp(text, expect2) == 0);
    assert(oplog_header_hash(&header, hash));
    s_hex(hash, 32, text);
    assert(strcmp(text, "41a68e830ec5823e5ae1f0e67b6971a8dc9b039e7015ea3c1b85de34f20f2b98") == 0);

    //  Payload hash of "hello" (BLAKE2b-256).
    oplog_payload_hash("hello", 5, hash);
    s_hex(hash, 32, text);
    assert(strcmp(text, "324dcf027dd4a30a932c441f365a25e86b173defa4b8e58948253471b81b72cf") == 0);

    //  Sign and verify with a key from a fixed seed; a flipped byte fails.
    uint8_t seed[32], public_key[32], secret_key[64];
    memset(seed, 0x07, 32);
    ca_ed25519_from_seed(seed, public_key, secret_key);
    header.author = (ProtobufCBinaryData){32, public_key};
    assert(oplog_header_sign(&header, secret_key, hash));
    uint8_t check[32];
    assert(oplog_header_verify(&header, check) && memcmp(hash, check, 32) == 0);
    header.timestamp_us++;
    assert(!oplog_header_verify(&header, check));
    header.timestamp_us--;
    signature[5] ^= 1;
    assert(!oplog_header_verify(&header, check));
    signature[5] ^= 1;

    //  Bounds.
    ProtobufCBinaryData unsorted[2] = {{32, previous_b}, {32, previous_a}};
    header.previous = unsorted;
    assert(strstr(oplog_header_problem(&header), "increasing"));
    header.previous = previous;
    header.backlink.len = 0;
    assert(strstr(oplog_header_problem(&header), "backlink"));
    header.seq = 0;
    assert(oplog_header_problem(&header) == NULL);
    header.backlink.len = 32;
    assert(strstr(oplog_header_problem(&header), "seq 0"));
    header.backlink.len = 0;
    header.version = 2;
    assert(strstr(oplog_header_problem(&header), "version"));
    header.version = 1;
    header.payload_size = OPLOG_BODY_MAX + 1;
    assert(strstr(oplog_header_problem(&header), "payload_size"));
    header.payload_size = 5;
    header.extensions.len = OPLOG_EXTENSIONS_MAX + 1;
    assert(strstr(oplog_header_problem(&header), "extensions"));
    header.extensions.len = 3;
    header.author.len = 31;
    assert(strstr(oplog_header_problem(&header), "author"));
    if (verbose)
        printf("OK\n");
}

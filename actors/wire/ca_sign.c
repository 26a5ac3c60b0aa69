/*  =========================================================================
    ca_sign - Ed25519 signatures: the one verification path of the node
    ========================================================================= */

#include "ca_sign.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

bool ca_ed25519_verify(const uint8_t public_key[CA_ED25519_PUBLIC_BYTES], const void *message,
                       size_t size, const uint8_t signature[CA_ED25519_SIGNATURE_BYTES]) {
    assert(public_key && signature);
    assert(message || size == 0);
    static const uint8_t nothing[1] = {0};
    const unsigned char *bytes = message ? (const unsigned char *)message : nothing;
    return crypto_sign_verify_detached(signature, bytes, (unsigned long long)size, public_key) == 0;
}

void ca_ed25519_sign(const uint8_t secret_key[CA_ED25519_SECRET_BYTES], const void *message,
                     size_t size, uint8_t signature[CA_ED25519_SIGNATURE_BYTES]) {
    assert(secret_key && signature);
    assert(message || size == 0);
    static const uint8_t nothing[1] = {0};
    const unsigned char *bytes = message ? (const unsigned char *)message : nothing;
    int rc = crypto_sign_detached(signature, NULL, bytes, (unsigned long long)size, secret_key);
    assert(rc == 0); //  libsodium's Ed25519 signing has no failure path
    (void)rc;
}

void ca_ed25519_from_seed(const uint8_t seed[CA_ED25519_SEED_BYTES],
                          uint8_t public_key[CA_ED25519_PUBLIC_BYTES],
                          uint8_t secret_key[CA_ED25519_SECRET_BYTES]) {
    int rc = crypto_sign_seed_keypair(public_key, secret_key, seed);
    assert(rc == 0); //  no failure path either
    (void)rc;
}

//  --------------------------------------------------------------------------
//  Self-test: RFC 8032 section 7.1 vectors (TEST 1, 2, 3, 1024 and SHA(abc))

typedef struct {
    const char *secret;    //  32-byte seed, hex
    const char *public;    //  hex
    const char *message;   //  hex
    const char *signature; //  hex
} s_vector_t;

static const s_vector_t s_vectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
    {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd"
     "454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e"
     "030"
     "3dca179c138ac17ad9bef1177331a704"},
};

static size_t s_unhex(const char *hex, uint8_t *bytes, size_t capacity) {
    size_t size = 0;
    int rc = sodium_hex2bin(bytes, capacity, hex, strlen(hex), NULL, &size, NULL);
    assert(rc == 0);
    (void)rc;
    return size;
}

static void s_check_vector(const s_vector_t *vector) {
    uint8_t seed[CA_ED25519_SEED_BYTES];
    uint8_t expected_public[CA_ED25519_PUBLIC_BYTES];
    uint8_t expected_signature[CA_ED25519_SIGNATURE_BYTES];
    uint8_t message[128];
    assert(s_unhex(vector->secret, seed, sizeof seed) == sizeof seed);
    assert(s_unhex(vector->public, expected_public, sizeof expected_public) ==
           sizeof expected_public);
    assert(s_unhex(vector->signature, expected_signature, sizeof expected_signature) ==
           sizeof expected_signature);
    size_t size = s_unhex(vector->message, message, sizeof message);

    //  The key pair and the (deterministic) signature are the RFC's.
    uint8_t public_key[CA_ED25519_PUBLIC_BYTES];
    uint8_t secret_key[CA_ED25519_SECRET_BYTES];
    ca_ed25519_from_seed(seed, public_key, secret_key);
    assert(memcmp(public_key, expected_public, sizeof public_key) == 0);
    uint8_t signature[CA_ED25519_SIGNATURE_BYTES];
    ca_ed25519_sign(secret_key, size ? message : NULL, size, signature);
    assert(memcmp(signature, expected_signature, sizeof signature) == 0);

    //  The RFC's signature verifies; any flipped bit of signature, message or
    //  key does not, nor does a longer or shorter message.
    assert(ca_ed25519_verify(expected_public, size ? message : NULL, size, expected_signature));
    for (size_t at = 0; at < sizeof signature; at += 7) {
        signature[at] ^= 0x01;
        assert(!ca_ed25519_verify(expected_public, message, size, signature));
        signature[at] ^= 0x01;
    }
    for (size_t at = 0; at < size; at++) {
        message[at] ^= 0x80;
        assert(!ca_ed25519_verify(expected_public, message, size, signature));
        message[at] ^= 0x80;
    }
    for (size_t at = 0; at < sizeof public_key; at += 5) {
        public_key[at] ^= 0x04;
        assert(!ca_ed25519_verify(public_key, message, size, signature));
        public_key[at] ^= 0x04;
    }
    message[size] = 0;
    assert(!ca_ed25519_verify(expected_public, message, size + 1, signature));
    if (size > 0)
        assert(!ca_ed25519_verify(expected_public, message, size - 1, signature));
    sodium_memzero(secret_key, sizeof secret_key);
}

void ca_sign_test(bool verbose) {
    if (verbose)
        printf(" * ca_sign: ");
    for (size_t i = 0; i < sizeof s_vectors / sizeof s_vectors[0]; i++)
        s_check_vector(&s_vectors[i]);

    //  A signature by another key does not verify under the first one, and
    //  an all-zero (small-order) public key is refused, not trusted.
    uint8_t public_a[CA_ED25519_PUBLIC_BYTES], secret_a[CA_ED25519_SECRET_BYTES];
    uint8_t public_b[CA_ED25519_PUBLIC_BYTES], secret_b[CA_ED25519_SECRET_BYTES];
    crypto_sign_keypair(public_a, secret_a);
    crypto_sign_keypair(public_b, secret_b);
    uint8_t signature[CA_ED25519_SIGNATURE_BYTES];
    ca_ed25519_sign(secret_b, "pay", 3, signature);
    assert(ca_ed25519_verify(public_b, "pay", 3, signature));
    assert(!ca_ed25519_verify(public_a, "pay", 3, signature));
    uint8_t zero_key[CA_ED25519_PUBLIC_BYTES] = {0};
    uint8_t zero_signature[CA_ED25519_SIGNATURE_BYTES] = {0};
    assert(!ca_ed25519_verify(zero_key, "pay", 3, zero_signature));
    assert(!ca_ed25519_verify(zero_key, "pay", 3, signature));
    sodium_memzero(secret_a, sizeof secret_a);
    sodium_memzero(secret_b, sizeof secret_b);

    if (verbose)
        printf("OK\n");
}

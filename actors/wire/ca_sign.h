/*  =========================================================================
    ca_sign - Ed25519 signatures: the one verification path of the node

    Everything the node accepts on the strength of a signature (payments on
    a channel, the node's own identity) goes through ca_ed25519_verify, so
    the RFC 8032 test vectors in this file's self-test cover the same code
    that payments use. It wraps libsodium's crypto_sign_verify_detached,
    which also refuses non-canonical signatures (S >= L) and small-order
    public keys.

    Keys and signatures are raw bytes: a public key is 32 bytes, a secret key
    is libsodium's 64-byte form (seed || public key), a signature 64 bytes.
    ========================================================================= */

#ifndef CA_SIGN_H_INCLUDED
#define CA_SIGN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CA_ED25519_PUBLIC_BYTES    32
#define CA_ED25519_SECRET_BYTES    64
#define CA_ED25519_SEED_BYTES      32
#define CA_ED25519_SIGNATURE_BYTES 64

//  True when signature is a valid Ed25519 signature by public_key over
//  message[0..size). Any other case (bad signature, other message, invalid
//  key) is false; it never aborts on outside input.
bool ca_ed25519_verify(const uint8_t public_key[CA_ED25519_PUBLIC_BYTES], const void *message,
                       size_t size, const uint8_t signature[CA_ED25519_SIGNATURE_BYTES]);

//  Writes the detached signature of message[0..size) by secret_key (for
//  tests, tools and the node's own identity).
void ca_ed25519_sign(const uint8_t secret_key[CA_ED25519_SECRET_BYTES], const void *message,
                     size_t size, uint8_t signature[CA_ED25519_SIGNATURE_BYTES]);

//  Derives the key pair of a 32-byte seed (RFC 8032's "secret key").
void ca_ed25519_from_seed(const uint8_t seed[CA_ED25519_SEED_BYTES],
                          uint8_t public_key[CA_ED25519_PUBLIC_BYTES],
                          uint8_t secret_key[CA_ED25519_SECRET_BYTES]);

void ca_sign_test(bool verbose);

#endif

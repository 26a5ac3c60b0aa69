/*  =========================================================================
    ca_hash - SHA-256 for content addressing, behind one interface

    The content store's throughput is its hashing speed, so the backend is a
    build choice (CMake CAIRN_SHA256=openssl|sodium) behind this interface:
    OpenSSL's libcrypto uses the CPU's SHA extensions (SHA-NI) where present,
    libsodium's SHA-256 is portable C. `cairn-bench` measures both in the
    same run; docs/HASHING.md records the figures and why openssl is the
    default.

    Hex conversion (the CLI's form of a hash) is in ca_validate.
    ========================================================================= */

#ifndef CA_HASH_H_INCLUDED
#define CA_HASH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CA_SHA256_BYTES 32

typedef struct _ca_sha256_t ca_sha256_t;

//  An incremental hash, ready for ca_sha256_update. NULL only when the
//  crypto library cannot allocate (treat as out of memory).
ca_sha256_t *ca_sha256_new(void);
void ca_sha256_update(ca_sha256_t *self, const void *data, size_t size);
//  Writes the digest; the state is then reset for a new message.
void ca_sha256_final(ca_sha256_t *self, uint8_t digest[CA_SHA256_BYTES]);
void ca_sha256_destroy(ca_sha256_t **self_p);

//  One-shot digest of data[0..size).
void ca_sha256(const void *data, size_t size, uint8_t digest[CA_SHA256_BYTES]);

//  "openssl" or "libsodium": the backend this build uses.
const char *ca_sha256_backend(void);

//  The backend library and its version, e.g. "OpenSSL 3.0.17 1 Jul 2025".
const char *ca_sha256_backend_version(void);

void ca_hash_test(bool verbose);

#endif

/*  =========================================================================
    ca_hash - SHA-256 for content addressing, behind one interface
    ========================================================================= */

#include "ca_hash.h"
#include "ca_validate.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(CAIRN_SHA256_OPENSSL)

#include <openssl/crypto.h> //  OpenSSL_version
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>

//  OpenSSL 3 looks the algorithm up (an "implicit fetch") on every
//  EVP_DigestInit_ex with EVP_sha256(); fetching it once and sharing the
//  read-only EVP_MD between threads avoids that cost on small blobs.
static EVP_MD *s_sha256_md;
static pthread_once_t s_fetch_once = PTHREAD_ONCE_INIT;

static void s_fetch_md(void) {
    s_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    assert(s_sha256_md); //  a libcrypto without SHA-256 is a broken install
}

static const EVP_MD *s_md(void) {
    pthread_once(&s_fetch_once, s_fetch_md);
    return s_sha256_md;
}

//  OpenSSL initializes itself on first use, and on that thread it keeps
//  per-thread state (its error queue) that it frees only at its own exit
//  handler for the thread that ran the init. Doing it at program start, on
//  the main thread, keeps actor threads from owning state they would leak.
__attribute__((constructor)) static void s_init_on_main_thread(void) {
    s_md();
}

struct _ca_sha256_t {
    EVP_MD_CTX *ctx;
};

ca_sha256_t *ca_sha256_new(void) {
    ca_sha256_t *self = (ca_sha256_t *)calloc(1, sizeof(ca_sha256_t));
    if (!self)
        return NULL;
    self->ctx = EVP_MD_CTX_new();
    if (!self->ctx || EVP_DigestInit_ex(self->ctx, s_md(), NULL) != 1) {
        ca_sha256_destroy(&self);
        return NULL;
    }
    return self;
}

void ca_sha256_update(ca_sha256_t *self, const void *data, size_t size) {
    //  Once a context is initialised (ca_sha256_new checks), SHA-256 in
    //  OpenSSL's default provider allocates nothing more and cannot fail.
    int rc = EVP_DigestUpdate(self->ctx, data, size);
    assert(rc == 1);
    (void)rc;
}

void ca_sha256_final(ca_sha256_t *self, uint8_t digest[CA_SHA256_BYTES]) {
    unsigned int length = 0;
    int rc = EVP_DigestFinal_ex(self->ctx, digest, &length);
    assert(rc == 1 && length == CA_SHA256_BYTES);
    rc = EVP_DigestInit_ex(self->ctx, s_md(), NULL);
    assert(rc == 1);
    (void)rc;
}

void ca_sha256_destroy(ca_sha256_t **self_p) {
    if (!*self_p)
        return;
    EVP_MD_CTX_free((*self_p)->ctx);
    free(*self_p);
    *self_p = NULL;
}

//  One-shot hashes reuse a context per thread: EVP_Digest allocates,
//  initialises and frees one per call, which cost a third of a 4 KiB hash
//  (hash.ca_sha256.4k 132k/s against raw.sha256_openssl.4k's 204k/s with
//  one context; a ContentGet of 4 KiB hashes once). The context is freed
//  when its thread exits (the key's destructor).
static pthread_key_t s_ctx_key;
static pthread_once_t s_key_once = PTHREAD_ONCE_INIT;
static bool s_key_ok;

static void s_ctx_free(void *ctx) {
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
}

static void s_make_key(void) {
    s_key_ok = pthread_key_create(&s_ctx_key, s_ctx_free) == 0;
}

//  This thread's context, or NULL when it cannot have one (no memory).
static EVP_MD_CTX *s_thread_ctx(void) {
    pthread_once(&s_key_once, s_make_key);
    if (!s_key_ok)
        return NULL;
    EVP_MD_CTX *ctx = (EVP_MD_CTX *)pthread_getspecific(s_ctx_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (ctx && pthread_setspecific(s_ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

void ca_sha256(const void *data, size_t size, uint8_t digest[CA_SHA256_BYTES]) {
    unsigned int length = 0;
    EVP_MD_CTX *ctx = s_thread_ctx();
    if (ctx && EVP_DigestInit_ex(ctx, s_md(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, data, size) == 1 && EVP_DigestFinal_ex(ctx, digest, &length) == 1 &&
        length == CA_SHA256_BYTES)
        return;
    //  Without a context (memory ran out) libsodium's SHA-256, which needs
    //  none, gives the same digest.
    crypto_hash_sha256(digest, (const unsigned char *)data, (unsigned long long)size);
}

const char *ca_sha256_backend(void) {
    return "openssl";
}

const char *ca_sha256_backend_version(void) {
    return OpenSSL_version(OPENSSL_VERSION);
}

#else //  libsodium

#include <sodium.h>

struct _ca_sha256_t {
    crypto_hash_sha256_state state;
};

ca_sha256_t *ca_sha256_new(void) {
    ca_sha256_t *self = (ca_sha256_t *)calloc(1, sizeof(ca_sha256_t));
    if (self)
        crypto_hash_sha256_init(&self->state);
    return self;
}

void ca_sha256_update(ca_sha256_t *self, const void *data, size_t size) {
    crypto_hash_sha256_update(&self->state, (const unsigned char *)data, size);
}

void ca_sha256_final(ca_sha256_t *self, uint8_t digest[CA_SHA256_BYTES]) {
    crypto_hash_sha256_final(&self->state, digest);
    crypto_hash_sha256_init(&self->state);
}

void ca_sha256_destroy(ca_sha256_t **self_p) {
    free(*self_p);
    *self_p = NULL;
}

void ca_sha256(const void *data, size_t size, uint8_t digest[CA_SHA256_BYTES]) {
    crypto_hash_sha256(digest, (const unsigned char *)data, size);
}

const char *ca_sha256_backend(void) {
    return "libsodium";
}

const char *ca_sha256_backend_version(void) {
    static char text[64];
    snprintf(text, sizeof text, "libsodium %s", sodium_version_string());
    return text;
}

#endif

void ca_hash_test(bool verbose) {
    if (verbose)
        printf(" * ca_hash (%s): ", ca_sha256_backend());
    //  FIPS 180-2 test vectors.
    static const char *const empty =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const char *const abc =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const char *const two_blocks =
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    const char *message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t digest[CA_SHA256_BYTES];
    char hex[65];
    ca_sha256("", 0, digest);
    ca_hash_to_hex(digest, hex);
    assert(strcmp(hex, empty) == 0);
    ca_sha256("abc", 3, digest);
    ca_hash_to_hex(digest, hex);
    assert(strcmp(hex, abc) == 0);

    //  Incremental in uneven pieces equals one-shot; the state resets.
    ca_sha256_t *hash = ca_sha256_new();
    assert(hash);
    for (int round = 0; round < 2; round++) {
        size_t length = strlen(message);
        for (size_t at = 0; at < length; at += 7)
            ca_sha256_update(hash, message + at, length - at < 7 ? length - at : 7);
        ca_sha256_final(hash, digest);
        ca_hash_to_hex(digest, hex);
        assert(strcmp(hex, two_blocks) == 0);
    }
    ca_sha256_destroy(&hash);
    ca_sha256_destroy(&hash); //  NULL-safe

    if (verbose)
        printf("OK\n");
}

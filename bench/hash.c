/*  =========================================================================
    hash - cairn-bench's SHA-256 cases: which library hashes fastest

    The content store's throughput is bounded by SHA-256 (every byte put or
    got is hashed once), so the bench measures the two candidate libraries
    directly, in the same run, on the same buffers, and then cairn's own
    helper (actors/common/ca_hash.h), which is one of them behind an
    interface:

        raw.sha256_sodium.SIZE    libsodium crypto_hash_sha256, one call
        raw.sha256_openssl.SIZE   OpenSSL EVP: the digest fetched once per
                                  case (EVP_MD_fetch), one EVP_MD_CTX
                                  reused (Init/Update/Final); only when the
                                  bench links libcrypto
        hash.ca_sha256.SIZE       ca_sha256, this build's backend

    SIZE is 4k, 1m or 64m: one buffer of a fixed pseudo-random pattern is
    hashed over and over until --seconds or --max-ops runs out (always at
    least once). ops/s counts buffers, MB/s is 10^6 bytes per second. The 4
    KiB and 1 MiB buffers stay in the CPU's caches, the 64 MiB one streams
    from memory, as a blob does.

    OpenSSL picks its code by CPUID: with SHA extensions (SHA-NI) it uses
    them, else its own SSSE3/AVX2 assembly. OPENSSL_ia32cap=":~0x20000000"
    in the environment masks the SHA bit, which shows the fallback on the
    same machine (docs/HASHING.md records both).
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CAIRN_BENCH_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif

//  Hashes data[0..size) into digest; `state` is the case's own.
typedef void(hash_fn)(void *state, const uint8_t *data, size_t size,
                      uint8_t digest[CA_SHA256_BYTES]);

//  Hashes the pattern's first `size` bytes until the time or count bound,
//  at least once; the first digest is checked against ca_sha256's.
static int s_run_hash(bench_t *bench, result_t *result, const char *name, size_t size,
                      hash_fn *hash, void *state) {
    const uint8_t *data = bench_pattern(bench, size);
    uint8_t expected[CA_SHA256_BYTES], digest[CA_SHA256_BYTES];
    ca_sha256(data, size, expected);
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    do {
        hash(state, data, size, digest);
        if (result->ok == 0 && memcmp(digest, expected, sizeof digest) != 0)
            return bench_fail(name, "its SHA-256 differs from ca_sha256's");
        result->ok++;
    } while (bench_go_on(bench, result, deadline));
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    result->bytes = result->ok * size;
    return 0;
}

static void s_sodium_hash(void *state, const uint8_t *data, size_t size,
                          uint8_t digest[CA_SHA256_BYTES]) {
    crypto_hash_sha256(digest, data, size);
}

static int s_run_sha256_sodium(bench_t *bench, result_t *result, const char *name, size_t size) {
    if (sodium_init() < 0)
        return bench_fail(name, "libsodium did not initialise (sodium_init)");
    return s_run_hash(bench, result, name, size, s_sodium_hash, NULL);
}

static void s_ca_hash(void *state, const uint8_t *data, size_t size,
                      uint8_t digest[CA_SHA256_BYTES]) {
    ca_sha256(data, size, digest);
}

static int s_run_ca_sha256(bench_t *bench, result_t *result, const char *name, size_t size) {
    return s_run_hash(bench, result, name, size, s_ca_hash, NULL);
}

#ifdef CAIRN_BENCH_OPENSSL

typedef struct {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} openssl_state_t;

static void s_openssl_hash(void *state, const uint8_t *data, size_t size,
                           uint8_t digest[CA_SHA256_BYTES]) {
    openssl_state_t *openssl = (openssl_state_t *)state;
    unsigned int length = 0;
    int ok = EVP_DigestInit_ex2(openssl->ctx, openssl->md, NULL) &&
             EVP_DigestUpdate(openssl->ctx, data, size) &&
             EVP_DigestFinal_ex(openssl->ctx, digest, &length) && length == CA_SHA256_BYTES;
    if (!ok) //  the first digest is compared: a failure shows there
        memset(digest, 0, CA_SHA256_BYTES);
}

static int s_run_sha256_openssl(bench_t *bench, result_t *result, const char *name, size_t size) {
    openssl_state_t openssl = {EVP_MD_fetch(NULL, "SHA256", NULL), EVP_MD_CTX_new()};
    int rc = openssl.md && openssl.ctx
                 ? s_run_hash(bench, result, name, size, s_openssl_hash, &openssl)
                 : bench_fail(name, "OpenSSL has no SHA256 (EVP_MD_fetch) or no memory");
    EVP_MD_CTX_free(openssl.ctx);
    EVP_MD_free(openssl.md);
    return rc;
}

#endif

//  Whether /proc/cpuinfo's first "flags" line lists `flag`.
static bool s_cpu_has(const char *flag) {
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return false;
    char line[8192];
    bool found = false, done = false;
    size_t length = strlen(flag);
    while (!done && fgets(line, sizeof line, file)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        done = true;
        for (char *at = strstr(line, flag); at && !found; at = strstr(at + 1, flag))
            found = at > line && (at[-1] == ' ' || at[-1] == '\t') &&
                    (at[length] == ' ' || at[length] == '\n' || at[length] == '\0');
    }
    fclose(file);
    return found;
}

void bench_hash_print_versions(void) {
    const char *mask = getenv("OPENSSL_ia32cap");
#ifdef CAIRN_BENCH_OPENSSL
    const char *openssl = OpenSSL_version(OPENSSL_VERSION);
#else
    const char *openssl = "not linked";
#endif
    printf("hashing:  ca_sha256 backend %s, libsodium %s, %s; CPU SHA extensions (sha_ni) %s; "
           "OPENSSL_ia32cap %s\n",
           ca_sha256_backend(), sodium_version_string(), openssl,
           s_cpu_has("sha_ni") ? "yes" : "no", mask ? mask : "unset");
}

//  The OpenSSL rows exist only when the bench links libcrypto.
#ifdef CAIRN_BENCH_OPENSSL
#define IF_OPENSSL(name) name
#else
#define IF_OPENSSL(name) NULL
#endif

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "raw.sha256_sodium.4k",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_sodium,
     .size = KIB4,
     .what = "libsodium crypto_hash_sha256 of a 4 KiB buffer, MB/s"},
    {.name = "raw.sha256_sodium.1m",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_sodium,
     .size = MIB1,
     .what = "the same, 1 MiB"},
    {.name = "raw.sha256_sodium.64m",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_sodium,
     .size = MIB64,
     .what = "the same, 64 MiB"},
#ifdef CAIRN_BENCH_OPENSSL
    {.name = "raw.sha256_openssl.4k",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_openssl,
     .size = KIB4,
     .versus = {"raw.sha256_sodium.4k"},
     .what = "OpenSSL EVP SHA-256 (fetched once, one context) of a 4 KiB buffer, MB/s"},
    {.name = "raw.sha256_openssl.1m",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_openssl,
     .size = MIB1,
     .versus = {"raw.sha256_sodium.1m"},
     .what = "the same, 1 MiB"},
    {.name = "raw.sha256_openssl.64m",
     .kind = KIND_BASELINE,
     .sized = s_run_sha256_openssl,
     .size = MIB64,
     .versus = {"raw.sha256_sodium.64m"},
     .what = "the same, 64 MiB"},
#endif
    {.name = "hash.ca_sha256.4k",
     .kind = KIND_HELPER,
     .sized = s_run_ca_sha256,
     .size = KIB4,
     .versus = {"raw.sha256_sodium.4k", IF_OPENSSL("raw.sha256_openssl.4k")},
     .what = "cairn's ca_sha256 (this build's backend) of a 4 KiB buffer, MB/s"},
    {.name = "hash.ca_sha256.1m",
     .kind = KIND_HELPER,
     .sized = s_run_ca_sha256,
     .size = MIB1,
     .versus = {"raw.sha256_sodium.1m", IF_OPENSSL("raw.sha256_openssl.1m")},
     .what = "the same, 1 MiB"},
    {.name = "hash.ca_sha256.64m",
     .kind = KIND_HELPER,
     .sized = s_run_ca_sha256,
     .size = MIB64,
     .versus = {"raw.sha256_sodium.64m", IF_OPENSSL("raw.sha256_openssl.64m")},
     .what = "the same, 64 MiB"},
};

const bench_area_t bench_hash_area = BENCH_AREA(s_cases, NULL, NULL);

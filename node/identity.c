/*  =========================================================================
    identity - the node's Ed25519 identity, encrypted at rest

    The file, identity/identity.key under the data dir, is 148 bytes:

        offset size
             0    8  magic "CAIRNID\0"
             8    1  format version, 1
             9    1  cipher: 1 AES-256-GCM, 2 XChaCha20-Poly1305
            10    1  key derivation: 1 Argon2id v1.3 (crypto_pwhash)
            11    1  reserved, 0
            12    8  Argon2id opslimit, little-endian
            20    8  Argon2id memlimit in bytes, little-endian
            28   16  Argon2id salt
            44   32  Ed25519 public key (the peer id is its hex)
            76   24  AEAD nonce: AES-256-GCM uses the first 12 bytes (the
                     rest are 0), XChaCha20-Poly1305 all 24
           100   48  the 32-byte Ed25519 seed, encrypted, and the 16-byte tag

    Bytes 0..100 are the AEAD's associated data: changing any of them
    (parameters, public key, nonce) makes the file fail to authenticate,
    exactly like a changed ciphertext byte or a wrong password. After
    decryption the key pair is derived from the seed and its public key
    must equal the header's. Argon2id parameters are read from the file
    before anything authenticates it, so they are bounded before they are
    used (opslimit 1..8 passes, memlimit 8 KiB..1 GiB): an altered file is
    refused with a message naming the parameter, without spending the
    memory or the time it asks for. New files use far less (see below).

    New files use libsodium's INTERACTIVE Argon2id limits (opslimit 2,
    64 MiB), a fresh random salt and nonce, and AES-256-GCM where
    crypto_aead_aes256gcm_is_available() (the CPU has AES-NI and PCLMUL),
    else XChaCha20-Poly1305. A file written with AES-256-GCM cannot be
    opened on a CPU without it: `cairnd identity passwd --cipher
    xchacha20poly1305` on a machine with it converts the file.

    Writes are atomic: a temp file (0600, O_EXCL) in the same dir,
    fsync, then link() for a new identity (which refuses to replace an
    existing one, even in a race) or rename() for a new password, then
    fsync of the directory. A directory made on the way (the data dir,
    identity/) has its parent fsynced too. A crash leaves the old file or
    the new one, never a mix; a stale temp file is harmless.
    ========================================================================= */

#include "identity.h"
#include "ca_blobs.h"
#include "ca_sign.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define MAGIC        "CAIRNID"
#define MAGIC_SIZE   8
#define VERSION      1
#define KDF_ARGON2ID 1
#define AT_VERSION   8
#define AT_CIPHER    9
#define AT_KDF       10
#define AT_RESERVED  11
#define AT_OPSLIMIT  12
#define AT_MEMLIMIT  20
#define AT_SALT      28
#define AT_PUBLIC    44
#define AT_NONCE     76
#define HEADER_SIZE  100
#define SEALED_SIZE  (CA_ED25519_SEED_BYTES + 16)
#define FILE_SIZE    (HEADER_SIZE + SEALED_SIZE)
#define KEY_SIZE     32

#define OPSLIMIT_MAX 8ULL         //  Argon2id passes a file may ask for
#define MEMLIMIT_MAX (1ULL << 30) //  Argon2id memory a file may ask for: 1 GiB

struct _identity_t {
    uint8_t public_key[CA_ED25519_PUBLIC_BYTES];
    char peer_id[IDENTITY_PEER_ID_SIZE];
    uint8_t *secret_key; //  guarded, PROT_NONE between uses
};

//  ---- the file -----------------------------------------------------------------

static void s_put_u64(uint8_t *at, uint64_t value) {
    for (int i = 0; i < 8; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t s_get_u64(const uint8_t *at) {
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value |= (uint64_t)at[i] << (8 * i);
    return value;
}

static void s_peer_id_of(const uint8_t public_key[CA_ED25519_PUBLIC_BYTES],
                         char peer_id[IDENTITY_PEER_ID_SIZE]) {
    sodium_bin2hex(peer_id, IDENTITY_PEER_ID_SIZE, public_key, CA_ED25519_PUBLIC_BYTES);
}

char *identity_path(const char *data_dir) {
    return zsys_sprintf("%s/%s/%s", data_dir, IDENTITY_DIR, IDENTITY_FILE);
}

bool identity_exists(const char *data_dir) {
    char *path = identity_path(data_dir);
    struct stat info;
    bool exists = lstat(path, &info) == 0;
    zstr_free(&path);
    return exists;
}

//  Reads the whole file, which must be exactly FILE_SIZE bytes.
static char *s_read_file(const char *path, uint8_t file[FILE_SIZE]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return zsys_sprintf("no node identity at %s; create one with cairnd identity init",
                                path);
        return zsys_sprintf("cannot open %s: %s", path, strerror(errno));
    }
    uint8_t extra[FILE_SIZE + 1];
    size_t used = 0;
    ssize_t got = 1;
    while (got > 0 && used < sizeof extra) {
        got = read(fd, extra + used, sizeof extra - used);
        if (got < 0 && errno == EINTR)
            got = 1;
        else if (got > 0)
            used += (size_t)got;
    }
    int error = errno;
    close(fd);
    if (got < 0)
        return zsys_sprintf("cannot read %s: %s", path, strerror(error));
    if (used != FILE_SIZE)
        return zsys_sprintf("%s is not a cairn identity file (%zu%s bytes, expected %d); restore "
                            "it from a backup",
                            path, used, used > FILE_SIZE ? " or more" : "", FILE_SIZE);
    memcpy(file, extra, FILE_SIZE);
    return NULL;
}

//  A key-derivation parameter read from the file, before anything
//  authenticates it: NULL within min..max, else the problem (caller frees).
static char *s_check_bound(const char *path, const char *what, uint64_t value, uint64_t min,
                           uint64_t max) {
    if (value >= min && value <= max)
        return NULL;
    return zsys_sprintf("%s asks for %llu %s; cairnd allows %llu..%llu and refuses the file "
                        "unread (it is damaged or altered: restore it from a backup)",
                        path, (unsigned long long)value, what, (unsigned long long)min,
                        (unsigned long long)max);
}

//  Checks the clear header's structure (not its authenticity).
static char *s_check_header(const char *path, const uint8_t file[FILE_SIZE]) {
    if (memcmp(file, MAGIC, MAGIC_SIZE) != 0)
        return zsys_sprintf("%s is not a cairn identity file (bad magic); restore it from a "
                            "backup",
                            path);
    if (file[AT_VERSION] != VERSION)
        return zsys_sprintf("%s has format version %u; this cairnd reads version %d (use the "
                            "cairnd that wrote it)",
                            path, file[AT_VERSION], VERSION);
    uint8_t cipher = file[AT_CIPHER];
    if (cipher != IDENTITY_CIPHER_AES256GCM && cipher != IDENTITY_CIPHER_XCHACHA20POLY1305)
        return zsys_sprintf("%s names an unknown cipher (%u); the file is damaged", path, cipher);
    if (file[AT_KDF] != KDF_ARGON2ID || file[AT_RESERVED] != 0)
        return zsys_sprintf("%s names an unknown key derivation; the file is damaged", path);
    char *problem = s_check_bound(path, "Argon2id passes", s_get_u64(file + AT_OPSLIMIT),
                                  crypto_pwhash_OPSLIMIT_MIN, OPSLIMIT_MAX);
    if (!problem)
        problem = s_check_bound(path, "bytes of Argon2id memory", s_get_u64(file + AT_MEMLIMIT),
                                crypto_pwhash_MEMLIMIT_MIN, MEMLIMIT_MAX);
    if (problem)
        return problem;
    if (cipher == IDENTITY_CIPHER_AES256GCM && !crypto_aead_aes256gcm_is_available())
        return zsys_sprintf("%s is encrypted with AES-256-GCM, which this CPU does not support; "
                            "on a machine that does, run cairnd identity passwd --cipher "
                            "xchacha20poly1305",
                            path);
    return NULL;
}

//  Argon2id over the password into a guarded key. NULL when out of memory.
static uint8_t *s_derive_key(const identity_password_t *password, const uint8_t *salt,
                             uint64_t opslimit, uint64_t memlimit) {
    uint8_t *key = (uint8_t *)sodium_malloc(KEY_SIZE);
    if (!key)
        return NULL;
    if (crypto_pwhash(key, KEY_SIZE, password->text, password->length, salt,
                      (unsigned long long)opslimit, (size_t)memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_free(key);
        return NULL;
    }
    return key;
}

//  Seals seed into file (header already filled but for salt/nonce, which are
//  drawn here). 0, or -1 when the key derivation ran out of memory.
static int s_seal(uint8_t file[FILE_SIZE], const identity_password_t *password,
                  const uint8_t *seed) {
    randombytes_buf(file + AT_SALT, crypto_pwhash_SALTBYTES);
    memset(file + AT_NONCE, 0, 24);
    bool aes = file[AT_CIPHER] == IDENTITY_CIPHER_AES256GCM;
    randombytes_buf(file + AT_NONCE, aes ? crypto_aead_aes256gcm_NPUBBYTES
                                         : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    uint8_t *key = s_derive_key(password, file + AT_SALT, s_get_u64(file + AT_OPSLIMIT),
                                s_get_u64(file + AT_MEMLIMIT));
    if (!key)
        return -1;
    unsigned long long sealed = 0;
    if (aes)
        crypto_aead_aes256gcm_encrypt(file + HEADER_SIZE, &sealed, seed, CA_ED25519_SEED_BYTES,
                                      file, HEADER_SIZE, NULL, file + AT_NONCE, key);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(file + HEADER_SIZE, &sealed, seed,
                                                   CA_ED25519_SEED_BYTES, file, HEADER_SIZE, NULL,
                                                   file + AT_NONCE, key);
    assert(sealed == SEALED_SIZE);
    sodium_free(key);
    return 0;
}

//  Opens the sealed seed into `seed` (guarded, caller's). 0, or -1 when it
//  does not authenticate (wrong password or altered file), -2 when the key
//  derivation could not get its memory.
static int s_open(const uint8_t file[FILE_SIZE], const identity_password_t *password,
                  uint8_t *seed) {
    uint8_t *key = s_derive_key(password, file + AT_SALT, s_get_u64(file + AT_OPSLIMIT),
                                s_get_u64(file + AT_MEMLIMIT));
    if (!key)
        return -2;
    unsigned long long opened = 0;
    int rc;
    if (file[AT_CIPHER] == IDENTITY_CIPHER_AES256GCM)
        rc = crypto_aead_aes256gcm_decrypt(seed, &opened, NULL, file + HEADER_SIZE, SEALED_SIZE,
                                           file, HEADER_SIZE, file + AT_NONCE, key);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(seed, &opened, NULL, file + HEADER_SIZE,
                                                        SEALED_SIZE, file, HEADER_SIZE,
                                                        file + AT_NONCE, key);
    sodium_free(key);
    return rc == 0 && opened == CA_ED25519_SEED_BYTES ? 0 : -1;
}

//  Writes `file` as dir/IDENTITY_FILE atomically; replace=false refuses
//  an existing file (link() fails with EEXIST).
static char *s_write_atomic(const char *dir, const uint8_t file[FILE_SIZE], bool replace) {
    char *final_path = zsys_sprintf("%s/%s", dir, IDENTITY_FILE);
    char *temp_path = zsys_sprintf("%s/%s.tmp.%d", dir, IDENTITY_FILE, (int)getpid());
    char *problem = NULL;
    unlink(temp_path); //  a stale one of an earlier run with our pid
    int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        problem = zsys_sprintf("cannot create %s: %s", temp_path, strerror(errno));
    else {
        ssize_t wrote = fchmod(fd, 0600) == 0 ? write(fd, file, FILE_SIZE) : -1;
        bool ok = wrote == FILE_SIZE && fsync(fd) == 0;
        int error = errno;
        if (close(fd) != 0 && ok) {
            ok = false;
            error = errno;
        }
        if (!ok)
            problem = zsys_sprintf("cannot write %s: %s", temp_path, strerror(error ? error : EIO));
    }
    if (!problem && !replace && link(temp_path, final_path) != 0)
        problem = errno == EEXIST
                      ? zsys_sprintf("an identity already exists at %s; init never overwrites "
                                     "one (change its password with cairnd identity passwd, "
                                     "or move it away to start afresh)",
                                     final_path)
                      : zsys_sprintf("cannot create %s: %s", final_path, strerror(errno));
    if (!problem && replace && rename(temp_path, final_path) != 0)
        problem = zsys_sprintf("cannot replace %s: %s", final_path, strerror(errno));
    if (fd >= 0 && (problem || !replace))
        unlink(temp_path);
    if (!problem && ca_fsync_dir(dir) != 0)
        problem = zsys_sprintf("cannot sync directory %s: %s", dir, strerror(errno));
    zstr_free(&temp_path);
    zstr_free(&final_path);
    return problem;
}

static identity_cipher_t s_choose(identity_cipher_t cipher) {
    if (cipher != IDENTITY_CIPHER_AUTO)
        return cipher;
    return crypto_aead_aes256gcm_is_available() ? IDENTITY_CIPHER_AES256GCM
                                                : IDENTITY_CIPHER_XCHACHA20POLY1305;
}

static char *s_check_cipher(identity_cipher_t cipher) {
    if (cipher == IDENTITY_CIPHER_AES256GCM && !crypto_aead_aes256gcm_is_available())
        return strdup("this CPU has no AES-256-GCM support (AES-NI and PCLMUL); use --cipher "
                      "xchacha20poly1305 or auto");
    return NULL;
}

static void s_fill_header(uint8_t file[FILE_SIZE], identity_cipher_t cipher,
                          const uint8_t public_key[CA_ED25519_PUBLIC_BYTES]) {
    memset(file, 0, FILE_SIZE);
    memcpy(file, MAGIC, MAGIC_SIZE);
    file[AT_VERSION] = VERSION;
    file[AT_CIPHER] = (uint8_t)cipher;
    file[AT_KDF] = KDF_ARGON2ID;
    s_put_u64(file + AT_OPSLIMIT, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    s_put_u64(file + AT_MEMLIMIT, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    memcpy(file + AT_PUBLIC, public_key, CA_ED25519_PUBLIC_BYTES);
}

//  Makes data_dir/identity (0700). Returns its path, or NULL with *error.
static char *s_make_dir(const char *data_dir, char **error) {
    if (mkdir(data_dir, 0755) == 0) {
        char *parent = zsys_sprintf("%s/..", data_dir);
        int rc = ca_fsync_dir(parent);
        if (rc != 0)
            *error = zsys_sprintf("cannot sync directory %s: %s", parent, strerror(errno));
        zstr_free(&parent);
        if (rc != 0)
            return NULL;
    } else if (errno != EEXIST) {
        *error = zsys_sprintf("cannot create data dir %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    char *dir = zsys_sprintf("%s/%s", data_dir, IDENTITY_DIR);
    if (mkdir(dir, 0700) == 0) {
        //  The new directory's entry must be durable before a file in it
        //  is: a crash would otherwise lose the identity with its dir.
        if (ca_fsync_dir(data_dir) != 0) {
            *error = zsys_sprintf("cannot sync directory %s: %s", data_dir, strerror(errno));
            zstr_free(&dir);
        }
    } else if (errno != EEXIST) {
        *error = zsys_sprintf("cannot create %s: %s", dir, strerror(errno));
        zstr_free(&dir);
    }
    return dir;
}

int identity_create(const char *data_dir, const identity_password_t *password,
                    identity_cipher_t cipher, char peer_id[IDENTITY_PEER_ID_SIZE], char **error) {
    *error = s_check_cipher(cipher);
    if (*error)
        return -1;
    if (identity_exists(data_dir)) {
        char *path = identity_path(data_dir);
        *error = zsys_sprintf("an identity already exists at %s; init never overwrites one "
                              "(change its password with cairnd identity passwd, or move it "
                              "away to start afresh)",
                              path);
        zstr_free(&path);
        return -1;
    }
    char *dir = s_make_dir(data_dir, error);
    if (!dir)
        return -1;
    uint8_t public_key[CA_ED25519_PUBLIC_BYTES];
    uint8_t *secret = (uint8_t *)sodium_malloc(CA_ED25519_SECRET_BYTES);
    if (!secret) {
        *error = strdup("not enough memory for guarded key memory (sodium_malloc)");
        zstr_free(&dir);
        return -1;
    }
    crypto_sign_keypair(public_key, secret);
    uint8_t file[FILE_SIZE];
    s_fill_header(file, s_choose(cipher), public_key);
    //  libsodium's secret key is seed || public key: the seed is what we seal.
    if (s_seal(file, password, secret) != 0)
        *error = strdup("not enough memory for the Argon2id key derivation (64 MiB)");
    sodium_free(secret);
    if (!*error)
        *error = s_write_atomic(dir, file, false);
    zstr_free(&dir);
    if (*error)
        return -1;
    s_peer_id_of(public_key, peer_id);
    return 0;
}

int identity_read_peer_id(const char *data_dir, char peer_id[IDENTITY_PEER_ID_SIZE], char **error) {
    char *path = identity_path(data_dir);
    uint8_t file[FILE_SIZE];
    *error = s_read_file(path, file);
    //  The structure only: show needs neither the password nor AES-GCM.
    if (!*error && (memcmp(file, MAGIC, MAGIC_SIZE) != 0 || file[AT_VERSION] != VERSION))
        *error = s_check_header(path, file);
    zstr_free(&path);
    if (*error)
        return -1;
    s_peer_id_of(file + AT_PUBLIC, peer_id);
    return 0;
}

//  Reads, checks and opens the file into a guarded seed. NULL + *error.
static uint8_t *s_unseal(const char *data_dir, const identity_password_t *password,
                         uint8_t file[FILE_SIZE], char **error) {
    char *path = identity_path(data_dir);
    *error = s_read_file(path, file);
    if (!*error)
        *error = s_check_header(path, file);
    uint8_t *seed = NULL;
    if (!*error) {
        seed = (uint8_t *)sodium_malloc(CA_ED25519_SEED_BYTES);
        int rc = seed ? s_open(file, password, seed) : -2;
        if (rc == -2)
            *error = zsys_sprintf("not enough memory for the Argon2id key derivation of %s", path);
        else if (rc != 0)
            *error = zsys_sprintf("cannot unlock the node identity %s: wrong password, or the "
                                  "file was altered (it does not authenticate); give the right "
                                  "password (--identity-password-file FILE, "
                                  "CAIRN_IDENTITY_PASSWORD or the prompt)",
                                  path);
        if (*error) {
            sodium_free(seed);
            seed = NULL;
        }
    }
    zstr_free(&path);
    return seed;
}

identity_t *identity_unlock(const char *data_dir, const identity_password_t *password,
                            char **error) {
    uint8_t file[FILE_SIZE];
    uint8_t *seed = s_unseal(data_dir, password, file, error);
    if (!seed)
        return NULL;
    identity_t *self = (identity_t *)zmalloc(sizeof(identity_t));
    self->secret_key = (uint8_t *)sodium_malloc(CA_ED25519_SECRET_BYTES);
    if (!self->secret_key) {
        *error = strdup("not enough memory for guarded key memory (sodium_malloc)");
        sodium_free(seed);
        free(self);
        return NULL;
    }
    ca_ed25519_from_seed(seed, self->public_key, self->secret_key);
    sodium_free(seed);
    sodium_mprotect_noaccess(self->secret_key);
    if (sodium_memcmp(self->public_key, file + AT_PUBLIC, CA_ED25519_PUBLIC_BYTES) != 0) {
        char *path = identity_path(data_dir);
        *error = zsys_sprintf("%s does not hold the key pair of its public key; the file is "
                              "damaged, restore it from a backup",
                              path);
        zstr_free(&path);
        identity_destroy(&self);
        return NULL;
    }
    s_peer_id_of(self->public_key, self->peer_id);
    return self;
}

int identity_change_password(const char *data_dir, const identity_password_t *old_password,
                             const identity_password_t *new_password, identity_cipher_t cipher,
                             char **error) {
    *error = s_check_cipher(cipher);
    if (*error)
        return -1;
    uint8_t file[FILE_SIZE];
    uint8_t *seed = s_unseal(data_dir, old_password, file, error);
    if (!seed)
        return -1;
    uint8_t public_key[CA_ED25519_PUBLIC_BYTES];
    memcpy(public_key, file + AT_PUBLIC, sizeof public_key);
    identity_cipher_t chosen =
        cipher == IDENTITY_CIPHER_AUTO ? (identity_cipher_t)file[AT_CIPHER] : cipher;
    s_fill_header(file, chosen, public_key);
    if (s_seal(file, new_password, seed) != 0)
        *error = strdup("not enough memory for the Argon2id key derivation (64 MiB)");
    sodium_free(seed);
    if (!*error) {
        char *dir = zsys_sprintf("%s/%s", data_dir, IDENTITY_DIR);
        *error = s_write_atomic(dir, file, true);
        zstr_free(&dir);
    }
    return *error ? -1 : 0;
}

const char *identity_peer_id(identity_t *self) {
    return self->peer_id;
}

const uint8_t *identity_public_key(identity_t *self) {
    return self->public_key;
}

void identity_sign(identity_t *self, const void *message, size_t size,
                   uint8_t signature[CA_ED25519_SIGNATURE_BYTES]) {
    sodium_mprotect_readonly(self->secret_key);
    ca_ed25519_sign(self->secret_key, message, size, signature);
    sodium_mprotect_noaccess(self->secret_key);
}

int identity_curve_key(identity_t *self, ca_curve_key_t *key) {
    sodium_mprotect_readonly(self->secret_key);
    int rc = ca_curve_key_from_ed25519(self->public_key, self->secret_key, key);
    sodium_mprotect_noaccess(self->secret_key);
    return rc;
}

void identity_destroy(identity_t **self_p) {
    identity_t *self = *self_p;
    if (!self)
        return;
    sodium_free(self->secret_key); //  wipes it, whatever its protection
    free(self);
    *self_p = NULL;
}

//  ---- passwords ----------------------------------------------------------------

static void s_password_alloc(identity_password_t *password) {
    password->text = (char *)sodium_malloc(IDENTITY_PASSWORD_MAX + 2);
    assert(password->text);
    sodium_memzero(password->text, IDENTITY_PASSWORD_MAX + 2);
    password->length = 0;
}

void identity_password_set(identity_password_t *password, const char *text) {
    s_password_alloc(password);
    size_t length = strlen(text);
    assert(length <= IDENTITY_PASSWORD_MAX);
    memcpy(password->text, text, length);
    password->length = length;
}

void identity_password_free(identity_password_t *password) {
    if (password->text)
        sodium_free(password->text);
    password->text = NULL;
    password->length = 0;
}

//  Strips one trailing newline (\n or \r\n); refuses an empty password.
static char *s_finish(identity_password_t *password, size_t length, const char *source) {
    if (length > 0 && password->text[length - 1] == '\n')
        length--;
    if (length > 0 && password->text[length - 1] == '\r')
        length--;
    password->text[length] = 0;
    password->length = length;
    if (length == 0)
        return zsys_sprintf("the password from %s is empty; an identity needs a password", source);
    if (memchr(password->text, 0, length))
        return zsys_sprintf("the password from %s contains a NUL byte", source);
    return NULL;
}

static char *s_from_file(const char *path, identity_password_t *password) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zsys_sprintf("cannot open the password file %s: %s", path, strerror(errno));
    size_t used = 0;
    ssize_t got = 1;
    while (got > 0 && used < IDENTITY_PASSWORD_MAX + 2) {
        got = read(fd, password->text + used, IDENTITY_PASSWORD_MAX + 2 - used);
        if (got < 0 && errno == EINTR)
            got = 1;
        else if (got > 0)
            used += (size_t)got;
    }
    int error = errno;
    close(fd);
    if (got < 0)
        return zsys_sprintf("cannot read the password file %s: %s", path, strerror(error));
    if (used > IDENTITY_PASSWORD_MAX + 1)
        return zsys_sprintf("the password in %s is longer than %d bytes", path,
                            IDENTITY_PASSWORD_MAX);
    char *source = zsys_sprintf("the password file %s", path);
    char *problem = s_finish(password, used, source);
    zstr_free(&source);
    return problem;
}

static char *s_from_env(const char *name, identity_password_t *password) {
    char *value = getenv(name);
    size_t length = strlen(value);
    char *problem = NULL;
    if (length > IDENTITY_PASSWORD_MAX)
        problem = zsys_sprintf("%s is longer than %d bytes", name, IDENTITY_PASSWORD_MAX);
    else {
        memcpy(password->text, value, length);
        problem = s_finish(password, length, name);
    }
    sodium_memzero(value, length); //  no copy left in the environment
    unsetenv(name);
    return problem;
}

static volatile sig_atomic_t s_prompt_signal = 0;

static void s_on_prompt_signal(int signal_number) {
    s_prompt_signal = signal_number;
}

static const int s_prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define PROMPT_SIGNALS (sizeof s_prompt_signals / sizeof s_prompt_signals[0])

//  One line from the tty with echo off; Ctrl-C restores the echo, then
//  ends the process as the signal would have.
static char *s_from_tty(const char *prompt, identity_password_t *password, const char *hint) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios saved;
    if (fd >= 0 && tcgetattr(fd, &saved) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        return zsys_sprintf("no terminal to ask for the identity password on; use %s", hint);
    struct sigaction catch, handlers[PROMPT_SIGNALS];
    memset(&catch, 0, sizeof catch);
    catch.sa_handler = s_on_prompt_signal; //  no SA_RESTART: read() returns EINTR
    sigemptyset(&catch.sa_mask);
    s_prompt_signal = 0;
    for (size_t i = 0; i < PROMPT_SIGNALS; i++)
        sigaction(s_prompt_signals[i], &catch, &handlers[i]);
    struct termios quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char *problem = NULL;
    size_t used = 0;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        problem = zsys_sprintf("cannot turn off the terminal's echo; use %s", hint);
    else {
        ssize_t wrote = write(fd, prompt, strlen(prompt));
        while (used < IDENTITY_PASSWORD_MAX + 1 &&
               (used == 0 || password->text[used - 1] != '\n')) {
            ssize_t got = read(fd, password->text + used, IDENTITY_PASSWORD_MAX + 1 - used);
            if (got < 0 && errno == EINTR && !s_prompt_signal)
                continue;
            if (got <= 0)
                break;
            used += (size_t)got;
        }
        tcsetattr(fd, TCSANOW, &saved);
        wrote = write(fd, "\n", 1);
        (void)wrote;
    }
    close(fd);
    for (size_t i = 0; i < PROMPT_SIGNALS; i++)
        sigaction(s_prompt_signals[i], &handlers[i], NULL);
    if (s_prompt_signal) {
        sodium_memzero(password->text, IDENTITY_PASSWORD_MAX + 2);
        raise(s_prompt_signal);
        return strdup("interrupted at the password prompt");
    }
    if (!problem && used > IDENTITY_PASSWORD_MAX && password->text[used - 1] != '\n')
        problem = zsys_sprintf("the password is longer than %d bytes", IDENTITY_PASSWORD_MAX);
    return problem ? problem : s_finish(password, used, "the terminal");
}

int identity_password_read(const char *file, const char *env_name, const char *prompt, bool confirm,
                           const char *source_hint, identity_password_t *password, char **error) {
    s_password_alloc(password);
    if (file)
        *error = s_from_file(file, password);
    else if (env_name && getenv(env_name))
        *error = s_from_env(env_name, password);
    else {
        *error = s_from_tty(prompt, password, source_hint);
        if (!*error && confirm) {
            identity_password_t again;
            s_password_alloc(&again);
            *error = s_from_tty("Repeat the password: ", &again, source_hint);
            if (!*error && (again.length != password->length ||
                            sodium_memcmp(again.text, password->text, password->length) != 0))
                *error = strdup("the two passwords differ; nothing was changed");
            identity_password_free(&again);
        }
    }
    if (*error) {
        identity_password_free(password);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test

static void s_flip(const char *data_dir, size_t at) {
    char *path = identity_path(data_dir);
    int fd = open(path, O_RDWR);
    assert(fd >= 0);
    uint8_t byte;
    assert(pread(fd, &byte, 1, (off_t)at) == 1);
    byte ^= 0x01;
    assert(pwrite(fd, &byte, 1, (off_t)at) == 1);
    close(fd);
    zstr_free(&path);
}

static void s_test_cipher(const char *data_dir, identity_cipher_t cipher) {
    identity_password_t right, wrong, fresh;
    identity_password_set(&right, "correct horse");
    identity_password_set(&wrong, "correct horsf");
    identity_password_set(&fresh, "battery staple");
    char peer_id[IDENTITY_PEER_ID_SIZE], shown[IDENTITY_PEER_ID_SIZE];
    char *error = NULL;
    assert(!identity_exists(data_dir));
    assert(identity_create(data_dir, &right, cipher, peer_id, &error) == 0);
    assert(strlen(peer_id) == 64);
    assert(identity_read_peer_id(data_dir, shown, &error) == 0 && streq(shown, peer_id));

    //  A second init is refused and changes nothing.
    assert(identity_create(data_dir, &fresh, cipher, shown, &error) == -1);
    assert(strstr(error, "already exists"));
    zstr_free(&error);

    //  Unlock with the right password; the key signs for the peer id.
    identity_t *identity = identity_unlock(data_dir, &right, &error);
    assert(identity && streq(identity_peer_id(identity), peer_id));
    uint8_t signature[CA_ED25519_SIGNATURE_BYTES];
    identity_sign(identity, "hello", 5, signature);
    assert(ca_ed25519_verify(identity_public_key(identity), "hello", 5, signature));
    identity_destroy(&identity);
    identity_destroy(&identity);
    assert(!identity_unlock(data_dir, &wrong, &error) && strstr(error, "wrong password"));
    zstr_free(&error);

    //  Every byte of the file is covered: a flip anywhere is refused.
    size_t places[] = {0,        AT_VERSION,    AT_CIPHER,   AT_OPSLIMIT,  AT_SALT, AT_PUBLIC + 5,
                       AT_NONCE, AT_NONCE + 20, HEADER_SIZE, FILE_SIZE - 1};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        s_flip(data_dir, places[i]);
        identity = identity_unlock(data_dir, &right, &error);
        assert(!identity && error);
        zstr_free(&error);
        s_flip(data_dir, places[i]);
    }

    //  A new password: the old one no longer opens it, the peer id stays.
    assert(identity_change_password(data_dir, &wrong, &fresh, IDENTITY_CIPHER_AUTO, &error) == -1);
    zstr_free(&error);
    assert(identity_change_password(data_dir, &right, &fresh, IDENTITY_CIPHER_AUTO, &error) == 0);
    assert(!identity_unlock(data_dir, &right, &error));
    zstr_free(&error);
    identity = identity_unlock(data_dir, &fresh, &error);
    assert(identity && streq(identity_peer_id(identity), peer_id));
    identity_destroy(&identity);

    struct stat info;
    char *path = identity_path(data_dir);
    assert(stat(path, &info) == 0 && (info.st_mode & 0777) == 0600);
    unlink(path);
    zstr_free(&path);
    identity_password_free(&right);
    identity_password_free(&wrong);
    identity_password_free(&fresh);
}

void identity_test(bool verbose) {
    if (verbose)
        printf(" * identity: ");
    char data_dir[] = "/tmp/cairn-identity-test-XXXXXX";
    assert(mkdtemp(data_dir));
    char *error = NULL;
    char peer_id[IDENTITY_PEER_ID_SIZE];
    assert(identity_read_peer_id(data_dir, peer_id, &error) == -1 && strstr(error, "init"));
    zstr_free(&error);
    s_test_cipher(data_dir, IDENTITY_CIPHER_XCHACHA20POLY1305);
    if (crypto_aead_aes256gcm_is_available())
        s_test_cipher(data_dir, IDENTITY_CIPHER_AES256GCM);
    s_test_cipher(data_dir, IDENTITY_CIPHER_AUTO);

    //  Passwords from a file (one newline stripped) and the environment.
    char *file = zsys_sprintf("%s/password", data_dir);
    FILE *out = fopen(file, "w");
    fputs("secret\n", out);
    fclose(out);
    identity_password_t password;
    assert(identity_password_read(file, NULL, "", false, "", &password, &error) == 0);
    assert(password.length == 6 && streq(password.text, "secret"));
    identity_password_free(&password);
    out = fopen(file, "w");
    fclose(out);
    assert(identity_password_read(file, NULL, "", false, "", &password, &error) == -1);
    assert(strstr(error, "empty") && !password.text);
    zstr_free(&error);
    unlink(file);
    setenv("CAIRN_IDENTITY_TEST_PASSWORD", "from env", 1);
    assert(identity_password_read(NULL, "CAIRN_IDENTITY_TEST_PASSWORD", "", false, "", &password,
                                  &error) == 0);
    assert(streq(password.text, "from env") && !getenv("CAIRN_IDENTITY_TEST_PASSWORD"));
    identity_password_free(&password);
    zstr_free(&file);

    char *dir = zsys_sprintf("%s/%s", data_dir, IDENTITY_DIR);
    struct stat info;
    assert(stat(dir, &info) == 0 && (info.st_mode & 0777) == 0700);
    rmdir(dir);
    zstr_free(&dir);
    rmdir(data_dir);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    identity - the node's Ed25519 identity, encrypted at rest

    One file, <data dir>/identity/identity.key (0600, in a 0700 dir): a
    clear header with the public key and the key-derivation parameters,
    then the 32-byte Ed25519 seed encrypted under a key that Argon2id
    (crypto_pwhash) derives from the operator's password. The whole header
    is the AEAD's associated data, so a flipped header byte is refused like
    a flipped ciphertext byte. See identity.c for the layout.

    The peer id is the lower-case hex of the 32-byte public key (64
    characters, a valid peer id of the peers store).

    Secrets (passwords, derived keys, the seed and the secret key) live in
    libsodium guarded memory (sodium_malloc), kept PROT_NONE while not in
    use, and are wiped when freed.
    ========================================================================= */

#ifndef IDENTITY_H_INCLUDED
#define IDENTITY_H_INCLUDED

#include "ca_curve_key.h"
#include "ca_sign.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_DIR          "identity"
#define IDENTITY_FILE         "identity.key"
#define IDENTITY_PEER_ID_SIZE 65 //  64 hex digits and the NUL
#define IDENTITY_PASSWORD_MAX 1024

typedef enum {
    IDENTITY_CIPHER_AUTO = 0, //  AES-256-GCM where the CPU has it, else XChaCha20
    IDENTITY_CIPHER_AES256GCM = 1,
    IDENTITY_CIPHER_XCHACHA20POLY1305 = 2,
} identity_cipher_t;

typedef struct _identity_t identity_t;

//  A password in guarded memory (NUL-terminated, `length` bytes).
typedef struct {
    char *text;
    size_t length;
} identity_password_t;

//  The identity file's path under data_dir; caller frees.
char *identity_path(const char *data_dir);

//  True when data_dir has an identity file.
bool identity_exists(const char *data_dir);

//  Creates a new key pair and writes it encrypted under `password`. Never
//  overwrites an existing identity. Returns 0 with peer_id filled, or -1
//  with *error (caller frees).
int identity_create(const char *data_dir, const identity_password_t *password,
                    identity_cipher_t cipher, char peer_id[IDENTITY_PEER_ID_SIZE], char **error);

//  The peer id from the clear header, no password needed. 0 or -1 + *error.
int identity_read_peer_id(const char *data_dir, char peer_id[IDENTITY_PEER_ID_SIZE], char **error);

//  Decrypts the identity. NULL with *error on a wrong password, a file
//  that does not authenticate, or one that cannot be read.
identity_t *identity_unlock(const char *data_dir, const identity_password_t *password,
                            char **error);

//  Re-encrypts the identity under new_password (new salt and nonce, same
//  cipher unless `cipher` says otherwise), replacing the file atomically.
//  0, or -1 with *error (the old file is then untouched).
int identity_change_password(const char *data_dir, const identity_password_t *old_password,
                             const identity_password_t *new_password, identity_cipher_t cipher,
                             char **error);

const char *identity_peer_id(identity_t *self);
const uint8_t *identity_public_key(identity_t *self);

//  Signs with the node's key (unprotects it only for the call).
void identity_sign(identity_t *self, const void *message, size_t size,
                   uint8_t signature[CA_ED25519_SIGNATURE_BYTES]);

//  The node's CURVE key pair, derived from its Ed25519 key (the server key
//  of its endpoints). The caller wipes it (ca_curve_key_wipe). 0 or -1.
int identity_curve_key(identity_t *self, ca_curve_key_t *key);

//  Wipes and frees the key material.
void identity_destroy(identity_t **self_p);

//  ---- passwords ----------------------------------------------------------------

//  Reads a password: from `file` when not NULL (one trailing newline
//  stripped), else from the environment variable `env_name` when set (the
//  variable is then wiped and removed), else from /dev/tty with echo off
//  after `prompt` (asked twice when `confirm`). `source_hint` names the
//  non-interactive options for error messages. 0 or -1 with *error.
int identity_password_read(const char *file, const char *env_name, const char *prompt, bool confirm,
                           const char *source_hint, identity_password_t *password, char **error);

//  A password from memory (tests and tools); wiped by identity_password_free.
void identity_password_set(identity_password_t *password, const char *text);
void identity_password_free(identity_password_t *password);

void identity_test(bool verbose);

#endif

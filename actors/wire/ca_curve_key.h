/*  =========================================================================
    ca_curve_key - CURVE key pairs and key files, for both programs

    A CURVE (curve25519) key pair authenticates either end of a ZeroMQ
    connection: the node's client endpoint proves itself with its server
    key, a client with its own key, which the node finds on its allow-list
    (actors/common/ca_curve.h). The client (cairn) needs only this file.

    A key file is ZPL (czmq's zconfig format, the layout of a zcert secret
    file), created 0600 and never overwritten:

        #   cairn CURVE key pair: keep this file secret
        curve
            public-key = "<40 Z85 characters>"
            secret-key = "<40 Z85 characters>"

    A public key in text is 40 Z85 characters or 64 hex digits.
    ========================================================================= */

#ifndef CA_CURVE_KEY_H_INCLUDED
#define CA_CURVE_KEY_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define CA_CURVE_KEY_BYTES 32
#define CA_CURVE_Z85_SIZE  41 //  40 Z85 characters and the NUL

typedef struct {
    uint8_t public_key[CA_CURVE_KEY_BYTES];
    uint8_t secret_key[CA_CURVE_KEY_BYTES];
} ca_curve_key_t;

//  A new random key pair.
void ca_curve_key_generate(ca_curve_key_t *key);

//  Writes `key` to a new file at `path` (mode 0600, fsynced); never
//  replaces an existing file. 0, or -1 with *error (caller frees).
int ca_curve_key_save(const ca_curve_key_t *key, const char *path, char **error);

//  Writes `text` to a new file at `path` the same way (a temp file, 0600,
//  fsynced, linked into place, the directory fsynced): for any secret.
int ca_secret_file_write(const char *path, const char *text, char **error);

//  Reads a key file and checks that its public key belongs to its secret
//  key. 0, or -1 with *error (caller frees).
int ca_curve_key_load(const char *path, ca_curve_key_t *key, char **error);

//  Parses a public key: 40 Z85 characters or 64 hex digits, nothing else.
//  0, or -1.
int ca_curve_public_parse(const char *text, uint8_t public_key[CA_CURVE_KEY_BYTES]);

//  The Z85 text of a 32-byte key.
void ca_curve_z85(const uint8_t key[CA_CURVE_KEY_BYTES], char text[CA_CURVE_Z85_SIZE]);

//  Makes `socket` (before it connects) a CURVE client with `key` that
//  accepts only a server holding `server_public`.
void ca_curve_key_apply_client(const ca_curve_key_t *key,
                               const uint8_t server_public[CA_CURVE_KEY_BYTES], zsock_t *socket);

//  The CURVE key pair of an Ed25519 key pair (libsodium's birational map),
//  so that a node's peer id and its CURVE key name the same key. With
//  `ed_secret` NULL only the public half is filled (the secret half is
//  zeroed). 0, or -1 for a public key that is not a valid point.
int ca_curve_key_from_ed25519(const uint8_t ed_public[32], const uint8_t *ed_secret,
                              ca_curve_key_t *key);

//  Wipes a key pair.
void ca_curve_key_wipe(ca_curve_key_t *key);

void ca_curve_key_test(bool verbose);

#endif

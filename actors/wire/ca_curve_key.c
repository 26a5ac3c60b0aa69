/*  =========================================================================
    ca_curve_key - CURVE key pairs and key files, for both programs

    See ca_curve_key.h for the file format. A new file is written under a
    temporary name, fsynced, then hard-linked to its name: link() never
    replaces an existing file, so two writers cannot clobber a key and a
    crash leaves either no key file or a whole one.
    ========================================================================= */

#include "ca_curve_key.h"
#include "ca_validate.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ca_curve_key_generate(ca_curve_key_t *key) {
    crypto_box_keypair(key->public_key, key->secret_key);
}

void ca_curve_z85(const uint8_t key[CA_CURVE_KEY_BYTES], char text[CA_CURVE_Z85_SIZE]) {
    zmq_z85_encode(text, key, CA_CURVE_KEY_BYTES);
}

int ca_curve_public_parse(const char *text, uint8_t public_key[CA_CURVE_KEY_BYTES]) {
    size_t length = text ? strlen(text) : 0;
    if (length == 2 * CA_CURVE_KEY_BYTES)
        return ca_hash_from_hex(text, public_key) ? 0 : -1;
    if (length != CA_CURVE_Z85_SIZE - 1)
        return -1;
    uint8_t decoded[CA_CURVE_KEY_BYTES];
    if (!zmq_z85_decode(decoded, text))
        return -1;
    memcpy(public_key, decoded, sizeof decoded);
    return 0;
}

//  fsyncs the directory holding `path`, so a new name in it survives a crash.
static void s_fsync_parent(const char *path) {
    char *copy = strdup(path);
    int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

int ca_curve_key_save(const ca_curve_key_t *key, const char *path, char **error) {
    char public_text[CA_CURVE_Z85_SIZE], secret_text[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key->public_key, public_text);
    ca_curve_z85(key->secret_key, secret_text);
    char *text = zsys_sprintf("#   cairn CURVE key pair: keep this file secret\n"
                              "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
                              public_text, secret_text);
    sodium_memzero(secret_text, sizeof secret_text);
    int rc = ca_secret_file_write(path, text, error);
    sodium_memzero(text, strlen(text));
    zstr_free(&text);
    return rc;
}

int ca_secret_file_write(const char *path, const char *text, char **error) {
    char *temp = zsys_sprintf("%s.tmp.%d", path, (int)getpid());
    int rc = -1;
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        *error = zsys_sprintf("cannot create %s: %s", temp, strerror(errno));
    else {
        size_t length = strlen(text);
        bool written = write(fd, text, length) == (ssize_t)length && fsync(fd) == 0;
        int saved = errno;
        close(fd);
        if (!written)
            *error = zsys_sprintf("cannot write %s: %s", temp, strerror(saved));
        else if (link(temp, path) != 0)
            *error = errno == EEXIST
                         ? zsys_sprintf("%s exists already; a key file is never overwritten "
                                        "(move it away first)",
                                        path)
                         : zsys_sprintf("cannot create %s: %s", path, strerror(errno));
        else {
            s_fsync_parent(path);
            rc = 0;
        }
        unlink(temp);
    }
    zstr_free(&temp);
    return rc;
}

int ca_curve_key_load(const char *path, ca_curve_key_t *key, char **error) {
    if (!zsys_file_exists(path)) {
        *error = zsys_sprintf("key file %s does not exist", path);
        return -1;
    }
    zconfig_t *config = zconfig_load(path);
    if (!config) {
        *error = zsys_sprintf("key file %s cannot be read or is not ZPL", path);
        return -1;
    }
    const char *public_text = zconfig_get(config, "curve/public-key", NULL);
    const char *secret_text = zconfig_get(config, "curve/secret-key", NULL);
    int rc = -1;
    uint8_t derived[CA_CURVE_KEY_BYTES];
    if (!public_text || !secret_text)
        *error = zsys_sprintf("key file %s lacks curve/public-key or curve/secret-key", path);
    else if (ca_curve_public_parse(public_text, key->public_key) != 0 ||
             ca_curve_public_parse(secret_text, key->secret_key) != 0)
        *error = zsys_sprintf("key file %s holds a key that is not 40 Z85 characters", path);
    else if (crypto_scalarmult_base(derived, key->secret_key) != 0 ||
             sodium_memcmp(derived, key->public_key, sizeof derived) != 0)
        *error =
            zsys_sprintf("key file %s: its public key does not belong to its secret key", path);
    else
        rc = 0;
    if (rc != 0)
        ca_curve_key_wipe(key);
    //  zconfig keeps the secret's text: wipe it before the tree goes.
    zconfig_t *item = zconfig_locate(config, "curve/secret-key");
    if (item && zconfig_value(item))
        sodium_memzero(zconfig_value(item), strlen(zconfig_value(item)));
    zconfig_destroy(&config);
    return rc;
}

void ca_curve_key_apply_client(const ca_curve_key_t *key,
                               const uint8_t server_public[CA_CURVE_KEY_BYTES], zsock_t *socket) {
    zsock_set_curve_serverkey_bin(socket, server_public);
    zsock_set_curve_publickey_bin(socket, key->public_key);
    zsock_set_curve_secretkey_bin(socket, key->secret_key);
}

int ca_curve_key_from_ed25519(const uint8_t ed_public[32], const uint8_t *ed_secret,
                              ca_curve_key_t *key) {
    ca_curve_key_wipe(key);
    if (crypto_sign_ed25519_pk_to_curve25519(key->public_key, ed_public) != 0)
        return -1;
    if (ed_secret && crypto_sign_ed25519_sk_to_curve25519(key->secret_key, ed_secret) != 0) {
        ca_curve_key_wipe(key);
        return -1;
    }
    return 0;
}

void ca_curve_key_wipe(ca_curve_key_t *key) {
    sodium_memzero(key, sizeof *key);
}

//  ---- self-test -------------------------------------------------------------------

void ca_curve_key_test(bool verbose) {
    if (verbose)
        printf(" * ca_curve_key: ");
    assert(sodium_init() >= 0);
    char dir[] = "/tmp/cairn-curve-key-XXXXXX";
    assert(mkdtemp(dir));
    char *path = zsys_sprintf("%s/client.key", dir);

    //  A saved key reads back; the file is 0600 and never overwritten.
    ca_curve_key_t key, again;
    ca_curve_key_generate(&key);
    char *error = NULL;
    assert(ca_curve_key_save(&key, path, &error) == 0);
    struct stat st;
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    assert(ca_curve_key_load(path, &again, &error) == 0);
    assert(memcmp(&key, &again, sizeof key) == 0);
    ca_curve_key_t other;
    ca_curve_key_generate(&other);
    assert(ca_curve_key_save(&other, path, &error) == -1 && strstr(error, "never overwritten"));
    zstr_free(&error);
    assert(ca_curve_key_load(path, &again, &error) == 0 && memcmp(&key, &again, sizeof key) == 0);

    //  Public keys parse as Z85 or hex, nothing else.
    char z85[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key.public_key, z85);
    uint8_t parsed[CA_CURVE_KEY_BYTES];
    assert(ca_curve_public_parse(z85, parsed) == 0 && memcmp(parsed, key.public_key, 32) == 0);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key.public_key[i]);
    assert(ca_curve_public_parse(hex, parsed) == 0 && memcmp(parsed, key.public_key, 32) == 0);
    assert(ca_curve_public_parse("", parsed) == -1);
    assert(ca_curve_public_parse(NULL, parsed) == -1);
    assert(ca_curve_public_parse("short", parsed) == -1);
    z85[5] = '"'; //  not a Z85 character
    assert(ca_curve_public_parse(z85, parsed) == -1);
    hex[7] = 'g';
    assert(ca_curve_public_parse(hex, parsed) == -1);

    //  A file whose halves do not belong together, or that is not a key.
    char *bad = zsys_sprintf("%s/bad.key", dir);
    char other_public[CA_CURVE_Z85_SIZE], secret[CA_CURVE_Z85_SIZE];
    ca_curve_z85(other.public_key, other_public);
    ca_curve_z85(key.secret_key, secret);
    FILE *file = fopen(bad, "w");
    fprintf(file, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", other_public,
            secret);
    fclose(file);
    assert(ca_curve_key_load(bad, &again, &error) == -1 && strstr(error, "does not belong"));
    zstr_free(&error);
    file = fopen(bad, "w");
    fprintf(file, "curve\n    public-key = \"x\"\n");
    fclose(file);
    assert(ca_curve_key_load(bad, &again, &error) == -1 && strstr(error, "lacks"));
    zstr_free(&error);
    assert(ca_curve_key_load("/nonexistent/key", &again, &error) == -1 &&
           strstr(error, "does not exist"));
    zstr_free(&error);

    //  An Ed25519 pair maps to a CURVE pair whose halves belong together.
    uint8_t ed_public[32], ed_secret[64], derived[32];
    crypto_sign_keypair(ed_public, ed_secret);
    ca_curve_key_t from_ed, public_only;
    assert(ca_curve_key_from_ed25519(ed_public, ed_secret, &from_ed) == 0);
    assert(crypto_scalarmult_base(derived, from_ed.secret_key) == 0);
    assert(memcmp(derived, from_ed.public_key, 32) == 0);
    assert(ca_curve_key_from_ed25519(ed_public, NULL, &public_only) == 0);
    assert(memcmp(public_only.public_key, from_ed.public_key, 32) == 0);
    assert(sodium_is_zero(public_only.secret_key, 32));
    ca_curve_key_wipe(&from_ed);

    unlink(bad);
    unlink(path);
    rmdir(dir);
    zstr_free(&bad);
    zstr_free(&path);
    ca_curve_key_wipe(&key);
    if (verbose)
        printf("OK\n");
}

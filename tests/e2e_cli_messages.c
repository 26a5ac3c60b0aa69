/*  =========================================================================
    e2e_cli_messages - the cairn client's message-store family commands against
    a real cairnd

    Black-box, as e2e_cli.c: the built `cairn` runs as a child (cli_run.h)
    against a cairnd the harness starts on a free loopback port. Every
    command group has a happy path, an error path (exit 1 with the node's
    status on stderr) and a --json check. Passwords: --password-file right
    and wrong, a real prompt on a pseudo-terminal (forkpty) whose transcript
    must not show what was typed, no terminal at all (setsid), and no
    `--password` option in any spelling. msg_signature re-derives the
    signed bytes from `cairn msg send --help`'s description and verifies
    the signature with libsodium, so code and documentation agree, and
    sees the node refuse forged, unknown and blocked senders in a signed
    channel; the other tests use unsigned channels (channel create
    --unsigned).

    One behaviour per ctest name: `e2e-cli-msg NAME` runs the test NAME
    (with no argument, all of them), registered as e2e.cli.NAME. Each test
    gets a fresh node (when it needs one) and a fresh temp dir for files.
    ========================================================================= */

#include "cli_run.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PTY_TIMEOUT_MS 15000
#define SETSID_PATH    "/usr/bin/setsid"
#define SIGNED_DOMAIN  "cairn-message-v1"
#define UNKNOWN_UUID   "00000000-0000-4000-8000-000000000000"

//  cairn --endpoint E ARGS...
#define CAIRN(t, ...) RUN("--endpoint", (t)->endpoint, __VA_ARGS__)

//  ---- helpers ----------------------------------------------------------------------

//  Writes `size` bytes into dir/name; returns the path (caller frees).
static char *s_write_file(const cli_ctx_t *t, const char *name, const void *data, size_t size) {
    char *path = zsys_sprintf("%s/%s", t->dir, name);
    FILE *file = fopen(path, "wb");
    assert(file);
    size_t written = size ? fwrite(data, 1, size, file) : 0;
    assert(written == size);
    fclose(file);
    return path;
}

static char *s_write_text(const cli_ctx_t *t, const char *name, const char *text) {
    return s_write_file(t, name, text, strlen(text));
}

static char *s_hex(const uint8_t *data, size_t size) {
    char *hex = (char *)malloc(size * 2 + 1);
    sodium_bin2hex(hex, size * 2 + 1, data, size);
    return hex;
}

//  A new Ed25519 key pair; the secret key goes raw into dir/name.
static char *s_make_key(const cli_ctx_t *t, const char *name, uint8_t public_key[32]) {
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(public_key, secret_key);
    char *path = s_write_file(t, name, secret_key, sizeof secret_key);
    sodium_memzero(secret_key, sizeof secret_key);
    return path;
}

//  Runs `cairn --json ARGS`, checks exit 0 and "status":"ok"; caller decrefs.
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

//  msg send with a throw-away signature (64 bytes of 0xab).
static const char s_signature_hex[] =
    "abababababababababababababababababababababababababababababababab"
    "abababababababababababababababababababababababababababababababab";

static void s_send(const cli_ctx_t *t, const char *channel, const char *text, const char *id,
                   const char *timestamp) {
    run_t run = CAIRN(t, "msg", "send", channel, text, "--id", id, "--timestamp", timestamp,
                      "--signature-hex", s_signature_hex);
    CHECK(run.status == 0);
    cli_run_free(&run);
}

//  `cairn FAMILY list --limit 1` shows `first` and not `second`, ends with
//  the "(more: --after FIRST)" hint, and its JSON says more with next_after.
static void s_expect_first_page(const cli_ctx_t *t, const char *family, const char *first,
                                const char *second) {
    char hint[64];
    snprintf(hint, sizeof hint, "(more: --after %s)", first);
    run_t run = CAIRN(t, family, "list", "--limit", "1");
    CHECK(run.status == 0 && strstr(run.out, first) && !strstr(run.out, second));
    CHECK(strstr(run.out, hint));
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, family, "list", "--limit", "1");
    CHECK(json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(object, "next_after", first));
    json_decref(object);
}

//  An unsigned channel: any 64 bytes sign its messages (the tests of
//  listing, paging and output); msg_signature uses a signed one.
static void s_create_channel(const cli_ctx_t *t, const char *name) {
    cli_expect_ok(CAIRN(t, "channel", "create", name, "--unsigned"), "(unsigned)");
}

//  ---- without a node ---------------------------------------------------------------

static void s_test_family_help(const cli_ctx_t *t) {
    run_t run = RUN("--help");
    CHECK(run.status == 0);
    const char *expected[] = {"msg send CHANNEL TEXT",
                              "msg get ID",
                              "msg list CHANNEL",
                              "msg delete",
                              "msg search QUERY",
                              "stats",
                              "vacuum",
                              "channel create NAME",
                              "channel verify NAME",
                              "channel get NAME",
                              "channel list",
                              "channel touch NAME",
                              "channel delete NAME",
                              "member join",
                              "member leave",
                              "member list",
                              "peer add PEER_ID",
                              "peer get",
                              "peer list",
                              "peer status",
                              "peer block",
                              "peer unblock",
                              "gossip add",
                              "gossip has",
                              "gossip clean",
                              "--password-file",
                              "--password-prompt",
                              "--key-file",
                              "--signature-hex",
                              "never abbreviated",
                              "Exit status"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(strstr(run.out, expected[i]));
    cli_run_free(&run);

    //  A command's own help documents what --key-file signs.
    run = RUN("msg", "send", "--help");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "usage: cairn"));
    CHECK(strstr(run.out, "\"" SIGNED_DOMAIN "\""));
    CHECK(strstr(run.out, "u32 big-endian length"));
    CHECK(strstr(run.out, "IEEE-754"));
    cli_run_free(&run);

    run = RUN("channel", "verify", "--help");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "never an argument"));
    cli_run_free(&run);
}

//  Mistakes the client catches before sending anything: exit 2, usage on
//  stderr, nothing on stdout, even with --json.
static void s_test_family_usage(const cli_ctx_t *t) {
    const char *const cases[][12] = {
        {"msg", "send", "#c", "hi", NULL},
        {"msg", "send", "#c", "hi", "--signature-hex", "abcd", NULL},
        {"msg", "send", "#c", "hi", "--signature-hex", s_signature_hex, "--key-file",
         "/nonexistent", NULL},
        {"msg", "send", "#c", "hi", "--key-file", "/nonexistent/key", NULL},
        {"msg", "send", "#c", "00", "--encrypted", "--signature-hex", s_signature_hex, NULL},
        {"msg", "send", "#c", "hi", "--nonce-hex", "0011", "--signature-hex", s_signature_hex,
         NULL},
        {"msg", "send", "#c", "hi", "--timestamp", "yesterday", "--signature-hex", s_signature_hex,
         NULL},
        {"msg", "delete", NULL},
        {"msg", "list", "#c", "--offset", "1", "--before", "5:x", NULL},
        {"msg", "list", "#c", "--before", "soon", NULL},
        {"msg", "list", "#c", "--limit", "-1", NULL},
        {"member", "list", NULL},
        {"member", "list", "--channel", "#c", "--peer", "p", NULL},
        {"peer", "add", "p", "--key", "k", "--address", "::1", NULL},
        {"peer", "status", "p", "asleep", NULL},
        {"peer", "list", "--state", "gone", NULL},
        {"gossip", "add", "m", "--ttl", "many", NULL},
        {"channel", "create", "#c", "--password-file", "/nonexistent", NULL},
        {"channel", "create", "#c", "--password-file", "f", "--password-prompt", NULL},
        {"stats", "extra", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cli_expect_usage(t->endpoint, cases[i]);
    //  A broken secret key is refused before anything is sent.
    uint8_t junk[crypto_sign_SECRETKEYBYTES];
    randombytes_buf(junk, sizeof junk);
    char *path = s_write_file(t, "junk.key", junk, sizeof junk);
    run_t run = CAIRN(t, "msg", "send", "#c", "hi", "--key-file", path);
    CHECK(run.status == 2 && strstr(run.err, "is not an Ed25519 secret key"));
    cli_run_free(&run);
    zstr_free(&path);
}

//  No --password in any spelling: the option does not exist, prefixes of
//  --password-file are not accepted, and the value is never echoed.
static void s_test_password_flag(const cli_ctx_t *t) {
    const char *const cases[][6] = {
        {"channel", "create", "#pw", "--password", "hunter2-flag"},
        {"channel", "create", "#pw", "--password=hunter2-flag", NULL},
        {"channel", "verify", "#pw", "--password", "hunter2-flag"},
        {"channel", "verify", "#pw", "--password=hunter2-flag", NULL},
        {"channel", "verify", "#pw", "--password-f", "hunter2-flag"},
        {"channel", "create", "#pw", "--pass", "hunter2-flag"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[10] = {"--endpoint", t->endpoint};
        size_t count = 2;
        for (size_t j = 0; j < 5 && cases[i][j]; j++)
            args[count++] = cases[i][j];
        args[count] = NULL;
        run_t run = cli_run_argv(NULL, args);
        CHECK(run.status == 2);
        CHECK(strstr(run.err, "unknown option '--pass"));
        CHECK(!strstr(run.err, "hunter2-flag") && !strstr(run.out, "hunter2-flag"));
        cli_run_free(&run);
    }
    //  Nothing reached the node.
    cli_expect_fail(CAIRN(t, "channel", "get", "#pw"), 1, "not_found: ");
}

//  Without a terminal (a new session has none) and without a file, verify
//  refuses instead of waiting.
static void s_test_password_no_terminal(const cli_ctx_t *t) {
    if (access(SETSID_PATH, X_OK) != 0) {
        fprintf(stderr, "e2e-cli-msg: %s is missing (util-linux)\n", SETSID_PATH);
        CHECK(false);
        return;
    }
    const char *args[] = {"-w",      cli_run_path(), "--endpoint", t->endpoint,
                          "channel", "verify",       "#pw",        NULL};
    run_t run = harness_run(SETSID_PATH, args, NULL, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 2);
    CHECK(strstr(run.err, "no terminal"));
    CHECK(strstr(run.err, "--password-file"));
    harness_run_free(&run);
}

//  ---- passwords against a node ----------------------------------------------------------

static void s_test_password_file(const cli_ctx_t *t) {
    char *right = s_write_text(t, "right", "correct horse\n");
    char *right_crlf = s_write_text(t, "right-crlf", "correct horse\r\n");
    char *wrong = s_write_text(t, "wrong", "battery staple\n");
    char *empty = s_write_text(t, "empty", "\n");

    run_t run = CAIRN(t, "channel", "create", "#vault", "--password-file", right);
    CHECK(run.status == 0 && streq(run.out, "created #vault (protected)\n"));
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "channel", "verify", "#vault", "--password-file", right),
                  "password accepted for #vault");
    //  One trailing newline (LF or CRLF) is dropped, nothing else.
    cli_expect_ok(CAIRN(t, "channel", "verify", "#vault", "--password-file", right_crlf),
                  "accepted");
    cli_expect_fail(CAIRN(t, "channel", "verify", "#vault", "--password-file", wrong), 1,
                    "unauthorized: ");
    cli_expect_fail(CAIRN(t, "channel", "verify", "#vault", "--password-file", empty), 2,
                    "the password from the password file is empty");

    run = CAIRN(t, "--json", "channel", "verify", "#vault", "--password-file", wrong);
    CHECK(run.status == 1);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "unauthorized"));
    CHECK(json_is_string(json_object_get(object, "error")));
    json_decref(object);
    cli_run_free(&run);

    object = CAIRN_JSON(t, "channel", "verify", "#vault", "--password-file", right);
    CHECK(json_is_true(json_object_get(object, "ok")));
    CHECK(cli_json_str_is(object, "name", "#vault"));
    json_decref(object);

    //  The channel shows as protected, with a 16-byte salt, never the hash.
    object = CAIRN_JSON(t, "channel", "get", "#vault");
    CHECK(json_is_true(json_object_get(object, "protected")));
    const char *salt = json_string_value(json_object_get(object, "salt"));
    CHECK(salt && strlen(salt) == 32);
    json_decref(object);
    zstr_free(&right);
    zstr_free(&right_crlf);
    zstr_free(&wrong);
    zstr_free(&empty);
}

//  cairn on a pseudo-terminal (harness_run_on_pty).
static harness_pty_run_t s_run_on_pty(const char *const *args, const char *const *prompts,
                                      const char *const *replies) {
    return harness_run_on_pty(cli_run_path(), args, NULL, prompts, replies, NULL, PTY_TIMEOUT_MS);
}

static void s_test_password_prompt(const cli_ctx_t *t) {
    const char *create[] = {"--endpoint", t->endpoint,         "channel", "create",
                            "#typed",     "--password-prompt", NULL};
    const char *prompts[] = {"Password for #typed: ", "Repeat the password: ", NULL};
    const char *replies[] = {"typed-secret-42\n", "typed-secret-42\n", NULL};
    harness_pty_run_t run = s_run_on_pty(create, prompts, replies);
    CHECK(run.status == 0);
    CHECK(strstr(run.transcript, "created #typed (protected)"));
    CHECK(!strstr(run.transcript, "typed-secret")); //  echo was off
    free(run.transcript);

    //  The prompt sent exactly what was typed: the file agrees.
    char *file = s_write_text(t, "typed", "typed-secret-42");
    cli_expect_ok(CAIRN(t, "channel", "verify", "#typed", "--password-file", file), "accepted");
    zstr_free(&file);

    const char *verify[] = {"--endpoint", t->endpoint, "channel", "verify", "#typed", NULL};
    const char *verify_prompts[] = {"Password for #typed: ", NULL};
    const char *right[] = {"typed-secret-42\n", NULL};
    run = s_run_on_pty(verify, verify_prompts, right);
    CHECK(run.status == 0 && strstr(run.transcript, "password accepted for #typed"));
    CHECK(!strstr(run.transcript, "typed-secret"));
    free(run.transcript);

    const char *wrong[] = {"not-the-secret\n", NULL};
    run = s_run_on_pty(verify, verify_prompts, wrong);
    CHECK(run.status == 1 && strstr(run.transcript, "cairn: unauthorized: "));
    CHECK(!strstr(run.transcript, "not-the-secret"));
    free(run.transcript);

    //  Two different entries: nothing is sent.
    const char *create_other[] = {"--endpoint", t->endpoint,         "channel", "create",
                                  "#other",     "--password-prompt", NULL};
    const char *other_prompts[] = {"Password for #other: ", "Repeat the password: ", NULL};
    const char *differ[] = {"first-try\n", "second-try\n", NULL};
    run = s_run_on_pty(create_other, other_prompts, differ);
    CHECK(run.status == 2 && strstr(run.transcript, "the two passwords differ"));
    free(run.transcript);
    cli_expect_fail(CAIRN(t, "channel", "get", "#other"), 1, "not_found: ");
}

//  ---- messages ----------------------------------------------------------------------

static void s_test_msg_send_get(const cli_ctx_t *t) {
    s_create_channel(t, "#general");
    uint8_t public_key[32];
    char *key = s_make_key(t, "alice.key", public_key);
    char *key_hex = s_hex(public_key, sizeof public_key);

    run_t run = RUN_ENV(t->endpoint, "msg", "send", "#general", "hello\tworld\nline two",
                        "--key-file", key, "--sender-name", "alice");
    CHECK(run.status == 0);
    CHECK(cli_starts_with(run.out, "stored "));
    char *signed_by = zsys_sprintf("(signed by %s)", key_hex);
    CHECK(strstr(run.out, "in #general") && strstr(run.out, signed_by));
    char id[40] = "";
    sscanf(run.out, "stored %36s", id);
    CHECK(strlen(id) == 36 && id[14] == '4'); //  a UUIDv4
    cli_run_free(&run);

    run = CAIRN(t, "msg", "get", id);
    CHECK(run.status == 0);
    char *heading = zsys_sprintf("message %s\n", id);
    CHECK(cli_starts_with(run.out, heading));
    //  Signed here without a sender id: the sender is the key's hex.
    char *sender_line = zsys_sprintf("alice (id %s)", key_hex);
    CHECK(strstr(run.out, "#general") && strstr(run.out, sender_line));
    zstr_free(&sender_line);
    CHECK(strstr(run.out, "hello\\tworld\\nline two")); //  control characters escaped
    cli_run_free(&run);

    json_t *object = CAIRN_JSON(t, "msg", "get", id);
    CHECK(cli_json_str_is(object, "id", id));
    CHECK(cli_json_str_is(object, "content", "hello\tworld\nline two"));
    CHECK(cli_json_str_is(object, "sender_name", "alice"));
    CHECK(cli_json_str_is(object, "sender_id", key_hex));
    CHECK(json_is_false(json_object_get(object, "encrypted")));
    CHECK(json_is_null(json_object_get(object, "nonce")));
    const char *signature = json_string_value(json_object_get(object, "signature"));
    CHECK(signature && strlen(signature) == 128);
    json_decref(object);

    //  Sender from the environment; --json names the signer.
    const char *env[] = {"CAIRN_SENDER_ID=bob-7", "CAIRN_SENDER_NAME=Bob", NULL};
    const char *args[] = {"--endpoint", t->endpoint, "--json",     "msg", "send",
                          "#general",   "hej",       "--key-file", key,   NULL};
    run = harness_run(cli_run_path(), args, env, CLI_RUN_TIMEOUT_MS);
    CHECK(run.status == 0);
    object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "signed_by", key_hex));
    CHECK(cli_json_str_is(object, "channel", "#general"));
    const char *bob_id = json_string_value(json_object_get(object, "id"));
    json_t *bob = bob_id ? CAIRN_JSON(t, "msg", "get", bob_id) : NULL;
    CHECK(bob && cli_json_str_is(bob, "sender_id", "bob-7") &&
          cli_json_str_is(bob, "sender_name", "Bob"));
    json_decref(bob);
    json_decref(object);
    harness_run_free(&run);
    zstr_free(&heading);
    zstr_free(&signed_by);
    zstr_free(&key);
    free(key_hex);
}

static void s_put_u32(uint8_t *out, size_t *at, uint32_t value) {
    out[(*at)++] = (uint8_t)(value >> 24);
    out[(*at)++] = (uint8_t)(value >> 16);
    out[(*at)++] = (uint8_t)(value >> 8);
    out[(*at)++] = (uint8_t)value;
}

static void s_put_field(uint8_t *out, size_t *at, const void *data, size_t size) {
    s_put_u32(out, at, (uint32_t)size);
    memcpy(out + *at, data, size);
    *at += size;
}

static void s_put_string(uint8_t *out, size_t *at, json_t *message, const char *key) {
    const char *text = json_string_value(json_object_get(message, key));
    s_put_field(out, at, text ? text : "", text ? strlen(text) : 0);
}

//  The signed bytes as `cairn msg send --help` describes them, from a
//  message's JSON (a clear message: content is text, no nonce).
static size_t s_signed_bytes(json_t *message, uint8_t *out) {
    size_t at = 0;
    memcpy(out, SIGNED_DOMAIN, strlen(SIGNED_DOMAIN));
    at += strlen(SIGNED_DOMAIN);
    s_put_string(out, &at, message, "id");
    double timestamp = json_real_value(json_object_get(message, "timestamp"));
    uint64_t bits;
    memcpy(&bits, &timestamp, sizeof bits);
    s_put_u32(out, &at, (uint32_t)(bits >> 32));
    s_put_u32(out, &at, (uint32_t)bits);
    s_put_string(out, &at, message, "sender_id");
    s_put_string(out, &at, message, "sender_name");
    s_put_string(out, &at, message, "channel");
    s_put_string(out, &at, message, "content");
    out[at++] = json_is_true(json_object_get(message, "encrypted")) ? 1 : 0;
    s_put_u32(out, &at, 0); //  no nonce
    return at;
}

static bool s_signature_verifies(json_t *message, const uint8_t public_key[32]) {
    uint8_t bytes[4096], signature[64];
    size_t size = s_signed_bytes(message, bytes);
    const char *hex = json_string_value(json_object_get(message, "signature"));
    size_t length = 0;
    if (!hex ||
        sodium_hex2bin(signature, sizeof signature, hex, strlen(hex), NULL, &length, NULL) != 0 ||
        length != sizeof signature)
        return false;
    return crypto_sign_verify_detached(signature, bytes, size, public_key) == 0;
}

//  The stored signature verifies over the documented bytes, for a raw and
//  a hex key file, with a fractional timestamp given by hand.
static void s_test_msg_signature(const cli_ctx_t *t) {
    //  A signed channel (the default) and the sender known by its key.
    cli_expect_ok(CAIRN(t, "channel", "create", "#signed"), "created #signed\n");
    uint8_t public_key[32], secret_key[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(public_key, secret_key);
    char key_base64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(key_base64, sizeof key_base64, public_key, sizeof public_key,
                      sodium_base64_VARIANT_ORIGINAL);
    cli_expect_ok(CAIRN(t, "peer", "add", "s-1", "--key", key_base64, "--address", "127.0.0.1",
                        "--port", "7402"),
                  "s-1");
    char *raw = s_write_file(t, "raw.key", secret_key, sizeof secret_key);
    char *secret_hex = s_hex(secret_key, sizeof secret_key);
    char *hex_text = zsys_sprintf("%s\n", secret_hex);
    char *hex = s_write_text(t, "hex.key", hex_text);
    const char *key_files[] = {raw, hex};
    for (size_t i = 0; i < 2; i++) {
        json_t *sent = CAIRN_JSON(t, "msg", "send", "#signed", "sign me, ünïcode", "--key-file",
                                  key_files[i], "--timestamp", "1714567890.123456789",
                                  "--sender-id", "s-1", "--sender-name", "Signer");
        const char *id = json_string_value(json_object_get(sent, "id"));
        json_t *message = id ? CAIRN_JSON(t, "msg", "get", id) : NULL;
        CHECK(message && s_signature_verifies(message, public_key));
        //  Changing any signed field breaks the signature.
        if (message)
            json_object_set_new(message, "sender_name", json_string("Mallory"));
        CHECK(message && !s_signature_verifies(message, public_key));
        json_decref(message);
        json_decref(sent);
    }
    //  The node checks: a signature made elsewhere that is not the
    //  sender's, an unknown sender, another key for a known sender.
    cli_expect_fail(CAIRN(t, "msg", "send", "#signed", "forged", "--sender-id", "s-1",
                          "--signature-hex", s_signature_hex),
                    1, "unauthorized: ");
    cli_expect_fail(
        CAIRN(t, "msg", "send", "#signed", "who?", "--sender-id", "s-2", "--key-file", raw), 1,
        "not_found: ");
    uint8_t other_public[32];
    char *other = s_make_key(t, "other.key", other_public);
    cli_expect_fail(
        CAIRN(t, "msg", "send", "#signed", "not mine", "--sender-id", "s-1", "--key-file", other),
        1, "unauthorized: ");
    //  Without --sender-id, --key-file sends as the key's hex peer id.
    char *public_hex = s_hex(public_key, sizeof public_key);
    cli_expect_fail(CAIRN(t, "msg", "send", "#signed", "as my key", "--key-file", raw), 1,
                    "not_found: ");
    cli_expect_ok(CAIRN(t, "peer", "add", public_hex, "--key", key_base64, "--address", "127.0.0.1",
                        "--port", "7402"),
                  public_hex);
    cli_expect_ok(CAIRN(t, "msg", "send", "#signed", "as my key", "--key-file", raw), "stored ");
    free(public_hex);
    //  A blocked sender is refused even with a good signature.
    cli_expect_ok(CAIRN(t, "peer", "block", "s-1"), "s-1");
    cli_expect_fail(
        CAIRN(t, "msg", "send", "#signed", "blocked", "--sender-id", "s-1", "--key-file", raw), 1,
        "unauthorized: ");
    zstr_free(&other);
    sodium_memzero(secret_key, sizeof secret_key);
    zstr_free(&raw);
    zstr_free(&hex);
    zstr_free(&hex_text);
    free(secret_hex);
}

//  The newcomer's path with the project's tools only: cairn key new, the
//  key's public hex as the peer, a message signed with --key-file.
static void s_test_key_new(const cli_ctx_t *t) {
    char *path = zsys_sprintf("%s/alice.key", t->dir);
    run_t run = RUN("key", "new", path);
    CHECK(run.status == 0 && strlen(run.out) == 65 && strstr(run.err, "keep it secret"));
    char public_hex[65];
    snprintf(public_hex, sizeof public_hex, "%.64s", run.out);
    cli_run_free(&run);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 129);
    //  show prints the same key; new never overwrites.
    cli_expect_ok(RUN("key", "show", path), public_hex);
    cli_expect_fail(RUN("key", "new", path), 1, "io: ");
    cli_expect_ok(RUN("key", "show", path), public_hex);
    char *garbage = s_write_text(t, "garbage.key", "not a key\n");
    cli_expect_fail(RUN("key", "show", garbage), 1, "io: ");
    run = RUN("key", "new");
    CHECK(run.status == 2 && strstr(run.err, "usage: cairn key new FILE"));
    cli_run_free(&run);
    //  The node knows the key by its hex; a message signed with the file
    //  is stored, as that sender, in a signed channel.
    cli_expect_ok(CAIRN(t, "channel", "create", "#keyed"), "created #keyed\n");
    cli_expect_ok(CAIRN(t, "peer", "add", public_hex, "--key", public_hex, "--address", "127.0.0.1",
                        "--port", "7402"),
                  public_hex);
    json_t *sent =
        CAIRN_JSON(t, "msg", "send", "#keyed", "made with cairn key new", "--key-file", path);
    const char *id = json_string_value(json_object_get(sent, "id"));
    json_t *message = id ? CAIRN_JSON(t, "msg", "get", id) : NULL;
    CHECK(message && cli_json_str_is(message, "sender_id", public_hex));
    json_decref(message);
    json_decref(sent);
    zstr_free(&garbage);
    zstr_free(&path);
}

static void s_test_msg_encrypted(const cli_ctx_t *t) {
    s_create_channel(t, "#crypt");
    run_t run = CAIRN(t, "msg", "send", "#crypt", "00ff10aa", "--encrypted", "--nonce-hex",
                      "000102030405060708090a0b", "--signature-hex", s_signature_hex, "--id",
                      "11111111-2222-4333-8444-555555555555");
    CHECK(run.status == 0);
    cli_run_free(&run);

    cli_expect_ok(CAIRN(t, "msg", "get", "11111111-2222-4333-8444-555555555555"), "hex:00ff10aa");
    cli_expect_ok(CAIRN(t, "msg", "list", "#crypt"), "hex:00ff10aa");
    json_t *object = CAIRN_JSON(t, "msg", "get", "11111111-2222-4333-8444-555555555555");
    CHECK(json_is_true(json_object_get(object, "encrypted")));
    CHECK(json_is_null(json_object_get(object, "content")));
    CHECK(cli_json_str_is(object, "content_base64", "AP8Qqg=="));
    CHECK(cli_json_str_is(object, "nonce", "000102030405060708090a0b"));
    CHECK(cli_json_str_is(object, "signature", s_signature_hex));
    json_decref(object);

    //  Ciphertext that is not hex is a usage error; a short nonce the
    //  node refuses.
    cli_expect_fail(CAIRN(t, "msg", "send", "#crypt", "zz", "--encrypted", "--nonce-hex",
                          "000102030405060708090a0b", "--signature-hex", s_signature_hex),
                    2, "TEXT");
    cli_expect_fail(CAIRN(t, "msg", "send", "#crypt", "00", "--encrypted", "--nonce-hex", "0001",
                          "--signature-hex", s_signature_hex),
                    1, "invalid: ");
}

//  Five messages at t = 1001..1005, paged by cursor (human and JSON), by
//  offset, and cut by --since and --before T.
static void s_test_msg_list_paging(const cli_ctx_t *t) {
    s_create_channel(t, "#paged");
    char ids[5][40];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "00000000-0000-4000-8000-00000000000%d", i + 1);
        char timestamp[32];
        snprintf(timestamp, sizeof timestamp, "%d.5", 1001 + i);
        char text[32];
        snprintf(text, sizeof text, "message number %d", i + 1);
        s_send(t, "#paged", text, ids[i], timestamp);
    }
    run_t run = CAIRN(t, "msg", "list", "#paged", "--limit", "2");
    CHECK(run.status == 0);
    CHECK(cli_starts_with(run.out, "TIME"));
    CHECK(strstr(run.out, ids[4]) && strstr(run.out, ids[3]) && !strstr(run.out, ids[2]));
    CHECK(strstr(run.out, "message number 5"));
    char *more = zsys_sprintf("(more: --before 1004.5:%s)", ids[3]);
    CHECK(strstr(run.out, more));
    zstr_free(&more);
    cli_run_free(&run);

    //  Follow next_before to the end: every message once, newest first.
    char cursor[128] = "";
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        json_t *object =
            cursor[0] ? CAIRN_JSON(t, "msg", "list", "#paged", "--limit", "2", "--before", cursor)
                      : CAIRN_JSON(t, "msg", "list", "#paged", "--limit", "2");
        json_t *messages = json_object_get(object, "messages");
        for (size_t i = 0; i < json_array_size(messages); i++, seen++)
            CHECK(seen < 5 && cli_json_str_is(json_array_get(messages, i), "id", ids[4 - seen]));
        const char *next = json_string_value(json_object_get(object, "next_before"));
        CHECK(json_is_boolean(json_object_get(object, "more")));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(object);
        if (!next)
            break;
    }
    CHECK(seen == 5);

    run = CAIRN(t, "msg", "list", "#paged", "--limit", "2", "--offset", "2");
    CHECK(run.status == 0 && strstr(run.out, ids[2]) && strstr(run.out, ids[1]));
    CHECK(strstr(run.out, "(more: --offset 4)"));
    cli_run_free(&run);

    json_t *object = CAIRN_JSON(t, "msg", "list", "#paged", "--since", "1003.5");
    CHECK(json_array_size(json_object_get(object, "messages")) == 2);
    CHECK(json_is_false(json_object_get(object, "more")));
    CHECK(!json_object_get(object, "next_before"));
    json_decref(object);
    object = CAIRN_JSON(t, "msg", "list", "#paged", "--before", "1002.5");
    CHECK(json_array_size(json_object_get(object, "messages")) == 1);
    json_decref(object);

    s_create_channel(t, "#empty");
    cli_expect_ok(CAIRN(t, "msg", "list", "#empty"), "(no messages)");
    cli_expect_fail(CAIRN(t, "msg", "list", "#paged", "--limit", "1001"), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "msg", "list", "#nowhere"), 1, "not_found: ");
}

static void s_test_msg_search(const cli_ctx_t *t) {
    s_create_channel(t, "#a");
    s_create_channel(t, "#b");
    s_send(t, "#a", "the quick brown fox", "00000000-0000-4000-8000-00000000000a", "10");
    s_send(t, "#b", "a quick grey wolf", "00000000-0000-4000-8000-00000000000b", "11");
    s_send(t, "#b", "nothing to see", "00000000-0000-4000-8000-00000000000c", "12");

    run_t run = CAIRN(t, "msg", "search", "quick");
    CHECK(run.status == 0 && strstr(run.out, "brown fox") && strstr(run.out, "grey wolf"));
    CHECK(!strstr(run.out, "nothing"));
    cli_run_free(&run);

    json_t *object = CAIRN_JSON(t, "msg", "search", "quick", "--channel", "#b");
    json_t *messages = json_object_get(object, "messages");
    CHECK(json_array_size(messages) == 1);
    CHECK(cli_json_str_is(json_array_get(messages, 0), "content", "a quick grey wolf"));
    CHECK(cli_json_str_is(object, "query", "quick"));
    json_decref(object);

    run = CAIRN(t, "msg", "search", "quick", "--limit", "1");
    CHECK(run.status == 0 && strstr(run.out, "(more matches: raise --limit)"));
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "msg", "search", "zebra"), "(no messages)");
    cli_expect_fail(CAIRN(t, "msg", "search", "\"unterminated"), 1, "invalid: ");
}

static void s_test_msg_delete(const cli_ctx_t *t) {
    s_create_channel(t, "#old");
    s_create_channel(t, "#keep");
    s_send(t, "#old", "one", "00000000-0000-4000-8000-000000000001", "100");
    s_send(t, "#old", "two", "00000000-0000-4000-8000-000000000002", "200");
    s_send(t, "#keep", "three", "00000000-0000-4000-8000-000000000003", "150");

    cli_expect_ok(CAIRN(t, "msg", "delete", "--before", "160"), "deleted 2 messages");
    json_t *object = CAIRN_JSON(t, "msg", "delete", "--channel", "#old");
    CHECK(cli_json_int(object, "count") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "msg", "delete", "--channel", "#old", "--before", "1000"),
                  "deleted 0 messages");
    cli_expect_fail(CAIRN(t, "msg", "get", "00000000-0000-4000-8000-000000000002"), 1,
                    "not_found: ");
    cli_expect_fail(CAIRN(t, "msg", "delete", "--channel", "bad name"), 1, "invalid: ");
}

static void s_test_msg_errors(const cli_ctx_t *t) {
    cli_expect_fail(CAIRN(t, "msg", "get", UNKNOWN_UUID), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "msg", "get", "not-a-uuid"), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "msg", "send", "#nowhere", "hi", "--signature-hex", s_signature_hex),
                    1, "not_found: ");
    s_create_channel(t, "#here");
    cli_expect_fail(
        CAIRN(t, "msg", "send", "#here", "hi", "--id", "nope", "--signature-hex", s_signature_hex),
        1, "invalid: ");
    s_send(t, "#here", "first", UNKNOWN_UUID, "5");
    cli_expect_fail(CAIRN(t, "msg", "send", "#here", "again", "--id", UNKNOWN_UUID,
                          "--signature-hex", s_signature_hex),
                    1, "conflict: ");

    run_t run = CAIRN(t, "--json", "msg", "get", "00000000-0000-4000-8000-0000000000ff");
    CHECK(run.status == 1);
    json_t *object = cli_run_json(&run);
    CHECK(cli_json_str_is(object, "status", "not_found"));
    CHECK(json_is_string(json_object_get(object, "error")));
    json_decref(object);
    cli_run_free(&run);
}

static void s_test_stats_vacuum(const cli_ctx_t *t) {
    json_t *object = CAIRN_JSON(t, "stats");
    CHECK(cli_json_int(object, "messages") == 0);
    CHECK(json_is_false(json_object_get(object, "has_messages")));
    CHECK(json_is_null(json_object_get(object, "oldest_timestamp")));
    json_decref(object);

    s_create_channel(t, "#s");
    s_send(t, "#s", "a", "00000000-0000-4000-8000-000000000001", "1700000000");
    s_send(t, "#s", "b", "00000000-0000-4000-8000-000000000002", "1700000100.25");
    run_t run = CAIRN(t, "stats");
    CHECK(run.status == 0);
    CHECK(strstr(run.out, "messages        2") && strstr(run.out, "channels        1"));
    CHECK(strstr(run.out, "2023-11-14T22:13:20.000Z") &&
          strstr(run.out, "2023-11-14T22:15:00.250Z"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "stats");
    CHECK(cli_json_int(object, "messages") == 2 && cli_json_int(object, "channels") == 1);
    CHECK(json_real_value(json_object_get(object, "newest_timestamp")) == 1700000100.25);
    CHECK(cli_json_int(object, "db_size_bytes") > 0);
    json_decref(object);

    //  info carries the same statistics.
    object = CAIRN_JSON(t, "info");
    CHECK(cli_json_int(json_object_get(object, "messages"), "messages") == 2);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "info"), "messages        2 in 1 channels");

    cli_expect_ok(CAIRN(t, "vacuum"), "vacuumed: ");
    object = CAIRN_JSON(t, "vacuum");
    CHECK(cli_json_int(object, "bytes_before") > 0 && cli_json_int(object, "bytes_after") > 0);
    CHECK(json_is_integer(json_object_get(object, "bytes_reclaimed")));
    json_decref(object);

    //  Error path: a node that is not there.
    char *dead = zsys_sprintf("tcp://127.0.0.1:%d", harness_free_port());
    cli_expect_fail(RUN("--endpoint", dead, "--timeout", "300", "stats"), 3, "unreachable: ");
    zstr_free(&dead);
}

//  ---- channels and members ---------------------------------------------------------------

static void s_test_channel_commands(const cli_ctx_t *t) {
    cli_expect_ok(CAIRN(t, "channel", "create", "#plain", "--unsigned"),
                  "created #plain (unsigned)\n");
    cli_expect_ok(CAIRN(t, "channel", "create", "#sealed", "--encrypted"),
                  "created #sealed (encrypted)");
    cli_expect_fail(CAIRN(t, "channel", "create", "#plain"), 1, "conflict: ");
    cli_expect_fail(CAIRN(t, "channel", "create", "no-hash"), 1, "invalid: ");
    s_send(t, "#plain", "x", "00000000-0000-4000-8000-000000000001", "10");

    run_t run = CAIRN(t, "channel", "list");
    CHECK(run.status == 0 && cli_starts_with(run.out, "NAME"));
    CHECK(strstr(run.out, "#plain") && strstr(run.out, "#sealed") && strstr(run.out, "encrypted"));
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "channel", "list");
    json_t *channels = json_object_get(object, "channels");
    CHECK(json_array_size(channels) == 2);
    CHECK(cli_json_str_is(json_array_get(channels, 0), "name", "#plain"));
    CHECK(cli_json_int(json_array_get(channels, 0), "message_count") == 1);
    CHECK(json_is_null(json_object_get(json_array_get(channels, 0), "salt")));
    CHECK(json_is_false(json_object_get(object, "more")));
    json_decref(object);
    //  A page at a time: the hint names the cursor, --after picks it up.
    s_expect_first_page(t, "channel", "#plain", "#sealed");
    run = CAIRN(t, "channel", "list", "--limit", "1", "--after", "#plain");
    CHECK(run.status == 0 && strstr(run.out, "#sealed") && !strstr(run.out, "#plain"));
    CHECK(!strstr(run.out, "(more:"));
    cli_run_free(&run);
    cli_expect_fail(CAIRN(t, "channel", "list", "--limit", "10001"), 1, "invalid: ");

    run = CAIRN(t, "channel", "get", "#sealed");
    CHECK(run.status == 0 && cli_starts_with(run.out, "channel #sealed\n"));
    CHECK(strstr(run.out, "encrypted       yes") && strstr(run.out, "protected       no"));
    CHECK(strstr(run.out, "signed          yes")); //  the default
    cli_run_free(&run);
    cli_expect_ok(CAIRN(t, "channel", "get", "#plain"), "signed          no (unsigned)");
    object = CAIRN_JSON(t, "channel", "get", "#plain");
    CHECK(json_is_true(json_object_get(object, "unsigned_messages")));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "channel", "touch", "#plain", "--timestamp", "1700000000"),
                  "touched #plain: last activity 2023-11-14T22:13:20.000Z");
    object = CAIRN_JSON(t, "channel", "touch", "#sealed");
    CHECK(json_real_value(json_object_get(object, "last_activity")) > 1700000000);
    json_decref(object);

    cli_expect_ok(CAIRN(t, "member", "join", "#plain", "p1"), "joined");
    object = CAIRN_JSON(t, "channel", "delete", "#plain");
    CHECK(cli_json_str_is(object, "name", "#plain"));
    CHECK(cli_json_int(object, "messages") == 1 && cli_json_int(object, "members") == 1);
    json_decref(object);
    cli_expect_ok(CAIRN(t, "channel", "delete", "#sealed"),
                  "deleted #sealed with 0 messages and 0 members");
    cli_expect_fail(CAIRN(t, "channel", "get", "#plain"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "channel", "delete", "#plain"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "channel", "touch", "#plain"), 1, "not_found: ");
    cli_expect_ok(CAIRN(t, "channel", "list"), "(no channels)");
}

static void s_test_member_commands(const cli_ctx_t *t) {
    s_create_channel(t, "#one");
    s_create_channel(t, "#two");
    cli_expect_ok(CAIRN(t, "member", "join", "#one", "alice"), "alice joined #one");
    cli_expect_ok(CAIRN(t, "member", "join", "#one", "alice"), "alice was already in #one");
    cli_expect_ok(CAIRN(t, "member", "join", "#one", "bob"), "bob joined #one");
    json_t *object = CAIRN_JSON(t, "member", "join", "#two", "alice");
    CHECK(json_is_true(json_object_get(object, "changed")));
    CHECK(cli_json_str_is(object, "peer_id", "alice") &&
          cli_json_str_is(object, "channel", "#two"));
    json_decref(object);

    run_t run = CAIRN(t, "member", "list", "--channel", "#one");
    CHECK(run.status == 0 && strstr(run.out, "alice") && strstr(run.out, "bob"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "member", "list", "--peer", "alice");
    json_t *members = json_object_get(object, "members");
    CHECK(json_array_size(members) == 2);
    CHECK(cli_json_str_is(json_array_get(members, 0), "channel", "#one"));
    CHECK(cli_json_str_is(json_array_get(members, 1), "channel", "#two"));
    json_decref(object);
    //  A page at a time, by peer id within a channel, by channel for a peer.
    run = CAIRN(t, "member", "list", "--channel", "#one", "--limit", "1");
    CHECK(run.status == 0 && strstr(run.out, "alice") && !strstr(run.out, "bob"));
    CHECK(strstr(run.out, "(more: --after alice)"));
    cli_run_free(&run);
    run = CAIRN(t, "member", "list", "--channel", "#one", "--limit", "1", "--after", "alice");
    CHECK(run.status == 0 && strstr(run.out, "bob") && !strstr(run.out, "(more:"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "member", "list", "--peer", "alice", "--limit", "1");
    CHECK(json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(object, "next_after", "#one"));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "member", "leave", "#one", "bob"), "bob left #one");
    cli_expect_fail(CAIRN(t, "member", "leave", "#one", "bob"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "member", "join", "#nowhere", "alice"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "member", "join", "#one", "bad peer"), 1, "invalid: ");
    cli_expect_ok(CAIRN(t, "member", "list", "--peer", "nobody"), "(no members)");
}

//  ---- peers and gossip -----------------------------------------------------------------------

static void s_test_peer_commands(const cli_ctx_t *t) {
    uint8_t public_key[32];
    randombytes_buf(public_key, sizeof public_key);
    char *key_hex = s_hex(public_key, sizeof public_key);
    run_t run = CAIRN(t, "peer", "add", "alice", "--key", key_hex, "--address", "127.0.0.1",
                      "--port", "7402", "--name", "Alice");
    CHECK(run.status == 0 && strstr(run.out, "saved peer alice at 127.0.0.1:7402"));
    CHECK(strstr(run.out, key_hex));
    cli_run_free(&run);
    cli_expect_ok(
        CAIRN(t, "peer", "add", "bob", "--key", key_hex, "--address", "::1", "--port", "7403"),
        "[::1]:7403");

    run = CAIRN(t, "peer", "get", "alice");
    CHECK(run.status == 0 && cli_starts_with(run.out, "peer alice\n") && strstr(run.out, "Alice"));
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "peer", "get", "alice");
    CHECK(cli_json_str_is(object, "public_key", key_hex));
    CHECK(cli_json_str_is(object, "state", "unknown") && cli_json_int(object, "port") == 7402);
    CHECK(json_is_false(json_object_get(object, "blocked")));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "peer", "status", "alice", "online", "--last-seen", "1700000000"),
                  "alice is online, last seen 2023-11-14T22:13:20.000Z");
    object = CAIRN_JSON(t, "peer", "status", "bob", "offline");
    CHECK(cli_json_str_is(object, "state", "offline"));
    CHECK(json_real_value(json_object_get(object, "last_seen")) > 1700000000);
    json_decref(object);

    run = CAIRN(t, "peer", "list");
    CHECK(run.status == 0 && cli_starts_with(run.out, "PEER"));
    CHECK(strstr(run.out, "alice") && strstr(run.out, "bob"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "peer", "list", "--state", "online");
    json_t *peers = json_object_get(object, "peers");
    CHECK(json_array_size(peers) == 1 &&
          cli_json_str_is(json_array_get(peers, 0), "peer_id", "alice"));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "peer", "list", "--state", "unknown"), "(no peers)");

    //  Pages in peer_id order: alice, then bob.
    s_expect_first_page(t, "peer", "alice", "bob");
    object = CAIRN_JSON(t, "peer", "list", "--limit", "1", "--after", "alice");
    peers = json_object_get(object, "peers");
    CHECK(json_array_size(peers) == 1 &&
          cli_json_str_is(json_array_get(peers, 0), "peer_id", "bob"));
    CHECK(json_is_false(json_object_get(object, "more")) && !json_object_get(object, "next_after"));
    json_decref(object);
    cli_expect_fail(CAIRN(t, "peer", "list", "--limit", "1001"), 1, "invalid: ");

    cli_expect_ok(CAIRN(t, "peer", "block", "bob"), "blocked peer bob");
    object = CAIRN_JSON(t, "peer", "get", "bob");
    CHECK(json_is_true(json_object_get(object, "blocked")));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "peer", "unblock", "bob"), "unblocked peer bob");

    cli_expect_fail(CAIRN(t, "peer", "get", "carol"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "peer", "block", "carol"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "peer", "status", "carol", "online"), 1, "not_found: ");
    cli_expect_fail(CAIRN(t, "peer", "add", "carol", "--key", key_hex, "--address", "1.2.3.4",
                          "--port", "70000"),
                    1, "invalid: ");
    cli_expect_fail(CAIRN(t, "peer", "add", "carol", "--key", key_hex, "--address", "example.org",
                          "--port", "1"),
                    1, "invalid: ");
    cli_expect_fail(CAIRN(t, "peer", "add", "carol", "--key", "bm90IGEga2V5", "--address",
                          "1.2.3.4", "--port", "1"),
                    1, "invalid: ");
    free(key_hex);
}

//  Every --key form gives the same stored key.
static void s_test_peer_key_forms(const cli_ctx_t *t) {
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    char *hex = s_hex(key, sizeof key);
    char base64[64];
    sodium_bin2base64(base64, sizeof base64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    uint8_t der[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    memcpy(der + 12, key, sizeof key);
    char der_base64[80];
    sodium_bin2base64(der_base64, sizeof der_base64, der, sizeof der,
                      sodium_base64_VARIANT_ORIGINAL);
    char *pem =
        zsys_sprintf("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", der_base64);
    char *hex_line = zsys_sprintf("%s\n", hex);
    char *files[] = {s_write_file(t, "raw.pub", key, sizeof key), s_write_text(t, "pub.pem", pem),
                     s_write_text(t, "pub.hex", hex_line), s_write_text(t, "pub.b64", base64)};
    char *forms[6] = {strdup(hex), strdup(base64)};
    for (int i = 0; i < 4; i++)
        forms[2 + i] = zsys_sprintf("@%s", files[i]);
    for (int i = 0; i < 6; i++) {
        char peer[16];
        snprintf(peer, sizeof peer, "peer-%d", i);
        json_t *object = CAIRN_JSON(t, "peer", "add", peer, "--key", forms[i], "--address",
                                    "10.0.0.1", "--port", "9000");
        CHECK(cli_json_str_is(object, "public_key", hex));
        json_decref(object);
    }
    cli_expect_fail(CAIRN(t, "peer", "add", "x", "--key", "@/nonexistent", "--address", "10.0.0.1",
                          "--port", "1"),
                    2, "cannot open key file");
    for (int i = 0; i < 6; i++)
        free(forms[i]);
    for (int i = 0; i < 4; i++)
        zstr_free(&files[i]);
    zstr_free(&pem);
    zstr_free(&hex_line);
    free(hex);
}

static void s_test_gossip_commands(const cli_ctx_t *t) {
    cli_expect_ok(CAIRN(t, "gossip", "add", "m-1"), "added m-1 (ttl 5)");
    cli_expect_ok(CAIRN(t, "gossip", "add", "m-1"), "already seen m-1");
    json_t *object = CAIRN_JSON(t, "gossip", "add", "m-2", "--ttl", "3");
    CHECK(json_is_true(json_object_get(object, "added")) &&
          json_is_false(json_object_get(object, "seen")));
    CHECK(cli_json_int(object, "ttl") == 3 && cli_json_str_is(object, "message_id", "m-2"));
    json_decref(object);

    cli_expect_ok(CAIRN(t, "gossip", "has", "m-2"), "seen m-2");
    cli_expect_ok(CAIRN(t, "gossip", "has", "m-3"), "not seen m-3");
    object = CAIRN_JSON(t, "gossip", "has", "m-3");
    CHECK(json_is_false(json_object_get(object, "seen")));
    json_decref(object);

    object = CAIRN_JSON(t, "gossip", "clean");
    CHECK(cli_json_int(object, "count") == 0); //  nothing is an hour old
    json_decref(object);
    cli_expect_ok(CAIRN(t, "gossip", "clean", "--max-age", "3600"), "deleted 0 gossip entries");

    cli_expect_ok(CAIRN(t, "gossip", "stats"), "entries         2");
    object = CAIRN_JSON(t, "gossip", "stats");
    CHECK(cli_json_int(object, "entries") == 2 && cli_json_int(object, "max_age_s") == 3600);
    json_t *oldest = json_object_get(object, "oldest_seen_at");
    json_t *newest = json_object_get(object, "newest_seen_at");
    CHECK(json_is_real(oldest) && json_is_real(newest));
    CHECK(json_real_value(oldest) > 0 && json_real_value(oldest) <= json_real_value(newest));
    json_decref(object);
    cli_expect_fail(CAIRN(t, "gossip", "stats", "extra"), 2, "");

    cli_expect_fail(CAIRN(t, "gossip", "add", "has space"), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "gossip", "add", "m-4", "--ttl", "999"), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "gossip", "has", ""), 1, "invalid: ");
}

//  ---- the table -------------------------------------------------------------------------

static const cli_test_t s_tests[] = {
    {"family_help", false, s_test_family_help},
    {"family_usage", false, s_test_family_usage},
    {"password_no_terminal", false, s_test_password_no_terminal},
    {"password_flag", true, s_test_password_flag},
    {"password_file", true, s_test_password_file},
    {"password_prompt", true, s_test_password_prompt},
    {"msg_send_get", true, s_test_msg_send_get},
    {"msg_signature", true, s_test_msg_signature},
    {"key_new", true, s_test_key_new},
    {"msg_encrypted", true, s_test_msg_encrypted},
    {"msg_list_paging", true, s_test_msg_list_paging},
    {"msg_search", true, s_test_msg_search},
    {"msg_delete", true, s_test_msg_delete},
    {"msg_errors", true, s_test_msg_errors},
    {"stats_vacuum", true, s_test_stats_vacuum},
    {"channel_commands", true, s_test_channel_commands},
    {"member_commands", true, s_test_member_commands},
    {"peer_commands", true, s_test_peer_commands},
    {"peer_key_forms", true, s_test_peer_key_forms},
    {"gossip_commands", true, s_test_gossip_commands},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    return cli_run_main(argc, argv, "e2e-cli-msg", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

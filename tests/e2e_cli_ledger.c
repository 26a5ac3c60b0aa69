/*  =========================================================================
    e2e_cli_ledger - the cairn client's payment channel commands against a
    real cairnd

    Black-box, as e2e_cli_provenance.c: the built `cairn` runs as a child
    (cli_run.h) against a cairnd the harness starts on a free loopback
    port. The payer is a peer added with `cairn peer add`; payments are
    signed by the client (--key-file) or here (--signature-hex). Each
    command is run for its text and --json output, its usage errors (exit
    2) and the node's error answers (exit 1).

    `e2e-cli-ledger NAME` runs the test NAME, registered as e2e.cli.NAME.
    ========================================================================= */

#include "ca_request.h"
#include "cli_run.h"
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef cli_ctx_t test_ctx_t;

#define CAIRN(t, ...)      RUN("--endpoint", (t)->endpoint, __VA_ARGS__)
#define CAIRN_JSON(t, ...) cli_run_json_ok(CAIRN(t, "--json", __VA_ARGS__))

static const char s_signature_zeros[] =
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char s_query[] = "7171717171717171717171717171717171717171717171717171717171717171";
static const char s_root[] = "6161616161616161616161616161616161616161616161616161616161616161";

//  A new Ed25519 key pair: the secret key raw into dir/name (path returned,
//  caller frees), the public key as hex into key_hex.
static char *s_make_key(const test_ctx_t *t, const char *name, uint8_t secret[64],
                        char key_hex[65]) {
    uint8_t public_key[32];
    crypto_sign_keypair(public_key, secret);
    sodium_bin2hex(key_hex, 65, public_key, 32);
    char *path = zsys_sprintf("%s/%s", t->dir, name);
    FILE *file = fopen(path, "wb");
    assert(file && fwrite(secret, 1, 64, file) == 64);
    fclose(file);
    return path;
}

//  The payer alice: a key pair as s_make_key makes it, her public key on
//  the node (cairn peer add). Returns the secret key's path.
static char *s_add_alice(const test_ctx_t *t, uint8_t secret[64]) {
    char key_hex[65];
    char *path = s_make_key(t, "alice.key", secret, key_hex);
    cli_expect_ok(CAIRN(t, "peer", "add", "alice", "--key", key_hex, "--address", "127.0.0.1",
                        "--port", "7402"),
                  "alice");
    return path;
}

//  channel[key] of a channel answer.
static int64_t s_channel_int(json_t *object, const char *key) {
    json_t *channel = json_object_get(object, "channel");
    return cli_json_int(channel, key);
}

static void s_test_ledger_commands(void) {
    test_ctx_t *t = cli_ctx_begin_identity("ledger");
    uint8_t secret[64];
    char *key = s_add_alice(t, secret);

    //  open, get: text and JSON.
    cli_expect_ok(CAIRN(t, "ledger", "open", "alice", "--theirs", "1000", "--mine", "5"),
                  "their balance   1000");
    json_t *object = CAIRN_JSON(t, "ledger", "get", "alice");
    CHECK(s_channel_int(object, "their_balance") == 1000 &&
          s_channel_int(object, "my_balance") == 5);
    CHECK(cli_json_str_is(json_object_get(object, "channel"), "state", "open"));
    json_decref(object);

    //  pay, signed here, with shares; then one signed "elsewhere".
    char share[80];
    snprintf(share, sizeof share, "%s:3", s_root);
    object = CAIRN_JSON(t, "ledger", "pay", "alice", "--amount", "100", "--recipient", "author-1",
                        "--query", s_query, "--share", share, "--key-file", key);
    json_t *payment = json_object_get(object, "payment");
    CHECK(cli_json_int(payment, "amount") == 100);
    CHECK(json_array_size(json_object_get(payment, "provenance")) == 1);
    json_decref(object);

    uint8_t id[32], query[32];
    memset(id, 0x42, 32);
    sodium_hex2bin(query, 32, s_query, 64, NULL, NULL, NULL);
    Cairn__Payment signed_payment;
    ca_request_payment_init(&signed_payment, id, 32, "alice", 50, "author-2", query, 32,
                            1700000000.5);
    signed_payment.expires_at = 4102444800ULL; //  --expires below
    size_t size;
    const char *payee = harness_node_peer_id(t->node);
    uint8_t *bytes = ledger_payment_encode(&signed_payment, payee, &size), signature[64];
    crypto_sign_detached(signature, NULL, bytes, size, secret);
    free(bytes);
    char id_hex[65], signature_hex[129];
    sodium_bin2hex(id_hex, sizeof id_hex, id, 32);
    sodium_bin2hex(signature_hex, sizeof signature_hex, signature, 64);
    //  Without the --expires signed, or with another: refused.
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "50", "--recipient", "author-2",
                          "--query", s_query, "--id", id_hex, "--timestamp", "1700000000.5",
                          "--signature-hex", signature_hex, "--expires", "4102444801"),
                    1, "unauthorized: ");
    cli_expect_ok(CAIRN(t, "ledger", "pay", "alice", "--amount", "50", "--recipient", "author-2",
                        "--query", s_query, "--id", id_hex, "--timestamp", "1700000000.5",
                        "--signature-hex", signature_hex, "--expires", "4102444800"),
                  "paid 50 from alice to author-2");
    //  The same again: CONFLICT; a flipped amount: UNAUTHORIZED.
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "50", "--recipient", "author-2",
                          "--query", s_query, "--id", id_hex, "--timestamp", "1700000000.5",
                          "--signature-hex", signature_hex, "--expires", "4102444800"),
                    1, "conflict: ");
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "51", "--recipient", "author-2",
                          "--query", s_query, "--timestamp", "1700000000.5", "--signature-hex",
                          signature_hex, "--expires", "4102444800"),
                    1, "unauthorized: ");
    //  Signed here for another payee (--payee), or already expired: refused.
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "1", "--recipient", "a",
                          "--query", s_query, "--key-file", key, "--payee",
                          "00000000000000000000000000000000000000000000000000000000000000aa"),
                    1, "unauthorized: ");
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "1", "--recipient", "a",
                          "--query", s_query, "--key-file", key, "--expires", "1000"),
                    1, "unauthorized: the payment expired");
    cli_expect_fail(CAIRN(t, "ledger", "pay", "alice", "--amount", "5000", "--recipient", "a",
                          "--query", s_query, "--key-file", key),
                    1, "invalid: ");

    //  pending (oldest first), clear, then pending again.
    object = CAIRN_JSON(t, "ledger", "pending", "alice");
    json_t *payments = json_object_get(object, "payments");
    CHECK(json_array_size(payments) == 2);
    CHECK(cli_json_str_is(json_array_get(payments, 1), "id", id_hex));
    json_decref(object);
    cli_expect_ok(CAIRN(t, "ledger", "pending", "alice"), id_hex);
    cli_expect_ok(CAIRN(t, "ledger", "clear", id_hex, id_hex), "cleared 1 payment\n");
    object = CAIRN_JSON(t, "ledger", "clear", id_hex);
    CHECK(cli_json_int(object, "cleared") == 0);
    json_decref(object);
    object = CAIRN_JSON(t, "ledger", "pending", "alice");
    CHECK(json_array_size(json_object_get(object, "payments")) == 1);
    json_decref(object);

    //  update, adjust, list.
    object = CAIRN_JSON(t, "ledger", "get", "alice");
    CHECK(s_channel_int(object, "my_balance") == 155 &&
          s_channel_int(object, "their_balance") == 850);
    json_decref(object);
    object = CAIRN_JSON(t, "ledger", "update", "alice", "--nonce", "3", "--mine", "5", "--theirs",
                        "1000");
    CHECK(s_channel_int(object, "nonce") == 3);
    json_decref(object);
    cli_expect_fail(
        CAIRN(t, "ledger", "update", "alice", "--nonce", "3", "--mine", "5", "--theirs", "1000"), 1,
        "conflict: ");
    cli_expect_fail(
        CAIRN(t, "ledger", "update", "alice", "--nonce", "4", "--mine", "5", "--theirs", "1001"), 1,
        "invalid: ");
    object = CAIRN_JSON(t, "ledger", "adjust", "alice", "--theirs", "-1000", "--reason", "refund");
    CHECK(s_channel_int(object, "their_balance") == 0);
    json_decref(object);
    cli_expect_fail(CAIRN(t, "ledger", "adjust", "alice", "--mine", "-6", "--reason", "x"), 1,
                    "invalid: ");
    cli_expect_ok(CAIRN(t, "ledger", "open", "bob", "--state", "closed"), "closed");
    cli_expect_ok(CAIRN(t, "ledger", "list"), "alice");
    object = CAIRN_JSON(t, "ledger", "list");
    json_t *channels = json_object_get(object, "channels");
    CHECK(json_array_size(channels) == 1);
    CHECK(cli_json_str_is(json_array_get(channels, 0), "peer_id", "alice"));
    json_decref(object);

    //  history: the opening and the refund, paged one at a time.
    cli_expect_ok(CAIRN(t, "ledger", "history", "alice"), "refund");
    object = CAIRN_JSON(t, "ledger", "history", "alice");
    json_t *entries = json_object_get(object, "adjustments");
    CHECK(json_array_size(entries) == 2 && !json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(json_array_get(entries, 0), "reason", "open"));
    CHECK(cli_json_int(json_array_get(entries, 0), "their_delta") == 1000);
    CHECK(cli_json_int(json_array_get(entries, 1), "their_delta") == -1000);
    int64_t first = cli_json_int(json_array_get(entries, 0), "seq");
    json_decref(object);
    object = CAIRN_JSON(t, "ledger", "history", "alice", "--limit", "1");
    CHECK(json_array_size(json_object_get(object, "adjustments")) == 1);
    CHECK(json_is_true(json_object_get(object, "more")) &&
          cli_json_int(object, "next_after") == first);
    json_decref(object);
    char after[24];
    snprintf(after, sizeof after, "%" PRId64, first);
    cli_expect_ok(CAIRN(t, "ledger", "history", "alice", "--limit", "1"), "(more: --after ");
    object = CAIRN_JSON(t, "ledger", "history", "alice", "--after", after);
    entries = json_object_get(object, "adjustments");
    CHECK(json_array_size(entries) == 1 &&
          cli_json_str_is(json_array_get(entries, 0), "reason", "refund"));
    json_decref(object);
    sodium_memzero(secret, sizeof secret);
    zstr_free(&key);
    cli_ctx_end(&t);
}

static void s_test_ledger_errors(void) {
    test_ctx_t *t = cli_ctx_begin("ledger-usage", false, NULL);
    const char *const *usage[] = {
        (const char *const[]){"ledger", "open", NULL},
        (const char *const[]){"ledger", "open", "p", "--state", "ajar", NULL},
        (const char *const[]){"ledger", "open", "p", "--mine", "-1", NULL},
        (const char *const[]){"ledger", "update", "p", "--nonce", "1", "--mine", "1", NULL},
        (const char *const[]){"ledger", "adjust", "p", "--mine", "1", NULL},
        (const char *const[]){"ledger", "adjust", "p", "--mine", "x", "--reason", "r", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              "abc", "--signature-hex", "00", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--signature-hex", "00", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--share", "nocolon", "--signature-hex", "00", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--key-file", "/nonexistent/key", "--payee", "n", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--signature-hex", s_signature_zeros, NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--signature-hex", s_signature_zeros, "--expires", "9",
                              "--payee", "n", NULL},
        (const char *const[]){"ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                              s_query, "--key-file", "/k", "--expires", "soon", NULL},
        (const char *const[]){"ledger", "clear", NULL},
        (const char *const[]){"ledger", "clear", "beef", NULL},
        (const char *const[]){"ledger", "list", "--limit", "0", NULL},
        (const char *const[]){"ledger", "list", "--limit", "many", NULL},
        (const char *const[]){"ledger", "list", "--limit", "-3", NULL},
        (const char *const[]){"ledger", "list", "extra", NULL},
        (const char *const[]){"ledger", "pending", "p", "--limit", "0", NULL},
        (const char *const[]){"ledger", "pending", "p", "--limit", "x", NULL},
        (const char *const[]){"ledger", "pending", "p", "--after", "beef", NULL},
        (const char *const[]){"ledger", "pending", "p", "--after", "bob", NULL},
        (const char *const[]){"ledger", "history", NULL},
        (const char *const[]){"ledger", "history", "p", "--limit", "0", NULL},
        (const char *const[]){"ledger", "history", "p", "--after", "-1", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        cli_expect_usage(t->endpoint, usage[i]);
    cli_ctx_end(&t);

    t = cli_ctx_begin("ledger-errors", true, NULL);
    cli_expect_fail(CAIRN(t, "ledger", "get", "nobody"), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "get", "nobody"), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "get", "../x"), "invalid");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "pending", "nobody"), "not_found");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "history", "nobody"), "not_found");
    cli_expect_fail(CAIRN(t, "ledger", "history", "../x"), 1, "invalid: ");
    cli_expect_fail(CAIRN(t, "ledger", "history", "p", "--limit", "1001"), 1, "invalid: ");
    cli_expect_ok(CAIRN(t, "ledger", "open", "p"), "peer");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "open", "p"), "conflict");
    cli_expect_json_error(
        CAIRN(t, "--json", "ledger", "open", "q", "--mine", "9223372036854775808"), "invalid");
    uint8_t secret[64];
    char key_hex[65];
    char *key = s_make_key(t, "p.key", secret, key_hex);
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "pay", "p", "--amount", "1", "--recipient",
                                "r", "--query", s_query, "--key-file", key),
                          "unauthorized"); //  this node has no identity: it takes no payment
    run_t refused = CAIRN(t, "ledger", "pay", "p", "--amount", "1", "--recipient", "r", "--query",
                          s_query, "--key-file", key);
    CHECK(refused.status == 1 && strstr(refused.err, "no identity"));
    cli_run_free(&refused);
    sodium_memzero(secret, sizeof secret);
    zstr_free(&key);
    cli_ctx_end(&t);
}

//  list and pending a page at a time: the "(more: --after X)" hint, JSON
//  "more" and "next_after", and --after picking up where a page ended.
static void s_test_ledger_pages(void) {
    test_ctx_t *t = cli_ctx_begin_identity("ledger-pages");
    uint8_t secret[64];
    char *key = s_add_alice(t, secret);
    cli_expect_ok(CAIRN(t, "ledger", "open", "alice", "--theirs", "1000"), "alice");
    cli_expect_ok(CAIRN(t, "ledger", "open", "bob"), "bob");
    cli_expect_ok(CAIRN(t, "ledger", "open", "carol"), "carol");

    //  list: alice, bob | carol.
    run_t run = CAIRN(t, "ledger", "list", "--limit", "2");
    CHECK(run.status == 0 && strstr(run.out, "alice") && strstr(run.out, "bob"));
    CHECK(!strstr(run.out, "carol") && strstr(run.out, "(more: --after bob)"));
    cli_run_free(&run);
    json_t *object = CAIRN_JSON(t, "ledger", "list", "--limit", "2");
    CHECK(json_array_size(json_object_get(object, "channels")) == 2);
    CHECK(json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(object, "next_after", "bob"));
    json_decref(object);
    run = CAIRN(t, "ledger", "list", "--limit", "2", "--after", "bob");
    CHECK(run.status == 0 && strstr(run.out, "carol") && !strstr(run.out, "alice"));
    CHECK(!strstr(run.out, "(more:"));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "ledger", "list", "--limit", "2", "--after", "bob");
    json_t *channels = json_object_get(object, "channels");
    CHECK(json_array_size(channels) == 1 &&
          cli_json_str_is(json_array_get(channels, 0), "peer_id", "carol"));
    CHECK(json_is_false(json_object_get(object, "more")) && !json_object_get(object, "next_after"));
    json_decref(object);
    run = CAIRN(t, "ledger", "list", "--limit", "3"); //  full, and the last
    CHECK(run.status == 0 && strstr(run.out, "carol") && !strstr(run.out, "(more:"));
    cli_run_free(&run);
    cli_expect_fail(CAIRN(t, "ledger", "list", "--limit", "1001"), 1, "invalid: ");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "list", "--after", "../x"), "invalid");

    //  pending: three payments with known ids, two to a page.
    char ids[3][65];
    for (int i = 0; i < 3; i++) {
        uint8_t id[32];
        memset(id, 0x11 * (i + 1), 32);
        sodium_bin2hex(ids[i], sizeof ids[i], id, 32);
        //  The payee from Info, or (the last) named with --payee.
        const char *payee = i == 2 ? harness_node_peer_id(t->node) : NULL;
        cli_expect_ok(CAIRN(t, "ledger", "pay", "alice", "--amount", "1", "--recipient", "author-1",
                            "--query", s_query, "--id", ids[i], "--key-file", key,
                            payee ? "--payee" : NULL, payee),
                      "paid 1");
    }
    char hint[96];
    snprintf(hint, sizeof hint, "(more: --after %s)", ids[1]);
    run = CAIRN(t, "ledger", "pending", "alice", "--limit", "2");
    CHECK(run.status == 0 && strstr(run.out, ids[0]) && strstr(run.out, hint));
    CHECK(!strstr(run.out, ids[2]));
    cli_run_free(&run);
    object = CAIRN_JSON(t, "ledger", "pending", "alice", "--limit", "2");
    CHECK(json_array_size(json_object_get(object, "payments")) == 2);
    CHECK(json_is_true(json_object_get(object, "more")));
    CHECK(cli_json_str_is(object, "next_after", ids[1]));
    json_decref(object);
    object = CAIRN_JSON(t, "ledger", "pending", "alice", "--limit", "2", "--after", ids[1]);
    json_t *payments = json_object_get(object, "payments");
    CHECK(json_array_size(payments) == 1 &&
          cli_json_str_is(json_array_get(payments, 0), "id", ids[2]));
    CHECK(json_is_false(json_object_get(object, "more")) && !json_object_get(object, "next_after"));
    json_decref(object);
    //  A cleared cursor still works; an unknown one is the node's not_found.
    cli_expect_ok(CAIRN(t, "ledger", "clear", ids[1]), "cleared 1 payment");
    run = CAIRN(t, "ledger", "pending", "alice", "--after", ids[1]);
    CHECK(run.status == 0 && strstr(run.out, ids[2]) && !strstr(run.out, ids[0]));
    CHECK(!strstr(run.out, "(more:"));
    cli_run_free(&run);
    char unknown[65];
    memset(unknown, 'e', 64);
    unknown[64] = '\0';
    cli_expect_fail(CAIRN(t, "ledger", "pending", "alice", "--after", unknown), 1, "not_found: ");
    cli_expect_json_error(CAIRN(t, "--json", "ledger", "pending", "bob", "--after", ids[0]),
                          "not_found"); //  alice's payment, not bob's
    cli_expect_fail(CAIRN(t, "ledger", "pending", "alice", "--limit", "10001"), 1, "invalid: ");
    run = RUN("ledger", "pending", "--help");
    CHECK(run.status == 0 && strstr(run.out, "--after PAYMENT_ID"));
    cli_run_free(&run);
    run = RUN("ledger", "list", "--help");
    CHECK(run.status == 0 && strstr(run.out, "(more: --after PEER)"));
    cli_run_free(&run);
    sodium_memzero(secret, sizeof secret);
    zstr_free(&key);
    cli_ctx_end(&t);
}

static const harness_test_t s_tests[] = {
    {"ledger_commands", s_test_ledger_commands},
    {"ledger_errors", s_test_ledger_errors},
    {"ledger_pages", s_test_ledger_pages},
};

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    int rc = harness_main(argc, argv, "e2e.cli", s_tests, sizeof s_tests / sizeof s_tests[0]);
    if (cli_run_failures)
        fprintf(stderr, "e2e-cli-ledger: %d check(s) failed\n", cli_run_failures);
    return rc ? rc : cli_run_failures ? 1 : 0;
}

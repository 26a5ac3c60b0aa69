/*  =========================================================================
    e2e_message_signatures - black-box tests of message signatures
    (schemas/messages.proto, "Signature")

        e2e-msgsig TEST      runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir
    and talks to it only through its ZeroMQ endpoint. Senders are Ed25519
    key pairs made known with PeerPut (tests/kit/messages_fixture.c);
    messages are signed with the node's own encoder, whose bytes the
    encoder's self-test pins with fixed vectors.
    ========================================================================= */

#include "messages_fixture.h"
#include "ca_limits.h"
#include "message_encoding.h"

#include <stdio.h>
#include <string.h>

#define CHECK HARNESS_CHECK

static const uint8_t s_nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t s_dummy_signature[64] = {0x5a, 0x5a};

//  Stores `message`; checks the status and, when not OK, that the error
//  contains `fragment`.
static void s_expect(ca_caller_t *caller, Cairn__Message *message, Cairn__Status status,
                     const char *fragment) {
    Cairn__Response *response = messages_fixture_store(caller, message);
    if (response->status != status || (fragment && !strstr(response->error, fragment)))
        fprintf(stderr, "store %s: status %d (want %d), error '%s' (want '%s')\n", message->id,
                response->status, status, response->error ? response->error : "",
                fragment ? fragment : "");
    CHECK(response->status == status);
    CHECK(!fragment || strstr(response->error, fragment));
    cairn__response__free_unpacked(response, NULL);
}

static uint64_t s_count(ca_caller_t *caller) {
    Cairn__Response *response = messages_fixture_stats(caller);
    CHECK(response->status == CAIRN__STATUS__OK);
    uint64_t count = response->message_stats->messages;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

static void s_block(ca_caller_t *caller, const char *peer_id, bool blocked) {
    Cairn__Request request;
    Cairn__PeerBlock block;
    ca_request_peer_block(&request, &block, 0, peer_id, blocked);
    cairn__response__free_unpacked(ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_PEER_BLOCK),
                                   NULL);
}

static bool s_channel_unsigned(ca_caller_t *caller, const char *name) {
    Cairn__Request request;
    Cairn__ChannelGet get;
    ca_request_channel_get(&request, &get, 0, name);
    Cairn__Response *response = ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_CHANNEL_GET);
    bool result = response->channel_get->unsigned_messages;
    cairn__response__free_unpacked(response, NULL);
    return result;
}

//  The start of most tests: a signed channel #signed and alice (seed 1),
//  a known sender.
static void s_signed_setup(ca_caller_t *caller, messages_fixture_signer_t *alice) {
    messages_fixture_create_channel(caller, "#signed", false);
    messages_fixture_signer(alice, 1);
    messages_fixture_add_signer(caller, alice);
}

//  ---- tests -------------------------------------------------------------------------

//  A clear and an encrypted message signed by a known sender are stored
//  and read back with their signatures; ChannelCreate makes signed
//  channels by default.
static void test_signed_stored(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_signer_t alice;
    s_signed_setup(caller, &alice);
    CHECK(!s_channel_unsigned(caller, "#signed"));
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 1, 1);
    Cairn__Message message;
    uint8_t signature[64];
    messages_fixture_message(&message, id, 1700000000.125, "#signed", "signed hello");
    messages_fixture_sign(&message, &alice, signature);
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    Cairn__Response *response = messages_fixture_get(caller, id);
    CHECK(response->status == CAIRN__STATUS__OK);
    CHECK(streq(response->message_get->sender_id, alice.peer_id));
    CHECK(response->message_get->signature.len == 64 &&
          memcmp(response->message_get->signature.data, signature, 64) == 0);
    //  What the node returns verifies as it is.
    CHECK(message_verify(response->message_get, alice.public_key));
    cairn__response__free_unpacked(response, NULL);
    //  Encrypted: the signature covers the ciphertext and the nonce.
    messages_fixture_uuid(id, 1, 2);
    messages_fixture_message(&message, id, 1700000001, "#signed", "\x01\x02\x03 ciphertext");
    message.encrypted = true;
    message.nonce = (ProtobufCBinaryData){sizeof s_nonce, (uint8_t *)s_nonce};
    messages_fixture_sign(&message, &alice, signature);
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    CHECK(s_count(caller) == 2);
    harness_session_down(&caller, &client, &node);
}

//  Each covered field changed after signing makes the message refused
//  (UNAUTHORIZED), nothing is stored; the message as signed is then stored.
static void test_tampered_refused(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_signer_t alice, bob;
    s_signed_setup(caller, &alice);
    messages_fixture_create_channel(caller, "#other", false);
    messages_fixture_signer(&bob, 2);
    messages_fixture_add_signer(caller, &bob);
    char id[CA_UUID_TEXT_LENGTH + 1], other_id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 2, 1);
    messages_fixture_uuid(other_id, 2, 2);
    uint8_t other_nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13};
    Cairn__Message signed_message;
    uint8_t signature[64];
    messages_fixture_message(&signed_message, id, 1700000000.5, "#signed", "ciphertext bytes");
    signed_message.encrypted = true;
    signed_message.nonce = (ProtobufCBinaryData){sizeof s_nonce, (uint8_t *)s_nonce};
    messages_fixture_sign(&signed_message, &alice, signature);
    const char *fields[] = {"content", "channel", "timestamp",  "sender",
                            "id",      "nonce",   "sender_name"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        Cairn__Message message = signed_message;
        switch (i) {
            case 0:
                message.content = (ProtobufCBinaryData){16, (uint8_t *)"ciphertext bytez"};
                break;
            case 1:
                message.channel = "#other";
                break;
            case 2:
                message.timestamp = 1700000000.5000002;
                break;
            case 3:
                message.sender_id = bob.peer_id; //  known, but not who signed
                break;
            case 4:
                message.id = other_id;
                break;
            case 5:
                message.nonce = (ProtobufCBinaryData){sizeof other_nonce, other_nonce};
                break;
            default:
                message.sender_name = "Mallory";
        }
        printf("   tampered: %s\n", fields[i]);
        s_expect(caller, &message, CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    }
    CHECK(s_count(caller) == 0);
    s_expect(caller, &signed_message, CAIRN__STATUS__OK, NULL);
    CHECK(s_count(caller) == 1);
    harness_session_down(&caller, &client, &node);
}

//  A signature by another key than the sender's, or 64 bytes that sign
//  nothing, is UNAUTHORIZED; a wrong size stays INVALID. After PeerPut
//  gives the sender another key, only that key's signatures pass.
static void test_wrong_key(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_signer_t alice, mallory;
    s_signed_setup(caller, &alice);
    messages_fixture_signer(&mallory, 3);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 3, 1);
    Cairn__Message message;
    uint8_t signature[64];
    messages_fixture_message(&message, id, 1700000000, "#signed", "hello");
    messages_fixture_sign(&message, &mallory, signature);
    message.sender_id = alice.peer_id; //  claims to be alice
    s_expect(caller, &message, CAIRN__STATUS__UNAUTHORIZED, "--key-file");
    message.signature = (ProtobufCBinaryData){64, (uint8_t *)s_dummy_signature};
    s_expect(caller, &message, CAIRN__STATUS__UNAUTHORIZED, alice.peer_id);
    message.signature.len = 63;
    s_expect(caller, &message, CAIRN__STATUS__INVALID, "64 bytes");
    //  Alice's row now holds mallory's key: her old signature is refused.
    messages_fixture_sign(&message, &alice, signature);
    messages_fixture_signer_t rekeyed = alice;
    memcpy(rekeyed.public_key, mallory.public_key, sizeof rekeyed.public_key);
    messages_fixture_add_signer(caller, &rekeyed);
    s_expect(caller, &message, CAIRN__STATUS__UNAUTHORIZED, "does not verify");
    CHECK(s_count(caller) == 0);
    harness_session_down(&caller, &client, &node);
}

//  A sender that is not in the peers table: NOT_FOUND, saying to add it.
static void test_unknown_sender(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_create_channel(caller, "#signed", false);
    messages_fixture_signer_t stranger;
    messages_fixture_signer(&stranger, 4);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 4, 1);
    Cairn__Message message;
    uint8_t signature[64];
    messages_fixture_message(&message, id, 1700000000, "#signed", "who am I");
    messages_fixture_sign(&message, &stranger, signature);
    s_expect(caller, &message, CAIRN__STATUS__NOT_FOUND, "PeerPut");
    //  Known, the same message is stored.
    messages_fixture_add_signer(caller, &stranger);
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    harness_session_down(&caller, &client, &node);
}

//  A blocked sender is refused in signed and unsigned channels alike, a
//  good signature notwithstanding; unblocked, it is heard again.
static void test_blocked_sender(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_signer_t alice;
    s_signed_setup(caller, &alice);
    messages_fixture_create_channel(caller, "#open", true);
    s_block(caller, alice.peer_id, true);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 5, 1);
    Cairn__Message message;
    uint8_t signature[64];
    messages_fixture_message(&message, id, 1700000000, "#signed", "let me in");
    messages_fixture_sign(&message, &alice, signature);
    s_expect(caller, &message, CAIRN__STATUS__UNAUTHORIZED, "blocked");
    Cairn__Message open = message;
    open.channel = "#open";
    s_expect(caller, &open, CAIRN__STATUS__UNAUTHORIZED, "blocked");
    CHECK(s_count(caller) == 0);
    s_block(caller, alice.peer_id, false);
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    harness_session_down(&caller, &client, &node);
}

//  A channel created unsigned takes any 64 bytes from any sender, known
//  or not, as every channel did before signatures were checked.
static void test_unsigned_channel(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_create_channel(caller, "#open", true);
    CHECK(s_channel_unsigned(caller, "#open"));
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 6, 1);
    Cairn__Message message;
    messages_fixture_message(&message, id, 1700000000, "#open", "no signature checked");
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    messages_fixture_uuid(id, 6, 2);
    message.signature.len = 63;
    s_expect(caller, &message, CAIRN__STATUS__INVALID, "64 bytes");
    CHECK(s_count(caller) == 1);
    harness_session_down(&caller, &client, &node);
}

//  A database from before signatures (schema version 4): after migration
//  its channels are unsigned, so its messages and new unsigned messages
//  keep working; channels created afterwards are signed.
static void test_migrated_channels(void) {
    HARNESS_SESSION_UP(NULL);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    sqlite3 *db = messages_fixture_open_db(node);
    CHECK(db);
    const char *downgrade = //  back to version 4: migrations 6 and 5 undone
        "DROP TRIGGER messages_seq_floor_delete;"
        "DROP TABLE messages_seq_floor;"
        "ALTER TABLE channels DROP COLUMN signed_messages;"
        "UPDATE schema_version SET version = 4 WHERE store = 'messages';"
        "INSERT INTO channels (name, created_at, last_activity, encrypted)"
        " VALUES ('#old', 1, 1, 0);"
        "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel, content,"
        " encrypted, signature) VALUES ('00000007-0000-4000-8000-000000000001', 5, 'alice',"
        " 'Alice', '#old', 'from before', 0, zeroblob(64));";
    char *error = NULL;
    if (sqlite3_exec(db, downgrade, NULL, NULL, &error) != SQLITE_OK)
        fprintf(stderr, "downgrade: %s\n", error);
    CHECK(error == NULL);
    sqlite3_close(db);
    harness_session_reopen(node, &client, &caller);
    CHECK(harness_node_log_has(node, "schema migrated to version 5"));
    CHECK(s_channel_unsigned(caller, "#old"));
    Cairn__Response *response =
        messages_fixture_get(caller, "00000007-0000-4000-8000-000000000001");
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 7, 2);
    Cairn__Message message;
    messages_fixture_message(&message, id, 1700000000, "#old", "still unsigned");
    s_expect(caller, &message, CAIRN__STATUS__OK, NULL);
    messages_fixture_create_channel(caller, "#new", false);
    messages_fixture_uuid(id, 7, 3);
    messages_fixture_message(&message, id, 1700000000, "#new", "must be signed");
    s_expect(caller, &message, CAIRN__STATUS__NOT_FOUND, "not a known peer");
    CHECK(s_count(caller) == 2);
    harness_session_down(&caller, &client, &node);
}

//  A Batch checks signatures as MessageStore alone does: a signed message
//  is stored with the rest; a bad signature refuses the whole batch.
static void test_batch_signed(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_signer_t alice;
    s_signed_setup(caller, &alice);
    for (int round = 0; round < 2; round++) {
        char id[CA_UUID_TEXT_LENGTH + 1];
        messages_fixture_uuid(id, 8, (uint64_t)round + 1);
        Cairn__Message message;
        uint8_t signature[64];
        messages_fixture_message(&message, id, 1700000000, "#signed", "in a batch");
        messages_fixture_sign(&message, &alice, signature);
        if (round == 1)
            signature[0] ^= 1;
        Cairn__Request inner[2];
        Cairn__ConfigSet set;
        Cairn__MessageStore store;
        ca_request_config_set(&inner[0], &set, 1, round ? "msgsig.b" : "msgsig.a", "1");
        ca_request_message_store(&inner[1], &store, 2, &message);
        ProtobufCBinaryData packed[2];
        for (int i = 0; i < 2; i++) {
            packed[i].len = cairn__request__get_packed_size(&inner[i]);
            packed[i].data = (uint8_t *)malloc(packed[i].len);
            CHECK(packed[i].data);
            cairn__request__pack(&inner[i], packed[i].data);
        }
        Cairn__Request request = CAIRN__REQUEST__INIT;
        Cairn__Batch batch = CAIRN__BATCH__INIT;
        batch.requests = packed;
        batch.n_requests = 2;
        request.body_case = CAIRN__REQUEST__BODY_BATCH;
        request.batch = &batch;
        Cairn__Response *response = ca_caller_call(caller, &request);
        if (round == 0)
            CHECK(response->status == CAIRN__STATUS__OK);
        else
            CHECK(response->status == CAIRN__STATUS__UNAUTHORIZED &&
                  strstr(response->error, "does not verify"));
        cairn__response__free_unpacked(response, NULL);
        for (int i = 0; i < 2; i++)
            free(packed[i].data);
    }
    CHECK(s_count(caller) == 1);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"signed_stored", test_signed_stored},
    {"tampered_refused", test_tampered_refused},
    {"wrong_key", test_wrong_key},
    {"unknown_sender", test_unknown_sender},
    {"blocked_sender", test_blocked_sender},
    {"unsigned_channel", test_unsigned_channel},
    {"migrated_channels", test_migrated_channels},
    {"batch_signed", test_batch_signed},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.msgsig", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

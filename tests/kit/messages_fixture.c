/*  =========================================================================
    messages_fixture - nodes with channels in place, for the messages tests
    ========================================================================= */

#include "messages_fixture.h"
#include "ca_limits.h"
#include "ca_sign.h"
#include "message_encoding.h"

#include <sodium.h>

#include <stdio.h>
#include <string.h>

sqlite3 *messages_fixture_open_db(harness_node_t *node) {
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "messages_fixture: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    } else
        sqlite3_busy_timeout(db, 5000);
    zstr_free(&path);
    return db;
}

int messages_fixture_seed_channels(harness_node_t *node, const char *const *channels) {
    sqlite3 *db = messages_fixture_open_db(node);
    if (!db)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO channels (name, created_at, last_activity, encrypted)"
                                " VALUES (?1, 1, 1, 0)",
                                -1, &stmt, NULL);
    for (size_t i = 0; rc == SQLITE_OK && channels && channels[i]; i++) {
        sqlite3_bind_text(stmt, 1, channels[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(stmt);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "messages_fixture: cannot add channels: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

harness_node_t *messages_fixture_start(const char *const *channels, const char *const *extra_args) {
    harness_node_t *node = harness_node_start(NULL, extra_args);
    if (!node)
        return NULL;
    //  The first start migrated the schema; a clean stop leaves no WAL.
    if (harness_node_stop(node) != 0 || messages_fixture_seed_channels(node, channels) != 0 ||
        harness_node_restart(node) != 0)
        harness_node_destroy(&node);
    return node;
}

//  ---- signed messages -------------------------------------------------------------

void messages_fixture_signer(messages_fixture_signer_t *signer, uint8_t seed) {
    uint8_t bytes[CA_ED25519_SEED_BYTES];
    memset(bytes, seed, sizeof bytes);
    ca_ed25519_from_seed(bytes, signer->public_key, signer->secret_key);
    sodium_bin2hex(signer->peer_id, sizeof signer->peer_id, signer->public_key,
                   sizeof signer->public_key);
}

void messages_fixture_add_signer(ca_caller_t *caller, const messages_fixture_signer_t *signer) {
    Cairn__Request request;
    Cairn__PeerPut put;
    Cairn__Peer peer;
    ca_request_peer_init(&peer, signer->peer_id, signer->public_key, "127.0.0.1", 7402, "signer");
    ca_request_peer_put(&request, &put, 0, &peer, NULL);
    cairn__response__free_unpacked(ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_PEER_PUT),
                                   NULL);
}

void messages_fixture_sign(Cairn__Message *message, const messages_fixture_signer_t *signer,
                           uint8_t *signature) {
    message->sender_id = (char *)signer->peer_id;
    HARNESS_CHECK(message_sign(message, signer->secret_key, signature));
    message->signature = (ProtobufCBinaryData){MESSAGE_SIGNATURE, signature};
}

void messages_fixture_create_channel(ca_caller_t *caller, const char *name,
                                     bool unsigned_messages) {
    Cairn__Request request;
    Cairn__ChannelCreate create;
    ca_request_channel_create(&request, &create, 0, name, false, NULL);
    create.unsigned_messages = unsigned_messages;
    Cairn__Response *response =
        ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_CHANNEL_CREATE);
    HARNESS_CHECK(response->channel_create->unsigned_messages == unsigned_messages);
    cairn__response__free_unpacked(response, NULL);
}

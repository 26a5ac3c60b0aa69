/*  =========================================================================
    messages_fixture - the node side of the messages end-to-end tests: a
    node started with channels in place

    The node is started once (which migrates the schema), stopped, given
    its channels straight in cairn.db, and started again; tests then talk
    to it only over its endpoint. The messages and requests themselves are
    the store's own fixtures (messages.h), shared with its self-test.
    ========================================================================= */

#ifndef MESSAGES_FIXTURE_H_INCLUDED
#define MESSAGES_FIXTURE_H_INCLUDED

#include "harness.h"
#include "ca_names.h"
#include "messages.h" //  the message fixtures shared with the self-test

#include <sqlite3.h>

//  Starts a node (extra_args may be NULL) whose database holds the
//  NULL-terminated `channels`. NULL when it did not come up.
harness_node_t *messages_fixture_start(const char *const *channels, const char *const *extra_args);

//  Adds channels to a stopped node's database. Returns 0 or -1 (printed).
int messages_fixture_seed_channels(harness_node_t *node, const char *const *channels);

//  Opens a stopped node's database read-write (for checks); NULL on error.
sqlite3 *messages_fixture_open_db(harness_node_t *node);

//  ---- signed messages (schemas/messages.proto, "Signature") --------------------
//  Channels seeded above are unsigned (as channels made before signatures
//  were checked); ChannelCreate makes signed ones unless asked not to.

//  A sender with an Ed25519 key pair; its peer id is the hex of its public
//  key, as a node's is.
typedef struct {
    char peer_id[2 * 32 + 1];
    uint8_t public_key[32];
    uint8_t secret_key[64];
} messages_fixture_signer_t;

//  The signer whose 32-byte seed is `seed` repeated.
void messages_fixture_signer(messages_fixture_signer_t *signer, uint8_t seed);

//  Makes the signer a known peer (PeerPut with its key); the test fails
//  when the node refuses.
void messages_fixture_add_signer(ca_caller_t *caller, const messages_fixture_signer_t *signer);

//  Makes `message` the signer's (sender_id) and signs it with the node's own
//  encoder into `signature` (64 bytes, referenced by the message).
void messages_fixture_sign(Cairn__Message *message, const messages_fixture_signer_t *signer,
                           uint8_t *signature);

//  ChannelCreate of `name`, signed or unsigned; the test fails when refused.
void messages_fixture_create_channel(ca_caller_t *caller, const char *name, bool unsigned_messages);

#endif

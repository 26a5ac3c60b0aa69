/*  =========================================================================
    messages_fixture - what the messages end-to-end tests share: a node started
    with channels in place, and valid test messages (the requests
    themselves are built with ca_request, as at every test level)

    Channels come from the channels store, built in parallel in another
    branch; until it is merged, messages_fixture_start writes them straight into
    the node's cairn.db between a first start (which migrates the schema)
    and a restart. Tests then talk to the node only over its endpoint.
    ========================================================================= */

#ifndef MESSAGES_FIXTURE_H_INCLUDED
#define MESSAGES_FIXTURE_H_INCLUDED

#include "harness.h"
#include "ca_names.h"

#include <sqlite3.h>

//  Starts a node (extra_args may be NULL) whose database holds the
//  NULL-terminated `channels`. NULL when it did not come up.
harness_node_t *messages_fixture_start(const char *const *channels, const char *const *extra_args);

//  Adds channels to a stopped node's database. Returns 0 or -1 (printed).
int messages_fixture_seed_channels(harness_node_t *node, const char *const *channels);

//  Opens a stopped node's database read-write (for checks); NULL on error.
sqlite3 *messages_fixture_open_db(harness_node_t *node);

//  A UUID made of two numbers: "hhhhhhhh-0000-4000-8000-llllllllllll".
void messages_fixture_uuid(char uuid[CA_UUID_TEXT_LENGTH + 1], uint32_t high, uint64_t low);

//  A valid clear message (64-byte signature, sender "alice"); strings and
//  content are referenced, not copied.
void messages_fixture_message(Cairn__Message *message, const char *id, double timestamp,
                              const char *channel, const char *content);

#endif

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

#endif

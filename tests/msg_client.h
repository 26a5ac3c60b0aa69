/*  =========================================================================
    msg_client - what the messages end-to-end tests share: request builders
    for the messages requests, and a node started with channels in place

    Channels come from the channels store, built in parallel in another
    branch; until it is merged, msg_client_start writes them straight into
    the node's cairn.db between a first start (which migrates the schema)
    and a restart. Tests then talk to the node only over its endpoint.
    ========================================================================= */

#ifndef MSG_CLIENT_H_INCLUDED
#define MSG_CLIENT_H_INCLUDED

#include "harness.h"
#include "ca_names.h"

#include <sqlite3.h>

//  Starts a node (extra_args may be NULL) whose database holds the
//  NULL-terminated `channels`. NULL when it did not come up.
harness_node_t *msg_client_start(const char *const *channels, const char *const *extra_args);

//  Adds channels to a stopped node's database. Returns 0 or -1 (printed).
int msg_client_seed_channels(harness_node_t *node, const char *const *channels);

//  Opens a stopped node's database read-write (for checks); NULL on error.
sqlite3 *msg_client_open_db(harness_node_t *node);

//  A UUID made of two numbers: "hhhhhhhh-0000-4000-8000-llllllllllll".
void msg_client_uuid(char uuid[CA_UUID_TEXT_LENGTH + 1], uint32_t high, uint64_t low);

//  A valid clear message (64-byte signature, sender "alice"); strings and
//  content are referenced, not copied.
void msg_client_message(Cairn__Message *message, const char *id, double timestamp,
                        const char *channel, const char *content);

//  Request builders: the Request and the body are the caller's storage.
void msg_client_store(Cairn__Request *request, Cairn__MessageStore *store, uint64_t id,
                      Cairn__Message *message);
void msg_client_list(Cairn__Request *request, Cairn__MessageList *list, uint64_t id,
                     const char *channel, uint32_t limit);
void msg_client_get(Cairn__Request *request, Cairn__MessageGet *get, uint64_t id,
                    const char *message_id);
void msg_client_delete(Cairn__Request *request, Cairn__MessageDelete *del, uint64_t id,
                       const char *channel, double before);
void msg_client_search(Cairn__Request *request, Cairn__MessageSearch *search, uint64_t id,
                       const char *query, const char *channel, uint32_t limit);
void msg_client_stats(Cairn__Request *request, Cairn__MessageStats *stats, uint64_t id);
void msg_client_vacuum(Cairn__Request *request, Cairn__Vacuum *vacuum, uint64_t id);

#endif

/*  =========================================================================
    sync_sets - the items of a reconciliation set (a channel's messages,
    the content store's hashes) read into sealed negentropy sets, and a
    small cache of them; shared by the sync store (clients) and the peer
    actor's reconciliation (actors/peer_recon.c). Set names and item keys:
    schemas/sync.proto.
    ========================================================================= */

#ifndef SYNC_SETS_H_INCLUDED
#define SYNC_SETS_H_INCLUDED

#include "ca_negentropy.h"
#include "ca_status.h"

#include <sqlite3.h>
#include <stdbool.h>

#define SYNC_SETS_CHANNEL   "channel:"
#define SYNC_SETS_CONTENT   "content"
#define SYNC_SETS_TOPIC     "topic:" //  + 64 hex digits: a topic's operations
#define SYNC_SETS_NAME_MAX  300
#define SYNC_SETS_ITEMS_MAX 4000000
#define SYNC_SETS_ERR_BYTES 320

//  Prepares `sql` on the caller's read connection (cached there, reset);
//  NULL when it cannot (the caller logs why).
typedef sqlite3_stmt *(sync_sets_prepare_fn)(void *ctx, const char *sql);

typedef struct _sync_sets_t sync_sets_t;

//  The item of message id `id` (its text): SHA-256 of it.
void sync_sets_message_item(const char *id, uint8_t item[CA_NEG_ID_BYTES]);

//  The channel named by set `set` (a pointer into it), or NULL for
//  "content" and "topic:<hex>"; false with err when the name is not a set.
bool sync_sets_parse(const char *set, const char **channel, char err[SYNC_SETS_ERR_BYTES]);

//  The items of `set`, read now into a sealed set the caller owns; NULL
//  with status and err (NOT_FOUND: no such channel; INVALID: bad name or
//  too many items; INTERNAL: cannot read).
ca_neg_set_t *sync_sets_load(const char *set, sync_sets_prepare_fn *prepare, void *ctx,
                             ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]);

//  An empty cache of sealed sets (see the banner of sync_sets.c).
sync_sets_t *sync_sets_new(void);
void sync_sets_destroy(sync_sets_t **self_p);

//  The items of `set` from the cache, rebuilt when stale; borrowed, valid
//  until the next call. NULL with status and err as sync_sets_load.
const ca_neg_set_t *sync_sets_get(sync_sets_t *self, const char *set, sync_sets_prepare_fn *prepare,
                                  void *ctx, ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]);

#endif

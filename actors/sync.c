/*  =========================================================================
    sync - set reconciliation for clients with the negentropy protocol

    What it owns: nothing on disk. It reads other stores' tables (the
    messages of a channel, the content store's hashes) on its own read
    connection and answers SyncReconcile as the negentropy *responder*
    (actors/wire/ca_negentropy.c), so any tool with a negentropy v1
    implementation (the nostr-tools JavaScript class, strfry's C++, cairn's
    CLI) can find what it and the node each lack. Items and their keys:
    schemas/sync.proto.

    Items come from a cache of sealed sets kept per worker
    (actors/sync_sets.c, shared with the peer actor's reconciliation), so
    a round on a kept set is O(ranges x log n).

    Stateless rounds: the node keeps nothing of a session; a client may
    stop, resume or interleave sessions. Each round's cost is bounded by
    the request's size (at most 1 MiB, the gateway's bound) and the answer
    by frame_size_limit; a hostile client gains nothing by endless
    splitting that it could not get by sending requests (the node's usual
    per-client bounds apply).
    ========================================================================= */

#include "sync.h"
#include "ca_log.h"
#include "ca_negentropy.h"
#include "sync_sets.h"

#include <czmq.h>
#include <string.h>

#define CA_SYNC_FRAME_DEFAULT 60000
#define CA_SYNC_FRAME_MAX     (512 * 1024)
#define CA_SYNC_MESSAGE_MAX   (512 * 1024)

static void *s_state_new(ca_store_t *store, char **error) {
    (void)store;
    sync_sets_t *sets = sync_sets_new();
    if (!sets)
        *error = strdup("out of memory");
    return sets;
}

static void s_state_destroy(void **state_p) {
    sync_sets_destroy((sync_sets_t **)state_p);
}

//  Statements on the worker's read connection (a failure is logged).
static sqlite3_stmt *s_prepare(void *store, const char *sql) {
    return ca_store_prepare((ca_store_t *)store, sql, NULL);
}

static void s_sync_reconcile(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__SyncReconcile *ask = request->sync_reconcile;
    uint32_t limit = ask->frame_size_limit ? ask->frame_size_limit : CA_SYNC_FRAME_DEFAULT;
    if (limit < CA_NEG_FRAME_MIN || limit > CA_SYNC_FRAME_MAX) {
        ca_reply_error(reply, CA_INVALID, "frame_size_limit %u is outside %d..%d (0 means %d)",
                       ask->frame_size_limit, CA_NEG_FRAME_MIN, CA_SYNC_FRAME_MAX,
                       CA_SYNC_FRAME_DEFAULT);
        return;
    }
    if (ask->message.len > CA_SYNC_MESSAGE_MAX) {
        ca_reply_error(reply, CA_INVALID, "negentropy message of %zu bytes, more than %d",
                       ask->message.len, CA_SYNC_MESSAGE_MAX);
        return;
    }
    ca_status_t status = CA_OK;
    char problem[SYNC_SETS_ERR_BYTES];
    const ca_neg_set_t *set = sync_sets_get((sync_sets_t *)ca_store_state(store), ask->set,
                                            s_prepare, store, &status, problem);
    if (!set) {
        ca_reply_error(reply, status, "%s", problem);
        return;
    }
    ca_neg_opts_t opts = {false, limit};
    ca_neg_buf_t out = {0};
    char err[CA_NEG_ERR_BYTES];
    if (ca_neg_reconcile(set, &opts, ask->message.data, ask->message.len, &out, NULL, NULL, err)) {
        ca_reply_error(reply, out.failed ? CA_INTERNAL : CA_INVALID, "%s", err);
        ca_neg_buf_free(&out);
        return;
    }
    Cairn__SyncAnswer *answer = ca_reply_alloc(reply, sizeof *answer);
    cairn__sync_answer__init(answer);
    answer->message.len = out.size;
    answer->message.data = ca_reply_memdup(reply, out.data, out.size);
    answer->items = ca_neg_set_size(set);
    ca_neg_buf_free(&out);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SYNC_RECONCILE;
    response->sync_reconcile = answer;
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_SYNC_RECONCILE, "sync_reconcile", s_sync_reconcile, NULL, 0},
};

const ca_store_def_t sync_store_def = {
    .name = "sync",
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
};

/*  =========================================================================
    sync - set reconciliation for clients with the negentropy protocol

    What it owns: nothing on disk. It reads other stores' tables (the
    messages of a channel, the content store's hashes) on its own read
    connection and answers SyncReconcile as the negentropy *responder*
    (actors/wire/ca_negentropy.c), so any tool with a negentropy v1
    implementation (the nostr-tools JavaScript class, strfry's C++, cairn's
    CLI) can find what it and the node each lack. Items and their keys:
    schemas/sync.proto.

    Why a snapshot: the protocol needs the set sorted by (timestamp, id)
    and the sums of any range; reading and sorting a million rows costs far
    more than a round, so each worker keeps the sealed sets of the last
    sets it answered (CA_SYNC_SNAPSHOTS per worker, least recently used
    evicted first, their items together at most CA_SYNC_ITEMS_MAX, so
    their memory at most CA_SYNC_ITEMS_MAX x 72 bytes: a client that
    alternates between a few sets does not make a worker rebuild on every
    round) and reuses each while the set looks
    unchanged: the same count and newest row (one indexed query) and no
    older than CA_SYNC_SNAPSHOT_MS (which bounds how long a change that
    keeps both, a delete plus an insert of an older row, goes unseen). A
    round on a kept snapshot is O(ranges x log n): fingerprints come from
    its prefix sums.

    Stateless rounds: the node keeps nothing of a session; a client may
    stop, resume or interleave sessions. Each round's cost is bounded by
    the request's size (at most 1 MiB, the gateway's bound) and the answer
    by frame_size_limit; a hostile client gains nothing by endless
    splitting that it could not get by sending requests (the node's usual
    per-client bounds apply).
    ========================================================================= */

#include "sync.h"
#include "ca_hash.h"
#include "ca_log.h"
#include "ca_names.h"
#include "ca_negentropy.h"

#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define CA_SYNC_SNAPSHOT_MS   5000
#define CA_SYNC_ITEMS_MAX     4000000
#define CA_SYNC_FRAME_DEFAULT 60000
#define CA_SYNC_FRAME_MAX     (512 * 1024)
#define CA_SYNC_MESSAGE_MAX   (512 * 1024)
#define CA_SYNC_SET_CHANNEL   "channel:"
#define CA_SYNC_SET_CONTENT   "content"
#define CA_SYNC_SET_NAME_MAX  300

//  Snapshots a worker keeps, least recently used evicted first, so a
//  client that alternates between a few sets does not make the worker
//  rebuild one on every round; their items together stay within
//  CA_SYNC_ITEMS_MAX.
#define CA_SYNC_SNAPSHOTS 4

typedef struct {
    char set[CA_SYNC_SET_NAME_MAX + 1]; //  "" when empty
    int64_t count;
    int64_t newest;
    int64_t built_ms;
    int64_t used_ms;
    ca_neg_set_t *items;
} snapshot_t;

typedef struct {
    snapshot_t slots[CA_SYNC_SNAPSHOTS];
} sync_state_t;

static void *s_state_new(ca_store_t *store, char **error) {
    (void)store;
    sync_state_t *state = (sync_state_t *)calloc(1, sizeof(sync_state_t));
    if (!state)
        *error = strdup("out of memory");
    return state;
}

static void s_state_destroy(void **state_p) {
    sync_state_t *state = (sync_state_t *)*state_p;
    for (size_t i = 0; state && i < CA_SYNC_SNAPSHOTS; i++)
        ca_neg_set_destroy(&state->slots[i].items);
    free(state);
    *state_p = NULL;
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  The set's count and newest row, to tell whether a snapshot still holds.
static int s_version(ca_store_t *store, const char *channel, int64_t *count, int64_t *newest,
                     ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        channel ? ca_store_prepare(store,
                                   "SELECT count(*), coalesce(max(seq), 0),"
                                   " EXISTS (SELECT 1 FROM channels WHERE name = ?1)"
                                   " FROM messages WHERE channel = ?1",
                                   reply)
                : ca_store_prepare(store, "SELECT blobs, bytes, 1 FROM content_totals", reply);
    if (!stmt)
        return -1;
    if (channel)
        sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int result = -1;
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(stmt, 0);
        *newest = sqlite3_column_int64(stmt, 1);
        if (!sqlite3_column_int(stmt, 2))
            ca_reply_error(reply, CA_NOT_FOUND,
                           "channel %s does not exist: list channels with `cairn channels list`",
                           channel);
        else if (*count > CA_SYNC_ITEMS_MAX)
            ca_reply_error(reply, CA_INVALID,
                           "the set has %" PRId64 " items, more than the %d a sync snapshot holds",
                           *count, CA_SYNC_ITEMS_MAX);
        else
            result = 0;
    } else
        s_read_failed(reply, stmt, rc, "the set's size");
    sqlite3_reset(stmt);
    return result;
}

//  Reads the whole set into a sealed negentropy set; NULL after answering.
static ca_neg_set_t *s_load(ca_store_t *store, const char *channel, ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        channel
            ? ca_store_prepare(store, "SELECT timestamp, id FROM messages WHERE channel = ?", reply)
            : ca_store_prepare(store, "SELECT hash FROM content_blobs", reply);
    if (!stmt)
        return NULL;
    if (channel)
        sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    ca_neg_set_t *set = ca_neg_set_new();
    int rc = SQLITE_NOMEM;
    size_t rows = 0;
    while (set && rows++ <= CA_SYNC_ITEMS_MAX && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint8_t id[CA_NEG_ID_BYTES];
        uint64_t timestamp = 0;
        if (channel) {
            double seconds = sqlite3_column_double(stmt, 0);
            timestamp = seconds > 0 && seconds < 9.2e18 ? (uint64_t)floor(seconds) : 0;
            ca_sha256(sqlite3_column_text(stmt, 1), (size_t)sqlite3_column_bytes(stmt, 1), id);
        } else {
            if (sqlite3_column_bytes(stmt, 0) != CA_NEG_ID_BYTES)
                continue; //  the table's CHECK forbids it
            memcpy(id, sqlite3_column_blob(stmt, 0), CA_NEG_ID_BYTES);
        }
        if (ca_neg_set_add(set, timestamp, id)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    char err[CA_NEG_ERR_BYTES];
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW)
            ca_reply_error(reply, CA_INVALID, "the set grew past %d items while read",
                           CA_SYNC_ITEMS_MAX);
        else
            s_read_failed(reply, stmt, rc, channel ? "the channel's messages" : "content hashes");
        ca_neg_set_destroy(&set);
    } else if (ca_neg_set_seal(set, err)) {
        ca_reply_error(reply, CA_INTERNAL, "cannot build the sync snapshot: %s", err);
        ca_neg_set_destroy(&set);
    }
    sqlite3_reset(stmt);
    return set;
}

//  The snapshot of `set` on this worker, rebuilt when stale; NULL after
//  answering.
//  The slot of `set`: its own, else an empty one, else the least recently
//  used; others are emptied, least recently used first, while the kept
//  items and the `count` coming would pass CA_SYNC_ITEMS_MAX.
static snapshot_t *s_slot(sync_state_t *state, const char *set, int64_t count) {
    snapshot_t *slot = NULL;
    for (size_t i = 0; i < CA_SYNC_SNAPSHOTS && !slot; i++)
        if (state->slots[i].items && strcmp(state->slots[i].set, set) == 0)
            slot = &state->slots[i];
    for (size_t i = 0; i < CA_SYNC_SNAPSHOTS && !slot; i++)
        if (!state->slots[i].items)
            slot = &state->slots[i];
    if (!slot) {
        slot = &state->slots[0];
        for (size_t i = 1; i < CA_SYNC_SNAPSHOTS; i++)
            if (state->slots[i].used_ms < slot->used_ms)
                slot = &state->slots[i];
    }
    for (int round = 0; round < CA_SYNC_SNAPSHOTS; round++) {
        int64_t kept = count;
        snapshot_t *oldest = NULL;
        for (size_t i = 0; i < CA_SYNC_SNAPSHOTS; i++) {
            snapshot_t *other = &state->slots[i];
            if (other == slot || !other->items)
                continue;
            kept += (int64_t)ca_neg_set_size(other->items);
            if (!oldest || other->used_ms < oldest->used_ms)
                oldest = other;
        }
        if (kept <= CA_SYNC_ITEMS_MAX || !oldest)
            break;
        ca_neg_set_destroy(&oldest->items);
        oldest->set[0] = '\0';
    }
    return slot;
}

static ca_neg_set_t *s_snapshot(ca_store_t *store, const char *set, ca_reply_t *reply) {
    sync_state_t *state = (sync_state_t *)ca_store_state(store);
    const char *channel = NULL;
    if (strncmp(set, CA_SYNC_SET_CHANNEL, strlen(CA_SYNC_SET_CHANNEL)) == 0) {
        channel = set + strlen(CA_SYNC_SET_CHANNEL);
        const char *problem = ca_validate_channel_name(channel);
        if (problem) {
            ca_reply_error(reply, CA_INVALID, "set \"%s\": %s", set, problem);
            return NULL;
        }
    } else if (strcmp(set, CA_SYNC_SET_CONTENT) != 0) {
        ca_reply_error(reply, CA_INVALID,
                       "unknown set \"%.64s\": use \"channel:<name>\" or \"content\"", set);
        return NULL;
    }
    if (strlen(set) > CA_SYNC_SET_NAME_MAX) {
        ca_reply_error(reply, CA_INVALID, "set name longer than %d bytes", CA_SYNC_SET_NAME_MAX);
        return NULL;
    }
    int64_t count = 0, newest = 0;
    if (s_version(store, channel, &count, &newest, reply))
        return NULL;
    int64_t now = zclock_mono();
    snapshot_t *slot = s_slot(state, set, count);
    if (slot->items && slot->count == count && slot->newest == newest &&
        now - slot->built_ms < CA_SYNC_SNAPSHOT_MS) {
        slot->used_ms = now;
        return slot->items;
    }
    ca_neg_set_destroy(&slot->items);
    slot->set[0] = '\0';
    slot->items = s_load(store, channel, reply);
    if (!slot->items)
        return NULL;
    snprintf(slot->set, sizeof slot->set, "%s", set);
    slot->count = count;
    slot->newest = newest;
    slot->built_ms = slot->used_ms = now;
    return slot->items;
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
    ca_neg_set_t *set = s_snapshot(store, ask->set, reply);
    if (!set)
        return;
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

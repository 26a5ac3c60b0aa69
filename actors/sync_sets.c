/*  =========================================================================
    sync_sets - reconciliation sets read from the stores' tables

    Why a cache: the protocol needs the set sorted by (timestamp, id) and
    the sums of any range; reading and sorting a million rows costs far
    more than a round, so a reader keeps the sealed sets of the last sets
    it answered (SYNC_SETS_SLOTS, least recently used evicted first, their
    items together at most SYNC_SETS_ITEMS_MAX, so their memory at most
    SYNC_SETS_ITEMS_MAX x 72 bytes: a peer or client that alternates
    between a few sets does not make a reader rebuild on every round) and
    reuses each while the set looks unchanged: the same count and newest
    row (one indexed query) and no older than SYNC_SETS_SNAPSHOT_MS (which
    bounds how long a change that keeps both, a delete plus an insert of
    an older row, goes unseen). A round on a kept set is
    O(ranges x log n): fingerprints come from its prefix sums.

    One cache per thread (a sync worker, the peer actor): nothing here is
    shared between threads. Statements are prepared by the caller's
    connection (sync_sets_prepare_fn), so the same SQL serves both.
    ========================================================================= */

#include "sync_sets.h"
#include "ca_hash.h"
#include "ca_names.h"
#include "ca_validate.h" //  ca_hash_from_hex

#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define SYNC_SETS_SNAPSHOT_MS 5000
#define SYNC_SETS_SLOTS       4

typedef struct {
    char set[SYNC_SETS_NAME_MAX + 1]; //  "" when empty
    int64_t count;
    int64_t newest;
    int64_t built_ms;
    int64_t used_ms;
    ca_neg_set_t *items;
} slot_t;

struct _sync_sets_t {
    slot_t slots[SYNC_SETS_SLOTS];
};

void sync_sets_message_item(const char *id, uint8_t item[CA_NEG_ID_BYTES]) {
    ca_sha256((const uint8_t *)id, strlen(id), item);
}

bool sync_sets_parse(const char *set, const char **channel, char err[SYNC_SETS_ERR_BYTES]) {
    *channel = NULL;
    if (strlen(set) > SYNC_SETS_NAME_MAX) {
        snprintf(err, SYNC_SETS_ERR_BYTES, "set name longer than %d bytes", SYNC_SETS_NAME_MAX);
        return false;
    }
    if (strncmp(set, SYNC_SETS_CHANNEL, strlen(SYNC_SETS_CHANNEL)) == 0) {
        *channel = set + strlen(SYNC_SETS_CHANNEL);
        const char *problem = ca_validate_channel_name(*channel);
        if (problem) {
            snprintf(err, SYNC_SETS_ERR_BYTES, "set \"%.64s\": %s", set, problem);
            return false;
        }
        return true;
    }
    if (strcmp(set, SYNC_SETS_CONTENT) == 0)
        return true;
    uint8_t topic[32];
    if (strncmp(set, SYNC_SETS_TOPIC, strlen(SYNC_SETS_TOPIC)) == 0) {
        const char *hex = set + strlen(SYNC_SETS_TOPIC);
        if (strlen(hex) == 64 && ca_hash_from_hex(hex, topic))
            return true;
        snprintf(err, SYNC_SETS_ERR_BYTES, "set \"%.80s\": a topic is 64 hex digits", set);
        return false;
    }
    snprintf(err, SYNC_SETS_ERR_BYTES,
             "unknown set \"%.64s\": use \"channel:<name>\", \"content\" or \"topic:<64 hex>\"",
             set);
    return false;
}

//  What a (parsed, valid) set name reads.
typedef struct {
    const char *channel; //  a channel's messages
    bool topic;          //  else a topic's operations (topic_id), else the content store
    uint8_t topic_id[32];
} ref_t;

static ref_t s_ref(const char *set, const char *channel) {
    ref_t ref = {channel, false, {0}};
    if (!channel && strncmp(set, SYNC_SETS_TOPIC, strlen(SYNC_SETS_TOPIC)) == 0)
        ref.topic = ca_hash_from_hex(set + strlen(SYNC_SETS_TOPIC), ref.topic_id);
    return ref;
}

//  A topic's operations: those of the logs its logbook rows name.
#define TOPIC_OPS                                                                                  \
    " FROM oplog_ops o JOIN logbook_topics t ON t.author = o.author AND t.log_id = o.log_id"       \
    " WHERE t.topic = ?1"

static void s_read_failed(sqlite3_stmt *stmt, int rc, const char *what, ca_status_t *status,
                          char err[SYNC_SETS_ERR_BYTES]) {
    *status = ca_status_from_sqlite(rc);
    snprintf(err, SYNC_SETS_ERR_BYTES, "cannot read %s: %s; retry", what,
             sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

static sqlite3_stmt *s_prepare(sync_sets_prepare_fn *prepare, void *ctx, const char *sql,
                               ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]) {
    sqlite3_stmt *stmt = prepare(ctx, sql);
    if (!stmt) {
        *status = CA_INTERNAL;
        snprintf(err, SYNC_SETS_ERR_BYTES,
                 "cannot prepare the set's query (see the node's log); retry");
    }
    return stmt;
}

//  The set's count and newest row, to tell whether a cached set still holds.
static int s_version(const ref_t *ref, sync_sets_prepare_fn *prepare, void *ctx, int64_t *count,
                     int64_t *newest, ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]) {
    const char *channel = ref->channel;
    sqlite3_stmt *stmt =
        s_prepare(prepare, ctx,
                  channel      ? "SELECT count(*), coalesce(max(seq), 0),"
                                 " EXISTS (SELECT 1 FROM channels WHERE name = ?1)"
                                 " FROM messages WHERE channel = ?1"
                  : ref->topic ? "SELECT count(*), coalesce(max(o.id), 0), 1" TOPIC_OPS
                               : "SELECT blobs, bytes, 1 FROM content_totals",
                  status, err);
    if (!stmt)
        return -1;
    if (channel)
        sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    else if (ref->topic)
        sqlite3_bind_blob(stmt, 1, ref->topic_id, 32, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int result = -1;
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(stmt, 0);
        *newest = sqlite3_column_int64(stmt, 1);
        if (!sqlite3_column_int(stmt, 2)) {
            *status = CA_NOT_FOUND;
            snprintf(err, SYNC_SETS_ERR_BYTES,
                     "channel %.200s does not exist: list channels with `cairn channels list`",
                     channel);
        } else if (*count > SYNC_SETS_ITEMS_MAX) {
            *status = CA_INVALID;
            snprintf(err, SYNC_SETS_ERR_BYTES,
                     "the set has %" PRId64 " items, more than the %d a sync snapshot holds",
                     *count, SYNC_SETS_ITEMS_MAX);
        } else
            result = 0;
    } else
        s_read_failed(stmt, rc, "the set's size", status, err);
    sqlite3_reset(stmt);
    return result;
}

//  Reads the whole set into a sealed negentropy set.
static ca_neg_set_t *s_read(const ref_t *ref, sync_sets_prepare_fn *prepare, void *ctx,
                            ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]) {
    const char *channel = ref->channel;
    sqlite3_stmt *stmt = s_prepare(prepare, ctx,
                                   channel ? "SELECT timestamp, id FROM messages WHERE channel = ?"
                                   : ref->topic ? "SELECT o.hash" TOPIC_OPS
                                                : "SELECT hash FROM content_blobs",
                                   status, err);
    if (!stmt)
        return NULL;
    if (channel)
        sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_STATIC);
    else if (ref->topic)
        sqlite3_bind_blob(stmt, 1, ref->topic_id, 32, SQLITE_STATIC);
    ca_neg_set_t *set = ca_neg_set_new();
    int rc = SQLITE_NOMEM;
    size_t rows = 0;
    while (set && rows++ <= SYNC_SETS_ITEMS_MAX && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
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
    char neg_err[CA_NEG_ERR_BYTES];
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW) {
            *status = CA_INVALID;
            snprintf(err, SYNC_SETS_ERR_BYTES, "the set grew past %d items while read",
                     SYNC_SETS_ITEMS_MAX);
        } else
            s_read_failed(stmt, rc,
                          channel      ? "the channel's messages"
                          : ref->topic ? "the topic's operations"
                                       : "content hashes",
                          status, err);
        ca_neg_set_destroy(&set);
    } else if (ca_neg_set_seal(set, neg_err)) {
        *status = CA_INTERNAL;
        snprintf(err, SYNC_SETS_ERR_BYTES, "cannot build the sync snapshot: %s", neg_err);
        ca_neg_set_destroy(&set);
    }
    sqlite3_reset(stmt);
    return set;
}

ca_neg_set_t *sync_sets_load(const char *set, sync_sets_prepare_fn *prepare, void *ctx,
                             ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]) {
    const char *channel = NULL;
    int64_t count = 0, newest = 0;
    if (!sync_sets_parse(set, &channel, err)) {
        *status = CA_INVALID;
        return NULL;
    }
    ref_t ref = s_ref(set, channel);
    if (s_version(&ref, prepare, ctx, &count, &newest, status, err))
        return NULL;
    return s_read(&ref, prepare, ctx, status, err);
}

sync_sets_t *sync_sets_new(void) {
    return (sync_sets_t *)calloc(1, sizeof(sync_sets_t));
}

void sync_sets_destroy(sync_sets_t **self_p) {
    sync_sets_t *self = *self_p;
    for (size_t i = 0; self && i < SYNC_SETS_SLOTS; i++)
        ca_neg_set_destroy(&self->slots[i].items);
    free(self);
    *self_p = NULL;
}

//  The slot of `set`: its own, else an empty one, else the least recently
//  used; others are emptied, least recently used first, while the kept
//  items and the `count` coming would pass SYNC_SETS_ITEMS_MAX.
static slot_t *s_slot(sync_sets_t *self, const char *set, int64_t count) {
    slot_t *slot = NULL;
    for (size_t i = 0; i < SYNC_SETS_SLOTS && !slot; i++)
        if (self->slots[i].items && strcmp(self->slots[i].set, set) == 0)
            slot = &self->slots[i];
    for (size_t i = 0; i < SYNC_SETS_SLOTS && !slot; i++)
        if (!self->slots[i].items)
            slot = &self->slots[i];
    if (!slot) {
        slot = &self->slots[0];
        for (size_t i = 1; i < SYNC_SETS_SLOTS; i++)
            if (self->slots[i].used_ms < slot->used_ms)
                slot = &self->slots[i];
    }
    for (int round = 0; round < SYNC_SETS_SLOTS; round++) {
        int64_t kept = count;
        slot_t *oldest = NULL;
        for (size_t i = 0; i < SYNC_SETS_SLOTS; i++) {
            slot_t *other = &self->slots[i];
            if (other == slot || !other->items)
                continue;
            kept += (int64_t)ca_neg_set_size(other->items);
            if (!oldest || other->used_ms < oldest->used_ms)
                oldest = other;
        }
        if (kept <= SYNC_SETS_ITEMS_MAX || !oldest)
            break;
        ca_neg_set_destroy(&oldest->items);
        oldest->set[0] = '\0';
    }
    return slot;
}

const ca_neg_set_t *sync_sets_get(sync_sets_t *self, const char *set, sync_sets_prepare_fn *prepare,
                                  void *ctx, ca_status_t *status, char err[SYNC_SETS_ERR_BYTES]) {
    const char *channel = NULL;
    if (!sync_sets_parse(set, &channel, err)) {
        *status = CA_INVALID;
        return NULL;
    }
    int64_t count = 0, newest = 0;
    ref_t ref = s_ref(set, channel);
    if (s_version(&ref, prepare, ctx, &count, &newest, status, err))
        return NULL;
    int64_t now = zclock_mono();
    slot_t *slot = s_slot(self, set, count);
    if (slot->items && strcmp(slot->set, set) == 0 && slot->count == count &&
        slot->newest == newest && now - slot->built_ms < SYNC_SETS_SNAPSHOT_MS) {
        slot->used_ms = now;
        return slot->items;
    }
    ca_neg_set_destroy(&slot->items);
    slot->set[0] = '\0';
    slot->items = s_read(&ref, prepare, ctx, status, err);
    if (!slot->items)
        return NULL;
    snprintf(slot->set, sizeof slot->set, "%s", set);
    slot->count = count;
    slot->newest = newest;
    slot->built_ms = slot->used_ms = now;
    return slot->items;
}

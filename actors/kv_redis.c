/*  =========================================================================
    kv_redis - the kv store's Redis backend (Debian's hiredis)

    A namespace is the keys <prefix><key> of database `db` on a Redis
    server. Each worker keeps its own connections (one per server, db and
    password, at most KV_REDIS_CONNECTIONS), made lazily on the first
    request that needs one, with a KV_REDIS_CONNECT_MS connect timeout and
    a KV_REDIS_COMMAND_MS command timeout. When a command fails on the
    connection (refused, reset, timed out) the connection is dropped and the
    request answered UNAVAILABLE with the reason; the next request
    reconnects. So a Redis that went away costs its own namespaces an error
    each and the other namespaces nothing (they never wait on it unless
    routed to the same worker, and then at most a timeout), and serving
    resumes by itself when it is back.

    The password travels in AUTH on each new connection; it is kept in the
    namespace's row and in this worker's connection table, never logged
    and never answered.

    Consistency: Redis has no snapshot a client can read across SCAN, so a
    clone or a list sees every write made through cairnd before it began
    and none made during it (all requests of a namespace run on one worker,
    one at a time), but not a point in time against other clients of the
    same Redis writing under the prefix. Clear and drop are SCAN + UNLINK
    in batches, not atomic against such clients either.
    ========================================================================= */

#include "kv_backend.h"
#include "ca_log.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_REDIS_CONNECTIONS 8
#define KV_REDIS_SCAN_COUNT  1000 //  SCAN's COUNT hint and a batch of GETs/UNLINKs

typedef struct {
    redisContext *context;
    char host[KV_HOST_MAX + 1];
    uint32_t port;
    uint32_t db;
    char password[KV_PASSWORD_MAX + 1];
} connection_t;

typedef struct {
    connection_t connections[KV_REDIS_CONNECTIONS];
    size_t next; //  the slot a new server takes when all are used
} state_t;

void *kv_redis_state_new(void) {
    return calloc(1, sizeof(state_t));
}

static void s_close(connection_t *connection) {
    if (connection->context)
        redisFree(connection->context);
    connection->context = NULL;
}

void kv_redis_state_destroy(void **state_p) {
    state_t *self = *state_p;
    if (!self)
        return;
    for (size_t i = 0; i < KV_REDIS_CONNECTIONS; i++) {
        s_close(&self->connections[i]);
        explicit_bzero(self->connections[i].password, sizeof self->connections[i].password);
    }
    free(self);
    *state_p = NULL;
}

static uint32_t s_port(const kv_ns_t *ns) {
    return ns->port ? ns->port : KV_REDIS_PORT;
}

static ca_status_t s_unavailable(const kv_ns_t *ns, kv_err_t *err, const char *reason) {
    return kv_fail(err, CA_UNAVAILABLE,
                   "the Redis server of namespace %s (%s:%u db %u) is unavailable: %s; start it "
                   "or retry later (cairnd reconnects by itself)",
                   ns->name, ns->host, s_port(ns), ns->db, reason);
}

//  A connected context for the namespace's server, or NULL (err set).
static redisContext *s_connect(state_t *self, const kv_ns_t *ns, kv_err_t *err) {
    connection_t *slot = NULL;
    for (size_t i = 0; i < KV_REDIS_CONNECTIONS && !slot; i++) {
        connection_t *c = &self->connections[i];
        if (c->port == s_port(ns) && c->db == ns->db && !strcmp(c->host, ns->host) &&
            !strcmp(c->password, ns->password))
            slot = c;
    }
    if (slot && slot->context)
        return slot->context;
    if (!slot) {
        for (size_t i = 0; i < KV_REDIS_CONNECTIONS && !slot; i++)
            if (!self->connections[i].host[0])
                slot = &self->connections[i];
        if (!slot) {
            slot = &self->connections[self->next];
            self->next = (self->next + 1) % KV_REDIS_CONNECTIONS;
            s_close(slot);
        }
        snprintf(slot->host, sizeof slot->host, "%s", ns->host);
        slot->port = s_port(ns);
        slot->db = ns->db;
        snprintf(slot->password, sizeof slot->password, "%s", ns->password);
    }
    struct timeval connect = {0, KV_REDIS_CONNECT_MS * 1000};
    redisContext *context = redisConnectWithTimeout(ns->host, (int)s_port(ns), connect);
    if (!context) {
        s_unavailable(ns, err, "out of memory");
        return NULL;
    }
    if (context->err) {
        s_unavailable(ns, err, context->errstr);
        redisFree(context);
        return NULL;
    }
    struct timeval command = {KV_REDIS_COMMAND_MS / 1000, (KV_REDIS_COMMAND_MS % 1000) * 1000};
    redisSetTimeout(context, command);
    redisReply *reply = NULL;
    if (ns->password[0]) {
        reply = redisCommand(context, "AUTH %s", ns->password);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            s_unavailable(ns, err,
                          reply ? "the server refused the password (AUTH); fix the namespace's "
                                  "password: drop and create it again"
                                : context->errstr);
            if (reply)
                err->status = CA_UNAUTHORIZED;
            freeReplyObject(reply);
            redisFree(context);
            return NULL;
        }
        freeReplyObject(reply);
    }
    reply = redisCommand(context, "SELECT %u", ns->db);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        char reason[256];
        snprintf(reason, sizeof reason, "SELECT %u failed: %s", ns->db,
                 reply ? reply->str : context->errstr);
        s_unavailable(ns, err, reason);
        freeReplyObject(reply);
        redisFree(context);
        return NULL;
    }
    freeReplyObject(reply);
    slot->context = context;
    return context;
}

//  After a command failed on `context`: drops it and fills err.
static ca_status_t s_broken(state_t *self, const kv_ns_t *ns, redisContext *context,
                            redisReply *reply, kv_err_t *err) {
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        kv_fail(err, CA_INTERNAL, "Redis answered an error for namespace %s: %s", ns->name,
                reply->str);
        freeReplyObject(reply);
        return err->status;
    }
    freeReplyObject(reply);
    s_unavailable(ns, err, context->err ? context->errstr : "no answer");
    for (size_t i = 0; i < KV_REDIS_CONNECTIONS; i++)
        if (self->connections[i].context == context)
            s_close(&self->connections[i]);
    return err->status;
}

//  <prefix><key> into `out` (KV_PREFIX_MAX + KV_KEY_MAX + 1 bytes).
#define FULL_MAX (KV_PREFIX_MAX + KV_KEY_MAX + 1)
static size_t s_full(const kv_ns_t *ns, const char *key, char *out) {
    return (size_t)snprintf(out, FULL_MAX, "%s%s", ns->prefix, key);
}

//  A SCAN MATCH pattern for keys starting with `text` (glob characters escaped).
static void s_pattern(const char *text, char *out, size_t size) {
    size_t n = 0;
    for (const char *c = text; *c && n + 3 < size; c++) {
        if (strchr("*?[]\\", *c))
            out[n++] = '\\';
        out[n++] = *c;
    }
    out[n++] = '*';
    out[n] = 0;
}

static ca_status_t s_create(void *state, const kv_ns_t *ns, kv_err_t *err) {
    redisContext *context = s_connect(state, ns, err);
    if (!context)
        return err->status;
    redisReply *reply = redisCommand(context, "PING");
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        return s_broken(state, ns, context, reply, err);
    freeReplyObject(reply);
    return CA_OK;
}

static ca_status_t s_put(void *state, const kv_ns_t *ns, const char *key, const void *value,
                         size_t size, bool *created, kv_err_t *err) {
    redisContext *context = s_connect(state, ns, err);
    if (!context)
        return err->status;
    char full[FULL_MAX];
    size_t length = s_full(ns, key, full);
    //  EXISTS then SET, pipelined: one round trip.
    redisAppendCommand(context, "EXISTS %b", full, length);
    redisAppendCommand(context, "SET %b %b", full, length, value, size);
    redisReply *exists = NULL, *set = NULL;
    if (redisGetReply(context, (void **)&exists) != REDIS_OK)
        return s_broken(state, ns, context, exists, err);
    if (redisGetReply(context, (void **)&set) != REDIS_OK || set->type == REDIS_REPLY_ERROR) {
        freeReplyObject(exists);
        return s_broken(state, ns, context, set, err);
    }
    if (created)
        *created = !(exists->type == REDIS_REPLY_INTEGER && exists->integer > 0);
    freeReplyObject(exists);
    freeReplyObject(set);
    return CA_OK;
}

static ca_status_t s_get(void *state, const kv_ns_t *ns, const char *key, uint8_t **value_p,
                         size_t *size, kv_err_t *err) {
    redisContext *context = s_connect(state, ns, err);
    if (!context)
        return err->status;
    char full[FULL_MAX];
    size_t length = s_full(ns, key, full);
    redisReply *reply = redisCommand(context, "GET %b", full, length);
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        return s_broken(state, ns, context, reply, err);
    ca_status_t status = CA_OK;
    if (reply->type == REDIS_REPLY_NIL)
        status = kv_fail(err, CA_NOT_FOUND, "no value is stored under '%s'", key);
    else if (reply->type != REDIS_REPLY_STRING)
        status =
            kv_fail(err, CA_CONFLICT, "'%s%s' in Redis is not a string value", ns->prefix, key);
    else if (!(*value_p = malloc(reply->len ? reply->len : 1)))
        status = kv_fail(err, CA_INTERNAL, "out of memory reading '%s'; retry", key);
    else {
        memcpy(*value_p, reply->str, reply->len);
        *size = reply->len;
    }
    freeReplyObject(reply);
    return status;
}

static ca_status_t s_integer(state_t *self, const kv_ns_t *ns, const char *command, const char *key,
                             long long *value, kv_err_t *err) {
    redisContext *context = s_connect(self, ns, err);
    if (!context)
        return err->status;
    char full[FULL_MAX];
    size_t length = s_full(ns, key, full);
    redisReply *reply = redisCommand(context, command, full, length);
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        return s_broken(self, ns, context, reply, err);
    *value = reply->integer;
    freeReplyObject(reply);
    return CA_OK;
}

static ca_status_t s_del(void *state, const kv_ns_t *ns, const char *key, bool *deleted,
                         kv_err_t *err) {
    long long count = 0;
    if (s_integer(state, ns, "DEL %b", key, &count, err) != CA_OK)
        return err->status;
    *deleted = count > 0;
    return CA_OK;
}

static ca_status_t s_exists(void *state, const kv_ns_t *ns, const char *key, bool *exists,
                            kv_err_t *err) {
    long long count = 0;
    if (s_integer(state, ns, "EXISTS %b", key, &count, err) != CA_OK)
        return err->status;
    *exists = count > 0;
    return CA_OK;
}

//  Walks every key <prefix><text>*; `each` gets a batch of full keys.
typedef ca_status_t(batch_fn)(state_t *self, const kv_ns_t *ns, redisContext *context,
                              redisReply *keys, void *arg, kv_err_t *err);

static ca_status_t s_scan(state_t *self, const kv_ns_t *ns, const char *text, batch_fn *each,
                          void *arg, kv_err_t *err) {
    redisContext *context = s_connect(self, ns, err);
    if (!context)
        return err->status;
    char full[FULL_MAX], pattern[2 * FULL_MAX + 2];
    s_full(ns, text, full);
    s_pattern(full, pattern, sizeof pattern);
    char cursor[32] = "0";
    size_t seen = 0;
    do {
        redisReply *reply = redisCommand(context, "SCAN %s MATCH %s COUNT %d", cursor, pattern,
                                         KV_REDIS_SCAN_COUNT);
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY)
            return s_broken(self, ns, context, reply, err);
        snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
        seen += reply->element[1]->elements;
        ca_status_t status = CA_OK;
        if (seen > KV_SCAN_MAX_KEYS)
            status =
                kv_fail(err, CA_INVALID, "the namespace holds over %d keys; use a longer prefix",
                        KV_SCAN_MAX_KEYS);
        else if (reply->element[1]->elements)
            status = each(self, ns, context, reply->element[1], arg, err);
        freeReplyObject(reply);
        if (status != CA_OK)
            return status;
    } while (strcmp(cursor, "0") != 0);
    return CA_OK;
}

static ca_status_t s_keys_batch(state_t *self, const kv_ns_t *ns, redisContext *context,
                                redisReply *keys, void *arg, kv_err_t *err) {
    (void)self;
    (void)context;
    size_t skip = strlen(ns->prefix);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *key = keys->element[i];
        if (key->type == REDIS_REPLY_STRING && key->len > skip &&
            !kv_keys_add(arg, key->str + skip, key->len - skip))
            return kv_fail(err, CA_INTERNAL, "out of memory listing keys; retry");
    }
    return CA_OK;
}

static ca_status_t s_keys(void *state, const kv_ns_t *ns, const char *prefix, kv_keys_t *keys,
                          kv_err_t *err) {
    ca_status_t status = s_scan(state, ns, prefix, s_keys_batch, keys, err);
    if (status != CA_OK)
        return status;
    //  SCAN may return a key twice; the caller pages over a sorted list.
    kv_keys_sort(keys);
    size_t out = 0;
    for (size_t i = 0; i < keys->count; i++) {
        if (out && !strcmp(keys->keys[out - 1], keys->keys[i]))
            free(keys->keys[i]);
        else
            keys->keys[out++] = keys->keys[i];
    }
    keys->count = out;
    return CA_OK;
}

typedef struct {
    uint64_t keys;
    uint64_t bytes;
    kv_entries_t *entries;
} batch_t;

//  Sends one command per key of the batch, pipelined, and reads the answers.
static ca_status_t s_each_key(state_t *self, const kv_ns_t *ns, redisContext *context,
                              redisReply *keys, void *arg, kv_err_t *err, const char *command) {
    batch_t *batch = arg;
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(context, command, keys->element[i]->str, keys->element[i]->len);
    ca_status_t status = CA_OK;
    size_t skip = strlen(ns->prefix);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(context, (void **)&reply) != REDIS_OK || !reply)
            return s_broken(self, ns, context, reply, err);
        if (status == CA_OK && reply->type == REDIS_REPLY_INTEGER) {
            batch->keys += reply->integer > 0 || command[0] == 'S';
            batch->bytes += command[0] == 'S' ? (uint64_t)reply->integer : 0;
        } else if (status == CA_OK && reply->type == REDIS_REPLY_STRING && batch->entries) {
            batch->keys++;
            batch->bytes += reply->len;
            uint8_t *value = NULL;
            if (batch->bytes > KV_CLONE_MAX_BYTES)
                status = kv_fail(err, CA_INVALID,
                                 "the namespace holds over %d bytes, more than a clone copies",
                                 KV_CLONE_MAX_BYTES);
            else if (!(value = malloc(reply->len ? reply->len : 1)))
                status = kv_fail(err, CA_INTERNAL, "out of memory cloning; retry");
            else {
                memcpy(value, reply->str, reply->len);
                if (!kv_entries_add(batch->entries, keys->element[i]->str + skip, value,
                                    reply->len))
                    status = kv_fail(err, CA_INTERNAL, "out of memory cloning; retry");
            }
        }
        freeReplyObject(reply);
    }
    return status;
}

static ca_status_t s_unlink_batch(state_t *self, const kv_ns_t *ns, redisContext *context,
                                  redisReply *keys, void *arg, kv_err_t *err) {
    return s_each_key(self, ns, context, keys, arg, err, "UNLINK %b");
}

static ca_status_t s_strlen_batch(state_t *self, const kv_ns_t *ns, redisContext *context,
                                  redisReply *keys, void *arg, kv_err_t *err) {
    return s_each_key(self, ns, context, keys, arg, err, "STRLEN %b");
}

static ca_status_t s_get_batch(state_t *self, const kv_ns_t *ns, redisContext *context,
                               redisReply *keys, void *arg, kv_err_t *err) {
    return s_each_key(self, ns, context, keys, arg, err, "GET %b");
}

static ca_status_t s_clear(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err) {
    batch_t batch = {0};
    ca_status_t status = s_scan(state, ns, "", s_unlink_batch, &batch, err);
    *count = batch.keys;
    return status;
}

static ca_status_t s_stats(void *state, const kv_ns_t *ns, uint64_t *keys, uint64_t *bytes,
                           kv_err_t *err) {
    batch_t batch = {0};
    ca_status_t status = s_scan(state, ns, "", s_strlen_batch, &batch, err);
    *keys = batch.keys;
    *bytes = batch.bytes;
    return status;
}

static ca_status_t s_dump(void *state, const kv_ns_t *ns, kv_entries_t *entries, kv_err_t *err) {
    batch_t batch = {.entries = entries};
    return s_scan(state, ns, "", s_get_batch, &batch, err);
}

static ca_status_t s_drop(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err) {
    return s_clear(state, ns, count, err);
}

//  A clone's target: refused when keys are already under the prefix, then
//  every SET pipelined.
static ca_status_t s_load(void *state, const kv_ns_t *ns, const kv_entries_t *entries,
                          kv_err_t *err) {
    uint64_t keys = 0, bytes = 0;
    if (s_stats(state, ns, &keys, &bytes, err) != CA_OK)
        return err->status;
    if (keys)
        return kv_fail(err, CA_CONFLICT,
                       "%" PRIu64 " keys already start with prefix '%s' in Redis db %u; clone "
                       "into an empty prefix",
                       keys, ns->prefix, ns->db);
    redisContext *context = s_connect(state, ns, err);
    if (!context)
        return err->status;
    for (size_t at = 0; at < entries->count; at += KV_REDIS_SCAN_COUNT) {
        size_t end =
            at + KV_REDIS_SCAN_COUNT < entries->count ? at + KV_REDIS_SCAN_COUNT : entries->count;
        for (size_t i = at; i < end; i++) {
            char full[FULL_MAX];
            size_t length = s_full(ns, entries->items[i].key, full);
            redisAppendCommand(context, "SET %b %b", full, length, entries->items[i].value,
                               entries->items[i].size);
        }
        for (size_t i = at; i < end; i++) {
            redisReply *reply = NULL;
            if (redisGetReply(context, (void **)&reply) != REDIS_OK || !reply ||
                reply->type == REDIS_REPLY_ERROR)
                return s_broken(state, ns, context, reply, err);
            freeReplyObject(reply);
        }
    }
    return CA_OK;
}

const kv_backend_t kv_redis_backend = {
    .name = "redis",
    .create = s_create,
    .drop = s_drop,
    .put = s_put,
    .get = s_get,
    .del = s_del,
    .exists = s_exists,
    .keys = s_keys,
    .clear = s_clear,
    .stats = s_stats,
    .dump = s_dump,
    .load = s_load,
};

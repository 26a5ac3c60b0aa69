/*  =========================================================================
    ca_blob_store - hash checks and blob publishing for blob-keeping stores
    ========================================================================= */

#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_validate.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

bool ca_blob_store_hash_ok(const ProtobufCBinaryData *hash, const char *field, ca_reply_t *reply) {
    const char *problem = ca_validate_hash(hash->data, hash->len);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s: %s (send the 32 raw bytes; the CLI takes 64 hex digits)", field,
                       problem);
    return problem == NULL;
}

bool ca_blob_store_optional_hash_ok(const ProtobufCBinaryData *hash, const char *field,
                                    ca_reply_t *reply) {
    return hash->len == 0 || ca_blob_store_hash_ok(hash, field, reply);
}

bool ca_blob_store_size_ok(ca_store_t *store, uint64_t total, const char *outcome,
                           ca_reply_t *reply) {
    int64_t max = ca_store_settings(store)->max_blob_bytes;
    if (max <= 0 || total <= (uint64_t)max)
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "the blob would be %" PRIu64 " bytes, over max_blob_bytes (%" PRId64
                   "); %s: store it in smaller pieces or raise max_blob_bytes",
                   total, max, outcome);
    return false;
}

bool ca_blob_store_disk_ok(ca_store_t *store, ca_blobs_t *blobs, uint64_t bytes,
                           ca_reply_t *reply) {
    const ca_store_settings_t *settings = ca_store_settings(store);
    struct statvfs disk;
    if (settings->min_free_bytes <= 0 || statvfs(ca_blobs_root(blobs), &disk) != 0)
        return true; //  no reserve kept, or unknown: the write itself will tell
    uint64_t free_bytes = (uint64_t)disk.f_bavail * disk.f_frsize;
    if (free_bytes >= bytes && free_bytes - bytes >= (uint64_t)settings->min_free_bytes)
        return true;
    ca_reply_error(reply, CA_UNAVAILABLE,
                   "the node is full: the disk holding the blobs has %" PRIu64
                   " bytes free and keeps min_free_bytes (%" PRId64
                   ") for deletes; delete content or free disk space, then retry",
                   free_bytes, settings->min_free_bytes);
    return false;
}

ca_upload_t *ca_blob_store_upload(ca_blobs_t *blobs, const void *data, size_t size,
                                  uint8_t hash[CA_SHA256_BYTES], ca_reply_t *reply) {
    char *error = NULL;
    ca_upload_t *upload = ca_upload_new(blobs, &error);
    if (upload && ca_upload_write(upload, data, size, &error) == 0 &&
        ca_upload_finish(upload, hash, &error) == 0)
        return upload;
    ca_reply_error(reply, CA_INTERNAL, "cannot store the blob: %s", error);
    zstr_free(&error);
    ca_upload_discard(&upload);
    return NULL;
}

//  False when memory ran out.
static bool s_set_context(ca_write_t *write, const uint8_t *hash, uint64_t size,
                          const char *temp_path) {
    Cairn__Internal__BlobContext context = CAIRN__INTERNAL__BLOB_CONTEXT__INIT;
    context.hash.data = (uint8_t *)hash;
    context.hash.len = CA_SHA256_BYTES;
    context.size = size;
    context.temp_path = (char *)temp_path;
    size_t packed_size = cairn__internal__blob_context__get_packed_size(&context);
    uint8_t *packed = (uint8_t *)malloc(packed_size);
    if (!packed)
        return false;
    cairn__internal__blob_context__pack(&context, packed);
    ca_write_context(write, packed, packed_size);
    free(packed);
    return true;
}

void ca_blob_store_publish(ca_store_t *store, ca_blobs_t *blobs, ca_upload_t **upload_p,
                           const uint8_t hash[CA_SHA256_BYTES], ca_write_t **write_p,
                           ca_blob_wanted_fn *wanted, ca_reply_t *reply) {
    uint64_t size = ca_upload_size(*upload_p);
    char *error = NULL;
    if (ca_blobs_link(blobs, *upload_p, hash, size, &error) != 0) {
        ca_reply_error(reply, CA_INTERNAL, "cannot store the blob: %s", error);
        zstr_free(&error);
        ca_upload_discard(upload_p);
        ca_write_destroy(write_p);
        return;
    }
    char *temp_path = strdup(ca_upload_path(*upload_p));
    if (!temp_path || !s_set_context(*write_p, hash, size, temp_path)) {
        ca_reply_error(reply, CA_INTERNAL, "the node ran out of memory storing the blob; retry");
        ca_upload_discard(upload_p);
        ca_write_destroy(write_p);
        ca_blobs_unlink_if_unwanted(blobs, hash, wanted, store);
        free(temp_path);
        return;
    }
    ca_upload_release(upload_p); //  the temp file now belongs to the write
    if (ca_store_write(store, write_p, reply) != 0) {
        ca_blobs_drop_temp(blobs, temp_path);
        ca_blobs_unlink_if_unwanted(blobs, hash, wanted, store);
    }
    free(temp_path);
}

Cairn__Internal__BlobContext *ca_blob_store_context(const Cairn__Internal__WriteReply *write) {
    Cairn__Internal__BlobContext *context =
        cairn__internal__blob_context__unpack(NULL, write->context.len, write->context.data);
    if (context && context->hash.len != CA_SHA256_BYTES) {
        cairn__internal__blob_context__free_unpacked(context, NULL);
        context = NULL;
    }
    return context;
}

Cairn__Internal__BlobContext *ca_blob_store_settle(ca_blobs_t *blobs,
                                                   const Cairn__Internal__WriteReply *write,
                                                   ca_reply_t *reply) {
    Cairn__Internal__BlobContext *context = ca_blob_store_context(write);
    if (!context) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the blob's context; retry");
        return NULL;
    }
    char *error = NULL;
    if (*context->temp_path &&
        ca_blobs_settle(blobs, context->temp_path, context->hash.data, &error) != 0) {
        ca_log_error("blobs: %s", error);
        ca_reply_error(reply, CA_INTERNAL,
                       "the blob's row committed but its file could not be put in place (%s); "
                       "its bytes are kept in %s until the node restarts; put the blob again",
                       error, context->temp_path);
        zstr_free(&error);
        cairn__internal__blob_context__free_unpacked(context, NULL);
        return NULL;
    }
    return context;
}

void ca_blob_store_undo(ca_store_t *store, ca_blobs_t *blobs,
                        const Cairn__Internal__WriteReply *write, ca_blob_wanted_fn *wanted) {
    Cairn__Internal__BlobContext *context = ca_blob_store_context(write);
    if (!context)
        return;
    if (*context->temp_path) {
        ca_blobs_drop_temp(blobs, context->temp_path);
        ca_blobs_unlink_if_unwanted(blobs, context->hash.data, wanted, store);
    }
    cairn__internal__blob_context__free_unpacked(context, NULL);
}

void ca_blob_store_unlink_rows(ca_store_t *store, ca_blobs_t *blobs,
                               const Cairn__Internal__WriteReply *write, size_t index,
                               ca_blob_wanted_fn *wanted, uint64_t *count, uint64_t *bytes) {
    if (index >= write->n_results)
        return;
    const Cairn__Internal__StatementResult *result = write->results[index];
    for (size_t i = 0; i < result->n_rows; i++) {
        const Cairn__Internal__Row *row = result->rows[i];
        if (row->n_values < 2 ||
            row->values[0]->kind_case != CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB ||
            row->values[0]->blob.len != CA_SHA256_BYTES)
            continue;
        ca_blobs_unlink_if_unwanted(blobs, row->values[0]->blob.data, wanted, store);
        (*count)++;
        *bytes += (uint64_t)row->values[1]->integer;
    }
}

//  ---- the orphan sweep at start --------------------------------------------------

typedef struct {
    sqlite3_stmt *lookup;
    size_t examined, swept, failed;
    int64_t deadline;
} sweep_t;

//  One blob file: removed when its hash has no row. False when a bound was
//  reached.
static bool s_sweep_file(void *context, const uint8_t hash[CA_SHA256_BYTES], const char *path) {
    sweep_t *sweep = (sweep_t *)context;
    sweep->examined++;
    sqlite3_reset(sweep->lookup);
    sqlite3_bind_blob(sweep->lookup, 1, hash, CA_SHA256_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(sweep->lookup);
    sqlite3_reset(sweep->lookup);
    if (rc == SQLITE_DONE) {
        if (unlink(path) == 0)
            sweep->swept++;
        else
            sweep->failed++;
    } else if (rc != SQLITE_ROW)
        sweep->failed++;
    return sweep->examined < CA_SWEEP_MAX_FILES && zclock_mono() < sweep->deadline;
}

char *ca_blob_store_sweep(const char *data_dir, const char *store, const char *table,
                          size_t *swept_p) {
    char *error = NULL;
    char *db_path = zsys_sprintf("%s/%s", data_dir, CA_DB_FILE);
    ca_sql_t *sql = ca_sql_open(db_path, CA_SQL_READ_ONLY, NULL, &error);
    zstr_free(&db_path);
    if (!sql)
        return error;
    char *select = zsys_sprintf("SELECT 1 FROM %s WHERE hash = ?1", table);
    sweep_t sweep = {.lookup = ca_sql_prepare(sql, select),
                     .deadline = zclock_mono() + CA_SWEEP_MAX_MS};
    zstr_free(&select);
    char *root = zsys_sprintf("%s/%s", data_dir, store);
    int64_t started = zclock_mono();
    int walked = sweep.lookup ? ca_blobs_walk(root, s_sweep_file, &sweep, NULL) : -1;
    bool complete = walked != 0;
    if (!sweep.lookup)
        error = zsys_sprintf("the %s orphan sweep cannot read its index: %s", store,
                             sqlite3_errmsg(ca_sql_handle(sql)));
    else if (walked < 0)
        error =
            zsys_sprintf("the %s orphan sweep cannot read %s: %s", store, root, strerror(errno));
    if (sweep.swept || sweep.failed)
        ca_log_notice("%s: removed %zu orphan blob file(s) (no index row: puts never "
                      "acknowledged, left by a crash) of %zu examined in %" PRId64 " ms%s",
                      store, sweep.swept, sweep.examined, zclock_mono() - started,
                      sweep.failed ? "; some could not be checked or removed" : "");
    if (!complete)
        ca_log_warning("%s: the orphan sweep stopped after %zu files or %d ms; the rest is "
                       "swept at the next start",
                       store, sweep.examined, CA_SWEEP_MAX_MS);
    if (swept_p)
        *swept_p = sweep.swept;
    zstr_free(&root);
    ca_sql_destroy(&sql);
    return error;
}

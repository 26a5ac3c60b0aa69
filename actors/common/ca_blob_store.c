/*  =========================================================================
    ca_blob_store - hash checks and blob publishing for blob-keeping stores
    ========================================================================= */

#include "ca_blob_store.h"
#include "ca_log.h"
#include "ca_validate.h"

#include <assert.h>
#include <string.h>
#include <time.h>

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

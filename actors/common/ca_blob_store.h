/*  =========================================================================
    ca_blob_store - what the stores that keep blob files share on top of
    ca_blobs: hash checks that answer the client, and publishing a blob
    (file first, then its index row, then settling) through the writer

    Used by the content store and the peer-content cache. The write that
    adds a blob's row carries a cairn.internal.BlobContext (hash, size,
    temp file) as its context; the store's `done` calls
    ca_blob_store_settle and its write_failed calls ca_blob_store_undo.
    ========================================================================= */

#ifndef CA_BLOB_STORE_H_INCLUDED
#define CA_BLOB_STORE_H_INCLUDED

#include "ca_blobs.h"
#include "ca_store.h"

//  A required hash field: 32 bytes, else the reply is INVALID naming it.
bool ca_blob_store_hash_ok(const ProtobufCBinaryData *hash, const char *field, ca_reply_t *reply);

//  An optional hash field: empty means absent.
bool ca_blob_store_optional_hash_ok(const ProtobufCBinaryData *hash, const char *field,
                                    ca_reply_t *reply);

//  A blob of `total` bytes is within the node's max_blob_bytes; else false
//  with the reply INVALID, its message ending with `outcome` (what became
//  of the request, e.g. "nothing was kept").
bool ca_blob_store_size_ok(ca_store_t *store, uint64_t total, const char *outcome,
                           ca_reply_t *reply);

//  Room on disk for `bytes` more blob bytes: false with the reply
//  UNAVAILABLE ("the node is full") when the disk holding the blobs would
//  keep less than min_free_bytes free (kept for deletes, as the writer
//  keeps it for cairn.db).
bool ca_blob_store_disk_ok(ca_store_t *store, ca_blobs_t *blobs, uint64_t bytes, ca_reply_t *reply);

//  Writes `data` to a finished upload; NULL with the reply INTERNAL.
ca_upload_t *ca_blob_store_upload(ca_blobs_t *blobs, const void *data, size_t size,
                                  uint8_t hash[CA_SHA256_BYTES], ca_reply_t *reply);

//  Links the finished upload into place and sends `write` (which adds the
//  row) with the blob's context. Takes both. On any failure the reply says
//  why and nothing stays behind (`wanted` decides whether the final file
//  may go: it may belong to a row written meanwhile).
void ca_blob_store_publish(ca_store_t *store, ca_blobs_t *blobs, ca_upload_t **upload_p,
                           const uint8_t hash[CA_SHA256_BYTES], ca_write_t **write_p,
                           ca_blob_wanted_fn *wanted, ca_reply_t *reply);

//  The blob context of a write's reply; NULL when absent or unreadable.
//  Free with cairn__internal__blob_context__free_unpacked.
Cairn__Internal__BlobContext *ca_blob_store_context(const Cairn__Internal__WriteReply *write);

//  After the row committed: settles the temp file. Returns the context
//  (caller frees) or NULL, with the reply INTERNAL, when it is missing or
//  the blob's file cannot be put in place (its temp file is then kept).
Cairn__Internal__BlobContext *ca_blob_store_settle(ca_blobs_t *blobs,
                                                   const Cairn__Internal__WriteReply *write,
                                                   ca_reply_t *reply);

//  The write failed: removes its temp file and, unless wanted, the file.
void ca_blob_store_undo(ca_store_t *store, ca_blobs_t *blobs,
                        const Cairn__Internal__WriteReply *write, ca_blob_wanted_fn *wanted);

//  Removes the files of blobs whose rows a write deleted and returned as
//  rows of (hash, size) in result `index`; adds up their count and bytes.
void ca_blob_store_unlink_rows(ca_store_t *store, ca_blobs_t *blobs,
                               const Cairn__Internal__WriteReply *write, size_t index,
                               ca_blob_wanted_fn *wanted, uint64_t *count, uint64_t *bytes);

//  The orphan sweep, run by a store's prepare (before any worker serves):
//  removes blob files under <data_dir>/<store>/<2 hex>/ whose hash has no
//  row in `table` (a `hash BLOB` key). Such a file is a put that crashed
//  between linking its file and committing its row: it was never
//  acknowledged. Examines at most CA_SWEEP_MAX_FILES files within
//  CA_SWEEP_MAX_MS and logs what it removed; *swept_p (may be NULL) gets
//  the count. Returns NULL or an error message (caller frees).
char *ca_blob_store_sweep(const char *data_dir, const char *store, const char *table,
                          size_t *swept_p);

#endif

/*  =========================================================================
    content_integrity - is every blob what its hash says? Verified ranged
    reads, ContentCheck (fsck) and its repair; a private class of content.c,
    one per content worker, called only on that worker's thread
    ========================================================================= */

#ifndef CONTENT_INTEGRITY_H_INCLUDED
#define CONTENT_INTEGRITY_H_INCLUDED

#include "ca_blobs.h"
#include "ca_store.h"

typedef struct _content_integrity_t content_integrity_t;

//  The checks of one content worker. Borrows `blobs`, which must outlive
//  it; `indexed` (called with the store) says whether the index has a row
//  for a hash, true also when it cannot tell (a file is kept then).
content_integrity_t *content_integrity_new(ca_blobs_t *blobs, ca_blob_wanted_fn *indexed);

//  Frees the object and its read checks; sets *self_p to NULL, safe twice.
void content_integrity_destroy(content_integrity_t **self_p);

//  Feeds a range of `size` bytes read at `offset` to its in-order check;
//  at the end of the blob compares and sets *verified. Returns false
//  (reply CORRUPT, the range must not be served) on a mismatch.
bool content_integrity_verify_range(content_integrity_t *self, const uint8_t *hash, uint64_t offset,
                                    const uint8_t *data, size_t size, bool end, bool *verified,
                                    ca_reply_t *reply);

//  Answers a read of an indexed blob that failed with `status` (NOT_FOUND:
//  its file is missing; CORRUPT; or an I/O error, told by `detail`).
void content_integrity_reply_damaged(ca_reply_t *reply, const uint8_t *hash, ca_status_t status,
                                     const char *detail);

//  ---- inline blobs (content_inline: the bytes of small blobs in SQLite) ----

//  Checks an inline blob (bytes kept in content_inline) against its
//  indexed `size` and, with `verify`, its hash: CA_OK; CA_NOT_FOUND (no
//  inline row); CA_CORRUPT or CA_INTERNAL with *error (caller frees; NULL:
//  not told).
ca_status_t content_inline_verify(ca_store_t *store, const uint8_t *hash, uint64_t size,
                                  bool verify, char **error);

//  ContentCheck: compares the index with the files and answers the report,
//  or with `repair` sends the repair write (answered by ..._checked).
void content_integrity_check(content_integrity_t *self, ca_store_t *store,
                             const Cairn__ContentCheck *ask, ca_reply_t *reply);

//  What a check's scan found: rows without their file, files without a
//  row, corrupt blobs, with what a repair needs (each row's stored_at as
//  the scan saw it).
typedef struct _content_check_t content_check_t;

//  ContentCheck's two steps, which content_integrity_check runs back to
//  back (a test puts between them to race the repair). The scan: both
//  passes; NULL with the error answered.
content_check_t *content_integrity_scan(content_integrity_t *self, ca_store_t *store, bool verify,
                                        ca_reply_t *reply);

//  The answer to a scan: with `repair` and something to repair, the
//  repair write (answered by ..._checked), else the report. Takes
//  ownership of *check_p and sets it to NULL.
void content_integrity_answer(content_integrity_t *self, ca_store_t *store,
                              content_check_t **check_p, bool repair, ca_reply_t *reply);

//  ContentCheck's `done`: answers the report the committed repair carried.
void content_integrity_checked(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply);

#endif

/*  =========================================================================
    ca_blobs - blob files addressed by SHA-256 under a store directory

    The content store and the peer-content cache keep their bytes as files:

        <data dir>/<store>/<first 2 hex digits>/<64 hex digits>   blobs
        <data dir>/<store>/tmp/                                    uploads
        <data dir>/<store>/quarantine/<64 hex digits>              corrupt
        <data dir>/<store>/.lock                                   see below

    A path is only ever made from 32 hash bytes printed as hex, never from
    client text, so no request can name a file outside the store.

    Writing a blob (crash-safe; nothing is visible until its row commits):

        1. upload: bytes go to a temp file in tmp/, hashed as they arrive
        2. finish: fsync the temp file
        3. link:   hard-link it to its final name, fsync that directory
                   (the temp name stays: it keeps the bytes alive)
        4. the store commits the index row through the writer
        5. settle: link again if the final name vanished, drop the temp name

    Deleting: the store commits the row's removal, then unlink_if_unwanted
    removes the file unless a row for it is back.

    Why the temp name is kept until the row commits: stores run on several
    workers, and a delete of a blob may race with a put of the same bytes
    on another worker. Steps 3 and 5 and the delete's check-and-unlink run
    under an exclusive flock on <store>/.lock (one open file description
    per worker, so the lock works between threads), and each checks the
    committed rows: whatever order the two writes commit in, the final
    state matches the last commit (a put that commits last finds its file
    gone at step 5 and links it again from the temp name). A crash between
    3 and 4 leaves a file without a row: at start (prepare) tmp/ is
    emptied and such files are swept (ca_blob_store_sweep), since none of
    those uploads was acknowledged; ContentCheck's repair indexes an intact
    one it meets between starts.
    ========================================================================= */

#ifndef CA_BLOBS_H_INCLUDED
#define CA_BLOBS_H_INCLUDED

#include "ca_hash.h"
#include "ca_status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ca_blobs_t ca_blobs_t;
typedef struct _ca_upload_t ca_upload_t;

//  fsync of directory `path`, so that a rename or unlink in it is durable;
//  -1 with errno set.
int ca_fsync_dir(const char *path);

//  Makes <data_dir>/<store>/, tmp/ and quarantine/, and empties tmp/.
//  Returns NULL or an error message (caller frees).
char *ca_blobs_prepare(const char *data_dir, const char *store);

//  A worker's handle on the store directory (its own lock descriptor).
//  NULL with *error set (caller frees) when the directory is unusable.
ca_blobs_t *ca_blobs_open(const char *data_dir, const char *store, char **error);
void ca_blobs_destroy(ca_blobs_t **self_p);

//  The store directory, e.g. "<data dir>/content".
const char *ca_blobs_root(ca_blobs_t *self);

//  Final path of a blob (caller frees).
char *ca_blobs_path(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES]);

//  Size of the blob file; false when there is none.
bool ca_blobs_file_size(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], uint64_t *size);

//  Reads the whole blob into `data` (`size` bytes, its indexed size) and,
//  with `verify`, checks its hash. Returns CA_OK; CA_NOT_FOUND when the
//  file is missing; CA_CORRUPT when it is shorter or longer than `size` or
//  does not hash to `hash`; CA_INTERNAL on an I/O error. *error (caller
//  frees) says what happened for anything but CA_OK.
ca_status_t ca_blobs_read_all(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], void *data,
                              uint64_t size, bool verify, char **error);

//  Reads up to `length` bytes at `offset`; *got says how many. Same
//  statuses as ca_blobs_read_all (no verification).
ca_status_t ca_blobs_read_range(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], void *data,
                                uint64_t offset, size_t length, size_t *got, char **error);

//  Hashes the blob file (for checks). CA_OK with *matches set, or an
//  error status with *error.
ca_status_t ca_blobs_verify_file(ca_blobs_t *self, const char *path,
                                 const uint8_t hash[CA_SHA256_BYTES], bool *matches, uint64_t *size,
                                 char **error);

//  ---- uploads ----------------------------------------------------------------

//  Opens a new temp file. NULL with *error on failure.
ca_upload_t *ca_upload_new(ca_blobs_t *blobs, char **error);

//  Appends and hashes bytes. -1 with *error on an I/O error (disk full).
int ca_upload_write(ca_upload_t *self, const void *data, size_t size, char **error);

//  Bytes written so far.
uint64_t ca_upload_size(ca_upload_t *self);

//  fsyncs the file and gives its hash (once). -1 with *error.
int ca_upload_finish(ca_upload_t *self, uint8_t hash[CA_SHA256_BYTES], char **error);

//  The temp file's path (for a write's context; settled by path later).
const char *ca_upload_path(ca_upload_t *self);

//  Closes the file and forgets it without removing it (its path now
//  belongs to a pending write).
void ca_upload_release(ca_upload_t **self_p);

//  Closes and removes the temp file.
void ca_upload_discard(ca_upload_t **self_p);

//  Step 3: links the finished upload to its final name, replacing a file
//  there of the wrong size. -1 with *error.
int ca_blobs_link(ca_blobs_t *self, ca_upload_t *upload, const uint8_t hash[CA_SHA256_BYTES],
                  uint64_t size, char **error);

//  Step 5, after the row committed: makes sure the final name exists
//  (linking it again from temp_path if a racing delete removed it), then
//  removes temp_path. -1 with *error (caller frees) when the final name
//  cannot be made: temp_path is then kept, since it holds the only copy.
int ca_blobs_settle(ca_blobs_t *self, const char *temp_path, const uint8_t hash[CA_SHA256_BYTES],
                    char **error);

//  Removes temp_path (a write that failed). Only names inside tmp/ are
//  removed.
void ca_blobs_drop_temp(ca_blobs_t *self, const char *temp_path);

//  True when the store still has a row for `hash` (asked under the lock).
typedef bool(ca_blob_wanted_fn)(void *context, const uint8_t hash[CA_SHA256_BYTES]);

//  After a row's removal committed: removes the blob file unless `wanted`
//  says a row is back. True when a file was removed.
bool ca_blobs_unlink_if_unwanted(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES],
                                 ca_blob_wanted_fn *wanted, void *context);

//  Moves a corrupt blob file to quarantine/ (kept for inspection): 0 moved,
//  1 left in place because its bytes now hash to its name (checked under
//  the lock: a racing put replaced it), -1 with *error (caller frees).
int ca_blobs_quarantine(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], char **error);

//  Called by ca_blobs_walk for each blob file: its hash (from its name) and
//  path. Returns false to stop the walk.
typedef bool(ca_blobs_visit_fn)(void *context, const uint8_t hash[CA_SHA256_BYTES],
                                const char *path);

//  Walks the blob files under `root` (<data dir>/<store>): every file in a
//  prefix directory (two lowercase hex digits) named as this store names a
//  blob (64 lowercase hex digits starting with that prefix). Other names
//  (tmp/, quarantine/, .lock, files of someone else) are never visited,
//  only counted in *strays (may be NULL). Returns 1 when it saw every
//  file, 0 when `visit` stopped it, -1 with errno when `root` cannot be
//  read. Used by the orphan sweep, ContentCheck and `cairnd check`.
int ca_blobs_walk(const char *root, ca_blobs_visit_fn *visit, void *context, size_t *strays);

//  Runs fn(context) under the store lock.
void ca_blobs_locked(ca_blobs_t *self, void (*fn)(void *context), void *context);

void ca_blobs_test(bool verbose);

#endif

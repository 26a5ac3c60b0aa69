/*  =========================================================================
    backup - a consistent copy of a serving node (`cairn backup DIR`);
    pool "backup", one worker, no tables of its own (requests:
    schemas/backup.proto). The file steps are shared with `cairnd restore`
    (node/node_restore.c).
    ========================================================================= */

#ifndef BACKUP_H_INCLUDED
#define BACKUP_H_INCLUDED

#include "ca_hash.h"
#include "ca_store.h"

#include <stdbool.h>
#include <stdint.h>

extern const ca_store_def_t backup_store_def;

//  The file a backup writes last; a backup directory without it is an
//  interrupted backup.
#define BACKUP_MANIFEST "MANIFEST"
//  Its first line (the format's version).
#define BACKUP_MANIFEST_MAGIC "cairn-backup 1"
//  Longest DIR a BackupRequest may name.
#define BACKUP_DIR_MAX 1024

//  What MANIFEST says.
typedef struct {
    uint64_t snapshot_us; //  when the database snapshot was taken (wall clock)
    uint64_t db_bytes;    //  size of cairn.db
    uint8_t db_sha256[CA_SHA256_BYTES];
    uint64_t content_files; //  blob files of content/
    uint64_t cache_files;   //  blob files of cache/
} backup_manifest_t;

//  Copies src to dst (created exclusively, 0600) and fsyncs it. 0, or -1
//  with *error (caller frees); a partial dst is removed.
int backup_copy_file(const char *src, const char *dst, char **error);

//  Hard-links src to dst, or copies it (backup_copy_file) when they are on
//  two filesystems; *linked says which. 0, or -1 with *error.
int backup_link_or_copy(const char *src, const char *dst, bool *linked, char **error);

//  True when `path` is a directory with nothing in it.
bool backup_dir_is_empty(const char *path);

//  Size and SHA-256 of a file. 0, or -1 with *error.
int backup_hash_file(const char *path, uint64_t *size, uint8_t digest[CA_SHA256_BYTES],
                     char **error);

//  fsync of a store directory and each of its prefix directories (new
//  names in them); an absent `root` is fine. 0, or -1 with *error.
int backup_fsync_tree(const char *root, char **error);

//  Reads <dir>/MANIFEST. 0, or -1 with *error saying what is wrong (absent:
//  an interrupted backup).
int backup_manifest_read(const char *dir, backup_manifest_t *manifest, char **error);

#endif

/*  =========================================================================
    node_restore - `cairnd restore DIR --data-dir D`

    Offline, like `cairnd check`: nothing else writes D while it runs (D
    does not exist or is empty, so no node can be serving it). The steps,
    each refusing with nothing installed:

        1. D must not exist, or be an empty directory (a restore never
           merges into or overwrites a node's data)
        2. DIR/MANIFEST must be there and readable (absent: the backup was
           interrupted before it finished; actors/backup.c writes it last)
        3. DIR/cairn.db must have the size and SHA-256 MANIFEST gives (a
           truncated or altered copy is refused before SQLite opens it)
        4. copy cairn.db and every blob file of content/ and cache/ into a
           staging directory beside D (D.restore-PID), each file fsynced;
           the counts must match MANIFEST's
        5. `cairnd check` on the staging directory (node_check_run:
           integrity_check, foreign keys, schema versions, every indexed
           blob present with its size and hash, no file without a row)
           must be clean
        6. rename the staging directory to D, fsync D's parent

    Files are copied, never linked: a restored node must not share inodes
    with the backup it came from. What fails after step 4 removes the
    staging directory.
    ========================================================================= */

#include "node_restore.h"
#include "backup.h"
#include "ca_blobs.h"
#include "ca_limits.h"
#include "ca_validate.h"
#include "node_check.h"

#include <czmq.h>
#include <ftw.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *from; //  DIR/<store>
    const char *to;   //  staging/<store>
    uint64_t files;
    char *error;
} copy_pass_t;

static bool s_copy_blob(void *context, const uint8_t hash[CA_SHA256_BYTES], const char *path) {
    copy_pass_t *pass = (copy_pass_t *)context;
    char hex[65];
    ca_hash_to_hex(hash, hex);
    char *prefix = zsys_sprintf("%s/%.2s", pass->to, hex);
    char *dst = zsys_sprintf("%s/%s", prefix, hex);
    if (mkdir(prefix, 0700) != 0 && errno != EEXIST)
        pass->error = zsys_sprintf("cannot create %s: %s", prefix, strerror(errno));
    else if (backup_copy_file(path, dst, &pass->error) == 0)
        pass->files++;
    zstr_free(&dst);
    zstr_free(&prefix);
    return pass->error == NULL;
}

//  Step 4 for one store directory: its blob files, counted.
static char *s_copy_store(const char *backup_dir, const char *staging, const char *store,
                          uint64_t expected) {
    char *from = zsys_sprintf("%s/%s", backup_dir, store);
    char *to = zsys_sprintf("%s/%s", staging, store);
    copy_pass_t pass = {from, to, 0, NULL};
    struct stat info;
    if (mkdir(to, 0700) != 0)
        pass.error = zsys_sprintf("cannot create %s: %s", to, strerror(errno));
    else if (stat(from, &info) == 0 && ca_blobs_walk(from, s_copy_blob, &pass, NULL) < 0 &&
             !pass.error)
        pass.error = zsys_sprintf("cannot read %s: %s", from, strerror(errno));
    if (!pass.error && pass.files != expected)
        pass.error = zsys_sprintf("%s holds %" PRIu64 " blob file(s), MANIFEST says %" PRIu64
                                  ": the backup is incomplete or was changed",
                                  from, pass.files, expected);
    if (!pass.error)
        backup_fsync_tree(to, &pass.error);
    zstr_free(&from);
    zstr_free(&to);
    return pass.error;
}

char *node_restore_dir_free(const char *data_dir, const char *command) {
    struct stat info;
    if (stat(data_dir, &info) != 0)
        return errno == ENOENT ? NULL
                               : zsys_sprintf("cannot look at %s: %s", data_dir, strerror(errno));
    if (S_ISDIR(info.st_mode) && backup_dir_is_empty(data_dir))
        return NULL;
    return zsys_sprintf("the data dir %s is not empty: %s refuses to overwrite or merge "
                        "into a node's data; give a new (or empty) --data-dir",
                        data_dir, command);
}

static int s_remove_entry(const char *path, const struct stat *info, int flag, struct FTW *at) {
    (void)info, (void)flag, (void)at;
    remove(path);
    return 0;
}

void node_restore_remove_tree(const char *path) {
    nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int node_restore_run(const char *backup_dir, const char *data_dir_given, FILE *out, FILE *err) {
    //  Without trailing slashes: the staging name is made beside it.
    char data_dir[PATH_MAX];
    size_t length = strlen(data_dir_given);
    while (length > 1 && data_dir_given[length - 1] == '/')
        length--;
    if (length == 0 || length >= sizeof data_dir) {
        fprintf(err, "cairnd restore: give --data-dir, the new node's data dir\n");
        return NODE_RESTORE_REFUSED;
    }
    memcpy(data_dir, data_dir_given, length);
    data_dir[length] = '\0';
    char *error = node_restore_dir_free(data_dir, "restore");
    if (error) {
        fprintf(err, "cairnd restore: %s\n", error);
        zstr_free(&error);
        return NODE_RESTORE_REFUSED;
    }
    backup_manifest_t manifest;
    if (backup_manifest_read(backup_dir, &manifest, &error) != 0) {
        fprintf(err, "cairnd restore: %s\n", error);
        zstr_free(&error);
        return NODE_RESTORE_DAMAGED;
    }
    char *db = zsys_sprintf("%s/%s", backup_dir, CA_DB_FILE);
    uint64_t size = 0;
    uint8_t digest[CA_SHA256_BYTES];
    if (backup_hash_file(db, &size, digest, &error) == 0 &&
        (size != manifest.db_bytes || memcmp(digest, manifest.db_sha256, sizeof digest) != 0))
        error = zsys_sprintf("%s is %" PRIu64 " bytes%s, MANIFEST says %" PRIu64
                             " bytes and another SHA-256: the copy is truncated or damaged; use "
                             "another backup",
                             db, size, size == manifest.db_bytes ? " of other content" : "",
                             manifest.db_bytes);
    char *staging = zsys_sprintf("%s.restore-%d", data_dir, (int)getpid());
    bool staged = false;
    if (!error) {
        staged = mkdir(staging, 0700) == 0;
        if (!staged)
            error = zsys_sprintf("cannot create %s: %s", staging, strerror(errno));
    }
    char *copy = zsys_sprintf("%s/%s", staging, CA_DB_FILE);
    if (!error)
        backup_copy_file(db, copy, &error);
    if (!error)
        error = s_copy_store(backup_dir, staging, CA_CONTENT_DIR, manifest.content_files);
    if (!error)
        error = s_copy_store(backup_dir, staging, CA_CACHE_DIR, manifest.cache_files);
    if (!error && ca_fsync_dir(staging) != 0)
        error = zsys_sprintf("cannot fsync %s: %s", staging, strerror(errno));
    int status = error ? NODE_RESTORE_DAMAGED : NODE_RESTORE_DONE;
    if (!error) {
        fprintf(out, "cairnd restore: checking the copy (cairnd check):\n");
        if (node_check_run(staging, out, err) != NODE_CHECK_CLEAN)
            error = zsys_sprintf("the copy of %s did not pass `cairnd check` (lines above): "
                                 "the backup is damaged; nothing was installed, use another "
                                 "backup",
                                 backup_dir);
    }
    if (!error && rename(staging, data_dir) != 0)
        error = zsys_sprintf("cannot rename %s to %s: %s", staging, data_dir, strerror(errno));
    if (!error) {
        char *parent_of = strdup(data_dir);
        if (parent_of && ca_fsync_dir(dirname(parent_of)) != 0)
            fprintf(err, "cairnd restore: warning: cannot fsync the parent of %s: %s\n", data_dir,
                    strerror(errno));
        free(parent_of);
        fprintf(out,
                "cairnd restore: %s restored into %s (snapshot of %" PRIu64 " us since epoch; "
                "%" PRIu64 " content and %" PRIu64 " cache file(s)); start cairnd on it\n",
                backup_dir, data_dir, manifest.snapshot_us, manifest.content_files,
                manifest.cache_files);
    } else {
        fprintf(err, "cairnd restore: %s\n", error);
        status = NODE_RESTORE_DAMAGED;
        if (staged)
            node_restore_remove_tree(staging);
    }
    zstr_free(&error);
    zstr_free(&copy);
    zstr_free(&staging);
    zstr_free(&db);
    return status;
}

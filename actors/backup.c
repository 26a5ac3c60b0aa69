/*  =========================================================================
    backup - a consistent copy of a serving node (`cairn backup DIR`)

    What it owns: nothing on disk. Its one worker answers Backup
    (schemas/backup.proto) by copying the database and the blob files the
    copy names into DIR, while the writer and every other pool keep
    serving. The work runs on this pool's own thread, off every other
    request's path; the def caps the pool at one request in flight, so a
    second Backup while one runs is refused BUSY by the gateway at once
    (ca_store_def_t.max_in_flight) instead of queueing behind it.

    How the copy is consistent. The database is copied with SQLite's online
    backup API from the worker's read connection, inside one read
    transaction: in WAL mode that transaction sees one committed state (the
    snapshot) however long the copy takes, and the writer goes on
    committing beside it. The blob files of content/ and cache/ live
    outside SQLite; a row of the snapshot must find its file in DIR:

        1. take content/.lock, then cache/.lock (the blob-file locks: a put
           links its file and a delete unlinks one only under them)
        2. BEGIN, and read the index rows: the snapshot starts here
        3. hard-link (or copy, on another filesystem) the file of every
           row into DIR/<store>/<2 hex>/<64 hex>
        4. release the locks
        5. sqlite3_backup_step(-1) of the same read transaction into
           DIR/cairn.db, then end the transaction
        6. fsync the directories, hash cairn.db, write DIR/MANIFEST last
           (a temp name, fsync, rename, fsync of DIR)

    A put links its file before its row commits, so every row of the
    snapshot had its file when step 2 began; a delete commits the row's
    removal and unlinks later under the lock, so no file of the snapshot
    can go while step 3 runs. Files put after step 2 are not needed (their
    rows are not in the copy). Content kept inline is in the database. The
    locks are held for step 3 only: links are metadata operations, so a
    content put or delete waits O(blob files) at most, never the database
    copy (copies across filesystems do hold them for the copy of the bytes,
    which the README points out).

    An interrupted backup (crash, disk full) leaves DIR without MANIFEST;
    `cairnd restore` refuses such a directory. Restore
    (node/node_restore.c) checks MANIFEST, the database's size and hash,
    and the whole copy as `cairnd check` does.
    ========================================================================= */

#include "backup.h"
#include "ca_blobs.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_sql.h"
#include "ca_validate.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKUP_COPY_CHUNK (256 * 1024)

//  ---- file steps (shared with restore) ---------------------------------------------

int backup_copy_file(const char *src, const char *dst, char **error) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        *error = zsys_sprintf("cannot open %s: %s", src, strerror(errno));
        return -1;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        *error = zsys_sprintf("cannot create %s: %s", dst, strerror(errno));
        close(in);
        return -1;
    }
    char *buffer = malloc(BACKUP_COPY_CHUNK);
    int rc = buffer ? 0 : -1;
    if (!buffer)
        *error = zsys_sprintf("out of memory copying %s", src);
    while (rc == 0) {
        ssize_t got = read(in, buffer, BACKUP_COPY_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *error = zsys_sprintf("cannot read %s: %s", src, strerror(errno));
            rc = -1;
        }
        if (got <= 0)
            break;
        for (ssize_t done = 0; rc == 0 && done < got;) {
            ssize_t put = write(out, buffer + done, (size_t)(got - done));
            if (put < 0 && errno == EINTR)
                continue;
            if (put < 0) {
                *error = zsys_sprintf("cannot write %s: %s", dst, strerror(errno));
                rc = -1;
            } else
                done += put;
        }
    }
    free(buffer);
    if (rc == 0 && fsync(out) != 0) {
        *error = zsys_sprintf("cannot fsync %s: %s", dst, strerror(errno));
        rc = -1;
    }
    if (close(out) != 0 && rc == 0) {
        *error = zsys_sprintf("cannot close %s: %s", dst, strerror(errno));
        rc = -1;
    }
    close(in);
    if (rc != 0)
        unlink(dst);
    return rc;
}

int backup_link_or_copy(const char *src, const char *dst, bool *linked, char **error) {
    *linked = link(src, dst) == 0;
    if (*linked)
        return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
        *error = zsys_sprintf("cannot link %s to %s: %s", src, dst, strerror(errno));
        return -1;
    }
    return backup_copy_file(src, dst, error);
}

bool backup_dir_is_empty(const char *path) {
    DIR *listing = opendir(path);
    struct dirent *entry = NULL;
    while (listing && (entry = readdir(listing)))
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            break;
    if (listing)
        closedir(listing);
    return listing && !entry;
}

int backup_hash_file(const char *path, uint64_t *size, uint8_t digest[CA_SHA256_BYTES],
                     char **error) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        *error = zsys_sprintf("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    ca_sha256_t *hash = ca_sha256_new();
    char *buffer = malloc(BACKUP_COPY_CHUNK);
    int rc = hash && buffer ? 0 : -1;
    if (rc != 0)
        *error = zsys_sprintf("out of memory hashing %s", path);
    *size = 0;
    size_t got;
    while (rc == 0 && (got = fread(buffer, 1, BACKUP_COPY_CHUNK, file)) > 0) {
        ca_sha256_update(hash, buffer, got);
        *size += got;
    }
    if (rc == 0 && ferror(file)) {
        *error = zsys_sprintf("cannot read %s", path);
        rc = -1;
    }
    if (rc == 0)
        ca_sha256_final(hash, digest);
    ca_sha256_destroy(&hash);
    free(buffer);
    fclose(file);
    return rc;
}

int backup_manifest_read(const char *dir, backup_manifest_t *manifest, char **error) {
    char *path = zsys_sprintf("%s/%s", dir, BACKUP_MANIFEST);
    FILE *file = fopen(path, "r");
    if (!file) {
        *error = errno == ENOENT
                     ? zsys_sprintf("%s has no %s: not a backup, or one that was interrupted "
                                    "before it finished (the node writes it last); take a new "
                                    "backup",
                                    dir, BACKUP_MANIFEST)
                     : zsys_sprintf("cannot read %s: %s", path, strerror(errno));
        zstr_free(&path);
        return -1;
    }
    char magic[64] = "", hex[80] = "";
    memset(manifest, 0, sizeof *manifest);
    int fields = fscanf(file,
                        "%63[^\n]\nsnapshot_us %" SCNu64 "\ndb_bytes %" SCNu64
                        "\ndb_sha256 %79s\ncontent_files %" SCNu64 "\ncache_files %" SCNu64,
                        magic, &manifest->snapshot_us, &manifest->db_bytes, hex,
                        &manifest->content_files, &manifest->cache_files);
    fclose(file);
    int rc = 0;
    if (fields != 6 || strcmp(magic, BACKUP_MANIFEST_MAGIC) != 0 ||
        !ca_hash_from_hex(hex, manifest->db_sha256)) {
        *error = zsys_sprintf("%s is not a manifest this cairnd reads (its first line must be "
                              "\"%s\", then snapshot_us, db_bytes, db_sha256, content_files, "
                              "cache_files): a damaged or newer backup",
                              path, BACKUP_MANIFEST_MAGIC);
        rc = -1;
    }
    zstr_free(&path);
    return rc;
}

//  ---- one backup -------------------------------------------------------------------

typedef struct {
    sqlite3 *src;      //  the worker's read connection
    const char *dir;   //  DIR
    ca_blobs_t *blobs; //  the store being linked (content, then cache)
    const char *name;  //  its directory name
    const char *select;
    uint64_t files[2];
    uint64_t blob_bytes;
    uint64_t linked;
    uint64_t copied;
    char *error;
} run_t;

//  Step 3 for one store: every file its snapshot rows name.
static void s_link_rows(run_t *run, size_t which) {
    sqlite3_stmt *rows = NULL;
    if (sqlite3_prepare_v2(run->src, run->select, -1, &rows, NULL) != SQLITE_OK) {
        run->error =
            zsys_sprintf("cannot read the %s index: %s", run->name, sqlite3_errmsg(run->src));
        return;
    }
    char *root = zsys_sprintf("%s/%s", run->dir, run->name);
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        run->error = zsys_sprintf("cannot create %s: %s", root, strerror(errno));
    int rc = SQLITE_DONE;
    while (!run->error && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(rows, 0) != CA_SHA256_BYTES)
            continue; //  the table's CHECK rules it out
        const uint8_t *hash = sqlite3_column_blob(rows, 0);
        char hex[65];
        ca_hash_to_hex(hash, hex);
        char *prefix = zsys_sprintf("%s/%.2s", root, hex);
        char *dst = zsys_sprintf("%s/%s", prefix, hex);
        char *src = ca_blobs_path(run->blobs, hash);
        bool linked = false;
        struct stat info;
        if (mkdir(prefix, 0700) != 0 && errno != EEXIST)
            run->error = zsys_sprintf("cannot create %s: %s", prefix, strerror(errno));
        else if (stat(src, &info) != 0)
            run->error = zsys_sprintf("%s is indexed but cannot be read (%s): the node is "
                                      "damaged; run `cairn content fsck --verify --repair` (or "
                                      "`cairn cache clear`) and back up again",
                                      src, strerror(errno));
        else if (backup_link_or_copy(src, dst, &linked, &run->error) == 0) {
            run->files[which]++;
            run->blob_bytes += (uint64_t)info.st_size;
            run->linked += linked;
            run->copied += !linked;
        }
        zstr_free(&src);
        zstr_free(&dst);
        zstr_free(&prefix);
    }
    if (!run->error && rc != SQLITE_DONE)
        run->error =
            zsys_sprintf("cannot read the %s index: %s", run->name, sqlite3_errmsg(run->src));
    sqlite3_finalize(rows);
    zstr_free(&root);
}

typedef struct {
    run_t *run;
    ca_blobs_t *content;
    ca_blobs_t *cache;
} locks_t;

//  Steps 2 and 3, under both blob locks.
static void s_locked_both(void *context) {
    locks_t *locks = (locks_t *)context;
    run_t *run = locks->run;
    char *message = NULL;
    if (sqlite3_exec(run->src, "BEGIN", NULL, NULL, &message) != SQLITE_OK) {
        run->error = zsys_sprintf("cannot begin the snapshot: %s", message ? message : "?");
        sqlite3_free(message);
        return;
    }
    run->blobs = locks->content;
    run->name = CA_CONTENT_DIR;
    run->select = "SELECT b.hash FROM content_blobs b WHERE NOT EXISTS "
                  "(SELECT 1 FROM content_inline i WHERE i.hash = b.hash)";
    s_link_rows(run, 0);
    if (run->error)
        return;
    run->blobs = locks->cache;
    run->name = CA_CACHE_DIR;
    run->select = "SELECT hash FROM cache_entries";
    s_link_rows(run, 1);
}

static void s_locked_content(void *context) {
    locks_t *locks = (locks_t *)context;
    ca_blobs_locked(locks->cache, s_locked_both, locks);
}

int backup_fsync_tree(const char *root, char **error) {
    DIR *dir = opendir(root);
    if (!dir)
        return errno == ENOENT ? 0 : (*error = zsys_sprintf("cannot read %s", root), -1);
    struct dirent *entry;
    int rc = 0;
    while (rc == 0 && (entry = readdir(dir))) {
        if (entry->d_name[0] == '.')
            continue;
        char *path = zsys_sprintf("%s/%s", root, entry->d_name);
        if (ca_fsync_dir(path) != 0) {
            *error = zsys_sprintf("cannot fsync %s: %s", path, strerror(errno));
            rc = -1;
        }
        zstr_free(&path);
    }
    closedir(dir);
    if (rc == 0 && ca_fsync_dir(root) != 0) {
        *error = zsys_sprintf("cannot fsync %s: %s", root, strerror(errno));
        rc = -1;
    }
    return rc;
}

//  Step 5: the snapshot's pages into DIR/cairn.db.
static char *s_copy_database(sqlite3 *src, const char *path) {
    sqlite3 *dst = NULL;
    char *error = NULL;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        error = zsys_sprintf("cannot create %s: %s", path, dst ? sqlite3_errmsg(dst) : "no memory");
    else
        sqlite3_exec(dst, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    sqlite3_backup *copy = error ? NULL : sqlite3_backup_init(dst, "main", src, "main");
    if (!error && !copy)
        error = zsys_sprintf("cannot start the database copy: %s", sqlite3_errmsg(dst));
    if (copy) {
        int rc = sqlite3_backup_step(copy, -1);
        if (rc != SQLITE_DONE)
            error = zsys_sprintf("the database copy failed: %s", sqlite3_errstr(rc));
        sqlite3_backup_finish(copy);
    }
    if (dst && sqlite3_close(dst) != SQLITE_OK && !error)
        error = zsys_sprintf("cannot close %s", path);
    return error;
}

//  DIR's own name (made by s_take_dir) made durable. NULL or an error.
static char *s_fsync_parent(const char *dir) {
    char *parent = strdup(dir);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    char *error = NULL;
    if (slash) {
        slash[slash == parent] = '\0';
        if (ca_fsync_dir(parent) != 0)
            error = zsys_sprintf("cannot fsync %s: %s", parent, strerror(errno));
    }
    free(parent);
    return error;
}

//  Step 6: MANIFEST, written last.
static char *s_write_manifest(const char *dir, const backup_manifest_t *manifest) {
    char *tmp = zsys_sprintf("%s/%s.tmp", dir, BACKUP_MANIFEST);
    char *path = zsys_sprintf("%s/%s", dir, BACKUP_MANIFEST);
    char *error = NULL;
    char hex[65];
    ca_hash_to_hex(manifest->db_sha256, hex);
    FILE *file = fopen(tmp, "wx");
    if (!file)
        error = zsys_sprintf("cannot create %s: %s", tmp, strerror(errno));
    else {
        fprintf(file,
                "%s\nsnapshot_us %" PRIu64 "\ndb_bytes %" PRIu64 "\ndb_sha256 %s\n"
                "content_files %" PRIu64 "\ncache_files %" PRIu64 "\n",
                BACKUP_MANIFEST_MAGIC, manifest->snapshot_us, manifest->db_bytes, hex,
                manifest->content_files, manifest->cache_files);
        bool ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
        ok = fclose(file) == 0 && ok;
        if (!ok || rename(tmp, path) != 0 || ca_fsync_dir(dir) != 0)
            error = zsys_sprintf("cannot write %s: %s", path, strerror(errno));
    }
    zstr_free(&tmp);
    zstr_free(&path);
    return error;
}

//  DIR made, or found empty. NULL, or the status and message to answer.
static ca_status_t s_take_dir(const char *dir, const char *data_dir, char **error) {
    bool made = mkdir(dir, 0700) == 0;
    if (!made && errno == ENOENT) {
        *error = zsys_sprintf("the parent of %s does not exist on the node: create it first", dir);
        return CA_NOT_FOUND;
    }
    if (!made && errno != EEXIST) {
        *error = zsys_sprintf("cannot create %s: %s", dir, strerror(errno));
        return CA_INVALID;
    }
    if (!made) {
        if (!backup_dir_is_empty(dir)) {
            *error = zsys_sprintf("%s exists and is not an empty directory: give a new or empty "
                                  "directory (a backup never overwrites anything)",
                                  dir);
            return CA_CONFLICT;
        }
    }
    char real_dir[PATH_MAX], real_data[PATH_MAX];
    if (realpath(dir, real_dir) && realpath(data_dir, real_data)) {
        size_t length = strlen(real_data);
        if (strncmp(real_dir, real_data, length) == 0 &&
            (real_dir[length] == '/' || real_dir[length] == '\0')) {
            if (made)
                rmdir(dir);
            *error = zsys_sprintf("%s is inside the node's data dir %s: back up to another "
                                  "directory",
                                  dir, real_data);
            return CA_INVALID;
        }
    }
    return CA_OK;
}

static char *s_run(ca_store_t *store, const char *dir, run_t *run) {
    const char *data_dir = ca_store_data_dir(store);
    locks_t locks = {run, NULL, NULL};
    char *error = NULL;
    locks.content = ca_blobs_open(data_dir, CA_CONTENT_DIR, &error);
    if (locks.content)
        locks.cache = ca_blobs_open(data_dir, CA_CACHE_DIR, &error);
    if (locks.cache) {
        ca_blobs_locked(locks.content, s_locked_content, &locks);
        error = run->error;
        run->error = NULL;
        if (!sqlite3_get_autocommit(run->src)) { //  step 5 in the snapshot, then end it
            char *db = zsys_sprintf("%s/%s", dir, CA_DB_FILE);
            if (!error)
                error = s_copy_database(run->src, db);
            sqlite3_exec(run->src, "ROLLBACK", NULL, NULL, NULL);
            zstr_free(&db);
        }
    }
    ca_blobs_destroy(&locks.content);
    ca_blobs_destroy(&locks.cache);
    for (size_t i = 0; !error && i < 2; i++) {
        char *root = zsys_sprintf("%s/%s", dir, i ? CA_CACHE_DIR : CA_CONTENT_DIR);
        backup_fsync_tree(root, &error);
        zstr_free(&root);
    }
    return error;
}

static void s_backup(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *dir = request->backup->dir;
    if (!*dir || dir[0] != '/' || strlen(dir) > BACKUP_DIR_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "dir must be an absolute path on the node's machine of at most %d bytes",
                       BACKUP_DIR_MAX);
        return;
    }
    const char *root = ca_store_settings(store)->backup_root;
    size_t root_length = root ? strlen(root) : 0;
    while (root_length > 1 && root[root_length - 1] == '/')
        root_length--;
    if (root && !(root_length == 1 && root[0] == '/') &&
        (strncmp(dir, root, root_length) != 0 || dir[root_length] != '/' || strstr(dir, "/../") ||
         strstr(dir, "/./") || (strlen(dir) >= 3 && strcmp(dir + strlen(dir) - 3, "/..") == 0))) {
        ca_reply_error(reply, CA_INVALID,
                       "dir must be inside backup_root %s (the node's setting), without . or .. "
                       "segments",
                       root);
        return;
    }
    char *error = NULL;
    ca_status_t status = s_take_dir(dir, ca_store_data_dir(store), &error);
    if (status != CA_OK) {
        ca_reply_error(reply, status, "%s", error);
        zstr_free(&error);
        return;
    }
    int64_t started = zclock_mono();
    backup_manifest_t manifest = {.snapshot_us = (uint64_t)zclock_time() * 1000};
    run_t run = {.src = ca_sql_handle(ca_store_sql(store)), .dir = dir};
    error = s_run(store, dir, &run);
    char *db = zsys_sprintf("%s/%s", dir, CA_DB_FILE);
    if (!error)
        backup_hash_file(db, &manifest.db_bytes, manifest.db_sha256, &error);
    zstr_free(&db);
    manifest.content_files = run.files[0];
    manifest.cache_files = run.files[1];
    if (!error)
        error = s_fsync_parent(dir);
    if (!error)
        error = s_write_manifest(dir, &manifest);
    if (error) {
        ca_log_error("backup into %s failed: %s", dir, error);
        ca_reply_error(reply, CA_INTERNAL,
                       "backup into %s failed: %s. %s has no MANIFEST (restore refuses it): "
                       "remove it and retry",
                       dir, error, dir);
        zstr_free(&error);
        return;
    }
    ca_log_info("backup into %s: %" PRIu64 " bytes of database, %" PRIu64 " content and %" PRIu64
                " cache files",
                dir, manifest.db_bytes, run.files[0], run.files[1]);
    Cairn__BackupReply *answer = ca_reply_alloc(reply, sizeof *answer);
    cairn__backup_reply__init(answer);
    answer->dir = ca_reply_strdup(reply, dir);
    answer->db_bytes = manifest.db_bytes;
    answer->content_files = run.files[0];
    answer->cache_files = run.files[1];
    answer->blob_bytes = run.blob_bytes;
    answer->linked = run.linked;
    answer->copied = run.copied;
    answer->elapsed_ms = (uint64_t)(zclock_mono() - started);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_BACKUP;
    response->backup = answer;
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_BACKUP, "backup", s_backup, NULL, 0},
};

const ca_store_def_t backup_store_def = {
    .name = "backup",
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .workers = 1,
    .queue_max = 2,
    .max_in_flight = 1,
};

/*  =========================================================================
    ca_blobs - blob files addressed by SHA-256 under a store directory

    See ca_blobs.h for the layout and the write/delete protocol.
    ========================================================================= */

#include "ca_blobs.h"
#include "ca_log.h"
#include "ca_validate.h"

#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUFFER_BYTES (1024 * 1024)
#define LOCK_FILE         ".lock"
#define TMP_DIR           "tmp"
#define QUARANTINE_DIR    "quarantine"

struct _ca_blobs_t {
    char *root;
    char *tmp;   //  root/tmp, with no trailing slash
    int lock_fd; //  this worker's own open file description
};

struct _ca_upload_t {
    int fd;
    char *path;
    ca_sha256_t *hash;
    uint64_t size;
    bool finished;
};

//  ---- small file helpers -----------------------------------------------------------

int ca_fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int s_make_dir(const char *path) {
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

//  Reads exactly `size` bytes at `offset` unless the file ends first;
//  returns the bytes read or -1.
static ssize_t s_pread_full(int fd, void *data, size_t size, uint64_t offset) {
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread(fd, (char *)data + done, size - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

static int s_write_full(int fd, const void *data, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t put = write(fd, (const char *)data + done, size - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

static void s_lock(ca_blobs_t *self) {
    while (flock(self->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
}

static void s_unlock(ca_blobs_t *self) {
    flock(self->lock_fd, LOCK_UN);
}

//  The directory a blob's file lives in (caller frees).
static char *s_prefix_dir(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES]) {
    return zsys_sprintf("%s/%02x", self->root, hash[0]);
}

//  ---- the store directory -------------------------------------------------------------

//  Removes every entry of tmp/: uploads a crash or a stop cut short.
static int s_empty_tmp(const char *tmp) {
    DIR *dir = opendir(tmp);
    if (!dir)
        return -1;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (streq(entry->d_name, ".") || streq(entry->d_name, ".."))
            continue;
        char *path = zsys_sprintf("%s/%s", tmp, entry->d_name);
        if (unlink(path) == 0)
            removed++;
        else
            ca_log_warning("cannot remove the leftover upload %s: %s", path, strerror(errno));
        zstr_free(&path);
    }
    closedir(dir);
    return removed;
}

char *ca_blobs_prepare(const char *data_dir, const char *store) {
    char *root = zsys_sprintf("%s/%s", data_dir, store);
    char *tmp = zsys_sprintf("%s/%s", root, TMP_DIR);
    char *quarantine = zsys_sprintf("%s/%s", root, QUARANTINE_DIR);
    char *error = NULL;
    if (s_make_dir(root) || s_make_dir(tmp) || s_make_dir(quarantine))
        error = zsys_sprintf("cannot create the %s store directories under %s: %s; check the "
                             "data dir's permissions",
                             store, root, strerror(errno));
    else {
        int removed = s_empty_tmp(tmp);
        if (removed < 0)
            error = zsys_sprintf("cannot read %s: %s", tmp, strerror(errno));
        else if (removed > 0)
            ca_log_info("%s: removed %d unfinished upload(s) left by an earlier run", store,
                        removed);
    }
    zstr_free(&root);
    zstr_free(&tmp);
    zstr_free(&quarantine);
    return error;
}

ca_blobs_t *ca_blobs_open(const char *data_dir, const char *store, char **error) {
    ca_blobs_t *self = (ca_blobs_t *)zmalloc(sizeof(ca_blobs_t));
    self->root = zsys_sprintf("%s/%s", data_dir, store);
    self->tmp = zsys_sprintf("%s/%s", self->root, TMP_DIR);
    char *lock = zsys_sprintf("%s/%s", self->root, LOCK_FILE);
    self->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        *error = zsys_sprintf("cannot open %s: %s; was the store directory prepared?", lock,
                              strerror(errno));
        ca_blobs_destroy(&self);
    }
    zstr_free(&lock);
    return self;
}

void ca_blobs_destroy(ca_blobs_t **self_p) {
    ca_blobs_t *self = *self_p;
    if (!self)
        return;
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    zstr_free(&self->root);
    zstr_free(&self->tmp);
    free(self);
    *self_p = NULL;
}

const char *ca_blobs_root(ca_blobs_t *self) {
    return self->root;
}

char *ca_blobs_path(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES]) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    return zsys_sprintf("%s/%.2s/%s", self->root, hex, hex);
}

bool ca_blobs_file_size(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], uint64_t *size) {
    char *path = ca_blobs_path(self, hash);
    struct stat st;
    bool exists = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    zstr_free(&path);
    if (exists)
        *size = (uint64_t)st.st_size;
    return exists;
}

//  Opens a blob for reading: CA_OK with *fd, or why not.
static ca_status_t s_open_blob(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], int *fd,
                               uint64_t *file_size, char **error) {
    char *path = ca_blobs_path(self, hash);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    ca_status_t status = CA_OK;
    struct stat st;
    if (*fd < 0) {
        status = errno == ENOENT ? CA_NOT_FOUND : CA_INTERNAL;
        *error = zsys_sprintf("cannot open %s: %s", path, strerror(errno));
    } else if (fstat(*fd, &st) != 0) {
        status = CA_INTERNAL;
        *error = zsys_sprintf("cannot stat %s: %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
    } else
        *file_size = (uint64_t)st.st_size;
    zstr_free(&path);
    return status;
}

ca_status_t ca_blobs_read_all(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], void *data,
                              uint64_t size, bool verify, char **error) {
    int fd;
    uint64_t file_size = 0;
    ca_status_t status = s_open_blob(self, hash, &fd, &file_size, error);
    if (status != CA_OK)
        return status;
    if (file_size != size) {
        *error = zsys_sprintf("the blob file holds %" PRIu64 " bytes where %" PRIu64 " were stored",
                              file_size, size);
        close(fd);
        return CA_CORRUPT;
    }
    ssize_t got = s_pread_full(fd, data, (size_t)size, 0);
    int read_errno = errno;
    close(fd);
    if (got < 0) {
        *error = zsys_sprintf("cannot read the blob file: %s", strerror(read_errno));
        return CA_INTERNAL;
    }
    if ((uint64_t)got != size) {
        *error = zsys_sprintf("the blob file ended after %zd of %" PRIu64 " bytes", got, size);
        return CA_CORRUPT;
    }
    if (verify) {
        uint8_t digest[CA_SHA256_BYTES];
        ca_sha256(data, (size_t)size, digest);
        if (memcmp(digest, hash, CA_SHA256_BYTES) != 0) {
            *error = strdup("the blob file's bytes do not match its hash");
            return CA_CORRUPT;
        }
    }
    return CA_OK;
}

ca_status_t ca_blobs_read_range(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], void *data,
                                uint64_t offset, size_t length, size_t *got, char **error) {
    int fd;
    uint64_t file_size = 0;
    ca_status_t status = s_open_blob(self, hash, &fd, &file_size, error);
    if (status != CA_OK)
        return status;
    ssize_t read = s_pread_full(fd, data, length, offset);
    int read_errno = errno;
    close(fd);
    if (read < 0) {
        *error = zsys_sprintf("cannot read the blob file: %s", strerror(read_errno));
        return CA_INTERNAL;
    }
    *got = (size_t)read;
    return CA_OK;
}

//  True for exactly two lowercase hex digits.
static bool s_is_prefix_name(const char *name) {
    return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

//  True when `name` is how a blob file in directory `prefix` is named.
static bool s_is_blob_name(const char *name, const char *prefix, uint8_t hash[CA_SHA256_BYTES]) {
    return strlen(name) == 2 * CA_SHA256_BYTES &&
           strspn(name, "0123456789abcdef") == strlen(name) && strncmp(name, prefix, 2) == 0 &&
           ca_hash_from_hex(name, hash);
}

int ca_blobs_walk(const char *root, ca_blobs_visit_fn *visit, void *context, size_t *strays) {
    DIR *dir = opendir(root);
    if (!dir)
        return -1;
    bool going = true;
    struct dirent *entry;
    while (going && (entry = readdir(dir))) {
        if (!s_is_prefix_name(entry->d_name))
            continue; //  tmp/, quarantine/, .lock
        char *prefix_path = zsys_sprintf("%s/%s", root, entry->d_name);
        DIR *prefix = opendir(prefix_path);
        struct dirent *file;
        while (going && prefix && (file = readdir(prefix))) {
            uint8_t hash[CA_SHA256_BYTES];
            if (streq(file->d_name, ".") || streq(file->d_name, ".."))
                continue;
            if (!s_is_blob_name(file->d_name, entry->d_name, hash)) {
                if (strays)
                    (*strays)++;
                continue;
            }
            char *path = zsys_sprintf("%s/%s", prefix_path, file->d_name);
            going = visit(context, hash, path);
            zstr_free(&path);
        }
        if (prefix)
            closedir(prefix);
        zstr_free(&prefix_path);
    }
    closedir(dir);
    return going ? 1 : 0;
}

ca_status_t ca_blobs_verify_file(ca_blobs_t *self, const char *path,
                                 const uint8_t hash[CA_SHA256_BYTES], bool *matches, uint64_t *size,
                                 char **error) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error = zsys_sprintf("cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? CA_NOT_FOUND : CA_INTERNAL;
    }
    uint8_t *buffer = (uint8_t *)malloc(READ_BUFFER_BYTES);
    ca_sha256_t *state = ca_sha256_new();
    if (!buffer || !state) {
        *error = zsys_sprintf("cannot check %s: out of memory", path);
        free(buffer);
        ca_sha256_destroy(&state);
        close(fd);
        return CA_INTERNAL;
    }
    uint64_t offset = 0;
    ssize_t got;
    while ((got = s_pread_full(fd, buffer, READ_BUFFER_BYTES, offset)) > 0) {
        ca_sha256_update(state, buffer, (size_t)got);
        offset += (uint64_t)got;
    }
    int read_errno = errno;
    close(fd);
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256_final(state, digest);
    ca_sha256_destroy(&state);
    free(buffer);
    if (got < 0) {
        *error = zsys_sprintf("cannot read %s: %s", path, strerror(read_errno));
        return CA_INTERNAL;
    }
    *matches = memcmp(digest, hash, CA_SHA256_BYTES) == 0;
    *size = offset;
    return CA_OK;
}

//  ---- uploads ---------------------------------------------------------------------

ca_upload_t *ca_upload_new(ca_blobs_t *blobs, char **error) {
    ca_upload_t *self = (ca_upload_t *)zmalloc(sizeof(ca_upload_t));
    self->path = zsys_sprintf("%s/upload-XXXXXX", blobs->tmp);
    self->fd = mkostemp(self->path, O_CLOEXEC);
    self->hash = ca_sha256_new();
    if (self->fd < 0 || !self->hash) {
        *error =
            zsys_sprintf("cannot create an upload file in %s: %s", blobs->tmp, strerror(errno));
        ca_upload_discard(&self);
    }
    return self;
}

int ca_upload_write(ca_upload_t *self, const void *data, size_t size, char **error) {
    assert(!self->finished);
    if (s_write_full(self->fd, data, size) != 0) {
        *error = zsys_sprintf("cannot write the upload (%s)%s", strerror(errno),
                              errno == ENOSPC ? ": the disk is full; free space and retry" : "");
        return -1;
    }
    ca_sha256_update(self->hash, data, size);
    self->size += size;
    return 0;
}

uint64_t ca_upload_size(ca_upload_t *self) {
    return self->size;
}

int ca_upload_finish(ca_upload_t *self, uint8_t hash[CA_SHA256_BYTES], char **error) {
    assert(!self->finished);
    self->finished = true;
    ca_sha256_final(self->hash, hash);
    if (fsync(self->fd) != 0) {
        *error = zsys_sprintf("cannot sync the upload to disk: %s", strerror(errno));
        return -1;
    }
    return 0;
}

const char *ca_upload_path(ca_upload_t *self) {
    return self->path;
}

static void s_upload_free(ca_upload_t **self_p, bool remove) {
    ca_upload_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close(self->fd);
    if (remove && self->fd >= 0)
        unlink(self->path);
    ca_sha256_destroy(&self->hash);
    zstr_free(&self->path);
    free(self);
    *self_p = NULL;
}

void ca_upload_release(ca_upload_t **self_p) {
    s_upload_free(self_p, false);
}

void ca_upload_discard(ca_upload_t **self_p) {
    s_upload_free(self_p, true);
}

//  ---- publishing and removing ----------------------------------------------------------

//  Links temp_path to the blob's final name, creating its directory;
//  EEXIST counts as done. Called under the lock.
static int s_link_final(ca_blobs_t *self, const char *temp_path,
                        const uint8_t hash[CA_SHA256_BYTES], char **error) {
    char *dir = s_prefix_dir(self, hash);
    char *path = ca_blobs_path(self, hash);
    int rc = 0;
    bool new_dir = access(dir, F_OK) != 0;
    if (new_dir && s_make_dir(dir) != 0) {
        *error = zsys_sprintf("cannot create %s: %s", dir, strerror(errno));
        rc = -1;
    } else if (new_dir && ca_fsync_dir(self->root) != 0) {
        *error = zsys_sprintf("cannot sync %s: %s", self->root, strerror(errno));
        rc = -1;
    } else if (link(temp_path, path) != 0 && errno != EEXIST) {
        *error = zsys_sprintf("cannot link the blob into %s: %s", dir, strerror(errno));
        rc = -1;
    } else if (ca_fsync_dir(dir) != 0) {
        *error = zsys_sprintf("cannot sync %s: %s", dir, strerror(errno));
        rc = -1;
    }
    zstr_free(&dir);
    zstr_free(&path);
    return rc;
}

int ca_blobs_link(ca_blobs_t *self, ca_upload_t *upload, const uint8_t hash[CA_SHA256_BYTES],
                  uint64_t size, char **error) {
    assert(upload->finished);
    s_lock(self);
    uint64_t existing = 0;
    //  A file under this name whose size or bytes are not what the name
    //  says is damage: replace it with the bytes just verified. (A file is
    //  there only on a re-put or a racing put, so hashing it is rare.)
    if (ca_blobs_file_size(self, hash, &existing)) {
        char *path = ca_blobs_path(self, hash);
        bool matches = existing == size;
        char *problem = NULL;
        if (matches &&
            ca_blobs_verify_file(self, path, hash, &matches, &existing, &problem) != CA_OK) {
            matches = false;
            zstr_free(&problem);
        }
        if (!matches) {
            ca_log_warning("replacing %s: its %" PRIu64 " bytes are not the blob's %" PRIu64, path,
                           existing, size);
            unlink(path);
        }
        zstr_free(&path);
    }
    int rc = s_link_final(self, upload->path, hash, error);
    s_unlock(self);
    return rc;
}

//  True when temp_path names a file directly inside tmp/.
static bool s_is_temp_path(ca_blobs_t *self, const char *temp_path) {
    size_t length = strlen(self->tmp);
    return strncmp(temp_path, self->tmp, length) == 0 && temp_path[length] == '/' &&
           !strchr(temp_path + length + 1, '/') && !strstr(temp_path, "..");
}

int ca_blobs_settle(ca_blobs_t *self, const char *temp_path, const uint8_t hash[CA_SHA256_BYTES],
                    char **error) {
    if (!s_is_temp_path(self, temp_path)) {
        ca_log_error("blobs: refusing to settle '%s': not an upload of %s", temp_path, self->root);
        return 0; //  not ours to touch; the final name was linked at step 3
    }
    uint64_t size;
    int rc = 0;
    s_lock(self);
    if (!ca_blobs_file_size(self, hash, &size))
        rc = s_link_final(self, temp_path, hash, error);
    s_unlock(self);
    //  The temp name holds the only copy of the bytes while the final name
    //  is missing: it goes only once the final name is there.
    if (rc == 0)
        unlink(temp_path);
    return rc;
}

void ca_blobs_drop_temp(ca_blobs_t *self, const char *temp_path) {
    if (s_is_temp_path(self, temp_path))
        unlink(temp_path);
    else
        ca_log_error("blobs: refusing to remove '%s': not an upload of %s", temp_path, self->root);
}

bool ca_blobs_unlink_if_unwanted(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES],
                                 ca_blob_wanted_fn *wanted, void *context) {
    char *path = ca_blobs_path(self, hash);
    bool removed = false;
    s_lock(self);
    if (!wanted(context, hash) && unlink(path) == 0) {
        removed = true;
        char *dir = s_prefix_dir(self, hash);
        ca_fsync_dir(dir); //  so a crash cannot bring a deleted blob back
        zstr_free(&dir);
    }
    s_unlock(self);
    zstr_free(&path);
    return removed;
}

int ca_blobs_quarantine(ca_blobs_t *self, const uint8_t hash[CA_SHA256_BYTES], char **error) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    char *path = ca_blobs_path(self, hash);
    char *target = zsys_sprintf("%s/%s/%s", self->root, QUARANTINE_DIR, hex);
    s_lock(self);
    //  Checked again under the lock: a racing put may have replaced the
    //  file with the right bytes since it was found corrupt.
    bool matches = false;
    uint64_t size = 0;
    char *problem = NULL;
    int rc = 0;
    if (ca_blobs_verify_file(self, path, hash, &matches, &size, &problem) == CA_OK && matches)
        rc = 1;
    else if (rename(path, target) != 0) {
        *error = zsys_sprintf("cannot move %s to %s: %s", path, target, strerror(errno));
        rc = -1;
    }
    zstr_free(&problem);
    s_unlock(self);
    zstr_free(&path);
    zstr_free(&target);
    return rc;
}

void ca_blobs_locked(ca_blobs_t *self, void (*fn)(void *context), void *context) {
    s_lock(self);
    fn(context);
    s_unlock(self);
}

//  ---- self-test -----------------------------------------------------------------

#include "ca_testbed.h"

static bool s_never_wanted(void *context, const uint8_t hash[CA_SHA256_BYTES]) {
    return false;
}

static bool s_always_wanted(void *context, const uint8_t hash[CA_SHA256_BYTES]) {
    return true;
}

//  Stores `text` as a blob through the whole protocol; returns its hash.
static void s_store(ca_blobs_t *blobs, const char *text, uint8_t hash[CA_SHA256_BYTES]) {
    char *error = NULL;
    ca_upload_t *upload = ca_upload_new(blobs, &error);
    assert(upload && !error);
    assert(ca_upload_write(upload, text, strlen(text), &error) == 0);
    assert(ca_upload_finish(upload, hash, &error) == 0);
    assert(ca_blobs_link(blobs, upload, hash, strlen(text), &error) == 0);
    char *temp = strdup(ca_upload_path(upload));
    ca_upload_release(&upload);
    assert(access(temp, F_OK) == 0); //  kept until settled
    assert(ca_blobs_settle(blobs, temp, hash, &error) == 0);
    assert(access(temp, F_OK) != 0);
    free(temp);
}

void ca_blobs_test(bool verbose) {
    if (verbose)
        printf(" * ca_blobs: ");
    char *dir = ca_test_tempdir("cairn-blobs");
    //  A leftover upload is removed by prepare.
    char *error = ca_blobs_prepare(dir, "content");
    assert(!error);
    char *leftover = zsys_sprintf("%s/content/tmp/upload-old", dir);
    FILE *file = fopen(leftover, "w");
    assert(file);
    fclose(file);
    assert(!ca_blobs_prepare(dir, "content"));
    assert(access(leftover, F_OK) != 0);
    zstr_free(&leftover);

    ca_blobs_t *blobs = ca_blobs_open(dir, "content", &error);
    assert(blobs && !error);
    uint8_t hash[CA_SHA256_BYTES];
    s_store(blobs, "hello", hash);
    char hex[65];
    ca_hash_to_hex(hash, hex);
    assert(streq(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
    char *path = ca_blobs_path(blobs, hash);
    char *expected = zsys_sprintf("%s/content/2c/%s", dir, hex);
    assert(streq(path, expected));
    zstr_free(&expected);
    uint64_t size = 0;
    assert(ca_blobs_file_size(blobs, hash, &size) && size == 5);

    //  Whole and ranged reads; verification catches a flipped byte.
    char data[16] = "";
    assert(ca_blobs_read_all(blobs, hash, data, 5, true, &error) == CA_OK);
    assert(memcmp(data, "hello", 5) == 0);
    assert(ca_blobs_read_all(blobs, hash, data, 4, true, &error) == CA_CORRUPT);
    zstr_free(&error);
    size_t got = 0;
    assert(ca_blobs_read_range(blobs, hash, data, 3, 10, &got, &error) == CA_OK && got == 2);
    assert(memcmp(data, "lo", 2) == 0);
    file = fopen(path, "r+");
    assert(file && fputc('j', file) == 'j');
    fclose(file);
    assert(ca_blobs_read_all(blobs, hash, data, 5, false, &error) == CA_OK);
    assert(ca_blobs_read_all(blobs, hash, data, 5, true, &error) == CA_CORRUPT);
    assert(strstr(error, "do not match"));
    zstr_free(&error);
    bool matches = true;
    assert(ca_blobs_verify_file(blobs, path, hash, &matches, &size, &error) == CA_OK);
    assert(!matches && size == 5);

    //  Quarantine moves it away; a missing file reads as NOT_FOUND.
    assert(ca_blobs_quarantine(blobs, hash, &error) == 0);
    s_store(blobs, "hello", hash); //  an intact file is left where it is
    assert(ca_blobs_quarantine(blobs, hash, &error) == 1);
    assert(ca_blobs_read_all(blobs, hash, data, 5, true, &error) == CA_OK);
    assert(ca_blobs_unlink_if_unwanted(blobs, hash, s_never_wanted, NULL));
    assert(ca_blobs_read_all(blobs, hash, data, 5, true, &error) == CA_NOT_FOUND);
    zstr_free(&error);
    char *quarantined = zsys_sprintf("%s/content/quarantine/%s", dir, hex);
    assert(access(quarantined, F_OK) == 0);
    zstr_free(&quarantined);

    //  A racing delete: the file vanished before the row committed; settle
    //  links it again from the temp name.
    ca_upload_t *upload = ca_upload_new(blobs, &error);
    assert(ca_upload_write(upload, "hello", 5, &error) == 0);
    assert(ca_upload_finish(upload, hash, &error) == 0);
    assert(ca_blobs_link(blobs, upload, hash, 5, &error) == 0);
    char *temp = strdup(ca_upload_path(upload));
    ca_upload_release(&upload);
    assert(ca_blobs_unlink_if_unwanted(blobs, hash, s_never_wanted, NULL));
    assert(!ca_blobs_file_size(blobs, hash, &size));
    assert(ca_blobs_settle(blobs, temp, hash, &error) == 0);
    assert(ca_blobs_file_size(blobs, hash, &size) && size == 5);
    free(temp);

    //  Settle cannot link again (the prefix directory's name is taken by a
    //  file): it says so and keeps the temp file, the only copy.
    upload = ca_upload_new(blobs, &error);
    assert(ca_upload_write(upload, "hello", 5, &error) == 0);
    assert(ca_upload_finish(upload, hash, &error) == 0);
    assert(ca_blobs_link(blobs, upload, hash, 5, &error) == 0);
    temp = strdup(ca_upload_path(upload));
    ca_upload_release(&upload);
    assert(ca_blobs_unlink_if_unwanted(blobs, hash, s_never_wanted, NULL));
    char *prefix = zsys_sprintf("%s/content/2c", dir);
    assert(rmdir(prefix) == 0);
    file = fopen(prefix, "w");
    assert(file);
    fclose(file);
    assert(ca_blobs_settle(blobs, temp, hash, &error) == -1);
    assert(error && strstr(error, "cannot link"));
    zstr_free(&error);
    assert(access(temp, F_OK) == 0);
    assert(unlink(prefix) == 0);
    assert(ca_blobs_settle(blobs, temp, hash, &error) == 0);
    assert(ca_blobs_file_size(blobs, hash, &size) && size == 5);
    assert(access(temp, F_OK) != 0);
    zstr_free(&prefix);
    free(temp);

    //  A wanted blob is kept; an unwanted one goes; twice is harmless.
    assert(!ca_blobs_unlink_if_unwanted(blobs, hash, s_always_wanted, NULL));
    assert(ca_blobs_unlink_if_unwanted(blobs, hash, s_never_wanted, NULL));
    assert(!ca_blobs_unlink_if_unwanted(blobs, hash, s_never_wanted, NULL));

    //  The wrong-size file under a name is replaced by verified bytes.
    s_store(blobs, "hello", hash);
    file = fopen(path, "a");
    assert(file && fputs("junk", file) >= 0);
    fclose(file);
    s_store(blobs, "hello", hash);
    assert(ca_blobs_file_size(blobs, hash, &size) && size == 5);
    //  So is a file of the right size with the wrong bytes (rotted).
    file = fopen(path, "r+");
    assert(file && fputc('j', file) == 'j');
    fclose(file);
    s_store(blobs, "hello", hash);
    assert(ca_blobs_read_all(blobs, hash, data, 5, true, &error) == CA_OK);

    //  Only names inside tmp/ are ever removed as temp files.
    ca_blobs_drop_temp(blobs, path);
    ca_blobs_drop_temp(blobs, "/etc/passwd");
    char *tricky = zsys_sprintf("%s/content/tmp/../2c/%s", dir, hex);
    ca_blobs_drop_temp(blobs, tricky);
    assert(ca_blobs_settle(blobs, tricky, hash, &error) == 0);
    zstr_free(&tricky);
    assert(ca_blobs_file_size(blobs, hash, &size) && size == 5);

    //  A discarded upload leaves nothing.
    upload = ca_upload_new(blobs, &error);
    temp = strdup(ca_upload_path(upload));
    ca_upload_discard(&upload);
    assert(access(temp, F_OK) != 0);
    free(temp);

    //  An unusable directory is a clear error.
    ca_blobs_t *missing = ca_blobs_open("/nonexistent-cairn", "content", &error);
    assert(!missing && error && strstr(error, "prepared"));
    zstr_free(&error);

    zstr_free(&path);
    ca_blobs_destroy(&blobs);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    kv_fs - the kv store's filesystem backend: one file per key

    A namespace is a folder <data dir>/kv/<name>-<16 hex>/ (the random tail
    keeps a dropped and re-created name, or a clone racing a create, from
    ever sharing a folder) holding data/ (the keys: "a/b/c" is the file
    data/a/b/c) and tmp/ (writes in progress).

    A put writes tmp/<random>, fsyncs it, renames it over data/<key> and
    fsyncs the folder that holds it (new folders on the way are fsynced
    into their parents too), so an acknowledged put survives kill -9 and
    power loss, and a reader sees the old value or the new one, never a
    part. Keys were checked by kv.c (no "..", ".", empty segments, leading
    '/', control characters, overlong names); on top of that every path is
    walked one segment at a time with openat(O_NOFOLLOW | O_DIRECTORY), the
    last with O_NOFOLLOW, so a symbolic link planted in the folder is never
    followed (the request fails with CONFLICT naming it) and nothing
    outside data/ is ever opened. Deletes remove folders left empty.

    List, stats, clear and dump walk the tree (O(keys)); a walk stops at
    KV_SCAN_MAX_KEYS. Every operation of a namespace runs on the one worker
    the namespace is routed to, so a dump (a clone's source) sees no write
    made through cairnd while it runs: one point in time as far as cairnd
    is concerned. Someone writing into the folder behind cairnd's back is
    not covered.
    ========================================================================= */

#include "kv_backend.h"
#include "ca_limits.h" //  CA_DB_FILE
#include "ca_log.h"
#include "ca_sql.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KV_DEPTH_MAX (KV_KEY_MAX / 2 + 1) //  segments of a key at most

//  ---- shared helpers of the backends (declared in kv_backend.h) --------------

ca_status_t kv_fail(kv_err_t *err, ca_status_t status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    err->status = status;
    return status;
}

bool kv_entries_add(kv_entries_t *self, const char *key, uint8_t *value, size_t size) {
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 64;
        kv_entry_t *items = realloc(self->items, capacity * sizeof *items);
        if (!items) {
            free(value);
            return false;
        }
        self->items = items;
        self->capacity = capacity;
    }
    char *copy = strdup(key);
    if (!copy) {
        free(value);
        return false;
    }
    self->items[self->count++] = (kv_entry_t){copy, value, size};
    self->bytes += size;
    return true;
}

void kv_entries_free(kv_entries_t *self) {
    for (size_t i = 0; i < self->count; i++) {
        free(self->items[i].key);
        free(self->items[i].value);
    }
    free(self->items);
    *self = (kv_entries_t){0};
}

bool kv_keys_add(kv_keys_t *self, const char *key, size_t length) {
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 64;
        char **keys = realloc(self->keys, capacity * sizeof *keys);
        if (!keys)
            return false;
        self->keys = keys;
        self->capacity = capacity;
    }
    char *copy = strndup(key, length);
    if (!copy)
        return false;
    self->keys[self->count++] = copy;
    return true;
}

static int s_key_compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kv_keys_sort(kv_keys_t *self) {
    if (self->count)
        qsort(self->keys, self->count, sizeof *self->keys, s_key_compare);
}

void kv_keys_free(kv_keys_t *self) {
    for (size_t i = 0; i < self->count; i++)
        free(self->keys[i]);
    free(self->keys);
    *self = (kv_keys_t){0};
}

//  ---- paths -------------------------------------------------------------------------

bool kv_fs_new_path(const char *data_dir, const char *name, char *path, size_t size,
                    kv_err_t *err) {
    uint8_t random[8];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        kv_fail(err, CA_INTERNAL, "no random bytes for the folder's name (%s); retry",
                strerror(errno));
        return false;
    }
    //  Absolute, so that answers and the row name the folder whatever the
    //  working directory of a later reader.
    char absolute[PATH_MAX];
    if (!realpath(data_dir, absolute)) {
        kv_fail(err, CA_INTERNAL, "cannot resolve the data dir %s: %s", data_dir, strerror(errno));
        return false;
    }
    int n = snprintf(path, size, "%s/kv/%s-", absolute, name);
    for (size_t i = 0; i < sizeof random && n > 0 && (size_t)n + 2 < size; i++)
        n += snprintf(path + n, size - (size_t)n, "%02x", random[i]);
    if (n <= 0 || (size_t)n + 1 >= size) {
        kv_fail(err, CA_INVALID, "the data dir's path is too long for a filesystem namespace");
        return false;
    }
    return true;
}

static ca_status_t s_errno(kv_err_t *err, const char *what, const char *key) {
    int code = errno;
    if (code == ELOOP || code == EMLINK)
        return kv_fail(err, CA_CONFLICT,
                       "key '%s': a symbolic link is in its path in the namespace's folder; "
                       "cairn never follows links: remove it from the folder",
                       key);
    if (code == ENOSPC || code == EDQUOT)
        return kv_fail(err, CA_UNAVAILABLE, "the disk is full (%s '%s'); free space and retry",
                       what, key);
    return kv_fail(err, CA_INTERNAL, "cannot %s '%s': %s", what, key, strerror(code));
}

//  Opens <ns>/<sub> (sub: "data" or "tmp") as a directory, links refused.
static int s_open_sub(const kv_ns_t *ns, const char *sub, kv_err_t *err) {
    int root = open(ns->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        kv_fail(err, CA_INTERNAL,
                "cannot open the folder of namespace %s (%s): %s; restore it or drop the "
                "namespace",
                ns->name, ns->path, strerror(errno));
        return -1;
    }
    int fd = openat(root, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        kv_fail(err, CA_INTERNAL, "cannot open %s/%s: %s", ns->path, sub, strerror(errno));
    close(root);
    return fd;
}

//  A key's folders, walked from data/: fds[0] is data/, fds[depth-1] the
//  folder holding the last segment, whose name is *leaf (into `copy`).
typedef struct {
    int fds[KV_DEPTH_MAX];
    size_t depth;
    char copy[KV_KEY_MAX + 1];
    const char *leaf;
    const char *names[KV_DEPTH_MAX]; //  names[i]: the name of fds[i] in fds[i-1]
} walk_t;

static void s_walk_close(walk_t *walk) {
    for (size_t i = 0; i < walk->depth; i++)
        close(walk->fds[i]);
    walk->depth = 0;
}

//  Walks to the folder of `key`. With `create`, makes missing folders (and
//  fsyncs each into its parent). NOT_FOUND when a folder is missing (and
//  not create), CONFLICT when a value sits where a folder should be.
static ca_status_t s_walk(const kv_ns_t *ns, const char *key, bool create, walk_t *walk,
                          kv_err_t *err) {
    walk->depth = 0;
    snprintf(walk->copy, sizeof walk->copy, "%s", key);
    int data = s_open_sub(ns, "data", err);
    if (data < 0)
        return err->status;
    walk->fds[walk->depth] = data;
    walk->names[walk->depth++] = "";
    char *segment = walk->copy;
    char *slash;
    while ((slash = strchr(segment, '/'))) {
        *slash = 0;
        int parent = walk->fds[walk->depth - 1];
        int fd = openat(parent, segment, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (mkdirat(parent, segment, 0700) != 0 && errno != EEXIST) {
                s_walk_close(walk);
                return s_errno(err, "make the folder of", key);
            }
            if (fsync(parent) != 0) {
                s_walk_close(walk);
                return s_errno(err, "sync the folder of", key);
            }
            fd = openat(parent, segment, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            int code = errno;
            struct stat st;
            bool link = code == ENOTDIR &&
                        fstatat(parent, segment, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(st.st_mode);
            s_walk_close(walk);
            if (code == ENOENT)
                return kv_fail(err, CA_NOT_FOUND, "no value is stored under '%s'", key);
            if (link) {
                errno = ELOOP;
                return s_errno(err, "open the folder of", key);
            }
            if (code == ENOTDIR)
                return kv_fail(err, create ? CA_CONFLICT : CA_NOT_FOUND,
                               "key '%s': '%s' holds a value, so no key can be under it in a "
                               "filesystem namespace; delete it first or choose another key",
                               key, walk->copy);
            errno = code;
            return s_errno(err, "open the folder of", key);
        }
        walk->fds[walk->depth] = fd;
        walk->names[walk->depth++] = segment;
        segment = slash + 1;
    }
    walk->leaf = segment;
    return CA_OK;
}

static ca_status_t s_tmp_write(int tmp, const char *key, const void *value, size_t size, char *name,
                               size_t name_size, kv_err_t *err) {
    uint8_t random[8];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
        return kv_fail(err, CA_INTERNAL, "no random bytes for a temp file: %s", strerror(errno));
    snprintf(name, name_size, "%02x%02x%02x%02x%02x%02x%02x%02x", random[0], random[1], random[2],
             random[3], random[4], random[5], random[6], random[7]);
    int fd = openat(tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_errno(err, "make a temp file for", key);
    const uint8_t *bytes = value;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, bytes + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s_errno(err, "write", key);
            close(fd);
            unlinkat(tmp, name, 0);
            return err->status;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        s_errno(err, "sync", key);
        close(fd);
        unlinkat(tmp, name, 0);
        return err->status;
    }
    close(fd);
    return CA_OK;
}

//  Writes one value durably: temp file, fsync, rename, fsync of the folder.
static ca_status_t s_put_at(const kv_ns_t *ns, int tmp, const char *key, const void *value,
                            size_t size, bool *created, kv_err_t *err) {
    walk_t walk;
    if (s_walk(ns, key, true, &walk, err) != CA_OK)
        return err->status;
    int parent = walk.fds[walk.depth - 1];
    struct stat st;
    bool found = fstatat(parent, walk.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
    bool existed = found && S_ISREG(st.st_mode); //  a planted link held no value
    if (found && S_ISDIR(st.st_mode)) {
        s_walk_close(&walk);
        return kv_fail(err, CA_CONFLICT,
                       "key '%s' has keys under it ('%s/...') in this filesystem namespace, so "
                       "it cannot hold a value; choose another key",
                       key, key);
    }
    char name[32];
    if (s_tmp_write(tmp, key, value, size, name, sizeof name, err) != CA_OK) {
        s_walk_close(&walk);
        return err->status;
    }
    //  rename replaces a planted link itself, never what it points to.
    if (renameat(tmp, name, parent, walk.leaf) != 0) {
        s_errno(err, "store", key);
        unlinkat(tmp, name, 0);
        s_walk_close(&walk);
        return err->status;
    }
    if (fsync(parent) != 0) {
        s_errno(err, "sync the folder of", key);
        s_walk_close(&walk);
        return err->status;
    }
    s_walk_close(&walk);
    if (created)
        *created = !existed;
    return CA_OK;
}

static ca_status_t s_put(void *state, const kv_ns_t *ns, const char *key, const void *value,
                         size_t size, bool *created, kv_err_t *err) {
    (void)state;
    int tmp = s_open_sub(ns, "tmp", err);
    if (tmp < 0)
        return err->status;
    ca_status_t status = s_put_at(ns, tmp, key, value, size, created, err);
    close(tmp);
    return status;
}

//  Opens the value file of `key` (a regular file, never through a link).
static int s_open_value(const kv_ns_t *ns, const char *key, struct stat *st, kv_err_t *err) {
    walk_t walk;
    if (s_walk(ns, key, false, &walk, err) != CA_OK)
        return -1;
    int fd = openat(walk.fds[walk.depth - 1], walk.leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int code = errno;
    s_walk_close(&walk);
    if (fd < 0) {
        if (code == ENOENT)
            kv_fail(err, CA_NOT_FOUND, "no value is stored under '%s'", key);
        else {
            errno = code;
            s_errno(err, "open", key);
        }
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        kv_fail(err, CA_NOT_FOUND, "no value is stored under '%s' (it has keys under it)", key);
        return -1;
    }
    return fd;
}

static ca_status_t s_read_all(int fd, const char *key, size_t size, uint8_t **value_p,
                              kv_err_t *err) {
    uint8_t *value = malloc(size ? size : 1);
    if (!value)
        return kv_fail(err, CA_INTERNAL, "out of memory reading '%s'; retry", key);
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, value + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(value);
            return n == 0 ? kv_fail(err, CA_INTERNAL, "'%s' shrank while read; retry", key)
                          : s_errno(err, "read", key);
        }
        done += (size_t)n;
    }
    *value_p = value;
    return CA_OK;
}

static ca_status_t s_get(void *state, const kv_ns_t *ns, const char *key, uint8_t **value_p,
                         size_t *size, kv_err_t *err) {
    (void)state;
    struct stat st;
    int fd = s_open_value(ns, key, &st, err);
    if (fd < 0)
        return err->status;
    *size = (size_t)st.st_size;
    ca_status_t status = s_read_all(fd, key, *size, value_p, err);
    close(fd);
    return status;
}

static ca_status_t s_exists(void *state, const kv_ns_t *ns, const char *key, bool *exists,
                            kv_err_t *err) {
    (void)state;
    walk_t walk;
    ca_status_t status = s_walk(ns, key, false, &walk, err);
    if (status == CA_NOT_FOUND) {
        *exists = false;
        return CA_OK;
    }
    if (status != CA_OK)
        return status;
    struct stat st;
    *exists = fstatat(walk.fds[walk.depth - 1], walk.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISREG(st.st_mode);
    s_walk_close(&walk);
    return CA_OK;
}

static ca_status_t s_del(void *state, const kv_ns_t *ns, const char *key, bool *deleted,
                         kv_err_t *err) {
    (void)state;
    *deleted = false;
    walk_t walk;
    ca_status_t status = s_walk(ns, key, false, &walk, err);
    if (status == CA_NOT_FOUND)
        return CA_OK;
    if (status != CA_OK)
        return status;
    int parent = walk.fds[walk.depth - 1];
    struct stat st;
    if (fstatat(parent, walk.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        if (unlinkat(parent, walk.leaf, 0) != 0) {
            s_errno(err, "delete", key);
            s_walk_close(&walk);
            return err->status;
        }
        *deleted = true;
        //  Folders left empty go too, deepest first (ENOTEMPTY stops it).
        for (size_t i = walk.depth - 1; i > 0; i--) {
            fsync(walk.fds[i]);
            if (unlinkat(walk.fds[i - 1], walk.names[i], AT_REMOVEDIR) != 0)
                break;
        }
        fsync(walk.fds[0]);
    }
    s_walk_close(&walk);
    return CA_OK;
}

//  ---- walking the whole tree --------------------------------------------------------

typedef struct {
    const char *prefix;
    size_t prefix_length;
    bool remove;           //  clear: unlink files and folders
    bool read;             //  dump: read each value
    kv_keys_t *keys;       //  list: collect keys
    kv_entries_t *entries; //  dump
    uint64_t count;
    uint64_t bytes;
    kv_err_t *err;
} tree_t;

//  Whether a folder whose keys start with path/ can hold keys with the prefix.
static bool s_prefix_compatible(const tree_t *tree, const char *path, size_t length) {
    size_t n = length < tree->prefix_length ? length : tree->prefix_length;
    return memcmp(path, tree->prefix, n) == 0;
}

static ca_status_t s_tree(tree_t *tree, int dir, char *path, size_t length) {
    int fd = dup(dir);
    DIR *stream = fd >= 0 ? fdopendir(fd) : NULL;
    if (!stream) {
        if (fd >= 0)
            close(fd);
        return kv_fail(tree->err, CA_INTERNAL, "cannot read a namespace folder: %s",
                       strerror(errno));
    }
    ca_status_t status = CA_OK;
    struct dirent *entry;
    while (status == CA_OK && (entry = readdir(stream))) {
        const char *name = entry->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        size_t name_length = strlen(name);
        if (length + name_length + 1 > KV_KEY_MAX)
            continue; //  not a key cairn made
        size_t key_length = length ? length + 1 + name_length : name_length;
        char *at = path + length;
        if (length)
            *at++ = '/';
        memcpy(at, name, name_length + 1);
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            path[length] = 0;
            continue; //  gone meanwhile
        }
        if (S_ISDIR(st.st_mode)) {
            if (s_prefix_compatible(tree, path, key_length)) {
                int sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) {
                    status = s_tree(tree, sub, path, key_length);
                    close(sub);
                }
                if (status == CA_OK && tree->remove)
                    unlinkat(dir, name, AT_REMOVEDIR);
            }
        } else if (S_ISREG(st.st_mode) && key_length >= tree->prefix_length &&
                   !memcmp(path, tree->prefix, tree->prefix_length)) {
            if (++tree->count > KV_SCAN_MAX_KEYS)
                status = kv_fail(tree->err, CA_INVALID,
                                 "the namespace holds over %d keys; list with a longer prefix",
                                 KV_SCAN_MAX_KEYS);
            tree->bytes += (uint64_t)st.st_size;
            if (status == CA_OK && tree->keys && !kv_keys_add(tree->keys, path, key_length))
                status = kv_fail(tree->err, CA_INTERNAL, "out of memory listing keys; retry");
            if (status == CA_OK && tree->read) {
                if (tree->bytes > KV_CLONE_MAX_BYTES)
                    status = kv_fail(tree->err, CA_INVALID,
                                     "the namespace holds over %d bytes, more than a clone "
                                     "copies; clone into SQLite from SQLite, or split it",
                                     KV_CLONE_MAX_BYTES);
                int value_fd =
                    status == CA_OK ? openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
                uint8_t *value = NULL;
                if (status == CA_OK && value_fd < 0)
                    status = s_errno(tree->err, "read", path);
                else if (status == CA_OK) {
                    status = s_read_all(value_fd, path, (size_t)st.st_size, &value, tree->err);
                    if (status == CA_OK &&
                        !kv_entries_add(tree->entries, path, value, (size_t)st.st_size))
                        status = kv_fail(tree->err, CA_INTERNAL, "out of memory cloning; retry");
                }
                if (value_fd >= 0)
                    close(value_fd);
            }
            if (status == CA_OK && tree->remove && unlinkat(dir, name, 0) != 0)
                status = s_errno(tree->err, "delete", path);
        }
        path[length] = 0;
    }
    if (tree->remove)
        fsync(dir);
    closedir(stream);
    return status;
}

static ca_status_t s_tree_run(const kv_ns_t *ns, tree_t *tree) {
    int data = s_open_sub(ns, "data", tree->err);
    if (data < 0)
        return tree->err->status;
    char path[KV_KEY_MAX + 2] = "";
    ca_status_t status = s_tree(tree, data, path, 0);
    close(data);
    return status;
}

static ca_status_t s_keys(void *state, const kv_ns_t *ns, const char *prefix, kv_keys_t *keys,
                          kv_err_t *err) {
    (void)state;
    tree_t tree = {.prefix = prefix, .prefix_length = strlen(prefix), .keys = keys, .err = err};
    return s_tree_run(ns, &tree);
}

static ca_status_t s_clear(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err) {
    (void)state;
    tree_t tree = {.prefix = "", .remove = true, .err = err};
    ca_status_t status = s_tree_run(ns, &tree);
    *count = tree.count;
    return status;
}

static ca_status_t s_stats(void *state, const kv_ns_t *ns, uint64_t *keys, uint64_t *bytes,
                           kv_err_t *err) {
    (void)state;
    tree_t tree = {.prefix = "", .err = err};
    ca_status_t status = s_tree_run(ns, &tree);
    *keys = tree.count;
    *bytes = tree.bytes;
    return status;
}

static ca_status_t s_dump(void *state, const kv_ns_t *ns, kv_entries_t *entries, kv_err_t *err) {
    (void)state;
    tree_t tree = {.prefix = "", .read = true, .entries = entries, .err = err};
    return s_tree_run(ns, &tree);
}

//  Makes <path>/, data/ and tmp/, each fsynced into its parent.
static ca_status_t s_create(void *state, const kv_ns_t *ns, kv_err_t *err) {
    (void)state;
    char kv_dir[PATH_MAX];
    snprintf(kv_dir, sizeof kv_dir, "%s", ns->path);
    char *slash = strrchr(kv_dir, '/');
    if (!slash)
        return kv_fail(err, CA_INTERNAL, "bad namespace folder %s", ns->path);
    *slash = 0;
    if (mkdir(kv_dir, 0700) != 0 && errno != EEXIST)
        return kv_fail(err, CA_INTERNAL, "cannot make %s: %s", kv_dir, strerror(errno));
    int parent = open(kv_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (parent < 0)
        return kv_fail(err, CA_INTERNAL, "cannot open %s: %s", kv_dir, strerror(errno));
    ca_status_t status = CA_OK;
    const char *name = slash + 1;
    int root = -1;
    if (mkdirat(parent, name, 0700) != 0)
        status = kv_fail(err, errno == ENOSPC ? CA_UNAVAILABLE : CA_INTERNAL, "cannot make %s: %s",
                         ns->path, strerror(errno));
    else
        root = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (status == CA_OK &&
        (root < 0 || mkdirat(root, "data", 0700) != 0 || mkdirat(root, "tmp", 0700) != 0 ||
         fsync(root) != 0 || fsync(parent) != 0))
        status = kv_fail(err, CA_INTERNAL, "cannot make the folders of %s: %s", ns->path,
                         strerror(errno));
    if (root >= 0)
        close(root);
    close(parent);
    return status;
}

static void s_remove_all(int dir) {
    int fd = dup(dir);
    DIR *stream = fd >= 0 ? fdopendir(fd) : NULL;
    if (!stream) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(stream))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
            continue;
        int sub = openat(dir, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            s_remove_all(sub);
            close(sub);
            unlinkat(dir, entry->d_name, AT_REMOVEDIR);
        } else
            unlinkat(dir, entry->d_name, 0);
    }
    closedir(stream);
}

//  Removes the folder (its keys counted first).
static ca_status_t s_drop(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err) {
    uint64_t bytes = 0;
    *count = 0;
    if (s_stats(state, ns, count, &bytes, err) != CA_OK)
        *count = 0;
    int root = open(ns->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root >= 0) {
        s_remove_all(root);
        close(root);
        if (rmdir(ns->path) != 0)
            ca_log_warning("kv: cannot remove %s: %s", ns->path, strerror(errno));
    }
    return CA_OK;
}

//  A clone's target: every value written to tmp/ and fsynced, then renamed.
static ca_status_t s_load(void *state, const kv_ns_t *ns, const kv_entries_t *entries,
                          kv_err_t *err) {
    (void)state;
    int tmp = s_open_sub(ns, "tmp", err);
    if (tmp < 0)
        return err->status;
    ca_status_t status = CA_OK;
    for (size_t i = 0; i < entries->count && status == CA_OK; i++)
        status = s_put_at(ns, tmp, entries->items[i].key, entries->items[i].value,
                          entries->items[i].size, NULL, err);
    close(tmp);
    return status;
}

//  Empties the tmp/ of every namespace folder: writes a crash cut short.
//  Whether `name` (an entry of <data dir>/kv) is the folder of a namespace
//  row: rows name their folder by its absolute path (kv_fs_new_path).
static bool s_folder_held(ca_sql_t *sql, const char *absolute, const char *name) {
    sqlite3_stmt *stmt = ca_sql_prepare(sql, "SELECT 1 FROM kv_namespaces WHERE path = ?1");
    if (!stmt)
        return true; //  cannot tell: keep it
    char *path = zsys_sprintf("%s/kv/%s", absolute, name);
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    zstr_free(&path);
    return rc != SQLITE_DONE;
}

//  Folders no namespace row names: a create or clone that crashed before
//  its row committed (never acknowledged). Removed at start, when no
//  request runs; any doubt (the database unreadable) keeps them.
static void s_sweep_orphans(const char *data_dir, int kv) {
    char absolute[PATH_MAX];
    char *db_path = zsys_sprintf("%s/%s", data_dir, CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql =
        realpath(data_dir, absolute) ? ca_sql_open(db_path, CA_SQL_READ_ONLY, NULL, &error) : NULL;
    zstr_free(&db_path);
    zstr_free(&error);
    int fd = sql ? dup(kv) : -1;
    DIR *stream = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *entry;
    size_t swept = 0;
    while (stream && (entry = readdir(stream))) {
        if (entry->d_name[0] == '.' || s_folder_held(sql, absolute, entry->d_name))
            continue;
        int root = openat(kv, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root < 0)
            continue; //  not a folder of ours
        s_remove_all(root);
        close(root);
        if (unlinkat(kv, entry->d_name, AT_REMOVEDIR) == 0)
            swept++;
    }
    if (stream)
        closedir(stream);
    else if (fd >= 0)
        close(fd);
    if (swept)
        ca_log_notice("kv: removed %zu namespace folder(s) no namespace names (a create or clone "
                      "that a crash interrupted; never acknowledged)",
                      swept);
    ca_sql_destroy(&sql);
}

char *kv_fs_prepare(const char *data_dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/kv", data_dir);
    int kv = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (kv < 0)
        return NULL;
    s_sweep_orphans(data_dir, kv);
    int fd = dup(kv);
    DIR *stream = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *entry;
    while (stream && (entry = readdir(stream))) {
        if (entry->d_name[0] == '.')
            continue;
        int root = openat(kv, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int tmp = root >= 0 ? openat(root, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW) : -1;
        if (tmp >= 0) {
            s_remove_all(tmp);
            close(tmp);
        }
        if (root >= 0)
            close(root);
    }
    if (stream)
        closedir(stream);
    else if (fd >= 0)
        close(fd);
    close(kv);
    return NULL;
}

const kv_backend_t kv_fs_backend = {
    .name = "filesystem",
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

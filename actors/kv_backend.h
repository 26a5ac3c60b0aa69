/*  =========================================================================
    kv_backend - what the kv store asks of a backend that its worker runs
    itself (filesystem: kv_fs.c, Redis: kv_redis.c)

    The SQLite backend is not behind this table: its writes go through the
    writer like every other store's (kv_sqlite.c builds them), so its
    answers come back through the handler rows' `done`. The backends here
    do their I/O in the worker that serves the namespace and answer at
    once; every request of one namespace is routed to one worker, so their
    operations on a namespace never interleave through cairnd.

    Every function returns CA_OK or fills `err` (status + a message that
    tells the user what to do) and returns that status.
    ========================================================================= */

#ifndef KV_BACKEND_H_INCLUDED
#define KV_BACKEND_H_INCLUDED

#include "ca_status.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_NAME_MAX         64                  //  namespace names
#define KV_KEY_MAX          1024                //  bytes of a key
#define KV_SEGMENT_MAX      255                 //  bytes of one segment of a key
#define KV_HOST_MAX         255                 //  Redis host
#define KV_PREFIX_MAX       128                 //  Redis key prefix
#define KV_PASSWORD_MAX     256                 //  Redis password
#define KV_PAGE_DEFAULT     100                 //  limit 0
#define KV_PAGE_MAX         1000                //  limit at most
#define KV_SCAN_MAX_KEYS    1000000             //  a list, stats or clone walks at most
#define KV_CLONE_MAX_BYTES  (256 * 1024 * 1024) //  values a clone holds in memory
#define KV_REDIS_PORT       6379
#define KV_REDIS_CONNECT_MS 500  //  connect timeout
#define KV_REDIS_COMMAND_MS 2000 //  command timeout

typedef struct {
    ca_status_t status;
    char message[512];
} kv_err_t;

//  Why `key` breaks the key rules of every backend (kv.proto: nothing can
//  leave a filesystem namespace's folder), or NULL when it is valid. Also
//  `cairnd import`'s check of the keys in an export file.
const char *kv_key_problem(const char *key);

//  Why `name` breaks the namespace name rule (1..64 bytes of A-Z a-z 0-9
//  . _ -, not starting with '.'), or NULL when it is valid. Also `cairnd
//  import`'s check of the names in an export file's kv_namespaces rows.
const char *kv_name_problem(const char *name);
#define KV_NAME_RULE "namespace names are 1..64 bytes of A-Z a-z 0-9 . _ -, not starting with '.'"

//  Sets err and returns its status.
ca_status_t kv_fail(kv_err_t *err, ca_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

//  A namespace as its row in kv_namespaces says.
typedef struct {
    int64_t id;
    char name[KV_NAME_MAX + 1];
    int backend; //  Cairn__KvBackend
    int64_t created_at;
    char path[PATH_MAX]; //  filesystem: the namespace's folder
    char host[KV_HOST_MAX + 1];
    uint32_t port;
    uint32_t db;
    char prefix[KV_PREFIX_MAX + 1];
    char password[KV_PASSWORD_MAX + 1];
} kv_ns_t;

//  The columns of kv_namespaces that kv_ns_from_row reads, in its order.
#define KV_NS_COLUMNS "id, name, backend, created_at, path, host, port, db, prefix, password"

//  A kv_namespaces row (selected as KV_NS_COLUMNS) into *ns.
void kv_ns_from_row(sqlite3_stmt *stmt, kv_ns_t *ns);

//  Keys and values of a namespace (a clone's source), owned by the list.
typedef struct {
    char *key;
    uint8_t *value;
    size_t size;
} kv_entry_t;

typedef struct {
    kv_entry_t *items;
    size_t count;
    size_t capacity;
    size_t bytes;
} kv_entries_t;

//  Adds a copy of key and takes `value` (malloc'd); false when memory ran out
//  (value freed).
bool kv_entries_add(kv_entries_t *self, const char *key, uint8_t *value, size_t size);
void kv_entries_free(kv_entries_t *self);

//  Sorted, de-duplicated key list (a page is cut from it).
typedef struct {
    char **keys;
    size_t count;
    size_t capacity;
} kv_keys_t;

bool kv_keys_add(kv_keys_t *self, const char *key, size_t length);
void kv_keys_sort(kv_keys_t *self);
void kv_keys_free(kv_keys_t *self);

//  The operations. `state` is the backend's per-worker state (the Redis
//  connections; NULL for the filesystem).
typedef struct {
    const char *name;
    ca_status_t (*create)(void *state, const kv_ns_t *ns, kv_err_t *err);
    ca_status_t (*drop)(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err);
    ca_status_t (*put)(void *state, const kv_ns_t *ns, const char *key, const void *value,
                       size_t size, bool *created, kv_err_t *err);
    //  *value_p: malloc'd (caller frees); NOT_FOUND when the key holds nothing.
    ca_status_t (*get)(void *state, const kv_ns_t *ns, const char *key, uint8_t **value_p,
                       size_t *size, kv_err_t *err);
    ca_status_t (*del)(void *state, const kv_ns_t *ns, const char *key, bool *deleted,
                       kv_err_t *err);
    ca_status_t (*exists)(void *state, const kv_ns_t *ns, const char *key, bool *exists,
                          kv_err_t *err);
    //  Every key starting with `prefix` (unsorted; the caller sorts).
    ca_status_t (*keys)(void *state, const kv_ns_t *ns, const char *prefix, kv_keys_t *keys,
                        kv_err_t *err);
    ca_status_t (*clear)(void *state, const kv_ns_t *ns, uint64_t *count, kv_err_t *err);
    ca_status_t (*stats)(void *state, const kv_ns_t *ns, uint64_t *keys, uint64_t *bytes,
                         kv_err_t *err);
    //  Every key and value, at most KV_CLONE_MAX_BYTES / KV_SCAN_MAX_KEYS.
    ca_status_t (*dump)(void *state, const kv_ns_t *ns, kv_entries_t *entries, kv_err_t *err);
    //  Writes `entries` into a namespace made by create (a clone's target).
    ca_status_t (*load)(void *state, const kv_ns_t *ns, const kv_entries_t *entries, kv_err_t *err);
} kv_backend_t;

extern const kv_backend_t kv_fs_backend;
extern const kv_backend_t kv_redis_backend;

//  The table of a filesystem or Redis namespace (not for SQLite ones).
const kv_backend_t *kv_backend_of(const kv_ns_t *ns);
bool kv_is_sqlite(const kv_ns_t *ns);
bool kv_is_redis(const kv_ns_t *ns);

//  The filesystem backend's folder for a new namespace: <data>/kv/<name>-<random>.
//  Returns false (err set) when no random bytes could be had.
bool kv_fs_new_path(const char *data_dir, const char *name, char *path, size_t size, kv_err_t *err);

//  Removes what crashed writes left in the folders' tmp/ (node start).
char *kv_fs_prepare(const char *data_dir);

//  The Redis backend's per-worker state: its connections.
void *kv_redis_state_new(void);
void kv_redis_state_destroy(void **state_p);

#endif

/*  =========================================================================
    node_export - `cairnd export FILE` and `cairnd import FILE`

    Why JSON lines: an export is for moving a node's data between builds
    and machines, and for reading it with ordinary tools (jq, grep), where
    `cairn backup` is a byte copy for the same build. One JSON object per
    line, written and read one line at a time, so neither side ever holds
    a whole store (a content file travels as chunk lines).

    Why a generic table dump: every store's rows are in cairn.db, each
    store's SQL in its own file. The export walks sqlite_master instead of
    keeping a second list of tables that would drift; rows carry named
    columns, and the schema versions in the header must be exactly this
    cairnd's, so an import never guesses at another schema. What is not a
    row of its own is handled here: full-text index tables (virtual, and
    their shadow tables) are rebuilt from the rows on import
    (messages_sql_reindex); schema_version is made by the import's own
    migrations; sqlite_sequence goes last, so AUTOINCREMENT continues where
    it was. Triggers are off while importing: the tables they maintain
    (totals) arrive as they were.

    Outside cairn.db: content and cache files (by their index rows; bytes
    kept inline are rows), filesystem kv namespaces' folders (their rows'
    paths are rewritten to the new data dir) and Redis namespaces' keys
    (read from and written to the server each row names). Not exported:
    the identity and CURVE keys (secrets, and a second node with the same
    identity is a clone, not a copy; copy identity/ and curve/ by hand
    when the import replaces the node).

    Order of the lines (import refuses another):
        header   tables*   blobs (blob, chunk*)*   kv*   end
    ========================================================================= */

#include "node_export.h"
#include "ca_blobs.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_sql.h"
#include "ca_validate.h"
#include "kv.pb-c.h"
#include "kv_backend.h"
#include "messages_schema.h"
#include "node.h"
#include "node_check.h"
#include "node_restore.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_CHUNK    49152              //  bytes of a content file per chunk line
#define EXPORT_LINE_MAX (64 * 1024 * 1024) //  longest line import reads
#define B64             sodium_base64_VARIANT_ORIGINAL

//  Full-text index shadow tables (fts5), rebuilt rather than exported.
static const char *const s_fts5_shadows[] = {"data", "idx", "content", "docsize", "config"};

//  What rebuilds the index tables after an import (each store's own SQL).
static const char *const s_rebuilds[] = {messages_sql_reindex};

//  ---- shared ---------------------------------------------------------------------

//  The tables whose rows an export carries, in order (caller destroys).
static zlistx_t *s_tables(sqlite3 *db) {
    zlistx_t *tables = zlistx_new();
    zlistx_set_destructor(tables, (zlistx_destructor_fn *)zstr_free);
    zlistx_t *virtuals = zlistx_new();
    zlistx_set_destructor(virtuals, (zlistx_destructor_fn *)zstr_free);
    sqlite3_stmt *stmt = NULL;
    sqlite3_prepare_v2(db,
                       "SELECT name, sql LIKE 'CREATE VIRTUAL TABLE%' FROM sqlite_master"
                       " WHERE type = 'table' ORDER BY sql LIKE 'CREATE VIRTUAL TABLE%' DESC, name",
                       -1, &stmt, NULL);
    bool sequence = false;
    while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        if (sqlite3_column_int(stmt, 1)) {
            zlistx_add_end(virtuals, strdup(name));
            continue;
        }
        if (streq(name, "sqlite_sequence"))
            sequence = true;
        if (strncmp(name, "sqlite_", 7) == 0 || streq(name, "schema_version"))
            continue;
        bool shadow = false;
        for (const char *v = (const char *)zlistx_first(virtuals); v && !shadow;
             v = (const char *)zlistx_next(virtuals)) {
            size_t length = strlen(v);
            if (strncmp(name, v, length) == 0 && name[length] == '_')
                for (size_t i = 0; i < sizeof s_fts5_shadows / sizeof s_fts5_shadows[0]; i++)
                    shadow = shadow || streq(name + length + 1, s_fts5_shadows[i]);
        }
        if (!shadow)
            zlistx_add_end(tables, strdup(name));
    }
    sqlite3_finalize(stmt);
    if (sequence)
        zlistx_add_end(tables, strdup("sqlite_sequence"));
    zlistx_destroy(&virtuals);
    return tables;
}

//  Each schema the node migrates, once (pools of one family share one).
static size_t s_schemas(const ca_schema_t **schemas, size_t most) {
    size_t count = 0, found = 0;
    const ca_store_def_t *const *defs = node_store_defs(&count);
    for (size_t i = 0; i < count && found < most; i++) {
        bool seen = defs[i]->schema == NULL;
        for (size_t k = 0; k < found && !seen; k++)
            seen = schemas[k] == defs[i]->schema;
        if (!seen)
            schemas[found++] = defs[i]->schema;
    }
    return found;
}

static void s_count(json_t *counts, const char *section, const char *name) {
    json_t *of = json_object_get(counts, section);
    json_t *count = json_object_get(of, name);
    json_object_set_new(of, name, json_integer(count ? json_integer_value(count) + 1 : 1));
}

static json_t *s_counts_new(void) {
    return json_pack("{s:{},s:{},s:{}}", "tables", "blobs", "kv");
}

static char *s_base64(const void *data, size_t size) {
    size_t length = sodium_base64_encoded_len(size, B64);
    char *text = (char *)malloc(length);
    if (text)
        sodium_bin2base64(text, length, (const unsigned char *)data, size, B64);
    return text;
}

//  A base64 string's bytes (caller frees; *size), or NULL when `value` is
//  not a string of base64.
static uint8_t *s_unbase64(json_t *value, size_t *size) {
    size_t length = json_string_length(value);
    uint8_t *bytes = json_is_string(value) ? (uint8_t *)malloc(length / 4 * 3 + 3) : NULL;
    const char *end = NULL;
    if (bytes && (sodium_base642bin(bytes, length / 4 * 3 + 3, json_string_value(value), length,
                                    NULL, size, &end, B64) != 0 ||
                  end != json_string_value(value) + length)) {
        free(bytes);
        bytes = NULL;
    }
    return bytes;
}

//  ---- export ---------------------------------------------------------------------

typedef struct {
    const char *data_dir;
    FILE *file;
    const char *path;
    FILE *err;
    sqlite3 *db;
    bool skip_redis;
    void *redis;
    json_t *counts;
    uint64_t lines;
    char *error;
} export_t;

//  Writes one line of `what` (a table, a namespace); takes ownership of
//  *object_p. A line longer than import reads (EXPORT_LINE_MAX, its
//  newline included) fails the export.
static void s_emit(export_t *x, json_t **object_p, const char *what) {
    char *text = *object_p ? json_dumps(*object_p, JSON_COMPACT) : NULL;
    json_decref(*object_p);
    *object_p = NULL;
    size_t length = text ? strlen(text) : 0;
    if (x->error)
        ;
    else if (!text)
        x->error = strdup("out of memory (or a value JSON cannot hold) while encoding a line");
    else if (length + 1 > EXPORT_LINE_MAX)
        x->error = zsys_sprintf("%s: a line of %zu bytes, more than an export line may have "
                                "(%d bytes, the longest `cairnd import` reads); make that "
                                "value smaller and export again",
                                what, length + 1, EXPORT_LINE_MAX);
    else if (fputs(text, x->file) == EOF || fputc('\n', x->file) == EOF)
        x->error = zsys_sprintf("cannot write %s: %s", x->path, strerror(errno));
    else
        x->lines++;
    free(text);
}

//  A column's value: null, an integer, a real, a string (UTF-8 text), or
//  {"hex": ...} (a BLOB), {"text_hex": ...} (text that is not UTF-8).
static json_t *s_value(sqlite3_stmt *stmt, int column) {
    switch (sqlite3_column_type(stmt, column)) {
        case SQLITE_INTEGER:
            return json_integer(sqlite3_column_int64(stmt, column));
        case SQLITE_FLOAT: {
            double value = sqlite3_column_double(stmt, column);
            return isfinite(value) ? json_real(value) : NULL;
        }
        case SQLITE_NULL:
            return json_null();
        default:
            break;
    }
    bool text = sqlite3_column_type(stmt, column) == SQLITE_TEXT;
    const void *data =
        text ? (const void *)sqlite3_column_text(stmt, column) : sqlite3_column_blob(stmt, column);
    size_t size = (size_t)sqlite3_column_bytes(stmt, column);
    json_t *string = text ? json_stringn((const char *)data, size) : NULL;
    if (string)
        return string;
    char *hex = (char *)malloc(size * 2 + 1);
    if (!hex)
        return NULL;
    sodium_bin2hex(hex, size * 2 + 1,
                   data ? (const unsigned char *)data : (const unsigned char *)"", size);
    json_t *value = json_pack("{s:s}", text ? "text_hex" : "hex", hex);
    free(hex);
    return value;
}

//  "ORDER BY" and the primary key columns of a WITHOUT ROWID table
//  (caller frees), "" when it has none.
static char *s_key_order(sqlite3 *db, const char *table) {
    zchunk_t *order = zchunk_new(NULL, 64);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
                           -1, &stmt, NULL) == SQLITE_OK)
        sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *column = (const char *)sqlite3_column_text(stmt, 0);
        bool first = zchunk_size(order) == 0;
        zchunk_extend(order, first ? " ORDER BY \"" : ", \"", first ? 11 : 3);
        for (const char *c = column; c && *c; c++)
            zchunk_extend(order, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
        zchunk_extend(order, "\"", 1);
    }
    sqlite3_finalize(stmt);
    char *text = zsys_sprintf("%.*s", (int)zchunk_size(order), (char *)zchunk_data(order));
    zchunk_destroy(&order);
    return text;
}

static void s_export_table(export_t *x, const char *table) {
    char *select = zsys_sprintf("SELECT rowid, * FROM \"%s\" ORDER BY rowid", table);
    sqlite3_stmt *stmt = NULL;
    int first = 1; //  the first column that is the table's
    if (sqlite3_prepare_v2(x->db, select, -1, &stmt, NULL) != SQLITE_OK) {
        zstr_free(&select); //  WITHOUT ROWID: in primary key order
        char *order = s_key_order(x->db, table);
        select = zsys_sprintf("SELECT * FROM \"%s\"%s", table, order);
        zstr_free(&order);
        first = 0;
        if (sqlite3_prepare_v2(x->db, select, -1, &stmt, NULL) != SQLITE_OK)
            x->error = zsys_sprintf("cannot read table %s: %s", table, sqlite3_errmsg(x->db));
    }
    zstr_free(&select);
    char *what = zsys_sprintf("table %s", table);
    json_object_set_new(json_object_get(x->counts, "tables"), table, json_integer(0));
    int rc = SQLITE_DONE;
    while (!x->error && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int c = first; c < sqlite3_column_count(stmt) && row; c++) {
            json_t *value = s_value(stmt, c);
            if (!value) {
                x->error = zsys_sprintf("table %s: column %s holds a value JSON cannot carry "
                                        "(an infinite real) or memory ran out",
                                        table, sqlite3_column_name(stmt, c));
                json_decref(row);
                row = NULL;
            } else
                json_object_set_new(row, sqlite3_column_name(stmt, c), value);
        }
        json_t *line = row ? json_pack("{s:s}", "table", table) : NULL;
        if (line && first)
            json_object_set_new(line, "rowid", json_integer(sqlite3_column_int64(stmt, 0)));
        if (line)
            json_object_set_new(line, "row", row);
        s_emit(x, &line, what);
        s_count(x->counts, "tables", table);
    }
    if (!x->error && rc != SQLITE_DONE)
        x->error = zsys_sprintf("cannot read table %s: %s", table, sqlite3_errmsg(x->db));
    sqlite3_finalize(stmt);
    zstr_free(&what);
}

//  One blob file as a blob line and its chunk lines, its hash checked.
static void s_export_file(export_t *x, ca_blobs_t *blobs, const char *dir, const uint8_t *hash,
                          uint64_t size) {
    char hex[65];
    ca_hash_to_hex(hash, hex);
    char *path = ca_blobs_path(blobs, hash);
    FILE *file = fopen(path, "rb");
    ca_sha256_t *sha = ca_sha256_new();
    uint8_t *chunk = (uint8_t *)malloc(EXPORT_CHUNK);
    if (!file)
        x->error = zsys_sprintf("cannot read %s (indexed, %" PRIu64 " bytes): %s; run `cairnd "
                                "check` on the data dir",
                                path, size, strerror(errno));
    else if (!sha || !chunk)
        x->error = strdup("out of memory");
    json_t *line = json_pack("{s:s,s:s,s:I}", "blob", dir, "hash", hex, "size", (json_int_t)size);
    if (!x->error)
        s_emit(x, &line, dir);
    json_decref(line);
    uint64_t read = 0;
    while (!x->error) {
        size_t got = fread(chunk, 1, EXPORT_CHUNK, file);
        if (got == 0)
            break;
        read += got;
        if (read > size)
            break;
        ca_sha256_update(sha, chunk, got);
        char *text = s_base64(chunk, got);
        json_t *piece = text ? json_pack("{s:s}", "chunk", text) : NULL;
        free(text);
        s_emit(x, &piece, dir);
    }
    uint8_t digest[CA_SHA256_BYTES];
    if (!x->error && ferror(file))
        x->error = zsys_sprintf("cannot read %s: %s", path, strerror(errno));
    if (!x->error) {
        ca_sha256_final(sha, digest);
        if (read != size || memcmp(digest, hash, sizeof digest) != 0)
            x->error = zsys_sprintf("%s is damaged (%s): run `cairnd check` on the data dir and "
                                    "repair it before exporting",
                                    path,
                                    read != size ? "not the size its row says"
                                                 : "its bytes do not hash to its name");
    }
    if (!x->error)
        s_count(x->counts, "blobs", dir);
    free(chunk);
    ca_sha256_destroy(&sha);
    if (file)
        fclose(file);
    zstr_free(&path);
}

static void s_export_blobs(export_t *x) {
    for (size_t i = 0; i < NODE_BLOB_STORES && !x->error; i++) {
        const node_blob_store_t *store = &node_blob_stores[i];
        json_object_set_new(json_object_get(x->counts, "blobs"), store->dir, json_integer(0));
        char *select =
            store->inline_table
                ? zsys_sprintf("SELECT hash, size FROM %s b WHERE NOT EXISTS (SELECT 1 FROM %s i"
                               " WHERE i.hash = b.hash) ORDER BY hash",
                               store->table, store->inline_table)
                : zsys_sprintf("SELECT hash, size FROM %s ORDER BY hash", store->table);
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(x->db, select, -1, &stmt, NULL) != SQLITE_OK)
            x->error =
                zsys_sprintf("cannot read the %s index: %s", store->dir, sqlite3_errmsg(x->db));
        ca_blobs_t *blobs = NULL; //  opened at the first row (a store may have no folder)
        char *error = NULL;
        while (!x->error && sqlite3_step(stmt) == SQLITE_ROW) {
            if (sqlite3_column_bytes(stmt, 0) != CA_SHA256_BYTES)
                x->error = zsys_sprintf("the %s index (table %s) has a row whose hash is not %d "
                                        "bytes: run `cairnd check` on the data dir and repair it "
                                        "before exporting",
                                        store->dir, store->table, CA_SHA256_BYTES);
            else if (!blobs && !(blobs = ca_blobs_open(x->data_dir, store->dir, &error))) {
                x->error = zsys_sprintf("%s; run `cairnd check` on the data dir", error);
                zstr_free(&error);
            } else
                s_export_file(x, blobs, store->dir, (const uint8_t *)sqlite3_column_blob(stmt, 0),
                              (uint64_t)sqlite3_column_int64(stmt, 1));
        }
        ca_blobs_destroy(&blobs);
        sqlite3_finalize(stmt);
        zstr_free(&select);
    }
}

//  One filesystem or Redis namespace's keys and values.
static void s_export_namespace(export_t *x, const kv_ns_t *ns) {
    const kv_backend_t *backend = kv_backend_of(ns);
    void *state = kv_is_redis(ns) ? x->redis : NULL;
    kv_keys_t keys = {0};
    kv_err_t err = {0};
    json_object_set_new(json_object_get(x->counts, "kv"), ns->name, json_integer(0));
    char what[KV_NAME_MAX + 32];
    snprintf(what, sizeof what, "kv namespace '%s'", ns->name);
    if (backend->keys(state, ns, "", &keys, &err) != CA_OK) {
        if (kv_is_redis(ns) && x->skip_redis) {
            fprintf(x->err,
                    "cairnd export: warning: Redis namespace '%s' left out (--skip-redis): %s\n",
                    ns->name, err.message);
            json_t *line = json_pack("{s:s,s:s}", "kv_skipped", ns->name, "reason", err.message);
            s_emit(x, &line, what);
        } else
            x->error =
                zsys_sprintf("kv namespace '%s' (%s): %s%s", ns->name, backend->name, err.message,
                             kv_is_redis(ns) ? "; start its Redis server, or pass "
                                               "--skip-redis to leave its keys out"
                                             : "");
        kv_keys_free(&keys);
        return;
    }
    kv_keys_sort(&keys);
    for (size_t i = 0; i < keys.count && !x->error; i++) {
        uint8_t *value = NULL;
        size_t size = 0;
        ca_status_t status = backend->get(state, ns, keys.keys[i], &value, &size, &err);
        if (status == CA_NOT_FOUND)
            continue; //  gone between the listing and the read (a shared Redis)
        if (status != CA_OK) {
            x->error = zsys_sprintf("kv namespace '%s', key '%s': %s", ns->name, keys.keys[i],
                                    err.message);
            break;
        }
        char *text = s_base64(value, size);
        free(value);
        json_t *line =
            text ? json_pack("{s:s,s:s,s:s}", "kv", ns->name, "key", keys.keys[i], "value", text)
                 : NULL;
        free(text);
        s_emit(x, &line, what);
        s_count(x->counts, "kv", ns->name);
    }
    kv_keys_free(&keys);
}

static void s_export_kv(export_t *x) {
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(x->db,
                           "SELECT " KV_NS_COLUMNS " FROM kv_namespaces WHERE backend IN (?1, ?2)"
                           " ORDER BY name",
                           -1, &stmt, NULL) != SQLITE_OK) {
        x->error = zsys_sprintf("cannot read kv_namespaces: %s", sqlite3_errmsg(x->db));
        return;
    }
    sqlite3_bind_int(stmt, 1, CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM);
    sqlite3_bind_int(stmt, 2, CAIRN__KV_BACKEND__KV_BACKEND_REDIS);
    while (!x->error && sqlite3_step(stmt) == SQLITE_ROW) {
        kv_ns_t ns;
        kv_ns_from_row(stmt, &ns);
        s_export_namespace(x, &ns);
        sodium_memzero(&ns, sizeof ns);
    }
    sqlite3_finalize(stmt);
}

//  The header, or NULL with *error: the schemas must be this cairnd's.
static json_t *s_header(sqlite3 *db, char **error) {
    json_t *schemas = json_object();
    const ca_schema_t *list[64];
    size_t count = s_schemas(list, 64);
    for (size_t i = 0; i < count && !*error; i++) {
        int64_t version = ca_schema_version(db, list[i]->store);
        if (version != (int64_t)list[i]->count)
            *error = zsys_sprintf(
                "store '%s' is at schema version %lld, this cairnd's is %zu: %s", list[i]->store,
                (long long)version, list[i]->count,
                version < (int64_t)list[i]->count
                    ? "start this cairnd on the data dir once (it migrates), stop it, then export"
                    : "export with the newer cairnd that wrote it");
        json_object_set_new(schemas, list[i]->store, json_integer(version));
    }
    if (*error) {
        json_decref(schemas);
        return NULL;
    }
    return json_pack("{s:s,s:i,s:s,s:I,s:o}", "format", NODE_EXPORT_FORMAT, "version",
                     NODE_EXPORT_VERSION, "cairnd", CAIRN_VERSION, "exported_us",
                     (json_int_t)zclock_usecs(), "schemas", schemas);
}

//  The export's output: stdout for "-", an existing device or pipe itself,
//  else a new private file beside `file` (*tmp, mode 0600: an export holds
//  every value and Redis password) that replaces it only when whole.
static FILE *s_export_open(const char *file, char **tmp, char **error) {
    if (streq(file, "-"))
        return stdout;
    struct stat info;
    FILE *stream = NULL;
    if (stat(file, &info) == 0 && !S_ISREG(info.st_mode)) {
        stream = fopen(file, "w"); //  /dev/full, a named pipe: never renamed over
        if (!stream)
            *error = zsys_sprintf("cannot create %s: %s", file, strerror(errno));
        return stream;
    }
    *tmp = zsys_sprintf("%s.tmp-%d", file, (int)getpid());
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    stream = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!stream) {
        *error = zsys_sprintf("cannot create %s: %s", *tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(*tmp);
        }
        zstr_free(tmp);
    }
    return stream;
}

int node_export_run(const char *data_dir, const char *file, bool skip_redis, FILE *out, FILE *err) {
    struct stat info;
    if (stat(data_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        fprintf(err, "cairnd export: the data dir %s does not exist; give --data-dir\n", data_dir);
        return NODE_EXPORT_REFUSED;
    }
    char *error = NULL;
    int lock_fd = node_lock_data_dir(data_dir, &error);
    if (lock_fd < 0) {
        fprintf(err,
                "cairnd export: %s; export runs on a stopped node (to export a serving node, "
                "`cairn backup DIR` and export DIR)\n",
                error);
        zstr_free(&error);
        return NODE_EXPORT_REFUSED;
    }
    char *db_path = zsys_sprintf("%s/%s", data_dir, CA_DB_FILE);
    export_t x = {.data_dir = data_dir, .path = file, .err = err, .skip_redis = skip_redis};
    char *tmp = NULL; //  a regular file is written here, renamed to `file` when whole
    int status = NODE_EXPORT_REFUSED;
    ca_sql_t *sql = NULL;
    json_t *header = NULL;
    if (stat(db_path, &info) != 0 || info.st_size == 0)
        error = zsys_sprintf("%s is missing or empty: nothing to export", db_path);
    else if (!(sql = ca_sql_open(db_path, CA_SQL_READ_ONLY, NULL, &error)))
        ;
    else if (!(header = s_header(ca_sql_handle(sql), &error)))
        ;
    else {
        status = NODE_EXPORT_FAILED;
        x.db = ca_sql_handle(sql);
        x.file = s_export_open(file, &tmp, &error);
    }
    if (x.file) {
        x.counts = s_counts_new();
        x.redis = kv_redis_state_new();
        s_emit(&x, &header, "the header");
        zlistx_t *tables = s_tables(x.db);
        for (const char *t = (const char *)zlistx_first(tables); t && !x.error;
             t = (const char *)zlistx_next(tables))
            s_export_table(&x, t);
        zlistx_destroy(&tables);
        if (!x.error)
            s_export_blobs(&x);
        if (!x.error)
            s_export_kv(&x);
        json_t *end = json_pack("{s:b,s:I,s:O}", "end", 1, "lines", (json_int_t)x.lines + 1,
                                "counts", x.counts);
        s_emit(&x, &end, "the end line");
        if (!x.error && (fflush(x.file) != 0 || (x.file != stdout && fsync(fileno(x.file)) != 0)))
            x.error = zsys_sprintf("cannot write %s: %s", file, strerror(errno));
        if (x.file != stdout && fclose(x.file) != 0 && !x.error)
            x.error = zsys_sprintf("cannot write %s: %s", file, strerror(errno));
        if (!x.error && tmp && rename(tmp, file) != 0)
            x.error = zsys_sprintf("cannot rename %s to %s: %s", tmp, file, strerror(errno));
        if (x.error && tmp)
            unlink(tmp); //  `file` itself is left as it was
        char *parent = tmp && !x.error ? strdup(file) : NULL;
        if (parent && ca_fsync_dir(dirname(parent)) != 0)
            fprintf(err, "cairnd export: warning: cannot fsync the folder of %s\n", file);
        free(parent);
        error = x.error;
        if (!error) {
            status = NODE_EXPORT_DONE;
            json_t *counted = json_object_get(x.counts, "tables");
            json_int_t rows = 0;
            const char *key;
            json_t *value;
            json_object_foreach(counted, key, value) rows += json_integer_value(value);
            char *counts = json_dumps(x.counts, JSON_COMPACT);
            fprintf(out,
                    "cairnd export: %s exported to %s: %" PRIu64 " lines, %" JSON_INTEGER_FORMAT
                    " rows in %zu tables; counts %s\n",
                    data_dir, streq(file, "-") ? "stdout" : file, x.lines, (json_int_t)rows,
                    json_object_size(counted), counts ? counts : "");
            free(counts);
        }
        kv_redis_state_destroy(&x.redis);
        json_decref(x.counts);
    }
    json_decref(header);
    if (error)
        fprintf(err, "cairnd export: %s%s\n", error,
                status == NODE_EXPORT_FAILED && !streq(file, "-") ? " (nothing written)" : "");
    zstr_free(&error);
    zstr_free(&tmp);
    ca_sql_destroy(&sql);
    zstr_free(&db_path);
    close(lock_fd);
    return status;
}

//  ---- import ---------------------------------------------------------------------

typedef enum { PHASE_TABLES, PHASE_BLOBS, PHASE_KV, PHASE_END } phase_t;

typedef struct {
    const char *data_dir;    //  as given (a filesystem namespace's path is made from it)
    char real_dir[PATH_MAX]; //  its real path (kv_fs_new_path resolves it)
    char *staging;
    bool skip_redis;
    FILE *in;
    FILE *err; //  warnings
    char *line;
    size_t capacity;
    uint64_t number; //  of the line
    ca_sql_t *sql;
    sqlite3 *db;
    zhashx_t *tables;  //  name -> "" (importable) or "cleared"
    zhashx_t *spaces;  //  name -> kv_ns_t (path: its staging folder)
    zlistx_t *written; //  Redis namespaces written (cleared again on failure)
    void *redis;
    phase_t phase;
    json_t *counts;
    ca_blobs_t *blobs[NODE_BLOB_STORES];
    ca_upload_t *upload; //  the blob being read
    size_t upload_store;
    uint8_t upload_hash[CA_SHA256_BYTES];
    uint64_t upload_size;
    char *error;
} import_t;

static void s_fail(import_t *m, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void s_fail(import_t *m, const char *format, ...) {
    if (m->error)
        return;
    va_list args;
    va_start(args, format);
    char *text = zsys_vprintf(format, args);
    va_end(args);
    m->error = zsys_sprintf("line %" PRIu64 ": %s", m->number, text ? text : "out of memory");
    zstr_free(&text);
}

//  The next line into m->line: 1, 0 at the end, -1 (m->error) when a line
//  is too long, does not end in a newline, or cannot be read.
static int s_read_line(import_t *m) {
    size_t length = 0;
    m->number++;
    int c;
    while ((c = getc(m->in)) != EOF && c != '\n') {
        if (length + 2 > m->capacity) {
            if (m->capacity >= EXPORT_LINE_MAX) {
                s_fail(m,
                       "longer than %d bytes, the longest line an export has: the file is "
                       "damaged or not a cairn export",
                       EXPORT_LINE_MAX);
                return -1;
            }
            size_t capacity = m->capacity ? m->capacity * 2 : 65536;
            char *bigger = (char *)realloc(m->line, capacity);
            if (!bigger) {
                s_fail(m, "out of memory");
                return -1;
            }
            m->line = bigger;
            m->capacity = capacity;
        }
        m->line[length++] = (char)c;
    }
    if (ferror(m->in)) {
        s_fail(m, "cannot read the file: %s", strerror(errno));
        return -1;
    }
    if (c == EOF && length == 0)
        return 0;
    if (c == EOF) {
        s_fail(m, "the file ends inside this line: it is truncated");
        return -1;
    }
    m->line[length] = '\0';
    return 1;
}

//  Binds one value (s_value's forms) to parameter `index`.
static bool s_bind(import_t *m, sqlite3_stmt *stmt, int index, json_t *value, const char *column) {
    if (json_is_null(value))
        return sqlite3_bind_null(stmt, index) == SQLITE_OK;
    if (json_is_integer(value))
        return sqlite3_bind_int64(stmt, index, json_integer_value(value)) == SQLITE_OK;
    if (json_is_real(value))
        return sqlite3_bind_double(stmt, index, json_real_value(value)) == SQLITE_OK;
    if (json_is_string(value))
        return sqlite3_bind_text(stmt, index, json_string_value(value),
                                 (int)json_string_length(value), SQLITE_TRANSIENT) == SQLITE_OK;
    json_t *hex = json_object_get(value, "hex");
    bool text = !hex;
    if (text)
        hex = json_object_get(value, "text_hex");
    size_t length = json_string_length(hex), size = 0;
    uint8_t *bytes = hex ? (uint8_t *)malloc(length / 2 + 1) : NULL;
    const char *end = NULL;
    bool ok = bytes && json_object_size(value) == 1 && length % 2 == 0 &&
              sodium_hex2bin(bytes, length / 2 + 1, json_string_value(hex), length, NULL, &size,
                             &end) == 0 &&
              end == json_string_value(hex) + length;
    if (ok)
        ok =
            (text
                 ? sqlite3_bind_text(stmt, index, (const char *)bytes, (int)size, SQLITE_TRANSIENT)
                 : sqlite3_bind_blob(stmt, index, bytes, (int)size, SQLITE_TRANSIENT)) == SQLITE_OK;
    else
        s_fail(m,
               "column %s: a value must be null, a number, a string, {\"hex\": ...} or "
               "{\"text_hex\": ...} with an even number of hex digits",
               column);
    free(bytes);
    return ok;
}

//  Field `name` of a line: a string without NUL, or NULL.
static const char *s_text(json_t *line, const char *name) {
    json_t *value = json_object_get(line, name);
    const char *text = json_string_value(value);
    return text && strlen(text) == json_string_length(value) ? text : NULL;
}

static void s_import_row(import_t *m, json_t *line) {
    const char *table = s_text(line, "table");
    if (!table) {
        s_fail(m, "\"table\" must be a string (a table's name)");
        return;
    }
    json_t *row = json_object_get(line, "row");
    json_t *rowid = json_object_get(line, "rowid");
    const char *state = (const char *)zhashx_lookup(m->tables, table);
    if (!state) {
        s_fail(m, "'%s' is not a table this cairnd imports", table);
        return;
    }
    if (!json_is_object(row) || (rowid && !json_is_integer(rowid))) {
        s_fail(m, "a table line needs \"row\" (an object) and an integer \"rowid\" if any");
        return;
    }
    if (!*state) {
        char *clear = zsys_sprintf("DELETE FROM \"%s\"", table); //  rows a migration made
        if (ca_sql_exec(m->sql, clear) != 0)
            s_fail(m, "cannot empty table %s: %s", table, sqlite3_errmsg(m->db));
        zstr_free(&clear);
        zhashx_update(m->tables, table, (void *)"cleared");
    }
    zchunk_t *names = zchunk_new(NULL, 256), *marks = zchunk_new(NULL, 64);
    zchunk_extend(names, rowid ? "rowid" : "", rowid ? 5 : 0);
    zchunk_extend(marks, rowid ? "?" : "", rowid ? 1 : 0);
    const char *column;
    json_t *value;
    json_object_foreach(row, column, value) {
        bool first = zchunk_size(names) == 0;
        zchunk_extend(names, first ? "\"" : ", \"", first ? 1 : 3);
        for (const char *c = column; *c; c++)
            zchunk_extend(names, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
        zchunk_extend(names, "\"", 1);
        zchunk_extend(marks, first ? "?" : ", ?", first ? 1 : 3);
    }
    char *insert = zsys_sprintf("INSERT INTO \"%s\" (%.*s) VALUES (%.*s)", table,
                                (int)zchunk_size(names), (char *)zchunk_data(names),
                                (int)zchunk_size(marks), (char *)zchunk_data(marks));
    zchunk_destroy(&names);
    zchunk_destroy(&marks);
    sqlite3_stmt *stmt = m->error ? NULL : ca_sql_prepare(m->sql, insert);
    zstr_free(&insert);
    if (!stmt) {
        s_fail(m, "cannot insert into %s: %s", table, sqlite3_errmsg(m->db));
        return;
    }
    int index = 1;
    if (rowid)
        sqlite3_bind_int64(stmt, index++, json_integer_value(rowid));
    json_object_foreach(row, column, value) {
        if (!s_bind(m, stmt, index++, value, column))
            break;
    }
    if (!m->error && sqlite3_step(stmt) != SQLITE_DONE)
        s_fail(m, "cannot insert into %s: %s", table, sqlite3_errmsg(m->db));
    sqlite3_reset(stmt);
    if (!m->error)
        s_count(m->counts, "tables", table);
}

//  A filesystem namespace's folder in the new data dir: its row's path
//  rewritten, the folder made under the staging directory (renamed into
//  place), and checked to be inside it.
static void s_fs_folder(import_t *m, kv_ns_t *ns) {
    char path[PATH_MAX];
    kv_err_t err = {0};
    if (!kv_fs_new_path(m->data_dir, ns->name, path, sizeof path, &err)) {
        s_fail(m, "kv namespace '%s': %s", ns->name, err.message);
        return;
    }
    size_t root = strlen(m->real_dir);
    if (strncmp(path, m->real_dir, root) != 0 || path[root] != '/') {
        s_fail(m, "kv namespace '%s': its folder %s is not inside %s", ns->name, path, m->real_dir);
        return;
    }
    sqlite3_stmt *update =
        ca_sql_prepare(m->sql, "UPDATE kv_namespaces SET path = ?1 WHERE id = ?2");
    if (!update) {
        s_fail(m, "cannot update kv_namespaces: %s", sqlite3_errmsg(m->db));
        return;
    }
    sqlite3_bind_text(update, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(update, 2, ns->id);
    if (sqlite3_step(update) != SQLITE_DONE)
        s_fail(m, "cannot update kv_namespaces: %s", sqlite3_errmsg(m->db));
    sqlite3_reset(update);
    snprintf(ns->path, sizeof ns->path, "%s%s", m->staging, path + root);
    if (!m->error && kv_fs_backend.create(NULL, ns, &err) != CA_OK)
        s_fail(m, "kv namespace '%s': %s", ns->name, err.message);
    char staging[PATH_MAX], folder[PATH_MAX];
    size_t length = 0;
    if (!m->error && !(realpath(m->staging, staging) && realpath(ns->path, folder) &&
                       (length = strlen(staging)) > 0 && strncmp(folder, staging, length) == 0 &&
                       folder[length] == '/'))
        s_fail(m, "kv namespace '%s': its folder %s is not inside %s", ns->name, ns->path,
               m->staging);
}

//  After the last table line: filesystem namespaces get a folder in the
//  new data dir (their row's path rewritten), Redis ones a check that
//  their server holds nothing under their prefix.
static void s_tables_done(import_t *m) {
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(m->db, "SELECT " KV_NS_COLUMNS " FROM kv_namespaces WHERE backend != ?1",
                           -1, &stmt, NULL) != SQLITE_OK) {
        s_fail(m, "cannot read kv_namespaces: %s", sqlite3_errmsg(m->db));
        return;
    }
    sqlite3_bind_int(stmt, 1, CAIRN__KV_BACKEND__KV_BACKEND_SQLITE);
    while (!m->error && sqlite3_step(stmt) == SQLITE_ROW) {
        kv_ns_t *ns = (kv_ns_t *)zmalloc(sizeof(kv_ns_t));
        kv_ns_from_row(stmt, ns);
        kv_err_t err = {0};
        const char *problem = kv_name_problem(ns->name);
        if (problem)
            s_fail(m,
                   "a kv_namespaces row's name '%s' is refused: it %s (" KV_NAME_RULE
                   "); the file is damaged",
                   ns->name, problem);
        else if (ns->backend != CAIRN__KV_BACKEND__KV_BACKEND_FILESYSTEM && !kv_is_redis(ns))
            s_fail(m, "kv namespace '%s' has backend %d, which this cairnd does not know", ns->name,
                   ns->backend);
        else if (!kv_is_redis(ns))
            s_fs_folder(m, ns);
        else if (!m->skip_redis) {
            kv_keys_t keys = {0};
            if (kv_redis_backend.keys(m->redis, ns, "", &keys, &err) != CA_OK)
                s_fail(m,
                       "kv namespace '%s' (redis): %s; start its Redis server, or pass "
                       "--skip-redis to import without its keys",
                       ns->name, err.message);
            else if (keys.count > 0)
                s_fail(m,
                       "kv namespace '%s': its Redis server %s:%u (db %u) already holds %zu "
                       "key(s) under the prefix '%s'; import writes only into an empty "
                       "namespace: remove them, or pass --skip-redis",
                       ns->name, ns->host, ns->port, ns->db, keys.count, ns->prefix);
            kv_keys_free(&keys);
        }
        zhashx_update(m->spaces, ns->name, ns);
    }
    sqlite3_finalize(stmt);
}

static void s_import_blob(import_t *m, json_t *line) {
    const char *dir = s_text(line, "blob");
    const char *hex = s_text(line, "hash");
    json_t *size = json_object_get(line, "size");
    size_t store = NODE_BLOB_STORES;
    for (size_t i = 0; i < NODE_BLOB_STORES; i++)
        if (dir && streq(dir, node_blob_stores[i].dir))
            store = i;
    if (store == NODE_BLOB_STORES) {
        s_fail(m, "blob store '%s' is unknown (content, cache)", dir ? dir : "");
        return;
    }
    if (!hex || strlen(hex) != 64 || !ca_hash_from_hex(hex, m->upload_hash)) {
        s_fail(m, "a blob line needs \"hash\", 64 hex digits");
        return;
    }
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
        s_fail(m, "a blob line needs \"size\", a byte count");
        return;
    }
    char *error = NULL;
    if (!m->blobs[store]) {
        error = ca_blobs_prepare(m->staging, dir);
        if (!error)
            m->blobs[store] = ca_blobs_open(m->staging, dir, &error);
    }
    if (!error)
        m->upload = ca_upload_new(m->blobs[store], &error);
    if (error)
        s_fail(m, "%s", error);
    zstr_free(&error);
    m->upload_store = store;
    m->upload_size = (uint64_t)json_integer_value(size);
}

//  The blob being read is whole: its hash checked, linked into place.
static void s_blob_done(import_t *m) {
    uint8_t digest[CA_SHA256_BYTES];
    char *error = NULL;
    char hex[65];
    ca_hash_to_hex(m->upload_hash, hex);
    if (ca_upload_finish(m->upload, digest, &error) != 0)
        s_fail(m, "%s", error);
    else if (memcmp(digest, m->upload_hash, sizeof digest) != 0)
        s_fail(m, "the bytes of %s blob %s do not hash to its name: the file is damaged",
               node_blob_stores[m->upload_store].dir, hex);
    else if (ca_blobs_link(m->blobs[m->upload_store], m->upload, m->upload_hash, m->upload_size,
                           &error) != 0)
        s_fail(m, "%s", error);
    else
        s_count(m->counts, "blobs", node_blob_stores[m->upload_store].dir);
    zstr_free(&error);
    ca_upload_discard(&m->upload);
}

static void s_import_chunk(import_t *m, json_t *line) {
    size_t size = 0;
    uint8_t *bytes = s_unbase64(json_object_get(line, "chunk"), &size);
    char *error = NULL;
    if (!bytes)
        s_fail(m, "a chunk line needs \"chunk\", base64");
    else if (ca_upload_size(m->upload) + size > m->upload_size)
        s_fail(m, "more bytes than the blob's size (%" PRIu64 ")", m->upload_size);
    else if (ca_upload_write(m->upload, bytes, size, &error) != 0)
        s_fail(m, "%s", error);
    zstr_free(&error);
    free(bytes);
}

static void s_import_kv(import_t *m, json_t *line) {
    const char *name = s_text(line, "kv");
    const char *key = s_text(line, "key");
    json_t *value = json_object_get(line, "value");
    kv_ns_t *ns = name ? (kv_ns_t *)zhashx_lookup(m->spaces, name) : NULL;
    if (!ns) {
        s_fail(m,
               "kv namespace '%s' is not a filesystem or Redis namespace of the "
               "file's kv_namespaces rows",
               name ? name : "");
        return;
    }
    const char *problem = key ? kv_key_problem(key) : "is missing";
    if (problem) {
        s_fail(m, "kv namespace '%s': key '%s' is refused: it %s", name, key ? key : "", problem);
        return;
    }
    size_t size = 0;
    uint8_t *bytes = s_unbase64(value, &size);
    if (!bytes)
        s_fail(m, "a kv line needs \"value\", base64");
    else if (!(kv_is_redis(ns) && m->skip_redis)) {
        kv_err_t err = {0};
        bool created = false;
        if (kv_is_redis(ns) && !zlistx_find(m->written, ns->name))
            zlistx_add_end(m->written, ns->name);
        if (kv_backend_of(ns)->put(kv_is_redis(ns) ? m->redis : NULL, ns, key, bytes, size,
                                   &created, &err) != CA_OK)
            s_fail(m, "kv namespace '%s', key '%s': %s", name, key, err.message);
    }
    if (!m->error)
        s_count(m->counts, "kv", name);
    free(bytes);
}

//  The end line's counts against what was read: NULL or the first difference.
static char *s_counts_differ(json_t *expected, json_t *got) {
    const char *sections[] = {"tables", "blobs", "kv"};
    for (size_t s = 0; s < 3; s++) {
        json_t *want = json_object_get(expected, sections[s]);
        json_t *have = json_object_get(got, sections[s]);
        if (!json_is_object(want))
            return zsys_sprintf("the end line has no \"%s\" counts", sections[s]);
        const char *name;
        json_t *count;
        json_object_foreach(want, name, count) {
            json_t *read = json_object_get(have, name);
            if (!json_is_integer(count) ||
                json_integer_value(count) != (read ? json_integer_value(read) : 0))
                return zsys_sprintf("%s %s: the end line counts %" JSON_INTEGER_FORMAT
                                    ", the file holds %" JSON_INTEGER_FORMAT,
                                    sections[s], name, json_integer_value(count),
                                    read ? json_integer_value(read) : 0);
        }
        json_object_foreach(
            have, name,
            count) if (!json_object_get(want,
                                        name)) return zsys_sprintf("%s %s: the file holds lines "
                                                                   "the end line does not count",
                                                                   sections[s], name);
    }
    return NULL;
}

//  One line after the header, by its kind and the phase.
static void s_import_line(import_t *m, json_t *line) {
    phase_t phase = json_object_get(line, "table")        ? PHASE_TABLES
                    : json_object_get(line, "blob")       ? PHASE_BLOBS
                    : json_object_get(line, "chunk")      ? PHASE_BLOBS
                    : json_object_get(line, "kv")         ? PHASE_KV
                    : json_object_get(line, "kv_skipped") ? PHASE_KV
                    : json_object_get(line, "end")        ? PHASE_END
                                                          : (phase_t)-1;
    if (phase == (phase_t)-1 || m->phase == PHASE_END) {
        s_fail(m, m->phase == PHASE_END ? "a line after the end line"
                                        : "not a line of a cairn export (no table, blob, "
                                          "chunk, kv or end)");
        return;
    }
    if (m->upload && !json_object_get(line, "chunk")) {
        s_fail(m,
               "the blob before this line has %" PRIu64 " of its %" PRIu64
               " bytes: the file is truncated or damaged",
               ca_upload_size(m->upload), m->upload_size);
        return;
    }
    if (phase < m->phase) {
        s_fail(m, "lines out of order (tables, then blobs, then kv, then the end)");
        return;
    }
    if (m->phase == PHASE_TABLES && phase > PHASE_TABLES)
        s_tables_done(m);
    m->phase = phase;
    if (m->error)
        return;
    if (json_object_get(line, "table"))
        s_import_row(m, line);
    else if (json_object_get(line, "blob"))
        s_import_blob(m, line);
    else if (json_object_get(line, "chunk")) {
        if (!m->upload) {
            s_fail(m, "a chunk line without its blob line");
            return;
        }
        s_import_chunk(m, line);
    } else if (json_object_get(line, "kv"))
        s_import_kv(m, line);
    else if (json_object_get(line, "kv_skipped")) {
        const char *reason = s_text(line, "reason");
        fprintf(m->err,
                "cairnd import: warning: the file holds no keys of Redis namespace '%s' (left "
                "out by `cairnd export --skip-redis`%s%s)\n",
                s_text(line, "kv_skipped") ? s_text(line, "kv_skipped") : "?", reason ? ": " : "",
                reason ? reason : "");
    } else if (json_object_get(line, "end")) {
        char *differ = s_counts_differ(json_object_get(line, "counts"), m->counts);
        json_t *lines = json_object_get(line, "lines");
        if (!differ &&
            (!json_is_integer(lines) || json_integer_value(lines) != (json_int_t)m->number))
            differ = zsys_sprintf("the end line counts %s lines, this is line %" PRIu64,
                                  json_is_integer(lines) ? "other" : "no", m->number);
        if (differ)
            s_fail(m, "%s: the file is damaged", differ);
        zstr_free(&differ);
    }
    if (!m->error && m->upload && ca_upload_size(m->upload) == m->upload_size)
        s_blob_done(m);
}

//  The header: format, version and schemas this cairnd's. 0, or the exit status.
static int s_check_header(import_t *m, json_t *header) {
    const char *format = json_string_value(json_object_get(header, "format"));
    json_t *version = json_object_get(header, "version");
    json_t *schemas = json_object_get(header, "schemas");
    if (!format || !streq(format, NODE_EXPORT_FORMAT)) {
        s_fail(m, "not a cairn export (its first line has no \"format\": \"%s\")",
               NODE_EXPORT_FORMAT);
        return NODE_EXPORT_FAILED;
    }
    if (!json_is_integer(version) || json_integer_value(version) != NODE_EXPORT_VERSION) {
        s_fail(m,
               "format version %" JSON_INTEGER_FORMAT " is not one this cairnd reads (%d): "
               "import with the cairnd that wrote it, or a newer one",
               json_is_integer(version) ? json_integer_value(version) : 0, NODE_EXPORT_VERSION);
        return NODE_EXPORT_REFUSED;
    }
    const ca_schema_t *list[64];
    size_t count = s_schemas(list, 64);
    for (size_t i = 0; i < count; i++) {
        json_t *of = json_object_get(schemas, list[i]->store);
        if (!json_is_integer(of) || json_integer_value(of) != (json_int_t)list[i]->count) {
            s_fail(m,
                   "store '%s' is at schema version %s in the file, this cairnd's is %zu: "
                   "import with the cairnd that wrote it",
                   list[i]->store, json_is_integer(of) ? "another" : "(missing)", list[i]->count);
            return NODE_EXPORT_REFUSED;
        }
    }
    if (json_object_size(schemas) != count) {
        s_fail(m, "the file names stores this cairnd does not have: import with the cairnd "
                  "that wrote it");
        return NODE_EXPORT_REFUSED;
    }
    return 0;
}

//  A new cairn.db in the staging directory, every schema migrated,
//  triggers off, inside one transaction.
static void s_open_staging(import_t *m) {
    char *path = zsys_sprintf("%s/%s", m->staging, CA_DB_FILE);
    char *error = NULL;
    m->sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    zstr_free(&path);
    if (!m->sql) {
        s_fail(m, "%s", error);
        zstr_free(&error);
        return;
    }
    m->db = ca_sql_handle(m->sql);
    ca_sql_exec(m->sql, "PRAGMA journal_mode=WAL");
    const ca_schema_t *list[64];
    size_t count = s_schemas(list, 64);
    for (size_t i = 0; i < count && !error; i++) {
        size_t from = 0, to = 0;
        error = ca_schema_migrate(m->db, list[i], &from, &to);
    }
    if (error)
        s_fail(m, "cannot make the new database: %s", error);
    zstr_free(&error);
    int off = 0;
    if (!m->error &&
        (sqlite3_db_config(m->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &off) != SQLITE_OK ||
         ca_sql_exec(m->sql, "BEGIN IMMEDIATE") != 0))
        s_fail(m, "cannot start the import's transaction: %s", sqlite3_errmsg(m->db));
    zlistx_t *tables = s_tables(m->db);
    for (const char *t = (const char *)zlistx_first(tables); t;
         t = (const char *)zlistx_next(tables))
        zhashx_insert(m->tables, t, (void *)"");
    zlistx_destroy(&tables);
}

static void s_foreign_key_row(void *context, sqlite3_stmt *row) {
    import_t *m = (import_t *)context;
    s_fail(m, "a row of %s (rowid %lld) refers to a row of %s that the file does not hold",
           (const char *)sqlite3_column_text(row, 0), (long long)sqlite3_column_int64(row, 1),
           (const char *)sqlite3_column_text(row, 2));
}

//  After the end line: indexes rebuilt, foreign keys checked, COMMIT.
static void s_commit(import_t *m) {
    for (size_t i = 0; i < sizeof s_rebuilds / sizeof s_rebuilds[0] && !m->error; i++)
        if (ca_sql_exec(m->sql, s_rebuilds[i]) != 0)
            s_fail(m, "cannot rebuild an index: %s", sqlite3_errmsg(m->db));
    char *error = NULL;
    if (!m->error &&
        ca_sql_check(m->sql, "PRAGMA foreign_key_check", s_foreign_key_row, m, &error) < 0)
        s_fail(m, "%s", error);
    zstr_free(&error);
    if (!m->error && ca_sql_exec(m->sql, "COMMIT") != 0)
        s_fail(m, "cannot commit: %s", sqlite3_errmsg(m->db));
}

static void s_import_destroy(import_t *m) {
    ca_upload_discard(&m->upload);
    for (size_t i = 0; i < NODE_BLOB_STORES; i++)
        ca_blobs_destroy(&m->blobs[i]);
    ca_sql_destroy(&m->sql);
    zhashx_destroy(&m->tables);
    zhashx_destroy(&m->spaces);
    zlistx_destroy(&m->written);
    kv_redis_state_destroy(&m->redis);
    json_decref(m->counts);
    free(m->line);
    zstr_free(&m->staging);
    zstr_free(&m->error);
}

static void s_ns_free(void **item_p) {
    if (*item_p)
        sodium_memzero(*item_p, sizeof(kv_ns_t));
    free(*item_p);
    *item_p = NULL;
}

int node_import_run(const char *data_dir_given, const char *file, bool skip_redis, FILE *out,
                    FILE *err) {
    char data_dir[PATH_MAX];
    size_t length = strlen(data_dir_given);
    while (length > 1 && data_dir_given[length - 1] == '/')
        length--;
    if (length == 0 || length >= sizeof data_dir) {
        fprintf(err, "cairnd import: give --data-dir, the new node's data dir\n");
        return NODE_EXPORT_REFUSED;
    }
    memcpy(data_dir, data_dir_given, length);
    data_dir[length] = '\0';
    char *refused = node_restore_dir_free(data_dir, "import");
    if (refused) {
        fprintf(err, "cairnd import: %s\n", refused);
        zstr_free(&refused);
        return NODE_EXPORT_REFUSED;
    }
    import_t m = {
        .data_dir = data_dir, .err = err, .skip_redis = skip_redis, .phase = PHASE_TABLES};
    m.in = streq(file, "-") ? stdin : fopen(file, "r");
    if (!m.in) {
        fprintf(err, "cairnd import: cannot read %s: %s\n", file, strerror(errno));
        return NODE_EXPORT_REFUSED;
    }
    //  The data dir exists (empty) while importing, so that its real path
    //  is known; the staging directory replaces it at the end.
    bool made = mkdir(data_dir, 0700) == 0;
    if (!realpath(data_dir, m.real_dir)) {
        fprintf(err, "cairnd import: cannot create %s: %s\n", data_dir, strerror(errno));
        if (m.in != stdin)
            fclose(m.in);
        return NODE_EXPORT_REFUSED;
    }
    m.tables = zhashx_new();
    m.spaces = zhashx_new();
    zhashx_set_destructor(m.spaces, s_ns_free);
    m.written = zlistx_new();
    zlistx_set_comparator(m.written, (zlistx_comparator_fn *)strcmp);
    m.counts = s_counts_new();
    m.redis = kv_redis_state_new();
    int status = NODE_EXPORT_FAILED;
    json_error_t parse;
    json_t *header = NULL;
    if (s_read_line(&m) == 1 && !(header = json_loads(m.line, JSON_ALLOW_NUL, &parse)))
        s_fail(&m, "not JSON (%s): not a cairn export", parse.text);
    else if (header && json_is_object(header))
        status = s_check_header(&m, header);
    else if (!m.error)
        s_fail(&m, "the file is empty or its first line is not an object: not a cairn export");
    json_decref(header);
    bool staged = false;
    if (!m.error) {
        status = NODE_EXPORT_FAILED;
        m.staging = zsys_sprintf("%s.import-%d", data_dir, (int)getpid());
        staged = mkdir(m.staging, 0700) == 0;
        if (!staged)
            s_fail(&m, "cannot create %s: %s", m.staging, strerror(errno));
        else
            s_open_staging(&m);
    }
    int got = 0;
    while (!m.error && (got = s_read_line(&m)) == 1) {
        json_t *line = json_loads(m.line, JSON_ALLOW_NUL, &parse);
        if (!json_is_object(line))
            s_fail(&m, "not a JSON object (%s): the file is damaged",
                   line ? "another value" : parse.text);
        else
            s_import_line(&m, line);
        json_decref(line);
    }
    if (!m.error && m.phase != PHASE_END)
        s_fail(&m, "the file ends without its end line: it is truncated; export again");
    if (!m.error)
        s_commit(&m);
    ca_sql_destroy(&m.sql);
    for (size_t i = 0; i < NODE_BLOB_STORES; i++)
        ca_blobs_destroy(&m.blobs[i]);
    if (!m.error) {
        fprintf(out, "cairnd import: checking the new data dir (cairnd check):\n");
        if (node_check_run(m.staging, out, err) != NODE_CHECK_CLEAN)
            m.error = strdup("the imported data did not pass `cairnd check` (lines above); "
                             "nothing was installed");
    }
    if (!m.error && ca_fsync_dir(m.staging) != 0)
        m.error = zsys_sprintf("cannot fsync %s: %s", m.staging, strerror(errno));
    if (!m.error && rename(m.staging, data_dir) != 0)
        m.error = zsys_sprintf("cannot rename %s to %s: %s", m.staging, data_dir, strerror(errno));
    if (!m.error) {
        status = NODE_EXPORT_DONE;
        char *parent = strdup(data_dir);
        if (parent && ca_fsync_dir(dirname(parent)) != 0)
            fprintf(err, "cairnd import: warning: cannot fsync the parent of %s\n", data_dir);
        free(parent);
        char *counts = json_dumps(m.counts, JSON_COMPACT);
        fprintf(out,
                "cairnd import: %s imported into %s (%" PRIu64 " lines); counts %s; start "
                "cairnd on it\n",
                streq(file, "-") ? "stdin" : file, data_dir, m.number - 1, counts ? counts : "");
        free(counts);
    } else {
        fprintf(err, "cairnd import: %s; nothing was installed\n", m.error);
        if (staged)
            node_restore_remove_tree(m.staging);
        if (made)
            rmdir(data_dir);
        for (const char *name = (const char *)zlistx_first(m.written); name;
             name = (const char *)zlistx_next(m.written)) {
            kv_ns_t *ns = (kv_ns_t *)zhashx_lookup(m.spaces, name);
            kv_err_t kv_err = {0};
            uint64_t cleared = 0;
            if (ns && kv_redis_backend.clear(m.redis, ns, &cleared, &kv_err) != CA_OK)
                fprintf(err,
                        "cairnd import: warning: the keys written to Redis namespace '%s' "
                        "could not be removed again: %s\n",
                        name, kv_err.message);
        }
    }
    if (m.in != stdin)
        fclose(m.in);
    s_import_destroy(&m);
    return status;
}

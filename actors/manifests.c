/*  =========================================================================
    manifests - what each piece of content is: its manifest (metadata,
    tags, access lists, versions) and the L1 summaries of L0 content

    What it owns: the manifest and summary tables of provenance_schema
    (migration 1: manifests, manifest_tags, manifest_access, summaries,
    summary_items). The provenance pool reads `manifests` for the owner
    and visibility of a root; nothing else writes them.

    Requests: schemas/manifests.proto (hashes are 32 raw bytes). Puts
    and updates answer the manifest as stored.

    Checks and version rules live in manifests_rules.c (a private class,
    stateless): every field rule a request alone can break (INVALID,
    before anything is read or written), and the version rules of a chain
    (1, 2, 3 of one root, each following the one before), whose stored
    side is kept by guard statements inside the writer's transaction
    (CONFLICT), so they hold under races. This file reads, writes and
    answers: the SQL of the five tables, the writes and the pages.

    Order: every write (ManifestPut, ManifestUpdate, ManifestDelete,
    SummaryPut) is served by worker 0 (CA_ROUTE_ONE_WORKER), so the writes
    one connection sends commit in the order sent: a client may pipeline
    version 1, 2, 3 of a chain, or a put and then its update, without
    waiting for each answer. Reads go to any worker.

    A version that a later version follows cannot be deleted (CONFLICT):
    the chain would lose a link. Delete versions newest first. Deleting
    an unknown hash is not an error: `removed` is false.

    ManifestUpdate replaces the mutable fields (content type, visibility,
    title, description, tags, size, MIME type, price, totals, access
    lists, owner) and moves updated_at to now. The version fields and
    created_at never change: an update may repeat their stored values or
    leave them unset (0 / empty), anything else is INVALID. created_at and
    updated_at of a put or update request are ignored: the node sets them.

    Lists are rows, not text: tags keep their order (position), access
    lists come back sorted by peer id (a peer at most once per list; one
    peer may be on both, and deny wins). Every multi-row change (manifest,
    tags, access rows; summary and its items) is one write, so one
    savepoint: a reader never sees half of it.

    ManifestList is newest first (created_at, then hash) and its SQL is
    composed from the filters it has, so each filter walks its own index
    (visibility, content type or created_at) in order.

    ManifestVersions pages by version number: `after_version` is the
    number of the last version of the previous page, and the unique index
    (version_root, version_number) walks straight to the next. An empty
    page is checked against the root's version 1, so an unknown root is
    NOT_FOUND on every page, never an empty OK that looks like the end.
    ========================================================================= */

#include "manifests.h"
#include "ca_clock.h"
#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_validate.h"
#include "manifests_rules.h"
#include "provenance_schema.h"

#include <assert.h>
#include <math.h>
#include <string.h>

//  Columns of a manifest row, in the order s_manifest_from_row reads them.
#define MANIFEST_COLUMNS                                                                           \
    "hash, content_type, version_number, version_previous, version_root, version_timestamp,"       \
    " visibility, title, description, content_size, mime_type, price, total_queries,"              \
    " total_revenue, created_at, updated_at, owner"
#define MANIFEST_COLUMN_COUNT 17

#define SUMMARY_MENTION 0 //  summary_items.kind
#define SUMMARY_TOPIC   1

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  ---- rows: read from a statement or returned by the writer ------------------------

typedef struct {
    sqlite3_stmt *stmt;                       //  a row of a read, or
    Cairn__Internal__SqlValue *const *values; //  a row the writer returned
} row_t;

static int64_t s_row_int(const row_t *row, int column) {
    if (row->stmt)
        return sqlite3_column_int64(row->stmt, column);
    const Cairn__Internal__SqlValue *value = row->values[column];
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL)
        return (int64_t)value->real;
    return value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER ? value->integer : 0;
}

//  A REAL column read back through RETURNING may arrive as an integer
//  (SQLite keeps whole REAL values as integers): take either.
static double s_row_real(const row_t *row, int column) {
    if (row->stmt)
        return sqlite3_column_double(row->stmt, column);
    const Cairn__Internal__SqlValue *value = row->values[column];
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return (double)value->integer;
    return value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL ? value->real : 0;
}

static char *s_row_text(const row_t *row, int column, ca_reply_t *reply) {
    const char *text = NULL;
    if (row->stmt)
        text = (const char *)sqlite3_column_text(row->stmt, column);
    else if (row->values[column]->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT)
        text = row->values[column]->text;
    return ca_reply_strdup(reply, text ? text : "");
}

//  A blob column; NULL reads as empty.
static ProtobufCBinaryData s_row_blob(const row_t *row, int column, ca_reply_t *reply) {
    ProtobufCBinaryData data = {0, NULL};
    const void *blob = NULL;
    if (row->stmt) {
        blob = sqlite3_column_blob(row->stmt, column);
        data.len = (size_t)sqlite3_column_bytes(row->stmt, column);
    } else if (row->values[column]->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB) {
        blob = row->values[column]->blob.data;
        data.len = row->values[column]->blob.len;
    }
    if (blob && data.len)
        data.data = (uint8_t *)ca_reply_memdup(reply, blob, data.len);
    else
        data.len = 0;
    return data;
}

//  A manifest row (MANIFEST_COLUMNS) as a Manifest owned by the reply,
//  without its tags and access lists.
static Cairn__Manifest *s_manifest_from_row(const row_t *row, ca_reply_t *reply) {
    Cairn__Manifest *manifest = (Cairn__Manifest *)ca_reply_alloc(reply, sizeof(Cairn__Manifest));
    cairn__manifest__init(manifest);
    manifest->hash = s_row_blob(row, 0, reply);
    manifest->content_type = s_row_text(row, 1, reply);
    manifest->version_number = (uint32_t)s_row_int(row, 2);
    manifest->version_previous = s_row_blob(row, 3, reply);
    manifest->version_root = s_row_blob(row, 4, reply);
    manifest->version_timestamp = s_row_real(row, 5);
    manifest->visibility = (Cairn__Visibility)s_row_int(row, 6);
    manifest->title = s_row_text(row, 7, reply);
    manifest->description = s_row_text(row, 8, reply);
    manifest->content_size = (uint64_t)s_row_int(row, 9);
    manifest->mime_type = s_row_text(row, 10, reply);
    manifest->price = (uint64_t)s_row_int(row, 11);
    manifest->total_queries = (uint64_t)s_row_int(row, 12);
    manifest->total_revenue = (uint64_t)s_row_int(row, 13);
    manifest->created_at = s_row_real(row, 14);
    manifest->updated_at = s_row_real(row, 15);
    manifest->owner = s_row_text(row, 16, reply);
    return manifest;
}

//  ---- writes -------------------------------------------------------------------------

//  The statements that store the manifest's tags and access rows.
static void s_write_lists(ca_write_t *write, const Cairn__Manifest *manifest) {
    const uint8_t *hash = manifest->hash.data;
    for (size_t i = 0; i < manifest->n_tags; i++) {
        ca_write_statement(
            write, "INSERT INTO manifest_tags (hash, position, tag) VALUES (?1, ?2, ?3)",
            CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL, "a tag was not stored; retry");
        ca_write_blob(write, hash, CA_HASH_BYTES);
        ca_write_int(write, (int64_t)i);
        ca_write_text(write, manifest->tags[i]);
    }
    const Cairn__AccessControl *access = manifest->access;
    for (int allowed = 1; access && allowed >= 0; allowed--) {
        char **peers = allowed ? access->allow : access->deny;
        size_t count = allowed ? access->n_allow : access->n_deny;
        for (size_t i = 0; i < count; i++) {
            ca_write_statement(
                write, "INSERT INTO manifest_access (hash, peer_id, allowed) VALUES (?1, ?2, ?3)",
                CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                "an access list entry was not stored; retry");
            ca_write_blob(write, hash, CA_HASH_BYTES);
            ca_write_text(write, peers[i]);
            ca_write_int(write, allowed);
        }
    }
}

//  The statements that remove the manifest's tags and access rows.
static void s_write_clear_lists(ca_write_t *write, const uint8_t *hash) {
    ca_write_statement(write, "DELETE FROM manifest_tags WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_HASH_BYTES);
    ca_write_statement(write, "DELETE FROM manifest_access WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_HASH_BYTES);
}

//  ---- ManifestPut, ManifestUpdate ----------------------------------------------------

static void s_manifest_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Manifest *manifest = request->manifest_put->manifest;
    if (!manifests_rules_put_ok(manifest, reply))
        return;
    const uint8_t *root =
        manifest->version_number == 1 ? manifest->hash.data : manifest->version_root.data;
    double now = ca_now_seconds();
    ca_write_t *write = ca_write_new();
    uint8_t insert_at = manifests_rules_write_put_guards(write, manifest, root, reply);
    ca_write_statement(write,
                       "INSERT INTO manifests (" MANIFEST_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                       " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)"
                       " RETURNING " MANIFEST_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the manifest was not stored; retry");
    ca_write_want_rows(write);
    ca_write_blob(write, manifest->hash.data, CA_HASH_BYTES);
    ca_write_text(write, manifest->content_type);
    ca_write_int(write, manifest->version_number);
    if (manifest->version_number > 1)
        ca_write_blob(write, manifest->version_previous.data, CA_HASH_BYTES);
    else
        ca_write_null(write);
    ca_write_blob(write, root, CA_HASH_BYTES);
    ca_write_real(write, manifest->version_timestamp ? manifest->version_timestamp : now);
    ca_write_int(write, manifest->visibility);
    ca_write_text(write, manifest->title);
    ca_write_text(write, manifest->description);
    ca_write_int(write, (int64_t)manifest->content_size);
    ca_write_text(write, manifest->mime_type);
    ca_write_int(write, (int64_t)manifest->price);
    ca_write_int(write, (int64_t)manifest->total_queries);
    ca_write_int(write, (int64_t)manifest->total_revenue);
    ca_write_real(write, now);
    ca_write_text(write, manifest->owner);
    s_write_lists(write, manifest);
    ca_write_context(write, &insert_at, 1); //  which result holds the row
    ca_store_write(store, &write, reply);
}

static void s_manifest_update(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Manifest *manifest = request->manifest_update->manifest;
    if (!manifests_rules_update_ok(manifest, reply))
        return;
    ca_write_t *write = ca_write_new();
    uint8_t update_at = manifests_rules_write_update_guards(write, manifest, reply);
    ca_write_statement(write,
                       "UPDATE manifests SET content_type = ?2, visibility = ?3, title = ?4,"
                       " description = ?5, content_size = ?6, mime_type = ?7, price = ?8,"
                       " total_queries = ?9, total_revenue = ?10, updated_at = ?11, owner = ?12"
                       " WHERE hash = ?1 RETURNING " MANIFEST_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       "the manifest was deleted meanwhile; put it again (ManifestPut)");
    ca_write_want_rows(write);
    ca_write_blob(write, manifest->hash.data, CA_HASH_BYTES);
    ca_write_text(write, manifest->content_type);
    ca_write_int(write, manifest->visibility);
    ca_write_text(write, manifest->title);
    ca_write_text(write, manifest->description);
    ca_write_int(write, (int64_t)manifest->content_size);
    ca_write_text(write, manifest->mime_type);
    ca_write_int(write, (int64_t)manifest->price);
    ca_write_int(write, (int64_t)manifest->total_queries);
    ca_write_int(write, (int64_t)manifest->total_revenue);
    ca_write_real(write, ca_now_seconds());
    ca_write_text(write, manifest->owner);
    s_write_clear_lists(write, manifest->hash.data);
    s_write_lists(write, manifest);
    ca_write_context(write, &update_at, 1); //  which result holds the row
    ca_store_write(store, &write, reply);
}

static int s_compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  A reply-owned copy of a list, sorted as ManifestGet reads it (ORDER BY
//  peer_id: SQLite's BINARY collation, which is strcmp's order for text).
static char **s_sorted_list(char *const *list, size_t count, ca_reply_t *reply) {
    if (!count)
        return NULL;
    char **sorted = (char **)ca_reply_memdup(reply, list, count * sizeof(char *));
    qsort(sorted, count, sizeof(char *), s_compare_strings);
    return sorted;
}

//  The access lists a put or update stored, as a get answers them: sorted
//  by peer id, never NULL (a get always has them, maybe empty).
static Cairn__AccessControl *s_sorted_access(const Cairn__AccessControl *asked, ca_reply_t *reply) {
    Cairn__AccessControl *access =
        (Cairn__AccessControl *)ca_reply_alloc(reply, sizeof(Cairn__AccessControl));
    cairn__access_control__init(access);
    if (!asked)
        return access;
    access->allow = s_sorted_list(asked->allow, asked->n_allow, reply);
    access->n_allow = asked->n_allow;
    access->deny = s_sorted_list(asked->deny, asked->n_deny, reply);
    access->n_deny = asked->n_deny;
    return access;
}

//  Put and update: the row the write returned, with the lists it wrote.
static void s_manifest_written(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    size_t at = write->context.len == 1 ? write->context.data[0] : SIZE_MAX;
    const Cairn__Internal__StatementResult *result =
        at < write->n_results ? write->results[at] : NULL;
    if (!result || result->n_rows != 1 || result->rows[0]->n_values != MANIFEST_COLUMN_COUNT) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the manifest; retry");
        return;
    }
    row_t row = {NULL, result->rows[0]->values};
    Cairn__Manifest *manifest = s_manifest_from_row(&row, reply);
    bool put = request->body_case == CAIRN__REQUEST__BODY_MANIFEST_PUT;
    const Cairn__Manifest *asked =
        put ? request->manifest_put->manifest : request->manifest_update->manifest;
    manifest->tags = asked->tags; //  stored in their order
    manifest->n_tags = asked->n_tags;
    manifest->access = s_sorted_access(asked->access, reply);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case =
        put ? CAIRN__RESPONSE__BODY_MANIFEST_PUT : CAIRN__RESPONSE__BODY_MANIFEST_UPDATE;
    if (put)
        response->manifest_put = manifest;
    else
        response->manifest_update = manifest;
}

//  ---- ManifestGet, ManifestList, ManifestVersions ----------------------------------------

//  The text column of each row of `sql` (?1 = hash, optional ?2 = `kind`)
//  into a reply-owned array. False on a read error (reply set).
static bool s_read_strings(ca_store_t *store, const char *sql, const uint8_t *hash, int kind,
                           char ***strings_p, size_t *count_p, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store, sql, reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, hash, CA_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, kind);
    char **strings = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ca_reply_realloc(reply, &strings, count + 1, sizeof(char *)))
            break; //  rc is SQLITE_ROW: answered
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        strings[count++] = ca_reply_strdup(reply, text ? text : "");
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok && rc != SQLITE_ROW)
        s_read_failed(reply, stmt, rc, "read a list");
    sqlite3_reset(stmt);
    *count_p = count;
    *strings_p = count ? (char **)ca_reply_memdup(reply, strings, count * sizeof(char *)) : NULL;
    free(strings);
    return ok;
}

//  Adds the stored tags and access lists to a manifest read from its row.
static bool s_load_lists(ca_store_t *store, Cairn__Manifest *manifest, ca_reply_t *reply) {
    const uint8_t *hash = manifest->hash.data;
    Cairn__AccessControl *access =
        (Cairn__AccessControl *)ca_reply_alloc(reply, sizeof(Cairn__AccessControl));
    cairn__access_control__init(access);
    manifest->access = access;
    if (manifest->hash.len != CA_HASH_BYTES) { //  the table's CHECK rules it out
        ca_reply_error(reply, CA_INTERNAL, "a stored manifest has a %zu-byte hash; retry",
                       manifest->hash.len);
        return false;
    }
    return s_read_strings(store, "SELECT tag FROM manifest_tags WHERE hash = ?1 ORDER BY position",
                          hash, 0, &manifest->tags, &manifest->n_tags, reply) &&
           s_read_strings(store,
                          "SELECT peer_id FROM manifest_access WHERE hash = ?1 AND allowed = ?2"
                          " ORDER BY peer_id",
                          hash, 1, &access->allow, &access->n_allow, reply) &&
           s_read_strings(store,
                          "SELECT peer_id FROM manifest_access WHERE hash = ?1 AND allowed = ?2"
                          " ORDER BY peer_id",
                          hash, 0, &access->deny, &access->n_deny, reply);
}

//  Steps a bound statement that asks for limit + 1 manifest rows into a
//  page, each with its lists. False on a read error (reply set).
static bool s_collect_page(ca_store_t *store, sqlite3_stmt *stmt, size_t limit,
                           Cairn__ManifestPage **page_p, ca_reply_t *reply) {
    Cairn__ManifestPage *page =
        (Cairn__ManifestPage *)ca_reply_alloc(reply, sizeof(Cairn__ManifestPage));
    cairn__manifest_page__init(page);
    page->manifests =
        (Cairn__Manifest **)ca_reply_alloc(reply, (limit ? limit : 1) * sizeof(Cairn__Manifest *));
    row_t row = {stmt, NULL};
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_manifests == limit) {
            page->more = true;
            rc = SQLITE_DONE;
            break;
        }
        page->manifests[page->n_manifests++] = s_manifest_from_row(&row, reply);
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok)
        s_read_failed(reply, stmt, rc, "list manifests");
    sqlite3_reset(stmt);
    for (size_t i = 0; ok && i < page->n_manifests; i++)
        ok = s_load_lists(store, page->manifests[i], reply);
    *page_p = page;
    return ok;
}

static void s_manifest_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const ProtobufCBinaryData *hash = &request->manifest_get->hash;
    if (!ca_blob_store_hash_ok(hash, "hash", reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT " MANIFEST_COLUMNS " FROM manifests WHERE hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, hash->data, CA_HASH_BYTES, SQLITE_STATIC);
    Cairn__ManifestPage *page;
    if (!s_collect_page(store, stmt, 1, &page, reply))
        return;
    if (page->n_manifests == 0) {
        char hex[65];
        ca_hash_to_hex(hash->data, hex);
        ca_reply_error(reply, CA_NOT_FOUND, "no manifest for %s; put it first (ManifestPut)", hex);
        return;
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MANIFEST_GET;
    response->manifest_get = page->manifests[0];
}

//  The SQL of a ManifestList with the filters it has (?1 visibility, ?2
//  content type, ?3 after, ?4 before, ?5 limit + 1, ?6 offset).
static void s_list_sql(const Cairn__ManifestList *list, char *sql, size_t size) {
    const char *clauses[4];
    size_t count = 0;
    if (list->by_visibility)
        clauses[count++] = "visibility = ?1";
    if (*list->content_type)
        clauses[count++] = "content_type = ?2";
    if (list->created_after)
        clauses[count++] = "created_at > ?3";
    if (list->created_before)
        clauses[count++] = "created_at < ?4";
    size_t used = (size_t)snprintf(sql, size, "SELECT " MANIFEST_COLUMNS " FROM manifests");
    for (size_t i = 0; i < count; i++)
        used +=
            (size_t)snprintf(sql + used, size - used, "%s%s", i ? " AND " : " WHERE ", clauses[i]);
    snprintf(sql + used, size - used, " ORDER BY created_at DESC, hash DESC LIMIT ?5 OFFSET ?6");
}

static void s_manifest_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ManifestList *list = request->manifest_list;
    if (!manifests_rules_list_ok(list, reply))
        return;
    size_t limit = ca_page_limit(list->limit, CA_MANIFEST_PAGE_DEFAULT, CA_MANIFEST_PAGE_MAX,
                                 "manifests per page", "offset", reply);
    if (!limit)
        return;
    char sql[512];
    s_list_sql(list, sql, sizeof sql);
    sqlite3_stmt *stmt = ca_store_prepare(store, sql, reply);
    if (!stmt)
        return;
    sqlite3_bind_int(stmt, 1, list->visibility);
    sqlite3_bind_text(stmt, 2, list->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_double(stmt, 3, list->created_after);
    sqlite3_bind_double(stmt, 4, list->created_before);
    sqlite3_bind_int64(stmt, 5, (int64_t)limit + 1);
    sqlite3_bind_int64(stmt, 6, list->offset);
    Cairn__ManifestPage *page;
    if (!s_collect_page(store, stmt, limit, &page, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MANIFEST_LIST;
    response->manifest_list = page;
}

//  Whether `root` has a version 1 (NOT_FOUND set when not, or the read
//  error): the check behind an empty page of versions.
static bool s_root_known(ca_store_t *store, const uint8_t *root, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT 1 FROM manifests"
                                          " WHERE version_root = ?1 AND version_number = 1",
                                          reply);
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, root, CA_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        char hex[65];
        ca_hash_to_hex(root, hex);
        ca_reply_error(reply, CA_NOT_FOUND,
                       "no manifest has version root %s; give the hash of a version 1", hex);
    } else if (rc != SQLITE_ROW)
        s_read_failed(reply, stmt, rc, "read the version root");
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static void s_manifest_versions(ca_store_t *store, const Cairn__Request *request,
                                ca_reply_t *reply) {
    const Cairn__ManifestVersions *versions = request->manifest_versions;
    const ProtobufCBinaryData *root = &versions->version_root;
    if (!manifests_rules_versions_ok(versions, reply))
        return;
    size_t limit = ca_page_limit(versions->limit, CA_MANIFEST_PAGE_DEFAULT, CA_MANIFEST_PAGE_MAX,
                                 "versions per page", "after_version", reply);
    if (!limit)
        return;
    //  version_number is a uint32 on the wire: any larger cursor is past
    //  the last version. Clamped so the bound stays a valid SQLite integer.
    int64_t after = versions->after_version > UINT32_MAX ? (int64_t)UINT32_MAX
                                                         : (int64_t)versions->after_version;
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT " MANIFEST_COLUMNS " FROM manifests"
                                          " WHERE version_root = ?1 AND version_number > ?2"
                                          " ORDER BY version_number LIMIT ?3",
                                          reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, root->data, CA_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, after);
    sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1); //  one more tells whether more follow
    Cairn__ManifestPage *page;
    if (!s_collect_page(store, stmt, limit, &page, reply))
        return;
    if (page->n_manifests == 0 && !s_root_known(store, root->data, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS;
    response->manifest_versions = page;
}

//  ---- ManifestDelete ---------------------------------------------------------------------

static void s_manifest_delete(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const ProtobufCBinaryData *hash = &request->manifest_delete->hash;
    if (!ca_blob_store_hash_ok(hash, "hash", reply))
        return;
    ca_write_t *write = ca_write_new();
    manifests_rules_write_delete_guard(write, hash->data);
    s_write_clear_lists(write, hash->data);
    ca_write_statement(write, "DELETE FROM manifests WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash->data, CA_HASH_BYTES);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_manifest_deleted(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results != 4) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks the delete's results");
        return;
    }
    Cairn__ManifestDeleted *deleted =
        (Cairn__ManifestDeleted *)ca_reply_alloc(reply, sizeof(Cairn__ManifestDeleted));
    cairn__manifest_deleted__init(deleted);
    deleted->removed = write->results[3]->changes > 0;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_MANIFEST_DELETE;
    response->manifest_delete = deleted;
}

//  ---- SummaryPut, SummaryGet ----------------------------------------------------------

static void s_write_summary_items(ca_write_t *write, const uint8_t *hash, int kind, char **items,
                                  size_t count) {
    for (size_t i = 0; i < count; i++) {
        ca_write_statement(write,
                           "INSERT INTO summary_items (l0_hash, kind, position, text)"
                           " VALUES (?1, ?2, ?3, ?4)",
                           CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                           "a summary item was not stored; retry");
        ca_write_blob(write, hash, CA_HASH_BYTES);
        ca_write_int(write, kind);
        ca_write_int(write, (int64_t)i);
        ca_write_text(write, items[i]);
    }
}

static void s_summary_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Summary *summary = request->summary_put->summary;
    if (!manifests_rules_summary_ok(summary, reply))
        return;
    const uint8_t *hash = summary->l0_hash.data;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO summaries (l0_hash, mention_count, summary_text)"
                       " VALUES (?1, ?2, ?3) ON CONFLICT (l0_hash) DO UPDATE SET"
                       " mention_count = excluded.mention_count,"
                       " summary_text = excluded.summary_text",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the summary was not stored; retry");
    ca_write_blob(write, hash, CA_HASH_BYTES);
    ca_write_int(write, (int64_t)summary->mention_count);
    ca_write_text(write, summary->summary_text);
    ca_write_statement(write, "DELETE FROM summary_items WHERE l0_hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash, CA_HASH_BYTES);
    s_write_summary_items(write, hash, SUMMARY_MENTION, summary->preview_mentions,
                          summary->n_preview_mentions);
    s_write_summary_items(write, hash, SUMMARY_TOPIC, summary->primary_topics,
                          summary->n_primary_topics);
    ca_store_write(store, &write, reply);
}

//  The summary as stored is the request's (the write replaced it whole).
static void s_summary_stored(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SUMMARY_PUT;
    response->summary_put = request->summary_put->summary;
}

static void s_summary_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const ProtobufCBinaryData *hash = &request->summary_get->l0_hash;
    if (!ca_blob_store_hash_ok(hash, "l0_hash", reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store, "SELECT mention_count, summary_text FROM summaries WHERE l0_hash = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_blob(stmt, 1, hash->data, CA_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        char hex[65];
        ca_hash_to_hex(hash->data, hex);
        if (rc == SQLITE_DONE)
            ca_reply_error(reply, CA_NOT_FOUND, "no summary of %s; store one with SummaryPut", hex);
        else
            s_read_failed(reply, stmt, rc, "read the summary");
        sqlite3_reset(stmt);
        return;
    }
    Cairn__Summary *summary = (Cairn__Summary *)ca_reply_alloc(reply, sizeof(Cairn__Summary));
    cairn__summary__init(summary);
    summary->l0_hash = hash[0];
    row_t row = {stmt, NULL};
    summary->mention_count = (uint64_t)s_row_int(&row, 0);
    summary->summary_text = s_row_text(&row, 1, reply);
    sqlite3_reset(stmt);
    const char *items_sql = "SELECT text FROM summary_items WHERE l0_hash = ?1 AND kind = ?2"
                            " ORDER BY position";
    if (!s_read_strings(store, items_sql, hash->data, SUMMARY_MENTION, &summary->preview_mentions,
                        &summary->n_preview_mentions, reply) ||
        !s_read_strings(store, items_sql, hash->data, SUMMARY_TOPIC, &summary->primary_topics,
                        &summary->n_primary_topics, reply))
        return;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_SUMMARY_GET;
    response->summary_get = summary;
}

//  ---- the store ------------------------------------------------------------------------

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_MANIFEST_PUT, "manifest_put", s_manifest_put, s_manifest_written,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_MANIFEST_GET, "manifest_get", s_manifest_get, NULL, 0},
    {CAIRN__REQUEST__BODY_MANIFEST_UPDATE, "manifest_update", s_manifest_update, s_manifest_written,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_MANIFEST_DELETE, "manifest_delete", s_manifest_delete, s_manifest_deleted,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_MANIFEST_LIST, "manifest_list", s_manifest_list, NULL, 0},
    {CAIRN__REQUEST__BODY_MANIFEST_VERSIONS, "manifest_versions", s_manifest_versions, NULL, 0},
    {CAIRN__REQUEST__BODY_SUMMARY_PUT, "summary_put", s_summary_put, s_summary_stored,
     CA_ROUTE_ONE_WORKER},
    {CAIRN__REQUEST__BODY_SUMMARY_GET, "summary_get", s_summary_get, NULL, 0},
};

const ca_store_def_t manifests_store_def = {
    .name = "manifests",
    .schema = &provenance_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test --------------------------------------------------------------------------

#include "ca_hash.h"
#include "ca_request.h"
#include "ca_testbed.h"

#include <stdio.h>

//  ---- fixtures: the manifests of this self-test and of tests/e2e_manifests.c --------

void manifests_fixture_hash(int n, uint8_t hash[32]) {
    char name[32];
    snprintf(name, sizeof name, "content-%d", n);
    ca_sha256(name, strlen(name), hash);
}

void manifests_fixture_init(manifests_fixture_t *t, int n, uint32_t number, int previous,
                            int root) {
    memset(t, 0, sizeof *t);
    cairn__manifest__init(&t->manifest);
    cairn__access_control__init(&t->access);
    manifests_fixture_hash(n, t->hash);
    t->manifest.hash = (ProtobufCBinaryData){32, t->hash};
    t->manifest.content_type = (char *)"text/article";
    t->manifest.version_number = number;
    if (number > 1) {
        manifests_fixture_hash(previous, t->previous);
        manifests_fixture_hash(root, t->root);
        t->manifest.version_previous = (ProtobufCBinaryData){32, t->previous};
        t->manifest.version_root = (ProtobufCBinaryData){32, t->root};
    }
    t->manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_UNLISTED;
    t->manifest.title = (char *)"Title";
    t->manifest.description = (char *)"Description, with \"quotes\" and \xc3\xa9";
    t->tags[0] = (char *)"zeta";
    t->tags[1] = (char *)"alpha";
    t->manifest.tags = t->tags;
    t->manifest.n_tags = 2;
    t->manifest.content_size = 4096;
    t->manifest.mime_type = (char *)"text/markdown";
    t->manifest.price = 250;
    t->manifest.total_queries = 3;
    t->manifest.total_revenue = 750;
    t->allow[0] = (char *)"peer:b";
    t->allow[1] = (char *)"peer:a";
    t->deny[0] = (char *)"peer:evil";
    t->access.allow = t->allow;
    t->access.n_allow = 2;
    t->access.deny = t->deny;
    t->access.n_deny = 1;
    t->manifest.access = &t->access;
    t->manifest.owner = (char *)"peer:owner";
}

Cairn__Response *manifests_fixture_put(ca_caller_t *caller, manifests_fixture_t *t) {
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, &t->manifest);
    return ca_caller_call(caller, &request);
}

double manifests_fixture_put_ok(ca_caller_t *caller, manifests_fixture_t *t) {
    Cairn__Response *response =
        ca_response_ok(manifests_fixture_put(caller, t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    double created_at = response->manifest_put->created_at;
    cairn__response__free_unpacked(response, NULL);
    return created_at;
}

Cairn__Response *manifests_fixture_update(ca_caller_t *caller, manifests_fixture_t *t) {
    Cairn__Request request;
    Cairn__ManifestUpdate update;
    ca_request_manifest_update(&request, &update, 0, &t->manifest);
    return ca_caller_call(caller, &request);
}

Cairn__Response *manifests_fixture_get_hash(ca_caller_t *caller, const uint8_t *hash, size_t size) {
    Cairn__Request request;
    Cairn__ManifestGet get;
    ca_request_manifest_get(&request, &get, 0, hash, size);
    return ca_caller_call(caller, &request);
}

Cairn__Response *manifests_fixture_get(ca_caller_t *caller, int n) {
    uint8_t hash[32];
    manifests_fixture_hash(n, hash);
    return manifests_fixture_get_hash(caller, hash, 32);
}

Cairn__Response *manifests_fixture_delete(ca_caller_t *caller, int n) {
    uint8_t hash[32];
    manifests_fixture_hash(n, hash);
    Cairn__Request request;
    Cairn__ManifestDelete del;
    ca_request_manifest_delete(&request, &del, 0, hash, 32);
    return ca_caller_call(caller, &request);
}

bool manifests_fixture_removed(ca_caller_t *caller, int n) {
    Cairn__Response *response =
        ca_response_ok(manifests_fixture_delete(caller, n), CAIRN__RESPONSE__BODY_MANIFEST_DELETE);
    bool removed = response->manifest_delete->removed;
    cairn__response__free_unpacked(response, NULL);
    return removed;
}

Cairn__Response *manifests_fixture_versions_page(ca_caller_t *caller, int root, uint32_t limit,
                                                 uint64_t after) {
    uint8_t hash[32];
    manifests_fixture_hash(root, hash);
    Cairn__Request request;
    Cairn__ManifestVersions versions;
    ca_request_manifest_versions(&request, &versions, 0, hash, 32, limit, after);
    return ca_caller_call(caller, &request);
}

Cairn__Response *manifests_fixture_versions(ca_caller_t *caller, int root) {
    return manifests_fixture_versions_page(caller, root, 0, 0);
}

bool manifests_fixture_strings_equal(char **a, size_t n_a, char *const *b, size_t n_b) {
    if (n_a != n_b)
        return false;
    for (size_t i = 0; i < n_a; i++)
        if (!streq(a[i], b[i]))
            return false;
    return true;
}

//  The same peers in any order (the node answers them sorted).
static bool s_same_set(char *const *got, char *const *want, size_t count) {
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t k = 0; k < count && !found; k++)
            found = streq(got[k], want[i]);
        if (!found)
            return false;
    }
    return true;
}

void manifests_fixture_expect(const Cairn__Manifest *got, const manifests_fixture_t *t) {
    const Cairn__Manifest *want = &t->manifest;
    CA_CHECK(got->hash.len == 32 && memcmp(got->hash.data, t->hash, 32) == 0);
    CA_CHECK(streq(got->content_type, want->content_type));
    CA_CHECK(got->version_number == want->version_number);
    const uint8_t *root = want->version_number > 1 ? t->root : t->hash;
    CA_CHECK(got->version_root.len == 32 && memcmp(got->version_root.data, root, 32) == 0);
    if (want->version_number > 1)
        CA_CHECK(got->version_previous.len == 32 &&
                 memcmp(got->version_previous.data, t->previous, 32) == 0);
    else
        CA_CHECK(got->version_previous.len == 0);
    CA_CHECK(isfinite(got->version_timestamp) && got->version_timestamp > 0);
    CA_CHECK(want->version_timestamp == 0 || got->version_timestamp == want->version_timestamp);
    CA_CHECK(got->created_at > 0 && got->updated_at >= got->created_at);
    CA_CHECK(got->visibility == want->visibility);
    CA_CHECK(streq(got->title, want->title) && streq(got->description, want->description));
    CA_CHECK(manifests_fixture_strings_equal(got->tags, got->n_tags, want->tags,
                                             want->n_tags)); //  in their order
    CA_CHECK(got->content_size == want->content_size && streq(got->mime_type, want->mime_type));
    CA_CHECK(got->price == want->price && got->total_queries == want->total_queries);
    CA_CHECK(got->total_revenue == want->total_revenue && streq(got->owner, want->owner));
    size_t n_allow = want->access ? want->access->n_allow : 0;
    size_t n_deny = want->access ? want->access->n_deny : 0;
    CA_CHECK(got->access || (n_allow == 0 && n_deny == 0));
    if (got->access)
        CA_CHECK(got->access->n_allow == n_allow && got->access->n_deny == n_deny);
    if (got->access && want->access) {
        CA_CHECK(s_same_set(got->access->allow, want->access->allow, n_allow));
        CA_CHECK(s_same_set(got->access->deny, want->access->deny, n_deny));
    }
}

void manifests_fixture_get_expect(ca_caller_t *caller, int n, const manifests_fixture_t *t) {
    Cairn__Response *response =
        ca_response_ok(manifests_fixture_get(caller, n), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    manifests_fixture_expect(response->manifest_get, t);
    cairn__response__free_unpacked(response, NULL);
}

size_t manifests_fixture_walk_versions(ca_caller_t *caller, int root, uint32_t limit,
                                       uint32_t total) {
    size_t pages = 0, page_size = limit ? limit : CA_MANIFEST_PAGE_DEFAULT;
    uint64_t after = 0;
    uint32_t next = 1;
    bool more = true;
    while (more) {
        Cairn__Response *response =
            ca_response_ok(manifests_fixture_versions_page(caller, root, limit, after),
                           CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        const Cairn__ManifestPage *page = response->manifest_versions;
        size_t left = total - next + 1;
        CA_CHECK(page->n_manifests == (left < page_size ? left : page_size));
        for (size_t i = 0; i < page->n_manifests; i++, next++) {
            uint8_t hash[32];
            manifests_fixture_hash(root + (int)next - 1, hash);
            CA_CHECK(page->manifests[i]->version_number == next);
            CA_CHECK(memcmp(page->manifests[i]->hash.data, hash, 32) == 0);
            after = page->manifests[i]->version_number;
        }
        more = page->more;
        CA_CHECK(more == (next <= total));
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    CA_CHECK(next == total + 1);
    return pages;
}

//  Expects NOT_FOUND of a versions page of `root`, which has no version 1:
//  the message names the version root and asks for a version 1.
static void s_versions_unknown(ca_caller_t *caller, int root, uint32_t limit, uint64_t after) {
    Cairn__Response *response =
        ca_response_expect(manifests_fixture_versions_page(caller, root, limit, after),
                           CAIRN__STATUS__NOT_FOUND, "version root");
    CA_CHECK(strstr(response->error, "version 1"));
    cairn__response__free_unpacked(response, NULL);
}

void manifests_fixture_version_rules(ca_caller_t *caller) {
    manifests_fixture_t t;
    manifests_fixture_init(&t, 10, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_init(&t, 11, 2, 10, 10);
    manifests_fixture_put_ok(caller, &t);
    manifests_fixture_init(&t, 30, 1, 0, 0);
    manifests_fixture_put_ok(caller, &t);

    manifests_fixture_init(&t, 50, 0, 0, 0); //  number 0
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                      "versions count from 1");
    manifests_fixture_init(&t, 50, 1, 0, 0); //  a first version with a previous
    manifests_fixture_hash(10, t.previous);
    t.manifest.version_previous = (ProtobufCBinaryData){32, t.previous};
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                      "a first version has none");
    manifests_fixture_init(&t, 50, 1, 0, 0); //  a first version with a foreign root
    manifests_fixture_hash(10, t.root);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.root};
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "its own root");
    manifests_fixture_init(&t, 50, 3, 11, 10); //  a later version without previous
    t.manifest.version_previous.len = 0;
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                      "needs version_previous");
    manifests_fixture_init(&t, 50, 3, 11, 10); //  ... or without root
    t.manifest.version_root.len = 0;
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                      "needs version_previous and version_root");
    manifests_fixture_init(&t, 50, 3, 50, 10); //  its own previous
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "names itself");
    manifests_fixture_init(&t, 50, 3, 11, 50); //  its own root
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "names itself");
    manifests_fixture_init(&t, 50, 3, 77, 10); //  the previous is missing
    ca_response_fails(
        manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT,
        "has no manifest; a later version follows an existing one: put the previous version first");
    manifests_fixture_init(&t, 50, 2, 30, 10); //  the previous has another root
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT,
                      "another version root");
    manifests_fixture_init(&t, 50, 4, 11, 10); //  number is not previous + 1
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT,
                      "cannot be version 4");
    manifests_fixture_init(&t, 50, 2, 10, 10); //  (root 10, version 2) is taken by 11
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT, "exists already");
    manifests_fixture_init(&t, 11, 2, 10, 10); //  the same hash again
    ca_response_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT, "exists");
    ca_response_fails(manifests_fixture_get(caller, 50), CAIRN__STATUS__NOT_FOUND, "no manifest");
    Cairn__Response *response = ca_response_ok(manifests_fixture_versions(caller, 10),
                                               CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    CA_CHECK(response->manifest_versions->n_manifests == 2);
    cairn__response__free_unpacked(response, NULL);
    manifests_fixture_init(&t, 50, 3, 11, 10); //  and right at last
    manifests_fixture_put_ok(caller, &t);
}

void manifests_fixture_version_pages(ca_caller_t *caller, int root) {
    int other = root + 100;
    manifests_fixture_t t;
    for (int k = 1; k <= 25; k++) {
        manifests_fixture_init(&t, root + k - 1, (uint32_t)k, root + k - 2, root);
        manifests_fixture_put_ok(caller, &t);
        if (k <= 3) {
            manifests_fixture_init(&t, other + k - 1, (uint32_t)k, other + k - 2, other);
            manifests_fixture_put_ok(caller, &t);
        }
    }
    CA_CHECK(manifests_fixture_walk_versions(caller, root, 7, 25) == 4); //  7 7 7 4
    //  The last page exactly full: more false after it.
    CA_CHECK(manifests_fixture_walk_versions(caller, root, 5, 25) == 5);
    //  The default page (100) holds them all.
    CA_CHECK(manifests_fixture_walk_versions(caller, root, 0, 25) == 1);
    CA_CHECK(manifests_fixture_walk_versions(caller, root, 1, 25) == 25);
    CA_CHECK(manifests_fixture_walk_versions(caller, other, 2, 3) == 2);
    CA_CHECK(manifests_fixture_walk_versions(caller, root, CA_MANIFEST_PAGE_MAX, 25) == 1);
    ca_response_fails(manifests_fixture_versions_page(caller, root, CA_MANIFEST_PAGE_MAX + 1, 0),
                      CAIRN__STATUS__INVALID, "at most 1000");
    //  Past the last version: an empty page for a known root, NOT_FOUND for
    //  an unknown one (and for a later version's hash) on any page.
    uint64_t beyond[] = {25, 26, 1ULL << 32, 1ULL << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        Cairn__Response *response =
            ca_response_ok(manifests_fixture_versions_page(caller, root, 3, beyond[i]),
                           CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        CA_CHECK(response->manifest_versions->n_manifests == 0 &&
                 !response->manifest_versions->more);
        cairn__response__free_unpacked(response, NULL);
        s_versions_unknown(caller, root - 1, 3, beyond[i]);
        s_versions_unknown(caller, root + 1, 3, beyond[i]);
    }
    s_versions_unknown(caller, root - 1, 0, 0);
    s_versions_unknown(caller, root + 1, 0, 0);
    for (int k = 25; k >= 1; k--) //  newest first
        CA_CHECK(manifests_fixture_removed(caller, root + k - 1));
    for (int k = 3; k >= 1; k--)
        CA_CHECK(manifests_fixture_removed(caller, other + k - 1));
}

//  ---- the self-test ------------------------------------------------------------------

//  Two manifests are the same message, byte for byte.
static void s_assert_same_manifest(const Cairn__Manifest *a, const Cairn__Manifest *b) {
    size_t size = cairn__manifest__get_packed_size(a);
    assert(size == cairn__manifest__get_packed_size(b));
    uint8_t *packed_a = (uint8_t *)malloc(size + 1), *packed_b = (uint8_t *)malloc(size + 1);
    assert(packed_a && packed_b);
    cairn__manifest__pack(a, packed_a);
    cairn__manifest__pack(b, packed_b);
    assert(memcmp(packed_a, packed_b, size) == 0);
    free(packed_a);
    free(packed_b);
}

static void s_test_crud(ca_caller_t *caller) {
    manifests_fixture_t t;
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.price = UINT64_MAX; //  all 64 bits survive
    t.manifest.total_revenue = 1ULL << 63;
    t.manifest.version_timestamp = 1700000000; //  a whole number reads back right
    Cairn__Response *response =
        ca_testbed_ok(manifests_fixture_put(caller, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    manifests_fixture_expect(response->manifest_put, &t);
    assert(response->manifest_put->version_timestamp == 1700000000);
    double created_at = response->manifest_put->created_at;
    Cairn__Response *put_answer = response;
    response = ca_testbed_ok(manifests_fixture_get(caller, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    manifests_fixture_expect(response->manifest_get, &t);
    //  Access lists come back sorted by peer id, and the put answered what
    //  a get reads: the same bytes.
    assert(streq(response->manifest_get->access->allow[0], "peer:a"));
    assert(response->manifest_get->created_at == created_at);
    s_assert_same_manifest(put_answer->manifest_put, response->manifest_get);
    cairn__response__free_unpacked(put_answer, NULL);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__CONFLICT, "ManifestUpdate");

    //  Update: mutable fields and lists replaced, versions kept.
    t.manifest.title = (char *)"New title";
    t.manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_PRIVATE;
    t.manifest.n_tags = 1;
    t.access.n_allow = 0;
    t.manifest.owner = (char *)"";
    Cairn__Request request;
    Cairn__ManifestUpdate update;
    ca_request_manifest_update(&request, &update, 0, &t.manifest);
    response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE);
    manifests_fixture_expect(response->manifest_update, &t);
    assert(response->manifest_update->created_at == created_at);
    assert(response->manifest_update->updated_at >= created_at);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(manifests_fixture_get(caller, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    manifests_fixture_expect(response->manifest_get, &t);
    cairn__response__free_unpacked(response, NULL);
    t.manifest.version_number = 2;
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID,
                     "version_number cannot change");
    t.manifest.version_number = 0; //  unset: kept
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE),
        NULL);
    //  An update answers its lists as stored too (sent unsorted here).
    t.access.n_allow = 2;
    Cairn__Response *updated =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE);
    assert(streq(updated->manifest_update->access->allow[0], "peer:a"));
    response = ca_testbed_ok(manifests_fixture_get(caller, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    s_assert_same_manifest(updated->manifest_update, response->manifest_get);
    cairn__response__free_unpacked(updated, NULL);
    cairn__response__free_unpacked(response, NULL);
    manifests_fixture_t other;
    manifests_fixture_init(&other, 2, 1, 0, 0);
    ca_request_manifest_update(&request, &update, 0, &other.manifest);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__NOT_FOUND, "put it first");

    //  Delete: lists go with it; again is not an error.
    assert(manifests_fixture_removed(caller, 1));
    ca_testbed_fails(manifests_fixture_get(caller, 1), CAIRN__STATUS__NOT_FOUND, "ManifestPut");
    assert(!manifests_fixture_removed(caller, 1));
    manifests_fixture_init(&t, 1, 1, 0, 0);
    t.manifest.n_tags = 0;
    t.manifest.access = NULL;
    manifests_fixture_put_ok(caller, &t); //  no stale tags or access rows come back
    response = ca_testbed_ok(manifests_fixture_get(caller, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    assert(response->manifest_get->n_tags == 0 && response->manifest_get->access->n_allow == 0);
    cairn__response__free_unpacked(response, NULL);
    assert(manifests_fixture_removed(caller, 1));
}

//  A chain of 25 versions (contents 300..324, root 300) beside one of 3
//  (root 400), a page at a time.
static void s_test_version_pages(ca_caller_t *caller) {
    manifests_fixture_version_pages(caller, 300);
}

//  Each version rule, broken once.
static void s_test_versions(ca_caller_t *caller) {
    manifests_fixture_version_rules(caller); //  10, 11, 50: versions 1..3 of root 10; 30
    Cairn__Response *response = ca_testbed_ok(manifests_fixture_versions(caller, 10),
                                              CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    assert(response->manifest_versions->n_manifests == 3 && !response->manifest_versions->more);
    for (uint32_t i = 0; i < 3; i++)
        assert(response->manifest_versions->manifests[i]->version_number == i + 1);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(manifests_fixture_versions(caller, 11), CAIRN__STATUS__NOT_FOUND, "version 1");

    //  Versions go newest first.
    ca_testbed_fails(manifests_fixture_delete(caller, 11), CAIRN__STATUS__CONFLICT,
                     "later versions first");
    assert(manifests_fixture_removed(caller, 50) && manifests_fixture_removed(caller, 11) &&
           manifests_fixture_removed(caller, 10) && manifests_fixture_removed(caller, 30));
}

static void s_test_bad_input(ca_caller_t *caller) {
    manifests_fixture_t t;
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.manifest.hash.len = 31;
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "manifest.hash");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.manifest.content_type = (char *)"";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "content_type");
    t.manifest.content_type = (char *)"a b";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "content_type");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.manifest.visibility = (Cairn__Visibility)3;
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "visibility");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    char title[CA_MANIFEST_TITLE_MAX + 2];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = 0;
    t.manifest.title = title;
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                     "title is 257 bytes");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.tags[1] = (char *)"";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "tags[1]");
    t.tags[1] = (char *)"a\tb";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                     "control character");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.allow[1] = (char *)"peer b";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "access.allow[1]");
    t.allow[1] = (char *)"peer:b";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "repeats peer");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.manifest.owner = (char *)"../x";
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "owner");
    manifests_fixture_init(&t, 40, 1, 0, 0);
    t.manifest.version_timestamp = NAN;
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID,
                     "version_timestamp");
    manifests_fixture_init(&t, 40, 2, 10, 10);
    t.manifest.version_previous.len = 5;
    ca_testbed_fails(manifests_fixture_put(caller, &t), CAIRN__STATUS__INVALID, "version_previous");
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, NULL);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "no manifest");
    ca_testbed_fails(manifests_fixture_get(caller, 40), CAIRN__STATUS__NOT_FOUND, "no manifest");
    Cairn__ManifestList list;
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, CA_MANIFEST_PAGE_MAX + 1, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "limit");
    ca_request_manifest_list(&request, &list, 0, false, 0, "", -1, 0, 0, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "created_after");
    ca_request_manifest_list(&request, &list, 0, true, (Cairn__Visibility)7, "", 0, 0, 0, 0);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "visibility");
}

//  Lists: each filter, the order, paging.
static void s_test_list(ca_caller_t *caller) {
    manifests_fixture_t t;
    for (int n = 0; n < 12; n++) {
        manifests_fixture_init(&t, 100 + n, 1, 0, 0);
        t.manifest.visibility = (Cairn__Visibility)(n % 3);
        t.manifest.content_type = n < 4 ? (char *)"image/png" : (char *)"text/article";
        manifests_fixture_put_ok(caller, &t);
    }
    Cairn__Request request;
    Cairn__ManifestList list;
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 0, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    const Cairn__ManifestPage *page = response->manifest_list;
    assert(page->n_manifests == 12 && !page->more);
    for (size_t i = 1; i < page->n_manifests; i++)
        assert(page->manifests[i - 1]->created_at >= page->manifests[i]->created_at);
    double middle = page->manifests[6]->created_at;
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, true, CAIRN__VISIBILITY__VISIBILITY_PRIVATE, "", 0,
                             0, 0, 0);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 4);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "image/png", 0, 0, 0, 0);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 4);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, middle, 5, 0);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    for (size_t i = 0; i < response->manifest_list->n_manifests; i++)
        assert(response->manifest_list->manifests[i]->created_at < middle);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 5, 10);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 2 && !response->manifest_list->more);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 5, 5);
    response = ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 5 && response->manifest_list->more);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_summaries(ca_caller_t *caller) {
    uint8_t hash[32];
    manifests_fixture_hash(500, hash);
    char *mentions[] = {(char *)"first", (char *)"second"}, *topics[] = {(char *)"c"};
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){32, hash};
    summary.mention_count = UINT64_MAX;
    summary.preview_mentions = mentions;
    summary.n_preview_mentions = 2;
    summary.primary_topics = topics;
    summary.n_primary_topics = 1;
    summary.summary_text = (char *)"all about it";
    Cairn__Request request;
    Cairn__SummaryPut put;
    Cairn__SummaryGet get;
    ca_request_summary_get(&request, &get, 0, hash, 32);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__NOT_FOUND, "SummaryPut");
    ca_request_summary_put(&request, &put, 0, &summary);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    summary.n_preview_mentions = 1; //  a replace drops the old items
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    ca_request_summary_get(&request, &get, 0, hash, 32);
    Cairn__Response *response =
        ca_testbed_ok(ca_caller_call(caller, &request), CAIRN__RESPONSE__BODY_SUMMARY_GET);
    const Cairn__Summary *got = response->summary_get;
    assert(got->mention_count == UINT64_MAX && streq(got->summary_text, "all about it"));
    assert(got->n_preview_mentions == 1 && streq(got->preview_mentions[0], "first"));
    assert(got->n_primary_topics == 1 && streq(got->primary_topics[0], "c"));
    cairn__response__free_unpacked(response, NULL);
    char topic[CA_SUMMARY_TOPIC_MAX + 2];
    memset(topic, 't', sizeof topic - 1);
    topic[sizeof topic - 1] = 0;
    topics[0] = topic;
    ca_request_summary_put(&request, &put, 0, &summary);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "primary_topics[0]");
    summary.l0_hash.len = 0;
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "l0_hash");
    ca_request_summary_put(&request, &put, 0, NULL);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "no summary");
    uint8_t wide[33] = {0};
    ca_request_summary_get(&request, &get, 0, wide, sizeof wide);
    ca_testbed_fails(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, "l0_hash");
}

void manifests_test(bool verbose) {
    if (verbose)
        printf(" * manifests: ");
    ca_testbed_t *bed = ca_testbed_new(&manifests_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    s_test_crud(caller);
    s_test_versions(caller);
    s_test_bad_input(caller);
    s_test_list(caller);
    s_test_summaries(caller);
    s_test_version_pages(caller);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

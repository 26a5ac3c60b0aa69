/*  =========================================================================
    manifests - what each piece of content is: its manifest (metadata,
    tags, access lists, versions) and the L1 summaries of L0 content

    What it owns: the manifest and summary tables of prov_schema
    (migration 1: manifests, manifest_tags, manifest_access, summaries,
    summary_items). The provenance pool reads `manifests` for the owner
    and visibility of a root; nothing else writes them.

    Requests (hashes are 32 raw bytes; see schemas/cairn.proto):

        ManifestPut {manifest}        -> Manifest (as stored)
        ManifestGet {hash}            -> Manifest
        ManifestUpdate {manifest}     -> Manifest (as stored)
        ManifestDelete {hash}         -> ManifestDeleted {removed}
        ManifestList {filters, limit, offset}
                                      -> ManifestPage {manifests, more}
        ManifestVersions {version_root, limit, after_version}
                                      -> ManifestPage {manifests, more}
                                         (version order)
        SummaryPut {summary}          -> Summary
        SummaryGet {l0_hash}          -> Summary

    Version rules. A first version has number 1, no previous, and is its
    own root (the node fills version_root). A later version (number n > 1)
    names its root and an existing previous manifest of the same root
    with number n - 1. What the request alone breaks is INVALID (number 0,
    a first version with a previous or a foreign root, a later version
    without previous or root, or naming itself); what breaks against the
    stored manifests is CONFLICT (the hash has a manifest, the previous is
    missing, has another root or another number, the (root, number) slot
    is taken). Each message names the rule. The stored rules are guards
    inside the writer's transaction (one statement per rule, each with its
    own message), never checks against a worker's snapshot, so they hold
    under races, and the unique index (version_root, version_number) stays
    the last word.

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
#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_names.h"
#include "ca_validate.h"
#include "prov_schema.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

//  Columns of a manifest row, in the order s_manifest_from_row reads them.
#define MANIFEST_COLUMNS                                                                           \
    "hash, content_type, version_number, version_previous, version_root, version_timestamp,"       \
    " visibility, title, description, content_size, mime_type, price, total_queries,"              \
    " total_revenue, created_at, updated_at, owner"
#define MANIFEST_COLUMN_COUNT 17

#define SUMMARY_MENTION 0 //  summary_items.kind
#define SUMMARY_TOPIC   1

//  A formatted string that lives as long as the reply.
static char *s_printf(ca_reply_t *reply, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static char *s_printf(ca_reply_t *reply, const char *format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return ca_reply_strdup(reply, text);
}

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

//  ---- checks ----------------------------------------------------------------------------

//  A string field of at most `max` bytes (at least `min`); with
//  `plain`, no control characters either.
static bool s_text_ok(const char *field, const char *text, size_t min, size_t max, bool plain,
                      ca_reply_t *reply) {
    size_t length = strlen(text);
    if (length < min || length > max) {
        ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; it must be %zu..%zu bytes", field,
                       length, min, max);
        return false;
    }
    for (size_t i = 0; plain && i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            ca_reply_error(reply, CA_INVALID, "%s holds a control character (byte %zu); remove it",
                           field, i);
            return false;
        }
    return true;
}

//  A content type: 1..64 bytes of [A-Za-z0-9._/+-].
static bool s_content_type_ok(const char *field, const char *type, ca_reply_t *reply) {
    size_t length = strlen(type);
    bool ok = length >= 1 && length <= CA_MANIFEST_TYPE_MAX;
    for (size_t i = 0; ok && i < length; i++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/+-",
                    type[i]) != NULL;
    if (!ok)
        ca_reply_error(reply, CA_INVALID,
                       "%s must be 1..%d bytes of [A-Za-z0-9._/+-] (e.g. text/article)", field,
                       CA_MANIFEST_TYPE_MAX);
    return ok;
}

static bool s_visibility_ok(const char *field, int visibility, ca_reply_t *reply) {
    if (visibility >= CAIRN__VISIBILITY__VISIBILITY_PRIVATE &&
        visibility <= CAIRN__VISIBILITY__VISIBILITY_SHARED)
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s %d is not a visibility; use 0 (private), 1 (unlisted) or 2 (shared)", field,
                   visibility);
    return false;
}

//  A time that may be absent: 0, or finite and after 1970.
static bool s_time_ok(const char *field, double value, ca_reply_t *reply) {
    if (value == 0 || (isfinite(value) && value > 0))
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s must be 0 (none) or a finite time in unix seconds (got %g)", field, value);
    return false;
}

static bool s_peer_ok(const char *field, const char *peer, ca_reply_t *reply) {
    const char *problem = ca_validate_peer_id(peer);
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s: %s (peer ids are 1..%d bytes of [A-Za-z0-9._:-])",
                       field, problem, CA_PEER_ID_MAX);
    return problem == NULL;
}

//  One access list: at most CA_MANIFEST_ACCESS_MAX valid peer ids, each once.
static bool s_access_list_ok(const char *name, char **peers, size_t count, ca_reply_t *reply) {
    if (count > CA_MANIFEST_ACCESS_MAX) {
        ca_reply_error(reply, CA_INVALID, "access.%s holds %zu peers; at most %d are allowed", name,
                       count, CA_MANIFEST_ACCESS_MAX);
        return false;
    }
    char field[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof field, "access.%s[%zu]", name, i);
        if (!s_peer_ok(field, peers[i], reply))
            return false;
        for (size_t k = 0; k < i; k++)
            if (streq(peers[k], peers[i])) {
                ca_reply_error(reply, CA_INVALID,
                               "%s repeats peer %s (also at %zu); list each peer once", field,
                               peers[i], k);
                return false;
            }
    }
    return true;
}

static bool s_tags_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (manifest->n_tags > CA_MANIFEST_TAGS_MAX) {
        ca_reply_error(reply, CA_INVALID, "the manifest has %zu tags; at most %d are allowed",
                       manifest->n_tags, CA_MANIFEST_TAGS_MAX);
        return false;
    }
    char field[32];
    for (size_t i = 0; i < manifest->n_tags; i++) {
        snprintf(field, sizeof field, "tags[%zu]", i);
        if (!s_text_ok(field, manifest->tags[i], 1, CA_MANIFEST_TAG_MAX, true, reply))
            return false;
    }
    return true;
}

//  The fields a put and an update share (all but hash and versions).
static bool s_mutable_fields_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!s_content_type_ok("content_type", manifest->content_type, reply) ||
        !s_visibility_ok("visibility", manifest->visibility, reply) ||
        !s_text_ok("title", manifest->title, 0, CA_MANIFEST_TITLE_MAX, false, reply) ||
        !s_text_ok("description", manifest->description, 0, CA_MANIFEST_DESCRIPTION_MAX, false,
                   reply) ||
        !s_text_ok("mime_type", manifest->mime_type, 0, CA_MANIFEST_MIME_MAX, true, reply) ||
        !s_tags_ok(manifest, reply))
        return false;
    if (*manifest->owner && !s_peer_ok("owner", manifest->owner, reply))
        return false;
    const Cairn__AccessControl *access = manifest->access;
    return !access || (s_access_list_ok("allow", access->allow, access->n_allow, reply) &&
                       s_access_list_ok("deny", access->deny, access->n_deny, reply));
}

//  The manifest of a put or update: present, with a hash and valid fields.
static const Cairn__Manifest *s_manifest_arg(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!manifest) {
        ca_reply_error(reply, CA_INVALID, "the request has no manifest; send one");
        return NULL;
    }
    if (!ca_blob_store_hash_ok(&manifest->hash, "manifest.hash", reply) ||
        !s_mutable_fields_ok(manifest, reply))
        return NULL;
    return manifest;
}

static bool s_same_hash(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

//  The version rules the request alone can break (INVALID).
static bool s_version_fields_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!s_time_ok("version_timestamp", manifest->version_timestamp, reply))
        return false;
    uint32_t number = manifest->version_number;
    if (number == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "version_number is 0; versions count from 1: send 1 for a first version");
        return false;
    }
    if (!ca_blob_store_optional_hash_ok(&manifest->version_previous, "version_previous", reply) ||
        !ca_blob_store_optional_hash_ok(&manifest->version_root, "version_root", reply))
        return false;
    if (number == 1) {
        if (manifest->version_previous.len) {
            ca_reply_error(reply, CA_INVALID,
                           "version 1 has a version_previous; a first version has none (send "
                           "the number previous + 1 for a later version)");
            return false;
        }
        if (manifest->version_root.len && !s_same_hash(&manifest->version_root, &manifest->hash)) {
            ca_reply_error(reply, CA_INVALID,
                           "version 1 names another version_root; a first version is its own "
                           "root (leave version_root empty)");
            return false;
        }
        return true;
    }
    if (!manifest->version_previous.len || !manifest->version_root.len) {
        ca_reply_error(reply, CA_INVALID,
                       "version %u needs version_previous and version_root: a later version "
                       "names the version it follows and the hash of version 1",
                       number);
        return false;
    }
    if (s_same_hash(&manifest->version_previous, &manifest->hash) ||
        s_same_hash(&manifest->version_root, &manifest->hash)) {
        ca_reply_error(reply, CA_INVALID,
                       "version %u names itself as its previous version or root; a later "
                       "version follows another manifest",
                       number);
        return false;
    }
    return true;
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

//  A guard: the statement (?1 = hash, then the values the caller binds)
//  must return a row, else the write fails with `status` and `message`.
static void s_write_guard(ca_write_t *write, const char *sql, bool want_row, ca_status_t status,
                          const char *message, const uint8_t *hash) {
    ca_write_statement(write, sql,
                       want_row ? CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS
                                : CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS,
                       status, message);
    ca_write_blob(write, hash, CA_HASH_BYTES);
}

//  The rules a put can break against the stored manifests (CONFLICT), as
//  guards inside the writer's transaction: the hash is free; a later
//  version's previous exists, has the same root and number - 1; the
//  (root, number) slot is free. Returns how many statements it added.
static uint8_t s_write_put_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                  const uint8_t *root, ca_reply_t *reply) {
    s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", false, CA_CONFLICT,
                  "a manifest for this hash exists; change it with ManifestUpdate (a new "
                  "version is new content with its own hash)",
                  manifest->hash.data);
    uint8_t count = 1;
    uint32_t number = manifest->version_number;
    if (number > 1) {
        char hex[65];
        ca_hash_to_hex(manifest->version_previous.data, hex);
        const uint8_t *previous = manifest->version_previous.data;
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", true, CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s has no manifest; a later version follows an "
                               "existing one: put the previous version first",
                               hex),
                      previous);
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_root = ?2", true,
                      CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s belongs to another version root; a later "
                               "version keeps the root of the version it follows",
                               hex),
                      previous);
        ca_write_blob(write, root, CA_HASH_BYTES);
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_number = ?2",
                      true, CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s is not version %u, so this one cannot be "
                               "version %u: a version's number is its previous one's + 1",
                               hex, number - 1, number),
                      previous);
        ca_write_int(write, (int64_t)number - 1);
        count += 3;
    }
    s_write_guard(write, "SELECT 1 FROM manifests WHERE version_root = ?1 AND version_number = ?2",
                  false, CA_CONFLICT,
                  s_printf(reply,
                           "version %u of this version root exists already; each version is put "
                           "once: follow the newest version with the next number",
                           number),
                  root);
    ca_write_int(write, number);
    return count + 1;
}

//  ---- ManifestPut, ManifestUpdate ----------------------------------------------------

static void s_manifest_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Manifest *manifest = s_manifest_arg(request->manifest_put->manifest, reply);
    if (!manifest || !s_version_fields_ok(manifest, reply))
        return;
    const uint8_t *root =
        manifest->version_number == 1 ? manifest->hash.data : manifest->version_root.data;
    double now = ca_blob_store_now();
    ca_write_t *write = ca_write_new();
    uint8_t insert_at = s_write_put_guards(write, manifest, root, reply);
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

//  Guards of an update: the manifest exists, and each version field the
//  request sets repeats the stored value (version fields never change).
//  Returns how many statements it added.
static uint8_t s_write_update_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                     ca_reply_t *reply) {
    const uint8_t *hash = manifest->hash.data;
    char hex[65];
    ca_hash_to_hex(hash, hex);
    s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", true, CA_NOT_FOUND,
                  s_printf(reply, "no manifest for %s; put it first (ManifestPut)", hex), hash);
    uint8_t count = 1;
    const char *advice = "cannot change in an update; leave it unset, or put the new version "
                         "as a new manifest (ManifestPut)";
    if (manifest->version_number) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_number = ?2",
                      true, CA_INVALID, s_printf(reply, "version_number %s", advice), hash);
        ca_write_int(write, manifest->version_number);
        count++;
    }
    if (manifest->version_previous.len) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_previous = ?2",
                      true, CA_INVALID, s_printf(reply, "version_previous %s", advice), hash);
        ca_write_blob(write, manifest->version_previous.data, manifest->version_previous.len);
        count++;
    }
    if (manifest->version_root.len) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_root = ?2", true,
                      CA_INVALID, s_printf(reply, "version_root %s", advice), hash);
        ca_write_blob(write, manifest->version_root.data, manifest->version_root.len);
        count++;
    }
    if (manifest->version_timestamp) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_timestamp = ?2",
                      true, CA_INVALID, s_printf(reply, "version_timestamp %s", advice), hash);
        ca_write_real(write, manifest->version_timestamp);
        count++;
    }
    return count;
}

static void s_manifest_update(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Manifest *manifest = s_manifest_arg(request->manifest_update->manifest, reply);
    if (!manifest || !s_time_ok("version_timestamp", manifest->version_timestamp, reply) ||
        !ca_blob_store_optional_hash_ok(&manifest->version_previous, "version_previous", reply) ||
        !ca_blob_store_optional_hash_ok(&manifest->version_root, "version_root", reply))
        return;
    ca_write_t *write = ca_write_new();
    uint8_t update_at = s_write_update_guards(write, manifest, reply);
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
    ca_write_real(write, ca_blob_store_now());
    ca_write_text(write, manifest->owner);
    s_write_clear_lists(write, manifest->hash.data);
    s_write_lists(write, manifest);
    ca_write_context(write, &update_at, 1); //  which result holds the row
    ca_store_write(store, &write, reply);
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
    manifest->tags = asked->tags;
    manifest->n_tags = asked->n_tags;
    manifest->access = asked->access;
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
    sqlite3_stmt *stmt = ca_sql_prepare(ca_store_sql(store), sql);
    assert(stmt);
    sqlite3_bind_blob(stmt, 1, hash, CA_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, kind);
    char **strings = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        strings = (char **)realloc(strings, (count + 1) * sizeof(char *));
        assert(strings);
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        strings[count++] = ca_reply_strdup(reply, text ? text : "");
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok)
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
    sqlite3_stmt *stmt = ca_sql_prepare(ca_store_sql(store), "SELECT " MANIFEST_COLUMNS
                                                             " FROM manifests WHERE hash = ?1");
    assert(stmt);
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
    if ((list->by_visibility && !s_visibility_ok("visibility", list->visibility, reply)) ||
        (*list->content_type && !s_content_type_ok("content_type", list->content_type, reply)) ||
        !s_time_ok("created_after", list->created_after, reply) ||
        !s_time_ok("created_before", list->created_before, reply))
        return;
    if (list->limit > CA_MANIFEST_PAGE_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "limit is %u; a page holds at most %d manifests: ask for fewer and page "
                       "with offset",
                       list->limit, CA_MANIFEST_PAGE_MAX);
        return;
    }
    size_t limit = list->limit ? list->limit : CA_MANIFEST_PAGE_DEFAULT;
    char sql[512];
    s_list_sql(list, sql, sizeof sql);
    sqlite3_stmt *stmt = ca_sql_prepare(ca_store_sql(store), sql);
    assert(stmt);
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
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT 1 FROM manifests"
                                            " WHERE version_root = ?1 AND version_number = 1");
    assert(stmt);
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
    if (!ca_blob_store_hash_ok(root, "version_root", reply))
        return;
    if (versions->limit > CA_MANIFEST_PAGE_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "limit is %u; a page holds at most %d versions: ask for fewer and page "
                       "with after_version",
                       versions->limit, CA_MANIFEST_PAGE_MAX);
        return;
    }
    size_t limit = versions->limit ? versions->limit : CA_MANIFEST_PAGE_DEFAULT;
    //  version_number is a uint32 on the wire: any larger cursor is past
    //  the last version. Clamped so the bound stays a valid SQLite integer.
    int64_t after = versions->after_version > UINT32_MAX ? (int64_t)UINT32_MAX
                                                         : (int64_t)versions->after_version;
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store), "SELECT " MANIFEST_COLUMNS " FROM manifests"
                                            " WHERE version_root = ?1 AND version_number > ?2"
                                            " ORDER BY version_number LIMIT ?3");
    assert(stmt);
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
    ca_write_statement(write,
                       "SELECT 1 FROM manifests m JOIN manifests n ON n.version_root ="
                       " m.version_root AND n.version_number = m.version_number + 1"
                       " WHERE m.hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT,
                       "a later version follows this manifest; delete the later versions first "
                       "(newest first), so that no version loses its previous one");
    ca_write_blob(write, hash->data, CA_HASH_BYTES);
    s_write_clear_lists(write, hash->data);
    ca_write_statement(write, "DELETE FROM manifests WHERE hash = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, hash->data, CA_HASH_BYTES);
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

static bool s_summary_items_ok(const char *name, char **items, size_t count, size_t max_bytes,
                               ca_reply_t *reply) {
    if (count > CA_SUMMARY_ITEMS_MAX) {
        ca_reply_error(reply, CA_INVALID, "summary.%s holds %zu items; at most %d are kept", name,
                       count, CA_SUMMARY_ITEMS_MAX);
        return false;
    }
    char field[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof field, "summary.%s[%zu]", name, i);
        if (!s_text_ok(field, items[i], 0, max_bytes, false, reply))
            return false;
    }
    return true;
}

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
    if (!summary) {
        ca_reply_error(reply, CA_INVALID, "the request has no summary; send one");
        return;
    }
    if (!ca_blob_store_hash_ok(&summary->l0_hash, "summary.l0_hash", reply) ||
        !s_summary_items_ok("preview_mentions", summary->preview_mentions,
                            summary->n_preview_mentions, CA_SUMMARY_MENTION_MAX, reply) ||
        !s_summary_items_ok("primary_topics", summary->primary_topics, summary->n_primary_topics,
                            CA_SUMMARY_TOPIC_MAX, reply) ||
        !s_text_ok("summary.summary_text", summary->summary_text, 0, CA_SUMMARY_TEXT_MAX, false,
                   reply))
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
    sqlite3_stmt *stmt =
        ca_sql_prepare(ca_store_sql(store),
                       "SELECT mention_count, summary_text FROM summaries WHERE l0_hash = ?1");
    assert(stmt);
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
    .schema = &prov_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test --------------------------------------------------------------------------

#include "ca_hash.h"
#include "ca_request.h"
#include "ca_testbed.h"

//  Content number n: the hash of its name.
static void s_hash(int n, uint8_t hash[32]) {
    char name[32];
    snprintf(name, sizeof name, "content-%d", n);
    ca_sha256(name, strlen(name), hash);
}

//  A test manifest: its own storage, so a test can edit fields in place.
typedef struct {
    Cairn__Manifest manifest;
    Cairn__AccessControl access;
    uint8_t hash[32], previous[32], root[32];
    char *tags[3], *allow[2], *deny[1];
} test_manifest_t;

//  Content n as version `number` (after content `previous` of root `root`).
static void s_manifest_init(test_manifest_t *t, int n, uint32_t number, int previous, int root) {
    memset(t, 0, sizeof *t);
    cairn__manifest__init(&t->manifest);
    cairn__access_control__init(&t->access);
    s_hash(n, t->hash);
    t->manifest.hash = (ProtobufCBinaryData){32, t->hash};
    t->manifest.content_type = (char *)"text/article";
    t->manifest.version_number = number;
    if (number > 1) {
        s_hash(previous, t->previous);
        s_hash(root, t->root);
        t->manifest.version_previous = (ProtobufCBinaryData){32, t->previous};
        t->manifest.version_root = (ProtobufCBinaryData){32, t->root};
    }
    t->manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_SHARED;
    t->manifest.title = (char *)"A title";
    t->manifest.description = (char *)"What it is";
    t->tags[0] = (char *)"news";
    t->tags[1] = (char *)"b";
    t->tags[2] = (char *)"a";
    t->manifest.tags = t->tags;
    t->manifest.n_tags = 3;
    t->manifest.content_size = 1234;
    t->manifest.mime_type = (char *)"text/plain";
    t->manifest.price = UINT64_MAX; //  all 64 bits survive
    t->manifest.total_queries = 7;
    t->manifest.total_revenue = 1ULL << 63;
    t->allow[0] = (char *)"peer-b";
    t->allow[1] = (char *)"peer-a";
    t->deny[0] = (char *)"peer-z";
    t->access.allow = t->allow;
    t->access.n_allow = 2;
    t->access.deny = t->deny;
    t->access.n_deny = 1;
    t->manifest.access = &t->access;
    t->manifest.owner = (char *)"owner:1";
}

static Cairn__Response *s_put(ca_testbed_t *bed, test_manifest_t *t) {
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, &t->manifest);
    return ca_testbed_send(bed, &request);
}

static void s_put_ok(ca_testbed_t *bed, test_manifest_t *t) {
    cairn__response__free_unpacked(ca_testbed_ok(s_put(bed, t), CAIRN__RESPONSE__BODY_MANIFEST_PUT),
                                   NULL);
}

static Cairn__Response *s_get(ca_testbed_t *bed, int n) {
    uint8_t hash[32];
    s_hash(n, hash);
    Cairn__Request request;
    Cairn__ManifestGet get;
    ca_request_manifest_get(&request, &get, 0, hash, 32);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_delete(ca_testbed_t *bed, int n) {
    uint8_t hash[32];
    s_hash(n, hash);
    Cairn__Request request;
    Cairn__ManifestDelete del;
    ca_request_manifest_delete(&request, &del, 0, hash, 32);
    return ca_testbed_send(bed, &request);
}

static bool s_removed(ca_testbed_t *bed, int n) {
    Cairn__Response *response =
        ca_testbed_ok(s_delete(bed, n), CAIRN__RESPONSE__BODY_MANIFEST_DELETE);
    bool removed = response->manifest_delete->removed;
    cairn__response__free_unpacked(response, NULL);
    return removed;
}

//  Every field of a stored manifest against what was put.
static void s_manifest_expect(const Cairn__Manifest *got, const test_manifest_t *t) {
    assert(got->hash.len == 32 && memcmp(got->hash.data, t->hash, 32) == 0);
    assert(streq(got->content_type, t->manifest.content_type));
    assert(got->version_number == t->manifest.version_number);
    const uint8_t *root = t->manifest.version_number > 1 ? t->root : t->hash;
    assert(got->version_root.len == 32 && memcmp(got->version_root.data, root, 32) == 0);
    assert(got->version_previous.len == (t->manifest.version_number > 1 ? 32u : 0u));
    assert(got->version_timestamp > 0 && got->created_at > 0 && got->updated_at > 0);
    assert(got->visibility == t->manifest.visibility);
    assert(streq(got->title, t->manifest.title) &&
           streq(got->description, t->manifest.description));
    assert(got->n_tags == t->manifest.n_tags);
    for (size_t i = 0; i < got->n_tags; i++)
        assert(streq(got->tags[i], t->manifest.tags[i])); //  in their order
    assert(got->content_size == t->manifest.content_size && got->price == t->manifest.price);
    assert(got->total_queries == t->manifest.total_queries);
    assert(got->total_revenue == t->manifest.total_revenue);
    assert(streq(got->mime_type, t->manifest.mime_type) && streq(got->owner, t->manifest.owner));
    assert(got->access && got->access->n_allow == t->access.n_allow);
    assert(got->access->n_deny == t->access.n_deny);
}

static void s_test_crud(ca_testbed_t *bed) {
    test_manifest_t t;
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.version_timestamp = 1700000000; //  a whole number reads back right
    Cairn__Response *response = ca_testbed_ok(s_put(bed, &t), CAIRN__RESPONSE__BODY_MANIFEST_PUT);
    s_manifest_expect(response->manifest_put, &t);
    assert(response->manifest_put->version_timestamp == 1700000000);
    double created_at = response->manifest_put->created_at;
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(s_get(bed, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    s_manifest_expect(response->manifest_get, &t);
    //  Access lists come back sorted by peer id.
    assert(streq(response->manifest_get->access->allow[0], "peer-a"));
    assert(response->manifest_get->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__CONFLICT, "ManifestUpdate");

    //  Update: mutable fields and lists replaced, versions kept.
    t.manifest.title = (char *)"New title";
    t.manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_PRIVATE;
    t.manifest.n_tags = 1;
    t.access.n_allow = 0;
    t.manifest.owner = (char *)"";
    Cairn__Request request;
    Cairn__ManifestUpdate update;
    ca_request_manifest_update(&request, &update, 0, &t.manifest);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE);
    s_manifest_expect(response->manifest_update, &t);
    assert(response->manifest_update->created_at == created_at);
    assert(response->manifest_update->updated_at >= created_at);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(s_get(bed, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    s_manifest_expect(response->manifest_get, &t);
    cairn__response__free_unpacked(response, NULL);
    t.manifest.version_number = 2;
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID,
                     "version_number cannot change");
    t.manifest.version_number = 0; //  unset: kept
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_UPDATE), NULL);
    test_manifest_t other;
    s_manifest_init(&other, 2, 1, 0, 0);
    ca_request_manifest_update(&request, &update, 0, &other.manifest);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__NOT_FOUND, "put it first");

    //  Delete: lists go with it; again is not an error.
    assert(s_removed(bed, 1));
    ca_testbed_fails(s_get(bed, 1), CAIRN__STATUS__NOT_FOUND, "ManifestPut");
    assert(!s_removed(bed, 1));
    s_manifest_init(&t, 1, 1, 0, 0);
    t.manifest.n_tags = 0;
    t.manifest.access = NULL;
    s_put_ok(bed, &t); //  no stale tags or access rows come back
    response = ca_testbed_ok(s_get(bed, 1), CAIRN__RESPONSE__BODY_MANIFEST_GET);
    assert(response->manifest_get->n_tags == 0 && response->manifest_get->access->n_allow == 0);
    cairn__response__free_unpacked(response, NULL);
    assert(s_removed(bed, 1));
}

static Cairn__Response *s_versions_page(ca_testbed_t *bed, int root, uint32_t limit,
                                        uint64_t after) {
    uint8_t hash[32];
    s_hash(root, hash);
    Cairn__Request request;
    Cairn__ManifestVersions versions;
    ca_request_manifest_versions(&request, &versions, 0, hash, 32, limit, after);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_versions(ca_testbed_t *bed, int root) {
    return s_versions_page(bed, root, 0, 0);
}

//  Walks the versions of `root` `limit` at a time: 1..total each once, in
//  order, `more` on every full page but the last. Returns the pages.
static size_t s_walk_versions(ca_testbed_t *bed, int root, uint32_t limit, uint32_t total) {
    size_t pages = 0, page_size = limit ? limit : CA_MANIFEST_PAGE_DEFAULT;
    uint32_t next = 1;
    bool more = true;
    while (more) {
        Cairn__Response *response = ca_testbed_ok(s_versions_page(bed, root, limit, next - 1),
                                                  CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        const Cairn__ManifestPage *page = response->manifest_versions;
        assert(page->n_manifests == (total - next + 1 < page_size ? total - next + 1 : page_size));
        for (size_t i = 0; i < page->n_manifests; i++)
            assert(page->manifests[i]->version_number == next++);
        more = page->more;
        assert(more == (next <= total));
        cairn__response__free_unpacked(response, NULL);
        pages++;
    }
    return pages;
}

//  A chain of 25 versions (contents 300..324, root 300), a page at a time.
static void s_test_version_pages(ca_testbed_t *bed) {
    test_manifest_t t;
    for (int i = 0; i < 25; i++) {
        s_manifest_init(&t, 300 + i, (uint32_t)i + 1, 300 + i - 1, 300);
        s_put_ok(bed, &t);
    }
    assert(s_walk_versions(bed, 300, 7, 25) == 4); //  7 7 7 4
    assert(s_walk_versions(bed, 300, 5, 25) == 5); //  exactly full: no more after
    assert(s_walk_versions(bed, 300, 0, 25) == 1); //  the default page (100) holds them all
    assert(s_walk_versions(bed, 300, CA_MANIFEST_PAGE_MAX, 25) == 1);
    ca_testbed_fails(s_versions_page(bed, 300, CA_MANIFEST_PAGE_MAX + 1, 0), CAIRN__STATUS__INVALID,
                     "at most 1000");
    //  Past the last version: an empty page of a known root; an unknown root
    //  stays NOT_FOUND on any page.
    uint64_t beyond[] = {25, 26, 1ULL << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        Cairn__Response *response = ca_testbed_ok(s_versions_page(bed, 300, 3, beyond[i]),
                                                  CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
        assert(response->manifest_versions->n_manifests == 0 && !response->manifest_versions->more);
        cairn__response__free_unpacked(response, NULL);
        ca_testbed_fails(s_versions_page(bed, 399, 3, beyond[i]), CAIRN__STATUS__NOT_FOUND,
                         "version 1");
    }
    ca_testbed_fails(s_versions_page(bed, 301, 0, 0), CAIRN__STATUS__NOT_FOUND, "version 1");
    for (int i = 24; i >= 0; i--) //  newest first
        assert(s_removed(bed, 300 + i));
}

//  Each version rule, broken once.
static void s_test_versions(ca_testbed_t *bed) {
    test_manifest_t t;
    s_manifest_init(&t, 10, 1, 0, 0);
    s_put_ok(bed, &t);
    s_manifest_init(&t, 11, 2, 10, 10);
    s_put_ok(bed, &t);
    s_manifest_init(&t, 12, 3, 11, 10);
    s_put_ok(bed, &t);
    Cairn__Response *response =
        ca_testbed_ok(s_versions(bed, 10), CAIRN__RESPONSE__BODY_MANIFEST_VERSIONS);
    assert(response->manifest_versions->n_manifests == 3 && !response->manifest_versions->more);
    for (uint32_t i = 0; i < 3; i++)
        assert(response->manifest_versions->manifests[i]->version_number == i + 1);
    cairn__response__free_unpacked(response, NULL);
    ca_testbed_fails(s_versions(bed, 11), CAIRN__STATUS__NOT_FOUND, "version 1");

    s_manifest_init(&t, 20, 0, 0, 0);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "versions count from 1");
    s_manifest_init(&t, 20, 1, 0, 0);
    t.manifest.version_previous = (ProtobufCBinaryData){32, t.hash + 0};
    s_hash(10, t.previous);
    t.manifest.version_previous.data = t.previous;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "a first version has none");
    s_manifest_init(&t, 20, 1, 0, 0);
    s_hash(10, t.root);
    t.manifest.version_root = (ProtobufCBinaryData){32, t.root};
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "its own root");
    s_manifest_init(&t, 20, 2, 10, 10);
    t.manifest.version_root.len = 0;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID,
                     "needs version_previous and version_root");
    s_manifest_init(&t, 20, 2, 20, 10);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "names itself");
    s_manifest_init(&t, 20, 2, 99, 10);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__CONFLICT, "put the previous version first");
    s_manifest_init(&t, 30, 1, 0, 0);
    s_put_ok(bed, &t);
    s_manifest_init(&t, 20, 2, 30, 10);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__CONFLICT, "another version root");
    s_manifest_init(&t, 20, 3, 10, 10);
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__CONFLICT, "cannot be version 3");
    s_manifest_init(&t, 20, 2, 10, 10); //  a second version 2 of root 10
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__CONFLICT, "exists already");
    ca_testbed_fails(s_get(bed, 20), CAIRN__STATUS__NOT_FOUND, "no manifest");

    //  Versions go newest first.
    ca_testbed_fails(s_delete(bed, 11), CAIRN__STATUS__CONFLICT, "later versions first");
    assert(s_removed(bed, 12) && s_removed(bed, 11) && s_removed(bed, 10) && s_removed(bed, 30));
}

static void s_test_bad_input(ca_testbed_t *bed) {
    test_manifest_t t;
    s_manifest_init(&t, 40, 1, 0, 0);
    t.manifest.hash.len = 31;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "manifest.hash");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.manifest.content_type = (char *)"";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "content_type");
    t.manifest.content_type = (char *)"a b";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "content_type");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.manifest.visibility = (Cairn__Visibility)3;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "visibility");
    s_manifest_init(&t, 40, 1, 0, 0);
    char title[CA_MANIFEST_TITLE_MAX + 2];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = 0;
    t.manifest.title = title;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "title is 257 bytes");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.tags[1] = (char *)"";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "tags[1]");
    t.tags[1] = (char *)"a\tb";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "control character");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.allow[1] = (char *)"peer b";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "access.allow[1]");
    t.allow[1] = (char *)"peer-b";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "repeats peer");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.manifest.owner = (char *)"../x";
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "owner");
    s_manifest_init(&t, 40, 1, 0, 0);
    t.manifest.version_timestamp = NAN;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "version_timestamp");
    s_manifest_init(&t, 40, 2, 10, 10);
    t.manifest.version_previous.len = 5;
    ca_testbed_fails(s_put(bed, &t), CAIRN__STATUS__INVALID, "version_previous");
    Cairn__Request request;
    Cairn__ManifestPut put;
    ca_request_manifest_put(&request, &put, 0, NULL);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "no manifest");
    ca_testbed_fails(s_get(bed, 40), CAIRN__STATUS__NOT_FOUND, "no manifest");
    Cairn__ManifestList list;
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, CA_MANIFEST_PAGE_MAX + 1, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "limit");
    ca_request_manifest_list(&request, &list, 0, false, 0, "", -1, 0, 0, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "created_after");
    ca_request_manifest_list(&request, &list, 0, true, (Cairn__Visibility)7, "", 0, 0, 0, 0);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "visibility");
}

//  Lists: each filter, the order, paging.
static void s_test_list(ca_testbed_t *bed) {
    test_manifest_t t;
    for (int n = 0; n < 12; n++) {
        s_manifest_init(&t, 100 + n, 1, 0, 0);
        t.manifest.visibility = (Cairn__Visibility)(n % 3);
        t.manifest.content_type = n < 4 ? (char *)"image/png" : (char *)"text/article";
        s_put_ok(bed, &t);
    }
    Cairn__Request request;
    Cairn__ManifestList list;
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 0, 0);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    const Cairn__ManifestPage *page = response->manifest_list;
    assert(page->n_manifests == 12 && !page->more);
    for (size_t i = 1; i < page->n_manifests; i++)
        assert(page->manifests[i - 1]->created_at >= page->manifests[i]->created_at);
    double middle = page->manifests[6]->created_at;
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, true, CAIRN__VISIBILITY__VISIBILITY_PRIVATE, "", 0,
                             0, 0, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 4);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "image/png", 0, 0, 0, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 4);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, middle, 5, 0);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    for (size_t i = 0; i < response->manifest_list->n_manifests; i++)
        assert(response->manifest_list->manifests[i]->created_at < middle);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 5, 10);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 2 && !response->manifest_list->more);
    cairn__response__free_unpacked(response, NULL);
    ca_request_manifest_list(&request, &list, 0, false, 0, "", 0, 0, 5, 5);
    response = ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_MANIFEST_LIST);
    assert(response->manifest_list->n_manifests == 5 && response->manifest_list->more);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_summaries(ca_testbed_t *bed) {
    uint8_t hash[32];
    s_hash(500, hash);
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
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__NOT_FOUND, "SummaryPut");
    ca_request_summary_put(&request, &put, 0, &summary);
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    summary.n_preview_mentions = 1; //  a replace drops the old items
    cairn__response__free_unpacked(
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SUMMARY_PUT), NULL);
    ca_request_summary_get(&request, &get, 0, hash, 32);
    Cairn__Response *response =
        ca_testbed_ok(ca_testbed_send(bed, &request), CAIRN__RESPONSE__BODY_SUMMARY_GET);
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
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "primary_topics[0]");
    summary.l0_hash.len = 0;
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "l0_hash");
    ca_request_summary_put(&request, &put, 0, NULL);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "no summary");
    uint8_t wide[33] = {0};
    ca_request_summary_get(&request, &get, 0, wide, sizeof wide);
    ca_testbed_fails(ca_testbed_send(bed, &request), CAIRN__STATUS__INVALID, "l0_hash");
}

void manifests_test(bool verbose) {
    if (verbose)
        printf(" * manifests: ");
    ca_testbed_t *bed = ca_testbed_new(&manifests_store_def);
    s_test_crud(bed);
    s_test_versions(bed);
    s_test_bad_input(bed);
    s_test_list(bed);
    s_test_summaries(bed);
    s_test_version_pages(bed);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

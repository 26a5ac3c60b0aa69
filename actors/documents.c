/*  =========================================================================
    documents - versioned JSON documents per tenant

    What it owns: git-like histories of JSON objects, in three tables of its
    own schema "documents":

        table           what                                   key
        --------------  -------------------------------------  -------------------
        doc_objects     canonical JSON text, its size, refs    digest (SHA-256)
        doc_snapshots   one version: digest, parent, user,     tenant, entry, seq
                        date (µs)
        doc_entries     the head (newest seq) of each entry    tenant, entry

    Requests, the canonical form and the digest: schemas/documents.proto.
    Parsing and the canonical text: documents_json.c.

    Objects are content-addressed: a snapshot names its object by digest,
    so an object saved in many entries or tenants is stored once. `refs`
    counts the snapshots naming an object and is kept by two triggers on
    doc_snapshots (insert +1, delete -1), whatever statement changes them.
    Truncating a history deletes snapshots only; DocSweep then deletes the
    objects that no snapshot names (refs 0, and checked again by a NOT
    EXISTS over the digest index, so a wrong count could never remove a
    reachable object).

    A history is a chain by seq: snapshot N's parent is N-1, the head when
    N was made. A snapshot is written by three statements in the write's
    savepoint (s_write_snapshot): the object if absent; the snapshot, as
    `INSERT ... SELECT` from the head row read in that same statement, so
    its seq and parent are the head the writer sees, not one a worker read
    earlier, and which inserts nothing when the head already holds this
    object (changed = false: that statement's change count); the head,
    set to the newest seq. save and revert need no read before; put and
    put_many build the new object from the head they read, so their write
    first checks that the head is still that seq (else CONFLICT, retry).

    Writes are pinned to worker 0 (CA_ROUTE_ONE_WORKER), so one
    connection's writes commit in the order sent. Reads go to any worker.
    ========================================================================= */

#include "documents.h"
#include "ca_clock.h"
#include "ca_hash.h"
#include "ca_log.h"
#include "ca_validate.h"
#include "documents_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  ---- schema --------------------------------------------------------------------

static const char *const s_migrations[] = {
    "CREATE TABLE doc_objects ("
    "  digest BLOB PRIMARY KEY, body TEXT NOT NULL, size INTEGER NOT NULL,"
    "  refs INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE doc_snapshots ("
    "  tenant TEXT NOT NULL, entry TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  digest BLOB NOT NULL, parent BLOB, user TEXT NOT NULL, date INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, entry, seq)) WITHOUT ROWID;"
    "CREATE INDEX doc_snapshots_by_digest ON doc_snapshots (digest);"
    "CREATE TABLE doc_entries ("
    "  tenant TEXT NOT NULL, entry TEXT NOT NULL, head INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, entry)) WITHOUT ROWID;"
    "CREATE TRIGGER doc_snapshots_added AFTER INSERT ON doc_snapshots BEGIN"
    "  UPDATE doc_objects SET refs = refs + 1 WHERE digest = NEW.digest;"
    "END;"
    "CREATE TRIGGER doc_snapshots_removed AFTER DELETE ON doc_snapshots BEGIN"
    "  UPDATE doc_objects SET refs = refs - 1 WHERE digest = OLD.digest;"
    "END;",
};

const ca_schema_t documents_schema = {
    .store = "documents",
    .migrations = s_migrations,
    .count = sizeof s_migrations / sizeof s_migrations[0],
};

//  ---- checks ----------------------------------------------------------------------

//  tenant, entry, user: 1..CA_DOC_NAME_MAX bytes without control characters.
static bool s_name_ok(const char *name, const char *what, ca_reply_t *reply) {
    size_t length = strnlen(name, CA_DOC_NAME_MAX + 1);
    const char *problem = NULL;
    if (length == 0)
        problem = "is missing";
    else if (length > CA_DOC_NAME_MAX)
        problem = "is longer than 256 bytes";
    for (size_t i = 0; i < length && !problem; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            problem = "has a control character";
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "%s %s: send 1..256 bytes of UTF-8 without control "
                       "characters",
                       what, problem);
    return problem == NULL;
}

static bool s_place_ok(const char *tenant, const char *entry, ca_reply_t *reply) {
    return s_name_ok(tenant, "tenant", reply) && s_name_ok(entry, "entry", reply);
}

static bool s_digest_ok(ProtobufCBinaryData digest, const char *what, bool optional,
                        ca_reply_t *reply) {
    if (digest.len == CA_SHA256_BYTES || (optional && digest.len == 0))
        return true;
    ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; send the 32-byte SHA-256 of the object",
                   what, digest.len);
    return false;
}

static size_t s_max_bytes(ca_store_t *store) {
    int64_t max = ca_store_settings(store)->doc_max_bytes;
    return max > 0 ? (size_t)max : CA_DEFAULT_DOC_MAX_BYTES;
}

//  ---- small pieces shared by the handlers ---------------------------------------

static void s_answer(ca_reply_t *reply, Cairn__Response__BodyCase body_case, void *body) {
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = body_case;
    //  Every member of the body oneof is a pointer at the same place.
    response->doc_save = body;
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read %s: %s; retry", what,
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

static ProtobufCBinaryData s_column_bytes(ca_reply_t *reply, sqlite3_stmt *stmt, int column) {
    ProtobufCBinaryData bytes = {(size_t)sqlite3_column_bytes(stmt, column), NULL};
    bytes.data = ca_reply_memdup(reply, sqlite3_column_blob(stmt, column), bytes.len);
    return bytes;
}

//  A snapshot as read: its info and (with the object) its canonical text.
typedef struct {
    Cairn__DocSnapshotInfo *info;
    const char *body; //  reply memory
    size_t size;
} s_snapshot_t;

#define SNAPSHOT_COLUMNS "s.seq, s.digest, s.parent, s.user, s.date, o.body"

//  Fills `out` from a row of SNAPSHOT_COLUMNS; false when memory ran out.
static bool s_snapshot_row(ca_reply_t *reply, sqlite3_stmt *stmt, s_snapshot_t *out) {
    Cairn__DocSnapshotInfo *info = ca_reply_alloc(reply, sizeof *info);
    cairn__doc_snapshot_info__init(info);
    info->seq = (uint64_t)sqlite3_column_int64(stmt, 0);
    info->digest = s_column_bytes(reply, stmt, 1);
    info->parent = s_column_bytes(reply, stmt, 2);
    info->user = ca_reply_strdup(reply, (const char *)sqlite3_column_text(stmt, 3));
    info->date = (uint64_t)sqlite3_column_int64(stmt, 4);
    out->info = info;
    if (sqlite3_column_count(stmt) > 5) {
        out->size = (size_t)sqlite3_column_bytes(stmt, 5);
        char *body = ca_reply_alloc_large(reply, out->size + 1);
        if (!body)
            return false;
        memcpy(body, sqlite3_column_text(stmt, 5), out->size);
        body[out->size] = 0;
        out->body = body;
    }
    return true;
}

//  The head (digest empty) or the newest kept snapshot of `digest` of the
//  entry, with its object. 1 found; 0 not found, the reply NOT_FOUND unless
//  `quiet`; -1 the reply failed.
static int s_find(ca_store_t *store, const char *tenant, const char *entry,
                  ProtobufCBinaryData digest, bool quiet, ca_reply_t *reply, s_snapshot_t *out) {
    sqlite3_stmt *stmt =
        digest.len ? ca_store_prepare(store,
                                      "SELECT " SNAPSHOT_COLUMNS " FROM doc_snapshots s"
                                      " JOIN doc_objects o ON o.digest = s.digest"
                                      " WHERE s.tenant = ?1 AND s.entry = ?2 AND s.digest = ?3"
                                      " ORDER BY s.seq DESC LIMIT 1",
                                      reply)
                   : ca_store_prepare(store,
                                      "SELECT " SNAPSHOT_COLUMNS " FROM doc_entries e"
                                      " JOIN doc_snapshots s ON s.tenant = e.tenant"
                                      "  AND s.entry = e.entry AND s.seq = e.head"
                                      " JOIN doc_objects o ON o.digest = s.digest"
                                      " WHERE e.tenant = ?1 AND e.entry = ?2",
                                      reply);
    if (!stmt)
        return -1;
    sqlite3_bind_text(stmt, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entry, -1, SQLITE_STATIC);
    if (digest.len)
        sqlite3_bind_blob(stmt, 3, digest.data, (int)digest.len, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int found = -1;
    if (rc == SQLITE_ROW)
        found = s_snapshot_row(reply, stmt, out) ? 1 : -1;
    else if (rc == SQLITE_DONE) {
        found = 0;
        if (quiet)
            ;
        else if (digest.len) {
            char hex[2 * CA_SHA256_BYTES + 1];
            ca_hash_to_hex(digest.data, hex);
            ca_reply_error(reply, CA_NOT_FOUND,
                           "no snapshot of object %s in entry '%s' of tenant '%s' (or it was "
                           "truncated); list the history for its digests",
                           hex, entry, tenant);
        } else
            ca_reply_error(reply, CA_NOT_FOUND,
                           "no entry '%s' in tenant '%s'; save an object there first", entry,
                           tenant);
    } else
        s_read_failed(reply, stmt, rc, "the entry");
    sqlite3_reset(stmt);
    return found;
}

//  Parses stored canonical text (which always parses): NULL, the reply
//  failed, when it does not.
static json_t *s_parse_stored(const s_snapshot_t *snapshot, ca_reply_t *reply) {
    char error[CA_DOC_ERROR_BYTES];
    json_t *value = documents_json_parse(snapshot->body, snapshot->size, error);
    if (!value)
        ca_reply_error(reply, CA_CORRUPT,
                       "a stored object does not parse (%s); revert the entry "
                       "to another snapshot",
                       error);
    return value;
}

//  The canonical text of `value` in reply memory, or NULL with the reply
//  failed (INVALID naming `what`, or INTERNAL).
static char *s_canonical(ca_store_t *store, const json_t *value, const char *what, size_t *length,
                         ca_reply_t *reply) {
    char error[CA_DOC_ERROR_BYTES];
    bool oom = false;
    char *text = documents_json_canonical(value, s_max_bytes(store), length, &oom, error);
    if (!text) {
        ca_reply_error(reply, oom ? CA_INTERNAL : CA_INVALID, "%s: %s", what, error);
        return NULL;
    }
    char *copy = ca_reply_alloc_large(reply, *length + 1);
    if (copy)
        memcpy(copy, text, *length + 1);
    free(text);
    return copy;
}

//  JSON text from a request, parsed: NULL with the reply INVALID naming
//  `what` and where it broke.
static json_t *s_parse_request(const char *text, const char *what, ca_reply_t *reply) {
    char error[CA_DOC_ERROR_BYTES];
    json_t *value = documents_json_parse(text, strlen(text), error);
    if (!value)
        ca_reply_error(reply, CA_INVALID, "%s is not valid JSON: %s", what, error);
    return value;
}

//  ---- heads of writes in flight ------------------------------------------------------
//  Writes are pinned to worker 0, which sends them in order and the writer
//  commits them in that order; so worker 0 knows what the head of an entry
//  will be once its writes in flight have committed, and builds a put on
//  that head instead of the committed one (a client may pipeline puts into
//  one entry; reading the database, each would meet a head its
//  predecessor is about to move, and be CONFLICT). The prediction is only
//  an optimisation: every put's write still expects the head at the seq
//  it was built on, so a prediction made wrong by a failed write gives
//  CONFLICT, never a lost update; and with writes in flight an edit equal
//  to the predicted head is still sent (the writer's no-op), never
//  answered "unchanged" from a prediction. An entry leaves the table when
//  its last write in flight is answered.

typedef struct {
    int64_t seq;
    uint8_t digest[CA_SHA256_BYTES];
    char *body; //  canonical text, malloc'd
    size_t size;
    unsigned in_flight;
} s_pending_t;

static void s_pending_destroy(void **item) {
    s_pending_t *pending = (s_pending_t *)*item;
    if (pending) {
        free(pending->body);
        free(pending);
        *item = NULL;
    }
}

static void *s_state_new(ca_store_t *store, char **error) {
    (void)store;
    zhashx_t *table = zhashx_new();
    if (!table) {
        *error = strdup("out of memory for the documents worker's table");
        return NULL;
    }
    zhashx_set_destructor(table, s_pending_destroy);
    return table;
}

static void s_state_destroy(void **state_p) {
    zhashx_destroy((zhashx_t **)state_p);
}

//  The table's key of an entry (names hold no control character, so
//  \x01 cannot be part of one).
#define PENDING_KEY_SIZE (2 * CA_DOC_NAME_MAX + 2)

static void s_pending_key(const char *tenant, const char *entry, char *key) {
    snprintf(key, PENDING_KEY_SIZE, "%s\x01%s", tenant, entry);
}

static s_pending_t *s_pending(ca_store_t *store, const char *tenant, const char *entry) {
    char key[PENDING_KEY_SIZE];
    s_pending_key(tenant, entry, key);
    return (s_pending_t *)zhashx_lookup((zhashx_t *)ca_store_state(store), key);
}

//  Records that a write making (seq, digest, body) the head is in flight.
//  When memory runs out nothing is predicted for the entry (a wrong
//  prediction would give CONFLICTs; none gives reads of the database).
static void s_pending_add(ca_store_t *store, const char *tenant, const char *entry, int64_t seq,
                          const uint8_t *digest, const char *body, size_t size) {
    char key[PENDING_KEY_SIZE];
    s_pending_key(tenant, entry, key);
    zhashx_t *table = (zhashx_t *)ca_store_state(store);
    s_pending_t *pending = (s_pending_t *)zhashx_lookup(table, key);
    char *copy = malloc(size + 1);
    if (!pending) {
        pending = calloc(1, sizeof *pending);
        if (pending && zhashx_insert(table, key, pending) != 0) {
            free(pending);
            pending = NULL;
        }
    }
    if (!pending || !copy) {
        free(copy);
        zhashx_delete(table, key);
        return;
    }
    memcpy(copy, body, size);
    copy[size] = 0;
    free(pending->body);
    pending->body = copy;
    pending->size = size;
    pending->seq = seq;
    memcpy(pending->digest, digest, CA_SHA256_BYTES);
    pending->in_flight++;
}

//  One write of the entry was answered (or never sent).
static void s_pending_done(ca_store_t *store, const char *tenant, const char *entry) {
    char key[PENDING_KEY_SIZE];
    s_pending_key(tenant, entry, key);
    zhashx_t *table = (zhashx_t *)ca_store_state(store);
    s_pending_t *pending = (s_pending_t *)zhashx_lookup(table, key);
    if (pending && --pending->in_flight == 0)
        zhashx_delete(table, key);
}

//  The tenant and entry of a snapshot write's request.
static void s_request_place(const Cairn__Request *request, const char **tenant,
                            const char **entry) {
    *tenant = *entry = NULL;
    if (request->body_case == CAIRN__REQUEST__BODY_DOC_SAVE) {
        *tenant = request->doc_save->tenant;
        *entry = request->doc_save->entry;
    } else if (request->body_case == CAIRN__REQUEST__BODY_DOC_PUT) {
        *tenant = request->doc_put->tenant;
        *entry = request->doc_put->entry;
    } else if (request->body_case == CAIRN__REQUEST__BODY_DOC_PUT_MANY) {
        *tenant = request->doc_put_many->tenant;
        *entry = request->doc_put_many->entry;
    } else if (request->body_case == CAIRN__REQUEST__BODY_DOC_REVERT) {
        *tenant = request->doc_revert->tenant;
        *entry = request->doc_revert->entry;
    }
}

static void s_write_failed(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write) {
    (void)write;
    const char *tenant, *entry;
    s_request_place(request, &tenant, &entry);
    if (tenant)
        s_pending_done(store, tenant, entry);
}

//  The head's seq and digest as committed (seq 0: no entry); -1 when the
//  reply failed.
static int s_head_committed(ca_store_t *store, const char *tenant, const char *entry, int64_t *seq,
                            uint8_t *digest, ca_reply_t *reply) {
    sqlite3_stmt *stmt = ca_store_prepare(store,
                                          "SELECT e.head, s.digest FROM doc_entries e"
                                          " JOIN doc_snapshots s ON s.tenant = e.tenant"
                                          "  AND s.entry = e.entry AND s.seq = e.head"
                                          " WHERE e.tenant = ?1 AND e.entry = ?2",
                                          reply);
    if (!stmt)
        return -1;
    sqlite3_bind_text(stmt, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entry, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *seq = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 1) == CA_SHA256_BYTES) {
        *seq = sqlite3_column_int64(stmt, 0);
        memcpy(digest, sqlite3_column_blob(stmt, 1), CA_SHA256_BYTES);
    } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        s_read_failed(reply, stmt, rc, "the entry's head");
        sqlite3_reset(stmt);
        return -1;
    }
    sqlite3_reset(stmt);
    return 0;
}

//  ---- writing a snapshot -------------------------------------------------------------

//  The three statements of a new snapshot (see the essay); the second's
//  change count says whether one was made.
static void s_write_snapshot(ca_write_t *write, const char *tenant, const char *entry,
                             const char *user, const uint8_t *digest, const char *body,
                             size_t size) {
    ca_write_statement(write,
                       "INSERT INTO doc_objects (digest, body, size, refs) VALUES (?1, ?2, ?3, 0)"
                       " ON CONFLICT (digest) DO NOTHING",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_blob(write, digest, CA_SHA256_BYTES);
    ca_write_text(write, body);
    ca_write_int(write, (int64_t)size);
    ca_write_statement(
        write,
        "INSERT INTO doc_snapshots (tenant, entry, seq, digest, parent, user, date)"
        " SELECT ?1, ?2, coalesce(e.head, 0) + 1, ?3, h.digest, ?4, ?5 FROM (SELECT 1)"
        " LEFT JOIN doc_entries e ON e.tenant = ?1 AND e.entry = ?2"
        " LEFT JOIN doc_snapshots h ON h.tenant = ?1 AND h.entry = ?2 AND h.seq = e.head"
        " WHERE h.digest IS NOT ?3",
        CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, tenant);
    ca_write_text(write, entry);
    ca_write_blob(write, digest, CA_SHA256_BYTES);
    ca_write_text(write, user);
    ca_write_int(write, (int64_t)(ca_now_seconds() * 1e6));
    ca_write_statement(
        write,
        "INSERT INTO doc_entries (tenant, entry, head)"
        " SELECT ?1, ?2, max(seq) FROM doc_snapshots WHERE tenant = ?1 AND entry = ?2"
        " ON CONFLICT (tenant, entry) DO UPDATE SET head = excluded.head",
        CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, tenant);
    ca_write_text(write, entry);
    ca_write_context(write, digest, CA_SHA256_BYTES);
}

//  The answer of a committed snapshot write (save, put, put_many, revert).
static void s_saved_done(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    s_write_failed(store, request, write); //  answered: one write fewer in flight
    if (write->n_results < 3 || write->context.len != CA_SHA256_BYTES) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks a statement's result; retry");
        return;
    }
    Cairn__DocSaved *saved = ca_reply_alloc(reply, sizeof *saved);
    cairn__doc_saved__init(saved);
    saved->digest = (ProtobufCBinaryData){
        CA_SHA256_BYTES, ca_reply_memdup(reply, write->context.data, CA_SHA256_BYTES)};
    saved->changed = write->results[write->n_results - 2]->changes > 0;
    s_answer(reply, (Cairn__Response__BodyCase)request->body_case, saved);
}

//  Sends the write of a snapshot of (digest, body): with `check_seq` >= 0
//  only over that head (put: the head it was built on, whose digest is
//  `check_digest`, NULL for no entry), and records the head it will make.
static void s_send_snapshot(ca_store_t *store, const char *tenant, const char *entry,
                            const char *user, const uint8_t *digest, const char *body, size_t size,
                            int64_t check_seq, const uint8_t *check_digest, ca_reply_t *reply) {
    int64_t base_seq = check_seq;
    uint8_t base_digest[CA_SHA256_BYTES] = {0};
    if (check_digest)
        memcpy(base_digest, check_digest, CA_SHA256_BYTES);
    if (check_seq < 0) {
        s_pending_t *pending = s_pending(store, tenant, entry);
        if (pending) {
            base_seq = pending->seq;
            memcpy(base_digest, pending->digest, CA_SHA256_BYTES);
        } else if (s_head_committed(store, tenant, entry, &base_seq, base_digest, reply))
            return;
    }
    ca_write_t *write = ca_write_new();
    if (check_seq >= 0) {
        ca_write_statement(write,
                           "SELECT 1 WHERE coalesce((SELECT head FROM doc_entries"
                           " WHERE tenant = ?1 AND entry = ?2), 0) = ?3",
                           CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_CONFLICT,
                           "the entry changed while this edit was prepared (another write "
                           "committed first); retry it over the new head");
        ca_write_text(write, tenant);
        ca_write_text(write, entry);
        ca_write_int(write, check_seq);
    }
    s_write_snapshot(write, tenant, entry, user, digest, body, size);
    bool same = base_seq > 0 && memcmp(base_digest, digest, CA_SHA256_BYTES) == 0;
    s_pending_add(store, tenant, entry, same ? base_seq : base_seq + 1, digest, body, size);
    if (ca_store_write(store, &write, reply) != 0)
        s_pending_done(store, tenant, entry); //  never sent
}

//  Canonicalises `object` (a JSON object) and writes it as the entry's
//  next snapshot; `head_seq` >= 0: only over that head (put), and an object
//  equal to the committed head's (`head_digest`, when not `predicted`) is
//  answered at once, unchanged.
static void s_store_object(ca_store_t *store, const Cairn__Request *request, const char *tenant,
                           const char *entry, const char *user, const json_t *object,
                           int64_t head_seq, const uint8_t *head_digest, bool predicted,
                           ca_reply_t *reply) {
    size_t size = 0;
    char *body = s_canonical(store, object, "the object", &size, reply);
    if (!body)
        return;
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(body, size, digest);
    if (!predicted && head_digest && memcmp(head_digest, digest, CA_SHA256_BYTES) == 0) {
        Cairn__DocSaved *saved = ca_reply_alloc(reply, sizeof *saved);
        cairn__doc_saved__init(saved);
        saved->digest =
            (ProtobufCBinaryData){CA_SHA256_BYTES, ca_reply_memdup(reply, digest, sizeof digest)};
        s_answer(reply, (Cairn__Response__BodyCase)request->body_case, saved);
        return;
    }
    s_send_snapshot(store, tenant, entry, user, digest, body, size, head_seq, head_digest, reply);
}

//  ---- save, load, revert --------------------------------------------------------------

static void s_save(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocSave *save = request->doc_save;
    if (!s_place_ok(save->tenant, save->entry, reply) || !s_name_ok(save->user, "user", reply))
        return;
    json_t *object = s_parse_request(save->json, "json", reply);
    if (!object)
        return;
    if (json_is_object(object))
        s_store_object(store, request, save->tenant, save->entry, save->user, object, -1, NULL,
                       false, reply);
    else
        ca_reply_error(reply, CA_INVALID,
                       "json is not a JSON object: a document is an object {...} at the top");
    json_decref(object);
}

static void s_load(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocLoad *load = request->doc_load;
    if (!s_place_ok(load->tenant, load->entry, reply) ||
        !s_digest_ok(load->digest, "digest", true, reply))
        return;
    s_snapshot_t found = {0};
    if (s_find(store, load->tenant, load->entry, load->digest, false, reply, &found) != 1)
        return;
    Cairn__DocSnapshot *snapshot = ca_reply_alloc(reply, sizeof *snapshot);
    cairn__doc_snapshot__init(snapshot);
    snapshot->info = found.info;
    snapshot->json = (char *)found.body;
    s_answer(reply, CAIRN__RESPONSE__BODY_DOC_LOAD, snapshot);
}

static void s_head(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocHead *head = request->doc_head;
    if (!s_place_ok(head->tenant, head->entry, reply))
        return;
    s_snapshot_t found = {0};
    if (s_find(store, head->tenant, head->entry, (ProtobufCBinaryData){0, NULL}, false, reply,
               &found) == 1)
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_HEAD, found.info);
}

static void s_revert(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocRevert *revert = request->doc_revert;
    if (!s_place_ok(revert->tenant, revert->entry, reply) ||
        !s_name_ok(revert->user, "user", reply) ||
        !s_digest_ok(revert->digest, "digest", false, reply))
        return;
    s_snapshot_t found = {0};
    if (s_find(store, revert->tenant, revert->entry, revert->digest, false, reply, &found) != 1)
        return;
    //  The stored text is canonical already: written as it is.
    s_send_snapshot(store, revert->tenant, revert->entry, revert->user, revert->digest.data,
                    found.body, found.size, -1, NULL, reply);
}

//  ---- records: put, put_many, get ----------------------------------------------------

//  Applies `count` items to the entry's head (or {}) and stores the result.
static void s_put_items(ca_store_t *store, const Cairn__Request *request, const char *tenant,
                        const char *entry, const char *user, Cairn__DocItem *const *items,
                        size_t count, ca_reply_t *reply) {
    if (!s_place_ok(tenant, entry, reply) || !s_name_ok(user, "user", reply))
        return;
    if (count == 0 || count > CA_DOC_ITEMS_MAX) {
        ca_reply_error(reply, CA_INVALID, "items: send 1..%d records, not %zu", CA_DOC_ITEMS_MAX,
                       count);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        size_t length = strnlen(items[i]->key, CA_DOC_KEY_MAX + 1);
        if (length == 0 || length > CA_DOC_KEY_MAX) {
            ca_reply_error(reply, CA_INVALID, "key %s: send 1..%d bytes",
                           length ? "is too long" : "is missing", CA_DOC_KEY_MAX);
            return;
        }
    }
    //  The head this edit applies to: the one worker 0's writes in flight
    //  will make, else the committed one.
    s_snapshot_t head = {0};
    s_pending_t *pending = s_pending(store, tenant, entry);
    Cairn__DocSnapshotInfo predicted = CAIRN__DOC_SNAPSHOT_INFO__INIT;
    int found = 1;
    if (pending) {
        predicted.seq = (uint64_t)pending->seq;
        predicted.digest = (ProtobufCBinaryData){CA_SHA256_BYTES, pending->digest};
        head = (s_snapshot_t){&predicted, pending->body, pending->size};
    } else
        found = s_find(store, tenant, entry, (ProtobufCBinaryData){0, NULL}, true, reply, &head);
    if (found < 0)
        return;
    json_t *object = found ? s_parse_stored(&head, reply) : json_object();
    if (!object) {
        if (!found)
            ca_reply_error(reply, CA_INTERNAL, "out of memory; retry");
        return;
    }
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        char what[64];
        snprintf(what, sizeof what, "the value of item %zu", i);
        json_t *value = s_parse_request(items[i]->value, what, reply);
        ok = value && json_object_set_new(object, items[i]->key, value) == 0;
        if (value && !ok)
            ca_reply_error(reply, CA_INVALID, "key of item %zu is not usable as a JSON key", i);
    }
    if (ok)
        s_store_object(store, request, tenant, entry, user, object,
                       found ? (int64_t)head.info->seq : 0, found ? head.info->digest.data : NULL,
                       pending != NULL, reply);
    json_decref(object);
}

static void s_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocPut *put = request->doc_put;
    Cairn__DocItem item = CAIRN__DOC_ITEM__INIT;
    item.key = put->key;
    item.value = put->value;
    Cairn__DocItem *items[] = {&item};
    s_put_items(store, request, put->tenant, put->entry, put->user, items, 1, reply);
}

static void s_put_many(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocPutMany *put = request->doc_put_many;
    s_put_items(store, request, put->tenant, put->entry, put->user, put->items, put->n_items,
                reply);
}

static Cairn__DocItem *s_item(ca_store_t *store, const char *key, const json_t *value,
                              ca_reply_t *reply) {
    size_t length = 0;
    char *text = s_canonical(store, value, "the value", &length, reply);
    if (!text)
        return NULL;
    Cairn__DocItem *item = ca_reply_alloc(reply, sizeof *item);
    cairn__doc_item__init(item);
    item->key = ca_reply_strdup(reply, key);
    item->value = text;
    return item;
}

static int s_key_order(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  The keys of `object` sorted by bytes, in reply memory; NULL when it has
//  none or memory ran out (the reply then failed).
static const char **s_sorted_keys(const json_t *object, ca_reply_t *reply) {
    size_t count = json_object_size(object);
    if (!count)
        return NULL;
    const char **keys = ca_reply_alloc_large(reply, count * sizeof *keys);
    if (!keys)
        return NULL;
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)object, key, value) keys[n++] = key;
    qsort(keys, n, sizeof *keys, s_key_order);
    return keys;
}

static void s_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocGet *get = request->doc_get;
    if (!s_place_ok(get->tenant, get->entry, reply))
        return;
    s_snapshot_t head = {0};
    if (s_find(store, get->tenant, get->entry, (ProtobufCBinaryData){0, NULL}, false, reply,
               &head) != 1)
        return;
    json_t *object = s_parse_stored(&head, reply);
    if (!object)
        return;
    Cairn__DocRecords *records = ca_reply_alloc(reply, sizeof *records);
    cairn__doc_records__init(records);
    records->digest = head.info->digest;
    bool ok = true;
    if (get->key[0]) {
        json_t *value = json_object_get(object, get->key);
        if (!value) {
            ca_reply_error(reply, CA_NOT_FOUND,
                           "the head of entry '%s' has no key '%s'; get with no key lists them",
                           get->entry, get->key);
            ok = false;
        } else {
            records->items = ca_reply_alloc(reply, sizeof *records->items);
            records->items[0] = s_item(store, get->key, value, reply);
            records->n_items = 1;
            ok = records->items[0] != NULL;
        }
    } else {
        size_t count = json_object_size(object);
        const char **keys = s_sorted_keys(object, reply);
        records->items = count ? ca_reply_alloc(reply, count * sizeof *records->items) : NULL;
        ok = count == 0 || keys;
        for (size_t i = 0; i < count && ok; i++) {
            records->items[i] = s_item(store, keys[i], json_object_get(object, keys[i]), reply);
            ok = records->items[i] != NULL;
            records->n_items = i + 1;
        }
    }
    if (ok)
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_GET, records);
    json_decref(object);
}

//  ---- exists, history, diff ------------------------------------------------------------

static void s_exists(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocExists *exists = request->doc_exists;
    if (!s_place_ok(exists->tenant, exists->entry, reply) ||
        !s_digest_ok(exists->digest, "digest", true, reply))
        return;
    sqlite3_stmt *stmt =
        exists->digest.len
            ? ca_store_prepare(store,
                               "SELECT 1 FROM doc_snapshots WHERE tenant = ?1 AND entry = ?2"
                               " AND digest = ?3 LIMIT 1",
                               reply)
            : ca_store_prepare(store, "SELECT 1 FROM doc_entries WHERE tenant = ?1 AND entry = ?2",
                               reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, exists->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, exists->entry, -1, SQLITE_STATIC);
    if (exists->digest.len)
        sqlite3_bind_blob(stmt, 3, exists->digest.data, (int)exists->digest.len, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        Cairn__DocExistsReply *answer = ca_reply_alloc(reply, sizeof *answer);
        cairn__doc_exists_reply__init(answer);
        answer->exists = rc == SQLITE_ROW;
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_EXISTS, answer);
    } else
        s_read_failed(reply, stmt, rc, "the entry");
    sqlite3_reset(stmt);
}

static void s_history(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocHistory *history = request->doc_history;
    if (!s_place_ok(history->tenant, history->entry, reply))
        return;
    if (history->before_seq > INT64_MAX) {
        ca_reply_error(reply, CA_INVALID, "before_seq %" PRIu64 " is over 2^63-1",
                       history->before_seq);
        return;
    }
    size_t limit = ca_page_limit(history->max_items, CA_DOC_PAGE_DEFAULT, CA_DOC_PAGE_MAX,
                                 "snapshots", "before_seq", reply);
    if (!limit)
        return;
    s_snapshot_t head = {0};
    if (s_find(store, history->tenant, history->entry, (ProtobufCBinaryData){0, NULL}, false, reply,
               &head) != 1)
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT s.seq, s.digest, s.parent, s.user, s.date FROM doc_snapshots s"
                         " WHERE s.tenant = ?1 AND s.entry = ?2 AND s.seq < ?3"
                         " ORDER BY s.seq DESC LIMIT ?4",
                         reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, history->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, history->entry, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, history->before_seq ? (int64_t)history->before_seq : INT64_MAX);
    sqlite3_bind_int64(stmt, 4, (int64_t)limit + 1);
    Cairn__DocHistoryPage *page = ca_reply_alloc(reply, sizeof *page);
    cairn__doc_history_page__init(page);
    page->snapshots = ca_reply_alloc(reply, limit * sizeof *page->snapshots);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_snapshots == limit) {
            page->more = true;
            page->next_before = page->snapshots[limit - 1]->seq;
            break;
        }
        s_snapshot_t row = {0};
        s_snapshot_row(reply, stmt, &row);
        page->snapshots[page->n_snapshots++] = row.info;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_HISTORY, page);
    else
        s_read_failed(reply, stmt, rc, "the history");
    sqlite3_reset(stmt);
}

static void s_diff(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocDiff *diff = request->doc_diff;
    if (!s_place_ok(diff->tenant, diff->entry, reply) ||
        !s_digest_ok(diff->from, "from", false, reply) || !s_digest_ok(diff->to, "to", true, reply))
        return;
    s_snapshot_t from = {0}, to = {0};
    if (s_find(store, diff->tenant, diff->entry, diff->from, false, reply, &from) != 1 ||
        s_find(store, diff->tenant, diff->entry, diff->to, false, reply, &to) != 1)
        return;
    json_t *a = s_parse_stored(&from, reply);
    json_t *b = a ? s_parse_stored(&to, reply) : NULL;
    if (!b) {
        json_decref(a);
        return;
    }
    Cairn__DocDiffReply *answer = ca_reply_alloc(reply, sizeof *answer);
    cairn__doc_diff_reply__init(answer);
    size_t count_a = json_object_size(a), count_b = json_object_size(b);
    answer->removed = ca_reply_alloc(reply, (count_a + 1) * sizeof(char *));
    answer->changed = ca_reply_alloc(reply, (count_a + 1) * sizeof(char *));
    answer->added = ca_reply_alloc(reply, (count_b + 1) * sizeof(char *));
    const char **keys_a = s_sorted_keys(a, reply), **keys_b = s_sorted_keys(b, reply);
    for (size_t i = 0; i < count_a && keys_a; i++) {
        json_t *other = json_object_get(b, keys_a[i]);
        if (!other)
            answer->removed[answer->n_removed++] = (char *)keys_a[i];
        else if (!json_equal(json_object_get(a, keys_a[i]), other))
            answer->changed[answer->n_changed++] = (char *)keys_a[i];
    }
    for (size_t i = 0; i < count_b && keys_b; i++)
        if (!json_object_get(a, keys_b[i]))
            answer->added[answer->n_added++] = (char *)keys_b[i];
    //  The keys live in the trees: copy them before the trees go.
    for (size_t i = 0; i < answer->n_removed; i++)
        answer->removed[i] = ca_reply_strdup(reply, answer->removed[i]);
    for (size_t i = 0; i < answer->n_changed; i++)
        answer->changed[i] = ca_reply_strdup(reply, answer->changed[i]);
    for (size_t i = 0; i < answer->n_added; i++)
        answer->added[i] = ca_reply_strdup(reply, answer->added[i]);
    if ((!count_a || keys_a) && (!count_b || keys_b))
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_DIFF, answer);
    json_decref(a);
    json_decref(b);
}

//  ---- truncate, sweep, stats -------------------------------------------------------------

static void s_truncate(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__DocTruncate *truncate = request->doc_truncate;
    if (!s_place_ok(truncate->tenant, truncate->entry, reply))
        return;
    if (truncate->keep == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "keep is 0: the head is always kept; send how many snapshots to keep "
                       "(1 or more)");
        return;
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM doc_entries WHERE tenant = ?1 AND entry = ?2",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND,
                       "no such entry in this tenant; nothing to truncate");
    ca_write_text(write, truncate->tenant);
    ca_write_text(write, truncate->entry);
    ca_write_statement(write,
                       "DELETE FROM doc_snapshots WHERE tenant = ?1 AND entry = ?2 AND seq <="
                       " (SELECT head FROM doc_entries WHERE tenant = ?1 AND entry = ?2) - ?3",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, truncate->tenant);
    ca_write_text(write, truncate->entry);
    ca_write_int(write, (int64_t)truncate->keep);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_truncate_done(ca_store_t *store, const Cairn__Request *request,
                            const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results != 2) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks a statement's result; retry");
        return;
    }
    Cairn__DocTruncated *truncated = ca_reply_alloc(reply, sizeof *truncated);
    cairn__doc_truncated__init(truncated);
    truncated->removed = write->results[1]->changes;
    s_answer(reply, CAIRN__RESPONSE__BODY_DOC_TRUNCATE, truncated);
}

//  An object is unreachable when no snapshot names it: refs 0, and checked
//  again by reachability itself.
#define UNREACHABLE                                                                                \
    " WHERE refs <= 0 AND NOT EXISTS (SELECT 1 FROM doc_snapshots s"                               \
    " WHERE s.digest = doc_objects.digest)"

static void s_sweep(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "SELECT coalesce(sum(size), 0) FROM doc_objects" UNREACHABLE,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_statement(write, "DELETE FROM doc_objects" UNREACHABLE,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_frees_space(write);
    ca_store_write(store, &write, reply);
}

static void s_sweep_done(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    if (write->n_results != 2 || write->results[0]->n_rows != 1 ||
        write->results[0]->rows[0]->n_values != 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer's answer lacks a statement's result; retry");
        return;
    }
    Cairn__DocSwept *swept = ca_reply_alloc(reply, sizeof *swept);
    cairn__doc_swept__init(swept);
    const Cairn__Internal__SqlValue *bytes = write->results[0]->rows[0]->values[0];
    swept->bytes =
        bytes->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER ? (uint64_t)bytes->integer : 0;
    swept->objects = write->results[1]->changes;
    s_answer(reply, CAIRN__RESPONSE__BODY_DOC_SWEEP, swept);
}

static void s_stats(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *tenant = request->doc_stats->tenant;
    if (tenant[0] && !s_name_ok(tenant, "tenant", reply))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store,
                         "SELECT (SELECT count(*) FROM doc_entries WHERE ?1 = '' OR tenant = ?1),"
                         " (SELECT count(*) FROM doc_snapshots WHERE ?1 = '' OR tenant = ?1),"
                         " count(*), coalesce(sum(size), 0) FROM doc_objects",
                         reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, tenant, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        Cairn__DocStatsReply *stats = ca_reply_alloc(reply, sizeof *stats);
        cairn__doc_stats_reply__init(stats);
        stats->entries = (uint64_t)sqlite3_column_int64(stmt, 0);
        stats->snapshots = (uint64_t)sqlite3_column_int64(stmt, 1);
        stats->objects = (uint64_t)sqlite3_column_int64(stmt, 2);
        stats->object_bytes = (uint64_t)sqlite3_column_int64(stmt, 3);
        s_answer(reply, CAIRN__RESPONSE__BODY_DOC_STATS, stats);
    } else
        s_read_failed(reply, stmt, rc, "the store's counts");
    sqlite3_reset(stmt);
}

//  ---- the table ----------------------------------------------------------------------------

#define WRITE_ROUTE CA_ROUTE_ONE_WORKER

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_DOC_SAVE, "doc_save", s_save, s_saved_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_LOAD, "doc_load", s_load, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_PUT, "doc_put", s_put, s_saved_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_PUT_MANY, "doc_put_many", s_put_many, s_saved_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_GET, "doc_get", s_get, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_EXISTS, "doc_exists", s_exists, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_HISTORY, "doc_history", s_history, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_HEAD, "doc_head", s_head, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_DIFF, "doc_diff", s_diff, NULL, 0},
    {CAIRN__REQUEST__BODY_DOC_REVERT, "doc_revert", s_revert, s_saved_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_TRUNCATE, "doc_truncate", s_truncate, s_truncate_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_SWEEP, "doc_sweep", s_sweep, s_sweep_done, WRITE_ROUTE},
    {CAIRN__REQUEST__BODY_DOC_STATS, "doc_stats", s_stats, NULL, 0},
};

const ca_store_def_t documents_store_def = {
    .name = "documents",
    .schema = &documents_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
    .write_failed = s_write_failed,
};

//  ---- self-test ---------------------------------------------------------------
//  The statements' rules through a writer and one worker (ca_testbed): the
//  chain, the no-op, refcounts and the sweep. Every request over a real
//  node, bad input and kill -9: tests/e2e_documents.c.

#include "ca_caller.h"
#include "ca_testbed.h"

static Cairn__Response *s_test_call(ca_caller_t *caller, Cairn__Request__BodyCase body_case,
                                    void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = body_case;
    request.doc_save = body; //  every member is a pointer at the same place
    return ca_caller_call(caller, &request);
}

static bool s_test_save(ca_caller_t *caller, const char *entry, const char *json) {
    Cairn__DocSave save = CAIRN__DOC_SAVE__INIT;
    save.tenant = "t";
    save.entry = (char *)entry;
    save.user = "u";
    save.json = (char *)json;
    Cairn__Response *response = ca_response_ok(
        s_test_call(caller, CAIRN__REQUEST__BODY_DOC_SAVE, &save), CAIRN__RESPONSE__BODY_DOC_SAVE);
    bool changed = response->doc_save->changed;
    cairn__response__free_unpacked(response, NULL);
    return changed;
}

static void s_test_stats(ca_caller_t *caller, uint64_t snapshots, uint64_t objects) {
    Cairn__DocStats stats = CAIRN__DOC_STATS__INIT;
    Cairn__Response *response =
        ca_response_ok(s_test_call(caller, CAIRN__REQUEST__BODY_DOC_STATS, &stats),
                       CAIRN__RESPONSE__BODY_DOC_STATS);
    CA_CHECK(response->doc_stats->snapshots == snapshots &&
             response->doc_stats->objects == objects);
    cairn__response__free_unpacked(response, NULL);
}

void documents_test(bool verbose) {
    if (verbose)
        printf(" * documents: ");
    ca_testbed_t *bed = ca_testbed_new(&documents_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);

    CA_CHECK(s_test_save(caller, "a", "{\"x\":1}"));
    CA_CHECK(!s_test_save(caller, "a", "{ \"x\" : 1 }")); //  the head's object: nothing made
    CA_CHECK(s_test_save(caller, "a", "{\"x\":2}"));
    CA_CHECK(s_test_save(caller, "b", "{\"x\":1}")); //  stored once
    s_test_stats(caller, 3, 2);

    Cairn__DocHead head = CAIRN__DOC_HEAD__INIT;
    head.tenant = "t";
    head.entry = "a";
    Cairn__Response *response = ca_response_ok(
        s_test_call(caller, CAIRN__REQUEST__BODY_DOC_HEAD, &head), CAIRN__RESPONSE__BODY_DOC_HEAD);
    CA_CHECK(response->doc_head->seq == 2 && response->doc_head->parent.len == CA_SHA256_BYTES);
    cairn__response__free_unpacked(response, NULL);

    //  Truncate a to its head: {"x":1} is still b's, so the sweep keeps it.
    Cairn__DocTruncate truncate = CAIRN__DOC_TRUNCATE__INIT;
    truncate.tenant = "t";
    truncate.entry = "a";
    truncate.keep = 1;
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_DOC_TRUNCATE, &truncate), 0, NULL);
    Cairn__DocSweep sweep = CAIRN__DOC_SWEEP__INIT;
    response = ca_response_ok(s_test_call(caller, CAIRN__REQUEST__BODY_DOC_SWEEP, &sweep),
                              CAIRN__RESPONSE__BODY_DOC_SWEEP);
    CA_CHECK(response->doc_sweep->objects == 0);
    cairn__response__free_unpacked(response, NULL);
    s_test_stats(caller, 2, 2);
    truncate.entry = "b";
    CA_CHECK(s_test_save(caller, "b", "{\"y\":1}"));
    ca_response_check(s_test_call(caller, CAIRN__REQUEST__BODY_DOC_TRUNCATE, &truncate), 0, NULL);
    response = ca_response_ok(s_test_call(caller, CAIRN__REQUEST__BODY_DOC_SWEEP, &sweep),
                              CAIRN__RESPONSE__BODY_DOC_SWEEP);
    CA_CHECK(response->doc_sweep->objects == 1 && response->doc_sweep->bytes == 7);
    cairn__response__free_unpacked(response, NULL);
    s_test_stats(caller, 2, 2);

    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ca_reach - packed reach vectors (format and SQL in ca_reach.h)
    ========================================================================= */

#include "ca_reach.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t chain, position;
} pair_t;

//  One varint at data[*at] (size bytes in all): false when it runs past
//  the end or past 10 bytes.
static bool s_varint(const uint8_t *data, size_t size, size_t *at, uint64_t *value) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *at < size; shift += 7) {
        uint8_t byte = data[(*at)++];
        if (shift == 63 && (byte & 0x7e))
            return false; //  past 64 bits
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return true;
        }
    }
    return false;
}

static size_t s_put_varint(uint8_t *out, uint64_t value) {
    size_t n = 0;
    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        out[n++] = byte | (value ? 0x80 : 0);
    } while (value);
    return n;
}

//  The next pair of a vector, `chain` holding the previous chain (0 at
//  first). 1: a pair, 0: the end, -1: malformed (a chain not ascending,
//  a value past INT64_MAX, a cut varint).
static int s_next(const uint8_t *data, size_t size, size_t *at, pair_t *pair) {
    if (*at >= size)
        return 0;
    uint64_t delta, position;
    if (!s_varint(data, size, at, &delta) || !s_varint(data, size, at, &position) || delta == 0 ||
        delta > (uint64_t)INT64_MAX - (uint64_t)pair->chain || position > (uint64_t)INT64_MAX)
        return -1;
    pair->chain += (int64_t)delta;
    pair->position = (int64_t)position;
    return 1;
}

bool ca_reach_find(const void *reach, size_t size, int64_t chain, int64_t *position,
                   bool *malformed) {
    const uint8_t *data = (const uint8_t *)reach;
    size_t at = 0;
    pair_t pair = {0, 0};
    int rc;
    while ((rc = s_next(data, size, &at, &pair)) == 1 && pair.chain <= chain)
        if (pair.chain == chain) {
            *position = pair.position;
            return true;
        }
    if (malformed)
        *malformed = rc < 0;
    return false;
}

//  ---- cairn_reach(reach, chain, position): the aggregate ----------------------------------

typedef struct {
    pair_t *pairs;
    size_t count, capacity;
    bool failed; //  an error was reported
} merge_t;

static bool s_merge_add(merge_t *merge, int64_t chain, int64_t position) {
    if (merge->count == merge->capacity) {
        size_t capacity = merge->capacity ? merge->capacity * 2 : 64;
        pair_t *pairs = (pair_t *)realloc(merge->pairs, capacity * sizeof(pair_t));
        if (!pairs)
            return false;
        merge->pairs = pairs;
        merge->capacity = capacity;
    }
    merge->pairs[merge->count++] = (pair_t){chain, position};
    return true;
}

static void s_merge_fail(sqlite3_context *context, merge_t *merge, const char *message) {
    if (!merge->failed) {
        if (message)
            sqlite3_result_error(context, message, -1);
        else
            sqlite3_result_error_nomem(context);
    }
    merge->failed = true;
}

static void s_merge_step(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    merge_t *merge = (merge_t *)sqlite3_aggregate_context(context, sizeof(merge_t));
    if (!merge) {
        sqlite3_result_error_nomem(context);
        return;
    }
    if (merge->failed)
        return;
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
        const uint8_t *data = (const uint8_t *)sqlite3_value_blob(argv[0]);
        size_t size = (size_t)sqlite3_value_bytes(argv[0]), at = 0;
        pair_t pair = {0, 0};
        int rc;
        while ((rc = s_next(data, size, &at, &pair)) == 1)
            if (!s_merge_add(merge, pair.chain, pair.position)) {
                s_merge_fail(context, merge, NULL);
                return;
            }
        if (rc < 0) {
            s_merge_fail(context, merge, "cairn_reach: a malformed reach vector");
            return;
        }
    }
    if (sqlite3_value_type(argv[1]) != SQLITE_NULL && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
        int64_t chain = sqlite3_value_int64(argv[1]), position = sqlite3_value_int64(argv[2]);
        if (chain < 1 || position < 0)
            s_merge_fail(context, merge, "cairn_reach: chains start at 1, positions at 0");
        else if (!s_merge_add(merge, chain, position))
            s_merge_fail(context, merge, NULL);
    }
}

static int s_pair_compare(const void *a, const void *b) {
    const pair_t *x = (const pair_t *)a, *y = (const pair_t *)b;
    if (x->chain != y->chain)
        return x->chain < y->chain ? -1 : 1;
    return x->position < y->position ? -1 : x->position > y->position;
}

static void s_merge_final(sqlite3_context *context) {
    merge_t *merge = (merge_t *)sqlite3_aggregate_context(context, 0);
    if (!merge || merge->failed || merge->count == 0) {
        if (merge)
            free(merge->pairs);
        if (!merge || !merge->failed)
            sqlite3_result_null(context);
        return;
    }
    qsort(merge->pairs, merge->count, sizeof(pair_t), s_pair_compare);
    //  At most 20 bytes a pair; the highest position of each chain is its
    //  last after the sort.
    uint8_t *out = (uint8_t *)malloc(merge->count * 20);
    if (!out) {
        free(merge->pairs);
        sqlite3_result_error_nomem(context);
        return;
    }
    size_t size = 0;
    int64_t previous = 0;
    for (size_t i = 0; i < merge->count; i++) {
        const pair_t *pair = &merge->pairs[i];
        if (i + 1 < merge->count && merge->pairs[i + 1].chain == pair->chain)
            continue;
        size += s_put_varint(out + size, (uint64_t)(pair->chain - previous));
        size += s_put_varint(out + size, (uint64_t)pair->position);
        previous = pair->chain;
    }
    free(merge->pairs);
    sqlite3_result_blob(context, out, (int)size, free);
}

//  ---- cairn_reach_at(reach, chain) -------------------------------------------------------

static void s_reach_at(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    int64_t position = 0;
    bool malformed = false;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        sqlite3_result_null(context);
    else if (ca_reach_find(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
                           sqlite3_value_int64(argv[1]), &position, &malformed))
        sqlite3_result_int64(context, position);
    else if (malformed)
        sqlite3_result_error(context, "cairn_reach_at: a malformed reach vector", -1);
    else
        sqlite3_result_null(context);
}

//  ---- cairn_reach_each(reach): the table-valued function ---------------------------------

typedef struct {
    sqlite3_vtab base;
    uint8_t *data; //  a copy of the argument
    size_t size, at;
    pair_t pair;
    bool eof;
    sqlite3_int64 rowid;
} each_cursor_t;

static int s_each_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **vtab, char **error) {
    (void)aux, (void)argc, (void)argv, (void)error;
    int rc =
        sqlite3_declare_vtab(db, "CREATE TABLE x(chain INTEGER, position INTEGER, reach HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    *vtab = (sqlite3_vtab *)sqlite3_malloc(sizeof(sqlite3_vtab));
    if (!*vtab)
        return SQLITE_NOMEM;
    memset(*vtab, 0, sizeof(sqlite3_vtab));
    return SQLITE_OK;
}

static int s_each_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

//  Only with its argument: `reach` (column 2) given by equality.
static int s_each_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    (void)vtab;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn == 2 && c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
            if (!c->usable)
                return SQLITE_CONSTRAINT;
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->estimatedCost = 10;
            info->estimatedRows = 32;
            info->idxNum = 1;
            return SQLITE_OK;
        }
    }
    return SQLITE_CONSTRAINT;
}

static int s_each_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **cursor) {
    (void)vtab;
    each_cursor_t *self = (each_cursor_t *)sqlite3_malloc(sizeof(each_cursor_t));
    if (!self)
        return SQLITE_NOMEM;
    memset(self, 0, sizeof *self);
    self->eof = true;
    *cursor = (sqlite3_vtab_cursor *)self;
    return SQLITE_OK;
}

static int s_each_close(sqlite3_vtab_cursor *cursor) {
    each_cursor_t *self = (each_cursor_t *)cursor;
    sqlite3_free(self->data);
    sqlite3_free(self);
    return SQLITE_OK;
}

static int s_each_next(sqlite3_vtab_cursor *cursor) {
    each_cursor_t *self = (each_cursor_t *)cursor;
    int rc = s_next(self->data, self->size, &self->at, &self->pair);
    self->eof = rc != 1;
    self->rowid++;
    if (rc < 0) {
        sqlite3_free(cursor->pVtab->zErrMsg);
        cursor->pVtab->zErrMsg = sqlite3_mprintf("cairn_reach_each: a malformed reach vector");
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

static int s_each_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                         sqlite3_value **argv) {
    (void)idx_str;
    each_cursor_t *self = (each_cursor_t *)cursor;
    sqlite3_free(self->data);
    self->data = NULL;
    self->size = self->at = 0;
    self->pair = (pair_t){0, 0};
    self->rowid = 0;
    if (idx_num == 1 && argc == 1 && sqlite3_value_type(argv[0]) != SQLITE_NULL) {
        int bytes = sqlite3_value_bytes(argv[0]);
        const void *blob = sqlite3_value_blob(argv[0]);
        if (bytes > 0) {
            self->data = (uint8_t *)sqlite3_malloc(bytes);
            if (!self->data)
                return SQLITE_NOMEM;
            memcpy(self->data, blob, (size_t)bytes);
            self->size = (size_t)bytes;
        }
    }
    return s_each_next(cursor);
}

static int s_each_eof(sqlite3_vtab_cursor *cursor) {
    return ((each_cursor_t *)cursor)->eof;
}

static int s_each_column(sqlite3_vtab_cursor *cursor, sqlite3_context *context, int column) {
    each_cursor_t *self = (each_cursor_t *)cursor;
    if (column == 0)
        sqlite3_result_int64(context, self->pair.chain);
    else if (column == 1)
        sqlite3_result_int64(context, self->pair.position);
    else
        sqlite3_result_null(context);
    return SQLITE_OK;
}

static int s_each_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
    *rowid = ((each_cursor_t *)cursor)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module s_each_module = {
    .iVersion = 0,
    .xCreate = NULL, //  eponymous only
    .xConnect = s_each_connect,
    .xBestIndex = s_each_best_index,
    .xDisconnect = s_each_disconnect,
    .xDestroy = s_each_disconnect,
    .xOpen = s_each_open,
    .xClose = s_each_close,
    .xFilter = s_each_filter,
    .xNext = s_each_next,
    .xEof = s_each_eof,
    .xColumn = s_each_column,
    .xRowid = s_each_rowid,
};

int ca_reach_register(sqlite3 *db) {
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function(db, "cairn_reach", 3, flags, NULL, NULL, s_merge_step,
                                     s_merge_final);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "cairn_reach_at", 2, flags, NULL, s_reach_at, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_module(db, "cairn_reach_each", &s_each_module, NULL);
    return rc;
}

//  ---- self-test -----------------------------------------------------------------

static sqlite3_stmt *s_query(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    assert(rc == SQLITE_OK);
    return stmt;
}

void ca_reach_test(bool verbose) {
    if (verbose)
        printf(" * ca_reach: ");
    sqlite3 *db = NULL;
    int rc = sqlite3_open(":memory:", &db);
    assert(rc == SQLITE_OK);
    rc = ca_reach_register(db);
    assert(rc == SQLITE_OK);
    //  The merge: chain-wise maximum over vectors and pairs, NULLs skipped,
    //  big values round-trip.
    sqlite3_exec(db,
                 "CREATE TABLE t (reach BLOB, chain INTEGER, position INTEGER);"
                 "INSERT INTO t VALUES (NULL, 5, 7), (NULL, 300, 1), (NULL, 5, 2),"
                 " (NULL, 9223372036854775807, 9223372036854775807), (NULL, NULL, 4);"
                 "INSERT INTO t SELECT cairn_reach(reach, chain, position), 2, 0 FROM t;"
                 "INSERT INTO t SELECT NULL, 5, 9 UNION ALL SELECT NULL, 1, 0;",
                 NULL, NULL, NULL);
    sqlite3_stmt *stmt = s_query(db, "SELECT group_concat(chain || ':' || position, ',') FROM"
                                     " cairn_reach_each((SELECT cairn_reach(reach, chain, position)"
                                     " FROM t))");
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_ROW);
    assert(strcmp((const char *)sqlite3_column_text(stmt, 0),
                  "1:0,2:0,5:9,300:1,9223372036854775807:9223372036854775807") == 0);
    sqlite3_finalize(stmt);
    //  Lookups: present, absent (before, between, after), NULL.
    stmt = s_query(db, "SELECT cairn_reach_at(r, 5), cairn_reach_at(r, 300), cairn_reach_at(r, 0),"
                       " cairn_reach_at(r, 6), cairn_reach_at(r, 301), cairn_reach_at(NULL, 5),"
                       " length(r) FROM (SELECT cairn_reach(reach, chain, position) AS r FROM t)");
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_ROW);
    assert(sqlite3_column_int64(stmt, 0) == 9 && sqlite3_column_int64(stmt, 1) == 1);
    for (int i = 2; i < 6; i++)
        assert(sqlite3_column_type(stmt, i) == SQLITE_NULL);
    int64_t position = 0;
    bool malformed = true;
    const void *blob = NULL;
    sqlite3_finalize(stmt);
    stmt = s_query(db, "SELECT cairn_reach(reach, chain, position) FROM t");
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_ROW);
    blob = sqlite3_column_blob(stmt, 0);
    size_t size = (size_t)sqlite3_column_bytes(stmt, 0);
    assert(ca_reach_find(blob, size, 300, &position, &malformed) && position == 1);
    assert(!ca_reach_find(blob, size, 299, &position, &malformed) && !malformed);
    assert(!ca_reach_find(NULL, 0, 1, &position, &malformed) && !malformed);
    sqlite3_finalize(stmt);
    //  Nothing to merge: NULL; an empty vector has no rows.
    stmt = s_query(db, "SELECT cairn_reach(NULL, NULL, 1) IS NULL, (SELECT count(*) FROM"
                       " cairn_reach_each(NULL)), (SELECT count(*) FROM cairn_reach_each(x''))");
    rc = sqlite3_step(stmt);
    assert(rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1);
    assert(sqlite3_column_int(stmt, 1) == 0 && sqlite3_column_int(stmt, 2) == 0);
    sqlite3_finalize(stmt);
    //  Hostile or damaged vectors are errors, never a wrong answer: a cut
    //  varint, a chain that does not ascend (delta 0), an overlong varint,
    //  a value past INT64_MAX; negative chains and positions are refused.
    const char *bad[] = {"x'05'", "x'0580'", "x'05010001'", "x'ffffffffffffffffffff01'",
                         "x'01ffffffffffffffffff01'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT cairn_reach(%s, NULL, NULL)", bad[i]);
        stmt = s_query(db, sql);
        assert(sqlite3_step(stmt) == SQLITE_ERROR);
        sqlite3_finalize(stmt);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM cairn_reach_each(%s)", bad[i]);
        stmt = s_query(db, sql);
        assert(sqlite3_step(stmt) == SQLITE_ERROR);
        sqlite3_finalize(stmt);
        snprintf(sql, sizeof sql, "SELECT cairn_reach_at(%s, 99)", bad[i]);
        stmt = s_query(db, sql);
        assert(sqlite3_step(stmt) == SQLITE_ERROR);
        sqlite3_finalize(stmt);
    }
    stmt = s_query(db, "SELECT cairn_reach(NULL, -1, 0)");
    assert(sqlite3_step(stmt) == SQLITE_ERROR);
    sqlite3_finalize(stmt);
    stmt = s_query(db, "SELECT cairn_reach(NULL, 1, -1)");
    assert(sqlite3_step(stmt) == SQLITE_ERROR);
    sqlite3_finalize(stmt);
    //  Without its argument the table cannot be planned.
    assert(sqlite3_prepare_v2(db, "SELECT * FROM cairn_reach_each", -1, &stmt, NULL) != SQLITE_OK);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ca_sql - one SQLite connection with its prepared-statement cache, and
    the builder stores use to describe a write for the writer actor
    ========================================================================= */

#include "ca_log.h"
#include "ca_sql.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_reach.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

struct _ca_sql_t {
    sqlite3 *db;
    zhashx_t *statements; //  SQL text -> sqlite3_stmt *
};

static void s_finalize(void **item) {
    sqlite3_finalize((sqlite3_stmt *)*item);
    *item = NULL;
}

//  cairn_usat_sum(x): the sum of 64-bit unsigned values stored as INTEGER
//  (their bits), saturating at 2^64-1 instead of overflowing; SQLite's own
//  sum() works on signed values and fails on overflow. Used for provenance
//  path counts, which multiply through stacked diamonds.
static void s_usat_sum_step(sqlite3_context *context, int argc, sqlite3_value **argv) {
    uint64_t *total = (uint64_t *)sqlite3_aggregate_context(context, sizeof(uint64_t));
    if (!total || sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    uint64_t value = (uint64_t)sqlite3_value_int64(argv[0]);
    *total = value > UINT64_MAX - *total ? UINT64_MAX : *total + value;
}

static void s_usat_sum_final(sqlite3_context *context) {
    uint64_t *total = (uint64_t *)sqlite3_aggregate_context(context, 0);
    sqlite3_result_int64(context, (sqlite3_int64)(total ? *total : 0));
}

int ca_sql_register(sqlite3 *db) {
    int rc = sqlite3_create_function(db, "cairn_usat_sum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, NULL, s_usat_sum_step, s_usat_sum_final);
    return rc == SQLITE_OK ? ca_reach_register(db) : rc; //  provenance's reach vectors (ca_reach.h)
}

ca_sql_t *ca_sql_open(const char *path, ca_sql_mode_t mode, const char *vfs, char **error) {
    int flags = SQLITE_OPEN_NOMUTEX |
                (mode == CA_SQL_READ_ONLY ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, vfs);
    if (rc != SQLITE_OK) {
        *error = zsys_sprintf("cannot open database %s: %s", path,
                              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, CA_READ_BUSY_TIMEOUT_MS);
    ca_sql_register(db);
    ca_sql_t *self = (ca_sql_t *)zmalloc(sizeof(ca_sql_t));
    self->db = db;
    self->statements = zhashx_new();
    zhashx_set_destructor(self->statements, s_finalize);
    return self;
}

void ca_sql_destroy(ca_sql_t **self_p) {
    assert(self_p);
    ca_sql_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->statements);
    int rc = sqlite3_close(self->db);
    if (rc != SQLITE_OK)
        ca_log_error("sqlite close failed: %s", sqlite3_errstr(rc));
    free(self);
    *self_p = NULL;
}

sqlite3 *ca_sql_handle(ca_sql_t *self) {
    return self->db;
}

sqlite3_stmt *ca_sql_prepare(ca_sql_t *self, const char *sql) {
    sqlite3_stmt *stmt = (sqlite3_stmt *)zhashx_lookup(self->statements, sql);
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return stmt;
    }
    if (sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(stmt);
        return NULL;
    }
    //  Stores use a fixed set of statements, so the bound is only hit if a
    //  caller builds SQL dynamically; starting over keeps memory flat.
    if (zhashx_size(self->statements) >= CA_STMT_CACHE_MAX)
        zhashx_purge(self->statements);
    zhashx_insert(self->statements, sql, stmt);
    return stmt;
}

int ca_sql_exec(ca_sql_t *self, const char *sql) {
    return sqlite3_exec(self->db, sql, NULL, NULL, NULL);
}

int ca_sql_run(ca_sql_t *self, const char *sql) {
    sqlite3_stmt *stmt = ca_sql_prepare(self, sql);
    if (!stmt)
        return sqlite3_errcode(self->db);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

bool ca_sql_pragma_text(ca_sql_t *self, const char *pragma, char *value, size_t size) {
    sqlite3_stmt *stmt = ca_sql_prepare(self, pragma);
    if (!stmt || sqlite3_step(stmt) != SQLITE_ROW)
        return false;
    const unsigned char *text = sqlite3_column_text(stmt, 0);
    snprintf(value, size, "%s", text ? (const char *)text : "");
    sqlite3_reset(stmt);
    return true;
}

long ca_sql_check(ca_sql_t *self, const char *pragma, ca_sql_row_fn *row, void *context,
                  char **error) {
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, pragma, -1, &stmt, NULL) != SQLITE_OK) {
        *error = zsys_sprintf("cannot run %s: %s", pragma, sqlite3_errmsg(self->db));
        return -1;
    }
    long problems = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *first = (const char *)sqlite3_column_text(stmt, 0);
        if (sqlite3_column_count(stmt) == 1 && first && streq(first, "ok"))
            continue;
        problems++;
        row(context, stmt);
    }
    if (rc != SQLITE_DONE) {
        *error = zsys_sprintf("%s failed: %s", pragma, sqlite3_errmsg(self->db));
        problems = -1;
    }
    sqlite3_finalize(stmt);
    return problems;
}

//  ---- schema migrations -------------------------------------------------------

//  The version `schema` is at in `db` (0: none of its migrations ran).
int64_t ca_schema_version(sqlite3 *db, const char *store) {
    sqlite3_stmt *stmt = NULL;
    int64_t version = 0;
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE store = ?1", -1, &stmt,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, store, -1, SQLITE_STATIC);
        version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    }
    sqlite3_finalize(stmt);
    return version;
}

//  Runs migration `step` of `schema` and records it, in one transaction.
static int s_schema_step(sqlite3 *db, const ca_schema_t *schema, size_t step, char **sql_error) {
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema->migrations[step], NULL, NULL, sql_error);
    sqlite3_stmt *stmt = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_version (store, version) VALUES (?1, ?2) "
                                "ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                                -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, schema->store, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (int64_t)step + 1);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

char *ca_schema_migrate(sqlite3 *db, const ca_schema_t *schema, size_t *from, size_t *to) {
    *from = *to = 0;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     " store TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return zsys_sprintf("cannot create schema_version: %s", sqlite3_errmsg(db));
    int64_t version = ca_schema_version(db, schema->store);
    if (version > (int64_t)schema->count)
        return zsys_sprintf("the database's '%s' schema is version %lld, but this cairnd knows "
                            "only up to %zu: run a newer cairnd, or restore a backup",
                            schema->store, (long long)version, schema->count);
    *from = *to = (size_t)version;
    for (size_t step = (size_t)version; step < schema->count; step++) {
        char *sql_error = NULL;
        if (s_schema_step(db, schema, step, &sql_error) != SQLITE_OK) {
            char *error = zsys_sprintf("migration %zu of store '%s' failed: %s", step + 1,
                                       schema->store, sql_error ? sql_error : sqlite3_errmsg(db));
            sqlite3_free(sql_error);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return error;
        }
        *to = step + 1;
    }
    return NULL;
}

int ca_sql_bind_value(sqlite3_stmt *stmt, int index, const Cairn__Internal__SqlValue *value) {
    switch (value->kind_case) {
        case CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER:
            return sqlite3_bind_int64(stmt, index, value->integer);
        case CAIRN__INTERNAL__SQL_VALUE__KIND_REAL:
            return sqlite3_bind_double(stmt, index, value->real);
        case CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT:
            return sqlite3_bind_text(stmt, index, value->text, -1, SQLITE_TRANSIENT);
        case CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB:
            //  A zero-length blob must stay a blob, not become NULL.
            return sqlite3_bind_blob(stmt, index, value->blob.len ? value->blob.data : (void *)"",
                                     (int)value->blob.len, SQLITE_TRANSIENT);
        default:
            return sqlite3_bind_null(stmt, index);
    }
}

Cairn__Internal__SqlValue *ca_sql_column_value(sqlite3_stmt *stmt, int column) {
    Cairn__Internal__SqlValue *value =
        (Cairn__Internal__SqlValue *)zmalloc(sizeof(Cairn__Internal__SqlValue));
    cairn__internal__sql_value__init(value);
    switch (sqlite3_column_type(stmt, column)) {
        case SQLITE_INTEGER:
            value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER;
            value->integer = sqlite3_column_int64(stmt, column);
            break;
        case SQLITE_FLOAT:
            value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_REAL;
            value->real = sqlite3_column_double(stmt, column);
            break;
        case SQLITE_TEXT:
            value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT;
            value->text = strdup((const char *)sqlite3_column_text(stmt, column));
            if (!value->text) {
                free(value);
                return NULL;
            }
            break;
        case SQLITE_BLOB: {
            value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB;
            size_t size = (size_t)sqlite3_column_bytes(stmt, column);
            value->blob.len = size;
            value->blob.data = (uint8_t *)malloc(size ? size : 1);
            if (!value->blob.data) {
                free(value);
                return NULL;
            }
            if (size)
                memcpy(value->blob.data, sqlite3_column_blob(stmt, column), size);
            break;
        }
        default:
            value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_NULL;
            value->null = true;
            break;
    }
    return value;
}

void ca_sql_value_free(Cairn__Internal__SqlValue *value) {
    if (!value)
        return;
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT)
        free(value->text);
    else if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB)
        free(value->blob.data);
    free(value);
}

//  ---- write builder -----------------------------------------------------------

struct _ca_write_t {
    Cairn__Internal__Statement **statements;
    size_t count;
    size_t capacity;
    bool durable;
    bool vacuum;
    bool frees_space;
    const char *before_commit[CA_WRITE_BEFORE_COMMIT_MAX];
    size_t before_commit_count;
    zchunk_t *context; //  echoed by the writer (NULL: none)
    uint32_t answers;  //  packed answers attached (see ca_write_answers)
    uint32_t answer_by;
    bool answer_to_gateway;
    int64_t received_us; //  see ca_write_received
    const char *store;
    //  Memory ran out while building: the write must not be sent. Params
    //  given after that land in `scratch`.
    bool failed;
    Cairn__Internal__SqlValue scratch;
};

ca_write_t *ca_write_new(void) {
    return (ca_write_t *)zmalloc(sizeof(ca_write_t));
}

void ca_write_destroy(ca_write_t **self_p) {
    assert(self_p);
    ca_write_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        Cairn__Internal__Statement *statement = self->statements[i];
        for (size_t p = 0; p < statement->n_params; p++)
            free(statement->params[p]);
        free(statement->params);
        free(statement);
    }
    free(self->statements);
    zchunk_destroy(&self->context);
    free(self);
    *self_p = NULL;
}

void ca_write_statement(ca_write_t *self, const char *sql, Cairn__Internal__Expect expect,
                        ca_status_t fail_status, const char *fail_message) {
    if (self->count == self->capacity && !self->failed) {
        size_t capacity = self->capacity ? self->capacity * 2 : 4;
        void *statements =
            realloc(self->statements, capacity * sizeof(Cairn__Internal__Statement *));
        if (statements) {
            self->statements = (Cairn__Internal__Statement **)statements;
            self->capacity = capacity;
        } else
            self->failed = true;
    }
    if (self->failed)
        return;
    Cairn__Internal__Statement *statement =
        (Cairn__Internal__Statement *)zmalloc(sizeof(Cairn__Internal__Statement));
    cairn__internal__statement__init(statement);
    statement->sql = (char *)sql;
    statement->expect = expect;
    statement->fail_status = fail_status;
    statement->fail_message = (char *)(fail_message ? fail_message : "");
    self->statements[self->count++] = statement;
}

void ca_write_want_rows(ca_write_t *self) {
    assert(self->count || self->failed);
    if (!self->failed)
        self->statements[self->count - 1]->want_rows = true;
}

bool ca_write_failed(ca_write_t *self) {
    return self->failed;
}

static Cairn__Internal__SqlValue *s_next_param(ca_write_t *self) {
    assert(self->count || self->failed); //  ca_write_statement first
    if (self->failed)
        return &self->scratch;
    Cairn__Internal__Statement *statement = self->statements[self->count - 1];
    void *params =
        realloc(statement->params, (statement->n_params + 1) * sizeof(Cairn__Internal__SqlValue *));
    if (!params) {
        self->failed = true;
        return &self->scratch;
    }
    statement->params = (Cairn__Internal__SqlValue **)params;
    Cairn__Internal__SqlValue *value =
        (Cairn__Internal__SqlValue *)zmalloc(sizeof(Cairn__Internal__SqlValue));
    cairn__internal__sql_value__init(value);
    statement->params[statement->n_params++] = value;
    return value;
}

void ca_write_text(ca_write_t *self, const char *text) {
    //  protobuf-c does not pack a oneof string whose pointer is its default
    //  (protobuf_c_empty_string, which is what an empty string of a decoded
    //  request points to): the writer would read NULL. Our own "" packs.
    static char empty[] = "";
    Cairn__Internal__SqlValue *value = s_next_param(self);
    value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT;
    value->text = text && *text ? (char *)text : empty;
}

void ca_write_blob(ca_write_t *self, const void *data, size_t size) {
    Cairn__Internal__SqlValue *value = s_next_param(self);
    value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB;
    value->blob.data = (uint8_t *)data;
    value->blob.len = size;
}

void ca_write_int(ca_write_t *self, int64_t integer) {
    Cairn__Internal__SqlValue *value = s_next_param(self);
    value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER;
    value->integer = integer;
}

void ca_write_real(ca_write_t *self, double real) {
    Cairn__Internal__SqlValue *value = s_next_param(self);
    value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_REAL;
    value->real = real;
}

void ca_write_null(ca_write_t *self) {
    Cairn__Internal__SqlValue *value = s_next_param(self);
    value->kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_NULL;
    value->null = true;
}

void ca_write_durable(ca_write_t *self) {
    self->durable = true;
}

void ca_write_frees_space(ca_write_t *self) {
    self->frees_space = true;
}

void ca_write_before_commit(ca_write_t *self, const char *sql) {
    if (self->before_commit_count < CA_WRITE_BEFORE_COMMIT_MAX)
        self->before_commit[self->before_commit_count++] = sql;
    else
        self->failed = true; //  a programming error the store's tests meet
}

void ca_write_vacuum(ca_write_t *self) {
    self->vacuum = true;
}

void ca_write_context(ca_write_t *self, const void *data, size_t size) {
    zchunk_destroy(&self->context);
    self->context = zchunk_new(data, size);
}

void ca_write_answers(ca_write_t *self, uint32_t answers, uint32_t answer_by, bool to_gateway) {
    self->answers = answers;
    self->answer_by = answer_by;
    self->answer_to_gateway = to_gateway;
}

void ca_write_received(ca_write_t *self, int64_t received_us, const char *store) {
    self->received_us = received_us;
    self->store = store;
}

zframe_t *ca_write_frame(ca_write_t *self) {
    Cairn__Internal__WriteRequest write = CAIRN__INTERNAL__WRITE_REQUEST__INIT;
    write.statements = self->statements;
    write.n_statements = self->count;
    write.durable = self->durable;
    write.vacuum = self->vacuum;
    write.frees_space = self->frees_space;
    write.before_commit = (char **)self->before_commit;
    write.n_before_commit = self->before_commit_count;
    write.answers = self->answers;
    write.answer_by = self->answer_by;
    write.answer_to_gateway = self->answer_to_gateway;
    write.received_us = self->received_us;
    if (self->store)
        write.store = (char *)self->store;
    if (self->context) {
        write.context.data = zchunk_data(self->context);
        write.context.len = zchunk_size(self->context);
    }
    Cairn__Internal__WriterRequest request = CAIRN__INTERNAL__WRITER_REQUEST__INIT;
    request.body_case = CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE;
    request.write = &write;
    return ca_message_frame(&request.base);
}

//  ---- self-test -------------------------------------------------------------

void ca_sql_test(bool verbose) {
    if (verbose)
        printf(" * ca_sql: ");
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(":memory:", CA_SQL_READ_WRITE, NULL, &error);
    assert(sql && !error);
    assert(ca_sql_exec(sql, "CREATE TABLE t (v)") == SQLITE_OK);
    //  Saturating unsigned sums: -1 is 2^64-1 in these bits.
    sqlite3_stmt *usat = ca_sql_prepare(
        sql,
        "SELECT cairn_usat_sum(v) FROM (SELECT 5 AS v UNION ALL SELECT 7 UNION ALL SELECT NULL)");
    assert(usat && sqlite3_step(usat) == SQLITE_ROW && sqlite3_column_int64(usat, 0) == 12);
    sqlite3_reset(usat);
    usat = ca_sql_prepare(sql, "SELECT cairn_usat_sum(v) FROM (SELECT -2 AS v UNION ALL SELECT 5)");
    assert(usat && sqlite3_step(usat) == SQLITE_ROW && sqlite3_column_int64(usat, 0) == -1);
    sqlite3_reset(usat);
    usat = ca_sql_prepare(sql, "SELECT cairn_usat_sum(v) FROM (SELECT 1 AS v WHERE 0)");
    assert(usat && sqlite3_step(usat) == SQLITE_ROW && sqlite3_column_int64(usat, 0) == 0);
    sqlite3_reset(usat);
    sqlite3_stmt *insert = ca_sql_prepare(sql, "INSERT INTO t VALUES (?1)");
    assert(insert);
    assert(ca_sql_prepare(sql, "INSERT INTO t VALUES (?1)") == insert); //  cached
    assert(ca_sql_prepare(sql, "NOT SQL") == NULL);

    //  Each kind of value binds and reads back as itself.
    Cairn__Internal__SqlValue in = CAIRN__INTERNAL__SQL_VALUE__INIT;
    in.kind_case = CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB; //  empty blob stays a blob
    assert(ca_sql_bind_value(insert, 1, &in) == SQLITE_OK);
    assert(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_stmt *select = ca_sql_prepare(sql, "SELECT v FROM t");
    assert(sqlite3_step(select) == SQLITE_ROW);
    Cairn__Internal__SqlValue *out = ca_sql_column_value(select, 0);
    assert(out->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB && out->blob.len == 0);
    ca_sql_value_free(out);
    sqlite3_reset(select);

    char text[32];
    assert(ca_sql_pragma_text(sql, "PRAGMA journal_mode", text, sizeof text));
    assert(streq(text, "memory"));

    //  Migrations run once each, in order; a failed one is rolled back and
    //  leaves the version at the last one that committed.
    static const char *const migrations[] = {"CREATE TABLE m1 (v)", "CREATE TABLE m2 (v)",
                                             "CREATE TABLE m1 (v)"};
    ca_schema_t schema = {"test", migrations, 2};
    size_t from = 9, to = 9;
    char *failed = ca_schema_migrate(ca_sql_handle(sql), &schema, &from, &to);
    assert(!failed && from == 0 && to == 2);
    failed = ca_schema_migrate(ca_sql_handle(sql), &schema, &from, &to);
    assert(!failed && from == 2 && to == 2);
    schema.count = 3;
    failed = ca_schema_migrate(ca_sql_handle(sql), &schema, &from, &to);
    assert(failed && strstr(failed, "migration 3 of store 'test'") && from == 2 && to == 2);
    zstr_free(&failed);
    schema.count = 1; //  a database newer than the code
    failed = ca_schema_migrate(ca_sql_handle(sql), &schema, &from, &to);
    assert(failed && strstr(failed, "version 2"));
    zstr_free(&failed);

    //  Statement cache stays bounded.
    for (int i = 0; i < CA_STMT_CACHE_MAX + 10; i++) {
        char *query = zsys_sprintf("SELECT %d", i);
        //  The cache keys on the text; it keeps its own copy of the key.
        assert(ca_sql_prepare(sql, query));
        zstr_free(&query);
    }
    ca_sql_destroy(&sql);
    ca_sql_destroy(&sql); //  safe twice

    //  The builder packs statements and values the writer can decode.
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "INSERT INTO t VALUES (?1, ?2)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_CONFLICT, "already there");
    ca_write_text(write, "k");
    ca_write_blob(write, "v", 1);
    ca_write_statement(write, "SELECT 1", CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_int(write, -5);
    ca_write_real(write, 1.5);
    ca_write_null(write);
    ca_write_statement(write, "SELECT ?1", CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, protobuf_c_empty_string); //  an empty string of a decoded request
    ca_write_durable(write);
    zframe_t *frame = ca_write_frame(write);
    ca_write_destroy(&write);
    ca_write_destroy(&write);
    Cairn__Internal__WriterRequest *request =
        cairn__internal__writer_request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert(request && request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE);
    assert(request->write->durable && request->write->n_statements == 3);
    //  An empty string stays text, not NULL.
    assert(request->write->statements[2]->params[0]->kind_case ==
           CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT);
    assert(streq(request->write->statements[2]->params[0]->text, ""));
    assert(request->write->statements[0]->n_params == 2);
    assert(request->write->statements[0]->fail_status == CA_CONFLICT);
    assert(request->write->statements[1]->want_rows);
    assert(request->write->statements[1]->params[0]->integer == -5);
    assert(request->write->statements[1]->params[2]->kind_case ==
           CAIRN__INTERNAL__SQL_VALUE__KIND_NULL);
    cairn__internal__writer_request__free_unpacked(request, NULL);
    zframe_destroy(&frame);
    if (verbose)
        printf("OK\n");
}

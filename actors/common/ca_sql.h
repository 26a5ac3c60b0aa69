/*  =========================================================================
    ca_sql - one SQLite connection with its prepared-statement cache, and
    the builder stores use to describe a write for the writer actor

    Each actor owns its own connection (opened SQLITE_OPEN_NOMUTEX, used by
    that actor's thread only). Statements are prepared once per connection
    and kept, keyed by their SQL text, so a store simply asks for the SQL it
    needs each time; the cache holds at most CA_STMT_CACHE_MAX statements.

    A store never writes: it builds a cairn.internal.WriteRequest with
    ca_write_t (statements + bound values + what each must achieve) and sends
    it to the writer. Its SQL sits in the store's own file.
    ========================================================================= */

#ifndef CA_SQL_H_INCLUDED
#define CA_SQL_H_INCLUDED

#include "ca_status.h"
#include "internal.pb-c.h"

#include <czmq.h>
#include <sqlite3.h>
#include <stdbool.h>

typedef struct _ca_sql_t ca_sql_t;

//  The ordered migrations of one store, run by the writer at start.
//  migrations[i] takes the store from schema version i to i+1; once
//  released, a migration is never edited, only followed by another.
typedef struct {
    const char *store;
    const char *const *migrations;
    size_t count;
} ca_schema_t;

//  Brings `schema` up to date in `db`: each migration not yet applied runs
//  in its own transaction, and the table schema_version (made if missing)
//  records the store's version. *from is the version found, *to the one
//  reached. Returns NULL, or a message saying what failed (caller frees),
//  with the failed migration rolled back (*to is then the last one that
//  committed). The writer runs this at start; the bench
//  runs it to give its raw-SQLite baselines the stores' own tables.
char *ca_schema_migrate(sqlite3 *db, const ca_schema_t *schema, size_t *from, size_t *to);

//  The version of `store`'s schema recorded in `db`: 0 when none of its
//  migrations ran (or there is no schema_version table).
int64_t ca_schema_version(sqlite3 *db, const char *store);

typedef enum { CA_SQL_READ_ONLY, CA_SQL_READ_WRITE } ca_sql_mode_t;

//  Registers cairn's SQL functions on `db` (cairn_usat_sum and the
//  cairn_reach ones), as ca_sql_open does on its connections. SQLite's code.
int ca_sql_register(sqlite3 *db);

//  Opens the database at `path`. `vfs` may be NULL (SQLite's default).
//  Returns NULL with *error set (caller frees) on failure.
ca_sql_t *ca_sql_open(const char *path, ca_sql_mode_t mode, const char *vfs, char **error);

//  Finalizes every cached statement and closes the connection.
void ca_sql_destroy(ca_sql_t **self_p);

sqlite3 *ca_sql_handle(ca_sql_t *self);

//  The prepared statement for `sql`, reset and with bindings cleared; NULL
//  when it does not compile (the message is in sqlite3_errmsg). The cache
//  owns the statement: never finalize it.
sqlite3_stmt *ca_sql_prepare(ca_sql_t *self, const char *sql);

//  Runs SQL without results (pragmas, BEGIN, COMMIT). Returns SQLite's code.
int ca_sql_exec(ca_sql_t *self, const char *sql);

//  Runs one statement without parameters or results through the statement
//  cache (SAVEPOINT, RELEASE, BEGIN, COMMIT on the hot path: sqlite3_exec
//  would parse them again every time). Returns SQLite's code.
int ca_sql_run(ca_sql_t *self, const char *sql);

//  Reads back a single-value pragma as text into `value` (size bytes).
bool ca_sql_pragma_text(ca_sql_t *self, const char *pragma, char *value, size_t size);

//  Called with each row a checking pragma reports (see ca_sql_check).
typedef void(ca_sql_row_fn)(void *context, sqlite3_stmt *row);

//  Runs a checking pragma (integrity_check, quick_check,
//  foreign_key_check) and calls `row` with each problem it reports: every
//  result row but a lone "ok". Returns the number of problems, or -1 with
//  *error (caller frees) when SQLite could not run the check. Used by the
//  writer's checks and by `cairnd check`.
long ca_sql_check(ca_sql_t *self, const char *pragma, ca_sql_row_fn *row, void *context,
                  char **error);

//  Binds an internal SqlValue to parameter `index` (1-based).
int ca_sql_bind_value(sqlite3_stmt *stmt, int index, const Cairn__Internal__SqlValue *value);

//  Copies column `column` of the current row into a new SqlValue; NULL when
//  memory ran out.
Cairn__Internal__SqlValue *ca_sql_column_value(sqlite3_stmt *stmt, int column);

//  Frees a SqlValue made by ca_sql_column_value.
void ca_sql_value_free(Cairn__Internal__SqlValue *value);

//  ---- write builder -----------------------------------------------------------

typedef struct _ca_write_t ca_write_t;

ca_write_t *ca_write_new(void);
void ca_write_destroy(ca_write_t **self_p);

//  Starts the next statement. `fail_message` is what the client reads when
//  `expect` is not met; it must tell the user what to do.
void ca_write_statement(ca_write_t *self, const char *sql, Cairn__Internal__Expect expect,
                        ca_status_t fail_status, const char *fail_message);

//  A statement without parameters for the writer to run once per batch,
//  before COMMIT (see WriteRequest.before_commit); `sql` must outlive the
//  write (a constant).
void ca_write_before_commit(ca_write_t *self, const char *sql);

//  Asks the writer to return the rows of the current statement.
void ca_write_want_rows(ca_write_t *self);

//  Bind the next parameter of the current statement. Text and blob bytes
//  are referenced, not copied: keep them alive until ca_write_frame.
void ca_write_text(ca_write_t *self, const char *text);
void ca_write_blob(ca_write_t *self, const void *data, size_t size);
void ca_write_int(ca_write_t *self, int64_t value);
void ca_write_real(ca_write_t *self, double value);
void ca_write_null(ca_write_t *self);

//  Marks the write durable: its batch commits with synchronous=FULL.
void ca_write_durable(ca_write_t *self);

//  Marks a write that frees space (deletes): it may use the reserve kept
//  below max_db_bytes, which ordinary writes may not (see writer.c).
void ca_write_frees_space(ca_write_t *self);

//  Makes this a VACUUM request (no statements); the reply's bytes_before
//  and bytes_after give the database size around it.
void ca_write_vacuum(ca_write_t *self);

//  Bytes the writer echoes in its WriteReply (copied): what the store's
//  `done` (or its write_failed) needs to finish the request.
void ca_write_context(ca_write_t *self, const void *data, size_t size);

//  Says that `answers` (1 or 2) packed client answers travel before the
//  WriterRequest, picked by statement `answer_by` and sent by the writer to
//  the gateway when `to_gateway` (WriteRequest.answers; ca_store sets it).
void ca_write_answers(ca_write_t *self, uint32_t answers, uint32_t answer_by, bool to_gateway);

//  Stamps a client's write with when its store received the request
//  (zclock_usecs) and the store's name (static), for the writer's
//  slow-request log.
void ca_write_received(ca_write_t *self, int64_t received_us, const char *store);

//  Packs the write as a WriterRequest frame. Caller owns the frame.
zframe_t *ca_write_frame(ca_write_t *self);

//  Whether memory ran out while the write was built: it must not be sent
//  (ca_store_write answers INTERNAL instead).
bool ca_write_failed(ca_write_t *self);

void ca_sql_test(bool verbose);

#endif

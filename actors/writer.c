/*  =========================================================================
    writer - the only SQLite connection that writes (group commit)

    What it owns: the read-write connection to cairn.db and the schema (it
    runs every store's migrations at start). Nothing else in the process
    writes to the database; stores read through their own read-only
    connections, which WAL mode lets run beside this one.

    Why one writer: SQLite allows one writer at a time anyway, and the cost
    of a write is dominated by the commit (an fsync with synchronous=FULL, a
    WAL append with NORMAL). One thread that takes every write waiting on its
    socket and commits them together spreads that cost over the whole batch:
    this is group commit, as in strfry's writer.

    Requests (ROUTER on CA_WRITER_ENDPOINT; layout in schemas/internal.proto):

        WriterRequest.write  ->  WriterResponse.write, after the batch's COMMIT
        WriterRequest.stats  ->  WriterResponse.stats, at once

    A write may carry its client's answer, packed by its store up front
    (WriteRequest.answers: one, or two picked by whether statement
    `answer_by` counted anything). Committed and marked answer_to_gateway,
    the picked answer goes as [gateway id][client id][Response] to the
    gateway's answers socket (config.answers_endpoint) and the store hears
    nothing; otherwise the store gets the usual WriterResponse, after the
    picked answer when the write committed, without the answers when not.

    A batch, step by step:

        drain socket (up to batch_max writes)
            |
        BEGIN IMMEDIATE
            |   for each write:  SAVEPOINT w; statements; check expectations;
            |                    fail -> ROLLBACK TO w (this write only)
            |                    RELEASE w
        COMMIT --ok--> answer every write with its own outcome
            |
          fails --> ROLLBACK; checkpoint(TRUNCATE); answer every write
                    INTERNAL; quick_check;
                    check fails -> error state (all later writes INTERNAL)

    A failed COMMIT, decided: when the fsync of a commit fails, its frames
    are already in the WAL file with a valid commit frame, past the end the
    WAL index knows. The connection rolls back and goes on, but recovery
    after a crash reads the file, not the index, and would replay the batch
    its writes were told failed. So before answering, the writer runs a
    TRUNCATE checkpoint: committed frames go into cairn.db and the WAL file
    is emptied, the failed frames with it. (Closing and reopening the
    connection would not help: the readers keep the index alive, and the
    frames stay in the file.) If readers hold the WAL so that the
    checkpoint cannot finish, the log says so; the next commit overwrites
    the frames, since it appends where the index ends and recovery stops
    at the first frame whose checksum chain breaks. selftest.writer
    (s_test_failed_commit) recovers a copy of the files after the failure.

    Invariants:
    - A write is answered only after the transaction holding it committed
      (or definitely failed), so an OK survives kill -9 of the node.
    - A failing write never affects the others of its batch (savepoints),
      unless SQLite itself aborts the transaction (I/O error, disk full), in
      which case every write of the batch is answered with that error.
    - A failed COMMIT is never retried as if nothing happened, and does not
      come back after a crash (the WAL is reset before it is answered).
    - The error state is left only by restarting the node; reads go on.

    Control commands on the pipe: START (answers status + message), $TERM.
    ========================================================================= */

#include "writer.h"
#include "ca_arena.h"
#include "ca_envelope.h"
#include "ca_log.h"
#include "ca_limits.h"
#include "ca_sql.h"
#include "ca_status.h"
#include "ca_store.h"
#include "internal.pb-c.h"

#include <assert.h>
#include <string.h>
#include <sys/statvfs.h>

//  One write of a batch and its outcome.
typedef struct {
    zmsg_t *msg;                             //  identity + context frames, answered in place
    Cairn__Internal__WriterRequest *request; //  in the writer's arena
    ca_status_t status;
    char *error;
    Cairn__Internal__StatementResult **results;
    size_t n_results;
    uint64_t bytes_before; //  vacuum only
    uint64_t bytes_after;
} pending_write_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zsock_t *answers; //  PUSH to the gateway's answers (NULL: none configured)
    zpoller_t *poller;
    bool terminated;
    writer_config_t config; //  strings owned by this struct (copies)
    ca_sql_t *sql;
    char *error_state; //  non-NULL: writes refused with this message
    //  max_db_bytes in pages (hard), and the watermark below it where
    //  ordinary writes stop (soft); 0: no cap. See s_over_watermark.
    long long hard_pages, soft_pages;
    char uncapped_pages[32]; //  max_page_count as SQLite opened the file (SIGHUP lifts back to it)
    bool disk_low;           //  below min_free_bytes when the batch began
    pending_write_t *batch;  //  batch_max slots, reused by every batch
    ca_arena_t *arena;       //  the batch's decoded requests, reset after its answers
    //  statistics
    uint64_t batches;
    uint64_t writes;
    uint64_t failed_writes;
    uint64_t failed_commits;
    uint64_t last_queue_depth;
} self_t;

static self_t *s_self_new(zsock_t *pipe, const writer_config_t *config) {
    self_t *self = (self_t *)zmalloc(sizeof(self_t));
    self->pipe = pipe;
    self->config = *config;
    self->config.db_path = strdup(config->db_path);
    self->config.vfs = config->vfs ? strdup(config->vfs) : NULL;
    self->config.endpoint = strdup(config->endpoint ? config->endpoint : CA_WRITER_ENDPOINT);
    self->config.answers_endpoint =
        config->answers_endpoint ? strdup(config->answers_endpoint) : NULL;
    if (self->config.batch_max == 0)
        self->config.batch_max = CA_DEFAULT_WRITER_BATCH;
    self->batch = (pending_write_t *)zmalloc(self->config.batch_max * sizeof(pending_write_t));
    self->arena = ca_arena_new(CA_WRITER_ARENA_CHUNK);
    self->poller = zpoller_new(pipe, NULL);
    return self;
}

static void s_self_destroy(self_t **self_p) {
    self_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy(&self->poller);
    //  Closing a socket releases its inproc endpoint later, in libzmq's
    //  reaper thread; unbinding first frees the name at once, so a writer
    //  started right after this one (tests, restarts in-process) can bind it.
    if (self->router)
        zsock_unbind(self->router, "%s", self->config.endpoint);
    zsock_destroy(&self->router);
    zsock_destroy(&self->answers);
    ca_sql_destroy(&self->sql);
    free((char *)self->config.answers_endpoint);
    free((char *)self->config.db_path);
    free((char *)self->config.vfs);
    free((char *)self->config.endpoint);
    free(self->error_state);
    free(self->batch);
    ca_arena_destroy(&self->arena);
    free(self);
    *self_p = NULL;
}

//  ---- start: open, pragmas, migrations ----------------------------------------

//  Sets a pragma and reads it back: SQLite silently ignores some pragmas
//  (e.g. WAL on a filesystem that cannot do it), and running without the
//  promised durability would be a lie to every client.
static char *s_apply_pragma(self_t *self, const char *set, const char *get, const char *expected) {
    char value[64];
    if (ca_sql_exec(self->sql, set) != SQLITE_OK ||
        !ca_sql_pragma_text(self->sql, get, value, sizeof value))
        return zsys_sprintf("cannot apply '%s': %s", set, sqlite3_errmsg(ca_sql_handle(self->sql)));
    if (!streq(value, expected))
        return zsys_sprintf("SQLite did not apply '%s' (reads back '%s', wanted '%s'); "
                            "check that the data dir is on a local filesystem",
                            set, value, expected);
    return NULL;
}

//  max_db_bytes as SQLite's max_page_count (hard) and the watermark below
//  it (soft, s_over_watermark); 0 lifts both. At start and when a SIGHUP
//  changes max_db_bytes (LIMITS). max_page_count never goes below the
//  current size: then it reads back larger, and the cap is simply the
//  current size.
static void s_apply_db_cap(self_t *self) {
    char set[80], page_size[32] = "4096", cap[32] = "0";
    ca_sql_pragma_text(self->sql, "PRAGMA page_size", page_size, sizeof page_size);
    long long page = atoll(page_size) > 0 ? atoll(page_size) : 4096;
    long long pages = self->config.max_db_bytes / page;
    if (self->config.max_db_bytes > 0)
        snprintf(set, sizeof set, "PRAGMA max_page_count=%lld", pages > 1 ? pages : 1);
    else
        snprintf(set, sizeof set, "PRAGMA max_page_count=%s",
                 self->uncapped_pages[0] ? self->uncapped_pages : "1073741823");
    ca_sql_exec(self->sql, set);
    if (self->config.max_db_bytes <= 0) {
        self->hard_pages = self->soft_pages = 0;
        return;
    }
    ca_sql_pragma_text(self->sql, "PRAGMA max_page_count", cap, sizeof cap);
    self->hard_pages = atoll(cap);
    long long reserve = self->config.max_db_bytes / CA_DB_RESERVE_DIVISOR;
    if (reserve < CA_DB_RESERVE_MIN_BYTES)
        reserve = CA_DB_RESERVE_MIN_BYTES;
    reserve /= page;
    self->soft_pages = self->hard_pages > reserve + 1 ? self->hard_pages - reserve : 1;
}

static char *s_apply_pragmas(self_t *self) {
    char *error = s_apply_pragma(self, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode", "wal");
    if (!error)
        error = self->config.synchronous_full
                    ? s_apply_pragma(self, "PRAGMA synchronous=FULL", "PRAGMA synchronous", "2")
                    : s_apply_pragma(self, "PRAGMA synchronous=NORMAL", "PRAGMA synchronous", "1");
    if (!error)
        error = s_apply_pragma(self, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1");
    //  Stores keyed by hashes (content, provenance) touch pages all over
    //  their indexes; with SQLite's default 2 MiB cache the writer spent
    //  most of a provenance build re-reading them with pread (bench:
    //  node.prov_add 1.47x faster with 64 MiB). Readers keep the default.
    if (!error)
        error = s_apply_pragma(self, "PRAGMA cache_size=" CA_WRITER_CACHE_KIB, "PRAGMA cache_size",
                               CA_WRITER_CACHE_KIB);
    if (!error) //  SQLite's own default, before any cap (it differs between versions)
        ca_sql_pragma_text(self->sql, "PRAGMA max_page_count", self->uncapped_pages,
                           sizeof self->uncapped_pages);
    if (!error && self->config.max_db_bytes > 0)
        s_apply_db_cap(self);
    return error;
}

//  Brings every store's schema up to date, one migration per transaction.
static char *s_migrate(self_t *self) {
    char *error = NULL;
    for (size_t i = 0; i < self->config.schema_count && !error; i++) {
        const ca_schema_t *schema = self->config.schemas[i];
        size_t from = 0, to = 0;
        error = ca_schema_migrate(ca_sql_handle(self->sql), schema, &from, &to);
        for (size_t version = from + 1; version <= to; version++)
            ca_log_info("writer: store '%s' schema migrated to version %zu", schema->store,
                        version);
    }
    return error;
}

//  Checks the database: PRAGMA quick_check, and when that reports a
//  problem, PRAGMA integrity_check to confirm it. SQLite 3.40.1 (Debian 12)
//  has quick_check report "NULL value in T.C" for a NOT NULL column of a
//  WITHOUT ROWID table whose primary key lists columns in another order
//  than the table (manifest_access), where integrity_check says ok; the
//  full check is slower but runs only when the quick one complains. False
//  with the first problem (or SQLite's error) in `result`.
typedef struct {
    char *result;
    size_t size;
} first_problem_t;

static void s_first_problem(void *context, sqlite3_stmt *row) {
    first_problem_t *first = (first_problem_t *)context;
    const char *text = (const char *)sqlite3_column_text(row, 0);
    if (!*first->result)
        snprintf(first->result, first->size, "%s", text ? text : "(no text)");
}

static bool s_database_ok(self_t *self, char *result, size_t size) {
    for (int pass = 0; pass < 2; pass++) {
        const char *check = pass == 0 ? "PRAGMA quick_check" : "PRAGMA integrity_check";
        first_problem_t first = {result, size};
        char *error = NULL;
        *result = 0;
        long problems = ca_sql_check(self->sql, check, s_first_problem, &first, &error);
        if (problems < 0) {
            snprintf(result, size, "%s", error);
            zstr_free(&error);
            return false;
        }
        if (problems == 0)
            return true;
    }
    for (char *at = result; (at = strchr(at, '\n'));)
        *at = ' '; //  one log line
    return false;
}

//  The start check: PRAGMA quick_check reads every page of cairn.db (and
//  the WAL it replays) once, so it costs O(database size), about a
//  sequential read of the file (docs/ARCHITECTURE.md has figures); it runs
//  before the migrations and before any store serves, so a damaged file is
//  never written to or answered from. start_check=off skips it for very
//  large databases whose operator checks them another way.
static char *s_check_at_start(self_t *self) {
    if (!self->config.start_check)
        return NULL;
    int64_t started = zclock_mono();
    char result[512] = "";
    if (s_database_ok(self, result, sizeof result)) {
        ca_log_info("writer: start check (PRAGMA quick_check) of %s passed in %" PRId64 " ms",
                    self->config.db_path, zclock_mono() - started);
        return NULL;
    }
    return zsys_sprintf(
        "%s is damaged: the start check (PRAGMA quick_check, then integrity_check) reported '%s'. "
        "cairnd will not "
        "serve or write to it. Stop here: restore cairn.db from a backup (with no stale "
        "cairn.db-wal beside it), or list the damage with `cairnd check` (same --data-dir or "
        "--config). start_check=off skips this check and serves the damaged file anyway (not "
        "advised)",
        self->config.db_path, result);
}

static char *s_start(self_t *self) {
    char *error = NULL;
    if (!self->arena)
        return strdup("the writer has no memory for its arena; free memory and restart");
    self->sql = ca_sql_open(self->config.db_path, CA_SQL_READ_WRITE, self->config.vfs, &error);
    if (!self->sql)
        return error;
    error = s_check_at_start(self);
    if (!error)
        error = s_apply_pragmas(self);
    if (!error)
        error = s_migrate(self);
    if (error)
        return error;
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return ca_actor_socket_error("writer");
    zsock_set_rcvtimeo(self->router, 0); //  draining never blocks
    zsock_set_sndhwm(self->router, 0);   //  answers are bounded by the batch
    if (zsock_bind(self->router, "%s", self->config.endpoint) != 0)
        return zsys_sprintf("writer cannot bind %s: %s", self->config.endpoint,
                            zmq_strerror(zmq_errno()));
    zpoller_add(self->poller, self->router);
    if (self->config.answers_endpoint) {
        //  inproc may connect before the gateway binds: answers wait.
        self->answers = zsock_new(ZMQ_PUSH);
        if (!self->answers)
            return ca_actor_socket_error("writer");
        zsock_set_sndhwm(self->answers, 0); //  bounded by the batch, as answers to stores
        if (zsock_connect(self->answers, "%s", self->config.answers_endpoint) != 0)
            return zsys_sprintf("writer cannot connect %s: %s", self->config.answers_endpoint,
                                zmq_strerror(zmq_errno()));
    }
    return NULL;
}

//  ---- one write ----------------------------------------------------------------

static const char s_node_full[] =
    "the node is full: cairn.db reached max_db_bytes less the reserve kept for deletes; delete "
    "something (ContentDelete, MessageDelete, ChannelDelete, then Vacuum "
    "to shrink the file) or raise max_db_bytes";

static const char s_disk_full[] =
    "the node is full: the disk holding cairn.db has less than min_free_bytes free, kept for "
    "deletes; delete something (ContentDelete, MessageDelete, ChannelDelete) or free disk space";

//  The reserve. With max_db_bytes, a full database could not even be
//  emptied: a delete needs a few new pages (b-tree rebalancing, the FTS
//  index's delete markers) before it frees any. So an ordinary write is
//  refused (UNAVAILABLE, s_node_full) before it runs when the pages in use
//  (page_count less the freelist) reach max_db_bytes less a reserve
//  (CA_DB_RESERVE_DIVISOR, CA_DB_RESERVE_MIN_BYTES); writes that free space
//  (WriteRequest.frees_space: the stores' deletes) and VACUUM may use the
//  reserve, up to max_page_count. The check runs before each write rather
//  than as a lower max_page_count because SQLITE_FULL aborts the whole
//  transaction, failing the other writes of the batch; so a write that
//  starts below the watermark may end past it by its own size. Pages
//  freed by deletes are reused, so ordinary writes resume as soon as
//  something was deleted.
//
//  The disk gets the same treatment: when the filesystem holding cairn.db
//  has less than min_free_bytes free (statvfs, once per batch), ordinary
//  writes are refused and deletes keep that space for their WAL frames
//  (and deleted blob files give theirs back).
static const char *s_over_watermark(self_t *self) {
    if (self->disk_low)
        return s_disk_full;
    if (!self->soft_pages)
        return NULL;
    char pages[32] = "0", free_pages[32] = "0";
    ca_sql_pragma_text(self->sql, "PRAGMA page_count", pages, sizeof pages);
    ca_sql_pragma_text(self->sql, "PRAGMA freelist_count", free_pages, sizeof free_pages);
    return atoll(pages) - atoll(free_pages) >= self->soft_pages ? s_node_full : NULL;
}

static void s_check_disk(self_t *self) {
    struct statvfs disk;
    self->disk_low =
        self->config.min_free_bytes > 0 && statvfs(self->config.db_path, &disk) == 0 &&
        (uint64_t)disk.f_bavail * disk.f_frsize < (uint64_t)self->config.min_free_bytes;
}

static void s_fail(pending_write_t *write, ca_status_t status, const char *message) {
    write->status = status;
    free(write->error);
    write->error = strdup(message);
}

static bool s_expectation_met(const Cairn__Internal__Statement *statement, uint64_t changes,
                              uint64_t rows) {
    switch (statement->expect) {
        case CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE:
            return changes == 1;
        case CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE:
            return changes >= 1;
        case CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS:
            return rows == 0;
        case CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS:
            return rows >= 1;
        default:
            return true;
    }
}

static void s_result_free(Cairn__Internal__StatementResult *result) {
    for (size_t r = 0; r < result->n_rows; r++) {
        Cairn__Internal__Row *row = result->rows[r];
        for (size_t v = 0; v < row->n_values; v++)
            ca_sql_value_free(row->values[v]);
        free(row->values);
        free(row);
    }
    free(result->rows);
    free(result);
}

//  False when memory ran out (nothing appended).
static bool s_append_row(Cairn__Internal__StatementResult *result, sqlite3_stmt *stmt) {
    Cairn__Internal__Row **rows = (Cairn__Internal__Row **)realloc(
        result->rows, (result->n_rows + 1) * sizeof(*result->rows));
    if (!rows)
        return false;
    result->rows = rows;
    Cairn__Internal__Row *row = (Cairn__Internal__Row *)zmalloc(sizeof(Cairn__Internal__Row));
    cairn__internal__row__init(row);
    row->n_values = (size_t)sqlite3_column_count(stmt);
    row->values = (Cairn__Internal__SqlValue **)zmalloc((row->n_values ? row->n_values : 1) *
                                                        sizeof(Cairn__Internal__SqlValue *));
    bool complete = true;
    for (size_t v = 0; v < row->n_values; v++)
        complete = (row->values[v] = ca_sql_column_value(stmt, (int)v)) && complete;
    if (!complete) {
        for (size_t v = 0; v < row->n_values; v++)
            ca_sql_value_free(row->values[v]);
        free(row->values);
        free(row);
        return false;
    }
    result->rows[result->n_rows++] = row;
    return true;
}

#define WRITER_NO_MEMORY "the writer ran out of memory for this write's results; retry"

//  Runs one statement; false (with the write failed) when it errs or misses
//  its expectation.
static bool s_run_statement(self_t *self, pending_write_t *write,
                            const Cairn__Internal__Statement *statement) {
    sqlite3 *db = ca_sql_handle(self->sql);
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, statement->sql ? statement->sql : "");
    if (!stmt) {
        char *message = zsys_sprintf("writer cannot prepare a statement: %s", sqlite3_errmsg(db));
        s_fail(write, CA_INVALID, message);
        zstr_free(&message);
        return false;
    }
    int rc = SQLITE_OK;
    for (size_t p = 0; p < statement->n_params && rc == SQLITE_OK; p++)
        rc = ca_sql_bind_value(stmt, (int)p + 1, statement->params[p]);
    Cairn__Internal__StatementResult *result =
        (Cairn__Internal__StatementResult *)zmalloc(sizeof(Cairn__Internal__StatementResult));
    cairn__internal__statement_result__init(result);
    uint64_t rows = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
        rc = statement->want_rows && !s_append_row(result, stmt) ? SQLITE_NOMEM : SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        s_fail(write, ca_status_from_sqlite(rc),
               rc == SQLITE_NOMEM ? WRITER_NO_MEMORY : sqlite3_errmsg(db));
        sqlite3_reset(stmt);
        s_result_free(result);
        return false;
    }
    result->changes = (uint64_t)sqlite3_changes64(db);
    sqlite3_reset(stmt);
    if (!s_expectation_met(statement, result->changes, rows)) {
        s_fail(write, (ca_status_t)statement->fail_status,
               statement->fail_message && *statement->fail_message
                   ? statement->fail_message
                   : "the write did not change what it had to");
        s_result_free(result);
        return false;
    }
    Cairn__Internal__StatementResult **results = (Cairn__Internal__StatementResult **)realloc(
        write->results, (write->n_results + 1) * sizeof(*write->results));
    if (!results) {
        s_fail(write, CA_INTERNAL, WRITER_NO_MEMORY);
        s_result_free(result);
        return false;
    }
    write->results = results;
    write->results[write->n_results++] = result;
    return true;
}

static void s_discard_results(pending_write_t *write) {
    for (size_t i = 0; i < write->n_results; i++)
        s_result_free(write->results[i]);
    free(write->results);
    write->results = NULL;
    write->n_results = 0;
}

//  Applies one write inside its own savepoint.
static void s_apply_write(self_t *self, pending_write_t *write) {
    const Cairn__Internal__WriteRequest *request = write->request->write;
    //  A lone statement with nothing to check needs no savepoint: SQLite
    //  already undoes a failing statement by itself (statement journal),
    //  and a write like GossipAdd is the hot path.
    if (request->n_statements == 1 &&
        request->statements[0]->expect == CAIRN__INTERNAL__EXPECT__EXPECT_ANY) {
        if (!s_run_statement(self, write, request->statements[0]))
            s_discard_results(write);
        return;
    }
    ca_sql_run(self->sql, "SAVEPOINT w");
    bool ok = true;
    for (size_t i = 0; i < request->n_statements && ok; i++)
        ok = s_run_statement(self, write, request->statements[i]);
    if (!ok) {
        s_discard_results(write);
        if (!sqlite3_get_autocommit(ca_sql_handle(self->sql)))
            ca_sql_run(self->sql, "ROLLBACK TO w");
    }
    if (!sqlite3_get_autocommit(ca_sql_handle(self->sql)))
        ca_sql_run(self->sql, "RELEASE w");
}

//  ---- the batch --------------------------------------------------------------

//  Statement `index` counted something: rows when it asked for them (a
//  SELECT's changes are the previous statement's), else changed rows.
static bool s_statement_counted(const pending_write_t *write, size_t index) {
    const Cairn__Internal__WriteRequest *request = write->request->write;
    if (index >= request->n_statements || index >= write->n_results)
        return false;
    const Cairn__Internal__StatementResult *result = write->results[index];
    return request->statements[index]->want_rows ? result->n_rows > 0 : result->changes > 0;
}

//  A write that carries its answers (WriteRequest.answers): keeps the one
//  its outcome picks, or none when it failed. Then, committed and meant for
//  the gateway, sends [gateway id][client id][answer] there and returns
//  true; otherwise the store gets the usual answer (s_answer).
static bool s_answer_attached(self_t *self, pending_write_t *write) {
    const Cairn__Internal__WriteRequest *request =
        write->request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE
            ? write->request->write
            : NULL;
    if (!request || request->answers == 0)
        return false;
    size_t frames = zmsg_size(write->msg);
    //  [routing id][gateway id][client id][Request][answer]...
    if (request->answers > 2 || frames < 4 + request->answers) {
        ca_log_error("writer: a write names %u answers but carries %zu frames; answered to "
                     "its store without them",
                     request->answers, frames);
        return false;
    }
    size_t keep = request->answers == 2 && s_statement_counted(write, request->answer_by) ? 1 : 0;
    zframe_t *answers[2] = {NULL, NULL};
    zframe_t *frame = zmsg_first(write->msg);
    for (size_t i = 0; i < frames - request->answers; i++)
        frame = zmsg_next(write->msg);
    for (size_t i = 0; i < request->answers; i++, frame = zmsg_next(write->msg))
        answers[i] = frame;
    for (size_t i = 0; i < request->answers; i++) {
        if (write->status == CA_OK && i == keep)
            continue;
        zmsg_remove(write->msg, answers[i]);
        zframe_destroy(&answers[i]);
    }
    if (write->status != CA_OK || !request->answer_to_gateway || !self->answers)
        return false;
    zframe_t *routing = zmsg_pop(write->msg);
    zframe_t *gateway_id = zmsg_pop(write->msg);
    zframe_t *client_id = zmsg_pop(write->msg);
    zframe_t *out[] = {gateway_id, client_id, answers[keep]};
    //  The gateway drains this socket whenever answers are owed; a full
    //  queue means it is gone (shutdown past drain_ms): the answer is lost
    //  as an answer in its sockets would be.
    if (ca_send_frames(self->answers, out, 3) != 0)
        ca_log_warning("writer: an answer to the gateway was dropped (its queue is full)");
    zframe_destroy(&routing);
    zframe_destroy(&gateway_id);
    zframe_destroy(&client_id);
    zmsg_destroy(&write->msg);
    return true;
}

//  A client's write (its store stamped received_us): the slow-request log,
//  its Request the fourth frame ([routing id][gateway id][client id]).
static void s_log_if_slow(pending_write_t *write) {
    const Cairn__Internal__WriteRequest *request =
        write->request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE
            ? write->request->write
            : NULL;
    if (!request || request->received_us <= 0 || zmsg_size(write->msg) < 4)
        return;
    zframe_t *frame = zmsg_first(write->msg);
    for (int i = 0; i < 3; i++)
        frame = zmsg_next(write->msg);
    ca_store_log_if_slow(request->store, frame, request->received_us);
}

static void s_answer(self_t *self, pending_write_t *write, size_t batch_size) {
    if (write->status != CA_OK)
        self->failed_writes++;
    s_log_if_slow(write);
    if (s_answer_attached(self, write))
        return;
    Cairn__Internal__WriteReply reply = CAIRN__INTERNAL__WRITE_REPLY__INIT;
    reply.status = write->status;
    reply.error = write->error ? write->error : "";
    reply.results = write->results;
    reply.n_results = write->n_results;
    reply.batch_size = batch_size;
    reply.bytes_before = write->bytes_before;
    reply.bytes_after = write->bytes_after;
    if (write->request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE)
        reply.context = write->request->write->context;
    Cairn__Internal__WriterResponse response = CAIRN__INTERNAL__WRITER_RESPONSE__INIT;
    response.body_case = CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE;
    response.write = &reply;
    zframe_t *frame = ca_message_frame(&response.base);
    zmsg_append(write->msg, &frame);
    zmsg_send(&write->msg, self->router);
}

//  The request stays in the arena until the batch is done.
static void s_pending_free(pending_write_t *write) {
    zmsg_destroy(&write->msg);
    write->request = NULL;
    s_discard_results(write);
    free(write->error);
}

//  After a failed COMMIT the database may be damaged (or the disk gone):
//  check it before taking another write.
static void s_recheck(self_t *self) {
    char result[256] = "";
    if (!s_database_ok(self, result, sizeof result)) {
        free(self->error_state);
        self->error_state = zsys_sprintf(
            "the writer stopped taking writes: the database check after a failed commit "
            "reported '%s'; reads continue; fix the disk, then restart cairnd",
            *result ? result : sqlite3_errmsg(ca_sql_handle(self->sql)));
        ca_log_error("writer: %s", self->error_state);
    } else
        ca_log_warning("writer: database check after a failed commit passed; writes continue");
}

//  After a failed COMMIT: the batch's frames may sit in the WAL file with
//  a valid commit frame (written, then the fsync failed), beyond the end
//  the WAL index knows. Recovery after a crash would replay them: a write
//  answered as failed would come back. A TRUNCATE checkpoint copies only
//  the committed frames into cairn.db and empties the WAL file, so they
//  are gone before the batch is answered. If readers keep it from
//  finishing, the next commit overwrites those frames (it appends at the
//  index's end, and recovery stops at the first frame whose checksum
//  chain breaks); the window until then is logged.
static void s_discard_wal_tail(self_t *self) {
    sqlite3 *db = ca_sql_handle(self->sql);
    int log = -1, checkpointed = -1;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &checkpointed);
    if (rc == SQLITE_OK && log == 0)
        ca_log_warning("writer: the WAL was reset after the failed commit; the failed batch "
                       "cannot reappear after a crash");
    else
        ca_log_error("writer: cannot reset the WAL after the failed commit (%s); until the "
                     "next commit, a crash may bring the failed batch back",
                     rc == SQLITE_OK ? "readers are using it" : sqlite3_errmsg(db));
}

//  Fails every write of the batch with the same message.
static void s_fail_all(pending_write_t *writes, size_t count, const char *message) {
    for (size_t i = 0; i < count; i++) {
        s_discard_results(&writes[i]);
        s_fail(&writes[i], CA_INTERNAL, message);
    }
}

//  Logical size of the database: pages in use times page size.
static uint64_t s_database_bytes(self_t *self) {
    char pages[32] = "0", page_size[32] = "0";
    ca_sql_pragma_text(self->sql, "PRAGMA page_count", pages, sizeof pages);
    ca_sql_pragma_text(self->sql, "PRAGMA page_size", page_size, sizeof page_size);
    return (uint64_t)atoll(pages) * (uint64_t)atoll(page_size);
}

//  VACUUM cannot run inside a transaction: vacuum requests are skipped by
//  the batch and run here, after its COMMIT, each on its own. A batch that
//  failed leaves them failed with the batch's error.
static void s_run_vacuums(self_t *self, pending_write_t *writes, size_t count) {
    for (size_t i = 0; i < count; i++) {
        pending_write_t *write = &writes[i];
        if (!write->request->write->vacuum || write->status != CA_OK)
            continue;
        write->bytes_before = s_database_bytes(self);
        int rc = ca_sql_exec(self->sql, "VACUUM");
        if (rc != SQLITE_OK) {
            char *message = zsys_sprintf("VACUUM failed: %s; the database is unchanged",
                                         sqlite3_errmsg(ca_sql_handle(self->sql)));
            s_fail(write, ca_status_from_sqlite(rc), message);
            zstr_free(&message);
            continue;
        }
        //  Fold the rewritten pages back into cairn.db and shrink the WAL.
        ca_sql_exec(self->sql, "PRAGMA wal_checkpoint(TRUNCATE)");
        write->bytes_after = s_database_bytes(self);
        ca_log_info("writer: VACUUM took the database from %" PRIu64 " to %" PRIu64 " bytes",
                    write->bytes_before, write->bytes_after);
    }
}

//  The batch's before_commit statements, each distinct text once, in the
//  order first met, for the writes that were applied: NULL, or why the
//  batch must be aborted (the caller's to free).
static char *s_run_before_commit(self_t *self, pending_write_t *writes, size_t count) {
    const char *seen[CA_WRITER_MAX_BEFORE_COMMIT];
    size_t distinct = 0;
    for (size_t i = 0; i < count; i++) {
        const Cairn__Internal__WriteRequest *write = writes[i].request->write;
        if (writes[i].status != CA_OK)
            continue;
        for (size_t s = 0; s < write->n_before_commit; s++) {
            const char *sql = write->before_commit[s];
            size_t known = 0;
            while (known < distinct && strcmp(seen[known], sql) != 0)
                known++;
            if (known < distinct)
                continue;
            if (distinct == CA_WRITER_MAX_BEFORE_COMMIT)
                return zsys_sprintf("a batch asked for more than %d before_commit statements; "
                                    "nothing in this batch was stored: this is a bug, report it",
                                    CA_WRITER_MAX_BEFORE_COMMIT);
            seen[distinct++] = sql;
            int rc = ca_sql_run(self->sql, sql);
            if (rc != SQLITE_OK)
                return zsys_sprintf("the batch's closing statement failed (%s); nothing in this "
                                    "batch was stored: retry, and check the disk",
                                    sqlite3_errmsg(ca_sql_handle(self->sql)));
        }
    }
    return NULL;
}

static void s_commit_batch(self_t *self, pending_write_t *writes, size_t count) {
    sqlite3 *db = ca_sql_handle(self->sql);
    if (self->error_state) {
        s_fail_all(writes, count, self->error_state);
        return;
    }
    bool durable = false;
    for (size_t i = 0; i < count; i++)
        durable |= writes[i].request->write->durable;
    bool raise_sync = durable && !self->config.synchronous_full;
    if (raise_sync)
        ca_sql_exec(self->sql, "PRAGMA synchronous=FULL");

    s_check_disk(self);
    if (ca_sql_run(self->sql, "BEGIN IMMEDIATE") != SQLITE_OK) {
        char *message = zsys_sprintf("cannot begin a transaction: %s", sqlite3_errmsg(db));
        s_fail_all(writes, count, message);
        zstr_free(&message);
    } else {
        char *aborted = NULL;
        for (size_t i = 0; i < count && !aborted; i++) {
            if (writes[i].request->write->vacuum)
                continue; //  after the commit, see s_run_vacuums
            const char *full =
                writes[i].request->write->frees_space ? NULL : s_over_watermark(self);
            if (full)
                s_fail(&writes[i], CA_UNAVAILABLE, full);
            else
                s_apply_write(self, &writes[i]);
            //  SQLite rolls the whole transaction back on some errors (disk
            //  full, I/O): then nothing of this batch will be stored.
            if (sqlite3_get_autocommit(db))
                aborted = zsys_sprintf("the transaction was aborted (%s); nothing in this "
                                       "batch was stored: retry, and check the disk",
                                       writes[i].error ? writes[i].error : sqlite3_errmsg(db));
        }
        if (!aborted)
            aborted = s_run_before_commit(self, writes, count);
        if (aborted && !sqlite3_get_autocommit(db))
            ca_sql_run(self->sql, "ROLLBACK"); //  a before_commit statement failed
        if (!aborted && ca_sql_run(self->sql, "COMMIT") != SQLITE_OK) {
            aborted = zsys_sprintf("commit failed (%s); nothing in this batch was stored: "
                                   "retry, and check the disk",
                                   sqlite3_errmsg(db));
            if (!sqlite3_get_autocommit(db))
                ca_sql_run(self->sql, "ROLLBACK");
            self->failed_commits++;
            ca_log_error("writer: %s", aborted);
            s_fail_all(writes, count, aborted);
            s_discard_wal_tail(self);
            s_recheck(self);
        } else if (aborted) {
            ca_log_error("writer: %s", aborted);
            s_fail_all(writes, count, aborted);
        } else
            self->batches++;
        zstr_free(&aborted);
    }
    if (raise_sync)
        ca_sql_exec(self->sql, "PRAGMA synchronous=NORMAL");
    s_run_vacuums(self, writes, count);
}

static void s_answer_stats(self_t *self, zmsg_t **msg_p) {
    Cairn__WriterInfo info = CAIRN__WRITER_INFO__INIT;
    info.batches = self->batches;
    info.writes = self->writes;
    info.mean_batch_size = self->batches ? (double)self->writes / (double)self->batches : 0;
    info.failed_writes = self->failed_writes;
    info.failed_commits = self->failed_commits;
    info.queue_depth = self->last_queue_depth;
    info.synchronous = self->config.synchronous_full ? "full" : "normal";
    Cairn__Internal__WriterResponse response = CAIRN__INTERNAL__WRITER_RESPONSE__INIT;
    response.body_case = CAIRN__INTERNAL__WRITER_RESPONSE__BODY_STATS;
    response.stats = &info;
    zframe_t *frame = ca_message_frame(&response.base);
    zmsg_append(*msg_p, &frame);
    zmsg_send(msg_p, self->router);
}

//  Takes one message off the socket; a write joins the batch, a stats
//  request is answered at once. Returns false when the socket is empty.
static bool s_receive_one(self_t *self, pending_write_t *batch, size_t *count) {
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return false;
    size_t frames = zmsg_size(msg);
    zframe_t *body =
        frames >= 2 && frames <= 2 + CA_WRITER_MAX_CONTEXT_FRAMES ? zmsg_last(msg) : NULL;
    Cairn__Internal__WriterRequest *request =
        body && self->arena
            ? cairn__internal__writer_request__unpack(ca_arena_allocator(self->arena),
                                                      zframe_size(body), zframe_data(body))
            : NULL;
    if (!request || request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY__NOT_SET) {
        //  Only actors of this process reach this socket: a bad message is a
        //  bug, logged loudly and dropped (the sender's layout is unknown).
        ca_log_error("writer: dropped a malformed message of %zu frames", frames);
        zmsg_destroy(&msg);
        return true;
    }
    zmsg_remove(msg, body);
    zframe_destroy(&body);
    if (request->body_case == CAIRN__INTERNAL__WRITER_REQUEST__BODY_STATS) {
        s_answer_stats(self, &msg);
        return true;
    }
    pending_write_t *write = &batch[(*count)++];
    memset(write, 0, sizeof *write);
    write->msg = msg;
    write->request = request;
    write->status = CA_OK;
    return true;
}

//  Drains the socket into one batch, commits it, answers every write.
static void s_handle_writes(self_t *self) {
    size_t capacity = self->config.batch_max;
    pending_write_t *batch = self->batch;
    size_t count = 0;
    while (count < capacity && s_receive_one(self, batch, &count))
        ;
    if (count > 0) {
        self->last_queue_depth = count;
        s_commit_batch(self, batch, count);
        self->writes += count;
        for (size_t i = 0; i < count; i++) {
            s_answer(self, &batch[i], count);
            s_pending_free(&batch[i]);
        }
    }
    ca_arena_reset(self->arena);
}

zframe_t *writer_stats_request(void) {
    Cairn__Internal__StatsRequest stats = CAIRN__INTERNAL__STATS_REQUEST__INIT;
    Cairn__Internal__WriterRequest request = CAIRN__INTERNAL__WRITER_REQUEST__INIT;
    request.body_case = CAIRN__INTERNAL__WRITER_REQUEST__BODY_STATS;
    request.stats = &stats;
    return ca_message_frame(&request.base);
}

//  ---- control pipe --------------------------------------------------------------

//  LIMITS [generation uint64][max_db_bytes int64][min_free_bytes int64]
//  (SIGHUP, node_reload): from the next write on; answers
//  [LIMITS][generation] once applied.
static void s_apply_limits(self_t *self) {
    uint64_t generation = 0;
    int64_t max_db_bytes = 0, min_free_bytes = 0;
    if (zsock_recv(self->pipe, "888", &generation, &max_db_bytes, &min_free_bytes) == 0) {
        self->config.max_db_bytes = max_db_bytes;
        self->config.min_free_bytes = min_free_bytes;
        if (self->sql)
            s_apply_db_cap(self);
    }
    zsock_send(self->pipe, "s8", "LIMITS", generation);
}

static void s_handle_pipe(self_t *self) {
    char *command = zstr_recv(self->pipe);
    if (!command) {
        self->terminated = true;
        return;
    }
    if (streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "START")) {
        char *error = s_start(self);
        ca_actor_reply_start(self->pipe, error);
        zstr_free(&error);
    } else if (streq(command, "LIMITS"))
        s_apply_limits(self);
    else
        ca_log_error("writer: unknown pipe command '%s'", command);
    zstr_free(&command);
}

void writer_actor(zsock_t *pipe, void *args) {
    self_t *self = s_self_new(pipe, (const writer_config_t *)args);
    pthread_setname_np(pthread_self(), "cairn-writer"); //  visible in top -H, perf
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait(self->poller, -1);
        if (which == self->pipe)
            s_handle_pipe(self);
        else if (which && which == self->router)
            s_handle_writes(self);
        else if (ca_actor_poll_failed(self->poller))
            break;
    }
    //  Whatever is still queued was sent before we were told to stop:
    //  commit and answer it rather than drop it.
    if (self->router)
        while (zsock_events(self->router) & ZMQ_POLLIN)
            s_handle_writes(self);
    s_self_destroy(&self);
}

//  ---- self-test ---------------------------------------------------------------
//
//  Drives the writer through its socket as a store would. Failures of the
//  disk are injected with a VFS shim ("cairn-faulty") that wraps SQLite's
//  default VFS and fails xSync / xRead when told to.

#include "ca_testbed.h"

#include <stdatomic.h>

static atomic_int s_fail_syncs; //  fail this many xSync calls
static atomic_int s_fail_reads; //  while set, every xRead fails
static sqlite3_vfs *s_real_vfs;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; //  follows this struct in the same allocation
} faulty_file_t;

#define REAL(file) (((faulty_file_t *)(file))->real)

static int s_f_close(sqlite3_file *f) {
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    return rc;
}
static int s_f_read(sqlite3_file *f, void *buffer, int amount, sqlite3_int64 offset) {
    if (atomic_load(&s_fail_reads))
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), buffer, amount, offset);
}
static int s_f_write(sqlite3_file *f, const void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(f)->pMethods->xWrite(REAL(f), buffer, amount, offset);
}
static int s_f_truncate(sqlite3_file *f, sqlite3_int64 size) {
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int s_f_sync(sqlite3_file *f, int flags) {
    if (atomic_load(&s_fail_syncs) > 0) {
        atomic_fetch_sub(&s_fail_syncs, 1);
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int s_f_size(sqlite3_file *f, sqlite3_int64 *size) {
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int s_f_lock(sqlite3_file *f, int level) {
    return REAL(f)->pMethods->xLock(REAL(f), level);
}
static int s_f_unlock(sqlite3_file *f, int level) {
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}
static int s_f_check_lock(sqlite3_file *f, int *out) {
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int s_f_control(sqlite3_file *f, int op, void *arg) {
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int s_f_sector(sqlite3_file *f) {
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int s_f_device(sqlite3_file *f) {
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int s_f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out) {
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}
static int s_f_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void s_f_shm_barrier(sqlite3_file *f) {
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int s_f_shm_unmap(sqlite3_file *f, int delete_flag) {
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}
static int s_f_fetch(sqlite3_file *f, sqlite3_int64 offset, int amount, void **out) {
    *out = NULL; //  no memory-mapped reads: every read goes through xRead
    return SQLITE_OK;
}
static int s_f_unfetch(sqlite3_file *f, sqlite3_int64 offset, void *page) {
    return SQLITE_OK;
}

static const sqlite3_io_methods s_faulty_methods = {
    3,           s_f_close,   s_f_read,     s_f_write,       s_f_truncate,  s_f_sync,
    s_f_size,    s_f_lock,    s_f_unlock,   s_f_check_lock,  s_f_control,   s_f_sector,
    s_f_device,  s_f_shm_map, s_f_shm_lock, s_f_shm_barrier, s_f_shm_unmap, s_f_fetch,
    s_f_unfetch,
};

static int s_faulty_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                         int *out_flags) {
    faulty_file_t *faulty = (faulty_file_t *)file;
    faulty->real = (sqlite3_file *)(faulty + 1);
    int rc = s_real_vfs->xOpen(s_real_vfs, name, faulty->real, flags, out_flags);
    faulty->base.pMethods = rc == SQLITE_OK ? &s_faulty_methods : NULL;
    return rc;
}

static sqlite3_vfs s_faulty_vfs;

static void s_register_faulty_vfs(void) {
    if (s_real_vfs)
        return;
    s_real_vfs = sqlite3_vfs_find(NULL);
    s_faulty_vfs = *s_real_vfs;
    s_faulty_vfs.zName = "cairn-faulty";
    s_faulty_vfs.szOsFile = (int)sizeof(faulty_file_t) + s_real_vfs->szOsFile;
    s_faulty_vfs.xOpen = s_faulty_open;
    s_faulty_vfs.pNext = NULL;
    sqlite3_vfs_register(&s_faulty_vfs, 0);
}

//  A writer on a temp dir with a test schema, and a DEALER to it.
typedef struct {
    char *dir;
    char *db_path;
    char *endpoint;
    const char *answers_endpoint; //  the writer's, NULL: none
    zactor_t *writer;
    zsock_t *store;
} bed_t;

static const char *const s_test_migrations[] = {
    "CREATE TABLE items (k TEXT PRIMARY KEY, v BLOB NOT NULL)",
    "ALTER TABLE items ADD COLUMN n INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX items_n ON items (n)",
};

static char *s_bed_start_writer(bed_t *bed, size_t migrations, int64_t max_db_bytes,
                                const char *vfs, bool full) {
    ca_schema_t schema = {"test", s_test_migrations, migrations};
    const ca_schema_t *schemas[] = {&schema};
    writer_config_t config = {.db_path = bed->db_path,
                              .vfs = vfs,
                              .endpoint = bed->endpoint,
                              .answers_endpoint = bed->answers_endpoint,
                              .synchronous_full = full,
                              .batch_max = 1000,
                              .max_db_bytes = max_db_bytes,
                              .schemas = schemas,
                              .schema_count = 1};
    bed->writer = zactor_new(writer_actor, &config);
    char *error = NULL;
    if (ca_actor_start(bed->writer, &error) != 0) {
        zsys_info("writer test: start refused: %s", error); //  some tests expect this
        zactor_destroy(&bed->writer);
        return error;
    }
    bed->store = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(bed->store, 0); //  tests queue thousands of writes at once
    zsock_set_rcvtimeo(bed->store, 10000);
    zsock_connect(bed->store, "%s", bed->endpoint);
    return NULL;
}

static void s_bed_stop_writer(bed_t *bed) {
    zsock_destroy(&bed->store);
    zactor_destroy(&bed->writer);
}

static bed_t *s_bed_new(int64_t max_db_bytes, const char *vfs, bool full) {
    bed_t *bed = (bed_t *)zmalloc(sizeof(bed_t));
    bed->dir = ca_test_tempdir("cairn-writer");
    bed->db_path = zsys_sprintf("%s/test.db", bed->dir);
    bed->endpoint = zsys_sprintf("inproc://writer-test-%p", (void *)bed);
    char *error = s_bed_start_writer(bed, 3, max_db_bytes, vfs, full);
    assert(!error);
    return bed;
}

static void s_bed_destroy(bed_t **bed_p) {
    bed_t *bed = *bed_p;
    s_bed_stop_writer(bed);
    ca_test_rmtree(bed->dir);
    zstr_free(&bed->dir);
    zstr_free(&bed->db_path);
    zstr_free(&bed->endpoint);
    free(bed);
    *bed_p = NULL;
}

//  Sends "INSERT k, v" with context frame `tag`.
static void s_send_insert(bed_t *bed, uint32_t tag, const char *key, const void *value,
                          size_t size) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "INSERT INTO items (k, v) VALUES (?1, ?2)",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL, NULL);
    ca_write_text(write, key);
    ca_write_blob(write, value, size);
    zframe_t *body = ca_write_frame(write);
    ca_write_destroy(&write);
    zframe_t *context = zframe_new(&tag, sizeof tag);
    zframe_t *frames[] = {context, body};
    int rc = ca_send_frames(bed->store, frames, 2);
    assert(rc == 0);
    zframe_destroy(&context);
    zframe_destroy(&body);
}

static void s_send_write(bed_t *bed, uint32_t tag, ca_write_t **write_p) {
    zframe_t *body = ca_write_frame(*write_p);
    ca_write_destroy(write_p);
    zframe_t *context = zframe_new(&tag, sizeof tag);
    zframe_t *frames[] = {context, body};
    int rc = ca_send_frames(bed->store, frames, 2);
    assert(rc == 0);
    zframe_destroy(&context);
    zframe_destroy(&body);
}

//  Receives one answer; *tag gets its context. Caller frees the reply.
static Cairn__Internal__WriterResponse *s_recv_answer(bed_t *bed, uint32_t *tag) {
    zmsg_t *msg = zmsg_recv(bed->store);
    assert(msg && zmsg_size(msg) == 2);
    zframe_t *context = zmsg_first(msg);
    assert(zframe_size(context) == sizeof *tag);
    memcpy(tag, zframe_data(context), sizeof *tag);
    zframe_t *body = zmsg_next(msg);
    Cairn__Internal__WriterResponse *response =
        cairn__internal__writer_response__unpack(NULL, zframe_size(body), zframe_data(body));
    assert(response);
    zmsg_destroy(&msg);
    return response;
}

static int64_t s_count_rows_opened(const char *db_path, ca_sql_mode_t mode) {
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(db_path, mode, NULL, &error);
    assert(sql);
    sqlite3_stmt *stmt = ca_sql_prepare(sql, "SELECT count(*) FROM items");
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    return count;
}

static int64_t s_count_rows(const char *db_path) {
    return s_count_rows_opened(db_path, CA_SQL_READ_ONLY);
}

static void s_copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert(in && out);
    char buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, in)) > 0)
        assert(fwrite(buffer, 1, got, out) == got);
    fclose(in);
    assert(fclose(out) == 0);
}

//  Rows a node would find after kill -9 now: cairn.db and its WAL as they
//  are on disk (not the shared-memory index), copied aside and opened
//  afresh, so SQLite recovers the WAL from the file alone.
static int64_t s_count_rows_after_crash(const char *db_path) {
    char *copy = zsys_sprintf("%s.crash", db_path);
    char *wal = zsys_sprintf("%s-wal", db_path), *copy_wal = zsys_sprintf("%s-wal", copy);
    s_copy_file(db_path, copy);
    if (access(wal, F_OK) == 0)
        s_copy_file(wal, copy_wal);
    int64_t count = s_count_rows_opened(copy, CA_SQL_READ_WRITE); //  recovery writes
    unlink(copy);
    unlink(copy_wal);
    char *shm = zsys_sprintf("%s-shm", copy);
    unlink(shm);
    zstr_free(&shm);
    zstr_free(&copy);
    zstr_free(&wal);
    zstr_free(&copy_wal);
    return count;
}

static Cairn__WriterInfo *s_stats(bed_t *bed, Cairn__Internal__WriterResponse **holder) {
    zframe_t *body = writer_stats_request();
    uint32_t tag = 0xffffffff;
    zframe_t *context = zframe_new(&tag, sizeof tag);
    zframe_t *frames[] = {context, body};
    ca_send_frames(bed->store, frames, 2);
    zframe_destroy(&context);
    zframe_destroy(&body);
    *holder = s_recv_answer(bed, &tag);
    assert(tag == 0xffffffff &&
           (*holder)->body_case == CAIRN__INTERNAL__WRITER_RESPONSE__BODY_STATS);
    return (*holder)->stats;
}

//  101 writes queued while another connection holds the write lock commit
//  in at most two transactions; the one duplicate fails alone.
static void s_test_batch_and_savepoints(void) {
    bed_t *bed = s_bed_new(0, NULL, false);
    char *error = NULL;
    ca_sql_t *blocker = ca_sql_open(bed->db_path, CA_SQL_READ_WRITE, NULL, &error);
    assert(blocker && ca_sql_exec(blocker, "BEGIN IMMEDIATE") == SQLITE_OK);
    char key[32];
    for (uint32_t i = 0; i <= 100; i++) {
        snprintf(key, sizeof key, "k%u", i == 50 ? 1 : i); //  #50 repeats #1's key
        s_send_insert(bed, i, key, "v", 1);
    }
    assert(ca_sql_exec(blocker, "COMMIT") == SQLITE_OK);
    ca_sql_destroy(&blocker);
    uint64_t batch_of_50 = 0;
    for (int n = 0; n <= 100; n++) {
        uint32_t tag;
        Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
        assert(response->body_case == CAIRN__INTERNAL__WRITER_RESPONSE__BODY_WRITE);
        if (tag == 50) {
            assert(response->write->status == CA_CONFLICT);
            assert(strstr(response->write->error, "UNIQUE"));
            batch_of_50 = response->write->batch_size;
        } else
            assert(response->write->status == CA_OK && response->write->n_results == 1);
        cairn__internal__writer_response__free_unpacked(response, NULL);
    }
    assert(batch_of_50 > 1); //  it failed inside a batch, alone
    Cairn__Internal__WriterResponse *holder;
    Cairn__WriterInfo *info = s_stats(bed, &holder);
    assert(info->batches <= 2 && info->writes == 101 && info->failed_writes == 1);
    assert(info->mean_batch_size >= 50.0);
    cairn__internal__writer_response__free_unpacked(holder, NULL);
    assert(s_count_rows(bed->db_path) == 100);
    s_bed_destroy(&bed);
}

//  Expectations, returned rows, bad SQL, multi-statement atomicity.
static void s_test_statements(void) {
    bed_t *bed = s_bed_new(0, NULL, false);
    s_send_insert(bed, 1, "a", "1", 1);
    //  Second statement misses its expectation: the first is undone too.
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "INSERT INTO items (k, v) VALUES ('b', x'00')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_statement(write, "UPDATE items SET v = x'01' WHERE k = 'zzz'",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       "no item zzz: create it first");
    s_send_write(bed, 2, &write);
    //  Rows come back when asked for.
    write = ca_write_new();
    ca_write_statement(write, "SELECT k, v, 7, 2.5, NULL FROM items WHERE k = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS, CA_NOT_FOUND, "none");
    ca_write_want_rows(write);
    ca_write_text(write, "a");
    s_send_write(bed, 3, &write);
    //  SQL that does not compile.
    write = ca_write_new();
    ca_write_statement(write, "INSERT INTO nowhere VALUES (1)", CAIRN__INTERNAL__EXPECT__EXPECT_ANY,
                       CA_OK, NULL);
    s_send_write(bed, 4, &write);
    //  EXPECT_NO_ROWS failing.
    write = ca_write_new();
    ca_write_statement(write, "SELECT 1 FROM items WHERE k = 'a'",
                       CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS, CA_CONFLICT, "a exists");
    s_send_write(bed, 5, &write);
    //  A lone statement with no expectation runs without a savepoint: when
    //  it fails (duplicate key), SQLite undoes it alone.
    write = ca_write_new();
    ca_write_statement(write, "INSERT INTO items (k, v) VALUES ('a', x'02')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    s_send_write(bed, 6, &write);
    write = ca_write_new();
    ca_write_statement(write, "INSERT INTO items (k, v) VALUES ('c', x'03')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    s_send_write(bed, 7, &write);
    for (int n = 0; n < 7; n++) {
        uint32_t tag;
        Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
        Cairn__Internal__WriteReply *reply = response->write;
        if (tag == 1)
            assert(reply->status == CA_OK && reply->results[0]->changes == 1);
        else if (tag == 2)
            assert(reply->status == CA_NOT_FOUND &&
                   streq(reply->error, "no item zzz: create it first"));
        else if (tag == 3) {
            assert(reply->status == CA_OK && reply->n_results == 1);
            Cairn__Internal__StatementResult *result = reply->results[0];
            assert(result->n_rows == 1 && result->rows[0]->n_values == 5);
            Cairn__Internal__SqlValue **values = result->rows[0]->values;
            assert(streq(values[0]->text, "a"));
            assert(values[1]->blob.len == 1 && values[1]->blob.data[0] == '1');
            assert(values[2]->integer == 7 && values[3]->real == 2.5);
            assert(values[4]->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_NULL);
        } else if (tag == 4)
            assert(reply->status == CA_INVALID && strstr(reply->error, "no such table"));
        else if (tag == 5)
            assert(reply->status == CA_CONFLICT);
        else if (tag == 6)
            assert(reply->status == CA_CONFLICT && reply->n_results == 0);
        else
            assert(tag == 7 && reply->status == CA_OK && reply->results[0]->changes == 1);
        cairn__internal__writer_response__free_unpacked(response, NULL);
    }
    //  'b' was rolled back with its write; 'a' kept its value; 'c' was added.
    assert(s_count_rows(bed->db_path) == 2);
    s_bed_destroy(&bed);
}

//  Writes queued when the writer is told to stop are committed, not dropped.
static void s_test_flush_on_shutdown(void) {
    bed_t *bed = s_bed_new(0, NULL, false);
    char key[32];
    for (uint32_t i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "flush%u", i);
        s_send_insert(bed, i, key, "v", 1);
    }
    zactor_destroy(&bed->writer); //  $TERM right behind the writes
    assert(s_count_rows(bed->db_path) == 500);
    s_bed_destroy(&bed);
}

//  Migrations run in order, once; a newer database is refused.
static void s_test_schema_upgrades(void) {
    bed_t *bed = s_bed_new(0, NULL, false);
    s_bed_stop_writer(bed);
    ca_test_rmtree(bed->dir);
    assert(zsys_dir_create("%s", bed->dir) == 0);
    char *error = s_bed_start_writer(bed, 1, 0, NULL, false);
    assert(!error);
    s_bed_stop_writer(bed);
    //  Upgrade to 3: column and index exist, version recorded.
    error = s_bed_start_writer(bed, 3, 0, NULL, false);
    assert(!error);
    s_bed_stop_writer(bed);
    ca_sql_t *sql = ca_sql_open(bed->db_path, CA_SQL_READ_ONLY, NULL, &error);
    char value[32];
    assert(ca_sql_pragma_text(sql, "SELECT version FROM schema_version WHERE store = 'test'", value,
                              sizeof value) &&
           streq(value, "3"));
    assert(ca_sql_pragma_text(sql,
                              "SELECT count(*) FROM pragma_index_list('items') "
                              "WHERE name = 'items_n'",
                              value, sizeof value) &&
           streq(value, "1"));
    ca_sql_destroy(&sql);
    //  Restarting at 3 runs nothing again (the ALTER would fail if it did).
    error = s_bed_start_writer(bed, 3, 0, NULL, false);
    assert(!error);
    s_bed_stop_writer(bed);
    //  A cairnd that knows only 2 refuses a version-3 database.
    error = s_bed_start_writer(bed, 2, 0, NULL, false);
    assert(error && strstr(error, "version 3") && strstr(error, "newer cairnd"));
    zstr_free(&error);
    //  s_bed_destroy expects a running writer.
    error = s_bed_start_writer(bed, 3, 0, NULL, false);
    assert(!error);
    s_bed_destroy(&bed);
}

//  Disk full (max_db_bytes): a write past the cap fails with SQLite's
//  message, the writer keeps serving.
static void s_test_disk_full(void) {
    bed_t *bed = s_bed_new(1024 * 1024, NULL, false);
    size_t size = 1024 * 1024;
    uint8_t *big = (uint8_t *)zmalloc(size);
    s_send_insert(bed, 1, "big", big, size);
    s_send_insert(bed, 2, "small", "s", 1);
    uint32_t tag;
    Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
    assert(tag == 1 && response->write->status == CA_INTERNAL);
    assert(strstr(response->write->error, "full"));
    cairn__internal__writer_response__free_unpacked(response, NULL);
    response = s_recv_answer(bed, &tag);
    assert(tag == 2);
    //  The small write may have shared the aborted batch; then it says so.
    bool stored = response->write->status == CA_OK;
    if (!stored)
        assert(strstr(response->write->error, "nothing in this batch"));
    cairn__internal__writer_response__free_unpacked(response, NULL);
    s_send_insert(bed, 3, "after", "a", 1);
    response = s_recv_answer(bed, &tag);
    assert(tag == 3 && response->write->status == CA_OK);
    cairn__internal__writer_response__free_unpacked(response, NULL);
    assert(s_count_rows(bed->db_path) == (stored ? 2 : 1));
    free(big);
    s_bed_destroy(&bed);
}

//  The reserve: ordinary writes stop at max_db_bytes less the reserve
//  (UNAVAILABLE, before they run, the batch unharmed); a write that frees
//  space still runs, and ordinary writes resume in the pages it freed.
static void s_test_reserve(void) {
    bed_t *bed = s_bed_new(1024 * 1024, NULL, false); //  reserve: 256 KiB
    size_t size = 100 * 1024;
    uint8_t *blob = (uint8_t *)zmalloc(size);
    uint32_t tag = 0, refused_at = 0;
    char key[16];
    for (uint32_t n = 1; n <= 12 && !refused_at; n++) {
        snprintf(key, sizeof key, "k%u", n);
        s_send_insert(bed, n, key, blob, size);
        Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
        assert(tag == n);
        if (response->write->status != CA_OK) {
            assert(response->write->status == CA_UNAVAILABLE);
            assert(strstr(response->write->error, "the node is full"));
            refused_at = n;
        }
        cairn__internal__writer_response__free_unpacked(response, NULL);
    }
    //  Below 1 MiB less 256 KiB: 7 or 8 rows of 100 KiB, never the 10th.
    assert(refused_at >= 7 && refused_at <= 9);
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM items WHERE k IN ('k1', 'k2', 'k3')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_SOME_CHANGE, CA_INTERNAL, NULL);
    ca_write_frees_space(write);
    s_send_write(bed, 100, &write);
    Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
    assert(tag == 100 && response->write->status == CA_OK);
    cairn__internal__writer_response__free_unpacked(response, NULL);
    s_send_insert(bed, 101, "again", blob, size);
    response = s_recv_answer(bed, &tag);
    assert(tag == 101 && response->write->status == CA_OK);
    cairn__internal__writer_response__free_unpacked(response, NULL);
    free(blob);
    s_bed_destroy(&bed);
}

//  A failed COMMIT (fsync error) fails the whole batch, is not retried,
//  and after a passing check the writer goes on; when the check itself
//  fails, the writer refuses writes from then on.
static void s_test_failed_commit(void) {
    s_register_faulty_vfs();
    bed_t *bed = s_bed_new(0, "cairn-faulty", true);
    s_send_insert(bed, 1, "before", "b", 1);
    uint32_t tag;
    Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
    assert(response->write->status == CA_OK);
    cairn__internal__writer_response__free_unpacked(response, NULL);

    atomic_store(&s_fail_syncs, 1);
    s_send_insert(bed, 2, "lost", "l", 1);
    response = s_recv_answer(bed, &tag);
    assert(tag == 2 && response->write->status == CA_INTERNAL);
    assert(strstr(response->write->error, "commit failed"));
    cairn__internal__writer_response__free_unpacked(response, NULL);
    //  Answered as failed, so a crash now must not bring it back: the WAL
    //  on disk holds nothing of it that recovery would replay.
    assert(s_count_rows_after_crash(bed->db_path) == 1);

    s_send_insert(bed, 3, "after", "a", 1);
    response = s_recv_answer(bed, &tag);
    assert(tag == 3 && response->write->status == CA_OK);
    cairn__internal__writer_response__free_unpacked(response, NULL);

    //  Commit fails and the check after it cannot read: error state.
    atomic_store(&s_fail_syncs, 1);
    atomic_store(&s_fail_reads, 1);
    s_send_insert(bed, 4, "lost2", "l", 1);
    response = s_recv_answer(bed, &tag);
    assert(tag == 4 && response->write->status == CA_INTERNAL);
    cairn__internal__writer_response__free_unpacked(response, NULL);
    atomic_store(&s_fail_reads, 0);
    s_send_insert(bed, 5, "refused", "r", 1);
    response = s_recv_answer(bed, &tag);
    assert(tag == 5 && response->write->status == CA_INTERNAL);
    assert(strstr(response->write->error, "stopped taking writes"));
    cairn__internal__writer_response__free_unpacked(response, NULL);
    Cairn__Internal__WriterResponse *holder;
    Cairn__WriterInfo *info = s_stats(bed, &holder);
    assert(info->failed_commits == 2);
    cairn__internal__writer_response__free_unpacked(holder, NULL);
    s_bed_stop_writer(bed);
    //  What was acknowledged is there; what failed is not.
    assert(s_count_rows(bed->db_path) == 2);
    char *error = s_bed_start_writer(bed, 3, 0, NULL, false);
    assert(!error);
    s_bed_destroy(&bed);
}

//  VACUUM runs after its batch commits and reports the space it gave back.
static void s_test_vacuum(void) {
    bed_t *bed = s_bed_new(0, NULL, false);
    uint8_t value[1024] = {0};
    char key[32];
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "v%u", i);
        s_send_insert(bed, i, key, value, sizeof value);
    }
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, "DELETE FROM items", CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK,
                       NULL);
    s_send_write(bed, 5000, &write);
    write = ca_write_new();
    ca_write_vacuum(write);
    s_send_write(bed, 5001, &write);
    s_send_insert(bed, 5002, "kept", "k", 1); //  may share the vacuum's batch
    uint64_t before = 0, after = 0;
    for (int n = 0; n < 2003; n++) {
        uint32_t tag;
        Cairn__Internal__WriterResponse *response = s_recv_answer(bed, &tag);
        assert(response->write->status == CA_OK);
        if (tag == 5001) {
            before = response->write->bytes_before;
            after = response->write->bytes_after;
        }
        cairn__internal__writer_response__free_unpacked(response, NULL);
    }
    assert(before > 2000 * 1024 && after < before / 4);
    assert(s_count_rows(bed->db_path) == 1);
    s_bed_destroy(&bed);
}

//  Sends an INSERT OR IGNORE of `key` carrying `answers` packed answers
//  ("seen", then "added") after the context [gateway id][client id][request].
static void s_send_answered(bed_t *bed, const char *key, uint32_t answers, bool to_gateway,
                            bool plain_insert) {
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       plain_insert ? "INSERT INTO items (k, v) VALUES (?1, 'v')"
                                    : "INSERT OR IGNORE INTO items (k, v) VALUES (?1, 'v')",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_text(write, key);
    ca_write_answers(write, answers, 0, to_gateway);
    zframe_t *body = ca_write_frame(write);
    ca_write_destroy(&write);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "Ggw-id");
    zmsg_addstr(msg, "client");
    zmsg_addstr(msg, "request");
    zmsg_addstr(msg, "seen");
    if (answers == 2)
        zmsg_addstr(msg, "added");
    zmsg_append(msg, &body);
    int rc = zmsg_send(&msg, bed->store);
    assert(rc == 0);
}

//  The next message on `socket`, which must have `frames` frames.
static zmsg_t *s_recv_frames(zsock_t *socket, size_t frames) {
    zmsg_t *msg = zmsg_recv(socket);
    assert(msg && zmsg_size(msg) == frames);
    return msg;
}

static void s_expect_frame(zmsg_t *msg, const char *text) {
    char *got = zmsg_popstr(msg);
    assert(got && streq(got, text));
    zstr_free(&got);
}

//  Writes that carry their answers (WriteRequest.answers): after COMMIT the
//  writer sends the gateway the answer the outcome picked, and nothing to
//  the store; a failed one goes to the store without its answers; one not
//  meant for the gateway goes to the store with the picked answer.
static void s_test_answers(void) {
    bed_t *bed = (bed_t *)zmalloc(sizeof(bed_t));
    bed->dir = ca_test_tempdir("cairn-writer");
    bed->db_path = zsys_sprintf("%s/test.db", bed->dir);
    bed->endpoint = zsys_sprintf("inproc://writer-test-%p", (void *)bed);
    char *answers_endpoint = zsys_sprintf("inproc://writer-test-answers-%p", (void *)bed);
    zsock_t *gateway = zsock_new(ZMQ_PULL);
    zsock_set_rcvtimeo(gateway, 10000);
    int rc = zsock_bind(gateway, "%s", answers_endpoint);
    assert(rc == 0);
    bed->answers_endpoint = answers_endpoint;
    char *error = s_bed_start_writer(bed, 3, 0, NULL, false);
    assert(!error);

    s_send_answered(bed, "x", 2, true, false); //  new: "added"
    zmsg_t *msg = s_recv_frames(gateway, 3);
    s_expect_frame(msg, "Ggw-id");
    s_expect_frame(msg, "client");
    s_expect_frame(msg, "added");
    zmsg_destroy(&msg);
    assert(s_count_rows(bed->db_path) == 1);   //  answered after COMMIT
    s_send_answered(bed, "x", 2, true, false); //  ignored: "seen"
    msg = s_recv_frames(gateway, 3);
    zframe_t *last = zmsg_last(msg);
    assert(zframe_streq(last, "seen"));
    zmsg_destroy(&msg);

    //  A failed write comes back to the store, without its answers.
    s_send_answered(bed, "x", 1, true, true);
    msg = s_recv_frames(bed->store, 4);
    s_expect_frame(msg, "Ggw-id");
    s_expect_frame(msg, "client");
    s_expect_frame(msg, "request");
    zframe_t *body = zmsg_first(msg);
    Cairn__Internal__WriterResponse *response =
        cairn__internal__writer_response__unpack(NULL, zframe_size(body), zframe_data(body));
    assert(response && response->write->status == CA_CONFLICT);
    cairn__internal__writer_response__free_unpacked(response, NULL);
    zmsg_destroy(&msg);

    //  Not for the gateway: the store gets the picked answer before the reply.
    s_send_answered(bed, "y", 2, false, false);
    msg = s_recv_frames(bed->store, 5);
    zframe_t *answer = zmsg_first(msg);
    for (int i = 0; i < 3; i++)
        answer = zmsg_next(msg);
    assert(zframe_streq(answer, "added"));
    zmsg_destroy(&msg);
    assert(zsock_events(gateway) == 0 || !(zsock_events(gateway) & ZMQ_POLLIN));

    s_bed_stop_writer(bed);
    zsock_destroy(&gateway);
    zstr_free(&answers_endpoint);
    ca_test_rmtree(bed->dir);
    zstr_free(&bed->dir);
    zstr_free(&bed->db_path);
    zstr_free(&bed->endpoint);
    free(bed);
}

void writer_test(bool verbose) {
    if (verbose)
        printf(" * writer: ");
    s_test_batch_and_savepoints();
    s_test_statements();
    s_test_flush_on_shutdown();
    s_test_schema_upgrades();
    s_test_disk_full();
    s_test_reserve();
    s_test_failed_commit();
    s_test_vacuum();
    s_test_answers();
    if (verbose)
        printf("OK\n");
}

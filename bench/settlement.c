/*  =========================================================================
    settlement - cairn-bench's settlement-queue cases: SettleEnqueue and
    SettleTotal against raw SQLite running the store's own SQL

    The question: how fast are SettleEnqueue and SettleTotal next
    to raw SQLite doing the same SQL (settlement.h defines it once, for
    the store and for this file).

    The raw database is a fresh one beside the node's temp dirs, with
    settlement_schema's tables and indexes (made by its own migrations),
    WAL and synchronous=FULL (the node commits every settlement write
    durably). Distribution n: payment id n big-endian then 'd's, recipient
    "bench-recipient-<n % SETTLE_RECIPIENTS>", amount n % 1000 + 1, a fixed
    source hash, queued_at now. Both sides number their distributions
    from 1 and never repeat one.

        sqlite.settle_total    the store's SettleTotal statement (SELECT
                               amount ... WHERE batch_id IS NULL), stepped
                               and added in C with an overflow check, as
                               the worker does, over SETTLE_TOTAL_ROWS
                               pending rows
        node.settle_total      SettleTotal (all recipients) over the same
                               rows, at most TOTAL_WINDOW outstanding;
                               every answer's total and count must be the
                               expected ones
        sqlite.settle_enqueue.tx1000
                               the store's INSERT ... ON CONFLICT DO
                               NOTHING, prepared, 1000 rows per
                               transaction
        node.settle_enqueue.pipelined
                               SettleEnqueue of distinct distributions,
                               --window outstanding; every answer must say
                               created

    The total cases run first (in table order), each filling its side
    with rows 1..SETTLE_TOTAL_ROWS untimed, so both sum exactly the same
    pending rows; the enqueue cases then add rows after those.
    ========================================================================= */

#include "bench.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "settlement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_RECIPIENTS 16
#define SETTLE_TOTAL_ROWS 20000
#define TOTAL_WINDOW      16 //  node.settle_total: at most this many outstanding
#define RAW_BATCH         CA_DEFAULT_WRITER_BATCH
#define SETUP_SECONDS     600.0 //  bound of an untimed fill, never reached

struct _bench_settlement_t {
    char *raw_dir;
    sqlite3 *raw;
    uint64_t raw_rows;  //  distributions 1..raw_rows are in the raw database
    uint64_t node_rows; //  and 1..node_rows in the node's
};

//  The settlement cases' state, made on first use.
static bench_settlement_t *s_settlement(bench_t *bench) {
    if (!bench->settlement) {
        bench->settlement = (bench_settlement_t *)calloc(1, sizeof(bench_settlement_t));
        assert(bench->settlement);
    }
    return bench->settlement;
}

//  ---- settlement: raw SQLite ------------------------------------------------------------

//  Distribution n's fields.
static uint64_t s_amount(uint64_t n) {
    return n % 1000 + 1;
}

static void s_recipient(char *recipient, size_t size, uint64_t n) {
    snprintf(recipient, size, "bench-recipient-%" PRIu64, n % SETTLE_RECIPIENTS);
}

static double s_now(void) {
    return (double)zclock_time() / 1000.0;
}

static uint64_t s_expected_total(uint64_t rows) {
    uint64_t total = 0;
    for (uint64_t n = 1; n <= rows; n++)
        total += s_amount(n);
    return total;
}

//  The raw database (settlement_schema, WAL, synchronous=FULL), made on
//  first use; NULL after saying why.
static sqlite3 *s_raw(bench_settlement_t *self) {
    if (self->raw)
        return self->raw;
    self->raw_dir = ca_test_tempdir("cairn-bench-settle");
    sqlite3 *db = bench_sqlite_open_schema(self->raw_dir, &settlement_schema);
    int rc = db ? bench_sqlite_exec(db, "PRAGMA synchronous=FULL") : -1;
    sqlite3_stmt *stmt = NULL;
    if (rc == 0 && (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &stmt, NULL) != SQLITE_OK ||
                    sqlite3_step(stmt) != SQLITE_ROW || sqlite3_column_int(stmt, 0) != 2))
        rc = bench_fail("sqlite", "synchronous=FULL did not apply");
    sqlite3_finalize(stmt);
    if (rc != 0) {
        sqlite3_close(db);
        return NULL;
    }
    self->raw = db;
    return db;
}

typedef struct {
    bench_settlement_t *self;
    sqlite3_stmt *insert;
} enqueue_rows_t;

//  Inserts distributions first..first+count-1; each must be created.
static int s_enqueue_rows(void *context, uint64_t first, uint64_t count) {
    enqueue_rows_t *rows = (enqueue_rows_t *)context;
    sqlite3 *db = rows->self->raw;
    uint8_t source[32];
    memset(source, 's', sizeof source);
    for (uint64_t n = first; n < first + count; n++) {
        uint8_t payment_id[32];
        char recipient[48];
        bench_id32(payment_id, n, 'd');
        s_recipient(recipient, sizeof recipient, n);
        sqlite3_bind_blob(rows->insert, 1, payment_id, sizeof payment_id, SQLITE_TRANSIENT);
        sqlite3_bind_text(rows->insert, 2, recipient, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(rows->insert, 3, (sqlite3_int64)s_amount(n));
        sqlite3_bind_blob(rows->insert, 4, source, sizeof source, SQLITE_STATIC);
        sqlite3_bind_double(rows->insert, 5, s_now());
        int rc = sqlite3_step(rows->insert);
        bool created = sqlite3_changes(db) == 1;
        sqlite3_reset(rows->insert);
        if (rc != SQLITE_DONE || !created)
            return bench_fail("sqlite", "INSERT of distribution %" PRIu64 ": %s", n,
                              rc != SQLITE_DONE ? sqlite3_errmsg(db) : "not created");
    }
    return 0;
}

static sqlite3_stmt *s_raw_insert(bench_settlement_t *self) {
    sqlite3_stmt *insert = NULL;
    if (bench_sqlite_prepare(self->raw, settlement_sql_enqueue, &insert) != 0) {
        sqlite3_finalize(insert);
        return NULL;
    }
    return insert;
}

static int s_run_sqlite_settle_enqueue(bench_t *bench, result_t *result) {
    bench_settlement_t *self = s_settlement(bench);
    enqueue_rows_t rows = {self, s_raw(self) ? s_raw_insert(self) : NULL};
    int rc = rows.insert ? bench_sqlite_batches(bench, result, self->raw, RAW_BATCH, s_enqueue_rows,
                                                &rows, self->raw_rows + 1)
                         : -1;
    self->raw_rows += result->ok;
    sqlite3_finalize(rows.insert);
    return rc;
}

//  The raw side filled to SETTLE_TOTAL_ROWS (untimed); -1 after saying why.
static int s_raw_fill(bench_settlement_t *self) {
    if (self->raw_rows > 0)
        return self->raw_rows == SETTLE_TOTAL_ROWS
                   ? 0
                   : bench_fail("sqlite.settle_total",
                                "the raw queue holds %" PRIu64
                                " rows already; the total cases run before the enqueue cases",
                                self->raw_rows);
    enqueue_rows_t rows = {self, s_raw(self) ? s_raw_insert(self) : NULL};
    int rc = rows.insert ? 0 : -1;
    while (rc == 0 && self->raw_rows < SETTLE_TOTAL_ROWS) {
        uint64_t count = SETTLE_TOTAL_ROWS - self->raw_rows;
        count = count < RAW_BATCH ? count : RAW_BATCH;
        rc = bench_sqlite_transaction(self->raw, s_enqueue_rows, &rows, self->raw_rows + 1, count);
        if (rc == 0)
            self->raw_rows += count;
    }
    sqlite3_finalize(rows.insert);
    return rc;
}

static int s_run_sqlite_settle_total(bench_t *bench, result_t *result) {
    const char *name = "sqlite.settle_total";
    bench_settlement_t *self = s_settlement(bench);
    if (s_raw_fill(self) != 0)
        return -1;
    uint64_t expected = s_expected_total(SETTLE_TOTAL_ROWS);
    sqlite3_stmt *stmt = NULL;
    int rc = bench_sqlite_prepare(self->raw, settlement_sql_pending_amounts, &stmt);
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t total = 0, count = 0;
        bool overflow = false;
        int step;
        while (!overflow && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
            overflow =
                __builtin_add_overflow(total, (uint64_t)sqlite3_column_int64(stmt, 0), &total);
            count++;
        }
        sqlite3_reset(stmt);
        if (overflow || step != SQLITE_DONE || total != expected || count != SETTLE_TOTAL_ROWS)
            rc = bench_fail(name,
                            "the sum is %" PRIu64 " of %" PRIu64 " rows; wanted %" PRIu64 " of %d",
                            total, count, expected, SETTLE_TOTAL_ROWS);
        else
            result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(stmt);
    return rc;
}

//  ---- settlement: the node ----------------------------------------------------------------

typedef struct {
    uint64_t first; //  request id k enqueues distribution first + k
} enqueue_t;

static int s_enqueue_send(void *handle, uint64_t id, void *context) {
    enqueue_t *enqueue = (enqueue_t *)context;
    uint64_t n = enqueue->first + id;
    uint8_t payment_id[32], source[32];
    char recipient[48];
    bench_id32(payment_id, n, 'd');
    memset(source, 's', sizeof source);
    s_recipient(recipient, sizeof recipient, n);
    Cairn__Distribution distribution;
    ca_request_distribution(&distribution, payment_id, sizeof payment_id, recipient, s_amount(n),
                            source, sizeof source, 0);
    Cairn__Request request;
    Cairn__SettleEnqueue settle;
    ca_request_settle_enqueue(&request, &settle, id, &distribution);
    return bench_send_request(handle, &request);
}

static int s_enqueue_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                            result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_SETTLE_ENQUEUE ||
                                   !response->settle_enqueue->created)) {
        bench_first_error(result, "distribution %" PRIu64 " was not created", *id);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_enqueue_wire = {s_enqueue_send, s_enqueue_decode};

static int s_run_node_settle_enqueue(bench_t *bench, result_t *result) {
    bench_settlement_t *self = s_settlement(bench);
    enqueue_t enqueue = {self->node_rows};
    int rc = bench_run_node(bench, result, "node.settle_enqueue.pipelined", &s_enqueue_wire,
                            &enqueue, bench->window);
    self->node_rows += result->ok;
    return rc;
}

//  The node filled to SETTLE_TOTAL_ROWS (untimed); -1 after saying why.
static int s_node_fill(bench_t *bench, bench_settlement_t *self) {
    if (self->node_rows > 0)
        return self->node_rows == SETTLE_TOTAL_ROWS
                   ? 0
                   : bench_fail("node.settle_total",
                                "the node's queue holds %" PRIu64
                                " rows already; the total cases run before the enqueue cases",
                                self->node_rows);
    harness_node_t *node = bench_node(bench);
    if (!node)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    result_t fill = {0};
    enqueue_t enqueue = {0};
    int rc = bench_drive_for(SETUP_SECONDS, SETTLE_TOTAL_ROWS, "node.settle_total (fill)", client,
                             &s_enqueue_wire, &enqueue, bench->window, &fill);
    zsock_destroy(&client);
    self->node_rows = fill.ok;
    if (rc == 0 && fill.ok != SETTLE_TOTAL_ROWS)
        rc = bench_fail("node.settle_total", "%" PRIu64 " of %d distributions enqueued: %s",
                        fill.ok, SETTLE_TOTAL_ROWS, fill.first_error);
    if (rc == 0)
        printf("node.settle_total: %d distributions enqueued in %.2f s, untimed\n",
               SETTLE_TOTAL_ROWS, fill.seconds);
    return rc;
}

static int s_total_send(void *handle, uint64_t id, void *context) {
    Cairn__Request request;
    Cairn__SettleTotal total;
    ca_request_settle_total(&request, &total, id, NULL);
    return bench_send_request(handle, &request);
}

static int s_total_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context) {
    const uint64_t *expected = (const uint64_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_SETTLE_TOTAL ||
                                   response->settle_total->total != *expected ||
                                   response->settle_total->count != SETTLE_TOTAL_ROWS)) {
        bench_first_error(result, "total %" PRIu64 ": not %" PRIu64 " of %d rows", *id, *expected,
                          SETTLE_TOTAL_ROWS);
        *outcome = OUTCOME_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_total_wire = {s_total_send, s_total_decode};

static int s_run_node_settle_total(bench_t *bench, result_t *result) {
    bench_settlement_t *self = s_settlement(bench);
    if (s_node_fill(bench, self) != 0)
        return -1;
    uint64_t expected = s_expected_total(SETTLE_TOTAL_ROWS);
    int window = bench->window < TOTAL_WINDOW ? bench->window : TOTAL_WINDOW;
    return bench_run_node(bench, result, "node.settle_total", &s_total_wire, &expected, window);
}

static void s_destroy(bench_t *bench) {
    bench_settlement_t *self = bench->settlement;
    if (!self)
        return;
    sqlite3_close(self->raw);
    if (self->raw_dir)
        ca_test_rmtree(self->raw_dir);
    zstr_free(&self->raw_dir);
    free(self);
    bench->settlement = NULL;
}

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "sqlite.settle_total",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_settle_total,
     .what = "the settlement store's pending-total SELECT, summed in C, over 20,000 rows"},
    {.name = "node.settle_total",
     .kind = KIND_NODE,
     .run = s_run_node_settle_total,
     .versus = {"sqlite.settle_total"},
     .what = "cairnd SettleTotal over the same 20,000 pending rows, 16 outstanding"},
    {.name = "sqlite.settle_enqueue.tx1000",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_settle_enqueue,
     .what = "the settlement store's INSERT, 1000 per transaction, synchronous=FULL"},
    {.name = "node.settle_enqueue.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_settle_enqueue,
     .versus = {"sqlite.settle_enqueue.tx1000"},
     .what = "cairnd SettleEnqueue of distinct distributions (durable), a window"},
};

const bench_area_t bench_settlement_area = BENCH_AREA(s_cases, NULL, s_destroy);

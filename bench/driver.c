/*  =========================================================================
    cairn-bench - how fast is the node, measured against what it is built on

        cairn-bench [--seconds N] [--window N] [--cases LIST] [--max-ops N]
                    [--page-messages N] [--prov-nodes N] [--list]

    One run measures the baselines (raw SQLite with the writer's pragmas, raw
    ZeroMQ DEALER/ROUTER over loopback tcp, raw crypto and files) and then a
    real cairnd doing the same kind of work through its wire API, and prints
    ops/s (MB/s for payload) for each case and the node/baseline ratios. The
    machine this runs on is shared and noisy, so absolute numbers move
    between runs; the ratios, measured seconds apart on the same machine,
    are what to compare (RESULTS.md keeps them).

    This file is the driver: options, which cases run, running them, the
    request/answer loop every socket case uses, raw SQLite and the node.
    The cases are rows exported by one file per area of the node, named
    after its store, which says what its cases measure and why; s_areas
    below lists the areas, and a new area adds one line there. --cases
    takes whole names or their first dot-separated parts
    ("raw.sha256_sodium" runs every size, "node" every node case); rows
    marked optional run only when named in full. --list prints the names,
    --help what each measures.

    What counts: only OK responses are completed ops (payload cases also
    count their bytes, for MB/s); BUSY and other errors are counted apart.
    Every request id must be answered exactly once: an unknown or repeated
    id, an undecodable response or a request still unanswered after
    STALL_TIMEOUT_MS fails the run (exit 1). The node is a child process
    started through tests/harness.h in a temp dir (the CAIRND environment
    variable selects another binary) and stopped with SIGTERM at the end;
    an exit status other than 0 fails the run.

    Every loop is bounded by time (--seconds, then at most STALL_TIMEOUT_MS
    per answer while draining) and by count (--max-ops, --window).
    ========================================================================= */

#include "bench.h"
#include "ca_limits.h"
#include "ca_testbed.h"
#include "report.h"

#include <czmq.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SECONDS 2.0
#define DEFAULT_WINDOW  1000
#define DEFAULT_MAX_OPS 100000000ULL //  per case; a count bound beside the time bound
#define MAX_SECONDS     3600.0
#define MAX_WINDOW      1000000
#define REQUEST_BUFFER  1024 //  bytes; requests up to this size are packed on the stack

//  ---- what every case uses --------------------------------------------------------

bool bench_go_on(const bench_t *bench, const result_t *result, int64_t deadline) {
    return !zsys_interrupted && result->ok < bench->max_ops && zclock_usecs() < deadline;
}

int bench_fail(const char *name, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "cairn-bench: FAIL %s: ", name);
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    va_end(args);
    return -1;
}

//  ---- answered-exactly-once check ------------------------------------------------
//  Ids are sent as 1, 2, 3, ...; a bitmap marks the answered ones.

void bench_tracker_sent(tracker_t *tracker, uint64_t id) {
    uint64_t need = id / 64 + 1;
    if (need > tracker->words) {
        uint64_t words = tracker->words ? tracker->words * 2 : 1024;
        while (words < need)
            words *= 2;
        tracker->bits = (uint64_t *)realloc(tracker->bits, words * sizeof(uint64_t));
        assert(tracker->bits);
        memset(tracker->bits + tracker->words, 0, (words - tracker->words) * sizeof(uint64_t));
        tracker->words = words;
    }
    tracker->sent = id;
}

//  Marks `id` answered. -1 (after saying why) when it was never sent or
//  was answered before.
int bench_tracker_answer(tracker_t *tracker, const char *name, uint64_t id) {
    if (id == 0 || id > tracker->sent)
        return bench_fail(name,
                          "answer for id %" PRIu64 ", which was never sent (last sent %" PRIu64 ")",
                          id, tracker->sent);
    uint64_t mask = 1ULL << (id % 64);
    if (tracker->bits[id / 64] & mask)
        return bench_fail(name, "id %" PRIu64 " was answered twice", id);
    tracker->bits[id / 64] |= mask;
    tracker->answered++;
    return 0;
}

//  -1 (after naming the first missing id) unless every sent id was answered.
int bench_tracker_check(const tracker_t *tracker, const char *name) {
    if (tracker->answered == tracker->sent)
        return 0;
    uint64_t missing = 0;
    for (uint64_t id = 1; id <= tracker->sent && !missing; id++)
        if (!(tracker->bits[id / 64] & (1ULL << (id % 64))))
            missing = id;
    return bench_fail(name,
                      "%" PRIu64 " of %" PRIu64 " requests unanswered (first: id %" PRIu64 ")",
                      tracker->sent - tracker->answered, tracker->sent, missing);
}

void bench_tracker_free(tracker_t *tracker) {
    free(tracker->bits);
    memset(tracker, 0, sizeof *tracker);
}

//  ---- baseline: raw SQLite ------------------------------------------------------

int bench_sqlite_exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) == SQLITE_OK)
        return 0;
    bench_fail("sqlite", "'%s': %s", sql, error ? error : sqlite3_errmsg(db));
    sqlite3_free(error);
    return -1;
}

//  Sets a pragma and reads it back, as the writer does.
static int s_sqlite_pragma(sqlite3 *db, const char *set, const char *get, const char *expected) {
    if (bench_sqlite_exec(db, set) != 0)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, get, -1, &stmt, NULL);
    bool applied = rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
                   streq((const char *)sqlite3_column_text(stmt, 0), expected);
    sqlite3_finalize(stmt);
    return applied ? 0 : bench_fail("sqlite", "'%s' did not apply", set);
}

sqlite3 *bench_sqlite_open(const char *dir) {
    char *path = zsys_sprintf("%s/%s", dir, CA_DB_FILE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    zstr_free(&path);
    if (rc != SQLITE_OK ||
        s_sqlite_pragma(db, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode", "wal") != 0 ||
        s_sqlite_pragma(db, "PRAGMA synchronous=NORMAL", "PRAGMA synchronous", "1") != 0 ||
        s_sqlite_pragma(db, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1") != 0) {
        if (rc != SQLITE_OK)
            bench_fail("sqlite", "cannot open a database in %s: %s", dir, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *bench_sqlite_open_schema(const char *dir, const ca_schema_t *schema) {
    sqlite3 *db = bench_sqlite_open(dir);
    if (db)
        ca_sql_register(db); //  migrations and stores' SQL use them, as on ca_sql_open's
    size_t from = 0, to = 0;
    char *error = db ? ca_schema_migrate(db, schema, &from, &to) : NULL;
    if (error) {
        bench_fail("sqlite", "%s", error);
        zstr_free(&error);
        sqlite3_close(db);
        db = NULL;
    }
    return db;
}

int bench_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) == SQLITE_OK)
        return 0;
    return bench_fail("sqlite", "'%s': %s", sql, sqlite3_errmsg(db));
}

int bench_sqlite_step(sqlite3 *db, sqlite3_stmt *stmt, const char *what) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : bench_fail("sqlite", "%s: %s", what, sqlite3_errmsg(db));
}

int bench_sqlite_transaction(sqlite3 *db, bench_rows_fn *rows, void *context, uint64_t first,
                             uint64_t count) {
    if (bench_sqlite_exec(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    if (rows(context, first, count) == 0)
        return bench_sqlite_exec(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int bench_sqlite_batches(bench_t *bench, result_t *result, sqlite3 *db, uint64_t batch,
                         bench_rows_fn *rows, void *context, uint64_t first) {
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t count = bench->max_ops - result->ok;
        count = count < batch ? count : batch;
        rc = bench_sqlite_transaction(db, rows, context, first + result->ok, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return rc;
}

//  ---- the request/answer driver ----------------------------------------------------
//  One loop drives every socket case: it keeps up to `window` requests
//  outstanding (window 1 is a plain round trip), until the time or the
//  count runs out, then collects the answers still owed.

int bench_receive(void *handle, const wire_t *wire, void *context, tracker_t *tracker,
                  const char *name, int flags, result_t *result) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, handle, flags) < 0) {
        int error = zmq_errno();
        zmq_msg_close(&msg);
        if (error == EAGAIN && flags == ZMQ_DONTWAIT)
            return 1;
        if (error == EAGAIN)
            return bench_fail(name, "no answer within %d ms (%" PRIu64 " of %" PRIu64 " answered)",
                              STALL_TIMEOUT_MS, tracker->answered, tracker->sent);
        return bench_fail(name, "receive: %s", zmq_strerror(error));
    }
    uint64_t id = 0;
    outcome_t outcome = OUTCOME_ERROR;
    int rc = wire->decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &id, &outcome, result, context);
    zmq_msg_close(&msg);
    if (rc != 0)
        return bench_fail(name, "undecodable answer after %" PRIu64 " answers", tracker->answered);
    if (bench_tracker_answer(tracker, name, id) != 0)
        return -1;
    if (outcome == OUTCOME_OK)
        result->ok++;
    else if (outcome == OUTCOME_BUSY)
        result->busy++;
    else
        result->errors++;
    return 0;
}

//  Receives one answer (blocking), then every answer already waiting.
static int s_receive_some(void *handle, const wire_t *wire, void *context, tracker_t *tracker,
                          const char *name, uint64_t *outstanding, result_t *result) {
    int rc = bench_receive(handle, wire, context, tracker, name, 0, result);
    while (rc == 0) {
        (*outstanding)--;
        rc = *outstanding > 0
                 ? bench_receive(handle, wire, context, tracker, name, ZMQ_DONTWAIT, result)
                 : 1;
    }
    return rc < 0 ? -1 : 0;
}

int bench_drive(bench_t *bench, const char *name, zsock_t *client, const wire_t *wire,
                void *context, int window, result_t *result) {
    return bench_drive_for(bench->seconds, bench->max_ops, name, client, wire, context, window,
                           result);
}

int bench_drive_for(double seconds, uint64_t max_ops, const char *name, zsock_t *client,
                    const wire_t *wire, void *context, int window, result_t *result) {
    void *handle = zsock_resolve(client);
    zsock_set_rcvtimeo(client, STALL_TIMEOUT_MS);
    tracker_t tracker = {0};
    uint64_t outstanding = 0;
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(seconds * 1e6);
    while (rc == 0) {
        bool may_send = !zsys_interrupted && tracker.sent < max_ops && zclock_usecs() < deadline;
        if (!may_send && outstanding == 0)
            break;
        while (may_send && rc == 0 && outstanding < (uint64_t)window && tracker.sent < max_ops) {
            rc = wire->send(handle, tracker.sent + 1, context);
            if (rc == 0) {
                bench_tracker_sent(&tracker, tracker.sent + 1);
                outstanding++;
            } else
                bench_fail(name, "send: %s", zmq_strerror(zmq_errno()));
        }
        if (rc == 0)
            rc = s_receive_some(handle, wire, context, &tracker, name, &outstanding, result);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0)
        rc = bench_tracker_check(&tracker, name);
    bench_tracker_free(&tracker);
    return rc;
}

//  ---- the node: a real cairnd ------------------------------------------------------

//  The node, started on first use; NULL (after saying why) if it failed.
harness_node_t *bench_node(bench_t *bench) {
    if (!bench->node) {
        //  With an identity: payments (ledger cases) are signed for its peer id.
        bench->node = harness_node_up_identity(NULL);
    }
    return bench->node;
}

int bench_pair_up(bench_pair_t *pair, const char *name) {
    memset(pair, 0, sizeof *pair);
    int port_a = harness_free_port(), port_b = harness_free_port();
    char endpoint_a[64], endpoint_b[64], boot[256];
    snprintf(endpoint_a, sizeof endpoint_a, "--peer-endpoint=tcp://127.0.0.1:%d", port_a);
    snprintf(endpoint_b, sizeof endpoint_b, "--peer-endpoint=tcp://127.0.0.1:%d", port_b);
    const char *args_a[] = {endpoint_a, NULL};
    pair->a = harness_node_up_identity(args_a);
    if (!pair->a)
        return bench_fail(name, "node A did not start");
    snprintf(boot, sizeof boot, "--bootstrap-peers=%s@127.0.0.1:%d", harness_node_peer_id(pair->a),
             port_a);
    const char *args_b[] = {endpoint_b, boot, NULL};
    pair->b = harness_node_up_identity(args_b);
    pair->client_a = harness_connect(harness_node_endpoint(pair->a));
    pair->client_b = pair->b ? harness_connect(harness_node_endpoint(pair->b)) : NULL;
    return pair->b ? 0 : bench_fail(name, "node B did not start");
}

int bench_pair_down(bench_pair_t *pair, const char *name, int rc) {
    zsock_destroy(&pair->client_a);
    zsock_destroy(&pair->client_b);
    if (pair->b && harness_node_stop(pair->b) != 0 && rc == 0)
        rc = bench_fail(name, "node B did not stop cleanly");
    if (pair->a && harness_node_stop(pair->a) != 0 && rc == 0)
        rc = bench_fail(name, "node A did not stop cleanly");
    harness_node_destroy(&pair->b);
    harness_node_destroy(&pair->a);
    return rc;
}

//  Small requests are packed on the stack and copied by zmq_send; larger
//  ones (content) are packed straight into the message libzmq sends.
int bench_send_request(void *handle, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    if (size <= REQUEST_BUFFER) {
        uint8_t buffer[REQUEST_BUFFER];
        cairn__request__pack(request, buffer);
        return zmq_send(handle, buffer, size, 0) == (int)size ? 0 : -1;
    }
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, size) != 0)
        return -1;
    cairn__request__pack(request, (uint8_t *)zmq_msg_data(&msg));
    if (zmq_msg_send(&msg, handle, 0) == (int)size)
        return 0;
    zmq_msg_close(&msg);
    return -1;
}

void bench_first_error(result_t *result, const char *format, ...) {
    if (result->first_error[0])
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(result->first_error, sizeof result->first_error, format, args);
    va_end(args);
}

//  The outcome of any cairn Response: OK, BUSY or another status.
outcome_t bench_response_outcome(const Cairn__Response *response, result_t *result) {
    if (response->status == CAIRN__STATUS__OK)
        return OUTCOME_OK;
    bench_first_error(result, "status %d: %s", (int)response->status,
                      response->error ? response->error : "");
    return response->status == CAIRN__STATUS__BUSY ? OUTCOME_BUSY : OUTCOME_ERROR;
}

int bench_response_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

int bench_run_node(bench_t *bench, result_t *result, const char *name, const wire_t *wire,
                   void *context, int window) {
    harness_node_t *node = bench_node(bench);
    if (!node)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    int rc = bench_drive(bench, name, client, wire, context, window, result);
    zsock_destroy(&client);
    return rc;
}

void bench_print_node_info(bench_t *bench) {
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    Cairn__InfoRequest info = CAIRN__INFO_REQUEST__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = 1;
    request.body_case = CAIRN__REQUEST__BODY_INFO;
    request.info = &info;
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    if (response && response->status == CAIRN__STATUS__OK && response->info &&
        response->info->writer) {
        const Cairn__WriterInfo *writer = response->info->writer;
        printf("node writer: %" PRIu64 " batches, %" PRIu64 " writes, mean batch %.1f, "
               "synchronous %s\n",
               writer->batches, writer->writes, writer->mean_batch_size, writer->synchronous);
    } else
        printf("node writer: Info did not answer\n");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
}

//  ---- latency -----------------------------------------------------------------------

void bench_latency_add(latencies_t *latencies, int64_t us) {
    if (latencies->count == latencies->capacity) {
        latencies->capacity = latencies->capacity ? latencies->capacity * 2 : 4096;
        latencies->us = (uint32_t *)realloc(latencies->us, latencies->capacity * sizeof(uint32_t));
        assert(latencies->us);
    }
    latencies->us[latencies->count++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int s_compare_us(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

//  The nearest-rank percentile of sorted latencies.
static double s_percentile(const latencies_t *latencies, double percent) {
    size_t rank = (size_t)(percent / 100.0 * (double)latencies->count + 0.999999);
    rank = rank < 1 ? 1 : rank > latencies->count ? latencies->count : rank;
    return latencies->us[rank - 1];
}

void bench_latency_finish(latencies_t *latencies, result_t *result) {
    if (latencies->count) {
        qsort(latencies->us, latencies->count, sizeof(uint32_t), s_compare_us);
        result->latency = true;
        result->p50_us = s_percentile(latencies, 50);
        result->p99_us = s_percentile(latencies, 99);
    }
    free(latencies->us);
    memset(latencies, 0, sizeof *latencies);
}

uint64_t bench_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void bench_id32(uint8_t id[32], uint64_t n, uint8_t fill) {
    memset(id, fill, 32);
    for (int i = 0; i < 8; i++)
        id[i] = (uint8_t)(n >> (56 - 8 * i));
}

const uint8_t *bench_pattern(bench_t *bench, size_t size) {
    if (size > bench->pattern_size) {
        //  Grown in whole 8-byte words; every word is bench_mix of its index,
        //  so a longer pattern starts with the shorter one.
        size_t words = (size + 7) / 8;
        uint8_t *pattern = (uint8_t *)realloc(bench->pattern, words * 8);
        assert(pattern);
        for (size_t word = bench->pattern_size / 8; word < words; word++) {
            uint64_t value = bench_mix(word);
            memcpy(pattern + word * 8, &value, 8);
        }
        bench->pattern = pattern;
        bench->pattern_size = words * 8;
    }
    return bench->pattern;
}

//  ---- the cases: every area's rows, in one list --------------------------------------

//  The areas in the order they run; a new area adds its line here.
static const bench_area_t *const s_areas[] = {
    &bench_hash_area,       &bench_wire_area,   &bench_messages_area,   &bench_content_area,
    &bench_provenance_area, &bench_ledger_area, &bench_settlement_area, &bench_scaling_area,
    &bench_oplog_area,      &bench_sync_area,
};

#define AREA_COUNT (sizeof s_areas / sizeof s_areas[0])

//  Every area's rows, in run order; `selected` and `results` run beside
//  them.
typedef struct {
    const bench_case_t **rows;
    size_t count;
    bool *selected;
    result_t *results;
} table_t;

static void s_table_new(table_t *table) {
    memset(table, 0, sizeof *table);
    for (size_t a = 0; a < AREA_COUNT; a++)
        table->count += s_areas[a]->count;
    table->rows = (const bench_case_t **)calloc(table->count, sizeof *table->rows);
    table->selected = (bool *)calloc(table->count, sizeof *table->selected);
    table->results = (result_t *)calloc(table->count, sizeof *table->results);
    assert(table->rows && table->selected && table->results);
    size_t i = 0;
    for (size_t a = 0; a < AREA_COUNT; a++)
        for (size_t c = 0; c < s_areas[a]->count; c++)
            table->rows[i++] = &s_areas[a]->cases[c];
}

static void s_table_free(table_t *table) {
    free(table->rows);
    free(table->selected);
    free(table->results);
    memset(table, 0, sizeof *table);
}

//  Whether `item` of a --cases list names `row`: its whole name, or its
//  first dot-separated parts ("raw.sha256_sodium" names every size),
//  except for an optional case, which is named in full only.
static bool s_case_named(const bench_case_t *row, const char *item) {
    size_t length = strlen(item);
    if (row->optional || strncmp(row->name, item, length) != 0)
        return streq(row->name, item);
    return row->name[length] == '\0' || row->name[length] == '.';
}

//  Marks the cases named in `list` (when NULL: all but the optional ones);
//  -1 on a name that names no case.
static int s_select_cases(table_t *table, const char *list) {
    for (size_t i = 0; i < table->count; i++)
        table->selected[i] = list == NULL && !table->rows[i]->optional;
    if (!list)
        return 0;
    char *copy = strdup(list);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < table->count; i++)
            if (s_case_named(table->rows[i], item))
                table->selected[i] = found = true;
        if (!found) {
            fprintf(stderr, "cairn-bench: unknown case '%s'; see cairn-bench --list\n", item);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

//  Tells each area which of its cases were selected.
static void s_tell_areas(bench_t *bench, const table_t *table) {
    size_t i = 0;
    for (size_t a = 0; a < AREA_COUNT; a++)
        for (size_t c = 0; c < s_areas[a]->count; c++, i++)
            if (table->selected[i] && s_areas[a]->selected)
                s_areas[a]->selected(bench, table->rows[i]);
}

//  Runs the selected cases in table order; stops at the first failure.
static int s_run_cases(bench_t *bench, table_t *table) {
    for (size_t i = 0; i < table->count; i++) {
        if (!table->selected[i])
            continue;
        const bench_case_t *row = table->rows[i];
        result_t *result = &table->results[i];
        if (zsys_interrupted)
            return bench_fail(row->name, "interrupted");
        int rc =
            row->sized ? row->sized(bench, result, row->name, row->size) : row->run(bench, result);
        if (rc == 0 && result->skipped) {
            printf("skip %-30s %s\n", row->name, result->note);
            fflush(stdout);
            continue;
        }
        result->ran = rc == 0;
        if (rc == 0)
            report_done(row, result);
        if (rc == 0 && result->ok == 0)
            rc = bench_fail(row->name, "no operation completed OK");
        if (rc != 0)
            return -1;
    }
    return 0;
}

//  ---- options and main ----------------------------------------------------------------

static void s_usage(FILE *out, const table_t *table) {
    fprintf(out,
            "usage: cairn-bench [--seconds N] [--window N] [--cases LIST] [--max-ops N]\n"
            "                   [--page-messages N] [--prov-nodes N] [--list]\n\n"
            "  --seconds N        length of each case in seconds (default %.0f; fractions "
            "allowed)\n"
            "  --window N         requests outstanding in pipelined cases (default %d)\n"
            "  --cases LIST       comma-separated cases below, or the first dot-separated\n"
            "                     parts of their names (raw.sha256_sodium: every size);\n"
            "                     default: all but the optional ones, which run only\n"
            "                     when named in full\n"
            "  --max-ops N        at most N operations per case (default %llu)\n"
            "  --page-messages N  messages in the channel the msg_page cases read (default "
            "%llu,\n"
            "                     at least %llu); filled once per run, untimed\n"
            "  --prov-nodes N     nodes of the DAG the prov cases build (default %llu,\n"
            "                     ~4 edges each; at least %llu)\n"
            "  --list             print the case names, one a line, and exit\n"
            "  --help             print this help and exit\n\n"
            "The node is the cairnd the bench was built with; CAIRND=PATH selects another.\n"
            "Cases:\n",
            DEFAULT_SECONDS, DEFAULT_WINDOW, (unsigned long long)DEFAULT_MAX_OPS,
            (unsigned long long)BENCH_PAGE_DEFAULT_MESSAGES,
            (unsigned long long)BENCH_PAGE_MIN_MESSAGES,
            (unsigned long long)BENCH_PROV_DEFAULT_NODES, (unsigned long long)BENCH_PROV_MIN_NODES);
    for (size_t i = 0; i < table->count; i++)
        fprintf(out, "  %-27s %-8s %s\n", table->rows[i]->name,
                report_kind_name(table->rows[i]->kind), table->rows[i]->what);
}

//  --list: the case names, the optional ones marked.
static void s_list(const table_t *table) {
    for (size_t i = 0; i < table->count; i++)
        printf("%s%s\n", table->rows[i]->name, table->rows[i]->optional ? " (optional)" : "");
}

//  The command line as typed, arguments with shell-special characters quoted.
static char *s_command_line(int argc, char **argv) {
    char *line = strdup("");
    for (int i = 0; i < argc; i++) {
        bool quote = argv[i][0] == '\0' || argv[i][strcspn(argv[i], " \t'\"$\\*?;&|<>()")];
        char *next = zsys_sprintf(quote ? "%s%s'%s'" : "%s%s%s", line, i ? " " : "", argv[i]);
        free(line);
        line = next;
    }
    return line;
}

//  Parses optarg as an integer in [min, max] into *count; -1 (after saying
//  so) when it is not one.
static int s_parse_count(const char *option, uint64_t min, uint64_t max, uint64_t *count) {
    char *end = NULL;
    unsigned long long value = strtoull(optarg, &end, 10);
    if (*end || optarg[0] == '-' || optarg[0] == '\0' || value < min || value > max) {
        fprintf(stderr, "cairn-bench: %s wants an integer in [%" PRIu64 ", %" PRIu64 "]\n", option,
                min, max);
        return -1;
    }
    *count = value;
    return 0;
}

//  Parses the options into `bench`: 0 to run, 1 after --help or --list, -1
//  on error.
static int s_parse_options(bench_t *bench, const table_t *table, int argc, char **argv) {
    enum {
        OPT_SECONDS = 1,
        OPT_WINDOW,
        OPT_CASES,
        OPT_MAX_OPS,
        OPT_PAGE_MESSAGES,
        OPT_PROV_NODES,
        OPT_LIST,
        OPT_HELP
    };
    static const struct option options[] = {
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"cases", required_argument, NULL, OPT_CASES},
        {"max-ops", required_argument, NULL, OPT_MAX_OPS},
        {"page-messages", required_argument, NULL, OPT_PAGE_MESSAGES},
        {"prov-nodes", required_argument, NULL, OPT_PROV_NODES},
        {"list", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end = NULL;
        if (opt == OPT_SECONDS) {
            bench->seconds = strtod(optarg, &end);
            if (*end || !(bench->seconds > 0 && bench->seconds <= MAX_SECONDS)) {
                fprintf(stderr, "cairn-bench: --seconds wants a number in (0, %.0f]\n",
                        MAX_SECONDS);
                return -1;
            }
        } else if (opt == OPT_WINDOW) {
            long window = strtol(optarg, &end, 10);
            if (*end || window < 1 || window > MAX_WINDOW) {
                fprintf(stderr, "cairn-bench: --window wants an integer in [1, %d]\n", MAX_WINDOW);
                return -1;
            }
            bench->window = (int)window;
        } else if (opt == OPT_CASES) {
            free(bench->cases);
            bench->cases = strdup(optarg);
        } else if (opt == OPT_MAX_OPS) {
            unsigned long long max = strtoull(optarg, &end, 10);
            if (*end || max < 1 || optarg[0] == '-') {
                fprintf(stderr, "cairn-bench: --max-ops wants a positive integer\n");
                return -1;
            }
            bench->max_ops = max;
        } else if (opt == OPT_PAGE_MESSAGES) {
            if (s_parse_count("--page-messages", BENCH_PAGE_MIN_MESSAGES, BENCH_PAGE_MAX_MESSAGES,
                              &bench->page_messages) != 0)
                return -1;
        } else if (opt == OPT_PROV_NODES) {
            if (s_parse_count("--prov-nodes", BENCH_PROV_MIN_NODES, BENCH_PROV_MAX_NODES,
                              &bench->prov_nodes) != 0)
                return -1;
        } else if (opt == OPT_LIST) {
            s_list(table);
            return 1;
        } else if (opt == OPT_HELP) {
            s_usage(stdout, table);
            return 1;
        } else {
            fprintf(stderr, "cairn-bench: see cairn-bench --help\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cairn-bench: unexpected argument '%s'; see cairn-bench --help\n",
                argv[optind]);
        return -1;
    }
    return 0;
}

//  Stops the node, if one was started; -1 unless it exited with status 0.
static int s_stop_node(bench_t *bench) {
    if (!bench->node)
        return 0;
    if (harness_node_pid(bench->node) <= 0) { //  stopped for a fill that failed (said why)
        harness_node_destroy(&bench->node);
        return 0;
    }
    bench_print_node_info(bench);
    bench_print_node_memory(bench, "at the end of the run");
    int status = harness_node_stop(bench->node);
    harness_node_destroy(&bench->node);
    if (status != 0)
        return bench_fail("node", "cairnd exited with status %d (log printed above)", status);
    printf("node stopped: exit status 0\n");
    return 0;
}

static void s_bench_destroy(bench_t *bench) {
    for (size_t a = 0; a < AREA_COUNT; a++)
        if (s_areas[a]->destroy)
            s_areas[a]->destroy(bench);
    harness_node_destroy(&bench->node);
    free(bench->pattern);
    free(bench->cases);
    free(bench->command_line);
}

int main(int argc, char **argv) {
    bench_t bench = {.seconds = DEFAULT_SECONDS,
                     .window = DEFAULT_WINDOW,
                     .max_ops = DEFAULT_MAX_OPS,
                     .page_messages = BENCH_PAGE_DEFAULT_MESSAGES,
                     .prov_nodes = BENCH_PROV_DEFAULT_NODES,
                     .command_line = s_command_line(argc, argv)};
    table_t table;
    s_table_new(&table);
    int parsed = s_parse_options(&bench, &table, argc, argv);
    if (parsed == 0 && s_select_cases(&table, bench.cases) != 0)
        parsed = -1;
    if (parsed != 0) {
        s_table_free(&table);
        s_bench_destroy(&bench);
        return parsed > 0 ? 0 : 2;
    }
    zsys_init();
    s_tell_areas(&bench, &table);
    report_header(&bench);
    int rc = s_run_cases(&bench, &table);
    if (s_stop_node(&bench) != 0)
        rc = -1;
    report_results(table.rows, table.results, table.count);
    report_ratios(table.rows, table.results, table.count);
    s_table_free(&table);
    s_bench_destroy(&bench);
    if (rc != 0)
        fprintf(stderr, "cairn-bench: FAILED (see above)\n");
    return rc == 0 ? 0 : 1;
}

/*  =========================================================================
    cairn-bench - how fast is the node, measured against what it is built on

        cairn-bench [--seconds N] [--window N] [--cases LIST] [--max-ops N]

    One run measures the baselines (raw SQLite with the writer's pragmas, raw
    ZeroMQ DEALER/ROUTER over loopback tcp) and then a real cairnd doing the
    same kind of work through its wire API, and prints ops/s for each case
    and the node/baseline ratios. The machine this runs on is shared and
    noisy, so absolute numbers move between runs; the ratios, measured
    seconds apart on the same machine, are what to compare.

    Cases (one row each in s_cases; a later store adds its rows there):

        sqlite.insert.tx1000   raw SQLite: prepared INSERT of a config-like
                               row, 1000 rows per transaction (the writer's
                               default batch); WAL, synchronous=NORMAL,
                               foreign_keys=ON, as the writer sets them
        zmq.rtt                raw DEALER -> ROUTER echo thread -> DEALER,
                               one request at a time
        zmq.pipelined          the same with --window requests outstanding
        node.ping.rtt          Ping to cairnd, one at a time
        node.ping.pipelined    Ping with --window outstanding (gateway hop)
        node.config_set.pipelined
                               ConfigSet of distinct keys with --window
                               outstanding (gateway -> store worker ->
                               writer group commit -> answer)

    What counts: only OK responses are completed ops; BUSY and other errors
    are counted apart. Every request id must be answered exactly once: an
    unknown or repeated id, an undecodable response or a request still
    unanswered after STALL_TIMEOUT_MS fails the run (exit 1). The node is a
    child process started through tests/harness.h in a temp dir (the
    CAIRND environment variable selects another binary) and stopped with
    SIGTERM at the end; an exit status other than 0 fails the run.

    Every loop is bounded by time (--seconds, then at most STALL_TIMEOUT_MS
    per answer while draining) and by count (--max-ops, --window).
    ========================================================================= */

#include "harness.h"
#include "ca_limits.h"
#include "ca_testbed.h"

#include <czmq.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SECONDS  2.0
#define DEFAULT_WINDOW   1000
#define DEFAULT_MAX_OPS  100000000ULL //  per case; a count bound beside the time bound
#define MAX_SECONDS      3600.0
#define MAX_WINDOW       1000000
#define STALL_TIMEOUT_MS 10000 //  a request unanswered this long fails the case
#define SQLITE_BATCH     CA_DEFAULT_WRITER_BATCH
#define ECHO_BURST       CA_SERVE_BURST //  echo thread: messages per poll
#define MAX_VERSUS       2
#define REQUEST_BUFFER   256 //  bytes; a packed bench request is far smaller
#define BENCH_KEY_FMT    "bench/%010" PRIu64
#define BENCH_KEY_SIZE   32
#define BENCH_VALUE      "cairn-bench-value-0123456789abcdef"

//  ---- run state, options and results -------------------------------------------

typedef struct {
    double seconds;
    int window;
    uint64_t max_ops;
    char *cases;        //  comma-separated selection, NULL for all
    char *command_line; //  as typed, for the report
    harness_node_t *node;
    zactor_t *echo;
    char *echo_endpoint;
} bench_t;

typedef struct {
    bool ran;
    uint64_t ok;
    uint64_t busy;
    uint64_t errors; //  any status other than OK and BUSY
    double seconds;  //  first send to last answer
    char first_error[160];
} result_t;

typedef enum { KIND_BASELINE, KIND_NODE } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    int (*run)(bench_t *bench, result_t *result); //  0, or -1 after saying why
    const char *versus[MAX_VERSUS];               //  baselines its ratio is taken to
    const char *what;
} bench_case_t;

static const char *s_kind_name(kind_t kind) {
    return kind == KIND_NODE ? "node" : "baseline";
}

static double s_ops_per_second(const result_t *result) {
    return result->seconds > 0 ? (double)result->ok / result->seconds : 0;
}

static int s_fail(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));

//  Prints why a case failed; returns -1 for the caller to pass on.
static int s_fail(const char *name, const char *format, ...) {
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

typedef struct {
    uint64_t *bits;
    uint64_t words;
    uint64_t sent;
    uint64_t answered;
} tracker_t;

static void s_tracker_sent(tracker_t *tracker, uint64_t id) {
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
static int s_tracker_answer(tracker_t *tracker, const char *name, uint64_t id) {
    if (id == 0 || id > tracker->sent)
        return s_fail(name,
                      "answer for id %" PRIu64 ", which was never sent (last sent %" PRIu64 ")", id,
                      tracker->sent);
    uint64_t mask = 1ULL << (id % 64);
    if (tracker->bits[id / 64] & mask)
        return s_fail(name, "id %" PRIu64 " was answered twice", id);
    tracker->bits[id / 64] |= mask;
    tracker->answered++;
    return 0;
}

//  -1 (after naming the first missing id) unless every sent id was answered.
static int s_tracker_check(const tracker_t *tracker, const char *name) {
    if (tracker->answered == tracker->sent)
        return 0;
    uint64_t missing = 0;
    for (uint64_t id = 1; id <= tracker->sent && !missing; id++)
        if (!(tracker->bits[id / 64] & (1ULL << (id % 64))))
            missing = id;
    return s_fail(name, "%" PRIu64 " of %" PRIu64 " requests unanswered (first: id %" PRIu64 ")",
                  tracker->sent - tracker->answered, tracker->sent, missing);
}

static void s_tracker_free(tracker_t *tracker) {
    free(tracker->bits);
    memset(tracker, 0, sizeof *tracker);
}

//  ---- baseline: raw SQLite ------------------------------------------------------

//  Runs `sql`; -1 (after saying why) on error.
static int s_sqlite_exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) == SQLITE_OK)
        return 0;
    s_fail("sqlite", "'%s': %s", sql, error ? error : sqlite3_errmsg(db));
    sqlite3_free(error);
    return -1;
}

//  Sets a pragma and reads it back, as the writer does.
static int s_sqlite_pragma(sqlite3 *db, const char *set, const char *get, const char *expected) {
    if (s_sqlite_exec(db, set) != 0)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, get, -1, &stmt, NULL);
    bool applied = rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
                   streq((const char *)sqlite3_column_text(stmt, 0), expected);
    sqlite3_finalize(stmt);
    return applied ? 0 : s_fail("sqlite", "'%s' did not apply", set);
}

//  Opens a fresh database in `dir` with the writer's pragmas and the
//  config store's table. NULL after saying why.
static sqlite3 *s_sqlite_open(const char *dir) {
    char *path = zsys_sprintf("%s/%s", dir, CA_DB_FILE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    zstr_free(&path);
    if (rc != SQLITE_OK ||
        s_sqlite_pragma(db, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode", "wal") != 0 ||
        s_sqlite_pragma(db, "PRAGMA synchronous=NORMAL", "PRAGMA synchronous", "1") != 0 ||
        s_sqlite_pragma(db, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1") != 0 ||
        s_sqlite_exec(db, "CREATE TABLE config (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
                          " updated_at INTEGER NOT NULL) WITHOUT ROWID") != 0) {
        if (rc != SQLITE_OK)
            s_fail("sqlite", "cannot open a database in %s: %s", dir, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

//  Inserts `count` rows from key number `first` in one transaction.
static int s_sqlite_batch(sqlite3 *db, sqlite3_stmt *insert, uint64_t first, uint64_t count) {
    if (s_sqlite_exec(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (uint64_t n = first; n < first + count; n++) {
        char key[BENCH_KEY_SIZE];
        snprintf(key, sizeof key, BENCH_KEY_FMT, n);
        sqlite3_bind_text(insert, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(insert, 2, BENCH_VALUE, sizeof BENCH_VALUE - 1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 3, (sqlite3_int64)time(NULL));
        int rc = sqlite3_step(insert);
        sqlite3_reset(insert);
        if (rc != SQLITE_DONE) {
            s_fail("sqlite", "INSERT: %s", sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return s_sqlite_exec(db, "COMMIT");
}

static int s_run_sqlite_insert(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    sqlite3 *db = s_sqlite_open(dir);
    sqlite3_stmt *insert = NULL;
    int rc = db ? sqlite3_prepare_v2(db,
                                     "INSERT INTO config (key, value, updated_at)"
                                     " VALUES (?1, ?2, ?3)",
                                     -1, &insert, NULL)
                : SQLITE_ERROR;
    rc = rc == SQLITE_OK ? 0 : -1;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && !zsys_interrupted && result->ok < bench->max_ops &&
           zclock_usecs() < deadline) {
        uint64_t count = bench->max_ops - result->ok;
        count = count < SQLITE_BATCH ? count : SQLITE_BATCH;
        rc = s_sqlite_batch(db, insert, result->ok + 1, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(insert);
    sqlite3_close(db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  ---- the request/answer driver ----------------------------------------------------
//  One loop drives every socket case: it keeps up to `window` requests
//  outstanding (window 1 is a plain round trip), until the time or the
//  count runs out, then collects the answers still owed.

typedef enum { OUTCOME_OK, OUTCOME_BUSY, OUTCOME_ERROR } outcome_t;

typedef struct {
    //  Sends request `id` on the libzmq socket `handle`; 0 or -1.
    int (*send)(void *handle, uint64_t id);
    //  Reads one answer; -1 when it is not a valid answer at all.
    int (*decode)(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                  result_t *result);
} wire_t;

//  Receives one answer (flags: 0 blocks up to STALL_TIMEOUT_MS, or
//  ZMQ_DONTWAIT). Returns 0 when one was counted, 1 when none was waiting
//  (ZMQ_DONTWAIT only), -1 on failure (said why).
static int s_receive(void *handle, const wire_t *wire, tracker_t *tracker, const char *name,
                     int flags, result_t *result) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, handle, flags) < 0) {
        int error = zmq_errno();
        zmq_msg_close(&msg);
        if (error == EAGAIN && flags == ZMQ_DONTWAIT)
            return 1;
        if (error == EAGAIN)
            return s_fail(name, "no answer within %d ms (%" PRIu64 " of %" PRIu64 " answered)",
                          STALL_TIMEOUT_MS, tracker->answered, tracker->sent);
        return s_fail(name, "receive: %s", zmq_strerror(error));
    }
    uint64_t id = 0;
    outcome_t outcome = OUTCOME_ERROR;
    int rc = wire->decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &id, &outcome, result);
    zmq_msg_close(&msg);
    if (rc != 0)
        return s_fail(name, "undecodable answer after %" PRIu64 " answers", tracker->answered);
    if (s_tracker_answer(tracker, name, id) != 0)
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
static int s_receive_some(void *handle, const wire_t *wire, tracker_t *tracker, const char *name,
                          uint64_t *outstanding, result_t *result) {
    int rc = s_receive(handle, wire, tracker, name, 0, result);
    while (rc == 0) {
        (*outstanding)--;
        rc = *outstanding > 0 ? s_receive(handle, wire, tracker, name, ZMQ_DONTWAIT, result) : 1;
    }
    return rc < 0 ? -1 : 0;
}

static int s_drive(bench_t *bench, const char *name, zsock_t *client, const wire_t *wire,
                   int window, result_t *result) {
    void *handle = zsock_resolve(client);
    zsock_set_rcvtimeo(client, STALL_TIMEOUT_MS);
    tracker_t tracker = {0};
    uint64_t outstanding = 0;
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0) {
        bool may_send =
            !zsys_interrupted && tracker.sent < bench->max_ops && zclock_usecs() < deadline;
        if (!may_send && outstanding == 0)
            break;
        while (may_send && rc == 0 && outstanding < (uint64_t)window &&
               tracker.sent < bench->max_ops) {
            rc = wire->send(handle, tracker.sent + 1);
            if (rc == 0) {
                s_tracker_sent(&tracker, tracker.sent + 1);
                outstanding++;
            } else
                s_fail(name, "send: %s", zmq_strerror(zmq_errno()));
        }
        if (rc == 0)
            rc = s_receive_some(handle, wire, &tracker, name, &outstanding, result);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0)
        rc = s_tracker_check(&tracker, name);
    s_tracker_free(&tracker);
    return rc;
}

//  ---- baseline: raw ZeroMQ (a ROUTER echo thread in this process) --------------------

//  Echoes up to ECHO_BURST waiting messages; returns false on a socket error.
static bool s_echo_burst(void *router) {
    for (int n = 0; n < ECHO_BURST; n++) {
        zmq_msg_t identity, body;
        zmq_msg_init(&identity);
        zmq_msg_init(&body);
        bool ok = zmq_msg_recv(&identity, router, ZMQ_DONTWAIT) >= 0;
        if (!ok) {
            zmq_msg_close(&identity);
            zmq_msg_close(&body);
            return zmq_errno() == EAGAIN;
        }
        ok = zmq_msg_more(&identity) && zmq_msg_recv(&body, router, 0) >= 0 &&
             zmq_msg_send(&identity, router, ZMQ_SNDMORE) >= 0 &&
             zmq_msg_send(&body, router, 0) >= 0;
        zmq_msg_close(&identity);
        zmq_msg_close(&body);
        if (!ok)
            return false;
    }
    return true;
}

//  The echo actor: binds a ROUTER on a free loopback port, sends its
//  endpoint (empty when the bind failed) on the pipe, echoes until $TERM.
static void s_echo_actor(zsock_t *pipe, void *args) {
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_sndhwm(router, 0);
    zsock_set_rcvhwm(router, 0);
    zsock_set_linger(router, 0);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    if (port < 0) {
        zstr_send(pipe, "");
        zsock_destroy(&router);
        return;
    }
    zstr_sendf(pipe, "tcp://127.0.0.1:%d", port);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    bool running = true;
    while (running) {
        void *which = zpoller_wait(poller, -1);
        if (which == router)
            running = s_echo_burst(zsock_resolve(router));
        else if (which == pipe) {
            char *command = zstr_recv(pipe);
            running = command && !streq(command, "$TERM");
            zstr_free(&command);
        } else
            running = false; //  interrupted
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

//  Endpoint of the echo thread, started on first use; NULL if it failed.
static const char *s_echo_endpoint(bench_t *bench) {
    if (!bench->echo) {
        bench->echo = zactor_new(s_echo_actor, NULL);
        bench->echo_endpoint = zstr_recv(bench->echo);
        if (bench->echo_endpoint && !*bench->echo_endpoint)
            zstr_free(&bench->echo_endpoint);
    }
    return bench->echo_endpoint;
}

static int s_echo_send(void *handle, uint64_t id) {
    return zmq_send(handle, &id, sizeof id, 0) == sizeof id ? 0 : -1;
}

static int s_echo_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                         result_t *result) {
    if (size != sizeof *id)
        return -1;
    memcpy(id, data, sizeof *id);
    *outcome = OUTCOME_OK;
    return 0;
}

static const wire_t s_echo_wire = {s_echo_send, s_echo_decode};

static int s_run_zmq(bench_t *bench, result_t *result, const char *name, int window) {
    const char *endpoint = s_echo_endpoint(bench);
    if (!endpoint)
        return s_fail(name, "the echo thread could not bind a loopback port");
    zsock_t *client = harness_connect(endpoint);
    int rc = s_drive(bench, name, client, &s_echo_wire, window, result);
    zsock_destroy(&client);
    return rc;
}

static int s_run_zmq_rtt(bench_t *bench, result_t *result) {
    return s_run_zmq(bench, result, "zmq.rtt", 1);
}

static int s_run_zmq_pipelined(bench_t *bench, result_t *result) {
    return s_run_zmq(bench, result, "zmq.pipelined", bench->window);
}

//  ---- the node: a real cairnd ------------------------------------------------------

//  The node, started on first use; NULL (after saying why) if it failed.
static harness_node_t *s_node(bench_t *bench) {
    if (!bench->node) {
        bench->node = harness_node_start(NULL, NULL);
        if (!bench->node)
            s_fail("node", "cairnd (%s) did not start", harness_cairnd_path());
    }
    return bench->node;
}

static int s_send_request(void *handle, const Cairn__Request *request) {
    uint8_t buffer[REQUEST_BUFFER];
    size_t size = cairn__request__get_packed_size(request);
    assert(size <= sizeof buffer);
    cairn__request__pack(request, buffer);
    return zmq_send(handle, buffer, size, 0) == (int)size ? 0 : -1;
}

static int s_ping_send(void *handle, uint64_t id) {
    Cairn__Request request;
    Cairn__Ping ping;
    harness_ping(&request, &ping, id);
    return s_send_request(handle, &request);
}

static int s_config_set_send(void *handle, uint64_t id) {
    char key[BENCH_KEY_SIZE];
    snprintf(key, sizeof key, BENCH_KEY_FMT, id);
    Cairn__Request request;
    Cairn__ConfigSet set;
    harness_config_set(&request, &set, id, key, BENCH_VALUE);
    return s_send_request(handle, &request);
}

//  Any cairn Response: OK, BUSY or another status (the first error's
//  message is kept for the report).
static int s_response_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                             result_t *result) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    if (response->status == CAIRN__STATUS__OK)
        *outcome = OUTCOME_OK;
    else if (response->status == CAIRN__STATUS__BUSY)
        *outcome = OUTCOME_BUSY;
    else
        *outcome = OUTCOME_ERROR;
    if (*outcome != OUTCOME_OK && !result->first_error[0])
        snprintf(result->first_error, sizeof result->first_error, "status %d: %s",
                 (int)response->status, response->error ? response->error : "");
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_ping_wire = {s_ping_send, s_response_decode};
static const wire_t s_config_set_wire = {s_config_set_send, s_response_decode};

static int s_run_node(bench_t *bench, result_t *result, const char *name, const wire_t *wire,
                      int window) {
    harness_node_t *node = s_node(bench);
    if (!node)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    int rc = s_drive(bench, name, client, wire, window, result);
    zsock_destroy(&client);
    return rc;
}

static int s_run_node_ping_rtt(bench_t *bench, result_t *result) {
    return s_run_node(bench, result, "node.ping.rtt", &s_ping_wire, 1);
}

static int s_run_node_ping_pipelined(bench_t *bench, result_t *result) {
    return s_run_node(bench, result, "node.ping.pipelined", &s_ping_wire, bench->window);
}

static int s_run_node_config_set_pipelined(bench_t *bench, result_t *result) {
    return s_run_node(bench, result, "node.config_set.pipelined", &s_config_set_wire,
                      bench->window);
}

//  Prints the writer's figures from Info (how big the group commits were).
static void s_print_node_info(bench_t *bench) {
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

//  ---- the cases ----------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {"sqlite.insert.tx1000",
     KIND_BASELINE,
     s_run_sqlite_insert,
     {NULL},
     "raw SQLite, prepared INSERT, 1000 rows per transaction"},
    {"zmq.rtt",
     KIND_BASELINE,
     s_run_zmq_rtt,
     {NULL},
     "raw DEALER/ROUTER echo over loopback tcp, one at a time"},
    {"zmq.pipelined",
     KIND_BASELINE,
     s_run_zmq_pipelined,
     {NULL},
     "raw DEALER/ROUTER echo, --window outstanding"},
    {"node.ping.rtt", KIND_NODE, s_run_node_ping_rtt, {"zmq.rtt"}, "cairnd Ping, one at a time"},
    {"node.ping.pipelined",
     KIND_NODE,
     s_run_node_ping_pipelined,
     {"zmq.pipelined"},
     "cairnd Ping, --window outstanding"},
    {"node.config_set.pipelined",
     KIND_NODE,
     s_run_node_config_set_pipelined,
     {"sqlite.insert.tx1000", "zmq.pipelined"},
     "cairnd ConfigSet of distinct keys, --window outstanding"},
};

#define CASE_COUNT (sizeof s_cases / sizeof s_cases[0])

static int s_case_index(const char *name) {
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (streq(s_cases[i].name, name))
            return (int)i;
    return -1;
}

//  Marks the cases named in `list` (all when NULL); -1 on an unknown name.
static int s_select_cases(const char *list, bool *selected) {
    for (size_t i = 0; i < CASE_COUNT; i++)
        selected[i] = list == NULL;
    if (!list)
        return 0;
    char *copy = strdup(list);
    char *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(copy, ",", &save); name && rc == 0;
         name = strtok_r(NULL, ",", &save)) {
        int index = s_case_index(name);
        if (index < 0) {
            fprintf(stderr, "cairn-bench: unknown case '%s'; see cairn-bench --help\n", name);
            rc = -1;
        } else
            selected[index] = true;
    }
    free(copy);
    return rc;
}

//  ---- report ---------------------------------------------------------------------------

//  Copies the value of the first "model name" line of /proc/cpuinfo.
static void s_cpu_model(char *model, size_t size) {
    snprintf(model, size, "unknown");
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(model, size, "%s", colon);
            found = true;
        }
    }
    fclose(file);
}

static void s_print_header(const bench_t *bench) {
    char model[256];
    s_cpu_model(model, sizeof model);
    struct utsname name;
    if (uname(&name) != 0)
        memset(&name, 0, sizeof name);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("command:  %s\n", bench->command_line);
    printf("date:     %s\n", date);
    printf("machine:  nproc %ld, %s, %s %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           name.sysname, name.release, name.machine);
    printf("versions: cairn %s, libzmq %d.%d.%d, czmq %d.%d.%d, sqlite %s\n", CAIRN_VERSION, major,
           minor, patch, CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH,
           sqlite3_libversion());
    printf("settings: %.3g s per case, window %d, at most %" PRIu64 " ops per case\n\n",
           bench->seconds, bench->window, bench->max_ops);
    fflush(stdout);
}

static void s_print_results(const result_t *results) {
    printf("\n%-28s %-8s %12s %11s %8s %8s %8s\n", "case", "kind", "ops/s", "ok", "busy", "errors",
           "seconds");
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (results[i].ran)
            printf("%-28s %-8s %12.0f %11" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8.2f\n",
                   s_cases[i].name, s_kind_name(s_cases[i].kind), s_ops_per_second(&results[i]),
                   results[i].ok, results[i].busy, results[i].errors, results[i].seconds);
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (results[i].ran && results[i].first_error[0])
            printf("first error of %s: %s\n", s_cases[i].name, results[i].first_error);
}

static void s_print_ratios(const result_t *results) {
    bool title = false;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        for (int v = 0; v < MAX_VERSUS && s_cases[i].versus[v]; v++) {
            int base = s_case_index(s_cases[i].versus[v]);
            assert(base >= 0); //  the table names only its own rows
            if (!results[i].ran || !results[base].ran)
                continue;
            if (!title)
                printf("\nratios (node / baseline, same run):\n");
            title = true;
            double denominator = s_ops_per_second(&results[base]);
            char label[96];
            snprintf(label, sizeof label, "%s / %s", s_cases[i].name, s_cases[base].name);
            printf("  %-56s = %.3f\n", label,
                   denominator > 0 ? s_ops_per_second(&results[i]) / denominator : 0.0);
        }
    }
}

//  ---- options and main ----------------------------------------------------------------

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: cairn-bench [--seconds N] [--window N] [--cases LIST] [--max-ops N]\n\n"
            "  --seconds N   length of each case in seconds (default %.0f; fractions allowed)\n"
            "  --window N    requests outstanding in pipelined cases (default %d)\n"
            "  --cases LIST  comma-separated subset of the cases below (default: all)\n"
            "  --max-ops N   at most N operations per case (default %llu)\n"
            "  --help        print this help and exit\n\n"
            "The node is the cairnd the bench was built with; CAIRND=PATH selects another.\n"
            "Cases:\n",
            DEFAULT_SECONDS, DEFAULT_WINDOW, (unsigned long long)DEFAULT_MAX_OPS);
    for (size_t i = 0; i < CASE_COUNT; i++)
        fprintf(out, "  %-27s %-8s %s\n", s_cases[i].name, s_kind_name(s_cases[i].kind),
                s_cases[i].what);
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

//  Parses the options into `bench`: 0 to run, 1 after --help, -1 on error.
static int s_parse_options(bench_t *bench, int argc, char **argv) {
    enum { OPT_SECONDS = 1, OPT_WINDOW, OPT_CASES, OPT_MAX_OPS, OPT_HELP };
    static const struct option options[] = {{"seconds", required_argument, NULL, OPT_SECONDS},
                                            {"window", required_argument, NULL, OPT_WINDOW},
                                            {"cases", required_argument, NULL, OPT_CASES},
                                            {"max-ops", required_argument, NULL, OPT_MAX_OPS},
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
        } else if (opt == OPT_HELP) {
            s_usage(stdout);
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

//  Runs the selected cases in table order; stops at the first failure.
static int s_run_cases(bench_t *bench, const bool *selected, result_t *results) {
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (!selected[i])
            continue;
        if (zsys_interrupted)
            return s_fail(s_cases[i].name, "interrupted");
        int rc = s_cases[i].run(bench, &results[i]);
        results[i].ran = rc == 0;
        if (rc == 0)
            printf("done %-28s %12.0f ops/s\n", s_cases[i].name, s_ops_per_second(&results[i]));
        fflush(stdout);
        if (rc == 0 && results[i].ok == 0)
            rc = s_fail(s_cases[i].name, "no operation completed OK");
        if (rc != 0)
            return -1;
    }
    return 0;
}

//  Stops the node, if one was started; -1 unless it exited with status 0.
static int s_stop_node(bench_t *bench) {
    if (!bench->node)
        return 0;
    s_print_node_info(bench);
    int status = harness_node_stop(bench->node);
    harness_node_destroy(&bench->node);
    if (status != 0)
        return s_fail("node", "cairnd exited with status %d (log printed above)", status);
    printf("node stopped: exit status 0\n");
    return 0;
}

static void s_bench_destroy(bench_t *bench) {
    harness_node_destroy(&bench->node);
    zactor_destroy(&bench->echo);
    zstr_free(&bench->echo_endpoint);
    free(bench->cases);
    free(bench->command_line);
}

int main(int argc, char **argv) {
    bench_t bench = {.seconds = DEFAULT_SECONDS,
                     .window = DEFAULT_WINDOW,
                     .max_ops = DEFAULT_MAX_OPS,
                     .command_line = s_command_line(argc, argv)};
    int parsed = s_parse_options(&bench, argc, argv);
    bool selected[CASE_COUNT];
    if (parsed == 0 && s_select_cases(bench.cases, selected) != 0)
        parsed = -1;
    if (parsed != 0) {
        s_bench_destroy(&bench);
        return parsed > 0 ? 0 : 2;
    }
    zsys_init();
    s_print_header(&bench);
    result_t results[CASE_COUNT];
    memset(results, 0, sizeof results);
    int rc = s_run_cases(&bench, selected, results);
    if (s_stop_node(&bench) != 0)
        rc = -1;
    s_print_results(results);
    s_print_ratios(results);
    s_bench_destroy(&bench);
    if (rc != 0)
        fprintf(stderr, "cairn-bench: FAILED (see above)\n");
    return rc == 0 ? 0 : 1;
}

/*  =========================================================================
    wire - cairn-bench's cases of the node's floor: what every request
    costs before any store does real work

    The node and what it is built on:

        sqlite.insert.tx1000   raw SQLite: prepared INSERT of a config-like
                               row, 1000 rows per transaction (the writer's
                               default batch), into the config store's own
                               table (its migrations); WAL,
                               synchronous=NORMAL, foreign_keys=ON, as the
                               writer sets them
        zmq.rtt                raw DEALER -> ROUTER echo thread -> DEALER,
                               one request at a time
        zmq.pipelined          the same with --window requests outstanding
        node.ping.rtt          Ping to cairnd, one at a time
        node.ping.pipelined    Ping with --window outstanding (gateway hop)
        node.config_set.pipelined
                               ConfigSet of distinct keys with --window
                               outstanding (gateway -> store worker ->
                               writer group commit -> answer)
    ========================================================================= */

#include "bench.h"
#include "ca_limits.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "config_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SQLITE_BATCH   CA_DEFAULT_WRITER_BATCH
#define ECHO_BURST     CA_SERVE_BURST //  echo thread: messages per poll
#define BENCH_KEY_FMT  "bench/%010" PRIu64
#define BENCH_KEY_SIZE 32
#define BENCH_VALUE    "cairn-bench-value-0123456789abcdef"

//  ---- baseline: raw SQLite ------------------------------------------------------

//  The baseline's own statement, not the config store's: ConfigSet is an
//  upsert that stamps unixepoch(), while this measures the floor under
//  it, a plain prepared INSERT of a new row (every key is new here, so
//  the upsert would take the same path).
#define CONFIG_INSERT "INSERT INTO config (key, value, updated_at) VALUES (?1, ?2, ?3)"

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *insert;
} insert_t;

//  Inserts the rows of keys first..first+count-1.
static int s_insert_rows(void *context, uint64_t first, uint64_t count) {
    insert_t *rows = (insert_t *)context;
    int rc = 0;
    for (uint64_t n = first; n < first + count && rc == 0; n++) {
        char key[BENCH_KEY_SIZE];
        snprintf(key, sizeof key, BENCH_KEY_FMT, n);
        sqlite3_bind_text(rows->insert, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(rows->insert, 2, BENCH_VALUE, sizeof BENCH_VALUE - 1, SQLITE_STATIC);
        sqlite3_bind_int64(rows->insert, 3, (sqlite3_int64)time(NULL));
        rc = bench_sqlite_step(rows->db, rows->insert, "INSERT");
    }
    return rc;
}

static int s_run_sqlite_insert(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    insert_t rows = {bench_sqlite_open_schema(dir, &config_schema), NULL};
    int rc = rows.db ? bench_sqlite_prepare(rows.db, CONFIG_INSERT, &rows.insert) : -1;
    if (rc == 0)
        rc = bench_sqlite_batches(bench, result, rows.db, SQLITE_BATCH, s_insert_rows, &rows, 1);
    sqlite3_finalize(rows.insert);
    sqlite3_close(rows.db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
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

static int s_echo_send(void *handle, uint64_t id, void *context) {
    return zmq_send(handle, &id, sizeof id, 0) == sizeof id ? 0 : -1;
}

static int s_echo_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                         result_t *result, void *context) {
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
        return bench_fail(name, "the echo thread could not bind a loopback port");
    zsock_t *client = harness_connect(endpoint);
    int rc = bench_drive(bench, name, client, &s_echo_wire, NULL, window, result);
    zsock_destroy(&client);
    return rc;
}

static int s_run_zmq_rtt(bench_t *bench, result_t *result) {
    return s_run_zmq(bench, result, "zmq.rtt", 1);
}

static int s_run_zmq_pipelined(bench_t *bench, result_t *result) {
    return s_run_zmq(bench, result, "zmq.pipelined", bench->window);
}

//  ---- the node: Ping and ConfigSet ----------------------------------------------------

static int s_ping_send(void *handle, uint64_t id, void *context) {
    Cairn__Request request;
    Cairn__Ping ping;
    ca_request_ping(&request, &ping, id);
    return bench_send_request(handle, &request);
}

static int s_config_set_send(void *handle, uint64_t id, void *context) {
    char key[BENCH_KEY_SIZE];
    snprintf(key, sizeof key, BENCH_KEY_FMT, id);
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, id, key, BENCH_VALUE);
    return bench_send_request(handle, &request);
}

static const wire_t s_ping_wire = {s_ping_send, bench_response_decode};
static const wire_t s_config_set_wire = {s_config_set_send, bench_response_decode};

static int s_run_node_ping_rtt(bench_t *bench, result_t *result) {
    return bench_run_node(bench, result, "node.ping.rtt", &s_ping_wire, NULL, 1);
}

static int s_run_node_ping_pipelined(bench_t *bench, result_t *result) {
    return bench_run_node(bench, result, "node.ping.pipelined", &s_ping_wire, NULL, bench->window);
}

static int s_run_node_config_set_pipelined(bench_t *bench, result_t *result) {
    return bench_run_node(bench, result, "node.config_set.pipelined", &s_config_set_wire, NULL,
                          bench->window);
}

//  Prints the writer's figures from Info (how big the group commits were).
//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "sqlite.insert.tx1000",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_insert,
     .what = "raw SQLite, prepared INSERT, 1000 rows per transaction"},
    {.name = "zmq.rtt",
     .kind = KIND_BASELINE,
     .run = s_run_zmq_rtt,
     .what = "raw DEALER/ROUTER echo over loopback tcp, one at a time"},
    {.name = "zmq.pipelined",
     .kind = KIND_BASELINE,
     .run = s_run_zmq_pipelined,
     .what = "raw DEALER/ROUTER echo, --window outstanding"},
    {.name = "node.ping.rtt",
     .kind = KIND_NODE,
     .run = s_run_node_ping_rtt,
     .versus = {"zmq.rtt"},
     .what = "cairnd Ping, one at a time"},
    {.name = "node.ping.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_ping_pipelined,
     .versus = {"zmq.pipelined"},
     .what = "cairnd Ping, --window outstanding"},
    {.name = "node.config_set.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_config_set_pipelined,
     .versus = {"sqlite.insert.tx1000", "zmq.pipelined"},
     .what = "cairnd ConfigSet of distinct keys, --window outstanding"},
};

//  Stops the echo thread, if it was started.
static void s_destroy(bench_t *bench) {
    zactor_destroy(&bench->echo);
    zstr_free(&bench->echo_endpoint);
}

const bench_area_t bench_wire_area = BENCH_AREA(s_cases, NULL, s_destroy);

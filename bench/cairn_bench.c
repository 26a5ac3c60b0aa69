/*  =========================================================================
    cairn-bench - how fast is the node, measured against what it is built on

        cairn-bench [--seconds N] [--window N] [--cases LIST] [--max-ops N]
                    [--page-messages N] [--prov-nodes N] [--list]

    One run measures the baselines (raw SQLite with the writer's pragmas, raw
    ZeroMQ DEALER/ROUTER over loopback tcp) and then a real cairnd doing the
    same kind of work through its wire API, and prints ops/s for each case
    and the node/baseline ratios. The machine this runs on is shared and
    noisy, so absolute numbers move between runs; the ratios, measured
    seconds apart on the same machine, are what to compare.

    Cases (one row each in s_cases; a later store adds its rows there).
    --cases takes whole names or their first dot-separated parts
    ("raw.sha256_sodium" runs every size, "node" every node case); rows
    marked optional run only when named in full. --list prints the names.

    SHA-256, in MB/s (bench_hash.c; SIZE is 4k, 1m, 64m):

        raw.sha256_sodium.SIZE    libsodium crypto_hash_sha256
        raw.sha256_openssl.SIZE   OpenSSL EVP, digest fetched once (only
                                  when the bench links libcrypto)
        hash.ca_sha256.SIZE       cairn's ca_sha256 (this build's backend);
                                  docs/HASHING.md records the decision

    The node and what it is built on:

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

    The message store (each baseline runs the node's own SQL, mirrored in
    the MIRROR_* strings below, on msg_schema's tables, indexes and FTS5
    triggers, with the writer's pragmas):

        sqlite.msg_insert.tx1000
                               prepared INSERT of a 256-byte clear-text
                               message (the FTS trigger runs) plus the
                               channel's last_activity UPDATE, 1000 messages
                               per transaction
        node.msg_store.pipelined
                               MessageStore of the same messages (distinct
                               UUIDs, one existing channel), --window
                               outstanding
        sqlite.msg_page.offset0, .deep_offset, .deep_keyset
        node.msg_page.offset0, .deep_offset, .deep_keyset
                               pages of 50 messages, newest first, from a
                               channel of --page-messages messages: the
                               newest page; the page at 90% depth by offset;
                               the same page by keyset cursor. The node's
                               data dir and the baseline's database are
                               filled directly with raw SQLite (the node
                               stopped meanwhile), untimed, before the
                               first msg_page case; each baseline then
                               runs right before its node case. The node's
                               deep_offset keeps at most DEEP_OFFSET_WINDOW
                               requests outstanding: each one walks the
                               index to its offset (~0.1 s at 900,000),
                               and a window of 1000 would leave tens of
                               seconds of answers to drain after the time
                               bound.
        sqlite.gossip_add.mixed, node.gossip_add.mixed
                               GossipAdd of message ids, half new and half
                               seen before (deterministic PRNG, the same
                               sequence for both); raw: INSERT OR IGNORE,
                               1000 per transaction

    The content store and the peer-content cache (bench_content.c, which
    says more; SIZE is 4k, 1m, 64m; MB/s, ratio node / raw):

        raw.content_put.SIZE   ca_sha256 + temp file + fsync + rename +
                               fsync of the directory, beside the node's
                               data dir (the same filesystem)
        node.content_put.SIZE  ContentPut of distinct blobs, a window
                               outstanding; 64m: ContentBegin, 4 MiB
                               ContentChunks (4 outstanding), ContentCommit
        raw.content_get.SIZE   read the file + ca_sha256 + compare
        node.content_get.SIZE  ContentGet, a window; 64m: ContentRead of
                               4 MiB ranges in order (4 outstanding);
                               verification on
        node.cache_put.4k, node.cache_get.4k
                               CachePut of distinct entries, CacheGet of
                               them (ratios to the raw 4k put and get)
        node.content_1gib      optional: 1 GiB streamed in and read back,
                               the node's VmHWM reset before and printed
                               after each half
    After each node content case, and at the end, the node's VmRSS and
    VmHWM (peak RSS) from /proc/<pid>/status are printed.

    The provenance graph (bench_prov.c, which says more; ops/s, ratio node
    / raw): one seeded DAG of --prov-nodes nodes in 32 strands, ~4 edges
    a node, built once on each side.

        sqlite.prov_add.tx1000   INSERT of each node's edges, 1000 nodes
                                 per transaction
        node.prov_add.pipelined  ProvAdd of each node with its sources
                                 (root cache kept); a node is sent once its
                                 sources were answered
        sqlite.prov_roots.cte    root set of a random node by WITH RECURSIVE
        node.prov_roots.pipelined, .rtt
                                 ProvRoots of the same nodes
        sqlite.prov_ancestor.random, .strand
        node.prov_ancestor.random, .strand
                                 is-ancestor of two random nodes (mostly
                                 unrelated), or of two nodes of one strand

    The ledger and the settlement queue (bench_money.c, which says more;
    ops/s, ratio node / raw):

        raw.ed25519_verify     crypto_sign_verify_detached of signed
                               canonical payment payloads, one thread
        node.ledger_pay.pipelined
                               LedgerPay of distinct payments signed ahead
                               (the node verifies each, then one durable
                               write), --window outstanding
        sqlite.settle_total, node.settle_total
                               the pending total over the same 20,000
                               rows: the store's SELECT summed in C;
                               SettleTotal, 16 outstanding
        sqlite.settle_enqueue.tx1000, node.settle_enqueue.pipelined
                               the store's INSERT, 1000 per transaction,
                               synchronous=FULL; SettleEnqueue of distinct
                               distributions, --window outstanding

    What counts: only OK responses are completed ops (payload cases also
    count their bytes, for MB/s); BUSY and other errors
    are counted apart. Every request id must be answered exactly once: an
    unknown or repeated id, an undecodable response or a request still
    unanswered after STALL_TIMEOUT_MS fails the run (exit 1). The node is a
    child process started through tests/kit/harness.h in a temp dir (the
    CAIRND environment variable selects another binary) and stopped with
    SIGTERM at the end; an exit status other than 0 fails the run.

    Every loop is bounded by time (--seconds, then at most STALL_TIMEOUT_MS
    per answer while draining) and by count (--max-ops, --window).
    ========================================================================= */

#include "bench.h"
#include "ca_limits.h"
#include "ca_testbed.h"
#include "msg_schema.h"

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

#define DEFAULT_SECONDS 2.0
#define DEFAULT_WINDOW  1000
#define DEFAULT_MAX_OPS 100000000ULL //  per case; a count bound beside the time bound
#define MAX_SECONDS     3600.0
#define MAX_WINDOW      1000000
#define SQLITE_BATCH    CA_DEFAULT_WRITER_BATCH
#define ECHO_BURST      CA_SERVE_BURST //  echo thread: messages per poll
#define MAX_VERSUS      2
#define REQUEST_BUFFER  1024 //  bytes; requests up to this size are packed on the stack
#define BENCH_KEY_FMT   "bench/%010" PRIu64
#define BENCH_KEY_SIZE  32
#define BENCH_VALUE     "cairn-bench-value-0123456789abcdef"

//  The message store
#define DEFAULT_PAGE_MESSAGES 1000000ULL //  messages in the paged channel
#define MIN_PAGE_MESSAGES     1000ULL
#define MAX_PAGE_MESSAGES     100000000ULL //  offsets are uint32 on the wire
#define PAGE_LIMIT            50           //  messages per page
#define DEEP_OFFSET_WINDOW    4      //  node.msg_page.deep_offset: at most this many outstanding
#define POPULATE_BATCH        100000 //  rows per transaction when filling the paged channel
#define POPULATE_CACHE_KIB    262144 //  page cache of the filling connection only
#define MSG_CONTENT_BYTES     256
#define MSG_SIGNATURE_BYTES   64
#define UUID_TEXT_SIZE        37 //  8-4-4-4-12 hex digits and the NUL
#define STORE_CHANNEL         "#bench-store"
#define PAGE_CHANNEL          "#bench-page"
#define SENDER_ID             "bench-peer"
#define SENDER_NAME           "cairn bench"
#define STORE_TIME_STEP       1e-6 //  seconds between the timestamps of stored messages
#define PAGE_TIME_STEP        1e-3 //  seconds between the messages of the paged channel
#define GOSSIP_TTL            5    //  what the node stores for ttl 0 (the default)

//  ---- run state, options and results -------------------------------------------

//  baseline: what the node is built on, measured raw; helper: cairn's own
//  code outside the node (ca_sha256); node: a real cairnd.
typedef enum { KIND_BASELINE, KIND_HELPER, KIND_NODE } kind_t;

//  A row runs `run`, or `sized` with its name and `size` (payload bytes).
//  `optional` rows run only when --cases names them.
typedef struct {
    const char *name;
    kind_t kind;
    int (*run)(bench_t *bench, result_t *result); //  0, or -1 after saying why
    const char *versus[MAX_VERSUS];               //  cases its ratio is taken to
    const char *what;
    bench_sized_fn *sized;
    size_t size;
    bool optional;
} bench_case_t;

static const char *s_kind_name(kind_t kind) {
    return kind == KIND_NODE ? "node" : kind == KIND_HELPER ? "helper" : "baseline";
}

static double s_ops_per_second(const result_t *result) {
    return result->seconds > 0 ? (double)result->ok / result->seconds : 0;
}

//  Precision for a rate: whole numbers, but tenths below 100 (a case of
//  64 MiB blobs does a few per second).
static int s_rate_digits(double rate) {
    return rate < 100 ? 1 : 0;
}

//  Payload throughput in MB/s (10^6 bytes), 0 for a case without payload.
static double s_mb_per_second(const result_t *result) {
    return result->seconds > 0 ? (double)result->bytes / 1e6 / result->seconds : 0;
}

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

//  A fresh database in `dir` with the writer's pragmas and the message-store
//  family's schema (msg_schema's migrations, as the writer runs them). NULL
//  after saying why.
static sqlite3 *s_sqlite_open_msg(const char *dir) {
    sqlite3 *db = bench_sqlite_open(dir);
    for (size_t i = 0; db && i < msg_schema.count; i++)
        if (bench_sqlite_exec(db, msg_schema.migrations[i]) != 0) {
            sqlite3_close(db);
            db = NULL;
        }
    return db;
}

//  Inserts `count` rows from key number `first` in one transaction.
static int s_sqlite_batch(sqlite3 *db, sqlite3_stmt *insert, uint64_t first, uint64_t count) {
    if (bench_sqlite_exec(db, "BEGIN IMMEDIATE") != 0)
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
            bench_fail("sqlite", "INSERT: %s", sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return bench_sqlite_exec(db, "COMMIT");
}

static int s_run_sqlite_insert(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    sqlite3 *db = bench_sqlite_open(dir);
    if (db &&
        bench_sqlite_exec(db, "CREATE TABLE config (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
                              " updated_at INTEGER NOT NULL) WITHOUT ROWID") != 0) {
        sqlite3_close(db);
        db = NULL;
    }
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

//  ---- the node: a real cairnd ------------------------------------------------------

//  The node, started on first use; NULL (after saying why) if it failed.
harness_node_t *bench_node(bench_t *bench) {
    if (!bench->node) {
        bench->node = harness_node_start(NULL, NULL);
        if (!bench->node)
            bench_fail("node", "cairnd (%s) did not start", harness_cairnd_path());
    }
    return bench->node;
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

static const wire_t s_ping_wire = {s_ping_send, bench_response_decode};
static const wire_t s_config_set_wire = {s_config_set_send, bench_response_decode};

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

//  ---- the message store: what both sides store and ask --------------------------------

//  The node's SQL, run as-is by the raw baselines so that both sides do the
//  same work on the same schema. Each string is copied from the handler
//  named beside it: when that handler's SQL changes, this copy must follow.
//  actors/messages.c, s_message_store: the row, then the channel's activity
//  (the node's write also runs two SELECTs first, s_sql_channel_exists and
//  s_sql_id_exists, to answer NOT_FOUND and CONFLICT; the baseline relies on
//  its own setup instead, as the raw INSERT + UPDATE).
#define MIRROR_MSG_INSERT                                                                          \
    "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel, content, encrypted,"    \
    " signature, nonce) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
#define MIRROR_MSG_TOUCH                                                                           \
    "UPDATE channels SET last_activity = max(last_activity, ?2) WHERE name = ?1"
//  actors/messages.c, s_sql_list_offset (?1 channel, ?2 since, ?3 limit + 1,
//  ?4 offset) and s_sql_list_keyset (?4 before_timestamp, ?5 before_id).
#define MIRROR_MSG_COLUMNS                                                                         \
    "id, timestamp, sender_id, sender_name, channel, content, encrypted, signature, nonce"
#define MIRROR_PAGE_OFFSET                                                                         \
    "SELECT " MIRROR_MSG_COLUMNS " FROM messages"                                                  \
    " WHERE channel = ?1 AND timestamp > ?2"                                                       \
    " ORDER BY timestamp DESC, id DESC LIMIT ?3 OFFSET ?4"
#define MIRROR_PAGE_KEYSET                                                                         \
    "SELECT " MIRROR_MSG_COLUMNS " FROM messages"                                                  \
    " WHERE channel = ?1 AND timestamp > ?2 AND (timestamp, id) < (?4, ?5)"                        \
    " ORDER BY timestamp DESC, id DESC LIMIT ?3"
//  Rows the node's page SELECT asks for: the page, plus one to know `more`.
#define MIRROR_PAGE_ROWS (PAGE_LIMIT + 1)
//  actors/gossip.c, s_gossip_add.
#define MIRROR_GOSSIP_ADD                                                                          \
    "INSERT OR IGNORE INTO gossip (message_id, ttl, seen_at) VALUES (?1, ?2, ?3)"

//  The channel rows the cases need (setup, untimed; the node's own
//  ChannelCreate is used where the node is running).
#define SETUP_CHANNEL                                                                              \
    "INSERT INTO channels (name, created_at, last_activity, encrypted) VALUES (?1, ?2, ?2, 0)"

//  Exactly 64 bytes: messages carry an Ed25519-sized signature.
#define BENCH_SIGNATURE "cairn-bench-signature-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

//  Families of message ids, so the cases never share one.
typedef enum { UUID_STORE = 1, UUID_PAGE = 2, UUID_GOSSIP = 3 } uuid_family_t;

//  splitmix64's finalizer, the bench's only source of "randomness": fixed,
//  so every run stores and asks the same things, and a bijection on 64
//  bits, so distinct inputs give distinct outputs.
static uint64_t s_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

const uint8_t *bench_pattern(bench_t *bench, size_t size) {
    if (size > bench->pattern_size) {
        //  Grown in whole 8-byte words; every word is s_mix of its index,
        //  so a longer pattern starts with the shorter one.
        size_t words = (size + 7) / 8;
        uint8_t *pattern = (uint8_t *)realloc(bench->pattern, words * 8);
        assert(pattern);
        for (size_t word = bench->pattern_size / 8; word < words; word++) {
            uint64_t value = s_mix(word);
            memcpy(pattern + word * 8, &value, 8);
        }
        bench->pattern = pattern;
        bench->pattern_size = words * 8;
    }
    return bench->pattern;
}

//  Id number `n` of `family` as UUID text (version 4 layout). All 64 bits
//  of s_mix(n) are in it, so distinct numbers give distinct ids.
static void s_uuid(char *text, uuid_family_t family, uint64_t n) {
    uint64_t v = s_mix(n);
    uint64_t w = s_mix(v ^ (uint64_t)family);
    //  Every field is masked to its width, so the text is always 36
    //  characters; the larger buffer only keeps -Wformat-truncation (which
    //  cannot see the masks through the enum) quiet in every build type.
    char full[80];
    snprintf(full, sizeof full,
             "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%" PRIx64 "%03" PRIx64 "-%012" PRIx64,
             v >> 32, (v >> 16) & 0xffff, (v >> 4) & 0xfff, 8 + (v & 3),
             ((((v >> 2) & 3) << 8) | (uint64_t)family) & 0x3ff, w & (uint64_t)0xffffffffffff);
    snprintf(text, UUID_TEXT_SIZE, "%.36s", full);
}

//  MSG_CONTENT_BYTES of clear text for message `n` (not NUL-terminated):
//  words of 2-3 syllables out of 16 (4,352 words), so the full-text index
//  has real work to do.
static void s_content(char *content, uint64_t n) {
    static const char *const syllables[16] = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "to",
                                              "vu", "wa", "xe", "yo", "zi", "bo", "da", "fe"};
    size_t used = 0;
    uint64_t draw = n << 8;
    while (used < MSG_CONTENT_BYTES) {
        uint64_t r = s_mix(draw++);
        if (used > 0)
            content[used++] = ' ';
        int count = 2 + (int)(r & 1);
        for (int i = 0; i < count; i++)
            for (const char *c = syllables[(r >> (4 + 4 * i)) & 15]; *c; c++)
                if (used < MSG_CONTENT_BYTES)
                    content[used++] = *c;
    }
}

typedef struct {
    char id[UUID_TEXT_SIZE];
    double timestamp;
    char content[MSG_CONTENT_BYTES];
} bench_message_t;

static void s_message(bench_message_t *message, uuid_family_t family, uint64_t n,
                      double timestamp) {
    s_uuid(message->id, family, n);
    message->timestamp = timestamp;
    s_content(message->content, n);
}

//  Wall clock in unix seconds with a fraction, as messages carry it.
static double s_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

//  Timestamp of message `n` (0 = oldest) of the paged channel.
static double s_page_time(const bench_t *bench, uint64_t n) {
    return bench->page_base + (double)n * PAGE_TIME_STEP;
}

//  The three pages: newest, and at 90% depth by offset and by keyset cursor.
typedef enum { PAGE_OFFSET0, PAGE_DEEP_OFFSET, PAGE_DEEP_KEYSET } page_kind_t;

typedef struct {
    uint32_t offset;
    bool keyset;
    double before_timestamp;        //  keyset cursor: the message just above the page
    char before_id[UUID_TEXT_SIZE]; //
    char first_id[UUID_TEXT_SIZE];  //  the page's first (newest) message, checked
} page_query_t;

//  Message n of the paged channel sits at position N-1-n, newest first.
static void s_page_query(const bench_t *bench, page_kind_t kind, page_query_t *query) {
    memset(query, 0, sizeof *query);
    uint64_t total = bench->page_messages;
    uint64_t depth = kind == PAGE_OFFSET0 ? 0 : total * 9 / 10;
    query->offset = kind == PAGE_DEEP_OFFSET ? (uint32_t)depth : 0;
    query->keyset = kind == PAGE_DEEP_KEYSET;
    if (query->keyset) {
        uint64_t above = total - depth; //  position depth-1
        s_uuid(query->before_id, UUID_PAGE, above);
        query->before_timestamp = s_page_time(bench, above);
    }
    s_uuid(query->first_id, UUID_PAGE, total - 1 - depth);
}

//  The gossip ids: each draw is a new id or, half of the time, one drawn
//  before (uniformly among them).
typedef struct {
    uint64_t draws;
    uint64_t fresh; //  ids 0..fresh-1 were handed out
} gossip_seq_t;

static void s_gossip_next(gossip_seq_t *seq, char *id) {
    uint64_t r = s_mix(seq->draws++ ^ 0x676f73736970ULL);
    uint64_t number = seq->fresh == 0 || (r & 1) ? seq->fresh++ : (r >> 1) % seq->fresh;
    s_uuid(id, UUID_GOSSIP, number);
}

//  ---- baseline: raw SQLite on the message-store schema ----------------------------------

//  Steps a statement that returns no rows, then resets it; -1 (after saying
//  why) unless it ran to the end.
static int s_sqlite_step(sqlite3 *db, sqlite3_stmt *stmt, const char *what) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : bench_fail("sqlite", "%s: %s", what, sqlite3_errmsg(db));
}

//  Prepares `sql` into *stmt; -1 (after saying why) when it does not compile.
static int s_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) == SQLITE_OK)
        return 0;
    return bench_fail("sqlite", "'%s': %s", sql, sqlite3_errmsg(db));
}

static int s_sqlite_channel(sqlite3 *db, const char *name, double created_at) {
    sqlite3_stmt *insert = NULL;
    int rc = s_sqlite_prepare(db, SETUP_CHANNEL, &insert);
    if (rc == 0) {
        sqlite3_bind_text(insert, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_double(insert, 2, created_at);
        rc = s_sqlite_step(db, insert, "INSERT channel");
    }
    sqlite3_finalize(insert);
    return rc;
}

//  Binds `message` of `channel` to MIRROR_MSG_INSERT and steps it.
static int s_sqlite_insert_message(sqlite3 *db, sqlite3_stmt *insert,
                                   const bench_message_t *message, const char *channel) {
    sqlite3_bind_text(insert, 1, message->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(insert, 2, message->timestamp);
    sqlite3_bind_text(insert, 3, SENDER_ID, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 4, SENDER_NAME, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 5, channel, -1, SQLITE_STATIC);
    sqlite3_bind_blob(insert, 6, message->content, MSG_CONTENT_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(insert, 7, 0);
    sqlite3_bind_blob(insert, 8, BENCH_SIGNATURE, MSG_SIGNATURE_BYTES, SQLITE_STATIC);
    sqlite3_bind_null(insert, 9);
    return s_sqlite_step(db, insert, "INSERT message");
}

//  Stores messages first..first+count-1 as the node does, in one transaction.
static int s_sqlite_msg_batch(sqlite3 *db, sqlite3_stmt *insert, sqlite3_stmt *touch, double base,
                              uint64_t first, uint64_t count) {
    int rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE");
    for (uint64_t n = first; n < first + count && rc == 0; n++) {
        bench_message_t message;
        s_message(&message, UUID_STORE, n, base + (double)n * STORE_TIME_STEP);
        rc = s_sqlite_insert_message(db, insert, &message, STORE_CHANNEL);
        if (rc == 0) {
            sqlite3_bind_text(touch, 1, STORE_CHANNEL, -1, SQLITE_STATIC);
            sqlite3_bind_double(touch, 2, message.timestamp);
            rc = s_sqlite_step(db, touch, "UPDATE channel");
        }
    }
    if (rc == 0)
        return bench_sqlite_exec(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int s_run_sqlite_msg_insert(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    sqlite3 *db = s_sqlite_open_msg(dir);
    sqlite3_stmt *insert = NULL, *touch = NULL;
    double base = s_now();
    int rc = db && s_sqlite_channel(db, STORE_CHANNEL, base) == 0 &&
                     s_sqlite_prepare(db, MIRROR_MSG_INSERT, &insert) == 0 &&
                     s_sqlite_prepare(db, MIRROR_MSG_TOUCH, &touch) == 0
                 ? 0
                 : -1;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && !zsys_interrupted && result->ok < bench->max_ops &&
           zclock_usecs() < deadline) {
        uint64_t count = bench->max_ops - result->ok;
        count = count < SQLITE_BATCH ? count : SQLITE_BATCH;
        rc = s_sqlite_msg_batch(db, insert, touch, base, result->ok + 1, count);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(insert);
    sqlite3_finalize(touch);
    sqlite3_close(db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  Setup of the paged channel: rows are staged in a TEMP table, then moved
//  into messages with one INSERT ... SELECT per POPULATE_BATCH rows. The
//  FTS trigger runs as usual, but FTS5 flushes its pending terms at every
//  statement (its xSavepoint syncs), so one row per statement would spend
//  a minute per million rows writing and merging one-document segments.
#define SETUP_STAGE_TABLE "CREATE TEMP TABLE stage (id TEXT, timestamp REAL, content BLOB)"
#define SETUP_STAGE_ROW   "INSERT INTO temp.stage (id, timestamp, content) VALUES (?1, ?2, ?3)"
#define SETUP_STAGE_MOVE                                                                           \
    "INSERT INTO messages (id, timestamp, sender_id, sender_name, channel, content, encrypted,"    \
    " signature, nonce) SELECT id, timestamp, ?1, ?2, ?3, content, 0, ?4, NULL"                    \
    " FROM temp.stage ORDER BY rowid"

//  Moves messages first..first+count-1 of the paged channel in, in one
//  transaction.
static int s_populate_batch(bench_t *bench, sqlite3 *db, sqlite3_stmt *stage, sqlite3_stmt *move,
                            uint64_t first, uint64_t count) {
    int rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE") == 0 &&
                     bench_sqlite_exec(db, "DELETE FROM temp.stage") == 0
                 ? 0
                 : -1;
    for (uint64_t n = first; n < first + count && rc == 0; n++) {
        bench_message_t message;
        s_message(&message, UUID_PAGE, n, s_page_time(bench, n));
        sqlite3_bind_text(stage, 1, message.id, -1, SQLITE_STATIC);
        sqlite3_bind_double(stage, 2, message.timestamp);
        sqlite3_bind_blob(stage, 3, message.content, MSG_CONTENT_BYTES, SQLITE_STATIC);
        rc = s_sqlite_step(db, stage, "INSERT stage");
    }
    if (rc == 0) {
        sqlite3_bind_text(move, 1, SENDER_ID, -1, SQLITE_STATIC);
        sqlite3_bind_text(move, 2, SENDER_NAME, -1, SQLITE_STATIC);
        sqlite3_bind_text(move, 3, PAGE_CHANNEL, -1, SQLITE_STATIC);
        sqlite3_bind_blob(move, 4, BENCH_SIGNATURE, MSG_SIGNATURE_BYTES, SQLITE_STATIC);
        rc = s_sqlite_step(db, move, "INSERT messages");
    }
    if (rc == 0)
        return bench_sqlite_exec(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

//  Fills the paged channel into `db` (which has msg_schema's tables):
//  bench->page_messages messages, oldest first, then folds the WAL into
//  the database file. Setup, untimed.
static int s_populate_pages(bench_t *bench, sqlite3 *db, const char *what) {
    int64_t start = zclock_usecs();
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", POPULATE_CACHE_KIB);
    sqlite3_stmt *stage = NULL, *move = NULL, *touch = NULL;
    int rc = bench_sqlite_exec(db, pragma) == 0 && bench_sqlite_exec(db, SETUP_STAGE_TABLE) == 0 &&
                     s_sqlite_channel(db, PAGE_CHANNEL, bench->page_base) == 0 &&
                     s_sqlite_prepare(db, SETUP_STAGE_ROW, &stage) == 0 &&
                     s_sqlite_prepare(db, SETUP_STAGE_MOVE, &move) == 0 &&
                     s_sqlite_prepare(db, MIRROR_MSG_TOUCH, &touch) == 0
                 ? 0
                 : -1;
    for (uint64_t n = 0; n < bench->page_messages && rc == 0; n += POPULATE_BATCH) {
        uint64_t count = bench->page_messages - n;
        rc = s_populate_batch(bench, db, stage, move, n,
                              count < POPULATE_BATCH ? count : POPULATE_BATCH);
    }
    if (rc == 0) {
        sqlite3_bind_text(touch, 1, PAGE_CHANNEL, -1, SQLITE_STATIC);
        sqlite3_bind_double(touch, 2, s_page_time(bench, bench->page_messages - 1));
        rc = s_sqlite_step(db, touch, "UPDATE channel");
    }
    sqlite3_finalize(stage);
    sqlite3_finalize(move);
    sqlite3_finalize(touch);
    if (rc == 0)
        rc = bench_sqlite_exec(db, "DROP TABLE temp.stage") == 0 &&
                     bench_sqlite_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") == 0
                 ? 0
                 : -1;
    if (rc == 0)
        printf("filled %s with %" PRIu64 " messages in %s in %.1f s (setup, untimed)\n", what,
               bench->page_messages, PAGE_CHANNEL, (double)(zclock_usecs() - start) / 1e6);
    fflush(stdout);
    return rc;
}

//  Makes and fills the baseline's paged database, once. 0, or -1 after
//  saying why.
static int s_fill_baseline_pages(bench_t *bench) {
    if (bench->page_dir)
        return 0;
    char *dir = ca_test_tempdir("cairn-bench");
    sqlite3 *db = s_sqlite_open_msg(dir);
    int rc = db ? s_populate_pages(bench, db, "the baseline's database") : -1;
    sqlite3_close(db);
    if (rc == 0)
        bench->page_dir = dir;
    else {
        ca_test_rmtree(dir);
        zstr_free(&dir);
    }
    return rc;
}

//  Puts the paged channel into the node's data dir, once: the node is
//  stopped, its cairn.db filled with raw SQLite, and started again. 0, or
//  -1 after saying why.
static int s_fill_node_pages(bench_t *bench) {
    harness_node_t *node = bench_node(bench);
    if (!node || bench->node_pages_ready)
        return node ? 0 : -1;
    printf("node stops to take the paged channel into its data dir; figures until now:\n");
    s_print_node_info(bench);
    bench_print_node_memory(bench, "before it stops for the paged channel");
    int status = harness_node_stop(node);
    if (status != 0)
        return bench_fail("node", "cairnd exited with status %d (log printed above)", status);
    sqlite3 *db = bench_sqlite_open(harness_node_data_dir(node));
    int rc = db ? s_populate_pages(bench, db, "the node's cairn.db") : -1;
    sqlite3_close(db);
    if (rc != 0)
        bench_fail("node",
                   "cannot fill the paged channel into %s/%s (does this cairnd serve the "
                   "messages and channels stores?)",
                   harness_node_data_dir(node), CA_DB_FILE);
    else if (harness_node_restart(node) != 0)
        rc = bench_fail("node", "cairnd (%s) did not start again", harness_cairnd_path());
    bench->node_pages_ready = rc == 0;
    return rc;
}

//  Both sides' paged channels (of the sides whose msg_page cases are
//  selected) are filled before the first msg_page case runs, so that each
//  baseline and its node case run seconds apart. 0, or -1 after saying why.
static int s_fill_pages(bench_t *bench) {
    if (bench->want_sqlite_pages && s_fill_baseline_pages(bench) != 0)
        return -1;
    return bench->want_node_pages ? s_fill_node_pages(bench) : 0;
}

//  Binds `query` to the page SELECT it runs (MIRROR_PAGE_*).
static void s_bind_page(sqlite3_stmt *select, const page_query_t *query) {
    sqlite3_bind_text(select, 1, PAGE_CHANNEL, -1, SQLITE_STATIC);
    sqlite3_bind_double(select, 2, 0);
    sqlite3_bind_int64(select, 3, MIRROR_PAGE_ROWS);
    if (query->keyset) {
        sqlite3_bind_double(select, 4, query->before_timestamp);
        sqlite3_bind_text(select, 5, query->before_id, -1, SQLITE_STATIC);
    } else
        sqlite3_bind_int64(select, 4, query->offset);
}

//  Runs one page SELECT as the node does: steps up to MIRROR_PAGE_ROWS rows
//  and reads every column of the first PAGE_LIMIT. -1 (after saying why)
//  when the page is not the expected one.
static int s_sqlite_page(sqlite3 *db, sqlite3_stmt *select, const page_query_t *query,
                         const char *name, uint64_t *sink) {
    s_bind_page(select, query);
    int rows = 0;
    bool first_ok = false;
    int rc;
    while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(select, 0);
        if (rows++ == 0)
            first_ok = id && streq(id, query->first_id);
        for (int column = 1; rows <= PAGE_LIMIT && column < sqlite3_column_count(select);
             column++) {
            if (sqlite3_column_type(select, column) == SQLITE_FLOAT)
                *sink += (uint64_t)sqlite3_column_double(select, column);
            else if (sqlite3_column_type(select, column) == SQLITE_INTEGER)
                *sink += (uint64_t)sqlite3_column_int64(select, column);
            else {
                const uint8_t *data = (const uint8_t *)sqlite3_column_blob(select, column);
                int size = sqlite3_column_bytes(select, column);
                *sink += data && size > 0 ? (uint64_t)data[size - 1] + (uint64_t)size : 0;
            }
        }
    }
    sqlite3_reset(select);
    sqlite3_clear_bindings(select);
    if (rc != SQLITE_DONE)
        return bench_fail(name, "SELECT: %s", sqlite3_errmsg(db));
    if (rows < PAGE_LIMIT || !first_ok)
        return bench_fail(name, "page of %d rows not starting at %s", rows, query->first_id);
    return 0;
}

static int s_run_sqlite_page(bench_t *bench, result_t *result, const char *name, page_kind_t kind) {
    page_query_t query;
    s_page_query(bench, kind, &query);
    sqlite3 *db = s_fill_pages(bench) == 0 && s_fill_baseline_pages(bench) == 0
                      ? bench_sqlite_open(bench->page_dir)
                      : NULL;
    sqlite3_stmt *select = NULL;
    int rc =
        db ? s_sqlite_prepare(db, query.keyset ? MIRROR_PAGE_KEYSET : MIRROR_PAGE_OFFSET, &select)
           : -1;
    uint64_t sink = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && !zsys_interrupted && result->ok < bench->max_ops &&
           zclock_usecs() < deadline) {
        rc = s_sqlite_page(db, select, &query, name, &sink);
        if (rc == 0)
            result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(select);
    sqlite3_close(db);
    return rc;
}

static int s_run_sqlite_page_offset0(bench_t *bench, result_t *result) {
    return s_run_sqlite_page(bench, result, "sqlite.msg_page.offset0", PAGE_OFFSET0);
}

static int s_run_sqlite_page_deep_offset(bench_t *bench, result_t *result) {
    return s_run_sqlite_page(bench, result, "sqlite.msg_page.deep_offset", PAGE_DEEP_OFFSET);
}

static int s_run_sqlite_page_deep_keyset(bench_t *bench, result_t *result) {
    return s_run_sqlite_page(bench, result, "sqlite.msg_page.deep_keyset", PAGE_DEEP_KEYSET);
}

//  The same ids as the node's GossipAdd in transactions of SQLITE_BATCH;
//  counts the ids that were new into *added.
static int s_sqlite_gossip_batch(sqlite3 *db, sqlite3_stmt *insert, gossip_seq_t *seq,
                                 uint64_t count, uint64_t *added) {
    int rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE");
    for (uint64_t n = 0; n < count && rc == 0; n++) {
        char id[UUID_TEXT_SIZE];
        s_gossip_next(seq, id);
        sqlite3_bind_text(insert, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(insert, 2, GOSSIP_TTL);
        sqlite3_bind_double(insert, 3, s_now());
        rc = s_sqlite_step(db, insert, "INSERT OR IGNORE gossip");
        *added += rc == 0 ? (uint64_t)sqlite3_changes(db) : 0;
    }
    if (rc == 0)
        return bench_sqlite_exec(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int s_run_sqlite_gossip(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    sqlite3 *db = s_sqlite_open_msg(dir);
    sqlite3_stmt *insert = NULL;
    int rc = db ? s_sqlite_prepare(db, MIRROR_GOSSIP_ADD, &insert) : -1;
    gossip_seq_t seq = {0, 0};
    uint64_t added = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && !zsys_interrupted && result->ok < bench->max_ops &&
           zclock_usecs() < deadline) {
        uint64_t count = bench->max_ops - result->ok;
        count = count < SQLITE_BATCH ? count : SQLITE_BATCH;
        rc = s_sqlite_gossip_batch(db, insert, &seq, count, &added);
        if (rc == 0)
            result->ok += count;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0 && result->ok)
        printf("sqlite.gossip_add.mixed: %.1f%% of %" PRIu64 " ids were new\n",
               100.0 * (double)added / (double)result->ok, result->ok);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  ---- the node: the message store ------------------------------------------------------

//  Creates channel `name` through the node; one that exists already is fine.
static int s_node_channel(bench_t *bench, const char *name) {
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    Cairn__ChannelCreate create = CAIRN__CHANNEL_CREATE__INIT;
    create.name = (char *)name;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = 1;
    request.body_case = CAIRN__REQUEST__BODY_CHANNEL_CREATE;
    request.channel_create = &create;
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int rc = response && (response->status == CAIRN__STATUS__OK ||
                          response->status == CAIRN__STATUS__CONFLICT)
                 ? 0
                 : bench_fail("node", "ChannelCreate %s: %s", name,
                              response ? response->error : "no answer");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    return rc;
}

typedef struct {
    double base; //  timestamp of message 0
} store_context_t;

static int s_msg_store_send(void *handle, uint64_t id, void *context) {
    const store_context_t *store = (const store_context_t *)context;
    bench_message_t bench_message;
    s_message(&bench_message, UUID_STORE, id, store->base + (double)id * STORE_TIME_STEP);
    Cairn__Message message = CAIRN__MESSAGE__INIT;
    message.id = bench_message.id;
    message.timestamp = bench_message.timestamp;
    message.sender_id = (char *)SENDER_ID;
    message.sender_name = (char *)SENDER_NAME;
    message.channel = (char *)STORE_CHANNEL;
    message.content.data = (uint8_t *)bench_message.content;
    message.content.len = MSG_CONTENT_BYTES;
    message.signature.data = (uint8_t *)BENCH_SIGNATURE;
    message.signature.len = MSG_SIGNATURE_BYTES;
    Cairn__MessageStore store_request = CAIRN__MESSAGE_STORE__INIT;
    store_request.message = &message;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
    request.message_store = &store_request;
    return bench_send_request(handle, &request);
}

static const wire_t s_msg_store_wire = {s_msg_store_send, bench_response_decode};

static int s_run_node_msg_store(bench_t *bench, result_t *result) {
    if (!bench_node(bench) || s_node_channel(bench, STORE_CHANNEL) != 0)
        return -1;
    store_context_t store = {s_now()};
    return bench_run_node(bench, result, "node.msg_store.pipelined", &s_msg_store_wire, &store,
                          bench->window);
}

static int s_msg_page_send(void *handle, uint64_t id, void *context) {
    const page_query_t *query = (const page_query_t *)context;
    Cairn__MessageList list = CAIRN__MESSAGE_LIST__INIT;
    list.channel = (char *)PAGE_CHANNEL;
    list.limit = PAGE_LIMIT;
    list.offset = query->offset;
    if (query->keyset) {
        list.before_timestamp = query->before_timestamp;
        list.before_id = (char *)query->before_id;
    }
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_LIST;
    request.message_list = &list;
    return bench_send_request(handle, &request);
}

//  A page answer counts as OK only when it is the expected page: PAGE_LIMIT
//  messages, starting at the expected one.
static int s_msg_page_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                             result_t *result, void *context) {
    const page_query_t *query = (const page_query_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK) {
        const Cairn__MessagePage *page = response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_LIST
                                             ? response->message_list
                                             : NULL;
        if (!page || page->n_messages != PAGE_LIMIT ||
            !streq(page->messages[0]->id, query->first_id)) {
            *outcome = OUTCOME_ERROR;
            bench_first_error(
                result, "OK, but a page of %zu messages starting at %s, not %d from %s",
                page ? page->n_messages : 0, page && page->n_messages ? page->messages[0]->id : "-",
                PAGE_LIMIT, query->first_id);
        }
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_msg_page_wire = {s_msg_page_send, s_msg_page_decode};

static int s_run_node_page(bench_t *bench, result_t *result, const char *name, page_kind_t kind,
                           int window) {
    if (s_fill_pages(bench) != 0 || s_fill_node_pages(bench) != 0)
        return -1;
    page_query_t query;
    s_page_query(bench, kind, &query);
    return bench_run_node(bench, result, name, &s_msg_page_wire, &query, window);
}

static int s_run_node_page_offset0(bench_t *bench, result_t *result) {
    return s_run_node_page(bench, result, "node.msg_page.offset0", PAGE_OFFSET0, bench->window);
}

static int s_run_node_page_deep_offset(bench_t *bench, result_t *result) {
    int window = bench->window < DEEP_OFFSET_WINDOW ? bench->window : DEEP_OFFSET_WINDOW;
    return s_run_node_page(bench, result, "node.msg_page.deep_offset", PAGE_DEEP_OFFSET, window);
}

static int s_run_node_page_deep_keyset(bench_t *bench, result_t *result) {
    return s_run_node_page(bench, result, "node.msg_page.deep_keyset", PAGE_DEEP_KEYSET,
                           bench->window);
}

typedef struct {
    gossip_seq_t seq;
    uint64_t added; //  OK answers with added = true
} gossip_context_t;

static int s_gossip_send(void *handle, uint64_t id, void *context) {
    gossip_context_t *gossip = (gossip_context_t *)context;
    char message_id[UUID_TEXT_SIZE];
    s_gossip_next(&gossip->seq, message_id);
    Cairn__GossipAdd add = CAIRN__GOSSIP_ADD__INIT;
    add.message_id = message_id;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_GOSSIP_ADD;
    request.gossip_add = &add;
    return bench_send_request(handle, &request);
}

static int s_gossip_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                           result_t *result, void *context) {
    gossip_context_t *gossip = (gossip_context_t *)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && response->body_case == CAIRN__RESPONSE__BODY_GOSSIP_ADD &&
        response->gossip_add->added)
        gossip->added++;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_gossip_wire = {s_gossip_send, s_gossip_decode};

static int s_run_node_gossip(bench_t *bench, result_t *result) {
    gossip_context_t gossip = {{0, 0}, 0};
    int rc = bench_run_node(bench, result, "node.gossip_add.mixed", &s_gossip_wire, &gossip,
                            bench->window);
    if (rc == 0 && result->ok)
        printf("node.gossip_add.mixed: %.1f%% of %" PRIu64 " ids were new\n",
               100.0 * (double)gossip.added / (double)result->ok, result->ok);
    return rc;
}

//  ---- the cases ----------------------------------------------------------------------

//  Sizes of the hash and content cases.
#define KIB4  ((size_t)4096)
#define MIB1  ((size_t)1 << 20)
#define MIB64 ((size_t)64 << 20)
#define GIB1  ((size_t)1 << 30)

//  The OpenSSL rows exist only when the bench links libcrypto.
#ifdef CAIRN_BENCH_OPENSSL
#define IF_OPENSSL(name) name
#else
#define IF_OPENSSL(name) NULL
#endif

static const bench_case_t s_cases[] = {
    {.name = "raw.sha256_sodium.4k",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_sodium,
     .size = KIB4,
     .what = "libsodium crypto_hash_sha256 of a 4 KiB buffer, MB/s"},
    {.name = "raw.sha256_sodium.1m",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_sodium,
     .size = MIB1,
     .what = "the same, 1 MiB"},
    {.name = "raw.sha256_sodium.64m",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_sodium,
     .size = MIB64,
     .what = "the same, 64 MiB"},
#ifdef CAIRN_BENCH_OPENSSL
    {.name = "raw.sha256_openssl.4k",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_openssl,
     .size = KIB4,
     .versus = {"raw.sha256_sodium.4k"},
     .what = "OpenSSL EVP SHA-256 (fetched once, one context) of a 4 KiB buffer, MB/s"},
    {.name = "raw.sha256_openssl.1m",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_openssl,
     .size = MIB1,
     .versus = {"raw.sha256_sodium.1m"},
     .what = "the same, 1 MiB"},
    {.name = "raw.sha256_openssl.64m",
     .kind = KIND_BASELINE,
     .sized = bench_run_sha256_openssl,
     .size = MIB64,
     .versus = {"raw.sha256_sodium.64m"},
     .what = "the same, 64 MiB"},
#endif
    {.name = "hash.ca_sha256.4k",
     .kind = KIND_HELPER,
     .sized = bench_run_ca_sha256,
     .size = KIB4,
     .versus = {"raw.sha256_sodium.4k", IF_OPENSSL("raw.sha256_openssl.4k")},
     .what = "cairn's ca_sha256 (this build's backend) of a 4 KiB buffer, MB/s"},
    {.name = "hash.ca_sha256.1m",
     .kind = KIND_HELPER,
     .sized = bench_run_ca_sha256,
     .size = MIB1,
     .versus = {"raw.sha256_sodium.1m", IF_OPENSSL("raw.sha256_openssl.1m")},
     .what = "the same, 1 MiB"},
    {.name = "hash.ca_sha256.64m",
     .kind = KIND_HELPER,
     .sized = bench_run_ca_sha256,
     .size = MIB64,
     .versus = {"raw.sha256_sodium.64m", IF_OPENSSL("raw.sha256_openssl.64m")},
     .what = "the same, 64 MiB"},
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
    {.name = "sqlite.msg_insert.tx1000",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_msg_insert,
     .what = "raw SQLite, the node's message INSERT + channel UPDATE, 1000 per transaction"},
    {.name = "node.msg_store.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_msg_store,
     .versus = {"sqlite.msg_insert.tx1000"},
     .what = "cairnd MessageStore, 256-byte clear text, one channel, --window outstanding"},
    {.name = "sqlite.msg_page.offset0",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_page_offset0,
     .what = "raw SQLite, the node's page SELECT, newest 50 messages"},
    {.name = "node.msg_page.offset0",
     .kind = KIND_NODE,
     .run = s_run_node_page_offset0,
     .versus = {"sqlite.msg_page.offset0"},
     .what = "cairnd MessageList, newest 50, --window outstanding"},
    {.name = "sqlite.msg_page.deep_offset",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_page_deep_offset,
     .what = "raw SQLite, the node's page SELECT, 50 messages at offset 90%"},
    {.name = "node.msg_page.deep_offset",
     .kind = KIND_NODE,
     .run = s_run_node_page_deep_offset,
     .versus = {"sqlite.msg_page.deep_offset"},
     .what = "cairnd MessageList, offset 90%, min(--window, 4) outstanding"},
    {.name = "sqlite.msg_page.deep_keyset",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_page_deep_keyset,
     .what = "raw SQLite, the node's keyset SELECT, the same page as deep_offset"},
    {.name = "node.msg_page.deep_keyset",
     .kind = KIND_NODE,
     .run = s_run_node_page_deep_keyset,
     .versus = {"sqlite.msg_page.deep_keyset"},
     .what = "cairnd MessageList, keyset cursor at 90%, --window outstanding"},
    {.name = "sqlite.gossip_add.mixed",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_gossip,
     .what = "raw SQLite, INSERT OR IGNORE of ids half new, 1000 per transaction"},
    {.name = "node.gossip_add.mixed",
     .kind = KIND_NODE,
     .run = s_run_node_gossip,
     .versus = {"sqlite.gossip_add.mixed"},
     .what = "cairnd GossipAdd of ids half new, --window outstanding"},
    {.name = "raw.content_put.4k",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_put,
     .size = KIB4,
     .what = "SHA-256 + temp file + fsync + rename + fsync dir, 4 KiB blobs, MB/s"},
    {.name = "node.content_put.4k",
     .kind = KIND_NODE,
     .sized = bench_run_node_put,
     .size = KIB4,
     .versus = {"raw.content_put.4k"},
     .what = "cairnd ContentPut of distinct 4 KiB blobs, a window outstanding"},
    {.name = "raw.content_put.1m",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_put,
     .size = MIB1,
     .what = "the same raw put, 1 MiB blobs"},
    {.name = "node.content_put.1m",
     .kind = KIND_NODE,
     .sized = bench_run_node_put,
     .size = MIB1,
     .versus = {"raw.content_put.1m"},
     .what = "cairnd ContentPut of distinct 1 MiB blobs, a window outstanding"},
    {.name = "raw.content_put.64m",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_put,
     .size = MIB64,
     .what = "the same raw put, 64 MiB blobs"},
    {.name = "node.content_put.64m",
     .kind = KIND_NODE,
     .sized = bench_run_node_put,
     .size = MIB64,
     .versus = {"raw.content_put.64m"},
     .what = "cairnd ContentBegin + 4 MiB ContentChunks (a window) + ContentCommit, 64 MiB"},
    {.name = "raw.content_get.4k",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_get,
     .size = KIB4,
     .what = "read the file + SHA-256 + compare, 4 KiB blobs"},
    {.name = "node.content_get.4k",
     .kind = KIND_NODE,
     .sized = bench_run_node_get,
     .size = KIB4,
     .versus = {"raw.content_get.4k"},
     .what = "cairnd ContentGet (verified) of 4 KiB blobs, a window outstanding"},
    {.name = "raw.content_get.1m",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_get,
     .size = MIB1,
     .what = "the same raw get, 1 MiB blobs"},
    {.name = "node.content_get.1m",
     .kind = KIND_NODE,
     .sized = bench_run_node_get,
     .size = MIB1,
     .versus = {"raw.content_get.1m"},
     .what = "cairnd ContentGet (verified) of 1 MiB blobs, a window outstanding"},
    {.name = "raw.content_get.64m",
     .kind = KIND_BASELINE,
     .sized = bench_run_raw_get,
     .size = MIB64,
     .what = "the same raw get, 64 MiB blobs (4 MiB reads, hashed incrementally)"},
    {.name = "node.content_get.64m",
     .kind = KIND_NODE,
     .sized = bench_run_node_get,
     .size = MIB64,
     .versus = {"raw.content_get.64m"},
     .what = "cairnd ContentRead of 4 MiB ranges in order (verified), a window, 64 MiB"},
    {.name = "node.cache_put.4k",
     .kind = KIND_NODE,
     .sized = bench_run_node_cache_put,
     .size = KIB4,
     .versus = {"raw.content_put.4k"},
     .what = "cairnd CachePut of distinct 4 KiB entries, a window outstanding"},
    {.name = "node.cache_get.4k",
     .kind = KIND_NODE,
     .sized = bench_run_node_cache_get,
     .size = KIB4,
     .versus = {"raw.content_get.4k"},
     .what = "cairnd CacheGet (verified) of the 4 KiB entries, a window outstanding"},
    {.name = "node.content_1gib",
     .kind = KIND_NODE,
     .sized = bench_run_node_content_stream,
     .size = GIB1,
     .optional = true,
     .what = "(only when named) 1 GiB streamed in and read back; the node's VmHWM"},
    {.name = "sqlite.prov_add.tx1000",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_prov_add,
     .what = "INSERT of each DAG node's edges (--prov-nodes), 1000 nodes per transaction"},
    {.name = "node.prov_add.pipelined",
     .kind = KIND_NODE,
     .run = bench_run_node_prov_add,
     .versus = {"sqlite.prov_add.tx1000"},
     .what = "cairnd ProvAdd of each node with its sources (root cache kept), a window"},
    {.name = "sqlite.prov_roots.cte",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_prov_roots,
     .what = "the root set of a random node: WITH RECURSIVE up the edge table"},
    {.name = "node.prov_roots.pipelined",
     .kind = KIND_NODE,
     .run = bench_run_node_prov_roots,
     .versus = {"sqlite.prov_roots.cte"},
     .what = "cairnd ProvRoots of the same nodes (root cache), a window outstanding"},
    {.name = "node.prov_roots.rtt",
     .kind = KIND_NODE,
     .run = bench_run_node_prov_roots_rtt,
     .versus = {"sqlite.prov_roots.cte"},
     .what = "cairnd ProvRoots of the same nodes, one at a time"},
    {.name = "sqlite.prov_ancestor.random",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_prov_ancestor_random,
     .what = "is-ancestor of two random nodes: WITH RECURSIVE up from one, LIMIT 1"},
    {.name = "node.prov_ancestor.random",
     .kind = KIND_NODE,
     .run = bench_run_node_prov_ancestor_random,
     .versus = {"sqlite.prov_ancestor.random"},
     .what = "cairnd ProvAncestor of the same pairs, a window outstanding"},
    {.name = "sqlite.prov_ancestor.strand",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_prov_ancestor_strand,
     .what = "the same CTE, two random nodes of one strand (related: about half true)"},
    {.name = "node.prov_ancestor.strand",
     .kind = KIND_NODE,
     .run = bench_run_node_prov_ancestor_strand,
     .versus = {"sqlite.prov_ancestor.strand"},
     .what = "cairnd ProvAncestor of the same pairs (the cache cannot decide: a walk)"},
    //  ---- the ledger and the settlement queue (bench_money.c)
    {.name = "raw.ed25519_verify",
     .kind = KIND_BASELINE,
     .run = bench_run_raw_ed25519_verify,
     .what = "libsodium crypto_sign_verify_detached of canonical payment payloads, one thread"},
    {.name = "node.ledger_pay.pipelined",
     .kind = KIND_NODE,
     .run = bench_run_node_ledger_pay,
     .versus = {"raw.ed25519_verify"},
     .what = "cairnd LedgerPay of distinct signed payments (verified, durable), a window"},
    {.name = "sqlite.settle_total",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_settle_total,
     .what = "the settlement store's pending-total SELECT, summed in C, over 20,000 rows"},
    {.name = "node.settle_total",
     .kind = KIND_NODE,
     .run = bench_run_node_settle_total,
     .versus = {"sqlite.settle_total"},
     .what = "cairnd SettleTotal over the same 20,000 pending rows, 16 outstanding"},
    {.name = "sqlite.settle_enqueue.tx1000",
     .kind = KIND_BASELINE,
     .run = bench_run_sqlite_settle_enqueue,
     .what = "the settlement store's INSERT, 1000 per transaction, synchronous=FULL"},
    {.name = "node.settle_enqueue.pipelined",
     .kind = KIND_NODE,
     .run = bench_run_node_settle_enqueue,
     .versus = {"sqlite.settle_enqueue.tx1000"},
     .what = "cairnd SettleEnqueue of distinct distributions (durable), a window"},
};

#define CASE_COUNT (sizeof s_cases / sizeof s_cases[0])

static int s_case_index(const char *name) {
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (streq(s_cases[i].name, name))
            return (int)i;
    return -1;
}

//  Whether `item` of a --cases list names case `index`: its whole name, or
//  its first dot-separated parts ("raw.sha256_sodium" names every size),
//  except for an optional case, which is named in full only.
static bool s_case_named(size_t index, const char *item) {
    const char *name = s_cases[index].name;
    size_t length = strlen(item);
    if (s_cases[index].optional || strncmp(name, item, length) != 0)
        return streq(name, item);
    return name[length] == '\0' || name[length] == '.';
}

//  Marks the cases named in `list` (when NULL: all but the optional ones);
//  -1 on a name that names no case.
static int s_select_cases(const char *list, bool *selected) {
    for (size_t i = 0; i < CASE_COUNT; i++)
        selected[i] = list == NULL && !s_cases[i].optional;
    if (!list)
        return 0;
    char *copy = strdup(list);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < CASE_COUNT; i++)
            if (s_case_named(i, item))
                selected[i] = found = true;
        if (!found) {
            fprintf(stderr, "cairn-bench: unknown case '%s'; see cairn-bench --list\n", item);
            rc = -1;
        }
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
    bench_hash_print_versions();
    printf("settings: %.3g s per case, window %d, at most %" PRIu64 " ops per case, "
           "%" PRIu64 " messages in the paged channel, %" PRIu64 " nodes in the provenance DAG\n\n",
           bench->seconds, bench->window, bench->max_ops, bench->page_messages, bench->prov_nodes);
    fflush(stdout);
}

static void s_print_results(const result_t *results) {
    printf("\n%-30s %-8s %12s %10s %11s %8s %8s %8s\n", "case", "kind", "ops/s", "MB/s", "ok",
           "busy", "errors", "seconds");
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (!results[i].ran)
            continue;
        char mb[32] = "-";
        if (results[i].bytes)
            snprintf(mb, sizeof mb, "%.1f", s_mb_per_second(&results[i]));
        double rate = s_ops_per_second(&results[i]);
        printf("%-30s %-8s %12.*f %10s %11" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8.2f\n",
               s_cases[i].name, s_kind_name(s_cases[i].kind), s_rate_digits(rate), rate, mb,
               results[i].ok, results[i].busy, results[i].errors, results[i].seconds);
    }
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (results[i].ran && results[i].first_error[0])
            printf("first error of %s: %s\n", s_cases[i].name, results[i].first_error);
}

//  The ratio of two results: of MB/s when both carry payload, else of ops/s.
static double s_ratio(const result_t *result, const result_t *base) {
    bool bytes = result->bytes && base->bytes;
    double denominator = bytes ? s_mb_per_second(base) : s_ops_per_second(base);
    double numerator = bytes ? s_mb_per_second(result) : s_ops_per_second(result);
    return denominator > 0 ? numerator / denominator : 0.0;
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
                printf("\nratios (case / the case it is measured against, same run; MB/s where "
                       "both move payload, else ops/s):\n");
            title = true;
            char label[96];
            snprintf(label, sizeof label, "%s / %s", s_cases[i].name, s_cases[base].name);
            printf("  %-56s = %.3f\n", label, s_ratio(&results[i], &results[base]));
        }
    }
}

//  ---- options and main ----------------------------------------------------------------

static void s_usage(FILE *out) {
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
            (unsigned long long)DEFAULT_PAGE_MESSAGES, (unsigned long long)MIN_PAGE_MESSAGES,
            (unsigned long long)BENCH_PROV_DEFAULT_NODES, (unsigned long long)BENCH_PROV_MIN_NODES);
    for (size_t i = 0; i < CASE_COUNT; i++)
        fprintf(out, "  %-27s %-8s %s\n", s_cases[i].name, s_kind_name(s_cases[i].kind),
                s_cases[i].what);
}

//  --list: the case names, the optional ones marked.
static void s_list(void) {
    for (size_t i = 0; i < CASE_COUNT; i++)
        printf("%s%s\n", s_cases[i].name, s_cases[i].optional ? " (optional)" : "");
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
static int s_parse_options(bench_t *bench, int argc, char **argv) {
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
            if (s_parse_count("--page-messages", MIN_PAGE_MESSAGES, MAX_PAGE_MESSAGES,
                              &bench->page_messages) != 0)
                return -1;
        } else if (opt == OPT_PROV_NODES) {
            if (s_parse_count("--prov-nodes", BENCH_PROV_MIN_NODES, BENCH_PROV_MAX_NODES,
                              &bench->prov_nodes) != 0)
                return -1;
        } else if (opt == OPT_LIST) {
            s_list();
            return 1;
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
            return bench_fail(s_cases[i].name, "interrupted");
        const bench_case_t *row = &s_cases[i];
        int rc = row->sized ? row->sized(bench, &results[i], row->name, row->size)
                            : row->run(bench, &results[i]);
        results[i].ran = rc == 0;
        double rate = s_ops_per_second(&results[i]);
        if (rc == 0 && results[i].bytes)
            printf("done %-30s %12.*f ops/s %10.1f MB/s\n", row->name, s_rate_digits(rate), rate,
                   s_mb_per_second(&results[i]));
        else if (rc == 0)
            printf("done %-30s %12.*f ops/s\n", row->name, s_rate_digits(rate), rate);
        fflush(stdout);
        if (rc == 0 && results[i].ok == 0)
            rc = bench_fail(s_cases[i].name, "no operation completed OK");
        if (rc != 0)
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
    s_print_node_info(bench);
    bench_print_node_memory(bench, "at the end of the run");
    int status = harness_node_stop(bench->node);
    harness_node_destroy(&bench->node);
    if (status != 0)
        return bench_fail("node", "cairnd exited with status %d (log printed above)", status);
    printf("node stopped: exit status 0\n");
    return 0;
}

static void s_bench_destroy(bench_t *bench) {
    bench_content_destroy(&bench->content);
    bench_prov_destroy(&bench->prov);
    bench_money_destroy(&bench->money);
    harness_node_destroy(&bench->node);
    free(bench->pattern);
    zactor_destroy(&bench->echo);
    zstr_free(&bench->echo_endpoint);
    if (bench->page_dir)
        ca_test_rmtree(bench->page_dir);
    zstr_free(&bench->page_dir);
    free(bench->cases);
    free(bench->command_line);
}

int main(int argc, char **argv) {
    bench_t bench = {.seconds = DEFAULT_SECONDS,
                     .window = DEFAULT_WINDOW,
                     .max_ops = DEFAULT_MAX_OPS,
                     .page_messages = DEFAULT_PAGE_MESSAGES,
                     .prov_nodes = BENCH_PROV_DEFAULT_NODES,
                     .command_line = s_command_line(argc, argv)};
    int parsed = s_parse_options(&bench, argc, argv);
    bool selected[CASE_COUNT];
    if (parsed == 0 && s_select_cases(bench.cases, selected) != 0)
        parsed = -1;
    if (parsed != 0) {
        s_bench_destroy(&bench);
        return parsed > 0 ? 0 : 2;
    }
    for (size_t i = 0; i < CASE_COUNT; i++) {
        bench.want_sqlite_pages |=
            selected[i] && strncmp(s_cases[i].name, "sqlite.msg_page.", 16) == 0;
        bench.want_node_pages |= selected[i] && strncmp(s_cases[i].name, "node.msg_page.", 14) == 0;
    }
    zsys_init();
    //  The paged channel's newest message is a minute old (whole seconds,
    //  so both databases hold the same timestamps).
    bench.page_base = (double)(time(NULL) - 60) - (double)bench.page_messages * PAGE_TIME_STEP;
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

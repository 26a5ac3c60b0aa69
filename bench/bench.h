/*  =========================================================================
    bench - what the cases of cairn-bench share: run state, results, the
    request/answer driver and the node

    cairn_bench.c holds main, the case table, the report and the message
    store's cases; bench_hash.c the SHA-256 cases; bench_content.c the
    content store's and the peer-content cache's cases. A case is a function
    `int run(bench_t *, result_t *)`, or a sized one that is also given its
    row's name and payload size; it fills the result and returns 0, or says
    why it failed and returns -1.
    ========================================================================= */

#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED

#include "harness.h"

#include <czmq.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STALL_TIMEOUT_MS 10000 //  a request unanswered this long fails the case

typedef struct _bench_content_t bench_content_t;
typedef struct _bench_prov_t bench_prov_t;
typedef struct _bench_money_t bench_money_t;

//  The run: options, and what the cases set up once and share.
typedef struct {
    double seconds;
    int window;
    uint64_t max_ops;
    uint64_t page_messages; //  messages in the paged channel
    char *cases;            //  comma-separated selection, NULL for the default set
    char *command_line;     //  as typed, for the report
    harness_node_t *node;
    zactor_t *echo;
    char *echo_endpoint;
    double page_base;         //  timestamp of the paged channel's oldest message
    bool node_pages_ready;    //  the node's data dir holds the paged channel
    char *page_dir;           //  the baseline's paged database, once filled
    bool want_node_pages;     //  a node.msg_page case is selected
    bool want_sqlite_pages;   //  a sqlite.msg_page case is selected
    uint8_t *pattern;         //  pseudo-random bytes the hash and content cases use
    size_t pattern_size;      //
    bench_content_t *content; //  the content cases' state (bench_content.c)
    uint64_t prov_nodes;      //  nodes of the provenance cases' DAG (bench_prov.c)
    bench_prov_t *prov;       //  the provenance cases' state
    bench_money_t *money;     //  the ledger and settlement cases' state (bench_money.c)
} bench_t;

typedef struct {
    bool ran;
    uint64_t ok;
    uint64_t busy;
    uint64_t errors; //  any status other than OK and BUSY
    uint64_t bytes;  //  payload bytes of the OK operations (0: ops/s only)
    double seconds;  //  first send to last answer
    char first_error[160];
} result_t;

//  Prints why a case failed; returns -1 for the caller to pass on.
int bench_fail(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));

//  Keeps the first error's message for the report.
void bench_first_error(result_t *result, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

//  The bound of a timed loop that does one operation at a time: true while
//  the case may do another (not interrupted, under --max-ops, before
//  `deadline` in zclock_usecs time).
bool bench_go_on(const bench_t *bench, const result_t *result, int64_t deadline);

//  `size` bytes of a fixed pseudo-random pattern (the same in every run),
//  owned by the run; valid until the run ends.
const uint8_t *bench_pattern(bench_t *bench, size_t size);

//  ---- answered-exactly-once check ---------------------------------------------------
//  Ids are sent as 1, 2, 3, ...; a bitmap marks the answered ones.

typedef struct {
    uint64_t *bits;
    uint64_t words;
    uint64_t sent;
    uint64_t answered;
} tracker_t;

void bench_tracker_sent(tracker_t *tracker, uint64_t id);
//  Marks `id` answered. -1 (after saying why) when it was never sent or
//  was answered before.
int bench_tracker_answer(tracker_t *tracker, const char *name, uint64_t id);
//  -1 (after naming the first missing id) unless every sent id was answered.
int bench_tracker_check(const tracker_t *tracker, const char *name);
void bench_tracker_free(tracker_t *tracker);

//  ---- raw SQLite ----------------------------------------------------------------------

//  Runs `sql`; -1 (after saying why) on error.
int bench_sqlite_exec(sqlite3 *db, const char *sql);

//  Opens (or creates) the database in `dir` with the writer's pragmas
//  (WAL, synchronous=NORMAL, foreign_keys=ON, each read back). NULL after
//  saying why.
sqlite3 *bench_sqlite_open(const char *dir);

//  ---- the request/answer driver ---------------------------------------------------------

typedef enum { OUTCOME_OK, OUTCOME_BUSY, OUTCOME_ERROR } outcome_t;

//  `context` is the case's own state (NULL when it needs none), passed
//  through bench_drive to both functions.
typedef struct {
    //  Sends request `id` on the libzmq socket `handle`; 0 or -1.
    int (*send)(void *handle, uint64_t id, void *context);
    //  Reads one answer; -1 when it is not a valid answer at all.
    int (*decode)(const void *data, size_t size, uint64_t *id, outcome_t *outcome, result_t *result,
                  void *context);
} wire_t;

//  Receives one answer on the libzmq socket `handle` (flags: 0 waits up to
//  STALL_TIMEOUT_MS, or ZMQ_DONTWAIT), decodes it with `wire`, marks it
//  in `tracker` and counts it in `result` (ok, busy or errors). Returns 0
//  when one was counted, 1 when none was waiting (ZMQ_DONTWAIT only), -1
//  on failure (said why).
int bench_receive(void *handle, const wire_t *wire, void *context, tracker_t *tracker,
                  const char *name, int flags, result_t *result);

//  Keeps up to `window` requests outstanding on `client` (window 1 is a
//  plain round trip) until --seconds or --max-ops runs out, then collects
//  the answers still owed. 0, or -1 after saying why.
int bench_drive(bench_t *bench, const char *name, zsock_t *client, const wire_t *wire,
                void *context, int window, result_t *result);

//  The same with explicit bounds, for setup that must do exactly `max_ops`
//  requests (seconds: a bound that should never be reached).
int bench_drive_for(double seconds, uint64_t max_ops, const char *name, zsock_t *client,
                    const wire_t *wire, void *context, int window, result_t *result);

//  ---- the node ------------------------------------------------------------------------

//  The node, started on first use; NULL (after saying why) if it failed.
harness_node_t *bench_node(bench_t *bench);

//  bench_drive on a new connection to the node.
int bench_run_node(bench_t *bench, result_t *result, const char *name, const wire_t *wire,
                   void *context, int window);

//  Packs and sends one request on the libzmq socket `handle`; 0 or -1.
int bench_send_request(void *handle, const Cairn__Request *request);

//  The outcome of any cairn Response: OK, BUSY or another status (whose
//  message is kept as the first error).
outcome_t bench_response_outcome(const Cairn__Response *response, result_t *result);

//  A wire_t decode that counts any OK answer.
int bench_response_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context);

//  ---- the sized cases: bench_hash.c and bench_content.c -----------------------------------
//  A sized case is run with its table row's name and payload size.

typedef int(bench_sized_fn)(bench_t *bench, result_t *result, const char *name, size_t size);

//  SHA-256 of one `size`-byte buffer, over and over: libsodium's
//  crypto_hash_sha256, OpenSSL's EVP with the digest fetched once (when the
//  bench links libcrypto), and cairn's own ca_sha256 (the backend this
//  build chose).
bench_sized_fn bench_run_sha256_sodium;
#ifdef CAIRN_BENCH_OPENSSL
bench_sized_fn bench_run_sha256_openssl;
#endif
bench_sized_fn bench_run_ca_sha256;

//  One line for the report's header: hash backend, library versions,
//  whether the CPU has SHA extensions and OPENSSL_ia32cap.
void bench_hash_print_versions(void);

//  Content of `size` bytes, each blob distinct. put: the raw baseline
//  (SHA-256, temp file, fsync, rename, fsync of the directory) and the node
//  (ContentPut, or ContentBegin/Chunk/Commit above the whole-blob size);
//  get: the raw baseline (read the file, SHA-256, compare) and the node
//  (ContentGet, or ContentRead ranges in order, verification on).
bench_sized_fn bench_run_raw_put;
bench_sized_fn bench_run_node_put;
bench_sized_fn bench_run_raw_get;
bench_sized_fn bench_run_node_get;
//  CachePut of distinct `size`-byte entries; CacheGet of the entries put.
bench_sized_fn bench_run_node_cache_put;
bench_sized_fn bench_run_node_cache_get;
//  One `size`-byte blob streamed in and read back out, the node's memory
//  printed before, between and after.
bench_sized_fn bench_run_node_content_stream;

//  Prints the node's resident memory now and at its peak (VmRSS, VmHWM
//  from /proc/<pid>/status), labelled `when`.
void bench_print_node_memory(bench_t *bench, const char *when);

//  Frees the content cases' state and removes the raw baseline's files.
void bench_content_destroy(bench_content_t **self_p);

//  ---- the provenance cases: bench_prov.c --------------------------------------------------
//  One seeded DAG of --prov-nodes nodes, built once on each side: raw
//  SQLite (an edge table, recursive CTEs) and the node (ProvAdd; its root
//  cache). The add cases build it (timed); a query case run without its
//  add case builds it first, untimed.

#define BENCH_PROV_DEFAULT_NODES 50000ULL //  ~200k edges; 250000: ~1M (the size)
#define BENCH_PROV_MIN_NODES     1000ULL
#define BENCH_PROV_MAX_NODES     4000000ULL

typedef int(bench_run_fn)(bench_t *bench, result_t *result);

//  INSERT of every node's edges, 1000 nodes per transaction.
bench_run_fn bench_run_sqlite_prov_add;
//  ProvAdd of every node with its sources, in order, a window outstanding
//  (a node is sent once all its sources were answered).
bench_run_fn bench_run_node_prov_add;
//  The roots of random nodes: recursive CTE; ProvRoots with a window, and
//  one at a time.
bench_run_fn bench_run_sqlite_prov_roots;
bench_run_fn bench_run_node_prov_roots;
bench_run_fn bench_run_node_prov_roots_rtt;
//  Is-ancestor of random pairs: any two nodes (random), or two nodes of
//  one strand (strand); recursive CTE with LIMIT 1, ProvAncestor.
bench_run_fn bench_run_sqlite_prov_ancestor_random;
bench_run_fn bench_run_node_prov_ancestor_random;
bench_run_fn bench_run_sqlite_prov_ancestor_strand;
bench_run_fn bench_run_node_prov_ancestor_strand;

//  Frees the provenance cases' state and removes the raw baseline's files.
void bench_prov_destroy(bench_prov_t **self_p);

//  ---- the ledger and settlement cases: bench_money.c --------------------------------------
//  Signed payments (LedgerPay) against raw crypto_sign_verify_detached on
//  the same canonical payloads; SettleTotal and SettleEnqueue against raw
//  SQLite running the settlement store's SQL with synchronous=FULL.

bench_run_fn bench_run_raw_ed25519_verify;
bench_run_fn bench_run_node_ledger_pay;
bench_run_fn bench_run_sqlite_settle_total;
bench_run_fn bench_run_node_settle_total;
bench_run_fn bench_run_sqlite_settle_enqueue;
bench_run_fn bench_run_node_settle_enqueue;

//  Frees the money cases' state and removes the raw baseline's files.
void bench_money_destroy(bench_money_t **self_p);

#endif

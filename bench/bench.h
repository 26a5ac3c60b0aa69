/*  =========================================================================
    bench - what cairn-bench's files share: run state, results, the case
    rows, the request/answer driver, raw SQLite and the node

    The tool is a driver (main, options, which cases run, running them), a
    report, and one file of cases per area of the node, named after its
    store; each area exports its rows (bench_area_t), and the driver walks
    one list of the areas. The folder shows the files. A case is a
    function `int run(bench_t *, result_t *)`, or a sized one that is also
    given its row's name and payload size; it fills the result and returns
    0, or says why it failed and returns -1.
    ========================================================================= */

#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED

#include "ca_sql.h"
#include "harness.h"

#include <czmq.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STALL_TIMEOUT_MS 10000 //  a request unanswered this long fails the case

typedef struct _bench_content_t bench_content_t;
typedef struct _bench_prov_t bench_prov_t;
typedef struct _bench_ledger_t bench_ledger_t;
typedef struct _bench_settlement_t bench_settlement_t;
typedef struct _bench_scaling_t bench_scaling_t;

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
    double page_base;               //  timestamp of the paged channel's oldest message
    bool node_pages_ready;          //  the node's data dir holds the paged channel
    char *page_dir;                 //  the baseline's paged database, once filled
    bool want_node_pages;           //  a node.msg_page case is selected
    bool want_sqlite_pages;         //  a sqlite.msg_page case is selected
    uint8_t *pattern;               //  pseudo-random bytes the hash and content cases use
    size_t pattern_size;            //
    bench_content_t *content;       //  the content cases' state
    uint64_t prov_nodes;            //  nodes of the provenance cases' DAG
    bench_prov_t *prov;             //  the provenance cases' state
    bench_ledger_t *ledger;         //  the ledger cases' state
    bench_settlement_t *settlement; //  the settlement cases' state
    bench_scaling_t *scaling;       //  the clients, fsync and workers cases' state
} bench_t;

typedef struct {
    bool ran;
    uint64_t ok;
    uint64_t busy;
    uint64_t errors; //  any status other than OK and BUSY
    uint64_t bytes;  //  payload bytes of the OK operations (0: ops/s only)
    double seconds;  //  first send to last answer
    char first_error[160];
    //  Cases with one request in flight per client also measure latency.
    bool latency;      //  p50_us and p99_us are set
    double p50_us;     //  median request latency, microseconds
    double p99_us;     //  99th percentile
    double mean_batch; //  the node writer's mean batch during the case; <= 0: none
    bool skipped;      //  a baseline that cannot run here (its tool is missing)
    char note[160];    //  why it was skipped
} result_t;

//  baseline: what the node is built on, measured raw; helper: cairn's own
//  code outside the node (ca_sha256); node: a real cairnd.
typedef enum { KIND_BASELINE, KIND_HELPER, KIND_NODE } kind_t;

#define MAX_VERSUS 2

typedef int(bench_run_fn)(bench_t *bench, result_t *result);
//  A sized case is run with its table row's name and payload size.
typedef int(bench_sized_fn)(bench_t *bench, result_t *result, const char *name, size_t size);

//  A row runs `run`, or `sized` with its name and `size` (payload bytes).
//  `optional` rows run only when --cases names them.
typedef struct {
    const char *name;
    kind_t kind;
    bench_run_fn *run;              //  0, or -1 after saying why
    const char *versus[MAX_VERSUS]; //  cases its ratio is taken to
    const char *what;
    bench_sized_fn *sized;
    size_t size;
    bool optional;
    //  A case whose p50 and p99 latencies are compared with this one's.
    const char *latency_versus;
} bench_case_t;

//  One area's rows, in the order they run, and what it does around them.
typedef struct {
    const bench_case_t *cases;
    size_t count;
    //  Told of each case selected to run, before any runs (or NULL).
    void (*selected)(bench_t *bench, const bench_case_t *row);
    //  Frees the area's state at the end of the run (or NULL).
    void (*destroy)(bench_t *bench);
} bench_area_t;

#define BENCH_AREA(cases, selected, destroy)                                                       \
    { cases, sizeof cases / sizeof cases[0], selected, destroy }

//  The areas, in the order the driver runs them: one file each.
extern const bench_area_t bench_hash_area;
extern const bench_area_t bench_wire_area;
extern const bench_area_t bench_messages_area;
extern const bench_area_t bench_content_area;
extern const bench_area_t bench_provenance_area;
extern const bench_area_t bench_ledger_area;
extern const bench_area_t bench_settlement_area;
extern const bench_area_t bench_scaling_area;
extern const bench_area_t bench_oplog_area;
extern const bench_area_t bench_sync_area;

//  Sizes of the hash and content cases.
#define KIB4  ((size_t)4096)
#define MIB1  ((size_t)1 << 20)
#define MIB64 ((size_t)64 << 20)
#define GIB1  ((size_t)1 << 30)

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

//  splitmix64's finalizer, the bench's only source of "randomness": fixed,
//  so every run stores and asks the same things, and a bijection on 64
//  bits, so distinct inputs give distinct outputs.
uint64_t bench_mix(uint64_t x);

//  A 32-byte id: n big-endian, then `fill` (payment ids of the ledger and
//  settlement cases).
void bench_id32(uint8_t id[32], uint64_t n, uint8_t fill);

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

//  The same, with `schema` brought up to date by the writer's own
//  ca_schema_migrate: a baseline works on the store's real tables,
//  indexes and triggers. NULL after saying why.
sqlite3 *bench_sqlite_open_schema(const char *dir, const ca_schema_t *schema);

//  Prepares `sql` into *stmt (kept: SQLITE_PREPARE_PERSISTENT); -1 (after
//  saying why) when it does not compile.
int bench_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt);

//  Steps a statement that returns no rows, then resets it; -1 (after
//  saying why) unless it ran to the end.
int bench_sqlite_step(sqlite3 *db, sqlite3_stmt *stmt, const char *what);

//  Writes rows first..first+count-1 of a baseline; 0, or -1 after saying
//  why.
typedef int(bench_rows_fn)(void *context, uint64_t first, uint64_t count);

//  One transaction: BEGIN IMMEDIATE, `rows`, COMMIT (ROLLBACK when a row
//  failed). 0, or -1 after saying why.
int bench_sqlite_transaction(sqlite3 *db, bench_rows_fn *rows, void *context, uint64_t first,
                             uint64_t count);

//  A raw baseline's timed loop: transactions of up to `batch` rows,
//  numbered from `first` on, until --seconds or --max-ops runs out;
//  result->ok counts the rows committed. 0, or -1 after saying why.
int bench_sqlite_batches(bench_t *bench, result_t *result, sqlite3 *db, uint64_t batch,
                         bench_rows_fn *rows, void *context, uint64_t first);

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

//  Prints the writer's figures from Info (how big the group commits were).
void bench_print_node_info(bench_t *bench);

//  Two cairnd peers for the replication cases, apart from the bench node:
//  A, and B which dials A (bootstrap_peers), each with an identity and a
//  peer endpoint on 127.0.0.1, and a client of each.
typedef struct {
    harness_node_t *a, *b;
    zsock_t *client_a, *client_b;
} bench_pair_t;

//  Starts the pair: 0, or -1 after saying why (as case `name`); the pair
//  is then for bench_pair_down all the same.
int bench_pair_up(bench_pair_t *pair, const char *name);

//  Closes the clients and stops both nodes (each must exit 0) and removes
//  them: `rc`, or -1 (after saying why) when it was 0 and a stop failed.
int bench_pair_down(bench_pair_t *pair, const char *name, int rc);

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

//  ---- latency ---------------------------------------------------------------------------

//  Request latencies in microseconds, kept one per operation (a case is
//  bounded by --max-ops and time, so by memory too).
typedef struct {
    uint32_t *us;
    size_t count;
    size_t capacity;
} latencies_t;

void bench_latency_add(latencies_t *latencies, int64_t us);
//  Sorts the latencies and sets result's p50_us and p99_us (and latency);
//  frees them.
void bench_latency_finish(latencies_t *latencies, result_t *result);

//  ---- what one area offers the others ---------------------------------------------

//  One line for the report's header: hash backend, library versions,
//  whether the CPU has SHA extensions and OPENSSL_ia32cap (hash.c).
void bench_hash_print_versions(void);

//  Prints the node's resident memory now and at its peak (VmRSS, VmHWM
//  from /proc/<pid>/status), labelled `when` (content.c).
void bench_print_node_memory(bench_t *bench, const char *when);

//  The provenance cases' DAG size (--prov-nodes; provenance.c).
#define BENCH_PROV_DEFAULT_NODES 50000ULL //  ~200k edges; 250000: ~1M (the size)
#define BENCH_PROV_MIN_NODES     1000ULL
#define BENCH_PROV_MAX_NODES     4000000ULL

//  The paged channel of the msg_page cases (--page-messages; messages.c).
#define BENCH_PAGE_DEFAULT_MESSAGES 1000000ULL
#define BENCH_PAGE_MIN_MESSAGES     1000ULL
#define BENCH_PAGE_MAX_MESSAGES     100000000ULL //  offsets are uint32 on the wire

#endif

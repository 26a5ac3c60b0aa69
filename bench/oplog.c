/*  =========================================================================
    oplog - cairn-bench's operation-log cases: OplogAppend against raw
    Ed25519 verification of the same headers, OplogRange against raw
    SQLite running the store's own range statement

    The goals: pipelined appends at >= 0.8 x raw verify x the
    verifying threads (the node's workers check signatures in parallel;
    appends are routed by author, so the operations come from
    OPLOG_AUTHORS authors, one log each, interleaved), and range reads
    next to raw SQLite on the same rows.

    Operations are made and signed once, untimed: operation i is seq
    i / OPLOG_AUTHORS of author i % OPLOG_AUTHORS's log 1, with a body of
    OPLOG_BODY bytes of the bench pattern. The range cases use one more
    author's log of RANGE_ROWS operations, filled on each side untimed.

        raw.oplog_verify        crypto_sign_verify_detached over the
                                canonical encodings of the append cases'
                                headers, one thread
        node.oplog_append.pipelined
                                OplogAppend of those operations in order,
                                a window outstanding; every answer must be
                                a new append (at most OPLOG_OPS of them)
        sqlite.oplog_range      the store's range statement (oplog.h),
                                pages of RANGE_PAGE from pseudo-random
                                seqs, every column read
        node.oplog_range        OplogRange with bodies, the same pages,
                                16 outstanding; each must hold RANGE_PAGE
        node.oplog_replication  two peers sharing a topic of those logs:
                                the appends on A, until B holds them all
                                (end to end; the ratio to A's local rate of
                                the same drive is printed)
    ========================================================================= */

#include "bench.h"
#include "ca_testbed.h"
#include "oplog.h"
#include "oplog_encoding.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPLOG_AUTHORS 16
#define OPLOG_OPS     40000 //  operations the append cases can send
#define OPLOG_BODY    100
#define RANGE_ROWS    5000
#define RANGE_PAGE    100
#define RANGE_WINDOW  16
#define SETUP_SECONDS 600.0

//  What one signed operation needs besides what follows from its number.
typedef struct {
    uint8_t signature[64];
    uint8_t hash[32];
    uint8_t payload_hash[32];
} signed_t;

struct _bench_oplog_t {
    uint8_t public_keys[OPLOG_AUTHORS + 1][32];
    signed_t *ops;   //  OPLOG_OPS append operations
    signed_t *range; //  RANGE_ROWS operations of author OPLOG_AUTHORS
    char *raw_dir;
    sqlite3 *raw;
    bool node_range_filled;
};

typedef struct _bench_oplog_t bench_oplog_t;

//  The cases' state, made on first use (the bench runs on one thread; kept
//  here rather than in bench_t so that this area touches no shared header
//  beyond its one line).
static bench_oplog_t *s_state;

//  Fills `header` (pointing into the state and `buffers`) for operation
//  `seq` of author `author`; `previous` the operation before it (NULL at
//  seq 0).
static void s_header(Cairn__OpHeader *header, bench_oplog_t *self, unsigned author, uint64_t seq,
                     const signed_t *op, const signed_t *previous, uint64_t number) {
    cairn__op_header__init(header);
    header->version = OPLOG_VERSION;
    header->author = (ProtobufCBinaryData){32, self->public_keys[author]};
    header->log_id = 1;
    header->seq = seq;
    header->timestamp_us = 1700000000000000ULL + number;
    header->payload_size = OPLOG_BODY;
    header->payload_hash = (ProtobufCBinaryData){32, (uint8_t *)op->payload_hash};
    header->signature = (ProtobufCBinaryData){64, (uint8_t *)op->signature};
    if (previous)
        header->backlink = (ProtobufCBinaryData){32, (uint8_t *)previous->hash};
}

//  The body of operation `number`: bench pattern bytes.
static const uint8_t *s_body(bench_t *bench, uint64_t number) {
    return bench_pattern(bench, OPLOG_BODY * 64) + (number % 64) * OPLOG_BODY;
}

//  Signs the chain `ops` of `count` operations, author `author` every
//  `stride`-th from `first` (operation i is seq i / stride).
static void s_sign(bench_t *bench, bench_oplog_t *self, signed_t *ops, size_t count,
                   unsigned authors, unsigned first_author, uint8_t secret_keys[][64]) {
    for (size_t i = 0; i < count; i++) {
        unsigned author = first_author + (unsigned)(i % authors);
        uint64_t seq = i / authors;
        oplog_payload_hash(s_body(bench, i), OPLOG_BODY, ops[i].payload_hash);
        Cairn__OpHeader header;
        s_header(&header, self, author, seq, &ops[i], seq ? &ops[i - authors] : NULL, i);
        oplog_header_sign(&header, secret_keys[author], ops[i].hash);
    }
}

//  The cases' state: keys and every operation signed; NULL after saying why.
static bench_oplog_t *s_oplog(bench_t *bench) {
    if (s_state)
        return s_state;
    bench_oplog_t *self = (bench_oplog_t *)calloc(1, sizeof *self);
    self->ops = (signed_t *)calloc(OPLOG_OPS, sizeof(signed_t));
    self->range = (signed_t *)calloc(RANGE_ROWS, sizeof(signed_t));
    if (!self->ops || !self->range) {
        free(self->ops);
        free(self->range);
        free(self);
        bench_fail("oplog", "out of memory for the signed operations");
        return NULL;
    }
    uint8_t secret_keys[OPLOG_AUTHORS + 1][64];
    for (unsigned a = 0; a <= OPLOG_AUTHORS; a++) {
        uint8_t seed[32];
        bench_id32(seed, a, 'k');
        crypto_sign_seed_keypair(self->public_keys[a], secret_keys[a], seed);
    }
    int64_t start = zclock_usecs();
    s_sign(bench, self, self->ops, OPLOG_OPS, OPLOG_AUTHORS, 0, secret_keys);
    s_sign(bench, self, self->range, RANGE_ROWS, 1, OPLOG_AUTHORS, secret_keys);
    sodium_memzero(secret_keys, sizeof secret_keys);
    printf("oplog: %d operations signed in %.2f s, untimed\n", OPLOG_OPS + RANGE_ROWS,
           (double)(zclock_usecs() - start) / 1e6);
    s_state = self;
    return self;
}

//  ---- raw.oplog_verify -----------------------------------------------------------------

static int s_run_raw_verify(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    if (!self)
        return -1;
    //  The encodings, made before the clock starts: the raw cost is the
    //  verification alone.
    uint8_t(*encoded)[OPLOG_ENCODED_MAX] = calloc(1024, OPLOG_ENCODED_MAX);
    size_t sizes[1024];
    for (size_t i = 0; i < 1024; i++) {
        Cairn__OpHeader header;
        uint64_t seq = i / OPLOG_AUTHORS;
        s_header(&header, self, (unsigned)(i % OPLOG_AUTHORS), seq, &self->ops[i],
                 seq ? &self->ops[i - OPLOG_AUTHORS] : NULL, i);
        sizes[i] = oplog_header_encode(&header, encoded[i]);
    }
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        size_t i = result->ok % 1024;
        if (crypto_sign_verify_detached(self->ops[i].signature, encoded[i], sizes[i],
                                        self->public_keys[i % OPLOG_AUTHORS]) != 0)
            rc = bench_fail("raw.oplog_verify", "operation %zu does not verify", i);
        else
            result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    free(encoded);
    return rc;
}

//  ---- node.oplog_append.pipelined ----------------------------------------------------------

typedef struct {
    bench_t *bench;
    bench_oplog_t *self;
    signed_t *ops;
    unsigned authors, first_author;
} append_t;

static int s_append_send(void *handle, uint64_t id, void *context) {
    append_t *append = (append_t *)context;
    uint64_t i = id - 1;
    uint64_t seq = i / append->authors;
    Cairn__OpHeader header;
    s_header(&header, append->self, append->first_author + (unsigned)(i % append->authors), seq,
             &append->ops[i], seq ? &append->ops[i - append->authors] : NULL, i);
    Cairn__OplogAppend body = CAIRN__OPLOG_APPEND__INIT;
    body.header = &header;
    body.has_body = true;
    body.author = header.author;
    body.body = (ProtobufCBinaryData){OPLOG_BODY, (uint8_t *)s_body(append->bench, i)};
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_APPEND;
    request.oplog_append = &body;
    return bench_send_request(handle, &request);
}

static int s_append_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                           result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_OPLOG_APPEND ||
                                   response->oplog_append->already_had)) {
        bench_first_error(result, "operation %" PRIu64 " was not appended", *id);
        *outcome = OUTCOME_ERROR;
    } else if (*outcome == OUTCOME_OK)
        result->bytes += OPLOG_BODY;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_append_wire = {s_append_send, s_append_decode};

static int s_run_node_append(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    harness_node_t *node = self ? bench_node(bench) : NULL;
    if (!node)
        return -1;
    append_t append = {bench, self, self->ops, OPLOG_AUTHORS, 0};
    uint64_t most = bench->max_ops && bench->max_ops < OPLOG_OPS ? bench->max_ops : OPLOG_OPS;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    int rc = bench_drive_for(bench->seconds, most, "node.oplog_append.pipelined", client,
                             &s_append_wire, &append, bench->window, result);
    zsock_destroy(&client);
    return rc;
}

//  ---- node.oplog_replication ----------------------------------------------------------------

#define REPLICATION_WAIT_MS 120000 //  B must hold every operation by then

static const uint8_t s_topic[32] = {'b', 'e', 'n', 'c', 'h', 't', 'o', 'p', 'i', 'c'};

//  A request on `client` that must answer OK; -1 after saying why.
static int s_call_ok(zsock_t *client, Cairn__Request *request, const char *what) {
    Cairn__Response *response = harness_call(client, request, STALL_TIMEOUT_MS);
    int rc = response && response->status == CAIRN__STATUS__OK
                 ? 0
                 : bench_fail("node.oplog_replication", "%s: %s", what,
                              response ? response->error : "no answer");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return rc;
}

//  The bench topic holds the append cases' logs (log 1 of each author).
static int s_topic_setup(bench_oplog_t *self, zsock_t *client) {
    for (unsigned a = 0; a < OPLOG_AUTHORS; a++) {
        Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
        log.author = (ProtobufCBinaryData){32, self->public_keys[a]};
        log.log_id = 1;
        Cairn__TopicAssociate associate = CAIRN__TOPIC_ASSOCIATE__INIT;
        associate.topic = (ProtobufCBinaryData){32, (uint8_t *)s_topic};
        associate.log = &log;
        Cairn__Request request = CAIRN__REQUEST__INIT;
        request.id = a + 1;
        request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
        request.topic_associate = &associate;
        if (s_call_ok(client, &request, "TopicAssociate") != 0)
            return -1;
    }
    return 0;
}

//  Operations held by the node of `client`, or sessions online (`online`);
//  -1 when it did not answer.
static int64_t s_count(zsock_t *client, bool online) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__OplogStats stats = CAIRN__OPLOG_STATS__INIT;
    Cairn__PeerSessions sessions = CAIRN__PEER_SESSIONS__INIT;
    request.id = 99;
    request.body_case =
        online ? CAIRN__REQUEST__BODY_PEER_SESSIONS : CAIRN__REQUEST__BODY_OPLOG_STATS;
    if (online)
        request.peer_sessions = &sessions;
    else
        request.oplog_stats = &stats;
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int64_t count = !response || response->status != CAIRN__STATUS__OK ? -1
                    : online ? (int64_t)response->peer_sessions->online
                             : (int64_t)response->oplog_stats->operations;
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return count;
}

//  Two nodes, B dialing A, both holding the bench topic: OplogAppends
//  pipelined on A (16 authors' logs); the time runs from the first append
//  to the moment B holds them all (OplogStats polled), so the rate is end
//  to end, and A's local rate is the same drive's.
static int s_run_node_replication(bench_t *bench, result_t *result) {
    const char *name = "node.oplog_replication";
    bench_oplog_t *self = s_oplog(bench);
    if (!self)
        return -1;
    bench_pair_t pair;
    int rc = bench_pair_up(&pair, name);
    zsock_t *client_a = pair.client_a, *client_b = pair.client_b;
    if (rc == 0)
        rc = s_topic_setup(self, client_a) != 0 || s_topic_setup(self, client_b) != 0 ? -1 : 0;
    int64_t deadline = zclock_mono() + REPLICATION_WAIT_MS;
    while (rc == 0 && s_count(client_b, true) < 1)
        if (zclock_mono() > deadline)
            rc = bench_fail(name, "B never came online with A (log: %s)",
                            harness_node_log_path(pair.b));
        else
            zclock_sleep(10); //  a poll interval; the deadline decides
    append_t append = {bench, self, self->ops, OPLOG_AUTHORS, 0};
    uint64_t most = bench->max_ops && bench->max_ops < OPLOG_OPS ? bench->max_ops : OPLOG_OPS;
    int64_t start = zclock_usecs();
    if (rc == 0)
        rc = bench_drive_for(bench->seconds, most, name, client_a, &s_append_wire, &append,
                             bench->window, result);
    double local_seconds = (double)(zclock_usecs() - start) / 1e6;
    deadline = zclock_mono() + REPLICATION_WAIT_MS;
    int64_t have_b = 0;
    while (rc == 0 && (have_b = s_count(client_b, false)) < (int64_t)result->ok &&
           zclock_mono() < deadline)
        zclock_sleep(2);
    if (rc == 0 && have_b != (int64_t)result->ok)
        rc = bench_fail(name,
                        "B holds %" PRId64 " of %" PRIu64 " operations at the deadline (log: %s)",
                        have_b, result->ok, harness_node_log_path(pair.b));
    if (rc == 0) {
        result->seconds = (double)(zclock_usecs() - start) / 1e6;
        double local = (double)result->ok / local_seconds;
        double replicated = (double)result->ok / result->seconds;
        printf("%s: %" PRIu64 " operations appended on A at %.0f/s, all on B after %.2f s: "
               "%.0f/s, %.2f of A's local rate (same run)\n",
               name, result->ok, local, result->seconds, replicated, replicated / local);
    }
    return bench_pair_down(&pair, name, rc);
}

//  ---- the range cases ---------------------------------------------------------------------

static int s_raw_fill(bench_t *bench, bench_oplog_t *self) {
    if (self->raw)
        return 0;
    self->raw_dir = ca_test_tempdir("cairn-bench-oplog");
    self->raw = bench_sqlite_open_schema(self->raw_dir, &oplog_schema);
    sqlite3_stmt *insert = NULL;
    int rc = self->raw ? bench_sqlite_prepare(self->raw,
                                              "INSERT INTO oplog_ops (hash, author, log_id, seq,"
                                              " header, body, encoded_size)"
                                              " VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)",
                                              &insert)
                       : -1;
    if (rc == 0)
        rc = bench_sqlite_exec(self->raw, "BEGIN");
    for (uint64_t i = 0; rc == 0 && i < RANGE_ROWS; i++) {
        Cairn__OpHeader header;
        s_header(&header, self, OPLOG_AUTHORS, i, &self->range[i], i ? &self->range[i - 1] : NULL,
                 i);
        uint8_t packed[1024], encoded[OPLOG_ENCODED_MAX];
        size_t packed_size = cairn__op_header__pack(&header, packed);
        sqlite3_bind_blob(insert, 1, self->range[i].hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 2, self->public_keys[OPLOG_AUTHORS], 32, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 3, (int64_t)i);
        sqlite3_bind_blob(insert, 4, packed, (int)packed_size, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 5, s_body(bench, i), OPLOG_BODY, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 6, (int64_t)oplog_header_encode(&header, encoded));
        rc = bench_sqlite_step(self->raw, insert, "oplog INSERT");
    }
    if (rc == 0)
        rc = bench_sqlite_exec(self->raw, "COMMIT");
    sqlite3_finalize(insert);
    return rc;
}

static uint64_t s_range_from(uint64_t k) {
    return bench_mix(k) % (RANGE_ROWS - RANGE_PAGE);
}

static int s_run_sqlite_range(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    if (!self || s_raw_fill(bench, self) != 0)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = bench_sqlite_prepare(self->raw, oplog_sql_range, &stmt);
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t from = s_range_from(result->ok);
        sqlite3_bind_blob(stmt, 1, self->public_keys[OPLOG_AUTHORS], 32, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, 1);
        sqlite3_bind_int64(stmt, 3, (int64_t)from);
        sqlite3_bind_int64(stmt, 4, INT64_MAX);
        sqlite3_bind_int64(stmt, 5, RANGE_PAGE + 1);
        size_t rows = 0, bytes = 0;
        int step;
        while ((step = sqlite3_step(stmt)) == SQLITE_ROW && rows < RANGE_PAGE) {
            for (int c = 0; c < 3; c++)
                bytes +=
                    (size_t)sqlite3_column_bytes(stmt, c) + (sqlite3_column_blob(stmt, c) != NULL);
            rows++;
        }
        sqlite3_reset(stmt);
        if (rows != RANGE_PAGE || (step != SQLITE_ROW && step != SQLITE_DONE))
            rc = bench_fail("sqlite.oplog_range", "a page of %zu rows from seq %" PRIu64, rows,
                            from);
        else {
            result->ok++;
            result->bytes += bytes;
        }
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(stmt);
    return rc;
}

static int s_range_send(void *handle, uint64_t id, void *context) {
    bench_oplog_t *self = (bench_oplog_t *)context;
    Cairn__OplogRange range = CAIRN__OPLOG_RANGE__INIT;
    range.author = (ProtobufCBinaryData){32, self->public_keys[OPLOG_AUTHORS]};
    range.log_id = 1;
    range.from_seq = s_range_from(id);
    range.limit = RANGE_PAGE;
    range.with_bodies = true;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_RANGE;
    request.oplog_range = &range;
    return bench_send_request(handle, &request);
}

static int s_range_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                          result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && (response->body_case != CAIRN__RESPONSE__BODY_OPLOG_RANGE ||
                                   response->oplog_range->n_entries != RANGE_PAGE)) {
        bench_first_error(result, "range %" PRIu64 ": not a page of %d", *id, RANGE_PAGE);
        *outcome = OUTCOME_ERROR;
    } else if (*outcome == OUTCOME_OK)
        result->bytes += size;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_range_wire = {s_range_send, s_range_decode};

static int s_run_node_range(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    harness_node_t *node = self ? bench_node(bench) : NULL;
    if (!node)
        return -1;
    if (!self->node_range_filled) {
        zsock_t *client = harness_connect(harness_node_endpoint(node));
        result_t fill = {0};
        append_t append = {bench, self, self->range, 1, OPLOG_AUTHORS};
        int rc = bench_drive_for(SETUP_SECONDS, RANGE_ROWS, "node.oplog_range (fill)", client,
                                 &s_append_wire, &append, bench->window, &fill);
        zsock_destroy(&client);
        if (rc != 0 || fill.ok != RANGE_ROWS)
            return bench_fail("node.oplog_range", "%" PRIu64 " of %d operations appended: %s",
                              fill.ok, RANGE_ROWS, fill.first_error);
        self->node_range_filled = true;
    }
    int window = bench->window < RANGE_WINDOW ? bench->window : RANGE_WINDOW;
    return bench_run_node(bench, result, "node.oplog_range", &s_range_wire, self, window);
}

static void s_destroy(bench_t *bench) {
    bench_oplog_t *self = s_state;
    if (!self)
        return;
    sqlite3_close(self->raw);
    if (self->raw_dir)
        ca_test_rmtree(self->raw_dir);
    zstr_free(&self->raw_dir);
    free(self->ops);
    free(self->range);
    free(self);
    s_state = NULL;
}

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "raw.oplog_verify",
     .kind = KIND_BASELINE,
     .run = s_run_raw_verify,
     .what = "crypto_sign_verify_detached over the append cases' header encodings, one thread",
     .optional = true},
    {.name = "node.oplog_append.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_append,
     .versus = {"raw.oplog_verify"},
     .what = "cairnd OplogAppend of signed operations (16 authors' logs), a window",
     .optional = true},
    {.name = "node.oplog_replication",
     .kind = KIND_NODE,
     .run = s_run_node_replication,
     .versus = {"node.oplog_append.pipelined"},
     .optional = true,
     .what = "two cairnd peers sharing a topic: OplogAppends pipelined on A, until B holds them "
             "all by oplog sync (the same run prints the ratio to A's local rate)"},
    {.name = "sqlite.oplog_range",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_range,
     .what = "the oplog store's range SELECT, pages of 100 of a 5,000-entry log",
     .optional = true},
    {.name = "node.oplog_range",
     .kind = KIND_NODE,
     .run = s_run_node_range,
     .versus = {"sqlite.oplog_range"},
     .what = "cairnd OplogRange with bodies, the same pages, 16 outstanding",
     .optional = true},
};

const bench_area_t bench_oplog_area = BENCH_AREA(s_cases, NULL, s_destroy);

/*  =========================================================================
    oplog - cairn-bench's operation-log cases: OplogAppend against raw
    Ed25519 verification of the same headers, OplogRange against raw
    SQLite running the store's own range statement, OplogHeights against raw
    SQLite running the store's own heights statement

    The goals: pipelined appends at >= 0.8 x raw verify x the
    verifying threads (the node's workers check signatures in parallel;
    appends are routed by author, so the operations come from
    OPLOG_AUTHORS authors, one log each, interleaved), and range reads
    next to raw SQLite on the same rows.

    Operations are made and signed once, untimed: operation i is seq
    i / OPLOG_AUTHORS of author i % OPLOG_AUTHORS's log 1, with a body of
    OPLOG_BODY bytes of the bench pattern. The range cases use one more
    author's log of RANGE_ROWS operations, the heights cases a third
    author's HEIGHT_LOGS logs of HEIGHT_DEPTH operations; both are filled on
    each side untimed.

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
        sqlite.oplog_heights    the store's heights statement (oplog.h)
                                over the heights author's logs, one page
        node.oplog_heights      OplogHeights of that author, 16
                                outstanding; each must list HEIGHT_LOGS
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
#define HEIGHT_LOGS   200
#define HEIGHT_DEPTH  5
#define HEIGHT_OPS    (HEIGHT_LOGS * HEIGHT_DEPTH)
#define SETUP_SECONDS 600.0

//  What one signed operation needs besides what follows from its number.
typedef struct {
    uint8_t signature[64];
    uint8_t hash[32];
    uint8_t payload_hash[32];
} signed_t;

//  Where operation i of a signed set sits. Interleaved (`per_log` 0):
//  author first + i % authors, log 1, seq i / authors. Stacked: author
//  `first`, log 1 + i / per_log, seq i % per_log.
typedef struct {
    unsigned authors, first;
    unsigned per_log;
} layout_t;

typedef struct {
    unsigned author;
    uint64_t log_id, seq;
    size_t previous; //  index of the operation before (meaningful when seq > 0)
} place_t;

static place_t s_place(const layout_t *layout, size_t i) {
    if (layout->per_log)
        return (place_t){layout->first, 1 + i / layout->per_log, i % layout->per_log, i - 1};
    return (place_t){layout->first + (unsigned)(i % layout->authors), 1, i / layout->authors,
                     i - layout->authors};
}

#define AUTHOR_RANGE   OPLOG_AUTHORS
#define AUTHOR_HEIGHTS (OPLOG_AUTHORS + 1)

static const layout_t s_append_layout = {OPLOG_AUTHORS, 0, 0};
static const layout_t s_range_layout = {1, AUTHOR_RANGE, 0};
static const layout_t s_heights_layout = {1, AUTHOR_HEIGHTS, HEIGHT_DEPTH};

struct _bench_oplog_t {
    uint8_t public_keys[AUTHOR_HEIGHTS + 1][32];
    signed_t *ops;     //  OPLOG_OPS append operations
    signed_t *range;   //  RANGE_ROWS operations of author AUTHOR_RANGE
    signed_t *heights; //  HEIGHT_OPS operations of author AUTHOR_HEIGHTS
    char *raw_dir;
    sqlite3 *raw;
    bool node_range_filled, node_heights_filled;
};

typedef struct _bench_oplog_t bench_oplog_t;

//  The cases' state, made on first use (the bench runs on one thread; kept
//  here rather than in bench_t so that this area touches no shared header
//  beyond its one line).
static bench_oplog_t *s_state;

//  Fills `header` (pointing into the state and `ops`) for operation
//  `number` of the set `ops` laid out as `layout`.
static void s_header(Cairn__OpHeader *header, bench_oplog_t *self, const layout_t *layout,
                     const signed_t *ops, uint64_t number) {
    place_t place = s_place(layout, number);
    const signed_t *op = &ops[number];
    cairn__op_header__init(header);
    header->version = OPLOG_VERSION;
    header->author = (ProtobufCBinaryData){32, self->public_keys[place.author]};
    header->log_id = place.log_id;
    header->seq = place.seq;
    header->timestamp_us = 1700000000000000ULL + number;
    header->payload_size = OPLOG_BODY;
    header->payload_hash = (ProtobufCBinaryData){32, (uint8_t *)op->payload_hash};
    header->signature = (ProtobufCBinaryData){64, (uint8_t *)op->signature};
    if (place.seq)
        header->backlink = (ProtobufCBinaryData){32, (uint8_t *)ops[place.previous].hash};
}

//  The body of operation `number`: bench pattern bytes.
static const uint8_t *s_body(bench_t *bench, uint64_t number) {
    return bench_pattern(bench, OPLOG_BODY * 64) + (number % 64) * OPLOG_BODY;
}

//  Signs the set `ops` of `count` operations laid out as `layout`.
static void s_sign(bench_t *bench, bench_oplog_t *self, signed_t *ops, size_t count,
                   const layout_t *layout, uint8_t secret_keys[][64]) {
    for (size_t i = 0; i < count; i++) {
        oplog_payload_hash(s_body(bench, i), OPLOG_BODY, ops[i].payload_hash);
        Cairn__OpHeader header;
        s_header(&header, self, layout, ops, i);
        oplog_header_sign(&header, secret_keys[s_place(layout, i).author], ops[i].hash);
    }
}

//  The cases' state: keys and every operation signed; NULL after saying why.
static bench_oplog_t *s_oplog(bench_t *bench) {
    if (s_state)
        return s_state;
    bench_oplog_t *self = (bench_oplog_t *)calloc(1, sizeof *self);
    self->ops = (signed_t *)calloc(OPLOG_OPS, sizeof(signed_t));
    self->range = (signed_t *)calloc(RANGE_ROWS, sizeof(signed_t));
    self->heights = (signed_t *)calloc(HEIGHT_OPS, sizeof(signed_t));
    if (!self->ops || !self->range || !self->heights) {
        free(self->ops);
        free(self->range);
        free(self->heights);
        free(self);
        bench_fail("oplog", "out of memory for the signed operations");
        return NULL;
    }
    uint8_t secret_keys[AUTHOR_HEIGHTS + 1][64];
    for (unsigned a = 0; a <= AUTHOR_HEIGHTS; a++) {
        uint8_t seed[32];
        bench_id32(seed, a, 'k');
        crypto_sign_seed_keypair(self->public_keys[a], secret_keys[a], seed);
    }
    int64_t start = zclock_usecs();
    s_sign(bench, self, self->ops, OPLOG_OPS, &s_append_layout, secret_keys);
    s_sign(bench, self, self->range, RANGE_ROWS, &s_range_layout, secret_keys);
    s_sign(bench, self, self->heights, HEIGHT_OPS, &s_heights_layout, secret_keys);
    sodium_memzero(secret_keys, sizeof secret_keys);
    printf("oplog: %d operations signed in %.2f s, untimed\n", OPLOG_OPS + RANGE_ROWS + HEIGHT_OPS,
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
        s_header(&header, self, &s_append_layout, self->ops, i);
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
    const layout_t *layout;
} append_t;

static int s_append_send(void *handle, uint64_t id, void *context) {
    append_t *append = (append_t *)context;
    uint64_t i = id - 1;
    Cairn__OpHeader header;
    s_header(&header, append->self, append->layout, append->ops, i);
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
    append_t append = {bench, self, self->ops, &s_append_layout};
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
    int rc = bench_pair_up(&pair, name, true);
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
    append_t append = {bench, self, self->ops, &s_append_layout};
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

//  Inserts the set `ops` of `count` operations laid out as `layout` into
//  the raw database, in one transaction.
static int s_raw_insert(bench_t *bench, bench_oplog_t *self, const signed_t *ops, size_t count,
                        const layout_t *layout) {
    sqlite3_stmt *insert = NULL;
    int rc = bench_sqlite_prepare(self->raw,
                                  "INSERT INTO oplog_ops (hash, author, log_id, seq,"
                                  " header, body, encoded_size)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  &insert);
    if (rc == 0)
        rc = bench_sqlite_exec(self->raw, "BEGIN");
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        Cairn__OpHeader header;
        s_header(&header, self, layout, ops, i);
        uint8_t packed[1024], encoded[OPLOG_ENCODED_MAX];
        size_t packed_size = cairn__op_header__pack(&header, packed);
        sqlite3_bind_blob(insert, 1, ops[i].hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 2, header.author.data, 32, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 3, (int64_t)header.log_id);
        sqlite3_bind_int64(insert, 4, (int64_t)header.seq);
        sqlite3_bind_blob(insert, 5, packed, (int)packed_size, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 6, s_body(bench, i), OPLOG_BODY, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 7, (int64_t)oplog_header_encode(&header, encoded));
        rc = bench_sqlite_step(self->raw, insert, "oplog INSERT");
    }
    if (rc == 0)
        rc = bench_sqlite_exec(self->raw, "COMMIT");
    sqlite3_finalize(insert);
    return rc;
}

//  The raw database with the range and heights sets, made once.
static int s_raw_fill(bench_t *bench, bench_oplog_t *self) {
    if (self->raw)
        return 0;
    self->raw_dir = ca_test_tempdir("cairn-bench-oplog");
    self->raw = bench_sqlite_open_schema(self->raw_dir, &oplog_schema);
    if (!self->raw)
        return -1;
    int rc = s_raw_insert(bench, self, self->range, RANGE_ROWS, &s_range_layout);
    return rc ? rc : s_raw_insert(bench, self, self->heights, HEIGHT_OPS, &s_heights_layout);
}

//  Appends the set `ops` (`count` operations laid out as `layout`) to the
//  bench's node once (*filled); `name` the case, for errors.
static int s_node_fill(bench_t *bench, bench_oplog_t *self, harness_node_t *node,
                       const signed_t *ops, size_t count, const layout_t *layout, bool *filled,
                       const char *name) {
    if (*filled)
        return 0;
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    result_t fill = {0};
    append_t append = {bench, self, (signed_t *)ops, layout};
    int rc = bench_drive_for(SETUP_SECONDS, count, name, client, &s_append_wire, &append,
                             bench->window, &fill);
    zsock_destroy(&client);
    if (rc != 0 || fill.ok != count)
        return bench_fail(name, "%" PRIu64 " of %zu operations appended (setup): %s", fill.ok,
                          count, fill.first_error);
    *filled = true;
    return 0;
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
        sqlite3_bind_blob(stmt, 1, self->public_keys[AUTHOR_RANGE], 32, SQLITE_STATIC);
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
    range.author = (ProtobufCBinaryData){32, self->public_keys[AUTHOR_RANGE]};
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
    if (s_node_fill(bench, self, node, self->range, RANGE_ROWS, &s_range_layout,
                    &self->node_range_filled, "node.oplog_range") != 0)
        return -1;
    int window = bench->window < RANGE_WINDOW ? bench->window : RANGE_WINDOW;
    return bench_run_node(bench, result, "node.oplog_range", &s_range_wire, self, window);
}

//  ---- the heights cases ---------------------------------------------------------------------

static int s_run_sqlite_heights(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    if (!self || s_raw_fill(bench, self) != 0)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = bench_sqlite_prepare(self->raw, oplog_sql_heights, &stmt);
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        sqlite3_bind_blob(stmt, 1, self->public_keys[AUTHOR_HEIGHTS], 32, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, 0);
        sqlite3_bind_int64(stmt, 3, 0);
        sqlite3_bind_int64(stmt, 4, CA_OPLOG_HEIGHTS_DEFAULT + 1);
        size_t logs = 0, wrong = 0;
        uint64_t operations = 0;
        int step;
        while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
            wrong += sqlite3_column_int64(stmt, 0) != (int64_t)logs + 1 ||
                     sqlite3_column_int64(stmt, 1) != HEIGHT_DEPTH - 1;
            operations += (uint64_t)sqlite3_column_int64(stmt, 2);
            logs++;
        }
        sqlite3_reset(stmt);
        if (logs != HEIGHT_LOGS || wrong || operations != HEIGHT_OPS || step != SQLITE_DONE)
            rc = bench_fail("sqlite.oplog_heights", "%zu logs, %" PRIu64 " operations", logs,
                            operations);
        else
            result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    sqlite3_finalize(stmt);
    return rc;
}

static int s_heights_send(void *handle, uint64_t id, void *context) {
    bench_oplog_t *self = (bench_oplog_t *)context;
    Cairn__OplogHeights heights = CAIRN__OPLOG_HEIGHTS__INIT;
    heights.author = (ProtobufCBinaryData){32, self->public_keys[AUTHOR_HEIGHTS]};
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_HEIGHTS;
    request.oplog_heights = &heights;
    return bench_send_request(handle, &request);
}

static int s_heights_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                            result_t *result, void *context) {
    (void)context;
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK &&
        (response->body_case != CAIRN__RESPONSE__BODY_OPLOG_HEIGHTS ||
         response->oplog_heights->n_logs != HEIGHT_LOGS || response->oplog_heights->more)) {
        bench_first_error(result, "heights %" PRIu64 ": not the %d logs", *id, HEIGHT_LOGS);
        *outcome = OUTCOME_ERROR;
    } else if (*outcome == OUTCOME_OK)
        result->bytes += size;
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_heights_wire = {s_heights_send, s_heights_decode};

static int s_run_node_heights(bench_t *bench, result_t *result) {
    bench_oplog_t *self = s_oplog(bench);
    harness_node_t *node = self ? bench_node(bench) : NULL;
    if (!node)
        return -1;
    if (s_node_fill(bench, self, node, self->heights, HEIGHT_OPS, &s_heights_layout,
                    &self->node_heights_filled, "node.oplog_heights") != 0)
        return -1;
    int window = bench->window < RANGE_WINDOW ? bench->window : RANGE_WINDOW;
    return bench_run_node(bench, result, "node.oplog_heights", &s_heights_wire, self, window);
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
    free(self->heights);
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
    {.name = "sqlite.oplog_heights",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_heights,
     .what = "the oplog store's heights SELECT over one author's 200 logs of 5",
     .optional = true},
    {.name = "node.oplog_heights",
     .kind = KIND_NODE,
     .run = s_run_node_heights,
     .versus = {"sqlite.oplog_heights"},
     .what = "cairnd OplogHeights of that author, 16 outstanding",
     .optional = true},
};

const bench_area_t bench_oplog_area = BENCH_AREA(s_cases, NULL, s_destroy);

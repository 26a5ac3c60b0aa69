/*  =========================================================================
    messages - cairn-bench's message-store cases: MessageStore,
    MessageList pages and GossipAdd against raw SQLite doing the same work

    Each baseline runs the store's own SQL (messages.h, gossip.h,
    channel_auth.h: defined once there) on the tables, indexes and FTS5
    triggers of messages_schema, made by the writer's own migrations, with
    the writer's pragmas:

        sqlite.msg_insert.tx1000
                               prepared INSERT of a 256-byte clear-text
                               message plus the channel's last_activity
                               UPDATE, 1000 messages per transaction, and
                               the FTS index built once per transaction
                               for the rows it added (one INSERT ...
                               SELECT by seq range): the fastest correct
                               way, without the node's per-row queue
                               trigger, which this baseline drops
        node.msg_store.pipelined
                               MessageStore of the same messages (distinct
                               UUIDs, one existing channel), --window
                               outstanding; the channel is created
                               unsigned (ChannelCreate.unsigned_messages),
                               so the node checks no signature, as the
                               baseline does not
        raw.msg_verify         crypto_sign_verify_detached of signed bench
                               messages' canonical bytes (message_encode,
                               encoded untimed), one thread
        node.msg_store_signed.pipelined
                               MessageStore of the same messages, each
                               signed (untimed, before the run) by a
                               sender the node knows (PeerPut), into a
                               signed channel: the node reads the sender's
                               key and verifies every signature; its
                               workers verify in parallel, so the ratio to
                               raw.msg_verify can pass 1 on several cores
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
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_testbed.h"
#include "channel_auth.h"
#include "gossip.h"
#include "messages.h"
#include "messages_schema.h"
#include "message_encoding.h"
#include "messages_fixture.h"

#include <sodium.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SQLITE_BATCH        CA_DEFAULT_WRITER_BATCH
#define PAGE_LIMIT          50     //  messages per page
#define DEEP_OFFSET_WINDOW  4      //  node.msg_page.deep_offset: at most this many outstanding
#define POPULATE_BATCH      100000 //  rows per transaction when filling the paged channel
#define POPULATE_CACHE_KIB  262144 //  page cache of the filling connection only
#define MSG_CONTENT_BYTES   256
#define MSG_SIGNATURE_BYTES 64
#define UUID_TEXT_SIZE      37 //  8-4-4-4-12 hex digits and the NUL
#define STORE_CHANNEL       "#bench-store"
#define PAGE_CHANNEL        "#bench-page"
#define SENDER_ID           "bench-peer"
#define SENDER_NAME         "cairn bench"
#define STORE_TIME_STEP     1e-6 //  seconds between the timestamps of stored messages
#define PAGE_TIME_STEP      1e-3 //  seconds between the messages of the paged channel
#define GOSSIP_TTL          5    //  what the node stores for ttl 0 (the default)

//  ---- what both sides store and ask -------------------------------------------------

//  Rows the node's page SELECT asks for: the page, plus one to know `more`.
#define PAGE_ROWS (PAGE_LIMIT + 1)

//  Exactly 64 bytes: messages carry an Ed25519-sized signature.
#define BENCH_SIGNATURE "cairn-bench-signature-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

//  Families of message ids, so the cases never share one.
typedef enum { UUID_STORE = 1, UUID_PAGE = 2, UUID_GOSSIP = 3, UUID_SIGNED = 4 } uuid_family_t;

//  Id number `n` of `family` as UUID text (version 4 layout). All 64 bits
//  of bench_mix(n) are in it, so distinct numbers give distinct ids.
static void s_uuid(char *text, uuid_family_t family, uint64_t n) {
    uint64_t v = bench_mix(n);
    uint64_t w = bench_mix(v ^ (uint64_t)family);
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
        uint64_t r = bench_mix(draw++);
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
    uint64_t r = bench_mix(seq->draws++ ^ 0x676f73736970ULL);
    uint64_t number = seq->fresh == 0 || (r & 1) ? seq->fresh++ : (r >> 1) % seq->fresh;
    s_uuid(id, UUID_GOSSIP, number);
}

//  ---- baseline: raw SQLite on the message-store schema ----------------------------------

//  A channel row through ChannelCreate's own INSERT (setup, untimed; the
//  node's ChannelCreate is used where the node is running). It returns
//  the row it made.
static int s_sqlite_channel(sqlite3 *db, const char *name, double created_at) {
    sqlite3_stmt *insert = NULL;
    int rc = bench_sqlite_prepare(db, channel_auth_sql_create, &insert);
    if (rc == 0) {
        sqlite3_bind_text(insert, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_double(insert, 2, created_at);
        sqlite3_bind_int(insert, 3, 0);
        sqlite3_bind_null(insert, 4);
        sqlite3_bind_null(insert, 5);
        sqlite3_bind_int(insert, 6, 0); //  unsigned, as the node's bench channels
        int step = sqlite3_step(insert);
        rc = step == SQLITE_ROW ? bench_sqlite_step(db, insert, "INSERT channel")
                                : bench_fail("sqlite", "INSERT channel %s: %s", name,
                                             step == SQLITE_DONE ? "taken" : sqlite3_errmsg(db));
    }
    sqlite3_finalize(insert);
    return rc;
}

//  Binds `message` of `channel` to messages_sql_insert and steps it.
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
    return bench_sqlite_step(db, insert, "INSERT message");
}

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *insert, *touch, *index;
    double base; //  timestamp of message 0
} store_rows_t;

//  The baseline's index step: the rows a transaction added, by seq range
//  (?1: the first seq of the transaction).
#define BASELINE_INDEX_RANGE                                                                       \
    "INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages"                  \
    " WHERE seq >= ?1 AND encrypted = 0"

//  Stores messages first..first+count-1 as the node does.
static int s_store_rows(void *context, uint64_t first, uint64_t count) {
    store_rows_t *rows = (store_rows_t *)context;
    int rc = 0;
    for (uint64_t n = first; n < first + count && rc == 0; n++) {
        bench_message_t message;
        s_message(&message, UUID_STORE, n, rows->base + (double)n * STORE_TIME_STEP);
        rc = s_sqlite_insert_message(rows->db, rows->insert, &message, STORE_CHANNEL);
        if (rc == 0) {
            sqlite3_bind_text(rows->touch, 1, STORE_CHANNEL, -1, SQLITE_STATIC);
            sqlite3_bind_double(rows->touch, 2, message.timestamp);
            rc = bench_sqlite_step(rows->db, rows->touch, "UPDATE channel");
        }
        if (rc == 0 && n == first)
            sqlite3_bind_int64(rows->index, 1, sqlite3_last_insert_rowid(rows->db));
    }
    if (rc == 0)
        rc = bench_sqlite_step(rows->db, rows->index, "INSERT messages_fts");
    return rc;
}

static int s_run_sqlite_msg_insert(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    store_rows_t rows = {bench_sqlite_open_schema(dir, &messages_schema), NULL, NULL, NULL,
                         s_now()};
    int rc = rows.db && s_sqlite_channel(rows.db, STORE_CHANNEL, rows.base) == 0 &&
                     bench_sqlite_exec(rows.db, "DROP TRIGGER messages_fts_queue") == 0 &&
                     bench_sqlite_prepare(rows.db, messages_sql_insert, &rows.insert) == 0 &&
                     bench_sqlite_prepare(rows.db, messages_sql_touch_channel, &rows.touch) == 0 &&
                     bench_sqlite_prepare(rows.db, BASELINE_INDEX_RANGE, &rows.index) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        rc = bench_sqlite_batches(bench, result, rows.db, SQLITE_BATCH, s_store_rows, &rows, 1);
    sqlite3_finalize(rows.insert);
    sqlite3_finalize(rows.touch);
    sqlite3_finalize(rows.index);
    sqlite3_close(rows.db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  Setup of the paged channel: rows are staged in a TEMP table, then moved
//  into messages with one INSERT ... SELECT per POPULATE_BATCH rows, and
//  indexed once per batch as the node's writer does (FTS5 flushes its
//  pending terms at every statement, so indexing row by row would spend a
//  minute per million rows writing and merging one-document segments). It
//  is setup, not a measured baseline, and it only has to leave the same
//  rows behind.
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
        rc = bench_sqlite_step(db, stage, "INSERT stage");
    }
    if (rc == 0) {
        sqlite3_bind_text(move, 1, SENDER_ID, -1, SQLITE_STATIC);
        sqlite3_bind_text(move, 2, SENDER_NAME, -1, SQLITE_STATIC);
        sqlite3_bind_text(move, 3, PAGE_CHANNEL, -1, SQLITE_STATIC);
        sqlite3_bind_blob(move, 4, BENCH_SIGNATURE, MSG_SIGNATURE_BYTES, SQLITE_STATIC);
        rc = bench_sqlite_step(db, move, "INSERT messages");
    }
    //  Indexed as the node's writer does before each commit.
    if (rc == 0)
        rc = bench_sqlite_exec(db, messages_sql_index_pending) == 0 &&
                     bench_sqlite_exec(db, messages_sql_clear_pending) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        return bench_sqlite_exec(db, "COMMIT");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

//  Fills the paged channel into `db` (which has messages_schema's tables):
//  bench->page_messages messages, oldest first, then folds the WAL into
//  the database file. Setup, untimed.
static int s_populate_pages(bench_t *bench, sqlite3 *db, const char *what) {
    int64_t start = zclock_usecs();
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", POPULATE_CACHE_KIB);
    sqlite3_stmt *stage = NULL, *move = NULL, *touch = NULL;
    int rc = bench_sqlite_exec(db, pragma) == 0 && bench_sqlite_exec(db, SETUP_STAGE_TABLE) == 0 &&
                     s_sqlite_channel(db, PAGE_CHANNEL, bench->page_base) == 0 &&
                     bench_sqlite_prepare(db, SETUP_STAGE_ROW, &stage) == 0 &&
                     bench_sqlite_prepare(db, SETUP_STAGE_MOVE, &move) == 0 &&
                     bench_sqlite_prepare(db, messages_sql_touch_channel, &touch) == 0
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
        rc = bench_sqlite_step(db, touch, "UPDATE channel");
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
    sqlite3 *db = bench_sqlite_open_schema(dir, &messages_schema);
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
    bench_print_node_info(bench);
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

//  Binds `query` to the page SELECT it runs (messages_sql_list_*).
static void s_bind_page(sqlite3_stmt *select, const page_query_t *query) {
    sqlite3_bind_text(select, 1, PAGE_CHANNEL, -1, SQLITE_STATIC);
    sqlite3_bind_double(select, 2, 0);
    sqlite3_bind_int64(select, 3, PAGE_ROWS);
    if (query->keyset) {
        sqlite3_bind_double(select, 4, query->before_timestamp);
        sqlite3_bind_text(select, 5, query->before_id, -1, SQLITE_STATIC);
    } else
        sqlite3_bind_int64(select, 4, query->offset);
}

//  Runs one page SELECT as the node does: steps up to PAGE_ROWS rows
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
        db ? bench_sqlite_prepare(
                 db, query.keyset ? messages_sql_list_keyset : messages_sql_list_offset, &select)
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

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *insert;
    gossip_seq_t seq;
    uint64_t added; //  ids that were new
} gossip_rows_t;

//  Adds the next `count` ids of the same sequence as the node's GossipAdd.
static int s_gossip_rows(void *context, uint64_t first, uint64_t count) {
    gossip_rows_t *rows = (gossip_rows_t *)context;
    int rc = 0;
    for (uint64_t n = 0; n < count && rc == 0; n++) {
        char id[UUID_TEXT_SIZE];
        s_gossip_next(&rows->seq, id);
        sqlite3_bind_text(rows->insert, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(rows->insert, 2, GOSSIP_TTL);
        sqlite3_bind_double(rows->insert, 3, s_now());
        rc = bench_sqlite_step(rows->db, rows->insert, "INSERT OR IGNORE gossip");
        rows->added += rc == 0 ? (uint64_t)sqlite3_changes(rows->db) : 0;
    }
    return rc;
}

static int s_run_sqlite_gossip(bench_t *bench, result_t *result) {
    char *dir = ca_test_tempdir("cairn-bench");
    gossip_rows_t rows = {bench_sqlite_open_schema(dir, &messages_schema), NULL, {0, 0}, 0};
    int rc = rows.db ? bench_sqlite_prepare(rows.db, gossip_sql_add, &rows.insert) : -1;
    if (rc == 0)
        rc = bench_sqlite_batches(bench, result, rows.db, SQLITE_BATCH, s_gossip_rows, &rows, 1);
    if (rc == 0 && result->ok)
        printf("sqlite.gossip_add.mixed: %.1f%% of %" PRIu64 " ids were new\n",
               100.0 * (double)rows.added / (double)result->ok, result->ok);
    sqlite3_finalize(rows.insert);
    sqlite3_close(rows.db);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  ---- the node: the message store ------------------------------------------------------

//  Creates channel `name` through the node; one that exists already is fine.
static int s_node_channel(bench_t *bench, const char *name, bool unsigned_messages) {
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    Cairn__ChannelCreate create = CAIRN__CHANNEL_CREATE__INIT;
    create.name = (char *)name;
    create.unsigned_messages = unsigned_messages;
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

//  Sends MessageStore of `message` with request id `id`.
static int s_send_message_store(void *handle, uint64_t id, Cairn__Message *message) {
    Cairn__MessageStore store_request = CAIRN__MESSAGE_STORE__INIT;
    store_request.message = message;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
    request.message_store = &store_request;
    return bench_send_request(handle, &request);
}

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
    return s_send_message_store(handle, id, &message);
}

static const wire_t s_msg_store_wire = {s_msg_store_send, bench_response_decode};

static int s_run_node_msg_store(bench_t *bench, result_t *result) {
    if (!bench_node(bench) || s_node_channel(bench, STORE_CHANNEL, true) != 0)
        return -1;
    store_context_t store = {s_now()};
    return bench_run_node(bench, result, "node.msg_store.pipelined", &s_msg_store_wire, &store,
                          bench->window);
}

//  ---- signed messages: raw.msg_verify, node.msg_store_signed.pipelined ------------------

#define SIGNED_CHANNEL      "#bench-signed"
#define SIGNED_MIN          4096    //  messages signed at least
#define SIGNED_MAX          1000000 //  and at most (64 MB of signatures)
#define SIGNED_DEFAULT_RATE 20000.0 //  node rate guessed when raw.msg_verify did not run
#define SIGNED_HEADROOM     1.5     //  the node could be a little faster than raw

//  The signer and the signatures of messages 0..count-1 of UUID_SIGNED
//  (each rebuilt from its number when sent), made before any timing. One
//  per process: the bench runs its cases on one thread.
static struct {
    messages_fixture_signer_t signer;
    double base;               //  timestamp of message 0
    uint64_t count, capacity;  //  signed so far, room
    uint8_t (*signatures)[64]; //  count of them
    uint64_t node_sent;        //  messages already given to the node
    double raw_rate;           //  of raw.msg_verify, 0 when it did not run
    bool node_ready;           //  channel and peer made on the node
} s_signed;

//  Message n of the signed family, with `signature` (NULL: unsigned);
//  its bytes live in `storage`.
static void s_signed_message(Cairn__Message *message, bench_message_t *storage, uint64_t n,
                             const uint8_t *signature) {
    s_message(storage, UUID_SIGNED, n, s_signed.base + (double)n * STORE_TIME_STEP);
    cairn__message__init(message);
    message->id = storage->id;
    message->timestamp = storage->timestamp;
    message->sender_id = s_signed.signer.peer_id;
    message->sender_name = (char *)SENDER_NAME;
    message->channel = (char *)SIGNED_CHANNEL;
    message->content.data = (uint8_t *)storage->content;
    message->content.len = MSG_CONTENT_BYTES;
    if (signature)
        message->signature = (ProtobufCBinaryData){MSG_SIGNATURE_BYTES, (uint8_t *)signature};
}

//  Signs messages up to `count` (untimed); -1 after saying why.
static int s_sign_up_to(uint64_t count) {
    if (s_signed.base == 0) {
        s_signed.base = s_now();
        crypto_sign_keypair(s_signed.signer.public_key, s_signed.signer.secret_key);
        sodium_bin2hex(s_signed.signer.peer_id, sizeof s_signed.signer.peer_id,
                       s_signed.signer.public_key, sizeof s_signed.signer.public_key);
    }
    if (count <= s_signed.count)
        return 0;
    if (count > s_signed.capacity) {
        void *grown = realloc(s_signed.signatures, count * sizeof *s_signed.signatures);
        if (!grown)
            return bench_fail("msg_verify", "no memory for %" PRIu64 " signatures", count);
        s_signed.signatures = grown;
        s_signed.capacity = count;
    }
    int64_t start = zclock_usecs();
    for (uint64_t n = s_signed.count; n < count; n++) {
        Cairn__Message message;
        bench_message_t storage;
        s_signed_message(&message, &storage, n, NULL);
        if (!message_sign(&message, s_signed.signer.secret_key, s_signed.signatures[n]))
            return bench_fail("msg_verify", "message %" PRIu64 " has no canonical encoding", n);
        s_signed.count = n + 1;
    }
    printf("messages: %" PRIu64 " messages signed in %.2f s, untimed\n", s_signed.count,
           (double)(zclock_usecs() - start) / 1e6);
    fflush(stdout);
    return 0;
}

static int s_run_raw_msg_verify(bench_t *bench, result_t *result) {
    if (s_sign_up_to(SIGNED_MIN) != 0)
        return -1;
    //  The canonical bytes of SIGNED_MIN messages, encoded untimed.
    uint8_t *encoded[SIGNED_MIN];
    size_t sizes[SIGNED_MIN];
    int rc = 0;
    for (uint64_t n = 0; n < SIGNED_MIN; n++) {
        Cairn__Message message;
        bench_message_t storage;
        s_signed_message(&message, &storage, n, NULL);
        encoded[n] = message_encode(&message, &sizes[n]);
        if (!encoded[n]) {
            for (uint64_t k = 0; k < n; k++)
                free(encoded[k]);
            return bench_fail("raw.msg_verify", "message %" PRIu64 " cannot be encoded", n);
        }
    }
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        uint64_t k = result->ok % SIGNED_MIN;
        if (crypto_sign_verify_detached(s_signed.signatures[k], encoded[k], sizes[k],
                                        s_signed.signer.public_key) == 0)
            result->ok++;
        else
            rc = bench_fail("raw.msg_verify", "message %" PRIu64 " does not verify", k);
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0 && result->seconds > 0)
        s_signed.raw_rate = (double)result->ok / result->seconds;
    for (uint64_t n = 0; n < SIGNED_MIN; n++)
        free(encoded[n]);
    return rc;
}

//  The signer as a peer of the node and the signed channel (setup).
static int s_node_signed_setup(bench_t *bench) {
    if (s_signed.node_ready)
        return 0;
    if (s_node_channel(bench, SIGNED_CHANNEL, false) != 0)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    Cairn__Peer peer;
    ca_request_peer_init(&peer, s_signed.signer.peer_id, s_signed.signer.public_key, "127.0.0.1",
                         7402, "bench signer");
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 1, &peer, NULL);
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int rc = response && response->status == CAIRN__STATUS__OK
                 ? 0
                 : bench_fail("node", "PeerPut of the signer: %s",
                              response ? response->error : "no answer");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    s_signed.node_ready = rc == 0;
    return rc;
}

static int s_msg_signed_send(void *handle, uint64_t id, void *context) {
    uint64_t n = *(const uint64_t *)context + id;
    Cairn__Message message;
    bench_message_t storage;
    s_signed_message(&message, &storage, n, s_signed.signatures[n]);
    return s_send_message_store(handle, id, &message);
}

static const wire_t s_msg_signed_wire = {s_msg_signed_send, bench_response_decode};

//  Signed messages a case sends at most: what --seconds at the verify rate
//  needs, within SIGNED_MIN..SIGNED_MAX and --max-ops.
static uint64_t s_signed_count(const bench_t *bench) {
    double rate = s_signed.raw_rate > 0 ? s_signed.raw_rate : SIGNED_DEFAULT_RATE;
    double want = rate * bench->seconds * SIGNED_HEADROOM;
    uint64_t count = want < SIGNED_MIN   ? SIGNED_MIN
                     : want > SIGNED_MAX ? SIGNED_MAX
                                         : (uint64_t)want;
    return count < bench->max_ops ? count : bench->max_ops;
}

static int s_run_node_msg_store_signed(bench_t *bench, result_t *result) {
    const char *name = "node.msg_store_signed.pipelined";
    uint64_t count = s_signed_count(bench);
    if (s_sign_up_to(s_signed.node_sent + count) != 0 || !bench_node(bench) ||
        s_node_signed_setup(bench) != 0)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    uint64_t first = s_signed.node_sent;
    int rc = bench_drive_for(bench->seconds, count, name, client, &s_msg_signed_wire, &first,
                             bench->window, result);
    s_signed.node_sent += result->ok + result->busy + result->errors;
    zsock_destroy(&client);
    if (rc == 0 && result->errors > 0)
        rc = bench_fail(name, "%" PRIu64 " signed messages were refused", result->errors);
    if (rc == 0 && result->ok + result->busy + result->errors == count)
        printf("%s: every signed message was sent (%" PRIu64 "), before the time bound\n", name,
               count);
    return rc;
}

//  ---- replication by gossip: node.gossip_replication ----------------------------------

#define REPLICATION_WAIT_MS 60000 //  B must hold every message by then, + 2 ms per message
#define REPLICATION_MAX     20000 //  messages written on A at most

//  A call on `client` that must answer OK; -1 after saying why.
static int s_call_ok(zsock_t *client, Cairn__Request *request, const char *what) {
    Cairn__Response *response = harness_call(client, request, STALL_TIMEOUT_MS);
    int rc = response && (response->status == CAIRN__STATUS__OK ||
                          response->status == CAIRN__STATUS__CONFLICT)
                 ? 0
                 : bench_fail("node.gossip_replication", "%s: %s", what,
                              response ? response->error : "no answer");
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return rc;
}

//  On one node of the pair: the signed channel, the signer, the other
//  node as a member of the channel.
static int s_replication_setup(zsock_t *client, const char *other_id) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ChannelCreate create = CAIRN__CHANNEL_CREATE__INIT;
    create.name = (char *)SIGNED_CHANNEL;
    request.id = 1;
    request.body_case = CAIRN__REQUEST__BODY_CHANNEL_CREATE;
    request.channel_create = &create;
    if (s_call_ok(client, &request, "ChannelCreate") != 0)
        return -1;
    Cairn__Peer peer;
    Cairn__PeerPut put;
    ca_request_peer_init(&peer, s_signed.signer.peer_id, s_signed.signer.public_key, "127.0.0.1",
                         7402, "bench signer");
    ca_request_peer_put(&request, &put, 2, &peer, NULL);
    if (s_call_ok(client, &request, "PeerPut of the signer") != 0)
        return -1;
    Cairn__MemberJoin join;
    ca_request_member_join(&request, &join, 3, SIGNED_CHANNEL, other_id);
    return s_call_ok(client, &request, "MemberJoin");
}

//  Messages stored on the node of `client`; -1 when it did not answer.
static int64_t s_stored(zsock_t *client) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__MessageStats stats = CAIRN__MESSAGE_STATS__INIT;
    request.id = 4;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_STATS;
    request.message_stats = &stats;
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int64_t count = response && response->status == CAIRN__STATUS__OK
                        ? (int64_t)response->message_stats->messages
                        : -1;
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return count;
}

//  Two cairnd peers (bench_pair_up), each a member of the other's signed
//  channel; B dials A when `dial`. -1 after saying why; bench_pair_down
//  stops what started.

static int s_pair_up(const char *name, bool dial, bench_pair_t *pair) {
    if (bench_pair_up(pair, name, dial) != 0)
        return -1;
    return s_replication_setup(pair->client_a, harness_node_peer_id(pair->b)) != 0 ||
                   s_replication_setup(pair->client_b, harness_node_peer_id(pair->a)) != 0
               ? -1
               : 0;
}

//  Two nodes, B dialing A, members of each other's signed channel: signed
//  MessageStores pipelined on A; the case's time runs from the first one
//  to the moment B holds them all (polled), so its rate is end to end.
static int s_run_node_gossip_replication(bench_t *bench, result_t *result) {
    const char *name = "node.gossip_replication";
    uint64_t count = s_signed_count(bench);
    count = count < REPLICATION_MAX ? count : REPLICATION_MAX;
    if (s_sign_up_to(count + 1) != 0) //  the drive's request ids start at 1
        return -1;
    bench_pair_t pair;
    int rc = s_pair_up(name, true, &pair);
    zsock_t *client_a = pair.client_a, *client_b = pair.client_b;
    //  The session is up when a message written on A arrives on B; a
    //  gossip session sends only what is stored after it came up, so a
    //  probe is written each second until one arrives. B's count then is
    //  the base: probes written before the session never reach it.
    int64_t deadline = zclock_mono() + REPLICATION_WAIT_MS;
    uint64_t first = 0;
    while (rc == 0 && s_stored(client_b) < 1) {
        if (zclock_mono() > deadline)
            rc = bench_fail(name, "B never received a message from A (log: %s)",
                            harness_node_log_path(pair.b));
        Cairn__Message message;
        bench_message_t storage;
        s_signed_message(&message, &storage, first, s_signed.signatures[first]);
        s_send_message_store(zsock_resolve(client_a), 5, &message);
        Cairn__Response *response = ca_caller_recv(client_a, STALL_TIMEOUT_MS);
        if (response)
            cairn__response__free_unpacked(response, NULL);
        first++;
        int64_t until = zclock_mono() + 1000;
        while (s_stored(client_b) < 1 && zclock_mono() < until)
            zclock_sleep(10); //  a poll interval; `until` decides
    }
    int64_t base = s_stored(client_b);
    int64_t start = zclock_usecs();
    if (rc == 0)
        rc = bench_drive_for(bench->seconds, count - first, name, client_a, &s_msg_signed_wire,
                             &first, bench->window, result);
    double local_seconds = (double)(zclock_usecs() - start) / 1e6;
    int64_t want_b = base + (int64_t)result->ok;
    deadline = zclock_mono() + REPLICATION_WAIT_MS + (int64_t)result->ok * 2; //  500/s at least
    int64_t have_b = 0;
    while (rc == 0 && (have_b = s_stored(client_b)) < want_b && zclock_mono() < deadline)
        zclock_sleep(5);
    if (rc == 0 && have_b < want_b)
        rc = bench_fail(name,
                        "B holds %" PRId64 " of %" PRId64 " messages at the deadline (log: %s)",
                        have_b, want_b, harness_node_log_path(pair.b));
    if (rc == 0) {
        result->seconds = (double)(zclock_usecs() - start) / 1e6;
        double local = (double)result->ok / local_seconds;
        double replicated = (double)result->ok / result->seconds;
        printf("%s: %" PRIu64 " signed messages stored on A at %.0f/s, all on B after %.2f s: "
               "%.0f/s, %.2f of A's local rate (same run)\n",
               name, result->ok, local, result->seconds, replicated, replicated / local);
    }
    return bench_pair_down(&pair, name, rc);
}

//  ---- set reconciliation between nodes: node.recon.100k_1pct -----------------------------

#define RECON_BENCH_ITEMS 100000 //  messages 0..N-1 of the signed family
#define RECON_BENCH_EVERY 100    //  each side lacks one in this many (1%), spread evenly

//  The k-th message (from 0) of a side that lacks those with n % 100 == skip.
static uint64_t s_recon_nth(uint64_t k, uint64_t skip) {
    uint64_t block = k / (RECON_BENCH_EVERY - 1), off = k % (RECON_BENCH_EVERY - 1);
    return block * RECON_BENCH_EVERY + (off >= skip ? off + 1 : off);
}

static int s_recon_send(void *handle, uint64_t id, void *context) {
    uint64_t n = s_recon_nth(id - 1, *(const uint64_t *)context);
    Cairn__Message message;
    bench_message_t storage;
    s_signed_message(&message, &storage, n, s_signed.signatures[n]);
    return s_send_message_store(handle, id, &message);
}

static const wire_t s_recon_wire = {s_recon_send, bench_response_decode};

//  The initiator's figures of the session (the side with runs); 0 when none.
static int s_recon_figures(zsock_t *client, Cairn__PeerSession *out) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__PeerSessions sessions = CAIRN__PEER_SESSIONS__INIT;
    request.id = 6;
    request.body_case = CAIRN__REQUEST__BODY_PEER_SESSIONS;
    request.peer_sessions = &sessions;
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int found = 0;
    for (size_t i = 0; response && response->status == CAIRN__STATUS__OK &&
                       i < response->peer_sessions->n_sessions && !found;
         i++)
        if (response->peer_sessions->sessions[i]->recon_runs) {
            *out = *response->peer_sessions->sessions[i];
            found = 1;
        }
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return found;
}

static int s_by_id(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

//  The baseline in the same run: both full id lists (SHA-256 of the message
//  ids, as the reconciliation's items), each sorted by the other side and
//  diffed; the seconds, without the 2 x 32 x N bytes' transfer.
static double s_recon_full_lists(uint64_t per_side) {
    uint8_t(*lists)[2][32] = malloc(per_side * sizeof *lists);
    if (!lists)
        return -1;
    int64_t start = zclock_usecs();
    for (int side = 0; side < 2; side++)
        for (uint64_t k = 0; k < per_side; k++) {
            bench_message_t storage;
            uint64_t n = s_recon_nth(k, (uint64_t)side + 1);
            s_message(&storage, UUID_SIGNED, n, 0);
            ca_sha256((const uint8_t *)storage.id, strlen(storage.id), lists[k][side]);
        }
    uint8_t(*a)[32] = malloc(per_side * 32), (*b)[32] = malloc(per_side * 32);
    uint64_t lacking = 0;
    if (a && b) {
        for (uint64_t k = 0; k < per_side; k++) {
            memcpy(a[k], lists[k][0], 32);
            memcpy(b[k], lists[k][1], 32);
        }
        qsort(a, per_side, 32, s_by_id);
        qsort(b, per_side, 32, s_by_id);
        for (uint64_t k = 0; k < per_side; k++)
            lacking +=
                !bsearch(a[k], b, per_side, 32, s_by_id) + !bsearch(b[k], a, per_side, 32, s_by_id);
    }
    double seconds = (double)(zclock_usecs() - start) / 1e6;
    free(a);
    free(b);
    free(lists);
    return lacking ? seconds : -1;
}

//  Two cairnd peers, apart, each given 99,000 of the same 100,000 signed
//  messages (each lacks a different 1%, spread evenly); then B dials A.
//  Timed: from the dial to both holding all 100,000. Printed: the run's
//  rounds and bytes (PeerSession figures) against the full id lists.
static int s_run_node_recon(bench_t *bench, result_t *result) {
    (void)bench;
    const char *name = "node.recon.100k_1pct";
    uint64_t per_side = RECON_BENCH_ITEMS - RECON_BENCH_ITEMS / RECON_BENCH_EVERY;
    if (s_sign_up_to(RECON_BENCH_ITEMS) != 0)
        return -1;
    bench_pair_t pair;
    int rc = s_pair_up(name, false, &pair);
    zsock_t *client_a = pair.client_a, *client_b = pair.client_b;
    zsock_t *clients[2] = {client_a, client_b};
    for (int side = 0; side < 2 && rc == 0; side++) {
        result_t wrote = {0};
        uint64_t skip = (uint64_t)side + 1;
        rc = bench_drive_for(600, per_side, name, clients[side], &s_recon_wire, &skip, 64, &wrote);
        if (rc == 0 && wrote.ok != per_side)
            rc = bench_fail(name, "side %d stored %" PRIu64 " of %" PRIu64, side, wrote.ok,
                            per_side);
    }
    int64_t start = zclock_usecs();
    if (rc == 0) {
        Cairn__Request request = CAIRN__REQUEST__INIT;
        Cairn__PeerConnect connect = CAIRN__PEER_CONNECT__INIT;
        connect.address = "127.0.0.1";
        connect.port = (uint32_t)pair.port_a;
        connect.key = (char *)harness_node_peer_id(pair.a);
        request.id = 7;
        request.body_case = CAIRN__REQUEST__BODY_PEER_CONNECT;
        request.peer_connect = &connect;
        rc = s_call_ok(client_b, &request, "PeerConnect");
    }
    int64_t deadline = zclock_mono() + REPLICATION_WAIT_MS;
    while (rc == 0 &&
           (s_stored(client_a) < RECON_BENCH_ITEMS || s_stored(client_b) < RECON_BENCH_ITEMS)) {
        if (zclock_mono() > deadline)
            rc = bench_fail(name, "no union at the deadline: A %" PRId64 ", B %" PRId64,
                            s_stored(client_a), s_stored(client_b));
        zclock_sleep(5); //  a poll interval; the deadline decides
    }
    Cairn__PeerSession figures;
    if (rc == 0) {
        result->seconds = (double)(zclock_usecs() - start) / 1e6;
        result->ok = RECON_BENCH_ITEMS;
        if (!s_recon_figures(client_a, &figures) && !s_recon_figures(client_b, &figures))
            rc = bench_fail(name, "no side reports a reconciliation run");
    }
    if (rc == 0) {
        double full_bytes = 2.0 * (double)per_side * 32;
        double full_seconds = s_recon_full_lists(per_side);
        printf("%s: %u rounds, %" PRIu64 " bytes of negentropy (%.2f%% of both full id lists, "
               "%.0f bytes); run %.3f s (online to run end), union on both after %.3f s "
               "(moving 2 x 1000 messages as gossip); full lists sorted and diffed in "
               "process: %.3f s without their transfer\n",
               name, figures.recon_rounds, figures.recon_bytes,
               100.0 * (double)figures.recon_bytes / full_bytes, full_bytes,
               figures.recon_last - figures.since, result->seconds, full_seconds);
    }
    return bench_pair_down(&pair, name, rc);
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

//  ---- the rows -------------------------------------------------------------------------

//  Which sides' paged channels to fill: those whose msg_page cases run.
static void s_selected(bench_t *bench, const bench_case_t *row) {
    //  The paged channel's newest message is a minute old (whole seconds,
    //  so both databases hold the same timestamps).
    if (bench->page_base == 0)
        bench->page_base =
            (double)(time(NULL) - 60) - (double)bench->page_messages * PAGE_TIME_STEP;
    bench->want_sqlite_pages |= strncmp(row->name, "sqlite.msg_page.", 16) == 0;
    bench->want_node_pages |= strncmp(row->name, "node.msg_page.", 14) == 0;
}

static void s_destroy(bench_t *bench) {
    sodium_memzero(&s_signed.signer, sizeof s_signed.signer);
    free(s_signed.signatures);
    memset(&s_signed, 0, sizeof s_signed);
    if (bench->page_dir)
        ca_test_rmtree(bench->page_dir);
    zstr_free(&bench->page_dir);
}

static const bench_case_t s_cases[] = {
    {.name = "sqlite.msg_insert.tx1000",
     .kind = KIND_BASELINE,
     .run = s_run_sqlite_msg_insert,
     .what = "raw SQLite, the node's message INSERT + channel UPDATE, 1000 per transaction"},
    {.name = "node.msg_store.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_msg_store,
     .versus = {"sqlite.msg_insert.tx1000"},
     .what = "cairnd MessageStore, 256-byte clear text, one unsigned channel, --window "
             "outstanding"},
    {.name = "raw.msg_verify",
     .kind = KIND_BASELINE,
     .run = s_run_raw_msg_verify,
     .what = "libsodium crypto_sign_verify_detached of signed messages' canonical bytes, one "
             "thread"},
    {.name = "node.msg_store_signed.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_msg_store_signed,
     .versus = {"raw.msg_verify", "node.msg_store.pipelined"},
     .what = "cairnd MessageStore of signed messages (each verified), a signed channel, "
             "--window outstanding"},
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
    {.name = "node.gossip_replication",
     .kind = KIND_NODE,
     .run = s_run_node_gossip_replication,
     .versus = {"node.msg_store_signed.pipelined"},
     .optional = true,
     .what = "two cairnd peers: signed MessageStores pipelined on A, until B holds them all by "
             "gossip (the same run prints the ratio to A's local rate)"},
    {.name = "node.recon.100k_1pct",
     .kind = KIND_NODE,
     .run = s_run_node_recon,
     .optional = true,
     .what = "two cairnd peers apart, 99,000 of the same 100,000 messages each (1% spread), then "
             "connected: set reconciliation until both hold all (prints rounds, bytes, the full "
             "lists' bytes and their in-process diff time)"},
};

const bench_area_t bench_messages_area = BENCH_AREA(s_cases, s_selected, s_destroy);

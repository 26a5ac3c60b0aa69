/*  =========================================================================
    content - the `cairn` client's content commands

    Rows of the shared command table (cli.h). The one-request rows
    are sent and printed by cairn.c; the rows with a run function drive
    their own requests through cli_send / cli_receive, and move bytes with
    blob.h:

        command        requests                                 printed
        -------------  ---------------------------------------  --------------------
        content put    ContentPut, or ContentBegin,             the hash
                       ContentChunk..., ContentCommit
        content get    ContentSize, then ContentGet or          bytes to stdout / -o
                       ContentRead... (ranges in order)
        content has    ContentHas                               stored / not stored
        content size   ContentSize                              bytes
        content rm     ContentDelete                            removed / not stored
        content fsck   ContentCheck                             the report; exit 1
                                                                on problems left
        content stats  ContentStats                             counters
        content        ContentSubscribe, its pushes             one line per new
          subscribe    (cli/subscribe.c)                        blob

    Transfers. Input is read in CLI_CHUNK pieces and never held whole: one
    that ends within the first chunk goes as one ContentPut; a longer one
    as a stream whose chunks are pipelined, CLI_WINDOW in flight (the node
    keeps a stream on one worker, so they arrive in order). Downloads ask
    the size first: a blob of at most one chunk comes with one ContentGet,
    a larger one as ContentRead ranges, pipelined the same way (a blob's
    ranges reach one worker, which verifies a blob read in order). The
    client hashes what it sends and receives as well:

        put   the expected hash sent with ContentPut / ContentCommit is
              --expect, else the SHA-256 of the bytes read here, so the
              node refuses (INVALID, nothing kept) bytes that changed on
              the way; with --expect a stream asks at Begin whether the
              node has the blob already and then sends nothing (the input
              is still read and hashed here to check --expect)
        get   the bytes received are hashed and compared with HASH unless
              --skip-verify (which also asks the node not to verify); a
              mismatch is "corrupt", exit 1
    ========================================================================= */

#include "blob.h"
#include "ca_request.h"
#include "ca_status.h"
#include "ca_validate.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---- the family's storage ---------------------------------------------------------

//  The body of a one-request row, and the hashes of the arguments.
typedef struct {
    union {
        Cairn__ContentHas has;
        Cairn__ContentSize size;
        Cairn__ContentDelete del;
        Cairn__ContentStats stats;
        Cairn__ContentCheck check;
        Cairn__ContentSubscribe subscribe;
    } body;
    uint8_t hash[CA_HASH_BYTES];   //  HASH argument
    uint8_t expect[CA_HASH_BYTES]; //  --expect, when has_expect
    bool has_expect;
} content_storage_t;

//  The 32 bytes of a hash the node sent; false when it is not one.
static bool s_is_hash(ProtobufCBinaryData bytes) {
    return bytes.len == CA_HASH_BYTES;
}

//  ---- content put --------------------------------------------------------------------------

typedef struct {
    const cli_t *cli;
    cli_conn_t *conn;
    const content_storage_t *content; //  --expect
    int fd;
    const char *name; //  of the input, for messages
    ca_sha256_t *sha; //  of every byte read
    uint8_t digest[CA_HASH_BYTES];
    uint8_t *buffer;
    uint64_t size; //  bytes read so far
    cli_progress_t progress;
    cli_window_t window;
    uint64_t stream_id;
    bool streamed;
} put_t;

//  Reads the next chunk into put->buffer and hashes it; *got 0 at the end.
static int s_put_read(put_t *put, size_t *got) {
    int error = cli_read_full(put->fd, put->buffer, CLI_CHUNK, got);
    if (error)
        return cli_io_error(put->cli, "read", put->name, error);
    ca_sha256_update(put->sha, put->buffer, *got);
    put->size += *got;
    return CLI_EXIT_OK;
}

//  The hash the node must find: --expect, else the one computed here.
static const uint8_t *s_put_expected(const put_t *put) {
    return put->content->has_expect ? put->content->expect : put->digest;
}

//  Prints a put's result: the hash (text), or its fields (JSON).
static int s_put_report(const put_t *put, bool deduplicated) {
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(put->digest, hex);
    if (!put->cli->json) {
        printf("%s\n", hex);
        return CLI_EXIT_OK;
    }
    return cli_report_ok(put->cli, json_pack("{s:s, s:I, s:b, s:b}", "hash", hex, "size",
                                             (json_int_t)put->size, "deduplicated", deduplicated,
                                             "streamed", put->streamed));
}

//  Sends a ContentPut or ContentCommit and reports its ContentStored,
//  whose hash must be ours and its size what was sent.
static int s_put_store(put_t *put, Cairn__Request *request) {
    Cairn__Response *response = NULL;
    int exit_code = cli_request(put->conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ContentStored *stored = request->body_case == CAIRN__REQUEST__BODY_CONTENT_PUT
                                             ? response->content_put
                                             : response->content_commit;
    if (!s_is_hash(stored->hash) || memcmp(stored->hash.data, put->digest, CA_HASH_BYTES) != 0 ||
        stored->size != put->size)
        exit_code = cli_report_error(put->cli, ca_status_str(CA_INTERNAL),
                                     "the node stored other bytes than were sent (its hash or "
                                     "size differs); run `cairn content fsck --verify`",
                                     CLI_EXIT_NODE_ERROR);
    else
        exit_code = s_put_report(put, stored->deduplicated);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Input that ended within the first chunk: one ContentPut.
static int s_put_whole(put_t *put, size_t length) {
    Cairn__ContentPut body;
    Cairn__Request request;
    ca_request_content_put(&request, &body, 0, put->buffer, length, s_put_expected(put),
                           CA_HASH_BYTES);
    return s_put_store(put, &request);
}

//  ContentBegin; with --expect the node may have the blob already
//  (*exists: nothing to send).
static int s_put_begin(put_t *put, bool *exists) {
    bool expect = put->content->has_expect;
    Cairn__ContentBegin body;
    Cairn__Request request;
    ca_request_content_begin(&request, &body, 0, expect ? put->content->expect : NULL,
                             expect ? CA_HASH_BYTES : 0);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(put->conn, &request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    *exists = response->content_begin->exists;
    put->stream_id = response->content_begin->stream_id;
    cairn__response__free_unpacked(response, NULL);
    return CLI_EXIT_OK;
}

//  Waits for the oldest chunk in flight.
static int s_put_settle_one(put_t *put) {
    Cairn__Response *response = NULL;
    int exit_code = cli_receive(put->conn, cli_window_pop(&put->window),
                                CAIRN__REQUEST__BODY_CONTENT_CHUNK, &response);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Sends put->buffer[0..length) as the chunk at `offset`, once the window
//  has room.
static int s_put_chunk(put_t *put, uint64_t offset, size_t length) {
    int exit_code = cli_window_full(&put->window) ? s_put_settle_one(put) : CLI_EXIT_OK;
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__ContentChunk body;
    Cairn__Request request;
    ca_request_content_chunk(&request, &body, 0, put->stream_id, offset, put->buffer, length);
    exit_code = cli_send(put->conn, &request);
    if (exit_code == CLI_EXIT_OK) {
        cli_window_push(&put->window, request.id);
        cli_progress_add(&put->progress, length);
    }
    return exit_code;
}

static int s_put_commit(put_t *put) {
    Cairn__ContentCommit body;
    Cairn__Request request;
    ca_request_content_commit(&request, &body, 0, put->stream_id, s_put_expected(put),
                              CA_HASH_BYTES);
    return s_put_store(put, &request);
}

//  Tells the node to drop the stream after a failure, so that its bytes do
//  not wait for stream_timeout_ms. Quiet: the failure is reported already.
static void s_put_abort(put_t *put) {
    Cairn__ContentAbort body;
    Cairn__Request request;
    ca_request_content_abort(&request, &body, 0, put->stream_id);
    Cairn__Response *response = cli_call_quietly(put->conn, &request);
    if (response)
        cairn__response__free_unpacked(response, NULL);
}

//  The node has the blob (Begin with --expect): reads and hashes the rest
//  of the input here to check --expect, sends nothing.
static int s_put_known(put_t *put) {
    size_t got = 1;
    int exit_code = CLI_EXIT_OK;
    while (got > 0 && exit_code == CLI_EXIT_OK)
        exit_code = s_put_read(put, &got);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    ca_sha256_final(put->sha, put->digest);
    if (memcmp(put->digest, put->content->expect, CA_HASH_BYTES) == 0)
        return s_put_report(put, true);
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(put->digest, hex);
    char *message = zsys_sprintf("%s does not match --expect: its SHA-256 is %s; nothing was sent",
                                 put->name, hex);
    int rc = cli_report_error(put->cli, ca_status_str(CA_INVALID), message, CLI_EXIT_NODE_ERROR);
    zstr_free(&message);
    return rc;
}

//  Sends the chunks: `first` bytes are in the buffer already.
static int s_put_chunks(put_t *put, size_t first) {
    int exit_code = CLI_EXIT_OK;
    uint64_t offset = 0;
    for (size_t length = first; length > 0 && exit_code == CLI_EXIT_OK;) {
        exit_code = s_put_chunk(put, offset, length);
        offset += length;
        if (exit_code == CLI_EXIT_OK)
            exit_code = s_put_read(put, &length);
    }
    while (put->window.count > 0 && exit_code == CLI_EXIT_OK)
        exit_code = s_put_settle_one(put);
    return exit_code;
}

//  Input longer than one chunk: Begin, the chunks, Commit.
static int s_put_stream(put_t *put, size_t first) {
    put->streamed = true;
    bool exists = false;
    int exit_code = s_put_begin(put, &exists);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (exists)
        return s_put_known(put);
    exit_code = s_put_chunks(put, first);
    cli_progress_end(&put->progress);
    if (exit_code == CLI_EXIT_OK) {
        ca_sha256_final(put->sha, put->digest);
        return s_put_commit(put);
    }
    if (exit_code != CLI_EXIT_UNREACHABLE)
        s_put_abort(put);
    return exit_code;
}

static const char *s_build_content_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    return cli_parse_expect(cli, content->expect, &content->has_expect);
}

static int s_run_content_put(const cli_t *cli, Cairn__Request *request, void *storage,
                             cli_conn_t *conn) {
    content_storage_t *content = storage;
    put_t put = {.cli = cli, .conn = conn, .content = content, .fd = -1};
    uint64_t total = 0;
    int exit_code = CLI_EXIT_OK;
    put.fd = cli_open_input(cli, cli->args[0], &put.name, &total, &exit_code);
    if (put.fd < 0)
        return exit_code;
    put.sha = ca_sha256_new();
    put.buffer = (uint8_t *)malloc(CLI_CHUNK);
    if (!put.sha || !put.buffer) {
        ca_sha256_destroy(&put.sha);
        free(put.buffer);
        cli_close_input(put.fd);
        return cli_report_error(cli, "INTERNAL", "out of memory", CLI_EXIT_NODE_ERROR);
    }
    cli_progress_init(&put.progress, "put", total);
    size_t first = 0;
    exit_code = s_put_read(&put, &first);
    if (exit_code == CLI_EXIT_OK && first < CLI_CHUNK) {
        ca_sha256_final(put.sha, put.digest);
        exit_code = s_put_whole(&put, first);
    } else if (exit_code == CLI_EXIT_OK)
        exit_code = s_put_stream(&put, first);
    cli_progress_end(&put.progress);
    free(put.buffer);
    ca_sha256_destroy(&put.sha);
    cli_close_input(put.fd);
    return exit_code;
}

//  ---- content get ------------------------------------------------------------------------

//  ContentSize: the blob's size, or its absence (NOT_FOUND, reported).
static int s_content_size(cli_get_t *get) {
    Cairn__ContentSize body;
    Cairn__Request request;
    ca_request_content_size(&request, &body, 0, get->hash, CA_HASH_BYTES);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(get->conn, &request, &response);
    if (exit_code == CLI_EXIT_OK)
        get->size = response->content_size->size;
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  A blob of at most one chunk: one ContentGet.
static int s_content_get_whole(cli_get_t *get) {
    Cairn__ContentGet body;
    Cairn__Request request;
    ca_request_content_get(&request, &body, 0, get->hash, CA_HASH_BYTES, !get->verify);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(get->conn, &request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    exit_code = cli_get_whole(get, response->content_get->data, get->size);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Asks for the range at `offset` (a chunk, or the rest).
static int s_content_read_send(cli_get_t *get, uint64_t offset) {
    Cairn__ContentRead body;
    Cairn__Request request;
    ca_request_content_read(&request, &body, 0, get->hash, CA_HASH_BYTES, offset, CLI_CHUNK,
                            !get->verify);
    int exit_code = cli_send(get->conn, &request);
    if (exit_code == CLI_EXIT_OK)
        cli_window_push(&get->window, request.id);
    return exit_code;
}

//  Takes the oldest range in flight, which must start at `offset`.
static int s_content_read_take(cli_get_t *get, uint64_t offset) {
    Cairn__Response *response = NULL;
    int exit_code = cli_receive(get->conn, cli_window_pop(&get->window),
                                CAIRN__REQUEST__BODY_CONTENT_READ, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ContentRange *range = response->content_read;
    uint64_t expected = get->size - offset < CLI_CHUNK ? get->size - offset : CLI_CHUNK;
    if (range->offset != offset || range->data.len != expected || range->size != get->size)
        exit_code = cli_report_error(get->cli, ca_status_str(CA_INTERNAL),
                                     "the node answered another range than was asked for",
                                     CLI_EXIT_NODE_ERROR);
    else
        exit_code = cli_get_deliver(get, range->data);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  A larger blob: ContentRead ranges in order, CLI_WINDOW in flight.
static int s_content_read_all(cli_get_t *get) {
    uint64_t asked = 0, taken = 0;
    int exit_code = CLI_EXIT_OK;
    while (taken < get->size && exit_code == CLI_EXIT_OK) {
        while (asked < get->size && !cli_window_full(&get->window) && exit_code == CLI_EXIT_OK) {
            exit_code = s_content_read_send(get, asked);
            asked += CLI_CHUNK;
        }
        if (exit_code == CLI_EXIT_OK)
            exit_code = s_content_read_take(get, taken);
        taken += CLI_CHUNK;
    }
    return exit_code;
}

static const char *s_build_content_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    return cli_parse_get(cli, content->hash);
}

static int s_run_content_get(const cli_t *cli, Cairn__Request *request, void *storage,
                             cli_conn_t *conn) {
    content_storage_t *content = storage;
    cli_get_t get;
    int exit_code = cli_get_open(&get, cli, conn, content->hash);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    exit_code = s_content_size(&get);
    cli_progress_init(&get.progress, "get", get.size);
    if (exit_code == CLI_EXIT_OK && get.size <= CLI_CHUNK)
        exit_code = s_content_get_whole(&get);
    else if (exit_code == CLI_EXIT_OK)
        exit_code = s_content_read_all(&get);
    exit_code = cli_get_finish(&get, exit_code);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (cli->json)
        return cli_report_ok(cli, cli_get_json(&get));
    cli_get_print(&get);
    return CLI_EXIT_OK;
}

//  ---- content has / size / rm / stats ---------------------------------------------------------

static const char *s_build_content_has(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    ca_request_content_has(request, &content->body.has, 0, content->hash, CA_HASH_BYTES);
    return cli_parse_hash(cli->args[0], "HASH", content->hash);
}

static void s_print_content_has(const answer_t *answer) {
    const Cairn__ContentPresence *presence = answer->response->content_has;
    cli_print_presence(answer, presence->exists, presence->size, "stored");
}

static json_t *s_json_content_has(const answer_t *answer) {
    const content_storage_t *content = answer->storage;
    const Cairn__ContentPresence *presence = answer->response->content_has;
    return cli_json_presence(content->hash, "exists", presence->exists, presence->size);
}

static const char *s_build_content_size(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    ca_request_content_size(request, &content->body.size, 0, content->hash, CA_HASH_BYTES);
    return cli_parse_hash(cli->args[0], "HASH", content->hash);
}

static void s_print_content_size(const answer_t *answer) {
    printf("%" PRIu64 "\n", answer->response->content_size->size);
}

static json_t *s_json_content_size(const answer_t *answer) {
    const content_storage_t *content = answer->storage;
    const Cairn__ContentPresence *presence = answer->response->content_size;
    return cli_json_presence(content->hash, "exists", presence->exists, presence->size);
}

static const char *s_build_content_rm(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    ca_request_content_delete(request, &content->body.del, 0, content->hash, CA_HASH_BYTES);
    return cli_parse_hash(cli->args[0], "HASH", content->hash);
}

static void s_print_content_rm(const answer_t *answer) {
    if (answer->response->content_delete->removed)
        printf("removed %s\n", answer->cli->args[0]);
    else
        printf("not stored %s (nothing removed)\n", answer->cli->args[0]);
}

static json_t *s_json_content_rm(const answer_t *answer) {
    const content_storage_t *content = answer->storage;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(content->hash, hex);
    return json_pack("{s:s, s:b}", "hash", hex, "removed",
                     answer->response->content_delete->removed);
}

static const char *s_build_content_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    ca_request_content_stats(request, &content->body.stats, 0);
    return NULL;
}

static void s_print_content_stats(const answer_t *answer) {
    const Cairn__ContentStatsReply *stats = answer->response->content_stats;
    printf("content store\n");
    printf("  %-15s %" PRIu64 "\n", "blobs", stats->blobs);
    cli_print_field_bytes("bytes", stats->bytes);
    printf("  %-15s %" PRIu64 " (on the worker that answered)\n", "open streams",
           stats->open_streams);
    printf("  %-15s %s\n", "hash backend", stats->hash_backend);
}

static json_t *s_json_content_stats(const answer_t *answer) {
    const Cairn__ContentStatsReply *stats = answer->response->content_stats;
    return json_pack("{s:I, s:I, s:I, s:s}", "blobs", (json_int_t)stats->blobs, "bytes",
                     (json_int_t)stats->bytes, "open_streams", (json_int_t)stats->open_streams,
                     "hash_backend", stats->hash_backend);
}

//  ---- content fsck ---------------------------------------------------------------------------

static const char *s_build_content_fsck(const cli_t *cli, Cairn__Request *request, void *storage) {
    content_storage_t *content = storage;
    ca_request_content_check(request, &content->body.check, 0, cli_option(cli, "verify") != NULL,
                             cli_option(cli, "repair") != NULL);
    return NULL;
}

//  One kind of problem: its count, what it means, the hashes listed.
static void s_print_check_kind(const char *label, uint64_t count, const char *meaning,
                               ProtobufCBinaryData *hashes, size_t listed) {
    printf("  %-8s %6" PRIu64 "  %s\n", label, count, meaning);
    for (size_t i = 0; i < listed; i++) {
        printf("    ");
        cli_print_hex(hashes[i]);
        printf("\n");
    }
    if (count > listed)
        printf("    ... and %" PRIu64 " more\n", count - listed);
}

static void s_print_check(const Cairn__ContentCheckReport *report, bool verify) {
    printf("checked %" PRIu64 " index rows and %" PRIu64 " files%s\n", report->blobs, report->files,
           verify ? ", every blob hashed" : "");
    s_print_check_kind("missing", report->missing_count, "index rows whose file is gone",
                       report->missing, report->n_missing);
    s_print_check_kind("orphans", report->orphan_count, "files without an index row",
                       report->orphans, report->n_orphans);
    s_print_check_kind("corrupt", report->corrupt_count,
                       verify ? "files whose bytes do not match their hash"
                              : "not looked for (--verify hashes every blob)",
                       report->corrupt, report->n_corrupt);
    s_print_check_kind("strays", report->stray_count, "files whose name is not a hash (left alone)",
                       NULL, 0);
}

static json_t *s_json_hash_list(ProtobufCBinaryData *hashes, size_t count) {
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        char hex[CLI_HASH_HEX] = "";
        if (s_is_hash(hashes[i]))
            ca_hash_to_hex(hashes[i].data, hex);
        json_array_append_new(list, json_string(hex));
    }
    return list;
}

static json_t *s_json_check(const Cairn__ContentCheckReport *report, bool verify, uint64_t problems,
                            uint64_t remaining) {
    return json_pack("{s:I, s:I, s:b, s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:b, s:I, s:b}", "blobs",
                     (json_int_t)report->blobs, "files", (json_int_t)report->files, "verified",
                     verify, "missing_count", (json_int_t)report->missing_count, "missing",
                     s_json_hash_list(report->missing, report->n_missing), "orphan_count",
                     (json_int_t)report->orphan_count, "orphans",
                     s_json_hash_list(report->orphans, report->n_orphans), "corrupt_count",
                     (json_int_t)report->corrupt_count, "corrupt",
                     s_json_hash_list(report->corrupt, report->n_corrupt), "stray_count",
                     (json_int_t)report->stray_count, "repaired", report->repaired, "problems",
                     (json_int_t)problems, "clean", remaining == 0);
}

//  Prints the report; exits 1 when problems were found and not repaired.
static int s_run_content_fsck(const cli_t *cli, Cairn__Request *request, void *storage,
                              cli_conn_t *conn) {
    content_storage_t *content = storage;
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ContentCheckReport *report = response->content_check;
    bool verify = content->body.check.verify;
    uint64_t problems = report->missing_count + report->orphan_count + report->corrupt_count;
    uint64_t remaining = report->repaired ? 0 : problems;
    if (cli->json)
        exit_code = cli_report_ok(cli, s_json_check(report, verify, problems, remaining));
    else {
        s_print_check(report, verify);
        if (problems == 0)
            printf("clean\n");
        else if (remaining == 0)
            printf("repaired %" PRIu64 " problem%s\n", problems, problems == 1 ? "" : "s");
    }
    if (exit_code == CLI_EXIT_OK && remaining > 0) {
        fprintf(stderr,
                "cairn: %" PRIu64 " problem%s in the content store; "
                "`cairn content fsck --repair%s` repairs %s\n",
                remaining, remaining == 1 ? "" : "s", verify ? " --verify" : "",
                remaining == 1 ? "it" : "them");
        exit_code = CLI_EXIT_NODE_ERROR;
    }
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- details for `cairn COMMAND --help` ------------------------------------------------------

static const char s_put_details[] =
    "FILE - reads standard input. Prints the blob's SHA-256 as 64 hex digits.\n"
    "Input shorter than 4 MiB goes in one request; longer input is streamed in\n"
    "4 MiB chunks (blobs of many GiB; never held whole in memory). The bytes are\n"
    "hashed here too and the node refuses (invalid, nothing kept) any that do not\n"
    "match: --expect HASH, else the hash computed here. With --expect, a blob the\n"
    "node has already is not sent again (the input is still read to check it).\n"
    "JSON: hash, size, deduplicated (it was stored already), streamed.\n";

static const char s_get_details[] =
    "Writes the blob to standard output, or with -o FILE to FILE.partial-XXXXXX\n"
    "renamed to FILE once every byte arrived and matched HASH: on any error\n"
    "(not_found, corrupt, a lost node) FILE is left as it was and exit is 1.\n"
    "Blobs over 4 MiB come in ranges. The node and this client both check the\n"
    "bytes against HASH; --skip-verify turns both checks off (faster; the bytes\n"
    "may then be damaged without notice). With --json, -o FILE is needed; the\n"
    "JSON has hash, size, path, verified.\n";

static const char s_fsck_details[] =
    "Compares the index with the blob files: rows whose file is missing, files\n"
    "without a row (orphans), files whose name is not a hash (strays, left\n"
    "alone). --verify also hashes every blob (reads everything) to find corrupt\n"
    "files. --repair removes rows of missing files, indexes orphans that match\n"
    "their name, and moves corrupt files to content/quarantine/. Lists show at\n"
    "most 1000 hashes per kind; counts are complete. Exit 1 when problems are\n"
    "left unrepaired (stderr says so), 0 when clean or repaired.\n";

static const char s_has_details[] =
    "Prints \"stored HASH (N bytes)\" or \"not stored HASH\" and exits 0 either way\n"
    "(as `gossip has`); JSON: exists, size.\n";

//  ---- content subscribe -----------------------------------------------------------

static const char *s_build_content_subscribe(const cli_t *cli, Cairn__Request *request,
                                             void *storage) {
    content_storage_t *content = storage;
    Cairn__ContentSubscribe *subscribe = &content->body.subscribe;
    cairn__content_subscribe__init(subscribe);
    subscribe->lease_ms = CLI_SUBSCRIBE_LEASE_MS;
    const char *problem =
        cli_subscribe_from(cli, "cursor", &subscribe->after, &subscribe->from_now);
    request->body_case = CAIRN__REQUEST__BODY_CONTENT_SUBSCRIBE;
    request->content_subscribe = subscribe;
    return problem;
}

static uint64_t s_print_arrival(const cli_t *cli, const Cairn__Response *response, size_t index) {
    const Cairn__ContentArrival *item = response->content_subscribe->arrivals[index];
    if (cli->json) {
        json_t *object = json_object();
        json_object_set_new(object, "position", cli_json_u64(item->position));
        cli_json_set_hex(object, "hash", item->hash);
        json_object_set_new(object, "size", cli_json_u64(item->size));
        json_dumpf(object, stdout, JSON_COMPACT);
        json_decref(object);
    } else {
        printf("%" PRIu64 "\t", item->position);
        cli_print_hex(item->hash);
        printf("\t%" PRIu64, item->size);
    }
    printf("\n");
    return item->position;
}

static int s_run_content_subscribe(const cli_t *cli, Cairn__Request *request, void *storage,
                                   cli_conn_t *conn) {
    (void)storage;
    return cli_subscribe_run(cli, request, conn, "--cursor", s_print_arrival);
}

static const char s_content_subscribe_details[] =
    "Prints each blob newly stored on the node as it is committed, one per line\n"
    "(position, hash, size; --json: one object per line), until --count blobs or\n"
    "Ctrl-C. Without --cursor it starts from now; --cursor N prints every arrival\n"
    "with a larger position first (a blob deleted since is left out). At the end\n"
    "it prints the cursor on stderr: `--cursor` it to resume without a gap or a\n"
    "repeat.\n";

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"content",
     "put",
     1,
     "FILE|-",
     "store a file's bytes; print their SHA-256",
     {{"expect", "HASH", false}},
     s_build_content_put,
     NULL,
     NULL,
     s_put_details,
     s_run_content_put,
     {CAIRN__REQUEST__BODY_CONTENT_ABORT, CAIRN__REQUEST__BODY_CONTENT_BEGIN,
      CAIRN__REQUEST__BODY_CONTENT_CHUNK, CAIRN__REQUEST__BODY_CONTENT_COMMIT,
      CAIRN__REQUEST__BODY_CONTENT_PUT}},
    {"content",
     "get",
     1,
     "HASH",
     "write a blob to stdout or FILE, checked against HASH",
     {{"o", "FILE", false}, {"skip-verify", NULL, false}},
     s_build_content_get,
     NULL,
     NULL,
     s_get_details,
     s_run_content_get,
     {CAIRN__REQUEST__BODY_CONTENT_GET, CAIRN__REQUEST__BODY_CONTENT_READ,
      CAIRN__REQUEST__BODY_CONTENT_SIZE}},
    {"content",
     "has",
     1,
     "HASH",
     "tell whether a blob is stored (exit 0 either way)",
     {{NULL, NULL, false}},
     s_build_content_has,
     s_print_content_has,
     s_json_content_has,
     s_has_details,
     NULL,
     {CAIRN__REQUEST__BODY_CONTENT_HAS}},
    {"content",
     "size",
     1,
     "HASH",
     "print a blob's size in bytes",
     {{NULL, NULL, false}},
     s_build_content_size,
     s_print_content_size,
     s_json_content_size,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CONTENT_SIZE}},
    {"content",
     "rm",
     1,
     "HASH",
     "delete a blob (OK when it was not there)",
     {{NULL, NULL, false}},
     s_build_content_rm,
     s_print_content_rm,
     s_json_content_rm,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CONTENT_DELETE}},
    {"content",
     "fsck",
     0,
     "",
     "check index vs. files; exit 1 on problems",
     {{"verify", NULL, false}, {"repair", NULL, false}},
     s_build_content_fsck,
     NULL,
     NULL,
     s_fsck_details,
     s_run_content_fsck,
     {CAIRN__REQUEST__BODY_CONTENT_CHECK}},
    {"content",
     "stats",
     0,
     "",
     "blobs, bytes, open upload streams, hash backend",
     {{NULL, NULL, false}},
     s_build_content_stats,
     s_print_content_stats,
     s_json_content_stats,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CONTENT_STATS}},
    {"content",
     "subscribe",
     0,
     "",
     "print newly stored blobs as they come (position cursors)",
     {{"cursor", "N", false}, {"count", "N", false}},
     s_build_content_subscribe,
     NULL,
     NULL,
     s_content_subscribe_details,
     s_run_content_subscribe,
     {CAIRN__REQUEST__BODY_CONTENT_SUBSCRIBE, CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK,
      CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE}},
};

CLI_FAMILY(content, s_rows, content_storage_t);

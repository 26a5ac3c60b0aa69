/*  =========================================================================
    cairn_content - the `cairn` client's content and cache commands

    Rows of the shared command table (cairn_cli.h). The one-request rows
    are sent and printed by cairn.c; the rows with a run function drive
    their own requests through cli_send / cli_receive:

        command           requests                                answer printed
        ----------------  --------------------------------------  --------------------
        content put       ContentPut, or ContentBegin,             the hash
                          ContentChunk..., ContentCommit
        content get       ContentSize, then ContentGet or          bytes to stdout / -o
                          ContentRead... (ranges in order)
        content has       ContentHas                               stored / not stored
        content size      ContentSize                              bytes
        content rm        ContentDelete                            removed / not stored
        content fsck      ContentCheck                             the report
        content stats     ContentStats                             counters
        cache put         CachePut                                 the hash
        cache get         CacheGet                                 bytes to stdout / -o
        cache has         CacheHas                                 cached / not cached
        cache evict       CacheEvict                               entries, bytes freed
        cache clear       CacheClear                               entries, bytes freed
        cache stats       CacheStats                               counters

    Transfers. Input is read in CONTENT_CHUNK pieces and never held whole:
    one that ends within the first chunk goes as one ContentPut; a longer
    one as a stream whose chunks are pipelined, CONTENT_WINDOW in flight
    (the node keeps a stream on one worker, so they arrive in order).
    Downloads ask the size first: a blob of at most one chunk comes with
    one ContentGet, a larger one as ContentRead ranges, pipelined the same
    way (a blob's ranges reach one worker, which verifies a blob read in
    order). The client hashes what it sends and receives as well:

        put   the expected hash sent with ContentPut / ContentCommit is
              --expect, else the SHA-256 of the bytes read here, so the
              node refuses (INVALID, nothing kept) bytes that changed on
              the way; with --expect a stream asks at Begin whether the
              node has the blob already and then sends nothing (the input
              is still read and hashed here to check --expect)
        get   the bytes received are hashed and compared with HASH unless
              --skip-verify (which also asks the node not to verify); a
              mismatch is "corrupt", exit 1

    Output files: `-o FILE` writes FILE.partial-XXXXXX in FILE's directory
    and renames it to FILE only when everything arrived and matched; on any
    error the partial file is removed, so FILE is either whole or absent
    (an existing FILE is replaced only on success). Bytes written to
    stdout cannot be taken back: a failure there still exits non-zero.
    With --json a get needs -o FILE (stdout carries the JSON object).

    Progress: when stderr is a terminal and a transfer passes
    PROGRESS_MIN_BYTES, one line on stderr shows bytes done (of the total,
    when known) and is redrawn in place; it is erased at the end. Never
    when stderr is not a terminal.
    ========================================================================= */

#include "ca_hash.h"
#include "ca_request.h"
#include "ca_status.h"
#include "ca_validate.h"
#include "cairn_cli.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Bytes per ContentPut / ContentChunk / ContentRead: below the node's
//  chunk limit, and a small multiple of it in flight.
#define CONTENT_CHUNK (4 * 1024 * 1024)
//  Requests of one transfer in flight (the node queues up to
//  CA_CONTENT_QUEUE_MAX per content worker).
#define CONTENT_WINDOW 4
//  Transfers shorter than this show no progress.
#define PROGRESS_MIN_BYTES (8 * 1024 * 1024)
//  Least time between two redraws of the progress line.
#define PROGRESS_EVERY_US 100000
//  Largest file `cache put` sends (one CachePut frame, below the node's
//  default max_frame_bytes with room for the receipt and the envelope).
#define CACHE_PUT_MAX (CA_DEFAULT_MAX_FRAME_BYTES - CA_CACHE_RECEIPT_MAX - 64 * 1024)
#define HASH_HEX      (2 * CA_HASH_BYTES + 1)

_Static_assert(CONTENT_CHUNK <= CA_CONTENT_CHUNK_MAX, "a chunk the node accepts");
_Static_assert(CONTENT_WINDOW < CA_CONTENT_QUEUE_MAX, "a window the node queues");

//  ---- hashes and sizes in arguments ------------------------------------------------------

static const char *s_parse_hash(const char *text, const char *what, uint8_t hash[CA_HASH_BYTES]) {
    if (ca_hash_from_hex(text, hash))
        return NULL;
    return cli_problem("%s wants 64 hex digits (a SHA-256), not '%.80s%s' (%zu characters)", what,
                       text, strlen(text) > 80 ? "..." : "", strlen(text));
}

//  --expect HASH, when given.
static const char *s_parse_expect(const cli_t *cli, cli_content_t *content) {
    const char *expect = cli_option(cli, "expect");
    content->has_expect = expect != NULL;
    return expect ? s_parse_hash(expect, "--expect", content->expect) : NULL;
}

//  A byte count: digits with an optional K, M, G or T suffix (binary
//  units; "KiB", "MB" and the like are read the same way).
static const char *s_parse_bytes(const char *text, const char *what, uint64_t *value) {
    static const char units[] = "KMGT";
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    int shift = 0;
    const char *unit = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (unit) {
        shift = 10 * (int)(unit - units + 1);
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || !isdigit(text[0]) ||
        (shift && parsed > (UINT64_MAX >> shift)))
        return cli_problem("%s wants a byte count such as 1048576, 512K, 100M or 2G, not '%s'",
                           what, text);
    *value = (uint64_t)parsed << shift;
    return NULL;
}

//  The 32 bytes of a hash the node sent; false when it is not one.
static bool s_is_hash(ProtobufCBinaryData bytes) {
    return bytes.len == CA_HASH_BYTES;
}

//  HASH, the first argument, into the request's storage.
static const char *s_parse_hash_arg(const cli_t *cli, request_t *request) {
    return s_parse_hash(cli->args[0], "HASH", request->body.content.hash);
}

//  ---- progress on a terminal ------------------------------------------------------------

typedef struct {
    const char *verb; //  "put", "get"
    uint64_t total;   //  0: not known (a pipe)
    uint64_t done;
    bool terminal; //  stderr is one
    bool drawn;    //  a line is on the screen
    int64_t drawn_at;
} progress_t;

static void s_progress_init(progress_t *self, const char *verb, uint64_t total) {
    *self = (progress_t){verb, total, 0, isatty(STDERR_FILENO) == 1, false, 0};
}

static void s_progress_draw(progress_t *self) {
    char done[32], total[32];
    cli_format_bytes(self->done, done, sizeof done);
    if (self->total) {
        cli_format_bytes(self->total, total, sizeof total);
        fprintf(stderr, "\r\033[Kcairn: %s %s of %s (%d%%)", self->verb, done, total,
                (int)(self->done * 100 / self->total));
    } else
        fprintf(stderr, "\r\033[Kcairn: %s %s", self->verb, done);
    fflush(stderr);
    self->drawn = true;
    self->drawn_at = zclock_usecs();
}

static void s_progress_add(progress_t *self, uint64_t bytes) {
    self->done += bytes;
    if (!self->terminal || (self->total < PROGRESS_MIN_BYTES && self->done < PROGRESS_MIN_BYTES))
        return;
    if (!self->drawn || zclock_usecs() - self->drawn_at >= PROGRESS_EVERY_US ||
        self->done == self->total)
        s_progress_draw(self);
}

//  Erases the line, if one was drawn.
static void s_progress_end(progress_t *self) {
    if (self->drawn)
        fputs("\r\033[K", stderr);
    self->drawn = false;
}

//  ---- requests in flight -------------------------------------------------------------------

//  Ids of a transfer's requests in flight, oldest first.
typedef struct {
    uint64_t ids[CONTENT_WINDOW];
    size_t first;
    size_t count;
} window_t;

static bool s_window_full(const window_t *self) {
    return self->count == CONTENT_WINDOW;
}

static void s_window_push(window_t *self, uint64_t id) {
    assert(!s_window_full(self));
    self->ids[(self->first + self->count++) % CONTENT_WINDOW] = id;
}

static uint64_t s_window_pop(window_t *self) {
    assert(self->count > 0);
    uint64_t id = self->ids[self->first];
    self->first = (self->first + 1) % CONTENT_WINDOW;
    self->count--;
    return id;
}

//  ---- local files -------------------------------------------------------------------------

//  A local read or write that failed: "cairn: io: ...", exit 1.
static int s_io_error(const cli_t *cli, const char *what, const char *name, int error) {
    char *message = zsys_sprintf("cannot %s %s: %s", what, name, strerror(error));
    int exit_code = cli_report_error(cli, "io", message, CLI_EXIT_NODE_ERROR);
    zstr_free(&message);
    return exit_code;
}

//  Reads until `size` bytes or the end of the input. 0, or an errno.
static int s_read_full(int fd, uint8_t *buffer, size_t size, size_t *got) {
    *got = 0;
    while (*got < size) {
        ssize_t read_now = read(fd, buffer + *got, size - *got);
        if (read_now < 0 && errno == EINTR)
            continue;
        if (read_now < 0)
            return errno;
        if (read_now == 0)
            break;
        *got += (size_t)read_now;
    }
    return 0;
}

static void s_close_input(int fd) {
    if (fd != STDIN_FILENO)
        close(fd);
}

//  Opens FILE, or stdin for "-". -1 (usage error reported) when it cannot.
static int s_open_input(const cli_t *cli, const char *path, const char **name, uint64_t *size,
                        int *exit_code) {
    bool is_stdin = streq(path, "-");
    *name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *exit_code = cli_usage_error(cli, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat info;
    bool known = fstat(fd, &info) == 0;
    if (known && S_ISDIR(info.st_mode)) {
        *exit_code = cli_usage_error(cli, "'%s' is a directory; give a file, or - for stdin", path);
        s_close_input(fd);
        return -1;
    }
    *size = known && S_ISREG(info.st_mode) ? (uint64_t)info.st_size : 0; //  0: not known
    return fd;
}

//  Where a get writes: stdout, or FILE by way of FILE.partial-XXXXXX.
typedef struct {
    const char *path; //  NULL: stdout
    char *partial;    //  the file being written, until it is renamed
    int fd;
} output_t;

//  Removes the partial file (after a failure). Safe twice.
static void s_output_discard(output_t *self) {
    if (self->partial) {
        close(self->fd);
        unlink(self->partial);
        zstr_free(&self->partial);
    }
}

//  Opens `path` (NULL or "-": stdout). Failure is a usage error.
static int s_output_open(const cli_t *cli, output_t *self, const char *path) {
    *self = (output_t){NULL, NULL, STDOUT_FILENO};
    if (!path || streq(path, "-"))
        return CLI_EXIT_OK;
    self->path = path;
    self->partial = zsys_sprintf("%s.partial-XXXXXX", path);
    self->fd = mkostemp(self->partial, O_CLOEXEC);
    if (self->fd < 0) {
        int exit_code = cli_usage_error(cli, "cannot write '%s' (as %s): %s", path, self->partial,
                                        strerror(errno));
        zstr_free(&self->partial);
        return exit_code;
    }
    //  mkstemp makes 0600; the final file gets what a new file would.
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(self->fd, 0666 & ~mask) == 0)
        return CLI_EXIT_OK;
    int exit_code = s_io_error(cli, "set the mode of", self->partial, errno);
    s_output_discard(self);
    return exit_code;
}

static const char *s_output_name(const output_t *self) {
    return self->path ? self->partial : "standard output";
}

static int s_output_write(const cli_t *cli, output_t *self, const uint8_t *data, size_t size) {
    while (size > 0) {
        ssize_t written = write(self->fd, data, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            return s_io_error(cli, "write", s_output_name(self), errno);
        data += written;
        size -= (size_t)written;
    }
    return CLI_EXIT_OK;
}

//  Closes and renames the partial file to its name; discards it on failure.
static int s_output_finish(const cli_t *cli, output_t *self) {
    if (!self->partial)
        return CLI_EXIT_OK;
    int fd = self->fd;
    self->fd = -1;
    int exit_code = CLI_EXIT_OK;
    if (close(fd) != 0)
        exit_code = s_io_error(cli, "write", self->partial, errno);
    else if (rename(self->partial, self->path) != 0)
        exit_code = s_io_error(cli, "rename the download to", self->path, errno);
    if (exit_code != CLI_EXIT_OK)
        unlink(self->partial);
    zstr_free(&self->partial);
    return exit_code;
}

//  ---- content put --------------------------------------------------------------------------

typedef struct {
    const cli_t *cli;
    cli_conn_t *conn;
    const cli_content_t *content; //  --expect
    int fd;
    const char *name; //  of the input, for messages
    ca_sha256_t *sha; //  of every byte read
    uint8_t digest[CA_HASH_BYTES];
    uint8_t *buffer;
    uint64_t size; //  bytes read so far
    progress_t progress;
    window_t window;
    uint64_t stream_id;
    bool streamed;
} put_t;

//  Reads the next chunk into put->buffer and hashes it; *got 0 at the end.
static int s_put_read(put_t *put, size_t *got) {
    int error = s_read_full(put->fd, put->buffer, CONTENT_CHUNK, got);
    if (error)
        return s_io_error(put->cli, "read", put->name, error);
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
    char hex[HASH_HEX];
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
    int exit_code = cli_receive(put->conn, s_window_pop(&put->window),
                                CAIRN__REQUEST__BODY_CONTENT_CHUNK, &response);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Sends put->buffer[0..length) as the chunk at `offset`, once the window
//  has room.
static int s_put_chunk(put_t *put, uint64_t offset, size_t length) {
    int exit_code = s_window_full(&put->window) ? s_put_settle_one(put) : CLI_EXIT_OK;
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__ContentChunk body;
    Cairn__Request request;
    ca_request_content_chunk(&request, &body, 0, put->stream_id, offset, put->buffer, length);
    exit_code = cli_send(put->conn, &request);
    if (exit_code == CLI_EXIT_OK) {
        s_window_push(&put->window, request.id);
        s_progress_add(&put->progress, length);
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
    char hex[HASH_HEX];
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
    s_progress_end(&put->progress);
    if (exit_code == CLI_EXIT_OK) {
        ca_sha256_final(put->sha, put->digest);
        return s_put_commit(put);
    }
    if (exit_code != CLI_EXIT_UNREACHABLE)
        s_put_abort(put);
    return exit_code;
}

static const char *s_build_content_put(const cli_t *cli, request_t *request) {
    return s_parse_expect(cli, &request->body.content);
}

static int s_run_content_put(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    put_t put = {.cli = cli, .conn = conn, .content = &request->body.content, .fd = -1};
    uint64_t total = 0;
    int exit_code = CLI_EXIT_OK;
    put.fd = s_open_input(cli, cli->args[0], &put.name, &total, &exit_code);
    if (put.fd < 0)
        return exit_code;
    put.sha = ca_sha256_new();
    put.buffer = (uint8_t *)malloc(CONTENT_CHUNK);
    assert(put.sha && put.buffer);
    s_progress_init(&put.progress, "put", total);
    size_t first = 0;
    exit_code = s_put_read(&put, &first);
    if (exit_code == CLI_EXIT_OK && first < CONTENT_CHUNK) {
        ca_sha256_final(put.sha, put.digest);
        exit_code = s_put_whole(&put, first);
    } else if (exit_code == CLI_EXIT_OK)
        exit_code = s_put_stream(&put, first);
    s_progress_end(&put.progress);
    free(put.buffer);
    ca_sha256_destroy(&put.sha);
    s_close_input(put.fd);
    return exit_code;
}

//  ---- content get / cache get: receiving ------------------------------------------------

typedef struct {
    const cli_t *cli;
    cli_conn_t *conn;
    const uint8_t *hash; //  HASH
    bool verify;         //  false with --skip-verify
    ca_sha256_t *sha;    //  of the bytes received, while verifying
    output_t output;
    progress_t progress;
    uint64_t size; //  of the blob
    uint64_t received;
    window_t window;
} get_t;

//  --json prints the JSON object on stdout, so the bytes need -o FILE.
static const char *s_check_output(const cli_t *cli) {
    const char *path = cli_option(cli, "o");
    if (cli->json && (!path || streq(path, "-")))
        return "with --json, give -o FILE: stdout carries the JSON object, not the bytes";
    return NULL;
}

//  Opens the output (before anything is asked of the node). On failure
//  the problem is reported and nothing is left to clean.
static int s_get_open(get_t *get, const cli_t *cli, cli_conn_t *conn, const uint8_t *hash) {
    *get = (get_t){.cli = cli, .conn = conn, .hash = hash};
    int exit_code = s_output_open(cli, &get->output, cli_option(cli, "o"));
    get->verify = !cli_option(cli, "skip-verify");
    if (exit_code == CLI_EXIT_OK && get->verify) {
        get->sha = ca_sha256_new();
        assert(get->sha);
    }
    return exit_code;
}

//  Writes bytes that arrived, and hashes and counts them.
static int s_get_deliver(get_t *get, ProtobufCBinaryData data) {
    if (get->sha)
        ca_sha256_update(get->sha, data.data, data.len);
    get->received += data.len;
    s_progress_add(&get->progress, data.len);
    return s_output_write(get->cli, &get->output, data.data, data.len);
}

//  After the last byte: the hash check (unless --skip-verify), then the
//  partial file becomes FILE. On any failure (`exit_code` already one or
//  found here) the partial file is removed.
static int s_get_finish(get_t *get, int exit_code) {
    s_progress_end(&get->progress);
    uint8_t digest[CA_HASH_BYTES];
    if (exit_code == CLI_EXIT_OK && get->sha) {
        ca_sha256_final(get->sha, digest);
        if (memcmp(digest, get->hash, CA_HASH_BYTES) != 0) {
            char hex[HASH_HEX];
            ca_hash_to_hex(digest, hex);
            char *message = zsys_sprintf(
                "the %" PRIu64 " bytes received hash to %s, not to HASH; %s", get->received, hex,
                get->output.path ? "nothing was written" : "discard what standard output got");
            exit_code =
                cli_report_error(get->cli, ca_status_str(CA_CORRUPT), message, CLI_EXIT_NODE_ERROR);
            zstr_free(&message);
        }
    }
    if (exit_code == CLI_EXIT_OK)
        exit_code = s_output_finish(get->cli, &get->output);
    s_output_discard(&get->output);
    ca_sha256_destroy(&get->sha);
    return exit_code;
}

//  The bytes a whole answer carried must be the blob's size.
static int s_get_whole(get_t *get, ProtobufCBinaryData data, uint64_t size) {
    if (data.len != size)
        return cli_report_error(get->cli, ca_status_str(CA_INTERNAL),
                                "the node answered fewer or more bytes than the blob holds",
                                CLI_EXIT_NODE_ERROR);
    return s_get_deliver(get, data);
}

//  The fields every get reports: hash, size, path, verified.
static json_t *s_get_json(const get_t *get) {
    char hex[HASH_HEX];
    ca_hash_to_hex(get->hash, hex);
    return json_pack("{s:s, s:I, s:s?, s:b}", "hash", hex, "size", (json_int_t)get->received,
                     "path", get->output.path, "verified", get->verify);
}

//  Text after a download into FILE (nothing when the bytes went to stdout).
static void s_get_print(const get_t *get) {
    if (!get->output.path)
        return;
    char size[32];
    cli_format_bytes(get->received, size, sizeof size);
    printf("wrote %s (%" PRIu64 " bytes) to %s%s\n", size, get->received, get->output.path,
           get->verify ? "" : " (not verified)");
}

//  ---- content get ------------------------------------------------------------------------

static const char *s_build_content_get(const cli_t *cli, request_t *request) {
    const char *problem = s_check_output(cli);
    return problem ? problem : s_parse_hash_arg(cli, request);
}

//  ContentSize: the blob's size, or its absence (NOT_FOUND, reported).
static int s_content_size(get_t *get) {
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
static int s_content_get_whole(get_t *get) {
    Cairn__ContentGet body;
    Cairn__Request request;
    ca_request_content_get(&request, &body, 0, get->hash, CA_HASH_BYTES, !get->verify);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(get->conn, &request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    exit_code = s_get_whole(get, response->content_get->data, get->size);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Asks for the range at `offset` (a chunk, or the rest).
static int s_content_read_send(get_t *get, uint64_t offset) {
    Cairn__ContentRead body;
    Cairn__Request request;
    ca_request_content_read(&request, &body, 0, get->hash, CA_HASH_BYTES, offset, CONTENT_CHUNK,
                            !get->verify);
    int exit_code = cli_send(get->conn, &request);
    if (exit_code == CLI_EXIT_OK)
        s_window_push(&get->window, request.id);
    return exit_code;
}

//  Takes the oldest range in flight, which must start at `offset`.
static int s_content_read_take(get_t *get, uint64_t offset) {
    Cairn__Response *response = NULL;
    int exit_code = cli_receive(get->conn, s_window_pop(&get->window),
                                CAIRN__REQUEST__BODY_CONTENT_READ, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ContentRange *range = response->content_read;
    uint64_t expected = get->size - offset < CONTENT_CHUNK ? get->size - offset : CONTENT_CHUNK;
    if (range->offset != offset || range->data.len != expected || range->size != get->size)
        exit_code = cli_report_error(get->cli, ca_status_str(CA_INTERNAL),
                                     "the node answered another range than was asked for",
                                     CLI_EXIT_NODE_ERROR);
    else
        exit_code = s_get_deliver(get, range->data);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  A larger blob: ContentRead ranges in order, CONTENT_WINDOW in flight.
static int s_content_read_all(get_t *get) {
    uint64_t asked = 0, taken = 0;
    int exit_code = CLI_EXIT_OK;
    while (taken < get->size && exit_code == CLI_EXIT_OK) {
        while (asked < get->size && !s_window_full(&get->window) && exit_code == CLI_EXIT_OK) {
            exit_code = s_content_read_send(get, asked);
            asked += CONTENT_CHUNK;
        }
        if (exit_code == CLI_EXIT_OK)
            exit_code = s_content_read_take(get, taken);
        taken += CONTENT_CHUNK;
    }
    return exit_code;
}

static int s_run_content_get(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    get_t get;
    int exit_code = s_get_open(&get, cli, conn, request->body.content.hash);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    exit_code = s_content_size(&get);
    s_progress_init(&get.progress, "get", get.size);
    if (exit_code == CLI_EXIT_OK && get.size <= CONTENT_CHUNK)
        exit_code = s_content_get_whole(&get);
    else if (exit_code == CLI_EXIT_OK)
        exit_code = s_content_read_all(&get);
    exit_code = s_get_finish(&get, exit_code);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (cli->json)
        return cli_report_ok(cli, s_get_json(&get));
    s_get_print(&get);
    return CLI_EXIT_OK;
}

//  ---- cache get --------------------------------------------------------------------------

static int s_run_cache_get(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    get_t get;
    int exit_code = s_get_open(&get, cli, conn, request->body.content.hash);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__CacheGet body;
    Cairn__Request sent;
    ca_request_cache_get(&sent, &body, 0, get.hash, CA_HASH_BYTES, !get.verify);
    Cairn__Response *response = NULL;
    exit_code = cli_request(conn, &sent, &response);
    const Cairn__CacheEntry *entry = response ? response->cache_get : NULL;
    if (entry) {
        s_progress_init(&get.progress, "get", entry->data.len);
        exit_code = s_get_whole(&get, entry->data, entry->size);
    }
    exit_code = s_get_finish(&get, exit_code);
    if (exit_code == CLI_EXIT_OK && cli->json) {
        json_t *fields = s_get_json(&get);
        json_t *more = json_pack("{s:s, s:f, s:f, s:I}", "source_peer", entry->source_peer,
                                 "queried_at", entry->queried_at, "stored_at", entry->stored_at,
                                 "last_access", (json_int_t)entry->last_access);
        if (fields && more) {
            json_object_update_new(fields, more);
            cli_json_set_hex(fields, "receipt", entry->receipt);
        } else {
            json_decref(more);
            json_decref(fields);
            fields = NULL;
        }
        exit_code = cli_report_ok(cli, fields);
    } else if (exit_code == CLI_EXIT_OK && get.output.path) {
        char queried[CLI_TIME_TEXT];
        cli_format_time(entry->queried_at, queried, sizeof queried);
        s_get_print(&get);
        printf("  from peer %s, queried at %s\n", entry->source_peer, queried);
    }
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- cache put --------------------------------------------------------------------------

//  --receipt: hex digits, or @FILE holding the raw bytes.
static const char *s_parse_receipt(const char *text, cli_content_t *content) {
    if (text[0] == '@')
        return cli_read_file(text + 1, "receipt file", content->receipt, CA_CACHE_RECEIPT_MAX,
                             &content->receipt_size);
    return cli_parse_hex(text, "--receipt", content->receipt, CA_CACHE_RECEIPT_MAX,
                         &content->receipt_size);
}

static const char *s_build_cache_put(const cli_t *cli, request_t *request) {
    cli_content_t *content = &request->body.content;
    const char *queried_at = cli_option(cli, "queried-at");
    const char *receipt = cli_option(cli, "receipt");
    content->queried_at = cli_now();
    const char *problem = s_parse_expect(cli, content);
    if (!problem && queried_at)
        problem = cli_parse_time(queried_at, "--queried-at", &content->queried_at);
    if (!problem && receipt)
        problem = s_parse_receipt(receipt, content);
    return problem;
}

//  Reads all of `fd` (at most `max` bytes) into a new buffer. 0, or an
//  errno (EFBIG: longer than max).
static int s_read_all(int fd, size_t max, uint8_t **data, size_t *size) {
    size_t room = 64 * 1024;
    *data = NULL;
    *size = 0;
    for (;;) {
        if (*size == room && room < max + 1)
            room = room * 2 < max + 1 ? room * 2 : max + 1;
        *data = (uint8_t *)realloc(*data, room);
        assert(*data);
        size_t got = 0;
        int error = s_read_full(fd, *data + *size, room - *size, &got);
        *size += got;
        if (error)
            return error;
        if (*size > max)
            return EFBIG;
        if (*size < room)
            return 0;
    }
}

static int s_cache_put_send(const cli_t *cli, cli_conn_t *conn, const cli_content_t *content,
                            ProtobufCBinaryData data) {
    uint8_t digest[CA_HASH_BYTES];
    ca_sha256(data.data, data.len, digest);
    Cairn__CachePut body;
    Cairn__Request request;
    ca_request_cache_put(&request, &body, 0, content->has_expect ? content->expect : digest,
                         CA_HASH_BYTES, data.data, data.len, cli_option(cli, "peer"),
                         content->queried_at, content->receipt, content->receipt_size);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, &request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__CacheStored *stored = response->cache_put;
    char hex[HASH_HEX];
    ca_hash_to_hex(digest, hex);
    if (cli->json)
        exit_code =
            cli_report_ok(cli, json_pack("{s:s, s:I, s:b, s:I, s:I}", "hash", hex, "size",
                                         (json_int_t)data.len, "replaced", stored->replaced,
                                         "evicted_entries", (json_int_t)stored->evicted_entries,
                                         "evicted_bytes", (json_int_t)stored->evicted_bytes));
    else
        printf("%s\n", hex);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

static int s_run_cache_put(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    const char *name = NULL;
    uint64_t total = 0;
    int exit_code = CLI_EXIT_OK;
    int fd = s_open_input(cli, cli->args[0], &name, &total, &exit_code);
    if (fd < 0)
        return exit_code;
    uint8_t *data = NULL;
    size_t size = 0;
    int error = s_read_all(fd, CACHE_PUT_MAX, &data, &size);
    s_close_input(fd);
    if (error == EFBIG)
        exit_code =
            cli_usage_error(cli, "%s is longer than %lld bytes, the most one CachePut takes", name,
                            (long long)CACHE_PUT_MAX);
    else if (error)
        exit_code = s_io_error(cli, "read", name, error);
    else
        exit_code =
            s_cache_put_send(cli, conn, &request->body.content, (ProtobufCBinaryData){size, data});
    free(data);
    return exit_code;
}

//  ---- content has / size / rm / stats ---------------------------------------------------------

static const char *s_build_content_has(const cli_t *cli, request_t *request) {
    cli_content_t *content = &request->body.content;
    ca_request_content_has(&request->request, &content->body.has, 0, content->hash, CA_HASH_BYTES);
    return s_parse_hash_arg(cli, request);
}

//  "stored HASH (N bytes)" / "not stored HASH", and the JSON of both.
static void s_print_presence(const answer_t *answer, bool present, uint64_t size,
                             const char *word) {
    if (present)
        printf("%s %s (%" PRIu64 " bytes)\n", word, answer->cli->args[0], size);
    else
        printf("not %s %s\n", word, answer->cli->args[0]);
}

static json_t *s_json_presence(const answer_t *answer, const char *flag, bool present,
                               uint64_t size) {
    char hex[HASH_HEX];
    ca_hash_to_hex(answer->request->body.content.hash, hex);
    return json_pack("{s:s, s:b, s:I}", "hash", hex, flag, present, "size", (json_int_t)size);
}

static void s_print_content_has(const answer_t *answer) {
    const Cairn__ContentPresence *presence = answer->response->content_has;
    s_print_presence(answer, presence->exists, presence->size, "stored");
}

static json_t *s_json_content_has(const answer_t *answer) {
    const Cairn__ContentPresence *presence = answer->response->content_has;
    return s_json_presence(answer, "exists", presence->exists, presence->size);
}

static const char *s_build_content_size(const cli_t *cli, request_t *request) {
    cli_content_t *content = &request->body.content;
    ca_request_content_size(&request->request, &content->body.size, 0, content->hash,
                            CA_HASH_BYTES);
    return s_parse_hash_arg(cli, request);
}

static void s_print_content_size(const answer_t *answer) {
    printf("%" PRIu64 "\n", answer->response->content_size->size);
}

static json_t *s_json_content_size(const answer_t *answer) {
    const Cairn__ContentPresence *presence = answer->response->content_size;
    return s_json_presence(answer, "exists", presence->exists, presence->size);
}

static const char *s_build_content_rm(const cli_t *cli, request_t *request) {
    cli_content_t *content = &request->body.content;
    ca_request_content_delete(&request->request, &content->body.del, 0, content->hash,
                              CA_HASH_BYTES);
    return s_parse_hash_arg(cli, request);
}

static void s_print_content_rm(const answer_t *answer) {
    if (answer->response->content_delete->removed)
        printf("removed %s\n", answer->cli->args[0]);
    else
        printf("not stored %s (nothing removed)\n", answer->cli->args[0]);
}

static json_t *s_json_content_rm(const answer_t *answer) {
    char hex[HASH_HEX];
    ca_hash_to_hex(answer->request->body.content.hash, hex);
    return json_pack("{s:s, s:b}", "hash", hex, "removed",
                     answer->response->content_delete->removed);
}

static const char *s_build_content_stats(const cli_t *cli, request_t *request) {
    ca_request_content_stats(&request->request, &request->body.content.body.stats, 0);
    return NULL;
}

//  "  LABEL           1.2 MiB (1234567 bytes)".
static void s_print_field_bytes(const char *label, uint64_t bytes) {
    char text[32];
    cli_format_bytes(bytes, text, sizeof text);
    printf("  %-15s %s (%" PRIu64 " bytes)\n", label, text, bytes);
}

static void s_print_content_stats(const answer_t *answer) {
    const Cairn__ContentStatsReply *stats = answer->response->content_stats;
    printf("content store\n");
    printf("  %-15s %" PRIu64 "\n", "blobs", stats->blobs);
    s_print_field_bytes("bytes", stats->bytes);
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

static const char *s_build_content_fsck(const cli_t *cli, request_t *request) {
    ca_request_content_check(&request->request, &request->body.content.body.check, 0,
                             cli_option(cli, "verify") != NULL, cli_option(cli, "repair") != NULL);
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
        char hex[HASH_HEX] = "";
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
static int s_run_content_fsck(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, &request->request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ContentCheckReport *report = response->content_check;
    bool verify = request->body.content.body.check.verify;
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

//  ---- cache has / evict / clear / stats ----------------------------------------------------

static const char *s_build_cache_has(const cli_t *cli, request_t *request) {
    cli_content_t *content = &request->body.content;
    ca_request_cache_has(&request->request, &content->body.cache_has, 0, content->hash,
                         CA_HASH_BYTES);
    return s_parse_hash_arg(cli, request);
}

static void s_print_cache_has(const answer_t *answer) {
    const Cairn__CachePresence *presence = answer->response->cache_has;
    s_print_presence(answer, presence->cached, presence->size, "cached");
}

static json_t *s_json_cache_has(const answer_t *answer) {
    const Cairn__CachePresence *presence = answer->response->cache_has;
    return s_json_presence(answer, "cached", presence->cached, presence->size);
}

static const char *s_build_cache_evict(const cli_t *cli, request_t *request) {
    Cairn__CacheEvict *evict = &request->body.content.body.cache_evict;
    ca_request_cache_evict(&request->request, evict, 0, 0);
    return s_parse_bytes(cli->args[0], "BYTES", &evict->max_bytes);
}

static void s_print_evicted(const Cairn__CacheEvicted *evicted, const char *verb) {
    char freed[32];
    cli_format_bytes(evicted->bytes, freed, sizeof freed);
    printf("%s %" PRIu64 " entr%s, freed %s (%" PRIu64 " bytes)\n", verb, evicted->entries,
           evicted->entries == 1 ? "y" : "ies", freed, evicted->bytes);
}

static json_t *s_json_evicted(const Cairn__CacheEvicted *evicted) {
    return json_pack("{s:I, s:I}", "entries", (json_int_t)evicted->entries, "bytes",
                     (json_int_t)evicted->bytes);
}

static void s_print_cache_evict(const answer_t *answer) {
    s_print_evicted(answer->response->cache_evict, "evicted");
}

static json_t *s_json_cache_evict(const answer_t *answer) {
    return s_json_evicted(answer->response->cache_evict);
}

static const char *s_build_cache_clear(const cli_t *cli, request_t *request) {
    ca_request_cache_clear(&request->request, &request->body.content.body.cache_clear, 0);
    return NULL;
}

static void s_print_cache_clear(const answer_t *answer) {
    s_print_evicted(answer->response->cache_clear, "cleared");
}

static json_t *s_json_cache_clear(const answer_t *answer) {
    return s_json_evicted(answer->response->cache_clear);
}

static const char *s_build_cache_stats(const cli_t *cli, request_t *request) {
    ca_request_cache_stats(&request->request, &request->body.content.body.cache_stats, 0);
    return NULL;
}

static void s_print_cache_stats(const answer_t *answer) {
    const Cairn__CacheStatsReply *stats = answer->response->cache_stats;
    printf("cache\n");
    printf("  %-15s %" PRIu64 "\n", "entries", stats->entries);
    s_print_field_bytes("bytes", stats->bytes);
    if (stats->max_bytes)
        s_print_field_bytes("budget", stats->max_bytes);
    else
        printf("  %-15s unbounded (cache_max_bytes 0)\n", "budget");
}

static json_t *s_json_cache_stats(const answer_t *answer) {
    const Cairn__CacheStatsReply *stats = answer->response->cache_stats;
    return json_pack("{s:I, s:I, s:I}", "entries", (json_int_t)stats->entries, "bytes",
                     (json_int_t)stats->bytes, "max_bytes", (json_int_t)stats->max_bytes);
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

static const char s_cache_put_details[] =
    "Caches FILE (- reads standard input; at most one request, < 64 MiB) as\n"
    "content fetched from PEER_ID, queried at T (default now), with a payment\n"
    "receipt (--receipt: hex digits, or @FILE with the raw bytes; at most\n"
    "64 KiB). Sent under --expect HASH, else the SHA-256 computed here; the node\n"
    "refuses content that does not match it. Prints the hash. The cache is\n"
    "then trimmed to the node's cache_max_bytes, least recently used first\n"
    "(JSON: evicted_entries, evicted_bytes).\n";

static const char s_cache_get_details[] =
    "Writes a cached entry's bytes to standard output or -o FILE (renamed into\n"
    "place only when whole and matching HASH) and marks it used. With -o the\n"
    "output names the source peer and query time; JSON (needs -o) also has\n"
    "stored_at, last_access and the receipt as hex.\n";

static const char s_cache_evict_details[] =
    "Evicts least recently used entries until at most BYTES remain (0 empties\n"
    "the cache). BYTES may end in K, M or G (KiB, MiB, GiB).\n";

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
     s_run_content_put},
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
     s_run_content_get},
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
     NULL},
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
     NULL},
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
     NULL},
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
     s_run_content_fsck},
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
     NULL},
    {"cache",
     "put",
     1,
     "FILE|-",
     "cache content fetched from a peer; print its SHA-256",
     {{"peer", "PEER_ID", true},
      {"expect", "HASH", false},
      {"receipt", "HEX|@FILE", false},
      {"queried-at", "T", false}},
     s_build_cache_put,
     NULL,
     NULL,
     s_cache_put_details,
     s_run_cache_put},
    {"cache",
     "get",
     1,
     "HASH",
     "write a cached entry to stdout or FILE",
     {{"o", "FILE", false}, {"skip-verify", NULL, false}},
     s_build_content_get,
     NULL,
     NULL,
     s_cache_get_details,
     s_run_cache_get},
    {"cache",
     "has",
     1,
     "HASH",
     "tell whether an entry is cached (exit 0 either way)",
     {{NULL, NULL, false}},
     s_build_cache_has,
     s_print_cache_has,
     s_json_cache_has,
     NULL,
     NULL},
    {"cache",
     "evict",
     1,
     "BYTES",
     "evict least recently used entries down to BYTES",
     {{NULL, NULL, false}},
     s_build_cache_evict,
     s_print_cache_evict,
     s_json_cache_evict,
     s_cache_evict_details,
     NULL},
    {"cache",
     "clear",
     0,
     "",
     "remove every cached entry",
     {{NULL, NULL, false}},
     s_build_cache_clear,
     s_print_cache_clear,
     s_json_cache_clear,
     NULL,
     NULL},
    {"cache",
     "stats",
     0,
     "",
     "entries, bytes and the budget (cache_max_bytes)",
     {{NULL, NULL, false}},
     s_build_cache_stats,
     s_print_cache_stats,
     s_json_cache_stats,
     NULL,
     NULL},
};

const command_table_t cairn_content_commands = {s_rows, sizeof s_rows / sizeof s_rows[0]};

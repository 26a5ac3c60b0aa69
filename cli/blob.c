/*  =========================================================================
    blob - what the `cairn` content and cache commands share

    See blob.h. Two rules for whatever a get writes:

    Output files: `-o FILE` writes FILE.partial-XXXXXX in FILE's directory
    and renames it to FILE only when everything arrived and matched (the
    file is fsynced before the rename, its directory after); on any
    error the partial file is removed, so FILE is either whole or as it was
    (an existing FILE is replaced only on success). Bytes written to
    stdout cannot be taken back: a failure there still exits non-zero.
    With --json a get needs -o FILE (stdout carries the JSON object).

    Progress: when stderr is a terminal and a transfer passes
    PROGRESS_MIN_BYTES, one line on stderr shows bytes done (of the total,
    when known) and is redrawn in place; it is erased at the end. Never
    when stderr is not a terminal.
    ========================================================================= */

#include "blob.h"
#include "ca_status.h"
#include "ca_validate.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Transfers shorter than this show no progress.
#define PROGRESS_MIN_BYTES (8 * 1024 * 1024)
//  Least time between two redraws of the progress line.
#define PROGRESS_EVERY_US 100000

_Static_assert(CLI_CHUNK <= CA_CONTENT_CHUNK_MAX, "a chunk the node accepts");
_Static_assert(CLI_WINDOW < CA_CONTENT_QUEUE_MAX, "a window the node queues");

//  ---- hashes in arguments ------------------------------------------------------

const char *cli_parse_hash(const char *text, const char *what, uint8_t hash[CA_HASH_BYTES]) {
    if (ca_hash_from_hex(text, hash))
        return NULL;
    return cli_problem("%s wants 64 hex digits (a SHA-256), not '%.80s%s' (%zu characters)", what,
                       text, strlen(text) > 80 ? "..." : "", strlen(text));
}

const char *cli_parse_hash_list(char *const *args, size_t count, const char *what,
                                uint8_t (*hashes)[CA_HASH_BYTES], ProtobufCBinaryData *bytes) {
    const char *problem = NULL;
    for (size_t i = 0; i < count && !problem; i++) {
        problem = cli_parse_hash(args[i], what, hashes[i]);
        bytes[i] = cli_hash_bytes(hashes[i]);
    }
    return problem;
}

const char *cli_parse_expect(const cli_t *cli, uint8_t expect[CA_HASH_BYTES], bool *has_expect) {
    const char *text = cli_option(cli, "expect");
    *has_expect = text != NULL;
    return text ? cli_parse_hash(text, "--expect", expect) : NULL;
}

//  ---- progress on a terminal ------------------------------------------------------------

void cli_progress_init(cli_progress_t *self, const char *verb, uint64_t total) {
    *self = (cli_progress_t){verb, total, 0, isatty(STDERR_FILENO) == 1, false, 0};
}

static void s_progress_draw(cli_progress_t *self) {
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

void cli_progress_add(cli_progress_t *self, uint64_t bytes) {
    self->done += bytes;
    if (!self->terminal || (self->total < PROGRESS_MIN_BYTES && self->done < PROGRESS_MIN_BYTES))
        return;
    if (!self->drawn || zclock_usecs() - self->drawn_at >= PROGRESS_EVERY_US ||
        self->done == self->total)
        s_progress_draw(self);
}

void cli_progress_end(cli_progress_t *self) {
    if (self->drawn)
        fputs("\r\033[K", stderr);
    self->drawn = false;
}

//  ---- requests in flight -------------------------------------------------------------------

bool cli_window_full(const cli_window_t *self) {
    return self->count == CLI_WINDOW;
}

void cli_window_push(cli_window_t *self, uint64_t id) {
    assert(!cli_window_full(self));
    self->ids[(self->first + self->count++) % CLI_WINDOW] = id;
}

uint64_t cli_window_pop(cli_window_t *self) {
    assert(self->count > 0);
    uint64_t id = self->ids[self->first];
    self->first = (self->first + 1) % CLI_WINDOW;
    self->count--;
    return id;
}

//  ---- local files -------------------------------------------------------------------------

int cli_io_error(const cli_t *cli, const char *what, const char *name, int error) {
    char *message = zsys_sprintf("cannot %s %s: %s", what, name, strerror(error));
    int exit_code = cli_report_error(cli, "io", message, CLI_EXIT_NODE_ERROR);
    zstr_free(&message);
    return exit_code;
}

int cli_read_full(int fd, uint8_t *buffer, size_t size, size_t *got) {
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

void cli_close_input(int fd) {
    if (fd != STDIN_FILENO)
        close(fd);
}

int cli_open_input(const cli_t *cli, const char *path, const char **name, uint64_t *size,
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
        cli_close_input(fd);
        return -1;
    }
    *size = known && S_ISREG(info.st_mode) ? (uint64_t)info.st_size : 0; //  0: not known
    return fd;
}

void cli_output_discard(cli_output_t *self) {
    if (self->partial) {
        close(self->fd);
        unlink(self->partial);
        zstr_free(&self->partial);
    }
}

int cli_output_open(const cli_t *cli, cli_output_t *self, const char *path) {
    *self = (cli_output_t){NULL, NULL, STDOUT_FILENO};
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
    int exit_code = cli_io_error(cli, "set the mode of", self->partial, errno);
    cli_output_discard(self);
    return exit_code;
}

static const char *s_output_name(const cli_output_t *self) {
    return self->path ? self->partial : "standard output";
}

int cli_output_write(const cli_t *cli, cli_output_t *self, const uint8_t *data, size_t size) {
    while (size > 0) {
        ssize_t written = write(self->fd, data, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            return cli_io_error(cli, "write", s_output_name(self), errno);
        data += written;
        size -= (size_t)written;
    }
    return CLI_EXIT_OK;
}

//  fsync of the directory holding `path`, so a rename into it is durable;
//  -1 with errno set.
static int s_sync_parent(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int error = errno;
    close(fd);
    errno = error;
    return rc;
}

int cli_output_finish(const cli_t *cli, cli_output_t *self) {
    if (!self->partial)
        return CLI_EXIT_OK;
    int fd = self->fd;
    self->fd = -1;
    int exit_code = CLI_EXIT_OK;
    //  The bytes are durable before the name says they are there, and the
    //  name is durable before the command says it wrote the file.
    if (fsync(fd) != 0) {
        exit_code = cli_io_error(cli, "sync", self->partial, errno);
        close(fd);
    } else if (close(fd) != 0)
        exit_code = cli_io_error(cli, "write", self->partial, errno);
    else if (rename(self->partial, self->path) != 0)
        exit_code = cli_io_error(cli, "rename the download to", self->path, errno);
    if (exit_code != CLI_EXIT_OK)
        unlink(self->partial);
    else if (s_sync_parent(self->path) != 0)
        exit_code = cli_io_error(cli, "sync the directory of", self->path, errno);
    zstr_free(&self->partial);
    return exit_code;
}

//  ---- downloads ------------------------------------------------

const char *cli_parse_get(const cli_t *cli, uint8_t hash[CA_HASH_BYTES]) {
    const char *path = cli_option(cli, "o");
    if (cli->json && (!path || streq(path, "-")))
        return "with --json, give -o FILE: stdout carries the JSON object, not the bytes";
    return cli_parse_hash(cli->args[0], "HASH", hash);
}

int cli_get_open(cli_get_t *get, const cli_t *cli, cli_conn_t *conn, const uint8_t *hash) {
    *get = (cli_get_t){.cli = cli, .conn = conn, .hash = hash};
    get->verify = !cli_option(cli, "skip-verify");
    if (get->verify && !(get->sha = ca_sha256_new()))
        return cli_report_error(cli, "INTERNAL", "out of memory", CLI_EXIT_NODE_ERROR);
    int exit_code = cli_output_open(cli, &get->output, cli_option(cli, "o"));
    if (exit_code != CLI_EXIT_OK)
        ca_sha256_destroy(&get->sha);
    return exit_code;
}

int cli_get_deliver(cli_get_t *get, ProtobufCBinaryData data) {
    if (get->sha)
        ca_sha256_update(get->sha, data.data, data.len);
    get->received += data.len;
    cli_progress_add(&get->progress, data.len);
    return cli_output_write(get->cli, &get->output, data.data, data.len);
}

int cli_get_finish(cli_get_t *get, int exit_code) {
    cli_progress_end(&get->progress);
    uint8_t digest[CA_HASH_BYTES];
    if (exit_code == CLI_EXIT_OK && get->sha) {
        ca_sha256_final(get->sha, digest);
        if (memcmp(digest, get->hash, CA_HASH_BYTES) != 0) {
            char hex[CLI_HASH_HEX];
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
        exit_code = cli_output_finish(get->cli, &get->output);
    cli_output_discard(&get->output);
    ca_sha256_destroy(&get->sha);
    return exit_code;
}

int cli_get_whole(cli_get_t *get, ProtobufCBinaryData data, uint64_t size) {
    if (data.len != size)
        return cli_report_error(get->cli, ca_status_str(CA_INTERNAL),
                                "the node answered fewer or more bytes than the blob holds",
                                CLI_EXIT_NODE_ERROR);
    return cli_get_deliver(get, data);
}

json_t *cli_get_json(const cli_get_t *get) {
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(get->hash, hex);
    return json_pack("{s:s, s:I, s:s?, s:b}", "hash", hex, "size", (json_int_t)get->received,
                     "path", get->output.path, "verified", get->verify);
}

void cli_get_print(const cli_get_t *get) {
    if (!get->output.path)
        return;
    char size[64];
    cli_format_bytes_exact(get->received, size, sizeof size);
    printf("wrote %s to %s%s\n", size, get->output.path, get->verify ? "" : " (not verified)");
}

//  ---- answers ----------------------------------------------------------------------------------

void cli_print_presence(const answer_t *answer, bool present, uint64_t size, const char *word) {
    if (present)
        printf("%s %s (%" PRIu64 " bytes)\n", word, answer->cli->args[0], size);
    else
        printf("not %s %s\n", word, answer->cli->args[0]);
}

json_t *cli_json_presence(const uint8_t *hash, const char *flag, bool present, uint64_t size) {
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(hash, hex);
    return json_pack("{s:s, s:b, s:I}", "hash", hex, flag, present, "size", (json_int_t)size);
}

void cli_print_field_bytes(const char *label, uint64_t bytes) {
    char text[64];
    cli_format_bytes_exact(bytes, text, sizeof text);
    printf("  %-15s %s\n", label, text);
}

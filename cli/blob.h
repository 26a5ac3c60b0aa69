/*  =========================================================================
    blob - what the `cairn` content and cache commands share (internal)

    content.c (content) and cache.c (cache) move blobs between local
    files and the node. This header holds what both need: hashes in arguments, the progress line,
   the window of pipelined requests, local input and output files, and a download (cli_get_t): bytes
   that arrive are written, hashed and counted, and only a whole download that matches its hash
   becomes the output file.

    Nothing here is a library API: it changes whenever the client does.
    ========================================================================= */

#ifndef CAIRN_BLOB_H_INCLUDED
#define CAIRN_BLOB_H_INCLUDED

#include "ca_hash.h"
#include "cli.h"

//  Bytes per ContentPut / ContentChunk / ContentRead: below the node's
//  chunk limit, and a small multiple of it in flight.
#define CLI_CHUNK (4 * 1024 * 1024)
//  Requests of one transfer in flight (the node queues up to
//  CA_CONTENT_QUEUE_MAX per content worker).
#define CLI_WINDOW 4
//  A hash as hex, with the NUL.
#define CLI_HASH_HEX (2 * CA_HASH_BYTES + 1)

//  ---- hashes in arguments ------------------------------------------------------------

//  64 hex digits (either case) into `hash`; `what` names the argument.
const char *cli_parse_hash(const char *text, const char *what, uint8_t hash[CA_HASH_BYTES]);

//  `count` hash arguments into `hashes`, with `bytes[i]` pointing at
//  hashes[i] (for a repeated bytes field); NULL, or the first problem,
//  naming `what`.
const char *cli_parse_hash_list(char *const *args, size_t count, const char *what,
                                uint8_t (*hashes)[CA_HASH_BYTES], ProtobufCBinaryData *bytes);

//  --expect HASH, when given, into `expect` (and *has_expect).
const char *cli_parse_expect(const cli_t *cli, uint8_t expect[CA_HASH_BYTES], bool *has_expect);

//  ---- progress on a terminal -------------------------------------------------------

//  One line on stderr, redrawn in place, while a transfer of at least a
//  few MiB runs and stderr is a terminal; never otherwise.
typedef struct {
    const char *verb; //  "put", "get"
    uint64_t total;   //  0: not known (a pipe)
    uint64_t done;
    bool terminal; //  stderr is one
    bool drawn;    //  a line is on the screen
    int64_t drawn_at;
} cli_progress_t;

void cli_progress_init(cli_progress_t *self, const char *verb, uint64_t total);

//  Counts `bytes` more done; redraws at most every 100 ms.
void cli_progress_add(cli_progress_t *self, uint64_t bytes);

//  Erases the line, if one was drawn.
void cli_progress_end(cli_progress_t *self);

//  ---- requests in flight -------------------------------------------------------------

//  Ids of a transfer's requests in flight, oldest first.
typedef struct {
    uint64_t ids[CLI_WINDOW];
    size_t first;
    size_t count;
} cli_window_t;

bool cli_window_full(const cli_window_t *self);
void cli_window_push(cli_window_t *self, uint64_t id);
uint64_t cli_window_pop(cli_window_t *self);

//  ---- local files -----------------------------------------------------------------------

//  A local read or write that failed: "cairn: io: cannot WHAT NAME: ...",
//  exit 1.
int cli_io_error(const cli_t *cli, const char *what, const char *name, int error);

//  Reads until `size` bytes or the end of the input. 0, or an errno.
int cli_read_full(int fd, uint8_t *buffer, size_t size, size_t *got);

//  Opens FILE, or stdin for "-"; *name is how messages call it, *size its
//  size when it is a regular file (else 0). -1 when it cannot be opened
//  or is a directory (a usage error, reported, in *exit_code).
int cli_open_input(const cli_t *cli, const char *path, const char **name, uint64_t *size,
                   int *exit_code);

//  Closes what cli_open_input opened (never stdin).
void cli_close_input(int fd);

//  Where a download goes: stdout, or FILE by way of FILE.partial-XXXXXX.
typedef struct {
    const char *path; //  NULL: stdout
    char *partial;    //  the file being written, until it is renamed
    int fd;
} cli_output_t;

//  Opens `path` (NULL or "-": stdout); a partial file beside FILE gets the
//  mode a new file would. Failure is a usage error (reported).
int cli_output_open(const cli_t *cli, cli_output_t *self, const char *path);

int cli_output_write(const cli_t *cli, cli_output_t *self, const uint8_t *data, size_t size);

//  Closes the partial file and renames it to FILE; removes it on failure.
int cli_output_finish(const cli_t *cli, cli_output_t *self);

//  Removes the partial file (after a failure). Safe twice.
void cli_output_discard(cli_output_t *self);

//  ---- downloads ----------------------------------------------------------------------

//  What the builders of `content get` and `cache get` (HASH [-o FILE])
//  check: HASH into `hash`; with --json the JSON object is on stdout, so
//  the bytes need -o.
const char *cli_parse_get(const cli_t *cli, uint8_t hash[CA_HASH_BYTES]);

//  One download: where it goes, its running hash, its progress.
typedef struct {
    const cli_t *cli;
    cli_conn_t *conn;
    const uint8_t *hash; //  HASH
    bool verify;         //  false with --skip-verify
    ca_sha256_t *sha;    //  of the bytes received, while verifying
    cli_output_t output;
    cli_progress_t progress;
    uint64_t size; //  of the blob
    uint64_t received;
    cli_window_t window;
} cli_get_t;

//  Opens the output (-o, before anything is asked of the node) and reads
//  --skip-verify. On failure the problem is reported and nothing is left
//  to clean; else cli_get_finish must follow.
int cli_get_open(cli_get_t *get, const cli_t *cli, cli_conn_t *conn, const uint8_t *hash);

//  Writes bytes that arrived, and hashes and counts them.
int cli_get_deliver(cli_get_t *get, ProtobufCBinaryData data);

//  Delivers a whole blob from one answer, which must hold `size` bytes.
int cli_get_whole(cli_get_t *get, ProtobufCBinaryData data, uint64_t size);

//  After the last byte, or a failure (`exit_code`): the hash check (unless
//  --skip-verify; a mismatch is "corrupt"), then the partial file becomes
//  FILE, or is removed on any failure. Returns the exit status.
int cli_get_finish(cli_get_t *get, int exit_code);

//  The fields every get reports: hash, size, path, verified.
json_t *cli_get_json(const cli_get_t *get);

//  "wrote N to FILE" after a download into FILE (nothing for stdout).
void cli_get_print(const cli_get_t *get);

//  ---- answers -----------------------------------------------------------------------------

//  "WORD HASH (N bytes)" / "not WORD HASH" for has-rows (HASH as given).
void cli_print_presence(const answer_t *answer, bool present, uint64_t size, const char *word);

//  {"hash", FLAG: present, "size"} for has-rows; `hash` is HASH parsed.
json_t *cli_json_presence(const uint8_t *hash, const char *flag, bool present, uint64_t size);

//  "  LABEL           1.2 MiB (1234567 bytes)".
void cli_print_field_bytes(const char *label, uint64_t bytes);

#endif

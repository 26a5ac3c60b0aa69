/*  =========================================================================
    cli - what the source files of the `cairn` client share (internal)

    The client is one executable built from the files of cli/: cairn.c
    (parsing, help, reporting, exit codes, the node and config commands),
    connection.c (the socket, sending and waiting) and one file per store
    named after it (messages.c, ledger.c, ...), each a family of commands:
    rows of the command_t type in a command_table_t. CLI_FAMILIES below
    lists the families once; cairn.c walks them in that order.

    A family keeps what its requests point at in a private struct of its
    own file; its table gives the struct's size, cairn.c allocates that
    much (zeroed) for the run and wipes it afterwards, and build, run and
    the printers get it as `storage`. So a new request kind touches only
    its family's file, and a new store's commands one new file and one
    name in CLI_FAMILIES.

    Nothing here is a library API: it changes whenever the client does.
    ========================================================================= */

#ifndef CAIRN_CLI_H_INCLUDED
#define CAIRN_CLI_H_INCLUDED

#include "ca_env.h"
#include "ca_limits.h"
#include "cairn.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Options one command may take (value options and flags together).
#define CLI_MAX_OPTIONS 16
//  The environment variable that names the node's endpoint.
#define CLI_ENDPOINT_ENV CA_ENV_ENDPOINT
//  The environment variables that name the client's CURVE key file and the
//  node's server public key (connection.c).
#define CLI_CLIENT_KEY_ENV CA_ENV_CLIENT_KEY
#define CLI_SERVER_KEY_ENV CA_ENV_SERVER_KEY
//  Request kinds one command may send.
#define CLI_SENDS_MAX 5
//  Values of repeatable options (--tag A --tag B ...) one run may give, in
//  all (room for two peer lists of the node's 1000 and more, so that the
//  node's own limits can be exercised).
#define CLI_VALUES_MAX 4096
//  Longest password the client reads (the node accepts at most 1024 bytes;
//  the rest of this room lets the node's own check be exercised).
#define CLI_PASSWORD_MAX 4096
//  Longest public-key text (base64 or PEM) read from an @FILE.
#define CLI_KEY_TEXT_MAX 8192
#define CLI_UUID_LEN     36 //  8-4-4-4-12 hex digits
#define CLI_NONCE_MAX    64 //  the node wants 12..24 bytes; it checks
#define CLI_SIG_BYTES    64 //  Ed25519 signature
#define CLI_PUBKEY_BYTES 32 //  Ed25519 public key
#define CLI_TIME_TEXT    40 //  room for cli_format_time

typedef struct command_s command_t;
typedef struct command_table_s command_table_t;

//  Exit status of the client (cairn --help documents them).
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NODE_ERROR = 1, //  an error answer, or a local file that failed
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNREACHABLE = 3,
    CLI_EXIT_NO = 4, //  a question the node answered "no" (prov ancestor)
};

//  What the user asked for.
typedef struct {
    const char *endpoint;
    const char *client_key; //  CURVE key file (--client-key, CAIRN_CLIENT_KEY); NULL: none
    const char *server_key; //  the node's CURVE public key (--server-key, CAIRN_SERVER_KEY)
    int timeout_ms;
    bool json;
    const command_t *command;
    const char *group;                    //  the first word when it names commands with subcommands
    const command_table_t *family;        //  the command's
    char **args;                          //  arg_total positional args (writable)
    int arg_total;                        //  command->arg_count, or more ("...]")
    const char *options[CLI_MAX_OPTIONS]; //  values; "" for a flag given; NULL if unset
    //  Every value of the repeatable options, grouped by option in the order
    //  given (cli_option_list); while parsing, in argv order with owner[].
    char *values[CLI_VALUES_MAX];
    unsigned char owner[CLI_VALUES_MAX]; //  option index of each value while parsing
    size_t value_count;
    size_t value_first[CLI_MAX_OPTIONS]; //  after parsing: option i's values start here
    size_t value_total[CLI_MAX_OPTIONS]; //  ... and number this many
} cli_t;

//  An OK answer, as the printers see it.
typedef struct {
    const cli_t *cli;
    const Cairn__Request *request; //  what was sent
    const void *storage;           //  the family's storage, as build left it
    const Cairn__Response *response;
    int64_t rtt_us; //  send to receive, on this side
} answer_t;

//  The node connection of one run (cairn.c): a DEALER, the next request
//  id, and answers that came before they were asked for.
typedef struct cli_conn_s cli_conn_t;

//  Fills `request` from cli->args and cli->options; what the request
//  points at lives in `storage`, the family's private struct (zeroed,
//  storage_size bytes, wiped after the run). NULL, or a usage error (a
//  message saying what is wrong; exit status 2).
typedef const char *(*build_fn)(const cli_t *cli, Cairn__Request *request, void *storage);
//  Drives a command that needs more than one request (a stream), or does
//  more than print one answer (files, exit status by content), over
//  `conn`, after `build` succeeded; prints its own output and errors
//  (cli_send, cli_receive, cli_report_*). Returns the exit status.
typedef int (*run_fn)(const cli_t *cli, Cairn__Request *request, void *storage, cli_conn_t *conn);
//  Prints an OK answer as text on stdout.
typedef void (*print_fn)(const answer_t *answer);
//  Returns a new JSON object with the answer's fields ("status" is added).
typedef json_t *(*json_fn)(const answer_t *answer);

typedef struct {
    const char *name;    //  long option, "--NAME VALUE"
    const char *metavar; //  NULL: a flag without a value ("--NAME")
    bool required;       //  a usage error when absent
} command_option_t;
//  A metavar that ends in "..." ("TAG...") makes an option that may be
//  given more than once; every value is kept (cli_option_list).

struct command_s {
    const char *name;
    const char *subcommand; //  NULL: the command takes none
    int arg_count;          //  positional args after the command words
    const char *arg_usage;  //  "KEY VALUE", for help and usage errors
    const char *summary;
    command_option_t options[CLI_MAX_OPTIONS + 1]; //  ended by a NULL name
    build_fn build;
    print_fn print;      //  with run: NULL (run prints)
    json_fn to_json;     //  with run: NULL
    const char *details; //  NULL, or more text for `cairn COMMAND --help`
    run_fn run;          //  NULL: one request, sent and printed by cairn.c
    //  Every request kind the row sends (build's, and run's), ended by
    //  CAIRN__REQUEST__BODY__NOT_SET; `cairn --list-requests` lists them.
    Cairn__Request__BodyCase sends[CLI_SENDS_MAX + 1];
};
//  An arg_usage that ends in "...]" ("HASH [SOURCE...]") makes arg_count
//  the least number of positional args: more may follow (cli->arg_total).

//  A family: the rows of one store's commands, and the size of the private
//  struct they keep a request's storage in.
struct command_table_s {
    const command_t *rows;
    size_t count;
    size_t storage_size;
};

//  Every family, in the order of the help: X(name) for the table
//  cli_<name>_commands that <name>.c defines (node: in cairn.c). A new
//  store's commands are one file and one name here.
// clang-format off
#define CLI_FAMILIES(X)                                                                            \
    X(node)                                                                                        \
    X(messages)                                                                                    \
    X(channels)                                                                                    \
    X(peers)                                                                                       \
    X(gossip)                                                                                      \
    X(content)                                                                                     \
    X(cache)                                                                                       \
    X(manifests)                                                                                   \
    X(provenance)                                                                                  \
    X(settlement)                                                                                  \
    X(ledger)                                                                                      \
    X(oplog)                                                                                       \
    X(logbook)                                                                                     \
    X(batch)                                                                                       \
    X(sync)                                                                                        \
    X(doc)                                                                                         \
    X(kv)                                                                                          \
    X(backup)
// clang-format on
#define CLI_FAMILY_DECLARE(name) extern const command_table_t cli_##name##_commands;
CLI_FAMILIES(CLI_FAMILY_DECLARE)

//  The table of family `name`, whose storage is `storage_t` (one line at
//  the end of each family's file).
#define CLI_FAMILY(name, rows, storage_t)                                                          \
    const command_table_t cli_##name##_commands = {rows, sizeof rows / sizeof rows[0],             \
                                                   sizeof(storage_t)}

//  Loads a 64-byte Ed25519 secret key (seed + public key), raw or as 128
//  hex digits, and checks that its public half belongs to its seed
//  (messages.c). The caller wipes `key` after use.
const char *cli_load_secret_key(const char *path, uint8_t key[64]);

//  The message-store statistics as JSON (messages.c; `info` shows them too).
json_t *cli_json_message_stats(const Cairn__MessageStatsReply *stats);

//  The name of a manifest's visibility (manifests.c; prov roots shows it
//  too).
const char *cli_visibility_name(Cairn__Visibility visibility);

//  ---- talking to the node, for run functions (connection.c) ----------------------------

//  Sends `request` without waiting, under the next id of `conn` (set in
//  request->id). 0, or the exit status of a reported failure.
int cli_send(cli_conn_t *conn, Cairn__Request *request);

//  Waits (the --timeout, from now) for the answer to request `id`, whose
//  body was `sent`. 0 with an OK answer of the same kind in *response_p
//  (caller frees with cairn__response__free_unpacked); else reports the
//  error answer, the silence or the garbage and returns its exit status.
//  Answers to other pipelined requests that arrive first are kept for
//  their own cli_receive.
int cli_receive(cli_conn_t *conn, uint64_t id, Cairn__Request__BodyCase sent,
                Cairn__Response **response_p);

//  Waits until `deadline` (zclock_mono) for the next answer, whatever its
//  id, in arrival order (for subscriptions: many answers share one id): 1
//  with *response_p (caller frees), 0 on silence, -1 for garbage.
int cli_await_next(cli_conn_t *conn, int64_t deadline, Cairn__Response **response_p);

//  cli_send, then cli_receive of its answer.
int cli_request(cli_conn_t *conn, Cairn__Request *request, Cairn__Response **response_p);

//  Sends `request` and waits for its answer like cli_request, but reports
//  nothing (for clean-up after a failure that is reported already): the
//  answer whatever its status (caller frees), or NULL.
Cairn__Response *cli_call_quietly(cli_conn_t *conn, Cairn__Request *request);

//  ---- subscriptions (subscribe.c) ----------------------------------------------------

//  The lease a subscription of the CLI asks for (it acknowledges every third).
#define CLI_SUBSCRIBE_LEASE_MS 30000

//  Prints item `index` of the push `response` (any kind); returns its
//  position (the cursor after it).
typedef uint64_t (*cli_push_item_fn)(const cli_t *cli, const Cairn__Response *response,
                                     size_t index);

//  A subscribe row's start: --OPTION (the cursor, into *after) or from now,
//  and --count checked. The problem, or NULL.
const char *cli_subscribe_from(const cli_t *cli, const char *option, uint64_t *after,
                               protobuf_c_boolean *from_now);

//  The run of a subscribe row (a built MessageSubscribe, OplogSubscribe or
//  ContentSubscribe in `request`): prints items until --count, Ctrl-C or
//  the end, then the cursor to resume with (option `resume`, "--from").
int cli_subscribe_run(const cli_t *cli, Cairn__Request *request, cli_conn_t *conn,
                      const char *resume, cli_push_item_fn print);

//  A DEALER connected to cli->endpoint, for cairn.c's run; NULL with
//  *exit_code set (and the problem reported) when the endpoint is unusable.
cli_conn_t *cli_conn_new(const cli_t *cli, int *exit_code);

void cli_conn_destroy(cli_conn_t **self_p);

//  ---- reporting (cairn.c) ---------------------------------------------------------

//  Reports an error: "cairn: STATUS: MESSAGE" on stderr, and with --json
//  {"status": STATUS, "error": MESSAGE} on stdout. Returns exit_code.
int cli_report_error(const cli_t *cli, const char *status, const char *message, int exit_code);

//  Prints `fields` (taken) as the one JSON object of an OK run, "status"
//  first. NULL fields (text json_pack refused) are reported as INTERNAL.
//  Returns the exit status.
int cli_report_ok(const cli_t *cli, json_t *fields);

//  A usage problem found after parsing (e.g. an input file that cannot be
//  opened): message and synopsis on stderr. Returns CLI_EXIT_USAGE.
int cli_usage_error(const cli_t *cli, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

//  ---- helpers for rows (connection.c) ------------------------------------------------

//  The value of the current command's option `name`; "" for a flag that
//  was given; NULL when absent.
const char *cli_option(const cli_t *cli, const char *name);

//  Every value of the current command's repeatable option `name`, in the
//  order given; *count of them (0 when absent). Points into cli.
char *const *cli_option_list(const cli_t *cli, const char *name, size_t *count);

//  Formats a usage problem into a static buffer and returns it (the
//  client is single-threaded and reports one problem per run).
const char *cli_problem(const char *format, ...) __attribute__((format(printf, 1, 2)));

ProtobufCBinaryData cli_bytes(const char *text);

//  The CA_HASH_BYTES bytes at `hash`, as a protobuf bytes field.
ProtobufCBinaryData cli_hash_bytes(const uint8_t *hash);

//  An unsigned integer min..max in `text`; `what` names it in the problem.
const char *cli_parse_u32(const char *text, const char *what, uint32_t min, uint32_t max,
                          uint32_t *value);

//  A whole number min..max (decimal digits only); else a usage problem
//  naming `what`.
const char *cli_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max,
                          uint64_t *value);

//  The name of enum value `value` in `names` (`count` of them, indexed by
//  value), or `unknown` when it has none.
const char *cli_enum_name(const char *const *names, size_t count, int value, const char *unknown);

//  The value whose name in `names` is `text`; else a usage problem naming
//  `what` and every name ("--state wants open or closed, not 'ajar'").
const char *cli_parse_enum(const char *text, const char *what, const char *const *names,
                           size_t count, int *value);

//  A time as unix seconds with an optional fraction, >= 0.
const char *cli_parse_time(const char *text, const char *what, double *value);

//  Hex digits (either case, even count) into at most `max` bytes.
const char *cli_parse_hex(const char *text, const char *what, uint8_t *out, size_t max,
                          size_t *length);

//  Reads a whole file of at most `max` bytes into `buffer` (not
//  NUL-terminated). `what` names it in the problem.
const char *cli_read_file(const char *path, const char *what, uint8_t *buffer, size_t max,
                          size_t *length);

//  A time as "2024-05-01T12:00:00.123Z" (UTC), or "-" for 0.
void cli_format_time(double seconds, char *text, size_t size);

//  A size in bytes as "1.2 MiB" (or "512 B").
void cli_format_bytes(uint64_t bytes, char *text, size_t size);
//  "41 bytes", or from 1 KiB "1.5 KiB (1536 bytes)". `size` >= 64.
void cli_format_bytes_exact(uint64_t bytes, char *text, size_t size);

bool cli_is_utf8(ProtobufCBinaryData bytes);

//  Prints bytes on one line: valid UTF-8 as text with control characters
//  escaped (\n, \t, \xNN), anything else as "hex:" and lower-case hex.
void cli_print_inline(ProtobufCBinaryData bytes);

//  Prints lower-case hex of `bytes` ("-" when empty).
void cli_print_hex(ProtobufCBinaryData bytes);

//  Prints "  LABEL           TIME" (cli_format_time) and a newline.
void cli_print_field_time(const char *label, double seconds);

//  `length` less the blanks (space, tab, CR, LF) at the end of `data`.
size_t cli_trim_end(const uint8_t *data, size_t length);

//  True when all `length` bytes are hex digits.
bool cli_is_hex(const uint8_t *data, size_t length);

//  object[name] = the bytes as a string when valid UTF-8; otherwise null
//  plus object[name + "_base64"].
void cli_json_set_bytes(json_t *object, const char *name, ProtobufCBinaryData bytes);

//  object[name] = null, object[name + "_base64"] = base64 of the bytes.
void cli_json_set_base64(json_t *object, const char *name, ProtobufCBinaryData bytes);

//  object[name] = lower-case hex of the bytes, or null when empty.
void cli_json_set_hex(json_t *object, const char *name, ProtobufCBinaryData bytes);

//  A count as a JSON integer, or as a string of digits above 2^63-1 (JSON
//  integers here are signed 64-bit).
json_t *cli_json_u64(uint64_t value);

//  Appends `item` to `array`; false when the item is NULL (json_pack
//  refuses text that is not UTF-8), so that the caller gives up.
bool cli_json_append(json_t *array, json_t *item);

#endif

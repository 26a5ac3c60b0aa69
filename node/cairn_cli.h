/*  =========================================================================
    cairn_cli - what the source files of the `cairn` client share (internal)

    The client is one executable built from node/cairn.c (parsing, help,
    sending, waiting, reporting, exit codes, and the node and config
    commands) and the stores' commands: node/cairn_msg.c (msg, stats,
    vacuum), node/cairn_channel.c (channel, member), node/cairn_peer.c
    (peer, gossip), node/cairn_content.c (content) and node/cairn_cache.c
    (cache), which share node/cairn_blob.c for moving bytes, and
    node/cairn_prov.c (manifest, summary, prov). Each
    describes its commands as rows of the same command_t table type;
    cairn.c walks every table in one list. This header holds those types,
    the per-request storage (request_t), the connection a row that sends
    more than one request drives (cli_conn_t) and the small helpers the
    rows use.

    Nothing here is a library API: it changes whenever the client does.
    ========================================================================= */

#ifndef CAIRN_CLI_H_INCLUDED
#define CAIRN_CLI_H_INCLUDED

#include "ca_limits.h"
#include "cairn.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Options one command may take (value options and flags together).
#define CLI_MAX_OPTIONS 16
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
//  SOURCE arguments of `prov add`: twice the node's limit, so that its own
//  check can be exercised.
#define CLI_PROV_SOURCES_ROOM (2 * CA_PROV_SOURCES_MAX)
//  `summary put --text-file`: twice the node's 64 KiB, as above.
#define CLI_SUMMARY_TEXT_ROOM (128 * 1024)

typedef struct command_s command_t;

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
    int timeout_ms;
    bool json;
    const command_t *command;
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

//  ---- per-request storage: what a builder points the Request at ----------------

typedef struct {
    Cairn__MessageStore store;
    Cairn__Message message;
    char id[CLI_UUID_LEN + 1];
    uint8_t signature[CLI_SIG_BYTES];
    uint8_t nonce[CLI_NONCE_MAX];
    uint8_t signer[CLI_PUBKEY_BYTES]; //  public key, when signed here
    bool signed_here;
} cli_msg_send_t;

typedef struct {
    Cairn__ChannelCreate create;
    char password[CLI_PASSWORD_MAX + 1];
} cli_channel_create_t;

typedef struct {
    Cairn__ChannelVerify verify;
    char password[CLI_PASSWORD_MAX + 1];
} cli_channel_verify_t;

//  Content and cache commands (cairn_content.c): the body of a
//  one-request row, and the hashes bodies and drivers point at.
typedef struct {
    union {
        Cairn__ContentHas has;
        Cairn__ContentSize size;
        Cairn__ContentDelete del;
        Cairn__ContentStats stats;
        Cairn__ContentCheck check;
        Cairn__CacheHas cache_has;
        Cairn__CacheEvict cache_evict;
        Cairn__CacheClear cache_clear;
        Cairn__CacheStats cache_stats;
    } body;
    uint8_t hash[CA_HASH_BYTES];   //  HASH argument
    uint8_t expect[CA_HASH_BYTES]; //  --expect, when has_expect
    bool has_expect;
    double queried_at;                     //  cache put
    uint8_t receipt[CA_CACHE_RECEIPT_MAX]; //  cache put --receipt
    size_t receipt_size;
} cli_content_t;

//  Manifest, summary and provenance commands (cairn_prov.c): the body of
//  the request and what it points at. Lists point into cli (repeatable
//  options, SOURCE arguments) or at `sources`.
typedef struct {
    union {
        Cairn__ManifestPut put;
        Cairn__ManifestGet get;
        Cairn__ManifestUpdate update;
        Cairn__ManifestDelete del;
        Cairn__ManifestList list;
        Cairn__ManifestVersions versions;
        Cairn__SummaryPut summary_put;
        Cairn__SummaryGet summary_get;
        Cairn__ProvAdd add;
        Cairn__ProvRoots roots;
        Cairn__ProvDerivations derivations;
        Cairn__ProvAncestor ancestor;
    } body;
    Cairn__Manifest manifest; //  put, update: the fields given
    Cairn__AccessControl access;
    Cairn__Summary summary;
    uint8_t hash[CA_HASH_BYTES];  //  HASH (the first argument)
    uint8_t other[CA_HASH_BYTES]; //  --previous, prov ancestor's B, derivations --after
    bool has_other;               //  --previous given
    uint8_t source_hashes[CLI_PROV_SOURCES_ROOM][CA_HASH_BYTES]; //  prov add: SOURCEs
    ProtobufCBinaryData sources[CLI_PROV_SOURCES_ROOM];          //  ... pointing at them
    char text[CLI_SUMMARY_TEXT_ROOM + 1];                        //  summary put --text-file
} cli_prov_t;

//  Settlement queue commands (cairn_settle.c): the body of the request and
//  what it points at.
#define CLI_SETTLE_IDS_ROOM 2000 //  `settle mark` PAYMENTs: twice the node's 1000
typedef struct {
    union {
        Cairn__SettleEnqueue enqueue;
        Cairn__SettlePending pending;
        Cairn__SettleTotal total;
        Cairn__SettleMark mark;
        Cairn__SettleLastGet last_get;
        Cairn__SettleLastSet last_set;
        Cairn__SettleBatch batch;
        Cairn__SettleBatchGet batch_get;
    } body;
    Cairn__Distribution distribution;
    uint8_t payment[CA_HASH_BYTES];
    uint8_t source[CA_HASH_BYTES];
    uint8_t batch_id[CA_HASH_BYTES];
    uint8_t payment_ids[CLI_SETTLE_IDS_ROOM][CA_HASH_BYTES];
    ProtobufCBinaryData ids[CLI_SETTLE_IDS_ROOM];
} cli_settle_t;

//  Payment channel commands (cairn_ledger.c): the body and what it points
//  at. Room for twice the node's 1000 shares or ids, so that its own
//  limits can be exercised.
#define CLI_LEDGER_ROOM 2000
typedef struct {
    union {
        Cairn__LedgerOpen open;
        Cairn__LedgerGet get;
        Cairn__LedgerUpdate update;
        Cairn__LedgerList list;
        Cairn__LedgerAdjust adjust;
        Cairn__LedgerHistory history;
        Cairn__LedgerPay pay;
        Cairn__LedgerPending pending;
        Cairn__LedgerClear clear;
    } body;
    Cairn__PaymentChannel channel; //  open
    Cairn__Payment payment;        //  pay
    uint8_t id[CA_HASH_BYTES];     //  pay --id (random when absent), pending --after
    uint8_t query[CA_HASH_BYTES];  //  pay --query
    uint8_t signature[CLI_SIG_BYTES];
    uint8_t roots[CLI_LEDGER_ROOM][CA_HASH_BYTES]; //  pay --share ROOT:WEIGHT
    Cairn__ProvenanceShare shares[CLI_LEDGER_ROOM];
    Cairn__ProvenanceShare *share_list[CLI_LEDGER_ROOM];
    uint8_t ids[CLI_LEDGER_ROOM][CA_HASH_BYTES]; //  clear: ID arguments
    ProtobufCBinaryData id_list[CLI_LEDGER_ROOM];
} cli_ledger_t;

typedef struct {
    Cairn__PeerPut put;
    Cairn__Peer peer;
    uint8_t key[CLI_PUBKEY_BYTES];
    char key_text[CLI_KEY_TEXT_MAX + 1];
} cli_peer_put_t;

//  A Request with room for any body; builders fill both. The whole struct
//  is wiped (sodium_memzero) after the call: it may hold a password.
typedef struct {
    Cairn__Request request;
    union {
        Cairn__Ping ping;
        Cairn__InfoRequest info;
        Cairn__ConfigGet config_get;
        Cairn__ConfigSet config_set;
        cli_msg_send_t msg_send;
        Cairn__MessageList msg_list;
        Cairn__MessageGet msg_get;
        Cairn__MessageDelete msg_delete;
        Cairn__MessageSearch msg_search;
        Cairn__MessageStats stats;
        Cairn__Vacuum vacuum;
        cli_channel_create_t channel_create;
        cli_channel_verify_t channel_verify;
        Cairn__ChannelGet channel_get;
        Cairn__ChannelList channel_list;
        Cairn__ChannelTouch channel_touch;
        Cairn__ChannelDelete channel_delete;
        Cairn__MemberJoin member_join;
        Cairn__MemberLeave member_leave;
        Cairn__MemberList member_list;
        cli_peer_put_t peer_put;
        Cairn__PeerGet peer_get;
        Cairn__PeerList peer_list;
        Cairn__PeerStatus peer_status;
        Cairn__PeerBlock peer_block;
        Cairn__GossipAdd gossip_add;
        Cairn__GossipHas gossip_has;
        Cairn__GossipClean gossip_clean;
        cli_content_t content;
        cli_prov_t prov;
        cli_settle_t settle;
        cli_ledger_t ledger;
    } body;
} request_t;

//  An OK answer, as the printers see it.
typedef struct {
    const cli_t *cli;
    const request_t *request; //  what was sent
    const Cairn__Response *response;
    int64_t rtt_us; //  send to receive, on this side
} answer_t;

//  The node connection of one run (cairn.c): a DEALER, the next request
//  id, and answers that came before they were asked for.
typedef struct cli_conn_s cli_conn_t;

//  Fills `request` from cli->args and cli->options. NULL, or a usage error
//  (a message saying what is wrong; exit status 2).
typedef const char *(*build_fn)(const cli_t *cli, request_t *request);
//  Drives a command that needs more than one request (a stream), or does
//  more than print one answer (files, exit status by content), over
//  `conn`, after `build` succeeded; prints its own output and errors
//  (cli_send, cli_receive, cli_report_*). Returns the exit status.
typedef int (*run_fn)(const cli_t *cli, request_t *request, cli_conn_t *conn);
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
};
//  An arg_usage that ends in "...]" ("HASH [SOURCE...]") makes arg_count
//  the least number of positional args: more may follow (cli->arg_total).

typedef struct {
    const command_t *rows;
    size_t count;
} command_table_t;

//  The message-store family's rows.
extern const command_table_t cairn_msg_commands;     //  cairn_msg.c
extern const command_table_t cairn_channel_commands; //  cairn_channel.c
extern const command_table_t cairn_peer_commands;    //  cairn_peer.c
//  The content and cache stores' rows.
extern const command_table_t cairn_content_commands; //  cairn_content.c
extern const command_table_t cairn_cache_commands;   //  cairn_cache.c
//  The manifest, summary and provenance rows.
extern const command_table_t cairn_prov_commands; //  cairn_prov.c
//  The settlement queue rows.
extern const command_table_t cairn_settle_commands; //  cairn_settle.c

//  The payment channel rows.
extern const command_table_t cairn_ledger_commands; //  cairn_ledger.c

//  Loads a 64-byte Ed25519 secret key (seed + public key), raw or as 128
//  hex digits, and checks that its public half belongs to its seed
//  (cairn_msg.c). The caller wipes `key` after use.
const char *cli_load_secret_key(const char *path, uint8_t key[64]);

//  The message-store statistics as JSON (cairn_msg.c; `info` shows them too).
json_t *cli_json_message_stats(const Cairn__MessageStatsReply *stats);

//  ---- talking to the node, for run functions (cairn.c) ----------------------------

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

//  cli_send, then cli_receive of its answer.
int cli_request(cli_conn_t *conn, Cairn__Request *request, Cairn__Response **response_p);

//  Sends `request` and waits for its answer like cli_request, but reports
//  nothing (for clean-up after a failure that is reported already): the
//  answer whatever its status (caller frees), or NULL.
Cairn__Response *cli_call_quietly(cli_conn_t *conn, Cairn__Request *request);

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

//  ---- helpers for rows (cairn.c) ------------------------------------------------

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

//  Appends `item` to `array`; false when the item is NULL (json_pack
//  refuses text that is not UTF-8), so that the caller gives up.
bool cli_json_append(json_t *array, json_t *item);

#endif

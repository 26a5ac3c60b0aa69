/*  =========================================================================
    cairn - the command-line client of a cairn node

    One invocation sends one request to a node's client endpoint and prints
    its answer:

        cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]

    How it talks: a DEALER socket connected to the endpoint (flag, then
    CAIRN_ENDPOINT, then tcp://127.0.0.1:7401), one packed cairn.Request per
    frame, then a zpoller waits for the Response whose id matches ours until
    the timeout (5 s by default) runs out. It never sleeps and never waits
    without a deadline, so a node that is down or wedged costs at most the
    timeout.

    Where commands live: every command is one row of s_commands:

        column        example (config get)      role
        ------------  ------------------------  ------------------------------
        name, sub     "config", "get"           the words that select the row
        arg_count     1  ("KEY")                positional args, checked here
        options       {"default", "V"}          command options (--default V)
        build         s_build_config_get        fills the Request
        print         s_print_config_get        the answer as human text
        to_json       s_json_config_get         the answer's JSON fields

    Parsing, help, sending, waiting, id and body checks, error reporting and
    exit codes are shared; a later store adds its commands as rows (plus a
    member of request_t's union for its body), not as another branch. The
    Response body is checked against the request's: both `body` oneofs use
    the same field number for a request and its answer (schemas/cairn.proto).

    Output: human text by default; with --json exactly one JSON object on
    stdout per command, errors included ({"status":"invalid","error":...}),
    built with jansson. Bytes that are not valid UTF-8 appear as null plus a
    "<field>_base64" member.

    Exit status:

        0  the node answered OK
        1  the node answered an error status (stderr: "cairn: STATUS: MESSAGE")
           or an answer that is not a cairn.Response
        2  usage error (unknown command or option, wrong argument count);
           stderr only, never JSON
        3  no answer from the node within the timeout
    ========================================================================= */

#include "ca_limits.h"
#include "ca_status.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <google/protobuf-c/protobuf-c.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_DEFAULT_TIMEOUT_MS 5000
#define CLI_ENDPOINT_ENV       "CAIRN_ENDPOINT"
#define MAX_COMMAND_OPTIONS    4
//  JSON reals (mean batch size) with this many significant digits.
#define CLI_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NODE_ERROR = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNREACHABLE = 3,
};

//  getopt_long codes: global options, then the current command's options.
enum { OPT_ENDPOINT = 1000, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION, OPT_COMMAND = 2000 };

//  Parse results: go on, stop with exit 0 (help/version printed), usage.
enum { PARSE_OK = 0, PARSE_DONE = 1, PARSE_USAGE = -1 };

typedef struct command_s command_t;

//  What the user asked for.
typedef struct {
    const char *endpoint;
    int timeout_ms;
    bool json;
    const command_t *command;
    char **args;                              //  command->arg_count positional args
    const char *options[MAX_COMMAND_OPTIONS]; //  command option values, NULL if unset
} cli_t;

//  A Request with room for any body; builders fill both.
typedef struct {
    Cairn__Request request;
    union {
        Cairn__Ping ping;
        Cairn__InfoRequest info;
        Cairn__ConfigGet config_get;
        Cairn__ConfigSet config_set;
    } body;
} request_t;

//  An OK answer, as the printers see it.
typedef struct {
    const cli_t *cli;
    const Cairn__Response *response;
    int64_t rtt_us; //  send to receive, on this side
} answer_t;

//  Fills `request` from cli->args and cli->options. NULL, or a usage error.
typedef const char *(*build_fn)(const cli_t *cli, request_t *request);
//  Prints an OK answer as text on stdout.
typedef void (*print_fn)(const answer_t *answer);
//  Returns a new JSON object with the answer's fields ("status" is added).
typedef json_t *(*json_fn)(const answer_t *answer);

typedef struct {
    const char *name; //  long option, "--NAME VALUE"
    const char *metavar;
} command_option_t;

struct command_s {
    const char *name;
    const char *subcommand; //  NULL: the command takes none
    int arg_count;          //  positional args after the command words
    const char *arg_usage;  //  "KEY VALUE", for help and usage errors
    const char *summary;
    command_option_t options[MAX_COMMAND_OPTIONS]; //  ended by a NULL name
    build_fn build;
    print_fn print;
    json_fn to_json;
};

static const command_t *s_command_table(size_t *count);

//  ---- usage ---------------------------------------------------------------------

static void s_print_command_line(FILE *out, const command_t *command) {
    char line[160];
    int length =
        snprintf(line, sizeof line, "%s%s%s%s%s", command->name, command->subcommand ? " " : "",
                 command->subcommand ? command->subcommand : "", command->arg_usage[0] ? " " : "",
                 command->arg_usage);
    for (int i = 0; i < MAX_COMMAND_OPTIONS && command->options[i].name; i++)
        if (length >= 0 && (size_t)length < sizeof line)
            length += snprintf(line + length, sizeof line - (size_t)length, " [--%s %s]",
                               command->options[i].name, command->options[i].metavar);
    fprintf(out, "  %-32s %s\n", line, command->summary);
}

static void s_print_commands(FILE *out) {
    size_t count;
    const command_t *commands = s_command_table(&count);
    fprintf(out, "Commands:\n");
    for (size_t i = 0; i < count; i++)
        s_print_command_line(out, &commands[i]);
}

//  The short form, after a usage error.
static void s_print_synopsis(FILE *out) {
    fprintf(out, "usage: cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]\n\n");
    s_print_commands(out);
    fprintf(out, "\nSee cairn --help for options, output and exit status.\n");
}

static void s_print_usage(FILE *out) {
    fprintf(out,
            "usage: cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]\n"
            "       cairn --help | --version\n\n"
            "Command-line client of a cairn storage node (cairnd).\n\n"
            "Options (before or after the command):\n"
            "  --endpoint=E   the node's client endpoint (default %s;\n"
            "                 environment %s; the flag wins)\n"
            "  --json         print one JSON object per command on stdout, errors included\n"
            "  --timeout=MS   wait at most MS milliseconds for the answer (default %d)\n"
            "  --help         print this help and exit\n"
            "  --version      print versions and exit\n\n",
            CA_DEFAULT_CLIENT_ENDPOINT, CLI_ENDPOINT_ENV, CLI_DEFAULT_TIMEOUT_MS);
    s_print_commands(out);
    fprintf(out,
            "\n"
            "config get prints the value's bytes as-is and a newline; an absent key prints\n"
            "the --default value (or an empty line) and still exits 0. Only --json tells\n"
            "the two apart: its \"found\" member is false for an absent key.\n"
            "Config keys are 1..%d bytes of [A-Za-z0-9._:/-], '/'-separated, no '.' or '..'\n"
            "segments; values are at most %d bytes. An argument that starts with '-' goes\n"
            "after \"--\":  cairn config set limit -- -1\n"
            "In JSON, bytes that are not valid UTF-8 are null plus a \"<name>_base64\" member.\n\n"
            "Exit status: 0 OK; 1 the node answered an error (stderr: \"cairn: STATUS: MESSAGE\",\n"
            "STATUS one of not_found, invalid, conflict, unauthorized, busy, internal,\n"
            "unavailable); 2 usage error (stderr only); 3 no answer within the timeout.\n",
            CA_CONFIG_KEY_MAX, CA_CONFIG_VALUE_MAX);
}

static void s_print_version(void) {
    int major, minor, patch;
    printf("cairn %s (wire API %d)\n", CAIRN_VERSION, CA_API_VERSION);
    zmq_version(&major, &minor, &patch);
    printf("  libzmq     %d.%d.%d\n", major, minor, patch);
    zsys_version(&major, &minor, &patch);
    printf("  CZMQ       %d.%d.%d\n", major, minor, patch);
    printf("  protobuf-c %s\n", protobuf_c_version());
    printf("  jansson    %s\n", jansson_version_str());
    printf("  libsodium  %s\n", sodium_version_string());
}

//  Prints "cairn: MESSAGE" and the usage to stderr; returns PARSE_USAGE.
static int s_usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int s_usage_error(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("cairn: ", stderr);
    vfprintf(stderr, format, args);
    fputs("\n\n", stderr);
    va_end(args);
    s_print_synopsis(stderr);
    return PARSE_USAGE;
}

//  ---- argument parsing ------------------------------------------------------------

static const struct option s_global_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT}, {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},   {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
};
#define GLOBAL_OPTION_COUNT (sizeof s_global_options / sizeof s_global_options[0])

static int s_parse_timeout(const char *text, int *timeout_ms) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > INT_MAX)
        return s_usage_error("--timeout wants milliseconds from 1 to %d, not '%s'", INT_MAX, text);
    *timeout_ms = (int)value;
    return PARSE_OK;
}

//  Applies one getopt_long result to `cli`.
static int s_apply_option(cli_t *cli, int opt, char **argv) {
    switch (opt) {
        case OPT_ENDPOINT:
            cli->endpoint = optarg;
            return PARSE_OK;
        case OPT_JSON:
            cli->json = true;
            return PARSE_OK;
        case OPT_TIMEOUT:
            return s_parse_timeout(optarg, &cli->timeout_ms);
        case 'h':
        case OPT_HELP:
            s_print_usage(stdout);
            return PARSE_DONE;
        case OPT_VERSION:
            s_print_version();
            return PARSE_DONE;
        case ':':
            return s_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (opt >= OPT_COMMAND && opt < OPT_COMMAND + MAX_COMMAND_OPTIONS) {
                cli->options[opt - OPT_COMMAND] = optarg;
                return PARSE_OK;
            }
            if (optopt > 0 && optopt < OPT_ENDPOINT)
                return s_usage_error("unknown option '-%c'", optopt);
            return s_usage_error("unknown option '%s'", argv[optind - 1]);
    }
}

//  Runs getopt_long over argv from the start (optind = 0 re-initialises
//  GNU getopt); stops at the first non-option when optstring starts '+'.
static int s_parse_options(cli_t *cli, int argc, char **argv, const char *optstring,
                           const struct option *options) {
    opterr = 0;
    optind = 0;
    int opt, rc = PARSE_OK;
    while (rc == PARSE_OK && (opt = getopt_long(argc, argv, optstring, options, NULL)) != -1)
        rc = s_apply_option(cli, opt, argv);
    return rc;
}

//  Finds the row for argv words; sets *words to how many it used (1 or 2).
static int s_find_command(cli_t *cli, char **words, int word_count, int *words_used) {
    size_t count;
    const command_t *commands = s_command_table(&count);
    bool has_subcommands = false;
    for (size_t i = 0; i < count; i++) {
        if (!streq(commands[i].name, words[0]))
            continue;
        if (!commands[i].subcommand) {
            cli->command = &commands[i];
            *words_used = 1;
            return PARSE_OK;
        }
        has_subcommands = true;
        if (word_count > 1 && streq(commands[i].subcommand, words[1])) {
            cli->command = &commands[i];
            *words_used = 2;
            return PARSE_OK;
        }
    }
    if (!has_subcommands)
        return s_usage_error("unknown command '%s'", words[0]);
    if (word_count < 2)
        return s_usage_error("'%s' needs a subcommand", words[0]);
    return s_usage_error("unknown command '%s %s'", words[0], words[1]);
}

//  Parses the command's own options (and global ones placed after it) and
//  checks its positional arguments. argv[0] is the last command word.
static int s_parse_command_args(cli_t *cli, int argc, char **argv) {
    const command_t *command = cli->command;
    struct option options[GLOBAL_OPTION_COUNT + MAX_COMMAND_OPTIONS + 1];
    memset(options, 0, sizeof options);
    memcpy(options, s_global_options, sizeof s_global_options);
    size_t count = GLOBAL_OPTION_COUNT;
    for (int i = 0; i < MAX_COMMAND_OPTIONS && command->options[i].name; i++)
        options[count++] =
            (struct option){command->options[i].name, required_argument, NULL, OPT_COMMAND + i};
    int rc = s_parse_options(cli, argc, argv, ":h", options);
    if (rc != PARSE_OK)
        return rc;
    int given = argc - optind;
    if (given != command->arg_count)
        return s_usage_error("'%s%s%s' takes %d argument%s (%s), not %d", command->name,
                             command->subcommand ? " " : "",
                             command->subcommand ? command->subcommand : "", command->arg_count,
                             command->arg_count == 1 ? "" : "s",
                             command->arg_usage[0] ? command->arg_usage : "none", given);
    cli->args = argv + optind;
    return PARSE_OK;
}

//  Fills `cli` from argv: global options, command words, command args.
static int s_parse(cli_t *cli, int argc, char **argv) {
    memset(cli, 0, sizeof *cli);
    cli->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    struct option options[GLOBAL_OPTION_COUNT + 1];
    memset(options, 0, sizeof options);
    memcpy(options, s_global_options, sizeof s_global_options);
    int rc = s_parse_options(cli, argc, argv, "+:h", options);
    if (rc != PARSE_OK)
        return rc;
    if (optind >= argc)
        return s_usage_error("no command given");
    int first = optind, words = 0;
    rc = s_find_command(cli, argv + first, argc - first, &words);
    if (rc != PARSE_OK)
        return rc;
    int last = first + words - 1;
    rc = s_parse_command_args(cli, argc - last, argv + last);
    if (rc != PARSE_OK)
        return rc;
    if (!cli->endpoint) {
        const char *from_env = getenv(CLI_ENDPOINT_ENV);
        cli->endpoint = from_env && *from_env ? from_env : CA_DEFAULT_CLIENT_ENDPOINT;
    }
    return PARSE_OK;
}

//  ---- output helpers --------------------------------------------------------------------

static ProtobufCBinaryData s_bytes(const char *text) {
    ProtobufCBinaryData bytes = {strlen(text), (uint8_t *)text};
    return bytes;
}

//  A JSON string for `bytes`, or NULL when they are not valid UTF-8.
static json_t *s_json_text(ProtobufCBinaryData bytes) {
    return json_stringn(bytes.data ? (const char *)bytes.data : "", bytes.len);
}

//  Sets object[name] to the bytes as a string when they are valid UTF-8;
//  otherwise to null, plus object[name + "_base64"] with their base64.
static void s_json_set_bytes(json_t *object, const char *name, ProtobufCBinaryData bytes) {
    json_t *text = s_json_text(bytes);
    if (text) {
        json_object_set_new(object, name, text);
        return;
    }
    json_object_set_new(object, name, json_null());
    size_t size = sodium_base64_encoded_len(bytes.len, sodium_base64_VARIANT_ORIGINAL);
    char *base64 = (char *)malloc(size);
    sodium_bin2base64(base64, size, bytes.data, bytes.len, sodium_base64_VARIANT_ORIGINAL);
    char *field = zsys_sprintf("%s_base64", name);
    json_object_set_new(object, field, json_string(base64));
    zstr_free(&field);
    free(base64);
}

//  Prints `object` as one line on stdout and frees it.
static void s_json_print(json_t *object) {
    char *text = json_dumps(object, CLI_JSON_FLAGS);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(object);
}

//  A size in bytes as "1.2 MiB" (or "512 B").
static void s_format_bytes(uint64_t bytes, char *text, size_t size) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf(text, size, "%" PRIu64 " B", bytes);
    else
        snprintf(text, size, "%.1f %s", value, units[unit]);
}

//  ---- ping -----------------------------------------------------------------------------

static const char *s_build_ping(const cli_t *cli, request_t *request) {
    cairn__ping__init(&request->body.ping);
    request->request.body_case = CAIRN__REQUEST__BODY_PING;
    request->request.ping = &request->body.ping;
    return NULL;
}

static void s_print_ping(const answer_t *answer) {
    printf("pong from %s in %.1f ms\n", answer->cli->endpoint, (double)answer->rtt_us / 1000.0);
}

static json_t *s_json_ping(const answer_t *answer) {
    return json_pack("{s:s, s:I, s:I}", "endpoint", answer->cli->endpoint, "rtt_us",
                     (json_int_t)answer->rtt_us, "node_time_us",
                     (json_int_t)answer->response->pong->node_time_us);
}

//  ---- info -----------------------------------------------------------------------------

static const char *s_build_info(const cli_t *cli, request_t *request) {
    cairn__info_request__init(&request->body.info);
    request->request.body_case = CAIRN__REQUEST__BODY_INFO;
    request->request.info = &request->body.info;
    return NULL;
}

static void s_print_actors(const Cairn__InfoReply *info) {
    printf("actors            %7s %10s %10s %10s %10s\n", "workers", "requests", "errors", "busy",
           "queued");
    for (size_t i = 0; i < info->n_actors; i++) {
        const Cairn__ActorInfo *actor = info->actors[i];
        printf("  %-15s %7" PRIu32 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
               actor->name, actor->workers, actor->requests, actor->errors, actor->busy,
               actor->queue_depth);
    }
    if (info->n_actors == 0)
        printf("  (none)\n");
}

static void s_print_writer(const Cairn__WriterInfo *writer) {
    printf("writer\n");
    if (!writer) {
        printf("  (no statistics)\n");
        return;
    }
    printf("  batches         %" PRIu64 " committed\n", writer->batches);
    printf("  writes          %" PRIu64 " (mean batch %.1f)\n", writer->writes,
           writer->mean_batch_size);
    printf("  failed          %" PRIu64 " writes, %" PRIu64 " commits\n", writer->failed_writes,
           writer->failed_commits);
    printf("  queue depth     %" PRIu64 " when the last batch began\n", writer->queue_depth);
    printf("  synchronous     %s\n", writer->synchronous);
}

static void s_print_info(const answer_t *answer) {
    const Cairn__InfoReply *info = answer->response->info;
    char size[32];
    s_format_bytes(info->db_size_bytes, size, sizeof size);
    printf("cairn node at %s\n", answer->cli->endpoint);
    printf("  version         %s\n", info->version);
    printf("  uptime          %" PRIu64 " s\n", info->uptime_s);
    printf("  data dir        %s\n", info->data_dir);
    printf("  database        %s (%" PRIu64 " bytes with the WAL)\n", size, info->db_size_bytes);
    printf("  requests        %" PRIu64 " received, %" PRIu64 " invalid\n", info->requests,
           info->invalid);
    s_print_actors(info);
    s_print_writer(info->writer);
}

static json_t *s_json_writer(const Cairn__WriterInfo *writer) {
    if (!writer)
        return json_null();
    return json_pack("{s:I, s:I, s:f, s:I, s:I, s:I, s:s}", "batches", (json_int_t)writer->batches,
                     "writes", (json_int_t)writer->writes, "mean_batch_size",
                     writer->mean_batch_size, "failed_writes", (json_int_t)writer->failed_writes,
                     "failed_commits", (json_int_t)writer->failed_commits, "queue_depth",
                     (json_int_t)writer->queue_depth, "synchronous", writer->synchronous);
}

static json_t *s_json_info(const answer_t *answer) {
    const Cairn__InfoReply *info = answer->response->info;
    json_t *actors = json_array();
    for (size_t i = 0; i < info->n_actors; i++) {
        const Cairn__ActorInfo *actor = info->actors[i];
        json_array_append_new(
            actors, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", actor->name, "workers",
                              (json_int_t)actor->workers, "requests", (json_int_t)actor->requests,
                              "errors", (json_int_t)actor->errors, "busy", (json_int_t)actor->busy,
                              "queue_depth", (json_int_t)actor->queue_depth));
    }
    return json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:o, s:o}", "version", info->version,
                     "uptime_s", (json_int_t)info->uptime_s, "data_dir", info->data_dir,
                     "db_size_bytes", (json_int_t)info->db_size_bytes, "requests",
                     (json_int_t)info->requests, "invalid", (json_int_t)info->invalid, "actors",
                     actors, "writer", s_json_writer(info->writer));
}

//  ---- config get / set ------------------------------------------------------------------

static const char *s_build_config_get(const cli_t *cli, request_t *request) {
    Cairn__ConfigGet *get = &request->body.config_get;
    cairn__config_get__init(get);
    get->key = cli->args[0];
    if (cli->options[0])
        get->default_value = s_bytes(cli->options[0]);
    request->request.body_case = CAIRN__REQUEST__BODY_CONFIG_GET;
    request->request.config_get = get;
    return NULL;
}

static void s_print_config_get(const answer_t *answer) {
    const ProtobufCBinaryData *value = &answer->response->config_value->value;
    if (value->len)
        fwrite(value->data, 1, value->len, stdout);
    putchar('\n');
}

static json_t *s_json_config_get(const answer_t *answer) {
    const Cairn__ConfigValue *value = answer->response->config_value;
    json_t *object = json_pack("{s:s, s:b}", "key", value->key, "found", value->found);
    s_json_set_bytes(object, "value", value->value);
    return object;
}

static const char *s_build_config_set(const cli_t *cli, request_t *request) {
    Cairn__ConfigSet *set = &request->body.config_set;
    cairn__config_set__init(set);
    set->key = cli->args[0];
    set->value = s_bytes(cli->args[1]);
    request->request.body_case = CAIRN__REQUEST__BODY_CONFIG_SET;
    request->request.config_set = set;
    return NULL;
}

static void s_print_config_set(const answer_t *answer) {
    const Cairn__ConfigSetReply *reply = answer->response->config_set;
    printf("%s %s\n", reply->created ? "created" : "updated", reply->key);
}

static json_t *s_json_config_set(const answer_t *answer) {
    const Cairn__ConfigSetReply *reply = answer->response->config_set;
    return json_pack("{s:s, s:b}", "key", reply->key, "created", reply->created);
}

//  ---- the command table -------------------------------------------------------------------

static const command_t s_commands[] = {
    {"ping",
     NULL,
     0,
     "",
     "check that the node answers; print the round trip",
     {{NULL, NULL}},
     s_build_ping,
     s_print_ping,
     s_json_ping},
    {"info",
     NULL,
     0,
     "",
     "version, uptime, data dir, per-actor and writer counters",
     {{NULL, NULL}},
     s_build_info,
     s_print_info,
     s_json_info},
    {"config",
     "get",
     1,
     "KEY",
     "print KEY's value, or V when absent (--json shows \"found\")",
     {{"default", "V"}, {NULL, NULL}},
     s_build_config_get,
     s_print_config_get,
     s_json_config_get},
    {"config",
     "set",
     2,
     "KEY VALUE",
     "store VALUE under KEY; print created/updated KEY",
     {{NULL, NULL}},
     s_build_config_set,
     s_print_config_set,
     s_json_config_set},
};

static const command_t *s_command_table(size_t *count) {
    *count = sizeof s_commands / sizeof s_commands[0];
    return s_commands;
}

//  ---- talking to the node --------------------------------------------------------------------

typedef enum { CALL_OK, CALL_TIMEOUT, CALL_GARBLED } call_result_t;

//  Waits until `deadline` (zclock_mono) for the Response with `id`; answers
//  with other ids are dropped. *response_p is the caller's to free.
static call_result_t s_await(zsock_t *dealer, uint64_t id, int64_t deadline,
                             Cairn__Response **response_p) {
    zpoller_t *poller = zpoller_new(dealer, NULL);
    call_result_t result = CALL_TIMEOUT;
    *response_p = NULL;
    int64_t remaining;
    while (!*response_p && (remaining = deadline - zclock_mono()) > 0) {
        if (zpoller_wait(poller, (int)remaining) != dealer)
            break;
        zframe_t *frame = zframe_recv(dealer);
        if (!frame)
            break;
        Cairn__Response *response =
            cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        if (!response) {
            result = CALL_GARBLED;
            break;
        }
        if (response->id == id) {
            *response_p = response;
            result = CALL_OK;
        } else
            cairn__response__free_unpacked(response, NULL);
    }
    zpoller_destroy(&poller);
    return result;
}

//  Sends one request and waits for its answer; *rtt_us is the round trip.
static call_result_t s_call(zsock_t *dealer, const Cairn__Request *request, int timeout_ms,
                            Cairn__Response **response_p, int64_t *rtt_us) {
    int64_t started = zclock_usecs();
    zframe_t *frame = zframe_new(NULL, cairn__request__get_packed_size(request));
    cairn__request__pack(request, zframe_data(frame));
    //  A DEALER queues for a connecting peer; DONTWAIT only fails if it cannot.
    if (zframe_send(&frame, dealer, ZFRAME_DONTWAIT) != 0) {
        zframe_destroy(&frame);
        *response_p = NULL;
        return CALL_TIMEOUT;
    }
    call_result_t result = s_await(dealer, request->id, zclock_mono() + timeout_ms, response_p);
    *rtt_us = zclock_usecs() - started;
    return result;
}

//  ---- reporting ------------------------------------------------------------------------------

//  An error with a status name: stderr always, plus a JSON object with --json.
static int s_report_error(const cli_t *cli, const char *status, const char *message,
                          int exit_code) {
    fprintf(stderr, "cairn: %s: %s\n", status, message);
    if (cli->json) {
        json_t *object = json_pack("{s:s}", "status", status);
        s_json_set_bytes(object, "error", s_bytes(message));
        s_json_print(object);
    }
    return exit_code;
}

//  Prints an answer to the request whose body was `sent`; returns the exit code.
static int s_report_answer(const cli_t *cli, Cairn__Request__BodyCase sent,
                           const Cairn__Response *response, int64_t rtt_us) {
    if (response->status != CAIRN__STATUS__OK)
        return s_report_error(cli, ca_status_str((ca_status_t)response->status),
                              response->error[0] ? response->error : "(no message)",
                              CLI_EXIT_NODE_ERROR);
    //  A request and its answer share the body field number (cairn.proto).
    if ((int)response->body_case != (int)sent)
        return s_report_error(cli, ca_status_str(CA_INTERNAL),
                              "the node answered with another kind of response; "
                              "client and node speak different API versions",
                              CLI_EXIT_NODE_ERROR);
    answer_t answer = {cli, response, rtt_us};
    if (cli->json) {
        json_t *fields = cli->command->to_json(&answer);
        if (!fields) //  json_pack refuses text that is not UTF-8
            return s_report_error(cli, ca_status_str(CA_INTERNAL),
                                  "the answer holds text that is not valid UTF-8",
                                  CLI_EXIT_NODE_ERROR);
        json_t *object = json_pack("{s:s}", "status", ca_status_str(CA_OK));
        json_object_update_new(object, fields);
        s_json_print(object);
    } else
        cli->command->print(&answer);
    return CLI_EXIT_OK;
}

static int s_report_unreachable(const cli_t *cli) {
    char message[512];
    snprintf(message, sizeof message,
             "no answer from %s within %d ms; is cairnd running there? "
             "(--endpoint, %s, --timeout)",
             cli->endpoint, cli->timeout_ms, CLI_ENDPOINT_ENV);
    return s_report_error(cli, "unreachable", message, CLI_EXIT_UNREACHABLE);
}

//  Connects, sends the request, prints the answer; returns the exit code.
static int s_run(const cli_t *cli) {
    request_t request;
    cairn__request__init(&request.request);
    randombytes_buf(&request.request.id, sizeof request.request.id);
    const char *problem = cli->command->build(cli, &request);
    if (problem) {
        s_usage_error("%s", problem);
        return CLI_EXIT_USAGE;
    }
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return s_report_error(cli, ca_status_str(CA_INTERNAL), "cannot create a ZeroMQ socket",
                              CLI_EXIT_NODE_ERROR);
    zsock_set_linger(dealer, 0);
    if (zsock_connect(dealer, "%s", cli->endpoint) != 0) {
        zsock_destroy(&dealer);
        s_usage_error("cannot use endpoint '%s' (%s); expected e.g. %s", cli->endpoint,
                      zmq_strerror(zmq_errno()), CA_DEFAULT_CLIENT_ENDPOINT);
        return CLI_EXIT_USAGE;
    }
    Cairn__Response *response = NULL;
    int64_t rtt_us = 0;
    call_result_t result = s_call(dealer, &request.request, cli->timeout_ms, &response, &rtt_us);
    zsock_destroy(&dealer);
    int exit_code;
    if (result == CALL_OK)
        exit_code = s_report_answer(cli, request.request.body_case, response, rtt_us);
    else if (result == CALL_GARBLED)
        exit_code = s_report_error(cli, ca_status_str(CA_INTERNAL),
                                   "the answer is not a cairn.Response; is this a cairn node?",
                                   CLI_EXIT_NODE_ERROR);
    else
        exit_code = s_report_unreachable(cli);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

int main(int argc, char **argv) {
    //  Ctrl-C should end a waiting client at once, not be turned into a
    //  flag that CZMQ's pollers report.
    zsys_handler_set(NULL);
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return CLI_EXIT_NODE_ERROR;
    }
    cli_t cli;
    int rc = s_parse(&cli, argc, argv);
    if (rc != PARSE_OK)
        return rc == PARSE_DONE ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    int exit_code = s_run(&cli);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cairn: cannot write the output: %s\n", strerror(errno));
        exit_code = exit_code ? exit_code : CLI_EXIT_NODE_ERROR;
    }
    return exit_code;
}

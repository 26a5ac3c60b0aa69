/*  =========================================================================
    cairn - the command-line client of a cairn node

    One invocation sends one request to a node's client endpoint and prints
    its answer (the content commands stream: several requests, see below):

        cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]

    How it talks (connection.c): a DEALER socket connected to the endpoint
    (flag, then CAIRN_ENDPOINT, then tcp://127.0.0.1:7401), one packed
    cairn.Request per frame, then a zpoller waits for the Response whose id
    matches ours until the timeout (5 s by default) runs out. It never
    sleeps and never waits without a deadline, so a node that is down or
    wedged costs at most the timeout (per answer: a stream of many requests
    waits that long for each).

    Where commands live: every command is one row of a command table, and
    each store's rows are a family in the file named after the store
    (s_commands here: node and config); CLI_FAMILIES in cli.h lists the
    families, in the order of the help:

        column        example (config get)      role
        ------------  ------------------------  ------------------------------
        name, sub     "config", "get"           the words that select the row
        arg_count     1  ("KEY")                positional args, checked here
        options       {"default", "V", false}   command options (--default V;
                                                a NULL metavar makes a flag,
                                                true a required option)
        build         s_build_config_get        fills the Request
        print         s_print_config_get        the answer as human text
        to_json       s_json_config_get         the answer's JSON fields
        details       NULL                      more text for COMMAND --help
        run           NULL                      a driver for rows that send
                                                more than one request
        sends         {..._CONFIG_GET}          the request kinds it sends

    A family keeps what its requests point at in a private struct; its
    table declares the struct's size, s_run allocates it zeroed for the
    run, hands it to build, run and the printers as `storage`, and wipes it
    after (it may hold a password or a key). `cairn --list-requests`
    (hidden) prints every request kind some row sends, so that a test can
    check that every Request body has a command.

    A row with `run` (content put/get, cache put/get, content fsck) still
    parses in `build` (usage errors never contact the node), then drives
    its requests itself through the same helpers the one-request path
    uses: cli_send (packs, sends, never waits), cli_receive (waits for one
    id's answer, keeps earlier answers to pipelined requests, reports
    errors), cli_report_ok / cli_report_error (output and exit status).

    Parsing, help, sending, waiting, id and body checks, error reporting and
    exit codes are shared; a later store adds its commands as a family (one
    file, one name in CLI_FAMILIES), not as another branch. Long options
    are never abbreviated: "--pass" is not "--password-file", so no prefix
    of an option can carry a secret. The Response body is checked against
    the request's: both `body` oneofs use the same field number for a
    request and its answer (schemas/envelope.proto).

    Output: human text by default; with --json exactly one JSON object on
    stdout per command, errors included ({"status":"invalid","error":...}),
    built with jansson. Bytes that are not valid UTF-8 appear as null plus a
    "<field>_base64" member; keys, signatures, salts and nonces as hex.
    `cairn COMMAND --help` prints one command's usage and details.

    Exit status:

        0  the node answered OK
        1  the node answered an error status (stderr: "cairn: STATUS: MESSAGE")
           or an answer that is not a cairn.Response; a local file could not
           be read or written ("cairn: io: ..."); downloaded bytes did not
           match their hash ("cairn: corrupt: ..."); fsck left problems
        2  usage error (unknown command or option, wrong argument count);
           stderr only, never JSON
        3  no answer from the node within the timeout
        4  the node answered "no" to a question (prov ancestor)

    Options: a row's option whose metavar ends in "..." ("TAG...") may be
    given more than once and keeps every value (cli_option_list: --tag a
    --tag b); others keep the last. A row whose arg_usage ends in "...]"
    ("HASH [SOURCE...]") takes arg_count or more positional arguments.
    ========================================================================= */

#include "ca_hash.h" //  ca_sha256_backend_version
#include "ca_limits.h"
#include "ca_status.h"
#include "ca_validate.h" //  ca_hex_value
#include "cli.h"
#include "ca_curve_key.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <google/protobuf-c/protobuf-c.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLI_DEFAULT_TIMEOUT_MS 5000
//  JSON reals with 17 significant digits: timestamps read back exactly
//  (a `msg list --before T:ID` cursor must match the stored value).
#define CLI_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))
//  Room for every kind every row sends, repeats included.
#define CLI_REQUEST_KINDS_MAX 512
//  Room for one command's usage line.
#define CLI_USAGE_LINE_MAX 512
//  Help: command lines longer than this put the summary on the next line.
#define CLI_HELP_COLUMN 34
//  Help lines are wrapped before this column where they can be.
#define CLI_HELP_WIDTH 80

//  getopt_long codes: global options, then the current command's options.
enum {
    OPT_ENDPOINT = 1000,
    OPT_JSON,
    OPT_TIMEOUT,
    OPT_HELP,
    OPT_VERSION,
    OPT_LIST_REQUESTS,
    OPT_CLIENT_KEY,
    OPT_SERVER_KEY,
    OPT_COMMAND = 2000
};

//  Parse results: go on, stop with exit 0 (help/version printed), usage.
enum { PARSE_OK = 0, PARSE_DONE = 1, PARSE_USAGE = -1 };

//  Every family's table, in the order of the help (CLI_FAMILIES, cli.h).
#define CLI_FAMILY_ADDRESS(name) &cli_##name##_commands,
static const command_table_t *const s_tables[] = {CLI_FAMILIES(CLI_FAMILY_ADDRESS)};
#define TABLE_COUNT (sizeof s_tables / sizeof s_tables[0])

//  ---- usage ---------------------------------------------------------------------

//  A command option with a one-letter name is a short option ("-o FILE");
//  the others are long ones ("--id UUID").
static bool s_is_short(const command_option_t *option) {
    return option->name[0] && !option->name[1];
}

static const char *s_dashes(const command_option_t *option) {
    return s_is_short(option) ? "-" : "--";
}

//  "msg send CHANNEL TEXT [--id UUID] [--encrypted]" into `line`.
static void s_format_command_line(const command_t *command, char *line, size_t size) {
    int length = snprintf(line, size, "%s%s%s%s%s", command->name, command->subcommand ? " " : "",
                          command->subcommand ? command->subcommand : "",
                          command->arg_usage[0] ? " " : "", command->arg_usage);
    for (int i = 0; i < CLI_MAX_OPTIONS && command->options[i].name; i++) {
        const command_option_t *option = &command->options[i];
        if (length < 0 || (size_t)length >= size)
            return;
        length += snprintf(line + length, size - (size_t)length, " %s%s%s%s%s%s",
                           option->required ? "" : "[", s_dashes(option), option->name,
                           option->metavar ? " " : "", option->metavar ? option->metavar : "",
                           option->required ? "" : "]");
    }
}

//  Prints `lead` and `text`, breaking `text` before an option ("[--x X]",
//  "--x X") where a line would pass CLI_HELP_WIDTH; later lines are
//  indented by `indent`. Ends with a newline.
static void s_print_wrapped(FILE *out, const char *lead, const char *text, int indent) {
    int column = fprintf(out, "%s", lead);
    const char *at = text;
    while (*at) {
        //  The next piece runs to the next " [" or " --", or to the end.
        const char *next = at + 1;
        while (*next && !(next[0] == ' ' && (next[1] == '[' || strncmp(next + 1, "--", 2) == 0)))
            next++;
        int length = (int)(next - at);
        if (column + length > CLI_HELP_WIDTH && at != text) {
            column = fprintf(out, "\n%*s", indent, "") - 1;
            at++; //  the blank that separated the pieces
            length--;
        }
        column += fprintf(out, "%.*s", length, at);
        at = next;
    }
    fputc('\n', out);
}

static void s_print_command_line(FILE *out, const command_t *command) {
    char line[CLI_USAGE_LINE_MAX];
    s_format_command_line(command, line, sizeof line);
    if (strlen(line) <= CLI_HELP_COLUMN) {
        fprintf(out, "  %-*s %s\n", CLI_HELP_COLUMN, line, command->summary);
        return;
    }
    s_print_wrapped(out, "  ", line, 6);
    fprintf(out, "  %-*s %s\n", CLI_HELP_COLUMN, "", command->summary);
}

static void s_print_commands(FILE *out) {
    fprintf(out, "Commands:\n");
    for (size_t t = 0; t < TABLE_COUNT; t++)
        for (size_t i = 0; i < s_tables[t]->count; i++)
            s_print_command_line(out, &s_tables[t]->rows[i]);
}

//  The commands whose first word is `group` ("msg": msg send, msg list...).
static void s_print_group(FILE *out, const char *group) {
    fprintf(out, "Commands of '%s':\n", group);
    for (size_t t = 0; t < TABLE_COUNT; t++)
        for (size_t i = 0; i < s_tables[t]->count; i++)
            if (streq(s_tables[t]->rows[i].name, group))
                s_print_command_line(out, &s_tables[t]->rows[i]);
}

//  The short form after a usage error: one command's line when it is
//  known, that group's commands when only the group is, else a pointer to
//  `cairn help` (the whole list would push the error off the screen).
static void s_print_synopsis(FILE *out, const command_t *command, const char *group) {
    if (command) {
        char line[CLI_USAGE_LINE_MAX];
        s_format_command_line(command, line, sizeof line);
        s_print_wrapped(out, "usage: cairn [--endpoint E] [--json] [--timeout MS] ", line, 10);
        fprintf(out, "\nSee cairn %s%s%s --help for details.\n", command->name,
                command->subcommand ? " " : "", command->subcommand ? command->subcommand : "");
        return;
    }
    fprintf(out, "usage: cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]\n");
    if (group) {
        fputc('\n', out);
        s_print_group(out, group);
        fprintf(out, "\nSee cairn %s SUBCOMMAND --help for one of them.\n", group);
    } else
        fprintf(out, "See cairn help for the commands, cairn help COMMAND for one.\n");
}

static void s_print_usage(FILE *out) {
    fprintf(out,
            "usage: cairn [--endpoint E] [--json] [--timeout MS] COMMAND [ARG ...]\n"
            "       cairn keygen FILE | cairn key new|show FILE\n"
            "       cairn help [COMMAND [SUBCOMMAND]] | --help | --version | COMMAND --help\n\n"
            "Command-line client of a cairn storage node (cairnd).\n\n"
            "Options (before or after the command; a command's own options after it):\n"
            "  --endpoint=E   the node's client endpoint (default %s;\n"
            "                 environment %s; the flag wins)\n"
            "  --json         print one JSON object per command on stdout, errors included\n"
            "  --timeout=MS   wait at most MS milliseconds for the answer (default %d)\n"
            "  --client-key=FILE  authenticate with the CURVE key pair in FILE (made by\n"
            "                 cairn keygen; environment " CLI_CLIENT_KEY_ENV ")\n"
            "  --server-key=KEY   the node's CURVE public key, from cairnd server-key\n"
            "                 (environment " CLI_SERVER_KEY_ENV "); with --client-key\n"
            "  --help         print this help (after a command: that command's) and exit\n"
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
            "Times (T) are unix seconds with an optional fraction; they print as UTC.\n"
            "msg send needs a signature: --signature-hex, or --key-file to sign here (see\n"
            "cairn msg send --help for the signed bytes). Passwords are never arguments:\n"
            "--password-file FILE or a prompt on the terminal (echo off).\n"
            "Options are never abbreviated. In JSON, bytes that are not valid UTF-8 are\n"
            "null plus a \"<name>_base64\" member; keys, signatures, salts and nonces are hex.\n\n"
            "Options shown as [--tag TAG...] may be given more than once.\n"
            "Hashes (HASH) are 64 hex digits, a SHA-256. BYTES take a K, M or G suffix\n"
            "(KiB, MiB, GiB). content put/get stream large blobs in chunks; --timeout then\n"
            "bounds the wait for each answer. Progress shows on a terminal (stderr).\n\n"
            "Exit status: 0 OK; 1 the node answered an error (stderr: \"cairn: STATUS: MESSAGE\",\n"
            "STATUS one of not_found, invalid, conflict, unauthorized, busy, internal,\n"
            "unavailable, corrupt), a local file failed (io), downloaded bytes did not\n"
            "match their hash (corrupt) or fsck left problems; 2 usage error (stderr\n"
            "only); 3 no answer within the timeout, or unreachable (connection refused,\n"
            "CURVE handshake ended: said at once); 4 the answer is \"no\" (prov ancestor).\n\n"
            "cairn key new FILE writes a new Ed25519 signing key for --key-file (libsodium's\n"
            "64-byte secret key as 128 hex digits, 0600, never overwritten) and prints its\n"
            "public key, the signer's peer id; cairn key show FILE prints it again.\n"
            "cairn keygen FILE writes a new CURVE key pair to FILE (0600, never overwritten)\n"
            "and prints its public key: the line to add to the node's DATA_DIR/curve/clients.\n"
            "A node that does not accept the key (or a wrong --server-key) ends the\n"
            "handshake: that shows as exit status 3.\n",
            CA_CONFIG_KEY_MAX, CA_CONFIG_VALUE_MAX);
}

//  `cairn COMMAND --help`.
static void s_print_command_help(FILE *out, const command_t *command) {
    char line[CLI_USAGE_LINE_MAX];
    s_format_command_line(command, line, sizeof line);
    s_print_wrapped(out, "usage: cairn [--endpoint E] [--json] [--timeout MS] ", line, 10);
    fprintf(out, "\n%s.\n", command->summary);
    if (command->details)
        fprintf(out, "\n%s", command->details);
    fprintf(out, "\nSee cairn --help for the global options and exit status.\n");
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
    printf("  SHA-256    %s\n", ca_sha256_backend_version());
}

static int s_compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  `cairn --list-requests` (hidden, for the request_coverage test): the
//  Request.body field of every kind some row sends, sorted, one per line.
static void s_print_requests(void) {
    const char *names[CLI_REQUEST_KINDS_MAX];
    size_t count = 0;
    for (size_t t = 0; t < TABLE_COUNT; t++)
        for (size_t i = 0; i < s_tables[t]->count; i++) {
            const command_t *command = &s_tables[t]->rows[i];
            for (int k = 0; k < CLI_SENDS_MAX && command->sends[k]; k++) {
                const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(
                    &cairn__request__descriptor, (unsigned)command->sends[k]);
                assert(field && count < CLI_REQUEST_KINDS_MAX);
                names[count++] = field->name;
            }
        }
    qsort(names, count, sizeof names[0], s_compare_names);
    for (size_t i = 0; i < count; i++)
        if (i == 0 || !streq(names[i], names[i - 1]))
            printf("%s\n", names[i]);
}

//  Prints "cairn: MESSAGE" and the usage (of cli's command, when known)
//  to stderr; returns PARSE_USAGE.
static int s_usage_error(const cli_t *cli, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int s_usage_error(const cli_t *cli, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("cairn: ", stderr);
    vfprintf(stderr, format, args);
    fputs("\n\n", stderr);
    va_end(args);
    s_print_synopsis(stderr, cli ? cli->command : NULL, cli ? cli->group : NULL);
    return PARSE_USAGE;
}

//  ---- argument parsing ------------------------------------------------------------

static const struct option s_global_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"list-requests", no_argument, NULL, OPT_LIST_REQUESTS},
    {"client-key", required_argument, NULL, OPT_CLIENT_KEY},
    {"server-key", required_argument, NULL, OPT_SERVER_KEY},
};
#define GLOBAL_OPTION_COUNT (sizeof s_global_options / sizeof s_global_options[0])

static int s_parse_timeout(const cli_t *cli, const char *text, int *timeout_ms) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > INT_MAX)
        return s_usage_error(cli, "--timeout wants milliseconds from 1 to %d, not '%s'", INT_MAX,
                             text);
    *timeout_ms = (int)value;
    return PARSE_OK;
}

//  GNU getopt_long accepts any unambiguous prefix ("--pass" for
//  "--password-file"); cairn does not. The option just parsed sits right
//  before optind, with its value after it unless it came as "--name=value".
static bool s_spelled_out(char **argv, const struct option *option) {
    int at = optind - 1;
    if (option->has_arg == required_argument && optarg == argv[optind - 1])
        at = optind - 2;
    const char *text = argv[at];
    size_t length = strlen(option->name);
    return strncmp(text, "--", 2) == 0 && strncmp(text + 2, option->name, length) == 0 &&
           (text[2 + length] == '\0' || text[2 + length] == '=');
}

static bool s_ends_with(const char *text, const char *end) {
    size_t length = strlen(text), end_length = strlen(end);
    return length >= end_length && streq(text + length - end_length, end);
}

//  An option given more than once keeps every value: metavar "TAG...".
static bool s_is_repeat(const command_option_t *option) {
    return option->metavar && s_ends_with(option->metavar, "...");
}

//  A command that takes arg_count or more args: arg_usage "HASH [SOURCE...]".
static bool s_takes_more(const command_t *command) {
    return s_ends_with(command->arg_usage, "...]");
}

//  Sets the current command's option `index` to the value just parsed; a
//  repeatable one keeps every value.
static int s_set_option(cli_t *cli, int index) {
    cli->options[index] = optarg ? optarg : "";
    if (!s_is_repeat(&cli->command->options[index]))
        return PARSE_OK;
    if (cli->value_count == CLI_VALUES_MAX)
        return s_usage_error(cli, "too many values for --%s (at most %d in all)",
                             cli->command->options[index].name, CLI_VALUES_MAX);
    cli->values[cli->value_count] = optarg;
    cli->owner[cli->value_count++] = (unsigned char)index;
    return PARSE_OK;
}

//  Groups the repeatable options' values by option, keeping their order.
static void s_group_values(cli_t *cli) {
    char *grouped[CLI_VALUES_MAX];
    size_t next = 0;
    for (int i = 0; i < CLI_MAX_OPTIONS; i++) {
        cli->value_first[i] = next;
        for (size_t v = 0; v < cli->value_count; v++)
            if (cli->owner[v] == i)
                grouped[next++] = cli->values[v];
        cli->value_total[i] = next - cli->value_first[i];
    }
    memcpy(cli->values, grouped, cli->value_count * sizeof grouped[0]);
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
        case OPT_CLIENT_KEY:
            cli->client_key = optarg;
            return PARSE_OK;
        case OPT_SERVER_KEY:
            cli->server_key = optarg;
            return PARSE_OK;
        case OPT_TIMEOUT:
            return s_parse_timeout(cli, optarg, &cli->timeout_ms);
        case 'h':
        case OPT_HELP:
            if (cli->command)
                s_print_command_help(stdout, cli->command);
            else
                s_print_usage(stdout);
            return PARSE_DONE;
        case OPT_VERSION:
            s_print_version();
            return PARSE_DONE;
        case OPT_LIST_REQUESTS:
            s_print_requests();
            return PARSE_DONE;
        case ':':
            return s_usage_error(cli, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (opt >= OPT_COMMAND && opt < OPT_COMMAND + CLI_MAX_OPTIONS)
                return s_set_option(cli, opt - OPT_COMMAND);
            for (int i = 0; cli->command && i < CLI_MAX_OPTIONS && cli->command->options[i].name;
                 i++)
                if (s_is_short(&cli->command->options[i]) &&
                    opt == cli->command->options[i].name[0])
                    return s_set_option(cli, i);
            if (optopt > 0 && optopt < OPT_ENDPOINT)
                return s_usage_error(cli, "unknown option '-%c'", optopt);
            //  Never echo "=VALUE": it might be a secret given by mistake.
            return s_usage_error(cli, "unknown option '%.*s'%s",
                                 (int)strcspn(argv[optind - 1], "="), argv[optind - 1],
                                 cli->command ? ""
                                              : " before the command (only the global options may "
                                                "come first; a command's own go after it)");
    }
}

//  Runs getopt_long over argv from the start (optind = 0 re-initialises
//  GNU getopt); stops at the first non-option when optstring starts '+'.
static int s_parse_options(cli_t *cli, int argc, char **argv, const char *optstring,
                           const struct option *options) {
    opterr = 0;
    optind = 0;
    int rc = PARSE_OK;
    while (rc == PARSE_OK) {
        int index = -1;
        int opt = getopt_long(argc, argv, optstring, options, &index);
        if (opt == -1)
            break;
        if (index >= 0 && !s_spelled_out(argv, &options[index])) {
            const char *text = argv[optind - (optarg == argv[optind - 1] ? 2 : 1)];
            rc = s_usage_error(cli, "unknown option '%.*s' (options are not abbreviated)",
                               (int)strcspn(text, "="), text);
        } else
            rc = s_apply_option(cli, opt, argv);
    }
    return rc;
}

static bool s_is_help(const char *word) {
    return streq(word, "--help") || streq(word, "-h");
}

//  Finds the row for argv words; sets *words to how many it used (1 or 2).
//  "GROUP --help" prints the group's commands (PARSE_DONE).
static int s_find_command(cli_t *cli, char **words, int word_count, int *words_used) {
    bool has_subcommands = false;
    for (size_t t = 0; t < TABLE_COUNT; t++)
        for (size_t i = 0; i < s_tables[t]->count; i++) {
            const command_t *command = &s_tables[t]->rows[i];
            if (!streq(command->name, words[0]))
                continue;
            if (!command->subcommand) {
                cli->command = command;
                cli->family = s_tables[t];
                *words_used = 1;
                return PARSE_OK;
            }
            has_subcommands = true;
            if (word_count > 1 && streq(command->subcommand, words[1])) {
                cli->command = command;
                cli->family = s_tables[t];
                *words_used = 2;
                return PARSE_OK;
            }
        }
    if (!has_subcommands)
        return s_usage_error(cli, "unknown command '%s'", words[0]);
    cli->group = words[0];
    if (word_count > 1 && s_is_help(words[1])) {
        s_print_group(stdout, words[0]);
        printf("\nSee cairn %s SUBCOMMAND --help for one of them.\n", words[0]);
        return PARSE_DONE;
    }
    if (word_count < 2)
        return s_usage_error(cli, "'%s' needs a subcommand", words[0]);
    return s_usage_error(cli, "unknown command '%s %s'", words[0], words[1]);
}

//  `cairn help [COMMAND [SUBCOMMAND]]`: the whole help, a group's commands
//  or one command's help, on stdout.
static int s_help(cli_t *cli, char **words, int word_count) {
    if (word_count == 0) {
        s_print_usage(stdout);
        return PARSE_DONE;
    }
    for (size_t t = 0; word_count == 1 && t < TABLE_COUNT; t++)
        for (size_t i = 0; i < s_tables[t]->count; i++)
            if (streq(s_tables[t]->rows[i].name, words[0]) && s_tables[t]->rows[i].subcommand) {
                s_print_group(stdout, words[0]);
                printf("\nSee cairn help %s SUBCOMMAND for one of them.\n", words[0]);
                return PARSE_DONE;
            }
    int used = 0;
    int rc = s_find_command(cli, words, word_count, &used);
    if (rc != PARSE_OK)
        return rc;
    if (used < word_count)
        return s_usage_error(cli, "help takes a command, not '%s'", words[used]);
    s_print_command_help(stdout, cli->command);
    return PARSE_DONE;
}

//  Parses the command's own options (and global ones placed after it) and
//  checks its positional arguments. argv[0] is the last command word.
static int s_parse_command_args(cli_t *cli, int argc, char **argv) {
    const command_t *command = cli->command;
    struct option options[GLOBAL_OPTION_COUNT + CLI_MAX_OPTIONS + 1];
    memset(options, 0, sizeof options);
    memcpy(options, s_global_options, sizeof s_global_options);
    size_t count = GLOBAL_OPTION_COUNT;
    char optstring[3 + 2 * CLI_MAX_OPTIONS + 1] = ":h";
    size_t letters = strlen(optstring);
    for (int i = 0; i < CLI_MAX_OPTIONS && command->options[i].name; i++) {
        const command_option_t *option = &command->options[i];
        if (s_is_short(option)) {
            optstring[letters++] = option->name[0];
            if (option->metavar)
                optstring[letters++] = ':';
            continue;
        }
        options[count++] = (struct option){
            option->name, option->metavar ? required_argument : no_argument, NULL, OPT_COMMAND + i};
    }
    optstring[letters] = '\0';
    int rc = s_parse_options(cli, argc, argv, optstring, options);
    if (rc != PARSE_OK)
        return rc;
    for (int i = 0; i < CLI_MAX_OPTIONS && command->options[i].name; i++)
        if (command->options[i].required && !cli->options[i])
            return s_usage_error(
                cli, "'%s%s%s' needs %s%s %s", command->name, command->subcommand ? " " : "",
                command->subcommand ? command->subcommand : "", s_dashes(&command->options[i]),
                command->options[i].name, command->options[i].metavar);
    int given = argc - optind;
    bool more = s_takes_more(command);
    if (given != command->arg_count && !(more && given > command->arg_count))
        return s_usage_error(
            cli, "'%s%s%s' takes %s%d argument%s (%s), not %d", command->name,
            command->subcommand ? " " : "", command->subcommand ? command->subcommand : "",
            more ? "at least " : "", command->arg_count, command->arg_count == 1 ? "" : "s",
            command->arg_usage[0] ? command->arg_usage : "none", given);
    cli->args = argv + optind;
    cli->arg_total = given;
    s_group_values(cli);
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
        return s_usage_error(cli, "no command given");
    int first = optind, words = 0;
    if (streq(argv[first], "help"))
        return s_help(cli, argv + first + 1, argc - first - 1);
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
    const char *client_key = getenv(CLI_CLIENT_KEY_ENV), *server_key = getenv(CLI_SERVER_KEY_ENV);
    if (!cli->client_key && client_key && *client_key)
        cli->client_key = client_key;
    if (!cli->server_key && server_key && *server_key)
        cli->server_key = server_key;
    if (!cli->client_key != !cli->server_key)
        return s_usage_error(cli,
                             "CURVE needs both --client-key FILE (%s) and --server-key KEY "
                             "(%s, from cairnd server-key)",
                             CLI_CLIENT_KEY_ENV, CLI_SERVER_KEY_ENV);
    return PARSE_OK;
}

//  ---- helpers for rows (declared in cli.h) -------------------------------------

const char *cli_option(const cli_t *cli, const char *name) {
    const command_t *command = cli->command;
    for (int i = 0; i < CLI_MAX_OPTIONS && command->options[i].name; i++)
        if (streq(command->options[i].name, name))
            return cli->options[i];
    assert(false); //  a row asked for an option it does not declare
    return NULL;
}

char *const *cli_option_list(const cli_t *cli, const char *name, size_t *count) {
    const command_t *command = cli->command;
    for (int i = 0; i < CLI_MAX_OPTIONS && command->options[i].name; i++)
        if (streq(command->options[i].name, name)) {
            assert(s_is_repeat(&command->options[i]));
            *count = cli->value_total[i];
            return cli->values + cli->value_first[i];
        }
    assert(false); //  a row asked for an option it does not declare
    *count = 0;
    return NULL;
}

const char *cli_problem(const char *format, ...) {
    static char problem[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(problem, sizeof problem, format, args);
    va_end(args);
    return problem;
}

ProtobufCBinaryData cli_bytes(const char *text) {
    ProtobufCBinaryData bytes = {strlen(text), (uint8_t *)text};
    return bytes;
}

ProtobufCBinaryData cli_hash_bytes(const uint8_t *hash) {
    return (ProtobufCBinaryData){CA_HASH_BYTES, (uint8_t *)hash};
}

const char *cli_parse_u32(const char *text, const char *what, uint32_t min, uint32_t max,
                          uint32_t *value) {
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || parsed < min || parsed > max)
        return cli_problem("%s wants a whole number from %" PRIu32 " to %" PRIu32 ", not '%s'",
                           what, min, max, text);
    *value = (uint32_t)parsed;
    return NULL;
}

const char *cli_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max,
                          uint64_t *value) {
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || !isdigit((unsigned char)text[0]) ||
        parsed < min || parsed > max)
        return cli_problem("%s wants a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'",
                           what, min, max, text);
    *value = (uint64_t)parsed;
    return NULL;
}

const char *cli_enum_name(const char *const *names, size_t count, int value, const char *unknown) {
    return value >= 0 && (size_t)value < count && names[value] ? names[value] : unknown;
}

const char *cli_parse_enum(const char *text, const char *what, const char *const *names,
                           size_t count, int *value) {
    for (size_t i = 0; i < count; i++)
        if (names[i] && streq(text, names[i])) {
            *value = (int)i;
            return NULL;
        }
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i == 0           ? ""
                                 : i + 1 == count ? " or "
                                                  : ", ",
                                 names[i]);
    return cli_problem("%s wants %s, not '%s'", what, list, text);
}

const char *cli_parse_time(const char *text, const char *what, double *value) {
    char *end = NULL;
    errno = 0;
    double parsed = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(parsed) || parsed < 0)
        return cli_problem("%s wants unix seconds (e.g. 1714567890.25), not '%s'", what, text);
    *value = parsed;
    return NULL;
}

//  Safe when `out` is `text` itself (the output never overtakes the input).
const char *cli_parse_hex(const char *text, const char *what, uint8_t *out, size_t max,
                          size_t *length) {
    size_t digits = strlen(text);
    if (digits % 2 != 0)
        return cli_problem("%s wants an even number of hex digits, not %zu", what, digits);
    if (digits / 2 > max)
        return cli_problem("%s holds %zu bytes; at most %zu fit", what, digits / 2, max);
    for (size_t i = 0; i < digits; i += 2) {
        int high = ca_hex_value(text[i]), low = ca_hex_value(text[i + 1]);
        if (high < 0 || low < 0)
            return cli_problem("%s wants hex digits (0-9, a-f); '%c%c' is not hex", what, text[i],
                               text[i + 1]);
        out[i / 2] = (uint8_t)(high << 4 | low);
    }
    *length = digits / 2;
    return NULL;
}

const char *cli_read_file(const char *path, const char *what, uint8_t *buffer, size_t max,
                          size_t *length) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_problem("cannot open %s '%s': %s", what, path, strerror(errno));
    size_t used = 0;
    ssize_t got = 1;
    //  One byte more than fits tells a file that is too long.
    while (got > 0 && used <= max) {
        uint8_t byte;
        uint8_t *into = used < max ? buffer + used : &byte;
        size_t room = used < max ? max - used : 1;
        got = read(fd, into, room);
        if (got < 0 && errno == EINTR)
            got = 1;
        else if (got > 0)
            used += (size_t)got;
    }
    int saved = errno;
    close(fd);
    if (got < 0)
        return cli_problem("cannot read %s '%s': %s", what, path, strerror(saved));
    if (used > max)
        return cli_problem("%s '%s' is longer than %zu bytes", what, path, max);
    *length = used;
    return NULL;
}

void cli_format_time(double seconds, char *text, size_t size) {
    if (seconds <= 0 || !isfinite(seconds) || seconds > (double)INT64_MAX / 2) {
        snprintf(text, size, "-");
        return;
    }
    time_t whole = (time_t)seconds;
    int millis = (int)((seconds - (double)whole) * 1000.0);
    struct tm utc;
    gmtime_r(&whole, &utc);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(text, size, "%s.%03dZ", date, millis > 999 ? 999 : millis);
}

void cli_format_bytes(uint64_t bytes, char *text, size_t size) {
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

void cli_format_bytes_exact(uint64_t bytes, char *text, size_t size) {
    if (bytes < 1024) {
        snprintf(text, size, "%" PRIu64 " bytes", bytes);
        return;
    }
    char rounded[32];
    cli_format_bytes(bytes, rounded, sizeof rounded);
    snprintf(text, size, "%s (%" PRIu64 " bytes)", rounded, bytes);
}

//  A JSON string for `bytes`, or NULL when they are not valid UTF-8.
static json_t *s_json_text(ProtobufCBinaryData bytes) {
    return json_stringn(bytes.data ? (const char *)bytes.data : "", bytes.len);
}

bool cli_is_utf8(ProtobufCBinaryData bytes) {
    json_t *text = s_json_text(bytes);
    json_decref(text);
    return text != NULL;
}

void cli_print_hex(ProtobufCBinaryData bytes) {
    if (bytes.len == 0)
        fputs("-", stdout);
    for (size_t i = 0; i < bytes.len; i++)
        printf("%02x", bytes.data[i]);
}

void cli_print_field_time(const char *label, double seconds) {
    char text[CLI_TIME_TEXT];
    cli_format_time(seconds, text, sizeof text);
    printf("  %-15s %s\n", label, text);
}

size_t cli_trim_end(const uint8_t *data, size_t length) {
    while (length > 0 && (data[length - 1] == ' ' || data[length - 1] == '\t' ||
                          data[length - 1] == '\r' || data[length - 1] == '\n'))
        length--;
    return length;
}

bool cli_is_hex(const uint8_t *data, size_t length) {
    for (size_t i = 0; i < length; i++)
        if (ca_hex_value((char)data[i]) < 0)
            return false;
    return true;
}

void cli_print_inline(ProtobufCBinaryData bytes) {
    if (!cli_is_utf8(bytes)) {
        fputs("hex:", stdout);
        cli_print_hex(bytes);
        return;
    }
    for (size_t i = 0; i < bytes.len; i++) {
        uint8_t c = bytes.data[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

void cli_json_set_bytes(json_t *object, const char *name, ProtobufCBinaryData bytes) {
    json_t *text = s_json_text(bytes);
    if (text)
        json_object_set_new(object, name, text);
    else
        cli_json_set_base64(object, name, bytes);
}

void cli_json_set_base64(json_t *object, const char *name, ProtobufCBinaryData bytes) {
    json_object_set_new(object, name, json_null());
    size_t size = sodium_base64_encoded_len(bytes.len, sodium_base64_VARIANT_ORIGINAL);
    char *base64 = (char *)malloc(size);
    sodium_bin2base64(base64, size, bytes.data, bytes.len, sodium_base64_VARIANT_ORIGINAL);
    char *field = zsys_sprintf("%s_base64", name);
    json_object_set_new(object, field, json_string(base64));
    zstr_free(&field);
    free(base64);
}

void cli_json_set_hex(json_t *object, const char *name, ProtobufCBinaryData bytes) {
    if (bytes.len == 0) {
        json_object_set_new(object, name, json_null());
        return;
    }
    char *hex = (char *)malloc(bytes.len * 2 + 1);
    sodium_bin2hex(hex, bytes.len * 2 + 1, bytes.data, bytes.len);
    json_object_set_new(object, name, json_string(hex));
    free(hex);
}

json_t *cli_json_u64(uint64_t value) {
    if (value <= INT64_MAX)
        return json_integer((json_int_t)value);
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, value);
    return json_string(digits);
}

bool cli_json_append(json_t *array, json_t *item) {
    return item && json_array_append_new(array, item) == 0;
}

//  Prints `object` as one line on stdout and frees it.
static void s_json_print(json_t *object) {
    char *text = json_dumps(object, CLI_JSON_FLAGS);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(object);
}

//  ---- the node family's storage -----------------------------------------------------

//  What the node and config rows point their request at.
typedef union {
    Cairn__Ping ping;
    Cairn__InfoRequest info;
    Cairn__ConfigGet config_get;
    Cairn__ConfigSet config_set;
} node_storage_t;

//  ---- ping -----------------------------------------------------------------------------

static const char *s_build_ping(const cli_t *cli, Cairn__Request *request, void *storage) {
    node_storage_t *body = storage;
    cairn__ping__init(&body->ping);
    request->body_case = CAIRN__REQUEST__BODY_PING;
    request->ping = &body->ping;
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

static const char *s_build_info(const cli_t *cli, Cairn__Request *request, void *storage) {
    node_storage_t *body = storage;
    cairn__info_request__init(&body->info);
    request->body_case = CAIRN__REQUEST__BODY_INFO;
    request->info = &body->info;
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

//  `cairn info SECTION...`: the sections, in the order printed; a JSON
//  member belongs to the section of the same row.
typedef enum {
    SECTION_SERVER = 1 << 0,
    SECTION_CLIENTS = 1 << 1,
    SECTION_MESSAGES = 1 << 2,
    SECTION_STORES = 1 << 3,
    SECTION_WRITER = 1 << 4,
    SECTION_PEERS = 1 << 5,
    SECTION_OPLOG = 1 << 6,
    SECTION_ALL = (1 << 7) - 1
} info_section_t;

static const struct {
    const char *name;
    info_section_t section;
    const char *members; //  the JSON members of the section, ' '-separated
} s_info_sections[] = {
    {"server", SECTION_SERVER,
     "version api_version uptime_s pid data_dir peer_id db_size_bytes requests invalid"},
    {"clients", SECTION_CLIENTS, "clients clients_refused max_clients"},
    {"messages", SECTION_MESSAGES, "messages"},
    {"stores", SECTION_STORES, "actors"},
    {"writer", SECTION_WRITER, "writer"},
    {"peers", SECTION_PEERS, "peers"},
    {"oplog", SECTION_OPLOG, "oplog"},
};
#define INFO_SECTIONS (sizeof s_info_sections / sizeof s_info_sections[0])

//  The sections named by the command's arguments (all when none); 0 after
//  a name that is none of them (*bad names it).
static unsigned s_info_wanted(const cli_t *cli, const char **bad) {
    if (cli->arg_total == 0)
        return SECTION_ALL;
    unsigned wanted = 0;
    for (int i = 0; i < cli->arg_total; i++) {
        unsigned one = 0;
        for (size_t k = 0; k < INFO_SECTIONS && !one; k++)
            if (streq(cli->args[i], s_info_sections[k].name))
                one = s_info_sections[k].section;
        if (!one) {
            *bad = cli->args[i];
            return 0;
        }
        wanted |= one;
    }
    return wanted;
}

//  What `cairn info` gathered besides Info itself.
typedef struct {
    const Cairn__PeerSessionList *peers; //  NULL: no peer network (why in peers_error)
    const char *peers_error;
    const Cairn__OplogStatsReply *oplog; //  NULL: the oplog store did not answer
} info_extra_t;

static void s_print_info(const answer_t *answer, const info_extra_t *extra, unsigned wanted) {
    const Cairn__InfoReply *info = answer->response->info;
    if (wanted & SECTION_SERVER) {
        char size[64];
        cli_format_bytes_exact(info->db_size_bytes, size, sizeof size);
        printf("cairn node at %s\n", answer->cli->endpoint);
        printf("  version         %s (wire API %" PRIu32 ")\n", info->version, info->api_version);
        printf("  uptime          %" PRIu64 " s\n", info->uptime_s);
        printf("  process id      %" PRIu32 "\n", info->pid);
        printf("  data dir        %s\n", info->data_dir);
        printf("  peer id         %s\n",
               *info->peer_id ? info->peer_id : "(none: create one with cairnd identity init)");
        printf("  database        %s with the WAL\n", size);
        printf("  requests        %" PRIu64 " received, %" PRIu64 " invalid\n", info->requests,
               info->invalid);
    }
    if (wanted & SECTION_CLIENTS)
        printf("  clients         %" PRIu32 " connected (max %" PRIu32 "), %" PRIu64
               " closed over the cap\n",
               info->clients, info->max_clients, info->clients_refused);
    if ((wanted & SECTION_MESSAGES) && info->messages)
        printf("  messages        %" PRIu64 " in %" PRIu64 " channels, %" PRIu64 " peers\n",
               info->messages->messages, info->messages->channels, info->messages->peers);
    else if (wanted & SECTION_MESSAGES)
        printf("  messages        (no statistics: the message store did not answer)\n");
    if (wanted & SECTION_STORES)
        s_print_actors(info);
    if (wanted & SECTION_WRITER)
        s_print_writer(info->writer);
    if ((wanted & SECTION_PEERS) && extra->peers)
        printf("  peer network    %s: %u peers online, %u known\n", extra->peers->endpoint,
               extra->peers->online, extra->peers->known);
    else if (wanted & SECTION_PEERS)
        printf("  peer network    off (%s)\n", extra->peers_error);
    const Cairn__OplogStatsReply *oplog = extra->oplog;
    if ((wanted & SECTION_OPLOG) && oplog)
        printf("  operation logs  %" PRIu64 " operations in %" PRIu64 " logs; orderer: %" PRIu64
               " pending, %" PRIu64 " ready; %" PRIu64 " forks\n",
               oplog->operations, oplog->logs, oplog->pending, oplog->ready, oplog->forks);
}

//  Removes from `object` the members of the sections not `wanted`.
static void s_json_keep_sections(json_t *object, unsigned wanted) {
    for (size_t k = 0; k < INFO_SECTIONS; k++) {
        if (wanted & s_info_sections[k].section)
            continue;
        char members[128];
        snprintf(members, sizeof members, "%s", s_info_sections[k].members);
        for (char *name = strtok(members, " "); name; name = strtok(NULL, " "))
            json_object_del(object, name);
    }
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
    json_t *messages = info->messages ? cli_json_message_stats(info->messages) : json_null();
    json_t *object = json_pack(
        "{s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "version", info->version,
        "uptime_s", (json_int_t)info->uptime_s, "pid", (json_int_t)info->pid, "data_dir",
        info->data_dir, "peer_id", info->peer_id, "db_size_bytes", (json_int_t)info->db_size_bytes,
        "requests", (json_int_t)info->requests, "invalid", (json_int_t)info->invalid, "actors",
        actors, "writer", s_json_writer(info->writer), "messages", messages);
    json_object_set_new(object, "api_version", json_integer(info->api_version));
    json_object_set_new(object, "clients", json_integer(info->clients));
    json_object_set_new(object, "clients_refused", json_integer((json_int_t)info->clients_refused));
    json_object_set_new(object, "max_clients", json_integer(info->max_clients));
    return object;
}

//  The oplog orderer's counts (OplogStats), or NULL; *holder_p is the
//  answer to free.
static const Cairn__OplogStatsReply *s_oplog_stats(cli_conn_t *conn, Cairn__Response **holder_p) {
    Cairn__Request ask = CAIRN__REQUEST__INIT;
    Cairn__OplogStats stats = CAIRN__OPLOG_STATS__INIT;
    ask.body_case = CAIRN__REQUEST__BODY_OPLOG_STATS;
    ask.oplog_stats = &stats;
    *holder_p = cli_call_quietly(conn, &ask);
    return *holder_p && (*holder_p)->status == CAIRN__STATUS__OK &&
                   (*holder_p)->body_case == CAIRN__RESPONSE__BODY_OPLOG_STATS
               ? (*holder_p)->oplog_stats
               : NULL;
}

//  `cairn info` asks PeerSessions and OplogStats too, for the peer network
//  and operation-log lines.
static int s_run_info(const cli_t *cli, Cairn__Request *request, void *storage, cli_conn_t *conn) {
    (void)storage;
    const char *bad = NULL;
    unsigned wanted = s_info_wanted(cli, &bad);
    if (!wanted)
        return cli_usage_error(cli,
                               "no info section '%s' (sections: server clients messages "
                               "stores writer peers oplog)",
                               bad);
    Cairn__Response *response = NULL;
    int code = cli_request(conn, request, &response);
    if (code)
        return code;
    Cairn__Request ask = CAIRN__REQUEST__INIT;
    Cairn__PeerSessions sessions = CAIRN__PEER_SESSIONS__INIT;
    ask.body_case = CAIRN__REQUEST__BODY_PEER_SESSIONS;
    ask.peer_sessions = &sessions;
    Cairn__Response *peers = cli_call_quietly(conn, &ask);
    Cairn__Response *oplog_holder = NULL;
    info_extra_t extra = {.peers = peers && peers->status == CAIRN__STATUS__OK &&
                                           peers->body_case == CAIRN__RESPONSE__BODY_PEER_SESSIONS
                                       ? peers->peer_sessions
                                       : NULL,
                          .peers_error = peers && *peers->error ? peers->error : "no answer",
                          .oplog = s_oplog_stats(conn, &oplog_holder)};
    answer_t answer = {.cli = cli, .request = request, .response = response};
    if (cli->json) {
        json_t *object = s_json_info(&answer);
        const Cairn__PeerSessionList *list = extra.peers;
        const Cairn__OplogStatsReply *oplog = extra.oplog;
        if (object)
            json_object_set_new(object, "peers",
                                list ? json_pack("{s:i, s:i, s:s}", "online", (int)list->online,
                                                 "known", (int)list->known, "endpoint",
                                                 list->endpoint)
                                     : json_null());
        if (object)
            json_object_set_new(
                object, "oplog",
                oplog ? json_pack("{s:I, s:I, s:I, s:I, s:I}", "operations",
                                  (json_int_t)oplog->operations, "logs", (json_int_t)oplog->logs,
                                  "pending", (json_int_t)oplog->pending, "ready",
                                  (json_int_t)oplog->ready, "forks", (json_int_t)oplog->forks)
                      : json_null());
        if (object)
            s_json_keep_sections(object, wanted);
        code = cli_report_ok(cli, object);
    } else
        s_print_info(&answer, &extra, wanted);
    cairn__response__free_unpacked(response, NULL);
    if (peers)
        cairn__response__free_unpacked(peers, NULL);
    if (oplog_holder)
        cairn__response__free_unpacked(oplog_holder, NULL);
    return code;
}

//  ---- health -----------------------------------------------------------------------------

//  Why the node that sent `info` is not healthy, or NULL: its writer
//  failed commits (I/O errors, a full disk), or its message store could
//  not answer Info (saturated or failed).
static const char *s_unhealthy(const Cairn__InfoReply *info, char *text, size_t size) {
    if (!info->writer) {
        snprintf(text, size, "the writer gave no statistics; see the node's log");
        return text;
    }
    if (info->writer->failed_commits) {
        snprintf(text, size,
                 "%" PRIu64 " commits failed since start (I/O errors or a full disk?); "
                 "see the node's log",
                 info->writer->failed_commits);
        return text;
    }
    if (!info->messages) {
        snprintf(text, size, "the message store did not answer (saturated or failed)");
        return text;
    }
    return NULL;
}

//  `cairn health`: exit 0 healthy, 1 unhealthy (the reason), 3 no answer.
static int s_run_health(const cli_t *cli, Cairn__Request *request, void *storage,
                        cli_conn_t *conn) {
    (void)storage;
    Cairn__Response *response = NULL;
    int code = cli_request(conn, request, &response);
    if (code)
        return code;
    const Cairn__InfoReply *info = response->info;
    char text[256];
    const char *why = s_unhealthy(info, text, sizeof text);
    if (cli->json)
        cli_report_ok(cli,
                      json_pack("{s:b, s:s?, s:I, s:s}", "healthy", !why, "reason", why, "uptime_s",
                                (json_int_t)info->uptime_s, "version", info->version));
    else if (why)
        printf("unhealthy: %s\n", why);
    else
        printf("healthy: %s serving for %" PRIu64 " s (cairnd %s)\n", cli->endpoint, info->uptime_s,
               info->version);
    cairn__response__free_unpacked(response, NULL);
    return why ? CLI_EXIT_NODE_ERROR : CLI_EXIT_OK;
}

//  ---- config get / set ------------------------------------------------------------------

static const char *s_build_config_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    Cairn__ConfigGet *get = &((node_storage_t *)storage)->config_get;
    cairn__config_get__init(get);
    get->key = cli->args[0];
    const char *fallback = cli_option(cli, "default");
    if (fallback)
        get->default_value = cli_bytes(fallback);
    request->body_case = CAIRN__REQUEST__BODY_CONFIG_GET;
    request->config_get = get;
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
    cli_json_set_bytes(object, "value", value->value);
    return object;
}

static const char *s_build_config_set(const cli_t *cli, Cairn__Request *request, void *storage) {
    Cairn__ConfigSet *set = &((node_storage_t *)storage)->config_set;
    cairn__config_set__init(set);
    set->key = cli->args[0];
    set->value = cli_bytes(cli->args[1]);
    request->body_case = CAIRN__REQUEST__BODY_CONFIG_SET;
    request->config_set = set;
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
     {{NULL, NULL, false}},
     s_build_ping,
     s_print_ping,
     s_json_ping,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PING}},
    {"info",
     NULL,
     0,
     "[SECTION...]",
     "version, uptime, peer id, counters; SECTION: server clients messages stores writer "
     "peers oplog",
     {{NULL, NULL, false}},
     s_build_info,
     NULL,
     NULL,
     NULL,
     s_run_info,
     {CAIRN__REQUEST__BODY_INFO, CAIRN__REQUEST__BODY_PEER_SESSIONS,
      CAIRN__REQUEST__BODY_OPLOG_STATS}},
    {"health",
     NULL,
     0,
     "",
     "exit 0 when the node serves and is well, 1 with the reason when not",
     {{NULL, NULL, false}},
     s_build_info,
     NULL,
     NULL,
     NULL,
     s_run_health,
     {CAIRN__REQUEST__BODY_INFO}},
    {"config",
     "get",
     1,
     "KEY",
     "print KEY's value, or V when absent (--json shows \"found\")",
     {{"default", "V", false}},
     s_build_config_get,
     s_print_config_get,
     s_json_config_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CONFIG_GET}},
    {"config",
     "set",
     2,
     "KEY VALUE",
     "store VALUE under KEY; print created/updated KEY",
     {{NULL, NULL, false}},
     s_build_config_set,
     s_print_config_set,
     s_json_config_set,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CONFIG_SET}},
};

CLI_FAMILY(node, s_commands, node_storage_t);

//  ---- reporting ------------------------------------------------------------------------------

int cli_report_error(const cli_t *cli, const char *status, const char *message, int exit_code) {
    fprintf(stderr, "cairn: %s: %s\n", status, message);
    if (cli->json) {
        json_t *object = json_pack("{s:s}", "status", status);
        cli_json_set_bytes(object, "error", cli_bytes(message));
        s_json_print(object);
    }
    return exit_code;
}

int cli_report_ok(const cli_t *cli, json_t *fields) {
    if (!fields) //  json_pack refuses text that is not UTF-8
        return cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                "the answer holds text that is not valid UTF-8",
                                CLI_EXIT_NODE_ERROR);
    json_t *object = json_pack("{s:s}", "status", ca_status_str(CA_OK));
    json_object_update_new(object, fields);
    s_json_print(object);
    return CLI_EXIT_OK;
}

int cli_usage_error(const cli_t *cli, const char *format, ...) {
    char problem[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(problem, sizeof problem, format, args);
    va_end(args);
    s_usage_error(cli, "%s", problem);
    return CLI_EXIT_USAGE;
}

//  ---- one request, one answer ------------------------------------------------------------------

//  Sends the request, prints the answer; returns the exit code.
static int s_exchange(const cli_t *cli, Cairn__Request *request, const void *storage,
                      cli_conn_t *conn) {
    int64_t started = zclock_usecs();
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    answer_t answer = {cli, request, storage, response, zclock_usecs() - started};
    if (cli->json)
        exit_code = cli_report_ok(cli, cli->command->to_json(&answer));
    else
        cli->command->print(&answer);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  Builds the request into the family's storage, connects, runs the row's
//  exchange (or its own run function), wipes the storage (a builder may
//  have put a password or a key into it); returns the exit code.
static int s_run(const cli_t *cli) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    size_t size = cli->family->storage_size;
    void *storage = calloc(1, size);
    if (!storage)
        return cli_report_error(cli, "INTERNAL", "out of memory", CLI_EXIT_NODE_ERROR);
    const char *problem = cli->command->build(cli, &request, storage);
    int exit_code = CLI_EXIT_OK;
    cli_conn_t *conn = NULL;
    if (problem) {
        s_usage_error(cli, "%s", problem);
        exit_code = CLI_EXIT_USAGE;
    } else if ((conn = cli_conn_new(cli, &exit_code)) != NULL) {
        if (cli->command->run)
            exit_code = cli->command->run(cli, &request, storage, conn);
        else
            exit_code = s_exchange(cli, &request, storage, conn);
        cli_conn_destroy(&conn);
    }
    sodium_memzero(storage, size);
    sodium_memzero(&request, sizeof request);
    free(storage);
    return exit_code;
}

//  `cairn keygen FILE`: a new CURVE key pair for --client-key, written to
//  FILE (0600, never overwritten); prints the public key for the node's
//  allow-list. Needs no node.
static int s_keygen(int argc, char **argv) {
    if (argc != 3 || argv[2][0] == '-') {
        fprintf(stderr, "cairn: usage: cairn keygen FILE  (writes a CURVE key pair to FILE, "
                        "prints its public key)\n");
        return CLI_EXIT_USAGE;
    }
    ca_curve_key_t key;
    ca_curve_key_generate(&key);
    char *error = NULL;
    int rc = ca_curve_key_save(&key, argv[2], &error);
    char z85[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key.public_key, z85);
    ca_curve_key_wipe(&key);
    if (rc != 0) {
        fprintf(stderr, "cairn: io: %s\n", error);
        free(error);
        return CLI_EXIT_NODE_ERROR;
    }
    printf("%s\n", z85);
    fprintf(stderr,
            "cairn: wrote the key pair to %s (keep it secret); add the public key above to "
            "the node's DATA_DIR/curve/clients, then connect with --client-key %s "
            "--server-key KEY (KEY from cairnd server-key)\n",
            argv[2], argv[2]);
    return CLI_EXIT_OK;
}

//  `cairn key new FILE` / `cairn key show FILE`: an Ed25519 signing key
//  for --key-file (msg send, oplog append, ledger pay), written as
//  libsodium's 64-byte secret key in 128 hex digits (0600, never
//  overwritten); both print its public key, which is the signer's peer id
//  (the node must know it: cairn peer add). Needs no node.
static int s_key(int argc, char **argv) {
    bool make = argc == 4 && streq(argv[2], "new");
    if (!(make || (argc == 4 && streq(argv[2], "show"))) || argv[3][0] == '-') {
        fprintf(stderr, "cairn: usage: cairn key new FILE | cairn key show FILE  (an Ed25519 "
                        "signing key for --key-file; prints its public key)\n");
        return CLI_EXIT_USAGE;
    }
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret[crypto_sign_SECRETKEYBYTES];
    char *error = NULL;
    const char *problem = NULL;
    if (make) {
        crypto_sign_keypair(public_key, secret);
        char text[2 * crypto_sign_SECRETKEYBYTES + 2];
        sodium_bin2hex(text, sizeof text - 1, secret, sizeof secret);
        strcat(text, "\n");
        if (ca_secret_file_write(argv[3], text, &error) != 0)
            problem = error;
        sodium_memzero(text, sizeof text);
    } else {
        problem = cli_load_secret_key(argv[3], secret);
        memcpy(public_key, secret + crypto_sign_SEEDBYTES, sizeof public_key);
    }
    sodium_memzero(secret, sizeof secret);
    if (problem) {
        fprintf(stderr, "cairn: io: %s\n", problem);
        free(error);
        return CLI_EXIT_NODE_ERROR;
    }
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    sodium_bin2hex(hex, sizeof hex, public_key, sizeof public_key);
    printf("%s\n", hex);
    if (make)
        fprintf(stderr,
                "cairn: wrote an Ed25519 signing key to %s (keep it secret); its public key "
                "above is the signer's peer id: add it to the node (cairn peer add HEX --key "
                "HEX --address IP --port N), then sign with --key-file %s\n",
                argv[3], argv[3]);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    //  Ctrl-C should end a waiting client at once, not be turned into a
    //  flag that CZMQ's pollers report.
    zsys_handler_set(NULL);
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return CLI_EXIT_NODE_ERROR;
    }
    if (argc > 1 && streq(argv[1], "keygen"))
        return s_keygen(argc, argv);
    if (argc > 1 && streq(argv[1], "key"))
        return s_key(argc, argv);
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

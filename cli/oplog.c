/*  =========================================================================
    oplog - the `cairn` client's operation-log commands

        command          requests                    printed
        ---------------  --------------------------  ------------------------------
        oplog append     OplogLatest, OplogAppend    hash, seq, held / already had
        oplog get        OplogGet                    the entry
        oplog has        OplogHas                    present / absent
        oplog latest     OplogLatest                 the entry (header)
        oplog heights    OplogHeights                one line per log
        oplog size       OplogSize                   operations and bytes
        oplog range      OplogRange                  one line per entry
        oplog prune      OplogPrune                  removed count
        oplog erase      OplogErase                  erased or not
        oplog forks      OplogForks                  one line per header
        oplog pending    OplogPending                one line per held operation
        oplog take       OplogTake                   one line per entry
        oplog stats      OplogStats                  the counts
        oplog subscribe  OplogSubscribe, pushes      one line per operation
                         (cli/subscribe.c)

    `append` signs with a key file (libsodium's 64-byte Ed25519 secret
    key, raw or 128 hex digits, as `cairn msg send --key-file`): it asks
    the log's latest entry, fills seq and backlink from it, signs the
    canonical header (actors/wire/oplog_encoding.c, the node's own code)
    and sends it. Authors and hashes are 64 hex digits. JSON: hashes and
    keys as hex, bodies as text when UTF-8 (else body_base64).
    ========================================================================= */

#include "blob.h"
#include "ca_clock.h"
#include "ca_status.h"
#include "oplog_encoding.h"

#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The node's page limits (actors/oplog.h), for the option checks here.
#define OPLOG_PAGE_MAX    1000
#define OPLOG_HEIGHTS_MAX 10000

//  ---- the family's storage ---------------------------------------------------------

typedef struct {
    union {
        Cairn__OplogAppend append;
        Cairn__OplogGet get;
        Cairn__OplogHas has;
        Cairn__OplogLatest latest;
        Cairn__OplogHeights heights;
        Cairn__OplogSize size;
        Cairn__OplogRange range;
        Cairn__OplogPrune prune;
        Cairn__OplogErase erase;
        Cairn__OplogForks forks;
        Cairn__OplogPending pending;
        Cairn__OplogTake take;
        Cairn__OplogStats stats;
        Cairn__OplogSubscribe subscribe;
    } body;
    uint8_t topic[CA_HASH_BYTES];
    Cairn__OpHeader header;
    uint8_t author[CA_HASH_BYTES];
    uint8_t hash[CA_HASH_BYTES];
    uint8_t signature[OPLOG_SIGNATURE_BYTES];
    uint8_t payload_hash[CA_HASH_BYTES];
    uint8_t backlink[CA_HASH_BYTES];
    uint8_t previous[CLI_VALUES_MAX][CA_HASH_BYTES];
    ProtobufCBinaryData previous_fields[CLI_VALUES_MAX];
    uint8_t extensions[2 * OPLOG_EXTENSIONS_MAX];
    uint8_t body_bytes[OPLOG_BODY_MAX + 1];
} oplog_storage_t;

//  ---- values ----------------------------------------------------------------------------

static const char *s_parse_limit(const cli_t *cli, uint32_t most, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    *limit = 0;
    return text ? cli_parse_u32(text, "--limit", 1, most, limit) : NULL;
}

static const char *s_parse_u64_option(const cli_t *cli, const char *name, const char *what,
                                      uint64_t *value) {
    const char *text = cli_option(cli, name);
    *value = 0;
    return text ? cli_parse_u64(text, what, 0, INT64_MAX, value) : NULL;
}

static const char *s_parse_log(const cli_t *cli, int first, oplog_storage_t *oplog,
                               uint64_t *log_id) {
    const char *problem = cli_parse_hash(cli->args[first], "AUTHOR", oplog->author);
    return problem ? problem : cli_parse_u64(cli->args[first + 1], "LOG_ID", 0, INT64_MAX, log_id);
}

static ProtobufCBinaryData s_author(oplog_storage_t *oplog) {
    return (ProtobufCBinaryData){CA_HASH_BYTES, oplog->author};
}

//  ---- printing entries ----------------------------------------------------------------

static void s_print_entry(const Cairn__OplogEntry *entry) {
    const Cairn__OpHeader *header = entry->header;
    if (!header)
        return;
    char time[CLI_TIME_TEXT];
    cli_format_time((double)header->timestamp_us / 1e6, time, sizeof time);
    printf("%-8" PRIu64 "  ", header->seq);
    cli_print_hex(entry->hash);
    printf("  %s  %" PRIu64 " B%s%s\n", time, header->payload_size,
           entry->erased ? "  (body erased)" : "", header->n_previous ? "  (has previous)" : "");
}

static void s_print_entry_full(const Cairn__OplogEntry *entry) {
    const Cairn__OpHeader *header = entry->header;
    printf("hash         ");
    cli_print_hex(entry->hash);
    printf("\nauthor       ");
    cli_print_hex(header->author);
    printf("\nlog          %" PRIu64 "\nseq          %" PRIu64 "\n", header->log_id, header->seq);
    cli_print_field_time("time", (double)header->timestamp_us / 1e6);
    printf("payload      %" PRIu64 " bytes, hash ", header->payload_size);
    cli_print_hex(header->payload_hash);
    printf("\nbacklink     ");
    cli_print_hex(header->backlink);
    for (size_t i = 0; i < header->n_previous; i++) {
        printf("\nprevious     ");
        cli_print_hex(header->previous[i]);
    }
    printf("\nextensions   %zu bytes\n", header->extensions.len);
    if (entry->erased)
        puts("body         (erased)");
    else if (entry->has_body) {
        printf("body         ");
        cli_print_inline(entry->body);
        printf("\n");
    }
}

static json_t *s_json_header(const Cairn__OpHeader *header) {
    json_t *object = json_object();
    json_object_set_new(object, "version", json_integer(header->version));
    cli_json_set_hex(object, "author", header->author);
    cli_json_set_hex(object, "signature", header->signature);
    json_object_set_new(object, "log_id", cli_json_u64(header->log_id));
    json_object_set_new(object, "seq", cli_json_u64(header->seq));
    json_object_set_new(object, "timestamp_us", cli_json_u64(header->timestamp_us));
    json_object_set_new(object, "payload_size", cli_json_u64(header->payload_size));
    cli_json_set_hex(object, "payload_hash", header->payload_hash);
    cli_json_set_hex(object, "backlink", header->backlink);
    json_t *previous = json_array();
    for (size_t i = 0; i < header->n_previous; i++) {
        json_t *item = json_object();
        cli_json_set_hex(item, "hash", header->previous[i]);
        json_array_append_new(previous, json_incref(json_object_get(item, "hash")));
        json_decref(item);
    }
    json_object_set_new(object, "previous", previous);
    cli_json_set_hex(object, "extensions", header->extensions);
    return object;
}

static json_t *s_json_entry(const Cairn__OplogEntry *entry) {
    json_t *object = json_object();
    cli_json_set_hex(object, "hash", entry->hash);
    if (entry->header)
        json_object_set_new(object, "header", s_json_header(entry->header));
    json_object_set_new(object, "has_body", json_boolean(entry->has_body));
    json_object_set_new(object, "erased", json_boolean(entry->erased));
    if (entry->has_body)
        cli_json_set_bytes(object, "body", entry->body);
    return object;
}

static json_t *s_json_entries(Cairn__OplogEntry **entries, size_t count) {
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, s_json_entry(entries[i]));
    return array;
}

//  ---- oplog append ----------------------------------------------------------------------

static const char *s_build_append(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    uint64_t log_id = 0, timestamp = 0;
    const char *problem = cli_parse_u64(cli->args[0], "LOG_ID", 0, INT64_MAX, &log_id);
    const char *text = cli_option(cli, "body"), *file = cli_option(cli, "body-file");
    size_t body_size = 0;
    if (!problem && text && file)
        problem = "give --body or --body-file, not both";
    else if (!problem && text) {
        body_size = strlen(text);
        if (body_size > OPLOG_BODY_MAX)
            problem = cli_problem("--body is over %d bytes", OPLOG_BODY_MAX);
        else
            memcpy(oplog->body_bytes, text, body_size);
    } else if (!problem && file)
        problem = cli_read_file(file, "--body-file", oplog->body_bytes, OPLOG_BODY_MAX, &body_size);
    if (!problem)
        problem = s_parse_u64_option(cli, "timestamp-us", "--timestamp-us", &timestamp);
    size_t count = 0;
    char *const *previous = cli_option_list(cli, "previous", &count);
    if (!problem && count)
        problem = cli_parse_hash_list(previous, count, "--previous", oplog->previous,
                                      oplog->previous_fields);
    const char *extensions = cli_option(cli, "extensions-hex");
    size_t extensions_size = 0;
    if (!problem && extensions)
        problem = cli_parse_hex(extensions, "--extensions-hex", oplog->extensions,
                                sizeof oplog->extensions, &extensions_size);
    //  The node wants previous sorted: sort them here.
    for (size_t i = 1; i < count; i++)
        for (size_t k = i;
             k > 0 && memcmp(oplog->previous[k - 1], oplog->previous[k], CA_HASH_BYTES) > 0; k--) {
            uint8_t swap[CA_HASH_BYTES];
            memcpy(swap, oplog->previous[k], CA_HASH_BYTES);
            memcpy(oplog->previous[k], oplog->previous[k - 1], CA_HASH_BYTES);
            memcpy(oplog->previous[k - 1], swap, CA_HASH_BYTES);
        }
    Cairn__OpHeader *header = &oplog->header;
    cairn__op_header__init(header);
    header->version = OPLOG_VERSION;
    header->log_id = log_id;
    header->timestamp_us = timestamp ? timestamp : (uint64_t)(ca_now_seconds() * 1e6);
    header->payload_size = body_size;
    oplog_payload_hash(oplog->body_bytes, body_size, oplog->payload_hash);
    header->payload_hash = (ProtobufCBinaryData){CA_HASH_BYTES, oplog->payload_hash};
    header->signature = (ProtobufCBinaryData){OPLOG_SIGNATURE_BYTES, oplog->signature};
    header->n_previous = count;
    header->previous = count ? oplog->previous_fields : NULL;
    header->extensions = (ProtobufCBinaryData){extensions_size, oplog->extensions};
    Cairn__OplogAppend *append = &oplog->body.append;
    cairn__oplog_append__init(append);
    append->header = header;
    append->has_body = !cli_option(cli, "header-only");
    if (append->has_body)
        append->body = (ProtobufCBinaryData){body_size, oplog->body_bytes};
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_APPEND;
    request->oplog_append = append;
    return problem;
}

//  Loads the key, asks the log's latest, fills seq and backlink, signs.
static int s_prepare_append(const cli_t *cli, oplog_storage_t *oplog, cli_conn_t *conn) {
    uint8_t key[crypto_sign_SECRETKEYBYTES];
    const char *problem = cli_load_secret_key(cli_option(cli, "key-file"), key);
    if (problem) {
        sodium_memzero(key, sizeof key);
        return cli_usage_error(cli, "%s", problem);
    }
    memcpy(oplog->author, key + crypto_sign_SEEDBYTES, CA_HASH_BYTES);
    Cairn__OpHeader *header = &oplog->header;
    header->author = s_author(oplog);
    oplog->body.append.author = s_author(oplog);
    Cairn__Request latest_request = CAIRN__REQUEST__INIT;
    Cairn__OplogLatest latest = CAIRN__OPLOG_LATEST__INIT;
    latest.author = s_author(oplog);
    latest.log_id = header->log_id;
    latest_request.body_case = CAIRN__REQUEST__BODY_OPLOG_LATEST;
    latest_request.oplog_latest = &latest;
    Cairn__Response *response = cli_call_quietly(conn, &latest_request);
    int exit_code = CLI_EXIT_OK;
    if (!response)
        exit_code = cli_report_error(cli, "UNREACHABLE", "no answer to the latest-entry question",
                                     CLI_EXIT_UNREACHABLE);
    else if (response->status == CAIRN__STATUS__OK && response->oplog_latest &&
             response->oplog_latest->header && response->oplog_latest->hash.len == CA_HASH_BYTES) {
        header->seq = response->oplog_latest->header->seq + 1;
        memcpy(oplog->backlink, response->oplog_latest->hash.data, CA_HASH_BYTES);
        header->backlink = (ProtobufCBinaryData){CA_HASH_BYTES, oplog->backlink};
    } else if (response->status == CAIRN__STATUS__NOT_FOUND)
        header->seq = 0;
    else
        exit_code = cli_report_error(cli, ca_status_str((ca_status_t)response->status),
                                     response->error, CLI_EXIT_NODE_ERROR);
    if (response)
        cairn__response__free_unpacked(response, NULL);
    if (exit_code == CLI_EXIT_OK) {
        problem = oplog_header_problem(header);
        if (problem || !oplog_header_sign(header, key, oplog->hash))
            exit_code = cli_usage_error(cli, "%s", problem ? problem : "cannot sign the header");
    }
    sodium_memzero(key, sizeof key);
    return exit_code;
}

static void s_print_append(const answer_t *answer) {
    const Cairn__OplogAppended *appended = answer->response->oplog_append;
    const Cairn__OpHeader *header = answer->request->oplog_append->header;
    printf("%s seq %" PRIu64 " ", appended->already_had ? "already had" : "appended", header->seq);
    cli_print_hex(appended->hash);
    printf("%s\n", appended->held ? " (held: waiting for a previous operation)" : "");
}

static json_t *s_json_append(const answer_t *answer) {
    const Cairn__OplogAppended *appended = answer->response->oplog_append;
    json_t *object = json_object();
    cli_json_set_hex(object, "hash", appended->hash);
    json_object_set_new(object, "seq", cli_json_u64(answer->request->oplog_append->header->seq));
    json_object_set_new(object, "already_had", json_boolean(appended->already_had));
    json_object_set_new(object, "held", json_boolean(appended->held));
    return object;
}

static int s_run_append(const cli_t *cli, Cairn__Request *request, void *storage,
                        cli_conn_t *conn) {
    int exit_code = s_prepare_append(cli, storage, conn);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__Response *response = NULL;
    exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    answer_t answer = {.cli = cli, .request = request, .storage = storage, .response = response};
    if (cli->json)
        exit_code = cli_report_ok(cli, s_json_append(&answer));
    else
        s_print_append(&answer);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- oplog get, has, latest ----------------------------------------------------------------

static const char *s_build_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", oplog->hash);
    Cairn__OplogGet *get = &oplog->body.get;
    cairn__oplog_get__init(get);
    get->hash = (ProtobufCBinaryData){CA_HASH_BYTES, oplog->hash};
    get->header_only = cli_option(cli, "header-only") != NULL;
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_GET;
    request->oplog_get = get;
    return problem;
}

static void s_print_get(const answer_t *answer) {
    s_print_entry_full(answer->response->oplog_get);
}

static json_t *s_json_get(const answer_t *answer) {
    return s_json_entry(answer->response->oplog_get);
}

static const char *s_build_has(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", oplog->hash);
    Cairn__OplogHas *has = &oplog->body.has;
    cairn__oplog_has__init(has);
    has->hash = (ProtobufCBinaryData){CA_HASH_BYTES, oplog->hash};
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_HAS;
    request->oplog_has = has;
    return problem;
}

static void s_print_has(const answer_t *answer) {
    puts(answer->response->oplog_has->present ? "present" : "absent");
}

static json_t *s_json_has(const answer_t *answer) {
    return json_pack("{s:b}", "present", answer->response->oplog_has->present);
}

static const char *s_build_latest(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    uint64_t log_id = 0;
    const char *problem = s_parse_log(cli, 0, oplog, &log_id);
    Cairn__OplogLatest *latest = &oplog->body.latest;
    cairn__oplog_latest__init(latest);
    latest->author = s_author(oplog);
    latest->log_id = log_id;
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_LATEST;
    request->oplog_latest = latest;
    return problem;
}

static void s_print_latest(const answer_t *answer) {
    s_print_entry_full(answer->response->oplog_latest);
}

static json_t *s_json_latest(const answer_t *answer) {
    return s_json_entry(answer->response->oplog_latest);
}

//  ---- oplog heights, size, range ----------------------------------------------------------------

static const char *s_build_heights(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogHeights *heights = &oplog->body.heights;
    cairn__oplog_heights__init(heights);
    const char *problem = cli_parse_hash(cli->args[0], "AUTHOR", oplog->author);
    if (!problem)
        problem = s_parse_limit(cli, OPLOG_HEIGHTS_MAX, &heights->limit);
    if (!problem)
        problem = s_parse_u64_option(cli, "after", "--after", &heights->after_log_id);
    heights->has_after = cli_option(cli, "after") != NULL;
    heights->author = s_author(oplog);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_HEIGHTS;
    request->oplog_heights = heights;
    return problem;
}

static void s_print_heights(const answer_t *answer) {
    const Cairn__OplogHeightsReply *page = answer->response->oplog_heights;
    if (!page->n_logs) {
        puts("no logs");
        return;
    }
    printf("%-20s  %-20s  %s\n", "LOG", "LATEST SEQ", "OPERATIONS");
    for (size_t i = 0; i < page->n_logs; i++)
        printf("%-20" PRIu64 "  %-20" PRIu64 "  %" PRIu64 "\n", page->logs[i]->log_id,
               page->logs[i]->latest_seq, page->logs[i]->operations);
    if (page->more)
        printf("more: --after %" PRIu64 "\n", page->logs[page->n_logs - 1]->log_id);
}

static json_t *s_json_heights(const answer_t *answer) {
    const Cairn__OplogHeightsReply *page = answer->response->oplog_heights;
    json_t *logs = json_array();
    for (size_t i = 0; i < page->n_logs; i++)
        json_array_append_new(logs, json_pack("{s:o,s:o,s:o}", "log_id",
                                              cli_json_u64(page->logs[i]->log_id), "latest_seq",
                                              cli_json_u64(page->logs[i]->latest_seq), "operations",
                                              cli_json_u64(page->logs[i]->operations)));
    return json_pack("{s:o,s:b}", "logs", logs, "more", page->more);
}

static const char *s_build_size(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogSize *size = &oplog->body.size;
    cairn__oplog_size__init(size);
    const char *problem = s_parse_log(cli, 0, oplog, &size->log_id);
    if (!problem)
        problem = s_parse_u64_option(cli, "from", "--from", &size->from_seq);
    if (!problem)
        problem = s_parse_u64_option(cli, "until", "--until", &size->until_seq);
    size->author = s_author(oplog);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_SIZE;
    request->oplog_size = size;
    return problem;
}

static void s_print_size(const answer_t *answer) {
    printf("%" PRIu64 " operations, %" PRIu64 " bytes\n", answer->response->oplog_size->operations,
           answer->response->oplog_size->bytes);
}

static json_t *s_json_size(const answer_t *answer) {
    return json_pack("{s:o,s:o}", "operations",
                     cli_json_u64(answer->response->oplog_size->operations), "bytes",
                     cli_json_u64(answer->response->oplog_size->bytes));
}

static const char *s_build_range(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogRange *range = &oplog->body.range;
    cairn__oplog_range__init(range);
    const char *problem = s_parse_log(cli, 0, oplog, &range->log_id);
    if (!problem)
        problem = s_parse_u64_option(cli, "from", "--from", &range->from_seq);
    if (!problem)
        problem = s_parse_u64_option(cli, "until", "--until", &range->until_seq);
    if (!problem)
        problem = s_parse_limit(cli, OPLOG_PAGE_MAX, &range->limit);
    range->with_bodies = cli_option(cli, "bodies") != NULL;
    range->author = s_author(oplog);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_RANGE;
    request->oplog_range = range;
    return problem;
}

static void s_print_range(const answer_t *answer) {
    const Cairn__OplogPage *page = answer->response->oplog_range;
    if (!page->n_entries)
        puts("no entries");
    for (size_t i = 0; i < page->n_entries; i++)
        s_print_entry(page->entries[i]);
    if (page->more)
        printf("more: --from %" PRIu64 "\n", page->next_seq);
}

static json_t *s_json_range(const answer_t *answer) {
    const Cairn__OplogPage *page = answer->response->oplog_range;
    return json_pack("{s:o,s:b,s:o}", "entries", s_json_entries(page->entries, page->n_entries),
                     "more", page->more, "next_seq", cli_json_u64(page->next_seq));
}

//  ---- oplog prune, erase
//  --------------------------------------------------------------------------

static const char *s_build_prune(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogPrune *prune = &oplog->body.prune;
    cairn__oplog_prune__init(prune);
    const char *problem = s_parse_log(cli, 0, oplog, &prune->log_id);
    if (!problem)
        problem = cli_parse_u64(cli->args[2], "BELOW_SEQ", 0, INT64_MAX, &prune->below_seq);
    prune->author = s_author(oplog);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_PRUNE;
    request->oplog_prune = prune;
    return problem;
}

static void s_print_prune(const answer_t *answer) {
    printf("removed %" PRIu64 " operations\n", answer->response->oplog_prune->removed);
}

static json_t *s_json_prune(const answer_t *answer) {
    return json_pack("{s:o}", "removed", cli_json_u64(answer->response->oplog_prune->removed));
}

static const char *s_build_erase(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", oplog->hash);
    Cairn__OplogErase *erase = &oplog->body.erase;
    cairn__oplog_erase__init(erase);
    erase->hash = (ProtobufCBinaryData){CA_HASH_BYTES, oplog->hash};
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_ERASE;
    request->oplog_erase = erase;
    return problem;
}

static void s_print_erase(const answer_t *answer) {
    puts(answer->response->oplog_erase->erased ? "body erased (the header stays)"
                                               : "no body to erase (the header stays)");
}

static json_t *s_json_erase(const answer_t *answer) {
    return json_pack("{s:b}", "erased", answer->response->oplog_erase->erased);
}

//  ---- oplog forks, pending, take, stats
//  ------------------------------------------------------------

static const char *s_build_forks(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogForks *forks = &oplog->body.forks;
    cairn__oplog_forks__init(forks);
    const char *problem = cli_parse_hash(cli->args[0], "AUTHOR", oplog->author);
    if (!problem)
        problem = s_parse_u64_option(cli, "log", "--log", &forks->log_id);
    forks->has_log_id = cli_option(cli, "log") != NULL;
    if (!problem)
        problem = s_parse_limit(cli, OPLOG_PAGE_MAX, &forks->limit);
    if (!problem)
        problem = s_parse_u64_option(cli, "after", "--after", &forks->after);
    forks->author = s_author(oplog);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_FORKS;
    request->oplog_forks = forks;
    return problem;
}

static void s_print_forks(const answer_t *answer) {
    const Cairn__OplogForkPage *page = answer->response->oplog_forks;
    if (!page->n_forks) {
        puts("no forks");
        return;
    }
    printf("%-20s  %-20s  %s\n", "LOG", "SEQ", "HASH");
    for (size_t i = 0; i < page->n_forks; i++) {
        printf("%-20" PRIu64 "  %-20" PRIu64 "  ", page->forks[i]->header->log_id,
               page->forks[i]->header->seq);
        cli_print_hex(page->forks[i]->hash);
        printf("\n");
    }
    if (page->more)
        printf("more: --after %" PRIu64 "\n", page->next_after);
}

static json_t *s_json_forks(const answer_t *answer) {
    const Cairn__OplogForkPage *page = answer->response->oplog_forks;
    json_t *forks = json_array();
    for (size_t i = 0; i < page->n_forks; i++) {
        json_t *fork = json_object();
        cli_json_set_hex(fork, "hash", page->forks[i]->hash);
        json_object_set_new(fork, "header", s_json_header(page->forks[i]->header));
        json_object_set_new(fork, "seen_us", cli_json_u64(page->forks[i]->seen_us));
        json_array_append_new(forks, fork);
    }
    return json_pack("{s:o,s:b,s:o}", "forks", forks, "more", page->more, "next_after",
                     cli_json_u64(page->next_after));
}

static const char *s_build_pending(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogPending *pending = &oplog->body.pending;
    cairn__oplog_pending__init(pending);
    const char *problem = s_parse_limit(cli, OPLOG_PAGE_MAX, &pending->limit);
    if (!problem)
        problem = s_parse_u64_option(cli, "after", "--after", &pending->after);
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_PENDING;
    request->oplog_pending = pending;
    return problem;
}

static void s_print_pending(const answer_t *answer) {
    const Cairn__OplogPendingPage *page = answer->response->oplog_pending;
    if (!page->n_held) {
        puts("nothing held");
        return;
    }
    for (size_t i = 0; i < page->n_held; i++) {
        const Cairn__HeldOperation *held = page->held[i];
        cli_print_hex(held->hash);
        printf("  log %" PRIu64 " seq %" PRIu64 ", waiting for %zu:\n", held->log_id, held->seq,
               held->n_waiting_for);
        for (size_t k = 0; k < held->n_waiting_for; k++) {
            printf("    ");
            cli_print_hex(held->waiting_for[k]);
            printf("\n");
        }
    }
    if (page->more)
        printf("more: --after %" PRIu64 "\n", page->next_after);
}

static json_t *s_json_pending(const answer_t *answer) {
    const Cairn__OplogPendingPage *page = answer->response->oplog_pending;
    json_t *held_list = json_array();
    for (size_t i = 0; i < page->n_held; i++) {
        const Cairn__HeldOperation *held = page->held[i];
        json_t *item = json_object();
        cli_json_set_hex(item, "hash", held->hash);
        cli_json_set_hex(item, "author", held->author);
        json_object_set_new(item, "log_id", cli_json_u64(held->log_id));
        json_object_set_new(item, "seq", cli_json_u64(held->seq));
        json_object_set_new(item, "held_since_us", cli_json_u64(held->held_since_us));
        json_t *waiting = json_array();
        for (size_t k = 0; k < held->n_waiting_for; k++) {
            json_t *hex = json_object();
            cli_json_set_hex(hex, "hash", held->waiting_for[k]);
            json_array_append_new(waiting, json_incref(json_object_get(hex, "hash")));
            json_decref(hex);
        }
        json_object_set_new(item, "waiting_for", waiting);
        json_array_append_new(held_list, item);
    }
    return json_pack("{s:o,s:b,s:o}", "held", held_list, "more", page->more, "next_after",
                     cli_json_u64(page->next_after));
}

static const char *s_build_take(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogTake *take = &oplog->body.take;
    cairn__oplog_take__init(take);
    take->consumer = cli->args[0];
    const char *problem = s_parse_limit(cli, OPLOG_PAGE_MAX, &take->limit);
    take->with_bodies = cli_option(cli, "bodies") != NULL;
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_TAKE;
    request->oplog_take = take;
    return problem;
}

static void s_print_take(const answer_t *answer) {
    const Cairn__OplogTaken *taken = answer->response->oplog_take;
    if (!taken->n_entries)
        puts("nothing ready");
    for (size_t i = 0; i < taken->n_entries; i++)
        s_print_entry(taken->entries[i]);
}

static json_t *s_json_take(const answer_t *answer) {
    const Cairn__OplogTaken *taken = answer->response->oplog_take;
    return json_pack("{s:o,s:o}", "entries", s_json_entries(taken->entries, taken->n_entries),
                     "position", cli_json_u64(taken->position));
}

static const char *s_build_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogStats *stats = &oplog->body.stats;
    cairn__oplog_stats__init(stats);
    const char *consumer = cli_option(cli, "consumer");
    stats->consumer = (char *)(consumer ? consumer : "");
    cairn__request__init(request);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_STATS;
    request->oplog_stats = stats;
    return NULL;
}

static void s_print_stats(const answer_t *answer) {
    const Cairn__OplogStatsReply *stats = answer->response->oplog_stats;
    printf("operations   %" PRIu64 "\nlogs         %" PRIu64 "\npending      %" PRIu64
           "\nready        %" PRIu64 "\nforks        %" PRIu64 "\n",
           stats->operations, stats->logs, stats->pending, stats->ready, stats->forks);
    if (*answer->request->oplog_stats->consumer)
        printf("not taken    %" PRIu64 "\n", stats->ready_for_consumer);
}

static json_t *s_json_stats(const answer_t *answer) {
    const Cairn__OplogStatsReply *stats = answer->response->oplog_stats;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "operations", cli_json_u64(stats->operations),
                     "logs", cli_json_u64(stats->logs), "pending", cli_json_u64(stats->pending),
                     "ready", cli_json_u64(stats->ready), "forks", cli_json_u64(stats->forks),
                     "ready_for_consumer", cli_json_u64(stats->ready_for_consumer));
}

static const char s_append_details[] =
    "Signs an operation with the key file's Ed25519 key (libsodium's 64-byte secret key,\n"
    "raw or 128 hex digits) and appends it to log LOG_ID of that key: the latest entry is\n"
    "asked first, so seq and backlink are filled in. --previous names causal dependencies\n"
    "(the node's orderer holds the operation until they are there).\n";

//  ---- oplog subscribe -------------------------------------------------------------

static const char *s_build_subscribe(const cli_t *cli, Cairn__Request *request, void *storage) {
    oplog_storage_t *oplog = storage;
    Cairn__OplogSubscribe *subscribe = &oplog->body.subscribe;
    cairn__oplog_subscribe__init(subscribe);
    size_t length = 0;
    const char *problem =
        cli_parse_hex(cli->args[0], "TOPIC", oplog->topic, CA_HASH_BYTES, &length);
    if (!problem && length != CA_HASH_BYTES)
        problem = "TOPIC must be 64 hex digits (32 bytes)";
    subscribe->topic = (ProtobufCBinaryData){length, oplog->topic};
    subscribe->lease_ms = CLI_SUBSCRIBE_LEASE_MS;
    if (!problem)
        problem = cli_subscribe_from(cli, "cursor", &subscribe->after, &subscribe->from_now);
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE;
    request->oplog_subscribe = subscribe;
    return problem;
}

static uint64_t s_print_pushed(const cli_t *cli, const Cairn__Response *response, size_t index) {
    const Cairn__SubscribedOp *item = response->oplog_subscribe->ops[index];
    if (cli->json) {
        json_t *object = s_json_entry(item->entry);
        json_object_set_new(object, "position", cli_json_u64(item->position));
        json_dumpf(object, stdout, JSON_COMPACT);
        json_decref(object);
        printf("\n");
    } else {
        printf("%" PRIu64 "\t", item->position);
        if (item->entry->header) {
            cli_print_hex(item->entry->header->author);
            printf("\t%" PRIu64 "\t", item->entry->header->log_id);
        }
        s_print_entry(item->entry);
    }
    return item->position;
}

static int s_run_subscribe(const cli_t *cli, Cairn__Request *request, void *storage,
                           cli_conn_t *conn) {
    (void)storage;
    return cli_subscribe_run(cli, request, conn, "--cursor", s_print_pushed);
}

static const char s_subscribe_details[] =
    "Prints the operations of the logs associated with TOPIC (64 hex digits) as they\n"
    "are committed, one per line (position, author, log, then as `oplog range`;\n"
    "--json: one entry per line with \"position\"), until --count operations or\n"
    "Ctrl-C. Without --cursor it starts from now; --cursor N prints every operation\n"
    "with a larger position first. At the end it prints the cursor on stderr:\n"
    "`--cursor` it to resume without a gap or a repeat.\n";

//  ---- the table -------------------------------------------------------------------------

#define NO_OPTIONS                                                                                 \
    {                                                                                              \
        { NULL, NULL, false }                                                                      \
    }

static const command_t s_rows[] = {
    {"oplog",
     "append",
     1,
     "LOG_ID",
     "sign and append an operation to one of your logs",
     {{"key-file", "FILE", true},
      {"body", "TEXT", false},
      {"body-file", "FILE", false},
      {"header-only", NULL, false},
      {"previous", "HASH...", false},
      {"extensions-hex", "HEX", false},
      {"timestamp-us", "N", false},
      {NULL, NULL, false}},
     s_build_append,
     NULL,
     NULL,
     s_append_details,
     s_run_append,
     {CAIRN__REQUEST__BODY_OPLOG_LATEST, CAIRN__REQUEST__BODY_OPLOG_APPEND}},
    {"oplog",
     "get",
     1,
     "HASH",
     "an operation by hash",
     {{"header-only", NULL, false}, {NULL, NULL, false}},
     s_build_get,
     s_print_get,
     s_json_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_GET}},
    {"oplog",
     "has",
     1,
     "HASH",
     "whether an operation is stored",
     NO_OPTIONS,
     s_build_has,
     s_print_has,
     s_json_has,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_HAS}},
    {"oplog",
     "latest",
     2,
     "AUTHOR LOG_ID",
     "the latest entry of a log",
     NO_OPTIONS,
     s_build_latest,
     s_print_latest,
     s_json_latest,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_LATEST}},
    {"oplog",
     "heights",
     1,
     "AUTHOR",
     "the latest seq of each of an author's logs",
     {{"limit", "N", false}, {"after", "LOG_ID", false}, {NULL, NULL, false}},
     s_build_heights,
     s_print_heights,
     s_json_heights,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_HEIGHTS}},
    {"oplog",
     "size",
     2,
     "AUTHOR LOG_ID",
     "operations and bytes of a log (a seq range)",
     {{"from", "SEQ", false}, {"until", "SEQ", false}, {NULL, NULL, false}},
     s_build_size,
     s_print_size,
     s_json_size,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_SIZE}},
    {"oplog",
     "range",
     2,
     "AUTHOR LOG_ID",
     "a log's entries by seq, a page at a time",
     {{"from", "SEQ", false},
      {"until", "SEQ", false},
      {"limit", "N", false},
      {"bodies", NULL, false},
      {NULL, NULL, false}},
     s_build_range,
     s_print_range,
     s_json_range,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_RANGE}},
    {"oplog",
     "prune",
     3,
     "AUTHOR LOG_ID BELOW_SEQ",
     "remove a log's entries below a seq (the latest stays)",
     NO_OPTIONS,
     s_build_prune,
     s_print_prune,
     s_json_prune,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_PRUNE}},
    {"oplog",
     "erase",
     1,
     "HASH",
     "drop an operation's body, keeping its header",
     NO_OPTIONS,
     s_build_erase,
     s_print_erase,
     s_json_erase,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_ERASE}},
    {"oplog",
     "forks",
     1,
     "AUTHOR",
     "fork evidence: headers that claimed a taken seq",
     {{"log", "LOG_ID", false}, {"limit", "N", false}, {"after", "N", false}, {NULL, NULL, false}},
     s_build_forks,
     s_print_forks,
     s_json_forks,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_FORKS}},
    {"oplog",
     "pending",
     0,
     "",
     "operations the orderer holds, with what they wait for",
     {{"limit", "N", false}, {"after", "N", false}, {NULL, NULL, false}},
     s_build_pending,
     s_print_pending,
     s_json_pending,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_PENDING}},
    {"oplog",
     "take",
     1,
     "CONSUMER",
     "take the next released operations in causal order",
     {{"limit", "N", false}, {"bodies", NULL, false}, {NULL, NULL, false}},
     s_build_take,
     s_print_take,
     s_json_take,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_TAKE}},
    {"oplog",
     "stats",
     0,
     "",
     "counts: operations, logs, held, released, forks",
     {{"consumer", "NAME", false}, {NULL, NULL, false}},
     s_build_stats,
     s_print_stats,
     s_json_stats,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_OPLOG_STATS}},
    {"oplog",
     "subscribe",
     1,
     "TOPIC",
     "print a topic's new operations as they come (position cursors)",
     {{"cursor", "N", false}, {"count", "N", false}, {NULL, NULL, false}},
     s_build_subscribe,
     NULL,
     NULL,
     s_subscribe_details,
     s_run_subscribe,
     {CAIRN__REQUEST__BODY_OPLOG_SUBSCRIBE, CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK,
      CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE}},
};

CLI_FAMILY(oplog, s_rows, oplog_storage_t);

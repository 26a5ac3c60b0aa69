/*  =========================================================================
    sync - the `cairn` client's set reconciliation command

        command                     requests
        --------------------------  --------------------------
        sync --client-set SET ...   SyncReconcile, one a round

    The client runs the negentropy initiator (actors/wire/ca_negentropy.c)
    with its own items, read from --items FILE (none: an empty set), and
    the node answers as the responder over its set (schemas/sync.proto:
    "channel:<name>" or "content"). It prints what would move: the ids it
    has that the node lacks (have) and those the node has that it lacks
    (need), the rounds and the bytes spent, beside what sending the full
    id list would have cost. It moves nothing: --dry-run (the default and
    only mode for now) says so explicitly; fetching what is missing goes
    through the stores' own requests.

    Items file: one item a line, "TIMESTAMP ID" or just "ID" (timestamp
    0, as the content set uses), where ID is 64 hex digits taken as the
    32-byte id, or a message UUID (36 characters), hashed with SHA-256
    as the node keys a channel's messages. Blank lines and lines starting
    with '#' are skipped.
    ========================================================================= */

#include "cli.h"
#include "ca_hash.h"
#include "ca_negentropy.h"
#include "ca_validate.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_SYNC_ROUNDS_MAX 200     //  a session longer than this is given up
#define CLI_SYNC_ITEMS_MAX  4000000 //  the node's bound too
#define CLI_SYNC_LINE_MAX   256
#define CLI_SYNC_FRAME_MAX  (512 * 1024)

typedef struct {
    Cairn__SyncReconcile reconcile;
    char set[320];
} sync_storage_t;

static const char *s_build_sync(const cli_t *cli, Cairn__Request *request, void *storage) {
    sync_storage_t *sync = storage;
    cairn__sync_reconcile__init(&sync->reconcile);
    const char *set = cli_option(cli, "client-set");
    if (strlen(set) >= sizeof sync->set)
        return cli_problem("--client-set is too long");
    snprintf(sync->set, sizeof sync->set, "%s", set);
    sync->reconcile.set = sync->set;
    const char *limit = cli_option(cli, "frame-limit");
    if (limit) {
        const char *problem = cli_parse_u32(limit, "--frame-limit", CA_NEG_FRAME_MIN,
                                            CLI_SYNC_FRAME_MAX, &sync->reconcile.frame_size_limit);
        if (problem)
            return problem;
    }
    request->body_case = CAIRN__REQUEST__BODY_SYNC_RECONCILE;
    request->sync_reconcile = &sync->reconcile;
    return NULL;
}

//  Reads the items file into a sealed set; NULL with *problem set.
static ca_neg_set_t *s_read_items(const char *path, const char **problem) {
    ca_neg_set_t *set = ca_neg_set_new();
    if (!set) {
        *problem = "out of memory";
        return NULL;
    }
    FILE *file = path ? fopen(path, "r") : NULL;
    if (path && !file) {
        *problem = cli_problem("cannot open --items %s: %s", path, strerror(errno));
        ca_neg_set_destroy(&set);
        return NULL;
    }
    char line[CLI_SYNC_LINE_MAX];
    size_t number = 0, items = 0;
    while (file && fgets(line, sizeof line, file)) {
        number++;
        size_t length = strcspn(line, "\r\n");
        line[length] = '\0';
        if (length == 0 || line[0] == '#')
            continue;
        char *space = strchr(line, ' ');
        uint64_t timestamp = 0;
        const char *id_text = line;
        if (space) {
            *space = '\0';
            id_text = space + 1;
            if (cli_parse_u64(line, "timestamp", 0, UINT64_MAX - 1, &timestamp)) {
                *problem = cli_problem("--items %s line %zu: the timestamp is not a whole number "
                                       "below 2^64-1",
                                       path, number);
                break;
            }
        }
        uint8_t id[CA_NEG_ID_BYTES];
        size_t id_length = 0;
        if (strlen(id_text) == CLI_UUID_LEN)
            ca_sha256(id_text, CLI_UUID_LEN, id);
        else if (cli_parse_hex(id_text, "id", id, sizeof id, &id_length) ||
                 id_length != CA_NEG_ID_BYTES) {
            *problem = cli_problem("--items %s line %zu: want \"[TIMESTAMP] ID\", ID 64 hex "
                                   "digits or a 36-character message UUID",
                                   path, number);
            break;
        }
        if (++items > CLI_SYNC_ITEMS_MAX) {
            *problem = cli_problem("--items %s has more than %d items", path, CLI_SYNC_ITEMS_MAX);
            break;
        }
        if (ca_neg_set_add(set, timestamp, id)) {
            *problem = "out of memory";
            break;
        }
    }
    if (file)
        fclose(file);
    char err[CA_NEG_ERR_BYTES];
    if (!*problem && ca_neg_set_seal(set, err))
        *problem = cli_problem("--items %s: %s", path, err);
    if (*problem)
        ca_neg_set_destroy(&set);
    return set;
}

static json_t *s_json_ids(const ca_neg_ids_t *ids) {
    json_t *array = json_array();
    for (size_t at = 0; array && at < ids->count; at++) {
        char hex[2 * CA_NEG_ID_BYTES + 1];
        ca_hash_to_hex(ids->ids[at], hex);
        if (!cli_json_append(array, json_string(hex))) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static void s_print_ids(const char *label, const ca_neg_ids_t *ids) {
    for (size_t at = 0; at < ids->count; at++) {
        char hex[2 * CA_NEG_ID_BYTES + 1];
        ca_hash_to_hex(ids->ids[at], hex);
        printf("%s %s\n", label, hex);
    }
}

static int s_run_sync(const cli_t *cli, Cairn__Request *request, void *storage, cli_conn_t *conn) {
    sync_storage_t *sync = storage;
    const char *problem = NULL;
    ca_neg_set_t *set = s_read_items(cli_option(cli, "items"), &problem);
    if (!set)
        return cli_usage_error(cli, "%s", problem);
    ca_neg_opts_t opts = {true, sync->reconcile.frame_size_limit};
    ca_neg_buf_t query = {0};
    ca_neg_ids_t have = {0}, need = {0};
    char err[CA_NEG_ERR_BYTES];
    int exit_code = CLI_EXIT_OK;
    uint64_t sent = 0, received = 0, node_items = 0;
    unsigned rounds = 0;
    int64_t started = zclock_usecs();
    if (ca_neg_initiate(set, &opts, &query, err))
        exit_code = cli_report_error(cli, "internal", err, CLI_EXIT_NODE_ERROR);
    while (exit_code == CLI_EXIT_OK && query.size) {
        if (++rounds > CLI_SYNC_ROUNDS_MAX) {
            exit_code =
                cli_report_error(cli, "internal", "reconciliation did not end within 200 rounds",
                                 CLI_EXIT_NODE_ERROR);
            break;
        }
        sync->reconcile.message.data = query.data;
        sync->reconcile.message.len = query.size;
        sent += query.size;
        Cairn__Response *response = NULL;
        exit_code = cli_request(conn, request, &response);
        if (exit_code != CLI_EXIT_OK)
            break;
        const Cairn__SyncAnswer *answer = response->sync_reconcile;
        received += answer->message.len;
        node_items = answer->items;
        if (ca_neg_reconcile(set, &opts, answer->message.data, answer->message.len, &query, &have,
                             &need, err)) {
            char message[CA_NEG_ERR_BYTES + 40];
            snprintf(message, sizeof message, "the node's answer: %s", err);
            exit_code = cli_report_error(cli, "invalid", message, CLI_EXIT_NODE_ERROR);
        }
        cairn__response__free_unpacked(response, NULL);
    }
    double seconds = (double)(zclock_usecs() - started) / 1e6;
    ca_neg_ids_sort(&have);
    ca_neg_ids_sort(&need);
    //  Sending the whole list instead: both sides' ids, 32 bytes each.
    uint64_t full_list = (ca_neg_set_size(set) + node_items) * CA_NEG_ID_BYTES;
    if (exit_code == CLI_EXIT_OK) {
        if (cli->json) {
            json_t *fields = json_pack(
                "{s:s, s:b, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:f}", "set", sync->set,
                "dry_run", true, "items_local", (json_int_t)ca_neg_set_size(set), "items_node",
                (json_int_t)node_items, "have", s_json_ids(&have), "need", s_json_ids(&need),
                "rounds", (json_int_t)rounds, "bytes_sent", (json_int_t)sent, "bytes_received",
                (json_int_t)received, "full_list_bytes", (json_int_t)full_list, "seconds", seconds);
            exit_code = cli_report_ok(cli, fields);
        } else {
            s_print_ids("have", &have);
            s_print_ids("need", &need);
            printf("set %s: %zu items here, %" PRIu64 " on the node\n", sync->set,
                   ca_neg_set_size(set), node_items);
            printf("have %zu (here, not on the node), need %zu (on the node, not here)\n",
                   have.count, need.count);
            printf("%u rounds, %" PRIu64 " bytes sent, %" PRIu64 " received"
                   " (full id lists: %" PRIu64 " bytes), %.3f s; dry run: nothing moved\n",
                   rounds, sent, received, full_list, seconds);
        }
    }
    ca_neg_buf_free(&query);
    ca_neg_ids_free(&have);
    ca_neg_ids_free(&need);
    ca_neg_set_destroy(&set);
    return exit_code;
}

static const char s_sync_details[] =
    "Runs negentropy (protocol v1) against the node's SET: \"channel:#NAME\" (its\n"
    "messages; id = SHA-256 of the message UUID, timestamp in whole seconds) or\n"
    "\"content\" (the blob hashes, timestamp 0) or \"topic:HEX\" (the operation hashes\n"
    "of the logs a topic names, timestamp 0). --items FILE lists this side's\n"
    "items, one a line: \"[TIMESTAMP] ID\" with ID 64 hex digits or a message UUID.\n"
    "Prints \"have ID\" (here, not on the node) and \"need ID\" (on the node, not\n"
    "here) lines, then the rounds and bytes spent against the full id lists.\n"
    "Nothing is moved (--dry-run is the only mode). --frame-limit bounds each\n"
    "message (4096..524288; default 60000). JSON: set, items_local, items_node,\n"
    "have, need, rounds, bytes_sent, bytes_received, full_list_bytes, seconds.\n";

static const command_t s_rows[] = {
    {"sync",
     NULL,
     0,
     "",
     "find what this side and the node each lack (negentropy)",
     {{"client-set", "SET", true},
      {"items", "FILE", false},
      {"frame-limit", "BYTES", false},
      {"dry-run", NULL, false}},
     s_build_sync,
     NULL,
     NULL,
     s_sync_details,
     s_run_sync,
     {CAIRN__REQUEST__BODY_SYNC_RECONCILE}},
};

CLI_FAMILY(sync, s_rows, sync_storage_t);

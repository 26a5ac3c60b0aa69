/*  =========================================================================
    settlement - the `cairn` client's settlement queue commands

    Rows of the shared command table (cli.h), each one request, sent
    and printed by cairn.c:

        command          requests                    printed
        ---------------  --------------------------  ------------------------------
        settle enqueue   SettleEnqueue               queued / already queued
        settle pending   SettlePending               one line per distribution
        settle total     SettleTotal                 total and count
        settle mark      SettleMark                  settled, already settled ids
        settle batch     SettleBatch (--id:          batch id, time, per-recipient
                         SettleBatchGet)             totals
        settle last      SettleLastGet (--set:       the last settlement time
                         SettleLastSet)

    Hashes and ids are 64 hex digits. Amounts are unsigned 64-bit decimal
    numbers. JSON: hashes as hex, times as unix seconds, amounts and counts
    as integers; an amount above 2^63-1 is a string of digits, since JSON
    integers here are signed 64-bit.
    ========================================================================= */

#include "blob.h"
#include "ca_clock.h"
#include "ca_request.h"
#include "ca_validate.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The node's limits (actors/settlement.h), for messages and checks here.
#define SETTLE_LIST_MAX  100000
#define SETTLE_BATCH_MAX 100000
#define SETTLE_MARK_MAX  1000

//  ---- the family's storage ---------------------------------------------------------

//  `settle mark` PAYMENTs: twice the node's 1000, so that its own check can
//  be exercised.
#define SETTLE_IDS_ROOM 2000

//  The body of the request and what it points at.
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
    uint8_t payment_ids[SETTLE_IDS_ROOM][CA_HASH_BYTES];
    ProtobufCBinaryData ids[SETTLE_IDS_ROOM];
} settlement_storage_t;

//  ---- values ----------------------------------------------------------------------------

static const char *s_parse_limit(const cli_t *cli, uint32_t most, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    return text ? cli_parse_u32(text, "--limit", 1, most, limit) : NULL;
}

//  ---- settle enqueue ------------------------------------------------------------------

static const char *s_build_enqueue(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    uint64_t amount = 0;
    double queued_at = 0;
    const char *problem = cli_parse_hash(cli->args[0], "PAYMENT", settle->payment);
    if (!problem)
        problem = cli_parse_u64(cli->args[2], "AMOUNT", 1, UINT64_MAX, &amount);
    if (!problem)
        problem = cli_parse_hash(cli->args[3], "SOURCE", settle->source);
    const char *time = cli_option(cli, "queued-at");
    if (!problem && time)
        problem = cli_parse_time(time, "--queued-at", &queued_at);
    ca_request_distribution(&settle->distribution, settle->payment, CA_HASH_BYTES, cli->args[1],
                            amount, settle->source, CA_HASH_BYTES, queued_at);
    ca_request_settle_enqueue(request, &settle->body.enqueue, 0, &settle->distribution);
    return problem;
}

static void s_print_enqueue(const answer_t *answer) {
    puts(answer->response->settle_enqueue->created
             ? "queued"
             : "already queued (the same payment and recipient; nothing changed)");
}

static json_t *s_json_enqueue(const answer_t *answer) {
    return json_pack("{s:b}", "created", answer->response->settle_enqueue->created);
}

//  ---- settle pending, total --------------------------------------------------------------

//  --after PAYMENT:RECIPIENT, the cursor a full page prints: 64 hex
//  digits, a colon, a peer id (which may hold colons itself).
static const char *s_parse_after(const cli_t *cli, settlement_storage_t *settle) {
    char *text = (char *)cli_option(cli, "after"); //  cli's values are writable
    if (!text)
        return NULL;
    if (strlen(text) < 2 * CA_HASH_BYTES + 2 || text[2 * CA_HASH_BYTES] != ':')
        return cli_problem("--after wants PAYMENT:RECIPIENT (64 hex digits, a colon, a peer id), "
                           "as a full page prints it, not '%s'",
                           text);
    text[2 * CA_HASH_BYTES] = '\0';
    const char *problem = cli_parse_hash(text, "--after PAYMENT", settle->payment);
    ca_request_settle_pending_after(&settle->body.pending, settle->payment, CA_HASH_BYTES,
                                    text + 2 * CA_HASH_BYTES + 1);
    return problem;
}

static const char *s_build_pending(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    uint32_t limit = 0;
    const char *problem = s_parse_limit(cli, SETTLE_LIST_MAX, &limit);
    ca_request_settle_pending(request, &settle->body.pending, 0, cli_option(cli, "recipient"),
                              limit);
    return problem ? problem : s_parse_after(cli, settle);
}

static void s_print_pending(const answer_t *answer) {
    const Cairn__DistributionPage *page = answer->response->settle_pending;
    if (page->n_distributions == 0) {
        puts("nothing pending");
        return;
    }
    printf("%-24s  %-64s  %20s  %s\n", "QUEUED", "PAYMENT", "AMOUNT", "RECIPIENT");
    for (size_t i = 0; i < page->n_distributions; i++) {
        const Cairn__Distribution *d = page->distributions[i];
        char time[CLI_TIME_TEXT];
        cli_format_time(d->queued_at, time, sizeof time);
        printf("%-24s  ", time);
        cli_print_hex(d->payment_id);
        printf("  %20" PRIu64 "  ", d->amount);
        cli_print_inline(cli_bytes(d->recipient));
        putchar('\n');
    }
    if (page->more) {
        const Cairn__Distribution *last = page->distributions[page->n_distributions - 1];
        printf("(more: --after ");
        cli_print_hex(last->payment_id);
        printf(":%s)\n", last->recipient);
    }
}

static json_t *s_json_distribution(const Cairn__Distribution *d) {
    json_t *object =
        json_pack("{s:o, s:f}", "amount", cli_json_u64(d->amount), "queued_at", d->queued_at);
    if (!object)
        return NULL;
    cli_json_set_hex(object, "payment_id", d->payment_id);
    cli_json_set_bytes(object, "recipient", cli_bytes(d->recipient));
    cli_json_set_hex(object, "source_hash", d->source_hash);
    return object;
}

static json_t *s_json_pending(const answer_t *answer) {
    const Cairn__DistributionPage *page = answer->response->settle_pending;
    json_t *list = json_array();
    for (size_t i = 0; i < page->n_distributions; i++)
        if (!cli_json_append(list, s_json_distribution(page->distributions[i]))) {
            json_decref(list);
            return NULL;
        }
    json_t *object = json_pack("{s:o, s:b}", "distributions", list, "more", page->more);
    if (object && page->more) {
        const Cairn__Distribution *last = page->distributions[page->n_distributions - 1];
        char hex[2 * CA_HASH_BYTES + 1];
        sodium_bin2hex(hex, sizeof hex, last->payment_id.data, last->payment_id.len);
        json_object_set_new(object, "next_after", json_sprintf("%s:%s", hex, last->recipient));
    }
    return object;
}

static const char *s_build_total(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    ca_request_settle_total(request, &settle->body.total, 0, cli_option(cli, "recipient"));
    return NULL;
}

static void s_print_total(const answer_t *answer) {
    const Cairn__SettleTotalReply *total = answer->response->settle_total;
    printf("%" PRIu64 " pending in %" PRIu64 " distribution%s\n", total->total, total->count,
           total->count == 1 ? "" : "s");
}

static json_t *s_json_total(const answer_t *answer) {
    const Cairn__SettleTotalReply *total = answer->response->settle_total;
    return json_pack("{s:o, s:o}", "total", cli_json_u64(total->total), "count",
                     cli_json_u64(total->count));
}

//  ---- settle mark ---------------------------------------------------------------------

static const char *s_build_mark(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    size_t count = (size_t)cli->arg_total - 1;
    if (count > SETTLE_IDS_ROOM)
        return cli_problem("settle mark takes at most %d PAYMENT ids here (the node takes %d), "
                           "not %zu",
                           SETTLE_IDS_ROOM, SETTLE_MARK_MAX, count);
    const char *problem = cli_parse_hash(cli->args[0], "BATCH", settle->batch_id);
    if (!problem)
        problem =
            cli_parse_hash_list(cli->args + 1, count, "PAYMENT", settle->payment_ids, settle->ids);
    ca_request_settle_mark(request, &settle->body.mark, 0, settle->ids, count, settle->batch_id,
                           CA_HASH_BYTES);
    return problem;
}

static void s_print_mark(const answer_t *answer) {
    const Cairn__SettleMarked *marked = answer->response->settle_mark;
    printf("settled %" PRIu64 " distribution%s\n", marked->settled,
           marked->settled == 1 ? "" : "s");
    for (size_t i = 0; i < marked->n_already_settled; i++) {
        fputs("already settled: ", stdout);
        cli_print_hex(marked->already_settled[i]);
        putchar('\n');
    }
}

static json_t *s_json_mark(const answer_t *answer) {
    const Cairn__SettleMarked *marked = answer->response->settle_mark;
    json_t *already = json_array();
    for (size_t i = 0; i < marked->n_already_settled; i++) {
        char hex[CLI_HASH_HEX];
        ca_hash_to_hex(marked->already_settled[i].data, hex);
        json_array_append_new(already, json_string(hex));
    }
    return json_pack("{s:o, s:o}", "settled", cli_json_u64(marked->settled), "already_settled",
                     already);
}

//  ---- settle batch ----------------------------------------------------------------------

static const char *s_build_batch(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    const char *id = cli_option(cli, "id");
    if (id) {
        if (cli_option(cli, "limit"))
            return cli_problem("--id reads a batch again; --limit is for making one");
        const char *problem = cli_parse_hash(id, "--id", settle->batch_id);
        ca_request_settle_batch_get(request, &settle->body.batch_get, 0, settle->batch_id,
                                    CA_HASH_BYTES);
        return problem;
    }
    uint32_t limit = 0;
    const char *problem = s_parse_limit(cli, SETTLE_BATCH_MAX, &limit);
    ca_request_settle_batch(request, &settle->body.batch, 0, limit);
    return problem;
}

static const Cairn__SettleBatchReply *s_batch_reply(const answer_t *answer) {
    return answer->response->body_case == CAIRN__RESPONSE__BODY_SETTLE_BATCH
               ? answer->response->settle_batch
               : answer->response->settle_batch_get;
}

static void s_print_batch(const answer_t *answer) {
    const Cairn__SettleBatchReply *batch = s_batch_reply(answer);
    fputs("batch ", stdout);
    cli_print_hex(batch->batch_id);
    char time[CLI_TIME_TEXT];
    cli_format_time(batch->settled_at, time, sizeof time);
    printf("\n  settled at      %s\n  distributions   %" PRIu64 "\n", time, batch->distributions);
    printf("%20s  %8s  %s\n", "TOTAL", "COUNT", "RECIPIENT");
    for (size_t i = 0; i < batch->n_totals; i++) {
        printf("%20" PRIu64 "  %8" PRIu64 "  ", batch->totals[i]->total, batch->totals[i]->count);
        cli_print_inline(cli_bytes(batch->totals[i]->recipient));
        putchar('\n');
    }
}

static json_t *s_json_batch(const answer_t *answer) {
    const Cairn__SettleBatchReply *batch = s_batch_reply(answer);
    json_t *totals = json_array();
    for (size_t i = 0; i < batch->n_totals; i++) {
        json_t *item = json_pack("{s:o, s:o}", "total", cli_json_u64(batch->totals[i]->total),
                                 "count", cli_json_u64(batch->totals[i]->count));
        if (item)
            cli_json_set_bytes(item, "recipient", cli_bytes(batch->totals[i]->recipient));
        if (!cli_json_append(totals, item)) {
            json_decref(totals);
            return NULL;
        }
    }
    json_t *object = json_pack("{s:f, s:o, s:o}", "settled_at", batch->settled_at, "distributions",
                               cli_json_u64(batch->distributions), "totals", totals);
    if (object)
        cli_json_set_hex(object, "batch_id", batch->batch_id);
    return object;
}

//  ---- settle last ------------------------------------------------------------------------

static const char *s_build_last(const cli_t *cli, Cairn__Request *request, void *storage) {
    settlement_storage_t *settle = storage;
    const char *text = cli_option(cli, "set");
    if (!text) {
        ca_request_settle_last_get(request, &settle->body.last_get, 0);
        return NULL;
    }
    double time = 0;
    const char *problem = streq(text, "now") ? NULL : cli_parse_time(text, "--set", &time);
    if (streq(text, "now"))
        time = ca_now_seconds();
    ca_request_settle_last_set(request, &settle->body.last_set, 0, time);
    return problem;
}

static const Cairn__SettleLast *s_last_reply(const answer_t *answer) {
    return answer->response->body_case == CAIRN__RESPONSE__BODY_SETTLE_LAST_GET
               ? answer->response->settle_last_get
               : answer->response->settle_last_set;
}

static void s_print_last(const answer_t *answer) {
    const Cairn__SettleLast *last = s_last_reply(answer);
    if (!last->set) {
        puts("never settled");
        return;
    }
    char time[CLI_TIME_TEXT];
    cli_format_time(last->time, time, sizeof time);
    printf("last settlement %s (%.3f)\n", time, last->time);
}

static json_t *s_json_last(const answer_t *answer) {
    const Cairn__SettleLast *last = s_last_reply(answer);
    return last->set ? json_pack("{s:f, s:b}", "time", last->time, "set", true)
                     : json_pack("{s:n, s:b}", "time", "set", false);
}

//  ---- help -----------------------------------------------------------------------------

static const char s_enqueue_details[] =
    "Queues AMOUNT (a whole number, 1 to 2^64-1) owed to RECIPIENT (a peer id) from\n"
    "payment PAYMENT, for content SOURCE (both 64 hex digits). The same PAYMENT and\n"
    "RECIPIENT again changes nothing, even with another amount (\"already queued\").\n"
    "--queued-at defaults to now.\n";

static const char s_pending_details[] =
    "Pending distributions, oldest first: all, or of --recipient. A page holds up to\n"
    "--limit of them (default 1000, at most 100000) after --after PAYMENT:RECIPIENT;\n"
    "a full page ends with \"(more: --after PAYMENT:RECIPIENT)\" (JSON: \"more\" and\n"
    "\"next_after\") to ask for the next one.\n";

static const char s_total_details[] =
    "The sum of pending amounts (all, or of --recipient) and their number. A sum\n"
    "over 2^64-1 is an error (internal), never a wrapped number: settle part of the\n"
    "queue with `cairn settle batch --limit N` first.\n";

static const char s_mark_details[] =
    "Settles the pending distributions of the PAYMENTs (at most 1000) under batch id\n"
    "BATCH (64 hex digits), all or none. Payments settled before are listed as\n"
    "already settled and not changed; a payment the queue does not know fails the\n"
    "whole request (not found).\n";

static const char s_batch_details[] =
    "Settles the oldest pending distributions (--limit, default and at most 100000)\n"
    "in one batch: prints its id (the SHA-256 of its sorted (payment, recipient,\n"
    "amount) triples, so the same pending set always gives the same id), the time\n"
    "and the total per recipient. Another batch or mark settling some of them at\n"
    "the same moment makes it fail (conflict) with nothing settled: run it again.\n"
    "--id BATCH prints a batch made earlier, for audit.\n";

static const char s_last_details[] =
    "The time of the last settlement, as recorded by --set TIME (unix seconds, or\n"
    "\"now\"); \"never settled\" until one is recorded.\n";

//  ---- the table -------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"settle",
     "enqueue",
     4,
     "PAYMENT RECIPIENT AMOUNT SOURCE",
     "queue AMOUNT owed to RECIPIENT from PAYMENT",
     {{"queued-at", "TIME", false}, {NULL, NULL, false}},
     s_build_enqueue,
     s_print_enqueue,
     s_json_enqueue,
     s_enqueue_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_ENQUEUE}},
    {"settle",
     "pending",
     0,
     "",
     "pending distributions, oldest first",
     {{"recipient", "PEER", false},
      {"limit", "N", false},
      {"after", "PAYMENT:RECIPIENT", false},
      {NULL, NULL, false}},
     s_build_pending,
     s_print_pending,
     s_json_pending,
     s_pending_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_PENDING}},
    {"settle",
     "total",
     0,
     "",
     "the sum of pending amounts",
     {{"recipient", "PEER", false}, {NULL, NULL, false}},
     s_build_total,
     s_print_total,
     s_json_total,
     s_total_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_TOTAL}},
    {"settle",
     "mark",
     2,
     "BATCH PAYMENT [PAYMENT...]",
     "settle the PAYMENTs' distributions under BATCH",
     {{NULL, NULL, false}},
     s_build_mark,
     s_print_mark,
     s_json_mark,
     s_mark_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_MARK}},
    {"settle",
     "batch",
     0,
     "",
     "settle the oldest pending distributions in one batch",
     {{"limit", "N", false}, {"id", "BATCH", false}, {NULL, NULL, false}},
     s_build_batch,
     s_print_batch,
     s_json_batch,
     s_batch_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_BATCH, CAIRN__REQUEST__BODY_SETTLE_BATCH_GET}},
    {"settle",
     "last",
     0,
     "",
     "the last settlement time (--set TIME records one)",
     {{"set", "TIME", false}, {NULL, NULL, false}},
     s_build_last,
     s_print_last,
     s_json_last,
     s_last_details,
     NULL,
     {CAIRN__REQUEST__BODY_SETTLE_LAST_GET, CAIRN__REQUEST__BODY_SETTLE_LAST_SET}},
};

CLI_FAMILY(settlement, s_rows, settlement_storage_t);

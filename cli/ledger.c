/*  =========================================================================
    ledger - the `cairn` client's payment channel commands

    Rows of the shared command table (cli.h), one request each, sent
    and printed by cairn.c:

        command          request         printed
        ---------------  --------------  ------------------------------------
        ledger open      LedgerOpen      the channel
        ledger get       LedgerGet       the channel
        ledger update    LedgerUpdate    the channel
        ledger adjust    LedgerAdjust    the channel
        ledger history   LedgerHistory   one line per deposit or withdrawal
        ledger list      LedgerList      one line per open channel
        ledger pay       LedgerPay       paid AMOUNT ... (the payment id)
        ledger pending   LedgerPending   one line per pending payment
        ledger clear     LedgerClear     how many were pending and are cleared

    `ledger pay` records a payment the channel's peer made to this node:
    give its signature (--signature-hex, 64 bytes made by the payer, with
    the --expires it signed), or sign here with the payer's Ed25519 secret
    key (--key-file, libsodium's 64-byte form, raw or as 128 hex digits; as
    `cairn msg send`). The signed bytes are ledger_payment_encode's (v3,
    Payment in schemas/ledger.proto): they name the payee node, --payee or
    else the peer id the node shows in Info (then the row asks Info first:
    its run), and the expiry, --expires or else an hour from now. Without
    --id the id is 32 random bytes; without --timestamp, now.

    `ledger list` and `ledger pending` print a page at a time (--limit,
    --after the last item of the previous page, as `cairn peer list`); a
    full page ends with "(more: --after X)", JSON adds "more" and
    "next_after".

    Amounts are whole numbers in the smallest unit; the node holds at most
    2^63-1 in a balance. JSON: ids and hashes as hex, times as unix
    seconds, amounts as integers, states by name.
    ========================================================================= */

#include "blob.h"
#include "ca_clock.h"
#include "ca_request.h"
#include "ca_status.h"
#include "ca_validate.h"
#include "ledger_encoding.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_WIDTH 15

static const char *const s_state_names[] = {"opening", "open", "closing", "closed"};
#define STATE_COUNT (sizeof s_state_names / sizeof s_state_names[0])

static const char *s_state_name(Cairn__ChannelState state) {
    return cli_enum_name(s_state_names, STATE_COUNT, (int)state, "unknown");
}

//  ---- the family's storage ---------------------------------------------------------

//  Room for twice the node's 1000 shares or ids, so that its own limits
//  can be exercised.
#define LEDGER_ROOM 2000

//  The body of the request and what it points at.
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
    bool sign_in_run;                          //  pay --key-file without --payee: signed after Info
    uint8_t roots[LEDGER_ROOM][CA_HASH_BYTES]; //  pay --share ROOT:WEIGHT
    Cairn__ProvenanceShare shares[LEDGER_ROOM];
    Cairn__ProvenanceShare *share_list[LEDGER_ROOM];
    uint8_t ids[LEDGER_ROOM][CA_HASH_BYTES]; //  clear: ID arguments
    ProtobufCBinaryData id_list[LEDGER_ROOM];
} ledger_storage_t;

//  ---- values in arguments -------------------------------------------------------------------

static const char *s_parse_state(const char *text, Cairn__ChannelState *state) {
    int value = 0;
    const char *problem = cli_parse_enum(text, "--state", s_state_names, STATE_COUNT, &value);
    *state = (Cairn__ChannelState)value;
    return problem;
}

//  A signed whole number (a delta), -(2^63-1)..2^63-1.
static const char *s_parse_i64(const char *text, const char *what, int64_t *value) {
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed == INT64_MIN)
        return cli_problem("%s wants a whole number from -%" PRId64 " to %" PRId64 ", not '%s'",
                           what, INT64_MAX, INT64_MAX, text);
    *value = (int64_t)parsed;
    return NULL;
}

//  Option `name` as a u64 into *value when given; *value unchanged otherwise.
static const char *s_option_u64(const cli_t *cli, const char *name, uint64_t *value) {
    const char *text = cli_option(cli, name);
    char what[32];
    snprintf(what, sizeof what, "--%s", name);
    return text ? cli_parse_u64(text, what, 0, UINT64_MAX, value) : NULL;
}

//  ---- output -----------------------------------------------------------------------------------

static void s_print_channel(const Cairn__PaymentChannel *channel) {
    printf("  %-*s ", LABEL_WIDTH, "peer");
    cli_print_inline(cli_bytes(channel->peer_id));
    putchar('\n');
    printf("  %-*s %s\n", LABEL_WIDTH, "state", s_state_name(channel->state));
    printf("  %-*s %" PRIu64 "\n", LABEL_WIDTH, "my balance", channel->my_balance);
    printf("  %-*s %" PRIu64 "\n", LABEL_WIDTH, "their balance", channel->their_balance);
    printf("  %-*s %" PRIu64 "\n", LABEL_WIDTH, "nonce", channel->nonce);
    cli_print_field_time("last update", channel->last_update);
    cli_print_field_time("created", channel->created_at);
}

//  An amount as a JSON integer, or as a string of digits above 2^63-1.
static json_t *s_json_u64(uint64_t value) {
    if (value <= INT64_MAX)
        return json_integer((json_int_t)value);
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, value);
    return json_string(digits);
}

static json_t *s_json_channel(const Cairn__PaymentChannel *channel) {
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:f, s:f}", "peer_id", channel->peer_id, "state",
                     s_state_name(channel->state), "my_balance", s_json_u64(channel->my_balance),
                     "their_balance", s_json_u64(channel->their_balance), "nonce",
                     s_json_u64(channel->nonce), "last_update", channel->last_update, "created_at",
                     channel->created_at);
}

static json_t *s_json_payment(const Cairn__Payment *payment) {
    json_t *shares = json_array();
    for (size_t i = 0; i < payment->n_provenance; i++) {
        json_t *share = json_pack("{s:o}", "weight", s_json_u64(payment->provenance[i]->weight));
        if (share)
            cli_json_set_hex(share, "root", payment->provenance[i]->root);
        if (!cli_json_append(shares, share)) {
            json_decref(shares);
            return NULL;
        }
    }
    json_t *object =
        json_pack("{s:s, s:o, s:s, s:f, s:b, s:o}", "channel_peer", payment->channel_peer, "amount",
                  s_json_u64(payment->amount), "recipient", payment->recipient, "timestamp",
                  payment->timestamp, "cleared", payment->cleared, "provenance", shares);
    if (object) {
        cli_json_set_hex(object, "id", payment->id);
        cli_json_set_hex(object, "query_hash", payment->query_hash);
        cli_json_set_hex(object, "signature", payment->signature);
    }
    return object;
}

//  The channel of a LedgerOpen, LedgerGet, LedgerUpdate or LedgerAdjust answer.
static const Cairn__PaymentChannel *s_answer_channel(const answer_t *answer) {
    const Cairn__Response *response = answer->response;
    switch (response->body_case) {
        case CAIRN__RESPONSE__BODY_LEDGER_OPEN:
            return response->ledger_open;
        case CAIRN__RESPONSE__BODY_LEDGER_GET:
            return response->ledger_get;
        case CAIRN__RESPONSE__BODY_LEDGER_UPDATE:
            return response->ledger_update;
        default:
            return response->ledger_adjust;
    }
}

static void s_print_channel_answer(const answer_t *answer) {
    s_print_channel(s_answer_channel(answer));
}

static json_t *s_json_channel_answer(const answer_t *answer) {
    json_t *channel = s_json_channel(s_answer_channel(answer));
    return channel ? json_pack("{s:o}", "channel", channel) : NULL;
}

//  ---- open, get, update, adjust, list ---------------------------------------------------------

static const char *s_peer_arg(const cli_t *cli) {
    return cli->args[0];
}

static const char *s_build_open(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    Cairn__ChannelState state = CAIRN__CHANNEL_STATE__CHANNEL_OPEN;
    uint64_t mine = 0, theirs = 0, nonce = 0;
    const char *text = cli_option(cli, "state");
    const char *problem = text ? s_parse_state(text, &state) : NULL;
    if (!problem)
        problem = s_option_u64(cli, "mine", &mine);
    if (!problem)
        problem = s_option_u64(cli, "theirs", &theirs);
    if (!problem)
        problem = s_option_u64(cli, "nonce", &nonce);
    ca_request_ledger_channel_init(&ledger->channel, s_peer_arg(cli), state, mine, theirs, nonce);
    ca_request_ledger_open(request, &ledger->body.open, 0, &ledger->channel);
    return problem;
}

static const char *s_build_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    ca_request_ledger_get(request, &ledger->body.get, 0, s_peer_arg(cli));
    return NULL;
}

static const char *s_build_update(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    Cairn__ChannelState state = CAIRN__CHANNEL_STATE__CHANNEL_OPEN;
    uint64_t mine = 0, theirs = 0, nonce = 0;
    const char *text = cli_option(cli, "state");
    const char *problem = text ? s_parse_state(text, &state) : NULL;
    if (!problem)
        problem = s_option_u64(cli, "nonce", &nonce);
    if (!problem)
        problem = s_option_u64(cli, "mine", &mine);
    if (!problem)
        problem = s_option_u64(cli, "theirs", &theirs);
    ca_request_ledger_update(request, &ledger->body.update, 0, s_peer_arg(cli), nonce, state, mine,
                             theirs);
    return problem;
}

static const char *s_build_adjust(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    int64_t mine = 0, theirs = 0;
    const char *text = cli_option(cli, "mine");
    const char *problem = text ? s_parse_i64(text, "--mine", &mine) : NULL;
    text = cli_option(cli, "theirs");
    if (!problem && text)
        problem = s_parse_i64(text, "--theirs", &theirs);
    ca_request_ledger_adjust(request, &ledger->body.adjust, 0, s_peer_arg(cli), mine, theirs,
                             cli_option(cli, "reason"));
    return problem;
}

//  --limit N when given (0 otherwise: the node's default).
static const char *s_option_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    *limit = 0;
    return text ? cli_parse_u32(text, "--limit", 1, UINT32_MAX, limit) : NULL;
}

static const char *s_build_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    uint32_t limit;
    const char *problem = s_option_limit(cli, &limit);
    ca_request_ledger_list(request, &ledger->body.list, 0, limit, cli_option(cli, "after"));
    return problem;
}

//  The peer id the next page starts after; only of a page with more.
static const char *s_list_next(const Cairn__PaymentChannelPage *page) {
    return page->n_channels ? page->channels[page->n_channels - 1]->peer_id : "";
}

static void s_print_list(const answer_t *answer) {
    const Cairn__PaymentChannelPage *page = answer->response->ledger_list;
    printf("%-24s  %-8s  %20s  %20s  %10s\n", "PEER", "STATE", "MINE", "THEIRS", "NONCE");
    for (size_t i = 0; i < page->n_channels; i++) {
        const Cairn__PaymentChannel *channel = page->channels[i];
        printf("%-24s  %-8s  %20" PRIu64 "  %20" PRIu64 "  %10" PRIu64 "\n", channel->peer_id,
               s_state_name(channel->state), channel->my_balance, channel->their_balance,
               channel->nonce);
    }
    if (page->more)
        printf("(more: --after %s)\n", s_list_next(page));
}

static json_t *s_json_list(const answer_t *answer) {
    const Cairn__PaymentChannelPage *page = answer->response->ledger_list;
    json_t *channels = json_array();
    for (size_t i = 0; i < page->n_channels; i++)
        if (!cli_json_append(channels, s_json_channel(page->channels[i]))) {
            json_decref(channels);
            return NULL;
        }
    json_t *object = json_pack("{s:o, s:b}", "channels", channels, "more", page->more);
    if (object && page->more)
        json_object_set_new(object, "next_after", json_string(s_list_next(page)));
    return object;
}

//  ---- history ---------------------------------------------------------------------------------

static const char *s_build_history(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    uint32_t limit = 0;
    uint64_t after = 0;
    const char *text = cli_option(cli, "limit");
    //  A limit above the node's maximum is the node's to refuse.
    const char *problem = text ? cli_parse_u32(text, "--limit", 1, UINT32_MAX, &limit) : NULL;
    text = cli_option(cli, "after");
    if (!problem && text)
        problem = cli_parse_u64(text, "--after", 1, INT64_MAX, &after);
    ca_request_ledger_history(request, &ledger->body.history, 0, s_peer_arg(cli), limit, after);
    return problem;
}

static void s_print_history(const answer_t *answer) {
    const Cairn__AdjustmentPage *page = answer->response->ledger_history;
    printf("%10s  %-20s  %20s  %20s  %s\n", "SEQ", "AT", "MY DELTA", "THEIR DELTA", "REASON");
    for (size_t i = 0; i < page->n_adjustments; i++) {
        const Cairn__Adjustment *entry = page->adjustments[i];
        char at[CLI_TIME_TEXT];
        cli_format_time(entry->at, at, sizeof at);
        printf("%10" PRIu64 "  %-20s  %+20" PRId64 "  %+20" PRId64 "  %s\n", entry->seq, at,
               entry->my_delta, entry->their_delta, entry->reason);
    }
    if (page->more)
        printf("(more: --after %" PRIu64 ")\n", page->adjustments[page->n_adjustments - 1]->seq);
}

static json_t *s_json_history(const answer_t *answer) {
    const Cairn__AdjustmentPage *page = answer->response->ledger_history;
    json_t *entries = json_array();
    for (size_t i = 0; i < page->n_adjustments; i++) {
        const Cairn__Adjustment *entry = page->adjustments[i];
        if (!cli_json_append(entries,
                             json_pack("{s:I, s:I, s:I, s:s, s:f}", "seq", (json_int_t)entry->seq,
                                       "my_delta", (json_int_t)entry->my_delta, "their_delta",
                                       (json_int_t)entry->their_delta, "reason", entry->reason,
                                       "at", entry->at))) {
            json_decref(entries);
            return NULL;
        }
    }
    json_t *object = json_pack("{s:o, s:b}", "adjustments", entries, "more", page->more);
    if (object && page->more)
        json_object_set_new(
            object, "next_after",
            json_integer((json_int_t)page->adjustments[page->n_adjustments - 1]->seq));
    return object;
}

//  ---- pay ------------------------------------------------------------------------------------

//  --share ROOT:WEIGHT, every one given.
static const char *s_parse_shares(const cli_t *cli, ledger_storage_t *ledger) {
    size_t count = 0;
    char *const *values = cli_option_list(cli, "share", &count);
    if (count > LEDGER_ROOM)
        return cli_problem("at most %d --share options here (the node takes 1000), not %zu",
                           LEDGER_ROOM, count);
    for (size_t i = 0; i < count; i++) {
        char *colon = strchr(values[i], ':');
        if (!colon)
            return cli_problem("--share wants ROOT:WEIGHT (64 hex digits, a colon, a number), "
                               "not '%s'",
                               values[i]);
        *colon = '\0'; //  cli's values are writable
        const char *problem = cli_parse_hash(values[i], "--share ROOT", ledger->roots[i]);
        Cairn__ProvenanceShare *share = &ledger->shares[i];
        cairn__provenance_share__init(share);
        if (!problem)
            problem = cli_parse_u64(colon + 1, "--share WEIGHT", 0, UINT64_MAX, &share->weight);
        *colon = ':';
        if (problem)
            return problem;
        share->root = (ProtobufCBinaryData){CA_HASH_BYTES, ledger->roots[i]};
        ledger->share_list[i] = share;
    }
    ledger->payment.provenance = count ? ledger->share_list : NULL;
    ledger->payment.n_provenance = count;
    return NULL;
}

#define PAY_LIFETIME_S 3600 //  a payment signed here expires this long after now

//  Signs the payment for `payee` with the payer's key in `path`; the key is
//  wiped after.
static const char *s_sign_with_key_file(const char *path, const char *payee,
                                        ledger_storage_t *ledger) {
    uint8_t key[crypto_sign_SECRETKEYBYTES];
    const char *problem = cli_load_secret_key(path, key);
    size_t size = 0;
    uint8_t *bytes = problem ? NULL : ledger_payment_encode(&ledger->payment, payee, &size);
    if (!problem && !bytes)
        problem = "the payment cannot be encoded for signing (a recipient over 65535 bytes?)";
    if (bytes)
        crypto_sign_detached(ledger->signature, NULL, bytes, size, key);
    free(bytes);
    sodium_memzero(key, sizeof key);
    return problem;
}

static const char *s_payment_signature(const cli_t *cli, ledger_storage_t *ledger) {
    const char *signature_hex = cli_option(cli, "signature-hex");
    const char *key_file = cli_option(cli, "key-file");
    const char *payee = cli_option(cli, "payee");
    const char *expires = cli_option(cli, "expires");
    if (signature_hex && key_file)
        return "give --signature-hex or --key-file, not both";
    if (!signature_hex && !key_file)
        return "ledger pay needs the payer's signature: --signature-hex HEX (64 bytes made by "
               "the payer) or --key-file FILE to sign here (see cairn ledger pay --help)";
    if (signature_hex && !expires)
        return "--signature-hex needs the --expires the payer signed (unix seconds)";
    if (signature_hex && payee)
        return "--payee names whom to sign for; with --signature-hex the payer signed already";
    ledger->payment.expires_at = (uint64_t)ca_now_seconds() + PAY_LIFETIME_S;
    if (expires) {
        const char *problem =
            cli_parse_u64(expires, "--expires", 1, UINT64_MAX, &ledger->payment.expires_at);
        if (problem)
            return problem;
    }
    ledger->payment.signature = (ProtobufCBinaryData){CLI_SIG_BYTES, ledger->signature};
    if (key_file && payee)
        return s_sign_with_key_file(key_file, payee, ledger);
    if (key_file) {
        ledger->sign_in_run = true; //  the payee's peer id comes from Info
        return NULL;
    }
    size_t length = 0;
    const char *problem =
        cli_parse_hex(signature_hex, "--signature-hex", ledger->signature, CLI_SIG_BYTES, &length);
    if (!problem && length != CLI_SIG_BYTES)
        problem = cli_problem("--signature-hex wants %d hex digits (an Ed25519 signature), not %zu",
                              2 * CLI_SIG_BYTES, 2 * length);
    return problem;
}

static const char *s_build_pay(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    uint64_t amount = 0;
    double timestamp = ca_now_seconds();
    const char *problem =
        cli_parse_u64(cli_option(cli, "amount"), "--amount", 0, UINT64_MAX, &amount);
    const char *text = cli_option(cli, "id");
    if (!problem && text)
        problem = cli_parse_hash(text, "--id", ledger->id);
    else if (!text)
        randombytes_buf(ledger->id, sizeof ledger->id);
    if (!problem)
        problem = cli_parse_hash(cli_option(cli, "query"), "--query", ledger->query);
    text = cli_option(cli, "timestamp");
    if (!problem && text)
        problem = cli_parse_time(text, "--timestamp", &timestamp);
    ca_request_payment_init(&ledger->payment, ledger->id, CA_HASH_BYTES, s_peer_arg(cli), amount,
                            cli_option(cli, "recipient"), ledger->query, CA_HASH_BYTES, timestamp);
    if (!problem)
        problem = s_parse_shares(cli, ledger);
    if (!problem)
        problem = s_payment_signature(cli, ledger);
    ca_request_ledger_pay(request, &ledger->body.pay, 0, &ledger->payment);
    return problem;
}

static void s_print_pay(const answer_t *answer) {
    const Cairn__Payment *payment = answer->response->ledger_pay;
    printf("paid %" PRIu64 " from %s to %s; payment id ", payment->amount, payment->channel_peer,
           payment->recipient);
    cli_print_hex(payment->id);
    putchar('\n');
}

static json_t *s_json_pay(const answer_t *answer) {
    json_t *payment = s_json_payment(answer->response->ledger_pay);
    return payment ? json_pack("{s:o}", "payment", payment) : NULL;
}

//  Asks Info for the node's peer id when the payment is signed here without
//  --payee, signs, then sends the payment and prints it.
static int s_run_pay(const cli_t *cli, Cairn__Request *request, void *storage, cli_conn_t *conn) {
    ledger_storage_t *ledger = storage;
    Cairn__Response *response = NULL;
    int exit_code;
    if (ledger->sign_in_run) {
        Cairn__Request info_request;
        Cairn__InfoRequest info;
        ca_request_info(&info_request, &info, 0);
        exit_code = cli_request(conn, &info_request, &response);
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
        const char *payee = response->info ? response->info->peer_id : "";
        if (!payee || !*payee)
            exit_code = cli_report_error(
                cli, ca_status_str(CA_UNAUTHORIZED),
                "the node has no identity (its Info shows no peer id), so it takes no payment: "
                "create one there (cairnd identity init) and restart it",
                CLI_EXIT_NODE_ERROR);
        else {
            const char *problem = s_sign_with_key_file(cli_option(cli, "key-file"), payee, ledger);
            exit_code = problem ? cli_usage_error(cli, "%s", problem) : CLI_EXIT_OK;
        }
        cairn__response__free_unpacked(response, NULL);
        response = NULL;
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
    }
    exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    answer_t answer = {.cli = cli, .request = request, .storage = storage, .response = response};
    if (cli->json)
        exit_code = cli_report_ok(cli, s_json_pay(&answer));
    else
        s_print_pay(&answer);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- pending, clear ---------------------------------------------------------------------------

static const char *s_build_pending(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    uint32_t limit;
    const char *after = cli_option(cli, "after");
    const char *problem = s_option_limit(cli, &limit);
    if (!problem && after)
        problem = cli_parse_hash(after, "--after", ledger->id);
    ca_request_ledger_pending(request, &ledger->body.pending, 0, s_peer_arg(cli), limit,
                              after ? ledger->id : NULL, after ? CA_HASH_BYTES : 0);
    return problem;
}

//  The payment id the next page starts after; only of a page with more.
static ProtobufCBinaryData s_pending_next(const Cairn__PaymentPage *page) {
    ProtobufCBinaryData none = {0, NULL};
    return page->n_payments ? page->payments[page->n_payments - 1]->id : none;
}

static void s_print_pending(const answer_t *answer) {
    const Cairn__PaymentPage *page = answer->response->ledger_pending;
    printf("%-64s  %20s  %-24s  %-24s  %s\n", "ID", "AMOUNT", "RECIPIENT", "TIME", "SHARES");
    for (size_t i = 0; i < page->n_payments; i++) {
        const Cairn__Payment *payment = page->payments[i];
        char time[CLI_TIME_TEXT];
        cli_format_time(payment->timestamp, time, sizeof time);
        cli_print_hex(payment->id);
        printf("  %20" PRIu64 "  %-24s  %-24s  %zu\n", payment->amount, payment->recipient, time,
               payment->n_provenance);
    }
    if (page->more) {
        printf("(more: --after ");
        cli_print_hex(s_pending_next(page));
        printf(")\n");
    }
}

static json_t *s_json_pending(const answer_t *answer) {
    const Cairn__PaymentPage *page = answer->response->ledger_pending;
    json_t *payments = json_array();
    for (size_t i = 0; i < page->n_payments; i++)
        if (!cli_json_append(payments, s_json_payment(page->payments[i]))) {
            json_decref(payments);
            return NULL;
        }
    json_t *object = json_pack("{s:o, s:b}", "payments", payments, "more", page->more);
    if (object && page->more)
        cli_json_set_hex(object, "next_after", s_pending_next(page));
    return object;
}

static const char *s_build_clear(const cli_t *cli, Cairn__Request *request, void *storage) {
    ledger_storage_t *ledger = storage;
    size_t count = (size_t)cli->arg_total;
    if (count > LEDGER_ROOM)
        return cli_problem("ledger clear takes at most %d ids here (the node takes 1000), not %zu",
                           LEDGER_ROOM, count);
    const char *problem = cli_parse_hash_list(cli->args, count, "ID", ledger->ids, ledger->id_list);
    ca_request_ledger_clear(request, &ledger->body.clear, 0, ledger->id_list, count);
    return problem;
}

static void s_print_clear(const answer_t *answer) {
    uint64_t cleared = answer->response->ledger_clear->cleared;
    printf("cleared %" PRIu64 " payment%s\n", cleared, cleared == 1 ? "" : "s");
}

static json_t *s_json_clear(const answer_t *answer) {
    return json_pack("{s:o}", "cleared", s_json_u64(answer->response->ledger_clear->cleared));
}

//  ---- the table
//  ----------------------------------------------------------------------------------

static const char s_update_details[] =
    "A new channel state both sides signed off elsewhere. --nonce must be greater than the\n"
    "channel's (a stale or replayed update is refused and changes nothing) and --mine plus\n"
    "--theirs must equal the channel's sum: money moves in or out only with `ledger adjust`.\n";

static const char s_adjust_details[] =
    "A deposit or withdrawal: adds the signed deltas to the balances (e.g. --theirs -50).\n"
    "A balance below zero, or above 2^63-1, is refused. Logged with --reason.\n";

static const char s_list_details[] =
    "A page holds up to --limit channels (default and most: 1000) after --after\n"
    "PEER, by peer id; a full page ends with \"(more: --after PEER)\" (JSON: \"more\"\n"
    "and \"next_after\") to ask for the next one.\n";

static const char s_pending_details[] =
    "A page holds up to --limit payments (default 1000, at most 10000) after payment\n"
    "--after PAYMENT_ID_HEX (64 hex digits: the last id of the previous page, even if\n"
    "it was cleared since); a full page ends with \"(more: --after PAYMENT_ID_HEX)\"\n"
    "(JSON: \"more\" and \"next_after\") to ask for the next one.\n";
static const char s_history_details[] =
    "The log of the channel's sum, oldest first: its opening (reason \"open\", the opening\n"
    "balances as deltas) and every `ledger adjust`. The deltas add up to mine + theirs;\n"
    "payments and updates move money inside the channel and are not listed. A page holds\n"
    "up to --limit entries (default and most: 1000) after --after SEQ; a full page ends with\n"
    "\"(more: --after SEQ)\" (JSON: \"more\" and \"next_after\").\n";

static const char s_pay_details[] =
    "Records a payment PEER made on its channel: moves --amount from their balance to mine.\n"
    "The node verifies the Ed25519 signature with PEER's key from the peers store (add the\n"
    "peer first: cairn peer add). Give the payer's --signature-hex, or --key-file with the\n"
    "payer's 64-byte secret key (raw or 128 hex digits) to sign here. --share ROOT:WEIGHT\n"
    "(repeatable) lists the content the payment pays for. --id defaults to 32 random bytes,\n"
    "--timestamp to now. A payment id seen before is refused and moves nothing.\n"
    "The signature (cairn-payment-v3) binds the payment to the payee node and an expiry:\n"
    "--payee PEER_ID (else the peer id the node shows in Info, asked first) and --expires T\n"
    "(unix seconds; else an hour from now; required with --signature-hex: the one signed).\n"
    "A node refuses a payment signed for another node, an expired one, and the older\n"
    "cairn-payment-v2 signatures.\n";

static const command_t s_rows[] = {
    {"ledger",
     "open",
     1,
     "PEER",
     "open a payment channel with PEER; print it",
     {{"state", "S", false}, {"mine", "N", false}, {"theirs", "N", false}, {"nonce", "N", false}},
     s_build_open,
     s_print_channel_answer,
     s_json_channel_answer,
     "--state is opening, open (the default), closing or closed; --mine and --theirs are\n"
     "the opening balances (default 0), logged as the channel's first deposit.\n",
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_OPEN}},
    {"ledger",
     "get",
     1,
     "PEER",
     "print the payment channel with PEER",
     {{NULL, NULL, false}},
     s_build_get,
     s_print_channel_answer,
     s_json_channel_answer,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_GET}},
    {"ledger",
     "update",
     1,
     "PEER",
     "set the channel's state and balances under a greater nonce",
     {{"nonce", "N", true}, {"mine", "N", true}, {"theirs", "N", true}, {"state", "S", false}},
     s_build_update,
     s_print_channel_answer,
     s_json_channel_answer,
     s_update_details,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_UPDATE}},
    {"ledger",
     "adjust",
     1,
     "PEER",
     "deposit or withdraw: add deltas to the balances, logged",
     {{"mine", "DELTA", false}, {"theirs", "DELTA", false}, {"reason", "TEXT", true}},
     s_build_adjust,
     s_print_channel_answer,
     s_json_channel_answer,
     s_adjust_details,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_ADJUST}},
    {"ledger",
     "history",
     1,
     "PEER",
     "deposits and withdrawals of PEER's channel, oldest first",
     {{"limit", "N", false}, {"after", "SEQ", false}},
     s_build_history,
     s_print_history,
     s_json_history,
     s_history_details,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_HISTORY}},
    {"ledger",
     "list",
     0,
     "",
     "open payment channels by peer id, one per line, a page at a time",
     {{"limit", "N", false}, {"after", "PEER", false}},
     s_build_list,
     s_print_list,
     s_json_list,
     s_list_details,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_LIST}},
    {"ledger",
     "pay",
     1,
     "PEER",
     "record a signed payment by PEER on its channel",
     {{"amount", "N", true},
      {"recipient", "PEER", true},
      {"query", "HASH", true},
      {"id", "HASH", false},
      {"share", "ROOT:WEIGHT...", false},
      {"timestamp", "T", false},
      {"signature-hex", "HEX", false},
      {"key-file", "FILE", false},
      {"payee", "PEER_ID", false},
      {"expires", "T", false}},
     s_build_pay,
     NULL,
     NULL,
     s_pay_details,
     s_run_pay,
     {CAIRN__REQUEST__BODY_LEDGER_PAY, CAIRN__REQUEST__BODY_INFO}},
    {"ledger",
     "pending",
     1,
     "PEER",
     "payments on PEER's channel not yet cleared, oldest first, a page at a time",
     {{"limit", "N", false}, {"after", "PAYMENT_ID_HEX", false}},
     s_build_pending,
     s_print_pending,
     s_json_pending,
     s_pending_details,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_PENDING}},
    {"ledger",
     "clear",
     1,
     "ID [ID...]",
     "mark payments cleared by id (again is harmless)",
     {{NULL, NULL, false}},
     s_build_clear,
     s_print_clear,
     s_json_clear,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_LEDGER_CLEAR}},
};

CLI_FAMILY(ledger, s_rows, ledger_storage_t);

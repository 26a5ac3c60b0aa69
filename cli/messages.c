/*  =========================================================================
    messages - the `cairn` client's message commands: msg, stats, vacuum

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command        request         answer
        -------------  --------------  ------------------
        msg send       MessageStore    MessageStored
        msg get        MessageGet      Message
        msg list       MessageList     MessagePage
        msg delete     MessageDelete   Deleted
        msg search     MessageSearch   MessagePage
        msg subscribe  MessageSubscribe MessagePush... (+ Ack, Unsubscribe)
        stats          MessageStats    MessageStatsReply
        vacuum         Vacuum          VacuumReply

    Signatures: in a signed channel the node checks a message's signature
    against its sender's key (schemas/messages.proto, "Signature"). The
    client either passes a signature made elsewhere (--signature-hex) or
    makes one with an Ed25519 secret key (--key-file) over the bytes
    message_encode builds (actors/wire/message_encoding.c, the node's own
    encoder). The secret key is wiped as soon as the signature is made.

    Output: a list is one line per message under a header; one message is
    a block of "field  value" lines. Content is text when it is UTF-8
    (control characters escaped) and "hex:..." otherwise; encrypted
    content is always hex. A full page ends with the cursor of the next
    one, printed exactly ("%.17g") so that it matches the stored timestamp.
    JSON: content as a string or content_base64 (always base64 when
    encrypted), signature and nonce as hex.
    ========================================================================= */

#include "cli.h"
#include "ca_clock.h"
#include "ca_status.h"
#include "message_encoding.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENDER_ID_ENV   CA_ENV_SENDER_ID
#define SENDER_NAME_ENV CA_ENV_SENDER_NAME
#define SENDER_DEFAULT  "cli"
#define KEY_FILE_MAX    512 //  room for 128 hex digits and blanks
#define CURSOR_TEXT     (64 + CLI_UUID_LEN)

//  ---- the family's storage ---------------------------------------------------------

//  msg send: the request, the message, and what they point at.
typedef struct {
    Cairn__MessageStore store;
    Cairn__Message message;
    char id[CLI_UUID_LEN + 1];
    uint8_t signature[CLI_SIG_BYTES];
    uint8_t nonce[CLI_NONCE_MAX];
    uint8_t signer[CLI_PUBKEY_BYTES]; //  public key, when signed here
    bool signed_here;
    bool sender_defaulted;                     //  no --sender-id nor CAIRN_SENDER_ID
    char signer_hex[2 * CLI_PUBKEY_BYTES + 1]; //  the sender id --key-file defaults to
} msg_send_t;

//  What one row's request points at.
typedef union {
    msg_send_t msg_send;
    Cairn__MessageList msg_list;
    Cairn__MessageGet msg_get;
    Cairn__MessageDelete msg_delete;
    Cairn__MessageSearch msg_search;
    Cairn__MessageSubscribe msg_subscribe;
    Cairn__MessageStats stats;
    Cairn__Vacuum vacuum;
} messages_storage_t;

//  ---- msg send: id, sender, content -------------------------------------------------

//  A random version-4 UUID, lower-case, into id (CLI_UUID_LEN + 1).
static void s_uuid4(char *id) {
    uint8_t bytes[16];
    randombytes_buf(bytes, sizeof bytes);
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40); //  version 4
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80); //  RFC 4122 variant
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    snprintf(id, CLI_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

//  The option, else the environment variable, else "cli".
static char *s_sender_field(const cli_t *cli, const char *option, const char *env) {
    const char *value = cli_option(cli, option);
    if (!value) {
        value = getenv(env);
        if (!value || !*value)
            value = SENDER_DEFAULT;
    }
    return (char *)value;
}

//  Id, timestamp and sender of the message being sent.
static const char *s_message_identity(const cli_t *cli, msg_send_t *send) {
    Cairn__Message *message = &send->message;
    const char *id = cli_option(cli, "id");
    if (id)
        message->id = (char *)id;
    else {
        s_uuid4(send->id);
        message->id = send->id;
    }
    const char *timestamp = cli_option(cli, "timestamp");
    message->timestamp = ca_now_seconds();
    if (timestamp) {
        const char *problem = cli_parse_time(timestamp, "--timestamp", &message->timestamp);
        if (problem)
            return problem;
    }
    message->sender_id = s_sender_field(cli, "sender-id", SENDER_ID_ENV);
    const char *env_sender = getenv(SENDER_ID_ENV);
    send->sender_defaulted = !cli_option(cli, "sender-id") && (!env_sender || !*env_sender);
    message->sender_name = s_sender_field(cli, "sender-name", SENDER_NAME_ENV);
    return NULL;
}

//  Channel, content, and for --encrypted the ciphertext (TEXT as hex,
//  decoded in place in argv) and its nonce.
static const char *s_message_content(const cli_t *cli, msg_send_t *send) {
    Cairn__Message *message = &send->message;
    message->channel = cli->args[0];
    char *text = cli->args[1];
    bool encrypted = cli_option(cli, "encrypted") != NULL;
    const char *nonce_hex = cli_option(cli, "nonce-hex");
    if (!encrypted) {
        if (nonce_hex)
            return "--nonce-hex goes with --encrypted (a clear message has no nonce)";
        message->content = cli_bytes(text);
        return NULL;
    }
    if (!nonce_hex)
        return "--encrypted needs --nonce-hex HEX, the nonce the content was encrypted with";
    message->encrypted = true;
    size_t length = 0;
    const char *problem =
        cli_parse_hex(nonce_hex, "--nonce-hex", send->nonce, CLI_NONCE_MAX, &length);
    if (problem)
        return problem;
    message->nonce = (ProtobufCBinaryData){length, send->nonce};
    problem = cli_parse_hex(text, "TEXT (the ciphertext as hex, with --encrypted)", (uint8_t *)text,
                            strlen(text) / 2, &length);
    if (problem)
        return problem;
    message->content = (ProtobufCBinaryData){length, (uint8_t *)text};
    return NULL;
}

//  ---- msg send: signature -------------------------------------------------------------

const char *cli_load_secret_key(const char *path, uint8_t key[crypto_sign_SECRETKEYBYTES]) {
    uint8_t text[KEY_FILE_MAX];
    size_t length = 0;
    const char *problem = cli_read_file(path, "key file", text, sizeof text, &length);
    if (!problem && length != crypto_sign_SECRETKEYBYTES) {
        length = cli_trim_end(text, length);
        text[length < sizeof text ? length : sizeof text - 1] = '\0';
        if (length != 2 * crypto_sign_SECRETKEYBYTES || !cli_is_hex(text, length))
            problem = cli_problem("key file '%s' holds no Ed25519 secret key: want libsodium's "
                                  "64-byte form (seed + public key), raw or as 128 hex digits",
                                  path);
        else
            problem =
                cli_parse_hex((char *)text, "key file", key, crypto_sign_SECRETKEYBYTES, &length);
    } else if (!problem)
        memcpy(key, text, crypto_sign_SECRETKEYBYTES);
    sodium_memzero(text, sizeof text);
    if (problem)
        return problem;
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES], derived[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(public_key, derived, key);
    bool matches = sodium_memcmp(public_key, key + crypto_sign_SEEDBYTES, sizeof public_key) == 0;
    sodium_memzero(derived, sizeof derived);
    if (!matches)
        return cli_problem("key file '%s' is not an Ed25519 secret key: its last 32 bytes are "
                           "not the public key of its first 32",
                           path);
    return NULL;
}

//  Signs the message with the key in `path`; the key is wiped after.
static const char *s_sign_with_key_file(const char *path, msg_send_t *send) {
    uint8_t key[crypto_sign_SECRETKEYBYTES];
    const char *problem = cli_load_secret_key(path, key);
    if (!problem) {
        //  Signed here and no sender given: the sender is the key's own
        //  peer id (its hex, as a node's), which the node must know.
        if (send->sender_defaulted) {
            sodium_bin2hex(send->signer_hex, sizeof send->signer_hex, key + crypto_sign_SEEDBYTES,
                           CLI_PUBKEY_BYTES);
            send->message.sender_id = send->signer_hex;
        }
        //  The bytes schemas/messages.proto defines, from the node's own
        //  encoder (actors/wire/message_encoding.c).
        if (message_sign(&send->message, key, send->signature)) {
            memcpy(send->signer, key + crypto_sign_SEEDBYTES, sizeof send->signer);
            send->signed_here = true;
        } else
            problem = "out of memory building the bytes to sign";
    }
    sodium_memzero(key, sizeof key);
    return problem;
}

static const char *s_message_signature(const cli_t *cli, msg_send_t *send) {
    const char *signature_hex = cli_option(cli, "signature-hex");
    const char *key_file = cli_option(cli, "key-file");
    if (signature_hex && key_file)
        return "give --signature-hex or --key-file, not both";
    if (!signature_hex && !key_file)
        return "msg send needs a signature: --signature-hex HEX (64 bytes made elsewhere) or "
               "--key-file FILE to sign here (see cairn msg send --help)";
    send->message.signature = (ProtobufCBinaryData){CLI_SIG_BYTES, send->signature};
    if (key_file)
        return s_sign_with_key_file(key_file, send);
    size_t length = 0;
    const char *problem =
        cli_parse_hex(signature_hex, "--signature-hex", send->signature, CLI_SIG_BYTES, &length);
    if (!problem && length != CLI_SIG_BYTES)
        problem = cli_problem("--signature-hex wants %d hex digits (an Ed25519 signature), not %zu",
                              2 * CLI_SIG_BYTES, 2 * length);
    return problem;
}

static const char *s_build_msg_send(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    msg_send_t *send = &body->msg_send;
    cairn__message_store__init(&send->store);
    cairn__message__init(&send->message);
    send->store.message = &send->message;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
    request->message_store = &send->store;
    const char *problem = s_message_identity(cli, send);
    if (!problem)
        problem = s_message_content(cli, send);
    if (!problem)
        problem = s_message_signature(cli, send);
    return problem;
}

static void s_print_msg_send(const answer_t *answer) {
    const messages_storage_t *body = answer->storage;
    const msg_send_t *send = &body->msg_send;
    printf("stored %s in %s", answer->response->message_store->id, send->message.channel);
    if (send->signed_here) {
        printf(" (signed by ");
        cli_print_hex((ProtobufCBinaryData){CLI_PUBKEY_BYTES, (uint8_t *)send->signer});
        printf(")");
    }
    printf("\n");
}

static json_t *s_json_msg_send(const answer_t *answer) {
    const messages_storage_t *body = answer->storage;
    const msg_send_t *send = &body->msg_send;
    json_t *object =
        json_pack("{s:s, s:s, s:f}", "id", answer->response->message_store->id, "channel",
                  send->message.channel, "timestamp", send->message.timestamp);
    if (object)
        cli_json_set_hex(object, "signed_by",
                         (ProtobufCBinaryData){send->signed_here ? CLI_PUBKEY_BYTES : 0,
                                               (uint8_t *)send->signer});
    return object;
}

//  ---- messages: printing ---------------------------------------------------------------

static void s_print_content(const Cairn__Message *message) {
    if (message->encrypted) {
        printf("hex:");
        cli_print_hex(message->content);
    } else
        cli_print_inline(message->content);
}

static void s_print_message(const Cairn__Message *message) {
    char time[CLI_TIME_TEXT];
    cli_format_time(message->timestamp, time, sizeof time);
    printf("message %s\n", message->id);
    printf("  %-15s %s\n", "channel", message->channel);
    printf("  %-15s %s (%.6f)\n", "time", time, message->timestamp);
    printf("  %-15s %s (id %s)\n", "sender", message->sender_name, message->sender_id);
    printf("  %-15s %s", "encrypted", message->encrypted ? "yes, nonce " : "no");
    if (message->encrypted)
        cli_print_hex(message->nonce);
    printf("\n  %-15s ", "signature");
    cli_print_hex(message->signature);
    printf("\n  %-15s ", "content");
    s_print_content(message);
    printf("\n");
}

static void s_print_message_table(const Cairn__MessagePage *page) {
    if (page->n_messages == 0) {
        printf("(no messages)\n");
        return;
    }
    printf("%-24s  %-36s  %-12s  %s\n", "TIME", "ID", "SENDER", "CONTENT");
    for (size_t i = 0; i < page->n_messages; i++) {
        const Cairn__Message *message = page->messages[i];
        char time[CLI_TIME_TEXT];
        cli_format_time(message->timestamp, time, sizeof time);
        printf("%-24s  %-36s  %-12s  ", time, message->id, message->sender_name);
        s_print_content(message);
        printf("\n");
    }
}

static json_t *s_json_message(const Cairn__Message *message) {
    json_t *object =
        json_pack("{s:s, s:s, s:f, s:s, s:s, s:b}", "id", message->id, "channel", message->channel,
                  "timestamp", message->timestamp, "sender_id", message->sender_id, "sender_name",
                  message->sender_name, "encrypted", message->encrypted);
    if (!object)
        return NULL;
    //  Ciphertext is bytes even when they happen to be valid UTF-8.
    if (message->encrypted)
        cli_json_set_base64(object, "content", message->content);
    else
        cli_json_set_bytes(object, "content", message->content);
    cli_json_set_hex(object, "signature", message->signature);
    cli_json_set_hex(object, "nonce", message->nonce);
    return object;
}

static json_t *s_json_messages(const Cairn__MessagePage *page) {
    json_t *array = json_array();
    for (size_t i = 0; i < page->n_messages; i++)
        if (!cli_json_append(array, s_json_message(page->messages[i]))) {
            json_decref(array);
            return NULL;
        }
    return array;
}

//  ---- msg get / list / search / delete ---------------------------------------------------

static const char *s_build_msg_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    Cairn__MessageGet *get = &body->msg_get;
    cairn__message_get__init(get);
    get->id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_GET;
    request->message_get = get;
    return NULL;
}

static void s_print_msg_get(const answer_t *answer) {
    s_print_message(answer->response->message_get);
}

static json_t *s_json_msg_get(const answer_t *answer) {
    return s_json_message(answer->response->message_get);
}

//  "--before T:ID": the timestamp and id of the last message seen (the
//  next page holds what sorts after it); "--before T": older than T.
static const char *s_parse_cursor(const char *text, Cairn__MessageList *list) {
    char *end = NULL;
    errno = 0;
    double timestamp = strtod(text, &end);
    bool with_id = end != text && *end == ':' && end[1] != '\0';
    if (errno != 0 || end == text || (*end != '\0' && !with_id) || !(timestamp >= 0) ||
        !isfinite(timestamp))
        return cli_problem("--before wants T:ID, the timestamp and id of the last message of "
                           "the previous page (as msg list prints it), or T alone, not '%s'",
                           text);
    list->before_timestamp = timestamp;
    if (with_id)
        list->before_id = end + 1;
    return NULL;
}

static const char *s_build_msg_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    Cairn__MessageList *list = &body->msg_list;
    cairn__message_list__init(list);
    list->channel = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_LIST;
    request->message_list = list;
    const char *limit = cli_option(cli, "limit"), *offset = cli_option(cli, "offset");
    const char *since = cli_option(cli, "since"), *before = cli_option(cli, "before");
    const char *problem = NULL;
    if (offset && before)
        return "give --offset or --before, not both (two ways to page)";
    if (limit)
        problem = cli_parse_u32(limit, "--limit", 1, UINT32_MAX, &list->limit);
    if (!problem && offset)
        problem = cli_parse_u32(offset, "--offset", 0, UINT32_MAX, &list->offset);
    if (!problem && since)
        problem = cli_parse_time(since, "--since", &list->since);
    if (!problem && before)
        problem = s_parse_cursor(before, list);
    return problem;
}

//  The cursor of the next page: the last message's exact timestamp and id.
static void s_format_cursor(const Cairn__MessagePage *page, char *text, size_t size) {
    const Cairn__Message *last = page->messages[page->n_messages - 1];
    snprintf(text, size, "%.17g:%s", last->timestamp, last->id);
}

static void s_print_msg_list(const answer_t *answer) {
    const messages_storage_t *body = answer->storage;
    const Cairn__MessagePage *page = answer->response->message_list;
    s_print_message_table(page);
    if (!page->more || page->n_messages == 0)
        return;
    const Cairn__MessageList *sent = &body->msg_list;
    if (cli_option(answer->cli, "offset"))
        printf("(more: --offset %zu)\n", (size_t)sent->offset + page->n_messages);
    else {
        char cursor[CURSOR_TEXT];
        s_format_cursor(page, cursor, sizeof cursor);
        printf("(more: --before %s)\n", cursor);
    }
}

static json_t *s_json_msg_list(const answer_t *answer) {
    const Cairn__MessagePage *page = answer->response->message_list;
    json_t *messages = s_json_messages(page);
    if (!messages)
        return NULL;
    json_t *object = json_pack("{s:s, s:o, s:b}", "channel", answer->cli->args[0], "messages",
                               messages, "more", page->more);
    if (object && page->more && page->n_messages > 0) {
        char cursor[CURSOR_TEXT];
        s_format_cursor(page, cursor, sizeof cursor);
        json_object_set_new(object, "next_before", json_string(cursor));
    }
    return object;
}

static const char *s_build_msg_search(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    Cairn__MessageSearch *search = &body->msg_search;
    cairn__message_search__init(search);
    search->query = cli->args[0];
    const char *channel = cli_option(cli, "channel"), *limit = cli_option(cli, "limit");
    if (channel)
        search->channel = (char *)channel;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_SEARCH;
    request->message_search = search;
    return limit ? cli_parse_u32(limit, "--limit", 1, UINT32_MAX, &search->limit) : NULL;
}

static void s_print_msg_search(const answer_t *answer) {
    const Cairn__MessagePage *page = answer->response->message_search;
    s_print_message_table(page);
    if (page->more)
        printf("(more matches: raise --limit)\n");
}

static json_t *s_json_msg_search(const answer_t *answer) {
    const Cairn__MessagePage *page = answer->response->message_search;
    json_t *messages = s_json_messages(page);
    if (!messages)
        return NULL;
    return json_pack("{s:s, s:o, s:b}", "query", answer->cli->args[0], "messages", messages, "more",
                     page->more);
}

static const char *s_build_msg_delete(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    Cairn__MessageDelete *delete = &body->msg_delete;
    cairn__message_delete__init(delete);
    const char *channel = cli_option(cli, "channel"), *before = cli_option(cli, "before");
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_DELETE;
    request->message_delete = delete;
    if (!channel && !before)
        return "msg delete needs --channel C, --before T or both (it never deletes everything "
               "by accident)";
    if (channel)
        delete->channel = (char *)channel;
    return before ? cli_parse_time(before, "--before", &delete->before) : NULL;
}

static void s_print_msg_delete(const answer_t *answer) {
    printf("deleted %" PRIu64 " messages\n", answer->response->message_delete->count);
}

static json_t *s_json_msg_delete(const answer_t *answer) {
    return json_pack("{s:I}", "count", (json_int_t)answer->response->message_delete->count);
}

//  ---- stats / vacuum ---------------------------------------------------------------------

static const char *s_build_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    cairn__message_stats__init(&body->stats);
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_STATS;
    request->message_stats = &body->stats;
    return NULL;
}

static void s_print_stats(const answer_t *answer) {
    const Cairn__MessageStatsReply *stats = answer->response->message_stats;
    char size[32];
    cli_format_bytes(stats->db_size_bytes, size, sizeof size);
    printf("message store at %s\n", answer->cli->endpoint);
    printf("  %-15s %" PRIu64 "\n", "messages", stats->messages);
    printf("  %-15s %" PRIu64 "\n", "channels", stats->channels);
    printf("  %-15s %" PRIu64 "\n", "peers", stats->peers);
    printf("  %-15s %s (%" PRIu64 " bytes with the WAL)\n", "database", size, stats->db_size_bytes);
    cli_print_field_time("oldest message", stats->has_messages ? stats->oldest_timestamp : 0);
    cli_print_field_time("newest message", stats->has_messages ? stats->newest_timestamp : 0);
}

static json_t *s_json_time_or_null(bool present, double seconds) {
    return present ? json_real(seconds) : json_null();
}

json_t *cli_json_message_stats(const Cairn__MessageStatsReply *stats) {
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:b, s:o, s:o}", "messages", (json_int_t)stats->messages, "channels",
        (json_int_t)stats->channels, "peers", (json_int_t)stats->peers, "db_size_bytes",
        (json_int_t)stats->db_size_bytes, "has_messages", stats->has_messages, "oldest_timestamp",
        s_json_time_or_null(stats->has_messages, stats->oldest_timestamp), "newest_timestamp",
        s_json_time_or_null(stats->has_messages, stats->newest_timestamp));
}

static json_t *s_json_stats(const answer_t *answer) {
    return cli_json_message_stats(answer->response->message_stats);
}

static const char *s_build_vacuum(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    cairn__vacuum__init(&body->vacuum);
    request->body_case = CAIRN__REQUEST__BODY_VACUUM;
    request->vacuum = &body->vacuum;
    return NULL;
}

static void s_print_vacuum(const answer_t *answer) {
    const Cairn__VacuumReply *reply = answer->response->vacuum;
    char before[32], after[32], reclaimed[32];
    cli_format_bytes(reply->bytes_before, before, sizeof before);
    cli_format_bytes(reply->bytes_after, after, sizeof after);
    cli_format_bytes(reply->bytes_reclaimed, reclaimed, sizeof reclaimed);
    printf("vacuumed: %s -> %s (reclaimed %s)\n", before, after, reclaimed);
}

static json_t *s_json_vacuum(const answer_t *answer) {
    const Cairn__VacuumReply *reply = answer->response->vacuum;
    return json_pack("{s:I, s:I, s:I}", "bytes_before", (json_int_t)reply->bytes_before,
                     "bytes_after", (json_int_t)reply->bytes_after, "bytes_reclaimed",
                     (json_int_t)reply->bytes_reclaimed);
}

//  ---- details for `cairn COMMAND --help` ------------------------------------------------------

static const char s_msg_send_details[] =
    "CHANNEL must exist (cairn channel create). Defaults: --id a random UUIDv4;\n"
    "--timestamp now; --sender-id and --sender-name from " SENDER_ID_ENV " and\n" SENDER_NAME_ENV
    ", else \"" SENDER_DEFAULT "\" (with --key-file, the sender id defaults to the\n"
    "key's public key in hex, the peer id a node has).\n"
    "With --encrypted, TEXT is the ciphertext as hex (the client does not\n"
    "encrypt) and --nonce-hex is required.\n\n"
    "Signature (required, one of the two):\n"
    "  --signature-hex HEX  an Ed25519 signature made elsewhere, 128 hex digits\n"
    "  --key-file FILE      sign here with an Ed25519 secret key in libsodium's\n"
    "                       64-byte form (seed + public key), raw or as 128 hex\n"
    "                       digits; the output names the public key (signed_by)\n"
    "In a signed channel (the default) the node checks the signature with the\n"
    "public key of the peer named by --sender-id (add it with cairn peer add), and\n"
    "refuses a wrong one (unauthorized) or an unknown sender (not found); a channel\n"
    "created --unsigned takes any 64 bytes. --key-file signs (crypto_sign_detached)\n"
    "these bytes (schemas/messages.proto, \"Signature\"):\n"
    "  \"" MESSAGE_DOMAIN "\" (16 bytes), then in cairn.proto field order\n"
    "  id, timestamp, sender_id, sender_name, channel, content, encrypted, nonce,\n"
    "  where a text or bytes field is a u32 big-endian length then its bytes,\n"
    "  timestamp the 8 big-endian bytes of its IEEE-754 double, and encrypted\n"
    "  one byte, 0 or 1. The signature itself is not covered.\n";

static const char s_msg_list_details[] =
    "Newest first. Page with --offset N, or better with --before T:ID, the cursor\n"
    "of the last message of the previous page: it is printed after a full page as\n"
    "\"(more: --before T:ID)\" (JSON: \"next_before\"). --before T alone lists\n"
    "messages older than T; --since T those newer than T. --limit defaults to the\n"
    "node's (100; at most 1000).\n";

//  ---- the table ---------------------------------------------------------------------------------

//  ---- msg subscribe ---------------------------------------------------------------

static const char *s_build_msg_subscribe(const cli_t *cli, Cairn__Request *request, void *storage) {
    messages_storage_t *body = storage;
    Cairn__MessageSubscribe *subscribe = &body->msg_subscribe;
    cairn__message_subscribe__init(subscribe);
    subscribe->channel = cli->args[0];
    subscribe->lease_ms = CLI_SUBSCRIBE_LEASE_MS;
    const char *problem =
        cli_subscribe_from(cli, "from", &subscribe->after_seq, &subscribe->from_now);
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE;
    request->message_subscribe = subscribe;
    return problem;
}

static void s_print_subscribed(const cli_t *cli, const Cairn__SubscribedMessage *item) {
    if (cli->json) {
        json_t *object = s_json_message(item->message);
        if (object) {
            json_object_set_new(object, "seq", json_integer((json_int_t)item->seq));
            json_dumpf(object, stdout, JSON_COMPACT);
            json_decref(object);
        }
        printf("\n");
    } else {
        printf("%" PRIu64 "\t%s\t%s\t", item->seq, item->message->id, item->message->sender_name);
        s_print_content(item->message);
        printf("\n");
    }
}

static uint64_t s_print_pushed(const cli_t *cli, const Cairn__Response *response, size_t index) {
    const Cairn__SubscribedMessage *item = response->message_subscribe->messages[index];
    s_print_subscribed(cli, item);
    return item->seq;
}

static int s_run_msg_subscribe(const cli_t *cli, Cairn__Request *request, void *storage,
                               cli_conn_t *conn) {
    (void)storage;
    return cli_subscribe_run(cli, request, conn, "--from", s_print_pushed);
}

static const char s_msg_subscribe_details[] =
    "Prints a channel's messages as they are committed, one per line (seq, id,\n"
    "sender name, content; --json: one object per line with \"seq\"), until\n"
    "--count messages or Ctrl-C. Without --from it starts from now; --from SEQ\n"
    "prints every message with a larger seq first. At the end it prints the\n"
    "cursor on stderr: `--from` it to resume without a gap or a repeat.\n";

static const command_t s_rows[] = {
    {"msg",
     "send",
     2,
     "CHANNEL TEXT",
     "store a signed message in CHANNEL; print its id",
     {{"id", "UUID", false},
      {"sender-id", "ID", false},
      {"sender-name", "NAME", false},
      {"timestamp", "T", false},
      {"encrypted", NULL, false},
      {"nonce-hex", "HEX", false},
      {"signature-hex", "HEX", false},
      {"key-file", "FILE", false}},
     s_build_msg_send,
     s_print_msg_send,
     s_json_msg_send,
     s_msg_send_details,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_STORE}},
    {"msg",
     "get",
     1,
     "ID",
     "print one message",
     {{NULL, NULL, false}},
     s_build_msg_get,
     s_print_msg_get,
     s_json_msg_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_GET}},
    {"msg",
     "list",
     1,
     "CHANNEL",
     "a channel's messages, newest first, one per line",
     {{"limit", "N", false},
      {"offset", "N", false},
      {"since", "T", false},
      {"before", "T[:ID]", false}},
     s_build_msg_list,
     s_print_msg_list,
     s_json_msg_list,
     s_msg_list_details,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_LIST}},
    {"msg",
     "delete",
     0,
     "",
     "delete a channel's messages and/or those before T",
     {{"channel", "C", false}, {"before", "T", false}},
     s_build_msg_delete,
     s_print_msg_delete,
     s_json_msg_delete,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_DELETE}},
    {"msg",
     "search",
     1,
     "QUERY",
     "full-text search (FTS5 syntax) of clear messages",
     {{"channel", "C", false}, {"limit", "N", false}},
     s_build_msg_search,
     s_print_msg_search,
     s_json_msg_search,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_SEARCH}},
    {"msg",
     "subscribe",
     1,
     "CHANNEL",
     "print a channel's new messages as they come (seq cursors)",
     {{"from", "SEQ", false}, {"count", "N", false}},
     s_build_msg_subscribe,
     NULL,
     NULL,
     s_msg_subscribe_details,
     s_run_msg_subscribe,
     {CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE, CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK,
      CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE}},
    {"stats",
     NULL,
     0,
     "",
     "message, channel and peer counts, database size",
     {{NULL, NULL, false}},
     s_build_stats,
     s_print_stats,
     s_json_stats,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MESSAGE_STATS}},
    {"vacuum",
     NULL,
     0,
     "",
     "compact the database; print the bytes reclaimed",
     {{NULL, NULL, false}},
     s_build_vacuum,
     s_print_vacuum,
     s_json_vacuum,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_VACUUM}},
};

CLI_FAMILY(messages, s_rows, messages_storage_t);

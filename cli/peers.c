/*  =========================================================================
    peers - the `cairn` client's peer commands

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command                 request      answer
        ----------------------  -----------  ----------
        peer add                PeerPut      Peer
        peer get                PeerGet      Peer
        peer list               PeerList     PeerPage
        peer status             PeerStatus   Peer
        peer block / unblock    PeerBlock    Peer
        peer connect            PeerConnect  PeerSession     (the peer actor,
        peer disconnect         PeerDisconnect PeerSession    schemas/sessions.proto)
        peer sessions           PeerSessions PeerSessionList
        content fetch           ContentFetch ContentFetched  (from peers, kept in the cache)

    Keys: `peer add --key` takes 64 hex digits, base64 text or @FILE. Hex
    and 32 raw bytes travel as Peer.public_key; text (base64, PEM) travels
    as PeerPut.public_key_text and the node decides whether it is a key.
    JSON shows the key as hex.
    ========================================================================= */

#include "blob.h"
#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  ---- the family's storage ---------------------------------------------------------

//  peer add: the request, the peer, and the key they point at.
typedef struct {
    Cairn__PeerPut put;
    Cairn__Peer peer;
    uint8_t key[CLI_PUBKEY_BYTES];
    char key_text[CLI_KEY_TEXT_MAX + 1];
} peer_put_t;

//  What one row's request points at.
typedef union {
    peer_put_t peer_put;
    Cairn__PeerGet peer_get;
    Cairn__PeerList peer_list;
    Cairn__PeerStatus peer_status;
    Cairn__PeerBlock peer_block;
    struct {
        Cairn__PeerConnect connect;
        char address[64];
    } peer_connect;
    Cairn__PeerDisconnect peer_disconnect;
    Cairn__PeerSessions peer_sessions;
    Cairn__PeerReconcile peer_reconcile;
    struct {
        Cairn__ContentFetch fetch;
        uint8_t hash[CA_HASH_BYTES];
    } content_fetch;
} peers_storage_t;

//  ---- peers: key and state -----------------------------------------------------------------

static const char *const s_state_names[] = {
    [CAIRN__PEER_STATE__PEER_UNKNOWN] = "unknown",
    [CAIRN__PEER_STATE__PEER_ONLINE] = "online",
    [CAIRN__PEER_STATE__PEER_OFFLINE] = "offline",
};
#define STATE_COUNT (sizeof s_state_names / sizeof s_state_names[0])

static const char *s_state_name(Cairn__PeerState state) {
    return cli_enum_name(s_state_names, STATE_COUNT, (int)state, "?");
}

//  `what` names the argument: --state, or STATE.
static const char *s_parse_state(const char *text, const char *what, Cairn__PeerState *state) {
    int value = 0;
    const char *problem = cli_parse_enum(text, what, s_state_names, STATE_COUNT, &value);
    *state = (Cairn__PeerState)value;
    return problem;
}

//  Key text read from an @FILE: 32 raw bytes or 64 hex digits go as the
//  key's bytes; anything else (base64, PEM) as text for the node to parse.
static const char *s_peer_key_file(const char *path, peer_put_t *put) {
    size_t length = 0;
    uint8_t *text = (uint8_t *)put->key_text;
    const char *problem = cli_read_file(path, "key file", text, CLI_KEY_TEXT_MAX, &length);
    if (problem)
        return problem;
    if (length == CLI_PUBKEY_BYTES) {
        memcpy(put->key, text, CLI_PUBKEY_BYTES);
        put->peer.public_key = (ProtobufCBinaryData){CLI_PUBKEY_BYTES, put->key};
        return NULL;
    }
    length = cli_trim_end(text, length);
    put->key_text[length] = '\0';
    if (strlen(put->key_text) != length)
        return cli_problem("key file '%s' holds a NUL byte; want base64 or PEM text", path);
    if (length != 2 * CLI_PUBKEY_BYTES || !cli_is_hex(text, length)) {
        put->put.public_key_text = put->key_text;
        return NULL;
    }
    put->peer.public_key = (ProtobufCBinaryData){CLI_PUBKEY_BYTES, put->key};
    return cli_parse_hex(put->key_text, "the key file", put->key, CLI_PUBKEY_BYTES, &length);
}

//  --key: 64 hex digits, @FILE, or base64 text.
static const char *s_peer_key(const char *key, peer_put_t *put) {
    if (key[0] == '@')
        return s_peer_key_file(key + 1, put);
    size_t length = strlen(key);
    if (length == 2 * CLI_PUBKEY_BYTES && cli_is_hex((const uint8_t *)key, length)) {
        put->peer.public_key = (ProtobufCBinaryData){CLI_PUBKEY_BYTES, put->key};
        return cli_parse_hex(key, "--key", put->key, CLI_PUBKEY_BYTES, &length);
    }
    put->put.public_key_text = (char *)key;
    return NULL;
}

//  ---- peer add / get / list ------------------------------------------------------------------

static const char *s_build_peer_add(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    peer_put_t *put = &body->peer_put;
    cairn__peer_put__init(&put->put);
    cairn__peer__init(&put->peer);
    put->put.peer = &put->peer;
    put->peer.peer_id = cli->args[0];
    put->peer.address = (char *)cli_option(cli, "address");
    const char *name = cli_option(cli, "name");
    if (name)
        put->peer.display_name = (char *)name;
    request->body_case = CAIRN__REQUEST__BODY_PEER_PUT;
    request->peer_put = &put->put;
    const char *problem =
        cli_parse_u32(cli_option(cli, "port"), "--port", 0, UINT32_MAX, &put->peer.port);
    return problem ? problem : s_peer_key(cli_option(cli, "key"), put);
}

//  "addr:port", IPv6 in brackets.
static void s_format_address(const Cairn__Peer *peer, char *text, size_t size) {
    bool v6 = strchr(peer->address, ':') != NULL;
    snprintf(text, size, "%s%s%s:%" PRIu32, v6 ? "[" : "", peer->address, v6 ? "]" : "",
             peer->port);
}

static void s_print_peer_add(const answer_t *answer) {
    const Cairn__Peer *peer = answer->response->peer_put;
    char address[128];
    s_format_address(peer, address, sizeof address);
    printf("saved peer %s at %s, key ", peer->peer_id, address);
    cli_print_hex(peer->public_key);
    printf("\n");
}

static json_t *s_json_peer(const Cairn__Peer *peer) {
    json_t *object =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:f, s:b, s:f}", "peer_id", peer->peer_id,
                  "display_name", peer->display_name, "address", peer->address, "port",
                  (json_int_t)peer->port, "state", s_state_name(peer->state), "last_seen",
                  peer->last_seen, "blocked", peer->blocked, "created_at", peer->created_at);
    if (object)
        cli_json_set_hex(object, "public_key", peer->public_key);
    return object;
}

static json_t *s_json_peer_add(const answer_t *answer) {
    return s_json_peer(answer->response->peer_put);
}

static const char *s_build_peer_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    Cairn__PeerGet *get = &body->peer_get;
    cairn__peer_get__init(get);
    get->peer_id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_PEER_GET;
    request->peer_get = get;
    return NULL;
}

static void s_print_peer(const Cairn__Peer *peer) {
    char address[128];
    s_format_address(peer, address, sizeof address);
    printf("peer %s\n", peer->peer_id);
    printf("  %-15s %s\n", "name", peer->display_name[0] ? peer->display_name : "-");
    printf("  %-15s %s\n", "address", address);
    printf("  %-15s ", "public key");
    cli_print_hex(peer->public_key);
    printf("\n  %-15s %s\n", "state", s_state_name(peer->state));
    cli_print_field_time("last seen", peer->last_seen);
    printf("  %-15s %s\n", "blocked", peer->blocked ? "yes" : "no");
    cli_print_field_time("created", peer->created_at);
}

static void s_print_peer_get(const answer_t *answer) {
    s_print_peer(answer->response->peer_get);
}

static json_t *s_json_peer_get(const answer_t *answer) {
    return s_json_peer(answer->response->peer_get);
}

static const char *s_build_peer_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    Cairn__PeerList *list = &body->peer_list;
    cairn__peer_list__init(list);
    request->body_case = CAIRN__REQUEST__BODY_PEER_LIST;
    request->peer_list = list;
    const char *state = cli_option(cli, "state"), *limit = cli_option(cli, "limit");
    const char *after = cli_option(cli, "after");
    list->by_state = state != NULL;
    if (after)
        list->after_peer_id = (char *)after;
    const char *problem = state ? s_parse_state(state, "--state", &list->state) : NULL;
    if (!problem && limit)
        problem = cli_parse_u32(limit, "--limit", 1, UINT32_MAX, &list->limit);
    return problem;
}

static void s_print_peer_list(const answer_t *answer) {
    const Cairn__PeerPage *page = answer->response->peer_list;
    if (page->n_peers == 0) {
        printf("(no peers)\n");
        return;
    }
    printf("%-24s  %-7s  %-7s  %-28s  %-24s  %s\n", "PEER", "STATE", "BLOCKED", "ADDRESS",
           "LAST SEEN", "NAME");
    for (size_t i = 0; i < page->n_peers; i++) {
        const Cairn__Peer *peer = page->peers[i];
        char address[128], time[CLI_TIME_TEXT];
        s_format_address(peer, address, sizeof address);
        cli_format_time(peer->last_seen, time, sizeof time);
        printf("%-24s  %-7s  %-7s  %-28s  %-24s  %s\n", peer->peer_id, s_state_name(peer->state),
               peer->blocked ? "yes" : "no", address, time,
               peer->display_name[0] ? peer->display_name : "-");
    }
    if (page->more)
        printf("(more: --after %s)\n", page->peers[page->n_peers - 1]->peer_id);
}

static json_t *s_json_peer_list(const answer_t *answer) {
    const Cairn__PeerPage *page = answer->response->peer_list;
    json_t *peers = json_array();
    for (size_t i = 0; i < page->n_peers; i++)
        if (!cli_json_append(peers, s_json_peer(page->peers[i]))) {
            json_decref(peers);
            return NULL;
        }
    json_t *object = json_pack("{s:o, s:b}", "peers", peers, "more", page->more);
    if (object && page->more && page->n_peers > 0)
        json_object_set_new(object, "next_after",
                            json_string(page->peers[page->n_peers - 1]->peer_id));
    return object;
}

//  ---- peer status / block / unblock -----------------------------------------------------------

static const char *s_build_peer_status(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    Cairn__PeerStatus *status = &body->peer_status;
    cairn__peer_status__init(status);
    status->peer_id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_PEER_STATUS;
    request->peer_status = status;
    const char *problem = s_parse_state(cli->args[1], "STATE", &status->state);
    const char *last_seen = cli_option(cli, "last-seen");
    if (!problem && last_seen)
        problem = cli_parse_time(last_seen, "--last-seen", &status->last_seen);
    return problem;
}

static void s_print_peer_status(const answer_t *answer) {
    const Cairn__Peer *peer = answer->response->peer_status;
    char time[CLI_TIME_TEXT];
    cli_format_time(peer->last_seen, time, sizeof time);
    printf("%s is %s, last seen %s\n", peer->peer_id, s_state_name(peer->state), time);
}

static json_t *s_json_peer_status(const answer_t *answer) {
    return s_json_peer(answer->response->peer_status);
}

static const char *s_build_peer_block(const cli_t *cli, Cairn__Request *request, void *storage,
                                      bool blocked) {
    Cairn__PeerBlock *block = &((peers_storage_t *)storage)->peer_block;
    cairn__peer_block__init(block);
    block->peer_id = cli->args[0];
    block->blocked = blocked;
    request->body_case = CAIRN__REQUEST__BODY_PEER_BLOCK;
    request->peer_block = block;
    return NULL;
}

static const char *s_build_peer_blocked(const cli_t *cli, Cairn__Request *request, void *storage) {
    return s_build_peer_block(cli, request, storage, true);
}

static const char *s_build_peer_unblocked(const cli_t *cli, Cairn__Request *request,
                                          void *storage) {
    return s_build_peer_block(cli, request, storage, false);
}

static void s_print_peer_block(const answer_t *answer) {
    const Cairn__Peer *peer = answer->response->peer_block;
    printf("%s peer %s\n", peer->blocked ? "blocked" : "unblocked", peer->peer_id);
}

static json_t *s_json_peer_block(const answer_t *answer) {
    return s_json_peer(answer->response->peer_block);
}

//  ---- peer connect / disconnect / sessions (the peer actor) -----------------------------------

static const char *const s_session_states[] = {
    [CAIRN__SESSION_STATE__SESSION_DIALING] = "dialing",
    [CAIRN__SESSION_STATE__SESSION_ONLINE] = "online",
    [CAIRN__SESSION_STATE__SESSION_BACKOFF] = "backoff",
};

static const char *s_session_state(Cairn__SessionState state) {
    return cli_enum_name(s_session_states, sizeof s_session_states / sizeof s_session_states[0],
                         (int)state, "?");
}

//  ADDRESS:PORT, or [IPv6]:PORT.
static const char *s_build_peer_connect(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    Cairn__PeerConnect *connect = &body->peer_connect.connect;
    char *address = body->peer_connect.address;
    cairn__peer_connect__init(connect);
    request->body_case = CAIRN__REQUEST__BODY_PEER_CONNECT;
    request->peer_connect = connect;
    const char *text = cli->args[0];
    const char *colon = strrchr(text, ':');
    size_t length = colon ? (size_t)(colon - text) : 0;
    if (length >= 2 && text[0] == '[' && text[length - 1] == ']') {
        text++;
        length -= 2;
    }
    if (!colon || length == 0 || length >= sizeof body->peer_connect.address)
        return "give the peer as ADDRESS:PORT, e.g. 192.0.2.7:7402 or [2001:db8::7]:7402";
    memcpy(address, text, length);
    address[length] = 0;
    connect->address = address;
    const char *problem = cli_parse_u32(colon + 1, "PORT", 1, 65535, &connect->port);
    const char *key = cli_option(cli, "key");
    connect->key = key ? (char *)key : "";
    return problem;
}

static void s_print_session(const Cairn__PeerSession *session) {
    char since[CLI_TIME_TEXT], beat[CLI_TIME_TEXT];
    cli_format_time(session->since, since, sizeof since);
    cli_format_time(session->last_heartbeat, beat, sizeof beat);
    printf("%-64s  %-7s  %-3s  %s:%u  since %s  heard %s  in %" PRIu64 " out %" PRIu64
           "  ops sent %" PRIu64 " got %" PRIu64 " had %" PRIu64 " refused %" PRIu64 "%s%s\n",
           *session->peer_id ? session->peer_id : "-", s_session_state(session->state),
           session->outgoing ? "out" : "in", session->address, session->port, since, beat,
           session->bytes_in, session->bytes_out, session->oplog_sent, session->oplog_received,
           session->oplog_already, session->oplog_refused, *session->node_name ? "  " : "",
           session->node_name);
    if (session->recon_runs || session->recon_items) {
        char last[CLI_TIME_TEXT];
        cli_format_time(session->recon_last, last, sizeof last);
        printf("    reconciled %u times, last %s: %u rounds, %" PRIu64 " bytes; %" PRIu64
               " items moved\n",
               session->recon_runs, last, session->recon_rounds, session->recon_bytes,
               session->recon_items);
    }
}

static json_t *s_json_session(const Cairn__PeerSession *session) {
    json_t *recon =
        json_pack("{s:i, s:i, s:I, s:I, s:f}", "runs", (int)session->recon_runs, "rounds",
                  (int)session->recon_rounds, "bytes", (json_int_t)session->recon_bytes,
                  "items_moved", (json_int_t)session->recon_items, "last", session->recon_last);
    json_t *json = json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:f, s:f, s:I, s:I, s:s, s:i, s:o}", "peer_id", session->peer_id,
        "address", session->address, "port", (int)session->port, "state",
        s_session_state(session->state), "outgoing", session->outgoing, "since", session->since,
        "last_heartbeat", session->last_heartbeat, "bytes_in", (json_int_t)session->bytes_in,
        "bytes_out", (json_int_t)session->bytes_out, "node_name", session->node_name, "retry_in_ms",
        (int)session->retry_in_ms, "reconcile", recon);
    json_object_set_new(json, "oplog",
                        json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)session->oplog_sent,
                                  "received", (json_int_t)session->oplog_received, "already",
                                  (json_int_t)session->oplog_already, "refused",
                                  (json_int_t)session->oplog_refused));
    return json;
}

static void s_print_peer_connect(const answer_t *answer) {
    const Cairn__PeerSession *session = answer->response->peer_connect;
    printf("dialing %s at %s:%u\n", session->peer_id, session->address, session->port);
}

static json_t *s_json_peer_connect(const answer_t *answer) {
    return s_json_session(answer->response->peer_connect);
}

static const char *s_build_peer_disconnect(const cli_t *cli, Cairn__Request *request,
                                           void *storage) {
    Cairn__PeerDisconnect *disconnect = &((peers_storage_t *)storage)->peer_disconnect;
    cairn__peer_disconnect__init(disconnect);
    disconnect->peer_id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_PEER_DISCONNECT;
    request->peer_disconnect = disconnect;
    return NULL;
}

static void s_print_peer_disconnect(const answer_t *answer) {
    printf("disconnected %s\n", answer->response->peer_disconnected->peer_id);
}

static json_t *s_json_peer_disconnect(const answer_t *answer) {
    return s_json_session(answer->response->peer_disconnected);
}

static const char *s_build_peer_reconcile(const cli_t *cli, Cairn__Request *request,
                                          void *storage) {
    Cairn__PeerReconcile *reconcile = &((peers_storage_t *)storage)->peer_reconcile;
    cairn__peer_reconcile__init(reconcile);
    reconcile->peer_id = cli->args[0];
    reconcile->set = (char *)cli_option(cli, "set");
    reconcile->dry_run = cli_option(cli, "dry-run") != NULL;
    request->body_case = CAIRN__REQUEST__BODY_PEER_RECONCILE;
    request->peer_reconcile = reconcile;
    return NULL;
}

static void s_print_peer_reconcile(const answer_t *answer) {
    const Cairn__PeerReconciled *done = answer->response->peer_reconcile;
    printf("set %s: %" PRIu64 " items here; have %" PRIu64 " (here, not on the peer), need %" PRIu64
           " (on the peer, not here)\n",
           done->set, done->items, done->have, done->need);
    printf("%u rounds, %" PRIu64 " bytes (this node's full id list: %" PRIu64 " bytes); %s\n",
           done->rounds, done->bytes, done->items * 32,
           done->dry_run ? "dry run: nothing moved" : "what differs is moving now");
}

static json_t *s_json_peer_reconcile(const answer_t *answer) {
    const Cairn__PeerReconciled *done = answer->response->peer_reconcile;
    return json_pack("{s:s, s:I, s:I, s:I, s:i, s:I, s:b}", "set", done->set, "items",
                     (json_int_t)done->items, "have", (json_int_t)done->have, "need",
                     (json_int_t)done->need, "rounds", (int)done->rounds, "bytes",
                     (json_int_t)done->bytes, "dry_run", done->dry_run);
}

static const char *s_build_peer_sessions(const cli_t *cli, Cairn__Request *request, void *storage) {
    (void)cli;
    Cairn__PeerSessions *sessions = &((peers_storage_t *)storage)->peer_sessions;
    cairn__peer_sessions__init(sessions);
    request->body_case = CAIRN__REQUEST__BODY_PEER_SESSIONS;
    request->peer_sessions = sessions;
    return NULL;
}

static void s_print_peer_sessions(const answer_t *answer) {
    const Cairn__PeerSessionList *list = answer->response->peer_sessions;
    printf("node %s on %s: %u online, %u known peers\n", list->node_peer_id, list->endpoint,
           list->online, list->known);
    for (size_t i = 0; i < list->n_sessions; i++)
        s_print_session(list->sessions[i]);
}

static json_t *s_json_peer_sessions(const answer_t *answer) {
    const Cairn__PeerSessionList *list = answer->response->peer_sessions;
    json_t *sessions = json_array();
    for (size_t i = 0; i < list->n_sessions; i++)
        if (!cli_json_append(sessions, s_json_session(list->sessions[i]))) {
            json_decref(sessions);
            return NULL;
        }
    return json_pack("{s:o, s:i, s:i, s:s, s:s}", "sessions", sessions, "online", (int)list->online,
                     "known", (int)list->known, "node_peer_id", list->node_peer_id, "endpoint",
                     list->endpoint);
}

//  ---- content fetch (the peer actor, actors/peer_fetch.c) --------------------------------------

#define FETCH_MARGIN_MS 500

static const char *s_build_content_fetch(const cli_t *cli, Cairn__Request *request, void *storage) {
    peers_storage_t *body = storage;
    Cairn__ContentFetch *fetch = &body->content_fetch.fetch;
    cairn__content_fetch__init(fetch);
    request->body_case = CAIRN__REQUEST__BODY_CONTENT_FETCH;
    request->content_fetch = fetch;
    fetch->hash = cli_hash_bytes(body->content_fetch.hash);
    //  The client's --timeout bounds the fetch too: the node gives up
    //  FETCH_MARGIN_MS before the client stops waiting, so its answer arrives.
    int wait = cli->timeout_ms > 2 * FETCH_MARGIN_MS ? cli->timeout_ms - FETCH_MARGIN_MS
                                                     : cli->timeout_ms / 2;
    fetch->timeout_ms = (uint32_t)(wait < 1 ? 1 : wait > 600000 ? 600000 : wait);
    return cli_parse_hash(cli->args[0], "HASH", body->content_fetch.hash);
}

static void s_print_content_fetch(const answer_t *answer) {
    const Cairn__ContentFetched *fetched = answer->response->content_fetch;
    printf("fetched %s (%" PRIu64 " bytes) from peer %s\n", answer->cli->args[0], fetched->size,
           fetched->source_peer);
}

static json_t *s_json_content_fetch(const answer_t *answer) {
    const Cairn__ContentFetched *fetched = answer->response->content_fetch;
    return json_pack("{s:s, s:I, s:s, s:i}", "hash", answer->cli->args[0], "size",
                     (json_int_t)fetched->size, "source_peer", fetched->source_peer, "peers_asked",
                     (int)fetched->peers_asked);
}

//  ---- details for `cairn COMMAND --help` ------------------------------------------------------

static const char s_peer_list_details[] =
    "A page holds up to --limit peers (default and most: 1000) after --after\n"
    "PEER_ID; a full page ends with \"(more: --after PEER_ID)\" (JSON: \"more\" and\n"
    "\"next_after\") to ask for the next one.\n";

static const char s_peer_add_details[] =
    "KEY is the peer's Ed25519 public key: 64 hex digits, base64 text, or @FILE\n"
    "holding 32 raw bytes, 64 hex digits, base64 or a PEM \"PUBLIC KEY\" block.\n"
    "Hex and raw keys are sent as bytes, text as text for the node to check.\n"
    "An existing PEER_ID is updated (its created time is kept).\n";

static const char s_peer_connect_details[] =
    "KEY is the node's peer id (64 hex digits; `cairn info` on it shows it): its\n"
    "CURVE key. Without --key the peers table must have a row at ADDRESS:PORT.\n"
    "The node keeps the session (heartbeats, redial with backoff) and adds the\n"
    "peer to its peers table once the handshake is done.\n";

static const char s_peer_reconcile_details[] =
    "Runs set reconciliation (negentropy v1) now with the online session of\n"
    "PEER_ID over SET: \"channel:#NAME\" (its messages) or \"content\" (the blob\n"
    "hashes), this node as initiator. Prints the items here, what this node has\n"
    "that the peer lacks (have), what it lacks (need), the rounds and bytes\n"
    "spent. --dry-run moves nothing; without it what differs moves as after a\n"
    "periodic run (messages as gossip, blobs fetched into the cache). The node\n"
    "also reconciles on connect and every reconcile_ms.\n";

static const char s_content_fetch_details[] =
    "Asks the node's online peers, one after the other, for HASH; the bytes are\n"
    "checked against HASH and kept in the node's cache (cairn cache get HASH),\n"
    "with the serving peer as source. The client's --timeout MS (default 5000)\n"
    "bounds the fetch: the node gives up 500 ms before it (most 600000).\n";

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"peer",
     "add",
     1,
     "PEER_ID",
     "add or update a peer",
     {{"key", "KEY", true}, {"address", "IP", true}, {"port", "N", true}, {"name", "NAME", false}},
     s_build_peer_add,
     s_print_peer_add,
     s_json_peer_add,
     s_peer_add_details,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_PUT}},
    {"peer",
     "get",
     1,
     "PEER_ID",
     "print one peer",
     {{NULL, NULL, false}},
     s_build_peer_get,
     s_print_peer_get,
     s_json_peer_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_GET}},
    {"peer",
     "list",
     0,
     "",
     "peers in id order (or those in one state), one per line",
     {{"state", "online|offline|unknown", false},
      {"limit", "N", false},
      {"after", "PEER_ID", false}},
     s_build_peer_list,
     s_print_peer_list,
     s_json_peer_list,
     s_peer_list_details,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_LIST}},
    {"peer",
     "status",
     2,
     "PEER_ID online|offline|unknown",
     "set a peer's state and last seen time (default now)",
     {{"last-seen", "T", false}},
     s_build_peer_status,
     s_print_peer_status,
     s_json_peer_status,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_STATUS}},
    {"peer",
     "block",
     1,
     "PEER_ID",
     "block a peer",
     {{NULL, NULL, false}},
     s_build_peer_blocked,
     s_print_peer_block,
     s_json_peer_block,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_BLOCK}},
    {"peer",
     "unblock",
     1,
     "PEER_ID",
     "unblock a peer",
     {{NULL, NULL, false}},
     s_build_peer_unblocked,
     s_print_peer_block,
     s_json_peer_block,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_BLOCK}},
    {"peer",
     "connect",
     1,
     "ADDRESS:PORT",
     "dial a node's peer endpoint and keep a session with it",
     {{"key", "PEER_ID", false}},
     s_build_peer_connect,
     s_print_peer_connect,
     s_json_peer_connect,
     s_peer_connect_details,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_CONNECT}},
    {"peer",
     "disconnect",
     1,
     "PEER_ID",
     "end the session with a peer (not redialed until peer connect)",
     {{NULL, NULL, false}},
     s_build_peer_disconnect,
     s_print_peer_disconnect,
     s_json_peer_disconnect,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_DISCONNECT}},
    {"peer",
     "sessions",
     0,
     "",
     "the node's peer sessions: state, address, last heartbeat, bytes",
     {{NULL, NULL, false}},
     s_build_peer_sessions,
     s_print_peer_sessions,
     s_json_peer_sessions,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_SESSIONS}},
    {"peer",
     "reconcile",
     1,
     "PEER_ID",
     "reconcile a set with a connected peer now (what each lacks, bytes spent)",
     {{"set", "SET", true}, {"dry-run", NULL, false}},
     s_build_peer_reconcile,
     s_print_peer_reconcile,
     s_json_peer_reconcile,
     s_peer_reconcile_details,
     NULL,
     {CAIRN__REQUEST__BODY_PEER_RECONCILE}},
    {"content",
     "fetch",
     1,
     "HASH",
     "fetch a blob this node lacks from its peers into its cache",
     {{NULL, NULL, false}},
     s_build_content_fetch,
     s_print_content_fetch,
     s_json_content_fetch,
     s_content_fetch_details,
     NULL,
     {CAIRN__REQUEST__BODY_CONTENT_FETCH}},
};

CLI_FAMILY(peers, s_rows, peers_storage_t);

/*  =========================================================================
    peers - the node's address book of other nodes

    What it owns: the `peers` table of messages_schema (one row per known node:
    its Ed25519 identity key, where to reach it, what we last heard of it,
    and whether we refuse to talk to it). The pool is its own so that peer
    bookkeeping never waits behind message floods or full-text searches.

    Requests: schemas/peers.proto. A request naming an unknown peer is
    NOT_FOUND; PeerList pages by peer id (keyset). Is a peer blocked?
    PeerGet's `blocked`.

    Rules (anything else is INVALID, with a message naming the rule):

        peer_id        1..128 bytes of [A-Za-z0-9._:-]
        public key     Ed25519, exactly one of: 32 raw bytes in
                       peer.public_key; or public_key_text holding base64 of
                       the 32 bytes (standard or URL-safe alphabet, padded or
                       not; surrounding whitespace ignored); or a PEM block
                       "-----BEGIN PUBLIC KEY-----" whose body is the DER
                       SubjectPublicKeyInfo of an Ed25519 key (a fixed
                       12-byte prefix, then the 32 key bytes), as
                       `openssl pkey -pubout` writes it. Keys are stored raw.
        address        an IPv4 or IPv6 literal (inet_pton), stored in the
                       canonical form inet_ntop gives (2001:DB8:0::1 ->
                       2001:db8::1); no host names, ports, brackets or zones
        port           1..65535
        display_name   0..128 bytes
        state          a known cairn.PeerState
        last_seen      finite and >= 0 (unix seconds)

    Upsert: PeerPut on a known peer replaces every field except created_at
    (kept from the first PeerPut) and blocked: the block list changes only
    through PeerBlock, so a peer that re-announces itself cannot unblock
    itself, and a get -> edit -> put round trip changes nothing by accident.

    Every write answers with the row as stored: the statement's RETURNING
    rows come back from the writer inside the same savepoint, so the answer
    is exactly what committed, without a second read.
    ========================================================================= */

#include "peers.h"
#include "ca_clock.h"
#include "ca_names.h"
#include "ca_limits.h"
#include "messages_schema.h"

#include <arpa/inet.h>
#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <string.h>

//  The columns every answer carries, in the order s_peer_from_* read them.
#define PEER_COLUMNS                                                                               \
    "peer_id, public_key, display_name, address, port, state, last_seen, blocked, created_at"
#define PEER_ID_RULE "peer ids are 1..128 bytes of [A-Za-z0-9._:-]"
#define KEY_FORMS                                                                                  \
    "accepted: 32 raw bytes in peer.public_key, or public_key_text holding base64 of the 32 "      \
    "bytes (standard or URL-safe, padded or not) or a PEM \"-----BEGIN PUBLIC KEY-----\" block "   \
    "with an Ed25519 SubjectPublicKeyInfo"
#define ED25519_KEY_BYTES 32

//  DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): SEQUENCE {
//  SEQUENCE { OID 1.3.101.112 }, BIT STRING (33 bytes, 0 unused bits) },
//  followed by the 32 key bytes.
static const uint8_t s_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
static const char s_pem_begin[] = "-----BEGIN PUBLIC KEY-----";
static const char s_pem_end[] = "-----END PUBLIC KEY-----";

//  ---- validation -----------------------------------------------------------------

//  Checks the id; on failure the reply says what is wrong.
static bool s_id_ok(const char *peer_id, const char *field, ca_reply_t *reply) {
    const char *problem = ca_validate_peer_id(peer_id);
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s: %s (%s)", field, problem, PEER_ID_RULE);
    return problem == NULL;
}

static bool s_state_known(int state) {
    return state == CAIRN__PEER_STATE__PEER_UNKNOWN || state == CAIRN__PEER_STATE__PEER_ONLINE ||
           state == CAIRN__PEER_STATE__PEER_OFFLINE;
}

static bool s_state_ok(int state, const char *field, ca_reply_t *reply) {
    if (!s_state_known(state))
        ca_reply_error(reply, CA_INVALID,
                       "%s %d is not a known PeerState; use PEER_UNKNOWN (0), PEER_ONLINE (1) or "
                       "PEER_OFFLINE (2)",
                       field, state);
    return s_state_known(state);
}

static bool s_time_ok(double seconds, const char *field, ca_reply_t *reply) {
    bool ok = isfinite(seconds) && seconds >= 0;
    if (!ok)
        ca_reply_error(reply, CA_INVALID,
                       "%s must be unix seconds (finite, 0 or more); got %g; send 0 for now", field,
                       seconds);
    return ok;
}

static bool s_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool s_starts_with(const char *text, size_t length, const char *prefix) {
    size_t prefix_length = strlen(prefix);
    return length >= prefix_length && memcmp(text, prefix, prefix_length) == 0;
}

//  base64 of the raw key, in whichever variant decodes it.
static bool s_key_from_base64(const char *text, size_t length, uint8_t key[32], char *problem,
                              size_t size) {
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    uint8_t decoded[CA_PEER_KEY_TEXT_MAX];
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        size_t decoded_size = 0;
        if (sodium_base642bin(decoded, sizeof decoded, text, length, NULL, &decoded_size, NULL,
                              variants[v]) != 0)
            continue;
        if (decoded_size != ED25519_KEY_BYTES) {
            snprintf(problem, size,
                     "public_key_text is base64 of %zu bytes; an Ed25519 public key is exactly "
                     "32 bytes",
                     decoded_size);
            return false;
        }
        memcpy(key, decoded, ED25519_KEY_BYTES);
        return true;
    }
    snprintf(problem, size, "public_key_text is neither base64 nor a PEM block");
    return false;
}

//  A PEM "PUBLIC KEY" block: base64 (standard, padded, line breaks allowed)
//  of a DER SubjectPublicKeyInfo for Ed25519.
static bool s_key_from_pem(const char *text, size_t length, uint8_t key[32], char *problem,
                           size_t size) {
    if (!s_starts_with(text, length, s_pem_begin)) {
        snprintf(problem, size,
                 "public_key_text is a PEM block but not \"%s\" (never send a private key)",
                 s_pem_begin);
        return false;
    }
    size_t end_length = strlen(s_pem_end);
    size_t begin_length = strlen(s_pem_begin);
    if (length < begin_length + end_length ||
        memcmp(text + length - end_length, s_pem_end, end_length) != 0) {
        snprintf(problem, size, "the PEM block does not end with \"%s\"", s_pem_end);
        return false;
    }
    const char *body = text + begin_length;
    size_t body_length = length - begin_length - end_length;
    uint8_t der[CA_PEER_KEY_TEXT_MAX];
    size_t der_size = 0;
    if (sodium_base642bin(der, sizeof der, body, body_length, " \t\r\n", &der_size, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(problem, size, "the PEM body is not valid base64");
        return false;
    }
    if (der_size != sizeof s_spki_prefix + ED25519_KEY_BYTES ||
        memcmp(der, s_spki_prefix, sizeof s_spki_prefix) != 0) {
        snprintf(problem, size,
                 "the PEM block holds %zu bytes of DER that are not an Ed25519 "
                 "SubjectPublicKeyInfo (44 bytes; other algorithms are refused)",
                 der_size);
        return false;
    }
    memcpy(key, der + sizeof s_spki_prefix, ED25519_KEY_BYTES);
    return true;
}

bool peers_parse_key(const uint8_t *raw, size_t raw_size, const char *text, uint8_t key[32],
                     char *problem, size_t size) {
    bool has_text = text && *text;
    if (raw_size > 0 && has_text) {
        snprintf(problem, size,
                 "the key is given twice (peer.public_key and public_key_text); send one");
        return false;
    }
    if (raw_size > 0) {
        if (raw_size != ED25519_KEY_BYTES) {
            snprintf(problem, size,
                     "peer.public_key is %zu bytes; an Ed25519 public key is exactly 32", raw_size);
            return false;
        }
        memcpy(key, raw, ED25519_KEY_BYTES);
        return true;
    }
    if (!has_text) {
        snprintf(problem, size, "the key is missing");
        return false;
    }
    size_t length = strnlen(text, CA_PEER_KEY_TEXT_MAX + 1);
    if (length > CA_PEER_KEY_TEXT_MAX) {
        snprintf(problem, size, "public_key_text is longer than %d bytes", CA_PEER_KEY_TEXT_MAX);
        return false;
    }
    //  Copied keys often carry a trailing newline; ignore surrounding space.
    while (length > 0 && s_is_space(*text)) {
        text++;
        length--;
    }
    while (length > 0 && s_is_space(text[length - 1]))
        length--;
    if (length == 0) {
        snprintf(problem, size, "public_key_text is blank");
        return false;
    }
    if (s_starts_with(text, length, "-----BEGIN "))
        return s_key_from_pem(text, length, key, problem, size);
    return s_key_from_base64(text, length, key, problem, size);
}

//  Canonical text of an IPv4 or IPv6 literal into `canonical`; false when
//  `address` is neither.
static bool s_address_canonical(const char *address, char canonical[INET6_ADDRSTRLEN]) {
    uint8_t binary[sizeof(struct in6_addr)];
    if (strnlen(address, INET6_ADDRSTRLEN) >= INET6_ADDRSTRLEN)
        return false;
    if (inet_pton(AF_INET, address, binary) == 1)
        return inet_ntop(AF_INET, binary, canonical, INET6_ADDRSTRLEN) != NULL;
    if (inet_pton(AF_INET6, address, binary) == 1)
        return inet_ntop(AF_INET6, binary, canonical, INET6_ADDRSTRLEN) != NULL;
    return false;
}

//  ---- answers ----------------------------------------------------------------------

static Cairn__Peer *s_peer_new(ca_reply_t *reply) {
    Cairn__Peer *peer = (Cairn__Peer *)ca_reply_alloc(reply, sizeof(Cairn__Peer));
    cairn__peer__init(peer);
    return peer;
}

//  The current row of a read statement over PEER_COLUMNS.
static Cairn__Peer *s_peer_from_stmt(ca_reply_t *reply, sqlite3_stmt *stmt) {
    Cairn__Peer *peer = s_peer_new(reply);
    peer->peer_id = ca_reply_strdup(reply, (const char *)sqlite3_column_text(stmt, 0));
    peer->public_key.len = (size_t)sqlite3_column_bytes(stmt, 1);
    peer->public_key.data =
        (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 1), peer->public_key.len);
    peer->display_name = ca_reply_strdup(reply, (const char *)sqlite3_column_text(stmt, 2));
    peer->address = ca_reply_strdup(reply, (const char *)sqlite3_column_text(stmt, 3));
    peer->port = (uint32_t)sqlite3_column_int64(stmt, 4);
    peer->state = (Cairn__PeerState)sqlite3_column_int(stmt, 5);
    peer->last_seen = sqlite3_column_double(stmt, 6);
    peer->blocked = sqlite3_column_int(stmt, 7) != 0;
    peer->created_at = sqlite3_column_double(stmt, 8);
    return peer;
}

static const char *s_value_text(ca_reply_t *reply, const Cairn__Internal__SqlValue *value) {
    return value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_TEXT
               ? ca_reply_strdup(reply, value->text)
               : "";
}

static int64_t s_value_int(const Cairn__Internal__SqlValue *value) {
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return value->integer;
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL)
        return (int64_t)value->real;
    return 0;
}

static double s_value_real(const Cairn__Internal__SqlValue *value) {
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_REAL)
        return value->real;
    if (value->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_INTEGER)
        return (double)value->integer;
    return 0;
}

//  A RETURNING row over PEER_COLUMNS, as the writer sent it back.
static Cairn__Peer *s_peer_from_row(ca_reply_t *reply, const Cairn__Internal__Row *row) {
    assert(row->n_values == 9); //  our own RETURNING of PEER_COLUMNS: a bug if not
    Cairn__Internal__SqlValue *const *values = row->values;
    Cairn__Peer *peer = s_peer_new(reply);
    peer->peer_id = (char *)s_value_text(reply, values[0]);
    if (values[1]->kind_case == CAIRN__INTERNAL__SQL_VALUE__KIND_BLOB) {
        peer->public_key.len = values[1]->blob.len;
        peer->public_key.data =
            (uint8_t *)ca_reply_memdup(reply, values[1]->blob.data, values[1]->blob.len);
    }
    peer->display_name = (char *)s_value_text(reply, values[2]);
    peer->address = (char *)s_value_text(reply, values[3]);
    peer->port = (uint32_t)s_value_int(values[4]);
    peer->state = (Cairn__PeerState)s_value_int(values[5]);
    peer->last_seen = s_value_real(values[6]);
    peer->blocked = s_value_int(values[7]) != 0;
    peer->created_at = s_value_real(values[8]);
    return peer;
}

//  Puts `peer` in the response slot that answers the request's kind.
static void s_answer_peer(ca_reply_t *reply, Cairn__Request__BodyCase kind, Cairn__Peer *peer) {
    Cairn__Response *response = ca_reply_response(reply);
    switch (kind) {
        case CAIRN__REQUEST__BODY_PEER_PUT:
            response->body_case = CAIRN__RESPONSE__BODY_PEER_PUT;
            response->peer_put = peer;
            break;
        case CAIRN__REQUEST__BODY_PEER_GET:
            response->body_case = CAIRN__RESPONSE__BODY_PEER_GET;
            response->peer_get = peer;
            break;
        case CAIRN__REQUEST__BODY_PEER_STATUS:
            response->body_case = CAIRN__RESPONSE__BODY_PEER_STATUS;
            response->peer_status = peer;
            break;
        case CAIRN__REQUEST__BODY_PEER_BLOCK:
            response->body_case = CAIRN__RESPONSE__BODY_PEER_BLOCK;
            response->peer_block = peer;
            break;
        default:
            assert(false);
    }
}

//  `done` of every write: the statement's RETURNING row is the answer.
static void s_peer_written(ca_store_t *store, const Cairn__Request *request,
                           const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    //  Each write has one statement expecting one change, so one row.
    if (write->n_results != 1 || write->results[0]->n_rows != 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer did not return the stored peer; retry");
        return;
    }
    s_answer_peer(reply, request->body_case, s_peer_from_row(reply, write->results[0]->rows[0]));
}

static void s_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc) {
    ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read peers: %s; retry",
                   sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

//  ---- handlers -------------------------------------------------------------------

static void s_peer_put(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PeerPut *put = request->peer_put;
    const Cairn__Peer *peer = put->peer;
    if (!peer) {
        ca_reply_error(reply, CA_INVALID,
                       "PeerPut.peer is missing; send the peer's peer_id, public key, address "
                       "and port");
        return;
    }
    if (!s_id_ok(peer->peer_id, "peer.peer_id", reply))
        return;
    uint8_t key[ED25519_KEY_BYTES];
    char problem[256];
    if (!peers_parse_key(peer->public_key.data, peer->public_key.len, put->public_key_text, key,
                         problem, sizeof problem)) {
        ca_reply_error(reply, CA_INVALID, "peer public key: %s; %s", problem, KEY_FORMS);
        return;
    }
    char address[INET6_ADDRSTRLEN];
    if (!*peer->address) {
        ca_reply_error(reply, CA_INVALID,
                       "peer.address is missing; give an IPv4 or IPv6 literal such as "
                       "203.0.113.7 or 2001:db8::7");
        return;
    }
    if (!s_address_canonical(peer->address, address)) {
        ca_reply_error(reply, CA_INVALID,
                       "peer.address '%.64s' is not an IPv4 or IPv6 literal; give e.g. "
                       "203.0.113.7 or 2001:db8::7 (no host names, ports, brackets or zone ids)",
                       peer->address);
        return;
    }
    if (peer->port < 1 || peer->port > 65535) {
        ca_reply_error(reply, CA_INVALID, "peer.port %u is %s; give a port in 1..65535", peer->port,
                       peer->port == 0 ? "missing" : "out of range");
        return;
    }
    size_t name_length = strlen(peer->display_name);
    if (name_length > CA_PEER_NAME_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "peer.display_name is %zu bytes; the limit is %d bytes; shorten it",
                       name_length, CA_PEER_NAME_MAX);
        return;
    }
    if (!s_state_ok((int)peer->state, "peer.state", reply) ||
        !s_time_ok(peer->last_seen, "peer.last_seen", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "INSERT INTO peers (" PEER_COLUMNS ") "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8) "
                       "ON CONFLICT (peer_id) DO UPDATE SET public_key = excluded.public_key, "
                       "display_name = excluded.display_name, address = excluded.address, "
                       "port = excluded.port, state = excluded.state, "
                       "last_seen = excluded.last_seen "
                       "RETURNING " PEER_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "the peer was not stored; retry");
    ca_write_want_rows(write);
    ca_write_text(write, peer->peer_id);
    ca_write_blob(write, key, sizeof key);
    ca_write_text(write, peer->display_name);
    ca_write_text(write, address);
    ca_write_int(write, peer->port);
    ca_write_int(write, peer->state);
    ca_write_real(write, peer->last_seen);
    ca_write_real(write, ca_now_seconds());
    ca_store_write(store, &write, reply); //  packs the frame: key and address may go
}

static void s_peer_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const char *peer_id = request->peer_get->peer_id;
    if (!s_id_ok(peer_id, "peer_id", reply))
        return;
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT " PEER_COLUMNS " FROM peers WHERE peer_id = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, peer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        s_answer_peer(reply, request->body_case, s_peer_from_stmt(reply, stmt));
    else if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND, "no peer '%s'; add it with PeerPut", peer_id);
    else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
}

static void s_peer_list(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PeerList *list = request->peer_list;
    if (list->by_state && !s_state_ok((int)list->state, "state", reply))
        return;
    if (!list->by_state && list->state != CAIRN__PEER_STATE__PEER_UNKNOWN) {
        ca_reply_error(reply, CA_INVALID,
                       "state is set but by_state is false; set by_state to list peers in that "
                       "state, or leave state out to list all");
        return;
    }
    size_t limit = ca_page_limit(list->limit, CA_PEER_LIST_MAX, CA_PEER_LIST_MAX, "peers per page",
                                 "after_peer_id", reply);
    if (!limit || (*list->after_peer_id && !s_id_ok(list->after_peer_id, "after_peer_id", reply)))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(
        store,
        list->by_state ? "SELECT " PEER_COLUMNS " FROM peers WHERE state = ?3 AND peer_id > ?1 "
                         "ORDER BY peer_id LIMIT ?2"
                       : "SELECT " PEER_COLUMNS " FROM peers WHERE peer_id > ?1 "
                         "ORDER BY peer_id LIMIT ?2",
        reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, list->after_peer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit + 1); //  one more tells whether more exist
    if (list->by_state)
        sqlite3_bind_int(stmt, 3, (int)list->state);
    Cairn__PeerPage *page = (Cairn__PeerPage *)ca_reply_alloc(reply, sizeof(Cairn__PeerPage));
    cairn__peer_page__init(page);
    page->peers = (Cairn__Peer **)ca_reply_alloc(reply, limit * sizeof(Cairn__Peer *));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (page->n_peers == limit) {
            page->more = true;
            rc = SQLITE_DONE;
            break;
        }
        page->peers[page->n_peers++] = s_peer_from_stmt(reply, stmt);
    }
    if (rc == SQLITE_DONE) {
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_PEER_LIST;
        response->peer_list = page;
    } else
        s_read_failed(reply, stmt, rc);
    sqlite3_reset(stmt);
}

//  Fails an UPDATE of an unknown peer with NOT_FOUND naming it. The message
//  lives in the reply, which outlives the packing of the write.
static const char *s_unknown_peer(ca_reply_t *reply, const char *peer_id) {
    char message[256];
    snprintf(message, sizeof message, "no peer '%s'; add it with PeerPut first", peer_id);
    return ca_reply_strdup(reply, message);
}

static void s_peer_status(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PeerStatus *status = request->peer_status;
    if (!s_id_ok(status->peer_id, "peer_id", reply) ||
        !s_state_ok((int)status->state, "state", reply) ||
        !s_time_ok(status->last_seen, "last_seen", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "UPDATE peers SET state = ?2, last_seen = ?3 WHERE peer_id = ?1 "
                       "RETURNING " PEER_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       s_unknown_peer(reply, status->peer_id));
    ca_write_want_rows(write);
    ca_write_text(write, status->peer_id);
    ca_write_int(write, status->state);
    ca_write_real(write, status->last_seen > 0 ? status->last_seen : ca_now_seconds());
    ca_store_write(store, &write, reply);
}

static void s_peer_block(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__PeerBlock *block = request->peer_block;
    if (!s_id_ok(block->peer_id, "peer_id", reply))
        return;
    ca_write_t *write = ca_write_new();
    ca_write_statement(write,
                       "UPDATE peers SET blocked = ?2 WHERE peer_id = ?1 RETURNING " PEER_COLUMNS,
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_NOT_FOUND,
                       s_unknown_peer(reply, block->peer_id));
    ca_write_want_rows(write);
    ca_write_text(write, block->peer_id);
    ca_write_int(write, block->blocked ? 1 : 0);
    ca_store_write(store, &write, reply);
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_PEER_PUT, "peer_put", s_peer_put, s_peer_written, 0},
    {CAIRN__REQUEST__BODY_PEER_GET, "peer_get", s_peer_get, NULL, 0},
    {CAIRN__REQUEST__BODY_PEER_LIST, "peer_list", s_peer_list, NULL, 0},
    {CAIRN__REQUEST__BODY_PEER_STATUS, "peer_status", s_peer_status, s_peer_written, 0},
    {CAIRN__REQUEST__BODY_PEER_BLOCK, "peer_block", s_peer_block, s_peer_written, 0},
};

const ca_store_def_t peers_store_def = {
    .name = "peers",
    .schema = &messages_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

//  The key `openssl pkey -pubout` printed for a fresh Ed25519 key, and its
//  raw bytes.
static const char s_openssl_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                                    "MCowBQYDK2VwAyEA5BuJnNMfba/71DbAjTWY6JkaiiGQ2hiv60bMk3nNfHA=\n"
                                    "-----END PUBLIC KEY-----\n";
static const char s_openssl_hex[] =
    "e41b899cd31f6daffbd436c08d3598e8991a8a2190da18afeb46cc9379cd7c70";

//  ---- fixtures: the requests of this self-test and of tests/e2e_peers.c ----------

void peers_fixture_peer(Cairn__Peer *peer, const char *peer_id, const uint8_t *key) {
    ca_request_peer_init(peer, peer_id, key, "192.0.2.1", 7402, "node");
}

Cairn__Response *peers_fixture_put(ca_caller_t *caller, const Cairn__Peer *peer, const char *text) {
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 0, peer, text);
    return ca_caller_call(caller, &request);
}

Cairn__Response *peers_fixture_get(ca_caller_t *caller, const char *peer_id) {
    Cairn__Request request;
    Cairn__PeerGet get;
    ca_request_peer_get(&request, &get, 0, peer_id);
    return ca_caller_call(caller, &request);
}

Cairn__Response *peers_fixture_status(ca_caller_t *caller, const char *peer_id, int state,
                                      double last_seen) {
    Cairn__Request request;
    Cairn__PeerStatus status;
    ca_request_peer_status(&request, &status, 0, peer_id, state, last_seen);
    return ca_caller_call(caller, &request);
}

Cairn__Response *peers_fixture_block(ca_caller_t *caller, const char *peer_id, bool blocked) {
    Cairn__Request request;
    Cairn__PeerBlock block;
    ca_request_peer_block(&request, &block, 0, peer_id, blocked);
    return ca_caller_call(caller, &request);
}

Cairn__Response *peers_fixture_list(ca_caller_t *caller, bool by_state, int state, uint32_t limit,
                                    const char *after) {
    Cairn__Request request;
    Cairn__PeerList list;
    ca_request_peer_list(&request, &list, 0, by_state, state, limit, after);
    return ca_caller_call(caller, &request);
}

//  Every field of `got` is `want`'s, the address as `address`.
static void s_peer_expect(const Cairn__Peer *got, const Cairn__Peer *want, const char *address) {
    CA_CHECK(streq(got->peer_id, want->peer_id) && streq(got->address, address));
    CA_CHECK(got->port == want->port && streq(got->display_name, want->display_name));
    CA_CHECK(got->public_key.len == 32 &&
             memcmp(got->public_key.data, want->public_key.data, 32) == 0);
    CA_CHECK(got->state == want->state && got->last_seen == want->last_seen);
    CA_CHECK(got->blocked == want->blocked);
}

double peers_fixture_put_new(ca_caller_t *caller, const Cairn__Peer *peer, const char *address) {
    double before = ca_now_seconds();
    Cairn__Response *response =
        ca_response_ok(peers_fixture_put(caller, peer, NULL), CAIRN__RESPONSE__BODY_PEER_PUT);
    const Cairn__Peer *stored = response->peer_put;
    s_peer_expect(stored, peer, address);
    CA_CHECK(stored->created_at >= before - 1 && stored->created_at <= ca_now_seconds());
    double created_at = stored->created_at;
    cairn__response__free_unpacked(response, NULL);
    return created_at;
}

void peers_fixture_get_expect(ca_caller_t *caller, const Cairn__Peer *peer, const char *address,
                              double created_at) {
    Cairn__Response *response =
        ca_response_ok(peers_fixture_get(caller, peer->peer_id), CAIRN__RESPONSE__BODY_PEER_GET);
    s_peer_expect(response->peer_get, peer, address);
    CA_CHECK(response->peer_get->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
}

//  ---- the self-test ------------------------------------------------------------------

//  Every peer, following pages.
static size_t s_count(ca_caller_t *caller) {
    Cairn__Response *response =
        ca_response_expect(peers_fixture_list(caller, false, 0, 0, ""), CAIRN__STATUS__OK, NULL);
    assert(!response->peer_list->more);
    size_t count = response->peer_list->n_peers;
    cairn__response__free_unpacked(response, NULL);
    return count;
}

//  PUT must fail INVALID with `fragment` in the message.
static void s_put_invalid(ca_caller_t *caller, const Cairn__Peer *peer, const char *text,
                          const char *fragment) {
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, peer, text), CAIRN__STATUS__INVALID, NULL);
    if (!strstr(response->error, fragment)) {
        fprintf(stderr, "\npeers_test: '%s' lacks '%s'\n", response->error, fragment);
        assert(false);
    }
    cairn__response__free_unpacked(response, NULL);
}

//  PUT with `text` as the key must store exactly `key`.
static void s_put_key_text(ca_caller_t *caller, const char *text, const uint8_t key[32]) {
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "key-forms", NULL);
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, &peer, text), CAIRN__STATUS__OK, NULL);
    assert(response->peer_put->public_key.len == 32 &&
           memcmp(response->peer_put->public_key.data, key, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_get(caller, "key-forms"), CAIRN__STATUS__OK, NULL);
    assert(memcmp(response->peer_get->public_key.data, key, 32) == 0);
    cairn__response__free_unpacked(response, NULL);
}

//  A PEM block around `der` (size bytes), its base64 body split by `split`.
static void s_pem(const uint8_t *der, size_t size, const char *split, char *pem, size_t pem_size) {
    char body[256];
    sodium_bin2base64(body, sizeof body, der, size, sodium_base64_VARIANT_ORIGINAL);
    size_t half = strlen(body) / 2;
    snprintf(pem, pem_size, "%s\n%.*s%s%s\n%s\n", s_pem_begin, (int)half, body, split, body + half,
             s_pem_end);
}

static void s_test_key_forms(ca_caller_t *caller) {
    //  A key whose standard base64 has both '+' and '/', so the URL-safe
    //  alphabet differs from it.
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xfb ^ (i * 7));
    key[0] = 0xfb, key[1] = 0xff, key[2] = 0xbf;
    char text[128];
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_ORIGINAL);
    assert(strchr(text, '+') && strchr(text, '/') && strchr(text, '='));
    s_put_key_text(caller, text, key);
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    assert(!strchr(text, '='));
    s_put_key_text(caller, text, key);
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_URLSAFE);
    assert(strchr(text, '-') && strchr(text, '_'));
    s_put_key_text(caller, text, key);
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_put_key_text(caller, text, key);
    //  Surrounding whitespace (a pasted key with its newline) is ignored.
    char padded[160];
    snprintf(padded, sizeof padded, "  %s\r\n", text);
    s_put_key_text(caller, padded, key);

    //  PEM: openssl's own output, and ours with line breaks in the body.
    uint8_t openssl_key[32];
    assert(sodium_hex2bin(openssl_key, 32, s_openssl_hex, 64, NULL, NULL, NULL) == 0);
    s_put_key_text(caller, s_openssl_pem, openssl_key);
    uint8_t der[44];
    memcpy(der, s_spki_prefix, 12);
    memcpy(der + 12, key, 32);
    char pem[256];
    s_pem(der, sizeof der, "\r\n", pem, sizeof pem);
    s_put_key_text(caller, pem, key);

    //  Raw bytes.
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "key-forms", key);
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(memcmp(response->peer_put->public_key.data, key, 32) == 0);
    cairn__response__free_unpacked(response, NULL);

    //  Wrong sizes and wrong forms.
    uint8_t long_key[33] = {0};
    peer.public_key.data = long_key;
    peer.public_key.len = 31;
    s_put_invalid(caller, &peer, NULL, "31 bytes");
    peer.public_key.len = 33;
    s_put_invalid(caller, &peer, NULL, "33 bytes");
    peer.public_key.len = 32;
    s_put_invalid(caller, &peer, s_openssl_pem, "given twice");
    peer.public_key.len = 0;
    s_put_invalid(caller, &peer, NULL, "missing");
    s_put_invalid(caller, &peer, " \n\t", "blank");
    sodium_bin2base64(text, sizeof text, key, 31, sodium_base64_VARIANT_ORIGINAL);
    s_put_invalid(caller, &peer, text, "base64 of 31 bytes");
    sodium_bin2base64(text, sizeof text, long_key, 33, sodium_base64_VARIANT_URLSAFE);
    s_put_invalid(caller, &peer, text, "base64 of 33 bytes");
    s_put_invalid(caller, &peer, "not base64 at all!", "neither base64 nor a PEM block");
    s_put_invalid(caller, &peer, s_openssl_hex, "base64 of 48 bytes"); //  hex is not accepted
    //  Mixed alphabets and inner spaces do not decode.
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_ORIGINAL);
    text[strcspn(text, "/")] = '_';
    s_put_invalid(caller, &peer, text, "neither base64");
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_ORIGINAL);
    text[10] = ' ';
    s_put_invalid(caller, &peer, text, "neither base64");
    s_put_invalid(caller, &peer,
                  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
                  "-----END PRIVATE KEY-----",
                  "never send a private key");
    s_put_invalid(caller, &peer, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA5BuJnNMfba",
                  "does not end with");
    s_put_invalid(caller, &peer, "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
                  "not valid base64");
    der[8] = 0x6e; //  X25519 (1.3.101.110), not Ed25519
    s_pem(der, sizeof der, "\n", pem, sizeof pem);
    s_put_invalid(caller, &peer, pem, "not an Ed25519");
    der[8] = 0x70;
    s_pem(der, 43, "\n", pem, sizeof pem);
    s_put_invalid(caller, &peer, pem, "43 bytes of DER");
    char *huge = (char *)malloc(CA_PEER_KEY_TEXT_MAX + 2);
    memset(huge, 'A', CA_PEER_KEY_TEXT_MAX + 1);
    huge[CA_PEER_KEY_TEXT_MAX + 1] = 0;
    s_put_invalid(caller, &peer, huge, "longer than 1024");
    free(huge);
    //  Every key message lists the forms that work.
    s_put_invalid(caller, &peer, "x", "accepted: 32 raw bytes");
}

static void s_test_fields(ca_caller_t *caller, const uint8_t key[32]) {
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "fields", key);
    //  Addresses: literals only, stored canonical.
    const char *good[][2] = {{"192.0.2.1", "192.0.2.1"},
                             {"2001:DB8:0:0::1", "2001:db8::1"},
                             {"::1", "::1"},
                             {"::ffff:192.0.2.9", "::ffff:192.0.2.9"},
                             {"fe80:0000::0001", "fe80::1"}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        peer.address = (char *)good[i][0];
        Cairn__Response *response =
            ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
        assert(streq(response->peer_put->address, good[i][1]));
        cairn__response__free_unpacked(response, NULL);
    }
    const char *bad[] = {"localhost",         "1.2.3",        "256.1.1.1", "1.2.3.4:80", "[::1]",
                         "fe80::1%eth0",      "01.2.3.4",     " 1.2.3.4",  "1.2.3.4 ",   "::g",
                         "1:2:3:4:5:6:7:8:9", "../etc/hosts", "0x7f.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        peer.address = (char *)bad[i];
        s_put_invalid(caller, &peer, NULL, "not an IPv4 or IPv6 literal");
    }
    char long_address[300];
    memset(long_address, '1', sizeof long_address - 1);
    long_address[sizeof long_address - 1] = 0;
    peer.address = long_address;
    s_put_invalid(caller, &peer, NULL, "not an IPv4 or IPv6 literal");
    peer.address = (char *)"";
    s_put_invalid(caller, &peer, NULL, "peer.address is missing");
    peer.address = (char *)"192.0.2.1";

    //  Ports.
    const uint32_t ports[] = {1, 65535, 0, 65536, 70000, UINT32_MAX};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        peer.port = ports[i];
        if (i < 2) {
            Cairn__Response *response =
                ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
            assert(response->peer_put->port == ports[i]);
            cairn__response__free_unpacked(response, NULL);
        } else
            s_put_invalid(caller, &peer, NULL, ports[i] ? "out of range" : "missing");
    }
    peer.port = 7402;

    //  Display names: up to 128 bytes, empty allowed.
    char name[CA_PEER_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    peer.display_name = name;
    s_put_invalid(caller, &peer, NULL, "display_name is 129 bytes");
    name[CA_PEER_NAME_MAX] = 0;
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(strlen(response->peer_put->display_name) == CA_PEER_NAME_MAX);
    cairn__response__free_unpacked(response, NULL);
    peer.display_name = (char *)"";
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(streq(response->peer_put->display_name, ""));
    cairn__response__free_unpacked(response, NULL);

    //  States and times.
    peer.state = (Cairn__PeerState)3;
    s_put_invalid(caller, &peer, NULL, "not a known PeerState");
    peer.state = (Cairn__PeerState)-1;
    s_put_invalid(caller, &peer, NULL, "not a known PeerState");
    peer.state = CAIRN__PEER_STATE__PEER_OFFLINE;
    peer.last_seen = -1;
    s_put_invalid(caller, &peer, NULL, "last_seen");
    peer.last_seen = NAN;
    s_put_invalid(caller, &peer, NULL, "last_seen");
    peer.last_seen = INFINITY;
    s_put_invalid(caller, &peer, NULL, "last_seen");
    peer.last_seen = 1700000000.25;
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(response->peer_put->state == CAIRN__PEER_STATE__PEER_OFFLINE);
    assert(response->peer_put->last_seen == 1700000000.25);
    cairn__response__free_unpacked(response, NULL);

    //  Peer ids.
    char long_id[CA_PEER_ID_MAX + 2];
    memset(long_id, 'p', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    const char *bad_ids[] = {"", "a b", "../x", "a/b", "tab\t", "caf\xc3\xa9", "a;b", long_id};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        peer.peer_id = (char *)bad_ids[i];
        s_put_invalid(caller, &peer, NULL, "peer_id");
        response =
            ca_response_expect(peers_fixture_get(caller, bad_ids[i]), CAIRN__STATUS__INVALID, NULL);
        cairn__response__free_unpacked(response, NULL);
        response = ca_response_expect(peers_fixture_block(caller, bad_ids[i], true),
                                      CAIRN__STATUS__INVALID, NULL);
        cairn__response__free_unpacked(response, NULL);
        response = ca_response_expect(peers_fixture_status(caller, bad_ids[i], 1, 0),
                                      CAIRN__STATUS__INVALID, NULL);
        cairn__response__free_unpacked(response, NULL);
    }
    long_id[CA_PEER_ID_MAX] = 0; //  exactly the limit
    peer.peer_id = long_id;
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);
    peer.peer_id = (char *)"Node-1.example:7402_x";
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);

    //  No peer at all.
    Cairn__Request request;
    Cairn__PeerPut put;
    ca_request_peer_put(&request, &put, 0, NULL, NULL);
    response = ca_response_expect(ca_caller_call(caller, &request), CAIRN__STATUS__INVALID, NULL);
    assert(strstr(response->error, "PeerPut.peer is missing"));
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_upsert(ca_caller_t *caller, const uint8_t key[32]) {
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "upsert", key);
    CA_CHECK(peer.state == CAIRN__PEER_STATE__PEER_UNKNOWN && peer.last_seen == 0);
    double created_at = peers_fixture_put_new(caller, &peer, "192.0.2.1");

    //  Update: new fields, same created_at; PeerGet reads the same row.
    uint8_t other_key[32];
    memset(other_key, 0x42, sizeof other_key);
    peers_fixture_peer(&peer, "upsert", other_key);
    peer.address = (char *)"2001:db8::2";
    peer.port = 9000;
    peer.display_name = (char *)"renamed";
    peer.state = CAIRN__PEER_STATE__PEER_ONLINE;
    peer.last_seen = 1234.5;
    peer.created_at = 99; //  ignored: the node keeps the first
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    const Cairn__Peer *stored = response->peer_put;
    assert(stored->created_at == created_at && stored->port == 9000);
    assert(streq(stored->address, "2001:db8::2") && streq(stored->display_name, "renamed"));
    assert(memcmp(stored->public_key.data, other_key, 32) == 0);
    assert(stored->state == CAIRN__PEER_STATE__PEER_ONLINE && stored->last_seen == 1234.5);
    cairn__response__free_unpacked(response, NULL);
    peers_fixture_get_expect(caller, &peer, "2001:db8::2", created_at);

    response =
        ca_response_expect(peers_fixture_get(caller, "nobody"), CAIRN__STATUS__NOT_FOUND, NULL);
    assert(strstr(response->error, "nobody") && strstr(response->error, "PeerPut"));
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_status_block(ca_caller_t *caller, const uint8_t key[32]) {
    Cairn__Peer peer;
    peers_fixture_peer(&peer, "status", key);
    Cairn__Response *response =
        ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    double created_at = response->peer_put->created_at;
    cairn__response__free_unpacked(response, NULL);

    //  Status: last_seen 0 means now; a given time is kept as is.
    double before = ca_now_seconds();
    response = ca_response_expect(
        peers_fixture_status(caller, "status", CAIRN__PEER_STATE__PEER_ONLINE, 0),
        CAIRN__STATUS__OK, NULL);
    assert(response->peer_status->state == CAIRN__PEER_STATE__PEER_ONLINE);
    assert(response->peer_status->last_seen >= before &&
           response->peer_status->last_seen <= ca_now_seconds());
    assert(response->peer_status->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(
        peers_fixture_status(caller, "status", CAIRN__PEER_STATE__PEER_OFFLINE, 1000.75),
        CAIRN__STATUS__OK, NULL);
    assert(response->peer_status->state == CAIRN__PEER_STATE__PEER_OFFLINE);
    assert(response->peer_status->last_seen == 1000.75);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_get(caller, "status"), CAIRN__STATUS__OK, NULL);
    assert(response->peer_get->state == CAIRN__PEER_STATE__PEER_OFFLINE &&
           response->peer_get->last_seen == 1000.75);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_status(caller, "ghost", 1, 0),
                                  CAIRN__STATUS__NOT_FOUND, NULL);
    assert(strstr(response->error, "no peer 'ghost'"));
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_status(caller, "status", 7, 0),
                                  CAIRN__STATUS__INVALID, NULL);
    assert(strstr(response->error, "PeerState"));
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_status(caller, "status", 1, -5),
                                  CAIRN__STATUS__INVALID, NULL);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_status(caller, "status", 1, NAN),
                                  CAIRN__STATUS__INVALID, NULL);
    cairn__response__free_unpacked(response, NULL);

    //  Block list: block, survives a re-announce, unblock.
    response =
        ca_response_expect(peers_fixture_block(caller, "status", true), CAIRN__STATUS__OK, NULL);
    assert(response->peer_block->blocked && streq(response->peer_block->peer_id, "status"));
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_get(caller, "status"), CAIRN__STATUS__OK, NULL);
    assert(response->peer_get->blocked);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_block(caller, "status", true), CAIRN__STATUS__OK,
                                  NULL); //  idempotent
    assert(response->peer_block->blocked);
    cairn__response__free_unpacked(response, NULL);
    peer.blocked = false;
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(response->peer_put->blocked);
    cairn__response__free_unpacked(response, NULL);
    response =
        ca_response_expect(peers_fixture_block(caller, "status", false), CAIRN__STATUS__OK, NULL);
    assert(!response->peer_block->blocked);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_get(caller, "status"), CAIRN__STATUS__OK, NULL);
    assert(!response->peer_get->blocked);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_block(caller, "ghost", true),
                                  CAIRN__STATUS__NOT_FOUND, NULL);
    assert(strstr(response->error, "no peer 'ghost'"));
    cairn__response__free_unpacked(response, NULL);
    //  A new peer starts unblocked even if the request says otherwise.
    peers_fixture_peer(&peer, "fresh", key);
    peer.blocked = true;
    response = ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL);
    assert(!response->peer_put->blocked);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_list(ca_caller_t *caller, const uint8_t key[32]) {
    //  A fresh set: ids chosen so that peer_id order differs from insert order.
    const char *ids[] = {"list-d", "list-a", "list-c", "list-b", "list-e"};
    const int states[] = {1, 2, 1, 0, 1};
    size_t before = s_count(caller);
    for (size_t i = 0; i < 5; i++) {
        Cairn__Peer peer;
        peers_fixture_peer(&peer, ids[i], key);
        peer.state = (Cairn__PeerState)states[i];
        cairn__response__free_unpacked(
            ca_response_expect(peers_fixture_put(caller, &peer, NULL), CAIRN__STATUS__OK, NULL),
            NULL);
    }
    assert(s_count(caller) == before + 5);

    //  By state, in peer_id order: the online ones are c, d and e.
    Cairn__Response *response = ca_response_expect(
        peers_fixture_list(caller, true, CAIRN__PEER_STATE__PEER_ONLINE, 0, "list-"),
        CAIRN__STATUS__OK, NULL);
    const Cairn__PeerPage *page = response->peer_list;
    size_t online = 0;
    const char *previous = "";
    for (size_t i = 0; i < page->n_peers; i++) {
        assert(page->peers[i]->state == CAIRN__PEER_STATE__PEER_ONLINE);
        assert(strcmp(previous, page->peers[i]->peer_id) < 0);
        previous = page->peers[i]->peer_id;
        online += strncmp(previous, "list-", 5) == 0;
    }
    assert(online == 3 && !page->more);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(
        peers_fixture_list(caller, true, CAIRN__PEER_STATE__PEER_UNKNOWN, 0, "list-"),
        CAIRN__STATUS__OK, NULL);
    assert(response->peer_list->n_peers >= 1 &&
           streq(response->peer_list->peers[0]->peer_id, "list-b"));
    cairn__response__free_unpacked(response, NULL);

    //  Pages of two from "list-": a b | c d | e.
    const char *expected[] = {"list-a", "list-b", "list-c", "list-d", "list-e"};
    char after[CA_PEER_ID_MAX + 1] = "list-";
    size_t seen = 0;
    for (int round = 0; round < 3; round++) {
        response = ca_response_expect(peers_fixture_list(caller, false, 0, 2, after),
                                      CAIRN__STATUS__OK, NULL);
        page = response->peer_list;
        for (size_t i = 0; i < page->n_peers && seen < 5; i++, seen++)
            assert(streq(page->peers[i]->peer_id, expected[seen]));
        assert(page->n_peers == 2); //  more peers follow list-e (status, upsert)
        snprintf(after, sizeof after, "%s", page->peers[page->n_peers - 1]->peer_id);
        assert(page->more);
        cairn__response__free_unpacked(response, NULL);
    }
    assert(seen == 5);

    //  Bad lists.
    response = ca_response_expect(peers_fixture_list(caller, true, 9, 0, ""),
                                  CAIRN__STATUS__INVALID, NULL);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_list(caller, false, 1, 0, ""),
                                  CAIRN__STATUS__INVALID, NULL);
    assert(strstr(response->error, "by_state"));
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_list(caller, false, 0, CA_PEER_LIST_MAX + 1, ""),
                                  CAIRN__STATUS__INVALID, NULL);
    assert(strstr(response->error, "after_peer_id"));
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_list(caller, false, 0, 0, "../x"),
                                  CAIRN__STATUS__INVALID, NULL);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_list(caller, false, 0, CA_PEER_LIST_MAX, ""),
                                  CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);
}

void peers_test(bool verbose) {
    if (verbose)
        printf(" * peers: ");
    ca_testbed_t *bed = ca_testbed_new(&peers_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i + 1);
    s_test_upsert(caller, key);
    s_test_key_forms(caller);
    size_t count = s_count(caller);
    s_test_fields(caller, key);
    //  Every rejected put changed nothing; the good ones added 3 peers.
    assert(s_count(caller) == count + 3);
    s_test_status_block(caller, key);
    s_test_list(caller, key);

    //  Undecodable bytes: INVALID, and the worker keeps serving.
    const uint8_t garbage[] = {0x08, 0x2a, 0x82, 0x19, 0x05, 0xff};
    Cairn__Response *response = ca_testbed_call_raw(bed, garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 42);
    cairn__response__free_unpacked(response, NULL);
    response = ca_response_expect(peers_fixture_get(caller, "upsert"), CAIRN__STATUS__OK, NULL);
    cairn__response__free_unpacked(response, NULL);

    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

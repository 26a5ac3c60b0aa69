/*  =========================================================================
    peer_fetch - ContentFetch: a blob this node lacks, from its peers

    Owned by the peer actor (one thread): the actor hands it ContentFetch
    requests from the sessions pool and PeerMessages of kinds 40..42
    (schemas/peer.proto), and lends it its sessions through
    peer_fetch_host_t. It keeps no session state of its own.

    Fetching side, per fetch (at most FETCH_MAX at once, more: BUSY):

        start: the online peers, in peer id order (none: UNAVAILABLE)
          |
          v
        RUN: FetchRequest {offset, <= 1 MiB} x window --> FetchChunk in order
          ^                                        |  last chunk: hash it
          |  FetchMissing, silence, too big,       |  matches: STORE
          +--- bytes that break the rules or ------+  (CachePut to the cache pool)
               do not hash (peer cut off): next peer      |
                                                    answer: hash, size, peer

    - Peers are asked one after the other, each for the whole blob. Until
      the first chunk tells the blob's size one request is out; then up to
      FETCH_WINDOW chunks are asked for ahead, each the range after the
      last asked. A session delivers in order, so each chunk must start
      where the bytes received end. A peer that sends nothing for
      FETCH_STEP_BEATS heartbeats (at least FETCH_STEP_MIN_MS) while asked
      is left for the next; the fetch's own timeout (timeout_ms) answers
      UNAVAILABLE whatever step it is in.
    - Memory while receiving: one chunk. Bytes go to a temp file under
      <data dir>/cache/tmp (ca_upload: hashed as they are written; the
      cache's start empties tmp/ after a crash). The cache store takes a
      blob as one CachePut frame, so once the hash matched the file is read
      into one buffer for it: a fetch is bounded by max_frame_bytes (and
      max_blob_bytes), and only a fetch in STORE holds its blob in memory.
    - No pacing: the chunks this node asked for (peer_fetch_solicited) do
      not count against the session's flood bound (PEER_MAX_BYTES_PER_S);
      what bounds them is the window (FETCH_WINDOW MiB per fetch,
      FETCH_MAX fetches) and the server's in-flight bound.
    - FetchRequest carries bytes_received (as a Heartbeat), so the server's
      in-flight bound follows the transfer instead of the heartbeats.
    - Stored with source_peer = the serving peer id and an empty receipt:
      the hash proves the bytes; a signed statement of the serving peer
      (what a payment receipt would be) is future work.

    Serving side: a FetchRequest is answered from this node's content store
    (inline rows or blob files) or else its cache, read-only (its own SQLite
    connection and ca_blobs handles, as the stores read), one range of at
    most FETCH_CHUNK_MAX, never the whole blob. Not there: FetchMissing.
    A request out of bounds (hash not 32 bytes, length 0 or > 1 MiB) cuts
    the peer off. When the session's in-flight bound refuses the chunk it is
    dropped (logged); the fetcher's step timeout moves on.
    ========================================================================= */

#include "peer_fetch.h"
#include "ca_blobs.h"
#include "ca_clock.h"
#include "ca_log.h"
#include "ca_sql.h"
#include "ca_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define FETCH_CHUNK_MAX          (1024 * 1024)
#define FETCH_MAX                4
#define FETCH_PEERS_MAX          64
#define FETCH_TIMEOUT_DEFAULT_MS 30000
#define FETCH_TIMEOUT_MAX_MS     600000
#define FETCH_WINDOW             4 //  chunks asked for ahead, once the size is known
#define FETCH_STEP_BEATS         3
#define FETCH_STEP_MIN_MS        2000

typedef enum { F_RUN, F_STORE } phase_t;

typedef struct {
    zframe_t *worker;
    uint64_t request_id;
    uint8_t hash[32];
    int64_t timeout_ms;
    int64_t deadline;
    int64_t step_deadline;
    char (*peers)[65];
    size_t n_peers, next;
    char peer[65];
    phase_t phase;
    uint64_t offset;      //  bytes received (and written) from the peer
    uint64_t asked;       //  the end of the ranges asked for
    uint32_t outstanding; //  chunks asked for, not yet received
    uint64_t total;
    bool total_known;
    ca_upload_t *upload;
    uint64_t cache_id;
    uint32_t cut;     //  peers cut off for bad answers
    uint32_t too_big; //  peers whose blob was over the bound
    uint32_t silent;  //  peers that did not answer a step in time
} fetch_t;

struct _peer_fetch_t {
    peer_fetch_config_t config;
    peer_fetch_host_t host;
    zsock_t *control;
    zsock_t *cache;
    ca_sql_t *sql;
    ca_blobs_t *content_blobs;
    ca_blobs_t *cache_blobs;
    fetch_t *fetches[FETCH_MAX];
    uint64_t cache_ids;
};

static void s_hex(const uint8_t *bytes, char hex[65]) {
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
}

//  ---- answers to the client ------------------------------------------------------------

static void s_reply(peer_fetch_t *self, zframe_t **worker, uint64_t id, ca_status_t status,
                    const char *text, Cairn__ContentFetched *fetched) {
    if (!*worker) { //  a fetch of the set reconciliation: no client waits
        if (status != CA_OK)
            ca_log_notice("peer_fetch: a reconciliation fetch ended: %s", text);
        return;
    }
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.status = (Cairn__Status)status;
    response.error = (char *)(text ? text : "");
    if (fetched) {
        response.body_case = CAIRN__RESPONSE__BODY_CONTENT_FETCH;
        response.content_fetch = fetched;
    }
    size_t size = cairn__response__get_packed_size(&response);
    zframe_t *frames[2] = {*worker, zframe_new(NULL, size)};
    cairn__response__pack(&response, zframe_data(frames[1]));
    ca_send_frames(self->control, frames, 2);
    zframe_destroy(&frames[1]);
    zframe_destroy(worker);
}

static void s_fetch_free(peer_fetch_t *self, fetch_t *fetch) {
    for (size_t i = 0; i < FETCH_MAX; i++)
        if (self->fetches[i] == fetch)
            self->fetches[i] = NULL;
    if (fetch->upload)
        ca_upload_discard(&fetch->upload);
    zframe_destroy(&fetch->worker);
    free(fetch->peers);
    free(fetch);
}

static void s_fail(peer_fetch_t *self, fetch_t *fetch, ca_status_t status, const char *text) {
    s_reply(self, &fetch->worker, fetch->request_id, status, text, NULL);
    s_fetch_free(self, fetch);
}

//  ---- fetching --------------------------------------------------------------------------

static int64_t s_step_ms(peer_fetch_t *self) {
    int64_t step = self->config.heartbeat_ms * FETCH_STEP_BEATS;
    return step < FETCH_STEP_MIN_MS ? FETCH_STEP_MIN_MS : step;
}

static void s_next_peer(peer_fetch_t *self, fetch_t *fetch);

//  The length of the chunk that starts at `offset`: FETCH_CHUNK_MAX, or
//  what is left once the size is known.
static uint64_t s_chunk_length(const fetch_t *fetch, uint64_t offset) {
    if (fetch->total_known && fetch->total - offset < FETCH_CHUNK_MAX)
        return fetch->total - offset;
    return FETCH_CHUNK_MAX;
}

//  Asks for the next ranges while the window has room (one request until
//  the size is known); what does not go now, the tick sends.
static void s_ask(peer_fetch_t *self, fetch_t *fetch) {
    uint32_t window = fetch->total_known ? FETCH_WINDOW : 1;
    while (fetch->outstanding < window &&
           (fetch->total_known ? fetch->asked < fetch->total : fetch->asked == 0)) {
        uint64_t length = s_chunk_length(fetch, fetch->asked);
        Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
        Cairn__Peer__FetchRequest ask = CAIRN__PEER__FETCH_REQUEST__INIT;
        ask.hash.data = fetch->hash;
        ask.hash.len = 32;
        ask.offset = fetch->asked;
        ask.length = (uint32_t)(length ? length : 1);
        ask.bytes_received = self->host.bytes_in(self->host.host, fetch->peer);
        message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST;
        message.fetch_request = &ask;
        if (self->host.send(self->host.host, fetch->peer, &message) != 0)
            return; //  in-flight bound or gone: the tick retries until the step ends
        if (fetch->outstanding++ == 0)
            fetch->step_deadline = zclock_mono() + s_step_ms(self);
        fetch->asked += length ? length : 1;
    }
}

static void s_next_peer(peer_fetch_t *self, fetch_t *fetch) {
    if (fetch->upload)
        ca_upload_discard(&fetch->upload);
    if (fetch->next >= fetch->n_peers) {
        char hex[65], text[512];
        s_hex(fetch->hash, hex);
        snprintf(text, sizeof text,
                 "%s was not found on any of the %zu online peers asked (%u cut off for bad "
                 "bytes, %u silent, %u holding it beyond the %" PRIu64 " bytes this node "
                 "fetches); connect a peer that stores it (cairn peer connect)",
                 hex, fetch->n_peers, fetch->cut, fetch->silent, fetch->too_big,
                 self->config.max_bytes);
        s_fail(self, fetch, CA_NOT_FOUND, text);
        return;
    }
    snprintf(fetch->peer, sizeof fetch->peer, "%s", fetch->peers[fetch->next++]);
    fetch->offset = fetch->asked = fetch->total = 0;
    fetch->outstanding = 0;
    fetch->total_known = false;
    char *error = NULL;
    fetch->upload = ca_upload_new(self->cache_blobs, &error);
    if (!fetch->upload) {
        char text[512];
        snprintf(text, sizeof text, "cannot open a temp file for the fetch: %s", error);
        zstr_free(&error);
        s_fail(self, fetch, CA_INTERNAL, text);
        return;
    }
    fetch->phase = F_RUN;
    fetch->step_deadline = zclock_mono() + s_step_ms(self);
    s_ask(self, fetch);
}

//  A peer broke the rules of a fetch: cut off, next peer.
static void s_bad_peer(peer_fetch_t *self, fetch_t *fetch, const char *why) {
    char hex[65];
    s_hex(fetch->hash, hex);
    ca_log_warning("peer_fetch: peer %.16s, fetching %.16s: %s", fetch->peer, hex, why);
    self->host.cut_off(self->host.host, fetch->peer, why);
    fetch->cut++;
    s_next_peer(self, fetch);
}

void peer_fetch_start(peer_fetch_t *self, zframe_t **worker, const Cairn__Request *request) {
    const Cairn__ContentFetch *in = request->content_fetch;
    char text[256];
    if (!in || in->hash.len != 32) {
        snprintf(text, sizeof text, "hash is %zu bytes; give the 32 bytes of a SHA-256",
                 in ? in->hash.len : 0);
        s_reply(self, worker, request->id, CA_INVALID, text, NULL);
        return;
    }
    if (in->timeout_ms > FETCH_TIMEOUT_MAX_MS) {
        snprintf(text, sizeof text, "timeout_ms %u is above %d", in->timeout_ms,
                 FETCH_TIMEOUT_MAX_MS);
        s_reply(self, worker, request->id, CA_INVALID, text, NULL);
        return;
    }
    size_t slot = FETCH_MAX;
    for (size_t i = 0; i < FETCH_MAX && slot == FETCH_MAX; i++)
        if (!self->fetches[i])
            slot = i;
    if (slot == FETCH_MAX) {
        snprintf(text, sizeof text, "%d fetches run already; retry when one ended", FETCH_MAX);
        s_reply(self, worker, request->id, CA_BUSY, text, NULL);
        return;
    }
    fetch_t *fetch = (fetch_t *)zmalloc(sizeof(fetch_t));
    fetch->peers = zmalloc(FETCH_PEERS_MAX * sizeof *fetch->peers);
    fetch->n_peers = self->host.online(self->host.host, fetch->peers, FETCH_PEERS_MAX);
    fetch->worker = *worker;
    *worker = NULL;
    fetch->request_id = request->id;
    memcpy(fetch->hash, in->hash.data, 32);
    fetch->timeout_ms = in->timeout_ms ? in->timeout_ms : FETCH_TIMEOUT_DEFAULT_MS;
    fetch->deadline = zclock_mono() + fetch->timeout_ms;
    self->fetches[slot] = fetch;
    if (fetch->n_peers == 0) {
        s_fail(self, fetch, CA_UNAVAILABLE,
               "no peer session is online to fetch from; connect one (cairn peer connect) "
               "and retry");
        return;
    }
    s_next_peer(self, fetch);
}

int peer_fetch_want(peer_fetch_t *self, const char *peer_id, const uint8_t hash[32]) {
    size_t used = 0, slot = FETCH_MAX;
    for (size_t i = 0; i < FETCH_MAX; i++) {
        if (self->fetches[i] && memcmp(self->fetches[i]->hash, hash, 32) == 0)
            return 0; //  fetched already
        if (self->fetches[i])
            used++;
        else if (slot == FETCH_MAX)
            slot = i;
    }
    if (used + 1 >= FETCH_MAX)
        return -1; //  one slot stays free for clients' ContentFetch
    fetch_t *fetch = (fetch_t *)zmalloc(sizeof(fetch_t));
    fetch->peers = zmalloc(sizeof *fetch->peers);
    snprintf(fetch->peers[0], sizeof fetch->peers[0], "%s", peer_id);
    fetch->n_peers = 1;
    memcpy(fetch->hash, hash, 32);
    fetch->timeout_ms = FETCH_TIMEOUT_DEFAULT_MS;
    fetch->deadline = zclock_mono() + fetch->timeout_ms;
    self->fetches[slot] = fetch;
    s_next_peer(self, fetch);
    return 0;
}

//  Hands the verified blob to the cache (one CachePut frame, see the banner).
static void s_store(peer_fetch_t *self, fetch_t *fetch) {
    uint8_t *data = (uint8_t *)malloc(fetch->total ? fetch->total : 1);
    int fd = open(ca_upload_path(fetch->upload), O_RDONLY | O_CLOEXEC);
    uint64_t got = 0;
    while (fd >= 0 && data && got < fetch->total) {
        ssize_t n = read(fd, data + got, fetch->total - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (uint64_t)n;
    }
    if (fd >= 0)
        close(fd);
    ca_upload_discard(&fetch->upload);
    if (!data || got != fetch->total) {
        free(data);
        s_fail(self, fetch, CA_INTERNAL, "cannot read back the fetched blob's temp file; retry");
        return;
    }
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__CachePut put = CAIRN__CACHE_PUT__INIT;
    put.hash.data = fetch->hash;
    put.hash.len = 32;
    put.data.data = data;
    put.data.len = fetch->total;
    put.source_peer = fetch->peer;
    put.queried_at = ca_now_seconds();
    request.id = fetch->cache_id = ++self->cache_ids;
    request.body_case = CAIRN__REQUEST__BODY_CACHE_PUT;
    request.cache_put = &put;
    size_t size = cairn__request__get_packed_size(&request);
    zframe_t *frames[2] = {zframe_new("fetch", 5), zframe_new(NULL, size)};
    cairn__request__pack(&request, zframe_data(frames[1]));
    free(data);
    int rc = ca_send_frames(self->cache, frames, 2);
    zframe_destroy(&frames[0]);
    zframe_destroy(&frames[1]);
    if (rc != 0) {
        s_fail(self, fetch, CA_BUSY, "the cache is busy; the fetched blob was not kept; retry");
        return;
    }
    fetch->phase = F_STORE;
}

static void s_on_chunk(peer_fetch_t *self, fetch_t *fetch, const Cairn__Peer__FetchChunk *chunk) {
    uint64_t asked = s_chunk_length(fetch, fetch->offset);
    const char *why = NULL;
    uint64_t end = chunk->offset + chunk->data.len;
    if (chunk->offset != fetch->offset)
        why = "a FetchChunk at another offset than asked";
    else if (fetch->total_known && chunk->total != fetch->total)
        why = "a FetchChunk whose total changed";
    else if (chunk->data.len > asked || end > chunk->total || end < chunk->offset)
        why = "a FetchChunk longer than asked or past its total";
    else if (end < chunk->total && chunk->data.len < asked)
        //  The next range is asked for already, from where this one should end.
        why = "a FetchChunk shorter than asked before the end";
    else if (chunk->last != (end == chunk->total))
        why = "a FetchChunk whose `last` does not match its end";
    if (why) {
        s_bad_peer(self, fetch, why);
        return;
    }
    if (chunk->total > self->config.max_bytes) {
        ca_log_notice("peer_fetch: peer %.16s has the blob but it is %" PRIu64
                      " bytes, over the %" PRIu64 " this node fetches",
                      fetch->peer, chunk->total, self->config.max_bytes);
        fetch->too_big++;
        s_next_peer(self, fetch);
        return;
    }
    fetch->total = chunk->total;
    fetch->total_known = true;
    char *error = NULL;
    if (chunk->data.len &&
        ca_upload_write(fetch->upload, chunk->data.data, chunk->data.len, &error) != 0) {
        char text[512];
        snprintf(text, sizeof text, "cannot write the fetched bytes: %s", error);
        zstr_free(&error);
        s_fail(self, fetch, CA_INTERNAL, text);
        return;
    }
    fetch->offset = end;
    fetch->outstanding--;
    fetch->step_deadline = zclock_mono() + s_step_ms(self);
    if (end < fetch->total) {
        s_ask(self, fetch);
        return;
    }
    uint8_t hash[32];
    if (ca_upload_finish(fetch->upload, hash, &error) != 0) {
        char text[512];
        snprintf(text, sizeof text, "cannot finish the fetched blob's temp file: %s", error);
        zstr_free(&error);
        s_fail(self, fetch, CA_INTERNAL, text);
        return;
    }
    if (memcmp(hash, fetch->hash, 32) != 0) {
        s_bad_peer(self, fetch, "sent bytes that do not hash to the requested hash");
        return;
    }
    s_store(self, fetch);
}

//  ---- serving -----------------------------------------------------------------------------

static void s_missing(peer_fetch_t *self, const char *peer_id, const uint8_t *hash,
                      const char *reason) {
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__FetchMissing missing = CAIRN__PEER__FETCH_MISSING__INIT;
    missing.hash.data = (uint8_t *)hash;
    missing.hash.len = 32;
    missing.reason = (char *)reason;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_MISSING;
    message.fetch_missing = &missing;
    self->host.send(self->host.host, peer_id, &message);
}

//  The blob's size and, for an inline one, a copy of its bytes; which
//  files hold it otherwise. False when neither store has it.
static bool s_lookup(peer_fetch_t *self, const uint8_t *hash, uint64_t *total,
                     uint8_t **inline_data, ca_blobs_t **blobs) {
    *inline_data = NULL;
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT b.size, i.data FROM content_blobs b LEFT JOIN "
                                  "content_inline i ON i.hash = b.hash WHERE b.hash = ?1");
    bool found = false;
    if (stmt) {
        sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            found = true;
            *total = (uint64_t)sqlite3_column_int64(stmt, 0);
            *blobs = self->content_blobs;
            if (sqlite3_column_type(stmt, 1) == SQLITE_BLOB) {
                int size = sqlite3_column_bytes(stmt, 1);
                *inline_data = (uint8_t *)malloc(size ? (size_t)size : 1);
                memcpy(*inline_data, sqlite3_column_blob(stmt, 1), (size_t)size);
                *total = (uint64_t)size;
            }
        }
        sqlite3_reset(stmt);
    }
    if (found)
        return true;
    stmt = ca_sql_prepare(self->sql, "SELECT size FROM cache_entries WHERE hash = ?1");
    if (stmt) {
        sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            found = true;
            *total = (uint64_t)sqlite3_column_int64(stmt, 0);
            *blobs = self->cache_blobs;
        }
        sqlite3_reset(stmt);
    }
    return found;
}

static void s_serve(peer_fetch_t *self, const char *peer_id, const Cairn__Peer__FetchRequest *ask) {
    self->host.acked(self->host.host, peer_id, ask->bytes_received);
    if (ask->hash.len != 32 || ask->length == 0 || ask->length > FETCH_CHUNK_MAX) {
        self->host.cut_off(self->host.host, peer_id,
                           "a FetchRequest out of bounds (hash not 32 bytes, or length not "
                           "1..1 MiB)");
        return;
    }
    uint64_t total = 0;
    uint8_t *inline_data = NULL;
    ca_blobs_t *blobs = NULL;
    if (!s_lookup(self, ask->hash.data, &total, &inline_data, &blobs)) {
        s_missing(self, peer_id, ask->hash.data, "not stored here");
        return;
    }
    if (ask->offset > total || (ask->offset == total && total > 0)) {
        free(inline_data);
        s_missing(self, peer_id, ask->hash.data, "offset beyond the end of the blob");
        return;
    }
    size_t want = total - ask->offset < ask->length ? (size_t)(total - ask->offset) : ask->length;
    uint8_t *data = (uint8_t *)malloc(want ? want : 1);
    size_t got = 0;
    if (inline_data) {
        memcpy(data, inline_data + ask->offset, want);
        got = want;
    } else if (want) {
        char *error = NULL;
        if (ca_blobs_read_range(blobs, ask->hash.data, data, ask->offset, want, &got, &error) !=
            CA_OK)
            got = 0;
        zstr_free(&error);
    }
    free(inline_data);
    if (got != want) {
        free(data);
        s_missing(self, peer_id, ask->hash.data, "the blob cannot be read here");
        return;
    }
    Cairn__Peer__PeerMessage message = CAIRN__PEER__PEER_MESSAGE__INIT;
    Cairn__Peer__FetchChunk chunk = CAIRN__PEER__FETCH_CHUNK__INIT;
    chunk.hash = ask->hash;
    chunk.offset = ask->offset;
    chunk.data.data = data;
    chunk.data.len = want;
    chunk.total = total;
    chunk.last = ask->offset + want == total;
    message.kind_case = CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK;
    message.fetch_chunk = &chunk;
    if (self->host.send(self->host.host, peer_id, &message) != 0)
        ca_log_notice("peer_fetch: a chunk for peer %.16s was dropped (in-flight bound)", peer_id);
    free(data);
}

//  ---- the actor's entry points ----------------------------------------------------------------

static fetch_t *s_waiting(peer_fetch_t *self, const char *peer_id,
                          const ProtobufCBinaryData *hash) {
    for (size_t i = 0; i < FETCH_MAX; i++) {
        fetch_t *fetch = self->fetches[i];
        if (fetch && fetch->phase == F_RUN && fetch->outstanding > 0 &&
            streq(fetch->peer, peer_id) && hash->len == 32 &&
            memcmp(hash->data, fetch->hash, 32) == 0)
            return fetch;
    }
    return NULL;
}

bool peer_fetch_solicited(peer_fetch_t *self, const char *peer_id,
                          const Cairn__Peer__PeerMessage *message) {
    if (message->kind_case != CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK)
        return false;
    const Cairn__Peer__FetchChunk *chunk = message->fetch_chunk;
    fetch_t *fetch = s_waiting(self, peer_id, &chunk->hash);
    return fetch && chunk->offset == fetch->offset && chunk->data.len <= FETCH_CHUNK_MAX;
}

bool peer_fetch_on_message(peer_fetch_t *self, const char *session_peer_id,
                           const Cairn__Peer__PeerMessage *message) {
    char peer_id[65];
    snprintf(peer_id, sizeof peer_id, "%s", session_peer_id);
    if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_REQUEST)
        s_serve(self, peer_id, message->fetch_request);
    else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_CHUNK) {
        fetch_t *fetch = s_waiting(self, peer_id, &message->fetch_chunk->hash);
        if (fetch)
            s_on_chunk(self, fetch, message->fetch_chunk);
        //  else the late answer of a step this node gave up: dropped
    } else if (message->kind_case == CAIRN__PEER__PEER_MESSAGE__KIND_FETCH_MISSING) {
        fetch_t *fetch = s_waiting(self, peer_id, &message->fetch_missing->hash);
        if (fetch)
            s_next_peer(self, fetch);
    } else
        return false;
    return true;
}

void peer_fetch_on_cache(peer_fetch_t *self) {
    zmsg_t *msg;
    for (int i = 0; i < 64 && (msg = ca_recv_waiting(self->cache)); i++) {
        zframe_t *last = zmsg_last(msg);
        Cairn__Response *response =
            last ? cairn__response__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
        fetch_t *fetch = NULL;
        for (size_t f = 0; response && f < FETCH_MAX && !fetch; f++)
            if (self->fetches[f] && self->fetches[f]->phase == F_STORE &&
                self->fetches[f]->cache_id == response->id)
                fetch = self->fetches[f];
        if (fetch && response->status == CAIRN__STATUS__OK) {
            Cairn__ContentFetched fetched = CAIRN__CONTENT_FETCHED__INIT;
            fetched.hash.data = fetch->hash;
            fetched.hash.len = 32;
            fetched.size = fetch->total;
            fetched.source_peer = fetch->peer;
            fetched.peers_asked = (uint32_t)fetch->next;
            char hex[65];
            s_hex(fetch->hash, hex);
            ca_log_info("peer_fetch: %s (%" PRIu64 " bytes) fetched from peer %.16s", hex,
                        fetch->total, fetch->peer);
            s_reply(self, &fetch->worker, fetch->request_id, CA_OK, NULL, &fetched);
            s_fetch_free(self, fetch);
        } else if (fetch) {
            char text[1024];
            snprintf(text, sizeof text, "fetched from peer %s, but the cache did not keep it: %s",
                     fetch->peer, response->error);
            s_fail(self, fetch, (ca_status_t)response->status, text);
        }
        if (response)
            cairn__response__free_unpacked(response, NULL);
        zmsg_destroy(&msg);
    }
}

void peer_fetch_tick(peer_fetch_t *self) {
    int64_t now = zclock_mono();
    for (size_t i = 0; i < FETCH_MAX; i++) {
        fetch_t *fetch = self->fetches[i];
        if (!fetch)
            continue;
        if (now >= fetch->deadline) {
            char hex[65], text[512];
            s_hex(fetch->hash, hex);
            snprintf(text, sizeof text,
                     "%s was not fetched within %" PRId64 " ms (%zu of %zu online peers asked, "
                     "the last %.16s); retry with a longer timeout (--timeout MS)",
                     hex, fetch->timeout_ms, fetch->next, fetch->n_peers, fetch->peer);
            s_fail(self, fetch, CA_UNAVAILABLE, text);
        } else if (fetch->phase == F_RUN && now >= fetch->step_deadline) {
            ca_log_notice("peer_fetch: peer %.16s did not answer a fetch step in time; next peer",
                          fetch->peer);
            fetch->silent++;
            s_next_peer(self, fetch);
        } else if (fetch->phase == F_RUN)
            s_ask(self, fetch);
    }
}

//  ---- lifecycle
//  ----------------------------------------------------------------------------------

peer_fetch_t *peer_fetch_new(const peer_fetch_config_t *config, const peer_fetch_host_t *host,
                             zsock_t *control, char **error) {
    peer_fetch_t *self = (peer_fetch_t *)zmalloc(sizeof(peer_fetch_t));
    self->config = *config;
    self->host = *host;
    self->control = control;
    self->sql = ca_sql_open(config->db_path, CA_SQL_READ_ONLY, NULL, error);
    if (self->sql)
        self->content_blobs = ca_blobs_open(config->data_dir, "content", error);
    if (self->content_blobs)
        self->cache_blobs = ca_blobs_open(config->data_dir, "cache", error);
    if (self->cache_blobs) {
        self->cache = zsock_new(ZMQ_DEALER);
        if (!self->cache)
            *error = ca_actor_socket_error("peer_fetch");
        else if (zsock_connect(self->cache, "%s", config->cache_endpoint) != 0)
            *error = zsys_sprintf("cannot connect to the cache pool %s", config->cache_endpoint);
    }
    if (*error) {
        peer_fetch_destroy(&self);
        return NULL;
    }
    //  Strings of the config belong to the actor; only numbers are used later.
    self->config.data_dir = self->config.db_path = self->config.cache_endpoint = NULL;
    return self;
}

void peer_fetch_destroy(peer_fetch_t **self_p) {
    peer_fetch_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < FETCH_MAX; i++)
        if (self->fetches[i])
            s_fail(self, self->fetches[i], CA_UNAVAILABLE, "the node is stopping; retry");
    zsock_destroy(&self->cache);
    ca_blobs_destroy(&self->cache_blobs);
    ca_blobs_destroy(&self->content_blobs);
    ca_sql_destroy(&self->sql);
    free(self);
    *self_p = NULL;
}

zsock_t *peer_fetch_socket(peer_fetch_t *self) {
    return self->cache;
}

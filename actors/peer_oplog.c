/*  =========================================================================
    peer_oplog - operation logs synced between peer sessions

    What it keeps: per online peer (by peer id, one session each) the
    topics it named, the topics this node announced to it, its view of the
    peer's heights, the ops still to send it (jobs), the appends of its ops
    not yet answered, and its figures. It reads the logbook topic table and the oplog tables on the
    peer actor's read-only connection, and writes only as a client: each op
    received is an OplogAppend to the oplog pool (DEALER per worker, picked
    by the author as the gateway picks it, so one log's ops commit in the
    order sent), each new (topic, log) a TopicAssociate to the logbook pool.

    A node's topics of interest are the topics of its logbook topic table
    (at most PEER_INTEREST_MAX, smallest first): what an application made
    known with TopicAssociate is what it wants synced. Wire, rules and the
    exchange: schemas/peer.proto, OplogHeights.

    Rounds. For each topic both sides hold, each side sends its heights
    (latest seq + 1 of each of its logs of the topic) when the session
    comes online, every oplog_sync_ms, when its topic table changes, in
    answer to the first heights of a topic it gets, and again once half a
    round of the ops it received of the topic is left to store (the topic
    is "dirty" until then). The side that holds more keeps a view of the
    peer per topic (log -> next seq: what the peer said, moved up to the
    end of each plan) and plans jobs from it: per log it is ahead on, at
    most PEER_OPLOG_ROUND_OPS ops and ROUND_BYTES bytes per plan; it sends
    them in seq order in OplogOps frames of one log, as the host's
    in-flight bound and its own per-second pacing allow. A plan is made
    when heights arrive, and when this node's logs grow (new ops, any
    source) for a topic whose last plan is sent, while the peer has less
    than a round it has not answered with heights. So a receiver that
    stores slowly is sent no faster than it stores, a caught-up peer gets
    new ops at once, and ops on the wire are not planned again: heights
    move the view only forward, unless they say `reset` (periodic rounds,
    and heights after the receiver dropped or refused ops, sent once it
    has stored all it took), which sets it to them exactly.

        event                              function
        session online                     peer_oplog_online (round due)
        round due, topic table changed     s_round -> s_send_heights (reset)
        ops stored, half a round left      tick -> s_send_heights
        OplogHeights received              s_on_heights -> view, s_plan
        this node's logs grew              s_push -> s_plan
        jobs, credit                       s_flush_peer -> OplogOps
        OplogOps received                  s_on_ops -> OplogAppend, TopicAssociate
        OplogAppended / error              s_on_answer -> figures, cut-off

    Never twice: the oplog store answers an op it has with already_had and
    changes nothing, so an op sent twice (a round that overlapped, a
    restart after kill -9) is counted, not applied. The orderer holds an op
    whose `previous` are missing and releases it in causal order once they
    arrive, from this peer or another. Forks: an op that forks a log is
    CONFLICT in the oplog store, which records both headers as evidence;
    it is counted as refused here, and never sent on, since a node sends
    only ops of its logs (oplog_ops), not its fork evidence. A log pruned
    below what a peer lacks cannot be sent (the job is dropped, logged).

    Cut off (through the host: Error MALFORMED, logged): a frame that
    breaks the wire rules, an op the oplog store refuses as UNAUTHORIZED (a
    bad signature) or INVALID (a body that does not hash), each once its
    answer arrives (the session may have ended by then: then only logged).
    ========================================================================= */

#include "peer_oplog.h"
#include "ca_log.h"
#include "ca_store.h"
#include "ca_validate.h"
#include "cairn.pb-c.h"
#include "oplog.h"
#include "oplog_encoding.h"
#include "peer.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

#define TOPIC_HEX 65
//  A log's key text: 64 hex digits of the author, '/', the log id.
#define LOG_KEY 96

typedef struct {
    uint8_t topic[32];
    uint8_t author[32];
    int64_t log_id;
    int64_t from, until; //  seqs still to send: from <= seq < until
} job_t;

typedef struct {
    char peer_id[65];
    uint64_t serial;      //  which session: answers of an earlier one are not its
    bool speaks;          //  its Hello listed the oplog kinds
    zhashx_t *theirs;     //  topic hex -> 1: it named them
    zhashx_t *announced;  //  topic hex -> 1: this node's Hello named them
    zhashx_t *dirty;      //  topic hex -> 1: ops received, heights owed once drained
    zhashx_t *asked;      //  topic hex -> 1: this node sent it heights of them
    zhashx_t *budgets;    //  topic hex -> bytes this round may still send (int64_t)
    zhashx_t *views;      //  topic hex -> (log key -> its next seq as sent or said: int64_t)
    bool lost;            //  ops of it were dropped or refused: the next heights say `reset`
    uint32_t outstanding; //  ops sent to it since its last heights
    zlistx_t *jobs;       //  job_t
    uint32_t pending;     //  its appends not answered
    int64_t round_at;
    int64_t window_start;
    uint32_t window_frames;
    uint64_t window_bytes;
    peer_oplog_figures_t figures;
} peer_t;

typedef struct {
    uint64_t serial; //  0: a TopicAssociate
    char peer_id[65];
    char key[TOPIC_HEX + LOG_KEY]; //  TopicAssociate: its associating key
    int64_t sent_at;
    size_t bytes;
} request_t;

struct _peer_oplog_t {
    ca_sql_t *sql;
    peer_oplog_host_t host;
    int64_t sync_ms;
    unsigned workers;
    size_t frame_bytes; //  an OplogOps stops growing past this
    zsock_t **oplog;    //  DEALER per oplog worker
    zsock_t *logbook;   //  DEALER to logbook worker 0 (its writes are pinned there)
    zhashx_t *peers;    //  peer id -> peer_t
    zhashx_t *requests;
    zhashx_t *associating; //  topic hex + log key -> 1, TopicAssociate sent
    uint64_t request_id;
    uint64_t serial;
    size_t pending_bytes;
    int64_t expired_at;
    int64_t newest;         //  max(id) of oplog_ops at the last turn
    int64_t topic_rows;     //  rows of the logbook topic table when last counted (-1: never)
    int64_t topics_checked; //  mono of that count
    peer_oplog_figures_t totals;
};

//  ---- small helpers --------------------------------------------------------------------

static void s_log_key(const uint8_t author[32], int64_t log_id, char key[LOG_KEY]) {
    char hex[65];
    ca_hash_to_hex(author, hex);
    snprintf(key, LOG_KEY, "%s/%" PRId64, hex, log_id);
}

static void s_peer_destroy(peer_t **peer_p) {
    peer_t *peer = *peer_p;
    if (!peer)
        return;
    zhashx_destroy(&peer->theirs);
    zhashx_destroy(&peer->announced);
    zhashx_destroy(&peer->dirty);
    zhashx_destroy(&peer->asked);
    zhashx_destroy(&peer->budgets);
    zhashx_destroy(&peer->views);
    zlistx_destroy(&peer->jobs);
    free(peer);
    *peer_p = NULL;
}

static void s_free(void **item_p) {
    free(*item_p);
    *item_p = NULL;
}

static void s_view_free(void **item_p) {
    zhashx_destroy((zhashx_t **)item_p);
}

static peer_t *s_peer_new(const char *peer_id, uint64_t serial) {
    peer_t *peer = (peer_t *)zmalloc(sizeof(peer_t));
    snprintf(peer->peer_id, sizeof peer->peer_id, "%s", peer_id);
    peer->serial = serial;
    peer->theirs = zhashx_new();
    peer->announced = zhashx_new();
    peer->dirty = zhashx_new();
    peer->asked = zhashx_new();
    peer->budgets = zhashx_new();
    zhashx_set_destructor(peer->budgets, s_free);
    peer->views = zhashx_new();
    zhashx_set_destructor(peer->views, s_view_free);
    peer->jobs = zlistx_new();
    zlistx_set_destructor(peer->jobs, s_free);
    return peer;
}

static void s_peer_free(void **item_p) {
    s_peer_destroy((peer_t **)item_p);
}

static void s_pack_request(Cairn__Request *request, zframe_t **frame) {
    size_t size = cairn__request__get_packed_size(request);
    *frame = zframe_new(NULL, size);
    cairn__request__pack(request, zframe_data(*frame));
}

//  ---- lifecycle --------------------------------------------------------------------------

peer_oplog_t *peer_oplog_new(ca_sql_t *sql, const peer_oplog_host_t *host, int64_t sync_ms,
                             unsigned workers, int64_t in_flight_bytes, char **error) {
    peer_oplog_t *self = (peer_oplog_t *)zmalloc(sizeof(peer_oplog_t));
    self->sql = sql;
    self->host = *host;
    self->sync_ms = sync_ms > 0 ? sync_ms : 5000;
    self->workers = workers ? workers : 1;
    self->frame_bytes = in_flight_bytes / 4 < PEER_OPLOG_FRAME_BYTES && in_flight_bytes > 0
                            ? (size_t)in_flight_bytes / 4
                            : PEER_OPLOG_FRAME_BYTES;
    self->topic_rows = -1;
    self->peers = zhashx_new();
    zhashx_set_destructor(self->peers, s_peer_free);
    self->requests = zhashx_new();
    zhashx_set_destructor(self->requests, s_free);
    self->associating = zhashx_new();
    self->oplog = (zsock_t **)zmalloc(self->workers * sizeof(zsock_t *));
    for (unsigned w = 0; w <= self->workers && !*error; w++) {
        bool book = w == self->workers;
        zsock_t *socket = zsock_new(ZMQ_DEALER);
        char *endpoint = book ? ca_store_endpoint("logbook", 0) : ca_store_endpoint("oplog", w);
        if (!socket || zsock_connect(socket, "%s", endpoint) != 0)
            *error = zsys_sprintf("peer: cannot connect to %s", endpoint);
        zstr_free(&endpoint);
        if (socket)
            zsock_set_sndhwm(socket, PEER_OPLOG_PENDING);
        if (book)
            self->logbook = socket;
        else
            self->oplog[w] = socket;
    }
    if (*error)
        peer_oplog_destroy(&self);
    return self;
}

void peer_oplog_destroy(peer_oplog_t **self_p) {
    peer_oplog_t *self = *self_p;
    if (!self)
        return;
    for (unsigned w = 0; w < self->workers; w++)
        zsock_destroy(&self->oplog[w]);
    free(self->oplog);
    zsock_destroy(&self->logbook);
    zhashx_destroy(&self->peers);
    zhashx_destroy(&self->requests);
    zhashx_destroy(&self->associating);
    free(self);
    *self_p = NULL;
}

void peer_oplog_watch(peer_oplog_t *self, zpoller_t *poller) {
    for (unsigned w = 0; w < self->workers; w++)
        zpoller_add(poller, self->oplog[w]);
    zpoller_add(poller, self->logbook);
}

bool peer_oplog_owns(peer_oplog_t *self, void *socket) {
    if (socket == self->logbook)
        return true;
    for (unsigned w = 0; w < self->workers; w++)
        if (socket == self->oplog[w])
            return true;
    return false;
}

//  ---- reading the node's own state ---------------------------------------------------------

size_t peer_oplog_topics(peer_oplog_t *self, uint8_t (*topics)[32], size_t most) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql, "SELECT DISTINCT topic FROM logbook_topics ORDER BY topic LIMIT ?1");
    if (!stmt)
        return 0;
    sqlite3_bind_int64(stmt, 1, (int64_t)most);
    size_t count = 0;
    while (count < most && sqlite3_step(stmt) == SQLITE_ROW)
        if (sqlite3_column_bytes(stmt, 0) == 32)
            memcpy(topics[count++], sqlite3_column_blob(stmt, 0), 32);
    sqlite3_reset(stmt);
    return count;
}

static bool s_holds_topic(peer_oplog_t *self, const uint8_t topic[32]) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(self->sql, "SELECT 1 FROM logbook_topics WHERE topic = ?1 LIMIT 1");
    if (!stmt)
        return false;
    sqlite3_bind_blob(stmt, 1, topic, 32, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return found;
}

static bool s_associated(peer_oplog_t *self, const uint8_t topic[32], const uint8_t author[32],
                         int64_t log_id) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql, "SELECT 1 FROM logbook_topics WHERE topic = ?1 AND author = ?2 AND log_id = ?3");
    if (!stmt)
        return true; //  cannot tell: not asked again and again
    sqlite3_bind_blob(stmt, 1, topic, 32, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, author, 32, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, log_id);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return found;
}

//  This node's logs of `topic` with their next seq: the statement, stepped
//  by the caller (author, log_id, next_seq), reset by it.
static sqlite3_stmt *s_logs_of(peer_oplog_t *self, const uint8_t topic[32]) {
    sqlite3_stmt *stmt = ca_sql_prepare(
        self->sql, "SELECT t.author, t.log_id, coalesce((SELECT max(o.seq) + 1 FROM oplog_ops o"
                   " WHERE o.author = t.author AND o.log_id = t.log_id), 0)"
                   " FROM logbook_topics t WHERE t.topic = ?1 ORDER BY t.author, t.log_id"
                   " LIMIT ?2");
    if (stmt) {
        sqlite3_bind_blob(stmt, 1, topic, 32, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, PEER_OPLOG_LOGS_MAX);
    }
    return stmt;
}

//  ---- heights ------------------------------------------------------------------------------

static bool s_known(zhashx_t *set, const uint8_t topic[32]) {
    char hex[TOPIC_HEX];
    ca_hash_to_hex(topic, hex);
    return zhashx_lookup(set, hex) != NULL;
}

static void s_mark(zhashx_t *set, const uint8_t topic[32]) {
    char hex[TOPIC_HEX];
    ca_hash_to_hex(topic, hex);
    if (zhashx_size(set) < PEER_INTEREST_MAX || zhashx_lookup(set, hex))
        zhashx_update(set, hex, (void *)1);
}

//  Sends `peer` this node's heights of `topic`; -1 when it could not go.
static int s_send_heights(peer_oplog_t *self, peer_t *peer, const uint8_t topic[32], bool reset) {
    sqlite3_stmt *stmt = s_logs_of(self, topic);
    if (!stmt)
        return -1;
    Cairn__Peer__OplogLogHeight *heights = (Cairn__Peer__OplogLogHeight *)zmalloc(
        PEER_OPLOG_LOGS_MAX * sizeof(Cairn__Peer__OplogLogHeight));
    Cairn__Peer__OplogLogHeight **pointers = (Cairn__Peer__OplogLogHeight **)zmalloc(
        PEER_OPLOG_LOGS_MAX * sizeof(Cairn__Peer__OplogLogHeight *));
    uint8_t(*authors)[32] = (uint8_t(*)[32])zmalloc(PEER_OPLOG_LOGS_MAX * 32);
    size_t count = 0;
    while (count < PEER_OPLOG_LOGS_MAX && sqlite3_step(stmt) == SQLITE_ROW) {
        if (sqlite3_column_bytes(stmt, 0) != 32)
            continue;
        memcpy(authors[count], sqlite3_column_blob(stmt, 0), 32);
        cairn__peer__oplog_log_height__init(&heights[count]);
        heights[count].author = (ProtobufCBinaryData){32, authors[count]};
        heights[count].log_id = (uint64_t)sqlite3_column_int64(stmt, 1);
        heights[count].next_seq = (uint64_t)sqlite3_column_int64(stmt, 2);
        pointers[count] = &heights[count];
        count++;
    }
    sqlite3_reset(stmt);
    Cairn__Peer__OplogHeights message = CAIRN__PEER__OPLOG_HEIGHTS__INIT;
    message.topic = (ProtobufCBinaryData){32, (uint8_t *)topic};
    message.logs = pointers;
    message.n_logs = count;
    message.reset = reset;
    Cairn__Peer__PeerMessage out = CAIRN__PEER__PEER_MESSAGE__INIT;
    out.kind_case = PEER_OPLOG_HEIGHTS_KIND;
    out.oplog_heights = &message;
    int rc = self->host.send(self->host.host, peer->peer_id, &out);
    if (rc == 0)
        s_mark(peer->asked, topic);
    free(heights);
    free(pointers);
    free(authors);
    return rc;
}

void peer_oplog_online(peer_oplog_t *self, const char *peer_id, const Cairn__Peer__Hello *hello) {
    peer_t *peer = s_peer_new(peer_id, ++self->serial);
    bool heights = false, ops = false;
    for (size_t i = 0; i < hello->n_kinds; i++) {
        heights |= hello->kinds[i] == PEER_OPLOG_HEIGHTS_KIND;
        ops |= hello->kinds[i] == PEER_OPLOG_OPS_KIND;
    }
    peer->speaks = heights && ops;
    for (size_t i = 0; i < hello->n_topics && i < PEER_INTEREST_MAX; i++)
        if (hello->topics[i].len == 32)
            s_mark(peer->theirs, hello->topics[i].data);
    uint8_t(*mine)[32] = (uint8_t(*)[32])zmalloc(PEER_INTEREST_MAX * 32);
    size_t count = peer_oplog_topics(self, mine, PEER_INTEREST_MAX);
    for (size_t i = 0; i < count; i++)
        s_mark(peer->announced, mine[i]);
    free(mine);
    peer->round_at = zclock_mono();
    zhashx_update(self->peers, peer_id, peer);
}

//  Heights of `topic` from `peer`: plans the jobs of what it lacks.
//  The view of `topic` kept for `peer` (made when absent, unless full).
static zhashx_t *s_view(peer_t *peer, const uint8_t topic[32], bool make) {
    char hex[TOPIC_HEX];
    ca_hash_to_hex(topic, hex);
    zhashx_t *view = (zhashx_t *)zhashx_lookup(peer->views, hex);
    if (!view && make && zhashx_size(peer->views) < PEER_INTEREST_MAX) {
        view = zhashx_new();
        zhashx_set_destructor(view, s_free);
        zhashx_insert(peer->views, hex, view);
    }
    return view;
}

static int64_t s_view_get(zhashx_t *view, const char *key) {
    int64_t *next = (int64_t *)zhashx_lookup(view, key);
    return next ? *next : 0;
}

static void s_view_set(zhashx_t *view, const char *key, int64_t next) {
    int64_t *value = (int64_t *)zhashx_lookup(view, key);
    if (!value && zhashx_size(view) >= PEER_OPLOG_LOGS_MAX)
        return;
    if (!value) {
        value = (int64_t *)zmalloc(sizeof(int64_t));
        zhashx_insert(view, key, value);
    }
    *value = next;
}

static bool s_has_jobs(peer_t *peer, const uint8_t topic[32]) {
    for (job_t *job = (job_t *)zlistx_first(peer->jobs); job;
         job = (job_t *)zlistx_next(peer->jobs))
        if (memcmp(job->topic, topic, 32) == 0)
            return true;
    return false;
}

//  Plans the jobs of what `peer` lacks of `topic` after its view, at most
//  a round, and moves the view to their end (what is sent, the peer is
//  taken to have: its heights say otherwise only with `reset`). The jobs
//  left of the topic's last plan are taken back first.
static void s_plan(peer_oplog_t *self, peer_t *peer, const uint8_t topic[32]) {
    zhashx_t *view = s_view(peer, topic, true);
    if (!view)
        return;
    //  (zlistx_delete of the cursor's item moves the cursor back one.)
    for (job_t *job = (job_t *)zlistx_first(peer->jobs); job;
         job = (job_t *)zlistx_next(peer->jobs))
        if (memcmp(job->topic, topic, 32) == 0) {
            char key[LOG_KEY];
            s_log_key(job->author, job->log_id, key);
            if (s_view_get(view, key) > job->from)
                s_view_set(view, key, job->from);
            zlistx_delete(peer->jobs, zlistx_cursor(peer->jobs));
        }
    sqlite3_stmt *stmt = s_logs_of(self, topic);
    int64_t ops_left = PEER_OPLOG_ROUND_OPS;
    while (stmt && ops_left > 0 && sqlite3_step(stmt) == SQLITE_ROW) {
        if (sqlite3_column_bytes(stmt, 0) != 32)
            continue;
        const uint8_t *author = (const uint8_t *)sqlite3_column_blob(stmt, 0);
        int64_t log_id = sqlite3_column_int64(stmt, 1), mine = sqlite3_column_int64(stmt, 2);
        char key[LOG_KEY];
        s_log_key(author, log_id, key);
        int64_t their = s_view_get(view, key);
        if (mine <= their)
            continue;
        job_t *job = (job_t *)zmalloc(sizeof(job_t));
        memcpy(job->topic, topic, 32);
        memcpy(job->author, author, 32);
        job->log_id = log_id;
        job->from = their;
        job->until = mine - their > ops_left ? their + ops_left : mine;
        ops_left -= job->until - job->from;
        zlistx_add_end(peer->jobs, job);
        s_view_set(view, key, job->until);
    }
    if (stmt)
        sqlite3_reset(stmt);
    char hex[TOPIC_HEX];
    ca_hash_to_hex(topic, hex);
    int64_t *budget = (int64_t *)zmalloc(sizeof(int64_t));
    *budget = PEER_OPLOG_ROUND_BYTES;
    zhashx_update(peer->budgets, hex, budget);
}

//  Heights of `topic` from `peer`: its view moves to them (forward only,
//  unless `reset`), then the next plan.
static const char *s_on_heights(peer_oplog_t *self, peer_t *peer,
                                const Cairn__Peer__OplogHeights *message) {
    if (message->base.n_unknown_fields || message->topic.len != 32)
        return "an OplogHeights whose topic is not 32 bytes";
    if (message->n_logs > PEER_OPLOG_LOGS_MAX)
        return "an OplogHeights with more logs than PEER_OPLOG_LOGS_MAX";
    for (size_t i = 0; i < message->n_logs; i++) {
        const Cairn__Peer__OplogLogHeight *log = message->logs[i];
        if (log->base.n_unknown_fields || log->author.len != 32 ||
            log->next_seq > (uint64_t)INT64_MAX)
            return "an OplogHeights with a log whose author is not 32 bytes or whose next_seq is "
                   "beyond 2^63-1";
    }
    const uint8_t *topic = message->topic.data;
    if (!s_holds_topic(self, topic))
        return NULL;
    s_mark(peer->theirs, topic);
    peer->outstanding = 0;
    zhashx_t *view = s_view(peer, topic, true);
    if (!view)
        return NULL;
    if (message->reset)
        zhashx_purge(view);
    for (size_t i = 0; i < message->n_logs; i++) {
        char key[LOG_KEY];
        s_log_key(message->logs[i]->author.data, (int64_t)message->logs[i]->log_id, key);
        if ((int64_t)message->logs[i]->next_seq > s_view_get(view, key))
            s_view_set(view, key, (int64_t)message->logs[i]->next_seq);
    }
    if (message->reset) {
        //  What is left of the last plan goes again from the peer's word.
        for (job_t *job = (job_t *)zlistx_first(peer->jobs); job;
             job = (job_t *)zlistx_next(peer->jobs))
            if (memcmp(job->topic, topic, 32) == 0)
                zlistx_delete(peer->jobs, zlistx_cursor(peer->jobs));
    }
    s_plan(self, peer, topic);
    //  The first heights of a topic the peer hears from this node: now, so
    //  that a topic both sides made after the session began syncs both
    //  ways at once.
    if (!s_known(peer->asked, topic) &&
        (peer->pending || s_send_heights(self, peer, topic, true) != 0)) {
        s_mark(peer->dirty, topic);
        peer->lost = true;
    }
    return NULL;
}

//  ---- receiving ops --------------------------------------------------------------------------

//  The oplog worker of `author`: its first 8 bytes, little-endian, as the
//  gateway routes OplogAppend.author.
static zsock_t *s_worker(peer_oplog_t *self, const uint8_t author[32]) {
    uint64_t key = 0;
    for (int i = 7; i >= 0; i--)
        key = key << 8 | author[i];
    return self->oplog[key % self->workers];
}

static request_t *s_request_new(peer_oplog_t *self, uint64_t serial, const char *peer_id,
                                size_t bytes) {
    request_t *request = (request_t *)zmalloc(sizeof(request_t));
    request->serial = serial;
    snprintf(request->peer_id, sizeof request->peer_id, "%s", peer_id);
    request->sent_at = zclock_mono();
    request->bytes = bytes;
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, ++self->request_id);
    zhashx_update(self->requests, key, request);
    return request;
}

//  Sends [client id][Request] to `socket`; 0 when it went.
static int s_send_request(peer_oplog_t *self, zsock_t *socket, Cairn__Request *request) {
    request->id = self->request_id + 1;
    zframe_t *frames[2] = {zframe_new("peer", 4), NULL};
    s_pack_request(request, &frames[1]);
    int rc = ca_send_frames(socket, frames, 2);
    zframe_destroy(&frames[0]);
    zframe_destroy(&frames[1]);
    return rc;
}

static void s_associate(peer_oplog_t *self, const uint8_t topic[32], const uint8_t author[32],
                        int64_t log_id) {
    char key[TOPIC_HEX + LOG_KEY];
    ca_hash_to_hex(topic, key);
    key[64] = ':';
    s_log_key(author, log_id, key + 65);
    if (zhashx_lookup(self->associating, key) || s_associated(self, topic, author, log_id))
        return;
    Cairn__LogbookLog log = CAIRN__LOGBOOK_LOG__INIT;
    log.author = (ProtobufCBinaryData){32, (uint8_t *)author};
    log.log_id = (uint64_t)log_id;
    Cairn__TopicAssociate associate = CAIRN__TOPIC_ASSOCIATE__INIT;
    associate.topic = (ProtobufCBinaryData){32, (uint8_t *)topic};
    associate.log = &log;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
    request.topic_associate = &associate;
    if (s_send_request(self, self->logbook, &request) != 0) {
        ca_log_warning("peer: the logbook pool is behind; a topic association waits");
        return;
    }
    request_t *sent = s_request_new(self, 0, "", 0);
    snprintf(sent->key, sizeof sent->key, "%s", key);
    zhashx_update(self->associating, key, (void *)1);
}

//  Checks every op of the frame; NULL, or why the peer is cut off.
static const char *s_check_ops(const Cairn__Peer__OplogOps *message, Cairn__OpHeader **headers) {
    if (message->base.n_unknown_fields || message->topic.len != 32)
        return "an OplogOps whose topic is not 32 bytes";
    if (message->n_ops < 1 || message->n_ops > PEER_OPLOG_OPS_MAX)
        return "an OplogOps without ops or with more than PEER_OPLOG_OPS_MAX";
    for (size_t i = 0; i < message->n_ops; i++) {
        const Cairn__Peer__OplogOp *op = message->ops[i];
        headers[i] = op->base.n_unknown_fields
                         ? NULL
                         : cairn__op_header__unpack(NULL, op->header.len, op->header.data);
        if (!headers[i] || headers[i]->base.n_unknown_fields)
            return "an OplogOps op whose header is not a cairn.OpHeader";
        if (oplog_header_problem(headers[i]))
            return "an OplogOps op whose header breaks the oplog rules";
        if (op->has_body ? op->body.len != headers[i]->payload_size : op->body.len != 0)
            return "an OplogOps op whose body is not payload_size bytes";
        if (i && (memcmp(headers[i]->author.data, headers[0]->author.data, 32) != 0 ||
                  headers[i]->log_id != headers[0]->log_id ||
                  headers[i]->seq != headers[i - 1]->seq + 1))
            return "an OplogOps whose ops are not consecutive ops of one log";
    }
    return NULL;
}

static const char *s_on_ops(peer_oplog_t *self, peer_t *peer,
                            const Cairn__Peer__OplogOps *message) {
    Cairn__OpHeader *headers[PEER_OPLOG_OPS_MAX] = {NULL};
    const char *why = s_check_ops(message, headers);
    size_t bytes = 0;
    for (size_t i = 0; !why && i < message->n_ops; i++)
        bytes += message->ops[i]->header.len + message->ops[i]->body.len;
    const uint8_t *topic = message->topic.data;
    if (why)
        ;
    else if (!s_holds_topic(self, topic)) {
        peer->figures.refused += message->n_ops;
        self->totals.refused += message->n_ops;
        ca_log_debug("peer: %zu ops from %.16s dropped: a topic this node does not hold",
                     message->n_ops, peer->peer_id);
    } else if (zhashx_size(self->requests) + message->n_ops > PEER_OPLOG_PENDING ||
               self->pending_bytes + bytes > PEER_OPLOG_ROUND_BYTES * 16) {
        s_mark(peer->dirty, topic); //  asked again once drained
        peer->lost = true;
        ca_log_debug("peer: %zu ops from %.16s wait: the oplog pool is behind", message->n_ops,
                     peer->peer_id);
    } else {
        s_associate(self, topic, headers[0]->author.data, (int64_t)headers[0]->log_id);
        //  The peer has these: they are not sent back to it.
        zhashx_t *view = s_view(peer, topic, true);
        char key[LOG_KEY];
        s_log_key(headers[0]->author.data, (int64_t)headers[0]->log_id, key);
        int64_t next = (int64_t)headers[message->n_ops - 1]->seq + 1;
        if (view && next > s_view_get(view, key))
            s_view_set(view, key, next);
        zsock_t *worker = s_worker(self, headers[0]->author.data);
        for (size_t i = 0; i < message->n_ops; i++) {
            Cairn__OplogAppend append = CAIRN__OPLOG_APPEND__INIT;
            append.header = headers[i];
            append.author = headers[i]->author;
            append.has_body = message->ops[i]->has_body;
            append.body = message->ops[i]->body;
            Cairn__Request request = CAIRN__REQUEST__INIT;
            request.body_case = CAIRN__REQUEST__BODY_OPLOG_APPEND;
            request.oplog_append = &append;
            if (s_send_request(self, worker, &request) != 0) {
                peer->lost = true; //  the rest comes again from the heights
                break;
            }
            size_t size = message->ops[i]->header.len + message->ops[i]->body.len;
            s_request_new(self, peer->serial, peer->peer_id, size);
            self->pending_bytes += size;
            peer->pending++;
        }
        s_mark(peer->dirty, topic);
    }
    for (size_t i = 0; i < message->n_ops && i < PEER_OPLOG_OPS_MAX; i++)
        if (headers[i])
            cairn__op_header__free_unpacked(headers[i], NULL);
    return why;
}

bool peer_oplog_on_message(peer_oplog_t *self, const char *peer_id,
                           const Cairn__Peer__PeerMessage *message) {
    if (message->kind_case != PEER_OPLOG_HEIGHTS_KIND && message->kind_case != PEER_OPLOG_OPS_KIND)
        return false;
    peer_t *peer = (peer_t *)zhashx_lookup(self->peers, peer_id);
    const char *why = !peer ? "operation log sync before the session was online"
                      : message->kind_case == PEER_OPLOG_HEIGHTS_KIND
                          ? s_on_heights(self, peer, message->oplog_heights)
                          : s_on_ops(self, peer, message->oplog_ops);
    if (why) {
        ca_log_warning("peer: %.16s broke the operation log sync: %s", peer_id, why);
        self->host.cut_off(self->host.host, peer_id, why);
    }
    return true;
}

//  ---- answers of the pools ---------------------------------------------------------------------

static void s_on_answer(peer_oplog_t *self, Cairn__Response *response) {
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, response->id);
    request_t *request = (request_t *)zhashx_lookup(self->requests, key);
    if (!request)
        return; //  expired
    if (request->serial == 0) {
        if (response->status != CAIRN__STATUS__OK)
            ca_log_warning("peer: a topic association was refused: %s", response->error);
        zhashx_delete(self->associating, request->key);
        zhashx_delete(self->requests, key);
        return;
    }
    peer_t *peer = (peer_t *)zhashx_lookup(self->peers, request->peer_id);
    if (peer && peer->serial != request->serial)
        peer = NULL;
    peer_oplog_figures_t scratch = {0};
    peer_oplog_figures_t *figures = peer ? &peer->figures : &scratch;
    bool ok = response->status == CAIRN__STATUS__OK &&
              response->body_case == CAIRN__RESPONSE__BODY_OPLOG_APPEND;
    bool already = ok && response->oplog_append->already_had;
    figures->received += ok && !already;
    figures->already += already;
    figures->refused += !ok;
    self->totals.received += ok && !already;
    self->totals.already += already;
    self->totals.refused += !ok;
    if (response->status == CAIRN__STATUS__UNAUTHORIZED ||
        response->status == CAIRN__STATUS__INVALID) {
        ca_log_warning("peer: an operation from %.16s was refused (%s); the peer is cut off",
                       request->peer_id, response->error);
        if (peer)
            self->host.cut_off(self->host.host, request->peer_id,
                               "an operation with a bad signature or body");
    } else if (!ok)
        ca_log_debug("peer: an operation from %.16s was not stored: %s", request->peer_id,
                     response->error);
    if (peer && peer->pending)
        peer->pending--;
    if (peer && !ok)
        peer->lost = true;
    self->pending_bytes -= request->bytes <= self->pending_bytes ? request->bytes : 0;
    zhashx_delete(self->requests, key);
}

static void s_read_answers(peer_oplog_t *self, zsock_t *socket) {
    zmsg_t *msg;
    for (int i = 0; i < 1024 && (msg = ca_recv_waiting(socket)); i++) {
        zframe_t *last = zmsg_last(msg);
        Cairn__Response *response =
            last ? cairn__response__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
        if (response) {
            s_on_answer(self, response);
            cairn__response__free_unpacked(response, NULL);
        }
        zmsg_destroy(&msg);
    }
}

//  Answers lost (the node stopping, a pool restarted): forgotten after
//  PEER_OPLOG_PENDING_MS, so a peer's heights are not owed forever.
static void s_expire(peer_oplog_t *self, int64_t now) {
    if (!zhashx_size(self->requests) || now - self->expired_at < 1000)
        return;
    self->expired_at = now;
    zlistx_t *keys = zhashx_keys(self->requests);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        request_t *request = (request_t *)zhashx_lookup(self->requests, key);
        if (!request || now - request->sent_at < PEER_OPLOG_PENDING_MS)
            continue;
        peer_t *peer = (peer_t *)zhashx_lookup(self->peers, request->peer_id);
        if (peer && peer->serial == request->serial && peer->pending)
            peer->pending--;
        if (request->serial == 0)
            zhashx_delete(self->associating, request->key);
        self->pending_bytes -= request->bytes <= self->pending_bytes ? request->bytes : 0;
        zhashx_delete(self->requests, key);
    }
    zlistx_destroy(&keys);
}

//  ---- sending ops ------------------------------------------------------------------------------

//  One OplogOps of `job` (at most the topic's budget); false when nothing
//  more can go now (credit, pacing) or the job cannot go on.
static bool s_send_frame(peer_oplog_t *self, peer_t *peer, job_t *job, int64_t *budget,
                         bool *done) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, oplog_sql_range);
    *done = false;
    if (!stmt)
        return false;
    int64_t want = job->until - job->from;
    sqlite3_bind_blob(stmt, 1, job->author, 32, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, job->log_id);
    sqlite3_bind_int64(stmt, 3, job->from);
    sqlite3_bind_int64(stmt, 4, job->until);
    sqlite3_bind_int64(stmt, 5, want < PEER_OPLOG_OPS_MAX ? want : PEER_OPLOG_OPS_MAX);
    Cairn__Peer__OplogOp ops[PEER_OPLOG_OPS_MAX];
    Cairn__Peer__OplogOp *pointers[PEER_OPLOG_OPS_MAX];
    uint8_t *copies[PEER_OPLOG_OPS_MAX];
    size_t count = 0, bytes = 0;
    bool gap = false;
    while (count < PEER_OPLOG_OPS_MAX && bytes < self->frame_bytes && (int64_t)bytes < *budget &&
           sqlite3_step(stmt) == SQLITE_ROW) {
        if (sqlite3_column_int64(stmt, 4) != job->from + (int64_t)count) {
            gap = true;
            break;
        }
        size_t header = (size_t)sqlite3_column_bytes(stmt, 1);
        size_t body = (size_t)sqlite3_column_bytes(stmt, 2);
        bool has_body = sqlite3_column_type(stmt, 2) != SQLITE_NULL;
        copies[count] = (uint8_t *)zmalloc(header + body + 1);
        memcpy(copies[count], sqlite3_column_blob(stmt, 1), header);
        if (body)
            memcpy(copies[count] + header, sqlite3_column_blob(stmt, 2), body);
        cairn__peer__oplog_op__init(&ops[count]);
        ops[count].header = (ProtobufCBinaryData){header, copies[count]};
        ops[count].body = (ProtobufCBinaryData){body, copies[count] + header};
        ops[count].has_body = has_body;
        pointers[count] = &ops[count];
        bytes += header + body + 16;
        count++;
    }
    sqlite3_reset(stmt);
    bool sent = false;
    if (gap || count == 0) {
        if (gap || job->from < job->until)
            ca_log_notice("peer: cannot send %.16s ops of a log from seq %" PRId64
                          ": pruned or gone here",
                          peer->peer_id, job->from);
        *done = true;
    } else {
        Cairn__Peer__OplogOps message = CAIRN__PEER__OPLOG_OPS__INIT;
        message.topic = (ProtobufCBinaryData){32, job->topic};
        message.ops = pointers;
        message.n_ops = count;
        Cairn__Peer__PeerMessage out = CAIRN__PEER__PEER_MESSAGE__INIT;
        out.kind_case = PEER_OPLOG_OPS_KIND;
        out.oplog_ops = &message;
        if (self->host.send(self->host.host, peer->peer_id, &out) == 0) {
            sent = true;
            job->from += (int64_t)count;
            *done = job->from >= job->until;
            *budget -= (int64_t)bytes;
            peer->window_frames++;
            peer->window_bytes += bytes;
            peer->figures.sent += count;
            peer->outstanding += (uint32_t)count;
            self->totals.sent += count;
        }
    }
    for (size_t i = 0; i < count; i++)
        free(copies[i]);
    return sent;
}

static void s_flush_peer(peer_oplog_t *self, peer_t *peer, int64_t now) {
    if (now - peer->window_start >= 1000) {
        peer->window_start = now;
        peer->window_frames = 0;
        peer->window_bytes = 0;
    }
    job_t *job = (job_t *)zlistx_first(peer->jobs);
    for (int frames = 0; job && frames < 16 && peer->window_frames < PEER_OPLOG_FRAMES_PER_S &&
                         peer->window_bytes < PEER_OPLOG_BYTES_PER_S;
         frames++) {
        char hex[TOPIC_HEX];
        ca_hash_to_hex(job->topic, hex);
        int64_t *budget = (int64_t *)zhashx_lookup(peer->budgets, hex);
        bool done = false;
        bool sent = budget && *budget > 0 && s_send_frame(self, peer, job, budget, &done);
        if (done) {
            zlistx_delete(peer->jobs, zlistx_cursor(peer->jobs));
            job = (job_t *)zlistx_first(peer->jobs);
        } else if (!sent && budget && *budget > 0)
            break; //  no credit now: next turn
        else if (!sent)
            job = (job_t *)zlistx_next(peer->jobs); //  its topic's round is spent
    }
}

//  ---- every turn ------------------------------------------------------------------------------

//  The one number `sql` answers, or `otherwise` when it cannot be read.
static int64_t s_number(peer_oplog_t *self, const char *sql, int64_t otherwise) {
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, sql);
    int64_t number = otherwise;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        number = sqlite3_column_int64(stmt, 0);
    if (stmt)
        sqlite3_reset(stmt);
    return number;
}

//  Whether this node's logs grew since the last turn (new ops: local
//  appends, or ops from any peer).
static bool s_grown(peer_oplog_t *self) {
    int64_t newest = s_number(self, "SELECT coalesce(max(id), 0) FROM oplog_ops", self->newest);
    bool grown = newest != self->newest;
    self->newest = newest;
    return grown;
}

//  New ops here: each topic whose view the peer has and whose last plan is
//  sent gets the next plan, while the peer has less than a round it has
//  not answered with heights (so a peer that stores slowly is not flooded).
static void s_push(peer_oplog_t *self, peer_t *peer) {
    if (peer->outstanding >= PEER_OPLOG_ROUND_OPS)
        return;
    zlistx_t *topics = zhashx_keys(peer->views);
    for (const char *hex = (const char *)zlistx_first(topics); hex;
         hex = (const char *)zlistx_next(topics)) {
        uint8_t topic[32];
        if (ca_hash_from_hex(hex, topic) && !s_has_jobs(peer, topic) && s_holds_topic(self, topic))
            s_plan(self, peer, topic);
    }
    zlistx_destroy(&topics);
}

static void s_round(peer_oplog_t *self, peer_t *peer, uint8_t (*mine)[32], size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (!s_known(peer->theirs, mine[i]) && s_known(peer->announced, mine[i]))
            continue; //  not the peer's, and it knows this node's
        if (peer->pending || s_send_heights(self, peer, mine[i], true) != 0) {
            s_mark(peer->dirty, mine[i]);
            peer->lost = true; //  a round's heights are exact
        }
    }
}

void peer_oplog_tick(peer_oplog_t *self) {
    for (unsigned w = 0; w < self->workers; w++)
        s_read_answers(self, self->oplog[w]);
    s_read_answers(self, self->logbook);
    int64_t now = zclock_mono();
    s_expire(self, now);
    uint8_t(*mine)[32] = NULL;
    size_t count = 0;
    bool grown = s_grown(self);
    //  The topic table changed (a topic or a log added or removed): a
    //  round with every peer now, not at its next interval.
    if (now - self->topics_checked >= PEER_OPLOG_TOPICS_MS) {
        self->topics_checked = now;
        int64_t rows = s_number(self, "SELECT count(*) FROM logbook_topics", self->topic_rows);
        if (rows != self->topic_rows && self->topic_rows >= 0) {
            //  (zhashx_values would hand over copies owned by its list.)
            for (peer_t *peer = (peer_t *)zhashx_first(self->peers); peer;
                 peer = (peer_t *)zhashx_next(self->peers))
                peer->round_at = now;
        }
        self->topic_rows = rows;
    }
    zlistx_t *ids = zhashx_keys(self->peers);
    for (const char *id = (const char *)zlistx_first(ids); id;
         id = (const char *)zlistx_next(ids)) {
        peer_t *peer = (peer_t *)zhashx_lookup(self->peers, id);
        if (!self->host.online(self->host.host, id)) {
            zhashx_delete(self->peers, id);
            continue;
        }
        if (!peer->speaks)
            continue;
        if (now >= peer->round_at) {
            peer->round_at = now + self->sync_ms;
            if (!mine) {
                mine = (uint8_t(*)[32])zmalloc(PEER_INTEREST_MAX * 32);
                count = peer_oplog_topics(self, mine, PEER_INTEREST_MAX);
            }
            s_round(self, peer, mine, count);
        }
        //  Heights owed: exact ones once every append is answered, else
        //  when half a round is left to store, so the next round is on its
        //  way while this one is stored.
        if (zhashx_size(peer->dirty) &&
            (peer->lost ? !peer->pending : peer->pending <= PEER_OPLOG_ROUND_OPS / 2)) {
            bool reset = peer->lost;
            zlistx_t *topics = zhashx_keys(peer->dirty);
            for (const char *hex = (const char *)zlistx_first(topics); hex;
                 hex = (const char *)zlistx_next(topics)) {
                uint8_t topic[32];
                if (!ca_hash_from_hex(hex, topic) || s_send_heights(self, peer, topic, reset) == 0)
                    zhashx_delete(peer->dirty, hex);
            }
            zlistx_destroy(&topics);
            peer->lost = reset && zhashx_size(peer->dirty);
        }
        if (grown)
            s_push(self, peer);
        s_flush_peer(self, peer, now);
    }
    zlistx_destroy(&ids);
    free(mine);
}

peer_oplog_figures_t peer_oplog_figures(peer_oplog_t *self, const char *peer_id) {
    if (!peer_id)
        return self->totals;
    peer_t *peer = (peer_t *)zhashx_lookup(self->peers, peer_id);
    peer_oplog_figures_t none = {0};
    return peer ? peer->figures : none;
}

//  ---- self-test
//  ----------------------------------------------------------------------------------

void peer_oplog_test(bool verbose) {
    if (verbose)
        printf(" * peer_oplog: ");
    //  The wire rules of an OplogOps (the e2e tests drive the rest).
    Cairn__OpHeader header = CAIRN__OP_HEADER__INIT;
    uint8_t author[32] = {1}, hash[32] = {2}, signature[64] = {3};
    header.version = OPLOG_VERSION;
    header.author = (ProtobufCBinaryData){32, author};
    header.signature = (ProtobufCBinaryData){64, signature};
    header.payload_hash = (ProtobufCBinaryData){32, hash};
    header.payload_size = 3;
    uint8_t packed[256];
    size_t size = cairn__op_header__pack(&header, packed);
    Cairn__Peer__OplogOp op = CAIRN__PEER__OPLOG_OP__INIT;
    op.header = (ProtobufCBinaryData){size, packed};
    op.body = (ProtobufCBinaryData){3, (uint8_t *)"abc"};
    op.has_body = true;
    Cairn__Peer__OplogOp *ops[2] = {&op, &op};
    uint8_t topic[32] = {4};
    Cairn__Peer__OplogOps message = CAIRN__PEER__OPLOG_OPS__INIT;
    message.topic = (ProtobufCBinaryData){32, topic};
    message.ops = ops;
    message.n_ops = 1;
    Cairn__OpHeader *headers[PEER_OPLOG_OPS_MAX] = {NULL};
    assert(s_check_ops(&message, headers) == NULL);
    cairn__op_header__free_unpacked(headers[0], NULL);
    //  Two ops at one seq: not consecutive.
    message.n_ops = 2;
    memset(headers, 0, sizeof headers);
    assert(s_check_ops(&message, headers) != NULL);
    for (size_t i = 0; i < 2; i++)
        if (headers[i])
            cairn__op_header__free_unpacked(headers[i], NULL);
    //  A body that is not payload_size bytes; a short topic; no ops.
    message.n_ops = 1;
    op.body.len = 2;
    memset(headers, 0, sizeof headers);
    assert(s_check_ops(&message, headers) != NULL);
    cairn__op_header__free_unpacked(headers[0], NULL);
    op.body.len = 3;
    message.topic.len = 31;
    assert(s_check_ops(&message, headers) != NULL);
    message.topic.len = 32;
    message.n_ops = 0;
    assert(s_check_ops(&message, headers) != NULL);
    char key[LOG_KEY];
    s_log_key(author, 7, key);
    assert(strlen(key) == 66 && streq(key + 64, "/7"));
    if (verbose)
        printf("OK\n");
}

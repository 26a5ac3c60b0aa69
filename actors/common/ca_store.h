/*  =========================================================================
    ca_store - the actor loop every store shares, driven by a table

    A store (config, messages, content, ...) is described by a
    ca_store_def_t: its name, its schema migrations, and one ca_handler_t
    row per request kind it serves. ca_store_actor runs that description as
    a CZMQ actor; the node starts `workers` instances of it, and the gateway
    routes every request whose body is in the table to one of them. A new
    store is a new table; a new request is a new row. No store copies the
    loop, the decoding, the error handling or the writer round trip.

    Frame layouts (all documented in schemas/internal.proto as well):

      gateway -> store (store ROUTER, bound at inproc://cairn-store-<name>-<i>)
          [gateway id][client id][Request]
      store -> gateway
          [gateway id][client id][Response]
      store -> writer (DEALER), and back with the WriterResponse appended
          [gateway id][client id][Request][WriterRequest]
      the same with the answers packed up front (ca_store_write_answered)
          [gateway id][client id][Request][answer][answer if counted][WriterRequest]
      writer -> gateway, such a write committed (PUSH to the gateway's PULL)
          [gateway id][client id][Response]

    A handler either answers at once (reads, validation errors), or calls
    ca_store_write(), in which case the row's `done` function builds the
    answer once the writer has committed. A write the writer refuses is
    answered with the writer's status and message without calling `done`.
    ========================================================================= */

#ifndef CA_STORE_H_INCLUDED
#define CA_STORE_H_INCLUDED

#include "ca_sql.h"
#include "ca_status.h"
#include "cairn.pb-c.h"
#include "internal.pb-c.h"

#include <czmq.h>
#include <stdbool.h>

typedef struct _ca_store_t ca_store_t;

//  The answer being built for one request. Memory a handler needs for the
//  response body comes from ca_reply_alloc / ca_reply_strdup and is freed
//  after the response is sent.
typedef struct _ca_reply_t ca_reply_t;

//  Answers `request` (read path) or starts a write with ca_store_write.
typedef void(ca_handle_fn)(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply);

//  Builds the answer of a write that committed.
typedef void(ca_write_done_fn)(ca_store_t *store, const Cairn__Request *request,
                               const Cairn__Internal__WriteReply *write, ca_reply_t *reply);

//  Called instead of `done` when the writer refused or failed a write of
//  this store (the client gets the writer's status and message): undo what
//  the handler did outside the database, e.g. remove a temp file named in
//  write->context.
typedef void(ca_write_failed_fn)(ca_store_t *store, const Cairn__Request *request,
                                 const Cairn__Internal__WriteReply *write);

typedef struct {
    Cairn__Request__BodyCase body; //  the request kind this row serves
    const char *name;              //  for logs, e.g. "config_get"
    ca_handle_fn *handle;
    ca_write_done_fn *done; //  NULL for requests that never write
    //  Optional worker affinity: the number of a field of the request body
    //  whose value picks the worker (a varint: value % workers; bytes: their
    //  first 8 bytes, little-endian, % workers). Requests that share that
    //  value always reach the same worker, e.g. every chunk of one upload
    //  stream. 0: any worker (round robin). CA_ROUTE_ONE_WORKER: always
    //  worker 0, so that requests of this kind from one connection are
    //  handled, and their writes committed, in the order they were sent.
    uint32_t route_field;
} ca_handler_t;

#define CA_ROUTE_ONE_WORKER UINT32_MAX

//  Periodic upkeep of a store (e.g. cleaning an age-bounded table). Runs on
//  worker 0 of the pool every settings.maintenance_ms (on every worker with
//  tick_every_worker, for state each worker owns).
typedef void(ca_tick_fn)(ca_store_t *store);

//  State a store keeps in each worker beyond its SQL connection (open
//  upload streams, file handles). Made when the worker starts (NULL with
//  *error set, caller frees, refuses the start), destroyed when it stops.
typedef void *(ca_state_new_fn)(ca_store_t *store, char **error);
typedef void(ca_state_destroy_fn)(void **state_p);

//  Called when an internal write of the store (ca_store_write_internal)
//  committed, with the writer's answer: upkeep that goes on in steps.
typedef void(ca_internal_done_fn)(ca_store_t *store, const Cairn__Internal__WriteReply *write);

//  Wipes the secrets (e.g. a password) of a decoded request once the
//  framework is done with it (see ca_store_def_t.wipe_request).
typedef void(ca_wipe_request_fn)(Cairn__Request *request);

//  Runs once, before any worker of the store starts, on the node's thread:
//  e.g. making the store's directories and removing what a crash left.
//  Returns NULL, or an error (caller frees) that stops the node's start.
typedef char *(ca_prepare_fn)(const char *data_dir);

typedef struct {
    const char *name; //  pool name, e.g. "config"
    const ca_schema_t *schema;
    const ca_handler_t *handlers;
    size_t handler_count;
    //  Optional: a pool whose size is part of its design rather than a
    //  tuning knob (e.g. a bounded pool for costly password checks). 0 means
    //  the node's `workers` / `queue_max` settings.
    unsigned workers;
    size_t queue_max;
    //  Optional: requests the gateway lets into the pool at once (0: no cap
    //  beyond the queues); one more is answered BUSY at once (a backup: one
    //  at a time, never one queued behind another).
    size_t max_in_flight;
    ca_tick_fn *tick; //  optional
    bool tick_every_worker;
    //  Tick once right after start too, whatever maintenance_ms (catch-up
    //  work that must not wait for the first interval).
    bool tick_at_start;
    ca_prepare_fn *prepare;             //  optional
    ca_state_new_fn *state_new;         //  optional
    ca_state_destroy_fn *state_destroy; //  required with state_new
    ca_write_failed_fn *write_failed;   //  optional
    ca_internal_done_fn *internal_done; //  optional
    //  Optional, for requests that carry secrets: called on every path once
    //  a decoded request is done with (answered at once, answered after its
    //  write, its write failed), before it is freed; the request frame's
    //  bytes are then wiped too, once no write still needs them.
    ca_wipe_request_fn *wipe_request;
} ca_store_def_t;

#define CA_NODE_PEER_ID_SIZE 65 //  64 hex digits and the NUL

//  Node settings a store may need; copied into every worker. A store that
//  needs a new setting adds a field here and a row in node_config.c.
typedef struct {
    int64_t max_content_bytes;   //  largest message content
    int64_t gossip_max_age_s;    //  gossip entries older than this are cleaned
    int64_t oplog_hold_max_s;    //  operations held by the oplog orderer longer expire
    int64_t maintenance_ms;      //  interval of store ticks (0: never)
    int64_t cache_max_bytes;     //  peer-content cache budget (0: unbounded)
    int64_t stream_timeout_ms;   //  idle upload streams are abandoned after this
    int64_t max_blob_bytes;      //  largest blob a put or an upload stream may store
    int64_t min_free_bytes;      //  blob writes stop when the disk has less free
    int64_t content_quota_bytes; //  bytes the content store may hold (0: no quota)
    int64_t doc_max_bytes;       //  largest canonical document (documents store)
    const char *backup_root;     //  backups only under it (backup store; the config's)
    int64_t kv_max_value_bytes;  //  largest kv value (bounded by max_frame_bytes)
    //  The node's peer id (Info.peer_id: hex of its identity's public key);
    //  "" when it has none. The ledger binds payments to it.
    char node_peer_id[CA_NODE_PEER_ID_SIZE];
    bool peer_actor; //  the peer actor runs (peer_endpoint set): the sessions pool asks it
} ca_store_settings_t;

//  What the node gives each store worker (copied by the actor).
typedef struct {
    const ca_store_def_t *def;
    unsigned index;              //  worker number within the pool
    unsigned workers;            //  workers in the pool (0: 1)
    const char *data_dir;        //  NULL: the directory of db_path
    const char *db_path;         //  opened read-only
    const char *vfs;             //  NULL: SQLite's default
    const char *writer_endpoint; //  NULL: CA_WRITER_ENDPOINT
    size_t queue_max;            //  high-water mark of its sockets
    ca_store_settings_t settings;
    //  Every store of the node (the batch store runs their batchable rows).
    const ca_store_def_t *const *stores;
    size_t store_count;
} ca_store_args_t;

//  Workers and queue bound of a pool: the def's own, else the node's.
unsigned ca_store_workers(const ca_store_def_t *def, unsigned node_workers);
size_t ca_store_queue_max(const ca_store_def_t *def, size_t node_queue_max);

//  The actor function; args is a ca_store_args_t *.
void ca_store_actor(zsock_t *pipe, void *args);

//  The endpoint worker `index` of store `name` binds. Caller frees.
char *ca_store_endpoint(const char *name, unsigned index);

//  The slow-request log: a warning naming the request's kind, the pool
//  `store`, its id and how long it took, when more than slow_request_ms
//  passed since `received_us` (zclock_usecs at the store's receipt; 0:
//  not a client's request). Called when the answer leaves: by the store
//  for what it answers, by the writer for writes.
void ca_store_log_if_slow(const char *store, zframe_t *request_frame, int64_t received_us);

//  ---- for handlers ------------------------------------------------------------

//  The store's read-only connection.
ca_sql_t *ca_store_sql(ca_store_t *store);

//  `sql` prepared on the store's read connection (cached, reset), or NULL
//  when SQLite could not prepare it: out of file descriptors or memory, or
//  a damaged schema. Then the reply is failed with INTERNAL and the reason
//  (reply NULL, outside a request: the failure is logged), so a handler
//  returns at once and the worker goes on serving.
sqlite3_stmt *ca_store_prepare(ca_store_t *store, const char *sql, ca_reply_t *reply);

//  The node settings this worker was started with.
const ca_store_settings_t *ca_store_settings(ca_store_t *store);

//  Path of the database file (cairn.db) this worker reads, e.g. for its
//  size on disk.
const char *ca_store_db_path(ca_store_t *store);

//  The node's data dir (stores with files keep them under it).
const char *ca_store_data_dir(ca_store_t *store);

//  This worker's number and the pool's size.
unsigned ca_store_index(ca_store_t *store);
unsigned ca_store_worker_count(ca_store_t *store);

//  The routing id of the client whose request the handler is serving
//  (assigned by the gateway's socket; NULL outside a request). Not the
//  caller's to free.
zframe_t *ca_store_client_id(ca_store_t *store);

//  Whether the handler runs as one request of a Batch (actors/batch.c):
//  its write joins the batch's, which stores nothing when any request is
//  refused, so a write meant to be kept on refusal (evidence) cannot be
//  made there.
bool ca_store_in_batch(ca_store_t *store);

//  The state made by the def's state_new (NULL without one).
void *ca_store_state(ca_store_t *store);

//  Sends a write that answers no client (from a tick); its outcome is
//  logged. Takes ownership of *write_p. Returns -1 when the writer is full.
int ca_store_write_internal(ca_store_t *store, ca_write_t **write_p);

//  Sends the write to the writer; the answer comes through the row's `done`.
//  Takes ownership of *write_p. When the writer's queue is full the reply
//  becomes BUSY at once and -1 is returned (the write will never happen:
//  the handler undoes what it did outside the database); 0 when sent.
int ca_store_write(ca_store_t *store, ca_write_t **write_p, ca_reply_t *reply);

//  Turns an answer into another (see ca_store_write_answered).
typedef void(ca_reply_fn)(ca_reply_t *reply);

//  Sends a write whose answer the handler already built in `reply` (as for
//  an answer at once), for writes whose `done` would not need the writer's
//  results: the answer is packed now, travels with the write, and after
//  the COMMIT the writer sends it straight to the gateway (one thread hop
//  less, no second decode). With `if_counted`, it is called once the first
//  answer is packed to turn the reply into a second one, sent instead when
//  statement `answer_by` (0-based) counted something (rows when it asked
//  for them, else changed rows): e.g. created = false when the SELECT
//  found the key. A write the writer refuses comes back to the worker as
//  with ca_store_write: the writer's status and message, write_failed.
//  Takes ownership of *write_p; returns as ca_store_write.
int ca_store_write_answered(ca_store_t *store, ca_write_t **write_p, ca_reply_t *reply,
                            uint32_t answer_by, ca_reply_fn *if_counted);

//  Sets the body of the response (a ca_reply_alloc'd message).
Cairn__Response *ca_reply_response(ca_reply_t *reply);

//  Answers with a frame the handler laid out itself (ca_response_with_bytes)
//  instead of packing the response; takes the frame. An error set later
//  replaces it.
void ca_reply_frame(ca_reply_t *reply, zframe_t **frame_p);

//  Fails the request with a status and a message telling the user what to do.
void ca_reply_error(ca_reply_t *reply, ca_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

//  The page size a request asks for: `asked`, or `fallback` when it is 0.
//  Above `most`: 0, with the reply INVALID saying "at most MOST ITEMS" and,
//  unless `cursor` is NULL, the field to page on with. A client that asked
//  for more must learn it would get less.
size_t ca_page_limit(uint32_t asked, size_t fallback, size_t most, const char *items,
                     const char *cursor, ca_reply_t *reply);

void *ca_reply_alloc(ca_reply_t *reply, size_t size);

//  `size` bytes of answer memory, not zeroed, for a large piece (a blob):
//  NULL, with the reply failed with INTERNAL, when memory ran out.
void *ca_reply_alloc_large(ca_reply_t *reply, size_t size);

//  Resizes the malloc'd array at *array_p (any pointer type) to `count`
//  items of `size` bytes. False when memory ran out: the array is left as
//  it was (still the caller's to free) and the reply fails with INTERNAL.
bool ca_reply_realloc(ca_reply_t *reply, void *array_p, size_t count, size_t size);
char *ca_reply_strdup(ca_reply_t *reply, const char *text);
void *ca_reply_memdup(ca_reply_t *reply, const void *data, size_t size);

//  ---- actor lifecycle helpers (used by every actor and by the node) ---------

//  Sends START and waits for the actor's answer. Returns 0, or -1 with
//  *error set (caller frees).
int ca_actor_start(zactor_t *actor, char **error);

//  An actor's answer to START: error NULL means started.
void ca_actor_reply_start(zsock_t *pipe, const char *error);

//  The START error of an actor whose zsock_new returned NULL (libzmq is out
//  of descriptors or sockets): says so and what to do. Caller frees.
char *ca_actor_socket_error(const char *actor);

//  After zpoller_wait returned NULL: true when the actor must stop (the
//  context is terminating), false for a timeout or a signal that merely
//  interrupted the wait (EINTR). Actors stop on $TERM from their pipe, never
//  because some signal handler ran on their thread.
bool ca_actor_poll_failed(zpoller_t *poller);

//  Sends a multipart message made of `count` frames without blocking; the
//  frames are not destroyed. Returns -1 when the peer's queue is full.
int ca_send_frames(zsock_t *socket, zframe_t **frames, size_t count);

//  The next message waiting on `socket` (which may be NULL), or NULL when
//  none is, without blocking. Actors serve a ready socket in bursts with it:
//  one receive per message, where asking for the socket's events first
//  cost a libzmq call per message and a poll of its mailbox when idle.
zmsg_t *ca_recv_waiting(zsock_t *socket);

void ca_store_test(bool verbose);

#endif

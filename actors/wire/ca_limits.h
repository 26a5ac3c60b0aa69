/*  =========================================================================
    ca_limits - endpoints, limits and defaults of cairn, in one place

    Every number a user might ask about ("how big may a frame be?", "how many
    writes go in one transaction?") is defined here, not scattered through
    the actors. The defaults are the values a node gets with no config; the
    README's config table lists the same values.
    ========================================================================= */

#ifndef CA_LIMITS_H_INCLUDED
#define CA_LIMITS_H_INCLUDED

#include <unistd.h>

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0.0.0-dev"
#endif

//  Wire API version (Info.api_version, --version): 1 until the first release
//  (the API still grows with each store); from then on bumped whenever a
//  request kind or a request field is added (docs/PROTOCOL.md, Versioning).
#define CA_API_VERSION 1

//  ---- defaults (overridable by flags, CAIRN_* environment, config file) ----
#define CA_DEFAULT_DATA_DIR          "./cairn-data"
#define CA_DEFAULT_CLIENT_ENDPOINT   "tcp://127.0.0.1:7401"
#define CA_DEFAULT_LOG_LEVEL         "info"
#define CA_DEFAULT_SYNCHRONOUS       "normal"
#define CA_DEFAULT_MAX_FRAME_BYTES   (64LL * 1024 * 1024)
#define CA_DEFAULT_WRITER_BATCH      1000  //  writes per group commit
#define CA_DEFAULT_QUEUE_MAX         2000  //  requests queued per store pool
#define CA_DEFAULT_DRAIN_MS          10000 // shutdown: wait this long for answers
#define CA_DEFAULT_MAX_DB_BYTES      0     // 0 = no cap on the database size
#define CA_DEFAULT_MAX_CONTENT       65536 // message content, bytes
#define CA_DEFAULT_GOSSIP_MAX_AGE_S  3600
#define CA_DEFAULT_MAINTENANCE_MS    60000
#define CA_DEFAULT_CACHE_MAX_BYTES   (1024LL * 1024 * 1024)
#define CA_DEFAULT_STREAM_TIMEOUT_MS 300000
#define CA_DEFAULT_MAX_BLOB_BYTES    17179869184 //  16 GiB (a literal: node_config reads it as text)
//  A request frame over CA_QUEUE_SMALL_BYTES is large: besides its pool's
//  queue_max it counts against the pool's bytes in flight, at most
//  queue_bytes per worker (default CA_DEFAULT_QUEUE_BYTES: sixteen 16 MiB
//  chunks, four 64 MiB puts); see actors/gateway_bytes.c.
#define CA_QUEUE_SMALL_BYTES   (64 * 1024)
#define CA_DEFAULT_QUEUE_BYTES (256LL * 1024 * 1024)

//  ---- hard limits ----------------------------------------------------------
#define CA_MAX_WORKERS               64
#define CA_MAX_WRITER_BATCH          100000
#define CA_MAX_QUEUE                 1000000
#define CA_MAX_PING_PAYLOAD          1024
#define CA_CONFIG_KEY_MAX            256
#define CA_CONFIG_VALUE_MAX          (64 * 1024)
#define CA_HASH_BYTES                32
#define CA_WRITER_MAX_CONTEXT_FRAMES 8
//  before_commit statements: per write, and distinct per batch.
#define CA_WRITE_BEFORE_COMMIT_MAX  4
#define CA_WRITER_MAX_BEFORE_COMMIT 16
//  Requests in one Batch (schemas/batch.proto).
#define CA_BATCH_REQUESTS_MAX 64
//  Peers: ids and display names in bytes; public_key_text (base64 or PEM);
//  peers per PeerList page (also the default page).
#define CA_PEER_NAME_MAX     128
#define CA_PEER_KEY_TEXT_MAX 1024
#define CA_PEER_LIST_MAX     1000
//  A page whose items can be large (LedgerPending: up to 1000 shares per
//  payment) stops before its answer passes this many bytes, and says
//  `more`; it always holds at least one item.
#define CA_PAGE_BYTES_MAX (4 * 1024 * 1024)
//  Channels per ChannelList page and memberships per MemberList page
//  (default, most).
#define CA_CHANNEL_PAGE_DEFAULT 1000
#define CA_CHANNEL_PAGE_MAX     10000
//  Gossip cache: message ids in bytes; hop counts.
#define CA_GOSSIP_ID_MAX      128
#define CA_GOSSIP_DEFAULT_TTL 5
#define CA_GOSSIP_MAX_TTL     255
//  Content store: the largest chunk of an upload stream and the longest
//  ContentRead range; the largest blob ContentGet answers whole (larger
//  ones are read in ranges); open upload streams per worker; requests
//  queued per content (and cache) worker: a count that bounds small
//  requests (CA_QUEUE_SMALL_BYTES each at most, so 16 MiB per worker) and
//  lets 4 KiB puts batch deeply, while larger ones are bounded by bytes
//  (queue_bytes, gateway_bytes.c); hashes listed per kind in a
//  ContentCheck report.
#define CA_CONTENT_CHUNK_MAX          (16 * 1024 * 1024)
#define CA_CONTENT_WHOLE_MAX          (64LL * 1024 * 1024)
#define CA_CONTENT_STREAMS_MAX        64
#define CA_CONTENT_STREAMS_PER_CLIENT 8 //  of those, per client connection
//  An upload stream's idle clock restarts only once it has received this
//  many bytes since the last restart: 1-byte chunks cannot hold a slot
//  past stream_timeout_ms.
#define CA_CONTENT_RENEW_BYTES (64 * 1024)
#define CA_CONTENT_QUEUE_MAX   256
#define CA_CONTENT_CHECK_LIST  1000
//  ContentPut keeps a blob of at most this many bytes inline in SQLite,
//  committed with its row (no file, no fsync of its own); see the banner
//  of actors/content.c for the figures behind the choice.
#define CA_CONTENT_INLINE_MAX (16 * 1024)
//  Cache store: payment receipts in bytes.
#define CA_CACHE_RECEIPT_MAX (64 * 1024)
//  Provenance: sources per ProvAdd; items per ProvRoots/ProvDerivations
//  answer by default and at most.
#define CA_PROV_SOURCES_MAX  1000
#define CA_PROV_LIST_DEFAULT 1000
#define CA_PROV_LIST_MAX     100000
//  Provenance: the most roots one node may have; a ProvAdd that would give
//  it more is CONFLICT, nothing kept (the root cache holds a row per root:
//  without a cap one small add could write millions of rows).
#define CA_PROV_ROOTS_MAX 100000
//  Manifests (strings in bytes): content types, titles, descriptions, MIME
//  types; tags per manifest and per tag; peers per access list; manifests
//  per ManifestList and ManifestVersions page (default, most). L1
//  summaries: preview mentions and primary topics (count and bytes each),
//  summary text.
#define CA_MANIFEST_TYPE_MAX        64
#define CA_MANIFEST_TITLE_MAX       256
#define CA_MANIFEST_DESCRIPTION_MAX 4096
#define CA_MANIFEST_MIME_MAX        128
#define CA_MANIFEST_TAGS_MAX        32
#define CA_MANIFEST_TAG_MAX         64
#define CA_MANIFEST_ACCESS_MAX      1000
#define CA_MANIFEST_PAGE_DEFAULT    100
#define CA_MANIFEST_PAGE_MAX        1000
#define CA_SUMMARY_ITEMS_MAX        100
#define CA_SUMMARY_MENTION_MAX      1024
#define CA_SUMMARY_TOPIC_MAX        256
#define CA_SUMMARY_TEXT_MAX         (64 * 1024)
//  Statements kept prepared per connection before the least used is dropped.
#define CA_STMT_CACHE_MAX 256
//  Decoding a request: at most this times its size plus the slack, in
//  bytes (ca_envelope_check_request); the bookkeeping protobuf-c keeps per
//  field occurrence while it parses (an upper bound); nesting depth.
#define CA_DECODE_COST_FACTOR 16
#define CA_DECODE_COST_SLACK  (1024 * 1024)
#define CA_DECODE_FIELD_COST  48
#define CA_DECODE_DEPTH_MAX   32
//  Request frames per kind (the rule for clients is in schemas/envelope.proto,
//  the kinds allowed more than CA_FRAME_SMALL_MAX are listed in the
//  gateway): most kinds carry small fields and may be at most
//  CA_FRAME_SMALL_MAX; the gateway's own (Ping, Info) CA_FRAME_GATEWAY_MAX;
//  MessageStore CA_FRAME_MESSAGE_MAX (content up to 16 MiB, see
//  max_content_bytes); kinds that carry content (CA_FRAME_CONTENT:
//  ContentPut, ContentChunk, CachePut) up to max_frame_bytes.
#define CA_FRAME_SMALL_MAX   (1024 * 1024)
#define CA_FRAME_GATEWAY_MAX 4096
#define CA_FRAME_MESSAGE_MAX (17 * 1024 * 1024)
#define CA_FRAME_CONTENT     0xffffffffu
//  Highest field number of Request.body the gateway routes.
#define CA_MAX_BODY_FIELD 4096
//  Client socket send queue, in messages: answers for slow readers beyond
//  this are dropped (bytes are bounded by the answer budgets below).
#define CA_CLIENT_SNDHWM 10000
//  Per client (gateway_clients.c): requests in flight in all; the share of
//  a pool's queue one client may hold (1/N of workers x queue_max, at least
//  one per worker); unread answer bytes per client and for the whole node;
//  answers up to CA_ANSWER_UNCOUNTED_BYTES (Pongs, statuses of writes,
//  errors) are neither counted nor dropped for a budget: the SNDHWM bounds
//  them (10,000 x 1 KiB = 10 MiB per client).
#define CA_DEFAULT_CLIENT_IN_FLIGHT_MAX    1000
#define CA_CLIENT_POOL_SHARE_DIVISOR       2
#define CA_DEFAULT_CLIENT_ANSWER_BYTES_MAX (64LL * 1024 * 1024)
#define CA_DEFAULT_ANSWER_BYTES_MAX        (256LL * 1024 * 1024)
#define CA_ANSWER_UNCOUNTED_BYTES          1024
//  Client connections (max_clients, see node.c for the default's rule): the
//  highest setting, the most descriptors kept back from the automatic cap
//  for the node's own files and sockets beyond those open at start, the
//  automatic cap's ceiling (an idle connection costs libzmq ~14 KiB, see
//  e2e.hostile.idle_connections), and how often the gateway may log that it
//  closed connections over the cap.
#define CA_MAX_CLIENTS      1000000
#define CA_FD_RESERVE       256
#define CA_CLIENTS_AUTO_MAX 10000
#define CA_CLIENTS_AUTO_MIN 16
#define CA_CLIENTS_WARN_MS  10000
//  Chunk sizes of the arenas that hold decoded messages (ca_arena): the
//  writer's holds a whole batch's requests, a worker's one request.
#define CA_WRITER_ARENA_CHUNK (256 * 1024)
#define CA_WORKER_ARENA_CHUNK (64 * 1024)
//  The gateway looks at every socket, owed an answer or not, once in this
//  many turns of its loop (see gateway.c s_serve_ready).
#define CA_GATEWAY_SWEEP_TURNS 16
//  Messages an actor takes from one socket before looking at the others.
#define CA_SERVE_BURST 64
//  The metrics endpoint (gateway_metrics.c): connections open at once
//  (more are closed at accept), bytes of one request's head, how long a
//  connection may take to send it, how long a scrape waits for the
//  writer's figures before it is answered with the previous ones, how long
//  an answered connection stays open for the client to close it, and the
//  requests per pool timed for the latency histogram at once.
#define CA_METRICS_CONNECTIONS        16
#define CA_METRICS_REQUEST_MAX        8192
#define CA_METRICS_REQUEST_TIMEOUT_MS 3000
#define CA_METRICS_WRITER_WAIT_MS     1000
#define CA_METRICS_LINGER_MS          2000
#define CA_METRICS_TIMED              256
//  The writer's SQLite page cache (PRAGMA cache_size, negative = KiB).
#define CA_WRITER_CACHE_KIB "-65536"
//  Readers wait this long for a WAL checkpoint before answering BUSY.
#define CA_READ_BUSY_TIMEOUT_MS 5000

//  ---- inproc endpoints ------------------------------------------------------
#define CA_WRITER_ENDPOINT "inproc://cairn-writer"
//  Where the gateway takes the answers the writer sends it directly (a PULL
//  the gateway binds; the writer's PUSH connects): writes whose answer the
//  store packed before the commit (WriteRequest.answer_to_gateway).
#define CA_GATEWAY_ANSWERS_ENDPOINT "inproc://cairn-gateway-answers"
//  The routing ids of the gateway's pool DEALERs: this byte, then the pool
//  index, the socket's slot (0 round robin, w + 1 pinned to worker w) and
//  the gateway's number in the process (a worker ROUTER drops a second
//  connection with an id it knows), each 2 bytes little-endian. A store worker sends a write's
//  answer to the gateway through the writer only for a request that came on such a socket (never
//  for Info's own MessageStats socket).
#define CA_GATEWAY_ID_MARK 'G'
#define CA_GATEWAY_ID_SIZE 7
//  A store worker binds "inproc://cairn-store-<name>-<index>".
#define CA_STORE_ENDPOINT_FMT "inproc://cairn-store-%s-%u"

//  ---- data dir layout --------------------------------------------------------
#define CA_DB_FILE   "cairn.db"
#define CA_LOCK_FILE "cairnd.lock"
//  Blob files: <data dir>/content/<2 hex>/<64 hex>, and cache/ the same way;
//  uploads in progress sit in <store dir>/tmp/ (emptied at start).
#define CA_CONTENT_DIR "content"
#define CA_CACHE_DIR   "cache"

//  Faults (docs/ARCHITECTURE.md, "Start checks and a full node"). With
//  max_db_bytes, the reserve that only deletes and VACUUM may use:
//  max_db_bytes / CA_DB_RESERVE_DIVISOR, at least CA_DB_RESERVE_MIN_BYTES.
#define CA_DB_RESERVE_DIVISOR   8
#define CA_DB_RESERVE_MIN_BYTES (256 * 1024)
//  The orphan sweep at start (ca_blob_store_sweep): blob files examined and
//  time spent per store, at most; what is left is swept at the next start.
#define CA_SWEEP_MAX_FILES 1000000
#define CA_SWEEP_MAX_MS    30000

//  The default of `workers` (instances per store pool): the number of
//  online cores, at least 1, at most CA_MAX_WORKERS. More threads than
//  cores only add wake-ups and context switches on the request path.
static inline unsigned ca_default_workers(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        return 1;
    return cores > CA_MAX_WORKERS ? CA_MAX_WORKERS : (unsigned)cores;
}

#endif

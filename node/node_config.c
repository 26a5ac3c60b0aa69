/*  =========================================================================
    node_config - cairnd's settings: defaults, file, environment, flags
    ========================================================================= */

#include "node_config.h"
#include "ca_limits.h"
#include "ca_log.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

//  KIND_BOOL: true|false (also 1|0, yes|no); as a flag, given alone it means true.
//  KIND_ENDPOINT: a ZeroMQ endpoint (s_endpoint_problem), or one of `choices`.
typedef enum { KIND_TEXT, KIND_INT, KIND_CHOICE, KIND_BOOL, KIND_ENDPOINT } kind_t;

typedef struct {
    const char *name; //  setting name
    const char *flag; //  long flag: the name with '-' for '_' (checked by the self-test)
    const char *zpl;  //  path in the config file
    const char *env;
    const char *fallback; //  default, as text
    kind_t kind;
    int64_t min, max;    //  KIND_INT
    const char *choices; //  KIND_CHOICE: '|'-separated
    size_t offset;       //  field in node_config_t
    const char *help;
} option_t;

#define STR_(x)  #x
#define STR(x)   STR_(x)
#define FIELD(f) offsetof(node_config_t, f)

//  The fallback of `workers` as the help shows it; node_config_new puts
//  ca_default_workers() there.
#define S_CORES "the number of online cores (at most " STR(CA_MAX_WORKERS) ")"

static const option_t s_options[] = {
    {"data_dir", "data-dir", "node/data_dir", "CAIRN_DATA_DIR", CA_DEFAULT_DATA_DIR, KIND_TEXT, 0,
     0, NULL, FIELD(data_dir),
     "directory holding cairn.db and the store files (created if missing)"},
    {"client_endpoint", "client-endpoint", "client/endpoint", "CAIRN_CLIENT_ENDPOINT",
     CA_DEFAULT_CLIENT_ENDPOINT, KIND_ENDPOINT, 0, 0, NULL, FIELD(client_endpoint),
     "ZeroMQ endpoint tools connect to (ROUTER; clients use DEALER)"},
    {"client_auth", "client-auth", "client/auth", "CAIRN_CLIENT_AUTH", "auto", KIND_CHOICE, 0, 0,
     "auto|curve|none", FIELD(client_auth),
     "CURVE on the client endpoint; auto: on when the endpoint is not loopback or the "
     "allow-list DATA_DIR/curve/clients exists"},
    {"insecure_no_auth", "insecure-no-auth", "client/insecure_no_auth", "CAIRN_INSECURE_NO_AUTH",
     "false", KIND_BOOL, 0, 1, NULL, FIELD(insecure_no_auth),
     "let a non-loopback client endpoint run without CURVE (anyone who reaches it may use "
     "the node; warned at every start)"},
    {"max_frame_bytes", "max-frame-bytes", "client/max_frame_bytes", "CAIRN_MAX_FRAME_BYTES",
     "67108864", KIND_INT, 1024, INT64_MAX, NULL, FIELD(max_frame_bytes),
     "largest request frame; a bigger one drops the sender's connection"},
    {"max_clients", "max-clients", "client/max_clients", "CAIRN_MAX_CLIENTS", "0", KIND_INT, 0,
     CA_MAX_CLIENTS, NULL, FIELD(max_clients),
     "client connections open at once; one more is closed at accept (0: the descriptor limit "
     "less those in use at start less a reserve of up to " STR(CA_FD_RESERVE) ", at most " STR(
         CA_CLIENTS_AUTO_MAX) ")"},
    {"log_level", "log-level", "node/log_level", "CAIRN_LOG_LEVEL", CA_DEFAULT_LOG_LEVEL,
     KIND_CHOICE, 0, 0, "error|warning|notice|info|debug", FIELD(log_level),
     "least important log level written"},
    {"log_format", "log-format", "node/log_format", "CAIRN_LOG_FORMAT", "text", KIND_CHOICE, 0, 0,
     "text|json", FIELD(log_format),
     "text: zsys lines; json: one JSON object per line (ts, level, actor, req, msg)"},
    {"slow_request_ms", "slow-request-ms", "node/slow_request_ms", "CAIRN_SLOW_REQUEST_MS", "1000",
     KIND_INT, 0, 86400000, NULL, FIELD(slow_request_ms),
     "a request answered later than this after its store received it is logged as a warning "
     "(kind, store, id, time; 0: never)"},
    {"synchronous", "synchronous", "writer/synchronous", "CAIRN_SYNCHRONOUS",
     CA_DEFAULT_SYNCHRONOUS, KIND_CHOICE, 0, 0, "normal|full", FIELD(synchronous),
     "normal: an OK survives a crash of cairnd; full: also power loss (fsync per batch)"},
    {"writer_batch", "writer-batch", "writer/batch_max", "CAIRN_WRITER_BATCH",
     STR(CA_DEFAULT_WRITER_BATCH), KIND_INT, 1, CA_MAX_WRITER_BATCH, NULL, FIELD(writer_batch),
     "most writes committed in one transaction (group commit)"},
    {"max_db_bytes", "max-db-bytes", "writer/max_db_bytes", "CAIRN_MAX_DB_BYTES",
     STR(CA_DEFAULT_MAX_DB_BYTES), KIND_INT, 0, INT64_MAX, NULL, FIELD(max_db_bytes),
     "cap on cairn.db's size (0: no cap); ordinary writes stop at a reserve below it "
     "(UNAVAILABLE, the node is full), which deletes and VACUUM may use"},
    {"min_free_bytes", "min-free-bytes", "writer/min_free_bytes", "CAIRN_MIN_FREE_BYTES",
     "16777216", KIND_INT, 0, INT64_MAX, NULL, FIELD(min_free_bytes),
     "ordinary writes stop (UNAVAILABLE, the node is full) when the disk holding cairn.db has "
     "less free; the space is kept for deletes (0: never)"},
    {"start_check", "start-check", "writer/start_check", "CAIRN_START_CHECK", "quick", KIND_CHOICE,
     0, 0, "quick|off", FIELD(start_check),
     "quick: PRAGMA quick_check of cairn.db before serving (reads the whole file once), a "
     "damaged file is refused; off: skip it (very large databases checked another way)"},
    {"workers", "workers", "stores/workers", "CAIRN_WORKERS", S_CORES, KIND_INT, 1, CA_MAX_WORKERS,
     NULL, FIELD(workers),
     "worker threads per store (parallel reads); by default one per online core"},
    {"queue_max", "queue-max", "stores/queue_max", "CAIRN_QUEUE_MAX", STR(CA_DEFAULT_QUEUE_MAX),
     KIND_INT, 1, CA_MAX_QUEUE, NULL, FIELD(queue_max),
     "requests queued per store before clients get BUSY"},
    {"queue_bytes", "queue-bytes", "stores/queue_bytes", "CAIRN_QUEUE_BYTES", "268435456", KIND_INT,
     CA_QUEUE_SMALL_BYTES, INT64_MAX, NULL, FIELD(queue_bytes),
     "bytes of large requests (frames over 64 KiB) queued per store worker before they get "
     "BUSY (one is always let in); smaller requests are bounded by queue_max alone"},
    {"client_in_flight_max", "client-in-flight-max", "client/in_flight_max",
     "CAIRN_CLIENT_IN_FLIGHT_MAX", STR(CA_DEFAULT_CLIENT_IN_FLIGHT_MAX), KIND_INT, 1, CA_MAX_QUEUE,
     NULL, FIELD(client_in_flight_max),
     "requests one client may have unanswered; more get BUSY (also at most half of a "
     "store's queue)"},
    {"client_answer_bytes_max", "client-answer-bytes-max", "client/answer_bytes_max",
     "CAIRN_CLIENT_ANSWER_BYTES_MAX", "67108864", KIND_INT, 4096, INT64_MAX, NULL,
     FIELD(client_answer_bytes_max),
     "answer bytes one client may leave unread; past it its requests get BUSY and large "
     "answers are dropped"},
    {"answer_bytes_max", "answer-bytes-max", "client/answers_bytes_max", "CAIRN_ANSWER_BYTES_MAX",
     "268435456", KIND_INT, 4096, INT64_MAX, NULL, FIELD(answer_bytes_max),
     "answer bytes all clients together may leave unread; past it large answers are dropped "
     "(BUSY)"},
    {"drain_ms", "drain-ms", "node/drain_ms", "CAIRN_DRAIN_MS", STR(CA_DEFAULT_DRAIN_MS), KIND_INT,
     0, 3600000, NULL, FIELD(drain_ms),
     "on SIGTERM/SIGINT, wait this long for accepted requests to be answered"},
    {"max_content_bytes", "max-content-bytes", "messages/max_content_bytes",
     "CAIRN_MAX_CONTENT_BYTES", STR(CA_DEFAULT_MAX_CONTENT), KIND_INT, 1, 16 * 1024 * 1024, NULL,
     FIELD(max_content_bytes), "largest message content accepted by MessageStore"},
    {"gossip_max_age_s", "gossip-max-age-s", "gossip/max_age_s", "CAIRN_GOSSIP_MAX_AGE_S",
     STR(CA_DEFAULT_GOSSIP_MAX_AGE_S), KIND_INT, 1, 365LL * 86400, NULL, FIELD(gossip_max_age_s),
     "gossip cache entries older than this are removed by periodic upkeep"},
    {"oplog_hold_max_s", "oplog-hold-max-s", "oplog/hold_max_s", "CAIRN_OPLOG_HOLD_MAX_S", "86400",
     KIND_INT, 1, 365LL * 86400, NULL, FIELD(oplog_hold_max_s),
     "operations the orderer holds longer than this (a dependency never came) expire"},
    {"cache_max_bytes", "cache-max-bytes", "cache/max_bytes", "CAIRN_CACHE_MAX_BYTES", "1073741824",
     KIND_INT, 0, INT64_MAX, NULL, FIELD(cache_max_bytes),
     "peer-content cache budget in bytes, kept after every CachePut (0: unbounded)"},
    {"stream_timeout_ms", "stream-timeout-ms", "content/stream_timeout_ms",
     "CAIRN_STREAM_TIMEOUT_MS", STR(CA_DEFAULT_STREAM_TIMEOUT_MS), KIND_INT, 1000, 86400000, NULL,
     FIELD(stream_timeout_ms),
     "an upload stream idle this long is abandoned and its bytes removed (checked every "
     "maintenance_ms)"},
    {"max_blob_bytes", "max-blob-bytes", "content/max_blob_bytes", "CAIRN_MAX_BLOB_BYTES",
     STR(CA_DEFAULT_MAX_BLOB_BYTES), KIND_INT, 1, INT64_MAX, NULL, FIELD(max_blob_bytes),
     "largest blob ContentPut, an upload stream or CachePut may store (INVALID beyond; a "
     "stream that passes it is aborted)"},
    {"kv_max_value_bytes", "kv-max-value-bytes", "kv/max_value_bytes", "CAIRN_KV_MAX_VALUE_BYTES",
     "16777216", KIND_INT, 1, INT64_MAX, NULL, FIELD(kv_max_value_bytes),
     "largest value KvStore accepts (INVALID beyond; a value also fits in max_frame_bytes)"},
    {"content_quota_bytes", "content-quota-bytes", "content/quota_bytes",
     "CAIRN_CONTENT_QUOTA_BYTES", "0", KIND_INT, 0, INT64_MAX, NULL, FIELD(content_quota_bytes),
     "bytes of blobs the content store may hold; a put or chunk past it gets UNAVAILABLE (0: no "
     "quota)"},
    {"backup_root", "backup-root", "backup/root", "CAIRN_BACKUP_ROOT", "/", KIND_TEXT, 0, 0, NULL,
     FIELD(backup_root),
     "an absolute directory under which `cairn backup DIR` may write (DIR must be inside it); "
     "/: anywhere the node may write"},
    {"doc_max_bytes", "doc-max-bytes", "documents/max_bytes", "CAIRN_DOC_MAX_BYTES", "262144",
     KIND_INT, 2, 16777216, NULL, FIELD(doc_max_bytes),
     "largest document object in canonical JSON bytes (INVALID beyond)"},
    {"maintenance_ms", "maintenance-ms", "node/maintenance_ms", "CAIRN_MAINTENANCE_MS",
     STR(CA_DEFAULT_MAINTENANCE_MS), KIND_INT, 0, 86400000, NULL, FIELD(maintenance_ms),
     "interval of periodic upkeep such as gossip cleaning (0: off)"},
    {"peer_endpoint", "peer-endpoint", "peer/endpoint", "CAIRN_PEER_ENDPOINT", "off", KIND_ENDPOINT,
     0, 0, "off", FIELD(peer_endpoint),
     "ZeroMQ tcp endpoint other nodes dial (ROUTER, CURVE with the key of the node's identity, "
     "which it needs); off: no peer network"},
    {"peer_admission", "peer-admission", "peer/admission", "CAIRN_PEER_ADMISSION", "open",
     KIND_CHOICE, 0, 0, "open|allow-list", FIELD(peer_admission),
     "open: any node key may connect (new ones are added to the peers table); allow-list: only "
     "keys in the peers table; blocked peers never"},
    {"bootstrap_peers", "bootstrap-peers", "peer/bootstrap", "CAIRN_BOOTSTRAP_PEERS", "none",
     KIND_TEXT, 0, 0, NULL, FIELD(bootstrap_peers),
     "nodes to dial at start besides the peers table: PEER_ID@ADDRESS:PORT, comma-separated "
     "(none: no bootstrap)"},
    {"peer_max", "peer-max", "peer/max", "CAIRN_PEER_MAX", "64", KIND_INT, 1, 1024, NULL,
     FIELD(peer_max), "peer sessions at once, dialed and accepted; more are refused"},
    {"peer_heartbeat_ms", "peer-heartbeat-ms", "peer/heartbeat_ms", "CAIRN_PEER_HEARTBEAT_MS",
     "1000", KIND_INT, 50, 60000, NULL, FIELD(peer_heartbeat_ms),
     "heartbeat interval of peer sessions; 3 intervals of silence: offline; redial backoff "
     "doubles from one interval to 30"},
    {"peer_in_flight_bytes", "peer-in-flight-bytes", "peer/in_flight_bytes",
     "CAIRN_PEER_IN_FLIGHT_BYTES", "8388608", KIND_INT, 65536, 1073741824, NULL,
     FIELD(peer_in_flight_bytes),
     "bytes sent to one peer and not yet acknowledged by its heartbeat; more wait"},
    {"gossip_ttl", "gossip-ttl", "gossip/ttl", "CAIRN_GOSSIP_TTL", "8", KIND_INT, 1, 255, NULL,
     FIELD(gossip_ttl),
     "hops this node's own messages travel by gossip; a message from a peer goes on with its "
     "ttl - 1"},
    {"reconcile_ms", "reconcile-ms", "peer/reconcile_ms", "CAIRN_RECONCILE_MS", "300000", KIND_INT,
     0, 86400000, NULL, FIELD(reconcile_ms),
     "set reconciliation with each peer (the smaller peer id starts): on connect and this "
     "often; 0: never"},
    {"oplog_sync_ms", "oplog-sync-ms", "oplog/sync_ms", "CAIRN_OPLOG_SYNC_MS", "5000", KIND_INT, 50,
     3600000, NULL, FIELD(oplog_sync_ms),
     "interval of operation log sync rounds with each peer (also one when a session starts)"},
    {"metrics_endpoint", "metrics-endpoint", "node/metrics_endpoint", "CAIRN_METRICS_ENDPOINT",
     "off", KIND_ENDPOINT, 0, 0, "off", FIELD(metrics_endpoint),
     "tcp endpoint serving GET /metrics (Prometheus text, plain HTTP, no auth: bind it to "
     "loopback or a private address); off: none"},
};

#define OPTION_COUNT (sizeof s_options / sizeof s_options[0])

static char **s_text_field(node_config_t *self, const option_t *option) {
    return (char **)((char *)self + option->offset);
}

static int64_t *s_int_field(node_config_t *self, const option_t *option) {
    return (int64_t *)((char *)self + option->offset);
}

static const option_t *s_find(const char *name) {
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (streq(s_options[i].name, name))
            return &s_options[i];
    return NULL;
}

static bool s_is_choice(const char *choices, const char *value) {
    size_t length = strlen(value);
    const char *at = choices;
    while (at && *at) {
        const char *end = strchr(at, '|');
        size_t choice_length = end ? (size_t)(end - at) : strlen(at);
        if (choice_length == length && strncmp(at, value, length) == 0)
            return true;
        at = end ? end + 1 : NULL;
    }
    return false;
}

//  Why `value` is not an endpoint cairnd can bind, or NULL: tcp://HOST:PORT
//  (HOST a name, an address, [IPv6 address] or *; PORT 1..65535 or *), or,
//  unless `tcp_only`, ipc://PATH or inproc://NAME (a node embedded in a
//  process that talks to it in-process: the fuzz target). Checked before
//  anything is created.
static const char *s_endpoint_problem(const char *value, bool tcp_only) {
    if (strncmp(value, "ipc://", 6) == 0 && !tcp_only)
        return value[6] ? NULL : "ipc:// needs a path";
    if (strncmp(value, "inproc://", 9) == 0 && !tcp_only)
        return value[9] ? NULL : "inproc:// needs a name";
    if (strncmp(value, "tcp://", 6) != 0)
        return tcp_only ? "it must start with tcp://" : "it must start with tcp:// or ipc://";
    const char *host = value + 6;
    const char *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return "tcp:// needs HOST:PORT";
    size_t host_length = (size_t)(colon - host);
    if (host[0] == '[' ? host[host_length - 1] != ']' || host_length < 3
                       : strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789.-_*") != host_length)
        return "the host is not a name, an address or [IPv6 address]";
    const char *port = colon + 1;
    if (streq(port, "*"))
        return NULL;
    char *end = NULL;
    errno = 0;
    long number = strtol(port, &end, 10);
    if (!*port || errno || *end || number < 1 || number > 65535)
        return "the port must be 1..65535 or *";
    return NULL;
}

static int s_set(node_config_t *self, const option_t *option, const char *value, const char *source,
                 char **error) {
    if (option->kind == KIND_INT) {
        char *end = NULL;
        errno = 0;
        long long number = strtoll(value, &end, 10);
        if (errno || end == value || *end || number < option->min || number > option->max) {
            *error =
                zsys_sprintf("%s: %s must be an integer from %lld to %lld, not '%s'", source,
                             option->name, (long long)option->min, (long long)option->max, value);
            return -1;
        }
        *s_int_field(self, option) = number;
        return 0;
    }
    if (option->kind == KIND_BOOL) {
        bool yes = streq(value, "true") || streq(value, "1") || streq(value, "yes");
        bool no = streq(value, "false") || streq(value, "0") || streq(value, "no");
        if (!yes && !no) {
            *error =
                zsys_sprintf("%s: %s must be true or false, not '%s'", source, option->name, value);
            return -1;
        }
        *s_int_field(self, option) = yes;
        return 0;
    }
    if (option->kind == KIND_CHOICE && !s_is_choice(option->choices, value)) {
        *error = zsys_sprintf("%s: %s must be one of %s, not '%s'", source, option->name,
                              option->choices, value);
        return -1;
    }
    const char *problem =
        option->kind == KIND_ENDPOINT && !(option->choices && s_is_choice(option->choices, value))
            ? s_endpoint_problem(value, option->offset == FIELD(peer_endpoint) ||
                                            option->offset == FIELD(metrics_endpoint))
            : NULL;
    if (problem) {
        *error = zsys_sprintf(
            "%s: %s must be a ZeroMQ endpoint such as %s%s%s (%s), not '%s'", source, option->name,
            option->offset == FIELD(peer_endpoint)      ? "tcp://0.0.0.0:7402"
            : option->offset == FIELD(metrics_endpoint) ? "tcp://127.0.0.1:9464"
                                                        : CA_DEFAULT_CLIENT_ENDPOINT,
            option->choices ? " or " : "", option->choices ? option->choices : "", problem, value);
        return -1;
    }
    if (option->kind == KIND_TEXT && !*value) {
        *error = zsys_sprintf("%s: %s must not be empty", source, option->name);
        return -1;
    }
    char **field = s_text_field(self, option);
    free(*field);
    *field = strdup(value);
    return 0;
}

node_config_t *node_config_new(void) {
    node_config_t *self = (node_config_t *)zmalloc(sizeof(node_config_t));
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char *error = NULL;
        char cores[16];
        const char *fallback = s_options[i].fallback;
        if (s_options[i].offset == FIELD(workers)) {
            snprintf(cores, sizeof cores, "%u", ca_default_workers());
            fallback = cores;
        }
        int rc = s_set(self, &s_options[i], fallback, "default", &error);
        assert(rc == 0); //  the defaults are ours: a failure is a bug
        (void)rc;
    }
    return self;
}

void node_config_destroy(node_config_t **self_p) {
    node_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (s_options[i].kind != KIND_INT && s_options[i].kind != KIND_BOOL)
            free(*s_text_field(self, &s_options[i]));
    free(self);
    *self_p = NULL;
}

int node_config_set(node_config_t *self, const char *name, const char *value, char **error) {
    const option_t *option = s_find(name);
    if (!option) {
        *error = zsys_sprintf("unknown setting '%s'", name);
        return -1;
    }
    char *source = zsys_sprintf("--%s", name);
    for (char *c = source; *c; c++)
        if (*c == '_')
            *c = '-';
    int rc = s_set(self, option, value, source, error);
    zstr_free(&source);
    return rc;
}

//  Collects the paths of every leaf (a node with a value and no children).
static int s_check_unknown(zconfig_t *config, const char *prefix, const char *file, char **error) {
    for (zconfig_t *child = zconfig_child(config); child; child = zconfig_next(child)) {
        char *path = *prefix ? zsys_sprintf("%s/%s", prefix, zconfig_name(child))
                             : strdup(zconfig_name(child));
        int rc = 0;
        if (zconfig_child(child))
            rc = s_check_unknown(child, path, file, error);
        else {
            bool known = false;
            for (size_t i = 0; i < OPTION_COUNT && !known; i++)
                known = streq(s_options[i].zpl, path);
            if (!known) {
                *error = zsys_sprintf("%s: unknown setting '%s' (see cairnd --help)", file, path);
                rc = -1;
            }
        }
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}

int node_config_load_file(node_config_t *self, const char *path, char **error) {
    if (!zsys_file_exists(path)) {
        *error = zsys_sprintf("config file %s does not exist", path);
        return -1;
    }
    zconfig_t *config = zconfig_load(path);
    if (!config) {
        *error = zsys_sprintf("config file %s is not valid ZPL (czmq zconfig format)", path);
        return -1;
    }
    int rc = s_check_unknown(config, "", path, error);
    for (size_t i = 0; i < OPTION_COUNT && rc == 0; i++) {
        zconfig_t *item = zconfig_locate(config, s_options[i].zpl);
        if (item && zconfig_value(item)) {
            char *source = zsys_sprintf("%s: %s", path, s_options[i].zpl);
            rc = s_set(self, &s_options[i], zconfig_value(item), source, error);
            zstr_free(&source);
        }
    }
    zconfig_destroy(&config);
    return rc;
}

int node_config_load_env(node_config_t *self, char **error) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value = getenv(s_options[i].env);
        if (value && s_set(self, &s_options[i], value, s_options[i].env, error) != 0)
            return -1;
    }
    return 0;
}

//  The config file form: each section once, in the order the table first
//  names it, its settings indented under it; numbers and true/false bare,
//  text quoted (ZPL, as node_config_load_file reads it back).
void node_config_print(node_config_t *self, FILE *out) {
    for (size_t first = 0; first < OPTION_COUNT; first++) {
        const char *slash = strchr(s_options[first].zpl, '/');
        size_t section = (size_t)(slash - s_options[first].zpl);
        bool seen = false;
        for (size_t k = 0; k < first && !seen; k++)
            seen = strncmp(s_options[k].zpl, s_options[first].zpl, section + 1) == 0;
        if (seen)
            continue;
        fprintf(out, "%.*s\n", (int)section, s_options[first].zpl);
        for (size_t i = first; i < OPTION_COUNT; i++) {
            const option_t *option = &s_options[i];
            if (strncmp(option->zpl, s_options[first].zpl, section + 1) != 0)
                continue;
            const char *key = option->zpl + section + 1;
            if (option->kind == KIND_INT)
                fprintf(out, "    %s = %lld\n", key, (long long)*s_int_field(self, option));
            else if (option->kind == KIND_BOOL)
                fprintf(out, "    %s = %s\n", key, *s_int_field(self, option) ? "true" : "false");
            else
                fprintf(out, "    %s = \"%s\"\n", key, *s_text_field(self, option));
        }
    }
}

bool node_config_same(const node_config_t *a, const node_config_t *b, size_t index) {
    const option_t *option = &s_options[index];
    const char *left_base = (const char *)a + option->offset;
    const char *right_base = (const char *)b + option->offset;
    if (option->kind == KIND_INT || option->kind == KIND_BOOL)
        return *(const int64_t *)left_base == *(const int64_t *)right_base;
    const char *left = *(char *const *)left_base, *right = *(char *const *)right_base;
    return left == right || (left && right && streq(left, right));
}

void node_config_print_help(FILE *out) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_t *option = &s_options[i];
        fprintf(out, option->kind == KIND_BOOL ? "  --%s[=true|false]\n" : "  --%s=VALUE\n",
                node_config_flag(i));
        fprintf(out, "      %s\n", option->help);
        fprintf(out, "      default: %s   environment: %s   config file: %s\n", option->fallback,
                option->env, option->zpl);
        if (option->choices)
            fprintf(out, "      one of: %s\n", option->choices);
    }
}

size_t node_config_count(void) {
    return OPTION_COUNT;
}

const char *node_config_name(size_t index) {
    return index < OPTION_COUNT ? s_options[index].name : NULL;
}

const char *node_config_flag(size_t index) {
    return index < OPTION_COUNT ? s_options[index].flag : NULL;
}

bool node_config_env_known(const char *name, size_t length) {
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(s_options[i].env) == length && strncmp(s_options[i].env, name, length) == 0)
            return true;
    return false;
}

bool node_config_is_switch(size_t index) {
    return index < OPTION_COUNT && s_options[index].kind == KIND_BOOL;
}

//  ---- self-test -------------------------------------------------------------

#include "ca_testbed.h"

void node_config_test(bool verbose) {
    if (verbose)
        printf(" * node_config: ");
    //  Flags match names.
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char *expected = strdup(s_options[i].name);
        for (char *c = expected; *c; c++)
            if (*c == '_')
                *c = '-';
        assert(streq(expected, node_config_flag(i)));
        free(expected);
    }
    node_config_t *config = node_config_new();
    assert(streq(config->data_dir, CA_DEFAULT_DATA_DIR));
    assert(streq(config->client_endpoint, CA_DEFAULT_CLIENT_ENDPOINT));
    assert(config->max_frame_bytes == CA_DEFAULT_MAX_FRAME_BYTES);
    assert(config->queue_bytes == CA_DEFAULT_QUEUE_BYTES);
    //  One worker per online core by default.
    assert(config->workers == (int64_t)ca_default_workers());
    assert(config->workers >= 1 && config->workers <= CA_MAX_WORKERS &&
           config->workers == (sysconf(_SC_NPROCESSORS_ONLN) > CA_MAX_WORKERS
                                   ? CA_MAX_WORKERS
                                   : sysconf(_SC_NPROCESSORS_ONLN)));
    assert(config->max_clients == 0); //  0: derived from the descriptor limit
    assert(ca_log_level_parse(config->log_level) == CA_LOG_INFO);

    //  A file overrides defaults; a printed config reads back the same.
    char *dir = ca_test_tempdir("cairn-config");
    char *path = zsys_sprintf("%s/cairn.cfg", dir);
    FILE *file = fopen(path, "w");
    fprintf(file, "# test\nnode\n    data_dir = \"/tmp/x y\"\nwriter\n    batch_max = 7\n");
    fclose(file);
    char *error = NULL;
    assert(node_config_load_file(config, path, &error) == 0);
    assert(streq(config->data_dir, "/tmp/x y") && config->writer_batch == 7);

    //  Environment beats the file; flags beat the environment.
    setenv("CAIRN_WRITER_BATCH", "9", 1);
    assert(node_config_load_env(config, &error) == 0);
    assert(config->writer_batch == 9);
    unsetenv("CAIRN_WRITER_BATCH");
    assert(node_config_set(config, "writer_batch", "11", &error) == 0);
    assert(config->writer_batch == 11);

    file = fopen(path, "w");
    node_config_print(config, file);
    fclose(file);
    node_config_t *again = node_config_new();
    assert(node_config_load_file(again, path, &error) == 0);
    assert(again->writer_batch == 11 && streq(again->data_dir, "/tmp/x y"));
    assert(!again->insecure_no_auth);
    node_config_destroy(&again);

    //  Bad values and unknown keys are refused with a message.
    assert(node_config_set(config, "workers", "0", &error) == -1 && strstr(error, "workers"));
    zstr_free(&error);
    assert(node_config_set(config, "workers", "2x", &error) == -1);
    zstr_free(&error);
    assert(node_config_set(config, "max_clients", "-1", &error) == -1 &&
           strstr(error, "max_clients"));
    zstr_free(&error);
    assert(node_config_set(config, "max_clients", "20", &error) == 0 && config->max_clients == 20);
    assert(node_config_set(config, "synchronous", "sometimes", &error) == -1 &&
           strstr(error, "normal|full"));
    zstr_free(&error);
    assert(node_config_set(config, "no_such", "1", &error) == -1);
    zstr_free(&error);
    assert(node_config_set(config, "data_dir", "", &error) == -1);
    zstr_free(&error);
    //  Switches: true/false words only; a printed config reads back.
    assert(!config->insecure_no_auth && streq(config->client_auth, "auto"));
    assert(node_config_set(config, "insecure_no_auth", "maybe", &error) == -1 &&
           strstr(error, "true or false"));
    zstr_free(&error);
    assert(node_config_set(config, "insecure_no_auth", "yes", &error) == 0);
    assert(config->insecure_no_auth);
    assert(node_config_set(config, "client_auth", "open", &error) == -1 &&
           strstr(error, "auto|curve|none"));
    zstr_free(&error);
    setenv("CAIRN_LOG_LEVEL", "loud", 1);
    assert(node_config_load_env(config, &error) == -1 && strstr(error, "CAIRN_LOG_LEVEL"));
    zstr_free(&error);
    unsetenv("CAIRN_LOG_LEVEL");
    file = fopen(path, "w");
    fprintf(file, "node\n    data_dri = typo\n");
    fclose(file);
    assert(node_config_load_file(config, path, &error) == -1 && strstr(error, "data_dri"));
    zstr_free(&error);
    assert(node_config_load_file(config, "/nonexistent/cairn.cfg", &error) == -1);
    zstr_free(&error);

    ca_test_rmtree(dir);
    zstr_free(&path);
    zstr_free(&dir);
    node_config_destroy(&config);
    node_config_destroy(&config);
    if (verbose)
        printf("OK\n");
}

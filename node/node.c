/*  =========================================================================
    node - one cairn node: data dir, writer, store pools, gateway

    The list of stores below is the only place that knows every store: a new
    store adds its definition to s_stores, and the writer (schemas), the
    workers and the gateway (routing) all follow from it.

    Data dir layout:
        cairn.db, cairn.db-wal, cairn.db-shm   SQLite (WAL mode)
        cairnd.lock                             flock held while running; PID inside
        curve/server.key, curve/clients         client authentication (ca_curve.h)

    Client authentication (s_client_auth), by client_auth and where the
    client endpoint listens:

        client_auth  endpoint      allow-list   result
        auto         loopback      absent       no authentication
        auto         any           present      CURVE
        auto         not loopback  absent       refused, unless insecure_no_auth:
                                                then no authentication, warned
        curve        any           any          CURVE (absent list: nobody gets in)
        none         loopback      -            no authentication
        none         not loopback  -            refused, unless insecure_no_auth
    ========================================================================= */

#include "node.h"
#include "node_check.h"
#include "node_probe.h"
#include "ca_curve.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_store.h"
#include "backup.h"
#include "batch.h"
#include "channel_auth.h"
#include "channels.h"
#include "config_store.h"
#include "cache.h"
#include "content.h"
#include "gateway.h"
#include "subscriptions.h"
#include "gossip.h"
#include "ledger.h"
#include "logbook.h"
#include "documents.h"
#include "kv.h"
#include "sync.h"
#include "manifests.h"
#include "messages.h"
#include "peer.h"
#include "peer_admission.h"
#include "peers.h"
#include "provenance.h"
#include "oplog.h"
#include "sessions.h"
#include "settlement.h"
#include "writer.h"

#include <sys/stat.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

static const ca_store_def_t *const s_stores[] = {
    &config_store_def,     &channels_store_def,  &channel_auth_store_def, &messages_store_def,
    &peers_store_def,      &gossip_store_def,    &content_store_def,      &cache_store_def,
    &provenance_store_def, &manifests_store_def, &settlement_store_def,   &ledger_store_def,
    &oplog_store_def,      &logbook_store_def,   &batch_store_def,        &sessions_store_def,
    &sync_store_def,       &kv_store_def,        &documents_store_def,    &backup_store_def,
};
#define STORE_COUNT (sizeof s_stores / sizeof s_stores[0])

const ca_store_def_t *const *node_store_defs(size_t *count) {
    *count = STORE_COUNT;
    return s_stores;
}

struct _node_t {
    const node_config_t *config;
    char *db_path;
    int lock_fd;
    zactor_t *writer;
    zactor_t **workers; //  every worker of every store pool
    size_t worker_count;
    zactor_t *gateway;
    zactor_t *subscriptions; //  before the gateway, stopped after it
    bool running;
    char *peer_id;            //  NULL: the node has no identity
    bool has_curve_key;       //  given by node_set_curve_key (from the identity) ...
    ca_curve_key_t curve_key; //  ... else read from curve/server.key when needed
    zactor_t *zap;            //  the ZAP handler: client endpoint CURVE, or a peer endpoint
    bool client_curve;
    zactor_t *peer;                   //  the peer actor (peer_endpoint set)
    uint64_t reloads;                 //  SIGHUPs applied (node_reload's generation)
    peer_admission_t *peer_admission; //  the ZAP handler's while it runs
};

node_t *node_new(const node_config_t *config) {
    node_t *self = (node_t *)zmalloc(sizeof(node_t));
    self->config = config;
    self->db_path = zsys_sprintf("%s/%s", config->data_dir, CA_DB_FILE);
    self->lock_fd = -1;
    return self;
}

void node_set_peer_id(node_t *self, const char *peer_id) {
    assert(!self->running);
    zstr_free(&self->peer_id);
    self->peer_id = peer_id ? strdup(peer_id) : NULL;
}

void node_set_curve_key(node_t *self, const ca_curve_key_t *key) {
    assert(!self->running);
    self->curve_key = *key;
    self->has_curve_key = true;
}

//  Decides whether the client endpoint is a CURVE server (see the table
//  at the top), and when it is, loads its key and starts the ZAP handler.
static char *s_client_auth(node_t *self) {
    const node_config_t *config = self->config;
    const char *endpoint = config->client_endpoint;
    bool local = ca_curve_endpoint_is_local(endpoint);
    char *list = ca_curve_path(config->data_dir, CA_CURVE_CLIENTS);
    bool listed = zsys_file_exists(list);
    bool from_identity = self->has_curve_key;
    bool curve = streq(config->client_auth, "curve") ||
                 (streq(config->client_auth, "auto") && (listed || !local));
    char *error = NULL;
    if (curve && !listed && !local && !config->insecure_no_auth &&
        streq(config->client_auth, "auto"))
        error = zsys_sprintf(
            "the client endpoint %s is not loopback and %s does not exist, so anyone who "
            "reaches it could use this node. To allow clients: create a key with `cairn keygen "
            "FILE`, put the public key it prints into %s (one a line), and give the clients "
            "the node's key from `cairnd server-key`. Or bind loopback (--client-endpoint="
            "tcp://127.0.0.1:7401), or pass --insecure-no-auth to run without authentication",
            endpoint, list, list);
    else if (curve && !listed && !local && config->insecure_no_auth &&
             streq(config->client_auth, "auto"))
        curve = false; //  the operator said so; warned below
    if (!error && !curve && !local) {
        if (!config->insecure_no_auth)
            error = zsys_sprintf("client_auth is none but the client endpoint %s is not "
                                 "loopback; pass --insecure-no-auth to accept that anyone who "
                                 "reaches it can use this node, or use client_auth auto/curve",
                                 endpoint);
        else
            ca_log_warning("cairnd: INSECURE: the client endpoint %s is not loopback and has "
                           "no authentication (--insecure-no-auth): anyone who reaches it can "
                           "read, change and delete everything on this node",
                           endpoint);
    }
    if (!error && !curve && local)
        ca_log_info("cairnd: client endpoint %s: no authentication (loopback, no %s)", endpoint,
                    list);
    if (!error && curve && ca_curve_dir_create(config->data_dir, &error) == 0) {
        bool created = false;
        if (!self->has_curve_key &&
            ca_curve_server_key(config->data_dir, &self->curve_key, &created, &error) == 0)
            self->has_curve_key = true;
        if (created)
            ca_log_notice("cairnd: created the CURVE server key %s/%s/%s", config->data_dir,
                          CA_CURVE_DIR, CA_CURVE_SERVER_KEY);
    }
    bool peers = !streq(config->peer_endpoint, "off");
    if (!error && peers && !self->peer_id)
        error = zsys_sprintf(
            "peer_endpoint is %s but this node has no identity, and a node's peer id and CURVE "
            "key are its identity's key: create one with `cairnd identity init --data-dir %s` "
            "(then start with its password), or set peer_endpoint off",
            config->peer_endpoint, config->data_dir);
    if (!error && (curve || peers)) {
        //  One ZAP handler per process: the client domain (allow-list file)
        //  and the peer domain (the peers table) share it.
        self->peer_admission =
            peer_admission_new(self->db_path, streq(config->peer_admission, "allow-list"));
        ca_curve_domain_t domains[2] = {{0}};
        size_t count = 0;
        if (curve)
            domains[count++] = (ca_curve_domain_t){CA_CURVE_CLIENT_DOMAIN, list, NULL, NULL};
        if (peers)
            domains[count++] = (ca_curve_domain_t){CA_CURVE_PEER_DOMAIN, NULL, peer_admission_admit,
                                                   self->peer_admission};
        ca_curve_zap_config_t zap_config = {domains, count};
        self->zap = zactor_new(ca_curve_zap_actor, &zap_config);
        ca_actor_start(self->zap, &error);
    }
    if (!error && curve) {
        char z85[CA_CURVE_Z85_SIZE];
        ca_curve_z85(self->curve_key.public_key, z85);
        ca_log_info("cairnd: client endpoint %s: CURVE, server public key %s (%s), allow-list %s",
                    endpoint, z85, from_identity ? "from the identity" : "curve/server.key", list);
        if (!listed)
            ca_log_warning("cairnd: %s does not exist: no client can connect until their "
                           "public keys are in it",
                           list);
        self->client_curve = true;
    }
    zstr_free(&list);
    return error;
}

//  The group and other bits of `mode` as text: "group r-x, other r-x".
static void s_mode_bits(mode_t mode, char text[32]) {
    snprintf(text, 32, "group %c%c%c, other %c%c%c", mode & 040 ? 'r' : '-', mode & 020 ? 'w' : '-',
             mode & 010 ? 'x' : '-', mode & 04 ? 'r' : '-', mode & 02 ? 'w' : '-',
             mode & 01 ? 'x' : '-');
}

//  Holds an exclusive flock on the data dir for the life of the process, so
//  two nodes never share a database.
static char *s_lock_data_dir(node_t *self) {
    const char *dir = self->config->data_dir;
    struct stat info;
    if (stat(dir, &info) != 0) {
        //  A new data dir is the node's alone (0700); its parents are made
        //  as the umask says (cairnd sets 077).
        if (zsys_dir_create("%s", dir) != 0 || chmod(dir, 0700) != 0)
            return zsys_sprintf("cannot create data dir %s: %s", dir, strerror(errno));
    } else if (info.st_mode & 077) {
        char bits[32];
        s_mode_bits(info.st_mode, bits);
        ca_log_warning("data dir %s has mode %04o (%s): other users may reach the "
                       "messages, channel password hashes and ledger it holds; run chmod 700 %s",
                       dir, (unsigned)(info.st_mode & 07777), bits, dir);
    }
    char *error = NULL;
    self->lock_fd = node_lock_data_dir(dir, &error);
    return error;
}

int node_lock_data_dir(const char *dir, char **error) {
    char *path = zsys_sprintf("%s/%s", dir, CA_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    zstr_free(&path);
    if (fd < 0) {
        *error = zsys_sprintf("cannot open the lock file in %s: %s", dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t size = pread(fd, pid, sizeof pid - 1, 0);
        pid[size > 0 ? size : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        *error = zsys_sprintf("data dir %s is in use by another cairnd (pid %s); stop it or "
                              "choose another --data-dir",
                              dir, *pid ? pid : "unknown");
        return -1;
    }
    char pid[32];
    int length = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)length, 0) < 0)
        ca_log_warning("cannot write the pid into %s/%s", dir, CA_LOCK_FILE);
    return fd;
}

//  A data dir that has served before but whose cairn.db is missing or
//  empty (0 bytes: truncated, or a failed copy) must not become a new node:
//  the blobs in content/ and cache/ would lose their index for good. Every
//  first start makes content/ and cache/ after the database, so either of
//  them (or a WAL left beside the missing file) means "this dir had a
//  database". An identity, curve/ and cairnd.lock alone do not: `cairnd
//  identity init`, an allow-list made before the first start, and a first
//  start refused before the writer opened (e.g. no client auth) all leave
//  them without a database.
static char *s_refuse_lost_database(node_t *self) {
    struct stat info;
    bool missing = stat(self->db_path, &info) != 0;
    if (!missing && info.st_size > 0)
        return NULL;
    const char *dir = self->config->data_dir;
    const char *signs[] = {CA_CONTENT_DIR, CA_CACHE_DIR, CA_DB_FILE "-wal"};
    for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++) {
        char *path = zsys_sprintf("%s/%s", dir, signs[i]);
        bool found = stat(path, &info) == 0 && (S_ISDIR(info.st_mode) || info.st_size > 0);
        zstr_free(&path);
        if (found)
            return zsys_sprintf(
                "%s is %s but the data dir %s has served before (it holds %s): starting would "
                "make a new, empty node and orphan every blob stored there. Restore cairn.db "
                "(with its cairn.db-wal, if any) from a backup; or, to start a new node, use a "
                "fresh --data-dir (or move %s/%s and %s/%s aside first)",
                self->db_path, missing ? "missing" : "empty (0 bytes)", dir, signs[i], dir,
                CA_CONTENT_DIR, dir, CA_CACHE_DIR);
    }
    return NULL;
}

//  A WAL that SQLite will silently cut short (node_check_wal) is logged
//  before the writer opens the database; the node starts anyway: what is
//  left is consistent, and only the operator can tell a crash mid-commit
//  (nothing acknowledged lost) from a truncated file.
static void s_warn_torn_wal(node_t *self) {
    char *problem = node_check_wal(self->db_path);
    if (problem)
        ca_log_warning("cairnd: %s", problem);
    zstr_free(&problem);
}

static char *s_start_writer(node_t *self) {
    //  Several pools may share one schema (the message-store family): each
    //  schema is migrated once, in the order of its first pool.
    const ca_schema_t *schemas[STORE_COUNT];
    size_t schema_count = 0;
    for (size_t i = 0; i < STORE_COUNT; i++) {
        bool seen = s_stores[i]->schema == NULL;
        for (size_t k = 0; k < schema_count && !seen; k++)
            seen = schemas[k] == s_stores[i]->schema;
        if (!seen)
            schemas[schema_count++] = s_stores[i]->schema;
    }
    writer_config_t config = {
        .db_path = self->db_path,
        .answers_endpoint = CA_GATEWAY_ANSWERS_ENDPOINT, //  the gateway binds it
        .synchronous_full = streq(self->config->synchronous, "full"),
        .batch_max = (size_t)self->config->writer_batch,
        .max_db_bytes = self->config->max_db_bytes,
        .start_check = streq(self->config->start_check, "quick"),
        .min_free_bytes = self->config->min_free_bytes,
        .schemas = schemas,
        .schema_count = schema_count,
    };
    self->writer = zactor_new(writer_actor, &config);
    char *error = NULL;
    ca_actor_start(self->writer, &error);
    return error;
}

static char *s_start_workers(node_t *self) {
    const node_config_t *config = self->config;
    size_t total = 0;
    for (size_t s = 0; s < STORE_COUNT; s++)
        total += ca_store_workers(s_stores[s], (unsigned)config->workers);
    self->workers = (zactor_t **)zmalloc(total * sizeof(zactor_t *));
    ca_store_settings_t settings = {.max_content_bytes = config->max_content_bytes,
                                    .gossip_max_age_s = config->gossip_max_age_s,
                                    .oplog_hold_max_s = config->oplog_hold_max_s,
                                    .maintenance_ms = config->maintenance_ms,
                                    .cache_max_bytes = config->cache_max_bytes,
                                    .stream_timeout_ms = config->stream_timeout_ms,
                                    .max_blob_bytes = config->max_blob_bytes,
                                    .min_free_bytes = config->min_free_bytes,
                                    .content_quota_bytes = config->content_quota_bytes,
                                    .doc_max_bytes = config->doc_max_bytes,
                                    .backup_root = config->backup_root,
                                    .kv_max_value_bytes = config->kv_max_value_bytes,
                                    .peer_actor = !streq(config->peer_endpoint, "off")};
    if (self->peer_id)
        snprintf(settings.node_peer_id, sizeof settings.node_peer_id, "%s", self->peer_id);
    for (size_t s = 0; s < STORE_COUNT; s++) {
        unsigned workers = ca_store_workers(s_stores[s], (unsigned)config->workers);
        char *problem = s_stores[s]->prepare ? s_stores[s]->prepare(config->data_dir) : NULL;
        if (problem)
            return problem;
        for (unsigned w = 0; w < workers; w++) {
            ca_store_args_t args = {.def = s_stores[s],
                                    .index = w,
                                    .workers = workers,
                                    .data_dir = config->data_dir,
                                    .db_path = self->db_path,
                                    .queue_max =
                                        ca_store_queue_max(s_stores[s], (size_t)config->queue_max),
                                    .settings = settings,
                                    .stores = s_stores,
                                    .store_count = STORE_COUNT};
            zactor_t *worker = zactor_new(ca_store_actor, &args);
            self->workers[self->worker_count++] = worker;
            char *error = NULL;
            if (ca_actor_start(worker, &error) != 0)
                return error;
        }
    }
    return NULL;
}

long node_open_descriptors(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid ? (int)pid : (int)getpid());
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    long count = pid ? 0 : -1; //  our own: less the directory's descriptor
    struct dirent *entry;
    while ((entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            count++;
    closedir(dir);
    return count;
}

//  The cap on client connections. max_clients when set; else (0) what the
//  descriptors allow: the soft RLIMIT_NOFILE (cairnd raised it to the hard
//  limit) less the descriptors open now (the writer, every worker, their
//  sockets and databases) less a reserve for what the node opens later
//  (blob and temp files, SQLite journals, the gateway's own sockets):
//  CA_FD_RESERVE, or half of what is free when that is less; then kept
//  within CA_CLIENTS_AUTO_MIN..CA_CLIENTS_AUTO_MAX. Called just before the
//  gateway starts.
static size_t s_max_clients(const node_config_t *config) {
    struct rlimit limit;
    long in_use = node_open_descriptors(0);
    bool known = getrlimit(RLIMIT_NOFILE, &limit) == 0 && in_use >= 0;
    long left = CA_CLIENTS_AUTO_MAX; //  when the limit or the use is unknown
    if (known && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t)CA_MAX_CLIENTS) {
        long free_now = (long)limit.rlim_cur - in_use;
        long reserve = free_now / 2 < CA_FD_RESERVE ? free_now / 2 : CA_FD_RESERVE;
        left = free_now - reserve;
    }
    if (config->max_clients) {
        if (known && config->max_clients > left)
            ca_log_warning("cairnd: max_clients %lld is more than the descriptors left for "
                           "clients (%ld); the node may run out of descriptors: raise the hard "
                           "limit (ulimit -Hn, systemd LimitNOFILE=) or lower max_clients",
                           (long long)config->max_clients, left);
        return (size_t)config->max_clients;
    }
    long cap = left > CA_CLIENTS_AUTO_MAX ? CA_CLIENTS_AUTO_MAX : left;
    if (cap < CA_CLIENTS_AUTO_MIN) {
        ca_log_warning("cairnd: only %ld descriptors left for clients, max_clients is %d: raise "
                       "the hard limit (ulimit -Hn, systemd LimitNOFILE=)",
                       left, CA_CLIENTS_AUTO_MIN);
        cap = CA_CLIENTS_AUTO_MIN;
    }
    ca_log_info("cairnd: max_clients %ld (%ld descriptors in use at start)", cap, in_use);
    return (size_t)cap;
}

static char *s_start_gateway(node_t *self) {
    gateway_config_t config = {
        .endpoint = self->config->client_endpoint,
        .max_frame_bytes = self->config->max_frame_bytes,
        .max_clients = s_max_clients(self->config),
        .stores = s_stores,
        .store_count = STORE_COUNT,
        .workers = (unsigned)self->config->workers,
        .queue_max = (size_t)self->config->queue_max,
        .queue_bytes = self->config->queue_bytes,
        .client_in_flight_max = (size_t)self->config->client_in_flight_max,
        .client_answer_bytes_max = self->config->client_answer_bytes_max,
        .answer_bytes_max = self->config->answer_bytes_max,
        .drain_ms = (int)self->config->drain_ms,
        .data_dir = self->config->data_dir,
        .db_path = self->db_path,
        .peer_id = self->peer_id,
        .metrics_endpoint =
            streq(self->config->metrics_endpoint, "off") ? NULL : self->config->metrics_endpoint,
        .curve = self->client_curve,
        .curve_key = self->curve_key,
        .subscriptions_endpoint = CA_SUBSCRIPTIONS_ENDPOINT,
    };
    subscriptions_config_t subscriptions = {.db_path = self->db_path};
    self->subscriptions = zactor_new(subscriptions_actor, &subscriptions);
    char *failed = NULL;
    if (ca_actor_start(self->subscriptions, &failed) != 0) {
        ca_curve_key_wipe(&config.curve_key);
        return failed;
    }
    self->gateway = zactor_new(gateway_actor, &config);
    ca_curve_key_wipe(&config.curve_key);
    char *error = NULL;
    ca_actor_start(self->gateway, &error);
    return error;
}

//  The peer actor, after the store workers (it writes through the peers
//  pool) and before the gateway (the sessions pool asks it).
static char *s_start_peer(node_t *self) {
    const node_config_t *config = self->config;
    if (streq(config->peer_endpoint, "off"))
        return NULL;
    char host[PEER_NODE_NAME_MAX + 1] = "";
    gethostname(host, sizeof host - 1);
    char *peers_endpoint = ca_store_endpoint(peers_store_def.name, 0);
    char *cache_endpoint = ca_store_endpoint(cache_store_def.name, 0);
    peer_config_t peer = {.endpoint = config->peer_endpoint,
                          .allow_list = streq(config->peer_admission, "allow-list"),
                          .bootstrap = config->bootstrap_peers,
                          .peer_max = (size_t)config->peer_max,
                          .heartbeat_ms = config->peer_heartbeat_ms,
                          .in_flight_bytes = config->peer_in_flight_bytes,
                          .gossip_ttl = config->gossip_ttl,
                          .reconcile_ms = config->reconcile_ms,
                          .db_path = self->db_path,
                          .peers_endpoint = peers_endpoint,
                          .peer_id = self->peer_id,
                          .node_name = host,
                          .curve_key = self->curve_key,
                          .data_dir = config->data_dir,
                          .cache_endpoint = cache_endpoint,
                          .fetch_max_bytes =
                              (uint64_t)(config->max_blob_bytes < config->max_frame_bytes
                                             ? config->max_blob_bytes
                                             : config->max_frame_bytes)};
    peer.oplog_sync_ms = config->oplog_sync_ms;
    peer.oplog_workers = ca_store_workers(&oplog_store_def, (unsigned)config->workers);
    self->peer = zactor_new(peer_actor, &peer);
    ca_curve_key_wipe(&peer.curve_key);
    zstr_free(&peers_endpoint);
    zstr_free(&cache_endpoint);
    char *error = NULL;
    ca_actor_start(self->peer, &error);
    return error;
}

static void s_stop_actors(node_t *self) {
    zactor_destroy(&self->gateway);
    zactor_destroy(&self->subscriptions);
    zactor_destroy(&self->peer);
    while (self->worker_count > 0)
        zactor_destroy(&self->workers[--self->worker_count]);
    free(self->workers);
    self->workers = NULL;
    zactor_destroy(&self->writer); //  last: commits whatever is still queued
    zactor_destroy(&self->zap);
    peer_admission_destroy(&self->peer_admission); //  after the handler that used it
}

//  Endpoints taken are found before the data dir is made or opened.
static char *s_probe_endpoints(const node_config_t *config) {
    char *error =
        node_probe_endpoint("client_endpoint", "--client-endpoint", config->client_endpoint);
    if (!error && !streq(config->peer_endpoint, "off"))
        error = node_probe_endpoint("peer_endpoint", "--peer-endpoint", config->peer_endpoint);
    if (!error && !streq(config->metrics_endpoint, "off"))
        error =
            node_probe_endpoint("metrics_endpoint", "--metrics-endpoint", config->metrics_endpoint);
    return error;
}

int node_start(node_t *self, char **error) {
    assert(!self->running);
    //  A data dir that exists: its lock first, so that a second cairnd on
    //  it hears that, not that its port is taken (by the first). A new
    //  one: the endpoints first, so that nothing is made when they fail.
    struct stat info;
    bool existed = stat(self->config->data_dir, &info) == 0;
    *error = existed ? s_lock_data_dir(self) : s_probe_endpoints(self->config);
    if (!*error)
        *error = existed ? s_probe_endpoints(self->config) : s_lock_data_dir(self);
    if (!*error)
        *error = s_refuse_lost_database(self);
    if (!*error)
        *error = s_client_auth(self);
    if (!*error)
        s_warn_torn_wal(self);
    if (!*error)
        *error = s_start_writer(self);
    if (!*error)
        *error = s_start_workers(self);
    if (!*error)
        *error = s_start_peer(self);
    if (!*error)
        *error = s_start_gateway(self);
    if (*error) {
        s_stop_actors(self);
        return -1;
    }
    self->running = true;
    char *endpoint = node_endpoint(self);
    ca_log_info("cairnd %s serving %s, data dir %s, %zu store(s) x %lld worker(s)", CAIRN_VERSION,
                endpoint, self->config->data_dir, STORE_COUNT, (long long)self->config->workers);
    zstr_free(&endpoint);
    return 0;
}

//  ---- SIGHUP ---------------------------------------------------------------------

//  One list: node_reload hands each of these to its actor.
static const char *const s_reloadable[] = {"client_in_flight_max",
                                           "client_answer_bytes_max",
                                           "answer_bytes_max",
                                           "max_clients",
                                           "max_db_bytes",
                                           "min_free_bytes",
                                           "bootstrap_peers",
                                           "peer_admission",
                                           "max_content_bytes",
                                           "cache_max_bytes",
                                           "content_quota_bytes",
                                           "doc_max_bytes",
                                           "kv_max_value_bytes",
                                           "stream_timeout_ms",
                                           NULL};

bool node_reloadable(const char *name) {
    for (size_t i = 0; s_reloadable[i]; i++)
        if (streq(s_reloadable[i], name))
            return true;
    return false;
}

//  Collects the answers of the actors asked in one reload (generation
//  `generation`) until all came or NODE_RELOAD_WAIT_MS passed. An actor in
//  a long request (a backup, a ContentCheck with verify) answers later and
//  applies the settings then; main must not wait for it, or a SIGTERM
//  meanwhile would go unread. Stale answers of an earlier reload that came
//  late are read and dropped. *bootstrap_error: the peer actor's refusal.
static size_t s_reload_collect(node_t *self, zactor_t **asked, size_t count, uint64_t generation,
                               char **bootstrap_error) {
    zpoller_t *poller = zpoller_new(NULL);
    bool *done = (bool *)zmalloc((count ? count : 1) * sizeof(bool));
    for (size_t i = 0; i < count; i++)
        zpoller_add(poller, asked[i]);
    size_t left = count;
    int64_t deadline = zclock_mono() + NODE_RELOAD_WAIT_MS;
    for (int turns = 0; left && turns < 100000 && zclock_mono() < deadline; turns++) {
        void *ready = zpoller_wait(poller, (int)(deadline - zclock_mono()) + 1);
        size_t at = 0;
        while (ready && at < count && (void *)asked[at] != ready)
            at++;
        if (!ready || at == count)
            continue;
        char *word = NULL, *problem = NULL;
        uint64_t answered = 0;
        int status = 0;
        int rc = asked[at] == self->peer
                     ? zsock_recv(asked[at], "s8is", &word, &answered, &status, &problem)
                     : zsock_recv(asked[at], "s8", &word, &answered);
        if (rc == 0 && answered == generation && !done[at]) {
            done[at] = true;
            left--;
            if (asked[at] == self->peer && status != 0 && !*bootstrap_error)
                *bootstrap_error = zsys_sprintf("%s", problem ? problem : "not applied");
        }
        zstr_free(&word);
        zstr_free(&problem);
    }
    free(done);
    zpoller_destroy(&poller);
    return left;
}

int node_reload(node_t *self, const node_config_t *fresh, char **error, const char **failed) {
    *error = NULL;
    *failed = NULL;
    if (!self->running)
        return 0;
    if (fresh->max_clients > 0)
        s_max_clients(fresh); //  warns when the descriptors cannot hold that many
    //  Pipe commands (gateway.c, writer.c, ca_store.c, peer.c), each with
    //  this reload's generation, which its answer carries back.
    uint64_t generation = ++self->reloads;
    zactor_t **asked = (zactor_t **)zmalloc((self->worker_count + 3) * sizeof(zactor_t *));
    size_t count = 0;
    zsock_send(self->gateway, "s88888", "LIMITS", generation, fresh->client_in_flight_max,
               fresh->client_answer_bytes_max, fresh->answer_bytes_max, fresh->max_clients);
    asked[count++] = self->gateway;
    zsock_send(self->writer, "s888", "LIMITS", generation, fresh->max_db_bytes,
               fresh->min_free_bytes);
    asked[count++] = self->writer;
    for (size_t i = 0; i < self->worker_count; i++) {
        zsock_send(self->workers[i], "s88888888", "LIMITS", generation, fresh->max_content_bytes,
                   fresh->cache_max_bytes, fresh->content_quota_bytes, fresh->doc_max_bytes,
                   fresh->kv_max_value_bytes, fresh->min_free_bytes, fresh->stream_timeout_ms);
        asked[count++] = self->workers[i];
    }
    if (self->peer_admission)
        peer_admission_set_allow_list(self->peer_admission,
                                      streq(fresh->peer_admission, "allow-list"));
    if (self->peer) {
        zsock_send(self->peer, "s8s", "BOOTSTRAP", generation, fresh->bootstrap_peers);
        asked[count++] = self->peer;
    }
    char *bootstrap_error = NULL;
    size_t late = s_reload_collect(self, asked, count, generation, &bootstrap_error);
    free(asked);
    if (bootstrap_error) {
        *failed = "bootstrap_peers";
        *error = zsys_sprintf("bootstrap_peers not applied: %s", bootstrap_error);
        zstr_free(&bootstrap_error);
    } else if (late)
        ca_log_warning("cairnd: SIGHUP: %zu actor(s) busy with a long request have not taken "
                       "the new settings yet; each takes them when its request ends",
                       late);
    return *error ? -1 : 0;
}

char *node_endpoint(node_t *self) {
    return self->gateway ? gateway_endpoint(self->gateway) : NULL;
}

void node_stop(node_t *self) {
    if (!self->running)
        return;
    ca_log_info("cairnd stopping: draining accepted requests");
    zstr_send(self->gateway, "DRAIN");
    int status;
    char *outcome = NULL;
    zsock_recv(self->gateway, "is", &status, &outcome);
    ca_log_info("cairnd: %s; stopping actors", outcome ? outcome : "drain ended");
    zstr_free(&outcome);
    s_stop_actors(self);
    self->running = false;
    ca_log_info("cairnd stopped cleanly");
}

void node_destroy(node_t **self_p) {
    node_t *self = *self_p;
    if (!self)
        return;
    node_stop(self);
    if (self->lock_fd >= 0)
        close(self->lock_fd); //  releases the flock
    zstr_free(&self->db_path);
    zstr_free(&self->peer_id);
    ca_curve_key_wipe(&self->curve_key);
    free(self);
    *self_p = NULL;
}

//  ---- self-test ------------------------------------------------------------------

//  How many handler rows of the node's stores serve request kind `body`;
//  *owner_p names the last store found.
static size_t s_rows_serving(uint32_t body, const char **owner_p) {
    size_t rows = 0;
    for (size_t i = 0; i < STORE_COUNT; i++)
        for (size_t h = 0; h < s_stores[i]->handler_count; h++)
            if ((uint32_t)s_stores[i]->handlers[h].body == body) {
                rows++;
                *owner_p = s_stores[i]->name;
            }
    return rows;
}

void node_test(bool verbose) {
    printf(" * node: every request kind has one server: ");
    const ProtobufCMessageDescriptor *wire = &cairn__request__descriptor;
    size_t problems = 0, kinds = 0;
    for (unsigned f = 0; f < wire->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &wire->fields[f];
        if (!(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        kinds++;
        const char *owner = NULL;
        size_t rows = s_rows_serving(field->id, &owner);
        bool builtin = gateway_answers_itself(field->id) || subscriptions_serves(field->id);
        if (field->id > CA_MAX_BODY_FIELD) {
            fprintf(stderr,
                    "\nRequest.%s = %u is above CA_MAX_BODY_FIELD (%d): the gateway "
                    "cannot route it",
                    field->name, field->id, CA_MAX_BODY_FIELD);
            problems++;
        }
        if (rows + (builtin ? 1 : 0) != 1) {
            fprintf(stderr,
                    "\nRequest.%s = %u has %zu handler rows%s; it needs exactly one "
                    "server (a row in its store's table)",
                    field->name, field->id, rows, builtin ? " and the gateway answers it" : "");
            problems++;
        }
        if (verbose && owner)
            printf("\n   %s -> %s", field->name, owner);
    }
    //  The other way round: a row for a kind the wire does not have.
    for (size_t i = 0; i < STORE_COUNT; i++)
        for (size_t h = 0; h < s_stores[i]->handler_count; h++) {
            uint32_t body = (uint32_t)s_stores[i]->handlers[h].body;
            if (!protobuf_c_message_descriptor_get_field(wire, body)) {
                fprintf(stderr, "\nstore %s serves body %u, which Request does not have",
                        s_stores[i]->name, body);
                problems++;
            }
        }
    //  A batchable row runs in the batch worker, which has none of its
    //  store's state and no write_failed or wipe_request hook (ca_store.h).
    size_t batchable = 0;
    for (size_t i = 0; i < STORE_COUNT; i++)
        for (size_t h = 0; h < s_stores[i]->handler_count; h++) {
            const ca_store_def_t *def = s_stores[i];
            if (!batch_kind_allowed((unsigned)def->handlers[h].body))
                continue;
            batchable++;
            if (def->state_new || def->write_failed || def->wipe_request) {
                fprintf(stderr,
                        "\nrow %s of store %s is listed in actors/batch.c as batchable but its "
                        "store has state, a "
                        "write_failed or wipe_request hook",
                        def->handlers[h].name, def->name);
                problems++;
            }
        }
    assert(kinds > 0 && batchable > 0);
    if (problems)
        fprintf(stderr, "\n");
    assert(problems == 0);
    printf("OK (%zu kinds, %zu batchable)\n", kinds, batchable);
}

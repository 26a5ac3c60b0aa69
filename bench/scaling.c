/*  =========================================================================
    scaling - cairn-bench's cases of many clients, durable commits and
    store workers: how the node behaves when clients wait for each answer,
    what a durable write costs against the floors under it, and whether a
    second worker helps reads

        raw.fdatasync.4k       one thread: write 4 KiB into a file (of
                               4 MiB, written first) and fdatasync it,
                               once per op, in a directory beside the full
                               node's data dir (the floor of one durable
                               commit); p50/p99
        redis.set_always.cN    (N = 1, 50) redis-server with appendonly yes
                               and appendfsync always on a free loopback
                               port, measured by redis-benchmark -t set
                               -c N -P 1 --csv (its ops/s, p50 and p99);
                               skipped with a note when redis-server or
                               redis-benchmark is not installed
        node.cN.config_set.SYNC
                               N clients (1, 50), each a DEALER with one
                               ConfigSet of a distinct key in flight; the
                               node at synchronous=SYNC (normal, full);
                               ops/s, p50/p99 and the writer's mean batch
                               over the case (Info before and after)
        node.workersW.config_get
        node.workersW.content_get.4k
                               read-only cases on a node started with
                               --workers=W (1, 2): ConfigGet of keys and
                               ContentGet (verified) of 4 KiB blobs stored
                               untimed first, --window outstanding
                               (content: 128, one client's share of the
                               content queue at workers=1); the ratio is
                               workers2 / workers1

    Each kind of node (normal, full, workers1, workers2) is started on the
    first case that needs it and stopped after the last selected one (its
    exit status must be 0), so that at most one or two run at a time.

    The clients cases drive all their DEALERs from one thread with one
    zmq_poll over them: each answer costs that thread a receive, a decode
    and a send (a few microseconds), while each request costs the node a
    gateway hop, a worker and a commit, so the client side is not the
    bottleneck (node.ping.pipelined, the same work on the client's side,
    runs several times faster than any of these cases). One thread also
    keeps the bench off the second core the node's threads need.
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_limits.h" //  CA_CONTENT_QUEUE_MAX
#include "ca_request.h"
#include "ca_testbed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CLIENTS      50
#define FSYNC_BYTES      ((size_t)4096)
#define FSYNC_FILE_BYTES ((size_t)4 << 20) //  the fdatasync case's file, overwritten in turn
#define SEED_KEYS        1000              //  ConfigGet keys, stored untimed
#define SEED_BLOBS       64                //  4 KiB blobs, stored untimed
#define SEED_SECONDS     60.0              //  bound of the untimed seeding
//  ContentGets outstanding: one client's share of the content store's queue
//  at workers=1 (the gateway answers BUSY beyond); the same at workers=2,
//  so that both nodes see the same load.
#define CONTENT_WINDOW (CA_CONTENT_QUEUE_MAX / CA_CLIENT_POOL_SHARE_DIVISOR)
#define KEY_FMT        "scale/%010" PRIu64
#define KEY_SIZE       32
#define VALUE          "cairn-bench-value-0123456789abcdef"
#define REDIS_START_MS 5000  //  redis-server must answer PING within this
#define REDIS_STOP_MS  5000  //  and exit this long after SIGTERM
#define REDIS_OUTPUT   65536 //  bytes of redis-benchmark output kept

//  ---- the nodes ------------------------------------------------------------------------

typedef enum {
    NODE_NONE = -1,
    NODE_NORMAL,
    NODE_FULL,
    NODE_WORKERS1,
    NODE_WORKERS2,
    NODE_KINDS
} node_kind_t;

static const char *const s_node_names[NODE_KINDS] = {"normal", "full", "workers1", "workers2"};
static const char *const s_node_args[NODE_KINDS][2] = {
    {"--synchronous=normal", NULL},
    {"--synchronous=full", NULL},
    {"--workers=1", NULL},
    {"--workers=2", NULL},
};

typedef struct {
    harness_node_t *node;
    int uses;             //  selected cases still to run on it
    uint64_t next_key;    //  ConfigSet keys are distinct across its cases
    bool keys_seeded;     //  SEED_KEYS keys for ConfigGet
    uint8_t (*blobs)[32]; //  hashes of the blobs stored for ContentGet
    size_t blob_count;
} scale_node_t;

struct _bench_scaling_t {
    scale_node_t nodes[NODE_KINDS];
};

static bench_scaling_t *s_state(bench_t *bench) {
    if (!bench->scaling) {
        bench->scaling = (bench_scaling_t *)calloc(1, sizeof(bench_scaling_t));
        assert(bench->scaling);
    }
    return bench->scaling;
}

//  The node of `kind`, started on first use; NULL (after saying why).
static scale_node_t *s_node(bench_t *bench, node_kind_t kind) {
    scale_node_t *node = &s_state(bench)->nodes[kind];
    if (!node->node) {
        node->node = harness_node_start(NULL, s_node_args[kind]);
        if (!node->node) {
            bench_fail(s_node_names[kind], "cairnd %s did not start", s_node_args[kind][0]);
            return NULL;
        }
        node->next_key = 1;
    }
    return node;
}

//  A case on node `kind` is over: stops the node after its last one; -1
//  unless it exited with status 0.
static int s_node_done(bench_t *bench, node_kind_t kind) {
    scale_node_t *node = &s_state(bench)->nodes[kind];
    if (--node->uses > 0 || !node->node)
        return 0;
    int status = harness_node_stop(node->node);
    harness_node_destroy(&node->node);
    free(node->blobs);
    node->blobs = NULL;
    node->blob_count = 0;
    node->keys_seeded = false;
    if (status != 0)
        return bench_fail(s_node_names[kind], "cairnd exited with status %d (log printed above)",
                          status);
    printf("node %s stopped: exit status 0\n", s_node_names[kind]);
    return 0;
}

//  The writer's committed batches and writes (Info); -1 when Info did not
//  answer.
static int s_writer_counts(harness_node_t *node, uint64_t *batches, uint64_t *writes) {
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 1);
    Cairn__Response *response = harness_call(client, &request, STALL_TIMEOUT_MS);
    int rc = -1;
    if (response && response->status == CAIRN__STATUS__OK && response->info &&
        response->info->writer) {
        *batches = response->info->writer->batches;
        *writes = response->info->writer->writes;
        rc = 0;
    }
    if (response)
        cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    return rc;
}

//  ---- N clients, one request in flight each --------------------------------------------

static int s_config_set_send(void *handle, uint64_t id, void *context) {
    scale_node_t *node = (scale_node_t *)context;
    char key[KEY_SIZE];
    snprintf(key, sizeof key, KEY_FMT, node->next_key++);
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, id, key, VALUE);
    return bench_send_request(handle, &request);
}

static const wire_t s_config_set_wire = {s_config_set_send, bench_response_decode};

//  One Ping on each socket, so that every connection is up before the clock
//  starts. -1 after saying why.
static int s_warm_up(const char *name, zsock_t **clients, int count) {
    for (int c = 0; c < count; c++) {
        Cairn__Request request;
        Cairn__Ping ping;
        ca_request_ping(&request, &ping, 1);
        Cairn__Response *response = harness_call(clients[c], &request, STALL_TIMEOUT_MS);
        bool ok = response && response->status == CAIRN__STATUS__OK;
        if (response)
            cairn__response__free_unpacked(response, NULL);
        if (!ok)
            return bench_fail(name, "client %d: Ping did not answer OK", c);
    }
    return 0;
}

//  Sends the next ConfigSet on `handle` and counts it; 0, or -1 after
//  saying why.
static int s_send_next(void *handle, scale_node_t *node, tracker_t *tracker, uint64_t *outstanding,
                       const char *name) {
    if (s_config_set_wire.send(handle, tracker->sent + 1, node) != 0)
        return bench_fail(name, "send: %s", zmq_strerror(zmq_errno()));
    bench_tracker_sent(tracker, tracker->sent + 1);
    (*outstanding)++;
    return 0;
}

//  `count` DEALERs to `node`, one request in flight on each, sent again as
//  soon as its answer arrives, until --seconds or --max-ops runs out; one
//  zmq_poll over all of them (see the top of the file).
static int s_drive_clients(bench_t *bench, result_t *result, const char *name, scale_node_t *node,
                           int count) {
    zsock_t *clients[MAX_CLIENTS];
    zmq_pollitem_t items[MAX_CLIENTS];
    int64_t sent_at[MAX_CLIENTS];
    for (int c = 0; c < count; c++) {
        clients[c] = harness_connect(harness_node_endpoint(node->node));
        items[c] = (zmq_pollitem_t){zsock_resolve(clients[c]), 0, ZMQ_POLLIN, 0};
    }
    int rc = s_warm_up(name, clients, count);
    tracker_t tracker = {0};
    latencies_t latencies = {0};
    uint64_t outstanding = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    for (int c = 0; c < count && rc == 0 && tracker.sent < bench->max_ops; c++) {
        sent_at[c] = zclock_usecs();
        rc = s_send_next(items[c].socket, node, &tracker, &outstanding, name);
    }
    while (rc == 0 && outstanding > 0) {
        int ready = zmq_poll(items, count, STALL_TIMEOUT_MS);
        if (ready == 0)
            rc = bench_fail(name, "no answer within %d ms (%" PRIu64 " of %" PRIu64 " answered)",
                            STALL_TIMEOUT_MS, tracker.answered, tracker.sent);
        else if (ready < 0)
            rc = bench_fail(name, "poll: %s", zmq_strerror(zmq_errno()));
        for (int c = 0; c < count && rc == 0; c++) {
            if (!(items[c].revents & ZMQ_POLLIN))
                continue;
            int received = bench_receive(items[c].socket, &s_config_set_wire, node, &tracker, name,
                                         ZMQ_DONTWAIT, result);
            if (received != 0) {
                rc = received < 0 ? -1 : 0;
                continue;
            }
            int64_t now = zclock_usecs();
            bench_latency_add(&latencies, now - sent_at[c]);
            outstanding--;
            if (!zsys_interrupted && tracker.sent < bench->max_ops && now < deadline) {
                sent_at[c] = now;
                rc = s_send_next(items[c].socket, node, &tracker, &outstanding, name);
            }
        }
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    if (rc == 0)
        rc = bench_tracker_check(&tracker, name);
    bench_tracker_free(&tracker);
    bench_latency_finish(&latencies, result);
    for (int c = 0; c < count; c++)
        zsock_destroy(&clients[c]);
    return rc;
}

static int s_run_clients(bench_t *bench, result_t *result, const char *name, node_kind_t kind,
                         int count) {
    scale_node_t *node = s_node(bench, kind);
    if (!node)
        return -1;
    uint64_t batches0 = 0, writes0 = 0, batches1 = 0, writes1 = 0;
    bool info = s_writer_counts(node->node, &batches0, &writes0) == 0;
    int rc = s_drive_clients(bench, result, name, node, count);
    if (rc == 0 && info && s_writer_counts(node->node, &batches1, &writes1) == 0 &&
        batches1 > batches0)
        result->mean_batch = (double)(writes1 - writes0) / (double)(batches1 - batches0);
    return rc;
}

//  ---- raw fdatasync ---------------------------------------------------------------------

//  A new directory beside `node`'s data dir (same filesystem); NULL if
//  mkdtemp failed.
static char *s_beside(harness_node_t *node, const char *prefix) {
    const char *data_dir = harness_node_data_dir(node);
    const char *slash = strrchr(data_dir, '/');
    int parent = slash ? (int)(slash - data_dir) : 1;
    char *dir = zsys_sprintf("%.*s/%s-XXXXXX", parent, slash ? data_dir : ".", prefix);
    if (!mkdtemp(dir))
        zstr_free(&dir);
    return dir;
}

//  Writes 4 KiB and fdatasyncs, once per op, cycling through a file of
//  FSYNC_FILE_BYTES written and synced first (untimed): the file's size
//  never changes, as SQLite's WAL once it is reused after a checkpoint, so
//  a sync writes the data and no metadata; this is the floor of a durable
//  commit. (Appending instead, so that every sync also writes the new
//  size, measured several times slower here.)
static int s_fdatasync_loop(bench_t *bench, result_t *result, const char *name, int fd) {
    const uint8_t *block = bench_pattern(bench, FSYNC_BYTES);
    int rc = 0;
    for (size_t offset = 0; offset < FSYNC_FILE_BYTES && rc == 0; offset += FSYNC_BYTES)
        if (pwrite(fd, block, FSYNC_BYTES, (off_t)offset) != (ssize_t)FSYNC_BYTES)
            rc = bench_fail(name, "write: %s", strerror(errno));
    if (rc == 0 && fsync(fd) != 0)
        rc = bench_fail(name, "fsync: %s", strerror(errno));
    latencies_t latencies = {0};
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && bench_go_on(bench, result, deadline)) {
        int64_t before = zclock_usecs();
        off_t offset = (off_t)((result->ok * FSYNC_BYTES) % FSYNC_FILE_BYTES);
        if (pwrite(fd, block, FSYNC_BYTES, offset) != (ssize_t)FSYNC_BYTES || fdatasync(fd) != 0)
            rc = bench_fail(name, "write or fdatasync: %s", strerror(errno));
        else {
            bench_latency_add(&latencies, zclock_usecs() - before);
            result->ok++;
        }
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    bench_latency_finish(&latencies, result);
    return rc;
}

static int s_run_fdatasync(bench_t *bench, result_t *result, const char *name) {
    scale_node_t *node = s_node(bench, NODE_FULL);
    if (!node)
        return -1;
    char *dir = s_beside(node->node, "bench-fsync");
    if (!dir)
        return bench_fail(name, "cannot make a directory beside %s: %s",
                          harness_node_data_dir(node->node), strerror(errno));
    char *path = zsys_sprintf("%s/log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd >= 0 ? s_fdatasync_loop(bench, result, name, fd)
                     : bench_fail(name, "cannot create %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    zstr_free(&path);
    ca_test_rmtree(dir);
    zstr_free(&dir);
    return rc;
}

//  ---- baseline: redis-server, appendfsync always ------------------------------------------

//  A loopback port nothing listens on now (the kernel's choice); -1.
static int s_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

//  Starts `argv` with stdout to `out_fd` (or the log) and stderr to `log`;
//  the child's pid, or -1.
static pid_t s_spawn(char *const argv[], int out_fd, const char *log) {
    pid_t pid = fork();
    if (pid == 0) {
        int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (log_fd >= 0) {
            dup2(out_fd >= 0 ? out_fd : log_fd, STDOUT_FILENO);
            dup2(log_fd, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

//  Waits up to `ms` for `pid` to exit; its wait status, or -1 when it was
//  still running (then it is killed and reaped).
static int s_reap(pid_t pid, int ms) {
    int status = 0;
    int64_t deadline = zclock_mono() + ms;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (zclock_mono() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        zclock_sleep(5); //  polling an exit, bounded by the deadline
    }
    return status;
}

//  Whether redis on `port` answers PING with +PONG.
static bool s_redis_ping(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool pong = false;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        write(fd, "PING\r\n", 6) == 6) {
        struct pollfd item = {fd, POLLIN, 0};
        char answer[16] = "";
        if (poll(&item, 1, 1000) == 1 && read(fd, answer, sizeof answer - 1) > 0)
            pong = strncmp(answer, "+PONG", 5) == 0;
    }
    if (fd >= 0)
        close(fd);
    return pong;
}

//  Runs redis-benchmark with `argv` and keeps its stdout in `output`
//  (NUL-terminated); bounded by `ms`. 0, or -1 after saying why.
static int s_run_tool(const char *name, char *const argv[], const char *log, char *output,
                      size_t size, int ms) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return bench_fail(name, "pipe: %s", strerror(errno));
    pid_t pid = s_spawn(argv, pipe_fds[1], log);
    close(pipe_fds[1]);
    if (pid < 0) {
        close(pipe_fds[0]);
        return bench_fail(name, "fork: %s", strerror(errno));
    }
    size_t used = 0;
    int64_t deadline = zclock_mono() + ms;
    bool open_pipe = true;
    while (open_pipe && zclock_mono() < deadline) {
        struct pollfd item = {pipe_fds[0], POLLIN, 0};
        int ready = poll(&item, 1, (int)(deadline - zclock_mono()));
        char scratch[4096];
        ssize_t got = ready > 0 ? read(pipe_fds[0], scratch, sizeof scratch) : -1;
        if (ready > 0 && got <= 0)
            open_pipe = false;
        else if (got > 0) {
            size_t keep = (size_t)got < size - 1 - used ? (size_t)got : size - 1 - used;
            memcpy(output + used, scratch, keep);
            used += keep;
        } else if (ready < 0 && errno != EINTR)
            open_pipe = false;
    }
    output[used] = '\0';
    close(pipe_fds[0]);
    if (open_pipe)
        kill(pid, SIGKILL);
    int status = s_reap(pid, REDIS_STOP_MS);
    if (open_pipe)
        return bench_fail(name, "%s did not finish within %d ms", argv[0], ms);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return bench_fail(name, "%s failed (status %d; see %s)", argv[0], status, log);
    return 0;
}

//  Parses redis-benchmark --csv: the "SET" line's rps and, when this
//  version prints them, p50 and p99 (ms). 0, or -1 when there is no SET
//  line.
static int s_parse_csv(const char *output, double *rps, double *p50_ms, double *p99_ms) {
    //  The header names the columns; 7.x: "test","rps","avg_latency_ms",
    //  "min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
    int p50_column = -1, p99_column = -1;
    const char *header = strstr(output, "\"test\"");
    if (header) {
        int column = 0;
        for (const char *at = header; *at && *at != '\n'; at++) {
            if (*at == ',')
                column++;
            if (strncmp(at, "\"p50_latency_ms\"", 16) == 0)
                p50_column = column;
            if (strncmp(at, "\"p99_latency_ms\"", 16) == 0)
                p99_column = column;
        }
    }
    const char *line = strstr(output, "\"SET\"");
    if (!line)
        return -1;
    *p50_ms = *p99_ms = -1;
    int column = 0;
    for (const char *at = line; *at && *at != '\n'; at++) {
        if (*at != ',')
            continue;
        column++;
        double value = strtod(at + 1 + (at[1] == '"'), NULL);
        if (column == 1)
            *rps = value;
        if (column == p50_column)
            *p50_ms = value;
        if (column == p99_column)
            *p99_ms = value;
    }
    return *rps > 0 ? 0 : -1;
}

typedef struct {
    char *server;
    char *tool;
    char *dir;
    char *log;
    int port;
    pid_t pid;
} redis_t;

//  Starts redis-server (appendfsync always) in a new temp dir on a free
//  port and waits until it answers PING. 0, or -1 after saying why.
static int s_redis_start(redis_t *redis, const char *name) {
    redis->dir = ca_test_tempdir("cairn-bench-redis");
    redis->log = zsys_sprintf("%s/redis.log", redis->dir);
    redis->port = s_free_port();
    if (redis->port < 0)
        return bench_fail(name, "no free loopback port");
    char port[16];
    snprintf(port, sizeof port, "%d", redis->port);
    char *const argv[] = {redis->server,
                          "--bind",
                          "127.0.0.1",
                          "--port",
                          port,
                          "--appendonly",
                          "yes",
                          "--appendfsync",
                          "always",
                          "--dir",
                          redis->dir,
                          "--save",
                          "",
                          "--daemonize",
                          "no",
                          NULL};
    redis->pid = s_spawn(argv, -1, redis->log);
    if (redis->pid < 0)
        return bench_fail(name, "fork: %s", strerror(errno));
    int64_t deadline = zclock_mono() + REDIS_START_MS;
    while (!s_redis_ping(redis->port)) {
        if (zclock_mono() >= deadline || waitpid(redis->pid, NULL, WNOHANG) != 0)
            return bench_fail(name, "redis-server did not answer PING within %d ms (see %s)",
                              REDIS_START_MS, redis->log);
        zclock_sleep(10); //  polling readiness, bounded by the deadline
    }
    return 0;
}

//  Stops redis-server (SIGTERM, then SIGKILL) and removes its directory.
static void s_redis_stop(redis_t *redis) {
    if (redis->pid > 0) {
        kill(redis->pid, SIGTERM);
        s_reap(redis->pid, REDIS_STOP_MS);
    }
    if (redis->dir)
        ca_test_rmtree(redis->dir);
    zstr_free(&redis->dir);
    zstr_free(&redis->log);
    zstr_free(&redis->server);
    zstr_free(&redis->tool);
}

//  One redis-benchmark run of `requests` SETs by `clients` clients.
static int s_redis_benchmark(redis_t *redis, const char *name, int clients, uint64_t requests,
                             double seconds, double *rps, double *p50_ms, double *p99_ms) {
    char port[16], clients_arg[16], count[32];
    snprintf(port, sizeof port, "%d", redis->port);
    snprintf(clients_arg, sizeof clients_arg, "%d", clients);
    snprintf(count, sizeof count, "%" PRIu64, requests);
    char *const argv[] = {redis->tool, "-h", "127.0.0.1", "-p", port,  "-c",    clients_arg, "-P",
                          "1",         "-n", count,       "-t", "set", "--csv", NULL};
    char *output = (char *)malloc(REDIS_OUTPUT);
    assert(output);
    int rc = s_run_tool(name, argv, redis->log, output, REDIS_OUTPUT,
                        (int)(seconds * 10 * 1000) + 30000);
    if (rc == 0 && s_parse_csv(output, rps, p50_ms, p99_ms) != 0)
        rc = bench_fail(name, "no SET line in redis-benchmark's output: %.200s", output);
    free(output);
    return rc;
}

static int s_run_redis(bench_t *bench, result_t *result, const char *name, int clients) {
    redis_t redis = {
        harness_which("redis-server"), harness_which("redis-benchmark"), NULL, NULL, -1, -1};
    if (!redis.server || !redis.tool) {
        result->skipped = true;
        snprintf(result->note, sizeof result->note,
                 "redis-server or redis-benchmark is not installed (deploy/install-deps "
                 "installs them)");
        s_redis_stop(&redis);
        return 0;
    }
    int rc = s_redis_start(&redis, name);
    //  redis-benchmark takes a count, not a time: a short run first gives
    //  the rate, then the measured run is sized to last about --seconds.
    double rps = 0, p50 = -1, p99 = -1;
    uint64_t probe = clients == 1 ? 50 : 500;
    if (probe > bench->max_ops)
        probe = bench->max_ops;
    if (rc == 0)
        rc = s_redis_benchmark(&redis, name, clients, probe, bench->seconds, &rps, &p50, &p99);
    uint64_t requests = (uint64_t)(rps * bench->seconds);
    requests = requests < probe ? probe : requests > bench->max_ops ? bench->max_ops : requests;
    if (rc == 0)
        rc = s_redis_benchmark(&redis, name, clients, requests, bench->seconds, &rps, &p50, &p99);
    if (rc == 0) {
        result->ok = requests;
        result->seconds = (double)requests / rps;
        if (p50 >= 0 && p99 >= 0) {
            result->latency = true;
            result->p50_us = p50 * 1000;
            result->p99_us = p99 * 1000;
        }
    }
    s_redis_stop(&redis);
    return rc;
}

//  ---- reads at workers=1 and workers=2 ---------------------------------------------------

static int s_config_get_send(void *handle, uint64_t id, void *context) {
    char key[KEY_SIZE];
    snprintf(key, sizeof key, KEY_FMT, 1 + id % SEED_KEYS);
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, id, key, "");
    return bench_send_request(handle, &request);
}

//  A ConfigGet counts as OK only with the value stored.
static int s_config_get_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                               result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK &&
        (response->body_case != CAIRN__RESPONSE__BODY_CONFIG_VALUE || !response->config_value ||
         !response->config_value->found || response->config_value->value.len != sizeof VALUE - 1 ||
         memcmp(response->config_value->value.data, VALUE, sizeof VALUE - 1) != 0)) {
        *outcome = OUTCOME_ERROR;
        bench_first_error(result, "OK, but not the value stored");
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_config_get_wire = {s_config_get_send, s_config_get_decode};

//  A 4 KiB blob: the pattern with `n` in its first 8 bytes.
static void s_blob(bench_t *bench, uint64_t n, uint8_t blob[4096]) {
    memcpy(blob, bench_pattern(bench, 4096), 4096);
    memcpy(blob, &n, sizeof n);
}

typedef struct {
    bench_t *bench;
    scale_node_t *node;
} blob_context_t;

static int s_content_put_send(void *handle, uint64_t id, void *context) {
    blob_context_t *blobs = (blob_context_t *)context;
    uint8_t blob[4096];
    s_blob(blobs->bench, id, blob);
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, id, blob, sizeof blob, NULL, 0);
    return bench_send_request(handle, &request);
}

static int s_content_get_send(void *handle, uint64_t id, void *context) {
    blob_context_t *blobs = (blob_context_t *)context;
    Cairn__Request request;
    Cairn__ContentGet get;
    ca_request_content_get(&request, &get, id, blobs->node->blobs[id % blobs->node->blob_count], 32,
                           false);
    return bench_send_request(handle, &request);
}

//  A ContentGet counts as OK only with 4 KiB of data.
static int s_content_get_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                                result_t *result, void *context) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return -1;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK) {
        if (response->body_case != CAIRN__RESPONSE__BODY_CONTENT_GET || !response->content_get ||
            response->content_get->data.len != 4096) {
            *outcome = OUTCOME_ERROR;
            bench_first_error(result, "OK, but not the 4 KiB blob stored");
        } else
            result->bytes += 4096;
    }
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_content_put_wire = {s_content_put_send, bench_response_decode};
static const wire_t s_content_get_wire = {s_content_get_send, s_content_get_decode};

//  Stores SEED_KEYS keys, or SEED_BLOBS blobs, once per node, untimed.
static int s_seed(bench_t *bench, const char *name, scale_node_t *node, bool blobs) {
    if (blobs ? node->blob_count > 0 : node->keys_seeded)
        return 0;
    zsock_t *client = harness_connect(harness_node_endpoint(node->node));
    result_t seed = {0};
    blob_context_t context = {bench, node};
    int rc = 0;
    if (blobs)
        rc = bench_drive_for(SEED_SECONDS, SEED_BLOBS, name, client, &s_content_put_wire, &context,
                             1, &seed);
    else {
        uint64_t first = node->next_key;
        node->next_key = 1; //  keys 1..SEED_KEYS, then on as before
        rc = bench_drive_for(SEED_SECONDS, SEED_KEYS, name, client, &s_config_set_wire, node,
                             bench->window, &seed);
        node->next_key = first > SEED_KEYS ? first : SEED_KEYS + 1;
    }
    zsock_destroy(&client);
    if (rc == 0 && seed.ok != (blobs ? SEED_BLOBS : SEED_KEYS))
        rc = bench_fail(name, "seeding: %" PRIu64 " stored OK (%s)", seed.ok, seed.first_error);
    if (rc == 0 && blobs) {
        node->blobs = (uint8_t(*)[32])calloc(SEED_BLOBS, 32);
        assert(node->blobs);
        for (uint64_t n = 0; n < SEED_BLOBS; n++) {
            uint8_t blob[4096];
            s_blob(bench, n + 1, blob);
            ca_sha256(blob, sizeof blob, node->blobs[n]);
        }
        node->blob_count = SEED_BLOBS;
    }
    node->keys_seeded = node->keys_seeded || (rc == 0 && !blobs);
    return rc;
}

static int s_run_read(bench_t *bench, result_t *result, const char *name, node_kind_t kind,
                      bool content) {
    scale_node_t *node = s_node(bench, kind);
    if (!node || s_seed(bench, name, node, content) != 0)
        return -1;
    zsock_t *client = harness_connect(harness_node_endpoint(node->node));
    blob_context_t context = {bench, node};
    int window = content && bench->window > CONTENT_WINDOW ? CONTENT_WINDOW : bench->window;
    int rc = bench_drive(bench, name, client, content ? &s_content_get_wire : &s_config_get_wire,
                         content ? (void *)&context : NULL, window, result);
    zsock_destroy(&client);
    return rc;
}

//  ---- the rows -------------------------------------------------------------------------

typedef enum { DO_FDATASYNC, DO_REDIS, DO_CLIENTS, DO_CONFIG_GET, DO_CONTENT_GET } what_t;

//  What each row does, on which node: looked up by the row's name.
typedef struct {
    const char *name;
    what_t what;
    node_kind_t node;
    int clients;
} spec_t;

static const spec_t s_specs[] = {
    {"raw.fdatasync.4k", DO_FDATASYNC, NODE_FULL, 1},
    {"redis.set_always.c1", DO_REDIS, NODE_NONE, 1},
    {"redis.set_always.c50", DO_REDIS, NODE_NONE, 50},
    {"node.c1.config_set.normal", DO_CLIENTS, NODE_NORMAL, 1},
    {"node.c50.config_set.normal", DO_CLIENTS, NODE_NORMAL, 50},
    {"node.c1.config_set.full", DO_CLIENTS, NODE_FULL, 1},
    {"node.c50.config_set.full", DO_CLIENTS, NODE_FULL, 50},
    {"node.workers1.config_get", DO_CONFIG_GET, NODE_WORKERS1, 0},
    {"node.workers1.content_get.4k", DO_CONTENT_GET, NODE_WORKERS1, 0},
    {"node.workers2.config_get", DO_CONFIG_GET, NODE_WORKERS2, 0},
    {"node.workers2.content_get.4k", DO_CONTENT_GET, NODE_WORKERS2, 0},
};

static const spec_t *s_spec(const char *name) {
    for (size_t i = 0; i < sizeof s_specs / sizeof s_specs[0]; i++)
        if (streq(s_specs[i].name, name))
            return &s_specs[i];
    return NULL;
}

static int s_run(bench_t *bench, result_t *result, const char *name, size_t size) {
    const spec_t *spec = s_spec(name);
    assert(spec); //  every row has its spec
    int rc = -1;
    if (spec->what == DO_FDATASYNC)
        rc = s_run_fdatasync(bench, result, name);
    else if (spec->what == DO_REDIS)
        rc = s_run_redis(bench, result, name, spec->clients);
    else if (spec->what == DO_CLIENTS)
        rc = s_run_clients(bench, result, name, spec->node, spec->clients);
    else
        rc = s_run_read(bench, result, name, spec->node, spec->what == DO_CONTENT_GET);
    if (spec->node != NODE_NONE && s_node_done(bench, spec->node) != 0)
        rc = -1;
    return rc;
}

static const bench_case_t s_cases[] = {
    {.name = "raw.fdatasync.4k",
     .kind = KIND_BASELINE,
     .sized = s_run,
     .what = "4 KiB pwrite + fdatasync per op (file size fixed), one thread; p50/p99"},
    {.name = "redis.set_always.c1",
     .kind = KIND_BASELINE,
     .sized = s_run,
     .what = "redis-server appendfsync always, redis-benchmark SET -c 1 (skipped if absent)"},
    {.name = "redis.set_always.c50",
     .kind = KIND_BASELINE,
     .sized = s_run,
     .what = "the same, -c 50 -P 1"},
    {.name = "node.c1.config_set.normal",
     .kind = KIND_NODE,
     .sized = s_run,
     .what = "1 client, one ConfigSet in flight, synchronous=normal; p50/p99"},
    {.name = "node.c50.config_set.normal",
     .kind = KIND_NODE,
     .sized = s_run,
     .versus = {"node.c1.config_set.normal"},
     .what = "50 clients, one ConfigSet in flight each, synchronous=normal"},
    {.name = "node.c1.config_set.full",
     .kind = KIND_NODE,
     .sized = s_run,
     .versus = {"redis.set_always.c1", "raw.fdatasync.4k"},
     .latency_versus = "raw.fdatasync.4k",
     .what = "1 client, one ConfigSet in flight, synchronous=full; p50/p99"},
    {.name = "node.c50.config_set.full",
     .kind = KIND_NODE,
     .sized = s_run,
     .versus = {"redis.set_always.c50", "node.c1.config_set.full"},
     .latency_versus = "redis.set_always.c50",
     .what = "50 clients, one ConfigSet in flight each, synchronous=full"},
    {.name = "node.workers1.config_get",
     .kind = KIND_NODE,
     .sized = s_run,
     .what = "ConfigGet of 1000 stored keys, --window outstanding, --workers=1"},
    {.name = "node.workers1.content_get.4k",
     .kind = KIND_NODE,
     .sized = s_run,
     .what = "ContentGet (verified) of 64 stored 4 KiB blobs, 8 outstanding, --workers=1"},
    {.name = "node.workers2.config_get",
     .kind = KIND_NODE,
     .sized = s_run,
     .versus = {"node.workers1.config_get"},
     .what = "the same, --workers=2"},
    {.name = "node.workers2.content_get.4k",
     .kind = KIND_NODE,
     .sized = s_run,
     .versus = {"node.workers1.content_get.4k"},
     .what = "the same, --workers=2"},
};

//  Counts the selected cases of each node, so the last one stops it.
static void s_selected(bench_t *bench, const bench_case_t *row) {
    const spec_t *spec = s_spec(row->name);
    assert(spec);
    if (spec->node != NODE_NONE)
        s_state(bench)->nodes[spec->node].uses++;
}

//  Stops any node still running (a failed run) and frees the state.
static void s_destroy(bench_t *bench) {
    if (!bench->scaling)
        return;
    for (int kind = 0; kind < NODE_KINDS; kind++) {
        harness_node_destroy(&bench->scaling->nodes[kind].node);
        free(bench->scaling->nodes[kind].blobs);
    }
    free(bench->scaling);
    bench->scaling = NULL;
}

const bench_area_t bench_scaling_area = BENCH_AREA(s_cases, s_selected, s_destroy);

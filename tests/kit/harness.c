/*  =========================================================================
    harness - start a real cairnd and talk to it
    ========================================================================= */

#include "harness.h"
#include "ca_caller.h"
#include "ca_request.h"
#include "ca_testbed.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pty.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 30000 //  ASan, a loaded disk, a dozen schema migrations
#define STOP_TIMEOUT_MS  20000
#define MAX_EXTRA_ARGS   32

extern char **environ;

struct _harness_node_t {
    char *temp_dir; //  owned temp dir (removed on destroy), or NULL
    char *data_dir;
    char *log_path;
    char *endpoint;
    char *port_arg;
    const char *extra[MAX_EXTRA_ARGS + 1];
    char *password_arg; //  --identity-password-file=..., for a node with an identity
    char peer_id[72];   //  its peer id; "" without an identity
    pid_t pid;
    char *bind_host;
    bool has_curve;
    harness_curve_t curve;
};

const char *harness_cairnd_path(void) {
    const char *path = getenv("CAIRND");
    if (path)
        return path;
#ifdef CAIRND_PATH
    return CAIRND_PATH;
#else
    return "cairnd";
#endif
}

static struct sockaddr_in s_loopback(int port) {
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)port);
    return address;
}

//  Binds `port` on 127.0.0.1 (0: the kernel picks one) and answers the
//  port it got, or -1.
static int s_bindable_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address = s_loopback(port);
    socklen_t length = sizeof address;
    int bound = -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        bound = ntohs(address.sin_port);
    close(fd);
    return bound;
}

//  The lower bound of the kernel's ephemeral port range (32768 when it
//  cannot be read).
static int s_ephemeral_low(void) {
    int low = 32768, high = 60999;
    FILE *file = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (file) {
        if (fscanf(file, "%d %d", &low, &high) != 2)
            low = 32768;
        fclose(file);
    }
    return low;
}

//  A non-blocking tcp connect with a `rcvbuf`-byte receive buffer (0: the
//  default), set before connecting so that the window it offers is small.
static int s_tcp_connect(int port, int timeout_ms, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in address = s_loopback(port);
    int rc = connect(fd, (struct sockaddr *)&address, sizeof address);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd poll_fd = {fd, POLLOUT, 0};
        int error = 0;
        socklen_t length = sizeof error;
        rc = poll(&poll_fd, 1, timeout_ms) == 1 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
                 ? 0
                 : -1;
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int harness_tcp_connect(int port, int timeout_ms) {
    return s_tcp_connect(port, timeout_ms, 0);
}

int harness_node_port(harness_node_t *node) {
    const char *colon = strrchr(harness_node_endpoint(node), ':');
    return colon ? atoi(colon + 1) : 0;
}

//  The ZMTP 3.0 greeting (NULL mechanism, as client) and a READY command
//  naming a DEALER socket.
static const uint8_t s_zmtp_hello[] = {
    0xff, 0,   0,   0,   0,   0,   0,   0,   0,   0x7f, 3,   0,   'N', 'U', 'L', 'L', 0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,   0,   0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,   0,   0,
    0,    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0, //  64 bytes of greeting
    0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',  'o', 'c', 'k', 'e', 't', '-', 'T',
    'y',  'p', 'e', 0,   0,   0,   6,   'D', 'E', 'A',  'L', 'E', 'R'};

static bool s_send_all(int fd, const void *data, size_t size) {
    const uint8_t *at = (const uint8_t *)data;
    while (size) {
        ssize_t sent = send(fd, at, size, MSG_NOSIGNAL);
        if (sent <= 0)
            return false;
        at += sent;
        size -= (size_t)sent;
    }
    return true;
}

//  Reads the node's greeting and READY command (a short command), no more:
//  messages sent before it would be refused with the connection.
static bool s_zmtp_read_ready(int fd) {
    uint8_t reply[64 + 2 + 255];
    size_t have = 0, want = 64 + 2;
    int64_t deadline = zclock_mono() + HARNESS_CALL_MS;
    while (have < want && zclock_mono() < deadline) {
        struct pollfd poll_fd = {fd, POLLIN, 0};
        if (poll(&poll_fd, 1, 100) <= 0)
            continue;
        ssize_t got = recv(fd, reply + have, want - have, 0);
        if (got <= 0)
            return false;
        have += (size_t)got;
        if (have == 64 + 2)
            want = 64 + 2 + reply[65];
    }
    return have == want && reply[64] == 0x04;
}

int harness_zmtp_connect(int port, int timeout_ms, int rcvbuf, bool wait_ready) {
    int fd = s_tcp_connect(port, timeout_ms, rcvbuf);
    if (fd < 0)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    bool ok = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
              s_send_all(fd, s_zmtp_hello, sizeof s_zmtp_hello) &&
              (!wait_ready || s_zmtp_read_ready(fd));
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

void harness_zmtp_send(int fd, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    uint8_t *frame = (uint8_t *)malloc(9 + size);
    HARNESS_CHECK(frame);
    size_t head = 0;
    if (size < 256) {
        frame[head++] = 0x00; //  a last frame, short size
        frame[head++] = (uint8_t)size;
    } else {
        frame[head++] = 0x02; //  a last frame, long size
        for (int i = 7; i >= 0; i--)
            frame[head++] = (uint8_t)((uint64_t)size >> (8 * i));
    }
    cairn__request__pack(request, frame + head);
    HARNESS_CHECK(s_send_all(fd, frame, head + size));
    free(frame);
}

bool harness_tcp_write_all(int fd, const void *data, size_t size, int timeout_ms) {
    const uint8_t *at = (const uint8_t *)data;
    int64_t deadline = zclock_mono() + timeout_ms;
    for (int sends = 0; size > 0 && sends < 1000000 && zclock_mono() < deadline; sends++) {
        struct pollfd item = {fd, POLLOUT, 0};
        if (poll(&item, 1, (int)(deadline - zclock_mono())) < 0 && errno != EINTR)
            return false;
        ssize_t done = send(fd, at, size, MSG_NOSIGNAL);
        if (done < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (done > 0) {
            at += done;
            size -= (size_t)done;
        }
    }
    return size == 0;
}

bool harness_tcp_reads_eof(int fd, int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    for (int reads = 0; reads < 100000 && zclock_mono() < deadline; reads++) {
        struct pollfd item = {fd, POLLIN, 0};
        if (poll(&item, 1, (int)(deadline - zclock_mono())) < 0 && errno != EINTR)
            return false;
        char bytes[4096];
        ssize_t got = read(fd, bytes, sizeof bytes);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
    return false;
}

uint32_t harness_wait_clients(ca_caller_t *caller, uint32_t clients, int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    uint32_t seen = 0;
    for (int polls = 0; polls < 10000; polls++) {
        Cairn__Request request;
        Cairn__InfoRequest info;
        ca_request_info(&request, &info, 0);
        Cairn__Response *response = ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_INFO);
        seen = response->info->clients;
        cairn__response__free_unpacked(response, NULL);
        if (seen == clients)
            break;
        if (zclock_mono() >= deadline) {
            printf("  Info counts %u client connections, not %u\n", seen, clients);
            break;
        }
        zclock_sleep(10); //  polling Info: the node counts at its own pace
    }
    return seen;
}

void harness_write_file(const char *path, const char *text) {
    char *temp = zsys_sprintf("%s.new", path);
    FILE *file = fopen(temp, "w");
    HARNESS_CHECK(file);
    fputs(text, file);
    HARNESS_CHECK(fclose(file) == 0);
    HARNESS_CHECK(rename(temp, path) == 0);
    zstr_free(&temp);
}

char *harness_which(const char *program) {
    const char *path = getenv("PATH");
    char *copy = strdup(path && *path ? path : "/usr/bin:/bin");
    char *found = NULL;
    for (char *saved = NULL, *dir = strtok_r(copy, ":", &saved); dir && !found;
         dir = strtok_r(NULL, ":", &saved)) {
        char *candidate = zsys_sprintf("%s/%s", dir, program);
        if (access(candidate, X_OK) == 0)
            found = candidate;
        else
            zstr_free(&candidate);
    }
    free(copy);
    return found;
}

int harness_free_port(void) {
    int ceiling = s_ephemeral_low();
    int floor = ceiling > 12000 ? ceiling - 10000 : 1024;
    //  Seeded per process: tests started in the same second pick apart.
    unsigned seed = (unsigned)zclock_usecs() ^ ((unsigned)getpid() * 2654435761u);
    for (int attempt = 0; attempt < 100; attempt++) {
        int port = floor + rand_r(&seed) % (ceiling - floor);
        if (s_bindable_port(port) == port)
            return port;
    }
    return s_bindable_port(0); //  a crowded machine: an ephemeral one after all
}

static pid_t s_spawn(harness_node_t *node) {
    const char *argv[MAX_EXTRA_ARGS + 8];
    int argc = 0;
    argv[argc++] = harness_cairnd_path();
    char *data_arg = zsys_sprintf("--data-dir=%s", node->data_dir);
    argv[argc++] = data_arg;
    argv[argc++] = node->port_arg;
    for (int i = 0; node->extra[i]; i++)
        argv[argc++] = node->extra[i];
    argv[argc] = NULL;
    //  HARNESS_NOFILE_ENV: the child's descriptor limit, soft and hard, so
    //  that cairnd cannot raise it (read before fork: after it, only
    //  async-signal-safe calls).
    const char *nofile_text = getenv(HARNESS_NOFILE_ENV);
    rlim_t nofile = nofile_text ? (rlim_t)strtoull(nofile_text, NULL, 10) : 0;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (nofile) {
            struct rlimit limit = {nofile, nofile};
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
                _exit(126);
        }
        //  A test that aborts must not leave its node running: the child
        //  dies with the test process (checked again in case the parent
        //  died before the request took effect).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int log = open(node->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    zstr_free(&data_arg);
    return pid;
}

static void s_print_log(harness_node_t *node) {
    FILE *log = fopen(node->log_path, "r");
    if (!log)
        return;
    fprintf(stderr, "---- %s ----\n", node->log_path);
    char line[1024];
    while (fgets(line, sizeof line, log))
        fputs(line, stderr);
    fclose(log);
}

//  Waits until the node answers Info with its own pid, or it exits, or the
//  timeout passes. The pid matters: a port found free may be bound by
//  another test's node first, which would answer in this one's place while
//  this cairnd exits with "cannot use client_endpoint" (or "cannot bind").
static bool s_wait_ready(harness_node_t *node) {
    zsock_t *client = harness_node_connect(node);
    int64_t deadline = zclock_mono() + READY_TIMEOUT_MS;
    bool ready = false;
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 1);
    harness_send(client, &request);
    while (!ready && zclock_mono() < deadline) {
        int status;
        if (waitpid(node->pid, &status, WNOHANG) == node->pid) {
            node->pid = 0;
            break;
        }
        Cairn__Response *response = harness_recv(client, 100);
        if (response) {
            ready = response->status == CAIRN__STATUS__OK && response->info &&
                    response->info->pid == (uint32_t)node->pid;
            cairn__response__free_unpacked(response, NULL);
        }
    }
    zsock_destroy(&client);
    return ready;
}

static int s_start(harness_node_t *node) {
    node->pid = s_spawn(node);
    if (node->pid > 0 && s_wait_ready(node))
        return 0;
    if (node->pid > 0)
        harness_node_kill9(node);
    return -1;
}

static void s_choose_port(harness_node_t *node) {
    zstr_free(&node->endpoint);
    zstr_free(&node->port_arg);
    int port = harness_free_port();
    node->endpoint = zsys_sprintf("tcp://127.0.0.1:%d", port);
    node->port_arg = zsys_sprintf("--client-endpoint=tcp://%s:%d", node->bind_host, port);
}

static long s_log_size(harness_node_t *node) {
    struct stat st;
    return stat(node->log_path, &st) == 0 ? (long)st.st_size : 0;
}

//  True when the log, from byte `offset` on, says cairnd could not bind
//  its endpoint: another process took the port meanwhile.
static bool s_port_was_taken(harness_node_t *node, long offset) {
    FILE *log = fopen(node->log_path, "r");
    if (!log)
        return false;
    bool taken = false;
    char line[1024];
    if (fseek(log, offset, SEEK_SET) == 0)
        while (!taken && fgets(line, sizeof line, log))
            taken = strstr(line, "cannot use client_endpoint") != NULL ||    //  node_probe
                    strstr(line, "cannot bind the client endpoint") != NULL; //  the bind
    fclose(log);
    return taken;
}

//  Starts cairnd; when its port was taken meanwhile (by a parallel
//  test's node), on another port, a few times. Any other failure is
//  final: a retry must not hide a node that fails to start.
static int s_start_on_some_port(harness_node_t *node) {
    for (int attempt = 0; attempt < 5; attempt++) {
        long offset = s_log_size(node);
        if (s_start(node) == 0)
            return 0;
        if (!s_port_was_taken(node, offset))
            break;
        s_choose_port(node);
    }
    s_print_log(node);
    return -1;
}

//  A node not yet started: its dirs, bind host, CURVE keys and arguments.
static harness_node_t *s_node_new(const harness_start_t *start) {
    const char *data_dir = start->data_dir;
    const char *const *extra_args = start->extra_args;
    harness_node_t *node = (harness_node_t *)zmalloc(sizeof(harness_node_t));
    node->bind_host = strdup(start->bind_host ? start->bind_host : "127.0.0.1");
    if (start->curve) {
        node->curve = *start->curve;
        node->has_curve = true;
    }
    node->temp_dir = ca_test_tempdir("cairn-e2e");
    node->data_dir = data_dir ? strdup(data_dir) : zsys_sprintf("%s/data", node->temp_dir);
    node->log_path = zsys_sprintf("%s/cairnd.log", node->temp_dir);
    for (int i = 0; extra_args && extra_args[i]; i++) {
        HARNESS_CHECK(i < MAX_EXTRA_ARGS); //  never drop arguments silently
        node->extra[i] = extra_args[i];
    }
    return node;
}

harness_node_t *harness_node_start(const char *data_dir, const char *const *extra_args) {
    harness_start_t start = {.data_dir = data_dir, .extra_args = extra_args};
    return harness_node_start_with(&start);
}

harness_node_t *harness_node_start_with(const harness_start_t *start) {
    harness_node_t *node = s_node_new(start);
    s_choose_port(node);
    if (s_start_on_some_port(node) != 0)
        harness_node_destroy(&node);
    return node;
}

harness_node_t *harness_node_up(const char *const *extra_args) {
    harness_node_t *node = harness_node_start(NULL, extra_args);
    HARNESS_CHECK(node);
    return node;
}

harness_node_t *harness_node_up_identity(const char *const *extra_args) {
    harness_start_t start = {.extra_args = extra_args};
    harness_node_t *node = s_node_new(&start);
    char *password = zsys_sprintf("%s/identity-password", node->temp_dir);
    FILE *file = fopen(password, "w");
    HARNESS_CHECK(file && fputs("harness password", file) >= 0);
    fclose(file);
    node->password_arg = zsys_sprintf("--identity-password-file=%s", password);
    char *data_arg = zsys_sprintf("--data-dir=%s", node->data_dir);
    const char *args[] = {"identity", "init", data_arg, node->password_arg, NULL};
    harness_run_t run = harness_run(harness_cairnd_path(), args, NULL, READY_TIMEOUT_MS);
    if (run.status != 0)
        fprintf(stderr, "cairnd identity init: %s", run.err);
    HARNESS_CHECK(run.status == 0 && strlen(run.out) == 65 && run.out[64] == '\n');
    memcpy(node->peer_id, run.out, 64);
    harness_run_free(&run);
    zstr_free(&data_arg);
    zstr_free(&password);
    int count = 0;
    while (node->extra[count])
        count++;
    HARNESS_CHECK(count < MAX_EXTRA_ARGS);
    node->extra[count] = node->password_arg;
    s_choose_port(node);
    HARNESS_CHECK(s_start_on_some_port(node) == 0);
    return node;
}

const char *harness_node_peer_id(harness_node_t *node) {
    return node->peer_id;
}

void harness_node_down(harness_node_t **node_p) {
    HARNESS_CHECK(harness_node_stop(*node_p) == 0);
    harness_node_destroy(node_p);
}

//  The endpoint may change (see s_start_on_some_port): callers read
//  harness_node_endpoint again after a restart.
void harness_session_down(ca_caller_t **caller_p, zsock_t **client_p, harness_node_t **node_p) {
    ca_caller_destroy(caller_p);
    zsock_destroy(client_p);
    harness_node_down(node_p);
}

void harness_session_reopen(harness_node_t *node, zsock_t **client_p, ca_caller_t **caller_p) {
    HARNESS_CHECK(harness_node_restart(node) == 0);
    *client_p = harness_connect(harness_node_endpoint(node));
    *caller_p = ca_caller_new_socket(*client_p, HARNESS_CALL_MS);
}

void harness_session_restart(harness_node_t *node, zsock_t **client_p, ca_caller_t **caller_p) {
    ca_caller_destroy(caller_p);
    zsock_destroy(client_p);
    HARNESS_CHECK(harness_node_stop(node) == 0);
    harness_session_reopen(node, client_p, caller_p);
}

int harness_node_restart(harness_node_t *node) {
    assert(node->pid == 0);
    return s_start_on_some_port(node);
}

const char *harness_node_endpoint(harness_node_t *node) {
    return node->endpoint;
}

const char *harness_node_data_dir(harness_node_t *node) {
    return node->data_dir;
}

const char *harness_node_log_path(harness_node_t *node) {
    return node->log_path;
}

bool harness_node_log_has(harness_node_t *node, const char *text) {
    FILE *file = fopen(node->log_path, "r");
    if (!file)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, file))
        found = strstr(line, text) != NULL;
    fclose(file);
    return found;
}

bool harness_node_wait_log(harness_node_t *node, const char *text, int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    bool found = harness_node_log_has(node, text);
    while (!found && zclock_mono() < deadline) {
        zclock_sleep(20); //  polling a file: nothing to wait on
        found = harness_node_log_has(node, text);
    }
    return found;
}

pid_t harness_node_pid(harness_node_t *node) {
    return node->pid;
}

int harness_node_memory(harness_node_t *node, uint64_t *rss_kib, uint64_t *peak_kib) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)node->pid);
    FILE *file = node->pid > 0 ? fopen(path, "r") : NULL;
    if (!file)
        return -1;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, file)) {
        unsigned long long kib;
        if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
            *rss_kib = kib;
            found++;
        } else if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
            *peak_kib = kib;
            found++;
        }
    }
    fclose(file);
    return found == 2 ? 0 : -1;
}

int harness_node_reset_peak(harness_node_t *node) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)node->pid);
    FILE *file = node->pid > 0 ? fopen(path, "w") : NULL;
    if (!file)
        return -1;
    bool written = fputs("5", file) >= 0;
    return fclose(file) == 0 && written ? 0 : -1;
}

int harness_wait_child(pid_t pid, int timeout_ms, int *status) {
    int fd = pidfd_open(pid, 0);
    if (fd < 0)
        return -1;
    struct pollfd item = {fd, POLLIN, 0};
    int64_t deadline = zclock_mono() + timeout_ms;
    int rc = 0;
    int64_t remaining;
    while ((remaining = deadline - zclock_mono()) > 0 &&
           (rc = poll(&item, 1, (int)remaining)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (rc != 1)
        return -1;
    return waitpid(pid, status, 0) == pid ? 0 : -1;
}

int harness_node_stop(harness_node_t *node) {
    if (node->pid <= 0)
        return -1;
    kill(node->pid, SIGTERM);
    int status = 0;
    if (harness_wait_child(node->pid, STOP_TIMEOUT_MS, &status) != 0) {
        fprintf(stderr, "harness: cairnd %d did not stop within %d ms; killing it\n",
                (int)node->pid, STOP_TIMEOUT_MS);
        harness_node_kill9(node);
        s_print_log(node);
        return -1;
    }
    node->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        s_print_log(node);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void harness_node_kill9(harness_node_t *node) {
    if (node->pid <= 0)
        return;
    kill(node->pid, SIGKILL);
    int status;
    waitpid(node->pid, &status, 0);
    node->pid = 0;
}

void harness_node_destroy(harness_node_t **node_p) {
    harness_node_t *node = *node_p;
    if (!node)
        return;
    if (node->pid > 0)
        harness_node_stop(node);
    ca_test_rmtree(node->temp_dir);
    zstr_free(&node->temp_dir);
    zstr_free(&node->data_dir);
    zstr_free(&node->log_path);
    zstr_free(&node->endpoint);
    zstr_free(&node->port_arg);
    zstr_free(&node->bind_host);
    zstr_free(&node->password_arg);
    free(node);
    *node_p = NULL;
}

//  ---- client side -------------------------------------------------------------

zsock_t *harness_connect(const char *endpoint) {
    return harness_connect_curve(endpoint, NULL);
}

zsock_t *harness_connect_curve(const char *endpoint, const harness_curve_t *curve) {
    zsock_t *client = zsock_new(ZMQ_DEALER);
    zsock_set_linger(client, 0);
    zsock_set_sndhwm(client, 0);
    zsock_set_rcvhwm(client, 0);
    if (curve)
        ca_curve_key_apply_client(&curve->client, curve->server_public, client);
    zsock_connect(client, "%s", endpoint);
    return client;
}

zsock_t *harness_node_connect(harness_node_t *node) {
    return harness_connect_curve(node->endpoint, node->has_curve ? &node->curve : NULL);
}

int harness_send(zsock_t *client, const Cairn__Request *request) {
    return ca_caller_send(client, request);
}

Cairn__Response *harness_recv(zsock_t *client, int timeout_ms) {
    return ca_caller_recv(client, timeout_ms);
}

Cairn__Response *harness_call(zsock_t *client, const Cairn__Request *request, int timeout_ms) {
    return ca_caller_exchange(client, request, timeout_ms);
}

Cairn__Response *harness_request(zsock_t *client, Cairn__Request *request) {
    request->id = ca_caller_next_id();
    Cairn__Response *response = ca_caller_exchange(client, request, HARNESS_CALL_MS);
    HARNESS_CHECK(response);
    return response;
}

void harness_subscribe_ack(zsock_t *client, uint64_t subscription, uint64_t cursor) {
    Cairn__MessageSubscribeAck ack = CAIRN__MESSAGE_SUBSCRIBE_ACK__INIT;
    ack.subscription_id = subscription;
    ack.cursor = cursor;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = ca_caller_next_id();
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_SUBSCRIBE_ACK;
    request.message_subscribe_ack = &ack;
    HARNESS_CHECK(harness_send(client, &request) == 0);
}

void harness_expect_alive(zsock_t *client) {
    Cairn__Request request;
    Cairn__Ping ping;
    ca_request_ping(&request, &ping, 0);
    cairn__response__free_unpacked(
        harness_expect(harness_request(client, &request), CAIRN__STATUS__OK, NULL), NULL);
}

const Cairn__ActorInfo *harness_info_actor(const Cairn__InfoReply *info, const char *name) {
    for (size_t i = 0; i < info->n_actors; i++)
        if (streq(info->actors[i]->name, name))
            return info->actors[i];
    return NULL;
}

const Cairn__ActorInfo *harness_pool_info(zsock_t *client, const char *name,
                                          Cairn__Response **response_p) {
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 0);
    *response_p = harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_INFO);
    const Cairn__ActorInfo *actor = harness_info_actor((*response_p)->info, name);
    if (!actor) {
        fprintf(stderr, "Info lists no pool '%s'\n", name);
        abort();
    }
    return actor;
}

//  ---- running other programs ---------------------------------------------------

typedef struct {
    int fd;
    char *data;
    size_t size;
} capture_t;

//  Reads what is there; closes the fd at EOF.
static void s_capture_read(capture_t *capture) {
    char buffer[4096];
    ssize_t got = read(capture->fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR)
        return;
    if (got <= 0) {
        close(capture->fd);
        capture->fd = -1;
        return;
    }
    capture->data = (char *)realloc(capture->data, capture->size + (size_t)got + 1);
    memcpy(capture->data + capture->size, buffer, (size_t)got);
    capture->size += (size_t)got;
    capture->data[capture->size] = '\0';
}

//  Reads both pipes until both reach EOF or the deadline passes.
static void s_capture_all(capture_t *captures, int64_t deadline) {
    while (captures[0].fd >= 0 || captures[1].fd >= 0) {
        int64_t remaining = deadline - zclock_mono();
        if (remaining <= 0)
            return;
        struct pollfd items[2] = {{captures[0].fd, POLLIN, 0}, {captures[1].fd, POLLIN, 0}};
        int rc = poll(items, 2, (int)remaining);
        if (rc < 0 && errno != EINTR)
            return;
        for (int i = 0; rc > 0 && i < 2; i++)
            if (items[i].revents)
                s_capture_read(&captures[i]);
    }
}

//  True when environment entry `entry` ("NAME=value") names `name_or_pair`'s
//  variable ("NAME" or "NAME=...").
static bool s_same_variable(const char *entry, const char *name_or_pair) {
    size_t length = strcspn(name_or_pair, "=");
    return strncmp(entry, name_or_pair, length) == 0 && entry[length] == '=';
}

//  The child's environment: ours, edited by `changes`. Built before fork,
//  so the child only calls async-signal-safe functions. Free the array only.
static char **s_child_environ(const char *const *changes) {
    size_t count = 0, extra = 0;
    while (environ[count])
        count++;
    while (changes && changes[extra])
        extra++;
    char **env = (char **)calloc(count + extra + 1, sizeof(char *));
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        bool changed = false;
        for (size_t c = 0; c < extra && !changed; c++)
            changed = s_same_variable(environ[i], changes[c]);
        if (!changed)
            env[used++] = environ[i];
    }
    for (size_t c = 0; c < extra; c++)
        if (strchr(changes[c], '='))
            env[used++] = (char *)changes[c];
    return env;
}

//  argv for `path` with the NULL-terminated `args`, into `argv` (room for
//  MAX_EXTRA_ARGS + 2).
static void s_child_argv(const char *path, const char *const *args, const char **argv) {
    int argc = 0;
    argv[argc++] = path;
    for (int i = 0; args && args[i]; i++) {
        //  A test that passes more would silently run something else.
        HARNESS_CHECK(argc <= MAX_EXTRA_ARGS);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
}

//  Reaps child `pid` by the deadline, or kills it: its exit status, or -1
//  when it died of a signal or had to be killed.
static int s_reap(const char *path, pid_t pid, int64_t deadline) {
    int64_t remaining = deadline - zclock_mono();
    int status = 0;
    if (harness_wait_child(pid, remaining > 0 ? (int)remaining : 0, &status) == 0)
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    fprintf(stderr, "harness: %s (pid %d) did not exit in time; killing it\n", path, (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

harness_run_t harness_run(const char *path, const char *const *args, const char *const *env_changes,
                          int timeout_ms) {
    const char *argv[MAX_EXTRA_ARGS + 2];
    s_child_argv(path, args, argv);
    char **env = s_child_environ(env_changes);
    int out_pipe[2], err_pipe[2];
    int rc = pipe2(out_pipe, O_CLOEXEC);
    assert(rc == 0);
    rc = pipe2(err_pipe, O_CLOEXEC);
    assert(rc == 0);
    int64_t started = zclock_mono();
    pid_t pid = fork();
    assert(pid >= 0);
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        dup2(null_fd, STDIN_FILENO);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        execve(path, (char *const *)argv, env);
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    free(env);
    int64_t deadline = started + timeout_ms;
    capture_t captures[2] = {{out_pipe[0], strdup(""), 0}, {err_pipe[0], strdup(""), 0}};
    s_capture_all(captures, deadline);
    for (int i = 0; i < 2; i++)
        if (captures[i].fd >= 0)
            close(captures[i].fd);
    harness_run_t run = {-1, captures[0].data, captures[1].data, 0};
    run.status = s_reap(path, pid, deadline);
    run.elapsed_ms = zclock_mono() - started;
    return run;
}

//  Reads from the pty master until `marker` shows after `*seen` (NULL:
//  until EOF), EOF, or the deadline; appends to *text. True when the
//  marker showed.
static bool s_pty_wait_for(int master, char **text, size_t *seen, const char *marker,
                           int64_t deadline) {
    while (true) {
        char *found = marker ? strstr(*text + *seen, marker) : NULL;
        if (found) {
            *seen = (size_t)(found - *text) + strlen(marker);
            return true;
        }
        int64_t remaining = deadline - zclock_mono();
        struct pollfd item = {master, POLLIN, 0};
        if (remaining <= 0 || poll(&item, 1, (int)remaining) <= 0)
            return false;
        char chunk[512];
        ssize_t got = read(master, chunk, sizeof chunk);
        if (got <= 0) //  EIO once the child closed the terminal
            return false;
        size_t length = strlen(*text);
        *text = (char *)realloc(*text, length + (size_t)got + 1);
        memcpy(*text + length, chunk, (size_t)got);
        (*text)[length + (size_t)got] = '\0';
    }
}

//  Waits for `text` on the terminal; says so, with the transcript, when it
//  does not show.
static bool s_pty_expect(int master, harness_pty_run_t *run, size_t *seen, const char *text,
                         int64_t deadline) {
    if (s_pty_wait_for(master, &run->transcript, seen, text, deadline))
        return true;
    fprintf(stderr, "harness: '%s' never showed on the terminal; transcript:\n%s\n", text,
            run->transcript);
    return false;
}

harness_pty_run_t harness_run_on_pty(const char *path, const char *const *args,
                                     const char *const *env_changes, const char *const *prompts,
                                     const char *const *replies, const char *running,
                                     int timeout_ms) {
    const char *argv[MAX_EXTRA_ARGS + 2];
    s_child_argv(path, args, argv);
    char **env = s_child_environ(env_changes);
    int master = -1;
    int64_t deadline = zclock_mono() + timeout_ms;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    HARNESS_CHECK(pid >= 0);
    if (pid == 0) {
        execve(path, (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    harness_pty_run_t run = {-1, strdup("")};
    size_t seen = 0;
    bool going = true;
    for (size_t i = 0; going && prompts && prompts[i]; i++) {
        going = s_pty_expect(master, &run, &seen, prompts[i], deadline);
        HARNESS_CHECK(going);
        if (going)
            HARNESS_CHECK(write(master, replies[i], strlen(replies[i])) ==
                          (ssize_t)strlen(replies[i]));
    }
    if (going && running) {
        HARNESS_CHECK(s_pty_expect(master, &run, &seen, running, deadline));
        kill(pid, SIGTERM);
    }
    s_pty_wait_for(master, &run.transcript, &seen, NULL, deadline);
    close(master);
    run.status = s_reap(path, pid, deadline);
    return run;
}

void harness_run_free(harness_run_t *run) {
    free(run->out);
    free(run->err);
    run->out = run->err = NULL;
}

bool harness_cairnd_expect(const char *const *args, int expected, const char *fragment,
                           int timeout_ms, char **out_p) {
    harness_run_t run = harness_run(harness_cairnd_path(), args, NULL, timeout_ms);
    bool ok = run.status == expected &&
              (!fragment || strstr(run.out, fragment) || strstr(run.err, fragment));
    if (!ok)
        fprintf(stderr, "cairnd %s %s: exit %d (expected %d, with '%s')\nstdout: %s\nstderr: %s\n",
                args[0], args[1] ? args[1] : "", run.status, expected, fragment ? fragment : "",
                run.out, run.err);
    if (out_p)
        *out_p = strdup(run.out);
    harness_run_free(&run);
    return ok;
}

//  ---- test programs ----------------------------------------------------------------

Cairn__Response *harness_expect(Cairn__Response *response, Cairn__Status status,
                                const char *fragment) {
    return ca_response_expect(response, status, fragment);
}

Cairn__Response *harness_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    return ca_response_ok(response, body_case);
}

void harness_fails(Cairn__Response *response, Cairn__Status status, const char *fragment) {
    ca_response_fails(response, status, fragment);
}

void harness_fails_raw(zsock_t *client, const void *data, size_t size, uint64_t id,
                       const char *fragment) {
    zframe_t *frame = zframe_new(data, size);
    CA_CHECK(zframe_send(&frame, client, 0) == 0);
    Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
    CA_CHECK(response && response->id == id);
    harness_fails(response, CAIRN__STATUS__INVALID, fragment);
}

int harness_main(int argc, char **argv, const char *prefix, const harness_test_t *tests,
                 size_t count) {
    if (argc == 2 && streq(argv[1], "--list")) {
        for (size_t i = 0; i < count; i++)
            printf("%s.%s %s\n", prefix, tests[i].name, tests[i].name);
        return 0;
    }
    zsys_init();
    for (size_t i = 0; i < count; i++)
        if (argc < 2 || streq(argv[1], tests[i].name)) {
            fprintf(stderr, "%s.%s\n", prefix, tests[i].name);
            tests[i].run();
            if (argc >= 2)
                return 0;
        }
    if (argc >= 2) {
        fprintf(stderr, "unknown test '%s'\n", argv[1]);
        return 1;
    }
    return 0;
}

/*  =========================================================================
    e2e_metrics - black-box tests of the metrics endpoint (metrics_endpoint:
    Prometheus text on GET /metrics)

        e2e-metrics TEST      runs one test (ctest registers each by name)

    A real cairnd on free loopback ports. Scrapes go over plain TCP; the
    exposition is parsed by Debian's python3-prometheus-client
    (tests/metrics_scrape.py, text_string_to_metric_families), so it is
    checked by a parser that is not ours. Waits are polls with deadlines.
    ========================================================================= */

#include "harness.h"
#include "ca_limits.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK   HARNESS_CHECK
#define RUN_MS  30000
#define WAIT_MS 10000

//  ---- helpers ------------------------------------------------------------------

typedef struct {
    harness_node_t *node;
    zsock_t *client;
    ca_caller_t *caller;
    int port; //  the metrics endpoint's
} fixture_t;

static fixture_t s_up(void) {
    fixture_t f = {0};
    f.port = harness_free_port();
    char *arg = zsys_sprintf("--metrics-endpoint=tcp://127.0.0.1:%d", f.port);
    const char *args[] = {arg, NULL};
    f.node = harness_node_up(args);
    zstr_free(&arg);
    f.client = harness_connect(harness_node_endpoint(f.node));
    f.caller = ca_caller_new_socket(f.client, HARNESS_CALL_MS);
    return f;
}

static void s_down(fixture_t *f) {
    harness_session_down(&f->caller, &f->client, &f->node);
}

//  A scrape parsed by prometheus_client: the script's lines ("TYPE name
//  type", "SAMPLE name labels value"). Caller frees.
static char *s_scrape(int port) {
    char *port_text = zsys_sprintf("%d", port);
    const char *args[] = {CAIRN_SOURCE_DIR "/tests/metrics_scrape.py", port_text, NULL};
    harness_run_t run = harness_run(CAIRN_PYTHON, args, NULL, RUN_MS);
    zstr_free(&port_text);
    if (run.status != 0)
        printf("metrics_scrape.py failed (%d): %s\n", run.status, run.err);
    CHECK(run.status == 0);
    char *out = run.out;
    run.out = NULL;
    harness_run_free(&run);
    return out;
}

//  The value of sample `name` with `labels` ("store=config", "-": none) in
//  a scrape; the test fails when it is missing.
static double s_value(const char *scrape, const char *name, const char *labels) {
    char *prefix = zsys_sprintf("SAMPLE %s %s ", name, labels);
    const char *at = strstr(scrape, prefix);
    if (!at)
        printf("no sample %s in the scrape\n", prefix);
    CHECK(at);
    double value = strtod(at + strlen(prefix), NULL);
    zstr_free(&prefix);
    return value;
}

//  Whether `answer` (`size` bytes) is a whole HTTP answer: its head and
//  Content-Length bytes of body.
static bool s_complete(const char *answer, size_t size) {
    char *text = zsys_sprintf("%.*s", (int)size, answer);
    const char *end = strstr(text, "\r\n\r\n");
    const char *length = strstr(text, "Content-Length: ");
    bool whole = end && length && strlen(end + 4) >= strtoul(length + 16, NULL, 10);
    zstr_free(&text);
    return whole;
}

//  Sends `request` on a new connection to the endpoint and returns its
//  answer once whole, or what came before the node closed (caller frees);
//  NULL when neither came in time. With `wait_close`, the connection is
//  kept open after a whole answer until the node closes it, which must
//  happen within CA_METRICS_LINGER_MS (and a margin).
static char *s_http_with(int port, const char *request, size_t size, bool wait_close) {
    int fd = harness_tcp_connect(port, WAIT_MS);
    CHECK(fd >= 0);
    CHECK(harness_tcp_write_all(fd, request, size, WAIT_MS));
    zchunk_t *answer = zchunk_new(NULL, 0);
    int64_t deadline = zclock_mono() + WAIT_MS;
    bool closed = false, whole = false;
    while (!closed && !(whole && !wait_close) && zclock_mono() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        char buffer[4096];
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got > 0) {
            zchunk_extend(answer, buffer, (size_t)got);
            whole = s_complete((const char *)zchunk_data(answer), zchunk_size(answer));
            if (whole && wait_close) //  the node's linger runs from here
                deadline = zclock_mono() + CA_METRICS_LINGER_MS + WAIT_MS;
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR))
            closed = true;
    }
    close(fd);
    if (wait_close)
        CHECK(closed);
    char *text = closed || whole
                     ? zsys_sprintf("%.*s", (int)zchunk_size(answer), zchunk_data(answer))
                     : NULL;
    zchunk_destroy(&answer);
    return text;
}

static char *s_http(int port, const char *request, size_t size) {
    return s_http_with(port, request, size, false);
}

static void s_http_expect(int port, const char *request, const char *fragment) {
    char *answer = s_http(port, request, strlen(request));
    CHECK(answer);
    if (!strstr(answer, fragment))
        printf("%s -> %s\n", request, answer);
    CHECK(strstr(answer, fragment));
    zstr_free(&answer);
}

//  Listening TCP sockets of process `pid` (its descriptors' inodes found
//  among /proc/net/tcp{,6} rows in state 0A, LISTEN).
static int s_listening(pid_t pid) {
    char *dir_path = zsys_sprintf("/proc/%d/fd", (int)pid);
    DIR *dir = opendir(dir_path);
    CHECK(dir);
    zlist_t *inodes = zlist_new();
    zlist_autofree(inodes);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        char *path = zsys_sprintf("%s/%s", dir_path, entry->d_name);
        char link[128] = "";
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0 && strncmp(link, "socket:[", 8) == 0) {
            link[n - 1] = 0; //  the ']'
            zlist_append(inodes, link + 8);
        }
        zstr_free(&path);
    }
    closedir(dir);
    zstr_free(&dir_path);
    int count = 0;
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t t = 0; t < 2; t++) {
        FILE *file = fopen(tables[t], "r");
        if (!file)
            continue;
        char line[512];
        while (fgets(line, sizeof line, file)) {
            char state[8] = "", inode[32] = "";
            if (sscanf(line, "%*s %*s %*s %7s %*s %*s %*s %*s %*s %31s", state, inode) != 2 ||
                !streq(state, "0A"))
                continue;
            for (const char *known = (const char *)zlist_first(inodes); known;
                 known = (const char *)zlist_next(inodes))
                count += streq(known, inode);
        }
        fclose(file);
    }
    zlist_destroy(&inodes);
    return count;
}

//  ---- tests ----------------------------------------------------------------------

//  Scrapes parse; the config store's request counter grows by the number
//  of ConfigSets made, its latency histogram counts them, the writer's
//  figures move, and a BUSY-free node shows no errors.
static void test_scrape(void) {
    fixture_t f = s_up();
    char *before = s_scrape(f.port);
    CHECK(strstr(before, "TYPE cairn_store_requests counter\n"));
    CHECK(strstr(before, "TYPE cairn_store_latency_seconds histogram\n"));
    CHECK(strstr(before, "TYPE cairn_store_queue_depth gauge\n"));
    CHECK(strstr(before, "TYPE cairn_writer_batches counter\n"));
    CHECK(s_value(before, "cairn_client_connections", "-") >= 1);
    double requests = s_value(before, "cairn_store_requests_total", "store=config");
    double timed = s_value(before, "cairn_store_latency_seconds_count", "store=config");
    double writes = s_value(before, "cairn_writer_writes_total", "-");
    double batches = s_value(before, "cairn_writer_batches_total", "-");
    const int sets = 7;
    for (int i = 0; i < sets; i++) {
        char key[32];
        snprintf(key, sizeof key, "metrics/key%d", i);
        Cairn__Request request;
        Cairn__ConfigSet set;
        ca_request_config_set(&request, &set, 0, key, "value");
        cairn__response__free_unpacked(
            harness_ok(harness_request(f.client, &request), CAIRN__RESPONSE__BODY_CONFIG_SET),
            NULL);
    }
    char *after = s_scrape(f.port);
    CHECK(s_value(after, "cairn_store_requests_total", "store=config") == requests + sets);
    CHECK(s_value(after, "cairn_store_errors_total", "store=config") == 0);
    CHECK(s_value(after, "cairn_store_busy_total", "store=config") == 0);
    CHECK(s_value(after, "cairn_store_queue_depth", "store=config") == 0);
    CHECK(s_value(after, "cairn_store_latency_seconds_count", "store=config") == timed + sets);
    CHECK(s_value(after, "cairn_store_latency_seconds_bucket", "le=+Inf,store=config") ==
          timed + sets);
    CHECK(s_value(after, "cairn_store_latency_seconds_sum", "store=config") > 0);
    //  The writer's figures are asked for at each scrape: already counted.
    CHECK(s_value(after, "cairn_writer_writes_total", "-") >= writes + sets);
    CHECK(s_value(after, "cairn_writer_batches_total", "-") > batches);
    CHECK(s_value(after, "cairn_db_bytes", "-") + s_value(after, "cairn_wal_bytes", "-") > 0);
    CHECK(s_value(after, "cairn_store_workers", "store=config") >= 1);
    zstr_free(&before);
    zstr_free(&after);
    s_down(&f);
}

//  Other paths 404, other methods 405, malformed heads 400, oversized 431;
//  the node serves on.
static void test_http_errors(void) {
    fixture_t f = s_up();
    s_http_expect(f.port, "GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n");
    s_http_expect(f.port, "GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 ");
    s_http_expect(f.port, "DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 ");
    s_http_expect(f.port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "Allow: GET");
    s_http_expect(f.port, "hello there\r\n\r\n", "HTTP/1.1 400 ");
    s_http_expect(f.port, "GET /metrics\r\n\r\n", "HTTP/1.1 400 ");
    s_http_expect(f.port, "GET /metrics HTTP/2.0\r\n\r\n", "HTTP/1.1 400 ");
    char nul[] = "GET /metrics HTTP/1.1\r\n\0\r\n\r\n";
    char *answer = s_http(f.port, nul, sizeof nul - 1);
    CHECK(answer && strstr(answer, "HTTP/1.1 400 "));
    zstr_free(&answer);
    size_t big = CA_METRICS_REQUEST_MAX + 100;
    char *huge = (char *)malloc(big);
    memset(huge, 'A', big);
    answer = s_http(f.port, huge, big);
    CHECK(answer && strstr(answer, "HTTP/1.1 431 "));
    zstr_free(&answer);
    free(huge);
    //  A client that does not close after the answer is closed by the node.
    int64_t started = zclock_mono();
    const char *get = "GET /metrics HTTP/1.1\r\n\r\n";
    answer = s_http_with(f.port, get, strlen(get), true);
    CHECK(answer && strstr(answer, "HTTP/1.1 200 OK\r\n"));
    CHECK(zclock_mono() - started >= CA_METRICS_LINGER_MS - 100);
    zstr_free(&answer);
    //  A bare LF head is accepted, and the query string ignored.
    s_http_expect(f.port, "GET /metrics?debug=1 HTTP/1.0\n\n", "cairn_uptime_seconds ");
    harness_expect_alive(f.client);
    char *scrape = s_scrape(f.port);
    zstr_free(&scrape);
    s_down(&f);
}

//  A client that never ends its head is dropped after the timeout, and
//  others are served meanwhile; connections beyond the cap are closed at
//  once.
static void test_slow_client(void) {
    fixture_t f = s_up();
    int slow = harness_tcp_connect(f.port, WAIT_MS);
    CHECK(slow >= 0);
    const char *partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    CHECK(harness_tcp_write_all(slow, partial, strlen(partial), WAIT_MS));
    int64_t started = zclock_mono();
    char *scrape = s_scrape(f.port);
    zstr_free(&scrape);
    CHECK(harness_tcp_reads_eof(slow, CA_METRICS_REQUEST_TIMEOUT_MS + WAIT_MS));
    int64_t took = zclock_mono() - started;
    CHECK(took >= CA_METRICS_REQUEST_TIMEOUT_MS - 100);
    char got;
    CHECK(read(slow, &got, 1) <= 0); //  no answer came before the close
    close(slow);

    //  The cap: CA_METRICS_CONNECTIONS idle ones, then one more is closed
    //  well before the timeout.
    int idle[CA_METRICS_CONNECTIONS];
    for (int i = 0; i < CA_METRICS_CONNECTIONS; i++) {
        idle[i] = harness_tcp_connect(f.port, WAIT_MS);
        CHECK(idle[i] >= 0);
    }
    int extra = harness_tcp_connect(f.port, WAIT_MS);
    CHECK(extra >= 0);
    started = zclock_mono();
    CHECK(harness_tcp_reads_eof(extra, WAIT_MS));
    CHECK(zclock_mono() - started < CA_METRICS_REQUEST_TIMEOUT_MS);
    close(extra);
    for (int i = 0; i < CA_METRICS_CONNECTIONS; i++) {
        CHECK(harness_tcp_reads_eof(idle[i], CA_METRICS_REQUEST_TIMEOUT_MS + WAIT_MS));
        close(idle[i]);
    }
    //  Once they are gone, scrapes are served again.
    scrape = s_scrape(f.port);
    zstr_free(&scrape);
    harness_expect_alive(f.client);
    s_down(&f);
}

//  Without metrics_endpoint nothing more listens than the client endpoint;
//  with it, one more socket does. Endpoints that are not tcp are refused.
static void test_off_by_default(void) {
    HARNESS_SESSION_UP(NULL);
    CHECK(s_listening(harness_node_pid(node)) == 1);
    harness_session_down(&caller, &client, &node);
    fixture_t f = s_up();
    CHECK(s_listening(harness_node_pid(f.node)) == 2);
    s_down(&f);
    const char *bad[] = {"--metrics-endpoint=127.0.0.1:9464", "--metrics-endpoint=ipc:///tmp/m",
                         "--metrics-endpoint=tcp://127.0.0.1:0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {bad[i], "--print-config", NULL};
        harness_run_t run = harness_run(harness_cairnd_path(), args, NULL, RUN_MS);
        CHECK(run.status == 2 && strstr(run.err, "metrics_endpoint must be"));
        harness_run_free(&run);
    }
}

static const harness_test_t s_tests[] = {
    {"scrape", test_scrape},
    {"http_errors", test_http_errors},
    {"slow_client", test_slow_client},
    {"off_by_default", test_off_by_default},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.metrics", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

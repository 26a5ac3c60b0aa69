/*  =========================================================================
    e2e_logs - the node's log lines, the slow-request log and SIGHUP,
    through a real cairnd

        e2e-logs TEST      runs one test (ctest registers each by name)

    json_lines: with --log-format=json every line of the node's log is one
    JSON object (ts, level, actor, msg), among them main's (cairnd) and
    the writer's. text_actor: text lines carry [actor]. slow_request: a
    big content put against a 1 ms threshold is logged as slow, with its
    kind, pool and request id (and "req" in JSON); with the threshold at 0
    nothing is. The SIGHUP tests keep their settings in a config file,
    change it, send SIGHUP and poll the log (with a deadline) for what the
    node says: a new log level takes effect, a new log format too, a
    setting read only at start is named "restart required", and a file
    that does not load changes nothing and says why.
    ========================================================================= */

#include "harness.h"
#include "ca_caller.h"
#include "ca_request.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK       HARNESS_CHECK
#define LOG_WAIT_MS 10000 //  a generous bound: the node logs within milliseconds

static uint64_t s_next_id = 1;

//  The node's log so far, NUL-terminated (free).
static char *s_log_text(harness_node_t *node) {
    FILE *file = fopen(harness_node_log_path(node), "r");
    CHECK(file);
    zchunk_t *chunk = zchunk_read(file, 64 * 1024 * 1024);
    fclose(file);
    CHECK(chunk);
    char *text = (char *)malloc(zchunk_size(chunk) + 1);
    CHECK(text);
    memcpy(text, zchunk_data(chunk), zchunk_size(chunk));
    text[zchunk_size(chunk)] = 0;
    zchunk_destroy(&chunk);
    return text;
}

//  How many lines of the log contain `text`.
static size_t s_log_count(harness_node_t *node, const char *text) {
    char *log = s_log_text(node);
    size_t count = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
        count += strstr(line, text) != NULL;
    free(log);
    return count;
}

//  Polls the log until `count` lines contain `text` (LOG_WAIT_MS).
static void s_wait_log(harness_node_t *node, const char *text, size_t count) {
    int64_t deadline = zclock_mono() + LOG_WAIT_MS;
    while (s_log_count(node, text) < count) {
        if (zclock_mono() > deadline) {
            char *log = s_log_text(node);
            fprintf(stderr, "%s---- the node's log never had %zu line(s) with '%s'\n", log, count,
                    text);
            free(log);
            CHECK(false);
        }
        zclock_sleep(20); //  polling a file: nothing to wait on
    }
}

//  Every line of the log is a JSON object with ts, level, actor and msg;
//  returns how many there are, and in *actors_p whether `actor` appeared.
static size_t s_check_json_log(harness_node_t *node, const char *actor, bool *seen) {
    char *log = s_log_text(node);
    size_t lines = 0;
    *seen = false;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t error;
        json_t *object = json_loads(line, 0, &error);
        if (!object)
            fprintf(stderr, "not JSON: %s (%s)\n", line, error.text);
        CHECK(json_is_object(object));
        CHECK(json_is_string(json_object_get(object, "ts")));
        CHECK(json_is_string(json_object_get(object, "level")));
        CHECK(json_is_string(json_object_get(object, "actor")));
        CHECK(json_is_string(json_object_get(object, "msg")));
        if (streq(json_string_value(json_object_get(object, "actor")), actor))
            *seen = true;
        json_decref(object);
        lines++;
    }
    free(log);
    return lines;
}

//  Puts `size` bytes of content with request id `id`.
static void s_put(zsock_t *client, size_t size, uint64_t id) {
    uint8_t *data = (uint8_t *)malloc(size);
    CHECK(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 131 + id);
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, id, data, size, NULL, 0);
    Cairn__Response *response = harness_ok(harness_call(client, &request, HARNESS_CALL_MS),
                                           CAIRN__RESPONSE__BODY_CONTENT_PUT);
    cairn__response__free_unpacked(response, NULL);
    free(data);
}

static void test_json_lines(void) {
    const char *args[] = {"--log-format=json", "--log-level=debug", NULL};
    HARNESS_SESSION_UP(args);
    harness_expect_alive(client);
    s_put(client, 1000, s_next_id++);
    s_wait_log(node, "\"actor\":\"cairn-writer\"", 1);
    bool seen;
    CHECK(s_check_json_log(node, "cairnd", &seen) > 3 && seen);
    s_check_json_log(node, "cairn-writer", &seen);
    CHECK(seen);
    harness_session_down(&caller, &client, &node);
}

static void test_text_actor(void) {
    HARNESS_SESSION_UP(NULL);
    harness_expect_alive(client);
    s_wait_log(node, "[cairnd] cairnd: file descriptor limit", 1);
    s_wait_log(node, "[cairn-writer] writer: ", 1);
    harness_session_down(&caller, &client, &node);
}

static void test_slow_request(void) {
    const char *args[] = {"--log-format=json", "--slow-request-ms=1", NULL};
    HARNESS_SESSION_UP(args);
    uint64_t id = 4242;
    s_put(client, 8 * 1024 * 1024, id); //  hashed, written, committed: well over 1 ms
    s_wait_log(node, "slow request: content_put, pool content, request id 4242, answered after", 1);
    CHECK(s_log_count(node, "\"req\":4242") >= 1);
    bool seen;
    s_check_json_log(node, "cairnd", &seen);
    harness_session_down(&caller, &client, &node);

    const char *off[] = {"--slow-request-ms=0", NULL};
    node = harness_node_up(off);
    client = harness_connect(harness_node_endpoint(node));
    caller = ca_caller_new_socket(client, HARNESS_CALL_MS);
    s_put(client, 8 * 1024 * 1024, id);
    harness_expect_alive(client);
    CHECK(s_log_count(node, "slow request") == 0);
    harness_session_down(&caller, &client, &node);
}

//  ---- SIGHUP ---------------------------------------------------------------------

typedef struct {
    char *dir;
    char *path;
    harness_node_t *node;
} hup_t;

static void s_write_config(hup_t *hup, const char *text) {
    harness_write_file(hup->path, text);
}

static void s_hup_up(hup_t *hup, const char *config) {
    hup->dir = zsys_sprintf("/tmp/cairn-e2e-logs-%d-XXXXXX", (int)getpid());
    CHECK(mkdtemp(hup->dir));
    hup->path = zsys_sprintf("%s/cairn.cfg", hup->dir);
    s_write_config(hup, config);
    char *arg = zsys_sprintf("--config=%s", hup->path);
    const char *args[] = {arg, NULL};
    hup->node = harness_node_up(args);
    zstr_free(&arg);
}

static void s_hup(hup_t *hup) {
    CHECK(kill(harness_node_pid(hup->node), SIGHUP) == 0);
}

static void s_hup_down(hup_t *hup) {
    harness_node_down(&hup->node);
    unlink(hup->path);
    rmdir(hup->dir);
    zstr_free(&hup->path);
    zstr_free(&hup->dir);
}

static void test_sighup_level(void) {
    hup_t hup;
    s_hup_up(&hup, "node\n    log_level = warning\n");
    //  At warning, the start's info lines are not written.
    CHECK(s_log_count(hup.node, "file descriptor limit") == 0);
    s_write_config(&hup, "node\n    log_level = info\n");
    s_hup(&hup);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded (log_level info", 1);
    s_wait_log(hup.node, "SIGHUP: log_level changed, applied", 1);
    //  The first SIGHUP was received at warning (its info line unwritten);
    //  the next one at info.
    CHECK(s_log_count(hup.node, "received Hangup") == 0);
    s_hup(&hup);
    s_wait_log(hup.node, "received Hangup", 1);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded", 2);
    CHECK(s_log_count(hup.node, "restart required") == 0);
    s_hup_down(&hup);
}

static void test_sighup_format(void) {
    hup_t hup;
    s_hup_up(&hup, "node\n    log_format = text\n");
    s_write_config(&hup, "node\n    log_format = json\n    slow_request_ms = 0\n");
    s_hup(&hup);
    s_wait_log(hup.node, "{\"ts\":", 1);
    s_wait_log(hup.node,
               "\"msg\":\"cairnd: SIGHUP: configuration reloaded (log_level info, "
               "log_format json, slow_request_ms 0;",
               1);
    s_hup_down(&hup);
}

static void test_sighup_restart_required(void) {
    hup_t hup;
    s_hup_up(&hup, "stores\n    queue_max = 100\n");
    s_write_config(&hup, "stores\n    queue_max = 200\nclient\n    max_frame_bytes = 65536\n");
    s_hup(&hup);
    s_wait_log(hup.node, "restart required: queue_max", 1);
    s_wait_log(hup.node, "restart required: max_frame_bytes", 1);
    s_wait_log(hup.node, "2 setting(s) wait for a restart", 1);
    //  Still the settings it started with: a frame over 64 KiB is served.
    zsock_t *client = harness_connect(harness_node_endpoint(hup.node));
    s_put(client, 100000, s_next_id++);
    zsock_destroy(&client);
    s_hup_down(&hup);
}

static void test_sighup_bad_config(void) {
    hup_t hup;
    s_hup_up(&hup, "node\n    log_level = info\n");
    s_write_config(&hup, "node\n    log_level = error\n    log_levle = debug\n");
    s_hup(&hup);
    s_wait_log(hup.node,
               "SIGHUP: the configuration was not reloaded, every setting stays as it "
               "was",
               1);
    CHECK(s_log_count(hup.node, "log_levle") >= 1); //  says why
    //  Still at info: the next SIGHUP's info line is written.
    s_write_config(&hup, "node\n    log_level = loud\n");
    s_hup(&hup);
    s_wait_log(hup.node, "the configuration was not reloaded", 2);
    CHECK(s_log_count(hup.node, "received Hangup") == 2);
    //  The file gone: the same.
    unlink(hup.path);
    s_hup(&hup);
    s_wait_log(hup.node, "the configuration was not reloaded", 3);
    s_write_config(&hup, "node\n    log_level = info\n");
    zsock_t *client = harness_connect(harness_node_endpoint(hup.node));
    harness_expect_alive(client);
    zsock_destroy(&client);
    s_hup_down(&hup);
}

//  Info's cap on client connections (max_clients).
static uint32_t s_max_clients(zsock_t *client) {
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, s_next_id++);
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_INFO);
    uint32_t max = response->info->max_clients;
    cairn__response__free_unpacked(response, NULL);
    return max;
}

//  `count` ConfigSets sent back to back; how many were turned away BUSY
//  for too many requests in flight (the others must be OK).
static int s_burst_busy(zsock_t *client, int count) {
    for (int i = 0; i < count; i++) {
        Cairn__Request request;
        Cairn__ConfigSet set;
        ca_request_config_set(&request, &set, s_next_id++, "reload.burst", "v");
        CHECK(harness_send(client, &request) == 0);
    }
    int busy = 0;
    for (int i = 0; i < count; i++) {
        Cairn__Response *response = harness_recv(client, LOG_WAIT_MS);
        CHECK(response);
        if (response->status == CAIRN__STATUS__BUSY) {
            CHECK(strstr(response->error, "too many requests in flight"));
            busy++;
        } else
            CHECK(response->status == CAIRN__STATUS__OK);
        cairn__response__free_unpacked(response, NULL);
    }
    return busy;
}

//  SIGHUP applies the client limits at once: max_clients lowered to the
//  connections open closes the next one at accept (the open one stays
//  served) and raised lets it in again; client_in_flight_max lowered turns
//  a pipelined burst's excess away BUSY. None of it is "restart required".
static void test_sighup_client_limits(void) {
    hup_t hup;
    s_hup_up(&hup, "client\n    max_clients = 16\n");
    zsock_t *client = harness_connect(harness_node_endpoint(hup.node));
    ca_caller_t *caller = ca_caller_new_socket(client, HARNESS_CALL_MS);
    //  Only this client: the start's readiness check has gone.
    CHECK(harness_wait_clients(caller, 1, LOG_WAIT_MS) == 1);
    CHECK(s_burst_busy(client, 200) == 0);
    s_write_config(&hup, "client\n    max_clients = 1\n    in_flight_max = 1\n");
    s_hup(&hup);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded", 1);
    CHECK(s_log_count(hup.node, "SIGHUP: max_clients changed, applied") == 1);
    CHECK(s_log_count(hup.node, "SIGHUP: client_in_flight_max changed, applied") == 1);
    CHECK(s_max_clients(client) == 1);
    int fd = harness_tcp_connect(harness_node_port(hup.node), LOG_WAIT_MS);
    CHECK(fd >= 0);
    CHECK(harness_tcp_reads_eof(fd, LOG_WAIT_MS));
    close(fd);
    CHECK(s_burst_busy(client, 200) > 0);
    s_write_config(&hup, "client\n    max_clients = 4\n");
    s_hup(&hup);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded", 2);
    zsock_t *second = harness_connect(harness_node_endpoint(hup.node));
    harness_expect_alive(second);
    zsock_destroy(&second);
    CHECK(s_burst_busy(client, 200) == 0);
    CHECK(s_log_count(hup.node, "restart required") == 0);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    s_hup_down(&hup);
}

//  max_db_bytes by SIGHUP: lowered below the database's size, ordinary
//  writes are refused at once (UNAVAILABLE, the node is full) while reads
//  go on; lifted (0), they are taken again.
static void test_sighup_db_cap(void) {
    hup_t hup;
    s_hup_up(&hup, "writer\n    max_db_bytes = 0\n");
    zsock_t *client = harness_connect(harness_node_endpoint(hup.node));
    CHECK(s_burst_busy(client, 1) == 0);
    s_write_config(&hup, "writer\n    max_db_bytes = 65536\n");
    s_hup(&hup);
    s_wait_log(hup.node, "SIGHUP: max_db_bytes changed, applied", 1);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded", 1);
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, s_next_id++, "reload.cap", "v");
    harness_fails(harness_request(client, &request), CAIRN__STATUS__UNAVAILABLE,
                  "the node is full");
    harness_expect_alive(client);
    s_write_config(&hup, "writer\n    max_db_bytes = 0\n");
    s_hup(&hup);
    s_wait_log(hup.node, "SIGHUP: configuration reloaded", 2);
    CHECK(s_burst_busy(client, 1) == 0);
    CHECK(s_log_count(hup.node, "restart required") == 0);
    zsock_destroy(&client);
    s_hup_down(&hup);
}

//  Bad values are refused before anything starts (exit 2, naming the
//  setting); the defaults show in --print-config.
static void test_bad_values(void) {
    const char *const bad[][3] = {
        {"--log-format=xml", "--print-config", NULL},
        {"--log-format=", "--print-config", NULL},
        {"--slow-request-ms=-1", "--print-config", NULL},
        {"--slow-request-ms=soon", "--print-config", NULL},
        {"--slow-request-ms=99999999999999999999", "--print-config", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        harness_run_t run = harness_run(harness_cairnd_path(), bad[i], NULL, 10000);
        CHECK(run.status == 2);
        CHECK(strstr(run.err, strchr(bad[i][0], '-') + 2) || strstr(run.err, "log_format") ||
              strstr(run.err, "slow_request_ms"));
        harness_run_free(&run);
    }
    const char *env[] = {"CAIRN_LOG_FORMAT=yaml", NULL};
    const char *print[] = {"--print-config", NULL};
    harness_run_t run = harness_run(harness_cairnd_path(), print, env, 10000);
    CHECK(run.status == 2 && strstr(run.err, "CAIRN_LOG_FORMAT"));
    harness_run_free(&run);
    run = harness_run(harness_cairnd_path(), print, NULL, 10000);
    CHECK(run.status == 0 && strstr(run.out, "log_format = \"text\"") &&
          strstr(run.out, "slow_request_ms = "));
    harness_run_free(&run);
}

static const harness_test_t s_tests[] = {
    {"bad_values", test_bad_values},
    {"json_lines", test_json_lines},
    {"text_actor", test_text_actor},
    {"slow_request", test_slow_request},
    {"sighup_level", test_sighup_level},
    {"sighup_format", test_sighup_format},
    {"sighup_restart_required", test_sighup_restart_required},
    {"sighup_bad_config", test_sighup_bad_config},
    {"sighup_client_limits", test_sighup_client_limits},
    {"sighup_db_cap", test_sighup_db_cap},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.logs", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

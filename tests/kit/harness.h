/*  =========================================================================
    harness - start a real cairnd and talk to it, for end-to-end tests,
    the crash test and the benchmark

    A node is started as a child process on a free loopback port in a fresh
    temp dir (or a given data dir, for restarts). Readiness is a Ping
    answered within a timeout, never a sleep. Every process started here is
    stopped here, by its PID.
    ========================================================================= */

#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "cairn.pb-c.h"
#include "ca_request.h" //  the request builders every test uses
#include "ca_caller.h"  //  the caller that fixtures shared with the self-tests take
#include "ca_curve_key.h"
#include "ca_env.h"

#include <czmq.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct _harness_node_t harness_node_t;

//  Path of the cairnd binary under test (CAIRND_PATH from the build, or
//  the CAIRND environment variable).
const char *harness_cairnd_path(void);

//  Starts cairnd with `data_dir` (NULL: a new temp dir, removed on destroy)
//  and extra arguments (NULL-terminated, may be NULL). Waits until it
//  answers Ping (10 s). NULL when it did not come up; its log is printed.
//  When the environment variable HARNESS_NOFILE_ENV holds a number, the
//  node runs with that file descriptor limit (soft and hard), for tests of
//  descriptor exhaustion.
harness_node_t *harness_node_start(const char *data_dir, const char *const *extra_args);
#define HARNESS_NOFILE_ENV CA_ENV_TEST_NOFILE

//  What a client needs to talk to a node whose client endpoint is CURVE.
typedef struct {
    ca_curve_key_t client;                     //  a key on the node's allow-list
    uint8_t server_public[CA_CURVE_KEY_BYTES]; //  the node's (cairnd server-key)
} harness_curve_t;

//  How to start a node, for tests that need more than harness_node_start.
typedef struct {
    const char *data_dir;          //  NULL: a new temp dir
    const char *const *extra_args; //  NULL-terminated, may be NULL
    const char *bind_host;         //  NULL: 127.0.0.1; the node is reached on 127.0.0.1
    const harness_curve_t *curve;  //  NULL: the node answers without CURVE (copied)
} harness_start_t;

//  harness_node_start with the choices of `start`; the readiness check
//  (and harness_node_connect) use its CURVE keys.
harness_node_t *harness_node_start_with(const harness_start_t *start);

//  harness_node_start in a new temp dir; a test that cannot start its node
//  fails here.
harness_node_t *harness_node_up(const char *const *extra_args);

//  harness_node_up with an identity: `cairnd identity init` in the new temp
//  dir first, its password in a file there that every (re)start passes on.
//  For tests that pay: payments are signed for the node's peer id.
harness_node_t *harness_node_up_identity(const char *const *extra_args);

//  The node's peer id (Info.peer_id); "" for a node without an identity.
const char *harness_node_peer_id(harness_node_t *node);

//  Stops the node, checking that it exits 0, and destroys it (the end of a
//  test that started it with harness_node_up).
void harness_node_down(harness_node_t **node_p);

//  The start of most e2e tests: a node in a new temp dir (harness_node_up
//  with `extra_args`), a DEALER connected to it, and a caller over that
//  socket (HARNESS_CALL_MS), declared as the locals `node`, `client` and
//  `caller` that the test body and the stores' fixtures use by name.
#define HARNESS_SESSION_UP(extra_args)                                                             \
    harness_node_t *node = harness_node_up(extra_args);                                            \
    zsock_t *client = harness_connect(harness_node_endpoint(node));                                \
    ca_caller_t *caller = ca_caller_new_socket(client, HARNESS_CALL_MS)

//  The same with a node that has an identity (harness_node_up_identity).
#define HARNESS_SESSION_UP_IDENTITY(extra_args)                                                    \
    harness_node_t *node = harness_node_up_identity(extra_args);                                   \
    zsock_t *client = harness_connect(harness_node_endpoint(node));                                \
    ca_caller_t *caller = ca_caller_new_socket(client, HARNESS_CALL_MS)

//  The end of such a test: destroys the caller and the socket, then
//  harness_node_down (the node must exit 0).
void harness_session_down(ca_caller_t **caller_p, zsock_t **client_p, harness_node_t **node_p);

//  After the node stopped or was killed (and the test closed its caller
//  and socket): harness_node_restart, which must succeed, then a new
//  socket and caller in *client_p and *caller_p.
void harness_session_reopen(harness_node_t *node, zsock_t **client_p, ca_caller_t **caller_p);

//  A clean restart within a test: closes the caller and the socket, stops
//  the node (it must exit 0), then harness_session_reopen.
void harness_session_restart(harness_node_t *node, zsock_t **client_p, ca_caller_t **caller_p);

//  Starts another cairnd on the same data dir and port as `node` (after it
//  stopped or was killed); on another port if that one was taken meanwhile,
//  so read harness_node_endpoint again afterwards.
int harness_node_restart(harness_node_t *node);

const char *harness_node_endpoint(harness_node_t *node);
const char *harness_node_data_dir(harness_node_t *node);
const char *harness_node_log_path(harness_node_t *node);
//  Whether a line of the node's log (so far) contains `text`.
bool harness_node_log_has(harness_node_t *node, const char *text);
//  Polls the node's log until a line contains `text`; false at timeout_ms.
bool harness_node_wait_log(harness_node_t *node, const char *text, int timeout_ms);
pid_t harness_node_pid(harness_node_t *node);

//  The node's resident memory now (VmRSS) and at its peak (VmHWM), in KiB,
//  from /proc/<pid>/status. 0, or -1 when the node is not running or /proc
//  does not say.
int harness_node_memory(harness_node_t *node, uint64_t *rss_kib, uint64_t *peak_kib);

//  Sets the node's peak (VmHWM) back to its VmRSS, so that a later
//  harness_node_memory shows the peak since now (writes 5 to
//  /proc/<pid>/clear_refs). 0, or -1 when the kernel refused.
int harness_node_reset_peak(harness_node_t *node);

//  SIGTERM, then waits (20 s) for exit. Returns the exit status, or -1 when
//  it had to be killed or died by a signal.
int harness_node_stop(harness_node_t *node);

//  SIGKILL and reap, as a crash.
void harness_node_kill9(harness_node_t *node);

//  Stops the node if running and removes a temp data dir.
void harness_node_destroy(harness_node_t **node_p);

//  A DEALER connected to `endpoint`.
zsock_t *harness_connect(const char *endpoint);

//  A DEALER connected to `endpoint` as a CURVE client with `curve` (NULL:
//  as harness_connect).
zsock_t *harness_connect_curve(const char *endpoint, const harness_curve_t *curve);

//  A DEALER connected to `node` with the keys it was started with.
zsock_t *harness_node_connect(harness_node_t *node);

//  Sends one request. Returns 0 or -1.
int harness_send(zsock_t *client, const Cairn__Request *request);

//  Receives one response within timeout_ms; NULL on timeout. Caller frees
//  with cairn__response__free_unpacked.
Cairn__Response *harness_recv(zsock_t *client, int timeout_ms);

//  Send + receive; the response's id is checked against the request's.
Cairn__Response *harness_call(zsock_t *client, const Cairn__Request *request, int timeout_ms);

//  How long harness_request waits for an answer: generous, since a healthy
//  node answers at once and only a broken one makes a test wait this long.
#define HARNESS_CALL_MS 30000

//  Sends `request` with a new request id (ca_caller_next_id) and returns its
//  response (the caller frees it); the test fails when none comes within
//  HARNESS_CALL_MS. For a fixture shared with a self-test, wrap the socket
//  in a ca_caller (ca_caller_new_socket) instead.
Cairn__Response *harness_request(zsock_t *client, Cairn__Request *request);

//  Checks that the node still answers a Ping.
void harness_expect_alive(zsock_t *client);

//  Sends MessageSubscribeAck{subscription, cursor} (any kind of
//  subscription) without waiting for its answer.
void harness_subscribe_ack(zsock_t *client, uint64_t subscription, uint64_t cursor);

//  The counters of pool `name` in an InfoReply; NULL when it lists none.
const Cairn__ActorInfo *harness_info_actor(const Cairn__InfoReply *info, const char *name);

//  Asks the node for Info and returns its entry for pool `name` (the test
//  fails when there is none); *response_p is the answer, the caller's to free.
const Cairn__ActorInfo *harness_pool_info(zsock_t *client, const char *name,
                                          Cairn__Response **response_p);

//  ---- running other programs ---------------------------------------------------

typedef struct {
    int status; //  exit status; -1 when killed by a signal or the deadline
    char *out;  //  all of stdout, NUL-terminated
    char *err;  //  all of stderr, NUL-terminated
    int64_t elapsed_ms;
} harness_run_t;

//  Runs `path` with the NULL-terminated `args` (argv[1..]) and captures its
//  output. `env_changes` (NULL-terminated, may be NULL) edits the child's
//  environment: "NAME=value" sets, "NAME" removes. A child still running
//  after timeout_ms is killed (status -1). Free with harness_run_free.
harness_run_t harness_run(const char *path, const char *const *args, const char *const *env_changes,
                          int timeout_ms);
void harness_run_free(harness_run_t *run);

//  Runs cairnd with `args` (up to `timeout_ms`): true when it exited
//  `expected` with `fragment` (NULL: anything) in its stdout or stderr;
//  else prints both and returns false. *out_p (if not NULL) gets a copy of
//  its stdout (caller frees).
bool harness_cairnd_expect(const char *const *args, int expected, const char *fragment,
                           int timeout_ms, char **out_p);

//  What a run on a pseudo-terminal printed there, and how it ended.
typedef struct {
    int status;       //  exit status; -1 when killed by a signal or the deadline
    char *transcript; //  all the terminal showed, NUL-terminated; the caller frees it
} harness_pty_run_t;

//  Runs `path` with `args` and `env_changes` (as harness_run) on a new
//  pseudo-terminal, answering each of `prompts` with the matching line of
//  `replies`, typed only once the prompt shows (so with echo off). With
//  `running` (may be NULL), waits for that text too, then sends SIGTERM.
//  Then reads to the end; a child still running after timeout_ms is killed.
harness_pty_run_t harness_run_on_pty(const char *path, const char *const *args,
                                     const char *const *env_changes, const char *const *prompts,
                                     const char *const *replies, const char *running,
                                     int timeout_ms);

//  Waits up to timeout_ms for child `pid` to exit (a pidfd makes it a poll)
//  and reaps it. Returns 0 with *status set, or -1 when it did not exit.
int harness_wait_child(pid_t pid, int timeout_ms, int *status);

//  ---- test programs ----------------------------------------------------------------

//  Fails the test with file, line and condition, then aborts (the node a test
//  started dies with it). Never compiled out, unlike assert.
#define HARNESS_CHECK(cond) CA_CHECK(cond)

//  Checks that `response` arrived with `status` and, when `fragment` is not
//  NULL, that its error message contains it; otherwise prints what came
//  and aborts. Returns the response (still the caller's to free).
Cairn__Response *harness_expect(Cairn__Response *response, Cairn__Status status,
                                const char *fragment);

//  harness_expect of OK with a body of `body_case`; the response stays the
//  caller's to free.
Cairn__Response *harness_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case);

//  harness_expect of `status` and `fragment`, then frees the response.
void harness_fails(Cairn__Response *response, Cairn__Status status, const char *fragment);

//  Sends a frame made by hand (`size` bytes, a request with id `id`) and
//  checks that its answer carries that id and is INVALID with `fragment`
//  (NULL: any message): malformed protobuf, strings with a NUL, ...
void harness_fails_raw(zsock_t *client, const void *data, size_t size, uint64_t id,
                       const char *fragment);

//  One behaviour of a test program: ctest runs `PROGRAM NAME`.
typedef struct {
    const char *name;
    void (*run)(void);
} harness_test_t;

//  The main of a test program: runs the test named by argv[1] (all of them
//  without an argument), printing "<prefix>.<name>" first. Returns the exit
//  status: 0, or 1 for an unknown name (a failing test aborts instead).
//  `--list` prints "<prefix>.<name> <name>" a line, from which ctest
//  registers the tests (tests/CMakeLists.txt): a test is named once, here.
int harness_main(int argc, char **argv, const char *prefix, const harness_test_t *tests,
                 size_t count);

//  A raw TCP connection to 127.0.0.1:`port` (non-blocking), or -1 when it
//  did not complete within `timeout_ms` (e.g. the listener's backlog is
//  full). The caller closes it.
int harness_tcp_connect(int port, int timeout_ms);

//  The tcp port of the node's client endpoint.
int harness_node_port(harness_node_t *node);

//  A ZeroMQ connection spoken by hand (ZMTP 3.0, NULL mechanism, as a
//  DEALER) to 127.0.0.1:`port`, blocking, with a kernel receive buffer of
//  `rcvbuf` bytes (0: the default). It reads nothing the test does not read
//  itself, which a libzmq DEALER cannot do (it drains its socket into its
//  own queue): the way to hold a connection idle or to never read answers.
//  With `wait_ready` it also waits for the node's greeting and READY, after
//  which requests may be sent (harness_zmtp_send). -1 when the connect did
//  not complete within timeout_ms (e.g. the node's backlog is full).
int harness_zmtp_connect(int port, int timeout_ms, int rcvbuf, bool wait_ready);

//  Sends `request` on a harness_zmtp_connect connection as one message.
void harness_zmtp_send(int fd, const Cairn__Request *request);

//  Writes all `size` bytes of `data` on the non-blocking `fd` within
//  timeout_ms (no SIGPIPE). False when the peer closed or time ran out.
bool harness_tcp_write_all(int fd, const void *data, size_t size, int timeout_ms);

//  True when `fd` reads EOF (or a reset) within timeout_ms, after whatever
//  the peer sent first (a node's greeting, say).
bool harness_tcp_reads_eof(int fd, int timeout_ms);

//  A free tcp port on 127.0.0.1, picked at random below the kernel's
//  ephemeral range: the kernel never hands one out for another socket's
//  port 0 or a connection's local end, so tests running in parallel only
//  meet when two random picks agree (harness_node_start then notices that
//  a foreign node answered, by its pid, and tries another port).
int harness_free_port(void);

//  Polls Info on `caller` (every 10 ms, up to timeout_ms) until it counts
//  `clients` open client connections; returns the last count seen (and
//  prints it when it never matched).
uint32_t harness_wait_clients(ca_caller_t *caller, uint32_t clients, int timeout_ms);

//  Writes `text` as the whole of `path`, all at once: a temp file renamed
//  over it, as an editor saves (a node reading it sees old or new, never a
//  half). Fails the test when it cannot.
void harness_write_file(const char *path, const char *text);

//  The path of `program` found on $PATH (or /usr/bin:/bin without one), or
//  NULL; the caller frees it.
char *harness_which(const char *program);

#endif

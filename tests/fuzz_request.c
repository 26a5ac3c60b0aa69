/*  =========================================================================
    fuzz_request - libFuzzer target: arbitrary bytes as one request frame

    What it tests: the promise of the wire protocol that a malformed frame
    gets an INVALID response, never a crash or silence. Each input goes two
    ways:

        bytes --ca_envelope_peek_request (directly, in this thread)
          '---> one frame on a DEALER --> in-process node (gateway, store
                workers, writer) --> exactly one Response

    and the answer is checked against what the peek saw:

        - an answer arrives within ANSWER_TIMEOUT_MS (silence is a bug: abort)
        - it is one frame that decodes as a cairn.Response
        - its id is the id the peek read (the gateway and the stores echo the
          id "as far as it could be read", even for malformed frames)
        - its status is a known Status; not OK carries an error message
        - a frame the peek rejects, or one without a known body, is INVALID
        - OK answers carry the body of the same kind as the request
        - ca_envelope_peek_status agrees with the decoded status
        - no second answer is waiting when the next input starts (a
          subscription's pushes are the one exception: an OK
          MessageSubscribe is ended at once with MessageUnsubscribe, whose
          answer comes after every push of it)

    Why one node for the whole run: starting a node costs milliseconds and a
    schema migration; a node is meant to serve any number of frames, so
    reusing it also checks that junk leaves it healthy for the next one. The
    node's writes (ConfigSet with fuzzed keys) land in a temp data dir that
    is removed at exit.

    Signals: while -timeout is set libFuzzer's SIGALRM ticks every second.
    In this thread it interrupts zmq_poll/zmq_send/zmq_recv (EINTR), which
    is retried until the deadline; the node's actor threads start with it
    blocked, as cairnd blocks it, since an actor stops on an interrupted
    poll. (Without both, the fuzzer reported false "silences".)

    Teardown runs from an atexit handler registered after CZMQ's own, so it
    runs first: the node, the socket and the config are destroyed before
    zsys_shutdown and before LeakSanitizer's exit check.

    Run (see tests/CMakeLists.txt, ctest fuzz.request):
        fuzz-request CORPUS_DIR -max_total_time=60 -timeout=10 -rss_limit_mb=2048
    ========================================================================= */

#include "ca_envelope.h"
#include "ca_log.h"
#include "ca_testbed.h"
#include "cairn.pb-c.h"
#include "node.h"
#include "node_config.h"
#include "ca_push.h"
#include "subscriptions.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

//  How long a frame may go unanswered before it counts as silence. Long:
//  the suite runs this beside tests that write gigabytes and fsync, so a
//  write may wait seconds for the disk; an answer that never comes is the
//  bug looked for, not a slow one.
#define ANSWER_TIMEOUT_MS 30000
//  After a silence, how much longer to wait to tell "late" from "lost".
#define LATE_ANSWER_MS 30000
//  A send or receive interrupted by a signal is tried again this often.
#define MAX_EINTR_RETRIES 100

static struct {
    char *temp_dir;
    node_config_t *config;
    node_t *node;
    zsock_t *client;
    zpoller_t *poller;
} s_fuzz;

//  Reports a broken promise and aborts, which libFuzzer records as a crash
//  with the input that caused it.
static void s_fail(const char *what, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_request: %s (input of %zu bytes)\n", what, size);
    abort();
}

static void s_set_or_die(const char *name, const char *value) {
    char *error = NULL;
    if (node_config_set(s_fuzz.config, name, value, &error) != 0) {
        fprintf(stderr, "fuzz_request: config %s: %s\n", name, error);
        abort();
    }
}

static void s_teardown(void) {
    zpoller_destroy(&s_fuzz.poller);
    zsock_destroy(&s_fuzz.client);
    node_destroy(&s_fuzz.node);
    node_config_destroy(&s_fuzz.config);
    if (s_fuzz.temp_dir)
        ca_test_rmtree(s_fuzz.temp_dir);
    zstr_free(&s_fuzz.temp_dir);
}

//  Starts the node on an inproc endpoint in a fresh temp dir and connects.
static void s_start_node(void) {
    s_fuzz.temp_dir = ca_test_tempdir("cairn-fuzz");
    s_fuzz.config = node_config_new();
    char *data_dir = zsys_sprintf("%s/data", s_fuzz.temp_dir);
    char *endpoint = zsys_sprintf("inproc://fuzz-%d", (int)getpid());
    s_set_or_die("data_dir", data_dir);
    //  A fuzzed Backup request may only write in the temp dir.
    s_set_or_die("backup_root", s_fuzz.temp_dir);
    s_set_or_die("client_endpoint", endpoint);
    zstr_free(&data_dir);
    zstr_free(&endpoint);

    s_fuzz.node = node_new(s_fuzz.config);
    char *error = NULL;
    if (node_start(s_fuzz.node, &error) != 0) {
        fprintf(stderr, "fuzz_request: node did not start: %s\n", error);
        abort();
    }
    char *bound = node_endpoint(s_fuzz.node);
    s_fuzz.client = zsock_new(ZMQ_DEALER);
    zsock_set_linger(s_fuzz.client, 0);
    if (!bound || zsock_connect(s_fuzz.client, "%s", bound) != 0) {
        fprintf(stderr, "fuzz_request: cannot connect to %s\n", bound ? bound : "(none)");
        abort();
    }
    zstr_free(&bound);
    s_fuzz.poller = zpoller_new(s_fuzz.client, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    //  libFuzzer owns SIGINT/SIGALRM; CZMQ's handler would make every actor
    //  stop at the first signal.
    zsys_handler_set(NULL);
    ca_log_set_level(CA_LOG_ERROR);
    //  The actor threads inherit this mask. An actor takes an interrupted
    //  zpoller_wait (EINTR) for "terminated" and returns, so a SIGALRM
    //  landing on one of them would stop it; cairnd blocks these signals in
    //  every actor thread for the same reason. This thread keeps its mask.
    sigset_t async_signals, saved;
    sigemptyset(&async_signals);
    const int blocked[] = {SIGALRM, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGXFSZ, SIGPIPE};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        sigaddset(&async_signals, blocked[i]);
    pthread_sigmask(SIG_BLOCK, &async_signals, &saved);
    s_start_node();
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    atexit(s_teardown); //  after zsys_init's atexit, so it runs before it
    return 0;
}

//  A second answer to the previous frame would be waiting by now.
static void s_expect_nothing_waiting(void) {
    if (zsock_events(s_fuzz.client) & ZMQ_POLLIN)
        s_fail("an answer arrived that no request is waiting for (two answers to one frame?)", NULL,
               0);
}

//  Sends the frame; a signal may interrupt zmq_send (EINTR), so retry.
static void s_send_frame(const uint8_t *data, size_t size) {
    for (int attempt = 0; attempt < MAX_EINTR_RETRIES; attempt++) {
        if (zmq_send(zsock_resolve(s_fuzz.client), data, size, 0) == (int)size)
            return;
        if (zmq_errno() != EINTR)
            break;
    }
    s_fail("cannot send the frame", data, size);
}

//  Waits until the client socket is readable, up to timeout_ms. A signal
//  (libFuzzer's SIGALRM ticks every second while -timeout is set) ends
//  zmq_poll with EINTR, which zpoller reports as "terminated": wait again
//  for the rest of the time.
static bool s_wait_readable(int timeout_ms) {
    int64_t deadline = zclock_mono() + timeout_ms;
    int64_t left = timeout_ms;
    while (left > 0) {
        if (zpoller_wait(s_fuzz.poller, (int)left) == s_fuzz.client)
            return true;
        if (zpoller_expired(s_fuzz.poller))
            return false;
        left = deadline - zclock_mono();
    }
    return false;
}

//  Silence: says whether the answer is merely late, and whether the node
//  still answers a Ping, so the report tells a stall from a dropped frame.
static void s_diagnose_silence(void) {
    int64_t started = zclock_mono();
    if (s_wait_readable(LATE_ANSWER_MS)) {
        fprintf(stderr, "fuzz_request: the answer came %" PRId64 " ms late\n",
                zclock_mono() - started);
        return;
    }
    fprintf(stderr, "fuzz_request: no answer %d ms after the timeout either\n", LATE_ANSWER_MS);
    const uint8_t ping[] = {0x08, 0x01, 0x52, 0x00}; //  id 1, Ping {}
    zmq_send(zsock_resolve(s_fuzz.client), ping, sizeof ping, 0);
    fprintf(stderr, "fuzz_request: a Ping sent now is %s\n",
            s_wait_readable(ANSWER_TIMEOUT_MS)
                ? "answered: the node lives, the frame was dropped"
                : "not answered either: the node is stuck or an actor has stopped");
}

//  Waits for the one answer; the caller frees it.
static zframe_t *s_receive_answer(const uint8_t *data, size_t size) {
    if (!s_wait_readable(ANSWER_TIMEOUT_MS)) {
        s_diagnose_silence();
        s_fail("no answer within ANSWER_TIMEOUT_MS (the node went silent)", data, size);
    }
    zframe_t *frame = zframe_recv(s_fuzz.client);
    for (int attempt = 0; !frame && zmq_errno() == EINTR && attempt < MAX_EINTR_RETRIES; attempt++)
        frame = zframe_recv(s_fuzz.client);
    if (!frame)
        s_fail("the answer could not be received", data, size);
    if (zframe_more(frame))
        s_fail("the answer has more than one frame", data, size);
    return frame;
}

//  A request kind the node serves: the gateway's own, or a row of a store
//  pool's handler table.
static bool s_known_body(uint32_t field) {
    if (field == CAIRN__REQUEST__BODY_PING || field == CAIRN__REQUEST__BODY_INFO ||
        subscriptions_serves(field))
        return true;
    size_t count;
    const ca_store_def_t *const *defs = node_store_defs(&count);
    for (size_t s = 0; s < count; s++)
        for (size_t h = 0; h < defs[s]->handler_count; h++)
            if ((uint32_t)defs[s]->handlers[h].body == field)
                return true;
    return false;
}

//  Checks one decoded answer against what the peek read from the request.
static void s_check_answer(const Cairn__Response *response, zframe_t *frame, bool well_formed,
                           const ca_envelope_t *env, const uint8_t *data, size_t size) {
    if (response->id != env->id)
        s_fail("the answer does not echo the request id", data, size);
    if ((unsigned)response->status > CAIRN__STATUS__UNAVAILABLE)
        s_fail("the answer's status is not a known Status", data, size);
    if (ca_envelope_peek_status(zframe_data(frame), zframe_size(frame)) !=
        (ca_status_t)response->status)
        s_fail("ca_envelope_peek_status disagrees with the decoded status", data, size);
    if (response->status != CAIRN__STATUS__OK && (!response->error || !*response->error))
        s_fail("a failed answer carries no error message", data, size);
    if ((!well_formed || !s_known_body(env->body_field)) &&
        response->status != CAIRN__STATUS__INVALID)
        s_fail("a malformed request was not answered INVALID", data, size);
    if (response->status == CAIRN__STATUS__OK && (uint32_t)response->body_case != env->body_field)
        s_fail("an OK answer carries a body of another kind than the request", data, size);
}

//  Ends the subscription an input made, and reads its pushes up to the
//  unsubscribe's answer (request id UNSUBSCRIBE_ID, which inputs may use
//  too: a push is told by its body, the answer by its kind).
#define UNSUBSCRIBE_ID UINT64_MAX
static void s_unsubscribe(uint64_t subscription, const uint8_t *data, size_t size) {
    Cairn__MessageUnsubscribe unsubscribe = CAIRN__MESSAGE_UNSUBSCRIBE__INIT;
    unsubscribe.subscription_id = subscription;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = UNSUBSCRIBE_ID;
    request.body_case = CAIRN__REQUEST__BODY_MESSAGE_UNSUBSCRIBE;
    request.message_unsubscribe = &unsubscribe;
    zframe_t *out = ca_message_frame(&request.base);
    s_send_frame(zframe_data(out), zframe_size(out));
    zframe_destroy(&out);
    for (int n = 0; n < CA_SUBSCRIPTION_WINDOW_MAX + 2; n++) {
        zframe_t *frame = s_receive_answer(data, size);
        Cairn__Response *response =
            cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        if (!response)
            s_fail("a push is not a valid cairn.Response", data, size);
        bool done = response->id == UNSUBSCRIBE_ID &&
                    response->body_case == CAIRN__RESPONSE__BODY_MESSAGE_UNSUBSCRIBE;
        cairn__response__free_unpacked(response, NULL);
        if (done)
            return;
    }
    s_fail("MessageUnsubscribe was not answered after the window's pushes", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_expect_nothing_waiting();

    ca_envelope_t env;
    const char *problem = NULL;
    bool well_formed = ca_envelope_peek_request(data, size, &env, &problem);
    if (well_formed != (problem == NULL))
        s_fail("ca_envelope_peek_request's result and error disagree", data, size);

    s_send_frame(data, size);
    zframe_t *frame = s_receive_answer(data, size);
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    if (!response)
        s_fail("the answer is not a valid cairn.Response", data, size);
    s_check_answer(response, frame, well_formed, &env, data, size);
    ca_push_head_t push;
    if (response->status == CAIRN__STATUS__OK && ca_push_head(response, &push))
        s_unsubscribe(push.subscription_id, data, size);
    cairn__response__free_unpacked(response, NULL);
    zframe_destroy(&frame);
    return 0;
}

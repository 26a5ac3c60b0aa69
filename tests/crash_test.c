/*  =========================================================================
    crash_test - acknowledged writes survive kill -9 (and SIGTERM) of cairnd

        crash-test [--stop=kill9|sigterm] [--cycles=N] [--seed=S] [--max-seconds=T]

    The writer's promise (actors/writer.c): a write is answered OK only after
    the transaction holding it committed, so an OK survives kill -9 of the
    node. This test holds the node to it from the outside, through the wire
    protocol only, against a real cairnd started by tests/kit/harness.h:

        start cairnd on a temp data dir
        repeat --cycles times:
            load:    pipelined ConfigSet of new distinct keys, WINDOW requests
                     outstanding; every OK is logged with its key and value
            stop:    once a random number of OKs (MIN_ACKED..MAX_ACKED) came
                     back, with the window still full:
                       kill9    SIGKILL at once
                       sigterm  SIGTERM, keep the load coming while the node
                                drains, expect exit status 0
            restart: a new cairnd on the same data dir and port
            verify:  pipelined ConfigGet of every key ever sent, all cycles

    What "verify" demands of each key, by what the client was told:

        told OK                 present, exact value (forever after)
        told BUSY/UNAVAILABLE   absent (the node refused it)
        no answer (in doubt)    absent, or present with the exact value
                                (then it counts as acknowledged from now on)
        found absent once       stays absent

    The randomness is in *when* the node dies (how many writes were
    acknowledged), drawn from a PRNG seeded by --seed (printed, so a failure
    can be replayed); values get their own PRNG stream so that the kill
    points do not depend on timing. No sleeps: every wait is a poll with a
    timeout, every loop is bounded by a count and a deadline.
    ========================================================================= */

#include "harness.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW             200    //  requests outstanding under load
#define MIN_ACKED          50     //  kill after this many OKs at the earliest
#define MAX_ACKED          3000   //  ... and at the latest
#define MAX_SENDS_PER_LOAD 30000  //  a load phase never sends more than this
#define MAX_VALUE_FILLER   96     //  random tail of each value, 0..this bytes
#define ANSWER_TIMEOUT_MS  10000  //  a live node answers within this
#define DRAIN_IDLE_MS      2000   //  a stopping node is done after this quiet
#define LEFTOVER_IDLE_MS   500    //  answers still in our socket after exit
#define PHASE_TIMEOUT_MS   120000 //  any one load or verify phase
#define MAX_FAILURES_SHOWN 20
#define DEFAULT_CYCLES     20
#define DEFAULT_MAX_SECS   600
#define GET_ID_BIT         (1ULL << 63) //  ConfigGet ids; ConfigSet ids are index + 1

typedef enum { STOP_KILL9, STOP_SIGTERM } stop_mode_t;

//  What the client knows about one key it wrote.
typedef enum {
    ENTRY_SENT,     //  ConfigSet sent, no answer yet
    ENTRY_ACKED,    //  answered OK: present with its value, forever
    ENTRY_REFUSED,  //  answered BUSY or UNAVAILABLE: must be absent
    ENTRY_IN_DOUBT, //  the node went down before answering: absent or exact
    ENTRY_ABSENT,   //  verified absent after a restart: stays absent
} entry_state_t;

typedef struct {
    char *key;
    char *value;
    entry_state_t state;
    uint64_t checked_round; //  verification round that last answered it
} entry_t;

//  Counts of one cycle, for its report line.
typedef struct {
    size_t target;
    size_t acked;
    size_t refused;
    size_t in_doubt;
    size_t in_doubt_present;
    size_t verified;
} cycle_stats_t;

typedef struct {
    stop_mode_t stop_mode;
    size_t cycles;
    uint64_t seed;
    int64_t max_ms;
    uint64_t when_rng;  //  draws the kill points
    uint64_t value_rng; //  draws the values
    harness_node_t *node;
    zsock_t *client;
    entry_t *entries; //  every key ever sent, index = ConfigSet id - 1
    size_t count;
    size_t capacity;
    size_t in_flight;
    uint64_t round;
    size_t failures;
    cycle_stats_t stats;
} test_t;

//  ---- helpers ------------------------------------------------------------------

static void s_failure(test_t *self, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void s_failure(test_t *self, const char *format, ...) {
    if (self->failures++ < MAX_FAILURES_SHOWN) {
        va_list args;
        va_start(args, format);
        fprintf(stderr, "crash_test: FAIL: ");
        vfprintf(stderr, format, args);
        fprintf(stderr, "\n");
        va_end(args);
    }
}

//  splitmix64: small, seedable, the same on every platform.
static uint64_t s_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t s_random_between(uint64_t *state, uint64_t low, uint64_t high) {
    return low + s_random(state) % (high - low + 1);
}

//  A new entry with a distinct key and a random value; returns its index.
static size_t s_entry_new(test_t *self, size_t cycle) {
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 4096;
        self->entries = (entry_t *)realloc(self->entries, self->capacity * sizeof(entry_t));
        assert(self->entries);
    }
    size_t index = self->count++;
    entry_t *entry = &self->entries[index];
    entry->key = zsys_sprintf("crash/%zu/%zu", cycle, index);
    size_t filler = (size_t)s_random_between(&self->value_rng, 0, MAX_VALUE_FILLER);
    entry->value = (char *)zmalloc(32 + filler + 1);
    int length = snprintf(entry->value, 32, "v%zu:", index);
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (size_t i = 0; i < filler; i++)
        entry->value[length + (int)i] = alphabet[s_random(&self->value_rng) % 36];
    entry->state = ENTRY_SENT;
    entry->checked_round = 0;
    return index;
}

static const char *s_status_name(Cairn__Status status) {
    const ProtobufCEnumValue *value =
        protobuf_c_enum_descriptor_get_value(&cairn__status__descriptor, (int)status);
    return value ? value->name : "(unknown status)";
}

static void s_connect(test_t *self) {
    zsock_destroy(&self->client);
    self->client = harness_connect(harness_node_endpoint(self->node));
}

//  ---- load ------------------------------------------------------------------------

static bool s_send_set(test_t *self, size_t cycle) {
    size_t index = s_entry_new(self, cycle);
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, index + 1, self->entries[index].key,
                          self->entries[index].value);
    if (harness_send(self->client, &request) != 0) {
        s_failure(self, "cannot send ConfigSet %s", self->entries[index].key);
        return false;
    }
    self->in_flight++;
    return true;
}

//  Logs the answer to one ConfigSet. Returns its status.
static Cairn__Status s_record_set_answer(test_t *self, const Cairn__Response *response) {
    uint64_t index = response->id - 1;
    if (response->id == 0 || response->id & GET_ID_BIT || index >= self->count ||
        self->entries[index].state != ENTRY_SENT) {
        s_failure(self, "answer with id %" PRIu64 " matches no outstanding ConfigSet",
                  response->id);
        return response->status;
    }
    entry_t *entry = &self->entries[index];
    self->in_flight--;
    if (response->status == CAIRN__STATUS__OK) {
        entry->state = ENTRY_ACKED;
        self->stats.acked++;
    } else if (response->status == CAIRN__STATUS__BUSY ||
               response->status == CAIRN__STATUS__UNAVAILABLE) {
        entry->state = ENTRY_REFUSED;
        self->stats.refused++;
    } else {
        entry->state = ENTRY_IN_DOUBT;
        s_failure(self, "ConfigSet %s answered %s: %s", entry->key, s_status_name(response->status),
                  response->error);
    }
    return response->status;
}

//  Writes until `target` writes of this cycle were acknowledged; the window
//  stays full. False when the node went silent or time ran out.
static bool s_load(test_t *self, size_t cycle) {
    int64_t deadline = zclock_mono() + PHASE_TIMEOUT_MS;
    size_t sends = 0;
    while (self->stats.acked < self->stats.target) {
        while (self->in_flight < WINDOW && sends < MAX_SENDS_PER_LOAD) {
            if (!s_send_set(self, cycle))
                return false;
            sends++;
        }
        Cairn__Response *response = harness_recv(self->client, ANSWER_TIMEOUT_MS);
        if (!response) {
            s_failure(self, "cycle %zu: no ConfigSet answer within %d ms (%zu acknowledged)", cycle,
                      ANSWER_TIMEOUT_MS, self->stats.acked);
            return false;
        }
        s_record_set_answer(self, response);
        cairn__response__free_unpacked(response, NULL);
        if (zclock_mono() > deadline) {
            s_failure(self, "cycle %zu: load phase over %d ms (%zu of %zu acknowledged)", cycle,
                      PHASE_TIMEOUT_MS, self->stats.acked, self->stats.target);
            return false;
        }
    }
    return true;
}

//  ---- stop ------------------------------------------------------------------------

//  Whatever is still unanswered when the node is gone is in doubt.
static void s_mark_in_doubt(test_t *self) {
    for (size_t i = 0; i < self->count; i++)
        if (self->entries[i].state == ENTRY_SENT) {
            self->entries[i].state = ENTRY_IN_DOUBT;
            self->stats.in_doubt++;
        }
    self->in_flight = 0;
}

//  Takes every answer that arrives until the socket is quiet for idle_ms.
static void s_take_answers(test_t *self, int idle_ms, int64_t deadline) {
    Cairn__Response *response;
    while (self->in_flight > 0 && zclock_mono() < deadline &&
           (response = harness_recv(self->client, idle_ms))) {
        s_record_set_answer(self, response);
        cairn__response__free_unpacked(response, NULL);
    }
}

static void s_stop_kill9(test_t *self) {
    harness_node_kill9(self->node);
    s_mark_in_doubt(self);
}

//  SIGTERM with the window full, and more requests while the node drains,
//  until it refuses them (UNAVAILABLE) or goes quiet. It must exit 0.
static void s_stop_sigterm(test_t *self, size_t cycle) {
    int64_t deadline = zclock_mono() + PHASE_TIMEOUT_MS;
    if (kill(harness_node_pid(self->node), SIGTERM) != 0)
        s_failure(self, "cannot send SIGTERM to cairnd: %s", strerror(errno));
    bool refused = false;
    size_t sends = 0;
    while (self->in_flight > 0 && zclock_mono() < deadline) {
        while (!refused && self->in_flight < WINDOW && sends < MAX_SENDS_PER_LOAD) {
            if (!s_send_set(self, cycle))
                break;
            sends++;
        }
        Cairn__Response *response = harness_recv(self->client, DRAIN_IDLE_MS);
        if (!response)
            break; //  gone; late answers are collected below
        if (s_record_set_answer(self, response) == CAIRN__STATUS__UNAVAILABLE)
            refused = true;
        cairn__response__free_unpacked(response, NULL);
    }
    int status = harness_node_stop(self->node);
    if (status != 0)
        s_failure(self, "cycle %zu: cairnd exited with status %d after SIGTERM (want 0)", cycle,
                  status);
    s_take_answers(self, LEFTOVER_IDLE_MS, deadline);
    s_mark_in_doubt(self);
}

//  ---- verify ----------------------------------------------------------------------

static bool s_needs_check(const entry_t *entry) {
    return entry->state != ENTRY_SENT;
}

static bool s_send_get(test_t *self, size_t index) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, GET_ID_BIT | index, self->entries[index].key, "");
    if (harness_send(self->client, &request) != 0) {
        s_failure(self, "cannot send ConfigGet %s", self->entries[index].key);
        return false;
    }
    return true;
}

static bool s_value_is(const Cairn__ConfigValue *value, const char *expected) {
    return value->value.len == strlen(expected) &&
           memcmp(value->value.data, expected, value->value.len) == 0;
}

//  Judges one ConfigGet answer by what the client was told about the key.
static void s_check_get(test_t *self, const Cairn__Response *response) {
    uint64_t index = response->id & ~GET_ID_BIT;
    if (!(response->id & GET_ID_BIT) || index >= self->count ||
        self->entries[index].checked_round == self->round) {
        s_failure(self, "answer with id %" PRIu64 " matches no outstanding ConfigGet",
                  response->id);
        return;
    }
    entry_t *entry = &self->entries[index];
    entry->checked_round = self->round;
    self->stats.verified++;
    if (response->status != CAIRN__STATUS__OK ||
        response->body_case != CAIRN__RESPONSE__BODY_CONFIG_VALUE) {
        s_failure(self, "ConfigGet %s answered %s: %s", entry->key, s_status_name(response->status),
                  response->error);
        return;
    }
    const Cairn__ConfigValue *value = response->config_value;
    bool exact = value->found && s_value_is(value, entry->value);
    switch (entry->state) {
        case ENTRY_ACKED:
            if (!exact)
                s_failure(self, "acknowledged key %s is %s after restart", entry->key,
                          value->found ? "present with another value" : "lost");
            break;
        case ENTRY_IN_DOUBT:
            if (value->found && !exact)
                s_failure(self, "unanswered key %s holds a value that was never sent", entry->key);
            entry->state = exact ? ENTRY_ACKED : ENTRY_ABSENT;
            self->stats.in_doubt_present += exact;
            break;
        case ENTRY_REFUSED:
        case ENTRY_ABSENT:
            if (value->found)
                s_failure(self, "key %s is present though its write was %s", entry->key,
                          entry->state == ENTRY_REFUSED ? "refused" : "found absent before");
            entry->state = ENTRY_ABSENT;
            break;
        case ENTRY_SENT:
            assert(false);
    }
}

//  Reads back every key ever sent, WINDOW at a time.
static bool s_verify(test_t *self, size_t cycle) {
    self->round++;
    int64_t deadline = zclock_mono() + PHASE_TIMEOUT_MS;
    size_t next = 0, outstanding = 0;
    while (next < self->count || outstanding > 0) {
        for (; next < self->count && outstanding < WINDOW; next++)
            if (s_needs_check(&self->entries[next])) {
                if (!s_send_get(self, next))
                    return false;
                outstanding++;
            }
        if (outstanding == 0)
            break;
        Cairn__Response *response = harness_recv(self->client, ANSWER_TIMEOUT_MS);
        if (!response) {
            s_failure(self, "cycle %zu: no ConfigGet answer within %d ms", cycle,
                      ANSWER_TIMEOUT_MS);
            return false;
        }
        s_check_get(self, response);
        cairn__response__free_unpacked(response, NULL);
        outstanding--;
        if (zclock_mono() > deadline) {
            s_failure(self, "cycle %zu: verify phase over %d ms", cycle, PHASE_TIMEOUT_MS);
            return false;
        }
    }
    return true;
}

//  ---- the test --------------------------------------------------------------------

static bool s_cycle(test_t *self, size_t cycle) {
    memset(&self->stats, 0, sizeof self->stats);
    self->stats.target = (size_t)s_random_between(&self->when_rng, MIN_ACKED, MAX_ACKED);
    if (!s_load(self, cycle))
        return false;
    if (self->stop_mode == STOP_KILL9)
        s_stop_kill9(self);
    else
        s_stop_sigterm(self, cycle);
    zsock_destroy(&self->client);
    if (harness_node_restart(self->node) != 0) {
        s_failure(self, "cycle %zu: cairnd did not restart on %s", cycle,
                  harness_node_data_dir(self->node));
        return false;
    }
    s_connect(self);
    if (!s_verify(self, cycle))
        return false;
    printf("cycle %2zu: stop after %4zu OKs: %4zu acknowledged, %3zu refused, %3zu in doubt "
           "(%3zu committed); %6zu keys verified\n",
           cycle, self->stats.target, self->stats.acked, self->stats.refused, self->stats.in_doubt,
           self->stats.in_doubt_present, self->stats.verified);
    fflush(stdout);
    return self->failures == 0;
}

static void s_usage(FILE *out) {
    fprintf(out, "usage: crash-test [--stop=kill9|sigterm] [--cycles=N] [--seed=S] "
                 "[--max-seconds=T]\n");
}

//  Parses a whole unsigned number; false when it is not one.
static bool s_parse_number(const char *text, uint64_t *value) {
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || end == text || *end || *text == '-')
        return false;
    *value = parsed;
    return true;
}

//  Returns 0, or 2 for a usage error (printed).
static int s_parse_args(test_t *self, int argc, char **argv) {
    static const struct option options[] = {
        {"stop", required_argument, NULL, 'k'}, {"cycles", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'}, {"max-seconds", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    uint64_t number = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'k' && (streq(optarg, "kill9") || streq(optarg, "sigterm")))
            self->stop_mode = streq(optarg, "kill9") ? STOP_KILL9 : STOP_SIGTERM;
        else if (opt == 'c' && s_parse_number(optarg, &number) && number > 0)
            self->cycles = (size_t)number;
        else if (opt == 's' && s_parse_number(optarg, &number))
            self->seed = number;
        else if (opt == 't' && s_parse_number(optarg, &number) && number > 0)
            self->max_ms = (int64_t)number * 1000;
        else {
            s_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        s_usage(stderr);
        return 2;
    }
    return 0;
}

//  The node's log goes away with its temp dir: show it before.
static void s_print_node_log(test_t *self) {
    FILE *log = fopen(harness_node_log_path(self->node), "r");
    if (!log)
        return;
    fprintf(stderr, "---- %s ----\n", harness_node_log_path(self->node));
    char line[1024];
    while (fgets(line, sizeof line, log))
        fputs(line, stderr);
    fclose(log);
}

static void s_test_destroy(test_t *self) {
    zsock_destroy(&self->client);
    harness_node_destroy(&self->node);
    for (size_t i = 0; i < self->count; i++) {
        zstr_free(&self->entries[i].key);
        free(self->entries[i].value);
    }
    free(self->entries);
}

int main(int argc, char **argv) {
    test_t self = {.stop_mode = STOP_KILL9,
                   .cycles = DEFAULT_CYCLES,
                   .seed = (uint64_t)zclock_time() ^ ((uint64_t)getpid() << 32),
                   .max_ms = DEFAULT_MAX_SECS * 1000};
    int rc = s_parse_args(&self, argc, argv);
    if (rc != 0)
        return rc;
    const char *mode = self.stop_mode == STOP_KILL9 ? "kill9" : "sigterm";
    printf("crash_test: --stop=%s --cycles=%zu --seed=%" PRIu64 "\n", mode, self.cycles, self.seed);
    fflush(stdout);
    self.when_rng = self.seed;
    self.value_rng = self.seed ^ 0x5bd1e9955bd1e995ULL;

    int64_t deadline = zclock_mono() + self.max_ms;
    self.node = harness_node_start(NULL, NULL);
    if (!self.node) {
        fprintf(stderr, "crash_test: cairnd did not start\n");
        return 1;
    }
    s_connect(&self);
    size_t cycle = 1;
    for (; cycle <= self.cycles && self.failures == 0; cycle++) {
        if (zclock_mono() > deadline) {
            s_failure(&self, "out of time after %zu of %zu cycles", cycle - 1, self.cycles);
            break;
        }
        if (!s_cycle(&self, cycle))
            break;
    }
    if (self.failures) {
        s_print_node_log(&self);
        fprintf(stderr,
                "crash_test: %zu failure(s) in cycle %zu; rerun with --stop=%s --seed=%" PRIu64
                "\n",
                self.failures, cycle, mode, self.seed);
    } else
        printf("crash_test: OK, %zu cycles, %zu keys written\n", self.cycles, self.count);
    s_test_destroy(&self);
    return self.failures ? 1 : 0;
}

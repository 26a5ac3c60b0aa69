/*  =========================================================================
    e2e_messages_load - many clients storing and reading messages at once

        e2e-messages-load [THREADS PER_THREAD [CAIRND-FLAG...]]
                                    (ctest: e2e.messages.concurrency, no arguments)

    THREADS client threads (8), each with its own DEALER, store PER_THREAD
    messages (10,000) of 256 bytes into four channels, pipelined with a
    window of 100 requests, and read pages of those channels while they
    write. Message (t, i) has id messages_fixture_uuid(t + 1, i), timestamp
    T0 + i and channel #load<(t + i) % 4>, so two threads share every
    timestamp of a channel and the order (timestamp DESC, id DESC) is known
    in advance. BUSY answers are retried (bounded).

    Then, over the wire only:
      - every page read during the load was correctly ordered and in its
        channel;
      - keyset paging over each channel returns every acknowledged message
        exactly once, in order, and nothing else: exact counts, no
        duplicates;
      - offset paging gives the same sequence as keyset paging;
      - MessageGet finds a sample of messages byte for byte;
      - MessageStats counts them all.
    Every loop is bounded by a count and by a deadline.
    ========================================================================= */

#include "messages_fixture.h"
#include "messages.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNELS     4
#define CONTENT_SIZE 256
#define WINDOW       100
#define T0           1700000000.0
#define RECV_MS      20000
#define DEADLINE_MS  (400 * 1000)
#define MAX_ATTEMPTS 1000 //  per message, BUSY retries included
#define READ_EVERY   50   //  a page read after this many stores sent
#define READ_BIT     (1ULL << 40)

#define CHECK HARNESS_CHECK

static const char *const s_channels[] = {"#load0", "#load1", "#load2", "#load3", NULL};

typedef struct {
    const char *endpoint;
    unsigned thread;
    unsigned per_thread;
    uint8_t *acked;    //  per message: 1 when the node answered OK
    unsigned attempts; //  most sends of one message
    uint64_t busy;
    uint64_t reads;
    uint64_t read_messages;
    int64_t deadline;
    const char *failure; //  NULL: fine
} worker_t;

static const char *s_channel_of(unsigned thread, unsigned index) {
    return s_channels[(thread + index) % CHANNELS];
}

//  The content of message (thread, index): known to every check.
static void s_content(char content[CONTENT_SIZE + 1], unsigned thread, unsigned index) {
    int length = snprintf(content, CONTENT_SIZE + 1, "load t%u i%u ", thread, index);
    memset(content + length, 'a' + (char)((thread + index) % 26), CONTENT_SIZE - (size_t)length);
    content[CONTENT_SIZE] = 0;
}

static void s_send_store(zsock_t *client, unsigned thread, unsigned index) {
    char id[CA_UUID_TEXT_LENGTH + 1], content[CONTENT_SIZE + 1];
    messages_fixture_uuid(id, thread + 1, index);
    s_content(content, thread, index);
    Cairn__Message message;
    messages_fixture_message(&message, id, T0 + index, s_channel_of(thread, index), content);
    Cairn__Request request;
    Cairn__MessageStore store;
    ca_request_message_store(&request, &store, index, &message);
    CHECK(harness_send(client, &request) == 0);
}

static void s_send_read(zsock_t *client, unsigned thread, uint64_t serial) {
    Cairn__Request request;
    Cairn__MessageList list;
    ca_request_message_list(&request, &list, READ_BIT | serial, s_channels[serial % CHANNELS], 100,
                            0, 0, 0, "");
    CHECK(harness_send(client, &request) == 0);
}

//  (timestamp, id) of a page in strictly descending order, each message
//  in `channel` and made by this test. NULL or what is wrong.
static const char *s_page_problem(const Cairn__MessagePage *page, const char *channel) {
    for (size_t i = 0; i < page->n_messages; i++) {
        const Cairn__Message *message = page->messages[i];
        if (!streq(message->channel, channel))
            return "a page holds a message of another channel";
        if (message->content.len != CONTENT_SIZE)
            return "a message came back with other content";
        if (i == 0)
            continue;
        const Cairn__Message *previous = page->messages[i - 1];
        if (message->timestamp > previous->timestamp ||
            (message->timestamp == previous->timestamp && strcmp(message->id, previous->id) >= 0))
            return "a page is not ordered by (timestamp, id) descending";
    }
    return NULL;
}

//  One client: a window of stores and reads in flight until every message
//  was acknowledged.
static void *s_worker(void *arg) {
    worker_t *self = (worker_t *)arg;
    zsock_t *client = harness_connect(self->endpoint);
    uint16_t *sends = (uint16_t *)calloc(self->per_thread, sizeof(uint16_t));
    unsigned next = 0, acked = 0, in_flight = 0;
    uint64_t serial = 0;
    //  Messages refused with BUSY, to send again (a ring of indexes).
    unsigned *retry = (unsigned *)calloc(self->per_thread, sizeof(unsigned));
    unsigned retry_head = 0, retry_tail = 0; //  tail - head = waiting

    while (acked < self->per_thread && !self->failure) {
        if (zclock_mono() > self->deadline) {
            self->failure = "the deadline passed before every message was acknowledged";
            break;
        }
        while (in_flight < WINDOW && (retry_tail > retry_head || next < self->per_thread)) {
            unsigned index =
                retry_tail > retry_head ? retry[retry_head++ % self->per_thread] : next++;
            if (++sends[index] > MAX_ATTEMPTS) {
                self->failure = "a message stayed BUSY for too many attempts";
                break;
            }
            s_send_store(client, self->thread, index);
            in_flight++;
            //  A read rides along (beyond the window: one per READ_EVERY stores).
            if (index % READ_EVERY == 0) {
                s_send_read(client, self->thread, serial++);
                in_flight++;
            }
        }
        if (self->failure)
            break;
        Cairn__Response *response = harness_recv(client, RECV_MS);
        if (!response) {
            self->failure = "no answer within the receive timeout";
            break;
        }
        in_flight--;
        if (response->id & READ_BIT) {
            uint64_t read = response->id & ~READ_BIT;
            if (response->status == CAIRN__STATUS__OK) {
                self->reads++;
                self->read_messages += response->message_list->n_messages;
                const char *problem =
                    s_page_problem(response->message_list, s_channels[read % CHANNELS]);
                if (problem)
                    self->failure = problem;
            } else if (response->status != CAIRN__STATUS__BUSY)
                self->failure = "a page read failed";
        } else if (response->id >= self->per_thread)
            self->failure = "an answer with an unknown id";
        else if (response->status == CAIRN__STATUS__OK) {
            if (self->acked[response->id])
                self->failure = "a message was acknowledged twice";
            self->acked[response->id] = 1;
            acked++;
        } else if (response->status == CAIRN__STATUS__BUSY) {
            self->busy++;
            retry[retry_tail++ % self->per_thread] = (unsigned)response->id;
        } else {
            fprintf(stderr, "thread %u: message %llu: status %d: %s\n", self->thread,
                    (unsigned long long)response->id, response->status, response->error);
            self->failure = "a store failed";
        }
        cairn__response__free_unpacked(response, NULL);
    }
    //  Drain what is still in flight (reads sent after the last store).
    for (unsigned n = 0; n < 2 * WINDOW && in_flight > 0 && !self->failure; n++) {
        Cairn__Response *response = harness_recv(client, RECV_MS);
        if (!response) {
            self->failure = "no answer to a request still in flight";
            break;
        }
        in_flight--;
        if (!(response->id & READ_BIT))
            self->failure = "a store answered after all were acknowledged";
        cairn__response__free_unpacked(response, NULL);
    }
    for (unsigned i = 0; i < self->per_thread; i++)
        if (sends[i] > self->attempts)
            self->attempts = sends[i];
    free(retry);
    free(sends);
    zsock_destroy(&client);
    return NULL;
}

static Cairn__Response *s_call(zsock_t *client, Cairn__Request *request) {
    Cairn__Response *response = harness_call(client, request, RECV_MS);
    CHECK(response && response->status == CAIRN__STATUS__OK);
    return response;
}

//  Walks one channel with the keyset cursor (or offset), marking each
//  message in `seen`; `ids` receives the sequence. Returns the count.
static size_t s_walk(zsock_t *client, unsigned channel, bool cursor, unsigned threads,
                     unsigned per_thread, uint8_t *seen, char (*ids)[CA_UUID_TEXT_LENGTH + 1],
                     size_t max) {
    Cairn__Request request;
    Cairn__MessageList list;
    ca_request_message_list(&request, &list, 1, s_channels[channel], MESSAGES_PAGE_MAX, 0, 0, 0,
                            "");
    size_t count = 0;
    double last_timestamp = 0;
    char last_id[CA_UUID_TEXT_LENGTH + 1] = "";
    for (size_t page = 0; page <= max / MESSAGES_PAGE_MAX + 1; page++) {
        if (cursor && count) {
            list.before_timestamp = last_timestamp;
            list.before_id = last_id;
        } else
            list.offset = (uint32_t)count;
        Cairn__Response *response = s_call(client, &request);
        const Cairn__MessagePage *got = response->message_list;
        CHECK(s_page_problem(got, s_channels[channel]) == NULL);
        for (size_t i = 0; i < got->n_messages; i++) {
            const Cairn__Message *message = got->messages[i];
            unsigned high = 0;
            unsigned long long low = 0;
            CHECK(sscanf(message->id, "%8x-0000-4000-8000-%12llx", &high, &low) == 2);
            CHECK(high >= 1 && high <= threads && low < per_thread);
            unsigned thread = high - 1, index = (unsigned)low;
            CHECK(message->timestamp == T0 + index);
            CHECK(streq(s_channel_of(thread, index), s_channels[channel]));
            //  Across pages too: strictly older than the one before.
            CHECK(count == 0 || message->timestamp < last_timestamp ||
                  (message->timestamp == last_timestamp && strcmp(message->id, last_id) < 0));
            size_t slot = (size_t)thread * per_thread + index;
            if (seen) {
                CHECK(!seen[slot]); //  exactly once
                seen[slot] = 1;
            }
            CHECK(count < max);
            snprintf(ids[count], sizeof ids[count], "%s", message->id);
            count++;
            last_timestamp = message->timestamp;
            snprintf(last_id, sizeof last_id, "%s", message->id);
        }
        bool more = got->more;
        cairn__response__free_unpacked(response, NULL);
        if (!more)
            return count;
    }
    CHECK(false);
    return count;
}

int main(int argc, char **argv) {
    zsys_init();
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[1]) : 8;
    unsigned per_thread = argc > 2 ? (unsigned)atoi(argv[2]) : 10000;
    CHECK(threads >= 1 && threads <= 64 && per_thread >= CHANNELS && per_thread <= 1000000);
    size_t total = (size_t)threads * per_thread;
    //  Extra arguments go to cairnd (e.g. --queue-max=20 to force BUSY).
    harness_node_t *node =
        messages_fixture_start(s_channels, argc > 3 ? (const char *const *)argv + 3 : NULL);
    CHECK(node);
    uint8_t *acked = (uint8_t *)calloc(total, 1);
    worker_t *workers = (worker_t *)calloc(threads, sizeof(worker_t));
    pthread_t *ids = (pthread_t *)calloc(threads, sizeof(pthread_t));
    int64_t started = zclock_mono();
    for (unsigned t = 0; t < threads; t++) {
        workers[t] = (worker_t){.endpoint = harness_node_endpoint(node),
                                .thread = t,
                                .per_thread = per_thread,
                                .acked = acked + (size_t)t * per_thread,
                                .deadline = started + DEADLINE_MS};
        CHECK(pthread_create(&ids[t], NULL, s_worker, &workers[t]) == 0);
    }
    bool failed = false;
    uint64_t busy = 0, reads = 0, read_messages = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        if (workers[t].failure) {
            fprintf(stderr, "thread %u: %s\n", t, workers[t].failure);
            failed = true;
        }
        busy += workers[t].busy;
        reads += workers[t].reads;
        read_messages += workers[t].read_messages;
    }
    int64_t elapsed = zclock_mono() - started;
    fprintf(stderr,
            "%zu messages from %u clients in %lld ms (%.0f/s); %llu BUSY retried; %llu "
            "pages read during the load (%llu messages)\n",
            total, threads, (long long)elapsed, elapsed ? total * 1000.0 / (double)elapsed : 0.0,
            (unsigned long long)busy, (unsigned long long)reads, (unsigned long long)read_messages);
    CHECK(!failed);
    for (size_t i = 0; i < total; i++)
        CHECK(acked[i]);
    CHECK(reads > 0);

    //  Everything acknowledged is there, once, in order, per channel.
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    uint8_t *seen = (uint8_t *)calloc(total, 1);
    size_t per_channel = total / CHANNELS + 1;
    char(*keyset)[CA_UUID_TEXT_LENGTH + 1] = calloc(per_channel, CA_UUID_TEXT_LENGTH + 1);
    char(*offset)[CA_UUID_TEXT_LENGTH + 1] = calloc(per_channel, CA_UUID_TEXT_LENGTH + 1);
    size_t found = 0;
    for (unsigned c = 0; c < CHANNELS; c++) {
        size_t expected = 0;
        for (unsigned t = 0; t < threads; t++)
            for (unsigned i = 0; i < per_thread; i++)
                expected += (t + i) % CHANNELS == c;
        size_t count = s_walk(client, c, true, threads, per_thread, seen, keyset, per_channel);
        CHECK(count == expected);
        CHECK(s_walk(client, c, false, threads, per_thread, NULL, offset, per_channel) == count);
        for (size_t i = 0; i < count; i++)
            CHECK(streq(keyset[i], offset[i]));
        found += count;
    }
    CHECK(found == total);
    for (size_t i = 0; i < total; i++)
        CHECK(seen[i]);
    //  A sample, byte for byte.
    for (unsigned t = 0; t < threads; t++)
        for (unsigned i = t; i < per_thread; i += 997) {
            char id[CA_UUID_TEXT_LENGTH + 1], content[CONTENT_SIZE + 1];
            messages_fixture_uuid(id, t + 1, i);
            s_content(content, t, i);
            Cairn__Request request;
            Cairn__MessageGet get;
            ca_request_message_get(&request, &get, 2, id);
            Cairn__Response *response = s_call(client, &request);
            const Cairn__Message *message = response->message_get;
            CHECK(streq(message->id, id) && message->timestamp == T0 + i);
            CHECK(streq(message->channel, s_channel_of(t, i)));
            CHECK(message->content.len == CONTENT_SIZE &&
                  memcmp(message->content.data, content, CONTENT_SIZE) == 0);
            cairn__response__free_unpacked(response, NULL);
        }
    Cairn__Request request;
    Cairn__MessageStats stats;
    ca_request_message_stats(&request, &stats, 3);
    Cairn__Response *response = s_call(client, &request);
    CHECK(response->message_stats->messages == total);
    CHECK(response->message_stats->oldest_timestamp == T0);
    CHECK(response->message_stats->newest_timestamp == T0 + per_thread - 1);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);
    free(keyset);
    free(offset);
    free(seen);
    free(acked);
    free(workers);
    free(ids);
    fprintf(stderr, "e2e.messages.concurrency: OK\n");
    return 0;
}

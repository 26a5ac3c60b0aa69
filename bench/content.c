/*  =========================================================================
    content - cairn-bench's content-store and peer-content-cache cases

    Each node case has a raw baseline run seconds before it in the same run,
    on the same bytes, in a directory beside the node's data dir (so on the
    same filesystem); the ratio is taken of MB/s (10^6 bytes per second):

        raw.content_put.SIZE   SHA-256 of the blob (ca_sha256), write to a
                               temp file, fsync, rename to <2 hex>/<64 hex>,
                               fsync of that directory: what the node must
                               do at least, without its index row
        node.content_put.SIZE  ContentPut of whole blobs with a window of
                               requests outstanding (4k, 1m); 64m: one
                               stream at a time, ContentBegin, 4 MiB
                               ContentChunks with CHUNK_WINDOW outstanding,
                               ContentCommit
        raw.content_get.SIZE   read the file in 4 MiB reads, hashing as it
                               goes, and compare with its name
        node.content_get.SIZE  ContentGet with a window (4k, 1m); 64m:
                               ContentRead of 4 MiB ranges in order with
                               CHUNK_WINDOW outstanding; verification on
                               (the last range must say `verified`)
        node.cache_put.4k      CachePut of distinct 4 KiB entries (the bench
                               hashes each one: the request carries it),
                               a window outstanding
        node.cache_get.4k      CacheGet (verified) of the entries put
        node.content_fetch.64m ContentFetch on node B of a 64 MiB blob
                               streamed into node A (untimed), B a peer of
                               A (bench_pair_up); the time is the
                               fetch's, against node.content_get.64m:
                               a peer's copy against a local read
        node.content_1gib      (optional) one 1 GiB blob streamed in and
                               read back out; the node's VmHWM before,
                               between and after (reset first through
                               /proc/<pid>/clear_refs, so that it shows this
                               case's peak alone)

    SIZE is 4k, 1m or 64m. Every blob is distinct: the bench's fixed pattern
    with a serial number in its first 8 bytes, so the node's deduplication
    never short-cuts a put (an answer saying `deduplicated` is an error).
    The get cases read what the put cases of the same size stored, cycling
    through them (a get case run without its put case stores a few blobs
    first, untimed); both sides' files are then in the page cache, so get
    measures reading from memory and hashing. After each node case the
    node's VmRSS and VmHWM are printed.
    ========================================================================= */

#include "bench.h"
#include "ca_blobs.h" //  ca_fsync_dir
#include "ca_clock.h"
#include "ca_hash.h"
#include "ca_limits.h" //  CA_CONTENT_QUEUE_MAX
#include "ca_testbed.h"
#include "ca_validate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_BYTES  ((size_t)4 << 20)  //  stream chunk, ContentRead range, raw read
#define WHOLE_MAX    CHUNK_BYTES        //  larger blobs are streamed and read in ranges
#define SCRATCH_MAX  ((size_t)64 << 20) //  larger blobs repeat their first 64 MiB
#define CHUNK_WINDOW 4                  //  chunks or ranges outstanding in one stream
//  Requests outstanding in the whole-blob cases (at most; --window lowers
//  them): the node queues CA_CONTENT_QUEUE_MAX small requests per content
//  worker, of which one client may hold 1/CA_CLIENT_POOL_SHARE_DIVISOR
//  (larger ones are bounded by bytes, queue_bytes), and answers BUSY
//  beyond: so one client's share at workers=1.
#define SMALL_WINDOW   (CA_CONTENT_QUEUE_MAX / CA_CLIENT_POOL_SHARE_DIVISOR)
#define LARGE_WINDOW   8                  //  requests of up to WHOLE_MAX outstanding
#define SMALL_MAX      ((size_t)64 << 10) //  blobs up to this size get SMALL_WINDOW
#define GET_SEED_BLOBS 64                 //  stored untimed when a get case finds none
#define SEED_SECONDS   600.0              //  bound of the untimed seeding
#define MAX_SIZES      4                  //  distinct blob sizes the cases use
#define CACHE_PEER     "cairn-bench-peer"
#define CACHE_RECEIPT  "cairn-bench-receipt"

//  ---- state shared by the cases --------------------------------------------------------

typedef struct {
    uint8_t (*hashes)[CA_SHA256_BYTES];
    size_t count;
    size_t capacity;
} hash_list_t;

//  What the put cases of one size stored, for the get cases to read.
typedef struct {
    size_t size;
    hash_list_t raw;
    hash_list_t node;
    hash_list_t cache;
} stored_t;

struct _bench_content_t {
    char *raw_dir;    //  the raw baseline's store, beside the node's data dir
    uint64_t serial;  //  numbers every blob made, so no two are alike
    uint8_t *scratch; //  the pattern, with the current serial in its first 8 bytes
    size_t scratch_size;
    uint8_t *read_buffer; //  CHUNK_BYTES, for the raw get
    ca_sha256_t *hash;    //  the raw get's incremental hash
    stored_t stored[MAX_SIZES];
};

static void s_list_add(hash_list_t *list, const uint8_t hash[CA_SHA256_BYTES]) {
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 1024;
        list->hashes = realloc(list->hashes, list->capacity * CA_SHA256_BYTES);
        assert(list->hashes);
    }
    memcpy(list->hashes[list->count++], hash, CA_SHA256_BYTES);
}

//  Hash number `n` of the list, cycling; the list is not empty.
static const uint8_t *s_list_at(const hash_list_t *list, uint64_t n) {
    return list->hashes[n % list->count];
}

static void s_list_free(hash_list_t *list) {
    free(list->hashes);
    memset(list, 0, sizeof *list);
}

static void s_content_destroy(bench_content_t **self_p) {
    bench_content_t *self = *self_p;
    if (!self)
        return;
    if (self->raw_dir)
        ca_test_rmtree(self->raw_dir);
    zstr_free(&self->raw_dir);
    for (int i = 0; i < MAX_SIZES; i++) {
        s_list_free(&self->stored[i].raw);
        s_list_free(&self->stored[i].node);
        s_list_free(&self->stored[i].cache);
    }
    ca_sha256_destroy(&self->hash);
    free(self->scratch);
    free(self->read_buffer);
    free(self);
    *self_p = NULL;
}

//  The content cases' state, made on first use with the raw baseline's
//  directory beside the node's data dir (so the node is started first).
//  NULL after saying why.
static bench_content_t *s_content(bench_t *bench, const char *name) {
    if (bench->content)
        return bench->content;
    harness_node_t *node = bench_node(bench);
    if (!node)
        return NULL;
    const char *data_dir = harness_node_data_dir(node);
    const char *slash = strrchr(data_dir, '/');
    int parent = slash ? (int)(slash - data_dir) : 1;
    char *raw_dir = zsys_sprintf("%.*s/bench-raw-XXXXXX", parent, slash ? data_dir : ".");
    char *tmp_dir = mkdtemp(raw_dir) ? zsys_sprintf("%s/tmp", raw_dir) : NULL;
    if (!tmp_dir || mkdir(tmp_dir, 0700) != 0) {
        bench_fail(name, "cannot make %s: %s", tmp_dir ? tmp_dir : raw_dir, strerror(errno));
        zstr_free(&tmp_dir);
        zstr_free(&raw_dir);
        return NULL;
    }
    zstr_free(&tmp_dir);
    bench_content_t *self = (bench_content_t *)zmalloc(sizeof(bench_content_t));
    self->raw_dir = raw_dir;
    self->read_buffer = (uint8_t *)malloc(CHUNK_BYTES);
    self->hash = ca_sha256_new();
    assert(self->read_buffer && self->hash);
    bench->content = self;
    return self;
}

//  The lists of blobs of `size` bytes.
static stored_t *s_stored(bench_content_t *self, size_t size) {
    for (int i = 0; i < MAX_SIZES; i++) {
        if (self->stored[i].size == size)
            return &self->stored[i];
        if (self->stored[i].size == 0) {
            self->stored[i].size = size;
            return &self->stored[i];
        }
    }
    assert(false); //  the table uses at most MAX_SIZES sizes
    return NULL;
}

//  A new distinct blob: all of a whole one; of a streamed one (above
//  WHOLE_MAX) its first SCRATCH_MAX bytes, which it repeats (see s_chunk).
static const uint8_t *s_next_blob(bench_t *bench, bench_content_t *self, size_t size) {
    size_t want = size > WHOLE_MAX ? SCRATCH_MAX : size;
    if (want > self->scratch_size) {
        free(self->scratch);
        self->scratch = (uint8_t *)malloc(want);
        assert(self->scratch);
        memcpy(self->scratch, bench_pattern(bench, want), want);
        self->scratch_size = want;
    }
    uint64_t serial = ++self->serial;
    memcpy(self->scratch, &serial, sizeof serial);
    return self->scratch;
}

//  The bytes of the current blob at `offset` (a multiple of CHUNK_BYTES).
static const uint8_t *s_chunk(const bench_content_t *self, uint64_t offset) {
    return self->scratch + offset % self->scratch_size;
}

static size_t s_min(size_t a, size_t b) {
    return a < b ? a : b;
}

//  Requests of `size` bytes kept outstanding by the whole-blob cases.
static int s_window(const bench_t *bench, size_t size) {
    return (int)s_min((size_t)bench->window, size <= SMALL_MAX ? SMALL_WINDOW : LARGE_WINDOW);
}

//  Fills in the time and payload of a case that did result->ok blobs.
static void s_finish(result_t *result, int64_t start, size_t size) {
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    result->bytes = result->ok * size;
}

//  ---- the node's memory -------------------------------------------------------------------

void bench_print_node_memory(bench_t *bench, const char *when) {
    uint64_t rss = 0, hwm = 0;
    if (bench->node && harness_node_memory(bench->node, &rss, &hwm) == 0)
        printf("node memory %s: VmRSS %.1f MiB, peak VmHWM %.1f MiB\n", when, (double)rss / 1024.0,
               (double)hwm / 1024.0);
    else
        printf("node memory %s: not readable from /proc\n", when);
    fflush(stdout);
}

//  ---- raw baseline ------------------------------------------------------------------------

//  Writes data[0..size) to `fd`; -1 with errno set on failure.
static int s_write_all(int fd, const uint8_t *data, size_t size) {
    while (size > 0) {
        ssize_t done = write(fd, data, size);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return -1;
        data += done;
        size -= (size_t)done;
    }
    return 0;
}

//  Stores blob data[0..size) as the node must, at least: hash, temp file,
//  fsync, rename into <raw>/<2 hex>/<64 hex>, fsync of that directory.
static int s_raw_put_one(bench_content_t *self, const char *name, const uint8_t *data, size_t size,
                         uint8_t hash[CA_SHA256_BYTES]) {
    ca_sha256(data, size, hash);
    char hex[CA_SHA256_BYTES * 2 + 1];
    ca_hash_to_hex(hash, hex);
    char temp[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
    snprintf(temp, sizeof temp, "%s/tmp/%s", self->raw_dir, hex);
    snprintf(dir, sizeof dir, "%s/%.2s", self->raw_dir, hex);
    snprintf(path, sizeof path, "%s/%.2s/%s", self->raw_dir, hex, hex);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && s_write_all(fd, data, size) == 0 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && (mkdir(dir, 0700) == 0 || errno == EEXIST) && rename(temp, path) == 0 &&
         ca_fsync_dir(dir) == 0;
    return ok ? 0 : bench_fail(name, "storing %s: %s", path, strerror(errno));
}

//  Reads blob `hash` back in CHUNK_BYTES reads, hashing as it goes; -1
//  (after saying why) unless it has `size` bytes that match the hash.
static int s_raw_get_one(bench_content_t *self, const char *name, const uint8_t *hash,
                         size_t size) {
    char hex[CA_SHA256_BYTES * 2 + 1];
    ca_hash_to_hex(hash, hex);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%.2s/%s", self->raw_dir, hex, hex);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bench_fail(name, "open %s: %s", path, strerror(errno));
    uint64_t total = 0;
    ssize_t got;
    while ((got = read(fd, self->read_buffer, CHUNK_BYTES)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0) {
            ca_sha256_update(self->hash, self->read_buffer, (size_t)got);
            total += (uint64_t)got;
        }
    int error = got < 0 ? errno : 0;
    close(fd);
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256_final(self->hash, digest);
    if (error)
        return bench_fail(name, "read %s: %s", path, strerror(error));
    if (total != size || memcmp(digest, hash, CA_SHA256_BYTES) != 0)
        return bench_fail(name, "%s: %" PRIu64 " bytes that do not match its name", path, total);
    return 0;
}

static int s_run_raw_put(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *self = s_content(bench, name);
    if (!self)
        return -1;
    hash_list_t *stored = &s_stored(self, size)->raw;
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    do {
        uint8_t hash[CA_SHA256_BYTES];
        rc = s_raw_put_one(self, name, s_next_blob(bench, self, size), size, hash);
        if (rc == 0) {
            s_list_add(stored, hash);
            result->ok++;
        }
    } while (rc == 0 && bench_go_on(bench, result, deadline));
    s_finish(result, start, size);
    return rc;
}

static int s_run_raw_get(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *self = s_content(bench, name);
    if (!self)
        return -1;
    hash_list_t *stored = &s_stored(self, size)->raw;
    int rc = 0;
    for (int n = 0; rc == 0 && stored->count == 0 && n < GET_SEED_BLOBS; n++) {
        uint8_t hash[CA_SHA256_BYTES];
        rc = s_raw_put_one(self, name, s_next_blob(bench, self, size), size, hash);
        if (rc == 0)
            s_list_add(stored, hash);
    }
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && (result->ok == 0 || bench_go_on(bench, result, deadline))) {
        rc = s_raw_get_one(self, name, s_list_at(stored, result->ok), size);
        if (rc == 0)
            result->ok++;
    }
    s_finish(result, start, size);
    return rc;
}

//  ---- the node: whole blobs (ContentPut, ContentGet, CachePut, CacheGet) ------------------

//  The state of one whole-blob node case, passed through bench_drive.
typedef struct {
    bench_t *bench;
    bench_content_t *content;
    size_t size;
    hash_list_t *stored;              //  put: OK answers add their hash; get: read from here
    hash_list_t pending;              //  CachePut: hash of request id n at n - 1
    Cairn__Response__BodyCase answer; //  the body an OK answer carries
} whole_t;

static whole_t s_whole(bench_t *bench, bench_content_t *content, size_t size, hash_list_t *stored,
                       Cairn__Response__BodyCase answer) {
    whole_t whole = {bench, content, size, stored, {NULL, 0, 0}, answer};
    return whole;
}

static int s_put_send(void *handle, uint64_t id, void *context) {
    whole_t *whole = (whole_t *)context;
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, id,
                           s_next_blob(whole->bench, whole->content, whole->size), whole->size,
                           NULL, 0);
    return bench_send_request(handle, &request);
}

//  Unpacks an answer, sets its id and outcome, and checks that an OK one
//  has `body`. NULL when it does not decode.
static Cairn__Response *s_unpack(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                                 result_t *result, Cairn__Response__BodyCase body) {
    Cairn__Response *response = cairn__response__unpack(NULL, size, (const uint8_t *)data);
    if (!response)
        return NULL;
    *id = response->id;
    *outcome = bench_response_outcome(response, result);
    if (*outcome == OUTCOME_OK && response->body_case != body) {
        *outcome = OUTCOME_ERROR;
        bench_first_error(result, "OK, but an answer of body %d, not %d", (int)response->body_case,
                          (int)body);
    }
    return response;
}

static int s_put_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                        result_t *result, void *context) {
    whole_t *whole = (whole_t *)context;
    Cairn__Response *response = s_unpack(data, size, id, outcome, result, whole->answer);
    if (!response)
        return -1;
    const Cairn__ContentStored *stored = response->content_put;
    if (*outcome == OUTCOME_OK && (stored->hash.len != CA_SHA256_BYTES ||
                                   stored->size != whole->size || stored->deduplicated)) {
        *outcome = OUTCOME_ERROR;
        bench_first_error(result,
                          "OK, but stored %" PRIu64 " bytes (of %zu), hash of %zu bytes,%s "
                          "deduplicated (every blob is distinct)",
                          stored->size, whole->size, stored->hash.len,
                          stored->deduplicated ? "" : " not");
    }
    if (*outcome == OUTCOME_OK)
        s_list_add(whole->stored, stored->hash.data);
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

//  ContentGet or CacheGet (whole->answer says which) of the stored blobs,
//  cycling.
static int s_get_send(void *handle, uint64_t id, void *context) {
    whole_t *whole = (whole_t *)context;
    const uint8_t *hash = s_list_at(whole->stored, id - 1);
    Cairn__Request request;
    Cairn__ContentGet get;
    Cairn__CacheGet cache_get;
    if (whole->answer == CAIRN__RESPONSE__BODY_CACHE_GET)
        ca_request_cache_get(&request, &cache_get, id, hash, CA_SHA256_BYTES, false);
    else
        ca_request_content_get(&request, &get, id, hash, CA_SHA256_BYTES, false);
    return bench_send_request(handle, &request);
}

//  An OK answer counts only when it holds `expected` bytes.
static void s_check_size(outcome_t *outcome, result_t *result, size_t got, size_t expected) {
    if (*outcome == OUTCOME_OK && got != expected) {
        *outcome = OUTCOME_ERROR;
        bench_first_error(result, "OK, but %zu bytes, not %zu", got, expected);
    }
}

//  Decodes a ContentGet or a CacheGet answer (whole->answer says which).
static int s_get_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                        result_t *result, void *context) {
    whole_t *whole = (whole_t *)context;
    Cairn__Response *response = s_unpack(data, size, id, outcome, result, whole->answer);
    if (!response)
        return -1;
    if (*outcome == OUTCOME_OK)
        s_check_size(outcome, result,
                     whole->answer == CAIRN__RESPONSE__BODY_CACHE_GET
                         ? response->cache_get->data.len
                         : response->content_get->data.len,
                     whole->size);
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static int s_cache_put_send(void *handle, uint64_t id, void *context) {
    whole_t *whole = (whole_t *)context;
    const uint8_t *blob = s_next_blob(whole->bench, whole->content, whole->size);
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(blob, whole->size, hash);
    assert(whole->pending.count == id - 1);
    s_list_add(&whole->pending, hash);
    Cairn__Request request;
    Cairn__CachePut put;
    ca_request_cache_put(&request, &put, id, hash, CA_SHA256_BYTES, blob, whole->size, CACHE_PEER,
                         ca_now_seconds_ms(), CACHE_RECEIPT, sizeof CACHE_RECEIPT - 1);
    return bench_send_request(handle, &request);
}

static int s_cache_put_decode(const void *data, size_t size, uint64_t *id, outcome_t *outcome,
                              result_t *result, void *context) {
    whole_t *whole = (whole_t *)context;
    Cairn__Response *response = s_unpack(data, size, id, outcome, result, whole->answer);
    if (!response)
        return -1;
    if (*outcome == OUTCOME_OK &&
        (response->cache_put->replaced || response->cache_put->evicted_entries)) {
        *outcome = OUTCOME_ERROR;
        bench_first_error(result,
                          "OK, but replaced %d, evicted %" PRIu64 " entries (the bench's "
                          "entries are distinct and should fit cache_max_bytes)",
                          (int)response->cache_put->replaced, response->cache_put->evicted_entries);
    }
    if (*outcome == OUTCOME_OK && *id >= 1 && *id <= whole->pending.count)
        s_list_add(whole->stored, whole->pending.hashes[*id - 1]);
    cairn__response__free_unpacked(response, NULL);
    return 0;
}

static const wire_t s_put_wire = {s_put_send, s_put_decode};
static const wire_t s_get_wire = {s_get_send, s_get_decode};
static const wire_t s_cache_put_wire = {s_cache_put_send, s_cache_put_decode};

//  Runs `wire` as a timed case on `whole`, then prints the node's memory.
static int s_run_whole(bench_t *bench, result_t *result, const char *name, const wire_t *wire,
                       whole_t *whole) {
    int rc = bench_run_node(bench, result, name, wire, whole, s_window(bench, whole->size));
    result->bytes = result->ok * whole->size;
    s_list_free(&whole->pending);
    if (rc == 0)
        bench_print_node_memory(bench, name);
    return rc;
}

//  Stores `count` blobs through `wire` untimed, so that a get case has
//  something to read. 0, or -1 after saying why.
static int s_seed(bench_t *bench, const char *name, const wire_t *wire, whole_t *whole,
                  uint64_t count) {
    result_t result = {0};
    zsock_t *client = harness_connect(harness_node_endpoint(bench->node));
    int rc = bench_drive_for(SEED_SECONDS, count, name, client, wire, whole,
                             s_window(bench, whole->size), &result);
    zsock_destroy(&client);
    s_list_free(&whole->pending);
    if (rc == 0 && result.ok != count)
        rc = bench_fail(name, "storing %" PRIu64 " blobs first: %" PRIu64 " OK (%s)", count,
                        result.ok, result.first_error);
    return rc;
}

//  ---- the node: streams (ContentBegin/Chunk/Commit, ContentRead ranges) -------------------

//  One connection on which a case sends requests and waits for each answer
//  in turn (the stream cases keep a few outstanding themselves).
typedef struct {
    const char *name;
    zsock_t *client;
    tracker_t tracker;
} conv_t;

//  A conversation on a new connection to `node`.
static void s_conv_open_on(conv_t *conv, harness_node_t *node, const char *name) {
    conv->name = name;
    conv->client = harness_connect(harness_node_endpoint(node));
    memset(&conv->tracker, 0, sizeof conv->tracker);
}

static void s_conv_open(conv_t *conv, bench_t *bench, const char *name) {
    s_conv_open_on(conv, bench->node, name);
}

//  Closes the connection; -1 (after saying why) if a request went
//  unanswered and `rc` was 0; else `rc`.
static int s_conv_close(conv_t *conv, int rc) {
    if (rc == 0)
        rc = bench_tracker_check(&conv->tracker, conv->name);
    bench_tracker_free(&conv->tracker);
    zsock_destroy(&conv->client);
    return rc;
}

//  Sends `request` (built with any id) with the next id; -1 after saying
//  why.
static int s_conv_send(conv_t *conv, Cairn__Request *request) {
    request->id = conv->tracker.sent + 1;
    if (bench_send_request(zsock_resolve(conv->client), request) != 0)
        return bench_fail(conv->name, "send: %s", zmq_strerror(zmq_errno()));
    bench_tracker_sent(&conv->tracker, request->id);
    return 0;
}

//  The next answer, which must be OK with `body`; NULL after saying why.
//  Caller frees it.
static Cairn__Response *s_conv_expect(conv_t *conv, Cairn__Response__BodyCase body,
                                      const char *what) {
    Cairn__Response *response = harness_recv(conv->client, STALL_TIMEOUT_MS);
    if (!response) {
        bench_fail(conv->name, "%s: no valid answer within %d ms", what, STALL_TIMEOUT_MS);
        return NULL;
    }
    if (bench_tracker_answer(&conv->tracker, conv->name, response->id) != 0)
        ;
    else if (response->status != CAIRN__STATUS__OK || response->body_case != body)
        bench_fail(conv->name, "%s: status %d, body %d: %s", what, (int)response->status,
                   (int)response->body_case, response->error ? response->error : "");
    else
        return response;
    cairn__response__free_unpacked(response, NULL);
    return NULL;
}

//  Sends chunks of the current blob from `*sent` while fewer than
//  CHUNK_WINDOW are outstanding. -1 after saying why.
static int s_send_chunks(conv_t *conv, const bench_content_t *content, uint64_t stream_id,
                         size_t size, uint64_t *sent, int *outstanding) {
    int rc = 0;
    while (rc == 0 && *sent < size && *outstanding < CHUNK_WINDOW) {
        size_t length = s_min(CHUNK_BYTES, size - *sent);
        Cairn__Request request;
        Cairn__ContentChunk chunk;
        ca_request_content_chunk(&request, &chunk, 0, stream_id, *sent, s_chunk(content, *sent),
                                 length);
        rc = s_conv_send(conv, &request);
        *sent += length;
        (*outstanding)++;
    }
    return rc;
}

//  Streams a new blob of `size` bytes in: Begin, chunks with at most
//  CHUNK_WINDOW outstanding, Commit. Puts its hash in `hash`. -1 after
//  saying why.
static int s_stream_put(conv_t *conv, bench_t *bench, bench_content_t *content, size_t size,
                        uint8_t hash[CA_SHA256_BYTES]) {
    s_next_blob(bench, content, size);
    Cairn__Request request;
    Cairn__ContentBegin begin;
    ca_request_content_begin(&request, &begin, 0, NULL, 0);
    Cairn__Response *response =
        s_conv_send(conv, &request) == 0
            ? s_conv_expect(conv, CAIRN__RESPONSE__BODY_CONTENT_BEGIN, "ContentBegin")
            : NULL;
    if (!response)
        return -1;
    uint64_t stream_id = response->content_begin->stream_id;
    cairn__response__free_unpacked(response, NULL);
    uint64_t sent = 0;
    int outstanding = 0, rc = 0;
    while (rc == 0 && (sent < size || outstanding > 0)) {
        rc = s_send_chunks(conv, content, stream_id, size, &sent, &outstanding);
        response = rc == 0
                       ? s_conv_expect(conv, CAIRN__RESPONSE__BODY_CONTENT_CHUNK, "ContentChunk")
                       : NULL;
        rc = response ? 0 : -1;
        outstanding--;
        if (response)
            cairn__response__free_unpacked(response, NULL);
    }
    Cairn__ContentCommit commit;
    ca_request_content_commit(&request, &commit, 0, stream_id, NULL, 0);
    response = rc == 0 && s_conv_send(conv, &request) == 0
                   ? s_conv_expect(conv, CAIRN__RESPONSE__BODY_CONTENT_COMMIT, "ContentCommit")
                   : NULL;
    if (!response)
        return -1;
    const Cairn__ContentStored *stored = response->content_commit;
    rc = stored->size == size && stored->hash.len == CA_SHA256_BYTES && !stored->deduplicated
             ? 0
             : bench_fail(conv->name,
                          "ContentCommit: %" PRIu64 " bytes of %zu, hash of %zu bytes,%s "
                          "deduplicated (every blob is distinct)",
                          stored->size, size, stored->hash.len, stored->deduplicated ? "" : " not");
    if (rc == 0)
        memcpy(hash, stored->hash.data, CA_SHA256_BYTES);
    cairn__response__free_unpacked(response, NULL);
    return rc;
}

//  Sends ContentRead requests from `*next` while fewer than CHUNK_WINDOW
//  are outstanding. -1 after saying why.
static int s_send_reads(conv_t *conv, const uint8_t *hash, size_t size, uint64_t *next,
                        int *outstanding) {
    int rc = 0;
    while (rc == 0 && *next < size && *outstanding < CHUNK_WINDOW) {
        Cairn__Request request;
        Cairn__ContentRead read;
        ca_request_content_read(&request, &read, 0, hash, CA_SHA256_BYTES, *next, CHUNK_BYTES,
                                false);
        rc = s_conv_send(conv, &request);
        *next += CHUNK_BYTES;
        (*outstanding)++;
    }
    return rc;
}

//  Checks one ContentRange against what was asked: the bytes from `*got`
//  of a `size`-byte blob; advances *got and sets *end. -1 after saying why.
static int s_check_range(conv_t *conv, const Cairn__ContentRange *range, size_t size, uint64_t *got,
                         bool *end) {
    if (range->offset != *got || range->size != size || range->data.len == 0 ||
        range->data.len > CHUNK_BYTES)
        return bench_fail(conv->name,
                          "ContentRead: a range of %zu bytes at %" PRIu64 " of %" PRIu64
                          ", expected up to %zu bytes at %" PRIu64 " of %zu",
                          range->data.len, range->offset, range->size, CHUNK_BYTES, *got, size);
    *got += range->data.len;
    *end = range->end;
    if (range->end && (*got != size || !range->verified))
        return bench_fail(conv->name,
                          "ContentRead: end after %" PRIu64 " of %zu bytes, verified %d", *got,
                          size, (int)range->verified);
    return 0;
}

//  Reads blob `hash` of `size` bytes back in CHUNK_BYTES ranges, in order,
//  with at most CHUNK_WINDOW outstanding, verification on. -1 after saying
//  why (also when the last range is not `verified`).
static int s_stream_read(conv_t *conv, const uint8_t *hash, size_t size) {
    uint64_t next = 0, got = 0;
    int outstanding = 0, rc = 0;
    bool end = false;
    while (rc == 0 && !end) {
        rc = s_send_reads(conv, hash, size, &next, &outstanding);
        Cairn__Response *response =
            rc == 0 ? s_conv_expect(conv, CAIRN__RESPONSE__BODY_CONTENT_READ, "ContentRead") : NULL;
        outstanding--;
        rc = response ? s_check_range(conv, response->content_read, size, &got, &end) : -1;
        if (response)
            cairn__response__free_unpacked(response, NULL);
    }
    if (rc == 0 && outstanding != 0)
        rc = bench_fail(conv->name, "ContentRead: the end came with %d ranges still asked for",
                        outstanding);
    return rc;
}

static int s_run_stream_put(bench_t *bench, result_t *result, const char *name, size_t size,
                            bench_content_t *content) {
    hash_list_t *stored = &s_stored(content, size)->node;
    conv_t conv;
    s_conv_open(&conv, bench, name);
    int rc = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    do {
        uint8_t hash[CA_SHA256_BYTES];
        rc = s_stream_put(&conv, bench, content, size, hash);
        if (rc == 0) {
            s_list_add(stored, hash);
            result->ok++;
        }
    } while (rc == 0 && bench_go_on(bench, result, deadline));
    s_finish(result, start, size);
    return s_conv_close(&conv, rc);
}

static int s_run_stream_get(bench_t *bench, result_t *result, const char *name, size_t size,
                            bench_content_t *content) {
    hash_list_t *stored = &s_stored(content, size)->node;
    conv_t conv;
    s_conv_open(&conv, bench, name);
    int rc = 0;
    if (stored->count == 0) { //  nothing put yet: one blob, untimed
        uint8_t hash[CA_SHA256_BYTES];
        rc = s_stream_put(&conv, bench, content, size, hash);
        if (rc == 0)
            s_list_add(stored, hash);
    }
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (rc == 0 && (result->ok == 0 || bench_go_on(bench, result, deadline))) {
        rc = s_stream_read(&conv, s_list_at(stored, result->ok), size);
        if (rc == 0)
            result->ok++;
    }
    s_finish(result, start, size);
    return s_conv_close(&conv, rc);
}

//  ---- the node cases ------------------------------------------------------------------------

static int s_run_node_put(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    int rc;
    if (size > WHOLE_MAX) {
        rc = s_run_stream_put(bench, result, name, size, content);
        if (rc == 0)
            bench_print_node_memory(bench, name);
    } else {
        whole_t whole = s_whole(bench, content, size, &s_stored(content, size)->node,
                                CAIRN__RESPONSE__BODY_CONTENT_PUT);
        rc = s_run_whole(bench, result, name, &s_put_wire, &whole);
    }
    return rc;
}

static int s_run_node_get(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    if (size > WHOLE_MAX) {
        int rc = s_run_stream_get(bench, result, name, size, content);
        if (rc == 0)
            bench_print_node_memory(bench, name);
        return rc;
    }
    whole_t whole = s_whole(bench, content, size, &s_stored(content, size)->node,
                            CAIRN__RESPONSE__BODY_CONTENT_PUT);
    if (whole.stored->count == 0 && s_seed(bench, name, &s_put_wire, &whole, GET_SEED_BLOBS) != 0)
        return -1;
    whole.answer = CAIRN__RESPONSE__BODY_CONTENT_GET;
    return s_run_whole(bench, result, name, &s_get_wire, &whole);
}

static int s_run_node_cache_put(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    whole_t whole = s_whole(bench, content, size, &s_stored(content, size)->cache,
                            CAIRN__RESPONSE__BODY_CACHE_PUT);
    return s_run_whole(bench, result, name, &s_cache_put_wire, &whole);
}

static int s_run_node_cache_get(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    whole_t whole = s_whole(bench, content, size, &s_stored(content, size)->cache,
                            CAIRN__RESPONSE__BODY_CACHE_PUT);
    if (whole.stored->count == 0 &&
        s_seed(bench, name, &s_cache_put_wire, &whole, GET_SEED_BLOBS) != 0)
        return -1;
    whole.answer = CAIRN__RESPONSE__BODY_CACHE_GET;
    return s_run_whole(bench, result, name, &s_get_wire, &whole);
}

//  Prints a phase of the stream case: its throughput and the node's peak.
static void s_print_phase(bench_t *bench, const char *name, const char *what, size_t size,
                          int64_t start) {
    double seconds = (double)(zclock_usecs() - start) / 1e6;
    uint64_t rss = 0, hwm = 0;
    bool known = harness_node_memory(bench->node, &rss, &hwm) == 0;
    printf("%s: %s %zu bytes in %.2f s (%.1f MB/s); node VmRSS %.1f MiB, VmHWM %.1f MiB%s\n", name,
           what, size, seconds, seconds > 0 ? (double)size / 1e6 / seconds : 0.0,
           (double)rss / 1024.0, (double)hwm / 1024.0, known ? "" : " (not readable)");
    fflush(stdout);
}

static int s_run_node_content_stream(bench_t *bench, result_t *result, const char *name,
                                     size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    char when[128];
    snprintf(when, sizeof when, "before %s", name);
    bench_print_node_memory(bench, when);
    bool reset = harness_node_reset_peak(bench->node) == 0;
    printf("%s: node VmHWM %s\n", name,
           reset ? "reset to its VmRSS (clear_refs), so the figures below are this case's peak"
                 : "could not be reset (clear_refs refused): it includes earlier cases");
    conv_t conv;
    s_conv_open(&conv, bench, name);
    uint8_t hash[CA_SHA256_BYTES];
    int64_t start = zclock_usecs();
    int rc = s_stream_put(&conv, bench, content, size, hash);
    if (rc == 0)
        s_print_phase(bench, name, "streamed in", size, start);
    int64_t read_start = zclock_usecs();
    if (rc == 0)
        rc = s_stream_read(&conv, hash, size);
    if (rc == 0) {
        s_print_phase(bench, name, "read back (verified)", size, read_start);
        result->ok = 1;
        result->bytes = 2 * (uint64_t)size;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return s_conv_close(&conv, rc);
}

//  ---- from a peer: node.content_fetch.64m -------------------------------------------------

#define FETCH_WAIT_MS    60000  //  B's session to A up by then
#define FETCH_TIMEOUT_MS 600000 //  ContentFetch's own bound (its maximum)
#define FETCH_ROUNDS_MAX 64

//  ContentFetch of `hash` on `client`; the response (caller frees) or NULL.
static Cairn__Response *s_fetch(zsock_t *client, const uint8_t *hash, uint32_t timeout_ms) {
    Cairn__ContentFetch fetch = CAIRN__CONTENT_FETCH__INIT;
    fetch.hash = (ProtobufCBinaryData){CA_SHA256_BYTES, (uint8_t *)hash};
    fetch.timeout_ms = timeout_ms;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = 1;
    request.body_case = CAIRN__REQUEST__BODY_CONTENT_FETCH;
    request.content_fetch = &fetch;
    return harness_call(client, &request, (int)timeout_ms + 10000);
}

//  Waits until B has a session to A: a fetch of a hash nobody has says
//  NOT_FOUND (asked a peer) instead of UNAVAILABLE (no peer online).
static int s_fetch_ready(bench_pair_t *pair, const char *name) {
    uint8_t nobody[CA_SHA256_BYTES];
    memset(nobody, 0xab, sizeof nobody);
    int64_t deadline = zclock_mono() + FETCH_WAIT_MS;
    while (zclock_mono() < deadline) {
        Cairn__Response *response = s_fetch(pair->client_b, nobody, 5000);
        Cairn__Status status = response ? response->status : CAIRN__STATUS__UNAVAILABLE;
        if (response)
            cairn__response__free_unpacked(response, NULL);
        if (status == CAIRN__STATUS__NOT_FOUND)
            return 0;
        zclock_sleep(50); //  a poll interval; the deadline decides
    }
    return bench_fail(name, "B never had a session to A (log: %s)", harness_node_log_path(pair->b));
}

static int s_run_node_fetch(bench_t *bench, result_t *result, const char *name, size_t size) {
    bench_content_t *content = s_content(bench, name);
    if (!content)
        return -1;
    bench_pair_t pair;
    int rc = bench_pair_up(&pair, name, true);
    if (rc == 0)
        rc = s_fetch_ready(&pair, name);
    conv_t conv;
    bool conv_open = rc == 0;
    if (conv_open)
        s_conv_open_on(&conv, pair.a, name);
    int64_t spent_us = 0;
    for (int round = 0; rc == 0 && round < FETCH_ROUNDS_MAX &&
                        (result->ok == 0 || (double)spent_us < bench->seconds * 1e6);
         round++) {
        uint8_t hash[CA_SHA256_BYTES];
        rc = s_stream_put(&conv, bench, content, size, hash);
        int64_t start = zclock_usecs();
        Cairn__Response *response = rc == 0 ? s_fetch(pair.client_b, hash, FETCH_TIMEOUT_MS) : NULL;
        if (rc == 0 && (!response || response->status != CAIRN__STATUS__OK ||
                        response->content_fetch->size != size))
            rc = bench_fail(name, "ContentFetch of a %zu-byte blob: %s", size,
                            !response                               ? "no answer"
                            : response->status != CAIRN__STATUS__OK ? response->error
                                                                    : "another size");
        if (rc == 0) {
            spent_us += zclock_usecs() - start;
            result->ok++;
        }
        if (response)
            cairn__response__free_unpacked(response, NULL);
    }
    if (conv_open)
        rc = s_conv_close(&conv, rc);
    result->seconds = (double)spent_us / 1e6;
    result->bytes = result->ok * size;
    return bench_pair_down(&pair, name, rc);
}

//  Frees the content cases' state and removes the raw baseline's files.
static void s_destroy(bench_t *bench) {
    s_content_destroy(&bench->content);
}

//  ---- the rows -------------------------------------------------------------------------

static const bench_case_t s_cases[] = {
    {.name = "raw.content_put.4k",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_put,
     .size = KIB4,
     .what = "SHA-256 + temp file + fsync + rename + fsync dir, 4 KiB blobs, MB/s"},
    {.name = "node.content_put.4k",
     .kind = KIND_NODE,
     .sized = s_run_node_put,
     .size = KIB4,
     .versus = {"raw.content_put.4k"},
     .what = "cairnd ContentPut of distinct 4 KiB blobs, a window outstanding"},
    {.name = "raw.content_put.1m",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_put,
     .size = MIB1,
     .what = "the same raw put, 1 MiB blobs"},
    {.name = "node.content_put.1m",
     .kind = KIND_NODE,
     .sized = s_run_node_put,
     .size = MIB1,
     .versus = {"raw.content_put.1m"},
     .what = "cairnd ContentPut of distinct 1 MiB blobs, a window outstanding"},
    {.name = "raw.content_put.64m",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_put,
     .size = MIB64,
     .what = "the same raw put, 64 MiB blobs"},
    {.name = "node.content_put.64m",
     .kind = KIND_NODE,
     .sized = s_run_node_put,
     .size = MIB64,
     .versus = {"raw.content_put.64m"},
     .what = "cairnd ContentBegin + 4 MiB ContentChunks (a window) + ContentCommit, 64 MiB"},
    {.name = "raw.content_get.4k",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_get,
     .size = KIB4,
     .what = "read the file + SHA-256 + compare, 4 KiB blobs"},
    {.name = "node.content_get.4k",
     .kind = KIND_NODE,
     .sized = s_run_node_get,
     .size = KIB4,
     .versus = {"raw.content_get.4k"},
     .what = "cairnd ContentGet (verified) of 4 KiB blobs, a window outstanding"},
    {.name = "raw.content_get.1m",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_get,
     .size = MIB1,
     .what = "the same raw get, 1 MiB blobs"},
    {.name = "node.content_get.1m",
     .kind = KIND_NODE,
     .sized = s_run_node_get,
     .size = MIB1,
     .versus = {"raw.content_get.1m"},
     .what = "cairnd ContentGet (verified) of 1 MiB blobs, a window outstanding"},
    {.name = "raw.content_get.64m",
     .kind = KIND_BASELINE,
     .sized = s_run_raw_get,
     .size = MIB64,
     .what = "the same raw get, 64 MiB blobs (4 MiB reads, hashed incrementally)"},
    {.name = "node.content_get.64m",
     .kind = KIND_NODE,
     .sized = s_run_node_get,
     .size = MIB64,
     .versus = {"raw.content_get.64m"},
     .what = "cairnd ContentRead of 4 MiB ranges in order (verified), a window, 64 MiB"},
    {.name = "node.cache_put.4k",
     .kind = KIND_NODE,
     .sized = s_run_node_cache_put,
     .size = KIB4,
     .versus = {"raw.content_put.4k"},
     .what = "cairnd CachePut of distinct 4 KiB entries, a window outstanding"},
    {.name = "node.cache_get.4k",
     .kind = KIND_NODE,
     .sized = s_run_node_cache_get,
     .size = KIB4,
     .versus = {"raw.content_get.4k"},
     .what = "cairnd CacheGet (verified) of the 4 KiB entries, a window outstanding"},
    {.name = "node.content_fetch.64m",
     .kind = KIND_NODE,
     .sized = s_run_node_fetch,
     .size = MIB64,
     .versus = {"node.content_get.64m"},
     .what = "cairnd ContentFetch of a 64 MiB blob from a peer (2 nodes on loopback)"},
    {.name = "node.content_1gib",
     .kind = KIND_NODE,
     .sized = s_run_node_content_stream,
     .size = GIB1,
     .optional = true,
     .what = "(only when named) 1 GiB streamed in and read back; the node's VmHWM"},
};

const bench_area_t bench_content_area = BENCH_AREA(s_cases, NULL, s_destroy);

/*  =========================================================================
    documents - cairn-bench's versioned JSON document cases

    The object of every case is the same ~600-byte JSON object with a
    counter (keys out of order, spaces, nested arrays and objects, reals),
    so every save is a new object:

        raw.doc_save          parse the text with jansson, dump it compact
                              with sorted keys, SHA-256 the dump, write it
                              to a file (temp file + rename over one of
                              1024 names, no fsync: the node's writer does
                              not fsync a commit either, synchronous=NORMAL)
        raw.doc_hash          raw.doc_save without the file (the CPU part)
        raw.doc_load          read such a file back and parse it
        node.doc_save.one     DocSave, one request in flight
        node.doc_save.pipelined   DocSave, a window of requests (16 entries)
        node.doc_load.pipelined   DocLoad of an entry's head, a window

    Ratios are against the raw cases of the same run (RESULTS.md).
    ========================================================================= */

#include "bench.h"
#include "ca_hash.h"
#include "ca_testbed.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOC_ENTRIES 16
#define DOC_TEXT    1024
#define DOC_FILES   1024 //  the raw cases cycle over this many files

//  Object n as JSON text into `text`.
static void s_object(uint64_t n, char text[DOC_TEXT]) {
    snprintf(text, DOC_TEXT,
             "{ \"name\": \"document %llu\", \"id\": %llu, \"tags\": [\"alpha\", \"beta\", "
             "\"gamma\"],\n  \"values\": [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233],\n"
             "  \"owner\": {\"user\": \"alice\", \"roles\": [\"admin\", \"editor\"], \"since\": "
             "1700000000},\n  \"ratio\": 0.%llu, \"active\": true, \"notes\": null,\n"
             "  \"address\": {\"street\": \"1 Main Street\", \"city\": \"Springfield\", "
             "\"zip\": \"12345\", \"geo\": [12.5, -3.25]},\n  \"history\": [{\"at\": 1, \"by\": "
             "\"bob\"}, {\"at\": 2, \"by\": \"carol\"}], \"z\": \"the last key\" }",
             (unsigned long long)n, (unsigned long long)n, (unsigned long long)(n % 1000 + 1));
}

//  ---- raw: jansson + SHA-256 + a file --------------------------------------------------

static char *s_raw_dir;

//  Object n parsed, dumped compact with sorted keys and hashed; the dump
//  (caller frees) or NULL.
static char *s_raw_canonical(uint64_t n, uint8_t digest[CA_SHA256_BYTES], size_t *length) {
    char text[DOC_TEXT];
    s_object(n, text);
    json_t *value = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    char *dump = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(value);
    if (dump) {
        *length = strlen(dump);
        ca_sha256(dump, *length, digest);
    }
    return dump;
}

static int s_raw_save_one(uint64_t n, char *path, size_t size) {
    uint8_t digest[CA_SHA256_BYTES];
    size_t length = 0;
    char *dump = s_raw_canonical(n, digest, &length);
    if (!dump)
        return -1;
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/tmp", s_raw_dir);
    //  Named by its slot, so that the rename replaces the slot's last file
    //  (no unlink); the digest is what a content-addressed store would add.
    snprintf(path, size, "%s/%llu.json", s_raw_dir, (unsigned long long)(n % DOC_FILES));
    (void)digest;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, dump, length) == (ssize_t)length;
    if (fd >= 0)
        close(fd);
    free(dump);
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static char s_paths[DOC_FILES][320];

static int s_run_raw_save(bench_t *bench, result_t *result) {
    if (!s_raw_dir)
        s_raw_dir = ca_test_tempdir("cairn-bench-doc");
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (bench_go_on(bench, result, deadline)) {
        uint64_t n = result->ok;
        if (s_raw_save_one(n, s_paths[n % DOC_FILES], sizeof s_paths[0]))
            return bench_fail("raw.doc_save", "jansson, the hash or the file failed");
        result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return 0;
}

static int s_run_raw_hash(bench_t *bench, result_t *result) {
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    while (bench_go_on(bench, result, deadline)) {
        uint8_t digest[CA_SHA256_BYTES];
        size_t length = 0;
        char *dump = s_raw_canonical(result->ok, digest, &length);
        if (!dump)
            return bench_fail("raw.doc_hash", "jansson failed");
        free(dump);
        result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return 0;
}

static int s_run_raw_load(bench_t *bench, result_t *result) {
    if (!s_raw_dir || !s_paths[0][0]) {
        if (!s_raw_dir)
            s_raw_dir = ca_test_tempdir("cairn-bench-doc");
        for (uint64_t n = 0; n < DOC_FILES; n++)
            if (s_raw_save_one(n, s_paths[n], sizeof s_paths[0]))
                return bench_fail("raw.doc_load", "could not write the files");
    }
    size_t files = 0;
    while (files < DOC_FILES && s_paths[files][0])
        files++;
    int64_t start = zclock_usecs();
    int64_t deadline = start + (int64_t)(bench->seconds * 1e6);
    char buffer[4 * DOC_TEXT];
    while (bench_go_on(bench, result, deadline)) {
        int fd = open(s_paths[result->ok % files], O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, buffer, sizeof buffer) : -1;
        if (fd >= 0)
            close(fd);
        json_t *value = got > 0 ? json_loadb(buffer, (size_t)got, 0, NULL) : NULL;
        if (!value)
            return bench_fail("raw.doc_load", "could not read or parse a file");
        json_decref(value);
        result->ok++;
    }
    result->seconds = (double)(zclock_usecs() - start) / 1e6;
    return 0;
}

//  ---- the node ------------------------------------------------------------------------------

static uint64_t s_saved; //  objects the save cases stored, numbered from 0

static int s_send_save(void *handle, uint64_t id, void *context) {
    (void)context;
    char text[DOC_TEXT], entry[16];
    uint64_t n = s_saved++;
    s_object(n, text);
    snprintf(entry, sizeof entry, "e%llu", (unsigned long long)(n % DOC_ENTRIES));
    Cairn__DocSave save = CAIRN__DOC_SAVE__INIT;
    save.tenant = "bench";
    save.entry = entry;
    save.user = "bench";
    save.json = text;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_DOC_SAVE;
    request.doc_save = &save;
    return bench_send_request(handle, &request);
}

static const wire_t s_save_wire = {s_send_save, bench_response_decode};

static int s_send_load(void *handle, uint64_t id, void *context) {
    (void)context;
    char entry[16];
    snprintf(entry, sizeof entry, "e%llu", (unsigned long long)(id % DOC_ENTRIES));
    Cairn__DocLoad load = CAIRN__DOC_LOAD__INIT;
    load.tenant = "bench";
    load.entry = entry;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_DOC_LOAD;
    request.doc_load = &load;
    return bench_send_request(handle, &request);
}

static const wire_t s_load_wire = {s_send_load, bench_response_decode};

static int s_run_node_save_one(bench_t *bench, result_t *result) {
    return bench_node(bench)
               ? bench_run_node(bench, result, "node.doc_save.one", &s_save_wire, NULL, 1)
               : -1;
}

static int s_run_node_save(bench_t *bench, result_t *result) {
    return bench_node(bench) ? bench_run_node(bench, result, "node.doc_save.pipelined",
                                              &s_save_wire, NULL, bench->window)
                             : -1;
}

static int s_run_node_load(bench_t *bench, result_t *result) {
    if (!bench_node(bench))
        return -1;
    if (s_saved < DOC_ENTRIES) { //  every entry needs a head
        result_t setup = {0};
        zsock_t *client = harness_connect(harness_node_endpoint(bench_node(bench)));
        int rc = bench_drive_for(60, DOC_ENTRIES, "node.doc_load (setup)", client, &s_save_wire,
                                 NULL, 1, &setup);
        zsock_destroy(&client);
        if (rc || setup.ok != DOC_ENTRIES)
            return bench_fail("node.doc_load.pipelined", "could not save the entries");
    }
    return bench_run_node(bench, result, "node.doc_load.pipelined", &s_load_wire, NULL,
                          bench->window);
}

static void s_destroy(bench_t *bench) {
    (void)bench;
    if (s_raw_dir) {
        for (size_t i = 0; i < DOC_FILES; i++)
            if (s_paths[i][0])
                unlink(s_paths[i]);
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s/tmp", s_raw_dir);
        unlink(tmp);
        rmdir(s_raw_dir);
        free(s_raw_dir);
        s_raw_dir = NULL;
    }
}

static const bench_case_t s_cases[] = {
    {.name = "raw.doc_save",
     .kind = KIND_BASELINE,
     .run = s_run_raw_save,
     .what = "jansson parse + compact sorted dump + SHA-256 + file write and rename (no fsync)"},
    {.name = "raw.doc_hash",
     .kind = KIND_BASELINE,
     .run = s_run_raw_hash,
     .what = "raw.doc_save without the file: jansson parse + sorted dump + SHA-256"},
    {.name = "raw.doc_load",
     .kind = KIND_BASELINE,
     .run = s_run_raw_load,
     .what = "read such a file + jansson parse"},
    {.name = "node.doc_save.one",
     .kind = KIND_NODE,
     .run = s_run_node_save_one,
     .versus = {"raw.doc_save"},
     .what = "cairnd DocSave of a ~600-byte object, one in flight"},
    {.name = "node.doc_save.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_save,
     .versus = {"raw.doc_save", "raw.doc_hash"},
     .what = "cairnd DocSave, 16 entries, a window"},
    {.name = "node.doc_load.pipelined",
     .kind = KIND_NODE,
     .run = s_run_node_load,
     .versus = {"raw.doc_load"},
     .what = "cairnd DocLoad of an entry's head, a window"},
};

const bench_area_t bench_documents_area = BENCH_AREA(s_cases, NULL, s_destroy);

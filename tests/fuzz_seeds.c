/*  =========================================================================
    fuzz_seeds - the hand-made part of fuzz-request's seed corpus, and the
    check that the corpus seeds every request kind

        fuzz-seeds DIR            writes the hand-made seeds into DIR
        fuzz-seeds --check DIR    exit 1 when a request kind has no seed in DIR

    Most seeds are not written here: every test sends its requests through
    ca_testbed or the e2e harness, which copy each frame into
    CAIRN_WIRE_DUMP (ca_wire_dump.h) in a fuzz build, and fuzz.request
    gathers those (tests/CMakeLists.txt). So each request kind is seeded
    with what its tests send, valid and broken, without a list kept here.

    What stays here is what no test sends through those helpers: frames a
    protobuf encoder would never produce (an unknown body kind, no body, a
    length that runs past the end) and a Ping at the edges of its limits.
    `--check` decodes every file of a corpus and names each Request body
    kind none of them carries: a kind that no test sends fails the fuzz run
    by name, instead of going unfuzzed.
    ========================================================================= */

#include "ca_limits.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

//  Writes one seed as DIR/NAME; false on an I/O error (printed).
static bool s_write_file(const char *dir, const char *name, const uint8_t *data, size_t size) {
    char *path = zsys_sprintf("%s/%s", dir, name);
    FILE *file = fopen(path, "wb");
    bool ok = file && fwrite(data, 1, size, file) == size;
    if (file && fclose(file) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "fuzz-seeds: cannot write %s\n", path);
    zstr_free(&path);
    return ok;
}

//  A Ping of `payload_size` bytes under request id `id`.
static bool s_ping(const char *dir, const char *name, uint64_t id, size_t payload_size) {
    uint8_t *payload = (uint8_t *)zmalloc(payload_size ? payload_size : 1);
    memset(payload, 'p', payload_size);
    Cairn__Ping ping = CAIRN__PING__INIT;
    ping.payload.data = payload;
    ping.payload.len = payload_size;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_PING;
    request.ping = &ping;
    size_t size = cairn__request__get_packed_size(&request);
    uint8_t *data = (uint8_t *)zmalloc(size);
    cairn__request__pack(&request, data);
    bool ok = s_write_file(dir, name, data, size);
    free(data);
    free(payload);
    return ok;
}

//  Hand-packed frames protoc-c would not produce from a valid Request.
static bool s_raw_frames(const char *dir) {
    //  id 7, then field 50 (no such body kind) holding an empty message.
    const uint8_t unknown_body[] = {0x08, 0x07, 0x92, 0x03, 0x00};
    //  id 9 and nothing else.
    const uint8_t no_body[] = {0x08, 0x09};
    //  id 11, ConfigSet whose length runs past the end of the frame.
    const uint8_t truncated[] = {0x08, 0x0b, 0xaa, 0x06, 0x10, 0x0a, 0x01, 0x6b};
    //  id 13, an unknown top-level field 127, and a ConfigSet{key "k"}
    //  carrying an unknown field 1001 (refused before decoding).
    const uint8_t unknown_fields[] = {0x08, 0x0d, 0xf8, 0x07, 0x01, 0xaa, 0x06,
                                      0x06, 0x0a, 0x01, 'k',  0xc8, 0x3e, 0x01};
    return s_write_file(dir, "raw-unknown-body", unknown_body, sizeof unknown_body) &&
           s_write_file(dir, "raw-unknown-fields", unknown_fields, sizeof unknown_fields) &&
           s_write_file(dir, "raw-no-body", no_body, sizeof no_body) &&
           s_write_file(dir, "raw-truncated", truncated, sizeof truncated);
}

static int s_write_seeds(const char *dir) {
    if (zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "fuzz-seeds: cannot create %s\n", dir);
        return 1;
    }
    bool ok = s_ping(dir, "ping-payload-longest", 2, CA_MAX_PING_PAYLOAD) &&
              s_ping(dir, "ping-payload-too-long", 3, CA_MAX_PING_PAYLOAD + 1) &&
              s_ping(dir, "ping-max-id", UINT64_MAX, 4) && s_raw_frames(dir);
    return ok ? 0 : 1;
}

//  Marks in `seen` (indexed like the descriptor's fields) the body kind of
//  the Request in `file`, if it decodes.
static void s_mark_kind(zfile_t *file, bool *seen) {
    if (zfile_input(file) != 0)
        return;
    zchunk_t *chunk = zfile_read(file, zfile_cursize(file), 0);
    zfile_close(file);
    if (!chunk)
        return;
    Cairn__Request *request = cairn__request__unpack(NULL, zchunk_size(chunk), zchunk_data(chunk));
    zchunk_destroy(&chunk);
    if (!request)
        return;
    const ProtobufCMessageDescriptor *descriptor = &cairn__request__descriptor;
    for (unsigned i = 0; i < descriptor->n_fields; i++)
        if (request->body_case != 0 && descriptor->fields[i].id == (uint32_t)request->body_case)
            seen[i] = true;
    cairn__request__free_unpacked(request, NULL);
}

static int s_check(const char *dir) {
    zdir_t *corpus = zdir_new(dir, NULL);
    if (!corpus) {
        fprintf(stderr, "fuzz-seeds: no corpus at %s\n", dir);
        return 1;
    }
    const ProtobufCMessageDescriptor *descriptor = &cairn__request__descriptor;
    bool *seen = (bool *)zmalloc(descriptor->n_fields * sizeof(bool));
    zfile_t **files = zdir_flatten(corpus);
    for (size_t i = 0; files[i]; i++)
        s_mark_kind(files[i], seen);
    zdir_flatten_free(&files);
    zdir_destroy(&corpus);
    int missing = 0;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !seen[i]) {
            fprintf(stderr, "fuzz-seeds: no seed sends Request.%s\n", field->name);
            missing++;
        }
    }
    free(seen);
    return missing ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && streq(argv[1], "--check"))
        return s_check(argv[2]);
    if (argc == 2 && argv[1][0] != '-')
        return s_write_seeds(argv[1]);
    fprintf(stderr, "usage: fuzz-seeds DIR | fuzz-seeds --check DIR\n");
    return 2;
}

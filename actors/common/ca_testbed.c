/*  =========================================================================
    ca_testbed - a writer and one store worker in a temp dir, for self-tests
    ========================================================================= */

#include "ca_log.h"
#include "ca_testbed.h"
#include "ca_wire_dump.h"
#include "ca_caller.h"
#include "ca_limits.h"
#include "writer.h"

#include <assert.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 10000

struct _ca_testbed_t {
    char *dir;
    char *db_path;
    char *writer_endpoint;
    zactor_t *writer;
    zactor_t *store;
    zsock_t *client;     //  plays the gateway: DEALER to the store
    ca_caller_t *caller; //  over this testbed
};

char *ca_test_tempdir(const char *prefix) {
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = zsys_sprintf("%s/%s-XXXXXX", tmp, prefix);
    char *made = mkdtemp(path);
    assert(made);
    return path;
}

static int s_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(path);
}

void ca_test_rmtree(const char *path) {
    nftw(path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

ca_testbed_t *ca_testbed_new(const ca_store_def_t *def) {
    return ca_testbed_new_with(def, NULL, 0);
}

ca_store_settings_t ca_testbed_settings(void) {
    ca_store_settings_t settings = {.max_content_bytes = CA_DEFAULT_MAX_CONTENT,
                                    .gossip_max_age_s = CA_DEFAULT_GOSSIP_MAX_AGE_S,
                                    .maintenance_ms = 0,
                                    .cache_max_bytes = CA_DEFAULT_CACHE_MAX_BYTES,
                                    .stream_timeout_ms = CA_DEFAULT_STREAM_TIMEOUT_MS};
    return settings;
}

ca_testbed_t *ca_testbed_new_with(const ca_store_def_t *def, const ca_schema_t *const *before,
                                  size_t count) {
    ca_store_settings_t settings = ca_testbed_settings();
    return ca_testbed_new_full(def, before, count, &settings);
}

ca_testbed_t *ca_testbed_new_full(const ca_store_def_t *def, const ca_schema_t *const *before,
                                  size_t count, const ca_store_settings_t *settings) {
    ca_testbed_t *self = (ca_testbed_t *)zmalloc(sizeof(ca_testbed_t));
    self->dir = ca_test_tempdir("cairn-testbed");
    self->db_path = zsys_sprintf("%s/%s", self->dir, CA_DB_FILE);
    //  A unique writer endpoint lets several testbeds live in one process.
    self->writer_endpoint = zsys_sprintf("inproc://testbed-writer-%p", (void *)self);
    const ca_schema_t *schemas[16];
    assert(count < 16);
    for (size_t i = 0; i < count; i++)
        schemas[i] = before[i];
    schemas[count] = def->schema;
    writer_config_t config = {.db_path = self->db_path,
                              .endpoint = self->writer_endpoint,
                              .batch_max = CA_DEFAULT_WRITER_BATCH,
                              .schemas = schemas,
                              .schema_count = count + 1};
    self->writer = zactor_new(writer_actor, &config);
    char *error = NULL;
    if (ca_actor_start(self->writer, &error) != 0) {
        ca_log_error("testbed writer: %s", error);
        assert(false);
    }
    if (def->prepare) {
        error = def->prepare(self->dir);
        if (error) {
            ca_log_error("testbed prepare: %s", error);
            assert(false);
        }
    }
    ca_store_args_t args = {.def = def,
                            .index = (unsigned)(uintptr_t)self & 0xffff,
                            .workers = 1,
                            .data_dir = self->dir,
                            .db_path = self->db_path,
                            .writer_endpoint = self->writer_endpoint,
                            .queue_max = CA_DEFAULT_QUEUE_MAX,
                            .settings = *settings};
    self->store = zactor_new(ca_store_actor, &args);
    if (ca_actor_start(self->store, &error) != 0) {
        ca_log_error("testbed store: %s", error);
        assert(false);
    }
    char *endpoint = ca_store_endpoint(def->name, args.index);
    self->client = zsock_new_dealer(endpoint);
    zstr_free(&endpoint);
    assert(self->client);
    zsock_set_rcvtimeo(self->client, CALL_TIMEOUT_MS);
    self->caller = ca_caller_new_testbed(self);
    return self;
}

void ca_testbed_destroy(ca_testbed_t **self_p) {
    ca_testbed_t *self = *self_p;
    if (!self)
        return;
    ca_caller_destroy(&self->caller);
    zsock_destroy(&self->client);
    zactor_destroy(&self->store);
    zactor_destroy(&self->writer);
    ca_test_rmtree(self->dir);
    zstr_free(&self->dir);
    zstr_free(&self->db_path);
    zstr_free(&self->writer_endpoint);
    free(self);
    *self_p = NULL;
}

const char *ca_testbed_dir(ca_testbed_t *self) {
    return self->dir;
}

Cairn__Response *ca_testbed_call_raw(ca_testbed_t *self, const void *data, size_t size) {
    //  [client id][request]: the store's ROUTER adds our (gateway) identity.
    ca_wire_dump(true, data, size);
    zsock_send(self->client, "sb", "client-1", data, size);
    zmsg_t *msg = zmsg_recv(self->client);
    if (!msg)
        return NULL;
    assert(zmsg_size(msg) == 2);
    zframe_t *client_id = zmsg_first(msg);
    assert(zframe_streq(client_id, "client-1"));
    zframe_t *frame = zmsg_next(msg);
    ca_wire_dump(false, zframe_data(frame), zframe_size(frame));
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    zmsg_destroy(&msg);
    return response;
}

Cairn__Response *ca_testbed_call(ca_testbed_t *self, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    uint8_t *data = (uint8_t *)malloc(size ? size : 1);
    cairn__request__pack(request, data);
    Cairn__Response *response = ca_testbed_call_raw(self, data, size);
    free(data);
    return response;
}

ca_caller_t *ca_testbed_caller(ca_testbed_t *self) {
    return self->caller;
}

Cairn__Response *ca_testbed_send(ca_testbed_t *self, Cairn__Request *request) {
    return ca_caller_call(self->caller, request);
}

Cairn__Response *ca_testbed_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    return ca_response_ok(response, body_case);
}

unsigned ca_test_count_busy(ca_test_recv_fn *recv, zsock_t *socket, uint64_t first, unsigned count,
                            uint64_t barrier, const char *fragment) {
    unsigned busy = 0;
    while (true) {
        Cairn__Response *response = recv(socket);
        if (response->id == barrier) {
            cairn__response__free_unpacked(response, NULL);
            return busy;
        }
        assert(response->id >= first && response->id < first + count);
        ca_testbed_fails(response, CAIRN__STATUS__BUSY, fragment);
        busy++;
    }
}

void ca_testbed_fails(Cairn__Response *response, Cairn__Status status, const char *fragment) {
    ca_response_fails(response, status, fragment);
}

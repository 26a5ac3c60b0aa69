/*  =========================================================================
    fuzz_seeds - writes the seed corpus of fuzz-request

        fuzz-seeds DIR

    One packed cairn.Request per file: every request kind the node serves,
    valid and broken (over-long Ping payload, keys that break each key rule,
    an unknown body kind, no body at all). libFuzzer starts from these, so it
    reaches the stores' handlers at once instead of first having to guess
    the protobuf envelope.

    Why generated and not committed: the seeds follow schemas/cairn.proto as
    it is built, and the repository holds no binary files. The build runs
    this after linking it (tests/CMakeLists.txt); file names are fixed, so a
    rerun overwrites the same seeds.
    ========================================================================= */

#include "ca_limits.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

//  Writes one request as DIR/NAME; false on an I/O error (printed).
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

static bool s_write_request(const char *dir, const char *name, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    uint8_t *data = (uint8_t *)zmalloc(size ? size : 1);
    cairn__request__pack(request, data);
    bool ok = s_write_file(dir, name, data, size);
    free(data);
    return ok;
}

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
    bool ok = s_write_request(dir, name, &request);
    free(payload);
    return ok;
}

static bool s_info(const char *dir, const char *name, uint64_t id) {
    Cairn__InfoRequest info = CAIRN__INFO_REQUEST__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_INFO;
    request.info = &info;
    return s_write_request(dir, name, &request);
}

static bool s_config_get(const char *dir, const char *name, uint64_t id, const char *key,
                         const char *default_value) {
    Cairn__ConfigGet get = CAIRN__CONFIG_GET__INIT;
    get.key = (char *)key;
    get.default_value.data = (uint8_t *)default_value;
    get.default_value.len = strlen(default_value);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_CONFIG_GET;
    request.config_get = &get;
    return s_write_request(dir, name, &request);
}

static bool s_config_set(const char *dir, const char *name, uint64_t id, const char *key,
                         const char *value) {
    Cairn__ConfigSet set = CAIRN__CONFIG_SET__INIT;
    set.key = (char *)key;
    set.value.data = (uint8_t *)value;
    set.value.len = strlen(value);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_CONFIG_SET;
    request.config_set = &set;
    return s_write_request(dir, name, &request);
}

//  Hand-packed frames protoc-c would not produce from a valid Request.
static bool s_raw_frames(const char *dir) {
    //  id 7, then field 50 (no such body kind) holding an empty message.
    const uint8_t unknown_body[] = {0x08, 0x07, 0x92, 0x03, 0x00};
    //  id 9 and nothing else.
    const uint8_t no_body[] = {0x08, 0x09};
    //  id 11, ConfigSet whose length runs past the end of the frame.
    const uint8_t truncated[] = {0x08, 0x0b, 0xaa, 0x06, 0x10, 0x0a, 0x01, 0x6b};
    return s_write_file(dir, "raw-unknown-body", unknown_body, sizeof unknown_body) &&
           s_write_file(dir, "raw-no-body", no_body, sizeof no_body) &&
           s_write_file(dir, "raw-truncated", truncated, sizeof truncated);
}

static bool s_config_seeds(const char *dir) {
    char long_key[CA_CONFIG_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    char long_value[1001];
    memset(long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    return s_config_get(dir, "config-get", 20, "node.name", "anonymous") &&
           s_config_get(dir, "config-get-bad-key", 21, "../etc/passwd", "") &&
           s_config_set(dir, "config-set", 22, "node.name", "alice") &&
           s_config_set(dir, "config-set-path", 23, "a/b-c/d_e:f.g", "x") &&
           s_config_set(dir, "config-set-empty-value", 24, "empty", "") &&
           s_config_set(dir, "config-set-long-value", 25, "long", long_value) &&
           s_config_set(dir, "config-set-empty-key", 26, "", "v") &&
           s_config_set(dir, "config-set-dotdot", 27, "../x", "v") &&
           s_config_set(dir, "config-set-double-slash", 28, "a//b", "v") &&
           s_config_set(dir, "config-set-absolute", 29, "/abs", "v") &&
           s_config_set(dir, "config-set-space", 30, "sp ace", "v") &&
           s_config_set(dir, "config-set-dot-segment", 31, "a/./b", "v") &&
           s_config_set(dir, "config-set-long-key", 32, long_key, "v");
}

//  One request of the channel family: `name` and `extra` fill the kind's
//  two string fields (the channel, then the password or peer id).
static bool s_channel(const char *dir, const char *file, uint64_t id, Cairn__Request__BodyCase kind,
                      const char *name, const char *extra) {
    Cairn__ChannelCreate create = CAIRN__CHANNEL_CREATE__INIT;
    Cairn__ChannelVerify verify = CAIRN__CHANNEL_VERIFY__INIT;
    Cairn__ChannelGet get = CAIRN__CHANNEL_GET__INIT;
    Cairn__ChannelList list = CAIRN__CHANNEL_LIST__INIT;
    Cairn__ChannelTouch touch = CAIRN__CHANNEL_TOUCH__INIT;
    Cairn__ChannelDelete delete_ = CAIRN__CHANNEL_DELETE__INIT;
    Cairn__MemberJoin join = CAIRN__MEMBER_JOIN__INIT;
    Cairn__MemberLeave leave = CAIRN__MEMBER_LEAVE__INIT;
    Cairn__MemberList members = CAIRN__MEMBER_LIST__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = kind;
    create.name = verify.name = get.name = touch.name = delete_.name = (char *)name;
    join.channel = leave.channel = members.channel = (char *)name;
    create.password = verify.password = (char *)extra;
    join.peer_id = leave.peer_id = members.peer_id = (char *)extra;
    create.encrypted = true;
    touch.timestamp = 1700000000.5;
    request.channel_create = &create; //  the body is a union: set the one of `kind`
    if (kind == CAIRN__REQUEST__BODY_CHANNEL_VERIFY)
        request.channel_verify = &verify;
    else if (kind == CAIRN__REQUEST__BODY_CHANNEL_GET)
        request.channel_get = &get;
    else if (kind == CAIRN__REQUEST__BODY_CHANNEL_LIST)
        request.channel_list = &list;
    else if (kind == CAIRN__REQUEST__BODY_CHANNEL_TOUCH)
        request.channel_touch = &touch;
    else if (kind == CAIRN__REQUEST__BODY_CHANNEL_DELETE)
        request.channel_delete = &delete_;
    else if (kind == CAIRN__REQUEST__BODY_MEMBER_JOIN)
        request.member_join = &join;
    else if (kind == CAIRN__REQUEST__BODY_MEMBER_LEAVE)
        request.member_leave = &leave;
    else if (kind == CAIRN__REQUEST__BODY_MEMBER_LIST)
        request.member_list = &members;
    return s_write_request(dir, file, &request);
}

static bool s_channel_seeds(const char *dir) {
    return s_channel(dir, "channel-create", 40, CAIRN__REQUEST__BODY_CHANNEL_CREATE, "#general",
                     "") &&
           s_channel(dir, "channel-create-protected", 41, CAIRN__REQUEST__BODY_CHANNEL_CREATE,
                     "#vault", "pw") &&
           s_channel(dir, "channel-create-bad-name", 42, CAIRN__REQUEST__BODY_CHANNEL_CREATE,
                     "../x", "") &&
           s_channel(dir, "channel-verify", 43, CAIRN__REQUEST__BODY_CHANNEL_VERIFY, "#vault",
                     "pw") &&
           s_channel(dir, "channel-get", 44, CAIRN__REQUEST__BODY_CHANNEL_GET, "#general", "") &&
           s_channel(dir, "channel-list", 45, CAIRN__REQUEST__BODY_CHANNEL_LIST, "", "") &&
           s_channel(dir, "channel-touch", 46, CAIRN__REQUEST__BODY_CHANNEL_TOUCH, "#general",
                     "") &&
           s_channel(dir, "channel-delete", 47, CAIRN__REQUEST__BODY_CHANNEL_DELETE, "#general",
                     "") &&
           s_channel(dir, "member-join", 48, CAIRN__REQUEST__BODY_MEMBER_JOIN, "#general",
                     "peer:1") &&
           s_channel(dir, "member-leave", 49, CAIRN__REQUEST__BODY_MEMBER_LEAVE, "#general",
                     "peer:1") &&
           s_channel(dir, "member-list", 50, CAIRN__REQUEST__BODY_MEMBER_LIST, "#general", "") &&
           s_channel(dir, "member-list-both", 51, CAIRN__REQUEST__BODY_MEMBER_LIST, "#general",
                     "peer:1");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    if (zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "fuzz-seeds: cannot create %s\n", dir);
        return 1;
    }
    bool ok = s_ping(dir, "ping", 1, 0) && s_ping(dir, "ping-payload", 2, 16) &&
              s_ping(dir, "ping-payload-too-long", 3, CA_MAX_PING_PAYLOAD + 1) &&
              s_ping(dir, "ping-max-id", UINT64_MAX, 4) && s_info(dir, "info", 4) &&
              s_config_seeds(dir) && s_channel_seeds(dir) && s_raw_frames(dir);
    return ok ? 0 : 1;
}

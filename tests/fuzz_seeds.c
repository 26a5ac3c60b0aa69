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

#include "ca_hash.h"
#include "ca_limits.h"
#include "cairn.pb-c.h"
#include "ca_request.h"

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
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, id);
    return s_write_request(dir, name, &request);
}

static bool s_config_get(const char *dir, const char *name, uint64_t id, const char *key,
                         const char *default_value) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, id, key, default_value);
    return s_write_request(dir, name, &request);
}

static bool s_config_set(const char *dir, const char *name, uint64_t id, const char *key,
                         const char *value) {
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, id, key, value);
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

//  One request of the messages store with `body` set as its oneof member.
static bool s_message_request(const char *dir, const char *name, uint64_t id,
                              Cairn__Request__BodyCase body_case, void *body) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = body_case;
    request.message_store = (Cairn__MessageStore *)body; //  every member is a pointer
    return s_write_request(dir, name, &request);
}

static bool s_message_seeds(const char *dir) {
    static uint8_t signature[64], nonce[24];
    Cairn__Message message = CAIRN__MESSAGE__INIT;
    message.id = "123e4567-e89b-12d3-a456-426614174000";
    message.timestamp = 1700000000.5;
    message.sender_id = "alice";
    message.sender_name = "Alice";
    message.channel = "#general";
    message.content.data = (uint8_t *)"hello world";
    message.content.len = 11;
    message.signature.data = signature;
    message.signature.len = sizeof signature;
    Cairn__MessageStore store = CAIRN__MESSAGE_STORE__INIT;
    store.message = &message;
    bool ok =
        s_message_request(dir, "message-store", 40, CAIRN__REQUEST__BODY_MESSAGE_STORE, &store);
    message.encrypted = true;
    message.nonce.data = nonce;
    message.nonce.len = sizeof nonce;
    ok = ok && s_message_request(dir, "message-store-encrypted", 41,
                                 CAIRN__REQUEST__BODY_MESSAGE_STORE, &store);
    message.channel = "../x";
    message.id = "not-a-uuid";
    ok = ok && s_message_request(dir, "message-store-bad", 42, CAIRN__REQUEST__BODY_MESSAGE_STORE,
                                 &store);
    Cairn__MessageList list = CAIRN__MESSAGE_LIST__INIT;
    list.channel = "#general";
    list.limit = 10;
    list.before_timestamp = 1700000000;
    list.before_id = "123e4567-e89b-12d3-a456-426614174000";
    ok = ok && s_message_request(dir, "message-list-cursor", 43, CAIRN__REQUEST__BODY_MESSAGE_LIST,
                                 &list);
    list.before_timestamp = 0;
    list.before_id = "";
    list.offset = 5;
    list.since = 1;
    list.limit = 1001;
    ok = ok && s_message_request(dir, "message-list-offset", 44, CAIRN__REQUEST__BODY_MESSAGE_LIST,
                                 &list);
    Cairn__MessageGet get = CAIRN__MESSAGE_GET__INIT;
    get.id = "123e4567-e89b-12d3-a456-426614174000";
    ok = ok && s_message_request(dir, "message-get", 45, CAIRN__REQUEST__BODY_MESSAGE_GET, &get);
    Cairn__MessageDelete del = CAIRN__MESSAGE_DELETE__INIT;
    del.channel = "#general";
    del.before = 1700000000;
    ok = ok &&
         s_message_request(dir, "message-delete", 46, CAIRN__REQUEST__BODY_MESSAGE_DELETE, &del);
    Cairn__MessageSearch search = CAIRN__MESSAGE_SEARCH__INIT;
    search.query = "hello AND \"big world\" OR pre*";
    search.channel = "#general";
    ok = ok &&
         s_message_request(dir, "message-search", 47, CAIRN__REQUEST__BODY_MESSAGE_SEARCH, &search);
    search.query = "\"unbalanced AND col:";
    search.channel = "";
    ok = ok && s_message_request(dir, "message-search-malformed", 48,
                                 CAIRN__REQUEST__BODY_MESSAGE_SEARCH, &search);
    Cairn__MessageStats stats = CAIRN__MESSAGE_STATS__INIT;
    ok = ok &&
         s_message_request(dir, "message-stats", 49, CAIRN__REQUEST__BODY_MESSAGE_STATS, &stats);
    Cairn__Vacuum vacuum = CAIRN__VACUUM__INIT;
    return ok && s_message_request(dir, "vacuum", 50, CAIRN__REQUEST__BODY_VACUUM, &vacuum);
}

static bool s_peer_put(const char *dir, const char *name, uint64_t id, const char *peer_id,
                       size_t key_size, const char *key_text, const char *address, uint32_t port) {
    uint8_t key[64];
    memset(key, 0x5a, sizeof key);
    Cairn__Peer peer = CAIRN__PEER__INIT;
    peer.peer_id = (char *)peer_id;
    peer.public_key.data = key;
    peer.public_key.len = key_size;
    peer.address = (char *)address;
    peer.port = port;
    peer.display_name = (char *)"seed";
    peer.state = CAIRN__PEER_STATE__PEER_ONLINE;
    Cairn__PeerPut put = CAIRN__PEER_PUT__INIT;
    put.peer = &peer;
    put.public_key_text = (char *)key_text;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_PEER_PUT;
    request.peer_put = &put;
    return s_write_request(dir, name, &request);
}

static bool s_peer_seeds(const char *dir) {
    const char *pem = "-----BEGIN PUBLIC KEY-----\n"
                      "MCowBQYDK2VwAyEA5BuJnNMfba/71DbAjTWY6JkaiiGQ2hiv60bMk3nNfHA=\n"
                      "-----END PUBLIC KEY-----\n";
    Cairn__PeerGet get = CAIRN__PEER_GET__INIT;
    get.peer_id = (char *)"seed-peer";
    Cairn__PeerList list = CAIRN__PEER_LIST__INIT;
    list.by_state = true;
    list.state = CAIRN__PEER_STATE__PEER_ONLINE;
    list.limit = 2;
    list.after_peer_id = (char *)"a";
    Cairn__PeerStatus status = CAIRN__PEER_STATUS__INIT;
    status.peer_id = (char *)"seed-peer";
    status.state = CAIRN__PEER_STATE__PEER_OFFLINE;
    Cairn__PeerBlock block = CAIRN__PEER_BLOCK__INIT;
    block.peer_id = (char *)"seed-peer";
    block.blocked = true;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = 46;
    request.body_case = CAIRN__REQUEST__BODY_PEER_GET;
    request.peer_get = &get;
    bool ok = s_write_request(dir, "peer-get", &request);
    request.id = 47;
    request.body_case = CAIRN__REQUEST__BODY_PEER_LIST;
    request.peer_list = &list;
    ok = ok && s_write_request(dir, "peer-list", &request);
    request.id = 48;
    request.body_case = CAIRN__REQUEST__BODY_PEER_STATUS;
    request.peer_status = &status;
    ok = ok && s_write_request(dir, "peer-status", &request);
    request.id = 49;
    request.body_case = CAIRN__REQUEST__BODY_PEER_BLOCK;
    request.peer_block = &block;
    ok = ok && s_write_request(dir, "peer-block", &request);
    return ok && s_peer_put(dir, "peer-put", 40, "seed-peer", 32, "", "192.0.2.1", 7402) &&
           s_peer_put(dir, "peer-put-pem", 41, "seed-pem", 0, pem, "2001:db8::1", 1) &&
           s_peer_put(dir, "peer-put-base64", 42, "seed-b64", 0,
                      "5BuJnNMfba_71DbAjTWY6JkaiiGQ2hiv60bMk3nNfHA", "::1", 65535) &&
           s_peer_put(dir, "peer-put-short-key", 43, "seed-short", 31, "", "192.0.2.1", 1) &&
           s_peer_put(dir, "peer-put-bad-address", 44, "seed-addr", 32, "", "host:80", 1) &&
           s_peer_put(dir, "peer-put-bad-port", 45, "../seed", 32, "", "192.0.2.1", 70000);
}

static bool s_gossip_seeds(const char *dir) {
    Cairn__GossipAdd add = CAIRN__GOSSIP_ADD__INIT;
    add.message_id = (char *)"seed-message-1";
    add.ttl = 3;
    Cairn__GossipHas has = CAIRN__GOSSIP_HAS__INIT;
    has.message_id = (char *)"seed-message-1";
    Cairn__GossipClean clean = CAIRN__GOSSIP_CLEAN__INIT;
    clean.max_age_s = 60;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = 50;
    request.body_case = CAIRN__REQUEST__BODY_GOSSIP_ADD;
    request.gossip_add = &add;
    bool ok = s_write_request(dir, "gossip-add", &request);
    request.id = 51;
    add.message_id = (char *)"with space";
    add.ttl = 256;
    ok = ok && s_write_request(dir, "gossip-add-bad", &request);
    request.id = 52;
    request.body_case = CAIRN__REQUEST__BODY_GOSSIP_HAS;
    request.gossip_has = &has;
    ok = ok && s_write_request(dir, "gossip-has", &request);
    request.id = 53;
    request.body_case = CAIRN__REQUEST__BODY_GOSSIP_CLEAN;
    request.gossip_clean = &clean;
    return ok && s_write_request(dir, "gossip-clean", &request);
}

//  Every content and cache request kind once, with a real hash.
static bool s_content_seeds(const char *dir) {
    const char *text = "seed blob";
    uint8_t hash[CA_SHA256_BYTES];
    ca_sha256(text, strlen(text), hash);
    Cairn__Request request;
    Cairn__ContentPut put;
    Cairn__ContentGet get;
    Cairn__ContentRead read;
    Cairn__ContentHas has;
    Cairn__ContentSize size;
    Cairn__ContentDelete del;
    Cairn__ContentBegin begin;
    Cairn__ContentChunk chunk;
    Cairn__ContentCommit commit;
    Cairn__ContentAbort abort_body;
    Cairn__ContentCheck check;
    Cairn__ContentStats stats;
    Cairn__CachePut cache_put;
    Cairn__CacheGet cache_get;
    Cairn__CacheHas cache_has;
    Cairn__CacheEvict cache_evict;
    Cairn__CacheClear cache_clear;
    Cairn__CacheStats cache_stats;
    bool ok = true;
    ca_request_content_put(&request, &put, 60, text, strlen(text), hash, sizeof hash);
    ok = ok && s_write_request(dir, "content-put", &request);
    ca_request_content_get(&request, &get, 61, hash, sizeof hash, false);
    ok = ok && s_write_request(dir, "content-get", &request);
    ca_request_content_read(&request, &read, 62, hash, sizeof hash, 2, 4, false);
    ok = ok && s_write_request(dir, "content-read", &request);
    ca_request_content_has(&request, &has, 63, hash, sizeof hash);
    ok = ok && s_write_request(dir, "content-has", &request);
    ca_request_content_size(&request, &size, 64, hash, 31);
    ok = ok && s_write_request(dir, "content-size-short-hash", &request);
    ca_request_content_delete(&request, &del, 65, hash, sizeof hash);
    ok = ok && s_write_request(dir, "content-delete", &request);
    ca_request_content_begin(&request, &begin, 66, NULL, 0);
    ok = ok && s_write_request(dir, "content-begin", &request);
    ca_request_content_chunk(&request, &chunk, 67, 1, 0, text, strlen(text));
    ok = ok && s_write_request(dir, "content-chunk", &request);
    ca_request_content_commit(&request, &commit, 68, 1, hash, sizeof hash);
    ok = ok && s_write_request(dir, "content-commit", &request);
    ca_request_content_abort(&request, &abort_body, 69, 1);
    ok = ok && s_write_request(dir, "content-abort", &request);
    ca_request_content_check(&request, &check, 70, false, false);
    ok = ok && s_write_request(dir, "content-check", &request);
    ca_request_content_stats(&request, &stats, 71);
    ok = ok && s_write_request(dir, "content-stats", &request);
    ca_request_cache_put(&request, &cache_put, 72, hash, sizeof hash, text, strlen(text),
                         "seed-peer", 1700000000, "receipt", 7);
    ok = ok && s_write_request(dir, "cache-put", &request);
    ca_request_cache_get(&request, &cache_get, 73, hash, sizeof hash, false);
    ok = ok && s_write_request(dir, "cache-get", &request);
    ca_request_cache_has(&request, &cache_has, 74, hash, sizeof hash);
    ok = ok && s_write_request(dir, "cache-has", &request);
    ca_request_cache_evict(&request, &cache_evict, 75, 100);
    ok = ok && s_write_request(dir, "cache-evict", &request);
    ca_request_cache_clear(&request, &cache_clear, 76);
    ok = ok && s_write_request(dir, "cache-clear", &request);
    ca_request_cache_stats(&request, &cache_stats, 77);
    return ok && s_write_request(dir, "cache-stats", &request);
}

//  Every provenance graph request once.
static bool s_prov_seeds(const char *dir) {
    uint8_t child[CA_SHA256_BYTES], source[CA_SHA256_BYTES];
    ca_sha256("seed child", 10, child);
    ca_sha256("seed source", 11, source);
    ProtobufCBinaryData sources[] = {{CA_SHA256_BYTES, source}, {CA_SHA256_BYTES, child}};
    Cairn__Request request;
    Cairn__ProvAdd add;
    Cairn__ProvRoots roots;
    Cairn__ProvDerivations derivations;
    Cairn__ProvAncestor ancestor;
    ca_request_prov_add(&request, &add, 80, child, sizeof child, sources, 1);
    bool ok = s_write_request(dir, "prov-add", &request);
    ca_request_prov_add(&request, &add, 81, child, sizeof child, sources, 2);
    ok = ok && s_write_request(dir, "prov-add-self", &request);
    ca_request_prov_roots(&request, &roots, 82, child, sizeof child, 10);
    ok = ok && s_write_request(dir, "prov-roots", &request);
    ca_request_prov_derivations(&request, &derivations, 83, source, sizeof source, true, 5);
    ok = ok && s_write_request(dir, "prov-derivations", &request);
    ca_request_prov_derivations(&request, &derivations, 83, source, sizeof source, false, 5);
    ca_request_prov_derivations_after(&derivations, child, sizeof child);
    ok = ok && s_write_request(dir, "prov-derivations-after", &request);
    ca_request_prov_ancestor(&request, &ancestor, 84, source, sizeof source, child, sizeof child);
    return ok && s_write_request(dir, "prov-ancestor", &request);
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

//  Every manifest and summary request kind, valid and broken: a first
//  and a later version with tags and access lists, a wrong hash size, a
//  put without a manifest, filters, a summary with items.
static bool s_manifest_seeds(const char *dir) {
    uint8_t hash[CA_SHA256_BYTES], root[CA_SHA256_BYTES];
    ca_sha256("seed v2", 7, hash);
    ca_sha256("seed v1", 7, root);
    char *tags[] = {(char *)"news", (char *)"seed"};
    char *allow[] = {(char *)"peer:1"}, *deny[] = {(char *)"peer:2"};
    Cairn__AccessControl access = CAIRN__ACCESS_CONTROL__INIT;
    access.allow = allow;
    access.n_allow = 1;
    access.deny = deny;
    access.n_deny = 1;
    Cairn__Manifest manifest = CAIRN__MANIFEST__INIT;
    manifest.hash = (ProtobufCBinaryData){CA_SHA256_BYTES, root};
    manifest.content_type = (char *)"text/article";
    manifest.version_number = 1;
    manifest.visibility = CAIRN__VISIBILITY__VISIBILITY_SHARED;
    manifest.title = (char *)"seed";
    manifest.tags = tags;
    manifest.n_tags = 2;
    manifest.access = &access;
    manifest.owner = (char *)"peer:1";
    Cairn__Request request;
    Cairn__ManifestPut put;
    Cairn__ManifestUpdate update;
    Cairn__ManifestGet get;
    Cairn__ManifestDelete del;
    Cairn__ManifestList list;
    Cairn__ManifestVersions versions;
    ca_request_manifest_put(&request, &put, 60, &manifest);
    bool ok = s_write_request(dir, "manifest-put", &request);
    ca_request_manifest_update(&request, &update, 61, &manifest);
    ok = ok && s_write_request(dir, "manifest-update", &request);
    manifest.hash.data = hash;
    manifest.version_number = 2;
    manifest.version_previous = (ProtobufCBinaryData){CA_SHA256_BYTES, root};
    manifest.version_root = (ProtobufCBinaryData){CA_SHA256_BYTES, root};
    ca_request_manifest_put(&request, &put, 62, &manifest);
    ok = ok && s_write_request(dir, "manifest-put-version-2", &request);
    manifest.hash.len = 31;
    ca_request_manifest_put(&request, &put, 63, &manifest);
    ok = ok && s_write_request(dir, "manifest-put-bad-hash", &request);
    ca_request_manifest_put(&request, &put, 64, NULL);
    ok = ok && s_write_request(dir, "manifest-put-empty", &request);
    ca_request_manifest_get(&request, &get, 65, root, CA_SHA256_BYTES);
    ok = ok && s_write_request(dir, "manifest-get", &request);
    ca_request_manifest_delete(&request, &del, 66, hash, CA_SHA256_BYTES);
    ok = ok && s_write_request(dir, "manifest-delete", &request);
    ca_request_manifest_list(&request, &list, 67, false, 0, NULL, 0, 0, 0, 0);
    ok = ok && s_write_request(dir, "manifest-list", &request);
    ca_request_manifest_list(&request, &list, 68, true, CAIRN__VISIBILITY__VISIBILITY_UNLISTED,
                             "text/article", 1.5, 2e9, 10, 5);
    ok = ok && s_write_request(dir, "manifest-list-filters", &request);
    ca_request_manifest_versions(&request, &versions, 69, root, CA_SHA256_BYTES, 0, 0);
    ok = ok && s_write_request(dir, "manifest-versions", &request);
    ca_request_manifest_versions(&request, &versions, 69, root, CA_SHA256_BYTES, 7, 3);
    ok = ok && s_write_request(dir, "manifest-versions-page", &request);
    ca_request_manifest_versions(&request, &versions, 69, root, CA_SHA256_BYTES, UINT32_MAX,
                                 UINT64_MAX);
    ok = ok && s_write_request(dir, "manifest-versions-bounds", &request);
    char *mentions[] = {(char *)"mention"}, *topics[] = {(char *)"topic"};
    Cairn__Summary summary = CAIRN__SUMMARY__INIT;
    summary.l0_hash = (ProtobufCBinaryData){CA_SHA256_BYTES, root};
    summary.mention_count = 3;
    summary.preview_mentions = mentions;
    summary.n_preview_mentions = 1;
    summary.primary_topics = topics;
    summary.n_primary_topics = 1;
    summary.summary_text = (char *)"summary";
    Cairn__SummaryPut summary_put;
    Cairn__SummaryGet summary_get;
    ca_request_summary_put(&request, &summary_put, 70, &summary);
    ok = ok && s_write_request(dir, "summary-put", &request);
    ca_request_summary_get(&request, &summary_get, 71, root, CA_SHA256_BYTES);
    return ok && s_write_request(dir, "summary-get", &request);
}

//  Every ledger request kind, valid and broken: a channel, an update, an
//  adjustment and the history, a payment with shares (its signature zeros: the fuzzer
//  reaches the verification), a payment with a short id, clears.
static bool s_ledger_seeds(const char *dir) {
    uint8_t id[CA_SHA256_BYTES], query[CA_SHA256_BYTES], signature[64] = {0};
    ca_sha256("seed payment", 12, id);
    ca_sha256("seed query", 10, query);
    Cairn__Request request;
    Cairn__PaymentChannel channel;
    Cairn__LedgerOpen open;
    ca_request_ledger_channel_init(&channel, "peer:1", CAIRN__CHANNEL_STATE__CHANNEL_OPEN, 10, 90,
                                   0);
    ca_request_ledger_open(&request, &open, 80, &channel);
    bool ok = s_write_request(dir, "ledger-open", &request);
    ca_request_ledger_open(&request, &open, 81, NULL);
    ok = ok && s_write_request(dir, "ledger-open-empty", &request);
    Cairn__LedgerGet get;
    ca_request_ledger_get(&request, &get, 82, "peer:1");
    ok = ok && s_write_request(dir, "ledger-get", &request);
    Cairn__LedgerUpdate update;
    ca_request_ledger_update(&request, &update, 83, "peer:1", 1,
                             CAIRN__CHANNEL_STATE__CHANNEL_CLOSING, 50, 50);
    ok = ok && s_write_request(dir, "ledger-update", &request);
    Cairn__LedgerList list;
    ca_request_ledger_list(&request, &list, 84, 0, NULL);
    ok = ok && s_write_request(dir, "ledger-list", &request);
    ca_request_ledger_list(&request, &list, 84, 7, "peer:1");
    ok = ok && s_write_request(dir, "ledger-list-page", &request);
    ca_request_ledger_list(&request, &list, 84, UINT32_MAX, "../bad peer");
    ok = ok && s_write_request(dir, "ledger-list-bad", &request);
    Cairn__LedgerAdjust adjust;
    ca_request_ledger_adjust(&request, &adjust, 85, "peer:1", -5, INT64_MAX, "seed");
    ok = ok && s_write_request(dir, "ledger-adjust", &request);
    Cairn__LedgerHistory history;
    ca_request_ledger_history(&request, &history, 85, "peer:1", 2, 1);
    ok = ok && s_write_request(dir, "ledger-history", &request);
    Cairn__Payment payment;
    ca_request_payment_init(&payment, id, CA_SHA256_BYTES, "peer:1", 5, "peer:2", query,
                            CA_SHA256_BYTES, 1700000000.5);
    Cairn__ProvenanceShare share = CAIRN__PROVENANCE_SHARE__INIT, *shares[] = {&share};
    share.root = (ProtobufCBinaryData){CA_SHA256_BYTES, query};
    share.weight = 3;
    payment.provenance = shares;
    payment.n_provenance = 1;
    payment.signature = (ProtobufCBinaryData){sizeof signature, signature};
    Cairn__LedgerPay pay;
    ca_request_ledger_pay(&request, &pay, 86, &payment);
    ok = ok && s_write_request(dir, "ledger-pay", &request);
    payment.id.len = 31;
    ca_request_ledger_pay(&request, &pay, 87, &payment);
    ok = ok && s_write_request(dir, "ledger-pay-bad-id", &request);
    Cairn__LedgerPending pending;
    ca_request_ledger_pending(&request, &pending, 88, "peer:1", 0, NULL, 0);
    ok = ok && s_write_request(dir, "ledger-pending", &request);
    ca_request_ledger_pending(&request, &pending, 88, "peer:1", 7, id, CA_SHA256_BYTES);
    ok = ok && s_write_request(dir, "ledger-pending-page", &request);
    ca_request_ledger_pending(&request, &pending, 88, "peer:1", UINT32_MAX, id, 31);
    ok = ok && s_write_request(dir, "ledger-pending-bad-cursor", &request);
    ProtobufCBinaryData ids[] = {{CA_SHA256_BYTES, id}, {CA_SHA256_BYTES, query}};
    Cairn__LedgerClear clear;
    ca_request_ledger_clear(&request, &clear, 89, ids, 2);
    return ok && s_write_request(dir, "ledger-clear", &request);
}

//  Every settlement request kind, valid and broken: a distribution, one
//  with a short payment id, pending (plain, of a recipient, with a cursor),
//  totals, a mark, the last time, batches.
static bool s_settlement_seeds(const char *dir) {
    uint8_t payment[CA_SHA256_BYTES], source[CA_SHA256_BYTES], batch[CA_SHA256_BYTES];
    ca_sha256("seed payment", 12, payment);
    ca_sha256("seed source", 11, source);
    ca_sha256("seed batch", 10, batch);
    Cairn__Request request;
    Cairn__Distribution d;
    Cairn__SettleEnqueue enqueue;
    ca_request_distribution(&d, payment, CA_SHA256_BYTES, "peer:2", 500, source, CA_SHA256_BYTES,
                            1700000000.25);
    ca_request_settle_enqueue(&request, &enqueue, 90, &d);
    bool ok = s_write_request(dir, "settle-enqueue", &request);
    d.payment_id.len = 31;
    ok = ok && s_write_request(dir, "settle-enqueue-short-id", &request);
    Cairn__SettlePending pending;
    ca_request_settle_pending(&request, &pending, 91, NULL, 0);
    ok = ok && s_write_request(dir, "settle-pending", &request);
    ca_request_settle_pending(&request, &pending, 92, "peer:2", 5);
    ca_request_settle_pending_after(&pending, payment, CA_SHA256_BYTES, "peer:2");
    ok = ok && s_write_request(dir, "settle-pending-after", &request);
    Cairn__SettleTotal total;
    ca_request_settle_total(&request, &total, 93, "peer:2");
    ok = ok && s_write_request(dir, "settle-total", &request);
    Cairn__SettleMark mark;
    ProtobufCBinaryData ids[] = {{CA_SHA256_BYTES, payment}};
    ca_request_settle_mark(&request, &mark, 94, ids, 1, batch, CA_SHA256_BYTES);
    ok = ok && s_write_request(dir, "settle-mark", &request);
    Cairn__SettleLastGet last_get;
    ca_request_settle_last_get(&request, &last_get, 95);
    ok = ok && s_write_request(dir, "settle-last-get", &request);
    Cairn__SettleLastSet last_set;
    ca_request_settle_last_set(&request, &last_set, 96, 1700000001.5);
    ok = ok && s_write_request(dir, "settle-last-set", &request);
    Cairn__SettleBatch make;
    ca_request_settle_batch(&request, &make, 97, 10);
    ok = ok && s_write_request(dir, "settle-batch", &request);
    Cairn__SettleBatchGet get;
    ca_request_settle_batch_get(&request, &get, 98, batch, CA_SHA256_BYTES);
    return ok && s_write_request(dir, "settle-batch-get", &request);
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
              s_config_seeds(dir) && s_channel_seeds(dir) && s_message_seeds(dir) &&
              s_peer_seeds(dir) && s_gossip_seeds(dir) && s_content_seeds(dir) &&
              s_prov_seeds(dir) && s_manifest_seeds(dir) && s_raw_frames(dir) &&
              s_ledger_seeds(dir) && s_settlement_seeds(dir);
    return ok ? 0 : 1;
}

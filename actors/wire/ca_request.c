/*  =========================================================================
    ca_request - request builders: one set for every test level

    Self-tests, end-to-end tests, fuzz seeds and the bench used to spell
    each request again; these builders are the one spelling they share.
    ========================================================================= */

#include "ca_request.h"

#include <string.h>

//  Inits `request` with its id and the body it is about to carry.
static void s_request(Cairn__Request *request, uint64_t id, Cairn__Request__BodyCase body_case) {
    cairn__request__init(request);
    request->id = id;
    request->body_case = body_case;
}

void ca_request_ping(Cairn__Request *request, Cairn__Ping *ping, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_PING);
    cairn__ping__init(ping);
    request->ping = ping;
}

void ca_request_info(Cairn__Request *request, Cairn__InfoRequest *info, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_INFO);
    cairn__info_request__init(info);
    request->info = info;
}

void ca_request_config_set(Cairn__Request *request, Cairn__ConfigSet *set, uint64_t id,
                           const char *key, const char *value) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONFIG_SET);
    cairn__config_set__init(set);
    set->key = (char *)key;
    set->value.data = (uint8_t *)value;
    set->value.len = strlen(value);
    request->config_set = set;
}

void ca_request_config_get(Cairn__Request *request, Cairn__ConfigGet *get, uint64_t id,
                           const char *key, const char *default_value) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONFIG_GET);
    cairn__config_get__init(get);
    get->key = (char *)key;
    get->default_value.data = (uint8_t *)default_value;
    get->default_value.len = strlen(default_value);
    request->config_get = get;
}

void ca_request_channel_create(Cairn__Request *request, Cairn__ChannelCreate *create, uint64_t id,
                               const char *name, bool encrypted, const char *password) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_CREATE);
    cairn__channel_create__init(create);
    create->name = (char *)name;
    create->encrypted = encrypted;
    create->password = (char *)password;
    request->channel_create = create;
}

void ca_request_channel_verify(Cairn__Request *request, Cairn__ChannelVerify *verify, uint64_t id,
                               const char *name, const char *password) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_VERIFY);
    cairn__channel_verify__init(verify);
    verify->name = (char *)name;
    verify->password = (char *)password;
    request->channel_verify = verify;
}

void ca_request_channel_get(Cairn__Request *request, Cairn__ChannelGet *get, uint64_t id,
                            const char *name) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_GET);
    cairn__channel_get__init(get);
    get->name = (char *)name;
    request->channel_get = get;
}

void ca_request_channel_list(Cairn__Request *request, Cairn__ChannelList *list, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_LIST);
    cairn__channel_list__init(list);
    request->channel_list = list;
}

void ca_request_channel_touch(Cairn__Request *request, Cairn__ChannelTouch *touch, uint64_t id,
                              const char *name, double timestamp) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_TOUCH);
    cairn__channel_touch__init(touch);
    touch->name = (char *)name;
    touch->timestamp = timestamp;
    request->channel_touch = touch;
}

void ca_request_channel_delete(Cairn__Request *request, Cairn__ChannelDelete *del, uint64_t id,
                               const char *name) {
    s_request(request, id, CAIRN__REQUEST__BODY_CHANNEL_DELETE);
    cairn__channel_delete__init(del);
    del->name = (char *)name;
    request->channel_delete = del;
}

void ca_request_member_join(Cairn__Request *request, Cairn__MemberJoin *join, uint64_t id,
                            const char *channel, const char *peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MEMBER_JOIN);
    cairn__member_join__init(join);
    join->channel = (char *)channel;
    join->peer_id = (char *)peer_id;
    request->member_join = join;
}

void ca_request_member_leave(Cairn__Request *request, Cairn__MemberLeave *leave, uint64_t id,
                             const char *channel, const char *peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MEMBER_LEAVE);
    cairn__member_leave__init(leave);
    leave->channel = (char *)channel;
    leave->peer_id = (char *)peer_id;
    request->member_leave = leave;
}

void ca_request_member_list(Cairn__Request *request, Cairn__MemberList *list, uint64_t id,
                            const char *channel, const char *peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MEMBER_LIST);
    cairn__member_list__init(list);
    list->channel = (char *)channel;
    list->peer_id = (char *)peer_id;
    request->member_list = list;
}

void ca_request_peer_init(Cairn__Peer *peer, const char *peer_id, const uint8_t *key,
                          const char *address, uint32_t port, const char *display_name) {
    cairn__peer__init(peer);
    peer->peer_id = (char *)peer_id;
    peer->public_key.data = (uint8_t *)key;
    peer->public_key.len = key ? 32 : 0;
    peer->address = (char *)address;
    peer->port = port;
    peer->display_name = (char *)display_name;
}

void ca_request_peer_put(Cairn__Request *request, Cairn__PeerPut *put, uint64_t id,
                         const Cairn__Peer *peer, const char *public_key_text) {
    s_request(request, id, CAIRN__REQUEST__BODY_PEER_PUT);
    cairn__peer_put__init(put);
    put->peer = (Cairn__Peer *)peer;
    put->public_key_text = (char *)(public_key_text ? public_key_text : "");
    request->peer_put = put;
}

void ca_request_peer_get(Cairn__Request *request, Cairn__PeerGet *get, uint64_t id,
                         const char *peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_PEER_GET);
    cairn__peer_get__init(get);
    get->peer_id = (char *)peer_id;
    request->peer_get = get;
}

void ca_request_peer_status(Cairn__Request *request, Cairn__PeerStatus *status, uint64_t id,
                            const char *peer_id, int state, double last_seen) {
    s_request(request, id, CAIRN__REQUEST__BODY_PEER_STATUS);
    cairn__peer_status__init(status);
    status->peer_id = (char *)peer_id;
    status->state = (Cairn__PeerState)state;
    status->last_seen = last_seen;
    request->peer_status = status;
}

void ca_request_peer_block(Cairn__Request *request, Cairn__PeerBlock *block, uint64_t id,
                           const char *peer_id, bool blocked) {
    s_request(request, id, CAIRN__REQUEST__BODY_PEER_BLOCK);
    cairn__peer_block__init(block);
    block->peer_id = (char *)peer_id;
    block->blocked = blocked;
    request->peer_block = block;
}

void ca_request_peer_list(Cairn__Request *request, Cairn__PeerList *list, uint64_t id,
                          bool by_state, int state, uint32_t limit, const char *after_peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_PEER_LIST);
    cairn__peer_list__init(list);
    list->by_state = by_state;
    list->state = (Cairn__PeerState)state;
    list->limit = limit;
    list->after_peer_id = (char *)after_peer_id;
    request->peer_list = list;
}

void ca_request_gossip_add(Cairn__Request *request, Cairn__GossipAdd *add, uint64_t id,
                           const char *message_id, uint32_t ttl) {
    s_request(request, id, CAIRN__REQUEST__BODY_GOSSIP_ADD);
    cairn__gossip_add__init(add);
    add->message_id = (char *)message_id;
    add->ttl = ttl;
    request->gossip_add = add;
}

void ca_request_gossip_has(Cairn__Request *request, Cairn__GossipHas *has, uint64_t id,
                           const char *message_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_GOSSIP_HAS);
    cairn__gossip_has__init(has);
    has->message_id = (char *)message_id;
    request->gossip_has = has;
}

void ca_request_gossip_clean(Cairn__Request *request, Cairn__GossipClean *clean, uint64_t id,
                             uint32_t max_age_s) {
    s_request(request, id, CAIRN__REQUEST__BODY_GOSSIP_CLEAN);
    cairn__gossip_clean__init(clean);
    clean->max_age_s = max_age_s;
    request->gossip_clean = clean;
}

void ca_request_message_init(Cairn__Message *message, const char *message_id, double timestamp,
                             const char *sender_id, const char *sender_name, const char *channel,
                             const char *content, const uint8_t *signature, size_t signature_size) {
    cairn__message__init(message);
    message->id = (char *)message_id;
    message->timestamp = timestamp;
    message->sender_id = (char *)sender_id;
    message->sender_name = (char *)sender_name;
    message->channel = (char *)channel;
    message->content.data = (uint8_t *)content;
    message->content.len = strlen(content);
    message->signature.data = (uint8_t *)signature;
    message->signature.len = signature_size;
}

void ca_request_message_store(Cairn__Request *request, Cairn__MessageStore *store, uint64_t id,
                              Cairn__Message *message) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_STORE);
    cairn__message_store__init(store);
    store->message = message;
    request->message_store = store;
}

void ca_request_message_list(Cairn__Request *request, Cairn__MessageList *list, uint64_t id,
                             const char *channel, uint32_t limit, uint32_t offset, double since,
                             double before_timestamp, const char *before_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_LIST);
    cairn__message_list__init(list);
    list->channel = (char *)channel;
    list->limit = limit;
    list->offset = offset;
    list->since = since;
    list->before_timestamp = before_timestamp;
    list->before_id = (char *)before_id;
    request->message_list = list;
}

void ca_request_message_get(Cairn__Request *request, Cairn__MessageGet *get, uint64_t id,
                            const char *message_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_GET);
    cairn__message_get__init(get);
    get->id = (char *)message_id;
    request->message_get = get;
}

void ca_request_message_delete(Cairn__Request *request, Cairn__MessageDelete *del, uint64_t id,
                               const char *channel, double before) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_DELETE);
    cairn__message_delete__init(del);
    del->channel = (char *)channel;
    del->before = before;
    request->message_delete = del;
}

void ca_request_message_search(Cairn__Request *request, Cairn__MessageSearch *search, uint64_t id,
                               const char *query, const char *channel, uint32_t limit) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_SEARCH);
    cairn__message_search__init(search);
    search->query = (char *)query;
    search->channel = (char *)channel;
    search->limit = limit;
    request->message_search = search;
}

void ca_request_message_stats(Cairn__Request *request, Cairn__MessageStats *stats, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_MESSAGE_STATS);
    cairn__message_stats__init(stats);
    request->message_stats = stats;
}

void ca_request_vacuum(Cairn__Request *request, Cairn__Vacuum *vacuum, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_VACUUM);
    cairn__vacuum__init(vacuum);
    request->vacuum = vacuum;
}

//  ---- content ---------------------------------------------------------------------

static ProtobufCBinaryData s_bytes(const void *data, size_t size) {
    ProtobufCBinaryData bytes = {size, (uint8_t *)data};
    return bytes;
}

void ca_request_content_put(Cairn__Request *request, Cairn__ContentPut *put, uint64_t id,
                            const void *data, size_t size, const uint8_t *expected,
                            size_t expected_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_PUT);
    cairn__content_put__init(put);
    put->data = s_bytes(data, size);
    put->expected_hash = s_bytes(expected, expected_size);
    request->content_put = put;
}

void ca_request_content_get(Cairn__Request *request, Cairn__ContentGet *get, uint64_t id,
                            const uint8_t *hash, size_t hash_size, bool skip_verify) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_GET);
    cairn__content_get__init(get);
    get->hash = s_bytes(hash, hash_size);
    get->skip_verify = skip_verify;
    request->content_get = get;
}

void ca_request_content_read(Cairn__Request *request, Cairn__ContentRead *read, uint64_t id,
                             const uint8_t *hash, size_t hash_size, uint64_t offset,
                             uint64_t length, bool skip_verify) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_READ);
    cairn__content_read__init(read);
    read->hash = s_bytes(hash, hash_size);
    read->offset = offset;
    read->length = length;
    read->skip_verify = skip_verify;
    request->content_read = read;
}

void ca_request_content_has(Cairn__Request *request, Cairn__ContentHas *has, uint64_t id,
                            const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_HAS);
    cairn__content_has__init(has);
    has->hash = s_bytes(hash, hash_size);
    request->content_has = has;
}

void ca_request_content_size(Cairn__Request *request, Cairn__ContentSize *size_body, uint64_t id,
                             const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_SIZE);
    cairn__content_size__init(size_body);
    size_body->hash = s_bytes(hash, hash_size);
    request->content_size = size_body;
}

void ca_request_content_delete(Cairn__Request *request, Cairn__ContentDelete *del, uint64_t id,
                               const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_DELETE);
    cairn__content_delete__init(del);
    del->hash = s_bytes(hash, hash_size);
    request->content_delete = del;
}

void ca_request_content_begin(Cairn__Request *request, Cairn__ContentBegin *begin, uint64_t id,
                              const uint8_t *expected, size_t expected_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_BEGIN);
    cairn__content_begin__init(begin);
    begin->expected_hash = s_bytes(expected, expected_size);
    request->content_begin = begin;
}

void ca_request_content_chunk(Cairn__Request *request, Cairn__ContentChunk *chunk, uint64_t id,
                              uint64_t stream_id, uint64_t offset, const void *data, size_t size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_CHUNK);
    cairn__content_chunk__init(chunk);
    chunk->stream_id = stream_id;
    chunk->offset = offset;
    chunk->data = s_bytes(data, size);
    request->content_chunk = chunk;
}

void ca_request_content_commit(Cairn__Request *request, Cairn__ContentCommit *commit, uint64_t id,
                               uint64_t stream_id, const uint8_t *expected, size_t expected_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_COMMIT);
    cairn__content_commit__init(commit);
    commit->stream_id = stream_id;
    commit->expected_hash = s_bytes(expected, expected_size);
    request->content_commit = commit;
}

void ca_request_content_abort(Cairn__Request *request, Cairn__ContentAbort *abort_body, uint64_t id,
                              uint64_t stream_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_ABORT);
    cairn__content_abort__init(abort_body);
    abort_body->stream_id = stream_id;
    request->content_abort = abort_body;
}

void ca_request_content_check(Cairn__Request *request, Cairn__ContentCheck *check, uint64_t id,
                              bool verify, bool repair) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_CHECK);
    cairn__content_check__init(check);
    check->verify = verify;
    check->repair = repair;
    request->content_check = check;
}

void ca_request_content_stats(Cairn__Request *request, Cairn__ContentStats *stats, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_CONTENT_STATS);
    cairn__content_stats__init(stats);
    request->content_stats = stats;
}

//  ---- peer-content cache ------------------------------------------------------------

void ca_request_cache_put(Cairn__Request *request, Cairn__CachePut *put, uint64_t id,
                          const uint8_t *hash, size_t hash_size, const void *data, size_t size,
                          const char *source_peer, double queried_at, const void *receipt,
                          size_t receipt_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_PUT);
    cairn__cache_put__init(put);
    put->hash = s_bytes(hash, hash_size);
    put->data = s_bytes(data, size);
    put->source_peer = (char *)source_peer;
    put->queried_at = queried_at;
    put->receipt = s_bytes(receipt, receipt_size);
    request->cache_put = put;
}

void ca_request_cache_get(Cairn__Request *request, Cairn__CacheGet *get, uint64_t id,
                          const uint8_t *hash, size_t hash_size, bool skip_verify) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_GET);
    cairn__cache_get__init(get);
    get->hash = s_bytes(hash, hash_size);
    get->skip_verify = skip_verify;
    request->cache_get = get;
}

void ca_request_cache_has(Cairn__Request *request, Cairn__CacheHas *has, uint64_t id,
                          const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_HAS);
    cairn__cache_has__init(has);
    has->hash = s_bytes(hash, hash_size);
    request->cache_has = has;
}

void ca_request_cache_evict(Cairn__Request *request, Cairn__CacheEvict *evict, uint64_t id,
                            uint64_t max_bytes) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_EVICT);
    cairn__cache_evict__init(evict);
    evict->max_bytes = max_bytes;
    request->cache_evict = evict;
}

void ca_request_cache_clear(Cairn__Request *request, Cairn__CacheClear *clear, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_CLEAR);
    cairn__cache_clear__init(clear);
    request->cache_clear = clear;
}

void ca_request_cache_stats(Cairn__Request *request, Cairn__CacheStats *stats, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_CACHE_STATS);
    cairn__cache_stats__init(stats);
    request->cache_stats = stats;
}

//  ---- provenance --------------------------------------------------------------------

void ca_request_prov_add(Cairn__Request *request, Cairn__ProvAdd *add, uint64_t id,
                         const uint8_t *hash, size_t hash_size, ProtobufCBinaryData *sources,
                         size_t count) {
    s_request(request, id, CAIRN__REQUEST__BODY_PROV_ADD);
    cairn__prov_add__init(add);
    add->hash = s_bytes(hash, hash_size);
    add->sources = sources;
    add->n_sources = count;
    request->prov_add = add;
}

void ca_request_prov_roots(Cairn__Request *request, Cairn__ProvRoots *roots, uint64_t id,
                           const uint8_t *hash, size_t hash_size, uint32_t limit) {
    s_request(request, id, CAIRN__REQUEST__BODY_PROV_ROOTS);
    cairn__prov_roots__init(roots);
    roots->hash = s_bytes(hash, hash_size);
    roots->limit = limit;
    request->prov_roots = roots;
}

void ca_request_prov_derivations(Cairn__Request *request, Cairn__ProvDerivations *derivations,
                                 uint64_t id, const uint8_t *hash, size_t hash_size,
                                 bool transitive, uint32_t limit) {
    s_request(request, id, CAIRN__REQUEST__BODY_PROV_DERIVATIONS);
    cairn__prov_derivations__init(derivations);
    derivations->hash = s_bytes(hash, hash_size);
    derivations->transitive = transitive;
    derivations->limit = limit;
    request->prov_derivations = derivations;
}

void ca_request_prov_derivations_after(Cairn__ProvDerivations *derivations, const uint8_t *after,
                                       size_t after_size) {
    derivations->after = s_bytes(after, after_size);
}

void ca_request_prov_ancestor(Cairn__Request *request, Cairn__ProvAncestor *ancestor, uint64_t id,
                              const uint8_t *ancestor_hash, size_t ancestor_size,
                              const uint8_t *descendant_hash, size_t descendant_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_PROV_ANCESTOR);
    cairn__prov_ancestor__init(ancestor);
    ancestor->ancestor = s_bytes(ancestor_hash, ancestor_size);
    ancestor->descendant = s_bytes(descendant_hash, descendant_size);
    request->prov_ancestor = ancestor;
}

//  ---- manifests -------------------------------------------------------------------

void ca_request_manifest_put(Cairn__Request *request, Cairn__ManifestPut *put, uint64_t id,
                             Cairn__Manifest *manifest) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_PUT);
    cairn__manifest_put__init(put);
    put->manifest = manifest;
    request->manifest_put = put;
}

void ca_request_manifest_update(Cairn__Request *request, Cairn__ManifestUpdate *update, uint64_t id,
                                Cairn__Manifest *manifest) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_UPDATE);
    cairn__manifest_update__init(update);
    update->manifest = manifest;
    request->manifest_update = update;
}

void ca_request_manifest_get(Cairn__Request *request, Cairn__ManifestGet *get, uint64_t id,
                             const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_GET);
    cairn__manifest_get__init(get);
    get->hash = s_bytes(hash, hash_size);
    request->manifest_get = get;
}

void ca_request_manifest_delete(Cairn__Request *request, Cairn__ManifestDelete *del, uint64_t id,
                                const uint8_t *hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_DELETE);
    cairn__manifest_delete__init(del);
    del->hash = s_bytes(hash, hash_size);
    request->manifest_delete = del;
}

void ca_request_manifest_list(Cairn__Request *request, Cairn__ManifestList *list, uint64_t id,
                              bool by_visibility, Cairn__Visibility visibility,
                              const char *content_type, double created_after, double created_before,
                              uint32_t limit, uint32_t offset) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_LIST);
    cairn__manifest_list__init(list);
    list->by_visibility = by_visibility;
    list->visibility = visibility;
    if (content_type)
        list->content_type = (char *)content_type;
    list->created_after = created_after;
    list->created_before = created_before;
    list->limit = limit;
    list->offset = offset;
    request->manifest_list = list;
}

void ca_request_manifest_versions(Cairn__Request *request, Cairn__ManifestVersions *versions,
                                  uint64_t id, const uint8_t *root, size_t root_size,
                                  uint32_t limit, uint64_t after_version) {
    s_request(request, id, CAIRN__REQUEST__BODY_MANIFEST_VERSIONS);
    cairn__manifest_versions__init(versions);
    versions->version_root = s_bytes(root, root_size);
    versions->limit = limit;
    versions->after_version = after_version;
    request->manifest_versions = versions;
}

void ca_request_summary_put(Cairn__Request *request, Cairn__SummaryPut *put, uint64_t id,
                            Cairn__Summary *summary) {
    s_request(request, id, CAIRN__REQUEST__BODY_SUMMARY_PUT);
    cairn__summary_put__init(put);
    put->summary = summary;
    request->summary_put = put;
}

void ca_request_summary_get(Cairn__Request *request, Cairn__SummaryGet *get, uint64_t id,
                            const uint8_t *l0_hash, size_t hash_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_SUMMARY_GET);
    cairn__summary_get__init(get);
    get->l0_hash = s_bytes(l0_hash, hash_size);
    request->summary_get = get;
}

//  ---- settlement ------------------------------------------------------------------

void ca_request_distribution(Cairn__Distribution *distribution, const uint8_t *payment_id,
                             size_t payment_id_size, const char *recipient, uint64_t amount,
                             const uint8_t *source_hash, size_t source_hash_size,
                             double queued_at) {
    cairn__distribution__init(distribution);
    distribution->payment_id = s_bytes(payment_id, payment_id_size);
    if (recipient)
        distribution->recipient = (char *)recipient;
    distribution->amount = amount;
    distribution->source_hash = s_bytes(source_hash, source_hash_size);
    distribution->queued_at = queued_at;
}

void ca_request_settle_enqueue(Cairn__Request *request, Cairn__SettleEnqueue *enqueue, uint64_t id,
                               Cairn__Distribution *distribution) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_ENQUEUE);
    cairn__settle_enqueue__init(enqueue);
    enqueue->distribution = distribution;
    request->settle_enqueue = enqueue;
}

void ca_request_settle_pending(Cairn__Request *request, Cairn__SettlePending *pending, uint64_t id,
                               const char *recipient, uint32_t limit) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_PENDING);
    cairn__settle_pending__init(pending);
    if (recipient)
        pending->recipient = (char *)recipient;
    pending->limit = limit;
    request->settle_pending = pending;
}

void ca_request_settle_pending_after(Cairn__SettlePending *pending, const uint8_t *payment_id,
                                     size_t payment_id_size, const char *recipient) {
    pending->after_payment_id = s_bytes(payment_id, payment_id_size);
    pending->after_recipient = recipient ? (char *)recipient : (char *)"";
}

void ca_request_settle_total(Cairn__Request *request, Cairn__SettleTotal *total, uint64_t id,
                             const char *recipient) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_TOTAL);
    cairn__settle_total__init(total);
    if (recipient)
        total->recipient = (char *)recipient;
    request->settle_total = total;
}

void ca_request_settle_mark(Cairn__Request *request, Cairn__SettleMark *mark, uint64_t id,
                            ProtobufCBinaryData *payment_ids, size_t count, const uint8_t *batch_id,
                            size_t batch_id_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_MARK);
    cairn__settle_mark__init(mark);
    mark->payment_ids = payment_ids;
    mark->n_payment_ids = count;
    mark->batch_id = s_bytes(batch_id, batch_id_size);
    request->settle_mark = mark;
}

void ca_request_settle_last_get(Cairn__Request *request, Cairn__SettleLastGet *get, uint64_t id) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_LAST_GET);
    cairn__settle_last_get__init(get);
    request->settle_last_get = get;
}

void ca_request_settle_last_set(Cairn__Request *request, Cairn__SettleLastSet *set, uint64_t id,
                                double time) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_LAST_SET);
    cairn__settle_last_set__init(set);
    set->time = time;
    request->settle_last_set = set;
}

void ca_request_settle_batch(Cairn__Request *request, Cairn__SettleBatch *batch, uint64_t id,
                             uint32_t limit) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_BATCH);
    cairn__settle_batch__init(batch);
    batch->limit = limit;
    request->settle_batch = batch;
}

void ca_request_settle_batch_get(Cairn__Request *request, Cairn__SettleBatchGet *get, uint64_t id,
                                 const uint8_t *batch_id, size_t batch_id_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_SETTLE_BATCH_GET);
    cairn__settle_batch_get__init(get);
    get->batch_id = s_bytes(batch_id, batch_id_size);
    request->settle_batch_get = get;
}

//  ---- ledger ----------------------------------------------------------------------

void ca_request_ledger_channel_init(Cairn__PaymentChannel *channel, const char *peer_id,
                                    Cairn__ChannelState state, uint64_t my_balance,
                                    uint64_t their_balance, uint64_t nonce) {
    cairn__payment_channel__init(channel);
    channel->peer_id = (char *)peer_id;
    channel->state = state;
    channel->my_balance = my_balance;
    channel->their_balance = their_balance;
    channel->nonce = nonce;
}

void ca_request_ledger_open(Cairn__Request *request, Cairn__LedgerOpen *open, uint64_t id,
                            Cairn__PaymentChannel *channel) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_OPEN);
    cairn__ledger_open__init(open);
    open->channel = channel;
    request->ledger_open = open;
}

void ca_request_ledger_get(Cairn__Request *request, Cairn__LedgerGet *get, uint64_t id,
                           const char *peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_GET);
    cairn__ledger_get__init(get);
    get->peer_id = (char *)peer_id;
    request->ledger_get = get;
}

void ca_request_ledger_update(Cairn__Request *request, Cairn__LedgerUpdate *update, uint64_t id,
                              const char *peer_id, uint64_t nonce, Cairn__ChannelState state,
                              uint64_t my_balance, uint64_t their_balance) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_UPDATE);
    cairn__ledger_update__init(update);
    update->peer_id = (char *)peer_id;
    update->nonce = nonce;
    update->state = state;
    update->my_balance = my_balance;
    update->their_balance = their_balance;
    request->ledger_update = update;
}

void ca_request_ledger_list(Cairn__Request *request, Cairn__LedgerList *list, uint64_t id,
                            uint32_t limit, const char *after_peer_id) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_LIST);
    cairn__ledger_list__init(list);
    list->limit = limit;
    list->after_peer_id = (char *)(after_peer_id ? after_peer_id : "");
    request->ledger_list = list;
}

void ca_request_ledger_adjust(Cairn__Request *request, Cairn__LedgerAdjust *adjust, uint64_t id,
                              const char *peer_id, int64_t my_delta, int64_t their_delta,
                              const char *reason) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_ADJUST);
    cairn__ledger_adjust__init(adjust);
    adjust->peer_id = (char *)peer_id;
    adjust->my_delta = my_delta;
    adjust->their_delta = their_delta;
    adjust->reason = (char *)reason;
    request->ledger_adjust = adjust;
}

void ca_request_ledger_history(Cairn__Request *request, Cairn__LedgerHistory *history, uint64_t id,
                               const char *peer_id, uint32_t limit, uint64_t after_seq) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_HISTORY);
    cairn__ledger_history__init(history);
    history->peer_id = (char *)peer_id;
    history->limit = limit;
    history->after_seq = after_seq;
    request->ledger_history = history;
}

void ca_request_payment_init(Cairn__Payment *payment, const uint8_t *payment_id,
                             size_t payment_id_size, const char *channel_peer, uint64_t amount,
                             const char *recipient, const uint8_t *query_hash,
                             size_t query_hash_size, double timestamp) {
    cairn__payment__init(payment);
    payment->id = s_bytes(payment_id, payment_id_size);
    payment->channel_peer = (char *)channel_peer;
    payment->amount = amount;
    payment->recipient = (char *)recipient;
    payment->query_hash = s_bytes(query_hash, query_hash_size);
    payment->timestamp = timestamp;
}

void ca_request_ledger_pay(Cairn__Request *request, Cairn__LedgerPay *pay, uint64_t id,
                           Cairn__Payment *payment) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_PAY);
    cairn__ledger_pay__init(pay);
    pay->payment = payment;
    request->ledger_pay = pay;
}

void ca_request_ledger_pending(Cairn__Request *request, Cairn__LedgerPending *pending, uint64_t id,
                               const char *peer_id, uint32_t limit, const uint8_t *after_payment_id,
                               size_t after_size) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_PENDING);
    cairn__ledger_pending__init(pending);
    pending->peer_id = (char *)peer_id;
    pending->limit = limit;
    pending->after_payment_id = s_bytes(after_payment_id, after_size);
    request->ledger_pending = pending;
}

void ca_request_ledger_clear(Cairn__Request *request, Cairn__LedgerClear *clear, uint64_t id,
                             ProtobufCBinaryData *payment_ids, size_t count) {
    s_request(request, id, CAIRN__REQUEST__BODY_LEDGER_CLEAR);
    cairn__ledger_clear__init(clear);
    clear->payment_ids = payment_ids;
    clear->n_payment_ids = count;
    request->ledger_clear = clear;
}

/*  =========================================================================
    ca_request - request builders: one set for every test level

    The stores' self-tests (through ca_testbed), the end-to-end tests
    (through a real cairnd's endpoint), the fuzz seeds and the bench all
    build the same Requests. Each builder here inits a Request and its body,
    fills the body's fields and links the two, so that a request is spelled
    once whichever level sends it.

    The caller owns the storage of both structs (usually locals); strings,
    bytes and nested messages are referenced, not copied, and must outlive
    the send. Nothing here allocates, so nothing needs freeing.
    ========================================================================= */

#ifndef CA_REQUEST_H_INCLUDED
#define CA_REQUEST_H_INCLUDED

#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  ---- node ----------------------------------------------------------------------

//  Ping with an empty payload.
void ca_request_ping(Cairn__Request *request, Cairn__Ping *ping, uint64_t id);

//  Info (the node's statistics).
void ca_request_info(Cairn__Request *request, Cairn__InfoRequest *info, uint64_t id);

//  ---- config --------------------------------------------------------------------

//  ConfigSet of a NUL-terminated value (the terminator is not sent).
void ca_request_config_set(Cairn__Request *request, Cairn__ConfigSet *set, uint64_t id,
                           const char *key, const char *value);

//  ConfigGet with a NUL-terminated default (the terminator is not sent).
void ca_request_config_get(Cairn__Request *request, Cairn__ConfigGet *get, uint64_t id,
                           const char *key, const char *default_value);

//  ---- channels ------------------------------------------------------------------

//  ChannelCreate; password may be "" (an unprotected channel).
void ca_request_channel_create(Cairn__Request *request, Cairn__ChannelCreate *create, uint64_t id,
                               const char *name, bool encrypted, const char *password);

//  ChannelVerify of a protected channel's password.
void ca_request_channel_verify(Cairn__Request *request, Cairn__ChannelVerify *verify, uint64_t id,
                               const char *name, const char *password);

//  ChannelGet of one channel.
void ca_request_channel_get(Cairn__Request *request, Cairn__ChannelGet *get, uint64_t id,
                            const char *name);

//  ChannelList of every channel.
void ca_request_channel_list(Cairn__Request *request, Cairn__ChannelList *list, uint64_t id);

//  ChannelTouch: raises the channel's last activity to `timestamp`.
void ca_request_channel_touch(Cairn__Request *request, Cairn__ChannelTouch *touch, uint64_t id,
                              const char *name, double timestamp);

//  ChannelDelete of one channel.
void ca_request_channel_delete(Cairn__Request *request, Cairn__ChannelDelete *del, uint64_t id,
                               const char *name);

//  ---- membership ----------------------------------------------------------------

//  MemberJoin: `peer_id` joins `channel`.
void ca_request_member_join(Cairn__Request *request, Cairn__MemberJoin *join, uint64_t id,
                            const char *channel, const char *peer_id);

//  MemberLeave: `peer_id` leaves `channel`.
void ca_request_member_leave(Cairn__Request *request, Cairn__MemberLeave *leave, uint64_t id,
                             const char *channel, const char *peer_id);

//  MemberList, filtered by channel and/or peer ("" for no filter).
void ca_request_member_list(Cairn__Request *request, Cairn__MemberList *list, uint64_t id,
                            const char *channel, const char *peer_id);

//  ---- peers ---------------------------------------------------------------------

//  A Peer with a 32-byte key (NULL for none) at address:port.
void ca_request_peer_init(Cairn__Peer *peer, const char *peer_id, const uint8_t *key,
                          const char *address, uint32_t port, const char *display_name);

//  PeerPut of `peer` (NULL for none); a NULL key text is sent as "".
void ca_request_peer_put(Cairn__Request *request, Cairn__PeerPut *put, uint64_t id,
                         const Cairn__Peer *peer, const char *public_key_text);

//  PeerGet of one peer.
void ca_request_peer_get(Cairn__Request *request, Cairn__PeerGet *get, uint64_t id,
                         const char *peer_id);

//  PeerStatus: a peer's state and when it was last seen.
void ca_request_peer_status(Cairn__Request *request, Cairn__PeerStatus *status, uint64_t id,
                            const char *peer_id, int state, double last_seen);

//  PeerBlock: blocks or unblocks a peer.
void ca_request_peer_block(Cairn__Request *request, Cairn__PeerBlock *block, uint64_t id,
                           const char *peer_id, bool blocked);

//  PeerList: one page (limit 0 for the default) after `after_peer_id`.
void ca_request_peer_list(Cairn__Request *request, Cairn__PeerList *list, uint64_t id,
                          bool by_state, int state, uint32_t limit, const char *after_peer_id);

//  ---- gossip --------------------------------------------------------------------

//  GossipAdd of a message id with its ttl.
void ca_request_gossip_add(Cairn__Request *request, Cairn__GossipAdd *add, uint64_t id,
                           const char *message_id, uint32_t ttl);

//  GossipHas: whether a message id was seen.
void ca_request_gossip_has(Cairn__Request *request, Cairn__GossipHas *has, uint64_t id,
                           const char *message_id);

//  GossipClean of entries older than max_age_s.
void ca_request_gossip_clean(Cairn__Request *request, Cairn__GossipClean *clean, uint64_t id,
                             uint32_t max_age_s);

//  ---- messages ------------------------------------------------------------------

//  A clear Message with a NUL-terminated content (the terminator is not sent).
void ca_request_message_init(Cairn__Message *message, const char *message_id, double timestamp,
                             const char *sender_id, const char *sender_name, const char *channel,
                             const char *content, const uint8_t *signature, size_t signature_size);

//  MessageStore of `message` (NULL for none).
void ca_request_message_store(Cairn__Request *request, Cairn__MessageStore *store, uint64_t id,
                              Cairn__Message *message);

//  MessageList: one page, by offset or by the (before_timestamp, before_id)
//  cursor, of messages newer than `since`.
void ca_request_message_list(Cairn__Request *request, Cairn__MessageList *list, uint64_t id,
                             const char *channel, uint32_t limit, uint32_t offset, double since,
                             double before_timestamp, const char *before_id);

//  MessageGet of one message.
void ca_request_message_get(Cairn__Request *request, Cairn__MessageGet *get, uint64_t id,
                            const char *message_id);

//  MessageDelete of a channel's messages and/or of those before a time.
void ca_request_message_delete(Cairn__Request *request, Cairn__MessageDelete *del, uint64_t id,
                               const char *channel, double before);

//  MessageSearch of a full-text query, in one channel or ("") all.
void ca_request_message_search(Cairn__Request *request, Cairn__MessageSearch *search, uint64_t id,
                               const char *query, const char *channel, uint32_t limit);

//  MessageStats of the whole store.
void ca_request_message_stats(Cairn__Request *request, Cairn__MessageStats *stats, uint64_t id);

//  Vacuum of the database.
void ca_request_vacuum(Cairn__Request *request, Cairn__Vacuum *vacuum, uint64_t id);

//  ---- content -------------------------------------------------------------------
//  Hashes are passed with their size so that tests can send wrong sizes;
//  an absent optional hash is (NULL, 0).

void ca_request_content_put(Cairn__Request *request, Cairn__ContentPut *put, uint64_t id,
                            const void *data, size_t size, const uint8_t *expected,
                            size_t expected_size);
void ca_request_content_get(Cairn__Request *request, Cairn__ContentGet *get, uint64_t id,
                            const uint8_t *hash, size_t hash_size, bool skip_verify);
void ca_request_content_read(Cairn__Request *request, Cairn__ContentRead *read, uint64_t id,
                             const uint8_t *hash, size_t hash_size, uint64_t offset,
                             uint64_t length, bool skip_verify);
void ca_request_content_has(Cairn__Request *request, Cairn__ContentHas *has, uint64_t id,
                            const uint8_t *hash, size_t hash_size);
void ca_request_content_size(Cairn__Request *request, Cairn__ContentSize *size_body, uint64_t id,
                             const uint8_t *hash, size_t hash_size);
void ca_request_content_delete(Cairn__Request *request, Cairn__ContentDelete *del, uint64_t id,
                               const uint8_t *hash, size_t hash_size);
void ca_request_content_begin(Cairn__Request *request, Cairn__ContentBegin *begin, uint64_t id,
                              const uint8_t *expected, size_t expected_size);
void ca_request_content_chunk(Cairn__Request *request, Cairn__ContentChunk *chunk, uint64_t id,
                              uint64_t stream_id, uint64_t offset, const void *data, size_t size);
void ca_request_content_commit(Cairn__Request *request, Cairn__ContentCommit *commit, uint64_t id,
                               uint64_t stream_id, const uint8_t *expected, size_t expected_size);
void ca_request_content_abort(Cairn__Request *request, Cairn__ContentAbort *abort_body, uint64_t id,
                              uint64_t stream_id);
void ca_request_content_check(Cairn__Request *request, Cairn__ContentCheck *check, uint64_t id,
                              bool verify, bool repair);
void ca_request_content_stats(Cairn__Request *request, Cairn__ContentStats *stats, uint64_t id);

//  ---- peer-content cache ------------------------------------------------------------

void ca_request_cache_put(Cairn__Request *request, Cairn__CachePut *put, uint64_t id,
                          const uint8_t *hash, size_t hash_size, const void *data, size_t size,
                          const char *source_peer, double queried_at, const void *receipt,
                          size_t receipt_size);
void ca_request_cache_get(Cairn__Request *request, Cairn__CacheGet *get, uint64_t id,
                          const uint8_t *hash, size_t hash_size, bool skip_verify);
void ca_request_cache_has(Cairn__Request *request, Cairn__CacheHas *has, uint64_t id,
                          const uint8_t *hash, size_t hash_size);
void ca_request_cache_evict(Cairn__Request *request, Cairn__CacheEvict *evict, uint64_t id,
                            uint64_t max_bytes);
void ca_request_cache_clear(Cairn__Request *request, Cairn__CacheClear *clear, uint64_t id);
void ca_request_cache_stats(Cairn__Request *request, Cairn__CacheStats *stats, uint64_t id);

//  ---- provenance ------------------------------------------------------------------

//  ProvAdd of `hash` derived from `count` sources (each 32 bytes, sizes as given).
void ca_request_prov_add(Cairn__Request *request, Cairn__ProvAdd *add, uint64_t id,
                         const uint8_t *hash, size_t hash_size, ProtobufCBinaryData *sources,
                         size_t count);
void ca_request_prov_roots(Cairn__Request *request, Cairn__ProvRoots *roots, uint64_t id,
                           const uint8_t *hash, size_t hash_size, uint32_t limit);
void ca_request_prov_derivations(Cairn__Request *request, Cairn__ProvDerivations *derivations,
                                 uint64_t id, const uint8_t *hash, size_t hash_size,
                                 bool transitive, uint32_t limit);
//  Pages a direct ProvDerivations on after hash `after` (referenced).
void ca_request_prov_derivations_after(Cairn__ProvDerivations *derivations, const uint8_t *after,
                                       size_t after_size);
void ca_request_prov_ancestor(Cairn__Request *request, Cairn__ProvAncestor *ancestor, uint64_t id,
                              const uint8_t *ancestor_hash, size_t ancestor_size,
                              const uint8_t *descendant_hash, size_t descendant_size);

//  ---- manifests -------------------------------------------------------------------

//  ManifestPut and ManifestUpdate of a manifest the caller filled
//  (cairn__manifest__init first); NULL sends the request without one.
void ca_request_manifest_put(Cairn__Request *request, Cairn__ManifestPut *put, uint64_t id,
                             Cairn__Manifest *manifest);
void ca_request_manifest_update(Cairn__Request *request, Cairn__ManifestUpdate *update, uint64_t id,
                                Cairn__Manifest *manifest);
void ca_request_manifest_get(Cairn__Request *request, Cairn__ManifestGet *get, uint64_t id,
                             const uint8_t *hash, size_t hash_size);
void ca_request_manifest_delete(Cairn__Request *request, Cairn__ManifestDelete *del, uint64_t id,
                                const uint8_t *hash, size_t hash_size);
//  ManifestList: visibility filters only with by_visibility; content_type
//  "" (or NULL) and times 0 mean no filter; limit 0 the default page.
void ca_request_manifest_list(Cairn__Request *request, Cairn__ManifestList *list, uint64_t id,
                              bool by_visibility, Cairn__Visibility visibility,
                              const char *content_type, double created_after, double created_before,
                              uint32_t limit, uint32_t offset);
//  ManifestVersions: one page (limit 0 for the default) of the versions
//  numbered above `after_version` (0: from version 1).
void ca_request_manifest_versions(Cairn__Request *request, Cairn__ManifestVersions *versions,
                                  uint64_t id, const uint8_t *root, size_t root_size,
                                  uint32_t limit, uint64_t after_version);
//  SummaryPut of a summary the caller filled (NULL: none); SummaryGet.
void ca_request_summary_put(Cairn__Request *request, Cairn__SummaryPut *put, uint64_t id,
                            Cairn__Summary *summary);
void ca_request_summary_get(Cairn__Request *request, Cairn__SummaryGet *get, uint64_t id,
                            const uint8_t *l0_hash, size_t hash_size);

//  ---- settlement ------------------------------------------------------------------

//  Fills a Distribution for SettleEnqueue (queued_at 0: now).
void ca_request_distribution(Cairn__Distribution *distribution, const uint8_t *payment_id,
                             size_t payment_id_size, const char *recipient, uint64_t amount,
                             const uint8_t *source_hash, size_t source_hash_size, double queued_at);
//  SettleEnqueue of a distribution the caller filled (NULL: none).
void ca_request_settle_enqueue(Cairn__Request *request, Cairn__SettleEnqueue *enqueue, uint64_t id,
                               Cairn__Distribution *distribution);
//  SettlePending and SettleTotal: recipient "" (or NULL) means all.
void ca_request_settle_pending(Cairn__Request *request, Cairn__SettlePending *pending, uint64_t id,
                               const char *recipient, uint32_t limit);
//  Pages a SettlePending on after distribution (payment_id, recipient); the
//  bytes are referenced.
void ca_request_settle_pending_after(Cairn__SettlePending *pending, const uint8_t *payment_id,
                                     size_t payment_id_size, const char *recipient);
void ca_request_settle_total(Cairn__Request *request, Cairn__SettleTotal *total, uint64_t id,
                             const char *recipient);
void ca_request_settle_mark(Cairn__Request *request, Cairn__SettleMark *mark, uint64_t id,
                            ProtobufCBinaryData *payment_ids, size_t count, const uint8_t *batch_id,
                            size_t batch_id_size);
void ca_request_settle_last_get(Cairn__Request *request, Cairn__SettleLastGet *get, uint64_t id);
void ca_request_settle_last_set(Cairn__Request *request, Cairn__SettleLastSet *set, uint64_t id,
                                double time);
void ca_request_settle_batch(Cairn__Request *request, Cairn__SettleBatch *batch, uint64_t id,
                             uint32_t limit);
void ca_request_settle_batch_get(Cairn__Request *request, Cairn__SettleBatchGet *get, uint64_t id,
                                 const uint8_t *batch_id, size_t batch_id_size);
//  ---- ledger ----------------------------------------------------------------------

//  A PaymentChannel to open (cairn__payment_channel__init'd and filled).
void ca_request_ledger_channel_init(Cairn__PaymentChannel *channel, const char *peer_id,
                                    Cairn__ChannelState state, uint64_t my_balance,
                                    uint64_t their_balance, uint64_t nonce);
//  LedgerOpen of `channel` (NULL sends the request without one).
void ca_request_ledger_open(Cairn__Request *request, Cairn__LedgerOpen *open, uint64_t id,
                            Cairn__PaymentChannel *channel);
void ca_request_ledger_get(Cairn__Request *request, Cairn__LedgerGet *get, uint64_t id,
                           const char *peer_id);
void ca_request_ledger_update(Cairn__Request *request, Cairn__LedgerUpdate *update, uint64_t id,
                              const char *peer_id, uint64_t nonce, Cairn__ChannelState state,
                              uint64_t my_balance, uint64_t their_balance);
//  LedgerList: one page (limit 0 for the default) of the open channels
//  after `after_peer_id` ("" or NULL: from the start).
void ca_request_ledger_list(Cairn__Request *request, Cairn__LedgerList *list, uint64_t id,
                            uint32_t limit, const char *after_peer_id);
void ca_request_ledger_adjust(Cairn__Request *request, Cairn__LedgerAdjust *adjust, uint64_t id,
                              const char *peer_id, int64_t my_delta, int64_t their_delta,
                              const char *reason);
void ca_request_ledger_history(Cairn__Request *request, Cairn__LedgerHistory *history, uint64_t id,
                               const char *peer_id, uint32_t limit, uint64_t after_seq);
//  A Payment without provenance or signature; the bytes are referenced.
void ca_request_payment_init(Cairn__Payment *payment, const uint8_t *payment_id,
                             size_t payment_id_size, const char *channel_peer, uint64_t amount,
                             const char *recipient, const uint8_t *query_hash,
                             size_t query_hash_size, double timestamp);
//  LedgerPay of `payment` (NULL sends the request without one).
void ca_request_ledger_pay(Cairn__Request *request, Cairn__LedgerPay *pay, uint64_t id,
                           Cairn__Payment *payment);
//  LedgerPending: one page (limit 0 for the default) of the channel's
//  uncleared payments after payment `after_payment_id` (NULL, 0: from the
//  oldest); the bytes are referenced.
void ca_request_ledger_pending(Cairn__Request *request, Cairn__LedgerPending *pending, uint64_t id,
                               const char *peer_id, uint32_t limit, const uint8_t *after_payment_id,
                               size_t after_size);
void ca_request_ledger_clear(Cairn__Request *request, Cairn__LedgerClear *clear, uint64_t id,
                             ProtobufCBinaryData *payment_ids, size_t count);

#endif

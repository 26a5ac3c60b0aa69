/*  =========================================================================
    channels - channels and membership of the message-store family

    Pool "channels" (requests: schemas/channels.proto) serves every
    request of that file but the two that cost an Argon2id hash
    (ChannelCreate, ChannelVerify), which the separate bounded pool in
    channel_auth.c serves; the helpers below are what the two pools share.
    ========================================================================= */

#ifndef CHANNELS_H_INCLUDED
#define CHANNELS_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

//  The columns of a Channel answer, in the order channels_from_row reads
//  them, for a SELECT or a RETURNING clause on the `channels` table. Never
//  the password hash: only whether there is one. Not "password_hash IS NOT
//  NULL": SQLite 3.40.1 answers 1 for it in a RETURNING clause on a
//  WITHOUT ROWID table even when the column is NULL (IS NULL is wrong the
//  same way there); typeof() is right everywhere.
#define CHANNELS_COLUMNS                                                                           \
    "name, created_at, last_activity, encrypted, typeof(password_hash) <> 'null', salt, "          \
    "(SELECT count(*) FROM messages WHERE messages.channel = channels.name), "                     \
    "signed_messages = 0"

//  The store's description: the shared messages_schema and its request table.
extern const ca_store_def_t channels_store_def;

//  Checks a channel name from request field `field` (e.g.
//  "ChannelGet.name"); on failure answers INVALID with the rule and returns
//  false.
bool channels_check_name(ca_reply_t *reply, const char *field, const char *name);

//  A Channel answer (in reply memory) from a row of CHANNELS_COLUMNS that
//  the writer returned.
Cairn__Channel *channels_from_row(ca_reply_t *reply, const Cairn__Internal__Row *row);

void channels_test(bool verbose);

//  ---- fixtures: one request each, for the channels and channel_auth
//  self-tests and tests/e2e_channels.c. Each sends through `caller` (a
//  testbed or a node), checks the answer with channels_fixture_check and
//  returns it, the caller's to free.

//  Every channel answer: no password hash in any byte of it ("$argon2"),
//  and an error message without a body when not OK. Aborts otherwise.
void channels_fixture_check(const Cairn__Response *response);
Cairn__Response *channels_fixture_call(ca_caller_t *caller, Cairn__Request *request);
Cairn__Response *channels_fixture_create(ca_caller_t *caller, const char *name, bool encrypted,
                                         const char *password);
Cairn__Response *channels_fixture_verify(ca_caller_t *caller, const char *name,
                                         const char *password);
Cairn__Response *channels_fixture_get(ca_caller_t *caller, const char *name);
Cairn__Response *channels_fixture_list(ca_caller_t *caller);
Cairn__Response *channels_fixture_touch(ca_caller_t *caller, const char *name, double timestamp);
Cairn__Response *channels_fixture_delete(ca_caller_t *caller, const char *name);
Cairn__Response *channels_fixture_join(ca_caller_t *caller, const char *channel,
                                       const char *peer_id);
Cairn__Response *channels_fixture_leave(ca_caller_t *caller, const char *channel,
                                        const char *peer_id);
Cairn__Response *channels_fixture_members(ca_caller_t *caller, const char *channel,
                                          const char *peer_id);
//  One page of ChannelList / MemberList (limit 0: the node's default;
//  after NULL: from the first).
Cairn__Response *channels_fixture_list_page(ca_caller_t *caller, uint32_t limit,
                                            const char *after_name);
Cairn__Response *channels_fixture_members_page(ca_caller_t *caller, const char *channel,
                                               const char *peer_id, uint32_t limit,
                                               const char *after);

#endif

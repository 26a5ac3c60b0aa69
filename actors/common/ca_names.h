/*  =========================================================================
    ca_names - the names of the message-store family: channels, peers, ids

    Channel names, peer ids and message ids arrive from clients and from
    other nodes, and several store pools take them (messages, channels and
    membership, peers, gossip). One set of rules, checked here, keeps those
    pools from drifting apart:

        channel name   2..64 bytes: '#', then 1..63 of [A-Za-z0-9._-]
                       ("#general", "#dev.c-2"; not "#", "general", "#a b")
        peer id        1..128 bytes of [A-Za-z0-9._:-]
        uuid           36 characters, 8-4-4-4-12 hex digits, either case
                       ("123e4567-e89b-12d3-a456-426614174000")

    Each check returns NULL when the input is acceptable, or a static
    message saying what is wrong (callers add which field it was). None of
    these names ever reaches the filesystem.
    ========================================================================= */

#ifndef CA_NAMES_H_INCLUDED
#define CA_NAMES_H_INCLUDED

#include <stdbool.h>

#define CA_CHANNEL_NAME_MAX 64  //  bytes, the '#' included
#define CA_PEER_ID_MAX      128 //  bytes
#define CA_UUID_TEXT_LENGTH 36  //  characters of 8-4-4-4-12 hex

//  A channel name: '#' then 1..63 bytes of [A-Za-z0-9._-].
const char *ca_validate_channel_name(const char *name);

//  A peer id: 1..128 bytes of [A-Za-z0-9._:-].
const char *ca_validate_peer_id(const char *id);

//  A UUID as text: 8-4-4-4-12 hex digits, either case, any version.
const char *ca_validate_uuid(const char *id);

void ca_names_test(bool verbose);

#endif

/*  =========================================================================
    ca_names - the names of the message-store family: channels, peers, ids
    ========================================================================= */

#include "ca_names.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool s_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool s_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

const char *ca_validate_channel_name(const char *name) {
    if (!name || !*name)
        return "channel name is missing";
    size_t length = strnlen(name, CA_CHANNEL_NAME_MAX + 1);
    if (length > CA_CHANNEL_NAME_MAX)
        return "channel name is longer than 64 bytes";
    if (name[0] != '#')
        return "channel name must start with '#'";
    if (length == 1)
        return "channel name needs at least one character after '#'";
    for (size_t i = 1; i < length; i++)
        if (!s_alnum(name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
            return "channel name has a character outside [A-Za-z0-9._-] after its '#'";
    return NULL;
}

const char *ca_validate_peer_id(const char *id) {
    if (!id || !*id)
        return "peer id is missing";
    size_t length = strnlen(id, CA_PEER_ID_MAX + 1);
    if (length > CA_PEER_ID_MAX)
        return "peer id is longer than 128 bytes";
    for (size_t i = 0; i < length; i++)
        if (!s_alnum(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != ':' && id[i] != '-')
            return "peer id has a character outside [A-Za-z0-9._:-]";
    return NULL;
}

const char *ca_validate_uuid(const char *id) {
    if (!id || !*id)
        return "id is missing";
    if (strnlen(id, CA_UUID_TEXT_LENGTH + 1) != CA_UUID_TEXT_LENGTH)
        return "id is not a UUID: it must be 36 characters, 8-4-4-4-12 hex digits";
    for (size_t i = 0; i < CA_UUID_TEXT_LENGTH; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? id[i] != '-' : !s_hex(id[i]))
            return "id is not a UUID: it must be 8-4-4-4-12 hex digits separated by '-'";
    }
    return NULL;
}

//  ---- self-test ---------------------------------------------------------------

void ca_names_test(bool verbose) {
    if (verbose)
        printf(" * ca_names: ");
    //  Channel names.
    assert(ca_validate_channel_name("#general") == NULL);
    assert(ca_validate_channel_name("#a") == NULL);
    assert(ca_validate_channel_name("#Dev.c_2-x") == NULL);
    assert(ca_validate_channel_name("#..") == NULL); //  never a path: a name
    const char *bad_channels[] = {NULL,  "",      "#",    "general", "../x", "#a b",  "#a/b",
                                  "##a", "#a\tb", "#é",   "# ",      "#a:b", "a#b",   "#a\\b",
                                  "#a#", "#a*",   "#a\n", "#a;b",    "#a'b", "#a%2f", "#a,b"};
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++)
        assert(ca_validate_channel_name(bad_channels[i]));
    char name[CA_CHANNEL_NAME_MAX + 2];
    memset(name, 'c', sizeof name);
    name[0] = '#';
    name[CA_CHANNEL_NAME_MAX] = 0; //  exactly 64 bytes
    assert(ca_validate_channel_name(name) == NULL);
    name[CA_CHANNEL_NAME_MAX] = 'c';
    name[CA_CHANNEL_NAME_MAX + 1] = 0; //  65 bytes
    assert(strstr(ca_validate_channel_name(name), "64"));

    //  Peer ids.
    assert(ca_validate_peer_id("alice") == NULL);
    assert(ca_validate_peer_id("node-1.example:7402_x") == NULL);
    const char *bad_peers[] = {NULL, "", "a b", "a/b", "../x", "a\\b", "é", "a\nb", "a#b", "a@b"};
    for (size_t i = 0; i < sizeof bad_peers / sizeof bad_peers[0]; i++)
        assert(ca_validate_peer_id(bad_peers[i]));
    char peer[CA_PEER_ID_MAX + 2];
    memset(peer, 'p', sizeof peer);
    peer[CA_PEER_ID_MAX] = 0;
    assert(ca_validate_peer_id(peer) == NULL);
    peer[CA_PEER_ID_MAX] = 'p';
    peer[CA_PEER_ID_MAX + 1] = 0;
    assert(strstr(ca_validate_peer_id(peer), "128"));

    //  UUIDs, either case, any version digit.
    assert(ca_validate_uuid("123e4567-e89b-12d3-a456-426614174000") == NULL);
    assert(ca_validate_uuid("123E4567-E89B-12D3-A456-426614174000") == NULL);
    assert(ca_validate_uuid("00000000-0000-0000-0000-000000000000") == NULL);
    const char *bad_uuids[] = {NULL,
                               "",
                               "123e4567e89b12d3a456426614174000",
                               "123e4567-e89b-12d3-a456-42661417400",
                               "123e4567-e89b-12d3-a456-4266141740000",
                               "123e4567-e89b-12d3-a456_426614174000",
                               "123e4567-e89b-12d3-a456-42661417400g",
                               "{23e4567-e89b-12d3-a456-426614174000",
                               "123e4567--89b-12d3-a456-426614174000",
                               "../../../../../../../../../../etc/pa",
                               "123e4567-e89b-12d3-a456-426614174000 "};
    for (size_t i = 0; i < sizeof bad_uuids / sizeof bad_uuids[0]; i++)
        assert(ca_validate_uuid(bad_uuids[i]));
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ca_validate - checks on outside input shared by every store

    Keys and hashes come from clients and peers; some later reach the
    filesystem (content blobs, filesystem kv). Every store validates them with
    these functions, so one set of rules (and one set of tests) stops path
    tricks everywhere. Each check returns NULL when the input is acceptable,
    or a static message saying what is wrong.
    ========================================================================= */

#ifndef CA_VALIDATE_H_INCLUDED
#define CA_VALIDATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A hierarchical key: 1..max_length bytes of [A-Za-z0-9._:/-], segments
//  separated by '/', no empty, "." or ".." segment, no leading '/'.
const char *ca_validate_key(const char *key, size_t max_length);

//  A SHA-256 hash on the wire: exactly 32 bytes.
const char *ca_validate_hash(const uint8_t *data, size_t size);

//  Lower-case hex of a 32-byte hash into `hex` (65 bytes with the NUL).
void ca_hash_to_hex(const uint8_t hash[32], char hex[65]);

//  The value of hex digit `c` (either case), or -1 for any other character.
int ca_hex_value(char c);

//  Parses 64 hex digits (either case) into `hash`; false on anything else.
bool ca_hash_from_hex(const char *hex, uint8_t hash[32]);

void ca_validate_test(bool verbose);

#endif

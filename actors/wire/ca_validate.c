/*  =========================================================================
    ca_validate - checks on outside input shared by every store
    ========================================================================= */

#include "ca_validate.h"
#include "ca_limits.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool s_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':' || c == '/';
}

const char *ca_validate_key(const char *key, size_t max_length) {
    if (!key || !*key)
        return "key is missing or empty";
    size_t length = strnlen(key, max_length + 1);
    if (length > max_length)
        return "key is too long";
    for (size_t i = 0; i < length; i++)
        if (!s_key_char(key[i]))
            return "key has a character outside [A-Za-z0-9._:/-]";
    if (key[0] == '/')
        return "key must not start with '/'";
    //  Walk the '/'-separated segments.
    const char *segment = key;
    while (true) {
        const char *end = strchr(segment, '/');
        size_t seg_length = end ? (size_t)(end - segment) : strlen(segment);
        if (seg_length == 0)
            return "key has an empty segment ('//' or a trailing '/')";
        if ((seg_length == 1 && segment[0] == '.') ||
            (seg_length == 2 && segment[0] == '.' && segment[1] == '.'))
            return "key has a '.' or '..' segment";
        if (!end)
            break;
        segment = end + 1;
    }
    return NULL;
}

const char *ca_validate_hash(const uint8_t *data, size_t size) {
    if (!data || size == 0)
        return "hash is missing";
    if (size != CA_HASH_BYTES)
        return "hash must be exactly 32 bytes (SHA-256)";
    return NULL;
}

void ca_hash_to_hex(const uint8_t hash[32], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 15];
    }
    hex[64] = 0;
}

int ca_hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ca_hash_from_hex(const char *hex, uint8_t hash[32]) {
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int high = ca_hex_value(hex[2 * i]), low = ca_hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        hash[i] = (uint8_t)(high << 4 | low);
    }
    return true;
}

void ca_validate_test(bool verbose) {
    if (verbose)
        printf(" * ca_validate: ");
    assert(ca_validate_key("node.name", 256) == NULL);
    assert(ca_validate_key("a/b/c-d_e:f", 256) == NULL);
    assert(ca_validate_key("..hidden", 256) == NULL); //  a name, not a segment
    assert(ca_validate_key("", 256));
    assert(ca_validate_key(NULL, 256));
    assert(ca_validate_key("../etc/passwd", 256));
    assert(ca_validate_key("a/../b", 256));
    assert(ca_validate_key("a/./b", 256));
    assert(ca_validate_key("/abs", 256));
    assert(ca_validate_key("a//b", 256));
    assert(ca_validate_key("a/", 256));
    assert(ca_validate_key("a\\b", 256));
    assert(ca_validate_key("a b", 256));
    assert(ca_validate_key("a\nb", 256));
    assert(ca_validate_key("abcd", 3));
    assert(ca_validate_key("abc", 3) == NULL);

    uint8_t hash[32], back[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(i * 37);
    assert(ca_validate_hash(hash, 32) == NULL);
    assert(ca_validate_hash(hash, 31));
    assert(ca_validate_hash(hash, 33));
    assert(ca_validate_hash(NULL, 0));
    char hex[65];
    ca_hash_to_hex(hash, hex);
    assert(strlen(hex) == 64);
    assert(ca_hash_from_hex(hex, back) && memcmp(hash, back, 32) == 0);
    hex[10] = 'g';
    assert(!ca_hash_from_hex(hex, back));
    assert(!ca_hash_from_hex("abcd", back));
    assert(
        !ca_hash_from_hex("../../../../../../../../../../../../../../../../../etc/passwd", back));
    if (verbose)
        printf("OK\n");
}

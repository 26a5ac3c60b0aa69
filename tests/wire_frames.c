/*  =========================================================================
    wire_frames - the wire has not moved: frames recorded by an older build
    decode with today's schemas and encode back to the same bytes

        wire-frames FILE

    FILE is tests/data/wire_frames.txt: one frame a line, "direction kind
    hex [canonical-hex]" (see its header). For each frame this checks that it decodes as a
    Request or Response, that its body is the recorded kind (by protobuf
    field name, so a renumbered or renamed member fails), and that packing
    the decoded message gives the recorded bytes (so no field changed its
    number or type). A frame the node lays out by hand (ca_reply_frame) may
    differ from protobuf-c's own encoding in field order; for those the
    line carries a second hex string, protobuf-c's encoding of the same
    message when it was recorded, and packing must give that. Schema changes that keep the wire
   pass; any that moves it fails here before a client notices.
    ========================================================================= */

#include "ca_wire_dump.h" //  ca_wire_body_name
#include "ca_validate.h"  //  ca_hex_value
#include "cairn.pb-c.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (64 * 1024)

//  Decodes lower-case hex into `bytes` (room for strlen(hex) / 2); -1 on bad text.
static long s_unhex(const char *hex, uint8_t *bytes) {
    size_t length = strlen(hex);
    if (length % 2)
        return -1;
    for (size_t at = 0; at < length; at += 2) {
        int high = ca_hex_value(hex[at]), low = ca_hex_value(hex[at + 1]);
        if (high < 0 || low < 0)
            return -1;
        bytes[at / 2] = (uint8_t)(high * 16 + low);
    }
    return (long)(length / 2);
}

//  Checks one frame; prints what is wrong and returns false.
static bool s_check(int line_number, const char *direction, const char *kind, const uint8_t *bytes,
                    size_t size, const uint8_t *canonical, size_t canonical_size) {
    bool is_request = strcmp(direction, "request") == 0;
    ProtobufCMessage *message =
        is_request ? (ProtobufCMessage *)cairn__request__unpack(NULL, size, bytes)
                   : (ProtobufCMessage *)cairn__response__unpack(NULL, size, bytes);
    if (!message) {
        fprintf(stderr, "line %d: the %s frame of %s no longer decodes\n", line_number, direction,
                kind);
        return false;
    }
    uint32_t body_case = is_request ? ((Cairn__Request *)message)->body_case
                                    : ((Cairn__Response *)message)->body_case;
    const char *decoded_kind = ca_wire_body_name(message->descriptor, body_case);
    bool ok = strcmp(decoded_kind, kind) == 0;
    if (!ok)
        fprintf(stderr, "line %d: a %s of %s now decodes as %s\n", line_number, direction, kind,
                decoded_kind);
    size_t packed_size = protobuf_c_message_get_packed_size(message);
    uint8_t *packed = malloc(packed_size ? packed_size : 1);
    protobuf_c_message_pack(message, packed);
    if (packed_size != canonical_size || memcmp(packed, canonical, canonical_size) != 0) {
        fprintf(stderr,
                "line %d: a %s of %s encodes to other bytes (%zu, recorded %zu): ", line_number,
                direction, kind, packed_size, canonical_size);
        for (size_t at = 0; at < packed_size; at++)
            fprintf(stderr, "%02x", packed[at]);
        fprintf(stderr, "\n");
        ok = false;
    }
    free(packed);
    protobuf_c_message_free_unpacked(message, NULL);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: wire-frames FILE\n");
        return 2;
    }
    FILE *file = fopen(argv[1], "r");
    if (!file) {
        fprintf(stderr, "wire-frames: cannot open %s\n", argv[1]);
        return 2;
    }
    static char line[4 * LINE_MAX_BYTES + 128];
    static uint8_t bytes[LINE_MAX_BYTES], canonical[LINE_MAX_BYTES];
    int line_number = 0, frames = 0, failures = 0;
    while (fgets(line, sizeof line, file)) {
        line_number++;
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#' || line[0] == 0)
            continue;
        char direction[16], kind[64];
        int consumed = 0;
        long size = -1, canonical_size = -1;
        if (sscanf(line, "%15s %63s %n", direction, kind, &consumed) == 2) {
            char *hex = line + consumed;
            char *second = strchr(hex, ' ');
            if (second)
                *second++ = 0;
            if (strlen(hex) <= 2 * LINE_MAX_BYTES &&
                (!second || strlen(second) <= 2 * LINE_MAX_BYTES)) {
                size = s_unhex(hex, bytes);
                canonical_size = second ? s_unhex(second, canonical) : size;
                if (!second && size > 0)
                    memcpy(canonical, bytes, (size_t)size);
            }
        }
        if (size < 0 || canonical_size < 0 ||
            (strcmp(direction, "request") && strcmp(direction, "response"))) {
            fprintf(stderr, "line %d: not 'request|response KIND HEX'\n", line_number);
            failures++;
            continue;
        }
        frames++;
        if (!s_check(line_number, direction, kind, bytes, (size_t)size, canonical,
                     (size_t)canonical_size))
            failures++;
    }
    fclose(file);
    printf("wire-frames: %d frames, %d failed\n", frames, failures);
    return failures == 0 && frames > 0 ? 0 : 1;
}

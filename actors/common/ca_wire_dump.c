/*  =========================================================================
    ca_wire_dump - copies of the frames tests send and receive, on request
    (see ca_wire_dump.h for what and why)
    ========================================================================= */

#include "ca_wire_dump.h"
#include "ca_env.h"
#include "ca_log.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

//  FNV-1a: only spreads frames over the slots, needs no strength.
static uint64_t s_fnv1a(const uint8_t *data, size_t size) {
    uint64_t hash = 14695981039346656037ULL;
    for (size_t at = 0; at < size; at++) {
        hash ^= data[at];
        hash *= 1099511628211ULL;
    }
    return hash;
}

const char *ca_wire_body_name(const ProtobufCMessageDescriptor *descriptor, uint32_t body_case) {
    if (body_case == 0)
        return "none";
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field(descriptor, body_case);
    return field ? field->name : "unknown";
}

//  The body kind's name of a frame, by decoding it.
static const char *s_frame_kind(bool is_request, const uint8_t *data, size_t size) {
    const char *name = "undecodable";
    if (is_request) {
        Cairn__Request *request = cairn__request__unpack(NULL, size, data);
        if (request)
            name = ca_wire_body_name(&cairn__request__descriptor, request->body_case);
        cairn__request__free_unpacked(request, NULL);
    } else {
        Cairn__Response *response = cairn__response__unpack(NULL, size, data);
        if (response)
            name = ca_wire_body_name(&cairn__response__descriptor, response->body_case);
        cairn__response__free_unpacked(response, NULL);
    }
    return name;
}

static bool s_write_all(int fd, const uint8_t *data, size_t size) {
    while (size > 0) {
        ssize_t wrote = write(fd, data, size);
        if (wrote < 0)
            return false;
        data += wrote;
        size -= (size_t)wrote;
    }
    return true;
}

void ca_wire_dump(bool is_request, const void *data, size_t size) {
    const char *dir = getenv(CA_ENV_WIRE_DUMP);
    if (!dir || !*dir || size > CA_WIRE_DUMP_MAX_FRAME)
        return;
    const uint8_t *bytes = (const uint8_t *)data;
    const char *direction = is_request ? "request" : "response";
    const char *kind = s_frame_kind(is_request, bytes, size);
    unsigned slot = (unsigned)(s_fnv1a(bytes, size) % CA_WIRE_DUMP_SLOTS);
    char *path = zsys_sprintf("%s/%s-%s-%02u", dir, direction, kind, slot);
    char *temp = zsys_sprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && s_write_all(fd, bytes, size);
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(temp, path) != 0)
        ok = false;
    if (!ok) {
        static _Thread_local bool s_warned; //  a warning, not a count
        if (!s_warned)
            ca_log_warning("CAIRN_WIRE_DUMP: cannot write %s: %s", temp, strerror(errno));
        s_warned = true;
        unlink(temp);
    }
    zstr_free(&temp);
    zstr_free(&path);
}

/*  =========================================================================
    ca_envelope - reading and writing the wire envelope (Request/Response)
    ========================================================================= */

#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH = 2, WIRE_FIXED32 = 5 };

//  Reads a base-128 varint at *pos; false when truncated or longer than 10 bytes.
static bool s_read_varint(const uint8_t *data, size_t size, size_t *pos, uint64_t *value) {
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 70 && *pos < size; shift += 7) {
        uint8_t byte = data[(*pos)++];
        result |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return true;
        }
    }
    return false;
}

//  Skips the value of a field of the given wire type; false when it overruns.
static bool s_skip_value(const uint8_t *data, size_t size, size_t *pos, unsigned wire_type) {
    uint64_t length;
    switch (wire_type) {
        case WIRE_VARINT:
            return s_read_varint(data, size, pos, &length);
        case WIRE_FIXED64:
            length = 8;
            break;
        case WIRE_FIXED32:
            length = 4;
            break;
        case WIRE_LENGTH:
            if (!s_read_varint(data, size, pos, &length))
                return false;
            break;
        default:
            return false;
    }
    if (length > size - *pos)
        return false;
    *pos += length;
    return true;
}

bool ca_envelope_peek_request(const uint8_t *data, size_t size, ca_envelope_t *env,
                              const char **error) {
    env->id = 0;
    env->body_field = 0;
    env->body = NULL;
    env->body_size = 0;
    size_t pos = 0;
    while (pos < size) {
        uint64_t key;
        if (!s_read_varint(data, size, &pos, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) {
            *error = "frame is not a protobuf cairn.Request (bad field key)";
            return false;
        }
        uint32_t field = (uint32_t)(key >> 3);
        unsigned wire_type = (unsigned)(key & 7);
        if (field == 1) {
            if (wire_type != WIRE_VARINT || !s_read_varint(data, size, &pos, &env->id)) {
                *error = "Request.id must be a varint (uint64)";
                return false;
            }
            continue;
        }
        size_t value_at = pos;
        if (!s_skip_value(data, size, &pos, wire_type)) {
            *error = "frame is not a protobuf cairn.Request (truncated or bad wire type)";
            return false;
        }
        //  Every body member is a message, hence length-delimited; other
        //  unknown fields are skipped as proto3 requires.
        if (field >= 10 && wire_type == WIRE_LENGTH) {
            env->body_field = field;
            uint64_t length = 0;
            s_read_varint(data, size, &value_at, &length); //  checked by the skip
            env->body = data + value_at;
            env->body_size = (size_t)length;
        }
    }
    *error = NULL;
    return true;
}

bool ca_envelope_route_key(const uint8_t *body, size_t size, uint32_t field, uint64_t *key) {
    size_t pos = 0;
    bool found = false;
    while (body && pos < size) {
        uint64_t field_key;
        if (!s_read_varint(body, size, &pos, &field_key))
            return false;
        unsigned wire_type = (unsigned)(field_key & 7);
        size_t value_at = pos;
        if (!s_skip_value(body, size, &pos, wire_type))
            return false;
        if ((field_key >> 3) != field)
            continue;
        //  The last occurrence wins, as in a full decode.
        uint64_t value = 0;
        if (wire_type == WIRE_VARINT)
            found = s_read_varint(body, size, &value_at, &value);
        else if (wire_type == WIRE_LENGTH) {
            uint64_t length = 0;
            s_read_varint(body, size, &value_at, &length);
            for (size_t i = 0; i < 8 && i < length; i++)
                value |= (uint64_t)body[value_at + i] << (8 * i);
            found = length > 0;
        } else
            found = false;
        *key = value;
    }
    return found;
}

//  True when data[0..size) is UTF-8 with no NUL, no overlong form, no
//  surrogate and nothing above U+10FFFF.
static bool s_clean_utf8(const uint8_t *data, size_t size) {
    size_t i = 0;
    while (i < size) {
        uint8_t byte = data[i];
        if (byte == 0)
            return false;
        if (byte < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t code;
        if ((byte & 0xe0) == 0xc0) {
            extra = 1;
            code = byte & 0x1f;
        } else if ((byte & 0xf0) == 0xe0) {
            extra = 2;
            code = byte & 0x0f;
        } else if ((byte & 0xf8) == 0xf0) {
            extra = 3;
            code = byte & 0x07;
        } else
            return false;
        if (extra > size - i - 1)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((data[i + k] & 0xc0) != 0x80)
                return false;
            code = (code << 6) | (data[i + k] & 0x3f);
        }
        static const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
        if (code < smallest[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

//  The walk of ca_envelope_check_request: unknown fields, strings, and an
//  upper bound of what protobuf-c will allocate, added up in *cost.
static bool s_check_message(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                            size_t size, unsigned depth, size_t *cost, char *problem,
                            size_t problem_size) {
    if (depth > CA_DECODE_DEPTH_MAX) {
        snprintf(problem, problem_size,
                 "the request nests messages more than %d deep; fix the client",
                 CA_DECODE_DEPTH_MAX);
        return false;
    }
    *cost += descriptor->sizeof_message;
    size_t pos = 0;
    while (pos < size) {
        uint64_t key, length;
        if (!s_read_varint(data, size, &pos, &key))
            return true; //  the decoder reports malformed input
        unsigned wire_type = (unsigned)(key & 7);
        const ProtobufCFieldDescriptor *field =
            key >> 3 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(descriptor, (unsigned)(key >> 3))
                : NULL;
        if (!field) {
            snprintf(problem, problem_size,
                     "unknown field %llu in %s: upgrade the node or fix the client",
                     (unsigned long long)(key >> 3), descriptor->name);
            return false;
        }
        //  protobuf-c keeps a record of every field occurrence while it
        //  parses a message, and a pointer or value per repeated element.
        *cost += CA_DECODE_FIELD_COST;
        if (wire_type != WIRE_LENGTH) {
            if (!s_skip_value(data, size, &pos, wire_type))
                return true;
            continue;
        }
        if (!s_read_varint(data, size, &pos, &length) || length > size - pos)
            return true;
        const uint8_t *value = data + pos;
        pos += length;
        if (field->type == PROTOBUF_C_TYPE_STRING && !s_clean_utf8(value, length)) {
            snprintf(problem, problem_size, "%s",
                     "a string field holds a NUL byte or invalid UTF-8; send text, or use the "
                     "bytes fields for binary data");
            return false;
        }
        if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (!s_check_message((const ProtobufCMessageDescriptor *)field->descriptor, value,
                                 length, depth + 1, cost, problem, problem_size))
                return false;
        } else if (field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_BYTES)
            *cost += length + 1;
        else
            *cost += 8 * length; //  a packed list: at most one 8-byte value per byte
    }
    return true;
}

bool ca_envelope_check_request(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                               size_t size, char *problem, size_t problem_size) {
    size_t cost = 0;
    if (!s_check_message(descriptor, data, size, 0, &cost, problem, problem_size))
        return false;
    if (cost / CA_DECODE_COST_FACTOR > size + CA_DECODE_COST_SLACK / CA_DECODE_COST_FACTOR) {
        snprintf(problem, problem_size,
                 "the request would decode to %zu bytes, more than %d times its %zu bytes "
                 "plus %d KiB (a field repeated many times?); fix the client",
                 cost, CA_DECODE_COST_FACTOR, size, CA_DECODE_COST_SLACK / 1024);
        return false;
    }
    return true;
}

ca_status_t ca_envelope_peek_status(const uint8_t *data, size_t size) {
    size_t pos = 0;
    ca_status_t status = CA_OK;
    while (pos < size) {
        uint64_t key, value;
        if (!s_read_varint(data, size, &pos, &key))
            return CA_INTERNAL;
        if (key == ((2 << 3) | WIRE_VARINT)) {
            if (!s_read_varint(data, size, &pos, &value))
                return CA_INTERNAL;
            status = (ca_status_t)value;
        } else if (!s_skip_value(data, size, &pos, (unsigned)(key & 7)))
            return CA_INTERNAL;
    }
    return status;
}

zframe_t *ca_message_frame_try(const ProtobufCMessage *message) {
    zframe_t *frame = zframe_new(NULL, protobuf_c_message_get_packed_size(message));
    if (frame)
        protobuf_c_message_pack(message, zframe_data(frame));
    return frame;
}

zframe_t *ca_message_frame(const ProtobufCMessage *message) {
    zframe_t *frame = ca_message_frame_try(message);
    if (!frame) {
        ca_log_error("out of memory: cannot allocate a frame of %zu bytes for a %s; stopping",
                     protobuf_c_message_get_packed_size(message), message->descriptor->name);
        abort();
    }
    return frame;
}

size_t ca_encode_varint(uint8_t *buffer, size_t size, uint64_t value) {
    while (value >= 0x80) {
        buffer[size++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    buffer[size++] = (uint8_t)value;
    return size;
}

size_t ca_encode_key(uint8_t *buffer, size_t size, uint32_t field, unsigned wire_type) {
    return ca_encode_varint(buffer, size, (uint64_t)field << 3 | wire_type);
}

size_t ca_encode_varint_field(uint8_t *buffer, size_t size, uint32_t field, uint64_t value) {
    size = ca_encode_key(buffer, size, field, WIRE_VARINT);
    return ca_encode_varint(buffer, size, value);
}

size_t ca_encode_bytes_field(uint8_t *buffer, size_t size, uint32_t field, const void *data,
                             size_t length) {
    size = ca_encode_key(buffer, size, field, WIRE_LENGTH);
    size = ca_encode_varint(buffer, size, length);
    if (length)
        memcpy(buffer + size, data, length);
    return size + length;
}

zframe_t *ca_response_with_bytes(uint64_t id, uint32_t body_field, const uint8_t *prefix,
                                 size_t prefix_size, uint32_t bytes_field, size_t length,
                                 const uint8_t *suffix, size_t suffix_size, uint8_t **data) {
    uint8_t bytes_head[16];
    size_t bytes_head_size = ca_encode_key(bytes_head, 0, bytes_field, WIRE_LENGTH);
    bytes_head_size = ca_encode_varint(bytes_head, bytes_head_size, length);
    size_t body_size = prefix_size + bytes_head_size + length + suffix_size;
    uint8_t head[32];
    size_t head_size = ca_encode_varint_field(head, 0, 1, id);
    head_size = ca_encode_key(head, head_size, body_field, WIRE_LENGTH);
    head_size = ca_encode_varint(head, head_size, body_size);
    zframe_t *frame = zframe_new(NULL, head_size + body_size);
    if (!frame)
        return NULL;
    uint8_t *at = zframe_data(frame);
    memcpy(at, head, head_size);
    at += head_size;
    if (prefix_size)
        memcpy(at, prefix, prefix_size);
    at += prefix_size;
    memcpy(at, bytes_head, bytes_head_size);
    at += bytes_head_size;
    *data = at;
    if (suffix_size)
        memcpy(at + length, suffix, suffix_size);
    return frame;
}

zframe_t *ca_response_frame(const Cairn__Response *response) {
    return ca_message_frame(&response->base);
}

zframe_t *ca_error_frame(uint64_t id, ca_status_t status, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    Cairn__Response response = CAIRN__RESPONSE__INIT;
    response.id = id;
    response.status = (Cairn__Status)status;
    response.error = message;
    return ca_response_frame(&response);
}

//  ---- self-test -------------------------------------------------------------

static zframe_t *s_pack_request(const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__request__pack(request, zframe_data(frame));
    return frame;
}

void ca_envelope_test(bool verbose) {
    if (verbose)
        printf(" * ca_envelope: ");
    ca_envelope_t env;
    const char *error;

    //  A valid request: id and body are read back.
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__ConfigGet get = CAIRN__CONFIG_GET__INIT;
    get.key = "a.b";
    request.id = 0xfedcba9876543210ULL;
    request.body_case = CAIRN__REQUEST__BODY_CONFIG_GET;
    request.config_get = &get;
    zframe_t *frame = s_pack_request(&request);
    assert(ca_envelope_peek_request(zframe_data(frame), zframe_size(frame), &env, &error));
    assert(env.id == 0xfedcba9876543210ULL);
    assert(env.body_field == CAIRN__REQUEST__BODY_CONFIG_GET);

    //  The body is located inside the frame.
    Cairn__ConfigGet *decoded = cairn__config_get__unpack(NULL, env.body_size, env.body);
    assert(decoded && streq(decoded->key, "a.b"));
    cairn__config_get__free_unpacked(decoded, NULL);

    //  Affinity keys: a varint as is, bytes by their first 8 bytes, absent
    //  or empty fields give none.
    uint64_t key = 0;
    Cairn__ContentChunk chunk = CAIRN__CONTENT_CHUNK__INIT;
    chunk.stream_id = 0x1234567890ULL;
    chunk.offset = 77;
    uint8_t chunk_data[3] = {1, 2, 3};
    chunk.data.data = chunk_data;
    chunk.data.len = sizeof chunk_data;
    uint8_t packed[64];
    size_t packed_size = cairn__content_chunk__pack(&chunk, packed);
    assert(ca_envelope_route_key(packed, packed_size, 1, &key) && key == 0x1234567890ULL);
    assert(ca_envelope_route_key(packed, packed_size, 2, &key) && key == 77);
    assert(ca_envelope_route_key(packed, packed_size, 3, &key) && key == 0x030201);
    assert(!ca_envelope_route_key(packed, packed_size, 4, &key));
    for (size_t cut = 0; cut < packed_size; cut++)
        (void)ca_envelope_route_key(packed, cut, 3, &key);
    assert(!ca_envelope_route_key(NULL, 0, 1, &key));
    uint8_t hash[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)i;
    Cairn__ContentRead read = CAIRN__CONTENT_READ__INIT;
    read.hash.data = hash;
    read.hash.len = sizeof hash;
    packed_size = cairn__content_read__pack(&read, packed);
    assert(ca_envelope_route_key(packed, packed_size, 1, &key) && key == 0x0706050403020100ULL);
    read.hash.len = 0;
    packed_size = cairn__content_read__pack(&read, packed);
    assert(!ca_envelope_route_key(packed, packed_size, 1, &key));

    //  An answer laid out by hand decodes as the packed message would.
    uint8_t prefix[8], suffix[32];
    size_t prefix_size = 0, suffix_size = 0;
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 2, 300);        //  offset
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 3, 1ULL << 40); //  size
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 4, 1);          //  end
    suffix_size = ca_encode_varint_field(suffix, suffix_size, 5, 0);          //  verified
    uint8_t *room = NULL;
    zframe_t *answer =
        ca_response_with_bytes(0x123456789ULL, CAIRN__RESPONSE__BODY_CONTENT_READ, prefix,
                               prefix_size, 1, 200, suffix, suffix_size, &room);
    for (int i = 0; i < 200; i++)
        room[i] = (uint8_t)i;
    Cairn__Response *unpacked =
        cairn__response__unpack(NULL, zframe_size(answer), zframe_data(answer));
    assert(unpacked && unpacked->id == 0x123456789ULL && unpacked->status == CAIRN__STATUS__OK);
    assert(unpacked->body_case == CAIRN__RESPONSE__BODY_CONTENT_READ);
    const Cairn__ContentRange *range = unpacked->content_read;
    assert(range->data.len == 200 && range->data.data[199] == 199);
    assert(range->offset == 300 && range->size == 1ULL << 40 && range->end && !range->verified);
    cairn__response__free_unpacked(unpacked, NULL);
    zframe_destroy(&answer);
    prefix_size = ca_encode_bytes_field(prefix, 0, 1, "abc", 3);
    answer = ca_response_with_bytes(1, CAIRN__RESPONSE__BODY_CONTENT_GET, prefix, prefix_size, 2, 0,
                                    NULL, 0, &room);
    unpacked = cairn__response__unpack(NULL, zframe_size(answer), zframe_data(answer));
    assert(unpacked && unpacked->body_case == CAIRN__RESPONSE__BODY_CONTENT_GET);
    assert(unpacked->content_get->hash.len == 3 && unpacked->content_get->data.len == 0);
    cairn__response__free_unpacked(unpacked, NULL);
    zframe_destroy(&answer);

    //  Every truncation of it is either rejected or read without overrun.
    for (size_t cut = 0; cut < zframe_size(frame); cut++)
        (void)ca_envelope_peek_request(zframe_data(frame), cut, &env, &error);
    zframe_destroy(&frame);

    //  Empty frame: well formed, no id, no body.
    assert(ca_envelope_peek_request((const uint8_t *)"", 0, &env, &error));
    assert(env.id == 0 && env.body_field == 0);

    //  Garbage: a group wire type, a length past the end, an over-long varint.
    const uint8_t group[] = {0x0b};
    assert(!ca_envelope_peek_request(group, sizeof group, &env, &error) && error);
    const uint8_t overrun[] = {0x08, 0x07, 0x52, 0x10, 0x01};
    assert(!ca_envelope_peek_request(overrun, sizeof overrun, &env, &error));
    assert(env.id == 7); //  read before the fault, so the error can echo it
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert(!ca_envelope_peek_request(long_varint, sizeof long_varint, &env, &error));
    const uint8_t id_as_bytes[] = {0x0a, 0x00};
    assert(!ca_envelope_peek_request(id_as_bytes, sizeof id_as_bytes, &env, &error));

    //  Error frames carry id, status and message; the status peek agrees.
    frame = ca_error_frame(42, CA_BUSY, "queue of %s is full", "config");
    assert(ca_envelope_peek_status(zframe_data(frame), zframe_size(frame)) == CA_BUSY);
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert(response && response->id == 42 && response->status == CAIRN__STATUS__BUSY);
    assert(streq(response->error, "queue of config is full"));
    cairn__response__free_unpacked(response, NULL);
    zframe_destroy(&frame);
    assert(ca_envelope_peek_status(group, sizeof group) == CA_INTERNAL);

    //  Strings with a NUL or bad UTF-8 are caught on the wire, also nested.
    const ProtobufCMessageDescriptor *desc = &cairn__request__descriptor;
    char problem[200];
    const uint8_t nul_key[] = {0x08, 0x05, 0xaa, 0x06, 0x07, 0x0a, 0x05, 'a', 'b', 0x00, '.', '.'};
    assert(!ca_envelope_check_request(desc, nul_key, sizeof nul_key, problem, sizeof problem));
    const uint8_t bad_utf8[] = {0xaa, 0x06, 0x04, 0x0a, 0x02, 0xc0, 0xaf}; //  overlong '/'
    assert(!ca_envelope_check_request(desc, bad_utf8, sizeof bad_utf8, problem, sizeof problem));
    const uint8_t surrogate[] = {0xaa, 0x06, 0x05, 0x0a, 0x03, 0xed, 0xa0, 0x80};
    assert(!ca_envelope_check_request(desc, surrogate, sizeof surrogate, problem, sizeof problem));
    const uint8_t good[] = {0xaa, 0x06, 0x07, 0x0a, 0x05, 'k', 0xc3, 0xa9, 0xe2, 0x82};
    assert(!ca_envelope_check_request(desc, good, sizeof good, problem,
                                      sizeof problem)); //  truncated 3-byte form
    const uint8_t fine[] = {0xaa, 0x06, 0x06, 0x0a, 0x04, 'k', 0xc3, 0xa9, 'y'};
    assert(ca_envelope_check_request(desc, fine, sizeof fine, problem, sizeof problem));
    //  Bytes fields may hold anything.
    const uint8_t binary_value[] = {0xaa, 0x06, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 0x00};
    assert(ca_envelope_check_request(desc, binary_value, sizeof binary_value, problem,
                                     sizeof problem));

    //  Unknown fields are refused at any level, naming the field and message.
    const uint8_t unknown_top[] = {0x08, 0x05, 0xf8, 0x07, 0x01}; //  field 127
    assert(
        !ca_envelope_check_request(desc, unknown_top, sizeof unknown_top, problem, sizeof problem));
    assert(strstr(problem, "unknown field 127 in cairn.Request"));
    const uint8_t unknown_nested[] = {0xaa, 0x06, 0x06, 0x0a, 0x01, 'k', 0xc8, 0x3e, 0x01};
    assert(!ca_envelope_check_request(desc, unknown_nested, sizeof unknown_nested, problem,
                                      sizeof problem));
    assert(strstr(problem, "unknown field 1001 in cairn.") && strstr(problem, "upgrade the node"));
    //  A known field repeated many times decodes out of proportion: refused.
    size_t many = 4 * 1024 * 1024;
    uint8_t *repeated = malloc(many);
    assert(repeated);
    for (size_t i = 0; i < many; i += 2) {
        repeated[i] = 0x08; //  Request.id, over and over
        repeated[i + 1] = 0x01;
    }
    assert(!ca_envelope_check_request(desc, repeated, many, problem, sizeof problem));
    assert(strstr(problem, "would decode to"));
    assert(ca_envelope_check_request(desc, repeated, 1000, problem, sizeof problem));
    free(repeated);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ca_envelope - reading and writing the wire envelope (Request/Response)

    The gateway routes a request by its kind without decoding it: it walks
    the top level of the protobuf encoding once, picking out the request id
    (field 1) and the field number of the `body` oneof member. The owning
    store actor then does the full decode on its own thread. This keeps the
    single gateway thread cheap (no allocation, no copy of large bodies) and
    spreads decoding across the store workers, which is how cairn uses every
    core under load.

    The peek checks the top-level structure strictly (known wire types,
    lengths inside the frame, field 1 a varint, body fields length-delimited);
    anything it accepts may still fail the full decode, which the store
    answers as INVALID with the same id.
    ========================================================================= */

#ifndef CA_ENVELOPE_H_INCLUDED
#define CA_ENVELOPE_H_INCLUDED

#include "ca_status.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t id;         //  request id, 0 when absent
    uint32_t body_field; //  field number of the body member, 0 when absent
    const uint8_t *body; //  the body member's encoding (inside the frame)
    size_t body_size;
} ca_envelope_t;

//  Peeks a Request frame. Returns true when the top level is well formed;
//  otherwise false with *error naming the fault (a static string). env->id
//  is filled as far as it could be read, so errors can still echo it.
bool ca_envelope_peek_request(const uint8_t *data, size_t size, ca_envelope_t *env,
                              const char **error);

//  Reads the worker-affinity key of a body (see ca_handler_t.route_field):
//  the value of top-level field `field` of the encoded body message, a
//  varint as is, bytes as their first 8 bytes little-endian. False when the
//  field is absent, empty or malformed (then any worker may serve it; the
//  full decode reports malformation).
bool ca_envelope_route_key(const uint8_t *body, size_t size, uint32_t field, uint64_t *key);

//  Checks a whole encoded message (a Request, with its descriptor) before
//  anything decodes it, so that decoding costs a small constant times the
//  frame's size: every field at every level must be known to `descriptor`
//  (protobuf-c would keep each unknown one, ~56 bytes apiece, however small
//  on the wire); every `string` must be valid UTF-8 without NUL bytes
//  (protobuf-c hands strings to C as NUL-terminated text, so "abc\0../x"
//  would reach validation as "abc"); and the memory the decode would take
//  (an upper bound: messages, values, one record per field occurrence)
//  must stay within CA_DECODE_COST_FACTOR times the size plus
//  CA_DECODE_COST_SLACK. Returns true when clean, else false with the
//  reason for the client in problem[problem_size]. One pass, no
//  allocation; malformed encodings are left to the decoder.
bool ca_envelope_check_request(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                               size_t size, char *problem, size_t problem_size);

//  Status of a packed Response (field 2); CA_INTERNAL when unreadable.
ca_status_t ca_envelope_peek_status(const uint8_t *data, size_t size);

//  Packs any protobuf-c message into a new frame. Caller owns the frame.
//  For the small messages between actors: when even those cannot be
//  allocated the process is out of memory, and it stops with a log line
//  (as CZMQ's zmalloc does). Answers, which can be large, use
//  ca_message_frame_try.
zframe_t *ca_message_frame(const ProtobufCMessage *message);

//  ca_message_frame, or NULL when the frame cannot be allocated.
zframe_t *ca_message_frame_try(const ProtobufCMessage *message);

//  Packs a Response into a new frame. Caller owns the frame.
zframe_t *ca_response_frame(const Cairn__Response *response);

//  Encoding helpers for answers laid out by hand (see ca_response_with_bytes).
//  Each appends to buffer[*size] and returns the new size; the buffer must
//  have room (at most 10 bytes per varint, 5 per key).
size_t ca_encode_varint(uint8_t *buffer, size_t size, uint64_t value);
size_t ca_encode_key(uint8_t *buffer, size_t size, uint32_t field, unsigned wire_type);
size_t ca_encode_varint_field(uint8_t *buffer, size_t size, uint32_t field, uint64_t value);
size_t ca_encode_bytes_field(uint8_t *buffer, size_t size, uint32_t field, const void *data,
                             size_t length);

//  An OK Response whose body (Response field `body_field`) is a message
//  made of `prefix` (its encoded leading fields), then the bytes field
//  `bytes_field` of `length` bytes, then `suffix` (encoded trailing fields),
//  in one frame with the bytes left for the caller: *data points at them.
//  A handler reads a blob from disk straight into the answer this way,
//  instead of into a buffer that packing would copy again. Field order is
//  free in protobuf, so any decoder reads it as the packed message. NULL
//  when the frame cannot be allocated (out of memory).
zframe_t *ca_response_with_bytes(uint64_t id, uint32_t body_field, const uint8_t *prefix,
                                 size_t prefix_size, uint32_t bytes_field, size_t length,
                                 const uint8_t *suffix, size_t suffix_size, uint8_t **data);

//  Packs an error Response (no body) with a printf-style message.
zframe_t *ca_error_frame(uint64_t id, ca_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

void ca_envelope_test(bool verbose);

#endif

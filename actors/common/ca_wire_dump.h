/*  =========================================================================
    ca_wire_dump - copies of the frames tests send and receive, on request

    When the environment names a directory in CAIRN_WIRE_DUMP, every
    request frame a test sends (through ca_testbed or the e2e harness) and
    every response frame it receives is written there as one file:

        DIR/request-<body>-<slot>     DIR/response-<body>-<slot>

    where <body> is the protobuf field name of the frame's body kind
    ("ledger_history"; "none" without a body, "undecodable" for bytes that
    are no Request/Response) and <slot> one of CA_WIRE_DUMP_SLOTS buckets
    chosen by a hash of the bytes. So the dump of a whole test run stays
    bounded (a kind's 100,000 requests fill at most that many files) while
    frames that differ mostly land apart. Files are written under a temp
    name and renamed, so parallel tests never leave a torn frame.

    What it serves: the fuzzer's seed corpus is the request frames the tests
    send (tests/CMakeLists.txt), so every request kind a test exercises is
    seeded without a hand-written list, and tests/data/wire_frames.txt was
    recorded from such a dump.
    ========================================================================= */

#ifndef CA_WIRE_DUMP_H_INCLUDED
#define CA_WIRE_DUMP_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Files per direction and body kind, at most.
#define CA_WIRE_DUMP_SLOTS 16
//  Frames larger than this are not dumped (seeds should be small; a big
//  blob teaches the fuzzer nothing a small one does not).
#define CA_WIRE_DUMP_MAX_FRAME (64 * 1024)

//  The protobuf field name of body kind `body_case` of a Request or
//  Response (`descriptor`): "ledger_history"; "none" for 0, "unknown" for a
//  number the descriptor lacks.
const char *ca_wire_body_name(const ProtobufCMessageDescriptor *descriptor, uint32_t body_case);

//  Writes a copy of a request frame (is_request) or a response frame when
//  CAIRN_WIRE_DUMP is set; otherwise does nothing. Failures to write are
//  logged once and otherwise ignored: a dump never fails a test.
void ca_wire_dump(bool is_request, const void *data, size_t size);

#endif

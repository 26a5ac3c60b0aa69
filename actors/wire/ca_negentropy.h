/*  =========================================================================
    ca_negentropy - range-based set reconciliation, negentropy protocol v1

    Two sides each hold a set of items (a 64-bit timestamp and a 32-byte
    id), sorted by (timestamp, id). They exchange fingerprints of ranges,
    recurse only into ranges whose fingerprints differ, and send id lists
    once a range is small; the initiator ends up knowing which ids it has
    that the other side lacks (have) and which it lacks (need), possibly
    with repeats (ca_neg_ids_sort removes them).

    This is cairn's own implementation of the published wire format
    "negentropy protocol version 1" (hoytech/negentropy, protocol byte
    0x61, as used by NIP-77), written from its specification and checked
    byte for byte against the JavaScript implementation in the nostr-tools
    npm package (tests/js/). docs/ARCHITECTURE.md "Set reconciliation"
    records the version and the details; in short:

      message = 0x61 range*
      range   = bound mode payload
      bound   = varint(timestamp delta + 1, 0 = infinity) varint(len) id[len]
      mode    = varint: 0 Skip (no payload), 1 Fingerprint (16 bytes),
                2 IdList (varint count, count x 32-byte ids)
      varint  = base 128, most significant group first, high bit = more
      fingerprint(range) = SHA-256(sum of ids as 256-bit little-endian
                integers mod 2^256 || varint(count))[0..16)

    Fingerprints come from prefix sums built once when the set is sealed:
    the sum of any range is prefix[hi] - prefix[lo] (mod 2^256), so one
    fingerprint costs one subtraction and one SHA-256 whatever the size of
    the range, and a round costs O(ranges x log n) for the binary searches.

    Hostile input: every length is checked against the bytes left before
    anything is allocated, varints are refused past 64 bits, timestamps
    past 2^64-1, ids longer than 32 bytes, unknown modes; the output of a
    round is bounded by the frame size limit (the rest of the set answered
    by one fingerprint, as the protocol prescribes). The functions keep no
    state between rounds: a round is (set, role, message) -> answer.
    ========================================================================= */

#ifndef CA_NEGENTROPY_H_INCLUDED
#define CA_NEGENTROPY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CA_NEG_PROTOCOL_V1 0x61
#define CA_NEG_ID_BYTES    32
#define CA_NEG_FP_BYTES    16
//  The timestamp of the upper bound "infinity" (encoded as 0).
#define CA_NEG_TS_INFINITY UINT64_MAX
//  The smallest frame size limit the protocol allows (0 = no limit).
#define CA_NEG_FRAME_MIN 4096
//  Bytes the responder keeps free below its limit for the closing range.
#define CA_NEG_FRAME_SLACK 200
//  Ranges the protocol splits a differing range into.
#define CA_NEG_BUCKETS 16
//  An error message fits in this many bytes.
#define CA_NEG_ERR_BYTES 160

typedef struct _ca_neg_set_t ca_neg_set_t;

//  A growable byte buffer (an outgoing message). Zero-initialise; free
//  with ca_neg_buf_free.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    bool failed; //  an allocation failed: the content is incomplete
} ca_neg_buf_t;

//  A growable list of 32-byte ids (have or need). Zero-initialise; free
//  with ca_neg_ids_free.
typedef struct {
    uint8_t (*ids)[CA_NEG_ID_BYTES];
    size_t count;
    size_t capacity;
    bool failed;
} ca_neg_ids_t;

//  One round's role and bounds.
typedef struct {
    bool initiator;          //  collects have/need; ends when nothing is left
    size_t frame_size_limit; //  bound on the answer; 0 = none, else >= CA_NEG_FRAME_MIN
} ca_neg_opts_t;

//  An empty, unsealed set; NULL when out of memory.
ca_neg_set_t *ca_neg_set_new(void);
void ca_neg_set_destroy(ca_neg_set_t **self_p);
//  Adds an item before sealing; -1 when out of memory or sealed.
int ca_neg_set_add(ca_neg_set_t *self, uint64_t timestamp, const uint8_t id[CA_NEG_ID_BYTES]);
//  Sorts, drops exact duplicates and builds the prefix sums. -1 when out
//  of memory, or when a timestamp is CA_NEG_TS_INFINITY (reserved).
int ca_neg_set_seal(ca_neg_set_t *self, char err[CA_NEG_ERR_BYTES]);
size_t ca_neg_set_size(const ca_neg_set_t *self);
//  The item at index (sealed set), for callers listing ids.
void ca_neg_set_item(const ca_neg_set_t *self, size_t index, uint64_t *timestamp,
                     uint8_t id[CA_NEG_ID_BYTES]);
//  Fingerprint of items [lo, hi) from the prefix sums (O(1)).
void ca_neg_set_fingerprint(const ca_neg_set_t *self, size_t lo, size_t hi,
                            uint8_t fp[CA_NEG_FP_BYTES]);
//  The same by adding every id of the range (the bench's baseline).
void ca_neg_set_fingerprint_scan(const ca_neg_set_t *self, size_t lo, size_t hi,
                                 uint8_t fp[CA_NEG_FP_BYTES]);

//  The initiator's first message. 0, or -1 with err (out of memory, bad limit).
int ca_neg_initiate(const ca_neg_set_t *set, const ca_neg_opts_t *opts, ca_neg_buf_t *out,
                    char err[CA_NEG_ERR_BYTES]);
//  One round: reads msg, appends the answer to out (emptied first). The
//  initiator appends ids to have/need (may be NULL for the responder) and
//  gets an empty out when reconciliation is complete. The responder always
//  answers (a message of only the version byte to an unsupported version
//  0x60..0x6f, as the protocol asks). -1 with err on malformed input or
//  out of memory; out is then unusable.
int ca_neg_reconcile(const ca_neg_set_t *set, const ca_neg_opts_t *opts, const uint8_t *msg,
                     size_t msg_size, ca_neg_buf_t *out, ca_neg_ids_t *have, ca_neg_ids_t *need,
                     char err[CA_NEG_ERR_BYTES]);

void ca_neg_buf_free(ca_neg_buf_t *buf);
void ca_neg_ids_free(ca_neg_ids_t *ids);
//  Sorts ids bytewise and drops repeats. The initiator may report an id
//  more than once: when a frame size limit cuts a round short, the rest of
//  the set is answered by one fingerprint that covers ranges already
//  reconciled, which are then visited again (the reference does the same).
void ca_neg_ids_sort(ca_neg_ids_t *ids);

void ca_negentropy_test(bool verbose);

#endif

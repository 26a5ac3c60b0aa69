/*  =========================================================================
    ca_negentropy - range-based set reconciliation, negentropy protocol v1

    The round function follows the protocol's reference state machine: the
    incoming ranges are walked in order, each one's upper bound found by a
    binary search from where the previous range ended; a Fingerprint that
    differs is answered by splitting the range (16 fingerprints, or an id
    list under 32 items), a matching one by Skip (coalesced), an IdList by
    have/need (initiator) or by our own ids of the range (responder). When
    the answer would pass the frame size limit the rest of the set is
    answered by one fingerprint up to infinity.
    ========================================================================= */

#include "ca_negentropy.h"
#include "ca_hash.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t timestamp;
    uint8_t id[CA_NEG_ID_BYTES];
} s_item_t;

//  A 256-bit little-endian number as four 64-bit limbs, low limb first.
typedef struct {
    uint64_t limb[4];
} s_sum_t;

struct _ca_neg_set_t {
    s_item_t *items;
    size_t size;
    size_t capacity;
    s_sum_t *prefix; //  prefix[i] = sum of ids[0..i), size + 1 entries
    bool sealed;
};

typedef struct {
    uint64_t timestamp;
    uint8_t id[CA_NEG_ID_BYTES];
    size_t id_len;
} s_bound_t;

//  Walks an incoming message.
typedef struct {
    const uint8_t *at;
    const uint8_t *end;
    uint64_t last_timestamp;
    const char *failure; //  first parse error, static text
} s_reader_t;

//  Encodes an outgoing message.
typedef struct {
    ca_neg_buf_t *buf;
    uint64_t last_timestamp;
} s_writer_t;

//  ---------------------------------------------------------------------
//  256-bit sums

static void s_sum_load(s_sum_t *sum, const uint8_t id[CA_NEG_ID_BYTES]) {
    for (int limb = 0; limb < 4; limb++) {
        uint64_t value = 0;
        for (int byte = 7; byte >= 0; byte--)
            value = (value << 8) | id[limb * 8 + byte];
        sum->limb[limb] = value;
    }
}

static void s_sum_store(const s_sum_t *sum, uint8_t out[CA_NEG_ID_BYTES]) {
    for (int limb = 0; limb < 4; limb++)
        for (int byte = 0; byte < 8; byte++)
            out[limb * 8 + byte] = (uint8_t)(sum->limb[limb] >> (8 * byte));
}

static void s_sum_add(s_sum_t *sum, const s_sum_t *other) {
    unsigned carry = 0;
    for (int limb = 0; limb < 4; limb++) {
        uint64_t before = sum->limb[limb];
        uint64_t next = before + other->limb[limb];
        unsigned carry_out = next < before;
        uint64_t with_carry = next + carry;
        carry_out |= with_carry < next;
        sum->limb[limb] = with_carry;
        carry = carry_out;
    }
}

static void s_sum_sub(s_sum_t *sum, const s_sum_t *other) {
    unsigned borrow = 0;
    for (int limb = 0; limb < 4; limb++) {
        uint64_t before = sum->limb[limb];
        uint64_t next = before - other->limb[limb];
        unsigned borrow_out = next > before;
        uint64_t with_borrow = next - borrow;
        borrow_out |= with_borrow > next;
        sum->limb[limb] = with_borrow;
        borrow = borrow_out;
    }
}

//  ---------------------------------------------------------------------
//  Buffers

static void s_buf_put(ca_neg_buf_t *buf, const void *data, size_t size) {
    if (buf->failed)
        return;
    if (buf->size + size > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity * 2 : 256;
        while (capacity < buf->size + size)
            capacity *= 2;
        uint8_t *grown = (uint8_t *)realloc(buf->data, capacity);
        if (!grown) {
            buf->failed = true;
            return;
        }
        buf->data = grown;
        buf->capacity = capacity;
    }
    if (size)
        memcpy(buf->data + buf->size, data, size);
    buf->size += size;
}

static void s_buf_varint(ca_neg_buf_t *buf, uint64_t value) {
    uint8_t bytes[10];
    size_t count = 0;
    do {
        bytes[count++] = value & 0x7f;
        value >>= 7;
    } while (value);
    uint8_t out[10];
    for (size_t at = 0; at < count; at++)
        out[at] = bytes[count - 1 - at] | (at + 1 < count ? 0x80 : 0);
    s_buf_put(buf, out, count);
}

void ca_neg_buf_free(ca_neg_buf_t *buf) {
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

static void s_ids_put(ca_neg_ids_t *ids, const uint8_t id[CA_NEG_ID_BYTES]) {
    if (!ids || ids->failed)
        return;
    if (ids->count == ids->capacity) {
        size_t capacity = ids->capacity ? ids->capacity * 2 : 64;
        void *grown = realloc(ids->ids, capacity * CA_NEG_ID_BYTES);
        if (!grown) {
            ids->failed = true;
            return;
        }
        ids->ids = (uint8_t(*)[CA_NEG_ID_BYTES])grown;
        ids->capacity = capacity;
    }
    memcpy(ids->ids[ids->count++], id, CA_NEG_ID_BYTES);
}

void ca_neg_ids_free(ca_neg_ids_t *ids) {
    free(ids->ids);
    memset(ids, 0, sizeof(*ids));
}

static int s_id_compare(const void *a, const void *b) {
    return memcmp(a, b, CA_NEG_ID_BYTES);
}

void ca_neg_ids_sort(ca_neg_ids_t *ids) {
    if (ids->count < 2)
        return;
    qsort(ids->ids, ids->count, CA_NEG_ID_BYTES, s_id_compare);
    size_t kept = 1;
    for (size_t at = 1; at < ids->count; at++)
        if (memcmp(ids->ids[kept - 1], ids->ids[at], CA_NEG_ID_BYTES) != 0)
            memmove(ids->ids[kept++], ids->ids[at], CA_NEG_ID_BYTES);
    ids->count = kept;
}

//  ---------------------------------------------------------------------
//  The set

ca_neg_set_t *ca_neg_set_new(void) {
    return (ca_neg_set_t *)calloc(1, sizeof(ca_neg_set_t));
}

void ca_neg_set_destroy(ca_neg_set_t **self_p) {
    if (!self_p || !*self_p)
        return;
    ca_neg_set_t *self = *self_p;
    free(self->items);
    free(self->prefix);
    free(self);
    *self_p = NULL;
}

int ca_neg_set_add(ca_neg_set_t *self, uint64_t timestamp, const uint8_t id[CA_NEG_ID_BYTES]) {
    if (self->sealed)
        return -1;
    if (self->size == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 1024;
        s_item_t *grown = (s_item_t *)realloc(self->items, capacity * sizeof(s_item_t));
        if (!grown)
            return -1;
        self->items = grown;
        self->capacity = capacity;
    }
    s_item_t *item = &self->items[self->size++];
    item->timestamp = timestamp;
    memcpy(item->id, id, CA_NEG_ID_BYTES);
    return 0;
}

static int s_item_compare(const void *a_v, const void *b_v) {
    const s_item_t *a = (const s_item_t *)a_v, *b = (const s_item_t *)b_v;
    if (a->timestamp != b->timestamp)
        return a->timestamp < b->timestamp ? -1 : 1;
    return memcmp(a->id, b->id, CA_NEG_ID_BYTES);
}

int ca_neg_set_seal(ca_neg_set_t *self, char err[CA_NEG_ERR_BYTES]) {
    if (self->sealed) {
        snprintf(err, CA_NEG_ERR_BYTES, "negentropy set already sealed");
        return -1;
    }
    if (self->size > 1)
        qsort(self->items, self->size, sizeof(s_item_t), s_item_compare);
    size_t kept = 0;
    for (size_t at = 0; at < self->size; at++) {
        if (self->items[at].timestamp == CA_NEG_TS_INFINITY) {
            snprintf(err, CA_NEG_ERR_BYTES,
                     "negentropy item timestamp 2^64-1 is reserved for infinity");
            return -1;
        }
        if (kept && s_item_compare(&self->items[kept - 1], &self->items[at]) == 0)
            continue;
        self->items[kept++] = self->items[at];
    }
    self->size = kept;
    self->prefix = (s_sum_t *)calloc(self->size + 1, sizeof(s_sum_t));
    if (!self->prefix) {
        snprintf(err, CA_NEG_ERR_BYTES, "out of memory sealing a set of %zu items", self->size);
        return -1;
    }
    for (size_t at = 0; at < self->size; at++) {
        s_sum_t id;
        s_sum_load(&id, self->items[at].id);
        self->prefix[at + 1] = self->prefix[at];
        s_sum_add(&self->prefix[at + 1], &id);
    }
    self->sealed = true;
    return 0;
}

size_t ca_neg_set_size(const ca_neg_set_t *self) {
    return self->size;
}

void ca_neg_set_item(const ca_neg_set_t *self, size_t index, uint64_t *timestamp,
                     uint8_t id[CA_NEG_ID_BYTES]) {
    assert(index < self->size);
    if (timestamp)
        *timestamp = self->items[index].timestamp;
    if (id)
        memcpy(id, self->items[index].id, CA_NEG_ID_BYTES);
}

static void s_fingerprint_of(const s_sum_t *sum, size_t count, uint8_t fp[CA_NEG_FP_BYTES]) {
    uint8_t raw[CA_NEG_ID_BYTES + 10];
    s_sum_store(sum, raw);
    //  The varint goes into a stack buffer: at most 10 bytes.
    uint8_t varint[10];
    size_t varint_size = 0;
    {
        uint8_t reversed[10];
        uint64_t value = count;
        do {
            reversed[varint_size++] = value & 0x7f;
            value >>= 7;
        } while (value);
        for (size_t at = 0; at < varint_size; at++)
            varint[at] = reversed[varint_size - 1 - at] | (at + 1 < varint_size ? 0x80 : 0);
    }
    memcpy(raw + CA_NEG_ID_BYTES, varint, varint_size);
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(raw, CA_NEG_ID_BYTES + varint_size, digest);
    memcpy(fp, digest, CA_NEG_FP_BYTES);
}

void ca_neg_set_fingerprint(const ca_neg_set_t *self, size_t lo, size_t hi,
                            uint8_t fp[CA_NEG_FP_BYTES]) {
    assert(self->sealed && lo <= hi && hi <= self->size);
    s_sum_t sum = self->prefix[hi];
    s_sum_sub(&sum, &self->prefix[lo]);
    s_fingerprint_of(&sum, hi - lo, fp);
}

void ca_neg_set_fingerprint_scan(const ca_neg_set_t *self, size_t lo, size_t hi,
                                 uint8_t fp[CA_NEG_FP_BYTES]) {
    assert(self->sealed && lo <= hi && hi <= self->size);
    s_sum_t sum = {{0, 0, 0, 0}};
    for (size_t at = lo; at < hi; at++) {
        s_sum_t id;
        s_sum_load(&id, self->items[at].id);
        s_sum_add(&sum, &id);
    }
    s_fingerprint_of(&sum, hi - lo, fp);
}

//  True when item < bound (the bound's id is a prefix, padded with zeros).
static bool s_item_below(const s_item_t *item, const s_bound_t *bound) {
    if (item->timestamp != bound->timestamp)
        return item->timestamp < bound->timestamp;
    return memcmp(item->id, bound->id, bound->id_len) < 0;
}

//  First index in [first, last) whose item is not below bound.
static size_t s_lower_bound(const ca_neg_set_t *self, size_t first, size_t last,
                            const s_bound_t *bound) {
    size_t count = last - first;
    while (count > 0) {
        size_t step = count / 2;
        if (s_item_below(&self->items[first + step], bound)) {
            first += step + 1;
            count -= step + 1;
        } else
            count = step;
    }
    return first;
}

//  ---------------------------------------------------------------------
//  Reading

static uint64_t s_read_varint(s_reader_t *reader) {
    uint64_t value = 0;
    for (;;) {
        if (reader->at >= reader->end) {
            reader->failure = "message ends inside a varint";
            return 0;
        }
        uint8_t byte = *reader->at++;
        if (value > (UINT64_MAX >> 7)) {
            reader->failure = "varint longer than 64 bits";
            return 0;
        }
        value = (value << 7) | (byte & 0x7f);
        if (!(byte & 0x80))
            return value;
    }
}

static const uint8_t *s_read_bytes(s_reader_t *reader, size_t size) {
    if ((size_t)(reader->end - reader->at) < size) {
        reader->failure = "message ends inside a range";
        return NULL;
    }
    const uint8_t *bytes = reader->at;
    reader->at += size;
    return bytes;
}

static bool s_read_bound(s_reader_t *reader, s_bound_t *bound) {
    uint64_t encoded = s_read_varint(reader);
    if (reader->failure)
        return false;
    if (encoded == 0 || reader->last_timestamp == CA_NEG_TS_INFINITY) {
        bound->timestamp = CA_NEG_TS_INFINITY;
        reader->last_timestamp = CA_NEG_TS_INFINITY;
    } else {
        uint64_t delta = encoded - 1;
        if (delta >= CA_NEG_TS_INFINITY - reader->last_timestamp) {
            reader->failure = "bound timestamp overflows 64 bits";
            return false;
        }
        bound->timestamp = reader->last_timestamp + delta;
        reader->last_timestamp = bound->timestamp;
    }
    uint64_t length = s_read_varint(reader);
    if (reader->failure)
        return false;
    if (length > CA_NEG_ID_BYTES) {
        reader->failure = "bound id prefix longer than 32 bytes";
        return false;
    }
    const uint8_t *id = s_read_bytes(reader, (size_t)length);
    if (!id)
        return false;
    memset(bound->id, 0, sizeof(bound->id));
    memcpy(bound->id, id, (size_t)length);
    bound->id_len = (size_t)length;
    return true;
}

//  ---------------------------------------------------------------------
//  Writing

static void s_write_bound(s_writer_t *writer, const s_bound_t *bound) {
    if (bound->timestamp == CA_NEG_TS_INFINITY) {
        writer->last_timestamp = CA_NEG_TS_INFINITY;
        s_buf_varint(writer->buf, 0);
    } else {
        //  Bounds go out in ascending order, so the delta never wraps
        //  (after infinity nothing but infinity follows).
        uint64_t delta = bound->timestamp - writer->last_timestamp;
        writer->last_timestamp = bound->timestamp;
        s_buf_varint(writer->buf, delta + 1);
    }
    s_buf_varint(writer->buf, bound->id_len);
    s_buf_put(writer->buf, bound->id, bound->id_len);
}

static void s_bound_infinity(s_bound_t *bound) {
    memset(bound, 0, sizeof(*bound));
    bound->timestamp = CA_NEG_TS_INFINITY;
}

//  The shortest bound that separates prev (below) from curr (at or above).
static void s_minimal_bound(const s_item_t *prev, const s_item_t *curr, s_bound_t *bound) {
    memset(bound, 0, sizeof(*bound));
    bound->timestamp = curr->timestamp;
    if (curr->timestamp != prev->timestamp)
        return;
    size_t shared = 0;
    while (shared < CA_NEG_ID_BYTES && curr->id[shared] == prev->id[shared])
        shared++;
    bound->id_len = shared < CA_NEG_ID_BYTES ? shared + 1 : CA_NEG_ID_BYTES;
    memcpy(bound->id, curr->id, bound->id_len);
}

static void s_split_range(const ca_neg_set_t *set, s_writer_t *writer, size_t lower, size_t upper,
                          const s_bound_t *upper_bound) {
    size_t count = upper - lower;
    if (count < CA_NEG_BUCKETS * 2) {
        s_write_bound(writer, upper_bound);
        s_buf_varint(writer->buf, 2);
        s_buf_varint(writer->buf, count);
        for (size_t at = lower; at < upper; at++)
            s_buf_put(writer->buf, set->items[at].id, CA_NEG_ID_BYTES);
        return;
    }
    size_t per_bucket = count / CA_NEG_BUCKETS;
    size_t with_extra = count % CA_NEG_BUCKETS;
    size_t curr = lower;
    for (size_t bucket = 0; bucket < CA_NEG_BUCKETS; bucket++) {
        size_t bucket_size = per_bucket + (bucket < with_extra ? 1 : 0);
        uint8_t fp[CA_NEG_FP_BYTES];
        ca_neg_set_fingerprint(set, curr, curr + bucket_size, fp);
        curr += bucket_size;
        s_bound_t next;
        if (curr == upper)
            next = *upper_bound;
        else
            s_minimal_bound(&set->items[curr - 1], &set->items[curr], &next);
        s_write_bound(writer, &next);
        s_buf_varint(writer->buf, 1);
        s_buf_put(writer->buf, fp, CA_NEG_FP_BYTES);
    }
}

static bool s_exceeded(const ca_neg_opts_t *opts, size_t size) {
    return opts->frame_size_limit && size > opts->frame_size_limit - CA_NEG_FRAME_SLACK;
}

static int s_check_opts(const ca_neg_set_t *set, const ca_neg_opts_t *opts,
                        char err[CA_NEG_ERR_BYTES]) {
    if (!set->sealed) {
        snprintf(err, CA_NEG_ERR_BYTES, "negentropy set not sealed");
        return -1;
    }
    if (opts->frame_size_limit && opts->frame_size_limit < CA_NEG_FRAME_MIN) {
        snprintf(err, CA_NEG_ERR_BYTES, "negentropy frame size limit %zu below the minimum %d",
                 opts->frame_size_limit, CA_NEG_FRAME_MIN);
        return -1;
    }
    return 0;
}

int ca_neg_initiate(const ca_neg_set_t *set, const ca_neg_opts_t *opts, ca_neg_buf_t *out,
                    char err[CA_NEG_ERR_BYTES]) {
    if (s_check_opts(set, opts, err))
        return -1;
    out->size = 0;
    out->failed = false;
    uint8_t version = CA_NEG_PROTOCOL_V1;
    s_buf_put(out, &version, 1);
    s_writer_t writer = {out, 0};
    s_bound_t infinity;
    s_bound_infinity(&infinity);
    s_split_range(set, &writer, 0, set->size, &infinity);
    if (out->failed) {
        snprintf(err, CA_NEG_ERR_BYTES, "out of memory building a negentropy message");
        return -1;
    }
    return 0;
}

//  The ids of an incoming IdList, sorted and unique, each marked when one
//  of ours matches.
typedef struct {
    uint8_t (*ids)[CA_NEG_ID_BYTES];
    bool *matched;
    size_t count;
} s_their_ids_t;

static int s_reconcile_id_list(const ca_neg_set_t *set, s_reader_t *reader, size_t lower,
                               size_t upper, ca_neg_ids_t *have, ca_neg_ids_t *need,
                               char err[CA_NEG_ERR_BYTES]) {
    uint64_t count = s_read_varint(reader);
    if (reader->failure)
        return -1;
    if (count > (uint64_t)(reader->end - reader->at) / CA_NEG_ID_BYTES) {
        reader->failure = "id list count larger than the message";
        return -1;
    }
    if (!have && !need) {
        reader->at += (size_t)count * CA_NEG_ID_BYTES;
        return 0;
    }
    s_their_ids_t theirs = {0};
    if (count) {
        theirs.ids = (uint8_t(*)[CA_NEG_ID_BYTES])malloc((size_t)count * CA_NEG_ID_BYTES);
        theirs.matched = (bool *)calloc((size_t)count, sizeof(bool));
        if (!theirs.ids || !theirs.matched) {
            free(theirs.ids);
            free(theirs.matched);
            snprintf(err, CA_NEG_ERR_BYTES, "out of memory reading %llu ids",
                     (unsigned long long)count);
            return -1;
        }
        memcpy(theirs.ids, s_read_bytes(reader, (size_t)count * CA_NEG_ID_BYTES),
               (size_t)count * CA_NEG_ID_BYTES);
        qsort(theirs.ids, (size_t)count, CA_NEG_ID_BYTES, s_id_compare);
        for (size_t at = 0; at < count; at++)
            if (!theirs.count ||
                memcmp(theirs.ids[theirs.count - 1], theirs.ids[at], CA_NEG_ID_BYTES) != 0)
                memmove(theirs.ids[theirs.count++], theirs.ids[at], CA_NEG_ID_BYTES);
    }
    for (size_t at = lower; at < upper; at++) {
        uint8_t(*found)[CA_NEG_ID_BYTES] =
            theirs.count
                ? (uint8_t(*)[CA_NEG_ID_BYTES])bsearch(set->items[at].id, theirs.ids, theirs.count,
                                                       CA_NEG_ID_BYTES, s_id_compare)
                : NULL;
        if (found)
            theirs.matched[found - theirs.ids] = true;
        else
            s_ids_put(have, set->items[at].id);
    }
    for (size_t at = 0; at < theirs.count; at++)
        if (!theirs.matched[at])
            s_ids_put(need, theirs.ids[at]);
    free(theirs.ids);
    free(theirs.matched);
    return 0;
}

int ca_neg_reconcile(const ca_neg_set_t *set, const ca_neg_opts_t *opts, const uint8_t *msg,
                     size_t msg_size, ca_neg_buf_t *out, ca_neg_ids_t *have, ca_neg_ids_t *need,
                     char err[CA_NEG_ERR_BYTES]) {
    if (s_check_opts(set, opts, err))
        return -1;
    out->size = 0;
    out->failed = false;
    if (msg_size == 0) {
        snprintf(err, CA_NEG_ERR_BYTES,
                 "empty negentropy message: it starts with the version "
                 "byte 0x61");
        return -1;
    }
    uint8_t version = CA_NEG_PROTOCOL_V1;
    if (msg[0] < 0x60 || msg[0] > 0x6f) {
        snprintf(err, CA_NEG_ERR_BYTES,
                 "not a negentropy message: first byte 0x%02x is not a protocol version "
                 "(0x60..0x6f; this side speaks 0x61)",
                 msg[0]);
        return -1;
    }
    if (msg[0] != CA_NEG_PROTOCOL_V1) {
        if (opts->initiator) {
            snprintf(err, CA_NEG_ERR_BYTES,
                     "the other side answered with negentropy protocol byte 0x%02x; this side "
                     "speaks only 0x61 (v1)",
                     msg[0]);
            return -1;
        }
        s_buf_put(out, &version, 1);
        return out->failed ? -1 : 0;
    }
    s_buf_put(out, &version, 1);
    s_reader_t reader = {msg + 1, msg + msg_size, 0, NULL};
    s_writer_t writer = {out, 0};
    ca_neg_buf_t range = {0}; //  the answer to one incoming range
    s_writer_t range_writer = {&range, 0};
    s_bound_t prev_bound = {0};
    size_t prev_index = 0;
    bool skip = false;
    int rc = 0;

    while (reader.at < reader.end) {
        range.size = 0;
        range_writer.last_timestamp = writer.last_timestamp;
        s_bound_t curr_bound;
        if (!s_read_bound(&reader, &curr_bound))
            break;
        uint64_t mode = s_read_varint(&reader);
        if (reader.failure)
            break;
        size_t lower = prev_index;
        size_t upper = s_lower_bound(set, prev_index, set->size, &curr_bound);
        if (mode == 0)
            skip = true;
        else if (mode == 1) {
            const uint8_t *theirs = s_read_bytes(&reader, CA_NEG_FP_BYTES);
            if (!theirs)
                break;
            uint8_t ours[CA_NEG_FP_BYTES];
            ca_neg_set_fingerprint(set, lower, upper, ours);
            if (memcmp(theirs, ours, CA_NEG_FP_BYTES) != 0) {
                if (skip) {
                    skip = false;
                    s_write_bound(&range_writer, &prev_bound);
                    s_buf_varint(&range, 0);
                }
                s_split_range(set, &range_writer, lower, upper, &curr_bound);
            } else
                skip = true;
        } else if (mode == 2) {
            if (opts->initiator) {
                if (s_reconcile_id_list(set, &reader, lower, upper, have, need, err)) {
                    rc = reader.failure ? 0 : -1; //  a parse error is reported below
                    break;
                }
                skip = true;
            } else {
                //  The responder does not compute differences: it answers
                //  with its own ids of the range, up to the frame limit.
                if (s_reconcile_id_list(set, &reader, lower, upper, NULL, NULL, err)) {
                    rc = reader.failure ? 0 : -1; //  a parse error is reported below
                    break;
                }
                if (skip) {
                    skip = false;
                    s_write_bound(&range_writer, &prev_bound);
                    s_buf_varint(&range, 0);
                }
                s_bound_t end_bound = curr_bound;
                size_t count = 0;
                ca_neg_buf_t ids = {0};
                for (size_t at = lower; at < upper; at++) {
                    if (s_exceeded(opts, out->size + ids.size)) {
                        memset(&end_bound, 0, sizeof(end_bound));
                        end_bound.timestamp = set->items[at].timestamp;
                        memcpy(end_bound.id, set->items[at].id, CA_NEG_ID_BYTES);
                        end_bound.id_len = CA_NEG_ID_BYTES;
                        upper = at;
                        break;
                    }
                    s_buf_put(&ids, set->items[at].id, CA_NEG_ID_BYTES);
                    count++;
                }
                s_write_bound(&range_writer, &end_bound);
                s_buf_varint(&range, 2);
                s_buf_varint(&range, count);
                s_buf_put(&range, ids.data, ids.size);
                bool ids_failed = ids.failed;
                ca_neg_buf_free(&ids);
                if (ids_failed)
                    range.failed = true;
                //  Committed whatever the limit says (the reference does the same).
                s_buf_put(out, range.data, range.size);
                writer.last_timestamp = range_writer.last_timestamp;
                range.size = 0;
            }
        } else {
            snprintf(err, CA_NEG_ERR_BYTES,
                     "unknown negentropy mode %llu (0 Skip, 1 Fingerprint, "
                     "2 IdList)",
                     (unsigned long long)mode);
            rc = -1;
            break;
        }
        if (range.failed || out->failed) {
            snprintf(err, CA_NEG_ERR_BYTES, "out of memory building a negentropy message");
            rc = -1;
            break;
        }
        if (s_exceeded(opts, out->size + range.size)) {
            //  Stop here; the rest of the set is one fingerprint to infinity.
            uint8_t fp[CA_NEG_FP_BYTES];
            ca_neg_set_fingerprint(set, upper, set->size, fp);
            s_bound_t infinity;
            s_bound_infinity(&infinity);
            writer.last_timestamp = range_writer.last_timestamp;
            s_write_bound(&writer, &infinity);
            s_buf_varint(out, 1);
            s_buf_put(out, fp, CA_NEG_FP_BYTES);
            break;
        }
        s_buf_put(out, range.data, range.size);
        writer.last_timestamp = range_writer.last_timestamp;
        prev_index = upper;
        prev_bound = curr_bound;
    }
    ca_neg_buf_free(&range);
    if (rc == 0 && reader.failure) {
        snprintf(err, CA_NEG_ERR_BYTES, "malformed negentropy message at byte %zu: %s",
                 (size_t)(reader.at - msg), reader.failure);
        rc = -1;
    }
    if (rc == 0 && (out->failed || (have && have->failed) || (need && need->failed))) {
        snprintf(err, CA_NEG_ERR_BYTES, "out of memory building a negentropy answer");
        rc = -1;
    }
    if (rc == 0 && opts->initiator && out->size == 1)
        out->size = 0; //  nothing left to ask: reconciliation complete
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test

#include "ca_validate.h"

//  Test ids: SHA-256 of the decimal text of n (the JS vectors use the same).
static void s_test_id(uint64_t n, uint8_t id[CA_NEG_ID_BYTES]) {
    char text[24];
    int size = snprintf(text, sizeof(text), "%llu", (unsigned long long)n);
    ca_sha256(text, (size_t)size, id);
}

//  A set of the items n in [from, to) but those with n % skip_mod == skip_rem
//  (skip_mod 0: none skipped), timestamp 1000 + n / 3 (so ties occur).
static ca_neg_set_t *s_test_set(uint64_t from, uint64_t to, uint64_t skip_mod, uint64_t skip_rem) {
    ca_neg_set_t *set = ca_neg_set_new();
    assert(set);
    for (uint64_t n = from; n < to; n++) {
        if (skip_mod && n % skip_mod == skip_rem)
            continue;
        uint8_t id[CA_NEG_ID_BYTES];
        s_test_id(n, id);
        assert(ca_neg_set_add(set, 1000 + n / 3, id) == 0);
    }
    char err[CA_NEG_ERR_BYTES];
    assert(ca_neg_set_seal(set, err) == 0);
    return set;
}

static bool streq_hex(const char *a, const char *b) {
    return strcmp(a, b) == 0;
}

static void s_test_hash_hex(const ca_neg_buf_t *buf, char hex[65]) {
    uint8_t digest[CA_SHA256_BYTES];
    ca_sha256(buf->data, buf->size, digest);
    ca_hash_to_hex(digest, hex);
}

//  Runs a whole session between two in-process sets; returns rounds.
static int s_test_session(const ca_neg_set_t *a, const ca_neg_set_t *b, size_t limit,
                          ca_neg_ids_t *have, ca_neg_ids_t *need) {
    char err[CA_NEG_ERR_BYTES];
    ca_neg_opts_t initiator = {true, limit}, responder = {false, limit};
    ca_neg_buf_t query = {0}, answer = {0};
    assert(ca_neg_initiate(a, &initiator, &query, err) == 0);
    int rounds = 0;
    while (query.size && rounds < 1000) {
        rounds++;
        assert(ca_neg_reconcile(b, &responder, query.data, query.size, &answer, NULL, NULL, err) ==
               0);
        if (limit)
            assert(answer.size <= limit);
        assert(ca_neg_reconcile(a, &initiator, answer.data, answer.size, &query, have, need, err) ==
               0);
        if (limit)
            assert(query.size <= limit);
    }
    ca_neg_buf_free(&query);
    ca_neg_buf_free(&answer);
    ca_neg_ids_sort(have);
    ca_neg_ids_sort(need);
    return rounds;
}

//  The expected differences between two test sets.
static void s_test_expect(const ca_neg_set_t *a, const ca_neg_set_t *b, ca_neg_ids_t *only_a) {
    ca_neg_ids_t in_b = {0};
    for (size_t at = 0; at < b->size; at++)
        s_ids_put(&in_b, b->items[at].id);
    ca_neg_ids_sort(&in_b);
    for (size_t at = 0; at < a->size; at++)
        if (!in_b.count ||
            !bsearch(a->items[at].id, in_b.ids, in_b.count, CA_NEG_ID_BYTES, s_id_compare))
            s_ids_put(only_a, a->items[at].id);
    ca_neg_ids_sort(only_a);
    ca_neg_ids_free(&in_b);
}

static bool s_ids_equal(const ca_neg_ids_t *x, const ca_neg_ids_t *y) {
    return x->count == y->count &&
           (x->count == 0 || memcmp(x->ids, y->ids, x->count * CA_NEG_ID_BYTES) == 0);
}

static void s_test_pair(const ca_neg_set_t *a, const ca_neg_set_t *b, size_t limit) {
    ca_neg_ids_t have = {0}, need = {0}, only_a = {0}, only_b = {0};
    s_test_session(a, b, limit, &have, &need);
    s_test_expect(a, b, &only_a);
    s_test_expect(b, a, &only_b);
    if (!s_ids_equal(&have, &only_a) || !s_ids_equal(&need, &only_b))
        fprintf(stderr, "pair %zu/%zu limit %zu: have %zu (want %zu), need %zu (want %zu)\n",
                a->size, b->size, limit, have.count, only_a.count, need.count, only_b.count);
    assert(s_ids_equal(&have, &only_a));
    assert(s_ids_equal(&need, &only_b));
    ca_neg_ids_free(&have);
    ca_neg_ids_free(&need);
    ca_neg_ids_free(&only_a);
    ca_neg_ids_free(&only_b);
}

static void s_test_bad(const char *hex, bool initiator, const char *expect) {
    uint8_t msg[256];
    size_t size = strlen(hex) / 2;
    assert(size <= sizeof(msg));
    for (size_t at = 0; at < size; at++) {
        unsigned byte;
        assert(sscanf(hex + 2 * at, "%2x", &byte) == 1);
        msg[at] = (uint8_t)byte;
    }
    ca_neg_set_t *set = s_test_set(0, 100, 0, 0);
    ca_neg_opts_t opts = {initiator, 0};
    ca_neg_buf_t out = {0};
    ca_neg_ids_t have = {0}, need = {0};
    char err[CA_NEG_ERR_BYTES] = "";
    int rc = ca_neg_reconcile(set, &opts, msg, size, &out, &have, &need, err);
    if (rc != -1 || !strstr(err, expect))
        fprintf(stderr, "bad message %s: rc %d, '%s' (expected '%s')\n", hex, rc, err, expect);
    assert(rc == -1 && strstr(err, expect));
    ca_neg_buf_free(&out);
    ca_neg_ids_free(&have);
    ca_neg_ids_free(&need);
    ca_neg_set_destroy(&set);
}

void ca_negentropy_test(bool verbose) {
    if (verbose)
        printf(" * ca_negentropy: ");
    char err[CA_NEG_ERR_BYTES];
    char hex[65];

    //  256-bit arithmetic: carries across every limb, wrap mod 2^256.
    s_sum_t all_ones, one = {{1, 0, 0, 0}}, zero = {{0, 0, 0, 0}};
    memset(&all_ones, 0xff, sizeof(all_ones));
    s_sum_t sum = all_ones;
    s_sum_add(&sum, &one);
    assert(memcmp(&sum, &zero, sizeof(sum)) == 0);
    s_sum_sub(&sum, &one);
    assert(memcmp(&sum, &all_ones, sizeof(sum)) == 0);

    //  Prefix-sum fingerprints equal scanned ones on every range.
    ca_neg_set_t *a = s_test_set(0, 200, 0, 0);
    for (size_t lo = 0; lo < 200; lo += 13)
        for (size_t hi = lo; hi <= 200; hi += 17) {
            uint8_t fast[CA_NEG_FP_BYTES], slow[CA_NEG_FP_BYTES];
            ca_neg_set_fingerprint(a, lo, hi, fast);
            ca_neg_set_fingerprint_scan(a, lo, hi, slow);
            assert(memcmp(fast, slow, CA_NEG_FP_BYTES) == 0);
        }

    //  Vectors computed with the nostr-tools implementation (tests/js/vectors.mjs).
    uint8_t fp[CA_NEG_FP_BYTES];
    char fp_hex[2 * CA_NEG_FP_BYTES + 1];
    struct {
        size_t lo, hi;
        const char *hex;
    } fps[] = {{0, 200, "7ed859c5b2b0e4b6a0ae08f32081c45d"},
               {13, 150, "9d2d5e1722e02d2e9188b555f1ac6ce2"},
               {0, 0, "7f9c9e31ac8256ca2f258583df262dbc"}};
    for (size_t at = 0; at < sizeof(fps) / sizeof(fps[0]); at++) {
        ca_neg_set_fingerprint(a, fps[at].lo, fps[at].hi, fp);
        for (size_t byte = 0; byte < CA_NEG_FP_BYTES; byte++)
            snprintf(fp_hex + 2 * byte, 3, "%02x", fp[byte]);
        assert(strcmp(fp_hex, fps[at].hex) == 0);
    }
    ca_neg_opts_t plain = {false, 0}, limited = {false, CA_NEG_FRAME_MIN};
    ca_neg_buf_t init = {0}, answer = {0};
    assert(ca_neg_initiate(a, &plain, &init, err) == 0);
    s_test_hash_hex(&init, hex);
    assert(init.size == 319);
    assert(streq_hex(hex, "ec3358a24d73ad1921142ad2ab1a5a8e24402e61894bf5b697a563d2eeedd248"));
    ca_neg_set_t *b = s_test_set(0, 200, 7, 0);
    assert(ca_neg_reconcile(b, &plain, init.data, init.size, &answer, NULL, NULL, err) == 0);
    s_test_hash_hex(&answer, hex);
    assert(answer.size == 5551);
    assert(streq_hex(hex, "241f1327e119fa897442ba9e8f2de624a9ab26ee8257225001153432add97b93"));
    ca_neg_set_destroy(&b);
    ca_neg_set_destroy(&a);
    a = s_test_set(0, 3, 0, 0);
    assert(ca_neg_initiate(a, &plain, &init, err) == 0);
    static const char *const three =
        "61000002035feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e96b86b273ff34f"
        "ce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4bd4735e3a265e16eee03f59718b9b5d03019c"
        "07d8b6c51f90da3a666eec13ab35";
    assert(init.size * 2 == strlen(three));
    for (size_t byte = 0; byte < init.size; byte++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", init.data[byte]);
        assert(memcmp(two, three + 2 * byte, 2) == 0);
    }
    ca_neg_set_destroy(&a);
    //  A frame limit cuts the answer where the reference cuts it.
    a = s_test_set(0, 5000, 0, 0);
    b = s_test_set(0, 5000, 11, 3);
    assert(ca_neg_initiate(a, &plain, &init, err) == 0);
    assert(ca_neg_reconcile(b, &limited, init.data, init.size, &answer, NULL, NULL, err) == 0);
    s_test_hash_hex(&answer, hex);
    assert(answer.size == 3794);
    assert(streq_hex(hex, "ea54764d2fa387d8c24f15a554a6a74e6d037680b907795983634a837c2dfead"));
    ca_neg_set_destroy(&b);
    ca_neg_set_destroy(&a);
    ca_neg_buf_free(&init);
    ca_neg_buf_free(&answer);

    //  Sessions: overlaps 0%, ~1%, 50%, 100%, one side empty, with and
    //  without a frame size limit that forces many rounds.
    struct {
        uint64_t a_from, a_to, a_mod, b_from, b_to, b_mod;
    } pairs[] = {
        {0, 300, 0, 300, 600, 0},   //  disjoint
        {0, 3000, 97, 0, 3000, 89}, //  ~2% differ
        {0, 1000, 0, 500, 1500, 0}, //  half shared
        {0, 2000, 0, 0, 2000, 0},   //  equal
        {0, 0, 0, 0, 700, 0},       //  initiator empty
        {0, 700, 0, 0, 0, 0},       //  responder empty
        {0, 20000, 2, 0, 20000, 3}, //  large differences, frame limit bites
    };
    for (size_t at = 0; at < sizeof(pairs) / sizeof(pairs[0]); at++) {
        ca_neg_set_t *x = s_test_set(pairs[at].a_from, pairs[at].a_to, pairs[at].a_mod, 0);
        ca_neg_set_t *y = s_test_set(pairs[at].b_from, pairs[at].b_to, pairs[at].b_mod, 1);
        s_test_pair(x, y, 0);
        s_test_pair(x, y, CA_NEG_FRAME_MIN);
        s_test_pair(y, x, CA_NEG_FRAME_MIN);
        ca_neg_set_destroy(&x);
        ca_neg_set_destroy(&y);
    }

    //  Random sets: random sizes, overlaps and timestamps (many ties), a
    //  random frame limit; sessions interrupted after a round and started
    //  again (a disconnect: nothing carries over) end the same.
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int trial = 0; trial < 24; trial++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t size = (size_t)(seed >> 33) % 3000;
        unsigned shared_pct = (unsigned)((seed >> 20) % 101);
        unsigned spread = 1 + (unsigned)((seed >> 10) % 50); //  items per second
        size_t limit = trial % 3 == 0 ? 0 : CA_NEG_FRAME_MIN + (size_t)(seed >> 40) % 8192;
        ca_neg_set_t *x = ca_neg_set_new(), *y = ca_neg_set_new();
        assert(x && y);
        for (size_t n = 0; n < size; n++) {
            uint8_t id[CA_NEG_ID_BYTES];
            s_test_id(n, id);
            uint64_t when = 5000 + n / spread;
            bool shared = (n * 7919) % 100 < shared_pct;
            assert(ca_neg_set_add(x, when, id) == 0);
            if (!shared)
                s_test_id(n + 1000000, id);
            if (trial % 5 != 4) //  every fifth: the responder is empty
                assert(ca_neg_set_add(y, when, id) == 0);
        }
        assert(ca_neg_set_seal(x, err) == 0 && ca_neg_set_seal(y, err) == 0);
        //  The interrupted session: one round, then dropped.
        ca_neg_opts_t initiator = {true, limit}, responder = {false, limit};
        ca_neg_buf_t query = {0};
        ca_neg_ids_t partial = {0};
        assert(ca_neg_initiate(x, &initiator, &query, err) == 0);
        assert(ca_neg_reconcile(y, &responder, query.data, query.size, &answer, NULL, NULL, err) ==
               0);
        assert(ca_neg_reconcile(x, &initiator, answer.data, answer.size, &query, &partial, &partial,
                                err) == 0);
        ca_neg_buf_free(&query);
        ca_neg_buf_free(&answer);
        ca_neg_ids_free(&partial);
        s_test_pair(x, y, limit);
        ca_neg_set_destroy(&x);
        ca_neg_set_destroy(&y);
    }

    //  Malformed input is refused with a message, never read past its end.
    s_test_bad("", false, "empty negentropy message");
    s_test_bad("ff", false, "not a negentropy message");
    s_test_bad("62", true, "speaks only 0x61");
    s_test_bad("6100", false, "ends inside a varint");
    s_test_bad("610000", false, "ends inside a varint");
    s_test_bad("61000003", false, "unknown negentropy mode 3");
    s_test_bad("610021", false, "longer than 32 bytes");
    s_test_bad("61000001aabb", false, "ends inside a range");
    s_test_bad("6100000205", false, "id list count larger");
    s_test_bad("61ffffffffffffffffffff7f", false, "varint longer than 64 bits");
    s_test_bad("6102000081ffffffffffffffff7f0000", false, "overflows 64 bits");
    if (verbose)
        printf("OK\n");
}

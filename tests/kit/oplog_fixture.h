/*  =========================================================================
    oplog_fixture - signed operations for the oplog store's tests and bench

    An oplog_op_t holds a header and every byte it points at, so a test can
    build, sign, tamper with and send an operation without managing
    buffers. Keys come from a number (a fixed seed), so runs repeat.
    ========================================================================= */

#ifndef OPLOG_FIXTURE_H_INCLUDED
#define OPLOG_FIXTURE_H_INCLUDED

#include "cairn.pb-c.h"
#include "oplog_encoding.h"

#include <czmq.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t public_key[32];
    uint8_t secret_key[64];
} oplog_key_t;

typedef struct {
    Cairn__OpHeader header;
    uint8_t author[32], signature[64], payload_hash[32], backlink[32];
    uint8_t previous[OPLOG_PREVIOUS_MAX][32];
    ProtobufCBinaryData previous_fields[OPLOG_PREVIOUS_MAX];
    uint8_t *body; //  malloc'd (oplog_op_free)
    size_t body_size;
    bool has_body;
    uint8_t hash[32];
} oplog_op_t;

//  The key pair of author number `n`.
void oplog_key(unsigned n, oplog_key_t *key);

//  Builds and signs an operation of `key` in log `log_id` at `seq`
//  (backlink: NULL at seq 0, else the 32-byte hash), with a body of
//  `body_size` bytes (filled from `fill`), `previous_count` dependencies
//  (sorted here), timestamp `timestamp_us`.
void oplog_op_make(oplog_op_t *op, const oplog_key_t *key, uint64_t log_id, uint64_t seq,
                   const uint8_t *backlink, size_t body_size, uint64_t fill,
                   const uint8_t (*previous)[32], size_t previous_count, uint64_t timestamp_us);

//  Signs again after a change to the header (recomputes the hash).
void oplog_op_sign(oplog_op_t *op, const oplog_key_t *key);

void oplog_op_free(oplog_op_t *op);

//  An OplogAppend request of `op` (pointing into it) in `request`.
void oplog_request_append(Cairn__Request *request, Cairn__OplogAppend *append,
                          const oplog_op_t *op);

//  OplogStats on `client` (a harness connection), which must answer OK;
//  `consumer` may be NULL.
Cairn__OplogStatsReply oplog_stats(zsock_t *client, const char *consumer);

#endif

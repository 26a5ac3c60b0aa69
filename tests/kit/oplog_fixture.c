/*  =========================================================================
    oplog_fixture - signed operations for the oplog store's tests and bench
    ========================================================================= */

#include "oplog_fixture.h"
#include "ca_sign.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

void oplog_key(unsigned n, oplog_key_t *key) {
    uint8_t seed[32] = {0};
    memcpy(seed, "oplog-test-key", 14);
    memcpy(seed + 28, &n, sizeof n);
    ca_ed25519_from_seed(seed, key->public_key, key->secret_key);
}

static int s_compare(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

void oplog_op_sign(oplog_op_t *op, const oplog_key_t *key) {
    op->header.signature = (ProtobufCBinaryData){64, op->signature};
    oplog_header_sign(&op->header, key->secret_key, op->hash);
}

void oplog_op_make(oplog_op_t *op, const oplog_key_t *key, uint64_t log_id, uint64_t seq,
                   const uint8_t *backlink, size_t body_size, uint64_t fill,
                   const uint8_t (*previous)[32], size_t previous_count, uint64_t timestamp_us) {
    memset(op, 0, sizeof *op);
    cairn__op_header__init(&op->header);
    Cairn__OpHeader *header = &op->header;
    memcpy(op->author, key->public_key, 32);
    header->version = OPLOG_VERSION;
    header->author = (ProtobufCBinaryData){32, op->author};
    header->log_id = log_id;
    header->seq = seq;
    header->timestamp_us = timestamp_us;
    if (backlink) {
        memcpy(op->backlink, backlink, 32);
        header->backlink = (ProtobufCBinaryData){32, op->backlink};
    }
    op->body = (uint8_t *)malloc(body_size ? body_size : 1);
    for (size_t i = 0; i < body_size; i++)
        op->body[i] = (uint8_t)((fill * 131 + i * 7) >> (i % 3));
    op->body_size = body_size;
    op->has_body = true;
    header->payload_size = body_size;
    oplog_payload_hash(op->body, body_size, op->payload_hash);
    header->payload_hash = (ProtobufCBinaryData){32, op->payload_hash};
    if (previous_count > OPLOG_PREVIOUS_MAX)
        previous_count = OPLOG_PREVIOUS_MAX;
    if (previous_count)
        memcpy(op->previous, previous, previous_count * 32);
    qsort(op->previous, previous_count, 32, s_compare);
    for (size_t i = 0; i < previous_count; i++)
        op->previous_fields[i] = (ProtobufCBinaryData){32, op->previous[i]};
    header->n_previous = previous_count;
    header->previous = previous_count ? op->previous_fields : NULL;
    oplog_op_sign(op, key);
}

void oplog_op_free(oplog_op_t *op) {
    free(op->body);
    op->body = NULL;
}

void oplog_request_append(Cairn__Request *request, Cairn__OplogAppend *append,
                          const oplog_op_t *op) {
    cairn__request__init(request);
    cairn__oplog_append__init(append);
    append->header = (Cairn__OpHeader *)&op->header;
    append->author = op->header.author; //  routes one author's appends to one worker
    append->has_body = op->has_body;
    if (op->has_body)
        append->body = (ProtobufCBinaryData){op->body_size, op->body};
    request->body_case = CAIRN__REQUEST__BODY_OPLOG_APPEND;
    request->oplog_append = append;
}

Cairn__OplogStatsReply oplog_stats(zsock_t *client, const char *consumer) {
    Cairn__Request request = CAIRN__REQUEST__INIT;
    Cairn__OplogStats stats = CAIRN__OPLOG_STATS__INIT;
    stats.consumer = (char *)(consumer ? consumer : "");
    request.body_case = CAIRN__REQUEST__BODY_OPLOG_STATS;
    request.oplog_stats = &stats;
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_OPLOG_STATS);
    Cairn__OplogStatsReply copy = *response->oplog_stats;
    cairn__response__free_unpacked(response, NULL);
    return copy;
}

/*  =========================================================================
    settlement - distributions owed to recipients until a batch settles
    them; pool "settlement", tables of settlement_schema (requests:
    schemas/settlement.proto)
    ========================================================================= */

#ifndef SETTLEMENT_H_INCLUDED
#define SETTLEMENT_H_INCLUDED

#include "ca_store.h"

#define CA_SETTLE_LIST_DEFAULT 1000   //  SettlePending limit 0
#define CA_SETTLE_LIST_MAX     100000 //  SettlePending limit at most
#define CA_SETTLE_MARK_MAX     1000   //  payment ids of one SettleMark
#define CA_SETTLE_BATCH_MAX    100000 //  distributions of one SettleBatch (limit 0: this many)

extern const ca_schema_t settlement_schema;

extern const ca_store_def_t settlement_store_def;

//  SQL defined once here for the store and cairn-bench's baselines:
//  SettleEnqueue's INSERT (?1 payment_id, ?2 recipient, ?3 amount, ?4
//  source_hash, ?5 queued_at; a known (payment_id, recipient) is left as
//  it is), and the amounts SettleTotal adds up for all recipients.
extern const char settlement_sql_enqueue[];
extern const char settlement_sql_pending_amounts[];

//  The id of a batch: SHA-256 over its distributions' (payment_id,
//  recipient, amount) triples sorted by payment_id then recipient
//  (bytewise), each encoded as the 32 payment id bytes, one byte giving the
//  recipient's length, the recipient's bytes, and the amount as 8 bytes
//  big-endian. `payment_ids` holds count x 32 bytes. The order of the
//  arrays does not matter. 0, or -1 when memory for the hash ran out.
int settlement_batch_id(const uint8_t *payment_ids, const char *const *recipients,
                        const uint64_t *amounts, size_t count, uint8_t id[32]);

void settlement_test(bool verbose);

#endif

/*  =========================================================================
    ledger_payments - the payments of the ledger store (paying, the pending
    payments, clearing; requests: schemas/ledger.proto). Private to the
    ledger: the rows of ledger.c's handler table point into it, and only
    the ledger's worker threads call it. (The canonical encoding a
    payment's signature covers, ledger_payment_encode and
    ledger_payment_verify, is in actors/wire/ledger_encoding.c, which the
    CLI links too.)
    ========================================================================= */

#ifndef LEDGER_PAYMENTS_H_INCLUDED
#define LEDGER_PAYMENTS_H_INCLUDED

#include "ca_store.h"

//  ---- handlers: rows of ledger.c's table ---------------------------------------------
//  Each answers through `reply` (its memory is the reply's); the request
//  stays the caller's. The writes are served by worker 0 (CA_ROUTE_ONE_WORKER).

//  LedgerPay: checks the payment and its signature, then sends the durable
//  write that moves its amount and stores it with its shares.
void ledger_payments_pay(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply);

//  LedgerPay committed: answers the payment as stored (the request's, not cleared).
void ledger_payments_paid(ca_store_t *store, const Cairn__Request *request,
                          const Cairn__Internal__WriteReply *write, ca_reply_t *reply);

//  LedgerPending: a page of a channel's payments not cleared, oldest first,
//  each with its shares.
void ledger_payments_pending(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply);

//  LedgerClear: sends the write that marks the named payments cleared
//  (answers at once when none are named).
void ledger_payments_clear(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply);

//  LedgerClear committed: answers how many payments it cleared.
void ledger_payments_cleared(ca_store_t *store, const Cairn__Request *request,
                             const Cairn__Internal__WriteReply *write, ca_reply_t *reply);

//  ---- from ledger.c: what the channels and the payments share ---------------------

//  A peer id field (NULL counts as empty); INVALID (reply set) naming `field` if bad.
bool ledger_peer_ok(const char *field, const char *peer_id, ca_reply_t *reply);

//  Whether the channel of `peer_id` exists; NOT_FOUND (reply set) if not.
bool ledger_channel_known(ca_store_t *store, const char *peer_id, ca_reply_t *reply);

//  Adds to `write` the guard that the channel of `peer_id` exists (NOT_FOUND).
void ledger_write_channel_exists(ca_write_t *write, const char *peer_id);

//  A read of `stmt` failed with `rc`: the reply says it could not `what`, and to retry.
void ledger_read_failed(ca_reply_t *reply, sqlite3_stmt *stmt, int rc, const char *what);

//  The payments' own self-test (the canonical encoding, byte for byte);
//  ledger_test runs it, and drives the handlers through a testbed.
void ledger_payments_test(bool verbose);

#endif

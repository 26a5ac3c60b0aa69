/*  =========================================================================
    ledger - payment channels with their peers and the payments made on
    them (LedgerOpen, LedgerGet, LedgerUpdate, LedgerList, LedgerAdjust,
    LedgerPay, LedgerPending, LedgerClear); pool "ledger", schema "ledger"
    ========================================================================= */

#ifndef LEDGER_H_INCLUDED
#define LEDGER_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

extern const ca_schema_t ledger_schema;

//  The store's description. Every write is durable (synchronous=FULL) and
//  served by worker 0.
extern const ca_store_def_t ledger_store_def;

//  Largest balance, amount, nonce and channel sum the ledger holds: amounts
//  live in SQLite INTEGER columns (signed 64-bit), so the wire's uint64 is
//  limited to 2^63-1; anything larger is refused as INVALID.
#define LEDGER_AMOUNT_MAX INT64_MAX

//  Pages: open channels per LedgerList answer, pending payments per
//  LedgerPending answer and log entries per LedgerHistory answer, when the
//  request's limit is 0 and at most (a larger limit is INVALID). A payment
//  carries up to 1000 shares, so a pending page is bounded by the most a
//  client can ask for, not by what the channel holds.
#define LEDGER_LIST_DEFAULT    1000
#define LEDGER_LIST_MAX        1000
#define LEDGER_PENDING_DEFAULT 1000
#define LEDGER_PENDING_MAX     10000
#define LEDGER_HISTORY_MAX     1000

//  The canonical encoding of a payment that its Ed25519 signature covers
//  (see the Payment message in schemas/cairn.proto; this and
//  ledger_payment_verify are defined in ledger_payments.c). NULL when a field
//  cannot be encoded (id, query hash or a share root not 32 bytes, a
//  recipient over 65535 bytes). Caller frees; *size_p is its length.
uint8_t *ledger_payment_encode(const Cairn__Payment *payment, size_t *size_p);

//  Whether `signature` (64 bytes) is the Ed25519 signature by `public_key`
//  (32 bytes) of the payment's canonical encoding.
bool ledger_payment_verify(const Cairn__Payment *payment, const uint8_t *public_key);

void ledger_test(bool verbose);

//  ---- fixtures: the requests of the self-test and of tests/e2e_ledger.c, sent
//  through `caller` (a testbed or a node); a returned response is the
//  caller's to free; a failed check aborts.

//  The reason every fixture adjustment carries.
#define LEDGER_FIXTURE_REASON "test deposit"

//  LedgerOpen of an open channel with `peer` and these balances.
Cairn__Response *ledger_fixture_open(ca_caller_t *caller, const char *peer, uint64_t mine,
                                     uint64_t theirs);
Cairn__Response *ledger_fixture_update(ca_caller_t *caller, const char *peer, uint64_t nonce,
                                       uint64_t mine, uint64_t theirs);
Cairn__Response *ledger_fixture_adjust(ca_caller_t *caller, const char *peer, int64_t mine,
                                       int64_t theirs);

//  The channel with `peer` has these balances and nonce (and sane times).
void ledger_fixture_expect_channel(ca_caller_t *caller, const char *peer, uint64_t mine,
                                   uint64_t theirs, uint64_t nonce);

#endif

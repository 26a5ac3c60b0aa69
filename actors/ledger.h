/*  =========================================================================
    ledger - payment channels with their peers and the payments made on
    them; pool "ledger", schema "ledger" (requests: schemas/ledger.proto)
    ========================================================================= */

#ifndef LEDGER_H_INCLUDED
#define LEDGER_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"
#include "ledger_encoding.h" //  ledger_payment_encode and _verify

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

//  The update rules on `peer`'s open channel, whose nonce is below `nonce`
//  and whose balances add up to mine + theirs (not 0): the update to
//  `nonce` with mine/theirs is taken; it again, a lower nonce or nonce 0 is
//  CONFLICT; a fresh nonce with a sum that differs is INVALID; a peer
//  without a channel is NOT_FOUND. The channel ends at mine/theirs, `nonce`.
void ledger_fixture_update_rules(ca_caller_t *caller, const char *peer, uint64_t nonce,
                                 uint64_t mine, uint64_t theirs);

//  The adjustment bounds on `peer`'s channel at mine/theirs, `nonce`: a
//  delta taking either balance below zero, one above 2^63-1 and one of
//  -2^63 are INVALID; a peer without a channel is NOT_FOUND; nothing moves.
void ledger_fixture_adjust_bounds(ca_caller_t *caller, const char *peer, uint64_t mine,
                                  uint64_t theirs, uint64_t nonce);

//  Walks LedgerList `limit` at a time, each cursor the last peer of the
//  page before: `peers` (the `total` open channels, sorted) each once, in
//  order, open, `more` on every page but the last. Returns the pages.
size_t ledger_fixture_walk_channels(ca_caller_t *caller, uint32_t limit, char (*peers)[16],
                                    size_t total);

#endif

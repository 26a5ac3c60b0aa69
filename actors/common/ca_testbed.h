/*  =========================================================================
    ca_testbed - a writer and one store worker in a temp dir, for self-tests

    Store self-tests drive their actor through its real socket, as the
    gateway would: ca_testbed_call sends a Request and waits (with a
    timeout, never a sleep) for the matching Response.
    ========================================================================= */

#ifndef CA_TESTBED_H_INCLUDED
#define CA_TESTBED_H_INCLUDED

#include "ca_store.h"
#include "cairn.pb-c.h"

typedef struct _ca_testbed_t ca_testbed_t;

//  Starts a writer (with the store's schema) and one worker of `def`.
ca_testbed_t *ca_testbed_new(const ca_store_def_t *def);

//  The same, migrating `count` other stores' schemas first (for a store
//  whose SQL reads another store's tables).
ca_testbed_t *ca_testbed_new_with(const ca_store_def_t *def, const ca_schema_t *const *before,
                                  size_t count);
//  The settings a testbed worker gets by default (the node's defaults, no
//  ticks).
ca_store_settings_t ca_testbed_settings(void);

//  The same with chosen settings (e.g. ticks on, a small cache budget).
ca_testbed_t *ca_testbed_new_full(const ca_store_def_t *def, const ca_schema_t *const *before,
                                  size_t count, const ca_store_settings_t *settings);
void ca_testbed_destroy(ca_testbed_t **self_p);

//  Path of the testbed's temp data dir.
const char *ca_testbed_dir(ca_testbed_t *self);

//  Sends `request`, returns its response (caller frees with
//  cairn__response__free_unpacked), NULL after a 10 s timeout.
Cairn__Response *ca_testbed_call(ca_testbed_t *self, const Cairn__Request *request);

//  The testbed's caller (ca_caller.h), owned by the testbed: what fixtures
//  shared with the e2e tests take.
typedef struct _ca_caller_t ca_caller_t;
ca_caller_t *ca_testbed_caller(ca_testbed_t *self);

//  Sends `request` with the caller's next request id and returns the
//  response; aborts when none comes or it answers another id.
Cairn__Response *ca_testbed_send(ca_testbed_t *self, Cairn__Request *request);

//  Checks that `response` is OK with a body of `body_case`; prints what
//  came and aborts otherwise. Returns the response (the caller frees it).
Cairn__Response *ca_testbed_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case);

//  Checks that `response` failed with `status` and an error containing
//  `fragment`; prints what came and aborts otherwise. Frees the response.
void ca_testbed_fails(Cairn__Response *response, Cairn__Status status, const char *fragment);

//  Sends raw bytes as a request frame and returns the response.
Cairn__Response *ca_testbed_call_raw(ca_testbed_t *self, const void *data, size_t size);

//  Receives the next Response on a socket (aborts when none comes).
typedef Cairn__Response *(ca_test_recv_fn)(zsock_t *socket);

//  After a flood of `count` requests (ids from `first`) and then a request
//  with id `barrier`, all on one connection: reads answers with `recv` up to
//  the barrier's, checks that each before it is BUSY with `fragment` for
//  one of the flood, and returns how many came BUSY.
unsigned ca_test_count_busy(ca_test_recv_fn *recv, zsock_t *socket, uint64_t first, unsigned count,
                            uint64_t barrier, const char *fragment);

//  Makes a fresh empty temp directory; caller frees the path.
char *ca_test_tempdir(const char *prefix);

//  Removes a directory tree made by a test.
void ca_test_rmtree(const char *path);

#endif

/*  =========================================================================
    ca_caller - one way for a test to send a request and check its answer,
    whether a testbed store or a real node's endpoint answers it

    A fixture or a per-request wrapper is written once, against a caller,
    and serves a store's self-test (over a ca_testbed) and its end-to-end
    test (over a DEALER connected to a cairnd) alike. The caller numbers
    requests itself, checks that the answer carries the request's id, and
    aborts the test, saying what came, when an answer is missing or not the
    one wanted. It lives in the core library because the actors' self-tests
    compile into it; the e2e kit (tests/kit) builds on it.
    ========================================================================= */

#ifndef CA_CALLER_H_INCLUDED
#define CA_CALLER_H_INCLUDED

#include "ca_testbed.h"
#include "cairn.pb-c.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct _ca_caller_t ca_caller_t;

//  A check in a test or a fixture: says file, line and condition, then
//  aborts. Never compiled out, unlike assert.
#define CA_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

//  A caller over `testbed` (still the caller's own).
ca_caller_t *ca_caller_new_testbed(ca_testbed_t *testbed);

//  A caller over `dealer`, connected to a node's client endpoint (still the
//  caller's own); an answer must come within timeout_ms.
ca_caller_t *ca_caller_new_socket(zsock_t *dealer, int timeout_ms);

void ca_caller_destroy(ca_caller_t **self_p);

//  The testbed under a testbed caller (for what only a testbed does, e.g.
//  ca_testbed_call_raw); NULL for a socket caller.
ca_testbed_t *ca_caller_testbed(ca_caller_t *self);

//  Sends `request` with the next request id and returns the response (the
//  caller frees it); aborts when none comes or it answers another id.
Cairn__Response *ca_caller_call(ca_caller_t *self, Cairn__Request *request);

//  ca_caller_call, checked OK with a body of `body_case` (ca_response_ok).
Cairn__Response *ca_caller_ok(ca_caller_t *self, Cairn__Request *request,
                              Cairn__Response__BodyCase body_case);

//  ca_caller_call, checked to fail with `status` and `fragment`
//  (ca_response_fails); frees the response.
void ca_caller_fails(ca_caller_t *self, Cairn__Request *request, Cairn__Status status,
                     const char *fragment);

//  A request id no other request of this process had (for requests a test
//  sends on a socket itself, e.g. pipelined).
uint64_t ca_caller_next_id(void);

//  ---- answers ------------------------------------------------------------------

//  Checks that `response` arrived with `status` and, when `fragment` is not
//  NULL, that its error contains it; prints what came and aborts otherwise.
//  Returns the response (still the caller's to free).
Cairn__Response *ca_response_expect(Cairn__Response *response, Cairn__Status status,
                                    const char *fragment);

//  ca_response_expect of OK with a body of `body_case`; the response stays
//  the caller's to free.
Cairn__Response *ca_response_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case);

//  ca_response_expect of `status` and `fragment`, then frees the response.
void ca_response_check(Cairn__Response *response, Cairn__Status status, const char *fragment);

//  ca_response_check of a failure (`status` is not OK).
void ca_response_fails(Cairn__Response *response, Cairn__Status status, const char *fragment);

//  ---- frames on a DEALER to a node ---------------------------------------------------

//  Sends one request frame. Returns 0 or -1.
int ca_caller_send(zsock_t *dealer, const Cairn__Request *request);

//  Receives one response within timeout_ms; NULL on timeout or a frame that
//  is no Response. Caller frees with cairn__response__free_unpacked.
Cairn__Response *ca_caller_recv(zsock_t *dealer, int timeout_ms);

//  Sends `request` (its id as set) and receives its response; NULL when
//  none came in time or it answered another id (said on stderr).
Cairn__Response *ca_caller_exchange(zsock_t *dealer, const Cairn__Request *request, int timeout_ms);

#endif

/*  =========================================================================
    ca_caller - send a request to a testbed or a node and check the answer

    Two kinds of caller share one struct: a testbed caller hands requests to
    ca_testbed_call, a socket caller sends them as frames on a DEALER. Both
    number requests from one process-wide counter, so ids stay unique when
    a test mixes a caller with frames it sends itself.
    ========================================================================= */

#include "ca_caller.h"
#include "ca_wire_dump.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ca_caller_t {
    ca_testbed_t *testbed; //  or NULL for a socket caller
    zsock_t *dealer;
    int timeout_ms;
};

static atomic_uint_fast64_t s_last_id;

uint64_t ca_caller_next_id(void) {
    return (uint64_t)atomic_fetch_add(&s_last_id, 1) + 1;
}

ca_caller_t *ca_caller_new_testbed(ca_testbed_t *testbed) {
    ca_caller_t *self = (ca_caller_t *)zmalloc(sizeof(ca_caller_t));
    self->testbed = testbed;
    return self;
}

ca_caller_t *ca_caller_new_socket(zsock_t *dealer, int timeout_ms) {
    ca_caller_t *self = (ca_caller_t *)zmalloc(sizeof(ca_caller_t));
    self->dealer = dealer;
    self->timeout_ms = timeout_ms;
    return self;
}

void ca_caller_destroy(ca_caller_t **self_p) {
    if (*self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

ca_testbed_t *ca_caller_testbed(ca_caller_t *self) {
    return self->testbed;
}

Cairn__Response *ca_caller_call(ca_caller_t *self, Cairn__Request *request) {
    request->id = ca_caller_next_id();
    Cairn__Response *response = self->testbed
                                    ? ca_testbed_call(self->testbed, request)
                                    : ca_caller_exchange(self->dealer, request, self->timeout_ms);
    if (!response || response->id != request->id) {
        fprintf(stderr, "\ncaller: no answer to request %llu\n", (unsigned long long)request->id);
        abort();
    }
    return response;
}

Cairn__Response *ca_caller_ok(ca_caller_t *self, Cairn__Request *request,
                              Cairn__Response__BodyCase body_case) {
    return ca_response_ok(ca_caller_call(self, request), body_case);
}

void ca_caller_fails(ca_caller_t *self, Cairn__Request *request, Cairn__Status status,
                     const char *fragment) {
    ca_response_fails(ca_caller_call(self, request), status, fragment);
}

//  ---- answers ------------------------------------------------------------------

Cairn__Response *ca_response_expect(Cairn__Response *response, Cairn__Status status,
                                    const char *fragment) {
    if (!response) {
        fprintf(stderr, "\nno response, wanted status %d\n", status);
        abort();
    }
    if (response->status != status || (fragment && !strstr(response->error, fragment))) {
        fprintf(stderr, "\ngot status %d '%s', wanted %d '%s'\n", response->status, response->error,
                status, fragment ? fragment : "");
        abort();
    }
    return response;
}

Cairn__Response *ca_response_ok(Cairn__Response *response, Cairn__Response__BodyCase body_case) {
    ca_response_expect(response, CAIRN__STATUS__OK, NULL);
    if (response->body_case != body_case) {
        fprintf(stderr, "\ngot body %d, wanted %d\n", response->body_case, body_case);
        abort();
    }
    return response;
}

void ca_response_check(Cairn__Response *response, Cairn__Status status, const char *fragment) {
    cairn__response__free_unpacked(ca_response_expect(response, status, fragment), NULL);
}

void ca_response_fails(Cairn__Response *response, Cairn__Status status, const char *fragment) {
    ca_response_check(response, status, fragment);
}

//  ---- frames on a DEALER to a node ---------------------------------------------------

int ca_caller_send(zsock_t *dealer, const Cairn__Request *request) {
    size_t size = cairn__request__get_packed_size(request);
    zframe_t *frame = zframe_new(NULL, size);
    cairn__request__pack(request, zframe_data(frame));
    ca_wire_dump(true, zframe_data(frame), size);
    int rc = zframe_send(&frame, dealer, 0);
    zframe_destroy(&frame); //  left to us when the send failed (a send timeout)
    return rc;
}

Cairn__Response *ca_caller_recv(zsock_t *dealer, int timeout_ms) {
    zpoller_t *poller = zpoller_new(dealer, NULL);
    void *which = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    if (which != dealer)
        return NULL;
    zframe_t *frame = zframe_recv(dealer);
    if (!frame)
        return NULL;
    ca_wire_dump(false, zframe_data(frame), zframe_size(frame));
    Cairn__Response *response =
        cairn__response__unpack(NULL, zframe_size(frame), zframe_data(frame));
    zframe_destroy(&frame);
    return response;
}

Cairn__Response *ca_caller_exchange(zsock_t *dealer, const Cairn__Request *request,
                                    int timeout_ms) {
    if (ca_caller_send(dealer, request) != 0)
        return NULL;
    Cairn__Response *response = ca_caller_recv(dealer, timeout_ms);
    if (response && response->id != request->id) {
        fprintf(stderr, "caller: response id %llu for request %llu\n",
                (unsigned long long)response->id, (unsigned long long)request->id);
        cairn__response__free_unpacked(response, NULL);
        return NULL;
    }
    return response;
}

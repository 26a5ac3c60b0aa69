/*  =========================================================================
    peer_admission - decides who may open a CURVE session on the peer
    endpoint (ZAP domain "peer"), from the peers table

    The ZAP handler (ca_curve) calls peer_admission_admit on its own thread
    for every handshake on the peer endpoint, with the client's CURVE
    public key. A peer's CURVE key is derived from its Ed25519 key (its
    peer id), so the table's keys are mapped once per change of the
    database (PRAGMA data_version), not per handshake:

        peers row with that key, blocked         refused (both modes)
        peers row with that key, not blocked     admitted
        no row                                   open: admitted while the table
                                                 holds fewer than PEER_OPEN_ROWS_MAX
                                                 rows, then refused (logged);
                                                 allow-list: refused
        the table cannot be read                 refused, logged

    Why the cap in open mode: every new key that completes a Hello becomes
    a peers row (and is redialed), and each handshake after a change maps
    the whole table, so keys made for the purpose would grow both without
    bound. An operator who wants more peers than that lists them.

    It reads with its own read-only connection, opened at the first
    handshake on the handler's thread.
    ========================================================================= */

#ifndef PEER_ADMISSION_H_INCLUDED
#define PEER_ADMISSION_H_INCLUDED

//  Rows of the peers table past which open mode admits no new key.
#define PEER_OPEN_ROWS_MAX 4096

#include "ca_curve.h"

#include <stdbool.h>

typedef struct _peer_admission_t peer_admission_t;

peer_admission_t *peer_admission_new(const char *db_path, bool allow_list);
void peer_admission_destroy(peer_admission_t **self_p);

//  peer_admission changed by a SIGHUP (node_reload), from the next
//  handshake on. The one field that changes after start: an atomic, since
//  the node sets it on the main thread while the ZAP handler reads it on
//  its own. Sessions open stay: a peer admitted in open mode has a row.
void peer_admission_set_allow_list(peer_admission_t *self, bool allow_list);

//  A ca_curve_admit_fn: `state` is a peer_admission_t.
bool peer_admission_admit(void *state, const uint8_t key[CA_CURVE_KEY_BYTES]);

#endif

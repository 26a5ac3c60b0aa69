/*  =========================================================================
    ca_curve - CURVE authentication of an endpoint: server key, allow-list,
    ZAP handler

    An endpoint that authenticates its clients is a CURVE server (it holds
    a key pair whose public half clients must know) with a ZAP domain; the
    ZAP handler, an actor bound on inproc://zeromq.zap.01 in the process's
    one ZeroMQ context, answers every handshake of every such socket: for
    the socket's domain, a client whose public key is on that domain's
    allow-list gets in, any other client's handshake fails (it never gets
    an answer to anything). The client endpoint uses the domain "client";
    the peer endpoint adds the domain "peer" to the same handler (libzmq
    allows one handler per context), decided by code instead of a file
    (`admit`: actors/peer_admission.c reads the peers table).

    Files (in <data dir>/curve/, a 0700 directory):

        server.key   the node's own key pair (a ca_curve_key file, 0600),
                     made on the first start that needs it, for a node
                     without an identity; a node with one derives its key
                     from the identity instead
        clients      the client endpoint's allow-list: one public key a line
                     (40 Z85 characters or 64 hex digits) as the line's
                     first word, then any text; a line whose first word
                     is not a key but starts with '#' is a comment (Z85
                     itself may hold '#'); blank lines are ignored

    Reload: the handler looks at the list's modification time, change
    time, size and inode at every handshake and reads the file again when
    one changed, so a key added is accepted at the next connection and a
    key removed is refused at the next one (connections already made stay
    until they close). A list that is missing or unreadable allows nobody;
    a line that is not a key is skipped with a warning naming it.
    ========================================================================= */

#ifndef CA_CURVE_H_INCLUDED
#define CA_CURVE_H_INCLUDED

#include "ca_curve_key.h"

#include <czmq.h>
#include <stdbool.h>

#define CA_CURVE_DIR            "curve"
#define CA_CURVE_SERVER_KEY     "server.key"
#define CA_CURVE_CLIENTS        "clients"
#define CA_CURVE_CLIENT_DOMAIN  "client"
#define CA_CURVE_PEER_DOMAIN    "peer"
#define CA_CURVE_ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define CA_CURVE_MAX_KEYS       100000             //  keys one allow-list may hold
#define CA_CURVE_MAX_LIST_BYTES (16 * 1024 * 1024) //  a bigger list allows nobody

//  <data_dir>/curve/<name>; caller frees.
char *ca_curve_path(const char *data_dir, const char *name);

//  True when `endpoint` is reachable only from this host: tcp on a
//  loopback address (127.0.0.0/8, ::1, localhost, lo), ipc or inproc.
bool ca_curve_endpoint_is_local(const char *endpoint);

//  Creates <data_dir>/curve (0700) when absent, where the allow-list goes.
//  0, or -1 with *error (caller frees).
int ca_curve_dir_create(const char *data_dir, char **error);

//  Loads <data_dir>/curve/server.key, creating the dir (0700) and a new
//  key pair (0600) when it has none (*created set). 0, or -1 with *error
//  (caller frees).
int ca_curve_server_key(const char *data_dir, ca_curve_key_t *key, bool *created, char **error);

//  Makes `socket` (before it binds) a CURVE server with `key`, whose
//  handshakes the ZAP handler checks against the list of `domain`.
void ca_curve_apply_server(const ca_curve_key_t *key, const char *domain, zsock_t *socket);

//  ---- the allow-list ------------------------------------------------------------

typedef struct _ca_curve_allow_t ca_curve_allow_t;

//  An allow-list read from `path` (read at the first check).
ca_curve_allow_t *ca_curve_allow_new(const char *path);
void ca_curve_allow_destroy(ca_curve_allow_t **self_p);

//  Whether `key` is on the list, reading the file again first when it
//  changed (see Reload above).
bool ca_curve_allow_check(ca_curve_allow_t *self, const uint8_t key[CA_CURVE_KEY_BYTES]);

//  Keys on the list as last read (after a check).
size_t ca_curve_allow_size(ca_curve_allow_t *self);

//  ---- the ZAP handler -----------------------------------------------------------

//  Decides a handshake of a domain by code: true lets `key` (the client's
//  CURVE public key) in. Runs on the ZAP handler's thread.
typedef bool(ca_curve_admit_fn)(void *state, const uint8_t key[CA_CURVE_KEY_BYTES]);

//  One ZAP domain and what decides it: the allow-list file at
//  `allow_path`, or, when `admit` is set, admit(admit_state, key). The
//  state is handed over at zactor_new: only the handler's thread uses it
//  until the handler is destroyed; its owner frees it after that.
typedef struct {
    const char *domain;
    const char *allow_path;
    ca_curve_admit_fn *admit;
    void *admit_state;
} ca_curve_domain_t;

typedef struct {
    const ca_curve_domain_t *domains; //  copied at zactor_new
    size_t count;
} ca_curve_zap_config_t;

//  zactor_new(ca_curve_zap_actor, &config); ca_actor_start binds the ZAP
//  endpoint (fails when another handler has it). Start it before any
//  socket of its domains binds: without a handler, libzmq lets every
//  CURVE client in.
void ca_curve_zap_actor(zsock_t *pipe, void *args);

void ca_curve_test(bool verbose);

#endif

/*  =========================================================================
    node - one cairn node: data dir, writer, store pools, gateway

    Used by cairnd's main, by the fuzz target and by tests that need a whole
    node in-process. Start order is dependency order (writer, stores,
    gateway); stop is the reverse, after the gateway has drained.
    ========================================================================= */

#ifndef NODE_H_INCLUDED
#define NODE_H_INCLUDED

#include "ca_curve_key.h"
#include "ca_store.h"
#include "node_config.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct _node_t node_t;

//  How long node_reload waits for the actors to take new settings.
#define NODE_RELOAD_WAIT_MS 1000

//  The config must outlive the node.
node_t *node_new(const node_config_t *config);

//  The node's identity for Info (hex public key; NULL: none). Before
//  node_start; copied.
void node_set_peer_id(node_t *self, const char *peer_id);

//  The node's CURVE key pair, derived from its identity (identity_curve_key;
//  copied). Without one, a node whose client endpoint needs CURVE keeps its
//  own pair in <data dir>/curve/server.key. Before node_start.
void node_set_curve_key(node_t *self, const ca_curve_key_t *key);

//  Creates and locks the data dir, starts every actor. Returns 0, or -1 with
//  *error (caller frees) and nothing left running.
int node_start(node_t *self, char **error);

//  The client endpoint as bound (a tcp port 0 resolved). Caller frees. Asks
//  the gateway on its pipe: call it from start-up, not after a SIGHUP whose
//  late answers (node_reload) may still wait there.
char *node_endpoint(node_t *self);

//  Settings node_reload applies to a running node; every other one (but
//  the log settings, which cairnd applies itself) waits for a restart.
bool node_reloadable(const char *name);

//  SIGHUP: hands the reloadable settings of `fresh` to the actors that hold
//  them (gateway: client limits; writer: max_db_bytes, min_free_bytes;
//  every store worker: the stores' size limits; peer actor and ZAP
//  handler: bootstrap_peers, peer_admission) and waits until each has
//  them, at most NODE_RELOAD_WAIT_MS (an actor busy with a long request
//  takes them when it ends; logged). 0, or -1 with *error (caller frees)
//  and *failed naming the setting not applied; the others are applied all
//  the same.
int node_reload(node_t *self, const node_config_t *fresh, char **error, const char **failed);

//  Orderly stop: new requests get UNAVAILABLE, accepted ones are answered
//  (up to drain_ms), queued writes commit, actors stop in reverse order.
void node_stop(node_t *self);

//  Stops if still running, releases the data dir.
void node_destroy(node_t **self_p);

//  Takes the data dir's lock (an exclusive flock on cairnd.lock, made if
//  missing, with this process's PID written into it), as a running node
//  holds it; keep the descriptor open to keep the lock. -1 with *error
//  (caller frees) when it cannot, naming the PID of the cairnd holding it.
//  For offline tools (cairnd check) that must not run beside a node.
int node_lock_data_dir(const char *dir, char **error);

//  Every store pool a node serves (the table the gateway routes by), for
//  tools and tests that need to know which request kinds exist.
const ca_store_def_t *const *node_store_defs(size_t *count);

//  Descriptors the process `pid` (0: this one) holds now, from /proc; -1
//  when /proc does not say. Sizes the default max_clients.
long node_open_descriptors(pid_t pid);

//  Self-test: every request kind of the wire (each member of Request.body)
//  is served, by the gateway itself or by exactly one handler row of one
//  store, within the gateway's routing table; and no row serves a kind the
//  wire does not have. A new request kind without its handler row fails here.
void node_test(bool verbose);

#endif

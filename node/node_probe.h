/*  =========================================================================
    node_probe - is a tcp:// endpoint free to bind, before the node touches
    its data dir

    A node whose client (or peer, or metrics) endpoint is taken used to find
    out only when the gateway bound it, after it had created and migrated
    the data dir: a first start with a wrong port left a fresh data dir
    behind. node_start probes each tcp endpoint (before it makes a new data
    dir; after it locked an existing one, so that a second cairnd on the
    same dir hears about the lock) with a plain socket,
    bound and closed at once (never listening, so the port is free again
    when the gateway binds it): SO_REUSEADDR as libzmq sets it, so the
    probe fails exactly when libzmq's bind would, on a port another socket
    listens on. Hosts that are not numeric (an interface or a DNS name) and
    ports 0 and * are left to libzmq's own bind.
    ========================================================================= */

#ifndef NODE_PROBE_H_INCLUDED
#define NODE_PROBE_H_INCLUDED

//  NULL when `endpoint` (tcp://HOST:PORT, or any other transport) may be
//  bound; else what is wrong, naming `setting` and what to do (caller frees).
char *node_probe_endpoint(const char *setting, const char *flag, const char *endpoint);

void node_probe_test(bool verbose);

#endif

/*  =========================================================================
    node_notify - tells systemd (Type=notify) that cairnd is ready or stopping
    ========================================================================= */

#ifndef NODE_NOTIFY_H_INCLUDED
#define NODE_NOTIFY_H_INCLUDED

//  Sends `state` ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET. 0 when sent
//  or when there is no NOTIFY_SOCKET; -1 (logged) when it could not be.
int node_notify(const char *state);

#endif

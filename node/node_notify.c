/*  =========================================================================
    node_notify - tells systemd (Type=notify) that cairnd is ready or stopping

    The sd_notify protocol without libsystemd: when NOTIFY_SOCKET names a
    unix datagram socket (a path, or "@name" for an abstract one), one
    datagram "READY=1" once the node serves, "STOPPING=1" when it begins to
    drain. Without NOTIFY_SOCKET (not run by systemd) it does nothing.
    ========================================================================= */

#include "node_notify.h"
#include "ca_log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int node_notify(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || length >= sizeof address.sun_path) {
        ca_log_warning("cairnd: NOTIFY_SOCKET '%s' is not a unix socket path; systemd is not told",
                       path);
        return -1;
    }
    memcpy(address.sun_path, path, length);
    if (path[0] == '@')
        address.sun_path[0] = '\0'; //  an abstract socket
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ssize_t sent =
        fd < 0 ? -1
               : sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&address,
                        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length));
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (sent != (ssize_t)strlen(state)) {
        ca_log_warning("cairnd: cannot tell systemd %s through %s: %s", state, path,
                       strerror(saved));
        return -1;
    }
    return 0;
}

/*  =========================================================================
    node_probe - is a tcp:// endpoint free to bind (see node_probe.h)
    ========================================================================= */

#include <czmq.h>

#include "node_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

//  Splits tcp://HOST:PORT ([V6]:PORT) into an address; false when the host
//  is not numeric or the port is 0 or *: nothing to probe.
static bool s_address(const char *endpoint, struct sockaddr_storage *address, socklen_t *length) {
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return false;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return false;
    char name[64];
    size_t size = (size_t)(colon - host);
    if (host[0] == '[' && size > 2 && host[size - 1] == ']') {
        host++;
        size -= 2;
    }
    if (size >= sizeof name)
        return false;
    memcpy(name, host, size);
    name[size] = 0;
    memset(address, 0, sizeof *address);
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
    if (streq(name, "*") || inet_pton(AF_INET, name, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        if (streq(name, "*"))
            v4->sin_addr.s_addr = htonl(INADDR_ANY);
        *length = sizeof *v4;
        return true;
    }
    if (inet_pton(AF_INET6, name, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *length = sizeof *v6;
        return true;
    }
    return false;
}

char *node_probe_endpoint(const char *setting, const char *flag, const char *endpoint) {
    struct sockaddr_storage address;
    socklen_t length = 0;
    if (!endpoint || !s_address(endpoint, &address, &length))
        return NULL;
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL; //  no socket to probe with: the real bind will say
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    int rc = bind(fd, (struct sockaddr *)&address, length);
    int error = errno;
    close(fd);
    if (rc == 0)
        return NULL;
    if (error == EADDRINUSE)
        return zsys_sprintf("cannot use %s %s: the address is in use (another cairnd, or another "
                            "program, listens there); choose another with %s. Nothing was "
                            "created or changed",
                            setting, endpoint, flag);
    if (error == EADDRNOTAVAIL)
        return zsys_sprintf("cannot use %s %s: no interface of this machine has that address; "
                            "choose another with %s. Nothing was created or changed",
                            setting, endpoint, flag);
    if (error == EACCES)
        return zsys_sprintf("cannot use %s %s: binding that port needs privileges this process "
                            "lacks (ports under 1024); choose another with %s. Nothing was "
                            "created or changed",
                            setting, endpoint, flag);
    return NULL; //  anything else: left to the real bind, which names it
}

void node_probe_test(bool verbose) {
    (void)verbose;
    printf(" * node_probe: ");
    struct sockaddr_storage address;
    socklen_t length = 0;
    assert(!s_address("ipc:///tmp/x", &address, &length));
    assert(!s_address("tcp://127.0.0.1:*", &address, &length));
    assert(!s_address("tcp://127.0.0.1:0", &address, &length));
    assert(!s_address("tcp://eth0:7401", &address, &length));
    assert(!s_address("tcp://127.0.0.1:70000", &address, &length));
    assert(s_address("tcp://*:7401", &address, &length) && address.ss_family == AF_INET);
    assert(s_address("tcp://[::1]:7401", &address, &length) && address.ss_family == AF_INET6);
    //  A port something listens on is refused; once closed, free.
    zsock_t *taken = zsock_new(ZMQ_ROUTER);
    assert(taken);
    int port = zsock_bind(taken, "tcp://127.0.0.1:*");
    assert(port > 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    char *error = node_probe_endpoint("client_endpoint", "--client-endpoint", endpoint);
    assert(error && strstr(error, "in use") && strstr(error, "--client-endpoint"));
    zstr_free(&error);
    zsock_destroy(&taken);
    assert(!node_probe_endpoint("client_endpoint", "--client-endpoint", "tcp://127.0.0.1:*"));
    printf("OK\n");
}

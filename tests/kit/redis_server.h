/*  =========================================================================
    redis_server - a real redis-server for tests, on a free loopback port
    in its own temp dir, started, killed and restarted by its PID

    Readiness is a PING answered within a deadline (polled, no sleeps as
    synchronisation). No persistence (save "", appendonly no): a killed
    server comes back empty. A test without redis-server on $PATH skips by
    checking redis_server_available() first.
    ========================================================================= */

#ifndef REDIS_SERVER_H_INCLUDED
#define REDIS_SERVER_H_INCLUDED

#include <stdbool.h>
#include <sys/types.h>

typedef struct _redis_server_t redis_server_t;

//  Whether redis-server is installed.
bool redis_server_available(void);

//  Starts one (password: NULL or a requirepass); NULL when it did not answer
//  PING within 10 s.
redis_server_t *redis_server_start(const char *password);

int redis_server_port(redis_server_t *self);
pid_t redis_server_pid(redis_server_t *self);

//  SIGKILL by PID, reaped.
void redis_server_kill(redis_server_t *self);

//  Starts it again on the same port; 0 when it answers PING.
int redis_server_restart(redis_server_t *self);

//  Stops it (SIGTERM, then SIGKILL after 5 s) and removes its temp dir.
void redis_server_destroy(redis_server_t **self_p);

#endif

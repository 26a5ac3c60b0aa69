/*  =========================================================================
    redis_server - a real redis-server for tests (see redis_server.h)
    ========================================================================= */

#include "redis_server.h"
#include "harness.h"
#include "ca_testbed.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define REDIS_READY_MS 10000

struct _redis_server_t {
    pid_t pid;
    int port;
    char dir[256];
    char password[128];
    char *program;
};

bool redis_server_available(void) {
    char *path = harness_which("redis-server");
    free(path);
    return path != NULL;
}

static bool s_ping(redis_server_t *self) {
    struct timeval timeout = {0, 200 * 1000};
    redisContext *context = redisConnectWithTimeout("127.0.0.1", self->port, timeout);
    bool ok = false;
    if (context && !context->err) {
        redisReply *reply = self->password[0] ? redisCommand(context, "AUTH %s", self->password)
                                              : redisCommand(context, "PING");
        ok = reply && reply->type != REDIS_REPLY_ERROR;
        freeReplyObject(reply);
    }
    if (context)
        redisFree(context);
    return ok;
}

static int s_spawn(redis_server_t *self) {
    char port[16];
    snprintf(port, sizeof port, "%d", self->port);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        //  Its output goes to a log in its dir.
        char log[300];
        snprintf(log, sizeof log, "%s/redis.log", self->dir);
        FILE *out = freopen(log, "a", stdout);
        (void)out;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        const char *args[16] = {self->program, "--port",      port,     "--bind", "127.0.0.1",
                                "--dir",       self->dir,     "--save", "",       "--appendonly",
                                "no",          "--daemonize", "no"};
        int n = 13;
        if (self->password[0]) {
            args[n++] = "--requirepass";
            args[n++] = self->password;
        }
        args[n] = NULL;
        execv(self->program, (char *const *)args);
        _exit(127);
    }
    self->pid = pid;
    int64_t deadline = zclock_mono() + REDIS_READY_MS;
    while (zclock_mono() < deadline) {
        if (s_ping(self))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            self->pid = 0;
            return -1; //  exited: e.g. the port was taken
        }
        zclock_sleep(20); //  polling interval, not synchronisation
    }
    return -1;
}

redis_server_t *redis_server_start(const char *password) {
    redis_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->program = harness_which("redis-server");
    char *dir = ca_test_tempdir("cairn-redis");
    snprintf(self->dir, sizeof self->dir, "%s", dir ? dir : "");
    free(dir);
    snprintf(self->password, sizeof self->password, "%s", password ? password : "");
    if (!self->program || !self->dir[0]) {
        free(self->program);
        free(self);
        return NULL;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        self->port = harness_free_port();
        if (s_spawn(self) == 0)
            return self;
        redis_server_kill(self);
    }
    redis_server_destroy(&self);
    return NULL;
}

int redis_server_port(redis_server_t *self) {
    return self->port;
}

pid_t redis_server_pid(redis_server_t *self) {
    return self->pid;
}

void redis_server_kill(redis_server_t *self) {
    if (self->pid > 0) {
        kill(self->pid, SIGKILL);
        int status;
        harness_wait_child(self->pid, 5000, &status);
    }
    self->pid = 0;
}

int redis_server_restart(redis_server_t *self) {
    redis_server_kill(self);
    return s_spawn(self);
}

void redis_server_destroy(redis_server_t **self_p) {
    redis_server_t *self = *self_p;
    if (!self)
        return;
    if (self->pid > 0) {
        kill(self->pid, SIGTERM);
        int status;
        if (harness_wait_child(self->pid, 5000, &status) != 0)
            redis_server_kill(self);
    }
    ca_test_rmtree(self->dir);
    free(self->program);
    free(self);
    *self_p = NULL;
}

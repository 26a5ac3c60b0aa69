/*  =========================================================================
    fs_trace - run a built program under strace and check durability

    See fs_trace.h. The log comes from `strace -f -y -s 4096`: one line per
    call, "PID  name(args) = result"; -y prints each descriptor with the
    file it is open on (`fsync(3</tmp/x/a.tmp>)`), so an fsync names what
    it synced without following open/close. A call interrupted by another
    thread's is split into "<unfinished ...>" and "<... name resumed>"
    lines of one PID, joined back here. Paths are compared after
    resolving the directory part (realpath), since -y shows resolved paths
    and a program may spell a parent "dir/..".
    ========================================================================= */

#include "fs_trace.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384
#define PENDING_MAX    64 //  threads with an unfinished call at once
#define EVENTS_MAX     100000

typedef enum { EVENT_SYNC, EVENT_MOVE, EVENT_MKDIR } event_kind_t;

//  One successful call of interest: a sync of `path`, a rename or link of
//  `path` to `target`, or a mkdir of `path`.
typedef struct {
    event_kind_t kind;
    char *path;
    char *target;
} event_t;

struct _fs_trace_t {
    event_t *events;
    size_t count;
    char *log_path;
};

//  `path` with its directory part resolved; the whole path when it exists.
//  Caller frees.
static char *s_normal(const char *path) {
    char resolved[PATH_MAX];
    if (realpath(path, resolved))
        return strdup(resolved);
    char *dir_copy = strdup(path), *base_copy = strdup(path);
    char *result = NULL;
    if (realpath(dirname(dir_copy), resolved))
        result = zsys_sprintf("%s/%s", streq(resolved, "/") ? "" : resolved, basename(base_copy));
    else
        result = strdup(path);
    free(dir_copy);
    free(base_copy);
    return result;
}

//  The directory holding `path`, resolved. Caller frees.
static char *s_parent(const char *path) {
    char *copy = strdup(path);
    char *parent = s_normal(dirname(copy));
    free(copy);
    return parent;
}

//  The `nth` (0-based) quoted string after `from`, unescaped; NULL when
//  there is none. Caller frees.
static char *s_quoted(const char *from, int nth) {
    const char *at = from;
    for (int i = 0; i <= nth; i++) {
        at = strchr(at, '"');
        if (!at)
            return NULL;
        const char *start = ++at;
        char *text = (char *)malloc(strlen(start) + 1);
        size_t length = 0;
        while (*at && *at != '"') {
            if (*at == '\\' && at[1])
                at++;
            text[length++] = *at++;
        }
        text[length] = 0;
        if (!*at) {
            free(text);
            return NULL;
        }
        at++;
        if (i == nth)
            return text;
        free(text);
    }
    return NULL;
}

//  The file -y printed for the call's first argument: "name(3</x/y>)".
static char *s_fd_path(const char *open_paren) {
    const char *start = strchr(open_paren, '<');
    const char *end = start ? strstr(start, ">)") : NULL;
    return end ? strndup(start + 1, (size_t)(end - start - 1)) : NULL;
}

static void s_add(fs_trace_t *self, event_kind_t kind, char *path, char *target) {
    if (!path || self->count == EVENTS_MAX) {
        free(path);
        free(target);
        return;
    }
    self->events[self->count++] = (event_t){kind, s_normal(path), target ? s_normal(target) : NULL};
    free(path);
    free(target);
}

//  One whole call "name(args) = result"; keeps it when it succeeded and is
//  one we look at.
static void s_parse_call(fs_trace_t *self, const char *call) {
    const char *paren = strchr(call, '(');
    const char *result = strstr(call, ") = ");
    if (!paren || !result || strtol(result + 4, NULL, 10) < 0)
        return;
    size_t name_size = (size_t)(paren - call);
    char name[32];
    if (name_size == 0 || name_size >= sizeof name)
        return;
    memcpy(name, call, name_size);
    name[name_size] = 0;
    if (streq(name, "fsync") || streq(name, "fdatasync"))
        s_add(self, EVENT_SYNC, s_fd_path(paren), NULL);
    else if (streq(name, "rename") || streq(name, "renameat") || streq(name, "renameat2") ||
             streq(name, "link") || streq(name, "linkat"))
        s_add(self, EVENT_MOVE, s_quoted(paren, 0), s_quoted(paren, 1));
    else if (streq(name, "mkdir") || streq(name, "mkdirat"))
        s_add(self, EVENT_MKDIR, s_quoted(paren, 0), NULL);
}

typedef struct {
    long pid;
    char *head; //  the call up to "<unfinished ...>"
} pending_t;

//  One log line "PID  text": a whole call, the first half of one, or the
//  rest of one ("<... name resumed>rest").
static void s_parse_line(fs_trace_t *self, pending_t *pending, char *line) {
    char *text = NULL;
    long pid = strtol(line, &text, 10);
    while (*text == ' ')
        text++;
    char *unfinished = strstr(text, " <unfinished ...>");
    if (unfinished) {
        *unfinished = 0;
        for (int i = 0; i < PENDING_MAX; i++)
            if (!pending[i].head) {
                pending[i] = (pending_t){pid, strdup(text)};
                break;
            }
        return;
    }
    if (strncmp(text, "<... ", 5) == 0) {
        char *rest = strstr(text, " resumed>");
        for (int i = 0; rest && i < PENDING_MAX; i++)
            if (pending[i].head && pending[i].pid == pid) {
                char *whole = zsys_sprintf("%s%s", pending[i].head, rest + 9);
                s_parse_call(self, whole);
                zstr_free(&whole);
                zstr_free(&pending[i].head);
                break;
            }
        return;
    }
    s_parse_call(self, text);
}

static fs_trace_t *s_load(const char *log_path) {
    FILE *file = fopen(log_path, "r");
    if (!file) {
        fprintf(stderr, "fs_trace: cannot read the strace log %s: %s\n", log_path, strerror(errno));
        return NULL;
    }
    fs_trace_t *self = (fs_trace_t *)calloc(1, sizeof(fs_trace_t));
    self->events = (event_t *)calloc(EVENTS_MAX, sizeof(event_t));
    self->log_path = strdup(log_path);
    pending_t pending[PENDING_MAX] = {{0, NULL}};
    char *line = (char *)malloc(LINE_MAX_BYTES);
    while (fgets(line, LINE_MAX_BYTES, file)) {
        line[strcspn(line, "\n")] = 0;
        s_parse_line(self, pending, line);
    }
    for (int i = 0; i < PENDING_MAX; i++)
        free(pending[i].head);
    free(line);
    fclose(file);
    return self;
}

harness_run_t fs_trace_run(const char *log_path, const char *path, const char *const *args,
                           const char *const *env_changes, int timeout_ms, fs_trace_t **trace_p) {
    *trace_p = NULL;
    char *strace = harness_which("strace");
    if (!strace) {
        fprintf(stderr, "fs_trace: strace is not installed, and this test watches the fsync "
                        "calls through it: install it (apt-get install strace; "
                        "deploy/install-deps does)\n");
        return (harness_run_t){.status = -1, .out = strdup(""), .err = strdup("")};
    }
    const char *prefix[] = {
        "-f", "-y",
        "-s", "4096",
        "-o", log_path,
        "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat,mkdir,mkdirat",
        path};
    size_t prefix_count = sizeof prefix / sizeof prefix[0];
    size_t count = 0;
    while (args[count])
        count++;
    const char **argv = (const char **)calloc(prefix_count + count + 1, sizeof(char *));
    memcpy(argv, prefix, sizeof prefix);
    memcpy(argv + prefix_count, args, count * sizeof(char *));
    //  LeakSanitizer stops the world with ptrace, which a traced process
    //  cannot: in a sanitizer build it would fail every traced run.
    const char *asan = getenv("ASAN_OPTIONS");
    char *no_leaks =
        zsys_sprintf("ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
    size_t env_count = 0;
    while (env_changes && env_changes[env_count])
        env_count++;
    const char **env = (const char **)calloc(env_count + 2, sizeof(char *));
    if (env_count)
        memcpy(env, env_changes, env_count * sizeof(char *));
    env[env_count] = no_leaks;
    unlink(log_path);
    harness_run_t run = harness_run(strace, argv, env, timeout_ms);
    free(env);
    zstr_free(&no_leaks);
    free(argv);
    free(strace);
    *trace_p = s_load(log_path);
    if (*trace_p && strstr(run.err, "strace: "))
        fprintf(stderr, "fs_trace: strace said: %s\n", run.err);
    return run;
}

void fs_trace_destroy(fs_trace_t **self_p) {
    fs_trace_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->events[i].path);
        free(self->events[i].target);
    }
    free(self->events);
    free(self->log_path);
    free(self);
    *self_p = NULL;
}

//  Prints the log and returns `message` (formatted) for the caller.
static char *s_missing(fs_trace_t *self, char *message) {
    fprintf(stderr, "fs_trace: %s; the strace log %s:\n", message, self->log_path);
    FILE *file = fopen(self->log_path, "r");
    char line[1024];
    while (file && fgets(line, sizeof line, file))
        if (!strstr(line, "---") && !strstr(line, "+++"))
            fputs(line, stderr);
    if (file)
        fclose(file);
    return message;
}

//  The first sync of `path` in events [from, to), or -1.
static long s_find_sync(fs_trace_t *self, const char *path, size_t from, size_t to) {
    for (size_t i = from; i < to && i < self->count; i++)
        if (self->events[i].kind == EVENT_SYNC && streq(self->events[i].path, path))
            return (long)i;
    return -1;
}

char *fs_trace_durable_file(fs_trace_t *self, const char *final) {
    char *target = s_normal(final);
    char *dir = s_parent(target);
    char *problem = NULL;
    size_t moved = 0;
    while (moved < self->count &&
           !(self->events[moved].kind == EVENT_MOVE && streq(self->events[moved].target, target)))
        moved++;
    struct stat info;
    if (moved == self->count)
        problem = zsys_sprintf("nothing was renamed or linked to %s", target);
    else if (s_find_sync(self, self->events[moved].path, 0, moved) < 0)
        problem = zsys_sprintf("%s was not fsynced before it was renamed or linked to %s",
                               self->events[moved].path, target);
    else if (s_find_sync(self, dir, moved + 1, self->count) < 0)
        problem =
            zsys_sprintf("the directory %s was not fsynced after %s got its name", dir, target);
    else if (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode))
        problem = zsys_sprintf("%s is not a directory", dir);
    zstr_free(&target);
    zstr_free(&dir);
    return problem ? s_missing(self, problem) : NULL;
}

char *fs_trace_durable_dir(fs_trace_t *self, const char *dir) {
    char *made = s_normal(dir);
    char *parent = s_parent(made);
    char *problem = NULL;
    size_t at = 0;
    while (at < self->count &&
           !(self->events[at].kind == EVENT_MKDIR && streq(self->events[at].path, made)))
        at++;
    //  The first file given a name inside the new dir: the parent's sync
    //  must come before it.
    size_t first_in = at;
    while (first_in < self->count) {
        const event_t *event = &self->events[first_in];
        char *inside = event->kind == EVENT_MOVE ? s_parent(event->target) : NULL;
        bool found = inside && streq(inside, made);
        free(inside);
        if (found)
            break;
        first_in++;
    }
    if (at == self->count)
        problem = zsys_sprintf("the run did not create the directory %s", made);
    else if (s_find_sync(self, parent, at + 1, first_in) < 0)
        problem = zsys_sprintf("the parent %s was not fsynced after %s was created%s", parent, made,
                               first_in < self->count ? " and before a file was named in it" : "");
    zstr_free(&made);
    zstr_free(&parent);
    return problem ? s_missing(self, problem) : NULL;
}

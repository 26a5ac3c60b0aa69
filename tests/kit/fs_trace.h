/*  =========================================================================
    fs_trace - run a built program under strace and check that what it
    wrote is durable: the file fsynced before its rename, the directory
    after, a new directory's parent fsynced before files go in it

    Shared by e2e_identity.c (the identity file and its dirs) and
    e2e_cli_content.c (`cairn content get -o FILE`). strace is a test
    dependency (deploy/install-deps installs it); without it the run fails
    with a message that says so, it never skips.
    ========================================================================= */

#ifndef FS_TRACE_H_INCLUDED
#define FS_TRACE_H_INCLUDED

#include "harness.h"

typedef struct _fs_trace_t fs_trace_t;

//  Runs `path` with `args` and `env_changes` as harness_run does, under
//  `strace -f -y` tracing fsync, fdatasync, rename*, link*, mkdir* into
//  `log_path`, with ASan's leak check off (LeakSanitizer cannot run in a
//  traced process). *trace_p is the parsed log, or NULL (with the reason on
//  stderr) when strace is missing or left no readable log.
harness_run_t fs_trace_run(const char *log_path, const char *path, const char *const *args,
                           const char *const *env_changes, int timeout_ms, fs_trace_t **trace_p);

//  Frees the parsed log; sets *self_p to NULL, safe twice.
void fs_trace_destroy(fs_trace_t **self_p);

//  NULL when `final` got its name by a rename or link from a file that was
//  fsynced before it, and final's directory was fsynced after it; else
//  what is missing (caller frees), with the log printed on stderr.
char *fs_trace_durable_file(fs_trace_t *self, const char *final);

//  NULL when the run made `dir` and fsynced its parent after the mkdir and
//  before any rename or link into `dir`; else what is missing (caller
//  frees), with the log printed on stderr.
char *fs_trace_durable_dir(fs_trace_t *self, const char *dir);

#endif

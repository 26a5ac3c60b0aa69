/*  =========================================================================
    node_export - `cairnd export FILE` and `cairnd import FILE`: every store
    of a data dir as JSON lines, and back into a new data dir, offline.
    The format is described in docs/EXPORT.md.
    ========================================================================= */

#ifndef NODE_EXPORT_H_INCLUDED
#define NODE_EXPORT_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

//  Exit statuses of `cairnd export` and `cairnd import`.
#define NODE_EXPORT_DONE    0 //  written / imported
#define NODE_EXPORT_FAILED  1 //  damaged input, I/O error, unreachable Redis; nothing kept
#define NODE_EXPORT_REFUSED 2 //  usage, node running, non-empty target, unknown schema

#define NODE_EXPORT_FORMAT  "cairn-export"
#define NODE_EXPORT_VERSION 1

//  `cairnd export`: with no node running on `data_dir` (it holds the data
//  dir's lock throughout), writes every store to `file` ("-": stdout) as
//  JSON lines. A Redis namespace whose server cannot be read fails the
//  export, unless `skip_redis` (its keys are then left out, and said so).
//  A regular `file` is written as `file`.tmp-PID (mode 0600) and renamed
//  into place only when whole: a failed export leaves `file` as it was.
int node_export_run(const char *data_dir, const char *file, bool skip_redis, FILE *out, FILE *err);

//  `cairnd import`: reads an export (`file`, "-": stdin) into a new data
//  dir (absent or empty), through a staging directory beside it that is
//  renamed into place only when every line was read, every count and
//  content hash matched, the rows committed in one transaction and
//  `cairnd check` found the copy clean. Redis namespaces' keys go to their
//  servers (which must hold none under the namespace's prefix), unless
//  `skip_redis`.
int node_import_run(const char *data_dir, const char *file, bool skip_redis, FILE *out, FILE *err);

#endif

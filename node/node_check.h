/*  =========================================================================
    node_check - offline checks of a data dir: `cairnd check`, and the
    torn-WAL warning the node logs at start

    `cairnd check` is for the operator, with the node stopped: it reads
    cairn.db, its WAL and the blob directories and says what is damaged
    and what to do. The node runs only the cheap part of this at start
    (quick_check in the writer, the orphan sweep, node_check_wal).
    ========================================================================= */

#ifndef NODE_CHECK_H_INCLUDED
#define NODE_CHECK_H_INCLUDED

#include <stdio.h>

//  Exit statuses of `cairnd check`.
#define NODE_CHECK_CLEAN   0 //  nothing found
#define NODE_CHECK_DAMAGED 1 //  findings printed
#define NODE_CHECK_UNUSED  2 //  could not check (usage, no database, node running)

//  Looks at <db_path>-wal before SQLite opens the database (opening
//  recovers the log and silently ignores what it cannot use). Returns NULL
//  when the WAL is absent, empty or whole; else what SQLite will ignore and
//  what to do (caller frees): a file shorter than its 32-byte header, a
//  header that is not valid (SQLite then ignores every frame), or a last
//  frame cut short (a size that is not the header plus whole frames of 24
//  bytes + one page).
char *node_check_wal(const char *db_path);

//  `cairnd check`: with no node running on `data_dir` (it takes the data
//  dir's lock for the whole check), runs PRAGMA integrity_check and
//  foreign_key_check on cairn.db, compares each store's schema version with
//  this cairnd's, looks at the WAL (node_check_wal), and checks every blob
//  directory against its index: files missing, of the wrong size or whose
//  SHA-256 is not their name, files without a row. Prints one line per
//  finding to `out` (at most NODE_CHECK_LIST per kind, then a count) and a
//  summary saying what to do; what stops it from checking goes to `err`.
//  Returns one of the NODE_CHECK_ statuses.
int node_check_run(const char *data_dir, FILE *out, FILE *err);

#define NODE_CHECK_LIST 10

//  Each blob directory, its index table (the tables the stores' prepare
//  sweeps by: content.c, cache.c) and the table of bytes kept inline in
//  the database instead of a file (content.c; NULL for the cache).
typedef struct {
    const char *dir;
    const char *table;
    const char *inline_table;
} node_blob_store_t;

#define NODE_BLOB_STORES 2
extern const node_blob_store_t node_blob_stores[NODE_BLOB_STORES];

#endif

/*  =========================================================================
    node_restore - `cairnd restore DIR --data-dir D`: installs a backup
    made by `cairn backup DIR` (actors/backup.c) as a new data dir, offline
    ========================================================================= */

#ifndef NODE_RESTORE_H_INCLUDED
#define NODE_RESTORE_H_INCLUDED

#include <stdio.h>

//  Exit statuses of `cairnd restore`.
#define NODE_RESTORE_DONE    0 //  installed and checked clean
#define NODE_RESTORE_DAMAGED 1 //  the backup is incomplete or damaged; nothing installed
#define NODE_RESTORE_REFUSED 2 //  usage, or the data dir is not new/empty

//  Checks the backup in `backup_dir` (its MANIFEST, cairn.db's size and
//  SHA-256, the blob counts), copies it into a staging directory beside
//  `data_dir`, runs `cairnd check` on the copy, and only when that is
//  clean renames it to `data_dir` (which must not exist or be empty).
//  Progress and the check's lines go to `out`, what stops it to `err`.
int node_restore_run(const char *backup_dir, const char *data_dir, FILE *out, FILE *err);

//  Step 1, also `cairnd import`'s: `data_dir` is absent or an empty
//  directory. NULL, or why not naming `command` (caller frees).
char *node_restore_dir_free(const char *data_dir, const char *command);

//  Removes a staging directory a run made (no symbolic link is followed,
//  so nothing outside it).
void node_restore_remove_tree(const char *path);

#endif

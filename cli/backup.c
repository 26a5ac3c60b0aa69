/*  =========================================================================
    backup - the `cairn` client's backup command

        command       requests
        ------------  --------
        backup DIR    Backup

    DIR is a path on the node's machine; a relative DIR is made absolute
    against this shell's working directory (the usual case: the CLI and
    the node on one machine). The answer comes when the copy is done.
    ========================================================================= */

#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    Cairn__BackupRequest backup;
    char dir[PATH_MAX + 2];
} backup_storage_t;

static const char *s_build_backup(const cli_t *cli, Cairn__Request *request, void *storage) {
    backup_storage_t *backup = storage;
    cairn__backup_request__init(&backup->backup);
    const char *dir = cli->args[0];
    char cwd[PATH_MAX];
    if (dir[0] == '/')
        snprintf(backup->dir, sizeof backup->dir, "%s", dir);
    else if (!getcwd(cwd, sizeof cwd))
        return cli_problem("cannot make DIR absolute: %s", strerror(errno));
    else if (snprintf(backup->dir, sizeof backup->dir, "%s/%s", cwd, dir) >=
             (int)sizeof backup->dir)
        return cli_problem("DIR is too long");
    backup->backup.dir = backup->dir;
    request->body_case = CAIRN__REQUEST__BODY_BACKUP;
    request->backup = &backup->backup;
    return NULL;
}

static void s_print_backup(const answer_t *answer) {
    const Cairn__BackupReply *reply = answer->response->backup;
    char db[32], blobs[32];
    cli_format_bytes(reply->db_bytes, db, sizeof db);
    cli_format_bytes(reply->blob_bytes, blobs, sizeof blobs);
    printf("backup in %s: cairn.db %s, %" PRIu64 " content and %" PRIu64
           " cache file(s) (%s; %" PRIu64 " linked, %" PRIu64 " copied), %.3f s\n",
           reply->dir, db, reply->content_files, reply->cache_files, blobs, reply->linked,
           reply->copied, (double)reply->elapsed_ms / 1000.0);
    printf("restore it with: cairnd restore %s --data-dir NEW_DATA_DIR\n", reply->dir);
}

static json_t *s_json_backup(const answer_t *answer) {
    const Cairn__BackupReply *reply = answer->response->backup;
    json_t *fields = json_pack("{s:s}", "dir", reply->dir);
    json_object_set_new(fields, "db_bytes", cli_json_u64(reply->db_bytes));
    json_object_set_new(fields, "content_files", cli_json_u64(reply->content_files));
    json_object_set_new(fields, "cache_files", cli_json_u64(reply->cache_files));
    json_object_set_new(fields, "blob_bytes", cli_json_u64(reply->blob_bytes));
    json_object_set_new(fields, "linked", cli_json_u64(reply->linked));
    json_object_set_new(fields, "copied", cli_json_u64(reply->copied));
    json_object_set_new(fields, "elapsed_ms", cli_json_u64(reply->elapsed_ms));
    return fields;
}

static const char s_backup_details[] =
    "Copies the node's database (SQLite's online backup, while it keeps serving)\n"
    "and the content and cache files it indexes into DIR on the node's machine,\n"
    "then writes DIR/MANIFEST last. DIR must not exist or be empty. One backup\n"
    "runs at a time (another is BUSY). The answer comes when the copy is done:\n"
    "give a --timeout that fits the data. Restore with `cairnd restore DIR\n"
    "--data-dir NEW` on a stopped node. JSON: dir, db_bytes, content_files,\n"
    "cache_files, blob_bytes, linked, copied, elapsed_ms.\n";

static const command_t s_rows[] = {
    {"backup",
     NULL,
     1,
     "DIR",
     "copy the serving node's data into DIR (consistent; restore with cairnd restore)",
     {{NULL, NULL, false}},
     s_build_backup,
     s_print_backup,
     s_json_backup,
     s_backup_details,
     NULL,
     {CAIRN__REQUEST__BODY_BACKUP}},
};

CLI_FAMILY(backup, s_rows, backup_storage_t);

/*  =========================================================================
    e2e_backup - backup while serving (schemas/backup.proto, `cairn
    backup`) and `cairnd restore`, against real cairnd processes

        e2e-backup TEST      runs one test (ctest registers each by name)

    The main test writes messages and content (inline and file blobs)
    before a backup, then keeps writing on a second connection while the
    backup runs, restores the backup into a new data dir, checks it with
    `cairnd check`, starts a node on it and reads back every write that was
    acknowledged before the backup was sent. The others: bad and hostile
    requests, the one-at-a-time bound, and restores of damaged backups.
    ========================================================================= */

#include "harness.h"
#include "backup.h"
#include "ca_caller.h"
#include "ca_hash.h"
#include "ca_request.h"
#include "ca_testbed.h"
#include "cli_run.h"
#include "messages_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#undef CHECK
#define CHECK HARNESS_CHECK

#define CHANNEL         "#backup"
#define MESSAGES_BEFORE 300
#define BLOBS_BEFORE    40  //  half inline (2 KiB), half files (20 KiB)
#define WRITES_DURING   400 //  at most, while the backup runs
#define WINDOW          16  //  writes in flight on the writing connection
#define RUN_MS          120000

static const uint8_t s_signature[64] = {0x11}; //  the channel is unsigned

static void s_uuid(char *text, size_t size, int number) {
    snprintf(text, size, "00000000-0000-4000-8000-%012d", number);
}

//  Blob `number`'s bytes (size by number: inline or file).
static size_t s_blob(int number, uint8_t *data) {
    size_t size = number % 2 ? 20 * 1024 : 2 * 1024;
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(number * 131 + i * 7 + (i >> 8));
    return size;
}

static void s_send_message(zsock_t *client, uint64_t id, int number) {
    char uuid[40];
    s_uuid(uuid, sizeof uuid, number);
    Cairn__Request request;
    Cairn__MessageStore store;
    Cairn__Message message;
    ca_request_message_init(&message, uuid, 1700000000.0 + number, "sender", "Sender", CHANNEL,
                            "kept across a backup", s_signature, sizeof s_signature);
    ca_request_message_store(&request, &store, id, &message);
    CHECK(harness_send(client, &request) == 0);
}

static void s_send_blob(zsock_t *client, uint64_t id, int number) {
    static uint8_t data[20 * 1024];
    size_t size = s_blob(number, data);
    Cairn__Request request;
    Cairn__ContentPut put;
    ca_request_content_put(&request, &put, id, data, size, NULL, 0);
    CHECK(harness_send(client, &request) == 0);
}

static void s_send_backup(zsock_t *client, uint64_t id, const char *dir) {
    Cairn__Request request;
    Cairn__BackupRequest backup;
    cairn__request__init(&request);
    cairn__backup_request__init(&backup);
    backup.dir = (char *)dir;
    request.id = id;
    request.body_case = CAIRN__REQUEST__BODY_BACKUP;
    request.backup = &backup;
    CHECK(harness_send(client, &request) == 0);
}

static Cairn__Response *s_backup(zsock_t *client, const char *dir) {
    s_send_backup(client, 7, dir);
    return harness_recv(client, RUN_MS);
}

//  Writes `count` items (even numbers messages, odd content) numbered from
//  `first`, WINDOW in flight, every one acknowledged OK.
static void s_write_acknowledged(zsock_t *client, int first, int count) {
    int sent = 0, answered = 0;
    while (answered < count) {
        while (sent < count && sent - answered < WINDOW) {
            int number = first + sent;
            if (number % 2)
                s_send_blob(client, (uint64_t)number, number / 2);
            else
                s_send_message(client, (uint64_t)number, number / 2);
            sent++;
        }
        Cairn__Response *response = harness_recv(client, HARNESS_CALL_MS);
        CHECK(response && response->status == CAIRN__STATUS__OK);
        cairn__response__free_unpacked(response, NULL);
        answered++;
    }
}

static char *s_run_cairnd(const char *const *args, int expected, const char *fragment) {
    char *out = NULL;
    CHECK(harness_cairnd_expect(args, expected, fragment, RUN_MS, &out));
    return out;
}

static void s_restore(const char *backup, const char *data_dir, int expected,
                      const char *fragment) {
    char *flag = zsys_sprintf("--data-dir=%s", data_dir);
    const char *args[] = {"restore", backup, flag, NULL};
    char *out = s_run_cairnd(args, expected, fragment);
    free(out);
    zstr_free(&flag);
}

static void s_check_clean(const char *data_dir) {
    char *flag = zsys_sprintf("--data-dir=%s", data_dir);
    const char *args[] = {"check", flag, NULL};
    char *out = s_run_cairnd(args, 0, "is clean");
    free(out);
    zstr_free(&flag);
}

//  Every item numbered below `count` (as s_write_acknowledged wrote them)
//  is on the node behind `caller`, blobs verified by the node as it reads.
static void s_expect_items(ca_caller_t *caller, int count) {
    static uint8_t data[20 * 1024];
    for (int number = 0; number < count; number++) {
        Cairn__Request request;
        if (number % 2) {
            size_t size = s_blob(number / 2, data);
            uint8_t hash[CA_SHA256_BYTES];
            ca_sha256(data, size, hash);
            Cairn__ContentGet get;
            ca_request_content_get(&request, &get, 1, hash, sizeof hash, false);
            Cairn__Response *response =
                ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_CONTENT_GET);
            CHECK(response->content_get->data.len == size);
            CHECK(memcmp(response->content_get->data.data, data, size) == 0);
            cairn__response__free_unpacked(response, NULL);
        } else {
            char uuid[40];
            s_uuid(uuid, sizeof uuid, number / 2);
            Cairn__MessageGet get;
            ca_request_message_get(&request, &get, 1, uuid);
            Cairn__Response *response =
                ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_MESSAGE_GET);
            cairn__response__free_unpacked(response, NULL);
        }
    }
}

//  ---- the tests --------------------------------------------------------------------

//  A backup while a second connection keeps writing; restored, checked,
//  served: everything acknowledged before the backup request is there.
static void test_while_writing(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_create_channel(caller, CHANNEL, true);
    char *root = ca_test_tempdir("cairn-backup");
    char *backup = zsys_sprintf("%s/backup", root);
    char *restored = zsys_sprintf("%s/restored", root);
    zsock_t *writer = harness_connect(harness_node_endpoint(node));
    int before = 2 * (MESSAGES_BEFORE > BLOBS_BEFORE ? BLOBS_BEFORE : MESSAGES_BEFORE);
    s_write_acknowledged(writer, 0, before);
    int extra = MESSAGES_BEFORE - before / 2; //  the rest of the messages, alone
    for (int i = 0; i < extra; i++) {
        char uuid[40];
        s_uuid(uuid, sizeof uuid, 100000 + i);
        Cairn__Request request;
        Cairn__MessageStore store;
        Cairn__Message message;
        ca_request_message_init(&message, uuid, 1700000000.0, "sender", "Sender", CHANNEL, "more",
                                s_signature, sizeof s_signature);
        ca_request_message_store(&request, &store, 1, &message);
        cairn__response__free_unpacked(
            ca_caller_ok(caller, &request, CAIRN__RESPONSE__BODY_MESSAGE_STORE), NULL);
    }

    //  The backup, and writes on the other connection until it answers.
    s_send_backup(client, 99, backup);
    Cairn__Response *answer = NULL;
    int sent = 0, answered = 0, during = 0;
    int64_t deadline = zclock_mono() + RUN_MS;
    while ((!answer || answered < sent) && zclock_mono() < deadline) {
        while (!answer && sent < WRITES_DURING && sent - answered < WINDOW) {
            int number = before + sent;
            if (number % 2)
                s_send_blob(writer, (uint64_t)number, number / 2);
            else
                s_send_message(writer, (uint64_t)number, number / 2);
            sent++;
        }
        if (!answer)
            answer = harness_recv(client, sent > answered ? 0 : 50);
        if (answer)
            during = sent;
        if (answered < sent) {
            Cairn__Response *response = harness_recv(writer, HARNESS_CALL_MS);
            CHECK(response && response->status == CAIRN__STATUS__OK);
            cairn__response__free_unpacked(response, NULL);
            answered++;
        }
    }
    CHECK(answer);
    harness_ok(answer, CAIRN__RESPONSE__BODY_BACKUP);
    CHECK(answer->id == 99);
    CHECK(streq(answer->backup->dir, backup));
    CHECK(answer->backup->content_files >= BLOBS_BEFORE / 2); //  the file blobs
    CHECK(answer->backup->db_bytes > 0);
    cairn__response__free_unpacked(answer, NULL);
    printf("  %d writes acknowledged before the backup, %d sent while it ran\n", before, during);
    zsock_destroy(&writer);

    //  The node goes on serving, and the backup restores.
    harness_session_down(&caller, &client, &node);
    s_restore(backup, restored, 0, "restored into");
    s_check_clean(restored);
    struct stat info;
    CHECK(stat(restored, &info) == 0 && S_ISDIR(info.st_mode));
    harness_node_t *again = harness_node_start(restored, NULL);
    CHECK(again);
    zsock_t *socket = harness_connect(harness_node_endpoint(again));
    ca_caller_t *reader = ca_caller_new_socket(socket, HARNESS_CALL_MS);
    s_expect_items(reader, before);
    for (int i = 0; i < extra; i++) {
        char uuid[40];
        s_uuid(uuid, sizeof uuid, 100000 + i);
        Cairn__Request request;
        Cairn__MessageGet get;
        ca_request_message_get(&request, &get, 1, uuid);
        cairn__response__free_unpacked(
            ca_caller_ok(reader, &request, CAIRN__RESPONSE__BODY_MESSAGE_GET), NULL);
    }
    //  The restored node takes writes.
    s_write_acknowledged(socket, 1000000, 10);
    harness_session_down(&reader, &socket, &again);
    s_check_clean(restored);
    ca_test_rmtree(root);
    zstr_free(&root);
    zstr_free(&backup);
    zstr_free(&restored);
}

//  Bad and hostile requests: nothing is written where it must not be.
static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    char *root = ca_test_tempdir("cairn-backup");
    char *full = zsys_sprintf("%s/full", root);
    char *file = zsys_sprintf("%s/full/kept", root);
    CHECK(mkdir(full, 0700) == 0);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
    //  A non-empty dir (and a file) is refused and left alone.
    harness_fails(s_backup(client, full), CAIRN__STATUS__CONFLICT, "not an empty directory");
    harness_fails(s_backup(client, file), CAIRN__STATUS__CONFLICT, "not an empty directory");
    struct stat info;
    CHECK(stat(file, &info) == 0 && info.st_size == 1);
    //  Not absolute, empty, too long, inside the data dir, no parent.
    harness_fails(s_backup(client, "relative/dir"), CAIRN__STATUS__INVALID, "absolute path");
    harness_fails(s_backup(client, ""), CAIRN__STATUS__INVALID, "absolute path");
    char *long_dir = calloc(1, BACKUP_DIR_MAX + 10);
    long_dir[0] = '/';
    memset(long_dir + 1, 'a', BACKUP_DIR_MAX + 5);
    harness_fails(s_backup(client, long_dir), CAIRN__STATUS__INVALID, "at most");
    free(long_dir);
    char *inside = zsys_sprintf("%s/content/x", harness_node_data_dir(node));
    harness_fails(s_backup(client, inside), CAIRN__STATUS__INVALID, "inside the node's data dir");
    CHECK(stat(inside, &info) != 0);
    zstr_free(&inside);
    char *orphan = zsys_sprintf("%s/no/such/parent", root);
    harness_fails(s_backup(client, orphan), CAIRN__STATUS__NOT_FOUND, "create it first");
    zstr_free(&orphan);
    //  Malformed frames: a Backup body whose dir is not a string, an
    //  unknown field.
    const uint8_t bad_string[] = {0x08, 0x05, 0xe2, 0x76, 0x03, 0x0a, 0x01, 0xff};
    harness_fails_raw(client, bad_string, sizeof bad_string, 5, NULL);
    const uint8_t unknown_field[] = {0x08, 0x06, 0xe2, 0x76, 0x02, 0x78, 0x01};
    harness_fails_raw(client, unknown_field, sizeof unknown_field, 6, NULL);
    //  The CLI: a backup into a new dir, then the same dir again.
    char *cli_dir = zsys_sprintf("%s/by-cli", root);
    const char *words[] = {"backup", cli_dir, NULL};
    cli_expect_ok(cli_run_argv(harness_node_endpoint(node), words), "restore it with");
    const char *again[] = {"--json", "backup", cli_dir, NULL};
    cli_expect_json_error(cli_run_argv(harness_node_endpoint(node), again), "conflict");
    char *manifest = zsys_sprintf("%s/%s", cli_dir, BACKUP_MANIFEST);
    CHECK(stat(manifest, &info) == 0);
    zstr_free(&manifest);
    harness_expect_alive(client);
    harness_session_down(&caller, &client, &node);
    ca_test_rmtree(root);
    zstr_free(&cli_dir);
    zstr_free(&root);
    zstr_free(&full);
    zstr_free(&file);
}

//  Two backups at once from two connections: one runs, the other is BUSY
//  at once (never queued behind it). Each try sends both back to back; a
//  try where the first finished before the second came is retried; either
//  of the two may be the one that runs.
//  backup_root bounds where a client may make the node write: inside it,
//  yes; beside it, or out of it by "..", no.
static void test_root_bound(void) {
    char *root = ca_test_tempdir("cairn-backup-root");
    char *flag = zsys_sprintf("--backup-root=%s/allowed", root);
    char *allowed = zsys_sprintf("%s/allowed", root);
    CHECK(mkdir(allowed, 0700) == 0);
    const char *args[] = {flag, NULL};
    HARNESS_SESSION_UP(args);
    char *inside = zsys_sprintf("%s/allowed/one", root);
    cairn__response__free_unpacked(
        harness_ok(s_backup(client, inside), CAIRN__RESPONSE__BODY_BACKUP), NULL);
    char *beside = zsys_sprintf("%s/allowed-not", root);
    char *escape = zsys_sprintf("%s/allowed/../out", root);
    char *outside = zsys_sprintf("%s/out", root);
    harness_fails(s_backup(client, beside), CAIRN__STATUS__INVALID, "inside backup_root");
    harness_fails(s_backup(client, escape), CAIRN__STATUS__INVALID, "inside backup_root");
    harness_fails(s_backup(client, outside), CAIRN__STATUS__INVALID, "inside backup_root");
    CHECK(access(beside, F_OK) != 0 && access(outside, F_OK) != 0);
    harness_session_down(&caller, &client, &node);
    ca_test_rmtree(root);
    zstr_free(&outside);
    zstr_free(&escape);
    zstr_free(&beside);
    zstr_free(&inside);
    zstr_free(&allowed);
    zstr_free(&flag);
    zstr_free(&root);
}

static void test_concurrent_busy(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_create_channel(caller, CHANNEL, true);
    s_write_acknowledged(client, 0, 400); //  200 file blobs: a backup takes a while
    zsock_t *second = harness_connect(harness_node_endpoint(node));
    char *root = ca_test_tempdir("cairn-backup");
    bool busy_seen = false;
    for (int attempt = 0; attempt < 20 && !busy_seen; attempt++) {
        char *one = zsys_sprintf("%s/one-%d", root, attempt);
        char *two = zsys_sprintf("%s/two-%d", root, attempt);
        s_send_backup(client, 1, one);
        s_send_backup(second, 2, two);
        Cairn__Response *first = harness_recv(client, RUN_MS);
        Cairn__Response *other = harness_recv(second, RUN_MS);
        CHECK(first && other);
        //  The two sockets race to the node: either may be the one turned
        //  away, never both.
        Cairn__Response *turned_away = first->status == CAIRN__STATUS__BUSY ? first : other;
        Cairn__Response *ran = turned_away == first ? other : first;
        CHECK(ran->status == CAIRN__STATUS__OK);
        if (turned_away->status == CAIRN__STATUS__BUSY) {
            CHECK(strstr(turned_away->error, "retry when it has answered"));
            busy_seen = true;
        } else
            CHECK(turned_away->status == CAIRN__STATUS__OK);
        cairn__response__free_unpacked(first, NULL);
        cairn__response__free_unpacked(other, NULL);
        zstr_free(&one);
        zstr_free(&two);
    }
    CHECK(busy_seen);
    //  Once answered, the next backup runs.
    char *after = zsys_sprintf("%s/after", root);
    Cairn__Response *response = harness_ok(s_backup(second, after), CAIRN__RESPONSE__BODY_BACKUP);
    cairn__response__free_unpacked(response, NULL);
    zstr_free(&after);
    zsock_destroy(&second);
    harness_session_down(&caller, &client, &node);
    ca_test_rmtree(root);
    zstr_free(&root);
}

//  Removes `path` or truncates it to `size` bytes (-1: removes).
static void s_damage(const char *dir, const char *name, off_t size) {
    char *path = zsys_sprintf("%s/%s", dir, name);
    CHECK(size < 0 ? unlink(path) == 0 : truncate(path, size) == 0);
    zstr_free(&path);
}

//  The first blob file under dir/content (its path relative to dir).
static char *s_first_blob(const char *dir) {
    char *content = zsys_sprintf("%s/content", dir);
    zdir_t *tree = zdir_new(content, NULL);
    CHECK(tree);
    zlist_t *files = zdir_list(tree);
    zfile_t *file = (zfile_t *)zlist_first(files);
    CHECK(file);
    char *relative = strdup(zfile_filename(file, dir) + (zfile_filename(file, dir)[0] == '/'));
    zlist_destroy(&files);
    zdir_destroy(&tree);
    zstr_free(&content);
    return relative;
}

//  Restores of damaged backups are refused and install nothing.
static void test_restore_refuses(void) {
    HARNESS_SESSION_UP(NULL);
    messages_fixture_create_channel(caller, CHANNEL, true);
    s_write_acknowledged(client, 0, 40);
    char *root = ca_test_tempdir("cairn-backup");
    const char *names[] = {"truncated", "missing-blob", "no-manifest", "bad-blob", "good"};
    enum { COUNT = sizeof names / sizeof names[0] };
    char *dirs[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        dirs[i] = zsys_sprintf("%s/%s", root, names[i]);
        cairn__response__free_unpacked(
            harness_ok(s_backup(client, dirs[i]), CAIRN__RESPONSE__BODY_BACKUP), NULL);
    }
    harness_session_down(&caller, &client, &node);
    s_damage(dirs[0], "cairn.db", 8192);
    char *blob = s_first_blob(dirs[1]);
    s_damage(dirs[1], blob, -1);
    zstr_free(&blob);
    s_damage(dirs[2], BACKUP_MANIFEST, -1);
    blob = s_first_blob(dirs[3]);
    char *path = zsys_sprintf("%s/%s", dirs[3], blob);
    //  A new file of the same size put in its place: the backup's files are
    //  hard links to the node's (and to each other's), so one changed in
    //  place would change them all.
    struct stat blob_info;
    CHECK(stat(path, &blob_info) == 0);
    char *fake = zsys_sprintf("%s.fake", path);
    uint8_t *bytes = calloc(1, (size_t)blob_info.st_size);
    int fd = open(fake, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, bytes, (size_t)blob_info.st_size) == blob_info.st_size);
    CHECK(close(fd) == 0 && rename(fake, path) == 0);
    free(bytes);
    zstr_free(&fake);
    zstr_free(&path);
    zstr_free(&blob);

    char *target = zsys_sprintf("%s/target", root);
    s_restore(dirs[0], target, 1, "truncated or damaged");
    s_restore(dirs[1], target, 1, "MANIFEST says");
    s_restore(dirs[2], target, 1, "interrupted");
    s_restore(dirs[3], target, 1, "did not pass");
    struct stat info;
    CHECK(stat(target, &info) != 0); //  nothing installed, no staging left
    DIR *listing = opendir(root);
    CHECK(listing);
    for (struct dirent *entry; (entry = readdir(listing));)
        CHECK(!strstr(entry->d_name, ".restore-"));
    closedir(listing);
    //  A data dir that is not empty is refused; an empty one is taken.
    CHECK(mkdir(target, 0700) == 0);
    char *kept = zsys_sprintf("%s/kept", target);
    CHECK(mkdir(kept, 0700) == 0);
    s_restore(dirs[4], target, 2, "is not empty");
    CHECK(rmdir(kept) == 0);
    s_restore(dirs[4], target, 0, "restored into");
    s_check_clean(target);
    //  Usage: no backup dir.
    const char *args[] = {"restore", NULL};
    free(s_run_cairnd(args, 2, "needs the backup's directory"));
    zstr_free(&kept);
    zstr_free(&target);
    for (size_t i = 0; i < COUNT; i++)
        zstr_free(&dirs[i]);
    ca_test_rmtree(root);
    zstr_free(&root);
}

static const harness_test_t s_tests[] = {
    {"while_writing", test_while_writing},     {"bad_input", test_bad_input},
    {"concurrent_busy", test_concurrent_busy}, {"root_bound", test_root_bound},
    {"restore_refuses", test_restore_refuses},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.backup", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

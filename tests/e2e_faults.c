/*  =========================================================================
    e2e_faults - black-box tests of what cairnd does with a damaged or
    full data dir

        e2e-faults TEST      runs one test (ctest registers each by name)

    Each test starts a real cairnd on a free loopback port in a temp dir,
    plays the fault by changing files under its data dir while it is
    stopped (damaged pages, a 0-byte cairn.db, blob files without rows) or
    by filling it through its API (max_db_bytes), and checks the node's
    answer: a refused start with a message that says what to do, a warning
    (a WAL cut short), or a node that can still be emptied. `cairnd check`
    runs on the same damage, with the node stopped, and must name it.
    Waits are polls with deadlines, never sleeps.
    ========================================================================= */

#include "cli_run.h" //  cli_run_path
#include "harness.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_testbed.h"
#include "ca_validate.h"
#include "content.h"
#include "messages.h"
#include "node_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#undef CHECK
#define CHECK  HARNESS_CHECK
#define RUN_MS 20000 //  a refused start exits at once; a served one would run

//  ---- helpers ----------------------------------------------------------------------

static char *s_path(harness_node_t *node, const char *name) {
    return zsys_sprintf("%s/%s", harness_node_data_dir(node), name);
}

//  Runs cairnd on `data_dir` (on a free port, never bound when refused)
//  and expects it to exit 1 at once with every fragment in its stderr.
static void s_expect_refused(const char *data_dir, const char *const *fragments) {
    char *data = zsys_sprintf("--data-dir=%s", data_dir);
    char *endpoint = zsys_sprintf("--client-endpoint=tcp://127.0.0.1:%d", harness_free_port());
    const char *args[] = {data, endpoint, NULL};
    harness_run_t run = harness_run(harness_cairnd_path(), args, NULL, RUN_MS);
    char *output = zsys_sprintf("%s%s", run.out, run.err); //  the log goes to either
    bool said = run.status == 1 && !strstr(output, "serving");
    for (size_t i = 0; fragments[i] && said; i++)
        said = strstr(output, fragments[i]) != NULL;
    if (!said)
        fprintf(stderr, "start: status %d (wanted 1), output:\n%s\n", run.status, output);
    zstr_free(&output);
    CHECK(said);
    harness_run_free(&run);
    zstr_free(&data);
    zstr_free(&endpoint);
}

static bool s_log_has(harness_node_t *node, const char *fragment) {
    char *log = NULL;
    size_t size = 0;
    FILE *file = fopen(harness_node_log_path(node), "r");
    bool found = file && getdelim(&log, &size, 0, file) > 0 && strstr(log, fragment);
    if (file)
        fclose(file);
    free(log);
    return found;
}

//  Checks that `response` is OK, and frees it.
static void s_ok(Cairn__Response *response) {
    if (response->status != CAIRN__STATUS__OK)
        fprintf(stderr, "got status %d '%s'\n", response->status, response->error);
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
}

static void s_channel_create(zsock_t *client, const char *name) {
    Cairn__Request request;
    Cairn__ChannelCreate create;
    ca_request_channel_create(&request, &create, 0, name, false, NULL);
    create.unsigned_messages = true; //  these messages carry dummy signatures
    s_ok(harness_request(client, &request));
}

//  MessageStore of message n (`size` bytes of content) in `channel`.
static Cairn__Response *s_store(ca_caller_t *caller, const char *channel, uint64_t n, size_t size) {
    char id[CA_UUID_TEXT_LENGTH + 1];
    messages_fixture_uuid(id, 7, n);
    char *content = (char *)malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        content[i] = (char)('a' + (n * 31 + i * 7) % 26);
    content[size] = 0;
    Cairn__Message message;
    messages_fixture_message(&message, id, 1000.0 + (double)n, channel, content);
    Cairn__Response *response = messages_fixture_store(caller, &message);
    free(content);
    return response;
}

static void s_write_file(const char *path, const void *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size && close(fd) == 0);
}

//  A node that stored one blob (`text`, its hash in `hash`), then stopped.
static harness_node_t *s_stopped_with_blob(const char *text, uint8_t hash[32]) {
    HARNESS_SESSION_UP(NULL);
    content_fixture_put(caller, text, strlen(text), hash);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    return node;
}

//  8 KiB of random bytes inside the stopped node's cairn.db, after its
//  header page.
static void s_damage_db(harness_node_t *node) {
    char *db = s_path(node, CA_DB_FILE);
    struct stat info;
    CHECK(stat(db, &info) == 0 && info.st_size >= 4096 + 8192);
    uint8_t noise[8192];
    FILE *random = fopen("/dev/urandom", "r");
    CHECK(random && fread(noise, 1, sizeof noise, random) == sizeof noise);
    fclose(random);
    int fd = open(db, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, noise, sizeof noise, 4096 * 3) == (ssize_t)sizeof noise);
    CHECK(fsync(fd) == 0 && close(fd) == 0);
    zstr_free(&db);
}

//  A node that stored `blob` (may be NULL; its hash in `hash`), then
//  `count` messages of `size` bytes in a new `channel`, then stopped (or,
//  with `kill`, was killed with SIGKILL: its WAL stays).
static harness_node_t *s_ended_with_messages(const char *blob, uint8_t hash[32],
                                             const char *channel, uint64_t count, size_t size,
                                             bool kill) {
    HARNESS_SESSION_UP(NULL);
    if (blob)
        content_fixture_put(caller, blob, strlen(blob), hash);
    s_channel_create(client, channel);
    for (uint64_t n = 0; n < count; n++)
        s_ok(s_store(caller, channel, n, size));
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    if (kill)
        harness_node_kill9(node);
    else
        CHECK(harness_node_stop(node) == 0);
    return node;
}

//  ---- 1. the start check --------------------------------------------------------

//  8 KiB of random bytes inside cairn.db, after its header page: refused at
//  start with what to do; the same file intact starts (and says it checked).
static void test_damaged_db_refused(void) {
    HARNESS_SESSION_UP(NULL);
    s_channel_create(client, "#bulk");
    for (uint64_t n = 0; n < 300; n++) {
        s_ok(s_store(caller, "#bulk", n, 1000));
    }
    harness_session_restart(node, &client, &caller); //  the intact file starts
    CHECK(s_log_has(node, "start check (PRAGMA quick_check)"));
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);

    s_damage_db(node);
    const char *said[] = {"is damaged", "quick_check", "restore cairn.db from a backup",
                          "cairnd check", NULL};
    s_expect_refused(harness_node_data_dir(node), said);
    harness_node_destroy(&node);
}

//  start_check=off is a setting a node accepts (for very large databases).
static void test_start_check_off(void) {
    const char *args[] = {"--start-check=off", NULL};
    HARNESS_SESSION_UP(args);
    harness_expect_alive(client);
    CHECK(!s_log_has(node, "start check (PRAGMA quick_check)"));
    harness_session_down(&caller, &client, &node);
}

//  ---- 2. a lost database beside existing content ------------------------------------

static void test_empty_db_refused(void) {
    uint8_t hash[32];
    harness_node_t *node = s_stopped_with_blob("kept across the scare", hash);
    zsock_t *client = NULL;
    ca_caller_t *caller = NULL;

    char *db = s_path(node, CA_DB_FILE);
    char *saved = s_path(node, "saved.db");
    char *wal = s_path(node, CA_DB_FILE "-wal");
    CHECK(access(wal, F_OK) != 0); //  a clean stop folds the WAL in
    CHECK(rename(db, saved) == 0);
    s_write_file(db, "", 0); //  0 bytes
    const char *empty[] = {"is empty (0 bytes)", "orphan every blob", "Restore cairn.db",
                           "fresh --data-dir", NULL};
    s_expect_refused(harness_node_data_dir(node), empty);
    CHECK(unlink(db) == 0); //  missing
    const char *missing[] = {"is missing", "orphan every blob", NULL};
    s_expect_refused(harness_node_data_dir(node), missing);
    struct stat info;
    CHECK(stat(db, &info) != 0); //  nothing was initialised

    //  Restored from the "backup": the node comes back with its blob.
    CHECK(rename(saved, db) == 0);
    harness_session_reopen(node, &client, &caller);
    content_fixture_get_expect(caller, hash, "kept across the scare", 21);
    harness_session_down(&caller, &client, &node);
    zstr_free(&db);
    zstr_free(&saved);
    zstr_free(&wal);
}

//  A brand-new data dir (missing, or empty), or one holding only what is
//  made before a first start (an allow-list), still initialises.
static void test_new_dir_initialises(void) {
    char *dir = ca_test_tempdir("cairn-faults");
    char *fresh = zsys_sprintf("%s/not-yet", dir);
    harness_node_t *node = harness_node_start(fresh, NULL);
    CHECK(node);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);

    char *prepared = zsys_sprintf("%s/prepared", dir);
    char *curve = zsys_sprintf("%s/curve", prepared);
    CHECK(mkdir(prepared, 0700) == 0 && mkdir(curve, 0700) == 0);
    node = harness_node_start(prepared, NULL);
    CHECK(node);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);
    ca_test_rmtree(dir);
    zstr_free(&fresh);
    zstr_free(&prepared);
    zstr_free(&curve);
    zstr_free(&dir);
}

//  ---- 3. a full node can be emptied through its API --------------------------------

#define FULL_DB_BYTES (2 * 1024 * 1024)

static void test_full_db_emptied(void) {
    char *cap = zsys_sprintf("--max-db-bytes=%d", FULL_DB_BYTES);
    const char *args[] = {cap, NULL};
    HARNESS_SESSION_UP(args);
    uint8_t hash[32];
    content_fixture_put(caller, "a blob stored before the node filled", 36, hash);
    s_channel_create(client, "#fill");

    //  Fill until the node refuses: the refusal says what to do, and is not
    //  INTERNAL (nothing is broken).
    uint64_t stored = 0;
    Cairn__Response *refused = NULL;
    for (uint64_t n = 0; n < 10000 && !refused; n++) {
        Cairn__Response *response = s_store(caller, "#fill", n, 2000);
        if (response->status == CAIRN__STATUS__OK) {
            stored++;
            cairn__response__free_unpacked(response, NULL);
        } else
            refused = response;
    }
    CHECK(refused && stored > 100);
    harness_fails(refused, CAIRN__STATUS__UNAVAILABLE, "the node is full");
    Cairn__Request request;
    Cairn__ConfigSet set;
    char value[4000];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = 0;
    ca_request_config_set(&request, &set, 0, "filler", value);
    harness_fails(harness_request(client, &request), CAIRN__STATUS__UNAVAILABLE,
                  "delete something");

    //  Emptied through its own API: every delete is answered OK.
    Cairn__ContentDelete content_delete;
    ca_request_content_delete(&request, &content_delete, 0, hash, 32);
    s_ok(harness_request(client, &request));
    CHECK(!content_fixture_has(caller, hash, NULL));
    s_ok(messages_fixture_delete(caller, "#fill", 1000.0 + (double)stored / 2));
    Cairn__ChannelDelete channel_delete;
    ca_request_channel_delete(&request, &channel_delete, 0, "#fill");
    s_ok(harness_request(client, &request));
    Cairn__Vacuum vacuum;
    ca_request_vacuum(&request, &vacuum, 0);
    s_ok(harness_request(client, &request));

    //  Ordinary writes resume.
    ca_request_config_set(&request, &set, 0, "filler", value);
    s_ok(harness_request(client, &request));
    s_channel_create(client, "#again");
    s_ok(s_store(caller, "#again", 1, 100));
    harness_session_down(&caller, &client, &node);
    zstr_free(&cap);
}

//  The same on a full filesystem: a small tmpfs made by the test (root
//  only; where mount is refused the test says why and passes, and
//  full_db_emptied still covers the reserve).
#define TMPFS_BYTES    (24 * 1024 * 1024)
#define MIN_FREE_BYTES (4 * 1024 * 1024)
#define DISK_BLOB      (256 * 1024)
#define DISK_BLOBS_MAX 200

static void test_full_disk_emptied(void) {
    char *dir = ca_test_tempdir("cairn-faults-tmpfs");
    char *options = zsys_sprintf("size=%d,mode=0700", TMPFS_BYTES);
    //  In a mount namespace of this test process (and its cairnd), so that
    //  the tmpfs goes away with them even when a failed check aborts.
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, options) != 0) {
        printf("full_disk_emptied: skipped: cannot mount a tmpfs on %s (%s); the max_db_bytes "
               "case (full_db_emptied) still runs\n",
               dir, strerror(errno));
        ca_test_rmtree(dir);
        zstr_free(&options);
        zstr_free(&dir);
        return;
    }
    char *data = zsys_sprintf("%s/data", dir);
    char *min_free = zsys_sprintf("--min-free-bytes=%d", MIN_FREE_BYTES);
    const char *args[] = {min_free, NULL};
    harness_node_t *node = harness_node_start(data, args);
    CHECK(node);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    ca_caller_t *caller = ca_caller_new_socket(client, HARNESS_CALL_MS);
    s_channel_create(client, "#disk");
    uint8_t *blob = (uint8_t *)malloc(DISK_BLOB);
    uint8_t hashes[DISK_BLOBS_MAX][32];
    size_t stored = 0;
    Cairn__Response *refused = NULL;
    for (size_t n = 0; n < DISK_BLOBS_MAX && !refused; n++) {
        memset(blob, (int)n, DISK_BLOB);
        Cairn__Request request;
        Cairn__ContentPut put;
        ca_request_content_put(&request, &put, 0, blob, DISK_BLOB, NULL, 0);
        Cairn__Response *response = harness_request(client, &request);
        if (response->status == CAIRN__STATUS__OK) {
            memcpy(hashes[stored++], response->content_put->hash.data, 32);
            cairn__response__free_unpacked(response, NULL);
        } else
            refused = response;
        //  Messages too, so deletes must append to the WAL.
        response = s_store(caller, "#disk", n, 1000);
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(refused && stored > 10);
    harness_fails(refused, CAIRN__STATUS__UNAVAILABLE, "free disk space");
    for (size_t i = 0; i < stored; i++) {
        Cairn__Request request;
        Cairn__ContentDelete del;
        ca_request_content_delete(&request, &del, 0, hashes[i], 32);
        s_ok(harness_request(client, &request));
    }
    s_ok(messages_fixture_delete(caller, "#disk", 0));
    uint8_t again[32];
    content_fixture_put(caller, blob, DISK_BLOB, again); //  writes resume
    free(blob);
    harness_session_down(&caller, &client, &node);
    CHECK(umount(dir) == 0);
    ca_test_rmtree(dir);
    zstr_free(&data);
    zstr_free(&min_free);
    zstr_free(&options);
    zstr_free(&dir);
}

//  ---- 4. orphan blob files are swept at start --------------------------------------

//  A blob file named by `bytes`' hash under <store>/, with no row; returns
//  its path (caller frees).
static char *s_place_orphan(harness_node_t *node, const char *store, const char *bytes) {
    uint8_t hash[32];
    ca_sha256(bytes, strlen(bytes), hash);
    char hex[65];
    ca_hash_to_hex(hash, hex);
    char *dir = zsys_sprintf("%s/%s/%.2s", harness_node_data_dir(node), store, hex);
    mkdir(dir, 0700);
    char *path = zsys_sprintf("%s/%s", dir, hex);
    s_write_file(path, bytes, strlen(bytes));
    zstr_free(&dir);
    return path;
}

static void test_orphans_swept(void) {
    uint8_t kept[32];
    harness_node_t *node = s_stopped_with_blob("an indexed blob", kept);
    zsock_t *client = NULL;
    ca_caller_t *caller = NULL;

    //  What a kill -9 between linking a blob and committing its row leaves.
    char *orphans[] = {s_place_orphan(node, CA_CONTENT_DIR, "never acknowledged 1"),
                       s_place_orphan(node, CA_CONTENT_DIR, "never acknowledged 2"),
                       s_place_orphan(node, CA_CACHE_DIR, "never acknowledged 3")};
    //  Names that are not blobs are never the sweep's to remove.
    char *stray = s_path(node, CA_CONTENT_DIR "/ab");
    mkdir(stray, 0700);
    zstr_free(&stray);
    stray = s_path(node, CA_CONTENT_DIR "/ab/notes.txt");
    s_write_file(stray, "mine", 4);

    harness_session_reopen(node, &client, &caller);
    for (size_t i = 0; i < 3; i++) {
        CHECK(access(orphans[i], F_OK) != 0);
        zstr_free(&orphans[i]);
    }
    CHECK(access(stray, F_OK) == 0);
    CHECK(s_log_has(node, "content: removed 2 orphan blob file(s)"));
    CHECK(s_log_has(node, "cache: removed 1 orphan blob file(s)"));
    content_fixture_get_expect(caller, kept, "an indexed blob", 15);

    Cairn__Request request;
    Cairn__ContentCheck check;
    ca_request_content_check(&request, &check, 0, true, false);
    Cairn__Response *response =
        harness_ok(harness_request(client, &request), CAIRN__RESPONSE__BODY_CONTENT_CHECK);
    CHECK(response->content_check->blobs == 1 && !response->content_check->orphan_count);
    cairn__response__free_unpacked(response, NULL);
    zstr_free(&stray);
    harness_session_down(&caller, &client, &node);
}

//  ---- 5. cairnd check, offline ------------------------------------------------------

//  Runs `cairnd check` with `args` (NULL-terminated, after "check"),
//  expects exit `status` and each fragment in its output; returns the
//  output (stdout then stderr; caller frees).
static char *s_check(const char *const *args, int status, const char *const *fragments) {
    const char *argv[8] = {"check"};
    for (size_t i = 0; args[i]; i++) {
        CHECK(i + 2 < sizeof argv / sizeof argv[0]);
        argv[i + 1] = args[i];
    }
    harness_run_t run = harness_run(harness_cairnd_path(), argv, NULL, RUN_MS);
    char *output = zsys_sprintf("%s%s", run.out, run.err);
    bool said = run.status == status;
    for (size_t i = 0; fragments[i] && said; i++)
        said = strstr(output, fragments[i]) != NULL;
    if (!said)
        fprintf(stderr, "cairnd check: status %d (wanted %d), output:\n%s\n", run.status, status,
                output);
    CHECK(said);
    harness_run_free(&run);
    return output;
}

//  `cairnd check --data-dir=<the node's>` expecting `status` and fragments.
static char *s_check_node(harness_node_t *node, int status, const char *const *fragments) {
    char *data = zsys_sprintf("--data-dir=%s", harness_node_data_dir(node));
    const char *args[] = {data, NULL};
    char *output = s_check(args, status, fragments);
    zstr_free(&data);
    return output;
}

//  How many lines of `output` start with `prefix`.
static size_t s_lines_starting(const char *output, const char *prefix) {
    size_t count = 0;
    for (const char *line = output; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        count += strncmp(line, prefix, strlen(prefix)) == 0;
    return count;
}

//  A node's data dir after writes (a blob, messages, a cached entry), once
//  stopped: clean (exit 0), and the check changed nothing a node minds.
static void test_check_clean(void) {
    uint8_t hash[32];
    harness_node_t *node =
        s_ended_with_messages("checked and clean", hash, "#checked", 50, 500, false);
    zsock_t *client = NULL;
    ca_caller_t *caller = NULL;
    const char *clean[] = {"is clean", "integrity_check ok", "1 blob(s) verified", NULL};
    free(s_check_node(node, 0, clean));
    harness_session_reopen(node, &client, &caller); //  the node still starts on it
    content_fixture_get_expect(caller, hash, "checked and clean", 17);
    harness_session_down(&caller, &client, &node);
}

//  Damaged pages of cairn.db: exit 1 naming what integrity_check found and
//  what to do.
static void test_check_damaged_db(void) {
    harness_node_t *node = s_ended_with_messages(NULL, NULL, "#bulk", 300, 1000, false);
    s_damage_db(node);
    const char *said[] = {"problem(s) in", "restore cairn.db", "blob checks were skipped", NULL};
    char *output = s_check_node(node, 1, said);
    CHECK(s_lines_starting(output, "integrity: ") > 0);
    free(output);
    harness_node_destroy(&node);
}

//  A deleted blob file, a blob whose bytes changed (same size), and orphan
//  files, more than the list shows of one kind.
#define CHECK_ORPHANS (NODE_CHECK_LIST + 2)

static void test_check_blobs(void) {
    HARNESS_SESSION_UP(NULL);
    uint8_t gone[32], rotten[32], kept[32], rotten_inline[32], kept_inline[32];
    content_fixture_put_file(caller, "a blob whose file is deleted", 28, gone);
    content_fixture_put_file(caller, "a blob whose bytes will rot", 27, rotten);
    content_fixture_put_file(caller, "a blob that stays whole", 23, kept);
    //  Kept inline in the database (no file): never missing, but verified.
    content_fixture_put(caller, "an inline blob that will rot", 28, rotten_inline);
    content_fixture_put(caller, "an inline blob that stays whole", 31, kept_inline);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);

    char hex_gone[65], hex_rotten[65], hex_rotten_inline[65];
    ca_hash_to_hex(gone, hex_gone);
    ca_hash_to_hex(rotten, hex_rotten);
    ca_hash_to_hex(rotten_inline, hex_rotten_inline);
    content_fixture_flip_inline(harness_node_data_dir(node), rotten_inline);
    char *path = zsys_sprintf("%s/%s/%.2s/%s", harness_node_data_dir(node), CA_CONTENT_DIR,
                              hex_gone, hex_gone);
    CHECK(unlink(path) == 0);
    zstr_free(&path);
    path = zsys_sprintf("%s/%s/%.2s/%s", harness_node_data_dir(node), CA_CONTENT_DIR, hex_rotten,
                        hex_rotten);
    s_write_file(path, "a blob whose bytes DID rot", 27);
    zstr_free(&path);
    for (int i = 0; i < CHECK_ORPHANS; i++) {
        char *bytes = zsys_sprintf("an orphan file %d", i);
        free(s_place_orphan(node, i % 2 ? CA_CACHE_DIR : CA_CONTENT_DIR, bytes));
        zstr_free(&bytes);
    }
    char *more = zsys_sprintf("%d orphan blob (the first listed above)", CHECK_ORPHANS);
    const char *said[] = {"missing blob: ",
                          hex_gone,
                          "corrupt blob: ",
                          hex_rotten,
                          "do not hash to its name",
                          hex_rotten_inline,
                          "its inline bytes do not hash to its name",
                          "orphan blob: ",
                          "no row in the cache index",
                          "1 missing blob",
                          "2 corrupt blob",
                          "cairn content fsck",
                          more,
                          NULL};
    char *output = s_check_node(node, 1, said);
    CHECK(s_lines_starting(output, "orphan blob: ") == NODE_CHECK_LIST);
    CHECK(s_lines_starting(output, "integrity: ") == 0);
    zstr_free(&output);
    zstr_free(&more);
    harness_node_destroy(&node);
}

//  A running node's data dir is refused (exit 2, naming its pid); stopped,
//  the same dir is checked.
static void test_check_refused_while_running(void) {
    HARNESS_SESSION_UP(NULL);
    char *pid = zsys_sprintf("pid %d", (int)harness_node_pid(node));
    const char *refused[] = {"in use by another cairnd", pid, "stopped node", NULL};
    free(s_check_node(node, 2, refused));
    harness_expect_alive(client); //  the check did not disturb it
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    const char *clean[] = {"is clean", NULL};
    free(s_check_node(node, 0, clean));
    zstr_free(&pid);
    harness_node_destroy(&node);
}

//  Usage and open errors: exit 2 with what to do.
static void test_check_usage(void) {
    char *dir = ca_test_tempdir("cairn-check");
    char *missing = zsys_sprintf("--data-dir=%s/not-there", dir);
    char *empty = zsys_sprintf("--data-dir=%s", dir);
    const char *const no_dir[] = {missing, NULL};
    const char *said_no_dir[] = {"does not exist", "--data-dir", NULL};
    free(s_check(no_dir, 2, said_no_dir));
    const char *const no_db[] = {empty, NULL};
    const char *said_no_db[] = {"cairn.db is missing", "nothing to check", NULL};
    free(s_check(no_db, 2, said_no_db));
    const char *const extra[] = {empty, "now", NULL};
    const char *said_extra[] = {"unexpected argument 'now'", NULL};
    free(s_check(extra, 2, said_extra));
    const char *const unknown[] = {"--quick", NULL};
    const char *said_unknown[] = {"unknown or incomplete option '--quick'", NULL};
    free(s_check(unknown, 2, said_unknown));
    const char *const print[] = {empty, "--print-config", NULL};
    const char *said_print[] = {"check takes only settings", NULL};
    free(s_check(print, 2, said_print));
    ca_test_rmtree(dir);
    zstr_free(&missing);
    zstr_free(&empty);
    zstr_free(&dir);
}

//  ---- 6. a WAL cut short ------------------------------------------------------------

//  kill -9 after writes leaves cairn.db-wal; cut inside its last frame
//  (what a truncated copy looks like), the node warns at start, with what
//  to do, and serves what the WAL still holds.
static void test_wal_truncated_warned(void) {
    uint8_t first[32];
    harness_node_t *node =
        s_ended_with_messages("stored before the cut", first, "#wal", 20, 3000, true);
    zsock_t *client = NULL;
    ca_caller_t *caller = NULL;
    CHECK(!s_log_has(node, "partial frame"));

    char *wal = s_path(node, CA_DB_FILE "-wal");
    struct stat info;
    CHECK(stat(wal, &info) == 0 && info.st_size > 32 + 2 * (24 + 4096));
    //  Into the last whole frame, 1000 bytes on (its header, with the
    //  log's salts, stays): whatever a tick may have left after it.
    off_t frames = (info.st_size - 32) / (24 + 4096);
    CHECK(truncate(wal, 32 + (frames - 1) * (24 + 4096) + 1000) == 0);
    const char *said[] = {"ends in a partial frame", "1 wal: ", NULL};
    char *output = s_check_node(node, 1, said);
    CHECK(s_lines_starting(output, "wal: ") == 1);
    free(output);

    harness_session_reopen(node, &client, &caller);
    CHECK(s_log_has(node, "ends in a partial frame"));
    CHECK(s_log_has(node, "restore cairn.db together with its cairn.db-wal"));
    harness_expect_alive(client);
    content_fixture_get_expect(caller, first, "stored before the cut", 21);
    s_ok(s_store(caller, "#wal", 100, 100)); //  and writes
    zstr_free(&wal);
    harness_session_down(&caller, &client, &node);
}

//  A WAL whose header is torn: SQLite would ignore all of it. cairnd check
//  says so, and so does the node, which starts on what cairn.db holds.
static void test_wal_header_warned(void) {
    harness_node_t *node = s_ended_with_messages(NULL, NULL, "#header", 5, 3000, true);
    zsock_t *client = NULL;
    ca_caller_t *caller = NULL;

    char *wal = s_path(node, CA_DB_FILE "-wal");
    struct stat info;
    CHECK(stat(wal, &info) == 0 && info.st_size > 32);
    int fd = open(wal, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "garbage!", 8, 8) == 8 && close(fd) == 0);
    const char *invalid[] = {"not a valid WAL header", "1 wal: ", NULL};
    free(s_check_node(node, 1, invalid));
    CHECK(truncate(wal, 20) == 0);
    const char *shorter[] = {"is 20 bytes, shorter than its 32-byte header", NULL};
    free(s_check_node(node, 1, shorter));

    harness_session_reopen(node, &client, &caller);
    CHECK(s_log_has(node, "shorter than its 32-byte header"));
    harness_expect_alive(client);
    s_channel_create(client, "#after"); //  writes go on
    zstr_free(&wal);
    harness_session_down(&caller, &client, &node);
}

//  A node whose commits fail (a full tmpfs, and no min_free_bytes reserve
//  to refuse writes before that) is unhealthy: `cairn health` exits 1 and
//  says why, and says healthy again after a restart on a disk with room.
static void test_health_failed_commits(void) {
    char *dir = ca_test_tempdir("cairn-faults-health");
    char *options = zsys_sprintf("size=%d,mode=0700", 4 * 1024 * 1024);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, options) != 0) {
        printf("health_failed_commits: skipped: cannot mount a tmpfs on %s (%s)\n", dir,
               strerror(errno));
        ca_test_rmtree(dir);
        zstr_free(&options);
        zstr_free(&dir);
        return;
    }
    char *data = zsys_sprintf("%s/data", dir);
    const char *args[] = {"--min-free-bytes=0", NULL};
    harness_node_t *node = harness_node_start(data, args);
    CHECK(node);
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    ca_caller_t *caller = ca_caller_new_socket(client, HARNESS_CALL_MS);
    s_channel_create(client, "#fill");
    const char *cli_args[] = {"--endpoint", harness_node_endpoint(node), "health", NULL};
    harness_run_t run = harness_run(cli_run_path(), cli_args, NULL, HARNESS_CALL_MS);
    CHECK(run.status == 0 && strstr(run.out, "healthy: "));
    harness_run_free(&run);
    bool failed = false;
    for (size_t n = 0; n < 20000 && !failed; n++) {
        Cairn__Response *response = s_store(caller, "#fill", n, 4000);
        failed = response->status != CAIRN__STATUS__OK;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(failed);
    run = harness_run(cli_run_path(), cli_args, NULL, HARNESS_CALL_MS);
    CHECK(run.status == 1 && strstr(run.out, "unhealthy: ") && strstr(run.out, "commits failed"));
    if (run.status != 1)
        fprintf(stderr, "health said: %s%s\n", run.out, run.err);
    harness_run_free(&run);
    harness_session_down(&caller, &client, &node);
    CHECK(umount(dir) == 0);
    ca_test_rmtree(dir);
    zstr_free(&data);
    zstr_free(&options);
    zstr_free(&dir);
}

static const harness_test_t s_tests[] = {
    {"damaged_db_refused", test_damaged_db_refused},
    {"start_check_off", test_start_check_off},
    {"empty_db_refused", test_empty_db_refused},
    {"new_dir_initialises", test_new_dir_initialises},
    {"full_db_emptied", test_full_db_emptied},
    {"full_disk_emptied", test_full_disk_emptied},
    {"health_failed_commits", test_health_failed_commits},
    {"orphans_swept", test_orphans_swept},
    {"check_clean", test_check_clean},
    {"check_damaged_db", test_check_damaged_db},
    {"check_blobs", test_check_blobs},
    {"check_refused_while_running", test_check_refused_while_running},
    {"check_usage", test_check_usage},
    {"wal_truncated_warned", test_wal_truncated_warned},
    {"wal_header_warned", test_wal_header_warned},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.faults", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

/*  =========================================================================
    e2e_identity - the node identity through a real cairnd

        e2e-identity TEST      runs one test (ctest registers each by name)

    `cairnd identity init|show|passwd` run as child processes on a fresh
    data dir; nodes are then started on it with the password from a file or
    the environment, and Info must show the peer id. A wrong password, or a
    file with one flipped byte (ciphertext, nonce, or any header field), must
    end the start with exit 1 and a clear message, never a node running with
    another identity. Only the prompt test gives cairnd a terminal (a
    pseudo-terminal of its own, forkpty); elsewhere every password comes
    from a file or the environment.
    ========================================================================= */

#include "cli_run.h"
#include "fs_trace.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#undef CHECK //  cli_run's counts failures; these tests stop at the first
#define CHECK   HARNESS_CHECK
#define RUN_MS  60000
#define CALL_MS 10000
#define PTY_MS  60000

//  Offsets in identity.key (node/identity.c documents the layout).
#define AT_CIPHER     9
#define AT_OPSLIMIT   12
#define AT_MEMLIMIT   20
#define AT_SALT       28
#define AT_PUBLIC     44
#define AT_NONCE      76
#define AT_CIPHERTEXT 100
#define FILE_SIZE     148

typedef struct {
    char dir[64];   //  a temp dir holding the data dir and password files
    char *data;     //  the data dir
    char *data_arg; //  --data-dir=...
    char *key;      //  the identity file
    char *right;    //  password file: "right password"
    char *other;    //  password file: "other password"
    char *empty;    //  an empty password file
} fixture_t;

static char *s_write(const char *dir, const char *name, const char *text) {
    char *path = zsys_sprintf("%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    CHECK(file);
    fputs(text, file);
    fclose(file);
    return path;
}

static fixture_t s_fixture(void) {
    fixture_t self;
    snprintf(self.dir, sizeof self.dir, "/tmp/cairn-e2e-identity-XXXXXX");
    CHECK(mkdtemp(self.dir));
    self.data = zsys_sprintf("%s/data", self.dir);
    self.data_arg = zsys_sprintf("--data-dir=%s", self.data);
    self.key = zsys_sprintf("%s/identity/identity.key", self.data);
    self.right = s_write(self.dir, "right", "right password\n");
    self.other = s_write(self.dir, "other", "other password");
    self.empty = s_write(self.dir, "empty", "");
    return self;
}

static int s_remove_one(const char *path, const struct stat *info, int type, struct FTW *ftw) {
    (void)info, (void)type, (void)ftw;
    return remove(path);
}

static void s_fixture_destroy(fixture_t *self) {
    nftw(self->dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    zstr_free(&self->data);
    zstr_free(&self->data_arg);
    zstr_free(&self->key);
    zstr_free(&self->right);
    zstr_free(&self->other);
    zstr_free(&self->empty);
}

//  cairnd with args (NULL-terminated) and environment changes.
static harness_run_t s_cairnd(const char *const *args, const char *const *env) {
    static const char *const no_password[] = {"CAIRN_IDENTITY_PASSWORD",
                                              "CAIRN_IDENTITY_NEW_PASSWORD", NULL};
    return harness_run(harness_cairnd_path(), args, env ? env : no_password, RUN_MS);
}

static char *s_flag(const char *name, const char *value) {
    return zsys_sprintf("--%s=%s", name, value);
}

//  `cairnd identity init` with the password in `password_file`; returns the
//  peer id printed (caller frees).
static char *s_init(fixture_t *self, const char *password_file, const char *cipher) {
    char *password = s_flag("identity-password-file", password_file);
    char *cipher_arg = s_flag("cipher", cipher ? cipher : "auto");
    const char *args[] = {"identity", "init", self->data_arg, password, cipher_arg, NULL};
    harness_run_t run = s_cairnd(args, NULL);
    if (run.status != 0)
        fprintf(stderr, "init: %s", run.err);
    CHECK(run.status == 0);
    CHECK(strlen(run.out) == 65 && run.out[64] == '\n');
    run.out[64] = 0;
    for (int i = 0; i < 64; i++)
        CHECK(strchr("0123456789abcdef", run.out[i]));
    char *peer_id = strdup(run.out);
    harness_run_free(&run);
    zstr_free(&password);
    zstr_free(&cipher_arg);
    return peer_id;
}

static char *s_show(fixture_t *self) {
    const char *args[] = {"identity", "show", self->data_arg, NULL};
    harness_run_t run = s_cairnd(args, NULL);
    CHECK(run.status == 0 && strlen(run.out) == 65);
    run.out[64] = 0;
    char *peer_id = strdup(run.out);
    harness_run_free(&run);
    return peer_id;
}

//  Info's peer id from a running node (caller frees).
static char *s_info_peer_id(harness_node_t *node) {
    zsock_t *client = harness_connect(harness_node_endpoint(node));
    Cairn__Request request;
    Cairn__InfoRequest info;
    ca_request_info(&request, &info, 7);
    Cairn__Response *response = harness_call(client, &request, CALL_MS);
    CHECK(response && response->status == CAIRN__STATUS__OK && response->info);
    char *peer_id = strdup(response->info->peer_id);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&client);
    return peer_id;
}

//  Starts a node with a password file; checks Info shows `peer_id`.
static void s_serve_as(fixture_t *self, const char *password_file, const char *peer_id) {
    char *password = s_flag("identity-password-file", password_file);
    const char *args[] = {password, NULL};
    harness_node_t *node = harness_node_start(self->data, args);
    CHECK(node);
    char *shown = s_info_peer_id(node);
    CHECK(streq(shown, peer_id));
    free(shown);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);
    zstr_free(&password);
}

//  A start that must fail: exit 1 with `fragment` in stderr, quickly and
//  without serving (a free port that is never bound).
static void s_refused_start(fixture_t *self, const char *password_file, const char *const *env,
                            const char *fragment) {
    char *password = password_file ? s_flag("identity-password-file", password_file) : NULL;
    char *endpoint = zsys_sprintf("--client-endpoint=tcp://127.0.0.1:%d", harness_free_port());
    const char *args[] = {self->data_arg, endpoint, password, NULL};
    harness_run_t run = s_cairnd(args, env);
    if (run.status != 1 || !strstr(run.err, fragment))
        fprintf(stderr, "start: status %d, stderr: %s\n", run.status, run.err);
    CHECK(run.status == 1 && strstr(run.err, fragment));
    CHECK(!strstr(run.err, "serving"));
    harness_run_free(&run);
    zstr_free(&password);
    zstr_free(&endpoint);
}

static void s_read_key(fixture_t *self, uint8_t bytes[FILE_SIZE]) {
    int fd = open(self->key, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(read(fd, bytes, FILE_SIZE) == FILE_SIZE);
    close(fd);
}

static void s_flip(fixture_t *self, size_t at) {
    int fd = open(self->key, O_RDWR);
    CHECK(fd >= 0);
    uint8_t byte;
    CHECK(pread(fd, &byte, 1, (off_t)at) == 1);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, (off_t)at) == 1);
    close(fd);
}

//  ---- tests --------------------------------------------------------------------------------

//  init prints the peer id, show prints the same without a password, the
//  files are 0600 in a 0700 dir.
static void test_init_show(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    char *shown = s_show(&self);
    CHECK(streq(shown, peer_id));
    struct stat info;
    CHECK(stat(self.key, &info) == 0 && (info.st_mode & 0777) == 0600 && info.st_size == FILE_SIZE);
    char *dir = zsys_sprintf("%s/identity", self.data);
    CHECK(stat(dir, &info) == 0 && (info.st_mode & 0777) == 0700);
    zstr_free(&dir);
    free(shown);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  `cairnd identity ARGS` under strace (fs_trace.h); checks that it exited
//  0 and returns the parsed log (caller destroys).
static fs_trace_t *s_traced(fixture_t *self, const char *const *args) {
    char *log_path = zsys_sprintf("%s/strace.log", self->dir);
    fs_trace_t *trace = NULL;
    harness_run_t run = fs_trace_run(log_path, harness_cairnd_path(), args, NULL, RUN_MS, &trace);
    if (run.status != 0)
        fprintf(stderr, "traced cairnd: status %d, stderr: %s", run.status, run.err);
    CHECK(trace && run.status == 0);
    harness_run_free(&run);
    zstr_free(&log_path);
    return trace;
}

//  A crash after init or passwd keeps the identity: init fsyncs the data
//  dir's parent and the data dir once it made them (before the key is
//  named in identity/), the new file before it is linked, identity/ after;
//  passwd fsyncs the new file before the rename, identity/ after.
static void test_durable(void) {
    fixture_t self = s_fixture();
    char *password = s_flag("identity-password-file", self.right);
    const char *init[] = {"identity", "init", self.data_arg, password, NULL};
    fs_trace_t *trace = s_traced(&self, init);
    char *identity_dir = zsys_sprintf("%s/identity", self.data);
    char *problems[] = {fs_trace_durable_dir(trace, self.data),
                        fs_trace_durable_dir(trace, identity_dir),
                        fs_trace_durable_file(trace, self.key)};
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++) {
        if (problems[i])
            fprintf(stderr, "identity init: %s\n", problems[i]);
        CHECK(!problems[i]);
    }
    fs_trace_destroy(&trace);

    char *new_password = s_flag("new-identity-password-file", self.other);
    const char *passwd[] = {"identity", "passwd", self.data_arg, password, new_password, NULL};
    trace = s_traced(&self, passwd);
    char *problem = fs_trace_durable_file(trace, self.key);
    if (problem)
        fprintf(stderr, "identity passwd: %s\n", problem);
    CHECK(!problem);
    fs_trace_destroy(&trace);
    zstr_free(&identity_dir);
    zstr_free(&password);
    zstr_free(&new_password);
    s_fixture_destroy(&self);
}

//  A second init is refused and leaves the first identity byte for byte.
static void test_init_twice(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    uint8_t before[FILE_SIZE], after[FILE_SIZE];
    s_read_key(&self, before);
    char *password = s_flag("identity-password-file", self.other);
    const char *args[] = {"identity", "init", self.data_arg, password, NULL};
    harness_run_t run = s_cairnd(args, NULL);
    CHECK(run.status == 1 && strstr(run.err, "already exists") && strstr(run.err, "passwd"));
    CHECK(*run.out == 0);
    harness_run_free(&run);
    s_read_key(&self, after);
    CHECK(memcmp(before, after, FILE_SIZE) == 0);
    s_serve_as(&self, self.right, peer_id);
    zstr_free(&password);
    free(peer_id);
    s_fixture_destroy(&self);
}

static void test_unlock_file(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    s_serve_as(&self, self.right, peer_id);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  The password from CAIRN_IDENTITY_PASSWORD (for init and at start).
static void test_unlock_env(void) {
    fixture_t self = s_fixture();
    const char *env[] = {"CAIRN_IDENTITY_PASSWORD=from the environment", NULL};
    const char *init_args[] = {"identity", "init", self.data_arg, NULL};
    harness_run_t run = s_cairnd(init_args, env);
    CHECK(run.status == 0 && strlen(run.out) == 65);
    run.out[64] = 0;
    char *peer_id = strdup(run.out);
    harness_run_free(&run);

    //  harness_node_start passes our environment on.
    setenv("CAIRN_IDENTITY_PASSWORD", "from the environment", 1);
    harness_node_t *node = harness_node_start(self.data, NULL);
    unsetenv("CAIRN_IDENTITY_PASSWORD");
    CHECK(node);
    char *shown = s_info_peer_id(node);
    CHECK(streq(shown, peer_id));
    free(shown);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);

    const char *wrong[] = {"CAIRN_IDENTITY_PASSWORD=from elsewhere", NULL};
    s_refused_start(&self, NULL, wrong, "wrong password");
    free(peer_id);
    s_fixture_destroy(&self);
}

//  A wrong password: exit 1, a message saying so, the file untouched, and
//  no new identity.
static void test_wrong_password(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    uint8_t before[FILE_SIZE], after[FILE_SIZE];
    s_read_key(&self, before);
    s_refused_start(&self, self.other, NULL, "wrong password");
    s_refused_start(&self, self.empty, NULL, "empty");
    char *missing = zsys_sprintf("%s/no-such-file", self.dir);
    s_refused_start(&self, missing, NULL, "cannot open the password file");
    zstr_free(&missing);
    s_read_key(&self, after);
    CHECK(memcmp(before, after, FILE_SIZE) == 0);
    char *shown = s_show(&self);
    CHECK(streq(shown, peer_id));
    free(shown);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  passwd: the new password unlocks, the old one no longer does, the peer
//  id stays; a wrong current password changes nothing.
static void test_passwd(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    uint8_t before[FILE_SIZE], after[FILE_SIZE];
    s_read_key(&self, before);

    char *old_wrong = s_flag("identity-password-file", self.other);
    char *new_file = s_flag("new-identity-password-file", self.other);
    const char *refused[] = {"identity", "passwd", self.data_arg, old_wrong, new_file, NULL};
    harness_run_t run = s_cairnd(refused, NULL);
    CHECK(run.status == 1 && strstr(run.err, "wrong password"));
    harness_run_free(&run);
    s_read_key(&self, after);
    CHECK(memcmp(before, after, FILE_SIZE) == 0);

    char *old_right = s_flag("identity-password-file", self.right);
    const char *args[] = {"identity", "passwd", self.data_arg, old_right, new_file, NULL};
    run = s_cairnd(args, NULL);
    CHECK(run.status == 0 && strncmp(run.out, peer_id, 64) == 0);
    harness_run_free(&run);
    struct stat info;
    CHECK(stat(self.key, &info) == 0 && (info.st_mode & 0777) == 0600);

    s_refused_start(&self, self.right, NULL, "wrong password");
    s_serve_as(&self, self.other, peer_id);

    //  The new password from the environment, and no temp file left over.
    const char *env[] = {"CAIRN_IDENTITY_NEW_PASSWORD=third password", NULL};
    const char *again[] = {"identity", "passwd", self.data_arg, old_wrong, NULL};
    run = s_cairnd(again, env);
    CHECK(run.status == 0);
    harness_run_free(&run);
    char *third = s_write(self.dir, "third", "third password");
    s_serve_as(&self, third, peer_id);
    char *dir = zsys_sprintf("%s/identity", self.data);
    zdir_t *listing = zdir_new(dir, NULL);
    CHECK(listing && zdir_count(listing) == 1);
    zdir_destroy(&listing);
    zstr_free(&dir);
    zstr_free(&third);
    zstr_free(&old_wrong);
    zstr_free(&old_right);
    zstr_free(&new_file);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  One flipped byte anywhere (ciphertext, tag, nonce, public key, salt,
//  Argon2id parameters, cipher id) is refused at start; put back, the
//  node starts again.
static void test_tampered(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    const size_t places[] = {
        AT_CIPHERTEXT, AT_CIPHERTEXT + 20, FILE_SIZE - 1, AT_NONCE, AT_NONCE + 3, AT_PUBLIC,
        AT_SALT,       AT_OPSLIMIT,        AT_CIPHER,     0};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        s_flip(&self, places[i]);
        s_refused_start(&self, self.right, NULL, "identity");
        s_flip(&self, places[i]);
    }
    //  A truncated file is refused too.
    CHECK(truncate(self.key, FILE_SIZE - 1) == 0);
    s_refused_start(&self, self.right, NULL, "not a cairn identity file");
    free(peer_id);
    s_fixture_destroy(&self);
}

static void s_put_u64_at(fixture_t *self, size_t at, uint64_t value) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    int fd = open(self->key, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, bytes, 8, (off_t)at) == 8);
    close(fd);
}

//  Argon2id parameters are read before anything authenticates the file:
//  more than 8 passes or 1 GiB is refused with a message naming the
//  parameter, before the key derivation spends it (the largest child's
//  peak RSS stays far below the 2 GiB asked for).
static void test_argon2_bounds(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, NULL);
    uint8_t original[FILE_SIZE];
    s_read_key(&self, original);
    s_put_u64_at(&self, AT_OPSLIMIT, 9);
    s_refused_start(&self, self.right, NULL, "asks for 9 Argon2id passes");
    s_put_u64_at(&self, AT_OPSLIMIT, 64);
    s_refused_start(&self, self.right, NULL, "Argon2id passes");
    s_put_u64_at(&self, AT_OPSLIMIT, original[AT_OPSLIMIT]);
    s_put_u64_at(&self, AT_MEMLIMIT, (2ULL << 30));
    s_refused_start(&self, self.right, NULL, "bytes of Argon2id memory");
    s_put_u64_at(&self, AT_MEMLIMIT, (1ULL << 30) + 1024);
    s_refused_start(&self, self.right, NULL, "bytes of Argon2id memory");
    struct rusage usage;
    CHECK(getrusage(RUSAGE_CHILDREN, &usage) == 0 && usage.ru_maxrss < 512 * 1024);
    //  The file as written unlocks again: nothing else was changed.
    int fd = open(self.key, O_WRONLY);
    CHECK(fd >= 0 && write(fd, original, FILE_SIZE) == FILE_SIZE);
    close(fd);
    s_serve_as(&self, self.right, peer_id);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  Both ciphers, and passwd converting one into the other.
static void test_ciphers(void) {
    fixture_t self = s_fixture();
    char *peer_id = s_init(&self, self.right, "xchacha20poly1305");
    uint8_t bytes[FILE_SIZE];
    s_read_key(&self, bytes);
    CHECK(bytes[AT_CIPHER] == 2);
    s_serve_as(&self, self.right, peer_id);

    char *old_right = s_flag("identity-password-file", self.right);
    char *new_file = s_flag("new-identity-password-file", self.right);
    const char *args[] = {"identity",           "passwd", self.data_arg, old_right, new_file,
                          "--cipher=aes256gcm", NULL};
    harness_run_t run = s_cairnd(args, NULL);
    if (run.status == 0) {
        s_read_key(&self, bytes);
        CHECK(bytes[AT_CIPHER] == 1);
        s_serve_as(&self, self.right, peer_id);
    } else //  a CPU without AES-GCM: said so, nothing changed
        CHECK(run.status == 1 && strstr(run.err, "AES-256-GCM"));
    harness_run_free(&run);
    zstr_free(&old_right);
    zstr_free(&new_file);
    free(peer_id);
    s_fixture_destroy(&self);
}

//  Without an identity the node runs, and Info.peer_id is empty.
static void test_no_identity(void) {
    harness_node_t *node = harness_node_start(NULL, NULL);
    CHECK(node);
    char *shown = s_info_peer_id(node);
    CHECK(streq(shown, ""));
    free(shown);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);
}

//  `cairn info` shows the peer id (text and JSON), or says there is none.
static void test_cli_info(void) {
    fixture_t self = s_fixture();
    harness_node_t *node = harness_node_start(self.data, NULL);
    CHECK(node);
    run_t run = RUN("--endpoint", harness_node_endpoint(node), "info");
    CHECK(run.status == 0 && strstr(run.out, "peer id         (none: create one with cairnd "
                                             "identity init)"));
    cli_run_free(&run);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);

    char *peer_id = s_init(&self, self.right, NULL);
    char *password = s_flag("identity-password-file", self.right);
    const char *args[] = {password, NULL};
    node = harness_node_start(self.data, args);
    CHECK(node);
    run = RUN("--endpoint", harness_node_endpoint(node), "info");
    char *line = zsys_sprintf("peer id         %s\n", peer_id);
    CHECK(run.status == 0 && strstr(run.out, line));
    cli_run_free(&run);
    run = RUN("--endpoint", harness_node_endpoint(node), "--json", "info");
    json_t *object = cli_run_json(&run);
    CHECK(object && cli_json_str_is(object, "peer_id", peer_id));
    json_decref(object);
    cli_run_free(&run);
    CHECK(harness_node_stop(node) == 0);
    harness_node_destroy(&node);
    zstr_free(&line);
    zstr_free(&password);
    free(peer_id);
    s_fixture_destroy(&self);
}

static void s_usage(const char *const *args, int status, const char *fragment) {
    harness_run_t run = s_cairnd(args, NULL);
    if (run.status != status || !strstr(run.err, fragment))
        fprintf(stderr, "status %d, stderr: %s\n", run.status, run.err);
    CHECK(run.status == status && strstr(run.err, fragment));
    harness_run_free(&run);
}

static void test_bad_input(void) {
    fixture_t self = s_fixture();
    const char *no_command[] = {"identity", self.data_arg, NULL};
    s_usage(no_command, 2, "init, show or passwd");
    const char *unknown[] = {"identity", "rotate", self.data_arg, NULL};
    s_usage(unknown, 2, "not 'rotate'");
    const char *cipher[] = {"identity", "init", self.data_arg, "--cipher=rot13", NULL};
    s_usage(cipher, 2, "--cipher must be");
    const char *print[] = {"identity", "show", "--print-config", NULL};
    s_usage(print, 2, "--print-config does not go with identity");
    const char *extra[] = {"identity", "show", "more", NULL};
    s_usage(extra, 2, "unexpected argument 'more'");
    const char *misplaced[] = {self.data_arg, "--cipher=auto", NULL};
    s_usage(misplaced, 2, "belong to cairnd identity");
    const char *show[] = {"identity", "show", self.data_arg, NULL};
    s_usage(show, 1, "cairnd identity init");
    char *empty = s_flag("identity-password-file", self.empty);
    const char *init_empty[] = {"identity", "init", self.data_arg, empty, NULL};
    s_usage(init_empty, 1, "empty");
    const char *passwd_none[] = {"identity", "passwd", self.data_arg, empty, NULL};
    s_usage(passwd_none, 1, "cairnd identity init");
    struct stat info;
    CHECK(stat(self.key, &info) != 0); //  nothing was created
    zstr_free(&empty);
    s_fixture_destroy(&self);
}

//  ---- the prompt, on a pseudo-terminal ------------------------------------------------

//  cairnd on a pseudo-terminal (harness_run_on_pty), with no password in
//  its environment, so that it has to prompt.
static harness_pty_run_t s_run_on_pty(const char *const *args, const char *const *prompts,
                                      const char *const *replies, const char *running) {
    static const char *const no_password[] = {"CAIRN_IDENTITY_PASSWORD",
                                              "CAIRN_IDENTITY_NEW_PASSWORD", NULL};
    return harness_run_on_pty(harness_cairnd_path(), args, no_password, prompts, replies, running,
                              PTY_MS);
}

//  init, passwd and the start read the password from the terminal with
//  echo off; what is typed never shows in the transcript.
static void test_prompt(void) {
    fixture_t self = s_fixture();
    const char *init[] = {"identity", "init", self.data_arg, NULL};
    const char *init_prompts[] = {"New identity password: ", "Repeat the password: ", NULL};
    const char *differ[] = {"typed-one\n", "typed-two\n", NULL};
    harness_pty_run_t run = s_run_on_pty(init, init_prompts, differ, NULL);
    CHECK(run.status == 1 && strstr(run.transcript, "the two passwords differ"));
    CHECK(!strstr(run.transcript, "typed-"));
    free(run.transcript);
    struct stat info;
    CHECK(stat(self.key, &info) != 0);

    const char *same[] = {"typed-secret-42\n", "typed-secret-42\n", NULL};
    run = s_run_on_pty(init, init_prompts, same, NULL);
    CHECK(run.status == 0 && !strstr(run.transcript, "typed-secret"));
    free(run.transcript);
    char *peer_id = s_show(&self);
    char *typed = s_write(self.dir, "typed", "typed-secret-42");
    s_serve_as(&self, typed, peer_id); //  the prompt took exactly what was typed

    //  At start: a wrong password ends it; the right one serves.
    char *endpoint = zsys_sprintf("--client-endpoint=tcp://127.0.0.1:%d", harness_free_port());
    const char *start[] = {self.data_arg, endpoint, NULL};
    const char *start_prompts[] = {"Node identity password: ", NULL};
    const char *wrong[] = {"not-the-secret\n", NULL};
    run = s_run_on_pty(start, start_prompts, wrong, NULL);
    CHECK(run.status == 1 && strstr(run.transcript, "wrong password"));
    CHECK(!strstr(run.transcript, "not-the-secret"));
    free(run.transcript);
    const char *right[] = {"typed-secret-42\n", NULL};
    run = s_run_on_pty(start, start_prompts, right, "unlocked");
    CHECK(run.status == 0 && strstr(run.transcript, peer_id));
    CHECK(!strstr(run.transcript, "typed-secret"));
    free(run.transcript);

    //  passwd: current, new, repeat.
    const char *passwd[] = {"identity", "passwd", self.data_arg, NULL};
    const char *passwd_prompts[] = {
        "Current identity password: ", "New identity password: ", "Repeat the password: ", NULL};
    const char *answers[] = {"typed-secret-42\n", "typed-new-7\n", "typed-new-7\n", NULL};
    run = s_run_on_pty(passwd, passwd_prompts, answers, NULL);
    CHECK(run.status == 0 && !strstr(run.transcript, "typed-"));
    free(run.transcript);
    s_refused_start(&self, typed, NULL, "wrong password");
    char *typed_new = s_write(self.dir, "typed-new", "typed-new-7\n");
    s_serve_as(&self, typed_new, peer_id);

    zstr_free(&endpoint);
    zstr_free(&typed);
    zstr_free(&typed_new);
    free(peer_id);
    s_fixture_destroy(&self);
}

static const harness_test_t s_tests[] = {
    {"init_show", test_init_show},
    {"init_twice", test_init_twice},
    {"durable", test_durable},
    {"unlock_file", test_unlock_file},
    {"unlock_env", test_unlock_env},
    {"wrong_password", test_wrong_password},
    {"passwd", test_passwd},
    {"tampered", test_tampered},
    {"argon2_bounds", test_argon2_bounds},
    {"ciphers", test_ciphers},
    {"no_identity", test_no_identity},
    {"bad_input", test_bad_input},
    {"prompt", test_prompt},
    {"cli_info", test_cli_info},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.identity", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

/*  =========================================================================
    e2e_channels - black-box tests of channels, membership and protected
    channels against a real cairnd

        e2e-channels TEST    runs one test (ctest registers each by name)

    Every test starts a real cairnd on a free loopback port in a temp dir,
    talks to it only through its ZeroMQ endpoint (except where a test puts
    message rows into cairn.db while the node is stopped: the messages
    store is not part of this branch), and stops it with SIGTERM, expecting
    exit status 0. Waits are polls with timeouts, never sleeps. Every answer
    is checked for a password hash, which must never leave the node.
    ========================================================================= */

#include "harness.h"
#include "ca_names.h"
#include "ca_limits.h"
#include "ca_sql.h"
#include "channel_auth.h"
#include "channels.h"
#include "messages.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 5000

//  Peak resident memory cairnd may reach in verify_bounded: the pool runs
//  at most 2 Argon2id checks of 64 MiB at once, so 128 MiB plus the node's
//  own (a few MiB; tens under ASan) must stay well under this. An unbounded
//  pool would run one check per queued request.
#define PEAK_MEMORY_MAX_KIB (400 * 1024)

#define CHECK HARNESS_CHECK

//  ---- helpers -------------------------------------------------------------------

//  Sends raw bytes as one frame and returns the answer.
static Cairn__Response *s_call_raw(zsock_t *client, const void *data, size_t size) {
    zframe_t *frame = zframe_new(data, size);
    zframe_send(&frame, client, 0);
    Cairn__Response *response = harness_recv(client, CALL_MS);
    CHECK(response);
    return response;
}

//  Puts rows into the stopped node's database with plain SQL: messages
//  (the messages store is built elsewhere) for the counts to count.
static void s_sql_offline(harness_node_t *node, const char *sql_text) {
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    CHECK(sql);
    int rc = ca_sql_exec(sql, sql_text);
    if (rc != SQLITE_OK)
        fprintf(stderr, "offline SQL failed: %s\n", sqlite3_errmsg(ca_sql_handle(sql)));
    CHECK(rc == SQLITE_OK);
    ca_sql_destroy(&sql);
    zstr_free(&path);
}

//  Message rows for `channel`, `count` of them, ids prefixed by `tag`.
static char *s_messages_sql(const char *channel, int count, const char *tag) {
    char *sql = strdup("");
    for (int i = 0; i < count; i++) {
        char *next = zsys_sprintf("%sINSERT INTO messages (id, timestamp, sender_id, sender_name,"
                                  " channel, content, encrypted, signature) VALUES"
                                  " ('%s-%d', %d, 'peer-s', 'S', '%s', 'word%s%d', 0, x'00');",
                                  sql, tag, i, 1000 + i, channel, tag, i);
        free(sql);
        sql = next;
    }
    return sql;
}

//  A summary of everything the node stores about channels, for "nothing
//  changed" checks: each channel with its fields, count and members.
static char *s_snapshot(ca_caller_t *caller) {
    Cairn__Response *list = channels_fixture_list(caller);
    CHECK(list->status == CAIRN__STATUS__OK);
    char *text = strdup("");
    for (size_t i = 0; i < list->channel_list->n_channels; i++) {
        const Cairn__Channel *channel = list->channel_list->channels[i];
        Cairn__Response *members = channels_fixture_members(caller, channel->name, "");
        CHECK(members->status == CAIRN__STATUS__OK);
        char *next =
            zsys_sprintf("%s%s %.6f %.6f %d %d %zu %llu:", text, channel->name, channel->created_at,
                         channel->last_activity, channel->encrypted, channel->protected_,
                         channel->salt.len, (unsigned long long)channel->message_count);
        free(text);
        text = next;
        for (size_t m = 0; m < members->member_list->n_members; m++) {
            next = zsys_sprintf("%s %s", text, members->member_list->members[m]->peer_id);
            free(text);
            text = next;
        }
        next = zsys_sprintf("%s\n", text);
        free(text);
        text = next;
        cairn__response__free_unpacked(members, NULL);
    }
    cairn__response__free_unpacked(list, NULL);
    return text;
}

//  ---- create --------------------------------------------------------------------

static void test_create_plain(void) {
    HARNESS_SESSION_UP(NULL);
    Cairn__Response *response = channels_fixture_create(caller, "#general", false, "");
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_CREATE);
    Cairn__Channel *channel = response->channel_create;
    CHECK(streq(channel->name, "#general") && !channel->encrypted && !channel->protected_);
    CHECK(channel->salt.len == 0 && channel->message_count == 0);
    CHECK(channel->created_at > 1.6e9 && channel->last_activity == channel->created_at);
    double created_at = channel->created_at;
    cairn__response__free_unpacked(response, NULL);
    //  Readable at once, and after a restart.
    response = channels_fixture_get(caller, "#general");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_get->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    harness_session_restart(node, &client, &caller);
    response = channels_fixture_get(caller, "#general");
    CHECK(response->status == CAIRN__STATUS__OK && !response->channel_get->protected_);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_create_encrypted(void) {
    HARNESS_SESSION_UP(NULL);
    Cairn__Response *response = channels_fixture_create(caller, "#sealed", true, "");
    CHECK(response->status == CAIRN__STATUS__OK);
    CHECK(response->channel_create->encrypted && !response->channel_create->protected_);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_get(caller, "#sealed");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_get->encrypted);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  True when `needle` appears in the file at `path`.
static bool s_file_has(const char *path, const char *needle) {
    zfile_t *file = zfile_new(NULL, path);
    bool found = false;
    if (file && zfile_input(file) == 0) {
        zchunk_t *chunk = zfile_read(file, (size_t)zfile_cursize(file), 0);
        found = chunk && memmem(zchunk_data(chunk), zchunk_size(chunk), needle, strlen(needle));
        zchunk_destroy(&chunk);
        zfile_close(file);
    }
    zfile_destroy(&file);
    return found;
}

//  True when `needle` appears in any file under `dir`.
static bool s_dir_has(const char *dir, const char *needle) {
    zdir_t *files = zdir_new(dir, NULL);
    CHECK(files);
    zfile_t **list = zdir_flatten(files);
    bool found = false;
    for (size_t i = 0; list[i] && !found; i++)
        found = s_file_has(zfile_filename(list[i], NULL), needle);
    zdir_flatten_free(&list);
    zdir_destroy(&files);
    return found;
}

static void test_create_protected(void) {
    HARNESS_SESSION_UP(NULL);
    const char *password = "tr0ub4dor&3-unique-e2e";
    Cairn__Response *response = channels_fixture_create(caller, "#vault", true, password);
    CHECK(response->status == CAIRN__STATUS__OK);
    Cairn__Channel *channel = response->channel_create;
    CHECK(channel->protected_ && channel->encrypted);
    CHECK(channel->salt.len == crypto_pwhash_SALTBYTES);
    uint8_t salt[crypto_pwhash_SALTBYTES];
    memcpy(salt, channel->salt.data, sizeof salt);
    cairn__response__free_unpacked(response, NULL);
    //  The same salt on every read; the password opens it.
    response = channels_fixture_get(caller, "#vault");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_get->protected_);
    CHECK(response->channel_get->salt.len == sizeof salt &&
          memcmp(response->channel_get->salt.data, salt, sizeof salt) == 0);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_verify(caller, "#vault", password);
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    //  Nothing of the password reached the data dir (database, WAL) or the
    //  log.
    CHECK(harness_node_stop(node) == 0);
    CHECK(!s_dir_has(harness_node_data_dir(node), password));
    CHECK(!s_file_has(harness_node_log_path(node), password));
    CHECK(s_dir_has(harness_node_data_dir(node), "#vault")); //  the scan sees the data
    harness_session_reopen(node, &client, &caller);
    response = channels_fixture_verify(caller, "#vault", password);
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_conflict(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#taken", false, ""), CAIRN__STATUS__OK,
                      NULL);
    char *before = s_snapshot(caller);
    ca_response_check(channels_fixture_create(caller, "#taken", true, "a password"),
                      CAIRN__STATUS__CONFLICT, "channel #taken already exists");
    ca_response_check(channels_fixture_create(caller, "#taken", false, ""), CAIRN__STATUS__CONFLICT,
                      "already exists");
    char *after = s_snapshot(caller);
    CHECK(streq(before, after));
    free(before);
    free(after);
    //  Two protected creates of one new name at once (both pass the cheap
    //  check, both hash on the two workers): exactly one wins.
    for (int i = 0; i < 2; i++) {
        Cairn__Request request;
        Cairn__ChannelCreate create;
        ca_request_channel_create(&request, &create, 900 + i, "#race", false,
                                  i ? "second" : "first");
        CHECK(harness_send(client, &request) == 0);
    }
    int ok = 0, conflict = 0;
    for (int i = 0; i < 2; i++) {
        Cairn__Response *response = harness_recv(client, CALL_MS);
        CHECK(response && (response->id == 900 || response->id == 901));
        ok += response->status == CAIRN__STATUS__OK;
        conflict += response->status == CAIRN__STATUS__CONFLICT;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(ok == 1 && conflict == 1);
    //  The winner's password opens it, the loser's does not.
    Cairn__Response *first = channels_fixture_verify(caller, "#race", "first");
    Cairn__Response *second = channels_fixture_verify(caller, "#race", "second");
    CHECK((first->status == CAIRN__STATUS__OK) != (second->status == CAIRN__STATUS__OK));
    CHECK(first->status == CAIRN__STATUS__UNAUTHORIZED ||
          second->status == CAIRN__STATUS__UNAUTHORIZED);
    cairn__response__free_unpacked(first, NULL);
    cairn__response__free_unpacked(second, NULL);
    harness_session_down(&caller, &client, &node);
}

//  ---- read, touch, delete ---------------------------------------------------------

static void test_get_list_counts(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#zeta", false, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#alpha", true, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#mid", false, "pw"), CAIRN__STATUS__OK,
                      NULL);
    Cairn__Response *response = channels_fixture_list(caller);
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_list->n_channels == 3);
    cairn__response__free_unpacked(response, NULL);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    //  Messages written straight into the stopped node's database.
    CHECK(harness_node_stop(node) == 0);
    char *alpha = s_messages_sql("#alpha", 4, "a");
    char *zeta = s_messages_sql("#zeta", 1, "z");
    s_sql_offline(node, alpha);
    s_sql_offline(node, zeta);
    free(alpha);
    free(zeta);
    harness_session_reopen(node, &client, &caller);
    response = channels_fixture_list(caller);
    Cairn__ChannelPage *page = response->channel_list;
    CHECK(response->status == CAIRN__STATUS__OK && page->n_channels == 3);
    CHECK(streq(page->channels[0]->name, "#alpha") && page->channels[0]->message_count == 4);
    CHECK(page->channels[0]->encrypted && !page->channels[0]->protected_);
    CHECK(streq(page->channels[1]->name, "#mid") && page->channels[1]->message_count == 0);
    CHECK(page->channels[1]->protected_ && page->channels[1]->salt.len == 16);
    CHECK(streq(page->channels[2]->name, "#zeta") && page->channels[2]->message_count == 1);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_get(caller, "#alpha");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_get->message_count == 4);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_get(caller, "#missing"), CAIRN__STATUS__NOT_FOUND,
                      "#missing does not exist");
    ca_response_check(channels_fixture_get(caller, "#ALPHA"), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    //  Rows written without MessageStore are indexed by the messages
    //  store's upkeep at start: search finds them.
    size_t hits = 0;
    int64_t deadline = zclock_mono() + CALL_MS;
    for (int polls = 0; polls < 1000 && hits == 0 && zclock_mono() < deadline; polls++) {
        response = messages_fixture_search(caller, "worda3", "", 0);
        CHECK(response->status == CAIRN__STATUS__OK);
        hits = response->message_search->n_messages;
        cairn__response__free_unpacked(response, NULL);
        if (hits == 0)
            zclock_sleep(10); //  polling: the upkeep runs at its own pace
    }
    CHECK(hits == 1);
    harness_session_down(&caller, &client, &node);
}

static void test_touch(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#t", false, ""), CAIRN__STATUS__OK, NULL);
    Cairn__Response *response = channels_fixture_touch(caller, "#t", 1700000000.25);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_TOUCH);
    CHECK(response->channel_touch->last_activity == 1700000000.25);
    CHECK(streq(response->channel_touch->name, "#t") && !response->channel_touch->protected_);
    double created_at = response->channel_touch->created_at;
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_get(caller, "#t");
    CHECK(response->channel_get->last_activity == 1700000000.25);
    CHECK(response->channel_get->created_at == created_at);
    cairn__response__free_unpacked(response, NULL);
    //  0: now (the node's clock, so compare with created_at, also the node's).
    response = channels_fixture_touch(caller, "#t", 0);
    CHECK(response->status == CAIRN__STATUS__OK);
    CHECK(response->channel_touch->last_activity >= created_at);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_touch(caller, "#nope", 5), CAIRN__STATUS__NOT_FOUND,
                      "#nope does not exist");
    ca_response_check(channels_fixture_touch(caller, "#t", -3), CAIRN__STATUS__INVALID,
                      "ChannelTouch.timestamp");
    ca_response_check(channels_fixture_get(caller, "#nope"), CAIRN__STATUS__NOT_FOUND,
                      NULL); //  touch made nothing
    harness_session_down(&caller, &client, &node);
}

static void test_delete_counts(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#doomed", false, "pw"), CAIRN__STATUS__OK,
                      NULL);
    ca_response_check(channels_fixture_create(caller, "#keeper", false, ""), CAIRN__STATUS__OK,
                      NULL);
    ca_response_check(channels_fixture_join(caller, "#doomed", "peer-a"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#doomed", "peer-b"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#doomed", "peer-c"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#keeper", "peer-a"), CAIRN__STATUS__OK, NULL);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    CHECK(harness_node_stop(node) == 0);
    char *doomed = s_messages_sql("#doomed", 5, "d");
    char *keeper = s_messages_sql("#keeper", 2, "k");
    s_sql_offline(node, doomed);
    s_sql_offline(node, keeper);
    free(doomed);
    free(keeper);
    harness_session_reopen(node, &client, &caller);
    Cairn__Response *response = channels_fixture_delete(caller, "#doomed");
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_DELETE);
    CHECK(streq(response->channel_delete->name, "#doomed"));
    CHECK(response->channel_delete->messages == 5 && response->channel_delete->members == 3);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_get(caller, "#doomed"), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(channels_fixture_verify(caller, "#doomed", "pw"), CAIRN__STATUS__NOT_FOUND,
                      "does not exist");
    ca_response_check(channels_fixture_members(caller, "#doomed", ""), CAIRN__STATUS__NOT_FOUND,
                      NULL);
    ca_response_check(channels_fixture_delete(caller, "#doomed"), CAIRN__STATUS__NOT_FOUND,
                      "nothing was deleted");
    //  The other channel kept its messages and members; peer-a kept it.
    response = channels_fixture_get(caller, "#keeper");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_get->message_count == 2);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_members(caller, "", "peer-a");
    CHECK(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 1);
    CHECK(streq(response->member_list->members[0]->channel, "#keeper"));
    cairn__response__free_unpacked(response, NULL);
    ca_caller_destroy(&caller);
    zsock_destroy(&client);
    //  On disk: no row of #doomed is left, and the full-text index agrees.
    CHECK(harness_node_stop(node) == 0);
    s_sql_offline(node, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check');");
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_ONLY, NULL, &error);
    CHECK(sql);
    sqlite3_stmt *stmt = ca_sql_prepare(
        sql, "SELECT (SELECT count(*) FROM messages WHERE channel = '#doomed'),"
             " (SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'wordd0'),"
             " (SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'wordk0'),"
             " (SELECT count(*) FROM members WHERE channel = '#doomed')");
    CHECK(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(sqlite3_column_int(stmt, 0) == 0 && sqlite3_column_int(stmt, 1) == 0);
    CHECK(sqlite3_column_int(stmt, 2) == 1 && sqlite3_column_int(stmt, 3) == 0);
    sqlite3_reset(stmt);
    ca_sql_destroy(&sql);
    zstr_free(&path);
    CHECK(harness_node_restart(node) == 0);
    harness_node_down(&node);
}

//  ---- verify ------------------------------------------------------------------------

static void test_verify_right(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#v", false, "open sesame"),
                      CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#w", false, "pässwörd ✓"), CAIRN__STATUS__OK,
                      NULL);
    Cairn__Response *response = channels_fixture_verify(caller, "#v", "open sesame");
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_VERIFY &&
          response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_verify(caller, "#w", "pässwörd ✓");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_verify_wrong(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#v", false, "open sesame"),
                      CAIRN__STATUS__OK, NULL);
    const char *wrong[] = {"open sesamE", "Open sesame", "open sesam", "open sesame!", "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        Cairn__Response *response = channels_fixture_verify(caller, "#v", wrong[i]);
        CHECK(response->status == CAIRN__STATUS__UNAUTHORIZED);
        CHECK(strstr(response->error, "wrong password for channel #v"));
        CHECK(response->body_case == CAIRN__RESPONSE__BODY__NOT_SET);
        cairn__response__free_unpacked(response, NULL);
    }
    //  A wrong guess changes nothing: the right one still works.
    Cairn__Response *response = channels_fixture_verify(caller, "#v", "open sesame");
    CHECK(response->status == CAIRN__STATUS__OK && response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  Ten wrong passwords for one channel within a minute: the next check of
//  it, right or wrong, is BUSY saying when to retry; another channel is
//  checked as before.
static void test_verify_rate_limit(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#guarded", false, "the right one"),
                      CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#neighbour", false, "its own"),
                      CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_verify(caller, "#guarded", "the right one"),
                      CAIRN__STATUS__OK, NULL);
    for (int i = 0; i < 10; i++)
        ca_response_check(channels_fixture_verify(caller, "#guarded", "a guess"),
                          CAIRN__STATUS__UNAUTHORIZED, "wrong password for channel #guarded");
    ca_response_check(channels_fixture_verify(caller, "#guarded", "another guess"),
                      CAIRN__STATUS__BUSY, "had 10 wrong passwords within 60 s");
    Cairn__Response *response = channels_fixture_verify(caller, "#guarded", "the right one");
    CHECK(response->status == CAIRN__STATUS__BUSY && strstr(response->error, "retry in "));
    int seconds = atoi(strstr(response->error, "retry in ") + 9);
    CHECK(seconds >= 1 && seconds <= 60);
    cairn__response__free_unpacked(response, NULL);
    //  Another channel has its own budget.
    ca_response_check(channels_fixture_verify(caller, "#neighbour", "wrong"),
                      CAIRN__STATUS__UNAUTHORIZED, "wrong password for channel #neighbour");
    ca_response_check(channels_fixture_verify(caller, "#neighbour", "its own"), CAIRN__STATUS__OK,
                      NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_verify_unprotected(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#open", false, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_verify(caller, "#open", "anything"), CAIRN__STATUS__INVALID,
                      "channel #open is not password-protected");
    harness_session_down(&caller, &client, &node);
}

static void test_verify_unknown(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_verify(caller, "#ghost", "anything"),
                      CAIRN__STATUS__NOT_FOUND, "channel #ghost does not exist");
    harness_session_down(&caller, &client, &node);
}

//  A burst of password checks from one client: the bounded pool runs two at
//  a time, queues a few and refuses the rest with BUSY at once; every check
//  is answered, the right ones right; other requests keep flowing
//  meanwhile; memory stays bounded.
static void test_verify_bounded(void) {
    harness_node_t *node = harness_node_up(NULL);
    zsock_t *flooder = harness_connect(harness_node_endpoint(node));
    zsock_t *other = harness_connect(harness_node_endpoint(node));
    ca_caller_t *other_caller = ca_caller_new_socket(other, HARNESS_CALL_MS);
    ca_response_check(channels_fixture_create(other_caller, "#locked", false, "right password"),
                      CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(other_caller, "#open", false, ""), CAIRN__STATUS__OK,
                      NULL);
    enum { COUNT = 40, FIRST_ID = 1000 };
    for (int i = 0; i < COUNT; i++) {
        Cairn__Request request;
        Cairn__ChannelVerify verify;
        //  Even ids carry the right password, odd ones a wrong one.
        ca_request_channel_verify(&request, &verify, FIRST_ID + (uint64_t)i, "#locked",
                                  i % 2 ? "wrong password" : "right password");
        CHECK(harness_send(flooder, &request) == 0);
    }
    //  Meanwhile a read on another pool and a Ping, on another socket.
    Cairn__Response *response = channels_fixture_get(other_caller, "#open");
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    harness_expect_alive(other);

    bool seen[COUNT] = {false};
    int busy = 0, checked = 0, order = 0, first_busy = -1, first_checked = -1;
    //  First take the answers that were already there when the reads above
    //  returned (without waiting), then wait for the rest.
    bool draining = true;
    int answered_during_reads = COUNT;
    int64_t deadline = zclock_mono() + 60000;
    int received = 0;
    while (received < COUNT) {
        int remaining = (int)(deadline - zclock_mono());
        response = harness_recv(flooder, draining ? 0 : remaining > 0 ? remaining : 0);
        if (!response && draining) {
            answered_during_reads = received;
            draining = false;
            continue;
        }
        CHECK(response);
        received++;
        CHECK(response->id >= FIRST_ID && response->id < FIRST_ID + COUNT);
        int index = (int)(response->id - FIRST_ID);
        CHECK(!seen[index]);
        seen[index] = true;
        if (response->status == CAIRN__STATUS__BUSY) {
            //  The pool's queue, or first the flooder's share of it.
            CHECK(strstr(response->error, "channel_auth store is saturated") ||
                  strstr(response->error, "read your answers"));
            busy++;
            if (first_busy < 0)
                first_busy = order;
        } else {
            //  Not BUSY: checked, and rightly so.
            CHECK(response->status ==
                  (index % 2 ? CAIRN__STATUS__UNAUTHORIZED : CAIRN__STATUS__OK));
            CHECK(index % 2 || response->channel_verify->ok);
            checked++;
            if (first_checked < 0)
                first_checked = order;
        }
        order++;
        cairn__response__free_unpacked(response, NULL);
    }
    CHECK(harness_recv(flooder, 200) == NULL); //  exactly one answer each
    uint64_t rss_kib = 0, peak_kib = 0;
    int memory = harness_node_memory(node, &rss_kib, &peak_kib);
    fprintf(stderr,
            "verify_bounded: %d checked, %d busy; %d answered before the other socket's reads "
            "returned; cairnd peak memory %llu KiB\n",
            checked, busy, answered_during_reads, (unsigned long long)peak_kib);
    //  Refused at once: the first BUSY came before the first check's answer
    //  (a check takes an Argon2id computation, a refusal none).
    CHECK(busy > 0 && checked >= 2);
    CHECK(first_busy >= 0 && first_busy < first_checked);
    //  "A few wait": 2 workers, each with a queue of 2 (ZeroMQ's pipe
    //  accounting lets a few more through), never most of the burst.
    CHECK(checked <= COUNT / 2);
    //  Reads on the other socket were answered while checks were pending.
    CHECK(answered_during_reads < COUNT);
    CHECK(memory == 0 && peak_kib > 0 && peak_kib < PEAK_MEMORY_MAX_KIB);

    //  Info counts the refusals against the right pool, with its 2 workers.
    Cairn__Request request;
    Cairn__InfoRequest info_request;
    ca_request_info(&request, &info_request, 0);
    response = channels_fixture_call(other_caller, &request);
    CHECK(response->status == CAIRN__STATUS__OK);
    const Cairn__ActorInfo *auth = harness_info_actor(response->info, "channel_auth");
    const Cairn__ActorInfo *channels = harness_info_actor(response->info, "channels");
    CHECK(auth && auth->workers == 2 && auth->busy == (uint64_t)busy);
    CHECK(auth->queue_depth == 0);
    CHECK(channels && channels->busy == 0 && channels->errors == 0);
    cairn__response__free_unpacked(response, NULL);
    //  And the pool serves again once the burst is over.
    response = channels_fixture_verify(other_caller, "#locked", "right password");
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    zsock_destroy(&flooder);
    ca_caller_destroy(&other_caller);
    zsock_destroy(&other);
    harness_node_down(&node);
}

//  ---- membership ----------------------------------------------------------------------

static void test_join_leave_list(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#a", false, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#b", false, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_create(caller, "#empty", false, ""), CAIRN__STATUS__OK,
                      NULL);
    Cairn__Response *response = channels_fixture_join(caller, "#a", "zed");
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MEMBER_JOIN);
    CHECK(response->member_join->changed && streq(response->member_join->channel, "#a") &&
          streq(response->member_join->peer_id, "zed"));
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_join(caller, "#a", "amy:1"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#b", "amy:1"), CAIRN__STATUS__OK, NULL);
    //  Members of a channel, by peer id.
    response = channels_fixture_members(caller, "#a", "");
    CHECK(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 2);
    CHECK(streq(response->member_list->members[0]->peer_id, "amy:1"));
    CHECK(streq(response->member_list->members[1]->peer_id, "zed"));
    CHECK(streq(response->member_list->members[0]->channel, "#a"));
    cairn__response__free_unpacked(response, NULL);
    //  Channels of a peer, by name.
    response = channels_fixture_members(caller, "", "amy:1");
    CHECK(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 2);
    CHECK(streq(response->member_list->members[0]->channel, "#a"));
    CHECK(streq(response->member_list->members[1]->channel, "#b"));
    cairn__response__free_unpacked(response, NULL);
    //  Empty answers: a channel without members, a peer in no channel.
    response = channels_fixture_members(caller, "#empty", "");
    CHECK(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 0);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_members(caller, "", "stranger");
    CHECK(response->status == CAIRN__STATUS__OK && response->member_list->n_members == 0);
    cairn__response__free_unpacked(response, NULL);
    ca_response_check(channels_fixture_members(caller, "#ghost", ""), CAIRN__STATUS__NOT_FOUND,
                      "#ghost does not exist");
    ca_response_check(channels_fixture_join(caller, "#ghost", "amy:1"), CAIRN__STATUS__NOT_FOUND,
                      "#ghost does not exist");
    //  Leave, and both directions follow.
    response = channels_fixture_leave(caller, "#a", "amy:1");
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->body_case == CAIRN__RESPONSE__BODY_MEMBER_LEAVE &&
          response->member_leave->changed);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_members(caller, "", "amy:1");
    CHECK(response->member_list->n_members == 1);
    CHECK(streq(response->member_list->members[0]->channel, "#b"));
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_members(caller, "#a", "");
    CHECK(response->member_list->n_members == 1);
    CHECK(streq(response->member_list->members[0]->peer_id, "zed"));
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_join_idempotent(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#c", false, ""), CAIRN__STATUS__OK, NULL);
    for (int i = 0; i < 3; i++) {
        Cairn__Response *response = channels_fixture_join(caller, "#c", "peer.1");
        CHECK(response->status == CAIRN__STATUS__OK);
        CHECK(response->member_join->changed == (i == 0));
        cairn__response__free_unpacked(response, NULL);
    }
    Cairn__Response *response = channels_fixture_members(caller, "#c", "");
    CHECK(response->member_list->n_members == 1);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

static void test_leave_not_member(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#c", false, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#c", "in"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_leave(caller, "#c", "out"), CAIRN__STATUS__NOT_FOUND,
                      "peer out is not a member of #c");
    ca_response_check(channels_fixture_leave(caller, "#ghost", "in"), CAIRN__STATUS__NOT_FOUND,
                      "channel #ghost does not exist");
    ca_response_check(channels_fixture_leave(caller, "#c", "in"), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_leave(caller, "#c", "in"), CAIRN__STATUS__NOT_FOUND,
                      "is not a member");
    harness_session_down(&caller, &client, &node);
}

//  ---- bad input -------------------------------------------------------------------------

static void test_bad_input(void) {
    HARNESS_SESSION_UP(NULL);
    ca_response_check(channels_fixture_create(caller, "#real", false, "secret"), CAIRN__STATUS__OK,
                      NULL);
    ca_response_check(channels_fixture_create(caller, "#plain", true, ""), CAIRN__STATUS__OK, NULL);
    ca_response_check(channels_fixture_join(caller, "#real", "peer-1"), CAIRN__STATUS__OK, NULL);
    char *before = s_snapshot(caller);

    char long_name[CA_CHANNEL_NAME_MAX + 2];
    long_name[0] = '#';
    memset(long_name + 1, 'x', CA_CHANNEL_NAME_MAX);
    long_name[CA_CHANNEL_NAME_MAX + 1] = 0; //  65 bytes
    const char *bad_names[] = {"../x",    "#a b", "nohash",    "",       long_name,
                               "#../etc", "#a%s", "#\xc3\xa9", "#tab\t", "real"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        const char *name = bad_names[i];
        ca_response_check(channels_fixture_create(caller, name, false, ""), CAIRN__STATUS__INVALID,
                          "ChannelCreate.name");
        ca_response_check(channels_fixture_create(caller, name, false, "pw"),
                          CAIRN__STATUS__INVALID, "ChannelCreate.name");
        ca_response_check(channels_fixture_verify(caller, name, "pw"), CAIRN__STATUS__INVALID,
                          "ChannelVerify.name");
        ca_response_check(channels_fixture_get(caller, name), CAIRN__STATUS__INVALID,
                          "ChannelGet.name");
        ca_response_check(channels_fixture_touch(caller, name, 0), CAIRN__STATUS__INVALID,
                          "ChannelTouch.name");
        ca_response_check(channels_fixture_delete(caller, name), CAIRN__STATUS__INVALID,
                          "ChannelDelete.name");
        ca_response_check(channels_fixture_join(caller, name, "peer-1"), CAIRN__STATUS__INVALID,
                          "MemberJoin.channel");
        ca_response_check(channels_fixture_leave(caller, name, "peer-1"), CAIRN__STATUS__INVALID,
                          "MemberLeave.channel");
        if (*name)
            ca_response_check(channels_fixture_members(caller, name, ""), CAIRN__STATUS__INVALID,
                              "MemberList.channel");
    }
    char long_peer[CA_PEER_ID_MAX + 2];
    memset(long_peer, 'p', CA_PEER_ID_MAX + 1);
    long_peer[CA_PEER_ID_MAX + 1] = 0; //  129 bytes
    const char *bad_peers[] = {"", long_peer, "a b", "../x", "a/b", "p;q"};
    for (size_t i = 0; i < sizeof bad_peers / sizeof bad_peers[0]; i++) {
        const char *peer = bad_peers[i];
        ca_response_check(channels_fixture_join(caller, "#real", peer), CAIRN__STATUS__INVALID,
                          "MemberJoin.peer_id");
        ca_response_check(channels_fixture_leave(caller, "#real", peer), CAIRN__STATUS__INVALID,
                          "MemberLeave.peer_id");
        if (*peer)
            ca_response_check(channels_fixture_members(caller, "", peer), CAIRN__STATUS__INVALID,
                              "MemberList.peer_id");
    }
    //  MemberList needs exactly one of its two fields.
    ca_response_check(channels_fixture_members(caller, "", ""), CAIRN__STATUS__INVALID,
                      "neither was set");
    ca_response_check(channels_fixture_members(caller, "#real", "peer-1"), CAIRN__STATUS__INVALID,
                      "both were set");
    //  Oversized passwords, an empty one to verify, a bad timestamp.
    char *password = (char *)malloc(CHANNEL_AUTH_PASSWORD_MAX + 2);
    memset(password, 'p', CHANNEL_AUTH_PASSWORD_MAX + 1);
    password[CHANNEL_AUTH_PASSWORD_MAX + 1] = 0;
    ca_response_check(channels_fixture_create(caller, "#big", false, password),
                      CAIRN__STATUS__INVALID, "the limit is 1024 bytes");
    ca_response_check(channels_fixture_verify(caller, "#real", password), CAIRN__STATUS__INVALID,
                      "at most 1024");
    free(password);
    ca_response_check(channels_fixture_verify(caller, "#real", ""), CAIRN__STATUS__INVALID,
                      "ChannelVerify.password is empty");
    ca_response_check(channels_fixture_touch(caller, "#real", -1), CAIRN__STATUS__INVALID,
                      "ChannelTouch.timestamp");
    //  Wrong wire types and broken strings: ChannelCreate.name as a varint,
    //  a NUL inside ChannelGet.name, MemberJoin.peer_id that is not UTF-8,
    //  a truncated ChannelDelete.
    Cairn__Response *response = s_call_raw(client, "\x08\x05\xe2\x12\x02\x08\x01", 7);
    CHECK(response->status == CAIRN__STATUS__INVALID && response->id == 5);
    cairn__response__free_unpacked(response, NULL);
    response = s_call_raw(client, "\x08\x06\xf2\x12\x06\x0a\x04#r\x00x", 11);
    CHECK(response->status == CAIRN__STATUS__INVALID && response->id == 6 &&
          strstr(response->error, "NUL"));
    cairn__response__free_unpacked(response, NULL);
    response = s_call_raw(client, "\x08\x07\xb2\x13\x0b\x0a\x05#real\x12\x02\xc0\xaf", 16);
    CHECK(response->status == CAIRN__STATUS__INVALID && response->id == 7 &&
          strstr(response->error, "UTF-8"));
    cairn__response__free_unpacked(response, NULL);
    response = s_call_raw(client, "\x08\x08\x8a\x13\x09\x0a\x05#re", 10);
    CHECK(response->status == CAIRN__STATUS__INVALID && response->id == 8);
    cairn__response__free_unpacked(response, NULL);

    //  Nothing changed, and the node still answers everything.
    char *after = s_snapshot(caller);
    if (!streq(before, after))
        fprintf(stderr, "before:\n%safter:\n%s", before, after);
    CHECK(streq(before, after));
    free(before);
    free(after);
    harness_expect_alive(client);
    response = channels_fixture_verify(caller, "#real", "secret");
    CHECK(response->status == CAIRN__STATUS__OK);
    cairn__response__free_unpacked(response, NULL);
    harness_session_down(&caller, &client, &node);
}

//  Names on a ChannelList page (or peer ids / channels on a MemberList
//  page, by `by_channel`), joined by ',', and whether more follow.
static void s_expect_page(Cairn__Response *response, bool members, bool by_channel,
                          const char *expected, bool more) {
    CHECK(response->status == CAIRN__STATUS__OK);
    char names[256] = "";
    size_t count = members ? response->member_list->n_members : response->channel_list->n_channels;
    for (size_t i = 0; i < count; i++) {
        const char *name = !members     ? response->channel_list->channels[i]->name
                           : by_channel ? response->member_list->members[i]->peer_id
                                        : response->member_list->members[i]->channel;
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "", name);
    }
    bool got_more = members ? response->member_list->more : response->channel_list->more;
    if (!streq(names, expected) || got_more != more) {
        fprintf(stderr, "page '%s' more=%d, expected '%s' more=%d\n", names, got_more, expected,
                more);
        abort();
    }
    cairn__response__free_unpacked(response, NULL);
}

//  ChannelList and MemberList page with limit + cursor + more; an absent
//  limit is the default page (1000), one over 10,000 is INVALID.
static void test_list_paging(void) {
    HARNESS_SESSION_UP(NULL);
    const char *names[] = {"#a", "#b", "#c", "#d", "#e"};
    for (size_t i = 0; i < 5; i++) {
        ca_response_check(channels_fixture_create(caller, names[i], false, ""), CAIRN__STATUS__OK,
                          NULL);
        ca_response_check(channels_fixture_join(caller, "#a", names[i] + 1), CAIRN__STATUS__OK,
                          NULL);
        ca_response_check(channels_fixture_join(caller, names[i], "amy"), CAIRN__STATUS__OK, NULL);
    }
    //  Channels, two at a time.
    s_expect_page(channels_fixture_list_page(caller, 2, NULL), false, false, "#a,#b", true);
    s_expect_page(channels_fixture_list_page(caller, 2, "#b"), false, false, "#c,#d", true);
    s_expect_page(channels_fixture_list_page(caller, 2, "#d"), false, false, "#e", false);
    s_expect_page(channels_fixture_list_page(caller, 5, NULL), false, false, "#a,#b,#c,#d,#e",
                  false);
    s_expect_page(channels_fixture_list_page(caller, 0, "#c"), false, false, "#d,#e", false);
    //  A channel's members (amy and a..e), then a peer's channels.
    s_expect_page(channels_fixture_members_page(caller, "#a", "", 4, NULL), true, true, "a,amy,b,c",
                  true);
    s_expect_page(channels_fixture_members_page(caller, "#a", "", 4, "c"), true, true, "d,e",
                  false);
    s_expect_page(channels_fixture_members_page(caller, "#a", "", 4, "e"), true, true, "", false);
    s_expect_page(channels_fixture_members_page(caller, "", "amy", 3, NULL), true, false,
                  "#a,#b,#c", true);
    s_expect_page(channels_fixture_members_page(caller, "", "amy", 3, "#c"), true, false, "#d,#e",
                  false);
    //  Bounds: over the most is INVALID naming the cursor; unknown channels
    //  stay NOT_FOUND whatever the cursor.
    ca_response_check(channels_fixture_list_page(caller, CA_CHANNEL_PAGE_MAX + 1, NULL),
                      CAIRN__STATUS__INVALID, "after_name");
    ca_response_check(
        channels_fixture_members_page(caller, "#a", "", CA_CHANNEL_PAGE_MAX + 1, NULL),
        CAIRN__STATUS__INVALID, "at most 10000");
    ca_response_check(channels_fixture_members_page(caller, "#ghost", "", 2, "x"),
                      CAIRN__STATUS__NOT_FOUND, "#ghost does not exist");
    harness_session_down(&caller, &client, &node);
}

//  More channels than the default page: an old client (no limit) gets the
//  first 1000 and `more`.
static void test_list_default_page(void) {
    HARNESS_SESSION_UP(NULL);
    char name[16];
    for (int i = 0; i <= CA_CHANNEL_PAGE_DEFAULT; i++) {
        snprintf(name, sizeof name, "#c%05d", i);
        ca_response_check(channels_fixture_create(caller, name, false, ""), CAIRN__STATUS__OK,
                          NULL);
    }
    Cairn__Response *response = channels_fixture_list(caller);
    CHECK(response->status == CAIRN__STATUS__OK &&
          response->channel_list->n_channels == CA_CHANNEL_PAGE_DEFAULT &&
          response->channel_list->more);
    cairn__response__free_unpacked(response, NULL);
    s_expect_page(channels_fixture_list_page(caller, 0, "#c00999"), false, false, "#c01000", false);
    harness_session_down(&caller, &client, &node);
}

static const harness_test_t s_tests[] = {
    {"create_plain", test_create_plain},
    {"create_encrypted", test_create_encrypted},
    {"create_protected", test_create_protected},
    {"conflict", test_conflict},
    {"get_list_counts", test_get_list_counts},
    {"touch", test_touch},
    {"delete_counts", test_delete_counts},
    {"verify_right", test_verify_right},
    {"verify_wrong", test_verify_wrong},
    {"verify_unprotected", test_verify_unprotected},
    {"verify_rate_limit", test_verify_rate_limit},
    {"verify_unknown", test_verify_unknown},
    {"verify_bounded", test_verify_bounded},
    {"join_leave_list", test_join_leave_list},
    {"join_idempotent", test_join_idempotent},
    {"leave_not_member", test_leave_not_member},
    {"bad_input", test_bad_input},
    {"list_paging", test_list_paging},
    {"list_default_page", test_list_default_page},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, "e2e.channels", s_tests, sizeof s_tests / sizeof s_tests[0]);
}

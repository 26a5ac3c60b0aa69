/*  =========================================================================
    channel_auth - ChannelCreate and ChannelVerify on a small bounded pool

    What it owns: the two channel requests that may cost an Argon2id hash
    or check (~60 ms of CPU and 64 MiB of memory each). They get their own
    pool, sized by design rather than by the node's `workers` setting, so
    that a burst of password checks can neither starve the cheap channel,
    message and peer requests (other pools, other threads) nor take the
    node's memory with it:

        at most CHANNEL_AUTH_WORKERS checks run at once (one per worker),
        a few more wait in the pool's queues (CHANNEL_AUTH_QUEUE_MAX per
        worker), and the gateway answers BUSY at once beyond that.

    Peak memory of the pool: CHANNEL_AUTH_WORKERS x CHANNEL_AUTH_MEMLIMIT
    (2 x 64 MiB), whatever the load.

    Requests: ChannelCreate and ChannelVerify of schemas/channels.proto.
    A taken name is checked before hashing, and again inside the write,
    so a create that loses a race is CONFLICT and changes nothing; a
    password is 1..1024 bytes (empty: not protected).

    Secrets: the password is never logged or stored. The pool's def has a
    wipe_request hook (s_wipe_request), which the framework calls on every
    path: after an answer given at once, after the write was answered, and
    after a failed write; it wipes the decoded password (sodium_memzero), and
    the framework then wipes the request frame's bytes. Local copies of the
    hash are wiped here. The check is libsodium's crypto_pwhash_str_verify:
    it recomputes the hash and compares in constant time, so the answer's
    timing does not say how much of a wrong password was right.

    Guessing is rate-limited per channel: ChannelVerify routes by the
    channel's name (field 1), so every check of one channel meets one worker,
    whose state counts the channel's wrong passwords in a window of
    CHANNEL_VERIFY_WINDOW_S seconds from the first. After
    CHANNEL_VERIFY_FAILURES_MAX of them, every check of that channel (right
    or wrong) is BUSY, without an Argon2id computation, until the window
    ends; the answer says in how many seconds. At most
    CHANNEL_VERIFY_TRACKED_MAX channels are tracked per worker (expired
    windows are dropped first, then the oldest).
    ========================================================================= */

#include "channel_auth.h"
#include "ca_clock.h"
#include "ca_names.h"
#include "channels.h"
#include "messages_schema.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

//  Argon2id cost of one hash or check: libsodium's "interactive" level (2
//  passes over 64 MiB, ~60 ms on this machine). Defined here, not in
//  ca_limits.h, because nothing else uses them. A change applies to new
//  hashes only: each stored string carries its own parameters, so old ones
//  still verify.
#define CHANNEL_AUTH_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define CHANNEL_AUTH_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

//  The pool's size is part of its design (see above), not a tuning knob.
#define CHANNEL_AUTH_WORKERS   2
#define CHANNEL_AUTH_QUEUE_MAX 2

//  The guessing limit (documented on ChannelVerify in channels.proto).
#define CHANNEL_VERIFY_FAILURES_MAX 10   //  wrong passwords per channel per window
#define CHANNEL_VERIFY_WINDOW_S     60   //  the window, from its first failure
#define CHANNEL_VERIFY_TRACKED_MAX  4096 //  channels with a window, per worker

//  ---- per-worker state: the guessing windows -----------------------------------------

typedef struct {
    int64_t opened_ms; //  zclock_mono of the window's first failure
    unsigned failures;
} verify_window_t;

static void s_window_free(void **item) {
    free(*item);
    *item = NULL;
}

static void *s_state_new(ca_store_t *store, char **error) {
    (void)store, (void)error;
    zhashx_t *windows = zhashx_new(); //  channel name -> verify_window_t
    zhashx_set_destructor(windows, s_window_free);
    return windows;
}

static void s_state_destroy(void **state_p) {
    zhashx_destroy((zhashx_t **)state_p);
}

static bool s_window_open(const verify_window_t *window, int64_t now) {
    return now - window->opened_ms < CHANNEL_VERIFY_WINDOW_S * 1000;
}

//  The channel's window if it is still open (an expired one is dropped).
static verify_window_t *s_window(zhashx_t *windows, const char *name, int64_t now) {
    verify_window_t *window = (verify_window_t *)zhashx_lookup(windows, name);
    if (window && !s_window_open(window, now)) {
        zhashx_delete(windows, name);
        window = NULL;
    }
    return window;
}

//  Counts a wrong password for `name`, opening its window if need be.
static void s_count_failure(zhashx_t *windows, const char *name, int64_t now) {
    verify_window_t *window = s_window(windows, name, now);
    if (!window) {
        if (zhashx_size(windows) >= CHANNEL_VERIFY_TRACKED_MAX) {
            //  Drop the expired windows; if none, the oldest.
            zlistx_t *names = zhashx_keys(windows);
            const char *oldest = NULL;
            int64_t oldest_ms = INT64_MAX;
            for (const char *key = (const char *)zlistx_first(names); key;
                 key = (const char *)zlistx_next(names)) {
                verify_window_t *other = (verify_window_t *)zhashx_lookup(windows, key);
                if (!s_window_open(other, now))
                    zhashx_delete(windows, key);
                else if (other->opened_ms < oldest_ms) {
                    oldest_ms = other->opened_ms;
                    oldest = key;
                }
            }
            if (zhashx_size(windows) >= CHANNEL_VERIFY_TRACKED_MAX && oldest)
                zhashx_delete(windows, oldest);
            zlistx_destroy(&names);
        }
        window = (verify_window_t *)zmalloc(sizeof(verify_window_t));
        window->opened_ms = now;
        zhashx_insert(windows, name, window);
    }
    window->failures++;
}

//  ---- ChannelCreate ------------------------------------------------------------------

const char channel_auth_sql_create[] =
    "INSERT INTO channels (name, created_at, last_activity, encrypted, password_hash, salt,"
    " signed_messages) VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING "
    "RETURNING " CHANNELS_COLUMNS;

//  True when a channel of that name exists (read connection). On a read
//  error the reply is failed and *failed set.
static bool s_channel_exists(ca_store_t *store, const char *name, ca_reply_t *reply, bool *failed) {
    sqlite3_stmt *stmt = ca_store_prepare(store, "SELECT 1 FROM channels WHERE name = ?1", reply);
    *failed = stmt == NULL;
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *failed = true;
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read channels: %s; retry",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW;
}

static void s_conflict_message(char *message, size_t size, const char *name) {
    snprintf(message, size,
             "channel %s already exists; nothing changed (choose another name, or use "
             "ChannelGet to read it)",
             name);
}

//  ChannelCreate; the password is wiped by s_wipe_request, on every path.
static void s_create(ca_store_t *store, const Cairn__ChannelCreate *create, size_t password_length,
                     ca_reply_t *reply) {
    if (!channels_check_name(reply, "ChannelCreate.name", create->name))
        return;
    if (password_length > CHANNEL_AUTH_PASSWORD_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "ChannelCreate.password is %zu bytes; the limit is %d bytes (leave it "
                       "empty for a channel without a password)",
                       password_length, CHANNEL_AUTH_PASSWORD_MAX);
        return;
    }
    char conflict[256];
    s_conflict_message(conflict, sizeof conflict, create->name);
    //  Cheap check first, so a taken name costs no hash.
    bool failed;
    if (s_channel_exists(store, create->name, reply, &failed)) {
        ca_reply_error(reply, CA_CONFLICT, "%s", conflict);
        return;
    }
    if (failed)
        return;
    bool protected = password_length > 0;
    char hash[crypto_pwhash_STRBYTES];
    uint8_t salt[crypto_pwhash_SALTBYTES];
    if (protected) {
        if (crypto_pwhash_str(hash, create->password, password_length, CHANNEL_AUTH_OPSLIMIT,
                              CHANNEL_AUTH_MEMLIMIT) != 0) {
            ca_reply_error(reply, CA_INTERNAL,
                           "cannot hash the channel password: the node could not get the "
                           "%u MiB Argon2id needs; retry later",
                           (unsigned)(CHANNEL_AUTH_MEMLIMIT >> 20));
            return;
        }
        randombytes_buf(salt, sizeof salt);
    }
    //  The INSERT checks again inside the savepoint: another create of the
    //  same name may have committed since the read above.
    ca_write_t *write = ca_write_new();
    ca_write_statement(write, channel_auth_sql_create, CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS,
                       CA_CONFLICT, conflict);
    ca_write_want_rows(write);
    ca_write_text(write, create->name);
    ca_write_real(write, ca_now_seconds());
    ca_write_int(write, create->encrypted ? 1 : 0);
    if (protected) {
        ca_write_text(write, hash);
        ca_write_blob(write, salt, sizeof salt);
    } else {
        ca_write_null(write);
        ca_write_null(write);
    }
    ca_write_int(write, create->unsigned_messages ? 0 : 1);
    ca_store_write(store, &write, reply);
    sodium_memzero(hash, sizeof hash);
}

static void s_channel_create(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    Cairn__ChannelCreate *create = request->channel_create;
    s_create(store, create, strlen(create->password), reply);
}

static void s_channel_create_done(ca_store_t *store, const Cairn__Request *request,
                                  const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    //  The framework decoded the request again from its frame; it wipes
    //  that copy (s_wipe_request) after this.
    if (write->n_results != 1 || write->results[0]->n_rows != 1) {
        ca_reply_error(reply, CA_INTERNAL, "the writer returned no channel row; retry");
        return;
    }
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_CREATE;
    response->channel_create = channels_from_row(reply, write->results[0]->rows[0]);
}

//  ---- ChannelVerify ------------------------------------------------------------------

//  Reads the channel's hash into `hash`; false with the reply failed when
//  the channel is unknown, not protected, or unreadable.
static bool s_read_hash(ca_store_t *store, const char *name, char *hash, size_t size,
                        ca_reply_t *reply) {
    sqlite3_stmt *stmt =
        ca_store_prepare(store, "SELECT password_hash FROM channels WHERE name = ?1", reply);
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    bool ok = false;
    if (rc == SQLITE_DONE)
        ca_reply_error(reply, CA_NOT_FOUND,
                       "channel %s does not exist; check the name (ChannelList shows the "
                       "channels)",
                       name);
    else if (rc != SQLITE_ROW)
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read channel %s: %s; retry", name,
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
    else if (sqlite3_column_type(stmt, 0) == SQLITE_NULL)
        ca_reply_error(reply, CA_INVALID,
                       "channel %s is not password-protected; there is no password to verify "
                       "(ChannelGet tells whether a channel is protected)",
                       name);
    else if ((size_t)sqlite3_column_bytes(stmt, 0) >= size)
        ca_reply_error(reply, CA_INTERNAL,
                       "the stored password hash of channel %s is damaged; delete and "
                       "recreate the channel",
                       name);
    else {
        memcpy(hash, sqlite3_column_text(stmt, 0), (size_t)sqlite3_column_bytes(stmt, 0) + 1);
        ok = true;
    }
    //  Reset before the slow check: an open read would hold back the WAL
    //  checkpoint for its whole length.
    sqlite3_reset(stmt);
    return ok;
}

//  ChannelVerify; the password is wiped by s_wipe_request.
static void s_verify(ca_store_t *store, const Cairn__ChannelVerify *verify, size_t password_length,
                     ca_reply_t *reply) {
    if (!channels_check_name(reply, "ChannelVerify.name", verify->name))
        return;
    if (password_length == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "ChannelVerify.password is empty; give the password to check");
        return;
    }
    if (password_length > CHANNEL_AUTH_PASSWORD_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "ChannelVerify.password is %zu bytes; channel passwords are at most %d "
                       "bytes, so check what is being sent",
                       password_length, CHANNEL_AUTH_PASSWORD_MAX);
        return;
    }
    zhashx_t *windows = (zhashx_t *)ca_store_state(store);
    int64_t now = zclock_mono();
    verify_window_t *window = s_window(windows, verify->name, now);
    if (window && window->failures >= CHANNEL_VERIFY_FAILURES_MAX) {
        int64_t wait_ms = window->opened_ms + CHANNEL_VERIFY_WINDOW_S * 1000 - now;
        ca_reply_error(reply, CA_BUSY,
                       "channel %s had %u wrong passwords within %d s; its password is not "
                       "checked again until then: retry in %lld s",
                       verify->name, window->failures, CHANNEL_VERIFY_WINDOW_S,
                       (long long)(wait_ms + 999) / 1000);
        return;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (!s_read_hash(store, verify->name, hash, sizeof hash, reply))
        return;
    //  Mismatch sets errno to EINVAL; anything else (no memory for the
    //  64 MiB) leaves it, and is not the client's fault.
    errno = 0;
    int rc = crypto_pwhash_str_verify(hash, verify->password, password_length);
    int verify_errno = errno;
    sodium_memzero(hash, sizeof hash);
    if (rc == 0) {
        Cairn__ChannelVerified *verified =
            (Cairn__ChannelVerified *)ca_reply_alloc(reply, sizeof(Cairn__ChannelVerified));
        cairn__channel_verified__init(verified);
        verified->ok = true;
        Cairn__Response *response = ca_reply_response(reply);
        response->body_case = CAIRN__RESPONSE__BODY_CHANNEL_VERIFY;
        response->channel_verify = verified;
    } else if (verify_errno == EINVAL) {
        s_count_failure(windows, verify->name, now);
        ca_reply_error(reply, CA_UNAUTHORIZED,
                       "wrong password for channel %s; check the password and retry", verify->name);
    } else
        ca_reply_error(reply, CA_INTERNAL,
                       "cannot check the password of channel %s: Argon2id failed (no memory "
                       "for it, or a damaged stored hash); retry later, or recreate the channel "
                       "if it keeps failing",
                       verify->name);
}

static void s_channel_verify(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    Cairn__ChannelVerify *verify = request->channel_verify;
    s_verify(store, verify, strlen(verify->password), reply);
}

//  The framework's hook: wipes the decoded password, whatever happened.
static void s_wipe_request(Cairn__Request *request) {
    char *password = NULL;
    if (request->body_case == CAIRN__REQUEST__BODY_CHANNEL_CREATE && request->channel_create)
        password = request->channel_create->password;
    else if (request->body_case == CAIRN__REQUEST__BODY_CHANNEL_VERIFY && request->channel_verify)
        password = request->channel_verify->password;
    if (password)
        sodium_memzero(password, strlen(password));
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_CHANNEL_CREATE, "channel_create", s_channel_create, s_channel_create_done,
     0},
    //  Every check of one channel meets one worker: its guessing window.
    {CAIRN__REQUEST__BODY_CHANNEL_VERIFY, "channel_verify", s_channel_verify, NULL, 1},
};

const ca_store_def_t channel_auth_store_def = {
    .name = "channel_auth",
    .schema = &messages_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
    .workers = CHANNEL_AUTH_WORKERS,
    .queue_max = CHANNEL_AUTH_QUEUE_MAX,
    .state_new = s_state_new,
    .state_destroy = s_state_destroy,
    .wipe_request = s_wipe_request,
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"
#include "ca_limits.h"

#include <assert.h>

static void s_test_verified(ca_caller_t *caller, const char *name, const char *password) {
    Cairn__Response *response = channels_fixture_verify(caller, name, password);
    assert(response->status == CAIRN__STATUS__OK &&
           response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_VERIFY &&
           response->channel_verify->ok);
    cairn__response__free_unpacked(response, NULL);
}

static int64_t s_test_count(ca_sql_t *sql, const char *query) {
    sqlite3_stmt *stmt = ca_sql_prepare(sql, query);
    assert(stmt && sqlite3_step(stmt) == SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return count;
}

//  The stored hash and salt of `name` (caller frees the hash).
static char *s_test_stored(ca_sql_t *sql, const char *name, uint8_t salt[crypto_pwhash_SALTBYTES]) {
    sqlite3_stmt *stmt =
        ca_sql_prepare(sql, "SELECT password_hash, salt FROM channels WHERE name = ?1");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    assert(sqlite3_column_bytes(stmt, 1) == crypto_pwhash_SALTBYTES);
    memcpy(salt, sqlite3_column_blob(stmt, 1), crypto_pwhash_SALTBYTES);
    char *hash = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_reset(stmt);
    return hash;
}

//  True when `needle` is somewhere in the file (e.g. the database).
static bool s_test_file_has(const char *path, const char *needle) {
    zchunk_t *chunk = NULL;
    FILE *file = fopen(path, "rb");
    if (file) {
        chunk = zchunk_read(file, 64 * 1024 * 1024);
        fclose(file);
    }
    bool found = chunk && memmem(zchunk_data(chunk), zchunk_size(chunk), needle, strlen(needle));
    zchunk_destroy(&chunk);
    return found;
}

static void s_test_create_requests(ca_caller_t *caller, ca_sql_t *sql) {
    //  Plain: not protected, no salt, created_at = last_activity = now.
    double before = ca_now_seconds();
    Cairn__Response *response = channels_fixture_create(caller, "#plain", false, "");
    double after = ca_now_seconds();
    assert(response->status == CAIRN__STATUS__OK &&
           response->body_case == CAIRN__RESPONSE__BODY_CHANNEL_CREATE);
    Cairn__Channel *channel = response->channel_create;
    assert(streq(channel->name, "#plain") && !channel->encrypted && !channel->protected_);
    assert(channel->salt.len == 0 && channel->message_count == 0);
    assert(channel->created_at >= before - 0.001 && channel->created_at <= after + 0.001);
    assert(channel->last_activity == channel->created_at);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_create(caller, "#sealed", true, "");
    assert(response->status == CAIRN__STATUS__OK && response->channel_create->encrypted &&
           !response->channel_create->protected_);
    cairn__response__free_unpacked(response, NULL);

    //  Protected: only the Argon2id string (at the interactive cost) and a
    //  16-byte salt are stored; the answer has the salt, never the hash.
    const char *password = "correct horse battery staple";
    response = channels_fixture_create(caller, "#vault", false, password);
    assert(response->status == CAIRN__STATUS__OK);
    channel = response->channel_create;
    assert(channel->protected_ && channel->salt.len == crypto_pwhash_SALTBYTES);
    uint8_t salt[crypto_pwhash_SALTBYTES];
    char *hash = s_test_stored(sql, "#vault", salt);
    assert(strncmp(hash, "$argon2id$", 10) == 0 && strstr(hash, "$m=65536,t=2,p=1$"));
    assert(crypto_pwhash_str_verify(hash, password, strlen(password)) == 0);
    assert(memcmp(salt, channel->salt.data, sizeof salt) == 0);
    cairn__response__free_unpacked(response, NULL);
    //  The password itself is nowhere in the database files.
    char *db = zsys_sprintf("%s/%s", ca_testbed_dir(ca_caller_testbed(caller)), CA_DB_FILE);
    char *wal = zsys_sprintf("%s-wal", db);
    assert(s_test_file_has(wal, "#vault")); //  the check can see what is there
    assert(!s_test_file_has(db, password) && !s_test_file_has(wal, password));
    zstr_free(&db);
    zstr_free(&wal);

    //  A taken name: CONFLICT, whatever the request, and nothing changes.
    ca_response_check(channels_fixture_create(caller, "#vault", false, "another one"),
                      CAIRN__STATUS__CONFLICT, "channel #vault already exists");
    ca_response_check(channels_fixture_create(caller, "#plain", true, ""), CAIRN__STATUS__CONFLICT,
                      "already exists");
    uint8_t salt_after[crypto_pwhash_SALTBYTES];
    char *hash_after = s_test_stored(sql, "#vault", salt_after);
    assert(streq(hash, hash_after) && memcmp(salt, salt_after, sizeof salt) == 0);
    free(hash_after);
    free(hash);
    assert(s_test_count(sql, "SELECT count(*) FROM channels WHERE name = '#plain' AND "
                             "encrypted = 0") == 1);

    //  Two protected channels with one password get different salts (and
    //  hashes); any UTF-8 password works.
    response = channels_fixture_create(caller, "#vault2", true, password);
    assert(response->status == CAIRN__STATUS__OK && response->channel_create->encrypted);
    assert(memcmp(response->channel_create->salt.data, salt, sizeof salt) != 0);
    cairn__response__free_unpacked(response, NULL);
    response = channels_fixture_create(caller, "#utf", false, "pässwörd ✓");
    assert(response->status == CAIRN__STATUS__OK && response->channel_create->protected_);
    cairn__response__free_unpacked(response, NULL);
}

static void s_test_verify_requests(ca_caller_t *caller, ca_sql_t *sql) {
    s_test_verified(caller, "#vault", "correct horse battery staple");
    s_test_verified(caller, "#vault2", "correct horse battery staple");
    s_test_verified(caller, "#utf", "pässwörd ✓");
    //  Wrong passwords: differing in the first byte, the last byte, a
    //  prefix, an extension, another length. Each is a full Argon2id
    //  computation and a constant-time comparison (crypto_pwhash_str_verify);
    //  there is no early exit on length or on a first differing byte. Timing
    //  is not asserted here (tests never do); the answers are.
    const char *wrong[] = {"Correct horse battery staple", "correct horse battery staplf",
                           "correct horse battery stapl", "correct horse battery staple ", "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        ca_response_check(channels_fixture_verify(caller, "#vault", wrong[i]),
                          CAIRN__STATUS__UNAUTHORIZED, "wrong password for channel #vault");
    ca_response_check(channels_fixture_verify(caller, "#utf", "passwort"),
                      CAIRN__STATUS__UNAUTHORIZED, NULL);
    ca_response_check(channels_fixture_verify(caller, "#plain", "anything"), CAIRN__STATUS__INVALID,
                      "channel #plain is not password-protected");
    ca_response_check(channels_fixture_verify(caller, "#nope", "anything"),
                      CAIRN__STATUS__NOT_FOUND, "channel #nope does not exist");
    ca_response_check(channels_fixture_verify(caller, "#vault", ""), CAIRN__STATUS__INVALID,
                      "ChannelVerify.password is empty");

    //  A damaged stored hash is the node's problem, not a wrong password.
    assert(ca_sql_exec(sql, "INSERT INTO channels (name, created_at, last_activity,"
                            " password_hash, salt) VALUES"
                            " ('#damaged', 1, 1, '$argon2id$v=19$broken', x'00'),"
                            " ('#long', 1, 1, printf('%.200c', 'x'), x'00')") == SQLITE_OK);
    ca_response_check(channels_fixture_verify(caller, "#damaged", "anything"),
                      CAIRN__STATUS__INTERNAL, "Argon2id failed");
    ca_response_check(channels_fixture_verify(caller, "#long", "anything"), CAIRN__STATUS__INTERNAL,
                      "damaged");
    assert(ca_sql_exec(sql, "DELETE FROM channels WHERE name IN ('#damaged', '#long')") ==
           SQLITE_OK);
}

//  Bad input: INVALID naming the field, and nothing stored.
static void s_test_bad_input(ca_caller_t *caller, ca_sql_t *sql) {
    int64_t channels = s_test_count(sql, "SELECT count(*) FROM channels");
    char long_name[CA_CHANNEL_NAME_MAX + 2];
    long_name[0] = '#';
    memset(long_name + 1, 'n', CA_CHANNEL_NAME_MAX);
    long_name[CA_CHANNEL_NAME_MAX + 1] = 0;
    const char *bad_names[] = {"", "nohash", "../x", "#a b", "#a/b", "#é", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        ca_response_check(channels_fixture_create(caller, bad_names[i], false, ""),
                          CAIRN__STATUS__INVALID, "ChannelCreate.name");
        ca_response_check(channels_fixture_create(caller, bad_names[i], false, "pw"),
                          CAIRN__STATUS__INVALID, "ChannelCreate.name");
        ca_response_check(channels_fixture_verify(caller, bad_names[i], "pw"),
                          CAIRN__STATUS__INVALID, "ChannelVerify.name");
    }
    //  Passwords: at most 1024 bytes.
    char *password = (char *)malloc(CHANNEL_AUTH_PASSWORD_MAX + 2);
    memset(password, 'p', CHANNEL_AUTH_PASSWORD_MAX + 1);
    password[CHANNEL_AUTH_PASSWORD_MAX + 1] = 0;
    ca_response_check(channels_fixture_create(caller, "#big", false, password),
                      CAIRN__STATUS__INVALID,
                      "ChannelCreate.password is 1025 bytes; the limit is 1024");
    ca_response_check(channels_fixture_verify(caller, "#vault", password), CAIRN__STATUS__INVALID,
                      "ChannelVerify.password is 1025 bytes");
    assert(s_test_count(sql, "SELECT count(*) FROM channels") == channels);
    password[CHANNEL_AUTH_PASSWORD_MAX] = 0;
    Cairn__Response *response = channels_fixture_create(caller, "#big", false, password);
    assert(response->status == CAIRN__STATUS__OK && response->channel_create->protected_);
    cairn__response__free_unpacked(response, NULL);
    s_test_verified(caller, "#big", password);
    free(password);

    //  Undecodable bytes: INVALID, and the worker keeps serving.
    const uint8_t garbage[] = {0x08, 0x2a, 0xe2, 0x12, 0x05, 0xff};
    response = ca_testbed_call_raw(ca_caller_testbed(caller), garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 42);
    cairn__response__free_unpacked(response, NULL);
    s_test_verified(caller, "#vault", "correct horse battery staple");
    assert(s_test_count(sql, "SELECT count(*) FROM channels") == channels + 1);
}

void channel_auth_test(bool verbose) {
    if (verbose)
        printf(" * channel_auth: ");
    assert(channel_auth_store_def.workers == 2 && channel_auth_store_def.queue_max == 2);
    ca_testbed_t *bed = ca_testbed_new(&channel_auth_store_def);
    ca_caller_t *caller = ca_testbed_caller(bed);
    char *path = zsys_sprintf("%s/%s", ca_testbed_dir(bed), CA_DB_FILE);
    char *error = NULL;
    ca_sql_t *sql = ca_sql_open(path, CA_SQL_READ_WRITE, NULL, &error);
    assert(sql);
    zstr_free(&path);
    s_test_create_requests(caller, sql);
    s_test_verify_requests(caller, sql);
    s_test_bad_input(caller, sql);
    ca_sql_destroy(&sql);
    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

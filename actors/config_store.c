/*  =========================================================================
    config_store - node configuration, the first store

    What it owns: the `config` table, a durable key -> value map for node
    settings that tools set at run time (not the daemon's start-up options,
    which come from flags, environment and the config file).

    Requests: schemas/config.proto. ConfigSet is answered after the
    writer committed it.

    Rules: keys follow ca_validate_key (1..256 bytes, [A-Za-z0-9._:/-], no
    path tricks); values are at most 64 KiB. Anything else is INVALID with a
    message naming the rule.

    It exists as much to prove the whole path (gateway -> store worker ->
    writer group commit -> answer) as for itself: every later store has the
    same shape, a schema and a table of handlers.
    ========================================================================= */

#include "config_store.h"
#include "ca_limits.h"
#include "ca_validate.h"

#include <assert.h>
#include <string.h>

static const char *const s_migrations[] = {
    //  1: the table
    "CREATE TABLE config ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL,"
    "  updated_at INTEGER NOT NULL" //  unix seconds
    ") WITHOUT ROWID",
};

const ca_schema_t config_schema = {"config", s_migrations,
                                   sizeof s_migrations / sizeof s_migrations[0]};

//  Checks the key; on failure the reply says what is wrong.
static bool s_key_ok(const char *key, ca_reply_t *reply) {
    const char *problem = ca_validate_key(key, CA_CONFIG_KEY_MAX);
    if (problem)
        ca_reply_error(reply, CA_INVALID,
                       "config key: %s (keys are 1..%d bytes of [A-Za-z0-9._:/-], "
                       "'/'-separated, no '.' or '..' segments)",
                       problem, CA_CONFIG_KEY_MAX);
    return problem == NULL;
}

static void s_config_get(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ConfigGet *get = request->config_get;
    if (!s_key_ok(get->key, reply))
        return;
    sqlite3_stmt *stmt = ca_store_prepare(store, "SELECT value FROM config WHERE key = ?1", reply);
    if (!stmt)
        return;
    sqlite3_bind_text(stmt, 1, get->key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    Cairn__ConfigValue *value =
        (Cairn__ConfigValue *)ca_reply_alloc(reply, sizeof(Cairn__ConfigValue));
    cairn__config_value__init(value);
    value->key = get->key; //  request outlives the packing of the reply
    if (rc == SQLITE_ROW) {
        value->found = true;
        value->value.len = (size_t)sqlite3_column_bytes(stmt, 0);
        value->value.data =
            (uint8_t *)ca_reply_memdup(reply, sqlite3_column_blob(stmt, 0), value->value.len);
    } else if (rc == SQLITE_DONE) {
        value->found = false;
        value->value = get->default_value;
    } else {
        ca_reply_error(reply, ca_status_from_sqlite(rc), "cannot read config: %s",
                       sqlite3_errmsg(sqlite3_db_handle(stmt)));
        sqlite3_reset(stmt);
        return;
    }
    sqlite3_reset(stmt);
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONFIG_VALUE;
    response->config_value = value;
}

static void s_config_set_existed(ca_reply_t *reply) {
    ca_reply_response(reply)->config_set->created = false;
}

static void s_config_set(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__ConfigSet *set = request->config_set;
    if (!s_key_ok(set->key, reply))
        return;
    if (set->value.len > CA_CONFIG_VALUE_MAX) {
        ca_reply_error(reply, CA_INVALID, "config value is %zu bytes; the limit is %d bytes",
                       set->value.len, CA_CONFIG_VALUE_MAX);
        return;
    }
    ca_write_t *write = ca_write_new();
    //  Statement 1 tells `done` whether the key is new.
    ca_write_statement(write, "SELECT 1 FROM config WHERE key = ?1",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ANY, CA_OK, NULL);
    ca_write_want_rows(write);
    ca_write_text(write, set->key);
    ca_write_statement(write,
                       "INSERT INTO config (key, value, updated_at) VALUES (?1, ?2, unixepoch()) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                       "updated_at = excluded.updated_at",
                       CAIRN__INTERNAL__EXPECT__EXPECT_ONE_CHANGE, CA_INTERNAL,
                       "config value was not stored; retry");
    ca_write_text(write, set->key);
    ca_write_blob(write, set->value.data, set->value.len);
    //  Both answers are packed now, and the writer sends the gateway the
    //  one statement 1 picks: created unless the SELECT found the key.
    Cairn__ConfigSetReply *answer =
        (Cairn__ConfigSetReply *)ca_reply_alloc(reply, sizeof(Cairn__ConfigSetReply));
    cairn__config_set_reply__init(answer);
    answer->key = set->key;
    answer->created = true;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_CONFIG_SET;
    response->config_set = answer;
    ca_store_write_answered(store, &write, reply, 0, s_config_set_existed);
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_CONFIG_GET, "config_get", s_config_get, NULL, 0},
    {CAIRN__REQUEST__BODY_CONFIG_SET, "config_set", s_config_set, NULL, 0},
};

const ca_store_def_t config_store_def = {
    .name = "config",
    .schema = &config_schema,
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

//  ---- self-test ---------------------------------------------------------------

#include "ca_request.h"
#include "ca_testbed.h"

//  Requests go out with the testbed's request ids (ca_testbed_send checks
//  that each answer carries its request's id).
static Cairn__Response *s_set(ca_testbed_t *bed, const char *key, const char *value) {
    Cairn__Request request;
    Cairn__ConfigSet set;
    ca_request_config_set(&request, &set, 0, key, value);
    return ca_testbed_send(bed, &request);
}

static Cairn__Response *s_get(ca_testbed_t *bed, const char *key, const char *default_value) {
    Cairn__Request request;
    Cairn__ConfigGet get;
    ca_request_config_get(&request, &get, 0, key, default_value);
    return ca_testbed_send(bed, &request);
}

static bool s_value_is(const Cairn__Response *response, const char *expected) {
    size_t length = strlen(expected);
    return response->body_case == CAIRN__RESPONSE__BODY_CONFIG_VALUE &&
           response->config_value->value.len == length &&
           (length == 0 || memcmp(response->config_value->value.data, expected, length) == 0);
}

void config_store_test(bool verbose) {
    if (verbose)
        printf(" * config_store: ");
    ca_testbed_t *bed = ca_testbed_new(&config_store_def);

    //  Absent key: the default comes back, found = false.
    Cairn__Response *response =
        ca_testbed_ok(s_get(bed, "node.name", "anonymous"), CAIRN__RESPONSE__BODY_CONFIG_VALUE);
    assert(s_value_is(response, "anonymous") && !response->config_value->found);
    cairn__response__free_unpacked(response, NULL);

    //  Set creates, set again updates, get reads the latest.
    response = ca_testbed_ok(s_set(bed, "node.name", "alice"), CAIRN__RESPONSE__BODY_CONFIG_SET);
    assert(response->config_set->created);
    cairn__response__free_unpacked(response, NULL);
    response = ca_testbed_ok(s_set(bed, "node.name", "bob"), CAIRN__RESPONSE__BODY_CONFIG_SET);
    assert(!response->config_set->created);
    cairn__response__free_unpacked(response, NULL);
    response = s_get(bed, "node.name", "anonymous");
    assert(s_value_is(response, "bob") && response->config_value->found);
    cairn__response__free_unpacked(response, NULL);

    //  Empty value is a value, not absence.
    cairn__response__free_unpacked(
        ca_testbed_ok(s_set(bed, "empty", ""), CAIRN__RESPONSE__BODY_CONFIG_SET), NULL);
    response = s_get(bed, "empty", "fallback");
    assert(s_value_is(response, "") && response->config_value->found);
    cairn__response__free_unpacked(response, NULL);

    //  Bad keys are INVALID and change nothing.
    const char *bad_keys[] = {"", "../x", "a//b", "/abs", "sp ace", "a/./b"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        ca_testbed_fails(s_set(bed, bad_keys[i], "v"), CAIRN__STATUS__INVALID, "config key");
        ca_testbed_fails(s_get(bed, bad_keys[i], ""), CAIRN__STATUS__INVALID, "");
    }
    char long_key[CA_CONFIG_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    ca_testbed_fails(s_set(bed, long_key, "v"), CAIRN__STATUS__INVALID, "");

    //  Oversized value: INVALID with the limit in the message.
    char *big = (char *)malloc(CA_CONFIG_VALUE_MAX + 2);
    memset(big, 'v', CA_CONFIG_VALUE_MAX + 1);
    big[CA_CONFIG_VALUE_MAX + 1] = 0;
    ca_testbed_fails(s_set(bed, "big", big), CAIRN__STATUS__INVALID, "limit");
    big[CA_CONFIG_VALUE_MAX] = 0; //  exactly the limit is fine
    cairn__response__free_unpacked(
        ca_testbed_ok(s_set(bed, "big", big), CAIRN__RESPONSE__BODY_CONFIG_SET), NULL);
    free(big);

    //  Undecodable bytes: INVALID, and the worker keeps serving.
    const uint8_t garbage[] = {0x08, 0x2a, 0xa2, 0x06, 0x05, 0xff};
    response = ca_testbed_call_raw(bed, garbage, sizeof garbage);
    assert(response && response->status == CAIRN__STATUS__INVALID && response->id == 42);
    cairn__response__free_unpacked(response, NULL);
    response = s_get(bed, "node.name", "");
    assert(s_value_is(response, "bob"));
    cairn__response__free_unpacked(response, NULL);

    ca_testbed_destroy(&bed);
    if (verbose)
        printf("OK\n");
}

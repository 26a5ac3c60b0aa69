/*  =========================================================================
    msg_client - request builders and seeded nodes for the messages tests
    ========================================================================= */

#include "msg_client.h"
#include "ca_limits.h"

#include <stdio.h>
#include <string.h>

static const uint8_t s_signature[64] = {0x5a, 0x5a, 0x5a};

sqlite3 *msg_client_open_db(harness_node_t *node) {
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "msg_client: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    } else
        sqlite3_busy_timeout(db, 5000);
    zstr_free(&path);
    return db;
}

int msg_client_seed_channels(harness_node_t *node, const char *const *channels) {
    sqlite3 *db = msg_client_open_db(node);
    if (!db)
        return -1;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO channels (name, created_at, last_activity, encrypted)"
                                " VALUES (?1, 1, 1, 0)",
                                -1, &stmt, NULL);
    for (size_t i = 0; rc == SQLITE_OK && channels && channels[i]; i++) {
        sqlite3_bind_text(stmt, 1, channels[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(stmt);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "msg_client: cannot add channels: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

harness_node_t *msg_client_start(const char *const *channels, const char *const *extra_args) {
    harness_node_t *node = harness_node_start(NULL, extra_args);
    if (!node)
        return NULL;
    //  The first start migrated the schema; a clean stop leaves no WAL.
    if (harness_node_stop(node) != 0 || msg_client_seed_channels(node, channels) != 0 ||
        harness_node_restart(node) != 0)
        harness_node_destroy(&node);
    return node;
}

void msg_client_uuid(char uuid[CA_UUID_TEXT_LENGTH + 1], uint32_t high, uint64_t low) {
    snprintf(uuid, CA_UUID_TEXT_LENGTH + 1, "%08x-0000-4000-8000-%012llx", high,
             (unsigned long long)(low & 0xffffffffffffULL));
}

void msg_client_message(Cairn__Message *message, const char *id, double timestamp,
                        const char *channel, const char *content) {
    cairn__message__init(message);
    message->id = (char *)id;
    message->timestamp = timestamp;
    message->sender_id = "alice";
    message->sender_name = "Alice";
    message->channel = (char *)channel;
    message->content.data = (uint8_t *)content;
    message->content.len = strlen(content);
    message->signature.data = (uint8_t *)s_signature;
    message->signature.len = sizeof s_signature;
}

void msg_client_store(Cairn__Request *request, Cairn__MessageStore *store, uint64_t id,
                      Cairn__Message *message) {
    cairn__request__init(request);
    cairn__message_store__init(store);
    store->message = message;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_STORE;
    request->message_store = store;
}

void msg_client_list(Cairn__Request *request, Cairn__MessageList *list, uint64_t id,
                     const char *channel, uint32_t limit) {
    cairn__request__init(request);
    cairn__message_list__init(list);
    list->channel = (char *)channel;
    list->limit = limit;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_LIST;
    request->message_list = list;
}

void msg_client_get(Cairn__Request *request, Cairn__MessageGet *get, uint64_t id,
                    const char *message_id) {
    cairn__request__init(request);
    cairn__message_get__init(get);
    get->id = (char *)message_id;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_GET;
    request->message_get = get;
}

void msg_client_delete(Cairn__Request *request, Cairn__MessageDelete *del, uint64_t id,
                       const char *channel, double before) {
    cairn__request__init(request);
    cairn__message_delete__init(del);
    del->channel = (char *)channel;
    del->before = before;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_DELETE;
    request->message_delete = del;
}

void msg_client_search(Cairn__Request *request, Cairn__MessageSearch *search, uint64_t id,
                       const char *query, const char *channel, uint32_t limit) {
    cairn__request__init(request);
    cairn__message_search__init(search);
    search->query = (char *)query;
    search->channel = (char *)channel;
    search->limit = limit;
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_SEARCH;
    request->message_search = search;
}

void msg_client_stats(Cairn__Request *request, Cairn__MessageStats *stats, uint64_t id) {
    cairn__request__init(request);
    cairn__message_stats__init(stats);
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_MESSAGE_STATS;
    request->message_stats = stats;
}

void msg_client_vacuum(Cairn__Request *request, Cairn__Vacuum *vacuum, uint64_t id) {
    cairn__request__init(request);
    cairn__vacuum__init(vacuum);
    request->id = id;
    request->body_case = CAIRN__REQUEST__BODY_VACUUM;
    request->vacuum = vacuum;
}

/*  =========================================================================
    messages_fixture - nodes with channels in place, for the messages tests
    ========================================================================= */

#include "messages_fixture.h"
#include "ca_limits.h"

#include <stdio.h>
#include <string.h>

sqlite3 *messages_fixture_open_db(harness_node_t *node) {
    char *path = zsys_sprintf("%s/%s", harness_node_data_dir(node), CA_DB_FILE);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "messages_fixture: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    } else
        sqlite3_busy_timeout(db, 5000);
    zstr_free(&path);
    return db;
}

int messages_fixture_seed_channels(harness_node_t *node, const char *const *channels) {
    sqlite3 *db = messages_fixture_open_db(node);
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
        fprintf(stderr, "messages_fixture: cannot add channels: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

harness_node_t *messages_fixture_start(const char *const *channels, const char *const *extra_args) {
    harness_node_t *node = harness_node_start(NULL, extra_args);
    if (!node)
        return NULL;
    //  The first start migrated the schema; a clean stop leaves no WAL.
    if (harness_node_stop(node) != 0 || messages_fixture_seed_channels(node, channels) != 0 ||
        harness_node_restart(node) != 0)
        harness_node_destroy(&node);
    return node;
}

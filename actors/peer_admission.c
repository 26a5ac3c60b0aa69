/*  =========================================================================
    peer_admission - who may open a session on the peer endpoint (see the
    header for the rules)
    ========================================================================= */

#include "peer_admission.h"
#include "ca_log.h"
#include "ca_sql.h"

#include <stdatomic.h>

#include <string.h>

struct _peer_admission_t {
    char *db_path;
    atomic_bool allow_list; //  set by the node on SIGHUP, read on the ZAP thread
    ca_sql_t *sql;          //  opened at the first handshake
    zhashx_t *keys;         //  Z85 of a peer's CURVE key -> 1 admitted, 2 blocked
    int64_t data_version;   //  of the last read (-1: never)
    size_t rows;            //  rows of the peers table at the last read
    int64_t warned_ms;      //  last "open mode is full" warning (mono)
};

peer_admission_t *peer_admission_new(const char *db_path, bool allow_list) {
    peer_admission_t *self = (peer_admission_t *)zmalloc(sizeof(peer_admission_t));
    self->db_path = strdup(db_path);
    atomic_init(&self->allow_list, allow_list);
    self->keys = zhashx_new();
    self->data_version = -1;
    return self;
}

void peer_admission_set_allow_list(peer_admission_t *self, bool allow_list) {
    atomic_store(&self->allow_list, allow_list);
}

void peer_admission_destroy(peer_admission_t **self_p) {
    peer_admission_t *self = *self_p;
    if (!self)
        return;
    ca_sql_destroy(&self->sql);
    zhashx_destroy(&self->keys);
    zstr_free(&self->db_path);
    free(self);
    *self_p = NULL;
}

//  Reads the peers table again when the database changed. False when it
//  cannot be read.
static bool s_refresh(peer_admission_t *self) {
    if (!self->sql) {
        char *error = NULL;
        self->sql = ca_sql_open(self->db_path, CA_SQL_READ_ONLY, NULL, &error);
        if (!self->sql) {
            ca_log_error("peer: admission cannot open %s: %s", self->db_path, error);
            zstr_free(&error);
            return false;
        }
    }
    sqlite3_stmt *version = ca_sql_prepare(self->sql, "PRAGMA data_version");
    if (!version || sqlite3_step(version) != SQLITE_ROW)
        return false;
    int64_t now = sqlite3_column_int64(version, 0);
    sqlite3_reset(version);
    if (now == self->data_version)
        return true;
    sqlite3_stmt *stmt = ca_sql_prepare(self->sql, "SELECT public_key, blocked FROM peers");
    if (!stmt)
        return false;
    zhashx_purge(self->keys);
    self->rows = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        self->rows++;
        ca_curve_key_t key;
        if (sqlite3_column_bytes(stmt, 0) != 32 ||
            ca_curve_key_from_ed25519(sqlite3_column_blob(stmt, 0), NULL, &key) != 0)
            continue; //  not a valid point: no node can hold it
        char z85[CA_CURVE_Z85_SIZE];
        ca_curve_z85(key.public_key, z85);
        //  A key listed twice (two peer ids) is blocked when either row is.
        uintptr_t was = (uintptr_t)zhashx_lookup(self->keys, z85);
        uintptr_t value = sqlite3_column_int(stmt, 1) ? 2 : 1;
        zhashx_update(self->keys, z85, (void *)(was > value ? was : value));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        ca_log_error("peer: admission cannot read the peers table: %s",
                     sqlite3_errmsg(ca_sql_handle(self->sql)));
        return false;
    }
    self->data_version = now;
    return true;
}

bool peer_admission_admit(void *state, const uint8_t key[CA_CURVE_KEY_BYTES]) {
    peer_admission_t *self = (peer_admission_t *)state;
    if (!s_refresh(self))
        return false;
    char z85[CA_CURVE_Z85_SIZE];
    ca_curve_z85(key, z85);
    uintptr_t known = (uintptr_t)zhashx_lookup(self->keys, z85);
    if (known == 2)
        return false;
    if (known == 1)
        return true;
    if (atomic_load(&self->allow_list))
        return false;
    if (self->rows < PEER_OPEN_ROWS_MAX)
        return true;
    if (zclock_mono() - self->warned_ms > 10000) {
        self->warned_ms = zclock_mono();
        ca_log_warning("peer: refused an unknown key: the peers table has %zu rows, open mode "
                       "admits new keys below %d (block or remove peers, or list the ones you "
                       "want and use peer_admission allow-list)",
                       self->rows, PEER_OPEN_ROWS_MAX);
    }
    return false;
}

/*  =========================================================================
    ca_status - the status codes shared by the wire and every actor
    ========================================================================= */

#include "ca_status.h"
#include "cairn.pb-c.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>

//  The C enum and the wire enum must never drift apart.
_Static_assert((int)CA_OK == (int)CAIRN__STATUS__OK, "status OK");
_Static_assert((int)CA_NOT_FOUND == (int)CAIRN__STATUS__NOT_FOUND, "status NOT_FOUND");
_Static_assert((int)CA_INVALID == (int)CAIRN__STATUS__INVALID, "status INVALID");
_Static_assert((int)CA_CONFLICT == (int)CAIRN__STATUS__CONFLICT, "status CONFLICT");
_Static_assert((int)CA_UNAUTHORIZED == (int)CAIRN__STATUS__UNAUTHORIZED, "status UNAUTHORIZED");
_Static_assert((int)CA_BUSY == (int)CAIRN__STATUS__BUSY, "status BUSY");
_Static_assert((int)CA_INTERNAL == (int)CAIRN__STATUS__INTERNAL, "status INTERNAL");
_Static_assert((int)CA_UNAVAILABLE == (int)CAIRN__STATUS__UNAVAILABLE, "status UNAVAILABLE");
_Static_assert((int)CA_CORRUPT == (int)CAIRN__STATUS__CORRUPT, "status CORRUPT");

const char *ca_status_str(ca_status_t status) {
    switch (status) {
        case CA_OK:
            return "ok";
        case CA_NOT_FOUND:
            return "not_found";
        case CA_INVALID:
            return "invalid";
        case CA_CONFLICT:
            return "conflict";
        case CA_UNAUTHORIZED:
            return "unauthorized";
        case CA_BUSY:
            return "busy";
        case CA_INTERNAL:
            return "internal";
        case CA_UNAVAILABLE:
            return "unavailable";
        case CA_CORRUPT:
            return "corrupt";
    }
    return "unknown";
}

ca_status_t ca_status_from_sqlite(int sqlite_rc) {
    switch (sqlite_rc) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
            return CA_OK;
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return CA_CONFLICT;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return CA_BUSY;
        default:
            break;
    }
    if ((sqlite_rc & 0xff) == SQLITE_CONSTRAINT || sqlite_rc == SQLITE_MISMATCH ||
        sqlite_rc == SQLITE_TOOBIG || sqlite_rc == SQLITE_RANGE)
        return CA_INVALID;
    return CA_INTERNAL;
}

void ca_status_test(bool verbose) {
    if (verbose)
        printf(" * ca_status: ");
    assert(ca_status_from_sqlite(SQLITE_CONSTRAINT_UNIQUE) == CA_CONFLICT);
    assert(ca_status_from_sqlite(SQLITE_CONSTRAINT_PRIMARYKEY) == CA_CONFLICT);
    assert(ca_status_from_sqlite(SQLITE_CONSTRAINT_CHECK) == CA_INVALID);
    assert(ca_status_from_sqlite(SQLITE_CONSTRAINT_FOREIGNKEY) == CA_INVALID);
    assert(ca_status_from_sqlite(SQLITE_FULL) == CA_INTERNAL);
    assert(ca_status_from_sqlite(SQLITE_IOERR_WRITE) == CA_INTERNAL);
    assert(ca_status_from_sqlite(SQLITE_BUSY) == CA_BUSY);
    assert(ca_status_from_sqlite(SQLITE_DONE) == CA_OK);
    for (int s = CA_OK; s <= CA_CORRUPT; s++)
        assert(ca_status_str((ca_status_t)s)[0] != 'u' || s == CA_UNAUTHORIZED ||
               s == CA_UNAVAILABLE);
    assert(ca_status_str((ca_status_t)99)[0] == 'u');
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    ca_status - the status codes shared by the wire and every actor

    ca_status_t has the same values as cairn.Status in schemas/envelope.proto,
    so a status moves between C code and the wire without translation.
    ========================================================================= */

#ifndef CA_STATUS_H_INCLUDED
#define CA_STATUS_H_INCLUDED

#include <stdbool.h>

typedef enum {
    CA_OK = 0,
    CA_NOT_FOUND = 1,
    CA_INVALID = 2,
    CA_CONFLICT = 3,
    CA_UNAUTHORIZED = 4,
    CA_BUSY = 5,
    CA_INTERNAL = 6,
    CA_UNAVAILABLE = 7,
    CA_CORRUPT = 8, //  stored bytes do not match their hash
} ca_status_t;

//  Lower-case name of a status ("ok", "not_found", ...); "unknown" otherwise.
const char *ca_status_str(ca_status_t status);

//  Maps a SQLite result code to the status a client should see:
//  constraint on a unique key -> CONFLICT, other constraints -> INVALID,
//  SQLITE_BUSY/LOCKED -> BUSY, everything else -> INTERNAL.
ca_status_t ca_status_from_sqlite(int sqlite_rc);

void ca_status_test(bool verbose);

#endif

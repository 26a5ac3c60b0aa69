/*  =========================================================================
    sync - set reconciliation for clients with the negentropy protocol;
    pool "sync", no tables of its own (requests: schemas/sync.proto)
    ========================================================================= */

#ifndef SYNC_H_INCLUDED
#define SYNC_H_INCLUDED

#include "ca_store.h"

extern const ca_store_def_t sync_store_def;

#endif

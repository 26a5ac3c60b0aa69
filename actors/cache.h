/*  =========================================================================
    cache - content fetched from peers within a byte budget, evicted least
    recently used first; pool "cache", files under <data dir>/cache/
    (requests: schemas/cache.proto)
    ========================================================================= */

#ifndef CACHE_H_INCLUDED
#define CACHE_H_INCLUDED

#include "ca_store.h"

extern const ca_schema_t cache_schema;

//  The store's description: schema, request table, directory preparation.
//  Its budget is settings.cache_max_bytes.
extern const ca_store_def_t cache_store_def;

void cache_test(bool verbose);

#endif

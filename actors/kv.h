/*  =========================================================================
    kv - key-value namespaces kept by SQLite, a folder of files or Redis;
    pool "kv", tables of kv_schema (requests: schemas/kv.proto)
    ========================================================================= */

#ifndef KV_H_INCLUDED
#define KV_H_INCLUDED

#include "ca_store.h"

extern const ca_schema_t kv_schema;

extern const ca_store_def_t kv_store_def;

void kv_test(bool verbose);

#endif

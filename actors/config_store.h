/*  =========================================================================
    config_store - node configuration, the first store (requests:
    schemas/config.proto)
    ========================================================================= */

#ifndef CONFIG_STORE_H_INCLUDED
#define CONFIG_STORE_H_INCLUDED

#include "ca_store.h"

//  The store's tables (cairn-bench's SQLite baseline makes them too).
extern const ca_schema_t config_schema;

//  The store's description: schema and request table, run by ca_store_actor.
extern const ca_store_def_t config_store_def;

void config_store_test(bool verbose);

#endif

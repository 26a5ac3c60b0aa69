/*  =========================================================================
    batch - atomic batches of writes across stores (requests:
    schemas/batch.proto)
    ========================================================================= */

#ifndef BATCH_H_INCLUDED
#define BATCH_H_INCLUDED

#include "ca_store.h"

//  The store's description, run by ca_store_actor like any store's; its
//  workers need the node's store list (ca_store_args_t.stores).
extern const ca_store_def_t batch_store_def;

//  Whether a Batch may carry request kind `body` (a Request body field).
bool batch_kind_allowed(unsigned body);

#endif

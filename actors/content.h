/*  =========================================================================
    content - blobs addressed by SHA-256, with ranged reads, chunked upload
    streams and check/repair; pool "content", files under
    <data dir>/content/ (requests: schemas/content.proto)
    ========================================================================= */

#ifndef CONTENT_H_INCLUDED
#define CONTENT_H_INCLUDED

#include "ca_store.h"

extern const ca_schema_t content_schema;

//  The store's description: schema, request table, the per-worker tick
//  that drops idle upload streams, and its directory preparation.
extern const ca_store_def_t content_store_def;

void content_test(bool verbose);

#endif

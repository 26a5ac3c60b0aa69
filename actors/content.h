/*  =========================================================================
    content - blobs addressed by SHA-256, with ranged reads, chunked upload
    streams and check/repair; pool "content", files under
    <data dir>/content/ (requests: schemas/content.proto)
    ========================================================================= */

#ifndef CONTENT_H_INCLUDED
#define CONTENT_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

extern const ca_schema_t content_schema;

//  The store's description: schema, request table, the per-worker tick
//  that drops idle upload streams, and its directory preparation.
extern const ca_store_def_t content_store_def;

void content_test(bool verbose);

//  ---- fixtures: the requests of the self-test and of tests/e2e_content.c, sent
//  through `caller` (a testbed or a node). A returned response is the
//  caller's to free; a failed check aborts.

//  Puts data and checks the hash (into `hash`) and size answered; true when
//  the store had it already.
bool content_fixture_put(ca_caller_t *caller, const void *data, size_t size, uint8_t hash[32]);
Cairn__Response *content_fixture_get(ca_caller_t *caller, const uint8_t *hash, size_t hash_size,
                                     bool skip_verify);

//  Stores data through an upload stream, so that it is a file whatever
//  its size (streamed blobs are never inline; ContentPut keeps blobs of up
//  to CA_CONTENT_INLINE_MAX in the database); its hash into `hash`; true
//  when deduplicated.
bool content_fixture_put_file(ca_caller_t *caller, const void *data, size_t size, uint8_t hash[32]);

//  Overwrites the inline bytes of blob `hash` in <data_dir>/cairn.db (a
//  disk that lies), through a connection of its own.
void content_fixture_set_inline(const char *data_dir, const uint8_t *hash, const void *data,
                                size_t size);

//  Flips the middle byte of the inline bytes of blob `hash` (same size).
void content_fixture_flip_inline(const char *data_dir, const uint8_t *hash);

//  Gets `hash` and checks that its bytes are `data`.
void content_fixture_get_expect(ca_caller_t *caller, const uint8_t *hash, const void *data,
                                size_t size);

//  ContentHas: whether `hash` is stored; its size in *size (may be NULL).
bool content_fixture_has(ca_caller_t *caller, const uint8_t *hash, uint64_t *size);

//  ContentBegin (of `expected`, may be NULL); the stream id, 0 when the
//  store has the expected content already.
uint64_t content_fixture_begin(ca_caller_t *caller, const uint8_t *expected);
Cairn__Response *content_fixture_commit(ca_caller_t *caller, uint64_t stream_id,
                                        const uint8_t *expected);

//  Hashes of every wrong size (0 where a hash is required, 1 to 64 bytes)
//  in each content request that takes one: INVALID, naming the field.
void content_fixture_bad_hashes(ca_caller_t *caller);

#endif

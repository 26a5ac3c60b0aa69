/*  =========================================================================
    manifests - what each piece of content is: manifests (metadata, tags,
    access lists, versions) and L1 summaries; pool "manifests", tables of
    provenance_schema (requests: schemas/manifests.proto)
    ========================================================================= */

#ifndef MANIFESTS_H_INCLUDED
#define MANIFESTS_H_INCLUDED

#include "ca_caller.h"
#include "ca_store.h"

extern const ca_store_def_t manifests_store_def;

void manifests_test(bool verbose);

//  ---- fixtures: the manifests of the self-test and of tests/e2e_manifests.c.
//  Requests go through `caller` (a testbed or a node); a returned response
//  is the caller's to free; a failed check aborts.

//  A manifest with its own storage, so that a test can edit fields in place.
typedef struct {
    Cairn__Manifest manifest;
    Cairn__AccessControl access;
    uint8_t hash[32], previous[32], root[32];
    char *tags[2], *allow[2], *deny[1];
} manifests_fixture_t;

//  Content number n: the hash of its name ("content-N").
void manifests_fixture_hash(int n, uint8_t hash[32]);

//  Content n as version `number` (following content `previous`, root
//  `root`), with every field set: unlisted, two tags, two allowed peers and
//  one denied.
void manifests_fixture_init(manifests_fixture_t *t, int n, uint32_t number, int previous, int root);

Cairn__Response *manifests_fixture_put(ca_caller_t *caller, manifests_fixture_t *t);

//  Puts, checks OK; returns created_at as the store answered it.
double manifests_fixture_put_ok(ca_caller_t *caller, manifests_fixture_t *t);
Cairn__Response *manifests_fixture_update(ca_caller_t *caller, manifests_fixture_t *t);
Cairn__Response *manifests_fixture_get_hash(ca_caller_t *caller, const uint8_t *hash, size_t size);
Cairn__Response *manifests_fixture_get(ca_caller_t *caller, int n);
Cairn__Response *manifests_fixture_delete(ca_caller_t *caller, int n);

//  Deletes content n, checks OK; true when a manifest was removed.
bool manifests_fixture_removed(ca_caller_t *caller, int n);

//  One page of the versions of content `root` after version `after`.
Cairn__Response *manifests_fixture_versions_page(ca_caller_t *caller, int root, uint32_t limit,
                                                 uint64_t after);
Cairn__Response *manifests_fixture_versions(ca_caller_t *caller, int root);

//  Walks the chain of content `root` (version k is content root + k - 1,
//  `total` versions) `limit` at a time, each cursor the last version of
//  the page before: every version once, in order, `more` until the last.
//  Returns the pages.
size_t manifests_fixture_walk_versions(ca_caller_t *caller, int root, uint32_t limit,
                                       uint32_t total);

//  ManifestVersions a page at a time: 25 versions of content `root` beside
//  a chain of 3 at root + 100 put in between, walked with several limits;
//  the bounds of a page; pages past the end; unknown roots (root - 1, and
//  root + 1, a later version) NOT_FOUND. Deletes both chains at the end.
void manifests_fixture_version_pages(ca_caller_t *caller, int root);

//  Each version rule broken once on a store holding 10 (version 1), 11
//  (version 2 of root 10) and 30 (version 1), which it puts: every refusal
//  names its rule and keeps nothing; then 50 goes in as version 3 of root 10.
void manifests_fixture_version_rules(ca_caller_t *caller);

//  The same strings in the same order.
bool manifests_fixture_strings_equal(char **a, size_t n_a, char *const *b, size_t n_b);

//  Every field of `got` against what was put (the store's own fields sane).
void manifests_fixture_expect(const Cairn__Manifest *got, const manifests_fixture_t *t);

//  Gets content n and checks it against `t`.
void manifests_fixture_get_expect(ca_caller_t *caller, int n, const manifests_fixture_t *t);

#endif

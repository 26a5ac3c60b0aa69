/*  =========================================================================
    manifests_rules - the checks of the manifests pool's requests (INVALID)
    and the guards that keep the version rules inside the writer's
    transaction; private to the `manifests` actor, called only by its
    worker threads, no state
    ========================================================================= */

#ifndef MANIFESTS_RULES_H_INCLUDED
#define MANIFESTS_RULES_H_INCLUDED

#include "ca_store.h"

//  Each check: true when the request keeps every rule the request alone
//  can break; else false with the reply INVALID, naming field and rule.

//  ManifestPut's manifest: present, valid fields, and the version rules.
bool manifests_rules_put_ok(const Cairn__Manifest *manifest, ca_reply_t *reply);

//  ManifestUpdate's manifest: present, valid fields, well-formed version fields.
bool manifests_rules_update_ok(const Cairn__Manifest *manifest, ca_reply_t *reply);

//  ManifestList's filters (its limit is ca_page_limit's, in the handler).
bool manifests_rules_list_ok(const Cairn__ManifestList *list, ca_reply_t *reply);

//  ManifestVersions' root (its limit is ca_page_limit's, in the handler).
bool manifests_rules_versions_ok(const Cairn__ManifestVersions *versions, ca_reply_t *reply);

//  SummaryPut's summary: present, its hash, items and text.
bool manifests_rules_summary_ok(const Cairn__Summary *summary, ca_reply_t *reply);

//  Adds to a put's write the guards of the stored version rules (CONFLICT);
//  `root` is the manifest's version root. Messages live in the reply.
//  Returns how many statements it added.
uint8_t manifests_rules_write_put_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                         const uint8_t *root, ca_reply_t *reply);

//  Adds to an update's write its guards: the manifest exists (NOT_FOUND)
//  and each version field it sets repeats the stored one (INVALID).
//  Returns how many statements it added.
uint8_t manifests_rules_write_update_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                            ca_reply_t *reply);

//  Adds to a delete's write its one guard: no later version follows the
//  manifest of `hash` (32 bytes) (CONFLICT).
void manifests_rules_write_delete_guard(ca_write_t *write, const uint8_t *hash);

#endif

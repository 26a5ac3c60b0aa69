/*  =========================================================================
    manifests_rules - what a request of the manifests pool may ask: the
    rules of each field, and the version rules of a manifest chain

    What it owns: every check the `manifests` actor makes before it reads
    or writes (ManifestPut, ManifestUpdate, ManifestList, ManifestVersions,
    SummaryPut), and the guards that hold the version rules inside the
    writer's transaction (put, update, delete). It keeps no state and
    opens no connection: the actor's worker threads call it with the
    request and the reply (or the write) they are building, and only they.

    Rules and where they are kept:

        request alone (INVALID)        checked here, before anything is
                                       read or written; the message names
                                       the field and the rule
        stored manifests (CONFLICT,    guard statements added to the
        NOT_FOUND, and INVALID for     write, one statement per rule, each
        an update's version fields)    with its own status and message

    Version rules. A first version has number 1, no previous, and is its
    own root (the node fills version_root). A later version (number n > 1)
    names its root and an existing previous manifest of the same root
    with number n - 1. What the request alone breaks is INVALID (number 0,
    a first version with a previous or a foreign root, a later version
    without previous or root, or naming itself); what breaks against the
    stored manifests is CONFLICT (the hash has a manifest, the previous is
    missing, has another root or another number, the (root, number) slot
    is taken). Each message names the rule. The stored rules are guards
    inside the writer's transaction, never checks against a worker's
    snapshot, so they hold under races, and the unique index
    (version_root, version_number) stays the last word. An update keeps
    the version fields: each one it sets must repeat the stored value.
    A version that a later version follows cannot be deleted.

    Invariants: a check that fails has set the reply's error and returns
    false; one that passes leaves the reply untouched. A guard function
    adds statements to the write and returns how many, so the caller
    knows which result holds the row its own statement returns.
    ========================================================================= */

#include "manifests_rules.h"
#include "ca_blob_store.h"
#include "ca_limits.h"
#include "ca_names.h"
#include "ca_validate.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

//  A formatted string that lives as long as the reply.
static char *s_printf(ca_reply_t *reply, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static char *s_printf(ca_reply_t *reply, const char *format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return ca_reply_strdup(reply, text);
}

//  ---- the fields of a request -----------------------------------------------------------

//  A string field of at most `max` bytes (at least `min`); with
//  `plain`, no control characters either.
static bool s_text_ok(const char *field, const char *text, size_t min, size_t max, bool plain,
                      ca_reply_t *reply) {
    size_t length = strlen(text);
    if (length < min || length > max) {
        ca_reply_error(reply, CA_INVALID, "%s is %zu bytes; it must be %zu..%zu bytes", field,
                       length, min, max);
        return false;
    }
    for (size_t i = 0; plain && i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            ca_reply_error(reply, CA_INVALID, "%s holds a control character (byte %zu); remove it",
                           field, i);
            return false;
        }
    return true;
}

//  A content type: 1..64 bytes of [A-Za-z0-9._/+-].
static bool s_content_type_ok(const char *field, const char *type, ca_reply_t *reply) {
    size_t length = strlen(type);
    bool ok = length >= 1 && length <= CA_MANIFEST_TYPE_MAX;
    for (size_t i = 0; ok && i < length; i++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/+-",
                    type[i]) != NULL;
    if (!ok)
        ca_reply_error(reply, CA_INVALID,
                       "%s must be 1..%d bytes of [A-Za-z0-9._/+-] (e.g. text/article)", field,
                       CA_MANIFEST_TYPE_MAX);
    return ok;
}

static bool s_visibility_ok(const char *field, int visibility, ca_reply_t *reply) {
    if (visibility >= CAIRN__VISIBILITY__VISIBILITY_PRIVATE &&
        visibility <= CAIRN__VISIBILITY__VISIBILITY_SHARED)
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s %d is not a visibility; use 0 (private), 1 (unlisted) or 2 (shared)", field,
                   visibility);
    return false;
}

//  A time that may be absent: 0, or finite and after 1970.
static bool s_time_ok(const char *field, double value, ca_reply_t *reply) {
    if (value == 0 || (isfinite(value) && value > 0))
        return true;
    ca_reply_error(reply, CA_INVALID,
                   "%s must be 0 (none) or a finite time in unix seconds (got %g)", field, value);
    return false;
}

static bool s_peer_ok(const char *field, const char *peer, ca_reply_t *reply) {
    const char *problem = ca_validate_peer_id(peer);
    if (problem)
        ca_reply_error(reply, CA_INVALID, "%s: %s (peer ids are 1..%d bytes of [A-Za-z0-9._:-])",
                       field, problem, CA_PEER_ID_MAX);
    return problem == NULL;
}

//  One access list: at most CA_MANIFEST_ACCESS_MAX valid peer ids, each once.
static bool s_access_list_ok(const char *name, char **peers, size_t count, ca_reply_t *reply) {
    if (count > CA_MANIFEST_ACCESS_MAX) {
        ca_reply_error(reply, CA_INVALID, "access.%s holds %zu peers; at most %d are allowed", name,
                       count, CA_MANIFEST_ACCESS_MAX);
        return false;
    }
    char field[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof field, "access.%s[%zu]", name, i);
        if (!s_peer_ok(field, peers[i], reply))
            return false;
        for (size_t k = 0; k < i; k++)
            if (streq(peers[k], peers[i])) {
                ca_reply_error(reply, CA_INVALID,
                               "%s repeats peer %s (also at %zu); list each peer once", field,
                               peers[i], k);
                return false;
            }
    }
    return true;
}

static bool s_tags_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (manifest->n_tags > CA_MANIFEST_TAGS_MAX) {
        ca_reply_error(reply, CA_INVALID, "the manifest has %zu tags; at most %d are allowed",
                       manifest->n_tags, CA_MANIFEST_TAGS_MAX);
        return false;
    }
    char field[32];
    for (size_t i = 0; i < manifest->n_tags; i++) {
        snprintf(field, sizeof field, "tags[%zu]", i);
        if (!s_text_ok(field, manifest->tags[i], 1, CA_MANIFEST_TAG_MAX, true, reply))
            return false;
    }
    return true;
}

//  The fields a put and an update share (all but hash and versions).
static bool s_mutable_fields_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!s_content_type_ok("content_type", manifest->content_type, reply) ||
        !s_visibility_ok("visibility", manifest->visibility, reply) ||
        !s_text_ok("title", manifest->title, 0, CA_MANIFEST_TITLE_MAX, false, reply) ||
        !s_text_ok("description", manifest->description, 0, CA_MANIFEST_DESCRIPTION_MAX, false,
                   reply) ||
        !s_text_ok("mime_type", manifest->mime_type, 0, CA_MANIFEST_MIME_MAX, true, reply) ||
        !s_tags_ok(manifest, reply))
        return false;
    if (*manifest->owner && !s_peer_ok("owner", manifest->owner, reply))
        return false;
    const Cairn__AccessControl *access = manifest->access;
    return !access || (s_access_list_ok("allow", access->allow, access->n_allow, reply) &&
                       s_access_list_ok("deny", access->deny, access->n_deny, reply));
}

//  The manifest of a put or update: present, with a hash and valid fields.
static bool s_manifest_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!manifest) {
        ca_reply_error(reply, CA_INVALID, "the request has no manifest; send one");
        return false;
    }
    return ca_blob_store_hash_ok(&manifest->hash, "manifest.hash", reply) &&
           s_mutable_fields_ok(manifest, reply);
}

static bool s_same_hash(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

//  The version rules the request alone can break (INVALID).
static bool s_version_fields_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    if (!s_time_ok("version_timestamp", manifest->version_timestamp, reply))
        return false;
    uint32_t number = manifest->version_number;
    if (number == 0) {
        ca_reply_error(reply, CA_INVALID,
                       "version_number is 0; versions count from 1: send 1 for a first version");
        return false;
    }
    if (!ca_blob_store_optional_hash_ok(&manifest->version_previous, "version_previous", reply) ||
        !ca_blob_store_optional_hash_ok(&manifest->version_root, "version_root", reply))
        return false;
    if (number == 1) {
        if (manifest->version_previous.len) {
            ca_reply_error(reply, CA_INVALID,
                           "version 1 has a version_previous; a first version has none (send "
                           "the number previous + 1 for a later version)");
            return false;
        }
        if (manifest->version_root.len && !s_same_hash(&manifest->version_root, &manifest->hash)) {
            ca_reply_error(reply, CA_INVALID,
                           "version 1 names another version_root; a first version is its own "
                           "root (leave version_root empty)");
            return false;
        }
        return true;
    }
    if (!manifest->version_previous.len || !manifest->version_root.len) {
        ca_reply_error(reply, CA_INVALID,
                       "version %u needs version_previous and version_root: a later version "
                       "names the version it follows and the hash of version 1",
                       number);
        return false;
    }
    if (s_same_hash(&manifest->version_previous, &manifest->hash) ||
        s_same_hash(&manifest->version_root, &manifest->hash)) {
        ca_reply_error(reply, CA_INVALID,
                       "version %u names itself as its previous version or root; a later "
                       "version follows another manifest",
                       number);
        return false;
    }
    return true;
}

//  One item list of a summary: at most CA_SUMMARY_ITEMS_MAX items of
//  at most `max_bytes` each.
static bool s_summary_items_ok(const char *name, char **items, size_t count, size_t max_bytes,
                               ca_reply_t *reply) {
    if (count > CA_SUMMARY_ITEMS_MAX) {
        ca_reply_error(reply, CA_INVALID, "summary.%s holds %zu items; at most %d are kept", name,
                       count, CA_SUMMARY_ITEMS_MAX);
        return false;
    }
    char field[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof field, "summary.%s[%zu]", name, i);
        if (!s_text_ok(field, items[i], 0, max_bytes, false, reply))
            return false;
    }
    return true;
}

//  ---- the version rules against the stored manifests -----------------------------------

//  A guard: the statement (?1 = hash, then the values the caller binds)
//  must return a row, else the write fails with `status` and `message`.
static void s_write_guard(ca_write_t *write, const char *sql, bool want_row, ca_status_t status,
                          const char *message, const uint8_t *hash) {
    ca_write_statement(write, sql,
                       want_row ? CAIRN__INTERNAL__EXPECT__EXPECT_SOME_ROWS
                                : CAIRN__INTERNAL__EXPECT__EXPECT_NO_ROWS,
                       status, message);
    ca_write_blob(write, hash, CA_HASH_BYTES);
}

//  The rules a put can break against the stored manifests (CONFLICT), as
//  guards inside the writer's transaction: the hash is free; a later
//  version's previous exists, has the same root and number - 1; the
//  (root, number) slot is free. Returns how many statements it added.
uint8_t manifests_rules_write_put_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                         const uint8_t *root, ca_reply_t *reply) {
    s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", false, CA_CONFLICT,
                  "a manifest for this hash exists; change it with ManifestUpdate (a new "
                  "version is new content with its own hash)",
                  manifest->hash.data);
    uint8_t count = 1;
    uint32_t number = manifest->version_number;
    if (number > 1) {
        char hex[65];
        ca_hash_to_hex(manifest->version_previous.data, hex);
        const uint8_t *previous = manifest->version_previous.data;
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", true, CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s has no manifest; a later version follows an "
                               "existing one: put the previous version first",
                               hex),
                      previous);
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_root = ?2", true,
                      CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s belongs to another version root; a later "
                               "version keeps the root of the version it follows",
                               hex),
                      previous);
        ca_write_blob(write, root, CA_HASH_BYTES);
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_number = ?2",
                      true, CA_CONFLICT,
                      s_printf(reply,
                               "version_previous %s is not version %u, so this one cannot be "
                               "version %u: a version's number is its previous one's + 1",
                               hex, number - 1, number),
                      previous);
        ca_write_int(write, (int64_t)number - 1);
        count += 3;
    }
    s_write_guard(write, "SELECT 1 FROM manifests WHERE version_root = ?1 AND version_number = ?2",
                  false, CA_CONFLICT,
                  s_printf(reply,
                           "version %u of this version root exists already; each version is put "
                           "once: follow the newest version with the next number",
                           number),
                  root);
    ca_write_int(write, number);
    return count + 1;
}

//  Guards of an update: the manifest exists, and each version field the
//  request sets repeats the stored value (version fields never change).
//  Returns how many statements it added.
uint8_t manifests_rules_write_update_guards(ca_write_t *write, const Cairn__Manifest *manifest,
                                            ca_reply_t *reply) {
    const uint8_t *hash = manifest->hash.data;
    char hex[65];
    ca_hash_to_hex(hash, hex);
    s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1", true, CA_NOT_FOUND,
                  s_printf(reply, "no manifest for %s; put it first (ManifestPut)", hex), hash);
    uint8_t count = 1;
    const char *advice = "cannot change in an update; leave it unset, or put the new version "
                         "as a new manifest (ManifestPut)";
    if (manifest->version_number) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_number = ?2",
                      true, CA_INVALID, s_printf(reply, "version_number %s", advice), hash);
        ca_write_int(write, manifest->version_number);
        count++;
    }
    if (manifest->version_previous.len) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_previous = ?2",
                      true, CA_INVALID, s_printf(reply, "version_previous %s", advice), hash);
        ca_write_blob(write, manifest->version_previous.data, manifest->version_previous.len);
        count++;
    }
    if (manifest->version_root.len) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_root = ?2", true,
                      CA_INVALID, s_printf(reply, "version_root %s", advice), hash);
        ca_write_blob(write, manifest->version_root.data, manifest->version_root.len);
        count++;
    }
    if (manifest->version_timestamp) {
        s_write_guard(write, "SELECT 1 FROM manifests WHERE hash = ?1 AND version_timestamp = ?2",
                      true, CA_INVALID, s_printf(reply, "version_timestamp %s", advice), hash);
        ca_write_real(write, manifest->version_timestamp);
        count++;
    }
    return count;
}

//  The delete's guard: no later version follows the manifest.
void manifests_rules_write_delete_guard(ca_write_t *write, const uint8_t *hash) {
    s_write_guard(write,
                  "SELECT 1 FROM manifests m JOIN manifests n ON n.version_root ="
                  " m.version_root AND n.version_number = m.version_number + 1"
                  " WHERE m.hash = ?1",
                  false, CA_CONFLICT,
                  "a later version follows this manifest; delete the later versions first "
                  "(newest first), so that no version loses its previous one",
                  hash);
}

//  ---- the requests ---------------------------------------------------------------------

bool manifests_rules_put_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    return s_manifest_ok(manifest, reply) && s_version_fields_ok(manifest, reply);
}

bool manifests_rules_update_ok(const Cairn__Manifest *manifest, ca_reply_t *reply) {
    return s_manifest_ok(manifest, reply) &&
           s_time_ok("version_timestamp", manifest->version_timestamp, reply) &&
           ca_blob_store_optional_hash_ok(&manifest->version_previous, "version_previous", reply) &&
           ca_blob_store_optional_hash_ok(&manifest->version_root, "version_root", reply);
}

bool manifests_rules_list_ok(const Cairn__ManifestList *list, ca_reply_t *reply) {
    return (!list->by_visibility || s_visibility_ok("visibility", list->visibility, reply)) &&
           (!*list->content_type || s_content_type_ok("content_type", list->content_type, reply)) &&
           s_time_ok("created_after", list->created_after, reply) &&
           s_time_ok("created_before", list->created_before, reply);
}

bool manifests_rules_versions_ok(const Cairn__ManifestVersions *versions, ca_reply_t *reply) {
    return ca_blob_store_hash_ok(&versions->version_root, "version_root", reply);
}

bool manifests_rules_summary_ok(const Cairn__Summary *summary, ca_reply_t *reply) {
    if (!summary) {
        ca_reply_error(reply, CA_INVALID, "the request has no summary; send one");
        return false;
    }
    return ca_blob_store_hash_ok(&summary->l0_hash, "summary.l0_hash", reply) &&
           s_summary_items_ok("preview_mentions", summary->preview_mentions,
                              summary->n_preview_mentions, CA_SUMMARY_MENTION_MAX, reply) &&
           s_summary_items_ok("primary_topics", summary->primary_topics, summary->n_primary_topics,
                              CA_SUMMARY_TOPIC_MAX, reply) &&
           s_text_ok("summary.summary_text", summary->summary_text, 0, CA_SUMMARY_TEXT_MAX, false,
                     reply);
}

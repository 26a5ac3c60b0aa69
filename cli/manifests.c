/*  =========================================================================
    manifests - the `cairn` client's manifest and summary commands

    Rows of the shared command table (cli.h). The one-request rows are
    sent and printed by cairn.c; the rows with a run function drive their
    own requests (cli_request) because they read before they write:

        command            requests                       printed
        -----------------  -----------------------------  ---------------------
        manifest put       (ManifestGet of --previous),   the manifest stored
                           ManifestPut
        manifest get       ManifestGet                    the manifest
        manifest update    ManifestGet, ManifestUpdate    the manifest stored
        manifest rm        ManifestDelete                 removed / no manifest
        manifest list      ManifestList                   one line per manifest
        manifest versions  ManifestVersions               one line per version,
                                                          (more: --after N)
        summary put        SummaryPut                     the summary stored
        summary get        SummaryGet                     the summary

    Manifest fields are options, the lists (--tag, --allow, --deny) given
    once per item; a list given as one empty value ("--tag ''") is the
    empty list. `manifest put --previous P` fills the version fields from
    P's manifest (number P+1 unless --version-number, P's root), so a new version
    needs no arithmetic by hand; the node checks the rules either way.
    `manifest update` changes only the fields given: it reads the manifest,
    changes those fields and sends the whole of it back (ManifestUpdate
    replaces every mutable field). Two updates of the same manifest at the
    same moment can therefore lose one's fields: last writer wins.

    JSON: hashes as hex (null when empty), times as unix seconds, counts as
    integers; a count above 2^63-1 is a string of digits, since JSON
    integers here are signed 64-bit.
    ========================================================================= */

#include "blob.h"
#include "ca_request.h"
#include "ca_status.h"
#include "ca_validate.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Width of the label column in a block of "label  value" lines.
#define LABEL_WIDTH 15

//  ---- the family's storage ---------------------------------------------------------

//  `summary put --text-file`: twice the node's 64 KiB, so that its own
//  check can be exercised.
#define SUMMARY_TEXT_ROOM (128 * 1024)

//  The body of the request and what it points at. Lists point into cli
//  (repeatable options).
typedef struct {
    union {
        Cairn__ManifestPut put;
        Cairn__ManifestGet get;
        Cairn__ManifestUpdate update;
        Cairn__ManifestDelete del;
        Cairn__ManifestList list;
        Cairn__ManifestVersions versions;
        Cairn__SummaryPut summary_put;
        Cairn__SummaryGet summary_get;
    } body;
    Cairn__Manifest manifest; //  put, update: the fields given
    Cairn__AccessControl access;
    Cairn__Summary summary;
    uint8_t hash[CA_HASH_BYTES];      //  HASH (the first argument)
    uint8_t other[CA_HASH_BYTES];     //  --previous
    bool has_other;                   //  --previous given
    char text[SUMMARY_TEXT_ROOM + 1]; //  summary put --text-file
} manifests_storage_t;

//  ---- values in arguments --------------------------------------------------------------

static const char *const s_visibility_names[] = {"private", "unlisted", "shared"};
#define VISIBILITY_COUNT (sizeof s_visibility_names / sizeof s_visibility_names[0])

const char *cli_visibility_name(Cairn__Visibility visibility) {
    return cli_enum_name(s_visibility_names, VISIBILITY_COUNT, (int)visibility, "unknown");
}

static const char *s_parse_visibility(const char *text, Cairn__Visibility *visibility) {
    int value = 0;
    const char *problem =
        cli_parse_enum(text, "--visibility", s_visibility_names, VISIBILITY_COUNT, &value);
    *visibility = (Cairn__Visibility)value;
    return problem;
}

//  The values of repeatable option `name` as a list; one empty value is
//  the empty list.
static char **s_list(const cli_t *cli, const char *name, size_t *count) {
    char *const *values = cli_option_list(cli, name, count);
    if (*count == 1 && values[0][0] == '\0')
        *count = 0;
    return (char **)values;
}

//  ---- output -------------------------------------------------------------------------------

//  Hex of a hash the node sent ("-" when empty).
static void s_print_field_hash(const char *label, ProtobufCBinaryData hash) {
    printf("  %-*s ", LABEL_WIDTH, label);
    cli_print_hex(hash);
    putchar('\n');
}

static void s_print_field_text(const char *label, const char *text) {
    printf("  %-*s ", LABEL_WIDTH, label);
    if (text && text[0])
        cli_print_inline(cli_bytes(text));
    else
        putchar('-');
    putchar('\n');
}

//  Items joined by ", ", or "-".
static void s_print_field_list(const char *label, char **items, size_t count) {
    printf("  %-*s ", LABEL_WIDTH, label);
    if (count == 0)
        putchar('-');
    for (size_t i = 0; i < count; i++) {
        if (i)
            fputs(", ", stdout);
        cli_print_inline(cli_bytes(items[i]));
    }
    putchar('\n');
}

//  A JSON array of strings; NULL when one is not UTF-8.
static json_t *s_json_strings(char **items, size_t count) {
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        if (!cli_json_append(array, json_string(items[i]))) {
            json_decref(array);
            return NULL;
        }
    return array;
}

//  ---- manifests: printing ----------------------------------------------------------------

static void s_print_manifest(const Cairn__Manifest *manifest) {
    static const Cairn__AccessControl no_access = CAIRN__ACCESS_CONTROL__INIT;
    const Cairn__AccessControl *access = manifest->access ? manifest->access : &no_access;
    printf("manifest ");
    cli_print_hex(manifest->hash);
    putchar('\n');
    s_print_field_text("type", manifest->content_type);
    s_print_field_text("title", manifest->title);
    s_print_field_text("description", manifest->description);
    s_print_field_list("tags", manifest->tags, manifest->n_tags);
    printf("  %-*s %" PRIu32 "\n", LABEL_WIDTH, "version", manifest->version_number);
    s_print_field_hash("version root", manifest->version_root);
    s_print_field_hash("previous", manifest->version_previous);
    cli_print_field_time("version time", manifest->version_timestamp);
    printf("  %-*s %s\n", LABEL_WIDTH, "visibility", cli_visibility_name(manifest->visibility));
    printf("  %-*s %" PRIu64 " bytes\n", LABEL_WIDTH, "size", manifest->content_size);
    s_print_field_text("mime", manifest->mime_type);
    printf("  %-*s %" PRIu64 "\n", LABEL_WIDTH, "price", manifest->price);
    s_print_field_text("owner", manifest->owner);
    s_print_field_list("allow", access->allow, access->n_allow);
    s_print_field_list("deny", access->deny, access->n_deny);
    printf("  %-*s %" PRIu64 " (revenue %" PRIu64 ")\n", LABEL_WIDTH, "queries",
           manifest->total_queries, manifest->total_revenue);
    cli_print_field_time("created", manifest->created_at);
    cli_print_field_time("updated", manifest->updated_at);
}

static json_t *s_json_access(const Cairn__AccessControl *access) {
    json_t *allow = access ? s_json_strings(access->allow, access->n_allow) : json_array();
    json_t *deny = access ? s_json_strings(access->deny, access->n_deny) : json_array();
    if (!allow || !deny) {
        json_decref(allow);
        json_decref(deny);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "allow", allow, "deny", deny);
}

static json_t *s_json_manifest(const Cairn__Manifest *manifest) {
    json_t *tags = s_json_strings(manifest->tags, manifest->n_tags);
    json_t *access = s_json_access(manifest->access);
    if (!tags || !access) {
        json_decref(tags);
        json_decref(access);
        return NULL;
    }
    json_t *object = json_pack(
        "{s:s, s:I, s:f, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:f, s:f, s:o, s:s}", "content_type",
        manifest->content_type, "version_number", (json_int_t)manifest->version_number,
        "version_timestamp", manifest->version_timestamp, "visibility",
        cli_visibility_name(manifest->visibility), "tags", tags, "content_size",
        cli_json_u64(manifest->content_size), "mime_type", manifest->mime_type, "price",
        cli_json_u64(manifest->price), "total_queries", cli_json_u64(manifest->total_queries),
        "total_revenue", cli_json_u64(manifest->total_revenue), "created_at", manifest->created_at,
        "updated_at", manifest->updated_at, "access", access, "owner", manifest->owner);
    if (!object)
        return NULL;
    cli_json_set_hex(object, "hash", manifest->hash);
    cli_json_set_hex(object, "version_root", manifest->version_root);
    cli_json_set_hex(object, "version_previous", manifest->version_previous);
    cli_json_set_bytes(object, "title", cli_bytes(manifest->title));
    cli_json_set_bytes(object, "description", cli_bytes(manifest->description));
    return object;
}

//  One line per manifest under a header.
static void s_print_manifest_table(const Cairn__ManifestPage *page) {
    if (page->n_manifests == 0) {
        printf("(no manifests)\n");
        return;
    }
    printf("%-64s  %7s  %-10s  %-24s  %-20s  %s\n", "HASH", "VERSION", "VISIBILITY", "CREATED",
           "TYPE", "TITLE");
    for (size_t i = 0; i < page->n_manifests; i++) {
        const Cairn__Manifest *manifest = page->manifests[i];
        char created[CLI_TIME_TEXT];
        cli_format_time(manifest->created_at, created, sizeof created);
        cli_print_hex(manifest->hash);
        printf("  %7" PRIu32 "  %-10s  %-24s  ", manifest->version_number,
               cli_visibility_name(manifest->visibility), created);
        cli_print_inline(cli_bytes(manifest->content_type));
        printf("  ");
        cli_print_inline(cli_bytes(manifest->title[0] ? manifest->title : "-"));
        putchar('\n');
    }
}

//  {"manifests": [...], "more": B}; NULL when a text field is not UTF-8.
static json_t *s_json_manifest_page(const Cairn__ManifestPage *page) {
    json_t *manifests = json_array();
    for (size_t i = 0; i < page->n_manifests; i++)
        if (!cli_json_append(manifests, s_json_manifest(page->manifests[i]))) {
            json_decref(manifests);
            return NULL;
        }
    return json_pack("{s:o, s:b}", "manifests", manifests, "more", page->more);
}

//  ---- manifests: fields from options ----------------------------------------------------

//  The mutable fields given as options, into manifests->manifest (and access).
static const char *s_parse_fields(const cli_t *cli, manifests_storage_t *manifests) {
    Cairn__Manifest *manifest = &manifests->manifest;
    const char *text;
    const char *problem = NULL;
    if ((text = cli_option(cli, "type")))
        manifest->content_type = (char *)text;
    if ((text = cli_option(cli, "title")))
        manifest->title = (char *)text;
    if ((text = cli_option(cli, "description")))
        manifest->description = (char *)text;
    if ((text = cli_option(cli, "mime")))
        manifest->mime_type = (char *)text;
    if ((text = cli_option(cli, "owner")))
        manifest->owner = (char *)text;
    manifest->tags = s_list(cli, "tag", &manifest->n_tags);
    manifests->access.allow = s_list(cli, "allow", &manifests->access.n_allow);
    manifests->access.deny = s_list(cli, "deny", &manifests->access.n_deny);
    manifest->access = &manifests->access;
    if ((text = cli_option(cli, "visibility")))
        problem = s_parse_visibility(text, &manifest->visibility);
    if (!problem && (text = cli_option(cli, "size")))
        problem = cli_parse_u64(text, "--size", 0, UINT64_MAX, &manifest->content_size);
    if (!problem && (text = cli_option(cli, "price")))
        problem = cli_parse_u64(text, "--price", 0, UINT64_MAX, &manifest->price);
    return problem;
}

//  Prints (or reports as JSON) the manifest the node answered with.
static int s_report_manifest(const cli_t *cli, const Cairn__Manifest *manifest) {
    if (cli->json)
        return cli_report_ok(cli, s_json_manifest(manifest));
    s_print_manifest(manifest);
    return CLI_EXIT_OK;
}

//  ManifestGet of `hash`: 0 with the answer in *response_p (caller frees),
//  or the exit status of the reported error.
static int s_get_manifest(cli_conn_t *conn, const uint8_t *hash, Cairn__Response **response_p) {
    Cairn__ManifestGet get = CAIRN__MANIFEST_GET__INIT;
    Cairn__Request request = CAIRN__REQUEST__INIT;
    get.hash = cli_hash_bytes(hash);
    request.body_case = CAIRN__REQUEST__BODY_MANIFEST_GET;
    request.manifest_get = &get;
    return cli_request(conn, &request, response_p);
}

//  Sends `request` (a put or an update) and reports the manifest stored.
static int s_store_manifest(const cli_t *cli, cli_conn_t *conn, Cairn__Request *request) {
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__Manifest *stored = request->body_case == CAIRN__REQUEST__BODY_MANIFEST_PUT
                                        ? response->manifest_put
                                        : response->manifest_update;
    exit_code = stored
                    ? s_report_manifest(cli, stored)
                    : cli_report_error(cli, ca_status_str(CA_INTERNAL),
                                       "the node's answer holds no manifest", CLI_EXIT_NODE_ERROR);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- manifest put --------------------------------------------------------------------------

static const char *s_build_manifest_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    Cairn__Manifest *manifest = &manifests->manifest;
    cairn__manifest__init(manifest);
    cairn__access_control__init(&manifests->access);
    cairn__manifest_put__init(&manifests->body.put);
    manifests->body.put.manifest = manifest;
    request->body_case = CAIRN__REQUEST__BODY_MANIFEST_PUT;
    request->manifest_put = &manifests->body.put;
    manifest->hash = cli_hash_bytes(manifests->hash);
    manifest->version_number = 1;
    const char *version = cli_option(cli, "version-number"),
               *previous = cli_option(cli, "previous");
    const char *timestamp = cli_option(cli, "timestamp");
    const char *problem = cli_parse_hash(cli->args[0], "HASH", manifests->hash);
    if (!problem)
        problem = s_parse_fields(cli, manifests);
    if (!problem && version)
        problem =
            cli_parse_u32(version, "--version-number", 1, UINT32_MAX, &manifest->version_number);
    if (!problem && previous) {
        problem = cli_parse_hash(previous, "--previous", manifests->other);
        manifests->has_other = true;
        manifest->version_previous = cli_hash_bytes(manifests->other);
    }
    if (!problem && timestamp)
        problem = cli_parse_time(timestamp, "--timestamp", &manifest->version_timestamp);
    return problem;
}

//  With --previous: the version fields from the previous manifest.
static int s_run_manifest_put(const cli_t *cli, Cairn__Request *request, void *storage,
                              cli_conn_t *conn) {
    manifests_storage_t *manifests = storage;
    Cairn__Response *previous = NULL;
    if (manifests->has_other) {
        int exit_code = s_get_manifest(conn, manifests->other, &previous);
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
        const Cairn__Manifest *before = previous->manifest_get;
        if (!cli_option(cli, "version-number"))
            manifests->manifest.version_number = before->version_number + 1;
        manifests->manifest.version_root = before->version_root;
    }
    int exit_code = s_store_manifest(cli, conn, request);
    if (previous)
        cairn__response__free_unpacked(previous, NULL);
    return exit_code;
}

//  ---- manifest update -----------------------------------------------------------------------

static const char *s_build_manifest_update(const cli_t *cli, Cairn__Request *request,
                                           void *storage) {
    manifests_storage_t *manifests = storage;
    cairn__manifest__init(&manifests->manifest);
    cairn__access_control__init(&manifests->access);
    cairn__manifest_update__init(&manifests->body.update);
    request->body_case = CAIRN__REQUEST__BODY_MANIFEST_UPDATE;
    request->manifest_update = &manifests->body.update;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", manifests->hash);
    if (problem)
        return problem;
    bool any = false;
    for (int i = 0; i < CLI_MAX_OPTIONS && cli->command->options[i].name; i++)
        any = any || cli->options[i];
    if (!any)
        return "manifest update changes the fields given as options; give at least one";
    return s_parse_fields(cli, manifests);
}

//  The fields given as options copied over `current` (the manifest as
//  the node has it), into `merged`.
static void s_merge_fields(const cli_t *cli, const manifests_storage_t *given,
                           const Cairn__Manifest *current, Cairn__Manifest *merged,
                           Cairn__AccessControl *access) {
    const Cairn__Manifest *patch = &given->manifest;
    *merged = *current;
    cairn__access_control__init(access);
    if (current->access)
        *access = *current->access;
    merged->access = access;
    if (cli_option(cli, "type"))
        merged->content_type = patch->content_type;
    if (cli_option(cli, "title"))
        merged->title = patch->title;
    if (cli_option(cli, "description"))
        merged->description = patch->description;
    if (cli_option(cli, "mime"))
        merged->mime_type = patch->mime_type;
    if (cli_option(cli, "owner"))
        merged->owner = patch->owner;
    if (cli_option(cli, "visibility"))
        merged->visibility = patch->visibility;
    if (cli_option(cli, "size"))
        merged->content_size = patch->content_size;
    if (cli_option(cli, "price"))
        merged->price = patch->price;
    if (cli_option(cli, "tag")) {
        merged->tags = patch->tags;
        merged->n_tags = patch->n_tags;
    }
    if (cli_option(cli, "allow")) {
        access->allow = given->access.allow;
        access->n_allow = given->access.n_allow;
    }
    if (cli_option(cli, "deny")) {
        access->deny = given->access.deny;
        access->n_deny = given->access.n_deny;
    }
}

static int s_run_manifest_update(const cli_t *cli, Cairn__Request *request, void *storage,
                                 cli_conn_t *conn) {
    manifests_storage_t *manifests = storage;
    Cairn__Response *current = NULL;
    int exit_code = s_get_manifest(conn, manifests->hash, &current);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__Manifest merged;
    Cairn__AccessControl access;
    s_merge_fields(cli, manifests, current->manifest_get, &merged, &access);
    manifests->body.update.manifest = &merged;
    exit_code = s_store_manifest(cli, conn, request);
    cairn__response__free_unpacked(current, NULL);
    return exit_code;
}

//  ---- manifest get / rm / list / versions ----------------------------------------------------

static const char *s_build_manifest_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    ca_request_manifest_get(request, &manifests->body.get, 0, manifests->hash,
                            sizeof manifests->hash);
    return cli_parse_hash(cli->args[0], "HASH", manifests->hash);
}

static void s_print_manifest_get(const answer_t *answer) {
    s_print_manifest(answer->response->manifest_get);
}

static json_t *s_json_manifest_get(const answer_t *answer) {
    return s_json_manifest(answer->response->manifest_get);
}

static const char *s_build_manifest_rm(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    ca_request_manifest_delete(request, &manifests->body.del, 0, manifests->hash,
                               sizeof manifests->hash);
    return cli_parse_hash(cli->args[0], "HASH", manifests->hash);
}

static void s_print_manifest_rm(const answer_t *answer) {
    const manifests_storage_t *manifests = answer->storage;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(manifests->hash, hex);
    if (answer->response->manifest_delete->removed)
        printf("removed %s\n", hex);
    else
        printf("no manifest for %s\n", hex);
}

static json_t *s_json_manifest_rm(const answer_t *answer) {
    const manifests_storage_t *manifests = answer->storage;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(manifests->hash, hex);
    return json_pack("{s:s, s:b}", "hash", hex, "removed",
                     answer->response->manifest_delete->removed);
}

static const char *s_build_manifest_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    Cairn__ManifestList *list = &manifests->body.list;
    cairn__manifest_list__init(list);
    request->body_case = CAIRN__REQUEST__BODY_MANIFEST_LIST;
    request->manifest_list = list;
    const char *visibility = cli_option(cli, "visibility"), *type = cli_option(cli, "type");
    const char *after = cli_option(cli, "after"), *before = cli_option(cli, "before");
    const char *limit = cli_option(cli, "limit"), *offset = cli_option(cli, "offset");
    const char *problem = NULL;
    if (type)
        list->content_type = (char *)type;
    if (visibility) {
        list->by_visibility = true;
        problem = s_parse_visibility(visibility, &list->visibility);
    }
    if (!problem && after)
        problem = cli_parse_time(after, "--after", &list->created_after);
    if (!problem && before)
        problem = cli_parse_time(before, "--before", &list->created_before);
    if (!problem && limit)
        problem = cli_parse_u32(limit, "--limit", 1, UINT32_MAX, &list->limit);
    if (!problem && offset)
        problem = cli_parse_u32(offset, "--offset", 0, UINT32_MAX, &list->offset);
    return problem;
}

static void s_print_manifest_list(const answer_t *answer) {
    const manifests_storage_t *manifests = answer->storage;
    const Cairn__ManifestPage *page = answer->response->manifest_list;
    s_print_manifest_table(page);
    if (page->more)
        printf("(more: --offset %" PRIu64 ")\n",
               (uint64_t)manifests->body.list.offset + page->n_manifests);
}

static json_t *s_json_manifest_list(const answer_t *answer) {
    const manifests_storage_t *manifests = answer->storage;
    const Cairn__ManifestPage *page = answer->response->manifest_list;
    json_t *object = s_json_manifest_page(page);
    if (object && page->more)
        json_object_set_new(
            object, "next_offset",
            json_integer((json_int_t)manifests->body.list.offset + (json_int_t)page->n_manifests));
    return object;
}

static const char *s_build_manifest_versions(const cli_t *cli, Cairn__Request *request,
                                             void *storage) {
    manifests_storage_t *manifests = storage;
    const char *limit_text = cli_option(cli, "limit"), *after_text = cli_option(cli, "after");
    uint32_t limit = 0;
    uint64_t after = 0;
    const char *problem = cli_parse_hash(cli->args[0], "ROOT", manifests->hash);
    if (!problem && limit_text)
        problem = cli_parse_u32(limit_text, "--limit", 1, UINT32_MAX, &limit);
    if (!problem && after_text)
        problem = cli_parse_u64(after_text, "--after", 0, UINT64_MAX, &after);
    ca_request_manifest_versions(request, &manifests->body.versions, 0, manifests->hash,
                                 sizeof manifests->hash, limit, after);
    return problem;
}

//  The version number the next page starts after; only of a page with more.
static uint32_t s_versions_next(const Cairn__ManifestPage *page) {
    return page->n_manifests ? page->manifests[page->n_manifests - 1]->version_number : 0;
}

static void s_print_manifest_versions(const answer_t *answer) {
    const Cairn__ManifestPage *page = answer->response->manifest_versions;
    s_print_manifest_table(page);
    if (page->more)
        printf("(more: --after %" PRIu32 ")\n", s_versions_next(page));
}

static json_t *s_json_manifest_versions(const answer_t *answer) {
    const Cairn__ManifestPage *page = answer->response->manifest_versions;
    json_t *object = s_json_manifest_page(page);
    if (object && page->more)
        json_object_set_new(object, "next_after", json_integer(s_versions_next(page)));
    return object;
}

//  ---- summary put / get ---------------------------------------------------------------------

static const char *s_build_summary_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    Cairn__Summary *summary = &manifests->summary;
    cairn__summary__init(summary);
    cairn__summary_put__init(&manifests->body.summary_put);
    manifests->body.summary_put.summary = summary;
    request->body_case = CAIRN__REQUEST__BODY_SUMMARY_PUT;
    request->summary_put = &manifests->body.summary_put;
    summary->l0_hash = cli_hash_bytes(manifests->hash);
    summary->preview_mentions = s_list(cli, "preview", &summary->n_preview_mentions);
    summary->primary_topics = s_list(cli, "topic", &summary->n_primary_topics);
    const char *mentions = cli_option(cli, "mentions"), *text = cli_option(cli, "text");
    const char *text_file = cli_option(cli, "text-file");
    const char *problem = cli_parse_hash(cli->args[0], "HASH", manifests->hash);
    if (!problem && text && text_file)
        return "give --text or --text-file, not both";
    if (!problem && mentions)
        problem = cli_parse_u64(mentions, "--mentions", 0, UINT64_MAX, &summary->mention_count);
    if (text)
        summary->summary_text = (char *)text;
    if (!problem && text_file) {
        size_t length = 0;
        problem = cli_read_file(text_file, "summary text file", (uint8_t *)manifests->text,
                                SUMMARY_TEXT_ROOM, &length);
        if (!problem && memchr(manifests->text, '\0', length))
            problem = cli_problem("summary text file '%s' holds a NUL byte; the text is UTF-8 "
                                  "without NULs",
                                  text_file);
        manifests->text[problem ? 0 : length] = '\0';
        summary->summary_text = manifests->text;
    }
    return problem;
}

static void s_print_summary(const Cairn__Summary *summary) {
    printf("summary ");
    cli_print_hex(summary->l0_hash);
    printf("\n  %-*s %" PRIu64 "\n", LABEL_WIDTH, "mentions", summary->mention_count);
    s_print_field_list("topics", summary->primary_topics, summary->n_primary_topics);
    printf("  %-*s %zu\n", LABEL_WIDTH, "previews", summary->n_preview_mentions);
    for (size_t i = 0; i < summary->n_preview_mentions; i++) {
        printf("    - ");
        cli_print_inline(cli_bytes(summary->preview_mentions[i]));
        putchar('\n');
    }
    s_print_field_text("text", summary->summary_text);
}

static json_t *s_json_summary(const Cairn__Summary *summary) {
    json_t *previews = s_json_strings(summary->preview_mentions, summary->n_preview_mentions);
    json_t *topics = s_json_strings(summary->primary_topics, summary->n_primary_topics);
    if (!previews || !topics) {
        json_decref(previews);
        json_decref(topics);
        return NULL;
    }
    json_t *object =
        json_pack("{s:o, s:o, s:o}", "mention_count", cli_json_u64(summary->mention_count),
                  "preview_mentions", previews, "primary_topics", topics);
    if (object) {
        cli_json_set_hex(object, "l0_hash", summary->l0_hash);
        cli_json_set_bytes(object, "summary_text", cli_bytes(summary->summary_text));
    }
    return object;
}

static void s_print_summary_put(const answer_t *answer) {
    s_print_summary(answer->response->summary_put);
}

static json_t *s_json_summary_put(const answer_t *answer) {
    return s_json_summary(answer->response->summary_put);
}

static const char *s_build_summary_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    manifests_storage_t *manifests = storage;
    ca_request_summary_get(request, &manifests->body.summary_get, 0, manifests->hash,
                           sizeof manifests->hash);
    return cli_parse_hash(cli->args[0], "HASH", manifests->hash);
}

static void s_print_summary_get(const answer_t *answer) {
    s_print_summary(answer->response->summary_get);
}

static json_t *s_json_summary_get(const answer_t *answer) {
    return s_json_summary(answer->response->summary_get);
}

//  ---- help texts -------------------------------------------------------------------------------

static const char s_manifest_put_details[] =
    "Stores the manifest of content HASH (CONFLICT when it has one: use manifest\n"
    "update). A first version by default. --previous P makes a later version of\n"
    "P: the client reads P's manifest and sends version number P+1 (or\n"
    "--version-number N) with P's version root; the node checks the version rules.\n"
    "Lists take one value per option: --tag a --tag b; --allow and --deny take\n"
    "peer ids (deny wins; an empty allow list allows every peer not denied).\n"
    "--visibility is private (default), unlisted or shared; --price is in the\n"
    "smallest unit of the node's currency; --timestamp is the version's time (unix\n"
    "seconds; default now). Prints the manifest as stored.\n";

static const char s_manifest_update_details[] =
    "Changes only the fields given; the others keep their values (the client reads\n"
    "the manifest, changes the fields and sends all of it back: two updates of the\n"
    "same manifest at once may lose one's changes). A list option replaces the whole\n"
    "list; one empty value clears it (--tag ''). The hash, the version fields and\n"
    "created_at never change. Prints the manifest as stored.\n";

static const char s_manifest_list_details[] =
    "Newest first (by created_at, then hash). Filters combine: --visibility,\n"
    "--type (exact content type), --after T and --before T (created_at, unix\n"
    "seconds). --limit defaults to the node's (100; at most 1000); a full page\n"
    "ends with \"(more: --offset N)\" (JSON: \"next_offset\").\n";

static const char s_manifest_versions_details[] =
    "A page holds up to --limit versions (default 100, at most 1000) numbered above\n"
    "--after VERSION (default 0: from version 1); a full page ends with\n"
    "\"(more: --after VERSION)\" (JSON: \"more\" and \"next_after\") to ask for the\n"
    "next one. A ROOT without a version 1 is an error on any page.\n";

static const char s_summary_put_details[] =
    "Stores the L1 summary of L0 content HASH, replacing one it has. --preview and\n"
    "--topic are repeatable; the text comes from --text or --text-file (UTF-8).\n";

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"manifest",
     "put",
     1,
     "HASH",
     "store the manifest of content HASH; print it",
     {{"type", "T", true},
      {"title", "TEXT", false},
      {"description", "TEXT", false},
      {"tag", "TAG...", false},
      {"visibility", "V", false},
      {"version-number", "N", false},
      {"previous", "HASH", false},
      {"timestamp", "T", false},
      {"size", "N", false},
      {"mime", "M", false},
      {"price", "N", false},
      {"owner", "PEER", false},
      {"allow", "PEER...", false},
      {"deny", "PEER...", false}},
     s_build_manifest_put,
     NULL,
     NULL,
     s_manifest_put_details,
     s_run_manifest_put,
     {CAIRN__REQUEST__BODY_MANIFEST_GET, CAIRN__REQUEST__BODY_MANIFEST_PUT}},
    {"manifest",
     "get",
     1,
     "HASH",
     "print the manifest of content HASH",
     {{NULL, NULL, false}},
     s_build_manifest_get,
     s_print_manifest_get,
     s_json_manifest_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MANIFEST_GET}},
    {"manifest",
     "update",
     1,
     "HASH",
     "change the fields given of HASH's manifest; print it",
     {{"type", "T", false},
      {"title", "TEXT", false},
      {"description", "TEXT", false},
      {"tag", "TAG...", false},
      {"visibility", "V", false},
      {"size", "N", false},
      {"mime", "M", false},
      {"price", "N", false},
      {"owner", "PEER", false},
      {"allow", "PEER...", false},
      {"deny", "PEER...", false}},
     s_build_manifest_update,
     NULL,
     NULL,
     s_manifest_update_details,
     s_run_manifest_update,
     {CAIRN__REQUEST__BODY_MANIFEST_GET, CAIRN__REQUEST__BODY_MANIFEST_UPDATE}},
    {"manifest",
     "rm",
     1,
     "HASH",
     "delete the manifest of content HASH",
     {{NULL, NULL, false}},
     s_build_manifest_rm,
     s_print_manifest_rm,
     s_json_manifest_rm,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_MANIFEST_DELETE}},
    {"manifest",
     "list",
     0,
     "",
     "manifests, newest first, one per line",
     {{"visibility", "V", false},
      {"type", "T", false},
      {"after", "T", false},
      {"before", "T", false},
      {"limit", "N", false},
      {"offset", "N", false}},
     s_build_manifest_list,
     s_print_manifest_list,
     s_json_manifest_list,
     s_manifest_list_details,
     NULL,
     {CAIRN__REQUEST__BODY_MANIFEST_LIST}},
    {"manifest",
     "versions",
     1,
     "ROOT",
     "versions of version root ROOT, in order, a page at a time",
     {{"limit", "N", false}, {"after", "VERSION", false}},
     s_build_manifest_versions,
     s_print_manifest_versions,
     s_json_manifest_versions,
     s_manifest_versions_details,
     NULL,
     {CAIRN__REQUEST__BODY_MANIFEST_VERSIONS}},
    {"summary",
     "put",
     1,
     "HASH",
     "store the L1 summary of L0 content HASH",
     {{"mentions", "N", false},
      {"preview", "TEXT...", false},
      {"topic", "TOPIC...", false},
      {"text", "TEXT", false},
      {"text-file", "FILE", false}},
     s_build_summary_put,
     s_print_summary_put,
     s_json_summary_put,
     s_summary_put_details,
     NULL,
     {CAIRN__REQUEST__BODY_SUMMARY_PUT}},
    {"summary",
     "get",
     1,
     "HASH",
     "print the L1 summary of L0 content HASH",
     {{NULL, NULL, false}},
     s_build_summary_get,
     s_print_summary_get,
     s_json_summary_get,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_SUMMARY_GET}},
};

CLI_FAMILY(manifests, s_rows, manifests_storage_t);

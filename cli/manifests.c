/*  =========================================================================
    cairn_prov - the `cairn` client's manifest, summary and provenance
    commands

    Rows of the shared command table (cairn_cli.h). The one-request rows
    are sent and printed by cairn.c; the rows with a run function drive
    their own requests (cli_request) because they read before they write
    or because their answer sets the exit status:

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
        prov add           ProvAdd                        edges added, roots
        prov roots         ProvRoots                      hash, weight, owner,
                                                          visibility per root
        prov derivations   ProvDerivations                one hash per line
        prov ancestor      ProvAncestor                   yes / no; exit 0 / 4

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
    integers; a count above 2^63-1 (a saturated root weight is 2^64-1) is a
    string of digits, since JSON integers here are signed 64-bit.
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

//  ---- values in arguments --------------------------------------------------------------

static const char *const s_visibility_names[] = {"private", "unlisted", "shared"};
#define VISIBILITY_COUNT (sizeof s_visibility_names / sizeof s_visibility_names[0])

static const char *s_visibility_name(Cairn__Visibility visibility) {
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

//  Points `bytes` at a hash.
static ProtobufCBinaryData s_hash_bytes(const uint8_t *hash) {
    return (ProtobufCBinaryData){CA_HASH_BYTES, (uint8_t *)hash};
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

//  A count as a JSON integer, or as a string of digits above 2^63-1.
static json_t *s_json_u64(uint64_t value) {
    if (value <= INT64_MAX)
        return json_integer((json_int_t)value);
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, value);
    return json_string(digits);
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

//  Hex of a hash argument, for JSON and messages.
static void s_hex(const uint8_t *hash, char hex[CLI_HASH_HEX]) {
    ca_hash_to_hex(hash, hex);
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
    printf("  %-*s %s\n", LABEL_WIDTH, "visibility", s_visibility_name(manifest->visibility));
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
        s_visibility_name(manifest->visibility), "tags", tags, "content_size",
        s_json_u64(manifest->content_size), "mime_type", manifest->mime_type, "price",
        s_json_u64(manifest->price), "total_queries", s_json_u64(manifest->total_queries),
        "total_revenue", s_json_u64(manifest->total_revenue), "created_at", manifest->created_at,
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
               s_visibility_name(manifest->visibility), created);
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

//  The mutable fields given as options, into prov->manifest (and access).
static const char *s_parse_fields(const cli_t *cli, cli_prov_t *prov) {
    Cairn__Manifest *manifest = &prov->manifest;
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
    prov->access.allow = s_list(cli, "allow", &prov->access.n_allow);
    prov->access.deny = s_list(cli, "deny", &prov->access.n_deny);
    manifest->access = &prov->access;
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
    get.hash = s_hash_bytes(hash);
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

static const char *s_build_manifest_put(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    Cairn__Manifest *manifest = &prov->manifest;
    cairn__manifest__init(manifest);
    cairn__access_control__init(&prov->access);
    cairn__manifest_put__init(&prov->body.put);
    prov->body.put.manifest = manifest;
    request->request.body_case = CAIRN__REQUEST__BODY_MANIFEST_PUT;
    request->request.manifest_put = &prov->body.put;
    manifest->hash = s_hash_bytes(prov->hash);
    manifest->version_number = 1;
    const char *version = cli_option(cli, "version-number"),
               *previous = cli_option(cli, "previous");
    const char *timestamp = cli_option(cli, "timestamp");
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem = s_parse_fields(cli, prov);
    if (!problem && version)
        problem =
            cli_parse_u32(version, "--version-number", 1, UINT32_MAX, &manifest->version_number);
    if (!problem && previous) {
        problem = cli_parse_hash(previous, "--previous", prov->other);
        prov->has_other = true;
        manifest->version_previous = s_hash_bytes(prov->other);
    }
    if (!problem && timestamp)
        problem = cli_parse_time(timestamp, "--timestamp", &manifest->version_timestamp);
    return problem;
}

//  With --previous: the version fields from the previous manifest.
static int s_run_manifest_put(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    cli_prov_t *prov = &request->body.prov;
    Cairn__Response *previous = NULL;
    if (prov->has_other) {
        int exit_code = s_get_manifest(conn, prov->other, &previous);
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
        const Cairn__Manifest *before = previous->manifest_get;
        if (!cli_option(cli, "version-number"))
            prov->manifest.version_number = before->version_number + 1;
        prov->manifest.version_root = before->version_root;
    }
    int exit_code = s_store_manifest(cli, conn, &request->request);
    if (previous)
        cairn__response__free_unpacked(previous, NULL);
    return exit_code;
}

//  ---- manifest update -----------------------------------------------------------------------

static const char *s_build_manifest_update(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    cairn__manifest__init(&prov->manifest);
    cairn__access_control__init(&prov->access);
    cairn__manifest_update__init(&prov->body.update);
    request->request.body_case = CAIRN__REQUEST__BODY_MANIFEST_UPDATE;
    request->request.manifest_update = &prov->body.update;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (problem)
        return problem;
    bool any = false;
    for (int i = 0; i < CLI_MAX_OPTIONS && cli->command->options[i].name; i++)
        any = any || cli->options[i];
    if (!any)
        return "manifest update changes the fields given as options; give at least one";
    return s_parse_fields(cli, prov);
}

//  The fields given as options copied over `current` (the manifest as
//  the node has it), into `merged`.
static void s_merge_fields(const cli_t *cli, const cli_prov_t *given,
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

static int s_run_manifest_update(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    cli_prov_t *prov = &request->body.prov;
    Cairn__Response *current = NULL;
    int exit_code = s_get_manifest(conn, prov->hash, &current);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__Manifest merged;
    Cairn__AccessControl access;
    s_merge_fields(cli, prov, current->manifest_get, &merged, &access);
    prov->body.update.manifest = &merged;
    exit_code = s_store_manifest(cli, conn, &request->request);
    cairn__response__free_unpacked(current, NULL);
    return exit_code;
}

//  ---- manifest get / rm / list / versions ----------------------------------------------------

static const char *s_build_manifest_get(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    ca_request_manifest_get(&request->request, &prov->body.get, 0, prov->hash, sizeof prov->hash);
    return cli_parse_hash(cli->args[0], "HASH", prov->hash);
}

static void s_print_manifest_get(const answer_t *answer) {
    s_print_manifest(answer->response->manifest_get);
}

static json_t *s_json_manifest_get(const answer_t *answer) {
    return s_json_manifest(answer->response->manifest_get);
}

static const char *s_build_manifest_rm(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    ca_request_manifest_delete(&request->request, &prov->body.del, 0, prov->hash,
                               sizeof prov->hash);
    return cli_parse_hash(cli->args[0], "HASH", prov->hash);
}

static void s_print_manifest_rm(const answer_t *answer) {
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    if (answer->response->manifest_delete->removed)
        printf("removed %s\n", hex);
    else
        printf("no manifest for %s\n", hex);
}

static json_t *s_json_manifest_rm(const answer_t *answer) {
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    return json_pack("{s:s, s:b}", "hash", hex, "removed",
                     answer->response->manifest_delete->removed);
}

static const char *s_build_manifest_list(const cli_t *cli, request_t *request) {
    Cairn__ManifestList *list = &request->body.prov.body.list;
    cairn__manifest_list__init(list);
    request->request.body_case = CAIRN__REQUEST__BODY_MANIFEST_LIST;
    request->request.manifest_list = list;
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
    const Cairn__ManifestPage *page = answer->response->manifest_list;
    s_print_manifest_table(page);
    if (page->more)
        printf("(more: --offset %" PRIu64 ")\n",
               (uint64_t)answer->request->body.prov.body.list.offset + page->n_manifests);
}

static json_t *s_json_manifest_list(const answer_t *answer) {
    const Cairn__ManifestPage *page = answer->response->manifest_list;
    json_t *object = s_json_manifest_page(page);
    if (object && page->more)
        json_object_set_new(object, "next_offset",
                            json_integer((json_int_t)answer->request->body.prov.body.list.offset +
                                         (json_int_t)page->n_manifests));
    return object;
}

static const char *s_build_manifest_versions(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    const char *limit_text = cli_option(cli, "limit"), *after_text = cli_option(cli, "after");
    uint32_t limit = 0;
    uint64_t after = 0;
    const char *problem = cli_parse_hash(cli->args[0], "ROOT", prov->hash);
    if (!problem && limit_text)
        problem = cli_parse_u32(limit_text, "--limit", 1, UINT32_MAX, &limit);
    if (!problem && after_text)
        problem = cli_parse_u64(after_text, "--after", 0, UINT64_MAX, &after);
    ca_request_manifest_versions(&request->request, &prov->body.versions, 0, prov->hash,
                                 sizeof prov->hash, limit, after);
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

static const char *s_build_summary_put(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    Cairn__Summary *summary = &prov->summary;
    cairn__summary__init(summary);
    cairn__summary_put__init(&prov->body.summary_put);
    prov->body.summary_put.summary = summary;
    request->request.body_case = CAIRN__REQUEST__BODY_SUMMARY_PUT;
    request->request.summary_put = &prov->body.summary_put;
    summary->l0_hash = s_hash_bytes(prov->hash);
    summary->preview_mentions = s_list(cli, "preview", &summary->n_preview_mentions);
    summary->primary_topics = s_list(cli, "topic", &summary->n_primary_topics);
    const char *mentions = cli_option(cli, "mentions"), *text = cli_option(cli, "text");
    const char *text_file = cli_option(cli, "text-file");
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem && text && text_file)
        return "give --text or --text-file, not both";
    if (!problem && mentions)
        problem = cli_parse_u64(mentions, "--mentions", 0, UINT64_MAX, &summary->mention_count);
    if (text)
        summary->summary_text = (char *)text;
    if (!problem && text_file) {
        size_t length = 0;
        problem = cli_read_file(text_file, "summary text file", (uint8_t *)prov->text,
                                CLI_SUMMARY_TEXT_ROOM, &length);
        if (!problem && memchr(prov->text, '\0', length))
            problem = cli_problem("summary text file '%s' holds a NUL byte; the text is UTF-8 "
                                  "without NULs",
                                  text_file);
        prov->text[problem ? 0 : length] = '\0';
        summary->summary_text = prov->text;
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
        json_pack("{s:o, s:o, s:o}", "mention_count", s_json_u64(summary->mention_count),
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

static const char *s_build_summary_get(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    ca_request_summary_get(&request->request, &prov->body.summary_get, 0, prov->hash,
                           sizeof prov->hash);
    return cli_parse_hash(cli->args[0], "HASH", prov->hash);
}

static void s_print_summary_get(const answer_t *answer) {
    s_print_summary(answer->response->summary_get);
}

static json_t *s_json_summary_get(const answer_t *answer) {
    return s_json_summary(answer->response->summary_get);
}

//  ---- prov add ------------------------------------------------------------------------------

static const char *s_build_prov_add(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    size_t count = (size_t)cli->arg_total - 1;
    if (count > CLI_PROV_SOURCES_ROOM)
        return cli_problem("prov add takes at most %d SOURCE hashes here (the node takes %d), "
                           "not %zu",
                           CLI_PROV_SOURCES_ROOM, CA_PROV_SOURCES_MAX, count);
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    for (size_t i = 0; i < count && !problem; i++) {
        problem = cli_parse_hash(cli->args[1 + i], "SOURCE", prov->source_hashes[i]);
        prov->sources[i] = s_hash_bytes(prov->source_hashes[i]);
    }
    ca_request_prov_add(&request->request, &prov->body.add, 0, prov->hash, CA_HASH_BYTES,
                        prov->sources, count);
    return problem;
}

static void s_print_prov_add(const answer_t *answer) {
    const Cairn__ProvAdded *added = answer->response->prov_add;
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    printf("added %" PRIu64 " edge%s; %s has %" PRIu64 " root%s\n", added->edges_added,
           added->edges_added == 1 ? "" : "s", hex, added->roots, added->roots == 1 ? "" : "s");
}

static json_t *s_json_prov_add(const answer_t *answer) {
    const Cairn__ProvAdded *added = answer->response->prov_add;
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    return json_pack("{s:s, s:o, s:o}", "hash", hex, "edges_added", s_json_u64(added->edges_added),
                     "roots", s_json_u64(added->roots));
}

//  ---- prov roots / derivations -------------------------------------------------------------

//  --limit N, within the node's range.
static const char *s_parse_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    return text ? cli_parse_u32(text, "--limit", 1, CA_PROV_LIST_MAX, limit) : NULL;
}

static const char *s_build_prov_roots(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    uint32_t limit = 0;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem = s_parse_limit(cli, &limit);
    ca_request_prov_roots(&request->request, &prov->body.roots, 0, prov->hash, CA_HASH_BYTES,
                          limit);
    return problem;
}

static void s_print_prov_roots(const answer_t *answer) {
    const Cairn__ProvRootsReply *reply = answer->response->prov_roots;
    printf("%-64s  %20s  %-10s  %s\n", "ROOT", "WEIGHT", "VISIBILITY", "OWNER");
    for (size_t i = 0; i < reply->n_roots; i++) {
        const Cairn__ProvRoot *root = reply->roots[i];
        cli_print_hex(root->hash);
        printf("  %20" PRIu64 "  %-10s  ", root->weight,
               root->has_manifest ? s_visibility_name(root->visibility) : "-");
        cli_print_inline(cli_bytes(root->has_manifest && root->owner[0] ? root->owner : "-"));
        putchar('\n');
    }
    if (reply->more)
        printf("(more: raise --limit, at most %d)\n", CA_PROV_LIST_MAX);
}

static json_t *s_json_prov_root(const Cairn__ProvRoot *root) {
    json_t *object = json_pack("{s:o, s:b, s:b}", "weight", s_json_u64(root->weight), "saturated",
                               root->weight == UINT64_MAX, "has_manifest", root->has_manifest);
    if (!object)
        return NULL;
    cli_json_set_hex(object, "hash", root->hash);
    if (root->has_manifest) {
        cli_json_set_bytes(object, "owner", cli_bytes(root->owner));
        json_object_set_new(object, "visibility", json_string(s_visibility_name(root->visibility)));
    } else {
        json_object_set_new(object, "owner", json_null());
        json_object_set_new(object, "visibility", json_null());
    }
    return object;
}

static json_t *s_json_prov_roots(const answer_t *answer) {
    const Cairn__ProvRootsReply *reply = answer->response->prov_roots;
    json_t *roots = json_array();
    for (size_t i = 0; i < reply->n_roots; i++)
        if (!cli_json_append(roots, s_json_prov_root(reply->roots[i]))) {
            json_decref(roots);
            return NULL;
        }
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    return json_pack("{s:s, s:o, s:b}", "hash", hex, "roots", roots, "more", reply->more);
}

static const char *s_build_prov_derivations(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    uint32_t limit = 0;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem = s_parse_limit(cli, &limit);
    bool transitive = cli_option(cli, "transitive") != NULL;
    ca_request_prov_derivations(&request->request, &prov->body.derivations, 0, prov->hash,
                                CA_HASH_BYTES, transitive, limit);
    const char *after = cli_option(cli, "after");
    if (!problem && after && transitive)
        problem = cli_problem("--after pages direct derivations; a --transitive walk has no "
                              "cursor (raise --limit instead)");
    if (!problem && after) {
        problem = cli_parse_hash(after, "--after", prov->other);
        ca_request_prov_derivations_after(&prov->body.derivations, prov->other, CA_HASH_BYTES);
    }
    return problem;
}

static void s_print_prov_derivations(const answer_t *answer) {
    const Cairn__ProvDerivationsReply *reply = answer->response->prov_derivations;
    if (reply->n_hashes == 0)
        printf("(no derivations)\n");
    for (size_t i = 0; i < reply->n_hashes; i++) {
        cli_print_hex(reply->hashes[i]);
        putchar('\n');
    }
    if (reply->more && answer->request->body.prov.body.derivations.transitive)
        printf("(more: raise --limit, at most %d)\n", CA_PROV_LIST_MAX);
    else if (reply->more) {
        printf("(more: --after ");
        cli_print_hex(reply->hashes[reply->n_hashes - 1]);
        printf(")\n");
    }
}

static json_t *s_json_prov_derivations(const answer_t *answer) {
    const Cairn__ProvDerivationsReply *reply = answer->response->prov_derivations;
    json_t *hashes = json_array();
    for (size_t i = 0; i < reply->n_hashes; i++) {
        char hex[CLI_HASH_HEX] = "";
        if (reply->hashes[i].len == CA_HASH_BYTES)
            s_hex(reply->hashes[i].data, hex);
        json_array_append_new(hashes, json_string(hex));
    }
    char hex[CLI_HASH_HEX];
    s_hex(answer->request->body.prov.hash, hex);
    bool transitive = answer->request->body.prov.body.derivations.transitive;
    json_t *object = json_pack("{s:s, s:b, s:o, s:b}", "hash", hex, "transitive", transitive,
                               "derivations", hashes, "more", reply->more);
    if (object && reply->more && !transitive)
        cli_json_set_hex(object, "next_after", reply->hashes[reply->n_hashes - 1]);
    return object;
}

//  ---- prov ancestor ---------------------------------------------------------------------------

static const char *s_build_prov_ancestor(const cli_t *cli, request_t *request) {
    cli_prov_t *prov = &request->body.prov;
    const char *problem = cli_parse_hash(cli->args[0], "A", prov->hash);
    if (!problem)
        problem = cli_parse_hash(cli->args[1], "B", prov->other);
    ca_request_prov_ancestor(&request->request, &prov->body.ancestor, 0, prov->hash, CA_HASH_BYTES,
                             prov->other, CA_HASH_BYTES);
    return problem;
}

//  The answer sets the exit status: 0 yes, CLI_EXIT_NO no.
static int s_run_prov_ancestor(const cli_t *cli, request_t *request, cli_conn_t *conn) {
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, &request->request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ProvAncestorReply *reply = response->prov_ancestor;
    char a[CLI_HASH_HEX], b[CLI_HASH_HEX];
    s_hex(request->body.prov.hash, a);
    s_hex(request->body.prov.other, b);
    if (cli->json)
        exit_code =
            cli_report_ok(cli, json_pack("{s:s, s:s, s:b, s:b}", "ancestor", a, "descendant", b,
                                         "is_ancestor", reply->is_ancestor, "same", reply->same));
    else if (reply->is_ancestor)
        printf("yes: %s is an ancestor of %s\n", a, b);
    else if (reply->same)
        printf("no: the same content (content is not its own ancestor)\n");
    else
        printf("no: %s is not an ancestor of %s\n", a, b);
    if (exit_code == CLI_EXIT_OK && !reply->is_ancestor)
        exit_code = CLI_EXIT_NO;
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
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

static const char s_prov_add_details[] =
    "Records that HASH was derived from the SOURCE hashes (at most 1000; none:\n"
    "original content). Unknown sources become original content. The node refuses\n"
    "a self-edge or a cycle (invalid) and new sources for content that already has\n"
    "derivations (conflict: its descendants' roots would change); nothing of a\n"
    "refused add is kept. Prints the edges added and HASH's number of roots.\n";

static const char s_prov_roots_details[] =
    "The original sources behind HASH (content with no sources of its own), from\n"
    "the node's root cache, by hash: each with its weight (the number of distinct\n"
    "derivation paths that reach it; 18446744073709551615 when saturated) and the\n"
    "visibility and owner from its manifest (\"-\" without one). Original content\n"
    "is its own root, weight 1. --limit defaults to 1000 (at most 100000). JSON:\n"
    "a weight above 2^63-1 is a string of digits; \"saturated\" marks 2^64-1.\n";

static const char s_prov_derivations_details[] =
    "Content derived from HASH, one hash per line: directly (by hash), or with\n"
    "--transitive every descendant, breadth first. --limit defaults to 1000 (at most\n"
    "100000). A full page of direct derivations ends with \"(more: --after HASH)\"\n"
    "(JSON: \"more\" and \"next_after\") to ask for the next one; a transitive walk\n"
    "has no cursor.\n";

static const char s_prov_ancestor_details[] =
    "Whether A is a source of B, directly or through other content. Exit status 0\n"
    "when it is (\"yes\"), 4 when it is not (\"no\"; content is not its own\n"
    "ancestor), and as for every command 1, 2 or 3 on an error, so that a script\n"
    "can write: if cairn prov ancestor A B; then ...\n";

//  ---- the table
//  ----------------------------------------------------------------------------------

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
     s_run_manifest_put},
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
     NULL},
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
     s_run_manifest_update},
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
     NULL},
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
     NULL},
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
     NULL},
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
     NULL},
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
     NULL},
    {"prov",
     "add",
     1,
     "HASH [SOURCE...]",
     "record that HASH was derived from the SOURCEs",
     {{NULL, NULL, false}},
     s_build_prov_add,
     s_print_prov_add,
     s_json_prov_add,
     s_prov_add_details,
     NULL},
    {"prov",
     "roots",
     1,
     "HASH",
     "the original sources behind HASH, with weights",
     {{"limit", "N", false}},
     s_build_prov_roots,
     s_print_prov_roots,
     s_json_prov_roots,
     s_prov_roots_details,
     NULL},
    {"prov",
     "derivations",
     1,
     "HASH",
     "content derived from HASH (--transitive: all)",
     {{"transitive", NULL, false}, {"limit", "N", false}, {"after", "HASH", false}},
     s_build_prov_derivations,
     s_print_prov_derivations,
     s_json_prov_derivations,
     s_prov_derivations_details,
     NULL},
    {"prov",
     "ancestor",
     2,
     "A B",
     "whether A is an ancestor of B (exit 0 yes, 4 no)",
     {{NULL, NULL, false}},
     s_build_prov_ancestor,
     NULL,
     NULL,
     s_prov_ancestor_details,
     s_run_prov_ancestor},
};

const command_table_t cairn_prov_commands = {s_rows, sizeof s_rows / sizeof s_rows[0]};

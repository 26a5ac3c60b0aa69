/*  =========================================================================
    provenance - the `cairn` client's provenance commands

    Rows of the shared command table (cli.h). The one-request rows are
    sent and printed by cairn.c; `prov ancestor` drives its request itself
    (cli_request) because its answer sets the exit status:

        command            request           printed
        -----------------  ----------------  ---------------------------------
        prov add           ProvAdd           edges added, roots
        prov roots         ProvRoots         hash, weight, owner, visibility
                                             per root
        prov derivations   ProvDerivations   one hash per line
        prov ancestor      ProvAncestor      yes / no; exit 0 / 4

    Roots show the visibility and owner from their manifests (the names of
    manifests.c). JSON: hashes as hex, counts as integers; a count above
    2^63-1 (a saturated root weight is 2^64-1) is a string of digits, since
    JSON integers here are signed 64-bit.
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

//  ---- the family's storage ---------------------------------------------------------

//  SOURCE arguments of `prov add`: twice the node's limit, so that its own
//  check can be exercised.
#define PROV_SOURCES_ROOM (2 * CA_PROV_SOURCES_MAX)

//  The body of the request and what it points at.
typedef struct {
    union {
        Cairn__ProvAdd add;
        Cairn__ProvRoots roots;
        Cairn__ProvDerivations derivations;
        Cairn__ProvAncestor ancestor;
    } body;
    uint8_t hash[CA_HASH_BYTES];  //  HASH (the first argument)
    uint8_t other[CA_HASH_BYTES]; //  prov ancestor's B, derivations --after
    uint8_t source_hashes[PROV_SOURCES_ROOM][CA_HASH_BYTES]; //  prov add: SOURCEs
    ProtobufCBinaryData sources[PROV_SOURCES_ROOM];          //  ... pointing at them
} provenance_storage_t;

//  ---- prov add ------------------------------------------------------------------------------

static const char *s_build_prov_add(const cli_t *cli, Cairn__Request *request, void *storage) {
    provenance_storage_t *prov = storage;
    size_t count = (size_t)cli->arg_total - 1;
    if (count > PROV_SOURCES_ROOM)
        return cli_problem("prov add takes at most %d SOURCE hashes here (the node takes %d), "
                           "not %zu",
                           PROV_SOURCES_ROOM, CA_PROV_SOURCES_MAX, count);
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem =
            cli_parse_hash_list(cli->args + 1, count, "SOURCE", prov->source_hashes, prov->sources);
    ca_request_prov_add(request, &prov->body.add, 0, prov->hash, CA_HASH_BYTES, prov->sources,
                        count);
    return problem;
}

static void s_print_prov_add(const answer_t *answer) {
    const provenance_storage_t *prov = answer->storage;
    const Cairn__ProvAdded *added = answer->response->prov_add;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(prov->hash, hex);
    printf("added %" PRIu64 " edge%s; %s has %" PRIu64 " root%s\n", added->edges_added,
           added->edges_added == 1 ? "" : "s", hex, added->roots, added->roots == 1 ? "" : "s");
}

static json_t *s_json_prov_add(const answer_t *answer) {
    const provenance_storage_t *prov = answer->storage;
    const Cairn__ProvAdded *added = answer->response->prov_add;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(prov->hash, hex);
    return json_pack("{s:s, s:o, s:o}", "hash", hex, "edges_added",
                     cli_json_u64(added->edges_added), "roots", cli_json_u64(added->roots));
}

//  ---- prov roots / derivations -------------------------------------------------------------

//  --limit N, within the node's range.
static const char *s_parse_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    return text ? cli_parse_u32(text, "--limit", 1, CA_PROV_LIST_MAX, limit) : NULL;
}

static const char *s_build_prov_roots(const cli_t *cli, Cairn__Request *request, void *storage) {
    provenance_storage_t *prov = storage;
    uint32_t limit = 0;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem = s_parse_limit(cli, &limit);
    ca_request_prov_roots(request, &prov->body.roots, 0, prov->hash, CA_HASH_BYTES, limit);
    return problem;
}

static void s_print_prov_roots(const answer_t *answer) {
    const Cairn__ProvRootsReply *reply = answer->response->prov_roots;
    printf("%-64s  %20s  %-10s  %s\n", "ROOT", "WEIGHT", "VISIBILITY", "OWNER");
    for (size_t i = 0; i < reply->n_roots; i++) {
        const Cairn__ProvRoot *root = reply->roots[i];
        cli_print_hex(root->hash);
        printf("  %20" PRIu64 "  %-10s  ", root->weight,
               root->has_manifest ? cli_visibility_name(root->visibility) : "-");
        cli_print_inline(cli_bytes(root->has_manifest && root->owner[0] ? root->owner : "-"));
        putchar('\n');
    }
    if (reply->more)
        printf("(more: raise --limit, at most %d)\n", CA_PROV_LIST_MAX);
}

static json_t *s_json_prov_root(const Cairn__ProvRoot *root) {
    json_t *object = json_pack("{s:o, s:b, s:b}", "weight", cli_json_u64(root->weight), "saturated",
                               root->weight == UINT64_MAX, "has_manifest", root->has_manifest);
    if (!object)
        return NULL;
    cli_json_set_hex(object, "hash", root->hash);
    if (root->has_manifest) {
        cli_json_set_bytes(object, "owner", cli_bytes(root->owner));
        json_object_set_new(object, "visibility",
                            json_string(cli_visibility_name(root->visibility)));
    } else {
        json_object_set_new(object, "owner", json_null());
        json_object_set_new(object, "visibility", json_null());
    }
    return object;
}

static json_t *s_json_prov_roots(const answer_t *answer) {
    const provenance_storage_t *prov = answer->storage;
    const Cairn__ProvRootsReply *reply = answer->response->prov_roots;
    json_t *roots = json_array();
    for (size_t i = 0; i < reply->n_roots; i++)
        if (!cli_json_append(roots, s_json_prov_root(reply->roots[i]))) {
            json_decref(roots);
            return NULL;
        }
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(prov->hash, hex);
    return json_pack("{s:s, s:o, s:b}", "hash", hex, "roots", roots, "more", reply->more);
}

static const char *s_build_prov_derivations(const cli_t *cli, Cairn__Request *request,
                                            void *storage) {
    provenance_storage_t *prov = storage;
    uint32_t limit = 0;
    const char *problem = cli_parse_hash(cli->args[0], "HASH", prov->hash);
    if (!problem)
        problem = s_parse_limit(cli, &limit);
    bool transitive = cli_option(cli, "transitive") != NULL;
    ca_request_prov_derivations(request, &prov->body.derivations, 0, prov->hash, CA_HASH_BYTES,
                                transitive, limit);
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
    const provenance_storage_t *prov = answer->storage;
    const Cairn__ProvDerivationsReply *reply = answer->response->prov_derivations;
    if (reply->n_hashes == 0)
        printf("(no derivations)\n");
    for (size_t i = 0; i < reply->n_hashes; i++) {
        cli_print_hex(reply->hashes[i]);
        putchar('\n');
    }
    if (reply->more && prov->body.derivations.transitive)
        printf("(more: raise --limit, at most %d)\n", CA_PROV_LIST_MAX);
    else if (reply->more) {
        printf("(more: --after ");
        cli_print_hex(reply->hashes[reply->n_hashes - 1]);
        printf(")\n");
    }
}

static json_t *s_json_prov_derivations(const answer_t *answer) {
    const provenance_storage_t *prov = answer->storage;
    const Cairn__ProvDerivationsReply *reply = answer->response->prov_derivations;
    json_t *hashes = json_array();
    for (size_t i = 0; i < reply->n_hashes; i++) {
        char hex[CLI_HASH_HEX] = "";
        if (reply->hashes[i].len == CA_HASH_BYTES)
            ca_hash_to_hex(reply->hashes[i].data, hex);
        json_array_append_new(hashes, json_string(hex));
    }
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(prov->hash, hex);
    bool transitive = prov->body.derivations.transitive;
    json_t *object = json_pack("{s:s, s:b, s:o, s:b}", "hash", hex, "transitive", transitive,
                               "derivations", hashes, "more", reply->more);
    if (object && reply->more && !transitive)
        cli_json_set_hex(object, "next_after", reply->hashes[reply->n_hashes - 1]);
    return object;
}

//  ---- prov ancestor ---------------------------------------------------------------------------

static const char *s_build_prov_ancestor(const cli_t *cli, Cairn__Request *request, void *storage) {
    provenance_storage_t *prov = storage;
    const char *problem = cli_parse_hash(cli->args[0], "A", prov->hash);
    if (!problem)
        problem = cli_parse_hash(cli->args[1], "B", prov->other);
    ca_request_prov_ancestor(request, &prov->body.ancestor, 0, prov->hash, CA_HASH_BYTES,
                             prov->other, CA_HASH_BYTES);
    return problem;
}

//  The answer sets the exit status: 0 yes, CLI_EXIT_NO no.
static int s_run_prov_ancestor(const cli_t *cli, Cairn__Request *request, void *storage,
                               cli_conn_t *conn) {
    provenance_storage_t *prov = storage;
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__ProvAncestorReply *reply = response->prov_ancestor;
    char a[CLI_HASH_HEX], b[CLI_HASH_HEX];
    ca_hash_to_hex(prov->hash, a);
    ca_hash_to_hex(prov->other, b);
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

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
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
     NULL,
     {CAIRN__REQUEST__BODY_PROV_ADD}},
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
     NULL,
     {CAIRN__REQUEST__BODY_PROV_ROOTS}},
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
     NULL,
     {CAIRN__REQUEST__BODY_PROV_DERIVATIONS}},
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
     s_run_prov_ancestor,
     {CAIRN__REQUEST__BODY_PROV_ANCESTOR}},
};

CLI_FAMILY(provenance, s_rows, provenance_storage_t);

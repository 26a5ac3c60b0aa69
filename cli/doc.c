/*  =========================================================================
    doc - the `cairn` client's `doc` commands (the documents store:
    versioned JSON documents per tenant)

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command           request      answer
        ----------------  -----------  ---------------
        doc save          DocSave      DocSaved
        doc load          DocLoad      DocSnapshot
        doc put           DocPut       DocSaved
        doc put-many      DocPutMany   DocSaved
        doc get           DocGet       DocRecords
        doc exists        DocExists    DocExistsReply
        doc history       DocHistory   DocHistoryPage
        doc head          DocHead      DocSnapshotInfo
        doc diff          DocDiff      DocDiffReply
        doc revert        DocRevert    DocSaved
        doc truncate      DocTruncate  DocTruncated
        doc sweep         DocSweep     DocSwept
        doc stats         DocStats     DocStatsReply

    Objects are read from a FILE, or standard input when it is "-" or not
    given; digests are 64 hex digits. The rules are the node's
    (schemas/documents.proto); the client checks only what it must parse.
    ========================================================================= */

#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

#define DIGEST_BYTES 32
#define INPUT_MAX    (1024 * 1024) //  a request frame holds at most 1 MiB
#define ITEMS_MAX    1000          //  the node's limit of one put_many

//  ---- the family's storage ---------------------------------------------------------

typedef struct {
    union {
        Cairn__DocSave save;
        Cairn__DocLoad load;
        Cairn__DocPut put;
        Cairn__DocPutMany put_many;
        Cairn__DocGet get;
        Cairn__DocExists exists;
        Cairn__DocHistory history;
        Cairn__DocHead head;
        Cairn__DocDiff diff;
        Cairn__DocRevert revert;
        Cairn__DocTruncate truncate;
        Cairn__DocSweep sweep;
        Cairn__DocStats stats;
    } body;
    uint8_t digest[DIGEST_BYTES];
    uint8_t digest2[DIGEST_BYTES];
    char input[INPUT_MAX + 1];
    char values[INPUT_MAX + ITEMS_MAX]; //  put-many: each value's compact JSON, NUL-ended
    Cairn__DocItem items[ITEMS_MAX];
    Cairn__DocItem *item_list[ITEMS_MAX];
} doc_storage_t;

//  ---- parsing -----------------------------------------------------------------------

static const char *s_parse_digest(const char *text, const char *what, uint8_t *out,
                                  ProtobufCBinaryData *digest) {
    size_t length = 0;
    const char *problem = cli_parse_hex(text, what, out, DIGEST_BYTES, &length);
    if (problem)
        return problem;
    if (length != DIGEST_BYTES)
        return cli_problem("%s wants 64 hex digits (a SHA-256), not %zu", what, 2 * length);
    digest->data = out;
    digest->len = DIGEST_BYTES;
    return NULL;
}

//  The whole of `path` ("-" or NULL: standard input) as text in storage->input.
static const char *s_read_input(const char *path, doc_storage_t *doc) {
    bool is_stdin = !path || streq(path, "-");
    FILE *file = is_stdin ? stdin : fopen(path, "rb");
    if (!file)
        return cli_problem("cannot open '%s': %s", path, strerror(errno));
    size_t length = fread(doc->input, 1, INPUT_MAX + 1, file);
    bool failed = ferror(file);
    if (!is_stdin)
        fclose(file);
    if (failed)
        return cli_problem("cannot read %s", is_stdin ? "standard input" : path);
    if (length > INPUT_MAX)
        return cli_problem("%s is over %d bytes, more than one request can carry",
                           is_stdin ? "standard input" : path, INPUT_MAX);
    if (memchr(doc->input, 0, length))
        return cli_problem("%s holds a NUL byte: it is not JSON text",
                           is_stdin ? "standard input" : path);
    doc->input[length] = 0;
    return NULL;
}

static const char *s_file_arg(const cli_t *cli, int index) {
    return cli->arg_total > index ? cli->args[index] : NULL;
}

//  ---- printing -----------------------------------------------------------------------

static void s_print_info(const Cairn__DocSnapshotInfo *info) {
    printf("  digest          ");
    cli_print_hex(info->digest);
    printf("\n  parent          ");
    cli_print_hex(info->parent);
    printf("\n  seq             %" PRIu64 "\n  user            %s\n", info->seq, info->user);
    cli_print_field_time("date", (double)info->date / 1e6);
}

static json_t *s_json_info(const Cairn__DocSnapshotInfo *info) {
    json_t *object = json_object();
    cli_json_set_hex(object, "digest", info->digest);
    cli_json_set_hex(object, "parent", info->parent);
    json_object_set_new(object, "seq", cli_json_u64(info->seq));
    json_object_set_new(object, "user", json_string(info->user));
    json_object_set_new(object, "date_us", cli_json_u64(info->date));
    return object;
}

//  A canonical JSON text from the node as a JSON value (a string when it
//  does not parse, which a node never sends).
static json_t *s_json_value(const char *text) {
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    return value ? value : json_string(text);
}

//  ---- save, load, put, revert ----------------------------------------------------------

static const char *s_build_save(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocSave *save = &doc->body.save;
    cairn__doc_save__init(save);
    request->body_case = CAIRN__REQUEST__BODY_DOC_SAVE;
    request->doc_save = save;
    save->tenant = cli->args[0];
    save->entry = cli->args[1];
    save->user = (char *)cli_option(cli, "user");
    save->json = doc->input;
    return s_read_input(s_file_arg(cli, 2), doc);
}

static const Cairn__DocSaved *s_saved(const answer_t *answer) {
    return answer->response->doc_save; //  every member is a pointer at the same place
}

static void s_print_saved(const answer_t *answer) {
    const Cairn__DocSaved *saved = s_saved(answer);
    printf("%s ", saved->changed ? "saved" : "unchanged (the head holds this object)");
    cli_print_hex(saved->digest);
    printf("\n");
}

static json_t *s_json_saved(const answer_t *answer) {
    json_t *object = json_object();
    cli_json_set_hex(object, "digest", s_saved(answer)->digest);
    json_object_set_new(object, "changed", json_boolean(s_saved(answer)->changed));
    return object;
}

static const char *s_build_load(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocLoad *load = &doc->body.load;
    cairn__doc_load__init(load);
    request->body_case = CAIRN__REQUEST__BODY_DOC_LOAD;
    request->doc_load = load;
    load->tenant = cli->args[0];
    load->entry = cli->args[1];
    const char *digest = cli_option(cli, "digest");
    return digest ? s_parse_digest(digest, "--digest", doc->digest, &load->digest) : NULL;
}

static void s_print_load(const answer_t *answer) {
    printf("%s\n", answer->response->doc_load->json);
}

static json_t *s_json_load(const answer_t *answer) {
    const Cairn__DocSnapshot *snapshot = answer->response->doc_load;
    json_t *object = snapshot->info ? s_json_info(snapshot->info) : json_object();
    json_object_set_new(object, "object", s_json_value(snapshot->json));
    return object;
}

static const char *s_build_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocPut *put = &doc->body.put;
    cairn__doc_put__init(put);
    request->body_case = CAIRN__REQUEST__BODY_DOC_PUT;
    request->doc_put = put;
    put->tenant = cli->args[0];
    put->entry = cli->args[1];
    put->key = cli->args[2];
    put->user = (char *)cli_option(cli, "user");
    put->value = doc->input;
    const char *value = s_file_arg(cli, 3);
    if (value && !streq(value, "-")) {
        put->value = (char *)value;
        return NULL;
    }
    return s_read_input(NULL, doc);
}

//  put-many: the items are the members of the JSON object read.
static const char *s_build_put_many(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocPutMany *many = &doc->body.put_many;
    cairn__doc_put_many__init(many);
    request->body_case = CAIRN__REQUEST__BODY_DOC_PUT_MANY;
    request->doc_put_many = many;
    many->tenant = cli->args[0];
    many->entry = cli->args[1];
    many->user = (char *)cli_option(cli, "user");
    many->items = doc->item_list;
    const char *problem = s_read_input(s_file_arg(cli, 2), doc);
    if (problem)
        return problem;
    json_error_t error;
    json_t *object = json_loads(doc->input, 0, &error);
    if (!json_is_object(object)) {
        json_decref(object);
        return object ? cli_problem("the records must be one JSON object {\"key\": value, ...}")
                      : cli_problem("the records are not JSON: %s at line %d, column %d",
                                    error.text, error.line, error.column);
    }
    size_t used = 0;
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        if (many->n_items == ITEMS_MAX) {
            problem = cli_problem("more than %d records: send them in several put-many", ITEMS_MAX);
            break;
        }
        size_t room = sizeof doc->values - used;
        size_t size = json_dumpb(value, doc->values + used, room,
                                 JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        if (size == 0 || size >= room) {
            problem = cli_problem("the records are too large for one request");
            break;
        }
        Cairn__DocItem *item = &doc->items[many->n_items];
        cairn__doc_item__init(item);
        //  The key is copied too: the object is freed below.
        item->value = doc->values + used;
        doc->values[used + size] = 0;
        used += size + 1;
        size_t key_size = strlen(key) + 1;
        if (key_size > sizeof doc->values - used) {
            problem = cli_problem("the records are too large for one request");
            break;
        }
        item->key = memcpy(doc->values + used, key, key_size);
        used += key_size;
        doc->item_list[many->n_items++] = item;
    }
    json_decref(object);
    return problem;
}

static const char *s_build_revert(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocRevert *revert = &doc->body.revert;
    cairn__doc_revert__init(revert);
    request->body_case = CAIRN__REQUEST__BODY_DOC_REVERT;
    request->doc_revert = revert;
    revert->tenant = cli->args[0];
    revert->entry = cli->args[1];
    revert->user = (char *)cli_option(cli, "user");
    return s_parse_digest(cli->args[2], "DIGEST", doc->digest, &revert->digest);
}

//  ---- get, exists, history, head, diff -------------------------------------------------

static const char *s_build_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocGet *get = &doc->body.get;
    cairn__doc_get__init(get);
    request->body_case = CAIRN__REQUEST__BODY_DOC_GET;
    request->doc_get = get;
    get->tenant = cli->args[0];
    get->entry = cli->args[1];
    if (cli->arg_total > 3)
        return cli_problem("give at most one KEY");
    if (cli->arg_total == 3)
        get->key = cli->args[2];
    return NULL;
}

static void s_print_get(const answer_t *answer) {
    const Cairn__DocRecords *records = answer->response->doc_get;
    for (size_t i = 0; i < records->n_items; i++)
        printf("%s\t%s\n", records->items[i]->key, records->items[i]->value);
}

static json_t *s_json_get(const answer_t *answer) {
    const Cairn__DocRecords *records = answer->response->doc_get;
    json_t *object = json_object();
    for (size_t i = 0; i < records->n_items; i++)
        json_object_set_new(object, records->items[i]->key, s_json_value(records->items[i]->value));
    json_t *fields = json_object();
    cli_json_set_hex(fields, "digest", records->digest);
    json_object_set_new(fields, "records", object);
    return fields;
}

static const char *s_build_exists(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocExists *exists = &doc->body.exists;
    cairn__doc_exists__init(exists);
    request->body_case = CAIRN__REQUEST__BODY_DOC_EXISTS;
    request->doc_exists = exists;
    exists->tenant = cli->args[0];
    exists->entry = cli->args[1];
    const char *digest = cli_option(cli, "digest");
    return digest ? s_parse_digest(digest, "--digest", doc->digest, &exists->digest) : NULL;
}

static void s_print_exists(const answer_t *answer) {
    printf("%s\n", answer->response->doc_exists->exists ? "yes" : "no");
}

static json_t *s_json_exists(const answer_t *answer) {
    return json_pack("{s:b}", "exists", answer->response->doc_exists->exists);
}

static const char *s_build_history(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocHistory *history = &doc->body.history;
    cairn__doc_history__init(history);
    request->body_case = CAIRN__REQUEST__BODY_DOC_HISTORY;
    request->doc_history = history;
    history->tenant = cli->args[0];
    history->entry = cli->args[1];
    const char *limit = cli_option(cli, "limit");
    const char *before = cli_option(cli, "before");
    const char *problem =
        limit ? cli_parse_u32(limit, "--limit", 1, UINT32_MAX, &history->max_items) : NULL;
    if (!problem && before)
        problem = cli_parse_u64(before, "--before", 1, UINT64_MAX, &history->before_seq);
    return problem;
}

static void s_print_history(const answer_t *answer) {
    const Cairn__DocHistoryPage *page = answer->response->doc_history;
    for (size_t i = 0; i < page->n_snapshots; i++) {
        const Cairn__DocSnapshotInfo *info = page->snapshots[i];
        char date[CLI_TIME_TEXT];
        cli_format_time((double)info->date / 1e6, date, sizeof date);
        printf("%" PRIu64 " ", info->seq);
        cli_print_hex(info->digest);
        printf(" %s %s\n", date, info->user);
    }
    if (page->more)
        printf("(more: page on with --before %" PRIu64 ")\n", page->next_before);
}

static json_t *s_json_history(const answer_t *answer) {
    const Cairn__DocHistoryPage *page = answer->response->doc_history;
    json_t *snapshots = json_array();
    for (size_t i = 0; i < page->n_snapshots; i++)
        json_array_append_new(snapshots, s_json_info(page->snapshots[i]));
    json_t *fields = json_pack("{s:o, s:b}", "snapshots", snapshots, "more", page->more);
    if (page->more)
        json_object_set_new(fields, "next_before", cli_json_u64(page->next_before));
    return fields;
}

static const char *s_build_head(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocHead *head = &doc->body.head;
    cairn__doc_head__init(head);
    request->body_case = CAIRN__REQUEST__BODY_DOC_HEAD;
    request->doc_head = head;
    head->tenant = cli->args[0];
    head->entry = cli->args[1];
    return NULL;
}

static void s_print_head(const answer_t *answer) {
    s_print_info(answer->response->doc_head);
}

static json_t *s_json_head(const answer_t *answer) {
    return s_json_info(answer->response->doc_head);
}

static const char *s_build_diff(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocDiff *diff = &doc->body.diff;
    cairn__doc_diff__init(diff);
    request->body_case = CAIRN__REQUEST__BODY_DOC_DIFF;
    request->doc_diff = diff;
    diff->tenant = cli->args[0];
    diff->entry = cli->args[1];
    if (cli->arg_total > 4)
        return cli_problem("give FROM and at most one TO");
    const char *problem = s_parse_digest(cli->args[2], "FROM", doc->digest, &diff->from);
    if (!problem && cli->arg_total == 4)
        problem = s_parse_digest(cli->args[3], "TO", doc->digest2, &diff->to);
    return problem;
}

static void s_print_keys(const char *sign, char **keys, size_t count) {
    for (size_t i = 0; i < count; i++)
        printf("%s %s\n", sign, keys[i]);
}

static void s_print_diff(const answer_t *answer) {
    const Cairn__DocDiffReply *diff = answer->response->doc_diff;
    s_print_keys("+", diff->added, diff->n_added);
    s_print_keys("-", diff->removed, diff->n_removed);
    s_print_keys("~", diff->changed, diff->n_changed);
    if (diff->n_added + diff->n_removed + diff->n_changed == 0)
        printf("no differences\n");
}

static json_t *s_json_keys(char **keys, size_t count) {
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, json_string(keys[i]));
    return array;
}

static json_t *s_json_diff(const answer_t *answer) {
    const Cairn__DocDiffReply *diff = answer->response->doc_diff;
    return json_pack("{s:o, s:o, s:o}", "added", s_json_keys(diff->added, diff->n_added), "removed",
                     s_json_keys(diff->removed, diff->n_removed), "changed",
                     s_json_keys(diff->changed, diff->n_changed));
}

//  ---- truncate, sweep, stats ----------------------------------------------------------

static const char *s_build_truncate(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocTruncate *truncate = &doc->body.truncate;
    cairn__doc_truncate__init(truncate);
    request->body_case = CAIRN__REQUEST__BODY_DOC_TRUNCATE;
    request->doc_truncate = truncate;
    truncate->tenant = cli->args[0];
    truncate->entry = cli->args[1];
    return cli_parse_u32(cli->args[2], "KEEP", 0, UINT32_MAX, &truncate->keep);
}

static void s_print_truncate(const answer_t *answer) {
    printf("removed %" PRIu64 " snapshots (their objects go at the next sweep)\n",
           answer->response->doc_truncate->removed);
}

static json_t *s_json_truncate(const answer_t *answer) {
    return json_pack("{s:o}", "removed", cli_json_u64(answer->response->doc_truncate->removed));
}

static const char *s_build_sweep(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    cairn__doc_sweep__init(&doc->body.sweep);
    request->body_case = CAIRN__REQUEST__BODY_DOC_SWEEP;
    request->doc_sweep = &doc->body.sweep;
    return NULL;
}

static void s_print_sweep(const answer_t *answer) {
    char bytes[32];
    cli_format_bytes(answer->response->doc_sweep->bytes, bytes, sizeof bytes);
    printf("removed %" PRIu64 " objects (%s)\n", answer->response->doc_sweep->objects, bytes);
}

static json_t *s_json_sweep(const answer_t *answer) {
    return json_pack("{s:o, s:o}", "objects", cli_json_u64(answer->response->doc_sweep->objects),
                     "bytes", cli_json_u64(answer->response->doc_sweep->bytes));
}

static const char *s_build_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    doc_storage_t *doc = storage;
    Cairn__DocStats *stats = &doc->body.stats;
    cairn__doc_stats__init(stats);
    request->body_case = CAIRN__REQUEST__BODY_DOC_STATS;
    request->doc_stats = stats;
    const char *tenant = cli_option(cli, "tenant");
    if (tenant)
        stats->tenant = (char *)tenant;
    return NULL;
}

static void s_print_stats(const answer_t *answer) {
    const Cairn__DocStatsReply *stats = answer->response->doc_stats;
    char bytes[32];
    cli_format_bytes(stats->object_bytes, bytes, sizeof bytes);
    printf("  entries         %" PRIu64 "\n  snapshots       %" PRIu64 "\n"
           "  objects         %" PRIu64 " (%s)\n",
           stats->entries, stats->snapshots, stats->objects, bytes);
}

static json_t *s_json_stats(const answer_t *answer) {
    const Cairn__DocStatsReply *stats = answer->response->doc_stats;
    return json_pack("{s:o, s:o, s:o, s:o}", "entries", cli_json_u64(stats->entries), "snapshots",
                     cli_json_u64(stats->snapshots), "objects", cli_json_u64(stats->objects),
                     "object_bytes", cli_json_u64(stats->object_bytes));
}

//  ---- the table ---------------------------------------------------------------------------------

#define NO_OPTIONS                                                                                 \
    {                                                                                              \
        { NULL, NULL, false }                                                                      \
    }
#define USER                                                                                       \
    {                                                                                              \
        { "user", "NAME", true }                                                                   \
    }
//  Options last: their braces hold commas.
#define ROW(sub, count, usage, summary, build, print, json, kind, ...)                             \
    {                                                                                              \
        "doc", sub, count, usage, summary, __VA_ARGS__, build, print, json, NULL, NULL, {          \
            kind                                                                                   \
        }                                                                                          \
    }

static const command_t s_rows[] = {
    ROW("save", 2, "TENANT ENTRY [FILE...]",
        "save a JSON object (FILE, or stdin) as the entry's new snapshot", s_build_save,
        s_print_saved, s_json_saved, CAIRN__REQUEST__BODY_DOC_SAVE, USER),
    ROW("load", 2, "TENANT ENTRY", "print the head's object (or --digest's), canonical",
        s_build_load, s_print_load, s_json_load, CAIRN__REQUEST__BODY_DOC_LOAD,
        {{"digest", "HEX", false}}),
    ROW("put", 3, "TENANT ENTRY KEY [VALUE...]",
        "set one top-level key to a JSON VALUE (or stdin); no change, no snapshot", s_build_put,
        s_print_saved, s_json_saved, CAIRN__REQUEST__BODY_DOC_PUT, USER),
    ROW("put-many", 2, "TENANT ENTRY [FILE...]",
        "set every key of a JSON object (FILE, or stdin) in one snapshot", s_build_put_many,
        s_print_saved, s_json_saved, CAIRN__REQUEST__BODY_DOC_PUT_MANY, USER),
    ROW("get", 2, "TENANT ENTRY [KEY...]", "print one record of the head, or all of them",
        s_build_get, s_print_get, s_json_get, CAIRN__REQUEST__BODY_DOC_GET, NO_OPTIONS),
    ROW("exists", 2, "TENANT ENTRY", "whether the entry (or --digest in its history) exists",
        s_build_exists, s_print_exists, s_json_exists, CAIRN__REQUEST__BODY_DOC_EXISTS,
        {{"digest", "HEX", false}}),
    ROW("history", 2, "TENANT ENTRY", "list snapshots, newest first, a page at a time",
        s_build_history, s_print_history, s_json_history, CAIRN__REQUEST__BODY_DOC_HISTORY,
        {{"limit", "N", false}, {"before", "SEQ", false}}),
    ROW("head", 2, "TENANT ENTRY", "show the current digest with its parent, user and date",
        s_build_head, s_print_head, s_json_head, CAIRN__REQUEST__BODY_DOC_HEAD, NO_OPTIONS),
    ROW("diff", 3, "TENANT ENTRY FROM [TO...]",
        "top-level keys added, removed, changed from FROM to TO (or the head)", s_build_diff,
        s_print_diff, s_json_diff, CAIRN__REQUEST__BODY_DOC_DIFF, NO_OPTIONS),
    ROW("revert", 3, "TENANT ENTRY DIGEST", "make DIGEST's object the head again (a new snapshot)",
        s_build_revert, s_print_saved, s_json_saved, CAIRN__REQUEST__BODY_DOC_REVERT, USER),
    ROW("truncate", 3, "TENANT ENTRY KEEP", "keep only the newest KEEP snapshots of the entry",
        s_build_truncate, s_print_truncate, s_json_truncate, CAIRN__REQUEST__BODY_DOC_TRUNCATE,
        NO_OPTIONS),
    ROW("sweep", 0, "", "remove objects no snapshot references", s_build_sweep, s_print_sweep,
        s_json_sweep, CAIRN__REQUEST__BODY_DOC_SWEEP, NO_OPTIONS),
    ROW("stats", 0, "", "count entries, snapshots and objects (of --tenant)", s_build_stats,
        s_print_stats, s_json_stats, CAIRN__REQUEST__BODY_DOC_STATS, {{"tenant", "NAME", false}}),
};

CLI_FAMILY(doc, s_rows, doc_storage_t);

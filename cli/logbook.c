/*  =========================================================================
    logbook - the `cairn` client's topic, cursor, group and address-book
    commands (the logbook store)

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command            request          answer
        -----------------  ---------------  ---------------
        topic associate    TopicAssociate   TopicChanged
        topic remove       TopicRemove      TopicChanged
        topic resolve      TopicResolve     TopicLogs
        cursor get         CursorGet        CursorPosition
        cursor set         CursorSet        CursorPosition
        cursor delete      CursorDelete     Deleted
        group get          GroupGet         GroupState
        group put          GroupPut         GroupState
        group delete       GroupDelete      Deleted
        book put           BookPut          BookPutReply
        book remove        BookRemove       Deleted
        book remove-older  BookRemoveOlder  Deleted
        book list          BookList         BookPage
        book random        BookRandom       BookNode
        book counts        BookCounts       BookCountsReply

    Ids (topics, authors, groups, nodes) are 64 hex digits (32 bytes); a
    log is AUTHOR LOG_ID. The rules are the node's (schemas/logbook.proto);
    the client checks only what it must parse.
    ========================================================================= */

#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

#define KEY_BYTES  32
#define STATE_ROOM (128 * 1024) //  the node takes 64 KiB; the rest lets its check be seen

//  ---- the family's storage ---------------------------------------------------------

typedef struct {
    union {
        Cairn__TopicAssociate topic_associate;
        Cairn__TopicRemove topic_remove;
        Cairn__TopicResolve topic_resolve;
        Cairn__CursorGet cursor_get;
        Cairn__CursorSet cursor_set;
        Cairn__CursorDelete cursor_delete;
        Cairn__GroupGet group_get;
        Cairn__GroupPut group_put;
        Cairn__GroupDelete group_delete;
        Cairn__BookPut book_put;
        Cairn__BookRemove book_remove;
        Cairn__BookRemoveOlder book_remove_older;
        Cairn__BookList book_list;
        Cairn__BookRandom book_random;
        Cairn__BookCounts book_counts;
    } body;
    Cairn__LogbookLog log;
    Cairn__BookNodeInfo node;
    uint8_t key[KEY_BYTES]; //  topic, group or node id
    uint8_t author[KEY_BYTES];
    uint8_t after[KEY_BYTES];
    uint8_t state[STATE_ROOM];
    uint8_t topics[CLI_VALUES_MAX][KEY_BYTES];
    ProtobufCBinaryData topic_list[CLI_VALUES_MAX];
} logbook_storage_t;

//  ---- parsing -----------------------------------------------------------------------

//  Exactly 64 hex digits into `out`.
static const char *s_parse_key(const char *text, const char *what, uint8_t *out,
                               ProtobufCBinaryData *key) {
    size_t length = 0;
    const char *problem = cli_parse_hex(text, what, out, KEY_BYTES, &length);
    if (problem)
        return problem;
    if (length != KEY_BYTES)
        return cli_problem("%s wants 64 hex digits (32 bytes), not %zu", what, 2 * length);
    key->data = out;
    key->len = KEY_BYTES;
    return NULL;
}

//  AUTHOR LOG_ID at args[first], into storage->log.
static const char *s_parse_log(const cli_t *cli, int first, logbook_storage_t *storage) {
    cairn__logbook_log__init(&storage->log);
    const char *problem =
        s_parse_key(cli->args[first], "AUTHOR", storage->author, &storage->log.author);
    return problem
               ? problem
               : cli_parse_u64(cli->args[first + 1], "LOG_ID", 0, UINT64_MAX, &storage->log.log_id);
}

static const char *s_parse_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    return text ? cli_parse_u32(text, "--limit", 1, UINT32_MAX, limit) : NULL;
}

static json_t *s_json_log(const Cairn__LogbookLog *log) {
    json_t *object = json_object();
    cli_json_set_hex(object, "author", log->author);
    json_object_set_new(object, "log_id", cli_json_u64(log->log_id));
    return object;
}

static void s_print_log(const Cairn__LogbookLog *log) {
    cli_print_hex(log->author);
    printf(" %" PRIu64, log->log_id);
}

//  ---- topics ------------------------------------------------------------------------

static const char *s_build_topic_change(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    bool associate = streq(cli->command->subcommand, "associate");
    ProtobufCBinaryData topic;
    const char *problem = s_parse_key(cli->args[0], "TOPIC", lb->key, &topic);
    if (!problem)
        problem = s_parse_log(cli, 1, lb);
    if (associate) {
        cairn__topic_associate__init(&lb->body.topic_associate);
        lb->body.topic_associate.topic = topic;
        lb->body.topic_associate.log = &lb->log;
        request->body_case = CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
        request->topic_associate = &lb->body.topic_associate;
    } else {
        cairn__topic_remove__init(&lb->body.topic_remove);
        lb->body.topic_remove.topic = topic;
        lb->body.topic_remove.log = &lb->log;
        request->body_case = CAIRN__REQUEST__BODY_TOPIC_REMOVE;
        request->topic_remove = &lb->body.topic_remove;
    }
    return problem;
}

static const Cairn__TopicChanged *s_topic_changed(const answer_t *answer) {
    return answer->request->body_case == CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE
               ? answer->response->topic_associate
               : answer->response->topic_remove;
}

static void s_print_topic_change(const answer_t *answer) {
    bool associate = answer->request->body_case == CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE;
    if (!associate)
        printf("removed the log from the topic\n");
    else if (s_topic_changed(answer)->changed)
        printf("associated the log with the topic\n");
    else
        printf("the log was associated with the topic already\n");
}

static json_t *s_json_topic_change(const answer_t *answer) {
    return json_pack("{s:b}", "changed", s_topic_changed(answer)->changed);
}

static const char *s_build_topic_resolve(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__TopicResolve *resolve = &lb->body.topic_resolve;
    cairn__topic_resolve__init(resolve);
    request->body_case = CAIRN__REQUEST__BODY_TOPIC_RESOLVE;
    request->topic_resolve = resolve;
    const char *problem = s_parse_key(cli->args[0], "TOPIC", lb->key, &resolve->topic);
    if (!problem)
        problem = s_parse_limit(cli, &resolve->limit);
    const char *after_author = cli_option(cli, "after-author");
    const char *after_log = cli_option(cli, "after-log");
    if (!problem && (after_author != NULL) != (after_log != NULL))
        problem = cli_problem("--after-author and --after-log go together (the last log of the "
                              "previous page)");
    if (!problem && after_author) {
        cairn__logbook_log__init(&lb->log);
        problem = s_parse_key(after_author, "--after-author", lb->author, &lb->log.author);
        if (!problem)
            problem = cli_parse_u64(after_log, "--after-log", 0, UINT64_MAX, &lb->log.log_id);
        resolve->after = &lb->log;
    }
    return problem;
}

static void s_print_topic_resolve(const answer_t *answer) {
    const Cairn__TopicLogs *page = answer->response->topic_resolve;
    for (size_t i = 0; i < page->n_logs; i++) {
        s_print_log(page->logs[i]);
        printf("\n");
    }
    printf("%zu logs%s\n", page->n_logs,
           page->more ? " (more: page on with --after-author "
                        "and --after-log)"
                      : "");
}

static json_t *s_json_topic_resolve(const answer_t *answer) {
    const Cairn__TopicLogs *page = answer->response->topic_resolve;
    json_t *logs = json_array();
    for (size_t i = 0; i < page->n_logs; i++)
        json_array_append_new(logs, s_json_log(page->logs[i]));
    return json_pack("{s:o, s:b}", "logs", logs, "more", page->more);
}

//  ---- cursors -----------------------------------------------------------------------

static const char *s_build_cursor_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__CursorGet *get = &lb->body.cursor_get;
    cairn__cursor_get__init(get);
    get->name = cli->args[0];
    get->log = &lb->log;
    request->body_case = CAIRN__REQUEST__BODY_CURSOR_GET;
    request->cursor_get = get;
    return s_parse_log(cli, 1, lb);
}

static const char *s_build_cursor_set(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__CursorSet *set = &lb->body.cursor_set;
    cairn__cursor_set__init(set);
    set->name = cli->args[0];
    set->log = &lb->log;
    set->force = cli_option(cli, "force") != NULL;
    request->body_case = CAIRN__REQUEST__BODY_CURSOR_SET;
    request->cursor_set = set;
    const char *problem = s_parse_log(cli, 1, lb);
    return problem ? problem : cli_parse_u64(cli->args[3], "SEQ", 0, UINT64_MAX, &set->seq);
}

static const Cairn__CursorPosition *s_position(const answer_t *answer) {
    return answer->request->body_case == CAIRN__REQUEST__BODY_CURSOR_GET
               ? answer->response->cursor_get
               : answer->response->cursor_set;
}

static void s_print_cursor(const answer_t *answer) {
    const Cairn__CursorPosition *position = s_position(answer);
    printf("cursor %s at seq %" PRIu64 " in ", position->name, position->seq);
    s_print_log(position->log);
    printf("\n");
}

static json_t *s_json_cursor(const answer_t *answer) {
    const Cairn__CursorPosition *position = s_position(answer);
    json_t *log = position->log ? s_json_log(position->log) : json_null();
    return json_pack("{s:s, s:o, s:o}", "name", position->name, "log", log, "seq",
                     cli_json_u64(position->seq));
}

static const char *s_build_cursor_delete(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__CursorDelete *delete = &lb->body.cursor_delete;
    cairn__cursor_delete__init(delete);
    delete->name = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_CURSOR_DELETE;
    request->cursor_delete = delete;
    if (cli->arg_total == 1)
        return NULL;
    if (cli->arg_total != 3)
        return cli_problem("give NAME alone (every log) or NAME AUTHOR LOG_ID (one log)");
    delete->log = &lb->log;
    return s_parse_log(cli, 1, lb);
}

//  Every Deleted answer of this family.
static uint64_t s_deleted_count(const answer_t *answer) {
    const Cairn__Response *response = answer->response;
    switch (response->body_case) {
        case CAIRN__RESPONSE__BODY_CURSOR_DELETE:
            return response->cursor_delete->count;
        case CAIRN__RESPONSE__BODY_GROUP_DELETE:
            return response->group_delete->count;
        case CAIRN__RESPONSE__BODY_BOOK_REMOVE:
            return response->book_remove->count;
        case CAIRN__RESPONSE__BODY_BOOK_REMOVE_OLDER:
            return response->book_remove_older->count;
        default:
            return 0;
    }
}

static void s_print_deleted(const answer_t *answer) {
    const char *what = answer->request->body_case == CAIRN__REQUEST__BODY_CURSOR_DELETE
                           ? "cursor positions"
                       : answer->request->body_case == CAIRN__REQUEST__BODY_GROUP_DELETE ? "groups"
                                                                                         : "nodes";
    printf("deleted %" PRIu64 " %s\n", s_deleted_count(answer), what);
}

static json_t *s_json_deleted(const answer_t *answer) {
    return json_pack("{s:o}", "count", cli_json_u64(s_deleted_count(answer)));
}

//  ---- groups ------------------------------------------------------------------------

static const char *s_build_group_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__GroupGet *get = &lb->body.group_get;
    cairn__group_get__init(get);
    request->body_case = CAIRN__REQUEST__BODY_GROUP_GET;
    request->group_get = get;
    return s_parse_key(cli->args[0], "GROUP_ID", lb->key, &get->group_id);
}

static const char *s_build_group_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__GroupPut *put = &lb->body.group_put;
    cairn__group_put__init(put);
    request->body_case = CAIRN__REQUEST__BODY_GROUP_PUT;
    request->group_put = put;
    const char *problem = s_parse_key(cli->args[0], "GROUP_ID", lb->key, &put->group_id);
    if (!problem)
        problem = cli_parse_u64(cli->args[1], "VERSION", 0, UINT64_MAX, &put->version);
    const char *text = cli_option(cli, "state");
    const char *file = cli_option(cli, "state-file");
    if (!problem && text && file)
        problem = cli_problem("give --state or --state-file, not both");
    if (!problem && text)
        put->state = cli_bytes(text);
    if (!problem && file) {
        problem = cli_read_file(file, "state file", lb->state, STATE_ROOM, &put->state.len);
        put->state.data = lb->state;
    }
    return problem;
}

static void s_print_group(const answer_t *answer) {
    if (answer->request->body_case == CAIRN__REQUEST__BODY_GROUP_PUT) {
        printf("group at version %" PRIu64 "\n", answer->response->group_put->version);
        return;
    }
    const Cairn__GroupState *group = answer->response->group_get;
    printf("  version         %" PRIu64 "\n", group->version);
    printf("  state           ");
    cli_print_inline(group->state);
    printf("\n");
}

static json_t *s_json_group(const answer_t *answer) {
    bool put = answer->request->body_case == CAIRN__REQUEST__BODY_GROUP_PUT;
    const Cairn__GroupState *group =
        put ? answer->response->group_put : answer->response->group_get;
    json_t *object = json_pack("{s:o}", "version", cli_json_u64(group->version));
    cli_json_set_hex(object, "group_id", group->group_id);
    if (!put)
        cli_json_set_bytes(object, "state", group->state);
    return object;
}

static const char *s_build_group_delete(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__GroupDelete *delete = &lb->body.group_delete;
    cairn__group_delete__init(delete);
    request->body_case = CAIRN__REQUEST__BODY_GROUP_DELETE;
    request->group_delete = delete;
    const char *problem = s_parse_key(cli->args[0], "GROUP_ID", lb->key, &delete->group_id);
    const char *version = cli_option(cli, "if-version");
    if (!problem && version)
        problem = cli_parse_u64(version, "--if-version", 1, UINT64_MAX, &delete->version);
    return problem;
}

//  ---- address book --------------------------------------------------------------------

static const char *s_build_book_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__BookPut *put = &lb->body.book_put;
    cairn__book_put__init(put);
    Cairn__BookNodeInfo *node = &lb->node;
    cairn__book_node_info__init(node);
    put->node = node;
    request->body_case = CAIRN__REQUEST__BODY_BOOK_PUT;
    request->book_put = put;
    const char *problem = s_parse_key(cli->args[0], "NODE_ID", lb->key, &node->node_id);
    if (!problem)
        problem = cli_parse_u64(cli->args[1], "TIMESTAMP", 1, UINT64_MAX, &node->timestamp);
    node->bootstrap = cli_option(cli, "bootstrap") != NULL;
    node->addresses = (char **)cli_option_list(cli, "address", &node->n_addresses);
    size_t count = 0;
    char *const *topics = cli_option_list(cli, "topic", &count);
    for (size_t i = 0; i < count && !problem; i++)
        problem = s_parse_key(topics[i], "--topic", lb->topics[i], &lb->topic_list[i]);
    node->topics = lb->topic_list;
    node->n_topics = count;
    return problem;
}

static void s_print_book_put(const answer_t *answer) {
    if (answer->response->book_put->stored)
        printf("stored the node\n");
    else
        printf("kept the newer entry already stored; nothing changed\n");
}

static json_t *s_json_book_put(const answer_t *answer) {
    const Cairn__BookPutReply *put = answer->response->book_put;
    return json_pack("{s:b, s:b}", "stored", put->stored, "kept_newer", put->kept_newer);
}

static const char *s_build_book_remove(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__BookRemove *remove = &lb->body.book_remove;
    cairn__book_remove__init(remove);
    request->body_case = CAIRN__REQUEST__BODY_BOOK_REMOVE;
    request->book_remove = remove;
    return s_parse_key(cli->args[0], "NODE_ID", lb->key, &remove->node_id);
}

static const char *s_build_book_remove_older(const cli_t *cli, Cairn__Request *request,
                                             void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__BookRemoveOlder *older = &lb->body.book_remove_older;
    cairn__book_remove_older__init(older);
    request->body_case = CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER;
    request->book_remove_older = older;
    return cli_parse_u64(cli->args[0], "BEFORE", 1, UINT64_MAX, &older->before);
}

static void s_print_node(const Cairn__BookNodeInfo *node) {
    cli_print_hex(node->node_id);
    printf(" t=%" PRIu64 "%s", node->timestamp, node->bootstrap ? " bootstrap" : "");
    for (size_t i = 0; i < node->n_addresses; i++)
        printf(" %s", node->addresses[i]);
    printf("\n");
    for (size_t i = 0; i < node->n_topics; i++) {
        printf("  topic ");
        cli_print_hex(node->topics[i]);
        printf("\n");
    }
}

static json_t *s_json_node(const Cairn__BookNodeInfo *node) {
    json_t *addresses = json_array();
    for (size_t i = 0; i < node->n_addresses; i++)
        json_array_append_new(addresses, json_string(node->addresses[i]));
    json_t *topics = json_array();
    for (size_t i = 0; i < node->n_topics; i++) {
        json_t *holder = json_object();
        cli_json_set_hex(holder, "topic", node->topics[i]);
        json_array_append(topics, json_object_get(holder, "topic"));
        json_decref(holder);
    }
    json_t *object =
        json_pack("{s:o, s:b, s:o, s:o}", "timestamp", cli_json_u64(node->timestamp), "bootstrap",
                  node->bootstrap, "addresses", addresses, "topics", topics);
    if (object)
        cli_json_set_hex(object, "node_id", node->node_id);
    return object;
}

static const char *s_build_book_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__BookList *list = &lb->body.book_list;
    cairn__book_list__init(list);
    request->body_case = CAIRN__REQUEST__BODY_BOOK_LIST;
    request->book_list = list;
    list->bootstrap_only = cli_option(cli, "bootstrap") != NULL;
    const char *topic = cli_option(cli, "topic");
    const char *after = cli_option(cli, "after");
    const char *problem = topic ? s_parse_key(topic, "--topic", lb->key, &list->topic) : NULL;
    if (!problem && after)
        problem = s_parse_key(after, "--after", lb->after, &list->after);
    return problem ? problem : s_parse_limit(cli, &list->limit);
}

static void s_print_book_list(const answer_t *answer) {
    const Cairn__BookPage *page = answer->response->book_list;
    for (size_t i = 0; i < page->n_nodes; i++)
        s_print_node(page->nodes[i]);
    printf("%zu nodes%s\n", page->n_nodes,
           page->more ? " (more: page on with --after and the last node id)" : "");
}

static json_t *s_json_book_list(const answer_t *answer) {
    const Cairn__BookPage *page = answer->response->book_list;
    json_t *nodes = json_array();
    for (size_t i = 0; i < page->n_nodes; i++)
        if (!cli_json_append(nodes, s_json_node(page->nodes[i]))) {
            json_decref(nodes);
            return NULL;
        }
    return json_pack("{s:o, s:b}", "nodes", nodes, "more", page->more);
}

static const char *s_build_book_random(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    Cairn__BookRandom *random = &lb->body.book_random;
    cairn__book_random__init(random);
    random->bootstrap = cli_option(cli, "bootstrap") != NULL;
    request->body_case = CAIRN__REQUEST__BODY_BOOK_RANDOM;
    request->book_random = random;
    return NULL;
}

static void s_print_book_random(const answer_t *answer) {
    s_print_node(answer->response->book_random->node);
}

static json_t *s_json_book_random(const answer_t *answer) {
    json_t *node = s_json_node(answer->response->book_random->node);
    return node ? json_pack("{s:o}", "node", node) : NULL;
}

static const char *s_build_book_counts(const cli_t *cli, Cairn__Request *request, void *storage) {
    logbook_storage_t *lb = storage;
    cairn__book_counts__init(&lb->body.book_counts);
    request->body_case = CAIRN__REQUEST__BODY_BOOK_COUNTS;
    request->book_counts = &lb->body.book_counts;
    return NULL;
}

static void s_print_book_counts(const answer_t *answer) {
    const Cairn__BookCountsReply *counts = answer->response->book_counts;
    printf("  nodes           %" PRIu64 "\n", counts->nodes);
    printf("  bootstrap       %" PRIu64 "\n", counts->bootstrap_nodes);
    printf("  topics          %" PRIu64 "\n", counts->topics);
}

static json_t *s_json_book_counts(const answer_t *answer) {
    const Cairn__BookCountsReply *counts = answer->response->book_counts;
    return json_pack("{s:o, s:o, s:o}", "nodes", cli_json_u64(counts->nodes), "bootstrap_nodes",
                     cli_json_u64(counts->bootstrap_nodes), "topics", cli_json_u64(counts->topics));
}

//  ---- the table ---------------------------------------------------------------------------------

#define NO_OPTIONS                                                                                 \
    {                                                                                              \
        { NULL, NULL, false }                                                                      \
    }
//  Options last: their braces hold commas.
#define ROW(name, sub, count, usage, summary, build, print, json, kind, ...)                       \
    {                                                                                              \
        name, sub, count, usage, summary, __VA_ARGS__, build, print, json, NULL, NULL, {           \
            kind                                                                                   \
        }                                                                                          \
    }

static const command_t s_rows[] = {
    ROW("topic", "associate", 3, "TOPIC AUTHOR LOG_ID", "add a log to a topic's set",
        s_build_topic_change, s_print_topic_change, s_json_topic_change,
        CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE, NO_OPTIONS),
    ROW("topic", "remove", 3, "TOPIC AUTHOR LOG_ID", "remove a log from a topic's set",
        s_build_topic_change, s_print_topic_change, s_json_topic_change,
        CAIRN__REQUEST__BODY_TOPIC_REMOVE, NO_OPTIONS),
    ROW("topic", "resolve", 1, "TOPIC", "list a topic's logs, a page at a time",
        s_build_topic_resolve, s_print_topic_resolve, s_json_topic_resolve,
        CAIRN__REQUEST__BODY_TOPIC_RESOLVE,
        {{"limit", "N", false}, {"after-author", "HEX", false}, {"after-log", "ID", false}}),
    ROW("cursor", "get", 3, "NAME AUTHOR LOG_ID", "show a cursor's position in a log",
        s_build_cursor_get, s_print_cursor, s_json_cursor, CAIRN__REQUEST__BODY_CURSOR_GET,
        NO_OPTIONS),
    ROW("cursor", "set", 4, "NAME AUTHOR LOG_ID SEQ",
        "move a cursor forward in a log (backward with --force)", s_build_cursor_set,
        s_print_cursor, s_json_cursor, CAIRN__REQUEST__BODY_CURSOR_SET, {{"force", NULL, false}}),
    ROW("cursor", "delete", 1, "NAME [AUTHOR LOG_ID...]",
        "delete a cursor's position in one log, or in all", s_build_cursor_delete, s_print_deleted,
        s_json_deleted, CAIRN__REQUEST__BODY_CURSOR_DELETE, NO_OPTIONS),
    ROW("group", "get", 1, "GROUP_ID", "show a group's version and state", s_build_group_get,
        s_print_group, s_json_group, CAIRN__REQUEST__BODY_GROUP_GET, NO_OPTIONS),
    ROW("group", "put", 2, "GROUP_ID VERSION",
        "replace the state at VERSION (0: create); stale = conflict", s_build_group_put,
        s_print_group, s_json_group, CAIRN__REQUEST__BODY_GROUP_PUT,
        {{"state", "TEXT", false}, {"state-file", "PATH", false}}),
    ROW("group", "delete", 1, "GROUP_ID", "delete a group (only at version N with --if-version)",
        s_build_group_delete, s_print_deleted, s_json_deleted, CAIRN__REQUEST__BODY_GROUP_DELETE,
        {{"if-version", "N", false}}),
    ROW("book", "put", 2, "NODE_ID TIMESTAMP", "insert or update a node (the newer timestamp wins)",
        s_build_book_put, s_print_book_put, s_json_book_put, CAIRN__REQUEST__BODY_BOOK_PUT,
        {{"address", "ADDR...", false}, {"topic", "HEX...", false}, {"bootstrap", NULL, false}}),
    ROW("book", "remove", 1, "NODE_ID", "remove a node from the address book", s_build_book_remove,
        s_print_deleted, s_json_deleted, CAIRN__REQUEST__BODY_BOOK_REMOVE, NO_OPTIONS),
    ROW("book", "remove-older", 1, "BEFORE", "remove nodes with a timestamp below BEFORE (us)",
        s_build_book_remove_older, s_print_deleted, s_json_deleted,
        CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER, NO_OPTIONS),
    ROW("book", "list", 0, "", "list nodes (of a topic, bootstrap only), a page at a time",
        s_build_book_list, s_print_book_list, s_json_book_list, CAIRN__REQUEST__BODY_BOOK_LIST,
        {{"topic", "HEX", false},
         {"bootstrap", NULL, false},
         {"limit", "N", false},
         {"after", "NODE_ID", false}}),
    ROW("book", "random", 0, "", "show a random node (a bootstrap node with --bootstrap)",
        s_build_book_random, s_print_book_random, s_json_book_random,
        CAIRN__REQUEST__BODY_BOOK_RANDOM, {{"bootstrap", NULL, false}}),
    ROW("book", "counts", 0, "", "count nodes, bootstrap nodes and topics", s_build_book_counts,
        s_print_book_counts, s_json_book_counts, CAIRN__REQUEST__BODY_BOOK_COUNTS, NO_OPTIONS),
};

CLI_FAMILY(logbook, s_rows, logbook_storage_t);

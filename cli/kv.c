/*  =========================================================================
    kv - the `cairn` client's key-value commands (the kv store)

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command          request            answer
        ---------------  -----------------  ---------------
        kv create        KvNamespaceCreate  KvNamespace
        kv namespaces    KvNamespaceList    KvNamespacePage
        kv drop          KvNamespaceDrop    Deleted
        kv stats         KvNamespaceStats   KvStats
        kv clone         KvClone            KvStats
        kv put           KvStore            KvStored
        kv get           KvRetrieve         KvValue
        kv delete        KvDelete           Deleted
        kv clear         KvClear            Deleted
        kv exists        KvExists           KvExistsReply
        kv list          KvList             KvKeys

    A value is the VALUE argument, or the bytes of --file PATH ("-": standard
    input). `kv get` writes the value's bytes to stdout as they are (with
    --json: "value", text or base64). A Redis password is read from
    --password-file (never an argument: it would show in ps). The rules are
    the node's (schemas/kv.proto); the client checks only what it parses.
    ========================================================================= */

#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

//  Room for a value: the node's default limit (16 MiB) and one byte, so
//  that a larger file is refused here with a clear message.
#define VALUE_ROOM (16 * 1024 * 1024)

typedef struct {
    union {
        Cairn__KvNamespaceCreate create;
        Cairn__KvNamespaceList namespaces;
        Cairn__KvNamespaceDrop drop;
        Cairn__KvNamespaceStats stats;
        Cairn__KvClone clone;
        Cairn__KvStore put;
        Cairn__KvRetrieve get;
        Cairn__KvDelete del;
        Cairn__KvClear clear;
        Cairn__KvExists exists;
        Cairn__KvList list;
    } body;
    Cairn__KvRedis redis;
    char password[CLI_PASSWORD_MAX + 1];
    uint8_t value[VALUE_ROOM];
} kv_storage_t;

static const char *const s_backends[] = {"sqlite", "filesystem", "redis"};
#define BACKEND_COUNT (sizeof s_backends / sizeof s_backends[0])

//  ---- parsing -----------------------------------------------------------------------

static const char *s_parse_limit(const cli_t *cli, uint32_t *limit) {
    const char *text = cli_option(cli, "limit");
    return text ? cli_parse_u32(text, "--limit", 1, UINT32_MAX, limit) : NULL;
}

//  --backend and the Redis options into *backend and storage->redis.
static const char *s_parse_backend(const cli_t *cli, kv_storage_t *kv, Cairn__KvBackend *backend,
                                   Cairn__KvRedis **redis) {
    int value = 0;
    const char *text = cli_option(cli, "backend");
    const char *problem =
        text ? cli_parse_enum(text, "--backend", s_backends, BACKEND_COUNT, &value) : NULL;
    *backend = (Cairn__KvBackend)value;
    *redis = NULL;
    if (problem || value != CAIRN__KV_BACKEND__KV_BACKEND_REDIS)
        return problem;
    cairn__kv_redis__init(&kv->redis);
    kv->redis.host = (char *)(cli_option(cli, "host") ? cli_option(cli, "host") : "127.0.0.1");
    kv->redis.prefix = (char *)(cli_option(cli, "prefix") ? cli_option(cli, "prefix") : "");
    if (cli_option(cli, "port"))
        problem = cli_parse_u32(cli_option(cli, "port"), "--port", 1, 65535, &kv->redis.port);
    if (!problem && cli_option(cli, "db"))
        problem = cli_parse_u32(cli_option(cli, "db"), "--db", 0, 65535, &kv->redis.db);
    const char *path = cli_option(cli, "password-file");
    if (!problem && path) {
        size_t length = 0;
        problem = cli_read_file(streq(path, "-") ? "/dev/stdin" : path, "password file",
                                (uint8_t *)kv->password, CLI_PASSWORD_MAX, &length);
        //  One trailing newline is the file's, not the password's.
        if (!problem && length && kv->password[length - 1] == '\n')
            length--;
        kv->password[length] = 0;
        kv->redis.password = kv->password;
    }
    *redis = &kv->redis;
    return problem;
}

#define REDIS_OPTIONS                                                                              \
    {"backend", "sqlite|filesystem|redis", false}, {"host", "HOST", false},                        \
        {"port", "PORT", false}, {"db", "N", false}, {"prefix", "PREFIX", false}, {                \
        "password-file", "PATH", false                                                             \
    }

//  ---- namespaces ----------------------------------------------------------------------

static const char *s_build_create(const cli_t *cli, Cairn__Request *request, void *storage) {
    kv_storage_t *kv = storage;
    Cairn__KvNamespaceCreate *create = &kv->body.create;
    cairn__kv_namespace_create__init(create);
    create->namespace_ = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE;
    request->kv_namespace_create = create;
    return s_parse_backend(cli, kv, &create->backend, &create->redis);
}

static const char *s_backend_name(Cairn__KvBackend backend) {
    return cli_enum_name(s_backends, BACKEND_COUNT, (int)backend, "unknown");
}

static void s_print_namespace(const Cairn__KvNamespace *ns) {
    printf("%s  %s", ns->namespace_, s_backend_name(ns->backend));
    if (ns->path && ns->path[0])
        printf("  %s", ns->path);
    if (ns->redis)
        printf("  %s:%u db %u prefix '%s'%s", ns->redis->host, ns->redis->port, ns->redis->db,
               ns->redis->prefix, ns->redis->has_password ? " (password)" : "");
    printf("\n");
}

static json_t *s_json_namespace(const Cairn__KvNamespace *ns) {
    json_t *object =
        json_pack("{s:s, s:s, s:o}", "namespace", ns->namespace_, "backend",
                  s_backend_name(ns->backend), "created_at", cli_json_u64(ns->created_at));
    if (ns->path && ns->path[0])
        json_object_set_new(object, "path", json_string(ns->path));
    if (ns->redis)
        json_object_set_new(object, "redis",
                            json_pack("{s:s, s:i, s:i, s:s, s:b}", "host", ns->redis->host, "port",
                                      (int)ns->redis->port, "db", (int)ns->redis->db, "prefix",
                                      ns->redis->prefix, "has_password", ns->redis->has_password));
    return object;
}

static void s_print_created(const answer_t *answer) {
    printf("created ");
    s_print_namespace(answer->response->kv_namespace_create);
}

static json_t *s_json_created(const answer_t *answer) {
    return s_json_namespace(answer->response->kv_namespace_create);
}

static const char *s_build_namespaces(const cli_t *cli, Cairn__Request *request, void *storage) {
    Cairn__KvNamespaceList *list = &((kv_storage_t *)storage)->body.namespaces;
    cairn__kv_namespace_list__init(list);
    if (cli_option(cli, "after"))
        list->after = (char *)cli_option(cli, "after");
    request->body_case = CAIRN__REQUEST__BODY_KV_NAMESPACE_LIST;
    request->kv_namespace_list = list;
    return s_parse_limit(cli, &list->limit);
}

static void s_print_namespaces(const answer_t *answer) {
    const Cairn__KvNamespacePage *page = answer->response->kv_namespace_list;
    for (size_t i = 0; i < page->n_namespaces; i++)
        s_print_namespace(page->namespaces[i]);
    if (page->more)
        printf("(more: --after %s)\n", page->namespaces[page->n_namespaces - 1]->namespace_);
}

static json_t *s_json_namespaces(const answer_t *answer) {
    const Cairn__KvNamespacePage *page = answer->response->kv_namespace_list;
    json_t *list = json_array();
    for (size_t i = 0; i < page->n_namespaces; i++)
        cli_json_append(list, s_json_namespace(page->namespaces[i]));
    return json_pack("{s:o, s:b}", "namespaces", list, "more", page->more);
}

//  Requests whose body is only the namespace (drop, stats, clear).
static const char *s_build_ns_only(const cli_t *cli, Cairn__Request *request, void *storage) {
    kv_storage_t *kv = storage;
    const char *sub = cli->command->subcommand;
    if (streq(sub, "drop")) {
        cairn__kv_namespace_drop__init(&kv->body.drop);
        kv->body.drop.namespace_ = cli->args[0];
        request->body_case = CAIRN__REQUEST__BODY_KV_NAMESPACE_DROP;
    } else if (streq(sub, "stats")) {
        cairn__kv_namespace_stats__init(&kv->body.stats);
        kv->body.stats.namespace_ = cli->args[0];
        request->body_case = CAIRN__REQUEST__BODY_KV_NAMESPACE_STATS;
    } else {
        cairn__kv_clear__init(&kv->body.clear);
        kv->body.clear.namespace_ = cli->args[0];
        request->body_case = CAIRN__REQUEST__BODY_KV_CLEAR;
    }
    request->kv_namespace_drop = &kv->body.drop; //  every member is at the same place
    return NULL;
}

static uint64_t s_deleted_count(const answer_t *answer) {
    return answer->response->kv_delete->count; //  a Deleted, whatever the member
}

static void s_print_deleted(const answer_t *answer) {
    printf("deleted %" PRIu64 " key(s)\n", s_deleted_count(answer));
}

static json_t *s_json_deleted(const answer_t *answer) {
    return json_pack("{s:o}", "count", cli_json_u64(s_deleted_count(answer)));
}

static const Cairn__KvStats *s_stats_of(const answer_t *answer) {
    return answer->response->kv_namespace_stats; //  KvStats, stats or clone
}

static void s_print_stats(const answer_t *answer) {
    const Cairn__KvStats *stats = s_stats_of(answer);
    if (stats->namespace_)
        s_print_namespace(stats->namespace_);
    printf("keys %" PRIu64 ", bytes %" PRIu64 "\n", stats->keys, stats->bytes);
}

static json_t *s_json_stats(const answer_t *answer) {
    const Cairn__KvStats *stats = s_stats_of(answer);
    return json_pack("{s:o, s:o, s:o}", "namespace",
                     stats->namespace_ ? s_json_namespace(stats->namespace_) : json_null(), "keys",
                     cli_json_u64(stats->keys), "bytes", cli_json_u64(stats->bytes));
}

static const char *s_build_clone(const cli_t *cli, Cairn__Request *request, void *storage) {
    kv_storage_t *kv = storage;
    Cairn__KvClone *clone = &kv->body.clone;
    cairn__kv_clone__init(clone);
    clone->namespace_ = cli->args[0];
    clone->target = cli->args[1];
    request->body_case = CAIRN__REQUEST__BODY_KV_CLONE;
    request->kv_clone = clone;
    return s_parse_backend(cli, kv, &clone->backend, &clone->redis);
}

//  ---- keys ------------------------------------------------------------------------------

static const char *s_build_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    kv_storage_t *kv = storage;
    Cairn__KvStore *put = &kv->body.put;
    cairn__kv_store__init(put);
    put->namespace_ = cli->args[0];
    put->key = cli->args[1];
    request->body_case = CAIRN__REQUEST__BODY_KV_STORE;
    request->kv_store = put;
    const char *path = cli_option(cli, "file");
    if ((cli->arg_total == 3) == (path != NULL))
        return cli_problem("give the value as VALUE or as --file PATH (- for standard input)");
    if (cli->arg_total > 3)
        return cli_problem("one VALUE only; quote it, or use --file");
    if (!path) {
        put->value = (ProtobufCBinaryData){strlen(cli->args[2]), (uint8_t *)cli->args[2]};
        return NULL;
    }
    size_t length = 0;
    const char *problem = cli_read_file(streq(path, "-") ? "/dev/stdin" : path, "value file",
                                        kv->value, VALUE_ROOM, &length);
    put->value = (ProtobufCBinaryData){length, kv->value};
    return problem;
}

static void s_print_put(const answer_t *answer) {
    printf("%s\n", answer->response->kv_store->created ? "created" : "replaced");
}

static json_t *s_json_put(const answer_t *answer) {
    return json_pack("{s:b}", "created", answer->response->kv_store->created);
}

//  Requests of a namespace and a key (get, delete, exists).
static const char *s_build_key(const cli_t *cli, Cairn__Request *request, void *storage) {
    kv_storage_t *kv = storage;
    const char *sub = cli->command->subcommand;
    //  KvRetrieve, KvDelete and KvExists share their layout.
    cairn__kv_retrieve__init(&kv->body.get);
    if (streq(sub, "delete"))
        cairn__kv_delete__init(&kv->body.del);
    else if (streq(sub, "exists"))
        cairn__kv_exists__init(&kv->body.exists);
    kv->body.get.namespace_ = cli->args[0];
    kv->body.get.key = cli->args[1];
    request->body_case = streq(sub, "get")      ? CAIRN__REQUEST__BODY_KV_RETRIEVE
                         : streq(sub, "delete") ? CAIRN__REQUEST__BODY_KV_DELETE
                                                : CAIRN__REQUEST__BODY_KV_EXISTS;
    request->kv_retrieve = &kv->body.get;
    return NULL;
}

static void s_print_get(const answer_t *answer) {
    ProtobufCBinaryData value = answer->response->kv_retrieve->value;
    if (value.len)
        fwrite(value.data, 1, value.len, stdout);
}

static json_t *s_json_get(const answer_t *answer) {
    json_t *object = json_object();
    cli_json_set_bytes(object, "value", answer->response->kv_retrieve->value);
    json_object_set_new(object, "size", cli_json_u64(answer->response->kv_retrieve->value.len));
    return object;
}

static void s_print_exists(const answer_t *answer) {
    printf("%s\n", answer->response->kv_exists->exists ? "yes" : "no");
}

static json_t *s_json_exists(const answer_t *answer) {
    return json_pack("{s:b}", "exists", answer->response->kv_exists->exists);
}

static const char *s_build_list(const cli_t *cli, Cairn__Request *request, void *storage) {
    Cairn__KvList *list = &((kv_storage_t *)storage)->body.list;
    cairn__kv_list__init(list);
    list->namespace_ = cli->args[0];
    if (cli_option(cli, "prefix"))
        list->prefix = (char *)cli_option(cli, "prefix");
    if (cli_option(cli, "after"))
        list->after = (char *)cli_option(cli, "after");
    request->body_case = CAIRN__REQUEST__BODY_KV_LIST;
    request->kv_list = list;
    return s_parse_limit(cli, &list->limit);
}

static void s_print_list(const answer_t *answer) {
    const Cairn__KvKeys *keys = answer->response->kv_list;
    for (size_t i = 0; i < keys->n_keys; i++)
        printf("%s\n", keys->keys[i]);
    if (keys->more)
        printf("(more: --after '%s')\n", keys->keys[keys->n_keys - 1]);
}

static json_t *s_json_list(const answer_t *answer) {
    const Cairn__KvKeys *keys = answer->response->kv_list;
    json_t *list = json_array();
    for (size_t i = 0; i < keys->n_keys; i++)
        cli_json_append(list, json_string(keys->keys[i]));
    return json_pack("{s:o, s:b}", "keys", list, "more", keys->more);
}

//  ---- the table ---------------------------------------------------------------------------------

#define NO_OPTIONS                                                                                 \
    {                                                                                              \
        { NULL, NULL, false }                                                                      \
    }
//  Options last: their braces hold commas.
#define ROW(sub, count, usage, summary, build, print, json, kind, ...)                             \
    {                                                                                              \
        "kv", sub, count, usage, summary, __VA_ARGS__, build, print, json, NULL, NULL, {           \
            kind                                                                                   \
        }                                                                                          \
    }

static const command_t s_rows[] = {
    ROW("create", 1, "NAMESPACE", "create a namespace on a backend (default sqlite)",
        s_build_create, s_print_created, s_json_created, CAIRN__REQUEST__BODY_KV_NAMESPACE_CREATE,
        {REDIS_OPTIONS}),
    ROW("namespaces", 0, "", "list namespaces, a page at a time", s_build_namespaces,
        s_print_namespaces, s_json_namespaces, CAIRN__REQUEST__BODY_KV_NAMESPACE_LIST,
        {{"after", "NAMESPACE", false}, {"limit", "N", false}}),
    ROW("drop", 1, "NAMESPACE", "drop a namespace and every key in it", s_build_ns_only,
        s_print_deleted, s_json_deleted, CAIRN__REQUEST__BODY_KV_NAMESPACE_DROP, NO_OPTIONS),
    ROW("stats", 1, "NAMESPACE", "show a namespace's backend, keys and bytes", s_build_ns_only,
        s_print_stats, s_json_stats, CAIRN__REQUEST__BODY_KV_NAMESPACE_STATS, NO_OPTIONS),
    ROW("clone", 2, "NAMESPACE TARGET", "copy a namespace into a new one on any backend",
        s_build_clone, s_print_stats, s_json_stats, CAIRN__REQUEST__BODY_KV_CLONE, {REDIS_OPTIONS}),
    ROW("put", 2, "NAMESPACE KEY [VALUE...]", "store a value (VALUE, or --file PATH, - = stdin)",
        s_build_put, s_print_put, s_json_put, CAIRN__REQUEST__BODY_KV_STORE,
        {{"file", "PATH", false}}),
    ROW("get", 2, "NAMESPACE KEY", "write a key's value to stdout", s_build_key, s_print_get,
        s_json_get, CAIRN__REQUEST__BODY_KV_RETRIEVE, NO_OPTIONS),
    ROW("delete", 2, "NAMESPACE KEY", "delete a key", s_build_key, s_print_deleted, s_json_deleted,
        CAIRN__REQUEST__BODY_KV_DELETE, NO_OPTIONS),
    ROW("clear", 1, "NAMESPACE", "delete every key of a namespace (it stays)", s_build_ns_only,
        s_print_deleted, s_json_deleted, CAIRN__REQUEST__BODY_KV_CLEAR, NO_OPTIONS),
    ROW("exists", 2, "NAMESPACE KEY", "say whether a key holds a value", s_build_key,
        s_print_exists, s_json_exists, CAIRN__REQUEST__BODY_KV_EXISTS, NO_OPTIONS),
    ROW("list", 1, "NAMESPACE", "list keys (by --prefix), sorted, a page at a time", s_build_list,
        s_print_list, s_json_list, CAIRN__REQUEST__BODY_KV_LIST,
        {{"prefix", "PREFIX", false}, {"after", "KEY", false}, {"limit", "N", false}}),
};

CLI_FAMILY(kv, s_rows, kv_storage_t);

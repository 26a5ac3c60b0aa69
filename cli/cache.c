/*  =========================================================================
    cache - the `cairn` client's commands for the peer-content cache

    Rows of the shared command table (cli.h); cairn.c sends and
    prints the one-request rows, the others drive their request themselves
    (cli_request) and move bytes with blob.h:

        command       request      printed
        ------------  -----------  -------------------------------------------
        cache put     CachePut     the hash (the file is read whole: one frame)
        cache get     CacheGet     bytes to stdout or -o FILE (checked, renamed
                                   into place only when whole), source and time
        cache has     CacheHas     cached / not cached
        cache evict   CacheEvict   entries and bytes freed
        cache clear   CacheClear   entries and bytes freed
        cache stats   CacheStats   entries, bytes, budget

    The cache holds content fetched from peers, apart from the content
    store; the node trims it to cache_max_bytes after every put, least
    recently used first (a get is a use).
    ========================================================================= */

#include "blob.h"
#include "ca_clock.h"
#include "ca_request.h"
#include "ca_status.h"
#include "ca_validate.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Largest file `cache put` sends (one CachePut frame, below the node's
//  default max_frame_bytes with room for the receipt and the envelope).
#define CACHE_PUT_MAX (CA_DEFAULT_MAX_FRAME_BYTES - CA_CACHE_RECEIPT_MAX - 64 * 1024)

//  ---- the family's storage ---------------------------------------------------------

//  The body of a one-request row, and what the rows read from arguments.
typedef struct {
    union {
        Cairn__CacheHas cache_has;
        Cairn__CacheEvict cache_evict;
        Cairn__CacheClear cache_clear;
        Cairn__CacheStats cache_stats;
    } body;
    uint8_t hash[CA_HASH_BYTES];   //  HASH argument
    uint8_t expect[CA_HASH_BYTES]; //  --expect, when has_expect
    bool has_expect;
    double queried_at;                     //  cache put
    uint8_t receipt[CA_CACHE_RECEIPT_MAX]; //  cache put --receipt
    size_t receipt_size;
} cache_storage_t;

//  ---- sizes in arguments ------------------------------------------------------

//  A byte count: digits with an optional K, M, G or T suffix (binary
//  units; "KiB", "MB" and the like are read the same way).
static const char *s_parse_bytes(const char *text, const char *what, uint64_t *value) {
    static const char units[] = "KMGT";
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    int shift = 0;
    const char *unit = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (unit) {
        shift = 10 * (int)(unit - units + 1);
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || !isdigit(text[0]) ||
        (shift && parsed > (UINT64_MAX >> shift)))
        return cli_problem("%s wants a byte count such as 1048576, 512K, 100M or 2G, not '%s'",
                           what, text);
    *value = (uint64_t)parsed << shift;
    return NULL;
}

//  ---- cache get --------------------------------------------------------------------------

static const char *s_build_cache_get(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    return cli_parse_get(cli, cache->hash);
}

static int s_run_cache_get(const cli_t *cli, Cairn__Request *request, void *storage,
                           cli_conn_t *conn) {
    const cache_storage_t *cache = storage;
    cli_get_t get;
    int exit_code = cli_get_open(&get, cli, conn, cache->hash);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    Cairn__CacheGet body;
    Cairn__Request sent;
    ca_request_cache_get(&sent, &body, 0, get.hash, CA_HASH_BYTES, !get.verify);
    Cairn__Response *response = NULL;
    exit_code = cli_request(conn, &sent, &response);
    const Cairn__CacheEntry *entry = response ? response->cache_get : NULL;
    if (entry) {
        cli_progress_init(&get.progress, "get", entry->data.len);
        exit_code = cli_get_whole(&get, entry->data, entry->size);
    }
    exit_code = cli_get_finish(&get, exit_code);
    if (exit_code == CLI_EXIT_OK && cli->json) {
        json_t *fields = cli_get_json(&get);
        json_t *more = json_pack("{s:s, s:f, s:f, s:I}", "source_peer", entry->source_peer,
                                 "queried_at", entry->queried_at, "stored_at", entry->stored_at,
                                 "last_access", (json_int_t)entry->last_access);
        if (fields && more) {
            json_object_update_new(fields, more);
            cli_json_set_hex(fields, "receipt", entry->receipt);
        } else {
            json_decref(more);
            json_decref(fields);
            fields = NULL;
        }
        exit_code = cli_report_ok(cli, fields);
    } else if (exit_code == CLI_EXIT_OK && get.output.path) {
        char queried[CLI_TIME_TEXT];
        cli_format_time(entry->queried_at, queried, sizeof queried);
        cli_get_print(&get);
        printf("  from peer %s, queried at %s\n", entry->source_peer, queried);
    }
    if (response)
        cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

//  ---- cache put --------------------------------------------------------------------------

//  --receipt: hex digits, or @FILE holding the raw bytes.
static const char *s_parse_receipt(const char *text, cache_storage_t *cache) {
    if (text[0] == '@')
        return cli_read_file(text + 1, "receipt file", cache->receipt, CA_CACHE_RECEIPT_MAX,
                             &cache->receipt_size);
    return cli_parse_hex(text, "--receipt", cache->receipt, CA_CACHE_RECEIPT_MAX,
                         &cache->receipt_size);
}

static const char *s_build_cache_put(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    const char *queried_at = cli_option(cli, "queried-at");
    const char *receipt = cli_option(cli, "receipt");
    cache->queried_at = ca_now_seconds();
    const char *problem = cli_parse_expect(cli, cache->expect, &cache->has_expect);
    if (!problem && queried_at)
        problem = cli_parse_time(queried_at, "--queried-at", &cache->queried_at);
    if (!problem && receipt)
        problem = s_parse_receipt(receipt, cache);
    return problem;
}

//  Reads all of `fd` (at most `max` bytes) into a new buffer. 0, or an
//  errno (EFBIG: longer than max).
static int s_read_all(int fd, size_t max, uint8_t **data, size_t *size) {
    size_t room = 64 * 1024;
    *data = NULL;
    *size = 0;
    for (;;) {
        if (*size == room && room < max + 1)
            room = room * 2 < max + 1 ? room * 2 : max + 1;
        uint8_t *grown = (uint8_t *)realloc(*data, room);
        if (!grown)
            return ENOMEM; //  *data is still the caller's to free
        *data = grown;
        size_t got = 0;
        int error = cli_read_full(fd, *data + *size, room - *size, &got);
        *size += got;
        if (error)
            return error;
        if (*size > max)
            return EFBIG;
        if (*size < room)
            return 0;
    }
}

static int s_cache_put_send(const cli_t *cli, cli_conn_t *conn, const cache_storage_t *cache,
                            ProtobufCBinaryData data) {
    uint8_t digest[CA_HASH_BYTES];
    ca_sha256(data.data, data.len, digest);
    Cairn__CachePut body;
    Cairn__Request request;
    ca_request_cache_put(&request, &body, 0, cache->has_expect ? cache->expect : digest,
                         CA_HASH_BYTES, data.data, data.len, cli_option(cli, "peer"),
                         cache->queried_at, cache->receipt, cache->receipt_size);
    Cairn__Response *response = NULL;
    int exit_code = cli_request(conn, &request, &response);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    const Cairn__CacheStored *stored = response->cache_put;
    char hex[CLI_HASH_HEX];
    ca_hash_to_hex(digest, hex);
    if (cli->json)
        exit_code =
            cli_report_ok(cli, json_pack("{s:s, s:I, s:b, s:I, s:I}", "hash", hex, "size",
                                         (json_int_t)data.len, "replaced", stored->replaced,
                                         "evicted_entries", (json_int_t)stored->evicted_entries,
                                         "evicted_bytes", (json_int_t)stored->evicted_bytes));
    else
        printf("%s\n", hex);
    cairn__response__free_unpacked(response, NULL);
    return exit_code;
}

static int s_run_cache_put(const cli_t *cli, Cairn__Request *request, void *storage,
                           cli_conn_t *conn) {
    const cache_storage_t *cache = storage;
    const char *name = NULL;
    uint64_t total = 0;
    int exit_code = CLI_EXIT_OK;
    int fd = cli_open_input(cli, cli->args[0], &name, &total, &exit_code);
    if (fd < 0)
        return exit_code;
    uint8_t *data = NULL;
    size_t size = 0;
    int error = s_read_all(fd, CACHE_PUT_MAX, &data, &size);
    cli_close_input(fd);
    if (error == EFBIG)
        exit_code =
            cli_usage_error(cli, "%s is longer than %lld bytes, the most one CachePut takes", name,
                            (long long)CACHE_PUT_MAX);
    else if (error)
        exit_code = cli_io_error(cli, "read", name, error);
    else
        exit_code = s_cache_put_send(cli, conn, cache, (ProtobufCBinaryData){size, data});
    free(data);
    return exit_code;
}

//  ---- cache has / evict / clear / stats ----------------------------------------------------

static const char *s_build_cache_has(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    ca_request_cache_has(request, &cache->body.cache_has, 0, cache->hash, CA_HASH_BYTES);
    return cli_parse_hash(cli->args[0], "HASH", cache->hash);
}

static void s_print_cache_has(const answer_t *answer) {
    const Cairn__CachePresence *presence = answer->response->cache_has;
    cli_print_presence(answer, presence->cached, presence->size, "cached");
}

static json_t *s_json_cache_has(const answer_t *answer) {
    const cache_storage_t *cache = answer->storage;
    const Cairn__CachePresence *presence = answer->response->cache_has;
    return cli_json_presence(cache->hash, "cached", presence->cached, presence->size);
}

static const char *s_build_cache_evict(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    Cairn__CacheEvict *evict = &cache->body.cache_evict;
    ca_request_cache_evict(request, evict, 0, 0);
    return s_parse_bytes(cli->args[0], "BYTES", &evict->max_bytes);
}

static void s_print_evicted(const Cairn__CacheEvicted *evicted, const char *verb) {
    char freed[64];
    cli_format_bytes_exact(evicted->bytes, freed, sizeof freed);
    printf("%s %" PRIu64 " entr%s, freed %s\n", verb, evicted->entries,
           evicted->entries == 1 ? "y" : "ies", freed);
}

static json_t *s_json_evicted(const Cairn__CacheEvicted *evicted) {
    return json_pack("{s:I, s:I}", "entries", (json_int_t)evicted->entries, "bytes",
                     (json_int_t)evicted->bytes);
}

static void s_print_cache_evict(const answer_t *answer) {
    s_print_evicted(answer->response->cache_evict, "evicted");
}

static json_t *s_json_cache_evict(const answer_t *answer) {
    return s_json_evicted(answer->response->cache_evict);
}

static const char *s_build_cache_clear(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    ca_request_cache_clear(request, &cache->body.cache_clear, 0);
    return NULL;
}

static void s_print_cache_clear(const answer_t *answer) {
    s_print_evicted(answer->response->cache_clear, "cleared");
}

static json_t *s_json_cache_clear(const answer_t *answer) {
    return s_json_evicted(answer->response->cache_clear);
}

static const char *s_build_cache_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    cache_storage_t *cache = storage;
    ca_request_cache_stats(request, &cache->body.cache_stats, 0);
    return NULL;
}

static void s_print_cache_stats(const answer_t *answer) {
    const Cairn__CacheStatsReply *stats = answer->response->cache_stats;
    printf("cache\n");
    printf("  %-15s %" PRIu64 "\n", "entries", stats->entries);
    cli_print_field_bytes("bytes", stats->bytes);
    if (stats->max_bytes)
        cli_print_field_bytes("budget", stats->max_bytes);
    else
        printf("  %-15s unbounded (cache_max_bytes 0)\n", "budget");
}

static json_t *s_json_cache_stats(const answer_t *answer) {
    const Cairn__CacheStatsReply *stats = answer->response->cache_stats;
    return json_pack("{s:I, s:I, s:I}", "entries", (json_int_t)stats->entries, "bytes",
                     (json_int_t)stats->bytes, "max_bytes", (json_int_t)stats->max_bytes);
}

//  ---- details for `cairn COMMAND --help` ------------------------------------------------------

static const char s_cache_put_details[] =
    "Caches FILE (- reads standard input; at most one request, < 64 MiB) as\n"
    "content fetched from PEER_ID, queried at T (default now), with a payment\n"
    "receipt (--receipt: hex digits, or @FILE with the raw bytes; at most\n"
    "64 KiB). Sent under --expect HASH, else the SHA-256 computed here; the node\n"
    "refuses content that does not match it. Prints the hash. The cache is\n"
    "then trimmed to the node's cache_max_bytes, least recently used first\n"
    "(JSON: evicted_entries, evicted_bytes).\n";

static const char s_cache_get_details[] =
    "Writes a cached entry's bytes to standard output or -o FILE (renamed into\n"
    "place only when whole and matching HASH) and marks it used. With -o the\n"
    "output names the source peer and query time; JSON (needs -o) also has\n"
    "stored_at, last_access and the receipt as hex.\n";

static const char s_cache_evict_details[] =
    "Evicts least recently used entries until at most BYTES remain (0 empties\n"
    "the cache). BYTES may end in K, M or G (KiB, MiB, GiB).\n";

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"cache",
     "put",
     1,
     "FILE|-",
     "cache content fetched from a peer; print its SHA-256",
     {{"peer", "PEER_ID", true},
      {"expect", "HASH", false},
      {"receipt", "HEX|@FILE", false},
      {"queried-at", "T", false}},
     s_build_cache_put,
     NULL,
     NULL,
     s_cache_put_details,
     s_run_cache_put,
     {CAIRN__REQUEST__BODY_CACHE_PUT}},
    {"cache",
     "get",
     1,
     "HASH",
     "write a cached entry to stdout or FILE",
     {{"o", "FILE", false}, {"skip-verify", NULL, false}},
     s_build_cache_get,
     NULL,
     NULL,
     s_cache_get_details,
     s_run_cache_get,
     {CAIRN__REQUEST__BODY_CACHE_GET}},
    {"cache",
     "has",
     1,
     "HASH",
     "tell whether an entry is cached (exit 0 either way)",
     {{NULL, NULL, false}},
     s_build_cache_has,
     s_print_cache_has,
     s_json_cache_has,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CACHE_HAS}},
    {"cache",
     "evict",
     1,
     "BYTES",
     "evict least recently used entries down to BYTES",
     {{NULL, NULL, false}},
     s_build_cache_evict,
     s_print_cache_evict,
     s_json_cache_evict,
     s_cache_evict_details,
     NULL,
     {CAIRN__REQUEST__BODY_CACHE_EVICT}},
    {"cache",
     "clear",
     0,
     "",
     "remove every cached entry",
     {{NULL, NULL, false}},
     s_build_cache_clear,
     s_print_cache_clear,
     s_json_cache_clear,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CACHE_CLEAR}},
    {"cache",
     "stats",
     0,
     "",
     "entries, bytes and the budget (cache_max_bytes)",
     {{NULL, NULL, false}},
     s_build_cache_stats,
     s_print_cache_stats,
     s_json_cache_stats,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_CACHE_STATS}},
};

CLI_FAMILY(cache, s_rows, cache_storage_t);

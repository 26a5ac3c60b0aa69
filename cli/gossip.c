/*  =========================================================================
    gossip - the `cairn` client's gossip cache commands

    Rows of the shared command table (cli.h); cairn.c parses, sends,
    waits and reports for them as for every other row.

        command       request      answer
        ------------  -----------  ----------
        gossip add    GossipAdd    GossipSeen
        gossip has    GossipHas    GossipSeen
        gossip clean  GossipClean  Deleted
        gossip stats  GossipStats  GossipStatsReply

    The gossip cache holds the ids of messages this node has seen, each
    with the hops it may still travel (ttl); `gossip has` answers yes or
    no and exits 0 either way, and `gossip clean` drops entries older
    than --max-age seconds; `gossip stats` says how many entries there
    are and how old the oldest is.
    ========================================================================= */

#include "cli.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

//  ---- the family's storage ---------------------------------------------------------

//  What one row's request points at.
typedef union {
    Cairn__GossipAdd gossip_add;
    Cairn__GossipHas gossip_has;
    Cairn__GossipClean gossip_clean;
    Cairn__GossipStats gossip_stats;
} gossip_storage_t;

//  ---- gossip add / has / clean ---------------------------------------------------------------

static const char *s_build_gossip_add(const cli_t *cli, Cairn__Request *request, void *storage) {
    gossip_storage_t *body = storage;
    Cairn__GossipAdd *add = &body->gossip_add;
    cairn__gossip_add__init(add);
    add->message_id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_GOSSIP_ADD;
    request->gossip_add = add;
    const char *ttl = cli_option(cli, "ttl");
    return ttl ? cli_parse_u32(ttl, "--ttl", 1, UINT32_MAX, &add->ttl) : NULL;
}

static void s_print_gossip_add(const answer_t *answer) {
    const Cairn__GossipSeen *seen = answer->response->gossip_add;
    //  The ttl in the answer is the one asked for, not the stored one.
    if (seen->added)
        printf("added %s (ttl %" PRIu32 ")\n", answer->cli->args[0], seen->ttl);
    else
        printf("already seen %s\n", answer->cli->args[0]);
}

static json_t *s_json_gossip_seen(const answer_t *answer, const Cairn__GossipSeen *seen) {
    return json_pack("{s:s, s:b, s:b, s:I}", "message_id", answer->cli->args[0], "seen", seen->seen,
                     "added", seen->added, "ttl", (json_int_t)seen->ttl);
}

static json_t *s_json_gossip_add(const answer_t *answer) {
    return s_json_gossip_seen(answer, answer->response->gossip_add);
}

static const char *s_build_gossip_has(const cli_t *cli, Cairn__Request *request, void *storage) {
    gossip_storage_t *body = storage;
    Cairn__GossipHas *has = &body->gossip_has;
    cairn__gossip_has__init(has);
    has->message_id = cli->args[0];
    request->body_case = CAIRN__REQUEST__BODY_GOSSIP_HAS;
    request->gossip_has = has;
    return NULL;
}

static void s_print_gossip_has(const answer_t *answer) {
    const Cairn__GossipSeen *seen = answer->response->gossip_has;
    if (seen->seen)
        printf("seen %s (ttl %" PRIu32 ")\n", answer->cli->args[0], seen->ttl);
    else
        printf("not seen %s\n", answer->cli->args[0]);
}

static json_t *s_json_gossip_has(const answer_t *answer) {
    return s_json_gossip_seen(answer, answer->response->gossip_has);
}

static const char *s_build_gossip_clean(const cli_t *cli, Cairn__Request *request, void *storage) {
    gossip_storage_t *body = storage;
    Cairn__GossipClean *clean = &body->gossip_clean;
    cairn__gossip_clean__init(clean);
    request->body_case = CAIRN__REQUEST__BODY_GOSSIP_CLEAN;
    request->gossip_clean = clean;
    const char *max_age = cli_option(cli, "max-age");
    return max_age ? cli_parse_u32(max_age, "--max-age", 1, UINT32_MAX, &clean->max_age_s) : NULL;
}

static void s_print_gossip_clean(const answer_t *answer) {
    printf("deleted %" PRIu64 " gossip entries\n", answer->response->gossip_clean->count);
}

static json_t *s_json_gossip_clean(const answer_t *answer) {
    return json_pack("{s:I}", "count", (json_int_t)answer->response->gossip_clean->count);
}

//  ---- gossip stats -----------------------------------------------------------------------

static const char *s_build_gossip_stats(const cli_t *cli, Cairn__Request *request, void *storage) {
    gossip_storage_t *body = storage;
    Cairn__GossipStats *stats = &body->gossip_stats;
    cairn__gossip_stats__init(stats);
    request->body_case = CAIRN__REQUEST__BODY_GOSSIP_STATS;
    request->gossip_stats = stats;
    return NULL;
}

static void s_print_gossip_stats(const answer_t *answer) {
    const Cairn__GossipStatsReply *stats = answer->response->gossip_stats;
    printf("  entries         %" PRIu64 "\n", stats->entries);
    cli_print_field_time("oldest seen", stats->oldest_seen_at);
    cli_print_field_time("newest seen", stats->newest_seen_at);
    printf("  max age         %" PRIu32 " s\n", stats->max_age_s);
}

static json_t *s_json_gossip_stats(const answer_t *answer) {
    const Cairn__GossipStatsReply *stats = answer->response->gossip_stats;
    return json_pack("{s:I, s:f, s:f, s:I}", "entries", (json_int_t)stats->entries,
                     "oldest_seen_at", stats->oldest_seen_at, "newest_seen_at",
                     stats->newest_seen_at, "max_age_s", (json_int_t)stats->max_age_s);
}

//  ---- the table ---------------------------------------------------------------------------------

static const command_t s_rows[] = {
    {"gossip",
     "add",
     1,
     "MESSAGE_ID",
     "record a message id seen in gossip (ttl default 5)",
     {{"ttl", "N", false}},
     s_build_gossip_add,
     s_print_gossip_add,
     s_json_gossip_add,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_GOSSIP_ADD}},
    {"gossip",
     "has",
     1,
     "MESSAGE_ID",
     "tell whether a message id was seen (exit 0 either way)",
     {{NULL, NULL, false}},
     s_build_gossip_has,
     s_print_gossip_has,
     s_json_gossip_has,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_GOSSIP_HAS}},
    {"gossip",
     "clean",
     0,
     "",
     "remove entries older than S seconds (default: node's)",
     {{"max-age", "S", false}},
     s_build_gossip_clean,
     s_print_gossip_clean,
     s_json_gossip_clean,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_GOSSIP_CLEAN}},
    {"gossip",
     "stats",
     0,
     "",
     "count the entries and show the oldest and newest",
     {{NULL, NULL, false}},
     s_build_gossip_stats,
     s_print_gossip_stats,
     s_json_gossip_stats,
     NULL,
     NULL,
     {CAIRN__REQUEST__BODY_GOSSIP_STATS}},
};

CLI_FAMILY(gossip, s_rows, gossip_storage_t);

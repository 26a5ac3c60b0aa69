/*  =========================================================================
    selftest - runs the self-test of one class, or of all of them

        cairn-selftest [-v] [CLASS...]
        cairn-selftest --list


    Each class's x_test() sits at the bottom of its own file, as in CZMQ;
    ctest registers one test per class: `--list` prints "selftest.CLASS
    -v CLASS" for each row of s_tests, and tests/CMakeLists.txt turns the
    lines into tests, so a class is named here only.
    ========================================================================= */

#include "ca_arena.h"
#include "ca_log.h"
#include "ca_blobs.h"
#include "ca_curve.h"
#include "cache.h"
#include "ledger.h"
#include "oplog.h"
#include "oplog_encoding.h"
#include "ca_envelope.h"
#include "ca_hashset.h"
#include "ca_hash.h"
#include "ca_negentropy.h"
#include "ca_names.h"
#include "ca_reach.h"
#include "ca_sql.h"
#include "ca_status.h"
#include "ca_validate.h"
#include "channel_auth.h"
#include "channels.h"
#include "config_store.h"
#include "content.h"
#include "gateway.h"
#include "gateway_bytes.h"
#include "gateway_clients.h"
#include "gateway_connections.h"
#include "gateway_metrics.h"
#include "gossip.h"
#include "logbook.h"
#include "documents.h"
#include "documents_json.h"
#include "kv.h"
#include "manifests.h"
#include "messages.h"
#include "messages_schema.h"
#include "node_config.h"
#include "node_probe.h"
#include "subscriptions.h"
#include "peer.h"
#include "peer_gossip.h"
#include "peer_oplog.h"
#include "peers.h"
#include "provenance.h"
#include "settlement.h"
#include "writer.h"
#include "ca_sign.h"
#include "message_encoding.h"
#include "identity.h"
#include "node.h"

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*test)(bool verbose);
} selftest_t;

static const selftest_t s_tests[] = {
    {"ca_status", ca_status_test},
    {"ca_arena", ca_arena_test},
    {"ca_log", ca_log_test},
    {"ca_envelope", ca_envelope_test},
    {"ca_validate", ca_validate_test},
    {"ca_names", ca_names_test},
    {"ca_sql", ca_sql_test},
    {"ca_reach", ca_reach_test},
    {"ca_hash", ca_hash_test},
    {"ca_negentropy", ca_negentropy_test},
    {"ca_blobs", ca_blobs_test},
    {"node_config", node_config_test},
    {"node_probe", node_probe_test},
    {"subscriptions", subscriptions_test},
    {"writer", writer_test},
    {"config_store", config_store_test},
    {"messages_schema", messages_schema_test},
    {"channels", channels_test},
    {"channel_auth", channel_auth_test},
    {"messages", messages_test},
    {"peers", peers_test},
    {"peer", peer_test},
    {"peer_gossip", peer_gossip_test},
    {"peer_oplog", peer_oplog_test},
    {"gossip", gossip_test},
    {"logbook", logbook_test},
    {"documents", documents_test},
    {"documents_json", documents_json_test},
    {"kv", kv_test},
    {"content", content_test},
    {"cache", cache_test},
    {"ca_hashset", ca_hashset_test},
    {"provenance", provenance_test},
    {"manifests", manifests_test},
    {"settlement", settlement_test},
    {"ledger", ledger_test},
    {"ca_sign", ca_sign_test},
    {"message_encoding", message_encoding_test},
    {"oplog_encoding", oplog_encoding_test},
    {"oplog", oplog_test},
    {"ca_curve_key", ca_curve_key_test},
    {"ca_curve", ca_curve_test},
    {"identity", identity_test},
    {"node", node_test},
    {"ca_store", ca_store_test},
    {"gateway", gateway_test},
    {"gateway_bytes", gateway_bytes_test},
    {"gateway_clients", gateway_clients_test},
    {"gateway_connections", gateway_connections_test},
    {"gateway_metrics", gateway_metrics_test},
};

int main(int argc, char **argv) {
    zsys_init();
    if (sodium_init() < 0)
        return 1;
    size_t count = sizeof s_tests / sizeof s_tests[0];
    if (argc == 2 && streq(argv[1], "--list")) {
        for (size_t i = 0; i < count; i++)
            printf("selftest.%s -v %s\n", s_tests[i].name, s_tests[i].name);
        return 0;
    }
    bool verbose = false;
    int first = 1;
    if (argc > 1 && streq(argv[1], "-v")) {
        verbose = true;
        first = 2;
    }
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        bool selected = first >= argc;
        for (int a = first; a < argc && !selected; a++)
            selected = streq(argv[a], s_tests[i].name);
        if (selected) {
            s_tests[i].test(verbose);
            ran++;
        }
    }
    if (ran == 0 || ran < argc - first) {
        fprintf(stderr, "selftest: unknown class name; known:");
        for (size_t i = 0; i < count; i++)
            fprintf(stderr, " %s", s_tests[i].name);
        fprintf(stderr, "\n");
        return 1;
    }
    return 0;
}

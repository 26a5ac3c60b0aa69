/*  =========================================================================
    node_config - cairnd's settings: defaults, file, environment, flags

    One table (node_config.c) lists every setting with its flag, its
    CAIRN_* environment name, its path in the ZPL config file, its default
    and its help line; --help, --print-config, the parsers and the README's
    config table all follow it. Precedence, lowest first:

        defaults < config file (--config FILE / CAIRN_CONFIG) < CAIRN_* < flags
    ========================================================================= */

#ifndef NODE_CONFIG_H_INCLUDED
#define NODE_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    char *data_dir;
    char *client_endpoint;
    char *client_auth;        //  "auto", "curve" or "none"
    int64_t insecure_no_auth; //  1: a non-loopback endpoint may run without CURVE
    int64_t max_frame_bytes;
    int64_t max_clients; //  0: from the descriptor limit (node.c, s_max_clients)
    char *log_level;
    char *log_format;        //  "text" or "json"
    int64_t slow_request_ms; //  0: no slow-request log
    char *synchronous;       //  "normal" or "full"
    int64_t writer_batch;
    int64_t max_db_bytes;
    char *start_check; //  "quick" or "off"
    int64_t min_free_bytes;
    int64_t workers;
    int64_t queue_max;
    int64_t queue_bytes;
    int64_t client_in_flight_max;
    int64_t client_answer_bytes_max;
    int64_t answer_bytes_max;
    int64_t max_blob_bytes;
    int64_t content_quota_bytes;
    int64_t doc_max_bytes;
    char *backup_root;
    int64_t kv_max_value_bytes;
    int64_t drain_ms;
    int64_t max_content_bytes;
    int64_t gossip_max_age_s;
    int64_t oplog_hold_max_s;
    int64_t maintenance_ms;
    int64_t cache_max_bytes;
    int64_t stream_timeout_ms;
    char *peer_endpoint;   //  "off": no peer endpoint, no peer actor
    char *peer_admission;  //  "open" or "allow-list"
    char *bootstrap_peers; //  "none", or PEER_ID@ADDRESS:PORT[,...]
    int64_t peer_max;
    int64_t peer_heartbeat_ms;
    int64_t peer_in_flight_bytes;
    int64_t gossip_ttl;
    int64_t reconcile_ms;
    int64_t oplog_sync_ms;
    char *metrics_endpoint; //  "off": no metrics endpoint
} node_config_t;

//  A config with every default.
node_config_t *node_config_new(void);
void node_config_destroy(node_config_t **self_p);

//  Sets one setting by its name (e.g. "data_dir") from text, validating it.
//  Returns 0, or -1 with *error set (caller frees).
int node_config_set(node_config_t *self, const char *name, const char *value, char **error);

//  Applies a ZPL config file. Unknown keys are errors (a typo must not pass
//  silently). Returns 0 or -1 with *error.
int node_config_load_file(node_config_t *self, const char *path, char **error);

//  Applies every CAIRN_* variable that names a setting. Returns 0 or -1.
int node_config_load_env(node_config_t *self, char **error);

//  Writes the settings as a ZPL file that --config accepts.
void node_config_print(node_config_t *self, FILE *out);

//  Writes one help line per setting: flag, environment name, default.
void node_config_print_help(FILE *out);

//  Number of settings, and the name / flag of setting i (for getopt).
size_t node_config_count(void);
const char *node_config_name(size_t index);
const char *node_config_flag(size_t index);

//  Whether setting i is a switch (true/false): its flag may be given alone
//  ("--insecure-no-auth" means true).
bool node_config_is_switch(size_t index);

//  Whether setting i has the same value in `a` and `b` (for SIGHUP).
bool node_config_same(const node_config_t *a, const node_config_t *b, size_t index);

//  Whether `name` (its first `length` bytes) is a setting's environment
//  variable (CAIRN_DATA_DIR...).
bool node_config_env_known(const char *name, size_t length);

void node_config_test(bool verbose);

#endif

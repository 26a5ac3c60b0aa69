/*  =========================================================================
    cairnd - the cairn storage node daemon

    main() owns the process: it merges the configuration (flags > CAIRN_*
    environment > config file > defaults), starts the node, and waits for
    SIGINT or SIGTERM on a signalfd. CZMQ's own signal handler is switched
    off: it would make every actor's poller report "terminated" at once, and
    the node could not drain in order. With ours, a signal starts the
    orderly stop (node_stop): new requests get UNAVAILABLE, accepted ones
    are answered, queued writes commit, then the actors close, and the
    process exits 0.

    Identity: `cairnd identity init|show|passwd` manage the node's Ed25519
    key pair (node/identity.c) and exit. At start, when the data dir holds
    an identity, cairnd unlocks it before any thread starts, with the
    password from --identity-password-file, CAIRN_IDENTITY_PASSWORD or a
    terminal prompt; a wrong one ends the start with exit 1. Without an
    identity the node runs anonymously (Info.peer_id empty).
    ========================================================================= */

#include "ca_curve.h"
#include "ca_env.h"
#include "ca_hash.h"
#include "ca_limits.h"
#include "ca_validate.h"
#include "ca_log.h"
#include "identity.h"
#include "node.h"
#include "node_check.h"
#include "node_restore.h"
#include "node_export.h"
#include "node_config.h"
#include "node_notify.h"

#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <google/protobuf-c/protobuf-c.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum {
    OPT_CONFIG = 1000,
    OPT_HELP,
    OPT_VERSION,
    OPT_PRINT_CONFIG,
    OPT_IDENTITY_PASSWORD_FILE,
    OPT_NEW_PASSWORD_FILE,
    OPT_CIPHER,
    OPT_SETTING = 2000
};

#define PASSWORD_ENV     CA_ENV_IDENTITY_PASSWORD
#define NEW_PASSWORD_ENV CA_ENV_IDENTITY_NEW_PASSWORD

//  What the identity options and subcommand said.
typedef struct {
    const char *command;           //  identity subcommand: init, show, passwd
    const char *password_file;     //  --identity-password-file
    const char *new_password_file; //  --new-identity-password-file (passwd)
    const char *cipher;            //  --cipher (init, passwd)
} identity_args_t;

//  The settings ca_log holds, which a SIGHUP applies here (the others a
//  SIGHUP applies are node_reloadable's).
static bool s_log_setting(const char *name) {
    return streq(name, "log_level") || streq(name, "log_format") || streq(name, "slow_request_ms");
}

static void s_print_usage(FILE *out) {
    fprintf(out,
            "usage: cairnd [--config FILE] [--identity-password-file FILE] "
            "[--SETTING=VALUE ...]\n"
            "       cairnd identity init|show|passwd [--config FILE] [--data-dir DIR] ...\n"
            "       cairnd server-key [--config FILE] [--data-dir DIR]\n"
            "       cairnd check [--config FILE] [--data-dir DIR]\n"
            "       cairnd restore BACKUP_DIR --data-dir NEW_DIR\n"
            "       cairnd export|import FILE|- [--data-dir DIR] [--skip-redis]\n"
            "       cairnd --help | --version | --print-config\n\n"
            "cairn storage node. Settings, lowest precedence first: defaults, config file\n"
            "(ZPL, see deploy/cairnd.cfg), CAIRN_* environment, command-line flags.\n\n"
            "  --config=FILE       config file to read (environment: CAIRN_CONFIG)\n"
            "  --print-config      print the effective configuration as ZPL and exit\n"
            "  --version           print versions of cairnd and its libraries and exit\n"
            "  --help              print this help and exit\n"
            "  --identity-password-file=FILE\n"
            "                      password of the node identity (else " PASSWORD_ENV "\n"
            "                      or a prompt on the terminal; never an argument)\n\n"
            "Identity (the node's Ed25519 key pair in DATA_DIR/identity/, encrypted):\n"
            "  cairnd identity init    create it (never overwrites one); prints the peer id\n"
            "  cairnd identity show    print the peer id (no password needed)\n"
            "  cairnd identity passwd  re-encrypt under a new password: the new one from\n"
            "                          --new-identity-password-file=FILE, " NEW_PASSWORD_ENV "\n"
            "                          or the prompt (asked twice)\n"
            "  --cipher=auto|aes256gcm|xchacha20poly1305  (init, passwd) auto: AES-256-GCM\n"
            "                          where the CPU supports it, else XChaCha20-Poly1305\n"
            "  With an identity, cairnd unlocks it at start: a wrong password exits 1.\n\n"
            "Client authentication (CURVE; see client_auth below and the README):\n"
            "  cairnd server-key       print the client endpoint's server public key (Z85),\n"
            "                          which clients pass as cairn --server-key: derived from\n"
            "                          the identity, else DATA_DIR/curve/server.key (made if\n"
            "                          absent). Allowed clients: DATA_DIR/curve/clients, one\n"
            "                          public key a line (from cairn keygen), re-read when it\n"
            "                          changes, at the next connection.\n\n"
            "Offline check (the node must be stopped):\n"
            "  cairnd check            PRAGMA integrity_check and foreign_key_check of\n"
            "                          cairn.db, its WAL, the schema versions, and every blob\n"
            "                          file against its index (missing, wrong size or hash,\n"
            "                          no row). One line per finding; exit 0 clean, 1 damage\n"
            "                          found, 2 could not check (usage, no database, node\n"
            "                          running).\n"
            "  cairnd restore BACKUP_DIR --data-dir NEW_DIR\n"
            "                          install a backup made by `cairn backup` into a new or\n"
            "                          empty data dir: checks its MANIFEST, cairn.db's size\n"
            "                          and SHA-256, then `cairnd check` on the copy; exit 0\n"
            "                          restored, 1 damaged backup (nothing installed), 2\n"
            "                          usage or a data dir that is not empty.\n"
            "  cairnd export FILE|-    every store as JSON lines (docs/EXPORT.md) into FILE\n"
            "                          or stdout; for a serving node, export a `cairn backup`\n"
            "  cairnd import FILE|- --data-dir NEW_DIR\n"
            "                          read an export into a new or empty data dir (checked,\n"
            "                          all or nothing). --skip-redis: leave Redis namespaces'\n"
            "                          keys out. Exit 0 done, 1 failed (damaged file, I/O,\n"
            "                          Redis), 2 usage, node running, non-empty data dir.\n\n"
            "Settings:\n");
    node_config_print_help(out);
    fprintf(out, "\nSignals: SIGINT/SIGTERM stop cleanly (answer accepted requests, commit,\n"
                 "exit 0). SIGHUP reads the configuration again; these settings apply at\n"
                 "once, other changes log \"restart required\":\n ");
    size_t column = 1;
    for (size_t i = 0; i < node_config_count(); i++) {
        const char *name = node_config_name(i);
        if (!s_log_setting(name) && !node_reloadable(name))
            continue;
        if (column + strlen(name) + 2 > 78) {
            fprintf(out, "\n ");
            column = 1;
        }
        column += (size_t)fprintf(out, " %s", name);
    }
    fprintf(out, "\nExit status: 0 clean stop, 1 start-up or runtime error, 2 usage.\n");
}

static void s_print_version(void) {
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("cairnd %s (wire API %d)\n", CAIRN_VERSION, CA_API_VERSION);
    printf("  libzmq     %d.%d.%d\n", major, minor, patch);
    zsys_version(&major, &minor, &patch);
    printf("  CZMQ       %d.%d.%d\n", major, minor, patch);
    printf("  libsodium  %s\n", sodium_version_string());
    printf("  SQLite     %s\n", sqlite3_libversion());
    printf("  protobuf-c %s\n", protobuf_c_version());
    printf("  SHA-256    %s\n", ca_sha256_backend_version());
}

typedef struct {
    size_t index;
    const char *value;
} flag_t;

//  Parses argv. Returns -1 to exit 2 (usage), 1 to exit 0 (help/version
//  printed), 0 to go on.
static int s_parse_args(int argc, char **argv, const char **config_path, bool *print_config,
                        flag_t *flags, size_t *flag_count, identity_args_t *identity) {
    size_t settings = node_config_count();
    enum { FIXED = 7 };
    struct option *options = (struct option *)calloc(settings + FIXED + 1, sizeof(struct option));
    options[0] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    options[1] = (struct option){"help", no_argument, NULL, OPT_HELP};
    options[2] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    options[3] = (struct option){"print-config", no_argument, NULL, OPT_PRINT_CONFIG};
    options[4] = (struct option){"identity-password-file", required_argument, NULL,
                                 OPT_IDENTITY_PASSWORD_FILE};
    options[5] = (struct option){"new-identity-password-file", required_argument, NULL,
                                 OPT_NEW_PASSWORD_FILE};
    options[6] = (struct option){"cipher", required_argument, NULL, OPT_CIPHER};
    for (size_t i = 0; i < settings; i++)
        options[FIXED + i] = (struct option){
            node_config_flag(i), node_config_is_switch(i) ? optional_argument : required_argument,
            NULL, OPT_SETTING + (int)i};
    int rc = 0, opt;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            *config_path = optarg;
        else if (opt == OPT_HELP || opt == 'h') {
            s_print_usage(stdout);
            rc = 1;
        } else if (opt == OPT_VERSION) {
            s_print_version();
            rc = 1;
        } else if (opt == OPT_PRINT_CONFIG)
            *print_config = true;
        else if (opt == OPT_IDENTITY_PASSWORD_FILE)
            identity->password_file = optarg;
        else if (opt == OPT_NEW_PASSWORD_FILE)
            identity->new_password_file = optarg;
        else if (opt == OPT_CIPHER)
            identity->cipher = optarg;
        else if (opt >= OPT_SETTING)
            flags[(*flag_count)++] =
                (flag_t){(size_t)(opt - OPT_SETTING), optarg ? optarg : "true"};
        else {
            fprintf(stderr, "cairnd: unknown or incomplete option '%s'; see cairnd --help\n",
                    argv[optind - 1]);
            rc = -1;
        }
    }
    if (rc == 0 && identity->command && optind < argc)
        identity->command = argv[optind++];
    if (rc == 0 && !identity->command && (identity->new_password_file || identity->cipher)) {
        fprintf(stderr, "cairnd: --new-identity-password-file and --cipher belong to cairnd "
                        "identity init|passwd; see cairnd --help\n");
        rc = -1;
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "cairnd: unexpected argument '%s'; see cairnd --help\n", argv[optind]);
        rc = -1;
    }
    free(options);
    return rc;
}

//  Merges file, environment and flags into `config`; 0 or -1 with *error.
static int s_merge_config(node_config_t *config, const char *config_path, const flag_t *flags,
                          size_t flag_count, char **error) {
    if (!config_path)
        config_path = getenv(CA_ENV_CONFIG);
    int rc = config_path ? node_config_load_file(config, config_path, error) : 0;
    if (rc == 0)
        rc = node_config_load_env(config, error);
    for (size_t i = 0; rc == 0 && i < flag_count; i++)
        rc = node_config_set(config, node_config_name(flags[i].index), flags[i].value, error);
    return rc;
}

//  The settings ca_log holds (level, format, slow-request threshold): at
//  start and on SIGHUP.
static void s_apply_log_settings(const node_config_t *config) {
    ca_log_set_level((ca_log_level_t)ca_log_level_parse(config->log_level));
    ca_log_set_format((ca_log_format_t)ca_log_format_parse(config->log_format));
    ca_log_set_slow_ms(config->slow_request_ms);
}

//  Settings a SIGHUP applies to the running node: the log settings here,
//  the limits, bootstrap peers and peer admission through node_reload;
//  every other one is read at start only. max_clients back to 0 (sized
//  from the descriptors) waits for a restart: the sizing counts what is
//  open at start.
static bool s_reloadable(const char *name, const node_config_t *fresh) {
    if (streq(name, "max_clients"))
        return fresh->max_clients > 0;
    return s_log_setting(name) || node_reloadable(name);
}

//  SIGHUP: reads the configuration again as at start (file, CAIRN_*, the
//  flags given) and applies what can change while the node serves
//  (s_reloadable). Every other changed setting is logged as "restart
//  required", against the settings the node started with. A configuration
//  that does not load changes nothing. The allow-lists need no signal: the
//  client one (DATA_DIR/curve/clients) is checked at every CURVE handshake,
//  the peer one is the peers table (cairn peer allow|block).
static void s_reload(node_t *node, const node_config_t *started, node_config_t **applied_p,
                     const char *config_path, const flag_t *flags, size_t flag_count) {
    node_config_t *fresh = node_config_new();
    char *error = NULL;
    if (s_merge_config(fresh, config_path, flags, flag_count, &error) != 0) {
        ca_log_error("cairnd: SIGHUP: the configuration was not reloaded, every setting stays "
                     "as it was: %s",
                     error);
        free(error);
        node_config_destroy(&fresh);
        return;
    }
    const node_config_t *before = *applied_p ? *applied_p : started;
    s_apply_log_settings(fresh); //  first: what follows is logged as it says
    const char *failed = NULL;
    if (node_reload(node, fresh, &error, &failed) != 0) {
        ca_log_error("cairnd: SIGHUP: %s", error);
        free(error);
    }
    size_t restart = 0;
    for (size_t i = 0; i < node_config_count(); i++) {
        const char *name = node_config_name(i);
        if (s_reloadable(name, fresh)) {
            if (!node_config_same(before, fresh, i) && !(failed && streq(failed, name)))
                ca_log_notice("cairnd: SIGHUP: %s changed, applied", name);
        } else if (!node_config_same(started, fresh, i)) {
            ca_log_warning("cairnd: restart required: %s (changed in the configuration; the "
                           "node keeps the value it started with until it restarts)",
                           name);
            restart++;
        }
    }
    ca_log_notice("cairnd: SIGHUP: configuration reloaded (log_level %s, log_format %s, "
                  "slow_request_ms %lld; %zu setting(s) wait for a restart)",
                  fresh->log_level, fresh->log_format, (long long)fresh->slow_request_ms, restart);
    node_config_destroy(applied_p);
    *applied_p = fresh;
}

//  A CAIRN_* variable that is neither a setting's nor one of ca_env.h's
//  is most likely a misspelt setting: said, not ignored.
static void s_warn_unknown_env(void) {
    static const char *const others[] = CA_ENV_OTHERS;
    for (char **entry = environ; *entry; entry++) {
        if (strncmp(*entry, "CAIRN_", 6) != 0)
            continue;
        size_t length = strcspn(*entry, "=");
        bool known = node_config_env_known(*entry, length);
        for (size_t i = 0; !known && others[i]; i++)
            known = strlen(others[i]) == length && strncmp(others[i], *entry, length) == 0;
        if (!known)
            ca_log_warning("cairnd: the environment variable %.*s is not read by cairn (a "
                           "misspelt setting? cairnd --help lists them)",
                           (int)length, *entry);
    }
}

//  Blocks SIGINT/SIGTERM/SIGHUP in every thread (actors inherit the mask)
//  and returns a signalfd that reports them to main.
static int s_signal_fd(void) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &signals, SFD_CLOEXEC);
}

//  The next signal's number (SIGTERM when the signalfd fails: stop).
static int s_wait_for_signal(int fd) {
    struct pollfd item = {fd, POLLIN, 0};
    while (poll(&item, 1, -1) < 0 && errno == EINTR)
        ;
    struct signalfd_siginfo info;
    if (read(fd, &info, sizeof info) != (ssize_t)sizeof info)
        return SIGTERM;
    ca_log_info("cairnd: received %s", strsignal((int)info.ssi_signo));
    return (int)info.ssi_signo;
}

//  ---- identity --------------------------------------------------------------------

static const char *s_password_hint = "--identity-password-file FILE or " PASSWORD_ENV;
static const char *s_new_password_hint = "--new-identity-password-file FILE or " NEW_PASSWORD_ENV;

static int s_fail(char *error) {
    fprintf(stderr, "cairnd: %s\n", error);
    free(error);
    return 1;
}

static int s_parse_cipher(const char *text, identity_cipher_t *cipher) {
    if (!text || streq(text, "auto"))
        *cipher = IDENTITY_CIPHER_AUTO;
    else if (streq(text, "aes256gcm"))
        *cipher = IDENTITY_CIPHER_AES256GCM;
    else if (streq(text, "xchacha20poly1305"))
        *cipher = IDENTITY_CIPHER_XCHACHA20POLY1305;
    else {
        fprintf(stderr, "cairnd: --cipher must be auto, aes256gcm or xchacha20poly1305, not '%s'\n",
                text);
        return -1;
    }
    return 0;
}

static int s_identity_init(const node_config_t *config, const identity_args_t *args,
                           identity_cipher_t cipher) {
    if (identity_exists(config->data_dir)) {
        char *path = identity_path(config->data_dir);
        char *error = zsys_sprintf("an identity already exists at %s; init never overwrites one "
                                   "(change its password with cairnd identity passwd, or move "
                                   "it away to start afresh)",
                                   path);
        zstr_free(&path);
        return s_fail(error);
    }
    identity_password_t password;
    char *error = NULL;
    if (identity_password_read(args->password_file, PASSWORD_ENV, "New identity password: ", true,
                               s_password_hint, &password, &error) != 0)
        return s_fail(error);
    char peer_id[IDENTITY_PEER_ID_SIZE];
    int rc = identity_create(config->data_dir, &password, cipher, peer_id, &error);
    identity_password_free(&password);
    if (rc != 0)
        return s_fail(error);
    char *path = identity_path(config->data_dir);
    fprintf(stderr, "cairnd: created the node identity %s\n", path);
    zstr_free(&path);
    printf("%s\n", peer_id);
    return 0;
}

static int s_identity_show(const node_config_t *config) {
    char peer_id[IDENTITY_PEER_ID_SIZE];
    char *error = NULL;
    if (identity_read_peer_id(config->data_dir, peer_id, &error) != 0)
        return s_fail(error);
    printf("%s\n", peer_id);
    return 0;
}

static int s_identity_passwd(const node_config_t *config, const identity_args_t *args,
                             identity_cipher_t cipher) {
    char *error = NULL;
    char peer_id[IDENTITY_PEER_ID_SIZE];
    if (identity_read_peer_id(config->data_dir, peer_id, &error) != 0)
        return s_fail(error);
    identity_password_t old_password, new_password;
    if (identity_password_read(args->password_file, PASSWORD_ENV, "Current identity password: ",
                               false, s_password_hint, &old_password, &error) != 0)
        return s_fail(error);
    if (identity_password_read(args->new_password_file, NEW_PASSWORD_ENV, "New identity password: ",
                               true, s_new_password_hint, &new_password, &error) != 0) {
        identity_password_free(&old_password);
        return s_fail(error);
    }
    int rc =
        identity_change_password(config->data_dir, &old_password, &new_password, cipher, &error);
    identity_password_free(&old_password);
    identity_password_free(&new_password);
    if (rc != 0)
        return s_fail(error);
    printf("%s\n", peer_id);
    fprintf(stderr, "cairnd: the identity's password is changed\n");
    return 0;
}

//  Checks a subcommand's parsed arguments: 0, or -1 after saying why.
typedef int (*args_check_fn)(const identity_args_t *args, bool print_config);

//  A subcommand's arguments (argv[0] is its word): parsed into *args,
//  checked by `check`, and the settings merged into a new *config_p.
//  0, or -1 (exit 2) / 1 (exit 0, help printed) with *config_p NULL.
static int s_subcommand_args(int argc, char **argv, identity_args_t *args, args_check_fn check,
                             node_config_t **config_p) {
    flag_t *flags = (flag_t *)calloc((size_t)argc + 1, sizeof(flag_t));
    size_t flag_count = 0;
    const char *config_path = NULL;
    bool print_config = false;
    int rc = s_parse_args(argc, argv, &config_path, &print_config, flags, &flag_count, args);
    if (rc == 0)
        rc = check(args, print_config);
    node_config_t *config = node_config_new();
    char *error = NULL;
    if (rc == 0 && s_merge_config(config, config_path, flags, flag_count, &error) != 0) {
        fprintf(stderr, "cairnd: %s\n", error);
        free(error);
        rc = -1;
    }
    free(flags);
    if (rc != 0)
        node_config_destroy(&config);
    *config_p = config;
    return rc;
}

static int s_identity_check(const identity_args_t *args, bool print_config) {
    identity_cipher_t cipher;
    if (!streq(args->command, "init") && !streq(args->command, "show") &&
        !streq(args->command, "passwd")) {
        fprintf(stderr,
                "cairnd: identity needs a command: init, show or passwd%s%s%s; see cairnd "
                "--help\n",
                *args->command ? " (not '" : "", args->command, *args->command ? "')" : "");
        return -1;
    }
    if (print_config) {
        fprintf(stderr, "cairnd: --print-config does not go with identity; see cairnd --help\n");
        return -1;
    }
    return s_parse_cipher(args->cipher, &cipher);
}

//  `cairnd identity ...`: argv[0] is "identity". Exit status as main's.
static int s_identity_main(int argc, char **argv) {
    identity_args_t args = {.command = ""};
    node_config_t *config = NULL;
    int rc = s_subcommand_args(argc, argv, &args, s_identity_check, &config);
    if (rc != 0)
        return rc < 0 ? 2 : 0;
    identity_cipher_t cipher = IDENTITY_CIPHER_AUTO;
    s_parse_cipher(args.cipher, &cipher); //  checked above
    if (sodium_init() < 0) {
        node_config_destroy(&config);
        return s_fail(strdup("libsodium failed to initialise"));
    }
    if (streq(args.command, "init"))
        rc = s_identity_init(config, &args, cipher);
    else if (streq(args.command, "show"))
        rc = s_identity_show(config);
    else
        rc = s_identity_passwd(config, &args, cipher);
    node_config_destroy(&config);
    return rc;
}

//  For subcommands that take settings only (server-key, check).
static int s_settings_only(const char *command, const identity_args_t *args, bool print_config) {
    if (print_config || args->password_file) {
        fprintf(stderr,
                "cairnd: %s takes only settings (--data-dir, --config); see cairnd --help\n",
                command);
        return -1;
    }
    return 0;
}

static int s_server_key_check(const identity_args_t *args, bool print_config) {
    return s_settings_only("server-key", args, print_config);
}

//  `cairnd server-key ...`: argv[0] is "server-key". Exit status as main's.
static int s_server_key_main(int argc, char **argv) {
    identity_args_t args = {0};
    node_config_t *config = NULL;
    int rc = s_subcommand_args(argc, argv, &args, s_server_key_check, &config);
    if (rc != 0)
        return rc < 0 ? 2 : 0;
    char *error = NULL;
    ca_curve_key_t key;
    char peer_id[IDENTITY_PEER_ID_SIZE];
    uint8_t ed_public[CA_ED25519_PUBLIC_BYTES];
    bool created = false;
    if (sodium_init() < 0)
        error = strdup("libsodium failed to initialise");
    else if (zsys_dir_create("%s", config->data_dir) != 0)
        error = zsys_sprintf("cannot create data dir %s: %s", config->data_dir, strerror(errno));
    else if (ca_curve_dir_create(config->data_dir, &error) != 0)
        ; //  *error says why
    else if (identity_exists(config->data_dir)) {
        if (identity_read_peer_id(config->data_dir, peer_id, &error) == 0 &&
            (!ca_hash_from_hex(peer_id, ed_public) ||
             ca_curve_key_from_ed25519(ed_public, NULL, &key) != 0))
            error =
                zsys_sprintf("the identity's public key %s is not a valid Ed25519 key", peer_id);
    } else
        ca_curve_server_key(config->data_dir, &key, &created, &error);
    if (!error) {
        char z85[CA_CURVE_Z85_SIZE];
        ca_curve_z85(key.public_key, z85);
        printf("%s\n", z85);
        if (created)
            fprintf(stderr, "cairnd: created the CURVE server key %s/%s/%s\n", config->data_dir,
                    CA_CURVE_DIR, CA_CURVE_SERVER_KEY);
    }
    ca_curve_key_wipe(&key);
    node_config_destroy(&config);
    return error ? s_fail(error) : 0;
}

static int s_check_check(const identity_args_t *args, bool print_config) {
    return s_settings_only("check", args, print_config);
}

//  `cairnd check ...`: argv[0] is "check". Exit status: node_check_run's,
//  2 for usage.
static int s_check_main(int argc, char **argv) {
    identity_args_t args = {0};
    node_config_t *config = NULL;
    int rc = s_subcommand_args(argc, argv, &args, s_check_check, &config);
    if (rc != 0)
        return rc < 0 ? NODE_CHECK_UNUSED : 0;
    rc = node_check_run(config->data_dir, stdout, stderr);
    node_config_destroy(&config);
    return rc;
}

static int s_restore_check(const identity_args_t *args, bool print_config) {
    if (!*args->command) {
        fprintf(stderr, "cairnd: restore needs the backup's directory: cairnd restore "
                        "BACKUP_DIR --data-dir NEW_DIR; see cairnd --help\n");
        return -1;
    }
    return s_settings_only("restore", args, print_config);
}

//  `cairnd restore BACKUP_DIR ...`: argv[0] is "restore". Exit status:
//  node_restore_run's, 2 for usage.
static int s_restore_main(int argc, char **argv) {
    identity_args_t args = {.command = ""};
    node_config_t *config = NULL;
    int rc = s_subcommand_args(argc, argv, &args, s_restore_check, &config);
    if (rc != 0)
        return rc < 0 ? NODE_RESTORE_REFUSED : 0;
    rc = node_restore_run(args.command, config->data_dir, stdout, stderr);
    node_config_destroy(&config);
    return rc;
}

static int s_export_check(const identity_args_t *args, bool print_config) {
    if (!*args->command) {
        fprintf(stderr, "cairnd: export and import need a file (or - for stdout/stdin): "
                        "cairnd export FILE --data-dir DIR; see cairnd --help\n");
        return -1;
    }
    return s_settings_only("export and import", args, print_config);
}

//  `cairnd export|import FILE ...`: argv[0] is the word. --skip-redis is
//  theirs alone, taken out before the common parse. Exit status:
//  node_export_run's or node_import_run's, 2 for usage.
static int s_export_main(int argc, char **argv) {
    bool skip_redis = false;
    int kept = 0;
    for (int i = 0; i < argc; i++)
        if (streq(argv[i], "--skip-redis"))
            skip_redis = true;
        else
            argv[kept++] = argv[i];
    identity_args_t args = {.command = ""};
    node_config_t *config = NULL;
    int rc = s_subcommand_args(kept, argv, &args, s_export_check, &config);
    if (rc != 0)
        return rc < 0 ? NODE_EXPORT_REFUSED : 0;
    bool to_stdout = streq(args.command, "-");
    if (streq(argv[0], "export"))
        rc = node_export_run(config->data_dir, args.command, skip_redis,
                             to_stdout ? stderr : stdout, stderr);
    else
        rc = node_import_run(config->data_dir, args.command, skip_redis, stdout, stderr);
    node_config_destroy(&config);
    return rc;
}

//  Unlocks the data dir's identity, if it has one; *identity stays NULL
//  when it has none. 0, or -1 (printed) when it cannot be unlocked.
static int s_unlock_identity(const node_config_t *config, const identity_args_t *args,
                             identity_t **identity) {
    *identity = NULL;
    if (!identity_exists(config->data_dir)) {
        if (args->password_file)
            ca_log_warning("cairnd: --identity-password-file given but %s has no identity; "
                           "running without one (create it with cairnd identity init)",
                           config->data_dir);
        return 0;
    }
    identity_password_t password;
    char *error = NULL;
    if (identity_password_read(args->password_file, PASSWORD_ENV, "Node identity password: ", false,
                               s_password_hint, &password, &error) != 0) {
        s_fail(error);
        return -1;
    }
    *identity = identity_unlock(config->data_dir, &password, &error);
    identity_password_free(&password);
    if (!*identity) {
        s_fail(error);
        return -1;
    }
    return 0;
}

//  Every client connection, blob file and SQLite connection holds a file
//  descriptor, and the usual soft limit (1024) is far below what the hard
//  limit allows: take all of it, so that running out is rare. Running out
//  anyway is survived (requests answer INTERNAL, accepts wait), not fatal.
static void s_raise_nofile_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        ca_log_warning("cairnd: cannot read the file descriptor limit: %s", strerror(errno));
        return;
    }
    rlim_t before = limit.rlim_cur, target = limit.rlim_max;
    if (target == RLIM_INFINITY) { //  the kernel's own ceiling then
        target = 1048576;
        FILE *file = fopen("/proc/sys/fs/nr_open", "r");
        unsigned long long nr_open;
        if (file && fscanf(file, "%llu", &nr_open) == 1)
            target = (rlim_t)nr_open;
        if (file)
            fclose(file);
    }
    if (before != RLIM_INFINITY && before < target) {
        limit.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            ca_log_warning("cairnd: cannot raise the file descriptor limit from %llu to %llu: %s",
                           (unsigned long long)before, (unsigned long long)target, strerror(errno));
            limit.rlim_cur = before;
        }
    }
    ca_log_info("cairnd: file descriptor limit %llu (was %llu; raise the hard limit, ulimit -Hn, "
                "for more)",
                (unsigned long long)limit.rlim_cur, (unsigned long long)before);
}

int main(int argc, char **argv) {
    //  Every file and directory cairnd makes is its user's alone: the
    //  database (messages, channel password hashes, the ledger), its WAL,
    //  blobs, the identity. Before anything is created.
    umask(077);
    zsys_handler_set(NULL); //  before any socket: we take the signals
    if (argc > 1 && streq(argv[1], "identity"))
        return s_identity_main(argc - 1, argv + 1);
    if (argc > 1 && streq(argv[1], "server-key"))
        return s_server_key_main(argc - 1, argv + 1);
    if (argc > 1 && streq(argv[1], "check"))
        return s_check_main(argc - 1, argv + 1);
    if (argc > 1 && streq(argv[1], "restore"))
        return s_restore_main(argc - 1, argv + 1);
    if (argc > 1 && (streq(argv[1], "export") || streq(argv[1], "import")))
        return s_export_main(argc - 1, argv + 1);
    flag_t *flags = (flag_t *)calloc((size_t)argc + 1, sizeof(flag_t));
    size_t flag_count = 0;
    const char *config_path = NULL;
    bool print_config = false;
    identity_args_t identity_args = {0};
    int rc =
        s_parse_args(argc, argv, &config_path, &print_config, flags, &flag_count, &identity_args);
    if (rc != 0) {
        free(flags);
        return rc < 0 ? 2 : 0;
    }
    node_config_t *config = node_config_new();
    char *error = NULL;
    rc = s_merge_config(config, config_path, flags, flag_count, &error);
    if (rc != 0) {
        fprintf(stderr, "cairnd: %s\n", error);
        free(error);
        free(flags);
        node_config_destroy(&config);
        return 2;
    }
    s_apply_log_settings(config);
    zsys_set_logident("cairnd");
    s_warn_unknown_env();
    if (print_config) {
        node_config_print(config, stdout);
        free(flags);
        node_config_destroy(&config);
        return 0;
    }
    s_raise_nofile_limit();
    if (sodium_init() < 0) {
        fprintf(stderr, "cairnd: libsodium failed to initialise\n");
        free(flags);
        node_config_destroy(&config);
        return 1;
    }
    //  Before any thread: the prompt may need the terminal's signals.
    identity_t *identity = NULL;
    if (s_unlock_identity(config, &identity_args, &identity) != 0) {
        free(flags);
        node_config_destroy(&config);
        return 1;
    }
    int signal_fd = s_signal_fd(); //  before any thread, which inherits the mask

    node_t *node = node_new(config);
    node_set_peer_id(node, identity ? identity_peer_id(identity) : NULL);
    ca_curve_key_t curve_key;
    if (identity && identity_curve_key(identity, &curve_key) == 0)
        node_set_curve_key(node, &curve_key);
    ca_curve_key_wipe(&curve_key);
    if (node_start(node, &error) != 0) {
        ca_log_error("cairnd: %s", error);
        free(error);
        free(flags);
        node_destroy(&node);
        identity_destroy(&identity);
        node_config_destroy(&config);
        close(signal_fd);
        return 1;
    }
    if (identity)
        ca_log_info("cairnd: node identity %s unlocked", identity_peer_id(identity));
    node_notify("READY=1");
    node_config_t *applied = NULL; //  the settings of the last SIGHUP
    while (s_wait_for_signal(signal_fd) == SIGHUP) {
        node_notify("RELOADING=1");
        s_reload(node, config, &applied, config_path, flags, flag_count);
        node_notify("READY=1");
    }
    node_notify("STOPPING=1");
    node_destroy(&node);
    identity_destroy(&identity);
    node_config_destroy(&applied);
    node_config_destroy(&config);
    free(flags);
    close(signal_fd);
    return 0;
}

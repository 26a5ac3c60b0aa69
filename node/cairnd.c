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
    ========================================================================= */

#include "ca_limits.h"
#include "ca_log.h"
#include "node.h"
#include "node_config.h"

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
#include <sys/signalfd.h>
#include <unistd.h>

enum { OPT_CONFIG = 1000, OPT_HELP, OPT_VERSION, OPT_PRINT_CONFIG, OPT_SETTING = 2000 };

static void s_print_usage(FILE *out) {
    fprintf(out, "usage: cairnd [--config FILE] [--SETTING=VALUE ...]\n"
                 "       cairnd --help | --version | --print-config\n\n"
                 "cairn storage node. Settings, lowest precedence first: defaults, config file\n"
                 "(ZPL, see deploy/cairnd.cfg), CAIRN_* environment, command-line flags.\n\n"
                 "  --config=FILE       config file to read (environment: CAIRN_CONFIG)\n"
                 "  --print-config      print the effective configuration as ZPL and exit\n"
                 "  --version           print versions of cairnd and its libraries and exit\n"
                 "  --help              print this help and exit\n\n"
                 "Settings:\n");
    node_config_print_help(out);
    fprintf(out, "\nSignals: SIGINT/SIGTERM stop cleanly (answer accepted requests, commit,\n"
                 "exit 0). Exit status: 0 clean stop, 1 start-up or runtime error, 2 usage.\n");
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
}

typedef struct {
    size_t index;
    const char *value;
} flag_t;

//  Parses argv. Returns -1 to exit 2 (usage), 1 to exit 0 (help/version
//  printed), 0 to go on.
static int s_parse_args(int argc, char **argv, const char **config_path, bool *print_config,
                        flag_t *flags, size_t *flag_count) {
    size_t settings = node_config_count();
    struct option *options = (struct option *)calloc(settings + 5, sizeof(struct option));
    options[0] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    options[1] = (struct option){"help", no_argument, NULL, OPT_HELP};
    options[2] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    options[3] = (struct option){"print-config", no_argument, NULL, OPT_PRINT_CONFIG};
    for (size_t i = 0; i < settings; i++)
        options[4 + i] =
            (struct option){node_config_flag(i), required_argument, NULL, OPT_SETTING + (int)i};
    int rc = 0, opt;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            *config_path = optarg;
        else if (opt == OPT_HELP) {
            s_print_usage(stdout);
            rc = 1;
        } else if (opt == OPT_VERSION) {
            s_print_version();
            rc = 1;
        } else if (opt == OPT_PRINT_CONFIG)
            *print_config = true;
        else if (opt >= OPT_SETTING)
            flags[(*flag_count)++] = (flag_t){(size_t)(opt - OPT_SETTING), optarg};
        else {
            fprintf(stderr, "cairnd: unknown or incomplete option '%s'; see cairnd --help\n",
                    argv[optind - 1]);
            rc = -1;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "cairnd: unexpected argument '%s'; see cairnd --help\n", argv[optind]);
        rc = -1;
    }
    free(options);
    return rc;
}

//  Merges file, environment and flags into `config`; 0 or -1 (printed).
static int s_merge_config(node_config_t *config, const char *config_path, const flag_t *flags,
                          size_t flag_count) {
    char *error = NULL;
    if (!config_path)
        config_path = getenv("CAIRN_CONFIG");
    int rc = config_path ? node_config_load_file(config, config_path, &error) : 0;
    if (rc == 0)
        rc = node_config_load_env(config, &error);
    for (size_t i = 0; rc == 0 && i < flag_count; i++)
        rc = node_config_set(config, node_config_name(flags[i].index), flags[i].value, &error);
    if (rc != 0) {
        fprintf(stderr, "cairnd: %s\n", error);
        free(error);
    }
    return rc;
}

//  Blocks SIGINT/SIGTERM in every thread (actors inherit the mask) and
//  returns a signalfd that reports them to main.
static int s_signal_fd(void) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &signals, SFD_CLOEXEC);
}

static void s_wait_for_signal(int fd) {
    struct pollfd item = {fd, POLLIN, 0};
    while (poll(&item, 1, -1) < 0 && errno == EINTR)
        ;
    struct signalfd_siginfo info;
    if (read(fd, &info, sizeof info) == (ssize_t)sizeof info)
        ca_log_info("cairnd: received %s", strsignal((int)info.ssi_signo));
}

int main(int argc, char **argv) {
    zsys_handler_set(NULL); //  before any socket: we take the signals
    int signal_fd = s_signal_fd();
    flag_t *flags = (flag_t *)calloc((size_t)argc + 1, sizeof(flag_t));
    size_t flag_count = 0;
    const char *config_path = NULL;
    bool print_config = false;
    int rc = s_parse_args(argc, argv, &config_path, &print_config, flags, &flag_count);
    if (rc != 0) {
        free(flags);
        return rc < 0 ? 2 : 0;
    }
    node_config_t *config = node_config_new();
    rc = s_merge_config(config, config_path, flags, flag_count);
    free(flags);
    if (rc != 0) {
        node_config_destroy(&config);
        return 2;
    }
    if (print_config) {
        node_config_print(config, stdout);
        node_config_destroy(&config);
        return 0;
    }
    ca_log_set_level((ca_log_level_t)ca_log_level_parse(config->log_level));
    zsys_set_logident("cairnd");
    if (sodium_init() < 0) {
        fprintf(stderr, "cairnd: libsodium failed to initialise\n");
        node_config_destroy(&config);
        return 1;
    }

    node_t *node = node_new(config);
    char *error = NULL;
    if (node_start(node, &error) != 0) {
        zsys_error("cairnd: %s", error);
        free(error);
        node_destroy(&node);
        node_config_destroy(&config);
        return 1;
    }
    s_wait_for_signal(signal_fd);
    node_destroy(&node);
    node_config_destroy(&config);
    close(signal_fd);
    return 0;
}

/*  =========================================================================
    ca_log - zsys logging with a level filter

    CZMQ 4.2.1's zsys logs every level. cairnd's `log_level` setting is
    applied here: the daemon sets the level once in main, before any actor
    thread starts, and never again, so the threads only ever read it.
    ========================================================================= */

#ifndef CA_LOG_H_INCLUDED
#define CA_LOG_H_INCLUDED

#include <czmq.h>

typedef enum {
    CA_LOG_ERROR = 0,
    CA_LOG_WARNING = 1,
    CA_LOG_NOTICE = 2,
    CA_LOG_INFO = 3,
    CA_LOG_DEBUG = 4,
} ca_log_level_t;

//  Parses "error", "warning", "notice", "info", "debug"; -1 otherwise.
int ca_log_level_parse(const char *name);

//  Sets the level; call once, before actors start.
void ca_log_set_level(ca_log_level_t level);

extern ca_log_level_t ca_log_level;

#define ca_log_error(...)                                                                          \
    do {                                                                                           \
        if (ca_log_level >= CA_LOG_ERROR)                                                          \
            zsys_error(__VA_ARGS__);                                                               \
    } while (0)
#define ca_log_warning(...)                                                                        \
    do {                                                                                           \
        if (ca_log_level >= CA_LOG_WARNING)                                                        \
            zsys_warning(__VA_ARGS__);                                                             \
    } while (0)
#define ca_log_notice(...)                                                                         \
    do {                                                                                           \
        if (ca_log_level >= CA_LOG_NOTICE)                                                         \
            zsys_notice(__VA_ARGS__);                                                              \
    } while (0)
#define ca_log_info(...)                                                                           \
    do {                                                                                           \
        if (ca_log_level >= CA_LOG_INFO)                                                           \
            zsys_info(__VA_ARGS__);                                                                \
    } while (0)
#define ca_log_debug(...)                                                                          \
    do {                                                                                           \
        if (ca_log_level >= CA_LOG_DEBUG)                                                          \
            zsys_debug(__VA_ARGS__);                                                               \
    } while (0)

#endif

/*  =========================================================================
    ca_log - zsys logging with a level filter
    ========================================================================= */

#include "ca_log.h"

ca_log_level_t ca_log_level = CA_LOG_INFO;

int ca_log_level_parse(const char *name) {
    static const char *const names[] = {"error", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (name && streq(name, names[i]))
            return i;
    return -1;
}

void ca_log_set_level(ca_log_level_t level) {
    ca_log_level = level;
}

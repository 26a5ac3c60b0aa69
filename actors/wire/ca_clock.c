/*  =========================================================================
    ca_clock - the node's one reading of the wall clock

    See ca_clock.h for why there is one.
    ========================================================================= */

#include "ca_clock.h"

#include <time.h>

double ca_now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int64_t ca_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

double ca_now_seconds_ms(void) {
    return (double)ca_now_ms() / 1000.0;
}

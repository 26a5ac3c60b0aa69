/*  =========================================================================
    ca_clock - the node's one reading of the wall clock

    Rows record when things happened as unix seconds with a fraction (a
    REAL column), the same form clients send and the reference APIs use;
    one function gives that, so no store keeps its own copy. A few values
    were stored or sent rounded to whole milliseconds from the start (ledger
    rows, Pong.node_time_us); they read the millisecond forms so that their
    rounding stays what it was.

    Intervals, timeouts and deadlines are not wall-clock time: they use
    CZMQ's monotonic zclock_mono (ms) and zclock_usecs (us), which the wall
    clock being set back cannot disturb.
    ========================================================================= */

#ifndef CA_CLOCK_H_INCLUDED
#define CA_CLOCK_H_INCLUDED

#include <stdint.h>

//  Unix time in seconds, with a fraction (nanosecond resolution).
double ca_now_seconds(void);

//  Unix time in whole milliseconds (what zclock_time returns).
int64_t ca_now_ms(void);

//  Unix time in seconds rounded down to whole milliseconds, the form of
//  the ledger's times.
double ca_now_seconds_ms(void);

#endif

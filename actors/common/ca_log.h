/*  =========================================================================
    ca_log - cairn's log lines: a level filter, text or JSON, the actor and
    the request in every line

    CZMQ 4.2.1's zsys logs every level. cairnd's `log_level` and
    `log_format` settings are applied here. Both are atomics: main sets them
    at start and again on SIGHUP (node/cairnd.c) while the actor threads log.

    Every line names its actor, the thread's name (cairnd, cairn-gateway,
    cairn-writer, messages-0, ...: every actor thread names itself, for
    top -H and perf too), read with prctl(PR_GET_NAME) per line: one system
    call, always what the thread is called now, nothing to keep in step.
    A line logged while a store worker handles a request (ca_store.c sets
    ca_log_set_request around the handler) names that request's id.

        text:  I: (cairnd) 26-12-07 12:00:00 [messages-0 req=7] message
               (zsys's own line, with the actor and request in brackets)
        json:  {"ts":"2026-12-07T12:00:00.123Z","level":"info",
                "actor":"messages-0","req":7,"msg":"message"}
               one object per line on stdout (jansson), valid JSON for any
               message text: bytes that are not UTF-8 become U+FFFD.

    The slow-request threshold (`slow_request_ms`, 0: off) lives here too,
    as another setting every thread reads and SIGHUP changes.
    ========================================================================= */

#ifndef CA_LOG_H_INCLUDED
#define CA_LOG_H_INCLUDED

#include <czmq.h>
#include <stdatomic.h>

typedef enum {
    CA_LOG_ERROR = 0,
    CA_LOG_WARNING = 1,
    CA_LOG_NOTICE = 2,
    CA_LOG_INFO = 3,
    CA_LOG_DEBUG = 4,
} ca_log_level_t;

typedef enum {
    CA_LOG_TEXT = 0,
    CA_LOG_JSON = 1,
} ca_log_format_t;

//  Parses "error", "warning", "notice", "info", "debug"; -1 otherwise.
int ca_log_level_parse(const char *name);

//  Parses "text", "json"; -1 otherwise.
int ca_log_format_parse(const char *name);

//  Set the level and the format; any thread, any time.
void ca_log_set_level(ca_log_level_t level);
void ca_log_set_format(ca_log_format_t format);

//  The slow-request threshold in milliseconds (0: no slow-request log).
void ca_log_set_slow_ms(int64_t ms);
int64_t ca_log_slow_ms(void);

//  The request this thread works for now: its lines name it until
//  ca_log_clear_request.
void ca_log_set_request(uint64_t id);
void ca_log_clear_request(void);

//  Writes one line at `level` (filtered by the macros below).
void ca_log_emit(ca_log_level_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

//  The JSON line (no newline) for one log line; `request` NULL when the line
//  is not request-scoped; `ts_ms` milliseconds since the epoch. Freshly
//  allocated (free), NULL when memory ran out.
char *ca_log_json_line(ca_log_level_t level, const char *actor, const uint64_t *request,
                       const char *message, int64_t ts_ms);

extern atomic_int ca_log_level_now;

static inline bool ca_log_enabled(ca_log_level_t level) {
    return (int)level <= atomic_load_explicit(&ca_log_level_now, memory_order_relaxed);
}

#define CA_LOG_AT_(level, ...)                                                                     \
    do {                                                                                           \
        if (ca_log_enabled(level))                                                                 \
            ca_log_emit(level, __VA_ARGS__);                                                       \
    } while (0)
#define ca_log_error(...)   CA_LOG_AT_(CA_LOG_ERROR, __VA_ARGS__)
#define ca_log_warning(...) CA_LOG_AT_(CA_LOG_WARNING, __VA_ARGS__)
#define ca_log_notice(...)  CA_LOG_AT_(CA_LOG_NOTICE, __VA_ARGS__)
#define ca_log_info(...)    CA_LOG_AT_(CA_LOG_INFO, __VA_ARGS__)
#define ca_log_debug(...)   CA_LOG_AT_(CA_LOG_DEBUG, __VA_ARGS__)

void ca_log_test(bool verbose);

#endif

/*  =========================================================================
    ca_log - cairn's log lines: a level filter, text or JSON, the actor and
    the request in every line
    ========================================================================= */

#include "ca_log.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

atomic_int ca_log_level_now = CA_LOG_INFO;
static atomic_int s_format = CA_LOG_TEXT;
static _Atomic int64_t s_slow_ms = 0;

static _Thread_local bool s_has_request;
static _Thread_local uint64_t s_request;

#define S_LINE_INLINE 1024 //  longer messages are formatted into the heap

static const char *const s_level_names[] = {"error", "warning", "notice", "info", "debug"};

int ca_log_level_parse(const char *name) {
    for (int i = 0; i < 5; i++)
        if (name && streq(name, s_level_names[i]))
            return i;
    return -1;
}

int ca_log_format_parse(const char *name) {
    if (name && streq(name, "text"))
        return CA_LOG_TEXT;
    if (name && streq(name, "json"))
        return CA_LOG_JSON;
    return -1;
}

void ca_log_set_level(ca_log_level_t level) {
    atomic_store_explicit(&ca_log_level_now, (int)level, memory_order_relaxed);
}

void ca_log_set_format(ca_log_format_t format) {
    atomic_store_explicit(&s_format, (int)format, memory_order_relaxed);
}

void ca_log_set_slow_ms(int64_t ms) {
    atomic_store_explicit(&s_slow_ms, ms, memory_order_relaxed);
}

int64_t ca_log_slow_ms(void) {
    return atomic_load_explicit(&s_slow_ms, memory_order_relaxed);
}

void ca_log_set_request(uint64_t id) {
    s_request = id;
    s_has_request = true;
}

void ca_log_clear_request(void) {
    s_has_request = false;
}

//  Length of the valid UTF-8 sequence at `at` (at most `left` bytes), 0
//  when it is not one (stray continuation, overlong, surrogate, > U+10FFFF).
static size_t s_utf8_length(const unsigned char *at, size_t left) {
    unsigned char c = at[0];
    if (c < 0x80)
        return 1;
    size_t length = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
    if (length == 0 || length > left)
        return 0;
    for (size_t i = 1; i < length; i++)
        if ((at[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && at[1] < 0xA0) || (c == 0xED && at[1] > 0x9F) || (c == 0xF0 && at[1] < 0x90) ||
        (c == 0xF4 && at[1] > 0x8F))
        return 0;
    return length;
}

//  `text` as valid UTF-8: each byte that does not start a valid sequence
//  becomes U+FFFD. Freshly allocated; NULL when memory ran out.
static char *s_utf8_clean(const char *text, size_t *size_p) {
    size_t size = strlen(text);
    char *clean = (char *)malloc(size * 3 + 1);
    if (!clean)
        return NULL;
    const unsigned char *at = (const unsigned char *)text;
    size_t out = 0;
    for (size_t i = 0; i < size;) {
        size_t length = s_utf8_length(at + i, size - i);
        if (length) {
            memcpy(clean + out, at + i, length);
            out += length;
            i += length;
        } else {
            memcpy(clean + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
    }
    clean[out] = 0;
    *size_p = out;
    return clean;
}

char *ca_log_json_line(ca_log_level_t level, const char *actor, const uint64_t *request,
                       const char *message, int64_t ts_ms) {
    time_t seconds = (time_t)(ts_ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char ts[40];
    size_t at = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(ts + at, sizeof ts - at, ".%03dZ", (int)(ts_ms % 1000));
    size_t message_size, actor_size;
    char *clean_message = s_utf8_clean(message, &message_size);
    char *clean_actor = s_utf8_clean(actor, &actor_size);
    json_t *line = json_object();
    char *text = NULL;
    if (clean_message && clean_actor && line) {
        json_object_set_new(line, "ts", json_string(ts));
        json_object_set_new(line, "level", json_string(s_level_names[level]));
        json_object_set_new(line, "actor", json_stringn(clean_actor, actor_size));
        if (request)
            json_object_set_new(line, "req",
                                *request <= INT64_MAX ? json_integer((json_int_t)*request)
                                                      : json_sprintf("%" PRIu64, *request));
        json_object_set_new(line, "msg", json_stringn(clean_message, message_size));
        text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(line);
    free(clean_message);
    free(clean_actor);
    return text;
}

void ca_log_emit(ca_log_level_t level, const char *format, ...) {
    char inline_text[S_LINE_INLINE];
    char *message = inline_text;
    va_list args;
    va_start(args, format);
    int size = vsnprintf(inline_text, sizeof inline_text, format, args);
    va_end(args);
    if (size < 0)
        return;
    if ((size_t)size >= sizeof inline_text) {
        message = (char *)malloc((size_t)size + 1);
        if (!message)
            message = inline_text; //  the start of it, then
        else {
            va_start(args, format);
            vsnprintf(message, (size_t)size + 1, format, args);
            va_end(args);
        }
    }
    char actor[17] = "";
    if (prctl(PR_GET_NAME, actor, 0, 0, 0) != 0)
        snprintf(actor, sizeof actor, "?");
    if (atomic_load_explicit(&s_format, memory_order_relaxed) == CA_LOG_JSON) {
        char *line = ca_log_json_line(level, actor, s_has_request ? &s_request : NULL, message,
                                      zclock_time());
        if (line) {
            //  One fprintf: stdio's lock keeps the line whole among threads.
            fprintf(stdout, "%s\n", line);
            fflush(stdout);
        }
        free(line);
    } else {
        char request[32] = "";
        if (s_has_request)
            snprintf(request, sizeof request, " req=%" PRIu64, s_request);
        void (*out)(const char *, ...) = level == CA_LOG_ERROR     ? zsys_error
                                         : level == CA_LOG_WARNING ? zsys_warning
                                         : level == CA_LOG_NOTICE  ? zsys_notice
                                         : level == CA_LOG_INFO    ? zsys_info
                                                                   : zsys_debug;
        out("[%s%s] %s", actor, request, message);
    }
    if (message != inline_text)
        free(message);
}

//  ---- self-test ------------------------------------------------------------------

static void s_check_line(const char *message, const uint64_t *request) {
    char *text = ca_log_json_line(CA_LOG_WARNING, "messages-0", request, message, 1700000000123);
    assert(text);
    json_error_t error;
    json_t *line = json_loads(text, 0, &error);
    assert(line);
    assert(streq(json_string_value(json_object_get(line, "ts")), "2023-11-14T22:13:20.123Z"));
    assert(streq(json_string_value(json_object_get(line, "level")), "warning"));
    assert(streq(json_string_value(json_object_get(line, "actor")), "messages-0"));
    assert(json_string_value(json_object_get(line, "msg")));
    if (request && *request <= INT64_MAX)
        assert((uint64_t)json_integer_value(json_object_get(line, "req")) == *request);
    else if (request)
        assert(json_is_string(json_object_get(line, "req")));
    else
        assert(!json_object_get(line, "req"));
    assert(!strchr(text, '\n'));
    json_decref(line);
    free(text);
}

void ca_log_test(bool verbose) {
    (void)verbose;
    assert(ca_log_level_parse("debug") == CA_LOG_DEBUG);
    assert(ca_log_level_parse("loud") == -1 && ca_log_level_parse(NULL) == -1);
    assert(ca_log_format_parse("json") == CA_LOG_JSON && ca_log_format_parse("xml") == -1);
    uint64_t id = 7, huge = UINT64_MAX;
    s_check_line("plain", NULL);
    s_check_line("quotes \" backslash \\ newline\n tab\t control \x01", &id);
    s_check_line("not utf-8: \xff\xfe \xc0\xaf \xed\xa0\x80 \xe2\x82", &huge);
    s_check_line("", &id);
    char *text = ca_log_json_line(CA_LOG_INFO, "a", NULL, "\xff", 0);
    assert(text && strstr(text, "\"msg\":\"\xEF\xBF\xBD\""));
    free(text);
    //  A long message is whole, not cut at the inline buffer.
    char *longer = (char *)malloc(5000);
    assert(longer);
    memset(longer, 'x', 4999);
    longer[4999] = 0;
    text = ca_log_json_line(CA_LOG_INFO, "a", NULL, longer, 0);
    assert(text && strstr(text, longer));
    free(text);
    free(longer);
    //  The level filter and the thread's request.
    int before = atomic_load(&ca_log_level_now);
    ca_log_set_level(CA_LOG_ERROR);
    assert(ca_log_enabled(CA_LOG_ERROR) && !ca_log_enabled(CA_LOG_WARNING));
    ca_log_set_level((ca_log_level_t)before);
    ca_log_set_request(9);
    assert(s_has_request && s_request == 9);
    ca_log_clear_request();
    assert(!s_has_request);
    ca_log_set_slow_ms(5);
    assert(ca_log_slow_ms() == 5);
    ca_log_set_slow_ms(0);
}

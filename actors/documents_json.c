/*  =========================================================================
    documents_json - JSON parsing and the canonical form of the documents
    store

    libjansson parses; this file writes the canonical text itself, because
    jansson's dump fixes neither the number format (reals as %.17g) nor
    the key order of equal prefixes in every version. The rules are the
    public ones of schemas/documents.proto ("Canonical form"): sorted keys
    (bytes), no insignificant whitespace, a fixed string escaping, integers
    as they are, reals that are small whole numbers as integers and other
    reals as the shortest %.Ng that reads back as the same double. The
    canonical form of a canonical text is itself (checked in the self-test
    over the pinned vectors), so a digest never depends on who formatted
    the object last.
    ========================================================================= */

#include "documents_json.h"
#include "ca_hash.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *documents_json_parse(const char *text, size_t size, char *error) {
    json_error_t problem;
    json_t *value = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &problem);
    if (!value)
        snprintf(error, CA_DOC_ERROR_BYTES, "%s at line %d, column %d, position %d", problem.text,
                 problem.line, problem.column, problem.position);
    return value;
}

//  ---- the writer ------------------------------------------------------------

typedef struct {
    char *data;
    size_t length, room, max;
    bool too_big, oom, too_deep;
} s_out_t;

static void s_put(s_out_t *out, const char *bytes, size_t size) {
    if (out->too_big || out->oom)
        return;
    if (out->length + size > out->max) {
        out->too_big = true;
        return;
    }
    if (out->length + size + 1 > out->room) {
        size_t room = out->room ? out->room : 256;
        while (room < out->length + size + 1)
            room *= 2;
        char *data = realloc(out->data, room);
        if (!data) {
            out->oom = true;
            return;
        }
        out->data = data;
        out->room = room;
    }
    memcpy(out->data + out->length, bytes, size);
    out->length += size;
    out->data[out->length] = 0;
}

static void s_put_string(s_out_t *out, const char *text, size_t size) {
    s_put(out, "\"", 1);
    size_t start = 0; //  bytes from here to i are copied as they are
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)text[i];
        char escape[8] = "";
        if (c == '"' || c == '\\')
            snprintf(escape, sizeof escape, "\\%c", c);
        else if (c == '\b')
            strcpy(escape, "\\b");
        else if (c == '\f')
            strcpy(escape, "\\f");
        else if (c == '\n')
            strcpy(escape, "\\n");
        else if (c == '\r')
            strcpy(escape, "\\r");
        else if (c == '\t')
            strcpy(escape, "\\t");
        else if (c < 0x20)
            snprintf(escape, sizeof escape, "\\u%04x", c);
        if (!escape[0])
            continue;
        s_put(out, text + start, i - start);
        s_put(out, escape, strlen(escape));
        start = i + 1;
    }
    s_put(out, text + start, size - start);
    s_put(out, "\"", 1);
}

//  2^53: below it every whole double is an exact integer.
#define WHOLE_MAX 9007199254740992.0

static void s_put_real(s_out_t *out, double value) {
    char text[40];
    if (value == 0)
        snprintf(text, sizeof text, "0"); //  and -0.0
    else if (fabs(value) < WHOLE_MAX && value == trunc(value))
        snprintf(text, sizeof text, "%" PRId64, (int64_t)value);
    else {
        //  JSON has no NaN or infinity, so parsing never gives one.
        for (int precision = 1; precision <= 17; precision++) {
            snprintf(text, sizeof text, "%.*g", precision, value);
            if (strtod(text, NULL) == value)
                break;
        }
    }
    s_put(out, text, strlen(text));
}

static int s_key_order(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void s_put_value(s_out_t *out, const json_t *value, int depth) {
    if (out->too_big || out->oom || out->too_deep)
        return;
    char text[32];
    switch (json_typeof(value)) {
        case JSON_OBJECT: {
            if (depth > CA_DOC_DEPTH_MAX) {
                out->too_deep = true;
                return;
            }
            size_t count = json_object_size(value);
            const char **keys = count ? malloc(count * sizeof *keys) : NULL;
            if (count && !keys) {
                out->oom = true;
                return;
            }
            size_t n = 0;
            const char *key;
            json_t *member;
            json_object_foreach((json_t *)value, key, member) keys[n++] = key;
            if (n)
                qsort(keys, n, sizeof *keys, s_key_order);
            s_put(out, "{", 1);
            for (size_t i = 0; i < n; i++) {
                if (i)
                    s_put(out, ",", 1);
                s_put_string(out, keys[i], strlen(keys[i]));
                s_put(out, ":", 1);
                s_put_value(out, json_object_get(value, keys[i]), depth + 1);
            }
            s_put(out, "}", 1);
            free(keys);
            break;
        }
        case JSON_ARRAY: {
            if (depth > CA_DOC_DEPTH_MAX) {
                out->too_deep = true;
                return;
            }
            s_put(out, "[", 1);
            for (size_t i = 0; i < json_array_size(value); i++) {
                if (i)
                    s_put(out, ",", 1);
                s_put_value(out, json_array_get(value, i), depth + 1);
            }
            s_put(out, "]", 1);
            break;
        }
        case JSON_STRING:
            s_put_string(out, json_string_value(value), json_string_length(value));
            break;
        case JSON_INTEGER:
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            s_put(out, text, strlen(text));
            break;
        case JSON_REAL:
            s_put_real(out, json_real_value(value));
            break;
        case JSON_TRUE:
            s_put(out, "true", 4);
            break;
        case JSON_FALSE:
            s_put(out, "false", 5);
            break;
        case JSON_NULL:
            s_put(out, "null", 4);
            break;
    }
}

char *documents_json_canonical(const json_t *value, size_t max_bytes, size_t *length, bool *oom,
                               char *error) {
    s_out_t out = {.max = max_bytes};
    *oom = false;
    s_put_value(&out, value, 1);
    if (!out.too_big && !out.oom && !out.too_deep && !out.data)
        s_put(&out, "", 0); //  never: every value writes something
    if (out.too_deep)
        snprintf(error, CA_DOC_ERROR_BYTES, "the JSON is nested deeper than %d levels",
                 CA_DOC_DEPTH_MAX);
    else if (out.too_big)
        snprintf(error, CA_DOC_ERROR_BYTES,
                 "the object is longer than %zu bytes in canonical form (doc_max_bytes)",
                 max_bytes);
    else if (out.oom) {
        *oom = true;
        snprintf(error, CA_DOC_ERROR_BYTES, "out of memory writing the canonical form; retry");
    } else {
        *length = out.length;
        return out.data;
    }
    free(out.data);
    return NULL;
}

//  ---- self-test ---------------------------------------------------------------

#include "ca_caller.h"

//  Canonical forms and digests pinned for ever (a change here changes
//  every stored digest): the self-test below checks them here, and
//  tests/e2e_documents.c over the wire.
const documents_json_vector_t documents_json_vectors[] = {
    {"{\"b\":1,\"a\":[true,null,\"x\"]}", "{\"a\":[true,null,\"x\"],\"b\":1}",
     "54a65415ad370228851a1da4b31b6fd42dc58b19a50d35cae759325f7388ce64"},
    {" {\n \"z\" : { \"y\": 2, \"x\" :1 } , \"a\":\"\\u00e9\\n\\u0001/\" }",
     "{\"a\":\"\xc3\xa9\\n\\u0001/\",\"z\":{\"x\":1,\"y\":2}}",
     "26d54e2fd9a45fd9ef693b8c54c7906265f7bbf9a1a548c2b7e1a360a631990e"},
    {"{\"r\":[1.0,-0.0,2.5e2,0.1,1e300,1.5e-7,1e16,-12,3.25]}",
     "{\"r\":[1,0,250,0.1,1e+300,1.5e-07,1e+16,-12,3.25]}",
     "ba41c65e92771acd512fbb9fe09c4ae635f468488628a509db3bc36b6682a2f1"},
    {"{}", "{}", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
};

const size_t documents_json_vector_count =
    sizeof documents_json_vectors / sizeof documents_json_vectors[0];

void documents_json_test(bool verbose) {
    if (verbose)
        printf(" * documents_json: ");
    char error[CA_DOC_ERROR_BYTES];
    for (size_t v = 0; v < documents_json_vector_count; v++) {
        json_t *value = documents_json_parse(documents_json_vectors[v].input,
                                             strlen(documents_json_vectors[v].input), error);
        CA_CHECK(value);
        size_t length = 0;
        bool oom;
        char *text = documents_json_canonical(value, 1 << 20, &length, &oom, error);
        CA_CHECK(text && streq(text, documents_json_vectors[v].canonical));
        uint8_t digest[CA_SHA256_BYTES];
        ca_sha256(text, length, digest);
        char hex[2 * CA_SHA256_BYTES + 1];
        for (size_t b = 0; b < CA_SHA256_BYTES; b++)
            snprintf(hex + 2 * b, 3, "%02x", digest[b]);
        CA_CHECK(streq(hex, documents_json_vectors[v].digest));
        //  The canonical form of a canonical text is itself.
        json_t *again = documents_json_parse(text, length, error);
        size_t length2 = 0;
        char *text2 = documents_json_canonical(again, 1 << 20, &length2, &oom, error);
        CA_CHECK(text2 && streq(text, text2));
        free(text2);
        json_decref(again);
        free(text);
        json_decref(value);
    }
    //  Bad JSON: where.
    CA_CHECK(!documents_json_parse("{\"a\":\n  tru}", 12, error));
    CA_CHECK(strstr(error, "line 2, column"));
    CA_CHECK(!documents_json_parse("{\"a\":1,\"a\":2}", 13, error));
    //  Bounds: depth and size.
    char deep[2 * (CA_DOC_DEPTH_MAX + 1) + 1];
    for (int i = 0; i <= CA_DOC_DEPTH_MAX; i++) {
        deep[i] = '[';
        deep[2 * (CA_DOC_DEPTH_MAX + 1) - 1 - i] = ']';
    }
    deep[2 * (CA_DOC_DEPTH_MAX + 1)] = 0;
    json_t *value = documents_json_parse(deep, strlen(deep), error);
    CA_CHECK(value);
    size_t length;
    bool oom;
    CA_CHECK(!documents_json_canonical(value, 1 << 20, &length, &oom, error));
    CA_CHECK(strstr(error, "deeper"));
    json_decref(value);
    value = documents_json_parse("{\"k\":\"0123456789\"}", 18, error);
    CA_CHECK(!documents_json_canonical(value, 10, &length, &oom, error) && !oom);
    CA_CHECK(strstr(error, "longer than 10 bytes"));
    json_decref(value);
    if (verbose)
        printf("OK\n");
}

/*  =========================================================================
    batch - the `cairn` client's batch command

        command  request  answer
        -------  -------  -----------
        batch    Batch    BatchResult

    `cairn batch FILE` (FILE "-": stdin) sends the requests of a JSON list
    as one Batch (schemas/batch.proto): all of them are stored, or none.
    Each element names one request kind by its field name in
    cairn.Request's body and gives that request's fields by their .proto
    names, optionally with the request's own "id" (default: its position,
    from 1):

        [{"config_set": {"key": "a", "value": "1"}},
         {"member_join": {"channel": "#general", "member_id": "alice"}, "id": 7}]

    Field values: JSON strings for string fields; for bytes, a string (its
    UTF-8 bytes) or {"hex": "..."} or {"base64": "..."}; numbers for the
    number types; true/false; enum values by name ("PEER_ONLINE") or
    number; objects for messages; arrays for repeated fields. A field the
    schema does not have is a usage error naming it, so a typo never
    becomes a silently empty field.

    The answer prints one line per request (text), or with --json
    {"responses": [{"id", "status", "kind", "body": {...}}]}, each body
    with the response's fields by their .proto names (bytes as text when
    they read as text, else {"base64": ...}).
    ========================================================================= */

#include "cli.h"
#include "ca_status.h"

#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BATCH_POOL_MAX 65536 //  allocations for one request's fields

//  ---- the family's storage ---------------------------------------------------------

typedef struct {
    Cairn__Batch batch;
    ProtobufCBinaryData items[CA_BATCH_REQUESTS_MAX];
    uint8_t packed[CA_FRAME_SMALL_MAX]; //  the requests, packed one after the other
    char problem[512];
} batch_storage_t;

//  ---- JSON to a protobuf message ----------------------------------------------------

//  Memory of one request being built from JSON, freed once it is packed.
typedef struct {
    void *blocks[BATCH_POOL_MAX];
    size_t count;
    char *problem;
    size_t problem_size;
} pool_t;

static void *s_alloc(pool_t *pool, size_t size) {
    if (pool->count == BATCH_POOL_MAX)
        return NULL;
    void *block = calloc(1, size ? size : 1);
    if (block)
        pool->blocks[pool->count++] = block;
    return block;
}

static void s_pool_free(pool_t *pool) {
    for (size_t i = 0; i < pool->count; i++)
        free(pool->blocks[i]);
    pool->count = 0;
}

static bool s_fail(pool_t *pool, const char *format, ...) __attribute__((format(printf, 2, 3)));
static bool s_fail(pool_t *pool, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(pool->problem, pool->problem_size, format, args);
    va_end(args);
    return false;
}

//  Bytes of a bytes field: a string's UTF-8, or {"hex": ...} / {"base64": ...}.
static bool s_bytes(pool_t *pool, json_t *value, ProtobufCBinaryData *bytes, const char *path) {
    if (json_is_string(value)) {
        bytes->len = json_string_length(value);
        bytes->data = (uint8_t *)s_alloc(pool, bytes->len);
        if (!bytes->data)
            return s_fail(pool, "%s: out of memory", path);
        memcpy(bytes->data, json_string_value(value), bytes->len);
        return true;
    }
    json_t *hex = json_object_get(value, "hex");
    json_t *base64 = json_object_get(value, "base64");
    const char *text = json_string_value(hex ? hex : base64);
    if (!json_is_object(value) || json_object_size(value) != 1 || !text)
        return s_fail(
            pool, "%s: give bytes as a string, {\"hex\": \"...\"} or {\"base64\": \"...\"}", path);
    size_t length = strlen(text);
    bytes->data = (uint8_t *)s_alloc(pool, length);
    if (!bytes->data)
        return s_fail(pool, "%s: out of memory", path);
    int rc = hex ? sodium_hex2bin(bytes->data, length, text, length, NULL, &bytes->len, NULL)
                 : sodium_base642bin(bytes->data, length, text, length, " \n", &bytes->len, NULL,
                                     sodium_base64_VARIANT_ORIGINAL);
    return rc == 0 ? true : s_fail(pool, "%s: not valid %s", path, hex ? "hex" : "base64");
}

static bool s_integer(pool_t *pool, json_t *value, int64_t min, int64_t max, int64_t *out,
                      const char *path) {
    if (!json_is_integer(value))
        return s_fail(pool, "%s: give a whole number", path);
    json_int_t number = json_integer_value(value);
    if (number < min || number > max)
        return s_fail(pool, "%s: %" JSON_INTEGER_FORMAT " is out of range", path, number);
    *out = number;
    return true;
}

static bool s_message(pool_t *pool, const ProtobufCMessageDescriptor *descriptor,
                      ProtobufCMessage *message, json_t *object, const char *path);

//  Sets one value of field `field` at `at` (a member, or an array element).
static bool s_value(pool_t *pool, const ProtobufCFieldDescriptor *field, void *at, json_t *value,
                    const char *path) {
    int64_t number = 0;
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            if (!s_integer(pool, value, INT32_MIN, INT32_MAX, &number, path))
                return false;
            *(int32_t *)at = (int32_t)number;
            return true;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            if (!s_integer(pool, value, 0, UINT32_MAX, &number, path))
                return false;
            *(uint32_t *)at = (uint32_t)number;
            return true;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (!s_integer(pool, value, INT64_MIN, INT64_MAX, &number, path))
                return false;
            *(int64_t *)at = number;
            return true;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (!s_integer(pool, value, 0, INT64_MAX, &number, path))
                return false;
            *(uint64_t *)at = (uint64_t)number;
            return true;
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
            if (!json_is_number(value))
                return s_fail(pool, "%s: give a number", path);
            if (field->type == PROTOBUF_C_TYPE_FLOAT)
                *(float *)at = (float)json_number_value(value);
            else
                *(double *)at = json_number_value(value);
            return true;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean(value))
                return s_fail(pool, "%s: give true or false", path);
            *(protobuf_c_boolean *)at = json_is_true(value);
            return true;
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *names = field->descriptor;
            const ProtobufCEnumValue *known =
                json_is_string(value)
                    ? protobuf_c_enum_descriptor_get_value_by_name(names, json_string_value(value))
                : json_is_integer(value)
                    ? protobuf_c_enum_descriptor_get_value(names, (int)json_integer_value(value))
                    : NULL;
            if (!known)
                return s_fail(pool, "%s: not a value of %s", path, names->name);
            *(int *)at = known->value;
            return true;
        }
        case PROTOBUF_C_TYPE_STRING: {
            if (!json_is_string(value))
                return s_fail(pool, "%s: give a string", path);
            char *text = (char *)s_alloc(pool, json_string_length(value) + 1);
            if (!text)
                return s_fail(pool, "%s: out of memory", path);
            memcpy(text, json_string_value(value), json_string_length(value));
            *(char **)at = text;
            return true;
        }
        case PROTOBUF_C_TYPE_BYTES:
            return s_bytes(pool, value, (ProtobufCBinaryData *)at, path);
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessageDescriptor *inner = field->descriptor;
            ProtobufCMessage *message = (ProtobufCMessage *)s_alloc(pool, inner->sizeof_message);
            if (!message)
                return s_fail(pool, "%s: out of memory", path);
            inner->message_init(message);
            *(ProtobufCMessage **)at = message;
            return s_message(pool, inner, message, value, path);
        }
    }
    return s_fail(pool, "%s: a field type this client cannot fill", path);
}

static size_t s_element_size(const ProtobufCFieldDescriptor *field) {
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
            return 8;
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
            return sizeof(int);
        case PROTOBUF_C_TYPE_STRING:
            return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof(ProtobufCMessage *);
        default:
            return 4;
    }
}

//  Fills `message` from the members of `object`, each a field by name.
static bool s_message(pool_t *pool, const ProtobufCMessageDescriptor *descriptor,
                      ProtobufCMessage *message, json_t *object, const char *path) {
    if (!json_is_object(object))
        return s_fail(pool, "%s: give an object of %s's fields", path, descriptor->name);
    const char *name;
    json_t *value;
    json_object_foreach(object, name, value) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s.%s", path, name);
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name(descriptor, name);
        if (!field)
            return s_fail(pool, "%s: %s has no field '%s'", inner, descriptor->name, name);
        uint8_t *base = (uint8_t *)message;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array(value))
                return s_fail(pool, "%s: give an array", inner);
            size_t count = json_array_size(value), size = s_element_size(field);
            uint8_t *array = (uint8_t *)s_alloc(pool, count * size);
            if (!array)
                return s_fail(pool, "%s: out of memory", inner);
            for (size_t i = 0; i < count; i++)
                if (!s_value(pool, field, array + i * size, json_array_get(value, i), inner))
                    return false;
            *(size_t *)(base + field->quantifier_offset) = count;
            *(void **)(base + field->offset) = array;
            continue;
        }
        if (!s_value(pool, field, base + field->offset, value, inner))
            return false;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)(base + field->quantifier_offset) = field->id;
        else if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->quantifier_offset)
            *(protobuf_c_boolean *)(base + field->quantifier_offset) = 1;
    }
    return true;
}

//  Element `index` of the list as a packed cairn.Request appended at
//  *used in `storage`.
static bool s_pack_element(pool_t *pool, json_t *element, size_t index, batch_storage_t *storage,
                           size_t *used) {
    char path[64];
    snprintf(path, sizeof path, "element %zu", index + 1);
    Cairn__Request request = CAIRN__REQUEST__INIT;
    request.id = index + 1;
    json_t *id = json_object_get(element, "id");
    int64_t number;
    if (id && !s_integer(pool, id, 0, INT64_MAX, &number, path))
        return false;
    if (id)
        request.id = (uint64_t)number;
    if (!json_is_object(element) || json_object_size(element) != (id ? 2u : 1u))
        return s_fail(pool, "%s: give an object with one request kind (and an optional \"id\")",
                      path);
    const char *kind;
    json_t *body;
    json_object_foreach(element, kind, body) {
        if (streq(kind, "id"))
            continue;
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name(&cairn__request__descriptor, kind);
        if (!field || !(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            return s_fail(pool, "%s: '%s' is not a request kind (e.g. config_set)", path, kind);
        if (!s_value(pool, field, (uint8_t *)&request + field->offset, body, path))
            return false;
        request.body_case = (Cairn__Request__BodyCase)field->id;
    }
    size_t size = cairn__request__get_packed_size(&request);
    if (size > sizeof storage->packed - *used)
        return s_fail(pool, "the requests are over %d bytes packed; split the batch",
                      CA_FRAME_SMALL_MAX);
    storage->items[index].data = storage->packed + *used;
    storage->items[index].len = cairn__request__pack(&request, storage->packed + *used);
    *used += size;
    return true;
}

static const char *s_build_batch(const cli_t *cli, Cairn__Request *request, void *storage) {
    batch_storage_t *body = storage;
    json_error_t error;
    const char *path = cli->args[0];
    json_t *list =
        streq(path, "-") ? json_loadf(stdin, 0, &error) : json_load_file(path, 0, &error);
    if (!list)
        return cli_problem("%s: not JSON (line %d: %s)", path, error.line, error.text);
    size_t count = json_array_size(list);
    if (!json_is_array(list) || count == 0 || count > CA_BATCH_REQUESTS_MAX) {
        json_decref(list);
        return cli_problem("%s: give a JSON list of 1 to %d requests", path, CA_BATCH_REQUESTS_MAX);
    }
    pool_t *pool = (pool_t *)calloc(1, sizeof(pool_t));
    if (!pool) {
        json_decref(list);
        return cli_problem("out of memory");
    }
    pool->problem = body->problem;
    pool->problem_size = sizeof body->problem;
    size_t used = 0;
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        ok = s_pack_element(pool, json_array_get(list, i), i, body, &used);
        s_pool_free(pool);
    }
    free(pool);
    json_decref(list);
    if (!ok)
        return cli_problem("%s: %s", path, body->problem);
    cairn__batch__init(&body->batch);
    body->batch.requests = body->items;
    body->batch.n_requests = count;
    request->body_case = CAIRN__REQUEST__BODY_BATCH;
    request->batch = &body->batch;
    return NULL;
}

//  ---- a protobuf message as JSON -------------------------------------------------------

static json_t *s_json_message(const ProtobufCMessage *message);

//  Text that reads as text: UTF-8 without control characters but tab and
//  newline.
static bool s_reads_as_text(ProtobufCBinaryData bytes) {
    for (size_t i = 0; i < bytes.len; i++)
        if ((bytes.data[i] < 0x20 && bytes.data[i] != '\t' && bytes.data[i] != '\n') ||
            bytes.data[i] == 0x7f)
            return false;
    return cli_is_utf8(bytes);
}

static json_t *s_json_bytes(ProtobufCBinaryData bytes) {
    if (s_reads_as_text(bytes))
        return json_stringn((const char *)bytes.data, bytes.len);
    size_t size = sodium_base64_encoded_len(bytes.len, sodium_base64_VARIANT_ORIGINAL);
    char *text = (char *)malloc(size);
    if (!text)
        return NULL;
    sodium_bin2base64(text, size, bytes.data, bytes.len, sodium_base64_VARIANT_ORIGINAL);
    json_t *value = json_pack("{s:s}", "base64", text);
    free(text);
    return value;
}

static json_t *s_json_value(const ProtobufCFieldDescriptor *field, const void *at) {
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer(*(const int32_t *)at);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer(*(const uint32_t *)at);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return json_integer(*(const int64_t *)at);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return cli_json_u64(*(const uint64_t *)at);
        case PROTOBUF_C_TYPE_FLOAT:
            return json_real(*(const float *)at);
        case PROTOBUF_C_TYPE_DOUBLE:
            return json_real(*(const double *)at);
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean(*(const protobuf_c_boolean *)at);
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumValue *known =
                protobuf_c_enum_descriptor_get_value(field->descriptor, *(const int *)at);
            return known ? json_string(known->name) : json_integer(*(const int *)at);
        }
        case PROTOBUF_C_TYPE_STRING:
            return json_string(*(char *const *)at ? *(char *const *)at : "");
        case PROTOBUF_C_TYPE_BYTES:
            return s_json_bytes(*(const ProtobufCBinaryData *)at);
        case PROTOBUF_C_TYPE_MESSAGE:
            return *(ProtobufCMessage *const *)at ? s_json_message(*(ProtobufCMessage *const *)at)
                                                  : json_null();
    }
    return json_null();
}

static json_t *s_json_message(const ProtobufCMessage *message) {
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    const uint8_t *base = (const uint8_t *)message;
    json_t *object = json_object();
    for (unsigned f = 0; object && f < descriptor->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[f];
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + field->quantifier_offset) != field->id)
            continue;
        json_t *value;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)(base + field->quantifier_offset);
            const uint8_t *array = *(const uint8_t *const *)(base + field->offset);
            value = json_array();
            for (size_t i = 0; value && i < count; i++)
                if (!cli_json_append(value, s_json_value(field, array + i * s_element_size(field))))
                    json_decref(value), value = NULL;
        } else
            value = s_json_value(field, base + field->offset);
        if (!value || json_object_set_new(object, field->name, value) != 0)
            json_decref(object), object = NULL;
    }
    return object;
}

//  ---- the answer ---------------------------------------------------------------------------

//  Response `index` of the BatchResult, decoded (the caller frees), or NULL.
static Cairn__Response *s_inner(const answer_t *answer, size_t index) {
    ProtobufCBinaryData bytes = answer->response->batch->responses[index];
    return cairn__response__unpack(NULL, bytes.len, bytes.data);
}

static const char *s_kind(const Cairn__Response *response) {
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field(&cairn__response__descriptor, response->body_case);
    return field ? field->name : "-";
}

static void s_print_batch(const answer_t *answer) {
    const Cairn__BatchResult *result = answer->response->batch;
    printf("stored %zu requests in one transaction\n", result->n_responses);
    for (size_t i = 0; i < result->n_responses; i++) {
        Cairn__Response *inner = s_inner(answer, i);
        if (!inner) {
            printf("  %zu: (an answer this client cannot read)\n", i + 1);
            continue;
        }
        printf("  %zu: id %" PRIu64 " %s %s%s%s\n", i + 1, inner->id, s_kind(inner),
               ca_status_str((ca_status_t)inner->status), *inner->error ? ": " : "", inner->error);
        cairn__response__free_unpacked(inner, NULL);
    }
}

static json_t *s_json_batch(const answer_t *answer) {
    const Cairn__BatchResult *result = answer->response->batch;
    json_t *responses = json_array();
    for (size_t i = 0; responses && i < result->n_responses; i++) {
        Cairn__Response *inner = s_inner(answer, i);
        json_t *item = NULL;
        if (inner) {
            json_t *body = s_json_message(&inner->base);
            json_t *inner_body = body ? json_object_get(body, s_kind(inner)) : NULL;
            item = json_pack("{s:o, s:s, s:s, s:s, s:O?}", "id", cli_json_u64(inner->id), "status",
                             ca_status_str((ca_status_t)inner->status), "kind", s_kind(inner),
                             "error", inner->error, "body", inner_body);
            json_decref(body);
            cairn__response__free_unpacked(inner, NULL);
        }
        if (!cli_json_append(responses, item))
            json_decref(responses), responses = NULL;
    }
    return responses ? json_pack("{s:o}", "responses", responses) : NULL;
}

//  ---- the table -----------------------------------------------------------------------

static const command_t s_rows[] = {
    {"batch",
     NULL,
     1,
     "FILE",
     "store several writes, of any stores, all or nothing",
     {{NULL, NULL, false}},
     s_build_batch,
     s_print_batch,
     s_json_batch,
     "FILE is a JSON list of requests (\"-\": stdin), each an object naming one request "
     "kind by its field in cairn.Request, e.g. [{\"config_set\": {\"key\": \"a\", \"value\": "
     "\"1\"}}, {\"member_join\": {\"channel\": \"#general\", \"member_id\": \"alice\"}}]; "
     "bytes are strings or {\"hex\": ...} / {\"base64\": ...}. The kinds a batch may carry and "
     "what it promises: schemas/batch.proto.",
     NULL,
     {CAIRN__REQUEST__BODY_BATCH, CAIRN__REQUEST__BODY__NOT_SET}},
};

CLI_FAMILY(batch, s_rows, batch_storage_t);

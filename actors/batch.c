/*  =========================================================================
    batch - atomic batches of writes across stores

    A Batch carries packed requests of any stores (schemas/batch.proto says
    which and what the client sees). Its worker runs each one's row exactly
    as that store's worker would, in order, except that the write a row
    hands to ca_store_write is kept instead of sent. Then all of them go to
    the writer as ONE write: one savepoint, so the writer stores every
    statement of every request or none (a failed expectation anywhere rolls
    the whole batch back). Once it committed, each row's `done` gets its own
    share of the results and builds that request's answer.

    Between the two halves the plan (how many statements each request
    added, and the answers of requests that wrote nothing) travels in the
    write's context (BatchPlan, schemas/internal.proto), so nothing is kept
    in the worker between turns.

    A request refused before the write (its store's validation) fails the
    batch at once; one refused inside the transaction fails it there: the
    answer names the request ("request I of N (kind): ...") either way, and
    nothing is stored.

    Only the kinds listed in s_batchable_kinds run here (ca_store_batch.h
    says what a row promises by being listed); node_test checks each listed
    kind's store against that.
    ========================================================================= */

#include "batch.h"
#include "ca_envelope.h"
#include "ca_limits.h"
#include "ca_log.h"
#include "ca_store_batch.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

//  The kinds a Batch may carry: writes whose rows keep the promise in
//  ca_store_batch.h. The one list of them (schemas/batch.proto points here).
static const Cairn__Request__BodyCase s_batchable_kinds[] = {
    CAIRN__REQUEST__BODY_CONFIG_SET,    CAIRN__REQUEST__BODY_CHANNEL_TOUCH,
    CAIRN__REQUEST__BODY_MEMBER_JOIN,   CAIRN__REQUEST__BODY_MEMBER_LEAVE,
    CAIRN__REQUEST__BODY_PEER_PUT,      CAIRN__REQUEST__BODY_PEER_STATUS,
    CAIRN__REQUEST__BODY_PEER_BLOCK,    CAIRN__REQUEST__BODY_GOSSIP_ADD,
    CAIRN__REQUEST__BODY_MESSAGE_STORE, CAIRN__REQUEST__BODY_TOPIC_ASSOCIATE,
    CAIRN__REQUEST__BODY_TOPIC_REMOVE,  CAIRN__REQUEST__BODY_CURSOR_SET,
    CAIRN__REQUEST__BODY_CURSOR_DELETE, CAIRN__REQUEST__BODY_GROUP_PUT,
    CAIRN__REQUEST__BODY_GROUP_DELETE,  CAIRN__REQUEST__BODY_BOOK_PUT,
    CAIRN__REQUEST__BODY_BOOK_REMOVE,   CAIRN__REQUEST__BODY_BOOK_REMOVE_OLDER,
    CAIRN__REQUEST__BODY_OPLOG_APPEND,  CAIRN__REQUEST__BODY_OPLOG_PRUNE,
    CAIRN__REQUEST__BODY_OPLOG_ERASE,
};
#define BATCHABLE_COUNT (sizeof s_batchable_kinds / sizeof s_batchable_kinds[0])

bool batch_kind_allowed(unsigned body) {
    for (size_t i = 0; i < BATCHABLE_COUNT; i++)
        if ((unsigned)s_batchable_kinds[i] == body)
            return true;
    return false;
}

typedef struct {
    Cairn__Request *request; //  decoded into the turn's arena
    const ca_store_def_t *def;
    const ca_handler_t *row;
} item_t;

//  `format` printed into the turn's arena (ca_reply memory): for texts a
//  write references until it is packed.
static char *s_arena_printf(ca_store_t *store, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static char *s_arena_printf(ca_store_t *store, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int size = vsnprintf(NULL, 0, format, args);
    va_end(args);
    char *text = (char *)ca_arena_alloc(ca_batch_arena(store), (size_t)size + 1);
    if (text) {
        va_start(args, format);
        vsnprintf(text, (size_t)size + 1, format, args);
        va_end(args);
    }
    return text;
}

//  Request `index` of the batch, checked like a frame of its own, decoded,
//  and the row that serves it: false, with the reply failed, when any of
//  that fails.
static bool s_item(ca_store_t *store, const Cairn__Batch *batch, size_t index, item_t *item,
                   ca_reply_t *reply) {
    size_t count = batch->n_requests;
    ProtobufCBinaryData bytes = batch->requests[index];
    char problem[200];
    if (!ca_envelope_check_request(&cairn__request__descriptor, bytes.data, bytes.len, problem,
                                   sizeof problem)) {
        ca_reply_error(reply, CA_INVALID, "request %zu of %zu: %s; nothing was stored", index + 1,
                       count, problem);
        return false;
    }
    item->request =
        cairn__request__unpack(ca_arena_allocator(ca_batch_arena(store)), bytes.len, bytes.data);
    if (!item->request) {
        ca_reply_error(reply, CA_INVALID,
                       "request %zu of %zu is not a valid protobuf cairn.Request: pack each one "
                       "exactly as a frame would carry it; nothing was stored",
                       index + 1, count);
        return false;
    }
    item->row = ca_batch_row(store, (unsigned)item->request->body_case, &item->def);
    if (!item->row || !batch_kind_allowed((unsigned)item->request->body_case)) {
        ca_reply_error(reply, CA_INVALID,
                       "request %zu of %zu (%s) cannot be part of a batch: only the write kinds "
                       "schemas/batch.proto lists can; nothing was stored",
                       index + 1, count,
                       item->row                  ? item->row->name
                       : item->request->body_case ? "a kind no store serves"
                                                  : "no body");
        return false;
    }
    return true;
}

//  The statements of every request's write, in order, for one WriteRequest.
typedef struct {
    Cairn__Internal__Statement **statements; //  turn memory
    size_t count;
    size_t capacity;
    char *before_commit[CA_WRITER_MAX_BEFORE_COMMIT];
    size_t before_commit_count;
    bool durable;
    size_t freeing; //  writes that only free space (deletes)
    size_t writes;
} combined_t;

static bool s_reserve(ca_store_t *store, combined_t *combined, size_t more) {
    if (combined->count + more <= combined->capacity)
        return true;
    size_t capacity = combined->capacity ? combined->capacity * 2 : 16;
    while (capacity < combined->count + more)
        capacity *= 2;
    Cairn__Internal__Statement **statements = (Cairn__Internal__Statement **)ca_arena_alloc(
        ca_batch_arena(store), capacity * sizeof *statements);
    if (!statements)
        return false;
    if (combined->count)
        memcpy(statements, combined->statements, combined->count * sizeof *statements);
    combined->statements = statements;
    combined->capacity = capacity;
    return true;
}

static bool s_add_before_commit(combined_t *combined, char *sql) {
    for (size_t i = 0; i < combined->before_commit_count; i++)
        if (streq(combined->before_commit[i], sql))
            return true;
    if (combined->before_commit_count == CA_WRITER_MAX_BEFORE_COMMIT)
        return false;
    combined->before_commit[combined->before_commit_count++] = sql;
    return true;
}

//  Bytes of `frame` in turn memory; false when memory ran out.
static bool s_keep_frame(ca_store_t *store, zframe_t *frame, ProtobufCBinaryData *bytes) {
    bytes->len = zframe_size(frame);
    bytes->data = (uint8_t *)ca_arena_alloc(ca_batch_arena(store), bytes->len ? bytes->len : 1);
    if (bytes->data)
        memcpy(bytes->data, zframe_data(frame), bytes->len);
    return bytes->data != NULL;
}

//  The answers a row packed up front (ca_store_write_answered) into `step`.
static bool s_keep_answers(ca_store_t *store, const ca_batch_capture_t *capture,
                           const Cairn__Internal__WriteRequest *write,
                           Cairn__Internal__BatchStep *step) {
    if (!capture->answers[0])
        return true;
    step->answer_by = capture->answer_by;
    step->by_rows = capture->answer_by < write->n_statements &&
                    write->statements[capture->answer_by]->want_rows;
    return s_keep_frame(store, capture->answers[0], &step->answer) &&
           (!capture->answers[1] ||
            s_keep_frame(store, capture->answers[1], &step->answer_if_counted));
}

//  Adds the write one request's row packed (capture->write) to `combined`,
//  naming the request in each statement's fail message so that a refusal
//  inside the transaction says which request it was, and keeps its answers
//  packed up front in `step`. Returns its statement count, or -1 when it
//  cannot join (out of memory, or a row that breaks the promise of
//  ca_store_batch.h: a bug).
static int64_t s_join(ca_store_t *store, combined_t *combined, const ca_batch_capture_t *capture,
                      Cairn__Internal__BatchStep *step, size_t index, size_t count,
                      const char *kind) {
    Cairn__Internal__WriterRequest *request = cairn__internal__writer_request__unpack(
        ca_arena_allocator(ca_batch_arena(store)), zframe_size(capture->write),
        zframe_data(capture->write));
    if (!request || request->body_case != CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE)
        return -1;
    const Cairn__Internal__WriteRequest *write = request->write;
    if (write->vacuum || !s_reserve(store, combined, write->n_statements) ||
        !s_keep_answers(store, capture, write, step))
        return -1;
    step->context = write->context; //  turn memory, like the statements
    for (size_t i = 0; i < write->n_before_commit; i++)
        if (!s_add_before_commit(combined, write->before_commit[i]))
            return -1;
    for (size_t i = 0; i < write->n_statements; i++) {
        Cairn__Internal__Statement *statement = write->statements[i];
        if (*statement->fail_message) {
            statement->fail_message = s_arena_printf(
                store, "request %zu of %zu (%s): %s; nothing of the batch was stored", index + 1,
                count, kind, statement->fail_message);
            if (!statement->fail_message)
                return -1;
        }
        combined->statements[combined->count++] = statement;
    }
    combined->durable |= write->durable;
    combined->freeing += write->frees_space;
    combined->writes++;
    return (int64_t)write->n_statements;
}

//  Runs request `index`: its write joins `combined` and its statement count
//  goes into `step`, or its answer (a request that wrote nothing) into the
//  step. False, with the reply failed, when the batch must stop.
static bool s_run_item(ca_store_t *store, const Cairn__Batch *batch, size_t index,
                       combined_t *combined, Cairn__Internal__BatchStep *step, ca_reply_t *reply) {
    item_t item;
    if (!s_item(store, batch, index, &item, reply))
        return false;
    size_t count = batch->n_requests;
    ca_reply_t *own = ca_batch_reply_new(store, item.request->id);
    ca_batch_capture_t capture;
    ca_batch_handle_as(store, item.def, item.row, item.request, own, &capture);
    bool ok = true;
    if (!capture.write) {
        ca_status_t status = ca_batch_reply_status(own);
        ok = status == CA_OK && !ca_batch_reply_pending(own);
        if (!ok)
            ca_reply_error(reply, status, "request %zu of %zu (%s): %s; nothing was stored",
                           index + 1, count, item.row->name, ca_batch_reply_error(own));
        else if (!ca_batch_reply_pack(own, &step->answer)) {
            ok = false;
            ca_reply_error(reply, CA_INTERNAL,
                           "the node ran out of memory for this batch's answers; nothing was "
                           "stored, retry with fewer requests");
        }
    } else {
        int64_t statements = s_join(store, combined, &capture, step, index, count, item.row->name);
        ok = statements >= 0;
        if (ok)
            step->statements = (uint32_t)statements;
        else
            ca_reply_error(reply, CA_INTERNAL,
                           "request %zu of %zu (%s) could not join the batch's write (out of "
                           "memory, or a row wrongly listed as batchable: report it); nothing "
                           "was stored",
                           index + 1, count, item.row->name);
    }
    zframe_destroy(&capture.write);
    zframe_destroy(&capture.answers[0]);
    zframe_destroy(&capture.answers[1]);
    ca_batch_reply_end(own);
    return ok;
}

//  The answer when every request is answered: BatchResult.
static void s_answer(ca_reply_t *reply, ProtobufCBinaryData *responses, size_t count) {
    Cairn__BatchResult *result = (Cairn__BatchResult *)ca_reply_alloc(reply, sizeof *result);
    cairn__batch_result__init(result);
    result->responses = responses;
    result->n_responses = count;
    Cairn__Response *response = ca_reply_response(reply);
    response->body_case = CAIRN__RESPONSE__BODY_BATCH;
    response->batch = result;
}

//  Sends the combined write with the plan as its context.
static void s_send(ca_store_t *store, combined_t *combined, Cairn__Internal__BatchStep **steps,
                   size_t count, ca_reply_t *reply) {
    Cairn__Internal__BatchPlan plan = CAIRN__INTERNAL__BATCH_PLAN__INIT;
    plan.steps = steps;
    plan.n_steps = count;
    size_t size = cairn__internal__batch_plan__get_packed_size(&plan);
    uint8_t *packed = (uint8_t *)ca_arena_alloc(ca_batch_arena(store), size ? size : 1);
    Cairn__Internal__WriteRequest write = CAIRN__INTERNAL__WRITE_REQUEST__INIT;
    write.statements = combined->statements;
    write.n_statements = combined->count;
    write.durable = combined->durable;
    //  The reserve below max_db_bytes is for deletes: a batch may use it
    //  only when every request in it is one.
    write.frees_space = combined->freeing == combined->writes;
    write.before_commit = combined->before_commit;
    write.n_before_commit = combined->before_commit_count;
    Cairn__Internal__WriterRequest request = CAIRN__INTERNAL__WRITER_REQUEST__INIT;
    request.body_case = CAIRN__INTERNAL__WRITER_REQUEST__BODY_WRITE;
    request.write = &write;
    zframe_t *frame = NULL;
    if (packed) {
        cairn__internal__batch_plan__pack(&plan, packed);
        write.context.data = packed;
        write.context.len = size;
        frame = ca_message_frame_try(&request.base);
    }
    if (frame)
        ca_batch_write(store, &frame, reply); //  BUSY when the writer is full
    else
        ca_reply_error(reply, CA_INTERNAL,
                       "the node ran out of memory for this batch; nothing was stored, retry");
}

static void s_batch(ca_store_t *store, const Cairn__Request *request, ca_reply_t *reply) {
    const Cairn__Batch *batch = request->batch;
    size_t count = batch->n_requests;
    if (count == 0 || count > CA_BATCH_REQUESTS_MAX) {
        ca_reply_error(reply, CA_INVALID,
                       "a batch holds 1 to %d requests; this one has %zu: split it or send the "
                       "request alone",
                       CA_BATCH_REQUESTS_MAX, count);
        return;
    }
    Cairn__Internal__BatchStep *steps =
        (Cairn__Internal__BatchStep *)ca_reply_alloc(reply, count * sizeof *steps);
    Cairn__Internal__BatchStep **step_list =
        (Cairn__Internal__BatchStep **)ca_reply_alloc(reply, count * sizeof *step_list);
    combined_t combined = {0};
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        cairn__internal__batch_step__init(&steps[i]);
        step_list[i] = &steps[i];
        ok = s_run_item(store, batch, i, &combined, &steps[i], reply);
    }
    if (ok && combined.count == 0) {
        //  Nothing to write (every store already had what it was given).
        ProtobufCBinaryData *responses =
            (ProtobufCBinaryData *)ca_reply_alloc(reply, count * sizeof *responses);
        for (size_t i = 0; i < count; i++)
            responses[i] = steps[i].answer;
        s_answer(reply, responses, count);
    } else if (ok)
        s_send(store, &combined, step_list, count, reply);
}

//  The write committed: each request's answer, from its row's `done` on its
//  share of the results (or the answer kept in the plan).
static void s_batch_done(ca_store_t *store, const Cairn__Request *request,
                         const Cairn__Internal__WriteReply *write, ca_reply_t *reply) {
    const Cairn__Batch *batch = request->batch;
    size_t count = batch->n_requests;
    Cairn__Internal__BatchPlan *plan = cairn__internal__batch_plan__unpack(
        ca_arena_allocator(ca_batch_arena(store)), write->context.len, write->context.data);
    if (!plan || plan->n_steps != count) {
        ca_reply_error(reply, CA_INTERNAL,
                       "the batch was stored but its answers were lost (out of memory); read "
                       "back what it wrote before retrying");
        return;
    }
    ProtobufCBinaryData *responses =
        (ProtobufCBinaryData *)ca_reply_alloc(reply, count * sizeof *responses);
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const Cairn__Internal__BatchStep *step = plan->steps[i];
        if (offset + step->statements > write->n_results) {
            ca_reply_error(reply, CA_INTERNAL,
                           "the batch was stored but its results do not match its plan (a bug: "
                           "report it); read back what it wrote before retrying");
            return;
        }
        if (step->statements == 0 || step->answer.len) {
            //  Answered without writing, or packed up front: the second
            //  answer when its statement counted something.
            const Cairn__Internal__StatementResult *by =
                step->answer_if_counted.len && step->answer_by < step->statements
                    ? write->results[offset + step->answer_by]
                    : NULL;
            bool counted = by && (step->by_rows ? by->n_rows > 0 : by->changes > 0);
            responses[i] = counted ? step->answer_if_counted : step->answer;
            offset += step->statements;
            continue;
        }
        item_t item;
        if (!s_item(store, batch, i, &item, reply))
            return; //  decoded fine before the write: only memory can fail it now
        if (!item.row->done) {
            ca_reply_error(reply, CA_INTERNAL,
                           "the batch was stored but request %zu (%s) has no answer (a bug: "
                           "report it)",
                           i + 1, item.row->name);
            return;
        }
        Cairn__Internal__WriteReply share = *write;
        share.results = write->results + offset;
        share.n_results = step->statements;
        share.context = step->context;
        offset += step->statements;
        ca_reply_t *own = ca_batch_reply_new(store, item.request->id);
        ca_batch_done_as(store, item.def, item.row, item.request, &share, own);
        bool packed = ca_batch_reply_pack(own, &responses[i]);
        ca_batch_reply_end(own);
        if (!packed) {
            ca_reply_error(reply, CA_INTERNAL,
                           "the batch was stored but the node ran out of memory for its "
                           "answers; read back what it wrote before retrying");
            return;
        }
    }
    s_answer(reply, responses, count);
}

static const ca_handler_t s_handlers[] = {
    {CAIRN__REQUEST__BODY_BATCH, "batch", s_batch, s_batch_done, 0},
};

const ca_store_def_t batch_store_def = {
    .name = "batch",
    .handlers = s_handlers,
    .handler_count = sizeof s_handlers / sizeof s_handlers[0],
};

/*  =========================================================================
    ca_store_batch - what the batch store (actors/batch.c) needs of the
    framework to run other stores' rows inside one write

    Not for other stores: a handler runs through ca_store_actor and never
    needs these. All memory is the worker's turn arena (ca_store.c).
    ========================================================================= */

#ifndef CA_STORE_BATCH_H_INCLUDED
#define CA_STORE_BATCH_H_INCLUDED

#include "ca_arena.h"
#include "ca_store.h"

//  What a row's handler handed to ca_store_write or ca_store_write_answered
//  while the batch engine ran it: the packed write (a WriterRequest frame),
//  and with ca_store_write_answered its answers packed up front, the second
//  one for when statement `answer_by` counted something. Frames are the
//  engine's to destroy.
typedef struct {
    zframe_t *write;
    zframe_t *answers[2];
    uint32_t answer_by;
} ca_batch_capture_t;

//  A reply for one request of a batch, for this turn; end it with
//  ca_batch_reply_end once packed.
ca_reply_t *ca_batch_reply_new(ca_store_t *store, uint64_t id);
void ca_batch_reply_end(ca_reply_t *reply);

//  Whether the row started a write (answered later by its `done`).
bool ca_batch_reply_pending(const ca_reply_t *reply);
ca_status_t ca_batch_reply_status(const ca_reply_t *reply);
const char *ca_batch_reply_error(const ca_reply_t *reply);

//  The reply packed as a cairn.Response, in turn memory: false when memory
//  ran out.
bool ca_batch_reply_pack(ca_reply_t *reply, ProtobufCBinaryData *packed);

//  The row serving request kind `body` among the node's stores, and its
//  store in *def_p; NULL when no store serves it. The batch store runs
//  only the rows of the kinds it lists (actors/batch.c), which promise: the
//  handler's only effect is its ca_store_write (or an answer without one),
//  `done` needs nothing but the write's results, and the store has no
//  state_new state, write_failed or wipe_request hook (the batch worker
//  runs the row with the store's settings and a read connection only).
const ca_handler_t *ca_batch_row(ca_store_t *store, unsigned body, const ca_store_def_t **def_p);

//  Runs the row's handler as a worker of `def` would, except that what it
//  would send to the writer lands in *capture (all NULL when it wrote
//  nothing) instead.
void ca_batch_handle_as(ca_store_t *store, const ca_store_def_t *def, const ca_handler_t *row,
                        const Cairn__Request *request, ca_reply_t *reply,
                        ca_batch_capture_t *capture);

//  Runs the row's `done` on its share of the batch's write results.
void ca_batch_done_as(ca_store_t *store, const ca_store_def_t *def, const ca_handler_t *row,
                      const Cairn__Request *request, const Cairn__Internal__WriteReply *write,
                      ca_reply_t *reply);

//  The worker's turn arena.
ca_arena_t *ca_batch_arena(ca_store_t *store);

//  Sends a packed WriterRequest for the batch being handled (as
//  ca_store_write does) and takes the frame; the row's `done` runs once it
//  committed. -1 with the reply BUSY when the writer's queue is full.
int ca_batch_write(ca_store_t *store, zframe_t **body_p, ca_reply_t *reply);

#endif

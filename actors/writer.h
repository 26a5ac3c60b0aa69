/*  =========================================================================
    writer - the only SQLite connection that writes (group commit)

    See writer.c for the design. Lifecycle: zactor_new(writer_actor, &config)
    (the config is copied before the constructor returns), then
    ca_actor_start() runs the fallible set-up (open, pragmas, migrations) and
    returns its status; writes then flow over CA_WRITER_ENDPOINT.
    ========================================================================= */

#ifndef WRITER_H_INCLUDED
#define WRITER_H_INCLUDED

#include "ca_sql.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *db_path;
    const char *vfs;      //  NULL: SQLite's default VFS
    const char *endpoint; //  NULL: CA_WRITER_ENDPOINT
    //  Where committed writes that carry their answer go (the gateway's
    //  CA_GATEWAY_ANSWERS_ENDPOINT); NULL: every answer goes to its store.
    const char *answers_endpoint;
    bool synchronous_full; //  commit every batch with synchronous=FULL
    size_t batch_max;      //  writes per transaction, at most
    int64_t max_db_bytes;  //  0: no cap; else writes past it fail (SQLITE_FULL)
    //  PRAGMA quick_check before serving; a damaged file is refused.
    bool start_check;
    //  Ordinary writes stop when the disk has less free (0: never).
    int64_t min_free_bytes;
    const ca_schema_t *const *schemas;
    size_t schema_count;
} writer_config_t;

//  The actor function; args is a writer_config_t *.
void writer_actor(zsock_t *pipe, void *args);

//  A WriterRequest frame asking for the writer's statistics (answered with
//  a WriterResponse.stats, outside any batch). Caller owns the frame.
zframe_t *writer_stats_request(void);

void writer_test(bool verbose);

#endif

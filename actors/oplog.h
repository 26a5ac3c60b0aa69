/*  =========================================================================
    oplog - signed append-only operation logs, fork evidence and the
    orderer; pool "oplog", tables of oplog_schema (requests:
    schemas/oplog.proto, canonical encoding: actors/wire/oplog_encoding.h)
    ========================================================================= */

#ifndef OPLOG_H_INCLUDED
#define OPLOG_H_INCLUDED

#include "ca_store.h"

#define CA_OPLOG_PAGE_DEFAULT    100  //  range, forks, pending, take: limit 0
#define CA_OPLOG_PAGE_MAX        1000 //  ... at most
#define CA_OPLOG_HEIGHTS_DEFAULT 1000 //  heights: limit 0
#define CA_OPLOG_HEIGHTS_MAX     10000
#define CA_OPLOG_PAGE_BYTES      (4 * 1024 * 1024) //  a range or take page stops past this
#define CA_OPLOG_CONSUMER_MAX    128               //  consumer name bytes
#define CA_OPLOG_SEQ_MAX         INT64_MAX         //  seq and log_id are stored as SQLite integers

extern const ca_schema_t oplog_schema;

extern const ca_store_def_t oplog_store_def;

//  SQL defined once here for the store and cairn-bench's baseline: a
//  log's entries by seq (?1 author, ?2 log_id, ?3 from seq, ?4 until seq
//  exclusive, ?5 limit): hash, header, body, erased, seq.
extern const char oplog_sql_range[];

//  An author's logs (?1 author, ?2 1 when paging on, ?3 after this log_id,
//  ?4 limit): log_id, latest seq, operations.
extern const char oplog_sql_heights[];

void oplog_test(bool verbose);

#endif

/*  =========================================================================
    logbook - topics, cursors, groups and the address book kept around the
    signed operation logs; pool "logbook", tables of logbook_schema
    (requests: schemas/logbook.proto)
    ========================================================================= */

#ifndef LOGBOOK_H_INCLUDED
#define LOGBOOK_H_INCLUDED

#include "ca_store.h"

#define CA_LOGBOOK_KEY_BYTES      32            //  author, topic, group and node ids
#define CA_LOGBOOK_NAME_MAX       64            //  cursor names
#define CA_LOGBOOK_STATE_MAX      (64 * 1024)   //  a group's state
#define CA_LOGBOOK_ADDRESSES_MAX  16            //  transport addresses of a node
#define CA_LOGBOOK_ADDRESS_MAX    256           //  bytes of one address
#define CA_LOGBOOK_TOPICS_MAX     64            //  topics of a node
#define CA_LOGBOOK_PAGE_DEFAULT   100           //  limit 0
#define CA_LOGBOOK_PAGE_MAX       1000          //  limit at most
#define CA_LOGBOOK_PAGE_BYTES_MAX (1024 * 1024) //  BookList: a page ends before this

extern const ca_schema_t logbook_schema;

extern const ca_store_def_t logbook_store_def;

void logbook_test(bool verbose);

#endif

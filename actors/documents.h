/*  =========================================================================
    documents - versioned JSON documents per tenant, content-addressed by
    the SHA-256 of their canonical JSON; pool "documents", tables of
    documents_schema (requests: schemas/documents.proto)
    ========================================================================= */

#ifndef DOCUMENTS_H_INCLUDED
#define DOCUMENTS_H_INCLUDED

#include "ca_store.h"

#define CA_DOC_NAME_MAX          256          //  tenant, entry and user names
#define CA_DOC_KEY_MAX           1024         //  a record's key
#define CA_DOC_ITEMS_MAX         1000         //  records of one put_many
#define CA_DOC_PAGE_DEFAULT      100          //  history max_items 0
#define CA_DOC_PAGE_MAX          1000         //  history max_items at most
#define CA_DEFAULT_DOC_MAX_BYTES (256 * 1024) //  doc_max_bytes: canonical object size

extern const ca_schema_t documents_schema;

extern const ca_store_def_t documents_store_def;

void documents_test(bool verbose);

#endif

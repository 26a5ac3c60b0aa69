/*  =========================================================================
    documents_json - JSON parsing and the canonical form of the documents
    store (the rules: schemas/documents.proto, "Canonical form")
    ========================================================================= */

#ifndef DOCUMENTS_JSON_H_INCLUDED
#define DOCUMENTS_JSON_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CA_DOC_DEPTH_MAX   64  //  nesting levels of an object (the top one is 1)
#define CA_DOC_ERROR_BYTES 256 //  room for a parse or canonical-form problem

//  Parses `size` bytes of JSON text (any value, not only an object). Returns the value (caller
//  decrefs), or NULL with `error` saying what is wrong and where: "line L, column C, position P".
//  Duplicate keys in an object are refused.
json_t *documents_json_parse(const char *text, size_t size, char *error);

//  The canonical text of `value` (malloc'd, NUL-terminated, caller frees)
//  with its length in *length; NULL with `error` set when it is deeper than
//  CA_DOC_DEPTH_MAX, longer than `max_bytes`, or memory ran out (*oom).
char *documents_json_canonical(const json_t *value, size_t max_bytes, size_t *length, bool *oom,
                               char *error);

//  The pinned vectors of the canonical form (schemas/documents.proto): a
//  JSON text, its canonical form and the SHA-256 of that in hex. A change
//  to one changes stored digests: they are never edited.
typedef struct {
    const char *input, *canonical, *digest;
} documents_json_vector_t;

extern const documents_json_vector_t documents_json_vectors[];
extern const size_t documents_json_vector_count;

void documents_json_test(bool verbose);

#endif

/*  =========================================================================
    report - what cairn-bench prints about a run: its header, a line per
    case done, the table of results and the same-run ratios
    ========================================================================= */

#ifndef REPORT_H_INCLUDED
#define REPORT_H_INCLUDED

#include "bench.h"

//  "baseline", "helper" or "node".
const char *report_kind_name(kind_t kind);

//  The command, date, machine, library versions and settings of the run.
void report_header(const bench_t *bench);

//  One line as a case ends: its ops/s, and MB/s when it moved payload.
void report_done(const bench_case_t *row, const result_t *result);

//  The table of the cases that ran (`rows` and `results` side by side),
//  then the first error of each case that had one.
void report_results(const bench_case_t *const *rows, const result_t *results, size_t count);

//  Each case that ran divided by each case it is measured against (its
//  `versus` rows), when that one ran too.
void report_ratios(const bench_case_t *const *rows, const result_t *results, size_t count);

#endif

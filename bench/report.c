/*  =========================================================================
    report - what cairn-bench prints: the run's header (command, machine,
    versions, settings), a line as each case ends, the table of results
    and the ratios of each case to the cases it is measured against

    A ratio divides MB/s when both cases move payload, else ops/s; both
    cases ran in the same run, seconds apart, which is what makes ratios
    comparable across days when absolute numbers are not.
    ========================================================================= */

#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

const char *report_kind_name(kind_t kind) {
    return kind == KIND_NODE ? "node" : kind == KIND_HELPER ? "helper" : "baseline";
}

//  ---- rates -----------------------------------------------------------------------------

static double s_ops_per_second(const result_t *result) {
    return result->seconds > 0 ? (double)result->ok / result->seconds : 0;
}

//  Precision for a rate: whole numbers, but tenths below 100 (a case of
//  64 MiB blobs does a few per second).
static int s_rate_digits(double rate) {
    return rate < 100 ? 1 : 0;
}

//  Payload throughput in MB/s (10^6 bytes), 0 for a case without payload.
static double s_mb_per_second(const result_t *result) {
    return result->seconds > 0 ? (double)result->bytes / 1e6 / result->seconds : 0;
}

//  ---- the header ---------------------------------------------------------------------

//  Copies the value of the first "model name" line of /proc/cpuinfo.
static void s_cpu_model(char *model, size_t size) {
    snprintf(model, size, "unknown");
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, file)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(model, size, "%s", colon);
            found = true;
        }
    }
    fclose(file);
}

void report_header(const bench_t *bench) {
    char model[256];
    s_cpu_model(model, sizeof model);
    struct utsname name;
    if (uname(&name) != 0)
        memset(&name, 0, sizeof name);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("command:  %s\n", bench->command_line);
    printf("date:     %s\n", date);
    printf("machine:  nproc %ld, %s, %s %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           name.sysname, name.release, name.machine);
    printf("versions: cairn %s, libzmq %d.%d.%d, czmq %d.%d.%d, sqlite %s\n", CAIRN_VERSION, major,
           minor, patch, CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH,
           sqlite3_libversion());
    bench_hash_print_versions();
    printf("settings: %.3g s per case, window %d, at most %" PRIu64 " ops per case, "
           "%" PRIu64 " messages in the paged channel, %" PRIu64 " nodes in the provenance DAG\n\n",
           bench->seconds, bench->window, bench->max_ops, bench->page_messages, bench->prov_nodes);
    fflush(stdout);
}

//  ---- the results ------------------------------------------------------------------------

void report_results(const bench_case_t *const *rows, const result_t *results, size_t count) {
    printf("\n%-30s %-8s %12s %10s %11s %8s %8s %8s\n", "case", "kind", "ops/s", "MB/s", "ok",
           "busy", "errors", "seconds");
    for (size_t i = 0; i < count; i++) {
        if (!results[i].ran)
            continue;
        char mb[32] = "-";
        if (results[i].bytes)
            snprintf(mb, sizeof mb, "%.1f", s_mb_per_second(&results[i]));
        double rate = s_ops_per_second(&results[i]);
        printf("%-30s %-8s %12.*f %10s %11" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8.2f\n",
               rows[i]->name, report_kind_name(rows[i]->kind), s_rate_digits(rate), rate, mb,
               results[i].ok, results[i].busy, results[i].errors, results[i].seconds);
    }
    for (size_t i = 0; i < count; i++)
        if (results[i].ran && results[i].first_error[0])
            printf("first error of %s: %s\n", rows[i]->name, results[i].first_error);
    //  Latency gets its own table below, so the lines above keep their columns.
    bool title = false;
    for (size_t i = 0; i < count; i++) {
        if (!results[i].ran || !results[i].latency)
            continue;
        if (!title)
            printf("\n%-30s %-8s %12s %10s %10s %10s\n", "case (1 in flight per client)", "kind",
                   "ops/s", "p50 us", "p99 us", "mean batch");
        title = true;
        char batch[32] = "-";
        if (results[i].mean_batch > 0)
            snprintf(batch, sizeof batch, "%.1f", results[i].mean_batch);
        double rate = s_ops_per_second(&results[i]);
        printf("%-30s %-8s %12.*f %10.0f %10.0f %10s\n", rows[i]->name,
               report_kind_name(rows[i]->kind), s_rate_digits(rate), rate, results[i].p50_us,
               results[i].p99_us, batch);
    }
    for (size_t i = 0; i < count; i++)
        if (results[i].skipped)
            printf("skipped %s: %s\n", rows[i]->name, results[i].note);
}

//  The ratio of two results: of MB/s when both carry payload, else of ops/s.
static double s_ratio(const result_t *result, const result_t *base) {
    bool bytes = result->bytes && base->bytes;
    double denominator = bytes ? s_mb_per_second(base) : s_ops_per_second(base);
    double numerator = bytes ? s_mb_per_second(result) : s_ops_per_second(result);
    return denominator > 0 ? numerator / denominator : 0.0;
}

//  The index of the row named `name`; -1 when there is none.
static int s_row_index(const bench_case_t *const *rows, size_t count, const char *name) {
    for (size_t i = 0; i < count; i++)
        if (streq(rows[i]->name, name))
            return (int)i;
    return -1;
}

//  Prints `title` before the first line of its list, then the start of a
//  ratio's line: "  case / base = ".
static void s_ratio_label(bool *title, const char *text, const bench_case_t *row,
                          const bench_case_t *base) {
    if (!*title)
        printf("\n%s:\n", text);
    *title = true;
    char label[96];
    snprintf(label, sizeof label, "%s / %s", row->name, base->name);
    printf("  %-56s = ", label);
}

void report_ratios(const bench_case_t *const *rows, const result_t *results, size_t count) {
    bool title = false;
    for (size_t i = 0; i < count; i++) {
        for (int v = 0; v < MAX_VERSUS && rows[i]->versus[v]; v++) {
            int base = s_row_index(rows, count, rows[i]->versus[v]);
            assert(base >= 0); //  the rows name only rows of the bench
            if (!results[i].ran || !results[base].ran)
                continue;
            s_ratio_label(&title,
                          "ratios (case / the case it is measured against, same run; MB/s where "
                          "both move payload, else ops/s)",
                          rows[i], rows[base]);
            printf("%.3f\n", s_ratio(&results[i], &results[base]));
        }
    }
    title = false;
    for (size_t i = 0; i < count; i++) {
        if (!rows[i]->latency_versus)
            continue;
        int base = s_row_index(rows, count, rows[i]->latency_versus);
        assert(base >= 0); //  the rows name only rows of the bench
        if (!results[i].latency || !results[base].latency || results[base].p50_us <= 0 ||
            results[base].p99_us <= 0)
            continue;
        s_ratio_label(&title,
                      "latency ratios (case's latency / the other case's, same run; above 1: the "
                      "case takes longer)",
                      rows[i], rows[base]);
        printf("p50 %.2f, p99 %.2f\n", results[i].p50_us / results[base].p50_us,
               results[i].p99_us / results[base].p99_us);
    }
}

void report_done(const bench_case_t *row, const result_t *result) {
    double rate = s_ops_per_second(result);
    if (result->bytes)
        printf("done %-30s %12.*f ops/s %10.1f MB/s\n", row->name, s_rate_digits(rate), rate,
               s_mb_per_second(result));
    else if (result->latency)
        printf("done %-30s %12.*f ops/s   p50 %.0f us, p99 %.0f us\n", row->name,
               s_rate_digits(rate), rate, result->p50_us, result->p99_us);
    else
        printf("done %-30s %12.*f ops/s\n", row->name, s_rate_digits(rate), rate);
    fflush(stdout);
}

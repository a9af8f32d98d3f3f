/* What every benchmark program shares with the others, and (in
 * bench_common.py) with its twin: the command line (--threads N, --quick),
 * monotonic time, medians, timing a step until a time budget is spent, peak
 * memory, and the "<key> <value>" output lines run_benchmarks.sh reads. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/array.h"

typedef struct bench_options {
    int threads; /* --threads N: passed to dz_set_num_threads; 0 = the library's default */
    bool quick;  /* --quick: fewer sizes and shorter budgets, for testing the script */
} bench_options;

/* Parses --threads N and --quick, applies the thread count, and exits with a
 * usage message on anything else. */
bench_options bench_parse_options(int argc, char **argv);

/* Seconds on a monotonic clock. */
double bench_now(void);

/* The median of v[0..n) (sorts v; the mean of the middle two when n is even). */
double bench_median(double *v, int n);

/* Runs step(ctx) `warmup` times untimed, then times single calls until both
 * `min_runs` calls and `budget_s` seconds have passed (at most BENCH_MAX_RUNS
 * calls), and returns the median seconds per call. */
#define BENCH_MAX_RUNS 1000
double bench_time(void (*step)(void *ctx), void *ctx, int warmup, int min_runs, double budget_s);

/* The process's peak resident set so far, MiB (getrusage's ru_maxrss). */
double bench_peak_rss_mib(void);

/* An f32 array of uniform random numbers in [-1, 1), made quickly (the
 * library's generators draw f64 and convert): for large inputs whose values
 * do not change the timing. */
dz_array *bench_uniform_f32(int ndim, const int64_t *shape, uint64_t seed);

/* Prints "<key> <value>" and flushes, so a later crash keeps earlier lines. */
void bench_report(const char *key, double value);

#endif

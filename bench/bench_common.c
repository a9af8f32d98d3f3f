/* The helpers of bench_common.h. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "dezero/device.h"

bench_options bench_parse_options(int argc, char **argv)
{
    bench_options o = {0, false};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            o.threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--quick]\n", argv[0]);
            exit(2);
        }
    }
    if (o.threads > 0)
        dz_set_num_threads(o.threads);
    return o;
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_time(void (*step)(void *ctx), void *ctx, int warmup, int min_runs, double budget_s)
{
    static double seconds[BENCH_MAX_RUNS];
    for (int i = 0; i < warmup; i++)
        step(ctx);
    int n = 0;
    for (double start = bench_now(); n < BENCH_MAX_RUNS && (n < min_runs || bench_now() - start < budget_s); n++) {
        double t0 = bench_now();
        step(ctx);
        seconds[n] = bench_now() - t0;
    }
    return bench_median(seconds, n);
}

double bench_peak_rss_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

dz_array *bench_uniform_f32(int ndim, const int64_t *shape, uint64_t seed)
{
    dz_array *a = dz_array_empty(DZ_F32, ndim, shape);
    float *v = a->data;
    for (int64_t i = 0; i < a->size; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        v[i] = (float)(z >> 40) * 0x1p-23f - 1.0f; /* 24 random bits */
    }
    return a;
}

void bench_report(const char *key, double value)
{
    printf("%s %.5g\n", key, value);
    fflush(stdout);
}

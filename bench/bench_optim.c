/* Optimizer step benchmark: dense Adam over 10,000,000 float32 parameters,
 * and SparseAdam on (1,000,000, 64) and (100,000, 64) tables with 4,096
 * touched rows (the sparse step should cost the same on both).
 *
 * Prints machine-readable lines (median of the timed steps, milliseconds):
 *     adam_step_ms 41.3
 *     sparse_adam_step_ms_1m 0.62
 *     sparse_adam_step_ms_100k 0.60
 * bench/bench_optim.py does the same work with torch.optim and, given this
 * program's path, runs it and prints both figures with their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dezero/dezero.h"
#include "dezero/optim.h"
#include "dezero/sparse_grad.h"

#define DENSE_SIZE 10000000
#define TOUCHED_ROWS 4096
#define EMBED_DIM 64

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median time of `steps` updates after `warmup` untimed ones. */
static double median_step_ms(dz_optimizer *opt, int warmup, int steps)
{
    double times[64];
    for (int i = 0; i < warmup; i++)
        dz_optimizer_update(opt);
    for (int i = 0; i < steps; i++) {
        double start = now_ms();
        dz_optimizer_update(opt);
        times[i] = now_ms() - start;
    }
    qsort(times, (size_t)steps, sizeof *times, compare_doubles);
    return times[steps / 2];
}

static dz_variable *parameter(dz_array *data)
{
    dz_scope_begin();
    dz_variable *p = dz_scope_keep(dz_parameter_new(data, "weight"));
    dz_scope_end();
    return p;
}

static double bench_adam(dz_rng *rng)
{
    dz_variable *p = parameter(dz_array_normal(rng, DZ_F32, 1, DZ_SHAPE(DENSE_SIZE), 0, 1));
    dz_scope_begin();
    dz_variable_set_grad(p, dz_variable_new(dz_array_normal(rng, DZ_F32, 1, DZ_SHAPE(DENSE_SIZE), 0, 1), NULL));
    dz_scope_end();
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &p);
    double ms = median_step_ms(opt, 3, 10);
    dz_optimizer_free(opt);
    dz_variable_release(p);
    return ms;
}

/* TOUCHED_ROWS distinct random rows of a `rows`-row table, in random order. */
static dz_sparse_grad *random_sparse_grad(dz_rng *rng, int64_t rows)
{
    dz_array *perm = dz_array_permutation(rng, rows);
    dz_sparse_grad *g = calloc(1, sizeof *g);
    g->indices = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(TOUCHED_ROWS), perm->data);
    g->values = dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(TOUCHED_ROWS, EMBED_DIM), 0, 1);
    g->num_rows = rows;
    dz_array_release(perm);
    return g;
}

static double bench_sparse_adam(dz_rng *rng, int64_t rows)
{
    dz_variable *table = parameter(dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(rows, EMBED_DIM), 0, 1));
    table->sparse_grad = random_sparse_grad(rng, rows);
    dz_optimizer *opt = dz_sparse_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &table);
    double ms = median_step_ms(opt, 3, 50);
    dz_optimizer_free(opt);
    dz_variable_release(table);
    return ms;
}

int main(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    printf("adam_step_ms %.3f\n", bench_adam(&rng));
    printf("sparse_adam_step_ms_1m %.3f\n", bench_sparse_adam(&rng, 1000000));
    printf("sparse_adam_step_ms_100k %.3f\n", bench_sparse_adam(&rng, 100000));
    return 0;
}

/* Optimizer steps: dense Adam over 10,000,000 f32 parameters, and SparseAdam
 * on (1,000,000, 64) and (100,000, 64) tables with 4,096 touched rows (the
 * sparse step should cost the same on both). The grads are set once and the
 * step repeated. bench_optim.py does the same with torch.optim.
 *
 * Prints adam_step_ms_10m, sparse_adam_step_ms_1m_rows and
 * sparse_adam_step_ms_100k_rows (median per step, ms).
 * Options: --threads N, --quick (shorter budgets). */
#include <stdlib.h>

#include "bench_common.h"
#include "dezero/dezero.h"

#define DENSE_SIZE 10000000
#define TOUCHED_ROWS 4096
#define EMBED_DIM 64

static void update(void *opt) { dz_optimizer_update(opt); }

static double adam_step_ms(double budget_s)
{
    dz_variable *p = dz_parameter_new(bench_uniform_f32(1, DZ_SHAPE(DENSE_SIZE), 1), "weight");
    dz_variable *g = dz_variable_constant(bench_uniform_f32(1, DZ_SHAPE(DENSE_SIZE), 2), NULL);
    dz_variable_set_grad(p, g);
    dz_variable_release(g);
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &p);
    double ms = bench_time(update, opt, 2, 5, budget_s) * 1e3;
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

static double sparse_adam_step_ms(dz_rng *rng, int64_t rows, double budget_s)
{
    dz_variable *table = dz_parameter_new(bench_uniform_f32(2, DZ_SHAPE(rows, EMBED_DIM), (uint64_t)rows), "table");
    table->sparse_grad = random_sparse_grad(rng, rows);
    dz_optimizer *opt = dz_sparse_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &table);
    double ms = bench_time(update, opt, 3, 10, budget_s) * 1e3;
    dz_optimizer_free(opt);
    dz_variable_release(table);
    return ms;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    double budget_s = options.quick ? 0.1 : 0.3;
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    bench_report("adam_step_ms_10m", adam_step_ms(budget_s));
    bench_report("sparse_adam_step_ms_1m_rows", sparse_adam_step_ms(&rng, 1000000, budget_s));
    bench_report("sparse_adam_step_ms_100k_rows", sparse_adam_step_ms(&rng, 100000, budget_s));
    return 0;
}

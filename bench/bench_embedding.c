/* Embedding: a (100000, 128) f32 table and 65,536 seeded random indices;
 * forward, dense forward + backward and sparse forward + backward (the sparse
 * grad left uncoalesced, as PyTorch leaves it). The indices and the upstream
 * grad are constants; the table's grad is dropped before each step.
 * bench_embedding.py does the same with F.embedding.
 *
 * Prints embedding_forward_ms, embedding_dense_fwd_bwd_ms and
 * embedding_sparse_fwd_bwd_ms (median per call, ms).
 * Options: --threads N, --quick (shorter budgets). */
#include "bench_common.h"
#include "dezero/dezero.h"

enum { V = 100000, D = 128, N = 65536 };

typedef struct {
    dz_variable *idx, *W, *gy;
    bool backward, sparse;
} problem;

static void step(void *ctx)
{
    problem *p = ctx;
    dz_embedding_options opt = dz_embedding_default_options();
    opt.sparse = p->sparse;
    dz_variable_cleargrad(p->W);
    dz_scope_begin();
    dz_variable *y = dz_embedding(p->idx, p->W, &opt);
    if (p->backward) {
        dz_variable_set_grad(y, p->gy);
        dz_variable_backward(y, false, false);
    }
    dz_scope_end();
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    double budget_s = options.quick ? 0.1 : 0.3;
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    problem p = {
        dz_variable_constant(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(N), 0, V), "idx"),
        dz_parameter_new(bench_uniform_f32(2, DZ_SHAPE(V, D), 1), "W"),
        dz_variable_constant(bench_uniform_f32(2, DZ_SHAPE(N, D), 2), "gy"),
        false, false,
    };
    bench_report("embedding_forward_ms", bench_time(step, &p, 2, 5, budget_s) * 1e3);
    p.backward = true;
    bench_report("embedding_dense_fwd_bwd_ms", bench_time(step, &p, 2, 5, budget_s) * 1e3);
    p.sparse = true;
    bench_report("embedding_sparse_fwd_bwd_ms", bench_time(step, &p, 2, 5, budget_s) * 1e3);
    dz_variable_release(p.idx);
    dz_variable_release(p.W);
    dz_variable_release(p.gy);
    return 0;
}

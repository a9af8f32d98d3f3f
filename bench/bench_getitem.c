/* GetItem: gather 65,536 random rows (seeded) of width 128 from a
 * (100000, 128) f32 parameter, forward alone and forward + backward (the
 * backward scatter-adds the output grad into a zero (100000, 128) grad, which
 * is dropped before the next step, as PyTorch's `W.grad = None`).
 * bench_getitem.py measures the same work with PyTorch.
 *
 * Prints getitem_forward_ms and getitem_fwd_bwd_ms (median per call, ms).
 * Options: --threads N, --quick (shorter budgets). */
#include "bench_common.h"
#include "dezero/dezero.h"

enum { ROWS = 100000, WIDTH = 128, TAKEN = 65536 };

typedef struct {
    dz_variable *W, *gy;
    dz_array *idx;
} problem;

/* y = W[idx], freed again. */
static void forward(void *ctx)
{
    problem *p = ctx;
    dz_scope_begin();
    dz_get_item(p->W, DZ_INDICES(DZ_TAKE(p->idx)));
    dz_scope_end();
}

static void forward_backward(void *ctx)
{
    problem *p = ctx;
    dz_variable_cleargrad(p->W);
    dz_scope_begin();
    dz_variable *y = dz_get_item(p->W, DZ_INDICES(DZ_TAKE(p->idx)));
    dz_variable_set_grad(y, p->gy);
    dz_variable_backward(y, false, false);
    dz_scope_end();
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    double budget_s = options.quick ? 0.1 : 0.3;
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    problem p = {
        dz_parameter_new(bench_uniform_f32(2, DZ_SHAPE(ROWS, WIDTH), 1), "W"),
        dz_variable_constant(bench_uniform_f32(2, DZ_SHAPE(TAKEN, WIDTH), 2), "gy"),
        dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(TAKEN), 0, ROWS),
    };
    bench_report("getitem_forward_ms", bench_time(forward, &p, 2, 5, budget_s) * 1e3);
    bench_report("getitem_fwd_bwd_ms", bench_time(forward_backward, &p, 2, 5, budget_s) * 1e3);
    dz_variable_release(p.W);
    dz_variable_release(p.gy);
    dz_array_release(p.idx);
    return 0;
}

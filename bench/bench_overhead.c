/* Per-op overhead: forward + backward of a chain of 2,000 elementwise ops on a
 * 4-element f32 array. The arrays are so small that the time is almost all
 * framework bookkeeping (Variables, Functions, arrays, the backward walk).
 *
 * One iteration: open a scope, build the chain from a leaf x, backward, close
 * the scope (which frees the whole graph), clear x's grad. After a warm-up,
 * iterations run for about 1.5 s; the median iteration time divided by 2,000 is
 * printed as "overhead_c_us_per_op <value>". bench_overhead.py is the PyTorch
 * twin with the same op sequence.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dezero/dezero.h"

#define CHAIN_OPS 2000
#define OPS_PER_BLOCK 8
#define WARMUP_S 0.3
#define MEASURE_S 1.5
#define MAX_SAMPLES 100000

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The chain: CHAIN_OPS / OPS_PER_BLOCK repetitions of eight ops that keep the
 * values bounded (sin resets the range each block). w is a constant that needs
 * no grad; adding x back each block makes x's grad accumulate, as a reused
 * parameter's would. Returns the backward status. */
static dz_status one_iteration(dz_variable *x, dz_variable *w)
{
    dz_scope_begin();
    dz_variable *y = x;
    for (int i = 0; i < CHAIN_OPS / OPS_PER_BLOCK; i++) {
        y = dz_sin(y);
        y = dz_add_scalar(y, 0.5);
        y = dz_mul(y, w);
        y = dz_tanh(y);
        y = dz_exp(y);
        y = dz_mul_scalar(y, 0.5);
        y = dz_square(y);
        y = dz_add(y, x);
    }
    dz_status status = dz_variable_backward(y, false, false);
    dz_scope_end();
    return status;
}

int main(void)
{
    static double samples[MAX_SAMPLES];
    const float xs[4] = {0.1f, 0.2f, 0.3f, 0.4f}, ws[4] = {0.9f, 1.1f, 1.3f, 0.7f};
    dz_variable *x = dz_variable_new(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(4), xs), "x");
    dz_variable *w = dz_variable_new(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(4), ws), "w");
    w->requires_grad = false;

    for (double start = now_s(); now_s() - start < WARMUP_S;) {
        if (one_iteration(x, w) != DZ_OK) {
            fprintf(stderr, "bench_overhead: backward failed: %s\n", dz_last_error());
            return 1;
        }
        dz_variable_cleargrad(x);
    }
    int n = 0;
    for (double start = now_s(); n < MAX_SAMPLES && now_s() - start < MEASURE_S; n++) {
        double t0 = now_s();
        one_iteration(x, w);
        samples[n] = now_s() - t0;
        if (n == 0 && !isfinite(dz_array_get(x->grad->data, 0))) {
            fprintf(stderr, "bench_overhead: the grad of x is not finite\n");
            return 1;
        }
        dz_variable_cleargrad(x);
    }
    qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
    printf("overhead_c_us_per_op %.3f\n", samples[n / 2] / CHAIN_OPS * 1e6);

    dz_variable_release(w);
    dz_variable_release(x);
    return 0;
}

/* Per-op overhead and its scaling: forward + backward of a chain of
 * elementwise ops on an f32 vector of 4, 1,024, 65,536 and 1,048,576
 * elements. At 4 elements the time is almost all framework bookkeeping
 * (Variables, Functions, arrays, the backward walk); at a million it is the
 * kernels and memory traffic.
 *
 * The chain keeps every intermediate alive for backward, so it is 2,000 ops
 * long up to 1,024 elements and shorter above (512 ops at 65,536, 64 at
 * 1,048,576: under 0.5 GiB live); bench_overhead.py uses the same lengths.
 * One iteration: clear x's grad, open a scope, build the chain from a leaf
 * x, backward, close the scope (which frees the whole graph).
 *
 * Prints "overhead_us_per_op_<size> <median iteration time / chain length, µs>".
 * Options: --threads N, --quick (4 and 65,536 elements only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "dezero/dezero.h"

#define OPS_PER_BLOCK 8

static const struct {
    int64_t size;
    int ops; /* a multiple of OPS_PER_BLOCK */
    bool quick;
} cases[] = {{4, 2000, true}, {1024, 2000, false}, {65536, 512, true}, {1048576, 64, false}};

typedef struct {
    dz_variable *x, *w; /* x requires a grad, w is a constant */
    int ops;
} chain;

/* ops / OPS_PER_BLOCK repetitions of eight ops that keep the values bounded
 * (sin resets the range each block); adding x back each block makes x's grad
 * accumulate, as a reused parameter's would. */
static void one_iteration(void *ctx)
{
    chain *c = ctx;
    dz_variable_cleargrad(c->x);
    dz_scope_begin();
    dz_variable *y = c->x;
    for (int i = 0; i < c->ops / OPS_PER_BLOCK; i++) {
        y = dz_sin(y);
        y = dz_add_scalar(y, 0.5);
        y = dz_mul(y, c->w);
        y = dz_tanh(y);
        y = dz_exp(y);
        y = dz_mul_scalar(y, 0.5);
        y = dz_square(y);
        y = dz_add(y, c->x);
    }
    if (dz_variable_backward(y, false, false) != DZ_OK) {
        fprintf(stderr, "bench_overhead: backward failed: %s\n", dz_last_error());
        exit(1);
    }
    dz_scope_end();
}

/* x = 0.1, 0.2, 0.3, 0.4, 0.1, ... and w = 0.9, 1.1, 1.3, 0.7, 0.9, ... */
static dz_array *pattern(int64_t size, const float four[4])
{
    dz_array *a = dz_array_empty(DZ_F32, 1, DZ_SHAPE(size));
    float *v = a->data;
    for (int64_t i = 0; i < size; i++)
        v[i] = four[i % 4];
    return a;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    const float xs[4] = {0.1f, 0.2f, 0.3f, 0.4f}, ws[4] = {0.9f, 1.1f, 1.3f, 0.7f};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        if (options.quick && !cases[k].quick)
            continue;
        chain c = {dz_variable_new(pattern(cases[k].size, xs), "x"),
                   dz_variable_constant(pattern(cases[k].size, ws), "w"), cases[k].ops};
        bool large = cases[k].size >= 65536; /* fewer warm-up and minimum runs for slow iterations */
        double seconds = bench_time(one_iteration, &c, large ? 1 : 3, large ? 3 : 5, options.quick ? 0.1 : 0.3);
        if (!isfinite(dz_array_get(c.x->grad->data, 0))) {
            fprintf(stderr, "bench_overhead: the grad of x is not finite\n"); /* from the last iteration */
            return 1;
        }
        char key[64];
        snprintf(key, sizeof key, "overhead_us_per_op_%lld", (long long)cases[k].size);
        bench_report(key, seconds / cases[k].ops * 1e6);
        dz_variable_release(c.x);
        dz_variable_release(c.w);
    }
    return 0;
}

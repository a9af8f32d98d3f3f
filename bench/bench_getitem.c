/* GetItem benchmark: gather 65,536 random rows (seeded) of width 128 from a
 * (100000, 128) float32 table, forward alone and forward + backward (the
 * backward scatter-adds the output grad into a zero (100000, 128) grad).
 * Prints the median over the timed runs, in milliseconds:
 *     getitem_forward_ms <ms>
 *     getitem_forward_backward_ms <ms>
 * bench_getitem.py measures the same work with PyTorch. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dezero/dezero.h"

enum { ROWS = 100000, WIDTH = 128, TAKEN = 65536, WARMUP = 3, RUNS = 25 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, by_value);
    return n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
}

/* y = W[idx], freed again. */
static void forward(dz_variable *W, dz_array *idx)
{
    dz_scope_begin();
    dz_get_item(W, DZ_INDICES(DZ_TAKE(idx)));
    dz_scope_end();
}

/* y = W[idx]; y.backward(gy); then W's grad is dropped, as PyTorch's
 * `W.grad = None` does before the next step. */
static void forward_backward(dz_variable *W, dz_array *idx, dz_variable *gy)
{
    dz_scope_begin();
    dz_variable *y = dz_get_item(W, DZ_INDICES(DZ_TAKE(idx)));
    dz_variable_set_grad(y, gy);
    dz_variable_backward(y, false, false);
    dz_scope_end();
    dz_variable_cleargrad(W);
}

int main(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_scope_begin();
    dz_variable *W = dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(ROWS, WIDTH), 0, 1), "W");
    dz_array *idx = dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(TAKEN), 0, ROWS); // (N)
    dz_variable *gy = dz_variable_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(TAKEN, WIDTH), 0, 1), NULL);
    double ms[RUNS];
    for (int i = 0; i < WARMUP + RUNS; i++) {
        double t = now_ms();
        forward(W, idx);
        if (i >= WARMUP)
            ms[i - WARMUP] = now_ms() - t;
    }
    printf("getitem_forward_ms %.3f\n", median(ms, RUNS));
    for (int i = 0; i < WARMUP + RUNS; i++) {
        double t = now_ms();
        forward_backward(W, idx, gy);
        if (i >= WARMUP)
            ms[i - WARMUP] = now_ms() - t;
    }
    printf("getitem_forward_backward_ms %.3f\n", median(ms, RUNS));
    dz_array_release(idx);
    dz_scope_end();
    return 0;
}

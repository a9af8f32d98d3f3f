/* Benchmark: a linear layer's forward + backward, x (256, 1024) @ W (1024, 1024)
 * + b (1024,) in f32 with grads for x, W and b, against the three raw
 * cblas_sgemm calls that work needs (y = x W, gx = gy W^T, gW = x^T gy).
 * Twin: bench_linear.py (PyTorch). Prints, in milliseconds (best of ROUNDS
 * rounds: the machine may be shared, and interference only ever adds time):
 *   linear_fwd_bwd_ms      dz_linear + backward
 *   linear_three_sgemm_ms  the three sgemm calls alone
 *   linear_overhead_ratio  the first over the second */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dezero/dezero.h"

enum { N = 256, IN = 1024, OUT = 1024, ITERS = 10, ROUNDS = 7 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The best over ROUNDS of the mean time of ITERS calls of fn. */
static double best_ms(void (*fn)(void *), void *ctx)
{
    double best = 1e30;
    fn(ctx); /* warm up */
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ms();
        for (int i = 0; i < ITERS; i++)
            fn(ctx);
        double ms = (now_ms() - t0) / ITERS;
        best = ms < best ? ms : best;
    }
    return best;
}

typedef struct {
    dz_variable *x, *W, *b, *gy;
} layer;

static void linear_step(void *vctx)
{
    layer *l = vctx;
    dz_scope_begin();
    dz_variable_cleargrad(l->x);
    dz_variable_cleargrad(l->W);
    dz_variable_cleargrad(l->b);
    dz_variable *y = dz_linear(l->x, l->W, l->b); // (N, OUT)
    dz_variable_set_grad(y, l->gy);
    dz_variable_backward(y, false, false);
    dz_scope_end();
}

typedef struct {
    float *x, *W, *y, *gy, *gx, *gW;
} buffers;

static void three_sgemm(void *vctx)
{
    buffers *m = vctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OUT, IN, 1, m->x, IN, m->W, OUT, 0, m->y, OUT);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IN, OUT, 1, m->gy, OUT, m->W, OUT, 0, m->gx, IN);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IN, OUT, N, 1, m->x, IN, m->gy, OUT, 0, m->gW, OUT);
}

int main(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    layer l = {
        dz_variable_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(N, IN), 0, 1), "x"),
        dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(IN, OUT), 0, 0.03), "W"),
        dz_parameter_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(OUT)), "b"),
        dz_variable_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(N, OUT), 0, 1), "gy"),
    };
    l.gy->requires_grad = false;
    buffers m = {l.x->data->data, l.W->data->data, calloc(N * OUT, 4), l.gy->data->data, calloc(N * IN, 4),
                 calloc(IN * OUT, 4)};
    double layer_ms = best_ms(linear_step, &l), raw_ms = best_ms(three_sgemm, &m);
    printf("linear_fwd_bwd_ms %.3f\n", layer_ms);
    printf("linear_three_sgemm_ms %.3f\n", raw_ms);
    printf("linear_overhead_ratio %.3f\n", layer_ms / raw_ms);
    free(m.y);
    free(m.gx);
    free(m.gW);
    dz_variable_release(l.x);
    dz_variable_release(l.W);
    dz_variable_release(l.b);
    dz_variable_release(l.gy);
    return 0;
}

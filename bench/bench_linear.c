/* Linear forward + backward against the three raw cblas_sgemm calls the same
 * work needs (y = x W, gx = gy W^T, gW = x^T gy), in f32, for (batch, in,
 * out) = (256, 1024, 1024), (1024, 2048, 2048) and (65536, 256, 256). x
 * requires a grad (so backward runs all three products), W and b are
 * parameters, the upstream grad gy is a constant. The raw calls write into
 * arrays from the same allocator, made once; Linear and the raw calls
 * alternate, so the two medians see the same machine. The raw calls use
 * OpenBLAS's own threads, as many as the library's; run with
 * OPENBLAS_THREAD_TIMEOUT=4 (run_benchmarks.sh does), or OpenBLAS's idle
 * threads spin for about 0.1 s after each call, into the Linear step, and
 * take the cores from the library's threads. bench_linear.py times F.linear
 * in PyTorch.
 *
 * Prints, in milliseconds (median per call):
 *   linear_ms_<batch>x<in>x<out>        dz_linear + backward
 *   linear_sgemm_ms_<batch>x<in>x<out>  the three sgemm calls alone
 * Options: --threads N, --quick (the first size only). */
#include <cblas.h>
#include <stdio.h>

#include "bench_common.h"
#include "dezero/dezero.h"

static const struct {
    int n, in, out;
} sizes[] = {{256, 1024, 1024}, {1024, 2048, 2048}, {65536, 256, 256}};

typedef struct {
    int n, in, out;
    dz_variable *x, *W, *b, *gy;
    dz_array *y, *gx, *gW; /* outputs of the raw calls */
} problem;

static void linear_step(problem *p)
{
    dz_variable_cleargrad(p->x);
    dz_variable_cleargrad(p->W);
    dz_variable_cleargrad(p->b);
    dz_scope_begin();
    dz_variable *y = dz_linear(p->x, p->W, p->b); // (n, out)
    dz_variable_set_grad(y, p->gy);
    dz_variable_backward(y, false, false);
    dz_scope_end();
}

/* OpenBLAS's own threaded sgemm, on as many threads as the library uses. The
 * library keeps OpenBLAS at one thread (it splits its products over its own
 * threads), so the count is set for these calls and put back after. */
static void three_sgemm(problem *p)
{
    const float *x = p->x->data->data, *W = p->W->data->data, *gy = p->gy->data->data;
    int n = p->n, in = p->in, out = p->out;
    openblas_set_num_threads(dz_num_threads());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1, x, in, W, out, 0, p->y->data, out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1, gy, out, W, out, 0, p->gx->data, in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, n, 1, x, in, gy, out, 0, p->gW->data, out);
    openblas_set_num_threads(1);
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    double budget_s = options.quick ? 0.1 : 0.3;
    for (size_t k = 0; k < (options.quick ? 1 : sizeof sizes / sizeof *sizes); k++) {
        int n = sizes[k].n, in = sizes[k].in, out = sizes[k].out;
        problem p = {
            n, in, out,
            dz_variable_new(bench_uniform_f32(2, DZ_SHAPE(n, in), 1), "x"),
            dz_parameter_new(bench_uniform_f32(2, DZ_SHAPE(in, out), 2), "W"),
            dz_parameter_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(out)), "b"),
            dz_variable_constant(bench_uniform_f32(2, DZ_SHAPE(n, out), 3), "gy"),
            dz_array_zeros(DZ_F32, 2, DZ_SHAPE(n, out)),
            dz_array_zeros(DZ_F32, 2, DZ_SHAPE(n, in)),
            dz_array_zeros(DZ_F32, 2, DZ_SHAPE(in, out)),
        };
        linear_step(&p); /* warm-up (its gemms warm OpenBLAS up too) */
        double linear_s[BENCH_MAX_RUNS], sgemm_s[BENCH_MAX_RUNS];
        int runs = 0;
        for (double start = bench_now(); runs < BENCH_MAX_RUNS && (runs < 3 || bench_now() - start < budget_s);
             runs++) {
            double t0 = bench_now();
            linear_step(&p);
            double t1 = bench_now();
            three_sgemm(&p);
            linear_s[runs] = t1 - t0;
            sgemm_s[runs] = bench_now() - t1;
        }
        char key[64];
        snprintf(key, sizeof key, "linear_ms_%dx%dx%d", n, in, out);
        bench_report(key, bench_median(linear_s, runs) * 1e3);
        snprintf(key, sizeof key, "linear_sgemm_ms_%dx%dx%d", n, in, out);
        bench_report(key, bench_median(sgemm_s, runs) * 1e3);
        dz_variable_release(p.x);
        dz_variable_release(p.W);
        dz_variable_release(p.b);
        dz_variable_release(p.gy);
        dz_array_release(p.y);
        dz_array_release(p.gx);
        dz_array_release(p.gW);
    }
    return 0;
}

/* Threads: the elementwise, reduction, bias, softmax and loss kernels split
 * their work over threads above a grain of 32,768 elements, and gemm cuts
 * products into pieces fixed by their shape. On odd shapes above the grain,
 * every op gives the same bits with 1, 2 and 3 threads and agrees with a
 * plain double-precision loop; max and min agree bit for bit with a scan in
 * order; gemm does too, on every layout, and an MLP trained for a few steps
 * ends with the same parameters. Also dz_set_num_threads / dz_num_threads,
 * DZ_NUM_THREADS, the parallel-for and block reduction themselves, and
 * threads in a forked child. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_parallel.h"
#include "test_common.h"

#define MAX_OUTPUTS 6

/* ---- running a case with 1, 2 and 3 threads ------------------------------------ */

/* The results of one case, kept past its scope. */
typedef struct {
    dz_array *out[MAX_OUTPUTS];
    int n;
} outputs;

typedef void (*case_fn)(const void *ctx, outputs *o);

static void keep(outputs *o, const dz_variable *v)
{
    ck_assert_ptr_nonnull(v);
    ck_assert_int_lt(o->n, MAX_OUTPUTS);
    o->out[o->n++] = dz_array_retain(v->data);
}

static void release_outputs(outputs *o)
{
    for (int i = 0; i < o->n; i++)
        dz_array_release(o->out[i]);
}

static outputs run_with_threads(int threads, case_fn fn, const void *ctx)
{
    outputs o = {{NULL}, 0};
    dz_set_num_threads(threads);
    dz_scope_begin();
    fn(ctx, &o);
    dz_scope_end();
    return o;
}

/* The first element whose bits differ, or -1. */
static int64_t first_difference(const dz_array *a, const dz_array *b)
{
    size_t es = dz_dtype_size(a->dtype);
    for (int64_t i = 0; i < a->size; i++)
        if (memcmp((const char *)a->data + i * es, (const char *)b->data + i * es, es) != 0)
            return i;
    return -1;
}

/* fn's outputs with 1 thread, after checking that 2 and 3 threads give the
 * same bits. */
static outputs same_bits_for_1_2_3_threads(const char *name, case_fn fn, const void *ctx)
{
    int default_threads = dz_num_threads();
    outputs one = run_with_threads(1, fn, ctx);
    for (int threads = 2; threads <= 3; threads++) {
        outputs more = run_with_threads(threads, fn, ctx);
        ck_assert_int_eq(more.n, one.n);
        for (int i = 0; i < one.n; i++) {
            ck_assert_int_eq(more.out[i]->size, one.out[i]->size);
            int64_t at = first_difference(one.out[i], more.out[i]);
            ck_assert_msg(at < 0, "%s: output %d with %d threads differs from 1 thread at element %lld (%.9g, %.9g)",
                          name, i, threads, (long long)at, dz_array_get(more.out[i], at),
                          dz_array_get(one.out[i], at));
        }
        release_outputs(&more);
    }
    dz_set_num_threads(default_threads);
    return one;
}

/* ---- inputs and references ----------------------------------------------------- */

/* f32 values in [-2, 2) from a seed: the same array in every run, from a
 * cheap hash of the seed and the index (the inputs are large). */
static dz_array *random_array(uint64_t seed, int ndim, const int64_t *shape)
{
    dz_array *a = dz_array_empty(DZ_F32, ndim, shape);
    float *v = a->data;
    for (int64_t i = 0; i < a->size; i++) {
        uint64_t h = (seed << 40 ^ (uint64_t)i) * 0x9e3779b97f4a7c15u;
        h = (h ^ h >> 31) * 0xbf58476d1ce4e5b9u;
        v[i] = (float)((double)((h ^ h >> 29) >> 40) / (1 << 24) * 4 - 2);
    }
    return a;
}

static dz_variable *leaf(uint64_t seed, int ndim, const int64_t *shape)
{
    return dz_variable_new(random_array(seed, ndim, shape), NULL);
}

static const float *floats(const dz_array *a) { return a->data; }

/* |a[i] - ref[i]| <= rtol * scale[i] for every element (scale NULL: |ref[i]|).
 * (One check at the end: Check logs every passing assertion.) */
static void assert_near(const char *name, const dz_array *a, const double *ref, const double *scale, double rtol)
{
    int64_t i = 0;
    for (; i < a->size; i++) {
        double tol = rtol * (scale ? scale[i] : fabs(ref[i])) + 1e-30;
        if (!(fabs(dz_array_get(a, i) - ref[i]) <= tol))
            break;
    }
    ck_assert_msg(i == a->size, "%s: element %lld is %.9g, the double loop gives %.9g", name, (long long)i,
                  i < a->size ? dz_array_get(a, i) : 0, i < a->size ? ref[i] : 0);
}

/* The sums over axis 1 of x seen as (outer, n, inner), and of |x| for the
 * tolerance: ref and scale (outer, inner). */
static void reference_sums(const float *x, int64_t outer, int64_t n, int64_t inner, double *ref, double *scale)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double s = 0, abs_sum = 0;
            for (int64_t k = 0; k < n; k++) {
                s += x[(o * n + k) * inner + j];
                abs_sum += fabs(x[(o * n + k) * inner + j]);
            }
            ref[o * inner + j] = s;
            scale[o * inner + j] = abs_sum;
        }
}

/* Shapes above the grain: 1-D, a square, odd 2-D and 3-D. */
static const struct {
    int ndim;
    int64_t shape[3];
} shapes[] = {{1, {100003}}, {2, {1024, 1024}}, {2, {331, 313}}, {3, {7, 149, 101}}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* ---- elementwise ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    dz_variable *(*op)(dz_variable *x);
    double (*reference)(double x);
} unary_case;

static double relu_ref(double x) { return x > 0 ? x : 0; }
static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }
static double square_ref(double x) { return x * x; }

static const unary_case unary_cases[] = {
    {"exp", dz_exp, exp},
    {"relu", dz_relu, relu_ref},
    {"sigmoid", dz_sigmoid, sigmoid_ref},
    {"tanh", dz_tanh, tanh},
    {"square", dz_square, square_ref},
};

typedef struct {
    const unary_case *c;
    int shape;
} unary_ctx;

static void run_unary(const void *vctx, outputs *o)
{
    const unary_ctx *ctx = vctx;
    keep(o, ctx->c->op(leaf(1, shapes[ctx->shape].ndim, shapes[ctx->shape].shape)));
}

START_TEST(test_unary)
{
    for (int s = 0; s < NSHAPES; s++)
        for (size_t u = 0; u < sizeof unary_cases / sizeof unary_cases[0]; u++) {
            unary_ctx ctx = {&unary_cases[u], s};
            outputs o = same_bits_for_1_2_3_threads(unary_cases[u].name, run_unary, &ctx);
            dz_array *x = random_array(1, shapes[s].ndim, shapes[s].shape);
            double *ref = malloc((size_t)x->size * sizeof *ref);
            for (int64_t i = 0; i < x->size; i++)
                ref[i] = unary_cases[u].reference(floats(x)[i]);
            assert_near(unary_cases[u].name, o.out[0], ref, NULL, 1e-6);
            free(ref);
            dz_array_release(x);
            release_outputs(&o);
        }
}
END_TEST

/* y = x * a + b, all of one shape. */
static void run_multiply_add(const void *vshape, outputs *o)
{
    int s = *(const int *)vshape;
    dz_variable *x = leaf(1, shapes[s].ndim, shapes[s].shape), *a = leaf(2, shapes[s].ndim, shapes[s].shape),
                *b = leaf(3, shapes[s].ndim, shapes[s].shape);
    keep(o, dz_add(dz_mul(x, a), b));
}

START_TEST(test_multiply_add)
{
    for (int s = 0; s < NSHAPES; s++) {
        outputs o = same_bits_for_1_2_3_threads("x * a + b", run_multiply_add, &s);
        int nd = shapes[s].ndim;
        dz_array *x = random_array(1, nd, shapes[s].shape), *a = random_array(2, nd, shapes[s].shape),
                 *b = random_array(3, nd, shapes[s].shape);
        double *ref = malloc((size_t)x->size * sizeof *ref), *scale = malloc((size_t)x->size * sizeof *scale);
        for (int64_t i = 0; i < x->size; i++) {
            double xa = (double)floats(x)[i] * floats(a)[i];
            ref[i] = xa + floats(b)[i];
            scale[i] = fabs(xa) + fabs(floats(b)[i]);
        }
        assert_near("x * a + b", o.out[0], ref, scale, 1e-6);
        free(ref);
        free(scale);
        dz_array_release(x);
        dz_array_release(a);
        dz_array_release(b);
        release_outputs(&o);
    }
}
END_TEST

/* x (331, 313) with a broadcast row (313,), a broadcast column (331, 1) and a
 * 0-d scalar; and the row broadcast to (331, 313). */
static const int64_t wide[2] = {331, 313};

static void run_broadcasts(const void *unused, outputs *o)
{
    (void)unused;
    dz_variable *x = leaf(1, 2, wide), *row = leaf(2, 1, &wide[1]), *column = leaf(3, 2, DZ_SHAPE(wide[0], 1));
    keep(o, dz_add(x, row));
    keep(o, dz_div(column, x));
    keep(o, dz_mul(x, dz_variable_scalar(DZ_F32, 0.3)));
    keep(o, dz_broadcast_to(row, 2, wide));
}

START_TEST(test_broadcasts)
{
    outputs o = same_bits_for_1_2_3_threads("broadcasts", run_broadcasts, NULL);
    dz_array *x = random_array(1, 2, wide), *row = random_array(2, 1, &wide[1]);
    dz_array *column = random_array(3, 2, DZ_SHAPE(wide[0], 1));
    int64_t n = x->size;
    double *ref[4];
    for (int k = 0; k < 4; k++)
        ref[k] = malloc((size_t)n * sizeof *ref[k]);
    for (int64_t i = 0; i < n; i++) {
        double xi = floats(x)[i], r = floats(row)[i % wide[1]], c = floats(column)[i / wide[1]];
        ref[0][i] = xi + r;
        ref[1][i] = c / xi;
        ref[2][i] = xi * (double)0.3f;
        ref[3][i] = r;
    }
    const char *names[4] = {"x + row", "column / x", "x * scalar", "broadcast_to"};
    for (int k = 0; k < 4; k++) {
        assert_near(names[k], o.out[k], ref[k], NULL, 1e-6);
        free(ref[k]);
    }
    dz_array_release(x);
    dz_array_release(row);
    dz_array_release(column);
    release_outputs(&o);
}
END_TEST

/* ---- reductions ------------------------------------------------------------------- */

/* Shapes for sums: those above, plus tall-narrow and wide-short arrays and a
 * line of 2^20 elements, which are split into blocks. */
static const struct {
    int ndim;
    int64_t shape[3];
} sum_shapes[] = {{1, {100003}}, {1, {1048576}}, {2, {1024, 1024}}, {2, {331, 313}},
                  {2, {40009, 3}}, {2, {3, 40009}}, {3, {7, 149, 101}}};
#define NSUM_SHAPES ((int)(sizeof sum_shapes / sizeof sum_shapes[0]))

typedef struct {
    int shape, axis; /* axis -1: all axes */
} sum_ctx;

static void run_sum(const void *vctx, outputs *o)
{
    const sum_ctx *c = vctx;
    dz_variable *x = leaf(5, sum_shapes[c->shape].ndim, sum_shapes[c->shape].shape);
    keep(o, c->axis < 0 ? dz_sum(x, 0, NULL, false) : dz_sum(x, 1, &c->axis, false));
}

START_TEST(test_sums)
{
    for (int s = 0; s < NSUM_SHAPES; s++)
        for (int axis = -1; axis < sum_shapes[s].ndim; axis++) {
            sum_ctx ctx = {s, axis};
            outputs o = same_bits_for_1_2_3_threads("sum", run_sum, &ctx);
            dz_array *x = random_array(5, sum_shapes[s].ndim, sum_shapes[s].shape);
            int64_t outer = 1, n = x->size, inner = 1;
            if (axis >= 0) {
                n = x->shape[axis];
                for (int i = 0; i < axis; i++)
                    outer *= x->shape[i];
                inner = x->size / outer / n;
            }
            size_t nout = (size_t)(outer * inner);
            double *ref = malloc(nout * sizeof *ref), *scale = malloc(nout * sizeof *scale);
            reference_sums(floats(x), outer, n, inner, ref, scale);
            ck_assert_int_eq(o.out[0]->size, outer * inner);
            assert_near(axis < 0 ? "sum" : "sum over an axis", o.out[0], ref, scale, 1e-5);
            free(ref);
            free(scale);
            dz_array_release(x);
            release_outputs(&o);
        }
}
END_TEST

/* x (331, 313) with NaNs, and lines whose max or min is a zero of either
 * sign: row 3 (max -0 then +0), row 4 (min +0 then -0), column 7 (max +0
 * then -0). A search that does not go in order can pick the other zero. */
static dz_array *with_special_values(void)
{
    dz_array *x = random_array(6, 2, wide);
    float *v = x->data;
    int64_t w = wide[1];
    for (int64_t k = 0; k < w; k++) {
        v[3 * w + k] = -fabsf(v[3 * w + k]);
        v[4 * w + k] = fabsf(v[4 * w + k]);
    }
    for (int64_t r = 0; r < wide[0]; r++)
        v[r * w + 7] = -fabsf(v[r * w + 7]);
    v[3 * w + 10] = -0.0f;
    v[3 * w + 200] = 0.0f;
    v[4 * w + 7] = 0.0f;
    v[4 * w + 100] = -0.0f;
    v[50 * w + 7] = -0.0f;
    v[5 * w + 9] = NAN;
    v[200 * w + 9] = -NAN;
    v[17 * w + 40] = NAN;
    return x;
}

typedef struct {
    int axis; /* -1: all */
    bool max;
} extreme_ctx;

static void run_extreme(const void *vctx, outputs *o)
{
    const extreme_ctx *c = vctx;
    dz_variable *x = dz_variable_new(with_special_values(), NULL);
    dz_variable *(*op)(dz_variable *, int, const int *, bool) = c->max ? dz_max : dz_min;
    keep(o, c->axis < 0 ? op(x, 0, NULL, false) : op(x, 1, &c->axis, false));
}

/* The max (or min) of n values at stride s scanned in order: the first of
 * equal values, the last NaN. */
static float extreme_in_order(const float *x, int64_t n, int64_t s, bool max)
{
    float m = x[0];
    for (int64_t k = 1; k < n; k++) {
        float v = x[k * s];
        if ((max ? v > m : v < m) || v != v)
            m = v;
    }
    return m;
}

START_TEST(test_max_min)
{
    dz_array *x = with_special_values();
    for (int axis = -1; axis < 2; axis++)
        for (int max = 0; max < 2; max++) {
            extreme_ctx ctx = {axis, max};
            outputs o = same_bits_for_1_2_3_threads(max ? "max" : "min", run_extreme, &ctx);
            int64_t lines = axis < 0 ? 1 : wide[1 - axis], n = axis < 0 ? x->size : wide[axis];
            int64_t l = 0;
            float got = 0, expected = 0;
            for (; l < lines; l++) {
                expected = extreme_in_order(floats(x) + (axis == 1 ? l * wide[1] : l), n, axis == 0 ? wide[1] : 1, max);
                got = floats(o.out[0])[l];
                if (tc_bits_of(got) != tc_bits_of(expected))
                    break;
            }
            ck_assert_msg(l == lines, "%s over axis %d, line %lld: %08x, in order %08x", max ? "max" : "min", axis,
                          (long long)l, tc_bits_of(got), tc_bits_of(expected));
            release_outputs(&o);
        }
    dz_array_release(x);
}
END_TEST

/* ---- linear layer: bias rows and the bias gradient ----------------------------------- */

enum { LIN_N = 20011, LIN_IN = 5, LIN_OUT = 7 };

/* y = 0 W + b (the gemm adds zeros, so y is b on every row); gb with the raw
 * backward and with the recorded one (dz_sum_to). */
static void run_linear(const void *unused, outputs *o)
{
    (void)unused;
    dz_variable *x = dz_variable_constant(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(LIN_N, LIN_IN)), NULL);
    dz_variable *W = leaf(7, 2, DZ_SHAPE(LIN_IN, LIN_OUT)), *b = leaf(8, 1, DZ_SHAPE(LIN_OUT));
    dz_variable *gy = leaf(9, 2, DZ_SHAPE(LIN_N, LIN_OUT));
    for (int recorded = 0; recorded < 2; recorded++) {
        dz_variable_cleargrad(W);
        dz_variable_cleargrad(b);
        dz_variable *y = dz_linear(x, W, b);
        if (!recorded)
            keep(o, y);
        dz_variable_set_grad(y, gy);
        dz_variable_backward(y, false, recorded);
        keep(o, b->grad);
    }
    dz_variable_cleargrad(W);
    dz_variable_cleargrad(b);
}

START_TEST(test_linear_bias)
{
    outputs o = same_bits_for_1_2_3_threads("linear", run_linear, NULL);
    dz_array *b = random_array(8, 1, DZ_SHAPE(LIN_OUT)), *gy = random_array(9, 2, DZ_SHAPE(LIN_N, LIN_OUT));
    int64_t i = 0;
    while (i < LIN_N * LIN_OUT && tc_bits_of(floats(o.out[0])[i]) == tc_bits_of(floats(b)[i % LIN_OUT]))
        i++;
    ck_assert_msg(i == LIN_N * LIN_OUT, "y = 0 W + b: element %lld is not b[%lld]", (long long)i,
                  (long long)(i % LIN_OUT));
    double ref[LIN_OUT], scale[LIN_OUT];
    reference_sums(floats(gy), 1, LIN_N, LIN_OUT, ref, scale);
    assert_near("bias grad", o.out[1], ref, scale, 1e-5);
    ck_assert_msg(first_difference(o.out[1], o.out[2]) < 0, "the raw and recorded bias grads differ");
    dz_array_release(b);
    dz_array_release(gy);
    release_outputs(&o);
}
END_TEST

/* ---- optimizer steps -------------------------------------------------------------- */

enum { OPT_SIZE = 100003 };

/* Three steps of Adam (with weight decay) and of SGD with momentum on
 * parameters above the grain, from the same grads. */
static void run_optimizers(const void *unused, outputs *o)
{
    (void)unused;
    dz_adam_config ac = dz_adam_defaults();
    ac.weight_decay = 0.01;
    dz_sgd_config sc = dz_sgd_defaults();
    sc.lr = 0.1;
    sc.momentum = 0.9;
    dz_optimizer *opts[2] = {dz_adam_new(&ac), dz_sgd_new(&sc)};
    for (int k = 0; k < 2; k++) {
        dz_variable *p = dz_parameter_new(random_array(20 + (uint64_t)k, 1, DZ_SHAPE(OPT_SIZE)), NULL);
        dz_optimizer_add_params(opts[k], 1, &p);
        for (int step = 0; step < 3; step++) {
            dz_variable_set_grad(p, leaf(30 + (uint64_t)step, 1, DZ_SHAPE(OPT_SIZE)));
            dz_optimizer_update(opts[k]);
        }
        keep(o, p);
        dz_optimizer_free(opts[k]);
    }
}

START_TEST(test_optimizer_steps)
{
    outputs o = same_bits_for_1_2_3_threads("optimizers", run_optimizers, NULL);
    for (int k = 0; k < 2; k++) { /* the steps moved every parameter */
        dz_array *start = random_array(20 + (uint64_t)k, 1, DZ_SHAPE(OPT_SIZE));
        ck_assert_int_lt(first_difference(start, o.out[k]), 1);
        ck_assert(isfinite(dz_array_get(o.out[k], OPT_SIZE - 1)));
        dz_array_release(start);
    }
    release_outputs(&o);
}
END_TEST

/* ---- softmax and losses ----------------------------------------------------------- */

enum { SM_N = 1009, SM_C = 103, IGNORED = -100 };

static dz_variable *labels(void)
{
    dz_array *t = dz_array_empty(DZ_I64, 1, DZ_SHAPE(SM_N));
    for (int64_t i = 0; i < SM_N; i++)
        ((int64_t *)t->data)[i] = i % 11 == 4 ? IGNORED : (i * 37) % SM_C;
    return dz_variable_constant(t, NULL);
}

/* softmax over rows and over columns, the grad of sum(w * softmax(x, 1)),
 * the softmax cross entropy (with ignored rows) and its grad. */
static void run_softmax(const void *unused, outputs *o)
{
    (void)unused;
    dz_variable *x = leaf(10, 2, DZ_SHAPE(SM_N, SM_C)), *w = leaf(11, 2, DZ_SHAPE(SM_N, SM_C));
    dz_variable *rows = dz_softmax(x, 1);
    keep(o, rows);
    keep(o, dz_log_softmax(x, 0));
    dz_variable_backward(dz_sum(dz_mul(rows, w), 0, NULL, false), false, false);
    keep(o, x->grad);
    dz_variable_cleargrad(x);
    dz_variable *loss = dz_softmax_cross_entropy_ignore(x, labels(), IGNORED);
    keep(o, loss);
    dz_variable_backward(loss, false, false);
    keep(o, x->grad);
}

START_TEST(test_softmax)
{
    outputs o = same_bits_for_1_2_3_threads("softmax", run_softmax, NULL);
    dz_array *x = random_array(10, 2, DZ_SHAPE(SM_N, SM_C));
    double *ref = malloc(SM_N * SM_C * sizeof *ref), *column_lse = malloc(SM_C * sizeof *column_lse);
    double loss = 0;
    int counted = 0;
    for (int64_t j = 0; j < SM_C; j++) {
        double s = 0;
        for (int64_t i = 0; i < SM_N; i++)
            s += exp(floats(x)[i * SM_C + j]);
        column_lse[j] = log(s);
    }
    for (int64_t i = 0; i < SM_N; i++) {
        const float *row = floats(x) + i * SM_C;
        double s = 0;
        for (int64_t k = 0; k < SM_C; k++)
            s += exp(row[k]);
        for (int64_t k = 0; k < SM_C; k++)
            ref[i * SM_C + k] = exp(row[k]) / s;
        if (i % 11 != 4) {
            loss += log(s) - row[(i * 37) % SM_C];
            counted++;
        }
    }
    assert_near("softmax over rows", o.out[0], ref, NULL, 1e-5);
    for (int64_t i = 0; i < SM_N * SM_C; i++)
        ref[i] = floats(x)[i] - column_lse[i % SM_C];
    assert_near("log_softmax over columns", o.out[1], ref, NULL, 1e-5);
    double mean = loss / counted;
    assert_near("cross entropy", o.out[3], &mean, NULL, 1e-5);
    for (int64_t i = 0; i < SM_N; i++) { /* its grad: (softmax - one_hot) / counted, 0 on ignored rows */
        const float *row = floats(x) + i * SM_C;
        double s = 0;
        for (int64_t k = 0; k < SM_C; k++)
            s += exp(row[k]);
        for (int64_t k = 0; k < SM_C; k++)
            ref[i * SM_C + k] = i % 11 == 4 ? 0 : (exp(row[k]) / s - (k == (i * 37) % SM_C)) / counted;
    }
    assert_near("cross entropy grad", o.out[4], ref, NULL, 1e-5);
    free(ref);
    free(column_lse);
    dz_array_release(x);
    release_outputs(&o);
}
END_TEST

/* ---- gemm ------------------------------------------------------------------------ */

/* C = alpha op(A) op(B) + beta C at shapes with a row, a column or an inner
 * dimension of 1, primes, every transposition, batches (one whose products
 * add into a shared C): big enough to be cut into pieces, along C's rows,
 * its columns or the inner dimension. A is shared by a batch's products. */
typedef struct {
    dz_dtype dtype;
    bool ta, tb;
    int64_t m, n, k, batch;
    double beta;
    bool shared_c; /* C's stride is 0: the batch's products add up */
} gemm_case;

static const gemm_case gemm_cases[] = {
    {DZ_F32, false, false, 1031, 263, 257, 1, 0, false}, /* primes, along the rows */
    {DZ_F32, false, true, 1031, 263, 257, 1, 0.5, false},
    {DZ_F32, true, false, 263, 1031, 257, 1, 0, false},  /* along the columns */
    {DZ_F32, true, true, 1031, 263, 257, 1, 0, false},
    {DZ_F32, false, false, 1, 4099, 1031, 1, 0, false},  /* M = 1 */
    {DZ_F32, true, true, 1, 4099, 1031, 1, 0, false},
    {DZ_F32, true, false, 4099, 1, 1031, 1, 0, false},   /* N = 1 */
    {DZ_F32, false, true, 4001, 1009, 1, 1, 0, false},   /* K = 1 */
    {DZ_F32, true, false, 7, 5, 300007, 1, 0.5, false},  /* along the inner dimension */
    {DZ_F32, false, true, 1, 1, 2097169, 1, 0, false},   /* M = N = 1 */
    {DZ_F64, true, true, 263, 1031, 257, 1, 0, false},
    {DZ_F32, false, true, 263, 1031, 131, 3, 0, false},  /* batches */
    {DZ_F32, true, false, 1031, 263, 131, 2, 1, true},
    {DZ_F32, false, true, 64, 288, 121, 40, 1, true},    /* a convolution's weight grad: groups of products */
    {DZ_F64, false, true, 33, 17, 301, 37, 0.5, true},   /* four uneven groups */
};
#define NGEMM_CASES ((int)(sizeof gemm_cases / sizeof gemm_cases[0]))

/* One product's A and B sizes, their row lengths, and C's size for the batch. */
static int64_t gemm_a_size(const gemm_case *g) { return g->m * g->k; }
static int64_t gemm_b_size(const gemm_case *g) { return g->k * g->n; }
static int64_t gemm_lda(const gemm_case *g) { return g->ta ? g->m : g->k; }
static int64_t gemm_ldb(const gemm_case *g) { return g->tb ? g->k : g->n; }
static int64_t gemm_c_size(const gemm_case *g) { return (g->shared_c ? 1 : g->batch) * g->m * g->n; }

/* Values in [-2, 2) in the case's dtype. */
static dz_array *gemm_operand(const gemm_case *g, uint64_t seed, int64_t size)
{
    dz_array *x = random_array(seed, 1, DZ_SHAPE(size));
    if (g->dtype == DZ_F32)
        return x;
    dz_array *y = dz_array_empty(DZ_F64, 1, DZ_SHAPE(size));
    dz_cpu_astype(x, y);
    dz_array_release(x);
    return y;
}

static void run_gemm(const void *vcase, outputs *o)
{
    const gemm_case *g = vcase;
    dz_array *a = gemm_operand(g, 40, gemm_a_size(g)), *b = gemm_operand(g, 41, g->batch * gemm_b_size(g));
    dz_array *c = gemm_operand(g, 42, gemm_c_size(g));
    dz_cpu_gemm(g->dtype, g->ta, g->tb, g->m, g->n, g->k, 1.0, a->data, gemm_lda(g), 0, b->data, gemm_ldb(g),
                gemm_b_size(g), g->beta, c->data, g->n, g->shared_c ? 0 : g->m * g->n, g->batch);
    keep(o, dz_variable_constant(c, NULL));
    dz_array_release(a);
    dz_array_release(b);
}

/* op(X)[i][j] for X stored at `offset` with row length ld. */
static double at_op(const dz_array *x, bool trans, int64_t ld, int64_t offset, int64_t i, int64_t j)
{
    return dz_array_get(x, offset + (trans ? j * ld + i : i * ld + j));
}

/* ref = C after the batch's products, one after another, in double (beta
 * scales a shared C once, before the first); scale the same with absolute
 * values. */
static void reference_gemm(const gemm_case *g, const dz_array *a, const dz_array *b, const dz_array *c, double *ref,
                           double *scale)
{
    for (int64_t e = 0; e < c->size; e++) {
        ref[e] = dz_array_get(c, e);
        scale[e] = fabs(ref[e]);
    }
    for (int64_t q = 0; q < g->batch; q++)
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                int64_t e = ((g->shared_c ? 0 : q) * g->m + i) * g->n + j;
                double beta = g->shared_c && q > 0 ? 1 : g->beta; /* a shared C is scaled once */
                double s = beta * ref[e], abs_sum = fabs(beta) * scale[e];
                for (int64_t p = 0; p < g->k; p++) {
                    double ab = at_op(a, g->ta, gemm_lda(g), 0, i, p) * at_op(b, g->tb, gemm_ldb(g), q * gemm_b_size(g), p, j);
                    s += ab;
                    abs_sum += fabs(ab);
                }
                ref[e] = s;
                scale[e] = abs_sum;
            }
}

START_TEST(test_gemm)
{
    for (int t = 0; t < NGEMM_CASES; t++) {
        const gemm_case *g = &gemm_cases[t];
        char name[64];
        snprintf(name, sizeof name, "gemm case %d", t);
        outputs o = same_bits_for_1_2_3_threads(name, run_gemm, g);
        dz_array *a = gemm_operand(g, 40, gemm_a_size(g)), *b = gemm_operand(g, 41, g->batch * gemm_b_size(g));
        dz_array *c = gemm_operand(g, 42, gemm_c_size(g));
        double *ref = malloc((size_t)c->size * sizeof *ref), *scale = malloc((size_t)c->size * sizeof *scale);
        reference_gemm(g, a, b, c, ref, scale);
        assert_near(name, o.out[0], ref, scale, g->dtype == DZ_F32 ? 1e-5 : 1e-12);
        free(ref);
        free(scale);
        dz_array_release(a);
        dz_array_release(b);
        dz_array_release(c);
        release_outputs(&o);
    }
}
END_TEST

/* ---- training ---------------------------------------------------------------------- */

enum { MLP_BATCH = 256, MLP_IN = 331, MLP_HIDDEN = 1031, MLP_CLASSES = 10, MLP_STEPS = 3 };

/* A 331-1031-10 ReLU MLP trained for three Adam steps on a batch of 256 with
 * a softmax cross entropy: its four parameters. */
static void run_training(const void *unused, outputs *o)
{
    (void)unused;
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){MLP_HIDDEN, MLP_CLASSES}, dz_relu, DZ_F32, &rng);
    dz_optimizer *adam = dz_adam_new(NULL);
    dz_variable *x = dz_variable_constant(random_array(50, 2, DZ_SHAPE(MLP_BATCH, MLP_IN)), NULL);
    dz_array *t = dz_array_empty(DZ_I64, 1, DZ_SHAPE(MLP_BATCH));
    for (int64_t i = 0; i < MLP_BATCH; i++)
        ((int64_t *)t->data)[i] = (i * 7) % MLP_CLASSES;
    dz_variable *labels = dz_variable_constant(t, NULL);
    for (int step = 0; step < MLP_STEPS; step++) {
        dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(model, x), labels);
        if (step == 0)
            dz_optimizer_setup(adam, model); /* the first call made the parameters */
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(adam);
    }
    dz_param_list *params = dz_layer_params(model);
    for (int i = 0; i < params->count; i++)
        keep(o, params->params[i]);
    dz_param_list_free(params);
    dz_optimizer_free(adam);
    dz_layer_free(model);
}

START_TEST(test_training)
{
    outputs o = same_bits_for_1_2_3_threads("MLP training", run_training, NULL);
    ck_assert_int_eq(o.n, 4);
    release_outputs(&o);
}
END_TEST

/* ---- the number of threads, and the parallel primitives ------------------------------ */

static int expected_default_threads; /* from --expect-threads, 0 when not given */

START_TEST(test_num_threads)
{
    int before = dz_num_threads();
    ck_assert_int_ge(before, 1);
    if (expected_default_threads)
        ck_assert_int_eq(before, expected_default_threads);
    dz_set_num_threads(3);
    ck_assert_int_eq(dz_num_threads(), 3);
    dz_set_num_threads(0);
    ck_assert_int_eq(dz_num_threads(), 1);
    dz_set_num_threads(-4);
    ck_assert_int_eq(dz_num_threads(), 1);
    dz_set_num_threads(before);
    ck_assert_int_eq(dz_num_threads(), before);
}
END_TEST

/* Counts the ranges and the elements they cover, and the distinct threads. */
typedef struct {
    pthread_mutex_t lock;
    int64_t ranges, covered;
    pthread_t threads[8];
    int nthreads;
} range_log;

static void log_range(void *vlog, int64_t begin, int64_t end)
{
    range_log *log = vlog;
    pthread_mutex_lock(&log->lock);
    log->ranges++;
    log->covered += end - begin;
    bool seen = false;
    for (int i = 0; i < log->nthreads; i++)
        seen = seen || pthread_equal(log->threads[i], pthread_self());
    if (!seen && log->nthreads < 8)
        log->threads[log->nthreads++] = pthread_self();
    pthread_mutex_unlock(&log->lock);
}

static range_log parallel_for_log(int64_t n, int64_t cost, int threads)
{
    range_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    int before = dz_num_threads();
    dz_set_num_threads(threads);
    dz_parallel_for(n, cost, log_range, &log);
    dz_set_num_threads(before);
    pthread_mutex_destroy(&log.lock);
    return log;
}

START_TEST(test_parallel_for)
{
    range_log small = parallel_for_log(DZ_GRAIN, 1, 3); /* within the grain: one range */
    ck_assert_int_eq(small.ranges, 1);
    ck_assert_int_eq(small.covered, DZ_GRAIN);
    range_log two = parallel_for_log(DZ_GRAIN + 1, 1, 3); /* two grains of work: two threads */
    ck_assert_int_eq(two.covered, DZ_GRAIN + 1);
    ck_assert_int_eq(two.ranges, 2);
    range_log rows = parallel_for_log(5, DZ_GRAIN, 3); /* 5 items of a grain each: 3 threads */
    ck_assert_int_eq(rows.ranges, 3);
    ck_assert_int_eq(rows.covered, 5);
    ck_assert_int_eq(rows.nthreads, 3);
}
END_TEST

/* A child forked after the workers started gets workers of its own. */
START_TEST(test_fork)
{
    range_log before_fork = parallel_for_log(5, DZ_GRAIN, 3);
    ck_assert_int_eq(before_fork.nthreads, 3);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        alarm(60); /* a child waiting for workers it lacks dies rather than hangs */
        range_log in_child = parallel_for_log(5, DZ_GRAIN, 3);
        _exit(in_child.ranges == 3 && in_child.covered == 5 && in_child.nthreads == 3 ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* Partials b * b, combined in order: combine notes any block out of order. */
typedef struct {
    int64_t next;
    bool in_order;
    double total;
} order_log;

static void square_partial(void *ctx, int64_t b, void *out)
{
    (void)ctx;
    double v = (double)b * b;
    memcpy(out, &v, sizeof v);
}

static void combine_in_order(void *vlog, int64_t b, const void *partial)
{
    order_log *log = vlog;
    double v;
    memcpy(&v, partial, sizeof v);
    log->in_order = log->in_order && b == log->next;
    log->next++;
    log->total += v;
}

START_TEST(test_parallel_reduce)
{
    dz_block_reduction squares = {square_partial, combine_in_order, sizeof(double)};
    int64_t nblocks = 20000; /* more than one round of partials */
    for (int threads = 1; threads <= 3; threads++) {
        order_log log = {0, true, 0};
        int before = dz_num_threads();
        dz_set_num_threads(threads);
        dz_parallel_reduce(&squares, nblocks, DZ_GRAIN, &log);
        dz_set_num_threads(before);
        ck_assert(log.in_order);
        ck_assert_int_eq(log.next, nblocks);
        ck_assert_double_eq(log.total, (double)(nblocks - 1) * nblocks * (2 * nblocks - 1) / 6);
    }
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_num_threads);
    tcase_add_test(tc, test_parallel_for);
    tcase_add_test(tc, test_parallel_reduce);
    tcase_add_test(tc, test_fork);
    tcase_add_test(tc, test_unary);
    tcase_add_test(tc, test_multiply_add);
    tcase_add_test(tc, test_broadcasts);
    tcase_add_test(tc, test_sums);
    tcase_add_test(tc, test_max_min);
    tcase_add_test(tc, test_linear_bias);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_optimizer_steps);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_training);
    suite_add_tcase(s, tc);
    return s;
}

/* --expect-threads N: dz_num_threads() must start at N (run with DZ_NUM_THREADS=N). */
int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--expect-threads") == 0)
        expected_default_threads = atoi(argv[2]);
    return tc_run(threads_suite());
}

/* The nn kernels' composites against the CPU's fused kernels. Each
 * dz_kernel_<slot> runs twice on the same random inputs, once with the fused
 * kernels off (the composite of primitives) and once with them on, in f32 and
 * f64 and on edge shapes (empty axes, one row, one column, repeated and
 * ignored labels, NaN). The results must agree bit for bit where the
 * composite rounds as the fused kernel (BITS), otherwise within TOL_F32 /
 * TOL_F64 of max(1, |fused|): there the composite uses the unary primitive's
 * exp (or sigmoid), sums float32 in float32 or adds terms in another order. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_parallel.h"
#include "kernels/nn_kernels.h"
#include "test_common.h"

#define BITS 0.0
#define TOL_F32 1e-5
#define TOL_F64 1e-12

static double tolerance(dz_dtype dtype) { return dtype == DZ_F32 ? TOL_F32 : TOL_F64; }
/* For the softmaxes: BITS in f64 while the reduce primitive sums in order, as
 * the fused kernel does (arrays of up to DZ_GRAIN elements), else the
 * tolerance (f32: the fused kernel's own exp, and sums in double). */
static double bits_in_order(const dz_array *x)
{
    return x->dtype == DZ_F64 && x->size <= DZ_GRAIN ? BITS : tolerance(x->dtype);
}

static const dz_dtype float_dtypes[] = {DZ_F32, DZ_F64};

enum { COMPOSITE, FUSED };

static void use(int path) { dz_backend_cpu_set_fused(path == FUSED); }
static void restore_backend(void) { dz_backend_cpu_set_fused(!tc_fused_off); }

/* An output for `path`, filled with a value that differs between the paths,
 * so that an element one of them leaves unwritten shows. */
static dz_array *output(int path, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_full(dtype, ndim, shape, path == FUSED ? 1111 : -2222);
}

static dz_rng seeded(uint64_t seed)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    return rng;
}

static dz_array *normal(uint64_t seed, dz_dtype dtype, int ndim, const int64_t *shape, double std)
{
    dz_rng rng = seeded(seed);
    return dz_array_normal(&rng, dtype, ndim, shape, 0, std);
}

static dz_array *randint(uint64_t seed, dz_dtype dtype, int ndim, const int64_t *shape, int64_t high)
{
    dz_rng rng = seeded(seed);
    return dz_array_randint(&rng, dtype, ndim, shape, 0, high);
}

/* Whether element i of a and b agree: the same bits (tol BITS), or within
 * tol * max(1, |b|); two NaNs agree. */
static bool agree(const dz_array *a, const dz_array *b, int64_t i, double tol)
{
    double x = dz_array_get(a, i), y = dz_array_get(b, i);
    if (isnan(x) || isnan(y))
        return isnan(x) && isnan(y);
    if (tol == BITS) {
        size_t es = dz_dtype_size(a->dtype);
        return memcmp((const char *)a->data + i * es, (const char *)b->data + i * es, es) == 0;
    }
    return x == y || fabs(x - y) <= tol * fmax(1.0, fabs(y));
}

static void assert_agree(const char *what, const dz_array *composite, const dz_array *fused, double tol)
{
    ck_assert_int_eq(composite->dtype, fused->dtype);
    ck_assert(dz_array_same_shape(composite, fused));
    for (int64_t i = 0; i < fused->size; i++)
        ck_assert_msg(agree(composite, fused, i, tol), "%s (%s, shape %s): element %lld: composite %.17g, fused %.17g",
                      what, dz_dtype_name(fused->dtype), dz_shape_format(fused->ndim, fused->shape, (char[64]){0}, 64),
                      (long long)i, dz_array_get(composite, i), dz_array_get(fused, i));
}

static void release2(dz_array *y[2])
{
    dz_array_release(y[0]);
    dz_array_release(y[1]);
}

/* ---- sigmoid ---------------------------------------------------------------------- */

START_TEST(test_sigmoid)
{
    const int64_t shapes[][2] = {{3, 5}, {0, 4}, {1, 1}, {64, 129}};
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 4; s++) {
            dz_array *x = normal(10 + s, float_dtypes[d], 2, shapes[s], 8), *y[2];
            for (int path = 0; path < 2; path++) {
                use(path);
                y[path] = output(path, x->dtype, 2, shapes[s]);
                ck_assert(dz_kernel_sigmoid(x, y[path]));
            }
            assert_agree("sigmoid", y[COMPOSITE], y[FUSED], tolerance(x->dtype));
            dz_array_release(x);
            release2(y);
        }
}
END_TEST

/* The composite sigmoid rounds differently from the fused one: somewhere the
 * bits differ, which shows that switching the fused kernels off takes effect. */
START_TEST(test_paths_differ)
{
    dz_array *x = normal(1, DZ_F32, 1, DZ_SHAPE(4096), 4), *y[2];
    for (int path = 0; path < 2; path++) {
        use(path);
        y[path] = output(path, DZ_F32, 1, DZ_SHAPE(4096));
        ck_assert(dz_kernel_sigmoid(x, y[path]));
    }
    ck_assert(memcmp(y[COMPOSITE]->data, y[FUSED]->data, 4096 * sizeof(float)) != 0);
    dz_array_release(x);
    release2(y);
}
END_TEST

START_TEST(test_sigmoid_backward)
{
    const int64_t shapes[][2] = {{3, 5}, {0, 4}, {1, 1}, {64, 129}};
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 4; s++) {
            dz_dtype dtype = float_dtypes[d];
            dz_array *x = normal(20 + s, dtype, 2, shapes[s], 3), *gy = normal(30 + s, dtype, 2, shapes[s], 1), *y[2];
            dz_array *sig = output(FUSED, dtype, 2, shapes[s]);
            use(FUSED);
            ck_assert(dz_kernel_sigmoid(x, sig));
            for (int path = 0; path < 2; path++) {
                use(path);
                y[path] = output(path, dtype, 2, shapes[s]);
                ck_assert(dz_kernel_sigmoid_backward(sig, gy, y[path]));
            }
            assert_agree("sigmoid_backward", y[COMPOSITE], y[FUSED], BITS);
            dz_array_release(x);
            dz_array_release(gy);
            dz_array_release(sig);
            release2(y);
        }
}
END_TEST

/* ---- softmax ---------------------------------------------------------------------- */

typedef struct {
    int ndim;
    int64_t shape[3];
    int axis;
} axis_case;

static const axis_case softmax_cases[] = {
    {3, {2, 3, 4}, 0}, {3, {2, 3, 4}, 1}, {3, {2, 3, 4}, 2}, {2, {1, 7}, 1},   {2, {7, 1}, 1},
    {2, {7, 1}, 0},    {2, {0, 3}, 1},    {2, {3, 0}, 1},    {1, {1}, 0},      {2, {50, 40}, 1},
    {2, {400, 100}, 1}, {2, {400, 100}, 0}, /* above DZ_GRAIN */
};
#define N_SOFTMAX_CASES (sizeof softmax_cases / sizeof softmax_cases[0])

START_TEST(test_softmax)
{
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < N_SOFTMAX_CASES; k++)
            for (int log = 0; log < 2; log++) {
                const axis_case *c = &softmax_cases[k];
                dz_array *x = normal(40 + k, float_dtypes[d], c->ndim, c->shape, 20), *y[2];
                if (x->size > 2) /* a NaN in the first line */
                    dz_array_set(x, 1, NAN);
                for (int path = 0; path < 2; path++) {
                    use(path);
                    y[path] = output(path, x->dtype, c->ndim, c->shape);
                    ck_assert(dz_kernel_softmax(x, c->axis, log, y[path]));
                }
                assert_agree(log ? "log_softmax" : "softmax", y[COMPOSITE], y[FUSED], bits_in_order(x));
                dz_array_release(x);
                release2(y);
            }
}
END_TEST

START_TEST(test_softmax_backward)
{
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < N_SOFTMAX_CASES; k++)
            for (int log = 0; log < 2; log++) {
                const axis_case *c = &softmax_cases[k];
                dz_dtype dtype = float_dtypes[d];
                dz_array *x = normal(60 + k, dtype, c->ndim, c->shape, 2), *gy = normal(80 + k, dtype, c->ndim, c->shape, 1);
                dz_array *y = output(FUSED, dtype, c->ndim, c->shape), *gx[2];
                use(FUSED);
                ck_assert(dz_kernel_softmax(x, c->axis, log, y));
                for (int path = 0; path < 2; path++) {
                    use(path);
                    gx[path] = output(path, dtype, c->ndim, c->shape);
                    ck_assert(dz_kernel_softmax_backward(y, gy, c->axis, log, gx[path]));
                }
                assert_agree(log ? "log_softmax_backward" : "softmax_backward", gx[COMPOSITE], gx[FUSED],
                             bits_in_order(y));
                dz_array_release(x);
                dz_array_release(gy);
                dz_array_release(y);
                release2(gx);
            }
}
END_TEST

/* ---- clip, one_hot ---------------------------------------------------------------- */

START_TEST(test_clip)
{
    const double specials[] = {-0.5, 0.7, NAN, -0.0, 0.0, INFINITY, -INFINITY, 0.1};
    for (int d = 0; d < 2; d++)
        for (int mask = 0; mask < 2; mask++) {
            dz_array *x = normal(100, float_dtypes[d], 2, DZ_SHAPE(9, 11), 1), *y[2];
            for (int i = 0; i < 8; i++)
                dz_array_set(x, i * 7, specials[i]);
            for (int path = 0; path < 2; path++) {
                use(path);
                y[path] = output(path, x->dtype, 2, x->shape);
                ck_assert(dz_kernel_clip(x, -0.5, 0.7, mask, y[path]));
            }
            assert_agree(mask ? "clip mask" : "clip", y[COMPOSITE], y[FUSED], BITS);
            dz_array_release(x);
            release2(y);
        }
}
END_TEST

START_TEST(test_one_hot)
{
    const dz_dtype out_dtypes[] = {DZ_F32, DZ_F64, DZ_I32, DZ_I64};
    const struct {
        int ndim;
        int64_t shape[2], classes;
    } cases[] = {{1, {6}, 3}, {2, {2, 5}, 4}, {0, {0}, 5}, {1, {0}, 2}, {1, {4}, 1}};
    for (int o = 0; o < 4; o++)
        for (int index_i64 = 0; index_i64 < 2; index_i64++)
            for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
                int64_t shape[3] = {cases[k].shape[0], cases[k].shape[1], 0};
                shape[cases[k].ndim] = cases[k].classes;
                /* few classes, many entries: indices repeat */
                dz_array *t = randint(120 + k, index_i64 ? DZ_I64 : DZ_I32, cases[k].ndim, cases[k].shape,
                                      cases[k].classes), *y[2];
                for (int path = 0; path < 2; path++) {
                    use(path);
                    y[path] = output(path, out_dtypes[o], cases[k].ndim + 1, shape);
                    ck_assert(dz_kernel_one_hot(t, y[path]));
                }
                assert_agree("one_hot", y[COMPOSITE], y[FUSED], BITS);
                dz_array_release(t);
                release2(y);
            }
}
END_TEST

/* ---- bias rows -------------------------------------------------------------------- */

static const int64_t row_shapes[][2] = {{5, 3}, {1, 4}, {6, 1}, {0, 3}, {4, 0}, {5000, 10}, {40000, 1}};
#define N_ROW_SHAPES (sizeof row_shapes / sizeof row_shapes[0])

START_TEST(test_repeat_rows)
{
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < N_ROW_SHAPES; s++) {
            dz_array *b = normal(140 + s, float_dtypes[d], 1, &row_shapes[s][1], 1), *y[2];
            for (int path = 0; path < 2; path++) {
                use(path);
                y[path] = output(path, b->dtype, 2, row_shapes[s]);
                ck_assert(dz_kernel_repeat_rows(b, y[path]));
            }
            assert_agree("repeat_rows", y[COMPOSITE], y[FUSED], BITS);
            dz_array_release(b);
            release2(y);
        }
}
END_TEST

/* ---- losses ----------------------------------------------------------------------- */

#define NO_IGNORE INT64_MIN

typedef struct {
    int64_t n, c;
    int64_t ignore_index; /* NO_IGNORE, a class, or outside the classes */
    int every;            /* every `every`-th label is set to ignore_index (0: none) */
} sce_case;

static const sce_case sce_cases[] = {
    {6, 5, NO_IGNORE, 0}, {6, 5, -100, 3}, {6, 5, 2, 0}, {1, 4, NO_IGNORE, 0}, {4, 1, NO_IGNORE, 0},
    {0, 3, NO_IGNORE, 0}, {3, 4, -1, 1},   {300, 40, 7, 5},  {1000, 50, -100, 9}, /* above DZ_GRAIN */
};
#define N_SCE_CASES (sizeof sce_cases / sizeof sce_cases[0])

/* Labels in 0..C-1 (repeating), every `every`-th one ignore_index; *scale
 * gets 1 / (labels counted), NaN when none is. */
static dz_array *sce_labels(const sce_case *c, dz_dtype dtype, uint64_t seed, double *scale)
{
    dz_array *t = randint(seed, dtype, 1, DZ_SHAPE(c->n), c->c > 0 ? c->c : 1);
    int64_t counted = 0;
    for (int64_t i = 0; i < c->n; i++) {
        if (c->every && i % c->every == 0)
            dz_array_set(t, i, (double)c->ignore_index);
        counted += dz_array_get(t, i) != (double)c->ignore_index;
    }
    *scale = counted ? 1.0 / (double)counted : NAN;
    return t;
}

START_TEST(test_softmax_cross_entropy)
{
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < N_SCE_CASES; k++) {
            const sce_case *c = &sce_cases[k];
            dz_dtype dtype = float_dtypes[d];
            double scale;
            int64_t shape[2] = {c->n, c->c};
            dz_array *x = normal(200 + k, dtype, 2, shape, 5), *loss[2], *probs[2];
            dz_array *t = sce_labels(c, k % 2 ? DZ_I32 : DZ_I64, 220 + k, &scale);
            for (int path = 0; path < 2; path++) {
                use(path);
                loss[path] = output(path, dtype, 0, NULL);
                probs[path] = output(path, dtype, 2, shape);
                ck_assert(dz_kernel_softmax_cross_entropy(x, t, c->ignore_index, scale, loss[path], probs[path]));
            }
            assert_agree("softmax_cross_entropy loss", loss[COMPOSITE], loss[FUSED], tolerance(dtype));
            assert_agree("softmax_cross_entropy probs", probs[COMPOSITE], probs[FUSED], bits_in_order(x));
            dz_array_release(x);
            dz_array_release(t);
            release2(loss);
            release2(probs);
        }
}
END_TEST

START_TEST(test_softmax_cross_entropy_backward)
{
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < N_SCE_CASES; k++) {
            const sce_case *c = &sce_cases[k];
            dz_dtype dtype = float_dtypes[d];
            double scale;
            int64_t shape[2] = {c->n, c->c};
            dz_array *probs = normal(240 + k, dtype, 2, shape, 1), *gy = normal(260 + k, dtype, 0, NULL, 3), *gx[2];
            dz_array *t = sce_labels(c, k % 2 ? DZ_I64 : DZ_I32, 280 + k, &scale);
            if (isnan(scale))
                scale = 0; /* what the op passes when every row is ignored */
            for (int path = 0; path < 2; path++) {
                use(path);
                gx[path] = output(path, dtype, 2, shape);
                ck_assert(dz_kernel_softmax_cross_entropy_backward(probs, t, c->ignore_index, scale, gy, gx[path]));
            }
            assert_agree("softmax_cross_entropy_backward", gx[COMPOSITE], gx[FUSED], BITS);
            dz_array_release(probs);
            dz_array_release(gy);
            dz_array_release(t);
            release2(gx);
        }
}
END_TEST

/* Large |x| too, where log1p(exp(-|x|)) is below an ulp of 1. */
START_TEST(test_sigmoid_cross_entropy)
{
    const int64_t sizes[] = {12, 0, 1, 40000};
    const double stds[] = {3, 40};
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 4; s++)
            for (int w = 0; w < 2; w++) {
                dz_dtype dtype = float_dtypes[d];
                dz_rng rng = seeded(300 + s);
                dz_array *x = normal(310 + s, dtype, 1, &sizes[s], stds[w]), *loss[2];
                dz_array *t = dz_array_uniform(&rng, dtype, 1, &sizes[s], 0, 1);
                for (int64_t i = 0; i < sizes[s]; i += 3) /* hard 0 / 1 targets too */
                    dz_array_set(t, i, (double)(i % 2));
                double scale = sizes[s] ? 1.0 / (double)sizes[s] : NAN;
                for (int path = 0; path < 2; path++) {
                    use(path);
                    loss[path] = output(path, dtype, 0, NULL);
                    ck_assert(dz_kernel_sigmoid_cross_entropy(x, t, scale, loss[path]));
                }
                assert_agree("sigmoid_cross_entropy", loss[COMPOSITE], loss[FUSED], tolerance(dtype));
                dz_array_release(x);
                dz_array_release(t);
                release2(loss);
            }
}
END_TEST

/* Confident and right everywhere: the loss is the tiny sum of
 * log1p(exp(-|x|)) alone, which log(1 + exp(-|x|)) would round to 0. */
START_TEST(test_sigmoid_cross_entropy_tiny_loss)
{
    for (int d = 0; d < 2; d++) {
        dz_dtype dtype = float_dtypes[d];
        double xs[] = {30, -30, 25, -40}, ts[] = {1, 0, 1, 0};
        dz_array *x64 = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(4), xs);
        dz_array *t64 = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(4), ts);
        dz_array *x = dz_array_astype(x64, dtype), *t = dz_array_astype(t64, dtype), *loss[2];
        for (int path = 0; path < 2; path++) {
            use(path);
            loss[path] = output(path, dtype, 0, NULL);
            ck_assert(dz_kernel_sigmoid_cross_entropy(x, t, 0.25, loss[path]));
        }
        ck_assert(dz_array_get(loss[FUSED], 0) > 0);
        ck_assert_msg(fabs(dz_array_get(loss[COMPOSITE], 0) / dz_array_get(loss[FUSED], 0) - 1) <= tolerance(dtype),
                      "composite %.17g, fused %.17g", dz_array_get(loss[COMPOSITE], 0), dz_array_get(loss[FUSED], 0));
        dz_array_release(x64);
        dz_array_release(t64);
        dz_array_release(x);
        dz_array_release(t);
        release2(loss);
    }
}
END_TEST

static Suite *kernels_nn_suite(void)
{
    Suite *s = suite_create("kernels_nn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, restore_backend);
    tcase_add_test(tc, test_sigmoid);
    tcase_add_test(tc, test_paths_differ);
    tcase_add_test(tc, test_sigmoid_backward);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_softmax_backward);
    tcase_add_test(tc, test_clip);
    tcase_add_test(tc, test_one_hot);
    tcase_add_test(tc, test_repeat_rows);
    tcase_add_test(tc, test_softmax_cross_entropy);
    tcase_add_test(tc, test_softmax_cross_entropy_backward);
    tcase_add_test(tc, test_sigmoid_cross_entropy);
    tcase_add_test(tc, test_sigmoid_cross_entropy_tiny_loss);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(kernels_nn_suite()); }

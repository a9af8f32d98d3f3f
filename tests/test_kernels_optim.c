/* The optimizer kernels (src/kernels/optim_kernels.h), fused against
 * composite: every slot runs on the same random inputs with the CPU
 * backend's fused kernels on, then off (its composite of primitives), in f32
 * and f64, on shapes from empty to above the threads' grain (and for the row
 * kernels on no row, one row, unsorted rows and every row of 2-D and 3-D
 * tables), and the two results are compared: bit for bit where the composite
 * rounds as the fused kernel does, else within the tolerance given below. */
#include <math.h>

#include "backend/backend.h"
#include "kernels/optim_kernels.h"
#include "test_common.h"

/* Valgrind's emulation of double-precision fma loses the sign of a zero
 * result (fma(-0.0, 0.9, -0.0) gives +0 under valgrind, -0 on the CPU), so
 * under valgrind an exact comparison takes +0 and -0 as equal. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND false
#endif

/* ---- running a kernel both ways ---- */

#define MAX_ARRAYS 6

/* One call of a kernel on the arrays of its slot, in the slot's order (NULL
 * where the slot takes NULL), with its scalars. */
typedef bool (*kernel_call)(const void *scalars, dz_array **a);

/* What a comparison allows per dtype: 0 is bit for bit, else
 * |fused - composite| <= rtol * max(1, |fused|). */
typedef struct {
    double f32, f64;
} tolerance;

static const tolerance EXACT = {0, 0};
/* Adagrad, Adadelta and Adam round a running sum of g^2 twice in the
 * composite, once in the fused kernel: a few ulp apart. */
static const tolerance FEW_ULP = {2e-6, 5e-15};

static dz_array *copy_or_null(const dz_array *a) { return a ? dz_array_copy(a) : NULL; }

static bool same(double f, double c, double rtol)
{
    if (rtol == 0)
        return memcmp(&f, &c, sizeof f) == 0 || (UNDER_VALGRIND && f == 0 && c == 0);
    return (isnan(f) && isnan(c)) || fabs(f - c) <= rtol * fmax(1.0, fabs(f));
}

/* Every element equal within rtol (one Check assertion: each one costs a
 * write to Check's pipe). */
static void assert_same(const dz_array *fused, const dz_array *composite, double rtol, const char *what, int k)
{
    ck_assert_int_eq(fused->size, composite->size);
    int64_t i = 0;
    while (i < fused->size && same(dz_array_get(fused, i), dz_array_get(composite, i), rtol))
        i++;
    ck_assert_msg(i == fused->size, "%s, array %d, element %lld: fused %a, composite %a", what, k, (long long)i,
                  dz_array_get(fused, i), dz_array_get(composite, i));
}

/* Runs `call` on copies of inputs[0..n-1] with the fused kernels on, then on
 * fresh copies with them off, and compares every array. inputs[0] is a
 * float array of the case's dtype. */
static void compare(kernel_call call, const void *scalars, dz_array *const *inputs, int n, tolerance tol,
                    const char *what)
{
    dz_array *fused[MAX_ARRAYS], *composite[MAX_ARRAYS];
    for (int k = 0; k < n; k++) {
        fused[k] = copy_or_null(inputs[k]);
        composite[k] = copy_or_null(inputs[k]);
    }
    dz_backend_cpu_set_fused(true);
    ck_assert_ptr_nonnull(dz_backend_cpu()->fused);
    ck_assert(call(scalars, fused));
    dz_backend_cpu_set_fused(false);
    ck_assert_ptr_null(dz_backend_cpu()->fused);
    ck_assert(call(scalars, composite));
    dz_backend_cpu_set_fused(!tc_fused_off);
    double rtol = inputs[0]->dtype == DZ_F32 ? tol.f32 : tol.f64;
    for (int k = 0; k < n; k++) {
        if (inputs[k])
            assert_same(fused[k], composite[k], rtol, what, k);
        dz_array_release(fused[k]);
        dz_array_release(composite[k]);
    }
}

static void release_all(dz_array **a, int n)
{
    for (int k = 0; k < n; k++)
        dz_array_release(a[k]);
}

/* ---- inputs ---- */

static dz_rng rng;

/* Normals of standard deviation `scale`, with a zero every seventh element
 * (a grad that vanishes) and a negative zero at element 3. */
static dz_array *values(dz_dtype dtype, int ndim, const int64_t *shape, double scale)
{
    dz_array *a = dz_array_normal(&rng, dtype, ndim, shape, 0, scale);
    for (int64_t i = 0; i < a->size; i += 7)
        dz_array_set(a, i, 0);
    if (a->size > 3)
        dz_array_set(a, 3, -0.0);
    return a;
}

/* A running sum or mean of squares: positive, or zeros at the first step. */
static dz_array *squares(dz_dtype dtype, int ndim, const int64_t *shape, bool first_step)
{
    dz_array *a = dz_array_normal(&rng, dtype, ndim, shape, 0, 1);
    for (int64_t i = 0; i < a->size; i++)
        dz_array_set(a, i, first_step ? 0 : fabs(dz_array_get(a, i)) + 0.01);
    return a;
}

/* Whole-parameter cases: the loop index picks the dtype and the shape. */
typedef struct {
    int ndim;
    int64_t shape[3];
} shape_case;

static const shape_case shapes[] = {
    {1, {0}}, {0, {0}}, {1, {1}}, {1, {45}}, {2, {7, 9}}, {1, {40000}}, /* 45: vector body and tails; 40000: threads */
};
#define NUM_SHAPE_CASES (2 * (int)(sizeof shapes / sizeof shapes[0]))

static dz_dtype dtype_of(int i) { return i % 2 ? DZ_F64 : DZ_F32; }
static const shape_case *shape_of(int i) { return &shapes[i / 2]; }

#define SHAPE_ARGS(c) (c)->ndim, (c)->shape

/* ---- whole-parameter steps ---- */

static bool call_sgd(const void *s, dz_array **a) { return dz_kernel_sgd_step(s, a[0], a[1], a[2]); }

START_TEST(test_sgd_step)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 1000 + _i);
    enum { PLAIN, FIRST_STEP, MOMENTUM, NESTEROV };
    for (int decay = 0; decay < 2; decay++)
        for (int mode = PLAIN; mode <= NESTEROV; mode++) {
            dz_sgd_scalars s = {.lr = 0.05, .momentum = mode == PLAIN ? 0 : 0.9,
                                .dampening = mode == NESTEROV ? 0 : 0.1, .weight_decay = decay ? 0.1 : 0,
                                .nesterov = mode == NESTEROV, .first_step = mode == FIRST_STEP};
            dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1),
                             mode == PLAIN ? NULL : values(dtype, SHAPE_ARGS(sc), 1)};
            compare(call_sgd, &s, a, 3, EXACT, "sgd_step");
            release_all(a, 3);
        }
}
END_TEST

static bool call_momentum_sgd(const void *s, dz_array **a)
{
    const double *lr_momentum = s;
    return dz_kernel_momentum_sgd_step(lr_momentum[0], lr_momentum[1], a[0], a[1], a[2]);
}

START_TEST(test_momentum_sgd_step)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 2000 + _i);
    double lr_momentum[] = {0.05, 0.9};
    dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1),
                     values(dtype, SHAPE_ARGS(sc), 0.1)};
    compare(call_momentum_sgd, lr_momentum, a, 3, EXACT, "momentum_sgd_step");
    release_all(a, 3);
}
END_TEST

static bool call_adagrad(const void *s, dz_array **a) { return dz_kernel_adagrad_step(s, a[0], a[1], a[2]); }

START_TEST(test_adagrad_step)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 3000 + _i);
    for (int decay = 0; decay < 2; decay++) {
        dz_adagrad_scalars s = {.clr = 0.1 / (1 + 2 * 0.05), .eps = 1e-10, .weight_decay = decay ? 0.1 : 0};
        dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1),
                         squares(dtype, SHAPE_ARGS(sc), false)};
        compare(call_adagrad, &s, a, 3, FEW_ULP, "adagrad_step");
        release_all(a, 3);
    }
}
END_TEST

static bool call_adadelta(const void *s, dz_array **a)
{
    return dz_kernel_adadelta_step(s, a[0], a[1], a[2], a[3]);
}

START_TEST(test_adadelta_step)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 4000 + _i);
    for (int decay = 0; decay < 2; decay++)
        for (int first_step = 0; first_step < 2; first_step++) {
            dz_adadelta_scalars s = {.lr = 1, .rho = 0.9, .eps = 1e-6, .weight_decay = decay ? 0.05 : 0};
            dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1),
                             squares(dtype, SHAPE_ARGS(sc), first_step), squares(dtype, SHAPE_ARGS(sc), first_step)};
            compare(call_adadelta, &s, a, 4, FEW_ULP, "adadelta_step");
            release_all(a, 4);
        }
}
END_TEST

static bool call_adam(const void *s, dz_array **a) { return dz_kernel_adam_step(s, a[0], a[1], a[2], a[3], a[4]); }

/* The scalars of step t as adam.c computes them (lr 0.01, wd 0.1). */
static dz_adam_scalars adam_scalars(bool decoupled, int t)
{
    const double lr = 0.01, beta1 = 0.9, beta2 = 0.999, wd = 0.1;
    return (dz_adam_scalars){.beta1 = beta1, .beta2 = beta2, .eps = 1e-8, .weight_decay = decoupled ? 0 : wd,
                             .decay_factor = decoupled ? 1 - lr * wd : 1, .step_size = lr / (1 - pow(beta1, t)),
                             .bias_correction2_sqrt = sqrt(1 - pow(beta2, t))};
}

START_TEST(test_adam_step)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 5000 + _i);
    for (int decoupled = 0; decoupled < 2; decoupled++)
        for (int amsgrad = 0; amsgrad < 2; amsgrad++)
            for (int first_step = 0; first_step < 2; first_step++) {
                dz_adam_scalars s = adam_scalars(decoupled, first_step ? 1 : 3);
                dz_array *m = first_step ? dz_array_zeros(dtype, SHAPE_ARGS(sc)) : values(dtype, SHAPE_ARGS(sc), 0.3);
                dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1), m,
                                 squares(dtype, SHAPE_ARGS(sc), first_step),
                                 amsgrad ? squares(dtype, SHAPE_ARGS(sc), first_step) : NULL};
                compare(call_adam, &s, a, 5, FEW_ULP, decoupled ? "adam_step (AdamW)" : "adam_step (Adam)");
                release_all(a, 5);
            }
}
END_TEST

/* ---- hooks ---- */

static bool call_weight_decay(const void *s, dz_array **a)
{
    return dz_kernel_weight_decay(*(const double *)s, a[1], a[0]);
}
static bool call_scale(const void *s, dz_array **a) { return dz_kernel_scale(a[0], *(const double *)s); }
static bool call_axpy(const void *s, dz_array **a) { return dz_kernel_axpy(a[0], a[1], *(const double *)s); }

START_TEST(test_hook_kernels)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 6000 + _i);
    const double rate = 0.25, scale = 0.3, alpha = -0.7;
    dz_array *a[] = {values(dtype, SHAPE_ARGS(sc), 1), values(dtype, SHAPE_ARGS(sc), 1)}; /* g or y, then p or x */
    compare(call_weight_decay, &rate, a, 2, EXACT, "weight_decay");
    compare(call_scale, &scale, a, 1, EXACT, "scale");
    compare(call_axpy, &alpha, a, 2, EXACT, "axpy");
    release_all(a, 2);
}
END_TEST

/* sum(x^2) in double both ways; the composite adds in another order. */
START_TEST(test_sum_squares)
{
    dz_dtype dtype = dtype_of(_i);
    const shape_case *sc = shape_of(_i);
    dz_rng_seed(&rng, 7000 + _i);
    dz_array *x = values(dtype, SHAPE_ARGS(sc), 3);
    double fused, composite;
    dz_backend_cpu_set_fused(true);
    ck_assert(dz_kernel_sum_squares(x, &fused));
    dz_backend_cpu_set_fused(false);
    ck_assert(dz_kernel_sum_squares(x, &composite));
    dz_backend_cpu_set_fused(!tc_fused_off);
    ck_assert_msg(fabs(fused - composite) <= 1e-13 * fused, "sum_squares: fused %a, composite %a", fused, composite);
    if (x->size <= 1) /* nothing to reorder */
        ck_assert_msg(fused == composite, "sum_squares of %lld: fused %a, composite %a", (long long)x->size, fused,
                      composite);
    dz_array_release(x);
}
END_TEST

/* ---- row kernels: the loop index picks the dtype, the rows and the table ---- */

typedef struct {
    int64_t n;
    int64_t rows[8];
} rows_case;

static const rows_case row_sets[] = {{0, {0}}, {1, {5}}, {3, {7, 0, 3}}, {8, {2, 0, 1, 3, 4, 6, 5, 7}}};
#define NUM_ROW_SETS ((int)(sizeof row_sets / sizeof row_sets[0]))

static const shape_case tables[] = {{2, {8, 3}}, {2, {8, 1}}, {3, {8, 2, 3}}};
#define NUM_TABLES ((int)(sizeof tables / sizeof tables[0]))
#define NUM_ROW_CASES (2 * NUM_ROW_SETS * NUM_TABLES)

typedef struct {
    dz_dtype dtype;
    int ndim;
    int64_t table_shape[3], values_shape[3]; /* (8, ...) and (n, ...) */
    dz_array *rows;                          /* (n,) int64 */
} row_case;

static row_case row_case_of(int i)
{
    const rows_case *r = &row_sets[i / 2 % NUM_ROW_SETS];
    const shape_case *t = &tables[i / 2 / NUM_ROW_SETS];
    row_case c = {.dtype = dtype_of(i), .ndim = t->ndim};
    for (int d = 0; d < c.ndim; d++)
        c.table_shape[d] = c.values_shape[d] = t->shape[d];
    c.values_shape[0] = r->n;
    c.rows = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(r->n), r->rows);
    return c;
}

static bool call_rows_scale(const void *s, dz_array **a)
{
    return dz_kernel_rows_scale(a[0], a[1], *(const double *)s);
}

static bool call_sparse_adagrad(const void *s, dz_array **a)
{
    return dz_kernel_sparse_adagrad_rows(s, a[0], a[1], a[2], a[3]);
}

static bool call_sparse_adam(const void *s, dz_array **a)
{
    return dz_kernel_sparse_adam_rows(s, a[0], a[1], a[2], a[3], a[4]);
}

START_TEST(test_row_kernels)
{
    row_case c = row_case_of(_i);
    dz_rng_seed(&rng, 8000 + _i);
    const double scale = 0.9;
    dz_array *a[] = {values(c.dtype, c.ndim, c.table_shape, 1), dz_array_retain(c.rows)};
    compare(call_rows_scale, &scale, a, 2, EXACT, "rows_scale");
    release_all(a, 2);

    dz_adagrad_scalars adagrad = {.clr = 0.1 / (1 + 0.01), .eps = 1e-10};
    dz_array *b[] = {values(c.dtype, c.ndim, c.table_shape, 1), squares(c.dtype, c.ndim, c.table_shape, false),
                     dz_array_retain(c.rows), values(c.dtype, c.ndim, c.values_shape, 1)};
    compare(call_sparse_adagrad, &adagrad, b, 4, EXACT, "sparse_adagrad_rows");
    release_all(b, 4);

    for (int t = 1; t <= 3; t += 2) { /* the first step (zero moments), a later one */
        double bias_correction1 = 1 - pow(0.9, t), bias_correction2 = 1 - pow(0.999, t);
        dz_sparse_adam_scalars adam = {0.9, 0.999, 1e-8, 0.01 * sqrt(bias_correction2) / bias_correction1};
        dz_array *m = t == 1 ? dz_array_zeros(c.dtype, c.ndim, c.table_shape)
                             : values(c.dtype, c.ndim, c.table_shape, 0.3);
        dz_array *d[] = {values(c.dtype, c.ndim, c.table_shape, 1), m, squares(c.dtype, c.ndim, c.table_shape, t == 1),
                         dz_array_retain(c.rows), values(c.dtype, c.ndim, c.values_shape, 1)};
        compare(call_sparse_adam, &adam, d, 5, EXACT, "sparse_adam_rows");
        release_all(d, 5);
    }
    dz_array_release(c.rows);
}
END_TEST

static Suite *kernels_optim_suite(void)
{
    Suite *s = suite_create("kernels_optim");
    TCase *steps = tcase_create("steps");
    tcase_add_loop_test(steps, test_sgd_step, 0, NUM_SHAPE_CASES);
    tcase_add_loop_test(steps, test_momentum_sgd_step, 0, NUM_SHAPE_CASES);
    tcase_add_loop_test(steps, test_adagrad_step, 0, NUM_SHAPE_CASES);
    tcase_add_loop_test(steps, test_adadelta_step, 0, NUM_SHAPE_CASES);
    tcase_add_loop_test(steps, test_adam_step, 0, NUM_SHAPE_CASES);
    suite_add_tcase(s, steps);
    TCase *hooks = tcase_create("hooks");
    tcase_add_loop_test(hooks, test_hook_kernels, 0, NUM_SHAPE_CASES);
    tcase_add_loop_test(hooks, test_sum_squares, 0, NUM_SHAPE_CASES);
    suite_add_tcase(s, hooks);
    TCase *rows = tcase_create("rows");
    tcase_add_loop_test(rows, test_row_kernels, 0, NUM_ROW_CASES);
    suite_add_tcase(s, rows);
    return s;
}

int main(void) { return tc_run(kernels_optim_suite()); }

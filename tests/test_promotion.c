/* NumPy 1.24's dtype promotion of the arithmetic ops, against NumPy's own
 * results (fixtures/promotion_golden.h): result dtypes and values bit for bit
 * for every pair of compute dtypes and for scalars, grads in the input
 * dtypes, div_scalar and mean as true divisions, and float64 data through
 * float32 weights in linear and matmul. */
#include <math.h>
#include <string.h>

#include "fixtures/promotion_golden.h"
#include "test_common.h"

typedef dz_variable *(*binary_fn)(dz_variable *, dz_variable *);
typedef dz_variable *(*scalar_fn)(dz_variable *, double);

/* A leaf of the integer `dtype` from int64 values. */
static dz_variable *int_var(dz_dtype dtype, int ndim, const int64_t *shape, const int64_t *values)
{
    dz_array *a = dz_array_from_buffer(DZ_I64, ndim, shape, values);
    dz_array *b = dz_array_astype(a, dtype);
    dz_array_release(a);
    return dz_variable_new(b, NULL);
}

/* A leaf of `dtype` from the golden doubles (floats) or int64s (integers). */
static dz_variable *golden_var(dz_dtype dtype, int ndim, const int64_t *shape, const double *f, const int64_t *i)
{
    return dz_dtype_is_float(dtype) ? tc_var(dtype, ndim, shape, f) : int_var(dtype, ndim, shape, i);
}

/* Every element of a float array a, exactly (float32 widens exactly to
 * double; NaN matches NaN). */
static void assert_float_exact(const dz_array *a, dz_dtype dtype, int64_t n, const double *f, const char *what)
{
    ck_assert_msg(a->dtype == dtype, "%s: dtype %s, NumPy %s", what, dz_dtype_name(a->dtype), dz_dtype_name(dtype));
    ck_assert_int_eq(a->size, n);
    for (int64_t k = 0; k < n; k++) {
        double got = dz_array_get(a, k);
        ck_assert_msg(got == f[k] || (isnan(got) && isnan(f[k])), "%s[%lld]: got %a, NumPy %a", what, (long long)k,
                      got, f[k]);
    }
}

/* The same for an array of either kind: floats against f, integers against
 * i (read from the CPU buffer, exact past 2^53). */
static void assert_exact(const dz_array *a, dz_dtype dtype, int64_t n, const double *f, const int64_t *i,
                         const char *what)
{
    if (dz_dtype_is_float(dtype)) {
        assert_float_exact(a, dtype, n, f, what);
        return;
    }
    ck_assert_msg(a->dtype == dtype, "%s: dtype %s, NumPy %s", what, dz_dtype_name(a->dtype), dz_dtype_name(dtype));
    ck_assert_int_eq(a->size, n);
    for (int64_t k = 0; k < n; k++) {
        int64_t got = a->dtype == DZ_I32 ? ((const int32_t *)a->data)[k] : ((const int64_t *)a->data)[k];
        ck_assert_msg(got == i[k], "%s[%lld]: got %lld, NumPy %lld", what, (long long)k, (long long)got,
                      (long long)i[k]);
    }
}

static binary_fn binary_named(const char *op)
{
    return strcmp(op, "add") == 0 ? dz_add : strcmp(op, "sub") == 0 ? dz_sub : strcmp(op, "mul") == 0 ? dz_mul : dz_div;
}

/* Every op on every pair of dtypes: the result dtype and values are NumPy's,
 * and each grad (for a given gy) comes back in its input's dtype with NumPy's
 * values; an integer input of a float result gets none. */
START_TEST(test_binary_pairs)
{
    size_t n = sizeof promotion_binary / sizeof promotion_binary[0];
    ck_assert_int_eq(n, 4 * 16);
    for (size_t k = 0; k < n; k++) {
        const promotion_binary_case *c = &promotion_binary[k];
        char what[64];
        dz_scope_begin();
        dz_variable *a = golden_var(c->a_dtype, 2, DZ_SHAPE(2, 3), c->a_f, c->a_i);
        dz_variable *b = golden_var(c->b_dtype, 1, DZ_SHAPE(3), c->b_f, c->b_i);
        dz_variable *y = binary_named(c->op)(a, b);
        snprintf(what, sizeof what, "%s(%s, %s)", c->op, dz_dtype_name(c->a_dtype), dz_dtype_name(c->b_dtype));
        assert_exact(y->data, c->y_dtype, 6, c->y_f, c->y_i, what);
        dz_variable_set_grad(y, golden_var(c->y_dtype, 2, DZ_SHAPE(2, 3), c->gy_f, c->gy_i));
        dz_variable_backward(y, false, false);
        ck_assert_msg((a->grad != NULL) == c->has_ga && (b->grad != NULL) == c->has_gb, "%s: which grads", what);
        if (a->grad)
            assert_exact(a->grad->data, c->a_dtype, 6, c->ga_f, c->ga_i, "ga");
        if (b->grad)
            assert_exact(b->grad->data, c->b_dtype, 3, c->gb_f, c->gb_i, "gb");
        dz_scope_end();
    }
}
END_TEST

static dz_variable *rsub_op(dz_variable *x, double c) { return dz_rsub_scalar(c, x); }
static dz_variable *rdiv_op(dz_variable *x, double c) { return dz_rdiv_scalar(c, x); }

static scalar_fn scalar_named(const char *op)
{
    static const struct {
        const char *name;
        scalar_fn fn;
    } ops[] = {{"add_scalar", dz_add_scalar}, {"sub_scalar", dz_sub_scalar}, {"rsub_scalar", rsub_op},
               {"mul_scalar", dz_mul_scalar}, {"div_scalar", dz_div_scalar}, {"rdiv_scalar", rdiv_op},
               {"pow", dz_pow}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (strcmp(ops[k].name, op) == 0)
            return ops[k].fn;
    ck_abort_msg("no op %s", op);
    return NULL;
}

/* Every scalar op on every dtype with whole, fractional, huge and non-finite
 * scalars: NumPy's dtype and values, or a refusal where NumPy raises or makes
 * an object array. */
START_TEST(test_scalar_ops)
{
    tc_errors_off();
    size_t n = sizeof promotion_scalar / sizeof promotion_scalar[0];
    int refused = 0;
    for (size_t k = 0; k < n; k++) {
        const promotion_scalar_case *c = &promotion_scalar[k];
        char what[96];
        snprintf(what, sizeof what, "%s(%s, %.17g)", c->op, dz_dtype_name(c->x_dtype), c->c);
        dz_scope_begin();
        dz_variable *x = golden_var(c->x_dtype, 1, DZ_SHAPE(4), c->x_f, c->x_i);
        dz_clear_error();
        dz_variable *y = scalar_named(c->op)(x, c->c);
        if (c->refused) {
            ck_assert_msg(y == NULL && dz_last_error_code() != DZ_OK, "%s: NumPy refuses it", what);
            refused++;
        } else {
            ck_assert_msg(y != NULL, "%s: %s", what, dz_last_error());
            assert_exact(y->data, c->y_dtype, 4, c->y_f, c->y_i, what);
        }
        dz_scope_end();
    }
    ck_assert_int_gt(refused, 20);
    tc_errors_on();
}
END_TEST

/* x / c and its grad gy / c are divisions, bit for bit NumPy's, for divisors
 * whose reciprocal is inexact (x * (1 / c) differs for some of these). */
static void check_div_scalar(dz_dtype dtype, const double *x, const double *gy, const double (*y)[DIV_N],
                             const double (*gx)[DIV_N])
{
    size_t n = sizeof div_divisors / sizeof div_divisors[0];
    int reciprocal_differs = 0;
    for (size_t k = 0; k < n; k++) {
        dz_scope_begin();
        dz_variable *v = tc_var(dtype, 1, DZ_SHAPE(DIV_N), x);
        dz_variable *out = dz_div_scalar(v, div_divisors[k]);
        assert_float_exact(out->data, dtype, DIV_N, y[k], "x / c");
        dz_variable *recip = dz_mul_scalar(v, 1.0 / div_divisors[k]);
        for (int i = 0; i < DIV_N; i++)
            reciprocal_differs += dz_array_get(recip->data, i) != y[k][i];
        dz_variable_set_grad(out, tc_var(dtype, 1, DZ_SHAPE(DIV_N), gy));
        dz_variable_backward(out, false, false);
        assert_float_exact(v->grad->data, dtype, DIV_N, gx[k], "gy / c");
        dz_scope_end();
    }
    ck_assert_int_gt(reciprocal_differs, 0); /* the data can tell a division from a product */
}

START_TEST(test_div_scalar_exact)
{
    check_div_scalar(DZ_F32, div_x_f32, div_gy_f32, div_y_f32, div_gx_f32);
    check_div_scalar(DZ_F64, div_x_f64, div_gy_f64, div_y_f64, div_gx_f64);
}
END_TEST

/* np.mean divides the sum by the count. */
static void check_mean(dz_dtype dtype, const double *x, double all, const double *rows, const double *cols)
{
    dz_scope_begin();
    dz_variable *v = tc_var(dtype, 2, DZ_SHAPE(2, 3), x);
    assert_float_exact(dz_mean(v, 0, NULL, false)->data, dtype, 1, &all, "mean");
    assert_float_exact(dz_mean(v, 1, (const int[]){1}, false)->data, dtype, 2, rows, "mean(axis=1)");
    assert_float_exact(dz_mean(v, 1, (const int[]){0}, false)->data, dtype, 3, cols, "mean(axis=0)");
    dz_scope_end();
}

START_TEST(test_mean_divides)
{
    check_mean(DZ_F32, mean_x_f32, mean_all_f32, mean_rows_f32, mean_cols_f32);
    check_mean(DZ_F64, mean_x_f64, mean_all_f64, mean_rows_f64, mean_cols_f64);
    /* the data tell the division from a product by the reciprocal */
    ck_assert(mean_all_f64 != 49.0 * (1.0 / 6.0) || mean_rows_f64[0] != 25.0 * (1.0 / 3.0));
}
END_TEST

/* A DeZero program that keeps float64 data and float32 weights: y = x W + b
 * is float64, and the weights' grads come back in float32. Through dz_linear
 * and through dz_matmul + dz_add, with and without the fast backward. */
static void check_program(bool fused_linear, bool create_graph)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(4, 3), prog_x);
    dz_variable *W = tc_var(DZ_F32, 2, DZ_SHAPE(3, 2), prog_W);
    dz_variable *b = tc_var(DZ_F32, 1, DZ_SHAPE(2), prog_b);
    dz_variable *y = fused_linear ? dz_linear(x, W, b) : dz_add(dz_matmul(x, W), b);
    ck_assert_int_eq(y->data->dtype, DZ_F64);
    tc_assert_close(y->data, prog_y, 8, 1e-12);
    dz_variable *loss = dz_sum(dz_mul(y, y), 0, NULL, false);
    dz_variable_backward(loss, false, create_graph);
    ck_assert_int_eq(W->grad->data->dtype, DZ_F32);
    ck_assert_int_eq(b->grad->data->dtype, DZ_F32);
    ck_assert_int_eq(x->grad->data->dtype, DZ_F64);
    tc_assert_close(W->grad->data, prog_gW, 6, 1e-6);
    tc_assert_close(b->grad->data, prog_gb, 2, 1e-6);
    tc_assert_close(x->grad->data, prog_gx, 12, 1e-12);
    dz_variable_cleargrad(x);
    dz_variable_cleargrad(W);
    dz_variable_cleargrad(b);
    dz_scope_end();
}

/* The same through a float32 Linear layer (lazy, as DeZero's), its weights
 * set to the golden ones. */
static void check_layer(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_layer *l = dz_linear_layer_new(2, 0, false, DZ_F32, &rng);
    dz_scope_begin();
    dz_variable *x = dz_variable_constant(dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(4, 3), prog_x), NULL);
    ck_assert_int_eq(dz_layer_call(l, x)->data->dtype, DZ_F64); /* sizes the lazy W */
    dz_variable *W = dz_layer_param(l, "W"), *b = dz_layer_param(l, "b");
    ck_assert_int_eq(W->data->dtype, DZ_F32);
    dz_variable_set_data(W, dz_array_astype(tc_var(DZ_F64, 2, DZ_SHAPE(3, 2), prog_W)->data, DZ_F32));
    dz_variable_set_data(b, dz_array_astype(tc_var(DZ_F64, 1, DZ_SHAPE(2), prog_b)->data, DZ_F32));
    dz_variable *y = dz_layer_call(l, x);
    tc_assert_close(y->data, prog_y, 8, 1e-12);
    dz_layer_cleargrads(l);
    dz_variable_backward(dz_sum(dz_mul(y, y), 0, NULL, false), false, false);
    ck_assert_int_eq(W->grad->data->dtype, DZ_F32);
    tc_assert_close(W->grad->data, prog_gW, 6, 1e-6);
    tc_assert_close(b->grad->data, prog_gb, 2, 1e-6);
    ck_assert_ptr_null(x->grad);
    dz_scope_end();
    dz_layer_free(l);
}

START_TEST(test_float64_data_float32_weights)
{
    for (int k = 0; k < 4; k++)
        check_program(k & 1, k & 2);
    check_layer();
}
END_TEST

/* Gradient checks in float64 through promoting ops: an int32 constant and a
 * float64 input (the int gets no grad); and double backward through them. */
static dz_variable *int_mix(dz_variable *const *in, void *ctx)
{
    dz_variable *k = ctx; /* int32 */
    return dz_div(dz_mul(in[0], k), dz_add_scalar(dz_mul(in[0], in[0]), 1.5));
}

START_TEST(test_gradient_through_promotion)
{
    dz_scope_begin();
    dz_variable *k = int_var(DZ_I32, 1, DZ_SHAPE(3), (const int64_t[]){3, -2, 5});
    dz_variable *x = tc_randn(3, 2, DZ_SHAPE(2, 3));
    tc_assert_gradient(int_mix, k, 1, &x);
    tc_assert_double_gradient(int_mix, k, 1, &x);
    dz_scope_end();
}
END_TEST

/* Double backward across a float32 -> float64 cast: y = a32 * b64^2 with
 * create_graph; d(gb)/da, through the cast node of a, is 2 b, in float32. */
START_TEST(test_double_backward_through_cast)
{
    dz_scope_begin();
    dz_variable *a = tc_var(DZ_F32, 1, DZ_SHAPE(2), (const double[]){1.5, -2.0});
    dz_variable *b = tc_var(DZ_F64, 1, DZ_SHAPE(2), (const double[]){0.5, 3.0});
    dz_variable *y = dz_sum(dz_mul(a, dz_square(b)), 0, NULL, false);
    dz_variable_backward(y, false, true);
    dz_variable *gb = dz_scope_keep(b->grad); /* 2 a b, float64 */
    ck_assert_int_eq(gb->data->dtype, DZ_F64);
    tc_assert_values(gb->data, (const double[]){1.5, -12.0}, 2, 0);
    dz_variable_cleargrad(a);
    dz_variable_cleargrad(b);
    dz_variable_backward(dz_sum(gb, 0, NULL, false), false, false);
    ck_assert_int_eq(a->grad->data->dtype, DZ_F32);
    tc_assert_values(a->grad->data, (const double[]){1.0, 6.0}, 2, 0);
    dz_variable_release(gb);
    dz_variable_cleargrad(a);
    dz_variable_cleargrad(b);
    dz_scope_end();
}
END_TEST

/* dz_astype: values, grads cast back between float dtypes and between
 * integer dtypes, none between the two kinds, and its refusals. */
START_TEST(test_astype)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 1, DZ_SHAPE(2), (const double[]){0.1, -2.5});
    dz_variable *y = dz_astype(x, DZ_F32);
    ck_assert_int_eq(y->data->dtype, DZ_F32);
    ck_assert(dz_array_get(y->data, 0) == (double)0.1f);
    dz_variable_set_grad(y, tc_var(DZ_F32, 1, DZ_SHAPE(2), (const double[]){0.25, 4.0}));
    dz_variable_backward(y, false, false);
    ck_assert_int_eq(x->grad->data->dtype, DZ_F64);
    tc_assert_values(x->grad->data, (const double[]){0.25, 4.0}, 2, 0);
    ck_assert_ptr_eq(dz_astype(x, DZ_F64), x);
    dz_variable *i = dz_astype(x, DZ_I32); /* truncates, as NumPy's astype */
    ck_assert_int_eq(i->data->dtype, DZ_I32);
    tc_assert_values(i->data, (const double[]){0, -2}, 2, 0);
    ck_assert(!i->requires_grad);
    dz_variable *w = dz_astype(dz_astype(i, DZ_I64), DZ_F64);
    ck_assert(!w->requires_grad);
    tc_errors_off();
    ASSERT_ERROR(dz_astype(x, DZ_U8), DZ_ERR_DTYPE, "target dtype uint8");
    ASSERT_ERROR(dz_astype(tc_var(DZ_F64, 1, DZ_SHAPE(1), (const double[]){NAN}), DZ_I64), DZ_ERR_VALUE,
                 "dz_astype");
    tc_errors_on();
    dz_scope_end();
}
END_TEST

/* Integers: exact wrapping powers, and grads of integer ops in their dtype. */
START_TEST(test_integer_pow_and_grads)
{
    dz_scope_begin();
    dz_variable *x = int_var(DZ_I32, 1, DZ_SHAPE(3), (const int64_t[]){3, -2, 7});
    dz_variable *y = dz_pow(x, 25); /* NumPy: 1180052131, -33554432, 1578110407 (wrapped) */
    ck_assert_int_eq(y->data->dtype, DZ_I32);
    tc_assert_values(y->data, (const double[]){1180052131, -33554432, 1578110407}, 3, 0);
    dz_variable *z = dz_pow(x, 0);
    tc_assert_values(z->data, (const double[]){1, 1, 1}, 3, 0);
    dz_variable_backward(dz_sum(dz_add(dz_pow(x, 2), z), 0, NULL, false), false, false);
    ck_assert_int_eq(x->grad->data->dtype, DZ_I32);
    tc_assert_values(x->grad->data, (const double[]){6, -4, 14}, 3, 0);
    dz_variable *big = int_var(DZ_I64, 1, DZ_SHAPE(1), (const int64_t[]){7});
    tc_assert_values(dz_pow(big, 22)->data, (const double[]){3909821048582988049.0}, 1, 0);
    dz_scope_end();
}
END_TEST

static Suite *promotion_suite(void)
{
    Suite *s = suite_create("promotion");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_binary_pairs);
    tcase_add_test(tc, test_scalar_ops);
    tcase_add_test(tc, test_div_scalar_exact);
    tcase_add_test(tc, test_mean_divides);
    tcase_add_test(tc, test_float64_data_float32_weights);
    tcase_add_test(tc, test_gradient_through_promotion);
    tcase_add_test(tc, test_double_backward_through_cast);
    tcase_add_test(tc, test_astype);
    tcase_add_test(tc, test_integer_pow_and_grads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(promotion_suite()); }

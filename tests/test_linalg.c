/* Linear algebra: matmul (batched, broadcast leading dims), linear, one_hot —
 * gradient checks in f64, double backward, PyTorch golden values in f32, the
 * one-hot-equals-row-lookup experiment, and bad shapes. */
#include <math.h>
#include <string.h>

#include "fixtures/nn_golden.h"
#include "test_nn_common.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static dz_variable *call_matmul(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_matmul(in[0], in[1]);
}

/* Inputs ordered (b, a), so double backward differentiates grad b. */
static dz_variable *call_matmul_b_first(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_matmul(in[1], in[0]);
}

/* ctx non-NULL: with the bias in[2]. */
static dz_variable *call_linear(dz_variable *const *in, void *ctx)
{
    return dz_linear(in[0], in[1], ctx ? in[2] : NULL);
}

/* Inputs ordered (W, x, b), so double backward differentiates grad W. */
static dz_variable *call_linear_w_first(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_linear(in[1], in[0], in[2]);
}

/* Pairs of shapes whose leading dims broadcast, size-1 axes included. */
static const struct {
    int na, nb;
    int64_t a[4], b[4];
} matmul_shapes[] = {
    {2, 2, {3, 4}, {4, 2}},
    {3, 2, {2, 3, 4}, {4, 5}},       /* b shared: the batch folds into rows */
    {2, 3, {4, 3}, {2, 3, 5}},       /* a shared */
    {3, 3, {2, 3, 4}, {2, 4, 5}},    /* same batch */
    {4, 3, {2, 1, 3, 4}, {3, 4, 2}}, /* both broadcast */
    {3, 3, {1, 3, 4}, {2, 4, 1}},    /* size-1 batch and N = 1 */
    {3, 4, {3, 1, 2}, {2, 1, 2, 3}}, /* K = 1 */
};

START_TEST(test_matmul_gradients)
{
    for (size_t i = 0; i < sizeof matmul_shapes / sizeof matmul_shapes[0]; i++) {
        dz_scope_begin();
        dz_variable *in[2] = {tc_randn(100 + i, matmul_shapes[i].na, matmul_shapes[i].a),
                              tc_randn(200 + i, matmul_shapes[i].nb, matmul_shapes[i].b)};
        tc_assert_gradient(call_matmul, NULL, 2, in);
        tc_assert_double_gradient(call_matmul, NULL, 2, in);
        tn_assert_recorded_matches_raw(call_matmul, NULL, 2, in);
        dz_variable *b_first[2] = {in[1], in[0]};
        tc_assert_double_gradient(call_matmul_b_first, NULL, 2, b_first);
        dz_scope_end();
    }
}
END_TEST

/* Every output element against a direct loop, broadcast leading dims included. */
START_TEST(test_matmul_broadcast_values)
{
    dz_scope_begin();
    dz_variable *a = tc_randn(1, 4, DZ_SHAPE(2, 1, 3, 4)), *b = tc_randn(2, 3, DZ_SHAPE(3, 4, 2));
    dz_variable *y = dz_matmul(a, b);
    ck_assert_int_eq(y->data->ndim, 4);
    ck_assert(dz_shape_equal(4, y->data->shape, 4, DZ_SHAPE(2, 3, 3, 2)));
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 3; q++)
            for (int m = 0; m < 3; m++)
                for (int n = 0; n < 2; n++) {
                    double s = 0;
                    for (int k = 0; k < 4; k++)
                        s += tc_at(a, (p * 3 + m) * 4 + k) * tc_at(b, (q * 4 + k) * 2 + n);
                    ck_assert_double_eq_tol(tc_at(y, ((p * 3 + q) * 3 + m) * 2 + n), s, 1e-12);
                }
    dz_scope_end();
}
END_TEST

START_TEST(test_linear_gradients)
{
    dz_scope_begin();
    dz_variable *in[3] = {tc_randn(1, 2, DZ_SHAPE(5, 4)), tc_randn(2, 2, DZ_SHAPE(4, 3)), tc_randn(3, 1, DZ_SHAPE(3))};
    dz_variable *w_first[3] = {in[1], in[0], in[2]};
    tc_assert_gradient(call_linear, &in, 3, in);
    tc_assert_double_gradient(call_linear, &in, 3, in);
    tn_assert_recorded_matches_raw(call_linear, &in, 3, in);
    tc_assert_double_gradient(call_linear_w_first, NULL, 3, w_first);
    tc_assert_gradient(call_linear, NULL, 2, in); /* no bias */
    tc_assert_double_gradient(call_linear, NULL, 2, in);
    tn_assert_recorded_matches_raw(call_linear, NULL, 2, in);
    dz_scope_end();
}
END_TEST

/* A linear layer equals matmul + add, and b = NULL gives no bias grad. */
START_TEST(test_linear_matches_matmul)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(7, 2, DZ_SHAPE(6, 3)), *W = tc_randn(8, 2, DZ_SHAPE(3, 2));
    dz_variable *b = tc_randn(9, 1, DZ_SHAPE(2));
    dz_variable *y = dz_linear(x, W, b), *r = dz_add(dz_matmul(x, W), b);
    for (int64_t i = 0; i < y->data->size; i++)
        ck_assert_double_eq_tol(tc_at(y, i), tc_at(r, i), 1e-12);
    x->requires_grad = false; /* data: no grad computed */
    dz_variable_backward(dz_sum(dz_linear(x, W, NULL), 0, NULL, false), false, false);
    ck_assert_ptr_null(x->grad);
    ck_assert_ptr_nonnull(W->grad);
    for (int i = 0; i < 3; i++) /* dW[i][j] = sum over rows of x[:, i] */
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int n = 0; n < 6; n++)
                s += tc_at(x, n * 3 + i);
            ck_assert_double_eq_tol(tc_grad_at(W, i * 2 + j), s, 1e-12);
        }
    dz_scope_end();
}
END_TEST

static void assert_close_f32(const dz_array *a, const double *expected, int64_t n)
{
    ck_assert_int_eq(a->size, n);
    for (int64_t i = 0; i < n; i++) {
        double got = dz_array_get(a, i), tol = 1e-6 * fmax(1.0, fabs(expected[i]));
        ck_assert_msg(fabs(got - expected[i]) <= tol, "element %lld: got %.9g, PyTorch %.9g", (long long)i, got,
                      expected[i]);
    }
}

START_TEST(test_matmul_golden)
{
    dz_scope_begin();
    dz_variable *a = tc_var(DZ_F32, 4, DZ_SHAPE(2, 1, 3, 4), golden_matmul_a);
    dz_variable *b = tc_var(DZ_F32, 3, DZ_SHAPE(3, 4, 5), golden_matmul_b);
    dz_variable *w = tc_var(DZ_F32, 4, DZ_SHAPE(2, 3, 3, 5), golden_matmul_w);
    dz_variable *y = dz_matmul(a, b);
    assert_close_f32(y->data, golden_matmul_y, N_OF(golden_matmul_y));
    dz_variable_backward(dz_sum(dz_mul(y, w), 0, NULL, false), false, false);
    assert_close_f32(a->grad->data, golden_matmul_ga, N_OF(golden_matmul_ga));
    assert_close_f32(b->grad->data, golden_matmul_gb, N_OF(golden_matmul_gb));
    dz_scope_end();
}
END_TEST

START_TEST(test_linear_golden)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(5, 4), golden_linear_x);
    dz_variable *W = tc_var(DZ_F32, 2, DZ_SHAPE(4, 3), golden_linear_W);
    dz_variable *b = tc_var(DZ_F32, 1, DZ_SHAPE(3), golden_linear_b);
    dz_variable *y = dz_linear(x, W, b);
    assert_close_f32(y->data, golden_linear_y, N_OF(golden_linear_y));
    dz_variable_set_grad(y, tc_var(DZ_F32, 2, DZ_SHAPE(5, 3), golden_linear_gy));
    dz_variable_backward(y, false, false);
    assert_close_f32(x->grad->data, golden_linear_gx, N_OF(golden_linear_gx));
    assert_close_f32(W->grad->data, golden_linear_gW, N_OF(golden_linear_gW));
    assert_close_f32(b->grad->data, golden_linear_gb, N_OF(golden_linear_gb));
    dz_scope_end();
}
END_TEST

/* The PyTorch notebook's experiment: one_hot(idx, V) @ W picks rows W[idx],
 * and W's grad through it is np.add.at(zeros, idx, gy): repeated ids add up. */
START_TEST(test_one_hot_lookup)
{
    enum { V = 5, D = 3 };
    const int64_t idx[8] = {1, 4, 1, 0, 3, 3, 3, 2}; /* (2, 4), with duplicates */
    dz_scope_begin();
    dz_variable *ids = dz_variable_new(dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(2, 4), idx), NULL);
    dz_variable *W = tc_randn(11, 2, DZ_SHAPE(V, D));
    dz_variable *oh = dz_one_hot(ids, V, DZ_F64);
    ck_assert(dz_shape_equal(3, oh->data->shape, 3, DZ_SHAPE(2, 4, V)));
    ck_assert(!oh->requires_grad);
    dz_variable *y = dz_matmul(oh, W); /* (2, 4, V) @ (V, D) -> (2, 4, D) */
    for (int i = 0; i < 8; i++)
        for (int d = 0; d < D; d++)
            ck_assert_double_eq(tc_at(y, i * D + d), tc_at(W, idx[i] * D + d));
    dz_variable *gy = tc_randn(12, 3, DZ_SHAPE(2, 4, D));
    dz_variable_set_grad(y, gy);
    dz_variable_backward(y, false, false);
    double expected[V * D] = {0};
    for (int i = 0; i < 8; i++)
        for (int d = 0; d < D; d++)
            expected[idx[i] * D + d] += tc_at(gy, i * D + d);
    tc_assert_values(W->grad->data, expected, V * D, 1e-12);
    ck_assert_ptr_null(oh->grad);
    dz_variable *oh32 = dz_one_hot(dz_variable_new(dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(2), (int32_t[]){2, 0}),
                                                   NULL), 3, DZ_F32);
    tc_assert_values(oh32->data, (double[]){0, 0, 1, 1, 0, 0}, 6, 0);
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_inputs)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *a = tc_randn(1, 2, DZ_SHAPE(2, 3)), *b = tc_randn(2, 2, DZ_SHAPE(4, 5));
    ASSERT_ERROR(dz_matmul(a, b), DZ_ERR_SHAPE,
                 "dz_matmul: shapes (2, 3) and (4, 5) are not aligned: 3 (dim 1) != 4 (dim 0)");
    ASSERT_ERROR(dz_matmul(tc_randn(3, 3, DZ_SHAPE(2, 2, 3)), tc_randn(4, 3, DZ_SHAPE(3, 3, 4))), DZ_ERR_SHAPE,
                 "batch dims of (2, 2, 3) and (3, 3, 4) do not broadcast");
    ASSERT_ERROR(dz_matmul(tc_randn(5, 1, DZ_SHAPE(3)), a), DZ_ERR_SHAPE, "1-D and 0-d operands are not supported");
    dz_variable *i32 = dz_variable_new(dz_array_zeros(DZ_I32, 2, DZ_SHAPE(3, 3)), NULL);
    ASSERT_ERROR(dz_matmul(i32, i32), DZ_ERR_DTYPE, "dz_matmul: input of dtype int32");
    dz_variable *W = tc_randn(6, 2, DZ_SHAPE(4, 2));
    ASSERT_ERROR(dz_linear(a, W, NULL), DZ_ERR_SHAPE,
                 "dz_linear: x (2, 3) and W (4, 2) do not fit: x has 3 features (dim 1) but W has 4 rows (dim 0)");
    ASSERT_ERROR(dz_linear(tc_randn(9, 2, DZ_SHAPE(2, 4)), W, tc_randn(7, 1, DZ_SHAPE(3))), DZ_ERR_SHAPE,
                 "dz_linear: b has shape (3,) but W (4, 2) needs a bias of shape (2,)");
    ASSERT_ERROR(dz_linear(tc_randn(8, 1, DZ_SHAPE(4)), W, NULL), DZ_ERR_SHAPE, "must both be 2-D");
    dz_variable *ids = dz_variable_new(dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (int64_t[]){0, 7, 1}), NULL);
    ASSERT_ERROR(dz_one_hot(ids, 5, DZ_F32), DZ_ERR_INDEX,
                 "dz_one_hot: label 7 at position 1 is out of range for 5 classes");
    ASSERT_ERROR(dz_one_hot(a, 5, DZ_F32), DZ_ERR_DTYPE, "labels of dtype float64 are not supported");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *linalg_suite(void)
{
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul_gradients);
    tcase_add_test(tc, test_matmul_broadcast_values);
    tcase_add_test(tc, test_linear_gradients);
    tcase_add_test(tc, test_linear_matches_matmul);
    tcase_add_test(tc, test_matmul_golden);
    tcase_add_test(tc, test_linear_golden);
    tcase_add_test(tc, test_one_hot_lookup);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(linalg_suite()); }

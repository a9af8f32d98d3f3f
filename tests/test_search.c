/* argmax, argmin and topk: values, indices and grads against NumPy and
 * PyTorch (ties, NaN, infinities, keepdims, the flattened array, int64),
 * gradient and double-backward checks of topk, and bad arguments. */
#include "test_ops_common.h"

static const char *const search_ops[] = {"argmax", "argmin", "argmax_i64", "argmin_i64", "topk"};
#define NOPS ((int)(sizeof search_ops / sizeof search_ops[0]))

START_TEST(test_golden_f64) { ck_assert_int_eq(og_check_golden(search_ops, NOPS, DZ_F64, 0), 21); }
END_TEST

START_TEST(test_golden_f32) { ck_assert_int_eq(og_check_golden(search_ops, NOPS, DZ_F32, 1e-6), 19); }
END_TEST

START_TEST(test_results_need_no_grad)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(3, 4)), *values, *indices;
    dz_variable *i = dz_argmax(x, 1, false);
    ck_assert_int_eq(i->data->dtype, DZ_I64);
    ck_assert(!i->requires_grad && i->creator == NULL);
    ck_assert_int_eq(dz_topk(x, 2, 0, true, &values, &indices), DZ_OK);
    ck_assert_int_eq(indices->data->dtype, DZ_I64);
    ck_assert(!indices->requires_grad && values->requires_grad);
    dz_variable *s = dz_argmin(tc_var(DZ_F32, 0, NULL, (const double[]){4}), DZ_AXIS_NONE, false);
    ck_assert_int_eq(s->data->ndim, 0);
    ck_assert_int_eq((int)dz_array_get(s->data, 0), 0);
    dz_scope_end();
}
END_TEST

/* topk without ties (random normals): the grad goes back to the picked positions. */
typedef struct {
    int64_t k;
    int axis;
    bool largest;
} topk_ctx;

static dz_variable *topk_fn(dz_variable *const *in, void *vctx)
{
    const topk_ctx *c = vctx;
    dz_variable *values = NULL, *indices = NULL;
    dz_topk(dz_mul(in[0], in[0]), c->k, c->axis, c->largest, &values, &indices);
    return values;
}

START_TEST(test_topk_gradients)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(7, 3, DZ_SHAPE(3, 5, 2));
    topk_ctx cases[] = {{3, 1, true}, {2, -1, false}, {3, 0, false}, {5, 1, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tc_assert_gradient(topk_fn, &cases[i], 1, &x);
        tc_assert_double_gradient(topk_fn, &cases[i], 1, &x);
    }
    dz_scope_end();
}
END_TEST

/* argmax agrees with topk(k = 1) and with the max it points at. */
START_TEST(test_argmax_points_at_max)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(11, 2, DZ_SHAPE(6, 40)), *values, *indices;
    dz_variable *i = dz_argmax(x, 1, true);
    ck_assert_int_eq(dz_topk(x, 1, 1, true, &values, &indices), DZ_OK);
    dz_variable *m = dz_max(x, 1, (const int[]){1}, true);
    for (int r = 0; r < 6; r++) {
        ck_assert(dz_array_get(i->data, r) == dz_array_get(indices->data, r));
        ck_assert(dz_array_get(values->data, r) == dz_array_get(m->data, r));
        ck_assert(dz_array_get(x->data, r * 40 + (int64_t)dz_array_get(i->data, r)) == dz_array_get(m->data, r));
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_arguments)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(2, 3)), *values = x, *indices = x;
    ASSERT_ERROR(dz_argmax(x, 2, false), DZ_ERR_VALUE,
                 "dz_argmax: axis 2 is out of range for an input of shape (2, 3); axes run from -2 to 1");
    dz_variable *empty_axis = dz_variable_new(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(2, 0)), NULL);
    dz_variable *empty = dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(0)), NULL);
    ASSERT_ERROR(dz_argmin(empty_axis, 1, false), DZ_ERR_VALUE, "dz_argmin: the searched axis of shape (2, 0) is empty");
    ASSERT_ERROR(dz_argmax(empty, DZ_AXIS_NONE, false), DZ_ERR_VALUE, "the searched array of shape (0,) is empty");
    ASSERT_FAILS(dz_topk(x, 4, 1, true, &values, &indices) == DZ_ERR_VALUE, DZ_ERR_VALUE,
                 "dz_topk: k 4 is out of range for axis 1 of length 3 in shape (2, 3); k must be in [0, 3]");
    ck_assert(values == NULL && indices == NULL);
    ASSERT_FAILS(dz_topk(x, -1, 0, true, &values, &indices) == DZ_ERR_VALUE, DZ_ERR_VALUE, "k -1 is out of range");
    ASSERT_FAILS(dz_topk(x, 1, -3, true, &values, &indices) == DZ_ERR_VALUE, DZ_ERR_VALUE,
                 "axis -3 is out of range");
    ASSERT_FAILS(dz_topk(tc_var(DZ_I64, 1, DZ_SHAPE(3), (const double[]){1, 2, 3}), 1, 0, true, &values,
                         &indices) == DZ_ERR_DTYPE, DZ_ERR_DTYPE, "dz_topk: input of dtype int64");
    ASSERT_FAILS(dz_topk(x, 1, 0, true, NULL, &indices) == DZ_ERR_NULL, DZ_ERR_NULL, "the values output pointer");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_f64);
    tcase_add_test(tc, test_golden_f32);
    tcase_add_test(tc, test_results_need_no_grad);
    tcase_add_test(tc, test_topk_gradients);
    tcase_add_test(tc, test_argmax_points_at_max);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(search_suite()); }

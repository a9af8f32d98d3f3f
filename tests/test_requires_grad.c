/* requires_grad: constants record no graph, results of Functions require a
 * grad when some input does, and backward computes no grad that leads only to
 * constants. */
#include "test_common.h"

static const int64_t shape23[] = {2, 3}, shape32[] = {3, 2};
static const double x_values[] = {1, 2, 3, 4, 5, 6}, w_values[] = {1, -1, 2, 0.5, -3, 4};

static dz_variable *constant(int ndim, const int64_t *shape, const double *values)
{
    dz_variable *v = tc_var(DZ_F64, ndim, shape, values);
    v->requires_grad = false;
    return v;
}

START_TEST(test_variable_new_keeps_dezero_default)
{
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), "x");
    dz_variable *c = dz_variable_constant(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), "c");
    ck_assert(x->requires_grad);
    ck_assert(!c->requires_grad);
    ck_assert_str_eq(c->name, "c");
    dz_scope_end();
}
END_TEST

START_TEST(test_constants_record_nothing)
{
    dz_scope_begin();
    dz_variable *a = constant(2, shape23, x_values);
    dz_variable *y = dz_exp(dz_mul(a, a));
    ck_assert_ptr_null(y->creator);
    ck_assert(!y->requires_grad);
    dz_variable_backward(y, false, false); /* a leaf now: only seeds its own grad */
    ck_assert_ptr_null(a->grad);
    dz_scope_end();
}
END_TEST

START_TEST(test_result_requires_grad_when_an_input_does)
{
    dz_scope_begin();
    dz_variable *c = constant(2, shape23, x_values);
    dz_variable *w = tc_var(DZ_F64, 2, shape23, w_values);
    dz_variable *y = dz_add(dz_mul(c, w), c);
    ck_assert(y->requires_grad);
    ck_assert_ptr_nonnull(y->creator);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    ck_assert_ptr_null(c->grad);
    for (int i = 0; i < 6; i++) /* d sum(c*w + c) / dw = c */
        ck_assert_double_eq(tc_grad_at(w, i), x_values[i]);
    dz_scope_end();
}
END_TEST

/* A Function that records, at backward time, which inputs need a grad. */
static bool seen_needs[2];
static void probe_backward(dz_function *f, dz_variable *const *gys, dz_variable **gxs)
{
    for (int i = 0; i < 2; i++) {
        seen_needs[i] = f->inputs[i]->requires_grad;
        if (seen_needs[i])
            gxs[i] = dz_variable_new(dz_array_copy(gys[0]->data), NULL);
    }
}
static const dz_function_ops probe_ops = {"Probe", probe_backward, NULL, NULL, NULL};

START_TEST(test_backward_sees_which_inputs_need_grads)
{
    dz_scope_begin();
    dz_variable *c = constant(2, shape23, x_values);
    dz_variable *w = tc_var(DZ_F64, 2, shape23, w_values);
    dz_variable *in[2] = {c, w};
    dz_variable *y = dz_function_apply1(&probe_ops, 2, in, dz_array_copy(w->data), 0, NULL);
    seen_needs[0] = seen_needs[1] = true;
    dz_variable_backward(y, false, false);
    ck_assert(!seen_needs[0]);
    ck_assert(seen_needs[1]);
    ck_assert_ptr_null(c->grad);
    ck_assert_ptr_nonnull(w->grad);
    dz_scope_end();
}
END_TEST

/* A Linear on a constant batch: grads of W and b equal those with a batch
 * that requires a grad, and the batch gets none. */
START_TEST(test_linear_on_constant_batch)
{
    dz_scope_begin();
    dz_variable *grads[2][2];
    for (int k = 0; k < 2; k++) {
        dz_variable *x = k ? constant(2, shape23, x_values) : tc_var(DZ_F64, 2, shape23, x_values);
        dz_variable *w = tc_var(DZ_F64, 2, shape32, w_values);
        dz_variable *b = tc_var(DZ_F64, 1, DZ_SHAPE(2), (const double[]){0.5, -0.5});
        dz_variable *y = dz_linear(x, w, b);
        dz_variable_backward(dz_sum(dz_square(y), 0, NULL, false), false, false);
        ck_assert(k ? x->grad == NULL : x->grad != NULL);
        grads[k][0] = w->grad;
        grads[k][1] = b->grad;
    }
    for (int p = 0; p < 2; p++)
        for (int64_t i = 0; i < grads[0][p]->data->size; i++)
            ck_assert_double_eq(dz_array_get(grads[0][p]->data, i), dz_array_get(grads[1][p]->data, i));
    dz_scope_end();
}
END_TEST

START_TEST(test_frozen_parameter_gets_no_grad)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, shape23, x_values);
    dz_variable *w = tc_var(DZ_F64, 2, shape32, w_values);
    w->requires_grad = false;
    dz_variable *y = dz_matmul(x, w);
    ck_assert(y->requires_grad);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    ck_assert_ptr_null(w->grad);
    /* d sum(x W) / dx[i, j] = sum_k W[j, k] */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            ck_assert_double_eq(tc_grad_at(x, i * 3 + j), w_values[2 * j] + w_values[2 * j + 1]);
    dz_scope_end();
}
END_TEST

/* create_graph still gives second derivatives through constants. */
START_TEST(test_double_backward_through_constant)
{
    dz_scope_begin();
    dz_variable *x = dz_variable_scalar(DZ_F64, 3.0);
    dz_variable *c = dz_variable_constant(dz_array_scalar(DZ_F64, 2.0), NULL);
    dz_variable *y = dz_mul(c, dz_pow(x, 3)); /* 2 x^3 */
    dz_variable_backward(y, false, true);
    dz_variable *gx = dz_scope_keep(x->grad); /* 6 x^2 = 54 */
    ck_assert_double_eq(tc_at(gx, 0), 54.0);
    dz_variable_cleargrad(x);
    dz_variable_backward(gx, false, false); /* 12 x = 36 */
    ck_assert_double_eq(tc_grad_at(x, 0), 36.0);
    ck_assert_ptr_null(c->grad);
    dz_variable_release(gx);
    dz_variable_cleargrad(x);
    dz_scope_end();
}
END_TEST

static Suite *requires_grad_suite(void)
{
    Suite *s = suite_create("requires_grad");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_variable_new_keeps_dezero_default);
    tcase_add_test(tc, test_constants_record_nothing);
    tcase_add_test(tc, test_result_requires_grad_when_an_input_does);
    tcase_add_test(tc, test_backward_sees_which_inputs_need_grads);
    tcase_add_test(tc, test_linear_on_constant_batch);
    tcase_add_test(tc, test_frozen_parameter_gets_no_grad);
    tcase_add_test(tc, test_double_backward_through_constant);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(requires_grad_suite()); }

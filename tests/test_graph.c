/* Graph semantics: accumulation, reuse, generations, no-grad, retain_grad,
 * weak outputs, higher-order derivatives, deep chains, scopes. */
#include <math.h>
#include <stdlib.h>

#include "test_common.h"

static dz_variable *scalar(double v) { return dz_variable_scalar(DZ_F64, v); }

START_TEST(test_same_input_twice)
{
    dz_scope_begin();
    dz_variable *x = scalar(3.0);
    dz_variable *y = dz_add(x, x);
    dz_variable_backward(y, false, false);
    ck_assert_double_eq(tc_grad_at(x, 0), 2.0);
    dz_scope_end();
}
END_TEST

START_TEST(test_reused_non_leaf)
{
    dz_scope_begin();
    dz_variable *x = scalar(3.0);
    dz_variable *a = dz_add(x, x);
    dz_variable *y = dz_add(dz_add(a, a), dz_add(a, a)); /* 8x */
    dz_variable_backward(y, false, false);
    ck_assert_double_eq(tc_at(y, 0), 24.0);
    ck_assert_double_eq(tc_grad_at(x, 0), 8.0);
    /* DeZero step 16: a = x^2, y = a^2 + a^2 -> dy/dx = 8x^3 = 64 at x = 2 */
    dz_variable *x2 = scalar(2.0);
    dz_variable *a2 = dz_square(x2);
    dz_variable *y2 = dz_add(dz_square(a2), dz_square(a2));
    dz_variable_backward(y2, false, false);
    ck_assert_double_eq(tc_at(y2, 0), 32.0);
    ck_assert_double_eq(tc_grad_at(x2, 0), 64.0);
    dz_scope_end();
}
END_TEST

START_TEST(test_repeated_backward_accumulates)
{
    dz_scope_begin();
    dz_variable *x = scalar(3.0);
    dz_variable *y = dz_add(x, x);
    dz_variable_backward(y, false, false);
    y = dz_add(x, x);
    dz_variable_backward(y, false, false);
    ck_assert_double_eq(tc_grad_at(x, 0), 4.0);
    dz_variable_cleargrad(x);
    ck_assert_ptr_null(x->grad);
    y = dz_add(dz_add(x, x), x);
    dz_variable_backward(y, false, false);
    ck_assert_double_eq(tc_grad_at(x, 0), 3.0);
    dz_scope_end();
}
END_TEST

START_TEST(test_leaf_backward_sets_ones)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 1, DZ_SHAPE(3), (double[]){1, 2, 3});
    ck_assert_int_eq(dz_variable_backward(x, false, false), DZ_OK);
    double ones[] = {1, 1, 1};
    tc_assert_values(x->grad->data, ones, 3, 0);
    ck_assert_int_eq(x->grad->data->dtype, DZ_F32);
    dz_scope_end();
}
END_TEST

START_TEST(test_no_grad_records_nothing)
{
    dz_scope_begin();
    dz_variable *x = scalar(2.0);
    dz_variable *y = NULL;
    DZ_NO_GRAD { y = dz_square(x); }
    ck_assert(dz_enable_backprop());
    ck_assert_ptr_null(y->creator);
    ck_assert_int_eq(y->generation, 0);
    ck_assert_double_eq(tc_at(y, 0), 4.0);
    dz_variable *z = dz_square(x);
    ck_assert_ptr_nonnull(z->creator);
    ck_assert_int_eq(z->generation, 1);
    dz_scope_end();
}
END_TEST

START_TEST(test_generations)
{
    dz_scope_begin();
    dz_variable *x = scalar(2.0);
    dz_variable *a = dz_square(x);
    dz_variable *b = dz_exp(a);
    dz_variable *y = dz_add(b, x);
    ck_assert_int_eq(a->generation, 1);
    ck_assert_int_eq(b->generation, 2);
    ck_assert_int_eq(y->generation, 3);
    ck_assert_int_eq(y->creator->generation, 2);
    dz_scope_end();
}
END_TEST

START_TEST(test_retain_grad)
{
    dz_scope_begin();
    dz_variable *x0 = scalar(2.0), *x1 = scalar(3.0);
    dz_variable *t = dz_add(x0, x1);
    dz_variable *y = dz_add(x0, t);
    dz_variable_backward(y, false, false);
    ck_assert_ptr_null(y->grad);
    ck_assert_ptr_null(t->grad);
    ck_assert_double_eq(tc_grad_at(x0, 0), 2.0);
    ck_assert_double_eq(tc_grad_at(x1, 0), 1.0);
    dz_variable_cleargrad(x0);
    dz_variable_cleargrad(x1);
    t = dz_add(x0, x1);
    y = dz_add(x0, t);
    dz_variable_backward(y, true, false);
    ck_assert_double_eq(tc_grad_at(y, 0), 1.0);
    ck_assert_double_eq(tc_grad_at(t, 0), 1.0);
    dz_scope_end();
}
END_TEST

/* A user-defined Function with two outputs: (2x, 3x). */
static void two_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    (void)f;
    dz_variable *g = NULL;
    if (gy[0])
        g = dz_mul_scalar(gy[0], 2.0);
    if (gy[1])
        g = g ? dz_add(g, dz_mul_scalar(gy[1], 3.0)) : dz_mul_scalar(gy[1], 3.0);
    gx[0] = g;
}
static const dz_function_ops two_ops = {"two_outputs", two_backward, NULL, NULL, NULL};

START_TEST(test_dying_output_clears_weak_slot)
{
    dz_variable *x = scalar(2.0); /* no scope: we own all of these */
    dz_array *outs[2] = {dz_array_full(DZ_F64, 0, NULL, 4.0), dz_array_full(DZ_F64, 0, NULL, 6.0)};
    dz_variable *ys[2];
    dz_function_apply(&two_ops, 1, &x, 2, outs, ys, 0, NULL);
    dz_function *f = ys[0]->creator;
    ck_assert_ptr_eq(f, ys[1]->creator);
    ck_assert_int_eq(f->refcount, 2);
    ck_assert_int_eq(x->refcount, 2);
    dz_variable_release(ys[0]); /* the first output dies; f lives on through ys[1] */
    ck_assert_ptr_null(f->outputs[0]);
    ck_assert_ptr_eq(f->outputs[1], ys[1]);
    ck_assert_int_eq(f->refcount, 1);
    ck_assert_int_eq(dz_variable_backward(ys[1], false, false), DZ_OK);
    ck_assert_double_eq(tc_grad_at(x, 0), 3.0);
    dz_variable_release(ys[1]); /* now f dies and drops x */
    ck_assert_int_eq(x->refcount, 1);
    dz_variable_release(x);
}
END_TEST

START_TEST(test_unchain_detaches)
{
    dz_scope_begin();
    dz_variable *x = scalar(1.5);
    dz_variable *y = dz_tanh(x);
    ck_assert_ptr_eq(y->creator->outputs[0], y);
    dz_variable_unchain(y);
    ck_assert_ptr_null(y->creator);
    ck_assert_int_eq(x->refcount, 1); /* the Function that held x is gone */
    dz_variable_backward(y, false, false);
    ck_assert_ptr_null(x->grad);
    dz_scope_end();
}
END_TEST

START_TEST(test_unchain_backward)
{
    dz_scope_begin();
    dz_variable *x = scalar(0.5);
    dz_variable *a = dz_sin(x);
    dz_variable *b = dz_exp(a);
    dz_variable *y = dz_mul_scalar(b, 2.0);
    dz_variable_unchain_backward(y);
    ck_assert_ptr_nonnull(y->creator);
    ck_assert_ptr_null(b->creator);
    ck_assert_ptr_null(a->creator);
    dz_variable_backward(y, true, false);
    ck_assert_double_eq(tc_grad_at(b, 0), 2.0);
    ck_assert_ptr_null(x->grad);
    dz_scope_end();
}
END_TEST

/* DeZero step 33: Newton's method on y = x^4 - 2x^2 from x = 2 converges to 1. */
START_TEST(test_newton_double_backward)
{
    dz_scope_begin();
    dz_variable *x = scalar(2.0);
    const double expected[] = {2.0, 1.4545454545454546, 1.1510467893775467, 1.0253259289766978,
                               1.0009084519430513, 1.0000012353089454, 1.000000000002289, 1.0};
    for (int i = 0; i < 7; i++) {
        ck_assert_msg(fabs(tc_at(x, 0) - expected[i]) < 1e-12, "step %d: %.17g", i, tc_at(x, 0));
        dz_scope_begin();
        dz_variable *y = dz_sub(dz_pow(x, 4), dz_mul_scalar(dz_pow(x, 2), 2.0));
        dz_variable_cleargrad(x);
        dz_variable_backward(y, false, true);
        dz_variable *gx = dz_scope_keep(x->grad);
        dz_variable_cleargrad(x);
        dz_variable_backward(gx, false, false);
        double gx2 = tc_grad_at(x, 0);
        dz_array_set(x->data, 0, tc_at(x, 0) - tc_at(gx, 0) / gx2);
        dz_variable_release(gx);
        dz_scope_end();
    }
    ck_assert_msg(fabs(tc_at(x, 0) - 1.0) < 1e-12, "x = %.17g", tc_at(x, 0));
    dz_scope_end();
}
END_TEST

/* n-th derivative of f at x by repeated create_graph backward. */
static double nth_derivative(dz_variable *(*f)(dz_variable *), double at, int n)
{
    dz_scope_begin();
    dz_variable *x = scalar(at);
    dz_variable *y = f(x);
    for (int i = 0; i < n; i++) {
        dz_variable_cleargrad(x);
        dz_variable_backward(y, false, true);
        y = dz_autorelease(dz_variable_retain(x->grad)); /* outlives cleargrad */
    }
    double v = tc_at(y, 0);
    dz_variable_cleargrad(x); /* x's grad graph refers back to x: break the cycle */
    dz_scope_end();
    return v;
}

START_TEST(test_sin_tanh_higher_order)
{
    double x = 1.0, t = tanh(x);
    ck_assert(fabs(nth_derivative(dz_sin, x, 1) - cos(x)) < 1e-12);
    ck_assert(fabs(nth_derivative(dz_sin, x, 2) + sin(x)) < 1e-12);
    ck_assert(fabs(nth_derivative(dz_sin, x, 3) + cos(x)) < 1e-12);
    ck_assert(fabs(nth_derivative(dz_tanh, x, 1) - (1 - t * t)) < 1e-12);
    ck_assert(fabs(nth_derivative(dz_tanh, x, 2) - (-2 * t * (1 - t * t))) < 1e-12);
    ck_assert(fabs(nth_derivative(dz_tanh, x, 3) - (-2 * (1 - t * t) * (1 - 3 * t * t))) < 1e-12);
}
END_TEST

START_TEST(test_million_op_chain)
{
    dz_variable *x = scalar(0.0);
    dz_variable *y = dz_variable_retain(x);
    for (int i = 0; i < 1000000; i++) {
        dz_variable *next = dz_add_scalar(y, 1.0);
        dz_variable_release(y);
        y = next;
    }
    ck_assert_double_eq(tc_at(y, 0), 1000000.0);
    ck_assert_int_eq(y->generation, 1000000);
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
    ck_assert_double_eq(tc_grad_at(x, 0), 1.0);
    dz_variable_release(y); /* frees a million Functions iteratively */
    ck_assert_int_eq(x->refcount, 1);
    dz_variable_release(x);
}
END_TEST

START_TEST(test_scope_releases_intermediates)
{
    dz_variable *x = scalar(1.0); /* owned by us */
    dz_scope_begin();
    dz_variable *y = x;
    for (int i = 0; i < 100; i++)
        y = dz_mul_scalar(dz_add_scalar(y, 1.0), 1.0);
    dz_variable *kept = dz_scope_keep(y);
    dz_scope_end();
    ck_assert_int_eq(kept->refcount, 1);
    ck_assert_double_eq(tc_at(kept, 0), 101.0);
    ck_assert_int_eq(x->refcount, 2); /* ours + the first Function's input */
    dz_variable_release(kept);
    ck_assert_int_eq(x->refcount, 1);
    dz_variable_release(x);
}
END_TEST

START_TEST(test_config_train_mode)
{
    ck_assert(dz_is_train());
    DZ_TEST_MODE { ck_assert(!dz_is_train()); }
    ck_assert(dz_is_train());
}
END_TEST

START_TEST(test_print_variable)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    char *s = dz_variable_format(x);
    ck_assert_str_eq(s, "variable([[1. 2.]\n          [3. 4.]])");
    free(s);
    dz_scope_end();
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_same_input_twice);
    tcase_add_test(tc, test_reused_non_leaf);
    tcase_add_test(tc, test_repeated_backward_accumulates);
    tcase_add_test(tc, test_leaf_backward_sets_ones);
    tcase_add_test(tc, test_no_grad_records_nothing);
    tcase_add_test(tc, test_generations);
    tcase_add_test(tc, test_retain_grad);
    tcase_add_test(tc, test_dying_output_clears_weak_slot);
    tcase_add_test(tc, test_unchain_detaches);
    tcase_add_test(tc, test_unchain_backward);
    tcase_add_test(tc, test_newton_double_backward);
    tcase_add_test(tc, test_sin_tanh_higher_order);
    tcase_add_test(tc, test_million_op_chain);
    tcase_add_test(tc, test_scope_releases_intermediates);
    tcase_add_test(tc, test_config_train_mode);
    tcase_add_test(tc, test_print_variable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(graph_suite()); }

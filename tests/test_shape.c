/* Shape functions: reshape, transpose, sum, mean (values, gradients, double
 * backward, bad axes). */
#include <string.h>

#include "test_common.h"

static dz_variable *reshape_3x8(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_reshape(in[0], 2, DZ_SHAPE(3, -1));
}

static dz_variable *transpose_201(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_transpose(in[0], 3, (const int[]){2, 0, 1});
}

static dz_variable *transpose_reverse(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_transpose(in[0], 0, NULL);
}

static dz_variable *sum_axis1_keep(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_sum(in[0], DZ_AXES(1), true);
}

static dz_variable *sum_axes_neg(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_sum(in[0], DZ_AXES(-1, 0), false);
}

static dz_variable *sum_all(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_sum(in[0], 0, NULL, false);
}

static dz_variable *mean_axis0(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_mean(in[0], DZ_AXES(0), false);
}

START_TEST(test_gradients)
{
    dz_checked_fn fns[] = {reshape_3x8, transpose_201, transpose_reverse, sum_axis1_keep,
                           sum_axes_neg, sum_all, mean_axis0};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        dz_scope_begin();
        dz_variable *x = tc_randn(5 + i, 3, DZ_SHAPE(2, 3, 4));
        tc_assert_gradient(fns[i], NULL, 1, &x);
        tc_assert_double_gradient(fns[i], NULL, 1, &x);
        dz_scope_end();
    }
}
END_TEST

START_TEST(test_values)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable *t = dz_transpose(x, 0, NULL);
    ck_assert_int_eq(t->data->shape[0], 3);
    tc_assert_values(t->data, (double[]){1, 4, 2, 5, 3, 6}, 6, 0);
    tc_assert_values(dz_sum(x, DZ_AXES(0), false)->data, (double[]){5, 7, 9}, 3, 0);
    dz_variable *k = dz_sum(x, DZ_AXES(1), true);
    ck_assert_int_eq(k->data->ndim, 2);
    ck_assert_int_eq(k->data->shape[1], 1);
    tc_assert_values(k->data, (double[]){6, 15}, 2, 0);
    dz_variable *s = dz_sum(x, 0, NULL, false);
    ck_assert_int_eq(s->data->ndim, 0);
    ck_assert_double_eq(tc_at(s, 0), 21);
    tc_assert_values(dz_mean(x, DZ_AXES(1), false)->data, (double[]){2, 5}, 2, 1e-6);
    dz_variable *r = dz_reshape(x, 1, DZ_SHAPE(6));
    ck_assert_ptr_eq(r->data->data, x->data->data); /* shares storage */
    dz_variable_backward(dz_sum(dz_mul(r, r), 0, NULL, false), false, false);
    tc_assert_values(x->grad->data, (double[]){2, 4, 6, 8, 10, 12}, 6, 0);
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_axes)
{
    dz_error_handler old = dz_set_error_handler_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(2, 3));
    ck_assert_ptr_null(dz_sum(x, DZ_AXES(2), false));
    ck_assert_msg(strstr(dz_last_error(), "dz_sum: axis 2 is out of range for an input of shape (2, 3)"), "%s",
                  dz_last_error());
    ck_assert_ptr_null(dz_sum(x, DZ_AXES(0, -2), false));
    ck_assert_msg(strstr(dz_last_error(), "repeated"), "%s", dz_last_error());
    ck_assert_ptr_null(dz_transpose(x, 1, (const int[]){0}));
    ck_assert_msg(strstr(dz_last_error(), "give all 2"), "%s", dz_last_error());
    ck_assert_ptr_null(dz_reshape(x, 2, DZ_SHAPE(4, 2)));
    ck_assert_msg(strstr(dz_last_error(), "cannot reshape array of size 6"), "%s", dz_last_error());
    dz_scope_end();
    dz_set_error_handler(old);
}
END_TEST

static Suite *shape_suite(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gradients);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_bad_axes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(shape_suite()); }

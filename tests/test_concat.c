/* Tensor functions: expand_dims, flatten, concat, stack and split (values,
 * gradients, double backward, size-0 pieces, bad arguments). */
#include <string.h>

#include "test_common.h"

static dz_variable *expand_middle(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_expand_dims(in[0], 1);
}

static dz_variable *expand_last(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_expand_dims(in[0], -1);
}

static dz_variable *flatten(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_flatten(in[0]);
}

/* concat of inputs along ctx's axis; the first input appears twice. */
static dz_variable *concat3(dz_variable *const *in, void *ctx)
{
    dz_variable *xs[3] = {in[0], in[1], in[0]};
    return dz_concat(3, xs, *(const int *)ctx);
}

static dz_variable *stack3(dz_variable *const *in, void *ctx)
{
    dz_variable *xs[3] = {in[1], in[0], in[1]};
    return dz_stack(3, xs, *(const int *)ctx);
}

/* split into (1, 0, 2) along axis 1, then use pieces 0 and 2 only: piece 1
 * (and its grad) is left out, so the backward sees NULL grads. */
static dz_variable *split_use_some(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    dz_variable *pieces[3];
    if (dz_split(in[0], 3, DZ_SHAPE(1, 0, 2), 1, pieces) != DZ_OK)
        return NULL;
    return dz_mul(dz_sum(pieces[0], 0, NULL, false), dz_sum(dz_mul(pieces[2], pieces[2]), DZ_AXES(1), false));
}

static dz_variable *split_middle(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    dz_variable *pieces[2];
    return dz_split(in[0], 2, NULL, -1, pieces) == DZ_OK ? pieces[1] : NULL;
}

START_TEST(test_gradients)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 3, DZ_SHAPE(2, 3, 4));
    dz_checked_fn unary[] = {expand_middle, expand_last, flatten, split_use_some, split_middle};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        tc_assert_gradient(unary[i], NULL, 1, &x);
        tc_assert_double_gradient(unary[i], NULL, 1, &x);
    }
    for (int axis = -3; axis < 3; axis++) {
        dz_variable *in[2] = {tc_randn(2, 3, DZ_SHAPE(2, 3, 4)), NULL};
        int64_t other[3] = {2, 3, 4};
        other[(axis + 3) % 3] = axis == 0 ? 0 : 1; /* a size-0 and size-1 piece */
        in[1] = tc_randn(3, 3, other);
        tc_assert_gradient(concat3, &axis, 2, in);
        tc_assert_double_gradient(concat3, &axis, 2, in);
    }
    for (int axis = -4; axis < 4; axis++) {
        dz_variable *in[2] = {tc_randn(4, 3, DZ_SHAPE(2, 1, 3)), tc_randn(5, 3, DZ_SHAPE(2, 1, 3))};
        tc_assert_gradient(stack3, &axis, 2, in);
        tc_assert_double_gradient(stack3, &axis, 2, in);
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_values)
{
    dz_scope_begin();
    dz_variable *a = tc_var(DZ_F32, 2, DZ_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    dz_variable *b = tc_var(DZ_F32, 2, DZ_SHAPE(2, 1), (double[]){5, 6});
    dz_variable *ab = dz_concat(2, (dz_variable *[]){a, b}, 1);
    ck_assert_int_eq(ab->data->shape[1], 3);
    tc_assert_values(ab->data, (double[]){1, 2, 5, 3, 4, 6}, 6, 0);
    dz_variable *rows = dz_concat(2, (dz_variable *[]){a, a}, 0);
    tc_assert_values(rows->data, (double[]){1, 2, 3, 4, 1, 2, 3, 4}, 8, 0);
    dz_variable *s = dz_stack(2, (dz_variable *[]){a, a}, -1);
    ck_assert_int_eq(s->data->ndim, 3);
    ck_assert_int_eq(s->data->shape[2], 2);
    tc_assert_values(s->data, (double[]){1, 1, 2, 2, 3, 3, 4, 4}, 8, 0);
    ck_assert_ptr_eq(dz_concat(1, &a, 0), a);

    dz_variable *p[3];
    ck_assert_int_eq(dz_split(ab, 3, NULL, 1, p), DZ_OK);
    tc_assert_values(p[0]->data, (double[]){1, 3}, 2, 0);
    tc_assert_values(p[2]->data, (double[]){5, 6}, 2, 0);
    ck_assert_int_eq(dz_split(ab, 2, DZ_SHAPE(3, 0), 1, p), DZ_OK);
    ck_assert_int_eq(p[1]->data->shape[1], 0);
    ck_assert_int_eq(p[1]->data->size, 0);
    dz_variable_backward(dz_sum(p[0], 0, NULL, false), false, false);
    tc_assert_values(a->grad->data, (double[]){1, 1, 1, 1}, 4, 0); /* through ab, split and concat */
    tc_assert_values(b->grad->data, (double[]){1, 1}, 2, 0);

    dz_variable *e = dz_expand_dims(a, 0);
    ck_assert_int_eq(e->data->ndim, 3);
    ck_assert_int_eq(e->data->shape[0], 1);
    dz_variable *cube = dz_variable_new(dz_array_zeros(DZ_F64, 4, DZ_SHAPE(0, 2, 3, 4)), NULL);
    dz_variable *f = dz_flatten(cube);
    ck_assert_int_eq(f->data->shape[0], 0);
    ck_assert_int_eq(f->data->shape[1], 24);
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_arguments)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *a = tc_randn(1, 2, DZ_SHAPE(2, 3));
    dz_variable *b = tc_randn(2, 2, DZ_SHAPE(3, 3));
    dz_variable *c = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *p[2] = {a, a};
    ASSERT_FAILS(!dz_concat(2, (dz_variable *[]){a, b}, 1), DZ_ERR_SHAPE,
                 "dz_concat: input 1 has shape (3, 3), which does not match input 0's (2, 3) except on axis 1");
    ASSERT_FAILS(!dz_concat(2, (dz_variable *[]){a, c}, 0), DZ_ERR_DTYPE, "dtypes float64 and float32 differ");
    ASSERT_FAILS(!dz_concat(2, (dz_variable *[]){a, b}, 2), DZ_ERR_VALUE, "axis 2 is out of range");
    ASSERT_FAILS(!dz_concat(0, p, 0), DZ_ERR_VALUE, "need at least one input");
    ASSERT_FAILS(!dz_stack(2, (dz_variable *[]){a, b}, 0), DZ_ERR_SHAPE, "stacked inputs must have one shape");
    ASSERT_FAILS(!dz_stack(2, (dz_variable *[]){a, a}, 3), DZ_ERR_VALUE, "axis 3 is out of range");
    ASSERT_FAILS(dz_split(a, 2, NULL, 1, p) == DZ_ERR_VALUE, DZ_ERR_VALUE, "does not split into 2 equal pieces");
    ck_assert_ptr_null(p[0]);
    ASSERT_FAILS(dz_split(a, 2, DZ_SHAPE(2, 2), 1, p) != DZ_OK, DZ_ERR_VALUE, "add up to 3");
    ASSERT_FAILS(dz_split(a, 2, DZ_SHAPE(4, -1), 1, p) != DZ_OK, DZ_ERR_VALUE, "non-negative");
    ASSERT_FAILS(!dz_expand_dims(a, 3), DZ_ERR_VALUE, "dz_expand_dims: axis 3 is out of range");
    ASSERT_FAILS(!dz_flatten(dz_variable_scalar(DZ_F32, 1)), DZ_ERR_SHAPE, "0-d");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *concat_suite(void)
{
    Suite *s = suite_create("concat");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gradients);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(concat_suite()); }

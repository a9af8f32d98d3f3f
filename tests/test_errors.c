/* Bad inputs take the error path with a clear message (handler turned off). */
#include <string.h>

#include "test_common.h"

static void setup(void) { tc_errors_off(); }
static void teardown(void) { tc_errors_on(); }

START_TEST(test_broadcast_mismatch)
{
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *b = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    ASSERT_ERROR(dz_add(a, b), DZ_ERR_SHAPE, "dz_add: shapes (2, 3) and (4,) cannot broadcast");
    ASSERT_ERROR(dz_mul(b, a), DZ_ERR_SHAPE, "dz_mul: shapes (4,) and (2, 3) cannot broadcast");
    ASSERT_ERROR(dz_sum_to(a, 1, DZ_SHAPE(2)), DZ_ERR_SHAPE, "dz_sum_to: cannot sum (2, 3) to (2,)");
    ASSERT_ERROR(dz_broadcast_to(a, 2, DZ_SHAPE(4, 3)), DZ_ERR_SHAPE, "cannot broadcast (2, 3) to (4, 3)");
    dz_scope_end();
}
END_TEST

START_TEST(test_dtype_mismatch)
{
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), NULL);
    dz_variable *b = dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3)), NULL);
    dz_variable *i = dz_variable_new(dz_array_zeros(DZ_I32, 1, DZ_SHAPE(3)), NULL);
    dz_variable *u = dz_variable_new(dz_array_zeros(DZ_U8, 1, DZ_SHAPE(3)), NULL);
    ck_assert_int_eq(dz_sub(a, b)->data->dtype, DZ_F64); /* promoted, as NumPy */
    ck_assert_int_eq(dz_div(i, i)->data->dtype, DZ_F64);
    ASSERT_ERROR(dz_sub(a, u), DZ_ERR_DTYPE, "dz_sub: input of dtype uint8 is not supported");
    ASSERT_ERROR(dz_exp(i), DZ_ERR_DTYPE, "dz_exp: input of dtype int32 is not supported");
    ASSERT_ERROR(dz_pow(i, -2), DZ_ERR_VALUE, "dz_pow: integers to negative integer powers are not allowed");
    ASSERT_ERROR(dz_add_scalar(i, 1e20), DZ_ERR_DTYPE, "dz_add_scalar: scalar 1e+20 is a whole number outside");
    dz_scope_end();
}
END_TEST

START_TEST(test_null_operands)
{
    dz_scope_begin();
    dz_variable *a = dz_variable_scalar(DZ_F32, 1.0);
    ASSERT_ERROR(dz_add(a, NULL), DZ_ERR_NULL, "dz_add: an input variable is NULL");
    ASSERT_ERROR(dz_tanh(NULL), DZ_ERR_NULL, "dz_tanh");
    ck_assert_int_eq(dz_variable_backward(NULL, false, false), DZ_ERR_NULL);
    dz_variable *empty = dz_parameter_new(NULL, "W");
    ASSERT_ERROR(dz_sin(empty), DZ_ERR_STATE, "'W' has no data");
    dz_scope_end();
}
END_TEST

START_TEST(test_overflowing_shapes)
{
    int64_t big = (int64_t)1 << 40;
    ASSERT_ERROR(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(big, big)), DZ_ERR_OVERFLOW, "(1099511627776, 1099511627776)");
    ASSERT_ERROR(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(INT64_MAX)), DZ_ERR_OVERFLOW, "64-bit");
    ASSERT_ERROR(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(-1, 2)), DZ_ERR_SHAPE, "negative dimension");
    ASSERT_ERROR(dz_array_zeros(DZ_F32, 9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), DZ_ERR_SHAPE, "ndim 9");
    dz_array *a = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(6));
    ASSERT_ERROR(dz_array_reshape(a, 2, DZ_SHAPE(4, -1)), DZ_ERR_SHAPE, "cannot reshape");
    dz_array_release(a);
}
END_TEST

START_TEST(test_review_cases)
{
    dz_scope_begin();
    dz_variable *u8 = dz_variable_new(dz_array_full(DZ_U8, 1, DZ_SHAPE(10), 3), NULL);
    ASSERT_ERROR(dz_add(u8, u8), DZ_ERR_DTYPE, "dtype uint8 is not supported");
    ASSERT_ERROR(dz_sum(u8, 0, NULL, false), DZ_ERR_DTYPE, "dz_sum");
    dz_variable *x = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    ASSERT_ERROR(dz_reshape(x, 2, NULL), DZ_ERR_NULL, "dz_reshape: shape is NULL for ndim 2");
    dz_variable *i = dz_variable_new(dz_array_full(DZ_I64, 1, DZ_SHAPE(3), 3), NULL);
    ck_assert_int_eq(dz_mul_scalar(i, 0.5)->data->dtype, DZ_F64); /* a fraction promotes, as NumPy */
    tc_assert_values(dz_mul_scalar(i, 2)->data, (double[]){6, 6, 6}, 3, 0);
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    ck_assert_ptr_null(dz_rnn_layer_new(4, -1, DZ_F32, &rng));
    dz_layer *lin = dz_linear_layer_new(3, 0, false, DZ_F32, &rng);
    ASSERT_ERROR(dz_layer_call(lin, dz_variable_scalar(DZ_F32, 1)), DZ_ERR_SHAPE, "expects a 2-D float32 input");
    ck_assert_ptr_null(dz_layer_param(lin, "W")->data); /* still lazy */
    ck_assert_ptr_nonnull(dz_layer_call(lin, x));
    dz_layer_free(lin);
    dz_variable *many[100];
    for (int k = 0; k < 100; k++)
        many[k] = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(2)), NULL);
    dz_variable *y = dz_exp(dz_concat(100, many, 0));
    dz_variable_unchain_backward(y); /* more than 64 inputs upstream */
    ck_assert_ptr_null(y->creator->inputs[0]->creator);
    dz_scope_end();
}
END_TEST

static int handler_calls;
static void counting_handler(dz_status code, const char *message)
{
    (void)code;
    (void)message;
    handler_calls++;
}

START_TEST(test_custom_handler)
{
    dz_error_handler old = dz_set_error_handler(counting_handler);
    dz_scope_begin();
    dz_variable *a = dz_variable_scalar(DZ_F32, 1.0);
    ck_assert_ptr_null(dz_add(a, NULL));
    ck_assert_int_eq(handler_calls, 1);
    dz_scope_end();
    dz_set_error_handler(old);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_broadcast_mismatch);
    tcase_add_test(tc, test_dtype_mismatch);
    tcase_add_test(tc, test_null_operands);
    tcase_add_test(tc, test_overflowing_shapes);
    tcase_add_test(tc, test_custom_handler);
    tcase_add_test(tc, test_review_cases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(errors_suite()); }

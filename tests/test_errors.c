/* Bad inputs take the error path with a clear message (handler turned off);
 * the first error of a chain of calls is the one reported. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void assert_error_starts(dz_status code, const char *start)
{
    ck_assert_int_eq(dz_last_error_code(), code);
    ck_assert_msg(strncmp(dz_last_error(), start, strlen(start)) == 0, "message '%s' does not start with '%s'",
                  dz_last_error(), start);
}

#define ADD_SHAPE_ERROR "dz_add: shapes (2, 3) and (4,) cannot broadcast"

/* dz_mul(dz_add(a, bad), c): dz_add's shape error, not dz_mul's NULL input. */
START_TEST(test_first_error_kept)
{
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *bad = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    dz_variable *c = dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    ck_assert_ptr_null(dz_mul(dz_add(a, bad), c));
    assert_error_starts(DZ_ERR_SHAPE, ADD_SHAPE_ERROR);
    /* down a longer chain, through backward, a layer and the array functions */
    ck_assert_ptr_null(dz_exp(dz_sum(dz_mul(c, dz_add(a, bad)), 0, NULL, false)));
    assert_error_starts(DZ_ERR_SHAPE, ADD_SHAPE_ERROR);
    ck_assert_int_eq(dz_variable_backward(dz_add(a, bad), false, false), DZ_ERR_SHAPE);
    ck_assert_ptr_null(dz_array_copy(dz_array_reshape(a->data, 1, DZ_SHAPE(7))));
    assert_error_starts(DZ_ERR_SHAPE, "dz_array_reshape: cannot reshape");
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    ck_assert_ptr_null(dz_layer_call(dz_linear_layer_new(3, -2, false, DZ_F32, &rng), a));
    assert_error_starts(DZ_ERR_VALUE, "dz_linear_layer_new: ");
    /* successful calls, a backward included, leave the record as it is */
    ck_assert_ptr_null(dz_add(a, bad));
    dz_variable *y = dz_sum(dz_mul(a, c), 0, NULL, false);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
    assert_error_starts(DZ_ERR_SHAPE, ADD_SHAPE_ERROR);
    /* but then a NULL operand is not dz_add's result: an error of its own */
    ck_assert_ptr_null(dz_tanh(NULL));
    assert_error_starts(DZ_ERR_NULL, "dz_tanh: ");
    /* a NULL that is not an operand is an error of its own */
    ck_assert_ptr_null(dz_reshape(a, 2, NULL));
    assert_error_starts(DZ_ERR_NULL, "dz_reshape: shape is NULL for ndim 2");
    /* cleared, a NULL operand is reported as one */
    dz_clear_error();
    ck_assert_ptr_null(dz_mul(NULL, c));
    assert_error_starts(DZ_ERR_NULL, "dz_mul: an input variable is NULL");
    dz_scope_end();
}
END_TEST

static dz_status handled_codes[4];

static void recording_handler(dz_status code, const char *message)
{
    (void)message;
    if (handler_calls < 4)
        handled_codes[handler_calls] = code;
    handler_calls++;
}

/* The handler sees each error once: the shape error, not the NULL after it;
 * an environment error (no handler) when a NULL operand follows it. */
START_TEST(test_first_error_handled_once)
{
    dz_error_handler old = dz_set_error_handler(recording_handler);
    handler_calls = 0;
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *bad = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    ck_assert_ptr_null(dz_mul(dz_exp(dz_add(a, bad)), a));
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_int_eq(handled_codes[0], DZ_ERR_SHAPE);
    dz_clear_error();
    dz_array *loaded = NULL;
    ck_assert_int_eq(dz_npy_load("/nonexistent-directory/x.npy", &loaded), DZ_ERR_IO);
    ck_assert_int_eq(handler_calls, 1); /* an environment error: no handler */
    ck_assert_ptr_null(dz_array_copy(loaded));
    ck_assert_ptr_null(dz_array_copy(loaded));
    ck_assert_int_eq(handler_calls, 2);
    ck_assert_int_eq(handled_codes[1], DZ_ERR_IO);
    assert_error_starts(DZ_ERR_IO, "dz_npy_load: ");
    dz_scope_end();
    dz_set_error_handler(old);
}
END_TEST

/* An error handled and not cleared, then an op that succeeds: a NULL operand
 * after it is a new error, which the handler sees and the record holds. */
START_TEST(test_null_operand_after_success)
{
    dz_error_handler old = dz_set_error_handler(recording_handler);
    handler_calls = 0;
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *bad = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    ck_assert_ptr_null(dz_add(a, bad));
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_ptr_nonnull(dz_mul(a, a));
    ck_assert_ptr_null(dz_exp(NULL));
    ck_assert_int_eq(handler_calls, 2);
    ck_assert_int_eq(handled_codes[1], DZ_ERR_NULL);
    assert_error_starts(DZ_ERR_NULL, "dz_exp: ");
    /* a chain still reports its first error, once */
    ck_assert_ptr_null(dz_mul(dz_add(a, bad), a));
    ck_assert_int_eq(handler_calls, 3);
    ck_assert_int_eq(handled_codes[2], DZ_ERR_SHAPE);
    assert_error_starts(DZ_ERR_SHAPE, ADD_SHAPE_ERROR);
    dz_scope_end();
    dz_set_error_handler(old);
}
END_TEST

/* An error a layer's forward names again (a Sequential's part, under the
 * outer call's name) is the same error: the handler sees it once, also when
 * the NULL result goes on into an op. */
START_TEST(test_layer_error_handled_once)
{
    dz_error_handler old = dz_set_error_handler(recording_handler);
    handler_calls = 0;
    dz_layer *seq = dz_sequential_of(2, (dz_layer *[]){dz_relu_layer_new(), dz_log_softmax_layer_new(5)});
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *y = dz_layer_call(seq, x);
    ck_assert_ptr_null(y);
    assert_error_starts(DZ_ERR_VALUE, "dz_layer_call: layer '1' (LogSoftmax) of a Sequential: ");
    ck_assert_ptr_null(dz_mul(y, x));
    ck_assert_int_eq(handler_calls, 1);
    ck_assert_int_eq(handled_codes[0], DZ_ERR_VALUE);
    assert_error_starts(DZ_ERR_VALUE, "dz_layer_call: layer '1' (LogSoftmax) of a Sequential: ");
    dz_scope_end();
    dz_layer_free(seq);
    dz_set_error_handler(old);
}
END_TEST

/* The default handler aborts at the first error, printing it. */
START_TEST(test_default_handler_aborts_at_first_error)
{
    int pipe_fds[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        dz_set_error_handler(NULL);
        dz_clear_error();
        dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
        dz_variable *bad = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
        dz_mul(dz_add(a, bad), a);
        _exit(0);
    }
    close(pipe_fds[1]);
    char text[4096];
    ssize_t n, used = 0;
    while ((n = read(pipe_fds[0], text + used, sizeof text - 1 - (size_t)used)) > 0)
        used += n;
    text[used] = '\0';
    close(pipe_fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the child did not abort: %s", text);
    ck_assert_msg(strstr(text, "dezero: shape error: " ADD_SHAPE_ERROR), "%s", text);
    ck_assert_msg(!strstr(text, "dz_mul"), "%s", text);
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
    tcase_add_test(tc, test_first_error_kept);
    tcase_add_test(tc, test_first_error_handled_once);
    tcase_add_test(tc, test_null_operand_after_success);
    tcase_add_test(tc, test_layer_error_handled_once);
    tcase_add_test(tc, test_default_handler_aborts_at_first_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(errors_suite()); }

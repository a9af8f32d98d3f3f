/* Comparisons and where: values against NumPy (NaN, infinities, broadcasting),
 * where's grads against PyTorch, gradient and double-backward checks, masks
 * that record no graph, int inputs, and bad arguments. */
#include "test_ops_common.h"

static const char *const compare_ops[] = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                                          "where"};
#define NOPS ((int)(sizeof compare_ops / sizeof compare_ops[0]))

START_TEST(test_golden_f64) { ck_assert_int_eq(og_check_golden(compare_ops, NOPS, DZ_F64, 0), 15); }
END_TEST

START_TEST(test_golden_f32) { ck_assert_int_eq(og_check_golden(compare_ops, NOPS, DZ_F32, 1e-6), 15); }
END_TEST

START_TEST(test_masks_are_bool_constants)
{
    dz_scope_begin();
    dz_variable *a = tc_var(DZ_I32, 1, DZ_SHAPE(3), (const double[]){1, 5, -2});
    dz_variable *b = tc_var(DZ_I32, 0, NULL, (const double[]){1});
    dz_variable *m = dz_greater_equal(a, b);
    ck_assert_int_eq(m->data->dtype, DZ_BOOL);
    ck_assert(!m->requires_grad);
    ck_assert_ptr_null(m->creator);
    tc_assert_values(m->data, (const double[]){1, 1, 0}, 3, 0);
    dz_array *exact = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(2), (const int64_t[]){9007199254740993, 1});
    dz_array *exact_b = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(2), (const int64_t[]){9007199254740992, 1});
    dz_variable *eq = dz_equal(dz_variable_constant(exact, NULL), dz_variable_constant(exact_b, NULL));
    tc_assert_values(eq->data, (const double[]){0, 1}, 2, 0); /* compared as int64, not as doubles */
    dz_scope_end();
}
END_TEST

/* where takes a comparison's mask, and its grads pass the finite-difference check. */
typedef struct {
    dz_variable *cond;
} where_ctx;

static dz_variable *where_fn(dz_variable *const *in, void *ctx)
{
    const where_ctx *w = ctx;
    return dz_where(w->cond, dz_mul(in[0], in[0]), in[1]);
}

START_TEST(test_where_gradients)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(3, 1)), *y = tc_randn(2, 2, DZ_SHAPE(1, 4));
    dz_variable *zero = tc_var(DZ_F64, 0, NULL, (const double[]){0});
    where_ctx w = {dz_greater(tc_randn(3, 2, DZ_SHAPE(3, 4)), zero)};
    ck_assert_int_eq(w.cond->data->dtype, DZ_BOOL);
    tc_assert_gradient(where_fn, &w, 2, (dz_variable *[]){x, y});
    tc_assert_double_gradient(where_fn, &w, 2, (dz_variable *[]){x, y});
    dz_scope_end();
}
END_TEST

START_TEST(test_where_int64_exact)
{
    dz_scope_begin();
    dz_array *c = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(3), (const double[]){1, 0, 1});
    dz_variable *cond = dz_variable_constant(dz_array_astype(c, DZ_BOOL), NULL);
    dz_array *xa = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (const int64_t[]){INT64_MAX, 2, INT64_MIN + 1});
    dz_variable *y = dz_where(cond, dz_variable_constant(xa, NULL), tc_var(DZ_I64, 0, NULL, (const double[]){-7}));
    ck_assert_int_eq(y->data->dtype, DZ_I64);
    dz_variable *back = dz_sub(y, dz_variable_constant(dz_array_retain(xa), NULL)); /* exact: 0, -9, 0 */
    tc_assert_values(back->data, (const double[]){0, -9, 0}, 3, 0);
    dz_array_release(c);
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_arguments)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *a = tc_randn(1, 2, DZ_SHAPE(2, 3)), *b = tc_randn(2, 1, DZ_SHAPE(4));
    dz_variable *f = tc_var(DZ_F32, 1, DZ_SHAPE(3), (const double[]){1, 2, 3});
    ASSERT_ERROR(dz_less(a, b), DZ_ERR_SHAPE, "dz_less: shapes (2, 3) and (4,) cannot broadcast");
    ASSERT_ERROR(dz_equal(a, f), DZ_ERR_DTYPE, "dz_equal: dtypes float64 and float32 differ");
    ASSERT_ERROR(dz_greater(NULL, a), DZ_ERR_NULL, "dz_greater");
    ASSERT_ERROR(dz_where(a, a, a), DZ_ERR_DTYPE, "dz_where: the condition has dtype float64; it must be bool");
    ASSERT_ERROR(dz_where(NULL, a, a), DZ_ERR_NULL, "dz_where: the condition is NULL");
    dz_variable *m = dz_less(a, tc_var(DZ_F64, 0, NULL, (const double[]){0}));
    ASSERT_ERROR(dz_where(m, a, f), DZ_ERR_DTYPE, "dz_where: dtypes float64 and float32 differ");
    ASSERT_ERROR(dz_where(m, a, b), DZ_ERR_SHAPE,
                 "dz_where: the condition (2, 3), x (2, 3) and y (4,) cannot broadcast");
    ASSERT_ERROR(dz_where(dz_less(b, b), a, a), DZ_ERR_SHAPE, "cannot broadcast to one shape");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_f64);
    tcase_add_test(tc, test_golden_f32);
    tcase_add_test(tc, test_masks_are_bool_constants);
    tcase_add_test(tc, test_where_gradients);
    tcase_add_test(tc, test_where_int64_exact);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(compare_suite()); }

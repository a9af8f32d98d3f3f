/* var, std, norm and cosine_similarity: values against NumPy / PyTorch and
 * grads against PyTorch (a constant row for std, zero rows and ties for the
 * norms, norms below eps for cosine similarity), gradient and
 * double-backward checks away from the kinks, and bad arguments. */
#include "test_ops_common.h"

static const char *const statistics_ops[] = {"var", "std", "norm", "cosine_similarity"};
#define NOPS ((int)(sizeof statistics_ops / sizeof statistics_ops[0]))

START_TEST(test_golden_f64) { ck_assert_int_eq(og_check_golden(statistics_ops, NOPS, DZ_F64, 1e-12), 37); }
END_TEST

START_TEST(test_golden_f32) { ck_assert_int_eq(og_check_golden(statistics_ops, NOPS, DZ_F32, 2e-5), 37); }
END_TEST

typedef struct {
    const char *op;
    double p;
    int naxes;
    int axes[2];
    int64_t ddof;
    bool keepdims;
} stat_ctx;

static dz_variable *stat_fn(dz_variable *const *in, void *vctx)
{
    const stat_ctx *c = vctx;
    if (!strcmp(c->op, "var"))
        return dz_var(in[0], c->naxes, c->axes, c->ddof, c->keepdims);
    if (!strcmp(c->op, "std"))
        return dz_std(in[0], c->naxes, c->axes, c->ddof, c->keepdims);
    if (!strcmp(c->op, "norm"))
        return dz_norm(in[0], c->p, c->naxes, c->axes, c->keepdims);
    return dz_cosine_similarity(in[0], in[1], c->axes[0], c->p);
}

START_TEST(test_gradients)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(3, 3, DZ_SHAPE(2, 3, 4)); /* no zeros, no ties */
    const stat_ctx cases[] = {
        {"var", 0, 0, {0}, 0, false},      {"var", 0, 1, {1}, 1, true},   {"std", 0, 2, {0, 2}, 1, false},
        {"std", 0, 1, {-1}, 0, true},      {"norm", 2, 0, {0}, 0, false}, {"norm", 1, 1, {1}, 0, true},
        {"norm", INFINITY, 1, {2}, 0, false}, {"norm", 3, 2, {0, 1}, 0, false}, {"norm", 0.5, 1, {2}, 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tc_assert_gradient(stat_fn, (void *)&cases[i], 1, &x);
        tc_assert_double_gradient(stat_fn, (void *)&cases[i], 1, &x);
    }
    dz_variable *b = tc_randn(4, 2, DZ_SHAPE(3, 4));
    const stat_ctx cos_cases[] = {{"cos", 1e-8, 1, {2}, 0, false}, {"cos", 1e-8, 1, {-2}, 0, false}};
    for (size_t i = 0; i < sizeof cos_cases / sizeof cos_cases[0]; i++) {
        tc_assert_gradient(stat_fn, (void *)&cos_cases[i], 2, (dz_variable *[]){x, b});
        tc_assert_double_gradient(stat_fn, (void *)&cos_cases[i], 2, (dz_variable *[]){x, b});
    }
    dz_scope_end();
}
END_TEST

/* std and norm give grad 0, not NaN, where they are 0 (PyTorch's rule). */
START_TEST(test_zero_results_give_zero_grads)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(2, 3), (const double[]){0, 0, 0, 5, 5, 5});
    dz_variable_backward(dz_sum(dz_std(x, 1, (const int[]){1}, 1, false), 0, NULL, false), false, false);
    tc_assert_values(x->grad->data, (const double[]){0, 0, 0, 0, 0, 0}, 6, 0);
    dz_variable *z = tc_var(DZ_F64, 1, DZ_SHAPE(3), (const double[]){0, 0, 0});
    double ps[] = {2, 1, 3, 0.5, INFINITY};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        dz_variable_cleargrad(z);
        dz_variable_backward(dz_norm(z, ps[i], 0, NULL, false), false, false);
        tc_assert_values(z->grad->data, (const double[]){0, 0, 0}, 3, 0);
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_arguments)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(2, 3)), *b = tc_randn(2, 1, DZ_SHAPE(4));
    ASSERT_ERROR(dz_var(x, 1, (const int[]){2}, 0, false), DZ_ERR_VALUE,
                 "dz_var: axis 2 is out of range for an input of shape (2, 3)");
    ASSERT_ERROR(dz_std(tc_var(DZ_I32, 1, DZ_SHAPE(2), (const double[]){1, 2}), 0, NULL, 0, false), DZ_ERR_DTYPE,
                 "dz_std: input of dtype int32 is not supported");
    ASSERT_ERROR(dz_norm(x, 0, 0, NULL, false), DZ_ERR_VALUE, "dz_norm: p 0 is not supported; use p > 0");
    ASSERT_ERROR(dz_norm(x, NAN, 0, NULL, false), DZ_ERR_VALUE, "dz_norm: p nan is not supported");
    ASSERT_ERROR(dz_norm(dz_variable_new(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(0, 3)), NULL), INFINITY, 1,
                         (const int[]){0}, false),
                 DZ_ERR_VALUE, "dz_norm: axis 0 of shape (0, 3) is empty");
    ASSERT_ERROR(dz_cosine_similarity(x, b, 1, 1e-8), DZ_ERR_SHAPE,
                 "dz_cosine_similarity: shapes (2, 3) and (4,) cannot broadcast");
    ASSERT_ERROR(dz_cosine_similarity(x, x, 2, 1e-8), DZ_ERR_VALUE, "dz_cosine_similarity: axis 2 is out of range");
    ASSERT_ERROR(dz_cosine_similarity(x, x, 1, -1), DZ_ERR_VALUE, "dz_cosine_similarity: eps -1 must be finite");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *statistics_suite(void)
{
    Suite *s = suite_create("statistics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_f64);
    tcase_add_test(tc, test_golden_f32);
    tcase_add_test(tc, test_gradients);
    tcase_add_test(tc, test_zero_results_give_zero_grads);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(statistics_suite()); }

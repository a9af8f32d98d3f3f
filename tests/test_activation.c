/* Activations: sigmoid, relu, leaky_relu, softmax, log_softmax, max / min,
 * clip, dropout — gradient checks in f64, double backward, golden values
 * (log_softmax from PyTorch, max ties with NumPy semantics), bad inputs. */
#include <math.h>
#include <string.h>

#include "fixtures/nn_golden.h"
#include "test_nn_common.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* Standard normals moved at least `gap` away from every point in `avoid`
 * (kinks of relu / clip / max), so central differences stay on one side. */
static dz_variable *randn_away(uint64_t seed, int ndim, const int64_t *shape, double gap, int navoid,
                               const double *avoid)
{
    dz_variable *x = tc_randn(seed, ndim, shape);
    double *d = x->data->data;
    for (int64_t i = 0; i < x->data->size; i++)
        for (int k = 0; k < navoid; k++)
            if (fabs(d[i] - avoid[k]) < gap)
                d[i] = avoid[k] + (d[i] >= avoid[k] ? gap : -gap);
    return x;
}

typedef dz_variable *(*unary_fn)(dz_variable *);

static dz_variable *call_unary(dz_variable *const *in, void *ctx) { return ((unary_fn)ctx)(in[0]); }

static dz_variable *leaky(dz_variable *x) { return dz_leaky_relu(x, 0.1); }
static dz_variable *softmax_last(dz_variable *x) { return dz_softmax(x, -1); }
static dz_variable *softmax_axis0(dz_variable *x) { return dz_softmax(x, 0); }
static dz_variable *softmax_axis1(dz_variable *x) { return dz_softmax(x, 1); }
static dz_variable *log_softmax_last(dz_variable *x) { return dz_log_softmax(x, -1); }
static dz_variable *log_softmax_axis1(dz_variable *x) { return dz_log_softmax(x, 1); }
static dz_variable *max_axis1(dz_variable *x) { return dz_max(x, DZ_AXES(1), false); }
static dz_variable *max_all(dz_variable *x) { return dz_max(x, 0, NULL, false); }
static dz_variable *max_axes_keep(dz_variable *x) { return dz_max(x, DZ_AXES(0, -1), true); }
static dz_variable *min_axis2(dz_variable *x) { return dz_min(x, DZ_AXES(2), false); }
static dz_variable *min_all_keep(dz_variable *x) { return dz_min(x, 0, NULL, true); }
static dz_variable *clip_pm(dz_variable *x) { return dz_clip(x, -0.5, 0.7); }

static void check_both(unary_fn f, dz_variable *x)
{
    tc_assert_gradient(call_unary, (void *)f, 1, &x);
    tc_assert_double_gradient(call_unary, (void *)f, 1, &x);
    tn_assert_recorded_matches_raw(call_unary, (void *)f, 1, &x);
}

START_TEST(test_smooth_gradients)
{
    unary_fn fns[] = {dz_sigmoid, softmax_last, softmax_axis0, softmax_axis1, log_softmax_last, log_softmax_axis1};
    const int64_t shapes[][3] = {{2, 3, 4}, {3, 1, 5}, {1, 4, 1}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        for (size_t s = 0; s < 3; s++) {
            dz_scope_begin();
            check_both(fns[i], tc_randn(30 + i * 3 + s, 3, shapes[s]));
            dz_scope_end();
        }
}
END_TEST

START_TEST(test_piecewise_gradients)
{
    const double zero[1] = {0}, clip_points[2] = {-0.5, 0.7};
    dz_scope_begin();
    check_both(dz_relu, randn_away(1, 2, DZ_SHAPE(4, 5), 0.05, 1, zero));
    check_both(leaky, randn_away(2, 3, DZ_SHAPE(2, 1, 5), 0.05, 1, zero));
    check_both(clip_pm, randn_away(3, 2, DZ_SHAPE(5, 4), 0.05, 2, clip_points));
    unary_fn extrema[] = {max_axis1, max_all, max_axes_keep, min_axis2, min_all_keep};
    for (size_t i = 0; i < sizeof extrema / sizeof extrema[0]; i++) {
        check_both(extrema[i], tc_randn(40 + i, 3, DZ_SHAPE(3, 4, 2)));
        check_both(extrema[i], tc_randn(50 + i, 3, DZ_SHAPE(1, 3, 1)));
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_values)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){-2, 0, 3, 1000, 1001, -1000});
    dz_variable *s = dz_sigmoid(x);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(tc_at(s, i), 1 / (1 + exp(-tc_at(x, i))), 1e-7);
    tc_assert_values(dz_relu(x)->data, (double[]){0, 0, 3, 1000, 1001, 0}, 6, 0);
    tc_assert_values(dz_leaky_relu(x, 0.2)->data, (double[]){-0.4, 0, 3, 1000, 1001, -200}, 6, 1e-4);
    tc_assert_values(dz_clip(x, -1, 2)->data, (double[]){-1, 0, 2, 2, 2, -1}, 6, 0);
    dz_variable *p = dz_softmax(x, 1); /* large logits stay finite */
    double e = exp(-1.0);
    tc_assert_values(p->data, (double[]){exp(-5) / (exp(-5) + exp(-3) + 1), exp(-3) / (exp(-5) + exp(-3) + 1),
                                         1 / (exp(-5) + exp(-3) + 1), e / (1 + e), 1 / (1 + e), 0},
                     6, 1e-7);
    dz_variable *lp = dz_log_softmax(x, 1);
    ck_assert_double_eq_tol(tc_at(lp, 5), -2001.0 - log1p(e), 1e-3);
    ck_assert(isfinite(tc_at(lp, 5)));
    dz_variable *m = dz_min(x, DZ_AXES(0), true);
    ck_assert(dz_shape_equal(2, m->data->shape, 2, DZ_SHAPE(1, 3)));
    tc_assert_values(m->data, (double[]){-2, 0, -1000}, 3, 0);
    dz_scope_end();
}
END_TEST

START_TEST(test_log_softmax_golden)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 3, DZ_SHAPE(3, 4, 5), golden_log_softmax_x);
    dz_variable *y = dz_log_softmax(x, 1);
    tc_assert_close(y->data, golden_log_softmax_y, N_OF(golden_log_softmax_y), 1e-6);
    dz_variable_set_grad(y, tc_var(DZ_F32, 3, DZ_SHAPE(3, 4, 5), golden_log_softmax_gy));
    dz_variable_backward(y, false, false);
    tc_assert_close(x->grad->data, golden_log_softmax_gx, N_OF(golden_log_softmax_gx), 1e-6);
    dz_scope_end();
}
END_TEST

/* Ties: every element equal to the max gets the whole grad (DeZero / NumPy
 * mask semantics), in both the raw and the recorded backward. */
START_TEST(test_max_ties_golden)
{
    for (int create_graph = 0; create_graph < 2; create_graph++) {
        dz_scope_begin();
        dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(3, 4), golden_max_x);
        dz_variable *y = dz_max(x, DZ_AXES(1), false);
        tc_assert_values(y->data, golden_max_y, 3, 0);
        dz_variable_set_grad(y, tc_var(DZ_F64, 1, DZ_SHAPE(3), golden_max_gy));
        dz_variable_backward(y, false, create_graph);
        tc_assert_values(x->grad->data, golden_max_gx, 12, 0);
        dz_scope_end();
    }
}
END_TEST

typedef struct {
    double ratio;
    uint64_t seed;
} dropout_ctx;

static dz_variable *call_dropout(dz_variable *const *in, void *vctx)
{
    const dropout_ctx *c = vctx;
    dz_rng rng;
    dz_rng_seed(&rng, c->seed); /* the same mask on every evaluation */
    return dz_dropout(in[0], c->ratio, &rng);
}

START_TEST(test_dropout)
{
    dz_scope_begin();
    dropout_ctx c = {0.3, 99};
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(4, 5));
    tc_assert_gradient(call_dropout, &c, 1, &x);
    tc_assert_double_gradient(call_dropout, &c, 1, &x);
    tn_assert_recorded_matches_raw(call_dropout, &c, 1, &x);

    dz_variable *big = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(10000)), NULL);
    dz_variable *y = call_dropout(&big, &c);
    int64_t kept = 0;
    for (int64_t i = 0; i < 10000; i++) {
        double v = tc_at(y, i);
        ck_assert(v == 0 || fabs(v - 1 / 0.7) < 1e-6);
        kept += v != 0;
    }
    ck_assert_msg(kept > 6700 && kept < 7300, "kept %lld of 10000 at ratio 0.3", (long long)kept);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    for (int64_t i = 0; i < 10000; i++) /* the grad is the mask */
        ck_assert_double_eq(tc_grad_at(big, i), tc_at(y, i));
    DZ_TEST_MODE { ck_assert_ptr_eq(dz_dropout(big, 0.3, NULL), big); }
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_inputs)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(2, 3));
    ASSERT_ERROR(dz_softmax(x, 2), DZ_ERR_VALUE, "dz_softmax: axis 2 is out of range for an input of shape (2, 3)");
    ASSERT_ERROR(dz_log_softmax(x, -3), DZ_ERR_VALUE, "dz_log_softmax: axis -3 is out of range");
    ASSERT_ERROR(dz_max(x, DZ_AXES(0, -2), false), DZ_ERR_VALUE, "dz_max: axis -2 is repeated");
    ASSERT_ERROR(dz_min(x, DZ_AXES(5), false), DZ_ERR_VALUE, "dz_min: axis 5 is out of range");
    ASSERT_ERROR(dz_clip(x, 1, -1), DZ_ERR_VALUE, "dz_clip: lo 1 is greater than hi -1");
    ASSERT_ERROR(dz_dropout(x, 1.0, NULL), DZ_ERR_VALUE, "dz_dropout: ratio 1 is outside [0, 1)");
    dz_variable *i = dz_variable_new(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(3)), NULL);
    ASSERT_ERROR(dz_relu(i), DZ_ERR_DTYPE, "dz_relu: input of dtype int64");
    ASSERT_ERROR(dz_sigmoid(NULL), DZ_ERR_NULL, "dz_sigmoid");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *activation_suite(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_smooth_gradients);
    tcase_add_test(tc, test_piecewise_gradients);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_log_softmax_golden);
    tcase_add_test(tc, test_max_ties_golden);
    tcase_add_test(tc, test_dropout);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(activation_suite()); }

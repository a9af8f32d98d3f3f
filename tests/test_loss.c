/* Losses: mean squared error, softmax cross entropy (with ignore_index),
 * sigmoid and binary cross entropy, accuracy — gradient checks in f64, double
 * backward, PyTorch golden values, stability and bad labels. */
#include <math.h>
#include <string.h>

#include "fixtures/nn_golden.h"
#include "test_nn_common.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static dz_variable *labels(dz_dtype dtype, int64_t n, const double *values)
{
    dz_variable *t = tc_var(dtype, 1, DZ_SHAPE(n), values);
    t->requires_grad = false;
    return t;
}

static dz_variable *call_mse(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_mean_squared_error(in[0], in[1]);
}

START_TEST(test_mse)
{
    const struct {
        int na, nb;
        int64_t a[3], b[3];
    } shapes[] = {{2, 2, {3, 4}, {3, 4}}, {2, 1, {3, 4}, {4}}, {3, 2, {2, 1, 3}, {4, 1}}, {1, 1, {1}, {5}}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        dz_scope_begin();
        dz_variable *in[2] = {tc_randn(10 + i, shapes[i].na, shapes[i].a), tc_randn(20 + i, shapes[i].nb, shapes[i].b)};
        tc_assert_gradient(call_mse, NULL, 2, in);
        tc_assert_double_gradient(call_mse, NULL, 2, in);
        tn_assert_recorded_matches_raw(call_mse, NULL, 2, in);
        dz_scope_end();
    }
    dz_scope_begin(); /* the mean is over all 6 elements, not len(x0) = 2 */
    dz_variable *a = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable *b = tc_var(DZ_F32, 1, DZ_SHAPE(3), (double[]){0, 2, 5});
    ck_assert_double_eq_tol(tc_at(dz_mean_squared_error(a, b), 0), (1 + 0 + 4 + 16 + 9 + 1) / 6.0, 1e-6);
    dz_scope_end();
}
END_TEST

typedef struct {
    dz_variable *t;
    int64_t ignore_index;
    bool ignore;
} sce_ctx;

static dz_variable *call_sce(dz_variable *const *in, void *vctx)
{
    const sce_ctx *c = vctx;
    return c->ignore ? dz_softmax_cross_entropy_ignore(in[0], c->t, c->ignore_index)
                     : dz_softmax_cross_entropy(in[0], c->t);
}

START_TEST(test_sce_gradients)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(5, 4));
    sce_ctx plain = {labels(DZ_I64, 5, (double[]){3, 0, 0, 2, 1}), 0, false};
    tc_assert_gradient(call_sce, &plain, 1, &x);
    tc_assert_double_gradient(call_sce, &plain, 1, &x);
    tn_assert_recorded_matches_raw(call_sce, &plain, 1, &x);
    sce_ctx ignoring = {labels(DZ_I32, 5, (double[]){3, -1, 0, -1, 1}), -1, true};
    tc_assert_gradient(call_sce, &ignoring, 1, &x);
    tc_assert_double_gradient(call_sce, &ignoring, 1, &x);
    tn_assert_recorded_matches_raw(call_sce, &ignoring, 1, &x);
    dz_variable *one = tc_randn(2, 2, DZ_SHAPE(3, 1)); /* a single class: loss 0 */
    sce_ctx zeros = {labels(DZ_I64, 3, (double[]){0, 0, 0}), 0, false};
    tc_assert_gradient(call_sce, &zeros, 1, &one);
    ck_assert_double_eq_tol(tc_at(call_sce(&one, &zeros), 0), 0, 1e-12);
    dz_scope_end();
}
END_TEST

/* f32 against PyTorch, through the raw and the recorded backward. */
START_TEST(test_sce_golden)
{
    for (int create_graph = 0; create_graph < 2; create_graph++) {
        dz_scope_begin();
        dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(6, 5), golden_sce_x);
        dz_variable *loss = dz_softmax_cross_entropy(x, labels(DZ_I64, 6, golden_sce_t));
        tc_assert_close(loss->data, golden_sce_loss, 1, 1e-6);
        dz_variable_backward(loss, false, create_graph);
        tc_assert_close(x->grad->data, golden_sce_gx, N_OF(golden_sce_gx), 1e-6);
        dz_variable_cleargrad(x);
        loss = dz_softmax_cross_entropy_ignore(x, labels(DZ_I32, 6, golden_sce_ignore_t), -100);
        tc_assert_close(loss->data, golden_sce_ignore_loss, 1, 1e-6);
        dz_variable_backward(loss, false, create_graph);
        tc_assert_close(x->grad->data, golden_sce_ignore_gx, N_OF(golden_sce_ignore_gx), 1e-6);
        dz_variable_cleargrad(x); /* a recorded grad references x: break the cycle */
        dz_scope_end();
    }
}
END_TEST

/* Every row ignored: PyTorch 1.13 gives a NaN loss (0 / 0) and zero grads. */
START_TEST(test_sce_all_ignored)
{
    for (int create_graph = 0; create_graph < 2; create_graph++) {
        dz_scope_begin();
        dz_variable *x = tc_randn(3, 2, DZ_SHAPE(3, 4));
        dz_variable *loss = dz_softmax_cross_entropy_ignore(x, labels(DZ_I64, 3, (double[]){-100, -100, -100}), -100);
        ck_assert(isnan(tc_at(loss, 0)));
        dz_variable_backward(loss, false, create_graph);
        tc_assert_values(x->grad->data, (double[12]){0}, 12, 0);
        dz_variable_cleargrad(x); /* a recorded grad references x: break the cycle */
        dz_scope_end();
    }
}
END_TEST

START_TEST(test_sce_stable)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1000, 0, -1000, 50, 90, 10});
    dz_variable *loss = dz_softmax_cross_entropy(x, labels(DZ_I32, 2, (double[]){2, 1}));
    ck_assert_double_eq_tol(tc_at(loss, 0), (2000.0 + log1p(exp(-40) + exp(-80))) / 2, 1e-3);
    dz_variable_backward(loss, false, false);
    for (int i = 0; i < 6; i++)
        ck_assert(isfinite(tc_grad_at(x, i)));
    ck_assert_double_eq_tol(tc_grad_at(x, 0), 0.5, 1e-6);
    ck_assert_double_eq_tol(tc_grad_at(x, 2), -0.5, 1e-6);
    dz_scope_end();
}
END_TEST

typedef dz_variable *(*binary_fn)(dz_variable *, dz_variable *);
static dz_variable *call_binary(dz_variable *const *in, void *ctx) { return ((binary_fn)ctx)(in[0], in[1]); }

START_TEST(test_sigmoid_and_binary_ce)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(4, 2, DZ_SHAPE(4, 3));
    dz_variable *t = tc_var(DZ_F64, 2, DZ_SHAPE(4, 3), (double[]){1, 0, 1, 0, 0, 1, 1, 1, 0, 0.3, 0.8, 0});
    dz_variable *in[2] = {x, t}; /* a float target gets a grad too */
    tc_assert_gradient(call_binary, (void *)dz_sigmoid_cross_entropy, 2, in);
    tc_assert_double_gradient(call_binary, (void *)dz_sigmoid_cross_entropy, 2, in);
    tn_assert_recorded_matches_raw(call_binary, (void *)dz_sigmoid_cross_entropy, 2, in);
    dz_variable *p = dz_sigmoid(x); /* probabilities inside (1e-15, 0.999): no clipping */
    dz_variable_unchain(p);
    dz_variable *pin[2] = {p, t};
    tc_assert_gradient(call_binary, (void *)dz_binary_cross_entropy, 2, pin);
    tc_assert_double_gradient(call_binary, (void *)dz_binary_cross_entropy, 2, pin);
    tn_assert_recorded_matches_raw(call_binary, (void *)dz_binary_cross_entropy, 2, pin);
    double expected = 0; /* both equal the textbook formula here */
    for (int i = 0; i < 12; i++) {
        double q = tc_at(p, i), y = tc_at(t, i);
        expected -= (y * log(q) + (1 - y) * log(1 - q)) / 12;
    }
    ck_assert_double_eq_tol(tc_at(dz_sigmoid_cross_entropy(x, t), 0), expected, 1e-12);
    ck_assert_double_eq_tol(tc_at(dz_binary_cross_entropy(p, t), 0), expected, 1e-12);

    dz_variable *far = tc_var(DZ_F32, 2, DZ_SHAPE(3, 1), (double[]){100, -100, 0}); /* DeZero's form overflows */
    dz_variable *ti = dz_variable_new(dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(3), (int32_t[]){0, 0, 1}), NULL);
    dz_variable *loss = dz_sigmoid_cross_entropy(far, ti); /* int labels of another ndim: reshaped */
    ck_assert_double_eq_tol(tc_at(loss, 0), (100 + 0 + log(2.0)) / 3, 1e-4);
    dz_variable *edges = tc_var(DZ_F32, 1, DZ_SHAPE(2), (double[]){0, 1});
    dz_variable *bce = dz_binary_cross_entropy(edges, tc_var(DZ_F32, 1, DZ_SHAPE(2), (double[]){1, 0}));
    ck_assert(isfinite(tc_at(bce, 0))); /* log(0) clipped away: -(log 1e-15 + log 0.001) / 2 */
    ck_assert_double_eq_tol(tc_at(bce, 0), -(log(1e-15) + log(1 - 0.999)) / 2, 1e-3);
    dz_scope_end();
}
END_TEST

START_TEST(test_accuracy)
{
    dz_scope_begin();
    dz_variable *y =
        tc_var(DZ_F32, 2, DZ_SHAPE(4, 3), (double[]){0.2, 0.8, 0, 0.1, 0.4, 0.5, 0.9, 0.05, 0.05, 1, 1, 0});
    dz_variable *acc = dz_accuracy(y, labels(DZ_I64, 4, (double[]){1, 2, 0, 1}));
    ck_assert_int_eq(acc->data->dtype, DZ_F64);
    ck_assert_int_eq(acc->data->ndim, 0);
    ck_assert_double_eq(tc_at(acc, 0), 0.75); /* the tie in row 3 picks class 0 */
    ck_assert_ptr_null(acc->creator);
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_labels)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(4, 5));
    ASSERT_ERROR(dz_softmax_cross_entropy(x, labels(DZ_I64, 4, (double[]){0, 1, 5, 2})), DZ_ERR_INDEX,
                 "dz_softmax_cross_entropy: label 5 at position 2 is out of range for 5 classes; labels must be in "
                 "[0, 5)");
    ASSERT_ERROR(dz_softmax_cross_entropy(x, labels(DZ_I32, 4, (double[]){0, -1, 1, 2})), DZ_ERR_INDEX,
                 "label -1 at position 1");
    ASSERT_ERROR(dz_softmax_cross_entropy_ignore(x, labels(DZ_I32, 4, (double[]){0, -1, 1, 9}), -1), DZ_ERR_INDEX,
                 "label 9 at position 3");
    ASSERT_ERROR(dz_softmax_cross_entropy(x, labels(DZ_F32, 4, (double[]){0, 1, 1, 2})), DZ_ERR_DTYPE,
                 "labels of dtype float32 are not supported; use int32 or int64");
    ASSERT_ERROR(dz_softmax_cross_entropy(x, labels(DZ_I64, 3, (double[]){0, 1, 1})), DZ_ERR_SHAPE,
                 "labels of shape (3,) do not match logits (4, 5); expected (4,)");
    ASSERT_ERROR(dz_softmax_cross_entropy(tc_randn(2, 1, DZ_SHAPE(5)), labels(DZ_I64, 1, (double[]){0})),
                 DZ_ERR_SHAPE, "logits must be (N, C); got shape (5,)");
    ASSERT_ERROR(dz_mean_squared_error(x, tc_randn(3, 1, DZ_SHAPE(4))), DZ_ERR_SHAPE, "cannot broadcast");
    ASSERT_ERROR(dz_sigmoid_cross_entropy(x, tc_randn(4, 2, DZ_SHAPE(5, 4))), DZ_ERR_SHAPE,
                 "targets of shape (5, 4) do not match inputs of shape (4, 5)");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mse);
    tcase_add_test(tc, test_sce_gradients);
    tcase_add_test(tc, test_sce_golden);
    tcase_add_test(tc, test_sce_all_ignored);
    tcase_add_test(tc, test_sce_stable);
    tcase_add_test(tc, test_sigmoid_and_binary_ce);
    tcase_add_test(tc, test_accuracy);
    tcase_add_test(tc, test_bad_labels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(loss_suite()); }

/* Ownership without a scope: every op's result belongs to the caller, and
 * releasing it must free every intermediate the op made. An intermediate
 * left behind keeps a reference to the input, which shows in its refcount. */
#include "test_common.h"

typedef dz_variable *(*op_fn)(dz_variable *x, dz_variable *t, dz_variable *labels);

static dz_variable *op_mean(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_mean(x, 0, NULL, false); }
static dz_variable *op_mean_axis(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_mean(x, DZ_AXES(1), true); }
static dz_variable *op_stack(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; dz_variable *xs[2] = {x, x}; return dz_stack(2, xs, 0); }
static dz_variable *op_concat(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; dz_variable *xs[2] = {x, x}; return dz_concat(2, xs, 1); }
static dz_variable *op_flatten(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_flatten(x); }
static dz_variable *op_sigmoid_ce(dz_variable *x, dz_variable *t, dz_variable *l) { (void)l; return dz_sigmoid_cross_entropy(x, t); }
static dz_variable *op_bce(dz_variable *x, dz_variable *t, dz_variable *l) { (void)l; return dz_binary_cross_entropy(x, t); /* values do not matter here */ }
static dz_variable *op_mse(dz_variable *x, dz_variable *t, dz_variable *l) { (void)l; return dz_mean_squared_error(x, t); }
static dz_variable *op_softmax_ce(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t; return dz_softmax_cross_entropy(x, l); }
static dz_variable *op_log_softmax(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_log_softmax(x, 1); }
static dz_variable *op_dropout(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_dropout(x, 0.5, NULL); }
static dz_variable *op_div_scalar(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_div_scalar(x, 2.0); }
static dz_variable *op_max(dz_variable *x, dz_variable *t, dz_variable *l) { (void)t, (void)l; return dz_max(x, DZ_AXES(0), false); }

START_TEST(test_results_free_their_intermediates)
{
    op_fn ops[] = {op_mean, op_mean_axis, op_stack, op_concat, op_flatten, op_sigmoid_ce, op_bce, op_mse,
                   op_softmax_ce, op_log_softmax, op_dropout, op_div_scalar, op_max};
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(3, 4)); /* no scope: ours */
    dz_variable *t = dz_variable_new(dz_array_full(DZ_F64, 2, DZ_SHAPE(3, 4), 1.0), NULL);
    dz_variable *labels = dz_variable_new(dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (int64_t[]){0, 3, 1}), NULL);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        dz_variable *y = ops[i](x, t, labels);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
        dz_variable_release(y);
        ck_assert_msg(x->refcount == 1, "op %zu left %d references to its input", i, x->refcount);
        dz_variable_cleargrad(x);
    }
    dz_variable_release(x);
    dz_variable_release(t);
    dz_variable_release(labels);
}
END_TEST

START_TEST(test_layer_forwards_free_their_intermediates)
{
    dz_rng rng;
    dz_rng_seed(&rng, 2);
    dz_layer *layers[] = {dz_mlp_new(2, (const int64_t[]){5, 2}, NULL, DZ_F64, &rng),
                          dz_rnn_layer_new(4, 4, DZ_F64, &rng), dz_lstm_layer_new(4, 4, DZ_F64, &rng)};
    dz_variable *x = tc_randn(3, 2, DZ_SHAPE(2, 4)); /* no scope: ours */
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        for (int step = 0; step < 2; step++)
            dz_variable_release(dz_layer_call(layers[i], x));
        dz_layer_reset_state(layers[i]);
        ck_assert_msg(x->refcount == 1, "layer %zu left %d references to its input", i, x->refcount);
        dz_layer_free(layers[i]);
    }
    dz_variable_release(x);
}
END_TEST

static Suite *ownership_suite(void)
{
    Suite *s = suite_create("ownership");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_results_free_their_intermediates);
    tcase_add_test(tc, test_layer_forwards_free_their_intermediates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(ownership_suite()); }

/* Stock layers: Linear (lazy and eager), MLP, RNN and LSTM (state across
 * calls, h2h sizing, gradients w.r.t. inputs and parameters). */
#include <math.h>

#include "test_common.h"

static dz_variable *weight(const dz_layer *l, const char *child, const char *name)
{
    return dz_layer_param(child ? dz_layer_child(l, child) : l, name);
}

START_TEST(test_linear_lazy)
{
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    dz_layer *l = dz_linear_layer_new(3, 0, false, DZ_F64, &rng);
    ck_assert_ptr_null(weight(l, NULL, "W")->data);
    ck_assert_int_eq(dz_layer_count_params(l), 3);
    dz_scope_begin();
    dz_variable *x = tc_randn(2, 2, DZ_SHAPE(4, 5));
    dz_variable *y = dz_layer_call(l, x);
    dz_variable *W = weight(l, NULL, "W");
    ck_assert_int_eq(W->data->shape[0], 5);
    ck_assert_int_eq(W->data->shape[1], 3);
    ck_assert_int_eq(y->data->shape[0], 4);
    ck_assert_int_eq(y->data->shape[1], 3);
    /* y = x W + b with b = 0 at init */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 5; k++)
                s += tc_at(x, i * 5 + k) * tc_at(W, k * 3 + j);
            ck_assert(fabs(tc_at(y, i * 3 + j) - s) < 1e-12);
        }
    /* W ~ N(0, 1) * sqrt(1/5): the sample std is near 0.447 */
    double sq = 0;
    for (int i = 0; i < 15; i++)
        sq += tc_at(W, i) * tc_at(W, i);
    ck_assert(sqrt(sq / 15) > 0.15 && sqrt(sq / 15) < 0.9);
    dz_scope_end();
    dz_layer_free(l);
}
END_TEST

START_TEST(test_linear_nobias_and_eager)
{
    dz_layer *l = dz_linear_layer_new(2, 3, true, DZ_F32, NULL);
    ck_assert_ptr_null(weight(l, NULL, "b"));
    ck_assert_int_eq(weight(l, NULL, "W")->data->dtype, DZ_F32);
    ck_assert_int_eq(dz_layer_count_params(l), 6);
    dz_layer_free(l);
}
END_TEST

static dz_variable *layer_on_input(dz_variable *const *in, void *ctx)
{
    dz_layer *l = ctx;
    dz_layer_reset_state(l);
    dz_variable *h = dz_layer_call(l, in[0]);
    h = dz_layer_call(l, in[0]); /* a second step uses the state */
    return h;
}

static void check_layer_gradients(dz_layer *l, dz_variable *x)
{
    dz_param_list *p = dz_layer_params(l);
    dz_variable *inputs[16] = {x};
    for (int i = 0; i < p->count; i++)
        inputs[i + 1] = p->params[i];
    tc_assert_gradient(layer_on_input, l, p->count + 1, inputs);
    dz_param_list_free(p);
    dz_layer_reset_state(l);
}

START_TEST(test_mlp)
{
    dz_rng rng;
    dz_rng_seed(&rng, 2);
    dz_layer *m = dz_mlp_new(3, (const int64_t[]){5, 4, 2}, dz_tanh, DZ_F64, &rng);
    dz_scope_begin();
    dz_variable *x = tc_randn(3, 2, DZ_SHAPE(6, 3));
    dz_variable *y = dz_layer_call(m, x);
    ck_assert_int_eq(y->data->shape[1], 2);
    dz_param_list *p = dz_layer_params(m);
    ck_assert_int_eq(p->count, 6);
    ck_assert_str_eq(p->paths[0], "l0/W");
    ck_assert_str_eq(p->paths[5], "l2/b");
    dz_param_list_free(p);
    check_layer_gradients(m, x);
    dz_scope_end();
    dz_layer_free(m);
}
END_TEST

START_TEST(test_rnn)
{
    dz_rng rng;
    dz_rng_seed(&rng, 4);
    dz_layer *r = dz_rnn_layer_new(5, 3, DZ_F64, &rng);
    dz_variable *Wh = weight(r, "h2h", "W");
    ck_assert_int_eq(Wh->data->shape[0], 5); /* (hidden, hidden), not (in, hidden) */
    ck_assert_int_eq(Wh->data->shape[1], 5);
    ck_assert_ptr_null(weight(r, "h2h", "b"));
    dz_scope_begin();
    dz_variable *x = tc_randn(5, 2, DZ_SHAPE(2, 3));
    dz_variable *h1 = dz_layer_call(r, x);
    dz_variable *h2 = dz_layer_call(r, x);
    ck_assert(fabs(tc_at(h1, 0) - tc_at(h2, 0)) > 1e-9); /* the state changed the second step */
    dz_layer_reset_state(r);
    dz_variable *h3 = dz_layer_call(r, x);
    ck_assert_double_eq(tc_at(h1, 0), tc_at(h3, 0));
    check_layer_gradients(r, x);
    dz_scope_end();
    dz_layer_free(r);
}
END_TEST

START_TEST(test_lstm)
{
    dz_rng rng;
    dz_rng_seed(&rng, 6);
    dz_layer *r = dz_lstm_layer_new(4, 3, DZ_F64, &rng);
    dz_param_list *p = dz_layer_params(r);
    ck_assert_int_eq(p->count, 12);
    dz_param_list_free(p);
    dz_scope_begin();
    dz_variable *x = tc_randn(7, 2, DZ_SHAPE(2, 3));
    dz_variable *h = dz_layer_call(r, x);
    ck_assert_int_eq(h->data->shape[0], 2);
    ck_assert_int_eq(h->data->shape[1], 4);
    check_layer_gradients(r, x);
    dz_scope_end();
    dz_layer_free(r);
}
END_TEST

static Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_linear_lazy);
    tcase_add_test(tc, test_linear_nobias_and_eager);
    tcase_add_test(tc, test_mlp);
    tcase_add_test(tc, test_rnn);
    tcase_add_test(tc, test_lstm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(layers_suite()); }

/* Normalization: batch_norm, layer_norm, gelu and the BatchNorm, LayerNorm,
 * GELU and Dropout layers — gradient checks in f64 (first and second order,
 * recorded backward against the fast one), golden values from PyTorch in f32
 * (batch_norm's running averages over three train steps, then eval mode),
 * test mode, the layers' lazy parameters and a save / load round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures/norm_golden.h"
#include "test_nn_common.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))
#define GOLDEN_RTOL 2e-6

/* ---- gradient checks ----------------------------------------------------------------------- */

typedef struct {
    dz_array *running_mean, *running_var; /* NULL: none */
    bool affine;
} bn_ctx;

/* inputs: x, then gamma and beta when affine. */
static dz_variable *call_batch_norm(dz_variable *const *in, void *vctx)
{
    const bn_ctx *c = vctx;
    return dz_batch_norm(in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->running_mean,
                         c->running_var, 0.9, 2e-5);
}

static void check_all_orders(dz_checked_fn f, void *ctx, int n, dz_variable *const *in)
{
    tc_assert_gradient(f, ctx, n, in);
    tc_assert_double_gradient(f, ctx, n, in);
    tn_assert_recorded_matches_raw(f, ctx, n, in);
}

/* f64 running averages (C,): mean near 0, var near 1. */
static dz_array *running(uint64_t seed, int64_t C, double shift)
{
    dz_variable *r = tc_randn(seed, 1, &C);
    dz_array *a = dz_array_retain(r->data);
    double *d = a->data;
    for (int64_t i = 0; i < C; i++)
        d[i] = shift + 0.2 * d[i];
    return a;
}

START_TEST(test_batch_norm_gradients)
{
    const int64_t shapes[][4] = {{5, 3}, {2, 3, 2, 2}, {1, 3, 3, 1}};
    const int ndims[] = {2, 4, 4};
    for (int train = 0; train < 2; train++) {
        bool was = dz_set_train(train);
        for (int s = 0; s < 3; s++) {
            dz_scope_begin();
            bn_ctx c = {running(10 + s, 3, 0.1), running(20 + s, 3, 1.0), true};
            dz_variable *in[3] = {tc_randn(30 + s, ndims[s], shapes[s]), tc_randn(40 + s, 1, DZ_SHAPE(3)),
                                  tc_randn(50 + s, 1, DZ_SHAPE(3))};
            check_all_orders(call_batch_norm, &c, 3, in);
            c.affine = false;
            check_all_orders(call_batch_norm, &c, 1, in);
            if (train) { /* no running averages to update */
                dz_array_release(c.running_mean);
                dz_array_release(c.running_var);
                c.running_mean = c.running_var = NULL;
                check_all_orders(call_batch_norm, &c, 1, in);
            }
            dz_array_release(c.running_mean);
            dz_array_release(c.running_var);
            dz_scope_end();
        }
        dz_set_train(was);
    }
}
END_TEST

typedef struct {
    int ndim;
    double eps;
    bool affine;
} ln_ctx;

static dz_variable *call_layer_norm(dz_variable *const *in, void *vctx)
{
    const ln_ctx *c = vctx;
    return dz_layer_norm(in[0], c->ndim, c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->eps);
}

START_TEST(test_layer_norm_gradients)
{
    const int64_t shape[3] = {2, 3, 4};
    for (int ndim = 1; ndim <= 3; ndim++) {
        dz_scope_begin();
        const int64_t *normalized = shape + 3 - ndim;
        ln_ctx c = {ndim, 1e-5, true};
        dz_variable *in[3] = {tc_randn(60 + ndim, 3, shape), tc_randn(70 + ndim, ndim, normalized),
                              tc_randn(80 + ndim, ndim, normalized)};
        check_all_orders(call_layer_norm, &c, 3, in);
        c = (ln_ctx){ndim, 0.1, false};
        check_all_orders(call_layer_norm, &c, 1, in);
        dz_scope_end();
    }
}
END_TEST

static dz_variable *call_gelu(dz_variable *const *in, void *ctx) { return dz_gelu(in[0], *(const bool *)ctx); }

START_TEST(test_gelu_gradients)
{
    static bool tanh_approximation[2] = {false, true};
    for (int form = 0; form < 2; form++) {
        dz_scope_begin();
        dz_variable *x = tc_randn(90 + form, 2, DZ_SHAPE(4, 5));
        double *d = x->data->data;
        for (int64_t i = 0; i < x->data->size; i++)
            d[i] *= 2; /* reach the tails */
        check_all_orders(call_gelu, &tanh_approximation[form], 1, &x);
        dz_scope_end();
    }
}
END_TEST

/* ---- golden values ------------------------------------------------------------------------- */

static dz_variable *f32_var(int ndim, const int64_t *shape, const double *values)
{
    return tc_var(DZ_F32, ndim, shape, values);
}

typedef struct {
    const double *x, *gy, *y, *gx, *ggamma, *gbeta, *mean, *var;
} bn_step;

/* One forward and backward, compared with PyTorch's step (running averages after it too). */
static void check_bn_step(int ndim, const int64_t *shape, dz_variable *gamma, dz_variable *beta, dz_array *mean,
                          dz_array *var, const bn_step *g)
{
    dz_scope_begin();
    int64_t C = shape[1];
    dz_variable *x = f32_var(ndim, shape, g->x);
    dz_variable_cleargrad(gamma);
    dz_variable_cleargrad(beta);
    dz_variable *y = dz_batch_norm(x, gamma, beta, mean, var, 0.9, 2e-5);
    ck_assert_ptr_nonnull(y);
    tc_assert_close(y->data, g->y, x->data->size, GOLDEN_RTOL);
    tc_assert_close(mean, g->mean, C, GOLDEN_RTOL);
    tc_assert_close(var, g->var, C, GOLDEN_RTOL);
    dz_variable_set_grad(y, f32_var(ndim, shape, g->gy));
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
    tc_assert_close(x->grad->data, g->gx, x->data->size, GOLDEN_RTOL);
    tc_assert_close(gamma->grad->data, g->ggamma, C, GOLDEN_RTOL);
    tc_assert_close(beta->grad->data, g->gbeta, C, GOLDEN_RTOL);
    dz_scope_end();
}

#define BN_STEP(p, s)                                                                                               \
    ((bn_step){p##s##_x, p##s##_gy, p##s##_y, p##s##_gx, p##s##_ggamma, p##s##_gbeta, p##s##_mean, p##s##_var})

static void check_bn_golden(int ndim, const int64_t *shape, const double *gamma0, const double *beta0,
                            const double *mean0, const double *var0, const bn_step *steps)
{
    int64_t C = shape[1];
    dz_variable *gamma = dz_scope_keep(f32_var(1, &C, gamma0)), *beta = dz_scope_keep(f32_var(1, &C, beta0));
    dz_array *mean = dz_array_retain(f32_var(1, &C, mean0)->data), *var = dz_array_retain(f32_var(1, &C, var0)->data);
    for (int step = 0; step < 4; step++) { /* three train steps, then eval */
        bool was = dz_set_train(step < 3);
        check_bn_step(ndim, shape, gamma, beta, mean, var, &steps[step]);
        dz_set_train(was);
    }
    dz_variable_release(gamma);
    dz_variable_release(beta);
    dz_array_release(mean);
    dz_array_release(var);
}

START_TEST(test_batch_norm_golden)
{
    dz_scope_begin();
    const bn_step steps2[4] = {BN_STEP(golden_bn2_, s0), BN_STEP(golden_bn2_, s1), BN_STEP(golden_bn2_, s2),
                               BN_STEP(golden_bn2_, eval)};
    check_bn_golden(2, DZ_SHAPE(6, 4), golden_bn2_gamma, golden_bn2_beta, golden_bn2_mean0, golden_bn2_var0, steps2);
    const bn_step steps4[4] = {BN_STEP(golden_bn4_, s0), BN_STEP(golden_bn4_, s1), BN_STEP(golden_bn4_, s2),
                               BN_STEP(golden_bn4_, eval)};
    check_bn_golden(4, DZ_SHAPE(3, 2, 4, 5), golden_bn4_gamma, golden_bn4_beta, golden_bn4_mean0, golden_bn4_var0,
                    steps4);
    dz_scope_end();
}
END_TEST

START_TEST(test_layer_norm_golden)
{
    dz_scope_begin();
    const int64_t *shape = DZ_SHAPE(3, 4, 5);
    dz_variable *x = f32_var(3, shape, golden_ln_x), *w = f32_var(2, shape + 1, golden_ln_w);
    dz_variable *b = f32_var(2, shape + 1, golden_ln_b);
    dz_variable *y = dz_layer_norm(x, 2, w, b, 1e-5);
    tc_assert_close(y->data, golden_ln_y, N_OF(golden_ln_y), GOLDEN_RTOL);
    dz_variable_set_grad(y, f32_var(3, shape, golden_ln_gy));
    dz_variable_backward(y, false, false);
    tc_assert_close(x->grad->data, golden_ln_gx, N_OF(golden_ln_gx), GOLDEN_RTOL);
    tc_assert_close(w->grad->data, golden_ln_gw, N_OF(golden_ln_gw), GOLDEN_RTOL);
    tc_assert_close(b->grad->data, golden_ln_gb, N_OF(golden_ln_gb), GOLDEN_RTOL);

    dz_variable_cleargrad(x);
    y = dz_layer_norm(x, 1, NULL, NULL, 1e-3);
    tc_assert_close(y->data, golden_ln_plain_y, N_OF(golden_ln_plain_y), GOLDEN_RTOL);
    dz_variable_set_grad(y, f32_var(3, shape, golden_ln_gy));
    dz_variable_backward(y, false, true); /* the recorded backward, in f32 */
    tc_assert_close(x->grad->data, golden_ln_plain_gx, N_OF(golden_ln_plain_gx), GOLDEN_RTOL);
    dz_variable_cleargrad(x);
    dz_scope_end();
}
END_TEST

START_TEST(test_gelu_golden)
{
    const double *ys[2] = {golden_gelu_none_y, golden_gelu_tanh_y};
    const double *gxs[2] = {golden_gelu_none_gx, golden_gelu_tanh_gx};
    for (int form = 0; form < 2; form++) {
        dz_scope_begin();
        int64_t n = N_OF(golden_gelu_x);
        dz_variable *x = f32_var(1, &n, golden_gelu_x);
        dz_variable *y = dz_gelu(x, form == 1);
        tc_assert_close(y->data, ys[form], n, 1e-6);
        dz_variable_set_grad(y, f32_var(1, &n, golden_gelu_gy));
        dz_variable_backward(y, false, false);
        tc_assert_close(x->grad->data, gxs[form], n, 1e-6);
        dz_scope_end();
    }
}
END_TEST

/* ---- semantics ----------------------------------------------------------------------------- */

/* Test mode: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta, the running averages unchanged. */
START_TEST(test_batch_norm_test_mode)
{
    dz_scope_begin();
    bool was = dz_set_train(false);
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    dz_variable *gamma = tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){2, -1});
    dz_variable *beta = tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){0.5, 0});
    dz_array *mean = dz_array_retain(tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){1, -1})->data);
    dz_array *var = dz_array_retain(tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){3, 0.25})->data);
    dz_variable *y = dz_batch_norm(x, gamma, beta, mean, var, 0.9, 1e-3);
    double s0 = 1 / sqrt(3.001), s1 = 1 / sqrt(0.251);
    tc_assert_values(y->data, (double[]){0.5, -3 * s1, 2 * 2 * s0 + 0.5, -5 * s1}, 4, 1e-12);
    tc_assert_values(mean, (double[]){1, -1}, 2, 0);
    tc_assert_values(var, (double[]){3, 0.25}, 2, 0);
    dz_variable_backward(y, false, false); /* gx = gamma / sqrt(var + eps): the averages are constants */
    tc_assert_values(x->grad->data, (double[]){2 * s0, -s1, 2 * s0, -s1}, 4, 1e-12);
    tc_assert_values(beta->grad->data, (double[]){2, 2}, 2, 0);
    dz_set_train(was);
    dz_array_release(mean);
    dz_array_release(var);
    dz_scope_end();
}
END_TEST

/* DeZero's running var adjust m / max(m - 1, 1): with one value per channel the var (0) is added as is. */
START_TEST(test_batch_norm_running_update)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(2, 1), (double[]){1, 4}); /* mean 2.5, biased var 2.25 */
    dz_array *mean = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(1)), *var = dz_array_ones(DZ_F64, 1, DZ_SHAPE(1));
    dz_batch_norm(x, NULL, NULL, mean, var, 0.8, 2e-5);
    tc_assert_values(mean, (double[]){0.2 * 2.5}, 1, 1e-15);
    tc_assert_values(var, (double[]){0.8 + 0.2 * 2 * 2.25}, 1, 1e-15);
    dz_variable *one = tc_var(DZ_F64, 4, DZ_SHAPE(1, 1, 1, 1), (double[]){7});
    dz_variable *y = dz_batch_norm(one, NULL, NULL, mean, var, 0.5, 2e-5);
    tc_assert_values(y->data, (double[]){0}, 1, 0);
    tc_assert_values(mean, (double[]){0.5 * (0.2 * 2.5) + 0.5 * 7}, 1, 1e-15);
    tc_assert_values(var, (double[]){0.5 * (0.8 + 0.2 * 2 * 2.25)}, 1, 1e-15);
    dz_array_release(mean);
    dz_array_release(var);
    dz_scope_end();
}
END_TEST

/* ---- layers -------------------------------------------------------------------------------- */

static char dir[] = "/tmp/dz_norm_XXXXXX";

static void make_dir(void) { ck_assert_ptr_nonnull(mkdtemp(dir)); }

static void remove_dir(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/dz_norm_XXXXXX");
}

static void assert_same_array(const dz_array *a, const dz_array *b)
{
    ck_assert(dz_array_same_shape(a, b));
    ck_assert_int_eq(a->dtype, b->dtype);
    for (int64_t i = 0; i < a->size; i++)
        ck_assert_double_eq(dz_array_get(a, i), dz_array_get(b, i));
}

/* Lazy parameters from x's dim 1 and dtype, the running averages updated by
 * forward only (an optimizer finds no grad on them), and a save / load round
 * trip into a new lazy layer that then gives the same test-mode outputs. */
START_TEST(test_batch_norm_layer)
{
    make_dir();
    dz_scope_begin();
    dz_layer *bn = dz_batch_norm_layer_new();
    ck_assert_int_eq(dz_layer_count_params(bn), 0);
    dz_param_list *list = dz_layer_params(bn);
    ck_assert_int_eq(list->count, 4);
    const char *names[4] = {"avg_mean", "avg_var", "gamma", "beta"};
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(list->paths[i], names[i]);
    dz_param_list_free(list);

    dz_optimizer *sgd = dz_sgd_new(NULL);
    dz_optimizer_setup(sgd, bn);
    dz_rng rng;
    dz_rng_seed(&rng, 5);
    const int64_t *shape = DZ_SHAPE(4, 3, 2, 2);
    dz_array *x = NULL, *previous = NULL;
    for (int step = 0; step < 3; step++) {
        dz_array_release(x);
        x = dz_array_normal(&rng, DZ_F32, 4, shape, 1.0, 2.0);
        dz_variable *y = dz_layer_call(bn, dz_variable_constant(dz_array_retain(x), NULL));
        ck_assert_ptr_nonnull(y);
        dz_variable *w = dz_variable_constant(dz_array_normal(&rng, DZ_F32, 4, shape, 0, 1), NULL);
        dz_layer_cleargrads(bn);
        dz_variable_backward(dz_sum(dz_mul(y, w), 0, NULL, false), false, false);
        ck_assert_ptr_null(dz_layer_param(bn, "avg_mean")->grad);
        ck_assert_ptr_null(dz_layer_param(bn, "avg_var")->grad);
        ck_assert_ptr_nonnull(dz_layer_param(bn, "gamma")->grad);
        dz_array *mean = dz_array_copy(dz_layer_param(bn, "avg_mean")->data);
        dz_array *gamma = dz_array_copy(dz_layer_param(bn, "gamma")->data);
        ck_assert_int_eq(dz_optimizer_update(sgd), DZ_OK);
        assert_same_array(dz_layer_param(bn, "avg_mean")->data, mean); /* the optimizer skips it */
        ck_assert(dz_array_get(dz_layer_param(bn, "gamma")->data, 0) != dz_array_get(gamma, 0));
        ck_assert(!previous || dz_array_get(previous, 0) != dz_array_get(mean, 0)); /* forward moves it */
        dz_array_release(previous);
        dz_array_release(gamma);
        previous = mean;
    }
    dz_array_release(previous);
    ck_assert_int_eq(dz_layer_count_params(bn), 12);
    for (int i = 0; i < 4; i++) {
        const dz_array *p = dz_layer_param(bn, names[i])->data;
        ck_assert_int_eq(p->dtype, DZ_F32);
        ck_assert(dz_shape_equal(p->ndim, p->shape, 1, DZ_SHAPE(3)));
    }

    char path[64];
    snprintf(path, sizeof path, "%s/bn.npz", dir);
    ck_assert_int_eq(dz_layer_save_weights(bn, path, false), DZ_OK);
    dz_layer *loaded = dz_batch_norm_layer_new();
    ck_assert_int_eq(dz_layer_load_weights(loaded, path), DZ_OK);
    for (int i = 0; i < 4; i++)
        assert_same_array(dz_layer_param(loaded, names[i])->data, dz_layer_param(bn, names[i])->data);
    bool was = dz_set_train(false);
    dz_variable *a = dz_layer_call(bn, dz_variable_constant(dz_array_retain(x), NULL));
    dz_variable *b = dz_layer_call(loaded, dz_variable_constant(dz_array_retain(x), NULL));
    assert_same_array(a->data, b->data);
    dz_set_train(was);

    dz_array_release(x);
    dz_optimizer_free(sgd);
    dz_layer_free(bn);
    dz_layer_free(loaded);
    dz_scope_end();
    remove_dir();
}
END_TEST

START_TEST(test_layer_norm_layer)
{
    dz_scope_begin();
    const int64_t *shape = DZ_SHAPE(3, 4, 5);
    dz_layer *ln = dz_layer_norm_layer_new(2, shape + 1, 1e-5, true, DZ_F32);
    dz_variable *w = dz_layer_param(ln, "weight"), *b = dz_layer_param(ln, "bias");
    tc_assert_values(w->data, (double[20]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 20, 0);
    tc_assert_values(b->data, (double[20]){0}, 20, 0);
    dz_variable_set_data(w, dz_array_retain(f32_var(2, shape + 1, golden_ln_w)->data));
    dz_variable_set_data(b, dz_array_retain(f32_var(2, shape + 1, golden_ln_b)->data));
    dz_variable *y = dz_layer_call(ln, f32_var(3, shape, golden_ln_x));
    tc_assert_close(y->data, golden_ln_y, N_OF(golden_ln_y), GOLDEN_RTOL);
    dz_layer_free(ln);

    dz_layer *plain = dz_layer_norm_layer_new(1, DZ_SHAPE(5), 1e-3, false, DZ_F32);
    ck_assert_int_eq(plain->nparams, 0);
    y = dz_layer_call(plain, f32_var(3, shape, golden_ln_x));
    tc_assert_close(y->data, golden_ln_plain_y, N_OF(golden_ln_plain_y), GOLDEN_RTOL);
    dz_layer_free(plain);
    dz_scope_end();
}
END_TEST

START_TEST(test_gelu_and_dropout_layers)
{
    dz_scope_begin();
    int64_t n = N_OF(golden_gelu_x);
    dz_variable *x = f32_var(1, &n, golden_gelu_x);
    dz_layer *gelu = dz_gelu_layer_new(true);
    tc_assert_close(dz_layer_call(gelu, x)->data, golden_gelu_tanh_y, n, 1e-6);
    dz_layer_free(gelu);

    dz_rng a, b;
    dz_rng_seed(&a, 9);
    dz_rng_seed(&b, 9);
    dz_layer *dropout = dz_dropout_layer_new(0.5, &a);
    dz_variable *y = dz_layer_call(dropout, x), *expected = dz_dropout(x, 0.5, &b);
    assert_same_array(y->data, expected->data);
    int zeros = 0;
    for (int64_t i = 0; i < n; i++)
        zeros += tc_at(y, i) == 0 && tc_at(x, i) != 0;
    ck_assert(zeros > 0 && zeros < n);
    bool was = dz_set_train(false);
    y = dz_layer_call(dropout, x);
    assert_same_array(y->data, x->data);
    dz_set_train(was);
    dz_layer_free(dropout);
    dz_scope_end();
}
END_TEST

/* ---- bad inputs ---------------------------------------------------------------------------- */

START_TEST(test_bad_inputs)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable *g2 = tc_var(DZ_F32, 1, DZ_SHAPE(2), (double[]){1, 1});
    dz_array *m3 = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), *m2 = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2));
    dz_array *m3d = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3));
    ASSERT_ERROR(dz_batch_norm(x, g2, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_SHAPE, "gamma has shape (2,)");
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, m2, m2, 0.9, 2e-5), DZ_ERR_SHAPE, "running_mean has shape (2,)");
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, m3d, m3, 0.9, 2e-5), DZ_ERR_DTYPE, "running_mean is float64");
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, m3, NULL, 0.9, 2e-5), DZ_ERR_NULL, "give both or neither");
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, m3, m3, 1.5, 2e-5), DZ_ERR_VALUE, "decay 1.5");
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, NULL, NULL, 0.9, -1), DZ_ERR_VALUE, "eps -1");
    ASSERT_ERROR(dz_batch_norm(tc_var(DZ_F32, 3, DZ_SHAPE(1, 3, 1), (double[]){1, 2, 3}), NULL, NULL, NULL, NULL,
                               0.9, 2e-5), DZ_ERR_SHAPE, "(N, C) or (N, C, H, W)");
    dz_variable *empty = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(0, 3)), NULL);
    ASSERT_ERROR(dz_batch_norm(empty, NULL, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_SHAPE, "no values per channel");
    bool was = dz_set_train(false);
    ASSERT_ERROR(dz_batch_norm(x, NULL, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_VALUE, "in test mode");
    dz_set_train(was);
    ASSERT_ERROR(dz_layer_norm(x, 3, NULL, NULL, 1e-5), DZ_ERR_VALUE, "ndim 3 must be 1 to 2");
    ASSERT_ERROR(dz_layer_norm(x, 1, g2, NULL, 1e-5), DZ_ERR_SHAPE, "gamma has shape (2,) but x (2, 3) needs (3,)");
    ASSERT_ERROR(dz_layer_norm(x, 1, NULL, g2, 1e-5), DZ_ERR_SHAPE, "beta has shape (2,)");
    ASSERT_ERROR(dz_gelu(tc_var(DZ_I32, 1, DZ_SHAPE(1), (double[]){1}), false), DZ_ERR_DTYPE, "dz_gelu");

    dz_layer *bn = dz_batch_norm_layer_new();
    ck_assert_ptr_nonnull(dz_layer_call(bn, x));
    ASSERT_ERROR(dz_layer_call(bn, tc_var(DZ_F32, 2, DZ_SHAPE(1, 2), (double[]){1, 2})), DZ_ERR_SHAPE,
                 "has 2 channels");
    ASSERT_ERROR(dz_layer_call(bn, tc_var(DZ_F64, 2, DZ_SHAPE(1, 3), (double[]){1, 2, 3})), DZ_ERR_DTYPE,
                 "this BatchNorm layer is float32");
    dz_layer_free(bn);
    dz_layer *ln = dz_layer_norm_layer_new(1, DZ_SHAPE(4), 1e-5, true, DZ_F32);
    ASSERT_ERROR(dz_layer_call(ln, x), DZ_ERR_SHAPE, "normalises the last dims (4,)");
    dz_layer_free(ln);
    ASSERT_ERROR(dz_layer_norm_layer_new(0, DZ_SHAPE(4), 1e-5, true, DZ_F32), DZ_ERR_VALUE, "ndim 0");
    ASSERT_ERROR(dz_dropout_layer_new(1.0, NULL), DZ_ERR_VALUE, "ratio 1");
    dz_array_release(m3);
    dz_array_release(m2);
    dz_array_release(m3d);
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *normalization_suite(void)
{
    Suite *s = suite_create("normalization");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_batch_norm_gradients);
    tcase_add_test(tc, test_layer_norm_gradients);
    tcase_add_test(tc, test_gelu_gradients);
    tcase_add_test(tc, test_batch_norm_golden);
    tcase_add_test(tc, test_layer_norm_golden);
    tcase_add_test(tc, test_gelu_golden);
    tcase_add_test(tc, test_batch_norm_test_mode);
    tcase_add_test(tc, test_batch_norm_running_update);
    tcase_add_test(tc, test_batch_norm_layer);
    tcase_add_test(tc, test_layer_norm_layer);
    tcase_add_test(tc, test_gelu_and_dropout_layers);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(normalization_suite()); }

/* dz_embedding_bag and the EmbeddingBag layer: PyTorch 1.13 golden fixtures
 * (fixtures/embedding_golden.h), the EmbeddingBag tests of PyTorch's
 * test_embedding.py and golden vectors G9/G10, gradient checks, sparse grads
 * and bad inputs. */
#include <string.h>

#include "fixtures/embedding_golden.h"
#include "test_common.h"

/* ---- helpers ----------------------------------------------------------------- */

static dz_embedding_bag_options bag_options(dz_embedding_bag_mode mode)
{
    dz_embedding_bag_options o = dz_embedding_bag_default_options();
    o.mode = mode;
    return o;
}

static dz_embedding_bag_options padded(dz_embedding_bag_mode mode, int64_t padding_idx)
{
    dz_embedding_bag_options o = bag_options(mode);
    o.has_padding_idx = true;
    o.padding_idx = padding_idx;
    return o;
}

/* Runs the bag with upstream gy; returns y (W and psw get their grads). */
static dz_variable *bag_backward(dz_variable *idx, dz_variable *offsets, dz_variable *W, dz_variable *psw,
                                 const dz_embedding_bag_options *o, dz_variable *gy)
{
    dz_variable *y = dz_embedding_bag(idx, offsets, W, psw, o);
    ck_assert_msg(y != NULL, "%s", dz_last_error());
    dz_variable_set_grad(y, gy);
    ck_assert_int_eq(dz_variable_backward(y, true, false), DZ_OK);
    return y;
}

static dz_variable *fixture_w(void) { return tc_f32(2, DZ_SHAPE(BAG_V, BAG_D), bag_w); }
static dz_variable *fixture_idx(void) { return tc_i64(1, DZ_SHAPE(BAG_N), bag_idx); }
static dz_variable *fixture_offsets(void) { return tc_i64(1, DZ_SHAPE(BAG_B), bag_offsets); }
static dz_variable *fixture_gy(void) { return tc_f32(2, DZ_SHAPE(BAG_B, BAG_D), bag_gy); }

/* ---- PyTorch fixtures ------------------------------------------------------------ */

START_TEST(test_golden_modes)
{
    const float *y_plain[3] = {bag_sum_y, bag_mean_y, bag_max_y}, *gw_plain[3] = {bag_sum_gw, bag_mean_gw, bag_max_gw};
    const float *y_pad[3] = {bag_sum_pad3_y, bag_mean_pad3_y, bag_max_pad3_y};
    const float *gw_pad[3] = {bag_sum_pad3_gw, bag_mean_pad3_gw, bag_max_pad3_gw};
    dz_scope_begin();
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options o = bag_options((dz_embedding_bag_mode)m);
        dz_variable *W = fixture_w();
        dz_variable *y = bag_backward(fixture_idx(), fixture_offsets(), W, NULL, &o, fixture_gy());
        ck_assert(dz_shape_equal(2, y->data->shape, 2, DZ_SHAPE(BAG_B, BAG_D)));
        tc_assert_bits(y->data, y_plain[m], BAG_B * BAG_D);
        tc_assert_bits(W->grad->data, gw_plain[m], BAG_V * BAG_D);
        dz_embedding_bag_options p = padded((dz_embedding_bag_mode)m, 3);
        dz_variable *Wp = fixture_w();
        y = bag_backward(fixture_idx(), fixture_offsets(), Wp, NULL, &p, fixture_gy());
        tc_assert_bits(y->data, y_pad[m], BAG_B * BAG_D);
        tc_assert_bits(Wp->grad->data, gw_pad[m], BAG_V * BAG_D);
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_golden_per_sample_weights)
{
    dz_scope_begin();
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_SUM);
    dz_variable *W = fixture_w(), *psw = tc_f32(1, DZ_SHAPE(BAG_N), bag_psw);
    dz_variable *y = bag_backward(fixture_idx(), fixture_offsets(), W, psw, &o, fixture_gy());
    tc_assert_bits(y->data, bag_psw_y, BAG_B * BAG_D); /* fma, as PyTorch's fast path */
    tc_assert_bits(W->grad->data, bag_psw_gw, BAG_V * BAG_D);
    tc_assert_bits(psw->grad->data, bag_psw_gpsw, BAG_N);
    dz_embedding_bag_options p = padded(DZ_EMBEDDING_BAG_SUM, 3);
    dz_variable *Wp = fixture_w(), *pswp = tc_f32(1, DZ_SHAPE(BAG_N), bag_psw);
    y = bag_backward(fixture_idx(), fixture_offsets(), Wp, pswp, &p, fixture_gy());
    tc_assert_bits(y->data, bag_psw_pad3_y, BAG_B * BAG_D); /* multiply, then add: the slow path */
    tc_assert_bits(Wp->grad->data, bag_psw_pad3_gw, BAG_V * BAG_D);
    tc_assert_bits(pswp->grad->data, bag_psw_pad3_gpsw, BAG_N);
    dz_scope_end();
}
END_TEST

START_TEST(test_golden_last_offset_and_2d)
{
    dz_scope_begin();
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_MEAN);
    o.include_last_offset = true;
    dz_variable *W = fixture_w();
    dz_variable *y = bag_backward(fixture_idx(), tc_i64(1, DZ_SHAPE(BAG_B + 1), bag_last_offsets), W, NULL, &o,
                                  fixture_gy());
    tc_assert_bits(y->data, bag_last_mean_y, BAG_B * BAG_D);
    tc_assert_bits(W->grad->data, bag_last_mean_gw, BAG_V * BAG_D);
    const float *y2[3] = {bag2d_sum_y, bag2d_mean_y, bag2d_max_y}, *gw2[3] = {bag2d_sum_gw, bag2d_mean_gw,
                                                                              bag2d_max_gw};
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options o2 = bag_options((dz_embedding_bag_mode)m);
        o2.include_last_offset = true; /* ignored for 2-D idx, as PyTorch */
        dz_variable *W2 = fixture_w();
        y = bag_backward(tc_i64(2, DZ_SHAPE(3, 3), bag2d_idx), NULL, W2, NULL, &o2,
                         tc_f32(2, DZ_SHAPE(3, BAG_D), bag2d_gy));
        tc_assert_bits(y->data, y2[m], 3 * BAG_D);
        tc_assert_bits(W2->grad->data, gw2[m], BAG_V * BAG_D);
    }
    dz_scope_end();
}
END_TEST

/* ---- PyTorch's tests and golden vectors ------------------------------------------------- */

static const int64_t torch_input[6] = {3, 1, 1, 1, 4, 0};
static const int64_t torch_offsets[5] = {0, 0, 3, 3, 6};

static dz_variable *arange_w(void) /* arange(1, 11).view(5, 2) */
{
    dz_array *a = dz_array_arange(DZ_F32, 1, 11, 1);
    dz_variable *W = dz_variable_new(dz_array_reshape(a, 2, DZ_SHAPE(5, 2)), NULL);
    dz_array_release(a);
    return W;
}

START_TEST(test_torch_embedding_bag)
{
    const double out_sum[10] = {0, 0, 13, 16, 0, 0, 13, 16, 0, 0}, grad_sum[10] = {3, 4, 5, 8, 0, 0, 1, 2, 3, 4};
    const double out_max[10] = {0, 0, 7, 8, 0, 0, 9, 10, 0, 0}, grad_max[10] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const double upstream[10] = {99, 99, 1, 2, 99, 99, 3, 4, 99, 99};
    dz_scope_begin();
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options o = bag_options((dz_embedding_bag_mode)m);
        double out[10], grad[10];
        for (int i = 0; i < 10; i++) {
            out[i] = m == 2 ? out_max[i] : m == 1 ? out_sum[i] / 3 : out_sum[i];
            grad[i] = m == 2 ? grad_max[i] : m == 1 ? grad_sum[i] / 3 : grad_sum[i];
        }
        dz_variable *W = arange_w();
        dz_variable *y = bag_backward(tc_i64(1, DZ_SHAPE(6), torch_input), tc_i64(1, DZ_SHAPE(5), torch_offsets), W,
                                      NULL, &o, tc_var(DZ_F32, 2, DZ_SHAPE(5, 2), upstream));
        tc_assert_values(y->data, out, 10, 1e-6);
        tc_assert_values(W->grad->data, grad, 10, 1e-6);
        /* the same as fixed bags of a (2, 3) idx */
        dz_variable *W2 = arange_w();
        y = bag_backward(tc_i64(2, DZ_SHAPE(2, 3), torch_input), NULL, W2, NULL, &o,
                         tc_var(DZ_F32, 2, DZ_SHAPE(2, 2), (const double[]){1, 2, 3, 4}));
        tc_assert_values(y->data, (const double[]){out[2], out[3], out[6], out[7]}, 4, 1e-6);
        tc_assert_values(W2->grad->data, grad, 10, 1e-6);
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_torch_empty_bags)
{
    dz_scope_begin();
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options o = bag_options((dz_embedding_bag_mode)m);
        dz_variable *W = arange_w();
        dz_variable *empty = dz_variable_new(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(0)), NULL);
        dz_variable *y = dz_embedding_bag(empty, tc_i64(1, DZ_SHAPE(4), (const int64_t[]){0, 0, 0, 0}), W, NULL, &o);
        ck_assert(dz_shape_equal(2, y->data->shape, 2, DZ_SHAPE(4, 2)));
        dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
        for (int i = 0; i < 10; i++)
            ck_assert_double_eq(tc_grad_at(W, i), 0);
        for (int n = 1; n <= 2; n++) { /* offsets [0] and [0, 0] */
            y = dz_embedding_bag(empty, tc_i64(1, DZ_SHAPE(n), (const int64_t[]){0, 0}), W, NULL, &o);
            ck_assert_int_eq(y->data->shape[0], n);
            for (int i = 0; i < 2 * n; i++)
                ck_assert_double_eq(tc_at(y, i), 0);
        }
    }
    dz_scope_end();
}
END_TEST

/* #89677: include_last_offset with padding_idx 61; offsets [0, 3, 4] gives
 * [mean(W[0:3]), W[3]]. PyTorch also accepts [0, 3, 3] (and counts index 3
 * in the last bag); here offsets[-1] must be len(idx). */
START_TEST(test_torch_include_last_offset)
{
    dz_embedding_bag_options o = padded(DZ_EMBEDDING_BAG_MEAN, 61);
    o.include_last_offset = true;
    dz_rng rng;
    dz_rng_seed(&rng, 11);
    dz_layer *bag = dz_embedding_bag_layer_new(100, 3, &o, DZ_F32, &rng);
    dz_variable *W = dz_layer_param(bag, "W");
    dz_scope_begin();
    dz_variable *in[2] = {tc_i64(1, DZ_SHAPE(4), (const int64_t[]){0, 1, 2, 3}),
                          tc_i64(1, DZ_SHAPE(3), (const int64_t[]){0, 3, 4})};
    dz_variable *y = dz_layer_forward(bag, 2, in);
    ck_assert(dz_shape_equal(2, y->data->shape, 2, DZ_SHAPE(2, 3)));
    for (int d = 0; d < 3; d++) {
        float mean = ((float)dz_array_get(W->data, d) + (float)dz_array_get(W->data, 3 + d)) +
                     (float)dz_array_get(W->data, 6 + d);
        ck_assert_float_eq((float)tc_at(y, d), mean / 3);
        ck_assert_float_eq((float)tc_at(y, 3 + d), (float)dz_array_get(W->data, 9 + d));
    }
    tc_errors_off();
    in[1] = tc_i64(1, DZ_SHAPE(3), (const int64_t[]){0, 3, 3});
    ASSERT_ERROR(dz_layer_forward(bag, 2, in), DZ_ERR_VALUE,
                 "with include_last_offset, offsets[-1] must equal the input's length 4 (it ends the last bag) but "
                 "got offsets[-1] of 3");
    tc_errors_on();
    dz_scope_end();
    dz_layer_free(bag);
}
END_TEST

START_TEST(test_golden_g9_g10)
{
    dz_scope_begin();
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_SUM);
    dz_variable *W = arange_w(), *psw = tc_var(DZ_F32, 1, DZ_SHAPE(6), (const double[]){1, 2, 3, 4, 5, 6});
    dz_variable *y = bag_backward(tc_i64(1, DZ_SHAPE(6), torch_input), tc_i64(1, DZ_SHAPE(5), torch_offsets), W, psw,
                                  &o, tc_var(DZ_F32, 2, DZ_SHAPE(5, 2), (const double[]){0, 0, 1, 2, 0, 0, 3, 4, 0, 0}));
    tc_assert_values(y->data, (const double[]){0, 0, 22, 28, 0, 0, 63, 78, 0, 0}, 10, 0);
    tc_assert_values(psw->grad->data, (const double[]){23, 11, 11, 25, 67, 11}, 6, 0);
    tc_assert_values(W->grad->data, (const double[]){18, 24, 17, 26, 0, 0, 1, 2, 15, 20}, 10, 0);

    const double sum[10] = {0, 0, 7, 8, 0, 0, 10, 12, 0, 0}, mean[10] = {0, 0, 7, 8, 0, 0, 5, 6, 0, 0},
                 max[10] = {0, 0, 7, 8, 0, 0, 9, 10, 0, 0};
    const double *expected[3] = {sum, mean, max};
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options p = padded((dz_embedding_bag_mode)m, 1);
        dz_variable *Wp = arange_w();
        y = bag_backward(tc_i64(1, DZ_SHAPE(6), torch_input), tc_i64(1, DZ_SHAPE(5), torch_offsets), Wp, NULL, &p,
                         dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(5, 2)), NULL));
        tc_assert_values(y->data, expected[m], 10, 0);
        if (m == DZ_EMBEDDING_BAG_MEAN)
            tc_assert_values(Wp->grad->data, (const double[]){.5, .5, 0, 0, 0, 0, 1, 1, .5, .5}, 10, 0);
    }
    dz_scope_end();
}
END_TEST

/* Ties keep the first maximal row (strict >), which gets the grad. */
START_TEST(test_max_ties)
{
    dz_scope_begin();
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_MAX);
    dz_variable *W = tc_var(DZ_F32, 2, DZ_SHAPE(3, 2), (const double[]){1, 5, 2, 5, 2, 0});
    dz_variable *y = bag_backward(tc_i64(2, DZ_SHAPE(1, 3), (const int64_t[]){0, 1, 2}), NULL, W, NULL, &o,
                                  tc_var(DZ_F32, 2, DZ_SHAPE(1, 2), (const double[]){10, 20}));
    tc_assert_values(y->data, (const double[]){2, 5}, 2, 0);
    tc_assert_values(W->grad->data, (const double[]){0, 20, 10, 0, 0, 0}, 6, 0);
    dz_scope_end();
}
END_TEST

/* The divisor is the count of the row's own index (PyTorch before #190264
 * divided rows 3 and 4 by 3 here). */
START_TEST(test_scale_grad_by_freq_counts)
{
    dz_scope_begin();
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_SUM);
    o.scale_grad_by_freq = true;
    dz_variable *W = arange_w();
    bag_backward(tc_i64(2, DZ_SHAPE(2, 3), (const int64_t[]){3, 1, 1, 1, 4, 0}), NULL, W, NULL, &o,
                 dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(2, 2)), NULL));
    tc_assert_values(W->grad->data, (const double[]){1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, 10, 1e-7);
    dz_scope_end();
}
END_TEST

START_TEST(test_sparse)
{
    dz_scope_begin();
    for (int m = 0; m < 2; m++) {
        dz_embedding_bag_options o = padded((dz_embedding_bag_mode)m, 3);
        dz_variable *Wd = fixture_w();
        bag_backward(fixture_idx(), fixture_offsets(), Wd, NULL, &o, fixture_gy());
        o.sparse = true;
        dz_variable *W = fixture_w();
        bag_backward(fixture_idx(), fixture_offsets(), W, NULL, &o, fixture_gy());
        ck_assert_ptr_null(W->grad);
        int64_t kept[BAG_N], n = 0; /* the 3s are dropped */
        for (int j = 0; j < BAG_N; j++)
            if (bag_idx[j] != 3)
                kept[n++] = bag_idx[j];
        ck_assert_int_eq(W->sparse_grad->indices->size, n);
        ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, kept, (size_t)n * sizeof *kept), 0);
        dz_array *dense = dz_sparse_grad_to_dense(W->sparse_grad, BAG_D);
        tc_assert_bits(dense, Wd->grad->data->data, BAG_V * BAG_D);
        dz_array_release(dense);
    }
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_SUM);
    o.sparse = true;
    o.scale_grad_by_freq = true;
    dz_variable *W = fixture_w();
    dz_variable *y = dz_embedding_bag(fixture_idx(), fixture_offsets(), W, NULL, &o);
    ck_assert_ptr_nonnull(y);
    tc_errors_off();
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "scale_grad_by_freq is not supported with sparse"), "%s", dz_last_error());
    tc_errors_on();
    dz_scope_end();
}
END_TEST

/* ---- gradient checks (f64) -------------------------------------------------------------- */

typedef struct {
    dz_variable *idx, *offsets;
    dz_embedding_bag_options opt;
    bool weights;
} bag_ctx;

static dz_variable *bag_fn(dz_variable *const *in, void *vctx)
{
    bag_ctx *c = vctx;
    return dz_embedding_bag(c->idx, c->offsets, in[0], c->weights ? in[1] : NULL, &c->opt);
}

START_TEST(test_gradient_checks)
{
    dz_scope_begin();
    for (int m = 0; m < 3; m++)
        for (int pad = 0; pad < 2; pad++) {
            bag_ctx c = {fixture_idx(), fixture_offsets(), pad ? padded((dz_embedding_bag_mode)m, 3)
                                                             : bag_options((dz_embedding_bag_mode)m), false};
            dz_variable *W = tc_randn(20 + m, 2, DZ_SHAPE(BAG_V, 4));
            tc_assert_gradient(bag_fn, &c, 1, &W);
        }
    bag_ctx c = {fixture_idx(), fixture_offsets(), bag_options(DZ_EMBEDDING_BAG_SUM), true};
    dz_variable *in[2] = {tc_randn(30, 2, DZ_SHAPE(BAG_V, 4)), tc_randn(31, 1, DZ_SHAPE(BAG_N))};
    tc_assert_gradient(bag_fn, &c, 2, in);
    c.opt.has_padding_idx = true;
    c.opt.padding_idx = 1;
    tc_assert_gradient(bag_fn, &c, 2, in);
    bag_ctx c2 = {tc_i64(2, DZ_SHAPE(3, 3), bag2d_idx), NULL, bag_options(DZ_EMBEDDING_BAG_SUM), true};
    dz_variable *in2[2] = {tc_randn(32, 2, DZ_SHAPE(BAG_V, 2)), tc_randn(33, 2, DZ_SHAPE(3, 3))};
    tc_assert_gradient(bag_fn, &c2, 2, in2);
    dz_scope_end();
}
END_TEST

/* ---- layer and bad inputs ------------------------------------------------------------------- */

START_TEST(test_layer)
{
    dz_layer *bag = dz_embedding_bag_layer_new(7, 3, NULL, DZ_F64, NULL);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(bag, tc_i64(2, DZ_SHAPE(2, 2), (const int64_t[]){1, 2, 3, 3}));
    dz_variable *W = dz_layer_param(bag, "W");
    for (int d = 0; d < 3; d++) /* mean by default */
        ck_assert_double_eq_tol(tc_at(y, d), (dz_array_get(W->data, 3 + d) + dz_array_get(W->data, 6 + d)) / 2, 1e-15);
    dz_scope_end();
    dz_layer_free(bag);
    dz_array *w = dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 2));
    dz_embedding_bag_options o = bag_options(DZ_EMBEDDING_BAG_SUM);
    bag = dz_embedding_bag_layer_from_pretrained(w, true, &o);
    dz_scope_begin();
    dz_variable *in[3] = {tc_i64(1, DZ_SHAPE(3), (const int64_t[]){0, 1, 2}),
                          tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1}),
                          tc_var(DZ_F32, 1, DZ_SHAPE(3), (const double[]){1, 2, 3})};
    y = dz_layer_forward(bag, 3, in);
    tc_assert_values(y->data, (const double[]){1, 1, 5, 5}, 4, 0);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    ck_assert_ptr_null(dz_layer_param(bag, "W")->grad); /* frozen */
    ck_assert_ptr_nonnull(in[2]->grad);
    dz_scope_end();
    dz_layer_free(bag);
    dz_array_release(w);
    tc_errors_off();
    o = padded(DZ_EMBEDDING_BAG_SUM, 3);
    ASSERT_ERROR(dz_embedding_bag_layer_new(3, 2, &o, DZ_F32, NULL), DZ_ERR_INDEX,
                 "padding_idx must be within num_embeddings");
    tc_errors_on();
}
END_TEST

START_TEST(test_errors)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *W = dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(10, 3)), NULL);
    dz_variable *idx = tc_i64(1, DZ_SHAPE(4), (const int64_t[]){1, 2, 3, 4});
    dz_variable *off = tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 2});
    dz_variable *idx2 = tc_i64(2, DZ_SHAPE(2, 2), (const int64_t[]){1, 2, 3, 4});
    dz_embedding_bag_options sum = bag_options(DZ_EMBEDDING_BAG_SUM);
    ASSERT_ERROR(dz_embedding_bag(idx2, off, W, NULL, &sum), DZ_ERR_VALUE, "then offsets has to be NULL");
    ASSERT_ERROR(dz_embedding_bag(idx, NULL, W, NULL, &sum), DZ_ERR_VALUE, "offsets has to be a 1D Tensor");
    dz_variable *idx3 = dz_variable_new(dz_array_zeros(DZ_I64, 3, DZ_SHAPE(1, 1, 1)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx3, NULL, W, NULL, &sum), DZ_ERR_SHAPE, "idx has to be a 1D or 2D Tensor");
    dz_variable *off2 = dz_variable_new(dz_array_zeros(DZ_I64, 2, DZ_SHAPE(1, 1)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, off2, W, NULL, &sum), DZ_ERR_SHAPE, "offsets has to be a 1D Tensor");
    dz_variable *wflat = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(3)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, off, wflat, NULL, &sum), DZ_ERR_SHAPE, "weight has to be a 2D Tensor");
    ASSERT_ERROR(dz_embedding_bag(idx, tc_i64(1, DZ_SHAPE(2), (const int64_t[]){1, 2}), W, NULL, &sum), DZ_ERR_VALUE,
                 "offsets[0] has to be 0");
    ASSERT_ERROR(dz_embedding_bag(idx, tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 100}), W, NULL, &sum),
                 DZ_ERR_VALUE, "offsets[-1] can not be greater than input's length 4 but got offsets[-1] of 100");
    ASSERT_ERROR(dz_embedding_bag(idx, tc_i64(1, DZ_SHAPE(3), (const int64_t[]){0, 3, 1}), W, NULL, &sum),
                 DZ_ERR_VALUE, "offsets must not decrease");
    dz_embedding_bag_options last = sum;
    last.include_last_offset = true;
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &last), DZ_ERR_VALUE, "offsets[-1] must equal the input's length 4");
    dz_variable *none = dz_variable_new(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(0)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, none, W, NULL, &last), DZ_ERR_SHAPE, "with at least one entry");
    ASSERT_ERROR(dz_embedding_bag(tc_i64(2, DZ_SHAPE(1, 2), (const int64_t[]){-1, 1}), NULL, W, NULL, &sum),
                 DZ_ERR_INDEX, "dz_embedding_bag: index -1 is out of range for an embedding of 10 rows (at idx[0, 0]");
    ASSERT_ERROR(dz_embedding_bag(tc_i64(2, DZ_SHAPE(1, 2), (const int64_t[]){11, 8}), NULL, W, NULL, &sum),
                 DZ_ERR_INDEX, "index 11 is out of range");
    dz_embedding_bag_options pad = padded(DZ_EMBEDDING_BAG_SUM, 10);
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &pad), DZ_ERR_INDEX,
                 "padding_idx must be within the number of embeddings, -10 through 9, but got padding_idx 10");
    pad.padding_idx = -11;
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &pad), DZ_ERR_INDEX, "but got padding_idx -11");
    dz_variable *psw = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    dz_embedding_bag_options mean = bag_options(DZ_EMBEDDING_BAG_MEAN), max = bag_options(DZ_EMBEDDING_BAG_MAX);
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, psw, &mean), DZ_ERR_UNSUPPORTED,
                 "per_sample_weights is only supported for mode sum (got mode mean)");
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, psw, &max), DZ_ERR_UNSUPPORTED, "(got mode max)");
    dz_variable *psw64 = dz_variable_new(dz_array_ones(DZ_F64, 1, DZ_SHAPE(4)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, psw64, &sum), DZ_ERR_DTYPE,
                 "expected per_sample_weights to have the same type as weight (float32), but got float64");
    dz_variable *psw3 = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(3)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, psw3, &sum), DZ_ERR_SHAPE, "must have the same shape as the idx (4,)");
    max.sparse = true;
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &max), DZ_ERR_VALUE, "max mode does not support sparse weights");
    max.sparse = false;
    max.scale_grad_by_freq = true;
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &max), DZ_ERR_VALUE, "scaling the gradient by the frequency");
    dz_embedding_bag_options bad_mode = sum;
    bad_mode.mode = (dz_embedding_bag_mode)7;
    ASSERT_ERROR(dz_embedding_bag(idx, off, W, NULL, &bad_mode), DZ_ERR_VALUE, "mode has to be one of sum, mean or max");
    dz_variable *fidx = dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(4)), NULL);
    ASSERT_ERROR(dz_embedding_bag(fidx, off, W, NULL, &sum), DZ_ERR_DTYPE, "expected idx of dtype int64 or int32");
    dz_variable *foff = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, foff, W, NULL, &sum), DZ_ERR_DTYPE, "expected offsets of dtype int64 or int32");
    dz_variable *wi = dz_variable_new(dz_array_ones(DZ_I32, 2, DZ_SHAPE(10, 3)), NULL);
    ASSERT_ERROR(dz_embedding_bag(idx, off, wi, NULL, &sum), DZ_ERR_DTYPE, "use float32 or float64");
    dz_scope_end();
    tc_errors_on();
}
END_TEST

/* ---- vector lanes against one column -------------------------------------------- */

#define LANES_D 45 /* a 32-float vector body, then 8-, 4-wide and scalar tails */

/* Column d of a (R, C) f32 array, as (R, 1). */
static dz_array *column_of(const dz_array *a, int64_t d)
{
    const int64_t R = a->shape[0], C = a->shape[1];
    dz_array *c = dz_array_empty(DZ_F32, 2, DZ_SHAPE(R, 1));
    for (int64_t r = 0; r < R; r++)
        ((float *)c->data)[r] = ((const float *)a->data)[r * C + d];
    return c;
}

/* y and W's grad of the fixture's bags on weights w (V, C), upstream gy (B, C). */
static void run_bag(const dz_embedding_bag_options *o, dz_array *w, dz_array *gy, const dz_array *psw,
                    dz_array **y, dz_array **gw)
{
    dz_scope_begin();
    dz_variable *W = dz_variable_new(w, NULL);
    dz_variable *weights = psw ? dz_variable_new(dz_array_copy(psw), NULL) : NULL;
    dz_variable *out = bag_backward(fixture_idx(), fixture_offsets(), W, weights, o, dz_variable_new(gy, NULL));
    *y = dz_array_retain(out->data);
    *gw = dz_array_retain(W->grad->data);
    dz_scope_end();
}

/* The bag on LANES_D columns (row loops vectorized) equals, column by
 * column, the bag on that column alone (their scalar tails), bit for bit. */
START_TEST(test_vector_lanes_match_one_column)
{
    const dz_embedding_bag_mode mode = (dz_embedding_bag_mode)(_i % 3);
    const bool pad = _i / 3 % 2, weighted = _i >= 6;
    dz_embedding_bag_options o = pad ? padded(mode, 3) : bag_options(mode);
    o.scale_grad_by_freq = mode == DZ_EMBEDDING_BAG_MEAN;
    if (weighted) /* per-sample weights: fused (no padding) or multiply-add */
        o = pad ? padded(DZ_EMBEDDING_BAG_SUM, 3) : bag_options(DZ_EMBEDDING_BAG_SUM);
    dz_rng rng;
    dz_rng_seed(&rng, 11);
    dz_array *w = dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(BAG_V, LANES_D), 0, 1);
    dz_array *gy = dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(BAG_B, LANES_D), 0, 1);
    dz_array *psw = weighted ? dz_array_normal(&rng, DZ_F32, 1, DZ_SHAPE(BAG_N), 0, 1) : NULL;
    dz_array *y, *gw;
    run_bag(&o, dz_array_retain(w), dz_array_retain(gy), psw, &y, &gw);
    for (int64_t d = 0; d < LANES_D; d++) {
        dz_array *y1, *gw1, *y_d = column_of(y, d), *gw_d = column_of(gw, d);
        run_bag(&o, column_of(w, d), column_of(gy, d), psw, &y1, &gw1);
        tc_assert_bits(y1, y_d->data, BAG_B);
        tc_assert_bits(gw1, gw_d->data, BAG_V);
        dz_array_release(y1);
        dz_array_release(gw1);
        dz_array_release(y_d);
        dz_array_release(gw_d);
    }
    dz_array_release(y);
    dz_array_release(gw);
    dz_array_release(w);
    dz_array_release(gy);
    dz_array_release(psw);
}
END_TEST

static Suite *embedding_bag_suite(void)
{
    Suite *s = suite_create("embedding_bag");
    TCase *golden = tcase_create("golden");
    tcase_add_test(golden, test_golden_modes);
    tcase_add_test(golden, test_golden_per_sample_weights);
    tcase_add_test(golden, test_golden_last_offset_and_2d);
    tcase_add_test(golden, test_golden_g9_g10);
    tcase_add_loop_test(golden, test_vector_lanes_match_one_column, 0, 8);
    suite_add_tcase(s, golden);
    TCase *torch = tcase_create("torch_tests");
    tcase_add_test(torch, test_torch_embedding_bag);
    tcase_add_test(torch, test_torch_empty_bags);
    tcase_add_test(torch, test_torch_include_last_offset);
    tcase_add_test(torch, test_scale_grad_by_freq_counts);
    tcase_add_test(torch, test_max_ties);
    suite_add_tcase(s, torch);
    TCase *grad = tcase_create("gradients");
    tcase_add_test(grad, test_sparse);
    tcase_add_test(grad, test_gradient_checks);
    suite_add_tcase(s, grad);
    TCase *misc = tcase_create("layer_errors");
    tcase_add_test(misc, test_layer);
    tcase_add_test(misc, test_errors);
    suite_add_tcase(s, misc);
    return s;
}

int main(void) { return tc_run(embedding_bag_suite()); }

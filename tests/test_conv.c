/* Convolution and pooling: im2col / col2im (shapes of DeZero's step 57,
 * values against the definition), gradient and double-backward checks in
 * f64 with DeZero's test shapes, PyTorch golden values in f32 for conv2d,
 * conv_transpose2d, max_pool2d and avg_pool2d, the layers (lazy
 * in_channels, save / load), and bad shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/backend.h"
#include "fixtures/conv_golden.h"
#include "test_nn_common.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* A window: kernel, stride, pad, and for im2col / col2im the layout. */
typedef struct {
    dz_size2 k, s, p;
    bool to_matrix, bias;
    dz_size2 outsize;
} window;

/* ---- im2col / col2im -------------------------------------------------------- */

START_TEST(test_im2col_shapes)
{
    dz_scope_begin();
    dz_variable *x1 = tc_randn(1, 4, DZ_SHAPE(1, 3, 7, 7)), *x10 = tc_randn(2, 4, DZ_SHAPE(10, 3, 7, 7));
    dz_variable *c1 = dz_im2col(x1, DZ_SIZE2(5), DZ_SIZE2(1), DZ_SIZE2(0), true);
    dz_variable *c10 = dz_im2col(x10, DZ_SIZE2(5), DZ_SIZE2(1), DZ_SIZE2(0), true);
    ck_assert(dz_shape_equal(2, DZ_SHAPE(9, 75), c1->data->ndim, c1->data->shape));
    ck_assert(dz_shape_equal(2, DZ_SHAPE(90, 75), c10->data->ndim, c10->data->shape));
    dz_variable *c6 = dz_im2col(x1, (dz_size2){3, 2}, (dz_size2){2, 1}, (dz_size2){1, 0}, false);
    ck_assert(dz_shape_equal(6, DZ_SHAPE(1, 3, 3, 2, 4, 6), c6->data->ndim, c6->data->shape));
    dz_scope_end();
}
END_TEST

/* x's pixel (n, c, h, w) of the zero-padded image, by the definition. */
static double padded_at(const dz_variable *x, int64_t n, int64_t c, int64_t h, int64_t w, const window *win)
{
    const int64_t *s = x->data->shape;
    h -= win->p.h;
    w -= win->p.w;
    if (h < 0 || w < 0 || h >= s[2] || w >= s[3])
        return 0;
    return tc_at(x, ((n * s[1] + c) * s[2] + h) * s[3] + w);
}

/* col[n, c, i, j, y, x] = xpad[n, c, SH*y + i, SW*x + j]; the matrix layout
 * is its transpose (0, 4, 5, 1, 2, 3) as rows (N*OH*OW, C*KH*KW). */
static void assert_im2col_values(const dz_variable *x, const dz_variable *col, const window *win)
{
    const int64_t *s = x->data->shape;
    int64_t oh = (s[2] + 2 * win->p.h - win->k.h) / win->s.h + 1, ow = (s[3] + 2 * win->p.w - win->k.w) / win->s.w + 1;
    int64_t kk = s[1] * win->k.h * win->k.w;
    for (int64_t n = 0; n < s[0]; n++)
        for (int64_t c = 0; c < s[1]; c++)
            for (int64_t i = 0; i < win->k.h; i++)
                for (int64_t j = 0; j < win->k.w; j++)
                    for (int64_t y = 0; y < oh; y++)
                        for (int64_t q = 0; q < ow; q++) {
                            int64_t at = win->to_matrix
                                             ? ((n * oh + y) * ow + q) * kk + (c * win->k.h + i) * win->k.w + j
                                             : ((((n * s[1] + c) * win->k.h + i) * win->k.w + j) * oh + y) * ow + q;
                            double want = padded_at(x, n, c, win->s.h * y + i, win->s.w * q + j, win);
                            ck_assert_double_eq(tc_at(col, at), want);
                        }
}

static const window im2col_windows[] = {
    {{3, 3}, {1, 1}, {0, 0}, false, false, {0, 0}},
    {{3, 3}, {1, 1}, {0, 0}, true, false, {0, 0}},
    {{3, 2}, {2, 1}, {1, 2}, false, false, {0, 0}},
    {{3, 2}, {2, 1}, {1, 2}, true, false, {0, 0}},
    {{2, 2}, {3, 3}, {1, 1}, true, false, {0, 0}},
};

START_TEST(test_im2col_values)
{
    for (size_t i = 0; i < sizeof im2col_windows / sizeof im2col_windows[0]; i++) {
        const window *w = &im2col_windows[i];
        dz_scope_begin();
        dz_variable *x = tc_randn(10 + i, 4, DZ_SHAPE(2, 3, 5, 6));
        dz_variable *col = dz_im2col(x, w->k, w->s, w->p, w->to_matrix);
        ck_assert_ptr_nonnull(col);
        assert_im2col_values(x, col, w);
        dz_scope_end();
    }
}
END_TEST

static dz_variable *call_im2col(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_im2col(in[0], w->k, w->s, w->p, w->to_matrix);
}

static dz_variable *call_col2im(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_col2im(in[0], DZ_SHAPE(2, 3, 5, 6), w->k, w->s, w->p, w->to_matrix);
}

START_TEST(test_im2col_col2im_gradients)
{
    for (size_t i = 0; i < sizeof im2col_windows / sizeof im2col_windows[0]; i++) {
        window w = im2col_windows[i];
        dz_scope_begin();
        dz_variable *x = tc_randn(20 + i, 4, DZ_SHAPE(2, 3, 5, 6));
        tc_assert_gradient(call_im2col, &w, 1, &x);
        tc_assert_double_gradient(call_im2col, &w, 1, &x);
        dz_variable *col = dz_im2col(x, w.k, w.s, w.p, w.to_matrix);
        dz_variable *c = tc_randn(30 + i, col->data->ndim, col->data->shape);
        tc_assert_gradient(call_col2im, &w, 1, &c);
        tc_assert_double_gradient(call_col2im, &w, 1, &c);
        dz_scope_end();
    }
}
END_TEST

/* col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>. */
START_TEST(test_col2im_adjoint)
{
    for (size_t i = 0; i < sizeof im2col_windows / sizeof im2col_windows[0]; i++) {
        const window *w = &im2col_windows[i];
        dz_scope_begin();
        dz_variable *x = tc_randn(40 + i, 4, DZ_SHAPE(2, 3, 5, 6));
        dz_variable *col = dz_im2col(x, w->k, w->s, w->p, w->to_matrix);
        dz_variable *c = tc_randn(50 + i, col->data->ndim, col->data->shape);
        dz_variable *img = dz_col2im(c, DZ_SHAPE(2, 3, 5, 6), w->k, w->s, w->p, w->to_matrix);
        double lhs = tc_at(dz_sum(dz_mul(col, c), 0, NULL, false), 0);
        double rhs = tc_at(dz_sum(dz_mul(x, img), 0, NULL, false), 0);
        ck_assert_double_eq_tol(lhs, rhs, 1e-9 * fmax(1.0, fabs(lhs)));
        dz_scope_end();
    }
}
END_TEST

/* The CPU's fused im2col / col2im against the composite of primitives, bit
 * for bit, in f32 and f64, on images big enough to be cut over threads
 * (1 and 3): col2im must add each pixel's entries in the composite's order. */
static const window fused_windows[] = {
    {{3, 3}, {1, 1}, {0, 0}, false, false, {0, 0}},
    {{3, 3}, {1, 1}, {0, 0}, true, false, {0, 0}},
    {{3, 3}, {1, 1}, {1, 1}, false, false, {0, 0}},
    {{3, 2}, {2, 1}, {1, 2}, false, false, {0, 0}},
    {{3, 2}, {2, 1}, {1, 2}, true, false, {0, 0}},
    {{2, 2}, {2, 2}, {0, 0}, false, false, {0, 0}},
    {{2, 3}, {3, 2}, {2, 1}, true, false, {0, 0}},
    {{5, 5}, {1, 1}, {4, 4}, false, false, {0, 0}}, /* windows wider than the image's rows: all padding */
};

/* im2col of x, then col2im of c (im2col's shape), on one path. */
static void run_im2col_col2im(dz_variable *x, dz_variable *c, const window *w, bool fused, int threads,
                              dz_array **col, dz_array **img)
{
    dz_backend_cpu_set_fused(fused);
    dz_set_num_threads(threads);
    dz_variable *cv = dz_im2col(x, w->k, w->s, w->p, w->to_matrix);
    dz_variable *iv = dz_col2im(c, x->data->shape, w->k, w->s, w->p, w->to_matrix);
    dz_backend_cpu_set_fused(!tc_fused_off);
    ck_assert_msg(cv && iv, "%s", dz_last_error());
    *col = dz_array_retain(cv->data);
    *img = dz_array_retain(iv->data);
}

/* Every element the same bits, a NaN any NaN (which of two NaNs a sum keeps,
 * and so its sign, follows the compiler's order of the operands). */
static void assert_same_bits(const dz_array *got, const dz_array *want, const char *what, size_t window,
                             dz_dtype dtype)
{
    ck_assert(dz_array_same_shape(got, want));
    int64_t differ = 0;
    size_t es = dz_dtype_size(dtype);
    for (int64_t i = 0; i < want->size; i++)
        differ += memcmp((const char *)got->data + i * es, (const char *)want->data + i * es, es) != 0 &&
                  !(isnan(dz_array_get(got, i)) && isnan(dz_array_get(want, i)));
    ck_assert_msg(differ == 0, "%s of window %zu (%s): %lld of %lld elements differ from the composite's", what,
                  window, dz_dtype_name(dtype), (long long)differ, (long long)want->size);
}

START_TEST(test_fused_im2col_col2im_match_composite)
{
    int threads = dz_num_threads();
    dz_rng rng;
    dz_rng_seed(&rng, 150);
    for (size_t i = 0; i < sizeof fused_windows / sizeof fused_windows[0]; i++)
        for (int d = 0; d < 2; d++) {
            const window *w = &fused_windows[i];
            dz_dtype dtype = d ? DZ_F64 : DZ_F32;
            dz_scope_begin();
            dz_array *xa = dz_array_normal(&rng, dtype, 4, DZ_SHAPE(3, 7, 19, 23), 0, 1);
            dz_variable *x = dz_variable_constant(xa, NULL);
            const dz_array *col = dz_im2col(x, w->k, w->s, w->p, w->to_matrix)->data;
            /* entries of many magnitudes, so that another order of the sums shows */
            dz_array *value = dz_array_normal(&rng, dtype, col->ndim, col->shape, 0, 1);
            dz_array *scale = dz_array_normal(&rng, dtype, col->ndim, col->shape, 0, 4);
            dz_variable *c = dz_mul(dz_variable_constant(value, NULL), dz_exp(dz_variable_constant(scale, NULL)));
            dz_array *want_col, *want_img;
            run_im2col_col2im(x, c, w, false, 1, &want_col, &want_img);
            for (int t = 1; t <= 3; t += 2) {
                dz_array *got_col, *got_img;
                run_im2col_col2im(x, c, w, true, t, &got_col, &got_img);
                assert_same_bits(got_col, want_col, "im2col", i, dtype);
                assert_same_bits(got_img, want_img, "col2im", i, dtype);
                dz_array_release(got_col);
                dz_array_release(got_img);
            }
            dz_array_release(want_col);
            dz_array_release(want_img);
            dz_scope_end();
        }
    dz_set_num_threads(threads);
}
END_TEST

/* ---- conv2d and deconv2d ---------------------------------------------------- */

static dz_variable *call_conv(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_conv2d(in[0], in[1], w->bias ? in[2] : NULL, w->s, w->p);
}

/* Inputs (W, x, b): double backward differentiates grad W. */
static dz_variable *call_conv_w_first(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_conv2d(in[1], in[0], w->bias ? in[2] : NULL, w->s, w->p);
}

static dz_variable *call_deconv(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_deconv2d(in[0], in[1], w->bias ? in[2] : NULL, w->s, w->p, w->outsize);
}

static dz_variable *call_deconv_w_first(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_deconv2d(in[1], in[0], w->bias ? in[2] : NULL, w->s, w->p, w->outsize);
}

/* DeZero's test shapes: x (1, 5, 15, 15) with W (8, 5, 3, 3), and smaller
 * ones with stride 2, pad 1, rectangular windows. */
static const struct {
    int64_t x[4], w[4];
    window win;
} conv_cases[] = {
    {{1, 5, 15, 15}, {8, 5, 3, 3}, {{0}, {1, 1}, {1, 1}, false, true, {0, 0}}},
    {{1, 5, 15, 15}, {8, 5, 3, 3}, {{0}, {2, 2}, {0, 0}, false, false, {0, 0}}},
    {{2, 3, 7, 7}, {4, 3, 3, 3}, {{0}, {2, 2}, {1, 1}, false, true, {0, 0}}},
    {{2, 3, 7, 7}, {4, 3, 3, 3}, {{0}, {1, 1}, {0, 0}, false, false, {0, 0}}},
    {{2, 2, 6, 5}, {3, 2, 2, 3}, {{0}, {2, 1}, {1, 0}, false, true, {0, 0}}},
};

START_TEST(test_conv_gradients)
{
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
        window w = conv_cases[i].win;
        dz_scope_begin();
        dz_variable *x = tc_randn(60 + i, 4, conv_cases[i].x), *W = tc_randn(70 + i, 4, conv_cases[i].w);
        dz_variable *b = tc_randn(80 + i, 1, &conv_cases[i].w[0]);
        dz_variable *in[3] = {x, W, b}, *in_w[3] = {W, x, b};
        int n = w.bias ? 3 : 2;
        tc_assert_gradient(call_conv, &w, n, in);
        tn_assert_recorded_matches_raw(call_conv, &w, n, in);
        if (conv_cases[i].x[1] < 5) { /* the double checks are slow on the big image */
            tc_assert_double_gradient(call_conv, &w, n, in);
            tc_assert_double_gradient(call_conv_w_first, &w, n, in_w);
        }
        dz_scope_end();
    }
}
END_TEST

static const struct {
    int64_t x[4], w[4];
    window win;
} deconv_cases[] = {
    {{2, 3, 4, 4}, {3, 2, 3, 3}, {{0}, {2, 2}, {1, 1}, false, true, {0, 0}}},
    {{1, 2, 5, 5}, {2, 3, 3, 3}, {{0}, {1, 1}, {0, 0}, false, false, {0, 0}}},
    {{1, 2, 3, 4}, {2, 2, 3, 2}, {{0}, {2, 1}, {1, 0}, false, true, {6, 0}}}, /* outsize one above the formula */
};

START_TEST(test_deconv_gradients)
{
    for (size_t i = 0; i < sizeof deconv_cases / sizeof deconv_cases[0]; i++) {
        window w = deconv_cases[i].win;
        dz_scope_begin();
        dz_variable *x = tc_randn(90 + i, 4, deconv_cases[i].x), *W = tc_randn(100 + i, 4, deconv_cases[i].w);
        dz_variable *b = tc_randn(110 + i, 1, &deconv_cases[i].w[1]);
        dz_variable *in[3] = {x, W, b}, *in_w[3] = {W, x, b};
        int n = w.bias ? 3 : 2;
        tc_assert_gradient(call_deconv, &w, n, in);
        tn_assert_recorded_matches_raw(call_deconv, &w, n, in);
        tc_assert_double_gradient(call_deconv, &w, n, in);
        tc_assert_double_gradient(call_deconv_w_first, &w, n, in_w);
        dz_scope_end();
    }
}
END_TEST

START_TEST(test_deconv_shapes)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 4, DZ_SHAPE(2, 3, 7, 7)), *W = tc_randn(2, 4, DZ_SHAPE(3, 4, 4, 4));
    dz_variable *y = dz_deconv2d(x, W, NULL, DZ_SIZE2(2), DZ_SIZE2(1), DZ_SIZE2(0)); /* 2*(7-1) + 4 - 2 = 14 */
    ck_assert(dz_shape_equal(4, DZ_SHAPE(2, 4, 14, 14), y->data->ndim, y->data->shape));
    /* a conv with the same W (as (OC, C, KH, KW) = (3, 4, 4, 4)) and window maps it back onto x's size */
    dz_variable *back = dz_conv2d(y, W, NULL, DZ_SIZE2(2), DZ_SIZE2(1));
    ck_assert(dz_shape_equal(4, x->data->shape, back->data->ndim, back->data->shape));
    dz_scope_end();
}
END_TEST

/* DeZero's step 57: conv2d_simple gives y (1, 8, 15, 15) and x.grad (1, 5, 15, 15). */
START_TEST(test_conv_step57)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(3, 4, DZ_SHAPE(1, 5, 15, 15)), *W = tc_randn(4, 4, DZ_SHAPE(8, 5, 3, 3));
    dz_variable *y = dz_conv2d(x, W, NULL, DZ_SIZE2(1), DZ_SIZE2(1));
    ck_assert(dz_shape_equal(4, DZ_SHAPE(1, 8, 15, 15), y->data->ndim, y->data->shape));
    dz_variable_backward(y, false, false);
    ck_assert(dz_shape_equal(4, DZ_SHAPE(1, 5, 15, 15), x->grad->data->ndim, x->grad->data->shape));
    dz_variable_cleargrad(x);
    dz_variable_cleargrad(W);
    dz_scope_end();
}
END_TEST

/* ---- pooling ---------------------------------------------------------------- */

static dz_variable *call_max_pool(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_max_pooling(in[0], w->k, w->s, w->p);
}

static dz_variable *call_avg_pool(dz_variable *const *in, void *ctx)
{
    const window *w = ctx;
    return dz_average_pooling(in[0], w->k, w->s, w->p);
}

static const window pool_windows[] = {
    {{2, 2}, {2, 2}, {0, 0}, false, false, {0, 0}},
    {{3, 3}, {2, 2}, {1, 1}, false, false, {0, 0}},
    {{3, 2}, {1, 2}, {1, 0}, false, false, {0, 0}},
    {{3, 3}, {3, 3}, {0, 0}, false, false, {0, 0}},
};

START_TEST(test_pooling_gradients)
{
    for (size_t i = 0; i < sizeof pool_windows / sizeof pool_windows[0]; i++) {
        window w = pool_windows[i];
        dz_scope_begin();
        dz_variable *x = tc_randn(120 + i, 4, DZ_SHAPE(2, 3, 7, 6));
        tc_assert_gradient(call_max_pool, &w, 1, &x);
        tc_assert_double_gradient(call_max_pool, &w, 1, &x);
        tc_assert_gradient(call_avg_pool, &w, 1, &x);
        tc_assert_double_gradient(call_avg_pool, &w, 1, &x);
        tn_assert_recorded_matches_raw(call_max_pool, &w, 1, &x);
        tn_assert_recorded_matches_raw(call_avg_pool, &w, 1, &x);
        dz_scope_end();
    }
}
END_TEST

/* The third derivative: the grad's grad (DeZero's Pooling2DWithIndexes) and
 * its own grad, which DeZero lacks. */
typedef struct {
    window w;
    dz_variable *x;
} pool_grad_ctx;

/* gx = the grad of sum(max_pooling(x) * gy) as a function of gy: DeZero's
 * Pooling2DGrad; its grad is Pooling2DWithIndexes. */
static dz_variable *call_max_pool_grad(dz_variable *const *in, void *vctx)
{
    pool_grad_ctx *c = vctx;
    bool was = dz_set_enable_backprop(true);
    dz_variable *y = dz_sum(dz_mul(dz_max_pooling(c->x, c->w.k, c->w.s, c->w.p), in[0]), 0, NULL, false);
    dz_set_enable_backprop(was);
    dz_variable_cleargrad(c->x);
    dz_variable_backward(y, false, true);
    dz_variable *g = dz_variable_retain(c->x->grad);
    dz_variable_cleargrad(c->x);
    dz_variable_cleargrad(in[0]); /* gy got a grad too: it must not leak into the check */
    return dz_autorelease(g);
}

START_TEST(test_max_pooling_grad_is_differentiable)
{
    dz_scope_begin();
    pool_grad_ctx c = {pool_windows[1], tc_randn(130, 4, DZ_SHAPE(2, 2, 5, 5))};
    dz_variable *gy = tc_randn(131, 4, DZ_SHAPE(2, 2, 3, 3));
    tc_assert_gradient(call_max_pool_grad, &c, 1, &gy);
    tc_assert_double_gradient(call_max_pool_grad, &c, 1, &gy);
    dz_scope_end();
}
END_TEST

/* Ties go to the first max in window order, and padding is zeros. */
START_TEST(test_max_pooling_ties_and_padding)
{
    dz_scope_begin();
    const double v[] = {1, 3, 3, 2, /* row 0 */ 3, 0, 1, 3, /* row 1 */ -1, -2, -3, -4, /* row 2 */ -5, -6, -7, -8};
    dz_variable *x = tc_var(DZ_F64, 4, DZ_SHAPE(1, 1, 4, 4), v);
    dz_variable *y = dz_max_pooling(x, DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0));
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    const double gx[] = {0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    tc_assert_values(x->grad->data, gx, 16, 0);
    dz_variable_cleargrad(x);
    /* pad 1 around all-negative values: the corner window's max is the padding's 0 */
    dz_variable *neg = dz_neg(dz_add_scalar(dz_mul(x, x), 1));
    dz_variable *yp = dz_max_pooling(neg, DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(1));
    ck_assert_double_eq(tc_at(yp, 0), 0.0);
    dz_scope_end();
}
END_TEST

/* The CPU's fused max pooling against the composite, bit for bit, in f32 and
 * f64, 1 and 3 threads: y, gx (Pooling2DGrad) and the grad of sum(gx * c)
 * with respect to gy (Pooling2DWithIndexes), on images with ties, zeros of
 * both signs, infinities and NaNs, and all-negative windows that reach the
 * padding. Also a forward by the kernel with the backward by the composite
 * (the picks turned into the mask). */
static const window fused_pool_windows[] = {
    {{2, 2}, {2, 2}, {0, 0}, false, false, {0, 0}},
    {{3, 3}, {2, 2}, {1, 1}, false, false, {0, 0}}, /* overlapping windows */
    {{3, 2}, {1, 2}, {1, 0}, false, false, {0, 0}},
    {{2, 3}, {3, 1}, {1, 2}, false, false, {0, 0}},
    {{5, 5}, {1, 1}, {4, 4}, false, false, {0, 0}}, /* windows all padding */
};

typedef struct {
    dz_array *y, *gx, *ggy;
} pool_bits;

static pool_bits run_max_pool(const dz_array *xa, const dz_array *gya, const dz_array *ca, const window *w,
                              bool fused_forward, bool fused_backward, int threads)
{
    dz_set_num_threads(threads);
    dz_backend_cpu_set_fused(fused_forward);
    dz_variable *x = dz_variable_new(dz_array_retain((dz_array *)xa), "x");
    dz_variable *gy = dz_variable_new(dz_array_retain((dz_array *)gya), "gy");
    dz_variable *y = dz_max_pooling(x, w->k, w->s, w->p);
    ck_assert_msg(y, "%s", dz_last_error());
    dz_backend_cpu_set_fused(fused_backward);
    dz_variable_set_grad(y, gy);
    dz_variable_backward(y, false, true); /* x->grad = Pooling2DGrad(gy), recorded */
    dz_variable *c = dz_variable_constant(dz_array_retain((dz_array *)ca), "c");
    dz_variable_backward(dz_sum(dz_mul(x->grad, c), 0, NULL, false), false, false);
    dz_backend_cpu_set_fused(!tc_fused_off);
    ck_assert_msg(gy->grad, "%s", dz_last_error());
    pool_bits bits = {dz_array_retain(y->data), dz_array_retain(x->grad->data), dz_array_retain(gy->grad->data)};
    return bits;
}

static void release_bits(pool_bits *b)
{
    dz_array_release(b->y);
    dz_array_release(b->gx);
    dz_array_release(b->ggy);
}

/* Values rounded to halves (ties and zeros; else of many magnitudes, so
 * that another order of the sums shows), some zeros negated, and a few
 * infinities and NaNs. */
static dz_array *pool_values(dz_rng *rng, dz_dtype dtype, const int64_t *shape, bool halves)
{
    dz_array *x = dz_array_normal(rng, dtype, 4, shape, 0, 1.5);
    for (int64_t i = 0; i < x->size; i++) {
        double v = dz_array_get(x, i);
        v = halves ? round(v * 2) / 2 : v * exp(4 * v);
        if (v == 0 && i % 5 == 0)
            v = -0.0;
        if (i % 97 == 13)
            v = i % 3 ? INFINITY : -INFINITY;
        if (i % 211 == 50)
            v = NAN;
        dz_array_set(x, i, v);
    }
    return x;
}

START_TEST(test_fused_max_pooling_matches_composite)
{
    int threads = dz_num_threads();
    dz_rng rng;
    dz_rng_seed(&rng, 160);
    for (size_t i = 0; i < sizeof fused_pool_windows / sizeof fused_pool_windows[0]; i++)
        for (int d = 0; d < 2; d++) {
            const window *w = &fused_pool_windows[i];
            dz_dtype dtype = d ? DZ_F64 : DZ_F32;
            const int64_t *shape = DZ_SHAPE(3, 7, 19, 23);
            dz_array *x = pool_values(&rng, dtype, shape, true);
            int64_t oh = (19 + 2 * w->p.h - w->k.h) / w->s.h + 1, ow = (23 + 2 * w->p.w - w->k.w) / w->s.w + 1;
            dz_array *gy = pool_values(&rng, dtype, DZ_SHAPE(3, 7, oh, ow), false);
            dz_array *c = pool_values(&rng, dtype, shape, false);
            dz_scope_begin();
            pool_bits want = run_max_pool(x, gy, c, w, false, false, 1);
            const bool paths[3][2] = {{true, true}, {true, true}, {true, false}};
            for (int k = 0; k < 3; k++) {
                pool_bits got = run_max_pool(x, gy, c, w, paths[k][0], paths[k][1], k == 1 ? 3 : 1);
                assert_same_bits(got.y, want.y, "max pooling", i, dtype);
                assert_same_bits(got.gx, want.gx, "its grad", i, dtype);
                assert_same_bits(got.ggy, want.ggy, "its grad's grad", i, dtype);
                release_bits(&got);
            }
            release_bits(&want);
            dz_scope_end();
            dz_array_release(x);
            dz_array_release(gy);
            dz_array_release(c);
        }
    dz_set_num_threads(threads);
}
END_TEST

/* ---- PyTorch goldens (f32) -------------------------------------------------- */

static dz_variable *f32_var(int ndim, const int64_t *shape, const double *v)
{
    return tc_var(DZ_F32, ndim, shape, v);
}

/* y, and the grads of sum(y * w). */
static void assert_golden(dz_variable *y, const double *gy, const double *want_y, dz_variable *const *in,
                          const double *const *want_g, int n, double rtol)
{
    ck_assert_ptr_nonnull(y);
    tc_assert_close(y->data, want_y, y->data->size, rtol);
    dz_variable *w = f32_var(y->data->ndim, y->data->shape, gy);
    dz_variable_backward(dz_sum(dz_mul(y, w), 0, NULL, false), false, false);
    for (int i = 0; i < n; i++) {
        tc_assert_close(in[i]->grad->data, want_g[i], in[i]->grad->data->size, rtol);
        dz_variable_cleargrad(in[i]);
    }
}

#define CONV_GOLDEN(name, xs, ws, stride, pad, deconv)                                                             \
    do {                                                                                                           \
        dz_scope_begin();                                                                                          \
        dz_variable *x = f32_var(4, xs, golden_##name##_x), *W = f32_var(4, ws, golden_##name##_W);                \
        dz_variable *b = f32_var(1, &(ws)[(deconv) ? 1 : 0], golden_##name##_b);                                    \
        dz_variable *y = (deconv) ? dz_deconv2d(x, W, b, stride, pad, DZ_SIZE2(0)) : dz_conv2d(x, W, b, stride, pad); \
        dz_variable *in[3] = {x, W, b};                                                                            \
        const double *want[3] = {golden_##name##_gx, golden_##name##_gW, golden_##name##_gb};                     \
        ck_assert_int_eq(y->data->size, N_OF(golden_##name##_y));                                                  \
        assert_golden(y, golden_##name##_w, golden_##name##_y, in, want, 3, 1e-5);                                \
        dz_scope_end();                                                                                            \
    } while (0)

START_TEST(test_conv_golden)
{
    CONV_GOLDEN(conv_s1p0, DZ_SHAPE(2, 3, 7, 7), DZ_SHAPE(4, 3, 3, 3), DZ_SIZE2(1), DZ_SIZE2(0), false);
    CONV_GOLDEN(conv_s2p1, DZ_SHAPE(2, 3, 7, 7), DZ_SHAPE(4, 3, 3, 3), DZ_SIZE2(2), DZ_SIZE2(1), false);
    CONV_GOLDEN(conv_rect, DZ_SHAPE(1, 2, 6, 8), DZ_SHAPE(3, 2, 2, 3), ((dz_size2){2, 1}), ((dz_size2){1, 0}),
                false);
    CONV_GOLDEN(deconv_s2p1, DZ_SHAPE(2, 3, 4, 4), DZ_SHAPE(3, 2, 3, 3), DZ_SIZE2(2), DZ_SIZE2(1), true);
    CONV_GOLDEN(deconv_s1p0, DZ_SHAPE(1, 2, 5, 5), DZ_SHAPE(2, 3, 3, 3), DZ_SIZE2(1), DZ_SIZE2(0), true);
}
END_TEST

#define POOL_GOLDEN(name, fn, xs, k, s, p)                                                                         \
    do {                                                                                                           \
        dz_scope_begin();                                                                                          \
        dz_variable *x = f32_var(4, xs, golden_##name##_x);                                                        \
        dz_variable *y = fn(x, DZ_SIZE2(k), DZ_SIZE2(s), DZ_SIZE2(p));                                             \
        const double *want[1] = {golden_##name##_gx};                                                              \
        ck_assert_int_eq(y->data->size, N_OF(golden_##name##_y));                                                  \
        assert_golden(y, golden_##name##_w, golden_##name##_y, &x, want, 1, 1e-6);                                 \
        dz_scope_end();                                                                                            \
    } while (0)

START_TEST(test_pooling_golden)
{
    POOL_GOLDEN(maxpool_k2s2p0, dz_max_pooling, DZ_SHAPE(2, 3, 6, 6), 2, 2, 0);
    POOL_GOLDEN(maxpool_k3s2p1, dz_max_pooling, DZ_SHAPE(2, 2, 7, 7), 3, 2, 1);
    POOL_GOLDEN(avgpool_k3s2p1, dz_average_pooling, DZ_SHAPE(2, 2, 7, 7), 3, 2, 1);
    POOL_GOLDEN(avgpool_k2s2p0, dz_average_pooling, DZ_SHAPE(2, 3, 6, 6), 2, 2, 0);
}
END_TEST

/* ---- no-grad mode ----------------------------------------------------------- */

START_TEST(test_no_grad_records_nothing)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(140, 4, DZ_SHAPE(2, 3, 6, 6)), *W = tc_randn(141, 4, DZ_SHAPE(4, 3, 3, 3));
    bool was = dz_set_enable_backprop(false);
    dz_variable *y = dz_conv2d(x, W, NULL, DZ_SIZE2(1), DZ_SIZE2(1));
    dz_variable *p = dz_max_pooling(y, DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0));
    dz_set_enable_backprop(was);
    ck_assert_ptr_null(y->creator);
    ck_assert_ptr_null(p->creator);
    ck_assert(!p->requires_grad);
    dz_scope_end();
}
END_TEST

/* ---- layers ----------------------------------------------------------------- */

START_TEST(test_conv_layer_lazy)
{
    dz_rng rng;
    dz_rng_seed(&rng, 5);
    dz_layer *conv = dz_conv2d_layer_new(16, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 0, &rng);
    dz_layer *deconv = dz_deconv2d_layer_new(6, DZ_SIZE2(4), DZ_SIZE2(2), DZ_SIZE2(1), false, DZ_F32, 0, &rng);
    ck_assert_ptr_null(dz_layer_param(conv, "W")->data);
    ck_assert_int_eq(dz_layer_count_params(conv), 16);
    dz_scope_begin();
    dz_variable *x = dz_variable_constant(dz_array_normal(&rng, DZ_F32, 4, DZ_SHAPE(2, 20, 5, 5), 0, 1), "x");
    dz_variable *y = dz_layer_call(conv, x);
    ck_assert(dz_shape_equal(4, DZ_SHAPE(2, 16, 5, 5), y->data->ndim, y->data->shape));
    const dz_array *W = dz_layer_param(conv, "W")->data;
    ck_assert(dz_shape_equal(4, DZ_SHAPE(16, 20, 3, 3), W->ndim, W->shape));
    double sq = 0; /* W ~ N(0, 1/(C*KH*KW)): the mean square is near 1/180 */
    for (int64_t i = 0; i < W->size; i++)
        sq += dz_array_get(W, i) * dz_array_get(W, i);
    ck_assert_double_eq_tol(sq / (double)W->size * 180.0, 1.0, 0.1);
    dz_variable *z = dz_layer_call(deconv, y);
    ck_assert(dz_shape_equal(4, DZ_SHAPE(2, 6, 10, 10), z->data->ndim, z->data->shape));
    const dz_array *Wd = dz_layer_param(deconv, "W")->data;
    ck_assert(dz_shape_equal(4, DZ_SHAPE(16, 6, 4, 4), Wd->ndim, Wd->shape));
    dz_scope_end();
    dz_layer_free(conv);
    dz_layer_free(deconv);
}
END_TEST

/* A model of every layer: Conv2d - MaxPool - Deconv2d - AvgPool. */
static dz_layer *small_model(dz_rng *rng, int64_t in_channels)
{
    dz_layer *m = dz_model_new();
    dz_layer_add_child(m, "c1", dz_conv2d_layer_new(4, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32,
                                                    in_channels, rng));
    dz_layer_add_child(m, "p1", dz_max_pool_layer_new(DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0)));
    dz_layer_add_child(m, "d1", dz_deconv2d_layer_new(3, DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0), true, DZ_F32,
                                                      in_channels ? 4 : 0, rng));
    dz_layer_add_child(m, "p2", dz_avg_pool_layer_new(DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1)));
    return m;
}

static dz_variable *run_model(dz_layer *m, dz_variable *x)
{
    static const char *names[] = {"c1", "p1", "d1", "p2"};
    for (int i = 0; i < 4; i++)
        x = dz_layer_call(dz_layer_child(m, names[i]), x);
    return x;
}

START_TEST(test_layers_save_load)
{
    dz_rng rng;
    dz_rng_seed(&rng, 6);
    char path[] = "/tmp/dz_conv_layersXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dz_layer *a = small_model(&rng, 0), *b = small_model(&rng, 0), *c = small_model(&rng, 2);
    dz_scope_begin();
    dz_variable *x = dz_variable_constant(dz_array_normal(&rng, DZ_F32, 4, DZ_SHAPE(2, 2, 6, 6), 0, 1), "x");
    dz_variable *ya = run_model(a, x);
    ck_assert(dz_shape_equal(4, DZ_SHAPE(2, 3, 6, 6), ya->data->ndim, ya->data->shape));
    ck_assert_int_eq(dz_layer_save_weights(a, path, true), DZ_OK);
    ck_assert_int_eq(dz_layer_load_weights(b, path), DZ_OK); /* lazy: shapes from the file */
    ck_assert_int_eq(dz_layer_load_weights(c, path), DZ_OK);
    dz_variable *yb = run_model(b, x), *yc = run_model(c, x);
    for (int64_t i = 0; i < ya->data->size; i++) {
        ck_assert_double_eq(tc_at(yb, i), tc_at(ya, i));
        ck_assert_double_eq(tc_at(yc, i), tc_at(ya, i));
    }
    dz_scope_end();
    unlink(path);
    dz_layer_free(a);
    dz_layer_free(b);
    dz_layer_free(c);
}
END_TEST

START_TEST(test_layer_to_device)
{
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_layer *m = small_model(&rng, 2);
    tc_errors_off();
    dz_status st = dz_layer_to_device(m, DZ_CUDA);
    tc_errors_on();
    if (st != DZ_OK) { /* no device in this build or machine */
        dz_layer_free(m);
        return;
    }
    dz_scope_begin();
    dz_array *host = dz_array_normal(&rng, DZ_F32, 4, DZ_SHAPE(2, 2, 6, 6), 0, 1);
    dz_variable *x = dz_variable_constant(dz_array_to_device(host, DZ_CUDA), "x");
    dz_variable *y = run_model(m, x);
    ck_assert_int_eq(y->data->device, DZ_CUDA);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    ck_assert_int_eq(dz_layer_param(dz_layer_child(m, "c1"), "W")->grad->data->device, DZ_CUDA);
    dz_layer_cleargrads(m);
    ck_assert_int_eq(dz_layer_to_device(m, DZ_CPU), DZ_OK);
    dz_variable *xc = dz_variable_constant(host, "xc");
    ck_assert_int_eq(dz_variable_to_device(y, DZ_CPU), DZ_OK);
    dz_variable *yc = run_model(m, xc);
    for (int64_t i = 0; i < yc->data->size; i++)
        ck_assert_double_eq_tol(tc_at(y, i), tc_at(yc, i), 1e-5);
    dz_scope_end();
    dz_layer_free(m);
}
END_TEST

/* ---- errors ----------------------------------------------------------------- */

START_TEST(test_errors)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 4, DZ_SHAPE(2, 3, 5, 5)), *W = tc_randn(2, 4, DZ_SHAPE(4, 2, 3, 3));
    ASSERT_ERROR(dz_conv2d(x, W, NULL, DZ_SIZE2(1), DZ_SIZE2(0)), DZ_ERR_SHAPE, "x (2, 3, 5, 5) has 3 channels");
    ASSERT_ERROR(dz_conv2d(x, W, NULL, DZ_SIZE2(1), DZ_SIZE2(0)), DZ_ERR_SHAPE, "dz_conv2d: ");
    dz_variable *W7 = tc_randn(3, 4, DZ_SHAPE(4, 3, 7, 7));
    ASSERT_ERROR(dz_conv2d(x, W7, NULL, DZ_SIZE2(1), DZ_SIZE2(0)), DZ_ERR_SHAPE, "smaller than the kernel (7, 7)");
    dz_variable *b5 = tc_randn(4, 1, DZ_SHAPE(5));
    ASSERT_ERROR(dz_conv2d(x, tc_randn(5, 4, DZ_SHAPE(4, 3, 3, 3)), b5, DZ_SIZE2(1), DZ_SIZE2(0)), DZ_ERR_SHAPE,
                 "bias of shape (4,)");
    dz_variable *Wok = tc_randn(9, 4, DZ_SHAPE(4, 3, 3, 3));
    ASSERT_ERROR(dz_conv2d(x, Wok, NULL, DZ_SIZE2(0), DZ_SIZE2(0)), DZ_ERR_VALUE, "stride (0, 0)");
    ASSERT_ERROR(dz_max_pooling(tc_randn(6, 3, DZ_SHAPE(3, 5, 5)), DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0)),
                 DZ_ERR_SHAPE, "4-D image batch (N, C, H, W)");
    ASSERT_ERROR(dz_average_pooling(x, DZ_SIZE2(2), DZ_SIZE2(2), (dz_size2){-1, 0}), DZ_ERR_VALUE, "pad (-1, 0)");
    ASSERT_ERROR(dz_col2im(tc_randn(7, 2, DZ_SHAPE(9, 26)), DZ_SHAPE(1, 3, 5, 5), DZ_SIZE2(3), DZ_SIZE2(1),
                           DZ_SIZE2(0), true),
                 DZ_ERR_SHAPE, "gives (9, 27)");
    dz_variable *Wd = tc_randn(8, 4, DZ_SHAPE(3, 2, 3, 3));
    ASSERT_ERROR(dz_deconv2d(x, Wd, NULL, DZ_SIZE2(2), DZ_SIZE2(0), (dz_size2){13, 0}), DZ_ERR_SHAPE,
                 "output height 13 does not fit");
    dz_variable *xi = dz_variable_constant(dz_array_zeros(DZ_I32, 4, DZ_SHAPE(1, 1, 3, 3)), NULL);
    ASSERT_ERROR(dz_im2col(xi, DZ_SIZE2(2), DZ_SIZE2(1), DZ_SIZE2(0), true), DZ_ERR_DTYPE, "float32 or float64");
    dz_layer *conv = dz_conv2d_layer_new(4, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(0), false, DZ_F64, 2, NULL);
    ASSERT_ERROR(dz_layer_call(conv, x), DZ_ERR_SHAPE, "expects a 4-D float64 input (N, 2, H, W), got (2, 3, 5, 5)");
    dz_layer_free(conv);
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_im2col_shapes);
    tcase_add_test(tc, test_im2col_values);
    tcase_add_test(tc, test_im2col_col2im_gradients);
    tcase_add_test(tc, test_col2im_adjoint);
    tcase_add_test(tc, test_fused_im2col_col2im_match_composite);
    tcase_add_test(tc, test_conv_gradients);
    tcase_add_test(tc, test_deconv_gradients);
    tcase_add_test(tc, test_deconv_shapes);
    tcase_add_test(tc, test_conv_step57);
    tcase_add_test(tc, test_pooling_gradients);
    tcase_add_test(tc, test_max_pooling_grad_is_differentiable);
    tcase_add_test(tc, test_max_pooling_ties_and_padding);
    tcase_add_test(tc, test_fused_max_pooling_matches_composite);
    tcase_add_test(tc, test_conv_golden);
    tcase_add_test(tc, test_pooling_golden);
    tcase_add_test(tc, test_no_grad_records_nothing);
    tcase_add_test(tc, test_conv_layer_lazy);
    tcase_add_test(tc, test_layers_save_load);
    tcase_add_test(tc, test_layer_to_device);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(conv_suite()); }

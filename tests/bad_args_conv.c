/* Bad-argument cases for conv.h: im2col / col2im, conv2d / deconv2d,
 * pooling and the four layers (see bad_args.h). Each case opens a scope for
 * its Variables and frees its layers by hand. */
#include <stdint.h>

#include "bad_args.h"

#define NDIM(...) (int)(sizeof(DZ_SHAPE(__VA_ARGS__)) / sizeof(int64_t))

static dz_variable *leaf(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_variable_new(dz_array_zeros(dtype, ndim, shape), NULL);
}
#define F32(...) leaf(DZ_F32, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define F64(...) leaf(DZ_F64, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define I32(...) leaf(DZ_I32, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))

#define K(h, w) ((dz_size2){(h), (w)})
#define BIG ((int64_t)1 << 62)

/* What every window refuses: kernel or stride below 1, negative pad, sizes
 * past 64 bits. */
static void window_common(dz_variable *(*op)(dz_variable *, dz_size2, dz_size2, dz_size2), dz_variable *x)
{
    EXPECT_NULL(op(NULL, K(2, 2), K(1, 1), K(0, 0)), DZ_ERR_NULL);
    EXPECT_NULL(op(x, K(0, 2), K(1, 1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, K(2, 2), K(1, 0), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, K(2, 2), K(1, 1), K(0, -1)), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, K(BIG, 2), K(1, 1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, K(2, 2), K(1, 1), K(BIG, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, K(6, 2), K(1, 1), K(0, 0)), DZ_ERR_SHAPE);     /* larger than the image */
    EXPECT_NULL(op(F32(2, 5, 5), K(2, 2), K(1, 1), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(op(I32(1, 1, 5, 5), K(2, 2), K(1, 1), K(0, 0)), DZ_ERR_DTYPE);
    EXPECT_NULL(op(x, K(1, 1), K(1, 1), K((int64_t)1 << 39, (int64_t)1 << 39)), DZ_ERR_OVERFLOW);
    EXPECT_QUIET(op(F32(0, 2, 5, 5), K(2, 2), K(1, 1), K(0, 0)));
    EXPECT_QUIET(op(x, K(7, 7), K(3, 3), K(1, 1)));
}

static dz_variable *im2col_matrix(dz_variable *x, dz_size2 k, dz_size2 s, dz_size2 p)
{
    return dz_im2col(x, k, s, p, true);
}

static void im2col(void)
{
    dz_scope_begin();
    window_common(im2col_matrix, F32(2, 3, 5, 5));
    EXPECT_QUIET(dz_im2col(F64(1, 1, 3, 3), K(3, 3), K(1, 1), K(0, 0), false));
    dz_scope_end();
}

static void col2im(void)
{
    dz_scope_begin();
    const int64_t img[4] = {1, 3, 5, 5};
    dz_variable *col = F32(9, 27), *col6 = F32(1, 3, 3, 3, 3, 3);
    EXPECT_NULL(dz_col2im(NULL, img, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_NULL);
    EXPECT_NULL(dz_col2im(col, NULL, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_NULL);
    EXPECT_NULL(dz_col2im(col, img, K(0, 3), K(1, 1), K(0, 0), true), DZ_ERR_VALUE);
    EXPECT_NULL(dz_col2im(col, img, K(3, 3), K(1, 1), K(0, 0), false), DZ_ERR_SHAPE); /* layout */
    EXPECT_NULL(dz_col2im(col6, img, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_col2im(col, img, K(3, 3), K(2, 1), K(0, 0), true), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_col2im(col, (const int64_t[]){1, -3, 5, 5}, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_col2im(col, (const int64_t[]){1, 3, 2, 5}, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_col2im(col, (const int64_t[]){BIG, BIG, 5, 5}, K(3, 3), K(1, 1), K(0, 0), true),
                DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_col2im(I32(9, 27), img, K(3, 3), K(1, 1), K(0, 0), true), DZ_ERR_DTYPE);
    EXPECT_QUIET(dz_col2im(col, img, K(3, 3), K(1, 1), K(0, 0), true));
    EXPECT_QUIET(dz_col2im(col6, img, K(3, 3), K(1, 1), K(0, 0), false));
    dz_scope_end();
}

static void conv2d(void)
{
    dz_scope_begin();
    dz_variable *x = F32(2, 3, 5, 5), *W = F32(4, 3, 3, 3), *b = F32(4);
    EXPECT_NULL(dz_conv2d(NULL, W, b, K(1, 1), K(0, 0)), DZ_ERR_NULL);
    EXPECT_NULL(dz_conv2d(x, NULL, b, K(1, 1), K(0, 0)), DZ_ERR_NULL);
    EXPECT_NULL(dz_conv2d(x, dz_parameter_new(NULL, "W"), b, K(1, 1), K(0, 0)), DZ_ERR_STATE);
    EXPECT_NULL(dz_conv2d(x, F32(4, 2, 3, 3), b, K(1, 1), K(0, 0)), DZ_ERR_SHAPE); /* channels */
    EXPECT_NULL(dz_conv2d(x, F32(4, 3, 9), b, K(1, 1), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_conv2d(F32(3, 5, 5), W, b, K(1, 1), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_conv2d(x, W, F32(3), K(1, 1), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_conv2d(x, W, F32(1, 4), K(1, 1), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_conv2d(x, F32(4, 3, 6, 6), b, K(1, 1), K(0, 0)), DZ_ERR_SHAPE); /* kernel > image */
    EXPECT_NULL(dz_conv2d(x, F32(4, 3, 0, 3), b, K(1, 1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(dz_conv2d(x, W, b, K(0, 1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(dz_conv2d(x, W, b, K(1, 1), K(-1, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(dz_conv2d(x, W, F64(4), K(1, 1), K(0, 0)), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_conv2d(x, F64(4, 3, 3, 3), b, K(1, 1), K(0, 0)), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_conv2d(I32(2, 3, 5, 5), I32(4, 3, 3, 3), NULL, K(1, 1), K(0, 0)), DZ_ERR_DTYPE);
    EXPECT_QUIET(dz_conv2d(x, W, NULL, K(2, 2), K(1, 1)));
    EXPECT_QUIET(dz_conv2d(F32(0, 3, 5, 5), W, b, K(1, 1), K(0, 0)));
    EXPECT_QUIET(dz_conv2d(x, F32(0, 3, 3, 3), NULL, K(1, 1), K(0, 0)));
    dz_scope_end();
}

static void deconv2d(void)
{
    dz_scope_begin();
    dz_variable *x = F32(2, 3, 4, 4), *W = F32(3, 2, 3, 3), *b = F32(2);
    EXPECT_NULL(dz_deconv2d(NULL, W, b, K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_NULL);
    EXPECT_NULL(dz_deconv2d(x, NULL, b, K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_NULL);
    EXPECT_NULL(dz_deconv2d(x, F32(2, 3, 3, 3), b, K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_SHAPE); /* channels */
    EXPECT_NULL(dz_deconv2d(x, W, F32(3), K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_deconv2d(F32(3, 4, 4), W, b, K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_deconv2d(x, W, b, K(2, 2), K(1, 1), K(9, 0)), DZ_ERR_SHAPE); /* 2*3 + 3 - 2 = 7, 8 fits */
    EXPECT_NULL(dz_deconv2d(x, W, b, K(1, 1), K(0, 0), K(-1, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_deconv2d(x, W, b, K(1, 1), K(3, 3), K(0, 0)), DZ_ERR_SHAPE); /* 3 + 3 - 6 = 0 */
    EXPECT_NULL(dz_deconv2d(x, W, b, K((int64_t)1 << 40, 1), K(0, 0), K(0, 0)), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_deconv2d(x, W, b, K(0, 1), K(0, 0), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(dz_deconv2d(x, W, F64(2), K(1, 1), K(0, 0), K(0, 0)), DZ_ERR_DTYPE);
    EXPECT_QUIET(dz_deconv2d(x, W, b, K(2, 2), K(1, 1), K(8, 8)));
    EXPECT_QUIET(dz_deconv2d(x, W, NULL, K(2, 2), K(1, 1), K(0, 0)));
    dz_scope_end();
}

static void max_pooling(void)
{
    dz_scope_begin();
    window_common(dz_max_pooling, F32(2, 3, 5, 5));
    dz_scope_end();
}

static void average_pooling(void)
{
    dz_scope_begin();
    window_common(dz_average_pooling, F32(2, 3, 5, 5));
    dz_scope_end();
}

typedef dz_layer *(*conv_layer_fn)(int64_t, dz_size2, dz_size2, dz_size2, bool, dz_dtype, int64_t, dz_rng *);

static void conv_layer_cases(conv_layer_fn make)
{
    EXPECT_NULL(make(0, K(3, 3), K(1, 1), K(0, 0), false, DZ_F32, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(3, 3), K(1, 1), K(0, 0), false, DZ_F32, -1, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(0, 3), K(1, 1), K(0, 0), false, DZ_F32, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(3, 3), K(0, 1), K(0, 0), false, DZ_F32, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(3, 3), K(1, 1), K(0, -2), false, DZ_F32, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(3, 3), K(1, 1), K(0, 0), false, DZ_I32, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, K(3, 3), K(1, 1), K(0, 0), false, (dz_dtype)99, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(BIG, K(BIG, 3), K(1, 1), K(0, 0), false, DZ_F32, 2, NULL), DZ_ERR_OVERFLOW);
}

/* dz_layer_call on a Conv2d or Deconv2d (in_axis: W's input-channel dim). */
static void conv_layer_call_cases(conv_layer_fn make, int in_axis)
{
    dz_layer *l = make(4, K(3, 3), K(1, 1), K(1, 1), false, DZ_F32, 2, NULL);
    dz_layer *lazy = make(4, K(3, 3), K(1, 1), K(1, 1), true, DZ_F32, 0, NULL);
    BAD_ARGS_CHECK(l != NULL && lazy != NULL);
    dz_scope_begin();
    EXPECT_NULL(dz_layer_call(l, F32(2, 5, 5)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_call(l, F64(1, 2, 5, 5)), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_layer_call(l, F32(1, 3, 5, 5)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_call(lazy, F32(1, 0, 5, 5)), DZ_ERR_SHAPE); /* a lazy W cannot be sized */
    EXPECT_QUIET(dz_layer_call(l, F32(1, 2, 5, 5)));
    EXPECT_QUIET(dz_layer_call(lazy, F32(1, 2, 5, 5)));
    BAD_ARGS_CHECK(dz_layer_param(lazy, "W")->data->shape[in_axis] == 2);
    dz_scope_end();
    dz_layer_free(l);
    dz_layer_free(lazy);
}

static void conv2d_layer_call(void) { conv_layer_call_cases(dz_conv2d_layer_new, 1); }
static void deconv2d_layer_call(void) { conv_layer_call_cases(dz_deconv2d_layer_new, 0); }

static void conv2d_layer_new(void) { conv_layer_cases(dz_conv2d_layer_new); }
static void deconv2d_layer_new(void) { conv_layer_cases(dz_deconv2d_layer_new); }

static void pool_layer_cases(dz_layer *(*make)(dz_size2, dz_size2, dz_size2))
{
    EXPECT_NULL(make(K(0, 2), K(1, 1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(make(K(2, 2), K(1, -1), K(0, 0)), DZ_ERR_VALUE);
    EXPECT_NULL(make(K(2, 2), K(1, 1), K(-1, 0)), DZ_ERR_VALUE);
}

static void pool_layer_call_cases(dz_layer *(*make)(dz_size2, dz_size2, dz_size2))
{
    dz_layer *l = make(K(2, 2), K(2, 2), K(0, 0));
    BAD_ARGS_CHECK(l != NULL);
    dz_scope_begin();
    EXPECT_NULL(dz_layer_call(l, F32(2, 5, 5)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_call(l, F32(1, 1, 1, 5)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_call(l, I32(1, 1, 4, 4)), DZ_ERR_DTYPE);
    EXPECT_QUIET(dz_layer_call(l, F32(1, 2, 5, 5)));
    dz_scope_end();
    dz_layer_free(l);
}

static void max_pool_layer_call(void) { pool_layer_call_cases(dz_max_pool_layer_new); }
static void avg_pool_layer_call(void) { pool_layer_call_cases(dz_avg_pool_layer_new); }

static void max_pool_layer_new(void) { pool_layer_cases(dz_max_pool_layer_new); }
static void avg_pool_layer_new(void) { pool_layer_cases(dz_avg_pool_layer_new); }

const bad_args_case bad_args_conv[] = {
    {"dz_im2col", im2col},
    {"dz_col2im", col2im},
    {"dz_conv2d", conv2d},
    {"dz_deconv2d", deconv2d},
    {"dz_max_pooling", max_pooling},
    {"dz_average_pooling", average_pooling},
    {"dz_conv2d_layer_new", conv2d_layer_new},
    {"dz_deconv2d_layer_new", deconv2d_layer_new},
    {"dz_max_pool_layer_new", max_pool_layer_new},
    {"dz_avg_pool_layer_new", avg_pool_layer_new},
    {"dz_layer_call", conv2d_layer_call},
    {"dz_layer_call", deconv2d_layer_call},
    {"dz_layer_call", max_pool_layer_call},
    {"dz_layer_call", avg_pool_layer_call},
    BAD_ARGS_END,
};

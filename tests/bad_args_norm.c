/* Bad-argument cases for the functions of normalization.h and the function
 * layers of layers.h (see bad_args.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bad_args.h"

#define BIG ((int64_t)1 << 40)

static dz_variable *leaf(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_variable_new(dz_array_zeros(dtype, ndim, shape), NULL);
}

/* x (2, 3) f32, and what fits it: gamma / beta (3,), running averages (3,). */
static void batch_norm(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(DZ_F32, 2, DZ_SHAPE(2, 3)), *g = leaf(DZ_F32, 1, DZ_SHAPE(3));
    dz_array *m = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), *v = dz_array_ones(DZ_F32, 1, DZ_SHAPE(3));
    dz_array *m64 = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3)), *m2 = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(1, 3));
    EXPECT_NULL(dz_batch_norm(NULL, g, g, m, v, 0.9, 2e-5), DZ_ERR_NULL);
    EXPECT_NULL(dz_batch_norm(dz_parameter_new(NULL, "x"), g, g, m, v, 0.9, 2e-5), DZ_ERR_STATE);
    EXPECT_NULL(dz_batch_norm(leaf(DZ_I32, 2, DZ_SHAPE(2, 3)), NULL, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_batch_norm(leaf(DZ_F32, 1, DZ_SHAPE(3)), NULL, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_batch_norm(leaf(DZ_F32, 3, DZ_SHAPE(2, 3, 4)), NULL, NULL, NULL, NULL, 0.9, 2e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_batch_norm(leaf(DZ_F32, 4, DZ_SHAPE(2, 3, 0, 4)), g, g, m, v, 0.9, 2e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_batch_norm(x, leaf(DZ_F32, 1, DZ_SHAPE(2)), g, m, v, 0.9, 2e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_batch_norm(x, g, leaf(DZ_F64, 1, DZ_SHAPE(3)), m, v, 0.9, 2e-5), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, NULL, 0.9, 2e-5), DZ_ERR_NULL);
    EXPECT_NULL(dz_batch_norm(x, g, g, NULL, v, 0.9, 2e-5), DZ_ERR_NULL);
    EXPECT_NULL(dz_batch_norm(x, g, g, m64, v, 0.9, 2e-5), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, m2, 0.9, 2e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, v, -0.1, 2e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, v, NAN, 2e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, v, 0.9, -1e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_batch_norm(x, g, g, m, v, 0.9, INFINITY), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_batch_norm(x, g, g, m, v, 0.9, 0));
    EXPECT_QUIET(dz_batch_norm(leaf(DZ_F32, 2, DZ_SHAPE(2, 0)), NULL, NULL, NULL, NULL, 0.9, 2e-5));
    bool was = dz_set_train(false); /* test mode normalises with the running averages */
    EXPECT_NULL(dz_batch_norm(x, g, g, NULL, NULL, 0.9, 2e-5), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_batch_norm(leaf(DZ_F32, 4, DZ_SHAPE(0, 3, 1, 1)), g, g, m, v, 0.9, 2e-5));
    dz_set_train(was);
    dz_array_release(m);
    dz_array_release(v);
    dz_array_release(m64);
    dz_array_release(m2);
    dz_scope_end();
}

static void layer_norm(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(DZ_F32, 3, DZ_SHAPE(2, 3, 4)), *g = leaf(DZ_F32, 2, DZ_SHAPE(3, 4));
    EXPECT_NULL(dz_layer_norm(NULL, 1, NULL, NULL, 1e-5), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_norm(leaf(DZ_I64, 1, DZ_SHAPE(3)), 1, NULL, NULL, 1e-5), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_layer_norm(x, 0, NULL, NULL, 1e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm(x, 4, NULL, NULL, 1e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm(x, -1, NULL, NULL, 1e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm(leaf(DZ_F32, 0, NULL), 1, NULL, NULL, 1e-5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm(x, 1, g, NULL, 1e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_norm(x, 2, g, leaf(DZ_F32, 1, DZ_SHAPE(12)), 1e-5), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_norm(x, 2, leaf(DZ_F64, 2, DZ_SHAPE(3, 4)), NULL, 1e-5), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_layer_norm(x, 2, dz_parameter_new(NULL, "g"), NULL, 1e-5), DZ_ERR_STATE);
    EXPECT_NULL(dz_layer_norm(x, 2, g, g, NAN), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_layer_norm(leaf(DZ_F32, 2, DZ_SHAPE(0, 4)), 1, NULL, NULL, 1e-5));
    EXPECT_QUIET(dz_layer_norm(leaf(DZ_F32, 2, DZ_SHAPE(3, 0)), 1, NULL, NULL, 0));
    dz_scope_end();
}

static void gelu(void)
{
    dz_scope_begin();
    EXPECT_NULL(dz_gelu(NULL, false), DZ_ERR_NULL);
    EXPECT_NULL(dz_gelu(NULL, true), DZ_ERR_NULL);
    EXPECT_NULL(dz_gelu(leaf(DZ_I32, 1, DZ_SHAPE(2)), false), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_gelu(leaf(DZ_U8, 1, DZ_SHAPE(2)), true), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_gelu(dz_parameter_new(NULL, "x"), true), DZ_ERR_STATE);
    EXPECT_QUIET(dz_gelu(leaf(DZ_F64, 1, DZ_SHAPE(0)), false));
    dz_scope_end();
}

static void batch_norm_layer_new(void)
{
    dz_layer *l = dz_batch_norm_layer_new();
    BAD_ARGS_CHECK(l && dz_layer_count_params(l) == 0);
    dz_layer_free(l);
}

static void layer_norm_layer_new(void)
{
    EXPECT_NULL(dz_layer_norm_layer_new(0, DZ_SHAPE(4), 1e-5, true, DZ_F32), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm_layer_new(-1, DZ_SHAPE(4), 1e-5, true, DZ_F32), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm_layer_new(9, DZ_SHAPE(4), 1e-5, true, DZ_F32), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm_layer_new(1, NULL, 1e-5, true, DZ_F32), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_norm_layer_new(1, DZ_SHAPE(-4), 1e-5, true, DZ_F32), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_norm_layer_new(2, DZ_SHAPE(BIG, BIG), 1e-5, false, DZ_F32), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_layer_norm_layer_new(1, DZ_SHAPE(4), -1, true, DZ_F32), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm_layer_new(1, DZ_SHAPE(4), NAN, true, DZ_F32), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_norm_layer_new(1, DZ_SHAPE(4), 1e-5, true, DZ_I32), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_layer_norm_layer_new(1, DZ_SHAPE(4), 1e-5, true, (dz_dtype)99), DZ_ERR_DTYPE);
    dz_layer *l = dz_layer_norm_layer_new(1, DZ_SHAPE(0), 0, true, DZ_F64);
    BAD_ARGS_CHECK(l && l->nparams == 2);
    dz_layer_free(l);
}

static void gelu_layer_new(void)
{
    dz_layer *l = dz_gelu_layer_new(true);
    BAD_ARGS_CHECK(l && l->nparams == 0);
    dz_layer_free(l);
}

static void dropout_layer_new(void)
{
    EXPECT_NULL(dz_dropout_layer_new(1.0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_dropout_layer_new(-0.5, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_dropout_layer_new(NAN, NULL), DZ_ERR_VALUE);
    dz_layer *l = dz_dropout_layer_new(0.0, NULL);
    BAD_ARGS_CHECK(l && l->nparams == 0);
    dz_layer_free(l);
}

/* A function layer: no parameters, the type PyTorch names it. */
static void expect_function_layer(dz_layer *l, const char *type)
{
    BAD_ARGS_CHECK(l && l->nparams == 0 && strcmp(l->ops->type, type) == 0);
    dz_layer_free(l);
}

static void relu_layer_new(void) { expect_function_layer(dz_relu_layer_new(), "ReLU"); }
static void sigmoid_layer_new(void) { expect_function_layer(dz_sigmoid_layer_new(), "Sigmoid"); }
static void tanh_layer_new(void) { expect_function_layer(dz_tanh_layer_new(), "Tanh"); }
static void flatten_layer_new(void) { expect_function_layer(dz_flatten_layer_new(), "Flatten"); }

static void leaky_relu_layer_new(void)
{
    EXPECT_NULL(dz_leaky_relu_layer_new(NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_leaky_relu_layer_new(-INFINITY), DZ_ERR_VALUE);
    expect_function_layer(dz_leaky_relu_layer_new(-0.5), "LeakyReLU");
}

static void softmax_layer_new(void)
{
    EXPECT_NULL(dz_softmax_layer_new(DZ_MAX_NDIM), DZ_ERR_VALUE);
    EXPECT_NULL(dz_softmax_layer_new(-DZ_MAX_NDIM - 1), DZ_ERR_VALUE);
    expect_function_layer(dz_softmax_layer_new(-DZ_MAX_NDIM), "Softmax");
}

static void log_softmax_layer_new(void)
{
    EXPECT_NULL(dz_log_softmax_layer_new(100), DZ_ERR_VALUE);
    EXPECT_NULL(dz_log_softmax_layer_new(-9), DZ_ERR_VALUE);
    expect_function_layer(dz_log_softmax_layer_new(DZ_MAX_NDIM - 1), "LogSoftmax");
}

const bad_args_case bad_args_norm[] = {
    {"dz_batch_norm", batch_norm},
    {"dz_layer_norm", layer_norm},
    {"dz_gelu", gelu},
    {"dz_batch_norm_layer_new", batch_norm_layer_new},
    {"dz_layer_norm_layer_new", layer_norm_layer_new},
    {"dz_gelu_layer_new", gelu_layer_new},
    {"dz_dropout_layer_new", dropout_layer_new},
    {"dz_relu_layer_new", relu_layer_new},
    {"dz_leaky_relu_layer_new", leaky_relu_layer_new},
    {"dz_sigmoid_layer_new", sigmoid_layer_new},
    {"dz_tanh_layer_new", tanh_layer_new},
    {"dz_softmax_layer_new", softmax_layer_new},
    {"dz_log_softmax_layer_new", log_softmax_layer_new},
    {"dz_flatten_layer_new", flatten_layer_new},
    BAD_ARGS_END,
};

/* Bad-argument cases for the functions of array, config, device, error, function, graph, gradient_check, rng,
 * scope, sparse_grad and variable.h (see bad_args.h).
 *
 * Each case makes what it needs, calls its function with bad arguments, and
 * releases everything, so that the leak checkers of the sanitizer and
 * valgrind runs see a clean exit. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bad_args.h"

/* A call that must succeed without an error, and a condition on its result. */
static bool holds;
#define EXPECT_TRUE_QUIET(cond)                                                                   \
    do {                                                                                           \
        EXPECT_QUIET(holds = (cond));                                                              \
        if (!holds)                                                                                \
            bad_args_fail(__FILE__, __LINE__, "check failed: %s", #cond);                          \
    } while (0)

#define BAD_DTYPE ((dz_dtype)99)
#define NEGATIVE_DTYPE ((dz_dtype)-1)

/* A (2, 3) float32 array of zeros. */
static dz_array *small(void) { return dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)); }

/* ---- array.h: dtypes ------------------------------------------------------------ */

static void dtype_size(void)
{
    EXPECT_VALUE(dz_dtype_size(BAD_DTYPE), 0, DZ_ERR_DTYPE);
    EXPECT_VALUE(dz_dtype_size(NEGATIVE_DTYPE), 0, DZ_ERR_DTYPE);
    EXPECT_TRUE_QUIET(dz_dtype_size(DZ_F16) == 2);
}

static void dtype_name(void)
{
    /* used inside messages, so it never raises */
    EXPECT_TRUE_QUIET(strcmp(dz_dtype_name(BAD_DTYPE), "unknown dtype") == 0);
    EXPECT_TRUE_QUIET(strcmp(dz_dtype_name(NEGATIVE_DTYPE), "unknown dtype") == 0);
}

static void dtype_is_float(void)
{
    EXPECT_TRUE_QUIET(!dz_dtype_is_float(BAD_DTYPE));
    EXPECT_TRUE_QUIET(!dz_dtype_is_float(DZ_F16));
}

static void dtype_is_integer(void)
{
    EXPECT_TRUE_QUIET(!dz_dtype_is_integer(BAD_DTYPE));
    EXPECT_TRUE_QUIET(!dz_dtype_is_integer(DZ_U8));
}

/* ---- array.h: creation ---------------------------------------------------------- */

/* The shape errors every constructor taking (dtype, ndim, shape) reports. */
#define EXPECT_BAD_SHAPES(make)                                                                   \
    do {                                                                                           \
        int64_t big = (int64_t)1 << 40;                                                            \
        EXPECT_NULL(make(DZ_F32, 2, DZ_SHAPE(-1, 2)), DZ_ERR_SHAPE);                               \
        EXPECT_NULL(make(DZ_F32, 2, DZ_SHAPE(2, INT64_MIN)), DZ_ERR_SHAPE);                        \
        EXPECT_NULL(make(DZ_F64, 2, DZ_SHAPE(big, big)), DZ_ERR_OVERFLOW);                         \
        EXPECT_NULL(make(DZ_F64, 3, DZ_SHAPE(big, big, 0)), DZ_ERR_OVERFLOW);                      \
        EXPECT_NULL(make(DZ_F64, 1, DZ_SHAPE(INT64_MAX / 4)), DZ_ERR_OVERFLOW);                    \
        EXPECT_NULL(make(DZ_F32, 9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), DZ_ERR_SHAPE);           \
        EXPECT_NULL(make(DZ_F32, -1, NULL), DZ_ERR_SHAPE);                                         \
        EXPECT_NULL(make(DZ_F32, 2, NULL), DZ_ERR_NULL);                                           \
        EXPECT_NULL(make(BAD_DTYPE, 1, DZ_SHAPE(2)), DZ_ERR_DTYPE);                                \
        EXPECT_NULL(make(NEGATIVE_DTYPE, 1, DZ_SHAPE(2)), DZ_ERR_DTYPE);                           \
    } while (0)

static void array_empty(void) { EXPECT_BAD_SHAPES(dz_array_empty); }

static void array_zeros(void)
{
    EXPECT_BAD_SHAPES(dz_array_zeros);
    dz_array *none = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(0, 1 << 30)); /* zero elements is fine */
    EXPECT_TRUE_QUIET(none && none->size == 0);
    dz_array_release(none);
}

static void array_ones(void) { EXPECT_BAD_SHAPES(dz_array_ones); }

static dz_array *full_of_two(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_full(dtype, ndim, shape, 2.0);
}

static void array_full(void)
{
    EXPECT_BAD_SHAPES(full_of_two);
    /* values the dtype cannot hold: converting them is undefined in C */
    EXPECT_NULL(dz_array_full(DZ_I32, 1, DZ_SHAPE(2), NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_full(DZ_I32, 1, DZ_SHAPE(2), 2147483648.0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_full(DZ_I64, 1, DZ_SHAPE(2), INFINITY), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_full(DZ_I64, 1, DZ_SHAPE(2), 0x1p63), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_full(DZ_U8, 1, DZ_SHAPE(2), -1.0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_full(DZ_U8, 1, DZ_SHAPE(2), 256.0), DZ_ERR_VALUE);
    dz_array *nan = dz_array_full(DZ_F32, 1, DZ_SHAPE(2), NAN); /* floats hold NaN */
    EXPECT_TRUE_QUIET(nan && isnan(dz_array_get(nan, 1)));
    dz_array_release(nan);
    dz_array *edge = dz_array_full(DZ_I32, 1, DZ_SHAPE(1), -2147483648.0);
    EXPECT_TRUE_QUIET(edge && dz_array_get(edge, 0) == -2147483648.0);
    dz_array_release(edge);
}

static void array_scalar(void)
{
    EXPECT_NULL(dz_array_scalar(BAD_DTYPE, 1.0), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_scalar(DZ_I32, NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_scalar(DZ_I64, -INFINITY), DZ_ERR_VALUE);
}

static void array_arange(void)
{
    EXPECT_NULL(dz_array_arange(DZ_F32, 0, 5, 0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_arange(DZ_F32, NAN, 5, 1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_arange(DZ_F32, 0, INFINITY, 1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_arange(DZ_F64, 0, 1e300, 1), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_array_arange(DZ_F64, -1e308, 1e308, 1e-300), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_array_arange(BAD_DTYPE, 0, 5, 1), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_arange(DZ_I32, 0, 5e9, 1e9), DZ_ERR_VALUE); /* 4e9 is past int32 */
    dz_array *empty = dz_array_arange(DZ_I32, 5, 0, 1); /* the wrong direction gives no elements */
    EXPECT_TRUE_QUIET(empty && empty->size == 0);
    dz_array_release(empty);
}

static void array_from_buffer(void)
{
    const float values[2] = {1, 2};
    EXPECT_NULL(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(-2), values), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_from_buffer(DZ_F32, 1, NULL, values), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_from_buffer(BAD_DTYPE, 1, DZ_SHAPE(2), values), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(INT64_MAX), values), DZ_ERR_OVERFLOW);
}

/* An array header whose dtype or device is outside its enum (a corrupted or
 * hand-made struct): functions must not index a table with it. */
static dz_array corrupted(const dz_array *a, dz_dtype dtype, dz_device device)
{
    dz_array c = *a;
    c.dtype = dtype;
    c.device = device;
    return c;
}

/* The NULL and corrupted-array errors of a function of one array. */
#define EXPECT_BAD_ARRAY(call_on)                                                                 \
    do {                                                                                           \
        dz_array *a_ = small();                                                                    \
        dz_array bad_dtype_ = corrupted(a_, BAD_DTYPE, DZ_CPU), bad_device_ = corrupted(a_, DZ_F32, (dz_device)7); \
        EXPECT_NULL(call_on(NULL), DZ_ERR_NULL);                                                   \
        EXPECT_NULL(call_on(&bad_dtype_), DZ_ERR_DTYPE);                                           \
        EXPECT_NULL(call_on(&bad_device_), DZ_ERR_DEVICE);                                         \
        dz_array_release(a_);                                                                      \
    } while (0)

static void array_zeros_like(void) { EXPECT_BAD_ARRAY(dz_array_zeros_like); }
static void array_ones_like(void) { EXPECT_BAD_ARRAY(dz_array_ones_like); }
static void array_copy(void) { EXPECT_BAD_ARRAY(dz_array_copy); }

/* ---- array.h: conversion and reshape --------------------------------------------- */

static dz_array *astype_f64(const dz_array *a) { return dz_array_astype(a, DZ_F64); }

static void array_astype(void)
{
    EXPECT_BAD_ARRAY(astype_f64);
    dz_array *a = small();
    EXPECT_NULL(dz_array_astype(a, BAD_DTYPE), DZ_ERR_DTYPE);
    dz_array_set(a, 4, NAN);
    EXPECT_NULL(dz_array_astype(a, DZ_I32), DZ_ERR_VALUE);
    dz_array_set(a, 4, 1e10);
    EXPECT_NULL(dz_array_astype(a, DZ_I32), DZ_ERR_VALUE);
    dz_array_set(a, 4, -INFINITY);
    EXPECT_NULL(dz_array_astype(a, DZ_I64), DZ_ERR_VALUE);
    dz_array_set(a, 4, 2.5);
    dz_array *ok = dz_array_astype(a, DZ_I32); /* truncation toward zero is fine */
    EXPECT_TRUE_QUIET(ok && dz_array_get(ok, 4) == 2.0);
    dz_array_set(ok, 0, -1);
    EXPECT_NULL(dz_array_astype(ok, DZ_U8), DZ_ERR_VALUE);
    dz_array *half = dz_array_full(DZ_F16, 1, DZ_SHAPE(2), INFINITY);
    EXPECT_NULL(dz_array_astype(half, DZ_I32), DZ_ERR_VALUE);
    dz_array_release(half);
    dz_array_release(ok);
    dz_array_release(a);
}

static void array_reshape(void)
{
    dz_array *a = small();
    int64_t big = (int64_t)1 << 40;
    EXPECT_NULL(dz_array_reshape(NULL, 1, DZ_SHAPE(6)), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_reshape(a, 9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 6)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, -1, DZ_SHAPE(6)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 2, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_reshape(a, 2, DZ_SHAPE(-1, -1)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 2, DZ_SHAPE(-2, -3)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 2, DZ_SHAPE(4, 2)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 2, DZ_SHAPE(4, -1)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 2, DZ_SHAPE(0, -1)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 3, DZ_SHAPE(big, big, 0)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_reshape(a, 3, DZ_SHAPE(big, big, -1)), DZ_ERR_SHAPE);
    dz_array bad = corrupted(a, BAD_DTYPE, DZ_CPU);
    EXPECT_NULL(dz_array_reshape(&bad, 1, DZ_SHAPE(6)), DZ_ERR_DTYPE);
    dz_array *y = dz_array_reshape(a, 3, DZ_SHAPE(3, -1, 1));
    EXPECT_TRUE_QUIET(y && y->shape[1] == 2);
    dz_array_release(y);
    dz_array_release(a);
}

static void array_to_device(void)
{
    dz_array *a = small();
    EXPECT_NULL(dz_array_to_device(NULL, DZ_CPU), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_to_device(a, (dz_device)7), DZ_ERR_DEVICE);
    EXPECT_NULL(dz_array_to_device(a, (dz_device)-1), DZ_ERR_DEVICE);
    dz_array bad = corrupted(a, DZ_F32, (dz_device)7);
    EXPECT_NULL(dz_array_to_device(&bad, DZ_CPU), DZ_ERR_DEVICE);
    dz_array *same = dz_array_to_device(a, DZ_CPU);
    EXPECT_TRUE_QUIET(same == a);
    dz_array_release(same);
    dz_array_release(a);
}

/* ---- array.h: references and elements -------------------------------------------- */

static void array_retain(void) { EXPECT_TRUE_QUIET(dz_array_retain(NULL) == NULL); }
static void array_release(void) { EXPECT_QUIET(dz_array_release(NULL)); }

static void array_get(void)
{
    dz_array *a = small();
    EXPECT_RAISED(dz_array_get(NULL, 0), DZ_ERR_NULL);
    EXPECT_RAISED(holds = isnan(dz_array_get(a, -1)), DZ_ERR_INDEX);
    BAD_ARGS_CHECK(holds); /* NaN after an error */
    EXPECT_RAISED(dz_array_get(a, 6), DZ_ERR_INDEX);
    EXPECT_RAISED(dz_array_get(a, INT64_MAX), DZ_ERR_INDEX);
    EXPECT_RAISED(dz_array_get(a, INT64_MIN), DZ_ERR_INDEX);
    dz_array bad = corrupted(a, BAD_DTYPE, DZ_CPU);
    EXPECT_RAISED(dz_array_get(&bad, 0), DZ_ERR_DTYPE);
    dz_array_release(a);
}

static void array_set(void)
{
    dz_array *a = small();
    dz_array *ints = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(2));
    dz_array *bytes = dz_array_zeros(DZ_U8, 1, DZ_SHAPE(2));
    EXPECT_RAISED(dz_array_set(NULL, 0, 1.0), DZ_ERR_NULL);
    EXPECT_RAISED(dz_array_set(a, -1, 1.0), DZ_ERR_INDEX);
    EXPECT_RAISED(dz_array_set(a, 6, 1.0), DZ_ERR_INDEX);
    EXPECT_RAISED(dz_array_set(ints, 0, NAN), DZ_ERR_VALUE);
    EXPECT_RAISED(dz_array_set(ints, 0, 3e9), DZ_ERR_VALUE);
    EXPECT_RAISED(dz_array_set(bytes, 1, 300), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_array_get(ints, 0) == 0 && dz_array_get(bytes, 1) == 0); /* left untouched */
    EXPECT_QUIET(dz_array_set(a, 5, INFINITY));
    dz_array_release(bytes);
    dz_array_release(ints);
    dz_array_release(a);
}

static void array_to_doubles(void)
{
    dz_array *a = small();
    double out[6];
    EXPECT_RAISED(dz_array_to_doubles(NULL, out), DZ_ERR_NULL);
    EXPECT_RAISED(dz_array_to_doubles(a, NULL), DZ_ERR_NULL);
    dz_array bad = corrupted(a, NEGATIVE_DTYPE, DZ_CPU);
    EXPECT_RAISED(dz_array_to_doubles(&bad, out), DZ_ERR_DTYPE);
    dz_array_release(a);
}

/* ---- array.h: shapes ----------------------------------------------------------------- */

static void shape_equal(void)
{
    const int64_t *nine = DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1);
    EXPECT_VALUE(dz_shape_equal(9, nine, 9, nine), false, DZ_ERR_SHAPE);
    EXPECT_VALUE(dz_shape_equal(2, NULL, 2, DZ_SHAPE(1, 2)), false, DZ_ERR_NULL);
    EXPECT_VALUE(dz_shape_equal(-1, NULL, -1, NULL), false, DZ_ERR_SHAPE);
    EXPECT_TRUE_QUIET(!dz_shape_equal(1, DZ_SHAPE(2), 2, DZ_SHAPE(2, 1)));
    EXPECT_TRUE_QUIET(dz_shape_equal(0, NULL, 0, NULL));
}

static void array_same_shape(void)
{
    dz_array *a = small();
    EXPECT_VALUE(dz_array_same_shape(a, NULL), false, DZ_ERR_NULL);
    EXPECT_VALUE(dz_array_same_shape(NULL, a), false, DZ_ERR_NULL);
    dz_array_release(a);
}

static void shape_format(void)
{
    char buf[8];
    EXPECT_NULL(dz_shape_format(1, DZ_SHAPE(2), NULL, 8), DZ_ERR_NULL);
    EXPECT_NULL(dz_shape_format(1, DZ_SHAPE(2), buf, 0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_shape_format(-1, DZ_SHAPE(2), buf, sizeof buf), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_shape_format(9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), buf, sizeof buf), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_shape_format(2, NULL, buf, sizeof buf), DZ_ERR_NULL);
    /* a short buffer cuts the text and stays NUL-terminated */
    EXPECT_TRUE_QUIET(strcmp(dz_shape_format(2, DZ_SHAPE(12345, 6), buf, 4), "(12") == 0);
}

static void shape_size(void)
{
    int64_t n = -7;
    EXPECT_VALUE(dz_shape_size(1, DZ_SHAPE(2), NULL), false, DZ_ERR_NULL);
    EXPECT_VALUE(dz_shape_size(9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), &n), false, DZ_ERR_SHAPE);
    EXPECT_VALUE(dz_shape_size(2, NULL, &n), false, DZ_ERR_NULL);
    /* documented answers, not errors: false for a negative or overflowing shape */
    EXPECT_TRUE_QUIET(!dz_shape_size(2, DZ_SHAPE(2, -1), &n));
    EXPECT_TRUE_QUIET(!dz_shape_size(2, DZ_SHAPE(INT64_MAX, 2), &n));
    EXPECT_TRUE_QUIET(n == -7);
}

static void array_format(void)
{
    dz_array *a = small();
    dz_array bad = corrupted(a, BAD_DTYPE, DZ_CPU);
    EXPECT_NULL(dz_array_format(NULL, 0), DZ_ERR_NULL);
    EXPECT_NULL(dz_array_format(&bad, 0), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_format(a, -1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_format(a, INT_MAX), DZ_ERR_VALUE);
    dz_array_release(a);
}

static void array_print(void)
{
    dz_array *a = small();
    dz_array bad = corrupted(a, DZ_F32, (dz_device)-3);
    EXPECT_RAISED(dz_array_print(NULL, stdout), DZ_ERR_NULL);
    EXPECT_RAISED(dz_array_print(a, NULL), DZ_ERR_NULL);
    EXPECT_RAISED(dz_array_print(&bad, stdout), DZ_ERR_DEVICE);
    dz_array_release(a);
}

/* ---- config.h and device.h: switches with no bad values --------------------------------- */

static void enable_backprop(void) { EXPECT_TRUE_QUIET(dz_enable_backprop()); }

static void set_enable_backprop(void)
{
    bool old = dz_set_enable_backprop(false);
    EXPECT_TRUE_QUIET(!dz_enable_backprop());
    EXPECT_TRUE_QUIET(!dz_set_enable_backprop(old));
}

static void is_train(void) { EXPECT_TRUE_QUIET(dz_is_train()); }

static void set_train(void)
{
    bool old = dz_set_train(false);
    EXPECT_TRUE_QUIET(!dz_is_train());
    EXPECT_TRUE_QUIET(!dz_set_train(old));
}

static void cuda_available(void) { EXPECT_QUIET(dz_cuda_available()); }

static void cuda_device_name(void)
{
    EXPECT_QUIET(dz_cuda_device_name());
    BAD_ARGS_CHECK((dz_cuda_device_name() != NULL) == dz_cuda_available());
}

static void cuda_is_emulated(void)
{
    EXPECT_QUIET(dz_cuda_is_emulated());
    BAD_ARGS_CHECK(!dz_cuda_is_emulated() || dz_cuda_available());
}

/* Without a device there is nothing to wait for: an error naming the reason. */
static void cuda_synchronize(void)
{
    if (dz_cuda_available())
        EXPECT_TRUE_QUIET(dz_cuda_synchronize() == DZ_OK);
    else
        EXPECT_STATUS(dz_cuda_synchronize(), DZ_ERR_DEVICE);
}

static void cuda_set_allow_tf32(void)
{
    EXPECT_QUIET(dz_cuda_set_allow_tf32(true));
    EXPECT_QUIET(dz_cuda_set_allow_tf32(false));
}

static void set_num_threads(void)
{
    int old = dz_num_threads();
    EXPECT_QUIET(dz_set_num_threads(0)); /* n < 1 means 1 */
    BAD_ARGS_CHECK(dz_num_threads() == 1);
    EXPECT_QUIET(dz_set_num_threads(INT_MIN));
    BAD_ARGS_CHECK(dz_num_threads() == 1);
    EXPECT_QUIET(dz_set_num_threads(old));
}

static void num_threads(void) { EXPECT_TRUE_QUIET(dz_num_threads() >= 1); }

static void memory_stats(void)
{
    dz_array *a = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(1 << 16));
    EXPECT_TRUE_QUIET(dz_memory_stats().in_use > 0);
    dz_array_release(a);
}

static void empty_cache(void) { EXPECT_QUIET(dz_empty_cache()); }

/* ---- error.h ------------------------------------------------------------------------------ */

static void set_error_handler(void)
{
    dz_error_handler old = dz_set_error_handler(NULL); /* NULL restores the default */
    EXPECT_TRUE_QUIET(dz_set_error_handler(old) != NULL);
}

static void set_error_handler_off(void)
{
    dz_error_handler old = dz_set_error_handler_off();
    EXPECT_QUIET(dz_set_error_handler(old));
}

static void last_error(void)
{
    dz_clear_error();
    EXPECT_TRUE_QUIET(strcmp(dz_last_error(), "") == 0);
}

static void last_error_code(void) { EXPECT_TRUE_QUIET(dz_last_error_code() == DZ_OK); }

static void clear_error(void)
{
    dz_variable *x = dz_variable_scalar(DZ_F32, 1);
    BAD_ARGS_CHECK(dz_graph_write_dot(x, "/nonexistent-directory/graph.dot", false) == DZ_ERR_IO);
    EXPECT_QUIET(dz_clear_error());
    BAD_ARGS_CHECK(dz_last_error_code() == DZ_OK && strcmp(dz_last_error(), "") == 0);
    dz_variable_release(x);
}

static void status_name(void)
{
    EXPECT_TRUE_QUIET(strcmp(dz_status_name((dz_status)99), "unknown error") == 0);
    EXPECT_TRUE_QUIET(strcmp(dz_status_name((dz_status)-1), "unknown error") == 0);
}

/* ---- rng.h ------------------------------------------------------------------------------------ */

static void rng_seed(void) { EXPECT_RAISED(dz_rng_seed(NULL, 1), DZ_ERR_NULL); }
static void rng_default(void) { EXPECT_TRUE_QUIET(dz_rng_default() != NULL); }
static void rng_next(void) { EXPECT_VALUE(dz_rng_next(NULL), 0, DZ_ERR_NULL); }
static void rng_uniform(void)
{
    EXPECT_RAISED(holds = isnan(dz_rng_uniform(NULL)), DZ_ERR_NULL);
    BAD_ARGS_CHECK(holds);
}

static void rng_normal(void)
{
    EXPECT_RAISED(holds = isnan(dz_rng_normal(NULL)), DZ_ERR_NULL);
    BAD_ARGS_CHECK(holds);
}

static void rng_randint(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 3);
    EXPECT_VALUE(dz_rng_randint(NULL, 0, 5), 0, DZ_ERR_NULL);
    EXPECT_VALUE(dz_rng_randint(&rng, 5, 5), 0, DZ_ERR_VALUE);
    EXPECT_VALUE(dz_rng_randint(&rng, 5, -5), 0, DZ_ERR_VALUE);
    EXPECT_VALUE(dz_rng_randint(&rng, INT64_MAX, INT64_MIN), 0, DZ_ERR_VALUE);
    /* the span of the full int64 range does not fit in int64 */
    bool negative = false, positive = false;
    for (int i = 0; i < 64; i++) {
        int64_t v = dz_rng_randint(&rng, INT64_MIN, INT64_MAX);
        negative |= v < 0;
        positive |= v > 0;
    }
    EXPECT_TRUE_QUIET(negative && positive);
    EXPECT_TRUE_QUIET(dz_rng_randint(&rng, INT64_MIN, INT64_MIN + 1) == INT64_MIN);
    EXPECT_TRUE_QUIET(dz_rng_randint(&rng, INT64_MAX - 1, INT64_MAX) == INT64_MAX - 1);
}

/* The dtype and shape errors of the random arrays. */
#define EXPECT_BAD_RANDOM_SHAPES(make, dtype)                                                     \
    do {                                                                                           \
        EXPECT_NULL(make(BAD_DTYPE, 1, DZ_SHAPE(2)), DZ_ERR_DTYPE);                                \
        EXPECT_NULL(make(dtype, 1, DZ_SHAPE(-2)), DZ_ERR_SHAPE);                                   \
        EXPECT_NULL(make(dtype, 2, NULL), DZ_ERR_NULL);                                            \
        EXPECT_NULL(make(dtype, 9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), DZ_ERR_SHAPE);            \
        EXPECT_NULL(make(dtype, 2, DZ_SHAPE(INT64_MAX, 2)), DZ_ERR_OVERFLOW);                      \
    } while (0)

static dz_array *uniform01(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_uniform(NULL, dtype, ndim, shape, 0, 1);
}

static void array_uniform(void)
{
    EXPECT_BAD_RANDOM_SHAPES(uniform01, DZ_F32);
    EXPECT_NULL(dz_array_uniform(NULL, DZ_I32, 1, DZ_SHAPE(2), 0, 1), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_uniform(NULL, DZ_F32, 1, DZ_SHAPE(2), 1, 0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_uniform(NULL, DZ_F32, 1, DZ_SHAPE(2), NAN, 1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_uniform(NULL, DZ_F64, 1, DZ_SHAPE(2), 0, INFINITY), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_uniform(NULL, DZ_F64, 1, DZ_SHAPE(2), -1e308, 1e308), DZ_ERR_VALUE);
}

static dz_array *normal01(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_normal(NULL, dtype, ndim, shape, 0, 1);
}

static void array_normal(void)
{
    EXPECT_BAD_RANDOM_SHAPES(normal01, DZ_F64);
    EXPECT_NULL(dz_array_normal(NULL, DZ_I64, 1, DZ_SHAPE(2), 0, 1), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_normal(NULL, DZ_F32, 1, DZ_SHAPE(2), 0, -1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_normal(NULL, DZ_F32, 1, DZ_SHAPE(2), NAN, 1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_normal(NULL, DZ_F32, 1, DZ_SHAPE(2), 0, INFINITY), DZ_ERR_VALUE);
    dz_array *flat = dz_array_normal(NULL, DZ_F32, 1, DZ_SHAPE(2), 3, 0); /* std 0 is allowed */
    EXPECT_TRUE_QUIET(flat && dz_array_get(flat, 1) == 3);
    dz_array_release(flat);
}

static dz_array *randint09(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_randint(NULL, dtype, ndim, shape, 0, 9);
}

static void array_randint(void)
{
    EXPECT_BAD_RANDOM_SHAPES(randint09, DZ_I32);
    EXPECT_NULL(dz_array_randint(NULL, DZ_F32, 1, DZ_SHAPE(2), 0, 9), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_array_randint(NULL, DZ_I64, 1, DZ_SHAPE(2), 9, 9), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_randint(NULL, DZ_I32, 1, DZ_SHAPE(2), 0, ((int64_t)1 << 31) + 1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_randint(NULL, DZ_I32, 1, DZ_SHAPE(2), (int64_t)INT32_MIN - 1, 0), DZ_ERR_VALUE);
    dz_array *edge = dz_array_randint(NULL, DZ_I32, 1, DZ_SHAPE(4), INT32_MAX, (int64_t)INT32_MAX + 1);
    EXPECT_TRUE_QUIET(edge && dz_array_get(edge, 3) == INT32_MAX);
    dz_array_release(edge);
    /* int64 values are written exactly, not through a double */
    dz_array *top = dz_array_randint(NULL, DZ_I64, 1, DZ_SHAPE(2), INT64_MAX - 1, INT64_MAX);
    EXPECT_TRUE_QUIET(top && ((const int64_t *)top->data)[1] == INT64_MAX - 1);
    dz_array_release(top);
}

static void array_permutation(void)
{
    EXPECT_NULL(dz_array_permutation(NULL, -1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_permutation(NULL, INT64_MIN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_array_permutation(NULL, INT64_MAX), DZ_ERR_OVERFLOW);
    dz_array *none = dz_array_permutation(NULL, 0);
    EXPECT_TRUE_QUIET(none && none->size == 0);
    dz_array_release(none);
}

/* ---- variable.h ------------------------------------------------------------------------------ */

/* A leaf (2, 3) float64 of 1.5, owned by the open scope. */
static dz_variable *leaf(void) { return dz_variable_new(dz_array_full(DZ_F64, 2, DZ_SHAPE(2, 3), 1.5), "x"); }

/* NULL data is allowed (a Linear's weight before its first call). */
static void variable_new(void)
{
    dz_variable *v = dz_variable_new(NULL, NULL);
    EXPECT_TRUE_QUIET(v && !v->data && v->requires_grad);
    dz_variable_release(v);
}

static void variable_constant(void)
{
    dz_variable *v = dz_variable_constant(NULL, "c");
    EXPECT_TRUE_QUIET(v && !v->requires_grad);
    dz_variable_release(v);
}

static void parameter_new(void)
{
    dz_variable *v = dz_parameter_new(NULL, NULL);
    EXPECT_TRUE_QUIET(v && v->is_parameter);
    dz_variable_release(v);
}

static void variable_scalar(void)
{
    EXPECT_NULL(dz_variable_scalar(BAD_DTYPE, 1), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_variable_scalar(DZ_I32, NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_variable_scalar(DZ_I64, 1e19), DZ_ERR_VALUE);
}

/* A move that fails leaves the variable where it was. */
static void variable_to(dz_status (*to)(dz_variable *), dz_device device, bool with_device)
{
    EXPECT_STATUS(with_device ? dz_variable_to_device(NULL, device) : to(NULL), DZ_ERR_NULL);
    dz_scope_begin();
    dz_variable *x = leaf();
    if (with_device) {
        EXPECT_STATUS(dz_variable_to_device(x, (dz_device)7), DZ_ERR_DEVICE);
        BAD_ARGS_CHECK(x->data->device == DZ_CPU);
    }
    if (!dz_cuda_available() && device == DZ_CUDA) {
        EXPECT_STATUS(with_device ? dz_variable_to_device(x, DZ_CUDA) : to(x), DZ_ERR_DEVICE);
        BAD_ARGS_CHECK(x->data->device == DZ_CPU);
    }
    EXPECT_TRUE_QUIET(dz_variable_to_cpu(x) == DZ_OK);
    dz_scope_end();
}
static void variable_to_device(void) { variable_to(NULL, DZ_CUDA, true); }
static void variable_to_gpu(void) { variable_to(dz_variable_to_gpu, DZ_CUDA, false); }
static void variable_to_cpu(void) { variable_to(dz_variable_to_cpu, DZ_CPU, false); }

static void variable_retain(void) { EXPECT_TRUE_QUIET(dz_variable_retain(NULL) == NULL); }
static void variable_release(void) { EXPECT_QUIET(dz_variable_release(NULL)); }

static void variable_set_name(void)
{
    dz_scope_begin();
    dz_variable *x = leaf();
    EXPECT_RAISED(dz_variable_set_name(NULL, "y"), DZ_ERR_NULL);
    EXPECT_QUIET(dz_variable_set_name(x, NULL));
    BAD_ARGS_CHECK(x->name == NULL);
    dz_scope_end();
}

static void variable_set_data(void)
{
    dz_scope_begin();
    dz_variable *x = leaf();
    EXPECT_RAISED(dz_variable_set_data(NULL, small()), DZ_ERR_NULL); /* the array is released, not leaked */
    EXPECT_QUIET(dz_variable_set_data(x, NULL));
    BAD_ARGS_CHECK(x->data == NULL);
    dz_scope_end();
}

static void variable_set_grad(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(), *empty = dz_variable_new(NULL, NULL);
    EXPECT_RAISED(dz_variable_set_grad(NULL, x), DZ_ERR_NULL);
    EXPECT_RAISED(dz_variable_set_grad(x, x), DZ_ERR_VALUE); /* a cycle no refcount frees */
    EXPECT_RAISED(dz_variable_set_grad(x, empty), DZ_ERR_STATE);
    BAD_ARGS_CHECK(x->grad == NULL);
    EXPECT_QUIET(dz_variable_set_grad(x, NULL));
    dz_scope_end();
}

/* The accessors on NULL raise; on a variable without data they answer. */
static void variable_ndim(void)
{
    EXPECT_VALUE(dz_variable_ndim(NULL), 0, DZ_ERR_NULL);
    dz_variable *empty = dz_variable_new(NULL, NULL);
    EXPECT_TRUE_QUIET(dz_variable_ndim(empty) == 0);
    dz_variable_release(empty);
}

static void variable_shape(void) { EXPECT_NULL(dz_variable_shape(NULL), DZ_ERR_NULL); }
static void variable_size(void) { EXPECT_VALUE(dz_variable_size(NULL), 0, DZ_ERR_NULL); }
static void variable_dtype(void) { EXPECT_VALUE(dz_variable_dtype(NULL), DZ_F32, DZ_ERR_NULL); }

static void variable_len(void)
{
    EXPECT_VALUE(dz_variable_len(NULL), 0, DZ_ERR_NULL);
    dz_variable *s = dz_variable_scalar(DZ_F32, 1);
    EXPECT_TRUE_QUIET(dz_variable_len(s) == 0); /* 0-d */
    dz_variable_release(s);
}

static void variable_cleargrad(void)
{
    EXPECT_RAISED(dz_variable_cleargrad(NULL), DZ_ERR_NULL);
    dz_variable *x = dz_variable_new(NULL, NULL);
    EXPECT_QUIET(dz_variable_cleargrad(x));
    dz_variable_release(x);
}

static void variable_unchain(void)
{
    EXPECT_RAISED(dz_variable_unchain(NULL), DZ_ERR_NULL);
    dz_scope_begin();
    dz_variable *x = leaf();
    EXPECT_QUIET(dz_variable_unchain(x)); /* a leaf: nothing to do */
    dz_variable *y = dz_mul(x, x);
    EXPECT_QUIET(dz_variable_unchain(y));
    EXPECT_QUIET(dz_variable_unchain(y)); /* twice */
    BAD_ARGS_CHECK(y->creator == NULL);
    dz_scope_end();
}

static void variable_unchain_backward(void)
{
    EXPECT_RAISED(dz_variable_unchain_backward(NULL), DZ_ERR_NULL);
    dz_scope_begin();
    dz_variable *x = leaf();
    EXPECT_QUIET(dz_variable_unchain_backward(x));
    dz_scope_end();
}

/* A user-defined Function whose backward gives the kind of grad its scalar names. */
typedef enum { GOOD_GRAD, WRONG_SHAPE_GRAD, DATALESS_GRAD } grad_kind;

static void user_backward(dz_function *f, dz_variable *const *gys, dz_variable **gxs)
{
    const dz_array *x = f->inputs[0]->data;
    switch ((grad_kind)f->scalar) {
    case GOOD_GRAD: gxs[0] = dz_variable_new(dz_array_copy(gys[0]->data), NULL); break;
    case WRONG_SHAPE_GRAD: gxs[0] = dz_variable_new(dz_array_zeros(x->dtype, 1, DZ_SHAPE(x->size + 1)), NULL); break;
    case DATALESS_GRAD: gxs[0] = dz_variable_new(NULL, NULL); break;
    }
}
static const dz_function_ops user_ops = {"user_identity", user_backward, NULL, NULL, NULL};
static const dz_function_ops no_backward_ops = {"no_backward", NULL, NULL, NULL, NULL};

/* y = f(x) with a copy of x's data as its output. */
static dz_variable *apply_user(const dz_function_ops *ops, dz_variable *x, grad_kind kind)
{
    return dz_function_apply1(ops, 1, &x, dz_array_copy(x->data), kind, NULL);
}

static void variable_backward(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(), *empty = dz_variable_new(NULL, "empty");
    EXPECT_STATUS(dz_variable_backward(NULL, false, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_variable_backward(empty, false, false), DZ_ERR_STATE);
    EXPECT_STATUS(dz_variable_backward(apply_user(&no_backward_ops, x, GOOD_GRAD), false, false),
                  DZ_ERR_UNSUPPORTED);
    EXPECT_STATUS(dz_variable_backward(apply_user(&user_ops, x, WRONG_SHAPE_GRAD), false, false), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_variable_backward(apply_user(&user_ops, x, DATALESS_GRAD), false, false), DZ_ERR_STATE);
    BAD_ARGS_CHECK(x->grad == NULL); /* nothing reached x */

    /* a grad set by hand must fit the variable backward starts from */
    dz_variable *y = apply_user(&user_ops, x, GOOD_GRAD);
    dz_variable_set_grad(y, dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(6)), NULL));
    EXPECT_STATUS(dz_variable_backward(y, false, false), DZ_ERR_SHAPE);
    dz_variable_set_grad(y, dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL));
    EXPECT_STATUS(dz_variable_backward(y, false, false), DZ_ERR_SHAPE);
    dz_variable_cleargrad(y);

    /* twice without retain_grad: the graph runs again and the leaf grads add up, as in DeZero */
    EXPECT_TRUE_QUIET(dz_variable_backward(y, false, false) == DZ_OK);
    EXPECT_TRUE_QUIET(dz_variable_backward(y, false, false) == DZ_OK);
    BAD_ARGS_CHECK(x->grad && dz_array_get(x->grad->data, 5) == 2.0);
    dz_variable_cleargrad(x);
    dz_scope_end();
}

static void variable_format(void)
{
    EXPECT_NULL(dz_variable_format(NULL), DZ_ERR_NULL);
    dz_variable *empty = dz_variable_new(NULL, NULL);
    char *s = dz_variable_format(empty);
    EXPECT_TRUE_QUIET(s && strcmp(s, "variable(None)") == 0);
    free(s);
    dz_variable_release(empty);
}

static void variable_print(void)
{
    dz_variable *x = dz_variable_scalar(DZ_F32, 1);
    EXPECT_RAISED(dz_variable_print(NULL, stdout), DZ_ERR_NULL);
    EXPECT_RAISED(dz_variable_print(x, NULL), DZ_ERR_NULL);
    dz_variable_release(x);
}

/* ---- function.h ----------------------------------------------------------------------------- */

/* A state that only a call which frees it leaves unleaked. */
static void *fresh_state(void) { return malloc(16); }

static void function_apply(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(), *none = NULL, *out[2] = {x, x};
    dz_variable *inputs[2] = {x, NULL};
    dz_function_ops unnamed = {NULL, user_backward, NULL, NULL, NULL};
    EXPECT_NULL(dz_function_apply(NULL, 1, &x, 1, (dz_array *[]){small()}, NULL, 0, fresh_state()), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply(&unnamed, 1, &x, 1, (dz_array *[]){small()}, NULL, 0, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply(&user_ops, -1, &x, 1, (dz_array *[]){small()}, NULL, 0, fresh_state()),
                DZ_ERR_VALUE);
    EXPECT_NULL(dz_function_apply(&user_ops, 1, &x, 0, (dz_array *[]){NULL}, out, 0, fresh_state()), DZ_ERR_VALUE);
    EXPECT_NULL(dz_function_apply(&user_ops, 1, &x, -3, (dz_array *[]){NULL}, NULL, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_function_apply(&user_ops, 1, NULL, 1, (dz_array *[]){small()}, NULL, 0, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply(&user_ops, 1, &none, 1, (dz_array *[]){small()}, NULL, 0, fresh_state()),
                DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply(&user_ops, 2, inputs, 2, (dz_array *[]){small(), small()}, out, 0, NULL),
                DZ_ERR_NULL);
    BAD_ARGS_CHECK(out[0] == NULL && out[1] == NULL); /* no stale pointers after a failure */
    EXPECT_NULL(dz_function_apply(&user_ops, 1, &x, 1, NULL, NULL, 0, fresh_state()), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply(&user_ops, 1, &x, 2, (dz_array *[]){small(), NULL}, NULL, 0, fresh_state()),
                DZ_ERR_NULL);

    /* a NULL output after a failed forward keeps the forward's error (here an environment error) */
    BAD_ARGS_CHECK(dz_graph_write_dot(x, "/nonexistent-directory/graph.dot", false) == DZ_ERR_IO);
    BAD_ARGS_CHECK(dz_function_apply(&user_ops, 1, &x, 1, (dz_array *[]){NULL}, NULL, 0, NULL) == NULL);
    BAD_ARGS_CHECK(dz_last_error_code() == DZ_ERR_IO && strstr(dz_last_error(), "dz_graph_write_dot: "));
    dz_clear_error();

    /* no inputs is a valid Function (a source): nothing is recorded */
    dz_variable *y = dz_function_apply(&user_ops, 0, NULL, 1, (dz_array *[]){small()}, NULL, 0, NULL);
    EXPECT_TRUE_QUIET(y && !y->creator);
    dz_scope_end();
}

static void function_apply1(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(), *none = NULL;
    EXPECT_NULL(dz_function_apply1(NULL, 1, &x, small(), 0, fresh_state()), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply1(&user_ops, 1, &x, NULL, 0, fresh_state()), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply1(&user_ops, 1, &none, small(), 0, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_function_apply1(&user_ops, INT_MIN, &x, small(), 0, NULL), DZ_ERR_VALUE);
    dz_scope_end();
}

/* ---- scope.h ---------------------------------------------------------------------------------- */

static void scope_begin(void)
{
    EXPECT_QUIET(dz_scope_begin());
    dz_scope_end();
}

static void scope_end(void)
{
    EXPECT_RAISED(dz_scope_end(), DZ_ERR_STATE); /* no scope open */
    dz_scope_begin();
    dz_scope_end();
    EXPECT_RAISED(dz_scope_end(), DZ_ERR_STATE); /* one end too many */
    BAD_ARGS_CHECK(dz_scope_depth() == 0);
}

static void scope_keep(void) { EXPECT_TRUE_QUIET(dz_scope_keep(NULL) == NULL); }

static void autorelease(void)
{
    dz_scope_begin();
    EXPECT_TRUE_QUIET(dz_autorelease(NULL) == NULL);
    dz_scope_end();
}

static void scope_depth(void) { EXPECT_TRUE_QUIET(dz_scope_depth() == 0); }

/* ---- graph.h ---------------------------------------------------------------------------------- */

static void graph_write_dot(void)
{
    dz_variable *x = dz_variable_scalar(DZ_F32, 1);
    EXPECT_STATUS(dz_graph_write_dot(NULL, "graph.dot", false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_graph_write_dot(x, NULL, true), DZ_ERR_NULL);
    EXPECT_STATUS(dz_graph_write_dot(x, "/nonexistent-directory/graph.dot", true), DZ_ERR_IO);
    EXPECT_STATUS(dz_graph_write_dot(x, "", true), DZ_ERR_IO);
    dz_variable_release(x);
}

/* ---- debug.h ---------------------------------------------------------------------------------- */

/* Nothing to get wrong: a count of nothing alive is 0, never negative. */
static void debug_live_objects(void)
{
    dz_live_objects n;
    EXPECT_QUIET(n = dz_debug_live_objects());
    BAD_ARGS_CHECK(n.variables >= 0 && n.functions >= 0 && n.arrays >= 0 && n.storages >= 0 &&
                   n.storage_bytes >= 0);
}

/* On, then off again: the child exits without a warning. */
static void debug_warn_leaks_at_exit(void)
{
    EXPECT_QUIET(dz_debug_warn_leaks_at_exit(true));
    EXPECT_QUIET(dz_debug_warn_leaks_at_exit(false));
}

/* ---- gradient_check.h --------------------------------------------------------------------------- */

static dz_variable *square(dz_variable *const *in, void *ctx)
{
    (void)ctx;
    return dz_mul(in[0], in[0]);
}

static dz_variable *fails_quietly(dz_variable *const *in, void *ctx)
{
    (void)in;
    (void)ctx;
    return NULL;
}

static dz_variable *integer_output(dz_variable *const *in, void *ctx)
{
    (void)in;
    (void)ctx;
    return dz_variable_constant(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(2)), NULL);
}

static dz_variable *dataless_output(dz_variable *const *in, void *ctx)
{
    (void)in;
    (void)ctx;
    return dz_variable_new(NULL, NULL);
}

static void gradient_check(void)
{
    dz_scope_begin();
    dz_variable *x = leaf(), *none = NULL;
    dz_gradient_check_options zero_eps = {0, 1e-4, 1e-5, 1}, nan_rtol = {1e-4, NAN, 1e-5, 1},
                              negative_atol = {1e-4, 1e-4, -1, 1};
    EXPECT_STATUS(dz_gradient_check(NULL, NULL, 1, &x, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_gradient_check(square, NULL, 1, NULL, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_gradient_check(square, NULL, 1, &none, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_gradient_check(square, NULL, -1, &x, NULL), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_gradient_check(square, NULL, 1, &x, &zero_eps), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_gradient_check(square, NULL, 1, &x, &nan_rtol), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_gradient_check(square, NULL, 1, &x, &negative_atol), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_gradient_check(fails_quietly, NULL, 1, &x, NULL), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_gradient_check(integer_output, NULL, 1, &x, NULL), DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_gradient_check(dataless_output, NULL, 1, &x, NULL), DZ_ERR_STATE);
    EXPECT_TRUE_QUIET(dz_gradient_check(square, NULL, 1, &x, NULL) == DZ_OK);
    dz_variable_cleargrad(x);
    dz_scope_end();
}

/* ---- sparse_grad.h ------------------------------------------------------------------------------ */

static dz_array *rows_of(int64_t n, const int64_t *rows) { return dz_array_from_buffer(DZ_I64, 1, &n, rows); }
static dz_array *values_of(int64_t n, int64_t D) { return dz_array_full(DZ_F32, 2, DZ_SHAPE(n, D), 1); }

static void sparse_grad_free(void) { EXPECT_QUIET(dz_sparse_grad_free(NULL)); }

static void sparse_grad_append(void)
{
    const int64_t ok[2] = {0, 3}, past[2] = {0, 4}, negative[2] = {-1, 0};
    dz_scope_begin();
    dz_variable *W = dz_parameter_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(4, 3)), "W");
    /* every failure still releases the entries handed over */
    EXPECT_STATUS(dz_sparse_grad_append(NULL, rows_of(2, ok), values_of(2, 3), 4), DZ_ERR_NULL);
    EXPECT_STATUS(dz_sparse_grad_append(W, NULL, values_of(2, 3), 4), DZ_ERR_NULL);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), NULL, 4), DZ_ERR_NULL);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), values_of(2, 3), -4), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_sparse_grad_append(W, dz_array_zeros(DZ_I32, 1, DZ_SHAPE(2)), values_of(2, 3), 4),
                  DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), dz_array_zeros(DZ_I64, 2, DZ_SHAPE(2, 3)), 4),
                  DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), values_of(3, 3), 4), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), 4),
                  DZ_ERR_SHAPE);
    /* rows are checked when the grad is made, not when it is used */
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, past), values_of(2, 3), 4), DZ_ERR_INDEX);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, negative), values_of(2, 3), 4), DZ_ERR_INDEX);
    /* the entries must fit the weight */
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), values_of(2, 3), 5), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), values_of(2, 2), 4), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), dz_array_zeros(DZ_F64, 2, DZ_SHAPE(2, 3)), 4),
                  DZ_ERR_SHAPE);
    BAD_ARGS_CHECK(W->sparse_grad == NULL);
    EXPECT_TRUE_QUIET(dz_sparse_grad_append(W, rows_of(2, ok), values_of(2, 3), 4) == DZ_OK);
    /* and the grad so far */
    dz_variable_set_data(W, NULL);
    EXPECT_STATUS(dz_sparse_grad_append(W, rows_of(2, ok), values_of(2, 2), 4), DZ_ERR_SHAPE);
    dz_scope_end();
}

/* A grad made by hand (the struct is public). */
static dz_sparse_grad hand_made(dz_array *indices, dz_array *values, int64_t num_rows)
{
    return (dz_sparse_grad){indices, values, num_rows, false};
}

static void sparse_grad_coalesce(void)
{
    const int64_t rows[2] = {3, 1};
    dz_array *indices = rows_of(2, rows), *values = values_of(2, 3), *wide = values_of(3, 3);
    dz_sparse_grad no_indices = hand_made(NULL, values, 4), bad_rows = hand_made(indices, values, -1),
                   mismatched = hand_made(indices, wide, 4);
    EXPECT_STATUS(dz_sparse_grad_coalesce(NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_sparse_grad_coalesce(&no_indices), DZ_ERR_NULL);
    EXPECT_STATUS(dz_sparse_grad_coalesce(&bad_rows), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_sparse_grad_coalesce(&mismatched), DZ_ERR_SHAPE);
    dz_array_release(indices);
    dz_array_release(values);
    dz_array_release(wide);
}

static void sparse_grad_to_dense(void)
{
    const int64_t rows[2] = {3, 9};
    dz_array *indices = rows_of(2, rows), *values = values_of(2, 3);
    dz_sparse_grad out_of_range = hand_made(indices, values, 4), no_values = hand_made(indices, NULL, 4);
    EXPECT_NULL(dz_sparse_grad_to_dense(NULL, 3), DZ_ERR_NULL);
    EXPECT_NULL(dz_sparse_grad_to_dense(&no_values, 3), DZ_ERR_NULL);
    EXPECT_NULL(dz_sparse_grad_to_dense(&out_of_range, 2), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_sparse_grad_to_dense(&out_of_range, -3), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_sparse_grad_to_dense(&out_of_range, 3), DZ_ERR_INDEX);
    dz_array_release(indices);
    dz_array_release(values);
}

const bad_args_case bad_args_core[] = {
    /* array.h */
    {"dz_dtype_size", dtype_size},
    {"dz_dtype_name", dtype_name},
    {"dz_dtype_is_float", dtype_is_float},
    {"dz_dtype_is_integer", dtype_is_integer},
    {"dz_array_empty", array_empty},
    {"dz_array_zeros", array_zeros},
    {"dz_array_ones", array_ones},
    {"dz_array_full", array_full},
    {"dz_array_scalar", array_scalar},
    {"dz_array_arange", array_arange},
    {"dz_array_from_buffer", array_from_buffer},
    {"dz_array_zeros_like", array_zeros_like},
    {"dz_array_ones_like", array_ones_like},
    {"dz_array_copy", array_copy},
    {"dz_array_astype", array_astype},
    {"dz_array_reshape", array_reshape},
    {"dz_array_to_device", array_to_device},
    {"dz_array_retain", array_retain},
    {"dz_array_release", array_release},
    {"dz_array_get", array_get},
    {"dz_array_set", array_set},
    {"dz_array_to_doubles", array_to_doubles},
    {"dz_shape_equal", shape_equal},
    {"dz_array_same_shape", array_same_shape},
    {"dz_shape_format", shape_format},
    {"dz_shape_size", shape_size},
    {"dz_array_format", array_format},
    {"dz_array_print", array_print},
    /* config.h, device.h */
    {"dz_enable_backprop", enable_backprop},
    {"dz_set_enable_backprop", set_enable_backprop},
    {"dz_is_train", is_train},
    {"dz_set_train", set_train},
    {"dz_cuda_available", cuda_available},
    {"dz_cuda_device_name", cuda_device_name},
    {"dz_cuda_is_emulated", cuda_is_emulated},
    {"dz_cuda_synchronize", cuda_synchronize},
    {"dz_cuda_set_allow_tf32", cuda_set_allow_tf32},
    {"dz_set_num_threads", set_num_threads},
    {"dz_num_threads", num_threads},
    {"dz_memory_stats", memory_stats},
    {"dz_empty_cache", empty_cache},
    /* error.h */
    {"dz_set_error_handler", set_error_handler},
    {"dz_set_error_handler_off", set_error_handler_off},
    {"dz_last_error", last_error},
    {"dz_last_error_code", last_error_code},
    {"dz_clear_error", clear_error},
    {"dz_status_name", status_name},
    /* rng.h */
    {"dz_rng_seed", rng_seed},
    {"dz_rng_default", rng_default},
    {"dz_rng_next", rng_next},
    {"dz_rng_uniform", rng_uniform},
    {"dz_rng_normal", rng_normal},
    {"dz_rng_randint", rng_randint},
    {"dz_array_uniform", array_uniform},
    {"dz_array_normal", array_normal},
    {"dz_array_randint", array_randint},
    {"dz_array_permutation", array_permutation},
    /* variable.h */
    {"dz_variable_new", variable_new},
    {"dz_variable_constant", variable_constant},
    {"dz_parameter_new", parameter_new},
    {"dz_variable_scalar", variable_scalar},
    {"dz_variable_retain", variable_retain},
    {"dz_variable_release", variable_release},
    {"dz_variable_set_name", variable_set_name},
    {"dz_variable_set_data", variable_set_data},
    {"dz_variable_to_device", variable_to_device},
    {"dz_variable_to_gpu", variable_to_gpu},
    {"dz_variable_to_cpu", variable_to_cpu},
    {"dz_variable_set_grad", variable_set_grad},
    {"dz_variable_ndim", variable_ndim},
    {"dz_variable_shape", variable_shape},
    {"dz_variable_size", variable_size},
    {"dz_variable_dtype", variable_dtype},
    {"dz_variable_len", variable_len},
    {"dz_variable_cleargrad", variable_cleargrad},
    {"dz_variable_unchain", variable_unchain},
    {"dz_variable_unchain_backward", variable_unchain_backward},
    {"dz_variable_backward", variable_backward},
    {"dz_variable_format", variable_format},
    {"dz_variable_print", variable_print},
    /* function.h, scope.h, graph.h, debug.h, gradient_check.h, sparse_grad.h */
    {"dz_function_apply", function_apply},
    {"dz_function_apply1", function_apply1},
    {"dz_scope_begin", scope_begin},
    {"dz_scope_end", scope_end},
    {"dz_scope_keep", scope_keep},
    {"dz_autorelease", autorelease},
    {"dz_scope_depth", scope_depth},
    {"dz_graph_write_dot", graph_write_dot},
    {"dz_debug_live_objects", debug_live_objects},
    {"dz_debug_warn_leaks_at_exit", debug_warn_leaks_at_exit},
    {"dz_gradient_check", gradient_check},
    {"dz_sparse_grad_free", sparse_grad_free},
    {"dz_sparse_grad_append", sparse_grad_append},
    {"dz_sparse_grad_coalesce", sparse_grad_coalesce},
    {"dz_sparse_grad_to_dense", sparse_grad_to_dense},
    BAD_ARGS_END,
};

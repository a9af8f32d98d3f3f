/* Bad-argument cases for the functions of compare.h, search.h and
 * statistics.h (see bad_args.h). Each case opens a scope, so the Variables
 * it makes are released at its end. */
#include <math.h>
#include <stdint.h>

#include "bad_args.h"

#define NDIM(...) (int)(sizeof(DZ_SHAPE(__VA_ARGS__)) / sizeof(int64_t))

/* A zero-filled leaf of `dtype` and the given shape: F32(2, 3), I64(4). */
static dz_variable *leaf(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_variable_new(dz_array_zeros(dtype, ndim, shape), NULL);
}
#define F32(...) leaf(DZ_F32, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define F64(...) leaf(DZ_F64, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define I64(...) leaf(DZ_I64, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define U8(...) leaf(DZ_U8, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))
#define BOOL(...) leaf(DZ_BOOL, NDIM(__VA_ARGS__), DZ_SHAPE(__VA_ARGS__))

/* A parameter whose data is not set yet (a lazy layer's weight). */
static dz_variable *no_data(void) { return dz_parameter_new(NULL, "W"); }

/* ---- compare.h ----------------------------------------------------------------------- */

/* What every comparison refuses: NULL, no data, I/O dtypes (bool included),
 * mixed dtypes, shapes that do not broadcast; ints and empty arrays pass. */
static void comparison(dz_variable *(*op)(dz_variable *, dz_variable *))
{
    dz_scope_begin();
    dz_variable *a = F32(2, 3), *b = F32(4);
    EXPECT_NULL(op(a, NULL), DZ_ERR_NULL);
    EXPECT_NULL(op(NULL, a), DZ_ERR_NULL);
    EXPECT_NULL(op(a, b), DZ_ERR_SHAPE);
    EXPECT_NULL(op(a, F64(3)), DZ_ERR_DTYPE);
    EXPECT_NULL(op(U8(2), U8(2)), DZ_ERR_DTYPE);
    EXPECT_NULL(op(BOOL(2), BOOL(2)), DZ_ERR_DTYPE);
    EXPECT_NULL(op(a, no_data()), DZ_ERR_STATE);
    EXPECT_QUIET(op(I64(0, 3), I64(3)));
    dz_scope_end();
}

static void equal(void) { comparison(dz_equal); }
static void not_equal(void) { comparison(dz_not_equal); }
static void less(void) { comparison(dz_less); }
static void less_equal(void) { comparison(dz_less_equal); }
static void greater(void) { comparison(dz_greater); }
static void greater_equal(void) { comparison(dz_greater_equal); }

static void where(void)
{
    dz_scope_begin();
    dz_variable *c = BOOL(2, 1), *x = F32(1, 3), *y = F32(3);
    EXPECT_NULL(dz_where(NULL, x, y), DZ_ERR_NULL);
    EXPECT_NULL(dz_where(c, NULL, y), DZ_ERR_NULL);
    EXPECT_NULL(dz_where(c, x, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_where(F32(2, 1), x, y), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_where(U8(2, 1), x, y), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_where(no_data(), x, y), DZ_ERR_STATE);
    EXPECT_NULL(dz_where(c, x, F64(3)), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_where(c, x, F32(4)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_where(BOOL(4), x, y), DZ_ERR_SHAPE);
    EXPECT_QUIET(dz_where(c, x, y));
    EXPECT_QUIET(dz_where(BOOL(0, 3), I64(3), I64(1)));
    dz_scope_end();
}

/* ---- search.h ------------------------------------------------------------------------ */

static void arg_search(dz_variable *(*op)(dz_variable *, int, bool))
{
    dz_scope_begin();
    dz_variable *x = F32(2, 3);
    EXPECT_NULL(op(NULL, 0, false), DZ_ERR_NULL);
    EXPECT_NULL(op(no_data(), 0, false), DZ_ERR_STATE);
    EXPECT_NULL(op(U8(3), 0, false), DZ_ERR_DTYPE);
    EXPECT_NULL(op(x, 2, false), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, -3, true), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, INT32_MAX, true), DZ_ERR_VALUE);
    EXPECT_NULL(op(F32(2, 0), 1, false), DZ_ERR_VALUE);
    EXPECT_NULL(op(F32(0), DZ_AXIS_NONE, false), DZ_ERR_VALUE);
    EXPECT_NULL(op(F32(), 0, false), DZ_ERR_VALUE);
    EXPECT_QUIET(op(F32(), DZ_AXIS_NONE, true));
    EXPECT_QUIET(op(F32(0, 2), 1, true));
    EXPECT_QUIET(op(I64(2, 3), -1, false));
    dz_scope_end();
}

static void argmax(void) { arg_search(dz_argmax); }
static void argmin(void) { arg_search(dz_argmin); }

static void topk(void)
{
    dz_scope_begin();
    dz_variable *x = F32(2, 3), *values = x, *indices = x;
    EXPECT_STATUS(dz_topk(x, 1, 0, true, NULL, &indices), DZ_ERR_NULL);
    EXPECT_STATUS(dz_topk(x, 1, 0, true, &values, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_topk(NULL, 1, 0, true, &values, &indices), DZ_ERR_NULL);
    BAD_ARGS_CHECK(values == NULL && indices == NULL);
    EXPECT_STATUS(dz_topk(no_data(), 1, 0, true, &values, &indices), DZ_ERR_STATE);
    EXPECT_STATUS(dz_topk(I64(3), 1, 0, true, &values, &indices), DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_topk(x, 4, 1, true, &values, &indices), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_topk(x, -1, 1, true, &values, &indices), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_topk(x, INT64_MAX, 1, true, &values, &indices), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_topk(x, 1, 2, true, &values, &indices), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_topk(F32(), 1, 0, true, &values, &indices), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_topk(x, 0, 1, false, &values, &indices));
    EXPECT_QUIET(dz_topk(F64(0, 3), 2, 1, true, &values, &indices));
    dz_scope_end();
}

/* ---- statistics.h --------------------------------------------------------------------- */

/* What var, std and norm refuse: NULL, no data, non-float dtypes, bad axes. */
static void reduction_common(dz_variable *(*op)(dz_variable *, int, const int *))
{
    dz_variable *x = F32(2, 3);
    EXPECT_NULL(op(NULL, 0, NULL), DZ_ERR_NULL);
    EXPECT_NULL(op(no_data(), 0, NULL), DZ_ERR_STATE);
    EXPECT_NULL(op(I64(3), 0, NULL), DZ_ERR_DTYPE);
    EXPECT_NULL(op(U8(3), 0, NULL), DZ_ERR_DTYPE);
    EXPECT_NULL(op(x, 1, NULL), DZ_ERR_NULL);
    EXPECT_NULL(op(x, 1, (const int[]){2}), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, 2, (const int[]){1, -1}), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, 3, (const int[]){0, 1, 0}), DZ_ERR_VALUE);
    EXPECT_NULL(op(x, -1, NULL), DZ_ERR_VALUE);
    EXPECT_QUIET(op(F64(0, 3), 1, (const int[]){1}));
}

static dz_variable *var_ddof1(dz_variable *x, int naxes, const int *axes) { return dz_var(x, naxes, axes, 1, false); }
static dz_variable *std_ddof0(dz_variable *x, int naxes, const int *axes) { return dz_std(x, naxes, axes, 0, true); }
static dz_variable *norm2(dz_variable *x, int naxes, const int *axes) { return dz_norm(x, 2, naxes, axes, false); }

static void var(void)
{
    dz_scope_begin();
    reduction_common(var_ddof1);
    EXPECT_QUIET(dz_var(F32(2, 3), 1, (const int[]){0}, 5, false)); /* N <= ddof: inf or NaN, as NumPy */
    EXPECT_QUIET(dz_var(F32(2, 3), 0, NULL, INT64_MIN, true));
    dz_scope_end();
}

static void std(void)
{
    dz_scope_begin();
    reduction_common(std_ddof0);
    EXPECT_QUIET(dz_std(F64(0), 0, NULL, 1, false));
    dz_scope_end();
}

static void norm(void)
{
    dz_scope_begin();
    reduction_common(norm2);
    dz_variable *x = F32(2, 3);
    EXPECT_NULL(dz_norm(x, 0, 0, NULL, false), DZ_ERR_VALUE);
    EXPECT_NULL(dz_norm(x, -2, 0, NULL, false), DZ_ERR_VALUE);
    EXPECT_NULL(dz_norm(x, NAN, 0, NULL, false), DZ_ERR_VALUE);
    EXPECT_NULL(dz_norm(x, -INFINITY, 0, NULL, false), DZ_ERR_VALUE);
    EXPECT_NULL(dz_norm(F32(0, 3), INFINITY, 1, (const int[]){0}, false), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_norm(F32(0, 3), INFINITY, 1, (const int[]){1}, false));
    EXPECT_QUIET(dz_norm(F32(0, 3), 3, 0, NULL, true));
    dz_scope_end();
}

static void cosine_similarity(void)
{
    dz_scope_begin();
    dz_variable *a = F32(2, 3), *b = F32(3);
    EXPECT_NULL(dz_cosine_similarity(NULL, b, 1, 1e-8), DZ_ERR_NULL);
    EXPECT_NULL(dz_cosine_similarity(a, NULL, 1, 1e-8), DZ_ERR_NULL);
    EXPECT_NULL(dz_cosine_similarity(a, no_data(), 1, 1e-8), DZ_ERR_STATE);
    EXPECT_NULL(dz_cosine_similarity(a, F32(2), 1, 1e-8), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_cosine_similarity(a, F64(3), 1, 1e-8), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_cosine_similarity(I64(3), I64(3), 0, 1e-8), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_cosine_similarity(a, b, 2, 1e-8), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_similarity(a, b, -3, 1e-8), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_similarity(F32(), F32(), 0, 1e-8), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_similarity(a, b, 1, -1e-8), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_similarity(a, b, 1, NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_similarity(a, b, 1, INFINITY), DZ_ERR_VALUE);
    EXPECT_QUIET(dz_cosine_similarity(a, b, -1, 0)); /* zero vectors, eps 0: 0 / 0 */
    EXPECT_QUIET(dz_cosine_similarity(F32(0, 3), b, 1, 1e-8));
    dz_scope_end();
}

const bad_args_case bad_args_array_ops[] = {
    {"dz_equal", equal},
    {"dz_not_equal", not_equal},
    {"dz_less", less},
    {"dz_less_equal", less_equal},
    {"dz_greater", greater},
    {"dz_greater_equal", greater_equal},
    {"dz_where", where},
    {"dz_argmax", argmax},
    {"dz_argmin", argmin},
    {"dz_topk", topk},
    {"dz_var", var},
    {"dz_std", std},
    {"dz_norm", norm},
    {"dz_cosine_similarity", cosine_similarity},
    BAD_ARGS_END,
};

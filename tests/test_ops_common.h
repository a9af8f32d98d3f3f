/* The golden check shared by the suites of the array ops (test_compare,
 * test_search, test_statistics, test_arith): every case of ops_golden.h
 * whose op a suite names is run through the matching dz_ function, its
 * values compared with NumPy / PyTorch (NaN matching NaN) and, where the
 * fixture has them, its grads of sum(w * y) with PyTorch's. */
#ifndef TEST_OPS_COMMON_H
#define TEST_OPS_COMMON_H

#include <math.h>
#include <string.h>

#include "fixtures/ops_golden.h"
#include "test_common.h"

/* Every element of a equals expected within rtol * max(1, |expected|), an
 * infinity exactly, NaN where NaN is expected; a has the given shape. */
static void og_assert_array(const dz_array *a, int ndim, const int64_t *shape, const double *expected, double rtol,
                            const char *what, const char *expr)
{
    char got_shape[128], want_shape[128];
    ck_assert_msg(dz_shape_equal(a->ndim, a->shape, ndim, shape), "%s: %s has shape %s, expected %s", expr, what,
                  dz_shape_format(a->ndim, a->shape, got_shape, sizeof got_shape),
                  dz_shape_format(ndim, shape, want_shape, sizeof want_shape));
    for (int64_t i = 0; i < a->size; i++) {
        double got = dz_array_get(a, i), want = expected[i];
        bool ok = isnan(want) ? isnan(got)
                : isinf(want) ? got == want
                              : fabs(got - want) <= rtol * fmax(1.0, fabs(want));
        ck_assert_msg(ok, "%s: %s element %lld is %.17g, expected %.17g", expr, what, (long long)i, got, want);
    }
}

static dz_variable *og_input(dz_dtype dtype, int ndim, const int64_t *shape, const double *values)
{
    return values ? tc_var(dtype, ndim, shape, values) : NULL;
}

/* The condition of a where case: a DZ_BOOL constant. */
static dz_variable *og_condition(const og_case *c)
{
    dz_array *f = dz_array_from_buffer(DZ_F64, c->cond_ndim, c->cond_shape, c->cond);
    dz_array *b = dz_array_astype(f, DZ_BOOL);
    dz_array_release(f);
    return dz_variable_constant(b, NULL);
}

static const struct {
    const char *name;
    dz_variable *(*fn)(dz_variable *, dz_variable *);
} og_comparisons[] = {{"equal", dz_equal},     {"not_equal", dz_not_equal},   {"less", dz_less},
                      {"less_equal", dz_less_equal}, {"greater", dz_greater}, {"greater_equal", dz_greater_equal}};

/* The dz_ call of case c on x (and x2); *index gets topk's indices. */
static dz_variable *og_call(const og_case *c, dz_variable *x, dz_variable *x2, dz_variable **index)
{
    const char *op = c->op;
    int axis = c->axis == -9999 ? DZ_AXIS_NONE : c->axis;
    for (size_t i = 0; i < sizeof og_comparisons / sizeof og_comparisons[0]; i++)
        if (!strcmp(op, og_comparisons[i].name))
            return og_comparisons[i].fn(x, x2);
    if (!strcmp(op, "abs"))
        return dz_abs(x);
    if (!strcmp(op, "log1p"))
        return dz_log1p(x);
    if (!strcmp(op, "expm1"))
        return dz_expm1(x);
    if (!strcmp(op, "where"))
        return dz_where(og_condition(c), x, x2);
    if (!strncmp(op, "argmax", 6))
        return dz_argmax(x, axis, c->keepdims);
    if (!strncmp(op, "argmin", 6))
        return dz_argmin(x, axis, c->keepdims);
    if (!strcmp(op, "var"))
        return dz_var(x, c->naxes, c->axes, c->ddof, c->keepdims);
    if (!strcmp(op, "std"))
        return dz_std(x, c->naxes, c->axes, c->ddof, c->keepdims);
    if (!strcmp(op, "norm"))
        return dz_norm(x, c->p, c->naxes, c->axes, c->keepdims);
    if (!strcmp(op, "cosine_similarity"))
        return dz_cosine_similarity(x, x2, c->axis, c->eps);
    if (!strcmp(op, "topk")) {
        dz_variable *values = NULL;
        ck_assert_int_eq(dz_topk(x, c->k, c->axis, c->largest, &values, index), DZ_OK);
        return values;
    }
    ck_abort_msg("no dz_ function for op %s", op);
    return NULL;
}

/* sum(y * w), w = 1 + 0.1 * arange(y.size) in y's shape and dtype. */
static dz_variable *og_weighted_sum(dz_variable *y)
{
    int64_t n = y->data->size;
    dz_array *w = dz_array_arange(DZ_F64, 0, (double)n, 1);
    dz_array *w1 = dz_array_reshape(w, y->data->ndim, y->data->shape);
    dz_array *wd = dz_array_astype(w1, y->data->dtype);
    dz_variable *wv = dz_add_scalar(dz_mul_scalar(dz_variable_constant(wd, NULL), 0.1), 1.0);
    dz_array_release(w);
    dz_array_release(w1);
    return dz_sum(dz_mul(y, wv), 0, NULL, false);
}

static bool og_selected(const og_case *c, const char *const *ops, int nops)
{
    for (int i = 0; i < nops; i++)
        if (!strcmp(c->op, ops[i]))
            return true;
    return false;
}

/* Values (in `dtype`, within rtol) and, in float64, grads of the cases of ops. */
static int og_check_golden(const char *const *ops, int nops, dz_dtype dtype, double rtol)
{
    int checked = 0;
    for (int i = 0; i < OG_NCASES; i++) {
        const og_case *c = &og_cases[i];
        if (!og_selected(c, ops, nops))
            continue;
        bool int_input = strstr(c->op, "_i64") != NULL;
        dz_dtype in_dtype = int_input ? DZ_I64 : dtype;
        if (int_input && dtype != DZ_F64)
            continue;
        dz_scope_begin();
        dz_variable *x = og_input(in_dtype, c->x_ndim, c->x_shape, c->x);
        dz_variable *x2 = og_input(in_dtype, c->x2_ndim, c->x2_shape, c->x2), *index = NULL;
        dz_variable *y = og_call(c, x, x2, &index);
        ck_assert_msg(y != NULL, "%s: %s", c->expr, dz_last_error());
        og_assert_array(y->data, c->y_ndim, c->y_shape, c->y, rtol, "the value", c->expr);
        if (c->idx)
            og_assert_array(index->data, c->y_ndim, c->y_shape, c->idx, 0, "the indices", c->expr);
        if (c->gx && dtype == DZ_F64) {
            dz_variable_backward(og_weighted_sum(y), false, false);
            og_assert_array(x->grad->data, c->x_ndim, c->x_shape, c->gx, 1e-10, "the grad of x", c->expr);
            if (c->gx2)
                og_assert_array(x2->grad->data, c->x2_ndim, c->x2_shape, c->gx2, 1e-10, "the grad of x2", c->expr);
        }
        dz_scope_end();
        checked++;
    }
    return checked;
}

#endif

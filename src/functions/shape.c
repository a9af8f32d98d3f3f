/* Shape functions: sum_to / broadcast_to (each the other's backward), reshape,
 * transpose, sum and mean. */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/shape.h"

#include <stdlib.h>

typedef struct {
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
} shape_state;

/* The input's shape, kept for the backward. */
static shape_state *keep_shape(const dz_array *x)
{
    shape_state *s = dz_xmalloc(sizeof *s);
    s->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        s->shape[i] = x->shape[i];
    return s;
}

/* True when `from` broadcasts to `to` (numpy rules, one direction). */
static bool broadcasts_to(int from_ndim, const int64_t *from, int to_ndim, const int64_t *to)
{
    if (from_ndim > to_ndim)
        return false;
    for (int i = 0; i < from_ndim; i++) {
        int64_t f = from[i], t = to[i + to_ndim - from_ndim];
        if (f != t && f != 1)
            return false;
    }
    return true;
}

/* sum_to: (x shape) -> shape; gx = broadcast_to(gy, x shape) */
static void sum_to_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_broadcast_to(gy[0], s->ndim, s->shape);
}
static const dz_function_ops sum_to_ops = {"dz_sum_to", sum_to_backward, NULL};

dz_variable *dz_sum_to(dz_variable *x, int ndim, const int64_t *shape)
{
    if (!dz_check_variable("dz_sum_to", x))
        return NULL;
    if (ndim < 0 || ndim > DZ_MAX_NDIM || (ndim && !shape) ||
        !broadcasts_to(ndim, shape, x->data->ndim, x->data->shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_sum_to: cannot sum %s to %s (the target must broadcast to the input)",
                 DZ_SHAPE_OF(x->data), ndim >= 0 && ndim <= DZ_MAX_NDIM && shape ? dz_shape_str(ndim, shape) : "?");
        return NULL;
    }
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&sum_to_ops, 1, in, dz_array_sum_to(x->data, ndim, shape), 0,
                              keep_shape(x->data));
}

/* broadcast_to: (x shape) -> shape; gx = sum_to(gy, x shape) */
static void broadcast_to_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_sum_to(gy[0], s->ndim, s->shape);
}
static const dz_function_ops broadcast_to_ops = {"dz_broadcast_to", broadcast_to_backward, NULL};

dz_variable *dz_broadcast_to(dz_variable *x, int ndim, const int64_t *shape)
{
    if (!dz_check_variable("dz_broadcast_to", x))
        return NULL;
    if (ndim < 0 || ndim > DZ_MAX_NDIM || (ndim && !shape) ||
        !broadcasts_to(x->data->ndim, x->data->shape, ndim, shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_broadcast_to: cannot broadcast %s to %s", DZ_SHAPE_OF(x->data),
                 ndim >= 0 && ndim <= DZ_MAX_NDIM && shape ? dz_shape_str(ndim, shape) : "?");
        return NULL;
    }
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&broadcast_to_ops, 1, in, dz_array_broadcast(x->data, ndim, shape), 0,
                              keep_shape(x->data));
}

/* reshape: (x shape) -> shape, sharing storage; gx = reshape(gy, x shape) */
static void reshape_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_reshape(gy[0], s->ndim, s->shape);
}
static const dz_function_ops reshape_ops = {"dz_reshape", reshape_backward, NULL};

dz_variable *dz_reshape(dz_variable *x, int ndim, const int64_t *shape)
{
    if (!dz_check_variable("dz_reshape", x))
        return NULL;
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_array *y = dz_array_reshape(x->data, ndim, shape);
    if (!y)
        return NULL;
    dz_variable *in[1] = {x};
    return dz_function_apply1(&reshape_ops, 1, in, y, 0, keep_shape(x->data));
}

/* Resolve negative axes and check range and duplicates; false after raising. */
static bool normalize_axes(const char *op, const dz_array *x, int naxes, const int *axes, int *out)
{
    bool seen[DZ_MAX_NDIM] = {false};
    if (naxes < 0 || naxes > x->ndim) {
        dz_raise(DZ_ERR_VALUE, "%s: %d axes given for an input of shape %s", op, naxes, DZ_SHAPE_OF(x));
        return false;
    }
    for (int i = 0; i < naxes; i++) {
        int a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim || seen[a]) {
            dz_raise(DZ_ERR_VALUE, "%s: axis %d is %s for an input of shape %s (ndim %d)", op, axes[i],
                     a >= 0 && a < x->ndim ? "repeated" : "out of range", DZ_SHAPE_OF(x), x->ndim);
            return false;
        }
        seen[a] = true;
        out[i] = a;
    }
    return true;
}

/* transpose: y.shape[i] = x.shape[axes[i]]; gx = transpose(gy, inverse(axes)) */
typedef struct {
    int axes[DZ_MAX_NDIM];
} axes_state;

static void transpose_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const axes_state *s = f->state;
    int n = f->inputs[0]->data->ndim, inverse[DZ_MAX_NDIM];
    for (int i = 0; i < n; i++)
        inverse[s->axes[i]] = i;
    gx[0] = dz_transpose(gy[0], n, inverse);
}
static const dz_function_ops transpose_ops = {"dz_transpose", transpose_backward, NULL};

dz_variable *dz_transpose(dz_variable *x, int naxes, const int *axes)
{
    if (!dz_check_variable("dz_transpose", x))
        return NULL;
    const dz_array *a = x->data;
    axes_state *s = dz_xmalloc(sizeof *s);
    if (!axes) {
        for (int i = 0; i < a->ndim; i++)
            s->axes[i] = a->ndim - 1 - i;
    } else if (naxes != a->ndim || !normalize_axes("dz_transpose", a, naxes, axes, s->axes)) {
        if (naxes != a->ndim)
            dz_raise(DZ_ERR_VALUE, "dz_transpose: %d axes given for an input of shape %s; give all %d", naxes,
                     DZ_SHAPE_OF(a), a->ndim);
        free(s);
        return NULL;
    }
    int64_t shape[DZ_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++)
        shape[i] = a->shape[s->axes[i]];
    dz_array *y = dz_array_empty_on(a->device, a->dtype, a->ndim, shape);
    if (!y) {
        free(s);
        return NULL;
    }
    dz_backend_of(a)->transpose(a, s->axes, y);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&transpose_ops, 1, in, y, 0, s);
}

/* sum: reduce `axes`; gx = broadcast_to(reshape(gy, keepdims shape), x shape) */
typedef struct {
    int ndim;
    int64_t in_shape[DZ_MAX_NDIM];
    int64_t kept_shape[DZ_MAX_NDIM]; /* x shape with 1 on the summed axes */
} sum_state;

static void sum_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const sum_state *s = f->state;
    gx[0] = dz_broadcast_to(dz_reshape(gy[0], s->ndim, s->kept_shape), s->ndim, s->in_shape);
}
static const dz_function_ops sum_ops = {"dz_sum", sum_backward, NULL};

/* The reduced shape for `axes` (all when naxes is 0) with and without kept dims. */
static bool reduced_shapes(const char *op, const dz_array *x, int naxes, const int *axes, int64_t *kept,
                           int *out_ndim, int64_t *out_shape)
{
    int resolved[DZ_MAX_NDIM];
    if (naxes > 0 && !axes) {
        dz_raise(DZ_ERR_NULL, "%s: axes is NULL but naxes is %d", op, naxes);
        return false;
    }
    if (!normalize_axes(op, x, naxes, axes, resolved))
        return false;
    bool reduce[DZ_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++)
        reduce[i] = naxes == 0;
    for (int i = 0; i < naxes; i++)
        reduce[resolved[i]] = true;
    *out_ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        kept[i] = reduce[i] ? 1 : x->shape[i];
        if (!reduce[i])
            out_shape[(*out_ndim)++] = x->shape[i];
    }
    return true;
}

dz_variable *dz_sum(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    if (!dz_check_variable("dz_sum", x))
        return NULL;
    const dz_array *a = x->data;
    sum_state *s = dz_xmalloc(sizeof *s);
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!reduced_shapes("dz_sum", a, naxes, axes, s->kept_shape, &ndim, shape)) {
        free(s);
        return NULL;
    }
    s->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        s->in_shape[i] = a->shape[i];
    dz_array *kept = dz_array_reduce(DZ_REDUCE_SUM, a, s->kept_shape);
    dz_array *y = keepdims || !kept ? kept : dz_array_reshape(kept, ndim, shape);
    if (y != kept)
        dz_array_release(kept);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&sum_ops, 1, in, y, 0, s);
}

dz_variable *dz_mean(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    if (!dz_check_float("dz_mean", x))
        return NULL;
    dz_variable *y = dz_sum(x, naxes, axes, keepdims);
    if (!y)
        return NULL;
    double count = x->data->size && y->data->size ? (double)x->data->size / (double)y->data->size : 0.0;
    return dz_div_scalar(y, count);
}

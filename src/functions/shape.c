/* Shape functions: sum_to and broadcast_to (each the other's backward). */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/shape.h"

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

/* Array-level math: result allocation + one backend call. */
#include <string.h>

#include "array_ops.h"
#include "internal.h"

bool dz_broadcast_shapes(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b, int *ndim, int64_t *shape)
{
    int n = ndim_a > ndim_b ? ndim_a : ndim_b;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - ndim_a), ib = i - (n - ndim_b);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        shape[i] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

dz_array *dz_array_unary(dz_unary_op op, const dz_array *x, double p)
{
    dz_array *y = dz_array_uninit_like(x);
    if (y)
        dz_backend_of(x)->unary(op, x, p, y);
    return y;
}

dz_array *dz_array_binary(dz_binary_op op, const dz_array *a, const dz_array *b)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    dz_array *y;
    if (dz_array_same_shape(a, b)) {
        y = dz_array_uninit_like(a);
    } else {
        DZ_ASSERT(dz_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &ndim, shape));
        y = dz_array_uninit_on(a->device, a->dtype, ndim, shape);
    }
    if (y)
        dz_backend_of(a)->binary(op, a, b, y);
    return y;
}

dz_array *dz_array_broadcast(const dz_array *x, int ndim, const int64_t *shape)
{
    dz_array *y = dz_array_uninit_on(x->device, x->dtype, ndim, shape);
    if (y)
        dz_backend_of(x)->unary(DZ_UNARY_COPY, x, 0, y);
    return y;
}

dz_array *dz_array_reduce(dz_reduce_op op, const dz_array *x, const int64_t *keep_shape)
{
    dz_array *y = dz_array_uninit_on(x->device, x->dtype, x->ndim, keep_shape);
    if (y)
        dz_backend_of(x)->reduce(op, x, y);
    return y;
}

dz_array *dz_array_sum(const dz_array *x, const int64_t *keep_shape)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sum_torch))
        return dz_array_reduce(DZ_REDUCE_SUM, x, keep_shape);
    dz_array *y = dz_array_uninit_on(x->device, x->dtype, x->ndim, keep_shape);
    if (y)
        be->fused->sum_torch(x, y);
    return y;
}

dz_array *dz_array_sum_to(const dz_array *x, int ndim, const int64_t *shape)
{
    int64_t keep[DZ_MAX_NDIM];
    int lead = x->ndim - ndim;
    DZ_ASSERT(lead >= 0);
    for (int i = 0; i < x->ndim; i++)
        keep[i] = i < lead ? 1 : shape[i - lead] == 1 ? 1 : x->shape[i];
    dz_array *kept = dz_array_sum(x, keep);
    if (!kept)
        return NULL;
    dz_array *y = dz_array_reshape(kept, ndim, shape);
    dz_array_release(kept);
    return y;
}

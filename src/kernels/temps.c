/* The temporaries of a composite: the list, and the steps that record their
 * arrays in it (temps.h). */
#include "temps.h"

#include "../core/array_ops.h"
#include "../core/internal.h"

/* Records a step's array, or the failure of its allocation (NULL). */
static dz_array *keep(dz_temps *tmp, dz_array *a)
{
    if (!a) {
        tmp->failed = true;
        return NULL;
    }
    DZ_ASSERT(tmp->count < DZ_TEMPS_MAX);
    tmp->arrays[tmp->count++] = a;
    return a;
}

bool dz_tmp_end(dz_temps *tmp)
{
    for (int i = 0; i < tmp->count; i++)
        dz_array_release(tmp->arrays[i]);
    return !tmp->failed;
}

dz_array *dz_tmp_end_with(dz_temps *tmp, dz_array *result)
{
    if (!tmp->failed)
        dz_array_retain(result); /* the list's reference goes, the caller's stays */
    return dz_tmp_end(tmp) ? result : NULL;
}

/* ---- new arrays ---- */

dz_array *dz_tmp_uninit(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_uninit_on(device, dtype, ndim, shape));
}

dz_array *dz_tmp_zeros(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_empty_on(device, dtype, ndim, shape));
}

dz_array *dz_tmp_full(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape,
                      double value)
{
    dz_array *a = dz_tmp_uninit(tmp, device, dtype, ndim, shape);
    if (a)
        dz_backend_of(a)->fill(a, value);
    return a;
}

dz_array *dz_tmp_scalar(dz_temps *tmp, dz_device device, dz_dtype dtype, double value)
{
    return dz_tmp_full(tmp, device, dtype, 0, NULL, value);
}

/* Made on the host and copied to the device (on the CPU: that array). */
dz_array *dz_tmp_arange(dz_temps *tmp, dz_device device, int64_t n)
{
    if (tmp->failed)
        return NULL;
    dz_array *host = dz_array_arange(DZ_I64, 0, (double)n, 1);
    dz_array *a = host ? dz_array_to_device(host, device) : NULL;
    dz_array_release(host);
    return keep(tmp, a);
}

dz_array *dz_tmp_from_host(dz_temps *tmp, dz_device device, int ndim, const int64_t *shape,
                           const int64_t *values)
{
    dz_array *a = dz_tmp_uninit(tmp, device, DZ_I64, ndim, shape);
    if (a)
        dz_backend_of(a)->from_host(a->data, values, (size_t)a->size * sizeof *values);
    return a;
}

/* ---- arrays from arrays ---- */

dz_array *dz_tmp_copy(dz_temps *tmp, const dz_array *x)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_copy(x));
}

dz_array *dz_tmp_reshape(dz_temps *tmp, const dz_array *x, int ndim, const int64_t *shape)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_reshape(x, ndim, shape));
}

dz_array *dz_tmp_broadcast(dz_temps *tmp, const dz_array *x, int ndim, const int64_t *shape)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_broadcast(x, ndim, shape));
}

const dz_array *dz_tmp_astype(dz_temps *tmp, const dz_array *x, dz_dtype dtype)
{
    if (tmp->failed)
        return NULL;
    if (x->dtype == dtype)
        return x;
    dz_array *y = dz_tmp_uninit(tmp, x->device, dtype, x->ndim, x->shape);
    if (y)
        dz_backend_of(x)->astype(x, y);
    return y;
}

dz_array *dz_tmp_unary(dz_temps *tmp, dz_unary_op op, const dz_array *x, double p)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_unary(op, x, p));
}

dz_array *dz_tmp_binary(dz_temps *tmp, dz_binary_op op, const dz_array *a, const dz_array *b)
{
    return tmp->failed ? NULL : keep(tmp, dz_array_binary(op, a, b));
}

dz_array *dz_tmp_reduce(dz_temps *tmp, dz_reduce_op op, const dz_array *x, int axis)
{
    if (tmp->failed)
        return NULL;
    int64_t kept[DZ_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++)
        kept[i] = axis == DZ_TMP_ALL_AXES || i == axis ? 1 : x->shape[i];
    return keep(tmp, dz_array_reduce(op, x, kept));
}

/* ---- rows of a table ---- */

int64_t dz_row_length(const dz_array *table)
{
    int64_t D = 1;
    for (int i = 1; i < table->ndim; i++)
        D *= table->shape[i];
    return D;
}

/* An empty table (R = 0) has only skipped rows to give: zeros. */
dz_array *dz_tmp_gather_rows(dz_temps *tmp, const dz_array *table, const dz_array *rows, int64_t skip)
{
    if (tmp->failed)
        return NULL;
    const int64_t shape[2] = {rows->size, dz_row_length(table)};
    if (table->shape[0] == 0)
        return dz_tmp_zeros(tmp, table->device, table->dtype, 2, shape);
    dz_array *y = dz_tmp_uninit(tmp, table->device, table->dtype, 2, shape);
    if (y)
        dz_backend_of(table)->gather_rows(table, rows, skip, y);
    return y;
}

dz_array *dz_indices_from_host(dz_device device, int64_t n, const int64_t *values)
{
    dz_temps tmp = {0};
    return dz_tmp_end_with(&tmp, dz_tmp_from_host(&tmp, device, 1, &n, values));
}

/* Helpers shared by the neural-network functions (see nn_util.h). */
#include "nn_util.h"

#include "../core/internal.h"
#include "dezero/scope.h"

bool dz_needs_grad(const dz_variable *v) { return v->requires_grad; }

dz_variable *dz_constant(dz_array *a)
{
    if (!a)
        return NULL;
    dz_variable *v = dz_variable_new(a, NULL);
    v->requires_grad = false;
    return v;
}

dz_variable *dz_raw_result(dz_array *a) { return a ? dz_variable_new(a, NULL) : NULL; }

bool dz_check_axis(const char *op, const dz_array *x, int axis, int *out)
{
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        dz_raise(DZ_ERR_VALUE, "%s: axis %d is out of range for an input of shape %s (ndim %d)", op, axis,
                 DZ_SHAPE_OF(x), x->ndim);
        return false;
    }
    *out = a;
    return true;
}

bool dz_reduced_shape(const char *op, const dz_array *x, int naxes, const int *axes, int64_t *kept,
                      int *out_ndim, int64_t *out_shape)
{
    bool reduce[DZ_MAX_NDIM];
    if (naxes < 0 || naxes > x->ndim || (naxes > 0 && !axes)) {
        dz_raise(DZ_ERR_VALUE, "%s: %d axes%s given for an input of shape %s", op, naxes,
                 naxes > 0 && !axes ? " (NULL)" : "", DZ_SHAPE_OF(x));
        return false;
    }
    for (int i = 0; i < x->ndim; i++)
        reduce[i] = naxes == 0;
    for (int i = 0; i < naxes; i++) {
        int a;
        if (!dz_check_axis(op, x, axes[i], &a))
            return false;
        if (reduce[a]) {
            dz_raise(DZ_ERR_VALUE, "%s: axis %d is repeated", op, axes[i]);
            return false;
        }
        reduce[a] = true;
    }
    *out_ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        kept[i] = reduce[i] ? 1 : x->shape[i];
        if (!reduce[i])
            out_shape[(*out_ndim)++] = x->shape[i];
    }
    return true;
}

bool dz_check_label_dtype(const char *op, const dz_variable *t)
{
    if (!dz_dtype_is_integer(t->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: labels of dtype %s are not supported; use int32 or int64 class indices", op,
                 dz_dtype_name(t->data->dtype));
        return false;
    }
    return true;
}

int64_t dz_label_at(const dz_array *t, int64_t i)
{
    return t->dtype == DZ_I32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

bool dz_check_label_range(const char *op, const dz_array *t, int64_t num_classes, int64_t ignore_index,
                          int64_t *count)
{
    int64_t n = 0;
    for (int64_t i = 0; i < t->size; i++) {
        int64_t label = dz_label_at(t, i);
        if (label == ignore_index)
            continue;
        if (label < 0 || label >= num_classes) {
            dz_raise(DZ_ERR_INDEX, "%s: label %lld at position %lld is out of range for %lld classes (0..%lld)",
                     op, (long long)label, (long long)i, (long long)num_classes, (long long)num_classes - 1);
            return false;
        }
        n++;
    }
    *count = n;
    return true;
}

dz_variable *dz_composite_result(dz_variable *y)
{
    dz_variable *kept = dz_scope_keep(y);
    dz_scope_end();
    return dz_autorelease(kept);
}

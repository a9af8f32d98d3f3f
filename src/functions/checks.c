/* Argument checks shared by the functions (see checks.h). */
#include "checks.h"

#include <inttypes.h>

#include "../backend/backend.h"
#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "dezero/scope.h"

bool dz_check_variable(const char *op, const dz_variable *x)
{
    if (!x) {
        dz_raise_null_operand("%s: an input variable is NULL", op);
        return false;
    }
    if (!x->data) {
        dz_raise(DZ_ERR_STATE, "%s: input variable '%s' has no data (an uninitialised parameter?)", op,
                 x->name ? x->name : "");
        return false;
    }
    if (!dz_dtype_is_float(x->data->dtype) && !dz_dtype_is_integer(x->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: input of dtype %s is not supported; convert it to float32, float64, int32 or "
                 "int64 with dz_array_astype", op, dz_dtype_name(x->data->dtype));
        return false;
    }
    return true;
}

bool dz_check_float(const char *op, const dz_variable *x)
{
    if (!dz_check_variable(op, x))
        return false;
    if (!dz_dtype_is_float(x->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: input of dtype %s is not supported; use float32 or float64 (dz_array_astype)",
                 op, dz_dtype_name(x->data->dtype));
        return false;
    }
    return true;
}

bool dz_check_same_device(const char *op, const char *what_a, const dz_array *a, const char *what_b,
                          const dz_array *b)
{
    if (a->device == b->device)
        return true;
    dz_raise(DZ_ERR_DEVICE, "%s: %s is on the %s and %s on the %s; move both to one device "
             "(dz_variable_to_device)", op, what_a, dz_device_name(a->device), what_b, dz_device_name(b->device));
    return false;
}

bool dz_check_pair(const char *op, const dz_variable *a, const dz_variable *b)
{
    if (!dz_check_variable(op, a) || !dz_check_variable(op, b))
        return false;
    if (a->data->dtype != b->data->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: dtypes %s and %s differ; convert one with dz_array_astype", op,
                 dz_dtype_name(a->data->dtype), dz_dtype_name(b->data->dtype));
        return false;
    }
    return dz_check_same_device(op, "the first input", a->data, "the second input", b->data);
}

bool dz_check_broadcast(const char *op, const dz_variable *a, const dz_variable *b)
{
    return dz_check_pair(op, a, b) && dz_check_binary(op, a, b);
}

bool dz_check_binary(const char *op, const dz_variable *a, const dz_variable *b)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_variable(op, a) || !dz_check_variable(op, b) ||
        !dz_check_same_device(op, "the first input", a->data, "the second input", b->data))
        return false;
    if (!dz_broadcast_shapes(a->data->ndim, a->data->shape, b->data->ndim, b->data->shape, &ndim, shape)) {
        dz_raise(DZ_ERR_SHAPE, "%s: shapes %s and %s cannot broadcast", op, DZ_SHAPE_OF(a->data),
                 DZ_SHAPE_OF(b->data));
        return false;
    }
    return true;
}

/* ---- shapes -------------------------------------------------------------------- */

/* The shape pointer and dim count are usable (no dims are read otherwise). */
static bool check_dims(const char *op, const char *what, int ndim, const int64_t *shape)
{
    if (ndim > 0 && !shape) {
        dz_raise(DZ_ERR_NULL, "%s: %s is NULL but has %d dims", op, what, ndim);
        return false;
    }
    if (ndim < 0 || ndim > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: %s has %d dims; arrays have 0 to %d", op, what, ndim, DZ_MAX_NDIM);
        return false;
    }
    return true;
}

/* NumPy's rule for a shape with no negative dim: the product of its nonzero
 * dims, in elements of up to 8 bytes, fits in 64 bits (so an empty array
 * cannot have strides that overflow either). */
static bool size_fits(int ndim, const int64_t *shape)
{
    int64_t bytes = 8;
    for (int d = 0; d < ndim; d++)
        if (shape[d] != 0 && __builtin_mul_overflow(bytes, shape[d], &bytes))
            return false;
    return true;
}

bool dz_check_shape(const char *op, const char *what, int ndim, const int64_t *shape)
{
    if (!check_dims(op, what, ndim, shape))
        return false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            dz_raise(DZ_ERR_SHAPE, "%s: %s %s has a negative dimension", op, what, dz_shape_str(ndim, shape));
            return false;
        }
    }
    if (!size_fits(ndim, shape)) {
        dz_raise(DZ_ERR_OVERFLOW, "%s: %s %s has more elements than fit in 64-bit sizes", op, what,
                 dz_shape_str(ndim, shape));
        return false;
    }
    return true;
}

/* ---- axes -------------------------------------------------------------------------- */

bool dz_check_axis(const char *op, const dz_array *x, int axis, bool insert, int *out)
{
    int n = x->ndim + (insert ? 1 : 0);
    int64_t at = axis < 0 ? (int64_t)axis + n : axis;
    if (n == 0) {
        dz_raise(DZ_ERR_VALUE, "%s: axis %d is out of range for an input of shape (): a 0-d input has no axes",
                 op, axis);
        return false;
    }
    if (at < 0 || at >= n) {
        dz_raise(DZ_ERR_VALUE, "%s: axis %d is out of range for an input of shape %s; axes run from %d to %d", op,
                 axis, DZ_SHAPE_OF(x), -n, n - 1);
        return false;
    }
    *out = (int)at;
    return true;
}

bool dz_check_reduce_axes(const char *op, const dz_array *x, int naxes, const int *axes, int64_t *kept,
                          int *out_ndim, int64_t *out_shape)
{
    bool reduce[DZ_MAX_NDIM];
    if (naxes > 0 && !axes) {
        dz_raise(DZ_ERR_NULL, "%s: axes is NULL but naxes is %d", op, naxes);
        return false;
    }
    if (naxes < 0 || naxes > x->ndim) {
        dz_raise(DZ_ERR_VALUE, "%s: %d axes given for an input of shape %s; give 0 (all) to %d distinct axes", op,
                 naxes, DZ_SHAPE_OF(x), x->ndim);
        return false;
    }
    for (int d = 0; d < x->ndim; d++)
        reduce[d] = naxes == 0;
    for (int i = 0; i < naxes; i++) {
        int a;
        if (!dz_check_axis(op, x, axes[i], false, &a))
            return false;
        if (reduce[a]) {
            dz_raise(DZ_ERR_VALUE, "%s: axis %d is repeated in the axes of an input of shape %s", op, axes[i],
                     DZ_SHAPE_OF(x));
            return false;
        }
        reduce[a] = true;
    }
    *out_ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        kept[d] = reduce[d] ? 1 : x->shape[d];
        if (!reduce[d])
            out_shape[(*out_ndim)++] = x->shape[d];
    }
    return true;
}

/* ---- index data and labels ---------------------------------------------------------- */

bool dz_check_labels(const char *op, const dz_variable *t)
{
    if (!dz_check_variable(op, t))
        return false;
    if (!dz_dtype_is_integer(t->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: labels of dtype %s are not supported; use int32 or int64 class indices", op,
                 dz_dtype_name(t->data->dtype));
        return false;
    }
    return true;
}

/* dz_check_label_range on a host view of the labels (synchronises): each
 * label in turn, counted unless ignored, the first bad one raised. */
static bool scan_labels(const char *op, const dz_array *t, int64_t num_classes, const int64_t *ignore_index,
                        int64_t *count)
{
    dz_host_view view;
    const void *labels = dz_host_view_read(&view, t);
    if (!labels)
        return false;
    int64_t n = 0;
    bool ok = true;
    for (int64_t i = 0; ok && i < t->size; i++) {
        int64_t label = dz_index_at(labels, t->dtype, i);
        if (ignore_index && label == *ignore_index)
            continue;
        if (label < 0 || label >= num_classes) {
            dz_raise(DZ_ERR_INDEX, "%s: label %" PRId64 " at position %" PRId64 " is out of range for %" PRId64
                     " classes; labels must be in [0, %" PRId64 ")%s", op, label, i, num_classes, num_classes,
                     ignore_index ? " or equal ignore_index" : "");
            ok = false;
        }
        n++;
    }
    dz_host_view_close(&view);
    *count = n;
    return ok;
}

/* The backend's index_range settles the common case, every label in range
 * and none equal to ignore_index, without a copy; otherwise the labels are
 * counted and checked one by one on the host. */
bool dz_check_label_range(const char *op, const dz_array *t, int64_t num_classes, const int64_t *ignore_index,
                          int64_t *count)
{
    int64_t lo = 0, hi = -1; /* an empty t: nothing to check */
    if (t->size > 0)
        dz_backend_of(t)->index_range(t, &lo, &hi); /* synchronises */
    bool none_ignored = !ignore_index || *ignore_index < lo || *ignore_index > hi;
    if (lo >= 0 && hi < num_classes && none_ignored) {
        *count = t->size;
        return true;
    }
    return scan_labels(op, t, num_classes, ignore_index, count);
}

dz_variable *dz_identity_result(dz_variable *x) { return dz_autorelease(dz_variable_retain(x)); }

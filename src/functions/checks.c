/* Argument checks shared by the functions. */
#include "checks.h"

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "dezero/scope.h"

bool dz_check_variable(const char *op, const dz_variable *x)
{
    if (!x) {
        dz_raise(DZ_ERR_NULL, "%s: an input variable is NULL", op);
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
    if (x->data->device != DZ_CPU) {
        dz_raise(DZ_ERR_UNSUPPORTED, "%s: computing on GPU arrays is not supported yet; move the input to the "
                 "CPU with dz_array_to_device", op);
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

bool dz_check_pair(const char *op, const dz_variable *a, const dz_variable *b)
{
    if (!dz_check_variable(op, a) || !dz_check_variable(op, b))
        return false;
    if (a->data->dtype != b->data->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: dtypes %s and %s differ; convert one with dz_array_astype", op,
                 dz_dtype_name(a->data->dtype), dz_dtype_name(b->data->dtype));
        return false;
    }
    if (a->data->device != b->data->device) {
        dz_raise(DZ_ERR_DEVICE, "%s: one input is on the CPU and the other on the GPU; move both to one device",
                 op);
        return false;
    }
    return true;
}

bool dz_check_broadcast(const char *op, const dz_variable *a, const dz_variable *b)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_pair(op, a, b))
        return false;
    if (!dz_broadcast_shapes(a->data->ndim, a->data->shape, b->data->ndim, b->data->shape, &ndim, shape)) {
        dz_raise(DZ_ERR_SHAPE, "%s: shapes %s and %s cannot broadcast", op, DZ_SHAPE_OF(a->data),
                 DZ_SHAPE_OF(b->data));
        return false;
    }
    return true;
}

dz_variable *dz_identity_result(dz_variable *x) { return dz_autorelease(dz_variable_retain(x)); }

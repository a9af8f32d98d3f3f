/* Dtype promotion of the arithmetic ops (see promote.h and the table in
 * include/dezero/math.h) and dz_astype, the differentiable cast that carries
 * it out. */
#include "promote.h"

#include <math.h>

#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "checks.h"
#include "dezero/math.h"

dz_dtype dz_promote_types(dz_dtype a, dz_dtype b, bool true_divide)
{
    bool integers = dz_dtype_is_integer(a) && dz_dtype_is_integer(b);
    if (integers && true_divide)
        return DZ_F64;
    if (a == b)
        return a;
    /* i32 and i64 give i64; f32 and f64, or an integer and a float, f64
     * (NumPy: int32 + float32 and int64 + float32 are float64) */
    return integers ? DZ_I64 : DZ_F64;
}

/* The dtype of a float32 or float64 input with a scalar: a C double stands
 * for a Python float, which NumPy's value-based casting keeps in the input's
 * dtype unless float32 cannot hold it (np.min_scalar_type: finite and
 * |c| >= 3.4e38). */
static dz_dtype float_scalar_dtype(dz_dtype dtype, double c)
{
    return dtype == DZ_F32 && isfinite(c) && fabs(c) >= 3.4e38 ? DZ_F64 : dtype;
}

/* The dtype of an integer input with a whole number c, which stands for a
 * Python int: the input's dtype while c fits in it, int64 while c fits in
 * int64, float64 up to 2^64 (a uint64 scalar). */
static dz_dtype whole_scalar_dtype(dz_dtype dtype, double c)
{
    if (c >= 0x1p63)
        return DZ_F64;
    if (dtype == DZ_I32 && (c < -0x1p31 || c >= 0x1p31))
        return DZ_I64;
    return dtype;
}

bool dz_scalar_result_dtype(const char *op, dz_dtype dtype, double c, dz_scalar_kind kind, dz_dtype *out)
{
    if (dz_dtype_is_float(dtype)) {
        *out = float_scalar_dtype(dtype, c);
        return true;
    }
    if (!isfinite(c) || c != floor(c)) { /* a Python float: an integer input becomes float64 */
        *out = DZ_F64;
        return true;
    }
    if (c < -0x1p63 || c >= 0x1p64) {
        dz_raise(DZ_ERR_DTYPE, "%s: scalar %.17g is a whole number outside int64 and uint64, which an %s input "
                 "cannot be combined with (NumPy would make an object array); convert the input to float64 "
                 "first (dz_astype)", op, c, dz_dtype_name(dtype));
        return false;
    }
    if (kind == DZ_SCALAR_POWER && c < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: integers to negative integer powers are not allowed (%s input, exponent %g), "
                 "as in NumPy; convert the input to float64 first (dz_astype)", op, dz_dtype_name(dtype), c);
        return false;
    }
    *out = kind == DZ_SCALAR_DIVIDE ? DZ_F64 : whole_scalar_dtype(dtype, c);
    return true;
}

/* astype: y = x in another dtype; gx = gy cast back to x's dtype */
static void astype_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_astype(gy[0], IN(f, 0)->data->dtype);
}
static const dz_function_ops astype_ops = {"dz_astype", astype_backward, NULL, NULL, "AsType"};

dz_variable *dz_astype(dz_variable *x, dz_dtype dtype)
{
    const char *op = "dz_astype";
    if (!dz_check_variable(op, x))
        return NULL;
    if (!dz_dtype_is_float(dtype) && !dz_dtype_is_integer(dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: target dtype %s is not one Variables compute in; use float32, float64, int32 "
                 "or int64 (dz_array_astype converts arrays to any dtype)", op,
                 (unsigned)dtype <= DZ_F16 ? dz_dtype_name(dtype) : "(unknown)");
        return NULL;
    }
    dz_dtype from = x->data->dtype;
    if (from == dtype)
        return dz_identity_result(x);
    dz_array *y = dz_array_astype_for(op, x->data, dtype);
    if (dz_dtype_is_float(from) != dz_dtype_is_float(dtype)) /* between integers and floats: no grad */
        return dz_constant(y);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&astype_ops, 1, in, y, 0, NULL);
}

dz_variable *dz_promote(dz_variable *x, dz_dtype dtype) { return x->data->dtype == dtype ? x : dz_astype(x, dtype); }

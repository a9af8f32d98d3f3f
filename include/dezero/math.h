/* Elementwise functions: arithmetic with NumPy broadcasting and the usual
 * math (src/functions/arith.c, src/functions/math.c), and dz_astype. Each
 * returns a new Variable (scope-owned), or NULL after a user error.
 *
 * Dtypes. The arithmetic (add, sub, mul, div, pow and the scalar forms)
 * takes float32, float64, int32 and int64 inputs and gives the dtype NumPy
 * 1.24 gives (np.result_type, value-based for scalars):
 *
 *   two inputs (add, sub, mul)    f32     f64     i32     i64
 *                          f32    f32     f64     f64     f64
 *                          f64    f64     f64     f64     f64
 *                          i32    f64     f64     i32     i64
 *                          i64    f64     f64     i64     i64
 *   div: the same, but integer / integer is f64 (true division).
 *
 *   input and scalar c, a double: for a float input c stands for a Python
 *   float, for an integer input a whole number stands for a Python int and
 *   anything else (a fraction, NaN, an infinity) for a Python float:
 *     f32 input                    f32; f64 when c is finite and |c| >= 3.4e38
 *     f64 input                    f64
 *     i32/i64 input, c not whole   f64
 *     i32/i64, whole c: add, sub, rsub, mul, pow
 *                                  the input's dtype while c fits in it; i64 while
 *                                  c fits in int64 (i32 input); f64 for c in
 *                                  [2^63, 2^64); refused outside [-2^63, 2^64)
 *                                  (NumPy makes an object array)
 *     i32/i64, whole c: div_scalar, rdiv_scalar
 *                                  f64 (refused outside [-2^63, 2^64) as above)
 *     i32/i64, whole c < 0: pow    refused, as NumPy does ("integers to
 *                                  negative integer powers are not allowed")
 *   NumPy reads 3 and 3.0 differently: an int32 array times 3.0 is float64 in
 *   NumPy and int32 here, and a float32 array times the Python int 65536 is
 *   float64 in NumPy and float32 here.
 *
 * An input whose dtype differs from the result's is cast first by a
 * dz_astype node, so each input's grad comes back in that input's dtype (a
 * float32 input of a float64 result gets a float32 grad, summed to its
 * shape). A cast between an integer and a float dtype is not differentiable:
 * an integer input of a float result gets no grad (as PyTorch, which gives
 * integer tensors none); integer results keep integer grads. Integer
 * arithmetic wraps around on overflow, as NumPy's does. The math functions
 * (exp, log, ...) take float32 or float64 only (abs takes any). */
#ifndef DEZERO_MATH_H
#define DEZERO_MATH_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

DZ_API dz_variable *dz_add(dz_variable *a, dz_variable *b);
DZ_API dz_variable *dz_sub(dz_variable *a, dz_variable *b);
DZ_API dz_variable *dz_mul(dz_variable *a, dz_variable *b);
DZ_API dz_variable *dz_div(dz_variable *a, dz_variable *b);
DZ_API dz_variable *dz_neg(dz_variable *x);
DZ_API dz_variable *dz_pow(dz_variable *x, double c);     /* x ** c */

/* Scalar forms: x op c, and c op x for rsub / rdiv. */
DZ_API dz_variable *dz_add_scalar(dz_variable *x, double c);
DZ_API dz_variable *dz_sub_scalar(dz_variable *x, double c);
DZ_API dz_variable *dz_rsub_scalar(double c, dz_variable *x);
DZ_API dz_variable *dz_mul_scalar(dz_variable *x, double c);
DZ_API dz_variable *dz_div_scalar(dz_variable *x, double c);
DZ_API dz_variable *dz_rdiv_scalar(double c, dz_variable *x);

/* x converted to `dtype` (f32, f64, i32 or i64), as x.astype(dtype); x
 * itself (another reference) when it has that dtype already. Between float
 * dtypes or between integer dtypes the grad is gy cast back to x's dtype;
 * between an integer and a float dtype the result is a constant (no grad).
 * A float to integer conversion refuses NaN, infinities and values out of
 * range, as dz_array_astype does. */
DZ_API dz_variable *dz_astype(dz_variable *x, dz_dtype dtype);

DZ_API dz_variable *dz_exp(dz_variable *x);
DZ_API dz_variable *dz_log(dz_variable *x);
DZ_API dz_variable *dz_sin(dz_variable *x);
DZ_API dz_variable *dz_cos(dz_variable *x);
DZ_API dz_variable *dz_tanh(dz_variable *x);
DZ_API dz_variable *dz_square(dz_variable *x);
DZ_API dz_variable *dz_sqrt(dz_variable *x);
/* log(1 + x) and e^x - 1, accurate where x is near 0. */
DZ_API dz_variable *dz_log1p(dz_variable *x);
DZ_API dz_variable *dz_expm1(dz_variable *x);
/* |x|, any of the four dtypes (an integer's minimum wraps to itself, as
 * NumPy's); the grad is gy * sign(x), 0 where x is 0 (PyTorch's choice). */
DZ_API dz_variable *dz_abs(dz_variable *x);

#ifdef __cplusplus
}
#endif

#endif

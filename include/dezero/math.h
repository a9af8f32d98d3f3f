/* Elementwise functions: arithmetic with NumPy broadcasting and the usual
 * math (src/functions/arith.c, src/functions/math.c). Each returns a new
 * Variable (scope-owned), or NULL after a user error.
 *
 * Integer inputs (add, sub, mul, neg, square, and the add, sub, rsub and mul
 * scalar forms) keep their dtype and wrap around on overflow, as NumPy's do;
 * their scalar must be a whole number that the dtype holds. Division, pow and
 * the math functions take float32 or float64 only (abs takes any). */
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

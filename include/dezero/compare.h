/* Comparisons and selection (src/functions/compare.c).
 *
 * The comparisons take two inputs of one dtype (f32, f64, i32 or i64) and
 * device, broadcast as NumPy does, and return a DZ_BOOL Variable that needs
 * no grad (a mask: nothing is recorded). NaN compares unequal to everything,
 * itself included, so only dz_not_equal is true for it. A bool mask can be
 * used as dz_where's condition, converted with dz_array_astype, printed,
 * saved and moved between devices; arithmetic takes the four numeric dtypes
 * only. Each returns a new Variable (scope-owned, see variable.h), or NULL
 * after a user error. */
#ifndef DEZERO_COMPARE_H
#define DEZERO_COMPARE_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

DZ_API dz_variable *dz_equal(dz_variable *a, dz_variable *b);         /* a == b */
DZ_API dz_variable *dz_not_equal(dz_variable *a, dz_variable *b);     /* a != b */
DZ_API dz_variable *dz_less(dz_variable *a, dz_variable *b);          /* a < b */
DZ_API dz_variable *dz_less_equal(dz_variable *a, dz_variable *b);    /* a <= b */
DZ_API dz_variable *dz_greater(dz_variable *a, dz_variable *b);       /* a > b */
DZ_API dz_variable *dz_greater_equal(dz_variable *a, dz_variable *b); /* a >= b */

/* x where cond is true, else y (np.where): cond a DZ_BOOL Variable, x and y
 * of one dtype (any of the four) and device; the three broadcast to the
 * result's shape. Exact for any values (an inf or NaN in the branch not
 * taken does not leak). Grads: gx = where(cond, gy, 0) summed to x's shape,
 * gy = where(cond, 0, gy) summed to y's shape; cond gets none. */
DZ_API dz_variable *dz_where(dz_variable *cond, dz_variable *x, dz_variable *y);

#ifdef __cplusplus
}
#endif

#endif

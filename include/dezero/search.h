/* Searching along an axis: argmax, argmin and topk (src/functions/search.c).
 * Each returns new Variables (scope-owned, see variable.h), or NULL / an
 * error status after a user error. Index results are int64 and need no grad. */
#ifndef DEZERO_SEARCH_H
#define DEZERO_SEARCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "dezero/error.h"
#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The axis of dz_argmax / dz_argmin that means the flattened array (NumPy's
 * axis=None): the result is a position in C order. */
#define DZ_AXIS_NONE INT_MIN

/* The position of the largest (smallest) element along `axis` (negative
 * counts from the end, or DZ_AXIS_NONE), as np.argmax / np.argmin: int64,
 * the first position on ties, the first NaN when there is one (NaN counts
 * as the extremum). keepdims keeps the axis as size 1 (every axis, for
 * DZ_AXIS_NONE). x is f32, f64, i32 or i64; the axis must not be empty. */
DZ_API dz_variable *dz_argmax(dz_variable *x, int axis, bool keepdims);
DZ_API dz_variable *dz_argmin(dz_variable *x, int axis, bool keepdims);

/* The k largest (largest = true) or smallest elements along `axis`, as
 * torch.topk with sorted=True: *values (differentiable; the grad goes back
 * to the picked positions) and *indices (int64 positions along the axis),
 * both of x's shape with k along the axis. Always sorted: largest first (or
 * smallest first), equal values in the order of their positions, NaN
 * counted as larger than every number (first for largest, last for
 * smallest), as PyTorch does. x is f32 or f64, 0 <= k <= the axis length.
 * Returns DZ_OK, or the error with both outputs set to NULL. Costs k passes
 * over x (a selection, not a sort): meant for small k. */
DZ_API dz_status dz_topk(dz_variable *x, int64_t k, int axis, bool largest, dz_variable **values,
                         dz_variable **indices);

#ifdef __cplusplus
}
#endif

#endif

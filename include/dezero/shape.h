/* Shape functions (src/functions/shape.c). */
#ifndef DEZERO_SHAPE_H
#define DEZERO_SHAPE_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/error.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Same data, new shape (one entry may be -1); identity when unchanged. */
DZ_API dz_variable *dz_reshape(dz_variable *x, int ndim, const int64_t *shape);
/* Permute axes; axes NULL reverses them (x.T). Negative axes count from the end. */
DZ_API dz_variable *dz_transpose(dz_variable *x, int naxes, const int *axes);
/* Sum over `axes` (NULL or naxes 0: all axes); keepdims keeps them as size 1. */
DZ_API dz_variable *dz_sum(dz_variable *x, int naxes, const int *axes, bool keepdims);
/* Mean over `axes`, as dz_sum. */
DZ_API dz_variable *dz_mean(dz_variable *x, int naxes, const int *axes, bool keepdims);

/* Axis lists: dz_sum(x, DZ_AXES(0, 2), false). */
#define DZ_AXES(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), ((const int[]){__VA_ARGS__})

/* Sum broadcast axes away so x gets `shape` (identity when already equal). */
DZ_API dz_variable *dz_sum_to(dz_variable *x, int ndim, const int64_t *shape);
/* Repeat x along size-1 / missing axes to `shape` (identity when equal). */
DZ_API dz_variable *dz_broadcast_to(dz_variable *x, int ndim, const int64_t *shape);

/* Insert a size-1 axis at `axis` (-1 appends); a reshape. */
DZ_API dz_variable *dz_expand_dims(dz_variable *x, int axis);
/* (N, ...) -> (N, product of the rest); a reshape. x must have an axis. */
DZ_API dz_variable *dz_flatten(dz_variable *x);

/* Join xs[0..n-1] along an existing axis: the shapes may differ only there;
 * dtype and device must match. n == 1 gives xs[0] back. */
DZ_API dz_variable *dz_concat(int n, dz_variable *const *xs, int axis);
/* Join n same-shaped inputs along a new axis (0..ndim, negative from the end). */
DZ_API dz_variable *dz_stack(int n, dz_variable *const *xs, int axis);
/* Cut x along `axis` into n pieces, sizes[k] long (they must add up to the
 * axis length; 0 is allowed), or n equal pieces when sizes is NULL. Writes n
 * new Variables (scope-owned, see variable.h) to outputs and returns DZ_OK, or
 * leaves them NULL and returns the error. One node: a piece that gets no grad
 * counts as zeros in the backward. */
DZ_API dz_status dz_split(dz_variable *x, int n, const int64_t *sizes, int axis, dz_variable **outputs);

#ifdef __cplusplus
}
#endif

#endif

/* Shape functions (src/functions/shape.c). */
#ifndef DEZERO_SHAPE_H
#define DEZERO_SHAPE_H

#include <stdbool.h>

#include "dezero/variable.h"

/* Same data, new shape (one entry may be -1); identity when unchanged. */
dz_variable *dz_reshape(dz_variable *x, int ndim, const int64_t *shape);
/* Permute axes; axes NULL reverses them (x.T). Negative axes count from the end. */
dz_variable *dz_transpose(dz_variable *x, int naxes, const int *axes);
/* Sum over `axes` (NULL or naxes 0: all axes); keepdims keeps them as size 1. */
dz_variable *dz_sum(dz_variable *x, int naxes, const int *axes, bool keepdims);
/* Mean over `axes`, as dz_sum. */
dz_variable *dz_mean(dz_variable *x, int naxes, const int *axes, bool keepdims);

/* Axis lists: dz_sum(x, DZ_AXES(0, 2), false). */
#define DZ_AXES(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), ((const int[]){__VA_ARGS__})

/* Sum broadcast axes away so x gets `shape` (identity when already equal). */
dz_variable *dz_sum_to(dz_variable *x, int ndim, const int64_t *shape);
/* Repeat x along size-1 / missing axes to `shape` (identity when equal). */
dz_variable *dz_broadcast_to(dz_variable *x, int ndim, const int64_t *shape);

#endif

/* Shape functions (src/functions/shape.c). */
#ifndef DEZERO_SHAPE_H
#define DEZERO_SHAPE_H

#include "dezero/variable.h"

/* Sum broadcast axes away so x gets `shape` (identity when already equal). */
dz_variable *dz_sum_to(dz_variable *x, int ndim, const int64_t *shape);
/* Repeat x along size-1 / missing axes to `shape` (identity when equal). */
dz_variable *dz_broadcast_to(dz_variable *x, int ndim, const int64_t *shape);

#endif

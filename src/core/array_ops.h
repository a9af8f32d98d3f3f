/* Array-level math that the functions build on: allocate the result and call
 * the backend of the inputs. Arguments are assumed valid (the functions check
 * them and raise user errors first). Each returns a new reference. */
#ifndef DEZERO_ARRAY_OPS_H
#define DEZERO_ARRAY_OPS_H

#include "../backend/backend.h"

/* NumPy broadcasting of two shapes; false when they do not broadcast. */
bool dz_broadcast_shapes(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b, int *ndim,
                         int64_t *shape);

dz_array *dz_array_unary(dz_unary_op op, const dz_array *x, double p);
dz_array *dz_array_binary(dz_binary_op op, const dz_array *a, const dz_array *b);
dz_array *dz_array_broadcast(const dz_array *x, int ndim, const int64_t *shape);
/* Reduce the axes where keep_shape has 1 (keep_shape has x's ndim). */
dz_array *dz_array_reduce(dz_reduce_op op, const dz_array *x, const int64_t *keep_shape);
/* The sum over the axes where keep_shape has 1: PyTorch's order (the bits of
 * torch.sum) where the backend has the fused sum_torch, else the reduce
 * primitive's. */
dz_array *dz_array_sum(const dz_array *x, const int64_t *keep_shape);
/* Sum x down to `shape` (which broadcasts to x's shape), as dz_array_sum. */
dz_array *dz_array_sum_to(const dz_array *x, int ndim, const int64_t *shape);

#endif

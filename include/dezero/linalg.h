/* Linear algebra (src/functions/linalg.c): matrix products, the fused linear
 * layer function, and one-hot encoding. Each returns a new Variable
 * (scope-owned, see variable.h), or NULL after a user error. */
#ifndef DEZERO_LINALG_H
#define DEZERO_LINALG_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a (..., M, K) @ b (..., K, N) -> (..., M, N). Leading (batch) dims broadcast
 * as in NumPy: (2, 1, M, K) @ (3, K, N) -> (2, 3, M, N). Both operands need at
 * least 2 dims: 1-D operands are refused (reshape a vector to (1, K) or
 * (K, 1)). The dtypes promote as NumPy's matmul (the table of math.h: a
 * float32 and a float64 operand give float64, an integer and a float operand
 * float64; each grad comes back in its operand's dtype); the result must be
 * float32 or float64 (integer products are refused). Differentiable to any
 * order. */
DZ_API dz_variable *dz_matmul(dz_variable *a, dz_variable *b);

/* x (N, I) @ W (I, O) + b (O,) as one Function; b may be NULL (no bias, no
 * grad for it). Backward: gx = gy W^T, gW = x^T gy, gb = sum of gy's rows;
 * with create_graph it is built from dz_matmul / dz_transpose / dz_sum_to so it
 * differentiates again, otherwise it calls gemm directly. x, W and b
 * promote to one dtype as in dz_matmul (float64 data through float32
 * weights gives float64, and float32 grads for the weights). */
DZ_API dz_variable *dz_linear(dz_variable *x, dz_variable *W, dz_variable *b);

/* indices (any shape, int32/int64, values in 0..num_classes-1) ->
 * indices.shape + (num_classes,) of `dtype` (f32, f64, i32, i64) with a 1 at
 * each index. The result is a constant: a leaf with requires_grad = false. */
DZ_API dz_variable *dz_one_hot(dz_variable *indices, int64_t num_classes, dz_dtype dtype);

#ifdef __cplusplus
}
#endif

#endif

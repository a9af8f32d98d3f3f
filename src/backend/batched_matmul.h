/* NumPy's matmul over batch axes, on any backend's strided-batch gemm: the
 * stride handling every backend shares, so its matmul slot is one call. */
#ifndef DEZERO_BATCHED_MATMUL_H
#define DEZERO_BATCHED_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"
#include "dezero/array.h"

/* Row-major C[m,n] = alpha * op(A) op(B) + beta * C for `batch` matrices at
 * the given element strides (0 repeats one matrix). With stride_c 0 and
 * batch > 1 the products sum into the one C: C = alpha * sum of op(A_i)
 * op(B_i) + beta * C, their order the backend's, the same on every run (no
 * races). f32 or f64. */
typedef void (*dz_gemm_fn)(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                           double alpha, const void *a, int64_t lda, int64_t stride_a,
                           const void *b, int64_t ldb, int64_t stride_b,
                           double beta, void *c, int64_t ldc, int64_t stride_c, int64_t batch);
typedef void (*dz_zero_fn)(void *dst, size_t nbytes);

/* The backend's matmul slot (backend.h) on `gemm`: c (..., m, n) = op(a)
 * op(b), or c += that when `accumulate`, over the broadcast batch axes of a,
 * b and c; batch axes where c has size 1 sum their products. */
void dz_batched_matmul(dz_gemm_fn gemm, dz_zero_fn zero, const dz_array *a, bool trans_a, const dz_array *b,
                       bool trans_b, dz_array *c, bool accumulate);

#endif

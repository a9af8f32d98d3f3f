/* The CPU backend's kernels, shared between its source files. */
#ifndef DEZERO_CPU_KERNELS_H
#define DEZERO_CPU_KERNELS_H

#include "../backend.h"

void dz_cpu_fill(dz_array *y, double value);
void dz_cpu_astype(const dz_array *x, dz_array *y);
void dz_cpu_unary(dz_unary_op op, const dz_array *x, double p, dz_array *y);
void dz_cpu_binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y);
void dz_cpu_reduce(dz_reduce_op op, const dz_array *x, dz_array *y);
void dz_cpu_transpose(const dz_array *x, const int *axes, dz_array *y);
void dz_cpu_gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t lda, int64_t stride_a,
                 const void *b, int64_t ldb, int64_t stride_b,
                 double beta, void *c, int64_t ldc, int64_t stride_c, int64_t batch);

/* Neural-network kernels (cpu_nn.c). */
void dz_cpu_sigmoid(const dz_array *x, dz_array *y);
void dz_cpu_softmax(const dz_array *x, int axis, bool log, dz_array *y);
void dz_cpu_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool log, dz_array *gx);
void dz_cpu_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx);
void dz_cpu_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y);
void dz_cpu_one_hot(const dz_array *indices, dz_array *y);
void dz_cpu_repeat_rows(const dz_array *x, dz_array *y);
void dz_cpu_sum_rows(const dz_array *x, dz_array *y);
void dz_cpu_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs);
void dz_cpu_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx);
void dz_cpu_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss);

/* IEEE half <-> float. */
float dz_half_to_float(uint16_t h);
uint16_t dz_float_to_half(float f);

#endif

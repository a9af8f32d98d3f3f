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

/* Embedding kernels (cpu_embedding.c); see backend.h. */
void dz_cpu_embedding_gather(const dz_array *w, const dz_array *idx, int64_t skip_idx, dz_array *y);
void dz_cpu_embedding_scatter_add(const dz_array *gy, const dz_array *idx, int64_t skip_idx, bool scale_by_freq,
                                  dz_array *gw);
void dz_cpu_embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type);
void dz_cpu_embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                              int64_t skip_idx, bool mean, dz_array *y);
void dz_cpu_embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax);
void dz_cpu_embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                  const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq, dz_array *gw);
void dz_cpu_embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows);
void dz_cpu_embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw);
void dz_cpu_embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw);

/* IEEE half <-> float. */
float dz_half_to_float(uint16_t h);
uint16_t dz_float_to_half(float f);

#endif

/* The embedding kernels' dispatchers: each runs the backend's fused kernel
 * when it has one (backend.h, dz_backend_fused), otherwise a composite of the
 * required primitives with the same semantics. Arguments as on the fused
 * slots. Each returns false only when a temporary could not be allocated (the
 * allocator raised the error); the caller then releases its output. */
#ifndef DEZERO_EMBEDDING_KERNELS_H
#define DEZERO_EMBEDDING_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/array.h"

bool dz_kernel_embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type);
bool dz_kernel_embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                                 int64_t skip_idx, bool mean, dz_array *y);
bool dz_kernel_embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                                 dz_array *y, dz_array *argmax);
bool dz_kernel_embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                     const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq,
                                     dz_array *gw);
bool dz_kernel_embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                       const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows);
bool dz_kernel_embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw);
bool dz_kernel_embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                          const dz_array *starts, int64_t skip_idx, dz_array *gpsw);

#endif

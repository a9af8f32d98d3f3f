/* The neural-network kernels as the ops call them: activations, softmax, clip,
 * one_hot, the bias rows of a linear layer and the fused losses.
 *
 * Each dz_kernel_<slot> runs the backend's fused kernel of that name when it
 * has one (see the comments on dz_backend_fused in src/backend/backend.h for
 * the arguments and the math), and otherwise a composite of the required
 * primitives with the same semantics. The composites never touch elements on
 * the host; where one rounds or sums in another order than the CPU kernel
 * (src/backend/cpu/cpu_nn.c), its comment says so.
 *
 * Each returns false only when a temporary could not be allocated (the error
 * is raised already); the caller then releases its outputs and fails. */
#ifndef DEZERO_NN_KERNELS_H
#define DEZERO_NN_KERNELS_H

#include "../backend/backend.h"

bool dz_kernel_sigmoid(const dz_array *x, dz_array *y);
bool dz_kernel_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx);
bool dz_kernel_softmax(const dz_array *x, int axis, bool log, dz_array *y);
bool dz_kernel_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool log, dz_array *gx);
bool dz_kernel_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y);
bool dz_kernel_one_hot(const dz_array *indices, dz_array *y);
bool dz_kernel_repeat_rows(const dz_array *x, dz_array *y);
bool dz_kernel_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                     dz_array *loss, dz_array *probs);
bool dz_kernel_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                              double scale, const dz_array *gy, dz_array *gx);
bool dz_kernel_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss);

/* Row numbers for labels t (N,) (int32 or int64), used by the loss
 * composites and by the losses' recorded backwards: int64 (N,) on t's device,
 * -1 (the skip of gather_rows and index_add_rows) on the rows labelled
 * ignore_index. NULL after raising when out of memory.
 * dz_label_rows: i * c + t[i], where row i's label sits in an (N, c) array
 * seen as (N * c, 1). dz_counted_rows: i, the row itself. */
dz_array *dz_label_rows(const dz_array *t, int64_t c, int64_t ignore_index);
dz_array *dz_counted_rows(const dz_array *t, int64_t ignore_index);

#endif

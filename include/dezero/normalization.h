/* Normalization and its layers (src/functions/normalization.c,
 * src/layers/normalization.c): DeZero's batch_norm and BatchNorm, PyTorch's
 * layer_norm and LayerNorm. The functions return a new Variable
 * (scope-owned, see variable.h), or NULL after a user error; inputs are f32
 * or f64. The layers are freed with dz_layer_free. */
#ifndef DEZERO_NORMALIZATION_H
#define DEZERO_NORMALIZATION_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/rng.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DeZero's batch_nrom: x (N, C) or (N, C, H, W), normalised per channel C
 * over the other axes, y = gamma * xhat + beta, gamma and beta (C,) (NULL:
 * 1 and 0). In train mode (dz_is_train) xhat = (x - mean) / sqrt(var + eps)
 * with the batch's mean and biased var, and the running averages (C,) are
 * updated in place when given:
 *     running_mean = decay * running_mean + (1 - decay) * mean
 *     running_var  = decay * running_var + (1 - decay) * m / max(m - 1, 1) * var
 * where m = N*H*W (PyTorch's F.batch_norm with momentum = 1 - decay, and its
 * unbiased running var). In test mode xhat uses the running averages, which
 * must then be given. running_mean and running_var: both or neither, with x's
 * dtype and device. DeZero's defaults: decay 0.9, eps 2e-5. The grads of x,
 * gamma and beta are DeZero's; the one recorded for create_graph computes the
 * batch statistics again from x, so that double backward is exact (DeZero
 * holds 1 / sqrt(var + eps) constant there). */
DZ_API dz_variable *dz_batch_norm(dz_variable *x, dz_variable *gamma, dz_variable *beta, dz_array *running_mean,
                                  dz_array *running_var, double decay, double eps);

/* PyTorch's F.layer_norm: x normalised over its last `ndim` dims (1 to
 * x's ndim) with their mean and biased var, y = gamma * xhat + beta; gamma
 * and beta have the shape of those dims, or are NULL (1 and 0). PyTorch's
 * eps is 1e-5. Differentiable to any order. */
DZ_API dz_variable *dz_layer_norm(dz_variable *x, int ndim, dz_variable *gamma, dz_variable *beta, double eps);

/* DeZero's BatchNorm: dz_batch_norm with decay 0.9 and eps 2e-5 on its
 * parameters "avg_mean", "avg_var", "gamma", "beta", all lazy: made at the
 * first forward as zeros, ones, ones, zeros of (C,), C = x's dim 1, in x's
 * dtype and on its device (or by load_weights from the file). All four are
 * saved and loaded; the running averages never get a grad (requires_grad
 * is false: a summary counts them as non-trainable), so optimizers leave
 * them alone. */
DZ_API dz_layer *dz_batch_norm_layer_new(void);

/* PyTorch's nn.LayerNorm over the last `ndim` dims of shape normalized_shape:
 * parameters "weight" (ones) and "bias" (zeros) of that shape in `dtype` when
 * elementwise_affine, none otherwise. */
DZ_API dz_layer *dz_layer_norm_layer_new(int ndim, const int64_t *normalized_shape, double eps,
                                         bool elementwise_affine, dz_dtype dtype);

#ifdef __cplusplus
}
#endif

#endif

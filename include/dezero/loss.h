/* Losses and metrics (src/functions/loss.c). Each returns a new 0-d Variable
 * (scope-owned, see variable.h), or NULL after a user error.
 *
 * Means are over ALL elements, as PyTorch's reduction='mean' — deliberately
 * not DeZero's division by len(x) (the first axis). The two agree when x is
 * (N,) or (N, 1). */
#ifndef DEZERO_LOSS_H
#define DEZERO_LOSS_H

#include <stdint.h>

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mean((x0 - x1)^2) over every element of the broadcast difference (PyTorch
 * MSELoss; DeZero divides by len(x0) instead). x0, x1 one float dtype, shapes
 * that broadcast; both get grads. On the CPU the loss and the grads have the
 * bits of PyTorch 1.13's F.mse_loss (its order of summation, a division by
 * n, grad = (2 / n) (x0 - x1) gy). */
DZ_API dz_variable *dz_mean_squared_error(dz_variable *x0, dz_variable *x1);

/* Fused, stable softmax cross entropy: mean over N of -log_softmax(x)[i, t[i]].
 * x (N, C) f32/f64 logits; t (N,) int32/int64 labels in 0..C-1 (anything else
 * is a user error naming the label, its position and C). t gets no grad. */
DZ_API dz_variable *dz_softmax_cross_entropy(dz_variable *x, dz_variable *t);
/* The same, but rows whose label equals ignore_index contribute nothing and
 * the mean is over the other rows (PyTorch's ignore_index). When every row is
 * ignored the loss is NaN (0/0) and the grad is zero, as PyTorch 1.13. */
DZ_API dz_variable *dz_softmax_cross_entropy_ignore(dz_variable *x, dz_variable *t, int64_t ignore_index);

/* mean(-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))), computed stably as
 * max(x, 0) - x t + log(1 + exp(-|x|)) (no clipping needed). t has x's shape
 * (or x's size with another ndim: reshaped, as DeZero); an integer t is
 * converted to x's dtype as a constant, a float t of x's dtype gets a grad. */
DZ_API dz_variable *dz_sigmoid_cross_entropy(dz_variable *x, dz_variable *t);
/* mean(-t log p - (1 - t) log(1 - p)) with p clipped to [1e-15, 0.999] first
 * (DeZero's clip: never log(0)). p are probabilities; t as above. */
DZ_API dz_variable *dz_binary_cross_entropy(dz_variable *p, dz_variable *t);

/* Fraction of rows of y (N, C) whose argmax (the first, on ties) equals the
 * int32/int64 label t (N,) in 0..C-1 (anything else is a user error, as for
 * the cross entropy): a 0-d float64 constant, outside any graph (NaN when N
 * is 0). */
DZ_API dz_variable *dz_accuracy(dz_variable *y, dz_variable *t);

#ifdef __cplusplus
}
#endif

#endif

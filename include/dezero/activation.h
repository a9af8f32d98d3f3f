/* Activations and reductions used by networks (src/functions/activation.c).
 * Each returns a new Variable (scope-owned, see variable.h), or NULL after a
 * user error. Inputs are f32 or f64. */
#ifndef DEZERO_ACTIVATION_H
#define DEZERO_ACTIVATION_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/rng.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DeZero's 0.5 tanh(0.5 x) + 0.5, which is exactly 1 / (1 + e^-x); evaluated
 * with e = e^-|x| as 1 / (1 + e) or e / (1 + e), so it neither overflows nor
 * cancels on either side (f32 uses a vectorized exp within 1.4 ulp). */
DZ_API dz_variable *dz_sigmoid(dz_variable *x);
/* max(x, 0); the grad is gy where x > 0, else 0. */
DZ_API dz_variable *dz_relu(dz_variable *x);
/* x where x > 0, else slope * x. */
DZ_API dz_variable *dz_leaky_relu(dz_variable *x, double slope);
/* Softmax along `axis` (negative counts from the end), max-shifted. */
DZ_API dz_variable *dz_softmax(dz_variable *x, int axis);
/* log(softmax(x)) along `axis` = x - logsumexp(x), max-shifted (stable). */
DZ_API dz_variable *dz_log_softmax(dz_variable *x, int axis);

/* Max / min over `axes` (NULL or naxes 0: all axes); keepdims keeps them as
 * size 1. Every element equal to the extremum gets the full gradient (ties
 * included, as DeZero). */
DZ_API dz_variable *dz_max(dz_variable *x, int naxes, const int *axes, bool keepdims);
DZ_API dz_variable *dz_min(dz_variable *x, int naxes, const int *axes, bool keepdims);

/* x clipped to [lo, hi] (lo <= hi); the grad passes where lo <= x <= hi. */
DZ_API dz_variable *dz_clip(dz_variable *x, double lo, double hi);

/* In train mode (dz_is_train()): y = x * mask / (1 - ratio) with
 * mask = uniform[0, 1) > ratio drawn from rng (NULL: the default generator);
 * 0 <= ratio < 1. In test mode y is x itself. */
DZ_API dz_variable *dz_dropout(dz_variable *x, double ratio, dz_rng *rng);

/* PyTorch's F.gelu: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (approximate='none'),
 * or with `tanh_approximation` 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
 * (approximate='tanh'). Differentiable to any order. */
DZ_API dz_variable *dz_gelu(dz_variable *x, bool tanh_approximation);

#ifdef __cplusplus
}
#endif

#endif

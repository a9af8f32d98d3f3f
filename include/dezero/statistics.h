/* Statistics and norms over axes (src/functions/statistics.c): variance,
 * standard deviation, vector norms and cosine similarity. Axes are given as
 * for dz_sum (NULL or naxes 0: all axes; negative count from the end);
 * keepdims keeps them as size 1. Inputs are f32 or f64. Each returns a new
 * Variable (scope-owned, see variable.h), or NULL after a user error. */
#ifndef DEZERO_STATISTICS_H
#define DEZERO_STATISTICS_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* np.var(x, axis, ddof=ddof) = sum((x - mean)^2) / max(N - ddof, 0), N the
 * number of elements reduced (PyTorch's `correction` is ddof): ddof 0 the
 * population variance, 1 the sample variance. N <= ddof divides by 0
 * (inf or NaN, as NumPy). */
DZ_API dz_variable *dz_var(dz_variable *x, int naxes, const int *axes, int64_t ddof, bool keepdims);
/* sqrt(dz_var(...)); where the result is 0 the grad is 0 (PyTorch's choice;
 * the derivative of sqrt there is infinite). */
DZ_API dz_variable *dz_std(dz_variable *x, int naxes, const int *axes, int64_t ddof, bool keepdims);

/* The vector p-norm over the axes, as torch.linalg.vector_norm(x, p):
 * (sum |x|^p)^(1/p) for p > 0; p = 1 the sum of |x|, p = 2 the Euclidean
 * norm, p = INFINITY the largest |x|. Grads as PyTorch's: 0 where the norm
 * is 0 (no NaN), sign(x) for p = 1 (0 at 0), and for p = INFINITY the grad
 * split evenly between the elements whose |x| equals the norm. p must be
 * > 0 (not NaN); the infinity norm needs the reduced axes non-empty. */
DZ_API dz_variable *dz_norm(dz_variable *x, double p, int naxes, const int *axes, bool keepdims);

/* torch.nn.functional.cosine_similarity(x1, x2, dim=axis, eps) as PyTorch
 * 1.13 computes it: x1 and x2 (one dtype and device) broadcast to one shape,
 * then sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along axis, |.| the
 * 2-norm along axis; the axis goes away. eps >= 0 (PyTorch's default is
 * 1e-8). As in PyTorch, the grad of a clamped norm is still x / max(|x|, eps). */
DZ_API dz_variable *dz_cosine_similarity(dz_variable *x1, dz_variable *x2, int axis, double eps);

#ifdef __cplusplus
}
#endif

#endif

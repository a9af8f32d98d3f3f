/* Numerical gradient check (central differences in f64, as DeZero's
 * gradient_check: eps 1e-4, rtol 1e-4, atol 1e-5). */
#ifndef DEZERO_GRADIENT_CHECK_H
#define DEZERO_GRADIENT_CHECK_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The function under test: builds an output from inputs[0..n-1]. */
typedef dz_variable *(*dz_checked_fn)(dz_variable *const *inputs, void *ctx);

typedef struct dz_gradient_check_options {
    double eps, rtol, atol;
    unsigned long long seed; /* for the random output weights */
} dz_gradient_check_options;

/* Compares backprop with central differences for every f64 input that
 * requires a grad. The scalar checked is sum(w * f(x)) with fixed random
 * weights w, so a gradient that is wrong but sums to the right value is still
 * caught. Returns DZ_OK, or DZ_ERR_VALUE with dz_last_error() naming the input,
 * the element and both values. options NULL = the defaults above (eps > 0 and
 * tolerances >= 0, all finite). The inputs and the output live on the CPU, the
 * output in f32 or f64. */
DZ_API dz_status dz_gradient_check(dz_checked_fn f, void *ctx, int ninputs, dz_variable *const *inputs,
                                   const dz_gradient_check_options *options);

#ifdef __cplusplus
}
#endif

#endif

/* Dtype promotion of the arithmetic ops, as NumPy 1.24 does it (the rule
 * table is in include/dezero/math.h): the result dtype of two inputs, or of an
 * input and a scalar, and the cast of an input to it. The cast is a dz_astype
 * node, whose backward casts the grad back to the input's dtype. */
#ifndef DEZERO_PROMOTE_H
#define DEZERO_PROMOTE_H

#include <stdbool.h>

#include "dezero/array.h"
#include "dezero/variable.h"

/* What an op does with its scalar, for the result dtype. */
typedef enum dz_scalar_kind {
    DZ_SCALAR_ARITH,  /* x + c, x - c, c - x, x * c */
    DZ_SCALAR_DIVIDE, /* x / c, c / x: true division */
    DZ_SCALAR_POWER   /* x ** c */
} dz_scalar_kind;

/* np.result_type of two arrays of the compute dtypes (f32, f64, i32, i64);
 * with true_divide, integers give float64 (np.true_divide). */
dz_dtype dz_promote_types(dz_dtype a, dz_dtype b, bool true_divide);
/* The dtype of x `kind` c for an input of `dtype` (valid) into *out; false
 * after raising, for a scalar NumPy would not turn into a number of a fixed
 * dtype, or a negative integer power of integers. */
bool dz_scalar_result_dtype(const char *op, dz_dtype dtype, double c, dz_scalar_kind kind, dz_dtype *out);
/* x itself when it has `dtype`, else x cast to it (a new scope-owned Variable,
 * NULL when out of memory). */
dz_variable *dz_promote(dz_variable *x, dz_dtype dtype);

#endif

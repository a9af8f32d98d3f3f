/* Helpers shared by the neural-network functions (linalg, activation, loss):
 * which inputs need a grad, constants, axis and label checks, and composite
 * ops that build their result from other ops inside a private scope. */
#ifndef DEZERO_NN_UTIL_H
#define DEZERO_NN_UTIL_H

#include <stdbool.h>

#include "dezero/variable.h"

/* Whether backward would keep a grad for v (the rule backward.c applies). */
bool dz_needs_grad(const dz_variable *v);
/* A leaf that needs no grad, owning `a` (NULL when a is NULL). */
dz_variable *dz_constant(dz_array *a);
/* A scope-owned Variable for an array computed by a raw backward path. */
dz_variable *dz_raw_result(dz_array *a);

/* Resolve a possibly negative axis of x; false after raising. */
bool dz_check_axis(const char *op, const dz_array *x, int axis, int *out);
/* The shape of x with 1 on the reduced axes (all when naxes is 0), and the
 * shape without them; false after raising. */
bool dz_reduced_shape(const char *op, const dz_array *x, int naxes, const int *axes, int64_t *kept,
                      int *out_ndim, int64_t *out_shape);

/* Label arrays: t is int32 or int64 (false after raising otherwise). */
bool dz_check_label_dtype(const char *op, const dz_variable *t);
/* Element i of an int32/int64 array. */
int64_t dz_label_at(const dz_array *t, int64_t i);
/* Every label is in 0..num_classes-1 or equals ignore_index; counts the
 * others into *count. False after raising with the label and its position. */
bool dz_check_label_range(const char *op, const dz_array *t, int64_t num_classes, int64_t ignore_index,
                          int64_t *count);
/* ignore_index of the losses that ignore nothing (no label can equal it). */
#define DZ_NO_IGNORE INT64_MIN

/* Composite ops: dz_scope_begin(), build y from other ops, then
 * return dz_composite_result(y): y survives, the intermediates that nothing
 * references are released, and y goes to the caller's scope (or the caller). */
dz_variable *dz_composite_result(dz_variable *y);

#endif

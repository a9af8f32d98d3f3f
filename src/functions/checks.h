/* Argument checks shared by the functions: each raises a user error that names
 * the op (the public function the user called) and returns false when the
 * check fails, so a caller stops at the first error. */
#ifndef DEZERO_CHECKS_H
#define DEZERO_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/variable.h"

/* x is not NULL and holds data. */
bool dz_check_variable(const char *op, const dz_variable *x);
/* x passes dz_check_variable and is f32 or f64. */
bool dz_check_float(const char *op, const dz_variable *x);
/* a and b (called what_a and what_b in the message) are on one device. */
bool dz_check_same_device(const char *op, const char *what_a, const dz_array *a, const char *what_b,
                          const dz_array *b);
/* Both are valid, with the same dtype and device. */
bool dz_check_pair(const char *op, const dz_variable *a, const dz_variable *b);
/* dz_check_pair, and the shapes broadcast. */
bool dz_check_broadcast(const char *op, const dz_variable *a, const dz_variable *b);
/* Both are valid, on one device, and their shapes broadcast; their dtypes
 * may differ (the op promotes them, promote.h). */
bool dz_check_binary(const char *op, const dz_variable *a, const dz_variable *b);

/* (ndim, shape), called `what` in messages, is the shape of an array that can
 * exist: 0..DZ_MAX_NDIM dims, not NULL, no negative dim, and a size in bytes
 * (of 8-byte elements) that fits in 64 bits. */
bool dz_check_shape(const char *op, const char *what, int ndim, const int64_t *shape);

/* `axis` of x (negative counts from the end) resolved into *out. With
 * `insert`, an axis of the result of inserting one (0..ndim). */
bool dz_check_axis(const char *op, const dz_array *x, int axis, bool insert, int *out);
/* Reduction axes (NULL or naxes 0: all): kept is x's shape with 1 on the
 * reduced axes, (out_ndim, out_shape) the shape without them. */
bool dz_check_reduce_axes(const char *op, const dz_array *x, int naxes, const int *axes, int64_t *kept,
                          int *out_ndim, int64_t *out_shape);

/* t is an int32 or int64 label variable. */
bool dz_check_labels(const char *op, const dz_variable *t);
/* Every label is in 0..num_classes-1, or equals *ignore_index when that is
 * not NULL; *count gets the labels not ignored. The message names the first
 * bad label and its position. Labels may live on any device. */
bool dz_check_label_range(const char *op, const dz_array *t, int64_t num_classes, const int64_t *ignore_index,
                          int64_t *count);

/* Identity result: another reference to x, owned like any op result. */
dz_variable *dz_identity_result(dz_variable *x);

#endif

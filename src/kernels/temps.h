/* The temporaries of a composite: the kernels' stand-in for a fused kernel
 * the backend does not have (src/kernels). A composite is a chain of array
 * primitives, each step a new array, and any of those allocations may fail
 * (NULL, the error already raised). Rather than test every step, a
 * composite records its temporaries in one list and runs straight through:
 *
 *     dz_temps tmp = {0};
 *     dz_array *e = dz_tmp_unary(&tmp, DZ_UNARY_EXP, x, 0);
 *     dz_array *s = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, e, 1);
 *     if (!tmp.failed)
 *         ... write the outputs from e and s ...
 *     return dz_tmp_end(&tmp);
 *
 * Each dz_tmp_ function records the array it makes in the list. Once an
 * allocation has failed, every later one returns NULL at once, without
 * calling the backend or reading its arguments (which may be the NULLs of
 * failed steps). A composite's own helper that reads an argument's fields
 * (its device, its shape) checks tmp->failed first; a step that fails
 * otherwise (a host view, a nested kernel) sets tmp->failed itself.
 * dz_tmp_end releases the list. */
#ifndef DEZERO_TEMPS_H
#define DEZERO_TEMPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../backend/backend.h"

#define DZ_TEMPS_MAX 64

typedef struct dz_temps {
    dz_array *arrays[DZ_TEMPS_MAX]; /* the temporaries made so far */
    int count;
    bool failed; /* an allocation failed: the steps after it are skipped */
} dz_temps;

/* Releases the temporaries; true when every one was allocated, so the
 * composite has written its outputs. */
bool dz_tmp_end(dz_temps *tmp);
/* dz_tmp_end for a composite whose result is one of its temporaries: the
 * result outlives the list, and the caller releases it. NULL when an
 * allocation failed. */
dz_array *dz_tmp_end_with(dz_temps *tmp, dz_array *result);

/* ---- new arrays on `device` ---- */

/* Elements uninitialised, for a primitive that writes every one of them. */
dz_array *dz_tmp_uninit(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape);
dz_array *dz_tmp_zeros(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape);
/* Every element `value`, rounded to the dtype as the primitives round their
 * double arguments. */
dz_array *dz_tmp_full(dz_temps *tmp, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape,
                      double value);
/* A 0-d dz_tmp_full: a scalar that broadcasts against any array. */
dz_array *dz_tmp_scalar(dz_temps *tmp, dz_device device, dz_dtype dtype, double value);
/* int64 (n,): 0, 1, ..., n - 1. */
dz_array *dz_tmp_arange(dz_temps *tmp, dz_device device, int64_t n);
/* int64 of that shape holding host `values` (as many as its size), copied
 * over exactly (an int64 need not fit a double). */
dz_array *dz_tmp_from_host(dz_temps *tmp, dz_device device, int ndim, const int64_t *shape,
                           const int64_t *values);
/* The same as a result of its own: a new int64 array (n,) on `device`
 * holding n values built on the host (bag bounds, kept positions, row
 * lists); NULL when it cannot be allocated (the error recorded). */
dz_array *dz_indices_from_host(dz_device device, int64_t n, const int64_t *values);

/* ---- arrays from arrays ---- */

dz_array *dz_tmp_copy(dz_temps *tmp, const dz_array *x);
/* x with another shape, sharing x's storage: writing it writes x. */
dz_array *dz_tmp_reshape(dz_temps *tmp, const dz_array *x, int ndim, const int64_t *shape);
/* A copy of x broadcast to `shape`. */
dz_array *dz_tmp_broadcast(dz_temps *tmp, const dz_array *x, int ndim, const int64_t *shape);
/* x converted to `dtype`; x itself when it has that dtype already (nothing
 * to convert, nothing recorded). */
const dz_array *dz_tmp_astype(dz_temps *tmp, const dz_array *x, dz_dtype dtype);
/* op(x, p) */
dz_array *dz_tmp_unary(dz_temps *tmp, dz_unary_op op, const dz_array *x, double p);
/* a op b, broadcasting */
dz_array *dz_tmp_binary(dz_temps *tmp, dz_binary_op op, const dz_array *a, const dz_array *b);

/* op (a sum, max, min) over `axis`, kept with size 1 so that the result
 * broadcasts against x; DZ_TMP_ALL_AXES: over every axis, to (1, ..., 1). */
#define DZ_TMP_ALL_AXES (-1)
dz_array *dz_tmp_reduce(dz_temps *tmp, dz_reduce_op op, const dz_array *x, int axis);

/* A table (R, ...) seen as R rows of D elements, D the product of its other
 * axes (the rows of an embedding, of a parameter and its optimizer state). */
int64_t dz_row_length(const dz_array *table);
/* (n, D): row rows[i] of the table for each of the n entries of rows, read
 * flat (int32 or int64, each in [0, R) or skip); zeros where rows[i] ==
 * skip (-1: none). */
dz_array *dz_tmp_gather_rows(dz_temps *tmp, const dz_array *table, const dz_array *rows, int64_t skip);

#endif

/* dz_array: an n-dimensional, C-contiguous array with refcounted storage.
 *
 * Arrays are plain refcounted values: every function here that returns a
 * dz_array * gives the caller a new reference, released with dz_array_release.
 * Reshape shares storage; every other operation makes a new buffer.
 */
#ifndef DEZERO_ARRAY_H
#define DEZERO_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dezero/export.h"
#include "dezero/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DZ_MAX_NDIM 8

typedef enum dz_dtype {
    DZ_F32,
    DZ_F64,
    DZ_I32,
    DZ_I64,
    DZ_U8,   /* file I/O */
    DZ_BOOL, /* file I/O */
    DZ_F16   /* file I/O (IEEE half, stored as uint16) */
} dz_dtype;

typedef enum dz_device { DZ_CPU, DZ_CUDA } dz_device;

typedef struct dz_storage dz_storage;

typedef struct dz_array {
    dz_dtype dtype;
    dz_device device;
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    int64_t size;          /* product of shape (1 for 0-d) */
    void *data;            /* first element, inside storage */
    dz_storage *storage;   /* shared by arrays that reshape one another */
    int refcount;
} dz_array;

/* Shape literals: dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)). */
#define DZ_SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* Bytes per element; 0 after raising DZ_ERR_DTYPE for a value outside the enum. */
DZ_API size_t dz_dtype_size(dz_dtype dtype);
/* "float32"; "unknown dtype" for a value outside the enum (no error: it is
 * used inside error messages). */
DZ_API const char *dz_dtype_name(dz_dtype dtype);
DZ_API bool dz_dtype_is_float(dz_dtype dtype);   /* f32, f64 */
DZ_API bool dz_dtype_is_integer(dz_dtype dtype); /* i32, i64 */

/* Creation. NULL on error (unknown dtype, overflowing or negative shape, bad
 * ndim, a value the dtype cannot hold such as NaN or 2^31 in an int32). */
DZ_API dz_array *dz_array_empty(dz_dtype dtype, int ndim, const int64_t *shape);
DZ_API dz_array *dz_array_zeros(dz_dtype dtype, int ndim, const int64_t *shape);
DZ_API dz_array *dz_array_ones(dz_dtype dtype, int ndim, const int64_t *shape);
DZ_API dz_array *dz_array_full(dz_dtype dtype, int ndim, const int64_t *shape, double value);
DZ_API dz_array *dz_array_scalar(dz_dtype dtype, double value); /* 0-d */
DZ_API dz_array *dz_array_arange(dz_dtype dtype, double start, double stop, double step);
/* Copies ndim/shape/size elements of `dtype` from a host buffer. */
DZ_API dz_array *dz_array_from_buffer(dz_dtype dtype, int ndim, const int64_t *shape, const void *buffer);
DZ_API dz_array *dz_array_zeros_like(const dz_array *a);
DZ_API dz_array *dz_array_ones_like(const dz_array *a);
DZ_API dz_array *dz_array_copy(const dz_array *a);
/* Raises DZ_ERR_VALUE (NumPy wraps or gives garbage) when an element cannot be
 * converted: NaN, infinite or out of range for an integer dtype. */
DZ_API dz_array *dz_array_astype(const dz_array *a, dz_dtype dtype);
/* Same storage, new shape; one entry may be -1. */
DZ_API dz_array *dz_array_reshape(const dz_array *a, int ndim, const int64_t *shape);
/* A copy on `device` (a new reference to `a` when it is already there). */
DZ_API dz_array *dz_array_to_device(const dz_array *a, dz_device device);

/* Both accept NULL (and do nothing). */
DZ_API dz_array *dz_array_retain(dz_array *a);
DZ_API void dz_array_release(dz_array *a);

/* Element access by flat (C-order) index in 0..size-1, as double. A bad
 * index raises DZ_ERR_INDEX (get then returns NaN); set raises DZ_ERR_VALUE
 * for a value the dtype cannot hold. On the GPU each call copies one element
 * and waits for the queued work (PyTorch's .item()): read a loss this way,
 * not a whole array (use dz_array_to_device). */
DZ_API double dz_array_get(const dz_array *a, int64_t index);
DZ_API void dz_array_set(dz_array *a, int64_t index, double value);
/* Copy all elements to a host double buffer of a->size entries. */
DZ_API void dz_array_to_doubles(const dz_array *a, double *out);

DZ_API bool dz_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);
DZ_API bool dz_array_same_shape(const dz_array *a, const dz_array *b);
/* "(2, 3)" into buf (cut to fit len >= 1); returns buf. */
DZ_API char *dz_shape_format(int ndim, const int64_t *shape, char *buf, size_t len);
/* Product of the shape, checked: false on overflow or a negative entry (no
 * error is recorded for those; bad arguments raise). */
DZ_API bool dz_shape_size(int ndim, const int64_t *shape, int64_t *size);

/* NumPy-style text: "[[1. 2.]\n [3. 4.]]". The string is malloc'd. `indent`
 * spaces (0 to 1024) are added after each newline (for "variable(...)"). */
DZ_API char *dz_array_format(const dz_array *a, int indent);
DZ_API void dz_array_print(const dz_array *a, FILE *out);

#ifdef __cplusplus
}
#endif

#endif

/* dz_array: creation, refcounting, reshape, dtype and device conversion.
 *
 * Array headers come from a free list. A small CPU buffer lives inside its
 * storage block, which comes from the free list of its size class; larger
 * buffers and GPU buffers come from the device's caching allocator.
 */
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../backend/backend.h"
#include "array_ops.h"
#include "host_view.h"
#include "internal.h"
#include "live_count.h"
#include "pool.h"

struct dz_storage {
    void *buffer;     /* on the storage's device */
    size_t nbytes;
    dz_device device;
    int refcount;
    int size_class;   /* index into storage_pools, -1: data from the backend */
    alignas(max_align_t) unsigned char inline_data[]; /* small CPU buffers */
};

/* Storage blocks with inline buffers of up to 64, 256, 1024 and 4096 bytes. */
#define STORAGE_CLASSES 4
#define CLASS_BYTES(c) ((size_t)64 << (2 * (c)))
#define STORAGE_POOL(c) DZ_POOL_INIT(sizeof(dz_storage) + CLASS_BYTES(c))

static DZ_THREAD_LOCAL dz_pool header_pool = DZ_POOL_INIT(sizeof(dz_array));
static DZ_THREAD_LOCAL dz_pool storage_pools[STORAGE_CLASSES] = {
    STORAGE_POOL(0), STORAGE_POOL(1), STORAGE_POOL(2), STORAGE_POOL(3),
};
static DZ_THREAD_LOCAL dz_pool backend_storage_pool = DZ_POOL_INIT(sizeof(dz_storage));

/* Storage of nbytes on `device`, zero-filled when `zero`; NULL when the
 * device is out of memory. */
static dz_storage *storage_new(dz_device device, size_t nbytes, bool zero)
{
    const dz_backend *backend = dz_backend_for(device);
    int c = 0;
    while (c < STORAGE_CLASSES && nbytes > CLASS_BYTES(c))
        c++;
    dz_storage *st;
    if (device == DZ_CPU && c < STORAGE_CLASSES) {
        st = dz_pool_alloc(&storage_pools[c]);
        *st = (dz_storage){st->inline_data, nbytes, device, 1, c};
    } else {
        void *data = dz_cache_alloc(backend->memory, nbytes);
        if (!data)
            return NULL;
        st = dz_pool_alloc(&backend_storage_pool);
        *st = (dz_storage){data, nbytes, device, 1, -1};
    }
    dz_live_add(DZ_LIVE_STORAGES, 1);
    dz_live_add(DZ_LIVE_STORAGE_BYTES, (int64_t)nbytes);
    if (zero)
        backend->zero(st->buffer, nbytes);
#ifdef __SANITIZE_ADDRESS__
    else if (device == DZ_CPU) /* NaN in every float: a kernel that skips an element shows in the tests */
        memset(st->buffer, 0xff, nbytes);
#endif
    return st;
}

static void storage_release(dz_storage *st)
{
    if (--st->refcount > 0)
        return;
    dz_live_add(DZ_LIVE_STORAGES, -1);
    dz_live_add(DZ_LIVE_STORAGE_BYTES, -(int64_t)st->nbytes);
    if (st->size_class >= 0) {
        dz_pool_free(&storage_pools[st->size_class], st);
    } else {
        dz_cache_free(dz_backend_for(st->device)->memory, st->buffer, st->nbytes);
        dz_pool_free(&backend_storage_pool, st);
    }
}

dz_memory_info dz_memory_stats(void) { return dz_cache_stats(dz_backend_cpu()->memory); }

void dz_empty_cache(void)
{
    dz_cache_empty(dz_backend_cpu()->memory);
    if (dz_backend_cuda_if_loaded())
        dz_cache_empty(dz_backend_cuda_if_loaded()->memory);
}

static bool known_dtype(dz_dtype dtype) { return (unsigned)dtype <= DZ_F16; }

bool dz_check_dtype(const char *op, dz_dtype dtype)
{
    if (known_dtype(dtype))
        return true;
    dz_raise(DZ_ERR_DTYPE, "%s: unknown dtype %d; use one of DZ_F32, DZ_F64, DZ_I32, DZ_I64, DZ_U8, DZ_BOOL, DZ_F16",
             op, (int)dtype);
    return false;
}

bool dz_check_not_null(const char *op, const void *p, const char *what)
{
    if (p)
        return true;
    dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, what);
    return false;
}

/* CPU always; CUDA when this build has a CUDA backend. */
static bool check_device(const char *op, dz_device device)
{
    if (device == DZ_CPU || (device == DZ_CUDA && dz_backend_cuda()))
        return true;
    if (device == DZ_CUDA)
        dz_raise(DZ_ERR_DEVICE, "%s: %s", op, dz_cuda_unavailable_reason());
    else
        dz_raise(DZ_ERR_DEVICE, "%s: unknown device %d; use DZ_CPU or DZ_CUDA", op, (int)device);
    return false;
}

bool dz_check_array(const char *op, const dz_array *a)
{
    if (!a) {
        dz_raise_null_operand("%s: the array is NULL", op);
        return false;
    }
    return dz_check_dtype(op, a->dtype) && check_device(op, a->device);
}

size_t dz_dtype_size(dz_dtype dtype)
{
    return dz_check_dtype("dz_dtype_size", dtype) ? dz_dtype_bytes(dtype) : 0;
}

const char *dz_dtype_name(dz_dtype dtype)
{
    static const char *names[] = {"float32", "float64", "int32", "int64", "uint8", "bool", "float16"};
    return known_dtype(dtype) ? names[dtype] : "unknown dtype";
}

/* Whether `value` converts to `dtype` without undefined behaviour: finite and
 * in range for the integer dtypes (after truncation toward zero). */
static bool value_fits(dz_dtype dtype, double value)
{
    switch (dtype) {
    case DZ_I32: return value > -2147483649.0 && value < 2147483648.0;
    case DZ_I64: return value >= -0x1p63 && value < 0x1p63;
    case DZ_U8: return value > -1.0 && value < 256.0;
    default: return true; /* floats hold NaN and infinities; bool is value != 0 */
    }
}

static bool check_value(const char *op, dz_dtype dtype, double value)
{
    if (value_fits(dtype, value))
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: the value %g does not fit in %s; use a finite value in the dtype's range, or a "
             "float dtype", op, value, dz_dtype_name(dtype));
    return false;
}

bool dz_dtype_is_float(dz_dtype dtype) { return dtype == DZ_F32 || dtype == DZ_F64; }
bool dz_dtype_is_integer(dz_dtype dtype) { return dtype == DZ_I32 || dtype == DZ_I64; }

/* ndim in 0..DZ_MAX_NDIM, and shape not NULL when ndim > 0. */
static bool check_shape_args(const char *op, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: ndim %d is out of range 0..%d", op, ndim, DZ_MAX_NDIM);
        return false;
    }
    if (ndim > 0 && !shape) {
        dz_raise(DZ_ERR_NULL, "%s: shape is NULL for ndim %d; pass ndim entries (DZ_SHAPE(...))", op, ndim);
        return false;
    }
    return true;
}

bool dz_shape_size(int ndim, const int64_t *shape, int64_t *size)
{
    if (!check_shape_args("dz_shape_size", ndim, shape) || !dz_check_not_null("dz_shape_size", size, "size"))
        return false;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n))
            return false;
    }
    *size = n;
    return true;
}

bool dz_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
    if (ndim_a != ndim_b)
        return false;
    if (!check_shape_args("dz_shape_equal", ndim_a, a) || !check_shape_args("dz_shape_equal", ndim_b, b))
        return false;
    for (int i = 0; i < ndim_a; i++) /* shapes are short: a loop beats a call to memcmp */
        if (a[i] != b[i])
            return false;
    return true;
}

bool dz_array_same_shape(const dz_array *a, const dz_array *b)
{
    if (!a || !b) {
        dz_raise_null_operand("dz_array_same_shape: an array is NULL");
        return false;
    }
    return dz_shape_equal(a->ndim, a->shape, b->ndim, b->shape);
}

char *dz_shape_format(int ndim, const int64_t *shape, char *buf, size_t len)
{
    if (!check_shape_args("dz_shape_format", ndim, shape) || !dz_check_not_null("dz_shape_format", buf, "buf"))
        return NULL;
    if (len == 0) {
        dz_raise(DZ_ERR_VALUE, "dz_shape_format: len is 0; the buffer needs room for at least the final NUL");
        return NULL;
    }
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, ndim == 1 ? ",)" : ")");
    return buf;
}

/* An array of a shape already known to be valid, with `size` elements,
 * zero-filled when `zero`; NULL when memory runs out. */
static dz_array *array_new(const char *op, dz_dtype dtype, dz_device device, int ndim, const int64_t *shape,
                           int64_t size, bool zero)
{
    size_t nbytes = (size_t)size * dz_dtype_size(dtype);
    dz_storage *st = storage_new(device, nbytes, zero);
    if (!st) {
        dz_fail(DZ_ERR_NOMEM, "%s: cannot allocate %zu bytes for shape %s on %s", op, nbytes,
                dz_shape_str(ndim, shape), dz_backend_for(device)->name);
        return NULL;
    }
    dz_array *a = dz_pool_alloc(&header_pool);
    dz_live_add(DZ_LIVE_ARRAYS, 1);
    a->dtype = dtype;
    a->device = device;
    a->ndim = ndim;
    for (int i = 0; i < DZ_MAX_NDIM; i++) /* field by field: cheaper than zeroing the struct */
        a->shape[i] = i < ndim ? shape[i] : 0;
    a->size = size;
    a->data = st->buffer;
    a->storage = st;
    a->refcount = 1;
    return a;
}

/* The element count of a shape (checked: no negative dimension, and the
 * byte count fits in 64 bits), or -1 after raising. */
static int64_t checked_size(const char *op, dz_dtype dtype, int ndim, const int64_t *shape)
{
    if (!dz_check_dtype(op, dtype) || !check_shape_args(op, ndim, shape))
        return -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            dz_raise(DZ_ERR_SHAPE, "%s: negative dimension %lld in shape %s; dimensions are 0 or more", op,
                     (long long)shape[i], dz_shape_str(ndim, shape));
            return -1;
        }
    }
    int64_t size = 1, nbytes;
    bool overflow = false;
    for (int i = 0; i < ndim && !overflow; i++)
        overflow = __builtin_mul_overflow(size, shape[i], &size);
    if (overflow || __builtin_mul_overflow(size, (int64_t)dz_dtype_size(dtype), &nbytes)) {
        dz_raise(DZ_ERR_OVERFLOW, "%s: shape %s of %s has more bytes than fit in 64-bit sizes", op,
                 dz_shape_str(ndim, shape), dz_dtype_name(dtype));
        return -1;
    }
    return size;
}

dz_array *dz_array_new_for(const char *op, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape,
                           bool zero)
{
    if (!check_device(op, device))
        return NULL;
    int64_t size = checked_size(op, dtype, ndim, shape);
    return size < 0 ? NULL : array_new(op, dtype, device, ndim, shape, size, zero);
}

dz_array *dz_array_empty(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_new_for("dz_array_empty", DZ_CPU, dtype, ndim, shape, true);
}

dz_array *dz_array_empty_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_new_for("dz_array", device, dtype, ndim, shape, true);
}

dz_array *dz_array_uninit_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_new_for("dz_array", device, dtype, ndim, shape, false);
}

dz_array *dz_array_uninit_like(const dz_array *a)
{
    return array_new("dz_array", a->dtype, a->device, a->ndim, a->shape, a->size, false);
}

dz_array *dz_array_zeros(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_new_for("dz_array_zeros", DZ_CPU, dtype, ndim, shape, true);
}

dz_array *dz_array_full_for(const char *op, dz_dtype dtype, int ndim, const int64_t *shape, double value)
{
    if (!dz_check_dtype(op, dtype) || !check_value(op, dtype, value))
        return NULL;
    dz_array *a = dz_array_new_for(op, DZ_CPU, dtype, ndim, shape, false);
    if (a)
        dz_backend_of(a)->fill(a, value);
    return a;
}

dz_array *dz_array_full(dz_dtype dtype, int ndim, const int64_t *shape, double value)
{
    return dz_array_full_for("dz_array_full", dtype, ndim, shape, value);
}

dz_array *dz_array_ones(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_full_for("dz_array_ones", dtype, ndim, shape, 1.0);
}

dz_array *dz_array_scalar(dz_dtype dtype, double value)
{
    return dz_array_full_for("dz_array_scalar", dtype, 0, NULL, value);
}

/* A 0-d CPU array over one element on the host (no storage of its own), for
 * the CPU backend's astype to convert. */
static dz_array host_element(dz_dtype dtype, void *element)
{
    return (dz_array){.dtype = dtype, .device = DZ_CPU, .size = 1, .data = element};
}

/* Element i of host elements of `dtype` (a host view), as a double. */
static double load_element(dz_dtype dtype, const void *elements, int64_t i)
{
    switch (dtype) { /* the common dtypes directly: loops call this per element */
    case DZ_F32: return ((const float *)elements)[i];
    case DZ_F64: return ((const double *)elements)[i];
    case DZ_I32: return ((const int32_t *)elements)[i];
    case DZ_I64: return (double)((const int64_t *)elements)[i];
    default: {
        double v;
        dz_array from = host_element(dtype, (char *)elements + (size_t)i * dz_dtype_size(dtype));
        dz_array to = host_element(DZ_F64, &v);
        dz_backend_cpu()->astype(&from, &to);
        return v;
    }
    }
}

/* Element i of host elements of `dtype` = a value that fits the dtype. */
static void store_element(dz_dtype dtype, void *elements, int64_t i, double value)
{
    dz_array from = host_element(DZ_F64, &value);
    dz_array to = host_element(dtype, (char *)elements + (size_t)i * dz_dtype_size(dtype));
    dz_backend_cpu()->astype(&from, &to);
}

/* The number of elements of arange, or -1 after raising. */
static int64_t arange_count(double start, double stop, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        dz_raise(DZ_ERR_VALUE, "dz_array_arange: start %g, stop %g, step %g: step must be nonzero and all finite",
                 start, stop, step);
        return -1;
    }
    double n = ceil((stop - start) / step);
    if (!(n < 0x1p62)) { /* also an infinite stop - start */
        dz_raise(DZ_ERR_OVERFLOW, "dz_array_arange: start %g, stop %g, step %g give more elements than fit in "
                 "64-bit sizes", start, stop, step);
        return -1;
    }
    return n > 0 ? (int64_t)n : 0;
}

dz_array *dz_array_arange(dz_dtype dtype, double start, double stop, double step)
{
    const char *op = "dz_array_arange";
    int64_t count = arange_count(start, stop, step);
    if (count < 0 || !dz_check_dtype(op, dtype))
        return NULL;
    double last = start + (double)(count ? count - 1 : 0) * step;
    if (!check_value(op, dtype, start) || !check_value(op, dtype, last))
        return NULL;
    dz_array *a = dz_array_new_for(op, DZ_CPU, dtype, 1, &count, false);
    if (!a)
        return NULL;
    dz_host_view view;
    void *elements = dz_host_view_write(&view, a); /* a is on the CPU: its own buffer */
    for (int64_t i = 0; i < count; i++)
        store_element(dtype, elements, i, start + (double)i * step);
    dz_host_view_close(&view);
    return a;
}

dz_array *dz_array_from_buffer(dz_dtype dtype, int ndim, const int64_t *shape, const void *buffer)
{
    const char *op = "dz_array_from_buffer";
    if (!dz_check_not_null(op, buffer, "buffer"))
        return NULL;
    dz_array *a = dz_array_new_for(op, DZ_CPU, dtype, ndim, shape, false);
    if (a)
        dz_backend_of(a)->from_host(a->data, buffer, (size_t)a->size * dz_dtype_size(dtype));
    return a;
}

/* A new array of a's dtype, device and shape, for `op`. */
static dz_array *array_like(const char *op, const dz_array *a, bool zero)
{
    return dz_check_array(op, a) ? array_new(op, a->dtype, a->device, a->ndim, a->shape, a->size, zero) : NULL;
}

dz_array *dz_array_zeros_like(const dz_array *a) { return array_like("dz_array_zeros_like", a, true); }

dz_array *dz_array_ones_like(const dz_array *a)
{
    dz_array *y = array_like("dz_array_ones_like", a, false);
    if (y)
        dz_backend_of(y)->fill(y, 1.0);
    return y;
}

dz_array *dz_array_copy(const dz_array *a)
{
    dz_array *y = array_like("dz_array_copy", a, false);
    if (y)
        dz_backend_of(y)->copy(y->data, a->data, (size_t)a->size * dz_dtype_size(a->dtype));
    return y;
}

/* Converting to an integer dtype through double is undefined for NaN,
 * infinities and values out of range: the smallest and largest elements
 * (found by the backend's reductions, which propagate NaN) must fit. */
static bool needs_range_check(dz_dtype from, dz_dtype to)
{
    bool to_int = to == DZ_I32 || to == DZ_I64 || to == DZ_U8;
    bool from_float = dz_dtype_is_float(from) || from == DZ_F16;
    return to_int && (from_float || (dz_dtype_is_integer(from) && to == DZ_U8));
}

/* The smallest or largest element of a (not empty), as a double. */
static double extreme(dz_reduce_op op, const dz_array *a)
{
    int64_t ones[DZ_MAX_NDIM] = {1, 1, 1, 1, 1, 1, 1, 1};
    dz_array *m = dz_array_reduce(op, a, ones);
    double v = NAN;
    if (m)
        dz_array_to_doubles(m, &v);
    dz_array_release(m);
    return v;
}

static bool check_convertible(const char *op, const dz_array *a, dz_dtype dtype)
{
    if (a->size == 0 || !needs_range_check(a->dtype, dtype))
        return true;
    dz_array *wide = a->dtype == DZ_F16 ? dz_array_astype(a, DZ_F32) : dz_array_retain((dz_array *)a);
    double lo = wide ? extreme(DZ_REDUCE_MIN, wide) : NAN, hi = wide ? extreme(DZ_REDUCE_MAX, wide) : NAN;
    dz_array_release(wide);
    if (value_fits(dtype, lo) && value_fits(dtype, hi))
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: the %s values run from %g to %g, which %s cannot hold (NaN, infinite or out of "
             "range); clip or replace them first", op, dz_dtype_name(a->dtype), lo, hi, dz_dtype_name(dtype));
    return false;
}

dz_array *dz_array_astype(const dz_array *a, dz_dtype dtype) { return dz_array_astype_for("dz_array_astype", a, dtype); }

dz_array *dz_array_astype_for(const char *op, const dz_array *a, dz_dtype dtype)
{
    if (!dz_check_array(op, a) || !dz_check_dtype(op, dtype) || !check_convertible(op, a, dtype))
        return NULL;
    dz_array *y = dz_array_new_for(op, a->device, dtype, a->ndim, a->shape, false);
    if (y)
        dz_backend_of(y)->astype(a, y);
    return y;
}

bool dz_resolve_reshape(const char *op, const dz_array *a, int ndim, const int64_t *shape, int64_t *resolved)
{
    if (!check_shape_args(op, ndim, shape))
        return false;
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        resolved[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] < 0) {
            dz_raise(DZ_ERR_SHAPE, "%s: cannot reshape %s to %s: dimension %lld is negative (only one -1 is "
                     "allowed, to infer that dimension)", op, DZ_SHAPE_OF(a), dz_shape_str(ndim, shape),
                     (long long)shape[i]);
            return false;
        } else if (__builtin_mul_overflow(known, shape[i], &known)) {
            known = -1; /* past any array's size: reported below */
            break;
        }
    }
    if (infer >= 0 && known > 0 && a->size % known == 0) {
        resolved[infer] = a->size / known;
        known = a->size;
    }
    if (known != a->size || (infer >= 0 && resolved[infer] < 0)) {
        dz_raise(DZ_ERR_SHAPE, "%s: cannot reshape array of size %lld %s into shape %s; the sizes must match",
                 op, (long long)a->size, DZ_SHAPE_OF(a), dz_shape_str(ndim, shape));
        return false;
    }
    return true;
}

dz_array *dz_array_reshape(const dz_array *a, int ndim, const int64_t *shape)
{
    return dz_array_reshape_for("dz_array_reshape", a, ndim, shape);
}

dz_array *dz_array_reshape_for(const char *op, const dz_array *a, int ndim, const int64_t *shape)
{
    int64_t resolved[DZ_MAX_NDIM];
    if (!dz_check_array(op, a) || !dz_resolve_reshape(op, a, ndim, shape, resolved))
        return NULL;
    dz_array *y = dz_pool_alloc(&header_pool);
    dz_live_add(DZ_LIVE_ARRAYS, 1);
    *y = *a;
    y->ndim = ndim;
    memset(y->shape, 0, sizeof y->shape);
    if (ndim)
        memcpy(y->shape, resolved, (size_t)ndim * sizeof *resolved);
    y->refcount = 1;
    y->storage->refcount++;
    return y;
}

dz_array *dz_array_to_device_for(const char *op, const dz_array *a, dz_device device)
{
    if (!dz_check_array(op, a) || !check_device(op, device))
        return NULL;
    if (a->device == device)
        return dz_array_retain((dz_array *)a);
    dz_array *y = dz_array_new_for(op, device, a->dtype, a->ndim, a->shape, false);
    if (!y)
        return NULL;
    size_t nbytes = (size_t)a->size * dz_dtype_size(a->dtype);
    if (device == DZ_CPU)
        dz_backend_of(a)->to_host(y->data, a->data, nbytes);
    else
        dz_backend_of(y)->from_host(y->data, a->data, nbytes);
    return y;
}

dz_array *dz_array_to_device(const dz_array *a, dz_device device)
{
    return dz_array_to_device_for("dz_array_to_device", a, device);
}

dz_array *dz_array_retain(dz_array *a)
{
    if (a)
        a->refcount++;
    return a;
}

void dz_array_release(dz_array *a)
{
    if (!a || --a->refcount > 0)
        return;
    storage_release(a->storage);
    dz_pool_free(&header_pool, a);
    dz_live_add(DZ_LIVE_ARRAYS, -1);
}

/* index is one of a's flat indices. */
static bool check_index(const char *op, const dz_array *a, int64_t index)
{
    if (!dz_check_array(op, a))
        return false;
    if (index < 0 || index >= a->size) {
        dz_raise(DZ_ERR_INDEX, "%s: index %lld is out of range for an array of %lld elements %s; flat indices run "
                 "from 0 to size - 1", op, (long long)index, (long long)a->size, DZ_SHAPE_OF(a));
        return false;
    }
    return true;
}

/* On the CPU the array's own buffer (an inline host view); on a GPU one
 * element copied through the backend, which synchronises. */
double dz_array_get(const dz_array *a, int64_t index)
{
    if (!check_index("dz_array_get", a, index))
        return NAN;
    if (a->device != DZ_CPU) {
        size_t es = dz_dtype_bytes(a->dtype);
        uint64_t element;
        dz_backend_of(a)->to_host(&element, (const char *)a->data + (size_t)index * es, es);
        return load_element(a->dtype, &element, 0);
    }
    dz_host_view view;
    const void *elements = dz_host_view_read(&view, a);
    double v = load_element(a->dtype, elements, index);
    dz_host_view_close(&view);
    return v;
}

void dz_array_set(dz_array *a, int64_t index, double value)
{
    if (!check_index("dz_array_set", a, index) || !check_value("dz_array_set", a->dtype, value))
        return;
    if (a->device != DZ_CPU) {
        size_t es = dz_dtype_bytes(a->dtype);
        uint64_t element;
        store_element(a->dtype, &element, 0, value);
        dz_backend_of(a)->from_host((char *)a->data + (size_t)index * es, &element, es);
        return;
    }
    dz_host_view view;
    void *elements = dz_host_view_update(&view, a);
    store_element(a->dtype, elements, index, value);
    dz_host_view_close(&view);
}

void dz_array_to_doubles(const dz_array *a, double *out)
{
    const char *op = "dz_array_to_doubles";
    if (!dz_check_not_null(op, out, "out"))
        return;
    dz_array *host = dz_array_to_device_for(op, a, DZ_CPU);
    if (!host)
        return;
    dz_array view = *host;
    view.dtype = DZ_F64;
    view.data = out;
    dz_backend_cpu()->astype(host, &view);
    dz_array_release(host);
}

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
#include "internal.h"
#include "pool.h"

struct dz_storage {
    void *data;
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
    if (zero)
        backend->zero(st->data, nbytes);
#ifdef __SANITIZE_ADDRESS__
    else if (device == DZ_CPU) /* NaN in every float: a kernel that skips an element shows in the tests */
        memset(st->data, 0xff, nbytes);
#endif
    return st;
}

static void storage_release(dz_storage *st)
{
    if (--st->refcount > 0)
        return;
    if (st->size_class >= 0) {
        dz_pool_free(&storage_pools[st->size_class], st);
    } else {
        dz_cache_free(dz_backend_for(st->device)->memory, st->data, st->nbytes);
        dz_pool_free(&backend_storage_pool, st);
    }
}

dz_memory_info dz_memory_stats(void) { return dz_cache_stats(dz_backend_cpu()->memory); }

void dz_empty_cache(void)
{
    dz_cache_empty(dz_backend_cpu()->memory);
    if (dz_backend_cuda())
        dz_cache_empty(dz_backend_cuda()->memory);
}

size_t dz_dtype_size(dz_dtype dtype)
{
    static const size_t sizes[] = {4, 8, 4, 8, 1, 1, 2};
    return sizes[dtype];
}

const char *dz_dtype_name(dz_dtype dtype)
{
    static const char *names[] = {"float32", "float64", "int32", "int64", "uint8", "bool", "float16"};
    return names[dtype];
}

bool dz_dtype_is_float(dz_dtype dtype) { return dtype == DZ_F32 || dtype == DZ_F64; }
bool dz_dtype_is_integer(dz_dtype dtype) { return dtype == DZ_I32 || dtype == DZ_I64; }

bool dz_shape_size(int ndim, const int64_t *shape, int64_t *size)
{
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
    for (int i = 0; i < ndim_a; i++) /* shapes are short: a loop beats a call to memcmp */
        if (a[i] != b[i])
            return false;
    return true;
}

bool dz_array_same_shape(const dz_array *a, const dz_array *b)
{
    return dz_shape_equal(a->ndim, a->shape, b->ndim, b->shape);
}

char *dz_shape_format(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, ndim == 1 ? ",)" : ")");
    return buf;
}

/* An array of a shape already known to be valid, with `size` elements,
 * zero-filled when `zero`; NULL when memory runs out. */
static dz_array *array_new(dz_dtype dtype, dz_device device, int ndim, const int64_t *shape, int64_t size,
                           bool zero)
{
    size_t nbytes = (size_t)size * dz_dtype_size(dtype);
    dz_storage *st = storage_new(device, nbytes, zero);
    if (!st) {
        dz_fail(DZ_ERR_NOMEM, "dz_array: cannot allocate %zu bytes for shape %s on %s", nbytes,
                dz_shape_str(ndim, shape), dz_backend_for(device)->name);
        return NULL;
    }
    dz_array *a = dz_pool_alloc(&header_pool);
    a->dtype = dtype;
    a->device = device;
    a->ndim = ndim;
    for (int i = 0; i < DZ_MAX_NDIM; i++) /* field by field: cheaper than zeroing the struct */
        a->shape[i] = i < ndim ? shape[i] : 0;
    a->size = size;
    a->data = st->data;
    a->storage = st;
    a->refcount = 1;
    return a;
}

/* array_new after checking the dtype and the shape (user errors). */
static dz_array *array_alloc(dz_dtype dtype, dz_device device, int ndim, const int64_t *shape, bool zero)
{
    int64_t size;
    if ((unsigned)dtype > DZ_F16) {
        dz_raise(DZ_ERR_DTYPE, "dz_array: unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (ndim < 0 || ndim > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "dz_array: ndim %d is out of range 0..%d", ndim, DZ_MAX_NDIM);
        return NULL;
    }
    if (ndim > 0 && !shape) {
        dz_raise(DZ_ERR_NULL, "dz_array: shape is NULL for ndim %d", ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            dz_raise(DZ_ERR_SHAPE, "dz_array: negative dimension %lld in shape %s", (long long)shape[i],
                     dz_shape_str(ndim, shape));
            return NULL;
        }
    }
    size_t es = dz_dtype_size(dtype), nbytes;
    if (!dz_shape_size(ndim, shape, &size) || __builtin_mul_overflow((size_t)size, es, &nbytes) ||
        nbytes > (size_t)INT64_MAX) {
        dz_raise(DZ_ERR_OVERFLOW, "dz_array: shape %s of %s has more elements than fit in 64-bit sizes",
                 dz_shape_str(ndim, shape), dz_dtype_name(dtype));
        return NULL;
    }
    return array_new(dtype, device, ndim, shape, size, zero);
}

dz_array *dz_array_empty(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return array_alloc(dtype, DZ_CPU, ndim, shape, true);
}

dz_array *dz_array_empty_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return array_alloc(dtype, device, ndim, shape, true);
}

dz_array *dz_array_uninit_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return array_alloc(dtype, device, ndim, shape, false);
}

dz_array *dz_array_uninit_like(const dz_array *a)
{
    return array_new(a->dtype, a->device, a->ndim, a->shape, a->size, false);
}

dz_array *dz_array_zeros(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return array_alloc(dtype, DZ_CPU, ndim, shape, true);
}

dz_array *dz_array_full(dz_dtype dtype, int ndim, const int64_t *shape, double value)
{
    dz_array *a = array_alloc(dtype, DZ_CPU, ndim, shape, false);
    if (a)
        dz_backend_of(a)->fill(a, value);
    return a;
}

dz_array *dz_array_ones(dz_dtype dtype, int ndim, const int64_t *shape)
{
    return dz_array_full(dtype, ndim, shape, 1.0);
}

dz_array *dz_array_scalar(dz_dtype dtype, double value) { return dz_array_full(dtype, 0, NULL, value); }

dz_array *dz_array_arange(dz_dtype dtype, double start, double stop, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        dz_raise(DZ_ERR_VALUE, "dz_array_arange: start %g, stop %g, step %g: step must be nonzero and all finite",
                 start, stop, step);
        return NULL;
    }
    double n = ceil((stop - start) / step);
    int64_t count = n > 0 ? (int64_t)n : 0;
    dz_array *a = dz_array_empty(dtype, 1, &count);
    for (int64_t i = 0; a && i < count; i++)
        dz_array_set(a, i, start + (double)i * step);
    return a;
}

dz_array *dz_array_from_buffer(dz_dtype dtype, int ndim, const int64_t *shape, const void *buffer)
{
    if (!buffer) {
        dz_raise(DZ_ERR_NULL, "dz_array_from_buffer: buffer is NULL");
        return NULL;
    }
    dz_array *a = dz_array_empty(dtype, ndim, shape);
    if (a)
        memcpy(a->data, buffer, (size_t)a->size * dz_dtype_size(dtype));
    return a;
}

dz_array *dz_array_zeros_like(const dz_array *a)
{
    return array_new(a->dtype, a->device, a->ndim, a->shape, a->size, true);
}

dz_array *dz_array_ones_like(const dz_array *a)
{
    dz_array *y = dz_array_uninit_like(a);
    if (y)
        dz_backend_of(y)->fill(y, 1.0);
    return y;
}

dz_array *dz_array_copy(const dz_array *a)
{
    dz_array *y = array_new(a->dtype, a->device, a->ndim, a->shape, a->size, false);
    if (y)
        dz_backend_of(y)->copy(y->data, a->data, (size_t)a->size * dz_dtype_size(a->dtype));
    return y;
}

dz_array *dz_array_astype(const dz_array *a, dz_dtype dtype)
{
    dz_array *y = array_alloc(dtype, a->device, a->ndim, a->shape, false);
    if (y)
        dz_backend_of(y)->astype(a, y);
    return y;
}

dz_array *dz_array_reshape(const dz_array *a, int ndim, const int64_t *shape)
{
    int64_t resolved[DZ_MAX_NDIM], known = 1;
    int infer = -1;
    if (ndim < 0 || ndim > DZ_MAX_NDIM || (ndim && !shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_reshape: ndim %d is out of range 0..%d", ndim, DZ_MAX_NDIM);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        resolved[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] < 0 || __builtin_mul_overflow(known, shape[i], &known)) {
            dz_raise(DZ_ERR_SHAPE, "dz_reshape: cannot reshape %s to %s (bad dimension %lld)", DZ_SHAPE_OF(a),
                     dz_shape_str(ndim, shape), (long long)shape[i]);
            return NULL;
        }
    }
    if (infer >= 0) {
        if (known == 0 || a->size % known) {
            dz_raise(DZ_ERR_SHAPE, "dz_reshape: cannot reshape array of size %lld into shape %s",
                     (long long)a->size, dz_shape_str(ndim, shape));
            return NULL;
        }
        resolved[infer] = a->size / known;
        known = a->size;
    }
    if (known != a->size) {
        dz_raise(DZ_ERR_SHAPE, "dz_reshape: cannot reshape array of size %lld %s into shape %s",
                 (long long)a->size, DZ_SHAPE_OF(a), dz_shape_str(ndim, shape));
        return NULL;
    }
    dz_array *y = dz_pool_alloc(&header_pool);
    *y = *a;
    y->ndim = ndim;
    memset(y->shape, 0, sizeof y->shape);
    if (ndim)
        memcpy(y->shape, resolved, (size_t)ndim * sizeof *resolved);
    y->refcount = 1;
    y->storage->refcount++;
    return y;
}

dz_array *dz_array_to_device(const dz_array *a, dz_device device)
{
    if (a->device == device)
        return dz_array_retain((dz_array *)a);
    if (device == DZ_CUDA && !dz_backend_cuda()) {
        dz_raise(DZ_ERR_DEVICE, "dz_array_to_device: this build of dezero-c has no CUDA backend "
                                "(configure with -Dcuda=enabled where nvcc is installed)");
        return NULL;
    }
    dz_array *y = array_alloc(a->dtype, device, a->ndim, a->shape, false);
    if (!y)
        return NULL;
    size_t nbytes = (size_t)a->size * dz_dtype_size(a->dtype);
    if (device == DZ_CPU)
        dz_backend_of(a)->to_host(y->data, a->data, nbytes);
    else
        dz_backend_of(y)->from_host(y->data, a->data, nbytes);
    return y;
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
}

static void check_host_index(const dz_array *a, int64_t index, const char *op)
{
    if (a->device != DZ_CPU) {
        dz_raise(DZ_ERR_DEVICE, "%s: the array is on the GPU; copy it to the CPU first", op);
        return;
    }
    DZ_ASSERT(index >= 0 && index < a->size);
}

double dz_array_get(const dz_array *a, int64_t index)
{
    check_host_index(a, index, "dz_array_get");
    switch (a->dtype) {
    case DZ_F32: return ((const float *)a->data)[index];
    case DZ_F64: return ((const double *)a->data)[index];
    case DZ_I32: return ((const int32_t *)a->data)[index];
    case DZ_I64: return (double)((const int64_t *)a->data)[index];
    case DZ_U8: case DZ_BOOL: return ((const uint8_t *)a->data)[index];
    case DZ_F16: {
        dz_array one = *a, out = *a;
        double v;
        one.size = 1;
        one.data = (uint16_t *)a->data + index;
        out.dtype = DZ_F64;
        out.size = 1;
        out.data = &v;
        dz_backend_cpu()->astype(&one, &out);
        return v;
    }
    }
    return 0;
}

void dz_array_set(dz_array *a, int64_t index, double value)
{
    check_host_index(a, index, "dz_array_set");
    dz_array one = *a, in = *a;
    one.size = 1;
    one.data = (char *)a->data + (size_t)index * dz_dtype_size(a->dtype);
    in.dtype = DZ_F64;
    in.size = 1;
    in.data = &value;
    dz_backend_cpu()->astype(&in, &one);
}

void dz_array_to_doubles(const dz_array *a, double *out)
{
    dz_array *host = dz_array_to_device(a, DZ_CPU);
    if (!host)
        return;
    dz_array view = *host;
    view.dtype = DZ_F64;
    view.data = out;
    dz_backend_cpu()->astype(host, &view);
    dz_array_release(host);
}

/* What the CUDA kernels share: element maps for broadcasting and strides,
 * for_each over a range of indices, and the guard that turns a Thrust
 * exception into a recorded error. Included by every cuda_*.cu. */
#ifndef DEZERO_CUDA_COMMON_H
#define DEZERO_CUDA_COMMON_H

#include <exception>

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "cuda_platform.h"

/* Host and device code (the emulated build has only the host). */
#ifdef __CUDACC__
#define DZ_HD __host__ __device__
#else
#define DZ_HD
#endif

namespace dzc {

/* Maps element i of an output of `shape` (C order) to a source element:
 * offset + sum_d c[d] * stride[d]. Broadcast dims have stride 0. */
struct element_map {
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    int64_t stride[DZ_MAX_NDIM];
    int64_t offset;
    bool identity; /* source element i: contiguous, same shape */

    DZ_HD int64_t operator()(int64_t i) const
    {
        if (identity)
            return i;
        int64_t src = offset;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t c = i % shape[d];
            i /= shape[d];
            src += c * stride[d];
        }
        return src;
    }
};

/* x seen through an output of (ndim, shape), NumPy broadcasting:
 * right-aligned, stride 0 on broadcast dims. */
element_map broadcast_map(const dz_array *x, int ndim, const int64_t *shape);
/* The map of a contiguous array onto itself. */
element_map identity_map(const dz_array *y);
/* C-order strides of a shape. */
void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* f(i) for i in [0, n), on the device. */
template <typename F> void for_each_index(int64_t n, const F &f)
{
    if (n > 0)
        thrust::for_each(policy(), thrust::counting_iterator<int64_t>(0), thrust::counting_iterator<int64_t>(n), f);
}

/* Runs body, recording a Thrust failure (a launch error, no memory for its
 * temporaries) as the error of op: no exception reaches the C library. */
template <typename F> void guarded(const char *op, const F &body)
{
    try {
        body();
    } catch (const std::bad_alloc &) {
        record_error(op, "temporary storage", "out of memory");
    } catch (const std::exception &e) {
        record_error(op, "Thrust", e.what());
    }
}

/* Device scratch from the caching allocator, given back when it goes out of
 * scope (the kernels that use it are queued on the stream before any later
 * use of the block). */
struct scratch {
    void *data;
    size_t nbytes;
    explicit scratch(size_t n) : data(host.cache_alloc(&memory, n)), nbytes(n)
    {
        if (!data)
            throw std::bad_alloc();
    }
    ~scratch() { host.cache_free(&memory, data, nbytes); }
    scratch(const scratch &) = delete;
    scratch &operator=(const scratch &) = delete;
};

/* A whole number p in (-2^64, 2^64) modulo 2^64, as the CPU wraps the
 * scalar of an integer fill or op to the dtype's width; 0 for anything else. */
inline uint64_t wrap_scalar(double p)
{
    if (!(p > -0x1p64 && p < 0x1p64))
        return 0;
    return p >= 0 ? (uint64_t)p : -(uint64_t)-p;
}

/* A contiguous (rows, cols) array over `data` on `device`, for handing
 * scratch memory or a piece of an array to another kernel. It owns nothing:
 * no storage, no reference. */
inline dz_array matrix_view(dz_dtype dtype, dz_device device, const void *data, int64_t rows, int64_t cols)
{
    dz_array v = {};
    v.dtype = dtype;
    v.device = device;
    v.ndim = 2;
    v.shape[0] = rows;
    v.shape[1] = cols;
    v.size = rows * cols;
    v.data = (void *)data;
    return v;
}

/* Integer index element i of an int32/int64 array on the device. */
struct index_reader {
    const void *data;
    bool wide; /* int64 */
    DZ_HD int64_t operator()(int64_t i) const
    {
        return wide ? ((const int64_t *)data)[i] : (int64_t)((const int32_t *)data)[i];
    }
};
inline index_reader indices_of(const dz_array *a) { return index_reader{a->data, a->dtype == DZ_I64}; }

/* An unsigned integer type of B bytes: copies of any dtype move as these. */
template <size_t B> struct bits_of;
template <> struct bits_of<1> { typedef uint8_t type; };
template <> struct bits_of<2> { typedef uint16_t type; };
template <> struct bits_of<4> { typedef uint32_t type; };
template <> struct bits_of<8> { typedef uint64_t type; };

} // namespace dzc

/* The backend's primitives (cuda_module.cu builds the table from them). */
namespace dzc {
void fill(dz_array *y, double value);
void astype(const dz_array *x, dz_array *y);
void unary(dz_unary_op op, const dz_array *x, double p, dz_array *y);
void binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y);
void reduce(dz_reduce_op op, const dz_array *x, dz_array *y);
void matmul(const dz_array *a, bool trans_a, const dz_array *b, bool trans_b, dz_array *c, bool accumulate);
void transpose(const dz_array *x, const int *axes, dz_array *y);
void gather(const dz_array *x, const dz_gather_spec *spec, dz_array *y);
void scatter(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
void scatter_add(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
void gather_rows(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y);
void index_add_rows(dz_array *table, const dz_array *rows, const dz_array *x, double alpha, int64_t skip,
                    bool scale_by_count);
void index_range(const dz_array *idx, int64_t *min, int64_t *max);

/* The fused kernels of each family fill their slots of the table. */
void fill_nn_kernels(dz_backend_fused *f);
void fill_conv_kernels(dz_backend_fused *f);
void fill_optim_kernels(dz_backend_fused *f);
void fill_embedding_kernels(dz_backend_fused *f);
} // namespace dzc

#endif

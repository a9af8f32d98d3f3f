/* Element maps, fill, dtype conversion and matmul on the CUDA device. */
#define DZ_HALF_FN static inline DZ_HD

#include "cuda_common.h"

extern "C" {
#include "../../base/half.h"
#include "../batched_matmul.h"
}

namespace dzc {

void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

element_map broadcast_map(const dz_array *x, int ndim, const int64_t *shape)
{
    element_map m = {};
    m.ndim = ndim;
    m.identity = x->size == 1 ? false : x->ndim == ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - (ndim - x->ndim);
        m.shape[i] = shape[i];
        bool broadcast = j < 0 || (x->shape[j] == 1 && shape[i] != 1);
        m.stride[i] = broadcast ? 0 : s;
        m.identity = m.identity && !broadcast && x->shape[j] == shape[i];
        if (j >= 0)
            s *= x->shape[j];
    }
    return m;
}

element_map identity_map(const dz_array *y)
{
    element_map m = {};
    m.ndim = y->ndim;
    for (int i = 0; i < y->ndim; i++)
        m.shape[i] = y->shape[i];
    contiguous_strides(y->ndim, y->shape, m.stride);
    m.identity = true;
    return m;
}

/* ---- fill ------------------------------------------------------------------ */

template <typename T> struct fill_fn {
    T *y;
    T value;
    DZ_HD void operator()(int64_t i) const { y[i] = value; }
};

template <typename T> static void fill_as(dz_array *y, T value)
{
    for_each_index(y->size, fill_fn<T>{(T *)y->data, value});
}

void fill(dz_array *y, double value)
{
    guarded("cuda_fill", [&] {
        switch (y->dtype) {
        case DZ_F32: fill_as<float>(y, (float)value); break;
        case DZ_F64: fill_as<double>(y, value); break;
        case DZ_I32: fill_as<int32_t>(y, (int32_t)wrap_scalar(value)); break;
        case DZ_I64: fill_as<int64_t>(y, (int64_t)wrap_scalar(value)); break;
        case DZ_U8: fill_as<uint8_t>(y, (uint8_t)wrap_scalar(value)); break;
        case DZ_BOOL: fill_as<uint8_t>(y, value != 0); break;
        case DZ_F16: fill_as<uint16_t>(y, dz_float_to_half((float)value)); break;
        }
    });
}

/* ---- astype: through double, as the CPU converts ---------------------------- */

struct astype_fn {
    const void *x;
    void *y;
    dz_dtype from, to;

    DZ_HD double load(int64_t i) const
    {
        switch (from) {
        case DZ_F32: return ((const float *)x)[i];
        case DZ_F64: return ((const double *)x)[i];
        case DZ_I32: return ((const int32_t *)x)[i];
        case DZ_I64: return (double)((const int64_t *)x)[i];
        case DZ_U8: return ((const uint8_t *)x)[i];
        case DZ_BOOL: return ((const uint8_t *)x)[i] != 0;
        case DZ_F16: return dz_half_to_float(((const uint16_t *)x)[i]);
        }
        return 0;
    }

    DZ_HD void operator()(int64_t i) const
    {
        if (from == DZ_I64 && to == DZ_I32) { /* integers convert exactly (wrapping), not through double */
            ((int32_t *)y)[i] = (int32_t)((const int64_t *)x)[i];
            return;
        }
        if (from == DZ_I32 && to == DZ_I64) {
            ((int64_t *)y)[i] = ((const int32_t *)x)[i];
            return;
        }
        double v = load(i);
        switch (to) {
        case DZ_F32: ((float *)y)[i] = (float)v; break;
        case DZ_F64: ((double *)y)[i] = v; break;
        case DZ_I32: ((int32_t *)y)[i] = (int32_t)v; break;
        case DZ_I64: ((int64_t *)y)[i] = (int64_t)v; break;
        case DZ_U8: ((uint8_t *)y)[i] = (uint8_t)v; break;
        case DZ_BOOL: ((uint8_t *)y)[i] = v != 0; break;
        case DZ_F16: ((uint16_t *)y)[i] = dz_float_to_half((float)v); break;
        }
    }
};

void astype(const dz_array *x, dz_array *y)
{
    if (x->dtype == y->dtype) {
        copy(y->data, x->data, (size_t)x->size * dz_dtype_bytes(x->dtype));
        return;
    }
    guarded("cuda_astype", [&] { for_each_index(x->size, astype_fn{x->data, y->data, x->dtype, y->dtype}); });
}

/* ---- matmul: the shared batching over the platform's gemm -------------------- */

void matmul(const dz_array *a, bool trans_a, const dz_array *b, bool trans_b, dz_array *c, bool accumulate)
{
    dz_batched_matmul(gemm, zero, a, trans_a, b, trans_b, c, accumulate);
}

} // namespace dzc

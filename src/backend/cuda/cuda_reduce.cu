/* Reductions on the CUDA device: sum, max and min over the axes where y has
 * size 1. Deterministic without atomics: an output's R elements are dealt to
 * K = ceil(R / CHUNK) partials, partial k taking elements k, k + K, k + 2K...
 * in that order (neighbouring threads read neighbouring elements), and the
 * partials are reduced the same way until one value per output is left. The
 * same bits on every run; a different order from the CPU's, so sums agree
 * within float rounding. */
#include <cmath>

#include "cuda_common.h"

namespace dzc {

static const int64_t CHUNK = 256;

/* Partial t = (output o, k) of `outputs` outputs, each with R elements at
 * x[outer(o) + inner(r)]: the elements r = k, k + K, ... below R. */
template <typename T> struct reduce_fn {
    dz_reduce_op op;
    const T *x;
    element_map outer, inner;
    int64_t R, K;
    T *y;

    DZ_HD T combine(T acc, T v) const
    {
        switch (op) {
        case DZ_REDUCE_SUM: return acc + v;
        case DZ_REDUCE_MAX: return (v > acc || v != v) ? v : acc; /* NaN wins */
        case DZ_REDUCE_MIN: return (v < acc || v != v) ? v : acc;
        }
        return acc;
    }
    DZ_HD void operator()(int64_t t) const
    {
        int64_t o = t / K, k = t % K, base = outer(o);
        T acc = x[base + inner(k)];
        for (int64_t r = k + K; r < R; r += K)
            acc = combine(acc, x[base + inner(r)]);
        y[t] = acc;
    }
};

/* The map of r over the last axis of a contiguous (outputs, K) array. */
static element_map rows_of(int64_t outputs, int64_t K, bool outer)
{
    element_map m = {};
    m.ndim = 1;
    m.shape[0] = outer ? outputs : K;
    m.stride[0] = outer ? K : 1;
    return m;
}

/* y[o] = the reduction of its R elements, through partials while R > CHUNK. */
template <typename T>
static void reduce_levels(dz_reduce_op op, const T *x, element_map outer, element_map inner, int64_t outputs,
                          int64_t R, T *y)
{
    if (R <= CHUNK) {
        for_each_index(outputs, reduce_fn<T>{op, x, outer, inner, R, 1, y});
        return;
    }
    int64_t K = (R + CHUNK - 1) / CHUNK;
    scratch partial((size_t)(outputs * K) * sizeof(T)); // (outputs, K)
    T *p = (T *)partial.data;
    for_each_index(outputs * K, reduce_fn<T>{op, x, outer, inner, R, K, p});
    reduce_levels(op, (const T *)p, rows_of(outputs, K, true), rows_of(outputs, K, false), outputs, K, y);
}

template <typename T> static void reduce_as(dz_reduce_op op, const dz_array *x, dz_array *y)
{
    int64_t xstride[DZ_MAX_NDIM];
    contiguous_strides(x->ndim, x->shape, xstride);
    element_map outer = {}, inner = {};
    outer.ndim = y->ndim;
    int64_t R = 1;
    for (int d = 0; d < x->ndim; d++) {
        outer.shape[d] = y->shape[d];
        bool reduced = y->shape[d] == 1 && x->shape[d] != 1;
        outer.stride[d] = reduced ? 0 : xstride[d];
        if (reduced) {
            inner.shape[inner.ndim] = x->shape[d];
            inner.stride[inner.ndim++] = xstride[d];
            R *= x->shape[d];
        }
    }
    if (R == 0) { /* nothing to reduce: the identity of the op, as on the CPU */
        fill(y, op == DZ_REDUCE_SUM ? 0.0 : op == DZ_REDUCE_MAX ? -INFINITY : INFINITY);
        return;
    }
    reduce_levels(op, (const T *)x->data, outer, inner, y->size, R, (T *)y->data);
}

void reduce(dz_reduce_op op, const dz_array *x, dz_array *y)
{
    if (y->size == 0)
        return;
    guarded("cuda_reduce", [&] {
        switch (x->dtype) {
        case DZ_F32: reduce_as<float>(op, x, y); break;
        case DZ_F64: reduce_as<double>(op, x, y); break;
        case DZ_I32: reduce_as<int32_t>(op, x, y); break;
        case DZ_I64: reduce_as<int64_t>(op, x, y); break;
        default: break;
        }
    });
}

} // namespace dzc

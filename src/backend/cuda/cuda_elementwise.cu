/* Elementwise kernels on the CUDA device: unary (with the scalar forms and
 * the broadcast copy) and binary with NumPy broadcasting. One functor per
 * dtype; each output element reads its operands through element maps.
 * float32 exp, log, sin, cos and tanh are the CPU's own branch-free bodies
 * (cpu_vecmath.h), so both devices give the same bits; float64 calls the
 * math library of the device. Integer arithmetic wraps through the unsigned
 * type, integer division by 0 gives 0 and INT_MIN / -1 wraps, as on the CPU
 * (cpu_elementwise.c). */
#include <cmath>

#include "cuda_common.h"

#define DZ_VM_FN static inline DZ_HD
extern "C" {
#include "../cpu/cpu_vecmath.h"
}

namespace dzc {

/* ---- the math of one dtype ------------------------------------------------- */

/* float32 sin and cos beyond DZ_VTRIG_LIMIT come from the math library, as on the CPU. */
struct f32_math {
    typedef float T;
    typedef float U;
    static DZ_HD T exp(T x) { return dz_vexpf(x); }
    static DZ_HD T log(T x) { return dz_vlogf(x); }
    static DZ_HD T sin(T x) { return dz_vtrig_far(x) ? ::sinf(x) : dz_vsinf(x); }
    static DZ_HD T cos(T x) { return dz_vtrig_far(x) ? ::cosf(x) : dz_vcosf(x); }
    static DZ_HD T tanh(T x) { return dz_vtanhf(x); }
    static DZ_HD T sqrt(T x) { return ::sqrtf(x); }
    static DZ_HD T pow(T x, T p) { return ::powf(x, p); }
    static DZ_HD T log1p(T x) { return ::log1pf(x); }
    static DZ_HD T expm1(T x) { return ::expm1f(x); }
    static DZ_HD T div(T a, T b) { return a / b; }
    static DZ_HD T one_minus_square(T x) { return ::fmaf(-x, x, 1.0f); }
};

struct f64_math {
    typedef double T;
    typedef double U;
    static DZ_HD T exp(T x) { return ::exp(x); }
    static DZ_HD T log(T x) { return ::log(x); }
    static DZ_HD T sin(T x) { return ::sin(x); }
    static DZ_HD T cos(T x) { return ::cos(x); }
    static DZ_HD T tanh(T x) { return ::tanh(x); }
    static DZ_HD T sqrt(T x) { return ::sqrt(x); }
    static DZ_HD T pow(T x, T p) { return ::pow(x, p); }
    static DZ_HD T log1p(T x) { return ::log1p(x); }
    static DZ_HD T expm1(T x) { return ::expm1(x); }
    static DZ_HD T div(T a, T b) { return a / b; }
    static DZ_HD T one_minus_square(T x) { return ::fma(-x, x, 1.0); }
};

/* Integers: the transcendental functions in double, converted back. */
template <typename I, typename W> struct int_math {
    typedef I T;
    typedef W U;
    static DZ_HD T exp(T x) { return (T)::exp((double)x); }
    static DZ_HD T log(T x) { return (T)::log((double)x); }
    static DZ_HD T sin(T x) { return (T)::sin((double)x); }
    static DZ_HD T cos(T x) { return (T)::cos((double)x); }
    static DZ_HD T tanh(T x) { return (T)::tanh((double)x); }
    static DZ_HD T sqrt(T x) { return (T)::sqrt((double)x); }
    /* p >= 0 (the functions refuse negative integer powers): repeated
     * squaring, wrapping as on the CPU */
    static DZ_HD T pow(T x, T p)
    {
        U r = 1, v = (U)x;
        for (; p > 0; p >>= 1, v *= v)
            if (p & 1)
                r *= v;
        return (T)r;
    }
    static DZ_HD T log1p(T x) { return (T)::log1p((double)x); }
    static DZ_HD T expm1(T x) { return (T)::expm1((double)x); }
    static DZ_HD T div(T a, T b) { return b == 0 ? 0 : b == -1 ? (T)-(U)a : a / b; }
    static DZ_HD T one_minus_square(T x) { return (T)((U)1 - (U)x * (U)x); }
};

/* ---- unary ------------------------------------------------------------------ */

template <typename M> struct unary_fn {
    typedef typename M::T T;
    typedef typename M::U U;
    dz_unary_op op;
    T p;
    const T *x;
    element_map xmap;
    T *y;

    DZ_HD T apply(T v) const
    {
        switch (op) {
        case DZ_UNARY_COPY: return v;
        case DZ_UNARY_NEG: return (T)-(U)v;
        case DZ_UNARY_EXP: return M::exp(v);
        case DZ_UNARY_LOG: return M::log(v);
        case DZ_UNARY_SIN: return M::sin(v);
        case DZ_UNARY_COS: return M::cos(v);
        case DZ_UNARY_TANH: return M::tanh(v);
        case DZ_UNARY_SQRT: return M::sqrt(v);
        case DZ_UNARY_SQUARE: return (T)((U)v * (U)v);
        case DZ_UNARY_POW: return M::pow(v, p);
        case DZ_UNARY_ADD_SCALAR: return (T)((U)v + (U)p);
        case DZ_UNARY_MUL_SCALAR: return (T)((U)v * (U)p);
        case DZ_UNARY_DIV_SCALAR: return M::div(v, p);
        case DZ_UNARY_RSUB_SCALAR: return (T)((U)p - (U)v);
        case DZ_UNARY_RDIV_SCALAR: return M::div(p, v);
        case DZ_UNARY_SIGMOID: return M::tanh(v * (T)0.5) * (T)0.5 + (T)0.5;
        case DZ_UNARY_RELU: return v > 0 ? v : (T)0;
        case DZ_UNARY_STEP: return v > 0 ? (T)1 : (T)0;
        case DZ_UNARY_LEAKY_MASK: return v > 0 ? (T)1 : p;
        case DZ_UNARY_ABS: return v < 0 ? (T)-(U)v : v;
        case DZ_UNARY_SIGN: return (T)((v > 0) - (v < 0));
        case DZ_UNARY_ERF: return (T)::erf((double)v);
        case DZ_UNARY_LOG1P: return M::log1p(v);
        case DZ_UNARY_EXPM1: return M::expm1(v);
        case DZ_UNARY_ONE_MINUS_SQUARE: return M::one_minus_square(v);
        }
        return v;
    }
    DZ_HD void operator()(int64_t i) const { y[i] = apply(x[xmap(i)]); }
};

template <typename M> static void unary_as(dz_unary_op op, const dz_array *x, typename M::T p, dz_array *y)
{
    typedef typename M::T T;
    unary_fn<M> f = {op, p, (const T *)x->data, broadcast_map(x, y->ndim, y->shape), (T *)y->data};
    for_each_index(y->size, f);
}

void unary(dz_unary_op op, const dz_array *x, double p, dz_array *y)
{
    guarded("cuda_unary", [&] {
        switch (y->dtype) {
        case DZ_F32: unary_as<f32_math>(op, x, (float)p, y); break;
        case DZ_F64: unary_as<f64_math>(op, x, p, y); break;
        case DZ_I32: unary_as<int_math<int32_t, uint32_t>>(op, x, (int32_t)wrap_scalar(p), y); break;
        case DZ_I64: unary_as<int_math<int64_t, uint64_t>>(op, x, (int64_t)wrap_scalar(p), y); break;
        default: break;
        }
    });
}

/* ---- binary ----------------------------------------------------------------- */

template <typename M> struct binary_fn {
    typedef typename M::T T;
    typedef typename M::U U;
    dz_binary_op op;
    const T *a, *b;
    element_map amap, bmap;
    T *y;

    DZ_HD T apply(T u, T v) const
    {
        switch (op) {
        case DZ_BINARY_ADD: return (T)((U)u + (U)v);
        case DZ_BINARY_SUB: return (T)((U)u - (U)v);
        case DZ_BINARY_MUL: return (T)((U)u * (U)v);
        case DZ_BINARY_DIV: return M::div(u, v);
        case DZ_BINARY_MAXIMUM: return u > v ? u : v;
        case DZ_BINARY_MINIMUM: return u < v ? u : v;
        case DZ_BINARY_EQUAL: return (T)(u == v);
        case DZ_BINARY_NOT_EQUAL: return (T)(u != v);
        case DZ_BINARY_GREATER: return (T)(u > v);
        case DZ_BINARY_GREATER_EQUAL: return (T)(u >= v);
        case DZ_BINARY_LESS: return (T)(u < v);
        case DZ_BINARY_LESS_EQUAL: return (T)(u <= v);
        case DZ_BINARY_TANH_GRAD: return (T)((U)u * (U)M::one_minus_square(v));
        case DZ_BINARY_SQUARE_GRAD: return (T)((U)u * ((U)v * (U)2));
        case DZ_BINARY_SIN_GRAD: return u * M::cos(v);
        case DZ_BINARY_COS_GRAD: return u * -M::sin(v);
        }
        return u;
    }
    DZ_HD void operator()(int64_t i) const { y[i] = apply(a[amap(i)], b[bmap(i)]); }
};

template <typename M> static void binary_as(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y)
{
    typedef typename M::T T;
    binary_fn<M> f = {op, (const T *)a->data, (const T *)b->data, broadcast_map(a, y->ndim, y->shape),
                      broadcast_map(b, y->ndim, y->shape), (T *)y->data};
    for_each_index(y->size, f);
}

void binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y)
{
    guarded("cuda_binary", [&] {
        switch (y->dtype) {
        case DZ_F32: binary_as<f32_math>(op, a, b, y); break;
        case DZ_F64: binary_as<f64_math>(op, a, b, y); break;
        case DZ_I32: binary_as<int_math<int32_t, uint32_t>>(op, a, b, y); break;
        case DZ_I64: binary_as<int_math<int64_t, uint64_t>>(op, a, b, y); break;
        default: break;
        }
    });
}

} // namespace dzc

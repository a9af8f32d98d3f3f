/* CPU elementwise kernels with NumPy broadcasting (fill, unary, binary) and
 * transpose. Every kernel walks the output in C order one row (last axis) at a
 * time; each input has a stride per output axis, 0 where it is broadcast, so
 * along a row an input is either contiguous or one repeated value. The loops
 * over a row vectorize; rows (or, for same-shape operands, ranges of elements)
 * run on several threads above DZ_GRAIN elements. Integer arithmetic (add,
 * sub, mul, neg, square, abs, pow and the scalar forms) wraps around through
 * unsigned arithmetic, as NumPy's does; integer division by 0 gives 0 and
 * INT_MIN / -1 wraps to INT_MIN. Reductions are in cpu_reduce.c. */
#include <math.h>
#include <string.h>

#include "../../base/half.h"
#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"
#include "cpu_vecmath.h"

/* Strides (in elements) of x seen through an output of shape (ndim, shape):
 * right-aligned, 0 on broadcast axes. The products wrap around: they can only
 * overflow for an empty array, where no stride is used. */
static void broadcast_strides(const dz_array *x, int ndim, const int64_t *shape, int64_t *strides)
{
    uint64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - (ndim - x->ndim);
        if (j < 0 || (x->shape[j] == 1 && shape[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = (int64_t)s;
        }
        if (j >= 0)
            s *= (uint64_t)x->shape[j];
    }
}

static void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    uint64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = (int64_t)s;
        s *= (uint64_t)shape[i];
    }
}

/* A whole number p in (-2^64, 2^64) modulo 2^64, which integer kernels wrap
 * to their width (the functions admit only values their dtype holds, or their
 * negation); 0 for anything else. Converting such a double to an integer
 * type directly would be undefined. */
static inline uint64_t wrap_scalar(double p)
{
    if (!(p > -0x1p64 && p < 0x1p64))
        return 0;
    return p >= 0 ? (uint64_t)p : -(uint64_t)-p;
}
#define FLOAT_SCALAR(T, p) ((T)(p))
#define INT_SCALAR(T, p) ((T)wrap_scalar(p))

/* ---- walking rows ------------------------------------------------------------ */

/* One row of n elements: offsets[k] is where operand k's row starts,
 * inner_strides[k] its stride along the row. */
typedef void (*row_fn)(void *ctx, const int64_t *offsets, int64_t n, const int64_t *inner_strides);

/* The rows of an output of `shape`, with `nops` operands of strides[k]. */
typedef struct {
    int ndim, nops;
    const int64_t *shape;
    int64_t (*strides)[DZ_MAX_NDIM];
    row_fn fn;
    void *ctx;
} row_walk;

/* Rows [begin, end) of a walk: an odometer over the outer axes, started at
 * row `begin`. */
static void walk_rows(void *vwalk, int64_t begin, int64_t end)
{
    const row_walk *w = vwalk;
    int last = w->ndim - 1;
    int64_t inner[3], offsets[3] = {0, 0, 0}, index[DZ_MAX_NDIM] = {0};
    for (int k = 0; k < w->nops; k++)
        inner[k] = w->strides[k][last];
    int64_t at = begin;
    for (int i = last - 1; i >= 0; i--) {
        index[i] = at % w->shape[i];
        at /= w->shape[i];
        for (int k = 0; k < w->nops; k++)
            offsets[k] += w->strides[k][i] * index[i];
    }
    for (int64_t row = begin; row < end; row++) {
        w->fn(w->ctx, offsets, w->shape[last], inner);
        for (int i = last - 1; i >= 0; i--) {
            index[i]++;
            for (int k = 0; k < w->nops; k++)
                offsets[k] += w->strides[k][i];
            if (index[i] < w->shape[i])
                break;
            for (int k = 0; k < w->nops; k++)
                offsets[k] -= w->strides[k][i] * index[i];
            index[i] = 0;
        }
    }
}

static void for_each_row(int ndim, const int64_t *shape, int nops, int64_t strides[][DZ_MAX_NDIM],
                         row_fn fn, void *ctx)
{
    if (ndim == 0) {
        int64_t zero[3] = {0, 0, 0};
        fn(ctx, zero, 1, zero);
        return;
    }
    int64_t rows = 1;
    for (int i = 0; i < ndim - 1; i++)
        rows *= shape[i];
    row_walk w = {ndim, nops, shape, strides, fn, ctx};
    if (shape[ndim - 1] > 0)
        dz_parallel_for(rows, shape[ndim - 1], walk_rows, &w);
}

/* Operands of the same size as the output (or of one element, stride 0):
 * the whole output is one row, cut into ranges, which go to the row function
 * in blocks of FLAT_BLOCK elements (32 KiB of float), small enough for a
 * second look at an operand to find it in cache (as float32 sin and cos do,
 * see patch_far_trig). */
#define FLAT_BLOCK 8192

typedef struct {
    row_fn fn;
    void *ctx;
    int nops;
    const int64_t *strides; /* per operand, 0 or 1 */
} flat_walk;

static void walk_flat(void *vwalk, int64_t begin, int64_t end)
{
    const flat_walk *w = vwalk;
    for (int64_t start = begin; start < end; start += FLAT_BLOCK) {
        int64_t offsets[3];
        for (int k = 0; k < w->nops; k++)
            offsets[k] = start * w->strides[k];
        w->fn(w->ctx, offsets, end - start < FLAT_BLOCK ? end - start : FLAT_BLOCK, w->strides);
    }
}

static void for_each_flat(int64_t size, int nops, const int64_t *strides, row_fn fn, void *ctx)
{
    flat_walk w = {fn, ctx, nops, strides};
    dz_parallel_for(size, 1, walk_flat, &w);
}

/* ---- fill ---------------------------------------------------------------- */

typedef struct {
    dz_array *y;
    double value;
} fill_ctx;

#define FILL(T, V)                                                                                 \
    {                                                                                              \
        T *y = (T *)c->y->data, v = (V);                                                           \
        for (int64_t i = begin; i < end; i++)                                                      \
            y[i] = v;                                                                              \
    }

DZ_FMA_CLONES
static void fill_range(void *vctx, int64_t begin, int64_t end)
{
    const fill_ctx *c = vctx;
    switch (c->y->dtype) {
    case DZ_F32: FILL(float, (float)c->value) break;
    case DZ_F64: FILL(double, c->value) break;
    case DZ_I32: FILL(int32_t, INT_SCALAR(int32_t, c->value)) break;
    case DZ_I64: FILL(int64_t, INT_SCALAR(int64_t, c->value)) break;
    case DZ_U8: FILL(uint8_t, INT_SCALAR(uint8_t, c->value)) break;
    case DZ_BOOL: FILL(uint8_t, c->value != 0) break;
    case DZ_F16: FILL(uint16_t, dz_float_to_half((float)c->value)) break;
    }
}

void dz_cpu_fill(dz_array *y, double value)
{
    fill_ctx c = {y, value};
    dz_parallel_for(y->size, 1, fill_range, &c);
}

/* ---- unary --------------------------------------------------------------- */

typedef struct {
    dz_unary_op op;
    double p;
    const void *x;
    void *y;
} unary_ctx;

/* y[i] = E for i < n, with X the input element; wrap_t is the unsigned type
 * that integer arithmetic wraps through (the element type itself for floats),
 * DIV the division of the dtype. */
#define LOOP(E)                                                                                    \
    for (int64_t i = 0; i < n; i++)                                                                \
        y[i] = (elem_t)(E);
#define X x[i]
#define W(v) ((wrap_t)(v))
#define FDIV(u, v) ((u) / (v))
/* 1 - v^2: rounded once for floats (fma, as PyTorch's AVX2 kernels contract
 * it), wrapping for integers. */
#define OMS_F32(v) fmaf(-(v), (v), 1.0f)
#define OMS_F64(v) fma(-(v), (v), 1.0)
#define OMS_INT(v) ((wrap_t)1 - W(v) * W(v))
#define IDIV(u, v) ((v) == 0 ? 0 : (v) == -1 ? (elem_t)-W(u) : (u) / (v))

/* float32 sin and cos past DZ_VTRIG_LIMIT (NaN from dz_vsinf / dz_vcosf),
 * redone with libm element by element: y[i] = g[i] * f(x[i]), where f is
 * sinf, cosf or minus sinf and g is NULL (y = f(x)) or a gradient; x and g
 * have strides 0 or 1. */
static float minus_sinf(float v) { return -sinf(v); }

DZ_FMA_CLONES static void patch_far_trig(float (*f)(float), const float *g, int64_t sg, const float *x,
                                         int64_t sx, float *y, int64_t n)
{
    uint32_t far = 0;
    for (int64_t i = 0; i < (sx ? n : 1); i++)
        far |= dz_vtrig_far(x[i]);
    for (int64_t i = 0; far && i < n; i++)
        if (dz_vtrig_far(x[i * sx]))
            y[i] = g ? g[i * sg] * f(x[i * sx]) : f(x[i * sx]);
}
#define PATCH_UNARY_F32(op, x, y, n)                                                               \
    if (op == DZ_UNARY_SIN || op == DZ_UNARY_COS)                                                  \
        patch_far_trig(op == DZ_UNARY_SIN ? sinf : cosf, NULL, 0, x, 1, y, n);
#define PATCH_BINARY_F32(op, a, sa, b, sb, y, n)                                                   \
    if (op == DZ_BINARY_SIN_GRAD || op == DZ_BINARY_COS_GRAD)                                      \
        patch_far_trig(op == DZ_BINARY_SIN_GRAD ? cosf : minus_sinf, a, sa, b, sb, y, n);
#define PATCH_NONE(...)

#define UNARY_SPAN(T, U, NAME, EXP, LOG, SIN, COS, TANH, SQRT, POW, LOG1P, EXPM1, DIV, OMS, PATCH)               \
    DZ_FMA_CLONES static void NAME(dz_unary_op op, T p, const T *x, T *y, int64_t n)               \
    {                                                                                              \
        typedef T elem_t;                                                                          \
        typedef U wrap_t;                                                                          \
        switch (op) {                                                                              \
        case DZ_UNARY_COPY: LOOP(X) break;                                                         \
        case DZ_UNARY_NEG: LOOP(-W(X)) break;                                                      \
        case DZ_UNARY_EXP: LOOP(EXP(X)) break;                                                     \
        case DZ_UNARY_LOG: LOOP(LOG(X)) break;                                                     \
        case DZ_UNARY_SIN: LOOP(SIN(X)) break;                                                     \
        case DZ_UNARY_COS: LOOP(COS(X)) break;                                                     \
        case DZ_UNARY_TANH: LOOP(TANH(X)) break;                                                   \
        case DZ_UNARY_SQRT: LOOP(SQRT(X)) break;                                                   \
        case DZ_UNARY_SQUARE: LOOP(W(X) * W(X)) break;                                             \
        case DZ_UNARY_POW: LOOP(POW(X, p)) break;                                                  \
        case DZ_UNARY_ADD_SCALAR: LOOP(W(X) + W(p)) break;                                         \
        case DZ_UNARY_MUL_SCALAR: LOOP(W(X) * W(p)) break;                                         \
        case DZ_UNARY_DIV_SCALAR: LOOP(DIV(X, p)) break;                                           \
        case DZ_UNARY_RSUB_SCALAR: LOOP(W(p) - W(X)) break;                                        \
        case DZ_UNARY_RDIV_SCALAR: LOOP(DIV(p, X)) break;                                          \
        case DZ_UNARY_SIGMOID: LOOP(TANH(X * (T)0.5) * (T)0.5 + (T)0.5) break;                     \
        case DZ_UNARY_RELU: LOOP(X > 0 ? X : (T)0) break;                                          \
        case DZ_UNARY_STEP: LOOP(X > 0 ? (T)1 : (T)0) break;                                       \
        case DZ_UNARY_LEAKY_MASK: LOOP(X > 0 ? (T)1 : p) break;                                    \
        case DZ_UNARY_ABS: LOOP(X < 0 ? -W(X) : W(X)) break;                                       \
        case DZ_UNARY_SIGN: LOOP((X > 0) - (X < 0)) break;                                         \
        case DZ_UNARY_ERF: LOOP(erf((double)X)) break;                                             \
        case DZ_UNARY_LOG1P: LOOP(LOG1P(X)) break;                                                 \
        case DZ_UNARY_EXPM1: LOOP(EXPM1(X)) break;                                                 \
        case DZ_UNARY_ONE_MINUS_SQUARE: LOOP(OMS(X)) break;                                        \
        }                                                                                          \
        PATCH(op, x, y, n)                                                                         \
    }

/* float32 exp, log, sin, cos and tanh: the vectorizable versions of
 * cpu_vecmath.h (within 0.77 ulp). */
UNARY_SPAN(float, float, unary_span_f32, dz_vexpf, dz_vlogf, dz_vsinf, dz_vcosf, dz_vtanhf, sqrtf, powf, log1pf,
           expm1f, FDIV, OMS_F32, PATCH_UNARY_F32)
UNARY_SPAN(double, double, unary_span_f64, exp, log, sin, cos, tanh, sqrt, pow, log1p, expm1, FDIV, OMS_F64,
           PATCH_NONE)
#define IEXP(v) exp((double)(v))
#define ILOG(v) log((double)(v))
#define ISIN(v) sin((double)(v))
#define ICOS(v) cos((double)(v))
#define ITANH(v) tanh((double)(v))
#define ISQRT(v) sqrt((double)(v))

/* v ** q for an exponent q >= 0 by repeated squaring, wrapping around as
 * NumPy's integer power does (a negative q gives 1: the functions refuse it). */
static inline uint64_t ipow_wrap(uint64_t v, int64_t q)
{
    uint64_t r = 1;
    for (; q > 0; q >>= 1, v *= v)
        if (q & 1)
            r *= v;
    return r;
}
#define IPOW32(v, q) (int32_t)(uint32_t)ipow_wrap((uint64_t)(uint32_t)(v), q)
#define IPOW64(v, q) (int64_t)ipow_wrap((uint64_t)(v), q)
#define ILOG1P(v) log1p((double)(v))
#define IEXPM1(v) expm1((double)(v))
UNARY_SPAN(int32_t, uint32_t, unary_span_i32, IEXP, ILOG, ISIN, ICOS, ITANH, ISQRT, IPOW32, ILOG1P, IEXPM1, IDIV,
           OMS_INT, PATCH_NONE)
UNARY_SPAN(int64_t, uint64_t, unary_span_i64, IEXP, ILOG, ISIN, ICOS, ITANH, ISQRT, IPOW64, ILOG1P, IEXPM1, IDIV,
           OMS_INT, PATCH_NONE)
#undef LOOP
#undef X

/* One row: y = op(x) with x contiguous (stride 1) or one value (stride 0),
 * which is computed once and repeated. SCALAR converts the op's scalar. */
#define UNARY_ROW(T, NAME, SPAN, SCALAR)                                                           \
    static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)                 \
    {                                                                                              \
        const unary_ctx *c = vctx;                                                                 \
        const T *x = (const T *)c->x + off[0];                                                     \
        T *y = (T *)c->y + off[1];                                                                 \
        if (st[0] == 1) {                                                                          \
            SPAN(c->op, SCALAR(T, c->p), x, y, n);                                                 \
            return;                                                                                \
        }                                                                                          \
        SPAN(c->op, SCALAR(T, c->p), x, y, 1);                                                     \
        for (int64_t i = 1; i < n; i++)                                                            \
            y[i] = y[0];                                                                           \
    }

UNARY_ROW(float, unary_row_f32, unary_span_f32, FLOAT_SCALAR)
UNARY_ROW(double, unary_row_f64, unary_span_f64, FLOAT_SCALAR)
UNARY_ROW(int32_t, unary_row_i32, unary_span_i32, INT_SCALAR)
UNARY_ROW(int64_t, unary_row_i64, unary_span_i64, INT_SCALAR)

static row_fn unary_row_for(dz_dtype dtype)
{
    switch (dtype) {
    case DZ_F32: return unary_row_f32;
    case DZ_F64: return unary_row_f64;
    case DZ_I32: return unary_row_i32;
    case DZ_I64: return unary_row_i64;
    default: return NULL;
    }
}

void dz_cpu_unary(dz_unary_op op, const dz_array *x, double p, dz_array *y)
{
    unary_ctx c = {op, p, x->data, y->data};
    row_fn fn = unary_row_for(y->dtype);
    if (!fn) { /* byte-sized I/O dtypes: plain copies only */
        dz_cpu_astype(x, y);
        return;
    }
    if (x->size == y->size) {
        for_each_flat(y->size, 2, (const int64_t[]){1, 1}, fn, &c);
        return;
    }
    int64_t strides[2][DZ_MAX_NDIM];
    broadcast_strides(x, y->ndim, y->shape, strides[0]);
    contiguous_strides(y->ndim, y->shape, strides[1]);
    for_each_row(y->ndim, y->shape, 2, strides, fn, &c);
}

/* ---- transpose ------------------------------------------------------------- */

typedef struct {
    const void *x;
    void *y;
} copy_ctx;

/* One row of y from x at stride st[0]: a copy of elements of any dtype. */
#define STRIDED_COPY_ROW(T, NAME)                                                                  \
    static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)                 \
    {                                                                                              \
        const copy_ctx *c = vctx;                                                                  \
        const T *x = (const T *)c->x + off[0];                                                     \
        T *y = (T *)c->y + off[1];                                                                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = x[i * st[0]];                                                                   \
    }

STRIDED_COPY_ROW(uint8_t, copy_row_1)
STRIDED_COPY_ROW(uint16_t, copy_row_2)
STRIDED_COPY_ROW(uint32_t, copy_row_4)
STRIDED_COPY_ROW(uint64_t, copy_row_8)

void dz_cpu_transpose(const dz_array *x, const int *axes, dz_array *y)
{
    int64_t xs[DZ_MAX_NDIM], strides[2][DZ_MAX_NDIM];
    contiguous_strides(x->ndim, x->shape, xs);
    for (int i = 0; i < y->ndim; i++)
        strides[0][i] = xs[axes[i]];
    contiguous_strides(y->ndim, y->shape, strides[1]);
    size_t es = dz_dtype_bytes(y->dtype);
    row_fn fn = es == 1 ? copy_row_1 : es == 2 ? copy_row_2 : es == 4 ? copy_row_4 : copy_row_8;
    copy_ctx c = {x->data, y->data};
    for_each_row(y->ndim, y->shape, 2, strides, fn, &c);
}

/* ---- binary -------------------------------------------------------------- */

typedef struct {
    dz_binary_op op;
    const void *a, *b;
    void *y;
} binary_ctx;

/* y[i] = E for i < n, with u and v the operands of element i; each is
 * contiguous (stride 1) or one repeated value (stride 0), and each pairing
 * has its own loop so that every loop vectorizes. */
#define LOOP(E)                                                                                    \
    if (sa && sb) {                                                                                \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const elem_t u = a[i], v = b[i];                                                       \
            y[i] = (elem_t)(E);                                                                    \
        }                                                                                          \
    } else if (sa) {                                                                               \
        const elem_t v = b[0];                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const elem_t u = a[i];                                                                 \
            y[i] = (elem_t)(E);                                                                    \
        }                                                                                          \
    } else if (sb) {                                                                               \
        const elem_t u = a[0];                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const elem_t v = b[i];                                                                 \
            y[i] = (elem_t)(E);                                                                    \
        }                                                                                          \
    } else {                                                                                       \
        const elem_t u = a[0], v = b[0], value = (elem_t)(E);                                      \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = value;                                                                          \
    }

#define BINARY_ROW(T, U, NAME, DIV, SIN, COS, OMS, PATCH)                                          \
    DZ_FMA_CLONES static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)   \
    {                                                                                              \
        typedef T elem_t;                                                                          \
        typedef U wrap_t;                                                                          \
        const binary_ctx *c = vctx;                                                                \
        const T *a = (const T *)c->a + off[0], *b = (const T *)c->b + off[1];                      \
        T *y = (T *)c->y + off[2];                                                                 \
        bool sa = st[0] != 0, sb = st[1] != 0;                                                     \
        switch (c->op) {                                                                           \
        case DZ_BINARY_ADD: LOOP(W(u) + W(v)) break;                                               \
        case DZ_BINARY_SUB: LOOP(W(u) - W(v)) break;                                               \
        case DZ_BINARY_MUL: LOOP(W(u) * W(v)) break;                                               \
        case DZ_BINARY_DIV: LOOP(DIV(u, v)) break;                                                 \
        case DZ_BINARY_MAXIMUM: LOOP(u > v ? u : v) break;                                         \
        case DZ_BINARY_MINIMUM: LOOP(u < v ? u : v) break;                                         \
        case DZ_BINARY_EQUAL: LOOP(u == v) break;                                                  \
        case DZ_BINARY_NOT_EQUAL: LOOP(u != v) break;                                              \
        case DZ_BINARY_GREATER: LOOP(u > v) break;                                                 \
        case DZ_BINARY_GREATER_EQUAL: LOOP(u >= v) break;                                          \
        case DZ_BINARY_LESS: LOOP(u < v) break;                                                    \
        case DZ_BINARY_LESS_EQUAL: LOOP(u <= v) break;                                             \
        case DZ_BINARY_TANH_GRAD: LOOP(W(u) * W(OMS(v))) break;                                    \
        case DZ_BINARY_SQUARE_GRAD: LOOP(W(u) * (W(v) * (wrap_t)2)) break;                         \
        case DZ_BINARY_SIN_GRAD: LOOP(u * COS(v)) break;                                           \
        case DZ_BINARY_COS_GRAD: LOOP(u * -SIN(v)) break;                                          \
        }                                                                                          \
        PATCH(c->op, a, st[0], b, st[1], y, n)                                                     \
    }

BINARY_ROW(float, float, binary_row_f32, FDIV, dz_vsinf, dz_vcosf, OMS_F32, PATCH_BINARY_F32)
BINARY_ROW(double, double, binary_row_f64, FDIV, sin, cos, OMS_F64, PATCH_NONE)
BINARY_ROW(int32_t, uint32_t, binary_row_i32, IDIV, ISIN, ICOS, OMS_INT, PATCH_NONE)
BINARY_ROW(int64_t, uint64_t, binary_row_i64, IDIV, ISIN, ICOS, OMS_INT, PATCH_NONE)
#undef LOOP
#undef W

void dz_cpu_binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y)
{
    binary_ctx c = {op, a->data, b->data, y->data};
    row_fn fn = y->dtype == DZ_F32 ? binary_row_f32
              : y->dtype == DZ_F64 ? binary_row_f64
              : y->dtype == DZ_I32 ? binary_row_i32
                                   : binary_row_i64;
    bool a_flat = a->size == y->size || a->size == 1, b_flat = b->size == y->size || b->size == 1;
    if (a_flat && b_flat) { /* same shape, or a scalar operand */
        int64_t st[3] = {a->size == y->size, b->size == y->size, 1};
        for_each_flat(y->size, 3, st, fn, &c);
        return;
    }
    int64_t strides[3][DZ_MAX_NDIM];
    broadcast_strides(a, y->ndim, y->shape, strides[0]);
    broadcast_strides(b, y->ndim, y->shape, strides[1]);
    contiguous_strides(y->ndim, y->shape, strides[2]);
    for_each_row(y->ndim, y->shape, 3, strides, fn, &c);
}

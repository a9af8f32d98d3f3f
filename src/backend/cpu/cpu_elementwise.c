/* CPU elementwise kernels with NumPy broadcasting, reductions over axes, and
 * transpose. Every kernel walks the output in C order one row (last axis) at a
 * time; each input has a stride per output axis, 0 where it is broadcast. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

/* Strides (in elements) of x seen through an output of shape (ndim, shape):
 * right-aligned, 0 on broadcast axes. */
static void broadcast_strides(const dz_array *x, int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - (ndim - x->ndim);
        if (j < 0 || (x->shape[j] == 1 && shape[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = s;
        }
        if (j >= 0)
            s *= x->shape[j];
    }
}

/* Walks the rows of an output of `shape`; for each row calls fn with the
 * starting offset of each of `nops` operands (strides[k] per operand). */
typedef void (*row_fn)(void *ctx, const int64_t *offsets, int64_t n, const int64_t *inner_strides);

static void for_each_row(int ndim, const int64_t *shape, int nops, int64_t strides[][DZ_MAX_NDIM],
                         row_fn fn, void *ctx)
{
    int64_t inner[3], offsets[3] = {0, 0, 0}, index[DZ_MAX_NDIM] = {0};
    if (ndim == 0) {
        int64_t zero[3] = {0, 0, 0};
        fn(ctx, offsets, 1, zero);
        return;
    }
    int64_t n = shape[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++)
        rows *= shape[i];
    if (n == 0)
        return;
    for (int k = 0; k < nops; k++)
        inner[k] = strides[k][ndim - 1];
    for (int64_t r = 0; r < rows; r++) {
        fn(ctx, offsets, n, inner);
        for (int i = ndim - 2; i >= 0; i--) { /* odometer over the outer axes */
            index[i]++;
            for (int k = 0; k < nops; k++)
                offsets[k] += strides[k][i];
            if (index[i] < shape[i])
                break;
            for (int k = 0; k < nops; k++)
                offsets[k] -= strides[k][i] * index[i];
            index[i] = 0;
        }
    }
}

static void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

/* ---- fill ---------------------------------------------------------------- */

#define FILL(T)                                                                                    \
    for (int64_t i = 0; i < y->size; i++)                                                          \
        ((T *)y->data)[i] = (T)value;

void dz_cpu_fill(dz_array *y, double value)
{
    switch (y->dtype) {
    case DZ_F32: FILL(float) break;
    case DZ_F64: FILL(double) break;
    case DZ_I32: FILL(int32_t) break;
    case DZ_I64: FILL(int64_t) break;
    case DZ_U8: case DZ_BOOL: FILL(uint8_t) break;
    case DZ_F16: {
        uint16_t h = dz_float_to_half((float)value);
        for (int64_t i = 0; i < y->size; i++)
            ((uint16_t *)y->data)[i] = h;
        break;
    }
    }
}

/* ---- unary --------------------------------------------------------------- */

typedef struct {
    dz_unary_op op;
    double p;
    const void *x;
    void *y;
} unary_ctx;

#define UNARY_CASES(T, X, EXP, LOG, SIN, COS, TANH, SQRT, POW)                                                                          \
    case DZ_UNARY_COPY: LOOP(X) break;                                                             \
    case DZ_UNARY_NEG: LOOP(-X) break;                                                             \
    case DZ_UNARY_EXP: LOOP(EXP(X)) break;                                                         \
    case DZ_UNARY_LOG: LOOP(LOG(X)) break;                                                         \
    case DZ_UNARY_SIN: LOOP(SIN(X)) break;                                                         \
    case DZ_UNARY_COS: LOOP(COS(X)) break;                                                         \
    case DZ_UNARY_TANH: LOOP(TANH(X)) break;                                                       \
    case DZ_UNARY_SQRT: LOOP(SQRT(X)) break;                                                       \
    case DZ_UNARY_SQUARE: LOOP((X) * (X)) break;                                                   \
    case DZ_UNARY_POW: LOOP(POW(X, p)) break;                                                      \
    case DZ_UNARY_ADD_SCALAR: LOOP((X) + p) break;                                                 \
    case DZ_UNARY_MUL_SCALAR: LOOP((X) * p) break;                                                 \
    case DZ_UNARY_RSUB_SCALAR: LOOP(p - (X)) break;                                                \
    case DZ_UNARY_RDIV_SCALAR: LOOP(p / (X)) break;                                                \
    case DZ_UNARY_SIGMOID: LOOP(TANH((X) * (T)0.5) * (T)0.5 + (T)0.5) break;                      \
    case DZ_UNARY_RELU: LOOP((X) > 0 ? (X) : (T)0) break;                                         \
    case DZ_UNARY_STEP: LOOP((X) > 0 ? (T)1 : (T)0) break;                                        \
    case DZ_UNARY_LEAKY_MASK: LOOP((X) > 0 ? (T)1 : p) break;                                     \
    case DZ_UNARY_ABS: LOOP((X) < 0 ? -(X) : (X)) break;                                          \
    case DZ_UNARY_SIGN: LOOP((T)(((X) > 0) - ((X) < 0))) break;

#define LOOP(E)                                                                                    \
    for (int64_t i = 0; i < n; i++)                                                                \
        y[i] = (elem_t)(E);

#define UNARY_ROW(T, NAME, EXP, LOG, SIN, COS, TANH, SQRT, POW)                                    \
    static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)                 \
    {                                                                                              \
        typedef T elem_t;                                                                          \
        const unary_ctx *c = vctx;                                                                 \
        const T *x = (const T *)c->x + off[0];                                                     \
        T *y = (T *)c->y + off[1];                                                                 \
        int64_t sx = st[0];                                                                        \
        T p = (T)c->p;                                                                             \
        switch (c->op) { UNARY_CASES(T, x[i * sx], EXP, LOG, SIN, COS, TANH, SQRT, POW) }                                               \
    }

UNARY_ROW(float, unary_row_f32, expf, logf, sinf, cosf, tanhf, sqrtf, powf)
UNARY_ROW(double, unary_row_f64, exp, log, sin, cos, tanh, sqrt, pow)
#define IEXP(v) exp((double)(v))
#define ILOG(v) log((double)(v))
#define ISIN(v) sin((double)(v))
#define ICOS(v) cos((double)(v))
#define ITANH(v) tanh((double)(v))
#define ISQRT(v) sqrt((double)(v))
#define IPOW(v, q) pow((double)(v), (double)(q))
UNARY_ROW(int32_t, unary_row_i32, IEXP, ILOG, ISIN, ICOS, ITANH, ISQRT, IPOW)
UNARY_ROW(int64_t, unary_row_i64, IEXP, ILOG, ISIN, ICOS, ITANH, ISQRT, IPOW)
#undef LOOP

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
    if (x->size == y->size) { /* same shape: one flat row */
        int64_t off[2] = {0, 0}, st[1] = {1};
        fn(&c, off, y->size, st);
        return;
    }
    int64_t strides[2][DZ_MAX_NDIM];
    broadcast_strides(x, y->ndim, y->shape, strides[0]);
    contiguous_strides(y->ndim, y->shape, strides[1]);
    for_each_row(y->ndim, y->shape, 2, strides, fn, &c);
}

void dz_cpu_transpose(const dz_array *x, const int *axes, dz_array *y)
{
    int64_t xs[DZ_MAX_NDIM], strides[2][DZ_MAX_NDIM];
    contiguous_strides(x->ndim, x->shape, xs);
    for (int i = 0; i < y->ndim; i++)
        strides[0][i] = xs[axes[i]];
    contiguous_strides(y->ndim, y->shape, strides[1]);
    unary_ctx c = {DZ_UNARY_COPY, 0, x->data, y->data};
    for_each_row(y->ndim, y->shape, 2, strides, unary_row_for(y->dtype), &c);
}

/* ---- binary -------------------------------------------------------------- */

typedef struct {
    dz_binary_op op;
    const void *a, *b;
    void *y;
} binary_ctx;

#define LOOP(E)                                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                              \
        elem_t u = a[i * sa], v = b[i * sb];                                                       \
        y[i] = (elem_t)(E);                                                                             \
    }

#define BINARY_ROW(T, NAME)                                                                        \
    static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)                 \
    {                                                                                              \
        typedef T elem_t;                                                                          \
        const binary_ctx *c = vctx;                                                                \
        const T *a = (const T *)c->a + off[0], *b = (const T *)c->b + off[1];                      \
        T *y = (T *)c->y + off[2];                                                                 \
        int64_t sa = st[0], sb = st[1];                                                            \
        switch (c->op) {                                                                           \
        case DZ_BINARY_ADD: LOOP(u + v) break;                                                     \
        case DZ_BINARY_SUB: LOOP(u - v) break;                                                     \
        case DZ_BINARY_MUL: LOOP(u * v) break;                                                     \
        case DZ_BINARY_DIV: LOOP(u / v) break;                                                     \
        case DZ_BINARY_MAXIMUM: LOOP(u > v ? u : v) break;                                         \
        case DZ_BINARY_MINIMUM: LOOP(u < v ? u : v) break;                                         \
        case DZ_BINARY_EQUAL: LOOP(u == v) break;                                                  \
        case DZ_BINARY_GREATER_EQUAL: LOOP(u >= v) break;                                          \
        case DZ_BINARY_LESS_EQUAL: LOOP(u <= v) break;                                             \
        }                                                                                          \
    }

BINARY_ROW(float, binary_row_f32)
BINARY_ROW(double, binary_row_f64)
BINARY_ROW(int32_t, binary_row_i32)
BINARY_ROW(int64_t, binary_row_i64)
#undef LOOP

void dz_cpu_binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y)
{
    binary_ctx c = {op, a->data, b->data, y->data};
    row_fn fn = y->dtype == DZ_F32 ? binary_row_f32
              : y->dtype == DZ_F64 ? binary_row_f64
              : y->dtype == DZ_I32 ? binary_row_i32
                                   : binary_row_i64;
    if (a->size == y->size && b->size == y->size) {
        int64_t off[3] = {0, 0, 0}, st[2] = {1, 1};
        fn(&c, off, y->size, st);
        return;
    }
    int64_t strides[3][DZ_MAX_NDIM];
    broadcast_strides(a, y->ndim, y->shape, strides[0]);
    broadcast_strides(b, y->ndim, y->shape, strides[1]);
    contiguous_strides(y->ndim, y->shape, strides[2]);
    for_each_row(y->ndim, y->shape, 3, strides, fn, &c);
}

/* ---- reductions ---------------------------------------------------------- */

typedef struct {
    dz_reduce_op op;
    const void *x;
    void *y;
} reduce_ctx;

#define REDUCE_ROW(T, NAME)                                                                        \
    static void NAME(void *vctx, const int64_t *off, int64_t n, const int64_t *st)                 \
    {                                                                                              \
        const reduce_ctx *c = vctx;                                                                \
        const T *x = (const T *)c->x + off[0];                                                     \
        T *y = (T *)c->y + off[1];                                                                 \
        int64_t sy = st[1];                                                                        \
        if (c->op == DZ_REDUCE_SUM) {                                                              \
            if (sy == 0) {                                                                         \
                T s = 0;                                                                           \
                for (int64_t i = 0; i < n; i++)                                                    \
                    s += x[i];                                                                     \
                *y += s;                                                                           \
            } else {                                                                               \
                for (int64_t i = 0; i < n; i++)                                                    \
                    y[i] += x[i];                                                                  \
            }                                                                                      \
        } else if (c->op == DZ_REDUCE_MAX) {                                                       \
            for (int64_t i = 0; i < n; i++)                                                        \
                if (x[i] > y[i * sy] || x[i] != x[i])                                              \
                    y[i * sy] = x[i];                                                              \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                if (x[i] < y[i * sy] || x[i] != x[i])                                              \
                    y[i * sy] = x[i];                                                              \
        }                                                                                          \
    }

REDUCE_ROW(float, reduce_row_f32)
REDUCE_ROW(double, reduce_row_f64)
REDUCE_ROW(int32_t, reduce_row_i32)
REDUCE_ROW(int64_t, reduce_row_i64)

void dz_cpu_reduce(dz_reduce_op op, const dz_array *x, dz_array *y)
{
    row_fn fn = y->dtype == DZ_F32 ? reduce_row_f32
              : y->dtype == DZ_F64 ? reduce_row_f64
              : y->dtype == DZ_I32 ? reduce_row_i32
                                   : reduce_row_i64;
    if (x->size == 0) {
        dz_cpu_fill(y, op == DZ_REDUCE_SUM ? 0.0 : op == DZ_REDUCE_MAX ? -INFINITY : INFINITY);
        return;
    }
    if (op == DZ_REDUCE_SUM) {
        dz_cpu_fill(y, 0.0);
    } else { /* start from the first element of each reduced group */
        int64_t strides[2][DZ_MAX_NDIM];
        contiguous_strides(y->ndim, y->shape, strides[0]);
        contiguous_strides(y->ndim, y->shape, strides[1]);
        int64_t xs[DZ_MAX_NDIM];
        contiguous_strides(x->ndim, x->shape, xs);
        for (int i = 0; i < y->ndim; i++)
            strides[0][i] = xs[i];
        unary_ctx c = {DZ_UNARY_COPY, 0, x->data, y->data};
        for_each_row(y->ndim, y->shape, 2, strides, unary_row_for(y->dtype), &c);
    }
    int64_t strides[2][DZ_MAX_NDIM];
    contiguous_strides(x->ndim, x->shape, strides[0]);
    broadcast_strides(y, x->ndim, x->shape, strides[1]);
    reduce_ctx c = {op, x->data, y->data};
    for_each_row(x->ndim, x->shape, 2, strides, fn, &c);
}

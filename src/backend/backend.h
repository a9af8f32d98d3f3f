/* The backend table: every kernel an op needs, one table per device.
 * Ops call dz_backend_of(array) and never test the device themselves.
 * Arrays passed to a kernel are already allocated on the backend's device,
 * with the shapes the kernel documents; kernels do not fail on valid input. */
#ifndef DEZERO_BACKEND_H
#define DEZERO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/array.h"

typedef enum dz_unary_op {
    DZ_UNARY_COPY,        /* y = x (also broadcasts) */
    DZ_UNARY_NEG,
    DZ_UNARY_EXP,
    DZ_UNARY_LOG,
    DZ_UNARY_SIN,
    DZ_UNARY_COS,
    DZ_UNARY_TANH,
    DZ_UNARY_SQRT,
    DZ_UNARY_SQUARE,
    DZ_UNARY_POW,         /* x ** p */
    DZ_UNARY_ADD_SCALAR,  /* x + p */
    DZ_UNARY_MUL_SCALAR,  /* x * p */
    DZ_UNARY_RSUB_SCALAR, /* p - x */
    DZ_UNARY_RDIV_SCALAR, /* p / x */
    DZ_UNARY_SIGMOID,
    DZ_UNARY_RELU,
    DZ_UNARY_STEP,        /* x > 0 ? 1 : 0 */
    DZ_UNARY_LEAKY_MASK,  /* x > 0 ? 1 : p */
    DZ_UNARY_ABS,
    DZ_UNARY_SIGN
} dz_unary_op;

typedef enum dz_binary_op {
    DZ_BINARY_ADD,
    DZ_BINARY_SUB,
    DZ_BINARY_MUL,
    DZ_BINARY_DIV,
    DZ_BINARY_MAXIMUM,
    DZ_BINARY_MINIMUM,
    DZ_BINARY_EQUAL,      /* 1 where a == b, else 0 (in y's dtype) */
    DZ_BINARY_GREATER_EQUAL,
    DZ_BINARY_LESS_EQUAL
} dz_binary_op;

typedef enum dz_reduce_op { DZ_REDUCE_SUM, DZ_REDUCE_MAX, DZ_REDUCE_MIN } dz_reduce_op;

typedef struct dz_backend {
    const char *name;
    /* Memory. alloc returns NULL on failure (zero-filled). */
    void *(*alloc)(size_t nbytes);
    void (*free)(void *ptr);
    void (*copy)(void *dst, const void *src, size_t nbytes);         /* device to device */
    void (*to_host)(void *host_dst, const void *src, size_t nbytes);  /* device to host */
    void (*from_host)(void *dst, const void *host_src, size_t nbytes); /* host to device */

    void (*fill)(dz_array *y, double value);
    void (*astype)(const dz_array *x, dz_array *y); /* same shape, y's dtype */
    /* y = op(x, p); x broadcasts to y's shape (numpy rules, same dtype). */
    void (*unary)(dz_unary_op op, const dz_array *x, double p, dz_array *y);
    /* y = a op b; a and b broadcast to y's shape (all the same dtype). */
    void (*binary)(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y);
    /* y has x's ndim with 1 on every reduced axis. */
    void (*reduce)(dz_reduce_op op, const dz_array *x, dz_array *y);
    /* Row-major C[m,n] = alpha * op(A) op(B) + beta * C; batch matrices at the
     * given element strides (0 repeats one matrix). f32 or f64. */
    void (*gemm)(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t lda, int64_t stride_a,
                 const void *b, int64_t ldb, int64_t stride_b,
                 double beta, void *c, int64_t ldc, int64_t stride_c, int64_t batch);
    /* y = x transposed by `axes` (a permutation of 0..ndim-1). */
    void (*transpose)(const dz_array *x, const int *axes, dz_array *y);

    /* ---- indexing kernels (getitem, embedding) ---- */

    /* ---- neural-network kernels (activations, softmax, losses) ---- */
    /* y = 1 / (1 + e^-x), stable on both sides (DeZero's tanh form, exactly). */
    void (*sigmoid)(const dz_array *x, dz_array *y);
    /* y = softmax(x) along `axis`, or log_softmax when `log` (max-shifted). */
    void (*softmax)(const dz_array *x, int axis, bool log, dz_array *y);
    /* From y = softmax(x) and gy (all one shape), sums along `axis`:
     * gx = y * (gy - sum(y * gy)); for log_softmax gx = gy - exp(y) * sum(gy). */
    void (*softmax_backward)(const dz_array *y, const dz_array *gy, int axis, bool log, dz_array *gx);
    /* gx = gy * y * (1 - y) for y = sigmoid(x) (all one shape). */
    void (*sigmoid_backward)(const dz_array *y, const dz_array *gy, dz_array *gx);
    /* y = min(max(x, lo), hi); with `mask`, y = (lo <= x <= hi) ? 1 : 0. */
    void (*clip)(const dz_array *x, double lo, double hi, bool mask, dz_array *y);
    /* y (indices shape + (V,)) = 1 at each index, 0 elsewhere; indices i32/i64 in 0..V-1. */
    void (*one_hot)(const dz_array *indices, dz_array *y);
    /* y (N, D) = x (D,) on every row. */
    void (*repeat_rows)(const dz_array *x, dz_array *y);
    /* y (D,) = the sum of the rows of x (N, D). */
    void (*sum_rows)(const dz_array *x, dz_array *y);
    /* loss (0-d) = scale * sum of -log_softmax(x[i])[t[i]] over the rows i whose
     * label is not ignore_index, and probs (N, C) = softmax(x) for the backward;
     * x (N, C), t (N,) i32/i64 with labels in 0..C-1. */
    void (*softmax_cross_entropy)(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs);
    /* gx (N, C) = gy * scale * (probs[i] - onehot(t[i])), zero on ignored rows; gy 0-d. */
    void (*softmax_cross_entropy_backward)(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx);
    /* loss (0-d) = scale * sum(max(x, 0) - x * t + log1p(exp(-|x|))); x, t one shape. */
    void (*sigmoid_cross_entropy)(const dz_array *x, const dz_array *t, double scale, dz_array *loss);

    /* ---- embedding kernels ---- */

    /* ---- optimizer kernels ---- */
} dz_backend;

const dz_backend *dz_backend_cpu(void);
/* NULL when the library was built without CUDA. */
const dz_backend *dz_backend_cuda(void);
const dz_backend *dz_backend_for(dz_device device);
#define dz_backend_of(array) dz_backend_for((array)->device)

#endif

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

    /* ---- embedding kernels ---- */
    /* Arguments: w (V, D) and gw (V, D); idx (N,) int32/int64 (any shape, read
     * flat), every entry in [0, V); starts (B + 1,) int64 bag bounds, bag b is
     * idx[starts[b] : starts[b + 1]]; skip_idx a row to leave out (-1: none). */

    /* y[i] = w[idx[i]] (any dtype), zeros where idx[i] == skip_idx. y (N, D) */
    void (*embedding_gather)(const dz_array *w, const dz_array *idx, int64_t skip_idx, dz_array *y);
    /* gw (zero-filled, f32/f64) += gy[i] at row idx[i] for idx[i] != skip_idx,
     * each row summed in input order (deterministic); scale_by_freq scales each
     * term by 1/count(idx[i]) with a fused multiply-add. gy (N, D) */
    void (*embedding_scatter_add)(const dz_array *gy, const dz_array *idx, int64_t skip_idx,
                                  bool scale_by_freq, dz_array *gw);
    /* In place, once per distinct idx row of w (f32/f64): if norm_p(row) >
     * max_norm, row *= max_norm / (norm + 1e-7). */
    void (*embedding_renorm)(dz_array *w, const dz_array *idx, double max_norm, double norm_type);
    /* y[b] = sum over bag b of w[idx[j]] (times psw[j] when psw is not NULL),
     * divided by the count of non-skipped entries when mean. psw (N,), y (B, D) */
    void (*embedding_bag_sum)(const dz_array *w, const dz_array *idx, const dz_array *starts,
                              const dz_array *psw, int64_t skip_idx, bool mean, dz_array *y);
    /* y[b, d] = max over bag b of w[idx[j], d], argmax[b, d] = that row (first
     * on ties); empty bags give 0 and -1. y (B, D), argmax (B, D) int64 */
    void (*embedding_bag_max)(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax);
    /* gw (zero-filled) += gy[bag of j] * scale_j at row idx[j], in input order,
     * with scale_j = 1 / count(idx[j]) (scale_by_freq) / non-skipped bag size
     * (mean) * psw[j] (in double, rounded once; fused multiply-add). */
    void (*embedding_bag_scatter)(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                  const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq,
                                  dz_array *gw);
    /* rows[j] = gy[bag of j] times psw[j] (or 1/count when mean), rounded;
     * zeros for skipped entries (the sparse grad's values). gy (B, D), rows (N, D) */
    void (*embedding_bag_grad_rows)(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows);
    /* gw (zero-filled) [argmax[b, d], d] += gy[b, d] where argmax >= 0. */
    void (*embedding_bag_max_backward)(const dz_array *gy, const dz_array *argmax, dz_array *gw);
    /* gpsw[j] = dot(gy[bag of j], w[idx[j]]), 0 for skipped entries. gpsw (N,) */
    void (*embedding_bag_weights_grad)(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw);

    /* ---- optimizer kernels ---- */
} dz_backend;

const dz_backend *dz_backend_cpu(void);
/* NULL when the library was built without CUDA. */
const dz_backend *dz_backend_cuda(void);
const dz_backend *dz_backend_for(dz_device device);
#define dz_backend_of(array) dz_backend_for((array)->device)

#endif

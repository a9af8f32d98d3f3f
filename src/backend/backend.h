/* The backend table: the kernels of one device. A new backend fills the
 * required primitives of dz_backend (17 slots); the fused kernels of
 * dz_backend_fused are optional, and every op runs a composite of the
 * primitives (src/kernels) where a fused slot is NULL. The Check suites run
 * once more with the CPU's fused table off (the `_primitives` tests): that is
 * the first suite a new backend passes.
 * Ops call dz_backend_of(array) and never test the device themselves.
 * Arrays passed to a kernel are already allocated on the backend's device,
 * with the shapes the kernel documents; kernels do not fail on valid input.
 *
 * DEVICE-AGNOSTIC RULE. Outside the backends (src/core, src/functions,
 * src/layers, src/optim, src/io) no code reads or writes an array's elements
 * through `a->data`: the array may live on a device, where that pointer means
 * nothing to the host. Ops compute with the primitives below; index and
 * label checks use index_range; values the host must see (printing, saving,
 * random numbers, the first bad index of a failed check) go through a host
 * view (src/core/host_view.h), which is the array's own buffer on the CPU
 * and a copy that synchronises on a device (say so where it is opened), or
 * through a CPU copy (dz_array_to_device, dz_array_to_doubles).
 *   Allowed: `a->data` as an argument of a call to a backend primitive,
 *   be->copy(y->data, a->data, n) or dz_backend_of(a)->to_host(buf, a->data,
 *   n) (the device's own pointer to the device's own kernel); inside
 *   host_view.c; the array constructor that sets it; and a Variable's
 *   `v->data`, which is its dz_array, not elements.
 * tests/check_device_agnostic.sh (meson test device_agnostic) greps for the
 * forbidden forms, on lines that call no backend primitive:
 *   cast      (float *)a->data, (const char *)x->data + off
 *   pointer   const int64_t *p = a->data;
 *   index     a->data[i], a->data + off
 *   memory    memcpy/memmove/memset/memcmp/fread/fwrite/qsort/bsearch/dz_index_at(... a->data ...)
 *   variable  v->data->data (a variable's elements)
 * It cannot tell `a->data` handed to some other function from a variable's
 * `v->data`: `git grep -n -- '->data'` in review covers that case. Not yet
 * held to the rule: src/data, whose dataset readers fill the CPU arrays they
 * create. */
#ifndef DEZERO_BACKEND_H
#define DEZERO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/base.h"
#include "../base/caching_allocator.h"
#include "dezero/array.h"
#include "../optim/optim_scalars.h" /* plain data: the scalars of the optimizer steps */

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
    DZ_UNARY_POW,         /* x ** p; integers: p >= 0, by repeated squaring, wrapping */
    DZ_UNARY_ADD_SCALAR,  /* x + p */
    DZ_UNARY_MUL_SCALAR,  /* x * p */
    DZ_UNARY_DIV_SCALAR,  /* x / p (a division, not x * (1 / p)) */
    DZ_UNARY_RSUB_SCALAR, /* p - x */
    DZ_UNARY_RDIV_SCALAR, /* p / x */
    DZ_UNARY_SIGMOID,
    DZ_UNARY_RELU,
    DZ_UNARY_STEP,        /* x > 0 ? 1 : 0 */
    DZ_UNARY_LEAKY_MASK,  /* x > 0 ? 1 : p */
    DZ_UNARY_ABS,
    DZ_UNARY_SIGN,        /* -1, 0 or 1 (0 for NaN) */
    DZ_UNARY_LOG1P,       /* log(1 + x), exact for small x */
    DZ_UNARY_EXPM1,       /* e^x - 1, exact for small x */
    DZ_UNARY_ERF,         /* erf x, in double for every dtype, then rounded */
    DZ_UNARY_ONE_MINUS_SQUARE /* 1 - x * x, rounded once for floats (fma): tanh's grad */
} dz_unary_op;

typedef enum dz_binary_op {
    DZ_BINARY_ADD,
    DZ_BINARY_SUB,
    DZ_BINARY_MUL,
    DZ_BINARY_DIV,
    DZ_BINARY_MAXIMUM,
    DZ_BINARY_MINIMUM,
    DZ_BINARY_EQUAL,      /* 1 where a == b, else 0 (in y's dtype) */
    DZ_BINARY_NOT_EQUAL,  /* 1 where a != b (NaN != anything) */
    DZ_BINARY_GREATER,
    DZ_BINARY_GREATER_EQUAL,
    DZ_BINARY_LESS,
    DZ_BINARY_LESS_EQUAL,
    /* Fused backwards, rounded as the composite ops they replace: */
    DZ_BINARY_TANH_GRAD,   /* a * (1 - b * b), the bracket as ONE_MINUS_SQUARE: gy and y = tanh x */
    DZ_BINARY_SQUARE_GRAD, /* a * (b * 2): gy and x */
    DZ_BINARY_SIN_GRAD,    /* a * cos(b): gy and x */
    DZ_BINARY_COS_GRAD     /* a * -sin(b): gy and x */
} dz_binary_op;

typedef enum dz_reduce_op { DZ_REDUCE_SUM, DZ_REDUCE_MAX, DZ_REDUCE_MIN } dz_reduce_op;

/* How the elements of an array `y` map to elements of a source array `x`
 * (gather: y = x[spec]; scatter: x[spec] = y). Element j of y, with C-order
 * coordinates c[0..ndim-1], maps to source element
 *     offset + sum_d c[d] * stride[d] + offsets[c[axis] .. c[axis + count - 1]]
 * where the last term (an index into `offsets`, flattened in C order) is
 * present only when offsets is not NULL; stride is 0 on those dims. */
typedef struct dz_gather_spec {
    int ndim;                       /* dims of y */
    int64_t shape[DZ_MAX_NDIM];     /* shape of y */
    int64_t stride[DZ_MAX_NDIM];    /* source stride (elements) per dim of y */
    int64_t offset;                 /* source element of y's first element */
    int offsets_axis, offsets_ndim; /* the dims of y that index `offsets` */
    const dz_array *offsets;        /* i64 source offsets over those dims, or NULL */
} dz_gather_spec;

/* A window of KH x KW moved by (SH, SW) over an image padded with (PH, PW)
 * zeros on each side: the geometry of im2col and col2im. */
typedef struct dz_conv_geom {
    int64_t kh, kw, sh, sw, ph, pw;
} dz_conv_geom;

/* The optional fused kernels. A backend fills the ones it has and leaves the
 * others NULL: the op then runs a composite of the required primitives with
 * the same semantics (src/kernels). Each is here only because one pass is
 * faster or rounds as PyTorch does. */
typedef struct dz_backend_fused {
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
    /* y = the sum of x over the axes where y has size 1 (reduce's shapes),
     * f32 and f64 added in the order of PyTorch 1.13's CPU sum on one thread,
     * so the bits are torch.sum's when the reduced axes are adjacent (integer
     * sums are the same in any order). dz_sum, dz_sum_to and the losses' means
     * use it; without it they take the reduce primitive. */
    void (*sum_torch)(const dz_array *x, dz_array *y);
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

    /* ---- convolution kernels ---- */
    /* Arguments: x (N, C, H, W) f32/f64; col (N, C, KH, KW, OH, OW), or
     * (N*OH*OW, C*KH*KW) when to_matrix (the dims (N, OH, OW, C, KH, KW)),
     * with OH = (H + 2 PH - KH) / SH + 1 and OW likewise. The padding is
     * implicit: no padded image is made. */

    /* col[n, c, i, j, y, x] = x[n, c, SH*y + i - PH, SW*x + j - PW], 0 where
     * that pixel lies in the padding. */
    void (*im2col)(const dz_array *x, const dz_conv_geom *g, bool to_matrix, dz_array *col);
    /* x (no initial value needed) = the adjoint: each pixel is 0 plus the col
     * entries im2col took from it, added in col's C order (the order of
     * scatter_add over col, so the bits of that composite). */
    void (*col2im)(const dz_array *col, const dz_conv_geom *g, bool to_matrix, dz_array *x);

    /* ---- max pooling kernels ---- */
    /* Arguments: x and gx (N, C, H, W) f32/f64, windows of geometry g over
     * them (the zero padding is part of each window); y and gy
     * (N, C, OH, OW); argmax (N, C, OH, OW) int32: the offset k = i*KW + j
     * in its window of the entry each output took, or -1 where the window's
     * max is NaN. The bits of the composite in pooling.c, whose one-hot mask
     * over the window is m_k = (k == argmax || argmax == -1). */

    /* y = each window's max as reduce takes it (the first of equal values;
     * any NaN wins); argmax (NULL: not wanted) = the first k whose entry
     * equals it, or -1. */
    void (*max_pool)(const dz_array *x, const dz_conv_geom *g, dz_array *y, dz_array *argmax);
    /* y = the sum from 0, k ascending, of each window's entry k times m_k. */
    void (*max_pool_pick)(const dz_array *x, const dz_array *argmax, const dz_conv_geom *g, dz_array *y);
    /* gx (no initial value needed) = col2im of the window entries m_k * gy:
     * each pixel 0 plus its terms in col2im's order. */
    void (*max_pool_backward)(const dz_array *gy, const dz_array *argmax, const dz_conv_geom *g, dz_array *gx);

    /* ---- embedding kernels ---- */
    /* Arguments: w (V, D) and gw (V, D); idx (N,) int32/int64 (any shape, read
     * flat), every entry in [0, V); starts (B + 1,) int64 bag bounds, bag b is
     * idx[starts[b] : starts[b + 1]]; skip_idx a row to leave out (-1: none). */

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
    /* Whole-parameter steps, in place. p, g and the state arrays share one
     * shape and dtype (f32 or f64). */
    void (*sgd_step)(const dz_sgd_scalars *s, dz_array *p, const dz_array *g,
                     dz_array *momentum_buffer /* NULL without momentum */);
    /* DeZero's MomentumSGD: v = momentum*v - lr*g; p += v. */
    void (*momentum_sgd_step)(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *velocity);
    void (*adagrad_step)(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *state_sum);
    void (*adadelta_step)(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                          dz_array *acc_delta);
    void (*adam_step)(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *exp_avg,
                      dz_array *exp_avg_sq, dz_array *max_exp_avg_sq /* NULL unless amsgrad */);
    /* Hook kernels: g += rate*p (DeZero's WeightDecay); x *= scale; sum(x^2) in double. */
    void (*weight_decay)(double rate, const dz_array *p, dz_array *g);
    void (*scale)(dz_array *x, double scale);
    double (*sum_squares)(const dz_array *x);
    /* y = y + alpha*x, fused (same shape). */
    void (*axpy)(dz_array *y, const dz_array *x, double alpha);
    /* Row kernels for sparse grads: y and p, state (R, D), rows (n,) int64
     * distinct rows in [0, R), values (n, D). y[rows[k]] *= scale. */
    void (*rows_scale)(dz_array *y, const dz_array *rows, double scale);
    /* Adagrad / SparseAdam on unique rows (a coalesced grad). */
    void (*sparse_adagrad_rows)(const dz_adagrad_scalars *s, dz_array *p, dz_array *state_sum,
                                const dz_array *rows, const dz_array *values);
    void (*sparse_adam_rows)(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *exp_avg,
                             dz_array *exp_avg_sq, const dz_array *rows, const dz_array *values);
} dz_backend_fused;

/* The required primitives: what a new backend writes before any program
 * runs. Each is here because no other primitive can express it, or only at a
 * cost no op should pay (a copy per element, a kernel launch per row). */
typedef struct dz_backend {
    const char *name;
    /* Memory: the device's buffers come from its caching allocator (raw
     * alloc/free behind a cache of freed blocks), uninitialised. The four
     * copies move bytes the other primitives cannot reach. */
    dz_caching_allocator *memory;
    void (*zero)(void *dst, size_t nbytes);
    void (*copy)(void *dst, const void *src, size_t nbytes);         /* device to device */
    void (*to_host)(void *host_dst, const void *src, size_t nbytes);  /* device to host (synchronises) */
    void (*from_host)(void *dst, const void *host_src, size_t nbytes); /* host to device */

    /* Every element set to one value: creation (zeros, ones, full). */
    void (*fill)(dz_array *y, double value);
    /* Dtype conversion, same shape, y's dtype. */
    void (*astype)(const dz_array *x, dz_array *y);
    /* y = op(x, p); x broadcasts to y's shape (numpy rules, same dtype).
     * Every elementwise function, and the broadcast copy. */
    void (*unary)(dz_unary_op op, const dz_array *x, double p, dz_array *y);
    /* y = a op b; a and b broadcast to y's shape (all the same dtype). */
    void (*binary)(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y);
    /* y has x's ndim with 1 on every reduced axis: sums, max, min. */
    void (*reduce)(dz_reduce_op op, const dz_array *x, dz_array *y);
    /* c (..., m, n) = op(a) op(b) over the batch axes (everything before the
     * last two), broadcast as NumPy's matmul; c += that when `accumulate`. An
     * axis of c of size 1 where a or b has more sums those products (the grad
     * of a broadcast operand). c needs no initial value unless `accumulate`.
     * f32 or f64. The one primitive on a BLAS. */
    void (*matmul)(const dz_array *a, bool trans_a, const dz_array *b, bool trans_b, dz_array *c,
                   bool accumulate);
    /* y = x transposed by `axes` (a permutation of 0..ndim-1). A strided
     * gather could express it, but every matmul grad and reshape-heavy op
     * needs one, and a tiled transpose is many times faster. */
    void (*transpose)(const dz_array *x, const int *axes, dz_array *y);

    /* ---- indexing ---- */
    /* y = x[spec], any dtype (x and y share it): slices, fancy indexing,
     * concat. The spec (strides plus an optional offsets array) reaches any
     * element map, which elementwise ops cannot. */
    void (*gather)(const dz_array *x, const dz_gather_spec *spec, dz_array *y);
    /* x[spec] = y, any dtype; spec must not map two elements to one. */
    void (*scatter)(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
    /* x[spec] += y, in order, so repeated targets accumulate (np.add.at).
     * f32, f64, i32 or i64. GetItem's grad: repeated targets need an ordered
     * accumulation that scatter cannot give. */
    void (*scatter_add)(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
    /* Rows of a table: table (R, ...) seen as R rows of D = size / R elements;
     * rows int32 or int64 of any shape (read flat, n entries), each in [0, R).
     * y (n, D) of table's dtype: y[i] = table[rows[i]], zeros where
     * rows[i] == skip (-1: none). Embedding lookups, getitem by rows, the
     * rows of optimizer state: the hot path of embeddings, one prefetched row
     * copy per index, where gather would need an offsets array D times
     * larger. */
    void (*gather_rows)(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y);
    /* table[rows[i]] += alpha * x[i] for rows[i] != skip, x (n, D); each
     * table row sums its terms in input order i, so repeated rows accumulate
     * deterministically. Entries equal to skip are passed over unread, here
     * and in gather_rows, so skip may lie outside [0, R) (composites use R as
     * "no row"). With scale_by_count every term is also scaled by
     * 1 / (count of rows[i] in rows, skipped entries included; skip is then
     * -1 or a row of the table). alpha 1 without scaling adds (one rounding);
     * otherwise fma(x, alpha * scale, table). f32 or f64; i32 and
     * i64 with alpha 1 (wrapping). Embedding and getitem grads, sparse grads:
     * the deterministic row accumulation (a GPU sorts by row, then sums each
     * segment in order) that no elementwise primitive can express. */
    void (*index_add_rows)(dz_array *table, const dz_array *rows, const dz_array *x, double alpha, int64_t skip,
                           bool scale_by_count);
    /* *min and *max of an int32/int64 array with at least one element, on the
     * host (synchronises): index and label range checks, the one result the
     * host needs from index data, two numbers instead of a copy of it. */
    void (*index_range)(const dz_array *idx, int64_t *min, int64_t *max);

    /* The optional fused kernels (NULL: none; any slot NULL: composite). */
    const dz_backend_fused *fused;
} dz_backend;

/* The fused kernel `slot` of backend `be`, or NULL when it has none. */
#define DZ_FUSED(be, slot) ((be)->fused ? (be)->fused->slot : NULL)

const dz_backend *dz_backend_cpu(void);
/* Tests: switch the CPU backend's fused kernels off (every op then runs its
 * composite of primitives) or back on. Call it while no op runs. */
void dz_backend_cpu_set_fused(bool on);
/* Tests: the CPU backend with this fused table (a subset of its own, say: the
 * kernels another backend has), or none for NULL. */
void dz_backend_cpu_use_fused(const dz_backend_fused *table);
/* The CUDA module's backend, loaded at the first call (cuda_loader.c); NULL
 * when there is no module or no GPU, and then dz_cuda_unavailable_reason()
 * says why ("no CUDA device: ..."). */
const dz_backend *dz_backend_cuda(void);
const char *dz_cuda_unavailable_reason(void);
/* Tests: the CUDA backend's fused kernels off or back on, as
 * dz_backend_cpu_set_fused (nothing without a device). */
void dz_backend_cuda_set_fused(bool on);
/* The CUDA backend if a program has loaded it already, else NULL (loads nothing). */
const dz_backend *dz_backend_cuda_if_loaded(void);
/* Raises DZ_ERR_CUDA naming op when the device recorded a failure since the
 * last check (kernels run asynchronously: a failure shows at the next check). */
dz_status dz_cuda_check(const char *op);
const dz_backend *dz_backend_for(dz_device device);
#define dz_backend_of(array) dz_backend_for((array)->device)

#endif

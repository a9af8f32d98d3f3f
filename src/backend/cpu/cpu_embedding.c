/* CPU embedding kernels: the in-place max_norm renorm and the EmbeddingBag
 * reductions (the row gather and the dense grad's row scatter-add are the
 * row primitives of cpu_rows.c).
 * Every per-row sum runs in input order, so results are reproducible and
 * match PyTorch's CPU kernels bit for bit where they are sequential too.
 *
 * The work is in short loops over one row (D elements) with restrict
 * pointers, inlined into kernels built with DZ_FMA_CLONES (cpu_clones.h), so
 * each row is added, scaled or compared 8 floats at a time. Each kernel runs
 * over a range: of bags for the bag reductions (each bag writes its own output
 * row), and of table rows [row_begin, row_end) for the scatter-adds, which
 * scan every entry and add only those landing in their rows, so that ranges
 * run in parallel would never write the same row and each row still sums in
 * input order. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/base.h"
#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_row_norm.h"

/* ---- typed row operations ------------------------------------------------ */

#define DEFINE_ROW_OPS(T, S, FMA)                                                                  \
    static inline void add_row_##S(T *restrict dst, const T *restrict src, int64_t n)              \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] += src[d];                                                                      \
    }                                                                                              \
    /* dst = fma(src, s, dst): one rounding, as PyTorch's vectorised add with alpha */             \
    static inline void fma_row_##S(T *restrict dst, const T *restrict src, T s, int64_t n)         \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] = FMA(src[d], s, dst[d]);                                                       \
    }                                                                                              \
    /* dst += src * s: two roundings, as PyTorch's non-fused paths */                              \
    static inline void mul_add_row_##S(T *restrict dst, const T *restrict src, T s, int64_t n)     \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] += src[d] * s;                                                                  \
    }                                                                                              \
    static inline void scale_row_##S(T *restrict dst, const T *restrict src, T s, int64_t n)       \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] = src[d] * s;                                                                   \
    }                                                                                              \
    static inline void scale_in_place_##S(T *restrict dst, T s, int64_t n)                        \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] *= s;                                                                           \
    }                                                                                              \
    static inline void divide_in_place_##S(T *restrict dst, T s, int64_t n)                       \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++)                                                            \
            dst[d] /= s;                                                                           \
    }                                                                                              \
    /* BLAS ?dot as PyTorch calls it: OpenBLAS sums products rounded to T in */                    \
    /* double (its SIMD blocks for rows of 32 and more are not reproduced) */                      \
    static inline T dot_row_##S(const T *a, const T *b, int64_t n)                                 \
    {                                                                                              \
        double s = 0;                                                                              \
        for (int64_t d = 0; d < n; d++) {                                                          \
            T product = a[d] * b[d];                                                               \
            s += product;                                                                          \
        }                                                                                          \
        return (T)s;                                                                               \
    }

DEFINE_ROW_OPS(float, f32, fmaf)
DEFINE_ROW_OPS(double, f64, fma)

/* ---- renorm --------------------------------------------------------------- */

/* Tensor.norm(p) of a row other than dz_row_norm_f32's: accumulated in double (and
 * rounded to float for f32 weights, as torch's norm is). */
static double row_norm(const dz_array *w, int64_t k, double p)
{
    const int64_t D = w->shape[1];
    double acc = p == -INFINITY ? INFINITY : 0;
    for (int64_t d = 0; d < D; d++) {
        double x = fabs(w->dtype == DZ_F32 ? (double)((const float *)w->data)[k * D + d]
                                           : ((const double *)w->data)[k * D + d]);
        if (p == 2)
            acc += x * x;
        else if (p == 1)
            acc += x;
        else if (p == INFINITY)
            acc = x > acc ? x : acc;
        else if (p == -INFINITY)
            acc = x < acc ? x : acc;
        else if (p == 0)
            acc += x != 0;
        else
            acc += pow(x, p);
    }
    double norm = p == 2 ? sqrt(acc) : p == 1 || p == 0 || isinf(p) ? acc : pow(acc, 1.0 / p);
    return w->dtype == DZ_F32 ? (float)norm : norm;
}

DZ_FMA_CLONES static void renorm_row(dz_array *w, int64_t k, double max_norm, double p)
{
    const int64_t D = w->shape[1];
    const bool float_order = w->dtype == DZ_F32 && (p == 1 || p == 2);
    const double norm = float_order ? dz_row_norm_f32((const float *)w->data + k * D, D, p == 1) : row_norm(w, k, p);
    if (!(norm > max_norm))
        return;
    double scale = max_norm / (norm + 1e-7);
    if (w->dtype == DZ_F32)
        scale_in_place_f32((float *)w->data + k * D, (float)scale, D);
    else
        scale_in_place_f64((double *)w->data + k * D, scale, D);
}

void dz_cpu_embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type)
{
    bool *seen = dz_xcalloc((size_t)(w->shape[0] ? w->shape[0] : 1), sizeof *seen);
    for (int64_t i = 0; i < idx->size; i++) {
        int64_t k = dz_index_at(idx->data, idx->dtype, i);
        if (!seen[k]) {
            seen[k] = true;
            renorm_row(w, k, max_norm, norm_type);
        }
    }
    free(seen);
}

/* ---- EmbeddingBag --------------------------------------------------------- */

/* The bags: bag b is idx[starts[b] : starts[b + 1]], without the entries
 * equal to skip_idx; rows have D elements. */
typedef struct {
    const dz_array *idx;   /* (N,) int32 or int64 */
    const int64_t *starts; /* (B + 1,) */
    int64_t skip_idx, D;
} bag_layout;

static bag_layout layout_of(const dz_array *idx, const dz_array *starts, int64_t skip_idx, int64_t D)
{
    return (bag_layout){idx, starts->data, skip_idx, D};
}

/* Entries of bag b that are not skip_idx. */
static int64_t bag_count(const bag_layout *L, int64_t b)
{
    int64_t count = 0;
    for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++)
        count += dz_index_at(L->idx->data, L->idx->dtype, j) != L->skip_idx;
    return count;
}

/* sum/mean of bags [begin, end): y[b] = sum_j w[idx[j]] (* psw[j]); f32 with
 * per-sample weights and no padding uses fma as PyTorch's fast path,
 * otherwise multiply-add. */
#define DEFINE_BAG_SUM(T, S)                                                                       \
    DZ_FMA_CLONES static void bag_sum_##S(const bag_layout *L, const T *w, const T *psw, bool mean, bool fused, \
                                          T *y, int64_t begin, int64_t end)                        \
    {                                                                                              \
        const int64_t D = L->D;                                                                    \
        for (int64_t b = begin; b < end; b++) {                                                    \
            T *out = y + b * D;                                                                    \
            memset(out, 0, (size_t)D * sizeof(T));                                                 \
            for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++) {                            \
                int64_t k = dz_index_at(L->idx->data, L->idx->dtype, j);                           \
                if (k == L->skip_idx)                                                              \
                    continue;                                                                      \
                if (!psw)                                                                          \
                    add_row_##S(out, w + k * D, D);                                                \
                else if (fused)                                                                    \
                    fma_row_##S(out, w + k * D, psw[j], D);                                        \
                else                                                                               \
                    mul_add_row_##S(out, w + k * D, psw[j], D);                                    \
            }                                                                                      \
            int64_t count = mean ? bag_count(L, b) : 0;                                            \
            if (count > 0)                                                                         \
                divide_in_place_##S(out, (T)count, D);                                             \
        }                                                                                          \
    }

/* max of bags [begin, end): the first non-skipped row starts the bag, later
 * rows replace the elements they exceed (strict >: the first maximum stays);
 * empty bags give 0 and -1. */
#define DEFINE_BAG_MAX(T, S)                                                                       \
    static inline void max_row_##S(T *restrict out, int64_t *restrict arg, const T *restrict row, int64_t k, \
                                   int64_t n)                                                      \
    {                                                                                              \
        for (int64_t d = 0; d < n; d++) {                                                          \
            bool greater = row[d] > out[d];                                                        \
            out[d] = greater ? row[d] : out[d];                                                    \
            arg[d] = greater ? k : arg[d];                                                         \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void bag_max_##S(const bag_layout *L, const T *w, T *y, int64_t *argmax, int64_t begin, \
                                          int64_t end)                                             \
    {                                                                                              \
        const int64_t D = L->D;                                                                    \
        for (int64_t b = begin; b < end; b++) {                                                    \
            T *out = y + b * D;                                                                    \
            int64_t *arg = argmax + b * D;                                                         \
            bool started = false;                                                                  \
            memset(out, 0, (size_t)D * sizeof(T));                                                 \
            for (int64_t d = 0; d < D; d++)                                                        \
                arg[d] = -1;                                                                       \
            for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++) {                            \
                int64_t k = dz_index_at(L->idx->data, L->idx->dtype, j);                           \
                if (k == L->skip_idx)                                                              \
                    continue;                                                                      \
                if (started) {                                                                     \
                    max_row_##S(out, arg, w + k * D, k, D);                                        \
                    continue;                                                                      \
                }                                                                                  \
                started = true;                                                                    \
                memcpy(out, w + k * D, (size_t)D * sizeof(T));                                     \
                for (int64_t d = 0; d < D; d++)                                                    \
                    arg[d] = k;                                                                    \
            }                                                                                      \
        }                                                                                          \
    }

/* gw[idx[j]] = fma(scale_j, gy[b], gw[idx[j]]) for j in bag b, in input
 * order, for the rows idx[j] in [row_begin, row_end); scale_j built in double
 * as PyTorch's dense sum/mean backward. */
#define DEFINE_BAG_SCATTER(T, S)                                                                   \
    DZ_FMA_CLONES static void bag_scatter_##S(const bag_layout *L, const T *gy, const T *psw, bool mean, \
                                              const int64_t *counts, int64_t B, T *gw, int64_t row_begin, \
                                              int64_t row_end)                                     \
    {                                                                                              \
        const int64_t D = L->D;                                                                    \
        for (int64_t b = 0; b < B; b++) {                                                          \
            int64_t size = mean ? bag_count(L, b) : 0;                                             \
            for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++) {                            \
                int64_t k = dz_index_at(L->idx->data, L->idx->dtype, j);                           \
                if (k == L->skip_idx || k < row_begin || k >= row_end)                             \
                    continue;                                                                      \
                double scale = 1.0;                                                                \
                if (counts)                                                                        \
                    scale /= (double)counts[k];                                                    \
                if (size > 0)                                                                      \
                    scale /= (double)size;                                                         \
                if (psw)                                                                           \
                    scale *= psw[j];                                                               \
                if (scale == 1.0)                                                                  \
                    add_row_##S(gw + k * D, gy + b * D, D);                                        \
                else                                                                               \
                    fma_row_##S(gw + k * D, gy + b * D, (T)scale, D);                              \
            }                                                                                      \
        }                                                                                          \
    }

/* rows[j] = gy[b] * (psw[j] or 1/count), for j in the bags b in [begin, end). */
#define DEFINE_BAG_GRAD_ROWS(T, S)                                                                 \
    DZ_FMA_CLONES static void bag_grad_rows_##S(const bag_layout *L, const T *gy, const T *psw, bool mean, \
                                                T *rows, int64_t begin, int64_t end)               \
    {                                                                                              \
        const int64_t D = L->D;                                                                    \
        for (int64_t b = begin; b < end; b++) {                                                    \
            int64_t count = mean ? bag_count(L, b) : 1;                                            \
            for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++) {                            \
                if (dz_index_at(L->idx->data, L->idx->dtype, j) == L->skip_idx) {                  \
                    memset(rows + j * D, 0, (size_t)D * sizeof(T));                                \
                    continue;                                                                      \
                }                                                                                  \
                T s = psw ? psw[j] : (T)(1.0 / (double)count);                                     \
                if (s == 1)                                                                        \
                    memcpy(rows + j * D, gy + b * D, (size_t)D * sizeof(T));                       \
                else                                                                               \
                    scale_row_##S(rows + j * D, gy + b * D, s, D);                                 \
            }                                                                                      \
        }                                                                                          \
    }

/* gw[argmax[b, d], d] += gy[b, d]: one scattered element at a time (bags may
 * share rows, so this runs in bag order). */
#define DEFINE_BAG_MAX_BACKWARD(T, S)                                                              \
    static void bag_max_backward_##S(const T *gy, const int64_t *argmax, int64_t B, int64_t D, T *gw) \
    {                                                                                              \
        for (int64_t b = 0; b < B; b++)                                                            \
            for (int64_t d = 0; d < D; d++)                                                        \
                if (argmax[b * D + d] >= 0)                                                        \
                    gw[argmax[b * D + d] * D + d] += gy[b * D + d];                                \
    }

/* gpsw[j] = dot(gy[b], w[idx[j]]) for j in the bags b in [begin, end). */
#define DEFINE_BAG_WEIGHTS_GRAD(T, S)                                                              \
    static void bag_weights_grad_##S(const bag_layout *L, const T *gy, const T *w, T *gpsw, int64_t begin, \
                                     int64_t end)                                                  \
    {                                                                                              \
        const int64_t D = L->D;                                                                    \
        for (int64_t b = begin; b < end; b++)                                                      \
            for (int64_t j = L->starts[b]; j < L->starts[b + 1]; j++) {                            \
                int64_t k = dz_index_at(L->idx->data, L->idx->dtype, j);                           \
                gpsw[j] = k == L->skip_idx ? 0 : dot_row_##S(gy + b * D, w + k * D, D);            \
            }                                                                                      \
    }

#define DEFINE_BAG_KERNELS(T, S)                                                                   \
    DEFINE_BAG_SUM(T, S)                                                                           \
    DEFINE_BAG_MAX(T, S)                                                                           \
    DEFINE_BAG_SCATTER(T, S)                                                                       \
    DEFINE_BAG_GRAD_ROWS(T, S)                                                                     \
    DEFINE_BAG_MAX_BACKWARD(T, S)                                                                  \
    DEFINE_BAG_WEIGHTS_GRAD(T, S)

DEFINE_BAG_KERNELS(float, f32)
DEFINE_BAG_KERNELS(double, f64)

#define BAGS(starts) ((starts)->size - 1)

void dz_cpu_embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                              int64_t skip_idx, bool mean, dz_array *y)
{
    const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
    const void *p = psw ? psw->data : NULL;
    if (w->dtype == DZ_F32)
        bag_sum_f32(&L, w->data, p, mean, skip_idx < 0, y->data, 0, BAGS(starts));
    else
        bag_sum_f64(&L, w->data, p, mean, false, y->data, 0, BAGS(starts));
}

void dz_cpu_embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax)
{
    const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
    if (w->dtype == DZ_F32)
        bag_max_f32(&L, w->data, y->data, argmax->data, 0, BAGS(starts));
    else
        bag_max_f64(&L, w->data, y->data, argmax->data, 0, BAGS(starts));
}

void dz_cpu_embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                  const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq, dz_array *gw)
{
    const bag_layout L = layout_of(idx, starts, skip_idx, gw->shape[1]);
    int64_t *counts = scale_by_freq ? dz_cpu_row_counts(idx, gw->shape[0]) : NULL;
    const void *p = psw ? psw->data : NULL;
    if (gw->dtype == DZ_F32)
        bag_scatter_f32(&L, gy->data, p, mean, counts, BAGS(starts), gw->data, 0, gw->shape[0]);
    else
        bag_scatter_f64(&L, gy->data, p, mean, counts, BAGS(starts), gw->data, 0, gw->shape[0]);
    free(counts);
}

void dz_cpu_embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows)
{
    const bag_layout L = layout_of(idx, starts, skip_idx, gy->shape[1]);
    const void *p = psw ? psw->data : NULL;
    if (gy->dtype == DZ_F32)
        bag_grad_rows_f32(&L, gy->data, p, mean, rows->data, 0, BAGS(starts));
    else
        bag_grad_rows_f64(&L, gy->data, p, mean, rows->data, 0, BAGS(starts));
}

void dz_cpu_embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw)
{
    const int64_t B = gy->shape[0], D = gy->shape[1];
    if (gy->dtype == DZ_F32)
        bag_max_backward_f32(gy->data, argmax->data, B, D, gw->data);
    else
        bag_max_backward_f64(gy->data, argmax->data, B, D, gw->data);
}

void dz_cpu_embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw)
{
    const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
    if (w->dtype == DZ_F32)
        bag_weights_grad_f32(&L, gy->data, w->data, gpsw->data, 0, BAGS(starts));
    else
        bag_weights_grad_f64(&L, gy->data, w->data, gpsw->data, 0, BAGS(starts));
}

/* The embedding kernels: dispatchers, and the composites that run when a
 * backend has no fused kernel. Each composite computes what the slot's
 * comment in backend.h says (and the CPU kernel in
 * src/backend/cpu/cpu_embedding.c does) with the required primitives only;
 * elements reach the host only where a comment says so.
 *
 * Notation: w (V, D) the table, idx (N,) the entries, B bags with bounds
 * starts (B + 1,). An entry is left out when it equals skip_idx (padding) or
 * lies in no bag. Left-out entries get the id one past the last (B for a
 * bag, N for a position, V for a row), which gather_rows and index_add_rows
 * are told to skip. */
#include "embedding_kernels.h"

#include <math.h>
#include <stdlib.h>

#include "../backend/backend.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "temps.h"

/* ---- ids ------------------------------------------------------------------------ */

/* 1 where x == value, else 0, in x's dtype. */
static dz_array *equals(dz_temps *tmp, const dz_array *x, double value)
{
    if (tmp->failed)
        return NULL;
    return dz_tmp_binary(tmp, DZ_BINARY_EQUAL, x, dz_tmp_scalar(tmp, x->device, x->dtype, value));
}

/* ids with `marker` where `where` (0/1, int64) is 1; ids are >= 0 elsewhere
 * and marker is above them all. */
static dz_array *mark(dz_temps *tmp, const dz_array *ids, const dz_array *where, int64_t marker)
{
    dz_array *marks = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, where, (double)marker);
    return dz_tmp_binary(tmp, DZ_BINARY_MAXIMUM, ids, marks);
}

/* idx (any shape) as int64 (N,). */
static const dz_array *index_flat(dz_temps *tmp, const dz_array *idx)
{
    return dz_tmp_astype(tmp, dz_tmp_reshape(tmp, idx, 1, &idx->size), DZ_I64);
}

/* The bag bounds on the host, through `view` (this synchronises with the
 * device); NULL when an earlier step or the view's copy failed. */
static const int64_t *read_bounds(dz_temps *tmp, const dz_array *starts, dz_host_view *view)
{
    const int64_t *bounds = tmp->failed ? NULL : dz_host_view_read(view, starts);
    tmp->failed = tmp->failed || !bounds;
    return bounds;
}

/* (N,) int64: the bag of each entry, B for the left-out ones. The bounds
 * are read on the host (this synchronises with the device); which entries
 * are skip_idx is found on the device. */
static dz_array *entry_bags(dz_temps *tmp, const dz_array *idx, const dz_array *starts, int64_t skip_idx)
{
    const int64_t N = idx->size, B = starts->size - 1;
    dz_host_view view;
    const int64_t *bounds = read_bounds(tmp, starts, &view);
    if (!bounds)
        return NULL;
    int64_t *ids = dz_xmalloc((size_t)(N ? N : 1) * sizeof *ids);
    for (int64_t j = 0; j < N; j++)
        ids[j] = B;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = bounds[b]; j < bounds[b + 1]; j++)
            ids[j] = b;
    dz_host_view_close(&view);
    dz_array *bag = dz_tmp_from_host(tmp, idx->device, 1, DZ_SHAPE(N), ids);
    free(ids);
    return skip_idx < 0 ? bag : mark(tmp, bag, equals(tmp, index_flat(tmp, idx), (double)skip_idx), B);
}

/* (N,) int64: j for each kept entry j, N for the left-out ones. bag:
 * entry_bags. */
static dz_array *kept_positions(dz_temps *tmp, const dz_array *bag, int64_t B)
{
    if (tmp->failed)
        return NULL;
    return mark(tmp, dz_tmp_arange(tmp, bag->device, bag->size), equals(tmp, bag, (double)B), bag->size);
}

/* (R, 1) int64: how many entries of `rows` (each in [0, R) or skip) name
 * each row. */
static dz_array *count_rows(dz_temps *tmp, const dz_array *rows, int64_t R, int64_t skip)
{
    if (tmp->failed)
        return NULL;
    dz_array *count = dz_tmp_zeros(tmp, rows->device, DZ_I64, 2, DZ_SHAPE(R, 1));
    dz_array *ones = dz_tmp_full(tmp, rows->device, DZ_I64, 2, DZ_SHAPE(rows->size, 1), 1);
    if (!tmp->failed) /* count[rows[i]] += 1 in input order, passing rows[i] == skip by */
        dz_backend_of(count)->index_add_rows(count, rows, ones, 1.0, skip, false);
    return count;
}

/* (B, 1) float64: the kept entries of each bag, at least 1 (a bag without
 * any divides zeros). bag: entry_bags. */
static const dz_array *bag_sizes(dz_temps *tmp, const dz_array *bag, int64_t B)
{
    if (tmp->failed)
        return NULL;
    dz_array *count = count_rows(tmp, bag, B, B);
    dz_array *at_least_1 = dz_tmp_binary(tmp, DZ_BINARY_MAXIMUM, count, dz_tmp_scalar(tmp, bag->device, DZ_I64, 1));
    return dz_tmp_astype(tmp, at_least_1, DZ_F64);
}

/* (N, 1) float64: the size of each entry's bag, 1 for left-out entries. */
static dz_array *entry_sizes(dz_temps *tmp, const dz_array *bag, int64_t B)
{
    if (tmp->failed)
        return NULL;
    dz_array *size = dz_tmp_gather_rows(tmp, bag_sizes(tmp, bag, B), bag, B);
    return dz_tmp_binary(tmp, DZ_BINARY_MAXIMUM, size, dz_tmp_scalar(tmp, bag->device, DZ_F64, 1));
}

/* (N, 1): psw[j], or 0 for the left-out entries (whatever psw holds there). */
static dz_array *kept_weights(dz_temps *tmp, const dz_array *psw, const dz_array *bag, int64_t B)
{
    if (tmp->failed)
        return NULL;
    dz_array *column = dz_tmp_reshape(tmp, psw, 2, DZ_SHAPE(bag->size, 1));
    return dz_tmp_gather_rows(tmp, column, kept_positions(tmp, bag, B), bag->size);
}

/* ---- renorm --------------------------------------------------------------------- */

/* (n,) int64: the distinct rows named by idx, in order of first appearance.
 * idx is read on a host view, which synchronises with the device. */
static dz_array *distinct_rows(dz_temps *tmp, const dz_array *idx, int64_t V)
{
    if (tmp->failed)
        return NULL;
    dz_host_view view;
    const void *entries = dz_host_view_read(&view, idx);
    if (!entries) {
        tmp->failed = true;
        return NULL;
    }
    int64_t *rows = dz_xmalloc((size_t)(idx->size ? idx->size : 1) * sizeof *rows), n = 0;
    bool *seen = dz_xcalloc((size_t)(V ? V : 1), sizeof *seen);
    for (int64_t i = 0; i < idx->size; i++) {
        int64_t k = dz_index_at(entries, idx->dtype, i);
        if (!seen[k]) {
            seen[k] = true;
            rows[n++] = k;
        }
    }
    dz_host_view_close(&view);
    free(seen);
    dz_array *distinct = dz_tmp_from_host(tmp, idx->device, 1, DZ_SHAPE(n), rows);
    free(rows);
    return distinct;
}

/* (n, 1): the p-norm of each row of x (n, D) float64, as Tensor.norm(p)
 * summed in double. */
static dz_array *row_norms(dz_temps *tmp, const dz_array *x, double p)
{
    dz_array *a = dz_tmp_unary(tmp, DZ_UNARY_ABS, x, 0); // |x|
    if (p == 2)
        return dz_tmp_unary(tmp, DZ_UNARY_SQRT,
                            dz_tmp_reduce(tmp, DZ_REDUCE_SUM, dz_tmp_unary(tmp, DZ_UNARY_SQUARE, a, 0), 1), 0);
    if (p == 1)
        return dz_tmp_reduce(tmp, DZ_REDUCE_SUM, a, 1);
    if (p == INFINITY)
        return dz_tmp_reduce(tmp, DZ_REDUCE_MAX, a, 1);
    if (p == -INFINITY)
        return dz_tmp_reduce(tmp, DZ_REDUCE_MIN, a, 1);
    if (p == 0) /* the count of nonzeros */
        return dz_tmp_reduce(tmp, DZ_REDUCE_SUM, dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, equals(tmp, a, 0), 1), 1);
    return dz_tmp_unary(tmp, DZ_UNARY_POW, dz_tmp_reduce(tmp, DZ_REDUCE_SUM, dz_tmp_unary(tmp, DZ_UNARY_POW, a, p), 1),
                        1 / p);
}

/* Each distinct row k of idx, once: w[k] *= max_norm / (norm + 1e-7) where
 * norm = norm_p(w[k]) > max_norm.
 *     rows (n, D) = w[distinct]     factor (n, 1) = that, or 1
 *     w[distinct] = rows * factor   (a scatter: the rows are distinct)
 * The norm is summed in double in order (rounded to float for f32), as the
 * fused kernel: bit-exact, except for f32 with p 1 or 2, whose fused norm
 * follows PyTorch's float order (within float rounding here). */
static bool renorm_composite(dz_array *w, const dz_array *idx, double max_norm, double p)
{
    const int64_t V = w->shape[0], D = w->shape[1];
    dz_temps tmp = {0};
    dz_array *distinct = distinct_rows(&tmp, idx, V);                             // (n,)
    dz_array *rows = dz_tmp_gather_rows(&tmp, w, distinct, -1);                   // (n, D)
    const dz_array *norm = row_norms(&tmp, dz_tmp_astype(&tmp, rows, DZ_F64), p); // (n, 1)
    if (w->dtype == DZ_F32)
        norm = dz_tmp_astype(&tmp, dz_tmp_astype(&tmp, norm, DZ_F32), DZ_F64);
    /* factor = max_norm / (norm + 1e-7) clipped to [stay, 1 / stay], where
     * stay is 1 for a row within max_norm (the factor becomes 1) and 0 for a
     * row beyond it (the factor stays as it is) */
    dz_array *beyond = dz_tmp_unary(&tmp, DZ_UNARY_STEP, dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, norm, -max_norm), 0);
    dz_array *stay = dz_tmp_unary(&tmp, DZ_UNARY_RSUB_SCALAR, beyond, 1);
    dz_array *padded = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, norm, 1e-7);
    dz_array *factor = dz_tmp_unary(&tmp, DZ_UNARY_RDIV_SCALAR, padded, max_norm);
    factor = dz_tmp_binary(&tmp, DZ_BINARY_MINIMUM, factor, dz_tmp_unary(&tmp, DZ_UNARY_RDIV_SCALAR, stay, 1));
    factor = dz_tmp_binary(&tmp, DZ_BINARY_MAXIMUM, factor, stay);
    dz_array *scaled = dz_tmp_binary(&tmp, DZ_BINARY_MUL, rows, dz_tmp_astype(&tmp, factor, w->dtype)); // (n, D)
    dz_array *first = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, distinct, (double)D);                     // element k * D
    if (!tmp.failed) {
        dz_gather_spec rows_of_w = {.ndim = 2, .shape = {distinct->size, D}, .stride = {0, 1},
                                    .offsets_axis = 0, .offsets_ndim = 1, .offsets = first};
        dz_backend_of(w)->scatter(scaled, &rows_of_w, w);
    }
    return dz_tmp_end(&tmp);
}

/* ---- EmbeddingBag forward ---------------------------------------------------------- */

/* y[b] = the sum over the kept entries j of bag b of w[idx[j]] (times
 * psw[j]), in input order, divided by their count when mean:
 *     rows (N, D) = w[idx] (* psw)     y (B, D) = rows added at their bags
 * Bit-exact, except for f32 with psw and no skip_idx, where the fused kernel
 * adds by fma as PyTorch's fast path does (here the product is rounded
 * first). */
static bool bag_sum_composite(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                              int64_t skip_idx, bool mean, dz_array *y)
{
    const int64_t N = idx->size, B = starts->size - 1;
    dz_temps tmp = {0};
    dz_array *bag = entry_bags(&tmp, idx, starts, skip_idx); // (N,)
    dz_array *rows = dz_tmp_gather_rows(&tmp, w, idx, -1);   // (N, D)
    if (psw)
        rows = dz_tmp_binary(&tmp, DZ_BINARY_MUL, rows, dz_tmp_reshape(&tmp, psw, 2, DZ_SHAPE(N, 1)));
    dz_array *sums = mean ? dz_tmp_zeros(&tmp, y->device, y->dtype, 2, y->shape) : y;            // (B, D)
    const dz_array *size = mean ? dz_tmp_astype(&tmp, bag_sizes(&tmp, bag, B), y->dtype) : NULL; // (B, 1)
    if (!tmp.failed) {
        const dz_backend *be = dz_backend_of(y);
        if (!mean)
            be->fill(y, 0);
        be->index_add_rows(sums, bag, rows, 1.0, B, false);
        if (mean)
            be->binary(DZ_BINARY_DIV, sums, size, y);
    }
    return dz_tmp_end(&tmp);
}

/* The bags as a grid of B x L slots, L the longest bag (*L): slot (b, l)
 * holds the row idx[starts[b] + l], or V when it is past the end of bag b or
 * that entry is skip_idx. (B * L, 1) int64. The bounds are read on the host
 * (this synchronises with the device). */
static dz_array *bag_slots(dz_temps *tmp, const dz_array *idx, const dz_array *starts, int64_t skip_idx, int64_t V,
                           int64_t *L)
{
    *L = 0;
    const int64_t N = idx->size, B = starts->size - 1;
    dz_host_view view;
    const int64_t *bounds = read_bounds(tmp, starts, &view);
    if (!bounds)
        return NULL;
    int64_t longest = 0;
    for (int64_t b = 0; b < B; b++)
        longest = bounds[b + 1] - bounds[b] > longest ? bounds[b + 1] - bounds[b] : longest;
    const int64_t slots = B * longest;
    int64_t *entries = dz_xmalloc((size_t)(slots ? slots : 1) * sizeof *entries);
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < longest; l++)
            entries[b * longest + l] = bounds[b] + l < bounds[b + 1] ? bounds[b] + l : N;
    dz_host_view_close(&view);
    *L = longest;
    dz_array *entry = dz_tmp_from_host(tmp, idx->device, 2, DZ_SHAPE(slots, 1), entries); // N: none
    free(entries);
    dz_array *index = dz_tmp_reshape(tmp, index_flat(tmp, idx), 2, DZ_SHAPE(N, 1));
    dz_array *rows = mark(tmp, dz_tmp_gather_rows(tmp, index, entry, N), equals(tmp, entry, (double)N), V);
    return skip_idx < 0 ? rows : mark(tmp, rows, equals(tmp, rows, (double)skip_idx), V);
}

/* (B, 1, D) int64: for each bag b and column d the slot b * L + l of the
 * first kept slot l where vals (B, L, D) is largest, a left-out slot of bag
 * b when it has no kept entry. left (B, L, 1): 1 on the left-out slots.
 *     top = max over l of min(vals, bound)   with bound +inf on kept slots
 *           and -inf on left-out ones (NaN becomes +inf)
 *     first = L - 1 - max over l of hit * (L - 1 - l)   hit: kept, at top */
static dz_array *first_max_slot(dz_temps *tmp, const dz_array *vals, const dz_array *left)
{
    if (tmp->failed)
        return NULL;
    const dz_device dev = vals->device;
    const int64_t B = vals->shape[0], L = vals->shape[1];
    const dz_array *left_v = dz_tmp_astype(tmp, left, vals->dtype);
    dz_array *half = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, left_v, 0.5);    // 0.5 kept, -0.5 left out
    dz_array *bound = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, half, INFINITY); // +inf kept, -inf left out
    dz_array *bounded = dz_tmp_binary(tmp, DZ_BINARY_MINIMUM, vals, bound);
    dz_array *top = dz_tmp_reduce(tmp, DZ_REDUCE_MAX, bounded, 1); // (B, 1, D)
    const dz_array *at_top = dz_tmp_astype(tmp, dz_tmp_binary(tmp, DZ_BINARY_EQUAL, bounded, top), DZ_I64);
    dz_array *kept = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, left, 1);
    dz_array *hit = dz_tmp_binary(tmp, DZ_BINARY_MUL, at_top, kept); // (B, L, D)
    dz_array *l = dz_tmp_reshape(tmp, dz_tmp_arange(tmp, dev, L), 3, DZ_SHAPE(1, L, 1));
    dz_array *to_end = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, l, (double)(L - 1));
    dz_array *latest = dz_tmp_reduce(tmp, DZ_REDUCE_MAX, dz_tmp_binary(tmp, DZ_BINARY_MUL, hit, to_end), 1);
    dz_array *first = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, latest, (double)(L - 1)); // (B, 1, D)
    dz_array *b = dz_tmp_reshape(tmp, dz_tmp_arange(tmp, dev, B), 3, DZ_SHAPE(B, 1, 1));
    return dz_tmp_binary(tmp, DZ_BINARY_ADD, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, b, (double)L), first);
}

/* y[b, d] = the first maximum over the kept entries j of bag b of
 * w[idx[j], d], argmax[b, d] its row; 0 and -1 for a bag without any. On the
 * bags padded to B x L slots (B * L * D temporaries):
 *     vals (B, L, D) = w[slot rows], 0 on left-out slots
 *     slot (B, 1, D) = the first kept slot holding the max over l
 *     y = vals at slot   argmax = the row of slot, -1 when left out
 * Bit-exact, but for NaN, which counts as +inf here (the first NaN or +inf
 * wins): the fused kernel's strict > lets a NaN win only as a bag's first
 * kept entry. */
static bool bag_max_composite(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax)
{
    const dz_backend *be = dz_backend_of(w);
    const int64_t V = w->shape[0], D = w->shape[1], B = starts->size - 1;
    dz_temps tmp = {0};
    int64_t L;
    dz_array *slot_rows = bag_slots(&tmp, idx, starts, skip_idx, V, &L); // (B * L, 1)
    if (!tmp.failed && (L == 0 || D == 0)) { /* no entries, or rows of nothing */
        be->fill(y, 0);
        be->fill(argmax, -1);
        return dz_tmp_end(&tmp);
    }
    dz_array *vals = dz_tmp_reshape(&tmp, dz_tmp_gather_rows(&tmp, w, slot_rows, V), 3, DZ_SHAPE(B, L, D));
    dz_array *left = dz_tmp_reshape(&tmp, equals(&tmp, slot_rows, (double)V), 3, DZ_SHAPE(B, L, 1));
    dz_array *slot = first_max_slot(&tmp, vals, left);             // (B, 1, D)
    dz_array *row = dz_tmp_gather_rows(&tmp, slot_rows, slot, -1); // (B * D, 1), V: left out
    dz_array *none = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, equals(&tmp, row, (double)V), (double)(V + 1));
    dz_array *d = dz_tmp_reshape(&tmp, dz_tmp_arange(&tmp, w->device, D), 3, DZ_SHAPE(1, 1, D));
    dz_array *slot_start = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, slot, (double)D);
    dz_array *element = dz_tmp_binary(&tmp, DZ_BINARY_ADD, slot_start, d);
    dz_array *vals_flat = dz_tmp_reshape(&tmp, vals, 2, DZ_SHAPE(B * L * D, 1));
    dz_array *y_flat = dz_tmp_reshape(&tmp, y, 2, DZ_SHAPE(B * D, 1));
    dz_array *argmax_flat = dz_tmp_reshape(&tmp, argmax, 2, DZ_SHAPE(B * D, 1));
    if (!tmp.failed) {
        be->gather_rows(vals_flat, element, -1, y_flat);   // vals[b, l, d] at slot b * L + l
        be->binary(DZ_BINARY_SUB, row, none, argmax_flat); // V becomes -1
    }
    return dz_tmp_end(&tmp);
}

/* ---- EmbeddingBag backward ---------------------------------------------------------- */

/* (N, 1) of `dtype`: 1 / count(idx[j]) (scale_by_freq) / sizes[j] * weights[j]
 * (those not NULL), computed in double in that order and rounded once, as
 * the fused kernel's scale. V: the rows of w. */
static const dz_array *entry_scales(dz_temps *tmp, const dz_array *idx, int64_t V, bool scale_by_freq,
                                    const dz_array *sizes, const dz_array *weights, dz_dtype dtype)
{
    if (tmp->failed)
        return NULL;
    dz_array *scale = dz_tmp_full(tmp, idx->device, DZ_F64, 2, DZ_SHAPE(idx->size, 1), 1.0);
    if (scale_by_freq) {
        dz_array *count = dz_tmp_gather_rows(tmp, count_rows(tmp, idx, V, -1), idx, -1); // (N, 1): entries at idx[j]
        scale = dz_tmp_binary(tmp, DZ_BINARY_DIV, scale, dz_tmp_astype(tmp, count, DZ_F64));
    }
    if (sizes)
        scale = dz_tmp_binary(tmp, DZ_BINARY_DIV, scale, sizes);
    if (weights)
        scale = dz_tmp_binary(tmp, DZ_BINARY_MUL, scale, dz_tmp_astype(tmp, weights, DZ_F64));
    return dz_tmp_astype(tmp, scale, dtype);
}

/* gw[idx[j]] += gy[bag of j] * scale_j over the kept entries j, in input
 * order, with scale_j = 1 / count(idx[j]) (scale_by_freq) / bag size (mean)
 * * psw[j]:
 *     rows (N, D) = gy[bag] (* scale)     gw += rows added at idx
 * Bit-exact without mean and psw (index_add_rows scales by count itself);
 * with them the fused kernel adds by fma(gy, scale, gw), and here the
 * product is rounded first. */
static bool bag_scatter_composite(const dz_array *gy, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                                  int64_t skip_idx, bool mean, bool scale_by_freq, dz_array *gw)
{
    const int64_t B = starts->size - 1;
    dz_temps tmp = {0};
    dz_array *bag = entry_bags(&tmp, idx, starts, skip_idx); // (N,)
    dz_array *rows = dz_tmp_gather_rows(&tmp, gy, bag, B);   // (N, D), 0: left out
    const bool scaled = mean || psw;
    if (scaled) {
        dz_array *sizes = mean ? entry_sizes(&tmp, bag, B) : NULL;
        dz_array *weights = psw ? kept_weights(&tmp, psw, bag, B) : NULL;
        const dz_array *scale = entry_scales(&tmp, idx, gw->shape[0], scale_by_freq, sizes, weights, gw->dtype);
        rows = dz_tmp_binary(&tmp, DZ_BINARY_MUL, rows, scale);
    }
    if (!tmp.failed)
        dz_backend_of(gw)->index_add_rows(gw, idx, rows, 1.0, skip_idx, scale_by_freq && !scaled);
    return dz_tmp_end(&tmp);
}

/* rows[j] = gy[bag of j] * psw[j], or / bag size when mean (a factor rounded
 * once), zeros for left-out entries: rows = gy[bag] * scale, bit-exact. */
static bool bag_grad_rows_composite(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows)
{
    const int64_t B = starts->size - 1;
    dz_temps tmp = {0};
    dz_array *bag = entry_bags(&tmp, idx, starts, skip_idx); // (N,)
    dz_array *g = dz_tmp_gather_rows(&tmp, gy, bag, B);      // (N, D), 0: left out
    const dz_array *scale = NULL;                            // (N, 1)
    if (psw)
        scale = kept_weights(&tmp, psw, bag, B);
    else if (mean)
        scale = dz_tmp_astype(&tmp, dz_tmp_unary(&tmp, DZ_UNARY_RDIV_SCALAR, entry_sizes(&tmp, bag, B), 1), gy->dtype);
    if (!tmp.failed) {
        const dz_backend *be = dz_backend_of(gy);
        if (scale)
            be->binary(DZ_BINARY_MUL, g, scale, rows);
        else
            be->copy(rows->data, g->data, (size_t)g->size * dz_dtype_size(g->dtype));
    }
    return dz_tmp_end(&tmp);
}

/* gw[argmax[b, d], d] += gy[b, d] where argmax >= 0, in bag order: gw seen as
 * V * D one-element rows, at targets argmax * D + d (V * D, skipped, where
 * argmax < 0). Bit-exact. */
static bool bag_max_backward_composite(const dz_array *gy, const dz_array *argmax, dz_array *gw)
{
    const int64_t B = gy->shape[0], D = gy->shape[1], cells = gw->size;
    dz_temps tmp = {0};
    dz_array *column = dz_tmp_reshape(&tmp, dz_tmp_arange(&tmp, gy->device, D), 2, DZ_SHAPE(1, D));
    dz_array *row_start = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, argmax, (double)D);
    dz_array *target = dz_tmp_binary(&tmp, DZ_BINARY_ADD, row_start, column);
    dz_array *none = dz_tmp_binary(&tmp, DZ_BINARY_LESS_EQUAL, argmax, dz_tmp_scalar(&tmp, gy->device, DZ_I64, -1));
    target = mark(&tmp, target, none, cells); // (B, D)
    dz_array *gw_cells = dz_tmp_reshape(&tmp, gw, 2, DZ_SHAPE(cells, 1));
    dz_array *gy_cells = dz_tmp_reshape(&tmp, gy, 2, DZ_SHAPE(B * D, 1));
    if (!tmp.failed)
        dz_backend_of(gw)->index_add_rows(gw_cells, target, gy_cells, 1.0, cells, false);
    return dz_tmp_end(&tmp);
}

/* gpsw[j] = dot(gy[bag of j], w[idx[j]]), 0 for left-out entries: products
 * rounded to the dtype, summed along D in double (as BLAS ?dot), rounded
 * once. Bit-exact while the reduction adds each row in order (arrays within
 * the CPU reduction's grain); otherwise within double rounding. */
static bool bag_weights_grad_composite(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw)
{
    const int64_t N = idx->size, B = starts->size - 1;
    dz_temps tmp = {0};
    dz_array *bag = entry_bags(&tmp, idx, starts, skip_idx);  // (N,)
    dz_array *gy_rows = dz_tmp_gather_rows(&tmp, gy, bag, B); // (N, D)
    dz_array *w_rows = dz_tmp_gather_rows(&tmp, w, idx, -1);  // (N, D)
    dz_array *products = dz_tmp_binary(&tmp, DZ_BINARY_MUL, gy_rows, w_rows);
    dz_array *dots = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, dz_tmp_astype(&tmp, products, DZ_F64), 1); // (N, 1)
    dz_array *kept = dz_tmp_gather_rows(&tmp, dots, kept_positions(&tmp, bag, B), N);              // 0: left out
    dz_array *gpsw_column = dz_tmp_reshape(&tmp, gpsw, 2, DZ_SHAPE(N, 1));
    if (!tmp.failed)
        dz_backend_of(gpsw)->astype(kept, gpsw_column);
    return dz_tmp_end(&tmp);
}

/* ---- dispatchers ---------------------------------------------------------------------- */

bool dz_kernel_embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type)
{
    const dz_backend *be = dz_backend_of(w);
    if (!DZ_FUSED(be, embedding_renorm))
        return renorm_composite(w, idx, max_norm, norm_type);
    be->fused->embedding_renorm(w, idx, max_norm, norm_type);
    return true;
}

bool dz_kernel_embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                                 int64_t skip_idx, bool mean, dz_array *y)
{
    const dz_backend *be = dz_backend_of(w);
    if (!DZ_FUSED(be, embedding_bag_sum))
        return bag_sum_composite(w, idx, starts, psw, skip_idx, mean, y);
    be->fused->embedding_bag_sum(w, idx, starts, psw, skip_idx, mean, y);
    return true;
}

bool dz_kernel_embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                                 dz_array *y, dz_array *argmax)
{
    const dz_backend *be = dz_backend_of(w);
    if (!DZ_FUSED(be, embedding_bag_max))
        return bag_max_composite(w, idx, starts, skip_idx, y, argmax);
    be->fused->embedding_bag_max(w, idx, starts, skip_idx, y, argmax);
    return true;
}

bool dz_kernel_embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                     const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq,
                                     dz_array *gw)
{
    const dz_backend *be = dz_backend_of(gy);
    if (!DZ_FUSED(be, embedding_bag_scatter))
        return bag_scatter_composite(gy, idx, starts, psw, skip_idx, mean, scale_by_freq, gw);
    be->fused->embedding_bag_scatter(gy, idx, starts, psw, skip_idx, mean, scale_by_freq, gw);
    return true;
}

bool dz_kernel_embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                       const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows)
{
    const dz_backend *be = dz_backend_of(gy);
    if (!DZ_FUSED(be, embedding_bag_grad_rows))
        return bag_grad_rows_composite(gy, idx, starts, psw, skip_idx, mean, rows);
    be->fused->embedding_bag_grad_rows(gy, idx, starts, psw, skip_idx, mean, rows);
    return true;
}

bool dz_kernel_embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw)
{
    const dz_backend *be = dz_backend_of(gy);
    if (!DZ_FUSED(be, embedding_bag_max_backward))
        return bag_max_backward_composite(gy, argmax, gw);
    be->fused->embedding_bag_max_backward(gy, argmax, gw);
    return true;
}

bool dz_kernel_embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                          const dz_array *starts, int64_t skip_idx, dz_array *gpsw)
{
    const dz_backend *be = dz_backend_of(w);
    if (!DZ_FUSED(be, embedding_bag_weights_grad))
        return bag_weights_grad_composite(gy, w, idx, starts, skip_idx, gpsw);
    be->fused->embedding_bag_weights_grad(gy, w, idx, starts, skip_idx, gpsw);
    return true;
}

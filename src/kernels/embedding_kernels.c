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
#include <string.h>

#include "../backend/backend.h"
#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"

/* ---- index values from the host ---------------------------------------------- */

dz_array *dz_embedding_indices_from_host(dz_device device, int64_t n, const int64_t *values)
{
    dz_array *a = dz_array_uninit_on(device, DZ_I64, 1, &n);
    if (a)
        dz_backend_of(a)->from_host(a->data, values, (size_t)n * sizeof *values);
    return a;
}

/* ---- temporaries --------------------------------------------------------------- */

/* The temporaries of one composite. The s_ helpers record each array they
 * make here and, once an allocation has failed (the allocator raised the
 * error), return NULL without calling the backend: a composite runs its
 * steps straight through and checks `failed` once, before it writes its
 * outputs. scratch_end releases them all. */
#define SCRATCH_MAX 64

typedef struct {
    dz_array *arrays[SCRATCH_MAX];
    int n;
    bool failed;
} scratch;

static dz_array *keep(scratch *s, dz_array *a)
{
    if (!a) {
        s->failed = true;
        return NULL;
    }
    DZ_ASSERT(s->n < SCRATCH_MAX);
    s->arrays[s->n++] = a;
    return a;
}

/* Releases the temporaries; true when every one was allocated. */
static bool scratch_end(scratch *s)
{
    for (int i = 0; i < s->n; i++)
        dz_array_release(s->arrays[i]);
    return !s->failed;
}

/* Zero-filled. */
static dz_array *s_zeros(scratch *s, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape)
{
    return s->failed ? NULL : keep(s, dz_array_empty_on(device, dtype, ndim, shape));
}

/* Every element `value`; ndim 0 gives a scalar that broadcasts. */
static dz_array *s_full(scratch *s, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape, double value)
{
    dz_array *a = s->failed ? NULL : keep(s, dz_array_uninit_on(device, dtype, ndim, shape));
    if (a)
        dz_backend_of(a)->fill(a, value);
    return a;
}

static dz_array *s_scalar(scratch *s, dz_device device, dz_dtype dtype, double value)
{
    return s_full(s, device, dtype, 0, NULL, value);
}

/* (n,) int64 from host values. */
static dz_array *s_upload(scratch *s, dz_device device, int64_t n, const int64_t *values)
{
    return s->failed ? NULL : keep(s, dz_embedding_indices_from_host(device, n, values));
}

/* (n,) int64: 0, 1, ..., n - 1. */
static dz_array *s_arange(scratch *s, dz_device device, int64_t n)
{
    int64_t *values = dz_xmalloc((size_t)(n ? n : 1) * sizeof *values);
    for (int64_t i = 0; i < n; i++)
        values[i] = i;
    dz_array *a = s_upload(s, device, n, values);
    free(values);
    return a;
}

static dz_array *s_reshape(scratch *s, const dz_array *x, int ndim, const int64_t *shape)
{
    return s->failed ? NULL : keep(s, dz_array_reshape(x, ndim, shape));
}

static dz_array *s_astype(scratch *s, const dz_array *x, dz_dtype dtype)
{
    dz_array *y = s->failed ? NULL : keep(s, dz_array_uninit_on(x->device, dtype, x->ndim, x->shape));
    if (y)
        dz_backend_of(x)->astype(x, y);
    return y;
}

static dz_array *s_unary(scratch *s, dz_unary_op op, const dz_array *x, double p)
{
    return s->failed ? NULL : keep(s, dz_array_unary(op, x, p));
}

static dz_array *s_binary(scratch *s, dz_binary_op op, const dz_array *a, const dz_array *b)
{
    return s->failed ? NULL : keep(s, dz_array_binary(op, a, b));
}

/* op over `axis`, kept as 1. */
static dz_array *s_reduce(scratch *s, dz_reduce_op op, const dz_array *x, int axis)
{
    if (s->failed)
        return NULL;
    int64_t kept[DZ_MAX_NDIM];
    memcpy(kept, x->shape, sizeof kept);
    kept[axis] = 1;
    return keep(s, dz_array_reduce(op, x, kept));
}

/* (n, D) = table (R, D) at rows (n entries), zeros where rows[i] == skip. An
 * empty table can only be skipped: zeros. */
static dz_array *s_gather_rows(scratch *s, const dz_array *table, const dz_array *rows, int64_t skip)
{
    if (s->failed)
        return NULL;
    const int64_t shape[2] = {rows->size, table->shape[1]};
    if (table->shape[0] == 0)
        return s_zeros(s, table->device, table->dtype, 2, shape);
    dz_array *y = keep(s, dz_array_uninit_on(table->device, table->dtype, 2, shape));
    if (y)
        dz_backend_of(table)->gather_rows(table, rows, skip, y);
    return y;
}

/* table[rows[i]] += x[i] in input order, passing rows[i] == skip by. */
static void s_index_add_rows(scratch *s, dz_array *table, const dz_array *rows, const dz_array *x, int64_t skip)
{
    if (!s->failed)
        dz_backend_of(table)->index_add_rows(table, rows, x, 1.0, skip, false);
}

/* ---- ids ------------------------------------------------------------------------ */

/* 1 where x == value, else 0, in x's dtype. */
static dz_array *equals(scratch *s, const dz_array *x, double value)
{
    return s->failed ? NULL : s_binary(s, DZ_BINARY_EQUAL, x, s_scalar(s, x->device, x->dtype, value));
}

/* ids with `marker` where `where` (0/1, int64) is 1; ids are >= 0 elsewhere
 * and marker is above them all. */
static dz_array *mark(scratch *s, const dz_array *ids, const dz_array *where, int64_t marker)
{
    return s_binary(s, DZ_BINARY_MAXIMUM, ids, s_unary(s, DZ_UNARY_MUL_SCALAR, where, (double)marker));
}

/* idx (any shape) as int64 (N,). */
static dz_array *index_flat(scratch *s, const dz_array *idx)
{
    dz_array *flat = s_reshape(s, idx, 1, &idx->size);
    return idx->dtype == DZ_I64 ? flat : s_astype(s, flat, DZ_I64);
}

/* (N,) int64: the bag of each entry, B for the left-out ones. The bounds
 * are read on the host (this synchronises with the device); which entries
 * are skip_idx is found on the device. */
static dz_array *entry_bags(scratch *s, const dz_array *idx, const dz_array *starts, int64_t skip_idx)
{
    if (s->failed)
        return NULL;
    const int64_t N = idx->size, B = starts->size - 1;
    dz_host_view view;
    const int64_t *bounds = dz_host_view_read(&view, starts);
    if (!bounds) {
        s->failed = true;
        return NULL;
    }
    int64_t *ids = dz_xmalloc((size_t)(N ? N : 1) * sizeof *ids);
    for (int64_t j = 0; j < N; j++)
        ids[j] = B;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = bounds[b]; j < bounds[b + 1]; j++)
            ids[j] = b;
    dz_host_view_close(&view);
    dz_array *bag = s_upload(s, idx->device, N, ids);
    free(ids);
    return skip_idx < 0 ? bag : mark(s, bag, equals(s, index_flat(s, idx), (double)skip_idx), B);
}

/* (N,) int64: j for each kept entry j, N for the left-out ones. bag:
 * entry_bags. */
static dz_array *kept_positions(scratch *s, const dz_array *bag, int64_t B)
{
    if (s->failed)
        return NULL;
    return mark(s, s_arange(s, bag->device, bag->size), equals(s, bag, (double)B), bag->size);
}

/* (R, 1) int64: how many entries of `rows` (each in [0, R) or skip) name
 * each row. */
static dz_array *count_rows(scratch *s, const dz_array *rows, int64_t R, int64_t skip)
{
    if (s->failed)
        return NULL;
    dz_array *count = s_zeros(s, rows->device, DZ_I64, 2, DZ_SHAPE(R, 1));
    s_index_add_rows(s, count, rows, s_full(s, rows->device, DZ_I64, 2, DZ_SHAPE(rows->size, 1), 1), skip);
    return count;
}

/* (B, 1) float64: the kept entries of each bag, at least 1 (a bag without
 * any divides zeros). bag: entry_bags. */
static dz_array *bag_sizes(scratch *s, const dz_array *bag, int64_t B)
{
    if (s->failed)
        return NULL;
    dz_array *count = count_rows(s, bag, B, B);
    return s_astype(s, s_binary(s, DZ_BINARY_MAXIMUM, count, s_scalar(s, bag->device, DZ_I64, 1)), DZ_F64);
}

/* (N, 1) float64: the size of each entry's bag, 1 for left-out entries. */
static dz_array *entry_sizes(scratch *s, const dz_array *bag, int64_t B)
{
    if (s->failed)
        return NULL;
    dz_array *size = s_gather_rows(s, bag_sizes(s, bag, B), bag, B);
    return s_binary(s, DZ_BINARY_MAXIMUM, size, s_scalar(s, bag->device, DZ_F64, 1));
}

/* (N, 1): psw[j], or 0 for the left-out entries (whatever psw holds there). */
static dz_array *kept_weights(scratch *s, const dz_array *psw, const dz_array *bag, int64_t B)
{
    if (s->failed)
        return NULL;
    dz_array *column = s_reshape(s, psw, 2, DZ_SHAPE(bag->size, 1));
    return s_gather_rows(s, column, kept_positions(s, bag, B), bag->size);
}

/* ---- renorm --------------------------------------------------------------------- */

/* (n,) int64: the distinct rows named by idx, in order of first appearance.
 * idx is read on a host view, which synchronises with the device. */
static dz_array *distinct_rows(scratch *s, const dz_array *idx, int64_t V)
{
    if (s->failed)
        return NULL;
    dz_host_view view;
    const void *entries = dz_host_view_read(&view, idx);
    if (!entries) {
        s->failed = true;
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
    dz_array *distinct = s_upload(s, idx->device, n, rows);
    free(rows);
    return distinct;
}

/* (n, 1): the p-norm of each row of x (n, D) float64, as Tensor.norm(p)
 * summed in double. */
static dz_array *row_norms(scratch *s, const dz_array *x, double p)
{
    dz_array *a = s_unary(s, DZ_UNARY_ABS, x, 0); // |x|
    if (p == 2)
        return s_unary(s, DZ_UNARY_SQRT, s_reduce(s, DZ_REDUCE_SUM, s_unary(s, DZ_UNARY_SQUARE, a, 0), 1), 0);
    if (p == 1)
        return s_reduce(s, DZ_REDUCE_SUM, a, 1);
    if (p == INFINITY)
        return s_reduce(s, DZ_REDUCE_MAX, a, 1);
    if (p == -INFINITY)
        return s_reduce(s, DZ_REDUCE_MIN, a, 1);
    if (p == 0) /* the count of nonzeros */
        return s_reduce(s, DZ_REDUCE_SUM, s_unary(s, DZ_UNARY_RSUB_SCALAR, equals(s, a, 0), 1), 1);
    return s_unary(s, DZ_UNARY_POW, s_reduce(s, DZ_REDUCE_SUM, s_unary(s, DZ_UNARY_POW, a, p), 1), 1 / p);
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
    scratch s = {0};
    dz_array *distinct = distinct_rows(&s, idx, V);                 // (n,)
    dz_array *rows = s_gather_rows(&s, w, distinct, -1);            // (n, D)
    dz_array *norm = row_norms(&s, s_astype(&s, rows, DZ_F64), p); // (n, 1)
    if (w->dtype == DZ_F32)
        norm = s_astype(&s, s_astype(&s, norm, DZ_F32), DZ_F64);
    /* factor = max_norm / (norm + 1e-7) clipped to [stay, 1 / stay], where
     * stay is 1 for a row within max_norm (the factor becomes 1) and 0 for a
     * row beyond it (the factor stays as it is) */
    dz_array *beyond = s_unary(&s, DZ_UNARY_STEP, s_unary(&s, DZ_UNARY_ADD_SCALAR, norm, -max_norm), 0);
    dz_array *stay = s_unary(&s, DZ_UNARY_RSUB_SCALAR, beyond, 1);
    dz_array *factor = s_unary(&s, DZ_UNARY_RDIV_SCALAR, s_unary(&s, DZ_UNARY_ADD_SCALAR, norm, 1e-7), max_norm);
    factor = s_binary(&s, DZ_BINARY_MINIMUM, factor, s_unary(&s, DZ_UNARY_RDIV_SCALAR, stay, 1));
    factor = s_binary(&s, DZ_BINARY_MAXIMUM, factor, stay);
    dz_array *scaled = s_binary(&s, DZ_BINARY_MUL, rows, s_astype(&s, factor, w->dtype)); // (n, D)
    dz_array *first = s_unary(&s, DZ_UNARY_MUL_SCALAR, distinct, (double)D);           // element k * D
    if (!s.failed) {
        dz_gather_spec rows_of_w = {.ndim = 2, .shape = {distinct->size, D}, .stride = {0, 1},
                                    .offsets_axis = 0, .offsets_ndim = 1, .offsets = first};
        dz_backend_of(w)->scatter(scaled, &rows_of_w, w);
    }
    return scratch_end(&s);
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
    scratch s = {0};
    dz_array *bag = entry_bags(&s, idx, starts, skip_idx); // (N,)
    dz_array *rows = s_gather_rows(&s, w, idx, -1);        // (N, D)
    if (psw)
        rows = s_binary(&s, DZ_BINARY_MUL, rows, s_reshape(&s, psw, 2, DZ_SHAPE(N, 1)));
    dz_array *sums = mean ? s_zeros(&s, y->device, y->dtype, 2, y->shape) : y;    // (B, D)
    dz_array *size = mean ? s_astype(&s, bag_sizes(&s, bag, B), y->dtype) : NULL; // (B, 1)
    if (!s.failed) {
        const dz_backend *be = dz_backend_of(y);
        if (!mean)
            be->fill(y, 0);
        be->index_add_rows(sums, bag, rows, 1.0, B, false);
        if (mean)
            be->binary(DZ_BINARY_DIV, sums, size, y);
    }
    return scratch_end(&s);
}

/* The bags as a grid of B x L slots, L the longest bag (*L): slot (b, l)
 * holds the row idx[starts[b] + l], or V when it is past the end of bag b or
 * that entry is skip_idx. (B * L, 1) int64. The bounds are read on the host
 * (this synchronises with the device). */
static dz_array *bag_slots(scratch *s, const dz_array *idx, const dz_array *starts, int64_t skip_idx, int64_t V,
                           int64_t *L)
{
    *L = 0;
    if (s->failed)
        return NULL;
    const int64_t N = idx->size, B = starts->size - 1;
    dz_host_view view;
    const int64_t *bounds = dz_host_view_read(&view, starts);
    if (!bounds) {
        s->failed = true;
        return NULL;
    }
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
    dz_array *entry = s_reshape(s, s_upload(s, idx->device, slots, entries), 2, DZ_SHAPE(slots, 1)); // N: none
    free(entries);
    dz_array *index = s_reshape(s, index_flat(s, idx), 2, DZ_SHAPE(N, 1));
    dz_array *rows = mark(s, s_gather_rows(s, index, entry, N), equals(s, entry, (double)N), V);
    return skip_idx < 0 ? rows : mark(s, rows, equals(s, rows, (double)skip_idx), V);
}

/* (B, 1, D) int64: for each bag b and column d the slot b * L + l of the
 * first kept slot l where vals (B, L, D) is largest, a left-out slot of bag
 * b when it has no kept entry. left (B, L, 1): 1 on the left-out slots.
 *     top = max over l of min(vals, bound)   with bound +inf on kept slots
 *           and -inf on left-out ones (NaN becomes +inf)
 *     first = L - 1 - max over l of hit * (L - 1 - l)   hit: kept, at top */
static dz_array *first_max_slot(scratch *s, const dz_array *vals, const dz_array *left)
{
    if (s->failed)
        return NULL;
    const dz_device dev = vals->device;
    const int64_t B = vals->shape[0], L = vals->shape[1];
    dz_array *half = s_unary(s, DZ_UNARY_RSUB_SCALAR, s_astype(s, left, vals->dtype), 0.5); // 0.5 kept, -0.5 not
    dz_array *bounded = s_binary(s, DZ_BINARY_MINIMUM, vals, s_unary(s, DZ_UNARY_MUL_SCALAR, half, INFINITY));
    dz_array *top = s_reduce(s, DZ_REDUCE_MAX, bounded, 1); // (B, 1, D)
    dz_array *at_top = s_astype(s, s_binary(s, DZ_BINARY_EQUAL, bounded, top), DZ_I64);
    dz_array *hit = s_binary(s, DZ_BINARY_MUL, at_top, s_unary(s, DZ_UNARY_RSUB_SCALAR, left, 1)); // (B, L, D)
    dz_array *l = s_reshape(s, s_arange(s, dev, L), 3, DZ_SHAPE(1, L, 1));
    dz_array *to_end = s_unary(s, DZ_UNARY_RSUB_SCALAR, l, (double)(L - 1));
    dz_array *latest = s_reduce(s, DZ_REDUCE_MAX, s_binary(s, DZ_BINARY_MUL, hit, to_end), 1);
    dz_array *first = s_unary(s, DZ_UNARY_RSUB_SCALAR, latest, (double)(L - 1)); // (B, 1, D)
    dz_array *b = s_reshape(s, s_arange(s, dev, B), 3, DZ_SHAPE(B, 1, 1));
    return s_binary(s, DZ_BINARY_ADD, s_unary(s, DZ_UNARY_MUL_SCALAR, b, (double)L), first);
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
    scratch s = {0};
    int64_t L;
    dz_array *slot_rows = bag_slots(&s, idx, starts, skip_idx, V, &L); // (B * L, 1)
    if (!s.failed && (L == 0 || D == 0)) { /* no entries, or rows of nothing */
        be->fill(y, 0);
        be->fill(argmax, -1);
        return scratch_end(&s);
    }
    dz_array *vals = s_reshape(&s, s_gather_rows(&s, w, slot_rows, V), 3, DZ_SHAPE(B, L, D));
    dz_array *left = s_reshape(&s, equals(&s, slot_rows, (double)V), 3, DZ_SHAPE(B, L, 1));
    dz_array *slot = first_max_slot(&s, vals, left);               // (B, 1, D)
    dz_array *row = s_gather_rows(&s, slot_rows, slot, -1);        // (B * D, 1), V: left out
    dz_array *none = s_unary(&s, DZ_UNARY_MUL_SCALAR, equals(&s, row, (double)V), (double)(V + 1));
    dz_array *d = s_reshape(&s, s_arange(&s, w->device, D), 3, DZ_SHAPE(1, 1, D));
    dz_array *element = s_binary(&s, DZ_BINARY_ADD, s_unary(&s, DZ_UNARY_MUL_SCALAR, slot, (double)D), d);
    dz_array *vals_flat = s_reshape(&s, vals, 2, DZ_SHAPE(B * L * D, 1));
    dz_array *y_flat = s_reshape(&s, y, 2, DZ_SHAPE(B * D, 1));
    dz_array *argmax_flat = s_reshape(&s, argmax, 2, DZ_SHAPE(B * D, 1));
    if (!s.failed) {
        be->gather_rows(vals_flat, element, -1, y_flat);   // vals[b, l, d] at slot b * L + l
        be->binary(DZ_BINARY_SUB, row, none, argmax_flat); // V becomes -1
    }
    return scratch_end(&s);
}

/* ---- EmbeddingBag backward ---------------------------------------------------------- */

/* (N, 1) of `dtype`: 1 / count(idx[j]) (scale_by_freq) / sizes[j] * weights[j]
 * (those not NULL), computed in double in that order and rounded once, as
 * the fused kernel's scale. V: the rows of w. */
static dz_array *entry_scales(scratch *s, const dz_array *idx, int64_t V, bool scale_by_freq, const dz_array *sizes,
                              const dz_array *weights, dz_dtype dtype)
{
    if (s->failed)
        return NULL;
    dz_array *scale = s_full(s, idx->device, DZ_F64, 2, DZ_SHAPE(idx->size, 1), 1.0);
    if (scale_by_freq) {
        dz_array *count = s_gather_rows(s, count_rows(s, idx, V, -1), idx, -1); // (N, 1) entries naming idx[j]
        scale = s_binary(s, DZ_BINARY_DIV, scale, s_astype(s, count, DZ_F64));
    }
    if (sizes)
        scale = s_binary(s, DZ_BINARY_DIV, scale, sizes);
    if (weights)
        scale = s_binary(s, DZ_BINARY_MUL, scale, s_astype(s, weights, DZ_F64));
    return s_astype(s, scale, dtype);
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
    scratch s = {0};
    dz_array *bag = entry_bags(&s, idx, starts, skip_idx); // (N,)
    dz_array *rows = s_gather_rows(&s, gy, bag, B);        // (N, D), 0: left out
    const bool scaled = mean || psw;
    if (scaled) {
        dz_array *sizes = mean ? entry_sizes(&s, bag, B) : NULL;
        dz_array *weights = psw ? kept_weights(&s, psw, bag, B) : NULL;
        dz_array *scale = entry_scales(&s, idx, gw->shape[0], scale_by_freq, sizes, weights, gw->dtype);
        rows = s_binary(&s, DZ_BINARY_MUL, rows, scale);
    }
    if (!s.failed)
        dz_backend_of(gw)->index_add_rows(gw, idx, rows, 1.0, skip_idx, scale_by_freq && !scaled);
    return scratch_end(&s);
}

/* rows[j] = gy[bag of j] * psw[j], or / bag size when mean (a factor rounded
 * once), zeros for left-out entries: rows = gy[bag] * scale, bit-exact. */
static bool bag_grad_rows_composite(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows)
{
    const int64_t B = starts->size - 1;
    scratch s = {0};
    dz_array *bag = entry_bags(&s, idx, starts, skip_idx); // (N,)
    dz_array *g = s_gather_rows(&s, gy, bag, B);           // (N, D), 0: left out
    dz_array *scale = NULL;                                // (N, 1)
    if (psw)
        scale = kept_weights(&s, psw, bag, B);
    else if (mean)
        scale = s_astype(&s, s_unary(&s, DZ_UNARY_RDIV_SCALAR, entry_sizes(&s, bag, B), 1), gy->dtype);
    if (!s.failed) {
        const dz_backend *be = dz_backend_of(gy);
        if (scale)
            be->binary(DZ_BINARY_MUL, g, scale, rows);
        else
            be->copy(rows->data, g->data, (size_t)g->size * dz_dtype_size(g->dtype));
    }
    return scratch_end(&s);
}

/* gw[argmax[b, d], d] += gy[b, d] where argmax >= 0, in bag order: gw seen as
 * V * D one-element rows, at targets argmax * D + d (V * D, skipped, where
 * argmax < 0). Bit-exact. */
static bool bag_max_backward_composite(const dz_array *gy, const dz_array *argmax, dz_array *gw)
{
    const int64_t B = gy->shape[0], D = gy->shape[1], cells = gw->size;
    scratch s = {0};
    dz_array *column = s_reshape(&s, s_arange(&s, gy->device, D), 2, DZ_SHAPE(1, D));
    dz_array *target = s_binary(&s, DZ_BINARY_ADD, s_unary(&s, DZ_UNARY_MUL_SCALAR, argmax, (double)D), column);
    dz_array *none = s_binary(&s, DZ_BINARY_LESS_EQUAL, argmax, s_scalar(&s, gy->device, DZ_I64, -1));
    target = mark(&s, target, none, cells); // (B, D)
    dz_array *gw_cells = s_reshape(&s, gw, 2, DZ_SHAPE(cells, 1));
    dz_array *gy_cells = s_reshape(&s, gy, 2, DZ_SHAPE(B * D, 1));
    if (!s.failed)
        dz_backend_of(gw)->index_add_rows(gw_cells, target, gy_cells, 1.0, cells, false);
    return scratch_end(&s);
}

/* gpsw[j] = dot(gy[bag of j], w[idx[j]]), 0 for left-out entries: products
 * rounded to the dtype, summed along D in double (as BLAS ?dot), rounded
 * once. Bit-exact while the reduction adds each row in order (arrays within
 * the CPU reduction's grain); otherwise within double rounding. */
static bool bag_weights_grad_composite(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw)
{
    const int64_t N = idx->size, B = starts->size - 1;
    scratch s = {0};
    dz_array *bag = entry_bags(&s, idx, starts, skip_idx); // (N,)
    dz_array *products = s_binary(&s, DZ_BINARY_MUL, s_gather_rows(&s, gy, bag, B), s_gather_rows(&s, w, idx, -1));
    dz_array *dots = s_reduce(&s, DZ_REDUCE_SUM, s_astype(&s, products, DZ_F64), 1); // (N, 1)
    dz_array *kept = s_gather_rows(&s, dots, kept_positions(&s, bag, B), N);        // 0: left out
    dz_array *gpsw_column = s_reshape(&s, gpsw, 2, DZ_SHAPE(N, 1));
    if (!s.failed)
        dz_backend_of(gpsw)->astype(kept, gpsw_column);
    return scratch_end(&s);
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

/* Embedding: y = W[idx] with PyTorch's F.embedding options (padding_idx,
 * max_norm, scale_grad_by_freq, sparse), and the checks and helpers that
 * dz_embedding_bag shares.
 *
 * Two differentiable ops make the pair that higher-order grads need:
 *   gather  (*idx, D) = W[idx]          backward: scatter-add of gy (or a sparse grad)
 *   scatter (V, D)    = scatter_add(gy) backward: gather of ggW, padding rows zeroed
 * (PyTorch's embedding_dense_double_backward, which ignores scale_grad_by_freq). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "../kernels/embedding_kernels.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/config.h"
#include "dezero/embedding.h"
#include "dezero/function.h"
#include "dezero/sparse_grad.h"
#include "embedding_internal.h"
#include "../core/op_helpers.h"


typedef struct {
    int64_t num_rows;        /* V */
    int64_t padding_idx;     /* -1: none */
    bool scale_grad_by_freq; /* backward divides each row's grad by its count */
    bool sparse;             /* backward fills W->sparse_grad */
    bool zero_padding_rows;  /* forward zeroes the rows of padding_idx (the double backward) */
} embedding_state;

dz_embedding_options dz_embedding_default_options(void) { return (dz_embedding_options){.norm_type = 2.0}; }

/* ---- shared checks ------------------------------------------------------ */

bool dz_embedding_check_index_dtype(const char *op, const char *what, const dz_variable *idx)
{
    if (!dz_check_variable(op, idx))
        return false;
    if (!dz_dtype_is_integer(idx->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: expected %s of dtype int64 or int32, but got %s; convert it with dz_array_astype",
                 op, what, dz_dtype_name(idx->data->dtype));
        return false;
    }
    return true;
}

/* "[1, 0]": the coordinates of flat position `pos` in idx. */
static void format_position(const dz_array *idx, int64_t pos, char *buf, size_t len)
{
    int64_t coords[DZ_MAX_NDIM];
    for (int d = idx->ndim - 1; d >= 0; d--) {
        coords[d] = pos % idx->shape[d];
        pos /= idx->shape[d];
    }
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < idx->ndim && used < len; d++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", d ? ", " : "", (long long)coords[d]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

bool dz_embedding_check_range(const char *op, const dz_array *idx, int64_t num_rows)
{
    int64_t value, pos = dz_first_index_outside(idx, 0, num_rows, &value);
    if (pos < 0)
        return pos == -1; /* -2: out of memory finding it, recorded */
    char where[160];
    format_position(idx, pos, where, sizeof where);
    dz_raise(DZ_ERR_INDEX,
             "%s: index %lld is out of range for an embedding of %lld rows (at idx%s, idx shape %s); indices "
             "must be in [0, %lld)%s",
             op, (long long)value, (long long)num_rows, where, DZ_SHAPE_OF(idx), (long long)num_rows,
             value < 0 ? ", negative indices are not wrapped" : "");
    return false;
}

bool dz_embedding_padding(const char *op, const char *message, bool has, int64_t padding_idx, int64_t num_rows,
                          int64_t *out)
{
    *out = -1;
    if (!has)
        return true;
    if (padding_idx >= num_rows || padding_idx < -num_rows) {
        dz_raise(DZ_ERR_INDEX, "%s: %s, -%lld through %lld, but got padding_idx %lld", op, message,
                 (long long)num_rows, (long long)num_rows - 1, (long long)padding_idx);
        return false;
    }
    *out = padding_idx < 0 ? num_rows + padding_idx : padding_idx;
    return true;
}

bool dz_embedding_check_norm(const char *op, bool has_max_norm, double max_norm, double norm_type)
{
    if (has_max_norm && !(max_norm >= 0)) {
        dz_raise(DZ_ERR_VALUE, "%s: max_norm is %g; it must be a number >= 0", op, max_norm);
        return false;
    }
    if (has_max_norm && isnan(norm_type)) {
        dz_raise(DZ_ERR_VALUE, "%s: norm_type is NaN; give the p of the norm (2 by default, inf allowed)", op);
        return false;
    }
    return true;
}

bool dz_embedding_renorm(const char *op, dz_variable *W, const dz_array *idx, double max_norm, double norm_type)
{
    if (!dz_dtype_is_float(W->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: max_norm needs a float32 or float64 weight, got %s", op,
                 dz_dtype_name(W->data->dtype));
        return false;
    }
    return dz_kernel_embedding_renorm(W->data, idx, max_norm, norm_type);
}

/* ---- sparse grad ---------------------------------------------------------- */

/* Every entry: indices (N,) int64 (a copy of idx) and values = rows. */
static bool all_entries(const dz_array *idx, dz_array *rows, dz_array **indices, dz_array **values)
{
    dz_array *flat = dz_array_reshape(idx, 1, &idx->size);
    *indices = dz_array_uninit_on(idx->device, DZ_I64, 1, &idx->size);
    if (*indices)
        dz_backend_of(idx)->astype(flat, *indices);
    dz_array_release(flat);
    *values = dz_array_retain(rows);
    return *indices != NULL;
}

/* The entries whose index is not padding_idx: indices (kept,) int64 and
 * values (kept, D), their rows of `rows` (N, D). Which entries those are is
 * read on a host view, which synchronises with the device. */
static bool drop_padding(const dz_array *idx, int64_t padding_idx, dz_array *rows, dz_array **indices,
                         dz_array **values)
{
    dz_host_view view;
    const void *entries = dz_host_view_read(&view, idx);
    if (!entries)
        return false;
    const size_t bytes = (size_t)(idx->size ? idx->size : 1) * sizeof(int64_t);
    int64_t *kept_rows = dz_xmalloc(bytes), *positions = dz_xmalloc(bytes), kept = 0;
    for (int64_t i = 0; i < idx->size; i++) {
        int64_t k = dz_index_at(entries, idx->dtype, i);
        if (k != padding_idx) {
            positions[kept] = i;
            kept_rows[kept++] = k;
        }
    }
    dz_host_view_close(&view);
    if (kept == idx->size) {
        free(positions);
        free(kept_rows);
        return all_entries(idx, rows, indices, values);
    }
    *indices = dz_indices_from_host(idx->device, kept, kept_rows);
    dz_array *where = dz_indices_from_host(idx->device, kept, positions);
    *values = where ? dz_array_uninit_on(rows->device, rows->dtype, 2, DZ_SHAPE(kept, rows->shape[1])) : NULL;
    if (*values)
        dz_backend_of(rows)->gather_rows(rows, where, -1, *values);
    dz_array_release(where);
    free(positions);
    free(kept_rows);
    return *indices && *values;
}

dz_variable *dz_embedding_sparse_grad(const dz_array *idx, dz_array *rows, int64_t padding_idx, int64_t num_rows)
{
    dz_array *indices = NULL, *values = NULL;
    bool ok = padding_idx < 0 ? all_entries(idx, rows, &indices, &values)
                              : drop_padding(idx, padding_idx, rows, &indices, &values);
    dz_array_release(rows);
    if (ok)
        return dz_sparse_grad_variable(indices, values, num_rows);
    dz_array_release(indices);
    dz_array_release(values);
    return NULL;
}

/* ---- gather / scatter ------------------------------------------------------ */

static dz_variable *apply_gather(dz_variable *idx, dz_variable *W, embedding_state s);
static dz_variable *apply_scatter(dz_variable *gy, dz_variable *idx, embedding_state s);

/* (*idx.shape, D) rows of w; the padding row zeroed when s asks. */
static dz_array *gather_rows(const dz_array *w, const dz_array *idx, const embedding_state *s)
{
    int64_t shape[DZ_MAX_NDIM];
    memcpy(shape, idx->shape, (size_t)idx->ndim * sizeof *shape);
    shape[idx->ndim] = w->shape[1];
    dz_array *y = dz_array_empty_on(w->device, w->dtype, idx->ndim + 1, shape); // (*idx, D)
    if (y)
        dz_backend_of(w)->gather_rows(w, idx, s->zero_padding_rows ? s->padding_idx : -1, y);
    return y;
}

/* (V, D) zeros + the rows of gy (*idx, D) added at idx, in input order. */
static dz_array *scatter_rows(const dz_array *gy, const dz_array *idx, const embedding_state *s)
{
    dz_array *gw = dz_array_empty_on(gy->device, gy->dtype, 2, DZ_SHAPE(s->num_rows, gy->shape[gy->ndim - 1]));
    if (gw)
        dz_backend_of(gy)->index_add_rows(gw, idx, gy, 1.0, s->padding_idx, s->scale_grad_by_freq);
    return gw;
}

/* The fast path when no graph is recorded: the grad as a plain leaf. */
static dz_variable *raw_scatter(const dz_array *gy, const dz_array *idx, const embedding_state *s)
{
    dz_array *gw = scatter_rows(gy, idx, s);
    return gw ? dz_variable_new(gw, NULL) : NULL;
}

static dz_variable *sparse_backward(dz_variable *W, const dz_array *idx, const dz_array *gy, const embedding_state *s)
{
    if (s->scale_grad_by_freq) {
        dz_raise(DZ_ERR_UNSUPPORTED, "dz_embedding: scale_grad_by_freq is not supported with sparse gradients "
                 "(as in PyTorch); turn one of them off");
        return NULL;
    }
    const int64_t N = idx->size;
    dz_array *rows = dz_array_reshape(gy, 2, DZ_SHAPE(N, W->data->shape[1])); // (N, D), shares gy
    return dz_embedding_sparse_grad(idx, rows, s->padding_idx, s->num_rows);
}

/* Whether W gets a grad, idx still fitting it (false after raising if not). */
static bool w_needs_grad(dz_function *f)
{
    const embedding_state *s = f->state;
    dz_variable *idx = IN(f, 0), *W = IN(f, 1);
    return dz_dtype_is_float(W->data->dtype) && dz_needs_grad(W) &&
           dz_embedding_check_range("dz_embedding (backward: idx changed since the forward)", idx->data, s->num_rows);
}

/* gather: y (*idx, D) = W[idx]; gW (V, D) = scatter_add(gy), or a sparse grad
 * for a leaf W with sparse=true */
static void gather_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const embedding_state *s = f->state;
    dz_variable *idx = IN(f, 0), *W = IN(f, 1);
    if (!w_needs_grad(f))
        return;
    if (s->sparse && !W->creator)
        gx[1] = sparse_backward(W, idx->data, gy[0]->data, s);
    else
        gx[1] = apply_scatter(gy[0], idx, *s);
}
static void gather_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const embedding_state *s = f->state;
    if (s->sparse && !IN(f, 1)->creator) /* a sparse grad is made the same way either way */
        gather_backward(f, gy, gx);
    else if (w_needs_grad(f))
        gx[1] = raw_scatter(gy[0]->data, IN(f, 0)->data, s);
}
static const dz_function_ops gather_ops = {"dz_embedding", gather_backward, NULL, gather_backward_fast, "Embedding"};

/* scatter: gW (V, D) = scatter_add(gy (*idx, D)); ggy (*idx, D) = ggW[idx], padding rows zeroed */
static void scatter_backward(dz_function *f, dz_variable *const *ggw, dz_variable **gx)
{
    embedding_state s = *(const embedding_state *)f->state;
    s.zero_padding_rows = true;
    s.scale_grad_by_freq = false;
    s.sparse = false;
    gx[0] = apply_gather(IN(f, 1), ggw[0], s);
}
static const dz_function_ops scatter_ops = {"dz_embedding_backward", scatter_backward, NULL, NULL, "EmbeddingGrad"};

static embedding_state *state_copy(embedding_state s)
{
    embedding_state *p = dz_xmalloc(sizeof *p);
    *p = s;
    return p;
}

static dz_variable *apply_gather(dz_variable *idx, dz_variable *W, embedding_state s)
{
    dz_variable *in[2] = {idx, W};
    return dz_function_apply1(&gather_ops, 2, in, gather_rows(W->data, idx->data, &s), 0, state_copy(s));
}

static dz_variable *apply_scatter(dz_variable *gy, dz_variable *idx, embedding_state s)
{
    dz_variable *in[2] = {gy, idx};
    return dz_function_apply1(&scatter_ops, 2, in, scatter_rows(gy->data, idx->data, &s), 0, state_copy(s));
}

/* ---- dz_embedding ------------------------------------------------------------ */

static bool check_weight(const char *op, const dz_variable *W, const dz_variable *idx)
{
    if (!dz_check_variable(op, W) || !dz_check_same_device(op, "'weight'", W->data, "idx", idx->data))
        return false;
    if (W->data->ndim != 2) {
        dz_raise(DZ_ERR_SHAPE, "%s: 'weight' must be 2-D (num_embeddings, embedding_dim), but got shape %s", op,
                 DZ_SHAPE_OF(W->data));
        return false;
    }
    if (idx->data->ndim + 1 > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: idx of shape %s has %d dims; the output would exceed %d dims", op,
                 DZ_SHAPE_OF(idx->data), idx->data->ndim, DZ_MAX_NDIM);
        return false;
    }
    return true;
}

dz_variable *dz_embedding(dz_variable *idx, dz_variable *W, const dz_embedding_options *opt)
{
    const char *op = "dz_embedding";
    const dz_embedding_options o = opt ? *opt : dz_embedding_default_options();
    if (!dz_embedding_check_index_dtype(op, "idx", idx) || !check_weight(op, W, idx))
        return NULL;
    embedding_state s = {W->data->shape[0], -1, o.scale_grad_by_freq, o.sparse, false};
    if (!dz_embedding_check_norm(op, o.has_max_norm, o.max_norm, o.norm_type) ||
        !dz_embedding_padding(op, "padding_idx must be within num_embeddings", o.has_padding_idx, o.padding_idx,
                              s.num_rows, &s.padding_idx) ||
        !dz_embedding_check_range(op, idx->data, s.num_rows))
        return NULL;
    if (o.has_max_norm && !dz_embedding_renorm(op, W, idx->data, o.max_norm, o.norm_type))
        return NULL;
    return apply_gather(idx, W, s);
}

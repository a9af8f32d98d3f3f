/* EmbeddingBag: sums, means or maxima of embedding rows over bags, as
 * PyTorch's F.embedding_bag. Bags come from 1-D idx + offsets or from the rows
 * of a 2-D idx; they are turned into `starts` (B + 1 bounds) once, checked.
 * The backward computes plain arrays (no graph): per-entry grad rows
 * scattered into W (or appended to W's sparse grad), the argmax scatter for
 * max, and row dot products for per_sample_weights. */
#include <stdlib.h>
#include <string.h>

#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "../kernels/embedding_kernels.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/embedding.h"
#include "dezero/function.h"
#include "embedding_internal.h"
#include "../core/op_helpers.h"


static const char *const op_name = "dz_embedding_bag";

typedef struct {
    dz_array *idx;    /* (N,) the input's indices, flat */
    dz_array *starts; /* (B + 1,) int64 bag bounds */
    dz_array *argmax; /* (B, D) int64 rows chosen by max; NULL in other modes */
    dz_embedding_bag_mode mode;
    int64_t padding_idx; /* -1: none */
    bool scale_grad_by_freq, sparse, has_weights;
} bag_state;

static void bag_state_free(void *p)
{
    bag_state *s = p;
    dz_array_release(s->idx);
    dz_array_release(s->starts);
    dz_array_release(s->argmax);
    free(s);
}

dz_embedding_bag_options dz_embedding_bag_default_options(void)
{
    return (dz_embedding_bag_options){.mode = DZ_EMBEDDING_BAG_MEAN, .norm_type = 2.0};
}

static const char *mode_name(dz_embedding_bag_mode mode)
{
    return mode == DZ_EMBEDDING_BAG_SUM ? "sum" : mode == DZ_EMBEDDING_BAG_MEAN ? "mean" : "max";
}

/* ---- bag bounds ------------------------------------------------------------ */

/* starts (B + 1) for fixed bags: the rows of a (B, L) idx, built on the host. */
static dz_array *fixed_starts(const dz_array *idx)
{
    const int64_t B = idx->shape[0], L = idx->shape[1];
    int64_t *bounds = dz_xmalloc((size_t)(B + 1) * sizeof *bounds);
    for (int64_t b = 0; b <= B; b++)
        bounds[b] = b * L;
    dz_array *starts = dz_indices_from_host(idx->device, B + 1, bounds);
    free(bounds);
    return starts;
}

/* Checks offsets (n,) against N indices. */
static bool offsets_valid(const int64_t *o, int64_t n, int64_t N, bool include_last)
{
    if (n > 0 && o[0] != 0) {
        dz_raise(DZ_ERR_VALUE, "%s: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                 "from position 0. However, got %lld", op_name, (long long)o[0]);
        return false;
    }
    for (int64_t i = 1; i < n; i++) {
        if (o[i] < o[i - 1]) {
            dz_raise(DZ_ERR_VALUE,
                     "%s: offsets must not decrease, but offsets[%lld] = %lld follows offsets[%lld] = %lld",
                     op_name, (long long)i, (long long)o[i], (long long)i - 1, (long long)o[i - 1]);
            return false;
        }
    }
    if (n > 0 && o[n - 1] > N) {
        dz_raise(DZ_ERR_VALUE,
                 "%s: offsets[-1] can not be greater than input's length %lld but got offsets[-1] of %lld",
                 op_name, (long long)N, (long long)o[n - 1]);
        return false;
    }
    if (include_last && o[n - 1] != N) {
        dz_raise(DZ_ERR_VALUE,
                 "%s: with include_last_offset, offsets[-1] must equal the input's length %lld (it ends the last "
                 "bag) but got offsets[-1] of %lld", op_name, (long long)N, (long long)o[n - 1]);
        return false;
    }
    return true;
}

/* starts (B + 1) on idx's device from 1-D offsets: B = n, or n - 1 with
 * include_last_offset. The offsets are read on the host to be checked, which
 * synchronises with the device. */
static dz_array *offset_starts(const dz_variable *offsets, const dz_array *idx, bool include_last)
{
    if (!dz_embedding_check_index_dtype(op_name, "offsets", offsets) ||
        !dz_check_same_device(op_name, "idx", idx, "offsets", offsets->data))
        return NULL;
    const dz_array *off = offsets->data;
    if (off->ndim != 1 || (include_last && off->size < 1)) {
        dz_raise(DZ_ERR_SHAPE, "%s: offsets has to be a 1D Tensor%s, but got shape %s", op_name,
                 include_last ? " with at least one entry (include_last_offset)" : "", DZ_SHAPE_OF(off));
        return NULL;
    }
    const int64_t n = off->size, N = idx->size, bounds = include_last ? n : n + 1; /* B + 1 */
    dz_host_view view;
    const void *entries = dz_host_view_read(&view, off);
    if (!entries)
        return NULL;
    int64_t *o = dz_xmalloc((size_t)(n + 1) * sizeof *o); /* the offsets, then N */
    for (int64_t i = 0; i < n; i++)
        o[i] = dz_index_at(entries, off->dtype, i);
    o[n] = N;
    dz_host_view_close(&view);
    dz_array *starts = offsets_valid(o, n, N, include_last) ? dz_indices_from_host(idx->device, bounds, o)
                                                            : NULL;
    free(o);
    return starts;
}

static dz_array *bag_starts(const dz_variable *idx, const dz_variable *offsets, bool include_last)
{
    const dz_array *x = idx->data;
    if (x->ndim == 2) {
        if (offsets) {
            dz_raise(DZ_ERR_VALUE, "%s: if idx is 2D %s, then offsets has to be NULL, as idx is treated as a "
                     "mini-batch of fixed length sequences", op_name, DZ_SHAPE_OF(x));
            return NULL;
        }
        return fixed_starts(x);
    }
    if (x->ndim != 1) {
        dz_raise(DZ_ERR_SHAPE, "%s: idx has to be a 1D or 2D Tensor, but got shape %s (dimension %d)", op_name,
                 DZ_SHAPE_OF(x), x->ndim);
        return NULL;
    }
    if (!offsets) {
        dz_raise(DZ_ERR_VALUE, "%s: offsets has to be a 1D Tensor when idx is 1D, but got NULL", op_name);
        return NULL;
    }
    return offset_starts(offsets, x, include_last);
}

/* ---- checks ----------------------------------------------------------------- */

static bool check_weight(const dz_variable *W)
{
    if (!dz_check_float(op_name, W))
        return false;
    if (W->data->ndim != 2) {
        dz_raise(DZ_ERR_SHAPE, "%s: weight has to be a 2D Tensor, but got Tensor of dimension %d (shape %s)",
                 op_name, W->data->ndim, DZ_SHAPE_OF(W->data));
        return false;
    }
    return true;
}

bool dz_embedding_bag_check_options(const char *op, const dz_embedding_bag_options *o)
{
    if ((unsigned)o->mode > DZ_EMBEDDING_BAG_MAX) {
        dz_raise(DZ_ERR_VALUE, "%s: mode has to be one of sum, mean or max (got %d)", op, (int)o->mode);
        return false;
    }
    if (o->mode == DZ_EMBEDDING_BAG_MAX && (o->scale_grad_by_freq || o->sparse)) {
        dz_raise(DZ_ERR_VALUE, "%s: max mode does not support %s", op,
                 o->sparse ? "sparse weights" : "scaling the gradient by the frequency");
        return false;
    }
    return dz_embedding_check_norm(op, o->has_max_norm, o->max_norm, o->norm_type);
}

static bool check_weights(const dz_variable *psw, const dz_variable *idx, const dz_variable *W,
                          dz_embedding_bag_mode mode)
{
    if (!psw)
        return true;
    if (!dz_check_variable(op_name, psw) ||
        !dz_check_same_device(op_name, "weight", W->data, "per_sample_weights", psw->data))
        return false;
    if (mode != DZ_EMBEDDING_BAG_SUM) {
        dz_raise(DZ_ERR_UNSUPPORTED, "%s: per_sample_weights was not NULL. per_sample_weights is only supported "
                 "for mode sum (got mode %s)", op_name, mode_name(mode));
        return false;
    }
    if (psw->data->dtype != W->data->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: expected per_sample_weights to have the same type as weight (%s), but got %s",
                 op_name, dz_dtype_name(W->data->dtype), dz_dtype_name(psw->data->dtype));
        return false;
    }
    if (!dz_array_same_shape(psw->data, idx->data)) {
        dz_raise(DZ_ERR_SHAPE, "%s: if per_sample_weights %s is not NULL, then it must have the same shape as the "
                 "idx %s", op_name, DZ_SHAPE_OF(psw->data), DZ_SHAPE_OF(idx->data));
        return false;
    }
    return true;
}

/* ---- forward ------------------------------------------------------------------ */

/* y (B, D) for the bags in s; s->argmax set in max mode. */
static dz_array *bag_forward(const dz_array *w, const dz_array *psw, bag_state *s)
{
    const int64_t B = s->starts->size - 1, D = w->shape[1];
    dz_array *y = dz_array_empty_on(w->device, w->dtype, 2, DZ_SHAPE(B, D)); // (B, D)
    if (!y)
        return NULL;
    bool ok;
    if (s->mode == DZ_EMBEDDING_BAG_MAX) {
        s->argmax = dz_array_empty_on(w->device, DZ_I64, 2, DZ_SHAPE(B, D)); // (B, D)
        ok = s->argmax && dz_kernel_embedding_bag_max(w, s->idx, s->starts, s->padding_idx, y, s->argmax);
    } else {
        ok = dz_kernel_embedding_bag_sum(w, s->idx, s->starts, psw, s->padding_idx, s->mode == DZ_EMBEDDING_BAG_MEAN,
                                         y);
    }
    if (ok)
        return y;
    dz_array_release(y);
    return NULL;
}

/* ---- backward ------------------------------------------------------------------ */

/* gW (V, D) for max: gy[b, d] goes to row argmax[b, d]. */
static dz_variable *max_grad(const dz_array *gy, const dz_array *w, const bag_state *s)
{
    dz_array *gw = dz_array_empty_on(w->device, w->dtype, 2, w->shape); // (V, D)
    if (!gw)
        return NULL;
    if (dz_kernel_embedding_bag_max_backward(gy, s->argmax, gw))
        return dz_variable_new(gw, NULL);
    dz_array_release(gw);
    return NULL;
}

/* sum/mean with a sparse W: the per-entry rows (N, D) as a sparse grad. */
static dz_variable *sparse_sum_grad(const dz_array *gy, const dz_array *w, const dz_array *psw, const bag_state *s)
{
    if (s->scale_grad_by_freq) {
        dz_raise(DZ_ERR_UNSUPPORTED, "%s: scale_grad_by_freq is not supported with sparse gradients (as in "
                 "PyTorch); turn one of them off", op_name);
        return NULL;
    }
    dz_array *rows = dz_array_empty_on(gy->device, gy->dtype, 2, DZ_SHAPE(s->idx->size, gy->shape[1])); // (N, D)
    if (!rows)
        return NULL;
    if (dz_kernel_embedding_bag_grad_rows(gy, s->idx, s->starts, psw, s->padding_idx, s->mode == DZ_EMBEDDING_BAG_MEAN,
                                          rows))
        return dz_embedding_sparse_grad(s->idx, rows, s->padding_idx, w->shape[0]);
    dz_array_release(rows);
    return NULL;
}

/* gW (V, D) for sum/mean: gy[bag of j] scaled into row idx[j]. */
static dz_variable *sum_grad(const dz_array *gy, const dz_array *w, const dz_array *psw, const bag_state *s)
{
    dz_array *gw = dz_array_empty_on(gy->device, gy->dtype, 2, w->shape); // (V, D)
    if (!gw)
        return NULL;
    if (dz_kernel_embedding_bag_scatter(gy, s->idx, s->starts, psw, s->padding_idx, s->mode == DZ_EMBEDDING_BAG_MEAN,
                                        s->scale_grad_by_freq, gw))
        return dz_variable_new(gw, NULL);
    dz_array_release(gw);
    return NULL;
}

/* gpsw (idx shape): dot(gy[bag of j], W[idx[j]]). */
static dz_variable *weights_grad(const dz_array *gy, const dz_array *w, const dz_array *psw, const bag_state *s)
{
    dz_array *g = dz_array_empty_on(w->device, w->dtype, psw->ndim, psw->shape);
    if (!g)
        return NULL;
    if (dz_kernel_embedding_bag_weights_grad(gy, w, s->idx, s->starts, s->padding_idx, g))
        return dz_variable_new(g, NULL);
    dz_array_release(g);
    return NULL;
}

/* bag: y (B, D) = reduce_b W[idx] (* psw); gW (V, D), gpsw (idx shape) */
static void bag_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const bag_state *s = f->state;
    dz_variable *W = IN(f, 0), *psw = s->has_weights ? IN(f, 1) : NULL;
    if (!dz_embedding_check_range("dz_embedding_bag (backward: idx changed since the forward)", s->idx,
                                  W->data->shape[0]))
        return;
    if (psw && dz_needs_grad(psw))
        gx[1] = weights_grad(gy[0]->data, W->data, psw->data, s);
    if (!dz_needs_grad(W))
        return;
    const dz_array *weights = psw ? psw->data : NULL;
    if (s->mode == DZ_EMBEDDING_BAG_MAX)
        gx[0] = max_grad(gy[0]->data, W->data, s);
    else if (s->sparse && !W->creator)
        gx[0] = sparse_sum_grad(gy[0]->data, W->data, weights, s);
    else
        gx[0] = sum_grad(gy[0]->data, W->data, weights, s);
}
static const dz_function_ops bag_ops = {"dz_embedding_bag", bag_backward, bag_state_free, NULL, "EmbeddingBag"};

/* ---- dz_embedding_bag ------------------------------------------------------------ */

static bool check_inputs(const dz_variable *idx, const dz_variable *W, const dz_variable *psw,
                         const dz_embedding_bag_options *o)
{
    return dz_embedding_check_index_dtype(op_name, "idx", idx) && check_weight(W) &&
           dz_check_same_device(op_name, "weight", W->data, "idx", idx->data) &&
           dz_embedding_bag_check_options(op_name, o) &&
           check_weights(psw, idx, W, o->mode);
}

/* The bag state after every check, with W renormalised when max_norm asks. */
static bag_state *prepare(dz_variable *idx, dz_variable *offsets, dz_variable *W, const dz_embedding_bag_options *o)
{
    const int64_t V = W->data->shape[0], N = idx->data->size;
    int64_t padding_idx;
    if (!dz_embedding_padding(op_name, "padding_idx must be within the number of embeddings", o->has_padding_idx,
                              o->padding_idx, V, &padding_idx))
        return NULL;
    dz_array *starts = bag_starts(idx, offsets, o->include_last_offset && idx->data->ndim == 1);
    if (!starts)
        return NULL;
    if (!dz_embedding_check_range(op_name, idx->data, V) ||
        (o->has_max_norm && !dz_embedding_renorm(op_name, W, idx->data, o->max_norm, o->norm_type))) {
        dz_array_release(starts);
        return NULL;
    }
    bag_state *s = dz_xcalloc(1, sizeof *s);
    *s = (bag_state){dz_array_reshape(idx->data, 1, &N), starts, NULL, o->mode, padding_idx,
                     o->scale_grad_by_freq, o->sparse, false};
    return s;
}

dz_variable *dz_embedding_bag(dz_variable *idx, dz_variable *offsets, dz_variable *W,
                              dz_variable *per_sample_weights, const dz_embedding_bag_options *opt)
{
    const dz_embedding_bag_options o = opt ? *opt : dz_embedding_bag_default_options();
    if (!check_inputs(idx, W, per_sample_weights, &o))
        return NULL;
    bag_state *s = prepare(idx, offsets, W, &o);
    if (!s)
        return NULL;
    s->has_weights = per_sample_weights != NULL;
    dz_variable *in[2] = {W, per_sample_weights};
    dz_array *y = bag_forward(W->data, s->has_weights ? per_sample_weights->data : NULL, s);
    return dz_function_apply1(&bag_ops, s->has_weights ? 2 : 1, in, y, 0, s);
}

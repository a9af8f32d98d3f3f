/* Sparse gradients in the optimizers: checking a dz_sparse_grad against its
 * parameter, coalescing it (sorted unique rows, duplicates summed), and SGD
 * on sparse grads. Adagrad and SparseAdam step on the coalesced grad with
 * their row kernels (adagrad.c, adam.c).
 *
 * SGD, as torch.optim.SGD on a sparse grad:
 *   - without momentum, p.add_(grad, alpha=-lr) adds the entries one by one,
 *     so a row that appears twice gets two separate subtractions;
 *   - with momentum, PyTorch's buffer is itself a sparse tensor that keeps
 *     every row it has ever held. Here the buffer is dense (same shape as p)
 *     and the rows it may hold are tracked (touched_rows), so a step costs
 *     time in proportion to those rows, not to the table:
 *         b[r] = mu*b[r]                     for r in touched   (not at step 1)
 *         b[r] = b[r] + (1-dampening)*g[r]   for r in the grad  (b = g at step 1)
 *         d[r] = b[r], or g[r] + mu*b[r] (Nesterov)
 *         p[r] = p[r] - lr*d[r]              for r in touched
 *     The values are PyTorch's up to rounding: it adds uncoalesced entries one
 *     at a time where this sums duplicates first.
 */
#include <string.h>

#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../kernels/optim_kernels.h"
#include "../kernels/temps.h"
#include "optimizer_internal.h"

/* ---- checks ---- */

static int64_t row_size(const dz_array *a)
{
    int64_t n = 1;
    for (int i = 1; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

static dz_status check_layout(const char *who, const char *path, const dz_array *p, const dz_sparse_grad *g)
{
    const dz_array *idx = g->indices, *val = g->values;
    if (!idx || !val)
        return dz_raise(DZ_ERR_STATE, "%s: the sparse grad of parameter '%s' has no indices or values", who,
                        path);
    if (p->ndim < 1 || g->num_rows != p->shape[0])
        return dz_raise(DZ_ERR_SHAPE, "%s: the sparse grad of parameter '%s' has %lld rows but the parameter has "
                        "shape %s", who, path, (long long)g->num_rows, DZ_SHAPE_OF(p));
    if (idx->dtype != DZ_I64 || idx->ndim != 1)
        return dz_raise(DZ_ERR_DTYPE, "%s: the sparse grad of parameter '%s' needs (nnz,) int64 indices, got "
                        "%s %s", who, path, dz_dtype_name(idx->dtype), DZ_SHAPE_OF(idx));
    if (val->dtype != p->dtype)
        return dz_raise(DZ_ERR_DTYPE, "%s: parameter '%s' is %s but its sparse grad values are %s", who,
                        path, dz_dtype_name(p->dtype), dz_dtype_name(val->dtype));
    if (val->ndim != p->ndim || val->shape[0] != idx->shape[0] || row_size(val) != row_size(p) ||
        !dz_shape_equal(val->ndim - 1, val->shape + 1, p->ndim - 1, p->shape + 1))
        return dz_raise(DZ_ERR_SHAPE, "%s: sparse grad of parameter '%s': values %s do not fit %s indices and a "
                        "parameter of shape %s", who, path, DZ_SHAPE_OF(val), DZ_SHAPE_OF(idx),
                        DZ_SHAPE_OF(p));
    if (idx->device != p->device || val->device != p->device)
        return dz_raise(DZ_ERR_DEVICE, "%s: the sparse grad of parameter '%s' must have its indices and values on "
                        "the parameter's device (%s)", who, path, p->device == DZ_CPU ? "CPU" : "GPU");
    return DZ_OK;
}

/* *increasing = whether rows[k] < rows[k + 1] for every k: the smallest
 * difference rows[k + 1] - rows[k] is positive (index_range synchronises).
 * The rows are in range, so no difference overflows. */
static dz_status rows_increase(const dz_array *rows, bool *increasing)
{
    const dz_backend *be = dz_backend_of(rows);
    int64_t n = rows->size, lo, hi;
    *increasing = true;
    if (n < 2)
        return DZ_OK;
    dz_array *earlier = dz_array_uninit_on(rows->device, DZ_I64, 1, DZ_SHAPE(n - 1));
    dz_array *later = dz_array_uninit_on(rows->device, DZ_I64, 1, DZ_SHAPE(n - 1));
    dz_array *steps = NULL;
    if (earlier && later) {
        dz_gather_spec spec = {.ndim = 1, .shape = {n - 1}, .stride = {1}};
        be->gather(rows, &spec, earlier); /* rows[0 : n-1] */
        spec.offset = 1;
        be->gather(rows, &spec, later); /* rows[1 : n] */
        steps = dz_array_binary(DZ_BINARY_SUB, later, earlier);
    }
    if (steps) {
        be->index_range(steps, &lo, &hi);
        *increasing = lo > 0;
    }
    dz_array_release(earlier);
    dz_array_release(later);
    dz_array_release(steps);
    return steps ? DZ_OK : DZ_ERR_NOMEM;
}

dz_status dz_optim_check_sparse_grad(const char *who, const dz_update_item *item)
{
    const dz_array *p = item->param->data;
    const dz_sparse_grad *g = item->param->sparse_grad;
    dz_status status = check_layout(who, item->path, p, g);
    if (status != DZ_OK || g->indices->size == 0)
        return status;
    int64_t lo, hi;
    dz_backend_of(g->indices)->index_range(g->indices, &lo, &hi); /* synchronises */
    if (lo < 0 || hi >= p->shape[0])
        return dz_raise(DZ_ERR_INDEX, "%s: the sparse grad of parameter '%s' has row index %lld, out of range for "
                        "%lld rows", who, item->path, (long long)(lo < 0 ? lo : hi), (long long)p->shape[0]);
    bool increasing = true;
    if (g->coalesced)
        status = rows_increase(g->indices, &increasing);
    if (status == DZ_OK && !increasing)
        return dz_raise(DZ_ERR_VALUE, "%s: the sparse grad of parameter '%s' is marked coalesced but its rows are "
                        "not sorted and unique", who, item->path);
    return status;
}

/* ---- coalescing (core's, without touching the grad) ---- */

dz_status dz_optim_coalesce(const dz_sparse_grad *g, dz_coalesced *out)
{
    if (g->coalesced) {
        out->rows = dz_array_retain(g->indices);
        out->values = dz_array_retain(g->values);
        return DZ_OK;
    }
    return dz_sparse_grad_coalesced_entries(g, &out->rows, &out->values);
}

void dz_optim_coalesced_free(dz_coalesced *c)
{
    dz_array_release(c->rows);
    dz_array_release(c->values);
    c->rows = c->values = NULL;
}

/* ---- SGD ---- */

void dz_optim_forget_touched_rows(dz_param_state *state)
{
    dz_array_release(state->touched_rows);
    state->touched_rows = NULL;
}

/* Rows of `buffer` that are not all zero bits (after a load or a dense
 * step). The bits are compared on the host: a host view of the buffer, which
 * synchronises (and copies it when it is on a device). */
static dz_array *nonzero_rows(const dz_array *buffer)
{
    dz_host_view view;
    const char *elements = dz_host_view_read(&view, buffer);
    if (!elements)
        return NULL;
    int64_t rows = buffer->shape[0], count = 0;
    size_t row_bytes = (size_t)row_size(buffer) * dz_dtype_size(buffer->dtype);
    char *zero = dz_xcalloc(1, row_bytes + 1);
    int64_t *found = dz_xmalloc((size_t)rows * sizeof *found + 1);
    for (int64_t r = 0; r < rows; r++)
        if (memcmp(elements + (size_t)r * row_bytes, zero, row_bytes) != 0)
            found[count++] = r;
    dz_host_view_close(&view);
    dz_array *out = dz_indices_from_host(buffer->device, count, found);
    free(zero);
    free(found);
    return out;
}

/* The row lists below (on the parameter's device) are merged on the host,
 * through host views, which synchronise and copy from a device. */

/* The sorted union of two sorted row lists. */
static dz_array *union_rows(const dz_array *a, const dz_array *b)
{
    dz_host_view va, vb;
    const int64_t *x = dz_host_view_read(&va, a), *y = x ? dz_host_view_read(&vb, b) : NULL;
    if (!y) {
        dz_host_view_close(&va);
        return NULL;
    }
    int64_t *z = dz_xmalloc((size_t)(a->size + b->size) * sizeof *z + 1), i = 0, j = 0, n = 0;
    while (i < a->size || j < b->size) {
        int64_t next = j >= b->size || (i < a->size && x[i] < y[j]) ? x[i] : y[j];
        i += i < a->size && x[i] == next;
        j += j < b->size && y[j] == next;
        z[n++] = next;
    }
    dz_host_view_close(&va);
    dz_host_view_close(&vb);
    dz_array *out = dz_indices_from_host(a->device, n, z);
    free(z);
    return out;
}

/* positions[k] = where rows[k] sits in `touched` (both sorted; rows within touched). */
static dz_array *positions_in(const dz_array *rows, const dz_array *touched)
{
    dz_host_view vr, vt;
    const int64_t *r = dz_host_view_read(&vr, rows), *t = r ? dz_host_view_read(&vt, touched) : NULL;
    if (!t) {
        dz_host_view_close(&vr);
        return NULL;
    }
    int64_t *positions = dz_xmalloc((size_t)rows->size * sizeof *positions + 1);
    for (int64_t k = 0, i = 0; k < rows->size; k++) {
        while (t[i] != r[k])
            i++;
        positions[k] = i;
    }
    dz_host_view_close(&vr);
    dz_host_view_close(&vt);
    dz_array *out = dz_indices_from_host(rows->device, rows->size, positions);
    free(positions);
    return out;
}

static dz_array *rows_like(const dz_array *p, int64_t n)
{
    int64_t shape[DZ_MAX_NDIM];
    memcpy(shape, p->shape, sizeof shape);
    shape[0] = n;
    return dz_array_empty_on(p->device, p->dtype, p->ndim, shape); /* zeros */
}

/* d = g + mu*b on the touched rows (g is 0 on rows it does not hold). */
static dz_array *nesterov_direction(const dz_sgd_config *c, const dz_coalesced *g, const dz_array *touched,
                                    const dz_array *b_rows)
{
    const dz_backend *be = dz_backend_of(b_rows);
    dz_array *d = rows_like(b_rows, touched->size), *where = positions_in(g->rows, touched);
    bool ok = d && where;
    if (ok)
        be->index_add_rows(d, where, g->values, 1.0, -1, false); /* d = g */
    ok = ok && dz_kernel_axpy(d, b_rows, c->momentum);          /* d = d + mu*b */
    dz_array_release(where);
    if (!ok) {
        dz_array_release(d);
        return NULL;
    }
    return d;
}

/* The momentum step on the coalesced grad g (see the comment atop the file). */
static dz_status momentum_step(const dz_sgd_config *c, dz_param_state *state, dz_variable *param,
                               const dz_coalesced *g)
{
    const dz_backend *be = dz_backend_of(param->data);
    bool first_step = state->arrays[0] == NULL;
    dz_array *b = dz_optim_state_array(state, 0, param, 0);
    if (b && !state->touched_rows)
        state->touched_rows = nonzero_rows(b);
    if (!b || !state->touched_rows)
        return DZ_ERR_NOMEM;
    if (!first_step && !dz_kernel_rows_scale(b, state->touched_rows, c->momentum)) /* b = mu*b */
        return DZ_ERR_NOMEM;
    be->index_add_rows(b, g->rows, g->values, first_step ? 1.0 : 1 - c->dampening, -1, false); /* b = b + (1-damp)*g */
    dz_array *touched = union_rows(state->touched_rows, g->rows);
    if (!touched)
        return DZ_ERR_NOMEM;
    dz_optim_forget_touched_rows(state);
    state->touched_rows = touched;
    dz_array *d = rows_like(b, touched->size);
    if (!d)
        return DZ_ERR_NOMEM;
    be->gather_rows(b, touched, -1, d); /* d = b */
    if (c->nesterov) {
        dz_array *b_rows = d;
        d = nesterov_direction(c, g, touched, b_rows); /* d = g + mu*b */
        dz_array_release(b_rows);
        if (!d)
            return DZ_ERR_NOMEM;
    }
    be->index_add_rows(param->data, touched, d, -c->lr, -1, false); /* p = p - lr*d */
    dz_array_release(d);
    return DZ_OK;
}

dz_status dz_optim_sgd_sparse_step(const dz_sgd_config *c, dz_param_state *state, dz_variable *param)
{
    const dz_sparse_grad *g = param->sparse_grad;
    if (c->momentum == 0) { /* p[r] = p[r] - lr*g_k, entry by entry */
        dz_backend_of(param->data)->index_add_rows(param->data, g->indices, g->values, -c->lr, -1, false);
        return DZ_OK;
    }
    dz_coalesced coalesced = {0};
    dz_status status = dz_optim_coalesce(g, &coalesced);
    if (status == DZ_OK)
        status = momentum_step(c, state, param, &coalesced);
    dz_optim_coalesced_free(&coalesced);
    return status;
}

/* Sparse gradients: ownership, appending entries, coalescing, densifying,
 * and the grad Variables that carry them through backward.
 * Sums go through the backend's embedding scatter-add, so they run in entry
 * order and match the dense embedding backward bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "dezero/sparse_grad.h"
#include "host_view.h"
#include "internal.h"

void dz_sparse_grad_free(dz_sparse_grad *g)
{
    if (!g)
        return;
    dz_array_release(g->indices);
    dz_array_release(g->values);
    free(g);
}

/* a then b along the first axis (same dtype and row width). */
static dz_array *concat_rows(const dz_array *a, const dz_array *b)
{
    int64_t shape[DZ_MAX_NDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = a->shape[0] + b->shape[0];
    dz_array *y = dz_array_empty_on(a->device, a->dtype, a->ndim, shape);
    if (!y)
        return NULL;
    size_t na = (size_t)a->size * dz_dtype_size(a->dtype), nb = (size_t)b->size * dz_dtype_size(b->dtype);
    const dz_backend *be = dz_backend_of(a);
    be->copy(y->data, a->data, na);
    be->copy((char *)y->data + na, b->data, nb);
    return y;
}

/* indices (nnz,) int64 and values (nnz, D) float, on one device, and
 * num_rows >= 0. */
static bool valid_entries(const char *op, const dz_array *indices, const dz_array *values, int64_t num_rows)
{
    if (!dz_check_not_null(op, indices, "indices") || !dz_check_not_null(op, values, "values") ||
        !dz_check_array(op, indices) || !dz_check_array(op, values))
        return false;
    if (num_rows < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: num_rows is %lld; the weight has 0 or more rows", op, (long long)num_rows);
        return false;
    }
    if (indices->dtype != DZ_I64 || !dz_dtype_is_float(values->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: needs int64 indices and float32 or float64 values; got %s and %s", op,
                 dz_dtype_name(indices->dtype), dz_dtype_name(values->dtype));
        return false;
    }
    if (indices->ndim != 1 || values->ndim != 2 || values->shape[0] != indices->shape[0]) {
        dz_raise(DZ_ERR_SHAPE, "%s: needs indices (nnz,) and values (nnz, D); got %s and %s", op,
                 DZ_SHAPE_OF(indices), DZ_SHAPE_OF(values));
        return false;
    }
    if (indices->device != values->device) {
        dz_raise(DZ_ERR_DEVICE, "%s: indices and values are on different devices; move both to one", op);
        return false;
    }
    return true;
}

/* Every index in [0, num_rows). */
static bool indices_in_range(const char *op, const dz_array *indices, int64_t num_rows)
{
    int64_t index, bad = dz_first_index_outside(indices, 0, num_rows, &index);
    if (bad >= 0)
        dz_raise(DZ_ERR_INDEX, "%s: entry %lld has index %lld, out of range for %lld rows; indices run from 0 to "
                 "num_rows - 1", op, (long long)bad, (long long)index, (long long)num_rows);
    return bad == -1;
}

static dz_sparse_grad *sparse_grad_new(dz_array *indices, dz_array *values, int64_t num_rows)
{
    dz_sparse_grad *g = dz_xmalloc(sizeof *g);
    *g = (dz_sparse_grad){indices, values, num_rows, indices->size <= 1};
    return g;
}

/* The entries fit the parameter's (num_rows, D) weight and its grad so far. */
static dz_status check_append(const dz_variable *param, const dz_array *indices, const dz_array *values,
                              int64_t num_rows)
{
    const char *op = "dz_sparse_grad_append";
    if (!dz_check_not_null(op, param, "param") || !valid_entries(op, indices, values, num_rows) ||
        !indices_in_range(op, indices, num_rows))
        return dz_last_error_code();
    const dz_sparse_grad *old = param->sparse_grad;
    if (old && (old->num_rows != num_rows || old->values->shape[1] != values->shape[1] ||
                old->values->dtype != values->dtype || old->values->device != values->device))
        return dz_raise(DZ_ERR_SHAPE, "%s: entries %s %s do not fit the existing %s %s grad of %lld rows", op,
                        dz_dtype_name(values->dtype), DZ_SHAPE_OF(values), dz_dtype_name(old->values->dtype),
                        DZ_SHAPE_OF(old->values), (long long)old->num_rows);
    const dz_array *w = param->data;
    if (w && (w->ndim != 2 || w->shape[0] != num_rows || w->shape[1] != values->shape[1] ||
              w->dtype != values->dtype || w->device != values->device))
        return dz_raise(DZ_ERR_SHAPE, "%s: entries %s %s for %lld rows do not fit the %s %s weight; values are "
                        "(nnz, D) rows of the weight (num_rows, D), of its dtype and device", op,
                        dz_dtype_name(values->dtype), DZ_SHAPE_OF(values), (long long)num_rows,
                        dz_dtype_name(w->dtype), DZ_SHAPE_OF(w));
    return DZ_OK;
}

dz_status dz_sparse_grad_append(dz_variable *param, dz_array *indices, dz_array *values, int64_t num_rows)
{
    dz_status st = check_append(param, indices, values, num_rows);
    dz_sparse_grad *old = st == DZ_OK ? param->sparse_grad : NULL;
    if (st == DZ_OK && !old) {
        param->sparse_grad = sparse_grad_new(indices, values, num_rows);
        return DZ_OK;
    }
    dz_array *all_indices = old ? concat_rows(old->indices, indices) : NULL;
    dz_array *all_values = old ? concat_rows(old->values, values) : NULL;
    dz_array_release(indices);
    dz_array_release(values);
    if (st == DZ_OK && (!all_indices || !all_values))
        st = dz_last_error_code();
    if (st != DZ_OK) {
        dz_array_release(all_indices);
        dz_array_release(all_values);
        return st;
    }
    dz_sparse_grad_free(old);
    param->sparse_grad = sparse_grad_new(all_indices, all_values, num_rows);
    param->sparse_grad->coalesced = false;
    return DZ_OK;
}

typedef struct {
    int64_t index, position;
} entry;

static int compare_entries(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return (a->position > b->position) - (a->position < b->position);
}

/* For each of the nnz entries of `indices` (host elements), the slot of its
 * index among the sorted unique indices; returns those indices as an array. */
static dz_array *unique_slots(const int64_t *indices, int64_t nnz, int64_t *slots)
{
    entry *e = dz_xmalloc((size_t)(nnz ? nnz : 1) * sizeof *e);
    int64_t *unique = dz_xmalloc((size_t)(nnz ? nnz : 1) * sizeof *unique);
    for (int64_t i = 0; i < nnz; i++)
        e[i] = (entry){indices[i], i};
    qsort(e, (size_t)nnz, sizeof *e, compare_entries);
    int64_t count = 0;
    for (int64_t i = 0; i < nnz; i++) {
        if (i == 0 || e[i].index != e[i - 1].index)
            unique[count++] = e[i].index;
        slots[e[i].position] = count - 1;
    }
    dz_array *a = dz_array_from_buffer(DZ_I64, 1, &count, unique);
    free(unique);
    free(e);
    return a;
}

/* The sorted unique indices of g, and in *slots (a new (nnz,) int64 array)
 * each entry's place among them: the sort runs on the host, on host views
 * (the arrays' own buffers on the CPU, where coalescing runs). */
/* The sort runs on the host: on a GPU the indices are read through a host
 * view (a copy that synchronises), and the unique indices and slots are
 * copied back to the grad's device. */
static dz_array *coalesced_indices(const dz_sparse_grad *g, dz_array **slots)
{
    const int64_t nnz = g->indices->size;
    dz_array *host_slots = dz_array_empty(DZ_I64, 1, &nnz);
    if (!host_slots)
        return NULL;
    dz_host_view indices_view, slots_view;
    const int64_t *indices = dz_host_view_read(&indices_view, g->indices);
    int64_t *slot = dz_host_view_write(&slots_view, host_slots);
    dz_array *host_unique = unique_slots(indices, nnz, slot);
    dz_host_view_close(&slots_view);
    dz_host_view_close(&indices_view);
    const dz_device device = g->indices->device;
    dz_array *unique = host_unique ? dz_array_to_device(host_unique, device) : NULL;
    *slots = dz_array_to_device(host_slots, device);
    dz_array_release(host_unique);
    dz_array_release(host_slots);
    if (unique && *slots)
        return unique;
    dz_array_release(unique);
    dz_array_release(*slots);
    *slots = NULL;
    return NULL;
}

/* A grad made by hand (the struct is public) is checked like appended entries. */
static bool valid_grad(const char *op, const dz_sparse_grad *g)
{
    return dz_check_not_null(op, g, "the grad") && valid_entries(op, g->indices, g->values, g->num_rows);
}

dz_status dz_sparse_grad_coalesced_entries(const dz_sparse_grad *g, dz_array **indices, dz_array **values)
{
    dz_array *slots = NULL;
    *indices = coalesced_indices(g, &slots);
    *values = *indices ? dz_array_empty_on(g->values->device, g->values->dtype, 2,
                                           DZ_SHAPE((*indices)->size, g->values->shape[1]))
                       : NULL; // (m, D) zeros
    if (*values) /* values[slots[k]] += g->values[k], in entry order */
        dz_backend_of(*values)->index_add_rows(*values, slots, g->values, 1.0, -1, false);
    dz_array_release(slots);
    if (*values)
        return DZ_OK;
    dz_array_release(*indices);
    *indices = NULL;
    return dz_last_error_code();
}

dz_status dz_sparse_grad_coalesce(dz_sparse_grad *g)
{
    if (!valid_grad("dz_sparse_grad_coalesce", g))
        return dz_last_error_code();
    if (g->coalesced)
        return DZ_OK;
    dz_array *indices, *values;
    dz_status status = dz_sparse_grad_coalesced_entries(g, &indices, &values);
    if (status != DZ_OK)
        return status;
    dz_array_release(g->indices);
    dz_array_release(g->values);
    g->indices = indices;
    g->values = values;
    g->coalesced = true;
    return DZ_OK;
}

dz_variable *dz_sparse_grad_variable(dz_array *indices, dz_array *values, int64_t num_rows)
{
    if (!indices || !values) {
        dz_array_release(indices);
        dz_array_release(values);
        return NULL;
    }
    dz_variable *v = dz_variable_constant(NULL, NULL);
    v->sparse_grad = sparse_grad_new(indices, values, num_rows);
    return v;
}

dz_array *dz_sparse_grad_to_dense(const dz_sparse_grad *g, int64_t D)
{
    const char *op = "dz_sparse_grad_to_dense";
    if (!valid_grad(op, g))
        return NULL;
    if (D != g->values->shape[1]) {
        dz_raise(DZ_ERR_SHAPE, "%s: D is %lld but the values have shape %s; pass their width", op, (long long)D,
                 DZ_SHAPE_OF(g->values));
        return NULL;
    }
    if (!indices_in_range(op, g->indices, g->num_rows))
        return NULL;
    dz_array *dense = dz_array_new_for(op, g->values->device, g->values->dtype, 2, DZ_SHAPE(g->num_rows, D), true);
    if (dense)
        dz_backend_of(dense)->index_add_rows(dense, g->indices, g->values, 1.0, -1, false);
    return dense;
}

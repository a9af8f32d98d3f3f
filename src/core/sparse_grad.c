/* Sparse gradients: ownership, appending entries, coalescing, densifying.
 * Sums go through the backend's embedding scatter-add, so they run in entry
 * order and match the dense embedding backward bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "dezero/sparse_grad.h"
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

static bool valid_entries(const char *op, const dz_array *indices, const dz_array *values, int64_t num_rows)
{
    if (!indices || !values) {
        dz_raise(DZ_ERR_NULL, "%s: indices or values is NULL", op);
        return false;
    }
    if (indices->dtype != DZ_I64 || indices->ndim != 1 || values->ndim != 2 ||
        values->shape[0] != indices->shape[0] || !dz_dtype_is_float(values->dtype) || num_rows < 0) {
        dz_raise(DZ_ERR_SHAPE, "%s: needs int64 indices (nnz,) and float values (nnz, D); got %s %s and %s %s", op,
                 dz_dtype_name(indices->dtype), DZ_SHAPE_OF(indices), dz_dtype_name(values->dtype),
                 DZ_SHAPE_OF(values));
        return false;
    }
    return true;
}

/* Every index in [0, num_rows). */
static bool indices_in_range(const char *op, const dz_sparse_grad *g)
{
    const int64_t *ind = g->indices->data;
    for (int64_t i = 0; i < g->indices->size; i++) {
        if (ind[i] < 0 || ind[i] >= g->num_rows) {
            dz_raise(DZ_ERR_INDEX, "%s: entry %lld has index %lld, out of range for %lld rows", op, (long long)i,
                     (long long)ind[i], (long long)g->num_rows);
            return false;
        }
    }
    return true;
}

static dz_sparse_grad *sparse_grad_new(dz_array *indices, dz_array *values, int64_t num_rows)
{
    dz_sparse_grad *g = dz_xmalloc(sizeof *g);
    *g = (dz_sparse_grad){indices, values, num_rows, indices->size <= 1};
    return g;
}

static dz_status check_append(const dz_variable *param, const dz_array *indices, const dz_array *values,
                              int64_t num_rows)
{
    if (!param)
        return dz_raise(DZ_ERR_NULL, "dz_sparse_grad_append: param is NULL");
    if (!valid_entries("dz_sparse_grad_append", indices, values, num_rows))
        return dz_last_error_code();
    const dz_sparse_grad *old = param->sparse_grad;
    if (old && (old->num_rows != num_rows || old->values->shape[1] != values->shape[1] ||
                old->values->dtype != values->dtype))
        return dz_raise(DZ_ERR_SHAPE,
                        "dz_sparse_grad_append: entries %s %s do not fit the existing %s %s grad of %lld rows",
                        dz_dtype_name(values->dtype), DZ_SHAPE_OF(values), dz_dtype_name(old->values->dtype),
                        DZ_SHAPE_OF(old->values), (long long)old->num_rows);
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

/* For each entry, the slot of its index among the sorted unique indices;
 * returns those indices as an array. */
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

/* The sums below run on the CPU backend's kernels. */
static bool on_cpu(const char *op, const dz_sparse_grad *g)
{
    if (g->values->device != DZ_CPU || g->indices->device != DZ_CPU) {
        dz_raise(DZ_ERR_UNSUPPORTED, "%s: sparse grads on the GPU are not supported; move them to the CPU", op);
        return false;
    }
    return true;
}

dz_status dz_sparse_grad_coalesce(dz_sparse_grad *g)
{
    if (!g)
        return dz_raise(DZ_ERR_NULL, "dz_sparse_grad_coalesce: grad is NULL");
    if (!on_cpu("dz_sparse_grad_coalesce", g))
        return DZ_ERR_UNSUPPORTED;
    if (g->coalesced)
        return DZ_OK;
    const int64_t nnz = g->indices->size;
    dz_array *slots = dz_array_empty(DZ_I64, 1, &nnz);
    dz_array *indices = slots ? unique_slots(g->indices->data, nnz, slots->data) : NULL;
    dz_array *values = indices ? dz_array_empty_on(g->values->device, g->values->dtype, 2,
                                                   DZ_SHAPE(indices->size, g->values->shape[1]))
                               : NULL;
    if (values)
        dz_backend_of(values)->embedding_scatter_add(g->values, slots, -1, false, values);
    dz_array_release(slots);
    if (!values) {
        dz_array_release(indices);
        return dz_last_error_code();
    }
    dz_array_release(g->indices);
    dz_array_release(g->values);
    g->indices = indices;
    g->values = values;
    g->coalesced = true;
    return DZ_OK;
}

dz_array *dz_sparse_grad_to_dense(const dz_sparse_grad *g, int64_t D)
{
    if (!g) {
        dz_raise(DZ_ERR_NULL, "dz_sparse_grad_to_dense: grad is NULL");
        return NULL;
    }
    if (D != g->values->shape[1]) {
        dz_raise(DZ_ERR_SHAPE, "dz_sparse_grad_to_dense: D is %lld but the values have shape %s", (long long)D,
                 DZ_SHAPE_OF(g->values));
        return NULL;
    }
    if (!on_cpu("dz_sparse_grad_to_dense", g) || !indices_in_range("dz_sparse_grad_to_dense", g))
        return NULL;
    dz_array *dense = dz_array_empty_on(g->values->device, g->values->dtype, 2, DZ_SHAPE(g->num_rows, D));
    if (dense)
        dz_backend_of(dense)->embedding_scatter_add(g->values, g->indices, -1, false, dense);
    return dense;
}

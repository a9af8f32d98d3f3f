/* Mini-batches along the first axis, with a fresh shuffle each epoch. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "dezero/datasets.h"

struct dz_dataloader {
    dz_array *x, *t;
    int64_t batch_size, position;
    bool shuffle;
    dz_rng *rng;
    dz_array *order; /* (N,) i64 */
};

static void new_epoch(dz_dataloader *l)
{
    int64_t n = l->x->shape[0];
    dz_array_release(l->order);
    if (l->shuffle) {
        l->order = dz_array_permutation(l->rng, n);
    } else {
        l->order = dz_array_arange(DZ_I64, 0, (double)n, 1);
    }
    l->position = 0;
}

dz_dataloader *dz_dataloader_new(dz_array *x, dz_array *t, int64_t batch_size, bool shuffle, dz_rng *rng)
{
    if (!x || x->ndim < 1 || batch_size < 1 || (t && (t->ndim < 1 || t->shape[0] != x->shape[0]))) {
        dz_raise(DZ_ERR_VALUE, "dz_dataloader_new: needs x with a first axis, batch_size >= 1 (got %lld) and "
                 "t with as many rows as x", (long long)batch_size);
        return NULL;
    }
    dz_dataloader *l = dz_xcalloc(1, sizeof *l);
    l->x = dz_array_retain(x);
    l->t = dz_array_retain(t);
    l->batch_size = batch_size;
    l->shuffle = shuffle;
    l->rng = rng ? rng : dz_rng_default();
    new_epoch(l);
    return l;
}

/* Rows order[from..from+n) of a, gathered into a new array. */
static dz_array *take_rows(const dz_array *a, const int64_t *order, int64_t n)
{
    int64_t shape[DZ_MAX_NDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = n;
    dz_array *y = dz_array_uninit_on(DZ_CPU, a->dtype, a->ndim, shape);
    size_t row = (size_t)(a->size / (a->shape[0] ? a->shape[0] : 1)) * dz_dtype_size(a->dtype);
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)y->data + i * row, (const char *)a->data + order[i] * row, row);
    return y;
}

bool dz_dataloader_next(dz_dataloader *l, dz_array **x, dz_array **t)
{
    int64_t n = l->x->shape[0];
    if (l->position >= n) {
        new_epoch(l);
        return false;
    }
    int64_t count = l->position + l->batch_size <= n ? l->batch_size : n - l->position;
    const int64_t *order = (const int64_t *)l->order->data + l->position;
    *x = take_rows(l->x, order, count);
    if (t)
        *t = l->t ? take_rows(l->t, order, count) : NULL;
    l->position += count;
    return true;
}

int64_t dz_dataloader_batches(const dz_dataloader *l)
{
    return (l->x->shape[0] + l->batch_size - 1) / l->batch_size;
}

void dz_dataloader_free(dz_dataloader *l)
{
    if (!l)
        return;
    dz_array_release(l->x);
    dz_array_release(l->t);
    dz_array_release(l->order);
    free(l);
}

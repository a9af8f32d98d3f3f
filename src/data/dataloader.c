/* Mini-batches along the first axis, with a fresh shuffle each epoch, and the
 * loader's place in its epoch for checkpoints. The arrays are host arrays: a
 * batch is a gather of rows on the CPU. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "dataloader_internal.h"

struct dz_dataloader {
    dz_array *x, *t;
    int64_t batch_size, position;
    bool shuffle;
    dz_rng *rng;
    dz_array *order; /* (N,) i64, NULL when the last epoch could not start */
};

/* `a` (named `name`) can be cut into rows: a CPU array of a known dtype with
 * at least one axis. */
static bool check_rows(const char *name, const dz_array *a)
{
    if (!a) {
        dz_raise(DZ_ERR_NULL, "dz_dataloader_new: %s is NULL", name);
        return false;
    }
    if ((unsigned)a->dtype > DZ_F16) {
        dz_raise(DZ_ERR_DTYPE, "dz_dataloader_new: %s has an unknown dtype %d", name, (int)a->dtype);
        return false;
    }
    if (a->ndim < 1 || a->ndim > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "dz_dataloader_new: %s has %d axes; batches are cut along a first axis, so it needs "
                 "1 to %d", name, a->ndim, DZ_MAX_NDIM);
        return false;
    }
    if (a->device != DZ_CPU) {
        dz_raise(DZ_ERR_DEVICE, "dz_dataloader_new: %s is not on the CPU; load the data on the CPU and move each "
                 "batch with dz_array_to_device", name);
        return false;
    }
    return true;
}

static bool check_arguments(const dz_array *x, const dz_array *t, int64_t batch_size)
{
    if (!check_rows("x", x) || (t && !check_rows("t", t)))
        return false;
    if (t && t->shape[0] != x->shape[0]) {
        dz_raise(DZ_ERR_SHAPE, "dz_dataloader_new: x %s and t %s differ in their first axis; they need a row of t "
                 "per row of x", DZ_SHAPE_OF(x), DZ_SHAPE_OF(t));
        return false;
    }
    if (batch_size < 1) {
        dz_raise(DZ_ERR_VALUE, "dz_dataloader_new: batch_size is %lld; it must be 1 or more",
                 (long long)batch_size);
        return false;
    }
    return true;
}

/* Starts an epoch: a new order of the rows; false when memory runs out. */
static bool new_epoch(dz_dataloader *l)
{
    int64_t n = l->x->shape[0];
    dz_array_release(l->order);
    l->order = l->shuffle ? dz_array_permutation(l->rng, n) : dz_array_arange(DZ_I64, 0, (double)n, 1);
    l->position = 0;
    return l->order != NULL;
}

dz_dataloader *dz_dataloader_new(dz_array *x, dz_array *t, int64_t batch_size, bool shuffle, dz_rng *rng)
{
    if (!check_arguments(x, t, batch_size))
        return NULL;
    dz_dataloader *l = dz_xcalloc(1, sizeof *l);
    l->x = dz_array_retain(x);
    l->t = t ? dz_array_retain(t) : NULL;
    l->batch_size = batch_size;
    l->shuffle = shuffle;
    l->rng = rng ? rng : dz_rng_default();
    if (!new_epoch(l)) {
        dz_fail(DZ_ERR_NOMEM, "dz_dataloader_new: cannot allocate the order of %lld rows", (long long)x->shape[0]);
        dz_dataloader_free(l);
        return NULL;
    }
    return l;
}

/* Rows order[0..n) of a, gathered into a new array (NULL when memory runs out). */
static dz_array *take_rows(const dz_array *a, const int64_t *order, int64_t n)
{
    int64_t shape[DZ_MAX_NDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = n;
    dz_array *y = dz_array_uninit_on(DZ_CPU, a->dtype, a->ndim, shape);
    if (!y)
        return NULL;
    size_t row = (size_t)(a->shape[0] ? a->size / a->shape[0] : 0) * dz_dtype_size(a->dtype);
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)y->data + i * row, (const char *)a->data + order[i] * row, row);
    return y;
}

/* The next count rows as new arrays in *x (and *t); false when memory runs out. */
static bool take_batch(dz_dataloader *l, int64_t count, dz_array **x, dz_array **t)
{
    const int64_t *order = (const int64_t *)l->order->data + l->position;
    *x = take_rows(l->x, order, count);
    if (t && l->t)
        *t = take_rows(l->t, order, count);
    if (*x && (!t || !l->t || *t))
        return true;
    dz_array_release(*x);
    *x = NULL;
    if (t) {
        dz_array_release(*t);
        *t = NULL;
    }
    return false;
}

bool dz_dataloader_next(dz_dataloader *l, dz_array **x, dz_array **t)
{
    if (x)
        *x = NULL;
    if (t)
        *t = NULL;
    if (!l || !x) {
        dz_raise(DZ_ERR_NULL, "dz_dataloader_next: %s is NULL", l ? "x (where the batch goes)" : "the loader");
        return false;
    }
    int64_t n = l->x->shape[0];
    if (l->position >= n) {
        new_epoch(l); /* the end of an epoch; a rewind that failed is tried again below */
        return false;
    }
    if (!l->order && !new_epoch(l)) {
        dz_fail(DZ_ERR_NOMEM, "dz_dataloader_next: cannot allocate the order of %lld rows", (long long)n);
        return false;
    }
    int64_t count = n - l->position < l->batch_size ? n - l->position : l->batch_size;
    if (!take_batch(l, count, x, t)) {
        dz_fail(DZ_ERR_NOMEM, "dz_dataloader_next: cannot allocate a batch of %lld rows", (long long)count);
        return false;
    }
    l->position += count;
    return true;
}

int64_t dz_dataloader_batches(const dz_dataloader *l)
{
    if (!l) {
        dz_raise(DZ_ERR_NULL, "dz_dataloader_batches: the loader is NULL");
        return -1;
    }
    int64_t n = l->x->shape[0];
    return n / l->batch_size + (n % l->batch_size != 0);
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

/* ---- the place in the epoch (dataloader_internal.h) ---- */

const dz_array *dz_dataloader_order(const dz_dataloader *l) { return l->order; }
int64_t dz_dataloader_position(const dz_dataloader *l) { return l->position; }
int64_t dz_dataloader_rows(const dz_dataloader *l) { return l->x->shape[0]; }
int64_t dz_dataloader_batch_size(const dz_dataloader *l) { return l->batch_size; }

dz_status dz_dataloader_check_place(const char *who, const char *key, const dz_dataloader *l,
                                    const dz_array *order, int64_t position)
{
    int64_t n = l->x->shape[0];
    if (order->dtype != DZ_I64 || order->ndim != 1 || order->shape[0] != n || order->device != DZ_CPU)
        return dz_fail(DZ_ERR_FORMAT, "%s: '%s' is %s %s but the loader has %lld rows (it needs int64 (%lld,)); was "
                       "the checkpoint saved with another data set?", who, key, dz_dtype_name(order->dtype),
                       DZ_SHAPE_OF(order), (long long)n, (long long)n);
    if (position < 0 || position > n)
        return dz_fail(DZ_ERR_FORMAT, "%s: the loader's position %lld is outside [0, %lld]", who,
                       (long long)position, (long long)n);
    const int64_t *rows = order->data;
    unsigned char *seen = dz_xcalloc((size_t)n + 1, 1);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        if (rows[i] < 0 || rows[i] >= n || seen[rows[i]])
            bad = i;
        else
            seen[rows[i]] = 1;
    }
    free(seen);
    if (bad >= 0)
        return dz_fail(DZ_ERR_FORMAT, "%s: '%s' is not a permutation of the %lld rows (entry %lld is %lld)", who, key,
                       (long long)n, (long long)bad, (long long)rows[bad]);
    return DZ_OK;
}

void dz_dataloader_set_place(dz_dataloader *l, dz_array *order, int64_t position)
{
    dz_array *old = l->order;
    l->order = dz_array_retain(order);
    dz_array_release(old);
    l->position = position;
}

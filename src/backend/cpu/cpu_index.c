/* CPU indexing kernels: gather / scatter / scatter-add through a
 * dz_gather_spec (any NumPy-style index resolved to strides plus a table of
 * offsets), and the row fast paths used by x[idx] on a table and by
 * embeddings (one memcpy or one vector add per row, the add built with
 * DZ_FMA_CLONES). All run in a fixed order, so repeated targets accumulate
 * deterministically. */
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"

/* One row of y (its last dim): n elements from y_index on, against source
 * elements src + k * stride, or src + inner[k] when inner is not NULL. */
typedef struct {
    int64_t y_index, n, src, stride;
    const int64_t *inner;
} index_row;

typedef void (*index_row_fn)(const index_row *row, void *ctx);

/* C-order strides of the offsets table, laid over y's dims (0 elsewhere).
 * The products wrap around: they only overflow when y is empty. */
static void offsets_strides(const dz_gather_spec *s, int64_t *strides)
{
    uint64_t step = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        bool covered = s->offsets && d >= s->offsets_axis && d < s->offsets_axis + s->offsets_ndim;
        strides[d] = covered ? (int64_t)step : 0;
        if (covered)
            step *= (uint64_t)s->shape[d];
    }
}

/* Calls fn for every row of y in C order. */
static void for_each_index_row(const dz_gather_spec *s, index_row_fn fn, void *ctx)
{
    const int64_t *table = s->offsets ? s->offsets->data : NULL;
    if (s->ndim == 0) {
        index_row row = {0, 1, s->offset + (table ? table[0] : 0), 0, NULL};
        fn(&row, ctx);
        return;
    }
    int last = s->ndim - 1;
    int64_t ostride[DZ_MAX_NDIM] = {0}, index[DZ_MAX_NDIM] = {0}, rows = 1, src = s->offset, flat = 0;
    offsets_strides(s, ostride);
    bool inner_from_table = ostride[last] != 0;
    for (int d = 0; d < last; d++)
        rows *= s->shape[d];
    if (s->shape[last] == 0)
        return;
    for (int64_t r = 0; r < rows; r++) {
        index_row row = {r * s->shape[last], s->shape[last], src, s->stride[last], NULL};
        if (inner_from_table)
            row.inner = table + flat;
        else if (table)
            row.src += table[flat];
        fn(&row, ctx);
        for (int d = last - 1; d >= 0; d--) { /* odometer over the outer dims */
            index[d]++;
            src += s->stride[d];
            flat += ostride[d];
            if (index[d] < s->shape[d])
                break;
            src -= s->stride[d] * index[d];
            flat -= ostride[d] * index[d];
            index[d] = 0;
        }
    }
}

/* ---- gather / scatter: copies of any element size ------------------------ */

typedef struct {
    char *x, *y; /* gather: y <- x; scatter: x <- y */
    size_t es;
    bool scatter;
} copy_ctx;

/* Source offset of element k of a row. */
static inline int64_t source_of(const index_row *row, int64_t k)
{
    return row->src + (row->inner ? row->inner[k] : k * row->stride);
}

#define MOVE_ROW(T)                                                                                \
    do {                                                                                           \
        T *y = (T *)c->y + row->y_index, *x = (T *)c->x;                                           \
        if (c->scatter)                                                                            \
            for (int64_t k = 0; k < row->n; k++)                                                   \
                x[source_of(row, k)] = y[k];                                                       \
        else                                                                                       \
            for (int64_t k = 0; k < row->n; k++)                                                   \
                y[k] = x[source_of(row, k)];                                                       \
    } while (0)

/* Element sizes without a 4- or 8-byte type go through memcpy. */
static void move_row_bytes(const index_row *row, const copy_ctx *c)
{
    for (int64_t k = 0; k < row->n; k++) {
        char *yk = c->y + (size_t)(row->y_index + k) * c->es, *xk = c->x + (size_t)source_of(row, k) * c->es;
        memcpy(c->scatter ? xk : yk, c->scatter ? yk : xk, c->es);
    }
}

static void move_row(const index_row *row, void *vctx)
{
    const copy_ctx *c = vctx;
    if (!row->inner && row->stride == 1) { /* contiguous on both sides */
        char *y = c->y + (size_t)row->y_index * c->es, *x = c->x + (size_t)row->src * c->es;
        memcpy(c->scatter ? x : y, c->scatter ? y : x, (size_t)row->n * c->es);
    } else if (c->es == 4) {
        MOVE_ROW(uint32_t);
    } else if (c->es == 8) {
        MOVE_ROW(uint64_t);
    } else {
        move_row_bytes(row, c);
    }
}

void dz_cpu_gather(const dz_array *x, const dz_gather_spec *spec, dz_array *y)
{
    copy_ctx c = {x->data, y->data, dz_dtype_bytes(x->dtype), false};
    for_each_index_row(spec, move_row, &c);
}

void dz_cpu_scatter(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    copy_ctx c = {x->data, y->data, dz_dtype_bytes(x->dtype), true};
    for_each_index_row(spec, move_row, &c);
}

/* ---- scatter-add: x[spec] += y, typed ------------------------------------ */

typedef struct {
    const dz_array *y;
    dz_array *x;
} add_ctx;

/* Integer sums wrap around through the unsigned type U, as np.add.at's do
 * (U is T itself for floats). */
#define ADD_ROW(T, U)                                                                              \
    do {                                                                                           \
        const T *y = (const T *)c->y->data + row->y_index;                                         \
        T *x = (T *)c->x->data;                                                                    \
        for (int64_t k = 0; k < row->n; k++)                                                       \
            x[source_of(row, k)] = (T)((U)x[source_of(row, k)] + (U)y[k]);                         \
    } while (0)

static void add_row(const index_row *row, void *vctx)
{
    const add_ctx *c = vctx;
    switch (c->x->dtype) {
    case DZ_F32: ADD_ROW(float, float); break;
    case DZ_F64: ADD_ROW(double, double); break;
    case DZ_I32: ADD_ROW(int32_t, uint32_t); break;
    case DZ_I64: ADD_ROW(int64_t, uint64_t); break;
    default: break;
    }
}

void dz_cpu_scatter_add(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    add_ctx c = {y, x};
    for_each_index_row(spec, add_row, &c);
}

/* ---- rows of a table ----------------------------------------------------- */

/* Rows this far ahead are prefetched: a random row is a cache miss. */

/* GetItem and GetItemGrad: y = x[index] and its backward, gx = zeros with
 * gx[index] += gy (np.add.at), each the other's backward.
 *
 * An index is first laid out over the axes it walks (an Ellipsis becomes
 * whole axes, a newaxis or a 0-d mask a new axis of size 1, a mask as many
 * axes as it has dims), then resolved against those axes into an index_plan:
 * either "rows of a table" (one index array on axis 0, the rest whole), served
 * by the take_rows / scatter_add_rows kernels, or a general dz_gather_spec
 * (strides for the sliced axes plus a table of offsets over the broadcast
 * shape of the index arrays). One plan, refcounted, is shared by a GetItem
 * node and the GetItemGrad nodes of its backward. */
#include <inttypes.h>
#include <stdlib.h>

#include "../backend/backend.h"
#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/getitem.h"

typedef struct {
    int refcount;
    int in_ndim, out_ndim;
    int64_t in_shape[DZ_MAX_NDIM], out_shape[DZ_MAX_NDIM];
    dz_array *rows;         /* rows of a table: i64 positions on axis 0, else NULL */
    dz_gather_spec spec;    /* the general case: y = x[spec] */
    dz_array *offsets;      /* spec.offsets (owned), or NULL */
} index_plan;

static index_plan *plan_retain(index_plan *p)
{
    p->refcount++;
    return p;
}

static void plan_release(void *vp)
{
    index_plan *p = vp;
    if (!p || --p->refcount > 0)
        return;
    dz_array_release(p->rows);
    dz_array_release(p->offsets);
    free(p);
}

/* ---- laying an index out over axes ---------------------------------------- */

/* The most axes an index walks: x's own and the new ones (DZ_NEWAXIS, 0-d masks). */
#define MAX_AXES (2 * DZ_MAX_NDIM)

static const dz_index whole_axis = {.kind = DZ_INDEX_SLICE, .step = 1};

/* The axes an index walks, in order: x's axes with a new axis of size 1 for
 * each DZ_NEWAXIS and 0-d mask; an Ellipsis and the axes left out at the end
 * are whole axes, and a mask of k dims is the entry of k axes. */
typedef struct {
    int n;
    int64_t shape[MAX_AXES];         /* the size of each axis walked */
    int axis[MAX_AXES];              /* its axis of x, -1 for a new axis */
    const dz_index *entry[MAX_AXES]; /* the entry that indexes it */
    bool adjacent;                   /* the advanced entries are next to each other */
} index_layout;

static bool is_advanced(dz_index_kind kind)
{
    return kind == DZ_INDEX_INT || kind == DZ_INDEX_ARRAY || kind == DZ_INDEX_MASK;
}

/* NumPy's rule (mapiter_fill_info): advanced entries (ints, index arrays,
 * masks) are adjacent unless a basic one (slice, newaxis, Ellipsis, even an
 * Ellipsis of no axes) stands between two of them. */
static bool advanced_adjacent(int nindex, const dz_index *index)
{
    enum { NONE_YET, IN_RUN, AFTER_RUN, PARTED } state = NONE_YET;
    for (int e = 0; e < nindex; e++) {
        if (is_advanced(index[e].kind))
            state = state == AFTER_RUN ? PARTED : state == NONE_YET ? IN_RUN : state;
        else if (state == IN_RUN)
            state = AFTER_RUN;
    }
    return state != PARTED;
}

/* A mask entry's checks before its dims are counted. */
static bool check_mask(const char *op, int e, dz_device device, const dz_array *m)
{
    if (!m) {
        dz_raise(DZ_ERR_NULL, "%s: the mask of index entry %d is NULL", op, e);
        return false;
    }
    if (m->dtype != DZ_BOOL) {
        dz_raise(DZ_ERR_DTYPE, "%s: the mask of index entry %d is %s; a mask must be bool (DZ_BOOL), and int32 or "
                 "int64 positions go in DZ_TAKE", op, e, dz_dtype_name(m->dtype));
        return false;
    }
    if (m->device != DZ_CPU && m->device != device) {
        dz_raise(DZ_ERR_DEVICE, "%s: the mask of index entry %d is on the GPU and the indexed array on the CPU; "
                 "move the mask to the CPU", op, e);
        return false;
    }
    return true;
}

/* The axes of x an entry indexes and the new axes it makes. */
static bool count_entry(const char *op, int e, dz_device device, const dz_index *ix, int *used, int *added,
                        int *ellipsis)
{
    switch (ix->kind) {
    case DZ_INDEX_INT:
    case DZ_INDEX_SLICE:
    case DZ_INDEX_ARRAY: ++*used; return true;
    case DZ_INDEX_NEWAXIS: ++*added; return true;
    case DZ_INDEX_MASK:
        if (!check_mask(op, e, device, ix->array))
            return false;
        *used += ix->array->ndim;
        *added += ix->array->ndim == 0;
        return true;
    case DZ_INDEX_ELLIPSIS:
        if (*ellipsis >= 0) {
            dz_raise(DZ_ERR_INDEX, "%s: an index can have only one DZ_ELLIPSIS; entries %d and %d both are", op,
                     *ellipsis, e);
            return false;
        }
        *ellipsis = e;
        return true;
    }
    dz_raise(DZ_ERR_VALUE, "%s: index entry %d has unknown kind %d", op, e, (int)ix->kind);
    return false;
}

/* The count of layout axes an entry indexes. */
static int axes_of(const dz_index *ix)
{
    return ix->kind == DZ_INDEX_MASK && ix->array->ndim > 0 ? ix->array->ndim : 1;
}

static void add_axis(index_layout *L, int64_t size, int axis, const dz_index *entry)
{
    L->shape[L->n] = size;
    L->axis[L->n] = axis;
    L->entry[L->n++] = entry;
}

/* Lays the index out over in_shape's axes (`device`: the indexed array's). */
static bool layout_index(const char *op, dz_device device, int in_ndim, const int64_t *in_shape, int nindex,
                         const dz_index *index, index_layout *L)
{
    if (nindex < 0) {
        dz_raise(DZ_ERR_INDEX, "%s: nindex is %d; it counts the index entries and cannot be negative", op, nindex);
        return false;
    }
    if (nindex > 0 && !index) {
        dz_raise(DZ_ERR_NULL, "%s: index is NULL but nindex is %d", op, nindex);
        return false;
    }
    int used = 0, added = 0, ellipsis = -1;
    bool masked = false;
    for (int e = 0; e < nindex; e++) {
        if (!count_entry(op, e, device, &index[e], &used, &added, &ellipsis))
            return false;
        masked = masked || index[e].kind == DZ_INDEX_MASK;
    }
    if (used > in_ndim) {
        dz_raise(DZ_ERR_INDEX, "%s: too many indices: %d given for an array of shape %s with %d dims%s", op, used,
                 dz_shape_str(in_ndim, in_shape), in_ndim,
                 masked ? " (a mask indexes as many axes as it has dims)" : "");
        return false;
    }
    if (in_ndim + added > MAX_AXES) {
        dz_raise(DZ_ERR_INDEX, "%s: %d DZ_NEWAXIS and 0-d mask entries; an index can have at most %d for an array "
                 "with %d dims", op, added, MAX_AXES - in_ndim, in_ndim);
        return false;
    }
    L->n = 0;
    int d = 0; /* the next axis of x */
    for (int e = 0; e < nindex; e++) {
        const dz_index *ix = &index[e];
        if (ix->kind == DZ_INDEX_ELLIPSIS)
            for (int k = 0; k < in_ndim - used; k++, d++)
                add_axis(L, in_shape[d], d, &whole_axis);
        else if (ix->kind == DZ_INDEX_NEWAXIS)
            add_axis(L, 1, -1, &whole_axis);
        else if (ix->kind == DZ_INDEX_MASK && ix->array->ndim == 0)
            add_axis(L, 1, -1, ix);
        else
            for (int k = 0; k < axes_of(ix); k++, d++)
                add_axis(L, in_shape[d], d, ix);
    }
    for (; d < in_ndim; d++)
        add_axis(L, in_shape[d], d, &whole_axis);
    L->adjacent = advanced_adjacent(nindex, index);
    return true;
}

/* ---- resolving an index -------------------------------------------------- */

/* One input axis after resolution: a position (int), a range (slice: start,
 * step, len) or an array of in-range i64 positions. */
typedef struct {
    dz_index_kind kind;
    int64_t start, step, len;
    dz_array *positions;
} axis_index;

static bool resolve_int(const char *op, int axis, int64_t size, int64_t i, axis_index *out)
{
    if (i < -size || i >= size) {
        dz_raise(DZ_ERR_INDEX, "%s: index %" PRId64 " is out of bounds for axis %d with size %" PRId64, op, i,
                 axis, size);
        return false;
    }
    *out = (axis_index){DZ_INDEX_INT, i < 0 ? i + size : i, 0, 1, NULL};
    return true;
}

/* A slice bound as Python's slice.indices clips it to [lower, upper]. */
static int64_t clip_bound(int64_t v, int64_t size, int64_t lower, int64_t upper)
{
    if (v < 0)
        v = v + size < lower ? lower : v + size;
    return v > upper ? upper : v;
}

static bool resolve_slice(const char *op, int axis, int64_t size, const dz_index *ix, axis_index *out)
{
    if (ix->step == 0) {
        dz_raise(DZ_ERR_VALUE, "%s: slice step cannot be zero (axis %d)", op, axis);
        return false;
    }
    int64_t step = ix->step < -INT64_MAX ? -INT64_MAX : ix->step;
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? size : size - 1;
    int64_t start = ix->has_start ? clip_bound(ix->start, size, lower, upper) : step > 0 ? lower : upper;
    int64_t stop = ix->has_stop ? clip_bound(ix->stop, size, lower, upper) : step > 0 ? upper : lower;
    int64_t len = step > 0 ? (start < stop ? (stop - start - 1) / step + 1 : 0)
                           : (stop < start ? (start - stop - 1) / -step + 1 : 0);
    *out = (axis_index){DZ_INDEX_SLICE, start, step, len, NULL};
    return true;
}

/* p + size where p is negative, for int64 positions p: p + (p < 0) * size. */
static dz_array *wrap_negative(const dz_array *p, int64_t size)
{
    dz_array *neg = dz_array_unary(DZ_UNARY_NEG, p, 0);                  // -p
    dz_array *below = neg ? dz_array_unary(DZ_UNARY_STEP, neg, 0) : NULL; // 1 where p < 0, else 0
    dz_array *host_size = below ? dz_array_from_buffer(DZ_I64, 0, NULL, &size) : NULL; // 0-d
    dz_array *n = host_size ? dz_array_to_device(host_size, p->device) : NULL;
    dz_array *shift = n ? dz_array_binary(DZ_BINARY_MUL, below, n) : NULL; // size where p < 0, else 0
    dz_array *y = shift ? dz_array_binary(DZ_BINARY_ADD, p, shift) : NULL;
    dz_array_release(neg);
    dz_array_release(below);
    dz_array_release(host_size);
    dz_array_release(n);
    dz_array_release(shift);
    return y;
}

/* Index-array entries checked and wrapped to [0, size) as i64 on `device`,
 * the indexed array's (the array itself when it already is all that). An
 * index array on the CPU serves an array on the GPU too, as in PyTorch. */
static bool resolve_array(const char *op, int axis, int64_t size, dz_device device, dz_array *a,
                          axis_index *out)
{
    if (!a) {
        dz_raise(DZ_ERR_NULL, "%s: the index array for axis %d is NULL", op, axis);
        return false;
    }
    if (!dz_dtype_is_integer(a->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: the index array for axis %d is %s; index arrays must be int32 or int64 "
                 "(dz_array_astype)%s", op, axis, dz_dtype_name(a->dtype),
                 a->dtype == DZ_BOOL ? "; a bool array is a mask: DZ_MASK" : "");
        return false;
    }
    if (a->device != DZ_CPU && a->device != device) {
        dz_raise(DZ_ERR_DEVICE, "%s: the index array for axis %d is on the GPU and the indexed array on the CPU; "
                 "move the index array to the CPU", op, axis);
        return false;
    }
    int64_t lo = 0, hi = -1; /* an empty array: nothing to check */
    if (a->size > 0)
        dz_backend_of(a)->index_range(a, &lo, &hi); /* synchronises */
    if (lo < -size || hi >= size) {
        int64_t v, k = dz_first_index_outside(a, -size, size, &v);
        if (k >= 0)
            dz_raise(DZ_ERR_INDEX, "%s: index %" PRId64 " is out of bounds for axis %d with size %" PRId64
                     " (entry %" PRId64 " of the index array)", op, v, axis, size, k);
        return false;
    }
    dz_array *i64 = a->dtype == DZ_I64 ? dz_array_retain(a) : dz_array_astype(a, DZ_I64);
    dz_array *p = i64 ? dz_array_to_device(i64, device) : NULL;
    dz_array_release(i64);
    if (p && lo < 0) {
        dz_array *wrapped = wrap_negative(p, size);
        dz_array_release(p);
        p = wrapped;
    }
    if (!p)
        return false;
    *out = (axis_index){DZ_INDEX_ARRAY, 0, 0, 0, p};
    return true;
}

/* The nonzero coordinates of mask m over the axes it indexes (sizes: theirs):
 * out[d] = (count,) i64 positions on axis d, on `device`, in C order of the
 * true entries; a 0-d mask gives one array of zeros on its new axis. */
static bool resolve_mask(const char *op, int axis, const int64_t *sizes, dz_device device, const dz_array *m,
                         axis_index *out)
{
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] != sizes[d]) {
            dz_raise(DZ_ERR_SHAPE, "%s: the mask of shape %s does not match the indexed array along axis %d: the "
                     "axis has size %" PRId64 " but the mask's dim %d has size %" PRId64 "; a mask must have the "
                     "shape of the axes it indexes, here %s", op, DZ_SHAPE_OF(m), axis + d, sizes[d], d,
                     m->shape[d], dz_shape_str(m->ndim, sizes));
            return false;
        }
    /* The count of true entries is the result's length, and no primitive
     * compacts an array: the mask is read on a host view, which synchronises
     * with a device. */
    dz_host_view view;
    const uint8_t *flags = dz_host_view_read(&view, m);
    if (!flags)
        return false;
    int64_t count = 0;
    for (int64_t i = 0; i < m->size; i++)
        count += flags[i] != 0;
    int k = m->ndim > 0 ? m->ndim : 1;
    int64_t *coords = dz_xmalloc((size_t)k * (size_t)(count > 0 ? count : 1) * sizeof *coords); // (k, count)
    int64_t c[DZ_MAX_NDIM] = {0}, j = 0;
    for (int64_t i = 0; i < m->size; i++) {
        if (flags[i]) {
            for (int d = 0; d < k; d++)
                coords[d * count + j] = c[d];
            j++;
        }
        for (int d = m->ndim - 1; d >= 0 && ++c[d] == m->shape[d]; d--)
            c[d] = 0;
    }
    dz_host_view_close(&view);
    bool ok = true;
    for (int d = 0; d < k; d++) {
        dz_array *p = ok ? dz_indices_from_host(device, count, coords + d * count) : NULL;
        out[d] = (axis_index){DZ_INDEX_ARRAY, 0, 0, 0, p};
        ok = p != NULL;
    }
    free(coords);
    return ok;
}

/* Resolves the entry of layout axis a into ax[a], and a mask's into the
 * next axes it indexes too; false on error. */
static bool resolve_axis(const char *op, const index_layout *L, int a, dz_device device, axis_index *ax)
{
    const dz_index *ix = L->entry[a];
    int axis = L->axis[a];
    int64_t size = L->shape[a];
    if (ix->kind == DZ_INDEX_MASK)
        return resolve_mask(op, axis, &L->shape[a], device, ix->array, &ax[a]);
    if (ix->kind == DZ_INDEX_INT)
        return resolve_int(op, axis, size, ix->i, &ax[a]);
    if (ix->kind == DZ_INDEX_ARRAY)
        return resolve_array(op, axis, size, device, ix->array, &ax[a]);
    return resolve_slice(op, axis, size, ix, &ax[a]); /* slices and the whole axes of layout_index */
}

/* ---- building a plan ----------------------------------------------------- */

/* The strides of a C-contiguous array. The products, and the offsets built
 * from them, wrap around: they overflow only for an empty array (a dim of 0
 * beside dims whose product does not fit), whose result is empty too, so
 * that no offset is ever used. */
static void contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    uint64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = (int64_t)s;
        s *= (uint64_t)shape[d];
    }
}

/* a + b * c, wrapping around as contiguous_strides does. */
static int64_t wrapping_madd(int64_t a, int64_t b, int64_t c)
{
    return (int64_t)((uint64_t)a + (uint64_t)b * (uint64_t)c);
}

static bool add_out_dim(const char *op, index_plan *p, int64_t size, int64_t stride)
{
    if (p->out_ndim == DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: the result would have more than %d dims", op, DZ_MAX_NDIM);
        return false;
    }
    p->spec.stride[p->out_ndim] = stride;
    p->out_shape[p->out_ndim++] = size;
    return true;
}

/* The broadcast shape of the index arrays (B). */
static bool broadcast_positions(const char *op, const axis_index *ax, int n, int *ndim, int64_t *shape)
{
    *ndim = 0;
    for (int a = 0; a < n; a++) {
        if (ax[a].kind != DZ_INDEX_ARRAY)
            continue;
        const dz_array *pa = ax[a].positions;
        int64_t so_far[DZ_MAX_NDIM];
        for (int d = 0; d < *ndim; d++)
            so_far[d] = shape[d];
        if (!dz_broadcast_shapes(*ndim, so_far, pa->ndim, pa->shape, ndim, shape)) {
            dz_raise(DZ_ERR_SHAPE, "%s: index arrays of shapes %s and %s cannot broadcast together", op,
                     dz_shape_str(*ndim, so_far), DZ_SHAPE_OF(pa));
            return false;
        }
    }
    return true;
}

/* offsets (B) = sum over index arrays of positions * (stride of their axis),
 * on the positions' device. */
static dz_array *array_offsets(const axis_index *ax, int n, const int64_t *strides, int ndim, const int64_t *shape)
{
    dz_device device = DZ_CPU;
    for (int a = 0; a < n; a++)
        if (ax[a].kind == DZ_INDEX_ARRAY)
            device = ax[a].positions->device;
    dz_array *sum = dz_array_empty_on(device, DZ_I64, ndim, shape); /* zeros */
    for (int a = 0; sum && a < n; a++) {
        if (ax[a].kind != DZ_INDEX_ARRAY)
            continue;
        dz_array *term = dz_array_unary(DZ_UNARY_MUL_SCALAR, ax[a].positions, (double)strides[a]);
        dz_array *next = term ? dz_array_binary(DZ_BINARY_ADD, sum, term) : NULL;
        dz_array_release(term);
        dz_array_release(sum);
        sum = next;
    }
    return sum;
}

/* The index arrays' dims go where the arrays' axes are when those entries
 * (with the int entries) are next to each other, else first (NumPy's rule):
 * after the sliced axes before them, or at 0. */
static int advanced_position(const axis_index *ax, int n, bool adjacent)
{
    int sliced_before = 0;
    while (sliced_before < n && ax[sliced_before].kind == DZ_INDEX_SLICE)
        sliced_before++;
    return adjacent ? sliced_before : 0;
}

/* The general case: slices become strided dims, ints a fixed offset, index
 * arrays one table of offsets. */
static bool plan_general(const char *op, index_plan *p, const index_layout *L, const axis_index *ax)
{
    int n = L->n, bdims = 0;
    int64_t strides[MAX_AXES], bshape[DZ_MAX_NDIM];
    bool advanced = false;
    contiguous_strides(n, L->shape, strides);
    for (int a = 0; a < n; a++)
        advanced = advanced || ax[a].kind == DZ_INDEX_ARRAY;
    if (advanced && !broadcast_positions(op, ax, n, &bdims, bshape))
        return false;
    int at = advanced ? advanced_position(ax, n, L->adjacent) : -1;
    for (int a = 0; a < n; a++) {
        if (p->out_ndim == at) { /* B's dims, offsets from the table */
            p->spec.offsets_axis = at;
            p->spec.offsets_ndim = bdims;
            for (int d = 0; d < bdims; d++)
                if (!add_out_dim(op, p, bshape[d], 0))
                    return false;
            at = -1;
        }
        if (ax[a].kind != DZ_INDEX_ARRAY)
            p->spec.offset = wrapping_madd(p->spec.offset, ax[a].start, strides[a]);
        int64_t stride = ax[a].len > 1 ? wrapping_madd(0, ax[a].step, strides[a]) : 0;
        if (ax[a].kind == DZ_INDEX_SLICE && !add_out_dim(op, p, ax[a].len, stride))
            return false;
    }
    if (advanced) {
        p->offsets = array_offsets(ax, n, strides, bdims, bshape);
        p->spec.offsets = p->offsets;
    }
    p->spec.ndim = p->out_ndim;
    for (int d = 0; d < p->out_ndim; d++)
        p->spec.shape[d] = p->out_shape[d];
    return !advanced || p->offsets;
}

/* x[idx] on x's axis 0 with every other axis whole (new axes of size 1
 * included): rows of a table. */
static bool is_rows(const index_layout *L, const axis_index *ax)
{
    if (L->n == 0 || L->axis[0] != 0 || ax[0].kind != DZ_INDEX_ARRAY)
        return false;
    for (int a = 1; a < L->n; a++)
        if (ax[a].kind != DZ_INDEX_SLICE || ax[a].start != 0 || ax[a].step != 1 || ax[a].len != L->shape[a])
            return false;
    return true;
}

static bool plan_rows(const char *op, index_plan *p, const index_layout *L, const axis_index *ax)
{
    const dz_array *pos = ax[0].positions;
    for (int d = 0; d < pos->ndim; d++)
        if (!add_out_dim(op, p, pos->shape[d], 0))
            return false;
    for (int a = 1; a < L->n; a++)
        if (!add_out_dim(op, p, L->shape[a], 0))
            return false;
    p->rows = dz_array_retain(ax[0].positions);
    return true;
}

/* The plan of indexing an array of in_shape on `device`. */
static index_plan *plan_new(const char *op, dz_device device, int in_ndim, const int64_t *in_shape, int nindex,
                            const dz_index *index)
{
    index_layout L;
    if (!layout_index(op, device, in_ndim, in_shape, nindex, index, &L))
        return NULL;
    axis_index ax[MAX_AXES] = {{0}};
    bool ok = true;
    for (int a = 0; ok && a < L.n; a += axes_of(L.entry[a]))
        ok = resolve_axis(op, &L, a, device, ax);
    index_plan *p = dz_xcalloc(1, sizeof *p);
    p->refcount = 1;
    p->in_ndim = in_ndim;
    for (int a = 0; a < in_ndim; a++)
        p->in_shape[a] = in_shape[a];
    if (ok)
        ok = is_rows(&L, ax) ? plan_rows(op, p, &L, ax) : plan_general(op, p, &L, ax);
    if (ok)
        ok = dz_check_shape(op, "the result shape", p->out_ndim, p->out_shape);
    for (int a = 0; a < L.n; a++)
        dz_array_release(ax[a].positions);
    if (!ok) {
        plan_release(p);
        return NULL;
    }
    return p;
}

/* ---- the two functions --------------------------------------------------- */

static dz_variable *get_item_planned(dz_variable *x, index_plan *p);
static dz_variable *get_item_grad_planned(dz_variable *gy, index_plan *p);

/* get_item: (in_shape) -> (out_shape); gx = get_item_grad(gy) */
static void get_item_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = get_item_grad_planned(gy[0], f->state);
}
static const dz_function_ops get_item_ops = {"dz_get_item", get_item_backward, plan_release, NULL, "GetItem"};

static dz_variable *get_item_planned(dz_variable *x, index_plan *p)
{
    const dz_array *a = x->data;
    dz_array *y = dz_array_uninit_on(a->device, a->dtype, p->out_ndim, p->out_shape);
    if (y && p->rows)
        dz_backend_of(a)->gather_rows(a, p->rows, -1, y);
    else if (y)
        dz_backend_of(a)->gather(a, &p->spec, y);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&get_item_ops, 1, in, y, 0, plan_retain(p));
}

/* get_item_grad: (out_shape) -> (in_shape); ggy = get_item(ggx) */
static void get_item_grad_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = get_item_planned(gy[0], f->state);
}
static const dz_function_ops get_item_grad_ops = {"dz_get_item_grad", get_item_grad_backward, plan_release, NULL,
                                                  "GetItemGrad"};

static dz_variable *get_item_grad_planned(dz_variable *gy, index_plan *p)
{
    const dz_array *g = gy->data;
    dz_array *gx = dz_array_empty_on(g->device, g->dtype, p->in_ndim, p->in_shape); /* zeros */
    if (gx && p->rows)
        dz_backend_of(g)->index_add_rows(gx, p->rows, g, 1.0, -1, false);
    else if (gx)
        dz_backend_of(g)->scatter_add(g, &p->spec, gx);
    dz_variable *in[1] = {gy};
    return dz_function_apply1(&get_item_grad_ops, 1, in, gx, 0, plan_retain(p));
}

dz_variable *dz_get_item(dz_variable *x, int nindex, const dz_index *index)
{
    if (!dz_check_variable("dz_get_item", x))
        return NULL;
    index_plan *p = plan_new("dz_get_item", x->data->device, x->data->ndim, x->data->shape, nindex, index);
    if (!p)
        return NULL;
    dz_variable *y = get_item_planned(x, p);
    plan_release(p);
    return y;
}

dz_variable *dz_get_item_grad(dz_variable *gy, int nindex, const dz_index *index, int ndim,
                              const int64_t *in_shape)
{
    const char *op = "dz_get_item_grad";
    if (!dz_check_variable(op, gy) || !dz_check_shape(op, "in_shape", ndim, in_shape))
        return NULL;
    if (!dz_dtype_is_float(gy->data->dtype) && !dz_dtype_is_integer(gy->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: gy of dtype %s cannot be added up; use float32, float64, int32 or int64", op,
                 dz_dtype_name(gy->data->dtype));
        return NULL;
    }
    index_plan *p = plan_new(op, gy->data->device, ndim, in_shape, nindex, index);
    if (!p)
        return NULL;
    dz_variable *gx = NULL;
    if (!dz_shape_equal(p->out_ndim, p->out_shape, gy->data->ndim, gy->data->shape))
        dz_raise(DZ_ERR_SHAPE, "%s: gy has shape %s but indexing %s gives %s", op, DZ_SHAPE_OF(gy->data),
                 dz_shape_str(ndim, in_shape), dz_shape_str(p->out_ndim, p->out_shape));
    else
        gx = get_item_grad_planned(gy, p);
    plan_release(p);
    return gx;
}

/* Searching along an axis: argmax / argmin and topk, composed of the backend
 * primitives (reductions, compares, int64 arithmetic), so they run on any
 * device without reading elements on the host. x is seen as (outer, n,
 * inner), n the searched axis. */
#include <math.h>

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/getitem.h"
#include "dezero/scope.h"
#include "dezero/search.h"
#include "dezero/shape.h"

/* x's shape split at `axis` into (outer, n, inner). */
static void split_at_axis(const dz_array *x, int axis, int64_t *view)
{
    view[0] = view[2] = 1;
    view[1] = x->shape[axis];
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis)
            view[0] *= x->shape[d];
        else if (d > axis)
            view[2] *= x->shape[d];
    }
}

/* The shape of a result with `len` along axis `at` (x's shape otherwise);
 * with drop, the axis goes away instead. Returns its ndim. */
static int shape_with_axis(const dz_array *x, int at, int64_t len, bool drop, int64_t *shape)
{
    int ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != at)
            shape[ndim++] = x->shape[d];
        else if (!drop)
            shape[ndim++] = len;
    }
    return ndim;
}

/* int64 (1, n, 1): 0, 1, ..., n - 1 along the middle axis. */
static dz_array *positions(dz_temps *tmp, dz_device device, int64_t n)
{
    return dz_tmp_reshape(tmp, dz_tmp_arange(tmp, device, n), 3, (const int64_t[]){1, n, 1});
}

/* ---- argmax, argmin -------------------------------------------------------------------- */

/* int64 (outer, 1, inner): the first position along the middle axis of x
 * (outer, n, inner) that holds the extremum m, or the first NaN (NaN is the
 * extremum: m is NaN then, and equals nothing). Each position that hits
 * offers itself and every other offers n; the least offer wins. */
static dz_array *arg_extremum(const dz_array *x, dz_reduce_op op)
{
    dz_temps tmp = {0};
    int64_t n = x->shape[1];
    dz_array *m = dz_tmp_reduce(&tmp, op, x, 1);                   // (outer, 1, inner)
    dz_array *hit = dz_tmp_binary(&tmp, DZ_BINARY_EQUAL, x, m);    // (outer, n, inner) 1 or 0
    if (dz_dtype_is_float(x->dtype))
        hit = dz_tmp_binary(&tmp, DZ_BINARY_ADD, hit, dz_tmp_binary(&tmp, DZ_BINARY_NOT_EQUAL, x, x));
    const dz_array *h = dz_tmp_astype(&tmp, hit, DZ_I64);
    dz_array *shift = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, positions(&tmp, x->device, n), (double)-n);
    dz_array *offer = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, dz_tmp_binary(&tmp, DZ_BINARY_MUL, h, shift),
                                   (double)n); // position where hit, else n
    return dz_tmp_end_with(&tmp, dz_tmp_reduce(&tmp, DZ_REDUCE_MIN, offer, 1));
}

static dz_variable *arg_search(const char *op, dz_reduce_op rop, dz_variable *x, int axis, bool keepdims)
{
    if (!dz_check_variable(op, x))
        return NULL;
    const dz_array *a = x->data;
    int at = -1, ndim;
    int64_t view[3] = {1, a->size, 1}, shape[DZ_MAX_NDIM];
    if (axis != DZ_AXIS_NONE) {
        if (!dz_check_axis(op, a, axis, false, &at))
            return NULL;
        split_at_axis(a, at, view);
    }
    if (view[1] == 0) {
        dz_raise(DZ_ERR_VALUE, "%s: the searched %s of shape %s is empty, and has no extremum; search another "
                 "axis or give the input elements", op, at < 0 ? "array" : "axis", DZ_SHAPE_OF(a));
        return NULL;
    }
    if (at >= 0)
        ndim = shape_with_axis(a, at, 1, !keepdims, shape);
    for (int d = 0; at < 0 && d < a->ndim; d++)
        shape[d] = 1;
    if (at < 0)
        ndim = keepdims ? a->ndim : 0;
    dz_array *x3 = dz_array_reshape(a, 3, view);
    dz_array *r = x3 ? arg_extremum(x3, rop) : NULL;
    dz_array *y = r ? dz_array_reshape(r, ndim, shape) : NULL;
    dz_array_release(x3);
    dz_array_release(r);
    return dz_constant(y);
}

dz_variable *dz_argmax(dz_variable *x, int axis, bool keepdims)
{
    return arg_search("dz_argmax", DZ_REDUCE_MAX, x, axis, keepdims);
}

dz_variable *dz_argmin(dz_variable *x, int axis, bool keepdims)
{
    return arg_search("dz_argmin", DZ_REDUCE_MIN, x, axis, keepdims);
}

/* ---- topk ------------------------------------------------------------------------------ */

/* The search state of topk on x (outer, n, inner). */
typedef struct {
    const dz_array *x;
    bool largest;
    dz_array *nan;   // (outer, n, inner) 1 where x is NaN, in x's dtype
    dz_array *taken; // (outer, n, inner) 1 where already picked, in x's dtype
    dz_array *picks; // (outer, k, inner) int64 positions picked so far
} topk_search;

/* int64 (outer, n, inner): the class of each position in the next pick,
 * 0 for the elements that come first (untaken NaN for largest, the untaken
 * numbers equal to the extremum m for smallest), 1 for the others of those
 * two, 2 for the rest. m is the extremum of the key: x with NaN and taken
 * elements moved to the end never picked (x clamped to -inf there for
 * largest, to +inf for smallest; bound is +-inf, never 0 * inf). */
static const dz_array *topk_class(dz_temps *tmp, const topk_search *s)
{
    const dz_array *x = s->x;
    dz_array *excluded = dz_tmp_binary(tmp, DZ_BINARY_MAXIMUM, s->taken, s->nan);
    dz_array *kept = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, excluded, 1.0);
    dz_array *twice = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, excluded, -2.0);
    dz_array *sign = dz_tmp_unary(tmp, DZ_UNARY_ADD_SCALAR, twice, 1.0); // 1, or -1 where excluded
    dz_array *bound = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, sign, s->largest ? INFINITY : -INFINITY);
    dz_array *key = dz_tmp_binary(tmp, s->largest ? DZ_BINARY_MINIMUM : DZ_BINARY_MAXIMUM, x, bound);
    dz_array *m = dz_tmp_reduce(tmp, s->largest ? DZ_REDUCE_MAX : DZ_REDUCE_MIN, key, 1); // (outer, 1, inner)
    dz_array *best = dz_tmp_binary(tmp, DZ_BINARY_MUL, dz_tmp_binary(tmp, DZ_BINARY_EQUAL, key, m), kept);
    dz_array *untaken = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, s->taken, 1.0);
    dz_array *nan_left = dz_tmp_binary(tmp, DZ_BINARY_MUL, s->nan, untaken);
    dz_array *first = s->largest ? nan_left : best, *second = s->largest ? best : nan_left;
    dz_array *ahead = dz_tmp_binary(tmp, DZ_BINARY_ADD, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, first, 2.0), second);
    return dz_tmp_astype(tmp, dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, ahead, 2.0), DZ_I64);
}

/* One pick: the next position in topk's order for every (outer, inner),
 * written to picks[:, j, :] and marked taken. Each position offers
 * position + n * class; the least offer wins (a pick always exists while
 * j < n, so the winner's class is 0 or 1). */
static bool topk_pick(topk_search *s, int64_t j)
{
    dz_temps tmp = {0};
    const dz_array *x = s->x;
    int64_t n = x->shape[1], k = s->picks->shape[1], inner = x->shape[2];
    dz_array *pos = positions(&tmp, x->device, n);
    const dz_array *cls = topk_class(&tmp, s);
    dz_array *offer = dz_tmp_binary(&tmp, DZ_BINARY_ADD, pos, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, cls, (double)n));
    dz_array *win = dz_tmp_reduce(&tmp, DZ_REDUCE_MIN, offer, 1); // (outer, 1, inner) in [0, 2n)
    dz_array *second = dz_tmp_binary(&tmp, DZ_BINARY_GREATER_EQUAL, win, dz_tmp_scalar(&tmp, x->device, DZ_I64, n));
    dz_array *back = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, second, (double)n);
    dz_array *pick = dz_tmp_binary(&tmp, DZ_BINARY_SUB, win, back); // (outer, 1, inner) in [0, n)
    const dz_array *picked = dz_tmp_astype(&tmp, dz_tmp_binary(&tmp, DZ_BINARY_EQUAL, pos, pick), x->dtype);
    dz_array *taken = tmp.failed ? NULL : dz_array_binary(DZ_BINARY_ADD, s->taken, picked);
    if (taken) {
        dz_gather_spec at_j = {.ndim = 3, .shape = {x->shape[0], 1, inner}, .stride = {k * inner, 0, 1},
                               .offset = j * inner};
        dz_backend_of(x)->scatter(pick, &at_j, s->picks);
        dz_array_release(s->taken);
        s->taken = taken;
    }
    return dz_tmp_end(&tmp) && taken;
}

/* int64 (outer, k, inner): the picks of topk along the middle axis of x. */
static dz_array *topk_positions(const dz_array *x, int64_t k, bool largest)
{
    int64_t shape[3] = {x->shape[0], k, x->shape[2]};
    topk_search s = {.x = x, .largest = largest, .nan = dz_array_binary(DZ_BINARY_NOT_EQUAL, x, x),
                     .taken = dz_array_empty_on(x->device, x->dtype, 3, x->shape),
                     .picks = dz_array_uninit_on(x->device, DZ_I64, 3, shape)};
    bool ok = s.nan && s.taken && s.picks;
    for (int64_t j = 0; ok && j < k; j++)
        ok = topk_pick(&s, j);
    dz_array_release(s.nan);
    dz_array_release(s.taken);
    if (!ok)
        s.picks = dz_failed_output(s.picks);
    return s.picks;
}

/* int64 (outer, k, inner): the flat positions in x (outer, n, inner) of picks. */
static dz_array *flat_offsets(const dz_array *x, const dz_array *picks)
{
    dz_temps tmp = {0};
    int64_t n = x->shape[1], inner = x->shape[2];
    dz_array *o = dz_tmp_reshape(&tmp, dz_tmp_arange(&tmp, x->device, x->shape[0]), 3,
                                 (const int64_t[]){x->shape[0], 1, 1});
    dz_array *i = dz_tmp_reshape(&tmp, dz_tmp_arange(&tmp, x->device, inner), 3, (const int64_t[]){1, 1, inner});
    dz_array *starts = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, o, (double)(n * inner));
    dz_array *base = dz_tmp_binary(&tmp, DZ_BINARY_ADD, starts, i); // (outer, 1, inner)
    dz_array *along = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, picks, (double)inner);
    return dz_tmp_end_with(&tmp, dz_tmp_binary(&tmp, DZ_BINARY_ADD, along, base));
}

/* values = x.flat[offsets] reshaped to (ndim, shape): getitem, so the grad
 * goes back to the picked positions and grads of any order work. */
static dz_variable *take_values(dz_variable *x, dz_array *offsets, int ndim, const int64_t *shape)
{
    dz_scope_begin();
    int64_t size = x->data->size;
    dz_variable *flat = dz_reshape(x, 1, &size);
    dz_variable *picked = flat ? dz_get_item(flat, DZ_INDICES(DZ_TAKE(offsets))) : NULL;
    return dz_composite_result(picked ? dz_reshape(picked, ndim, shape) : NULL);
}

dz_status dz_topk(dz_variable *x, int64_t k, int axis, bool largest, dz_variable **values, dz_variable **indices)
{
    const char *op = "dz_topk";
    if (!values || !indices)
        return dz_raise(DZ_ERR_NULL, "dz_topk: the %s output pointer is NULL", values ? "indices" : "values");
    *values = *indices = NULL;
    int at;
    if (!dz_check_float(op, x) || !dz_check_axis(op, x->data, axis, false, &at))
        return dz_last_error_code();
    const dz_array *a = x->data;
    if (k < 0 || k > a->shape[at])
        return dz_raise(DZ_ERR_VALUE, "dz_topk: k %lld is out of range for axis %d of length %lld in shape %s; "
                        "k must be in [0, %lld]", (long long)k, axis, (long long)a->shape[at], DZ_SHAPE_OF(a),
                        (long long)a->shape[at]);
    int64_t view[3], shape[DZ_MAX_NDIM];
    split_at_axis(a, at, view);
    int ndim = shape_with_axis(a, at, k, false, shape);
    dz_array *x3 = dz_array_reshape(a, 3, view);
    dz_array *picks = x3 ? topk_positions(x3, k, largest) : NULL;
    dz_array *offsets = picks ? flat_offsets(x3, picks) : NULL;
    dz_variable *v = offsets ? take_values(x, offsets, ndim, shape) : NULL;
    dz_array *idx = v ? dz_array_reshape(picks, ndim, shape) : NULL;
    dz_array_release(x3);
    dz_array_release(picks);
    dz_array_release(offsets);
    if (!idx)
        return dz_last_error_code();
    *values = v;
    *indices = dz_constant(idx);
    return DZ_OK;
}

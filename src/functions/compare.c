/* Comparisons (masks that need no grad) and where, the selection by a mask.
 * A comparison runs the backend's compare in the inputs' dtype (1 or 0) and
 * converts that to DZ_BOOL. Where copies x and y into one buffer and gathers
 * each element from the branch its condition picks, so the branch not taken
 * never enters the arithmetic (an inf there cannot turn into NaN). */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/compare.h"
#include "dezero/function.h"
#include "dezero/shape.h"

/* ---- comparisons ---------------------------------------------------------------- */

static dz_variable *compare(const char *op, dz_binary_op bop, dz_variable *a, dz_variable *b)
{
    if (!dz_check_broadcast(op, a, b))
        return NULL;
    dz_array *r = dz_array_binary(bop, a->data, b->data); // (broadcast shape), 1 or 0 in a's dtype
    dz_array *mask = r ? dz_array_uninit_on(r->device, DZ_BOOL, r->ndim, r->shape) : NULL;
    if (mask)
        dz_backend_of(r)->astype(r, mask);
    dz_array_release(r);
    return dz_constant(mask);
}

dz_variable *dz_equal(dz_variable *a, dz_variable *b) { return compare("dz_equal", DZ_BINARY_EQUAL, a, b); }
dz_variable *dz_not_equal(dz_variable *a, dz_variable *b)
{
    return compare("dz_not_equal", DZ_BINARY_NOT_EQUAL, a, b);
}
dz_variable *dz_less(dz_variable *a, dz_variable *b) { return compare("dz_less", DZ_BINARY_LESS, a, b); }
dz_variable *dz_less_equal(dz_variable *a, dz_variable *b)
{
    return compare("dz_less_equal", DZ_BINARY_LESS_EQUAL, a, b);
}
dz_variable *dz_greater(dz_variable *a, dz_variable *b) { return compare("dz_greater", DZ_BINARY_GREATER, a, b); }
dz_variable *dz_greater_equal(dz_variable *a, dz_variable *b)
{
    return compare("dz_greater_equal", DZ_BINARY_GREATER_EQUAL, a, b);
}

/* ---- where ------------------------------------------------------------------------ */

/* out (shape) = cond ? x : y, the three broadcasting to shape (n elements):
 * src (nx + ny) = x and y flattened one after the other, and out gathers
 * src at cond ? ix : nx + iy, where ix and iy are the flat positions of x
 * and y (int64 aranges in their shapes, broadcast by the arithmetic). */
static dz_array *where_array(const dz_array *cond, const dz_array *x, const dz_array *y, int ndim,
                             const int64_t *shape)
{
    dz_temps tmp = {0};
    dz_device dev = x->device;
    int64_t n = 1, nsrc = x->size + y->size;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    dz_array *ix = dz_tmp_reshape(&tmp, dz_tmp_arange(&tmp, dev, x->size), x->ndim, x->shape);
    dz_array *iy0 = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, dz_tmp_arange(&tmp, dev, y->size), (double)x->size);
    dz_array *iy = dz_tmp_reshape(&tmp, iy0, y->ndim, y->shape);
    const dz_array *c = dz_tmp_astype(&tmp, cond, DZ_I64);                  // (cond shape) 1 or 0
    dz_array *pick = dz_tmp_binary(&tmp, DZ_BINARY_MUL, c, dz_tmp_binary(&tmp, DZ_BINARY_SUB, ix, iy));
    dz_array *off = dz_tmp_reshape(&tmp, dz_tmp_binary(&tmp, DZ_BINARY_ADD, iy, pick), 1, &n); // (n,)
    dz_array *src = dz_tmp_uninit(&tmp, dev, x->dtype, 1, &nsrc);                           // (nx + ny,)
    dz_array *xflat = dz_tmp_reshape(&tmp, x, 1, &x->size), *yflat = dz_tmp_reshape(&tmp, y, 1, &y->size);
    dz_array *out = dz_tmp_uninit(&tmp, dev, x->dtype, ndim, shape);
    dz_array *outflat = dz_tmp_reshape(&tmp, out, 1, &n);
    if (!tmp.failed) {
        const dz_backend *be = dz_backend_of(x);
        dz_gather_spec xpart = {.ndim = 1, .shape = {x->size}, .stride = {1}, .offset = 0};
        dz_gather_spec ypart = {.ndim = 1, .shape = {y->size}, .stride = {1}, .offset = x->size};
        dz_gather_spec pick_spec = {.ndim = 1, .shape = {n}, .stride = {0}, .offsets_axis = 0, .offsets_ndim = 1,
                                    .offsets = off};
        be->scatter(xflat, &xpart, src);
        be->scatter(yflat, &ypart, src);
        be->gather(src, &pick_spec, outflat);
    }
    return dz_tmp_end_with(&tmp, out);
}

/* where: y = cond ? a : b; ga = sum_to(where(cond, gy, 0)), gb = sum_to(where(cond, 0, gy)) */
static void where_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const dz_array *g = gy[0]->data;
    dz_variable *zero = dz_constant(dz_array_empty_on(g->device, g->dtype, 0, NULL)); // 0-d zero
    if (dz_needs_grad(IN(f, 1)))
        gx[1] = dz_sum_to(dz_where(IN(f, 0), gy[0], zero), SHAPE_OF(IN(f, 1)));
    if (dz_needs_grad(IN(f, 2)))
        gx[2] = dz_sum_to(dz_where(IN(f, 0), zero, gy[0]), SHAPE_OF(IN(f, 2)));
}
static const dz_function_ops where_ops = {"dz_where", where_backward, NULL, NULL, "Where"};

/* cond is a DZ_BOOL variable on x's device. */
static bool check_condition(const dz_variable *cond, const dz_variable *x)
{
    if (!cond) {
        dz_raise_null_operand("dz_where: the condition is NULL");
        return false;
    }
    if (!cond->data) {
        dz_raise(DZ_ERR_STATE, "dz_where: the condition variable has no data");
        return false;
    }
    if (cond->data->dtype != DZ_BOOL) {
        dz_raise(DZ_ERR_DTYPE, "dz_where: the condition has dtype %s; it must be bool (a comparison such as "
                 "dz_greater gives one, or dz_array_astype(a, DZ_BOOL))", dz_dtype_name(cond->data->dtype));
        return false;
    }
    return dz_check_same_device("dz_where", "the condition", cond->data, "x", x->data);
}

dz_variable *dz_where(dz_variable *cond, dz_variable *x, dz_variable *y)
{
    int ndim, ndim2;
    int64_t shape[DZ_MAX_NDIM], shape2[DZ_MAX_NDIM];
    if (!dz_check_pair("dz_where", x, y) || !check_condition(cond, x))
        return NULL;
    if (!dz_broadcast_shapes(SHAPE_OF(x), SHAPE_OF(y), &ndim, shape) ||
        !dz_broadcast_shapes(SHAPE_OF(cond), ndim, shape, &ndim2, shape2)) {
        dz_raise(DZ_ERR_SHAPE, "dz_where: the condition %s, x %s and y %s cannot broadcast to one shape",
                 DZ_SHAPE_OF(cond->data), DZ_SHAPE_OF(x->data), DZ_SHAPE_OF(y->data));
        return NULL;
    }
    dz_variable *in[3] = {cond, x, y};
    return dz_function_apply1(&where_ops, 3, in, where_array(cond->data, x->data, y->data, ndim2, shape2), 0,
                              NULL);
}

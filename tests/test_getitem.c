/* GetItem / GetItemGrad: values and np.add.at backward against NumPy golden
 * fixtures, gradient and double-backward checks for every index form
 * (Ellipsis, newaxis and boolean masks included), the DeZero / DLfS2
 * embedding examples, and bad indices. */
#include <string.h>

#include "fixtures/getitem_golden.h"
#include "test_common.h"

/* An index list together with the arrays it owns. */
typedef struct {
    int n;
    dz_index index[DZ_MAX_NDIM];
    dz_array *arrays[DZ_MAX_NDIM];
} owned_index;

static owned_index index_of_case(const gf_case *c)
{
    owned_index o = {c->nindex, {{0}}, {NULL}};
    for (int k = 0; k < c->narrays; k++) {
        const gf_array *a = &c->arrays[k];
        dz_array *i64 = dz_array_from_buffer(DZ_I64, a->ndim, a->shape, a->data);
        o.arrays[k] = a->mask ? dz_array_astype(i64, DZ_BOOL)
                      : a->int32 ? dz_array_astype(i64, DZ_I32) : dz_array_retain(i64);
        dz_array_release(i64);
    }
    for (int e = 0; e < c->nindex; e++) {
        const gf_index *g = &c->index[e];
        o.index[e] = (dz_index){g->kind, g->i, g->start, g->stop, g->step, g->has_start, g->has_stop,
                                g->array >= 0 ? o.arrays[g->array] : NULL};
    }
    return o;
}

static void owned_index_free(owned_index *o)
{
    for (int k = 0; k < DZ_MAX_NDIM; k++)
        dz_array_release(o->arrays[k]);
}

static dz_variable *get_item_fn(dz_variable *const *in, void *ctx)
{
    const owned_index *o = ctx;
    return dz_get_item(in[0], o->n, o->index);
}

typedef struct {
    const owned_index *index;
    int ndim;
    const int64_t *shape;
} grad_ctx;

static dz_variable *get_item_grad_fn(dz_variable *const *in, void *vctx)
{
    const grad_ctx *c = vctx;
    return dz_get_item_grad(in[0], c->index->n, c->index->index, c->ndim, c->shape);
}

static void assert_shape(const dz_array *a, int ndim, const int64_t *shape, const char *expr)
{
    char got[128], want[128];
    ck_assert_msg(dz_shape_equal(a->ndim, a->shape, ndim, shape), "%s: shape %s, expected %s", expr,
                  dz_shape_format(a->ndim, a->shape, got, sizeof got), dz_shape_format(ndim, shape, want, sizeof want));
}

static int64_t size_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* Forward value and np.add.at backward of one golden case in `dtype`. */
static void check_golden(const gf_case *c, dz_dtype dtype, double tol)
{
    owned_index o = index_of_case(c);
    dz_scope_begin();
    dz_variable *x = tc_var(dtype, c->x_ndim, c->x_shape, c->x);
    dz_variable *y = dz_get_item(x, o.n, o.index);
    ck_assert_msg(y != NULL, "%s: %s", c->expr, dz_last_error());
    assert_shape(y->data, c->y_ndim, c->y_shape, c->expr);
    tc_assert_values(y->data, c->y, size_of(c->y_ndim, c->y_shape), tol);
    dz_variable_set_grad(y, tc_var(dtype, c->y_ndim, c->y_shape, c->gy));
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
    assert_shape(x->grad->data, c->x_ndim, c->x_shape, c->expr);
    ck_assert_int_eq(x->grad->data->dtype, dtype);
    tc_assert_values(x->grad->data, c->gx, size_of(c->x_ndim, c->x_shape), tol);
    dz_scope_end();
    owned_index_free(&o);
}

START_TEST(test_golden_values)
{
    for (size_t i = 0; i < sizeof gf_cases / sizeof gf_cases[0]; i++) {
        check_golden(&gf_cases[i], DZ_F64, 1e-12);
        check_golden(&gf_cases[i], DZ_F32, 1e-5);
    }
}
END_TEST

START_TEST(test_golden_gradients)
{
    for (size_t i = 0; i < sizeof gf_cases / sizeof gf_cases[0]; i++) {
        const gf_case *c = &gf_cases[i];
        owned_index o = index_of_case(c);
        dz_scope_begin();
        dz_variable *x = tc_randn(100 + i, c->x_ndim, c->x_shape);
        tc_assert_gradient(get_item_fn, &o, 1, &x);
        tc_assert_double_gradient(get_item_fn, &o, 1, &x);
        grad_ctx g = {&o, c->x_ndim, c->x_shape};
        dz_variable *gy = tc_randn(200 + i, c->y_ndim, c->y_shape);
        tc_assert_gradient(get_item_grad_fn, &g, 1, &gy);
        tc_assert_double_gradient(get_item_grad_fn, &g, 1, &gy);
        dz_scope_end();
        owned_index_free(&o);
    }
}
END_TEST

START_TEST(test_macros)
{
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_arange(DZ_F64, 0, 12, 1), NULL);
    x = dz_reshape(x, 2, DZ_SHAPE(3, 4));
    dz_variable *row = dz_get_item(x, DZ_INDICES(DZ_I(1)));
    tc_assert_values(row->data, (double[]){4, 5, 6, 7}, 4, 0);
    dz_variable *cols = dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_SLICE(1, 3, 1)));
    tc_assert_values(cols->data, (double[]){1, 2, 5, 6, 9, 10}, 6, 0);
    dz_variable *rev = dz_get_item(x, DZ_INDICES(DZ_SLICE(DZ_OMIT, DZ_OMIT, -1), DZ_I(-1)));
    tc_assert_values(rev->data, (double[]){11, 7, 3}, 3, 0);
    dz_variable *tail = dz_get_item(x, DZ_INDICES(DZ_SLICE(-2, DZ_OMIT, 1)));
    ck_assert_int_eq(tail->data->shape[0], 2);
    tc_assert_values(tail->data, (double[]){4, 5, 6, 7, 8, 9, 10, 11}, 8, 0);
    dz_variable *all = dz_get_item(x, 0, NULL); /* x[()] copies */
    ck_assert_ptr_ne(all->data->data, x->data->data);
    tc_assert_values(all->data, (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 12, 0);
    dz_scope_end();
}
END_TEST

/* The new entry kinds through their macros (values from NumPy 1.24). */
START_TEST(test_ellipsis_newaxis_mask_macros)
{
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_arange(DZ_F64, 0, 12, 1), NULL);
    x = dz_reshape(x, 2, DZ_SHAPE(3, 4));
    dz_variable *col = dz_get_item(x, DZ_INDICES(DZ_ELLIPSIS, DZ_I(1))); /* x[..., 1] */
    assert_shape(col->data, 1, DZ_SHAPE(3), "x[..., 1]");
    tc_assert_values(col->data, (double[]){1, 5, 9}, 3, 0);
    dz_variable *row = dz_get_item(x, DZ_INDICES(DZ_NEWAXIS, DZ_I(1))); /* x[None, 1] */
    assert_shape(row->data, 2, DZ_SHAPE(1, 4), "x[None, 1]");
    tc_assert_values(row->data, (double[]){4, 5, 6, 7}, 4, 0);
    dz_array *above = dz_array_from_buffer(DZ_BOOL, 2, DZ_SHAPE(3, 4),
                                           (bool[]){0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
    dz_variable *big = dz_get_item(x, DZ_INDICES(DZ_MASK(above))); /* x[x > 5] */
    assert_shape(big->data, 1, DZ_SHAPE(6), "x[x > 5]");
    tc_assert_values(big->data, (double[]){6, 7, 8, 9, 10, 11}, 6, 0);
    dz_array *even = dz_array_from_buffer(DZ_BOOL, 1, DZ_SHAPE(4), (bool[]){1, 0, 1, 0});
    dz_variable *cols = dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_NEWAXIS, DZ_MASK(even))); /* x[:, None, [T, F, T, F]] */
    assert_shape(cols->data, 3, DZ_SHAPE(3, 1, 2), "x[:, None, m]");
    tc_assert_values(cols->data, (double[]){0, 2, 4, 6, 8, 10}, 6, 0);
    dz_array_release(above);
    dz_array_release(even);
    dz_scope_end();
}
END_TEST

/* A 0-d x: x[True], x[False], x[None] and x[...] (shapes and grads from NumPy). */
START_TEST(test_zero_dim)
{
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 0, NULL, (double[]){2.5});
    dz_array *yes = dz_array_from_buffer(DZ_BOOL, 0, NULL, (bool[]){true});
    dz_array *no = dz_array_from_buffer(DZ_BOOL, 0, NULL, (bool[]){false});
    dz_variable *one = dz_get_item(x, DZ_INDICES(DZ_MASK(yes)));
    assert_shape(one->data, 1, DZ_SHAPE(1), "x[True]");
    tc_assert_values(one->data, (double[]){2.5}, 1, 0);
    dz_variable_set_grad(one, tc_var(DZ_F64, 1, DZ_SHAPE(1), (double[]){4}));
    dz_variable_backward(one, false, false);
    tc_assert_values(x->grad->data, (double[]){4}, 1, 0);
    dz_variable *none = dz_get_item(x, DZ_INDICES(DZ_MASK(no)));
    assert_shape(none->data, 1, DZ_SHAPE(0), "x[False]");
    dz_variable *up = dz_get_item(x, DZ_INDICES(DZ_NEWAXIS));
    assert_shape(up->data, 1, DZ_SHAPE(1), "x[None]");
    tc_assert_values(up->data, (double[]){2.5}, 1, 0);
    dz_variable *same = dz_get_item(x, DZ_INDICES(DZ_ELLIPSIS));
    assert_shape(same->data, 0, NULL, "x[...]");
    tc_assert_values(same->data, (double[]){2.5}, 1, 0);
    dz_array_release(yes);
    dz_array_release(no);
    dz_scope_end();
}
END_TEST

/* x[mask] equals x[mask.nonzero()] (coordinates found here, on the host) in
 * value and grad, for masks over leading, trailing and middle axes. */
static void check_mask_as_take(const dz_array *mask, int first_axis)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(40, 4, DZ_SHAPE(2, 6, 5, 3));
    int k = mask->ndim;
    int64_t coords[DZ_MAX_NDIM][64], count = 0, c[DZ_MAX_NDIM] = {0};
    for (int64_t i = 0; i < mask->size; i++) {
        if (dz_array_get(mask, i) != 0) {
            for (int d = 0; d < k; d++)
                coords[d][count] = c[d];
            count++;
        }
        for (int d = k - 1; d >= 0 && ++c[d] == mask->shape[d]; d--)
            c[d] = 0;
    }
    dz_index by_mask[DZ_MAX_NDIM], by_take[DZ_MAX_NDIM];
    dz_array *taken[DZ_MAX_NDIM] = {NULL};
    for (int a = 0; a < first_axis; a++)
        by_mask[a] = by_take[a] = DZ_ALL;
    by_mask[first_axis] = DZ_MASK((dz_array *)mask);
    for (int d = 0; d < k; d++) {
        taken[d] = dz_array_from_buffer(DZ_I64, 1, &count, coords[d]);
        by_take[first_axis + d] = DZ_TAKE(taken[d]);
    }
    dz_variable *ym = dz_get_item(x, first_axis + 1, by_mask);
    dz_variable *yt = dz_get_item(x, first_axis + k, by_take);
    ck_assert_msg(ym && yt, "%s", dz_last_error());
    ck_assert(dz_shape_equal(ym->data->ndim, ym->data->shape, yt->data->ndim, yt->data->shape));
    dz_array *want = dz_array_to_device(yt->data, DZ_CPU);
    tc_assert_values(ym->data, want->data, want->size, 0);
    dz_array_release(want);
    dz_variable *gy = tc_randn(41, ym->data->ndim, ym->data->shape);
    dz_variable_backward(dz_sum(dz_mul(ym, gy), 0, NULL, false), false, false);
    dz_array *grad_mask = dz_array_retain(x->grad->data);
    dz_variable_cleargrad(x);
    dz_variable_backward(dz_sum(dz_mul(yt, gy), 0, NULL, false), false, false);
    tc_assert_values(grad_mask, x->grad->data->data, x->grad->data->size, 0);
    dz_array_release(grad_mask);
    for (int d = 0; d < k; d++)
        dz_array_release(taken[d]);
    dz_scope_end();
}

START_TEST(test_mask_is_nonzero_take)
{
    bool flags[6 * 5 * 3];
    for (int i = 0; i < 6 * 5 * 3; i++)
        flags[i] = (i * 7 + 3) % 5 < 2;
    dz_array *leading = dz_array_from_buffer(DZ_BOOL, 2, DZ_SHAPE(2, 6), flags);
    dz_array *middle = dz_array_from_buffer(DZ_BOOL, 1, DZ_SHAPE(6), flags + 4);
    dz_array *trailing = dz_array_from_buffer(DZ_BOOL, 2, DZ_SHAPE(5, 3), flags + 1);
    dz_array *three = dz_array_from_buffer(DZ_BOOL, 3, DZ_SHAPE(6, 5, 3), flags);
    check_mask_as_take(leading, 0);
    check_mask_as_take(middle, 1);
    check_mask_as_take(trailing, 2);
    check_mask_as_take(three, 1);
    dz_array_release(leading);
    dz_array_release(middle);
    dz_array_release(trailing);
    dz_array_release(three);
}
END_TEST

/* DeZero's W[[1, 0, 3, 0]] example and DLfS2's dW[idx] += dh with repeats. */
START_TEST(test_dezero_examples)
{
    dz_scope_begin();
    dz_variable *W = dz_variable_new(dz_array_arange(DZ_F32, 0, 21, 1), "W");
    W = dz_reshape(W, 2, DZ_SHAPE(7, 3));
    dz_array *idx = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(4), (int64_t[]){1, 0, 3, 0});
    dz_variable *h = dz_get_item(W, DZ_INDICES(DZ_TAKE(idx)));
    tc_assert_values(h->data, (double[]){3, 4, 5, 0, 1, 2, 9, 10, 11, 0, 1, 2}, 12, 0);
    dz_array_release(idx);

    dz_variable *E = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(7, 3)), "E");
    idx = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(4), (int32_t[]){1, 3, 1, 3});
    dz_variable *e = dz_get_item(E, DZ_INDICES(DZ_TAKE(idx)));
    dz_array_release(idx); /* the graph keeps what it needs */
    dz_variable_set_grad(e, tc_var(DZ_F32, 2, DZ_SHAPE(4, 3), (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    dz_variable_backward(e, false, false);
    tc_assert_values(E->grad->data, (double[]){0, 0, 0, 8, 10, 12, 0, 0, 0, 14, 16, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                     21, 0);

    /* reference §2.2 / §2.4: rows [0, 0, 1] of a 2x3 and ids [[0, 1], [1, 4]] */
    dz_variable *x = dz_variable_new(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(2, 3)), NULL);
    idx = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (int64_t[]){0, 0, 1});
    dz_variable_backward(dz_get_item(x, DZ_INDICES(DZ_TAKE(idx))), false, false);
    tc_assert_values(x->grad->data, (double[]){2, 2, 2, 1, 1, 1}, 6, 0);
    dz_array_release(idx);
    dz_variable *V = dz_variable_new(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(5, 2)), NULL);
    idx = dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(2, 2), (int64_t[]){0, 1, 1, 4});
    dz_variable *v = dz_get_item(V, DZ_INDICES(DZ_TAKE(idx)));
    ck_assert_int_eq(v->data->ndim, 3);
    dz_variable_backward(v, false, false);
    tc_assert_values(V->grad->data, (double[]){1, 1, 2, 2, 0, 0, 0, 0, 1, 1}, 10, 0);
    dz_array_release(idx);
    dz_scope_end();
}
END_TEST

/* The row fast path agrees with taking each row by an int index. */
START_TEST(test_rows_match_single_rows)
{
    dz_scope_begin();
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_variable *x = dz_variable_new(dz_array_normal(&rng, DZ_F32, 3, DZ_SHAPE(50, 3, 4), 0, 1), NULL);
    dz_array *idx = dz_array_randint(&rng, DZ_I64, 2, DZ_SHAPE(6, 5), -50, 50);
    dz_variable *y = dz_get_item(x, DZ_INDICES(DZ_TAKE(idx)));
    ck_assert_int_eq(y->data->ndim, 4);
    for (int64_t k = 0; k < idx->size; k++) {
        dz_variable *row = dz_get_item(x, DZ_INDICES(DZ_I(((int64_t *)idx->data)[k])));
        for (int64_t j = 0; j < 12; j++)
            ck_assert_float_eq(tc_at(y, k * 12 + j), tc_at(row, j));
    }
    dz_array_release(idx);
    dz_scope_end();
}
END_TEST

START_TEST(test_empty_and_integer_data)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(3, 2, DZ_SHAPE(4, 3));
    dz_variable *none = dz_get_item(x, DZ_INDICES(DZ_SLICE(3, 1, 1)));
    ck_assert_int_eq(none->data->shape[0], 0);
    ck_assert_int_eq(none->data->shape[1], 3);
    dz_variable_backward(none, false, false);
    tc_assert_values(x->grad->data, (double[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, 0);
    dz_array *empty = dz_array_zeros(DZ_I64, 1, DZ_SHAPE(0));
    ck_assert_int_eq(dz_get_item(x, DZ_INDICES(DZ_TAKE(empty)))->data->size, 0);
    dz_array_release(empty);

    dz_variable *n = dz_variable_new(dz_array_arange(DZ_I64, 0, 6, 1), NULL);
    dz_array *idx = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (int64_t[]){5, 5, 0});
    dz_variable *m = dz_get_item(n, DZ_INDICES(DZ_TAKE(idx)));
    ck_assert_int_eq(m->data->dtype, DZ_I64);
    tc_assert_values(m->data, (double[]){5, 5, 0}, 3, 0);
    dz_variable_backward(m, false, false);
    ck_assert_int_eq(n->grad->data->dtype, DZ_I64);
    tc_assert_values(n->grad->data, (double[]){1, 0, 0, 0, 0, 2}, 6, 0);
    dz_array_release(idx);

    DZ_NO_GRAD { ck_assert_ptr_null(dz_get_item(x, DZ_INDICES(DZ_I(0)))->creator); }
    dz_scope_end();
}
END_TEST

START_TEST(test_bad_indices)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(5, 3));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_I(7))), DZ_ERR_INDEX,
                 "dz_get_item: index 7 is out of bounds for axis 0 with size 5");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_I(-4))), DZ_ERR_INDEX,
                 "index -4 is out of bounds for axis 1 with size 3");
    dz_array *far = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (int64_t[]){0, 4, -6});
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(far))), DZ_ERR_INDEX,
                 "dz_get_item: index -6 is out of bounds for axis 0 with size 5");
    dz_array *wide = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(2), (int32_t[]){1, 3});
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_TAKE(wide))), DZ_ERR_INDEX,
                 "index 3 is out of bounds for axis 1 with size 3");
    dz_array *real = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(real))), DZ_ERR_DTYPE,
                 "index array for axis 0 is float32");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_I(0), DZ_I(0), DZ_I(0))), DZ_ERR_INDEX,
                 "too many indices: 3 given for an array of shape (5, 3) with 2 dims");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_SLICE(0, 3, 0))), DZ_ERR_VALUE, "slice step cannot be zero");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(NULL))), DZ_ERR_NULL, "index array for axis 0 is NULL");
    dz_array *three = dz_array_zeros(DZ_I64, 1, DZ_SHAPE(3));
    dz_array *two = dz_array_zeros(DZ_I64, 1, DZ_SHAPE(2));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(three), DZ_TAKE(two))), DZ_ERR_SHAPE,
                 "index arrays of shapes (3,) and (2,) cannot broadcast together");
    ASSERT_ERROR(dz_get_item(NULL, DZ_INDICES(DZ_I(0))), DZ_ERR_NULL, "dz_get_item");
    dz_variable *gy = tc_randn(2, 1, DZ_SHAPE(4));
    ASSERT_ERROR(dz_get_item_grad(gy, DZ_INDICES(DZ_I(1)), 2, DZ_SHAPE(5, 3)), DZ_ERR_SHAPE,
                 "dz_get_item_grad: gy has shape (4,) but indexing (5, 3) gives (3,)");
    ASSERT_ERROR(dz_get_item_grad(gy, DZ_INDICES(DZ_I(9)), 1, DZ_SHAPE(4)), DZ_ERR_INDEX,
                 "dz_get_item_grad: index 9 is out of bounds for axis 0 with size 4");
    dz_array_release(far);
    dz_array_release(wide);
    dz_array_release(real);
    dz_array_release(three);
    dz_array_release(two);
    dz_scope_end();
    tc_errors_on();
}
END_TEST

START_TEST(test_bad_ellipsis_newaxis_masks)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(5, 3));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_ELLIPSIS, DZ_I(0), DZ_ELLIPSIS)), DZ_ERR_INDEX,
                 "dz_get_item: an index can have only one DZ_ELLIPSIS; entries 0 and 2 both are");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_I(0), DZ_ELLIPSIS, DZ_I(0), DZ_I(0))), DZ_ERR_INDEX,
                 "too many indices: 3 given for an array of shape (5, 3) with 2 dims");
    dz_array *narrow = dz_array_zeros(DZ_BOOL, 2, DZ_SHAPE(5, 2));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_MASK(narrow))), DZ_ERR_SHAPE,
                 "dz_get_item: the mask of shape (5, 2) does not match the indexed array along axis 1: the axis "
                 "has size 3 but the mask's dim 1 has size 2; a mask must have the shape of the axes it indexes, "
                 "here (5, 3)");
    dz_array *rows = dz_array_zeros(DZ_BOOL, 1, DZ_SHAPE(5));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_MASK(rows))), DZ_ERR_SHAPE,
                 "along axis 1: the axis has size 3 but the mask's dim 0 has size 5");
    dz_array *all = dz_array_zeros(DZ_BOOL, 2, DZ_SHAPE(5, 3));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_MASK(all), DZ_I(0))), DZ_ERR_INDEX,
                 "too many indices: 3 given for an array of shape (5, 3) with 2 dims (a mask indexes as many axes "
                 "as it has dims)");
    dz_array *ints = dz_array_zeros(DZ_I64, 1, DZ_SHAPE(5));
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_MASK(ints))), DZ_ERR_DTYPE,
                 "dz_get_item: the mask of index entry 0 is int64; a mask must be bool (DZ_BOOL)");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(rows))), DZ_ERR_DTYPE,
                 "index arrays must be int32 or int64 (dz_array_astype); a bool array is a mask: DZ_MASK");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_MASK(NULL))), DZ_ERR_NULL,
                 "dz_get_item: the mask of index entry 1 is NULL");
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_NEWAXIS, DZ_NEWAXIS, DZ_NEWAXIS, DZ_NEWAXIS, DZ_NEWAXIS,
                                           DZ_NEWAXIS, DZ_NEWAXIS)), DZ_ERR_SHAPE,
                 "the result would have more than 8 dims");
    dz_index many[20];
    for (int e = 0; e < 20; e++)
        many[e] = DZ_NEWAXIS;
    ASSERT_ERROR(dz_get_item(x, 20, many), DZ_ERR_INDEX,
                 "dz_get_item: 20 DZ_NEWAXIS and 0-d mask entries; an index can have at most 14 for an array "
                 "with 2 dims");
    dz_variable *gy = tc_randn(2, 1, DZ_SHAPE(4));
    ASSERT_ERROR(dz_get_item_grad(gy, DZ_INDICES(DZ_MASK(narrow)), 2, DZ_SHAPE(5, 3)), DZ_ERR_SHAPE,
                 "dz_get_item_grad: the mask of shape (5, 2) does not match");
    ASSERT_ERROR(dz_get_item_grad(gy, DZ_INDICES(DZ_ELLIPSIS, DZ_ELLIPSIS), 1, DZ_SHAPE(4)), DZ_ERR_INDEX,
                 "dz_get_item_grad: an index can have only one DZ_ELLIPSIS");
    dz_array_release(narrow);
    dz_array_release(rows);
    dz_array_release(all);
    dz_array_release(ints);
    dz_scope_end();
    tc_errors_on();
}
END_TEST

/* The PyTorch notebook's experiment: for idx of shape (2, 4), one_hot(idx, V) @ W
 * equals W[idx], and both paths give W the same gradient (duplicates add up). */
START_TEST(test_one_hot_matmul_equals_getitem)
{
    dz_scope_begin();
    const int64_t V = 7, D = 3;
    dz_variable *W = tc_randn(21, 2, DZ_SHAPE(V, D));
    dz_variable *idx = dz_variable_new(
        dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(2, 4), (int64_t[]){1, 0, 3, 0, 6, 1, 1, 2}), NULL);
    dz_variable *gy = tc_randn(22, 3, DZ_SHAPE(2, 4, D));
    dz_variable *picked = dz_get_item(W, DZ_INDICES(DZ_TAKE(idx->data)));
    dz_variable *hot = dz_matmul(dz_one_hot(idx, V, DZ_F64), W); /* (2, 4, V) @ (V, D) */
    tc_assert_values(hot->data, (const double *)picked->data->data, 2 * 4 * D, 1e-15);
    dz_variable_backward(dz_sum(dz_mul(picked, gy), 0, NULL, false), false, false);
    dz_array *grad_getitem = dz_array_retain(W->grad->data);
    dz_variable_cleargrad(W);
    dz_variable_backward(dz_sum(dz_mul(hot, gy), 0, NULL, false), false, false);
    tc_assert_values(W->grad->data, (const double *)grad_getitem->data, V * D, 1e-12);
    dz_array_release(grad_getitem);
    dz_scope_end();
}
END_TEST

static Suite *getitem_suite(void)
{
    Suite *s = suite_create("getitem");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_values);
    tcase_add_test(tc, test_golden_gradients);
    tcase_add_test(tc, test_macros);
    tcase_add_test(tc, test_ellipsis_newaxis_mask_macros);
    tcase_add_test(tc, test_zero_dim);
    tcase_add_test(tc, test_mask_is_nonzero_take);
    tcase_add_test(tc, test_dezero_examples);
    tcase_add_test(tc, test_rows_match_single_rows);
    tcase_add_test(tc, test_empty_and_integer_data);
    tcase_add_test(tc, test_bad_indices);
    tcase_add_test(tc, test_bad_ellipsis_newaxis_masks);
    tcase_add_test(tc, test_one_hot_matmul_equals_getitem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(getitem_suite()); }

/* GetItem / GetItemGrad: values and np.add.at backward against NumPy golden
 * fixtures, gradient and double-backward checks for every index form, the
 * DeZero / DLfS2 embedding examples, and bad indices. */
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
        o.arrays[k] = a->int32 ? dz_array_astype(i64, DZ_I32) : dz_array_retain(i64);
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
    tcase_add_test(tc, test_dezero_examples);
    tcase_add_test(tc, test_rows_match_single_rows);
    tcase_add_test(tc, test_empty_and_integer_data);
    tcase_add_test(tc, test_bad_indices);
    tcase_add_test(tc, test_one_hot_matmul_equals_getitem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(getitem_suite()); }

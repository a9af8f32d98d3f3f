/* The device-agnostic core: host views, index and label checks through
 * index_range (the first bad entry found on a host view), negative index
 * positions wrapped by primitives, element access of every dtype, the
 * embedding layer's padding row and sparse-grad index checks. */
#include <math.h>

#include "core/host_view.h"
#include "functions/checks.h"
#include "test_common.h"

static dz_array *i32s(int64_t n, const int32_t *v) { return dz_array_from_buffer(DZ_I32, 1, &n, v); }
static dz_array *i64s(int64_t n, const int64_t *v) { return dz_array_from_buffer(DZ_I64, 1, &n, v); }

START_TEST(test_cpu_views_are_the_buffer)
{
    dz_array *a = dz_array_arange(DZ_F32, 0, 4, 1);
    dz_host_view view;
    const float *r = dz_host_view_read(&view, a);
    ck_assert_ptr_eq(r, a->data); /* no copy on the CPU */
    ck_assert_float_eq(r[3], 3.0f);
    dz_host_view_close(&view);
    float *w = dz_host_view_write(&view, a);
    ck_assert_ptr_eq(w, a->data);
    w[0] = 7;
    dz_host_view_close(&view);
    float *u = dz_host_view_update(&view, a);
    ck_assert_ptr_eq(u, a->data);
    ck_assert_float_eq(u[0], 7.0f);
    u[1] += 10;
    dz_host_view_close(&view);
    tc_assert_values(a, (const double[]){7, 11, 2, 3}, 4, 0);
    dz_array_release(a);
}
END_TEST

START_TEST(test_first_index_outside)
{
    dz_array *a32 = i32s(5, (const int32_t[]){3, 12, -1, 20, 4});
    dz_array *a64 = i64s(5, (const int64_t[]){3, 12, -1, 20, 4});
    dz_array *arrays[] = {a32, a64};
    for (int k = 0; k < 2; k++) {
        int64_t v = 99;
        /* the first in input order, not the largest or smallest */
        ck_assert_int_eq(dz_first_index_outside(arrays[k], 0, 10, &v), 1);
        ck_assert_int_eq(v, 12);
        ck_assert_int_eq(dz_first_index_outside(arrays[k], 0, 21, &v), 2);
        ck_assert_int_eq(v, -1);
        ck_assert_int_eq(dz_first_index_outside(arrays[k], -1, 20, &v), 3);
        ck_assert_int_eq(v, 20);
        v = 99;
        ck_assert_int_eq(dz_first_index_outside(arrays[k], -1, 21, &v), -1);
        ck_assert_int_eq(v, 99); /* untouched when all are inside */
    }
    dz_array *empty = dz_array_zeros(DZ_I64, 1, DZ_SHAPE(0));
    int64_t v = 99;
    ck_assert_int_eq(dz_first_index_outside(empty, 0, 0, &v), -1);
    dz_array *one = i32s(1, (const int32_t[]){-7});
    ck_assert_int_eq(dz_first_index_outside(one, 0, 5, &v), 0);
    ck_assert_int_eq(v, -7);
    dz_array_release(a32);
    dz_array_release(a64);
    dz_array_release(empty);
    dz_array_release(one);
}
END_TEST

START_TEST(test_label_range)
{
    const char *op = "op";
    int64_t count = -1, ignore = -100, two = 2, seven = 7;
    dz_array *t = i64s(5, (const int64_t[]){0, 2, -100, 1, -100});
    ck_assert(dz_check_label_range(op, t, 3, &ignore, &count)); /* ignored labels outside the range */
    ck_assert_int_eq(count, 3);
    ignore = 2; /* now -100 is a bad label */
    tc_errors_off();
    ASSERT_FAILS(!dz_check_label_range(op, t, 3, &ignore, &count), DZ_ERR_INDEX,
                 "op: label -100 at position 2 is out of range for 3 classes");
    ASSERT_FAILS(!dz_check_label_range(op, t, 3, NULL, &count), DZ_ERR_INDEX, "label -100 at position 2");
    tc_errors_on();

    dz_array *u = i32s(4, (const int32_t[]){0, 2, 1, 2});
    ck_assert(dz_check_label_range(op, u, 3, NULL, &count)); /* every label in range: index_range only */
    ck_assert_int_eq(count, 4);
    ck_assert(dz_check_label_range(op, u, 3, &seven, &count));
    ck_assert_int_eq(count, 4);
    ck_assert(dz_check_label_range(op, u, 3, &two, &count)); /* ignore_index inside the range: counted */
    ck_assert_int_eq(count, 2);
    tc_errors_off();
    ASSERT_FAILS(!dz_check_label_range(op, u, 2, &seven, &count), DZ_ERR_INDEX,
                 "op: label 2 at position 1 is out of range for 2 classes; labels must be in [0, 2) or equal "
                 "ignore_index");
    tc_errors_on();

    dz_array *empty = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(0));
    ck_assert(dz_check_label_range(op, empty, 0, NULL, &count));
    ck_assert_int_eq(count, 0);
    dz_array_release(t);
    dz_array_release(u);
    dz_array_release(empty);
}
END_TEST

START_TEST(test_negative_positions_wrap)
{
    dz_variable *x = dz_variable_new(dz_array_arange(DZ_F32, 0, 5, 1), "x");
    dz_array *p32 = i32s(4, (const int32_t[]){-1, 0, -5, 3});
    dz_array *p64 = i64s(3, (const int64_t[]){-2, 1, 4});
    dz_array *plain = i32s(2, (const int32_t[]){4, 1}); /* int32, none negative: only converted */
    dz_scope_begin();
    dz_variable *y = dz_get_item(x, DZ_INDICES(DZ_TAKE(p32)));
    tc_assert_values(y->data, (const double[]){4, 0, 0, 3}, 4, 0);
    y = dz_get_item(x, DZ_INDICES(DZ_TAKE(p64)));
    tc_assert_values(y->data, (const double[]){3, 1, 4}, 3, 0);
    y = dz_get_item(x, DZ_INDICES(DZ_TAKE(plain)));
    tc_assert_values(y->data, (const double[]){4, 1}, 2, 0);
    dz_variable *gy = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(4)), "gy"); /* the scope's */
    dz_variable *gx = dz_get_item_grad(gy, DZ_INDICES(DZ_TAKE(p32)), 1, DZ_SHAPE(5));
    tc_assert_values(gx->data, (const double[]){2, 0, 0, 1, 1}, 5, 0);
    tc_errors_off();
    dz_array *bad = i32s(3, (const int32_t[]){1, 7, -9});
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(bad))), DZ_ERR_INDEX,
                 "dz_get_item: index 7 is out of bounds for axis 0 with size 5 (entry 1 of the index array)");
    dz_array_release(bad);
    bad = i64s(3, (const int64_t[]){1, -6, 9});
    ASSERT_ERROR(dz_get_item(x, DZ_INDICES(DZ_TAKE(bad))), DZ_ERR_INDEX,
                 "index -6 is out of bounds for axis 0 with size 5 (entry 1 of the index array)");
    tc_errors_on();
    dz_scope_end();
    dz_array_release(bad);
    dz_array_release(p32);
    dz_array_release(p64);
    dz_array_release(plain);
    dz_variable_release(x);
}
END_TEST

/* arange, get and set convert every dtype through host views. */
START_TEST(test_elements_of_every_dtype)
{
    const dz_dtype dtypes[] = {DZ_F32, DZ_F64, DZ_I32, DZ_I64, DZ_U8, DZ_F16};
    for (size_t k = 0; k < sizeof dtypes / sizeof *dtypes; k++) {
        dz_array *a = dz_array_arange(dtypes[k], 1, 5, 1);
        dz_array_set(a, 2, 9);
        tc_assert_values(a, (const double[]){1, 2, 9, 4}, 4, 0);
        ck_assert(dz_array_get(a, 3) == 4);
        dz_array_release(a);
    }
    dz_array *b = dz_array_arange(DZ_BOOL, 0, 3, 1);
    dz_array_set(b, 0, 5);
    tc_assert_values(b, (const double[]){1, 1, 1}, 3, 0);
    dz_array_release(b);
    dz_array *h = dz_array_arange(DZ_F16, 0, 1, 0.25);
    tc_assert_values(h, (const double[]){0, 0.25, 0.5, 0.75}, 4, 0);
    dz_array_set(h, 1, 1.0 / 3); /* rounded to half */
    ck_assert(fabs(dz_array_get(h, 1) - 1.0 / 3) < 1e-3 && dz_array_get(h, 1) != 1.0 / 3);
    dz_array_release(h);
}
END_TEST

START_TEST(test_padding_row_zeroed)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_padding_idx = true;
    const int64_t paddings[] = {0, 2, -1}; /* -1: the last row */
    for (int k = 0; k < 3; k++) {
        o.padding_idx = paddings[k];
        dz_rng rng;
        dz_rng_seed(&rng, 5);
        dz_layer *l = dz_embedding_layer_new(3, 4, &o, DZ_F64, &rng);
        const dz_array *w = dz_layer_param(l, "W")->data;
        int64_t row = paddings[k] < 0 ? 3 + paddings[k] : paddings[k];
        for (int64_t i = 0; i < 12; i++)
            ck_assert_msg((dz_array_get(w, i) == 0) == (i / 4 == row), "padding %lld, element %lld",
                          (long long)paddings[k], (long long)i);
        dz_layer_free(l);
    }
}
END_TEST

START_TEST(test_sparse_grad_indices)
{
    dz_variable *p = dz_parameter_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(4, 2)), "W");
    const float v[] = {1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(dz_sparse_grad_append(p, i64s(3, (const int64_t[]){2, 0, 2}),
                                           dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(3, 2), v), 4),
                     DZ_OK);
    ck_assert_int_eq(dz_sparse_grad_coalesce(p->sparse_grad), DZ_OK);
    tc_assert_values(p->sparse_grad->indices, (const double[]){0, 2}, 2, 0);
    tc_assert_values(p->sparse_grad->values, (const double[]){3, 4, 6, 8}, 4, 0);
    tc_errors_off();
    ck_assert_int_eq(dz_sparse_grad_append(p, i64s(3, (const int64_t[]){1, 3, 1}),
                                           dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(3, 2), v), 3),
                     DZ_ERR_INDEX);
    ck_assert_msg(strstr(dz_last_error(), "entry 1 has index 3, out of range for 3 rows"), "%s", dz_last_error());
    tc_errors_on();
    dz_variable_release(p);
}
END_TEST

static Suite *host_view_suite(void)
{
    Suite *s = suite_create("host_view");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cpu_views_are_the_buffer);
    tcase_add_test(tc, test_first_index_outside);
    tcase_add_test(tc, test_label_range);
    tcase_add_test(tc, test_negative_positions_wrap);
    tcase_add_test(tc, test_elements_of_every_dtype);
    tcase_add_test(tc, test_padding_row_zeroed);
    tcase_add_test(tc, test_sparse_grad_indices);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(host_view_suite()); }

/* Arrays: creation, reshape, dtype conversion, printing, RNG. */
#include <math.h>
#include <stdlib.h>

#include "test_common.h"

START_TEST(test_creation)
{
    dz_array *z = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3));
    ck_assert_int_eq(z->size, 6);
    ck_assert_int_eq(z->ndim, 2);
    tc_assert_values(z, (double[]){0, 0, 0, 0, 0, 0}, 6, 0);
    dz_array *o = dz_array_ones(DZ_I64, 1, DZ_SHAPE(3));
    tc_assert_values(o, (double[]){1, 1, 1}, 3, 0);
    dz_array *f = dz_array_full(DZ_F64, 0, NULL, 2.5);
    ck_assert_int_eq(f->size, 1);
    ck_assert_double_eq(dz_array_get(f, 0), 2.5);
    dz_array *r = dz_array_arange(DZ_F32, 0, 1, 0.25);
    tc_assert_values(r, (double[]){0, 0.25, 0.5, 0.75}, 4, 0);
    dz_array *e = dz_array_arange(DZ_I32, 5, 0, 1);
    ck_assert_int_eq(e->size, 0);
    int32_t buf[] = {1, -2, 3};
    dz_array *b = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(3), buf);
    tc_assert_values(b, (double[]){1, -2, 3}, 3, 0);
    dz_array *c = dz_array_copy(b);
    dz_array_set(c, 0, 9);
    ck_assert_double_eq(dz_array_get(b, 0), 1);
    dz_array *empty = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(0, 5));
    ck_assert_int_eq(empty->size, 0);
    dz_array *arrays[] = {z, o, f, r, e, b, c, empty};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        dz_array_release(arrays[i]);
}
END_TEST

START_TEST(test_reshape_shares_storage)
{
    dz_array *a = dz_array_arange(DZ_F64, 0, 6, 1);
    dz_array *b = dz_array_reshape(a, 2, DZ_SHAPE(-1, 3));
    ck_assert_int_eq(b->shape[0], 2);
    ck_assert_int_eq(b->shape[1], 3);
    ck_assert_ptr_eq(a->data, b->data);
    dz_array_set(b, 4, 40);
    ck_assert_double_eq(dz_array_get(a, 4), 40);
    dz_array_release(a); /* b keeps the storage alive */
    ck_assert_double_eq(dz_array_get(b, 5), 5);
    dz_array_release(b);
}
END_TEST

START_TEST(test_astype)
{
    dz_array *a = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(4), (double[]){1.5, -2.5, 65504, 1e-8});
    dz_array *i = dz_array_astype(a, DZ_I32);
    tc_assert_values(i, (double[]){1, -2, 65504, 0}, 4, 0);
    dz_array *h = dz_array_astype(a, DZ_F16);
    tc_assert_values(h, (double[]){1.5, -2.5, 65504, 0}, 4, 1e-7);
    /* float16 subnormals: NumPy's astype gives bits 0x200, 0x1, 0x3, 0x368, 0x1 */
    dz_array *small = dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(5),
                                           (float[]){0x1p-15f, 0x1p-24f, 0x3p-24f, 0x368p-24f, 0x1.8p-25f});
    dz_array *hs = dz_array_astype(small, DZ_F16);
    tc_assert_values(hs, (double[]){0x1p-15, 0x1p-24, 0x3p-24, 0x368p-24, 0x1p-24}, 5, 0);
    dz_array_release(small);
    dz_array_release(hs);
    dz_array *f = dz_array_astype(a, DZ_F32);
    ck_assert(fabs(dz_array_get(f, 3) - 1e-8) < 1e-15);
    dz_array *bo = dz_array_astype(a, DZ_BOOL);
    tc_assert_values(bo, (double[]){1, 1, 1, 1}, 4, 0);
    dz_array_release(a);
    dz_array_release(i);
    dz_array_release(h);
    dz_array_release(f);
    dz_array_release(bo);
}
END_TEST

static void assert_format(dz_array *a, const char *expected)
{
    char *s = dz_array_format(a, 0);
    ck_assert_str_eq(s, expected);
    free(s);
    dz_array_release(a);
}

START_TEST(test_print_like_numpy)
{
    assert_format(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(3), (double[]){1, 2, 3}), "[1. 2. 3.]");
    assert_format(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(2), (double[]){1.5, 2.25}), "[1.5  2.25]");
    assert_format(dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(2, 2), (double[]){1, -2, 3, 4}), "[[ 1. -2.]\n [ 3.  4.]]");
    assert_format(dz_array_arange(DZ_I64, 0, 6, 1), "[0 1 2 3 4 5]");
    assert_format(dz_array_full(DZ_F32, 0, NULL, 0.5), "0.5");
    /* float32 prints its shortest round-tripping digits, as NumPy does */
    assert_format(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), (float[]){2.3f, 1.0085865f}), "[2.3       1.0085865]");
    assert_format(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(2), (double[]){0.1, 1.0 / 3}), "[0.1        0.33333333]");
    dz_array *a = dz_array_arange(DZ_I32, 0, 8, 1);
    dz_array *b = dz_array_reshape(a, 3, DZ_SHAPE(2, 2, 2));
    dz_array_release(a);
    assert_format(b, "[[[0 1]\n  [2 3]]\n\n [[4 5]\n  [6 7]]]");
}
END_TEST

START_TEST(test_rng_deterministic)
{
    dz_rng a, b;
    dz_rng_seed(&a, 42);
    dz_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(dz_rng_next(&a), dz_rng_next(&b));
    /* a fixed value: the stream must not change between platforms or releases */
    dz_rng_seed(&a, 0);
    ck_assert_uint_eq(dz_rng_next(&a), 0x99ec5f36cb75f2b4ull);
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; i++) {
        double n = dz_rng_normal(&a);
        sum += n;
        sq += n * n;
    }
    ck_assert(fabs(sum / 20000) < 0.03);
    ck_assert(fabs(sq / 20000 - 1) < 0.05);
    for (int i = 0; i < 1000; i++) {
        int64_t r = dz_rng_randint(&a, -3, 4);
        ck_assert(r >= -3 && r < 4);
        double u = dz_rng_uniform(&a);
        ck_assert(u >= 0 && u < 1);
    }
    dz_array *p = dz_array_permutation(&a, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++)
        seen[(int)dz_array_get(p, i)]++;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    dz_array_release(p);
}
END_TEST

static Suite *array_suite(void)
{
    Suite *s = suite_create("array");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_creation);
    tcase_add_test(tc, test_reshape_shares_storage);
    tcase_add_test(tc, test_astype);
    tcase_add_test(tc, test_print_like_numpy);
    tcase_add_test(tc, test_rng_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(array_suite()); }

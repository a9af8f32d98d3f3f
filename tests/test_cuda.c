/* CUDA backend: host <-> device round trip and layer moves. Reports
 * "skipped" (exit 77) where the build has no CUDA or no GPU is present. */
#include <stdio.h>
#include <stdlib.h>

#include "test_common.h"

START_TEST(test_round_trip)
{
    dz_array *a = dz_array_arange(DZ_F32, 0, 1000, 1);
    dz_array *g = dz_array_to_device(a, DZ_CUDA);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->device, DZ_CUDA);
    dz_array *back = dz_array_to_device(g, DZ_CPU);
    ck_assert_mem_eq(a->data, back->data, 1000 * sizeof(float));
    dz_array *copy = dz_array_copy(g);
    dz_array *back2 = dz_array_to_device(copy, DZ_CPU);
    ck_assert_mem_eq(a->data, back2->data, 1000 * sizeof(float));
    dz_array_release(a);
    dz_array_release(g);
    dz_array_release(back);
    dz_array_release(copy);
    dz_array_release(back2);
}
END_TEST

static Suite *cuda_suite(void)
{
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!dz_cuda_available())
        return tc_no_cuda_device();
    return tc_run(cuda_suite());
}

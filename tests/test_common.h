/* Helpers shared by the Check suites. */
#ifndef DEZERO_TEST_COMMON_H
#define DEZERO_TEST_COMMON_H

#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "dezero/dezero.h"

/* Set when the suite runs with the CPU backend's fused kernels off
 * (DZ_TEST_FUSED=0): every op then runs its composite of primitives, which
 * promises float tolerance where the fused kernel promises bits. The bit
 * assertions then compare within TC_COMPOSITE_RTOL. */
extern bool tc_fused_off;
#define TC_COMPOSITE_RTOL 1e-6
/* got == expected, or within TC_COMPOSITE_RTOL * max(1, |expected|). */
bool tc_close_float(double got, double expected);

/* A leaf from doubles, in dtype (converted). */
dz_variable *tc_var(dz_dtype dtype, int ndim, const int64_t *shape, const double *values);
/* A leaf of standard normals (f64) from a fixed seed. */
dz_variable *tc_randn(uint64_t seed, int ndim, const int64_t *shape);
/* Element i of a variable's data / grad as double. */
double tc_at(const dz_variable *v, int64_t i);
double tc_grad_at(const dz_variable *v, int64_t i);
/* Every element of a within tol of expected (n values). */
void tc_assert_values(const dz_array *a, const double *expected, int64_t n, double tol);
/* Every element of a within rtol * max(1, |expected|) of expected (n values). */
void tc_assert_close(const dz_array *a, const double *expected, int64_t n, double rtol);
/* Gradient check that fails the test with dz_last_error() on mismatch. */
void tc_assert_gradient(dz_checked_fn f, void *ctx, int n, dz_variable *const *inputs);
/* Second-order check: differentiates grad(f) w.r.t. input 0 with create_graph,
 * and checks sum(w * grad) by gradient_check again. */
void tc_assert_double_gradient(dz_checked_fn f, void *ctx, int n, dz_variable *const *inputs);

/* `failed` must hold, with dz_last_error_code() == code and a message
 * containing `fragment` (run with the error handler off). ASSERT_ERROR is the
 * usual case: a call that returns NULL. */
#define ASSERT_FAILS(failed, code, fragment)                                                        \
    do {                                                                                           \
        dz_clear_error();                                                                          \
        ck_assert(failed);                                                                         \
        ck_assert_int_eq(dz_last_error_code(), code);                                              \
        ck_assert_msg(strstr(dz_last_error(), fragment) != NULL, "message '%s' lacks '%s'",        \
                      dz_last_error(), fragment);                                                  \
    } while (0)
#define ASSERT_ERROR(call, code, fragment) ASSERT_FAILS((call) == NULL, code, fragment)

/* Leaves from host buffers. */
dz_variable *tc_f32(int ndim, const int64_t *shape, const float *values);
dz_variable *tc_i64(int ndim, const int64_t *shape, const int64_t *values);
/* The bits of a float, and a bit-exact comparison of an f32 array. */
uint32_t tc_bits_of(float f);
void tc_assert_bits(const dz_array *a, const float *expected, int64_t n);

/* Turn the abort-on-error handler off for a test, restore it after. */
void tc_errors_off(void);
void tc_errors_on(void);

/* Run one suite; returns the process exit code. */
int tc_run(Suite *s);

/* The exit code of a GPU suite that finds no CUDA device: 77 (skipped), or
 * 1 where the build made a module that must serve (DZ_EXPECT_CUDA=1, the
 * emulated device: a module that fails to open there is a failure, not a
 * skip). Prints the reason either way. */
int tc_no_cuda_device(void);

#endif

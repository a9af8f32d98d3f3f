/* Bit-identical to PyTorch 1.13 on the CPU (float32, one thread): tanh on a
 * sample of inputs, tanh's grad, sums over the axes of several shapes, the
 * mean squared error for many sizes, and a model y = tanh(x @ W + b) trained
 * on MSE(y, t) by SGD and by Adam, every loss and the final parameters
 * compared bit for bit (fixtures from
 * tests/fixtures/make_trajectory_fixtures.py).
 *
 * The fixtures come from PyTorch's AVX2 kernels; ours add in that order on
 * any CPU. x @ W, though, has the bits of OpenBLAS's sgemm kernel for the
 * CPU, the Haswell kernel in the fixtures (OpenBLAS's Zen target uses it
 * too): elsewhere, or without OpenBLAS, the training runs are left out and
 * the suite reports itself skipped (77) once the rest has passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DZ_HAVE_CBLAS
#include <cblas.h>
#endif

#include "fixtures/trajectory_golden.h"
#include "test_common.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float *floats_of(const uint32_t *bits, int64_t n)
{
    float *f = malloc((size_t)n * sizeof *f);
    ck_assert(f);
    for (int64_t i = 0; i < n; i++)
        f[i] = float_of(bits[i]);
    return f;
}

/* The generator's values in [-1, 1): the top 24 bits of an integer hash. */
static float *hashed(int64_t n, uint64_t seed)
{
    float *f = malloc((size_t)n * sizeof *f);
    ck_assert(f);
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = ((uint64_t)i * 2654435761u + seed * 40503u) & 0xffffffffu;
        h ^= h >> 15;
        h = (h * 2246822519u) & 0xffffffffu;
        h ^= h >> 13;
        f[i] = (float)((double)(h >> 8) * 0x1p-23 - 1.0);
    }
    return f;
}

static dz_variable *hashed_var(int ndim, const int64_t *shape, uint64_t seed, float scale, bool constant)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = hashed(n, seed);
    for (int64_t i = 0; i < n; i++)
        v[i] *= scale;
    dz_array *a = dz_array_from_buffer(DZ_F32, ndim, shape, v);
    free(v);
    return constant ? dz_variable_constant(a, NULL) : dz_variable_new(a, NULL);
}

START_TEST(test_tanh_matches_pytorch)
{
    int64_t n = COUNT(golden_tanh_x);
    float *x = floats_of(golden_tanh_x, n), *expected = floats_of(golden_tanh_y, n);
    dz_scope_begin();
    dz_variable *y = dz_tanh(tc_f32(1, DZ_SHAPE(n), x));
    tc_assert_bits(y->data, expected, n);
    dz_scope_end();
    free(x);
    free(expected);
}
END_TEST

START_TEST(test_tanh_grad_matches_pytorch)
{
    int64_t n = GOLDEN_TANH_GRAD_N;
    float *expected = floats_of(golden_tanh_grad, n);
    for (int create_graph = 0; create_graph < 2; create_graph++) {
        dz_scope_begin();
        dz_variable *x = hashed_var(1, DZ_SHAPE(n), 7, 3.0f, false);
        dz_variable *c = hashed_var(1, DZ_SHAPE(n), 8, 1.0f, true);
        dz_variable *loss = dz_sum(dz_mul(dz_tanh(x), c), 0, NULL, false);
        ck_assert_int_eq(dz_variable_backward(loss, false, create_graph), DZ_OK);
        tc_assert_bits(x->grad->data, expected, n);
        dz_variable_cleargrad(x);
        dz_scope_end();
    }
    free(expected);
}
END_TEST

START_TEST(test_sum_matches_pytorch)
{
    int64_t at = 0;
    for (int64_t k = 0; k < COUNT(golden_sum_cases); k++) {
        int ndim = golden_sum_cases[k].ndim;
        const int64_t *shape = golden_sum_cases[k].shape;
        dz_scope_begin();
        dz_variable *y = dz_sum(hashed_var(ndim, shape, 9, 10.0f, true), golden_sum_cases[k].naxes,
                                golden_sum_cases[k].axes, false);
        float *expected = floats_of(golden_sum_y + at, y->data->size);
        tc_assert_bits(y->data, expected, y->data->size);
        at += y->data->size;
        free(expected);
        dz_scope_end();
    }
    ck_assert_int_eq(at, COUNT(golden_sum_y));
}
END_TEST

START_TEST(test_mse_matches_pytorch)
{
    for (int64_t k = 0; k < COUNT(golden_mse_sizes); k++) {
        int64_t n = golden_mse_sizes[k];
        dz_scope_begin();
        dz_variable *loss = dz_mean_squared_error(hashed_var(1, DZ_SHAPE(n), 5, 1.0f, true),
                                                  hashed_var(1, DZ_SHAPE(n), 6, 1.0f, true));
        float got = (float)dz_array_get(loss->data, 0);
        ck_assert_msg(tc_bits_of(got) == golden_mse_loss[k], "n = %lld: %a, PyTorch %a", (long long)n,
                      (double)got, (double)float_of(golden_mse_loss[k]));
        dz_scope_end();
    }
}
END_TEST

/* Trains y = tanh(x @ W + b) on MSE(y, t) from the generator's start. */
static void check_trajectory(dz_optimizer *opt, const uint32_t *losses, const uint32_t *W_bits, const uint32_t *b_bits)
{
    dz_scope_begin();
    dz_variable *x = hashed_var(2, DZ_SHAPE(GOLDEN_N, GOLDEN_D), 1, 1.0f, true);
    dz_variable *t = hashed_var(2, DZ_SHAPE(GOLDEN_N, GOLDEN_H), 2, 1.0f, true);
    dz_variable *W = dz_scope_keep(hashed_var(2, DZ_SHAPE(GOLDEN_D, GOLDEN_H), 3, 0.5f, false));
    dz_variable *b = dz_scope_keep(hashed_var(1, DZ_SHAPE(GOLDEN_H), 4, 0.1f, false));
    dz_scope_keep(x);
    dz_scope_keep(t);
    dz_scope_end();
    dz_variable *params[2] = {W, b};
    ck_assert_int_eq(dz_optimizer_add_params(opt, 2, params), DZ_OK);
    for (int step = 0; step < GOLDEN_STEPS; step++) {
        dz_scope_begin();
        dz_variable *loss = dz_mean_squared_error(dz_tanh(dz_add(dz_matmul(x, W), b)), t);
        dz_variable_cleargrad(W);
        dz_variable_cleargrad(b);
        ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
        ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
        float got = (float)dz_array_get(loss->data, 0);
        ck_assert_msg(tc_bits_of(got) == losses[step], "step %d: loss %a, PyTorch %a", step, (double)got,
                      (double)float_of(losses[step]));
        dz_scope_end();
    }
    float *W_expected = floats_of(W_bits, GOLDEN_D * GOLDEN_H), *b_expected = floats_of(b_bits, GOLDEN_H);
    tc_assert_bits(W->data, W_expected, GOLDEN_D * GOLDEN_H);
    tc_assert_bits(b->data, b_expected, GOLDEN_H);
    free(W_expected);
    free(b_expected);
    dz_optimizer_free(opt);
    dz_variable_release(x);
    dz_variable_release(t);
    dz_variable_release(W);
    dz_variable_release(b);
}

START_TEST(test_sgd_trajectory)
{
    dz_sgd_config c = dz_sgd_defaults();
    c.lr = 0.1;
    check_trajectory(dz_sgd_new(&c), golden_sgd_losses, golden_sgd_W, golden_sgd_b);
}
END_TEST

START_TEST(test_adam_trajectory)
{
    dz_adam_config c = dz_adam_defaults();
    c.lr = 0.01;
    check_trajectory(dz_adam_new(&c), golden_adam_losses, golden_adam_W, golden_adam_b);
}
END_TEST

/* Why x @ W may not have the fixtures' bits here, or NULL when it has. */
static const char *gemm_mismatch(void)
{
#ifdef DZ_HAVE_CBLAS
    const char *core = openblas_get_corename();
    return strcmp(core, "Haswell") == 0 || strcmp(core, "Zen") == 0
               ? NULL
               : "OpenBLAS runs another sgemm kernel than the fixtures' Haswell one";
#else
    return "the library is built without OpenBLAS, whose sgemm made the fixtures";
#endif
}

static Suite *trajectory_suite(bool training)
{
    Suite *s = suite_create("trajectory");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tanh_matches_pytorch);
    tcase_add_test(tc, test_tanh_grad_matches_pytorch);
    tcase_add_test(tc, test_sum_matches_pytorch);
    tcase_add_test(tc, test_mse_matches_pytorch);
    if (training) {
        tcase_add_test(tc, test_sgd_trajectory);
        tcase_add_test(tc, test_adam_trajectory);
    }
    suite_add_tcase(s, tc);
    return s;
}

/* One thread, as the fixtures' PyTorch (our results do not depend on it). */
int main(void)
{
    dz_set_num_threads(1);
    const char *mismatch = gemm_mismatch();
    int rc = tc_run(trajectory_suite(mismatch == NULL));
    if (rc == EXIT_SUCCESS && mismatch) {
        printf("skipped: the training runs, as %s\n", mismatch);
        return 77;
    }
    return rc;
}

/* Helpers shared by the Check suites. */
#include "test_common.h"

#include <math.h>
#include <stdlib.h>

#include "backend/backend.h"

bool tc_fused_off;

/* DZ_TEST_FUSED=0 switches the CPU backend's fused kernels off before the
 * suite starts, so every op runs its composite of primitives. */
__attribute__((constructor)) static void tc_setup_backend(void)
{
    const char *fused = getenv("DZ_TEST_FUSED");
    if (fused && strcmp(fused, "0") == 0) {
        tc_fused_off = true;
        dz_backend_cpu_set_fused(false);
    }
}

dz_variable *tc_var(dz_dtype dtype, int ndim, const int64_t *shape, const double *values)
{
    dz_array *a = dz_array_from_buffer(DZ_F64, ndim, shape, values);
    dz_array *b = dz_array_astype(a, dtype);
    dz_array_release(a);
    return dz_variable_new(b, NULL);
}

dz_variable *tc_randn(uint64_t seed, int ndim, const int64_t *shape)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    return dz_variable_new(dz_array_normal(&rng, DZ_F64, ndim, shape, 0, 1), NULL);
}

dz_variable *tc_f32(int ndim, const int64_t *shape, const float *values)
{
    return dz_variable_new(dz_array_from_buffer(DZ_F32, ndim, shape, values), NULL);
}

dz_variable *tc_i64(int ndim, const int64_t *shape, const int64_t *values)
{
    return dz_variable_new(dz_array_from_buffer(DZ_I64, ndim, shape, values), NULL);
}

uint32_t tc_bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

void tc_assert_bits(const dz_array *a, const float *expected, int64_t n)
{
    ck_assert_int_eq(a->dtype, DZ_F32);
    ck_assert_int_eq(a->size, n);
    const float *v = a->data;
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(tc_fused_off ? tc_close_float(v[i], expected[i]) : tc_bits_of(v[i]) == tc_bits_of(expected[i]),
                      "element %lld: got %.9g (%08x), expected %.9g (%08x)", (long long)i, v[i], tc_bits_of(v[i]),
                      expected[i], tc_bits_of(expected[i]));
}

bool tc_close_float(double got, double expected)
{
    if (isnan(expected))
        return isnan(got);
    return got == expected || fabs(got - expected) <= TC_COMPOSITE_RTOL * fmax(1.0, fabs(expected));
}

double tc_at(const dz_variable *v, int64_t i) { return dz_array_get(v->data, i); }

double tc_grad_at(const dz_variable *v, int64_t i)
{
    ck_assert_msg(v->grad != NULL, "variable has no grad");
    return dz_array_get(v->grad->data, i);
}

void tc_assert_values(const dz_array *a, const double *expected, int64_t n, double tol)
{
    ck_assert_int_eq(a->size, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(dz_array_get(a, i) - expected[i]) <= tol, "element %lld: got %.10g, expected %.10g",
                      (long long)i, dz_array_get(a, i), expected[i]);
}

void tc_assert_close(const dz_array *a, const double *expected, int64_t n, double rtol)
{
    ck_assert_int_eq(a->size, n);
    for (int64_t i = 0; i < n; i++) {
        double got = dz_array_get(a, i);
        ck_assert_msg(fabs(got - expected[i]) <= rtol * fmax(1.0, fabs(expected[i])),
                      "element %lld: got %.9g, expected %.9g", (long long)i, got, expected[i]);
    }
}

void tc_assert_gradient(dz_checked_fn f, void *ctx, int n, dz_variable *const *inputs)
{
    dz_status st = dz_gradient_check(f, ctx, n, inputs, NULL);
    ck_assert_msg(st == DZ_OK, "%s", dz_last_error());
}

typedef struct {
    dz_checked_fn f;
    void *ctx;
    int n;
} double_ctx;

/* grad of sum(f) w.r.t. input 0, recorded so it can be differentiated. */
static dz_variable *grad_of(dz_variable *const *inputs, void *vctx)
{
    double_ctx *c = vctx;
    bool was = dz_set_enable_backprop(true); /* the first derivative needs a graph */
    dz_variable *y = c->f(inputs, c->ctx);
    /* sum(y^2): a non-uniform seed makes the second derivative non-trivial */
    dz_variable *seed = y ? dz_mul(y, y) : NULL;
    dz_set_enable_backprop(was);
    if (!seed)
        return NULL;
    for (int i = 0; i < c->n; i++)
        dz_variable_cleargrad(inputs[i]);
    dz_variable_backward(seed, false, true);
    dz_variable *g = dz_variable_retain(inputs[0]->grad);
    for (int i = 0; i < c->n; i++) /* grads from this pass must not leak into the check */
        dz_variable_cleargrad(inputs[i]);
    return g ? dz_autorelease(g) : NULL;
}

void tc_assert_double_gradient(dz_checked_fn f, void *ctx, int n, dz_variable *const *inputs)
{
    double_ctx c = {f, ctx, n};
    dz_status st = dz_gradient_check(grad_of, &c, n, inputs, NULL);
    ck_assert_msg(st == DZ_OK, "double backward: %s", dz_last_error());
}

static dz_error_handler saved;

/* Each test starts with no error recorded: a NULL operand keeps the error
 * recorded before it (error.h), which may be a previous test's. */
void tc_errors_off(void)
{
    dz_clear_error();
    saved = dz_set_error_handler_off();
}
void tc_errors_on(void) { dz_set_error_handler(saved); }

int tc_no_cuda_device(void)
{
    const char *expect = getenv("DZ_EXPECT_CUDA");
    dz_set_error_handler_off();
    dz_array *probe = dz_array_zeros(DZ_F32, 0, NULL);
    dz_array *moved = dz_array_to_device(probe, DZ_CUDA);
    const char *reason = moved ? "none" : dz_last_error();
    dz_array_release(probe);
    dz_array_release(moved);
    if (expect && strcmp(expect, "1") == 0) {
        printf("FAIL: this build's CUDA module should serve, but: %s\n", reason);
        return 1;
    }
    printf("SKIP: %s\n", reason);
    return 77;
}

int tc_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

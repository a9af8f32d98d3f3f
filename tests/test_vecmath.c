/* Vectorizable float math (src/backend/cpu/cpu_vecmath.h): error in ulps
 * against the double libm over a dense, deterministic sample of all float bit
 * patterns, or over all of them with DZ_VECMATH_EXHAUSTIVE=1 in the
 * environment (a few minutes; the bounds in the header and below come from
 * such a run); the share of correctly rounded results; the error at the worst
 * input that run found, which must still be the documented one; special
 * values; and the far-argument patch for sin / cos. The functions run inside
 * loops built like the backend's, so the vectorized code is the code tested. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/backend/cpu/cpu_clones.h"
#include "../src/backend/cpu/cpu_vecmath.h"
#include "test_common.h"

#define VECTOR_LOOP(NAME, FN)                                                                      \
    DZ_FMA_CLONES static void NAME(const float *restrict x, float *restrict y, int64_t n)          \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = FN(x[i]);                                                                       \
    }

VECTOR_LOOP(exp_loop, dz_vexpf)
VECTOR_LOOP(log_loop, dz_vlogf)
VECTOR_LOOP(tanh_loop, dz_vtanhf)
VECTOR_LOOP(sigmoid_loop, dz_vsigmoidf)
VECTOR_LOOP(cos_loop, dz_vcosf)

/* The pattern the header documents: lanes beyond DZ_VTRIG_LIMIT redone by libm. */
DZ_FMA_CLONES static void sin_loop(const float *restrict x, float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = dz_vsinf(x[i]);
    uint32_t far = 0;
    for (int64_t i = 0; i < n; i++)
        far |= dz_vtrig_far(x[i]);
    for (int64_t i = 0; far && i < n; i++)
        if (dz_vtrig_far(x[i]))
            y[i] = sinf(x[i]);
}

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef void (*vector_loop)(const float *restrict, float *restrict, int64_t);

typedef struct {
    const char *name;
    vector_loop loop;
    double (*ref)(double);
    float limit;        /* inputs with larger magnitude are not sampled */
    double max_ulp;     /* the largest error over all inputs (the header's bound) */
    float worst;        /* the input where it occurs */
    double min_correct; /* least share of correctly rounded results */
} vm_case;

static const vm_case cases[] = {
    {"exp", exp_loop, exp, INFINITY, 0.764136, -0x1.5e8f98p+6f, 0.999},
    {"log", log_loop, log, INFINITY, 0.551808, 0x1.69bdbep+0f, 0.9999},
    {"tanh", tanh_loop, tanh, INFINITY, 1.000000021, 0x1.3b2c66p-24f, 0.999},
    {"sigmoid", sigmoid_loop, sigmoid_ref, INFINITY, 0.764136, -0x1.5e8f98p+6f, 0.9995},
    {"sin", sin_loop, sin, DZ_VTRIG_LIMIT, 0.726599, 0x1.ef841ap+1f, 0.997},
    {"cos", cos_loop, cos, DZ_VTRIG_LIMIT, 0.722707, 0x1.fe989ap+7f, 0.997},
};

/* |y - r| in units of the float ulp at r (r exact to double precision);
 * infinities and NaN must match exactly (0 or HUGE_VAL). */
static double ulp_error(float y, double r)
{
    if (isnan(r) || isinf((float)r) || isinf(y))
        return (isnan(r) && isnan(y)) || y == (float)r ? 0.0 : HUGE_VAL;
    int e;
    frexp(r, &e); /* |r| in [2^(e-1), 2^e) */
    return fabs((double)y - r) / fmax(ldexp(1.0, e - 24), 0x1p-149);
}

/* Bit-identical, or both NaN. */
static int same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || tc_bits_of(a) == tc_bits_of(b);
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Every STRIDE-th bit pattern from an odd start (every one in the exhaustive
 * mode): both signs, zeros' and infinities' neighbourhoods, subnormals and
 * NaNs all get samples. */
enum { STRIDE = 257, BLOCK = 4096 };

static void check_sampled(const vm_case *c)
{
    const char *mode = getenv("DZ_VECMATH_EXHAUSTIVE");
    bool exhaustive = mode && strcmp(mode, "1") == 0;
    uint64_t stride = exhaustive ? 1 : STRIDE;
    float *x = malloc(BLOCK * sizeof *x), *y = malloc(BLOCK * sizeof *y);
    ck_assert(x && y);
    double worst = 0.0;
    float worst_x = 0.0f;
    int64_t correct = 0, total = 0;
    uint64_t u = exhaustive ? 0 : 7;
    while (u < (1ull << 32)) {
        int64_t n = 0;
        for (; n < BLOCK && u < (1ull << 32); u += stride)
            if (!(fabsf(float_of((uint32_t)u)) > c->limit))
                x[n++] = float_of((uint32_t)u);
        c->loop(x, y, n);
        for (int64_t i = 0; i < n; i++) {
            double r = c->ref(x[i]), err = ulp_error(y[i], r);
            if (err > worst) {
                worst = err;
                worst_x = x[i];
            }
            correct += same_float(y[i], (float)r);
        }
        total += n;
    }
    free(x);
    free(y);
    printf("%s: max %.6f ulp at %a over %lld inputs, %lld not correctly rounded\n", c->name, worst,
           (double)worst_x, (long long)total, (long long)(total - correct));
    ck_assert_msg(worst <= c->max_ulp, "%s: %.6f ulp at x = %a, over the %.6f proved", c->name, worst,
                  (double)worst_x, c->max_ulp);
    ck_assert_msg((double)correct >= c->min_correct * (double)total,
                  "%s: %lld of %lld correctly rounded", c->name, (long long)correct, (long long)total);
}

START_TEST(test_sampled_accuracy)
{
    check_sampled(&cases[_i]);
}
END_TEST

/* The worst input of the exhaustive run still has the documented error: the
 * bound belongs to this code. */
START_TEST(test_worst_input)
{
    const vm_case *c = &cases[_i];
    float y;
    c->loop(&c->worst, &y, 1);
    double err = ulp_error(y, c->ref(c->worst));
    ck_assert_msg(fabs(err - c->max_ulp) < 1e-6, "%s(%a): %.6f ulp, documented %.6f", c->name,
                  (double)c->worst, err, c->max_ulp);
}
END_TEST

/* f(x) must be bit-identical to expected, or both NaN. */
static void expect(vector_loop loop, const char *name, float x, float expected)
{
    float y;
    loop(&x, &y, 1);
    ck_assert_msg(same_float(y, expected), "%s(%a) = %a, expected %a", name, (double)x, (double)y,
                  (double)expected);
}

START_TEST(test_special_values)
{
    const float denorm_min = 0x1p-149f, nan = NAN;
    expect(exp_loop, "exp", INFINITY, INFINITY);
    expect(exp_loop, "exp", -INFINITY, 0.0f);
    expect(exp_loop, "exp", nan, nan);
    expect(exp_loop, "exp", -0.0f, 1.0f);
    expect(exp_loop, "exp", 0x1.62e42ep6f, 0x1.ffff08p127f); /* largest finite result */
    expect(exp_loop, "exp", 0x1.62e430p6f, INFINITY);
    expect(exp_loop, "exp", -0x1.9fe368p6f, denorm_min); /* last nonzero result */
    expect(exp_loop, "exp", -0x1.9fe36ap6f, 0.0f);
    expect(exp_loop, "exp", -100.0f, 0x1.bp-145f);      /* a subnormal, correctly rounded */
    expect(log_loop, "log", 0.0f, -INFINITY);
    expect(log_loop, "log", -0.0f, -INFINITY);
    expect(log_loop, "log", -denorm_min, nan);
    expect(log_loop, "log", -1.0f, nan);
    expect(log_loop, "log", -INFINITY, nan);
    expect(log_loop, "log", INFINITY, INFINITY);
    expect(log_loop, "log", nan, nan);
    expect(log_loop, "log", 1.0f, 0.0f);
    expect(log_loop, "log", denorm_min, -0x1.9d1da0p6f);
    expect(log_loop, "log", FLT_MAX, 0x1.62e430p6f);
    expect(tanh_loop, "tanh", INFINITY, 1.0f);
    expect(tanh_loop, "tanh", -INFINITY, -1.0f);
    expect(tanh_loop, "tanh", 0.0f, 0.0f);
    expect(tanh_loop, "tanh", -0.0f, -0.0f);
    expect(tanh_loop, "tanh", -denorm_min, -denorm_min);
    expect(tanh_loop, "tanh", 0x1p-13f, 0x1p-13f);
    expect(tanh_loop, "tanh", 10.0f, 1.0f);
    expect(tanh_loop, "tanh", nan, nan);
    expect(sigmoid_loop, "sigmoid", INFINITY, 1.0f);
    expect(sigmoid_loop, "sigmoid", -INFINITY, 0.0f);
    expect(sigmoid_loop, "sigmoid", -0.0f, 0.5f);
    expect(sigmoid_loop, "sigmoid", -104.0f, 0.0f);
    expect(sigmoid_loop, "sigmoid", nan, nan);
    expect(sin_loop, "sin", INFINITY, nan);
    expect(sin_loop, "sin", -INFINITY, nan);
    expect(sin_loop, "sin", nan, nan);
    expect(sin_loop, "sin", -0.0f, -0.0f);
    expect(sin_loop, "sin", -denorm_min, -denorm_min);
    expect(cos_loop, "cos", INFINITY, nan);
    expect(cos_loop, "cos", nan, nan);
    expect(cos_loop, "cos", -0.0f, 1.0f);
}
END_TEST

/* Far arguments: NaN from dz_vsinf / dz_vcosf, libm's value after the patch. */
START_TEST(test_far_arguments)
{
    const float far[] = {0x1.000002p17f, 1e10f, -3e38f, FLT_MAX};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        ck_assert(dz_vtrig_far(far[i]) == 0xffffffffu);
        ck_assert(isnan(dz_vsinf(far[i])) && isnan(dz_vcosf(far[i])));
        expect(sin_loop, "sin", far[i], sinf(far[i]));
    }
    ck_assert(dz_vtrig_far(DZ_VTRIG_LIMIT) == 0);
    ck_assert(dz_vtrig_far(-DZ_VTRIG_LIMIT) == 0);
    ck_assert(dz_vsinf(DZ_VTRIG_LIMIT) == sinf(DZ_VTRIG_LIMIT));
}
END_TEST

static Suite *vecmath_suite(void)
{
    Suite *s = suite_create("vecmath");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sampled_accuracy, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, test_worst_input, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_special_values);
    tcase_add_test(tc, test_far_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tc_run(vecmath_suite());
}

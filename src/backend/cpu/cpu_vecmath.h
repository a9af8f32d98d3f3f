/* Vectorizable float32 transcendental functions for the CPU loops: exp, log,
 * tanh, sigmoid, sin and cos.
 *
 * Each is a static inline, branch-free body (no calls, no tables, selections
 * on bits) that evaluates in double precision and rounds once to float, so
 * that GCC vectorizes a plain loop calling it (AVX2: 8 floats an iteration,
 * the double work in two halves). The polynomials are minimax fits; the
 * constants come from tests/fixtures/fit_vecmath.py. Error over all 2^32
 * inputs against the correctly rounded result (tests/test_vecmath.c checks
 * every 1021st):
 *
 *   dz_vexpf      <= 0.500001 ulp, all but 23 inputs correctly rounded
 *   dz_vlogf      <= 0.500001 ulp, all but 2 inputs correctly rounded
 *   dz_vtanhf     <= 0.500002 ulp, all but 60 inputs correctly rounded
 *   dz_vsigmoidf  <= 0.500001 ulp, all but 11 inputs correctly rounded
 *   dz_vsinf      every |x| <= 2^23 correctly rounded
 *   dz_vcosf      every |x| <= 2^23 correctly rounded
 *
 * Special values follow C99: exp overflows to +inf and underflows through the
 * subnormals to +0, log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
 * tanh(+-inf) = +-1, tanh and sin keep the sign of zero, sin and cos of +-inf
 * are NaN, NaN gives NaN. Subnormal inputs and outputs are exact, not flushed.
 *
 * A loop vectorizes in the backend's form, built at -O3 (GCC 12's -O2 cost
 * model vectorizes no loop of unknown length):
 *
 *     VECTOR_CLONES static void tanh_f32(const float *restrict x, float *restrict y, int64_t n)
 *     {
 *         for (int64_t i = 0; i < n; i++) // x, y: (n,)
 *             y[i] = dz_vtanhf(x[i]);
 *     }
 *
 * with VECTOR_CLONES __attribute__((target_clones("avx2", "default"))) as in
 * cpu_nn.c. The body may hold more arithmetic, but no branch and no ?: on
 * floats (select on masks as below). No fma() is used: outside an FMA target
 * it is a library call, which stops vectorization.
 *
 * sin and cos reduce by Cody-Waite only, accurate for |x| <= DZ_VTRIG_LIMIT;
 * beyond it they return NaN, and the caller patches those elements with libm:
 *
 *     uint32_t far = 0;
 *     for (int64_t i = 0; i < n; i++) {
 *         y[i] = dz_vsinf(x[i]);
 *         far |= dz_vtrig_far(x[i]);
 *     }
 *     for (int64_t i = 0; far && i < n; i++)
 *         if (dz_vtrig_far(x[i]))
 *             y[i] = sinf(x[i]);
 */
#ifndef DZ_CPU_VECMATH_H
#define DZ_CPU_VECMATH_H

#include <stdint.h>
#include <string.h>

/* ---- bits ---------------------------------------------------------------- */

static inline uint32_t dz_vm_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float dz_vm_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint64_t dz_vm_double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double dz_vm_bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* b where mask is all ones, a where it is zero. */
static inline float dz_vm_select_float(float a, float b, uint32_t mask)
{
    return dz_vm_bits_float((dz_vm_float_bits(a) & ~mask) | (dz_vm_float_bits(b) & mask));
}

static inline double dz_vm_select_double(double a, double b, uint64_t mask)
{
    return dz_vm_bits_double((dz_vm_double_bits(a) & ~mask) | (dz_vm_double_bits(b) & mask));
}

/* x limited to [lo, hi]; NaN stays NaN. Selections on masks, as ?: turns
 * into branches the vectorizer cannot if-convert; in float, before widening,
 * where the masks are half as wide. */
static inline float dz_vm_clamp(float x, float lo, float hi)
{
    x = dz_vm_select_float(x, lo, 0u - (uint32_t)(x < lo));
    return dz_vm_select_float(x, hi, 0u - (uint32_t)(x > hi));
}

/* Adding 1.5 * 2^52 to |v| < 2^51 rounds v to an integer k, held in the low
 * bits of the sum. */
#define DZ_VM_SHIFT 0x1.8p52

/* ---- e^x - 1 ---------------------------------------------------------------
 * e^x = 2^k (1 + q) with k = round(x / ln2), r = x - k ln2 (Cody-Waite: k
 * ln2_0 is exact for |k| < 2^8 and x of a float's 24 bits, so the first
 * subtraction is exact), |r| <= ln2 / 2, and q = e^r - 1 = r + r^2 P(r), P a
 * degree-7 minimax fit (relative error 1e-12), so q is within 2^-42 |q|. */
#define DZ_VM_LOG2E 0x1.71547652b82fep+0
#define DZ_VM_LN2 0x1.62e42fefa39efp-1
#define DZ_VM_LN2_0 0x1.62e42fefa3900p-1
#define DZ_VM_LN2_1 0x1.de6af278ece60p-46
#define DZ_VM_EXP_P0 0x1.fffffffffde0ap-2
#define DZ_VM_EXP_P1 0x1.555555555c2d4p-3
#define DZ_VM_EXP_P2 0x1.55555566b5364p-5
#define DZ_VM_EXP_P3 0x1.111110f9d8b97p-7
#define DZ_VM_EXP_P4 0x1.6c1668a3ef14dp-10
#define DZ_VM_EXP_P5 0x1.a01a39b3ee325p-13
#define DZ_VM_EXP_P6 0x1.a13c1e84d23a3p-16
#define DZ_VM_EXP_P7 0x1.722471ee5bb14p-19

/* q = e^r - 1 for |x| <= 160 with at most 24 significant bits; *scale = 2^k. */
static inline double dz_vm_expm1_parts(double x, double *scale)
{
    double t = x * DZ_VM_LOG2E + DZ_VM_SHIFT;
    double k = t - DZ_VM_SHIFT;
    *scale = dz_vm_bits_double((dz_vm_double_bits(t) + 1023) << 52);
    double r = (x - k * DZ_VM_LN2_0) - k * DZ_VM_LN2_1;
    double p = DZ_VM_EXP_P7;
    p = p * r + DZ_VM_EXP_P6;
    p = p * r + DZ_VM_EXP_P5;
    p = p * r + DZ_VM_EXP_P4;
    p = p * r + DZ_VM_EXP_P3;
    p = p * r + DZ_VM_EXP_P2;
    p = p * r + DZ_VM_EXP_P1;
    p = p * r + DZ_VM_EXP_P0;
    return r + r * r * p;
}

/* e^x. Below -110 the result rounds to 0 and above 100 to inf in float, so x
 * is clamped there and the double result needs no scaling care. */
static inline float dz_vexpf(float x)
{
    double scale, q = dz_vm_expm1_parts(dz_vm_clamp(x, -110.0f, 100.0f), &scale);
    return (float)(scale + scale * q);
}

/* 1 / (1 + e^-x). */
static inline float dz_vsigmoidf(float x)
{
    double scale, q = dz_vm_expm1_parts(-(double)dz_vm_clamp(x, -110.0f, 110.0f), &scale);
    return (float)(1.0 / (1.0 + (scale + scale * q)));
}

/* tanh |x| = E / (E + 2) with E = e^(2|x|) - 1 = 2^k q + (2^k - 1), which
 * keeps its relative accuracy for small |x| (k = 0: E = q); the sign is put
 * back on the bits. tanh rounds to 1 above 9.01, so |x| is clamped at 10. */
static inline float dz_vtanhf(float x)
{
    uint32_t sign = dz_vm_float_bits(x) & 0x80000000u;
    float a = dz_vm_bits_float(dz_vm_float_bits(x) ^ sign);
    a = dz_vm_select_float(a, 10.0f, 0u - (uint32_t)(a > 10.0f));
    double scale, q = dz_vm_expm1_parts(2.0 * (double)a, &scale);
    double e = scale * q + (scale - 1.0);
    float t = (float)(e / (e + 2.0));
    return dz_vm_bits_float(dz_vm_float_bits(t) | sign);
}

/* ---- log -------------------------------------------------------------------
 * x = 2^k m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^23 first),
 * f = m - 1 (exact in double), log(1 + f) = 2 atanh(s) = 2s + 2s z Q(z) with
 * s = f / (2 + f), |s| <= 3 - 2 sqrt(2), z = s^2, Q a degree-5 minimax fit of
 * relative error 7e-14; log x = k ln2 + log(1 + f). */
#define DZ_VM_SQRT_HALF_BITS 0x3f3504f3u /* sqrt(1/2) rounded to float */
#define DZ_VM_LOG_Q0 0x1.55555555553b6p-2
#define DZ_VM_LOG_Q1 0x1.9999999b882e4p-3
#define DZ_VM_LOG_Q2 0x1.249246291a6dap-3
#define DZ_VM_LOG_Q3 0x1.c71fce4557591p-4
#define DZ_VM_LOG_Q4 0x1.7382a36ff231bp-4
#define DZ_VM_LOG_Q5 0x1.546d439b5336cp-4

static inline float dz_vlogf(float x)
{
    uint32_t u = dz_vm_float_bits(x);
    uint32_t tiny = 0u - (uint32_t)(u < 0x00800000u); /* +0 and positive subnormals */
    uint32_t v = dz_vm_float_bits(dz_vm_select_float(x, x * 0x1p23f, tiny)) - DZ_VM_SQRT_HALF_BITS;
    int32_t k = ((int32_t)v >> 23) - (int32_t)(tiny & 23u);
    double f = (double)dz_vm_bits_float((v & 0x007fffffu) + DZ_VM_SQRT_HALF_BITS) - 1.0;
    double s = f / (2.0 + f), z = s * s;
    double q = DZ_VM_LOG_Q5;
    q = q * z + DZ_VM_LOG_Q4;
    q = q * z + DZ_VM_LOG_Q3;
    q = q * z + DZ_VM_LOG_Q2;
    q = q * z + DZ_VM_LOG_Q1;
    q = q * z + DZ_VM_LOG_Q0;
    float y = (float)((double)k * DZ_VM_LN2 + (2.0 * s + 2.0 * s * z * q));
    uint32_t zero = 0u - (uint32_t)((u & 0x7fffffffu) == 0);
    uint32_t negative = 0u - (uint32_t)(u > 0x80000000u);
    uint32_t inf_nan = 0u - (uint32_t)(u - 0x7f800000u < 0x00800000u);
    y = dz_vm_select_float(y, x + x, inf_nan);
    y = dz_vm_select_float(y, dz_vm_bits_float(0xff800000u), zero);
    return dz_vm_select_float(y, dz_vm_bits_float(0x7fc00000u), negative);
}

/* ---- sin, cos --------------------------------------------------------------
 * x = k pi/2 + r, |r| <= pi/4, by Cody-Waite with three parts of pi/2 (113
 * bits in all): the first two have 30 bits, so k pio2_0 and k pio2_1 are
 * exact for |k| < 2^23, and x - k pio2_0 is exact. The parts are positive so
 * that r keeps the sign of a zero x. Then sin r = r (1 + z S(z)) and cos r =
 * 1 - z/2 + z^2 C(z), z = r^2, S and C degree-5 minimax fits (relative error
 * 2e-16), and the quadrant k mod 4 picks one and the sign. */
#define DZ_VTRIG_LIMIT 0x1p23f
#define DZ_VM_2_PI 0x1.45f306dc9c883p-1
#define DZ_VM_PIO2_0 0x1.921fb54000000p+0
#define DZ_VM_PIO2_1 0x1.10b4611800000p-30
#define DZ_VM_PIO2_2 0x1.313198a2e0370p-61
#define DZ_VM_SIN_S0 -0x1.5555555555555p-3
#define DZ_VM_SIN_S1 0x1.1111111110b97p-7
#define DZ_VM_SIN_S2 -0x1.a01a019e7d9cbp-13
#define DZ_VM_SIN_S3 0x1.71de378f27904p-19
#define DZ_VM_SIN_S4 -0x1.ae6003b1ca051p-26
#define DZ_VM_SIN_S5 0x1.5e08934efdac4p-33
#define DZ_VM_COS_C0 0x1.5555555555555p-5
#define DZ_VM_COS_C1 -0x1.6c16c16c1695bp-10
#define DZ_VM_COS_C2 0x1.a01a019f4c26ap-16
#define DZ_VM_COS_C3 -0x1.27e4fa14b6d11p-22
#define DZ_VM_COS_C4 0x1.1eeb65c3d1c0cp-29
#define DZ_VM_COS_C5 -0x1.907b7169918fap-37

/* All ones where |x| > DZ_VTRIG_LIMIT or x is NaN: the elements dz_vsinf
 * and dz_vcosf leave as NaN, to redo with sinf / cosf. */
static inline uint32_t dz_vtrig_far(float x)
{
    return 0u - (uint32_t)((dz_vm_float_bits(x) & 0x7fffffffu) > dz_vm_float_bits(DZ_VTRIG_LIMIT));
}

/* sin(x + quadrant pi/2). */
static inline float dz_vm_sin_quadrant(float x, uint64_t quadrant)
{
    double xd = x;
    double t = xd * DZ_VM_2_PI + DZ_VM_SHIFT;
    double k = t - DZ_VM_SHIFT;
    uint64_t n = dz_vm_double_bits(t) + quadrant;
    double r = ((xd - k * DZ_VM_PIO2_0) - k * DZ_VM_PIO2_1) - k * DZ_VM_PIO2_2;
    double z = r * r;
    double s = DZ_VM_SIN_S5;
    s = s * z + DZ_VM_SIN_S4;
    s = s * z + DZ_VM_SIN_S3;
    s = s * z + DZ_VM_SIN_S2;
    s = s * z + DZ_VM_SIN_S1;
    s = s * z + DZ_VM_SIN_S0;
    s = r * (1.0 + z * s); /* r last: sin(-0) = -0 */
    double c = DZ_VM_COS_C5;
    c = c * z + DZ_VM_COS_C4;
    c = c * z + DZ_VM_COS_C3;
    c = c * z + DZ_VM_COS_C2;
    c = c * z + DZ_VM_COS_C1;
    c = c * z + DZ_VM_COS_C0;
    c = (1.0 - 0.5 * z) + z * z * c;
    double v = dz_vm_select_double(s, c, 0u - (n & 1u));
    float y = (float)dz_vm_bits_double(dz_vm_double_bits(v) ^ ((n & 2u) << 62));
    return dz_vm_select_float(y, dz_vm_bits_float(0x7fc00000u), dz_vtrig_far(x));
}

static inline float dz_vsinf(float x)
{
    return dz_vm_sin_quadrant(x, 0);
}

static inline float dz_vcosf(float x)
{
    return dz_vm_sin_quadrant(x, 1);
}

#endif

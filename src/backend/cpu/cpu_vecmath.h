/* Vectorizable float32 transcendental functions for the CPU loops: exp, log,
 * tanh, sigmoid, sin and cos.
 *
 * Each is a static inline, branch-free body in float arithmetic (no calls, no
 * tables, selections on bits), so that GCC vectorizes a plain loop calling it
 * 8 floats an iteration under AVX2, the fmaf() calls becoming FMA
 * instructions. Where one rounding would cost too much accuracy, a value is
 * carried as an unevaluated sum hi + lo of two floats (exact sums and
 * products by the classic error-free transformations below), and only the
 * last addition rounds. The polynomials are minimax fits with float
 * coefficients; the constants come from tests/fixtures/fit_vecmath.py, but
 * tanh's, which are SLEEF's (see below). Error over all 2^32 inputs against
 * the exact result, in units in the last place of the float result, and the
 * share of correctly rounded results (tests/test_vecmath.c checks a dense
 * sample; its exhaustive mode checks them all; tanh's figures are the
 * sample's, 16.7 million inputs):
 *
 *   dz_vexpf      <= 0.764136 ulp  99.950%  (the largest where e^x is subnormal)
 *   dz_vlogf      <= 0.551808 ulp  99.995%
 *   dz_vtanhf     <= 1.000000 ulp  99.926%  (PyTorch's bits, not the nearest)
 *   dz_vsigmoidf  <= 0.764136 ulp  99.979%
 *   dz_vsinf      <= 0.726599 ulp  99.806%  for |x| <= DZ_VTRIG_LIMIT
 *   dz_vcosf      <= 0.722707 ulp  99.821%  for |x| <= DZ_VTRIG_LIMIT
 *
 * Special values follow C99: exp overflows to +inf and underflows through the
 * subnormals to +0, log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
 * tanh(+-inf) = +-1, tanh and sin keep the sign of zero, sin and cos of +-inf
 * are NaN, NaN gives NaN. Subnormal inputs and outputs are not flushed.
 *
 * A loop vectorizes in the backend's form, built at -O3 (GCC 12's -O2 cost
 * model vectorizes no loop of unknown length):
 *
 *     DZ_FMA_CLONES static void tanh_f32(const float *restrict x, float *restrict y, int64_t n)
 *     {
 *         for (int64_t i = 0; i < n; i++) // x, y: (n,)
 *             y[i] = dz_vtanhf(x[i]);
 *     }
 *
 * with DZ_FMA_CLONES from cpu_clones.h: the x86-64-v3 clone has FMA, so
 * fmaf() is one instruction; elsewhere it is a correctly rounded library
 * call, the same bits, but the loop no longer vectorizes. The body may hold
 * more arithmetic, but no branch and no ?: on floats (select on masks as
 * below), and a*b + c is never fused behind the code's back (ISO C), so the
 * error analysis holds for every build.
 *
 * sin and cos reduce by Cody-Waite only, accurate for |x| <= DZ_VTRIG_LIMIT;
 * beyond it they return NaN, and the caller patches those elements with libm:
 *
 *     for (int64_t i = 0; i < n; i++)
 *         y[i] = dz_vsinf(x[i]);
 *     uint32_t far = 0;
 *     for (int64_t i = 0; i < n; i++)
 *         far |= dz_vtrig_far(x[i]);
 *     for (int64_t i = 0; far && i < n; i++)
 *         if (dz_vtrig_far(x[i]))
 *             y[i] = sinf(x[i]);
 */
#ifndef DZ_CPU_VECMATH_H
#define DZ_CPU_VECMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The CUDA kernels include this header too (DZ_VM_FN then adds __host__
 * __device__), so float32 elementwise results are the same bits on the GPU. */
#ifndef DZ_VM_FN
#define DZ_VM_FN static inline
#endif

/* ---- bits ---------------------------------------------------------------- */

DZ_VM_FN uint32_t dz_vm_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

DZ_VM_FN float dz_vm_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* b where mask is all ones, a where it is zero. */
DZ_VM_FN float dz_vm_select_float(float a, float b, uint32_t mask)
{
    return dz_vm_bits_float((dz_vm_float_bits(a) & ~mask) | (dz_vm_float_bits(b) & mask));
}

/* All ones where the condition holds. */
DZ_VM_FN uint32_t dz_vm_mask(int condition)
{
    return 0u - (uint32_t)condition;
}

/* x limited to [lo, hi]; NaN stays NaN. Selections on masks, as ?: turns
 * into branches the vectorizer cannot if-convert. */
DZ_VM_FN float dz_vm_clamp(float x, float lo, float hi)
{
    x = dz_vm_select_float(x, lo, dz_vm_mask(x < lo));
    return dz_vm_select_float(x, hi, dz_vm_mask(x > hi));
}

/* 2^k for a float exponent, -126 <= k <= 127. */
DZ_VM_FN float dz_vm_pow2(int32_t k)
{
    return dz_vm_bits_float((uint32_t)(k + 127) << 23);
}

/* v 2^k for v in [1/4, 2] and -150 <= k <= 129 (the exponents of float
 * results and a little more), rounded once: 2^k is split into two normal
 * floats, and v times the first stays a normal float, so only the second
 * product rounds, to a subnormal or to inf where the result is one. (>> on a
 * negative int is an arithmetic shift in GCC and Clang.) */
DZ_VM_FN float dz_vm_scale(float v, int32_t k)
{
    int32_t half = k >> 1;
    return v * dz_vm_pow2(half) * dz_vm_pow2(k - half);
}

/* Adding 1.5 * 2^23 to |v| < 2^22 rounds v to an integer k, held in the low
 * bits of the sum. */
#define DZ_VM_SHIFT 0x1.8p23f

/* ---- sums of two floats ---------------------------------------------------
 * hi + lo = a + b exactly (Dekker's Fast2Sum, for |a| >= |b| or a = 0;
 * Knuth's 2Sum, for any a and b), and 1 / (hi + lo) to about 2^-45. */

DZ_VM_FN float dz_vm_fast_two_sum(float a, float b, float *lo)
{
    float hi = a + b;
    *lo = b - (hi - a);
    return hi;
}

DZ_VM_FN float dz_vm_two_sum(float a, float b, float *lo)
{
    float hi = a + b, a1 = hi - b, b1 = hi - a1;
    *lo = (a - a1) + (b - b1);
    return hi;
}

/* rh = 1 / hi rounded; 1 - rh hi is exact (FMA), and the rest is
 * 1 / (hi + lo) - rh = (1 - rh hi - rh lo) / (hi + lo), about
 * (1 - rh hi - rh lo) rh. */
DZ_VM_FN float dz_vm_reciprocal(float hi, float lo, float *result_lo)
{
    float rh = 1.0f / hi;
    *result_lo = rh * fmaf(-rh, lo, fmaf(-rh, hi, 1.0f));
    return rh;
}

/* ---- exp, sigmoid, tanh ----------------------------------------------------
 * e^x = 2^k e^r with k = round(x / ln2) and r = x - k ln2 = rh + rl, |r| <=
 * ln2 / 2: rh = x - k ln2_0 is exact (for k != 0, x and k ln2_0 are
 * multiples of 2^-25 and their difference, below 1/2, fits in a float; FMA
 * rounds only that difference) and rl = -k ln2_1 carries the rest of ln2. e^r = 1 + rh + rh^2 P(rh) + rl e^rh, P a
 * degree-5 fit of (e^r - 1 - r) / r^2: 1 + rh is split exactly into s + t
 * and the other terms join t, so e^r = s + t to about 2^-30. */
#define DZ_VM_LOG2E 0x1.715476p+0f
#define DZ_VM_LN2_0 0x1.62e430p-1f
#define DZ_VM_LN2_1 -0x1.05c610p-29f
#define DZ_VM_EXP_P0 0x1.000000p-1f
#define DZ_VM_EXP_P1 0x1.555556p-3f
#define DZ_VM_EXP_P2 0x1.55550cp-5f
#define DZ_VM_EXP_P3 0x1.111054p-7f
#define DZ_VM_EXP_P4 0x1.6d225ep-10f
#define DZ_VM_EXP_P5 0x1.a184c2p-13f

/* e^x = 2^k (s + t) for |x| <= 150, s in [0.70, 1.42] and |t| < 0.1;
 * returns s. */
DZ_VM_FN float dz_vm_exp_parts(float x, int32_t *k, float *t)
{
    float shifted = fmaf(x, DZ_VM_LOG2E, DZ_VM_SHIFT);
    float kf = shifted - DZ_VM_SHIFT;
    *k = (int32_t)(dz_vm_float_bits(shifted) - dz_vm_float_bits(DZ_VM_SHIFT));
    float rh = fmaf(-kf, DZ_VM_LN2_0, x);
    float rl = -kf * DZ_VM_LN2_1;
    float p = DZ_VM_EXP_P5;
    p = fmaf(p, rh, DZ_VM_EXP_P4);
    p = fmaf(p, rh, DZ_VM_EXP_P3);
    p = fmaf(p, rh, DZ_VM_EXP_P2);
    p = fmaf(p, rh, DZ_VM_EXP_P1);
    p = fmaf(p, rh, DZ_VM_EXP_P0);
    float c = rh * rh * p; /* e^rh - 1 - rh */
    float s = dz_vm_fast_two_sum(1.0f, rh, t);
    *t += c + fmaf(rl, rh + c, rl); /* + rl e^rh */
    return s;
}

/* e^x. Below -104 the result rounds to 0 and above 89 to inf, so x is
 * clamped there; 2^k (s + t) rounds once, in the last product of the scale,
 * also where the result is subnormal. */
DZ_VM_FN float dz_vexpf(float x)
{
    int32_t k;
    float t, s = dz_vm_exp_parts(dz_vm_clamp(x, -104.0f, 89.0f), &k, &t);
    return dz_vm_scale(s + t, k);
}

/* 1 / (1 + e^-x). With E = e^-|x| = 2^k (s + t) (|t| <= ulp(s) / 2 after a
 * Fast2Sum) and D = 1 + E = dh + dl (exact), sigmoid is 1 / D for x >= 0
 * and E / D below; 1 / D = rh + rl. Beyond |x| = 104 the result rounds to 1
 * or 0, so |x| is clamped there. */
DZ_VM_FN float dz_vsigmoidf(float x)
{
    float a = dz_vm_bits_float(dz_vm_float_bits(x) & 0x7fffffffu);
    int32_t k;
    float t, s = dz_vm_exp_parts(-dz_vm_clamp(a, 0.0f, 104.0f), &k, &t);
    s = dz_vm_fast_two_sum(s, t, &t);
    float dl, dh = dz_vm_fast_two_sum(1.0f, dz_vm_scale(s, k), &dl);
    dl += dz_vm_scale(t, k);
    float rl, rh = dz_vm_reciprocal(dh, dl, &rl);
    float ph = s * rh, pl = fmaf(s, rh, -ph) + fmaf(s, rl, t * rh); /* (s + t)(rh + rl) */
    float negative = dz_vm_scale(ph + pl, k);
    return dz_vm_select_float(rh + rl, negative, dz_vm_mask(dz_vm_float_bits(x) > 0x80000000u));
}

/* ---- tanh ------------------------------------------------------------------
 * PyTorch's float32 tanh on the CPU, to the bit: the algorithm and constants
 * of SLEEF 3.5's tanhf (u10), which PyTorch 1.13's vectorized kernels call,
 * in the FMA form of its AVX2 build. It is not correctly rounded (1 ulp off
 * on about 0.15% of inputs), but a model with tanh then trains to the same
 * bits as in PyTorch.
 *
 * d = e^a = dh + dl for a = |x|, to about 2^-45: a = k ln2 + s with s = sh +
 * sl carried by 2Sum through the two parts of ln2, e^s = 1 + s + s^2 (1/2 +
 * s (1/6 + s U(s))) in double-float arithmetic, times 2^k. Then tanh a =
 * (d - 1/d) / (d + 1/d), with 1/d, the sum, the difference and the quotient
 * in double-float, and the two parts of the quotient added last. Above
 * 8.664339742 the result is 1, so a is clamped at 9 first (no overflow on the
 * way); the sign of x is put back on the bits, and NaN stays NaN. */
#define DZ_VM_TANH_LOG2E 0x1.715476p+0f
#define DZ_VM_TANH_LN2_0 0x1.62e400p-1f
#define DZ_VM_TANH_LN2_1 0x1.7f7d1cp-20f
#define DZ_VM_TANH_U0 0x1.555554p-3f
#define DZ_VM_TANH_U1 0x1.5554b8p-5f
#define DZ_VM_TANH_U2 0x1.11121ap-7f
#define DZ_VM_TANH_U3 0x1.6d7ef8p-10f
#define DZ_VM_TANH_U4 0x1.9f6ffep-13f
#define DZ_VM_TANH_ONE_ABOVE 0x1.154246p+3f /* 8.664339742 */

/* Double-float arithmetic on values hi + lo, each result's high part
 * returned and its low part stored in *lo (out-parameters, as structs stop
 * the vectorizer). These helpers are called several times each, and
 * dz_vtanhf is long: too much for GCC's early inliner, and an out-parameter
 * of a call inlined late stays in memory, which stops the vectorizer too. So
 * they and dz_vtanhf are always inlined. */
#if defined(__GNUC__)
#define DZ_VM_ALWAYS_INLINE __attribute__((always_inline))
#else
#define DZ_VM_ALWAYS_INLINE
#endif

/* (xh + xl) + (yh + yl): 2Sum on the high parts, the low parts added to the
 * error. */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_pair_add(float xh, float xl, float yh, float yl, float *lo)
{
    float s = xh + yh, v = s - xh;
    *lo = ((xh - (s - v)) + (yh - v)) + (xl + yl);
    return s;
}

/* The same for |xh| >= |yh|: Fast2Sum, then the low parts one by one. */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_pair_add_ordered(float xh, float xl, float yh, float yl, float *lo)
{
    float s = xh + yh;
    *lo = (((xh - s) + yh) + xl) + yl;
    return s;
}

/* (xh + xl)(yh + yl), the error of the high product by FMA. */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_pair_mul(float xh, float xl, float yh, float yl, float *lo)
{
    float s = xh * yh;
    *lo = fmaf(xh, yl, fmaf(xl, yh, fmaf(xh, yh, -s)));
    return s;
}

/* (xh + xl) / (dh + dl): t = 1 / dh, s = xh t, and the residuals by FMA. */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_pair_div(float xh, float xl, float dh, float dl, float *lo)
{
    float t = 1.0f / dh, s = xh * t;
    float u = fmaf(t, xh, -s);
    float v = fmaf(-dl, t, fmaf(-dh, t, 1.0f));
    *lo = fmaf(s, v, fmaf(xl, t, u));
    return s;
}

/* 1 / (dh + dl). */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_pair_reciprocal(float dh, float dl, float *lo)
{
    float s = 1.0f / dh;
    *lo = s * fmaf(-dl, s, fmaf(-dh, s, 1.0f));
    return s;
}

/* e^a = hi + lo for 0 <= a <= 9; returns hi. */
DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vm_tanh_exp(float a, float *lo)
{
    float shifted = a * DZ_VM_TANH_LOG2E + DZ_VM_SHIFT;
    float kf = shifted - DZ_VM_SHIFT;
    int32_t k = (int32_t)(dz_vm_float_bits(shifted) - dz_vm_float_bits(DZ_VM_SHIFT)); /* 0..13 */
    float sl, sh = dz_vm_pair_add(a, 0.0f, kf * -DZ_VM_TANH_LN2_0, 0.0f, &sl);
    sh = dz_vm_pair_add(sh, sl, kf * -DZ_VM_TANH_LN2_1, 0.0f, &sl);
    float u = DZ_VM_TANH_U4;
    u = fmaf(u, sh, DZ_VM_TANH_U3);
    u = fmaf(u, sh, DZ_VM_TANH_U2);
    u = fmaf(u, sh, DZ_VM_TANH_U1);
    float pl, ph = dz_vm_pair_mul(sh, sl, u, 0.0f, &pl); /* s U(s) */
    float tl, th = dz_vm_pair_add(ph, pl, DZ_VM_TANH_U0, 0.0f, &tl);
    ph = dz_vm_pair_mul(sh, sl, th, tl, &pl);
    th = dz_vm_pair_add(ph, pl, 0.5f, 0.0f, &tl);
    float ql, qh = sh * sh; /* s^2 */
    ql = fmaf(sh + sh, sl, fmaf(sh, sh, -qh));
    ph = dz_vm_pair_mul(qh, ql, th, tl, &pl);
    th = dz_vm_pair_add(sh, sl, ph, pl, &tl);
    th = dz_vm_pair_add_ordered(1.0f, 0.0f, th, tl, &tl);
    int32_t half = k >> 1;
    float scale = dz_vm_pow2(half) * dz_vm_pow2(k - half);
    *lo = tl * scale;
    return th * scale;
}

DZ_VM_FN DZ_VM_ALWAYS_INLINE float dz_vtanhf(float x)
{
    uint32_t sign = dz_vm_float_bits(x) & 0x80000000u;
    float a = dz_vm_bits_float(dz_vm_float_bits(x) ^ sign);
    float dl, dh = dz_vm_tanh_exp(dz_vm_select_float(a, 9.0f, dz_vm_mask(a > 9.0f)), &dl);
    float el, eh = dz_vm_pair_reciprocal(dh, dl, &el);
    float nl, nh = dz_vm_pair_add_ordered(dh, dl, -eh, -el, &nl); /* d - 1/d */
    float ml, mh = dz_vm_pair_add_ordered(dh, dl, eh, el, &ml);   /* d + 1/d */
    float ql, qh = dz_vm_pair_div(nh, nl, mh, ml, &ql);
    float y = dz_vm_select_float(qh + ql, 1.0f, dz_vm_mask(a > DZ_VM_TANH_ONE_ABOVE));
    return dz_vm_bits_float(dz_vm_float_bits(y) | sign);
}

/* ---- log -------------------------------------------------------------------
 * x = 2^k m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^23 first),
 * f = m - 1 (exact) and log(1 + f) = 2 atanh(s) = 2s + s z Q(z) with s =
 * f / (2 + f), |s| <= 3 - 2 sqrt(2), z = s^2, Q a degree-3 fit. s is carried
 * as sh + sl (2 + f split exactly, the remainder f - sh (2 + f) by FMA), so
 * that only terms below 1% of the result round; log x = k ln2 + log(1 + f),
 * with k ln2_0 = ph + pl (exact) and ph + 2 sh split exactly. */
#define DZ_VM_SQRT_HALF_BITS 0x3f3504f3u /* sqrt(1/2) rounded to float */
#define DZ_VM_LOG_Q0 0x1.555556p-1f
#define DZ_VM_LOG_Q1 0x1.9996a6p-2f
#define DZ_VM_LOG_Q2 0x1.25805ep-2f
#define DZ_VM_LOG_Q3 0x1.aa9630p-3f

DZ_VM_FN float dz_vlogf(float x)
{
    uint32_t u = dz_vm_float_bits(x);
    uint32_t tiny = dz_vm_mask(u < 0x00800000u); /* +0 and positive subnormals */
    uint32_t v = dz_vm_float_bits(dz_vm_select_float(x, x * 0x1p23f, tiny)) - DZ_VM_SQRT_HALF_BITS;
    float kf = (float)(((int32_t)v >> 23) - (int32_t)(tiny & 23u));
    float f = dz_vm_bits_float((v & 0x007fffffu) + DZ_VM_SQRT_HALF_BITS) - 1.0f;
    float dl, dh = dz_vm_fast_two_sum(2.0f, f, &dl);
    float inverse = 1.0f / dh;
    float sh = f * inverse;
    float sl = (fmaf(-sh, dh, f) - sh * dl) * inverse;
    float z = sh * sh, q = DZ_VM_LOG_Q3;
    q = fmaf(q, z, DZ_VM_LOG_Q2);
    q = fmaf(q, z, DZ_VM_LOG_Q1);
    q = fmaf(q, z, DZ_VM_LOG_Q0);
    float ph = kf * DZ_VM_LN2_0, pl = fmaf(kf, DZ_VM_LN2_0, -ph);
    float lo, hi = dz_vm_fast_two_sum(ph, 2.0f * sh, &lo);
    float y = hi + (lo + (fmaf(kf, DZ_VM_LN2_1, pl) + fmaf(sh * z, q, 2.0f * sl)));
    uint32_t zero = dz_vm_mask((u & 0x7fffffffu) == 0);
    uint32_t negative = dz_vm_mask(u > 0x80000000u);
    uint32_t inf_nan = dz_vm_mask(u - 0x7f800000u < 0x00800000u);
    y = dz_vm_select_float(y, x + x, inf_nan);
    y = dz_vm_select_float(y, dz_vm_bits_float(0xff800000u), zero);
    return dz_vm_select_float(y, dz_vm_bits_float(0x7fc00000u), negative);
}

/* ---- sin, cos --------------------------------------------------------------
 * x = k pi/2 + r, |r| <= pi/4 (a little more: k rounds x 2/pi in float), by
 * Cody-Waite with three floats of pi/2: x - k pio2_0 is exact (FMA, and both
 * are multiples of 2^-24 less than 2 apart), k pio2_1 = ph + pl exactly, and
 * 2Sum gives r = rh + rl. Then, z = rh^2,
 *     sin r = rh + rh z S(z) + rl (1 - z/2),
 *     cos r = 1 - z/2 + z^2 C(z) - rl rh,
 * S and C degree-3 fits, with 1 - z/2 split exactly (z = rh^2 exactly is
 * z + zl); the quadrant k mod 4 picks one and the sign. */
#define DZ_VTRIG_LIMIT 0x1p17f
#define DZ_VM_2_PI 0x1.45f306p-1f
#define DZ_VM_PIO2_0 0x1.921fb6p+0f
#define DZ_VM_PIO2_1 -0x1.777a5cp-25f
#define DZ_VM_PIO2_2 -0x1.ee59dap-50f
#define DZ_VM_SIN_S0 -0x1.555556p-3f
#define DZ_VM_SIN_S1 0x1.11123ap-7f
#define DZ_VM_SIN_S2 -0x1.a14c1cp-13f
#define DZ_VM_SIN_S3 0x1.bf44dap-19f
#define DZ_VM_COS_C0 0x1.555556p-5f
#define DZ_VM_COS_C1 -0x1.6c1918p-10f
#define DZ_VM_COS_C2 0x1.a288eap-16f
#define DZ_VM_COS_C3 -0x1.c90f7ap-22f

/* All ones where |x| > DZ_VTRIG_LIMIT or x is NaN: the elements dz_vsinf
 * and dz_vcosf leave as NaN, to redo with sinf / cosf. */
DZ_VM_FN uint32_t dz_vtrig_far(float x)
{
    return dz_vm_mask((dz_vm_float_bits(x) & 0x7fffffffu) > dz_vm_float_bits(DZ_VTRIG_LIMIT));
}

/* sin(x + quadrant pi/2). */
DZ_VM_FN float dz_vm_sin_quadrant(float x, uint32_t quadrant)
{
    float shifted = fmaf(x, DZ_VM_2_PI, DZ_VM_SHIFT);
    float kf = shifted - DZ_VM_SHIFT;
    uint32_t n = dz_vm_float_bits(shifted) + quadrant;
    float a = fmaf(-kf, DZ_VM_PIO2_0, x);
    float ph = kf * DZ_VM_PIO2_1, pl = fmaf(kf, DZ_VM_PIO2_1, -ph);
    float e, rh = dz_vm_two_sum(a, -ph, &e);
    float rl = fmaf(-kf, DZ_VM_PIO2_2, e - pl);
    float z = rh * rh, zl = fmaf(rh, rh, -z);
    float sp = DZ_VM_SIN_S3;
    sp = fmaf(sp, z, DZ_VM_SIN_S2);
    sp = fmaf(sp, z, DZ_VM_SIN_S1);
    sp = fmaf(sp, z, DZ_VM_SIN_S0);
    float sine = rh + fmaf(rh * z, sp, fmaf(rl, -0.5f * z, rl));
    float cp = DZ_VM_COS_C3;
    cp = fmaf(cp, z, DZ_VM_COS_C2);
    cp = fmaf(cp, z, DZ_VM_COS_C1);
    cp = fmaf(cp, z, DZ_VM_COS_C0);
    float hl, hz = 0.5f * z;
    float w = dz_vm_fast_two_sum(1.0f, -hz, &hl); /* 1 - z/2 = w + hl */
    float cosine = w + fmaf(z * z, cp, hl - fmaf(0.5f, zl, rl * rh));
    float y = dz_vm_select_float(sine, cosine, dz_vm_mask(n & 1u));
    y = dz_vm_bits_float(dz_vm_float_bits(y) ^ ((n & 2u) << 30));
    return dz_vm_select_float(y, dz_vm_bits_float(0x7fc00000u), dz_vtrig_far(x));
}

/* sin x rounds to x below 2^-12 (x^3 / 6 is under half an ulp), which also
 * keeps the sign of zero. */
DZ_VM_FN float dz_vsinf(float x)
{
    uint32_t tiny = dz_vm_mask((dz_vm_float_bits(x) & 0x7fffffffu) < 0x39800000u);
    return dz_vm_select_float(dz_vm_sin_quadrant(x, 0), x, tiny);
}

DZ_VM_FN float dz_vcosf(float x)
{
    return dz_vm_sin_quadrant(x, 1);
}

#endif

/* CPU neural-network kernels: sigmoid and its backward (with a vectorized
 * float exp), softmax / log_softmax along an axis and their backward, clip,
 * one_hot, bias rows (repeat / sum), and the fused losses (softmax cross
 * entropy with ignore_index, sigmoid cross entropy). Sums of exponentials and
 * losses accumulate in double. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

/* The hot loops get an AVX2 clone, picked when the library loads (GCC's
 * target_clones on x86-64 Linux); elsewhere they are built once for the
 * baseline ISA. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* An axis seen as (outer, n, inner): element (o, k, j) is at (o * n + k) * inner + j. */
typedef struct {
    int64_t outer, n, inner;
} axis_split;

static axis_split split_axis(const dz_array *x, int axis)
{
    axis_split s = {1, x->ndim ? x->shape[axis] : 1, 1};
    for (int i = 0; i < axis; i++)
        s.outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++)
        s.inner *= x->shape[i];
    return s;
}

static int64_t label_at(const dz_array *t, int64_t i)
{
    return t->dtype == DZ_I32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* ---- exp, sigmoid ----------------------------------------------------------- */

/* The loops below stay free of float comparisons and branches (which trapping
 * math keeps the compiler from if-converting), so they vectorize: selections
 * are done on the bits. */
static inline uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* (a & ~mask) | (b & mask) */
static inline float select_bits(float a, float b, uint32_t mask)
{
    return bits_float((float_bits(a) & ~mask) | (float_bits(b) & mask));
}

#define EXP_LIMIT 0x42ae0000u /* 87.0f: e^-87 is still a normal float */

/* e^v for v <= 0 in float: 0 below -87 (where e^v is subnormal), NaN stays
 * NaN. v = k ln2 + r with |r| <= ln2 / 2, e^v = 2^k e^r, and e^r from Cephes'
 * expf polynomial (within 1.4 ulp). */
static inline float exp_nonpositive(float v)
{
    uint32_t mag = float_bits(v) & 0x7fffffffu;
    uint32_t under = 0u - (uint32_t)(mag > EXP_LIMIT), nan = 0u - (uint32_t)(mag > 0x7f800000u);
    float c = -select_bits(bits_float(mag), bits_float(EXP_LIMIT), under);
    int32_t k = (int32_t)(c * 1.44269504088896341f - 0.5f); /* round half away from 0, c <= 0 */
    float r = c - (float)k * 0.693359375f + (float)k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = (p * r * r + r + 1.0f) * bits_float((uint32_t)(k + 127) << 23);
    return select_bits(select_bits(e, 0.0f, under), v, nan);
}

/* DeZero's 0.5 tanh(0.5 x) + 0.5 equals 1 / (1 + e^-x); with e = e^-|x| it is
 * 1 / (1 + e) for x >= 0 and e / (1 + e) below, so neither side overflows or
 * cancels. */
static inline float sigmoid_f32(float x)
{
    float e = exp_nonpositive(-fabsf(x)), inv = 1.0f / (1.0f + e);
    return select_bits(inv, e * inv, 0u - (float_bits(x) >> 31));
}

VECTOR_CLONES
void dz_cpu_sigmoid(const dz_array *x, dz_array *y)
{
    if (x->dtype == DZ_F32) {
        const float *in = x->data;
        float *out = y->data;
        for (int64_t i = 0; i < x->size; i++)
            out[i] = sigmoid_f32(in[i]);
    } else {
        const double *in = x->data;
        double *out = y->data;
        for (int64_t i = 0; i < x->size; i++) {
            double e = exp(-fabs(in[i]));
            out[i] = in[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        }
    }
}

/* ---- softmax ------------------------------------------------------------- */

/* One line of n elements at stride s: y = softmax(x) or log_softmax(x). The
 * exponentials go to y first (a loop that vectorizes), then get summed. */
#define SOFTMAX_LINE(T, NAME, EXP, LOG)                                                            \
    VECTOR_CLONES static void NAME(const T *restrict x, T *restrict y, int64_t n, int64_t s,       \
                                   bool take_log)                                                  \
    {                                                                                              \
        T m = x[0];                                                                                \
        for (int64_t k = 1; k < n; k++)                                                            \
            m = x[k * s] > m ? x[k * s] : m;                                                       \
        for (int64_t k = 0; k < n; k++)                                                            \
            y[k * s] = EXP(x[k * s] - m);                                                          \
        double sum = 0;                                                                            \
        for (int64_t k = 0; k < n; k++)                                                            \
            sum += y[k * s];                                                                       \
        if (take_log) {                                                                            \
            T lse = m + (T)LOG(sum);                                                               \
            for (int64_t k = 0; k < n; k++)                                                        \
                y[k * s] = x[k * s] - lse;                                                         \
            return;                                                                                \
        }                                                                                          \
        T inv = (T)(1.0 / sum);                                                                    \
        for (int64_t k = 0; k < n; k++)                                                            \
            y[k * s] *= inv;                                                                       \
    }

SOFTMAX_LINE(float, softmax_line_f32, exp_nonpositive, log)
SOFTMAX_LINE(double, softmax_line_f64, exp, log)

void dz_cpu_softmax(const dz_array *x, int axis, bool take_log, dz_array *y)
{
    axis_split s = split_axis(x, axis);
    if (s.n == 0)
        return;
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < s.inner; j++) {
            int64_t base = o * s.n * s.inner + j;
            if (x->dtype == DZ_F32)
                softmax_line_f32((const float *)x->data + base, (float *)y->data + base, s.n, s.inner, take_log);
            else
                softmax_line_f64((const double *)x->data + base, (double *)y->data + base, s.n, s.inner, take_log);
        }
}

/* One line: gx from the softmax output y and gy. */
#define SOFTMAX_BACKWARD_LINE(T, NAME, EXP)                                                        \
    static void NAME(const T *y, const T *gy, T *gx, int64_t n, int64_t s, bool take_log)          \
    {                                                                                              \
        double sum = 0;                                                                            \
        if (take_log) {                                                                            \
            for (int64_t k = 0; k < n; k++)                                                        \
                sum += gy[k * s];                                                                  \
            for (int64_t k = 0; k < n; k++)                                                        \
                gx[k * s] = gy[k * s] - EXP(y[k * s]) * (T)sum;                                    \
            return;                                                                                \
        }                                                                                          \
        for (int64_t k = 0; k < n; k++)                                                            \
            sum += y[k * s] * gy[k * s];                                                           \
        for (int64_t k = 0; k < n; k++)                                                            \
            gx[k * s] = y[k * s] * (gy[k * s] - (T)sum);                                           \
    }

SOFTMAX_BACKWARD_LINE(float, softmax_backward_line_f32, expf)
SOFTMAX_BACKWARD_LINE(double, softmax_backward_line_f64, exp)

void dz_cpu_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool take_log, dz_array *gx)
{
    axis_split s = split_axis(y, axis);
    if (s.n == 0)
        return;
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < s.inner; j++) {
            int64_t b = o * s.n * s.inner + j;
            if (y->dtype == DZ_F32)
                softmax_backward_line_f32((const float *)y->data + b, (const float *)gy->data + b,
                                          (float *)gx->data + b, s.n, s.inner, take_log);
            else
                softmax_backward_line_f64((const double *)y->data + b, (const double *)gy->data + b,
                                          (double *)gx->data + b, s.n, s.inner, take_log);
        }
}

/* ---- sigmoid backward, clip, one_hot -------------------------------------- */

#define SIGMOID_BACKWARD(T)                                                                        \
    {                                                                                              \
        const T *yy = y->data, *g = gy->data;                                                      \
        T *out = gx->data;                                                                         \
        for (int64_t i = 0; i < y->size; i++)                                                      \
            out[i] = g[i] * yy[i] * ((T)1 - yy[i]);                                                \
    }

VECTOR_CLONES
void dz_cpu_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    if (y->dtype == DZ_F32)
        SIGMOID_BACKWARD(float)
    else
        SIGMOID_BACKWARD(double)
}

#define CLIP(T)                                                                                    \
    {                                                                                              \
        const T *in = x->data, l = (T)lo, h = (T)hi;                                               \
        T *out = y->data;                                                                          \
        if (mask)                                                                                  \
            for (int64_t i = 0; i < x->size; i++)                                                  \
                out[i] = in[i] >= l && in[i] <= h ? (T)1 : (T)0;                                   \
        else                                                                                       \
            for (int64_t i = 0; i < x->size; i++)                                                  \
                out[i] = in[i] < l ? l : in[i] > h ? h : in[i];                                    \
    }

void dz_cpu_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    if (x->dtype == DZ_F32)
        CLIP(float)
    else
        CLIP(double)
}

void dz_cpu_one_hot(const dz_array *indices, dz_array *y)
{
    int64_t v = y->shape[y->ndim - 1];
    memset(y->data, 0, (size_t)y->size * dz_dtype_size(y->dtype));
    for (int64_t i = 0; i < indices->size; i++) {
        int64_t at = i * v + label_at(indices, i);
        switch (y->dtype) {
        case DZ_F32: ((float *)y->data)[at] = 1; break;
        case DZ_F64: ((double *)y->data)[at] = 1; break;
        case DZ_I32: ((int32_t *)y->data)[at] = 1; break;
        default: ((int64_t *)y->data)[at] = 1; break;
        }
    }
}

/* ---- bias rows ------------------------------------------------------------- */

void dz_cpu_repeat_rows(const dz_array *x, dz_array *y)
{
    size_t row = (size_t)x->size * dz_dtype_size(x->dtype);
    int64_t n = x->size ? y->size / x->size : 0;
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)y->data + (size_t)i * row, x->data, row);
}

/* Narrow rows (d < 16) sum column by column; wider ones add whole rows, which
 * vectorizes. */
#define SUM_ROWS(T)                                                                                \
    {                                                                                              \
        const T *restrict in = x->data;                                                            \
        T *restrict out = y->data;                                                                 \
        if (d < 16) {                                                                              \
            for (int64_t k = 0; k < d; k++) {                                                      \
                T s = 0;                                                                           \
                for (int64_t i = 0; i < n; i++)                                                    \
                    s += in[i * d + k];                                                            \
                out[k] = s;                                                                        \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        memset(out, 0, (size_t)d * sizeof(T));                                                     \
        for (int64_t i = 0; i < n; i++)                                                            \
            for (int64_t k = 0; k < d; k++)                                                        \
                out[k] += in[i * d + k];                                                           \
    }

VECTOR_CLONES
void dz_cpu_sum_rows(const dz_array *x, dz_array *y)
{
    int64_t d = y->size, n = d ? x->size / d : 0;
    if (y->dtype == DZ_F32)
        SUM_ROWS(float)
    else
        SUM_ROWS(double)
}

/* ---- losses -------------------------------------------------------------- */

/* p (n, c) = softmax of each row of x; returns the sum over the rows whose
 * label is not ignore_index of -log p[i, t[i]] = log-sum-exp - x[i, t[i]],
 * which stays finite. The rows are shifted by their max and exponentiated as
 * one block, so narrow rows (few classes) vectorize too. */
#define SCE_ROWS(T, NAME, EXP, LOG)                                                                \
    VECTOR_CLONES static double NAME(const T *restrict x, const dz_array *t, int64_t ignore_index,  \
                                     int64_t n, int64_t c, T *restrict p)                          \
    {                                                                                              \
        double total = 0;                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const T *row = x + i * c;                                                              \
            T m = row[0];                                                                          \
            for (int64_t k = 1; k < c; k++)                                                        \
                m = row[k] > m ? row[k] : m;                                                       \
            for (int64_t k = 0; k < c; k++)                                                        \
                p[i * c + k] = row[k] - m;                                                         \
            int64_t label = label_at(t, i);                                                        \
            if (label != ignore_index)                                                             \
                total -= (double)p[i * c + label];                                                 \
        }                                                                                          \
        for (int64_t j = 0; j < n * c; j++)                                                        \
            p[j] = EXP(p[j]);                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T *prow = p + i * c;                                                                   \
            double sum = 0;                                                                        \
            for (int64_t k = 0; k < c; k++)                                                        \
                sum += prow[k];                                                                    \
            T inv = (T)(1.0 / sum);                                                                \
            for (int64_t k = 0; k < c; k++)                                                        \
                prow[k] *= inv;                                                                    \
            if (label_at(t, i) != ignore_index)                                                    \
                total += (double)LOG((T)sum);                                                      \
        }                                                                                          \
        return total;                                                                              \
    }

SCE_ROWS(float, sce_rows_f32, exp_nonpositive, logf)
SCE_ROWS(double, sce_rows_f64, exp, log)

void dz_cpu_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs)
{
    int64_t n = x->shape[0], c = x->shape[1];
    if (x->dtype == DZ_F32)
        *(float *)loss->data = (float)(scale * sce_rows_f32(x->data, t, ignore_index, n, c, probs->data));
    else
        *(double *)loss->data = scale * sce_rows_f64(x->data, t, ignore_index, n, c, probs->data);
}

#define SCE_BACKWARD(T)                                                                            \
    {                                                                                              \
        const T *p = probs->data;                                                                  \
        T *out = gx->data, g = (T)(*(const T *)gy->data * scale);                                  \
        for (int64_t j = 0; j < n * c; j++)                                                        \
            out[j] = p[j] * g;                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                          \
            int64_t label = label_at(t, i);                                                        \
            if (label == ignore_index)                                                             \
                memset(out + i * c, 0, (size_t)c * sizeof(T));                                     \
            else                                                                                   \
                out[i * c + label] -= g;                                                           \
        }                                                                                          \
    }

VECTOR_CLONES
void dz_cpu_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx)
{
    int64_t n = probs->shape[0], c = probs->shape[1];
    if (probs->dtype == DZ_F32)
        SCE_BACKWARD(float)
    else
        SCE_BACKWARD(double)
}

#define SIGMOID_CE(T, LOG1P, EXP, FABS)                                                            \
    {                                                                                              \
        const T *in = x->data, *target = t->data;                                                  \
        for (int64_t i = 0; i < x->size; i++) {                                                    \
            T v = in[i];                                                                           \
            total += (double)((v > 0 ? v : (T)0) - v * target[i] + LOG1P(EXP(-FABS(v))));          \
        }                                                                                          \
    }

void dz_cpu_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    double total = 0;
    if (x->dtype == DZ_F32) {
        SIGMOID_CE(float, log1pf, expf, fabsf)
        *(float *)loss->data = (float)(total * scale);
    } else {
        SIGMOID_CE(double, log1p, exp, fabs)
        *(double *)loss->data = total * scale;
    }
}

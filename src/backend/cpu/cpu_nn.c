/* CPU neural-network kernels: softmax / log_softmax along an axis and their
 * backward, sigmoid backward, clip, one_hot, and the fused losses
 * (softmax cross entropy with ignore_index, sigmoid cross entropy).
 * Sums of exponentials and losses accumulate in double. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

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

/* ---- softmax ------------------------------------------------------------- */

/* One line of n elements at stride s: y = softmax(x) or log_softmax(x). */
#define SOFTMAX_LINE(T, NAME, EXP, LOG)                                                            \
    static void NAME(const T *x, T *y, int64_t n, int64_t s, bool take_log)                        \
    {                                                                                              \
        T m = x[0];                                                                                \
        for (int64_t k = 1; k < n; k++)                                                            \
            m = x[k * s] > m ? x[k * s] : m;                                                       \
        double sum = 0;                                                                            \
        if (take_log) {                                                                            \
            for (int64_t k = 0; k < n; k++)                                                        \
                sum += EXP(x[k * s] - m);                                                          \
            T lse = m + (T)LOG(sum);                                                               \
            for (int64_t k = 0; k < n; k++)                                                        \
                y[k * s] = x[k * s] - lse;                                                         \
            return;                                                                                \
        }                                                                                          \
        for (int64_t k = 0; k < n; k++) {                                                          \
            T e = EXP(x[k * s] - m);                                                               \
            y[k * s] = e;                                                                          \
            sum += e;                                                                              \
        }                                                                                          \
        T inv = (T)(1.0 / sum);                                                                    \
        for (int64_t k = 0; k < n; k++)                                                            \
            y[k * s] *= inv;                                                                       \
    }

SOFTMAX_LINE(float, softmax_line_f32, expf, log)
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

/* ---- losses -------------------------------------------------------------- */

/* -log_softmax(x)[label] of one row of c logits, in double. */
#define ROW_NLL(T, NAME, EXP)                                                                      \
    static double NAME(const T *x, int64_t c, int64_t label)                                       \
    {                                                                                              \
        T m = x[0];                                                                                \
        for (int64_t k = 1; k < c; k++)                                                            \
            m = x[k] > m ? x[k] : m;                                                               \
        double sum = 0;                                                                            \
        for (int64_t k = 0; k < c; k++)                                                            \
            sum += EXP(x[k] - m);                                                                  \
        return (double)m + log(sum) - (double)x[label];                                            \
    }

ROW_NLL(float, row_nll_f32, expf)
ROW_NLL(double, row_nll_f64, exp)

void dz_cpu_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss)
{
    int64_t n = x->shape[0], c = x->shape[1];
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t label = label_at(t, i);
        if (label == ignore_index)
            continue;
        total += x->dtype == DZ_F32 ? row_nll_f32((const float *)x->data + i * c, c, label)
                                    : row_nll_f64((const double *)x->data + i * c, c, label);
    }
    if (loss->dtype == DZ_F32)
        *(float *)loss->data = (float)(total * scale);
    else
        *(double *)loss->data = total * scale;
}

#define SCE_BACKWARD(T, EXP)                                                                       \
    {                                                                                              \
        const T *in = x->data;                                                                     \
        T *out = gx->data, g = (T)(*(const T *)gy->data * scale);                                  \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const T *row = in + i * c;                                                             \
            T *grow = out + i * c;                                                                 \
            int64_t label = label_at(t, i);                                                        \
            if (label == ignore_index) {                                                           \
                memset(grow, 0, (size_t)c * sizeof(T));                                            \
                continue;                                                                          \
            }                                                                                      \
            T m = row[0];                                                                          \
            for (int64_t k = 1; k < c; k++)                                                        \
                m = row[k] > m ? row[k] : m;                                                       \
            double sum = 0;                                                                        \
            for (int64_t k = 0; k < c; k++) {                                                      \
                T e = EXP(row[k] - m);                                                             \
                grow[k] = e;                                                                       \
                sum += e;                                                                          \
            }                                                                                      \
            T w = (T)(g / sum);                                                                    \
            for (int64_t k = 0; k < c; k++)                                                        \
                grow[k] *= w;                                                                      \
            grow[label] -= g;                                                                      \
        }                                                                                          \
    }

void dz_cpu_softmax_cross_entropy_backward(const dz_array *x, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx)
{
    int64_t n = x->shape[0], c = x->shape[1];
    if (x->dtype == DZ_F32)
        SCE_BACKWARD(float, expf)
    else
        SCE_BACKWARD(double, exp)
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

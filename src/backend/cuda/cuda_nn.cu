/* Fused neural-network kernels on the CUDA device (backend.h's
 * dz_backend_fused): sigmoid and its backward, softmax / log_softmax along an
 * axis and their backward, clip, one_hot, the bias rows of a linear layer
 * (repeat_rows) and the fused losses (softmax cross entropy with
 * ignore_index and its backward, sigmoid cross entropy).
 *
 * Each kernel repeats the arithmetic of the CPU's fused kernel (cpu_nn.c)
 * operation by operation, in the same order:
 *   - elementwise kernels: one thread per element;
 *   - softmax and its backward: one thread per line along the axis, looping
 *     over it as the CPU does (max, exponentials, a sum in double);
 *   - the losses: a term per row (or element) in double, one thread per CPU
 *     block adding its terms in the CPU's order, then one thread adding the
 *     blocks in order and scaling.
 * Nothing is summed by atomics, so results are the same on every run.
 *
 * float32 exponentials of a softmax or sigmoid are the CPU's own
 * (cpu_nn_math.h), so they give the CPU's bits on both devices. Where the CPU calls the math library
 * (float64 throughout; float32 expf in the log_softmax backward, logf in the
 * softmax cross entropy, expf and log1pf in the sigmoid cross entropy; log of
 * a softmax's double sum) the device calls its own: the CPU's bits on the
 * emulated device, within that library's error on a GPU. */
#include <cmath>

#include "cuda_common.h"

#define DZ_VM_FN static inline DZ_HD
extern "C" {
#include "../cpu/cpu_parallel.h" /* DZ_GRAIN: the CPU's block sizes */
#include "../cpu/cpu_nn_math.h"
}

namespace dzc {

/* ---- the math of one dtype ------------------------------------------------- */

/* float32: the CPU's exp and sigmoid (cpu_nn_math.h), and the math library
 * where cpu_nn.c calls it. */
struct f32_nn {
    typedef float T;
    static DZ_HD T exp_nonpositive(T v) { return dz_nn_exp_nonpositive(v); }
    static DZ_HD T sigmoid(T x) { return dz_nn_sigmoidf(x); }
    static DZ_HD T exp(T v) { return ::expf(v); }
    static DZ_HD T log(T v) { return ::logf(v); }
    static DZ_HD T log1p(T v) { return ::log1pf(v); }
    static DZ_HD T abs(T v) { return ::fabsf(v); }
};

struct f64_nn {
    typedef double T;
    static DZ_HD T exp_nonpositive(T v) { return ::exp(v); }
    static DZ_HD T sigmoid(T x)
    {
        double e = ::exp(-::fabs(x));
        return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
    static DZ_HD T exp(T v) { return ::exp(v); }
    static DZ_HD T log(T v) { return ::log(v); }
    static DZ_HD T log1p(T v) { return ::log1p(v); }
    static DZ_HD T abs(T v) { return ::fabs(v); }
};

/* ---- sigmoid, its backward, clip -------------------------------------------------- */

template <typename M> struct sigmoid_fn {
    typedef typename M::T T;
    const T *x;
    T *y;
    DZ_HD void operator()(int64_t i) const { y[i] = M::sigmoid(x[i]); }
};

/* gx = (gy * y) * (1 - y). */
template <typename T> struct sigmoid_backward_fn {
    const T *y, *gy;
    T *gx;
    DZ_HD void operator()(int64_t i) const { gx[i] = gy[i] * y[i] * ((T)1 - y[i]); }
};

/* y = x clipped to [lo, hi] (NaN stays NaN), or with `mask` 1 where lo <= x <= hi, else 0. */
template <typename T> struct clip_fn {
    const T *x;
    T *y;
    T lo, hi;
    bool mask;
    DZ_HD void operator()(int64_t i) const
    {
        T v = x[i];
        y[i] = mask ? ((v >= lo && v <= hi) ? (T)1 : (T)0) : v < lo ? lo : v > hi ? hi : v;
    }
};

template <typename M> static void sigmoid_as(const dz_array *x, dz_array *y)
{
    typedef typename M::T T;
    for_each_index(x->size, sigmoid_fn<M>{(const T *)x->data, (T *)y->data});
}

static void sigmoid(const dz_array *x, dz_array *y)
{
    guarded("cuda_sigmoid", [&] {
        if (x->dtype == DZ_F32)
            sigmoid_as<f32_nn>(x, y);
        else
            sigmoid_as<f64_nn>(x, y);
    });
}

template <typename T> static void sigmoid_backward_as(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    for_each_index(y->size, sigmoid_backward_fn<T>{(const T *)y->data, (const T *)gy->data, (T *)gx->data});
}

static void sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    guarded("cuda_sigmoid_backward", [&] {
        if (y->dtype == DZ_F32)
            sigmoid_backward_as<float>(y, gy, gx);
        else
            sigmoid_backward_as<double>(y, gy, gx);
    });
}

template <typename T> static void clip_as(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    for_each_index(x->size, clip_fn<T>{(const T *)x->data, (T *)y->data, (T)lo, (T)hi, mask});
}

static void clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    guarded("cuda_clip", [&] {
        if (x->dtype == DZ_F32)
            clip_as<float>(x, lo, hi, mask, y);
        else
            clip_as<double>(x, lo, hi, mask, y);
    });
}

/* ---- softmax ------------------------------------------------------------------- */

/* The max of a line of n > 0 elements at stride s, in order: NaNs are skipped
 * unless the first element is one. (The CPU's 16 lanes give the same max,
 * but for the sign of a zero max, which no softmax output sees.) */
template <typename T> static inline DZ_HD T line_max(const T *x, int64_t n, int64_t s)
{
    T m = x[0];
    for (int64_t k = 1; k < n; k++)
        m = x[k * s] > m ? x[k * s] : m;
    return m;
}

/* Line l of x (outer, n, inner): y = softmax, or log_softmax with take_log.
 * e = exp(x - max) goes to y, the sum of e is taken in double, in order. */
template <typename M> struct softmax_fn {
    typedef typename M::T T;
    const T *x; // (outer, n, inner)
    T *y;       // (outer, n, inner)
    dz_axis_split s;
    bool take_log;
    DZ_HD void operator()(int64_t l) const
    {
        const int64_t at = dz_axis_line_start(s, l), n = s.n, st = s.inner;
        const T *xl = x + at;
        T *yl = y + at;
        T m = line_max(xl, n, st);
        for (int64_t k = 0; k < n; k++)
            yl[k * st] = M::exp_nonpositive(xl[k * st] - m);
        double sum = 0;
        for (int64_t k = 0; k < n; k++)
            sum += yl[k * st];
        if (take_log) {
            T lse = m + (T)::log(sum);
            for (int64_t k = 0; k < n; k++)
                yl[k * st] = xl[k * st] - lse;
            return;
        }
        T inv = (T)(1.0 / sum);
        for (int64_t k = 0; k < n; k++)
            yl[k * st] *= inv;
    }
};

/* Line l: gx from y = softmax(x) and gy, gx = y * (gy - sum(y * gy)); for
 * log_softmax gx = gy - exp(y) * sum(gy). Sums in double, in order. */
template <typename M> struct softmax_backward_fn {
    typedef typename M::T T;
    const T *y, *gy; // (outer, n, inner)
    T *gx;           // (outer, n, inner)
    dz_axis_split s;
    bool take_log;
    DZ_HD void operator()(int64_t l) const
    {
        const int64_t at = dz_axis_line_start(s, l), n = s.n, st = s.inner;
        const T *yl = y + at, *gl = gy + at;
        T *out = gx + at;
        double sum = 0;
        if (take_log) {
            for (int64_t k = 0; k < n; k++)
                sum += gl[k * st];
            for (int64_t k = 0; k < n; k++)
                out[k * st] = gl[k * st] - M::exp(yl[k * st]) * (T)sum;
            return;
        }
        for (int64_t k = 0; k < n; k++)
            sum += yl[k * st] * gl[k * st];
        for (int64_t k = 0; k < n; k++)
            out[k * st] = yl[k * st] * (gl[k * st] - (T)sum);
    }
};

template <typename M> static void softmax_as(const dz_array *x, dz_axis_split s, bool take_log, dz_array *y)
{
    typedef typename M::T T;
    for_each_index(s.outer * s.inner, softmax_fn<M>{(const T *)x->data, (T *)y->data, s, take_log});
}

static void softmax(const dz_array *x, int axis, bool take_log, dz_array *y)
{
    dz_axis_split s = dz_split_axis(x, axis);
    if (s.n == 0)
        return;
    guarded("cuda_softmax", [&] {
        if (x->dtype == DZ_F32)
            softmax_as<f32_nn>(x, s, take_log, y);
        else
            softmax_as<f64_nn>(x, s, take_log, y);
    });
}

template <typename M>
static void softmax_backward_as(const dz_array *y, const dz_array *gy, dz_axis_split s, bool take_log, dz_array *gx)
{
    typedef typename M::T T;
    softmax_backward_fn<M> f = {(const T *)y->data, (const T *)gy->data, (T *)gx->data, s, take_log};
    for_each_index(s.outer * s.inner, f);
}

static void softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool take_log, dz_array *gx)
{
    dz_axis_split s = dz_split_axis(y, axis);
    if (s.n == 0)
        return;
    guarded("cuda_softmax_backward", [&] {
        if (y->dtype == DZ_F32)
            softmax_backward_as<f32_nn>(y, gy, s, take_log, gx);
        else
            softmax_backward_as<f64_nn>(y, gy, s, take_log, gx);
    });
}

/* ---- one_hot ------------------------------------------------------------------- */

/* Element j = (i, k) of y (n, V): 1 where indices[i] == k, else 0. */
template <typename T> struct one_hot_fn {
    index_reader indices; // (n,), read flat
    T *y;                 // (n, V)
    int64_t v;
    DZ_HD void operator()(int64_t j) const { y[j] = indices(j / v) == j % v ? (T)1 : (T)0; }
};

template <typename T> static void one_hot_as(const dz_array *indices, dz_array *y)
{
    for_each_index(y->size, one_hot_fn<T>{indices_of(indices), (T *)y->data, y->shape[y->ndim - 1]});
}

static void one_hot(const dz_array *indices, dz_array *y)
{
    guarded("cuda_one_hot", [&] {
        switch (y->dtype) {
        case DZ_F32: one_hot_as<float>(indices, y); break;
        case DZ_F64: one_hot_as<double>(indices, y); break;
        case DZ_I32: one_hot_as<int32_t>(indices, y); break;
        case DZ_I64: one_hot_as<int64_t>(indices, y); break;
        default: break;
        }
    });
}

/* ---- bias rows ------------------------------------------------------------------- */

/* Element j of y (N, D) = x[j % D], moved as the unsigned integer of its size. */
template <typename T> struct repeat_rows_fn {
    const T *x; // (D,)
    T *y;       // (N, D)
    int64_t d;
    DZ_HD void operator()(int64_t j) const { y[j] = x[j % d]; }
};

template <size_t B> static void repeat_rows_as(const dz_array *x, dz_array *y)
{
    typedef typename bits_of<B>::type T;
    for_each_index(y->size, repeat_rows_fn<T>{(const T *)x->data, (T *)y->data, x->size});
}

static void repeat_rows(const dz_array *x, dz_array *y)
{
    if (x->size == 0)
        return;
    guarded("cuda_repeat_rows", [&] {
        switch (dz_dtype_bytes(x->dtype)) {
        case 1: repeat_rows_as<1>(x, y); break;
        case 2: repeat_rows_as<2>(x, y); break;
        case 4: repeat_rows_as<4>(x, y); break;
        case 8: repeat_rows_as<8>(x, y); break;
        }
    });
}

/* ---- losses ------------------------------------------------------------------------- */

/* A loss is added up as on the CPU: block b of its rows (or elements) totals
 * from 0, first minus[i] then plus[i] for each i of the block in order (minus
 * may be NULL), and the blocks are added in order. Rows the CPU passes over
 * have terms 0, which leave a total unchanged (it is never -0). */
struct block_total_fn {
    const double *minus, *plus; // (n,)
    double *totals;             // (blocks,)
    int64_t n, block;
    DZ_HD void operator()(int64_t b) const
    {
        int64_t first = b * block, end = n - first < block ? n : first + block;
        double total = 0;
        if (minus)
            for (int64_t i = first; i < end; i++)
                total -= minus[i];
        for (int64_t i = first; i < end; i++)
            total += plus[i];
        totals[b] = total;
    }
};

/* loss (0-d) = scale * the block totals added in order (0 without blocks), rounded to T. */
template <typename T> struct scaled_loss_fn {
    const double *totals; // (blocks,)
    int64_t blocks;
    double scale;
    T *loss;
    DZ_HD void operator()(int64_t) const
    {
        double total = blocks > 0 ? totals[0] : 0.0;
        for (int64_t b = 1; b < blocks; b++)
            total += totals[b];
        *loss = (T)(scale * total);
    }
};

/* The block totals of n terms (terms: (n,) each, minus may be NULL), then the
 * scaled loss; blocks = 0 writes scale * 0. */
template <typename T>
static void add_up_loss(const double *minus, const double *plus, int64_t n, int64_t block, int64_t blocks,
                        double scale, dz_array *loss)
{
    scratch totals((size_t)blocks * sizeof(double)); // (blocks,)
    for_each_index(blocks, block_total_fn{minus, plus, (double *)totals.data, n, block});
    for_each_index(1, scaled_loss_fn<T>{(const double *)totals.data, blocks, scale, (T *)loss->data});
}

/* Row i of x (N, C): probs[i] = softmax(x[i]); picked[i] = x[i, t] - max and
 * lse[i] = log(sum of exps), the terms the CPU takes off and adds (0 on a
 * row labelled ignore_index). */
template <typename M> struct sce_rows_fn {
    typedef typename M::T T;
    const T *x;      // (N, C)
    T *probs;        // (N, C)
    index_reader t;  // (N,)
    double *picked;  // (N,)
    double *lse;     // (N,)
    int64_t c, ignore_index;
    DZ_HD void operator()(int64_t i) const
    {
        const T *row = x + i * c;
        T *p = probs + i * c;
        T m = line_max(row, c, 1);
        for (int64_t k = 0; k < c; k++)
            p[k] = row[k] - m;
        const int64_t label = t(i);
        const bool counted = label != ignore_index;
        picked[i] = counted ? (double)p[label] : 0.0;
        for (int64_t k = 0; k < c; k++)
            p[k] = M::exp_nonpositive(p[k]);
        double sum = 0;
        for (int64_t k = 0; k < c; k++)
            sum += p[k];
        T inv = (T)(1.0 / sum);
        for (int64_t k = 0; k < c; k++)
            p[k] *= inv;
        lse[i] = counted ? (double)M::log((T)sum) : 0.0;
    }
};

/* The CPU's blocks hold about DZ_GRAIN elements: DZ_GRAIN / C rows, at least 1. */
static int64_t rows_per_block(int64_t c) { return c > 0 && DZ_GRAIN / c > 1 ? DZ_GRAIN / c : 1; }

template <typename M>
static void softmax_cross_entropy_as(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                     dz_array *loss, dz_array *probs)
{
    typedef typename M::T T;
    const int64_t n = x->shape[0], c = x->shape[1], block = rows_per_block(c);
    const int64_t blocks = c > 0 ? (n + block - 1) / block : 0;
    scratch terms((size_t)(2 * n) * sizeof(double)); // picked (N,), lse (N,)
    double *picked = (double *)terms.data, *lse = picked + n;
    if (blocks > 0) {
        sce_rows_fn<M> rows = {(const T *)x->data, (T *)probs->data, indices_of(t), picked, lse, c, ignore_index};
        for_each_index(n, rows);
    }
    add_up_loss<T>(picked, lse, n, block, blocks, scale, loss);
}

static void softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs)
{
    guarded("cuda_softmax_cross_entropy", [&] {
        if (x->dtype == DZ_F32)
            softmax_cross_entropy_as<f32_nn>(x, t, ignore_index, scale, loss, probs);
        else
            softmax_cross_entropy_as<f64_nn>(x, t, ignore_index, scale, loss, probs);
    });
}

/* Element j = (i, k) of gx (N, C) = probs * g - (k == t[i] ? g : 0), 0 on a
 * row labelled ignore_index, with g = gy * scale rounded to T (gy is read on
 * the device). */
template <typename T> struct sce_backward_fn {
    const T *probs; // (N, C)
    const T *gy;    // ()
    index_reader t; // (N,)
    T *gx;          // (N, C)
    int64_t c, ignore_index;
    double scale;
    DZ_HD void operator()(int64_t j) const
    {
        const int64_t label = t(j / c);
        if (label == ignore_index) {
            gx[j] = 0;
            return;
        }
        const T g = (T)(*gy * scale);
        T v = probs[j] * g;
        gx[j] = j % c == label ? v - g : v;
    }
};

template <typename T>
static void sce_backward_as(const dz_array *probs, const dz_array *t, int64_t ignore_index, double scale,
                            const dz_array *gy, dz_array *gx)
{
    sce_backward_fn<T> f = {(const T *)probs->data, (const T *)gy->data, indices_of(t), (T *)gx->data,
                            probs->shape[1], ignore_index, scale};
    for_each_index(probs->size, f);
}

static void softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx)
{
    guarded("cuda_softmax_cross_entropy_backward", [&] {
        if (probs->dtype == DZ_F32)
            sce_backward_as<float>(probs, t, ignore_index, scale, gy, gx);
        else
            sce_backward_as<double>(probs, t, ignore_index, scale, gy, gx);
    });
}

/* terms[i] = max(x, 0) - x * t + log1p(exp(-|x|)) at element i, in T, widened. */
template <typename M> struct sigmoid_ce_terms_fn {
    typedef typename M::T T;
    const T *x, *t;
    double *terms;
    DZ_HD void operator()(int64_t i) const
    {
        T v = x[i];
        terms[i] = (double)((v > 0 ? v : (T)0) - v * t[i] + M::log1p(M::exp(-M::abs(v))));
    }
};

template <typename M> static void sigmoid_cross_entropy_as(const dz_array *x, const dz_array *t, double scale,
                                                           dz_array *loss)
{
    typedef typename M::T T;
    const int64_t n = x->size, blocks = (n + DZ_GRAIN - 1) / DZ_GRAIN;
    scratch terms((size_t)n * sizeof(double)); // (n,)
    for_each_index(n, sigmoid_ce_terms_fn<M>{(const T *)x->data, (const T *)t->data, (double *)terms.data});
    add_up_loss<T>(nullptr, (const double *)terms.data, n, DZ_GRAIN, blocks, scale, loss);
}

static void sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    guarded("cuda_sigmoid_cross_entropy", [&] {
        if (x->dtype == DZ_F32)
            sigmoid_cross_entropy_as<f32_nn>(x, t, scale, loss);
        else
            sigmoid_cross_entropy_as<f64_nn>(x, t, scale, loss);
    });
}

/* ---- the table ------------------------------------------------------------------------ */

void fill_nn_kernels(dz_backend_fused *f)
{
    f->sigmoid = sigmoid;
    f->softmax = softmax;
    f->softmax_backward = softmax_backward;
    f->sigmoid_backward = sigmoid_backward;
    f->clip = clip;
    f->one_hot = one_hot;
    f->repeat_rows = repeat_rows;
    f->softmax_cross_entropy = softmax_cross_entropy;
    f->softmax_cross_entropy_backward = softmax_cross_entropy_backward;
    f->sigmoid_cross_entropy = sigmoid_cross_entropy;
}

} // namespace dzc

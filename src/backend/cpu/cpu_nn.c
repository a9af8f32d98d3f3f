/* CPU neural-network kernels: sigmoid and its backward (with a vectorized
 * float exp), softmax / log_softmax along an axis and their backward, clip,
 * one_hot, the bias rows of a linear layer, and the fused losses (softmax
 * cross entropy with ignore_index, sigmoid cross entropy). Sums of
 * exponentials and losses accumulate in double, in order. Above DZ_GRAIN
 * elements the work is split over threads: elementwise kernels by ranges,
 * softmax by lines; a loss adds up blocks of rows whose size depends on the
 * shape alone, in order, and an array within the grain is one block. */
#include <math.h>
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_nn_math.h"
#include "cpu_parallel.h"

/* ---- exp, sigmoid: dz_nn_exp_nonpositive and dz_nn_sigmoidf (cpu_nn_math.h) ---- */

/* An elementwise kernel over ranges of its arrays. */
typedef struct {
    const dz_array *a, *b;
    dz_array *y;
    double lo, hi;
    bool flag;
} range_job;

DZ_FMA_CLONES
static void sigmoid_range(void *vjob, int64_t begin, int64_t end)
{
    const range_job *job = vjob;
    if (job->a->dtype == DZ_F32) {
        const float *in = job->a->data;
        float *out = job->y->data;
        for (int64_t i = begin; i < end; i++)
            out[i] = dz_nn_sigmoidf(in[i]);
    } else {
        const double *in = job->a->data;
        double *out = job->y->data;
        for (int64_t i = begin; i < end; i++) {
            double e = exp(-fabs(in[i]));
            out[i] = in[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        }
    }
}

void dz_cpu_sigmoid(const dz_array *x, dz_array *y)
{
    range_job job = {.a = x, .y = y};
    dz_parallel_for(x->size, 1, sigmoid_range, &job);
}

/* ---- softmax ------------------------------------------------------------- */

/* The max of a line of n elements at stride s, in 16 lanes so that it
 * vectorizes. NaNs are skipped unless the first element is one, as a scan in
 * order does; a max of zero may differ from that scan's in sign, which a
 * softmax does not see (x - m and m + log(sum) come out the same). */
#define LINE_MAX(T, NAME)                                                                          \
    static inline T NAME(const T *x, int64_t n, int64_t s)                                         \
    {                                                                                              \
        T lane[16];                                                                                \
        for (int k = 0; k < 16; k++)                                                               \
            lane[k] = x[0];                                                                        \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16)                                                               \
            DZ_LANE_LOOP for (int k = 0; k < 16; k++)                                              \
                lane[k] = x[(i + k) * s] > lane[k] ? x[(i + k) * s] : lane[k];                     \
        for (; i < n; i++)                                                                         \
            lane[0] = x[i * s] > lane[0] ? x[i * s] : lane[0];                                     \
        T m = lane[0];                                                                             \
        for (int k = 1; k < 16; k++)                                                               \
            m = lane[k] > m ? lane[k] : m;                                                         \
        return m;                                                                                  \
    }

LINE_MAX(float, line_max_f32)
LINE_MAX(double, line_max_f64)

/* One line of n elements at stride s: y = softmax(x) or log_softmax(x). The
 * exponentials go to y first (a loop that vectorizes), then get summed. */
#define SOFTMAX_LINE(T, NAME, MAX, EXP, LOG)                                                       \
    static inline void NAME(const T *restrict x, T *restrict y, int64_t n, int64_t s,              \
                            bool take_log)                                                         \
    {                                                                                              \
        T m = MAX(x, n, s);                                                                        \
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

SOFTMAX_LINE(float, softmax_line_f32, line_max_f32, dz_nn_exp_nonpositive, log)
SOFTMAX_LINE(double, softmax_line_f64, line_max_f64, exp, log)

/* One line: gx from the softmax output y and gy. */
#define SOFTMAX_BACKWARD_LINE(T, NAME, EXP)                                                        \
    static inline void NAME(const T *y, const T *gy, T *gx, int64_t n, int64_t s, bool take_log)   \
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

/* The lines of a softmax (or its backward) along an axis: line l = (o, j)
 * starts at element o * n * inner + j and steps by inner. The forward reads
 * x from `in`, the backward reads y from `in` and gy. */
typedef struct {
    const dz_array *in, *gy; // (outer, n, inner)
    dz_array *out;           // (outer, n, inner): y, or gx
    dz_axis_split s;
    bool take_log;
} softmax_job;


/* Rows (inner == 1) get a copy of the line's loops with a stride of 1. */
#define SOFTMAX_LINES(T, NAME, LINE)                                                               \
    DZ_FMA_CLONES static void NAME(void *vjob, int64_t begin, int64_t end)                         \
    {                                                                                              \
        const softmax_job *job = vjob;                                                             \
        dz_axis_split s = job->s;                                                                     \
        for (int64_t l = begin; l < end; l++) {                                                    \
            const T *x = (const T *)job->in->data + dz_axis_line_start(s, l);                              \
            T *y = (T *)job->out->data + dz_axis_line_start(s, l);                                         \
            if (s.inner == 1)                                                                      \
                LINE(x, y, s.n, 1, job->take_log);                                                 \
            else                                                                                   \
                LINE(x, y, s.n, s.inner, job->take_log);                                           \
        }                                                                                          \
    }

SOFTMAX_LINES(float, softmax_lines_f32, softmax_line_f32)
SOFTMAX_LINES(double, softmax_lines_f64, softmax_line_f64)

void dz_cpu_softmax(const dz_array *x, int axis, bool take_log, dz_array *y)
{
    softmax_job job = {x, NULL, y, dz_split_axis(x, axis), take_log};
    if (job.s.n > 0)
        dz_parallel_for(job.s.outer * job.s.inner, job.s.n, x->dtype == DZ_F32 ? softmax_lines_f32 : softmax_lines_f64,
                        &job);
}

#define SOFTMAX_BACKWARD_LINES(T, NAME, LINE)                                                      \
    DZ_FMA_CLONES static void NAME(void *vjob, int64_t begin, int64_t end)                         \
    {                                                                                              \
        const softmax_job *job = vjob;                                                             \
        dz_axis_split s = job->s;                                                                     \
        for (int64_t l = begin; l < end; l++) {                                                    \
            int64_t b = dz_axis_line_start(s, l);                                                          \
            const T *y = (const T *)job->in->data + b, *gy = (const T *)job->gy->data + b;         \
            T *gx = (T *)job->out->data + b;                                                       \
            if (s.inner == 1)                                                                      \
                LINE(y, gy, gx, s.n, 1, job->take_log);                                            \
            else                                                                                   \
                LINE(y, gy, gx, s.n, s.inner, job->take_log);                                      \
        }                                                                                          \
    }

SOFTMAX_BACKWARD_LINES(float, softmax_backward_lines_f32, softmax_backward_line_f32)
SOFTMAX_BACKWARD_LINES(double, softmax_backward_lines_f64, softmax_backward_line_f64)

void dz_cpu_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool take_log, dz_array *gx)
{
    softmax_job job = {y, gy, gx, dz_split_axis(y, axis), take_log};
    if (job.s.n > 0)
        dz_parallel_for(job.s.outer * job.s.inner, job.s.n,
                        y->dtype == DZ_F32 ? softmax_backward_lines_f32 : softmax_backward_lines_f64, &job);
}

/* ---- sigmoid backward, clip, one_hot -------------------------------------- */

#define SIGMOID_BACKWARD(T)                                                                        \
    {                                                                                              \
        const T *yy = job->a->data, *g = job->b->data;                                             \
        T *out = job->y->data;                                                                     \
        for (int64_t i = begin; i < end; i++)                                                      \
            out[i] = g[i] * yy[i] * ((T)1 - yy[i]);                                                \
    }

DZ_FMA_CLONES
static void sigmoid_backward_range(void *vjob, int64_t begin, int64_t end)
{
    const range_job *job = vjob;
    if (job->y->dtype == DZ_F32)
        SIGMOID_BACKWARD(float)
    else
        SIGMOID_BACKWARD(double)
}

void dz_cpu_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    range_job job = {.a = y, .b = gy, .y = gx};
    dz_parallel_for(y->size, 1, sigmoid_backward_range, &job);
}

/* mask: 1 where lo <= x <= hi, else 0; otherwise x clipped to [lo, hi]. */
#define CLIP(T)                                                                                    \
    {                                                                                              \
        const T *in = job->a->data, l = (T)job->lo, h = (T)job->hi;                                \
        T *out = job->y->data;                                                                     \
        if (job->flag)                                                                             \
            for (int64_t i = begin; i < end; i++)                                                  \
                out[i] = ((in[i] >= l) & (in[i] <= h)) ? (T)1 : (T)0;                              \
        else                                                                                       \
            for (int64_t i = begin; i < end; i++)                                                  \
                out[i] = in[i] < l ? l : in[i] > h ? h : in[i];                                    \
    }

DZ_FMA_CLONES
static void clip_range(void *vjob, int64_t begin, int64_t end)
{
    const range_job *job = vjob;
    if (job->a->dtype == DZ_F32)
        CLIP(float)
    else
        CLIP(double)
}

void dz_cpu_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    range_job job = {x, NULL, y, lo, hi, mask};
    dz_parallel_for(x->size, 1, clip_range, &job);
}

void dz_cpu_one_hot(const dz_array *indices, dz_array *y)
{
    int64_t v = y->shape[y->ndim - 1];
    memset(y->data, 0, (size_t)y->size * dz_dtype_bytes(y->dtype));
    for (int64_t i = 0; i < indices->size; i++) {
        int64_t at = i * v + dz_index_at(indices->data, indices->dtype, i);
        switch (y->dtype) {
        case DZ_F32: ((float *)y->data)[at] = 1; break;
        case DZ_F64: ((double *)y->data)[at] = 1; break;
        case DZ_I32: ((int32_t *)y->data)[at] = 1; break;
        default: ((int64_t *)y->data)[at] = 1; break;
        }
    }
}

/* ---- bias rows ------------------------------------------------------------- */

/* Rows are copied in runs of up to this many bytes. */
#define COPY_RUN_BYTES 16384

/* Rows [begin, end) of y (n, d) = x (d): x goes to the first row, then the rows
 * already written are copied after themselves, doubling, so that narrow rows
 * take a few long copies rather than one short copy each. */
static void repeat_rows_range(void *vjob, int64_t begin, int64_t end)
{
    const range_job *job = vjob;
    size_t row = (size_t)job->a->size * dz_dtype_bytes(job->a->dtype);
    char *out = (char *)job->y->data + (size_t)begin * row;
    int64_t rows = end - begin, done = 1, run = COPY_RUN_BYTES / row > 1 ? (int64_t)(COPY_RUN_BYTES / row) : 1;
    memcpy(out, job->a->data, row);
    while (done < rows) {
        int64_t copy = done < run ? done : run;
        copy = copy < rows - done ? copy : rows - done;
        memcpy(out + (size_t)done * row, out, (size_t)copy * row);
        done += copy;
    }
}

void dz_cpu_repeat_rows(const dz_array *x, dz_array *y)
{
    range_job job = {.a = x, .y = y};
    if (x->size > 0)
        dz_parallel_for(y->size / x->size, x->size, repeat_rows_range, &job);
}

/* ---- losses -------------------------------------------------------------- */

/* p (n, c) = softmax of each row of x; returns the sum over the rows whose
 * label (t[first + i] for row i) is not ignore_index of -log p[i, t] =
 * log-sum-exp - x[i, t], which stays finite. The rows are shifted by their
 * max and exponentiated as one block, so narrow rows (few classes) vectorize
 * too. */
#define SCE_ROWS(T, NAME, MAX, EXP, LOG)                                                           \
    DZ_FMA_CLONES static double NAME(const T *restrict x, const dz_array *t, int64_t first,        \
                                        int64_t ignore_index, int64_t n, int64_t c, T *restrict p) \
    {                                                                                              \
        double total = 0;                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const T *row = x + i * c;                                                              \
            T m = MAX(row, c, 1);                                                                  \
            for (int64_t k = 0; k < c; k++)                                                        \
                p[i * c + k] = row[k] - m;                                                         \
            int64_t label = dz_index_at(t->data, t->dtype, first + i);                                                \
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
            if (dz_index_at(t->data, t->dtype, first + i) != ignore_index)                                            \
                total += (double)LOG((T)sum);                                                      \
        }                                                                                          \
        return total;                                                                              \
    }

SCE_ROWS(float, sce_rows_f32, line_max_f32, dz_nn_exp_nonpositive, logf)
SCE_ROWS(double, sce_rows_f64, line_max_f64, exp, log)

/* A loss over blocks of rows (or elements), added up in block order. */
typedef struct {
    const dz_array *x, *t;
    dz_array *probs;
    int64_t ignore_index, n, c, block;
    double total;
} loss_job;

static void sce_block(void *vjob, int64_t b, void *out)
{
    const loss_job *job = vjob;
    int64_t first = b * job->block, rows = job->n - first < job->block ? job->n - first : job->block;
    double total;
    if (job->x->dtype == DZ_F32)
        total = sce_rows_f32((const float *)job->x->data + first * job->c, job->t, first, job->ignore_index, rows,
                             job->c, (float *)job->probs->data + first * job->c);
    else
        total = sce_rows_f64((const double *)job->x->data + first * job->c, job->t, first, job->ignore_index, rows,
                             job->c, (double *)job->probs->data + first * job->c);
    memcpy(out, &total, sizeof total);
}

static void add_block_total(void *vjob, int64_t b, const void *partial)
{
    loss_job *job = vjob;
    double total;
    memcpy(&total, partial, sizeof total);
    job->total = b == 0 ? total : job->total + total;
}

/* The blocks hold about a grain of elements each, so an array within the
 * grain is one block, added up in order as a single thread would. */
static int64_t rows_per_block(int64_t row) { return row > 0 && DZ_GRAIN / row > 1 ? DZ_GRAIN / row : 1; }

void dz_cpu_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs)
{
    int64_t n = x->shape[0], c = x->shape[1];
    loss_job job = {x, t, probs, ignore_index, n, c, rows_per_block(c), 0};
    dz_block_reduction by_blocks = {sce_block, add_block_total, sizeof(double)};
    if (c > 0)
        dz_parallel_reduce(&by_blocks, (n + job.block - 1) / job.block, job.block * c, &job);
    if (x->dtype == DZ_F32)
        *(float *)loss->data = (float)(scale * job.total);
    else
        *(double *)loss->data = scale * job.total;
}

#define SCE_BACKWARD(T)                                                                            \
    {                                                                                              \
        const T *p = job->probs->data;                                                             \
        T *out = job->gx->data, g = (T)(*(const T *)job->gy->data * job->scale);                   \
        int64_t c = job->c;                                                                        \
        for (int64_t j = begin * c; j < end * c; j++)                                              \
            out[j] = p[j] * g;                                                                     \
        for (int64_t i = begin; i < end; i++) {                                                    \
            int64_t label = dz_index_at(job->t->data, job->t->dtype, i);                           \
            if (label == job->ignore_index)                                                        \
                memset(out + i * c, 0, (size_t)c * sizeof(T));                                     \
            else                                                                                   \
                out[i * c + label] -= g;                                                           \
        }                                                                                          \
    }

typedef struct {
    const dz_array *probs, *t, *gy; // (N, C), (N), ()
    dz_array *gx;                   // (N, C)
    int64_t ignore_index, c;
    double scale;
} sce_backward_job;

DZ_FMA_CLONES
static void sce_backward_rows(void *vjob, int64_t begin, int64_t end)
{
    const sce_backward_job *job = vjob;
    if (job->probs->dtype == DZ_F32)
        SCE_BACKWARD(float)
    else
        SCE_BACKWARD(double)
}

void dz_cpu_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx)
{
    sce_backward_job job = {probs, t, gy, gx, ignore_index, probs->shape[1], scale};
    dz_parallel_for(probs->shape[0], job.c, sce_backward_rows, &job);
}

#define SIGMOID_CE(T, LOG1P, EXP, FABS)                                                            \
    {                                                                                              \
        const T *in = job->x->data, *target = job->t->data;                                        \
        for (int64_t i = first; i < end; i++) {                                                    \
            T v = in[i];                                                                           \
            total += (double)((v > 0 ? v : (T)0) - v * target[i] + LOG1P(EXP(-FABS(v))));          \
        }                                                                                          \
    }

/* Elements [b * block, (b + 1) * block) of the sigmoid cross entropy, in order. */
static void sigmoid_ce_block(void *vjob, int64_t b, void *out)
{
    const loss_job *job = vjob;
    int64_t first = b * job->block, end = job->n - first < job->block ? job->n : first + job->block;
    double total = 0;
    if (job->x->dtype == DZ_F32)
        SIGMOID_CE(float, log1pf, expf, fabsf)
    else
        SIGMOID_CE(double, log1p, exp, fabs)
    memcpy(out, &total, sizeof total);
}

void dz_cpu_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    loss_job job = {x, t, NULL, 0, x->size, 1, DZ_GRAIN, 0};
    dz_block_reduction by_blocks = {sigmoid_ce_block, add_block_total, sizeof(double)};
    dz_parallel_reduce(&by_blocks, (x->size + DZ_GRAIN - 1) / DZ_GRAIN, DZ_GRAIN, &job);
    if (x->dtype == DZ_F32)
        *(float *)loss->data = (float)(job.total * scale);
    else
        *(double *)loss->data = job.total * scale;
}

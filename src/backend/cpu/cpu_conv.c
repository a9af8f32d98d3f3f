/* CPU convolution kernels: im2col and col2im (backend.h's convolution
 * slots) on f32 and f64, the padding implicit.
 *
 * An image plane (n, c) is one item of work, whichever the column layout:
 * its entries (i, j, y, x) of the column array lie at
 *     base + (i*KW + j) * step_k + y * step_y + x * step_x
 * ((KH*KW, OH, OW) contiguous in the 6-D layout; within rows of C*KH*KW in
 * the matrix one). im2col fills them a row of OW window positions at a time
 * (a copy when both strides are 1); col2im zeroes the plane and adds them
 * back a row at a time. Each pixel then sums its window entries in the order
 * scatter_add over col takes them (col's C order): by (i, j) ascending in
 * the 6-D layout, by (y, x) ascending, which is (i, j) descending, in the
 * matrix one. So col2im has the composite's bits, and the same bits for any
 * number of threads (planes are independent). */
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"

/* One convolution's sizes and where a plane's column entries lie. */
typedef struct {
    dz_conv_geom g;
    int64_t c, h, w, oh, ow;
    int64_t step_k, step_y, step_x; /* column elements between (i, j), y, x neighbours */
    bool to_matrix;
    size_t es;
    char *x, *col; /* x (N, C, H, W); col as described above */
} conv_job;

static conv_job job_of(const dz_array *x, const dz_array *col, const dz_conv_geom *g, bool to_matrix)
{
    conv_job job = {.g = *g, .c = x->shape[1], .h = x->shape[2], .w = x->shape[3], .to_matrix = to_matrix,
                    .es = dz_dtype_bytes(x->dtype), .x = x->data, .col = col->data};
    job.oh = (job.h + 2 * g->ph - g->kh) / g->sh + 1;
    job.ow = (job.w + 2 * g->pw - g->kw) / g->sw + 1;
    if (to_matrix) { // (N, OH, OW, C, KH, KW)
        job.step_k = 1;
        job.step_x = job.c * g->kh * g->kw;
        job.step_y = job.ow * job.step_x;
    } else { // (N, C, KH, KW, OH, OW)
        job.step_k = job.oh * job.ow;
        job.step_y = job.ow;
        job.step_x = 1;
    }
    return job;
}

/* Column element offset of plane p's entry (ki, kj, 0, 0). */
static int64_t plane_base(const conv_job *job, int64_t p, int64_t ki, int64_t kj)
{
    int64_t n = p / job->c, c = p % job->c, kk = job->g.kh * job->g.kw;
    int64_t base = job->to_matrix ? n * job->oh * job->ow * job->c * kk + c * kk : p * kk * job->oh * job->ow;
    return base + (ki * job->g.kw + kj) * job->step_k;
}

void dz_cpu_window_span(int64_t n, int64_t s, int64_t off, int64_t size, int64_t *lo, int64_t *hi)
{
    int64_t first = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t end = size - off <= 0 ? 0 : (size - off - 1) / s + 1;
    *lo = first < n ? first : n;
    *hi = end < n ? end : n;
    if (*hi < *lo)
        *hi = *lo;
}

/* ---- rows of window positions ---------------------------------------------- */

/* dst[x * ds] (x in [0, n)) = src[s*x + off] inside [lo, hi), 0 outside. */
#define GATHER_ROW(T)                                                                              \
    static inline void gather_row_##T(T *restrict dst, int64_t ds, const T *restrict src, int64_t n, \
                                      int64_t s, int64_t off, int64_t lo, int64_t hi)              \
    {                                                                                              \
        for (int64_t x = 0; x < lo; x++)                                                           \
            dst[x * ds] = 0;                                                                       \
        if (ds == 1 && s == 1)                                                                     \
            memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(T));                       \
        else                                                                                       \
            for (int64_t x = lo; x < hi; x++)                                                      \
                dst[x * ds] = src[s * x + off];                                                    \
        for (int64_t x = hi; x < n; x++)                                                           \
            dst[x * ds] = 0;                                                                       \
    }

/* dst[s*x + off] += src[x * ss] for x in [lo, hi). */
#define ADD_ROW(T)                                                                                 \
    static inline void add_row_##T(T *restrict dst, const T *restrict src, int64_t ss, int64_t s,  \
                                   int64_t off, int64_t lo, int64_t hi)                            \
    {                                                                                              \
        if (ss == 1 && s == 1)                                                                     \
            for (int64_t x = lo; x < hi; x++)                                                      \
                dst[x + off] += src[x];                                                            \
        else                                                                                       \
            for (int64_t x = lo; x < hi; x++)                                                      \
                dst[s * x + off] += src[x * ss];                                                   \
    }

GATHER_ROW(float)
GATHER_ROW(double)
ADD_ROW(float)
ADD_ROW(double)

/* ---- im2col ------------------------------------------------------------------ */

/* Plane p's column entries (ki, kj, y, 0..OW-1) from its image row. */
static inline void im2col_row(const conv_job *job, int64_t p, int64_t ki, int64_t kj, int64_t y)
{
    const dz_conv_geom *g = &job->g;
    int64_t at = plane_base(job, p, ki, kj) + y * job->step_y, row = g->sh * y + ki - g->ph, off = kj - g->pw;
    int64_t lo = 0, hi = 0;
    bool in_image = row >= 0 && row < job->h;
    if (in_image)
        dz_cpu_window_span(job->ow, g->sw, off, job->w, &lo, &hi);
    int64_t src = (p * job->h + (in_image ? row : 0)) * job->w;
    if (job->es == 4)
        gather_row_float((float *)job->col + at, job->step_x, (const float *)job->x + src, job->ow, g->sw, off, lo,
                         hi);
    else
        gather_row_double((double *)job->col + at, job->step_x, (const double *)job->x + src, job->ow, g->sw, off,
                          lo, hi);
}

DZ_FMA_CLONES
static void im2col_planes(void *vjob, int64_t begin, int64_t end)
{
    const conv_job *job = vjob;
    for (int64_t p = begin; p < end; p++)
        for (int64_t ki = 0; ki < job->g.kh; ki++)
            for (int64_t kj = 0; kj < job->g.kw; kj++)
                for (int64_t y = 0; y < job->oh; y++)
                    im2col_row(job, p, ki, kj, y);
}

void dz_cpu_im2col(const dz_array *x, const dz_conv_geom *g, bool to_matrix, dz_array *col)
{
    conv_job job = job_of(x, col, g, to_matrix);
    dz_parallel_for(x->shape[0] * job.c, g->kh * g->kw * job.oh * job.ow, im2col_planes, &job);
}

/* ---- col2im ------------------------------------------------------------------ */

/* Plane p's pixels += its column entries (ki, kj, y, x) for every y and x. */
static inline void col2im_window_entry(const conv_job *job, int64_t p, int64_t ki, int64_t kj)
{
    const dz_conv_geom *g = &job->g;
    int64_t ylo, yhi, lo, hi, off = kj - g->pw;
    dz_cpu_window_span(job->oh, g->sh, ki - g->ph, job->h, &ylo, &yhi);
    dz_cpu_window_span(job->ow, g->sw, off, job->w, &lo, &hi);
    int64_t at = plane_base(job, p, ki, kj);
    for (int64_t y = ylo; y < yhi; y++) {
        int64_t dst = (p * job->h + g->sh * y + ki - g->ph) * job->w, src = at + y * job->step_y;
        if (job->es == 4)
            add_row_float((float *)job->x + dst, (const float *)job->col + src, job->step_x, g->sw, off, lo, hi);
        else
            add_row_double((double *)job->x + dst, (const double *)job->col + src, job->step_x, g->sw, off, lo, hi);
    }
}

DZ_FMA_CLONES
static void col2im_planes(void *vjob, int64_t begin, int64_t end)
{
    const conv_job *job = vjob;
    int64_t kh = job->g.kh, kw = job->g.kw;
    for (int64_t p = begin; p < end; p++) {
        memset(job->x + (size_t)(p * job->h * job->w) * job->es, 0, (size_t)(job->h * job->w) * job->es);
        for (int64_t e = 0; e < kh * kw; e++) { /* (ki, kj) ascending; descending for the matrix layout */
            int64_t entry = job->to_matrix ? kh * kw - 1 - e : e;
            col2im_window_entry(job, p, entry / kw, entry % kw);
        }
    }
}

void dz_cpu_col2im(const dz_array *col, const dz_conv_geom *g, bool to_matrix, dz_array *x)
{
    conv_job job = job_of(x, col, g, to_matrix);
    dz_parallel_for(x->shape[0] * job.c, g->kh * g->kw * job.oh * job.ow, col2im_planes, &job);
}

/* CPU max pooling kernels (backend.h's max pooling slots) on f32 and f64:
 * the forward with each window's pick, the pick of another image at those
 * offsets, and the grad, the padding implicit.
 *
 * An image plane (n, c) is one item of work. The kernels give the bits of
 * the composite in pooling.c (im2col, reduce, a one-hot mask, col2im) for
 * any number of threads:
 *   - the max keeps the first of equal values and takes any NaN, as reduce
 *     does, and the pick is the first entry equal to it (-1: a NaN max, whose
 *     mask is all ones);
 *   - the pick and the grad multiply every window entry by its mask value
 *     (0 or 1) as the composite does, so infinities and NaNs spread alike;
 *   - the grad adds each pixel's terms to 0 in col2im's order, window offset
 *     (i, j) ascending: the kernels walk a plane entry by entry. */
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"

/* One pooling's sizes and buffers. */
typedef struct {
    dz_conv_geom g;
    int64_t h, w, oh, ow;
    const void *src; /* max_pool, pick: the image (N, C, H, W); backward: gy (N, C, OH, OW) */
    void *dst;       /* max_pool, pick: (N, C, OH, OW); backward: gx (N, C, H, W) */
    int32_t *argmax; /* (N, C, OH, OW); NULL: max_pool without picks */
} pool_job;

static pool_job job_of(const dz_array *img, const dz_conv_geom *g, const void *src, void *dst, int32_t *argmax)
{
    pool_job job = {.g = *g, .h = img->shape[2], .w = img->shape[3], .src = src, .dst = dst, .argmax = argmax};
    job.oh = (job.h + 2 * g->ph - g->kh) / g->sh + 1;
    job.ow = (job.w + 2 * g->pw - g->kw) / g->sw + 1;
    return job;
}

/* Entry (i, j) of the windows of a plane: along a row of windows, for
 * window x in [lo, hi) the pixel at s*x + off of its image row, padding (0)
 * elsewhere. */
typedef struct {
    int64_t i, k; /* the window's row offset, and k = i*KW + j */
    int64_t off, lo, hi;
} window_entry;

static window_entry entry_of(const pool_job *job, int64_t k)
{
    window_entry e = {k / job->g.kw, k, k % job->g.kw - job->g.pw, 0, 0};
    dz_cpu_window_span(job->ow, job->g.sw, e.off, job->w, &e.lo, &e.hi);
    return e;
}

/* The image row of entry e in window row y, or -1 in the padding. */
static inline int64_t image_row(const pool_job *job, const window_entry *e, int64_t y)
{
    int64_t r = job->g.sh * y + e->i - job->g.ph;
    return r >= 0 && r < job->h ? r : -1;
}

/* Runs BODY for every window x in [0, OW) of a row, with v its entry from
 * the image row `row` (NULL: the row is padding), 0 in the padding. */
#define FOR_ENTRIES(T, row, e, ow, s, BODY)                                                        \
    do {                                                                                           \
        int64_t lo_ = (row) ? (e).lo : 0, hi_ = (row) ? (e).hi : 0;                               \
        for (int64_t x = 0; x < lo_; x++) {                                                        \
            const T v = 0;                                                                         \
            BODY                                                                                   \
        }                                                                                          \
        for (int64_t x = lo_; x < hi_; x++) {                                                      \
            const T v = (row)[(s) * x + (e).off];                                                  \
            BODY                                                                                   \
        }                                                                                          \
        for (int64_t x = hi_; x < (ow); x++) {                                                     \
            const T v = 0;                                                                         \
            BODY                                                                                   \
        }                                                                                          \
    } while (0)

/* The mask value of entry k for the pick a: 1 or 0. */
#define MASK(T, a, k) ((T)((a) == (k) || (a) < 0))

/* Each kernel walks a plane entry k by entry k (ascending), and for each
 * the rows of windows, with selects and no branches in the rows. */
#define POOL_KERNELS(T)                                                                            \
    /* y = each window's max; argmax = its first entry equal to it, -1 for NaN. */                 \
    DZ_FMA_CLONES static void max_pool_planes_##T(void *vjob, int64_t begin, int64_t end)          \
    {                                                                                              \
        const pool_job *job = vjob;                                                                \
        int64_t hw = job->h * job->w, ohw = job->oh * job->ow, ow = job->ow, sw = job->g.sw;       \
        for (int64_t p = begin; p < end; p++) {                                                    \
            const T *x_plane = (const T *)job->src + p * hw;                                       \
            T *y_plane = (T *)job->dst + p * ohw;                                                  \
            int32_t *a_plane = job->argmax ? job->argmax + p * ohw : NULL;                         \
            if (a_plane)                                                                           \
                memset(a_plane, 0, (size_t)ohw * sizeof *a_plane);                                 \
            for (int64_t k = 0; k < job->g.kh * job->g.kw; k++) {                                  \
                window_entry e = entry_of(job, k);                                                 \
                int32_t k32 = (int32_t)k;                                                          \
                for (int64_t y = 0; y < job->oh; y++) {                                            \
                    int64_t r = image_row(job, &e, y);                                             \
                    const T *row = r >= 0 ? x_plane + r * job->w : NULL;                           \
                    T *restrict m = y_plane + y * ow;                                              \
                    int32_t *restrict a = a_plane ? a_plane + y * ow : NULL;                       \
                    if (k == 0)                                                                    \
                        FOR_ENTRIES(T, row, e, ow, sw, m[x] = v;);                                 \
                    else if (a)                                                                    \
                        FOR_ENTRIES(T, row, e, ow, sw, {                                           \
                            bool takes = v > m[x] || v != v;                                       \
                            m[x] = takes ? v : m[x];                                               \
                            a[x] = takes ? k32 : a[x];                                             \
                        });                                                                        \
                    else                                                                           \
                        FOR_ENTRIES(T, row, e, ow, sw, m[x] = v > m[x] || v != v ? v : m[x];);     \
                }                                                                                  \
            }                                                                                      \
            for (int64_t o = 0; a_plane && o < ohw; o++)                                           \
                a_plane[o] = y_plane[o] != y_plane[o] ? -1 : a_plane[o];                           \
        }                                                                                          \
    }                                                                                              \
    /* y = the sum from 0 of each window's entries times their mask values; */                    \
    /* the padding's terms (+0) leave a sum, never -0, as it is. */                                \
    DZ_FMA_CLONES static void pick_planes_##T(void *vjob, int64_t begin, int64_t end)              \
    {                                                                                              \
        const pool_job *job = vjob;                                                                \
        int64_t hw = job->h * job->w, ohw = job->oh * job->ow, ow = job->ow, sw = job->g.sw;       \
        for (int64_t p = begin; p < end; p++) {                                                    \
            const T *x_plane = (const T *)job->src + p * hw;                                       \
            T *y_plane = (T *)job->dst + p * ohw;                                                  \
            const int32_t *a_plane = job->argmax + p * ohw;                                        \
            memset(y_plane, 0, (size_t)ohw * sizeof(T));                                           \
            for (int64_t k = 0; k < job->g.kh * job->g.kw; k++) {                                  \
                window_entry e = entry_of(job, k);                                                 \
                for (int64_t y = 0; y < job->oh; y++) {                                            \
                    int64_t r = image_row(job, &e, y);                                             \
                    if (r < 0)                                                                     \
                        continue;                                                                  \
                    const T *restrict row = x_plane + r * job->w;                                  \
                    T *restrict sum = y_plane + y * ow;                                            \
                    const int32_t *restrict a = a_plane + y * ow;                                  \
                    for (int64_t x = e.lo; x < e.hi; x++)                                          \
                        sum[x] += row[sw * x + e.off] * MASK(T, a[x], k);                          \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* gx = 0 plus gy times each entry's mask value at its pixel, entry k */                      \
    /* ascending: col2im's order. */                                                               \
    DZ_FMA_CLONES static void backward_planes_##T(void *vjob, int64_t begin, int64_t end)          \
    {                                                                                              \
        const pool_job *job = vjob;                                                                \
        int64_t hw = job->h * job->w, ohw = job->oh * job->ow, ow = job->ow, sw = job->g.sw;       \
        for (int64_t p = begin; p < end; p++) {                                                    \
            const T *gy_plane = (const T *)job->src + p * ohw;                                     \
            T *gx_plane = (T *)job->dst + p * hw;                                                  \
            const int32_t *a_plane = job->argmax + p * ohw;                                        \
            memset(gx_plane, 0, (size_t)hw * sizeof(T));                                           \
            for (int64_t k = 0; k < job->g.kh * job->g.kw; k++) {                                  \
                window_entry e = entry_of(job, k);                                                 \
                for (int64_t y = 0; y < job->oh; y++) {                                            \
                    int64_t r = image_row(job, &e, y);                                             \
                    if (r < 0)                                                                     \
                        continue;                                                                  \
                    T *restrict gx = gx_plane + r * job->w;                                        \
                    const T *restrict gy = gy_plane + y * ow;                                      \
                    const int32_t *restrict a = a_plane + y * ow;                                  \
                    for (int64_t x = e.lo; x < e.hi; x++)                                          \
                        gx[sw * x + e.off] += MASK(T, a[x], k) * gy[x];                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

POOL_KERNELS(float)
POOL_KERNELS(double)

static int64_t plane_cost(const pool_job *job) { return job->g.kh * job->g.kw * job->oh * job->ow; }

void dz_cpu_max_pool(const dz_array *x, const dz_conv_geom *g, dz_array *y, dz_array *argmax)
{
    pool_job job = job_of(x, g, x->data, y->data, argmax ? argmax->data : NULL);
    dz_parallel_for(x->shape[0] * x->shape[1], plane_cost(&job),
                    x->dtype == DZ_F32 ? max_pool_planes_float : max_pool_planes_double, &job);
}

void dz_cpu_max_pool_pick(const dz_array *x, const dz_array *argmax, const dz_conv_geom *g, dz_array *y)
{
    pool_job job = job_of(x, g, x->data, y->data, argmax->data);
    dz_parallel_for(x->shape[0] * x->shape[1], plane_cost(&job),
                    x->dtype == DZ_F32 ? pick_planes_float : pick_planes_double, &job);
}

void dz_cpu_max_pool_backward(const dz_array *gy, const dz_array *argmax, const dz_conv_geom *g, dz_array *gx)
{
    pool_job job = job_of(gx, g, gy->data, gx->data, argmax->data);
    dz_parallel_for(gx->shape[0] * gx->shape[1], plane_cost(&job),
                    gx->dtype == DZ_F32 ? backward_planes_float : backward_planes_double, &job);
}

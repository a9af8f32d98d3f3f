/* PyTorch's float sum, to the bit (the fused sum_torch kernel): the order in
 * which PyTorch 1.13's CPU sum adds (ATen's cascade_sum, SumKernel.cpp) on
 * one thread, in its AVX2 build (vectors of W = 8 floats or 4 doubles).
 *
 * x is seen as (outer, reduced, inner); every output is its own sum over the
 * `reduced` rows, added to a zero (ATen adds into a zero-filled output):
 *   cascade over n rows: each row into a level-0 accumulator; after every 2^p
 *     rows level 0 is added into level 1 and zeroed, after every 2^2p rows
 *     level 1 into level 2, after every 2^3p rows level 2 into level 3
 *     (p = max(4, ceil(log2 n) / 4)); the rows left over go into level 0,
 *     then levels 1, 2 and 3 are added to it.
 *   four-way over n rows: rows 4q + k (k = 0..3) in four cascades of n / 4
 *     rows, the last n % 4 rows into the first, then ((s0 + s1) + s2) + s3.
 *   lines (inner == 1): n >= W elements are n / W vectors, each lane summed
 *     four-way over them; then 0 + the last n % W elements in order + the
 *     lanes in order. Shorter lines: four-way over the elements.
 *   columns (inner > 1): with inner >= W, the columns below the last whole
 *     block of 4W are each a cascade over the rows, the others four-way; with
 *     inner < W, the same with blocks of 4 columns.
 * Outputs are independent, so threads split them and the bits never depend on
 * the thread count. Reduced axes that are not adjacent, and integer sums
 * (exact in any order), take the reduce primitive. */
#include "cpu_kernels.h"
#include "cpu_parallel.h"

#define LEVELS 4
#define WAYS 4
#define MAX_LANES 8

/* ATen's level power: max(4, ceil(log2 n) / 4), where ceil(log2 n) is taken
 * as 1 for n <= 2. */
static int level_power(int64_t n)
{
    int ceil_log2 = 0;
    for (uint64_t v = n > 2 ? (uint64_t)n - 1 : 1; v; v >>= 1)
        ceil_log2++;
    return ceil_log2 / 4 > 4 ? ceil_log2 / 4 : 4;
}

/* The loops of one element type T:
 *   cascade: out[k][w] = the cascade over `count` rows i of
 *            x[i * row_stride + k * way_stride + w], k < ways, w < width;
 *   four_way: out[w] = the four-way sum over n rows i of x[i * stride + w];
 *   line: the sum of x (n) as a line of W-element vectors;
 *   columns: y[j] = 0 + the sum of column j of x (rows, inner), for the
 *            columns [begin, end) (whole blocks of the column rule). */
#define SUM_TORCH_LOOPS(T, W)                                                                       \
    static void cascade_##T(const T *x, int64_t row_stride, int64_t way_stride, int ways, int width,  \
                            int64_t count, T out[WAYS][MAX_LANES])                                  \
    {                                                                                               \
        int p = level_power(count);                                                                 \
        int64_t step = (int64_t)1 << p, mask = step - 1, i = 0;                                     \
        T acc[LEVELS][WAYS][MAX_LANES] = {{{0}}};                                                   \
        while (i + step <= count) {                                                                 \
            for (int64_t end = i + step; i < end; i++)                                              \
                for (int k = 0; k < ways; k++)                                                      \
                    for (int w = 0; w < width; w++)                                                 \
                        acc[0][k][w] += x[i * row_stride + k * way_stride + w];                     \
            for (int l = 1; l < LEVELS; l++) {                                                      \
                for (int k = 0; k < ways; k++)                                                      \
                    for (int w = 0; w < width; w++) {                                               \
                        acc[l][k][w] += acc[l - 1][k][w];                                           \
                        acc[l - 1][k][w] = 0;                                                       \
                    }                                                                               \
                if (i & (mask << (l * p)))                                                          \
                    break;                                                                          \
            }                                                                                       \
        }                                                                                           \
        for (; i < count; i++)                                                                      \
            for (int k = 0; k < ways; k++)                                                          \
                for (int w = 0; w < width; w++)                                                     \
                    acc[0][k][w] += x[i * row_stride + k * way_stride + w];                         \
        for (int k = 0; k < ways; k++)                                                              \
            for (int w = 0; w < width; w++) {                                                       \
                for (int l = 1; l < LEVELS; l++)                                                    \
                    acc[0][k][w] += acc[l][k][w];                                                   \
                out[k][w] = acc[0][k][w];                                                           \
            }                                                                                       \
    }                                                                                               \
    static void four_way_##T(const T *x, int64_t stride, int64_t n, int width, T out[MAX_LANES])      \
    {                                                                                               \
        T s[WAYS][MAX_LANES];                                                                       \
        int64_t quads = n / WAYS;                                                                   \
        cascade_##T(x, WAYS * stride, stride, WAYS, width, quads, s);                                \
        for (int64_t i = quads * WAYS; i < n; i++)                                                  \
            for (int w = 0; w < width; w++)                                                         \
                s[0][w] += x[i * stride + w];                                                       \
        for (int w = 0; w < width; w++) {                                                           \
            for (int k = 1; k < WAYS; k++)                                                          \
                s[0][w] += s[k][w];                                                                 \
            out[w] = s[0][w];                                                                       \
        }                                                                                           \
    }                                                                                               \
    static T line_##T(const T *x, int64_t n)                                                        \
    {                                                                                               \
        T lanes[MAX_LANES], total = 0;                                                              \
        if (n < W) {                                                                                \
            four_way_##T(x, 1, n, 1, lanes);                                                        \
            return (T)0 + lanes[0];                                                                 \
        }                                                                                           \
        four_way_##T(x, W, n / W, W, lanes);                                                        \
        for (int64_t i = n / W * W; i < n; i++)                                                     \
            total += x[i];                                                                          \
        for (int w = 0; w < W; w++)                                                                 \
            total += lanes[w];                                                                      \
        return (T)0 + total;                                                                        \
    }                                                                                               \
    static void columns_##T(const T *x, int64_t rows, int64_t inner, int64_t begin, int64_t end,     \
                            T *y)                                                                   \
    {                                                                                               \
        int width = inner >= W ? W : 1; /* one vector, or one column */                             \
        int64_t block = WAYS * width, blocks_end = inner / block * block, j = begin;                \
        T s[WAYS][MAX_LANES];                                                                       \
        for (; j + block <= end && j + block <= blocks_end; j += block) {                           \
            cascade_##T(x + j, inner, width, WAYS, width, rows, s);                                 \
            for (int k = 0; k < WAYS; k++)                                                          \
                for (int w = 0; w < width; w++)                                                     \
                    y[j + k * width + w] = (T)0 + s[k][w];                                          \
        }                                                                                           \
        for (; j + width <= end; j += width) {                                                      \
            four_way_##T(x + j, inner, rows, width, s[0]);                                          \
            for (int w = 0; w < width; w++)                                                         \
                y[j + w] = (T)0 + s[0][w];                                                          \
        }                                                                                           \
        for (; j < end; j++) {                                                                      \
            four_way_##T(x + j, inner, rows, 1, s[0]);                                              \
            y[j] = (T)0 + s[0][0];                                                                  \
        }                                                                                           \
    }

SUM_TORCH_LOOPS(float, 8)
SUM_TORCH_LOOPS(double, 4)

/* ---- threads: whole outputs per item ------------------------------------------ */

typedef struct {
    const void *x; // (outer, reduced, inner)
    void *y;       // (outer, inner)
    int64_t reduced, inner, chunks;
    bool f32;
} sum_job;

/* The column chunk: whole blocks of the widest column rule (4 vectors). */
#define COLUMN_CHUNK 32

static void line_items(void *vjob, int64_t begin, int64_t end)
{
    const sum_job *job = vjob;
    for (int64_t o = begin; o < end; o++)
        if (job->f32)
            ((float *)job->y)[o] = line_float((const float *)job->x + o * job->reduced, job->reduced);
        else
            ((double *)job->y)[o] = line_double((const double *)job->x + o * job->reduced, job->reduced);
}

static void column_items(void *vjob, int64_t begin, int64_t end)
{
    const sum_job *job = vjob;
    for (int64_t item = begin; item < end; item++) {
        int64_t o = item / job->chunks, j = item % job->chunks * COLUMN_CHUNK;
        int64_t j_end = j + COLUMN_CHUNK < job->inner ? j + COLUMN_CHUNK : job->inner;
        int64_t at = o * job->reduced * job->inner;
        if (job->f32)
            columns_float((const float *)job->x + at, job->reduced, job->inner, j, j_end,
                          (float *)job->y + o * job->inner);
        else
            columns_double((const double *)job->x + at, job->reduced, job->inner, j, j_end,
                           (double *)job->y + o * job->inner);
    }
}

void dz_cpu_sum_torch(const dz_array *x, dz_array *y)
{
    int64_t outer, reduced, inner;
    bool is_float = y->dtype == DZ_F32 || y->dtype == DZ_F64;
    if (!is_float || x->size == 0 || !dz_cpu_reduced_view(x, y, &outer, &reduced, &inner)) {
        dz_cpu_reduce(DZ_REDUCE_SUM, x, y);
        return;
    }
    sum_job job = {x->data, y->data, reduced, inner, (inner + COLUMN_CHUNK - 1) / COLUMN_CHUNK, y->dtype == DZ_F32};
    if (inner == 1)
        dz_parallel_for(outer, reduced, line_items, &job);
    else
        dz_parallel_for(outer * job.chunks, reduced * COLUMN_CHUNK, column_items, &job);
}

/* Matrix products on the CPU: C = alpha op(A) op(B) + beta C for one matrix or
 * a batch (dz_cpu_gemm), with the same bits for any number of threads.
 *
 * OpenBLAS cuts a product differently for each thread count, and each cut
 * rounds differently: a training run with 2 threads drifts away from one with
 * 1. So OpenBLAS runs on one thread (cpu_parallel.c) and the cut is ours: a
 * product is split into pieces whose bounds depend on its shape alone, each
 * piece is one single-threaded gemm call, and dz_parallel_for hands the pieces
 * to the threads. Which thread computes a piece does not change its bits.
 *
 * A piece is a band of C's rows, a band of its columns, or a stretch of the
 * inner dimension K:
 *  - a band of rows (columns) needs all of op(B) (op(A)), which OpenBLAS
 *    copies into its own layout again for every piece; the longer of C's two
 *    sides is cut, so that the operand copied again is the smaller one;
 *  - a stretch of K makes a product of C's size: the first stretch goes into
 *    C, the others into buffers that are then added into C in stretch order.
 *    K is cut when it is longer than both of C's sides and C is small.
 * Pieces are few, since each but the first costs a copy of an operand: as
 * much as some 15 to 20 more rows (or columns) of product, measured on
 * OpenBLAS's sgemm. A product is cut in two from 2 PIECE_MIN_LENGTH on,
 * which costs up to 4% on one thread and nearly halves the time on two;
 * more pieces, which only help with more threads, come one per
 * EXTRA_PIECE_LENGTH of length, which keeps their cost under about 2%. A
 * piece also does at least PIECE_MIN_WORK multiply-adds. There are at most
 * MAX_PIECES for the whole batch, and a power of two of them, which 2, 4,
 * 8... threads share evenly. When memory
 * for the buffers runs out, the product is cut along C instead. Without
 * cblas, a piece is a plain loop.
 *
 * A batch whose products all add into one C (a weight grad summed over the
 * images of a batch: each product small, too small to cut) is cut into
 * groups of consecutive products instead, as many as the shape allows by the
 * same rules: each group sums its products in order on one thread, the first
 * into C, the others into buffers, which are then added into C in group
 * order. */
#include "../../base/caching_allocator.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"

#ifdef DZ_HAVE_CBLAS
#include <cblas.h>
#endif

#define PIECE_MIN_LENGTH 256
#define EXTRA_PIECE_LENGTH 1024
#define PIECE_MIN_WORK ((int64_t)1 << 20)
#define MAX_PIECES 16
/* The buffers of a split along K hold at most this many elements. */
#define MAX_PARTIAL_ELEMENTS ((int64_t)1 << 20)
/* Piece bounds are multiples of this, so that only the last piece has a
 * ragged edge for the kernels' register blocks. */
#define PIECE_ALIGN 16

/* One product: C (m, n) = alpha op(A) op(B) + beta C, row-major, with
 * op(A) (m, k) and op(B) (k, n); ld* are the stored row lengths. */
typedef struct {
    dz_dtype dtype;
    bool ta, tb;
    int64_t m, n, k;
    double alpha, beta;
    const char *a, *b;
    char *c;
    int64_t lda, ldb, ldc;
} product;

#ifdef DZ_HAVE_CBLAS
static void gemm_one_thread(const product *p)
{
    enum CBLAS_TRANSPOSE opa = p->ta ? CblasTrans : CblasNoTrans, opb = p->tb ? CblasTrans : CblasNoTrans;
    if (p->dtype == DZ_F32)
        cblas_sgemm(CblasRowMajor, opa, opb, (int)p->m, (int)p->n, (int)p->k, (float)p->alpha, (const float *)p->a,
                    (int)p->lda, (const float *)p->b, (int)p->ldb, (float)p->beta, (float *)p->c, (int)p->ldc);
    else
        cblas_dgemm(CblasRowMajor, opa, opb, (int)p->m, (int)p->n, (int)p->k, p->alpha, (const double *)p->a,
                    (int)p->lda, (const double *)p->b, (int)p->ldb, p->beta, (double *)p->c, (int)p->ldc);
}
#else
#define GEMM_LOOPS(T)                                                                              \
    for (int64_t i = 0; i < p->m; i++)                                                             \
        for (int64_t j = 0; j < p->n; j++) {                                                       \
            double s = 0;                                                                          \
            for (int64_t q = 0; q < p->k; q++)                                                     \
                s += (double)((const T *)p->a)[p->ta ? q * p->lda + i : i * p->lda + q] *          \
                     ((const T *)p->b)[p->tb ? j * p->ldb + q : q * p->ldb + j];                   \
            T *cij = (T *)p->c + i * p->ldc + j;                                                   \
            *cij = (T)(p->alpha * s + (p->beta == 0 ? 0 : p->beta * *cij));                        \
        }
static void gemm_one_thread(const product *p)
{
    if (p->dtype == DZ_F32) {
        GEMM_LOOPS(float)
    } else {
        GEMM_LOOPS(double)
    }
}
#endif

/* ---- the cut ------------------------------------------------------------------ */

typedef enum { ALONG_ROWS, ALONG_COLUMNS, ALONG_INNER } split_axis;

/* `count` pieces of `length` along `axis` (the last one may be shorter). */
typedef struct {
    split_axis axis;
    int64_t count, length;
} split;

static int64_t axis_length(const product *p, split_axis axis)
{
    return axis == ALONG_ROWS ? p->m : axis == ALONG_COLUMNS ? p->n : p->k;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Whether `length` is long enough for `count` pieces (a power of two). */
static bool long_enough(int64_t length, int64_t count)
{
    return count == 2 ? length >= 2 * PIECE_MIN_LENGTH : (count - 1) * EXTRA_PIECE_LENGTH <= length;
}

/* The most pieces along `axis`, a power of two up to `most`, long enough,
 * with PIECE_MIN_WORK in each. */
static split split_along(const product *p, split_axis axis, int64_t most)
{
    int64_t length = axis_length(p, axis), work = p->m * p->n * p->k, count = 1;
    while (2 * count <= most && long_enough(length, 2 * count) && 2 * count * PIECE_MIN_WORK <= work)
        count *= 2;
    int64_t piece = ceil_div(ceil_div(length, count), PIECE_ALIGN) * PIECE_ALIGN;
    return (split){axis, ceil_div(length, piece), piece};
}

static split split_output(const product *p, int64_t most)
{
    return split_along(p, p->m >= p->n ? ALONG_ROWS : ALONG_COLUMNS, most);
}

/* Along C's longer side; along K when it is longer still, C's copies fit in
 * MAX_PARTIAL_ELEMENTS and that gives as many pieces (single products only:
 * a batch would need buffers for every product). */
static split choose_split(const product *p, int64_t batch)
{
    int64_t most = batch < MAX_PIECES ? MAX_PIECES / batch : 1;
    split output = split_output(p, most);
    if (batch > 1 || p->m * p->n == 0 || p->k <= axis_length(p, output.axis))
        return output;
    int64_t copies = MAX_PARTIAL_ELEMENTS / (p->m * p->n) + 1; /* C itself and the buffers */
    split inner = split_along(p, ALONG_INNER, copies < most ? copies : most);
    return inner.count > 1 && inner.count >= output.count ? inner : output;
}

/* The part of p that the piece [begin, end) along `axis` computes. Row r of
 * op(A) is row r of A, or column r when A is stored transposed; likewise for
 * op(B)'s columns. */
static product piece_of(const product *p, split_axis axis, int64_t begin, int64_t end)
{
    product q = *p;
    int64_t es = (int64_t)dz_dtype_bytes(p->dtype);
    switch (axis) {
    case ALONG_ROWS: /* rows of op(A) and of C */
        q.m = end - begin;
        q.a += (p->ta ? begin : begin * p->lda) * es;
        q.c += begin * p->ldc * es;
        break;
    case ALONG_COLUMNS: /* columns of op(B) and of C */
        q.n = end - begin;
        q.b += (p->tb ? begin * p->ldb : begin) * es;
        q.c += begin * es;
        break;
    case ALONG_INNER: /* columns of op(A), rows of op(B) */
        q.k = end - begin;
        q.a += (p->ta ? begin * p->lda : begin) * es;
        q.b += (p->tb ? begin : begin * p->ldb) * es;
        break;
    }
    return q;
}

/* ---- running the pieces ---------------------------------------------------------- */

typedef struct {
    product first;                        /* the batch's first product */
    int64_t stride_a, stride_b, stride_c; /* elements between products */
    split cut;      /* a batch summed into one C: cut.count groups of products */
    int64_t batch;  /* a batch summed into one C: its size */
    char *partials; /* along K: (cut.count - 1, m, n), the products of stretches 1.. (or of groups 1..) */
} gemm_job;

/* Items are (product, piece) pairs, product-major. */
static void run_pieces(void *vjob, int64_t begin, int64_t end)
{
    const gemm_job *job = vjob;
    const product *p = &job->first;
    int64_t es = (int64_t)dz_dtype_bytes(p->dtype), length = axis_length(p, job->cut.axis);
    for (int64_t item = begin; item < end; item++) {
        int64_t index = item / job->cut.count, piece = item % job->cut.count;
        product whole = *p;
        whole.a += index * job->stride_a * es;
        whole.b += index * job->stride_b * es;
        whole.c += index * job->stride_c * es;
        int64_t from = piece * job->cut.length, to = from + job->cut.length < length ? from + job->cut.length : length;
        product q = piece_of(&whole, job->cut.axis, from, to);
        if (job->cut.axis == ALONG_INNER && piece > 0) {
            q.c = job->partials + (piece - 1) * p->m * p->n * es;
            q.ldc = p->n;
            q.beta = 0;
        }
        gemm_one_thread(&q);
    }
}

/* C's rows [begin, end) += each buffer's, in stretch order. */
#define ADD_PARTIALS(T)                                                                           \
    for (int64_t i = begin; i < end; i++) {                                                       \
        T *restrict c = (T *)p->c + i * p->ldc;                                                   \
        for (int64_t s = 1; s < job->cut.count; s++) {                                            \
            const T *restrict part = (const T *)job->partials + ((s - 1) * p->m + i) * p->n;       \
            for (int64_t j = 0; j < p->n; j++)                                                    \
                c[j] += part[j];                                                                  \
        }                                                                                         \
    }
static void add_partials(void *vjob, int64_t begin, int64_t end)
{
    const gemm_job *job = vjob;
    const product *p = &job->first;
    if (p->dtype == DZ_F32) {
        ADD_PARTIALS(float)
    } else {
        ADD_PARTIALS(double)
    }
}

/* Runs `batch` products whose Cs do not overlap. */
static void gemm_batch(gemm_job *job, int64_t batch)
{
    const product *p = &job->first;
    job->cut = choose_split(p, batch);
    size_t partial_bytes = 0;
    dz_caching_allocator *memory = dz_backend_cpu()->memory;
    if (job->cut.axis == ALONG_INNER) {
        partial_bytes = (size_t)((job->cut.count - 1) * p->m * p->n) * dz_dtype_bytes(p->dtype);
        job->partials = dz_cache_alloc(memory, partial_bytes);
        if (!job->partials) /* out of memory: a cut that needs no buffers */
            job->cut = split_output(p, MAX_PIECES);
    }
    int64_t work = p->m * p->n * p->k / job->cut.count; /* multiply-adds per piece */
    dz_parallel_for(batch * job->cut.count, work, run_pieces, job);
    if (job->cut.axis == ALONG_INNER) {
        dz_parallel_for(p->m, p->n * (job->cut.count - 1), add_partials, job);
        dz_cache_free(memory, job->partials, partial_bytes);
    }
}

/* ---- a batch summed into one C ----------------------------------------------------- */

/* The products of group g of `groups` (a power of two), [begin, end). */
static void group_range(int64_t batch, int64_t groups, int64_t g, int64_t *begin, int64_t *end)
{
    *begin = batch * g / groups;
    *end = batch * (g + 1) / groups;
}

/* Items are groups: group 0 adds its products into C in order, group g > 0
 * into its buffer from 0. */
static void run_groups(void *vjob, int64_t begin, int64_t end)
{
    const gemm_job *job = vjob;
    const product *p = &job->first;
    int64_t es = (int64_t)dz_dtype_bytes(p->dtype);
    for (int64_t g = begin; g < end; g++) {
        int64_t from, to;
        group_range(job->batch, job->cut.count, g, &from, &to);
        for (int64_t i = from; i < to; i++) {
            product q = *p;
            q.a += i * job->stride_a * es;
            q.b += i * job->stride_b * es;
            if (g > 0) {
                q.c = job->partials + (g - 1) * p->m * p->n * es;
                q.ldc = p->n;
            }
            if (i > from || g > 0)
                q.beta = i > from ? 1 : 0;
            gemm_one_thread(&q);
        }
    }
}

/* The groups a batch summed into one C is cut into: a power of two up to
 * MAX_PIECES and the batch, fixed by the shape, with PIECE_MIN_WORK in each
 * and the buffers within MAX_PARTIAL_ELEMENTS. */
static int64_t group_count(const product *p, int64_t batch)
{
    int64_t work = p->m * p->n * p->k * batch, count = 1;
    while (2 * count <= MAX_PIECES && 2 * count <= batch && 2 * count * PIECE_MIN_WORK <= work &&
           (2 * count - 1) * p->m * p->n <= MAX_PARTIAL_ELEMENTS)
        count *= 2;
    return count;
}

/* C = alpha sum_i op(A_i) op(B_i) + beta C. In groups of consecutive
 * products, each summed in order on one thread, the groups then added into
 * C in group order: the cut depends on the shape alone. One group (or no
 * memory for the buffers): the products one after another, each cut as
 * gemm_batch cuts it. */
static void gemm_sum(gemm_job *job, int64_t batch)
{
    const product *p = &job->first;
    job->batch = batch;
    job->cut = (split){ALONG_INNER, group_count(p, batch), 0};
    size_t partial_bytes = (size_t)((job->cut.count - 1) * p->m * p->n) * dz_dtype_bytes(p->dtype);
    dz_caching_allocator *memory = dz_backend_cpu()->memory;
    job->partials = job->cut.count > 1 ? dz_cache_alloc(memory, partial_bytes) : NULL;
    if (job->partials) {
        dz_parallel_for(job->cut.count, p->m * p->n * p->k * (batch / job->cut.count), run_groups, job);
        dz_parallel_for(p->m, p->n * (job->cut.count - 1), add_partials, job);
        dz_cache_free(memory, job->partials, partial_bytes);
        return;
    }
    int64_t es = (int64_t)dz_dtype_bytes(p->dtype);
    for (int64_t i = 0; i < batch; i++) { /* every product adds into the one C: in order */
        gemm_batch(job, 1);
        job->first.a += job->stride_a * es;
        job->first.b += job->stride_b * es;
        job->first.beta = 1;
    }
}

void dz_cpu_gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t lda, int64_t stride_a,
                 const void *b, int64_t ldb, int64_t stride_b,
                 double beta, void *c, int64_t ldc, int64_t stride_c, int64_t batch)
{
    gemm_job job = {.first = {dtype, trans_a, trans_b, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc},
                    .stride_a = stride_a, .stride_b = stride_b, .stride_c = stride_c};
    if (stride_c != 0 || batch == 1)
        gemm_batch(&job, batch);
    else
        gemm_sum(&job, batch);
}

/* CPU reductions: sum, max and min over axes (dz_cpu_reduce); the fused
 * sum in PyTorch's order is cpu_sum_torch.c.
 *
 * When its reduced axes are adjacent, x is seen as (outer, reduced, inner).
 * Columns (inner > 1) are reduced one row after another, a loop that
 * vectorizes across the columns; lines (inner == 1) in 16 interleaved lanes.
 * The order of a float sum, and so its bits, depends on the shape alone:
 *   - columns: the rows are added in blocks of about DZ_GRAIN elements, each
 *     block from 0 in row order, then the blocks in order. An array within
 *     the grain is one block.
 *   - lines, in an array within the grain: each last-axis row is added in
 *     order, then the rows in order (one add after another: the bits the
 *     library always gave).
 *   - lines, above the grain: blocks of DZ_GRAIN elements, each in 16 lanes
 *     added pairwise at the end, then the blocks in order.
 * Max and min take the first of equal values and the last NaN; their
 * vectorized search redoes a line in order when that could show (a zero or a
 * NaN result). Reduced axes that are not adjacent are walked row by row on one
 * thread. Integer sums wrap around through unsigned arithmetic. */
#include <math.h>
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"

#define LANES 16

/* The loops of one dtype, on untyped buffers. */
typedef struct {
    /* *out = the sum (in lanes), max or min of x (n) */
    void (*line)(dz_reduce_op op, const void *x, int64_t n, void *out);
    /* *out = the sum of x (n) by rows of `row` elements, each in order */
    void (*line_in_order)(const void *x, int64_t n, int64_t row, void *out);
    /* out (width) = the sum from 0, max or min of `rows` rows of x, row r at
     * x + r * stride */
    void (*columns)(dz_reduce_op op, const void *x, int64_t rows, int64_t stride, int64_t width, void *out);
    /* acc (n) = acc + p, or the max or min of the two */
    void (*combine)(dz_reduce_op op, void *acc, const void *p, int64_t n);
} reduce_loops;

/* v replaces m when it is further in the direction CMP (> for max), or NaN. */
#define TAKES(v, CMP, m) (((v) CMP (m)) | ((v) != (v)))
#define W(v) ((wrap_t)(v))

#define EXTREME_LINE(T, NAME, CMP)                                                                 \
    static T NAME##_in_order(const T *x, int64_t n)                                                \
    {                                                                                              \
        T m = x[0];                                                                                \
        for (int64_t i = 1; i < n; i++)                                                            \
            m = TAKES(x[i], CMP, m) ? x[i] : m;                                                    \
        return m;                                                                                  \
    }                                                                                              \
    DZ_FMA_CLONES static T NAME(const T *x, int64_t n)                                             \
    {                                                                                              \
        T acc[LANES];                                                                              \
        for (int k = 0; k < LANES; k++)                                                            \
            acc[k] = x[0];                                                                         \
        int64_t i = 0;                                                                             \
        for (; i + LANES <= n; i += LANES)                                                         \
            DZ_LANE_LOOP for (int k = 0; k < LANES; k++)                                           \
                acc[k] = TAKES(x[i + k], CMP, acc[k]) ? x[i + k] : acc[k];                         \
        for (int k = 0; i + k < n; k++)                                                            \
            acc[k] = TAKES(x[i + k], CMP, acc[k]) ? x[i + k] : acc[k];                             \
        T m = acc[0];                                                                              \
        for (int k = 1; k < LANES; k++)                                                            \
            m = TAKES(acc[k], CMP, m) ? acc[k] : m;                                                \
        return m == 0 || m != m ? NAME##_in_order(x, n) : m;                                       \
    }

#define REDUCE_LOOPS(T, U, S)                                                                      \
    DZ_FMA_CLONES static T sum_lanes_##S(const T *x, int64_t n)                                    \
    {                                                                                              \
        typedef U wrap_t;                                                                          \
        wrap_t acc[LANES] = {0};                                                                   \
        int64_t i = 0;                                                                             \
        for (; i + LANES <= n; i += LANES)                                                         \
            for (int k = 0; k < LANES; k++)                                                        \
                acc[k] += W(x[i + k]);                                                             \
        for (int k = 0; i + k < n; k++)                                                            \
            acc[k] += W(x[i + k]);                                                                 \
        for (int half = LANES / 2; half > 0; half /= 2)                                            \
            for (int k = 0; k < half; k++)                                                         \
                acc[k] += acc[k + half];                                                           \
        return (T)acc[0];                                                                          \
    }                                                                                              \
    EXTREME_LINE(T, max_lanes_##S, >)                                                              \
    EXTREME_LINE(T, min_lanes_##S, <)                                                              \
    static void line_##S(dz_reduce_op op, const void *x, int64_t n, void *out)                     \
    {                                                                                              \
        *(T *)out = op == DZ_REDUCE_SUM ? sum_lanes_##S(x, n)                                      \
                  : op == DZ_REDUCE_MAX ? max_lanes_##S(x, n)                                      \
                                        : min_lanes_##S(x, n);                                     \
    }                                                                                              \
    static void line_in_order_##S(const void *vx, int64_t n, int64_t row, void *out)               \
    {                                                                                              \
        typedef U wrap_t;                                                                          \
        const T *x = vx;                                                                           \
        wrap_t total = 0;                                                                          \
        for (int64_t r = 0; r < n; r += row) {                                                     \
            wrap_t s = 0;                                                                          \
            for (int64_t i = r; i < r + row; i++)                                                  \
                s += W(x[i]);                                                                      \
            total += s;                                                                            \
        }                                                                                          \
        *(T *)out = (T)total;                                                                      \
    }                                                                                              \
    DZ_FMA_CLONES static void columns_##S(dz_reduce_op op, const void *vx, int64_t rows,           \
                                          int64_t stride, int64_t width, void *vout)               \
    {                                                                                              \
        typedef U wrap_t;                                                                          \
        const T *x = vx;                                                                           \
        T *restrict out = vout; /* (width) */                                                      \
        if (op == DZ_REDUCE_SUM) {                                                                 \
            for (int64_t j = 0; j < width; j++)                                                    \
                out[j] = 0;                                                                        \
            for (int64_t r = 0; r < rows; r++)                                                     \
                for (int64_t j = 0; j < width; j++)                                                \
                    out[j] = (T)(W(out[j]) + W(x[r * stride + j]));                                \
            return;                                                                                \
        }                                                                                          \
        memcpy(out, x, (size_t)width * sizeof(T));                                                 \
        for (int64_t r = 1; r < rows; r++)                                                         \
            if (op == DZ_REDUCE_MAX)                                                               \
                for (int64_t j = 0; j < width; j++)                                                \
                    out[j] = TAKES(x[r * stride + j], >, out[j]) ? x[r * stride + j] : out[j];     \
            else                                                                                   \
                for (int64_t j = 0; j < width; j++)                                                \
                    out[j] = TAKES(x[r * stride + j], <, out[j]) ? x[r * stride + j] : out[j];     \
    }                                                                                              \
    DZ_FMA_CLONES static void combine_##S(dz_reduce_op op, void *vacc, const void *vp, int64_t n)  \
    {                                                                                              \
        typedef U wrap_t;                                                                          \
        T *restrict acc = vacc; /* (n) */                                                          \
        const T *restrict p = vp; /* (n) */                                                        \
        if (op == DZ_REDUCE_SUM)                                                                   \
            for (int64_t j = 0; j < n; j++)                                                        \
                acc[j] = (T)(W(acc[j]) + W(p[j]));                                                 \
        else if (op == DZ_REDUCE_MAX)                                                              \
            for (int64_t j = 0; j < n; j++)                                                        \
                acc[j] = TAKES(p[j], >, acc[j]) ? p[j] : acc[j];                                   \
        else                                                                                       \
            for (int64_t j = 0; j < n; j++)                                                        \
                acc[j] = TAKES(p[j], <, acc[j]) ? p[j] : acc[j];                                   \
    }                                                                                              \
    static const reduce_loops loops_##S = {line_##S, line_in_order_##S, columns_##S, combine_##S};

REDUCE_LOOPS(float, float, f32)
REDUCE_LOOPS(double, double, f64)
REDUCE_LOOPS(int32_t, uint32_t, i32)
REDUCE_LOOPS(int64_t, uint64_t, i64)

/* ---- the reduction of an (outer, reduced, inner) view ------------------------ */

typedef struct {
    dz_reduce_op op;
    const reduce_loops *loops;
    size_t es;                       /* element size */
    const char *x;                   // (outer, reduced, inner)
    char *y;                         // (outer, inner)
    int64_t outer, reduced, inner;
    int64_t block;                   /* rows (columns) or elements (lines) per block */
    int64_t line;                    /* the line that a line's blocks belong to */
} reduction;

static const char *x_at(const reduction *r, int64_t o, int64_t row, int64_t j)
{
    return r->x + (size_t)((o * r->reduced + row) * r->inner + j) * r->es;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Folds a partial result into out (n elements), or starts out with it. */
static void fold(const reduction *r, bool start, void *out, const void *partial, int64_t n)
{
    if (start)
        memcpy(out, partial, (size_t)n * r->es);
    else
        r->loops->combine(r->op, out, partial, n);
}

/* Columns, by items of up to `chunk` columns of one outer index; each item
 * takes its blocks in order. */
static int64_t column_chunk(const reduction *r) { return DZ_PARTIAL_BYTES / (int64_t)r->es; }

static void column_items(void *vr, int64_t begin, int64_t end)
{
    const reduction *r = vr;
    int64_t chunk = column_chunk(r), chunks = (r->inner + chunk - 1) / chunk;
    _Alignas(64) unsigned char partial[DZ_PARTIAL_BYTES]; // (width)
    for (int64_t item = begin; item < end; item++) {
        int64_t o = item / chunks, j = item % chunks * chunk, width = min64(chunk, r->inner - j);
        char *out = r->y + (size_t)(o * r->inner + j) * r->es;
        for (int64_t b = 0, row = 0; row < r->reduced; b++, row += r->block) {
            int64_t rows = min64(r->block, r->reduced - row);
            r->loops->columns(r->op, x_at(r, o, row, j), rows, r->inner, width, b == 0 ? (void *)out : partial);
            if (b > 0)
                fold(r, false, out, partial, width);
        }
    }
}

/* Columns of one narrow (outer == 1, inner <= chunk) tall array, by blocks. */
static void column_block_partial(void *vr, int64_t b, void *out)
{
    const reduction *r = vr;
    int64_t row = b * r->block;
    r->loops->columns(r->op, x_at(r, 0, row, 0), min64(r->block, r->reduced - row), r->inner, r->inner, out);
}

static void column_block_combine(void *vr, int64_t b, const void *partial)
{
    const reduction *r = vr;
    fold(r, b == 0, r->y, partial, r->inner);
}

static void reduce_columns(reduction *r)
{
    r->block = DZ_GRAIN / r->inner > 1 ? DZ_GRAIN / r->inner : 1;
    int64_t chunk = column_chunk(r), items = r->outer * ((r->inner + chunk - 1) / chunk);
    int64_t blocks = (r->reduced + r->block - 1) / r->block;
    if (items > 1 || blocks == 1) {
        dz_parallel_for(items, r->reduced * min64(chunk, r->inner), column_items, r);
        return;
    }
    dz_block_reduction by_blocks = {column_block_partial, column_block_combine, (size_t)r->inner * r->es};
    dz_parallel_reduce(&by_blocks, blocks, r->block * r->inner, r);
}

/* Lines: whole lines per item, or one long line by blocks. */
static void line_items(void *vr, int64_t begin, int64_t end)
{
    const reduction *r = vr;
    for (int64_t o = begin; o < end; o++)
        r->loops->line(r->op, x_at(r, o, 0, 0), r->reduced, r->y + (size_t)o * r->es);
}

static void line_block_partial(void *vr, int64_t b, void *out)
{
    const reduction *r = vr;
    int64_t at = b * r->block;
    r->loops->line(r->op, x_at(r, r->line, at, 0), min64(r->block, r->reduced - at), out);
}

static void line_block_combine(void *vr, int64_t b, const void *partial)
{
    const reduction *r = vr;
    fold(r, b == 0, r->y + (size_t)r->line * r->es, partial, 1);
}

/* `row`: the length of x's last axis, the rows a sum within the grain adds in order. */
static void reduce_lines(reduction *r, int64_t row)
{
    if (r->op == DZ_REDUCE_SUM && r->outer * r->reduced <= DZ_GRAIN) {
        for (int64_t o = 0; o < r->outer; o++)
            r->loops->line_in_order(x_at(r, o, 0, 0), r->reduced, row, r->y + (size_t)o * r->es);
        return;
    }
    r->block = DZ_GRAIN;
    if (r->reduced <= r->block) {
        dz_parallel_for(r->outer, r->reduced, line_items, r);
        return;
    }
    dz_block_reduction by_blocks = {line_block_partial, line_block_combine, r->es};
    for (r->line = 0; r->line < r->outer; r->line++)
        dz_parallel_reduce(&by_blocks, (r->reduced + r->block - 1) / r->block, r->block, r);
}

static void reduce_view(reduction *r, int64_t row)
{
    if (r->inner > 1)
        reduce_columns(r);
    else
        reduce_lines(r, row);
}

/* ---- any axes ---------------------------------------------------------------- */

/* Reduced axes that are not adjacent: x row by row in C order, on one thread.
 * A row starts each of its outputs when it is the first of its group. */
static void reduce_rows_in_order(const reduction *r, const dz_array *x, const dz_array *y)
{
    int last = x->ndim - 1;
    int64_t ystride[DZ_MAX_NDIM], index[DZ_MAX_NDIM] = {0}, s = 1, n = x->shape[last], yoff = 0;
    for (int i = last; i >= 0; i--) {
        ystride[i] = y->shape[i] != x->shape[i] ? 0 : s;
        s *= y->shape[i];
    }
    _Alignas(8) unsigned char value[8]; /* one element */
    for (int64_t row = 0; row < x->size / n; row++) {
        const char *xrow = r->x + (size_t)(row * n) * r->es;
        char *out = r->y + (size_t)yoff * r->es;
        bool first = true;
        for (int i = 0; i < last; i++)
            first = first && (ystride[i] != 0 || index[i] == 0);
        if (ystride[last] == 0) { /* the row reduces to one output */
            if (r->op == DZ_REDUCE_SUM)
                r->loops->line_in_order(xrow, n, n, value);
            else
                r->loops->line(r->op, xrow, n, value);
            fold(r, first, out, value, 1);
        } else if (first) {
            r->loops->columns(r->op, xrow, 1, n, n, out);
        } else {
            r->loops->combine(r->op, out, xrow, n);
        }
        for (int i = last - 1; i >= 0; i--) { /* odometer over the outer axes */
            index[i]++;
            yoff += ystride[i];
            if (index[i] < x->shape[i])
                break;
            yoff -= ystride[i] * index[i];
            index[i] = 0;
        }
    }
}

/* ---- entry points ----------------------------------------------------------- */

static const reduce_loops *loops_for(dz_dtype dtype)
{
    return dtype == DZ_F32 ? &loops_f32 : dtype == DZ_F64 ? &loops_f64 : dtype == DZ_I32 ? &loops_i32 : &loops_i64;
}

/* x as (outer, reduced, inner) when the axes y reduces (size 1 in y, not in x)
 * are adjacent, ignoring axes of size 1; false otherwise. */
bool dz_cpu_reduced_view(const dz_array *x, const dz_array *y, int64_t *outer, int64_t *reduced, int64_t *inner)
{
    int first = -1, last = -1;
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != y->shape[i]) {
            first = first < 0 ? i : first;
            last = i;
        }
    for (int i = first + 1; i < last; i++)
        if (x->shape[i] == y->shape[i] && x->shape[i] != 1)
            return false;
    *outer = *reduced = *inner = 1;
    for (int i = 0; i < x->ndim; i++)
        *(first < 0 || i > last ? inner : i < first ? outer : reduced) *= x->shape[i];
    return true;
}

void dz_cpu_reduce(dz_reduce_op op, const dz_array *x, dz_array *y)
{
    if (x->size == 0) {
        dz_cpu_fill(y, op == DZ_REDUCE_SUM ? 0.0 : op == DZ_REDUCE_MAX ? -INFINITY : INFINITY);
        return;
    }
    reduction r = {.op = op, .loops = loops_for(y->dtype), .es = dz_dtype_bytes(y->dtype), .x = x->data, .y = y->data};
    if (dz_cpu_reduced_view(x, y, &r.outer, &r.reduced, &r.inner))
        reduce_view(&r, x->ndim ? x->shape[x->ndim - 1] : 1);
    else
        reduce_rows_in_order(&r, x, y);
}

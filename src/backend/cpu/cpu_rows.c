/* CPU row primitives: gather_rows, index_add_rows and index_range (backend.h).
 * Embedding lookups and grads, getitem by rows and the sparse grads all run
 * on these two loops.
 *
 * Table rows are touched in random order, each a cache (and often a TLB)
 * miss: the loops ask for the row of entry i + PREFETCH_DISTANCE while
 * working on entry i. The per-row work is a short loop with restrict
 * pointers, inlined into kernels built with DZ_FMA_CLONES (cpu_clones.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../base/base.h"
#include "cpu_clones.h"
#include "cpu_kernels.h"

#define PREFETCH_DISTANCE 8

static inline void prefetch(const void *row, size_t nbytes, int for_write)
{
    for (size_t off = 0; off < nbytes; off += 64) {
        if (for_write)
            __builtin_prefetch((const char *)row + off, 1, 0);
        else
            __builtin_prefetch((const char *)row + off, 0, 0);
    }
}

/* Elements per row of a table (R, ...). */
static int64_t row_width(const dz_array *table)
{
    return table->ndim == 0 || table->shape[0] == 0 ? 0 : table->size / table->shape[0];
}

/* A large output freshly allocated (untouched, zero) would take one page
 * fault per 4 KiB page as the loop first writes it, which dominates the gather
 * and the dense grad (and costs far more under virtualisation). Ask for huge
 * pages on its aligned interior and fault it in with one call instead. The
 * contents are unchanged; on systems without these advices nothing happens. */
void dz_cpu_prepare_output(void *data, size_t nbytes)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_POPULATE_WRITE)
    const uintptr_t page = 4096, huge = (uintptr_t)2 << 20;
    if (nbytes < 2 * huge)
        return;
    uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1), end = ((uintptr_t)data + nbytes) & ~(page - 1);
    uintptr_t huge_start = (start + huge - 1) & ~(huge - 1), huge_end = end & ~(huge - 1);
    if (huge_end > huge_start)
        madvise((void *)huge_start, huge_end - huge_start, MADV_HUGEPAGE);
    madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
    (void)data;
    (void)nbytes;
#endif
}

/* ---- gather_rows: y (n, D) = table[rows] ---------------------------------- */

void dz_cpu_gather_rows(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y)
{
    const size_t row = (size_t)row_width(table) * dz_dtype_bytes(table->dtype);
    const char *src = table->data; // (R, D)
    char *dst = y->data;           // (n, D)
    const int64_t n = rows->size;
    dz_cpu_prepare_output(dst, (size_t)n * row);
    for (int64_t i = 0; i < n; i++) {
        if (i + PREFETCH_DISTANCE < n)
            prefetch(src + (size_t)dz_index_at(rows->data, rows->dtype, i + PREFETCH_DISTANCE) * row, row, 0);
        int64_t k = dz_index_at(rows->data, rows->dtype, i);
        if (k == skip)
            memset(dst + (size_t)i * row, 0, row);
        else
            memcpy(dst + (size_t)i * row, src + (size_t)k * row, row);
    }
}

/* ---- index_add_rows: table[rows[i]] += alpha * x[i] ------------------------ */

int64_t *dz_cpu_row_counts(const dz_array *rows, int64_t num_rows)
{
    int64_t *counts = dz_xcalloc((size_t)(num_rows ? num_rows : 1), sizeof *counts);
    for (int64_t i = 0; i < rows->size; i++)
        counts[dz_index_at(rows->data, rows->dtype, i)]++;
    return counts;
}

/* The terms run in input order. Integers add wrapping through U. */
#define DEFINE_INDEX_ADD(T, U, FMA)                                                                \
    static inline void add_row_##T(T *restrict y, const T *restrict x, int64_t d)                  \
    {                                                                                              \
        for (int64_t j = 0; j < d; j++)                                                            \
            y[j] = (T)((U)y[j] + (U)x[j]);                                                         \
    }                                                                                              \
    /* y = fma(x, s, y): one rounding, as PyTorch's vectorised add with alpha */                   \
    static inline void fma_row_##T(T *restrict y, const T *restrict x, T s, int64_t d)             \
    {                                                                                              \
        for (int64_t j = 0; j < d; j++)                                                            \
            y[j] = FMA(x[j], s, y[j]);                                                             \
    }                                                                                              \
    DZ_FMA_CLONES static void index_add_##T(T *table, const dz_array *rows, const T *x, int64_t d, double alpha, \
                                            int64_t skip, const int64_t *counts)                   \
    {                                                                                              \
        const int64_t n = rows->size;                                                              \
        const bool plain = alpha == 1 && !counts;                                                  \
        for (int64_t i = 0; i < n; i++) {                                                          \
            if (i + PREFETCH_DISTANCE < n)                                                         \
                prefetch(table + dz_index_at(rows->data, rows->dtype, i + PREFETCH_DISTANCE) * d,      \
                         (size_t)d * sizeof(T), 1);                                                \
            int64_t k = dz_index_at(rows->data, rows->dtype, i);                                   \
            if (k == skip)                                                                         \
                continue;                                                                          \
            if (plain)                                                                             \
                add_row_##T(table + k * d, x + i * d, d);                                          \
            else                                                                                   \
                fma_row_##T(table + k * d, x + i * d, (T)(counts ? alpha / (double)counts[k] : alpha), d); \
        }                                                                                          \
    }

#define INT_FMA(a, b, c) ((c) + (a) * (b)) /* integers take alpha 1 only */
DEFINE_INDEX_ADD(float, float, fmaf)
DEFINE_INDEX_ADD(double, double, fma)
DEFINE_INDEX_ADD(int32_t, uint32_t, INT_FMA)
DEFINE_INDEX_ADD(int64_t, uint64_t, INT_FMA)

void dz_cpu_index_add_rows(dz_array *table, const dz_array *rows, const dz_array *x, double alpha, int64_t skip,
                           bool scale_by_count)
{
    const int64_t d = row_width(table), R = table->ndim ? table->shape[0] : 0;
    int64_t *counts = scale_by_count ? dz_cpu_row_counts(rows, R) : NULL;
    dz_cpu_prepare_output(table->data, (size_t)table->size * dz_dtype_bytes(table->dtype));
    switch (table->dtype) {
    case DZ_F32: index_add_float(table->data, rows, x->data, d, alpha, skip, counts); break;
    case DZ_F64: index_add_double(table->data, rows, x->data, d, alpha, skip, counts); break;
    case DZ_I32: index_add_int32_t(table->data, rows, x->data, d, 1, skip, NULL); break;
    case DZ_I64: index_add_int64_t(table->data, rows, x->data, d, 1, skip, NULL); break;
    default: break;
    }
    free(counts);
}

/* ---- index_range ----------------------------------------------------------- */

void dz_cpu_index_range(const dz_array *idx, int64_t *min, int64_t *max)
{
    int64_t lo = dz_index_at(idx->data, idx->dtype, 0), hi = lo;
    for (int64_t i = 1; i < idx->size; i++) {
        int64_t v = dz_index_at(idx->data, idx->dtype, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *min = lo;
    *max = hi;
}

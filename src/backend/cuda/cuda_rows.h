/* The deterministic row accumulation of index_add_rows (cuda_rows.cu), for
 * the kernels that add entries into the rows of a table without atomics: the
 * entries are sorted by row, stably, so the entries of one row form a run in
 * input order, and the first entry of each run sums the run's terms into the
 * table, one thread per column. Those are the operations of the CPU's loop
 * over the entries, in the same order: the same bits. */
#ifndef DEZERO_CUDA_ROWS_H
#define DEZERO_CUDA_ROWS_H

#include <math.h>

#include "cuda_common.h"

namespace dzc {

/* The entries sorted by row: rows[k] (n,) ascending, terms[k] the input
 * position of entry k. */
struct sorted_rows {
    const int64_t *rows, *terms;
    int64_t n, skip;

    /* True when entry k is the first of its row's run and that row is not
     * skip; the run is then [k, *end). False for every other entry. */
    DZ_HD bool run_at(int64_t k, int64_t *end) const
    {
        const int64_t row = rows[k];
        if (row == skip || (k > 0 && rows[k - 1] == row))
            return false;
        int64_t e = k + 1;
        while (e < n && rows[e] == row)
            e++;
        *end = e;
        return true;
    }
};

/* keys (n,) = rows (int32/int64, n entries read flat) sorted ascending,
 * terms (n,) = the input position of each, in input order within a row (a
 * stable sort). */
void sort_rows(const dz_array *rows, int64_t *keys, int64_t *terms);

/* v * scale + acc rounded once, as the CPU's fmaf / fma. */
static inline DZ_HD float fused_add(float v, float scale, float acc) { return ::fmaf(v, scale, acc); }
static inline DZ_HD double fused_add(double v, double scale, double acc) { return ::fma(v, scale, acc); }

} // namespace dzc

#endif

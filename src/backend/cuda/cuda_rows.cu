/* Row kernels on the CUDA device: gather_rows, index_add_rows and
 * index_range (backend.h). A table (R, ...) is R rows of D elements; rows
 * are int32 or int64 of any shape, read flat (n entries).
 *
 * index_add_rows is deterministic without atomics: the entries are sorted
 * by row, stably, so the entries of one row form a run in input order, and
 * the first entry of each run sums the run's terms into the table, one
 * thread per column, starting from the table's value. Those are the
 * operations of the CPU's loop (cpu_rows.c) in the same order: the same
 * bits. The sort and the runs (cuda_rows.h) serve the embedding kernels too. */
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include "cuda_rows.h"

namespace dzc {

/* Elements per row of a table (R, ...). */
static int64_t row_width(const dz_array *table)
{
    return table->ndim == 0 || table->shape[0] == 0 ? 0 : table->size / table->shape[0];
}

/* ---- gather_rows: y (n, D) = table[rows] ------------------------------------ */

/* Element t = (i, col) of y (n, D) from table (R, D): table[rows[i], col],
 * or 0 where rows[i] == skip (that row is not read). */
template <typename T> struct gather_rows_fn {
    const T *table;
    T *y;
    index_reader rows;
    int64_t d, skip;
    DZ_HD void operator()(int64_t t) const
    {
        int64_t k = rows(t / d);
        y[t] = k == skip ? (T)0 : table[k * d + t % d];
    }
};

/* Any dtype, moved as the unsigned integer of its size B. */
template <size_t B>
static void gather_rows_as(const dz_array *table, const dz_array *rows, int64_t skip, int64_t d, dz_array *y)
{
    typedef typename bits_of<B>::type T;
    gather_rows_fn<T> f = {(const T *)table->data, (T *)y->data, indices_of(rows), d, skip};
    for_each_index(rows->size * d, f);
}

void gather_rows(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y)
{
    const int64_t d = row_width(table);
    guarded("cuda_gather_rows", [&] {
        switch (dz_dtype_bytes(table->dtype)) {
        case 1: gather_rows_as<1>(table, rows, skip, d, y); break;
        case 2: gather_rows_as<2>(table, rows, skip, d, y); break;
        case 4: gather_rows_as<4>(table, rows, skip, d, y); break;
        case 8: gather_rows_as<8>(table, rows, skip, d, y); break;
        }
    });
}

/* ---- index_add_rows: table[rows[i]] += alpha * x[i] -------------------------- */

/* Thread t = (k, col) of (n, D): where entry k starts a run,
 * table[row, col] += x[i, col] for the run's entries i in input order.
 * Integers wrap through the unsigned type U (U is T for floats). */
template <typename T, typename U> struct add_runs_fn {
    sorted_rows s;
    T *table;   // (R, D)
    const T *x; // (n, D)
    int64_t d;
    DZ_HD void operator()(int64_t t) const
    {
        int64_t k = t / d, col = t % d, end;
        if (!s.run_at(k, &end))
            return;
        T *y = table + s.rows[k] * d + col;
        T acc = *y;
        for (int64_t j = k; j < end; j++)
            acc = (T)((U)acc + (U)x[s.terms[j] * d + col]);
        *y = acc;
    }
};

/* The same with scaled terms: table[row, col] = fma(x[i, col], scale,
 * table[row, col]), scale = alpha, or alpha / the row's count with by_count
 * (the run's length: every entry of the row), rounded to T once per row. */
template <typename T> struct fma_runs_fn {
    sorted_rows s;
    T *table;   // (R, D)
    const T *x; // (n, D)
    int64_t d;
    double alpha;
    bool by_count;
    DZ_HD void operator()(int64_t t) const
    {
        int64_t k = t / d, col = t % d, end;
        if (!s.run_at(k, &end))
            return;
        const T scale = (T)(by_count ? alpha / (double)(end - k) : alpha);
        T *y = table + s.rows[k] * d + col;
        T acc = *y;
        for (int64_t j = k; j < end; j++)
            acc = fused_add(x[s.terms[j] * d + col], scale, acc);
        *y = acc;
    }
};

template <typename T, typename U>
static void add_runs(const sorted_rows &s, dz_array *table, const dz_array *x, int64_t d)
{
    for_each_index(s.n * d, add_runs_fn<T, U>{s, (T *)table->data, (const T *)x->data, d});
}

template <typename T>
static void fma_runs(const sorted_rows &s, dz_array *table, const dz_array *x, int64_t d, double alpha, bool by_count)
{
    for_each_index(s.n * d, fma_runs_fn<T>{s, (T *)table->data, (const T *)x->data, d, alpha, by_count});
}

void sort_rows(const dz_array *rows, int64_t *keys, int64_t *terms)
{
    const int64_t n = rows->size;
    thrust::transform(policy(), thrust::counting_iterator<int64_t>(0), thrust::counting_iterator<int64_t>(n), keys,
                      indices_of(rows));
    thrust::sequence(policy(), terms, terms + n);
    thrust::stable_sort_by_key(policy(), keys, keys + n, terms);
}

/* alpha 1 without scaling adds (one rounding); otherwise fma. Integers take
 * alpha 1 unscaled. */
void index_add_rows(dz_array *table, const dz_array *rows, const dz_array *x, double alpha, int64_t skip,
                    bool scale_by_count)
{
    const int64_t n = rows->size, d = row_width(table);
    if (n == 0 || d == 0)
        return;
    guarded("cuda_index_add_rows", [&] {
        scratch keys((size_t)n * sizeof(int64_t)), terms((size_t)n * sizeof(int64_t));
        sort_rows(rows, (int64_t *)keys.data, (int64_t *)terms.data);
        const sorted_rows s = {(const int64_t *)keys.data, (const int64_t *)terms.data, n, skip};
        const bool plain = alpha == 1 && !scale_by_count;
        switch (table->dtype) {
        case DZ_F32:
            if (plain)
                add_runs<float, float>(s, table, x, d);
            else
                fma_runs<float>(s, table, x, d, alpha, scale_by_count);
            break;
        case DZ_F64:
            if (plain)
                add_runs<double, double>(s, table, x, d);
            else
                fma_runs<double>(s, table, x, d, alpha, scale_by_count);
            break;
        case DZ_I32: add_runs<int32_t, uint32_t>(s, table, x, d); break;
        case DZ_I64: add_runs<int64_t, uint64_t>(s, table, x, d); break;
        default: break;
        }
    });
}

/* ---- index_range: min and max of an index array, to the host ----------------- */

struct index_bounds {
    int64_t lo, hi;
};

/* Entry i as the bounds of itself. */
struct bounds_of_fn {
    index_reader idx;
    DZ_HD index_bounds operator()(int64_t i) const
    {
        int64_t v = idx(i);
        return index_bounds{v, v};
    }
};

struct merge_bounds_fn {
    DZ_HD index_bounds operator()(const index_bounds &a, const index_bounds &b) const
    {
        return index_bounds{a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
    }
};

/* One reduction over idx (at least one entry). Synchronises: Thrust waits
 * for the reduction to return its result to the host. */
void index_range(const dz_array *idx, int64_t *min, int64_t *max)
{
    *min = *max = 0; /* what a failed reduction leaves; its error is recorded */
    guarded("cuda_index_range", [&] {
        index_bounds b = thrust::transform_reduce(policy(), thrust::counting_iterator<int64_t>(0),
                                                  thrust::counting_iterator<int64_t>(idx->size),
                                                  bounds_of_fn{indices_of(idx)}, index_bounds{INT64_MAX, INT64_MIN},
                                                  merge_bounds_fn());
        *min = b.lo;
        *max = b.hi;
    });
}

} // namespace dzc

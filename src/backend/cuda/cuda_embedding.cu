/* Fused embedding kernels on the CUDA device (backend.h's dz_backend_fused):
 * the in-place max_norm renorm, and the EmbeddingBag reductions and grads.
 * Notation: w and gw (V, D), idx (N,) read flat, B bags with bounds starts
 * (B + 1,); an entry equal to skip_idx is left out of its bag.
 *
 * Each kernel repeats the arithmetic of the CPU's (cpu_embedding.c)
 * operation by operation, in the same order:
 *   - renorm: the rows of idx sorted, the first entry of each run of equal
 *     rows renorms that row (once per distinct row, as the CPU's `seen`),
 *     one thread per row computing the CPU's norm in the CPU's order;
 *   - bag_sum, bag_max, bag_grad_rows: one thread per (bag, column),
 *     looping over the bag's entries in order;
 *   - bag_weights_grad: one thread per entry, the dot of its rows in double;
 *   - bag_scatter: the accumulation of index_add_rows (cuda_rows.h): entries
 *     sorted stably by row, the first of each run summing the run in input
 *     order, one thread per column;
 *   - bag_max_backward: index_add_rows itself, over gw's elements.
 * Nothing is summed by atomics, so results are the same on every run.
 *
 * The CPU's fmaf / fma are fmaf / fma here (correctly rounded on both
 * devices) and nothing else is fused (nvcc runs with --fmad=false). The one
 * call to the math library is pow, in norms other than p = 1, 2, inf, -inf
 * and 0: the CPU's bits on the emulated device, within that library's error
 * on a GPU. */
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "cuda_rows.h"

#define DZ_VM_FN static inline DZ_HD
extern "C" {
#include "../cpu/cpu_row_norm.h"
}

namespace dzc {

/* ---- renorm: w[k] *= max_norm / (norm + 1e-7) where norm(w[k]) > max_norm ---- */

/* The norm_type, read once on the host (the CPU compares p per element). */
enum norm_kind { NORM_2, NORM_1, NORM_INF, NORM_NEG_INF, NORM_0, NORM_P };

struct norm_spec {
    norm_kind kind;
    double p, inv_p; /* NORM_P: the sum of |x|^p, to the power 1 / p (inv_p) */
};

static norm_spec norm_spec_of(double p)
{
    norm_kind kind = NORM_P;
    if (p == 2)
        kind = NORM_2;
    else if (p == 1)
        kind = NORM_1;
    else if (p == INFINITY)
        kind = NORM_INF;
    else if (p == -INFINITY)
        kind = NORM_NEG_INF;
    else if (p == 0)
        kind = NORM_0;
    return norm_spec{kind, p, kind == NORM_P ? 1.0 / p : 0};
}

/* Tensor.norm(p) of a row accumulated in double (cpu_embedding.c's
 * row_norm, before its rounding to the weights' dtype). */
template <typename T> static DZ_HD double wide_norm(const T *x, int64_t n, const norm_spec &p)
{
    double acc = p.kind == NORM_NEG_INF ? INFINITY : 0;
    for (int64_t i = 0; i < n; i++) {
        double v = ::fabs((double)x[i]);
        switch (p.kind) {
        case NORM_2: acc += v * v; break;
        case NORM_1: acc += v; break;
        case NORM_INF: acc = v > acc ? v : acc; break;
        case NORM_NEG_INF: acc = v < acc ? v : acc; break;
        case NORM_0: acc += v != 0; break;
        case NORM_P: acc += ::pow(v, p.p); break;
        }
    }
    return p.kind == NORM_2 ? ::sqrt(acc) : p.kind == NORM_P ? ::pow(acc, p.inv_p) : acc;
}

/* The norm of a row as the CPU's renorm_row takes it. */
static DZ_HD double row_norm(const float *x, int64_t n, const norm_spec &p)
{
    if (p.kind == NORM_1 || p.kind == NORM_2)
        return dz_row_norm_f32(x, n, p.kind == NORM_1);
    return (float)wide_norm(x, n, p);
}
static DZ_HD double row_norm(const double *x, int64_t n, const norm_spec &p) { return wide_norm(x, n, p); }

/* Thread k over the sorted rows (n,): the first entry of each run renorms
 * its row of w (V, D) in place. */
template <typename T> struct renorm_fn {
    T *w;
    const int64_t *rows;
    int64_t d;
    double max_norm;
    norm_spec p;
    DZ_HD void operator()(int64_t k) const
    {
        if (k > 0 && rows[k - 1] == rows[k])
            return;
        T *row = w + rows[k] * d;
        const double norm = row_norm(row, d, p);
        if (!(norm > max_norm))
            return;
        const T scale = (T)(max_norm / (norm + 1e-7));
        for (int64_t i = 0; i < d; i++)
            row[i] *= scale;
    }
};

template <typename T>
static void renorm_as(dz_array *w, const int64_t *rows, int64_t n, double max_norm, const norm_spec &p)
{
    for_each_index(n, renorm_fn<T>{(T *)w->data, rows, w->shape[1], max_norm, p});
}

static void embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type)
{
    const int64_t n = idx->size;
    if (n == 0)
        return;
    guarded("cuda_embedding_renorm", [&] {
        scratch keys((size_t)n * sizeof(int64_t));
        int64_t *rows = (int64_t *)keys.data;
        thrust::transform(policy(), thrust::counting_iterator<int64_t>(0), thrust::counting_iterator<int64_t>(n),
                          rows, indices_of(idx));
        thrust::sort(policy(), rows, rows + n);
        const norm_spec p = norm_spec_of(norm_type);
        if (w->dtype == DZ_F32)
            renorm_as<float>(w, rows, n, max_norm, p);
        else
            renorm_as<double>(w, rows, n, max_norm, p);
    });
}

/* ---- the bags ------------------------------------------------------------------ */

/* Bag b is the entries [starts[b], starts[b + 1]) of idx (starts
 * non-decreasing) that are not skip; rows have d elements. */
struct bag_layout {
    index_reader idx;
    const int64_t *starts; /* (B + 1,) */
    int64_t B, skip, d;

    /* Entries of bag b that are not skip. */
    DZ_HD int64_t count(int64_t b) const
    {
        int64_t n = 0;
        for (int64_t j = starts[b]; j < starts[b + 1]; j++)
            n += idx(j) != skip;
        return n;
    }

    /* The bag holding entry j (the last b with starts[b] <= j), or -1 when j
     * lies in no bag. */
    DZ_HD int64_t bag_of(int64_t j) const
    {
        if (B == 0 || j < starts[0] || j >= starts[B])
            return -1;
        int64_t lo = 0, hi = B; /* starts[lo] <= j < starts[hi] */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (starts[mid] <= j)
                lo = mid;
            else
                hi = mid;
        }
        return lo;
    }
};

static bag_layout layout_of(const dz_array *idx, const dz_array *starts, int64_t skip_idx, int64_t d)
{
    return bag_layout{indices_of(idx), (const int64_t *)starts->data, starts->size - 1, skip_idx, d};
}

/* ---- bag_sum: y[b] = sum over bag b of w[idx[j]] (* psw[j]), / count when mean -- */

/* Thread t = (b, col) of y (B, D): the bag's terms added from 0 in input
 * order; with per-sample weights fma(w, psw, acc) when `fused` (f32 without
 * padding, PyTorch's fast path), else acc + w * psw. */
template <typename T> struct bag_sum_fn {
    bag_layout L;
    const T *w;   // (V, D)
    const T *psw; // (N,) or NULL
    T *y;         // (B, D)
    bool mean, fused;
    DZ_HD void operator()(int64_t t) const
    {
        const int64_t b = t / L.d, col = t % L.d;
        T acc = 0;
        for (int64_t j = L.starts[b]; j < L.starts[b + 1]; j++) {
            const int64_t k = L.idx(j);
            if (k == L.skip)
                continue;
            const T v = w[k * L.d + col];
            if (!psw)
                acc += v;
            else if (fused)
                acc = fused_add(v, psw[j], acc);
            else
                acc += v * psw[j];
        }
        const int64_t count = mean ? L.count(b) : 0;
        if (count > 0)
            acc /= (T)count;
        y[t] = acc;
    }
};

template <typename T>
static void bag_sum_as(const bag_layout &L, const dz_array *w, const dz_array *psw, bool mean, bool fused,
                       dz_array *y)
{
    const T *p = psw ? (const T *)psw->data : nullptr;
    for_each_index(L.B * L.d, bag_sum_fn<T>{L, (const T *)w->data, p, (T *)y->data, mean, fused});
}

static void embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                              int64_t skip_idx, bool mean, dz_array *y)
{
    guarded("cuda_embedding_bag_sum", [&] {
        const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
        if (w->dtype == DZ_F32)
            bag_sum_as<float>(L, w, psw, mean, skip_idx < 0, y);
        else
            bag_sum_as<double>(L, w, psw, mean, false, y);
    });
}

/* ---- bag_max: y[b, d] = max over bag b of w[idx[j], d], argmax the row --------- */

/* Thread t = (b, col) of y (B, D): the bag's first entry starts the maximum,
 * later entries replace it where strictly greater (the first maximum stays,
 * a NaN never replaces nor is replaced); an empty bag gives 0 and -1. */
template <typename T> struct bag_max_fn {
    bag_layout L;
    const T *w;      // (V, D)
    T *y;            // (B, D)
    int64_t *argmax; // (B, D)
    DZ_HD void operator()(int64_t t) const
    {
        const int64_t b = t / L.d, col = t % L.d;
        T out = 0;
        int64_t arg = -1;
        bool started = false;
        for (int64_t j = L.starts[b]; j < L.starts[b + 1]; j++) {
            const int64_t k = L.idx(j);
            if (k == L.skip)
                continue;
            const T v = w[k * L.d + col];
            if (started) {
                const bool greater = v > out;
                out = greater ? v : out;
                arg = greater ? k : arg;
                continue;
            }
            started = true;
            out = v;
            arg = k;
        }
        y[t] = out;
        argmax[t] = arg;
    }
};

template <typename T> static void bag_max_as(const bag_layout &L, const dz_array *w, dz_array *y, dz_array *argmax)
{
    for_each_index(L.B * L.d, bag_max_fn<T>{L, (const T *)w->data, (T *)y->data, (int64_t *)argmax->data});
}

static void embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax)
{
    guarded("cuda_embedding_bag_max", [&] {
        const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
        if (w->dtype == DZ_F32)
            bag_max_as<float>(L, w, y, argmax);
        else
            bag_max_as<double>(L, w, y, argmax);
    });
}

/* ---- bag_scatter: gw[idx[j]] += gy[bag of j] * scale_j, in input order --------- */

/* Thread t = (k, col) over the entries sorted by row (N, D): where entry k
 * starts the run of row r, gw[r, col] takes the run's terms in input order,
 * each gy[b, col] of its entry's bag b scaled by
 *   scale_j = 1 / count(r) (by_freq) / size of bag b (sizes, when mean) * psw[j]
 * built in double as the CPU does: added when scale_j is 1, else by
 * fma(gy, (T)scale_j, acc). Entries in no bag add nothing. */
template <typename T> struct bag_scatter_fn {
    sorted_rows s;
    bag_layout L;
    const T *gy;          // (B, D)
    const T *psw;         // (N,) or NULL
    const int64_t *sizes; // (B,) non-skipped entries per bag, or NULL
    bool by_freq;
    T *gw; // (V, D)
    DZ_HD void operator()(int64_t t) const
    {
        int64_t k = t / L.d, col = t % L.d, end;
        if (!s.run_at(k, &end))
            return;
        T *y = gw + s.rows[k] * L.d + col;
        T acc = *y;
        for (int64_t i = k; i < end; i++) {
            const int64_t j = s.terms[i], b = L.bag_of(j);
            if (b < 0)
                continue;
            double scale = 1.0;
            if (by_freq)
                scale /= (double)(end - k); /* the run is every entry of the row */
            if (sizes && sizes[b] > 0)
                scale /= (double)sizes[b];
            if (psw)
                scale *= psw[j];
            const T g = gy[b * L.d + col];
            acc = scale == 1.0 ? acc + g : fused_add(g, (T)scale, acc);
        }
        *y = acc;
    }
};

/* sizes[b] (B,) = the count of bag b. */
struct bag_size_fn {
    bag_layout L;
    int64_t *sizes;
    DZ_HD void operator()(int64_t b) const { sizes[b] = L.count(b); }
};

template <typename T>
static void bag_scatter_as(const sorted_rows &s, const bag_layout &L, const dz_array *gy, const dz_array *psw,
                           const int64_t *sizes, bool by_freq, dz_array *gw)
{
    const T *p = psw ? (const T *)psw->data : nullptr;
    for_each_index(s.n * L.d, bag_scatter_fn<T>{s, L, (const T *)gy->data, p, sizes, by_freq, (T *)gw->data});
}

static void embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                  const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq, dz_array *gw)
{
    const int64_t n = idx->size, B = starts->size - 1;
    if (n == 0 || B == 0 || gw->shape[1] == 0)
        return;
    guarded("cuda_embedding_bag_scatter", [&] {
        const bag_layout L = layout_of(idx, starts, skip_idx, gw->shape[1]);
        scratch keys((size_t)n * sizeof(int64_t)), terms((size_t)n * sizeof(int64_t));
        scratch sizes((size_t)B * sizeof(int64_t));
        sort_rows(idx, (int64_t *)keys.data, (int64_t *)terms.data);
        if (mean)
            for_each_index(B, bag_size_fn{L, (int64_t *)sizes.data});
        const sorted_rows s = {(const int64_t *)keys.data, (const int64_t *)terms.data, n, skip_idx};
        const int64_t *bag_sizes = mean ? (const int64_t *)sizes.data : nullptr;
        if (gw->dtype == DZ_F32)
            bag_scatter_as<float>(s, L, gy, psw, bag_sizes, scale_by_freq, gw);
        else
            bag_scatter_as<double>(s, L, gy, psw, bag_sizes, scale_by_freq, gw);
    });
}

/* ---- bag_grad_rows: rows[j] = gy[bag of j] * (psw[j] or 1 / count) ------------- */

/* Thread t = (b, col) of gy (B, D): rows[j, col] for the entries j of bag b,
 * 0 for skipped entries, gy[b, col] copied when the scale is 1, else times
 * the scale (psw[j], or 1 / the bag's count rounded to T when mean). */
template <typename T> struct bag_grad_rows_fn {
    bag_layout L;
    const T *gy;  // (B, D)
    const T *psw; // (N,) or NULL
    bool mean;
    T *rows; // (N, D)
    DZ_HD void operator()(int64_t t) const
    {
        const int64_t b = t / L.d, col = t % L.d;
        const int64_t count = mean ? L.count(b) : 1;
        const T g = gy[t];
        for (int64_t j = L.starts[b]; j < L.starts[b + 1]; j++) {
            T *r = rows + j * L.d + col;
            if (L.idx(j) == L.skip) {
                *r = 0;
                continue;
            }
            const T scale = psw ? psw[j] : (T)(1.0 / (double)count);
            *r = scale == 1 ? g : g * scale;
        }
    }
};

template <typename T>
static void bag_grad_rows_as(const bag_layout &L, const dz_array *gy, const dz_array *psw, bool mean, dz_array *rows)
{
    const T *p = psw ? (const T *)psw->data : nullptr;
    for_each_index(L.B * L.d, bag_grad_rows_fn<T>{L, (const T *)gy->data, p, mean, (T *)rows->data});
}

static void embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows)
{
    guarded("cuda_embedding_bag_grad_rows", [&] {
        const bag_layout L = layout_of(idx, starts, skip_idx, gy->shape[1]);
        if (gy->dtype == DZ_F32)
            bag_grad_rows_as<float>(L, gy, psw, mean, rows);
        else
            bag_grad_rows_as<double>(L, gy, psw, mean, rows);
    });
}

/* ---- bag_max_backward: gw[argmax[b, d], d] += gy[b, d] ---------------------------- */

/* Element t = (b, col) of argmax (B, D): the element of gw (V, D) that
 * gy[b, col] adds to, argmax[b, col] * D + col, or -1 for an empty bag. */
struct max_target_fn {
    const int64_t *argmax;
    int64_t d;
    DZ_HD int64_t operator()(int64_t t) const { return argmax[t] >= 0 ? argmax[t] * d + t % d : -1; }
};

/* gw seen as a table of one-element rows (V * D, 1) takes the terms gy
 * (B * D, 1) at their targets: each element of gw sums its terms in bag
 * order, as the CPU's loop. */
static void embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw)
{
    const int64_t n = gy->size;
    if (n == 0)
        return;
    guarded("cuda_embedding_bag_max_backward", [&] {
        scratch targets((size_t)n * sizeof(int64_t));
        thrust::transform(policy(), thrust::counting_iterator<int64_t>(0), thrust::counting_iterator<int64_t>(n),
                          (int64_t *)targets.data, max_target_fn{(const int64_t *)argmax->data, gy->shape[1]});
        dz_array table = matrix_view(gw->dtype, DZ_CUDA, gw->data, gw->size, 1);
        dz_array rows = matrix_view(DZ_I64, DZ_CUDA, targets.data, n, 1);
        dz_array terms = matrix_view(gy->dtype, DZ_CUDA, gy->data, n, 1);
        index_add_rows(&table, &rows, &terms, 1.0, -1, false); /* -1: empty bags add nothing */
    });
}

/* ---- bag_weights_grad: gpsw[j] = dot(gy[bag of j], w[idx[j]]) -------------------- */

/* BLAS ?dot as the CPU computes it: products rounded to T, summed in order
 * in double, rounded once. */
template <typename T> static DZ_HD T dot_row(const T *a, const T *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        T product = a[i] * b[i];
        s += product;
    }
    return (T)s;
}

/* Thread j of gpsw (N,): the dot, or 0 for an entry skipped or in no bag. */
template <typename T> struct bag_weights_grad_fn {
    bag_layout L;
    const T *gy; // (B, D)
    const T *w;  // (V, D)
    T *gpsw;     // (N,)
    DZ_HD void operator()(int64_t j) const
    {
        const int64_t b = L.bag_of(j), k = L.idx(j);
        gpsw[j] = b < 0 || k == L.skip ? (T)0 : dot_row(gy + b * L.d, w + k * L.d, L.d);
    }
};

template <typename T>
static void bag_weights_grad_as(const bag_layout &L, const dz_array *gy, const dz_array *w, dz_array *gpsw)
{
    for_each_index(gpsw->size, bag_weights_grad_fn<T>{L, (const T *)gy->data, (const T *)w->data, (T *)gpsw->data});
}

static void embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw)
{
    guarded("cuda_embedding_bag_weights_grad", [&] {
        const bag_layout L = layout_of(idx, starts, skip_idx, w->shape[1]);
        if (w->dtype == DZ_F32)
            bag_weights_grad_as<float>(L, gy, w, gpsw);
        else
            bag_weights_grad_as<double>(L, gy, w, gpsw);
    });
}

void fill_embedding_kernels(dz_backend_fused *f)
{
    f->embedding_renorm = embedding_renorm;
    f->embedding_bag_sum = embedding_bag_sum;
    f->embedding_bag_max = embedding_bag_max;
    f->embedding_bag_scatter = embedding_bag_scatter;
    f->embedding_bag_grad_rows = embedding_bag_grad_rows;
    f->embedding_bag_max_backward = embedding_bag_max_backward;
    f->embedding_bag_weights_grad = embedding_bag_weights_grad;
}

} // namespace dzc

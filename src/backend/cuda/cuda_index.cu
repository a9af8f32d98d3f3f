/* Indexing kernels on the CUDA device: transpose, and gather / scatter /
 * scatter-add through a dz_gather_spec (backend.h). One thread per element of
 * y computes its source element from the spec; copies move any dtype as the
 * unsigned integer of its size, so they are bit-exact. scatter_add is the row
 * accumulation of index_add_rows (cuda_rows.cu) with rows of one element:
 * deterministic, each target summing its terms in input order, as the CPU's
 * loop does (cpu_index.c). */
#include <thrust/transform.h>

#include "cuda_common.h"

namespace dzc {

/* Element j of y (C order, coordinates c) to its source element:
 *     offset + sum_d c[d] * stride[d] + offsets[sum_d c[d] * ostride[d]]
 * where ostride are the C-order strides of the offsets table over the dims
 * it covers (0 elsewhere), and the last term is present only with offsets. */
struct source_map {
    int ndim;
    int64_t shape[DZ_MAX_NDIM], stride[DZ_MAX_NDIM], ostride[DZ_MAX_NDIM];
    int64_t offset;
    const int64_t *offsets; /* on the device, or NULL */

    DZ_HD int64_t operator()(int64_t j) const
    {
        int64_t src = offset, flat = 0;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t c = j % shape[d];
            j /= shape[d];
            src += c * stride[d];
            flat += c * ostride[d];
        }
        return offsets ? src + offsets[flat] : src;
    }
};

/* The map of a spec. The products of the offsets strides wrap around: they
 * only overflow when y is empty, where no element is mapped. */
static source_map map_of(const dz_gather_spec *s)
{
    source_map m = {};
    m.ndim = s->ndim;
    m.offset = s->offset;
    m.offsets = s->offsets ? (const int64_t *)s->offsets->data : nullptr;
    uint64_t step = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        m.shape[d] = s->shape[d];
        m.stride[d] = s->stride[d];
        bool covered = m.offsets && d >= s->offsets_axis && d < s->offsets_axis + s->offsets_ndim;
        m.ostride[d] = covered ? (int64_t)step : 0;
        if (covered)
            step *= (uint64_t)s->shape[d];
    }
    return m;
}

/* ---- copies: any element size ----------------------------------------------- */

/* gather: to[j] = from[map(j)] over the elements j of to. */
template <typename T> struct gather_fn {
    const T *from;
    T *to;
    source_map map;
    DZ_HD void operator()(int64_t j) const { to[j] = from[map(j)]; }
};

/* scatter: to[map(j)] = from[j] over the elements j of from. */
template <typename T> struct scatter_fn {
    const T *from;
    T *to;
    source_map map;
    DZ_HD void operator()(int64_t j) const { to[map(j)] = from[j]; }
};

/* Runs F over the n elements of y (gather: from x to y; scatter: from y to
 * x), moving each as the unsigned integer of es bytes. */
template <template <typename> class F>
static void move_elements(size_t es, const void *from, void *to, const source_map &map, int64_t n)
{
    switch (es) {
    case 1: for_each_index(n, F<bits_of<1>::type>{(const uint8_t *)from, (uint8_t *)to, map}); break;
    case 2: for_each_index(n, F<bits_of<2>::type>{(const uint16_t *)from, (uint16_t *)to, map}); break;
    case 4: for_each_index(n, F<bits_of<4>::type>{(const uint32_t *)from, (uint32_t *)to, map}); break;
    case 8: for_each_index(n, F<bits_of<8>::type>{(const uint64_t *)from, (uint64_t *)to, map}); break;
    }
}

/* y = x transposed by axes: element j of y reads x through x's contiguous
 * strides taken in the order of axes. */
void transpose(const dz_array *x, const int *axes, dz_array *y)
{
    guarded("cuda_transpose", [&] {
        int64_t xstride[DZ_MAX_NDIM];
        contiguous_strides(x->ndim, x->shape, xstride);
        source_map map = {};
        map.ndim = y->ndim;
        for (int d = 0; d < y->ndim; d++) {
            map.shape[d] = y->shape[d];
            map.stride[d] = xstride[axes[d]];
        }
        move_elements<gather_fn>(dz_dtype_bytes(y->dtype), x->data, y->data, map, y->size);
    });
}

/* y = x[spec]: y has the spec's shape. */
void gather(const dz_array *x, const dz_gather_spec *spec, dz_array *y)
{
    guarded("cuda_gather", [&] {
        move_elements<gather_fn>(dz_dtype_bytes(x->dtype), x->data, y->data, map_of(spec), y->size);
    });
}

/* x[spec] = y: the spec maps no two elements of y to one of x, so the
 * threads write distinct elements. */
void scatter(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    guarded("cuda_scatter", [&] {
        move_elements<scatter_fn>(dz_dtype_bytes(x->dtype), y->data, x->data, map_of(spec), y->size);
    });
}

/* ---- scatter-add: x[spec] += y, repeated targets in order -------------------- */

/* targets (n,) = the element of x that each element of y adds to; then x,
 * seen as a table of one-element rows (x->size, 1), takes the terms y (n, 1)
 * at those rows: each target sums its terms in input order, integers
 * wrapping, exactly as the CPU's loop. */
void scatter_add(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    const int64_t n = y->size;
    if (n == 0)
        return;
    guarded("cuda_scatter_add", [&] {
        scratch targets((size_t)n * sizeof(int64_t));
        thrust::transform(policy(), thrust::counting_iterator<int64_t>(0), thrust::counting_iterator<int64_t>(n),
                          (int64_t *)targets.data, map_of(spec));
        dz_array table = matrix_view(x->dtype, DZ_CUDA, x->data, x->size, 1);
        dz_array rows = matrix_view(DZ_I64, DZ_CUDA, targets.data, n, 1);
        dz_array terms = matrix_view(y->dtype, DZ_CUDA, y->data, n, 1);
        index_add_rows(&table, &rows, &terms, 1.0, -1, false); /* targets are >= 0: none skipped */
    });
}

} // namespace dzc

/* Fused convolution and max pooling kernels on the CUDA device (backend.h's
 * convolution and max pooling slots): im2col and col2im, f32 and f64, the
 * padding implicit.
 *
 *   - im2col: one thread per column element, reading its pixel (or 0 in
 *     the padding);
 *   - col2im: one thread per image pixel, gathering the column entries of
 *     the windows that cover it and adding them to 0 in the order the CPU
 *     (cpu_conv.c) and the scatter_add composite add them: col's C order,
 *     which is the window offset (i, j) ascending in the 6-D layout and
 *     descending in the matrix one. No atomics: the bits are the CPU's.
 *   - max pooling: one thread per output for the max and its pick (the
 *     CPU's comparisons, cpu_pool.c) and for the pick of another image; one
 *     thread per pixel for the grad, which gathers its terms (gy times the
 *     mask value) from the windows over it in col2im's order. */
#include "cuda_common.h"

namespace dzc {

/* One convolution's sizes. */
struct conv_sizes {
    int64_t n, c, h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw;
    bool to_matrix;
};

static conv_sizes sizes_of(const dz_array *x, const dz_conv_geom *g, bool to_matrix)
{
    conv_sizes s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], 0, 0,
                    g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, to_matrix};
    s.oh = (s.h + 2 * s.ph - s.kh) / s.sh + 1;
    s.ow = (s.w + 2 * s.pw - s.kw) / s.sw + 1;
    return s;
}

/* The column element of (n, c, i, j, y, x) in either layout. */
static inline DZ_HD int64_t column_at(const conv_sizes &s, int64_t n, int64_t c, int64_t i, int64_t j, int64_t y,
                                      int64_t x)
{
    if (s.to_matrix) // (N, OH, OW, C, KH, KW)
        return ((((n * s.oh + y) * s.ow + x) * s.c + c) * s.kh + i) * s.kw + j;
    return ((((n * s.c + c) * s.kh + i) * s.kw + j) * s.oh + y) * s.ow + x; // (N, C, KH, KW, OH, OW)
}

/* col[e] = x[n, c, SH*y + i - PH, SW*x + j - PW], or 0 in the padding. */
template <typename T> struct im2col_fn {
    const T *x; // (N, C, H, W)
    T *col;
    conv_sizes s;
    DZ_HD void operator()(int64_t e) const
    {
        int64_t rest = e, n, c, i, j, y, q;
        if (s.to_matrix) {
            j = rest % s.kw, rest /= s.kw;
            i = rest % s.kh, rest /= s.kh;
            c = rest % s.c, rest /= s.c;
            q = rest % s.ow, rest /= s.ow;
            y = rest % s.oh, n = rest / s.oh;
        } else {
            q = rest % s.ow, rest /= s.ow;
            y = rest % s.oh, rest /= s.oh;
            j = rest % s.kw, rest /= s.kw;
            i = rest % s.kh, rest /= s.kh;
            c = rest % s.c, n = rest / s.c;
        }
        int64_t row = s.sh * y + i - s.ph, column = s.sw * q + j - s.pw;
        bool inside = row >= 0 && row < s.h && column >= 0 && column < s.w;
        col[e] = inside ? x[((n * s.c + c) * s.h + row) * s.w + column] : (T)0;
    }
};

/* x[p] = 0 + the column entries of every window over pixel p, in col's order. */
template <typename T> struct col2im_fn {
    const T *col;
    T *x; // (N, C, H, W)
    conv_sizes s;
    DZ_HD void operator()(int64_t p) const
    {
        int64_t w = p % s.w, rest = p / s.w, h = rest % s.h;
        rest /= s.h;
        int64_t c = rest % s.c, n = rest / s.c;
        T sum = 0;
        for (int64_t e = 0; e < s.kh * s.kw; e++) {
            int64_t entry = s.to_matrix ? s.kh * s.kw - 1 - e : e, i = entry / s.kw, j = entry % s.kw;
            int64_t dy = h + s.ph - i, dx = w + s.pw - j;
            if (dy < 0 || dx < 0 || dy % s.sh != 0 || dx % s.sw != 0 || dy / s.sh >= s.oh || dx / s.sw >= s.ow)
                continue;
            sum += col[column_at(s, n, c, i, j, dy / s.sh, dx / s.sw)];
        }
        x[p] = sum;
    }
};

static void im2col(const dz_array *x, const dz_conv_geom *g, bool to_matrix, dz_array *col)
{
    guarded("cuda_im2col", [&] {
        conv_sizes s = sizes_of(x, g, to_matrix);
        if (x->dtype == DZ_F32)
            for_each_index(col->size, im2col_fn<float>{(const float *)x->data, (float *)col->data, s});
        else
            for_each_index(col->size, im2col_fn<double>{(const double *)x->data, (double *)col->data, s});
    });
}

static void col2im(const dz_array *col, const dz_conv_geom *g, bool to_matrix, dz_array *x)
{
    guarded("cuda_col2im", [&] {
        conv_sizes s = sizes_of(x, g, to_matrix);
        if (x->dtype == DZ_F32)
            for_each_index(x->size, col2im_fn<float>{(const float *)col->data, (float *)x->data, s});
        else
            for_each_index(x->size, col2im_fn<double>{(const double *)col->data, (double *)x->data, s});
    });
}

/* ---- max pooling ---------------------------------------------------------- */

/* The pixel offset in its plane of window (y, x)'s entry (i, j), or -1 in the padding. */
static inline DZ_HD int64_t window_entry(const conv_sizes &s, int64_t y, int64_t x, int64_t i, int64_t j)
{
    int64_t row = s.sh * y + i - s.ph, column = s.sw * x + j - s.pw;
    return row >= 0 && row < s.h && column >= 0 && column < s.w ? row * s.w + column : -1;
}

/* y[o] = window o's max (the first of equal values, any NaN wins); argmax[o]
 * = the offset of that entry, or -1 for a NaN max. */
template <typename T> struct max_pool_fn {
    const T *x; // (N, C, H, W)
    T *y;       // (N, C, OH, OW)
    int32_t *argmax;
    conv_sizes s;
    DZ_HD void operator()(int64_t o) const
    {
        int64_t wx = o % s.ow, wy = (o / s.ow) % s.oh, plane = o / (s.oh * s.ow), k = 0, pick = 0;
        const T *img = x + plane * s.h * s.w;
        T m = 0;
        for (int64_t i = 0; i < s.kh; i++)
            for (int64_t j = 0; j < s.kw; j++, k++) {
                int64_t at = window_entry(s, wy, wx, i, j);
                T v = at >= 0 ? img[at] : (T)0;
                if (k == 0 || v > m || v != v) {
                    m = v;
                    pick = k;
                }
            }
        y[o] = m;
        if (argmax)
            argmax[o] = m != m ? -1 : (int32_t)pick;
    }
};

/* y[o] = the sum from 0 of window o's entries times their mask values. */
template <typename T> struct max_pool_pick_fn {
    const T *x; // (N, C, H, W)
    const int32_t *argmax;
    T *y;       // (N, C, OH, OW)
    conv_sizes s;
    DZ_HD void operator()(int64_t o) const
    {
        int64_t wx = o % s.ow, wy = (o / s.ow) % s.oh, plane = o / (s.oh * s.ow), k = 0;
        const T *img = x + plane * s.h * s.w;
        T sum = 0;
        for (int64_t i = 0; i < s.kh; i++)
            for (int64_t j = 0; j < s.kw; j++, k++) {
                int64_t at = window_entry(s, wy, wx, i, j);
                T v = at >= 0 ? img[at] : (T)0;
                sum += v * (T)(argmax[o] == k || argmax[o] < 0);
            }
        y[o] = sum;
    }
};

/* gx[p] = 0 + gy times the mask value of every window entry over pixel p,
 * the offsets (i, j) ascending. */
template <typename T> struct max_pool_backward_fn {
    const T *gy; // (N, C, OH, OW)
    const int32_t *argmax;
    T *gx;       // (N, C, H, W)
    conv_sizes s;
    DZ_HD void operator()(int64_t p) const
    {
        int64_t w = p % s.w, h = (p / s.w) % s.h, plane = p / (s.h * s.w);
        T sum = 0;
        for (int64_t i = 0; i < s.kh; i++)
            for (int64_t j = 0; j < s.kw; j++) {
                int64_t dy = h + s.ph - i, dx = w + s.pw - j;
                if (dy < 0 || dx < 0 || dy % s.sh != 0 || dx % s.sw != 0 || dy / s.sh >= s.oh || dx / s.sw >= s.ow)
                    continue;
                int64_t o = (plane * s.oh + dy / s.sh) * s.ow + dx / s.sw, k = i * s.kw + j;
                sum += (T)(argmax[o] == k || argmax[o] < 0) * gy[o];
            }
        gx[p] = sum;
    }
};

static void max_pool(const dz_array *x, const dz_conv_geom *g, dz_array *y, dz_array *argmax)
{
    guarded("cuda_max_pool", [&] {
        conv_sizes s = sizes_of(x, g, false);
        int32_t *a = argmax ? (int32_t *)argmax->data : nullptr;
        if (x->dtype == DZ_F32)
            for_each_index(y->size, max_pool_fn<float>{(const float *)x->data, (float *)y->data, a, s});
        else
            for_each_index(y->size, max_pool_fn<double>{(const double *)x->data, (double *)y->data, a, s});
    });
}

static void max_pool_pick(const dz_array *x, const dz_array *argmax, const dz_conv_geom *g, dz_array *y)
{
    guarded("cuda_max_pool_pick", [&] {
        conv_sizes s = sizes_of(x, g, false);
        const int32_t *a = (const int32_t *)argmax->data;
        if (x->dtype == DZ_F32)
            for_each_index(y->size, max_pool_pick_fn<float>{(const float *)x->data, a, (float *)y->data, s});
        else
            for_each_index(y->size, max_pool_pick_fn<double>{(const double *)x->data, a, (double *)y->data, s});
    });
}

static void max_pool_backward(const dz_array *gy, const dz_array *argmax, const dz_conv_geom *g, dz_array *gx)
{
    guarded("cuda_max_pool_backward", [&] {
        conv_sizes s = sizes_of(gx, g, false);
        const int32_t *a = (const int32_t *)argmax->data;
        if (gx->dtype == DZ_F32)
            for_each_index(gx->size,
                           max_pool_backward_fn<float>{(const float *)gy->data, a, (float *)gx->data, s});
        else
            for_each_index(gx->size,
                           max_pool_backward_fn<double>{(const double *)gy->data, a, (double *)gx->data, s});
    });
}

void fill_conv_kernels(dz_backend_fused *f)
{
    f->im2col = im2col;
    f->col2im = col2im;
    f->max_pool = max_pool;
    f->max_pool_pick = max_pool_pick;
    f->max_pool_backward = max_pool_backward;
}

} // namespace dzc

/* Convolution (DeZero's functions_conv): im2col and col2im, each the other's
 * backward; conv2d and deconv2d, each the other's input grad; and the weight
 * grad of both (DeZero's Conv2DGradW, made differentiable).
 *
 * im2col and col2im are the backend's fused kernels where it has them, else
 * one strided gather of the zero-padded image and one ordered scatter-add
 * into a zero-padded image and a crop (the same bits). A convolution is then
 * one batched matmul with no transpose: W (OC, C*KH*KW) @ col (N, C*KH*KW,
 * OH*OW) is y (N, OC, OH*OW), already NCHW; its weight grad gy (N, OC, L) @
 * col^T sums over N in the same call. */
#include <stdlib.h>

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "checks.h"
#include "conv_internal.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/shape.h"

/* ---- geometry and checks ------------------------------------------------- */

int64_t dz_conv_outsize(int64_t size, int64_t k, int64_t s, int64_t p) { return (size + 2 * p - k) / s + 1; }

bool dz_check_conv_args(const char *op, dz_size2 kernel, dz_size2 stride, dz_size2 pad, dz_conv_geom *g)
{
    /* Bounds that keep every size sum below in 64 bits. */
    const int64_t most = (int64_t)1 << 40;
    if (kernel.h < 1 || kernel.w < 1 || kernel.h > most || kernel.w > most) {
        dz_raise(DZ_ERR_VALUE, "%s: kernel size (%lld, %lld) must be at least 1 on each side", op,
                 (long long)kernel.h, (long long)kernel.w);
        return false;
    }
    if (stride.h < 1 || stride.w < 1 || stride.h > most || stride.w > most) {
        dz_raise(DZ_ERR_VALUE, "%s: stride (%lld, %lld) must be at least 1 on each side", op, (long long)stride.h,
                 (long long)stride.w);
        return false;
    }
    if (pad.h < 0 || pad.w < 0 || pad.h > most || pad.w > most) {
        dz_raise(DZ_ERR_VALUE, "%s: pad (%lld, %lld) must be 0 or more on each side", op, (long long)pad.h,
                 (long long)pad.w);
        return false;
    }
    *g = (dz_conv_geom){kernel.h, kernel.w, stride.h, stride.w, pad.h, pad.w};
    return true;
}

bool dz_check_conv_image(const char *op, const char *what, int ndim, const int64_t *shape, const dz_conv_geom *g,
                         int64_t out[2])
{
    if (ndim != 4) {
        dz_raise(DZ_ERR_SHAPE, "%s: %s has shape %s; it must be a 4-D image batch (N, C, H, W)", op, what,
                 dz_shape_str(ndim, shape));
        return false;
    }
    const int64_t most = (int64_t)1 << 40;
    if (shape[2] > most || shape[3] > most || shape[2] + 2 * g->ph < g->kh || shape[3] + 2 * g->pw < g->kw) {
        dz_raise(DZ_ERR_SHAPE, "%s: %s %s padded by (%lld, %lld) is smaller than the kernel (%lld, %lld); use a "
                 "smaller kernel or more padding", op, what, dz_shape_str(ndim, shape), (long long)g->ph,
                 (long long)g->pw, (long long)g->kh, (long long)g->kw);
        return false;
    }
    out[0] = dz_conv_outsize(shape[2], g->kh, g->sh, g->ph);
    out[1] = dz_conv_outsize(shape[3], g->kw, g->sw, g->pw);
    return dz_check_shape(op, "the column array (N, C, KH, KW, OH, OW)", 6,
                          DZ_SHAPE(shape[0], shape[1], g->kh, g->kw, out[0], out[1])) &&
           dz_check_shape(op, "the padded image", 4,
                          DZ_SHAPE(shape[0], shape[1], shape[2] + 2 * g->ph, shape[3] + 2 * g->pw));
}

/* ---- im2col / col2im on arrays ------------------------------------------- */

/* The padded image's (N, C, Hp, Wp) and the window positions (OH, OW). */
typedef struct {
    int64_t n, c, hp, wp, oh, ow;
} padded_image;

static padded_image padded_of(const int64_t img[4], const dz_conv_geom *g)
{
    return (padded_image){img[0], img[1], img[2] + 2 * g->ph, img[3] + 2 * g->pw,
                          dz_conv_outsize(img[2], g->kh, g->sh, g->ph), dz_conv_outsize(img[3], g->kw, g->sw, g->pw)};
}

/* The image (N, C, H, W) inside the padded one: pad = scatter, crop = gather. */
static dz_gather_spec interior_spec(const int64_t img[4], const dz_conv_geom *g)
{
    padded_image p = padded_of(img, g);
    dz_gather_spec s = {.ndim = 4, .offset = g->ph * p.wp + g->pw};
    const int64_t stride[4] = {p.c * p.hp * p.wp, p.hp * p.wp, p.wp, 1};
    for (int d = 0; d < 4; d++) {
        s.shape[d] = img[d];
        s.stride[d] = stride[d];
    }
    return s;
}

/* col over the padded image: dims (N, C, KH, KW, OH, OW), or
 * (N, OH, OW, C, KH, KW) for the matrix layout. */
static dz_gather_spec column_spec(const int64_t img[4], const dz_conv_geom *g, bool to_matrix)
{
    padded_image p = padded_of(img, g);
    const int64_t shape[6] = {p.n, p.c, g->kh, g->kw, p.oh, p.ow};
    const int64_t stride[6] = {p.c * p.hp * p.wp, p.hp * p.wp, p.wp, 1, g->sh * p.wp, g->sw};
    const int order[2][6] = {{0, 1, 2, 3, 4, 5}, {0, 4, 5, 1, 2, 3}};
    dz_gather_spec s = {.ndim = 6};
    for (int d = 0; d < 6; d++) {
        s.shape[d] = shape[order[to_matrix][d]];
        s.stride[d] = stride[order[to_matrix][d]];
    }
    return s;
}

static bool has_pad(const dz_conv_geom *g) { return g->ph > 0 || g->pw > 0; }

static void column_shape(const int64_t img[4], const dz_conv_geom *g, bool to_matrix, int *ndim, int64_t *shape)
{
    padded_image p = padded_of(img, g);
    const int64_t full[6] = {p.n, p.c, g->kh, g->kw, p.oh, p.ow};
    *ndim = to_matrix ? 2 : 6;
    for (int d = 0; d < 6; d++)
        shape[d] = full[d];
    if (to_matrix) {
        shape[0] = p.n * p.oh * p.ow;
        shape[1] = p.c * g->kh * g->kw;
    }
}

/* col = im2col(x) by a gather of the zero-padded image; false when out of
 * memory for it. */
static bool im2col_composite(const dz_array *x, const dz_conv_geom *g, bool to_matrix, dz_array *col)
{
    padded_image p = padded_of(x->shape, g);
    const dz_backend *be = dz_backend_of(x);
    dz_array *xp = has_pad(g) ? dz_array_empty_on(x->device, x->dtype, 4, DZ_SHAPE(p.n, p.c, p.hp, p.wp))
                              : dz_array_retain((dz_array *)x); // (N, C, Hp, Wp)
    if (!xp)
        return false;
    if (has_pad(g)) {
        dz_gather_spec inside = interior_spec(x->shape, g);
        be->scatter(x, &inside, xp);
    }
    dz_gather_spec spec = column_spec(x->shape, g, to_matrix);
    be->gather(xp, &spec, col);
    dz_array_release(xp);
    return true;
}

dz_array *dz_im2col_array(const dz_array *x, const dz_conv_geom *g, bool to_matrix)
{
    int ndim;
    int64_t shape[6];
    column_shape(x->shape, g, to_matrix, &ndim, shape);
    const dz_backend *be = dz_backend_of(x);
    dz_array *col = dz_array_uninit_on(x->device, x->dtype, ndim, shape);
    if (col && DZ_FUSED(be, im2col))
        be->fused->im2col(x, g, to_matrix, col);
    else if (col && !im2col_composite(x, g, to_matrix, col))
        col = dz_failed_output(col);
    return col;
}

/* img = col2im(col) by an ordered scatter-add into a zero-padded image and a
 * crop; false when out of memory for it. */
static bool col2im_composite(const dz_array *col, const dz_conv_geom *g, bool to_matrix, dz_array *img)
{
    padded_image p = padded_of(img->shape, g);
    const dz_backend *be = dz_backend_of(col);
    dz_array *xp = has_pad(g) ? dz_array_empty_on(col->device, col->dtype, 4, DZ_SHAPE(p.n, p.c, p.hp, p.wp))
                              : dz_array_retain(img); // (N, C, Hp, Wp)
    if (!xp)
        return false;
    if (!has_pad(g))
        be->fill(xp, 0);
    dz_gather_spec spec = column_spec(img->shape, g, to_matrix);
    be->scatter_add(col, &spec, xp);
    if (has_pad(g)) {
        dz_gather_spec inside = interior_spec(img->shape, g);
        be->gather(xp, &inside, img);
    }
    dz_array_release(xp);
    return true;
}

dz_array *dz_col2im_array(const dz_array *col, const int64_t img_shape[4], const dz_conv_geom *g, bool to_matrix)
{
    const dz_backend *be = dz_backend_of(col);
    dz_array *img = dz_array_uninit_on(col->device, col->dtype, 4, img_shape); // (N, C, H, W)
    if (img && DZ_FUSED(be, col2im))
        be->fused->col2im(col, g, to_matrix, img);
    else if (img && !col2im_composite(col, g, to_matrix, img))
        img = dz_failed_output(img);
    return img;
}

/* ---- the state of the functions ------------------------------------------ */

typedef struct {
    dz_conv_geom g;
    int64_t img[4];  /* im2col/col2im: the image (N, C, H, W); deconv: the output's */
    bool to_matrix;
    dz_array *col;   /* conv2d: the forward's col for the weight grad, or NULL */
} conv_state;

static conv_state *state_new(const dz_conv_geom *g, const int64_t img[4], bool to_matrix)
{
    conv_state *s = dz_xcalloc(1, sizeof *s);
    s->g = *g;
    for (int d = 0; img && d < 4; d++)
        s->img[d] = img[d];
    s->to_matrix = to_matrix;
    return s;
}

static void state_free(void *vs)
{
    conv_state *s = vs;
    if (s)
        dz_array_release(s->col);
    free(s);
}

/* ---- im2col / col2im: each the other's backward --------------------------- */

/* im2col: x (N, C, H, W) -> col; gx = col2im(gy) */
static void im2col_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const conv_state *s = f->state;
    gx[0] = dz_col2im_checked(gy[0], s->img, &s->g, s->to_matrix);
}
static const dz_function_ops im2col_ops = {"dz_im2col", im2col_backward, state_free, NULL, "Im2col"};

dz_variable *dz_im2col_checked(dz_variable *x, const dz_conv_geom *g, bool to_matrix)
{
    dz_array *col = dz_im2col_array(x->data, g, to_matrix);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&im2col_ops, 1, in, col, 0, state_new(g, x->data->shape, to_matrix));
}

/* col2im: col -> (N, C, H, W); gcol = im2col(gy) */
static void col2im_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const conv_state *s = f->state;
    gx[0] = dz_im2col_checked(gy[0], &s->g, s->to_matrix);
}
static const dz_function_ops col2im_ops = {"dz_col2im", col2im_backward, state_free, NULL, "Col2im"};

dz_variable *dz_col2im_checked(dz_variable *col, const int64_t img_shape[4], const dz_conv_geom *g, bool to_matrix)
{
    dz_array *img = dz_col2im_array(col->data, img_shape, g, to_matrix);
    dz_variable *in[1] = {col};
    return dz_function_apply1(&col2im_ops, 1, in, img, 0, state_new(g, img_shape, to_matrix));
}

dz_variable *dz_im2col(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad, bool to_matrix)
{
    const char *op = "dz_im2col";
    dz_conv_geom g;
    int64_t out[2];
    if (!dz_check_float(op, x) || !dz_check_conv_args(op, kernel, stride, pad, &g) ||
        !dz_check_conv_image(op, "x", SHAPE_OF(x), &g, out))
        return NULL;
    return dz_im2col_checked(x, &g, to_matrix);
}

dz_variable *dz_col2im(dz_variable *col, const int64_t input_shape[4], dz_size2 kernel, dz_size2 stride,
                       dz_size2 pad, bool to_matrix)
{
    const char *op = "dz_col2im";
    dz_conv_geom g;
    int64_t out[2], shape[6];
    int ndim;
    if (!dz_check_float(op, col) || !dz_check_not_null(op, input_shape, "input_shape") ||
        !dz_check_conv_args(op, kernel, stride, pad, &g) ||
        !dz_check_shape(op, "input_shape", 4, input_shape) ||
        !dz_check_conv_image(op, "input_shape", 4, input_shape, &g, out))
        return NULL;
    column_shape(input_shape, &g, to_matrix, &ndim, shape);
    if (!dz_shape_equal(SHAPE_OF(col), ndim, shape)) {
        dz_raise(DZ_ERR_SHAPE, "%s: col has shape %s but im2col of an image %s with this kernel, stride and pad "
                 "gives %s; pass the image's shape and the same kernel, stride, pad and to_matrix", op,
                 DZ_SHAPE_OF(col->data), dz_shape_str(4, input_shape), dz_shape_str(ndim, shape));
        return NULL;
    }
    return dz_col2im_checked(col, input_shape, &g, to_matrix);
}

/* ---- raw convolutions ------------------------------------------------------ */

/* y (N, OC, OH, OW) = W (OC, K) @ col (N, K, OH*OW) + b (OC,) on every pixel,
 * with w (OC, ...) of K = C*KH*KW elements a row. */
static dz_array *conv_from_col(const dz_array *col, const dz_array *w, const dz_array *b, int64_t n, int64_t oh,
                               int64_t ow)
{
    int64_t oc = w->shape[0], k = w->shape[1] * w->shape[2] * w->shape[3], l = oh * ow;
    dz_array *y = dz_array_uninit_on(w->device, w->dtype, 4, DZ_SHAPE(n, oc, oh, ow));
    if (!y)
        return NULL;
    dz_array *y3 = dz_array_reshape(y, 3, DZ_SHAPE(n, oc, l));       // (N, OC, L)
    dz_array *w2 = dz_array_reshape(w, 2, DZ_SHAPE(oc, k));          // (OC, K)
    dz_array *col3 = dz_array_reshape(col, 3, DZ_SHAPE(n, k, l));    // (N, K, L)
    dz_array *b3 = b ? dz_array_reshape(b, 3, DZ_SHAPE(1, oc, 1)) : NULL; // (1, OC, 1)
    const dz_backend *be = dz_backend_of(w);
    if (b3)
        be->unary(DZ_UNARY_COPY, b3, 0, y3); /* y = b, then y += W col in the same gemm */
    be->matmul(w2, false, col3, false, y3, b != NULL);
    dz_array_release(y3);
    dz_array_release(w2);
    dz_array_release(col3);
    dz_array_release(b3);
    return y;
}

/* The convolution of x (N, C, H, W) with w (OC, C, KH, KW); *keep_col (when
 * not NULL) gets the col it used. */
static dz_array *conv_raw(const dz_array *x, const dz_array *w, const dz_array *b, const dz_conv_geom *g,
                          dz_array **keep_col)
{
    dz_array *col = dz_im2col_array(x, g, false); // (N, C, KH, KW, OH, OW)
    dz_array *y = col ? conv_from_col(col, w, b, x->shape[0], col->shape[4], col->shape[5]) : NULL;
    if (y && keep_col)
        *keep_col = col;
    else
        dz_array_release(col);
    return y;
}

/* The transposed convolution of x (N, C, H, W) with w (C, OC, KH, KW) into
 * (N, OC, OH, OW): gcol (N, OC*KH*KW, H*W) = W^T @ x, then col2im. */
static dz_array *deconv_raw(const dz_array *x, const dz_array *w, const dz_array *b, const dz_conv_geom *g,
                            int64_t oh, int64_t ow)
{
    int64_t n = x->shape[0], c = x->shape[1], oc = w->shape[1], k = oc * g->kh * g->kw, l = x->shape[2] * x->shape[3];
    dz_array *gcol = dz_array_uninit_on(x->device, x->dtype, 6,
                                        DZ_SHAPE(n, oc, g->kh, g->kw, x->shape[2], x->shape[3]));
    if (!gcol)
        return NULL;
    dz_array *gcol3 = dz_array_reshape(gcol, 3, DZ_SHAPE(n, k, l)); // (N, OC*KH*KW, H*W)
    dz_array *w2 = dz_array_reshape(w, 2, DZ_SHAPE(c, k));          // (C, OC*KH*KW)
    dz_array *x3 = dz_array_reshape(x, 3, DZ_SHAPE(n, c, l));       // (N, C, H*W)
    dz_backend_of(x)->matmul(w2, true, x3, false, gcol3, false);
    dz_array_release(gcol3);
    dz_array_release(w2);
    dz_array_release(x3);
    dz_array *y = dz_col2im_array(gcol, DZ_SHAPE(n, oc, oh, ow), g, false);
    dz_array_release(gcol);
    if (y && b) {
        dz_array *b4 = dz_array_reshape(b, 4, DZ_SHAPE(1, oc, 1, 1));
        dz_array *yb = dz_array_binary(DZ_BINARY_ADD, y, b4);
        dz_array_release(b4);
        dz_array_release(y);
        y = yb;
    }
    return y;
}

/* gW (wshape: Cg, Ci, KH, KW) = sum over n of g[n] (Cg, L) @ col[n]^T, col
 * (N, Ci*KH*KW, L) the im2col of the image the weight slid over. */
static dz_array *grad_w_raw(const dz_array *col, const dz_array *g, const int64_t wshape[4])
{
    int64_t n = g->shape[0], cg = wshape[0], k = wshape[1] * wshape[2] * wshape[3], l = g->shape[2] * g->shape[3];
    dz_array *gw = dz_array_uninit_on(g->device, g->dtype, 4, wshape);
    if (!gw)
        return NULL;
    dz_array *gw2 = dz_array_reshape(gw, 2, DZ_SHAPE(cg, k));      // (Cg, K)
    dz_array *g3 = dz_array_reshape(g, 3, DZ_SHAPE(n, cg, l));     // (N, Cg, L)
    dz_array *col3 = dz_array_reshape(col, 3, DZ_SHAPE(n, k, l));  // (N, K, L)
    dz_backend_of(g)->matmul(g3, false, col3, true, gw2, false);   /* c without a batch axis sums over N */
    dz_array_release(gw2);
    dz_array_release(g3);
    dz_array_release(col3);
    return gw;
}

/* gb (OC,) = gy (N, OC, OH, OW) summed over N, OH and OW. */
static dz_array *grad_b_raw(const dz_array *gy)
{
    dz_array *sum = dz_array_reduce(DZ_REDUCE_SUM, gy, DZ_SHAPE(1, gy->shape[1], 1, 1));
    dz_array *gb = sum ? dz_array_reshape(sum, 1, &gy->shape[1]) : NULL;
    dz_array_release(sum);
    return gb;
}

static dz_variable *sum_bias_grad(dz_variable *gy) { return dz_sum(gy, 3, (const int[]){0, 2, 3}, false); }

/* ---- conv2d, deconv2d and the weight grad ---------------------------------- */

static dz_variable *conv2d_checked(dz_variable *x, dz_variable *w, dz_variable *b, const dz_conv_geom *g);
static dz_variable *deconv2d_checked(dz_variable *x, dz_variable *w, dz_variable *b, const dz_conv_geom *g,
                                     int64_t oh, int64_t ow);

/* conv2d_grad_w: (img (N, Ci, H, W), g (N, Cg, OH, OW)) -> gW (Cg, Ci, KH, KW),
 * bilinear, so with ggW: gimg = deconv2d(g, ggW), gg = conv2d(img, ggW). */
static void grad_w_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const conv_state *s = f->state;
    dz_variable *img = IN(f, 0), *g = IN(f, 1);
    if (dz_needs_grad(img))
        gx[0] = deconv2d_checked(g, gy[0], NULL, &s->g, img->data->shape[2], img->data->shape[3]);
    if (dz_needs_grad(g))
        gx[1] = conv2d_checked(img, gy[0], NULL, &s->g);
}
static const dz_function_ops grad_w_ops = {"dz_conv2d_grad_w", grad_w_backward, state_free, NULL, "Conv2DGradW"};

static dz_variable *grad_w_checked(dz_variable *img, dz_variable *g, const dz_conv_geom *geom)
{
    const dz_array *ia = img->data;
    dz_array *col = dz_im2col_array(ia, geom, false);
    dz_array *gw = col ? grad_w_raw(col, g->data, DZ_SHAPE(g->data->shape[1], ia->shape[1], geom->kh, geom->kw))
                       : NULL;
    dz_array_release(col);
    dz_variable *in[2] = {img, g};
    return dz_function_apply1(&grad_w_ops, 2, in, gw, 0, state_new(geom, NULL, false));
}

/* conv2d: y (N, OC, OH, OW) = conv(x (N, C, H, W), W (OC, C, KH, KW)) + b;
 * gx = deconv2d(gy, W) to (H, W), gW = conv2d_grad_w(x, gy), gb = sum(gy). */
static void conv2d_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const conv_state *s = f->state;
    dz_variable *x = IN(f, 0), *w = IN(f, 1);
    if (dz_needs_grad(x))
        gx[0] = deconv2d_checked(gy[0], w, NULL, &s->g, x->data->shape[2], x->data->shape[3]);
    if (dz_needs_grad(w))
        gx[1] = grad_w_checked(x, gy[0], &s->g);
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = sum_bias_grad(gy[0]);
}

/* The same on arrays, with the forward's col for gW (then dropped: a second
 * backward through this graph computes it again). */
static void conv2d_backward_fast(dz_function *f, dz_variable *const *gys, dz_variable **gx)
{
    conv_state *s = f->state;
    const dz_array *gy = gys[0]->data, *x = IN(f, 0)->data, *w = IN(f, 1)->data;
    if (dz_needs_grad(IN(f, 0)))
        gx[0] = dz_raw_result(deconv_raw(gy, w, NULL, &s->g, x->shape[2], x->shape[3]));
    if (dz_needs_grad(IN(f, 1))) {
        dz_array *col = s->col ? s->col : dz_im2col_array(x, &s->g, false);
        s->col = NULL;
        gx[1] = dz_raw_result(col ? grad_w_raw(col, gy, w->shape) : NULL);
        dz_array_release(col);
    }
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = dz_raw_result(grad_b_raw(gy));
}
static const dz_function_ops conv2d_ops = {"dz_conv2d", conv2d_backward, state_free, conv2d_backward_fast, "Conv2d"};

static dz_variable *conv2d_checked(dz_variable *x, dz_variable *w, dz_variable *b, const dz_conv_geom *g)
{
    /* The col is kept for the weight grad only when a graph records it. */
    bool keep = dz_enable_backprop() && w->requires_grad;
    conv_state *s = state_new(g, NULL, false);
    dz_array *y = conv_raw(x->data, w->data, b ? b->data : NULL, g, keep ? &s->col : NULL);
    dz_variable *in[3] = {x, w, b};
    return dz_function_apply1(&conv2d_ops, b ? 3 : 2, in, y, 0, s);
}

/* deconv2d: y (N, OC, OH, OW) = deconv(x (N, C, H, W), W (C, OC, KH, KW)) + b;
 * gx = conv2d(gy, W), gW = conv2d_grad_w(gy, x), gb = sum(gy). */
static void deconv2d_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const conv_state *s = f->state;
    dz_variable *x = IN(f, 0), *w = IN(f, 1);
    if (dz_needs_grad(x))
        gx[0] = conv2d_checked(gy[0], w, NULL, &s->g);
    if (dz_needs_grad(w))
        gx[1] = grad_w_checked(gy[0], x, &s->g);
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = sum_bias_grad(gy[0]);
}

/* The same on arrays, both grads from one im2col of gy. */
static void deconv2d_backward_fast(dz_function *f, dz_variable *const *gys, dz_variable **gx)
{
    const conv_state *s = f->state;
    const dz_array *gy = gys[0]->data, *x = IN(f, 0)->data, *w = IN(f, 1)->data;
    bool need_x = dz_needs_grad(IN(f, 0)), need_w = dz_needs_grad(IN(f, 1));
    dz_array *col = need_x || need_w ? dz_im2col_array(gy, &s->g, false) : NULL; // (N, OC, KH, KW, H, W)
    if (need_x)
        gx[0] = dz_raw_result(col ? conv_from_col(col, w, NULL, x->shape[0], x->shape[2], x->shape[3]) : NULL);
    if (need_w)
        gx[1] = dz_raw_result(col ? grad_w_raw(col, x, w->shape) : NULL);
    dz_array_release(col);
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = dz_raw_result(grad_b_raw(gy));
}
static const dz_function_ops deconv2d_ops = {"dz_deconv2d", deconv2d_backward, state_free, deconv2d_backward_fast,
                                             "Deconv2d"};

static dz_variable *deconv2d_checked(dz_variable *x, dz_variable *w, dz_variable *b, const dz_conv_geom *g,
                                     int64_t oh, int64_t ow)
{
    dz_array *y = deconv_raw(x->data, w->data, b ? b->data : NULL, g, oh, ow);
    dz_variable *in[3] = {x, w, b};
    return dz_function_apply1(&deconv2d_ops, b ? 3 : 2, in, y, 0, state_new(g, NULL, false));
}

/* ---- argument checks ------------------------------------------------------- */

/* x (N, C, H, W) and W are float, of one dtype and device, W 4-D with its
 * input channels (dim in_axis) equal to C, and b (W's dim 1 - in_axis,) or NULL. */
static bool check_conv_operands(const char *op, dz_variable *x, dz_variable *w, dz_variable *b, int in_axis,
                                const char *w_layout)
{
    if (!dz_check_float(op, x) || !dz_check_pair(op, x, w) || (b && !dz_check_pair(op, x, b)))
        return false;
    const dz_array *xa = x->data, *wa = w->data;
    if (xa->ndim != 4 || wa->ndim != 4) {
        dz_raise(DZ_ERR_SHAPE, "%s: x %s and W %s must both be 4-D: x (N, C, H, W), W %s", op, DZ_SHAPE_OF(xa),
                 DZ_SHAPE_OF(wa), w_layout);
        return false;
    }
    if (xa->shape[1] != wa->shape[in_axis]) {
        dz_raise(DZ_ERR_SHAPE, "%s: x %s has %lld channels but W %s %s expects %lld (dim %d); give W the input's "
                 "channel count", op, DZ_SHAPE_OF(xa), (long long)xa->shape[1], DZ_SHAPE_OF(wa), w_layout,
                 (long long)wa->shape[in_axis], in_axis);
        return false;
    }
    int64_t oc = wa->shape[1 - in_axis];
    if (b && (b->data->ndim != 1 || b->data->shape[0] != oc)) {
        dz_raise(DZ_ERR_SHAPE, "%s: b has shape %s but W %s needs a bias of shape (%lld,)", op,
                 DZ_SHAPE_OF(b->data), DZ_SHAPE_OF(wa), (long long)oc);
        return false;
    }
    return true;
}

dz_variable *dz_conv2d(dz_variable *x, dz_variable *W, dz_variable *b, dz_size2 stride, dz_size2 pad)
{
    const char *op = "dz_conv2d";
    dz_conv_geom g;
    int64_t out[2];
    if (!check_conv_operands(op, x, W, b, 1, "(OC, C, KH, KW)") ||
        !dz_check_conv_args(op, (dz_size2){W->data->shape[2], W->data->shape[3]}, stride, pad, &g) ||
        !dz_check_conv_image(op, "x", SHAPE_OF(x), &g, out) ||
        !dz_check_shape(op, "the result shape", 4, DZ_SHAPE(x->data->shape[0], W->data->shape[0], out[0], out[1])))
        return NULL;
    return conv2d_checked(x, W, b, &g);
}

/* One side of a deconv's output: `given` (0: DeZero's formula), which a
 * convolution with this window must map back onto `in` pixels. */
static bool deconv_side(const char *op, const char *side, int64_t in, int64_t k, int64_t s, int64_t p, int64_t given,
                        int64_t *out)
{
    const int64_t most = (int64_t)1 << 40;
    int64_t formula, span;
    if (in > most || given > most || __builtin_mul_overflow(s, in - 1, &span) ||
        __builtin_add_overflow(span, k - 2 * p, &formula) || formula > most) {
        dz_raise(DZ_ERR_OVERFLOW, "%s: an output %s of stride %lld times (%lld - 1) plus kernel %lld is too large; "
                 "use smaller sizes", op, side, (long long)s, (long long)in, (long long)k);
        return false;
    }
    *out = given ? given : formula;
    if (given < 0 || *out < 1 || *out + 2 * p < k || dz_conv_outsize(*out, k, s, p) != in) {
        dz_raise(DZ_ERR_SHAPE, "%s: output %s %lld does not fit an input %s of %lld with kernel %lld, stride %lld, "
                 "pad %lld (a convolution of the output must give the input back); pass 0 for %lld", op, side,
                 (long long)*out, side, (long long)in, (long long)k, (long long)s, (long long)p, (long long)formula);
        return false;
    }
    return true;
}

bool dz_check_deconv_output(const char *op, const int64_t x[4], int64_t out_channels, const dz_conv_geom *g,
                            dz_size2 outsize, int64_t out[2])
{
    int64_t unused[2];
    return deconv_side(op, "height", x[2], g->kh, g->sh, g->ph, outsize.h, &out[0]) &&
           deconv_side(op, "width", x[3], g->kw, g->sw, g->pw, outsize.w, &out[1]) &&
           dz_check_conv_image(op, "the output", 4, DZ_SHAPE(x[0], out_channels, out[0], out[1]), g, unused);
}

dz_variable *dz_deconv2d(dz_variable *x, dz_variable *W, dz_variable *b, dz_size2 stride, dz_size2 pad,
                         dz_size2 outsize)
{
    const char *op = "dz_deconv2d";
    dz_conv_geom g;
    int64_t out[2];
    if (!check_conv_operands(op, x, W, b, 0, "(C, OC, KH, KW)") ||
        !dz_check_conv_args(op, (dz_size2){W->data->shape[2], W->data->shape[3]}, stride, pad, &g) ||
        !dz_check_deconv_output(op, x->data->shape, W->data->shape[1], &g, outsize, out))
        return NULL;
    return deconv2d_checked(x, W, b, &g, out[0], out[1]);
}

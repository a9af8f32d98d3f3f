/* Pooling (DeZero's functions_conv): max pooling, its grad (Pooling2DGrad)
 * and the grad's grad (Pooling2DWithIndexes), the last two each the other's
 * backward, so max pooling differentiates to any order; and average
 * pooling. Windows pad with zeros for both (DeZero's rule: an all-negative
 * window that reaches the padding has max 0), and the average counts the
 * padded zeros.
 *
 * Max pooling routes each window's grad to its first max in window order
 * (NumPy's argmax), kept from the forward for the grad functions, which
 * share it: as a one-hot mask over the window (N, C, KH*KW, OH, OW) made of
 * primitives, or, where the backend has the max pooling kernels, as the
 * offset in its window of each output's pick (N, C, OH, OW), with the same
 * bits. A pick whose kernel is gone by the backward (a fused table switched
 * off) is turned into the mask. */
#include <stdint.h>
#include <stdlib.h>

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "checks.h"
#include "conv_internal.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/shape.h"

/* One pooling's geometry and, for max pooling, its mask; shared by the
 * Functions of its backward. */
typedef struct {
    int refcount;
    dz_conv_geom g;
    int64_t img[4], oh, ow; /* the input (N, C, H, W) and the window positions */
    dz_array *mask;         /* max: (N, C, KH*KW, OH, OW), 1 at each window's first max (all ones
                             * where the max is NaN); or NULL */
    dz_array *argmax;       /* max, fused: (N, C, OH, OW) int32, that max's offset in the window
                             * (-1: a NaN max, whose mask is all ones); or NULL */
} pool_plan;

static pool_plan *plan_new(const dz_conv_geom *g, const int64_t img[4])
{
    pool_plan *p = dz_xcalloc(1, sizeof *p);
    p->refcount = 1;
    p->g = *g;
    for (int d = 0; d < 4; d++)
        p->img[d] = img[d];
    p->oh = dz_conv_outsize(img[2], g->kh, g->sh, g->ph);
    p->ow = dz_conv_outsize(img[3], g->kw, g->sw, g->pw);
    return p;
}

static pool_plan *plan_retain(pool_plan *p)
{
    p->refcount++;
    return p;
}

static void plan_release(void *vp)
{
    pool_plan *p = vp;
    if (!p || --p->refcount > 0)
        return;
    dz_array_release(p->mask);
    dz_array_release(p->argmax);
    free(p);
}

/* The col of a window sweep with the window flattened: (N, C, KH*KW, OH, OW). */
#define WINDOW_SHAPE(p) DZ_SHAPE((p)->img[0], (p)->img[1], (p)->g.kh * (p)->g.kw, (p)->oh, (p)->ow)
/* One value per window position: (N, C, OH, OW), and with the window axis (N, C, 1, OH, OW). */
#define OUT_SHAPE(p) DZ_SHAPE((p)->img[0], (p)->img[1], (p)->oh, (p)->ow)
#define OUT5_SHAPE(p) DZ_SHAPE((p)->img[0], (p)->img[1], 1, (p)->oh, (p)->ow)

/* The backend's max pooling kernel `slot` when the plan has its picks. */
#define FUSED_POOL(a, p, slot) ((p)->argmax ? DZ_FUSED(dz_backend_of(a), slot) : NULL)

/* ---- max pooling: forward and mask ----------------------------------------- */

/* 1 at the first maximum of each window, 0 elsewhere: score = (col == max)
 * times (KK - k), which is largest at the first max. col (N, C, KK, OH, OW),
 * ymax (N, C, 1, OH, OW). */
static dz_array *first_max_mask(const dz_array *col, const dz_array *ymax, int64_t kk)
{
    dz_array *eq = dz_array_binary(DZ_BINARY_EQUAL, col, ymax);
    dz_array *ranks = eq ? dz_array_arange(col->dtype, (double)kk, 0, -1) : NULL; // KK .. 1
    dz_array *rank5 = ranks ? dz_array_reshape(ranks, 5, DZ_SHAPE(1, 1, kk, 1, 1)) : NULL;
    dz_array *rank = rank5 ? dz_array_to_device(rank5, col->device) : NULL;
    dz_array *score = rank ? dz_array_binary(DZ_BINARY_MUL, eq, rank) : NULL;
    dz_array *best = score ? dz_array_reduce(DZ_REDUCE_MAX, score, ymax->shape) : NULL;
    dz_array *mask = best ? dz_array_binary(DZ_BINARY_EQUAL, score, best) : NULL;
    dz_array_release(eq);
    dz_array_release(ranks);
    dz_array_release(rank5);
    dz_array_release(rank);
    dz_array_release(score);
    dz_array_release(best);
    return mask;
}

/* Whether the backend's kernel pools x: it has one, and the offsets in a
 * window fit in int32. */
static bool has_fused_pool(const dz_array *x, const pool_plan *p)
{
    return DZ_FUSED(dz_backend_of(x), max_pool) && p->g.kh * p->g.kw <= INT32_MAX;
}

/* y (N, C, OH, OW) and, when `keep_pick`, p->argmax by the backend's kernel. */
static dz_array *max_pool_fused(const dz_array *x, pool_plan *p, bool keep_pick)
{
    const dz_backend *be = dz_backend_of(x);
    dz_array *y = dz_array_uninit_on(x->device, x->dtype, 4, OUT_SHAPE(p));
    dz_array *argmax = y && keep_pick ? dz_array_uninit_on(x->device, DZ_I32, 4, OUT_SHAPE(p)) : NULL;
    if (y && (argmax || !keep_pick))
        be->fused->max_pool(x, &p->g, y, argmax);
    else
        y = dz_failed_output(y);
    p->argmax = argmax;
    return y;
}

/* p->mask from p->argmax, in double (exact for any window size), then in
 * the image's dtype: (k == argmax) + (argmax == -1) on every window entry k,
 * the two never both 1, the second as step(-argmax). False when out of
 * memory. */
static bool mask_from_argmax(pool_plan *p, dz_dtype dtype)
{
    int64_t kk = p->g.kh * p->g.kw;
    dz_array *pick = dz_array_astype(p->argmax, DZ_F64);
    dz_array *pick5 = pick ? dz_array_reshape(pick, 5, OUT5_SHAPE(p)) : NULL;
    dz_array *ranks = pick5 ? dz_array_arange(DZ_F64, 0, (double)kk, 1) : NULL; // 0 .. KK-1
    dz_array *rank5 = ranks ? dz_array_reshape(ranks, 5, DZ_SHAPE(1, 1, kk, 1, 1)) : NULL;
    dz_array *rank = rank5 ? dz_array_to_device(rank5, p->argmax->device) : NULL;
    dz_array *at = rank ? dz_array_binary(DZ_BINARY_EQUAL, rank, pick5) : NULL; // (N, C, KK, OH, OW)
    dz_array *neg = at ? dz_array_unary(DZ_UNARY_NEG, pick5, 0) : NULL;
    dz_array *all = neg ? dz_array_unary(DZ_UNARY_STEP, neg, 0) : NULL; // (N, C, 1, OH, OW)
    dz_array *mask = all ? dz_array_binary(DZ_BINARY_ADD, at, all) : NULL;
    p->mask = mask ? dz_array_astype(mask, dtype) : NULL;
    dz_array_release(pick);
    dz_array_release(pick5);
    dz_array_release(ranks);
    dz_array_release(rank5);
    dz_array_release(rank);
    dz_array_release(at);
    dz_array_release(neg);
    dz_array_release(all);
    dz_array_release(mask);
    return p->mask != NULL;
}

/* The plan's mask, made from its picks if the forward kept those. */
static const dz_array *plan_mask(pool_plan *p, dz_dtype dtype)
{
    return p->mask || mask_from_argmax(p, dtype) ? p->mask : NULL;
}

/* y (N, C, OH, OW) = the max of each window; p->mask (or p->argmax) set when
 * `keep_mask`. */
static dz_array *max_pool_raw(const dz_array *x, pool_plan *p, bool keep_mask)
{
    if (has_fused_pool(x, p))
        return max_pool_fused(x, p, keep_mask);
    dz_array *col6 = dz_im2col_array(x, &p->g, false); // (N, C, KH, KW, OH, OW)
    dz_array *col = col6 ? dz_array_reshape(col6, 5, WINDOW_SHAPE(p)) : NULL;
    dz_array *ymax = col ? dz_array_reduce(DZ_REDUCE_MAX, col, OUT5_SHAPE(p)) : NULL;
    if (ymax && keep_mask) {
        p->mask = first_max_mask(col, ymax, p->g.kh * p->g.kw);
        if (!p->mask)
            ymax = dz_failed_output(ymax);
    }
    dz_array *y = ymax ? dz_array_reshape(ymax, 4, OUT_SHAPE(p)) : NULL;
    dz_array_release(col6);
    dz_array_release(col);
    dz_array_release(ymax);
    return y;
}

/* ---- the grad and the grad's grad ------------------------------------------ */

static dz_variable *pool_grad(dz_variable *gy, pool_plan *p);
static dz_variable *pool_with_indexes(dz_variable *x, pool_plan *p);

/* pool_grad: gy (N, C, OH, OW) -> gx (N, C, H, W), gy put at each window's
 * first max and summed into the image (col2im); its grad is pool_with_indexes. */
static void pool_grad_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = pool_with_indexes(gy[0], f->state);
}
static const dz_function_ops pool_grad_ops = {"dz_max_pooling_grad", pool_grad_backward, plan_release, NULL,
                                              "Pooling2DGrad"};

/* gx = col2im(mask * gy) */
static dz_array *pool_grad_raw(const dz_array *g, pool_plan *p)
{
    if (FUSED_POOL(g, p, max_pool_backward)) {
        dz_array *gx = dz_array_uninit_on(g->device, g->dtype, 4, p->img);
        if (gx)
            dz_backend_of(g)->fused->max_pool_backward(g, p->argmax, &p->g, gx);
        return gx;
    }
    const dz_array *mask = plan_mask(p, g->dtype);
    dz_array *g5 = mask ? dz_array_reshape(g, 5, OUT5_SHAPE(p)) : NULL;
    dz_array *gcol = g5 ? dz_array_binary(DZ_BINARY_MUL, mask, g5) : NULL; // (N, C, KK, OH, OW)
    dz_array *gcol6 = gcol ? dz_array_reshape(gcol, 6, DZ_SHAPE(p->img[0], p->img[1], p->g.kh, p->g.kw, p->oh,
                                                                p->ow)) : NULL;
    dz_array *gx = gcol6 ? dz_col2im_array(gcol6, p->img, &p->g, false) : NULL;
    dz_array_release(g5);
    dz_array_release(gcol);
    dz_array_release(gcol6);
    return gx;
}

static dz_variable *pool_grad(dz_variable *gy, pool_plan *p)
{
    dz_array *gx = pool_grad_raw(gy->data, p);
    dz_variable *in[1] = {gy};
    return dz_function_apply1(&pool_grad_ops, 1, in, gx, 0, plan_retain(p));
}

/* pool_with_indexes: x (N, C, H, W) -> (N, C, OH, OW), each window's value at
 * the first max of the pooled input; its grad is pool_grad. */
static void pool_with_indexes_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = pool_grad(gy[0], f->state);
}
static const dz_function_ops pool_with_indexes_ops = {"dz_max_pooling_with_indexes", pool_with_indexes_backward,
                                                      plan_release, NULL, "Pooling2DWithIndexes"};

/* y = the window sums of col * mask */
static dz_array *pool_with_indexes_raw(const dz_array *x, pool_plan *p)
{
    if (FUSED_POOL(x, p, max_pool_pick)) {
        dz_array *y = dz_array_uninit_on(x->device, x->dtype, 4, OUT_SHAPE(p));
        if (y)
            dz_backend_of(x)->fused->max_pool_pick(x, p->argmax, &p->g, y);
        return y;
    }
    const dz_array *mask = plan_mask(p, x->dtype);
    dz_array *col6 = mask ? dz_im2col_array(x, &p->g, false) : NULL;
    dz_array *col = col6 ? dz_array_reshape(col6, 5, WINDOW_SHAPE(p)) : NULL;
    dz_array *picked = col ? dz_array_binary(DZ_BINARY_MUL, col, mask) : NULL;
    dz_array *sum = picked ? dz_array_reduce(DZ_REDUCE_SUM, picked, OUT5_SHAPE(p)) : NULL;
    dz_array *y = sum ? dz_array_reshape(sum, 4, OUT_SHAPE(p)) : NULL;
    dz_array_release(col6);
    dz_array_release(col);
    dz_array_release(picked);
    dz_array_release(sum);
    return y;
}

static dz_variable *pool_with_indexes(dz_variable *x, pool_plan *p)
{
    dz_array *y = pool_with_indexes_raw(x->data, p);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&pool_with_indexes_ops, 1, in, y, 0, plan_retain(p));
}

/* max_pooling: x (N, C, H, W) -> y (N, C, OH, OW); gx = pool_grad(gy) */
static void max_pool_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = pool_grad(gy[0], f->state);
}
static const dz_function_ops max_pool_ops = {"dz_max_pooling", max_pool_backward, plan_release, NULL, "Pooling"};

/* The checks both poolings share; fills g. */
static bool check_pooling(const char *op, dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad,
                          dz_conv_geom *g)
{
    int64_t out[2];
    return dz_check_float(op, x) && dz_check_conv_args(op, kernel, stride, pad, g) &&
           dz_check_conv_image(op, "x", SHAPE_OF(x), g, out);
}

dz_variable *dz_max_pooling(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad)
{
    dz_conv_geom g;
    if (!check_pooling("dz_max_pooling", x, kernel, stride, pad, &g))
        return NULL;
    pool_plan *p = plan_new(&g, x->data->shape);
    /* The mask is made only for a graph that records this op. */
    dz_array *y = max_pool_raw(x->data, p, dz_enable_backprop() && x->requires_grad);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&max_pool_ops, 1, in, y, 0, p);
}

/* ---- average pooling ------------------------------------------------------- */

/* gcol (N, C, KH, KW, OH, OW) = gy / (KH*KW) on every window entry, summed
 * into the image by col2im. */
static dz_array *average_pool_grad_raw(const dz_array *gy, const pool_plan *p)
{
    dz_array *g6 = dz_array_reshape(gy, 6, DZ_SHAPE(p->img[0], p->img[1], 1, 1, p->oh, p->ow));
    dz_array *gcol = g6 ? dz_array_uninit_on(gy->device, gy->dtype, 6,
                                             DZ_SHAPE(p->img[0], p->img[1], p->g.kh, p->g.kw, p->oh, p->ow))
                        : NULL;
    if (gcol)
        dz_backend_of(gy)->unary(DZ_UNARY_MUL_SCALAR, g6, 1.0 / (double)(p->g.kh * p->g.kw), gcol);
    dz_array *gx = gcol ? dz_col2im_array(gcol, p->img, &p->g, false) : NULL;
    dz_array_release(g6);
    dz_array_release(gcol);
    return gx;
}

/* average_pooling: x (N, C, H, W) -> y (N, C, OH, OW), each window's mean;
 * gx = col2im(broadcast(gy / (KH*KW))) */
static void average_pool_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const pool_plan *p = f->state;
    dz_variable *scaled = dz_mul_scalar(gy[0], 1.0 / (double)(p->g.kh * p->g.kw));
    dz_variable *g6 = dz_reshape(scaled, 6, DZ_SHAPE(p->img[0], p->img[1], 1, 1, p->oh, p->ow));
    dz_variable *gcol = dz_broadcast_to(g6, 6, DZ_SHAPE(p->img[0], p->img[1], p->g.kh, p->g.kw, p->oh, p->ow));
    gx[0] = gcol ? dz_col2im_checked(gcol, p->img, &p->g, false) : NULL;
}

static void average_pool_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_raw_result(average_pool_grad_raw(gy[0]->data, f->state));
}
static const dz_function_ops average_pool_ops = {"dz_average_pooling", average_pool_backward, plan_release,
                                                 average_pool_backward_fast, "AveragePooling"};

/* y = the window sums times 1 / (KH*KW). */
static dz_array *average_pool_raw(const dz_array *x, const pool_plan *p)
{
    dz_array *col = dz_im2col_array(x, &p->g, false); // (N, C, KH, KW, OH, OW)
    dz_array *sum = col ? dz_array_reduce(DZ_REDUCE_SUM, col, DZ_SHAPE(p->img[0], p->img[1], 1, 1, p->oh, p->ow))
                        : NULL;
    dz_array *mean = sum ? dz_array_unary(DZ_UNARY_MUL_SCALAR, sum, 1.0 / (double)(p->g.kh * p->g.kw)) : NULL;
    dz_array *y = mean ? dz_array_reshape(mean, 4, DZ_SHAPE(p->img[0], p->img[1], p->oh, p->ow)) : NULL;
    dz_array_release(col);
    dz_array_release(sum);
    dz_array_release(mean);
    return y;
}

dz_variable *dz_average_pooling(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad)
{
    dz_conv_geom g;
    if (!check_pooling("dz_average_pooling", x, kernel, stride, pad, &g))
        return NULL;
    pool_plan *p = plan_new(&g, x->data->shape);
    dz_array *y = average_pool_raw(x->data, p);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&average_pool_ops, 1, in, y, 0, p);
}

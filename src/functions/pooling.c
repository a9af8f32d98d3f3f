/* Pooling (DeZero's functions_conv): max pooling, its grad (Pooling2DGrad)
 * and the grad's grad (Pooling2DWithIndexes), the last two each the other's
 * backward, so max pooling differentiates to any order; and average
 * pooling. Windows pad with zeros for both (DeZero's rule: an all-negative
 * window that reaches the padding has max 0), and the average counts the
 * padded zeros.
 *
 * Max pooling routes each window's grad to its first max in window order
 * (NumPy's argmax), kept from the forward as a one-hot mask over the window
 * (N, C, KH*KW, OH, OW) that the grad functions share. */
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
    dz_array *mask;         /* max: (N, C, KH*KW, OH, OW), 1 at each window's first max; else NULL */
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
    free(p);
}

/* The col of a window sweep with the window flattened: (N, C, KH*KW, OH, OW). */
#define WINDOW_SHAPE(p) DZ_SHAPE((p)->img[0], (p)->img[1], (p)->g.kh * (p)->g.kw, (p)->oh, (p)->ow)

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

/* y (N, C, OH, OW) = the max of each window; p->mask set when `keep_mask`. */
static dz_array *max_pool_raw(const dz_array *x, pool_plan *p, bool keep_mask)
{
    dz_array *col6 = dz_im2col_array(x, &p->g, false); // (N, C, KH, KW, OH, OW)
    dz_array *col = col6 ? dz_array_reshape(col6, 5, WINDOW_SHAPE(p)) : NULL;
    dz_array *ymax = col ? dz_array_reduce(DZ_REDUCE_MAX, col, DZ_SHAPE(p->img[0], p->img[1], 1, p->oh, p->ow))
                         : NULL;
    if (ymax && keep_mask) {
        p->mask = first_max_mask(col, ymax, p->g.kh * p->g.kw);
        if (!p->mask)
            ymax = dz_failed_output(ymax);
    }
    dz_array *y = ymax ? dz_array_reshape(ymax, 4, DZ_SHAPE(p->img[0], p->img[1], p->oh, p->ow)) : NULL;
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
static const dz_function_ops pool_grad_ops = {"dz_max_pooling_grad", pool_grad_backward, plan_release, NULL};

static dz_variable *pool_grad(dz_variable *gy, pool_plan *p)
{
    const dz_array *g = gy->data;
    dz_array *g5 = dz_array_reshape(g, 5, DZ_SHAPE(p->img[0], p->img[1], 1, p->oh, p->ow));
    dz_array *gcol = g5 ? dz_array_binary(DZ_BINARY_MUL, p->mask, g5) : NULL; // (N, C, KK, OH, OW)
    dz_array *gcol6 = gcol ? dz_array_reshape(gcol, 6, DZ_SHAPE(p->img[0], p->img[1], p->g.kh, p->g.kw, p->oh,
                                                                p->ow)) : NULL;
    dz_array *gx = gcol6 ? dz_col2im_array(gcol6, p->img, &p->g, false) : NULL;
    dz_array_release(g5);
    dz_array_release(gcol);
    dz_array_release(gcol6);
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
                                                      plan_release, NULL};

static dz_variable *pool_with_indexes(dz_variable *x, pool_plan *p)
{
    dz_array *col6 = dz_im2col_array(x->data, &p->g, false);
    dz_array *col = col6 ? dz_array_reshape(col6, 5, WINDOW_SHAPE(p)) : NULL;
    dz_array *picked = col ? dz_array_binary(DZ_BINARY_MUL, col, p->mask) : NULL;
    dz_array *sum = picked ? dz_array_reduce(DZ_REDUCE_SUM, picked, DZ_SHAPE(p->img[0], p->img[1], 1, p->oh, p->ow))
                           : NULL;
    dz_array *y = sum ? dz_array_reshape(sum, 4, DZ_SHAPE(p->img[0], p->img[1], p->oh, p->ow)) : NULL;
    dz_array_release(col6);
    dz_array_release(col);
    dz_array_release(picked);
    dz_array_release(sum);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&pool_with_indexes_ops, 1, in, y, 0, plan_retain(p));
}

/* max_pooling: x (N, C, H, W) -> y (N, C, OH, OW); gx = pool_grad(gy) */
static void max_pool_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = pool_grad(gy[0], f->state);
}
static const dz_function_ops max_pool_ops = {"dz_max_pooling", max_pool_backward, plan_release, NULL};

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
                                                 average_pool_backward_fast};

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

/* What the convolution and pooling functions share (internal): the geometry
 * of a sliding window and its checks, im2col / col2im on arrays, and the
 * differentiable im2col / col2im for geometries already checked. */
#ifndef DEZERO_CONV_INTERNAL_H
#define DEZERO_CONV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../backend/backend.h" /* dz_conv_geom: a window's geometry */
#include "dezero/conv.h"

/* The number of window positions along a side: (size + 2 pad - k) / s + 1. */
int64_t dz_conv_outsize(int64_t size, int64_t k, int64_t s, int64_t p);

/* kernel and stride are at least 1 and pad at least 0; fills g. Raises
 * naming op. */
bool dz_check_conv_args(const char *op, dz_size2 kernel, dz_size2 stride, dz_size2 pad, dz_conv_geom *g);
/* x is a 4-D float image (N, C, H, W) that the window fits (at least one
 * position per side), and the column array (N, C, KH, KW, OH, OW) can exist;
 * out gets (OH, OW). Raises naming op, calling x `what`. */
bool dz_check_conv_image(const char *op, const char *what, int ndim, const int64_t *shape, const dz_conv_geom *g,
                         int64_t out[2]);
/* The output size (OH, OW) of a deconv of x (N, C, H, W) into out_channels:
 * outsize, or DeZero's formula on a side where it is 0, which a convolution
 * with g must map back onto (H, W). Raises naming op. */
bool dz_check_deconv_output(const char *op, const int64_t x[4], int64_t out_channels, const dz_conv_geom *g,
                            dz_size2 outsize, int64_t out[2]);

/* col (N, C, KH, KW, OH, OW), or (N*OH*OW, C*KH*KW) when to_matrix, of the
 * image x (N, C, H, W): col[n, c, i, j, y, x] = xpad[n, c, SH*y + i, SW*x + j]. */
dz_array *dz_im2col_array(const dz_array *x, const dz_conv_geom *g, bool to_matrix);
/* The adjoint: the image (N, C, H, W) of img_shape where each pixel sums the
 * col entries im2col took from it (in col order, so deterministic). */
dz_array *dz_col2im_array(const dz_array *col, const int64_t img_shape[4], const dz_conv_geom *g, bool to_matrix);

/* The differentiable im2col / col2im, arguments already checked. */
dz_variable *dz_im2col_checked(dz_variable *x, const dz_conv_geom *g, bool to_matrix);
dz_variable *dz_col2im_checked(dz_variable *col, const int64_t img_shape[4], const dz_conv_geom *g, bool to_matrix);

#endif

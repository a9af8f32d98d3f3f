/* Convolution and pooling (DeZero's functions_conv and the layers around
 * them). Images are (N, C, H, W); a conv weight is (OC, C, KH, KW), a deconv
 * weight (C, OC, KH, KW). Output sizes as DeZero:
 *   conv/pool  OH = (H + 2*PH - KH) / SH + 1
 *   deconv     OH = SH * (H - 1) + KH - 2*PH
 * Padding is zeros, for max pooling too (DeZero's rule), and average pooling
 * counts padded zeros in the mean. */
#ifndef DEZERO_CONV_H
#define DEZERO_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/rng.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A (height, width) pair: kernel size, stride, pad. DZ_SIZE2(k) is (k, k),
 * DeZero's int argument. */
typedef struct dz_size2 {
    int64_t h, w;
} dz_size2;
#define DZ_SIZE2(k) ((dz_size2){(k), (k)})

/* col = im2col(x): (N, C, KH, KW, OH, OW), or (N*OH*OW, C*KH*KW) when
 * to_matrix. Backward: col2im. */
DZ_API dz_variable *dz_im2col(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad, bool to_matrix);
/* The adjoint of im2col: sums each column entry back into its image pixel;
 * input_shape is the image's (N, C, H, W). Backward: im2col. */
DZ_API dz_variable *dz_col2im(dz_variable *col, const int64_t input_shape[4], dz_size2 kernel, dz_size2 stride,
                              dz_size2 pad, bool to_matrix);

/* y (N, OC, OH, OW) = conv(x, W) + b; b (OC,) or NULL. */
DZ_API dz_variable *dz_conv2d(dz_variable *x, dz_variable *W, dz_variable *b, dz_size2 stride, dz_size2 pad);
/* The transposed convolution, y (N, OC, OH, OW) with W (C, OC, KH, KW);
 * outsize (0, 0) = the formula above. */
DZ_API dz_variable *dz_deconv2d(dz_variable *x, dz_variable *W, dz_variable *b, dz_size2 stride, dz_size2 pad,
                                dz_size2 outsize);

/* Max pooling over each KH x KW window (DeZero's F.pooling), y (N, C, OH, OW). */
DZ_API dz_variable *dz_max_pooling(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad);
/* The mean of each window, padded zeros included. */
DZ_API dz_variable *dz_average_pooling(dz_variable *x, dz_size2 kernel, dz_size2 stride, dz_size2 pad);

/* Conv2d: W (OC, C, KH, KW) ~ N(0, 1) * sqrt(1 / (C*KH*KW)), b zeros (OC,).
 * in_channels 0 = lazy: W is made at the first forward from x's dim 1 (on
 * x's device), or by load_weights. Params "W", "b". */
DZ_API dz_layer *dz_conv2d_layer_new(int64_t out_channels, dz_size2 kernel, dz_size2 stride, dz_size2 pad,
                                     bool nobias, dz_dtype dtype, int64_t in_channels, dz_rng *rng);
/* Deconv2d: W (C, OC, KH, KW), same init; forward dz_deconv2d with outsize (0, 0). */
DZ_API dz_layer *dz_deconv2d_layer_new(int64_t out_channels, dz_size2 kernel, dz_size2 stride, dz_size2 pad,
                                       bool nobias, dz_dtype dtype, int64_t in_channels, dz_rng *rng);
/* Layers without parameters around dz_max_pooling / dz_average_pooling. */
DZ_API dz_layer *dz_max_pool_layer_new(dz_size2 kernel, dz_size2 stride, dz_size2 pad);
DZ_API dz_layer *dz_avg_pool_layer_new(dz_size2 kernel, dz_size2 stride, dz_size2 pad);

#ifdef __cplusplus
}
#endif

#endif

/* The stock layers: Linear, MLP, RNN, LSTM (src/layers). Each returns a
 * dz_layer the caller frees with dz_layer_free. `rng` (NULL = the default
 * generator) draws the initial weights and must outlive a lazy layer. */
#ifndef DEZERO_LAYERS_H
#define DEZERO_LAYERS_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = x W + b, x (N, in_size), W (in_size, out_size) ~ N(0, 1) * sqrt(1/in_size),
 * b zeros. in_size 0 = lazy: W is created at the first forward from x's last
 * dim (as DeZero), or by load_weights from the file's shape. W and b have
 * `dtype`; x may be float32 or float64 and promotes with them as in NumPy
 * (float64 data through a float32 layer gives float64, the grads of W and b
 * stay float32). */
DZ_API dz_layer *dz_linear_layer_new(int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype, dz_rng *rng);

/* Linear layers of the given output sizes ("l0", "l1", ...), with
 * `activation` between them (not after the last); NULL = sigmoid, DeZero's
 * default. Input sizes are lazy. */
typedef dz_variable *(*dz_activation)(dz_variable *x);
DZ_API dz_layer *dz_mlp_new(int nlayers, const int64_t *sizes, dz_activation activation, dz_dtype dtype, dz_rng *rng);

/* h = tanh(x2h(x) + h2h(h_prev)); the hidden state is kept between calls
 * until dz_layer_reset_state. h2h is (hidden, hidden): DeZero sized it from
 * in_size, a bug fixed here. in_size 0 = lazy. */
DZ_API dz_layer *dz_rnn_layer_new(int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng);

/* DeZero's LSTM: gates f, i, o (sigmoid) and u (tanh) from x and h_prev;
 * c = f * c_prev + i * u; h = o * tanh(c). State kept until reset. */
DZ_API dz_layer *dz_lstm_layer_new(int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng);

/* dz_gelu as a layer (no parameters). */
DZ_API dz_layer *dz_gelu_layer_new(bool tanh_approximation);

/* dz_dropout(x, ratio, rng) as a layer (no parameters): the identity when not
 * training. ratio in [0, 1); rng (NULL = the default generator) must outlive
 * the layer. */
DZ_API dz_layer *dz_dropout_layer_new(double ratio, dz_rng *rng);

#ifdef __cplusplus
}
#endif

#endif

/* The stock layers: Linear, MLP, RNN, LSTM, and functions as layers
 * (src/layers). Each returns a dz_layer the caller frees with dz_layer_free.
 * `rng` (NULL = the default generator) draws the initial weights and must
 * outlive a lazy layer.
 *
 * The functions as layers have no parameters and take one input, for a
 * Sequential; their types are the names of PyTorch's modules ("ReLU",
 * "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten",
 * "GELU", "Dropout"). */
#ifndef DEZERO_LAYERS_H
#define DEZERO_LAYERS_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The argument order is DeZero's, (out_size, in_size): PyTorch's
 * nn.Linear(in_features, out_features) is dz_linear_layer_new(out_features,
 * in_features, ...). W is stored (in_size, out_size), the transpose of
 * PyTorch's weight (out_features, in_features).
 *
 * y = x W + b, x (N, in_size), W (in_size, out_size) ~ N(0, 1) * sqrt(1/in_size),
 * b zeros. in_size 0 = lazy: W is created at the first forward from x's last
 * dim (as DeZero), or by load_weights from the file's shape. W and b have
 * `dtype`; x may be float32 or float64 and promotes with them as in NumPy
 * (float64 data through a float32 layer gives float64, the grads of W and b
 * stay float32). */
DZ_API dz_layer *dz_linear_layer_new(int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype, dz_rng *rng);
/* A Linear layer around given values, as Embedding's from_pretrained: W
 * (in_size, out_size), both sizes at least 1 (PyTorch's weight transposed,
 * weight.T), and b (out_size,) or NULL (no bias); float32 or float64, one
 * dtype and one device for both. The parameters share the arrays (retained,
 * not copied). freeze: W and b get no grad (requires_grad = false). NULL
 * after a user error. */
DZ_API dz_layer *dz_linear_layer_from_values(dz_array *W, dz_array *b, bool freeze);

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

/* dz_relu as a layer, nn.ReLU(). */
DZ_API dz_layer *dz_relu_layer_new(void);
/* dz_leaky_relu as a layer: negative inputs times `slope` (PyTorch's
 * negative_slope, 0.01 by default), nn.LeakyReLU(slope). */
DZ_API dz_layer *dz_leaky_relu_layer_new(double slope);
/* dz_sigmoid as a layer, nn.Sigmoid(). */
DZ_API dz_layer *dz_sigmoid_layer_new(void);
/* dz_tanh as a layer, nn.Tanh(). */
DZ_API dz_layer *dz_tanh_layer_new(void);
/* dz_softmax along `axis` (negative counts from the end) as a layer,
 * nn.Softmax(dim=axis). */
DZ_API dz_layer *dz_softmax_layer_new(int axis);
/* dz_log_softmax along `axis` (negative counts from the end) as a layer,
 * nn.LogSoftmax(dim=axis). */
DZ_API dz_layer *dz_log_softmax_layer_new(int axis);
/* dz_flatten as a layer: (N, ...) -> (N, rest), nn.Flatten(). */
DZ_API dz_layer *dz_flatten_layer_new(void);

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

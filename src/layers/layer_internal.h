/* What the layer and optimizer sources share (internal): the input check of
 * a layer's forward and the forward itself under the name of the public
 * function that runs it, the registration of a weight and a bias, the Linear
 * constructor under a composite's name, the check of a device argument, and
 * re-recording an inner call's error under the public function's name. Not
 * installed. */
#ifndef DEZERO_LAYER_INTERNAL_H
#define DEZERO_LAYER_INTERNAL_H

#include <stdbool.h>

#include "dezero/layers.h"
#include "dezero/npz.h"

/* The checks every forward shares (a layer with a forward, a sane input
 * count and array), then the layer's own ops->check; raises naming `op`. */
bool dz_layer_check_forward(const char *op, dz_layer *layer, int ninputs, dz_variable *const *inputs);

/* Checks the inputs, runs the forward and keeps the output's shape in the
 * layer, raising under the name of the public function `op`. */
dz_variable *dz_layer_forward_as(const char *op, dz_layer *layer, int ninputs, dz_variable *const *inputs);

/* The arguments of a Linear are valid and its weights' byte count fits in
 * 64 bits; raises naming `op` (so a composite checks before it allocates). */
bool dz_linear_check_args(const char *op, int64_t out_size, int64_t in_size, dz_dtype dtype);

/* dz_linear_layer_new, its errors named `op` (a layer built of Linears). */
dz_layer *dz_linear_layer_new_as(const char *op, int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype,
                                 dz_rng *rng);

/* Registers the parameters "W" (w, or a lazy W when `lazy`) and "b" (zeros
 * (out_size,) in `dtype`, unless nobias) of a Linear or a convolution; when
 * memory runs out (w NULL and not lazy, or no b) raises naming `op`, releases
 * w and returns false. */
bool dz_layer_add_weight_and_bias(const char *op, dz_layer *layer, bool lazy, dz_array *w, bool nobias,
                                  dz_dtype dtype, int64_t out_size);

/* Loading weights in two steps, so that a caller (dz_layer_load_weights, a
 * checkpoint) checks everything before it changes anything. prepare checks
 * that the keys of `z` under `prefix` are exactly the model's parameter paths,
 * with dtypes and shapes the parameters take, and converts each array for
 * its parameter; on failure (raised naming `op` and `source`, the file) it
 * holds nothing. finish assigns the arrays (commit) or drops them, then frees
 * what prepare made. */
typedef struct dz_weights_load {
    dz_param_list *list;
    dz_array **loaded;
} dz_weights_load;
dz_status dz_layer_prepare_weights(const char *op, const dz_layer *layer, const char *source, const dz_npz *z,
                                   const char *prefix, dz_weights_load *out);
void dz_layer_finish_weights(dz_weights_load *w, bool commit);

/* `device` is one this build can use; raises DZ_ERR_DEVICE naming `op`. */
bool dz_check_device(const char *op, dz_device device);

/* The error an inner call just recorded (an environment error, or a user
 * error already handled), recorded again as "<op>: <message>" (the handler
 * does not run again for an error it has seen); returns its code, or
 * records `fallback` as an environment error when the inner call recorded
 * none. */
dz_status dz_fail_under(const char *op, dz_status fallback);

#endif

/* Sequential: layers applied in order to one input, as torch.nn.Sequential
 * (src/layers/sequential.c). Its layers are sub-layers named "0", "1", ...
 * in the order they were added, so saved weights have the keys "0/W", "1/b"
 * (PyTorch's state_dict: "0.weight", "1.bias"). Type "Sequential"; free it
 * with dz_layer_free, which frees its layers.
 *
 *     dz_layer *model = dz_sequential_of(3, (dz_layer *[]){
 *         dz_linear_layer_new(100, 0, false, DZ_F32, NULL),
 *         dz_relu_layer_new(),
 *         dz_linear_layer_new(10, 0, false, DZ_F32, NULL)});
 *
 * Forward takes one input, which the first layer must accept; an error in a
 * later layer names it ("dz_layer_call: layer '2' (Linear) of a Sequential:
 * ..."). A Sequential without layers refuses to run. */
#ifndef DEZERO_SEQUENTIAL_H
#define DEZERO_SEQUENTIAL_H

#include "dezero/export.h"
#include "dezero/layer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An empty Sequential. */
DZ_API dz_layer *dz_sequential_new(void);
/* Appends `layer` (ownership moves in) under the next index, the number of
 * layers it holds ("0", "1", ...). Returns `layer`, or NULL after an error,
 * when the layer stays the caller's: seq is not a Sequential, the layer
 * already has a parent or is seq itself or one of its ancestors, or the name
 * was taken by dz_layer_add_child. */
DZ_API dz_layer *dz_sequential_add(dz_layer *seq, dz_layer *layer);
/* A Sequential of layers[0..n-1] in that order (n >= 0; layers may be NULL
 * when n is 0). It takes ownership of every layer, on error too: then it
 * frees each layer of the list that has no parent (once, if listed twice)
 * and returns NULL. So constructors may be called in the argument list: one
 * that fails (NULL, with the error handler off) leaks none of the others. */
DZ_API dz_layer *dz_sequential_of(int n, dz_layer *const *layers);

#ifdef __cplusplus
}
#endif

#endif

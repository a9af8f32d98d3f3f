/* Layers: containers of Parameters and sub-layers, registered by name in
 * insertion order (so iteration and saved files are deterministic). A
 * concrete layer embeds dz_layer as its first member and supplies a
 * dz_layer_ops table:
 *
 *     typedef struct { dz_layer base; int64_t out_size; } my_layer;
 *     static dz_variable *my_forward(dz_layer *self, int n, dz_variable *const *x) { ... }
 *     static const dz_layer_ops my_ops = {.type = "MyLayer", .forward = my_forward};
 *
 * Ownership: a layer owns its sub-layers (dz_layer_free frees the tree) and
 * holds one reference to each parameter. A layer has at most one parent, so
 * the layers form a tree: adding a layer that already has a parent, or one
 * of the layer's own ancestors (itself included), is refused. Forward results are like any op
 * result (owned by the innermost scope). Parameter paths in files are the
 * '/'-joined names from the root: "l1/W".
 */
#ifndef DEZERO_LAYER_H
#define DEZERO_LAYER_H

#include <stdbool.h>
#include <stdio.h>

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_layer dz_layer;

typedef struct dz_layer_ops {
    const char *type;
    dz_variable *(*forward)(dz_layer *self, int ninputs, dz_variable *const *inputs);
    /* Frees what the concrete layer added (not params or sub-layers); may be NULL. */
    void (*destroy)(dz_layer *self);
    /* Clears recurrent state (RNN/LSTM); may be NULL. */
    void (*reset_state)(dz_layer *self);
    /* Checks the inputs before forward runs, so that forward meets only
     * inputs it can take; raises a user error whose message starts with `op`
     * (the public function called, "dz_layer_call") and returns false. May be
     * NULL: the inner ops of forward then report bad inputs. */
    bool (*check)(const char *op, dz_layer *self, int ninputs, dz_variable *const *inputs);
} dz_layer_ops;

struct dz_layer {
    const dz_layer_ops *ops;
    int nparams, params_capacity;
    char **param_names;
    dz_variable **params;
    int nchildren, children_capacity;
    char **child_names;
    dz_layer **children;
    dz_layer *parent; /* the layer this one was added to; NULL for a root */
    /* The shape of the output of the last forward run through
     * dz_layer_forward or dz_layer_call (what dz_layer_summary shows);
     * output_ndim is -1 before the first. */
    int output_ndim;
    int64_t output_shape[DZ_MAX_NDIM];
};

/* Set up the base of a newly allocated layer (zeroed memory). */
DZ_API void dz_layer_init(dz_layer *layer, const dz_layer_ops *ops);
/* An empty container (type "Model") to which parameters and sub-layers are
 * added; it has no forward of its own. Handy to group layers for one
 * optimizer or one weights file. */
DZ_API dz_layer *dz_model_new(void);
/* Frees the layer, its sub-layers, and its references to parameters. NULL is
 * a no-op; a sub-layer is freed with its root, not by itself. */
DZ_API void dz_layer_free(dz_layer *layer);

/* Register a parameter (retained) / a sub-layer (ownership moves in) under
 * `name`; a name may be used once per layer. Return what they register, or
 * NULL after an error, in which case a sub-layer stays the caller's. */
DZ_API dz_variable *dz_layer_add_param(dz_layer *layer, const char *name, dz_variable *param);
DZ_API dz_layer *dz_layer_add_child(dz_layer *layer, const char *name, dz_layer *child);
/* Direct lookups by name (borrowed; NULL when absent). */
DZ_API dz_variable *dz_layer_param(const dz_layer *layer, const char *name);
DZ_API dz_layer *dz_layer_child(const dz_layer *layer, const char *name);

/* Run the layer. Bad inputs are user errors named after the call
 * ("dz_layer_call: Linear expects ..."). */
DZ_API dz_variable *dz_layer_forward(dz_layer *layer, int ninputs, dz_variable *const *inputs);
DZ_API dz_variable *dz_layer_call(dz_layer *layer, dz_variable *x);
DZ_API void dz_layer_reset_state(dz_layer *layer);

/* DeZero's Model.plot: run a forward on `inputs` and write the graph that
 * produced its output as Graphviz DOT to `path` (render with `dot -Tpng`). */
DZ_API dz_status dz_layer_plot(dz_layer *layer, int ninputs, dz_variable *const *inputs, const char *path,
                               bool verbose);

/* A model summary in the style of Keras' model.summary() and torchinfo: a
 * table of the layer tree (one row per layer, indented by depth, "(name)
 * Type"), each layer's output shape, the number of its own parameters ("-"
 * for none, "?" while one is lazy and not yet made), their dtype and device;
 * then the total, trainable (requires_grad) and non-trainable parameter
 * counts (a parameter shared by several layers counted once) and their size
 * in bytes. Written to `out`.
 *
 * With inputs (ninputs > 0), one forward runs on them first, in test mode
 * (dz_set_train(false): Dropout is the identity, BatchNorm uses and keeps its
 * running averages) with recording off, so it makes no graph and leaves no
 * Variable behind. It makes the lazy parameters it meets (drawing them from
 * their generators as a first forward would) and changes no other parameter
 * data: it copies the parameters first (memory for a second copy while it
 * runs) and puts back what the forward changed in place (an Embedding's
 * max_norm renormalisation). Recurrent state is cleared (dz_layer_reset_state)
 * before and after, and layers the forward does not reach show "-". With
 * ninputs 0 (inputs may be NULL) nothing runs: the shapes are those of each
 * layer's last forward. Returns DZ_OK, or the error of the arguments or the
 * forward (then nothing is written), or DZ_ERR_IO when writing fails. A
 * forward that fails leaves the model as it was (output shapes, parameter
 * data, lazy parameters not made yet), except that the generators of lazy
 * layers it reached before failing have drawn their weights: a later
 * forward draws other initial weights than it would have. */
DZ_API dz_status dz_layer_summary(dz_layer *layer, int ninputs, dz_variable *const *inputs, FILE *out);
/* dz_layer_summary on one input of zeros (N, ...) `shape`, `dtype`, made on
 * `device`, the one the model's parameters are on (a lazy layer makes its
 * weights there): torchinfo's summary(model, input_size). Integer zeros suit
 * an Embedding. */
DZ_API dz_status dz_layer_summary_for_input(dz_layer *layer, int ndim, const int64_t *shape, dz_dtype dtype,
                                           dz_device device, FILE *out);

/* Every parameter of the tree, depth first in registration order. */
typedef struct dz_param_list {
    int count;
    dz_variable **params; /* borrowed */
    char **paths;         /* "l1/W" */
} dz_param_list;

DZ_API dz_param_list *dz_layer_params(const dz_layer *layer);
DZ_API void dz_param_list_free(dz_param_list *list);

DZ_API void dz_layer_cleargrads(dz_layer *layer);
/* Number of scalar parameters (uninitialised lazy parameters count 0); 0
 * after an error. */
DZ_API int64_t dz_layer_count_params(const dz_layer *layer);
/* Move every parameter's data to `device` (grads are cleared). */
DZ_API dz_status dz_layer_to_device(dz_layer *layer, dz_device device);
DZ_API dz_status dz_layer_to_cpu(dz_layer *layer);
DZ_API dz_status dz_layer_to_gpu(dz_layer *layer);

/* Save every parameter as one .npz member per '/'-joined path (stored, or
 * deflated when `compressed`), atomically: a failure leaves any old file
 * intact. Refuses uninitialised (lazy) parameters. Parameters on the GPU are
 * copied to the host for writing; the layer stays where it is. */
DZ_API dz_status dz_layer_save_weights(const dz_layer *layer, const char *path, bool compressed);
/* Load parameters saved by dz_layer_save_weights or np.savez. Every key,
 * shape and dtype is checked before anything changes: a missing key, an
 * extra key or a shape mismatch fails and leaves the model unchanged. Float
 * parameters take f16/f32/f64/u8/bool data (converted to their dtype);
 * uninitialised lazy parameters take the file's shape. */
DZ_API dz_status dz_layer_load_weights(dz_layer *layer, const char *path);

#ifdef __cplusplus
}
#endif

#endif

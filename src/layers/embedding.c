/* Embedding and EmbeddingBag layers: one parameter "W" (V, D), N(0, 1) with
 * the padding row zeroed (PyTorch's reset_parameters; DeZero's EmbedID is the
 * same draw in f64), or shared with pretrained weights. forward calls
 * dz_embedding / dz_embedding_bag with the options given at construction. */

#include "../backend/backend.h"
#include "../core/internal.h"
#include "../functions/checks.h"
#include "../functions/embedding_internal.h"
#include "dezero/embedding.h"
#include "dezero/scope.h"

typedef struct {
    dz_layer base;
    dz_embedding_options opt;
} embedding_layer;

typedef struct {
    dz_layer base;
    dz_embedding_bag_options opt;
} embedding_bag_layer;

/* The input count; dz_embedding / dz_embedding_bag check the inputs. */
static bool embedding_check(const char *op, dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    (void)self;
    (void)inputs;
    if (ninputs != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: an Embedding layer takes one input (idx), got %d", op, ninputs);
        return false;
    }
    return true;
}

static dz_variable *embedding_forward(dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    (void)ninputs;
    return dz_embedding(inputs[0], dz_layer_param(self, "W"), &((embedding_layer *)self)->opt);
}
static const dz_layer_ops embedding_ops = {
    .type = "Embedding",
    .forward = embedding_forward,
    .check = embedding_check,
};

static bool embedding_bag_check(const char *op, dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    (void)self;
    (void)inputs;
    if (ninputs < 1 || ninputs > 3) {
        dz_raise(DZ_ERR_VALUE, "%s: an EmbeddingBag layer takes idx[, offsets[, per_sample_weights]], got %d inputs",
                 op, ninputs);
        return false;
    }
    return true;
}

/* inputs: idx, then optional offsets and per_sample_weights (each may be NULL). */
static dz_variable *embedding_bag_forward(dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    return dz_embedding_bag(inputs[0], ninputs > 1 ? inputs[1] : NULL, dz_layer_param(self, "W"),
                            ninputs > 2 ? inputs[2] : NULL, &((embedding_bag_layer *)self)->opt);
}
static const dz_layer_ops embedding_bag_ops = {
    .type = "EmbeddingBag",
    .forward = embedding_bag_forward,
    .check = embedding_bag_check,
};

/* padding_idx normalised to [0, V) (PyTorch's module assert, by `message`). */
static bool layer_padding(const char *op, const char *message, bool has, int64_t *padding_idx, int64_t V)
{
    if (!has)
        return true;
    if (*padding_idx >= V || *padding_idx < -V) {
        dz_raise(DZ_ERR_INDEX, "%s: %s (got padding_idx %lld for %lld rows)", op, message, (long long)*padding_idx,
                 (long long)V);
        return false;
    }
    if (*padding_idx < 0)
        *padding_idx += V;
    return true;
}

/* Row `row` of the table w (V, D) = zeros, a zero row scattered there;
 * returns w, or NULL (w released) when memory runs out. */
static dz_array *zero_row(dz_array *w, int64_t row)
{
    int64_t D = w->shape[1];
    dz_array *zeros = dz_array_empty_on(w->device, w->dtype, 1, &D); // (D,)
    if (!zeros) {
        dz_array_release(w);
        return NULL;
    }
    dz_gather_spec spec = {.ndim = 1, .shape = {D}, .stride = {1}, .offset = row * D};
    dz_backend_of(w)->scatter(zeros, &spec, w);
    dz_array_release(zeros);
    return w;
}

/* N(0, 1) weights (V, D) with the padding row zeroed (padding_idx < 0: none). */
static dz_array *normal_weights(const char *op, int64_t V, int64_t D, int64_t padding_idx, dz_dtype dtype,
                                dz_rng *rng)
{
    if (V < 0 || D < 0 || !dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_VALUE, "%s: needs num_embeddings >= 0, embedding_dim >= 0 and float32/float64 (got %lld, "
                 "%lld, %s)", op, (long long)V, (long long)D, dz_dtype_name(dtype));
        return NULL;
    }
    if (!dz_check_shape(op, "the weight shape", 2, DZ_SHAPE(V, D)))
        return NULL;
    dz_array *w = dz_array_normal(rng, dtype, 2, DZ_SHAPE(V, D), 0.0, 1.0);
    return w && padding_idx >= 0 ? zero_row(w, padding_idx) : w;
}

/* need_float: an EmbeddingBag's weights, which it sums (an Embedding's may
 * have any dtype). */
static bool check_pretrained(const char *op, const dz_array *weights, bool need_float)
{
    if (!weights) {
        dz_raise(DZ_ERR_NULL, "%s: weights is NULL", op);
        return false;
    }
    if (weights->ndim != 2) {
        dz_raise(DZ_ERR_SHAPE, "%s: Embeddings parameter is expected to be 2-dimensional, got shape %s", op,
                 DZ_SHAPE_OF(weights));
        return false;
    }
    if (need_float && !dz_dtype_is_float(weights->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: weights of dtype %s cannot be summed into bags; use float32 or float64", op,
                 dz_dtype_name(weights->dtype));
        return false;
    }
    return true;
}

/* Registers W (the reference to `w` moves in) on a newly allocated layer. */
static dz_layer *finish(dz_layer *layer, const dz_layer_ops *ops, dz_array *w, bool requires_grad)
{
    dz_layer_init(layer, ops);
    dz_scope_begin();
    dz_variable *W = dz_parameter_new(w, "W");
    W->requires_grad = requires_grad;
    dz_layer_add_param(layer, "W", W);
    dz_scope_end();
    return layer;
}

static dz_layer *embedding_layer_make(dz_array *w, bool requires_grad, const dz_embedding_options *opt)
{
    embedding_layer *l = dz_xcalloc(1, sizeof *l);
    l->opt = *opt;
    return finish(&l->base, &embedding_ops, w, requires_grad);
}

static dz_layer *embedding_bag_layer_make(dz_array *w, bool requires_grad, const dz_embedding_bag_options *opt)
{
    embedding_bag_layer *l = dz_xcalloc(1, sizeof *l);
    l->opt = *opt;
    return finish(&l->base, &embedding_bag_ops, w, requires_grad);
}

dz_layer *dz_embedding_layer_new(int64_t num_embeddings, int64_t embedding_dim, const dz_embedding_options *opt,
                                 dz_dtype dtype, dz_rng *rng)
{
    const char *op = "dz_embedding_layer_new";
    dz_embedding_options o = opt ? *opt : dz_embedding_default_options();
    if (!dz_embedding_check_norm(op, o.has_max_norm, o.max_norm, o.norm_type) ||
        !layer_padding(op, "Padding_idx must be within num_embeddings", o.has_padding_idx, &o.padding_idx,
                       num_embeddings))
        return NULL;
    dz_array *w = normal_weights(op, num_embeddings, embedding_dim, o.has_padding_idx ? o.padding_idx : -1, dtype,
                                 rng);
    return w ? embedding_layer_make(w, true, &o) : NULL;
}

dz_layer *dz_embedding_layer_from_pretrained(dz_array *weights, bool freeze, const dz_embedding_options *opt)
{
    const char *op = "dz_embedding_layer_from_pretrained";
    dz_embedding_options o = opt ? *opt : dz_embedding_default_options();
    if (!check_pretrained(op, weights, false) ||
        !dz_embedding_check_norm(op, o.has_max_norm, o.max_norm, o.norm_type) ||
        !layer_padding(op, "Padding_idx must be within num_embeddings", o.has_padding_idx, &o.padding_idx,
                       weights->shape[0]))
        return NULL;
    return embedding_layer_make(dz_array_retain(weights), !freeze, &o);
}

dz_layer *dz_embedding_bag_layer_new(int64_t num_embeddings, int64_t embedding_dim,
                                     const dz_embedding_bag_options *opt, dz_dtype dtype, dz_rng *rng)
{
    const char *op = "dz_embedding_bag_layer_new";
    dz_embedding_bag_options o = opt ? *opt : dz_embedding_bag_default_options();
    if (!dz_embedding_bag_check_options(op, &o) ||
        !layer_padding(op, "padding_idx must be within num_embeddings", o.has_padding_idx, &o.padding_idx,
                       num_embeddings))
        return NULL;
    dz_array *w = normal_weights(op, num_embeddings, embedding_dim, o.has_padding_idx ? o.padding_idx : -1, dtype,
                                 rng);
    return w ? embedding_bag_layer_make(w, true, &o) : NULL;
}

dz_layer *dz_embedding_bag_layer_from_pretrained(dz_array *weights, bool freeze,
                                                 const dz_embedding_bag_options *opt)
{
    const char *op = "dz_embedding_bag_layer_from_pretrained";
    dz_embedding_bag_options o = opt ? *opt : dz_embedding_bag_default_options();
    if (!check_pretrained(op, weights, true) || !dz_embedding_bag_check_options(op, &o) ||
        !layer_padding(op, "padding_idx must be within num_embeddings", o.has_padding_idx, &o.padding_idx,
                       weights->shape[0]))
        return NULL;
    return embedding_bag_layer_make(dz_array_retain(weights), !freeze, &o);
}

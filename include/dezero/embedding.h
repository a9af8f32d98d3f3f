/* Embeddings, with PyTorch's nn.Embedding / nn.EmbeddingBag semantics
 * (src/functions/embedding.c, src/functions/embedding_bag.c,
 * src/layers/embedding.c).
 *
 * dz_embedding(idx, W) looks up rows: y = W[idx], shape (*idx.shape, D). idx
 * is an int32 or int64 Variable of any shape; it never gets a gradient.
 * dz_embedding_bag reduces the looked-up rows of each bag (sum, mean, max).
 *
 * Differences from PyTorch, all deliberate:
 *  - every index is checked before anything happens, so an out-of-range index
 *    leaves W untouched even with max_norm (PyTorch renormalises some rows
 *    first), and negative indices are refused everywhere;
 *  - include_last_offset requires offsets[-1] == len(idx) and offsets must not
 *    decrease (PyTorch's behaviour is version-dependent there);
 *  - the max_norm norm is computed in double and rounded to W's dtype, so it
 *    can differ from PyTorch's SIMD reduction by 1 ulp on rows whose norm is
 *    not exactly representable;
 *  - a sparse embedding whose W has a creator (not a leaf) falls back to a
 *    dense grad, so backprop can go on through W;
 *  - grads of dz_embedding_bag are computed without recording a graph (no
 *    double backward through bags; dz_embedding supports it).
 *
 * Results are owned like any op result (see variable.h).
 */
#ifndef DEZERO_EMBEDDING_H
#define DEZERO_EMBEDDING_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/rng.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_embedding_options {
    bool has_padding_idx;
    int64_t padding_idx;     /* in [-V, V); negative counts from the end. Its row never gets a grad */
    bool has_max_norm;
    double max_norm;         /* rows referenced by idx with norm > max_norm are rescaled IN PLACE in W */
    double norm_type;        /* p of the norm (2 by default; 1, inf, -inf, 0 and any other p) */
    bool scale_grad_by_freq; /* grad of each row divided by its count in idx */
    bool sparse;             /* backward fills W->sparse_grad instead of W->grad */
} dz_embedding_options;

/* Everything off, norm_type 2 (what passing NULL means). */
DZ_API dz_embedding_options dz_embedding_default_options(void);

/* y = W[idx]: idx int32/int64 of any shape (0-d and empty included), W (V, D)
 * of any dtype (only f32/f64 W get grads and max_norm). opt NULL = defaults.
 * With sparse, backward appends one entry per non-padding index to
 * W->sparse_grad (uncoalesced, in idx order) and gives W no dense grad;
 * sparse with scale_grad_by_freq fails at backward, as in PyTorch. */
DZ_API dz_variable *dz_embedding(dz_variable *idx, dz_variable *W, const dz_embedding_options *opt);

typedef enum dz_embedding_bag_mode {
    DZ_EMBEDDING_BAG_SUM,
    DZ_EMBEDDING_BAG_MEAN,
    DZ_EMBEDDING_BAG_MAX
} dz_embedding_bag_mode;

typedef struct dz_embedding_bag_options {
    dz_embedding_bag_mode mode;
    bool include_last_offset; /* offsets has B + 1 entries, the last == len(idx) */
    bool has_padding_idx;
    int64_t padding_idx;      /* left out of bags: not summed, not counted by mean */
    bool has_max_norm;
    double max_norm;
    double norm_type;
    bool scale_grad_by_freq;  /* not with max */
    bool sparse;              /* not with max */
} dz_embedding_bag_options;

/* Mode mean (PyTorch's default), norm_type 2, everything else off. */
DZ_API dz_embedding_bag_options dz_embedding_bag_default_options(void);

/* out[b] = reduce(W[idx[j]] for j in bag b), shape (B, D). Either idx (N,)
 * with offsets (B,) (bag b starts at offsets[b]; offsets[0] == 0), or idx
 * (B, L) with offsets NULL (fixed bags of L). per_sample_weights (NULL or
 * idx's shape, W's dtype, sum mode only) scale each row, and get a grad. Empty
 * bags give zeros; max sends the grad to the first maximal row per feature. */
DZ_API dz_variable *dz_embedding_bag(dz_variable *idx, dz_variable *offsets, dz_variable *W,
                                     dz_variable *per_sample_weights, const dz_embedding_bag_options *opt);

/* An Embedding layer with parameter "W" (V, D) drawn from N(0, 1) in `dtype`
 * (f32 or f64; DeZero's EmbedID is f64, PyTorch's default f32) from rng (NULL:
 * the default generator); the padding row is zeroed. forward(idx) =
 * dz_embedding(idx, W, opt). NULL after a user error. */
DZ_API dz_layer *dz_embedding_layer_new(int64_t num_embeddings, int64_t embedding_dim,
                                        const dz_embedding_options *opt, dz_dtype dtype, dz_rng *rng);
/* The same around `weights` (V, D), which W shares (retained; max_norm
 * rewrites it in place). The padding row is kept as given. freeze: W gets no
 * grad (requires_grad = false). */
DZ_API dz_layer *dz_embedding_layer_from_pretrained(dz_array *weights, bool freeze, const dz_embedding_options *opt);

/* EmbeddingBag layers; forward(idx[, offsets[, per_sample_weights]]), where
 * offsets and per_sample_weights may be NULL. */
DZ_API dz_layer *dz_embedding_bag_layer_new(int64_t num_embeddings, int64_t embedding_dim,
                                            const dz_embedding_bag_options *opt, dz_dtype dtype, dz_rng *rng);
DZ_API dz_layer *dz_embedding_bag_layer_from_pretrained(dz_array *weights, bool freeze,
                                                        const dz_embedding_bag_options *opt);

#ifdef __cplusplus
}
#endif

#endif

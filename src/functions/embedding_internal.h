/* Helpers shared by dz_embedding, dz_embedding_bag and their layers (defined
 * in embedding.c and embedding_bag.c). Each check raises a user error naming
 * `op` and returns false. */
#ifndef DEZERO_EMBEDDING_INTERNAL_H
#define DEZERO_EMBEDDING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/embedding.h"
#include "dezero/variable.h"

/* idx is a valid int32/int64 variable. */
bool dz_embedding_check_index_dtype(const char *op, const char *what, const dz_variable *idx);
/* Every entry of idx is in [0, num_rows); the message names the first bad
 * index, its position and the number of rows. */
bool dz_embedding_check_range(const char *op, const dz_array *idx, int64_t num_rows);
/* padding_idx in [-V, V) normalised to [0, V) into *out; -1 when !has. */
bool dz_embedding_padding(const char *op, const char *message, bool has, int64_t padding_idx, int64_t num_rows,
                          int64_t *out);
/* With has_max_norm: max_norm is a number >= 0 and norm_type is not NaN. */
bool dz_embedding_check_norm(const char *op, bool has_max_norm, double max_norm, double norm_type);
/* The options of an EmbeddingBag that need no table: the mode and what it
 * supports, and the norm. */
bool dz_embedding_bag_check_options(const char *op, const dz_embedding_bag_options *o);
/* The in-place max_norm renorm of W's rows referenced by idx (f32/f64 W). */
bool dz_embedding_renorm(const char *op, dz_variable *W, const dz_array *idx, double max_norm, double norm_type);
/* The sparse grad Variable of rows (N, D) (the reference moves in) for the
 * indices idx (N entries) of a (num_rows, D) weight, dropping entries equal
 * to padding_idx; backward's accumulation appends it to W->sparse_grad. */
dz_variable *dz_embedding_sparse_grad(const dz_array *idx, dz_array *rows, int64_t padding_idx, int64_t num_rows);

#endif

/* The CPU backend's kernels, shared between its source files. */
#ifndef DEZERO_CPU_KERNELS_H
#define DEZERO_CPU_KERNELS_H

#include "../backend.h"

void dz_cpu_fill(dz_array *y, double value);
void dz_cpu_astype(const dz_array *x, dz_array *y);
void dz_cpu_unary(dz_unary_op op, const dz_array *x, double p, dz_array *y);
void dz_cpu_binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y);
void dz_cpu_reduce(dz_reduce_op op, const dz_array *x, dz_array *y);
/* x as (outer, reduced, inner) for a reduction into y, when the axes y
 * reduces are adjacent (cpu_reduce.c); false when they are not. */
bool dz_cpu_reduced_view(const dz_array *x, const dz_array *y, int64_t *outer, int64_t *reduced, int64_t *inner);
/* The float sum in PyTorch's order (cpu_sum_torch.c). */
void dz_cpu_sum_torch(const dz_array *x, dz_array *y);
void dz_cpu_transpose(const dz_array *x, const int *axes, dz_array *y);
void dz_cpu_gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t lda, int64_t stride_a,
                 const void *b, int64_t ldb, int64_t stride_b,
                 double beta, void *c, int64_t ldc, int64_t stride_c, int64_t batch);
void dz_cpu_gather(const dz_array *x, const dz_gather_spec *spec, dz_array *y);
void dz_cpu_scatter(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
void dz_cpu_scatter_add(const dz_array *y, const dz_gather_spec *spec, dz_array *x);
void dz_cpu_matmul(const dz_array *a, bool trans_a, const dz_array *b, bool trans_b, dz_array *c, bool accumulate);

/* Row primitives (cpu_rows.c). */
void dz_cpu_gather_rows(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y);
void dz_cpu_index_add_rows(dz_array *table, const dz_array *rows, const dz_array *x, double alpha, int64_t skip,
                           bool scale_by_count);
void dz_cpu_index_range(const dz_array *idx, int64_t *min, int64_t *max);
/* counts[k] = occurrences of row k in idx, k in [0, num_rows) (malloc'd). */
int64_t *dz_cpu_row_counts(const dz_array *idx, int64_t num_rows);
/* Faults a large fresh output in at once, on huge pages where it can. */
void dz_cpu_prepare_output(void *data, size_t nbytes);

/* Neural-network kernels (cpu_nn.c). */
void dz_cpu_sigmoid(const dz_array *x, dz_array *y);
void dz_cpu_softmax(const dz_array *x, int axis, bool log, dz_array *y);
void dz_cpu_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool log, dz_array *gx);
void dz_cpu_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx);
void dz_cpu_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y);
void dz_cpu_one_hot(const dz_array *indices, dz_array *y);
void dz_cpu_repeat_rows(const dz_array *x, dz_array *y);
void dz_cpu_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                  dz_array *loss, dz_array *probs);
void dz_cpu_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                           double scale, const dz_array *gy, dz_array *gx);
void dz_cpu_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss);

/* Convolution kernels (cpu_conv.c). */
void dz_cpu_im2col(const dz_array *x, const dz_conv_geom *g, bool to_matrix, dz_array *col);
void dz_cpu_col2im(const dz_array *col, const dz_conv_geom *g, bool to_matrix, dz_array *x);
/* The window positions [*lo, *hi) of [0, n) whose pixel s*pos + off lies in
 * [0, size): along one side, the windows whose entry at offset off + pad is
 * no padding. */
void dz_cpu_window_span(int64_t n, int64_t s, int64_t off, int64_t size, int64_t *lo, int64_t *hi);

/* Max pooling kernels (cpu_pool.c). */
void dz_cpu_max_pool(const dz_array *x, const dz_conv_geom *g, dz_array *y, dz_array *argmax);
void dz_cpu_max_pool_pick(const dz_array *x, const dz_array *argmax, const dz_conv_geom *g, dz_array *y);
void dz_cpu_max_pool_backward(const dz_array *gy, const dz_array *argmax, const dz_conv_geom *g, dz_array *gx);

/* Optimizer kernels (cpu_optim.c). */
void dz_cpu_sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf);
void dz_cpu_momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v);
void dz_cpu_adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum);
void dz_cpu_adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                          dz_array *acc_delta);
void dz_cpu_adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                      dz_array *vmax);
void dz_cpu_weight_decay(double rate, const dz_array *p, dz_array *g);
void dz_cpu_scale(dz_array *x, double scale);
double dz_cpu_sum_squares(const dz_array *x);
void dz_cpu_axpy(dz_array *y, const dz_array *x, double alpha);
void dz_cpu_rows_scale(dz_array *y, const dz_array *rows, double scale);
void dz_cpu_sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                const dz_array *values);
void dz_cpu_sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                             const dz_array *rows, const dz_array *values);

/* Embedding kernels (cpu_embedding.c); see backend.h. */
void dz_cpu_embedding_renorm(dz_array *w, const dz_array *idx, double max_norm, double norm_type);
void dz_cpu_embedding_bag_sum(const dz_array *w, const dz_array *idx, const dz_array *starts, const dz_array *psw,
                              int64_t skip_idx, bool mean, dz_array *y);
void dz_cpu_embedding_bag_max(const dz_array *w, const dz_array *idx, const dz_array *starts, int64_t skip_idx,
                              dz_array *y, dz_array *argmax);
void dz_cpu_embedding_bag_scatter(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                  const dz_array *psw, int64_t skip_idx, bool mean, bool scale_by_freq, dz_array *gw);
void dz_cpu_embedding_bag_grad_rows(const dz_array *gy, const dz_array *idx, const dz_array *starts,
                                    const dz_array *psw, int64_t skip_idx, bool mean, dz_array *rows);
void dz_cpu_embedding_bag_max_backward(const dz_array *gy, const dz_array *argmax, dz_array *gw);
void dz_cpu_embedding_bag_weights_grad(const dz_array *gy, const dz_array *w, const dz_array *idx,
                                       const dz_array *starts, int64_t skip_idx, dz_array *gpsw);

#endif

/* Optimizer kernels: the dispatchers of optim_kernels.h, and the composites
 * that stand in for a fused kernel the backend does not have.
 *
 * A composite repeats its fused kernel (src/backend/cpu/cpu_optim.c) one
 * operation at a time, in the same order, so it gives the same bits wherever
 * the primitives round as the kernel does:
 *   - a scalar is rounded to the arrays' dtype, as the primitives round their
 *     double arguments (unary's p, fill, index_add_rows' alpha);
 *   - PyTorch's x.add_(y, alpha=a) is one fused multiply-add, fma(y, a, x);
 *     index_add_rows is the primitive that rounds a*y + x once (fma_of);
 *   - a fused multiply-add of two arrays, fma(c*g, g, s) for the running
 *     sums of g^2 in Adagrad, Adadelta and Adam, has no primitive: the
 *     composite rounds c*g*g and then the sum, a few ulp from the kernel.
 * So SGD, MomentumSGD, weight_decay, scale, axpy and the three row kernels
 * give the fused kernels' bits; Adagrad, Adadelta and Adam are within float
 * tolerance, and sum_squares, which adds in another order, within double
 * tolerance.
 *
 * A composite computes every new value into temporaries first and writes the
 * parameter and its state only once they all exist: when memory runs out it
 * returns false with nothing changed. */
#include "optim_kernels.h"

#include "temps.h"

/* axpy: y = y + alpha*x in place, each element rounded once, fma(x, alpha, y);
 * bit-exact. index_add_rows adds alpha*x[i] to table row rows[i] with one
 * fma; with y seen as a table of one row and x as that row's one term, it is
 * an axpy. */
static bool axpy_composite(dz_array *y, const dz_array *x, double alpha)
{
    dz_temps tmp = {0};
    dz_array *row0 = dz_tmp_zeros(&tmp, y->device, DZ_I64, 1, DZ_SHAPE(1)); /* zeros: {0} */
    dz_array *table = dz_tmp_reshape(&tmp, y, 2, DZ_SHAPE(1, y->size)); // (1, n), y's storage
    dz_array *term = dz_tmp_reshape(&tmp, x, 2, DZ_SHAPE(1, x->size));  // (1, n)
    if (!tmp.failed)
        dz_backend_of(y)->index_add_rows(table, row0, term, alpha, -1, false);
    return dz_tmp_end(&tmp);
}

/* y + alpha*x rounded once, fma(x, alpha, y), as a new array: PyTorch's
 * y.add(x, alpha=alpha). */
static dz_array *fma_of(dz_temps *tmp, const dz_array *y, const dz_array *x, double alpha)
{
    dz_array *out = dz_tmp_copy(tmp, y);
    if (out && !axpy_composite(out, x, alpha))
        tmp->failed = true;
    return tmp->failed ? NULL : out;
}

/* dst = src (same shape and dtype, distinct buffers), copied on the device. */
static void commit(dz_array *dst, const dz_array *src)
{
    dz_backend_of(dst)->copy(dst->data, src->data, (size_t)dst->size * dz_dtype_size(dst->dtype));
}

/* ---- rows of a table (R, ...) seen as (R, D) ---- */

/* The grad's values as a block of rows, sharing their storage. (n, D) */
static dz_array *values_block(dz_temps *tmp, const dz_array *values, const dz_array *table)
{
    return dz_tmp_reshape(tmp, values, 2, DZ_SHAPE(values->shape[0], dz_row_length(table)));
}

/* Where each row starts among the table's elements, rows * D: the offsets
 * that scatter_rows writes a block through. (n,) int64 */
static dz_array *row_starts(dz_temps *tmp, const dz_array *table, const dz_array *rows)
{
    return dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, rows, (double)dz_row_length(table));
}

/* table[rows] = block (n, D), the rows distinct; starts from row_starts. */
static void scatter_rows(dz_array *table, const dz_array *starts, const dz_array *block)
{
    dz_gather_spec spec = {.ndim = 2, .shape = {block->shape[0], block->shape[1]}, .stride = {0, 1},
                           .offsets_axis = 0, .offsets_ndim = 1, .offsets = starts};
    dz_backend_of(table)->scatter(block, &spec, table);
}

/* ---- whole-parameter steps ---- */

/* SGD (torch.optim.SGD), bit-exact:
 *     d = g + wd*p                                      (fma; d = g when wd is 0)
 *     b = d at the first step, else mu*b + (1-dampening)*d   (fma)
 *     d = d + mu*b (Nesterov, fma), or d = b
 *     p = p - lr*d                                      (fma) */
static bool sgd_composite(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf)
{
    dz_temps tmp = {0};
    const dz_array *d = s->weight_decay != 0 ? fma_of(&tmp, g, p, s->weight_decay) : g;
    const dz_array *b = NULL;
    if (buf) {
        b = s->first_step ? d : fma_of(&tmp, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, buf, s->momentum), d,
                                       1 - s->dampening);
        d = s->nesterov ? fma_of(&tmp, d, b, s->momentum) : b;
    }
    dz_array *p_new = fma_of(&tmp, p, d, -s->lr);
    if (!tmp.failed) {
        if (buf)
            commit(buf, b);
        commit(p, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* DeZero's MomentumSGD (NumPy's in-place ops, nothing fused), bit-exact:
 *     v = v*momentum - lr*g
 *     p = p + v */
static bool momentum_sgd_composite(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v)
{
    dz_temps tmp = {0};
    dz_array *v_new = dz_tmp_binary(&tmp, DZ_BINARY_SUB, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, v, momentum),
                                    dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, g, lr));
    dz_array *p_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, p, v_new);
    if (!tmp.failed) {
        commit(v, v_new);
        commit(p, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* Adagrad (torch.optim.Adagrad, dense grad):
 *     g = g + wd*p                       (fma; g itself when wd is 0)
 *     h = h + g^2                        (the kernel rounds once: fma(g, g, h))
 *     p = p + (-clr*g) / (sqrt(h) + eps)
 * Within float tolerance of the kernel (h). */
static bool adagrad_composite(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum)
{
    dz_temps tmp = {0};
    const dz_array *gd = s->weight_decay != 0 ? fma_of(&tmp, g, p, s->weight_decay) : g;
    dz_array *h = dz_tmp_binary(&tmp, DZ_BINARY_ADD, sum, dz_tmp_unary(&tmp, DZ_UNARY_SQUARE, gd, 0));
    dz_array *std = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, dz_tmp_unary(&tmp, DZ_UNARY_SQRT, h, 0), s->eps);
    dz_array *step = dz_tmp_binary(&tmp, DZ_BINARY_DIV, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, gd, -s->clr), std);
    dz_array *p_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, p, step);
    if (!tmp.failed) {
        commit(sum, h);
        commit(p, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* rho*x + (1-rho)*y^2, the running means of Adadelta, rounded after each
 * operation (the kernel rounds (1-rho)*y*y + rho*x once). */
static dz_array *running_mean_of_squares(dz_temps *tmp, const dz_array *x, const dz_array *y, double rho)
{
    dz_array *y2 = dz_tmp_binary(tmp, DZ_BINARY_MUL, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, y, 1 - rho), y);
    return dz_tmp_binary(tmp, DZ_BINARY_ADD, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, x, rho), y2);
}

/* Adadelta (torch.optim.Adadelta):
 *     g  = g + wd*p                      (fma; g itself when wd is 0)
 *     s  = rho*s + (1-rho)*g^2
 *     dx = sqrt(a + eps) / sqrt(s + eps) * g
 *     a  = rho*a + (1-rho)*dx^2
 *     p  = p - lr*dx                     (fma)
 * Within float tolerance of the kernel (s and a). */
static bool adadelta_composite(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *sq,
                               dz_array *acc)
{
    dz_temps tmp = {0};
    const dz_array *gd = s->weight_decay != 0 ? fma_of(&tmp, g, p, s->weight_decay) : g;
    dz_array *sq_new = running_mean_of_squares(&tmp, sq, gd, s->rho);
    dz_array *std = dz_tmp_unary(&tmp, DZ_UNARY_SQRT, dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, sq_new, s->eps), 0);
    dz_array *rms_dx = dz_tmp_unary(&tmp, DZ_UNARY_SQRT, dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, acc, s->eps), 0);
    dz_array *delta = dz_tmp_binary(&tmp, DZ_BINARY_MUL, dz_tmp_binary(&tmp, DZ_BINARY_DIV, rms_dx, std), gd);
    dz_array *acc_new = running_mean_of_squares(&tmp, acc, delta, s->rho);
    dz_array *p_new = fma_of(&tmp, p, delta, -s->lr);
    if (!tmp.failed) {
        commit(sq, sq_new);
        commit(acc, acc_new);
        commit(p, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* Adam and AdamW (torch.optim.Adam / AdamW):
 *     p = p * decay_factor               (AdamW; Adam's factor 1 is skipped)
 *     g = g + wd*p                       (Adam's L2, fma; g itself when wd is 0)
 *     m = b1*m + (1-b1)*g                (fma)
 *     v = b2*v + (1-b2)*g^2              (the kernel rounds once)
 *     v' = max(vmax, v), stored in vmax  (AMSGrad; else v' = v)
 *     p = p + (-step_size*m) / (sqrt(v')/sqrt(1-b2^t) + eps)
 * Within float tolerance of the kernel (v). The maximum keeps a NaN of v, but
 * not one of vmax where v has none (torch.maximum keeps both). */
static bool adam_composite(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                           dz_array *vmax)
{
    dz_temps tmp = {0};
    const dz_array *pd = s->decay_factor != 1 ? dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, p, s->decay_factor) : p;
    const dz_array *gd = s->weight_decay != 0 ? fma_of(&tmp, g, pd, s->weight_decay) : g;
    dz_array *m_new = fma_of(&tmp, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, m, s->beta1), gd, 1 - s->beta1);
    dz_array *g2 = dz_tmp_binary(&tmp, DZ_BINARY_MUL, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, gd, 1 - s->beta2), gd);
    dz_array *v_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, v, s->beta2), g2);
    dz_array *v_used = vmax ? dz_tmp_binary(&tmp, DZ_BINARY_MAXIMUM, vmax, v_new) : v_new;
    dz_array *corrected = dz_tmp_binary(&tmp, DZ_BINARY_DIV, dz_tmp_unary(&tmp, DZ_UNARY_SQRT, v_used, 0),
                                        dz_tmp_scalar(&tmp, p->device, p->dtype, s->bias_correction2_sqrt));
    dz_array *denom = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, corrected, s->eps);
    dz_array *step = dz_tmp_binary(&tmp, DZ_BINARY_DIV, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, m_new, -s->step_size),
                                   denom);
    dz_array *p_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, pd, step);
    if (!tmp.failed) {
        commit(m, m_new);
        commit(v, v_new);
        if (vmax)
            commit(vmax, v_used);
        commit(p, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* ---- hooks ---- */

/* g = g + rate*p, two roundings as NumPy's; bit-exact. */
static bool weight_decay_composite(double rate, const dz_array *p, dz_array *g)
{
    dz_temps tmp = {0};
    dz_array *g_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, g, dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, p, rate));
    if (!tmp.failed)
        commit(g, g_new);
    return dz_tmp_end(&tmp);
}

/* x = x*scale; bit-exact. */
static bool scale_composite(dz_array *x, double scale)
{
    dz_temps tmp = {0};
    dz_array *x_new = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, x, scale);
    if (!tmp.failed)
        commit(x, x_new);
    return dz_tmp_end(&tmp);
}

/* sum(x^2): x converted to f64 (exact), squared, summed by reduce. Its order
 * of additions is not the kernel's eight lanes: within double tolerance. */
static bool sum_squares_composite(const dz_array *x, double *out)
{
    dz_temps tmp = {0};
    dz_array *flat = dz_tmp_reshape(&tmp, x, 1, DZ_SHAPE(x->size)); // (n,)
    const dz_array *wide = dz_tmp_astype(&tmp, flat, DZ_F64);
    dz_array *squares = dz_tmp_unary(&tmp, DZ_UNARY_SQUARE, wide, 0);
    dz_array *total = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, squares, 0); // (1,)
    if (!tmp.failed)
        dz_backend_of(x)->to_host(out, total->data, sizeof *out); /* synchronises */
    return dz_tmp_end(&tmp);
}

/* ---- row kernels: gather the rows, compute on the (n, D) block, scatter
 * the new rows back (the rows are distinct) ---- */

/* y[rows] = y[rows] * scale; bit-exact. */
static bool rows_scale_composite(dz_array *y, const dz_array *rows, double scale)
{
    dz_temps tmp = {0};
    dz_array *scaled = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_gather_rows(&tmp, y, rows, -1), scale); // (n, D)
    dz_array *starts = row_starts(&tmp, y, rows);
    if (!tmp.failed)
        scatter_rows(y, starts, scaled);
    return dz_tmp_end(&tmp);
}

/* Adagrad on the rows of a coalesced grad g, bit-exact:
 *     h[r] = h[r] + g^2
 *     p[r] = p[r] - clr * g / (sqrt(h[r]) + eps)      (fma) */
static bool sparse_adagrad_composite(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                     const dz_array *values)
{
    dz_temps tmp = {0};
    dz_array *g = values_block(&tmp, values, p);                  // (n, D)
    dz_array *sum_rows = dz_tmp_gather_rows(&tmp, sum, rows, -1); // (n, D)
    dz_array *h = dz_tmp_binary(&tmp, DZ_BINARY_ADD, sum_rows, dz_tmp_unary(&tmp, DZ_UNARY_SQUARE, g, 0));
    dz_array *std = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, dz_tmp_unary(&tmp, DZ_UNARY_SQRT, h, 0), s->eps);
    dz_array *p_rows = dz_tmp_gather_rows(&tmp, p, rows, -1); // (n, D)
    dz_array *p_new = fma_of(&tmp, p_rows, dz_tmp_binary(&tmp, DZ_BINARY_DIV, g, std), -s->clr);
    dz_array *starts = row_starts(&tmp, p, rows);
    if (!tmp.failed) {
        scatter_rows(sum, starts, h);
        scatter_rows(p, starts, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* SparseAdam on the rows of a coalesced grad g, bit-exact:
 *     dm = (g - m[r]) * (1-b1);    m[r] = m[r] + dm
 *     dv = (g^2 - v[r]) * (1-b2);  v[r] = v[r] + dv
 *     p[r] = p[r] + (m[r] / (sqrt(v[r]) + eps)) * -step_size */
static bool sparse_adam_composite(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                                  const dz_array *rows, const dz_array *values)
{
    dz_temps tmp = {0};
    dz_array *g = values_block(&tmp, values, p); // (n, D)
    dz_array *m_rows = dz_tmp_gather_rows(&tmp, m, rows, -1), *v_rows = dz_tmp_gather_rows(&tmp, v, rows, -1);
    dz_array *dm = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_binary(&tmp, DZ_BINARY_SUB, g, m_rows),
                                1 - s->beta1);
    dz_array *m_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, m_rows, dm);
    dz_array *g2 = dz_tmp_unary(&tmp, DZ_UNARY_SQUARE, g, 0);
    dz_array *dv = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_binary(&tmp, DZ_BINARY_SUB, g2, v_rows),
                                1 - s->beta2);
    dz_array *v_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, v_rows, dv);
    dz_array *denom = dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, dz_tmp_unary(&tmp, DZ_UNARY_SQRT, v_new, 0), s->eps);
    dz_array *step = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_binary(&tmp, DZ_BINARY_DIV, m_new, denom),
                                  -s->step_size);
    dz_array *p_new = dz_tmp_binary(&tmp, DZ_BINARY_ADD, dz_tmp_gather_rows(&tmp, p, rows, -1), step);
    dz_array *starts = row_starts(&tmp, p, rows);
    if (!tmp.failed) {
        scatter_rows(m, starts, m_new);
        scatter_rows(v, starts, v_new);
        scatter_rows(p, starts, p_new);
    }
    return dz_tmp_end(&tmp);
}

/* ---- dispatchers: the fused kernel when the backend has it ---- */

bool dz_kernel_sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *momentum_buffer)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, sgd_step))
        return sgd_composite(s, p, g, momentum_buffer);
    be->fused->sgd_step(s, p, g, momentum_buffer);
    return true;
}

bool dz_kernel_momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *velocity)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, momentum_sgd_step))
        return momentum_sgd_composite(lr, momentum, p, g, velocity);
    be->fused->momentum_sgd_step(lr, momentum, p, g, velocity);
    return true;
}

bool dz_kernel_adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *state_sum)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, adagrad_step))
        return adagrad_composite(s, p, g, state_sum);
    be->fused->adagrad_step(s, p, g, state_sum);
    return true;
}

bool dz_kernel_adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                             dz_array *acc_delta)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, adadelta_step))
        return adadelta_composite(s, p, g, square_avg, acc_delta);
    be->fused->adadelta_step(s, p, g, square_avg, acc_delta);
    return true;
}

bool dz_kernel_adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *exp_avg,
                         dz_array *exp_avg_sq, dz_array *max_exp_avg_sq)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, adam_step))
        return adam_composite(s, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq);
    be->fused->adam_step(s, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq);
    return true;
}

bool dz_kernel_weight_decay(double rate, const dz_array *p, dz_array *g)
{
    const dz_backend *be = dz_backend_of(g);
    if (!DZ_FUSED(be, weight_decay))
        return weight_decay_composite(rate, p, g);
    be->fused->weight_decay(rate, p, g);
    return true;
}

bool dz_kernel_scale(dz_array *x, double scale)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, scale))
        return scale_composite(x, scale);
    be->fused->scale(x, scale);
    return true;
}

bool dz_kernel_sum_squares(const dz_array *x, double *out)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sum_squares))
        return sum_squares_composite(x, out);
    *out = be->fused->sum_squares(x);
    return true;
}

bool dz_kernel_axpy(dz_array *y, const dz_array *x, double alpha)
{
    const dz_backend *be = dz_backend_of(y);
    if (!DZ_FUSED(be, axpy))
        return axpy_composite(y, x, alpha);
    be->fused->axpy(y, x, alpha);
    return true;
}

bool dz_kernel_rows_scale(dz_array *y, const dz_array *rows, double scale)
{
    const dz_backend *be = dz_backend_of(y);
    if (!DZ_FUSED(be, rows_scale))
        return rows_scale_composite(y, rows, scale);
    be->fused->rows_scale(y, rows, scale);
    return true;
}

bool dz_kernel_sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *state_sum,
                                   const dz_array *rows, const dz_array *values)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, sparse_adagrad_rows))
        return sparse_adagrad_composite(s, p, state_sum, rows, values);
    be->fused->sparse_adagrad_rows(s, p, state_sum, rows, values);
    return true;
}

bool dz_kernel_sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *exp_avg,
                                dz_array *exp_avg_sq, const dz_array *rows, const dz_array *values)
{
    const dz_backend *be = dz_backend_of(p);
    if (!DZ_FUSED(be, sparse_adam_rows))
        return sparse_adam_composite(s, p, exp_avg, exp_avg_sq, rows, values);
    be->fused->sparse_adam_rows(s, p, exp_avg, exp_avg_sq, rows, values);
    return true;
}

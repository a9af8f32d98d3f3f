/* CPU optimizer kernels: one loop per update rule, for f32 and f64.
 *
 * The loops repeat PyTorch 1.13's CPU tensor operations one for one, so that
 * float32 results equal torch.optim's bit for bit (measured on torch 1.13.1,
 * AVX2 build; tests/fixtures/make_optim_fixtures.py):
 *   - a Python scalar is rounded to the tensor's dtype before use: (T)0.9;
 *   - x.add_(y, alpha=a) is one fused multiply-add, fma(y, a, x) (ATen's
 *     vectorised add is vec::fmadd, and GCC contracts its scalar tail too);
 *   - x.addcmul_(y, z, value=c) is fma(c*y, z, x), rounding c*y first;
 *   - x.addcdiv_(y, z, value=c) is x + (c*y)/z, nothing fused;
 *   - x.mul_(c), x / c, x + eps and sqrt(x) are single IEEE operations.
 * fma()/fmaf() from <math.h> are correctly rounded on every machine (one
 * instruction where the CPU has FMA). The library is compiled as ISO C11, so
 * the compiler never fuses a*b + c on its own: unfused steps stay unfused.
 *
 * Each update is a macro expanded for float and double, followed by the
 * dtype dispatch the backend table points at.
 */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

#define FMA(a, b, c) _Generic((a), float: fmaf, default: fma)((a), (b), (c))
#define SQRT(x) _Generic((x), float: sqrtf, default: sqrt)(x)
/* torch.maximum: a NaN in either operand wins. */
#define MAXIMUM(a, b) ((a) != (a) || (a) > (b) ? (a) : (b))

/* Elements per row of an (R, ...) array. */
static int64_t row_length(const dz_array *y) { return y->shape[0] ? y->size / y->shape[0] : 0; }

/* ---- SGD (torch.optim.SGD, _single_tensor_sgd) ---- */

#define SGD_LOOP(T)                                                                                \
    static void sgd_##T(const dz_sgd_scalars *s, int64_t n, T *p, const T *g, T *buf)              \
    {                                                                                              \
        const T wd = (T)s->weight_decay, mu = (T)s->momentum;                                      \
        const T one_minus_dampening = (T)(1 - s->dampening), neg_lr = (T)-s->lr;                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T d = s->weight_decay != 0 ? FMA(p[i], wd, g[i]) : g[i]; /* d = g + wd*p */             \
            if (buf) {                                                                             \
                /* b = d at the first step, then b = mu*b + (1-dampening)*d */                     \
                buf[i] = s->first_step ? d : FMA(d, one_minus_dampening, buf[i] * mu);             \
                d = s->nesterov ? FMA(buf[i], mu, d) : buf[i]; /* d = d + mu*b (Nesterov), or b */  \
            }                                                                                      \
            p[i] = FMA(d, neg_lr, p[i]); /* p = p - lr*d */                                         \
        }                                                                                          \
    }
SGD_LOOP(float)
SGD_LOOP(double)

void dz_cpu_sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf)
{
    if (p->dtype == DZ_F32)
        sgd_float(s, p->size, p->data, g->data, buf ? buf->data : NULL);
    else
        sgd_double(s, p->size, p->data, g->data, buf ? buf->data : NULL);
}

/* ---- MomentumSGD (DeZero, NumPy float32 in-place ops, nothing fused) ---- */

#define MOMENTUM_SGD_LOOP(T)                                                                       \
    static void momentum_sgd_##T(double lr_, double momentum, int64_t n, T *p, const T *g, T *v)   \
    {                                                                                              \
        const T mu = (T)momentum, lr = (T)lr_;                                                     \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T vi = v[i] * mu;  /* v *= momentum */                                                 \
            T step = lr * g[i];                                                                    \
            vi = vi - step;    /* v -= lr * g */                                                   \
            v[i] = vi;                                                                             \
            p[i] = p[i] + vi;  /* p += v */                                                        \
        }                                                                                          \
    }
MOMENTUM_SGD_LOOP(float)
MOMENTUM_SGD_LOOP(double)

void dz_cpu_momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v)
{
    if (p->dtype == DZ_F32)
        momentum_sgd_float(lr, momentum, p->size, p->data, g->data, v->data);
    else
        momentum_sgd_double(lr, momentum, p->size, p->data, g->data, v->data);
}

/* ---- Adagrad (torch.optim.Adagrad, _single_tensor_adagrad, dense grad) ---- */

#define ADAGRAD_LOOP(T)                                                                            \
    static void adagrad_##T(const dz_adagrad_scalars *s, int64_t n, T *p, const T *g, T *sum)      \
    {                                                                                              \
        const T wd = (T)s->weight_decay, eps = (T)s->eps, neg_clr = (T)-s->clr;                    \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T gi = s->weight_decay != 0 ? FMA(p[i], wd, g[i]) : g[i]; /* g = g + wd*p */            \
            sum[i] = FMA(gi, gi, sum[i]);        /* h = h + g^2 */                                 \
            T std = SQRT(sum[i]) + eps;          /* std = sqrt(h) + eps */                         \
            p[i] = p[i] + (neg_clr * gi) / std;  /* p = p - clr * g / std */                       \
        }                                                                                          \
    }
ADAGRAD_LOOP(float)
ADAGRAD_LOOP(double)

void dz_cpu_adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum)
{
    if (p->dtype == DZ_F32)
        adagrad_float(s, p->size, p->data, g->data, sum->data);
    else
        adagrad_double(s, p->size, p->data, g->data, sum->data);
}

/* ---- Adadelta (torch.optim.Adadelta, _single_tensor_adadelta) ---- */

#define ADADELTA_LOOP(T)                                                                           \
    static void adadelta_##T(const dz_adadelta_scalars *s, int64_t n, T *p, const T *g, T *sq,     \
                             T *acc)                                                               \
    {                                                                                              \
        const T wd = (T)s->weight_decay, eps = (T)s->eps, neg_lr = (T)-s->lr;                      \
        const T rho = (T)s->rho, one_minus_rho = (T)(1 - s->rho);                                  \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T gi = s->weight_decay != 0 ? FMA(p[i], wd, g[i]) : g[i]; /* g = g + wd*p */            \
            /* s = rho*s + (1-rho)*g^2  (s: running mean of g^2) */                               \
            sq[i] = FMA(one_minus_rho * gi, gi, sq[i] * rho);                                      \
            T std = SQRT(sq[i] + eps);               /* std = sqrt(s + eps) */                     \
            T delta = SQRT(acc[i] + eps) / std * gi; /* dx = sqrt(a + eps)/std * g */              \
            /* a = rho*a + (1-rho)*dx^2  (a: running mean of dx^2) */                              \
            acc[i] = FMA(one_minus_rho * delta, delta, acc[i] * rho);                              \
            p[i] = FMA(delta, neg_lr, p[i]);         /* p = p - lr*dx */                           \
        }                                                                                          \
    }
ADADELTA_LOOP(float)
ADADELTA_LOOP(double)

void dz_cpu_adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                          dz_array *acc_delta)
{
    if (p->dtype == DZ_F32)
        adadelta_float(s, p->size, p->data, g->data, square_avg->data, acc_delta->data);
    else
        adadelta_double(s, p->size, p->data, g->data, square_avg->data, acc_delta->data);
}

/* ---- Adam and AdamW (torch.optim.Adam/AdamW, _single_tensor_adam[w]) ---- */

#define ADAM_LOOP(T)                                                                               \
    static void adam_##T(const dz_adam_scalars *s, int64_t n, T *p, const T *g, T *m, T *v,        \
                         T *vmax)                                                                  \
    {                                                                                              \
        const T b1 = (T)s->beta1, one_minus_b1 = (T)(1 - s->beta1);                                \
        const T b2 = (T)s->beta2, one_minus_b2 = (T)(1 - s->beta2);                                \
        const T wd = (T)s->weight_decay, decay = (T)s->decay_factor, eps = (T)s->eps;              \
        const T bc2_sqrt = (T)s->bias_correction2_sqrt, neg_step_size = (T)-s->step_size;          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T pi = s->decay_factor != 1 ? p[i] * decay : p[i]; /* p = p*(1 - lr*wd) (AdamW) */      \
            T gi = s->weight_decay != 0 ? FMA(pi, wd, g[i]) : g[i]; /* g = g + wd*p (Adam) */       \
            T mi = FMA(gi, one_minus_b1, m[i] * b1);      /* m = b1*m + (1-b1)*g */                \
            T vi = FMA(one_minus_b2 * gi, gi, v[i] * b2); /* v = b2*v + (1-b2)*g^2 */              \
            m[i] = mi;                                                                             \
            v[i] = vi;                                                                             \
            if (vmax) {                                   /* AMSGrad: vmax = max(vmax, v) */       \
                vmax[i] = MAXIMUM(vmax[i], vi);                                                    \
                vi = vmax[i];                                                                      \
            }                                                                                      \
            T denom = SQRT(vi) / bc2_sqrt + eps;          /* sqrt(v)/sqrt(1-b2^t) + eps */         \
            p[i] = pi + (neg_step_size * mi) / denom;     /* p = p - lr/(1-b1^t) * m/denom */      \
        }                                                                                          \
    }
ADAM_LOOP(float)
ADAM_LOOP(double)

void dz_cpu_adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                      dz_array *vmax)
{
    if (p->dtype == DZ_F32)
        adam_float(s, p->size, p->data, g->data, m->data, v->data, vmax ? vmax->data : NULL);
    else
        adam_double(s, p->size, p->data, g->data, m->data, v->data, vmax ? vmax->data : NULL);
}

/* ---- hook kernels ---- */

#define WEIGHT_DECAY_LOOP(T)                                                                       \
    static void weight_decay_##T(double rate_, int64_t n, const T *p, T *g)                        \
    {                                                                                              \
        const T rate = (T)rate_;                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T decay = rate * p[i];                                                                 \
            g[i] = g[i] + decay; /* g += rate * p (DeZero, NumPy: not fused) */                    \
        }                                                                                          \
    }
WEIGHT_DECAY_LOOP(float)
WEIGHT_DECAY_LOOP(double)

void dz_cpu_weight_decay(double rate, const dz_array *p, dz_array *g)
{
    if (p->dtype == DZ_F32)
        weight_decay_float(rate, p->size, p->data, g->data);
    else
        weight_decay_double(rate, p->size, p->data, g->data);
}

void dz_cpu_scale(dz_array *x, double scale)
{
    if (x->dtype == DZ_F32) {
        float *xf = x->data, s = (float)scale;
        for (int64_t i = 0; i < x->size; i++)
            xf[i] *= s;
    } else {
        double *xd = x->data;
        for (int64_t i = 0; i < x->size; i++)
            xd[i] *= scale;
    }
}

double dz_cpu_sum_squares(const dz_array *x)
{
    double total = 0;
    for (int64_t i = 0; i < x->size; i++) {
        double xi = x->dtype == DZ_F32 ? ((const float *)x->data)[i] : ((const double *)x->data)[i];
        total += xi * xi;
    }
    return total;
}

#define AXPY_LOOP(T)                                                                               \
    static void axpy_##T(int64_t n, T *y, const T *x, double alpha_)                               \
    {                                                                                              \
        const T alpha = (T)alpha_;                                                                 \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = FMA(x[i], alpha, y[i]); /* y = y + alpha*x */                                   \
    }
AXPY_LOOP(float)
AXPY_LOOP(double)

void dz_cpu_axpy(dz_array *y, const dz_array *x, double alpha)
{
    if (y->dtype == DZ_F32)
        axpy_float(y->size, y->data, x->data, alpha);
    else
        axpy_double(y->size, y->data, x->data, alpha);
}

/* ---- row kernels for sparse grads ---- */

/* y[rows[k]] = y[rows[k]] + alpha*x[k], as dense.add_(sparse, alpha) does it:
 * one entry after the other, so repeated rows accumulate. */
#define ROWS_AXPY_LOOP(T)                                                                          \
    static void rows_axpy_##T(int64_t n, const int64_t *rows, int64_t d, T *y, const T *x,         \
                              double alpha_)                                                       \
    {                                                                                              \
        const T alpha = (T)alpha_;                                                                 \
        for (int64_t k = 0; k < n; k++) {                                                          \
            T *y_row = y + rows[k] * d;                                                            \
            const T *x_row = x + k * d;                                                            \
            if (alpha == 1) /* fma(x, 1, y) is x + y, rounded once: skip the fma call */           \
                for (int64_t j = 0; j < d; j++)                                                    \
                    y_row[j] = y_row[j] + x_row[j];                                                \
            else                                                                                   \
                for (int64_t j = 0; j < d; j++)                                                    \
                    y_row[j] = FMA(x_row[j], alpha, y_row[j]); /* y[r] = y[r] + alpha*x[k] */     \
        }                                                                                          \
    }
ROWS_AXPY_LOOP(float)
ROWS_AXPY_LOOP(double)

void dz_cpu_rows_axpy(dz_array *y, const dz_array *rows, const dz_array *x, double alpha)
{
    if (y->dtype == DZ_F32)
        rows_axpy_float(rows->size, rows->data, row_length(y), y->data, x->data, alpha);
    else
        rows_axpy_double(rows->size, rows->data, row_length(y), y->data, x->data, alpha);
}

#define ROWS_SCALE_LOOP(T)                                                                         \
    static void rows_scale_##T(int64_t n, const int64_t *rows, int64_t d, T *y, double scale_)     \
    {                                                                                              \
        const T scale = (T)scale_;                                                                 \
        for (int64_t k = 0; k < n; k++)                                                            \
            for (int64_t j = 0; j < d; j++)                                                        \
                y[rows[k] * d + j] *= scale; /* y[r] = scale * y[r] */                             \
    }
ROWS_SCALE_LOOP(float)
ROWS_SCALE_LOOP(double)

void dz_cpu_rows_scale(dz_array *y, const dz_array *rows, double scale)
{
    if (y->dtype == DZ_F32)
        rows_scale_float(rows->size, rows->data, row_length(y), y->data, scale);
    else
        rows_scale_double(rows->size, rows->data, row_length(y), y->data, scale);
}

void dz_cpu_rows_gather(const dz_array *y, const dz_array *rows, dz_array *out)
{
    const int64_t *r = rows->data;
    size_t row_bytes = (size_t)row_length(y) * dz_dtype_size(y->dtype);
    for (int64_t k = 0; k < rows->size; k++)
        memcpy((char *)out->data + (size_t)k * row_bytes, (const char *)y->data + (size_t)r[k] * row_bytes,
               row_bytes);
}

/* Adagrad on a coalesced sparse grad (the sparse branch of _single_tensor_adagrad). */
#define SPARSE_ADAGRAD_LOOP(T)                                                                     \
    static void sparse_adagrad_##T(const dz_adagrad_scalars *s, int64_t n, const int64_t *rows,    \
                                   int64_t d, T *p, T *sum, const T *values)                       \
    {                                                                                              \
        const T eps = (T)s->eps, neg_clr = (T)-s->clr;                                             \
        for (int64_t k = 0; k < n; k++) {                                                          \
            T *p_row = p + rows[k] * d, *h_row = sum + rows[k] * d;                                \
            const T *g_row = values + k * d;                                                       \
            for (int64_t j = 0; j < d; j++) {                                                      \
                T g = g_row[j], g2 = g * g;                                                        \
                h_row[j] = h_row[j] + g2;            /* h[r] = h[r] + g^2 */                       \
                T std = SQRT(h_row[j]) + eps;        /* std = sqrt(h[r]) + eps */                  \
                p_row[j] = FMA(g / std, neg_clr, p_row[j]); /* p[r] = p[r] - clr * g/std */        \
            }                                                                                      \
        }                                                                                          \
    }
SPARSE_ADAGRAD_LOOP(float)
SPARSE_ADAGRAD_LOOP(double)

void dz_cpu_sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                const dz_array *values)
{
    if (p->dtype == DZ_F32)
        sparse_adagrad_float(s, rows->size, rows->data, row_length(p), p->data, sum->data, values->data);
    else
        sparse_adagrad_double(s, rows->size, rows->data, row_length(p), p->data, sum->data, values->data);
}

/* SparseAdam (torch.optim._functional.sparse_adam) on a coalesced grad. Only
 * the given rows move; their moments are updated lazily, and eps is added
 * before the bias correction (it sits inside step_size). */
#define SPARSE_ADAM_LOOP(T)                                                                        \
    static void sparse_adam_##T(const dz_sparse_adam_scalars *s, int64_t n, const int64_t *rows,   \
                                int64_t d, T *p, T *m, T *v, const T *values)                      \
    {                                                                                              \
        const T one_minus_b1 = (T)(1 - s->beta1), one_minus_b2 = (T)(1 - s->beta2);               \
        const T eps = (T)s->eps, neg_step_size = (T)-s->step_size;                                 \
        for (int64_t k = 0; k < n; k++) {                                                          \
            int64_t base = rows[k] * d;                                                            \
            for (int64_t j = 0; j < d; j++) {                                                      \
                T g = values[k * d + j], old_m = m[base + j], old_v = v[base + j];                 \
                T dm = (g - old_m) * one_minus_b1;    /* dm = (1-b1)*(g - m) */                    \
                m[base + j] = old_m + dm;             /* m = m + dm */                             \
                T dv = (g * g - old_v) * one_minus_b2; /* dv = (1-b2)*(g^2 - v) */                 \
                v[base + j] = old_v + dv;             /* v = v + dv */                             \
                T denom = SQRT(dv + old_v) + eps;     /* denom = sqrt(v) + eps */                  \
                T update = neg_step_size * ((dm + old_m) / denom); /* -step_size * m/denom */      \
                p[base + j] = p[base + j] + update;   /* p = p + update */                         \
            }                                                                                      \
        }                                                                                          \
    }
SPARSE_ADAM_LOOP(float)
SPARSE_ADAM_LOOP(double)

void dz_cpu_sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                             const dz_array *rows, const dz_array *values)
{
    if (p->dtype == DZ_F32)
        sparse_adam_float(s, rows->size, rows->data, row_length(p), p->data, m->data, v->data, values->data);
    else
        sparse_adam_double(s, rows->size, rows->data, row_length(p), p->data, m->data, v->data, values->data);
}

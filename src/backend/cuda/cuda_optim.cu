/* Fused optimizer kernels on the CUDA device (backend.h's dz_backend_fused).
 *
 * Each kernel is the CPU's loop body (src/backend/cpu/cpu_optim.c) as a
 * functor over one element, so that every element goes through the same
 * operations in the same order and gets the same bits:
 *   - the scalars are rounded to T on the host, as the CPU's *_args_*
 *     functions round them ((T)-s->lr, (T)(1 - s->rho), ...);
 *   - the CPU's fused multiply-adds (FMA) are fmaf/fma, correctly rounded on
 *     the device; nothing else is fused (nvcc runs with --fmad=false, the
 *     emulated build is ISO C++, which does not contract a*b + c);
 *   - an option that only changes a value (weight decay, Nesterov, the first
 *     step of momentum) computes both values and keeps one, as the CPU's
 *     SELECT on a mask does; the flag is the same for every element;
 *   - AMSGrad's maximum lets a NaN in either operand win (torch.maximum).
 * Division and sqrt are IEEE operations on both builds (nvcc's default
 * -prec-div and -prec-sqrt). Elements are independent: one thread each,
 * for_each_index over the elements (the row kernels: over entries x columns).
 *
 * sum_squares squares into doubles and sums them with the reduce primitive,
 * as its composite does: the composite's bits on this device, within double
 * rounding of the CPU's eight-lane sum. */
#include <math.h>

#include "cuda_common.h"

namespace dzc {

/* The math of one dtype, as the CPU's FMA and SQRT macros pick it. */
static inline DZ_HD float fma_of(float a, float b, float c) { return fmaf(a, b, c); }
static inline DZ_HD double fma_of(double a, double b, double c) { return fma(a, b, c); }
static inline DZ_HD float sqrt_of(float x) { return sqrtf(x); }
static inline DZ_HD double sqrt_of(double x) { return sqrt(x); }

/* torch.maximum: a NaN in either operand wins (the CPU's MAXIMUM). */
template <typename T> static inline DZ_HD T maximum(T a, T b) { return ((a != a) | (a > b)) ? a : b; }

/* Runs functor K<T> over [0, n) in the dtype of p (f32 or f64), under op's
 * guard; K<T>::make(args...) builds it from the arrays and the scalars. */
template <template <typename> class K, typename... A>
static void run(const char *op, const dz_array *p, int64_t n, const A &...args)
{
    guarded(op, [&] {
        if (p->dtype == DZ_F32)
            for_each_index(n, K<float>::make(args...));
        else
            for_each_index(n, K<double>::make(args...));
    });
}

/* Elements per row of an (R, ...) array. */
static int64_t row_length(const dz_array *y) { return y->shape[0] ? y->size / y->shape[0] : 0; }

/* ---- SGD (torch.optim.SGD, _single_tensor_sgd) ---- */

template <typename T> struct sgd_fn {
    T *p;       /* (n,) parameters */
    const T *g; /* (n,) grad */
    T *buf;     /* (n,) momentum buffer, or NULL without momentum */
    T wd, mu, one_minus_dampening, neg_lr;
    bool decay, first_step, nesterov;

    static sgd_fn make(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf)
    {
        return {(T *)p->data, (const T *)g->data, buf ? (T *)buf->data : nullptr,
                (T)s->weight_decay, (T)s->momentum, (T)(1 - s->dampening), (T)-s->lr,
                s->weight_decay != 0, s->first_step, s->nesterov};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T decayed = fma_of(p[i], wd, g[i]);
        T d = decay ? decayed : g[i]; /* d = g + wd*p */
        if (buf) {
            T b = fma_of(d, one_minus_dampening, buf[i] * mu); /* b = mu*b + (1-dampening)*d */
            b = first_step ? d : b;                            /* b = d at the first step */
            buf[i] = b;
            T ahead = fma_of(b, mu, d);
            d = nesterov ? ahead : b; /* d = d + mu*b (Nesterov), or b */
        }
        p[i] = fma_of(d, neg_lr, p[i]); /* p = p - lr*d */
    }
};

static void sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf)
{
    run<sgd_fn>("cuda_sgd_step", p, p->size, s, p, g, buf);
}

/* ---- MomentumSGD (DeZero, NumPy float32 in-place ops, nothing fused) ---- */

template <typename T> struct momentum_sgd_fn {
    T *p;       /* (n,) parameters */
    const T *g; /* (n,) grad */
    T *v;       /* (n,) velocity */
    T lr, mu;

    static momentum_sgd_fn make(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v)
    {
        return {(T *)p->data, (const T *)g->data, (T *)v->data, (T)lr, (T)momentum};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T vi = v[i] * mu; /* v *= momentum */
        T step = lr * g[i];
        vi = vi - step; /* v -= lr * g */
        v[i] = vi;
        p[i] = p[i] + vi; /* p += v */
    }
};

static void momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v)
{
    run<momentum_sgd_fn>("cuda_momentum_sgd_step", p, p->size, lr, momentum, p, g, v);
}

/* ---- Adagrad (torch.optim.Adagrad, _single_tensor_adagrad, dense grad) ---- */

template <typename T> struct adagrad_fn {
    T *p;       /* (n,) parameters */
    const T *g; /* (n,) grad */
    T *sum;     /* (n,) running sum of g^2 */
    T wd, eps, neg_clr;
    bool decay;

    static adagrad_fn make(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum)
    {
        return {(T *)p->data, (const T *)g->data, (T *)sum->data,
                (T)s->weight_decay, (T)s->eps, (T)-s->clr, s->weight_decay != 0};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T decayed = fma_of(p[i], wd, g[i]);
        T gi = decay ? decayed : g[i]; /* g = g + wd*p */
        T h = fma_of(gi, gi, sum[i]);  /* h = h + g^2 */
        sum[i] = h;
        T std = sqrt_of(h) + eps;           /* std = sqrt(h) + eps */
        p[i] = p[i] + (neg_clr * gi) / std; /* p = p - clr * g / std */
    }
};

static void adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum)
{
    run<adagrad_fn>("cuda_adagrad_step", p, p->size, s, p, g, sum);
}

/* ---- Adadelta (torch.optim.Adadelta, _single_tensor_adadelta) ---- */

template <typename T> struct adadelta_fn {
    T *p;       /* (n,) parameters */
    const T *g; /* (n,) grad */
    T *sq;      /* (n,) running mean of g^2 */
    T *acc;     /* (n,) running mean of dx^2 */
    T wd, eps, neg_lr, rho, one_minus_rho;
    bool decay;

    static adadelta_fn make(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *sq, dz_array *acc)
    {
        return {(T *)p->data, (const T *)g->data, (T *)sq->data, (T *)acc->data,
                (T)s->weight_decay, (T)s->eps, (T)-s->lr, (T)s->rho, (T)(1 - s->rho), s->weight_decay != 0};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T decayed = fma_of(p[i], wd, g[i]);
        T gi = decay ? decayed : g[i];                      /* g = g + wd*p */
        T s2 = fma_of(one_minus_rho * gi, gi, sq[i] * rho); /* s = rho*s + (1-rho)*g^2 */
        sq[i] = s2;
        T std = sqrt_of(s2 + eps);                                   /* std = sqrt(s + eps) */
        T delta = sqrt_of(acc[i] + eps) / std * gi;                  /* dx = sqrt(a + eps)/std * g */
        acc[i] = fma_of(one_minus_rho * delta, delta, acc[i] * rho); /* a = rho*a + (1-rho)*dx^2 */
        p[i] = fma_of(delta, neg_lr, p[i]);                          /* p = p - lr*dx */
    }
};

static void adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                          dz_array *acc_delta)
{
    run<adadelta_fn>("cuda_adadelta_step", p, p->size, s, p, g, square_avg, acc_delta);
}

/* ---- Adam and AdamW (torch.optim.Adam/AdamW, _single_tensor_adam[w]) ---- */

/* decay is 1 - lr*wd for AdamW and 1 for Adam, where p*1 is p itself, so
 * both multiply; l2 tells whether Adam adds wd*p to the grad. */
template <typename T> struct adam_fn {
    T *p;       /* (n,) parameters */
    const T *g; /* (n,) grad */
    T *m, *v;   /* (n,) first and second moments */
    T *vmax;    /* (n,) AMSGrad's maximum of v, or NULL */
    T b1, one_minus_b1, b2, one_minus_b2, wd, decay, eps, bc2_sqrt, neg_step_size;
    bool l2;

    static adam_fn make(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                        dz_array *vmax)
    {
        return {(T *)p->data, (const T *)g->data, (T *)m->data, (T *)v->data, vmax ? (T *)vmax->data : nullptr,
                (T)s->beta1, (T)(1 - s->beta1), (T)s->beta2, (T)(1 - s->beta2), (T)s->weight_decay,
                (T)s->decay_factor, (T)s->eps, (T)s->bias_correction2_sqrt, (T)-s->step_size,
                s->weight_decay != 0};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T pi = p[i] * decay; /* p = p*(1 - lr*wd) (AdamW) */
        T decayed = fma_of(pi, wd, g[i]);
        T gi = l2 ? decayed : g[i];                      /* g = g + wd*p (Adam) */
        T mi = fma_of(gi, one_minus_b1, m[i] * b1);      /* m = b1*m + (1-b1)*g */
        T vi = fma_of(one_minus_b2 * gi, gi, v[i] * b2); /* v = b2*v + (1-b2)*g^2 */
        m[i] = mi;
        v[i] = vi;
        if (vmax) { /* vmax = max(vmax, v), used below */
            vi = maximum(vmax[i], vi);
            vmax[i] = vi;
        }
        T denom = sqrt_of(vi) / bc2_sqrt + eps;   /* sqrt(v)/sqrt(1-b2^t) + eps */
        p[i] = pi + (neg_step_size * mi) / denom; /* p = p - lr/(1-b1^t) * m/denom */
    }
};

static void adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                      dz_array *vmax)
{
    run<adam_fn>("cuda_adam_step", p, p->size, s, p, g, m, v, vmax);
}

/* ---- hook kernels ---- */

/* g += rate * p (DeZero's WeightDecay, NumPy: not fused). */
template <typename T> struct weight_decay_fn {
    const T *p; /* (n,) parameters */
    T *g;       /* (n,) grad */
    T rate;

    static weight_decay_fn make(double rate, const dz_array *p, dz_array *g)
    {
        return {(const T *)p->data, (T *)g->data, (T)rate};
    }

    DZ_HD void operator()(int64_t i) const
    {
        T decay = rate * p[i];
        g[i] = g[i] + decay;
    }
};

static void weight_decay(double rate, const dz_array *p, dz_array *g)
{
    run<weight_decay_fn>("cuda_weight_decay", p, p->size, rate, p, g);
}

/* x *= scale */
template <typename T> struct scale_fn {
    T *x; /* (n,) */
    T scale;

    static scale_fn make(dz_array *x, double scale) { return {(T *)x->data, (T)scale}; }

    DZ_HD void operator()(int64_t i) const { x[i] *= scale; }
};

static void scale(dz_array *x, double scale) { run<scale_fn>("cuda_scale", x, x->size, x, scale); }

/* squares (n,) = x[i]^2 in double. */
template <typename T> struct square_fn {
    const T *x;
    double *squares;
    DZ_HD void operator()(int64_t i) const
    {
        double v = x[i];
        squares[i] = v * v;
    }
};

/* sum(x^2) in double: the squares, then the reduce primitive (the bits of
 * the composite, which squares x as f64 and reduces). The host needs the
 * sum: it is copied back, which synchronises (as the composite's to_host).
 * 0 when the device failed (the error is recorded). */
static double sum_squares(const dz_array *x)
{
    double out = 0;
    if (x->size == 0)
        return out;
    guarded("cuda_sum_squares", [&] {
        scratch squares((size_t)x->size * sizeof(double)), total(sizeof(double)); // (n,), (1,)
        if (x->dtype == DZ_F32)
            for_each_index(x->size, square_fn<float>{(const float *)x->data, (double *)squares.data});
        else
            for_each_index(x->size, square_fn<double>{(const double *)x->data, (double *)squares.data});
        dz_array terms = matrix_view(DZ_F64, DZ_CUDA, squares.data, 1, x->size); // (1, n)
        dz_array sum = matrix_view(DZ_F64, DZ_CUDA, total.data, 1, 1);            // (1, 1)
        reduce(DZ_REDUCE_SUM, &terms, &sum);
        to_host(&out, total.data, sizeof out);
    });
    return out;
}

/* y = y + alpha*x, one rounding; x and y do not overlap. */
template <typename T> struct axpy_fn {
    T *y;       /* (n,) */
    const T *x; /* (n,) */
    T alpha;

    static axpy_fn make(dz_array *y, const dz_array *x, double alpha)
    {
        return {(T *)y->data, (const T *)x->data, (T)alpha};
    }

    DZ_HD void operator()(int64_t i) const { y[i] = fma_of(x[i], alpha, y[i]); }
};

static void axpy(dz_array *y, const dz_array *x, double alpha) { run<axpy_fn>("cuda_axpy", y, y->size, y, x, alpha); }

/* ---- row kernels for sparse grads ----
 * Thread t is column j = t % d of entry k = t / d, whose row rows[k] of the
 * table it updates. The rows of a coalesced grad are distinct, so no two
 * threads touch one element. */

/* y[rows[k]] = scale * y[rows[k]] */
template <typename T> struct rows_scale_fn {
    T *y;                /* (R, d) table */
    const int64_t *rows; /* (n,) */
    int64_t d;
    T scale;

    static rows_scale_fn make(dz_array *y, const dz_array *rows, double scale)
    {
        return {(T *)y->data, (const int64_t *)rows->data, row_length(y), (T)scale};
    }

    DZ_HD void operator()(int64_t t) const { y[rows[t / d] * d + t % d] *= scale; }
};

static void rows_scale(dz_array *y, const dz_array *rows, double scale)
{
    run<rows_scale_fn>("cuda_rows_scale", y, rows->size * row_length(y), y, rows, scale);
}

/* Adagrad on a coalesced sparse grad (the sparse branch of _single_tensor_adagrad). */
template <typename T> struct sparse_adagrad_fn {
    T *p, *sum;          /* (R, d) parameters and running sums of g^2 */
    const int64_t *rows; /* (n,) distinct rows */
    const T *values;     /* (n, d) grad rows */
    int64_t d;
    T eps, neg_clr;

    static sparse_adagrad_fn make(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                  const dz_array *values)
    {
        return {(T *)p->data, (T *)sum->data, (const int64_t *)rows->data, (const T *)values->data, row_length(p),
                (T)s->eps, (T)-s->clr};
    }

    DZ_HD void operator()(int64_t t) const
    {
        const int64_t e = rows[t / d] * d + t % d; /* element of the table */
        const T g = values[t];
        T g2 = g * g;
        T h = sum[e] + g2; /* h[r] = h[r] + g^2 */
        sum[e] = h;
        T std = sqrt_of(h) + eps;              /* std = sqrt(h[r]) + eps */
        p[e] = fma_of(g / std, neg_clr, p[e]); /* p[r] = p[r] - clr * g/std */
    }
};

static void sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                const dz_array *values)
{
    run<sparse_adagrad_fn>("cuda_sparse_adagrad_rows", p, rows->size * row_length(p), s, p, sum, rows, values);
}

/* SparseAdam (torch.optim._functional.sparse_adam) on a coalesced grad. Only
 * the given rows move; their moments are updated lazily, and eps is added
 * before the bias correction (it sits inside step_size). */
template <typename T> struct sparse_adam_fn {
    T *p, *m, *v;        /* (R, d) parameters and moments */
    const int64_t *rows; /* (n,) distinct rows */
    const T *values;     /* (n, d) grad rows */
    int64_t d;
    T one_minus_b1, one_minus_b2, eps, neg_step_size;

    static sparse_adam_fn make(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                               const dz_array *rows, const dz_array *values)
    {
        return {(T *)p->data, (T *)m->data, (T *)v->data, (const int64_t *)rows->data, (const T *)values->data,
                row_length(p), (T)(1 - s->beta1), (T)(1 - s->beta2), (T)s->eps, (T)-s->step_size};
    }

    DZ_HD void operator()(int64_t t) const
    {
        const int64_t e = rows[t / d] * d + t % d; /* element of the table */
        const T g = values[t];
        T old_m = m[e], old_v = v[e], g2 = g * g;
        T dm = (g - old_m) * one_minus_b1;                 /* dm = (1-b1)*(g - m) */
        m[e] = old_m + dm;                                 /* m = m + dm */
        T dv = (g2 - old_v) * one_minus_b2;                /* dv = (1-b2)*(g^2 - v) */
        v[e] = old_v + dv;                                 /* v = v + dv */
        T denom = sqrt_of(dv + old_v) + eps;               /* denom = sqrt(v) + eps */
        T update = neg_step_size * ((dm + old_m) / denom); /* -step_size * m/denom */
        p[e] = p[e] + update;                              /* p = p + update */
    }
};

static void sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                             const dz_array *rows, const dz_array *values)
{
    run<sparse_adam_fn>("cuda_sparse_adam_rows", p, rows->size * row_length(p), s, p, m, v, rows, values);
}

void fill_optim_kernels(dz_backend_fused *f)
{
    f->sgd_step = sgd_step;
    f->momentum_sgd_step = momentum_sgd_step;
    f->adagrad_step = adagrad_step;
    f->adadelta_step = adadelta_step;
    f->adam_step = adam_step;
    f->weight_decay = weight_decay;
    f->scale = scale;
    f->sum_squares = sum_squares;
    f->axpy = axpy;
    f->rows_scale = rows_scale;
    f->sparse_adagrad_rows = sparse_adagrad_rows;
    f->sparse_adam_rows = sparse_adam_rows;
}

} // namespace dzc

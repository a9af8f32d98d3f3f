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
 * fma()/fmaf() from <math.h> are correctly rounded on every machine. The
 * library is compiled as ISO C11, so the compiler never fuses a*b + c on its
 * own: unfused steps stay unfused.
 *
 * Each rule is one pass over its arrays. Its loop is a static inline function
 * over restrict pointers with no branch inside: an option that decides which
 * arrays exist (a momentum buffer, AMSGrad's maximum) is a constant argument,
 * so each use compiles to its own loop; an option that only changes a value
 * (weight decay, Nesterov) computes both values and selects one with a bit
 * mask (SELECT below). The loop runs inside a function over an element range
 * [begin, end) (a range of entries for the row kernels), built with
 * DZ_FMA_CLONES (cpu_clones.h): on AVX2+FMA machines the loop does 8 floats
 * per instruction, each lane computing the scalar code's bits (sqrt is one
 * instruction too, as the library is built with -fno-math-errno). Elements
 * are independent, so a step split into ranges (across threads) gives the
 * same result.
 *
 * Each kernel is a macro expanded for float and double: its arguments (K_T:
 * the arrays and the scalars rounded to T), the loop, and the range function;
 * the dtype dispatch the backend table points at follows.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu_clones.h"
#include "cpu_kernels.h"
#include "cpu_parallel.h"

#define FMA(a, b, c) _Generic((a), float: fmaf, default: fma)((a), (b), (c))
#define SQRT(x) _Generic((x), float: sqrtf, default: sqrt)(x)
/* torch.maximum: a NaN in either operand wins. Both tests always run (| rather
 * than ||), so the choice compiles to a vector blend. */
#define MAXIMUM(a, b) ((((a) != (a)) | ((a) > (b))) ? (a) : (b))

/* An option that picks one of two values is a mask, MASK(flag): all ones for
 * true, zeros for false; SELECT(mask, a, b) is a where the mask is set, else
 * b, blended bit by bit. GCC 12 vectorizes that, but not ?: on a loop-invariant
 * bool (unless it happens to unswitch the loop). */
#define MASK(flag) ((flag) ? UINT64_MAX : 0)
#define SELECT(mask, a, b) _Generic((a), float: select_float, default: select_double)((mask), (a), (b))

static inline float select_float(uint64_t mask, float a, float b)
{
    uint32_t m = (uint32_t)mask, x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & m) | (y & ~m);
    memcpy(&a, &x, sizeof a);
    return a;
}

static inline double select_double(uint64_t mask, double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & mask) | (y & ~mask);
    memcpy(&a, &x, sizeof a);
    return a;
}

/* Runs kernel K over elements [0, n) in the dtype of p; the remaining
 * arguments build its K_T argument struct. */
#define RUN_KERNEL(K, p, n, ...)                                                                   \
    do {                                                                                           \
        if ((p)->dtype == DZ_F32) {                                                                \
            const K##_float args = K##_args_float(__VA_ARGS__);                                    \
            K##_range_float(&args, 0, (n));                                                        \
        } else {                                                                                   \
            const K##_double args = K##_args_double(__VA_ARGS__);                                  \
            K##_range_double(&args, 0, (n));                                                       \
        }                                                                                          \
    } while (0)

/* The same for a whole-parameter kernel, whose elements are independent:
 * split over threads above DZ_GRAIN elements (the bits do not change).
 * PARALLEL_TASKS(K) defines the task functions dz_parallel_for calls. */
#define PARALLEL_TASKS(K)                                                                          \
    static void K##_task_float(void *args, int64_t begin, int64_t end)                             \
    {                                                                                              \
        K##_range_float(args, begin, end);                                                         \
    }                                                                                              \
    static void K##_task_double(void *args, int64_t begin, int64_t end)                            \
    {                                                                                              \
        K##_range_double(args, begin, end);                                                        \
    }

#define RUN_PARALLEL(K, p, n, ...)                                                                 \
    do {                                                                                           \
        if ((p)->dtype == DZ_F32) {                                                                \
            K##_float args = K##_args_float(__VA_ARGS__);                                          \
            dz_parallel_for((n), 1, K##_task_float, &args);                                        \
        } else {                                                                                   \
            K##_double args = K##_args_double(__VA_ARGS__);                                        \
            dz_parallel_for((n), 1, K##_task_double, &args);                                       \
        }                                                                                          \
    } while (0)

/* Elements per row of an (R, ...) array. */
static int64_t row_length(const dz_array *y) { return y->shape[0] ? y->size / y->shape[0] : 0; }

/* The row kernels touch table rows in random order, each a cache (and
 * often a TLB) miss: they ask for the rows of entry k + ROW_PREFETCH while
 * working on entry k. */
#define ROW_PREFETCH 8

static inline void prefetch_row(const void *row, size_t bytes)
{
    for (size_t offset = 0; offset < bytes; offset += 64)
        __builtin_prefetch((const char *)row + offset, 1);
}

/* ---- SGD (torch.optim.SGD, _single_tensor_sgd) ---- */

#define SGD_KERNEL(T)                                                                              \
    typedef struct {                                                                               \
        T *p;       /* (n,) parameters */                                                          \
        const T *g; /* (n,) grad */                                                                \
        T *buf;     /* (n,) momentum buffer, or NULL without momentum */                           \
        T wd, mu, one_minus_dampening, neg_lr;                                                     \
        uint64_t decay, first_step, nesterov; /* masks */                                          \
    } sgd_##T;                                                                                     \
                                                                                                   \
    static sgd_##T sgd_args_##T(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf) \
    {                                                                                              \
        return (sgd_##T){p->data, g->data, buf ? buf->data : NULL, (T)s->weight_decay, (T)s->momentum, \
                         (T)(1 - s->dampening), (T)-s->lr, MASK(s->weight_decay != 0), MASK(s->first_step), \
                         MASK(s->nesterov)};                                                       \
    }                                                                                              \
                                                                                                   \
    static inline void sgd_loop_##T(const sgd_##T *s, bool momentum, int64_t n, T *restrict p,    \
                                    const T *restrict g, T *restrict buf)                          \
    {                                                                                              \
        const T wd = s->wd, mu = s->mu, one_minus_dampening = s->one_minus_dampening;              \
        const T neg_lr = s->neg_lr;                                                                \
        const uint64_t decay = s->decay, first_step = s->first_step, nesterov = s->nesterov;       \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T decayed = FMA(p[i], wd, g[i]);                                                       \
            T d = SELECT(decay, decayed, g[i]); /* d = g + wd*p */                                 \
            if (momentum) {                                                                        \
                T b = FMA(d, one_minus_dampening, buf[i] * mu); /* b = mu*b + (1-dampening)*d */   \
                b = SELECT(first_step, d, b);                   /* b = d at the first step */      \
                buf[i] = b;                                                                        \
                T ahead = FMA(b, mu, d);                                                           \
                d = SELECT(nesterov, ahead, b); /* d = d + mu*b (Nesterov), or b */                \
            }                                                                                      \
            p[i] = FMA(d, neg_lr, p[i]); /* p = p - lr*d */                                        \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void sgd_range_##T(const sgd_##T *s, int64_t begin, int64_t end)          \
    {                                                                                              \
        if (s->buf)                                                                                \
            sgd_loop_##T(s, true, end - begin, s->p + begin, s->g + begin, s->buf + begin);        \
        else                                                                                       \
            sgd_loop_##T(s, false, end - begin, s->p + begin, s->g + begin, NULL);                 \
    }
SGD_KERNEL(float)
SGD_KERNEL(double)
PARALLEL_TASKS(sgd)

void dz_cpu_sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *buf)
{
    RUN_PARALLEL(sgd, p, p->size, s, p, g, buf);
}

/* ---- MomentumSGD (DeZero, NumPy float32 in-place ops, nothing fused) ---- */

#define MOMENTUM_SGD_KERNEL(T)                                                                     \
    typedef struct {                                                                               \
        T *p;       /* (n,) parameters */                                                          \
        const T *g; /* (n,) grad */                                                                \
        T *v;       /* (n,) velocity */                                                            \
        T lr, mu;                                                                                  \
    } momentum_sgd_##T;                                                                            \
                                                                                                   \
    static momentum_sgd_##T momentum_sgd_args_##T(double lr, double momentum, dz_array *p, const dz_array *g, \
                                                  dz_array *v)                                     \
    {                                                                                              \
        return (momentum_sgd_##T){p->data, g->data, v->data, (T)lr, (T)momentum};                  \
    }                                                                                              \
                                                                                                   \
    static inline void momentum_sgd_loop_##T(const momentum_sgd_##T *s, int64_t n, T *restrict p,  \
                                             const T *restrict g, T *restrict v)                   \
    {                                                                                              \
        const T lr = s->lr, mu = s->mu;                                                            \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T vi = v[i] * mu; /* v *= momentum */                                                  \
            T step = lr * g[i];                                                                    \
            vi = vi - step; /* v -= lr * g */                                                      \
            v[i] = vi;                                                                             \
            p[i] = p[i] + vi; /* p += v */                                                         \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void momentum_sgd_range_##T(const momentum_sgd_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        momentum_sgd_loop_##T(s, end - begin, s->p + begin, s->g + begin, s->v + begin);           \
    }
MOMENTUM_SGD_KERNEL(float)
MOMENTUM_SGD_KERNEL(double)
PARALLEL_TASKS(momentum_sgd)

void dz_cpu_momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *v)
{
    RUN_PARALLEL(momentum_sgd, p, p->size, lr, momentum, p, g, v);
}

/* ---- Adagrad (torch.optim.Adagrad, _single_tensor_adagrad, dense grad) ---- */

#define ADAGRAD_KERNEL(T)                                                                          \
    typedef struct {                                                                               \
        T *p;       /* (n,) parameters */                                                          \
        const T *g; /* (n,) grad */                                                                \
        T *sum;     /* (n,) running sum of g^2 */                                                  \
        T wd, eps, neg_clr;                                                                        \
        uint64_t decay; /* mask */                                                                 \
    } adagrad_##T;                                                                                 \
                                                                                                   \
    static adagrad_##T adagrad_args_##T(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum) \
    {                                                                                              \
        return (adagrad_##T){p->data, g->data, sum->data, (T)s->weight_decay, (T)s->eps, (T)-s->clr,  \
                             MASK(s->weight_decay != 0)};                                          \
    }                                                                                              \
                                                                                                   \
    static inline void adagrad_loop_##T(const adagrad_##T *s, int64_t n, T *restrict p, const T *restrict g, \
                                        T *restrict sum)                                           \
    {                                                                                              \
        const T wd = s->wd, eps = s->eps, neg_clr = s->neg_clr;                                    \
        const uint64_t decay = s->decay;                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T decayed = FMA(p[i], wd, g[i]);                                                       \
            T gi = SELECT(decay, decayed, g[i]); /* g = g + wd*p */                                \
            T h = FMA(gi, gi, sum[i]);          /* h = h + g^2 */                                  \
            sum[i] = h;                                                                            \
            T std = SQRT(h) + eps;              /* std = sqrt(h) + eps */                          \
            p[i] = p[i] + (neg_clr * gi) / std; /* p = p - clr * g / std */                        \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void adagrad_range_##T(const adagrad_##T *s, int64_t begin, int64_t end)  \
    {                                                                                              \
        adagrad_loop_##T(s, end - begin, s->p + begin, s->g + begin, s->sum + begin);              \
    }
ADAGRAD_KERNEL(float)
ADAGRAD_KERNEL(double)
PARALLEL_TASKS(adagrad)

void dz_cpu_adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *sum)
{
    RUN_PARALLEL(adagrad, p, p->size, s, p, g, sum);
}

/* ---- Adadelta (torch.optim.Adadelta, _single_tensor_adadelta) ---- */

#define ADADELTA_KERNEL(T)                                                                         \
    typedef struct {                                                                               \
        T *p;       /* (n,) parameters */                                                          \
        const T *g; /* (n,) grad */                                                                \
        T *sq;      /* (n,) running mean of g^2 */                                                 \
        T *acc;     /* (n,) running mean of dx^2 */                                                \
        T wd, eps, neg_lr, rho, one_minus_rho;                                                     \
        uint64_t decay; /* mask */                                                                 \
    } adadelta_##T;                                                                                \
                                                                                                   \
    static adadelta_##T adadelta_args_##T(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, \
                                          dz_array *sq, dz_array *acc)                             \
    {                                                                                              \
        return (adadelta_##T){p->data, g->data, sq->data, acc->data, (T)s->weight_decay, (T)s->eps, (T)-s->lr, \
                              (T)s->rho, (T)(1 - s->rho), MASK(s->weight_decay != 0)};             \
    }                                                                                              \
                                                                                                   \
    static inline void adadelta_loop_##T(const adadelta_##T *s, int64_t n, T *restrict p, const T *restrict g, \
                                         T *restrict sq, T *restrict acc)                          \
    {                                                                                              \
        const T wd = s->wd, eps = s->eps, neg_lr = s->neg_lr, rho = s->rho;                        \
        const T one_minus_rho = s->one_minus_rho;                                                  \
        const uint64_t decay = s->decay;                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T decayed = FMA(p[i], wd, g[i]);                                                       \
            T gi = SELECT(decay, decayed, g[i]); /* g = g + wd*p */                                \
            T s2 = FMA(one_minus_rho * gi, gi, sq[i] * rho); /* s = rho*s + (1-rho)*g^2 */         \
            sq[i] = s2;                                                                            \
            T std = SQRT(s2 + eps);                   /* std = sqrt(s + eps) */                    \
            T delta = SQRT(acc[i] + eps) / std * gi;  /* dx = sqrt(a + eps)/std * g */             \
            acc[i] = FMA(one_minus_rho * delta, delta, acc[i] * rho); /* a = rho*a + (1-rho)*dx^2 */ \
            p[i] = FMA(delta, neg_lr, p[i]);          /* p = p - lr*dx */                          \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void adadelta_range_##T(const adadelta_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        adadelta_loop_##T(s, end - begin, s->p + begin, s->g + begin, s->sq + begin, s->acc + begin); \
    }
ADADELTA_KERNEL(float)
ADADELTA_KERNEL(double)
PARALLEL_TASKS(adadelta)

void dz_cpu_adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                          dz_array *acc_delta)
{
    RUN_PARALLEL(adadelta, p, p->size, s, p, g, square_avg, acc_delta);
}

/* ---- Adam and AdamW (torch.optim.Adam/AdamW, _single_tensor_adam[w]) ---- */

/* decay is 1 - lr*wd for AdamW and 1 for Adam, where p*1 is p itself, so
 * both multiply; l2 tells whether Adam adds wd*p to the grad. */
#define ADAM_KERNEL(T)                                                                             \
    typedef struct {                                                                               \
        T *p;       /* (n,) parameters */                                                          \
        const T *g; /* (n,) grad */                                                                \
        T *m, *v;   /* (n,) first and second moments */                                            \
        T *vmax;    /* (n,) AMSGrad's maximum of v, or NULL */                                     \
        T b1, one_minus_b1, b2, one_minus_b2, wd, decay, eps, bc2_sqrt, neg_step_size;             \
        uint64_t l2; /* mask */                                                                    \
    } adam_##T;                                                                                    \
                                                                                                   \
    static adam_##T adam_args_##T(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, \
                                  dz_array *v, dz_array *vmax)                                     \
    {                                                                                              \
        return (adam_##T){p->data, g->data, m->data, v->data, vmax ? vmax->data : NULL,            \
                          (T)s->beta1, (T)(1 - s->beta1), (T)s->beta2, (T)(1 - s->beta2),          \
                          (T)s->weight_decay, (T)s->decay_factor, (T)s->eps,                       \
                          (T)s->bias_correction2_sqrt, (T)-s->step_size, MASK(s->weight_decay != 0)}; \
    }                                                                                              \
                                                                                                   \
    static inline void adam_loop_##T(const adam_##T *s, bool amsgrad, int64_t n, T *restrict p,    \
                                     const T *restrict g, T *restrict m, T *restrict v, T *restrict vmax) \
    {                                                                                              \
        const T b1 = s->b1, one_minus_b1 = s->one_minus_b1, b2 = s->b2, one_minus_b2 = s->one_minus_b2; \
        const T wd = s->wd, decay = s->decay, eps = s->eps, bc2_sqrt = s->bc2_sqrt;                \
        const T neg_step_size = s->neg_step_size;                                                  \
        const uint64_t l2 = s->l2;                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T pi = p[i] * decay; /* p = p*(1 - lr*wd) (AdamW) */                                   \
            T decayed = FMA(pi, wd, g[i]);                                                         \
            T gi = SELECT(l2, decayed, g[i]);             /* g = g + wd*p (Adam) */                \
            T mi = FMA(gi, one_minus_b1, m[i] * b1);      /* m = b1*m + (1-b1)*g */                \
            T vi = FMA(one_minus_b2 * gi, gi, v[i] * b2); /* v = b2*v + (1-b2)*g^2 */              \
            m[i] = mi;                                                                             \
            v[i] = vi;                                                                             \
            if (amsgrad) { /* vmax = max(vmax, v), used below */                                   \
                vi = MAXIMUM(vmax[i], vi);                                                         \
                vmax[i] = vi;                                                                      \
            }                                                                                      \
            T denom = SQRT(vi) / bc2_sqrt + eps;      /* sqrt(v)/sqrt(1-b2^t) + eps */             \
            p[i] = pi + (neg_step_size * mi) / denom; /* p = p - lr/(1-b1^t) * m/denom */          \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void adam_range_##T(const adam_##T *s, int64_t begin, int64_t end)        \
    {                                                                                              \
        T *p = s->p + begin, *m = s->m + begin, *v = s->v + begin;                                 \
        if (s->vmax)                                                                               \
            adam_loop_##T(s, true, end - begin, p, s->g + begin, m, v, s->vmax + begin);           \
        else                                                                                       \
            adam_loop_##T(s, false, end - begin, p, s->g + begin, m, v, NULL);                     \
    }
ADAM_KERNEL(float)
ADAM_KERNEL(double)
PARALLEL_TASKS(adam)

void dz_cpu_adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *m, dz_array *v,
                      dz_array *vmax)
{
    RUN_PARALLEL(adam, p, p->size, s, p, g, m, v, vmax);
}

/* ---- hook kernels ---- */

/* g += rate * p (DeZero's WeightDecay, NumPy: not fused). */
#define WEIGHT_DECAY_KERNEL(T)                                                                     \
    typedef struct {                                                                               \
        const T *p; /* (n,) parameters */                                                          \
        T *g;       /* (n,) grad */                                                                \
        T rate;                                                                                    \
    } weight_decay_##T;                                                                            \
                                                                                                   \
    static weight_decay_##T weight_decay_args_##T(double rate, const dz_array *p, dz_array *g)     \
    {                                                                                              \
        return (weight_decay_##T){p->data, g->data, (T)rate};                                      \
    }                                                                                              \
                                                                                                   \
    static inline void weight_decay_loop_##T(T rate, int64_t n, const T *restrict p, T *restrict g) \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T decay = rate * p[i];                                                                 \
            g[i] = g[i] + decay;                                                                   \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void weight_decay_range_##T(const weight_decay_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        weight_decay_loop_##T(s->rate, end - begin, s->p + begin, s->g + begin);                   \
    }
WEIGHT_DECAY_KERNEL(float)
WEIGHT_DECAY_KERNEL(double)
PARALLEL_TASKS(weight_decay)

void dz_cpu_weight_decay(double rate, const dz_array *p, dz_array *g)
{
    RUN_PARALLEL(weight_decay, p, p->size, rate, p, g);
}

/* x *= scale */
#define SCALE_KERNEL(T)                                                                            \
    typedef struct {                                                                               \
        T *x; /* (n,) */                                                                           \
        T scale;                                                                                   \
    } scale_##T;                                                                                   \
                                                                                                   \
    static scale_##T scale_args_##T(dz_array *x, double scale) { return (scale_##T){x->data, (T)scale}; } \
                                                                                                   \
    static inline void scale_loop_##T(T scale, int64_t n, T *restrict x)                           \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++)                                                            \
            x[i] *= scale;                                                                         \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void scale_range_##T(const scale_##T *s, int64_t begin, int64_t end)      \
    {                                                                                              \
        scale_loop_##T(s->scale, end - begin, s->x + begin);                                       \
    }
SCALE_KERNEL(float)
SCALE_KERNEL(double)
PARALLEL_TASKS(scale)

void dz_cpu_scale(dz_array *x, double scale) { RUN_PARALLEL(scale, x, x->size, x, scale); }

/* sum(x^2) in double over [begin, end): element i goes to partial sum i % 8
 * (counted from begin), the 8 partial sums are added in order, then the
 * leftover elements. The order is fixed, so every build gives the same sum,
 * and the 8 independent sums vectorize. */
#define SUM_SQUARES_KERNEL(T)                                                                      \
    DZ_FMA_CLONES static double sum_squares_range_##T(const T *restrict x, int64_t begin, int64_t end) \
    {                                                                                              \
        double lanes[8] = {0}, total = 0;                                                          \
        int64_t i = begin;                                                                         \
        for (; end - i >= 8; i += 8)                                                               \
            for (int l = 0; l < 8; l++) {                                                          \
                double xi = x[i + l];                                                              \
                lanes[l] += xi * xi;                                                               \
            }                                                                                      \
        for (int l = 0; l < 8; l++)                                                                \
            total += lanes[l];                                                                     \
        for (; i < end; i++) {                                                                     \
            double xi = x[i];                                                                      \
            total += xi * xi;                                                                      \
        }                                                                                          \
        return total;                                                                              \
    }
SUM_SQUARES_KERNEL(float)
SUM_SQUARES_KERNEL(double)

double dz_cpu_sum_squares(const dz_array *x)
{
    if (x->dtype == DZ_F32)
        return sum_squares_range_float(x->data, 0, x->size);
    return sum_squares_range_double(x->data, 0, x->size);
}

/* y = y + alpha*x; x and y do not overlap. */
#define AXPY_KERNEL(T)                                                                             \
    typedef struct {                                                                               \
        T *y;       /* (n,) */                                                                     \
        const T *x; /* (n,) */                                                                     \
        T alpha;                                                                                   \
    } axpy_##T;                                                                                    \
                                                                                                   \
    static axpy_##T axpy_args_##T(dz_array *y, const dz_array *x, double alpha)                    \
    {                                                                                              \
        return (axpy_##T){y->data, x->data, (T)alpha};                                             \
    }                                                                                              \
                                                                                                   \
    static inline void axpy_loop_##T(T alpha, int64_t n, T *restrict y, const T *restrict x)       \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = FMA(x[i], alpha, y[i]);                                                         \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void axpy_range_##T(const axpy_##T *s, int64_t begin, int64_t end)        \
    {                                                                                              \
        axpy_loop_##T(s->alpha, end - begin, s->y + begin, s->x + begin);                          \
    }
AXPY_KERNEL(float)
AXPY_KERNEL(double)
PARALLEL_TASKS(axpy)

void dz_cpu_axpy(dz_array *y, const dz_array *x, double alpha) { RUN_PARALLEL(axpy, y, y->size, y, x, alpha); }

/* ---- row kernels for sparse grads ----
 * These run over a range of entries k (rows[k] is a row of the table). The
 * entries of a coalesced grad name distinct rows, so their ranges may run in
 * parallel; rows_axpy's uncoalesced entries may repeat a row and then must
 * run in order. */

/* y[rows[k]] = scale * y[rows[k]] */
#define ROWS_SCALE_KERNEL(T)                                                                       \
    typedef struct {                                                                               \
        T *y;                /* (R, d) table */                                                    \
        const int64_t *rows; /* (n,) */                                                            \
        int64_t d;                                                                                 \
        T scale;                                                                                   \
    } rows_scale_##T;                                                                              \
                                                                                                   \
    static rows_scale_##T rows_scale_args_##T(dz_array *y, const dz_array *rows, double scale)     \
    {                                                                                              \
        return (rows_scale_##T){y->data, rows->data, row_length(y), (T)scale};                     \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void rows_scale_range_##T(const rows_scale_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        for (int64_t k = begin; k < end; k++) {                                                    \
            if (k + ROW_PREFETCH < end)                                                            \
                prefetch_row(s->y + s->rows[k + ROW_PREFETCH] * s->d, (size_t)s->d * sizeof(T));   \
            scale_loop_##T(s->scale, s->d, s->y + s->rows[k] * s->d);                              \
        }                                                                                          \
    }
ROWS_SCALE_KERNEL(float)
ROWS_SCALE_KERNEL(double)

void dz_cpu_rows_scale(dz_array *y, const dz_array *rows, double scale)
{
    RUN_KERNEL(rows_scale, y, rows->size, y, rows, scale);
}

/* Adagrad on a coalesced sparse grad (the sparse branch of _single_tensor_adagrad). */
#define SPARSE_ADAGRAD_KERNEL(T)                                                                   \
    typedef struct {                                                                               \
        T *p, *sum;            /* (R, d) parameters and running sums of g^2 */                     \
        const int64_t *rows;   /* (n,) distinct rows */                                            \
        const T *values;       /* (n, d) grad rows */                                              \
        int64_t d;                                                                                 \
        T eps, neg_clr;                                                                            \
    } sparse_adagrad_##T;                                                                          \
                                                                                                   \
    static sparse_adagrad_##T sparse_adagrad_args_##T(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, \
                                                      const dz_array *rows, const dz_array *values) \
    {                                                                                              \
        return (sparse_adagrad_##T){p->data, sum->data, rows->data, values->data, row_length(p), (T)s->eps, \
                                    (T)-s->clr};                                                   \
    }                                                                                              \
                                                                                                   \
    static inline void sparse_adagrad_row_##T(const sparse_adagrad_##T *s, T *restrict p, T *restrict h, \
                                              const T *restrict g)                                 \
    {                                                                                              \
        const T eps = s->eps, neg_clr = s->neg_clr;                                                \
        for (int64_t j = 0; j < s->d; j++) {                                                       \
            T g2 = g[j] * g[j];                                                                    \
            T hj = h[j] + g2; /* h[r] = h[r] + g^2 */                                              \
            h[j] = hj;                                                                             \
            T std = SQRT(hj) + eps;                    /* std = sqrt(h[r]) + eps */                \
            p[j] = FMA(g[j] / std, neg_clr, p[j]);     /* p[r] = p[r] - clr * g/std */             \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void sparse_adagrad_range_##T(const sparse_adagrad_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        const size_t row_bytes = (size_t)s->d * sizeof(T);                                        \
        for (int64_t k = begin; k < end; k++) {                                                    \
            if (k + ROW_PREFETCH < end) {                                                          \
                int64_t ahead = s->rows[k + ROW_PREFETCH] * s->d;                                  \
                prefetch_row(s->p + ahead, row_bytes);                                             \
                prefetch_row(s->sum + ahead, row_bytes);                                           \
            }                                                                                      \
            int64_t base = s->rows[k] * s->d;                                                      \
            sparse_adagrad_row_##T(s, s->p + base, s->sum + base, s->values + k * s->d);           \
        }                                                                                          \
    }
SPARSE_ADAGRAD_KERNEL(float)
SPARSE_ADAGRAD_KERNEL(double)

void dz_cpu_sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *sum, const dz_array *rows,
                                const dz_array *values)
{
    RUN_KERNEL(sparse_adagrad, p, rows->size, s, p, sum, rows, values);
}

/* SparseAdam (torch.optim._functional.sparse_adam) on a coalesced grad. Only
 * the given rows move; their moments are updated lazily, and eps is added
 * before the bias correction (it sits inside step_size). */
#define SPARSE_ADAM_KERNEL(T)                                                                      \
    typedef struct {                                                                               \
        T *p, *m, *v;        /* (R, d) parameters and moments */                                   \
        const int64_t *rows; /* (n,) distinct rows */                                              \
        const T *values;     /* (n, d) grad rows */                                                \
        int64_t d;                                                                                 \
        T one_minus_b1, one_minus_b2, eps, neg_step_size;                                          \
    } sparse_adam_##T;                                                                             \
                                                                                                   \
    static sparse_adam_##T sparse_adam_args_##T(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, \
                                                dz_array *v, const dz_array *rows, const dz_array *values) \
    {                                                                                              \
        return (sparse_adam_##T){p->data, m->data, v->data, rows->data, values->data, row_length(p), \
                                 (T)(1 - s->beta1), (T)(1 - s->beta2), (T)s->eps, (T)-s->step_size}; \
    }                                                                                              \
                                                                                                   \
    static inline void sparse_adam_row_##T(const sparse_adam_##T *s, T *restrict p, T *restrict m,  \
                                           T *restrict v, const T *restrict g)                     \
    {                                                                                              \
        const T one_minus_b1 = s->one_minus_b1, one_minus_b2 = s->one_minus_b2;                    \
        const T eps = s->eps, neg_step_size = s->neg_step_size;                                    \
        for (int64_t j = 0; j < s->d; j++) {                                                       \
            T old_m = m[j], old_v = v[j], g2 = g[j] * g[j];                                        \
            T dm = (g[j] - old_m) * one_minus_b1; /* dm = (1-b1)*(g - m) */                        \
            m[j] = old_m + dm;                    /* m = m + dm */                                 \
            T dv = (g2 - old_v) * one_minus_b2;   /* dv = (1-b2)*(g^2 - v) */                      \
            v[j] = old_v + dv;                    /* v = v + dv */                                 \
            T denom = SQRT(dv + old_v) + eps;     /* denom = sqrt(v) + eps */                      \
            T update = neg_step_size * ((dm + old_m) / denom); /* -step_size * m/denom */          \
            p[j] = p[j] + update;                 /* p = p + update */                             \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    DZ_FMA_CLONES static void sparse_adam_range_##T(const sparse_adam_##T *s, int64_t begin, int64_t end) \
    {                                                                                              \
        const size_t row_bytes = (size_t)s->d * sizeof(T);                                        \
        for (int64_t k = begin; k < end; k++) {                                                    \
            if (k + ROW_PREFETCH < end) {                                                          \
                int64_t ahead = s->rows[k + ROW_PREFETCH] * s->d;                                  \
                prefetch_row(s->p + ahead, row_bytes);                                             \
                prefetch_row(s->m + ahead, row_bytes);                                             \
                prefetch_row(s->v + ahead, row_bytes);                                             \
            }                                                                                      \
            int64_t base = s->rows[k] * s->d;                                                      \
            sparse_adam_row_##T(s, s->p + base, s->m + base, s->v + base, s->values + k * s->d);   \
        }                                                                                          \
    }
SPARSE_ADAM_KERNEL(float)
SPARSE_ADAM_KERNEL(double)

void dz_cpu_sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *m, dz_array *v,
                             const dz_array *rows, const dz_array *values)
{
    RUN_KERNEL(sparse_adam, p, rows->size, s, p, m, v, rows, values);
}

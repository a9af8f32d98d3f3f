/* CUDA parity: every differentiable function, every layer and optimizer, a
 * few training steps, weight files, determinism and mixed-device errors, run
 * on the CPU and on the CUDA device from the same seeded inputs.
 *
 * Each check is a "program" (inputs, forward, backward, updates) that records
 * the arrays it produced (outputs, grads, parameters) as host copies. It runs
 * five times: on the device with its fused kernels on (what a program gets)
 * and off (every op on its composite of primitives), and on the CPU with all
 * its fused kernels, with only those the device has too, and with none.
 *
 * Where nothing is summed (copies, reshapes, transposes, gathers, getitem,
 * concat, elementwise ops, optimizer steps) each device run must give the
 * bits of its CPU counterpart: the composite device the composite CPU's, and
 * the fused device those of the CPU with the device's set of fused kernels (a
 * fused device kernel does the arithmetic of the CPU's; an op the device has
 * no kernel for runs its composite on both). Once the device has every fused
 * kernel the CPU has, that CPU run is the fused CPU. Ops computed by each
 * device's own math library are bit-exact on the emulated device only (LIBM,
 * LIBM64). Every device run must match the fused and the composite CPU within
 * a relative tolerance (1e-5 for float32, 1e-12 for float64, times
 * max(1, |expected|)) everywhere.
 *
 * The determinism check and the mixed-device errors run with the device's
 * fused kernels on and off too; the weight-file tests only copy, and run once.
 * DZ_PARITY_VERBOSE=1 prints how many fused kernels each backend has and, per
 * check, how many of its arrays came out bit-identical to the CPU runs.
 *
 * Reports "skipped" (exit 77) where the build has no CUDA or no GPU. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "test_common.h"

/* ---- results: the host copies of what a program produced ------------------- */

#define MAX_RESULTS 160

typedef struct results {
    int n;
    char what[MAX_RESULTS][64];
    dz_array *a[MAX_RESULTS]; /* CPU copies; NULL where the run produced none (no grad) */
    bool exact[MAX_RESULTS];  /* nothing summed: a device run must give its CPU run's bits */
} results;

static dz_array *host_copy(const dz_array *a)
{
    dz_array *c = a->device == DZ_CPU ? dz_array_copy(a) : dz_array_to_device(a, DZ_CPU);
    ck_assert_msg(c != NULL, "copying a result to the host: %s", dz_last_error());
    return c;
}

/* Records a host copy of `a` (NULL: nothing there) under a printf name. */
static void record(results *r, bool exact, const dz_array *a, const char *fmt, ...)
{
    ck_assert_int_lt(r->n, MAX_RESULTS);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what[r->n], sizeof r->what[r->n], fmt, ap);
    va_end(ap);
    r->a[r->n] = a ? host_copy(a) : NULL;
    r->exact[r->n] = exact;
    r->n++;
}

/* v's dense grad, and its sparse grad's entries (NULL where absent). */
static void record_grad(results *r, bool exact, const dz_variable *v, const char *name)
{
    const dz_sparse_grad *s = v->sparse_grad;
    record(r, exact, v->grad ? v->grad->data : NULL, "grad of %s", name);
    record(r, true, s ? s->indices : NULL, "sparse grad indices of %s", name);
    record(r, exact, s ? s->values : NULL, "sparse grad values of %s", name);
}

static void free_results(results *r)
{
    for (int i = 0; i < r->n; i++)
        dz_array_release(r->a[i]);
    r->n = 0;
}

static double rtol_of(dz_dtype dtype) { return dtype == DZ_F32 ? 1e-5 : 1e-12; }

static bool same_element(const dz_array *got, const dz_array *want, int64_t i, bool exact, double rtol)
{
    size_t es = dz_dtype_size(want->dtype);
    if (exact || !dz_dtype_is_float(want->dtype))
        return memcmp((const char *)got->data + i * es, (const char *)want->data + i * es, es) == 0;
    double g = dz_array_get(got, i), w = dz_array_get(want, i);
    if (isnan(w) || isnan(g))
        return isnan(w) && isnan(g);
    return fabs(g - w) <= rtol * fmax(1.0, fabs(w));
}

/* How many elements differ; *first gets the first of them. */
static int64_t count_differences(const dz_array *got, const dz_array *want, bool exact, double rtol, int64_t *first)
{
    int64_t count = 0;
    *first = -1;
    for (int64_t i = 0; i < want->size; i++)
        if (!same_element(got, want, i, exact, rtol) && count++ == 0)
            *first = i;
    return count;
}

static bool bit_identical(const dz_array *got, const dz_array *want)
{
    int64_t first;
    return dz_array_same_shape(got, want) && got->dtype == want->dtype &&
           count_differences(got, want, true, 0, &first) == 0;
}

/* Every array of run `got` matches run `want` (bit for bit where both
 * `use_exact` and the array ask for it, else within rtol). */
static void compare(const char *name, const results *got, const char *got_name, const results *want,
                    const char *want_name, bool use_exact, double rtol)
{
    ck_assert_int_eq(got->n, want->n);
    for (int i = 0; i < want->n; i++) {
        const dz_array *g = got->a[i], *w = want->a[i];
        const char *what = want->what[i];
        ck_assert_str_eq(got->what[i], what);
        ck_assert_msg((g == NULL) == (w == NULL), "%s: %s: %s on %s, %s on %s", name, what,
                      g ? "present" : "missing", got_name, w ? "present" : "missing", want_name);
        if (!w)
            continue;
        char gs[64], ws[64];
        ck_assert_msg(g->dtype == w->dtype && dz_array_same_shape(g, w), "%s: %s: %s %s on %s, %s %s on %s", name,
                      what, dz_dtype_name(g->dtype), dz_shape_format(g->ndim, g->shape, gs, sizeof gs), got_name,
                      dz_dtype_name(w->dtype), dz_shape_format(w->ndim, w->shape, ws, sizeof ws), want_name);
        bool exact = use_exact && want->exact[i];
        int64_t first, bad = count_differences(g, w, exact, rtol, &first);
        ck_assert_msg(bad == 0, "%s: %s (%s): %lld of %lld elements of %s differ from %s (%s); first at %lld: "
                      "%.17g against %.17g", name, what, dz_dtype_name(w->dtype), (long long)bad, (long long)w->size,
                      got_name, want_name, exact ? "bit for bit" : "within tolerance", (long long)first,
                      dz_array_get(g, first), dz_array_get(w, first));
    }
}

static int count_bit_identical(const results *got, const results *want, int *total)
{
    int same = 0;
    *total = 0;
    for (int i = 0; i < want->n; i++)
        if (want->a[i]) {
            (*total)++;
            same += bit_identical(got->a[i], want->a[i]);
        }
    return same;
}

/* ---- the fused kernels a run uses ----------------------------------------------- */

/* Which fused kernels the two backends use in a run. */
typedef enum {
    KERNELS_ALL,        /* each backend all of its own: what a program gets */
    KERNELS_DEVICE_SET, /* the device all of its own, the CPU those the device has too */
    KERNELS_NONE        /* every op on its composite of primitives */
} kernel_set;

/* dz_backend_fused seen as an array of function-pointer slots. */
typedef void (*fused_slot)(void);
#define N_FUSED_SLOTS (sizeof(dz_backend_fused) / sizeof(fused_slot))
_Static_assert(sizeof(dz_backend_fused) % sizeof(fused_slot) == 0, "dz_backend_fused holds only kernels");

static fused_slot cpu_slots[N_FUSED_SLOTS], device_slots[N_FUSED_SLOTS];
/* The CPU's fused kernels where the device has one too, NULL elsewhere: the
 * arithmetic of the device's fused run, as long as the device's table is
 * filled only in part. */
static dz_backend_fused cpu_device_set;

static void read_fused_tables(void)
{
    dz_backend_cpu_set_fused(true);
    dz_backend_cuda_set_fused(true);
    memcpy(cpu_slots, dz_backend_cpu()->fused, sizeof cpu_slots);
    if (dz_backend_cuda()->fused)
        memcpy(device_slots, dz_backend_cuda()->fused, sizeof device_slots);
    fused_slot masked[N_FUSED_SLOTS];
    for (size_t i = 0; i < N_FUSED_SLOTS; i++)
        masked[i] = device_slots[i] ? cpu_slots[i] : NULL;
    memcpy(&cpu_device_set, masked, sizeof masked);
}

static int count_slots(const fused_slot *slots)
{
    int n = 0;
    for (size_t i = 0; i < N_FUSED_SLOTS; i++)
        n += slots[i] != NULL;
    return n;
}

/* The hooks switch a backend's whole table on or off, or give the CPU the
 * device's set. */
static void use_kernels(kernel_set k)
{
    dz_backend_cpu_set_fused(k == KERNELS_ALL);
    dz_backend_cuda_set_fused(k != KERNELS_NONE);
    if (k == KERNELS_DEVICE_SET)
        dz_backend_cpu_use_fused(&cpu_device_set);
}

/* ---- running a program on the five targets ------------------------------------- */

typedef enum {
    RUN_CPU_FUSED,
    RUN_CPU_DEVICE_SET,
    RUN_CPU_COMPOSITE,
    RUN_DEVICE_FUSED,
    RUN_DEVICE_COMPOSITE,
    N_RUNS
} run_kind;

static const struct {
    const char *name;
    bool on_device;
    kernel_set kernels; /* the fused device run's steps on the CPU use the device set too */
} runs[N_RUNS] = {
    [RUN_CPU_FUSED] = {"the fused CPU", false, KERNELS_ALL},
    [RUN_CPU_DEVICE_SET] = {"the CPU with the device's fused set", false, KERNELS_DEVICE_SET},
    [RUN_CPU_COMPOSITE] = {"the composite CPU", false, KERNELS_NONE},
    [RUN_DEVICE_FUSED] = {"the fused device", true, KERNELS_DEVICE_SET},
    [RUN_DEVICE_COMPOSITE] = {"the composite device", true, KERNELS_NONE},
};

/* Builds its inputs on `device`, runs, and records what it produced. */
typedef void (*program_fn)(const void *arg, dz_dtype dtype, dz_device device, results *r);

static bool verbose;

/* The run in progress (state_file_program writes a file per run). */
static run_kind running;

/* The steps a device program takes on the CPU (a first optimizer step before
 * a move, a lazy layer's first call) use the kernels of the CPU run of its
 * kind. */
static void run_program(program_fn p, const void *arg, dz_dtype dtype, run_kind kind, results *r)
{
    running = kind;
    use_kernels(runs[kind].kernels);
    dz_scope_begin();
    p(arg, dtype, runs[kind].on_device ? DZ_CUDA : DZ_CPU, r);
    dz_scope_end();
    if (runs[kind].on_device)
        ck_assert_msg(dz_cuda_synchronize() == DZ_OK, "%s recorded a failure: %s", runs[kind].name,
                      dz_last_error());
    use_kernels(KERNELS_ALL);
}

/* Run `got` against run `want`: bits where exact, or within tolerance. */
static void compare_runs(const char *name, const results *r, run_kind got, run_kind want, bool use_exact,
                         double rtol)
{
    compare(name, &r[got], runs[got].name, &r[want], runs[want].name, use_exact, rtol);
}

static void print_bit_identical(const char *name, dz_dtype dtype, const results *r)
{
    int total, composite = count_bit_identical(&r[RUN_DEVICE_COMPOSITE], &r[RUN_CPU_COMPOSITE], &total);
    int device_set = count_bit_identical(&r[RUN_DEVICE_FUSED], &r[RUN_CPU_DEVICE_SET], &total);
    int fused = count_bit_identical(&r[RUN_DEVICE_FUSED], &r[RUN_CPU_FUSED], &total);
    printf("parity %-44s %s: bit-identical arrays of %d: composite device %d to the composite CPU; fused "
           "device %d to the CPU with its set, %d to the fused CPU\n",
           name, dz_dtype_name(dtype), total, composite, device_set, fused);
}

/* Each device run against the CPU run with its kernels (bits where exact)
 * and against the fused and the composite CPU (tolerance). */
static void check_parity(const char *name, program_fn p, const void *arg, dz_dtype dtype)
{
    results r[N_RUNS] = {0};
    for (run_kind kind = 0; kind < N_RUNS; kind++)
        run_program(p, arg, dtype, kind, &r[kind]);
    if (verbose)
        print_bit_identical(name, dtype, r);
    double rtol = rtol_of(dtype);
    compare_runs(name, r, RUN_DEVICE_COMPOSITE, RUN_CPU_COMPOSITE, true, rtol);
    compare_runs(name, r, RUN_DEVICE_FUSED, RUN_CPU_DEVICE_SET, true, rtol);
    compare_runs(name, r, RUN_DEVICE_COMPOSITE, RUN_CPU_FUSED, false, rtol);
    compare_runs(name, r, RUN_DEVICE_FUSED, RUN_CPU_FUSED, false, rtol);
    compare_runs(name, r, RUN_DEVICE_FUSED, RUN_CPU_COMPOSITE, false, rtol);
    for (run_kind kind = 0; kind < N_RUNS; kind++)
        free_results(&r[kind]);
}

/* The same device program twice, with the device's fused kernels on and
 * then off: every array bit-identical between the two runs of each. */
static void check_deterministic(const char *name, program_fn p, const void *arg, dz_dtype dtype)
{
    for (run_kind kind = RUN_DEVICE_FUSED; kind <= RUN_DEVICE_COMPOSITE; kind++) {
        results first = {0}, second = {0};
        run_program(p, arg, dtype, kind, &first);
        run_program(p, arg, dtype, kind, &second);
        results all_exact = first;
        for (int i = 0; i < all_exact.n; i++)
            all_exact.exact[i] = true;
        compare(name, &second, runs[kind].name, &all_exact, "its first run", true, 0);
        free_results(&first);
        free_results(&second);
    }
}

/* ---- inputs --------------------------------------------------------------------- */

/* FNV-1a of a check's name and dtype: every check draws its own inputs. */
static uint64_t seed_of(const char *name, dz_dtype dtype)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)dtype;
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* `a` (taken) on `device`. */
static dz_array *moved(dz_array *a, dz_device device)
{
    ck_assert_msg(a != NULL, "%s", dz_last_error());
    if (device == DZ_CPU)
        return a;
    dz_array *d = dz_array_to_device(a, device);
    ck_assert_msg(d != NULL, "dz_array_to_device: %s", dz_last_error());
    dz_array_release(a);
    return d;
}

typedef enum { IN_NORMAL, IN_POSITIVE, IN_PROB, IN_INDEX, IN_INDEX32 } input_kind;

typedef struct input_spec {
    input_kind kind;
    int ndim;
    int64_t shape[4];
    int64_t high; /* IN_INDEX, IN_INDEX32: int64 / int32 values in [0, high) */
} input_spec;

#define NORMAL(nd, ...) {IN_NORMAL, nd, {__VA_ARGS__}, 0}
#define POSITIVE(nd, ...) {IN_POSITIVE, nd, {__VA_ARGS__}, 0}     /* uniform [0.5, 2) */
#define PROB(nd, ...) {IN_PROB, nd, {__VA_ARGS__}, 0}             /* uniform [0.05, 0.95) */
#define INDEX(high, nd, ...) {IN_INDEX, nd, {__VA_ARGS__}, high} /* a constant */
#define INDEX32(high, nd, ...) {IN_INDEX32, nd, {__VA_ARGS__}, high}

static dz_array *random_array(input_spec s, dz_dtype dtype, uint64_t seed)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    switch (s.kind) {
    case IN_NORMAL: return dz_array_normal(&rng, dtype, s.ndim, s.shape, 0, 1);
    case IN_POSITIVE: return dz_array_uniform(&rng, dtype, s.ndim, s.shape, 0.5, 2.0);
    case IN_PROB: return dz_array_uniform(&rng, dtype, s.ndim, s.shape, 0.05, 0.95);
    case IN_INDEX: return dz_array_randint(&rng, DZ_I64, s.ndim, s.shape, 0, s.high);
    case IN_INDEX32: return dz_array_randint(&rng, DZ_I32, s.ndim, s.shape, 0, s.high);
    }
    return NULL;
}

/* A leaf on `device`: float inputs require a grad, index inputs are constants. */
static dz_variable *input(input_spec s, dz_dtype dtype, dz_device device, uint64_t seed)
{
    dz_array *a = moved(random_array(s, dtype, seed), device);
    return dz_dtype_is_integer(a->dtype) ? dz_variable_constant(a, NULL) : dz_variable_new(a, NULL);
}

/* An upstream grad for y: standard normals of its shape, dtype and device. */
static dz_variable *seed_grad_like(const dz_variable *y, uint64_t seed)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_array *g = dz_array_normal(&rng, y->data->dtype, y->data->ndim, y->data->shape, 0, 1);
    return dz_variable_constant(moved(g, y->data->device), NULL);
}

/* Fixed int64 positions on the device of `like`. */
static dz_array *positions(const dz_variable *like, int ndim, const int64_t *shape, const int64_t *values)
{
    return moved(dz_array_from_buffer(DZ_I64, ndim, shape, values), like->data->device);
}

static dz_variable *positions_var(const dz_variable *like, int ndim, const int64_t *shape, const int64_t *values)
{
    return dz_variable_constant(positions(like, ndim, shape, values), NULL);
}

static void backward_with(dz_variable *y, uint64_t seed, bool create_graph, const char *name)
{
    dz_variable_set_grad(y, seed_grad_like(y, seed));
    ck_assert_msg(dz_variable_backward(y, false, create_graph) == DZ_OK, "%s: backward: %s", name,
                  dz_last_error());
}

/* ---- the functions ------------------------------------------------------------------ */

typedef dz_variable *(*op_fn)(dz_variable *const *x);

#define OP(fname, expr)                                                                             \
    static dz_variable *fname(dz_variable *const *x) { return expr; }

/* math.h */
OP(f_add, dz_add(x[0], x[1]))
OP(f_sub, dz_sub(x[0], x[1]))
OP(f_mul, dz_mul(x[0], x[1]))
OP(f_div, dz_div(x[0], x[1]))
OP(f_neg, dz_neg(x[0]))
OP(f_pow3, dz_pow(x[0], 3))
OP(f_pow_half, dz_pow(x[0], 0.5))
OP(f_pow_neg, dz_pow(x[0], -1.5))
OP(f_pow_int, dz_pow(x[0], 7))
OP(f_add_scalar, dz_add_scalar(x[0], 1.5))
OP(f_sub_scalar, dz_sub_scalar(x[0], 0.7))
OP(f_rsub_scalar, dz_rsub_scalar(2.5, x[0]))
OP(f_mul_scalar, dz_mul_scalar(x[0], -1.25))
OP(f_div_scalar, dz_div_scalar(x[0], 3.0))
OP(f_rdiv_scalar, dz_rdiv_scalar(2.0, x[0]))
OP(f_exp, dz_exp(x[0]))
OP(f_log, dz_log(x[0]))
OP(f_sin, dz_sin(x[0]))
OP(f_cos, dz_cos(x[0]))
OP(f_tanh, dz_tanh(x[0]))
OP(f_square, dz_square(x[0]))
OP(f_sqrt, dz_sqrt(x[0]))
/* activation.h */
OP(f_sigmoid, dz_sigmoid(x[0]))
OP(f_relu, dz_relu(x[0]))
OP(f_leaky_relu, dz_leaky_relu(x[0], 0.2))
OP(f_softmax1, dz_softmax(x[0], 1))
OP(f_softmax0, dz_softmax(x[0], 0))
OP(f_log_softmax, dz_log_softmax(x[0], -1))
OP(f_max_all, dz_max(x[0], 0, NULL, false))
OP(f_max_axis, dz_max(x[0], DZ_AXES(1), true))
OP(f_min_axes, dz_min(x[0], DZ_AXES(0, 2), false))
OP(f_clip, dz_clip(x[0], -0.5, 0.8))
/* loss.h */
OP(f_mse, dz_mean_squared_error(x[0], x[1]))
OP(f_softmax_ce, dz_softmax_cross_entropy(x[0], x[1]))
OP(f_softmax_ce_ignore, dz_softmax_cross_entropy_ignore(x[0], x[1], 2))
OP(f_sigmoid_ce, dz_sigmoid_cross_entropy(x[0], x[1]))
OP(f_binary_ce, dz_binary_cross_entropy(x[0], x[1]))
OP(f_accuracy, dz_accuracy(x[0], x[1]))
/* shape.h */
OP(f_reshape, dz_reshape(x[0], 2, DZ_SHAPE(4, -1)))
OP(f_transpose, dz_transpose(x[0], 0, NULL))
OP(f_transpose_axes, dz_transpose(x[0], DZ_AXES(2, 0, 1)))
OP(f_sum_all, dz_sum(x[0], 0, NULL, false))
OP(f_sum_axis, dz_sum(x[0], DZ_AXES(1), true))
OP(f_sum_axes, dz_sum(x[0], DZ_AXES(0, 2), false))
OP(f_mean_all, dz_mean(x[0], 0, NULL, false))
OP(f_mean_axis, dz_mean(x[0], DZ_AXES(0), false))
OP(f_sum_to, dz_sum_to(x[0], 2, DZ_SHAPE(3, 1)))
OP(f_broadcast_to, dz_broadcast_to(x[0], 3, DZ_SHAPE(2, 3, 4)))
OP(f_expand_dims, dz_expand_dims(x[0], 1))
OP(f_flatten, dz_flatten(x[0]))
OP(f_concat, dz_concat(3, x, 1))
OP(f_stack, dz_stack(3, x, 1))
/* linalg.h */
OP(f_matmul, dz_matmul(x[0], x[1]))
OP(f_linear, dz_linear(x[0], x[1], x[2]))
OP(f_linear_nobias, dz_linear(x[0], x[1], NULL))
OP(f_one_hot_f32, dz_one_hot(x[0], 4, DZ_F32))
OP(f_one_hot_i32, dz_one_hot(x[0], 4, DZ_I32))
/* compare.h, search.h, statistics.h, and abs, log1p, expm1 */
OP(f_abs, dz_abs(x[0]))
OP(f_log1p, dz_log1p(x[0]))
OP(f_expm1, dz_expm1(x[0]))
OP(f_less, dz_less(x[0], x[1]))
OP(f_not_equal, dz_not_equal(x[0], x[1]))
OP(f_where, dz_where(dz_greater(x[0], x[1]), x[0], x[1]))
OP(f_argmax, dz_argmax(x[0], 1, false))
OP(f_argmin_flat, dz_argmin(x[0], DZ_AXIS_NONE, true))
OP(f_var, dz_var(x[0], DZ_AXES(1), 1, false))
OP(f_std, dz_std(x[0], DZ_AXES(0, 2), 0, true))
OP(f_norm2, dz_norm(x[0], 2, 0, NULL, false))
OP(f_norm_inf, dz_norm(x[0], INFINITY, DZ_AXES(-1), true))
OP(f_norm3, dz_norm(x[0], 3, DZ_AXES(1), false))
OP(f_cosine_similarity, dz_cosine_similarity(x[0], x[1], 1, 1e-8))

/* normalization.h */
OP(f_gelu, dz_gelu(x[0], false))
OP(f_gelu_tanh, dz_gelu(x[0], true))
OP(f_layer_norm, dz_layer_norm(x[0], 2, x[1], x[2], 1e-5))

/* batch_norm of x (N, 2, H, W) with gamma x[1], beta x[2] and running
 * averages (2,) on x's device, in train mode or in test mode. */
static dz_variable *batch_norm_in(dz_variable *const *x, bool train)
{
    dz_device device = x[0]->data->device;
    dz_dtype dtype = x[0]->data->dtype;
    dz_array *mean = moved(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(2), (const double[]){0.3, -0.2}), device);
    dz_array *var = moved(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(2), (const double[]){1.5, 0.7}), device);
    dz_array *m = dz_array_astype(mean, dtype), *v = dz_array_astype(var, dtype);
    bool was = dz_set_train(train);
    dz_variable *y = dz_batch_norm(x[0], x[1], x[2], m, v, 0.9, 2e-5);
    dz_set_train(was);
    dz_array_release(mean);
    dz_array_release(var);
    dz_array_release(m);
    dz_array_release(v);
    return y;
}
static dz_variable *f_batch_norm(dz_variable *const *x) { return batch_norm_in(x, true); }
static dz_variable *f_batch_norm_test(dz_variable *const *x) { return batch_norm_in(x, false); }

/* conv.h: x (2, 3, 5, 6); the cols are reshaped from 2-D inputs */
#define K32 ((dz_size2){3, 2})
#define S21 ((dz_size2){2, 1})
#define P12 ((dz_size2){1, 2})
OP(f_im2col, dz_im2col(x[0], DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false))
OP(f_im2col_matrix, dz_im2col(x[0], K32, S21, P12, true))
OP(f_col2im, dz_col2im(dz_reshape(x[0], 6, DZ_SHAPE(2, 3, 3, 3, 5, 6)), DZ_SHAPE(2, 3, 5, 6), DZ_SIZE2(3),
                       DZ_SIZE2(1), DZ_SIZE2(1), false))
OP(f_col2im_matrix, dz_col2im(x[0], DZ_SHAPE(2, 3, 5, 6), K32, S21, P12, true))
OP(f_conv2d, dz_conv2d(x[0], x[1], x[2], DZ_SIZE2(1), DZ_SIZE2(1)))
OP(f_conv2d_strided, dz_conv2d(x[0], x[1], NULL, S21, P12))
OP(f_deconv2d, dz_deconv2d(x[0], x[1], x[2], DZ_SIZE2(2), DZ_SIZE2(1), DZ_SIZE2(0)))
OP(f_max_pooling, dz_max_pooling(x[0], DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0)))
OP(f_max_pooling_padded, dz_max_pooling(x[0], DZ_SIZE2(3), DZ_SIZE2(2), DZ_SIZE2(1)))
OP(f_average_pooling, dz_average_pooling(x[0], DZ_SIZE2(3), DZ_SIZE2(2), DZ_SIZE2(1)))

/* Split x (3, 5) into widths 1, 2, 2 and join the last and the first: the
 * middle piece gets no grad (zeros in the backward). */
static dz_variable *f_split(dz_variable *const *x)
{
    dz_variable *p[3];
    if (dz_split(x[0], 3, DZ_SHAPE(1, 2, 2), 1, p) != DZ_OK)
        return NULL;
    return dz_concat(2, (dz_variable *const[]){p[2], p[0]}, 1);
}

/* Train-mode dropout with its own seeded generator. */
static dz_variable *f_dropout(dz_variable *const *x)
{
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    return dz_dropout(x[0], 0.3, &rng);
}

/* ---- getitem ---- */

/* Index arrays on the CPU: they serve an x on either device (as in PyTorch). */
static dz_array *take(int ndim, const int64_t *shape, const int64_t *values)
{
    return dz_array_from_buffer(DZ_I64, ndim, shape, values);
}

/* x (4, 5)[1] */
OP(f_item_int, dz_get_item(x[0], DZ_INDICES(DZ_I(1))))
/* x (4, 5)[:, 1:4] */
OP(f_item_slice, dz_get_item(x[0], DZ_INDICES(DZ_ALL, DZ_SLICE(1, 4, 1))))
/* x (4, 5)[::-1, -2:] and x (4, 5)[3:0:-2, ::2] */
OP(f_item_reverse, dz_get_item(x[0], DZ_INDICES(DZ_SLICE(DZ_OMIT, DZ_OMIT, -1), DZ_SLICE(-2, DZ_OMIT, 1))))
OP(f_item_steps, dz_get_item(x[0], DZ_INDICES(DZ_SLICE(3, 0, -2), DZ_SLICE(DZ_OMIT, DZ_OMIT, 2))))

/* W (6, 3)[idx], idx (2, 4) with repeats and a negative entry. */
static dz_variable *f_item_take(dz_variable *const *x)
{
    dz_array *idx = take(2, DZ_SHAPE(2, 4), (const int64_t[]){0, 5, -1, 2, 2, 2, 0, 3});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_TAKE(idx)));
    dz_array_release(idx);
    return y;
}

/* The same with idx on x's device. */
static dz_variable *f_item_take_on_device(dz_variable *const *x)
{
    dz_array *idx = positions(x[0], 2, DZ_SHAPE(2, 4), (const int64_t[]){0, 5, -1, 2, 2, 2, 0, 3});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_TAKE(idx)));
    dz_array_release(idx);
    return y;
}

/* x (4, 5)[rows, cols] with the pair (1, 0) twice: its grads accumulate. */
static dz_variable *f_item_pairs(dz_variable *const *x)
{
    dz_array *rows = take(1, DZ_SHAPE(5), (const int64_t[]){0, 1, 1, 3, 2});
    dz_array *cols = take(1, DZ_SHAPE(5), (const int64_t[]){4, 0, 0, 1, -1});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_TAKE(rows), DZ_TAKE(cols)));
    dz_array_release(rows);
    dz_array_release(cols);
    return y;
}

/* x (3, 4, 5)[idx, 1:3] with an int32 idx (4,): (4, 2, 5). */
static dz_variable *f_item_take_slice(dz_variable *const *x)
{
    dz_array *idx = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(4), (const int32_t[]){2, 0, 2, -3});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_TAKE(idx), DZ_SLICE(1, 3, 1)));
    dz_array_release(idx);
    return y;
}

/* x (3, 4, 5)[a, :, b]: arrays apart, so their broadcast shape (2, 3) comes
 * first: (2, 3, 4). */
static dz_variable *f_item_apart(dz_variable *const *x)
{
    dz_array *a = take(2, DZ_SHAPE(2, 1), (const int64_t[]){0, 2});
    dz_array *b = take(1, DZ_SHAPE(3), (const int64_t[]){4, 4, 1});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_TAKE(a), DZ_ALL, DZ_TAKE(b)));
    dz_array_release(a);
    dz_array_release(b);
    return y;
}

/* x (3, 4, 5)[1, :, idx]: the int counts as an advanced index. */
static dz_variable *f_item_int_take(dz_variable *const *x)
{
    dz_array *idx = take(1, DZ_SHAPE(3), (const int64_t[]){3, 3, 0});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_I(1), DZ_ALL, DZ_TAKE(idx)));
    dz_array_release(idx);
    return y;
}

/* x (3, 4, 5)[m], m (3, 4) with 5 true entries, on the CPU or on x's device
 * (read back through a host view): (5, 5). */
static const bool item_mask[12] = {true, false, false, true, false, false, false, false, true, true, false, true};

static dz_variable *f_item_mask(dz_variable *const *x)
{
    dz_array *m = dz_array_from_buffer(DZ_BOOL, 2, DZ_SHAPE(3, 4), item_mask);
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_MASK(m)));
    dz_array_release(m);
    return y;
}

static dz_variable *f_item_mask_on_device(dz_variable *const *x)
{
    dz_array *m = moved(dz_array_from_buffer(DZ_BOOL, 2, DZ_SHAPE(3, 4), item_mask), x[0]->data->device);
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_MASK(m)));
    dz_array_release(m);
    return y;
}

/* x (3, 4, 5)[None, ..., idx] with repeats: (1, 3, 4, 3). */
static dz_variable *f_item_newaxis_ellipsis(dz_variable *const *x)
{
    dz_array *idx = take(1, DZ_SHAPE(3), (const int64_t[]){4, 0, 4});
    dz_variable *y = dz_get_item(x[0], DZ_INDICES(DZ_NEWAXIS, DZ_ELLIPSIS, DZ_TAKE(idx)));
    dz_array_release(idx);
    return y;
}

/* GetItemGrad on its own: gy (2, 4, 3) added into zeros (6, 3) at idx (2, 4). */
static dz_variable *f_item_grad(dz_variable *const *x)
{
    dz_array *idx = take(2, DZ_SHAPE(2, 4), (const int64_t[]){0, 5, -1, 2, 2, 2, 0, 3});
    dz_variable *y = dz_get_item_grad(x[0], DZ_INDICES(DZ_TAKE(idx)), 2, DZ_SHAPE(6, 3));
    dz_array_release(idx);
    return y;
}

/* ---- embeddings: W (6, 3) is input 0 ---- */

static const int64_t emb_idx[] = {2, 0, 5, 2, 1, 2, 4, 0, 3, 2}; /* (2, 5), row 2 four times */

static dz_variable *embedding_with(dz_variable *const *x, const dz_embedding_options *o)
{
    return dz_embedding(positions_var(x[0], 2, DZ_SHAPE(2, 5), emb_idx), x[0], o);
}

static dz_variable *f_emb(dz_variable *const *x) { return embedding_with(x, NULL); }

static dz_variable *f_emb_int32(dz_variable *const *x)
{
    dz_array *idx = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(4), (const int32_t[]){5, 1, 5, 0});
    return dz_embedding(dz_variable_constant(moved(idx, x[0]->data->device), NULL), x[0], NULL);
}

static dz_variable *f_emb_padding(dz_variable *const *x)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_padding_idx = true;
    o.padding_idx = -4; /* row 2 */
    return embedding_with(x, &o);
}

static dz_variable *f_emb_freq(dz_variable *const *x)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.scale_grad_by_freq = true;
    return embedding_with(x, &o);
}

static dz_variable *emb_max_norm(dz_variable *const *x, double norm_type)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 1.0;
    o.norm_type = norm_type;
    return embedding_with(x, &o);
}

static dz_variable *f_emb_max_norm2(dz_variable *const *x) { return emb_max_norm(x, 2); }
static dz_variable *f_emb_max_norm1(dz_variable *const *x) { return emb_max_norm(x, 1); }
static dz_variable *f_emb_max_norm_inf(dz_variable *const *x) { return emb_max_norm(x, INFINITY); }

/* Bags over emb_idx flat (10,): bag 1 empty, offsets (4,). psw is input 1. */
static const int64_t bag_offsets[] = {0, 3, 3, 7, 10};

static dz_variable *bag_with(dz_variable *const *x, dz_embedding_bag_mode mode, bool psw,
                             dz_embedding_bag_options o)
{
    o.mode = mode;
    dz_variable *idx = positions_var(x[0], 1, DZ_SHAPE(10), emb_idx);
    int64_t noffsets = o.include_last_offset ? 5 : 4;
    dz_variable *offsets = positions_var(x[0], 1, &noffsets, bag_offsets);
    return dz_embedding_bag(idx, offsets, x[0], psw ? x[1] : NULL, &o);
}

static dz_embedding_bag_options bag_defaults(void) { return dz_embedding_bag_default_options(); }

static dz_embedding_bag_options bag_padded(void)
{
    dz_embedding_bag_options o = dz_embedding_bag_default_options();
    o.has_padding_idx = true;
    o.padding_idx = 2;
    return o;
}

/* The bag functions: mode, per_sample_weights (input 1) or none, options. */
#define BAG(fname, mode, psw, options)                                                              \
    static dz_variable *fname(dz_variable *const *x) { return bag_with(x, DZ_EMBEDDING_BAG_##mode, psw, options()); }

BAG(f_bag_sum, SUM, false, bag_defaults)
BAG(f_bag_mean, MEAN, false, bag_defaults)
BAG(f_bag_max, MAX, false, bag_defaults)
BAG(f_bag_psw, SUM, true, bag_defaults)
BAG(f_bag_psw_padded, SUM, true, bag_padded)
BAG(f_bag_mean_padded, MEAN, false, bag_padded)
BAG(f_bag_max_padded, MAX, false, bag_padded)

static dz_variable *f_bag_last_offset(dz_variable *const *x)
{
    dz_embedding_bag_options o = bag_defaults();
    o.include_last_offset = true;
    return bag_with(x, DZ_EMBEDDING_BAG_SUM, false, o);
}

static dz_variable *f_bag_mean_freq(dz_variable *const *x)
{
    dz_embedding_bag_options o = bag_defaults();
    o.scale_grad_by_freq = true;
    return bag_with(x, DZ_EMBEDDING_BAG_MEAN, false, o);
}

static dz_variable *f_bag_max_norm(dz_variable *const *x)
{
    dz_embedding_bag_options o = bag_defaults();
    o.has_max_norm = true;
    o.max_norm = 1.0;
    return bag_with(x, DZ_EMBEDDING_BAG_SUM, false, o);
}

/* Fixed bags: idx (5, 2) without offsets. */
static dz_variable *f_bag_fixed(dz_variable *const *x)
{
    dz_embedding_bag_options o = bag_defaults();
    dz_variable *idx = positions_var(x[0], 2, DZ_SHAPE(5, 2), emb_idx);
    return dz_embedding_bag(idx, NULL, x[0], NULL, &o);
}

/* ---- sparse embedding grads ---- */

static dz_embedding_options sparse_options(void)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    return o;
}

/* W->sparse_grad: one entry per index, in idx order. */
static dz_variable *f_emb_sparse(dz_variable *const *x)
{
    dz_embedding_options o = sparse_options();
    return embedding_with(x, &o);
}

/* Two lookups: the second backward appends its entries to the first's. */
static dz_variable *f_emb_sparse_twice(dz_variable *const *x)
{
    dz_embedding_options o = sparse_options();
    return dz_add(embedding_with(x, &o), dz_mul_scalar(embedding_with(x, &o), 2.0));
}

/* W also used densely (tied weights): sparse meets dense, the sparse entries
 * are summed into W's dense grad. */
static dz_variable *f_emb_sparse_tied(dz_variable *const *x)
{
    dz_embedding_options o = sparse_options();
    dz_variable *looked_up = dz_sum(dz_square(embedding_with(x, &o)), 0, NULL, false);
    return dz_add(looked_up, dz_sum(dz_mul(x[0], x[0]), 0, NULL, false));
}

/* ---- edge cases ---- */

static dz_variable *f_emb_empty(dz_variable *const *x)
{
    return dz_embedding(positions_var(x[0], 1, DZ_SHAPE(0), (const int64_t[]){0}), x[0], NULL);
}

/* Every row ignored: a NaN loss and a zero grad. */
static dz_variable *f_softmax_ce_all_ignored(dz_variable *const *x)
{
    return dz_softmax_cross_entropy_ignore(x[0], positions_var(x[0], 1, DZ_SHAPE(4), (const int64_t[]){2, 2, 2, 2}),
                                           2);
}

/* Split x (3, 5) into widths 0, 3, 2: an empty piece. */
static dz_variable *f_split_empty(dz_variable *const *x)
{
    dz_variable *p[3];
    if (dz_split(x[0], 3, DZ_SHAPE(0, 3, 2), 1, p) != DZ_OK)
        return NULL;
    return dz_concat(3, (dz_variable *const[]){p[2], p[0], p[1]}, 1);
}

/* The 2 largest along axis 1 and the 3 smallest along axis 0: values. */
static dz_variable *f_topk(dz_variable *const *x)
{
    dz_variable *largest, *smallest, *indices;
    if (dz_topk(x[0], 2, 1, true, &largest, &indices) != DZ_OK ||
        dz_topk(x[0], 3, 0, false, &smallest, &indices) != DZ_OK)
        return NULL;
    return dz_add(dz_sum(largest, 0, NULL, false), dz_sum(smallest, 0, NULL, false));
}

/* ---- the table ---- */

enum {
    X_FWD = 1,        /* the output is bit-exact (nothing summed) */
    X_BWD = 2,        /* the grads are bit-exact */
    EXACT = X_FWD | X_BWD,
    CLOSE = 0,
    DOUBLE = 4,       /* also a double backward */
    NO_GRAD = 8,      /* not differentiable: forward only */
    /* Computed by each device's math library, so bit-exact on the emulated
     * device only: float64 exp, log, sin, cos, tanh (float32 shares the
     * CPU's cpu_vecmath.h bodies), and pow in both dtypes. */
    LIBM64 = 32,
    LIBM = 64
};

typedef struct op_case {
    const char *name;
    op_fn fn;
    int n;
    input_spec in[4];
    int flags;
} op_case;

#define W63 NORMAL(2, 6, 3)
#define BIG_I32 INDEX32(2147483647, 2, 3, 4) /* sums and products wrap */
#define BIG_I64 INDEX(4611686018427387904, 2, 3, 4)

static const op_case op_cases[] = {
    /* math.h */
    {"add", f_add, 2, {NORMAL(2, 3, 4), NORMAL(2, 3, 4)}, EXACT | DOUBLE},
    {"add broadcast (3,4)+(4,)", f_add, 2, {NORMAL(2, 3, 4), NORMAL(1, 4)}, X_FWD},
    {"add broadcast 0-d", f_add, 2, {NORMAL(2, 3, 4), NORMAL(0, 0)}, X_FWD},
    {"sub broadcast (2,3,4)-(3,1)", f_sub, 2, {NORMAL(3, 2, 3, 4), NORMAL(2, 3, 1)}, X_FWD},
    {"mul", f_mul, 2, {NORMAL(2, 3, 4), NORMAL(2, 3, 4)}, EXACT | DOUBLE},
    {"mul broadcast (3,4)*(1,4)", f_mul, 2, {NORMAL(2, 3, 4), NORMAL(2, 1, 4)}, X_FWD | DOUBLE},
    {"div", f_div, 2, {NORMAL(2, 3, 4), POSITIVE(2, 3, 4)}, EXACT},
    {"div broadcast (3,4)/(3,1)", f_div, 2, {NORMAL(2, 3, 4), POSITIVE(2, 3, 1)}, X_FWD},
    {"neg", f_neg, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"pow 3", f_pow3, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM | DOUBLE},
    {"pow 0.5", f_pow_half, 1, {POSITIVE(2, 3, 4)}, EXACT | LIBM},
    {"pow -1.5", f_pow_neg, 1, {POSITIVE(2, 3, 4)}, EXACT | LIBM},
    {"add_scalar", f_add_scalar, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"sub_scalar", f_sub_scalar, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"rsub_scalar", f_rsub_scalar, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"mul_scalar", f_mul_scalar, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"div_scalar", f_div_scalar, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"rdiv_scalar", f_rdiv_scalar, 1, {POSITIVE(2, 3, 4)}, EXACT},
    {"exp", f_exp, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"log", f_log, 1, {POSITIVE(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"sin", f_sin, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"cos", f_cos, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"tanh", f_tanh, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"square", f_square, 1, {NORMAL(2, 3, 4)}, EXACT | DOUBLE},
    {"sqrt", f_sqrt, 1, {POSITIVE(2, 3, 4)}, EXACT},
    /* activation.h */
    {"sigmoid", f_sigmoid, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"relu", f_relu, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"leaky_relu", f_leaky_relu, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"softmax axis 1", f_softmax1, 1, {NORMAL(2, 4, 5)}, CLOSE | DOUBLE},
    {"softmax axis 0 of 3-d", f_softmax0, 1, {NORMAL(3, 3, 4, 2)}, CLOSE},
    {"log_softmax axis -1", f_log_softmax, 1, {NORMAL(3, 2, 3, 4)}, CLOSE},
    {"max all axes", f_max_all, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"max axis 1 keepdims", f_max_axis, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"min axes (0, 2)", f_min_axes, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"clip", f_clip, 1, {NORMAL(2, 3, 4)}, EXACT},
    /* compare.h, search.h, statistics.h; abs, log1p, expm1 */
    {"abs", f_abs, 1, {NORMAL(2, 3, 4)}, EXACT | DOUBLE},
    {"log1p", f_log1p, 1, {POSITIVE(2, 3, 4)}, EXACT | LIBM | DOUBLE},
    {"expm1", f_expm1, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM | DOUBLE},
    {"less broadcast", f_less, 2, {NORMAL(2, 3, 4), NORMAL(1, 4)}, EXACT | NO_GRAD},
    {"not_equal", f_not_equal, 2, {NORMAL(2, 3, 4), NORMAL(2, 3, 4)}, EXACT | NO_GRAD},
    {"where broadcast", f_where, 2, {NORMAL(2, 3, 4), NORMAL(2, 3, 1)}, EXACT | DOUBLE},
    {"argmax axis 1", f_argmax, 1, {NORMAL(3, 2, 5, 3)}, EXACT | NO_GRAD},
    {"argmin flattened", f_argmin_flat, 1, {NORMAL(2, 4, 6)}, EXACT | NO_GRAD},
    {"topk", f_topk, 1, {NORMAL(2, 4, 6)}, CLOSE | DOUBLE},
    {"var axis 1", f_var, 1, {NORMAL(2, 3, 5)}, CLOSE | DOUBLE},
    {"std axes (0, 2)", f_std, 1, {NORMAL(3, 2, 3, 4)}, CLOSE},
    {"norm 2", f_norm2, 1, {NORMAL(2, 3, 4)}, CLOSE | DOUBLE},
    {"norm inf", f_norm_inf, 1, {NORMAL(2, 3, 4)}, CLOSE},
    {"norm 3 axis 1", f_norm3, 1, {NORMAL(3, 2, 3, 4)}, CLOSE},
    {"cosine_similarity", f_cosine_similarity, 2, {NORMAL(2, 3, 5), NORMAL(1, 5)}, CLOSE},
    {"dropout", f_dropout, 1, {NORMAL(2, 3, 4)}, EXACT},
    /* loss.h */
    {"mean_squared_error", f_mse, 2, {NORMAL(2, 4, 3), NORMAL(2, 4, 3)}, CLOSE},
    {"mean_squared_error broadcast", f_mse, 2, {NORMAL(2, 4, 3), NORMAL(1, 3)}, CLOSE},
    {"softmax_cross_entropy", f_softmax_ce, 2, {NORMAL(2, 6, 5), INDEX(5, 1, 6)}, CLOSE},
    {"softmax_cross_entropy_ignore", f_softmax_ce_ignore, 2, {NORMAL(2, 8, 4), INDEX(4, 1, 8)}, CLOSE},
    {"sigmoid_cross_entropy float t", f_sigmoid_ce, 2, {NORMAL(2, 4, 3), PROB(2, 4, 3)}, CLOSE},
    {"sigmoid_cross_entropy int t", f_sigmoid_ce, 2, {NORMAL(2, 4, 3), INDEX(2, 2, 4, 3)}, CLOSE},
    {"binary_cross_entropy", f_binary_ce, 2, {PROB(2, 4, 3), PROB(2, 4, 3)}, CLOSE},
    {"accuracy", f_accuracy, 2, {NORMAL(2, 6, 5), INDEX(5, 1, 6)}, CLOSE | NO_GRAD},
    /* shape.h */
    {"reshape", f_reshape, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"transpose", f_transpose, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"transpose axes (2, 0, 1)", f_transpose_axes, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"sum all axes", f_sum_all, 1, {NORMAL(3, 2, 3, 4)}, X_BWD},
    {"sum axis 1 keepdims", f_sum_axis, 1, {NORMAL(3, 2, 3, 4)}, X_BWD},
    {"sum axes (0, 2)", f_sum_axes, 1, {NORMAL(3, 2, 3, 4)}, X_BWD},
    {"mean all axes", f_mean_all, 1, {NORMAL(3, 2, 3, 4)}, X_BWD},
    {"mean axis 0", f_mean_axis, 1, {NORMAL(2, 5, 3)}, X_BWD},
    {"sum_to", f_sum_to, 1, {NORMAL(3, 2, 3, 4)}, X_BWD},
    {"broadcast_to", f_broadcast_to, 1, {NORMAL(2, 3, 1)}, X_FWD},
    {"expand_dims", f_expand_dims, 1, {NORMAL(2, 3, 4)}, EXACT},
    {"flatten", f_flatten, 1, {NORMAL(3, 2, 3, 4)}, EXACT},
    {"concat", f_concat, 3, {NORMAL(2, 2, 1), NORMAL(2, 2, 3), NORMAL(2, 2, 2)}, EXACT},
    {"stack", f_stack, 3, {NORMAL(2, 2, 3), NORMAL(2, 2, 3), NORMAL(2, 2, 3)}, EXACT},
    {"split", f_split, 1, {NORMAL(2, 3, 5)}, EXACT},
    /* getitem.h */
    {"get_item x[1]", f_item_int, 1, {NORMAL(2, 4, 5)}, EXACT},
    {"get_item x[:, 1:4]", f_item_slice, 1, {NORMAL(2, 4, 5)}, EXACT},
    {"get_item x[::-1, -2:]", f_item_reverse, 1, {NORMAL(2, 4, 5)}, EXACT},
    {"get_item x[3:0:-2, ::2]", f_item_steps, 1, {NORMAL(2, 4, 5)}, EXACT},
    {"get_item W[idx] repeats", f_item_take, 1, {W63}, EXACT | DOUBLE},
    {"get_item W[idx] with idx on x's device", f_item_take_on_device, 1, {W63}, EXACT | DOUBLE},
    {"get_item x[rows, cols]", f_item_pairs, 1, {NORMAL(2, 4, 5)}, EXACT},
    {"get_item x[idx32, 1:3]", f_item_take_slice, 1, {NORMAL(3, 3, 4, 5)}, EXACT},
    {"get_item x[a, :, b]", f_item_apart, 1, {NORMAL(3, 3, 4, 5)}, EXACT},
    {"get_item x[1, :, idx]", f_item_int_take, 1, {NORMAL(3, 3, 4, 5)}, EXACT},
    {"get_item x[mask]", f_item_mask, 1, {NORMAL(3, 3, 4, 5)}, EXACT | DOUBLE},
    {"get_item x[mask] with the mask on x's device", f_item_mask_on_device, 1, {NORMAL(3, 3, 4, 5)}, EXACT | DOUBLE},
    {"get_item x[None, ..., idx]", f_item_newaxis_ellipsis, 1, {NORMAL(3, 3, 4, 5)}, EXACT | DOUBLE},
    {"get_item_grad", f_item_grad, 1, {NORMAL(3, 2, 4, 3)}, EXACT | DOUBLE},
    /* linalg.h */
    {"matmul", f_matmul, 2, {NORMAL(2, 3, 4), NORMAL(2, 4, 5)}, CLOSE | DOUBLE},
    {"matmul batched broadcast", f_matmul, 2, {NORMAL(4, 2, 1, 3, 4), NORMAL(3, 3, 4, 5)}, CLOSE},
    {"linear", f_linear, 3, {NORMAL(2, 4, 3), NORMAL(2, 3, 5), NORMAL(1, 5)}, CLOSE | DOUBLE},
    {"linear without bias", f_linear_nobias, 2, {NORMAL(2, 4, 3), NORMAL(2, 3, 5)}, CLOSE},
    {"one_hot float32", f_one_hot_f32, 1, {INDEX(4, 2, 2, 3)}, EXACT | NO_GRAD},
    {"one_hot int32", f_one_hot_i32, 1, {INDEX(4, 2, 2, 3)}, EXACT | NO_GRAD},
    /* conv.h */
    {"im2col pad 1", f_im2col, 1, {NORMAL(4, 2, 3, 5, 6)}, EXACT | DOUBLE},
    {"im2col matrix stride (2,1) pad (1,2)", f_im2col_matrix, 1, {NORMAL(4, 2, 3, 5, 6)}, EXACT | DOUBLE},
    {"col2im pad 1", f_col2im, 1, {NORMAL(2, 54, 30)}, EXACT | DOUBLE},
    {"col2im matrix stride (2,1) pad (1,2)", f_col2im_matrix, 1, {NORMAL(2, 54, 18)}, EXACT | DOUBLE},
    {"conv2d pad 1", f_conv2d, 3, {NORMAL(4, 2, 3, 6, 6), NORMAL(4, 4, 3, 3, 3), NORMAL(1, 4)}, CLOSE | DOUBLE},
    {"conv2d stride (2,1) pad (1,2)", f_conv2d_strided, 2, {NORMAL(4, 2, 3, 5, 6), NORMAL(4, 4, 3, 3, 2)}, CLOSE},
    {"deconv2d stride 2 pad 1", f_deconv2d, 3, {NORMAL(4, 2, 3, 4, 4), NORMAL(4, 3, 2, 3, 3), NORMAL(1, 2)},
     CLOSE | DOUBLE},
    {"max_pooling 2x2", f_max_pooling, 1, {NORMAL(4, 2, 3, 6, 6)}, EXACT | DOUBLE},
    {"max_pooling 3x3 stride 2 pad 1", f_max_pooling_padded, 1, {NORMAL(4, 2, 3, 7, 7)}, EXACT | DOUBLE},
    {"average_pooling 3x3 stride 2 pad 1", f_average_pooling, 1, {NORMAL(4, 2, 3, 7, 7)}, CLOSE | DOUBLE},
    /* embedding.h */
    {"embedding", f_emb, 1, {W63}, EXACT | DOUBLE},
    {"embedding int32 idx", f_emb_int32, 1, {W63}, EXACT},
    {"embedding padding_idx -4", f_emb_padding, 1, {W63}, EXACT},
    {"embedding scale_grad_by_freq", f_emb_freq, 1, {W63}, EXACT},
    {"embedding max_norm p=2", f_emb_max_norm2, 1, {W63}, CLOSE},
    {"embedding max_norm p=1", f_emb_max_norm1, 1, {W63}, CLOSE},
    {"embedding max_norm p=inf", f_emb_max_norm_inf, 1, {W63}, CLOSE},
    {"embedding_bag sum", f_bag_sum, 1, {W63}, CLOSE},
    {"embedding_bag mean", f_bag_mean, 1, {W63}, CLOSE},
    {"embedding_bag max", f_bag_max, 1, {W63}, EXACT},
    {"embedding_bag sum per_sample_weights", f_bag_psw, 2, {W63, NORMAL(1, 10)}, CLOSE},
    {"embedding_bag sum psw padding_idx", f_bag_psw_padded, 2, {W63, NORMAL(1, 10)}, CLOSE},
    {"embedding_bag mean padding_idx", f_bag_mean_padded, 1, {W63}, CLOSE},
    {"embedding_bag max padding_idx", f_bag_max_padded, 1, {W63}, EXACT},
    {"embedding_bag include_last_offset", f_bag_last_offset, 1, {W63}, CLOSE},
    {"embedding_bag mean scale_grad_by_freq", f_bag_mean_freq, 1, {W63}, CLOSE},
    {"embedding_bag max_norm", f_bag_max_norm, 1, {W63}, CLOSE},
    {"embedding_bag fixed bags (5, 2)", f_bag_fixed, 1, {W63}, CLOSE},
    {"embedding sparse", f_emb_sparse, 1, {W63}, EXACT},
    {"embedding sparse, two lookups", f_emb_sparse_twice, 1, {W63}, EXACT},
    {"embedding sparse, tied to a dense use", f_emb_sparse_tied, 1, {W63}, CLOSE},
    /* normalization.h */
    {"gelu", f_gelu, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM | DOUBLE},
    {"gelu tanh", f_gelu_tanh, 1, {NORMAL(2, 3, 4)}, EXACT | LIBM64 | DOUBLE},
    {"batch_norm train", f_batch_norm, 3, {NORMAL(4, 3, 2, 2, 2), NORMAL(1, 2), NORMAL(1, 2)}, CLOSE | DOUBLE},
    {"batch_norm test mode", f_batch_norm_test, 3, {NORMAL(4, 3, 2, 2, 2), NORMAL(1, 2), NORMAL(1, 2)}, CLOSE},
    {"layer_norm", f_layer_norm, 3, {NORMAL(3, 2, 3, 4), NORMAL(2, 3, 4), NORMAL(2, 3, 4)}, CLOSE | DOUBLE},
    /* integer dtypes: wrapping arithmetic and copies, no grads */
    {"add int32 wraps", f_add, 2, {BIG_I32, BIG_I32}, EXACT | NO_GRAD},
    {"mul int64 wraps", f_mul, 2, {BIG_I64, BIG_I64}, EXACT | NO_GRAD},
    {"sub int64 broadcast", f_sub, 2, {BIG_I64, INDEX(1000, 1, 4)}, EXACT | NO_GRAD},
    {"neg int32", f_neg, 1, {BIG_I32}, EXACT | NO_GRAD},
    {"pow int32 wraps", f_pow_int, 1, {BIG_I32}, EXACT | NO_GRAD},
    /* mixed dtypes promote (NumPy): the int64 constant is cast on the device */
    {"add float32 + int64 is float64", f_add, 2, {NORMAL(2, 3, 4), INDEX(1000, 1, 4)}, EXACT | DOUBLE},
    {"mul float32 * int32 is float64", f_mul, 2, {NORMAL(2, 3, 4), INDEX32(1000, 2, 3, 1)}, EXACT},
    {"transpose int32", f_transpose, 1, {INDEX32(1000, 3, 2, 3, 4)}, EXACT | NO_GRAD},
    {"concat int64", f_concat, 3, {INDEX(9, 2, 2, 1), INDEX(9, 2, 2, 3), INDEX(9, 2, 2, 2)}, EXACT | NO_GRAD},
    {"get_item int64 W[idx]", f_item_take, 1, {INDEX(1000, 2, 6, 3)}, EXACT | NO_GRAD},
    {"get_item_grad int64", f_item_grad, 1, {INDEX(1000, 3, 2, 4, 3)}, EXACT | NO_GRAD},
    {"embedding int64 W", f_emb, 1, {INDEX(1000, 2, 6, 3)}, EXACT | NO_GRAD},
    /* empty arrays and NaN results */
    {"mean of an empty (0, 3) over axis 0", f_mean_axis, 1, {NORMAL(2, 0, 3)}, X_BWD},
    {"concat with an empty piece", f_concat, 3, {NORMAL(2, 2, 0), NORMAL(2, 2, 3), NORMAL(2, 2, 2)}, EXACT},
    {"split with an empty piece", f_split_empty, 1, {NORMAL(2, 3, 5)}, EXACT},
    {"embedding of an empty idx", f_emb_empty, 1, {W63}, EXACT},
    {"softmax_cross_entropy_ignore, all ignored", f_softmax_ce_all_ignored, 1, {NORMAL(2, 4, 3)}, CLOSE},
    {"accuracy of no rows", f_accuracy, 2, {NORMAL(2, 0, 5), INDEX(5, 1, 0)}, CLOSE | NO_GRAD},
    /* above the CPU's thread grain (32,768 elements) */
    {"large add broadcast", f_add, 2, {NORMAL(2, 300, 200), NORMAL(1, 200)}, X_FWD},
    {"large sum axis 1", f_sum_axis, 1, {NORMAL(3, 30, 200, 10)}, X_BWD},
    {"large softmax", f_softmax1, 1, {NORMAL(2, 300, 200)}, CLOSE},
    {"large tanh", f_tanh, 1, {NORMAL(2, 300, 200)}, EXACT | LIBM64},
    {"large matmul", f_matmul, 2, {NORMAL(2, 64, 300), NORMAL(2, 300, 100)}, CLOSE},
    {"large softmax_cross_entropy", f_softmax_ce, 2, {NORMAL(2, 400, 100), INDEX(100, 1, 400)}, CLOSE},
};

#define N_OPS (int)(sizeof op_cases / sizeof op_cases[0])

/* c's flags, less the bit-exact ones where the two devices' math libraries
 * compute the case. */
static int exactness(const op_case *c, dz_dtype dtype)
{
    bool own_math = (c->flags & LIBM) || ((c->flags & LIBM64) && dtype == DZ_F64);
    return own_math && !dz_cuda_is_emulated() ? c->flags & ~EXACT : c->flags;
}

static bool is_float_input(input_spec s) { return s.kind != IN_INDEX && s.kind != IN_INDEX32; }

static void clear_grads(const op_case *c, dz_variable *const *x)
{
    for (int i = 0; i < c->n; i++)
        dz_variable_cleargrad(x[i]);
}

/* grad of sum(w * dL/dx0) for the upstream grad of the first backward: the
 * first backward is recorded (create_graph), the second is not. */
static void record_double_backward(const op_case *c, int flags, dz_variable *const *x, uint64_t seed,
                                   results *r)
{
    dz_variable *y = c->fn(x);
    ck_assert_msg(y != NULL, "%s: %s", c->name, dz_last_error());
    backward_with(y, seed, true, c->name);
    ck_assert_msg(x[0]->grad != NULL, "%s: input 0 got no grad", c->name);
    dz_variable *g = dz_autorelease(dz_scope_keep(x[0]->grad));
    clear_grads(c, x);
    dz_variable *z = dz_sum(dz_mul(g, seed_grad_like(g, seed + 1)), 0, NULL, false);
    ck_assert_msg(z != NULL, "%s: %s", c->name, dz_last_error());
    ck_assert_msg(dz_variable_backward(z, false, false) == DZ_OK, "%s: second backward: %s", c->name,
                  dz_last_error());
    for (int i = 0; i < c->n; i++)
        if (is_float_input(c->in[i]))
            record(r, flags & X_BWD, x[i]->grad ? x[i]->grad->data : NULL, "second-order grad of x%d", i);
    clear_grads(c, x);
}

static void op_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    const op_case *c = arg;
    const int flags = exactness(c, dtype);
    uint64_t seed = seed_of(c->name, dtype);
    dz_variable *x[4];
    for (int i = 0; i < c->n; i++)
        x[i] = input(c->in[i], dtype, device, seed + (uint64_t)i);
    dz_variable *y = c->fn(x);
    ck_assert_msg(y != NULL, "%s: %s", c->name, dz_last_error());
    ck_assert_int_eq(y->data->device, device);
    record(r, flags & X_FWD, y->data, "output");
    if (!(flags & NO_GRAD)) {
        backward_with(y, seed + 100, false, c->name);
        for (int i = 0; i < c->n; i++)
            if (is_float_input(c->in[i])) {
                char name[16];
                snprintf(name, sizeof name, "x%d", i);
                record_grad(r, flags & X_BWD, x[i], name);
            }
    }
    for (int i = 0; i < c->n; i++) /* max_norm renormalises W in place */
        if (is_float_input(c->in[i]))
            record(r, flags & X_FWD, x[i]->data, "x%d after the call", i);
    clear_grads(c, x);
    if (flags & DOUBLE)
        record_double_backward(c, flags, x, seed + 200, r);
}

START_TEST(test_ops_f32)
{
    check_parity(op_cases[_i].name, op_program, &op_cases[_i], DZ_F32);
}
END_TEST

START_TEST(test_ops_f64)
{
    check_parity(op_cases[_i].name, op_program, &op_cases[_i], DZ_F64);
}
END_TEST

/* ---- layers ------------------------------------------------------------------------- */

typedef struct layer_case {
    const char *name;
    dz_layer *(*make)(dz_dtype dtype, dz_rng *rng);
    /* Builds the inputs on `device` from `seed` and runs the layer. */
    dz_variable *(*forward)(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed);
    bool warm_up_on_cpu; /* one forward on the CPU (creating lazy weights) before the move */
    int flags;           /* X_FWD, X_BWD */
} layer_case;

/* Every parameter's grad (dense, or the sparse grad's entries) and data. */
static void record_params(results *r, const dz_layer *layer, int flags)
{
    dz_param_list *list = dz_layer_params(layer);
    for (int i = 0; i < list->count; i++) {
        const dz_variable *p = list->params[i];
        const char *path = list->paths[i];
        record_grad(r, flags & X_BWD, p, path);
        record(r, flags & X_FWD, p->data, "%s", path);
    }
    dz_param_list_free(list);
}

static dz_variable *call1(dz_layer *layer, dz_variable *x)
{
    dz_variable *y = dz_layer_call(layer, x);
    ck_assert_msg(y != NULL, "dz_layer_call: %s", dz_last_error());
    return y;
}

static dz_variable *batch(input_spec s, dz_dtype dtype, dz_device device, uint64_t seed)
{
    dz_array *a = moved(random_array(s, dtype, seed), device);
    return dz_variable_constant(a, NULL);
}

static dz_layer *make_linear(dz_dtype dtype, dz_rng *rng) { return dz_linear_layer_new(5, 3, false, dtype, rng); }
static dz_layer *make_linear_nobias(dz_dtype dtype, dz_rng *rng)
{
    return dz_linear_layer_new(5, 3, true, dtype, rng);
}
static dz_layer *make_linear_lazy(dz_dtype dtype, dz_rng *rng) { return dz_linear_layer_new(5, 0, false, dtype, rng); }

static dz_layer *make_mlp_relu(dz_dtype dtype, dz_rng *rng)
{
    return dz_mlp_new(3, (const int64_t[]){8, 6, 4}, dz_relu, dtype, rng);
}

static dz_layer *make_mlp_sigmoid(dz_dtype dtype, dz_rng *rng)
{
    return dz_mlp_new(2, (const int64_t[]){7, 2}, NULL, dtype, rng);
}

static dz_layer *make_rnn(dz_dtype dtype, dz_rng *rng) { return dz_rnn_layer_new(4, 3, dtype, rng); }
static dz_layer *make_lstm(dz_dtype dtype, dz_rng *rng) { return dz_lstm_layer_new(4, 3, dtype, rng); }

static dz_layer *make_batch_norm(dz_dtype dtype, dz_rng *rng)
{
    (void)dtype;
    (void)rng;
    return dz_batch_norm_layer_new();
}

static dz_layer *make_layer_norm(dz_dtype dtype, dz_rng *rng)
{
    (void)rng;
    return dz_layer_norm_layer_new(1, DZ_SHAPE(3), 1e-5, true, dtype);
}

static dz_variable *forward_rows3(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed)
{
    return call1(layer, batch((input_spec)NORMAL(2, 4, 3), dtype, device, seed));
}

/* Two time steps: the second sees the hidden state of the first. */
static dz_variable *forward_sequence(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed)
{
    dz_layer_reset_state(layer);
    dz_variable *h1 = call1(layer, batch((input_spec)NORMAL(2, 2, 3), dtype, device, seed));
    dz_variable *h2 = call1(layer, batch((input_spec)NORMAL(2, 2, 3), dtype, device, seed + 1));
    return dz_add(h1, h2);
}

/* Embedding layers: V = 8, D = 3; idx (3, 4) with repeats and row 0. */
static const int64_t layer_idx[] = {1, 0, 7, 1, 3, 1, 0, 5, 7, 7, 2, 1};

static dz_layer *embedding_layer(dz_dtype dtype, dz_rng *rng, dz_embedding_options o)
{
    return dz_embedding_layer_new(8, 3, &o, dtype, rng);
}

static dz_layer *make_emb(dz_dtype dtype, dz_rng *rng)
{
    return embedding_layer(dtype, rng, dz_embedding_default_options());
}

static dz_layer *make_emb_padding(dz_dtype dtype, dz_rng *rng)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_padding_idx = true;
    o.padding_idx = 0;
    return embedding_layer(dtype, rng, o);
}

static dz_layer *make_emb_max_norm(dz_dtype dtype, dz_rng *rng)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 1.2;
    return embedding_layer(dtype, rng, o);
}

static dz_layer *make_emb_freq(dz_dtype dtype, dz_rng *rng)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.scale_grad_by_freq = true;
    return embedding_layer(dtype, rng, o);
}

static dz_layer *make_emb_sparse(dz_dtype dtype, dz_rng *rng)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    o.has_padding_idx = true;
    o.padding_idx = 7;
    return embedding_layer(dtype, rng, o);
}

static dz_layer *make_emb_pretrained(dz_dtype dtype, dz_rng *rng)
{
    dz_array *w = dz_array_normal(rng, dtype, 2, DZ_SHAPE(8, 3), 0, 1);
    dz_layer *layer = dz_embedding_layer_from_pretrained(w, false, NULL);
    dz_array_release(w);
    return layer;
}

static dz_variable *forward_indices(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed)
{
    (void)dtype;
    (void)seed;
    dz_array *idx = moved(dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(3, 4), layer_idx), device);
    return call1(layer, dz_variable_constant(idx, NULL));
}

static dz_layer *bag_layer(dz_dtype dtype, dz_rng *rng, dz_embedding_bag_mode mode, bool padded, bool sparse)
{
    dz_embedding_bag_options o = dz_embedding_bag_default_options();
    o.mode = mode;
    o.has_padding_idx = padded;
    o.padding_idx = 1;
    o.sparse = sparse;
    return dz_embedding_bag_layer_new(8, 3, &o, dtype, rng);
}

static dz_layer *make_bag_sum(dz_dtype dtype, dz_rng *rng)
{
    return bag_layer(dtype, rng, DZ_EMBEDDING_BAG_SUM, false, false);
}
static dz_layer *make_bag_mean_padded(dz_dtype dtype, dz_rng *rng)
{
    return bag_layer(dtype, rng, DZ_EMBEDDING_BAG_MEAN, true, false);
}
static dz_layer *make_bag_max(dz_dtype dtype, dz_rng *rng)
{
    return bag_layer(dtype, rng, DZ_EMBEDDING_BAG_MAX, false, false);
}
static dz_layer *make_bag_sparse(dz_dtype dtype, dz_rng *rng)
{
    return bag_layer(dtype, rng, DZ_EMBEDDING_BAG_SUM, false, true);
}

/* idx (12,) in bags at offsets 0, 5, 5, 9 (bag 1 empty). */
static dz_variable *forward_bags(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed,
                                 bool weights)
{
    dz_variable *in[3] = {
        dz_variable_constant(moved(dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(12), layer_idx), device), NULL),
        dz_variable_constant(moved(dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(4), (const int64_t[]){0, 5, 5, 9}),
                                   device), NULL),
        weights ? batch((input_spec)NORMAL(1, 12), dtype, device, seed) : NULL};
    dz_variable *y = dz_layer_forward(layer, weights ? 3 : 2, in);
    ck_assert_msg(y != NULL, "dz_layer_forward: %s", dz_last_error());
    return y;
}

static dz_variable *forward_bags_plain(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed)
{
    return forward_bags(layer, dtype, device, seed, false);
}

static dz_variable *forward_bags_weighted(dz_layer *layer, dz_dtype dtype, dz_device device, uint64_t seed)
{
    return forward_bags(layer, dtype, device, seed, true);
}

static const layer_case layer_cases[] = {
    {"Linear", make_linear, forward_rows3, false, CLOSE},
    {"Linear nobias", make_linear_nobias, forward_rows3, false, CLOSE},
    {"Linear lazy, moved before its first call", make_linear_lazy, forward_rows3, false, CLOSE},
    {"Linear lazy, moved after its first call", make_linear_lazy, forward_rows3, true, CLOSE},
    {"MLP relu, moved before its first call", make_mlp_relu, forward_rows3, false, CLOSE},
    {"MLP sigmoid, moved after its first call", make_mlp_sigmoid, forward_rows3, true, CLOSE},
    {"BatchNorm lazy, moved before its first call", make_batch_norm, forward_rows3, false, CLOSE},
    {"BatchNorm lazy, moved after its first call", make_batch_norm, forward_rows3, true, CLOSE},
    {"LayerNorm", make_layer_norm, forward_rows3, false, CLOSE},
    {"RNN two steps", make_rnn, forward_sequence, false, CLOSE},
    {"LSTM two steps", make_lstm, forward_sequence, false, CLOSE},
    {"Embedding", make_emb, forward_indices, false, EXACT},
    {"Embedding padding_idx", make_emb_padding, forward_indices, false, EXACT},
    {"Embedding max_norm", make_emb_max_norm, forward_indices, false, CLOSE},
    {"Embedding scale_grad_by_freq", make_emb_freq, forward_indices, false, EXACT},
    {"Embedding sparse padding_idx", make_emb_sparse, forward_indices, false, EXACT},
    {"Embedding from_pretrained", make_emb_pretrained, forward_indices, false, EXACT},
    {"EmbeddingBag sum per_sample_weights", make_bag_sum, forward_bags_weighted, false, CLOSE},
    {"EmbeddingBag mean padding_idx", make_bag_mean_padded, forward_bags_plain, false, CLOSE},
    {"EmbeddingBag max", make_bag_max, forward_bags_plain, false, EXACT},
    {"EmbeddingBag sum sparse", make_bag_sparse, forward_bags_weighted, false, CLOSE},
};

#define N_LAYERS (int)(sizeof layer_cases / sizeof layer_cases[0])

static void layer_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    const layer_case *c = arg;
    uint64_t seed = seed_of(c->name, dtype);
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_layer *layer = c->make(dtype, &rng);
    ck_assert_msg(layer != NULL, "%s: %s", c->name, dz_last_error());
    if (c->warm_up_on_cpu)
        c->forward(layer, dtype, DZ_CPU, seed + 1);
    ck_assert_msg(dz_layer_to_device(layer, device) == DZ_OK, "%s: %s", c->name, dz_last_error());
    dz_variable *y = c->forward(layer, dtype, device, seed + 2);
    ck_assert_int_eq(y->data->device, device);
    record(r, c->flags & X_FWD, y->data, "output");
    backward_with(y, seed + 3, false, c->name);
    record_params(r, layer, c->flags);
    dz_layer_free(layer);
}

START_TEST(test_layers_f32)
{
    check_parity(layer_cases[_i].name, layer_program, &layer_cases[_i], DZ_F32);
}
END_TEST

START_TEST(test_layers_f64)
{
    check_parity(layer_cases[_i].name, layer_program, &layer_cases[_i], DZ_F64);
}
END_TEST

/* ---- optimizers ----------------------------------------------------------------------- */

static const char *const state_names[] = {"momentum_buffer", "velocity", "sum",        "square_avg",
                                          "acc_delta",       "exp_avg",  "exp_avg_sq", "max_exp_avg_sq"};

typedef struct optim_case {
    const char *name;
    dz_optimizer *(*make)(dz_variable *const *params);
    bool sparse;      /* the sparse grads of a sparse Embedding; else dense grads set by hand */
    bool move_midway; /* the first step on the CPU, then params and state moved */
    int flags;        /* X_FWD: parameters bit-exact */
} optim_case;

static dz_optimizer *sgd_with(double momentum, double dampening, double weight_decay, bool nesterov)
{
    dz_sgd_config c = dz_sgd_defaults();
    c.lr = 0.1;
    c.momentum = momentum;
    c.dampening = dampening;
    c.weight_decay = weight_decay;
    c.nesterov = nesterov;
    return dz_sgd_new(&c);
}

static dz_optimizer *make_sgd(dz_variable *const *p)
{
    (void)p;
    return sgd_with(0, 0, 0, false);
}
static dz_optimizer *make_sgd_momentum(dz_variable *const *p)
{
    (void)p;
    return sgd_with(0.9, 0.1, 0.01, false);
}
static dz_optimizer *make_sgd_nesterov(dz_variable *const *p)
{
    (void)p;
    return sgd_with(0.9, 0, 0.01, true);
}
/* Sparse momentum keeps the touched rows (row lists on the device). */
static dz_optimizer *make_sgd_sparse_momentum(dz_variable *const *p)
{
    (void)p;
    return sgd_with(0.9, 0.1, 0, false);
}
static dz_optimizer *make_sgd_sparse_nesterov(dz_variable *const *p)
{
    (void)p;
    return sgd_with(0.9, 0, 0, true);
}
static dz_optimizer *make_momentum_sgd(dz_variable *const *p)
{
    (void)p;
    return dz_momentum_sgd_new(0.05, 0.9);
}
static dz_optimizer *make_adagrad(dz_variable *const *p)
{
    (void)p;
    dz_adagrad_config c = dz_adagrad_defaults();
    c.lr = 0.1;
    c.lr_decay = 0.01;
    c.weight_decay = 0.01;
    c.initial_accumulator_value = 0.1;
    return dz_adagrad_new(&c);
}
static dz_optimizer *make_adagrad_plain(dz_variable *const *p)
{
    (void)p;
    return dz_adagrad_new(NULL);
}
static dz_optimizer *make_adadelta(dz_variable *const *p)
{
    (void)p;
    dz_adadelta_config c = dz_adadelta_defaults();
    c.weight_decay = 0.01;
    return dz_adadelta_new(&c);
}
static dz_optimizer *adam_with(bool adamw, bool amsgrad, double weight_decay)
{
    dz_adam_config c = adamw ? dz_adamw_defaults() : dz_adam_defaults();
    c.lr = 0.01;
    c.amsgrad = amsgrad;
    c.weight_decay = weight_decay;
    return adamw ? dz_adamw_new(&c) : dz_adam_new(&c);
}
static dz_optimizer *make_adam(dz_variable *const *p)
{
    (void)p;
    return adam_with(false, false, 0);
}
static dz_optimizer *make_adam_amsgrad(dz_variable *const *p)
{
    (void)p;
    return adam_with(false, true, 0.01);
}
static dz_optimizer *make_adamw(dz_variable *const *p)
{
    (void)p;
    return adam_with(true, false, 0.01);
}
static dz_optimizer *make_adamw_amsgrad(dz_variable *const *p)
{
    (void)p;
    return adam_with(true, true, 0.01);
}
static dz_optimizer *make_sparse_adam(dz_variable *const *p)
{
    (void)p;
    dz_sparse_adam_config c = dz_sparse_adam_defaults();
    c.lr = 0.01;
    return dz_sparse_adam_new(&c);
}
static dz_optimizer *make_sgd_weight_decay_hook(dz_variable *const *p)
{
    (void)p;
    dz_optimizer *o = sgd_with(0.5, 0, 0, false);
    dz_optimizer_add_hook(o, dz_weight_decay_hook(0.05));
    return o;
}
static dz_optimizer *make_adam_clip_hook(dz_variable *const *p)
{
    (void)p;
    dz_optimizer *o = adam_with(false, false, 0);
    dz_optimizer_add_hook(o, dz_clip_grad_hook(0.5)); /* the grads' norm is about 4: they are scaled */
    return o;
}
static dz_optimizer *make_adam_freeze_hook(dz_variable *const *p)
{
    dz_optimizer *o = adam_with(false, false, 0);
    dz_optimizer_add_hook(o, dz_freeze_params_hook(1, &p[1]));
    return o;
}

static const optim_case optim_cases[] = {
    {"SGD", make_sgd, false, false, EXACT},
    {"SGD momentum dampening weight_decay", make_sgd_momentum, false, false, EXACT},
    {"SGD nesterov weight_decay", make_sgd_nesterov, false, false, EXACT},
    {"MomentumSGD", make_momentum_sgd, false, false, EXACT},
    {"Adagrad lr_decay weight_decay", make_adagrad, false, false, EXACT},
    {"Adadelta weight_decay", make_adadelta, false, false, EXACT},
    {"Adam", make_adam, false, false, EXACT},
    {"Adam amsgrad weight_decay", make_adam_amsgrad, false, false, EXACT},
    {"AdamW", make_adamw, false, false, EXACT},
    {"AdamW amsgrad", make_adamw_amsgrad, false, false, EXACT},
    {"SGD momentum + WeightDecay hook", make_sgd_weight_decay_hook, false, false, EXACT},
    {"Adam + ClipGrad hook", make_adam_clip_hook, false, false, CLOSE},
    {"Adam + freeze hook", make_adam_freeze_hook, false, false, EXACT},
    {"Adam, moved to the device after one step", make_adam_amsgrad, false, true, EXACT},
    {"SGD momentum, moved to the device after one step", make_sgd_momentum, false, true, EXACT},
    {"SGD sparse grads", make_sgd, true, false, EXACT},
    {"SGD momentum sparse grads", make_sgd_sparse_momentum, true, false, EXACT},
    {"SGD nesterov sparse grads", make_sgd_sparse_nesterov, true, false, EXACT},
    {"Adagrad sparse grads", make_adagrad_plain, true, false, EXACT},
    {"SparseAdam", make_sparse_adam, true, false, EXACT},
};

#define N_OPTIMS (int)(sizeof optim_cases / sizeof optim_cases[0])

/* Dense grads for step `step`, on the params' device. */
static void set_dense_grads(dz_variable *const *p, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++)
        dz_variable_set_grad(p[i], seed_grad_like(p[i], seed + (uint64_t)i));
}

/* A sparse grad for W (8, 3) from an Embedding over idx with repeats. */
static void set_sparse_grad(dz_layer *emb, uint64_t seed)
{
    dz_variable *W = dz_layer_param(emb, "W");
    dz_variable *idx = positions_var(W, 2, DZ_SHAPE(3, 4), layer_idx);
    dz_variable *y = call1(emb, idx);
    dz_variable_cleargrad(W);
    backward_with(y, seed, false, "sparse embedding");
    ck_assert_msg(W->sparse_grad != NULL, "the sparse Embedding left no sparse grad");
}

static dz_status step(dz_optimizer *opt, const char *name)
{
    dz_status st = dz_optimizer_update(opt);
    ck_assert_msg(st == DZ_OK, "%s: dz_optimizer_update: %s", name, dz_last_error());
    return st;
}

static void record_state(results *r, const dz_optimizer *opt, int flags)
{
    for (int i = 0; i < dz_optimizer_param_count(opt); i++) {
        int64_t steps = dz_optimizer_step_count(opt, i);
        dz_array *s = dz_array_scalar(DZ_I64, (double)steps);
        record(r, true, s, "step count of %s", dz_optimizer_param_path(opt, i));
        dz_array_release(s);
        for (size_t k = 0; k < sizeof state_names / sizeof state_names[0]; k++)
            record(r, flags & X_FWD, dz_optimizer_state(opt, i, state_names[k]), "state %s of %s",
                   state_names[k], dz_optimizer_param_path(opt, i));
    }
}

static void dense_optim_program(const optim_case *c, dz_dtype dtype, dz_device device, results *r)
{
    uint64_t seed = seed_of(c->name, dtype);
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_variable *p[2] = {dz_parameter_new(dz_array_normal(&rng, dtype, 2, DZ_SHAPE(5, 3), 0, 1), "W"),
                         dz_parameter_new(dz_array_normal(&rng, dtype, 1, DZ_SHAPE(3), 0, 1), "b")};
    dz_device first = c->move_midway ? DZ_CPU : device;
    for (int i = 0; i < 2; i++)
        ck_assert_msg(dz_variable_to_device(p[i], first) == DZ_OK, "%s", dz_last_error());
    dz_optimizer *opt = c->make(p);
    ck_assert_msg(opt != NULL, "%s: %s", c->name, dz_last_error());
    ck_assert_int_eq(dz_optimizer_add_params(opt, 2, p), DZ_OK);
    for (int s = 0; s < 3; s++) {
        if (s == 1 && c->move_midway) {
            for (int i = 0; i < 2; i++)
                ck_assert_msg(dz_variable_to_device(p[i], device) == DZ_OK, "%s", dz_last_error());
            ck_assert_msg(dz_optimizer_to_device(opt, device) == DZ_OK, "%s: dz_optimizer_to_device: %s", c->name,
                          dz_last_error());
        }
        set_dense_grads(p, 2, seed + 10 * (uint64_t)(s + 1));
        step(opt, c->name);
        for (int i = 0; i < 2; i++)
            record(r, c->flags & X_FWD, p[i]->data, "%s after step %d", p[i]->name, s + 1);
    }
    ck_assert_int_eq(p[0]->data->device, device);
    record_state(r, opt, c->flags);
    dz_optimizer_free(opt);
}

static void sparse_optim_program(const optim_case *c, dz_dtype dtype, dz_device device, results *r)
{
    uint64_t seed = seed_of(c->name, dtype);
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_layer *emb = make_emb_sparse(dtype, &rng);
    ck_assert_int_eq(dz_layer_to_device(emb, device), DZ_OK);
    dz_variable *W = dz_layer_param(emb, "W");
    dz_optimizer *opt = c->make(&W);
    ck_assert_msg(opt != NULL, "%s: %s", c->name, dz_last_error());
    ck_assert_int_eq(dz_optimizer_setup(opt, emb), DZ_OK);
    for (int s = 0; s < 3; s++) {
        set_sparse_grad(emb, seed + 10 * (uint64_t)(s + 1));
        step(opt, c->name);
        record(r, c->flags & X_FWD, W->data, "W after step %d", s + 1);
    }
    record_state(r, opt, c->flags);
    dz_optimizer_free(opt);
    dz_layer_free(emb);
}

static void optim_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    const optim_case *c = arg;
    if (c->sparse)
        sparse_optim_program(c, dtype, device, r);
    else
        dense_optim_program(c, dtype, device, r);
}

START_TEST(test_optimizers_f32)
{
    check_parity(optim_cases[_i].name, optim_program, &optim_cases[_i], DZ_F32);
}
END_TEST

START_TEST(test_optimizers_f64)
{
    check_parity(optim_cases[_i].name, optim_program, &optim_cases[_i], DZ_F64);
}
END_TEST

/* Every parameter of `model` holds data on `device`. */
static void assert_on(const dz_layer *model, dz_device device)
{
    dz_param_list *list = dz_layer_params(model);
    for (int i = 0; i < list->count; i++)
        ck_assert_msg(list->params[i]->data && list->params[i]->data->device == device, "%s is not on the %s",
                      list->paths[i], device == DZ_CPU ? "CPU" : "device");
    dz_param_list_free(list);
}

/* The sparse grad a sparse Embedding leaves, densified and coalesced. */
static void sparse_grad_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    (void)arg;
    dz_rng rng;
    dz_rng_seed(&rng, 11);
    dz_layer *emb = make_emb_sparse(dtype, &rng);
    ck_assert_int_eq(dz_layer_to_device(emb, device), DZ_OK);
    set_sparse_grad(emb, 12);
    dz_sparse_grad *g = dz_layer_param(emb, "W")->sparse_grad;
    dz_array *dense = dz_sparse_grad_to_dense(g, 3);
    ck_assert_msg(dense != NULL, "dz_sparse_grad_to_dense: %s", dz_last_error());
    record(r, true, dense, "to_dense");
    dz_array_release(dense);
    ck_assert_msg(dz_sparse_grad_coalesce(g) == DZ_OK, "dz_sparse_grad_coalesce: %s", dz_last_error());
    record(r, true, g->indices, "coalesced indices");
    record(r, true, g->values, "coalesced values");
    dz_layer_free(emb);
}

START_TEST(test_sparse_grad_on_device)
{
    check_parity("sparse grad to_dense, coalesce", sparse_grad_program, NULL, DZ_F32);
    check_parity("sparse grad to_dense, coalesce", sparse_grad_program, NULL, DZ_F64);
}
END_TEST

/* ---- training ------------------------------------------------------------------------- */

/* Spiral-like: x (30, 2), 3 classes, MLP 10-3 sigmoid, SGD lr 1, full batch. */
static void spiral_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    (void)arg;
    uint64_t seed = seed_of("spiral", dtype);
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){10, 3}, NULL, dtype, &rng);
    ck_assert_int_eq(dz_layer_to_device(model, device), DZ_OK); /* lazy: W is made on the device */
    dz_optimizer *opt = sgd_with(0, 0, 0, false);
    dz_optimizer_set_lr(opt, 1.0);
    dz_variable *x = batch((input_spec)NORMAL(2, 30, 2), dtype, device, seed + 1);
    dz_variable *t = batch((input_spec)INDEX(3, 1, 30), dtype, device, seed + 2);
    for (int s = 0; s < 5; s++) {
        dz_scope_begin();
        dz_variable *loss = dz_softmax_cross_entropy(call1(model, x), t);
        ck_assert_msg(loss != NULL, "%s", dz_last_error());
        if (s == 0) /* the lazy weights exist now */
            ck_assert_int_eq(dz_optimizer_setup(opt, model), DZ_OK);
        dz_layer_cleargrads(model);
        ck_assert_msg(dz_variable_backward(loss, false, false) == DZ_OK, "%s", dz_last_error());
        step(opt, "spiral SGD");
        record(r, false, loss->data, "loss at step %d", s + 1);
        dz_scope_end();
    }
    record_params(r, model, CLOSE);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}

/* Fashion-MNIST-like: x (64, 20) in [0, 1), 10 classes, MLP 32-10 relu, Adam,
 * shuffled batches of 16 from a CPU data loader moved to the device. */
static void mlp_adam_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    (void)arg;
    uint64_t seed = seed_of("mlp adam", dtype);
    dz_rng rng, shuffle;
    dz_rng_seed(&rng, seed);
    dz_rng_seed(&shuffle, seed + 1);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){32, 10}, dz_relu, dtype, &rng);
    dz_array *images = dz_array_uniform(&rng, dtype, 2, DZ_SHAPE(64, 20), 0, 1);
    dz_array *labels = dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(64), 0, 10);
    call1(model, dz_variable_constant(dz_array_zeros(dtype, 2, DZ_SHAPE(1, 20)), NULL)); /* lazy weights, on the CPU */
    ck_assert_int_eq(dz_layer_to_device(model, device), DZ_OK);
    dz_optimizer *opt = dz_adam_new(NULL);
    ck_assert_int_eq(dz_optimizer_setup(opt, model), DZ_OK);
    dz_dataloader *loader = dz_dataloader_new(images, labels, 16, true, &shuffle);
    dz_array *xb, *tb;
    int s = 0;
    while (dz_dataloader_next(loader, &xb, &tb)) {
        dz_scope_begin();
        dz_variable *x = dz_variable_constant(moved(xb, device), NULL);
        dz_variable *t = dz_variable_constant(moved(tb, device), NULL);
        dz_variable *loss = dz_softmax_cross_entropy(call1(model, x), t);
        ck_assert_msg(loss != NULL, "%s", dz_last_error());
        dz_layer_cleargrads(model);
        ck_assert_msg(dz_variable_backward(loss, false, false) == DZ_OK, "%s", dz_last_error());
        step(opt, "MLP Adam");
        record(r, false, loss->data, "loss at step %d", ++s);
        DZ_TEST_MODE
        {
            record(r, false, dz_accuracy(call1(model, x), t)->data, "accuracy at step %d", s);
        }
        dz_scope_end();
    }
    ck_assert_int_eq(s, 4);
    ck_assert_int_eq(dz_layer_to_cpu(model), DZ_OK);
    assert_on(model, DZ_CPU);
    record_params(r, model, CLOSE);
    dz_dataloader_free(loader);
    dz_array_release(images);
    dz_array_release(labels);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}

START_TEST(test_training_spiral)
{
    check_parity("training: spiral MLP, SGD", spiral_program, NULL, DZ_F32);
    check_parity("training: spiral MLP, SGD", spiral_program, NULL, DZ_F64);
}
END_TEST

START_TEST(test_training_mlp_adam)
{
    check_parity("training: MLP, Adam, data loader", mlp_adam_program, NULL, DZ_F32);
    check_parity("training: MLP, Adam, data loader", mlp_adam_program, NULL, DZ_F64);
}
END_TEST

/* ---- determinism ---------------------------------------------------------------------- */

/* An Embedding (10, 4) dense backward over 3000 indices (each row about 300
 * times), then one training step of an MLP. */
static void repeated_rows_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    (void)arg;
    dz_rng rng;
    dz_rng_seed(&rng, 99);
    dz_layer *emb = dz_embedding_layer_new(10, 4, NULL, dtype, &rng);
    dz_layer *mlp = dz_mlp_new(2, (const int64_t[]){16, 5}, dz_tanh, dtype, &rng);
    dz_array *idx = moved(dz_array_randint(&rng, DZ_I64, 2, DZ_SHAPE(100, 30), 0, 10), device);
    dz_array *labels = moved(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(100), 0, 5), device);
    ck_assert_int_eq(dz_layer_to_device(emb, device), DZ_OK);
    ck_assert_int_eq(dz_layer_to_device(mlp, device), DZ_OK);
    dz_variable *e = call1(emb, dz_variable_constant(idx, NULL)); /* (100, 30, 4) */
    dz_variable *x = dz_sum(e, DZ_AXES(1), false);                 /* (100, 4) */
    call1(mlp, x);                                                 /* creates the lazy weights */
    dz_optimizer *opt = dz_adam_new(NULL);
    ck_assert_int_eq(dz_optimizer_setup(opt, mlp), DZ_OK);
    ck_assert_int_eq(dz_optimizer_setup(opt, emb), DZ_OK);
    dz_variable *loss = dz_softmax_cross_entropy(call1(mlp, x), dz_variable_constant(labels, NULL));
    ck_assert_msg(loss != NULL, "%s", dz_last_error());
    ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
    record(r, true, loss->data, "loss");
    record_params(r, emb, EXACT);
    step(opt, "Adam");
    record_params(r, emb, EXACT);
    record_params(r, mlp, EXACT);
    dz_optimizer_free(opt);
    dz_layer_free(emb);
    dz_layer_free(mlp);
}

START_TEST(test_determinism)
{
    check_deterministic("repeated rows + Adam step", repeated_rows_program, NULL, DZ_F32);
    check_deterministic("repeated rows + Adam step", repeated_rows_program, NULL, DZ_F64);
    check_parity("repeated rows + Adam step", repeated_rows_program, NULL, DZ_F32);
}
END_TEST

/* ---- weight files ----------------------------------------------------------------------- */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static dz_layer *model_for_files(uint64_t seed)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_layer *model = dz_model_new();
    dz_layer_add_child(model, "mlp", dz_mlp_new(2, (const int64_t[]){6, 3}, dz_relu, DZ_F32, &rng));
    dz_layer_add_child(model, "emb", dz_embedding_layer_new(5, 4, NULL, DZ_F64, &rng));
    dz_variable *x = dz_variable_constant(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(2, 4), 0, 1), NULL);
    dz_scope_begin();
    call1(dz_layer_child(model, "mlp"), x); /* creates the lazy weights */
    dz_scope_end();
    dz_variable_release(x);
    return model;
}

/* Every parameter of a has b's dtype, shape and bits. */
static void assert_same_params(const dz_layer *a, const dz_layer *b)
{
    dz_param_list *la = dz_layer_params(a), *lb = dz_layer_params(b);
    ck_assert_int_eq(la->count, lb->count);
    for (int i = 0; i < la->count; i++) {
        dz_array *ha = host_copy(la->params[i]->data), *hb = host_copy(lb->params[i]->data);
        ck_assert_msg(bit_identical(ha, hb), "%s differs", la->paths[i]);
        dz_array_release(ha);
        dz_array_release(hb);
    }
    dz_param_list_free(la);
    dz_param_list_free(lb);
}

START_TEST(test_save_weights_from_device)
{
    char cpu_path[] = "/tmp/dz_parity_cpu_XXXXXX", dev_path[] = "/tmp/dz_parity_dev_XXXXXX";
    close(mkstemp(cpu_path));
    close(mkstemp(dev_path));
    for (int compressed = 0; compressed < 2; compressed++) {
        dz_layer *on_cpu = model_for_files(5), *on_device = model_for_files(5);
        ck_assert_int_eq(dz_layer_to_gpu(on_device), DZ_OK);
        ck_assert_int_eq(dz_layer_save_weights(on_cpu, cpu_path, compressed), DZ_OK);
        ck_assert_msg(dz_layer_save_weights(on_device, dev_path, compressed) == DZ_OK, "%s", dz_last_error());
        assert_on(on_device, DZ_CUDA); /* the layer stays where it is */
        size_t n_cpu, n_dev;
        unsigned char *a = read_file(cpu_path, &n_cpu), *b = read_file(dev_path, &n_dev);
        ck_assert_msg(n_cpu == n_dev && memcmp(a, b, n_cpu) == 0, "the files differ (compressed %d)", compressed);
        free(a);
        free(b);
        dz_layer_free(on_cpu);
        dz_layer_free(on_device);
    }
    unlink(cpu_path);
    unlink(dev_path);
}
END_TEST

START_TEST(test_load_weights_into_device)
{
    char path[] = "/tmp/dz_parity_load_XXXXXX";
    close(mkstemp(path));
    dz_layer *saved = model_for_files(6);
    ck_assert_int_eq(dz_layer_save_weights(saved, path, false), DZ_OK);
    dz_layer *target = model_for_files(7); /* other values */
    ck_assert_int_eq(dz_layer_to_gpu(target), DZ_OK);
    ck_assert_msg(dz_layer_load_weights(target, path) == DZ_OK, "%s", dz_last_error());
    assert_on(target, DZ_CUDA);
    assert_same_params(target, saved);
    dz_layer_free(target);
    dz_layer_free(saved);
    unlink(path);
}
END_TEST

/* A lazy Linear moved to the device before its weights exist takes W's shape
 * from the file, on the device. */
START_TEST(test_load_weights_into_lazy_device_layer)
{
    char path[] = "/tmp/dz_parity_lazy_XXXXXX";
    close(mkstemp(path));
    dz_rng rng;
    dz_rng_seed(&rng, 3);
    dz_layer *saved = dz_linear_layer_new(4, 6, false, DZ_F32, &rng);
    ck_assert_int_eq(dz_layer_save_weights(saved, path, false), DZ_OK);
    dz_layer *lazy = dz_linear_layer_new(4, 0, false, DZ_F32, &rng);
    ck_assert_int_eq(dz_layer_to_gpu(lazy), DZ_OK);
    ck_assert_msg(dz_layer_load_weights(lazy, path) == DZ_OK, "%s", dz_last_error());
    assert_on(lazy, DZ_CUDA);
    assert_same_params(lazy, saved);
    dz_layer_free(lazy);
    dz_layer_free(saved);
    unlink(path);
}
END_TEST

/* Adam (amsgrad) state: two steps, saved, loaded into a fresh optimizer over
 * copies of the parameters, one more step there. The path of each run's file
 * is in arg. */
static void state_file_program(const void *arg, dz_dtype dtype, dz_device device, results *r)
{
    const char *const *paths = arg;
    dz_rng rng;
    dz_rng_seed(&rng, 21);
    dz_variable *p[2] = {dz_parameter_new(dz_array_normal(&rng, dtype, 2, DZ_SHAPE(5, 3), 0, 1), "W"),
                         dz_parameter_new(dz_array_normal(&rng, dtype, 1, DZ_SHAPE(3), 0, 1), "b")};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(dz_variable_to_device(p[i], device), DZ_OK);
    dz_optimizer *opt = make_adam_amsgrad(p);
    ck_assert_int_eq(dz_optimizer_add_params(opt, 2, p), DZ_OK);
    for (int s = 0; s < 2; s++) {
        set_dense_grads(p, 2, 22 + 10 * (uint64_t)s);
        step(opt, "Adam");
    }
    ck_assert_msg(dz_optimizer_save_state(opt, paths[running]) == DZ_OK, "%s", dz_last_error());
    dz_variable *q[2];
    for (int i = 0; i < 2; i++) {
        q[i] = dz_parameter_new(dz_array_copy(p[i]->data), p[i]->name);
        ck_assert_int_eq(q[i]->data->device, device);
    }
    dz_optimizer *resumed = make_adam_amsgrad(q);
    ck_assert_int_eq(dz_optimizer_add_params(resumed, 2, q), DZ_OK);
    ck_assert_msg(dz_optimizer_load_state(resumed, paths[running]) == DZ_OK, "%s", dz_last_error());
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < sizeof state_names / sizeof state_names[0]; k++) {
            const dz_array *st = dz_optimizer_state(resumed, i, state_names[k]);
            ck_assert_msg(!st || st->device == device, "loaded state %s of %s is on the wrong device",
                          state_names[k], q[i]->name);
        }
    set_dense_grads(q, 2, 42);
    step(resumed, "resumed Adam");
    for (int i = 0; i < 2; i++)
        record(r, true, q[i]->data, "%s after the resumed step", q[i]->name);
    record_state(r, resumed, EXACT);
    dz_optimizer_free(opt);
    dz_optimizer_free(resumed);
}

/* The files of runs `a` and `b` hold the same bytes. */
static void assert_same_file(const char *const *paths, run_kind a, run_kind b, dz_dtype dtype)
{
    size_t na, nb;
    unsigned char *fa = read_file(paths[a], &na), *fb = read_file(paths[b], &nb);
    ck_assert_msg(na == nb && memcmp(fa, fb, na) == 0, "the %s state files of %s and %s differ",
                  dz_dtype_name(dtype), runs[a].name, runs[b].name);
    free(fa);
    free(fb);
}

/* Each device run's state file has the bytes of its CPU run's. */
START_TEST(test_optimizer_state_files)
{
    char names[N_RUNS][40];
    const char *paths[N_RUNS];
    for (run_kind kind = 0; kind < N_RUNS; kind++) {
        snprintf(names[kind], sizeof names[kind], "/tmp/dz_parity_state_%d_XXXXXX", (int)kind);
        close(mkstemp(names[kind]));
        paths[kind] = names[kind];
    }
    for (int d = 0; d < 2; d++) {
        dz_dtype dtype = d ? DZ_F64 : DZ_F32;
        check_parity("optimizer state save / load", state_file_program, paths, dtype);
        assert_same_file(paths, RUN_DEVICE_COMPOSITE, RUN_CPU_COMPOSITE, dtype);
        assert_same_file(paths, RUN_DEVICE_FUSED, RUN_CPU_DEVICE_SET, dtype);
    }
    for (run_kind kind = 0; kind < N_RUNS; kind++)
        unlink(paths[kind]);
}
END_TEST

/* ---- mixing devices in one op --------------------------------------------------------- */

static dz_variable *on_device(dz_variable *v)
{
    ck_assert_int_eq(dz_variable_to_gpu(v), DZ_OK);
    return v;
}

static dz_variable *normal_var(int ndim, const int64_t *shape, uint64_t seed)
{
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    return dz_variable_new(dz_array_normal(&rng, DZ_F32, ndim, shape, 0, 1), NULL);
}

/* Every violation, one per line, so one run names them all. */
static char violations[4096];

/* `failed` must hold with DZ_ERR_DEVICE and a message naming `op`. */
static void expect_device_error(bool failed, const char *op, const char *call)
{
    if (failed && dz_last_error_code() == DZ_ERR_DEVICE && strstr(dz_last_error(), op))
        return;
    size_t used = strlen(violations);
    snprintf(violations + used, sizeof violations - used, "\n  %s: %s%s%s", call,
             failed ? dz_status_name(dz_last_error_code()) : "succeeded", failed ? ": " : "",
             failed ? dz_last_error() : "");
}

#define EXPECT_DEVICE_ERROR(call, op) (dz_clear_error(), expect_device_error((call) == NULL, op, #call))
#define EXPECT_DEVICE_FAILURE(call, op) (dz_clear_error(), expect_device_error((call) != DZ_OK, op, #call))

/* The mixed-device tests loop over both backends' fused kernels on (_i 0) and
 * off (_i 1): an op must stop before it reaches a fused kernel or its
 * composite. Returns which, for the failure message. */
static const char *start_mixed_devices(int i)
{
    violations[0] = 0;
    use_kernels(i == 0 ? KERNELS_ALL : KERNELS_NONE);
    return i == 0 ? "fused kernels on" : "fused kernels off";
}

START_TEST(test_mixed_devices)
{
    const char *kernels = start_mixed_devices(_i);
    dz_scope_begin();
    dz_variable *a = normal_var(2, DZ_SHAPE(3, 4), 1), *b = on_device(normal_var(2, DZ_SHAPE(3, 4), 2));
    dz_variable *m = on_device(normal_var(2, DZ_SHAPE(4, 2), 3)), *bias = normal_var(1, DZ_SHAPE(2), 4);
    EXPECT_DEVICE_ERROR(dz_add(a, b), "dz_add");
    EXPECT_DEVICE_ERROR(dz_sub(b, a), "dz_sub");
    EXPECT_DEVICE_ERROR(dz_mul(a, b), "dz_mul");
    EXPECT_DEVICE_ERROR(dz_div(b, a), "dz_div");
    EXPECT_DEVICE_ERROR(dz_matmul(a, m), "dz_matmul");
    EXPECT_DEVICE_ERROR(dz_linear(b, m, bias), "dz_linear");
    EXPECT_DEVICE_ERROR(dz_concat(2, (dz_variable *const[]){a, b}, 0), "dz_concat");
    EXPECT_DEVICE_ERROR(dz_stack(2, (dz_variable *const[]){b, a}, 0), "dz_stack");
    EXPECT_DEVICE_ERROR(dz_mean_squared_error(a, b), "dz_mean_squared_error");
    EXPECT_DEVICE_ERROR(dz_sigmoid_cross_entropy(a, b), "dz_sigmoid_cross_entropy");
    EXPECT_DEVICE_ERROR(dz_binary_cross_entropy(b, a), "dz_binary_cross_entropy");
    dz_array *gpu_idx = moved(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(2)), DZ_CUDA);
    EXPECT_DEVICE_ERROR(dz_get_item(a, DZ_INDICES(DZ_TAKE(gpu_idx))), "dz_get_item");
    EXPECT_DEVICE_ERROR(dz_get_item_grad(a, DZ_INDICES(DZ_TAKE(gpu_idx)), 2, DZ_SHAPE(5, 4)), "dz_get_item_grad");
    dz_array_release(gpu_idx);
    dz_array *gpu_mask = moved(dz_array_zeros(DZ_BOOL, 1, DZ_SHAPE(3)), DZ_CUDA);
    EXPECT_DEVICE_ERROR(dz_get_item(a, DZ_INDICES(DZ_MASK(gpu_mask))), "dz_get_item");
    dz_array_release(gpu_mask);
    dz_variable *p = on_device(normal_var(2, DZ_SHAPE(3, 4), 7));
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &p);
    dz_variable_set_grad(p, normal_var(2, DZ_SHAPE(3, 4), 8)); /* a CPU grad for a device parameter */
    EXPECT_DEVICE_FAILURE(dz_optimizer_update(opt), "dz_optimizer_update");
    dz_optimizer_free(opt);
    dz_scope_end();
    ck_assert_msg(violations[0] == 0, "mixed-device calls that did not fail with DZ_ERR_DEVICE naming the op (%s):%s",
                  kernels, violations);
}
END_TEST

static dz_variable *zero_labels(int64_t n)
{
    return dz_variable_constant(dz_array_zeros(DZ_I64, 1, &n), NULL);
}

/* Labels, indices and per-sample weights on one device and the float input
 * on the other: on the emulated device (host memory) a kernel would compute
 * as if on one device, so only the check stops it. */
START_TEST(test_mixed_devices_indices)
{
    const char *kernels = start_mixed_devices(_i);
    dz_scope_begin();
    dz_variable *a = normal_var(2, DZ_SHAPE(3, 4), 1), *b = on_device(normal_var(2, DZ_SHAPE(3, 4), 2));
    dz_variable *labels = zero_labels(3), *gpu_labels = on_device(zero_labels(3));
    dz_variable *offsets = zero_labels(1), *gpu_offsets = on_device(zero_labels(1));
    dz_embedding_bag_options sum = dz_embedding_bag_default_options();
    sum.mode = DZ_EMBEDDING_BAG_SUM;
    EXPECT_DEVICE_ERROR(dz_softmax_cross_entropy(b, labels), "dz_softmax_cross_entropy");
    EXPECT_DEVICE_ERROR(dz_softmax_cross_entropy(a, gpu_labels), "dz_softmax_cross_entropy");
    EXPECT_DEVICE_ERROR(dz_softmax_cross_entropy_ignore(b, labels, 1), "dz_softmax_cross_entropy_ignore");
    EXPECT_DEVICE_ERROR(dz_accuracy(b, labels), "dz_accuracy");
    EXPECT_DEVICE_ERROR(dz_accuracy(a, gpu_labels), "dz_accuracy");
    EXPECT_DEVICE_ERROR(dz_embedding(labels, b, NULL), "dz_embedding");
    EXPECT_DEVICE_ERROR(dz_embedding(gpu_labels, a, NULL), "dz_embedding");
    EXPECT_DEVICE_ERROR(dz_embedding_bag(gpu_labels, offsets, b, NULL, NULL), "dz_embedding_bag");
    EXPECT_DEVICE_ERROR(dz_embedding_bag(labels, gpu_offsets, b, NULL, NULL), "dz_embedding_bag");
    EXPECT_DEVICE_ERROR(dz_embedding_bag(gpu_labels, gpu_offsets, b, normal_var(1, DZ_SHAPE(3), 6), &sum),
                        "dz_embedding_bag");
    dz_scope_end();
    ck_assert_msg(violations[0] == 0, "mixed-device calls that did not fail with DZ_ERR_DEVICE naming the op (%s):%s",
                  kernels, violations);
}
END_TEST

/* A CPU grad set on a device variable, and a CPU input to a Linear layer on
 * the device: DZ_ERR_DEVICE, not a shape or state error. */
START_TEST(test_mixed_devices_codes)
{
    const char *kernels = start_mixed_devices(_i);
    dz_scope_begin();
    dz_variable *y = dz_tanh(on_device(normal_var(2, DZ_SHAPE(3, 4), 1)));
    dz_variable_set_grad(y, normal_var(2, DZ_SHAPE(3, 4), 2));
    EXPECT_DEVICE_FAILURE(dz_variable_backward(y, false, false), "dz_variable_backward");
    dz_layer *lin = dz_linear_layer_new(2, 4, false, DZ_F32, NULL);
    ck_assert_int_eq(dz_layer_to_gpu(lin), DZ_OK);
    EXPECT_DEVICE_ERROR(dz_layer_call(lin, normal_var(2, DZ_SHAPE(3, 4), 3)), "dz_layer_call");
    dz_layer_free(lin);
    dz_scope_end();
    ck_assert_msg(violations[0] == 0, "mixed-device calls that did not fail with DZ_ERR_DEVICE naming the op (%s):%s",
                  kernels, violations);
}
END_TEST

/* ---- the suite -------------------------------------------------------------------------- */

/* A failed check can leave a scope open or a backend's fused kernels off. */
static void reset_state(void)
{
    while (dz_scope_depth() > 0)
        dz_scope_end();
    use_kernels(KERNELS_ALL);
    dz_set_train(true);
    dz_set_enable_backprop(true);
    dz_clear_error();
}

static Suite *parity_suite(void)
{
    Suite *s = suite_create("cuda_parity");
    struct {
        const char *name;
        const TTest *test;
        int n;
    } loops[] = {{"ops_f32", test_ops_f32, N_OPS},          {"ops_f64", test_ops_f64, N_OPS},
                 {"layers_f32", test_layers_f32, N_LAYERS}, {"layers_f64", test_layers_f64, N_LAYERS},
                 {"optim_f32", test_optimizers_f32, N_OPTIMS}, {"optim_f64", test_optimizers_f64, N_OPTIMS}};
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        TCase *tc = tcase_create(loops[i].name);
        tcase_add_checked_fixture(tc, reset_state, NULL);
        tcase_add_loop_test(tc, loops[i].test, 0, loops[i].n);
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("programs");
    tcase_add_checked_fixture(tc, reset_state, NULL);
    tcase_add_test(tc, test_training_spiral);
    tcase_add_test(tc, test_training_mlp_adam);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_save_weights_from_device);
    tcase_add_test(tc, test_load_weights_into_device);
    tcase_add_test(tc, test_load_weights_into_lazy_device_layer);
    tcase_add_test(tc, test_optimizer_state_files);
    tcase_add_test(tc, test_sparse_grad_on_device);
    suite_add_tcase(s, tc);
    TCase *mixed = tcase_create("mixed devices");
    tcase_add_checked_fixture(mixed, reset_state, NULL);
    tcase_add_loop_test(mixed, test_mixed_devices, 0, 2);
    tcase_add_loop_test(mixed, test_mixed_devices_indices, 0, 2);
    tcase_add_loop_test(mixed, test_mixed_devices_codes, 0, 2);
    suite_add_tcase(s, mixed);
    return s;
}

int main(void)
{
    if (!dz_cuda_available())
        return tc_no_cuda_device();
    const char *v = getenv("DZ_PARITY_VERBOSE");
    verbose = v && strcmp(v, "1") == 0;
    read_fused_tables();
    if (verbose)
        printf("fused kernels: the CPU has %d of %d, the device %d\n", count_slots(cpu_slots), (int)N_FUSED_SLOTS,
               count_slots(device_slots));
    dz_set_error_handler_off(); /* a failing op fails its check instead of aborting the suite */
    return tc_run(parity_suite());
}

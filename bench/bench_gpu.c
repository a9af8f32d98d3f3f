/* The GPU benchmarks: dezero-c on DZ_CUDA, every input made on the host once
 * and moved to the device before timing. GPU work is queued and runs
 * asynchronously, so every timed call ends with dz_cuda_synchronize().
 * bench_gpu.py does the same with PyTorch on CUDA; run_gpu_benchmarks.sh
 * alternates the two.
 *
 * Prints, in milliseconds (median per call) unless said:
 *   gpu_embedding_forward_ms     Embedding (1,000,000, 256) f32, 1,048,576 int64
 *                                indices: forward under DZ_NO_GRAD
 *   gpu_embedding_forward_gbps   bytes that forward moves (N rows of D floats read
 *                                and written, N indices read) / its time, GB/s
 *   gpu_embedding_dense_bwd_ms   forward + backward into a dense grad of the table
 *   gpu_embedding_sparse_bwd_ms  forward + backward into a sparse grad (uncoalesced)
 *   gpu_linear_fwd_bwd_ms        Linear x (8192, 4096), W (4096, 4096), b: forward +
 *                                backward, grads of x, W and b
 *   gpu_chain_2000_ms            a chain of 2,000 elementwise ops on 64 f32, forward
 *                                + backward: the per-op overhead
 *   gpu_fashion_mlp_epoch_s      one epoch (seconds) of a 784-256-10 ReLU MLP, Adam,
 *                                batch 100, on 60,000 random images
 *   gpu_fashion_mlp_epoch_loss   its mean loss (a check: about ln 10 = 2.30, the
 *                                labels being random)
 * Without a CUDA device it prints "SKIP: <reason>" and exits with 77.
 * Options: --threads N (the host side), --quick (tiny sizes, for the emulated
 * device: table (1000, 16), 4,096 indices, Linear (64, 32) x (32, 32), a chain
 * of 50 ops, 600 images). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "dezero/dezero.h"

typedef struct sizes {
    int64_t vocab, dim, indices;    /* Embedding: table (vocab, dim), indices (indices,) */
    int64_t batch, in, out;         /* Linear: x (batch, in), W (in, out) */
    int64_t chain_len, chain_width; /* elementwise chain: chain_len ops on (chain_width,) */
    int64_t images;                 /* MLP epoch: (images, 784) inputs */
} sizes;

static const sizes full_sizes = {1000000, 256, 1048576, 8192, 4096, 4096, 2000, 64, 60000};
static const sizes quick_sizes = {1000, 16, 4096, 64, 32, 32, 50, 64, 600};

/* Waits for the queued GPU work; a failure the device recorded ends the program. */
static void sync_device(void)
{
    if (dz_cuda_synchronize() != DZ_OK) {
        fprintf(stderr, "bench_gpu: %s\n", dz_last_error());
        exit(1);
    }
}

/* A host array moved to the GPU (takes the reference). */
static dz_array *to_gpu(dz_array *a)
{
    dz_array *moved = dz_array_to_device(a, DZ_CUDA);
    if (!moved) {
        fprintf(stderr, "bench_gpu: cannot move an array to the GPU: %s\n", dz_last_error());
        exit(1);
    }
    dz_array_release(a);
    return moved;
}

/* --- Embedding --- */

typedef enum { EMBEDDING_FORWARD, EMBEDDING_DENSE, EMBEDDING_SPARSE } embedding_mode;

typedef struct {
    dz_variable *idx, *W, *gy; /* idx (N,) i64, W (V, D) parameter, gy (N, D) constant */
    embedding_mode mode;
} embedding_problem;

/* y = W[idx] (N, D); backward seeds y's grad with gy and fills W's dense
 * grad (V, D) or its sparse grad (N rows). W's grad is dropped first. */
static void embedding_step(void *ctx)
{
    embedding_problem *p = ctx;
    dz_embedding_options opt = dz_embedding_default_options();
    opt.sparse = p->mode == EMBEDDING_SPARSE;
    dz_variable_cleargrad(p->W);
    dz_scope_begin();
    if (p->mode == EMBEDDING_FORWARD) {
        DZ_NO_GRAD
        {
            dz_embedding(p->idx, p->W, &opt);
        }
    } else {
        dz_variable *y = dz_embedding(p->idx, p->W, &opt);
        dz_variable_set_grad(y, p->gy);
        dz_variable_backward(y, false, false);
    }
    sync_device();
    dz_scope_end();
}

static void bench_embedding(const sizes *s, double budget_s)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    int64_t V = s->vocab, D = s->dim, N = s->indices;
    embedding_problem p = {
        dz_variable_constant(to_gpu(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(N), 0, V)), "idx"),
        dz_parameter_new(to_gpu(bench_uniform_f32(2, DZ_SHAPE(V, D), 1)), "W"),
        dz_variable_constant(to_gpu(bench_uniform_f32(2, DZ_SHAPE(N, D), 2)), "gy"),
        EMBEDDING_FORWARD,
    };
    double forward_s = bench_time(embedding_step, &p, 2, 5, budget_s);
    bench_report("gpu_embedding_forward_ms", forward_s * 1e3);
    double bytes = (double)N * (double)D * 4 * 2 + (double)N * 8;
    bench_report("gpu_embedding_forward_gbps", bytes / forward_s * 1e-9);
    p.mode = EMBEDDING_DENSE;
    bench_report("gpu_embedding_dense_bwd_ms", bench_time(embedding_step, &p, 2, 5, budget_s) * 1e3);
    p.mode = EMBEDDING_SPARSE;
    bench_report("gpu_embedding_sparse_bwd_ms", bench_time(embedding_step, &p, 2, 5, budget_s) * 1e3);
    dz_variable_release(p.idx);
    dz_variable_release(p.W);
    dz_variable_release(p.gy);
}

/* --- Linear --- */

typedef struct {
    dz_variable *x, *W, *b, *gy; /* x (B, in) requires a grad, W (in, out), b (out,), gy (B, out) */
} linear_problem;

/* y = x W + b (B, out), backward from gy: three products (y, gx, gW) and
 * gb = sum of gy over the batch. */
static void linear_step(void *ctx)
{
    linear_problem *p = ctx;
    dz_variable_cleargrad(p->x);
    dz_variable_cleargrad(p->W);
    dz_variable_cleargrad(p->b);
    dz_scope_begin();
    dz_variable *y = dz_linear(p->x, p->W, p->b);
    dz_variable_set_grad(y, p->gy);
    dz_variable_backward(y, false, false);
    sync_device();
    dz_scope_end();
}

static void bench_linear(const sizes *s, double budget_s)
{
    int64_t B = s->batch, in = s->in, out = s->out;
    linear_problem p = {
        dz_variable_new(to_gpu(bench_uniform_f32(2, DZ_SHAPE(B, in), 1)), "x"),
        dz_parameter_new(to_gpu(bench_uniform_f32(2, DZ_SHAPE(in, out), 2)), "W"),
        dz_parameter_new(to_gpu(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(out))), "b"),
        dz_variable_constant(to_gpu(bench_uniform_f32(2, DZ_SHAPE(B, out), 3)), "gy"),
    };
    bench_report("gpu_linear_fwd_bwd_ms", bench_time(linear_step, &p, 2, 5, budget_s) * 1e3);
    dz_variable_release(p.x);
    dz_variable_release(p.W);
    dz_variable_release(p.b);
    dz_variable_release(p.gy);
}

/* --- Elementwise chain --- */

#define CHAIN_BLOCK 5 /* ops per block of chain_step */

typedef struct {
    dz_variable *x, *w; /* (width,): x requires a grad, w is a constant */
    int64_t ops;        /* a multiple of CHAIN_BLOCK */
} chain_problem;

/* ops / CHAIN_BLOCK blocks of y = tanh(y * 1.0001 + 0.001) * w + x: the
 * values stay in (-1.3, 1.7), and adding x back each block makes x's grad
 * accumulate, as a reused parameter's would. Backward seeds ones. */
static void chain_step(void *ctx)
{
    chain_problem *p = ctx;
    dz_variable_cleargrad(p->x);
    dz_scope_begin();
    dz_variable *y = p->x;
    for (int64_t i = 0; i < p->ops / CHAIN_BLOCK; i++) {
        y = dz_mul_scalar(y, 1.0001);
        y = dz_add_scalar(y, 0.001);
        y = dz_tanh(y);
        y = dz_mul(y, p->w);
        y = dz_add(y, p->x);
    }
    dz_variable_backward(y, false, false);
    sync_device();
    dz_scope_end();
}

/* 0.1, 0.2, 0.3, 0.4, 0.1, ... (x) or 0.9, 1.1, 1.3, 0.7, 0.9, ... (w) on the GPU. */
static dz_array *pattern(int64_t size, const float four[4])
{
    dz_array *a = dz_array_empty(DZ_F32, 1, DZ_SHAPE(size));
    float *v = a->data;
    for (int64_t i = 0; i < size; i++)
        v[i] = four[i % 4];
    return to_gpu(a);
}

static void bench_chain(const sizes *s, double budget_s)
{
    const float xs[4] = {0.1f, 0.2f, 0.3f, 0.4f}, ws[4] = {0.9f, 1.1f, 1.3f, 0.7f};
    chain_problem p = {dz_variable_new(pattern(s->chain_width, xs), "x"),
                       dz_variable_constant(pattern(s->chain_width, ws), "w"), s->chain_len};
    double seconds = bench_time(chain_step, &p, 3, 5, budget_s);
    if (!isfinite(dz_array_get(p.x->grad->data, 0))) { /* from the last run */
        fprintf(stderr, "bench_gpu: the grad of the chain's x is not finite\n");
        exit(1);
    }
    bench_report("gpu_chain_2000_ms", seconds * 1e3);
    dz_variable_release(p.x);
    dz_variable_release(p.w);
}

/* --- MLP epoch --- */

/* One epoch of a 784-256-10 ReLU MLP with Adam (PyTorch's defaults) and
 * softmax cross entropy, batches of 100. Data resident on the GPU: the
 * images (uniform in [-1, 1)) and random labels are moved there once. The
 * epoch's permutation stays on the host (index arrays of dz_get_item live on
 * the CPU), and each batch is images[perm[i:i+100]] gathered on the device
 * from those 100 host indices, as the twin indexes its CUDA tensors with a
 * CPU permutation. The loss is read on the host every step, as a training
 * loop that prints it does. The time covers the epoch, the permutation
 * included, with no warm-up (the earlier benchmarks have started the
 * device). */
static void bench_fashion_mlp(const sizes *s)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    int64_t n = s->images, batch = 100;
    dz_variable *images = dz_variable_constant(to_gpu(bench_uniform_f32(2, DZ_SHAPE(n, 784), 4)), "images");
    dz_variable *labels = dz_variable_constant(to_gpu(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(n), 0, 10)),
                                               "labels");
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){256, 10}, dz_relu, DZ_F32, &rng);
    dz_optimizer *adam = dz_adam_new(NULL);
    if (dz_layer_to_device(model, DZ_CUDA) != DZ_OK || dz_optimizer_setup(adam, model) != DZ_OK) {
        fprintf(stderr, "bench_gpu: %s\n", dz_last_error());
        exit(1);
    }
    sync_device();

    double start = bench_now(), loss_sum = 0;
    int64_t batches = 0;
    dz_variable *perm = dz_variable_constant(dz_array_permutation(&rng, n), "perm"); /* (n,) on the host */
    for (int64_t i = 0; i < n; i += batch) {
        dz_scope_begin();
        dz_variable *rows = dz_get_item(perm, DZ_INDICES(DZ_SLICE(i, i + batch, 1))); /* (100,) host */
        dz_variable *x = dz_get_item(images, DZ_INDICES(DZ_TAKE(rows->data)));      /* (100, 784) GPU */
        dz_variable *t = dz_get_item(labels, DZ_INDICES(DZ_TAKE(rows->data)));      /* (100,) GPU */
        dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(model, x), t);
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(adam);
        loss_sum += dz_array_get(loss->data, 0);
        batches++;
        dz_scope_end();
    }
    sync_device();
    bench_report("gpu_fashion_mlp_epoch_s", bench_now() - start);
    bench_report("gpu_fashion_mlp_epoch_loss", loss_sum / (double)batches);

    dz_variable_release(perm);
    dz_optimizer_free(adam);
    dz_layer_free(model);
    dz_variable_release(images);
    dz_variable_release(labels);
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    if (!dz_cuda_available()) {
        dz_error_handler previous = dz_set_error_handler_off();
        dz_cuda_synchronize(); /* records why there is no device */
        printf("SKIP: %s\n", dz_last_error());
        dz_set_error_handler(previous);
        return 77;
    }
    fprintf(stderr, "bench_gpu: device %s\n", dz_cuda_device_name());
    const sizes *s = options.quick ? &quick_sizes : &full_sizes;
    double budget_s = options.quick ? 0.1 : 0.3;
    bench_embedding(s, budget_s);
    bench_linear(s, budget_s);
    bench_chain(s, budget_s);
    bench_fashion_mlp(s);
    return 0;
}

/* MLP training-step scaling: a 2-H-3 MLP (linear, sigmoid, linear, softmax
 * cross entropy, backward, SGD with lr 0.1) in f32, for H = 10, 100, 1,000
 * and 4,000 at batch 30 and at batch 1,024. The inputs are one fixed batch
 * of N(0, 1) points with random labels, constants that need no grad; the
 * model and the optimizer are the library's (dz_mlp_new, dz_sgd_new).
 * bench_mlp.py does the same with nn.Sequential and torch.optim.SGD.
 *
 * Prints "mlp_step_us_h<H>_b<batch> <median µs per step>".
 * Options: --threads N, --quick (H = 10 and 1,000 only). */
#include <stdio.h>

#include "bench_common.h"
#include "dezero/dezero.h"

static const int64_t hiddens[] = {10, 100, 1000, 4000}, batches[] = {30, 1024};

typedef struct {
    dz_layer *model;
    dz_optimizer *sgd;
    dz_variable *x, *t; /* (batch, 2) f32 and (batch,) i32 constants */
} trainer;

static void train_step(void *ctx)
{
    trainer *tr = ctx;
    dz_scope_begin();
    dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(tr->model, tr->x), tr->t);
    dz_layer_cleargrads(tr->model);
    dz_variable_backward(loss, false, false);
    dz_optimizer_update(tr->sgd);
    dz_scope_end();
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_sgd_config config = dz_sgd_defaults();
    config.lr = 0.1;
    for (int b = 0; b < 2; b++) {
        for (int h = 0; h < 4; h++) {
            if (options.quick && hiddens[h] != 10 && hiddens[h] != 1000)
                continue;
            int64_t batch = batches[b];
            trainer tr = {
                dz_mlp_new(2, (const int64_t[]){hiddens[h], 3}, dz_sigmoid, DZ_F32, &rng),
                dz_sgd_new(&config),
                dz_variable_constant(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(batch, 2), 0, 1), "x"),
                dz_variable_constant(dz_array_randint(&rng, DZ_I32, 1, DZ_SHAPE(batch), 0, 3), "t"),
            };
            dz_optimizer_setup(tr.sgd, tr.model); /* the warm-up's first step creates the (lazy) weights */
            double seconds = bench_time(train_step, &tr, 3, 5, options.quick ? 0.1 : 0.3);
            char key[64];
            snprintf(key, sizeof key, "mlp_step_us_h%lld_b%lld", (long long)hiddens[h], (long long)batch);
            bench_report(key, seconds * 1e6);
            dz_optimizer_free(tr.sgd);
            dz_layer_free(tr.model);
            dz_variable_release(tr.x);
            dz_variable_release(tr.t);
        }
    }
    return 0;
}

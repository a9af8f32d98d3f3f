/* The PyTorch nn.Embedding notebook, option by option:
 *
 *   1. Embedding(10, 3): a (2, 4) batch of ids gives a (2, 4, 3) output;
 *   2. padding_idx=0: row 0 starts at zero and never gets a grad, so one
 *      Adam step (lr 0.1) on sum(embedding([[0, 2, 0, 5]])) moves rows 2 and
 *      5 by 0.1 in every component and leaves row 0 and unused rows alone;
 *   3. max_norm=1: the rows a forward looks up are renormalised IN PLACE in W;
 *   4. scale_grad_by_freq: each row's grad is divided by its count in the batch;
 *   5. sparse=True: the grad is a list of (row, values) entries; coalesce it,
 *      step with SGD and SparseAdam, and see Adam refuse it;
 *   6. Embedding.from_pretrained(weights, freeze=True);
 *   7. EmbeddingBag with offsets in sum, mean and max modes.
 *
 * Weights are float32 and drawn from N(0, 1) as PyTorch does, but from this
 * library's generator, so the numbers differ from torch.manual_seed's. */
#include <stdio.h>

#include "common/ex.h"

static dz_variable *ids(int ndim, const int64_t *shape, const int64_t *values)
{
    return dz_variable_new(dz_array_from_buffer(DZ_I64, ndim, shape, values), NULL);
}

static void print_named(const char *name, const dz_variable *v)
{
    printf("%s =\n", name);
    dz_variable_print(v, stdout);
}

/* sum(embedding(input)) and its backward; W's grads are cleared first. */
static void sum_backward(dz_layer *embedding, dz_variable *input)
{
    dz_layer_cleargrads(embedding);
    dz_variable *loss = dz_sum(dz_layer_call(embedding, input), 0, NULL, false);
    dz_variable_backward(loss, false, false);
}

/* A copy of W's values, to compare with after an update. */
static dz_variable *snapshot(const dz_variable *W)
{
    return dz_variable_new(dz_array_copy(W->data), NULL);
}

/* W - before, without recording a graph. */
static void print_change(const char *title, dz_variable *W, dz_variable *before)
{
    DZ_NO_GRAD
    {
        print_named(title, dz_sub(W, before));
    }
}

/* The L2 norm of each row of W, (V,). */
static void print_row_norms(const char *title, dz_variable *W)
{
    DZ_NO_GRAD
    {
        print_named(title, dz_sqrt(dz_sum(dz_square(W), DZ_AXES(1), false)));
    }
}

static void basic_lookup(dz_rng *rng)
{
    printf("== 1. embedding = nn.Embedding(10, 3) ==\n");
    dz_layer *embedding = dz_embedding_layer_new(10, 3, NULL, DZ_F32, rng);
    print_named("embedding.weight", dz_layer_param(embedding, "W"));
    dz_variable *input = ids(2, DZ_SHAPE(2, 4), (const int64_t[]){1, 2, 4, 5, 4, 3, 2, 9});
    print_named("input", input);
    print_named("embedding(input)  (shape (2, 4, 3): one row of W per id)", dz_layer_call(embedding, input));
    dz_layer_free(embedding);
}

static void padding(dz_rng *rng)
{
    printf("\n== 2. nn.Embedding(10, 3, padding_idx=0) and one Adam step ==\n");
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_padding_idx = true;
    opt.padding_idx = 0;
    dz_layer *embedding = dz_embedding_layer_new(10, 3, &opt, DZ_F32, rng);
    dz_variable *W = dz_layer_param(embedding, "W");
    print_named("embedding.weight (row 0 is zero at init)", W);

    dz_variable *input = ids(2, DZ_SHAPE(1, 4), (const int64_t[]){0, 2, 0, 5});
    print_named("input", input);
    print_named("embedding(input)", dz_layer_call(embedding, input));
    sum_backward(embedding, input);
    print_named("embedding.weight.grad after sum(output).backward() (row 0 gets none)", W->grad);

    dz_adam_config config = dz_adam_defaults();
    config.lr = 0.1;
    dz_optimizer *adam = dz_adam_new(&config);
    dz_optimizer_setup(adam, embedding);
    dz_variable *before = snapshot(W);
    dz_optimizer_update(adam);
    print_named("embedding.weight after Adam(lr=0.1).step()", W);
    print_change("after - before: rows 2 and 5 moved by -0.1 (Adam's first step is lr * sign(grad))", W, before);
    dz_optimizer_free(adam);
    dz_layer_free(embedding);
}

static void max_norm(dz_rng *rng)
{
    printf("\n== 3. nn.Embedding(10, 3, max_norm=1.0) ==\n");
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_max_norm = true;
    opt.max_norm = 1.0;
    dz_layer *embedding = dz_embedding_layer_new(10, 3, &opt, DZ_F32, rng);
    dz_variable *W = dz_layer_param(embedding, "W");
    print_row_norms("row norms of the weight before the forward", W);
    dz_variable *input = ids(2, DZ_SHAPE(2, 3), (const int64_t[]){1, 2, 4, 4, 3, 9});
    print_named("input", input);
    dz_layer_call(embedding, input);
    print_row_norms("row norms after embedding(input): rows 2, 3, 4, 9 (looked up, norm > 1) are rescaled to 1", W);
    printf("(W itself changed, not just the output; row 1 (norm < 1) and rows not looked up are untouched)\n");
    dz_layer_free(embedding);
}

static void scale_grad_by_freq(dz_rng *rng)
{
    printf("\n== 4. scale_grad_by_freq=True ==\n");
    dz_variable *input = ids(2, DZ_SHAPE(2, 4), (const int64_t[]){1, 2, 4, 5, 4, 3, 2, 2});
    print_named("input (2 appears 3 times, 4 twice)", input);
    for (int scaled = 0; scaled <= 1; scaled++) {
        dz_embedding_options opt = dz_embedding_default_options();
        opt.scale_grad_by_freq = scaled;
        dz_layer *embedding = dz_embedding_layer_new(10, 3, &opt, DZ_F32, rng);
        sum_backward(embedding, input);
        print_named(scaled ? "grad with scale_grad_by_freq=True (each count divided by itself)"
                           : "grad with scale_grad_by_freq=False (row k gets its count)",
                    dz_layer_param(embedding, "W")->grad);
        dz_layer_free(embedding);
    }
}

static void print_sparse_grad(const char *title, const dz_sparse_grad *g)
{
    printf("%s (coalesced: %s)\nindices = ", title, g->coalesced ? "True" : "False");
    dz_array_print(g->indices, stdout);
    printf("values =\n");
    dz_array_print(g->values, stdout);
}

static void sparse(dz_rng *rng)
{
    printf("\n== 5. nn.Embedding(10, 3, sparse=True) ==\n");
    dz_embedding_options opt = dz_embedding_default_options();
    opt.sparse = true;
    dz_layer *embedding = dz_embedding_layer_new(10, 3, &opt, DZ_F32, rng);
    dz_variable *W = dz_layer_param(embedding, "W");
    dz_variable *input = ids(2, DZ_SHAPE(2, 4), (const int64_t[]){0, 2, 4, 5, 4, 3, 0, 9});
    print_named("input", input);

    sum_backward(embedding, input);
    printf("after sum(output).backward(), W.grad is %s and W.sparse_grad holds one entry per id\n",
           W->grad ? "set" : "None");
    print_sparse_grad("W.sparse_grad", W->sparse_grad);
    dz_sparse_grad_coalesce(W->sparse_grad);
    print_sparse_grad("W.sparse_grad.coalesce(): sorted rows, repeats summed", W->sparse_grad);

    dz_sgd_config sgd_config = dz_sgd_defaults();
    sgd_config.lr = 0.1;
    dz_optimizer *sgd = dz_sgd_new(&sgd_config);
    dz_optimizer_setup(sgd, embedding);
    dz_variable *before = snapshot(W);
    dz_optimizer_update(sgd);
    print_change("SGD(lr=0.1).step(): after - before (-0.1 per occurrence; other rows untouched)", W, before);
    dz_optimizer_free(sgd);

    sum_backward(embedding, input);
    dz_sparse_adam_config sparse_adam_config = dz_sparse_adam_defaults();
    sparse_adam_config.lr = 0.1;
    dz_optimizer *sparse_adam = dz_sparse_adam_new(&sparse_adam_config);
    dz_optimizer_setup(sparse_adam, embedding);
    before = snapshot(W);
    dz_optimizer_update(sparse_adam);
    print_change("SparseAdam(lr=0.1).step(): after - before (about -0.1 on the rows looked up, 0 elsewhere)", W,
                 before);
    dz_optimizer_free(sparse_adam);

    /* Adam needs dense grads. With the error handler off, the refusal comes
     * back as a status and a message instead of aborting the program. */
    dz_optimizer *adam = dz_adam_new(NULL);
    dz_optimizer_setup(adam, embedding);
    dz_error_handler previous = dz_set_error_handler_off();
    dz_status status = dz_optimizer_update(adam);
    dz_set_error_handler(previous);
    printf("Adam.step() with a sparse grad: %s: %s\n", dz_status_name(status), dz_last_error());
    dz_optimizer_free(adam);
    dz_layer_free(embedding);
}

static void pretrained(void)
{
    printf("\n== 6. nn.Embedding.from_pretrained(weight, freeze=True) ==\n");
    const float values[] = {1.0f, 2.3f, 3.0f, 4.0f, 5.1f, 6.3f};
    dz_array *weight = dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(2, 3), values);
    dz_layer *embedding = dz_embedding_layer_from_pretrained(weight, true, NULL);
    dz_array_release(weight); /* the layer holds its own reference */
    dz_variable *W = dz_layer_param(embedding, "W");
    print_named("embedding.weight", W);
    dz_variable *input = ids(1, DZ_SHAPE(1), (const int64_t[]){1});
    print_named("embedding([1])", dz_layer_call(embedding, input));
    sum_backward(embedding, input);
    printf("weight.requires_grad = %s; after a backward weight.grad is %s\n", W->requires_grad ? "True" : "False",
           W->grad ? "set" : "None");
    dz_layer_free(embedding);
}

static void embedding_bag(dz_rng *rng)
{
    printf("\n== 7. nn.EmbeddingBag(10, 3, mode=...) with offsets ==\n");
    dz_array *weight = dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(10, 3), 0.0, 1.0);
    dz_variable *input = ids(1, DZ_SHAPE(8), (const int64_t[]){1, 2, 4, 5, 4, 3, 2, 9});
    dz_variable *offsets = ids(1, DZ_SHAPE(2), (const int64_t[]){0, 4});
    printf("weight =\n");
    dz_array_print(weight, stdout);
    print_named("input", input);
    print_named("offsets (bag 0 = input[0:4] = rows 1 2 4 5, bag 1 = input[4:] = rows 4 3 2 9)", offsets);
    const dz_embedding_bag_mode modes[] = {DZ_EMBEDDING_BAG_SUM, DZ_EMBEDDING_BAG_MEAN, DZ_EMBEDDING_BAG_MAX};
    const char *names[] = {"sum", "mean", "max"};
    for (int m = 0; m < 3; m++) {
        dz_embedding_bag_options opt = dz_embedding_bag_default_options();
        opt.mode = modes[m];
        dz_layer *bag = dz_embedding_bag_layer_from_pretrained(weight, false, &opt);
        printf("mode='%s': ", names[m]);
        print_named("embedding_bag(input, offsets)", dz_layer_forward(bag, 2, (dz_variable *[]){input, offsets}));
        dz_layer_free(bag);
    }
    dz_array_release(weight);
}

int main(int argc, char **argv)
{
    const char *summary =
        "PyTorch's nn.Embedding notebook option by option (padding_idx, max_norm, scale_grad_by_freq,\n"
        "sparse, from_pretrained, EmbeddingBag), printed step by step.";
    ex_parse(&(ex_program){"embedding_pytorch", summary, 0, NULL}, argc, argv);
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_scope_begin(); /* owns every Variable made below */
    basic_lookup(&rng);
    padding(&rng);
    max_norm(&rng);
    scale_grad_by_freq(&rng);
    sparse(&rng);
    pretrained();
    embedding_bag(&rng);
    dz_scope_end();
    return 0;
}

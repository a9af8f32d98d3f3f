/* The PyTorch nn.Embedding notebook: Embedding(10, 3) after
 * torch.manual_seed(0), a lookup on a (2, 4) batch, sum().backward(), one
 * Adam(lr=0.1) step; then the same with padding_idx=0, whose row 0 is zero
 * from construction and never gets a grad.
 *
 * The library's generator is not PyTorch's, so the seeded weights are read
 * from a file (--weights) that tests/fixtures/make_notebook_fixtures.py writes
 * with PyTorch; nn.Embedding(10, 3, padding_idx=0) after the same seed draws
 * the same numbers and zeroes row 0, which is what this program does. Every
 * printed float32 is compared with PyTorch's own output
 * (tests/fixtures/notebooks/torch_embedding.txt). */
#include <stdio.h>

#include "notebook.h"

static dz_variable *ids(int64_t rows, int64_t cols, const int64_t *values)
{
    return dz_variable_constant(dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(rows, cols), values), "input");
}

/* embedding.zero_grad(); embedding(input).sum().backward() */
static void sum_backward(dz_layer *embedding, dz_variable *input)
{
    dz_layer_cleargrads(embedding);
    dz_variable_backward(dz_sum(dz_layer_call(embedding, input), 0, NULL, false), false, false);
}

/* torch.optim.Adam(embedding.parameters(), lr=0.1).step() */
static void adam_step(dz_layer *embedding)
{
    dz_adam_config config = dz_adam_defaults();
    config.lr = 0.1;
    dz_optimizer *adam = dz_adam_new(&config);
    dz_optimizer_setup(adam, embedding);
    dz_optimizer_update(adam);
    dz_optimizer_free(adam);
}

/* The notebook's cells on one layer: forward, backward, an Adam step. */
static void forward_backward_step(dz_layer *embedding, dz_variable *input, const char *forward_cell)
{
    dz_variable *W = dz_layer_param(embedding, "W");
    notebook_cell(forward_cell);
    notebook_show(dz_layer_call(embedding, input));
    notebook_cell("embedding(input).sum().backward(); embedding.weight.grad");
    sum_backward(embedding, input);
    notebook_show(W->grad);
    notebook_cell("optimizer = torch.optim.Adam(embedding.parameters(), lr=0.1); optimizer.step(); embedding.weight");
    adam_step(embedding);
    notebook_show(W);
}

int main(int argc, char **argv)
{
    notebook_options opt = notebook_parse("torch_embedding",
                                          "PyTorch's nn.Embedding notebook: lookup, backward and an Adam step, plain\n"
                                          "and with padding_idx=0. This notebook writes no files.",
                                          true, argc, argv);
    dz_array *seeded = notebook_load_weights(opt.weights); // (10, 3) float32
    dz_scope_begin(); /* owns every Variable made below */

    notebook_cell("torch.manual_seed(0); embedding = nn.Embedding(10, 3); embedding.weight");
    dz_layer *embedding = notebook_seeded_embedding(seeded, NULL);
    notebook_show(dz_layer_param(embedding, "W"));
    forward_backward_step(embedding, ids(2, 4, (const int64_t[]){1, 2, 4, 5, 4, 3, 2, 9}),
                          "input = torch.LongTensor([[1, 2, 4, 5], [4, 3, 2, 9]]); embedding(input)");
    dz_layer_free(embedding);

    notebook_cell("torch.manual_seed(0); embedding = nn.Embedding(10, 3, padding_idx=0); embedding.weight");
    dz_embedding_options padding = dz_embedding_default_options();
    padding.has_padding_idx = true;
    padding.padding_idx = 0;
    embedding = notebook_seeded_embedding(seeded, &padding);
    dz_array *W = dz_layer_param(embedding, "W")->data; // (10, D)
    for (int64_t d = 0; d < W->shape[1]; d++)
        dz_array_set(W, d, 0.0); /* row 0, as the constructor zeroes the padding row */
    notebook_show(dz_layer_param(embedding, "W"));
    forward_backward_step(embedding, ids(1, 4, (const int64_t[]){0, 2, 0, 5}),
                          "input = torch.LongTensor([[0, 2, 0, 5]]); embedding(input)");
    dz_layer_free(embedding);

    dz_scope_end();
    dz_array_release(seeded);
    return 0;
}

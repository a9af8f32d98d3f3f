/* The embedding-lookup notebook: a lookup is one_hot(idx) @ W without the
 * matmul, and nn.Embedding(10, 3, max_norm=1.0) renormalises the rows a
 * forward looks up, in the weight itself; then the norms, means and standard
 * deviations of the output rows.
 *
 * Those norms and statistics are NumPy cells (np.linalg.norm, o.std(ddof=1),
 * o.var() on float32 arrays), which dz_norm, dz_std and dz_var reproduce
 * digit for digit. PyTorch 1.13 rounds differently: its float32
 * tensor.norm(dim=...) gives here what a sequential FMA sum of squares gives,
 * and its std/var what the same formulas in double give, so torch's printout
 * differs in the last digit for two of the norms, four deviations and three
 * variances.
 *
 * The weights are nn.Embedding(10, 3)'s after torch.manual_seed(0), read from
 * the file --weights names (the library's generator is not PyTorch's). Every
 * printed number is compared with what NumPy / PyTorch print
 * (tests/fixtures/notebooks/embedding_lookup.txt). */
#include <stdio.h>

#include "notebook.h"

static void one_hot_lookup(dz_array *seeded)
{
    notebook_cell("W = nn.Embedding(10, 3).weight.detach().numpy()  # after torch.manual_seed(0)");
    dz_variable *W = dz_variable_constant(dz_array_retain(seeded), "W"); // (V=10, D=3)
    notebook_show(W);
    notebook_cell("idx = np.array([1, 2, 4, 4, 3, 9]); one_hot = np.eye(10, dtype=np.float32)[idx]; one_hot");
    dz_variable *idx = dz_variable_constant(
        dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(6), (const int64_t[]){1, 2, 4, 4, 3, 9}), "idx");
    dz_variable *one_hot = dz_one_hot(idx, 10, DZ_F32); // (6, V)
    notebook_show(one_hot);
    notebook_cell("one_hot @ W");
    dz_variable *by_matmul = dz_matmul(one_hot, W); // (6, D)
    notebook_show(by_matmul);
    notebook_cell("W[idx]");
    dz_variable *by_lookup = dz_get_item(W, DZ_INDICES(DZ_TAKE(idx->data))); // (6, D)
    notebook_show(by_lookup);
    notebook_cell("np.array_equal(one_hot @ W, W[idx])");
    printf("%s\n", ex_array_equal(by_matmul->data, by_lookup->data) ? "True" : "False");
}

/* np.linalg.norm(x, axis=axis): the 2-norm over one axis. */
static dz_variable *norm(dz_variable *x, int axis)
{
    return dz_norm(x, 2.0, 1, (const int[]){axis}, false);
}

static void max_norm(dz_array *seeded)
{
    notebook_cell("torch.manual_seed(0); embedding = nn.Embedding(10, 3, max_norm=1.0); "
                  "np.linalg.norm(embedding.weight.detach().numpy(), axis=1)");
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_max_norm = true;
    opt.max_norm = 1.0;
    dz_layer *embedding = notebook_seeded_embedding(seeded, &opt);
    dz_variable *W = dz_layer_param(embedding, "W");
    DZ_NO_GRAD
    {
        notebook_show(norm(W, 1));
    }
    notebook_cell("input = torch.LongTensor([[1, 2, 4], [4, 3, 9]]); out = embedding(input); out");
    dz_variable *input = dz_variable_constant(
        dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(2, 3), (const int64_t[]){1, 2, 4, 4, 3, 9}), "input");
    dz_variable *out = dz_layer_call(embedding, input); // (2, 3, D)
    notebook_show(out);
    notebook_cell("embedding.weight  # rows 2, 3, 4, 9 renormalised in place");
    notebook_show(W);
    DZ_NO_GRAD
    {
        notebook_cell("W = embedding.weight.detach().numpy(); np.linalg.norm(W, axis=1)");
        notebook_show(norm(W, 1));
        notebook_cell("o = out.detach().numpy(); np.linalg.norm(o, axis=-1)");
        notebook_show(norm(out, -1));
        notebook_cell("o.mean(axis=-1)");
        notebook_show(dz_mean(out, 1, (const int[]){-1}, false));
        notebook_cell("o.std(axis=-1, ddof=1)");
        notebook_show(dz_std(out, 1, (const int[]){-1}, 1, false));
        notebook_cell("o.var(axis=-1)");
        notebook_show(dz_var(out, 1, (const int[]){-1}, 0, false));
    }
    dz_layer_free(embedding);
}

int main(int argc, char **argv)
{
    notebook_options opt = notebook_parse("embedding_lookup",
                                          "An embedding lookup is one_hot(idx) @ W; nn.Embedding with max_norm\n"
                                          "renormalises looked-up rows in place. This notebook writes no files.",
                                          true, argc, argv);
    dz_array *seeded = notebook_load_weights(opt.weights); // (10, 3) float32
    dz_scope_begin(); /* owns every Variable made below */
    one_hot_lookup(seeded);
    max_norm(seeded);
    dz_scope_end();
    dz_array_release(seeded);
    return 0;
}

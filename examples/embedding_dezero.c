/* The embedding experiments of DeZero (EmbedID, GetItem) and "Deep Learning
 * from Scratch 2" (chapter 4, "Embedding layer"), step by step:
 *
 *   1. W = np.arange(21).reshape(7, 3); W[2], W[5], W[idx] for idx = [1, 0, 3, 0]
 *      and for a 2-D idx (an embedding lookup is just fancy indexing);
 *   2. the backward of W[idx] with repeated ids [1, 3, 1, 3]: the grads of a
 *      row add up, as np.add.at does;
 *   3. the same through dz_embedding (DeZero's F.embed_id);
 *   4. one_hot(idx, V) @ W == W[idx], with equal gradients w.r.t. W: the
 *      lookup is the matmul without the wasted work;
 *   5. DLfS2's Embedding layer: forward out = W[idx], backward dW[idx] += dout,
 *      for an upstream dout that is not all ones. */
#include <stdio.h>

#include "common/ex.h"

/* An int64 index Variable holding `values` with the given shape. */
static dz_variable *index_variable(int ndim, const int64_t *shape, const int64_t *values)
{
    return dz_variable_new(dz_array_from_buffer(DZ_I64, ndim, shape, values), "idx");
}

static void print_named(const char *name, const dz_variable *v)
{
    printf("%s =\n", name);
    dz_variable_print(v, stdout);
}

int main(int argc, char **argv)
{
    const char *summary =
        "The embedding experiments of DeZero (EmbedID, GetItem) and DLfS2 chapter 4, "
        "printed step by step.";
    ex_parse(&(ex_program){"embedding_dezero", summary, 0, NULL}, argc, argv);
    dz_scope_begin(); /* owns every Variable made below */

    /* 1. W[idx] picks rows. DeZero's EmbedID is float64, so W is float64. */
    dz_array *flat = dz_array_arange(DZ_F64, 0, 21, 1);
    dz_variable *W = dz_parameter_new(dz_array_reshape(flat, 2, DZ_SHAPE(7, 3)), "W"); // (V=7, D=3)
    dz_array_release(flat);
    printf("== 1. An embedding lookup is W[idx] ==\n");
    print_named("W", W);
    print_named("W[2]", dz_get_item(W, DZ_INDICES(DZ_I(2))));
    print_named("W[5]", dz_get_item(W, DZ_INDICES(DZ_I(5))));

    dz_variable *idx = index_variable(1, DZ_SHAPE(4), (const int64_t[]){1, 0, 3, 0});
    print_named("idx", idx);
    print_named("W[idx]  (one row per id, shape (4, 3))", dz_get_item(W, DZ_INDICES(DZ_TAKE(idx->data))));

    dz_variable *idx2 = index_variable(2, DZ_SHAPE(2, 2), (const int64_t[]){0, 1, 1, 4});
    dz_variable *y2 = dz_get_item(W, DZ_INDICES(DZ_TAKE(idx2->data)));
    char shape[64];
    printf("a 2-D idx of shape (2, 2) gives W[idx] of shape %s:\n",
           dz_shape_format(dz_variable_ndim(y2), dz_variable_shape(y2), shape, sizeof shape));
    dz_variable_print(y2, stdout);

    /* 2. Backward: y.backward() seeds ones; row k of W.grad gets one per occurrence of k. */
    printf("\n== 2. Backward with repeated ids accumulates (np.add.at) ==\n");
    dz_variable *dup = index_variable(1, DZ_SHAPE(4), (const int64_t[]){1, 3, 1, 3});
    dz_variable *y = dz_get_item(W, DZ_INDICES(DZ_TAKE(dup->data)));
    dz_variable_backward(y, false, false);
    printf("idx = [1 3 1 3]; y = W[idx]; y.backward(): rows 1 and 3 appear twice, so they get 2\n");
    print_named("W.grad", W->grad);
    dz_variable *grad_getitem = dz_scope_keep(W->grad); /* kept for the comparisons below */

    /* 3. dz_embedding (F.embed_id, PyTorch's F.embedding) is the same lookup. */
    printf("\n== 3. The same through dz_embedding ==\n");
    dz_variable_cleargrad(W);
    y = dz_embedding(dup, W, NULL);
    dz_variable_backward(y, false, false);
    print_named("dz_embedding(idx, W)", y);
    print_named("W.grad", W->grad);
    printf("same grad as W[idx]: %s\n", ex_array_equal(W->grad->data, grad_getitem->data) ? "True" : "False");

    /* 4. one_hot(idx) @ W: a (4, 7) matrix of 0/1 times W selects the same rows. */
    printf("\n== 4. one_hot(idx, V) @ W == W[idx] ==\n");
    dz_variable *one_hot = dz_one_hot(dup, 7, DZ_F64); // (4, 7)
    print_named("one_hot(idx, 7)", one_hot);
    dz_variable_cleargrad(W);
    dz_variable *by_matmul = dz_matmul(one_hot, W); // (4, 3)
    dz_variable_backward(by_matmul, false, false);
    print_named("one_hot @ W", by_matmul);
    printf("equal to W[idx]: %s\n", ex_array_equal(by_matmul->data, y->data) ? "True" : "False");
    print_named("W.grad through the matmul (one_hot.T @ ones)", W->grad);
    printf("equal to the grad of W[idx]: %s\n", ex_array_equal(W->grad->data, grad_getitem->data) ? "True" : "False");
    printf("(the matmul does V*D multiply-adds per id; the lookup copies D numbers)\n");

    /* 5. DLfS2's Embedding layer, with an upstream gradient dout of our own. */
    printf("\n== 5. DLfS2 Embedding layer: forward W[idx], backward dW[idx] += dout ==\n");
    dz_variable *ids = index_variable(1, DZ_SHAPE(4), (const int64_t[]){0, 2, 0, 4});
    dz_array *dout_values = dz_array_arange(DZ_F64, 1, 13, 1);
    dz_variable *dout = dz_variable_new(dz_array_reshape(dout_values, 2, DZ_SHAPE(4, 3)), "dout"); // (4, 3)
    dz_array_release(dout_values);
    print_named("idx", ids);
    print_named("dout", dout);
    dz_variable_cleargrad(W);
    dz_variable *out = dz_embedding(ids, W, NULL);
    dz_variable_set_grad(out, dout); /* backward starts from dout instead of ones */
    dz_variable_backward(out, false, false);
    print_named("out = W[idx]", out);
    print_named("dW (rows 0 = dout[0] + dout[2], 2 = dout[1], 4 = dout[3])", W->grad);

    /* The book's backward written out: dW = 0; for i: dW[idx[i]] += dout[i]. */
    dz_array *dW = dz_array_zeros(DZ_F64, 2, DZ_SHAPE(7, 3)); // (V, D)
    for (int64_t i = 0; i < 4; i++) {
        int64_t row = (int64_t)dz_array_get(ids->data, i);
        for (int64_t d = 0; d < 3; d++)
            dz_array_set(dW, row * 3 + d, dz_array_get(dW, row * 3 + d) + dz_array_get(dout->data, i * 3 + d));
    }
    printf("a plain loop dW[idx[i]] += dout[i] gives the same dW: %s\n",
           ex_array_equal(dW, W->grad->data) ? "True" : "False");
    dz_array_release(dW);

    dz_variable_release(grad_getitem);
    dz_scope_end();
    return 0;
}

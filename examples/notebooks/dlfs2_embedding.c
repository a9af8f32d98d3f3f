/* The embedding notebook of "Deep Learning from Scratch 2" (chapter 4):
 * W[idx] picks rows, and the Embedding layer's backward, first as the book
 * writes it wrongly (dW[idx] = dout: a repeated id keeps one row of dout)
 * and then rightly (np.add.at(dW, idx, dout): the rows add up).
 *
 * The layer's forward is GetItem (W[idx]) and its backward is GetItem's
 * backward (np.add.at). Its output is compared with what NumPy prints for the
 * same cells (tests/fixtures/notebooks/dlfs2_embedding.txt). */
#include <stdio.h>

#include "notebook.h"

static dz_variable *index_constant(int64_t n, const int64_t *values)
{
    return dz_variable_constant(dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(n), values), "idx");
}

/* np.arange(21).reshape(7, 3) in `dtype`. */
static dz_array *arange_7x3(dz_dtype dtype)
{
    dz_array *flat = dz_array_arange(dtype, 0, 21, 1);
    dz_array *W = dz_array_reshape(flat, 2, DZ_SHAPE(7, 3)); // (V=7, D=3)
    dz_array_release(flat);
    return W;
}

/* dW[...] = 0; dW[idx] = dout. The library has no assignment into an array
 * (no setitem or scatter), so each row i of dout is written with a where over
 * the rows equal to idx[i], in idx's order: a repeated id keeps its last row,
 * as NumPy's assignment does. */
static dz_variable *assign_rows(const int64_t *shape, dz_variable *idx, dz_variable *dout)
{
    dz_variable *dW = dz_variable_constant(dz_array_zeros(DZ_F64, 2, shape), "dW"); // (V, D)
    dz_array *flat = dz_array_arange(DZ_I64, 0, (double)shape[0], 1);
    dz_variable *rows = dz_variable_constant(dz_array_reshape(flat, 2, DZ_SHAPE(shape[0], 1)), NULL); // (V, 1)
    dz_array_release(flat);
    for (int64_t i = 0; i < dz_variable_len(idx); i++) {
        dz_variable *hit = dz_equal(rows, dz_get_item(idx, DZ_INDICES(DZ_I(i)))); // (V, 1)
        dW = dz_where(hit, dz_get_item(dout, DZ_INDICES(DZ_I(i))), dW);          // (V, D)
    }
    return dW;
}

int main(int argc, char **argv)
{
    notebook_parse("dlfs2_embedding",
                   "DLfS2's Embedding layer: W[idx], and its backward with dW[idx] = dout (wrong) and np.add.at\n"
                   "(right). This notebook writes no files.",
                   false, argc, argv);
    dz_scope_begin(); /* owns every Variable made below */

    notebook_cell("W = np.arange(21).reshape(7, 3); W");
    dz_variable *W = dz_variable_constant(arange_7x3(DZ_I64), "W");
    notebook_show(W);
    notebook_cell("W[2]");
    notebook_show(dz_get_item(W, DZ_INDICES(DZ_I(2))));
    notebook_cell("W[5]");
    notebook_show(dz_get_item(W, DZ_INDICES(DZ_I(5))));
    notebook_cell("idx = np.array([1, 0, 3, 0]); W[idx]");
    dz_variable *idx = index_constant(4, (const int64_t[]){1, 0, 3, 0});
    notebook_show(dz_get_item(W, DZ_INDICES(DZ_TAKE(idx->data))));

    /* The layer on float weights: forward W[1], backward from dout = [1, 2, 3]. */
    dz_variable *Wf = dz_parameter_new(arange_7x3(DZ_F64), "W");
    notebook_cell("layer = Embedding(W.astype(float)); layer.forward(1)");
    dz_variable *out = dz_get_item(Wf, DZ_INDICES(DZ_I(1))); // (D,)
    notebook_show(out);
    notebook_cell("dW = np.zeros_like(W); dW[1] += np.array([1., 2., 3.]); dW  # layer.backward(dout)");
    dz_variable_set_grad(out, dz_variable_constant(dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(3),
                                                                        (const double[]){1, 2, 3}), "dout"));
    dz_variable_backward(out, false, false);
    notebook_show(Wf->grad);

    /* A batch with a repeated id: both backwards. */
    notebook_cell("idx = np.array([0, 2, 0, 4]); dout = np.arange(1, 13).reshape(4, 3); layer.forward(idx)");
    idx = index_constant(4, (const int64_t[]){0, 2, 0, 4});
    dz_array *dout_values = dz_array_arange(DZ_F64, 1, 13, 1);
    dz_variable *dout = dz_variable_constant(dz_array_reshape(dout_values, 2, DZ_SHAPE(4, 3)), "dout"); // (4, D)
    dz_array_release(dout_values);
    dz_variable_cleargrad(Wf);
    out = dz_get_item(Wf, DZ_INDICES(DZ_TAKE(idx->data))); // (4, D)
    notebook_show(out);
    notebook_show(dout);
    notebook_cell("dW[...] = 0; dW[idx] = dout; dW  # the book's first backward: wrong for repeated ids");
    dz_variable *overwritten = assign_rows(dz_variable_shape(Wf), idx, dout);
    notebook_show(overwritten);
    notebook_cell("dW[...] = 0; np.add.at(dW, idx, dout); dW  # the right backward");
    dz_variable_set_grad(out, dout);
    dz_variable_backward(out, false, false);
    notebook_show(Wf->grad);
    notebook_cell("added - overwritten  # row 0 lost dout[0]");
    notebook_show(dz_sub(Wf->grad, overwritten));

    dz_scope_end();
    return 0;
}

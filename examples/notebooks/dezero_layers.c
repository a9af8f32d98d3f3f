/* The DeZero notebook of Layers (steps 44-45, 53 of "Deep Learning from
 * Scratch 3"): a Layer registers its Parameters by name, Linear sizes W from
 * its first input, EmbedID looks rows up with W[x], GetItem's grads add up
 * where an index repeats, and save_weights / load_weights round-trip a model
 * through an .npz file (written into --output-dir as dezero_layers.npz;
 * tests/notebook_npz_check.py reads it back with NumPy).
 *
 * Where C cannot say what Python says: a Layer here registers what is added
 * with dz_layer_add_param (Python registers any Parameter attribute, and
 * ignores the Variable p3 and the string p4, which a C layer has no place
 * for), and lists names in insertion order (DeZero's set of names has no fixed
 * order). Random initial weights are printed by shape only, as DeZero's come
 * from NumPy's generator. Output is compared with the same cells run in NumPy
 * (tests/fixtures/notebooks/dezero_layers.txt). */
#include <stdio.h>

#include "notebook.h"

static void print_variable_names(const dz_layer *layer)
{
    dz_param_list *list = dz_layer_params(layer);
    for (int i = 0; i < list->count; i++) {
        printf("%s ", list->paths[i]);
        notebook_show_variable(list->params[i]);
    }
    dz_param_list_free(list);
}

static void layer_params(void)
{
    notebook_cell("layer = Layer(); layer.p1 = Parameter(np.array(1)); layer.p2 = Parameter(np.array(2)); "
                  "layer.p3 = Variable(np.array(3)); layer.p4 = 'test'");
    dz_layer *layer = dz_model_new();
    dz_layer_add_param(layer, "p1", dz_parameter_new(dz_array_scalar(DZ_I64, 1), "p1"));
    dz_layer_add_param(layer, "p2", dz_parameter_new(dz_array_scalar(DZ_I64, 2), "p2"));
    notebook_cell("for name in layer._params: print(name, layer.__dict__[name])");
    print_variable_names(layer);
    dz_layer_free(layer);
}

static void lazy_linear(dz_rng *rng)
{
    notebook_cell("linear = L.Linear(5); linear.W.data");
    dz_layer *linear = dz_linear_layer_new(5, 0, false, DZ_F32, rng); /* in_size 0: lazy */
    dz_variable *W = dz_layer_param(linear, "W");
    if (W->data)
        notebook_show(W);
    else
        printf("None\n");
    notebook_cell("x = np.arange(6, dtype=np.float32).reshape(2, 3); y = linear(x); linear.W.shape, y.shape");
    dz_array *flat = dz_array_arange(DZ_F32, 0, 6, 1);
    dz_variable *x = dz_variable_constant(dz_array_reshape(flat, 2, DZ_SHAPE(2, 3)), "x"); // (N=2, in=3)
    dz_array_release(flat);
    dz_variable *y = dz_layer_call(linear, x); // (N, out=5)
    char w_shape[64], y_shape[64];
    printf("(%s, %s)\n", dz_shape_format(dz_variable_ndim(W), dz_variable_shape(W), w_shape, sizeof w_shape),
           dz_shape_format(dz_variable_ndim(y), dz_variable_shape(y), y_shape, sizeof y_shape));
    notebook_cell("linear.W.dtype, linear.b");
    printf("%s\n", dz_dtype_name(dz_variable_dtype(W)));
    notebook_show_variable(dz_layer_param(linear, "b"));
    dz_layer_free(linear);
}

/* np.arange(21.).reshape(7, 3) */
static dz_array *arange_7x3(void)
{
    dz_array *flat = dz_array_arange(DZ_F64, 0, 21, 1);
    dz_array *W = dz_array_reshape(flat, 2, DZ_SHAPE(7, 3)); // (V=7, D=3)
    dz_array_release(flat);
    return W;
}

static void embed_id(void)
{
    notebook_cell("emb = L.EmbedID(7, 3); emb.W.data = np.arange(21.).reshape(7, 3); "
                  "y = emb(np.array([[0, 1], [1, 4]])); y");
    dz_array *weights = arange_7x3();
    dz_layer *emb = dz_embedding_layer_from_pretrained(weights, false, NULL);
    dz_array_release(weights); /* the layer holds its own reference */
    dz_variable *x = dz_variable_constant(
        dz_array_from_buffer(DZ_I64, 2, DZ_SHAPE(2, 2), (const int64_t[]){0, 1, 1, 4}), "x");
    dz_variable *y = dz_layer_call(emb, x); // (2, 2, D)
    notebook_show_variable(y);
    notebook_cell("y.backward(); emb.W.grad");
    dz_variable_backward(y, false, false);
    notebook_show_variable(dz_layer_param(emb, "W")->grad);
    dz_layer_free(emb);
}

/* x = Variable([[1., 2., 3.], [4., 5., 6.]]); y = x[index]; y; y.backward(); x.grad */
static void get_item(const char *code, int nindex, const dz_index *index)
{
    char cell[160];
    snprintf(cell, sizeof cell, "x = Variable(np.array([[1., 2., 3.], [4., 5., 6.]])); y = %s; y", code);
    notebook_cell(cell);
    dz_variable *x = dz_variable_new(
        dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(2, 3), (const double[]){1, 2, 3, 4, 5, 6}), "x");
    dz_variable *y = dz_get_item(x, nindex, index);
    notebook_show_variable(y);
    notebook_cell("y.backward(); x.grad");
    dz_variable_backward(y, false, false);
    notebook_show_variable(x->grad);
}

/* model.l1 = L.Linear(3, in_size) (lazy for in_size 0) in a Model. */
static dz_layer *model_with_linear(int64_t in_size, dz_rng *rng)
{
    dz_layer *model = dz_model_new();
    dz_layer_add_child(model, "l1", dz_linear_layer_new(3, in_size, false, DZ_F32, rng));
    return model;
}

static int save_and_load(const char *output_dir, dz_rng *rng)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/dezero_layers.npz", output_dir);
    notebook_cell("model = Model(); model.l1 = L.Linear(3, in_size=2); "
                  "model.l1.W.data = np.arange(6).reshape(2, 3) / 10; model.l1.b.data = np.array([0.5, -1, 2]); "
                  "model.save_weights(path)");
    dz_layer *model = model_with_linear(2, rng);
    dz_layer *l1 = dz_layer_child(model, "l1");
    const float W[] = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, b[] = {0.5f, -1.0f, 2.0f};
    dz_variable_set_data(dz_layer_param(l1, "W"), dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(2, 3), W)); // (in, out)
    dz_variable_set_data(dz_layer_param(l1, "b"), dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(3), b));    // (out,)
    dz_status saved = dz_layer_save_weights(model, path, true); /* DeZero saves with np.savez_compressed */
    dz_layer_free(model);
    if (saved != DZ_OK) {
        fprintf(stderr, "save_weights: %s\n", dz_last_error());
        return 1;
    }

    notebook_cell("model2 = Model(); model2.l1 = L.Linear(3); model2.load_weights(path); model2.l1.W, model2.l1.b");
    dz_layer *model2 = model_with_linear(0, rng);
    if (dz_layer_load_weights(model2, path) != DZ_OK) {
        fprintf(stderr, "load_weights: %s\n", dz_last_error());
        dz_layer_free(model2);
        return 1;
    }
    l1 = dz_layer_child(model2, "l1");
    notebook_show_variable(dz_layer_param(l1, "W"));
    notebook_show_variable(dz_layer_param(l1, "b"));
    notebook_cell("x = np.array([[1., 1.]], dtype=np.float32); model2.l1(x)");
    dz_variable *x = dz_variable_constant(dz_array_ones(DZ_F32, 2, DZ_SHAPE(1, 2)), "x");
    notebook_show_variable(dz_layer_call(l1, x));
    dz_layer_free(model2);
    return 0;
}

int main(int argc, char **argv)
{
    notebook_options opt = notebook_parse("dezero_layers",
                                          "DeZero's Layer, Linear (lazy), EmbedID and GetItem, and save_weights /\n"
                                          "load_weights into DIR/dezero_layers.npz.",
                                          false, argc, argv);
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_scope_begin(); /* owns every Variable made below */
    layer_params();
    lazy_linear(&rng);
    embed_id();
    get_item("x[1]", DZ_INDICES(DZ_I(1)));
    get_item("x[:, 2]", DZ_INDICES(DZ_ALL, DZ_I(2)));
    dz_array *rows = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (const int64_t[]){0, 0, 1});
    get_item("x[[0, 0, 1]]", DZ_INDICES(DZ_TAKE(rows)));
    int status = save_and_load(opt.output_dir, &rng);
    dz_scope_end();
    dz_array_release(rows);
    return status;
}

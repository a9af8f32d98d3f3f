/* Bad-argument cases for the functions of layer, layers, sequential, npz and optim.h (see bad_args.h). */
#include "bad_args.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG ((int64_t)1 << 40)

/* The call raises nothing and `cond` (which makes the call) holds. */
#define EXPECT_QUIET_THAT(cond)                                                                                   \
    do {                                                                                                           \
        bool holds_;                                                                                               \
        EXPECT_QUIET(holds_ = (cond));                                                                             \
        if (!holds_)                                                                                               \
            bad_args_fail(__FILE__, __LINE__, "check failed: %s", #cond);                                          \
    } while (0)

/* A path for calls that fail before they touch a file. */
#define UNUSED_PATH "unused.npz"

/* ---- helpers ---- */

static dz_variable *input(dz_dtype dtype, int64_t rows, int64_t cols)
{
    return dz_variable_constant(dz_array_ones(dtype, 2, DZ_SHAPE(rows, cols)), NULL);
}

static dz_layer *linear(int64_t out_size, int64_t in_size)
{
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    return dz_linear_layer_new(out_size, in_size, false, DZ_F32, &rng);
}

/* A file path in a fresh directory (removed by remove_dir). A case creates
 * it only after its user errors, which abort the child under the default
 * handler, so that no directory is left behind. */
static char dir[64];

static const char *path_in_dir(const char *name)
{
    static char path[128];
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/dz_bad_args_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        BAD_ARGS_CHECK(mkdtemp(dir) != NULL);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    BAD_ARGS_CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

/* The first half of the file at `path`, written back over it. */
static void truncate_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    write_file(path, buf, n / 2);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    BAD_ARGS_CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            BAD_ARGS_CHECK(unlink(path) == 0);
    }
    if (d)
        closedir(d);
    BAD_ARGS_CHECK(rmdir(dir) == 0);
    dir[0] = '\0';
}

/* An Adam on `model` (a Linear with 3 inputs) that has taken one step. */
static dz_optimizer *stepped_adam(dz_layer *model)
{
    dz_optimizer *opt = dz_adam_new(NULL);
    BAD_ARGS_CHECK(dz_optimizer_setup(opt, model) == DZ_OK);
    dz_scope_begin();
    dz_variable_backward(dz_sum(dz_layer_call(model, input(DZ_F32, 4, 3)), 0, NULL, false), false, false);
    BAD_ARGS_CHECK(dz_optimizer_update(opt) == DZ_OK);
    dz_scope_end();
    return opt;
}

/* ---- layer.h ---- */

static dz_variable *no_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)self;
    (void)n;
    return x[0];
}

static void layer_init(void)
{
    static const dz_layer_ops ops = {.type = "Test", .forward = no_forward}, untyped = {.forward = no_forward};
    dz_layer layer;
    EXPECT_RAISED(dz_layer_init(NULL, &ops), DZ_ERR_NULL);
    EXPECT_RAISED(dz_layer_init(&layer, NULL), DZ_ERR_NULL);
    EXPECT_RAISED(dz_layer_init(&layer, &untyped), DZ_ERR_NULL);
    EXPECT_QUIET(dz_layer_init(&layer, &ops));
}

static void model_new(void)
{
    dz_layer *m = dz_model_new();
    BAD_ARGS_CHECK(m && dz_layer_count_params(m) == 0);
    dz_layer_free(m);
}

static void layer_free(void)
{
    EXPECT_QUIET(dz_layer_free(NULL));
    dz_layer *m = dz_model_new(), *child = dz_layer_add_child(m, "c", linear(2, 3));
    EXPECT_RAISED(dz_layer_free(child), DZ_ERR_STATE); /* its root frees it */
    dz_layer_free(m);
}

static void layer_add_param(void)
{
    dz_scope_begin();
    dz_layer *m = dz_model_new();
    dz_variable *p = dz_parameter_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(2)), NULL);
    EXPECT_NULL(dz_layer_add_param(NULL, "p", p), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_param(m, NULL, p), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_param(m, "p", NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_param(m, "", p), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_add_param(m, "a/b", p), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_layer_add_param(m, "p", p) == p);
    EXPECT_NULL(dz_layer_add_param(m, "p", p), DZ_ERR_VALUE);
    dz_layer_add_child(m, "c", dz_model_new());
    EXPECT_NULL(dz_layer_add_param(m, "c", p), DZ_ERR_VALUE);
    dz_layer_free(m);
    dz_scope_end();
}

static void layer_add_child(void)
{
    dz_layer *a = dz_model_new(), *b = dz_model_new(), *c = dz_model_new();
    EXPECT_NULL(dz_layer_add_child(NULL, "c", c), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_child(a, NULL, c), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_child(a, "c", NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_add_child(a, "", c), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_add_child(a, "x/y", c), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_add_child(a, "self", a), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_layer_add_child(a, "b", b) == b);
    EXPECT_NULL(dz_layer_add_child(b, "a", a), DZ_ERR_VALUE); /* a cycle */
    EXPECT_NULL(dz_layer_add_child(b, "b", b), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_add_child(c, "b", b), DZ_ERR_STATE); /* b has a parent */
    EXPECT_NULL(dz_layer_add_child(a, "b", c), DZ_ERR_VALUE); /* name taken */
    dz_layer_free(a);
    dz_layer_free(c); /* refused, so still the caller's */
}

static void layer_param(void)
{
    dz_layer *l = linear(2, 3);
    EXPECT_NULL(dz_layer_param(NULL, "W"), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_param(l, NULL), DZ_ERR_NULL);
    EXPECT_QUIET_THAT((dz_layer_param(l, "nope") == NULL));
    dz_layer_free(l);
}

static void layer_child(void)
{
    dz_layer *m = dz_model_new();
    EXPECT_NULL(dz_layer_child(NULL, "c"), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_child(m, NULL), DZ_ERR_NULL);
    EXPECT_QUIET_THAT((dz_layer_child(m, "nope") == NULL));
    dz_layer_free(m);
}

static void layer_forward(void)
{
    dz_scope_begin();
    dz_layer *l = linear(2, 3), *m = dz_model_new();
    dz_variable *x = input(DZ_F32, 4, 3), *two[2] = {x, x}, *none[1] = {NULL};
    EXPECT_NULL(dz_layer_forward(NULL, 1, &x), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_forward(m, 1, &x), DZ_ERR_STATE);
    EXPECT_NULL(dz_layer_forward(l, -1, &x), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_forward(l, 1, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_forward(l, 0, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_forward(l, 2, two), DZ_ERR_VALUE);
    EXPECT_NULL(dz_layer_forward(l, 1, none), DZ_ERR_NULL);
    dz_variable *f64 = input(DZ_F64, 4, 3);
    dz_variable *i64 = dz_variable_constant(dz_array_zeros(DZ_I64, 2, DZ_SHAPE(4, 3)), NULL);
    dz_variable *promoted = dz_layer_forward(l, 1, &f64); /* float64 data through a float32 layer, as NumPy */
    BAD_ARGS_CHECK(promoted && promoted->data->dtype == DZ_F64);
    EXPECT_NULL(dz_layer_forward(l, 1, &i64), DZ_ERR_DTYPE);
    dz_variable *wrong = input(DZ_F32, 4, 5), *flat = dz_variable_constant(dz_array_ones(DZ_F32, 1, DZ_SHAPE(3)), NULL);
    EXPECT_NULL(dz_layer_forward(l, 1, &wrong), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_layer_forward(l, 1, &flat), DZ_ERR_SHAPE);
    /* W's data replaced by one of another dtype */
    dz_variable_set_data(dz_layer_param(l, "W"), dz_array_ones(DZ_F64, 2, DZ_SHAPE(3, 2)));
    EXPECT_NULL(dz_layer_forward(l, 1, &x), DZ_ERR_STATE);
    dz_layer_free(l);
    dz_layer_free(m);
    dz_scope_end();
}

static void layer_call(void)
{
    dz_scope_begin();
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    dz_layer *lazy = linear(2, 0), *mlp = dz_mlp_new(2, (const int64_t[]){4, 2}, NULL, DZ_F32, &rng);
    dz_layer *rnn = dz_rnn_layer_new(4, 3, DZ_F32, &rng), *lstm = dz_lstm_layer_new(4, 3, DZ_F32, &rng);
    EXPECT_NULL(dz_layer_call(NULL, input(DZ_F32, 2, 3)), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_call(lazy, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_layer_call(lazy, input(DZ_F32, 2, 0)), DZ_ERR_SHAPE);
    BAD_ARGS_CHECK(dz_layer_param(lazy, "W")->data == NULL); /* still lazy */
    EXPECT_NULL(dz_layer_call(mlp, dz_variable_constant(dz_array_zeros(DZ_I32, 2, DZ_SHAPE(2, 3)), NULL)),
                DZ_ERR_DTYPE);
    EXPECT_NULL(dz_layer_call(mlp, NULL), DZ_ERR_NULL);
    dz_layer *recurrent[2] = {rnn, lstm};
    for (int k = 0; k < 2; k++) {
        dz_layer *r = recurrent[k];
        EXPECT_NULL(dz_layer_call(r, NULL), DZ_ERR_NULL);
        EXPECT_NULL(dz_layer_call(r, input(DZ_F32, 2, 5)), DZ_ERR_SHAPE);
        BAD_ARGS_CHECK(dz_layer_call(r, input(DZ_F32, 2, 3)) != NULL);
        EXPECT_NULL(dz_layer_call(r, input(DZ_F32, 5, 3)), DZ_ERR_SHAPE); /* batch changed without a reset */
        dz_layer_reset_state(r);
        EXPECT_QUIET_THAT((dz_layer_call(r, input(DZ_F32, 5, 3)) != NULL));
    }
    dz_layer_free(lazy);
    dz_layer_free(mlp);
    dz_layer_free(rnn);
    dz_layer_free(lstm);
    dz_scope_end();
}

static void layer_reset_state(void)
{
    dz_layer *l = linear(2, 3);
    EXPECT_RAISED(dz_layer_reset_state(NULL), DZ_ERR_NULL);
    EXPECT_QUIET(dz_layer_reset_state(l));
    dz_layer_free(l);
}

static void layer_plot(void)
{
    dz_scope_begin();
    dz_layer *l = linear(2, 3);
    dz_variable *x = input(DZ_F32, 4, 3), *bad = input(DZ_F32, 4, 4);
    EXPECT_STATUS(dz_layer_plot(NULL, 1, &x, UNUSED_PATH, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_plot(l, 1, &x, NULL, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_plot(l, 1, &bad, UNUSED_PATH, false), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_plot(l, 1, &x, "no/such/dir/g.dot", false), DZ_ERR_IO);
    dz_layer_free(l);
    dz_scope_end();
}

static void layer_params(void)
{
    EXPECT_NULL(dz_layer_params(NULL), DZ_ERR_NULL);
}

static void param_list_free(void) { EXPECT_QUIET(dz_param_list_free(NULL)); }

static void layer_cleargrads(void) { EXPECT_RAISED(dz_layer_cleargrads(NULL), DZ_ERR_NULL); }

static void layer_count_params(void) { EXPECT_VALUE(dz_layer_count_params(NULL), 0, DZ_ERR_NULL); }

static void layer_to_device(void)
{
    dz_layer *l = linear(2, 3);
    EXPECT_STATUS(dz_layer_to_device(NULL, DZ_CPU), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_to_device(l, (dz_device)7), DZ_ERR_DEVICE);
    EXPECT_STATUS(dz_layer_to_device(l, (dz_device)-1), DZ_ERR_DEVICE);
    if (!dz_cuda_available())
        EXPECT_STATUS(dz_layer_to_device(l, DZ_CUDA), DZ_ERR_DEVICE);
    BAD_ARGS_CHECK(dz_layer_param(l, "W")->data->device == DZ_CPU);
    dz_layer_free(l);
}

static void layer_to_cpu(void)
{
    dz_layer *l = linear(2, 3);
    EXPECT_STATUS(dz_layer_to_cpu(NULL), DZ_ERR_NULL);
    EXPECT_QUIET_THAT((dz_layer_to_cpu(l) == DZ_OK));
    dz_layer_free(l);
}

static void layer_to_gpu(void)
{
    dz_layer *l = linear(2, 3);
    EXPECT_STATUS(dz_layer_to_gpu(NULL), DZ_ERR_NULL);
    if (!dz_cuda_available())
        EXPECT_STATUS(dz_layer_to_gpu(l), DZ_ERR_DEVICE);
    dz_layer_free(l);
}

static void layer_save_weights(void)
{
    dz_layer *l = linear(2, 3), *lazy = linear(2, 0);
    EXPECT_STATUS(dz_layer_save_weights(NULL, UNUSED_PATH, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_save_weights(l, NULL, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_save_weights(lazy, path_in_dir("w.npz"), false), DZ_ERR_STATE);
    EXPECT_STATUS(dz_layer_save_weights(l, "no/such/dir/w.npz", true), DZ_ERR_IO);
    EXPECT_STATUS(dz_layer_save_weights(l, dir, false), DZ_ERR_IO); /* a directory */
    dz_layer_free(l);
    dz_layer_free(lazy);
    remove_dir();
}

static void layer_load_weights(void)
{
    dz_layer *l = linear(2, 3), *other = linear(2, 4), *model = dz_model_new();
    dz_layer_add_child(model, "l1", linear(2, 3));
    EXPECT_STATUS(dz_layer_load_weights(NULL, UNUSED_PATH), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_load_weights(l, NULL), DZ_ERR_NULL);
    char path[128];
    snprintf(path, sizeof path, "%s", path_in_dir("w.npz"));
    BAD_ARGS_CHECK(dz_layer_save_weights(l, path, false) == DZ_OK);
    EXPECT_STATUS(dz_layer_load_weights(other, path), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_load_weights(model, path), DZ_ERR_FORMAT); /* keys W, b; it has l1/W, l1/b */
    EXPECT_STATUS(dz_layer_load_weights(l, path_in_dir("missing.npz")), DZ_ERR_IO);
    EXPECT_STATUS(dz_layer_load_weights(l, dir), DZ_ERR_IO);
    truncate_file(path);
    EXPECT_STATUS(dz_layer_load_weights(l, path), DZ_ERR_FORMAT);
    write_file(path, "not a zip", 9);
    EXPECT_STATUS(dz_layer_load_weights(l, path), DZ_ERR_FORMAT);
    dz_layer_free(l);
    dz_layer_free(other);
    dz_layer_free(model);
    remove_dir();
}

/* ---- layers.h ---- */

static void linear_layer_new(void)
{
    EXPECT_NULL(dz_linear_layer_new(0, 3, false, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_layer_new(-2, 3, false, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_layer_new(2, -1, false, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_layer_new(2, 3, false, DZ_I32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_layer_new(2, 3, false, (dz_dtype)99, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_layer_new(BIG, BIG, false, DZ_F32, NULL), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_linear_layer_new(INT64_MAX / 4, 0, false, DZ_F64, NULL), DZ_ERR_OVERFLOW); /* b */
}

static void mlp_new(void)
{
    EXPECT_NULL(dz_mlp_new(0, (const int64_t[]){2}, NULL, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_mlp_new(-1, (const int64_t[]){2}, NULL, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_mlp_new(2, NULL, NULL, DZ_F32, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_mlp_new(2, (const int64_t[]){4, -1}, NULL, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_mlp_new(1, (const int64_t[]){4}, NULL, DZ_U8, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_mlp_new(1, (const int64_t[]){INT64_MAX}, NULL, DZ_F32, NULL), DZ_ERR_OVERFLOW);
}

static void recurrent_new_cases(dz_layer *(*make)(int64_t, int64_t, dz_dtype, dz_rng *))
{
    EXPECT_NULL(make(0, 3, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(-4, 3, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, -3, DZ_F32, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(4, 3, DZ_I64, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(make(BIG, 3, DZ_F32, NULL), DZ_ERR_OVERFLOW);
    EXPECT_NULL(make(4, INT64_MAX / 2, DZ_F32, NULL), DZ_ERR_OVERFLOW);
}

static void rnn_layer_new(void) { recurrent_new_cases(dz_rnn_layer_new); }
static void lstm_layer_new(void) { recurrent_new_cases(dz_lstm_layer_new); }

static void linear_layer_from_values(void)
{
    EXPECT_NULL(dz_linear_layer_from_values(NULL, NULL, false), DZ_ERR_NULL);
    dz_array *W = dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 2)), *b64 = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(2));
    dz_array *ints = dz_array_ones(DZ_I64, 2, DZ_SHAPE(3, 2)), *flat = dz_array_ones(DZ_F32, 1, DZ_SHAPE(3));
    dz_array *empty = dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 0));
    EXPECT_NULL(dz_linear_layer_from_values(flat, NULL, false), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_linear_layer_from_values(empty, NULL, false), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_linear_layer_from_values(ints, NULL, false), DZ_ERR_DTYPE);
    EXPECT_NULL(dz_linear_layer_from_values(W, flat, false), DZ_ERR_SHAPE); /* b (3,): W's in_size, not out */
    EXPECT_NULL(dz_linear_layer_from_values(W, W, false), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_linear_layer_from_values(W, b64, false), DZ_ERR_DTYPE);
    if (dz_cuda_available()) {
        dz_array *b = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), *gpu = dz_array_to_device(b, DZ_CUDA);
        EXPECT_NULL(dz_linear_layer_from_values(W, gpu, false), DZ_ERR_DEVICE);
        dz_array_release(gpu);
        dz_array_release(b);
    }
    dz_layer *l = dz_linear_layer_from_values(W, NULL, true);
    BAD_ARGS_CHECK(l && l->nparams == 1 && !l->params[0]->requires_grad);
    dz_layer_free(l);
    dz_array_release(W);
    dz_array_release(b64);
    dz_array_release(ints);
    dz_array_release(flat);
    dz_array_release(empty);
}

/* ---- sequential.h ---- */

static void sequential_new(void)
{
    dz_layer *seq = dz_sequential_new();
    BAD_ARGS_CHECK(seq && seq->nchildren == 0 && strcmp(seq->ops->type, "Sequential") == 0);
    dz_layer_free(seq);
}

static void sequential_add(void)
{
    dz_layer *seq = dz_sequential_new(), *m = dz_model_new(), *l = linear(2, 3), *relu = dz_relu_layer_new();
    EXPECT_NULL(dz_sequential_add(NULL, l), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_add(seq, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_add(m, l), DZ_ERR_VALUE); /* not a Sequential */
    EXPECT_NULL(dz_sequential_add(seq, seq), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_sequential_add(seq, l) == l);
    EXPECT_NULL(dz_sequential_add(seq, l), DZ_ERR_STATE); /* l has a parent */
    dz_layer *inner = dz_sequential_add(seq, dz_sequential_new());
    EXPECT_NULL(dz_sequential_add(inner, seq), DZ_ERR_VALUE); /* a cycle */
    dz_layer_add_child(seq, "3", dz_model_new());
    EXPECT_NULL(dz_sequential_add(seq, relu), DZ_ERR_VALUE); /* the next name, "3", is taken */
    dz_layer_free(relu);
    dz_layer_free(seq);
    dz_layer_free(m);
}

static void sequential_of(void)
{
    EXPECT_NULL(dz_sequential_of(-1, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_sequential_of(2, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_of(2, (dz_layer *[]){dz_relu_layer_new(), NULL}), DZ_ERR_NULL); /* frees the ReLU */
    dz_layer *twice = dz_tanh_layer_new();
    EXPECT_NULL(dz_sequential_of(3, (dz_layer *[]){twice, linear(2, 3), twice}), DZ_ERR_VALUE); /* freed once */
    dz_layer *m = dz_model_new(), *child = dz_layer_add_child(m, "c", dz_relu_layer_new());
    EXPECT_NULL(dz_sequential_of(2, (dz_layer *[]){dz_sigmoid_layer_new(), child}), DZ_ERR_STATE);
    BAD_ARGS_CHECK(m->nchildren == 1 && m->children[0] == child); /* not the list's to free */
    dz_layer_free(m);
    dz_layer *empty = dz_sequential_of(0, NULL);
    BAD_ARGS_CHECK(empty && empty->nchildren == 0);
    dz_layer_free(empty);
}

/* ---- the summary (layer.h) ---- */

static void layer_summary(void)
{
    dz_scope_begin();
    dz_layer *l = linear(2, 3), *m = dz_model_new();
    dz_variable *x = input(DZ_F32, 4, 3), *bad = input(DZ_F32, 4, 5);
    FILE *out = tmpfile();
    BAD_ARGS_CHECK(out != NULL);
    EXPECT_STATUS(dz_layer_summary(NULL, 0, NULL, out), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary(l, 0, NULL, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary(l, -1, NULL, out), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_layer_summary(l, 1, NULL, out), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary(l, 1, &bad, out), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_summary(m, 1, &x, out), DZ_ERR_STATE); /* no forward of its own */
    BAD_ARGS_CHECK(ftell(out) == 0);
    EXPECT_QUIET_THAT((dz_layer_summary(m, 0, NULL, out) == DZ_OK));
    EXPECT_QUIET_THAT((dz_layer_summary(l, 1, &x, out) == DZ_OK));
    BAD_ARGS_CHECK(ftell(out) > 0);
    fclose(out);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        EXPECT_STATUS(dz_layer_summary(l, 0, NULL, full), DZ_ERR_IO);
        fclose(full);
    }
    dz_layer_free(l);
    dz_layer_free(m);
    dz_scope_end();
}

static void layer_summary_for_input(void)
{
    dz_layer *l = linear(2, 3), *m = dz_model_new();
    FILE *out = tmpfile();
    BAD_ARGS_CHECK(out != NULL);
    EXPECT_STATUS(dz_layer_summary_for_input(NULL, 2, DZ_SHAPE(4, 3), DZ_F32, DZ_CPU, out), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), DZ_F32, DZ_CPU, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary_for_input(l, -1, DZ_SHAPE(4, 3), DZ_F32, DZ_CPU, out), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 9, DZ_SHAPE(4, 3), DZ_F32, DZ_CPU, out), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, NULL, DZ_F32, DZ_CPU, out), DZ_ERR_NULL);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, -3), DZ_F32, DZ_CPU, out), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(BIG, BIG), DZ_F32, DZ_CPU, out), DZ_ERR_OVERFLOW);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), (dz_dtype)99, DZ_CPU, out), DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), DZ_F32, (dz_device)7, out), DZ_ERR_DEVICE);
    if (!dz_cuda_available())
        EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), DZ_F32, DZ_CUDA, out), DZ_ERR_DEVICE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 5), DZ_F32, DZ_CPU, out), DZ_ERR_SHAPE);
    EXPECT_STATUS(dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), DZ_I32, DZ_CPU, out), DZ_ERR_DTYPE);
    EXPECT_STATUS(dz_layer_summary_for_input(m, 2, DZ_SHAPE(4, 3), DZ_F32, DZ_CPU, out), DZ_ERR_STATE);
    BAD_ARGS_CHECK(ftell(out) == 0);
    EXPECT_QUIET_THAT((dz_layer_summary_for_input(l, 2, DZ_SHAPE(4, 3), DZ_F64, DZ_CPU, out) == DZ_OK));
    BAD_ARGS_CHECK(ftell(out) > 0);
    fclose(out);
    dz_layer_free(l);
    dz_layer_free(m);
}

/* ---- npz.h ---- */

static void npz_new(void)
{
    dz_npz *z = dz_npz_new();
    BAD_ARGS_CHECK(z && dz_npz_count(z) == 0);
    dz_npz_free(z);
}

static void npz_free(void) { EXPECT_QUIET(dz_npz_free(NULL)); }

static void npz_add(void)
{
    dz_npz *z = dz_npz_new();
    dz_array *a = dz_array_ones(DZ_F32, 1, DZ_SHAPE(2));
    EXPECT_STATUS(dz_npz_add(NULL, "a", a), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_add(z, NULL, a), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_add(z, "a", NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_add(z, "", a), DZ_ERR_VALUE);
    char *long_name = malloc(70000);
    memset(long_name, 'x', 69999);
    long_name[69999] = '\0';
    EXPECT_STATUS(dz_npz_add(z, long_name, a), DZ_ERR_VALUE);
    free(long_name);
    BAD_ARGS_CHECK(dz_npz_count(z) == 0);
    dz_array_release(a);
    dz_npz_free(z);
}

static void npz_count(void) { EXPECT_VALUE(dz_npz_count(NULL), 0, DZ_ERR_NULL); }

static void npz_name(void)
{
    dz_npz *z = dz_npz_new();
    dz_array *a = dz_array_ones(DZ_F32, 1, DZ_SHAPE(2));
    dz_npz_add(z, "a", a);
    EXPECT_NULL(dz_npz_name(NULL, 0), DZ_ERR_NULL);
    EXPECT_NULL(dz_npz_name(z, -1), DZ_ERR_INDEX);
    EXPECT_NULL(dz_npz_name(z, 1), DZ_ERR_INDEX);
    dz_array_release(a);
    dz_npz_free(z);
}

static void npz_get(void)
{
    dz_npz *z = dz_npz_new();
    EXPECT_NULL(dz_npz_get(NULL, "a"), DZ_ERR_NULL);
    EXPECT_NULL(dz_npz_get(z, NULL), DZ_ERR_NULL);
    EXPECT_QUIET_THAT((dz_npz_get(z, "absent") == NULL));
    dz_npz_free(z);
}

/* A valid npz holding one array, saved at `path`. */
static void save_one(const char *path)
{
    dz_npz *z = dz_npz_new();
    dz_array *a = dz_array_ones(DZ_F64, 2, DZ_SHAPE(16, 16));
    dz_npz_add(z, "a", a);
    BAD_ARGS_CHECK(dz_npz_save(z, path, false) == DZ_OK);
    dz_array_release(a);
    dz_npz_free(z);
}

static void npz_load(void)
{
    dz_npz *z = NULL;
    EXPECT_STATUS(dz_npz_load(NULL, &z), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_load(UNUSED_PATH, NULL), DZ_ERR_NULL);
    char path[128];
    snprintf(path, sizeof path, "%s", path_in_dir("a.npz"));
    EXPECT_STATUS(dz_npz_load(path, &z), DZ_ERR_IO); /* missing */
    EXPECT_STATUS(dz_npz_load(dir, &z), DZ_ERR_IO);
    write_file(path, "", 0);
    EXPECT_STATUS(dz_npz_load(path, &z), DZ_ERR_FORMAT);
    save_one(path);
    truncate_file(path);
    EXPECT_STATUS(dz_npz_load(path, &z), DZ_ERR_FORMAT);
    BAD_ARGS_CHECK(z == NULL);
    remove_dir();
}

static void npz_load_buffer(void)
{
    dz_npz *z = NULL;
    EXPECT_STATUS(dz_npz_load_buffer(NULL, 10, &z), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_load_buffer("PK", 2, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_load_buffer(NULL, 0, &z), DZ_ERR_FORMAT);
    EXPECT_STATUS(dz_npz_load_buffer("PK\5\6 not a zip at all", 22, &z), DZ_ERR_FORMAT);
    BAD_ARGS_CHECK(z == NULL);
}

static void npz_save(void)
{
    dz_npz *z = dz_npz_new();
    EXPECT_STATUS(dz_npz_save(NULL, UNUSED_PATH, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_save(z, NULL, false), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npz_save(z, path_in_dir("no/such/dir/a.npz"), false), DZ_ERR_IO);
    EXPECT_STATUS(dz_npz_save(z, dir, true), DZ_ERR_IO);
    dz_npz_free(z);
    remove_dir();
}

static void npy_save(void)
{
    dz_array *a = dz_array_ones(DZ_F32, 1, DZ_SHAPE(3));
    EXPECT_STATUS(dz_npy_save(NULL, a), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npy_save(UNUSED_PATH, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npy_save("no/such/dir/a.npy", a), DZ_ERR_IO);
    dz_array_release(a);
}

static void npy_load(void)
{
    dz_array *a = NULL;
    EXPECT_STATUS(dz_npy_load(NULL, &a), DZ_ERR_NULL);
    EXPECT_STATUS(dz_npy_load(UNUSED_PATH, NULL), DZ_ERR_NULL);
    char path[128];
    snprintf(path, sizeof path, "%s", path_in_dir("a.npy"));
    EXPECT_STATUS(dz_npy_load(path, &a), DZ_ERR_IO);
    write_file(path, "\x93NUMPY\x01\x00\xff\xff", 10);
    EXPECT_STATUS(dz_npy_load(path, &a), DZ_ERR_FORMAT);
    save_one(path); /* an .npz is not an .npy */
    EXPECT_STATUS(dz_npy_load(path, &a), DZ_ERR_FORMAT);
    BAD_ARGS_CHECK(a == NULL);
    remove_dir();
}

/* ---- optim.h: constructors ---- */

static void sgd_defaults(void) { EXPECT_QUIET_THAT((dz_sgd_defaults().lr == 0.01)); }

static void sgd_new(void)
{
    dz_sgd_config bad[] = {
        {.lr = -1},
        {.lr = NAN},
        {.lr = INFINITY},
        {.lr = 0.1, .momentum = -0.5},
        {.lr = 0.1, .weight_decay = NAN},
        {.lr = 0.1, .dampening = NAN},
        {.lr = 0.1, .nesterov = true},
        {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        EXPECT_NULL(dz_sgd_new(&bad[k]), DZ_ERR_VALUE);
    dz_optimizer *opt = dz_sgd_new(NULL);
    EXPECT_QUIET_THAT((opt != NULL));
    dz_optimizer_free(opt);
}

static void momentum_sgd_new(void)
{
    EXPECT_NULL(dz_momentum_sgd_new(-0.1, 0.9), DZ_ERR_VALUE);
    EXPECT_NULL(dz_momentum_sgd_new(NAN, 0.9), DZ_ERR_VALUE);
    EXPECT_NULL(dz_momentum_sgd_new(0.1, -0.9), DZ_ERR_VALUE);
    EXPECT_NULL(dz_momentum_sgd_new(0.1, INFINITY), DZ_ERR_VALUE);
}

static void adagrad_defaults(void) { EXPECT_QUIET_THAT((dz_adagrad_defaults().eps == 1e-10)); }

static void adagrad_new(void)
{
    for (int k = 0; k < 5; k++) {
        dz_adagrad_config c = dz_adagrad_defaults();
        double *field[] = {&c.lr, &c.lr_decay, &c.weight_decay, &c.initial_accumulator_value, &c.eps};
        *field[k] = -1;
        EXPECT_NULL(dz_adagrad_new(&c), DZ_ERR_VALUE);
        *field[k] = NAN;
        EXPECT_NULL(dz_adagrad_new(&c), DZ_ERR_VALUE);
    }
}

static void adadelta_defaults(void) { EXPECT_QUIET_THAT((dz_adadelta_defaults().rho == 0.9)); }

static void adadelta_new(void)
{
    dz_adadelta_config c = dz_adadelta_defaults();
    c.rho = 1.5;
    EXPECT_NULL(dz_adadelta_new(&c), DZ_ERR_VALUE);
    c.rho = NAN;
    EXPECT_NULL(dz_adadelta_new(&c), DZ_ERR_VALUE);
    c = dz_adadelta_defaults();
    c.eps = -1;
    EXPECT_NULL(dz_adadelta_new(&c), DZ_ERR_VALUE);
    c = dz_adadelta_defaults();
    c.lr = INFINITY;
    EXPECT_NULL(dz_adadelta_new(&c), DZ_ERR_VALUE);
}

static void adam_defaults(void) { EXPECT_QUIET_THAT((dz_adam_defaults().beta2 == 0.999)); }
static void adamw_defaults(void) { EXPECT_QUIET_THAT((dz_adamw_defaults().weight_decay == 1e-2)); }

static void adam_config_cases(dz_optimizer *(*make)(const dz_adam_config *), dz_adam_config good)
{
    for (int k = 0; k < 5; k++) {
        dz_adam_config c = good;
        double *field[] = {&c.lr, &c.beta1, &c.beta2, &c.eps, &c.weight_decay};
        *field[k] = NAN;
        EXPECT_NULL(make(&c), DZ_ERR_VALUE);
        *field[k] = -1;
        EXPECT_NULL(make(&c), DZ_ERR_VALUE);
    }
    dz_adam_config c = good;
    c.beta1 = 1.0;
    EXPECT_NULL(make(&c), DZ_ERR_VALUE);
}

static void adam_new(void) { adam_config_cases(dz_adam_new, dz_adam_defaults()); }
static void adamw_new(void) { adam_config_cases(dz_adamw_new, dz_adamw_defaults()); }

static void sparse_adam_defaults(void) { EXPECT_QUIET_THAT((dz_sparse_adam_defaults().lr == 1e-3)); }

static void sparse_adam_new(void)
{
    dz_sparse_adam_config bad[] = {{0, 0.9, 0.999, 1e-8}, {INFINITY, 0.9, 0.999, 1e-8}, {1e-3, 1.0, 0.999, 1e-8},
                                   {1e-3, 0.9, NAN, 1e-8}, {1e-3, 0.9, 0.999, 0}, {1e-3, 0.9, 0.999, NAN}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        EXPECT_NULL(dz_sparse_adam_new(&bad[k]), DZ_ERR_VALUE);
}

/* ---- optim.h: the optimizer ---- */

static void optimizer_setup(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = dz_sgd_new(NULL);
    EXPECT_STATUS(dz_optimizer_setup(NULL, l), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_setup(opt, NULL), DZ_ERR_NULL);
    BAD_ARGS_CHECK(dz_optimizer_setup(opt, l) == DZ_OK);
    EXPECT_STATUS(dz_optimizer_setup(opt, l), DZ_ERR_VALUE); /* twice */
    BAD_ARGS_CHECK(dz_optimizer_param_count(opt) == 2);
    dz_optimizer_free(opt);
    dz_layer_free(l);
}

static void optimizer_add_params(void)
{
    dz_scope_begin();
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_variable *p = dz_parameter_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(3)), "p");
    dz_variable *with_null[2] = {p, NULL}, *twice[2] = {p, p};
    EXPECT_STATUS(dz_optimizer_add_params(NULL, 1, &p), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_add_params(opt, 1, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_add_params(opt, -1, &p), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_optimizer_add_params(opt, 2, with_null), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_add_params(opt, 2, twice), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_optimizer_param_count(opt) == 0); /* all or nothing */
    dz_optimizer_free(opt);
    dz_scope_end();
}

static void optimizer_update(void)
{
    dz_scope_begin();
    EXPECT_STATUS(dz_optimizer_update(NULL), DZ_ERR_NULL);
    dz_optimizer *empty = dz_adam_new(NULL);
    EXPECT_STATUS(dz_optimizer_update(empty), DZ_ERR_STATE); /* before setup */
    dz_optimizer_free(empty);

    /* A parameter's data replaced after a step: its moments no longer fit. */
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = stepped_adam(l);
    dz_variable *W = dz_layer_param(l, "W"), *b = dz_layer_param(l, "b");
    dz_variable_set_data(W, dz_array_ones(DZ_F32, 2, DZ_SHAPE(30, 20)));
    dz_variable_set_grad(W, dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(30, 20)), NULL));
    dz_variable_set_grad(b, dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(2)), NULL));
    dz_array *b_before = dz_array_copy(b->data);
    EXPECT_STATUS(dz_optimizer_update(opt), DZ_ERR_STATE);
    BAD_ARGS_CHECK(dz_array_get(b->data, 0) == dz_array_get(b_before, 0)); /* nothing updated */
    BAD_ARGS_CHECK(dz_optimizer_step_count(opt, 1) == 1);
    dz_variable_set_data(W, dz_array_ones(DZ_F64, 2, DZ_SHAPE(3, 2))); /* another dtype */
    dz_variable_set_grad(W, dz_variable_new(dz_array_ones(DZ_F64, 2, DZ_SHAPE(3, 2)), NULL));
    EXPECT_STATUS(dz_optimizer_update(opt), DZ_ERR_STATE);
    dz_array_release(b_before);
    dz_optimizer_free(opt);
    dz_layer_free(l);

    /* grads that do not fit their parameter */
    dz_layer *m = linear(2, 3);
    opt = dz_sgd_new(NULL);
    dz_optimizer_setup(opt, m);
    W = dz_layer_param(m, "W");
    dz_variable_set_grad(W, dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL));
    EXPECT_STATUS(dz_optimizer_update(opt), DZ_ERR_SHAPE);
    dz_variable_set_grad(W, dz_variable_new(dz_array_ones(DZ_F64, 2, DZ_SHAPE(3, 2)), NULL));
    EXPECT_STATUS(dz_optimizer_update(opt), DZ_ERR_DTYPE);
    dz_optimizer_free(opt);
    opt = dz_adam_new(NULL);
    dz_optimizer_setup(opt, m);
    dz_variable_cleargrad(W);
    dz_sparse_grad_append(W, dz_array_full(DZ_I64, 1, DZ_SHAPE(1), 1), dz_array_ones(DZ_F32, 2, DZ_SHAPE(1, 2)), 3);
    EXPECT_STATUS(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
    dz_optimizer_free(opt);
    dz_layer_free(m);
    dz_scope_end();
}

static void optimizer_free(void) { EXPECT_QUIET(dz_optimizer_free(NULL)); }
static void optimizer_name(void) { EXPECT_NULL(dz_optimizer_name(NULL), DZ_ERR_NULL); }
static void optimizer_lr(void) { EXPECT_VALUE(dz_optimizer_lr(NULL), 0, DZ_ERR_NULL); }
static void optimizer_param_count(void) { EXPECT_VALUE(dz_optimizer_param_count(NULL), 0, DZ_ERR_NULL); }

static void optimizer_set_lr(void)
{
    dz_optimizer *opt = dz_sgd_new(NULL);
    EXPECT_RAISED(dz_optimizer_set_lr(NULL, 0.1), DZ_ERR_NULL);
    EXPECT_RAISED(dz_optimizer_set_lr(opt, -0.1), DZ_ERR_VALUE);
    EXPECT_RAISED(dz_optimizer_set_lr(opt, NAN), DZ_ERR_VALUE);
    EXPECT_RAISED(dz_optimizer_set_lr(opt, INFINITY), DZ_ERR_VALUE);
    BAD_ARGS_CHECK(dz_optimizer_lr(opt) == 0.01);
    dz_optimizer_free(opt);
}

static void optimizer_param_path(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_optimizer_setup(opt, l);
    EXPECT_NULL(dz_optimizer_param_path(NULL, 0), DZ_ERR_NULL);
    EXPECT_NULL(dz_optimizer_param_path(opt, -1), DZ_ERR_INDEX);
    EXPECT_NULL(dz_optimizer_param_path(opt, 2), DZ_ERR_INDEX);
    dz_optimizer_free(opt);
    dz_layer_free(l);
}

static void optimizer_step_count(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_optimizer_setup(opt, l);
    EXPECT_VALUE(dz_optimizer_step_count(NULL, 0), 0, DZ_ERR_NULL);
    EXPECT_VALUE(dz_optimizer_step_count(opt, -1), 0, DZ_ERR_INDEX);
    EXPECT_VALUE(dz_optimizer_step_count(opt, 2), 0, DZ_ERR_INDEX);
    dz_optimizer_free(opt);
    dz_layer_free(l);
}

static void optimizer_state(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_setup(opt, l);
    EXPECT_NULL(dz_optimizer_state(NULL, 0, "exp_avg"), DZ_ERR_NULL);
    EXPECT_NULL(dz_optimizer_state(opt, 0, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_optimizer_state(opt, -1, "exp_avg"), DZ_ERR_INDEX);
    EXPECT_NULL(dz_optimizer_state(opt, 2, "exp_avg"), DZ_ERR_INDEX);
    EXPECT_NULL(dz_optimizer_state(opt, 0, "momentum_buffer"), DZ_ERR_VALUE);
    EXPECT_QUIET_THAT((dz_optimizer_state(opt, 0, "exp_avg") == NULL)); /* not created yet */
    dz_optimizer_free(opt);
    dz_layer_free(l);
}

static void optimizer_to_device(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = stepped_adam(l);
    EXPECT_STATUS(dz_optimizer_to_device(NULL, DZ_CPU), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_to_device(opt, (dz_device)9), DZ_ERR_DEVICE);
    if (!dz_cuda_available())
        EXPECT_STATUS(dz_optimizer_to_device(opt, DZ_CUDA), DZ_ERR_DEVICE);
    BAD_ARGS_CHECK(dz_optimizer_state(opt, 0, "exp_avg")->device == DZ_CPU);
    dz_optimizer_free(opt);
    dz_layer_free(l);
}

static void optimizer_add_hook(void)
{
    dz_optimizer *opt = dz_sgd_new(NULL), *other = dz_sgd_new(NULL);
    dz_optimizer_hook *hook = dz_clip_grad_hook(1.0);
    EXPECT_RAISED(dz_optimizer_add_hook(NULL, dz_freeze_params_hook(0, NULL)), DZ_ERR_NULL); /* hook freed */
    EXPECT_RAISED(dz_optimizer_add_hook(opt, NULL), DZ_ERR_NULL);
    EXPECT_QUIET(dz_optimizer_add_hook(opt, hook));
    EXPECT_RAISED(dz_optimizer_add_hook(opt, hook), DZ_ERR_STATE);
    EXPECT_RAISED(dz_optimizer_add_hook(other, hook), DZ_ERR_STATE);
    dz_optimizer_free(opt);
    dz_optimizer_free(other);
}

static void weight_decay_hook(void)
{
    EXPECT_NULL(dz_weight_decay_hook(-1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_weight_decay_hook(NAN), DZ_ERR_VALUE);
    EXPECT_NULL(dz_weight_decay_hook(INFINITY), DZ_ERR_VALUE);
}

static void clip_grad_hook(void)
{
    EXPECT_NULL(dz_clip_grad_hook(-1), DZ_ERR_VALUE);
    EXPECT_NULL(dz_clip_grad_hook(NAN), DZ_ERR_VALUE);
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_optimizer_hook *no_clipping = dz_clip_grad_hook(INFINITY);
    EXPECT_QUIET_THAT((no_clipping != NULL));
    dz_optimizer_add_hook(opt, no_clipping);
    dz_optimizer_free(opt);
}

static void clip_grad_last_norm(void)
{
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_optimizer_hook *decay = dz_weight_decay_hook(0.1);
    dz_optimizer_add_hook(opt, decay);
    EXPECT_VALUE(dz_clip_grad_last_norm(NULL), 0, DZ_ERR_NULL);
    EXPECT_VALUE(dz_clip_grad_last_norm(decay), 0, DZ_ERR_VALUE);
    dz_optimizer_free(opt);
}

static void freeze_layer_hook(void) { EXPECT_NULL(dz_freeze_layer_hook(NULL), DZ_ERR_NULL); }

static void freeze_params_hook(void)
{
    dz_scope_begin();
    dz_variable *p = dz_parameter_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(3)), "p"), *with_null[2] = {p, NULL};
    EXPECT_NULL(dz_freeze_params_hook(-1, &p), DZ_ERR_VALUE);
    EXPECT_NULL(dz_freeze_params_hook(1, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_freeze_params_hook(2, with_null), DZ_ERR_NULL);
    dz_scope_end();
}

/* ---- optim.h: state files ---- */

static void optimizer_state_to_npz(void)
{
    dz_optimizer *opt = dz_sgd_new(NULL);
    dz_npz *z = dz_npz_new();
    EXPECT_STATUS(dz_optimizer_state_to_npz(NULL, z), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_state_to_npz(opt, NULL), DZ_ERR_NULL);
    dz_npz_free(z);
    dz_optimizer_free(opt);
}

static void optimizer_state_from_npz(void)
{
    dz_layer *l = linear(2, 3), *other = dz_model_new();
    dz_layer_add_child(other, "l1", linear(2, 3));
    dz_optimizer *opt = stepped_adam(l), *fresh = dz_adam_new(NULL), *elsewhere = dz_adam_new(NULL);
    dz_optimizer_setup(elsewhere, other);
    dz_npz *state = dz_npz_new(), *weights = dz_npz_new();
    dz_optimizer_state_to_npz(opt, state);
    dz_npz_add(weights, "W", dz_layer_param(l, "W")->data);
    EXPECT_STATUS(dz_optimizer_state_from_npz(NULL, state), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_state_from_npz(opt, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_state_from_npz(opt, weights), DZ_ERR_FORMAT); /* no optimizer state */
    BAD_ARGS_CHECK(dz_optimizer_step_count(opt, 0) == 1);
    EXPECT_STATUS(dz_optimizer_state_from_npz(fresh, state), DZ_ERR_STATE);     /* before setup */
    EXPECT_STATUS(dz_optimizer_state_from_npz(elsewhere, state), DZ_ERR_FORMAT); /* other parameters */
    dz_npz_free(state);
    dz_npz_free(weights);
    dz_optimizer_free(opt);
    dz_optimizer_free(fresh);
    dz_optimizer_free(elsewhere);
    dz_layer_free(l);
    dz_layer_free(other);
}

static void optimizer_save_state(void)
{
    dz_optimizer *opt = dz_sgd_new(NULL);
    EXPECT_STATUS(dz_optimizer_save_state(NULL, UNUSED_PATH), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_save_state(opt, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_save_state(opt, "no/such/dir/s.npz"), DZ_ERR_IO);
    dz_optimizer_free(opt);
}

static void optimizer_load_state(void)
{
    dz_layer *l = linear(2, 3);
    dz_optimizer *opt = stepped_adam(l), *fresh = dz_adam_new(NULL);
    EXPECT_STATUS(dz_optimizer_load_state(NULL, UNUSED_PATH), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_load_state(opt, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_optimizer_load_state(fresh, UNUSED_PATH), DZ_ERR_STATE); /* before setup */
    char weights[128], state[128];
    snprintf(weights, sizeof weights, "%s", path_in_dir("w.npz"));
    snprintf(state, sizeof state, "%s", path_in_dir("s.npz"));
    dz_layer_save_weights(l, weights, false);
    dz_optimizer_save_state(opt, state);
    dz_array *exp_avg = dz_array_copy(dz_optimizer_state(opt, 0, "exp_avg"));
    EXPECT_STATUS(dz_optimizer_load_state(opt, path_in_dir("missing.npz")), DZ_ERR_IO);
    EXPECT_STATUS(dz_optimizer_load_state(opt, weights), DZ_ERR_FORMAT); /* no optimizer state */
    truncate_file(state);
    EXPECT_STATUS(dz_optimizer_load_state(opt, state), DZ_ERR_FORMAT);
    const dz_array *kept = dz_optimizer_state(opt, 0, "exp_avg");
    BAD_ARGS_CHECK(kept && dz_optimizer_step_count(opt, 0) == 1);
    BAD_ARGS_CHECK(kept && dz_array_get(kept, 0) == dz_array_get(exp_avg, 0));
    dz_array_release(exp_avg);
    dz_optimizer_free(opt);
    dz_optimizer_free(fresh);
    dz_layer_free(l);
    remove_dir();
}

const bad_args_case bad_args_modules[] = {
    {"dz_layer_init", layer_init},
    {"dz_model_new", model_new},
    {"dz_layer_free", layer_free},
    {"dz_layer_add_param", layer_add_param},
    {"dz_layer_add_child", layer_add_child},
    {"dz_layer_param", layer_param},
    {"dz_layer_child", layer_child},
    {"dz_layer_forward", layer_forward},
    {"dz_layer_call", layer_call},
    {"dz_layer_reset_state", layer_reset_state},
    {"dz_layer_plot", layer_plot},
    {"dz_layer_params", layer_params},
    {"dz_param_list_free", param_list_free},
    {"dz_layer_cleargrads", layer_cleargrads},
    {"dz_layer_count_params", layer_count_params},
    {"dz_layer_to_device", layer_to_device},
    {"dz_layer_to_cpu", layer_to_cpu},
    {"dz_layer_to_gpu", layer_to_gpu},
    {"dz_layer_save_weights", layer_save_weights},
    {"dz_layer_load_weights", layer_load_weights},
    {"dz_linear_layer_new", linear_layer_new},
    {"dz_mlp_new", mlp_new},
    {"dz_rnn_layer_new", rnn_layer_new},
    {"dz_lstm_layer_new", lstm_layer_new},
    {"dz_linear_layer_from_values", linear_layer_from_values},
    {"dz_sequential_new", sequential_new},
    {"dz_sequential_add", sequential_add},
    {"dz_sequential_of", sequential_of},
    {"dz_layer_summary", layer_summary},
    {"dz_layer_summary_for_input", layer_summary_for_input},
    {"dz_npz_new", npz_new},
    {"dz_npz_free", npz_free},
    {"dz_npz_add", npz_add},
    {"dz_npz_count", npz_count},
    {"dz_npz_name", npz_name},
    {"dz_npz_get", npz_get},
    {"dz_npz_load", npz_load},
    {"dz_npz_load_buffer", npz_load_buffer},
    {"dz_npz_save", npz_save},
    {"dz_npy_save", npy_save},
    {"dz_npy_load", npy_load},
    {"dz_sgd_defaults", sgd_defaults},
    {"dz_sgd_new", sgd_new},
    {"dz_momentum_sgd_new", momentum_sgd_new},
    {"dz_adagrad_defaults", adagrad_defaults},
    {"dz_adagrad_new", adagrad_new},
    {"dz_adadelta_defaults", adadelta_defaults},
    {"dz_adadelta_new", adadelta_new},
    {"dz_adam_defaults", adam_defaults},
    {"dz_adamw_defaults", adamw_defaults},
    {"dz_adam_new", adam_new},
    {"dz_adamw_new", adamw_new},
    {"dz_sparse_adam_defaults", sparse_adam_defaults},
    {"dz_sparse_adam_new", sparse_adam_new},
    {"dz_optimizer_setup", optimizer_setup},
    {"dz_optimizer_add_params", optimizer_add_params},
    {"dz_optimizer_update", optimizer_update},
    {"dz_optimizer_free", optimizer_free},
    {"dz_optimizer_name", optimizer_name},
    {"dz_optimizer_lr", optimizer_lr},
    {"dz_optimizer_set_lr", optimizer_set_lr},
    {"dz_optimizer_param_count", optimizer_param_count},
    {"dz_optimizer_param_path", optimizer_param_path},
    {"dz_optimizer_step_count", optimizer_step_count},
    {"dz_optimizer_state", optimizer_state},
    {"dz_optimizer_to_device", optimizer_to_device},
    {"dz_optimizer_add_hook", optimizer_add_hook},
    {"dz_weight_decay_hook", weight_decay_hook},
    {"dz_clip_grad_hook", clip_grad_hook},
    {"dz_clip_grad_last_norm", clip_grad_last_norm},
    {"dz_freeze_layer_hook", freeze_layer_hook},
    {"dz_freeze_params_hook", freeze_params_hook},
    {"dz_optimizer_state_to_npz", optimizer_state_to_npz},
    {"dz_optimizer_state_from_npz", optimizer_state_from_npz},
    {"dz_optimizer_save_state", optimizer_save_state},
    {"dz_optimizer_load_state", optimizer_load_state},
    BAD_ARGS_END,
};

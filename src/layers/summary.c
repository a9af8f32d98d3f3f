/* Model summary (dz_layer_summary): a table of the layer tree with each
 * layer's output shape from its last forward and its own parameters, then
 * the totals. The forms given an input first run one forward in test mode
 * with recording off, and put back any parameter data that run changed;
 * a forward that fails also gets back the output shapes and the lazy
 * parameters it found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "../core/internal.h"
#include "dezero/config.h"
#include "dezero/scope.h"
#include "layer_internal.h"

/* ---- the probe forward ---- */

/* A layer's last output shape (output_ndim -1: none yet). */
typedef struct {
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
} output_shape;

/* The parameters' data before a probe forward: each array (retained; NULL
 * for a lazy parameter) and a copy of its contents; and the output shape of
 * every layer of the tree, depth first. */
typedef struct {
    dz_param_list *list;
    dz_array **before, **copies;
    output_shape *shapes;
} snapshot;

static int count_layers(const dz_layer *layer)
{
    int n = 1;
    for (int i = 0; i < layer->nchildren; i++)
        n += count_layers(layer->children[i]);
    return n;
}

/* Saves the tree's output shapes from shapes[at], forgetting them; returns
 * the index after the last one. */
static int save_shapes(dz_layer *layer, output_shape *shapes, int at)
{
    shapes[at].ndim = layer->output_ndim;
    memcpy(shapes[at].shape, layer->output_shape, sizeof shapes[at].shape);
    layer->output_ndim = -1;
    at++;
    for (int i = 0; i < layer->nchildren; i++)
        at = save_shapes(layer->children[i], shapes, at);
    return at;
}

static int restore_shapes(dz_layer *layer, const output_shape *shapes, int at)
{
    layer->output_ndim = shapes[at].ndim;
    memcpy(layer->output_shape, shapes[at].shape, sizeof layer->output_shape);
    at++;
    for (int i = 0; i < layer->nchildren; i++)
        at = restore_shapes(layer->children[i], shapes, at);
    return at;
}

static void free_snapshot(snapshot *s)
{
    for (int i = 0; i < s->list->count; i++) {
        dz_array_release(s->before[i]);
        dz_array_release(s->copies[i]);
    }
    free(s->before);
    free(s->copies);
    free(s->shapes);
    dz_param_list_free(s->list);
}

/* false (after raising naming `op`, s freed) when memory runs out. */
static bool take_snapshot(const char *op, const dz_layer *layer, snapshot *s)
{
    s->list = dz_layer_params(layer);
    s->before = dz_xcalloc((size_t)s->list->count + 1, sizeof *s->before);
    s->copies = dz_xcalloc((size_t)s->list->count + 1, sizeof *s->copies);
    s->shapes = dz_xcalloc((size_t)count_layers(layer), sizeof *s->shapes);
    for (int i = 0; i < s->list->count; i++) {
        dz_array *a = s->list->params[i]->data;
        if (!a)
            continue;
        s->before[i] = dz_array_retain(a);
        if (!(s->copies[i] = dz_array_copy(a))) {
            dz_fail_under(op, DZ_ERR_NOMEM);
            free_snapshot(s);
            return false;
        }
    }
    return true;
}

/* Every parameter that had data holds the same array with the same contents
 * again; those that were lazy keep what the forward made when it `worked`,
 * else are lazy again (and the output shapes are those from before). */
static void restore_snapshot(dz_layer *layer, const snapshot *s, bool worked)
{
    if (!worked)
        restore_shapes(layer, s->shapes, 0);
    for (int i = 0; i < s->list->count; i++) {
        dz_array *a = s->before[i];
        const dz_array *c = s->copies[i];
        if (!a && !worked)
            dz_variable_set_data(s->list->params[i], NULL);
        if (!a)
            continue;
        if (s->list->params[i]->data != a)
            dz_variable_set_data(s->list->params[i], dz_array_retain(a));
        dz_backend_of(a)->copy(a->data, c->data, (size_t)a->size * dz_dtype_bytes(a->dtype));
    }
}

/* One forward on `inputs` that records the output shapes and changes no
 * parameter data or switch (the recurrent state is cleared before the
 * inputs are checked, as it may not fit them, and after); its status. A
 * forward that fails leaves the output shapes and lazy parameters as they
 * were. */
static dz_status probe(const char *op, dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    snapshot s;
    dz_layer_reset_state(layer);
    if (!dz_layer_check_forward(op, layer, ninputs, inputs))
        return dz_last_error_code();
    if (!take_snapshot(op, layer, &s))
        return dz_last_error_code();
    save_shapes(layer, s.shapes, 0);
    bool backprop = dz_set_enable_backprop(false), train = dz_set_train(false);
    dz_scope_begin();
    dz_variable *y = dz_layer_forward_as(op, layer, ninputs, inputs);
    dz_scope_end();
    dz_set_train(train);
    dz_set_enable_backprop(backprop);
    dz_layer_reset_state(layer);
    restore_snapshot(layer, &s, y != NULL);
    free_snapshot(&s);
    if (y)
        return DZ_OK;
    return dz_last_error_code() != DZ_OK ? dz_last_error_code() : DZ_ERR_NOMEM;
}

/* ---- the table ---- */

enum { COL_LAYER, COL_SHAPE, COL_PARAMS, COL_DTYPE, COL_DEVICE, NCOLS };

static const char *const headings[NCOLS] = {"Layer (type)", "Output shape", "Param #", "Dtype", "Device"};

typedef struct {
    char *cells[NCOLS];
} row;

typedef struct {
    row *rows;
    int count, capacity;
} table;

/* n >= 0 with thousands separators ("79,510") into buf (32 bytes). */
static const char *count_text(int64_t n, char *buf)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)n), k = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* `name`, or "mixed" when it differs from the one seen before (NULL: none). */
static const char *merge(const char *seen, const char *name)
{
    return !seen || strcmp(seen, name) == 0 ? name : "mixed";
}

/* The row of `layer`: "(name) Type" indented by depth ("Type" at the root),
 * its last output shape, and its own parameters. */
static void add_row(table *t, const dz_layer *layer, const char *name, int depth)
{
    if (t->count == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 16;
        t->rows = dz_xrealloc(t->rows, (size_t)t->capacity * sizeof *t->rows);
    }
    int64_t count = 0;
    bool lazy = false;
    const char *dtype = NULL, *device = NULL;
    for (int i = 0; i < layer->nparams; i++) {
        const dz_array *a = layer->params[i]->data;
        lazy |= !a;
        if (a) {
            count += a->size;
            dtype = merge(dtype, dz_dtype_name(a->dtype));
            device = merge(device, dz_device_name(a->device));
        }
    }
    char shape[256], number[32];
    row *r = &t->rows[t->count++];
    r->cells[COL_LAYER] = name ? dz_xformat("%*s(%s) %s", 2 * depth, "", name, layer->ops->type)
                               : dz_xformat("%s", layer->ops->type);
    r->cells[COL_SHAPE] = dz_xformat("%s", layer->output_ndim < 0 ? "-" : dz_shape_format(layer->output_ndim,
                                                                                        layer->output_shape, shape,
                                                                                        sizeof shape));
    r->cells[COL_PARAMS] = dz_xformat("%s", lazy ? "?" : layer->nparams ? count_text(count, number) : "-");
    r->cells[COL_DTYPE] = dz_xformat("%s", dtype ? dtype : "-");
    r->cells[COL_DEVICE] = dz_xformat("%s", device ? device : "-");
}

static void add_tree(table *t, const dz_layer *layer, const char *name, int depth)
{
    add_row(t, layer, name, depth);
    for (int i = 0; i < layer->nchildren; i++)
        add_tree(t, layer->children[i], layer->child_names[i], depth + 1);
}

static void write_row(FILE *out, const char *const *cells, const size_t *width)
{
    for (int c = 0; c < NCOLS; c++) {
        int w = (int)width[c];
        if (c == COL_PARAMS)
            fprintf(out, "%*s  ", w, cells[c]);
        else if (c + 1 < NCOLS)
            fprintf(out, "%-*s  ", w, cells[c]);
        else
            fprintf(out, "%s\n", cells[c]);
    }
}

static void write_rule(FILE *out, size_t length)
{
    for (size_t i = 0; i < length; i++)
        fputc('=', out);
    fputc('\n', out);
}

static void write_rows(FILE *out, const table *t)
{
    size_t width[NCOLS], length = 2 * (NCOLS - 1);
    for (int c = 0; c < NCOLS; c++) {
        width[c] = strlen(headings[c]);
        for (int i = 0; i < t->count; i++)
            if (strlen(t->rows[i].cells[c]) > width[c])
                width[c] = strlen(t->rows[i].cells[c]);
        length += width[c];
    }
    write_row(out, headings, width);
    write_rule(out, length);
    for (int i = 0; i < t->count; i++) {
        const char *cells[NCOLS];
        for (int c = 0; c < NCOLS; c++)
            cells[c] = t->rows[i].cells[c];
        write_row(out, cells, width);
    }
    write_rule(out, length);
}

/* The totals over the tree's parameters, each counted once however many
 * layers hold it; `lazy` counts those without data. */
static void write_totals(FILE *out, const dz_layer *layer)
{
    dz_param_list *list = dz_layer_params(layer);
    int64_t total = 0, trainable = 0, bytes = 0;
    int lazy = 0;
    for (int i = 0; i < list->count; i++) {
        const dz_variable *p = list->params[i];
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = list->params[j] == p;
        if (seen || !p->data) {
            lazy += !seen;
            continue;
        }
        total += p->data->size;
        trainable += p->requires_grad ? p->data->size : 0;
        bytes += p->data->size * (int64_t)dz_dtype_bytes(p->data->dtype);
    }
    dz_param_list_free(list);
    char number[32];
    fprintf(out, "Total params: %s\n", count_text(total, number));
    fprintf(out, "Trainable params: %s\n", count_text(trainable, number));
    fprintf(out, "Non-trainable params: %s\n", count_text(total - trainable, number));
    fprintf(out, "Params size: %s bytes (%.2f MB)\n", count_text(bytes, number), (double)bytes / 1e6);
    if (lazy)
        fprintf(out, "Lazy parameters not made yet: %d (not counted; run a forward, or dz_layer_summary_for_input)\n",
                lazy);
}

static dz_status write_summary(const char *op, const dz_layer *layer, FILE *out)
{
    table t = {0};
    add_tree(&t, layer, NULL, 0);
    write_rows(out, &t);
    write_totals(out, layer);
    for (int i = 0; i < t.count; i++)
        for (int c = 0; c < NCOLS; c++)
            free(t.rows[i].cells[c]);
    free(t.rows);
    if (fflush(out) != 0 || ferror(out))
        return dz_fail(DZ_ERR_IO, "%s: writing the summary failed", op);
    return DZ_OK;
}

/* ---- the public calls ---- */

static bool check_args(const char *op, const dz_layer *layer, const FILE *out)
{
    if (!layer)
        dz_raise_null_operand("%s: the layer is NULL", op);
    else if (!out)
        dz_raise(DZ_ERR_NULL, "%s: out is NULL", op);
    return layer && out;
}

dz_status dz_layer_summary(dz_layer *layer, int ninputs, dz_variable *const *inputs, FILE *out)
{
    const char *op = "dz_layer_summary";
    if (!check_args(op, layer, out))
        return dz_last_error_code();
    if (ninputs < 0 || (ninputs > 0 && !inputs))
        return dz_raise(ninputs < 0 ? DZ_ERR_VALUE : DZ_ERR_NULL, "%s: %d inputs in %s array", op, ninputs,
                        inputs ? "an" : "a NULL");
    dz_status status = ninputs > 0 ? probe(op, layer, ninputs, inputs) : DZ_OK;
    return status == DZ_OK ? write_summary(op, layer, out) : status;
}

dz_status dz_layer_summary_for_input(dz_layer *layer, int ndim, const int64_t *shape, dz_dtype dtype,
                                     dz_device device, FILE *out)
{
    const char *op = "dz_layer_summary_for_input";
    if (!check_args(op, layer, out))
        return dz_last_error_code();
    if (!dz_check_device(op, device))
        return DZ_ERR_DEVICE;
    dz_array *zeros = dz_array_new_for(op, device, dtype, ndim, shape, true);
    if (!zeros)
        return dz_last_error_code();
    dz_scope_begin();
    dz_variable *x = dz_variable_constant(zeros, NULL);
    dz_status status = probe(op, layer, 1, &x);
    dz_scope_end();
    return status == DZ_OK ? write_summary(op, layer, out) : status;
}

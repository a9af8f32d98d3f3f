/* Graphviz DOT output of a computation graph: a walk from the output back
 * through creators with an explicit stack (no recursion), naming each
 * Variable and Function once (v0, v1, ... and f0, f1, ... in visiting order).
 * Labels follow DeZero's get_dot_graph: a Function's class name, a
 * Variable's name and, when verbose, its shape and dtype. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dezero/function.h"
#include "dezero/graph.h"
#include "internal.h"

/* Pointer -> number, open addressing (capacity a power of two). */
typedef struct {
    const void **keys;
    int *ids;
    size_t capacity, count;
} node_ids;

static size_t slot_of(const node_ids *m, const void *key)
{
    size_t h = (size_t)((uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull;
    size_t i = h & (m->capacity - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->capacity - 1);
    return i;
}

static void ids_grow(node_ids *m)
{
    node_ids bigger = {dz_xcalloc(m->capacity * 2, sizeof(void *)), dz_xcalloc(m->capacity * 2, sizeof(int)),
                       m->capacity * 2, m->count};
    for (size_t i = 0; i < m->capacity; i++) {
        if (!m->keys[i])
            continue;
        size_t j = slot_of(&bigger, m->keys[i]);
        bigger.keys[j] = m->keys[i];
        bigger.ids[j] = m->ids[i];
    }
    free(m->keys);
    free(m->ids);
    *m = bigger;
}

/* The number of key; *fresh tells whether it was just given one. */
static int id_of(node_ids *m, const void *key, bool *fresh)
{
    if (2 * (m->count + 1) > m->capacity)
        ids_grow(m);
    size_t i = slot_of(m, key);
    *fresh = !m->keys[i];
    if (*fresh) {
        m->keys[i] = key;
        m->ids[i] = (int)m->count++;
    }
    return m->ids[i];
}

/* A label with quotes and backslashes escaped. */
static void write_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

typedef struct {
    FILE *out;
    bool verbose;
    node_ids vars, funcs;
    dz_function **stack;
    int depth, capacity;
} dot_writer;

/* The variable's node on first sight; its number always. */
static int visit_variable(dot_writer *w, const dz_variable *v)
{
    bool fresh;
    int id = id_of(&w->vars, v, &fresh);
    if (!fresh)
        return id;
    fprintf(w->out, "v%d [label=\"", id);
    write_escaped(w->out, v->name ? v->name : "");
    if (w->verbose && v->data) {
        char shape[256];
        fprintf(w->out, "%s%s %s", v->name ? ": " : "", dz_shape_format(v->data->ndim, v->data->shape, shape,
                sizeof shape), dz_dtype_name(v->data->dtype));
    }
    fprintf(w->out, "\", color=orange, style=filled]\n");
    return id;
}

/* The function's number; pushes it for writing on first sight. */
static int visit_function(dot_writer *w, dz_function *f)
{
    bool fresh;
    int id = id_of(&w->funcs, f, &fresh);
    if (fresh) {
        if (w->depth == w->capacity) {
            w->capacity = w->capacity ? 2 * w->capacity : 64;
            w->stack = dz_xrealloc(w->stack, (size_t)w->capacity * sizeof *w->stack);
        }
        w->stack[w->depth++] = f;
    }
    return id;
}

static void write_function(dot_writer *w, dz_function *f)
{
    bool fresh;
    int id = id_of(&w->funcs, f, &fresh);
    fprintf(w->out, "f%d [label=\"", id);
    write_escaped(w->out, f->ops->display_name ? f->ops->display_name : f->ops->name);
    fprintf(w->out, "\", color=lightblue, style=filled, shape=box]\n");
    for (int i = 0; i < f->ninputs; i++) {
        int x = visit_variable(w, f->inputs[i]);
        fprintf(w->out, "v%d -> f%d\n", x, id);
        if (f->inputs[i]->creator)
            visit_function(w, f->inputs[i]->creator);
    }
    for (int i = 0; i < f->noutputs; i++)
        if (f->outputs[i])
            fprintf(w->out, "f%d -> v%d\n", id, visit_variable(w, f->outputs[i]));
}

dz_status dz_graph_write_dot(dz_variable *y, const char *path, bool verbose)
{
    if (!y)
        return dz_raise_null_operand("dz_graph_write_dot: the output variable is NULL");
    if (!path)
        return dz_raise(DZ_ERR_NULL, "dz_graph_write_dot: path is NULL");
    FILE *out = fopen(path, "w");
    if (!out)
        return dz_fail(DZ_ERR_IO, "dz_graph_write_dot: cannot open '%s' for writing: %s", path, strerror(errno));
    dot_writer w = {out, verbose, {0}, {0}, NULL, 0, 0};
    w.vars = (node_ids){dz_xcalloc(64, sizeof(void *)), dz_xcalloc(64, sizeof(int)), 64, 0};
    w.funcs = (node_ids){dz_xcalloc(64, sizeof(void *)), dz_xcalloc(64, sizeof(int)), 64, 0};
    fprintf(out, "digraph g {\n");
    visit_variable(&w, y);
    if (y->creator)
        visit_function(&w, y->creator);
    while (w.depth > 0)
        write_function(&w, w.stack[--w.depth]);
    fprintf(out, "}\n");
    free(w.stack);
    free(w.vars.keys);
    free(w.vars.ids);
    free(w.funcs.keys);
    free(w.funcs.ids);
    bool failed = ferror(out);
    if (fclose(out) != 0 || failed)
        return dz_fail(DZ_ERR_IO, "dz_graph_write_dot: writing '%s' failed: %s", path, strerror(errno));
    return DZ_OK;
}

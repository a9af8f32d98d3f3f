/* Variables: creation, refcounting, accessors, unchain, printing.
 *
 * Releasing is iterative: when a Variable dies it may drop the last reference
 * to its creator, which drops its inputs, and so on up the graph. Instead of
 * recursing, dying objects go on a work stack that one loop drains, so a chain
 * of a million ops frees in constant C stack. Variables come from a free list
 * (pool.h). */
#include <stdlib.h>
#include <string.h>

#include "dezero/function.h"
#include "dezero/scope.h"
#include "internal.h"
#include "live_count.h"
#include "pool.h"
#include "dezero/sparse_grad.h"

typedef struct {
    void *object;
    bool is_function;
} dying;

static DZ_THREAD_LOCAL dying *stack;
static DZ_THREAD_LOCAL int stack_count, stack_capacity;
static DZ_THREAD_LOCAL bool draining;
static DZ_THREAD_LOCAL dz_pool variable_pool = DZ_POOL_INIT(sizeof(dz_variable));

static void free_stack(void)
{
    free(stack);
    stack = NULL;
    stack_count = stack_capacity = 0;
}

static void push_dying(void *object, bool is_function)
{
    if (stack_count == stack_capacity) {
        if (!stack)
            dz_at_thread_exit(free_stack);
        stack_capacity = stack_capacity ? stack_capacity * 2 : 256;
        stack = dz_xrealloc(stack, (size_t)stack_capacity * sizeof *stack);
    }
    stack[stack_count++] = (dying){object, is_function};
}

static void drop_variable(dz_variable *v)
{
    if (v && --v->refcount == 0)
        push_dying(v, false);
}

static void destroy_function(dz_function *f)
{
    for (int i = 0; i < f->ninputs; i++)
        drop_variable(f->inputs[i]);
    if (f->state) {
        if (f->ops->destroy_state)
            f->ops->destroy_state(f->state);
        else
            free(f->state);
    }
    dz_function_free(f);
}

static void destroy_variable(dz_variable *v)
{
    dz_function *f = v->creator;
    if (f) {
        for (int i = 0; i < f->noutputs; i++) /* clear the weak slot */
            if (f->outputs[i] == v)
                f->outputs[i] = NULL;
        if (--f->refcount == 0)
            push_dying(f, true);
    }
    drop_variable(v->grad);
    dz_sparse_grad_free(v->sparse_grad);
    dz_array_release(v->data);
    free(v->name);
    dz_pool_free(&variable_pool, v);
    dz_live_add(DZ_LIVE_VARIABLES, -1);
}

static void drain(void)
{
    draining = true;
    while (stack_count > 0) {
        dying d = stack[--stack_count];
        if (d.is_function)
            destroy_function(d.object);
        else
            destroy_variable(d.object);
    }
    draining = false;
}

void dz_variable_release(dz_variable *v)
{
    if (!v)
        return;
    DZ_ASSERT(v->refcount > 0);
    drop_variable(v);
    if (!draining)
        drain();
}

/* Drops a reference to a Function held outside its outputs (unchain). */
static void release_function(dz_function *f)
{
    if (--f->refcount == 0) {
        push_dying(f, true);
        if (!draining)
            drain();
    }
}

dz_variable *dz_variable_retain(dz_variable *v)
{
    if (v)
        v->refcount++;
    return v;
}

static dz_variable *variable_alloc(dz_array *data, const char *name, bool is_parameter)
{
    dz_variable *v = dz_pool_alloc(&variable_pool);
    dz_live_add(DZ_LIVE_VARIABLES, 1);
    *v = (dz_variable){.data = data, .name = name ? strdup(name) : NULL, .is_parameter = is_parameter,
                       .requires_grad = true, .refcount = 1};
    return dz_autorelease(v);
}

dz_variable *dz_variable_new(dz_array *data, const char *name) { return variable_alloc(data, name, false); }
dz_variable *dz_parameter_new(dz_array *data, const char *name) { return variable_alloc(data, name, true); }

dz_variable *dz_variable_constant(dz_array *data, const char *name)
{
    dz_variable *v = variable_alloc(data, name, false);
    v->requires_grad = false;
    return v;
}

dz_variable *dz_variable_scalar(dz_dtype dtype, double value)
{
    dz_array *a = dz_array_full_for("dz_variable_scalar", dtype, 0, NULL, value);
    return a ? dz_variable_new(a, NULL) : NULL;
}

static bool check_variable(const char *op, const dz_variable *v)
{
    if (!v)
        dz_raise_null_operand("%s: the variable is NULL", op);
    return v != NULL;
}

void dz_variable_set_name(dz_variable *v, const char *name)
{
    if (!check_variable("dz_variable_set_name", v))
        return;
    free(v->name);
    v->name = name ? strdup(name) : NULL;
}

void dz_variable_set_data(dz_variable *v, dz_array *data)
{
    if (!check_variable("dz_variable_set_data", v)) {
        dz_array_release(data); /* the reference was handed over */
        return;
    }
    dz_array_release(v->data);
    v->data = data;
}

/* The arrays a variable holds, in the order dz_variable_to_device moves them. */
static int held_arrays(dz_variable *v, dz_array ***slots)
{
    int n = 0;
    if (v->data)
        slots[n++] = &v->data;
    if (v->grad && v->grad->data)
        slots[n++] = &v->grad->data;
    if (v->sparse_grad) {
        slots[n++] = &v->sparse_grad->indices;
        slots[n++] = &v->sparse_grad->values;
    }
    return n;
}

static dz_status move_to(const char *op, dz_variable *v, dz_device device)
{
    if (!check_variable(op, v))
        return dz_last_error_code();
    dz_array **slots[4], *moved[4];
    int n = held_arrays(v, slots);
    for (int i = 0; i < n; i++) {
        if (!(moved[i] = dz_array_to_device_for(op, *slots[i], device))) {
            while (i-- > 0)
                dz_array_release(moved[i]);
            return dz_last_error_code();
        }
    }
    for (int i = 0; i < n; i++) {
        dz_array_release(*slots[i]);
        *slots[i] = moved[i];
    }
    return DZ_OK;
}

dz_status dz_variable_to_device(dz_variable *v, dz_device device) { return move_to("dz_variable_to_device", v, device); }
dz_status dz_variable_to_gpu(dz_variable *v) { return move_to("dz_variable_to_gpu", v, DZ_CUDA); }
dz_status dz_variable_to_cpu(dz_variable *v) { return move_to("dz_variable_to_cpu", v, DZ_CPU); }

/* A grad for v: not v itself (a cycle no refcount frees), and holding data.
 * Its shape is checked where it is used (backward, the optimizers). */
static bool check_grad(const char *op, const dz_variable *v, const dz_variable *grad)
{
    if (grad == v) {
        dz_raise(DZ_ERR_VALUE, "%s: a variable cannot be its own grad", op);
        return false;
    }
    if (!grad->data) {
        dz_raise(DZ_ERR_STATE, "%s: the grad variable has no data", op);
        return false;
    }
    return true;
}

static void replace_grad(dz_variable *v, dz_variable *grad)
{
    dz_variable *old = v->grad;
    v->grad = dz_variable_retain(grad);
    dz_variable_release(old);
}

void dz_variable_set_grad(dz_variable *v, dz_variable *grad)
{
    const char *op = "dz_variable_set_grad";
    if (check_variable(op, v) && (!grad || check_grad(op, v, grad)))
        replace_grad(v, grad);
}

/* The accessors return 0 (NULL for the shape, DZ_F32 for the dtype) for a
 * variable without data, and after raising for a NULL one. */
int dz_variable_ndim(const dz_variable *v)
{
    return check_variable("dz_variable_ndim", v) && v->data ? v->data->ndim : 0;
}

const int64_t *dz_variable_shape(const dz_variable *v)
{
    return check_variable("dz_variable_shape", v) && v->data ? v->data->shape : NULL;
}

int64_t dz_variable_size(const dz_variable *v)
{
    return check_variable("dz_variable_size", v) && v->data ? v->data->size : 0;
}

dz_dtype dz_variable_dtype(const dz_variable *v)
{
    return check_variable("dz_variable_dtype", v) && v->data ? v->data->dtype : DZ_F32;
}

int64_t dz_variable_len(const dz_variable *v)
{
    return check_variable("dz_variable_len", v) && v->data && v->data->ndim > 0 ? v->data->shape[0] : 0;
}

void dz_variable_cleargrad(dz_variable *v)
{
    if (!check_variable("dz_variable_cleargrad", v))
        return;
    replace_grad(v, NULL);
    dz_sparse_grad_free(v->sparse_grad);
    v->sparse_grad = NULL;
}

/* Detach v from its creator: v leaves the creator's outputs and the creator
 * loses the reference v held. */
static void unchain(dz_variable *v)
{
    dz_function *f = v->creator;
    if (!f)
        return;
    for (int i = 0; i < f->noutputs; i++)
        if (f->outputs[i] == v)
            f->outputs[i] = NULL;
    v->creator = NULL;
    release_function(f);
}

void dz_variable_unchain(dz_variable *v)
{
    if (check_variable("dz_variable_unchain", v))
        unchain(v);
}

void dz_variable_unchain_backward(dz_variable *v)
{
    if (!check_variable("dz_variable_unchain_backward", v) || !v->creator)
        return;
    /* Depth-first over the creators upstream, with an explicit stack. Each
     * input is retained while it sits on the stack, since unchaining it may
     * free the Function that held it. */
    dz_function *f = v->creator;
    int count = 0, capacity = f->ninputs > 64 ? f->ninputs : 64;
    dz_variable **todo = dz_xmalloc((size_t)capacity * sizeof *todo);
    for (int i = 0; i < f->ninputs; i++)
        todo[count++] = dz_variable_retain(f->inputs[i]);
    while (count > 0) {
        dz_variable *x = todo[--count];
        dz_function *g = x->creator;
        if (g) {
            if (count + g->ninputs > capacity) {
                capacity = (count + g->ninputs) * 2;
                todo = dz_xrealloc(todo, (size_t)capacity * sizeof *todo);
            }
            for (int i = 0; i < g->ninputs; i++)
                todo[count++] = dz_variable_retain(g->inputs[i]);
            unchain(x);
        }
        dz_variable_release(x);
    }
    free(todo);
}

/* "variable(...)" for a variable that is not NULL. */
static char *format_variable(const dz_variable *v)
{
    if (!v->data)
        return strdup("variable(None)");
    char *body = dz_array_format(v->data, 9);
    if (!body)
        return NULL;
    size_t n = strlen(body) + 16;
    char *s = dz_xmalloc(n);
    snprintf(s, n, "variable(%s)", body);
    free(body);
    return s;
}

char *dz_variable_format(const dz_variable *v)
{
    return check_variable("dz_variable_format", v) ? format_variable(v) : NULL;
}

void dz_variable_print(const dz_variable *v, FILE *out)
{
    const char *op = "dz_variable_print";
    if (!check_variable(op, v) || !dz_check_not_null(op, out, "out"))
        return;
    char *s = format_variable(v);
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
}

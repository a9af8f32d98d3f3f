/* Recurrent layers: RNN and LSTM (DeZero's), keeping their state between
 * calls. The state Variables are held by the layer; dz_layer_reset_state
 * drops them, and dz_variable_unchain_backward on the loss cuts the graph
 * for truncated BPTT. The check runs the Linears' checks on the input and
 * the state, so the inner ops never see a bad shape. */
#include <stdio.h>

#include "../core/internal.h"
#include "dezero/activation.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "../core/op_helpers.h"
#include "layer_internal.h"

typedef struct {
    dz_layer base;
    dz_variable *h, *c; /* state; c only for LSTM */
} recurrent_layer;

static void set_state(dz_variable **slot, dz_variable *v)
{
    dz_variable *old = *slot;
    *slot = dz_variable_retain(v);
    dz_variable_release(old);
}

static void recurrent_reset(dz_layer *self)
{
    recurrent_layer *r = (recurrent_layer *)self;
    set_state(&r->h, NULL);
    set_state(&r->c, NULL);
}

static void recurrent_destroy(dz_layer *self) { recurrent_reset(self); }

/* One input that the x2<gate> Linears take (children[0] is the first), and
 * a state kept from the previous call that fits it and the h2<gate> Linears
 * (children[1]). */
static bool recurrent_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    const recurrent_layer *r = (const recurrent_layer *)self;
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: an %s layer takes one input, got %d", op, self->ops->type, n);
        return false;
    }
    if (!dz_layer_check_forward(op, self->children[0], 1, x))
        return false;
    if (r->h && x[0]->data->shape[0] != r->h->data->shape[0]) {
        dz_raise(DZ_ERR_SHAPE, "%s: the input %s has a batch of %lld but the %s state kept from the previous call "
                 "has %lld; call dz_layer_reset_state before a batch of another size", op, DZ_SHAPE_OF(x[0]->data),
                 (long long)x[0]->data->shape[0], self->ops->type, (long long)r->h->data->shape[0]);
        return false;
    }
    return !r->h || dz_layer_check_forward(op, self->children[1], 1, &r->h);
}

static dz_variable *call(dz_layer *self, const char *child, dz_variable *x)
{
    return dz_layer_call(dz_layer_child(self, child), x);
}

/* h = tanh(x2h(x) [+ h2h(h_prev)]) */
static dz_variable *rnn_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    recurrent_layer *r = (recurrent_layer *)self;
    dz_scope_begin(); /* owns the intermediates */
    dz_variable *a = call(self, "x2h", x[0]);
    if (r->h)
        a = dz_add(a, call(self, "h2h", r->h));
    dz_variable *h = dz_tanh(a);
    if (h)
        set_state(&r->h, h);
    return dz_composite_result(h);
}

/* gate = act(x2g(x) [+ h2g(h_prev)]) */
static dz_variable *gate(dz_layer *self, const char *x2g, const char *h2g, dz_variable *x, dz_variable *h,
                         dz_activation act)
{
    dz_variable *a = call(self, x2g, x);
    if (h)
        a = dz_add(a, call(self, h2g, h));
    return act(a);
}

/* c = f * c_prev + i * u; h = o * tanh(c) */
static dz_variable *lstm_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    recurrent_layer *r = (recurrent_layer *)self;
    dz_scope_begin(); /* owns the intermediates */
    dz_variable *f = gate(self, "x2f", "h2f", x[0], r->h, dz_sigmoid);
    dz_variable *i = gate(self, "x2i", "h2i", x[0], r->h, dz_sigmoid);
    dz_variable *o = gate(self, "x2o", "h2o", x[0], r->h, dz_sigmoid);
    dz_variable *u = gate(self, "x2u", "h2u", x[0], r->h, dz_tanh);
    dz_variable *c = r->c ? dz_add(dz_mul(f, r->c), dz_mul(i, u)) : dz_mul(i, u);
    dz_variable *h = dz_mul(o, dz_tanh(c));
    if (h) {
        set_state(&r->c, c);
        set_state(&r->h, h);
    }
    return dz_composite_result(h);
}

static const dz_layer_ops rnn_ops = {
    .type = "RNN",
    .forward = rnn_forward,
    .destroy = recurrent_destroy,
    .reset_state = recurrent_reset,
    .check = recurrent_check,
};
static const dz_layer_ops lstm_ops = {
    .type = "LSTM",
    .forward = lstm_forward,
    .destroy = recurrent_destroy,
    .reset_state = recurrent_reset,
    .check = recurrent_check,
};

/* Adds x2<g> (hidden, in_size) and h2<g> (hidden, hidden, no bias) for each gate. */
static dz_layer *recurrent_new(const char *op, const dz_layer_ops *ops, int ngates, const char *const *gates,
                               int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng)
{
    if (hidden_size <= 0) {
        dz_raise(DZ_ERR_VALUE, "%s: hidden_size %lld must be > 0", op, (long long)hidden_size);
        return NULL;
    }
    /* every size before the first allocation */
    if (!dz_linear_check_args(op, hidden_size, hidden_size, dtype) ||
        !dz_linear_check_args(op, hidden_size, in_size, dtype))
        return NULL;
    recurrent_layer *r = dz_xcalloc(1, sizeof *r);
    dz_layer_init(&r->base, ops);
    for (int g = 0; g < ngates; g++) {
        char x2g[8], h2g[8];
        snprintf(x2g, sizeof x2g, "x2%s", gates[g]);
        snprintf(h2g, sizeof h2g, "h2%s", gates[g]);
        dz_layer *xl = dz_linear_layer_new_as(op, hidden_size, in_size, false, dtype, rng);
        dz_layer *hl = xl ? dz_linear_layer_new_as(op, hidden_size, hidden_size, true, dtype, rng) : NULL;
        if (!xl || !hl) {
            dz_layer_free(xl);
            dz_layer_free(hl);
            dz_layer_free(&r->base);
            return NULL;
        }
        dz_layer_add_child(&r->base, x2g, xl);
        dz_layer_add_child(&r->base, h2g, hl);
    }
    return &r->base;
}

dz_layer *dz_rnn_layer_new(int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng)
{
    static const char *const gates[] = {"h"};
    return recurrent_new("dz_rnn_layer_new", &rnn_ops, 1, gates, hidden_size, in_size, dtype, rng);
}

dz_layer *dz_lstm_layer_new(int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng)
{
    static const char *const gates[] = {"f", "i", "o", "u"};
    return recurrent_new("dz_lstm_layer_new", &lstm_ops, 4, gates, hidden_size, in_size, dtype, rng);
}

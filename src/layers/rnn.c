/* Recurrent layers: RNN and LSTM (DeZero's), keeping their state between
 * calls. The state Variables are held by the layer; dz_layer_reset_state
 * drops them, and dz_variable_unchain_backward on the loss cuts the graph
 * for truncated BPTT. */
#include "../core/internal.h"
#include "dezero/activation.h"
#include "dezero/layers.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "../functions/nn_util.h"

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

static bool one_input(const char *type, int n)
{
    if (n != 1)
        dz_raise(DZ_ERR_VALUE, "%s: expects one input, got %d", type, n);
    return n == 1;
}

static dz_variable *call(dz_layer *self, const char *child, dz_variable *x)
{
    return dz_layer_call(dz_layer_child(self, child), x);
}

/* h = tanh(x2h(x) [+ h2h(h_prev)]) */
static dz_variable *rnn_forward(dz_layer *self, int n, dz_variable *const *x)
{
    recurrent_layer *r = (recurrent_layer *)self;
    if (!one_input("RNN", n))
        return NULL;
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
    recurrent_layer *r = (recurrent_layer *)self;
    if (!one_input("LSTM", n))
        return NULL;
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

static const dz_layer_ops rnn_ops = {"RNN", rnn_forward, recurrent_destroy, recurrent_reset};
static const dz_layer_ops lstm_ops = {"LSTM", lstm_forward, recurrent_destroy, recurrent_reset};

/* Adds x2<g> (hidden, in_size) and h2<g> (hidden, hidden, no bias) for each gate. */
static dz_layer *recurrent_new(const dz_layer_ops *ops, int ngates, const char *const *gates, int64_t hidden_size,
                               int64_t in_size, dz_dtype dtype, dz_rng *rng)
{
    if (hidden_size <= 0) {
        dz_raise(DZ_ERR_VALUE, "%s: hidden_size %lld must be > 0", ops->type, (long long)hidden_size);
        return NULL;
    }
    recurrent_layer *r = dz_xcalloc(1, sizeof *r);
    dz_layer_init(&r->base, ops);
    for (int g = 0; g < ngates; g++) {
        char x2g[8], h2g[8];
        snprintf(x2g, sizeof x2g, "x2%s", gates[g]);
        snprintf(h2g, sizeof h2g, "h2%s", gates[g]);
        dz_layer *xl = dz_linear_layer_new(hidden_size, in_size, false, dtype, rng);
        dz_layer *hl = dz_linear_layer_new(hidden_size, hidden_size, true, dtype, rng);
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
    return recurrent_new(&rnn_ops, 1, gates, hidden_size, in_size, dtype, rng);
}

dz_layer *dz_lstm_layer_new(int64_t hidden_size, int64_t in_size, dz_dtype dtype, dz_rng *rng)
{
    static const char *const gates[] = {"f", "i", "o", "u"};
    return recurrent_new(&lstm_ops, 4, gates, hidden_size, in_size, dtype, rng);
}

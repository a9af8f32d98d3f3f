/* Numerical gradient check: backprop against central differences. */
#include <math.h>
#include <stdlib.h>

#include "dezero/config.h"
#include "dezero/gradient_check.h"
#include "dezero/rng.h"
#include "dezero/scope.h"
#include "host_view.h"
#include "internal.h"

/* sum(w * f(inputs)) in double, with recording off; `values` holds n doubles. */
static bool weighted_output(dz_checked_fn f, void *ctx, dz_variable *const *inputs, const double *w,
                            int64_t n, double *values, double *out)
{
    bool ok = false;
    bool was = dz_set_enable_backprop(false);
    dz_scope_begin();
    dz_variable *y = f(inputs, ctx);
    if (y && y->data && y->data->size == n) {
        dz_array_to_doubles(y->data, values);
        double s = 0;
        for (int64_t i = 0; i < n; i++)
            s += w[i] * values[i];
        *out = s;
        ok = true;
    }
    dz_scope_end();
    dz_set_enable_backprop(was);
    return ok;
}

static bool checked(const dz_variable *x)
{
    return x->data && x->data->dtype == DZ_F64 && x->requires_grad;
}

static bool check_options(const dz_gradient_check_options *o)
{
    if (o->eps > 0 && isfinite(o->eps) && o->rtol >= 0 && isfinite(o->rtol) && o->atol >= 0 && isfinite(o->atol))
        return true;
    dz_raise(DZ_ERR_VALUE, "dz_gradient_check: eps %g, rtol %g, atol %g: eps must be positive, the tolerances 0 "
             "or more, all finite", o->eps, o->rtol, o->atol);
    return false;
}

static bool check_inputs(int ninputs, dz_variable *const *inputs)
{
    const char *op = "dz_gradient_check";
    if (ninputs < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: ninputs is %d; it must be 0 or more", op, ninputs);
        return false;
    }
    if (ninputs > 0 && !dz_check_not_null(op, inputs, "inputs"))
        return false;
    for (int i = 0; i < ninputs; i++) {
        if (!inputs[i]) {
            dz_raise(DZ_ERR_NULL, "%s: input %d is NULL", op, i);
            return false;
        }
        if (inputs[i]->data && inputs[i]->data->device != DZ_CPU) {
            dz_raise(DZ_ERR_UNSUPPORTED, "%s: input %d is on the GPU; check gradients on the CPU", op, i);
            return false;
        }
    }
    return true;
}

/* The output of the function under test: a float array on the CPU. */
static bool check_output(const dz_variable *y)
{
    const char *op = "dz_gradient_check";
    if (!y->data) {
        dz_raise(DZ_ERR_STATE, "%s: the function returned a variable with no data", op);
        return false;
    }
    if (!dz_dtype_is_float(y->data->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: the function returned %s data; gradients need float32 or float64", op,
                 dz_dtype_name(y->data->dtype));
        return false;
    }
    if (y->data->device != DZ_CPU) {
        dz_raise(DZ_ERR_UNSUPPORTED, "%s: the function returned data on the GPU; check gradients on the CPU", op);
        return false;
    }
    return true;
}

/* Input i's grad (NULL: zeros) against central differences, element by
 * element. Inputs are on the CPU (check_inputs), where the update view is
 * the array's own buffer: f sees each change at once. */
static dz_status check_input(dz_checked_fn f, void *ctx, dz_variable *const *inputs, int i, const dz_array *grad,
                             const double *w, int64_t n, double *values, const dz_gradient_check_options *o)
{
    dz_array *x = inputs[i]->data;
    double *analytic = dz_xcalloc((size_t)(x->size ? x->size : 1), sizeof *analytic);
    if (grad)
        dz_array_to_doubles(grad, analytic);
    dz_host_view view;
    double *data = dz_host_view_update(&view, x); /* f64 (checked) */
    dz_status status = DZ_OK;
    for (int64_t j = 0; j < x->size && status == DZ_OK; j++) {
        double saved = data[j], plus, minus;
        data[j] = saved + o->eps;
        bool ok = weighted_output(f, ctx, inputs, w, n, values, &plus);
        data[j] = saved - o->eps;
        ok = ok && weighted_output(f, ctx, inputs, w, n, values, &minus);
        data[j] = saved;
        if (!ok) {
            status = dz_fail(DZ_ERR_VALUE, "dz_gradient_check: the function failed at input %d element %lld", i,
                             (long long)j);
            break;
        }
        double numeric = (plus - minus) / (2 * o->eps);
        if (!(fabs(analytic[j] - numeric) <= o->atol + o->rtol * fabs(numeric)))
            status = dz_fail(DZ_ERR_VALUE, "dz_gradient_check: input %d %s element %lld: backprop %.10g, numerical "
                             "%.10g", i, DZ_SHAPE_OF(x), (long long)j, analytic[j], numeric);
    }
    dz_host_view_close(&view);
    free(analytic);
    return status;
}

dz_status dz_gradient_check(dz_checked_fn f, void *ctx, int ninputs, dz_variable *const *inputs,
                            const dz_gradient_check_options *options)
{
    dz_gradient_check_options o = {1e-4, 1e-4, 1e-5, 42};
    if (options)
        o = *options;
    if (!dz_check_not_null("dz_gradient_check", f, "the function") || !check_options(&o) ||
        !check_inputs(ninputs, inputs))
        return dz_last_error_code();
    dz_status status = DZ_OK;
    dz_scope_begin();
    for (int i = 0; i < ninputs; i++)
        dz_variable_cleargrad(inputs[i]);
    dz_variable *y = f(inputs, ctx);
    if (!y) {
        dz_scope_end();
        char why[512];
        snprintf(why, sizeof why, "%s", dz_last_error()); /* dz_fail rewrites that buffer */
        return dz_fail(dz_last_error_code() ? dz_last_error_code() : DZ_ERR_VALUE,
                       "dz_gradient_check: the function failed: %s", why);
    }
    if (!check_output(y)) {
        dz_scope_end();
        return dz_last_error_code();
    }
    int64_t n = y->data->size;
    dz_rng rng;
    dz_rng_seed(&rng, o.seed);
    dz_array *weights = dz_array_normal(&rng, y->data->dtype, y->data->ndim, y->data->shape, 0.0, 1.0);
    if (!weights) {
        dz_scope_end();
        return dz_last_error_code();
    }
    double *w = dz_xmalloc((size_t)(n ? n : 1) * sizeof *w);
    dz_array_to_doubles(weights, w);
    dz_variable *seed = dz_variable_new(weights, NULL);
    seed->requires_grad = false;
    dz_variable_set_grad(y, seed);
    status = dz_variable_backward(y, true, false); /* keep grads of non-leaf inputs */
    /* Snapshot the grads: evaluating f again may clear or change them. */
    dz_array **grads = dz_xcalloc((size_t)ninputs, sizeof *grads);
    for (int i = 0; i < ninputs; i++)
        grads[i] = inputs[i]->grad ? dz_array_retain(inputs[i]->grad->data) : NULL;

    double *values = dz_xmalloc((size_t)(n ? n : 1) * sizeof *values);
    for (int i = 0; status == DZ_OK && i < ninputs; i++)
        if (checked(inputs[i]))
            status = check_input(f, ctx, inputs, i, grads[i], w, n, values, &o);
    free(values);
    for (int i = 0; i < ninputs; i++)
        dz_array_release(grads[i]);
    free(grads);
    free(w);
    dz_scope_end();
    return status;
}

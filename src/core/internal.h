/* Internal helpers shared by core and the layers above it: raising errors,
 * argument checks, internal constructors (the assert and checked allocation
 * come from the base beneath). Not installed. */
#ifndef DEZERO_INTERNAL_H
#define DEZERO_INTERNAL_H

#include <stdlib.h>

#include "../base/base.h"
#include "dezero/array.h"
#include "dezero/error.h"
#include "dezero/variable.h"

/* A user error: records the message, runs the handler (default: abort), and
 * returns the code so callers can `return dz_raise(...)` or return NULL. */
dz_status dz_raise(dz_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An environment error: records the message and returns the code; never aborts. */
dz_status dz_fail(dz_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A NULL Variable, array or layer operand (DZ_ERR_NULL), which may be the
 * NULL result of a call that failed before: when an error is recorded and no
 * op has succeeded since (dz_note_success), it stays the one reported, and
 * its code is returned; the handler runs unless it has seen that error
 * already (an environment error it has not). Otherwise the NULL is an error
 * of its own. */
dz_status dz_raise_null_operand(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Counts an op that succeeded (a Function applied): a NULL operand after it
 * is not the result of an earlier failure. */
void dz_note_success(void);
/* Rewrites the recorded error's message (fmt gives the whole new text, which
 * is formatted from a copy of the old one, as an outer call adds its name),
 * as recorded now; its code stays, and so does whether the handler has seen
 * it. Returns the code. Only while an error is recorded. */
dz_status dz_reword_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* How many errors this thread has raised or failed with: a change across a
 * call tells that it failed, whatever was recorded before it. */
unsigned dz_error_count(void);


/* A Function with its input and output slots, fields uninitialised, and its
 * release (function.c); the state is not freed here. */
dz_function *dz_function_alloc(int ninputs, int noutputs);
void dz_function_free(dz_function *f);

/* Frees a thread's own memory; registered with dz_at_thread_exit by the
 * calling thread (once per function), run when that thread exits. */
typedef void (*dz_thread_cleanup)(void);
void dz_at_thread_exit(dz_thread_cleanup fn);

/* Argument checks for the public function `op`: each raises a user error
 * whose message starts with "op: " and returns false when the check fails. */
bool dz_check_dtype(const char *op, dz_dtype dtype);    /* one of the enum's values */
bool dz_check_array(const char *op, const dz_array *a); /* not NULL, valid dtype and device */
bool dz_check_not_null(const char *op, const void *p, const char *what);

/* The array constructors behind the public ones, naming `op` in their errors
 * (a bad dtype, device or shape; out of memory). zero: fill with zeros, else
 * leave uninitialised for a kernel that writes every element. */
dz_array *dz_array_new_for(const char *op, dz_device device, dz_dtype dtype, int ndim, const int64_t *shape,
                           bool zero);
/* Every element `value`, which must fit the dtype (no NaN in an int32). */
dz_array *dz_array_full_for(const char *op, dz_dtype dtype, int ndim, const int64_t *shape, double value);
/* dz_array_to_device for `op`. */
dz_array *dz_array_to_device_for(const char *op, const dz_array *a, dz_device device);
/* The reshape target (ndim, shape) of a, its -1 entry (at most one) resolved
 * into `resolved` (NumPy's rules); false after raising. */
bool dz_resolve_reshape(const char *op, const dz_array *a, int ndim, const int64_t *shape, int64_t *resolved);
/* dz_array_astype for `op`. */
dz_array *dz_array_astype_for(const char *op, const dz_array *a, dz_dtype dtype);
/* dz_array_reshape for `op`. */
dz_array *dz_array_reshape_for(const char *op, const dz_array *a, int ndim, const int64_t *shape);

/* For shapes already checked (taken from existing arrays): their errors can
 * only be out of memory, and name "dz_array". An op that builds a shape from
 * its arguments uses dz_array_new_for with its own name. */
/* A zero-filled array on `device`. */
dz_array *dz_array_empty_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape);
/* Arrays whose elements are left uninitialised, for a kernel that writes
 * every one of them (no zero-fill pass over memory the kernel overwrites). */
dz_array *dz_array_uninit_on(dz_device device, dz_dtype dtype, int ndim, const int64_t *shape);
dz_array *dz_array_uninit_like(const dz_array *a);

/* Shape text for messages, in a rotating static buffer (up to 4 live). */
const char *dz_shape_str(int ndim, const int64_t *shape);
#define DZ_SHAPE_OF(a) dz_shape_str((a)->ndim, (a)->shape)
/* "CPU" or "GPU", for messages. */
static inline const char *dz_device_name(dz_device device) { return device == DZ_CPU ? "CPU" : "GPU"; }

/* Sparse grads (sparse_grad.c). The coalesced entries of g as new arrays, g
 * unchanged: sorted unique indices, each one's values summed in entry order. */
dz_status dz_sparse_grad_coalesced_entries(const dz_sparse_grad *g, dz_array **indices, dz_array **values);
/* A grad Variable without data that carries sparse entries (num_rows rows of
 * the weight): what a sparse backward stores in gxs. Backward's accumulation
 * appends it to the input's sparse grad, or densifies it against a dense one.
 * Takes the references to indices and values; NULL when either is NULL. */
dz_variable *dz_sparse_grad_variable(dz_array *indices, dz_array *values, int64_t num_rows);

#endif

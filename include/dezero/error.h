/* Errors, in two tiers.
 *
 * User errors (bad shapes, indices, dtypes, devices, NULL operands) go through one
 * path: the message is recorded and the error handler runs. The default handler
 * prints the message and aborts. dz_set_error_handler_off() turns that off: the
 * failing call then returns NULL (or a status) and dz_last_error() says why.
 *
 * Environment errors (files, npz, allocation, CUDA) never call the handler: they
 * only record the message and return a status.
 *
 * The record: each thread keeps one error, its code and message. A successful
 * call leaves the record as it is (as errno); dz_clear_error() empties it, so
 * clear it once you have handled an error. A new error replaces the record,
 * except a NULL operand: a Variable, array or layer passed as NULL while an
 * error is recorded, and no op has succeeded on this thread since, is most
 * likely the NULL result of the call that failed, so the earlier code and
 * message stay and the call returns that code. With the handler off,
 *
 *     dz_variable *y = dz_mul(dz_add(a, b), c);   // b's shape does not fit a's
 *
 * gives y == NULL and dz_last_error() says why dz_add failed, not that dz_mul
 * got a NULL input. Once an op has succeeded (a Function applied: the ops of
 * math.h, linalg.h, a layer's forward...), a NULL operand is an error of its
 * own (DZ_ERR_NULL), recorded and handled as any other, even if an earlier
 * error was never cleared. So in dz_mul(dz_add(a, b), dz_exp(c)) the
 * reported error depends on whether dz_exp ran before or after dz_add (C
 * leaves the order open): take such operands apart to be sure. The handler
 * sees each error once: the default one aborts at the first; a NULL operand
 * after an environment error (which the handler has not seen) runs it with
 * that environment error's code and message. Other NULL arguments (a path, an
 * output pointer, a name) are errors of their own.
 */
#ifndef DEZERO_ERROR_H
#define DEZERO_ERROR_H

#include <stdbool.h>

#include "dezero/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dz_status {
    DZ_OK = 0,
    DZ_ERR_NULL,        /* a required argument is NULL */
    DZ_ERR_SHAPE,       /* shapes do not fit the op */
    DZ_ERR_DTYPE,       /* the op does not accept this dtype, or dtypes differ */
    DZ_ERR_INDEX,       /* an index is out of range */
    DZ_ERR_VALUE,       /* an argument has a bad value */
    DZ_ERR_DEVICE,      /* arrays live on different devices, or no device */
    DZ_ERR_OVERFLOW,    /* a size does not fit in 64 bits */
    DZ_ERR_STATE,       /* the call is not valid in the object's current state */
    DZ_ERR_NOMEM,       /* allocation failed */
    DZ_ERR_IO,          /* a file could not be opened, read or written */
    DZ_ERR_FORMAT,      /* a file is malformed */
    DZ_ERR_UNSUPPORTED, /* valid input this library does not handle */
    DZ_ERR_CUDA         /* a CUDA or cuBLAS call failed */
} dz_status;

typedef void (*dz_error_handler)(dz_status code, const char *message);

/* Install a handler for user errors; returns the previous one. NULL restores
 * the default (print and abort). */
DZ_API dz_error_handler dz_set_error_handler(dz_error_handler handler);

/* Make user errors return NULL / a status instead of aborting; returns the
 * previous handler so it can be restored. */
DZ_API dz_error_handler dz_set_error_handler_off(void);

/* The message and code of the error recorded on this thread (see above):
 * "" and DZ_OK when none is. */
DZ_API const char *dz_last_error(void);
DZ_API dz_status dz_last_error_code(void);
DZ_API void dz_clear_error(void);

/* A short name for a status code ("shape error"). */
DZ_API const char *dz_status_name(dz_status code);

#ifdef __cplusplus
}
#endif

#endif

/* Debugging aids (src/core/debug.c): how many objects are alive, and a
 * warning at exit about those never released.
 *
 * dz_debug_live_objects counts what is in use right now in the whole process,
 * on every thread and device: Variables (grads and Parameters included),
 * recorded Functions (the graph's nodes), arrays (each dz_array, the data of
 * Variables included) and the storages behind them with their bytes (a
 * reshaped array shares its source's storage). Freed blocks kept for reuse
 * are not counted. Counting costs an add per object created or freed, on a
 * block of the thread's own (a relaxed atomic, no locked instruction, no
 * cache line shared between threads). The counts are exact when the other
 * threads are quiet (joined, or waiting on the reader); read while they
 * create or free objects, they may miss those in flight. Compare two reads
 * around a step to find what it leaks:
 *
 *     dz_live_objects before = dz_debug_live_objects();
 *     train_step(model, opt);
 *     dz_live_objects after = dz_debug_live_objects();
 *     // after.variables - before.variables should be 0
 *
 * The leak warning: with dz_debug_warn_leaks_at_exit(true), or the
 * environment variable DZ_DEBUG_LEAKS set to 1 when the program starts, a
 * program that exits normally (return from main, exit()) prints to stderr
 * what is still alive if anything is:
 *
 *     dezero: at exit 1 Variable, 0 Functions and 1 array (24 bytes) are still alive ...
 *
 * followed by which calls release what. Everything alive at exit counts: a
 * Variable never released, one kept out of a scope (dz_scope_keep) and never
 * released, one in a scope that was never ended, and the Parameters of a
 * layer never freed with dz_layer_free. Nothing is printed when everything was
 * released. A program that ends by abort() or _exit() prints nothing.
 */
#ifndef DEZERO_DEBUG_H
#define DEZERO_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_live_objects {
    int64_t variables;     /* Variables, Parameters and grads */
    int64_t functions;     /* Functions recorded in graphs */
    int64_t arrays;        /* dz_array objects, those Variables hold included */
    int64_t storages;      /* the buffers behind the arrays */
    int64_t storage_bytes; /* their size in bytes, all devices */
} dz_live_objects;

/* The objects alive now in the process. */
DZ_API dz_live_objects dz_debug_live_objects(void);

/* Turn the warning at exit on or off (the last call wins; it overrides
 * DZ_DEBUG_LEAKS). */
DZ_API void dz_debug_warn_leaks_at_exit(bool on);

#ifdef __cplusplus
}
#endif

#endif

/* NumPy .npy / .npz files.
 *
 * A dz_npz is an in-memory set of named arrays, in insertion order. Loading
 * reads every member of an .npz archive (np.savez / np.savez_compressed
 * output, stored or deflated) and keeps each array's dtype as the file has it
 * (big-endian data is converted to host order, Fortran-order data to C order).
 * Saving writes the archive NumPy writes for the same arrays.
 *
 * Member names are the keys np.load reports: "l1/W" is stored as "l1/W.npy".
 *
 * File and format errors never abort: the call returns a status and
 * dz_last_error() names the file, the member and what is wrong. NULL
 * arguments and bad names are user errors (see error.h).
 */
#ifndef DEZERO_NPZ_H
#define DEZERO_NPZ_H

#include <stdbool.h>
#include <stddef.h>

#include "dezero/export.h"
#include "dezero/array.h"
#include "dezero/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_npz dz_npz;

DZ_API dz_npz *dz_npz_new(void);
DZ_API void dz_npz_free(dz_npz *z);

/* Adds a reference to `a` under `name`, replacing an array of the same name
 * (which keeps its position). */
DZ_API dz_status dz_npz_add(dz_npz *z, const char *name, const dz_array *a);
DZ_API int dz_npz_count(const dz_npz *z);
/* Name of entry i (insertion order), without ".npy". */
DZ_API const char *dz_npz_name(const dz_npz *z, int i);
/* Borrowed reference, NULL when absent. */
DZ_API dz_array *dz_npz_get(const dz_npz *z, const char *name);

/* Reads every member; on success *out is a new dz_npz (free with dz_npz_free),
 * on failure *out is NULL. */
DZ_API dz_status dz_npz_load(const char *path, dz_npz **out);
DZ_API dz_status dz_npz_load_buffer(const void *data, size_t len, dz_npz **out);

/* Writes atomically: a temporary file "<path>.tmp.<pid>.XXXXXX" in the same
 * directory, fsync'd, then renamed over `path`. On failure the previous file
 * is left as it was. A temporary file left by a writer that was killed is
 * removed by the next save of `path`, once that writer is gone.
 * compressed = false is np.savez, true is np.savez_compressed. `path` is used
 * as given (np.savez would append ".npz"). */
DZ_API dz_status dz_npz_save(const dz_npz *z, const char *path, bool compressed);

/* A single array as .npy (np.save / np.load); the save is atomic as above. */
DZ_API dz_status dz_npy_save(const char *path, const dz_array *a);
DZ_API dz_status dz_npy_load(const char *path, dz_array **out);

#ifdef __cplusplus
}
#endif

#endif

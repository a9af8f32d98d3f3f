/* npz encoding to memory, with the zip layout and zip64 limit exposed so tests
 * can compare the bytes with archives any CPython version writes, and loading
 * and saving with messages named after another public function (internal). */
#ifndef DEZERO_IO_NPZ_INTERNAL_H
#define DEZERO_IO_NPZ_INTERNAL_H

#include "dezero/npz.h"
#include "zip.h"

/* The archive dz_npz_save would write (with DZ_ZIP_LAYOUT_CPYTHON and
 * DZ_ZIP64_LIMIT), as a malloc'd buffer of *len bytes. */
dz_status dz_npz_encode(const dz_npz *z, bool compressed, dz_zip_layout layout, uint64_t zip64_limit,
                        unsigned char **out, size_t *len);

/* dz_npz_load / dz_npz_save, every message starting with `op` (the public
 * function that loads or saves through them). */
dz_status dz_npz_load_as(const char *op, const char *path, dz_npz **out);
dz_status dz_npz_save_as(const char *op, const dz_npz *z, const char *path, bool compressed);

#endif

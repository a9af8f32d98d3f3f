/* npz encoding to memory, with the zip layout and zip64 limit exposed so tests
 * can compare the bytes with archives any CPython version writes (internal). */
#ifndef DEZERO_IO_NPZ_INTERNAL_H
#define DEZERO_IO_NPZ_INTERNAL_H

#include "dezero/npz.h"
#include "zip.h"

/* The archive dz_npz_save would write (with DZ_ZIP_LAYOUT_CPYTHON and
 * DZ_ZIP64_LIMIT), as a malloc'd buffer of *len bytes. */
dz_status dz_npz_encode(const dz_npz *z, bool compressed, dz_zip_layout layout, uint64_t zip64_limit,
                        unsigned char **out, size_t *len);

#endif

/* The .npy format (internal): NumPy 1.24's header writer and a strict reader.
 *
 * File layout (reference/npz.md §1.1):
 *   0   6  "\x93NUMPY"
 *   6   2  version major, minor: 1.0, 2.0 or 3.0
 *   8   2  HEADER_LEN, little-endian (4 bytes for 2.0 and 3.0)
 *   10  HEADER_LEN  a Python dict literal {'descr', 'fortran_order', 'shape'},
 *                   space-padded and ending in '\n'; data starts at 10 + HEADER_LEN
 *                   (12 + HEADER_LEN), a multiple of 64 in files NumPy wrote
 *   ... prod(shape) * itemsize bytes of data
 */
#ifndef DEZERO_IO_NPY_H
#define DEZERO_IO_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dezero/array.h"
#include "dezero/error.h"

/* NumPy's max_header_size: longer headers are refused. */
#define DZ_NPY_MAX_HEADER_LEN 10000

/* Where the reader pulls bytes from: a memory range or a zip member. */
typedef struct dz_npy_source {
    /* Exactly n bytes into buf, or a recorded error. */
    dz_status (*read)(void *ctx, void *buf, size_t n);
    void *ctx;
    uint64_t size;     /* bytes the source holds */
    bool exact;        /* the data must end at `size` (zip member); else trailing bytes are ignored */
    const char *label; /* names the file (and member) in messages */
} dz_npy_source;

/* NumPy's _wrap_header_guess_version: prefix, `text`, space padding so the
 * data starts on a 64-byte boundary, '\n'. Version 1.0 when HEADER_LEN fits in
 * 16 bits, else 2.0. Returns a malloc'd buffer of *len bytes. */
unsigned char *dz_npy_wrap_header(const char *text, size_t text_len, size_t *len);

/* The header np.save (NumPy >= 1.24) writes for `a`: C order, host byte order.
 * Malloc'd, *len bytes; the array's raw bytes follow it in the file. */
unsigned char *dz_npy_header(const dz_array *a, size_t *len);

/* Reads one .npy from `src` into a new CPU array of the file's dtype, in C
 * order and host byte order. */
dz_status dz_npy_read(const dz_npy_source *src, dz_array **out);

/* dz_npy_read over a memory range (a whole .npy file). */
dz_status dz_npy_read_buffer(const void *data, size_t len, const char *label, dz_array **out);

#endif

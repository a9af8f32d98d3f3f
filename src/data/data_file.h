/* Reading the data files of the datasets (IDX, text), gzip'd or not, as
 * environment input: every failure (a missing file, a gzip stream that is
 * corrupt or ends early, memory) returns a status whose message starts with
 * the public function the user called and names the file; nothing aborts. */
#ifndef DEZERO_DATA_FILE_H
#define DEZERO_DATA_FILE_H

#include <stddef.h>
#include <zlib.h>

#include "dezero/error.h"

/* Opens `path` for reading; a gzip'd file is decompressed as it is read.
 * `hint` is added to the message of a failure (say what to install). */
dz_status dz_data_open(const char *op, const char *path, const char *hint, gzFile *file);

/* Reads from `file` until its end or `limit` bytes into a new buffer with a
 * zero byte after the data (*bytes, freed with free(); NULL on failure);
 * limit < SIZE_MAX. The
 * buffer grows as data arrives, so a header that promises more than the file
 * holds costs no more memory than the file. */
dz_status dz_data_read(const char *op, const char *path, gzFile file, size_t limit, unsigned char **bytes,
                       size_t *length);

#endif

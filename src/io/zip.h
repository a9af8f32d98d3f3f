/* The ZIP container of .npz files (internal): a reader for every archive
 * NumPy writes (stored and deflate members, zip64, data descriptors) and a
 * writer of the exact records CPython's zipfile writes for np.savez.
 * zlib does the deflate/inflate and CRC-32; the container code is ours.
 *
 * Records (little-endian; reference/npz.md §2.2):
 *   local header  "PK\3\4" ver flags method time date crc csize usize nlen elen name extra, data
 *   central entry "PK\1\2" made-by ver flags method time date crc csize usize nlen elen clen
 *                 disk iattr eattr offset name extra comment
 *   [zip64 EOCD "PK\6\6" + locator "PK\6\7"]  EOCD "PK\5\6" disk cd-disk n n cd-size cd-offset clen
 * 32-bit fields that read 0xFFFFFFFF take their value from the zip64 extra
 * field (id 1: usize, csize, offset, disk, each only when saturated).
 */
#ifndef DEZERO_IO_ZIP_H
#define DEZERO_IO_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "dezero/error.h"

/* --- reader ------------------------------------------------------------- */

typedef struct dz_zip_entry {
    char *name; /* the central directory's name in UTF-8 (decoded from code page 437 without the UTF-8 flag) */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize;
    uint64_t header_offset; /* local header */
    uint64_t data_offset;   /* first byte of the member's (compressed) data */
} dz_zip_entry;

typedef struct dz_zip_reader {
    const unsigned char *data;
    uint64_t len;
    const char *label; /* the file name, for messages */
    size_t count;
    dz_zip_entry *entries; /* central directory order */
} dz_zip_reader;

/* Parses and validates the whole directory of the archive in data[0, len):
 * every entry's local header, name, range and method are checked here. The
 * memory must outlive the reader. */
dz_status dz_zip_reader_open(dz_zip_reader *r, const void *data, size_t len, const char *label);
void dz_zip_reader_close(dz_zip_reader *r);

/* Sequential reading of one member's uncompressed bytes. */
typedef struct dz_zip_stream {
    const dz_zip_reader *r;
    const dz_zip_entry *e;
    const unsigned char *in; /* next unread compressed byte */
    uint64_t in_left;
    uint64_t produced; /* uncompressed bytes handed out */
    uint32_t crc;
    bool inflating, ended;
    z_stream z;
} dz_zip_stream;

dz_status dz_zip_stream_open(dz_zip_stream *s, const dz_zip_reader *r, size_t i);
/* Exactly n more bytes (never past the entry's usize), or an error. */
dz_status dz_zip_stream_read(dz_zip_stream *s, void *buf, size_t n);
/* After all usize bytes were read: the data must end there and match the CRC. */
dz_status dz_zip_stream_finish(dz_zip_stream *s);
void dz_zip_stream_close(dz_zip_stream *s);

/* --- writer ------------------------------------------------------------- */

/* The two record layouts CPython writes for np.savez (zip64 forced on every
 * member, reference/npz.md §2.2). */
typedef enum dz_zip_layout {
    DZ_ZIP_LAYOUT_CPYTHON,       /* CPython >= 3.11.4 and 3.12+: version 45, local sizes 0xFFFFFFFF */
    DZ_ZIP_LAYOUT_CPYTHON_3_11_3 /* CPython <= 3.11.3 (Debian 12): version 20, real local sizes */
} dz_zip_layout;

/* Python's zipfile.ZIP64_LIMIT: sizes and offsets above it use zip64 fields. */
#define DZ_ZIP64_LIMIT ((uint64_t)INT32_MAX)

typedef struct dz_zip_writer dz_zip_writer;

/* A writer to `f` (seekable; positioned at its start), or to memory when f is
 * NULL. `zip64_limit` is DZ_ZIP64_LIMIT except in tests. */
dz_zip_writer *dz_zip_writer_new(FILE *f, const char *label, dz_zip_layout layout, uint64_t zip64_limit);

/* One member: the concatenation of the parts, stored or deflated
 * (zlib level 6, raw, memLevel 8, as Python's zlib.compressobj). */
typedef struct dz_zip_part {
    const void *data;
    size_t len;
} dz_zip_part;
dz_status dz_zip_writer_add(dz_zip_writer *w, const char *name, const dz_zip_part *parts, int nparts, bool deflate);

/* Central directory and end records. */
dz_status dz_zip_writer_finish(dz_zip_writer *w);
/* Memory writers: the archive bytes, malloc'd, after finish; the writer keeps none. */
unsigned char *dz_zip_writer_take(dz_zip_writer *w, size_t *len);
void dz_zip_writer_free(dz_zip_writer *w);

#endif

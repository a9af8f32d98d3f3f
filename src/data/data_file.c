/* Reading data files whole or in parts through zlib (which passes files that
 * are not gzip'd through as they are), with every error returned as a status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "data_file.h"

enum { FIRST_CHUNK = 64 * 1024, MAX_READ = 1 << 30 }; /* gzread takes an unsigned count, returns an int */

dz_status dz_data_open(const char *op, const char *path, const char *hint, gzFile *file)
{
    errno = 0;
    *file = gzopen(path, "rb");
    if (!*file)
        return dz_fail(DZ_ERR_IO, "%s: cannot open %s: %s%s", op, path, errno ? strerror(errno) : "out of memory",
                       hint);
    return DZ_OK;
}

/* The status of a read that stopped: OK at the end of the data, else why. */
static dz_status read_error(const char *op, const char *path, gzFile file)
{
    int code;
    const char *text = gzerror(file, &code);
    switch (code) {
    case Z_OK:
    case Z_STREAM_END:
        return DZ_OK;
    case Z_BUF_ERROR:
        return dz_fail(DZ_ERR_FORMAT, "%s: %s: the gzip data ends early (a truncated download?)", op, path);
    case Z_ERRNO:
        return dz_fail(DZ_ERR_IO, "%s: cannot read %s: %s", op, path, strerror(errno));
    case Z_MEM_ERROR:
        return dz_fail(DZ_ERR_NOMEM, "%s: %s: out of memory while decompressing", op, path);
    default:
        return dz_fail(DZ_ERR_FORMAT, "%s: %s: corrupt gzip data (%s)", op, path, text);
    }
}

/* Grows *bytes to hold `capacity` bytes and a terminating zero. */
static dz_status grow(const char *op, const char *path, unsigned char **bytes, size_t capacity)
{
    unsigned char *more = realloc(*bytes, capacity + 1);
    if (!more)
        return dz_fail(DZ_ERR_NOMEM, "%s: %s: cannot allocate %zu bytes for its data", op, path, capacity + 1);
    *bytes = more;
    return DZ_OK;
}

dz_status dz_data_read(const char *op, const char *path, gzFile file, size_t limit, unsigned char **bytes,
                       size_t *length)
{
    size_t used = 0, capacity = 0;
    *bytes = NULL;
    dz_status st = grow(op, path, bytes, 0);
    while (st == DZ_OK && used < limit) {
        if (used == capacity) { /* double the buffer, up to the limit */
            size_t step = capacity ? capacity : FIRST_CHUNK;
            capacity = step > limit - capacity ? limit : capacity + step;
            st = grow(op, path, bytes, capacity);
            continue;
        }
        size_t want = capacity - used < MAX_READ ? capacity - used : MAX_READ;
        int got = gzread(file, *bytes + used, (unsigned)want);
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    if (st == DZ_OK)
        st = read_error(op, path, file);
    if (st != DZ_OK) {
        free(*bytes);
        *bytes = NULL;
        return st;
    }
    (*bytes)[used] = '\0';
    *length = used;
    return DZ_OK;
}

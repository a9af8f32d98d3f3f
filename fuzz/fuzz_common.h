/* Helpers shared by the libFuzzer targets: property checks that crash with
 * the property's text, and files written into a temporary folder (under
 * $TMPDIR, else /tmp; run_fuzz.sh points it at a tmpfs when there is one, as
 * a disk makes these targets slow). */
#ifndef DEZERO_FUZZ_COMMON_H
#define DEZERO_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

/* A property that must hold: when it does not, say which and crash. */
#define check(ok) ((ok) ? (void)0 : fail(#ok, __FILE__, __LINE__))
static inline void fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}

/* "$TMPDIR/<name>XXXXXX" in buf, for mkdtemp or mkstemp. */
static inline void temp_template(char *buf, size_t size, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(buf, size, "%s/%sXXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    check(n > 0 && (size_t)n < size);
}

/* Writes bytes to path, gzip'd when `gzip`. */
static inline void write_file(const char *path, const uint8_t *bytes, size_t len, bool gzip)
{
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        check(f && (len == 0 || gzwrite(f, bytes, (unsigned)len) == (int)len) && gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        check(f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0);
    }
}

#endif

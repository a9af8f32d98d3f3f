/* libFuzzer target for the npz reader: dz_npz_load_buffer on arbitrary bytes
 * must return a status, never crash, leak or raise a user error (the default
 * handler, which aborts, stays installed). What loads must also re-encode
 * and load again with the same names. Built by fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dezero/dezero.h"
#include "io/npz_internal.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void reencode(const dz_npz *z)
{
    unsigned char *buf;
    size_t len;
    dz_npz *back = NULL;
    if (dz_npz_encode(z, true, DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT, &buf, &len) != DZ_OK)
        return; /* e.g. a name too long for a ZIP once ".npy" is added */
    check(dz_npz_load_buffer(buf, len, &back) == DZ_OK);
    check(dz_npz_count(back) == dz_npz_count(z));
    for (int i = 0; i < dz_npz_count(z); i++) {
        const dz_array *a = dz_npz_get(z, dz_npz_name(z, i)), *b = dz_npz_get(back, dz_npz_name(z, i));
        check(b && a->dtype == b->dtype && dz_array_same_shape(a, b));
        check(memcmp(a->data, b->data, (size_t)a->size * dz_dtype_size(a->dtype)) == 0);
    }
    dz_npz_free(back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dz_npz *z = NULL;
    if (dz_npz_load_buffer(data, size, &z) == DZ_OK) {
        reencode(z);
        dz_npz_free(z);
    }
    return 0;
}

/* Fashion-MNIST / MNIST IDX files (optionally gzip'd): a big-endian header of
 * a magic number (0x0801 labels, 0x0803 images) and the dimensions, then
 * unsigned bytes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../core/internal.h"
#include "dezero/datasets.h"

/* Opens dir/name.gz, or dir/name when no .gz exists (gzopen reads both). */
static gzFile open_idx(const char *dir, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s.gz", dir, name);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(path, len, "%s/%s", dir, name);
        f = gzopen(path, "rb");
    }
    return f;
}

static bool read_u32(gzFile f, uint32_t *v)
{
    unsigned char b[4];
    if (gzread(f, b, 4) != 4)
        return false;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return true;
}

/* Reads the header (magic, ndim dims) and count*item_size bytes. */
static dz_status read_idx(const char *dir, const char *name, uint32_t magic, int ndim, uint32_t *dims,
                          unsigned char **bytes)
{
    char path[4096];
    gzFile f = open_idx(dir, name, path, sizeof path);
    if (!f)
        return dz_fail(DZ_ERR_IO, "fashion-mnist: cannot open %s (install Debian's dataset-fashion-mnist or set "
                                  "DZ_FASHION_MNIST_DIR)", path);
    uint32_t m;
    dz_status st = DZ_OK;
    if (!read_u32(f, &m) || m != magic) {
        st = dz_fail(DZ_ERR_FORMAT, "fashion-mnist: %s: bad magic number (expected 0x%08x)", path, magic);
    }
    uint64_t total = 1;
    for (int i = 0; st == DZ_OK && i < ndim; i++) {
        if (!read_u32(f, &dims[i]) || dims[i] == 0 || dims[i] > 10000000u)
            st = dz_fail(DZ_ERR_FORMAT, "fashion-mnist: %s: bad dimension %d", path, i);
        total *= dims[i];
    }
    if (st == DZ_OK && total > ((uint64_t)1 << 32))
        st = dz_fail(DZ_ERR_FORMAT, "fashion-mnist: %s: %llu bytes is too large", path, (unsigned long long)total);
    if (st == DZ_OK) {
        *bytes = malloc(total);
        if (!*bytes)
            st = dz_fail(DZ_ERR_NOMEM, "fashion-mnist: %s: cannot allocate %llu bytes", path,
                         (unsigned long long)total);
        else if ((uint64_t)gzread(f, *bytes, (unsigned)total) != total) {
            free(*bytes);
            st = dz_fail(DZ_ERR_FORMAT, "fashion-mnist: %s: file is truncated", path);
        }
    }
    gzclose(f);
    return st;
}

dz_status dz_dataset_fashion_mnist(const char *dir, bool train, dz_array **images, dz_array **labels)
{
    if (!dir)
        dir = getenv("DZ_FASHION_MNIST_DIR") ? getenv("DZ_FASHION_MNIST_DIR") : DZ_FASHION_MNIST_DIR;
    const char *image_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *label_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    uint32_t idims[3], ldims[1];
    unsigned char *pixels = NULL, *marks = NULL;
    dz_status st = read_idx(dir, image_name, 0x00000803u, 3, idims, &pixels);
    if (st == DZ_OK)
        st = read_idx(dir, label_name, 0x00000801u, 1, ldims, &marks);
    if (st == DZ_OK && ldims[0] != idims[0])
        st = dz_fail(DZ_ERR_FORMAT, "fashion-mnist: %u images but %u labels in %s", idims[0], ldims[0], dir);
    if (st == DZ_OK) {
        int64_t n = idims[0], d = (int64_t)idims[1] * idims[2];
        *images = dz_array_uninit_on(DZ_CPU, DZ_F32, 2, DZ_SHAPE(n, d)); // (N, 784)
        *labels = dz_array_uninit_on(DZ_CPU, DZ_I32, 1, DZ_SHAPE(n));    // (N,)
        float *x = (*images)->data;
        int32_t *t = (*labels)->data;
        for (int64_t i = 0; i < n * d; i++)
            x[i] = pixels[i] / 255.0f;
        for (int64_t i = 0; i < n; i++)
            t[i] = marks[i];
    }
    free(pixels);
    free(marks);
    return st;
}

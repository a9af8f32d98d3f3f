/* Fashion-MNIST / MNIST IDX files (optionally gzip'd): a big-endian header of
 * a magic number (two zero bytes, the element type 0x08 for unsigned bytes,
 * the number of dimensions: 0x00000803 images, 0x00000801 labels), one 32-bit
 * size per dimension, then the elements.
 *
 * The files come from outside: whatever is wrong with them (missing,
 * truncated, a bad header, sizes that overflow or disagree, labels out of
 * range) is an environment error, returned as a status whose message names
 * the file and what is wrong; the outputs are then left NULL. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "data_file.h"
#include "dezero/datasets.h"

#define OP "dz_dataset_fashion_mnist"

enum { IDX_UBYTE = 0x08, CLASSES = 10 };

/* One IDX file read whole: its dimensions and its elements. */
typedef struct {
    char *path;
    uint32_t dims[3];
    unsigned char *data; /* dims[0] * dims[1] * ... bytes */
} idx_file;

/* dir/name.gz when it exists, else dir/name (a new string in *path). */
static dz_status idx_open(const char *dir, const char *name, char **path, gzFile *file)
{
    size_t len = strlen(dir) + strlen(name) + sizeof "/.gz";
    *path = malloc(len);
    if (!*path)
        return dz_fail(DZ_ERR_NOMEM, OP ": cannot allocate the path of %s in %s", name, dir);
    snprintf(*path, len, "%s/%s.gz", dir, name);
    if (dz_data_open(OP, *path, "", file) == DZ_OK)
        return DZ_OK;
    snprintf(*path, len, "%s/%s", dir, name);
    return dz_data_open(OP, *path, " (install Debian's dataset-fashion-mnist or set DZ_FASHION_MNIST_DIR)", file);
}

static uint32_t big_endian_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Checks the magic number and reads the dimensions; *count is their product. */
static dz_status parse_header(idx_file *idx, const unsigned char *head, size_t len, int ndim, size_t *count)
{
    size_t want = 4 + 4 * (size_t)ndim;
    if (len < want)
        return dz_fail(DZ_ERR_FORMAT, OP ": %s: the file ends inside its %zu-byte header (%zu bytes)", idx->path,
                       want, len);
    if (head[0] != 0 || head[1] != 0)
        return dz_fail(DZ_ERR_FORMAT, OP ": %s: not an IDX file (it starts with %02x %02x, not 00 00)", idx->path,
                       head[0], head[1]);
    if (head[2] != IDX_UBYTE)
        return dz_fail(DZ_ERR_FORMAT, OP ": %s: elements of IDX type 0x%02x; Fashion-MNIST files hold unsigned "
                       "bytes (0x08)", idx->path, head[2]);
    if (head[3] != ndim)
        return dz_fail(DZ_ERR_FORMAT, OP ": %s: %d dimensions where %s files have %d", idx->path, head[3],
                       ndim == 3 ? "image" : "label", ndim);
    *count = 1;
    for (int i = 0; i < ndim; i++) {
        idx->dims[i] = big_endian_u32(head + 4 + 4 * i);
        if (__builtin_mul_overflow(*count, (size_t)idx->dims[i], count) || *count > SIZE_MAX / 8)
            return dz_fail(DZ_ERR_FORMAT, OP ": %s: dimensions %u x %u x %u make more bytes than fit in memory",
                           idx->path, idx->dims[0], ndim > 1 ? idx->dims[1] : 1, ndim > 2 ? idx->dims[2] : 1);
    }
    return DZ_OK;
}

/* Reads the header and exactly as many elements as it describes. */
static dz_status parse_idx(idx_file *idx, gzFile file, int ndim)
{
    unsigned char *head;
    size_t len, count = 0;
    dz_status st = dz_data_read(OP, idx->path, file, 4 + 4 * (size_t)ndim, &head, &len);
    if (st != DZ_OK)
        return st;
    st = parse_header(idx, head, len, ndim, &count);
    free(head);
    if (st != DZ_OK)
        return st;
    st = dz_data_read(OP, idx->path, file, count + 1, &idx->data, &len); /* one more: is there extra data? */
    if (st == DZ_OK && len != count)
        st = dz_fail(DZ_ERR_FORMAT, OP ": %s: its header describes %zu bytes of data but the file %s", idx->path,
                     count, len < count ? "ends early (a truncated download?)" : "holds more");
    return st;
}

/* Reads dir/name(.gz) with `ndim` dimensions into idx (freed by idx_free,
 * whatever the status). */
static dz_status idx_read(idx_file *idx, const char *dir, const char *name, int ndim)
{
    gzFile file;
    dz_status st = idx_open(dir, name, &idx->path, &file);
    if (st != DZ_OK)
        return st;
    st = parse_idx(idx, file, ndim);
    gzclose(file);
    return st;
}

static void idx_free(idx_file *idx)
{
    free(idx->path);
    free(idx->data);
}

/* The images and labels files agree in count and every label is a class. */
static dz_status check_pair(const idx_file *images, const idx_file *labels)
{
    if (images->dims[0] != labels->dims[0])
        return dz_fail(DZ_ERR_FORMAT, OP ": %s holds %u images but %s holds %u labels", images->path,
                       images->dims[0], labels->path, labels->dims[0]);
    for (uint32_t i = 0; i < labels->dims[0]; i++)
        if (labels->data[i] >= CLASSES)
            return dz_fail(DZ_ERR_FORMAT, OP ": %s: label %u at index %u is not a class 0..%d", labels->path,
                           labels->data[i], i, CLASSES - 1);
    return DZ_OK;
}

/* images (N, rows * columns) f32 in [0, 1] and labels (N,) i32. */
static dz_status to_arrays(const idx_file *images, const idx_file *labels, dz_array **x, dz_array **t)
{
    int64_t n = images->dims[0], d = (int64_t)images->dims[1] * images->dims[2];
    *x = dz_array_uninit_on(DZ_CPU, DZ_F32, 2, DZ_SHAPE(n, d)); // (N, 784)
    *t = dz_array_uninit_on(DZ_CPU, DZ_I32, 1, DZ_SHAPE(n));    // (N,)
    if (!*x || !*t) {
        dz_array_release(*x);
        dz_array_release(*t);
        *x = *t = NULL;
        return dz_fail(DZ_ERR_NOMEM, OP ": cannot allocate arrays for %lld images of %lld pixels", (long long)n,
                       (long long)d);
    }
    float *pixels = (*x)->data;
    int32_t *classes = (*t)->data;
    for (int64_t i = 0; i < n * d; i++)
        pixels[i] = images->data[i] / 255.0f;
    for (int64_t i = 0; i < n; i++)
        classes[i] = labels->data[i];
    return DZ_OK;
}

dz_status dz_dataset_fashion_mnist(const char *dir, bool train, dz_array **images, dz_array **labels)
{
    if (!images || !labels)
        return dz_raise(DZ_ERR_NULL, OP ": %s is NULL; pass the addresses of two dz_array * for the images and "
                        "the labels", images ? "labels" : "images");
    *images = *labels = NULL;
    if (!dir)
        dir = getenv("DZ_FASHION_MNIST_DIR") ? getenv("DZ_FASHION_MNIST_DIR") : DZ_FASHION_MNIST_DIR;
    idx_file x = {0}, t = {0};
    dz_status st = idx_read(&x, dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte", 3);
    if (st == DZ_OK)
        st = idx_read(&t, dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte", 1);
    if (st == DZ_OK)
        st = check_pair(&x, &t);
    if (st == DZ_OK)
        st = to_arrays(&x, &t, images, labels);
    idx_free(&x);
    idx_free(&t);
    return st;
}

/* libFuzzer target for the Fashion-MNIST IDX reader: the input becomes an
 * images file and a labels file, and dz_dataset_fashion_mnist must return a
 * status, never crash, leak or raise a user error (the default handler, which
 * aborts, stays installed). Built by fuzz/run_fuzz.sh.
 *
 * Input: a flags byte, a big-endian 16-bit length L, then L bytes of the
 * images file and the rest for the labels file. Flags: 1 = the train names,
 * 2/4 = gzip the images/labels bytes, 8/16 = name the images/labels file
 * ".gz" (bytes not gzip'd by 2/4 are then read as they are, so mutated gzip
 * streams reach zlib too). */
#include <string.h>
#include <unistd.h>

#include "dezero/dezero.h"
#include "fuzz_common.h"

enum { TRAIN = 1, GZIP_IMAGES = 2, GZIP_LABELS = 4, GZ_NAME_IMAGES = 8, GZ_NAME_LABELS = 16 };

static char dir[4096];

static void path_of(char *path, size_t size, const char *name, bool gz_name)
{
    snprintf(path, size, "%s/%s%s", dir, name, gz_name ? ".gz" : "");
}

/* Writes dir/name(.gz) (removing the other name), gzip'd when `gzip`. */
static void write_idx(const char *name, bool gz_name, bool gzip, const uint8_t *bytes, size_t len)
{
    char path[sizeof dir + 64];
    path_of(path, sizeof path, name, !gz_name);
    unlink(path);
    path_of(path, sizeof path, name, gz_name);
    write_file(path, bytes, len, gzip);
}

static void remove_dir(void)
{
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"};
    char path[sizeof dir + 64];
    for (int i = 0; i < 8; i++) {
        path_of(path, sizeof path, names[i / 2], i % 2);
        unlink(path);
    }
    rmdir(dir);
}

/* A loaded pair: shapes that agree, pixels in [0, 1], labels 0..9; pixels
 * equal to the images bytes when those were an IDX file as given. */
static void check_loaded(const dz_array *x, const dz_array *t, const uint8_t *images, size_t len)
{
    check(x->dtype == DZ_F32 && x->ndim == 2 && t->dtype == DZ_I32 && t->ndim == 1);
    check(x->shape[0] == t->shape[0]);
    const float *pixels = x->data;
    for (int64_t i = 0; i < x->size; i++)
        check(pixels[i] >= 0.0f && pixels[i] <= 1.0f);
    for (int64_t i = 0; i < t->size; i++)
        check(((const int32_t *)t->data)[i] >= 0 && ((const int32_t *)t->data)[i] <= 9);
    if (len >= 16 && images[0] == 0 && images[1] == 0) {
        check((size_t)x->size == len - 16);
        for (int64_t i = 0; i < x->size; i++)
            check(pixels[i] == images[16 + i] / 255.0f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    if (!dir[0]) {
        temp_template(dir, sizeof dir, "dz_fuzz_idx_");
        check(mkdtemp(dir) != NULL);
        atexit(remove_dir);
    }
    unsigned flags = data[0];
    size_t split = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    bool train = flags & TRAIN;
    write_idx(train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte", flags & GZ_NAME_IMAGES,
               flags & GZIP_IMAGES, data, split);
    write_idx(train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte", flags & GZ_NAME_LABELS,
               flags & GZIP_LABELS, data + split, size - split);
    dz_array *x = NULL, *t = NULL;
    if (dz_dataset_fashion_mnist(dir, train, &x, &t) == DZ_OK) {
        check_loaded(x, t, data, split);
        dz_array_release(x);
        dz_array_release(t);
    } else {
        check(x == NULL && t == NULL);
        check(strncmp(dz_last_error(), "dz_dataset_fashion_mnist: ", 26) == 0);
    }
    return 0;
}

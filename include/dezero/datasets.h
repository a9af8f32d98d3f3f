/* Datasets and a mini-batch loader (src/data). Arrays returned are new
 * references owned by the caller.
 *
 * Errors: a NULL where a pointer is needed, or a bad value, is a user error
 * (error.h: the handler runs; with it off, the call returns the status, NULL,
 * false or -1). A file that is missing, unreadable or malformed is an
 * environment error: a status whose message names the file and what is wrong,
 * never an abort. When a loader fails, its output arrays are left NULL. */
#ifndef DEZERO_DATASETS_H
#define DEZERO_DATASETS_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/array.h"
#include "dezero/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DeZero's spiral: 3 classes x 100 points, x (300, 2) f32, t (300,) i32,
 * shuffled by the seed. */
DZ_API dz_status dz_dataset_spiral(uint64_t seed, dz_array **x, dz_array **t);

/* Where Debian's dataset-fashion-mnist package puts the IDX files; the
 * environment variable DZ_FASHION_MNIST_DIR overrides it. */
#define DZ_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Fashion-MNIST (or MNIST: same IDX layout) from `dir` (NULL = default):
 * images (N, 784) f32 scaled to [0, 1], labels (N,) i32 in 0..9. Reads the .gz
 * files or uncompressed ones with the same names minus ".gz". DZ_ERR_IO when a
 * file cannot be opened or read; DZ_ERR_FORMAT when one is truncated, is not
 * an IDX file of unsigned bytes, has more or less data than its header says,
 * disagrees with the other on the number of images, or has a label past 9. */
DZ_API dz_status dz_dataset_fashion_mnist(const char *dir, bool train, dz_array **images, dz_array **labels);

/* A text corpus as in "Deep Learning from Scratch 2": lower-cased words split
 * on white space, with '.' as its own word. corpus (N,) i32 word ids in order
 * of first appearance; the vocabulary maps ids back to words. */
typedef struct dz_vocabulary {
    int64_t count;
    char **words;
} dz_vocabulary;

DZ_API dz_status dz_text_corpus(const char *text, dz_array **corpus, dz_vocabulary **vocabulary);
/* The same from the first max_bytes bytes of a file (0: 64 MiB; gzip'd files
 * are decompressed); fortune files ('%' lines between entries) work as is. */
DZ_API dz_status dz_text_corpus_file(const char *path, int64_t max_bytes, dz_array **corpus,
                                     dz_vocabulary **vocabulary);
DZ_API int64_t dz_vocabulary_find(const dz_vocabulary *vocabulary, const char *word); /* -1 if absent */
DZ_API void dz_vocabulary_free(dz_vocabulary *vocabulary);

/* Mini-batches of (x, t) along the first axis, reshuffled each epoch. x and t
 * (t may be NULL) are CPU arrays with as many rows; rng NULL = the default
 * generator. The loader holds references to x and t. */
typedef struct dz_dataloader dz_dataloader;

DZ_API dz_dataloader *dz_dataloader_new(dz_array *x, dz_array *t, int64_t batch_size, bool shuffle, dz_rng *rng);
/* Next batch (new references) or false at the end of the epoch, after which
 * the loader rewinds (and reshuffles) for the next epoch. t may be NULL (the
 * labels are not wanted); *t is NULL when the loader has none. False also on
 * an error (dz_last_error says which), with the outputs NULL. */
DZ_API bool dz_dataloader_next(dz_dataloader *loader, dz_array **x, dz_array **t);
DZ_API int64_t dz_dataloader_batches(const dz_dataloader *loader); /* per epoch; -1 for a NULL loader */
DZ_API void dz_dataloader_free(dz_dataloader *loader);

#ifdef __cplusplus
}
#endif

#endif

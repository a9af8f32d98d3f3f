/* Bad-argument cases for the functions of datasets.h (see bad_args.h).
 *
 * The loaders of files meet malformed files here too: those are environment
 * errors, so each must come back as a status (with the handler on or off)
 * whose message names the file and what is wrong, with the outputs NULL. */
#include "bad_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A pointer a failed call must overwrite with NULL. */
static dz_array sentinel_array;
static dz_vocabulary sentinel_vocabulary;
#define UNSET (&sentinel_array)

/* ---- files ---------------------------------------------------------------------- */

#define IMAGES "t10k-images-idx3-ubyte"
#define LABELS "t10k-labels-idx1-ubyte"

/* Two 2x2 images and their labels, 3 and 7, as IDX files. */
static const unsigned char images_idx[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0,   0,   0,   2,
                                           0, 51, 102, 255, 255, 0, 0, 0};
static const unsigned char labels_idx[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
/* images_idx gzip'd. */
static const unsigned char images_gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x63, 0x60,
                                          0xe0, 0x60, 0x66, 0x60, 0x60, 0x60, 0x82, 0x63, 0xe3, 0xb4, 0xff, 0xff,
                                          0x81, 0x0c, 0x00, 0x3c, 0xf1, 0x4d, 0xa8, 0x18, 0x00, 0x00, 0x00};

static char dir[] = "/tmp/dz_bad_args_XXXXXX";
static bool dir_made;
static const char *const file_names[] = {IMAGES, IMAGES ".gz", LABELS, LABELS ".gz", "text", "text.gz"};

static const char *path_of(const char *name)
{
    static char path[sizeof dir + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Writes dir/name (the directory is made on first use). */
static void write_file(const char *name, const void *bytes, size_t len)
{
    if (!dir_made && !(dir_made = mkdtemp(dir) != NULL))
        bad_args_fail(__FILE__, __LINE__, "cannot make a temporary directory");
    FILE *f = fopen(path_of(name), "wb");
    BAD_ARGS_CHECK(f && fwrite(bytes, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void remove_files(void)
{
    for (size_t i = 0; i < sizeof file_names / sizeof *file_names; i++)
        unlink(path_of(file_names[i]));
    rmdir(dir);
    memcpy(dir + sizeof dir - 7, "XXXXXX", 6); /* the next file makes a new one */
    dir_made = false;
}

/* A pair of files whose images (or labels, when `labels`) are `bytes` and
 * the other the valid one above: the load fails with `code`, a message that
 * names the file and contains `words`, and NULL outputs. */
static void expect_bad_pair(bool labels, const void *bytes, size_t len, bool gz, dz_status code, const char *words)
{
    const char *name = labels ? (gz ? LABELS ".gz" : LABELS) : (gz ? IMAGES ".gz" : IMAGES);
    write_file(name, bytes, len);
    if (labels)
        write_file(IMAGES, images_idx, sizeof images_idx);
    else
        write_file(LABELS, labels_idx, sizeof labels_idx);
    dz_array *x = UNSET, *t = UNSET;
    dz_status status = dz_dataset_fashion_mnist(dir, false, &x, &t);
    if (status != DZ_OK && (!strstr(dz_last_error(), name) || !strstr(dz_last_error(), words)))
        bad_args_fail(__FILE__, __LINE__, "the message '%s' should name %s and say '%s'", dz_last_error(), name,
                      words);
    EXPECT_STATUS(status, code);
    BAD_ARGS_CHECK(x == NULL && t == NULL);
    remove_files();
}

/* An IDX header: magic bytes and dimensions. */
static size_t idx_header(unsigned char *out, unsigned char type, int ndim, const uint32_t *dims)
{
    const unsigned char magic[4] = {0, 0, type, (unsigned char)ndim};
    memcpy(out, magic, 4);
    for (int i = 0; i < ndim; i++)
        for (int b = 0; b < 4; b++)
            out[4 + 4 * i + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
    return 4 + 4 * (size_t)ndim;
}

static void fashion_mnist(void)
{
    dz_array *x = UNSET, *t = UNSET;
    EXPECT_STATUS(dz_dataset_fashion_mnist("/nonexistent/dezero", true, &x, &t), DZ_ERR_IO);
    BAD_ARGS_CHECK(x == NULL && t == NULL);
    char long_dir[5000];
    memset(long_dir, 'a', sizeof long_dir - 1);
    long_dir[sizeof long_dir - 1] = '\0';
    EXPECT_STATUS(dz_dataset_fashion_mnist(long_dir, true, &x, &t), DZ_ERR_IO);

    /* gzip: cut inside the compressed data, cut before its trailer, a wrong CRC */
    expect_bad_pair(false, images_gz, 20, true, DZ_ERR_FORMAT, "ends early");
    expect_bad_pair(false, images_gz, sizeof images_gz - 8, true, DZ_ERR_FORMAT, "ends early");
    unsigned char corrupt[sizeof images_gz];
    memcpy(corrupt, images_gz, sizeof corrupt);
    corrupt[sizeof corrupt - 8] ^= 0xff;
    expect_bad_pair(false, corrupt, sizeof corrupt, true, DZ_ERR_FORMAT, "corrupt gzip data");

    /* headers: empty, cut, bad magic, wrong element type and dimension count */
    expect_bad_pair(false, "", 0, false, DZ_ERR_FORMAT, "header");
    expect_bad_pair(false, images_idx, 10, false, DZ_ERR_FORMAT, "header");
    unsigned char head[64];
    size_t n = idx_header(head, 8, 3, (const uint32_t[]){2, 2, 2});
    head[0] = 0x12;
    expect_bad_pair(false, head, n, false, DZ_ERR_FORMAT, "not an IDX file");
    expect_bad_pair(false, head, idx_header(head, 0x0c, 3, (const uint32_t[]){2, 2, 2}), false, DZ_ERR_FORMAT,
                    "0x0c");
    expect_bad_pair(true, images_idx, sizeof images_idx, false, DZ_ERR_FORMAT, "3 dimensions");

    /* sizes: a product past 2^64, more than the file holds, less */
    n = idx_header(head, 8, 3, (const uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu});
    expect_bad_pair(false, head, n, false, DZ_ERR_FORMAT, "more bytes than fit");
    n = idx_header(head, 8, 3, (const uint32_t[]){60000, 0xffffffffu, 28});
    expect_bad_pair(false, head, n, false, DZ_ERR_FORMAT, "ends early");
    unsigned char longer[sizeof images_idx + 1] = {0};
    memcpy(longer, images_idx, sizeof images_idx);
    expect_bad_pair(false, longer, sizeof longer, false, DZ_ERR_FORMAT, "holds more");

    /* the pair: counts that disagree, a label that is not a class */
    unsigned char three_labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    expect_bad_pair(true, three_labels, sizeof three_labels, false, DZ_ERR_FORMAT, "3 labels");
    unsigned char label_10[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 10};
    expect_bad_pair(true, label_10, sizeof label_10, false, DZ_ERR_FORMAT, "label 10");

    /* user errors last: with the default handler they abort */
    EXPECT_STATUS(dz_dataset_fashion_mnist(NULL, false, NULL, &t), DZ_ERR_NULL);
    EXPECT_STATUS(dz_dataset_fashion_mnist(NULL, false, &x, NULL), DZ_ERR_NULL);
}

/* ---- synthetic data --------------------------------------------------------------- */

static void spiral(void)
{
    dz_array *x = UNSET, *t = UNSET;
    EXPECT_STATUS(dz_dataset_spiral(0, NULL, &t), DZ_ERR_NULL);
    EXPECT_STATUS(dz_dataset_spiral(0, &x, NULL), DZ_ERR_NULL);
    EXPECT_QUIET(dz_dataset_spiral(UINT64_MAX, &x, &t));
    BAD_ARGS_CHECK(x && x->shape[0] == 300 && t && t->shape[0] == 300);
    if (x != UNSET)
        dz_array_release(x);
    if (t != UNSET)
        dz_array_release(t);
}

/* ---- text ----------------------------------------------------------------------- */

static void text_corpus(void)
{
    dz_array *corpus = UNSET;
    dz_vocabulary *vocabulary = &sentinel_vocabulary;
    EXPECT_STATUS(dz_text_corpus(NULL, &corpus, &vocabulary), DZ_ERR_NULL);
    BAD_ARGS_CHECK(corpus == NULL && vocabulary == NULL);
    EXPECT_STATUS(dz_text_corpus("a b", NULL, &vocabulary), DZ_ERR_NULL);
    EXPECT_STATUS(dz_text_corpus("a b", &corpus, NULL), DZ_ERR_NULL);
    /* no text, no words but '.', and a word longer than the 255 bytes kept of one */
    EXPECT_QUIET(dz_text_corpus("", &corpus, &vocabulary));
    BAD_ARGS_CHECK(corpus && corpus->size == 0 && vocabulary && vocabulary->count == 0);
    dz_array_release(corpus);
    dz_vocabulary_free(vocabulary);
    EXPECT_QUIET(dz_text_corpus(" . %\n", &corpus, &vocabulary));
    BAD_ARGS_CHECK(corpus && corpus->size == 1 && vocabulary && vocabulary->count == 1);
    dz_array_release(corpus);
    dz_vocabulary_free(vocabulary);
    char word[1000];
    memset(word, 'w', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    EXPECT_QUIET(dz_text_corpus(word, &corpus, &vocabulary));
    BAD_ARGS_CHECK(vocabulary && vocabulary->count == 1 && strlen(vocabulary->words[0]) == 255);
    dz_array_release(corpus);
    dz_vocabulary_free(vocabulary);
}

/* Reads `bytes` as a text file: fails with `code`, outputs NULL. */
static void expect_bad_text(const char *name, const void *bytes, size_t len, dz_status code)
{
    dz_array *corpus = UNSET;
    dz_vocabulary *vocabulary = &sentinel_vocabulary;
    write_file(name, bytes, len);
    EXPECT_STATUS(dz_text_corpus_file(path_of(name), 0, &corpus, &vocabulary), code);
    BAD_ARGS_CHECK(corpus == NULL && vocabulary == NULL);
    remove_files();
}

static void text_corpus_file(void)
{
    dz_array *corpus = UNSET;
    dz_vocabulary *vocabulary = &sentinel_vocabulary;
    EXPECT_STATUS(dz_text_corpus_file("/nonexistent/text", 0, &corpus, &vocabulary), DZ_ERR_IO);
    BAD_ARGS_CHECK(corpus == NULL && vocabulary == NULL);
    EXPECT_STATUS(dz_text_corpus_file("/", 0, &corpus, &vocabulary), DZ_ERR_IO); /* a directory */
    expect_bad_text("text.gz", images_gz, 20, DZ_ERR_FORMAT);

    /* a limit far past the file's size allocates only what the file holds */
    write_file("text", "You say goodbye.", 16);
    EXPECT_QUIET(dz_text_corpus_file(path_of("text"), INT64_MAX, &corpus, &vocabulary));
    BAD_ARGS_CHECK(corpus && corpus->size == 4);
    dz_array_release(corpus);
    dz_vocabulary_free(vocabulary);
    remove_files();

    corpus = UNSET;
    EXPECT_STATUS(dz_text_corpus_file(NULL, 0, &corpus, &vocabulary), DZ_ERR_NULL);
    BAD_ARGS_CHECK(corpus == NULL);
    EXPECT_STATUS(dz_text_corpus_file("/dev/null", 0, NULL, &vocabulary), DZ_ERR_NULL);
    EXPECT_STATUS(dz_text_corpus_file("/dev/null", 0, &corpus, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_text_corpus_file("/dev/null", -1, &corpus, &vocabulary), DZ_ERR_VALUE);
}

static void vocabulary_find(void)
{
    dz_array *corpus;
    dz_vocabulary *vocabulary;
    dz_text_corpus("you say goodbye", &corpus, &vocabulary);
    EXPECT_VALUE(dz_vocabulary_find(NULL, "you"), -1, DZ_ERR_NULL);
    EXPECT_VALUE(dz_vocabulary_find(vocabulary, NULL), -1, DZ_ERR_NULL);
    dz_array_release(corpus);
    dz_vocabulary_free(vocabulary);
}

static void vocabulary_free(void) { EXPECT_QUIET(dz_vocabulary_free(NULL)); }

/* ---- the loader ------------------------------------------------------------------- */

static void dataloader_new(void)
{
    dz_array *x = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(5, 2)), *t = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(5));
    dz_array *t4 = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(4)), *scalar = dz_array_scalar(DZ_F32, 1);
    EXPECT_NULL(dz_dataloader_new(NULL, t, 2, false, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_dataloader_new(x, t4, 2, false, NULL), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_dataloader_new(scalar, NULL, 2, false, NULL), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_dataloader_new(x, scalar, 2, false, NULL), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_dataloader_new(x, t, 0, false, NULL), DZ_ERR_VALUE);
    EXPECT_NULL(dz_dataloader_new(x, t, -3, true, NULL), DZ_ERR_VALUE);
    dz_array bad = *x; /* a copy of the header with a bad field: rejected before any use */
    bad.dtype = (dz_dtype)99;
    EXPECT_NULL(dz_dataloader_new(&bad, NULL, 2, false, NULL), DZ_ERR_DTYPE);
    bad = *x;
    bad.ndim = DZ_MAX_NDIM + 1;
    EXPECT_NULL(dz_dataloader_new(&bad, NULL, 2, false, NULL), DZ_ERR_SHAPE);
    bad = *x;
    bad.device = DZ_CUDA;
    EXPECT_NULL(dz_dataloader_new(x, &bad, 2, false, NULL), DZ_ERR_DEVICE);

    /* a batch larger than the data: one batch of every row, no overflow */
    dz_dataloader *l = dz_dataloader_new(x, t, INT64_MAX, true, NULL);
    BAD_ARGS_CHECK(l && dz_dataloader_batches(l) == 1);
    dz_dataloader_free(l);
    dz_array_release(x);
    dz_array_release(t);
    dz_array_release(t4);
    dz_array_release(scalar);
}

static void dataloader_next(void)
{
    dz_array *x = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(5, 2)), *t = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(5));
    dz_dataloader *l = dz_dataloader_new(x, t, INT64_MAX - 1, false, NULL);
    dz_array *xb = UNSET, *tb = UNSET;
    /* labels not wanted; then the end of the epoch, then the next epoch */
    BAD_ARGS_CHECK(dz_dataloader_next(l, &xb, NULL) && xb != UNSET && xb->shape[0] == 5);
    if (xb != UNSET)
        dz_array_release(xb);
    xb = tb = UNSET;
    bool more = true;
    EXPECT_QUIET(more = dz_dataloader_next(l, &xb, &tb));
    BAD_ARGS_CHECK(!more && xb == NULL && tb == NULL);
    BAD_ARGS_CHECK(dz_dataloader_next(l, &xb, &tb) && xb && tb && tb->shape[0] == 5);
    dz_array_release(xb);
    dz_array_release(tb);

    xb = tb = UNSET;
    EXPECT_VALUE(dz_dataloader_next(NULL, &xb, &tb), false, DZ_ERR_NULL);
    BAD_ARGS_CHECK(xb == NULL && tb == NULL);
    tb = UNSET;
    EXPECT_VALUE(dz_dataloader_next(l, NULL, &tb), false, DZ_ERR_NULL);
    BAD_ARGS_CHECK(tb == NULL);
    dz_dataloader_free(l);
    dz_array_release(x);
    dz_array_release(t);
}

static void dataloader_batches(void)
{
    dz_array *x = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(0, 3));
    dz_dataloader *l = dz_dataloader_new(x, NULL, 4, true, NULL);
    BAD_ARGS_CHECK(l && dz_dataloader_batches(l) == 0); /* no rows: no batch */
    dz_dataloader_free(l);
    dz_array_release(x);
    EXPECT_VALUE(dz_dataloader_batches(NULL), -1, DZ_ERR_NULL);
}

static void dataloader_free(void) { EXPECT_QUIET(dz_dataloader_free(NULL)); }

const bad_args_case bad_args_data[] = {
    {"dz_dataset_spiral", spiral},
    {"dz_dataset_fashion_mnist", fashion_mnist},
    {"dz_text_corpus", text_corpus},
    {"dz_text_corpus_file", text_corpus_file},
    {"dz_vocabulary_find", vocabulary_find},
    {"dz_vocabulary_free", vocabulary_free},
    {"dz_dataloader_new", dataloader_new},
    {"dz_dataloader_next", dataloader_next},
    {"dz_dataloader_batches", dataloader_batches},
    {"dz_dataloader_free", dataloader_free},
    BAD_ARGS_END,
};

/* Datasets: spiral, Fashion-MNIST IDX, text corpus, data loader. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "test_common.h"

/* Writes `bytes` to dir/name, gzip'd when `gz`. */
static void write_file(const char *dir, const char *name, const void *bytes, size_t len, bool gz)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, bytes, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
        fclose(f);
    }
}

static void remove_dir(const char *dir)
{
    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    ck_assert_int_eq(system(command), 0);
}

START_TEST(test_spiral)
{
    dz_array *x, *t;
    ck_assert_int_eq(dz_dataset_spiral(1, &x, &t), DZ_OK);
    ck_assert_int_eq(x->shape[0], 300);
    ck_assert_int_eq(x->shape[1], 2);
    int counts[3] = {0};
    for (int i = 0; i < 300; i++)
        counts[(int)dz_array_get(t, i)]++;
    ck_assert(counts[0] == 100 && counts[1] == 100 && counts[2] == 100);
    dz_array *x2, *t2;
    dz_dataset_spiral(1, &x2, &t2);
    ck_assert_mem_eq(x->data, x2->data, 300 * 2 * sizeof(float));
    dz_array_release(x);
    dz_array_release(t);
    dz_array_release(x2);
    dz_array_release(t2);
}
END_TEST

START_TEST(test_text_corpus)
{
    dz_array *c;
    dz_vocabulary *v;
    ck_assert_int_eq(dz_text_corpus("You say goodbye and I say hello.", &c, &v), DZ_OK);
    tc_assert_values(c, (double[]){0, 1, 2, 3, 4, 1, 5, 6}, 8, 0);
    ck_assert_int_eq(v->count, 7);
    ck_assert_str_eq(v->words[0], "you");
    ck_assert_str_eq(v->words[6], ".");
    ck_assert_int_eq(dz_vocabulary_find(v, "hello"), 5);
    ck_assert_int_eq(dz_vocabulary_find(v, "nope"), -1);
    dz_array_release(c);
    dz_vocabulary_free(v);
}
END_TEST

START_TEST(test_dataloader)
{
    dz_array *x = dz_array_arange(DZ_F32, 0, 10, 1), *t = dz_array_arange(DZ_I32, 0, 10, 1);
    dz_rng rng;
    dz_rng_seed(&rng, 3);
    dz_dataloader *l = dz_dataloader_new(x, t, 4, true, &rng);
    ck_assert_int_eq(dz_dataloader_batches(l), 3);
    int seen[10] = {0}, batches = 0;
    dz_array *xb, *tb;
    while (dz_dataloader_next(l, &xb, &tb)) {
        for (int64_t i = 0; i < xb->size; i++) {
            ck_assert_double_eq(dz_array_get(xb, i), dz_array_get(tb, i));
            seen[(int)dz_array_get(xb, i)]++;
        }
        batches++;
        dz_array_release(xb);
        dz_array_release(tb);
    }
    ck_assert_int_eq(batches, 3);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert(dz_dataloader_next(l, &xb, &tb)); /* the next epoch starts */
    dz_array_release(xb);
    dz_array_release(tb);
    dz_dataloader_free(l);
    dz_array_release(x);
    dz_array_release(t);
}
END_TEST

/* A tiny IDX pair: 2 images of 2x2, labels 3 and 7. */
static const unsigned char images_idx[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                           0, 51, 102, 255, 255, 0, 0, 0};
static const unsigned char labels_idx[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};

/* Loads the pair, written raw or gzip'd (the .gz names), from a new directory. */
static void check_fashion_mnist_idx(bool gz)
{
    char dir[] = "/tmp/dz_idx_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file(dir, gz ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", images_idx, sizeof images_idx, gz);
    write_file(dir, gz ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", labels_idx, sizeof labels_idx, gz);
    dz_array *x, *t;
    ck_assert_int_eq(dz_dataset_fashion_mnist(dir, false, &x, &t), DZ_OK);
    ck_assert_int_eq(x->shape[0], 2);
    ck_assert_int_eq(x->shape[1], 4);
    tc_assert_values(x, (double[]){0, 0.2, 0.4, 1, 1, 0, 0, 0}, 8, 1e-7);
    tc_assert_values(t, (double[]){3, 7}, 2, 0);
    dz_array_release(x);
    dz_array_release(t);
    ck_assert_int_eq(dz_dataset_fashion_mnist(dir, true, &x, &t), DZ_ERR_IO);
    ck_assert_msg(strstr(dz_last_error(), "train-images-idx3-ubyte"), "%s", dz_last_error());
    ck_assert(x == NULL && t == NULL);
    remove_dir(dir);
}

START_TEST(test_fashion_mnist_idx)
{
    check_fashion_mnist_idx(false);
    check_fashion_mnist_idx(true);
}
END_TEST

/* A text file, plain or gzip'd, read whole or cut at max_bytes. */
START_TEST(test_text_corpus_file)
{
    char dir[] = "/tmp/dz_text_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char text[] = "You say goodbye\n%\nand I say hello.";
    dz_array *c;
    dz_vocabulary *v;
    for (int gz = 0; gz < 2; gz++) {
        write_file(dir, "text", text, strlen(text), gz);
        snprintf(path, sizeof path, "%s/text", dir);
        ck_assert_int_eq(dz_text_corpus_file(path, 0, &c, &v), DZ_OK);
        tc_assert_values(c, (double[]){0, 1, 2, 3, 4, 1, 5, 6}, 8, 0);
        ck_assert_str_eq(v->words[6], ".");
        dz_array_release(c);
        dz_vocabulary_free(v);
        ck_assert_int_eq(dz_text_corpus_file(path, 12, &c, &v), DZ_OK); /* "You say good" */
        tc_assert_values(c, (double[]){0, 1, 2}, 3, 0);
        ck_assert_str_eq(v->words[2], "good");
        dz_array_release(c);
        dz_vocabulary_free(v);
    }
    remove_dir(dir);
}
END_TEST

/* The last batch holds the rows left; a loader without labels gives NULL t. */
START_TEST(test_dataloader_remainder_and_no_labels)
{
    dz_array *x = dz_array_arange(DZ_F32, 0, 10, 1);
    dz_dataloader *l = dz_dataloader_new(x, NULL, 4, false, NULL);
    dz_array *xb, *tb;
    int64_t sizes[3], batches = 0;
    while (dz_dataloader_next(l, &xb, &tb)) {
        ck_assert_ptr_null(tb);
        sizes[batches++] = xb->shape[0];
        ck_assert_double_eq(dz_array_get(xb, 0), (double)(4 * (batches - 1)));
        dz_array_release(xb);
    }
    ck_assert_int_eq(batches, 3);
    ck_assert(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2);
    dz_dataloader_free(l);
    dz_array_release(x);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_spiral);
    tcase_add_test(tc, test_text_corpus);
    tcase_add_test(tc, test_dataloader);
    tcase_add_test(tc, test_fashion_mnist_idx);
    tcase_add_test(tc, test_text_corpus_file);
    tcase_add_test(tc, test_dataloader_remainder_and_no_labels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(data_suite()); }

/* Datasets: spiral, Fashion-MNIST IDX, text corpus, data loader. */
#include <stdlib.h>
#include <string.h>

#include "test_common.h"

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

START_TEST(test_fashion_mnist_idx)
{
    /* A tiny IDX pair written here: 2 images of 2x2, labels 3 and 7. */
    char dir[] = "/tmp/dz_idx_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    FILE *f = fopen(path, "wb");
    const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 51, 102, 255, 255, 0, 0, 0};
    fwrite(images, 1, sizeof images, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    f = fopen(path, "wb");
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
    fwrite(labels, 1, sizeof labels, f);
    fclose(f);
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
    snprintf(path, sizeof path, "rm -rf %s", dir);
    ck_assert_int_eq(system(path), 0);
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(data_suite()); }

/* Word2vec CBOW with negative sampling, as "Deep Learning from Scratch 2"
 * chapter 4 trains it, in dezero-c, against bench_cbow.py: the book's NumPy
 * code (Embedding, EmbeddingDot, UnigramSampler, SigmoidWithLoss, Adam).
 *
 * Corpus: the first 200,000 bytes of Debian's fortunes "cookie" file,
 * punctuation other than '.' and apostrophes blanked out, DLfS2's
 * preprocessing, the 2,999 most frequent words kept and the others mapped
 * to "<unk>"; window 2, hidden size 100, batch 100. As in the
 * book: 5 negatives per target drawn from the unigram distribution to the
 * power 0.75 (distinct, never the target), W_in and W_out = 0.01 randn, the
 * loss summed over the 6 binary problems, dense grads, Adam (lr 0.001).
 *
 * One step: h = mean of the 4 context rows of W_in (EmbeddingBag, mean);
 * scores = rows of W_out for [target, negatives] dotted with h; loss = 6 *
 * sigmoid cross entropy against [1, 0, 0, 0, 0, 0]. After 5 warm-up steps,
 * TIMED_BATCHES steps are timed, sampling included (as in the book's loop).
 *
 * Prints cbow_words_per_s (target words trained per second, higher is
 * better), cbow_loss (mean over the timed steps) and cbow_samples (the
 * number of (contexts, target) pairs, the same on both sides).
 * Options: --threads N, --quick (25 timed steps instead of 100). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "dezero/dezero.h"

#define CORPUS_PATH "/usr/share/games/fortunes/cookie"
#define MAX_BYTES 200000
#define MAX_VOCABULARY 3000
#define WINDOW 2
#define HIDDEN 100
#define BATCH 100
#define NEGATIVES 5
#define POWER 0.75
#define WARMUP_BATCHES 5
#define TIMED_BATCHES 100

static const int64_t *word_counts; /* for by_frequency */

/* More frequent first; ties in order of first appearance. */
static int by_frequency(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return word_counts[x] != word_counts[y] ? (word_counts[x] < word_counts[y] ? 1 : -1) : (x > y) - (x < y);
}

/* Word ids renumbered by frequency, cut to MAX_VOCABULARY - 1 words plus
 * "<unk>"; sets *vocabulary_size. */
static dz_array *frequency_ids(const dz_array *full, int64_t full_count, int64_t *vocabulary_size)
{
    const int32_t *ids = full->data;
    int64_t *counts = calloc((size_t)full_count, sizeof *counts);
    int64_t *order = malloc((size_t)full_count * sizeof *order), *new_id = malloc((size_t)full_count * sizeof *new_id);
    for (int64_t i = 0; i < full->size; i++)
        counts[ids[i]]++;
    for (int64_t w = 0; w < full_count; w++)
        order[w] = w;
    word_counts = counts;
    qsort(order, (size_t)full_count, sizeof *order, by_frequency);
    int64_t kept = full_count <= MAX_VOCABULARY ? full_count : MAX_VOCABULARY - 1;
    for (int64_t rank = 0; rank < full_count; rank++)
        new_id[order[rank]] = rank < kept ? rank : kept;
    *vocabulary_size = kept < full_count ? kept + 1 : full_count;
    dz_array *out = dz_array_empty(DZ_I32, 1, full->shape);
    for (int64_t i = 0; i < full->size; i++)
        ((int32_t *)out->data)[i] = (int32_t)new_id[ids[i]];
    free(counts);
    free(order);
    free(new_id);
    return out;
}

/* The corpus as word ids, or NULL when the file cannot be read. */
static dz_array *load_corpus(int64_t *vocabulary_size)
{
    FILE *f = fopen(CORPUS_PATH, "rb");
    if (!f)
        return NULL;
    char *text = malloc(MAX_BYTES + 1);
    text[fread(text, 1, MAX_BYTES, f)] = '\0';
    fclose(f);
    for (char *p = text; *p; p++)
        if (ispunct((unsigned char)*p) && *p != '.' && *p != '\'')
            *p = ' ';
    dz_array *full;
    dz_vocabulary *vocabulary;
    dz_text_corpus(text, &full, &vocabulary);
    free(text);
    dz_array *ids = frequency_ids(full, vocabulary->count, vocabulary_size);
    dz_array_release(full);
    dz_vocabulary_free(vocabulary);
    return ids;
}

/* DLfS2's create_contexts_target: contexts (n, 2 WINDOW) and targets (n,). */
static void contexts_and_targets(const dz_array *ids, dz_array **contexts, dz_array **targets)
{
    int64_t n = ids->size - 2 * WINDOW;
    *contexts = dz_array_empty(DZ_I32, 2, DZ_SHAPE(n, 2 * WINDOW));
    *targets = dz_array_empty(DZ_I32, 1, DZ_SHAPE(n));
    const int32_t *w = ids->data;
    int32_t *ctx = (*contexts)->data, *tgt = (*targets)->data;
    for (int64_t t = 0; t < n; t++) {
        int64_t k = 0;
        for (int64_t offset = -WINDOW; offset <= WINDOW; offset++)
            if (offset != 0)
                ctx[t * 2 * WINDOW + k++] = w[t + WINDOW + offset];
        tgt[t] = w[t + WINDOW];
    }
}

/* The book's UnigramSampler: cumulative word counts to the power 0.75. */
typedef struct {
    double *cdf;
    int64_t count;
} sampler;

static sampler sampler_new(const dz_array *ids, int64_t vocabulary_size)
{
    sampler s = {calloc((size_t)vocabulary_size, sizeof(double)), vocabulary_size};
    for (int64_t i = 0; i < ids->size; i++)
        s.cdf[((const int32_t *)ids->data)[i]] += 1;
    double total = 0;
    for (int64_t w = 0; w < vocabulary_size; w++)
        s.cdf[w] = total += pow(s.cdf[w], POWER);
    return s;
}

static int32_t sampler_draw(const sampler *s, dz_rng *rng)
{
    double u = dz_rng_uniform(rng) * s->cdf[s->count - 1];
    int64_t lo = 0, hi = s->count - 1; /* the first w with cdf[w] > u */
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (s->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)lo;
}

/* samples (BATCH, 1 + NEGATIVES): each row the target, then NEGATIVES
 * distinct words other than it (rejection sampling, the distribution of the
 * book's np.random.choice(replace=False) with the target's p set to 0). */
static dz_array *target_and_negatives(const sampler *s, const dz_array *targets, dz_rng *rng)
{
    dz_array *out = dz_array_empty(DZ_I32, 2, DZ_SHAPE(BATCH, 1 + NEGATIVES));
    int32_t *row = out->data;
    for (int64_t b = 0; b < BATCH; b++, row += 1 + NEGATIVES) {
        row[0] = ((const int32_t *)targets->data)[b];
        for (int k = 1; k <= NEGATIVES;) {
            int32_t w = sampler_draw(s, rng);
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken |= row[j] == w;
            if (!taken)
                row[k++] = w;
        }
    }
    return out;
}

typedef struct {
    dz_variable *W_in, *W_out, *labels; /* labels (BATCH, 1 + NEGATIVES) f32 constant */
    dz_optimizer *adam;
    dz_dataloader *loader;
    sampler sampler;
    dz_rng *rng;
} cbow;

/* The next batch of BATCH (contexts, targets), into a new epoch if need be;
 * a short last batch is dropped, as the book's trainer drops it. */
static void next_batch(dz_dataloader *loader, dz_array **xb, dz_array **tb)
{
    for (;;) {
        if (!dz_dataloader_next(loader, xb, tb))
            continue;
        if ((*xb)->shape[0] == BATCH)
            return;
        dz_array_release(*xb);
        dz_array_release(*tb);
    }
}

/* One training step; returns the loss. */
static double train_step(cbow *m)
{
    dz_array *xb, *tb;
    next_batch(m->loader, &xb, &tb);
    dz_scope_begin();
    dz_variable *contexts = dz_variable_constant(xb, NULL); // (B, 2 WINDOW)
    dz_variable *samples = dz_variable_constant(target_and_negatives(&m->sampler, tb, m->rng), NULL);
    dz_array_release(tb);
    dz_embedding_bag_options mean = dz_embedding_bag_default_options();
    dz_variable *h = dz_embedding_bag(contexts, NULL, m->W_in, NULL, &mean);     // (B, H)
    dz_variable *rows = dz_embedding(samples, m->W_out, NULL);                  // (B, 1 + K, H)
    dz_variable *scores = dz_sum(dz_mul(rows, dz_reshape(h, 3, DZ_SHAPE(BATCH, 1, HIDDEN))), DZ_AXES(2), false);
    dz_variable *loss = dz_mul_scalar(dz_sigmoid_cross_entropy(scores, m->labels), 1 + NEGATIVES);
    dz_variable_cleargrad(m->W_in);
    dz_variable_cleargrad(m->W_out);
    dz_variable_backward(loss, false, false);
    dz_optimizer_update(m->adam);
    double value = dz_array_get(loss->data, 0);
    dz_scope_end();
    return value;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    int64_t vocabulary_size;
    dz_array *ids = load_corpus(&vocabulary_size);
    if (!ids) {
        fprintf(stderr, "bench_cbow: cannot read %s (Debian package fortunes)\n", CORPUS_PATH);
        return 1;
    }
    dz_array *contexts, *targets;
    contexts_and_targets(ids, &contexts, &targets);
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_array *labels = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(BATCH, 1 + NEGATIVES));
    for (int64_t b = 0; b < BATCH; b++)
        ((float *)labels->data)[b * (1 + NEGATIVES)] = 1;
    cbow m = {
        dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(vocabulary_size, HIDDEN), 0, 0.01), "W_in"),
        dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(vocabulary_size, HIDDEN), 0, 0.01), "W_out"),
        dz_variable_constant(labels, "labels"),
        dz_adam_new(NULL),
        dz_dataloader_new(contexts, targets, BATCH, true, &rng),
        sampler_new(ids, vocabulary_size),
        &rng,
    };
    dz_optimizer_add_params(m.adam, 2, (dz_variable *[]){m.W_in, m.W_out});

    for (int i = 0; i < WARMUP_BATCHES; i++)
        train_step(&m);
    int timed = options.quick ? TIMED_BATCHES / 4 : TIMED_BATCHES;
    double start = bench_now(), loss_sum = 0;
    for (int i = 0; i < timed; i++)
        loss_sum += train_step(&m);
    double seconds = bench_now() - start;
    bench_report("cbow_words_per_s", timed * BATCH / seconds);
    bench_report("cbow_loss", loss_sum / timed);
    bench_report("cbow_samples", (double)targets->size);

    dz_dataloader_free(m.loader);
    dz_optimizer_free(m.adam);
    dz_variable_release(m.W_in);
    dz_variable_release(m.W_out);
    dz_variable_release(m.labels);
    free(m.sampler.cdf);
    dz_array_release(contexts);
    dz_array_release(targets);
    dz_array_release(ids);
    return 0;
}

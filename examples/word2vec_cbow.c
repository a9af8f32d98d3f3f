/* Word2vec CBOW as in "Deep Learning from Scratch 2", chapters 3 and 4, on
 * real English text: all the fortune cookies of Debian's fortunes package
 * (every text file under /usr/share/games/fortunes, about 470,000 words).
 *
 * The model predicts a word from the `window` words on each side of it (5 by
 * default), with DLfS2 chapter 4's negative sampling instead of a softmax
 * over the whole vocabulary (which costs V scores per word):
 *     h      = mean of the context words' rows of W_in        (EmbeddingBag, mean)
 *     scores = h . W_out[w] for the word w and `negatives` words (5)
 *              drawn from the unigram distribution to the 0.75 (Embedding, mul, sum)
 *     loss   = sigmoid cross entropy(scores, 1 for the word, 0 for the others)
 * Both embeddings are sparse (only the rows a batch uses get a gradient) and
 * SparseAdam updates them, so a step costs the same whatever V is. As in
 * word2vec, frequent words are subsampled first (a word of frequency f is
 * kept with probability sqrt(SUBSAMPLE / f)): "the" and "." are mostly
 * dropped, which leaves the context of nouns to nouns and widens the window.
 *
 * Afterwards the rows of W_in are the word vectors: the program prints, like
 * DLfS2's most_similar, the words nearest to a few queries by cosine
 * similarity. Into the output directory (runs/word2vec_cbow by default) it
 * writes the loss per epoch (metrics.csv, drawn as loss.png), W_in as
 * cbow_embedding.npz (np.load(...)["W"]), and the first two principal
 * components of the vectors of the PCA_WORDS most frequent words as
 * cbow_pca.csv (word, x, y), which cbow_pca.gp draws with their labels as
 * cbow_pca.png (run when gnuplot is on PATH).
 *
 * Preprocessing is DLfS2's (lower case, '.' as a word) after punctuation other
 * than '.' and apostrophes is blanked out, so "you," and "you" are one word.
 * Words seen fewer than MIN_COUNT times (and any past the MAX_VOCABULARY - 1
 * most frequent) share the id of "<unk>", which is never a target.
 *
 * Options: run with --help (the text is --data, a file or a directory of
 * them; any plain text works). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ex.h"
#include "common/fortune_files.h"

#define MAX_VOCABULARY 10000
#define MIN_COUNT 10        /* rarer words become <unk> */
#define SUBSAMPLE 1e-3      /* word2vec's sample: frequent words are thinned out */
#define HIDDEN 100          /* embedding size */
#define SAMPLING_POWER 0.75 /* negatives ~ count^0.75 */
#define TOP 5               /* neighbours printed per query */
#define PCA_WORDS 40        /* frequent words in the 2-D projection */

/* The command line's settings. */
typedef struct {
    ex_common common;  /* epochs, batch_size, lr (SparseAdam), seed, threads, output_dir */
    const char *data;  /* a text file or a directory of them */
    int64_t max_bytes; /* of text read (0: all) */
    int window;        /* context words on each side */
    int negatives;     /* negative samples per word */
} cbow_options;

/* Blank out punctuation except '.' (a word of its own) and apostrophes. */
static void blank_punctuation(char *text)
{
    for (char *p = text; *p; p++)
        if (ispunct((unsigned char)*p) && *p != '.' && *p != '\'')
            *p = ' ';
}

/* The corpus with its vocabulary cut to the frequent words. */
typedef struct {
    dz_array *ids;      /* (N,) i32 */
    int64_t count;      /* vocabulary size V */
    int64_t unknown;    /* id of "<unk>", -1 when every word is kept */
    int64_t *counts;    /* (V,) occurrences of each id */
    const char **words; /* word of each id (borrowed from the full vocabulary, or "<unk>") */
} corpus;

static const int64_t *frequency_order_counts; /* for the qsort comparison */

/* More frequent first; ties in order of first appearance. */
static int by_frequency(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int64_t cx = frequency_order_counts[x], cy = frequency_order_counts[y];
    return cx != cy ? (cx < cy ? 1 : -1) : (x > y) - (x < y);
}

/* Renumber the words of `full` by frequency and keep those seen MIN_COUNT
 * times or more, at most MAX_VOCABULARY - 1 of them; the rest become "<unk>". */
static corpus restrict_vocabulary(const dz_array *full, const dz_vocabulary *vocabulary)
{
    int64_t n = vocabulary->count, *counts = calloc((size_t)n, sizeof *counts);
    int64_t *order = malloc((size_t)n * sizeof *order), *new_id = malloc((size_t)n * sizeof *new_id);
    const int32_t *ids = full->data;
    for (int64_t i = 0; i < full->size; i++)
        counts[ids[i]]++;
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    frequency_order_counts = counts;
    qsort(order, (size_t)n, sizeof *order, by_frequency);

    int64_t kept = 0;
    while (kept < n && kept < MAX_VOCABULARY - 1 && counts[order[kept]] >= MIN_COUNT)
        kept++;
    if (kept == 0) /* a tiny text: keep its words anyway */
        kept = n < MAX_VOCABULARY ? n : MAX_VOCABULARY - 1;
    corpus c = {.count = kept < n ? kept + 1 : n, .unknown = kept < n ? kept : -1};
    c.words = malloc((size_t)c.count * sizeof *c.words);
    c.counts = calloc((size_t)c.count, sizeof *c.counts);
    for (int64_t rank = 0; rank < n; rank++) {
        new_id[order[rank]] = rank < kept ? rank : kept;
        if (rank < kept)
            c.words[rank] = vocabulary->words[order[rank]];
    }
    if (kept < n)
        c.words[kept] = "<unk>";
    c.ids = dz_array_empty(DZ_I32, 1, full->shape);
    for (int64_t i = 0; i < full->size; i++) {
        int32_t id = (int32_t)new_id[ids[i]];
        ((int32_t *)c.ids->data)[i] = id;
        c.counts[id]++;
    }
    free(counts);
    free(order);
    free(new_id);
    return c;
}

static void corpus_free(corpus *c)
{
    dz_array_release(c->ids);
    free(c->counts);
    free(c->words);
}

static int64_t find_word(const corpus *c, const char *word)
{
    for (int64_t i = 0; i < c->count; i++)
        if (strcmp(c->words[i], word) == 0)
            return i;
    return -1;
}

/* The corpus after word2vec's subsampling: each word of frequency f is kept
 * with probability min(1, sqrt(SUBSAMPLE / f)), so "the" and "." mostly go;
 * <unk> is kept (as a context word). (M,) i32, M <= N. */
static dz_array *subsample(const corpus *c, dz_rng *rng)
{
    const int32_t *w = c->ids->data;
    int32_t *kept = malloc((size_t)c->ids->size * sizeof *kept);
    int64_t m = 0;
    for (int64_t i = 0; i < c->ids->size; i++) {
        double f = (double)c->counts[w[i]] / (double)c->ids->size;
        if (w[i] == c->unknown || dz_rng_uniform(rng) < sqrt(SUBSAMPLE / f))
            kept[m++] = w[i];
    }
    dz_array *out = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(m), kept);
    free(kept);
    return out;
}

/* DLfS2's create_contexts_target: for each position t with `window` words
 * on both sides whose word is not <unk>, contexts[t] = the 2 window
 * neighbours and target[t] = the word. */
static void contexts_and_targets(const dz_array *ids, int64_t unknown, int64_t window, dz_array **contexts,
                                 dz_array **targets)
{
    int64_t n = ids->size > 2 * window ? ids->size - 2 * window : 0, kept = 0, rows = n ? n : 1;
    const int32_t *w = ids->data;
    int32_t *ctx = malloc((size_t)(rows * 2 * window) * sizeof *ctx), *tgt = malloc((size_t)rows * sizeof *tgt);
    for (int64_t t = 0; t < n; t++) {
        int64_t center = t + window, k = 0;
        if (w[center] == unknown)
            continue;
        for (int64_t offset = -window; offset <= window; offset++)
            if (offset != 0)
                ctx[kept * 2 * window + k++] = w[center + offset];
        tgt[kept++] = w[center];
    }
    *contexts = dz_array_from_buffer(DZ_I32, 2, DZ_SHAPE(kept, 2 * window), ctx); // (kept, 2 window)
    *targets = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(kept), tgt);               // (kept,)
    free(ctx);
    free(tgt);
}

/* DLfS2's UnigramSampler: draws word ids with probability proportional to
 * count^SAMPLING_POWER (<unk> never), by binary search in the cumulative sums. */
typedef struct {
    double *cumulative; /* (V,) */
    int64_t count;
    dz_rng *rng;
} unigram_sampler;

static unigram_sampler sampler_new(const corpus *c, dz_rng *rng)
{
    unigram_sampler s = {.cumulative = malloc((size_t)c->count * sizeof(double)), .count = c->count, .rng = rng};
    double total = 0;
    for (int64_t i = 0; i < c->count; i++)
        s.cumulative[i] = total += i == c->unknown ? 0 : pow((double)c->counts[i], SAMPLING_POWER);
    return s;
}

static int32_t sampler_draw(const unigram_sampler *s)
{
    double u = dz_rng_uniform(s->rng) * s->cumulative[s->count - 1];
    int64_t lo = 0, hi = s->count - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (s->cumulative[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)lo;
}

/* For targets (B,): the words to score (B, 1 + negatives), each row the
 * target then `negatives` draws that differ from it, and their labels (1
 * then 0s) as f32. */
static void negative_sample(const unigram_sampler *s, const dz_array *targets, int64_t negatives, dz_array **words,
                            dz_array **labels)
{
    int64_t B = targets->size, K = 1 + negatives;
    *words = dz_array_empty(DZ_I32, 2, DZ_SHAPE(B, K));  // (B, 1 + negatives)
    *labels = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(B, K)); // (B, 1 + negatives)
    const int32_t *t = targets->data;
    int32_t *w = (*words)->data;
    float *l = (*labels)->data;
    for (int64_t b = 0; b < B; b++) {
        w[b * K] = t[b];
        l[b * K] = 1;
        for (int64_t k = 1; k < K; k++) {
            int32_t draw = sampler_draw(s);
            while (draw == t[b] && s->count > 2)
                draw = sampler_draw(s);
            w[b * K + k] = draw;
        }
    }
}

/* The model, a layer with two sub-layers (so its parameters have the paths
 * "embed_in/W" and "embed_out/W"): contexts (B, 2 window) and words
 * (B, 1 + negatives) -> scores (B, 1 + negatives). */
static dz_variable *cbow_forward(dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    (void)ninputs; /* two inputs, from train_epoch */
    int64_t B = dz_variable_shape(inputs[1])[0];
    dz_variable *h = dz_layer_call(dz_layer_child(self, "embed_in"), inputs[0]);  // (B, HIDDEN)
    dz_variable *w = dz_layer_call(dz_layer_child(self, "embed_out"), inputs[1]); // (B, 1 + negatives, HIDDEN)
    dz_variable *products = dz_mul(w, dz_reshape(h, 3, DZ_SHAPE(B, 1, HIDDEN)));  // (B, 1 + negatives, HIDDEN)
    return dz_sum(products, 1, (const int[]){2}, false);                          // (B, 1 + negatives)
}

static const dz_layer_ops cbow_ops = {.type = "CBOW", .forward = cbow_forward};

static dz_layer *cbow_new(int64_t vocabulary_size, dz_rng *rng)
{
    dz_layer *model = calloc(1, sizeof *model);
    dz_layer_init(model, &cbow_ops);
    /* W_in and W_out = 0.01 * randn(V, H) as in DLfS2: small initial
     * vectors, so that what training writes into them decides their cosine
     * similarities. Both sparse: a batch updates only the rows it uses. */
    dz_array *W_in = dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(vocabulary_size, HIDDEN), 0.0, 0.01);
    dz_array *W_out = dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(vocabulary_size, HIDDEN), 0.0, 0.01);
    dz_embedding_bag_options mean = dz_embedding_bag_default_options(); /* mode mean */
    mean.sparse = true;
    dz_embedding_options lookup = dz_embedding_default_options();
    lookup.sparse = true;
    dz_layer_add_child(model, "embed_in", dz_embedding_bag_layer_from_pretrained(W_in, false, &mean));
    dz_layer_add_child(model, "embed_out", dz_embedding_layer_from_pretrained(W_out, false, &lookup));
    dz_array_release(W_in);
    dz_array_release(W_out);
    return model;
}

/* One pass over the data, the progress line drawn after each step; returns
 * the mean loss. */
static double train_epoch(dz_dataloader *loader, dz_layer *model, dz_optimizer *optimizer,
                          const unigram_sampler *sampler, int64_t negatives, ex_progress *progress, int epoch)
{
    double loss_sum = 0;
    int64_t samples = 0, step = 0;
    dz_array *xb, *tb;
    ex_progress_epoch(progress);
    while (dz_dataloader_next(loader, &xb, &tb)) {
        dz_scope_begin();
        dz_array *words, *labels;
        negative_sample(sampler, tb, negatives, &words, &labels);
        int64_t B = tb->size;
        dz_array_release(tb);
        dz_variable *inputs[2] = {dz_variable_constant(xb, NULL), dz_variable_constant(words, NULL)};
        dz_variable *scores = dz_layer_forward(model, 2, inputs);
        dz_variable *loss = dz_sigmoid_cross_entropy(scores, dz_variable_constant(labels, NULL));
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(optimizer);
        loss_sum += dz_array_get(loss->data, 0) * (double)B;
        samples += B;
        dz_scope_end();
        ex_progress_step(progress, epoch, ++step, B, loss_sum / (double)samples);
    }
    return loss_sum / (double)samples;
}

/* An epoch's samples: the corpus subsampled afresh, cut into contexts
 * (M, 2 window) and targets (M,). False, having said why, when no word is
 * left with a whole window around it. */
static bool epoch_samples(const corpus *c, int64_t window, dz_rng *rng, dz_array **contexts, dz_array **targets)
{
    dz_array *kept = subsample(c, rng);
    contexts_and_targets(kept, c->unknown, window, contexts, targets);
    dz_array_release(kept);
    if ((*targets)->size > 0)
        return true;
    fprintf(stderr, "word2vec_cbow: no word is left with %lld words on each side after subsampling; the text is "
                    "too short\n", (long long)window);
    dz_array_release(*contexts);
    dz_array_release(*targets);
    return false;
}

/* Trains `model` with SparseAdam for the epochs of the options: the progress
 * line, and the loss, time and speed of each epoch in a table and in
 * metrics.csv, drawn as loss.png. False, having said why, when the text is
 * too short or metrics.csv cannot be made. */
static bool train(dz_layer *model, const corpus *c, const cbow_options *o, dz_rng *rng)
{
    const ex_common *opt = &o->common;
    unigram_sampler sampler = sampler_new(c, rng);
    dz_sparse_adam_config config = dz_sparse_adam_defaults();
    config.lr = opt->lr;
    dz_optimizer *adam = dz_sparse_adam_new(&config);
    dz_optimizer_setup(adam, model);
    dz_array *contexts, *targets;
    bool ok = epoch_samples(c, o->window, rng, &contexts, &targets);
    if (ok)
        printf("CBOW with negative sampling: window %d, hidden %d, %d negatives, batch %d, SparseAdam lr %g\n"
               "subsampled to %lld samples per epoch (of %lld words)\n",
               o->window, HIDDEN, o->negatives, opt->batch_size, opt->lr, (long long)targets->size,
               (long long)c->ids->size);
    const ex_column columns[] = {{"loss", 4, EX_LOSS_PANEL},
                                 {"seconds", 2, EX_TABLE_ONLY},
                                 {"words_per_s", 0, EX_TABLE_ONLY},
                                 {"lr", 4, EX_TABLE_ONLY}};
    ex_metrics metrics;
    if (ok && !ex_metrics_open(&metrics, "word2vec_cbow", opt->output_dir, opt->epochs, 4, columns)) {
        dz_array_release(contexts);
        dz_array_release(targets);
        ok = false;
    }
    ex_progress progress;
    ex_progress_start(&progress, 1, opt->epochs, 0, "words");
    double training = 0; /* seconds spent in train_epoch */
    int64_t words = 0;
    for (int epoch = 1; ok && epoch <= opt->epochs; epoch++) {
        if (epoch > 1 && !(ok = epoch_samples(c, o->window, rng, &contexts, &targets)))
            break;
        dz_dataloader *loader = dz_dataloader_new(contexts, targets, opt->batch_size, true, rng);
        progress.steps = dz_dataloader_batches(loader); /* subsampling changes it a little from epoch to epoch */
        double start = ex_now();
        double loss = train_epoch(loader, model, adam, &sampler, o->negatives, &progress, epoch);
        double seconds = ex_now() - start;
        training += seconds;
        words += targets->size;
        ex_metrics_row(&metrics, &progress, epoch,
                       (const double[]){loss, seconds, (double)targets->size / seconds, opt->lr});
        dz_dataloader_free(loader);
        dz_array_release(contexts);
        dz_array_release(targets);
    }
    if (words > 0) {
        ex_metrics_close(&metrics);
        printf("training: %.1f s per epoch, %.0f words/s\n", training / opt->epochs, (double)words / training);
    }
    dz_optimizer_free(adam);
    free(sampler.cumulative);
    return ok;
}

/* Cosine similarity of every row of W (V, D) f32 with row q, in similarity. */
static void cosine_similarities(const dz_array *W, int64_t q, double *similarity)
{
    int64_t V = W->shape[0], D = W->shape[1];
    const float *w = W->data;
    double q_norm = 0;
    for (int64_t d = 0; d < D; d++)
        q_norm += (double)w[q * D + d] * w[q * D + d];
    for (int64_t i = 0; i < V; i++) {
        double dot = 0, norm = 0;
        for (int64_t d = 0; d < D; d++) {
            dot += (double)w[i * D + d] * w[q * D + d];
            norm += (double)w[i * D + d] * w[i * D + d];
        }
        similarity[i] = dot / (sqrt(norm * q_norm) + 1e-8);
    }
}

/* DLfS2's most_similar: the `top` words whose vectors (rows of W, (V, D) f32)
 * have the largest cosine similarity with the query's. */
static void most_similar(const char *query, const corpus *c, const dz_array *W, int top)
{
    int64_t q = find_word(c, query), V = W->shape[0];
    if (q < 0) {
        printf("%s is not found\n", query);
        return;
    }
    double *similarity = malloc((size_t)V * sizeof *similarity);
    cosine_similarities(W, q, similarity);
    similarity[q] = -INFINITY; /* not the query itself */
    printf("\n[query] %s\n", query);
    for (int k = 0; k < top && k < V - 1; k++) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (similarity[i] > similarity[best])
                best = i;
        printf(" %s: %.4f\n", c->words[best], similarity[best]);
        similarity[best] = -INFINITY;
    }
    free(similarity);
}

/* The leading eigenvector of the symmetric matrix C (D, D) by power
 * iteration, into v (D,). */
static void leading_eigenvector(const double *C, int64_t D, double *v)
{
    double *next = malloc((size_t)D * sizeof *next);
    for (int64_t i = 0; i < D; i++)
        v[i] = 1.0 / sqrt((double)D) * (1 + 0.01 * (double)i);
    for (int iteration = 0; iteration < 1000; iteration++) {
        double norm = 0;
        for (int64_t i = 0; i < D; i++) {
            next[i] = 0;
            for (int64_t j = 0; j < D; j++)
                next[i] += C[i * D + j] * v[j];
            norm += next[i] * next[i];
        }
        norm = sqrt(norm);
        if (norm == 0)
            break;
        for (int64_t i = 0; i < D; i++)
            v[i] = next[i] / norm;
    }
    free(next);
}

/* The vectors of rows `rows` (n of them) of W (V, D) f32 projected on their
 * first two principal components: xy (n, 2). Power iteration on the
 * covariance, deflated after the first component. */
static void pca_2d(const dz_array *W, const int64_t *rows, int64_t n, double *xy)
{
    int64_t D = W->shape[1];
    const float *w = W->data;
    double *X = calloc((size_t)(n * D), sizeof *X), *C = calloc((size_t)(D * D), sizeof *C);
    double *mean = calloc((size_t)D, sizeof *mean), *v = malloc((size_t)D * sizeof *v);
    for (int64_t r = 0; r < n; r++)
        for (int64_t d = 0; d < D; d++)
            mean[d] += w[rows[r] * D + d] / (double)n;
    for (int64_t r = 0; r < n; r++)
        for (int64_t d = 0; d < D; d++)
            X[r * D + d] = w[rows[r] * D + d] - mean[d]; // (n, D) centred
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++)
            for (int64_t r = 0; r < n; r++)
                C[i * D + j] += X[r * D + i] * X[r * D + j]; // (D, D)
    for (int component = 0; component < 2; component++) {
        leading_eigenvector(C, D, v);
        double lambda = 0;
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < D; j++)
                lambda += v[i] * C[i * D + j] * v[j];
        for (int64_t r = 0; r < n; r++) {
            double p = 0;
            for (int64_t d = 0; d < D; d++)
                p += X[r * D + d] * v[d];
            xy[r * 2 + component] = p;
        }
        for (int64_t i = 0; i < D; i++) /* deflate: C -= lambda v v^T */
            for (int64_t j = 0; j < D; j++)
                C[i * D + j] -= lambda * v[i] * v[j];
    }
    free(X);
    free(C);
    free(mean);
    free(v);
}

/* The PCA_WORDS most frequent words (not "." nor "<unk>") projected on the
 * first two principal components of their vectors: dir/cbow_pca.csv (word,
 * x, y), and cbow_pca.gp, which draws them with their labels as cbow_pca.png.
 * False, having said why, when a file cannot be written or gnuplot fails. */
static bool write_pca(const corpus *c, const dz_array *W, const char *dir)
{
    int64_t rows[PCA_WORDS], n = 0;
    const char *words[PCA_WORDS];
    for (int64_t i = 0; i < c->count && n < PCA_WORDS; i++)
        if (i != c->unknown && strcmp(c->words[i], ".") != 0) {
            words[n] = c->words[i];
            rows[n++] = i;
        }
    double xy[2 * PCA_WORDS];
    pca_2d(W, rows, n, xy);
    char path[4096];
    FILE *f = fopen(ex_path(path, sizeof path, dir, "cbow_pca.csv"), "w");
    if (f) {
        fprintf(f, "word,x,y\n");
        for (int64_t i = 0; i < n; i++)
            fprintf(f, "%s,%.6f,%.6f\n", words[i], xy[2 * i], xy[2 * i + 1]);
    }
    if (!f || fclose(f) != 0) {
        fprintf(stderr, "word2vec_cbow: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    printf("wrote %s (%lld words: word, x, y)\n", path, (long long)n);
    return ex_plot(dir, "cbow_pca.gp", "cbow_pca.png", 1000, 800,
                   "set title \"CBOW word vectors: the first two principal components\"\n"
                   "unset key\n"
                   "plot dir.\"cbow_pca.csv\" skip 1 using 2:3 with points pt 7 ps 0.6, \\\n"
                   "     \"\" skip 1 using 2:3:1 with labels offset 0,0.8 font \",10\"\n");
}

/* The text of `path` (a file or a directory of them) with its punctuation
 * blanked out, or NULL, having said why, when it cannot be read. */
static char *load_text(const char *path, int64_t max_bytes)
{
    size_t length;
    int files = 0;
    char *text = fortune_text_read(path, max_bytes, &length, &files);
    if (!text) {
        fprintf(stderr, "word2vec_cbow: cannot read %s; on Debian, `apt-get install fortunes` installs %s\n", path,
                FORTUNES_DIR);
        return NULL;
    }
    printf("read %zu bytes from %d file%s\n", length, files, files == 1 ? "" : "s");
    blank_punctuation(text);
    return text;
}

int main(int argc, char **argv)
{
    cbow_options o = {.common = {.epochs = 10, .batch_size = 100, .lr = 0.005, .seed = 0, .threads = 1,
                                 .output_dir = "runs/word2vec_cbow"},
                      .data = FORTUNES_DIR, .window = 5, .negatives = 5};
    const ex_option options[] = {
        EX_STRING_OPTION("data", &o.data, "FILE|DIR", "the text: a file, or a directory of them (all but *.dat, *.u8)",
                         NULL),
        EX_INT64_OPTION("max-bytes", &o.max_bytes, 0, 1e12, "read at most N bytes of the text; 0: all"),
        EX_EPOCHS_OPTION(&o.common),
        EX_BATCH_SIZE_OPTION(&o.common),
        EX_LR_OPTION(&o.common),
        EX_INT_OPTION("window", &o.window, 1, 100, "context words on each side of a word"),
        EX_INT_OPTION("negatives", &o.negatives, 1, 100, "negative samples per word"),
        EX_SEED_OPTION(&o.common),
        EX_THREADS_OPTION(&o.common), /* 1 by default: these matrices are small, one BLAS thread is fastest */
        EX_OUTPUT_DIR_OPTION(&o.common),
    };
    ex_parse(&(ex_program){"word2vec_cbow",
                           "DLfS2's CBOW word2vec with negative sampling (SparseAdam) on a text, all of Debian's "
                           "fortunes by\ndefault: prints the nearest words of a few queries; writes metrics.csv, "
                           "loss.png, the word vectors\n(cbow_embedding.npz) and a PCA of frequent words "
                           "(cbow_pca.csv, cbow_pca.png) into the output directory.",
                           sizeof options / sizeof *options, options},
             argc, argv);
    if (!ex_setup(&o.common))
        return 1;
    double start = ex_now();

    char *text = load_text(o.data, o.max_bytes);
    if (!text)
        return 1;
    dz_array *full_ids;
    dz_vocabulary *vocabulary;
    dz_text_corpus(text, &full_ids, &vocabulary);
    free(text);
    printf("corpus: %lld words, %lld distinct\n", (long long)full_ids->size, (long long)vocabulary->count);
    if (full_ids->size <= 2 * o.window) {
        fprintf(stderr, "word2vec_cbow: the text needs more than %d words\n", 2 * o.window);
        dz_array_release(full_ids);
        dz_vocabulary_free(vocabulary);
        return 1;
    }
    corpus c = restrict_vocabulary(full_ids, vocabulary);
    if (c.unknown >= 0)
        printf("vocabulary: the %lld words seen %d times or more, and <unk> for the %lld others\n",
               (long long)c.count - 1, MIN_COUNT, (long long)(vocabulary->count - c.count + 1));

    dz_rng rng;
    dz_rng_seed(&rng, (uint64_t)o.common.seed);
    dz_layer *model = cbow_new(c.count, &rng);
    int status = 1;
    if (train(model, &c, &o, &rng)) {
        dz_layer *embed_in = dz_layer_child(model, "embed_in");
        const dz_array *W_in = dz_layer_param(embed_in, "W")->data; // (V, HIDDEN)
        const char *queries[] = {"man", "money", "computer", "day", "life", "god", "you", "he"};
        for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
            most_similar(queries[i], &c, W_in, TOP);
        printf("\n");
        status = write_pca(&c, W_in, o.common.output_dir) ? 0 : 1;

        char out_path[4096];
        ex_path(out_path, sizeof out_path, o.common.output_dir, "cbow_embedding.npz");
        if (dz_layer_save_weights(embed_in, out_path, false) != DZ_OK)
            status = ex_fail();
        else
            printf("saved W_in (%lld, %d) as %s (key \"W\")\n", (long long)c.count, HIDDEN, out_path);
        printf("elapsed %.1f s\n", ex_now() - start);
    }

    dz_layer_free(model);
    corpus_free(&c);
    dz_array_release(full_ids);
    dz_vocabulary_free(vocabulary);
    return status;
}

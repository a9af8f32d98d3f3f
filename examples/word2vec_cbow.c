/* Word2vec CBOW as in "Deep Learning from Scratch 2", chapters 3 and 4, on
 * real English text: the fortune cookies of Debian's fortunes package.
 *
 * The model predicts a word from the WINDOW words on each side of it:
 *     h      = mean of the context words' rows of W_in   (EmbeddingBag, mode mean)
 *     scores = h W_out + b                               (Linear, one score per word)
 *     loss   = softmax cross entropy(scores, the word)
 * trained with Adam (lr 0.001) on mini-batches of 100. Afterwards the rows of
 * W_in are the word vectors: the program prints, like DLfS2's most_similar,
 * the words nearest to a few queries by cosine similarity, and saves W_in as
 * cbow_embedding.npz in the output directory (runs/word2vec_cbow by default:
 * np.load("cbow_embedding.npz")["W"]), with metrics.csv and loss.png.
 *
 * Preprocessing is DLfS2's (lower case, '.' as a word) after punctuation other
 * than '.' and apostrophes is blanked out, so "you," and "you" are one word.
 * Only the MAX_VOCABULARY - 1 most frequent words are kept; the others share
 * the id of "<unk>".
 *
 * Options: run with --help (the text file is --data, its size limit --max-bytes).
 * Any plain text works; the default is the 245 KB "cookie" file of Debian's
 * fortunes package (fortunes-min's smaller "fortunes" file is too short for
 * meaningful neighbours). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ex.h"

#define FORTUNES_PATH "/usr/share/games/fortunes/cookie"
#define DEFAULT_MAX_BYTES 200000
#define FALLBACK_TEXT "You say goodbye and I say hello."
#define MAX_VOCABULARY 3000
#define WINDOW 2      /* context words on each side */
#define HIDDEN 100    /* embedding size */
#define BATCH 100
#define EPOCHS 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Up to max_bytes of the file as a string (malloc'd), or NULL when it cannot be read. */
static char *read_text(const char *path, long max_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = malloc((size_t)max_bytes + 1);
    size_t len = fread(text, 1, (size_t)max_bytes, f);
    fclose(f);
    text[len] = '\0';
    return text;
}

/* Blank out punctuation except '.' (a word of its own) and apostrophes. */
static void blank_punctuation(char *text)
{
    for (char *p = text; *p; p++)
        if (ispunct((unsigned char)*p) && *p != '.' && *p != '\'')
            *p = ' ';
}

/* The corpus with its vocabulary cut to the most frequent words. */
typedef struct {
    dz_array *ids;      /* (N,) i32 */
    int64_t count;      /* vocabulary size V */
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

/* Renumber the words of `full` by frequency and keep the first
 * MAX_VOCABULARY - 1 of them; the rest become "<unk>". */
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

    corpus c;
    int64_t kept = n <= MAX_VOCABULARY ? n : MAX_VOCABULARY - 1;
    c.count = kept < n ? kept + 1 : n;
    c.words = malloc((size_t)c.count * sizeof *c.words);
    for (int64_t rank = 0; rank < n; rank++) {
        new_id[order[rank]] = rank < kept ? rank : kept;
        if (rank < kept)
            c.words[rank] = vocabulary->words[order[rank]];
    }
    if (kept < n)
        c.words[kept] = "<unk>";
    c.ids = dz_array_empty(DZ_I32, 1, full->shape);
    for (int64_t i = 0; i < full->size; i++)
        ((int32_t *)c.ids->data)[i] = (int32_t)new_id[ids[i]];
    free(counts);
    free(order);
    free(new_id);
    return c;
}

static int64_t find_word(const corpus *c, const char *word)
{
    for (int64_t i = 0; i < c->count; i++)
        if (strcmp(c->words[i], word) == 0)
            return i;
    return -1;
}

/* DLfS2's create_contexts_target: for each position t with WINDOW words on
 * both sides, contexts[t] = the 2 WINDOW neighbours and target[t] = the word. */
static void contexts_and_targets(const dz_array *ids, dz_array **contexts, dz_array **targets)
{
    int64_t n = ids->size - 2 * WINDOW;
    *contexts = dz_array_empty(DZ_I32, 2, DZ_SHAPE(n, 2 * WINDOW)); // (n, 2 WINDOW)
    *targets = dz_array_empty(DZ_I32, 1, DZ_SHAPE(n));              // (n,)
    const int32_t *w = ids->data;
    int32_t *ctx = (*contexts)->data, *tgt = (*targets)->data;
    for (int64_t t = 0; t < n; t++) {
        int64_t center = t + WINDOW, k = 0;
        for (int64_t offset = -WINDOW; offset <= WINDOW; offset++)
            if (offset != 0)
                ctx[t * 2 * WINDOW + k++] = w[center + offset];
        tgt[t] = w[center];
    }
}

/* The model, a layer with two sub-layers (so its parameters have the paths
 * "embed_in/W", "linear_out/W" and "linear_out/b"): contexts (B, 2 WINDOW)
 * -> scores (B, V). */
static dz_variable *cbow_forward(dz_layer *self, int ninputs, dz_variable *const *inputs)
{
    (void)ninputs; /* dz_layer_call passes one input */
    dz_variable *h = dz_layer_call(dz_layer_child(self, "embed_in"), inputs[0]); // (B, HIDDEN)
    return dz_layer_call(dz_layer_child(self, "linear_out"), h);                  // (B, V)
}

static const dz_layer_ops cbow_ops = {.type = "CBOW", .forward = cbow_forward};

static dz_layer *cbow_new(int64_t vocabulary_size, dz_rng *rng)
{
    dz_layer *model = calloc(1, sizeof *model);
    dz_layer_init(model, &cbow_ops);
    /* W_in = 0.01 * randn(V, H) as in DLfS2: small initial vectors, so that
     * what training writes into them decides their cosine similarities. */
    dz_array *W_in = dz_array_normal(rng, DZ_F32, 2, DZ_SHAPE(vocabulary_size, HIDDEN), 0.0, 0.01);
    dz_embedding_bag_options mean = dz_embedding_bag_default_options(); /* mode mean */
    dz_layer_add_child(model, "embed_in", dz_embedding_bag_layer_from_pretrained(W_in, false, &mean));
    dz_array_release(W_in);
    dz_layer_add_child(model, "linear_out", dz_linear_layer_new(vocabulary_size, HIDDEN, false, DZ_F32, rng));
    return model;
}

/* One pass over the data; returns the mean loss. */
static double train_epoch(dz_dataloader *loader, dz_layer *model, dz_optimizer *adam)
{
    double loss_sum = 0;
    int64_t samples = 0;
    dz_array *xb, *tb;
    while (dz_dataloader_next(loader, &xb, &tb)) {
        dz_scope_begin();
        dz_variable *contexts = dz_variable_new(xb, NULL), *target = dz_variable_new(tb, NULL);
        dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(model, contexts), target);
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(adam);
        loss_sum += dz_array_get(loss->data, 0) * (double)target->data->size;
        samples += target->data->size;
        dz_scope_end();
    }
    return loss_sum / (double)samples;
}

/* DLfS2's most_similar: the `top` words whose vectors (rows of W, (V, D) f32)
 * have the largest cosine similarity with the query's. */
static void most_similar(const char *query, const corpus *c, const dz_array *W, int top)
{
    int64_t q = find_word(c, query);
    if (q < 0) {
        printf("%s is not found\n", query);
        return;
    }
    int64_t V = W->shape[0], D = W->shape[1];
    const float *w = W->data;
    double *similarity = malloc((size_t)V * sizeof *similarity), q_norm = 0;
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

int main(int argc, char **argv)
{
    ex_common opt = {.epochs = EPOCHS, .batch_size = BATCH, .lr = 1e-3, .seed = 0, .threads = 1,
                     .output_dir = "runs/word2vec_cbow"};
    const char *path = FORTUNES_PATH;
    int64_t max_bytes = DEFAULT_MAX_BYTES;
    const ex_option options[] = {
        EX_STRING_OPTION("data", &path, "FILE", "the text to learn from", NULL),
        EX_INT64_OPTION("max-bytes", &max_bytes, 1, 1e9, "read at most N bytes of it"),
        EX_EPOCHS_OPTION(&opt),
        EX_BATCH_SIZE_OPTION(&opt),
        EX_LR_OPTION(&opt),
        EX_SEED_OPTION(&opt),
        EX_THREADS_OPTION(&opt), /* 1 by default: these matrices are small, one BLAS thread is fastest */
        EX_OUTPUT_DIR_OPTION(&opt),
    };
    ex_parse(&(ex_program){"word2vec_cbow", "DLfS2's CBOW word2vec (Adam) on a text: prints the nearest words of a "
                                            "few queries and saves the\nword vectors as cbow_embedding.npz, with "
                                            "metrics.csv and loss.png, into the output directory.",
                           sizeof options / sizeof *options, options},
             argc, argv);
    if (!ex_setup(&opt))
        return 1;
    double start = now();

    char *text = read_text(path, (long)max_bytes);
    if (!text) {
        printf("cannot read %s; on Debian, `apt-get install fortunes` installs %s\n", path, FORTUNES_PATH);
        printf("falling back to DLfS2's sentence \"%s\"\n", FALLBACK_TEXT);
        text = strdup(FALLBACK_TEXT);
    }
    blank_punctuation(text);
    dz_array *full_ids;
    dz_vocabulary *vocabulary;
    dz_text_corpus(text, &full_ids, &vocabulary);
    free(text);
    printf("corpus: %lld words, %lld distinct\n", (long long)full_ids->size, (long long)vocabulary->count);
    if (full_ids->size <= 2 * WINDOW) {
        printf("the text needs more than %d words\n", 2 * WINDOW);
        dz_array_release(full_ids);
        dz_vocabulary_free(vocabulary);
        return 1;
    }
    corpus c = restrict_vocabulary(full_ids, vocabulary);
    if (c.count < vocabulary->count)
        printf("vocabulary: the %lld most frequent words, and <unk> for the %lld others\n", (long long)c.count - 1,
               (long long)(vocabulary->count - c.count + 1));

    dz_array *contexts, *targets;
    contexts_and_targets(c.ids, &contexts, &targets);
    dz_rng rng;
    dz_rng_seed(&rng, (uint64_t)opt.seed);
    dz_layer *model = cbow_new(c.count, &rng);
    dz_adam_config adam_config = dz_adam_defaults(); /* betas (0.9, 0.999): DLfS2's and PyTorch's defaults */
    adam_config.lr = opt.lr;
    dz_optimizer *adam = dz_adam_new(&adam_config);
    dz_optimizer_setup(adam, model);
    dz_dataloader *loader = dz_dataloader_new(contexts, targets, opt.batch_size, true, &rng);
    printf("CBOW: window %d, hidden %d, %lld samples, batch %d, Adam lr %g\n", WINDOW, HIDDEN,
           (long long)targets->size, opt.batch_size, opt.lr);
    printf("(a uniform guess over the vocabulary would score log(V) = %.2f)\n", log((double)c.count));

    const ex_column columns[] = {{"loss", 4, EX_LOSS_PANEL},
                                 {"seconds", 2, EX_TABLE_ONLY},
                                 {"words_per_s", 0, EX_TABLE_ONLY},
                                 {"lr", 4, EX_TABLE_ONLY}};
    ex_metrics metrics;
    if (!ex_metrics_open(&metrics, "word2vec_cbow", opt.output_dir, opt.epochs, 4, columns))
        return 1;
    double training = 0; /* seconds spent in train_epoch */
    for (int epoch = 1; epoch <= opt.epochs; epoch++) {
        double epoch_start = now(), loss = train_epoch(loader, model, adam), seconds = now() - epoch_start;
        training += seconds;
        ex_metrics_row(&metrics, NULL, epoch,
                       (const double[]){loss, seconds, (double)targets->size / seconds, opt.lr});
    }
    ex_metrics_close(&metrics);
    printf("training: %.0f words/s\n", (double)targets->size * opt.epochs / training);

    dz_layer *embed_in = dz_layer_child(model, "embed_in");
    const dz_array *W_in = dz_layer_param(embed_in, "W")->data; // (V, HIDDEN)
    const char *queries[] = {"you", "he", "year", "car", "good"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        most_similar(queries[i], &c, W_in, 5);

    char out_path[4096];
    ex_path(out_path, sizeof out_path, opt.output_dir, "cbow_embedding.npz");
    if (dz_layer_save_weights(embed_in, out_path, false) != DZ_OK)
        printf("\ncould not save %s: %s\n", out_path, dz_last_error());
    else
        printf("\nsaved W_in (%lld, %d) as %s (key \"W\")\n", (long long)c.count, HIDDEN, out_path);
    printf("elapsed %.1f s\n", now() - start);

    dz_dataloader_free(loader);
    dz_optimizer_free(adam);
    dz_layer_free(model);
    dz_array_release(contexts);
    dz_array_release(targets);
    dz_array_release(c.ids);
    free(c.words);
    dz_array_release(full_ids);
    dz_vocabulary_free(vocabulary);
    return 0;
}

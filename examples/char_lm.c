/* A character-level language model on Debian's fortunes, trained with
 * DeZero's truncated backpropagation through time (DeZero step 60, DLfS2
 * chapters 5 and 6). With B = batch streams and T = bptt steps:
 *
 *     x_t (B,) byte ids -> Embedding (B, embed) -> LSTM (B, hidden)
 *     the T hidden states stacked (T B, hidden)
 *     -> Linear (T B, V) -> softmax cross entropy with x_{t+1}
 *
 * The text is read as B parallel streams, as DLfS2's time-series loader does:
 * stream b starts at offset b * (N / B) and every step moves each stream one
 * byte on, so a batch holds B unrelated places of the text and the LSTM
 * carries each one's state from chunk to chunk. After every T steps the loss
 * is backpropagated, dz_variable_unchain_backward cuts the graph behind it
 * (the state goes on, its history is dropped), and Adam updates the weights,
 * with the gradient's norm clipped. The loss of the T steps goes through one
 * Linear and one cross entropy over all of them, which is DeZero's sum of
 * per-step losses divided by T, in fewer ops.
 *
 * Every sample_every updates, and at the start and the end, it prints a
 * sample: the model continues a prompt one byte at a time, each drawn from
 * softmax(logits / temperature) by a seeded generator. Each epoch gives the
 * mean loss and the perplexity (exp of the loss: how many bytes the model
 * hesitates between, on average) in a table on stdout and in metrics.csv in
 * the output directory (runs/char_lm by default), drawn as loss.png.
 *
 * Options: run with --help. The default text is four of the fortune files
 * (about 570 KB): DEFAULT_TEXT below. All of fortunes (about 2.6 MB) is
 * `char_lm --data /usr/share/games/fortunes` and takes about 4.5 times as
 * long per epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ex.h"
#include "common/fortune_files.h"

/* The command line's settings. */
typedef struct {
    ex_common common;  /* epochs, batch_size (the parallel streams), lr (Adam), seed, threads, output_dir */
    const char *data;  /* a text file, or a directory of them; NULL: DEFAULT_TEXT */
    int64_t max_bytes; /* of text read (0: all) */
    int bptt;          /* time steps per backward */
    int embed;         /* embedding size */
    int hidden;        /* LSTM state size */
    double clip;       /* max gradient norm */
    int sample_every;  /* updates between samples (0: only before and after training) */
    int sample_length; /* bytes generated per sample */
    double temperature;
    const char *prompt;
} char_lm_options;

/* The default subset of fortunes: four files of one-line to one-paragraph
 * sayings in plain prose (about 570 KB), small enough for five epochs in a
 * few minutes on two busy cores (about 10 s of CPU an epoch), large enough
 * that the samples turn into English-looking words within the first epoch. */
static const char *const DEFAULT_TEXT[] = {"cookie", "wisdom", "work", "people"};

/* The text as byte ids 0..count-1 in byte order. Only printable ASCII, tab
 * and newline are kept: the fortunes also hold a few backspaces (for
 * overstrike) and UTF-8 letters, which a sample could only garble. */
typedef struct {
    int32_t *ids;            /* (N,) */
    int64_t length;          /* N */
    int count;               /* V: distinct bytes */
    unsigned char byte[256]; /* byte of each id */
    int32_t id[256];         /* id of each byte, -1 when absent */
} byte_text;

static bool kept_byte(unsigned char c)
{
    return (c >= ' ' && c < 127) || c == '\n' || c == '\t';
}

static byte_text encode(const char *text, size_t length)
{
    byte_text t = {0};
    bool seen[256] = {false};
    for (size_t i = 0; i < length; i++)
        seen[(unsigned char)text[i]] = kept_byte((unsigned char)text[i]);
    for (int c = 0; c < 256; c++) {
        t.id[c] = seen[c] ? t.count : -1;
        if (seen[c])
            t.byte[t.count++] = (unsigned char)c;
    }
    t.ids = malloc(length * sizeof *t.ids);
    for (size_t i = 0; i < length; i++)
        if (seen[(unsigned char)text[i]])
            t.ids[t.length++] = t.id[(unsigned char)text[i]];
    return t;
}

/* The default subset's files under FORTUNES_DIR, concatenated. */
static char *read_default_text(int64_t max_bytes, size_t *length, int *files)
{
    size_t total = 0;
    char *all = NULL;
    for (size_t i = 0; i < sizeof DEFAULT_TEXT / sizeof *DEFAULT_TEXT; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", FORTUNES_DIR, DEFAULT_TEXT[i]);
        size_t n;
        char *text = fortune_text_read(path, max_bytes ? max_bytes - (int64_t)total : 0, &n, NULL);
        if (!text) {
            free(all);
            return NULL;
        }
        all = realloc(all, total + n + 1);
        memcpy(all + total, text, n + 1);
        total += n;
        free(text);
        *files = (int)i + 1;
        if (max_bytes && (int64_t)total >= max_bytes)
            break;
    }
    *length = total;
    return all;
}

/* Embedding -> LSTM -> Linear, as children "embed", "lstm", "linear" of one
 * model (so that one optimizer and one weights file cover them). */
static dz_layer *char_lm_new(const char_lm_options *o, int vocabulary, dz_rng *rng)
{
    dz_layer *model = dz_model_new();
    dz_layer_add_child(model, "embed", dz_embedding_layer_new(vocabulary, o->embed, NULL, DZ_F32, rng));
    dz_layer_add_child(model, "lstm", dz_lstm_layer_new(o->hidden, o->embed, DZ_F32, rng));
    dz_layer_add_child(model, "linear", dz_linear_layer_new(vocabulary, o->hidden, false, DZ_F32, rng));
    return model;
}

/* One time step: byte ids x (B,) -> the LSTM's new state (B, hidden). */
static dz_variable *step(dz_layer *model, dz_array *x)
{
    dz_variable *e = dz_layer_call(dz_layer_child(model, "embed"), dz_variable_constant(x, NULL)); // (B, embed)
    return dz_layer_call(dz_layer_child(model, "lstm"), e);                                           // (B, hidden)
}

/* softmax(logits / temperature) drawn from by rng. */
static int32_t draw(const dz_array *logits, double temperature, dz_rng *rng)
{
    int64_t V = logits->size;
    double *p = malloc((size_t)V * sizeof *p), top = -INFINITY, sum = 0;
    for (int64_t i = 0; i < V; i++) {
        p[i] = dz_array_get(logits, i) / temperature;
        top = fmax(top, p[i]);
    }
    for (int64_t i = 0; i < V; i++)
        sum += p[i] = exp(p[i] - top);
    double u = dz_rng_uniform(rng) * sum;
    int64_t chosen = V - 1;
    for (int64_t i = 0; i < V; i++)
        if ((u -= p[i]) < 0) {
            chosen = i;
            break;
        }
    free(p);
    return (int32_t)chosen;
}

/* Feeds byte id `in` to the model (a batch of one) and draws the next. */
static int32_t feed(dz_layer *model, int32_t in, double temperature, dz_rng *rng)
{
    dz_scope_begin();
    dz_array *x = dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(1), &in);                 // (1,)
    dz_variable *y = dz_layer_call(dz_layer_child(model, "linear"), step(model, x)); // (1, V)
    int32_t next = draw(y->data, temperature, rng);
    dz_scope_end();
    return next;
}

/* Prints the prompt and sample_length bytes the model continues it with
 * (bytes of the prompt that are not in the text are skipped). The LSTM's
 * state is reset before (a batch of one) and after (the training streams
 * start again from a zero state). */
static void print_sample(dz_layer *model, const byte_text *t, const char_lm_options *o, dz_rng *rng)
{
    dz_layer *lstm = dz_layer_child(model, "lstm");
    dz_layer_reset_state(lstm);
    bool backprop = dz_set_enable_backprop(false);
    printf("--- sample ---\n%s", o->prompt);
    int32_t next = t->id['\n'] >= 0 ? t->id['\n'] : 0; /* the first byte when the prompt is empty */
    for (const char *p = o->prompt; *p; p++)
        if (t->id[(unsigned char)*p] >= 0)
            next = feed(model, t->id[(unsigned char)*p], o->temperature, rng);
    for (int i = 0; i < o->sample_length; i++) {
        putchar(t->byte[next]);
        next = feed(model, next, o->temperature, rng);
    }
    printf("\n--------------\n");
    dz_set_enable_backprop(backprop);
    dz_layer_reset_state(lstm);
}

/* One truncated-BPTT update from position `time` of every stream (streams
 * start `jump` bytes apart); returns the mean loss over its T B predictions. */
static double train_chunk(dz_layer *model, dz_optimizer *adam, const byte_text *t, const char_lm_options *o,
                          int64_t jump, int64_t time)
{
    int64_t B = o->common.batch_size, T = o->bptt;
    dz_scope_begin();
    dz_variable **hs = malloc((size_t)T * sizeof *hs);
    dz_array *targets = dz_array_empty(DZ_I32, 1, DZ_SHAPE(T * B)); // (T B,)
    int32_t *x = malloc((size_t)B * sizeof *x), *target = targets->data;
    for (int64_t s = 0; s < T; s++) {
        for (int64_t b = 0; b < B; b++) {
            int64_t at = (b * jump + time + s) % (t->length - 1);
            x[b] = t->ids[at];
            target[s * B + b] = t->ids[at + 1];
        }
        hs[s] = step(model, dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(B), x));
    }
    dz_variable *h = dz_concat((int)T, hs, 0);                                        // (T B, hidden)
    dz_variable *logits = dz_layer_call(dz_layer_child(model, "linear"), h);          // (T B, V)
    dz_variable *loss = dz_softmax_cross_entropy(logits, dz_variable_constant(targets, NULL));
    dz_layer_cleargrads(model);
    dz_variable_backward(loss, false, false);
    dz_variable_unchain_backward(loss);
    dz_optimizer_update(adam);
    double value = dz_array_get(loss->data, 0);
    dz_scope_end();
    free(x);
    free(hs);
    return value;
}

/* Trains for the options' epochs (each moves every stream N / B bytes on),
 * printing samples along the way, with the progress line and the loss per
 * epoch in a table and metrics.csv (drawn as loss.png). False, having said
 * why, when metrics.csv cannot be made. */
static bool train(dz_layer *model, const byte_text *t, const char_lm_options *o, dz_rng *rng)
{
    const ex_common *opt = &o->common;
    int64_t B = opt->batch_size, jump = (t->length - 1) / B, chunks = jump / o->bptt, time = 0;
    printf("%lld streams of %lld bytes, %lld updates of %d steps per epoch\n", (long long)B, (long long)jump,
           (long long)chunks, o->bptt);
    print_sample(model, t, o, rng);
    const ex_column columns[] = {
        {"loss", 4, EX_LOSS_PANEL}, {"perplexity", 2, EX_TABLE_ONLY}, {"seconds", 1, EX_TABLE_ONLY}};
    ex_metrics metrics;
    if (!ex_metrics_open(&metrics, "char_lm", opt->output_dir, opt->epochs, 3, columns))
        return false;
    dz_adam_config config = dz_adam_defaults();
    config.lr = opt->lr;
    dz_optimizer *adam = dz_adam_new(&config);
    dz_optimizer_setup(adam, model);
    dz_optimizer_add_hook(adam, dz_clip_grad_hook(o->clip));
    ex_progress progress;
    ex_progress_start(&progress, 1, opt->epochs, chunks, "bytes");
    double start = ex_now(), recent = 0; /* loss summed since the last sample */
    int updates = 0;
    for (int epoch = 1; epoch <= opt->epochs; epoch++) {
        double epoch_start = ex_now(), sum = 0;
        ex_progress_epoch(&progress);
        for (int64_t c = 0; c < chunks; c++, time += o->bptt) {
            double loss = train_chunk(model, adam, t, o, jump, time);
            sum += loss;
            recent += loss;
            ex_progress_step(&progress, epoch, c + 1, o->bptt * B, sum / (double)(c + 1));
            updates++;
            if (o->sample_every > 0 && updates % o->sample_every == 0) {
                ex_progress_clear(&progress);
                printf("update %d  loss %.3f  (%.0f s)\n", updates, recent / o->sample_every, ex_now() - start);
                recent = 0;
                print_sample(model, t, o, rng);
            }
        }
        double loss = sum / (double)chunks;
        ex_metrics_row(&metrics, &progress, epoch, (const double[]){loss, exp(loss), ex_now() - epoch_start});
    }
    ex_metrics_close(&metrics);
    print_sample(model, t, o, rng);
    dz_optimizer_free(adam);
    return true;
}

int main(int argc, char **argv)
{
    char_lm_options o = {
        .common = {.epochs = 5, .batch_size = 64, .lr = 0.005, .seed = 0, .threads = 1,
                   .output_dir = "runs/char_lm"},
        .bptt = 32,
        .embed = 32,
        .hidden = 128,
        .clip = 5.0,
        .sample_every = 100,
        .sample_length = 160,
        .temperature = 0.6,
        .prompt = "The ",
    };
    const ex_option options[] = {
        EX_STRING_OPTION("data", &o.data, "FILE|DIR", "the text: a file, or a directory of them (all but *.dat, *.u8)",
                         FORTUNES_DIR "/{cookie,wisdom,work,people}"),
        EX_INT64_OPTION("max-bytes", &o.max_bytes, 0, 1e12, "read at most N bytes of the text; 0: all"),
        EX_EPOCHS_OPTION(&o.common),
        EX_INT_OPTION("batch-size", &o.common.batch_size, 1, 1000000, "parallel streams of the text (the batch)"),
        EX_INT_OPTION("bptt", &o.bptt, 1, 100000, "time steps per backward (truncated BPTT)"),
        EX_INT_OPTION("embed", &o.embed, 1, 100000, "embedding size of a byte"),
        EX_INT_OPTION("hidden", &o.hidden, 1, 100000, "units of the LSTM"),
        EX_LR_OPTION(&o.common),
        EX_POSITIVE_OPTION("clip", &o.clip, 1e9, "the gradient's norm is clipped to this"),
        EX_INT_OPTION("sample-every", &o.sample_every, 0, 1000000000,
                      "updates between samples; 0: only before and after training"),
        EX_INT_OPTION("sample-length", &o.sample_length, 0, 1000000, "bytes generated per sample"),
        EX_POSITIVE_OPTION("temperature", &o.temperature, 100, "samples are drawn from softmax(logits / T)"),
        EX_STRING_OPTION("prompt", &o.prompt, "TEXT", "what the samples continue", "\"The \""),
        EX_INT64_OPTION("seed", &o.common.seed, 0, 4294967295.0, "seed of the initial weights and of the samples"),
        EX_THREADS_OPTION(&o.common), /* 1 by default: these matrices are small, one BLAS thread is fastest */
        EX_OUTPUT_DIR_OPTION(&o.common),
    };
    ex_parse(&(ex_program){"char_lm",
                           "A character-level LSTM language model (Embedding, LSTM, Linear) trained with truncated "
                           "BPTT on\nDebian's fortunes; prints samples as it trains and writes metrics.csv and "
                           "loss.png into the output\ndirectory.",
                           sizeof options / sizeof *options, options},
             argc, argv);
    if (!ex_setup(&o.common))
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* samples show as they come, also in a log file */
    size_t length = 0;
    int files = 0;
    char *text = o.data ? fortune_text_read(o.data, o.max_bytes, &length, &files)
                        : read_default_text(o.max_bytes, &length, &files);
    if (!text) {
        fprintf(stderr, "char_lm: cannot read %s; on Debian, `apt-get install fortunes` installs %s\n",
                o.data ? o.data : FORTUNES_DIR, FORTUNES_DIR);
        return 1;
    }
    byte_text t = encode(text, length);
    free(text);
    int64_t B = o.common.batch_size, needed = B * (o.bptt + 1) + 1;
    if (t.length < needed) {
        fprintf(stderr, "char_lm: the text has %lld bytes; %lld streams of %d steps need at least %lld\n",
                (long long)t.length, (long long)B, o.bptt, (long long)needed);
        free(t.ids);
        return 1;
    }
    printf("text: %lld bytes from %d file%s, %d distinct\n", (long long)t.length, files, files == 1 ? "" : "s",
           t.count);
    printf("model: Embedding(%d, %d) -> LSTM(%d) -> Linear(%d); Adam lr %g, grad norm clipped at %g\n", t.count,
           o.embed, o.hidden, t.count, o.common.lr, o.clip);
    printf("(a uniform guess would score log(V) = %.2f, perplexity %d)\n", log((double)t.count), t.count);

    dz_rng rng;
    dz_rng_seed(&rng, (uint64_t)o.common.seed);
    dz_layer *model = char_lm_new(&o, t.count, &rng);
    bool trained = train(model, &t, &o, &rng);
    dz_layer_free(model);
    free(t.ids);
    return trained ? 0 : 1;
}

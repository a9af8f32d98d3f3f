/* Text corpora as "Deep Learning from Scratch 2" preprocesses them: lower
 * case, '.' split off as a word, ids given in order of first appearance. A
 * small open-addressing hash table maps words to ids.
 *
 * Text is outside data: running out of memory while reading it is an
 * environment error (a status, never an abort), and what was built so far is
 * freed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "data_file.h"
#include "dezero/datasets.h"

enum { DEFAULT_MAX_BYTES = 64 << 20, MAX_WORD = 255 };

/* What is built while reading: the vocabulary, the table of its words and
 * the corpus (word ids in order). */
typedef struct {
    const char *op;
    int64_t *slots; /* word id + 1, 0 = empty; `capacity` slots, a power of two */
    int64_t capacity;
    dz_vocabulary *vocabulary;
    int64_t words_capacity;
    int32_t *ids;
    int64_t count, ids_capacity;
} corpus_builder;

static uint64_t hash_word(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static dz_status out_of_memory(const corpus_builder *b)
{
    return dz_fail(DZ_ERR_NOMEM, "%s: out of memory after %lld words (%lld distinct)", b->op, (long long)b->count,
                   (long long)b->vocabulary->count);
}

/* Makes room for one more item in *items, a buffer of *capacity items of
 * `size` bytes, doubling it when full. */
static bool reserve(void **items, int64_t *capacity, int64_t used, size_t size)
{
    if (used < *capacity)
        return true;
    int64_t more = *capacity ? *capacity * 2 : 1024;
    void *grown = (size_t)more <= SIZE_MAX / size ? realloc(*items, (size_t)more * size) : NULL;
    if (!grown)
        return false;
    *items = grown;
    *capacity = more;
    return true;
}

/* The slot of `word`: where it is, or the empty slot where it goes. */
static uint64_t find_slot(const corpus_builder *b, const int64_t *slots, int64_t capacity, const char *word)
{
    uint64_t mask = (uint64_t)(capacity - 1), h = hash_word(word) & mask;
    while (slots[h] && strcmp(b->vocabulary->words[slots[h] - 1], word) != 0)
        h = (h + 1) & mask;
    return h;
}

/* Doubles the table and places every word again. */
static bool table_grow(corpus_builder *b)
{
    int64_t capacity = b->capacity ? b->capacity * 2 : 1024;
    int64_t *slots = calloc((size_t)capacity, sizeof *slots);
    if (!slots)
        return false;
    for (int64_t i = 0; i < b->vocabulary->count; i++)
        slots[find_slot(b, slots, capacity, b->vocabulary->words[i])] = i + 1;
    free(b->slots);
    b->slots = slots;
    b->capacity = capacity;
    return true;
}

/* The id of `word`, added to the vocabulary when new; -1 when memory runs
 * out or the ids would pass int32. */
static int64_t word_id(corpus_builder *b, const char *word)
{
    dz_vocabulary *v = b->vocabulary;
    if ((v->count + 1) * 2 > b->capacity && !table_grow(b))
        return -1;
    uint64_t h = find_slot(b, b->slots, b->capacity, word);
    if (b->slots[h])
        return b->slots[h] - 1;
    if (v->count == INT32_MAX || !reserve((void **)&v->words, &b->words_capacity, v->count, sizeof *v->words))
        return -1;
    v->words[v->count] = strdup(word);
    if (!v->words[v->count])
        return -1;
    b->slots[h] = v->count + 1;
    return v->count++;
}

/* Appends the id of `word` to the corpus. */
static dz_status add_word(corpus_builder *b, const char *word)
{
    int64_t id = word_id(b, word);
    if (id < 0 && b->vocabulary->count == INT32_MAX)
        return dz_fail(DZ_ERR_UNSUPPORTED, "%s: more than %d distinct words; word ids are int32", b->op, INT32_MAX);
    if (id < 0 || !reserve((void **)&b->ids, &b->ids_capacity, b->count, sizeof *b->ids))
        return out_of_memory(b);
    b->ids[b->count++] = (int32_t)id;
    return DZ_OK;
}

/* Appends the ids of the words of `text`: runs of characters other than
 * white space and '.', lower-cased and cut at MAX_WORD bytes; a '.' is a word
 * of its own, and a lone '%' (between fortune entries) is skipped. */
static dz_status tokenize(corpus_builder *b, const char *text)
{
    char word[MAX_WORD + 1];
    size_t len = 0;
    dz_status st = DZ_OK;
    for (const char *p = text; st == DZ_OK; p++) {
        bool end = *p == '\0' || isspace((unsigned char)*p) || *p == '.';
        if (!end && len < MAX_WORD)
            word[len++] = (char)tolower((unsigned char)*p);
        if (end) {
            word[len] = '\0';
            if (len && strcmp(word, "%") != 0)
                st = add_word(b, word);
            if (st == DZ_OK && *p == '.')
                st = add_word(b, ".");
            len = 0;
        }
        if (*p == '\0')
            break;
    }
    return st;
}

/* The corpus as an (N,) i32 array. */
static dz_status corpus_array(const corpus_builder *b, dz_array **corpus)
{
    *corpus = dz_array_uninit_on(DZ_CPU, DZ_I32, 1, &b->count); // (N,)
    if (!*corpus)
        return out_of_memory(b);
    if (b->count > 0) /* else ids is NULL, which memcpy must not get */
        memcpy((*corpus)->data, b->ids, (size_t)b->count * sizeof *b->ids);
    return DZ_OK;
}

/* dz_text_corpus for the public function `op`, its arguments checked. */
static dz_status build_corpus(const char *op, const char *text, dz_array **corpus, dz_vocabulary **vocabulary)
{
    corpus_builder b = {.op = op, .vocabulary = calloc(1, sizeof(dz_vocabulary))};
    if (!b.vocabulary)
        return dz_fail(DZ_ERR_NOMEM, "%s: out of memory", op);
    dz_status st = tokenize(&b, text);
    if (st == DZ_OK)
        st = corpus_array(&b, corpus);
    if (st == DZ_OK)
        *vocabulary = b.vocabulary;
    else
        dz_vocabulary_free(b.vocabulary);
    free(b.ids);
    free(b.slots);
    return st;
}

/* NULL outputs are a user error; the others start as NULL. */
static bool check_outputs(const char *op, dz_array **corpus, dz_vocabulary **vocabulary)
{
    if (!corpus || !vocabulary) {
        dz_raise(DZ_ERR_NULL, "%s: %s is NULL; pass the addresses of a dz_array * and a dz_vocabulary *", op,
                 corpus ? "vocabulary" : "corpus");
        return false;
    }
    *corpus = NULL;
    *vocabulary = NULL;
    return true;
}

dz_status dz_text_corpus(const char *text, dz_array **corpus, dz_vocabulary **vocabulary)
{
    if (!check_outputs("dz_text_corpus", corpus, vocabulary))
        return DZ_ERR_NULL;
    if (!text)
        return dz_raise(DZ_ERR_NULL, "dz_text_corpus: text is NULL; pass a string (\"\" for an empty corpus)");
    return build_corpus("dz_text_corpus", text, corpus, vocabulary);
}

dz_status dz_text_corpus_file(const char *path, int64_t max_bytes, dz_array **corpus, dz_vocabulary **vocabulary)
{
    const char *op = "dz_text_corpus_file";
    if (!check_outputs(op, corpus, vocabulary))
        return DZ_ERR_NULL;
    if (!path)
        return dz_raise(DZ_ERR_NULL, "%s: path is NULL; pass the name of a text file", op);
    if (max_bytes < 0)
        return dz_raise(DZ_ERR_VALUE, "%s: max_bytes is %lld; pass a positive limit, or 0 for the default (%d)", op,
                        (long long)max_bytes, DEFAULT_MAX_BYTES);
    gzFile file;
    dz_status st = dz_data_open(op, path, "", &file);
    if (st != DZ_OK)
        return st;
    unsigned char *text;
    size_t len;
    st = dz_data_read(op, path, file, max_bytes ? (size_t)max_bytes : DEFAULT_MAX_BYTES, &text, &len);
    gzclose(file);
    if (st == DZ_OK)
        st = build_corpus(op, (const char *)text, corpus, vocabulary);
    free(text);
    return st;
}

int64_t dz_vocabulary_find(const dz_vocabulary *vocabulary, const char *word)
{
    if (!vocabulary || !word) {
        dz_raise(DZ_ERR_NULL, "dz_vocabulary_find: %s is NULL", vocabulary ? "word" : "vocabulary");
        return -1;
    }
    for (int64_t i = 0; i < vocabulary->count; i++)
        if (strcmp(vocabulary->words[i], word) == 0)
            return i;
    return -1;
}

void dz_vocabulary_free(dz_vocabulary *vocabulary)
{
    if (!vocabulary)
        return;
    for (int64_t i = 0; i < vocabulary->count; i++)
        free(vocabulary->words[i]);
    free(vocabulary->words);
    free(vocabulary);
}

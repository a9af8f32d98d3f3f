/* Text corpora as "Deep Learning from Scratch 2" preprocesses them: lower
 * case, '.' split off as a word, ids given in order of first appearance. A
 * small open-addressing hash table maps words to ids. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "dezero/datasets.h"

typedef struct {
    int64_t *slots; /* word id + 1, 0 = empty */
    int64_t capacity;
    dz_vocabulary *vocabulary;
} word_table;

static uint64_t hash_word(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void table_grow(word_table *t)
{
    int64_t capacity = t->capacity ? t->capacity * 2 : 1024;
    int64_t *slots = dz_xcalloc((size_t)capacity, sizeof *slots);
    for (int64_t i = 0; i < t->vocabulary->count; i++) {
        uint64_t h = hash_word(t->vocabulary->words[i]) & (uint64_t)(capacity - 1);
        while (slots[h])
            h = (h + 1) & (uint64_t)(capacity - 1);
        slots[h] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->capacity = capacity;
}

static int64_t table_id(word_table *t, const char *word)
{
    if ((t->vocabulary->count + 1) * 2 > t->capacity)
        table_grow(t);
    uint64_t mask = (uint64_t)(t->capacity - 1), h = hash_word(word) & mask;
    while (t->slots[h]) {
        int64_t id = t->slots[h] - 1;
        if (strcmp(t->vocabulary->words[id], word) == 0)
            return id;
        h = (h + 1) & mask;
    }
    dz_vocabulary *v = t->vocabulary;
    v->words = dz_xrealloc(v->words, (size_t)(v->count + 1) * sizeof *v->words);
    v->words[v->count] = strdup(word);
    t->slots[h] = v->count + 1;
    return v->count++;
}

/* Appends the id of every word of `text` to ids. */
static void tokenize(word_table *t, const char *text, int64_t **ids, int64_t *n, int64_t *capacity)
{
    char word[256];
    size_t len = 0;
    for (const char *p = text;; p++) {
        bool end = *p == '\0' || isspace((unsigned char)*p) || *p == '.';
        if (!end && len + 1 < sizeof word)
            word[len++] = (char)tolower((unsigned char)*p);
        if (end || *p == '\0') {
            word[len] = '\0';
            bool separator = len == 1 && word[0] == '%'; /* fortune entries */
            const char *tokens[2] = {len && !separator ? word : NULL, *p == '.' ? "." : NULL};
            for (int k = 0; k < 2; k++) {
                if (!tokens[k])
                    continue;
                if (*n == *capacity) {
                    *capacity = *capacity ? *capacity * 2 : 1024;
                    *ids = dz_xrealloc(*ids, (size_t)*capacity * sizeof **ids);
                }
                (*ids)[(*n)++] = table_id(t, tokens[k]);
            }
            len = 0;
        }
        if (*p == '\0')
            break;
    }
}

dz_status dz_text_corpus(const char *text, dz_array **corpus, dz_vocabulary **vocabulary)
{
    if (!text || !corpus || !vocabulary)
        return dz_raise(DZ_ERR_NULL, "dz_text_corpus: text, corpus and vocabulary must not be NULL");
    word_table t = {NULL, 0, dz_xcalloc(1, sizeof(dz_vocabulary))};
    int64_t *ids = NULL, n = 0, capacity = 0;
    tokenize(&t, text, &ids, &n, &capacity);
    *corpus = dz_array_empty(DZ_I32, 1, &n); // (N,)
    for (int64_t i = 0; i < n; i++)
        ((int32_t *)(*corpus)->data)[i] = (int32_t)ids[i];
    *vocabulary = t.vocabulary;
    free(ids);
    free(t.slots);
    return DZ_OK;
}

dz_status dz_text_corpus_file(const char *path, int64_t max_bytes, dz_array **corpus, dz_vocabulary **vocabulary)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dz_fail(DZ_ERR_IO, "dz_text_corpus_file: cannot open %s", path);
    size_t cap = max_bytes > 0 ? (size_t)max_bytes : (size_t)64 << 20;
    char *text = dz_xmalloc(cap + 1);
    size_t len = fread(text, 1, cap, f);
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return dz_fail(DZ_ERR_IO, "dz_text_corpus_file: cannot read %s", path);
    }
    text[len] = '\0';
    dz_status st = dz_text_corpus(text, corpus, vocabulary);
    free(text);
    return st;
}

int64_t dz_vocabulary_find(const dz_vocabulary *v, const char *word)
{
    for (int64_t i = 0; i < v->count; i++)
        if (strcmp(v->words[i], word) == 0)
            return i;
    return -1;
}

void dz_vocabulary_free(dz_vocabulary *v)
{
    if (!v)
        return;
    for (int64_t i = 0; i < v->count; i++)
        free(v->words[i]);
    free(v->words);
    free(v);
}

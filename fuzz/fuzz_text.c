/* libFuzzer target for the text corpus reader and the vocabulary: on any
 * text dz_text_corpus must succeed with a corpus and a vocabulary that agree;
 * dz_text_corpus_file on the same bytes in a file (plain or gzip'd) must
 * return a status and, when it reads them all, the same corpus. Built by
 * fuzz/run_fuzz.sh.
 *
 * Input: a flags byte (1 = gzip the file), a max_bytes byte (0 = the
 * default, else the limit), then the text. */
#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "dezero/dezero.h"
#include "fuzz_common.h"

enum { GZIP = 1 };

static char path[4096];

static void remove_file(void) { unlink(path); }

/* Ids in order of first appearance, each word found at its id, words lower
 * case without white space, "." alone, at most 255 bytes. */
static void check_corpus(const dz_array *corpus, const dz_vocabulary *v)
{
    check(corpus->dtype == DZ_I32 && corpus->ndim == 1);
    const int32_t *ids = corpus->data;
    int64_t next = 0;
    for (int64_t i = 0; i < corpus->size; i++) {
        check(ids[i] >= 0 && ids[i] <= next && ids[i] < v->count);
        next += ids[i] == next;
    }
    check(next == v->count);
    for (int64_t i = 0; i < v->count; i++) {
        const char *w = v->words[i];
        size_t len = strlen(w);
        check(len >= 1 && len <= 255 && strcmp(w, "%") != 0);
        check(strcmp(w, ".") == 0 || !strchr(w, '.'));
        for (const char *p = w; *p; p++)
            check(!isspace((unsigned char)*p) && !isupper((unsigned char)*p));
        check(dz_vocabulary_find(v, w) == i);
    }
}

static bool same_corpus(const dz_array *a, const dz_vocabulary *va, const dz_array *b, const dz_vocabulary *vb)
{
    if (a->size != b->size || va->count != vb->count || memcmp(a->data, b->data, (size_t)a->size * 4) != 0)
        return false;
    for (int64_t i = 0; i < va->count; i++)
        if (strcmp(va->words[i], vb->words[i]) != 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!path[0]) {
        temp_template(path, sizeof path, "dz_fuzz_text_");
        int fd = mkstemp(path);
        check(fd >= 0);
        close(fd);
        atexit(remove_file);
    }
    bool gzip = data[0] & GZIP;
    int64_t max_bytes = data[1];
    const uint8_t *bytes = data + 2;
    size_t len = size - 2;

    char *text = malloc(len + 1);
    memcpy(text, bytes, len);
    text[len] = '\0';
    dz_array *corpus;
    dz_vocabulary *v;
    check(dz_text_corpus(text, &corpus, &v) == DZ_OK);
    check_corpus(corpus, v);

    write_file(path, bytes, len, gzip);
    dz_array *file_corpus = NULL;
    dz_vocabulary *file_v = NULL;
    if (dz_text_corpus_file(path, max_bytes, &file_corpus, &file_v) == DZ_OK) {
        check_corpus(file_corpus, file_v);
        bool whole = max_bytes == 0 || (size_t)max_bytes >= len;
        bool as_is = gzip || len < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b; /* else zlib decompresses it */
        check(!whole || !as_is || strlen(text) < len || same_corpus(corpus, v, file_corpus, file_v));
        dz_array_release(file_corpus);
        dz_vocabulary_free(file_v);
    } else {
        check(file_corpus == NULL && file_v == NULL);
        check(strncmp(dz_last_error(), "dz_text_corpus_file: ", 21) == 0);
    }
    dz_array_release(corpus);
    dz_vocabulary_free(v);
    free(text);
    return 0;
}

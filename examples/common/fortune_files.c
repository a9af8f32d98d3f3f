/* The text of a file or of a directory of fortune files, concatenated (see
 * fortune_files.h). */
#include "fortune_files.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A growing byte buffer with room for a final NUL. */
typedef struct {
    char *bytes;
    size_t length, capacity;
} text_buffer;

static bool buffer_reserve(text_buffer *b, size_t more)
{
    if (b->length + more + 1 <= b->capacity)
        return true;
    size_t capacity = b->capacity ? b->capacity : 1 << 16;
    while (capacity < b->length + more + 1)
        capacity *= 2;
    char *grown = realloc(b->bytes, capacity);
    if (!grown)
        return false;
    b->bytes = grown;
    b->capacity = capacity;
    return true;
}

/* Appends the file, up to `limit` bytes in all (0: no limit). */
static bool append_file(text_buffer *b, const char *path, size_t limit)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char chunk[1 << 16];
    size_t n;
    bool ok = true;
    while (ok && (!limit || b->length < limit) && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (limit && n > limit - b->length)
            n = limit - b->length;
        ok = buffer_reserve(b, n);
        if (ok) {
            memcpy(b->bytes + b->length, chunk, n);
            b->length += n;
        }
    }
    ok = ok && !ferror(f);
    fclose(f);
    return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The paths of the text files of `dir` in name order (malloc'd, *count of
 * them); *count is -1 when the directory cannot be opened. */
static char **text_files(const char *dir, int *count)
{
    *count = -1;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **paths = NULL;
    int n = 0, capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        const char *name = entry->d_name;
        if (name[0] == '.' || ends_with(name, ".dat") || ends_with(name, ".u8"))
            continue;
        size_t size = strlen(dir) + strlen(name) + 2;
        char *path = malloc(size);
        snprintf(path, size, "%s/%s", dir, name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            paths = realloc(paths, (size_t)capacity * sizeof *paths);
        }
        paths[n++] = path;
    }
    closedir(d);
    if (n > 1)
        qsort(paths, (size_t)n, sizeof *paths, by_name);
    *count = n;
    return paths;
}

char *fortune_text_read(const char *path, int64_t max_bytes, size_t *length, int *files)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    size_t limit = max_bytes > 0 ? (size_t)max_bytes : 0;
    text_buffer b = {0};
    int read = 0;
    bool ok = buffer_reserve(&b, 0);
    if (ok && S_ISDIR(st.st_mode)) {
        int count = 0;
        char **paths = text_files(path, &count);
        ok = count >= 0;
        for (int i = 0; i < count; i++) {
            if (ok && (!limit || b.length < limit)) {
                ok = append_file(&b, paths[i], limit);
                read++;
            }
            free(paths[i]);
        }
        free(paths);
    } else if (ok) {
        ok = append_file(&b, path, limit);
        read = 1;
    }
    if (!ok) {
        free(b.bytes);
        return NULL;
    }
    b.bytes[b.length] = '\0';
    *length = b.length;
    if (files)
        *files = read;
    return b.bytes;
}

/* Reading the text of Debian's fortunes package (or any text file, or any
 * directory of text files) for the examples that train on it. */
#ifndef EXAMPLES_FORTUNE_FILES_H
#define EXAMPLES_FORTUNE_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Where Debian's fortunes and fortunes-min packages put their files. */
#define FORTUNES_DIR "/usr/share/games/fortunes"

/* The text of `path`, NUL-terminated (malloc'd; *length bytes before the
 * NUL), or NULL when it cannot be read. A directory gives its text files
 * concatenated in name order: the regular files (not symbolic links) whose
 * names do not start with '.' nor end in ".dat" (the fortune index) or
 * ".u8" (a link to the same text). At most max_bytes bytes are read (0: no
 * limit); *files (may be NULL) is how many files were read. */
char *fortune_text_read(const char *path, int64_t max_bytes, size_t *length, int *files);

#endif

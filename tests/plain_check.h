/* CHECK for the test programs that run without the Check framework (one
 * case per process, or a child killed on purpose): a condition that does not
 * hold prints its message on stderr and counts in `failures`, and the program
 * goes on; its main returns failures ? 1 : 0. */
#ifndef PLAIN_CHECK_H
#define PLAIN_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fputc('\n', stderr);                                                                                   \
            failures++;                                                                                            \
        }                                                                                                          \
    } while (0)

#endif

/* DZ_API marks the functions of the public API. The library is built with
 * hidden visibility, so libdezero.so exports these and nothing else. */
#ifndef DEZERO_EXPORT_H
#define DEZERO_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define DZ_API __attribute__((visibility("default")))
#else
#define DZ_API
#endif

#endif

/* The error path: last error per thread, the user-error handler, asserts.
 * A NULL operand raised while an error is recorded, with no op succeeding
 * since, keeps that error (the operand is most likely the NULL result of the
 * call that failed), and the handler sees each recorded error once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The per-thread text buffers live on the heap, allocated at the first error
 * or shape string, so that the thread-local block stays small (see
 * DZ_THREAD_LOCAL in internal.h). */
typedef struct {
    char last_message[1024];
    char shapes[4][128]; /* dz_shape_str's rotating buffers */
    int next_shape;
} text_buffers;

static DZ_THREAD_LOCAL text_buffers *texts;
static DZ_THREAD_LOCAL dz_status last_code = DZ_OK;
static DZ_THREAD_LOCAL bool handled;                 /* the handler has seen the recorded error */
static DZ_THREAD_LOCAL unsigned error_count;         /* errors raised or failed on this thread */
static DZ_THREAD_LOCAL unsigned successes;           /* ops that succeeded on this thread */
static DZ_THREAD_LOCAL unsigned successes_at_record; /* `successes` when the error was recorded */

static void free_texts(void)
{
    free(texts);
    texts = NULL;
}

static text_buffers *thread_texts(void)
{
    if (!texts) {
        texts = dz_xcalloc(1, sizeof *texts);
        dz_at_thread_exit(free_texts);
    }
    return texts;
}

static void default_handler(dz_status code, const char *message)
{
    fprintf(stderr, "dezero: %s: %s\n", dz_status_name(code), message);
    fprintf(stderr, "dezero: aborting (call dz_set_error_handler_off() to get NULL/status returns instead)\n");
    abort();
}

static void silent_handler(dz_status code, const char *message)
{
    (void)code;
    (void)message;
}

static dz_error_handler handler = default_handler;

dz_error_handler dz_set_error_handler(dz_error_handler h)
{
    dz_error_handler old = handler;
    handler = h ? h : default_handler;
    return old;
}

dz_error_handler dz_set_error_handler_off(void) { return dz_set_error_handler(silent_handler); }

const char *dz_last_error(void) { return texts ? texts->last_message : ""; }
dz_status dz_last_error_code(void) { return last_code; }

void dz_clear_error(void)
{
    last_code = DZ_OK;
    handled = false;
    if (texts)
        texts->last_message[0] = '\0';
}

const char *dz_status_name(dz_status code)
{
    static const char *names[] = {
        "ok", "null argument", "shape error", "dtype error", "index error",
        "value error", "device error", "overflow", "state error", "out of memory",
        "I/O error", "format error", "unsupported", "CUDA error",
    };
    if ((unsigned)code < sizeof names / sizeof names[0])
        return names[code];
    return "unknown error";
}

unsigned dz_error_count(void) { return error_count; }

void dz_note_success(void) { successes++; }

static void record(dz_status code, const char *fmt, va_list ap)
{
    error_count++;
    last_code = code;
    successes_at_record = successes;
    vsnprintf(thread_texts()->last_message, sizeof texts->last_message, fmt, ap);
}

dz_status dz_raise(dz_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, fmt, ap);
    va_end(ap);
    handled = true;
    handler(code, texts->last_message);
    return code;
}

dz_status dz_raise_null_operand(const char *fmt, ...)
{
    if (last_code == DZ_OK || successes != successes_at_record) { /* this NULL is no failed call's result */
        va_list ap;
        va_start(ap, fmt);
        record(DZ_ERR_NULL, fmt, ap);
        va_end(ap);
        handled = false;
    } else {
        error_count++;
    }
    if (!handled) { /* a new error, or an environment error the handler has not seen */
        handled = true;
        handler(last_code, texts->last_message);
    }
    return last_code;
}

dz_status dz_fail(dz_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, fmt, ap);
    va_end(ap);
    handled = false;
    return code;
}

dz_status dz_reword_error(const char *fmt, ...)
{
    dz_status code = last_code;
    va_list ap;
    va_start(ap, fmt);
    record(code, fmt, ap);
    va_end(ap);
    return code;
}

const char *dz_shape_str(int ndim, const int64_t *shape)
{
    text_buffers *t = thread_texts();
    char *buf = t->shapes[t->next_shape];
    t->next_shape = (t->next_shape + 1) % 4;
    if (ndim < 0 || ndim > DZ_MAX_NDIM || (ndim > 0 && !shape)) /* a bad argument being reported */
        return strcpy(buf, "(?)");
    return dz_shape_format(ndim, shape, buf, sizeof t->shapes[0]);
}

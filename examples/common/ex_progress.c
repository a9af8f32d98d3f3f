/* The progress line of a training loop: on a terminal, one line rewritten in
 * place (at most every 0.1 s) with the epoch, the step, the running loss, the
 * throughput and the time left; nothing when not on a terminal. */
#include <unistd.h>

#include "ex.h"

#define EX_REDRAW_SECONDS 0.1

void ex_progress_start(ex_progress *p, int first_epoch, int epochs, int64_t steps_per_epoch, const char *unit)
{
    *p = (ex_progress){.first_epoch = first_epoch, .epochs = epochs, .steps = steps_per_epoch, .unit = unit};
    p->tty = isatty(STDERR_FILENO) ? stderr : isatty(STDOUT_FILENO) ? stdout : NULL;
    p->start = p->epoch_start = ex_now();
}

void ex_progress_epoch(ex_progress *p)
{
    p->epoch_start = ex_now();
    p->items = 0;
}

/* "0:42", "1:02:03" */
static void format_duration(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void ex_progress_step(ex_progress *p, int epoch, int64_t step, int64_t items, double loss)
{
    p->items += items;
    double now = ex_now();
    if (!p->tty || (now - p->last_draw < EX_REDRAW_SECONDS && step < p->steps))
        return;
    p->last_draw = now;
    /* counted from this run's first epoch, as the time is */
    double done = (double)(epoch - p->first_epoch) * (double)p->steps + (double)step;
    double left = (double)(p->epochs - p->first_epoch + 1) * (double)p->steps - done;
    double rate = now > p->epoch_start ? (double)p->items / (now - p->epoch_start) : 0;
    char eta[32];
    format_duration((now - p->start) / done * left, eta, sizeof eta);
    /* \033[K erases what a longer previous line left on the right */
    fprintf(p->tty, "\repoch %d/%d  step %lld/%lld  loss %.4f  %.0f %s/s  ETA %s\033[K", epoch, p->epochs,
            (long long)step, (long long)p->steps, loss, rate, p->unit, eta);
    fflush(p->tty);
    p->drawn = true;
}

void ex_progress_clear(ex_progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", p->tty);
    fflush(p->tty);
    p->drawn = false;
}

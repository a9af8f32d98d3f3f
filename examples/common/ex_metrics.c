/* Per-epoch metrics: a table on stdout and metrics.csv in the output
 * directory (continued by a resumed run); gnuplot scripts written next to their CSV files and run when
 * gnuplot is on PATH (loss.png from metrics.csv, and any other plot). */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ex.h"

extern char **environ;

/* ---- the table and the CSV ---------------------------------------------------- */

static int column_width(const ex_column *c)
{
    int len = (int)strlen(c->name);
    return len > 8 ? len : 8;
}

/* The table's heading on stdout. */
static void print_heading(const ex_metrics *m)
{
    printf("epoch");
    for (int i = 0; i < m->ncolumns; i++)
        printf("  %*s", column_width(&m->columns[i]), m->columns[i].name);
    printf("\n");
    fflush(stdout);
}

/* The CSV header "epoch,<columns>" into buf. */
static void csv_header(const ex_metrics *m, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "epoch");
    for (int i = 0; i < m->ncolumns && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, ",%s", m->columns[i].name);
}

static void init(ex_metrics *m, const char *program, const char *dir, int epochs, int ncolumns,
                 const ex_column *columns)
{
    *m = (ex_metrics){.program = program, .dir = dir, .ncolumns = ncolumns, .columns = columns,
                      .print_every = 1, .epochs = epochs};
    ex_path(m->csv_path, sizeof m->csv_path, dir, "metrics.csv");
}

static bool cannot_write(const ex_metrics *m)
{
    fprintf(stderr, "%s: cannot write %s: %s\n", m->program, m->csv_path, strerror(errno));
    return false;
}

bool ex_metrics_open(ex_metrics *m, const char *program, const char *dir, int epochs, int ncolumns,
                     const ex_column *columns)
{
    init(m, program, dir, epochs, ncolumns, columns);
    m->csv = fopen(m->csv_path, "w");
    if (!m->csv)
        return cannot_write(m);
    char header[1024];
    csv_header(m, header, sizeof header);
    fprintf(m->csv, "%s\n", header);
    fflush(m->csv);
    print_heading(m);
    return true;
}

/* The whole file as a string (NULL when it cannot be read). */
static char *read_text(FILE *f)
{
    size_t len = 0, size = 4096;
    char *text = malloc(size);
    for (size_t n; text && (n = fread(text + len, 1, size - len - 1, f)) > 0;) {
        len += n;
        char *bigger = len + 1 == size ? realloc(text, size *= 2) : text;
        if (!bigger)
            free(text);
        text = bigger;
    }
    if (text)
        text[len] = '\0';
    return text;
}

/* Replaces m->csv_path by `text`, atomically: written to a temporary file
 * next to it, then renamed over it, so that an interrupted run leaves the
 * old file or the new one. */
static bool replace_csv(const ex_metrics *m, const char *text)
{
    char tmp[sizeof m->csv_path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->csv_path);
    FILE *f = fopen(tmp, "w");
    bool written = f && fputs(text, f) >= 0;
    written = f && fclose(f) == 0 && written;
    if (written && rename(tmp, m->csv_path) == 0)
        return true;
    int err = errno;
    remove(tmp);
    errno = err;
    return false;
}

/* Keeps, in place, the header and the rows of epochs up to `done`; returns
 * the number of rows dropped. */
static int keep_rows(char *text, int done)
{
    char *out = strchr(text, '\n');
    if (!out)
        return 0;
    out++;
    int dropped = 0;
    for (char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        len += line[len] == '\n';
        if (strtol(line, NULL, 10) <= done) {
            memmove(out, line, len);
            out += len;
        } else {
            dropped++;
        }
        line += len;
    }
    *out = '\0';
    return dropped;
}

bool ex_metrics_resume(ex_metrics *m, const char *program, const char *dir, int epochs, int ncolumns,
                       const ex_column *columns, int done)
{
    init(m, program, dir, epochs, ncolumns, columns);
    FILE *old = fopen(m->csv_path, "r");
    if (!old)
        return ex_metrics_open(m, program, dir, epochs, ncolumns, columns);
    char *text = read_text(old), header[1024];
    fclose(old);
    csv_header(m, header, sizeof header);
    size_t hlen = strlen(header);
    if (!text || strncmp(text, header, hlen) != 0 || text[hlen] != '\n') {
        fprintf(stderr, "%s: cannot append to %s: its header is not %s\n", program, m->csv_path, header);
        free(text);
        return false;
    }
    int dropped = keep_rows(text, done);
    bool replaced = !dropped || replace_csv(m, text);
    free(text);
    m->csv = replaced ? fopen(m->csv_path, "a") : NULL;
    if (!m->csv)
        return cannot_write(m);
    if (dropped)
        printf("%s: dropped %d row(s) of epochs after %d (the checkpoint's) from %s\n", program, dropped, done,
               m->csv_path);
    print_heading(m);
    return true;
}

void ex_metrics_row(ex_metrics *m, ex_progress *p, int epoch, const double *values)
{
    fprintf(m->csv, "%d", epoch);
    for (int i = 0; i < m->ncolumns; i++)
        fprintf(m->csv, ",%.9g", values[i]);
    fputc('\n', m->csv);
    fflush(m->csv);
    if (epoch % m->print_every != 0 && epoch != m->epochs)
        return;
    if (p)
        ex_progress_clear(p);
    printf("%5d", epoch);
    for (int i = 0; i < m->ncolumns; i++)
        printf("  %*.*f", column_width(&m->columns[i]), m->columns[i].decimals, values[i]);
    printf("\n");
    fflush(stdout);
}

/* `plot` of the columns drawn in one panel, into buf. */
static void panel_plot(const ex_metrics *m, ex_panel panel, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "plot ");
    const char *sep = "";
    for (int i = 0; i < m->ncolumns && len < size; i++)
        if (m->columns[i].panel == panel) {
            len += (size_t)snprintf(buf + len, size - len,
                                    "%sdir.\"metrics.csv\" skip 1 using 1:%d with %s title \"%s\"", sep, i + 2,
                                    m->epochs > 30 ? "lines lw 2" : "linespoints lw 2 pt 7", m->columns[i].name);
            sep = ", \\\n     ";
        }
    if (len < size)
        snprintf(buf + len, size - len, "\n");
}

void ex_metrics_close(ex_metrics *m)
{
    fclose(m->csv);
    m->csv = NULL;
    bool accuracy = false;
    for (int i = 0; i < m->ncolumns; i++)
        accuracy |= m->columns[i].panel == EX_ACCURACY_PANEL;
    char loss[2048], acc[2048] = "", body[8192];
    panel_plot(m, EX_LOSS_PANEL, loss, sizeof loss);
    if (accuracy)
        panel_plot(m, EX_ACCURACY_PANEL, acc, sizeof acc);
    /* a range of one epoch (and one value) would be empty */
    snprintf(body, sizeof body,
             "set multiplot layout 1,%d title \"%s\"\n"
             "set xrange [0:%d]\n"
             "%s"
             "set xlabel \"epoch\"\n"
             "set grid\n"
             "set title \"loss\"\n"
             "%s"
             "%s%s%s"
             "unset multiplot\n",
             accuracy ? 2 : 1, m->program, m->epochs, m->epochs == 1 ? "set yrange [0:*]\n" : "", loss,
             accuracy ? "set title \"accuracy\"\n" : "", accuracy ? "set key bottom right\n" : "", acc);
    ex_plot(m->dir, "loss.gp", "loss.png", accuracy ? 1000 : 600, 400, body);
}

/* ---- gnuplot ---------------------------------------------------------------------- */

/* The full path of an executable on PATH into buf, or false. */
static bool find_on_path(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && snprintf(buf, size, "%.*s/%s", (int)len, path, name) < (int)size &&
            access(buf, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* The preamble of every script: the directory of the script itself (so that
 * `gnuplot runs/spiral/loss.gp` works from any directory), the terminal, the
 * output and the CSV separator. */
static const char preamble[] =
    "d = ARG0; i = strlen(d)\n"
    "while (i > 0 && d[i:i] ne \"/\") { i = i - 1 }\n"
    "dir = i > 0 ? d[1:i] : \"\"\n"
    "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) { set terminal pngcairo size %d,%d } "
    "else { set terminal png size %d,%d }\n"
    "set termoption noenhanced\n"
    "set output dir.\"%s\"\n"
    "set datafile separator \",\"\n";

static bool write_script(const char *path, const char *image, int width, int height, const char *body)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    fprintf(f, "# Draws %s from the CSV files next to this script: gnuplot %s\n", image, path);
    fprintf(f, preamble, width, height, width, height, image);
    fputs(body, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

bool ex_plot(const char *dir, const char *script, const char *image, int width, int height, const char *body)
{
    char script_path[4096], image_path[4096], gnuplot[4096];
    ex_path(script_path, sizeof script_path, dir, script);
    ex_path(image_path, sizeof image_path, dir, image);
    if (!write_script(script_path, image, width, height, body))
        return false;
    if (!find_on_path("gnuplot", gnuplot, sizeof gnuplot)) {
        printf("gnuplot is not on PATH, so %s was not drawn: install gnuplot (Debian: gnuplot-nox) and run "
               "gnuplot %s\n", image_path, script_path);
        return true;
    }
    fflush(stdout);
    pid_t pid;
    char *argv[] = {gnuplot, script_path, NULL};
    int err = posix_spawn(&pid, gnuplot, NULL, NULL, argv, environ), status = 0;
    if (err != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "gnuplot %s failed (%s)\n", script_path, err ? strerror(err) : "see its message above");
        return false;
    }
    printf("wrote %s (gnuplot %s)\n", image_path, script_path);
    return true;
}

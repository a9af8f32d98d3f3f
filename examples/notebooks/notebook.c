/* The notebook programs' command line, cell headers and printing (notebook.h). */
#include "notebook.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out, const char *program, const char *about, bool takes_weights)
{
    fprintf(out, "usage: %s [--output-dir DIR]%s\n%s\n\n", program, takes_weights ? " [--weights FILE]" : "", about);
    fprintf(out, "  --output-dir DIR  where the program writes its files (default: .)\n");
    if (takes_weights)
        fprintf(out, "  --weights FILE    the .npz holding the starting weights as \"weight\"\n"
                     "                    (default: %s)\n", NOTEBOOK_DEFAULT_WEIGHTS);
    fprintf(out, "  --help            print this and exit\n");
}

notebook_options notebook_parse(int argc, char **argv, const char *about, bool takes_weights)
{
    notebook_options opt = {.output_dir = ".", .weights = takes_weights ? NOTEBOOK_DEFAULT_WEIGHTS : NULL};
    const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                      {"output-dir", required_argument, NULL, 'o'},
                                      {"weights", required_argument, NULL, 'w'},
                                      {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout, argv[0], about, takes_weights);
            exit(0);
        } else if (c == 'o') {
            opt.output_dir = optarg;
        } else if (c == 'w' && takes_weights) {
            opt.weights = optarg;
        } else {
            if (c == 'w')
                fprintf(stderr, "%s: this notebook starts from no weights file (no --weights)\n", argv[0]);
            usage(stderr, argv[0], about, takes_weights);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr, argv[0], about, takes_weights);
        exit(2);
    }
    return opt;
}

void notebook_cell(const char *code)
{
    static int count;
    printf("# In[%d]: %s\n", ++count, code);
}

void notebook_show(const dz_variable *v)
{
    dz_array_print(v->data, stdout);
}

void notebook_show_variable(const dz_variable *v)
{
    dz_variable_print(v, stdout);
}

dz_array *notebook_load_weights(const char *path)
{
    dz_npz *z;
    if (dz_npz_load(path, &z) != DZ_OK) {
        fprintf(stderr, "cannot read the weights: %s\n", dz_last_error());
        exit(1);
    }
    dz_array *weight = dz_array_retain(dz_npz_get(z, "weight"));
    dz_npz_free(z);
    if (!weight) {
        fprintf(stderr, "%s holds no array named \"weight\"\n", path);
        exit(1);
    }
    return weight;
}

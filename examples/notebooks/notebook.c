/* The notebook programs' options, cell headers and printing (notebook.h). */
#include "notebook.h"

#include <stdio.h>
#include <stdlib.h>

notebook_options notebook_parse(const char *name, const char *about, bool takes_weights, int argc, char **argv)
{
    ex_common common = {.output_dir = "."};
    const char *weights = NOTEBOOK_DEFAULT_WEIGHTS;
    const ex_option options[] = {
        EX_OUTPUT_DIR_OPTION(&common),
        EX_STRING_OPTION("weights", &weights, "FILE", "the .npz holding the starting weights as \"weight\"", NULL),
    };
    ex_parse(&(ex_program){name, about, takes_weights ? 2 : 1, options}, argc, argv);
    if (!ex_setup(&common))
        exit(1);
    return (notebook_options){common.output_dir, takes_weights ? weights : NULL};
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
    if (dz_npz_load(path, &z) != DZ_OK)
        exit(ex_fail());
    dz_array *weight = dz_array_retain(dz_npz_get(z, "weight"));
    dz_npz_free(z);
    if (!weight) {
        fprintf(stderr, "%s holds no array named \"weight\"\n", path);
        exit(1);
    }
    return weight;
}

dz_layer *notebook_seeded_embedding(const dz_array *seeded, const dz_embedding_options *opt)
{
    dz_array *weights = dz_array_copy(seeded);
    dz_layer *embedding = dz_embedding_layer_from_pretrained(weights, false, opt);
    dz_array_release(weights); /* the layer holds its own reference */
    return embedding;
}

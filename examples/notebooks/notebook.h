/* What the notebook programs share: their options (--output-dir, and
 * --weights for those that start from PyTorch's seeded weights), parsed as
 * every example's are (common/ex.h), the "# In[n]: code" header before each
 * cell's output, loading the fixed weights a PyTorch notebook starts from,
 * and an embedding layer around a copy of them. Each program prints what its
 * notebook printed, cell by cell, in NumPy's print format. */
#ifndef NOTEBOOK_H
#define NOTEBOOK_H

#include <stdbool.h>

#include "common/ex.h"

/* The default --weights: nn.Embedding(10, 3)'s weight after torch.manual_seed(0),
 * written by tests/fixtures/make_notebook_fixtures.py, relative to the source root. */
#define NOTEBOOK_DEFAULT_WEIGHTS "tests/fixtures/notebooks/embedding_weights.npz"

typedef struct notebook_options {
    const char *output_dir; /* where files are written, made with its parents; "." by default */
    const char *weights;    /* the .npz holding "weight"; only when asked for */
} notebook_options;

/* Parses the command line with ex_parse: --help prints `about` and the
 * options and exits 0, a bad option or argument exits 2. --weights is an
 * option only when `takes_weights`. Then makes the output directory (exits 1
 * when it cannot). `name` is the program's, for --help and messages. */
notebook_options notebook_parse(const char *name, const char *about, bool takes_weights, int argc, char **argv);

/* Prints "# In[n]: code", n counting from 1. */
void notebook_cell(const char *code);

/* print(v.data) (or print(t.detach().numpy()) for a tensor): NumPy's str()
 * of v's array and a newline. */
void notebook_show(const dz_variable *v);

/* print(v) for a DeZero Variable: "variable(...)". */
void notebook_show_variable(const dz_variable *v);

/* The "weight" array of the .npz at `path`; exits 1 with the reason when the
 * file cannot be read or has no such array. */
dz_array *notebook_load_weights(const char *path);

/* nn.Embedding(10, 3, ...) after torch.manual_seed(0): an Embedding layer
 * whose W is a copy of `seeded` (which stays as it is), with `opt` (NULL: the
 * defaults). */
dz_layer *notebook_seeded_embedding(const dz_array *seeded, const dz_embedding_options *opt);

#endif

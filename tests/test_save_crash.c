/* Saves survive kill -9: a child saves a model over and over, each time with
 * every weight set to the save's number, and is killed at a random moment.
 * After each kill the target must load, hold one whole save (every weight
 * equal), and at most the killed writer's temporary file may lie beside it;
 * the next save removes that one, so none pile up. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dezero/dezero.h"
#include "plain_check.h"

#define ROUNDS 40
#define MAX_LIFE_US 40000 /* a child lives up to this long before the kill */

/* A model big enough that a save takes a while: W (256, 512), b (512,). */
static dz_layer *make_model(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    return dz_linear_layer_new(512, 256, false, DZ_F32, &rng);
}

static void fill(dz_layer *model, double value)
{
    dz_param_list *list = dz_layer_params(model);
    for (int i = 0; i < list->count; i++) {
        dz_array *a = list->params[i]->data;
        for (int64_t k = 0; k < a->size; k++)
            dz_array_set(a, k, value);
    }
    dz_param_list_free(list);
}

/* The child: save forever, save n holding the value n. */
static _Noreturn void keep_saving(const char *path)
{
    dz_layer *model = make_model();
    for (int n = 1;; n++) {
        fill(model, n);
        if (dz_layer_save_weights(model, path, n % 2 == 0) != DZ_OK) {
            fprintf(stderr, "save failed: %s\n", dz_last_error());
            _exit(2);
        }
    }
}

/* Every weight in the file at `path` has one value. */
static void check_target(const char *path, int round)
{
    dz_layer *model = make_model();
    dz_status st = dz_layer_load_weights(model, path);
    CHECK(st == DZ_OK, "round %d: the target does not load: %s", round, dz_last_error());
    dz_param_list *list = dz_layer_params(model);
    double first = dz_array_get(list->params[0]->data, 0);
    for (int i = 0; st == DZ_OK && i < list->count; i++) {
        const dz_array *a = list->params[i]->data;
        for (int64_t k = 0; k < a->size; k++)
            if (dz_array_get(a, k) != first) {
                CHECK(false, "round %d: %s[%lld] = %g but [0] = %g: a torn save", round, list->paths[i],
                      (long long)k, dz_array_get(a, k), first);
                break;
            }
    }
    dz_param_list_free(list);
    dz_layer_free(model);
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void remove_all(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/dz_save_crash_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/model.npz", dir);
    dz_layer *model = make_model();
    fill(model, 0);
    CHECK(dz_layer_save_weights(model, path, false) == DZ_OK, "first save: %s", dz_last_error());
    srand((unsigned)time(NULL));
    int killed_mid_save = 0;
    for (int round = 0; round < ROUNDS && !failures; round++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            keep_saving(path);
        usleep((useconds_t)(rand() % MAX_LIFE_US));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status), "round %d: the saving child ended by itself (status %d)", round, status);
        int temps = count_temps(dir);
        killed_mid_save += temps;
        CHECK(temps <= 1, "round %d: %d temporary files beside the target", round, temps);
        check_target(path, round);
    }
    CHECK(dz_layer_save_weights(model, path, false) == DZ_OK, "last save: %s", dz_last_error());
    CHECK(count_temps(dir) == 0, "the last save left %d temporary files", count_temps(dir));
    printf("%d rounds, %d killed in the middle of a save\n", ROUNDS, killed_mid_save);
    dz_layer_free(model);
    remove_all(dir);
    return failures ? 1 : 0;
}

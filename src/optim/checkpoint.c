/* Checkpoints: a model's weights, an optimizer's state, a scheduler's
 * counters, a generator's state and a data loader's place in its epoch, in
 * one .npz (the keys are listed in include/dezero/checkpoint.h). Loading
 * checks every part first, then changes everything at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/host_view.h"
#include "../data/dataloader_internal.h"
#include "../io/npz_internal.h"
#include "../layers/layer_internal.h"
#include "optimizer_internal.h"
#include "dezero/checkpoint.h"
#include "scheduler_internal.h"

#define FORMAT_VERSION 1

/* ---- saving ---- */

static dz_status add_array(dz_npz *z, const char *prefix, const char *name, dz_array *a)
{
    char *key = dz_xformat("%s%s", prefix, name);
    dz_status status = a ? dz_npz_add(z, key, a) : DZ_ERR_NOMEM;
    free(key);
    dz_array_release(a);
    return status;
}

static dz_array *int64_array(int ndim, int64_t len, const int64_t *values)
{
    return dz_array_from_buffer(DZ_I64, ndim, &len, values);
}

static dz_status add_int(dz_npz *z, const char *prefix, const char *name, int64_t value)
{
    return add_array(z, prefix, name, int64_array(0, 1, &value));
}

static dz_status add_double(dz_npz *z, const char *prefix, const char *name, double value)
{
    return add_array(z, prefix, name, dz_array_scalar(DZ_F64, value));
}

static dz_status add_text(dz_npz *z, const char *prefix, const char *name, const char *text)
{
    int64_t len = (int64_t)strlen(text);
    return add_array(z, prefix, name, dz_array_from_buffer(DZ_U8, 1, &len, text));
}

static dz_status add_model(const char *path, dz_npz *z, const dz_layer *model)
{
    dz_param_list *list = dz_layer_params(model);
    dz_status status = DZ_OK;
    for (int i = 0; i < list->count && status == DZ_OK; i++) {
        const dz_array *data = list->params[i]->data;
        if (!data) {
            status = dz_fail(DZ_ERR_STATE, "dz_checkpoint_save: %s: parameter '%s' is not initialised yet (run a "
                             "forward pass first); nothing was written", path, list->paths[i]);
            break;
        }
        char *key = dz_xformat("model/%s", list->paths[i]);
        status = dz_npz_add(z, key, data); /* saving reads a device array through a host view */
        free(key);
    }
    dz_param_list_free(list);
    return status;
}

static dz_status add_optimizer(dz_npz *z, const dz_optimizer *opt)
{
    dz_npz *state = dz_npz_new();
    dz_status status = dz_optimizer_state_to_npz(opt, state);
    for (int i = 0; i < dz_npz_count(state) && status == DZ_OK; i++) {
        const char *name = dz_npz_name(state, i);
        status = add_array(z, "optimizer/", name, dz_array_retain(dz_npz_get(state, name)));
    }
    dz_npz_free(state);
    return status == DZ_OK ? add_text(z, "optimizer/", "type", opt->ops->name) : status;
}

static dz_status add_scheduler(dz_npz *z, const char *prefix, const dz_scheduler *s)
{
    double hyper[3] = {(double)s->n, s->a, s->b};
    int64_t three = 3;
    dz_status status = add_text(z, prefix, "type", dz_scheduler_name(s));
    if (status == DZ_OK)
        status = add_array(z, prefix, "hyper", dz_array_from_buffer(DZ_F64, 1, &three, hyper));
    if (status == DZ_OK)
        status = add_double(z, prefix, "base_lr", s->base_lr);
    if (status == DZ_OK)
        status = add_double(z, prefix, "last_lr", s->last_lr);
    if (status == DZ_OK)
        status = add_int(z, prefix, "last_epoch", s->last_epoch);
    if (status == DZ_OK)
        status = add_int(z, prefix, "step_count", s->step_count);
    if (status == DZ_OK && s->kind == DZ_SCHEDULER_SEQUENTIAL)
        status = add_array(z, prefix, "milestones", int64_array(1, s->nchildren - 1, s->milestones));
    for (int i = 0; i < s->nchildren && status == DZ_OK; i++) {
        char *child = dz_xformat("%s%d/", prefix, i);
        status = add_scheduler(z, child, s->children[i]);
        free(child);
    }
    return status;
}

static dz_status add_rng(dz_npz *z, const dz_rng *rng)
{
    int64_t words[4];
    memcpy(words, rng->s, sizeof words); /* the uint64 words as int64 bit patterns */
    dz_status status = add_array(z, "rng/", "state", int64_array(1, 4, words));
    if (status == DZ_OK)
        status = add_double(z, "rng/", "spare_normal", rng->spare_normal);
    return status == DZ_OK ? add_int(z, "rng/", "has_spare", rng->has_spare != 0) : status;
}

static dz_status add_loader(const char *path, dz_npz *z, const dz_dataloader *loader)
{
    const dz_array *order = dz_dataloader_order(loader);
    if (!order)
        return dz_fail(DZ_ERR_STATE, "dz_checkpoint_save: %s: the loader could not start its epoch (out of memory); "
                       "nothing was written", path);
    dz_status status = dz_npz_add(z, "loader/order", order);
    if (status == DZ_OK)
        status = add_int(z, "loader/", "position", dz_dataloader_position(loader));
    return status == DZ_OK ? add_int(z, "loader/", "batch_size", dz_dataloader_batch_size(loader)) : status;
}

/* The arguments both calls share: model required, a scheduler with its
 * optimizer, and the root of a SequentialLR rather than a part. */
static dz_status check_arguments(const char *op, const char *path, const dz_checkpoint *c)
{
    if (!path || !c)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !path ? "path" : "the checkpoint");
    if (!c->model)
        return dz_raise_null_operand("%s: the checkpoint's model is NULL", op);
    const dz_scheduler *s = c->scheduler;
    if (s && s->opt != c->optimizer)
        return dz_raise(DZ_ERR_VALUE, "%s: %s; a checkpoint holds a scheduler with its optimizer", op,
                        c->optimizer ? "the scheduler is attached to another optimizer than the checkpoint's"
                                     : "the checkpoint has a scheduler but no optimizer");
    if (s && s->owner)
        return dz_raise(DZ_ERR_VALUE, "%s: the scheduler is part of a SequentialLR; give the SequentialLR", op);
    return DZ_OK;
}

dz_status dz_checkpoint_save(const char *path, const dz_checkpoint *c)
{
    const char *op = "dz_checkpoint_save";
    dz_status status = check_arguments(op, path, c);
    if (status != DZ_OK)
        return status;
    dz_npz *z = dz_npz_new();
    status = add_int(z, "", "format_version", FORMAT_VERSION);
    if (status == DZ_OK)
        status = add_int(z, "", "epoch", c->epoch);
    if (status == DZ_OK)
        status = add_int(z, "", "step", c->step);
    if (status == DZ_OK)
        status = add_model(path, z, c->model);
    if (status == DZ_OK && c->optimizer)
        status = add_optimizer(z, c->optimizer);
    if (status == DZ_OK && c->scheduler)
        status = add_scheduler(z, "scheduler/", c->scheduler);
    if (status == DZ_OK && c->rng)
        status = add_rng(z, c->rng);
    if (status == DZ_OK && c->loader)
        status = add_loader(path, z, c->loader);
    if (status == DZ_OK)
        status = dz_npz_save_as(op, z, path, false);
    else if (status == DZ_ERR_NOMEM)
        status = dz_fail_under(op, status);
    dz_npz_free(z);
    return status;
}

/* ---- loading: every part is read and checked into a `pending`, then
 * committed at once ---- */

typedef struct {
    dz_scheduler *s;
    double base_lr, last_lr;
    int64_t last_epoch, step_count;
} scheduler_values;

typedef struct {
    const char *op, *path;
    const dz_npz *z;
    dz_weights_load model;
    dz_optimizer_state_load optimizer;
    scheduler_values *schedulers; /* the root, then its parts */
    int nschedulers;
    dz_rng rng;
    dz_array *order;
    int64_t position, epoch, step;
} pending;

/* The array `key` of the file, with `dtype` and `ndim` axes (and `len`
 * entries when 1-d); NULL after a failure. */
static const dz_array *need(const pending *p, const char *key, dz_dtype dtype, int ndim, int64_t len)
{
    const dz_array *a = dz_npz_get(p->z, key);
    if (!a) {
        dz_fail(DZ_ERR_FORMAT, "%s: %s has no '%s'; the checkpoint was saved without it, or is not a checkpoint",
                p->op, p->path, key);
        return NULL;
    }
    if (a->dtype != dtype || a->ndim != ndim || (ndim == 1 && a->shape[0] != len)) {
        char want[32];
        snprintf(want, sizeof want, ndim == 0 ? "()" : "(%lld,)", (long long)len);
        dz_fail(DZ_ERR_FORMAT, "%s: %s: '%s' is %s %s; a checkpoint has %s %s there", p->op, p->path, key,
                dz_dtype_name(a->dtype), DZ_SHAPE_OF(a), dz_dtype_name(dtype), want);
        return NULL;
    }
    return a;
}

/* The int64 values of `a` (exact, unlike dz_array_get). */
static void read_ints(const dz_array *a, int64_t *out)
{
    dz_host_view view;
    const void *values = dz_host_view_read(&view, a);
    memcpy(out, values, (size_t)a->size * sizeof *out);
    dz_host_view_close(&view);
}

static bool need_int(const pending *p, const char *prefix, const char *name, int64_t min, int64_t *out)
{
    char *key = dz_xformat("%s%s", prefix, name);
    const dz_array *a = need(p, key, DZ_I64, 0, 1);
    if (a)
        read_ints(a, out);
    bool ok = a && *out >= min;
    if (a && !ok)
        dz_fail(DZ_ERR_FORMAT, "%s: %s: '%s' is %lld; it must be %lld or more", p->op, p->path, key,
                (long long)*out, (long long)min);
    free(key);
    return ok;
}

static bool need_double(const pending *p, const char *prefix, const char *name, double *out)
{
    char *key = dz_xformat("%s%s", prefix, name);
    const dz_array *a = need(p, key, DZ_F64, 0, 1);
    free(key);
    if (a)
        *out = dz_array_get(a, 0);
    return a != NULL;
}

/* The text `<prefix>type` of the file is `want` (the type of an optimizer or
 * scheduler). */
static bool need_text(const pending *p, const char *prefix, const char *what, const char *want)
{
    char *key = dz_xformat("%stype", prefix), got[64] = "";
    const dz_array *a = dz_npz_get(p->z, key);
    if (!a)
        dz_fail(DZ_ERR_FORMAT, "%s: %s has no '%s': the checkpoint was saved without %s state; pass NULL for "
                "it, or load a checkpoint that has it", p->op, p->path, key, what);
    free(key);
    if (!a)
        return false;
    if (a->dtype == DZ_U8 && a->ndim == 1 && a->size < (int64_t)sizeof got) {
        dz_host_view view;
        memcpy(got, dz_host_view_read(&view, a), (size_t)a->size);
        dz_host_view_close(&view);
        if (strcmp(got, want) == 0)
            return true;
    }
    dz_fail(DZ_ERR_FORMAT, "%s: %s holds the state of the %s '%s' but the %s given is %s; build the %s the "
            "checkpoint was saved with", p->op, p->path, what, got, what, want, what);
    return false;
}

/* The data each parameter of `opt` has once the model part is committed:
 * the array read for it when it is the model's (a lazy parameter not created
 * yet gets one too), else its data now. */
static const dz_array **optimizer_targets(const pending *p, const dz_optimizer *opt)
{
    const dz_array **targets = dz_xcalloc((size_t)opt->nparams + 1, sizeof *targets);
    const dz_param_list *list = p->model.list;
    for (int i = 0; i < opt->nparams; i++) {
        targets[i] = opt->params[i]->data;
        for (int k = 0; k < list->count; k++)
            if (list->params[k] == opt->params[i])
                targets[i] = p->model.loaded[k];
    }
    return targets;
}

static bool read_optimizer(pending *p, const dz_optimizer *opt)
{
    if (!need_text(p, "optimizer/", "optimizer", opt->ops->name))
        return false;
    char who[DZ_OPTIM_WHO_MAX];
    snprintf(who, sizeof who, "%s: optimizer (%s)", p->op, opt->ops->name);
    const dz_array **targets = optimizer_targets(p, opt);
    dz_status status = dz_optimizer_prepare_state(p->op, who, opt, targets, p->path, p->z, "optimizer/",
                                                  &p->optimizer);
    free(targets);
    return status == DZ_OK;
}

/* The array `<prefix><name>` of the file, as need() gives it. */
static const dz_array *need_under(const pending *p, const char *prefix, const char *name, dz_dtype dtype,
                                  int ndim, int64_t len)
{
    char *key = dz_xformat("%s%s", prefix, name);
    const dz_array *a = need(p, key, dtype, ndim, len);
    free(key);
    return a;
}

static bool read_scheduler(pending *p, const char *prefix, dz_scheduler *s)
{
    if (!need_text(p, prefix, "scheduler", dz_scheduler_name(s)))
        return false;
    const dz_array *hyper = need_under(p, prefix, "hyper", DZ_F64, 1, 3);
    if (!hyper)
        return false;
    double h[3] = {dz_array_get(hyper, 0), dz_array_get(hyper, 1), dz_array_get(hyper, 2)};
    bool same = h[0] == (double)s->n && h[1] == s->a && h[2] == s->b;
    if (s->kind == DZ_SCHEDULER_SEQUENTIAL) {
        const dz_array *m = need_under(p, prefix, "milestones", DZ_I64, 1, s->nchildren - 1);
        if (!m)
            return false;
        int64_t *milestones = dz_xcalloc((size_t)s->nchildren, sizeof *milestones);
        read_ints(m, milestones);
        same = same && memcmp(milestones, s->milestones, (size_t)(s->nchildren - 1) * sizeof *milestones) == 0;
        free(milestones);
    }
    if (!same) {
        dz_fail(DZ_ERR_FORMAT, "%s: %s: the %s in the checkpoint has other hyperparameters (or milestones) than the "
                "one given; build it as the checkpoint's run did", p->op, p->path, dz_scheduler_name(s));
        return false;
    }
    scheduler_values *v = &p->schedulers[p->nschedulers++];
    v->s = s;
    if (!need_double(p, prefix, "base_lr", &v->base_lr) || !need_double(p, prefix, "last_lr", &v->last_lr) ||
        !need_int(p, prefix, "last_epoch", -1, &v->last_epoch) || !need_int(p, prefix, "step_count", 0, &v->step_count))
        return false;
    for (int i = 0; i < s->nchildren; i++) {
        char *child = dz_xformat("%s%d/", prefix, i);
        bool read = read_scheduler(p, child, s->children[i]);
        free(child);
        if (!read)
            return false;
    }
    return true;
}

static bool read_rng(pending *p)
{
    const dz_array *state = need(p, "rng/state", DZ_I64, 1, 4);
    int64_t words[4], has_spare = 0;
    if (!state || !need_double(p, "rng/", "spare_normal", &p->rng.spare_normal) ||
        !need_int(p, "rng/", "has_spare", 0, &has_spare))
        return false;
    read_ints(state, words);
    memcpy(p->rng.s, words, sizeof words);
    p->rng.has_spare = has_spare != 0;
    return true;
}

static bool read_loader(pending *p, const dz_dataloader *loader)
{
    int64_t batch_size = 0;
    const dz_array *order = need(p, "loader/order", DZ_I64, 1, dz_dataloader_rows(loader));
    if (!order || !need_int(p, "loader/", "position", 0, &p->position) ||
        !need_int(p, "loader/", "batch_size", 1, &batch_size))
        return false;
    if (batch_size != dz_dataloader_batch_size(loader)) {
        dz_fail(DZ_ERR_FORMAT, "%s: %s was saved with batches of %lld, the loader given makes batches of %lld; "
                "build the loader as the checkpoint's run did", p->op, p->path, (long long)batch_size,
                (long long)dz_dataloader_batch_size(loader));
        return false;
    }
    if (dz_dataloader_check_place(p->op, "loader/order", loader, order, p->position) != DZ_OK)
        return false;
    p->order = dz_array_retain(dz_npz_get(p->z, "loader/order"));
    return true;
}

/* Every key of the file belongs to a part of a checkpoint. */
static bool check_keys(const pending *p)
{
    static const char *const sections[] = {"model/", "optimizer/", "scheduler/", "rng/", "loader/"};
    for (int k = 0; k < dz_npz_count(p->z); k++) {
        const char *key = dz_npz_name(p->z, k);
        bool known = strcmp(key, "format_version") == 0 || strcmp(key, "epoch") == 0 || strcmp(key, "step") == 0;
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
            known = known || strncmp(key, sections[i], strlen(sections[i])) == 0;
        if (!known) {
            dz_fail(DZ_ERR_FORMAT, "%s: %s has an array '%s' that is no part of a checkpoint", p->op, p->path, key);
            return false;
        }
    }
    return true;
}

static bool read_header(pending *p)
{
    const dz_array *version = dz_npz_get(p->z, "format_version");
    if (!version) {
        dz_fail(DZ_ERR_FORMAT, "%s: %s is not a checkpoint (no 'format_version'; a weights file? load it with "
                "dz_layer_load_weights)", p->op, p->path);
        return false;
    }
    int64_t v = 0;
    if (!need_int(p, "", "format_version", 0, &v))
        return false;
    if (v != FORMAT_VERSION) {
        dz_fail(DZ_ERR_UNSUPPORTED, "%s: %s is a checkpoint of format %lld; this library reads format %d", p->op,
                p->path, (long long)v, FORMAT_VERSION);
        return false;
    }
    return need_int(p, "", "epoch", INT64_MIN, &p->epoch) && need_int(p, "", "step", INT64_MIN, &p->step) &&
           check_keys(p);
}

static int count_schedulers(const dz_scheduler *s)
{
    int n = 1;
    for (int i = 0; i < s->nchildren; i++)
        n += count_schedulers(s->children[i]);
    return n;
}

static bool read_all(pending *p, const dz_checkpoint *c)
{
    if (!read_header(p))
        return false;
    if (dz_layer_prepare_weights(p->op, c->model, p->path, p->z, "model/", &p->model) != DZ_OK)
        return false;
    if (c->optimizer && !read_optimizer(p, c->optimizer))
        return false;
    if (c->scheduler) {
        p->schedulers = dz_xcalloc((size_t)count_schedulers(c->scheduler), sizeof *p->schedulers);
        if (!read_scheduler(p, "scheduler/", c->scheduler))
            return false;
    }
    if (c->rng && !read_rng(p))
        return false;
    return !c->loader || read_loader(p, c->loader);
}

static void commit(pending *p, dz_checkpoint *c)
{
    dz_layer_finish_weights(&p->model, true);
    if (c->optimizer)
        dz_optimizer_finish_state(c->optimizer, &p->optimizer, true);
    for (int i = 0; i < p->nschedulers; i++) {
        const scheduler_values *v = &p->schedulers[i];
        v->s->base_lr = v->base_lr;
        v->s->last_lr = v->last_lr;
        v->s->last_epoch = v->last_epoch;
        v->s->step_count = v->step_count;
    }
    if (c->rng)
        *c->rng = p->rng;
    if (c->loader)
        dz_dataloader_set_place(c->loader, p->order, p->position);
    c->epoch = p->epoch;
    c->step = p->step;
}

dz_status dz_checkpoint_load(const char *path, dz_checkpoint *c)
{
    const char *op = "dz_checkpoint_load";
    dz_status status = check_arguments(op, path, c);
    if (status != DZ_OK)
        return status;
    if (c->optimizer && c->optimizer->nparams == 0) /* before reading the file */
        return dz_raise(DZ_ERR_STATE, "%s: the %s has no parameters yet; call dz_optimizer_setup before loading a "
                        "checkpoint into it", op, c->optimizer->ops->name);
    dz_npz *z = NULL;
    status = dz_npz_load_as(op, path, &z);
    if (status != DZ_OK)
        return status;
    pending p = {.op = op, .path = path, .z = z};
    if (read_all(&p, c)) {
        commit(&p, c);
    } else { /* each check recorded why */
        status = dz_last_error_code();
        dz_layer_finish_weights(&p.model, false);
        if (c->optimizer)
            dz_optimizer_finish_state(c->optimizer, &p.optimizer, false);
    }
    free(p.schedulers);
    dz_array_release(p.order);
    dz_npz_free(z);
    return status;
}

/*
 * md_split: the football models' training split and eval file selection.
 * See md_split.h.
 */
#include "models/md_split.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

enum split_mode { SPLIT_DEFAULT, SPLIT_ALL, SPLIT_TRAIN };

static enum split_mode split_mode(void)
{
    const char *s = getenv("PITWALL_SPLIT");
    if (s && !strcmp(s, "all"))
        return SPLIT_ALL;
    if (s && !strcmp(s, "train"))
        return SPLIT_TRAIN;
    return SPLIT_DEFAULT;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* <season>_<team>_<gameId>_<playId>...: 0 with both ids, else -1. */
static int parse_ids(const char *path, unsigned long long *game, unsigned long long *play)
{
    const char *p = strchr(base_name(path), '_');
    p = p ? strchr(p + 1, '_') : NULL;
    if (p == NULL)
        return -1;
    char *end;
    errno = 0;
    *game = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1 || *end != '_')
        return -1;
    const char *q = end + 1;
    *play = strtoull(q, &end, 10);
    if (errno || end == q)
        return -1;
    return 0;
}

int md_split_held_out(const char *path, bool sack_play)
{
    unsigned long long game, play;
    if (parse_ids(path, &game, &play))
        return -1;
    return sack_play ? play % 2 == 0 : game % 5 == 0;
}

bool md_split_is_play(const char *path)
{
    return md_split_held_out(path, false) >= 0;
}

bool md_split_has_label(const pw_frames_t *f, uint32_t a, uint32_t b)
{
    size_t n = f->n * PW_FRAME_LABELS;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->label[i];
        if (id != PW_LABEL_NONE && ((a && id == a) || (b && id == b)))
            return true;
    }
    return false;
}

bool md_split_train_uses(const char *path, bool sack_play)
{
    int h = md_split_held_out(path, sack_play);
    return h == 0 || (h == 1 && split_mode() == SPLIT_ALL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int md_split_seen_load(const char *model_path, md_split_seen_t *s, pw_err_t *err)
{
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *root = json_load_file(model_path, 0, &je);
    if (root == NULL)
        return pw_err_set(err, PW_ECORRUPT, "%.400s:%d: %s", model_path, je.line, je.text);
    json_t *files = json_object_get(json_object_get(root, "training"), "files");
    if (!json_is_array(files)) {
        json_decref(root);
        return pw_err_set(err, PW_ECORRUPT, "%.400s: no training.files list", model_path);
    }
    size_t n = json_array_size(files);
    s->name = calloc(n ? n : 1, sizeof *s->name);
    if (s->name == NULL) {
        json_decref(root);
        return pw_err_set(err, -ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        const char *v = json_string_value(json_array_get(files, k));
        if (v == NULL) {
            json_decref(root);
            md_split_seen_fini(s);
            return pw_err_set(err, PW_ECORRUPT, "%.400s: training.files[%zu] is not a string",
                              model_path, k);
        }
        if ((s->name[s->n] = strdup(v)) == NULL) {
            json_decref(root);
            md_split_seen_fini(s);
            return pw_err_set(err, -ENOMEM, "out of memory");
        }
        s->n++;
    }
    json_decref(root);
    qsort(s->name, s->n, sizeof *s->name, cmp_str);
    return 0;
}

void md_split_seen_fini(md_split_seen_t *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->name[k]);
    free(s->name);
    memset(s, 0, sizeof *s);
}

static bool seen(const md_split_seen_t *s, const char *path)
{
    const char *b = base_name(path);
    return s->n && bsearch(&b, s->name, s->n, sizeof *s->name, cmp_str) != NULL;
}

bool md_split_eval_uses(const md_split_seen_t *s, const char *path)
{
    switch (split_mode()) {
    case SPLIT_ALL:
        return true;
    case SPLIT_TRAIN:
        return seen(s, path);
    default:
        return !seen(s, path);
    }
}

const char *md_split_train_desc(void)
{
    return split_mode() == SPLIT_ALL
               ? "all files"
               : "train: gameId % 5 != 0 (sack plays: playId odd)";
}

const char *md_split_eval_desc(void)
{
    switch (split_mode()) {
    case SPLIT_ALL:
        return "all files given (PITWALL_SPLIT=all)";
    case SPLIT_TRAIN:
        return "the model's training plays (PITWALL_SPLIT=train, in sample)";
    default:
        return "files the model was not fitted on";
    }
}

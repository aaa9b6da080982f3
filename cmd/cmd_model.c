/*
 * pitwall train and pitwall eval: fit a model on recorded data, or check a
 * fitted one on data it was not fitted on.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "models/md_model.h"

/* Whether a file in a data folder is its documentation (SOURCE.txt, README.md), not data. */
static bool is_doc(const char *name)
{
    size_t n = strlen(name);
    return !strncmp(name, "README", 6) || !strncmp(name, "LICENSE", 7) ||
           (n > 4 && (!strcmp(name + n - 4, ".txt") || !strcmp(name + n - 3, ".md")));
}

/*
 * Files of path: itself, or the regular files of a folder in name order,
 * leaving out hidden files and documentation (is_doc).
 */
static int expand(const char *path, char ***out, size_t *n)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode)) {
        *out = calloc(1, sizeof **out);
        if (*out == NULL || ((*out)[0] = strdup(path)) == NULL)
            return -ENOMEM;
        *n = 1;
        return 0;
    }
    struct dirent **ents = NULL;
    int k = scandir(path, &ents, NULL, alphasort);
    if (k < 0)
        return -errno;
    char **files = calloc((size_t)k + 1, sizeof *files);
    size_t m = 0;
    for (int i = 0; i < k; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, ents[i]->d_name);
        if (files && ents[i]->d_name[0] != '.' && !is_doc(ents[i]->d_name) &&
            stat(full, &st) == 0 && S_ISREG(st.st_mode))
            files[m++] = strdup(full);
        free(ents[i]);
    }
    free(ents);
    if (files == NULL)
        return -ENOMEM;
    *out = files;
    *n = m;
    return 0;
}

static void free_files(char **f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        free(f[i]);
    free(f);
}

static int model_main(const char *cmd, int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *out = NULL, *file = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--model") && has)
            model = argv[++i];
        else if (!strcmp(a, "--data") && has)
            data = argv[++i];
        else if (!strcmp(cmd, "train") && !strcmp(a, "--out") && has)
            out = argv[++i];
        else if (!strcmp(cmd, "eval") && !strcmp(a, "--file") && has)
            file = argv[++i];
        else if (!strcmp(cmd, "eval") && !strcmp(a, "--json"))
            json = 1;
        else
            return cmd_usage_error(cmd, "unknown or incomplete argument '%s'", a);
    }
    if (model == NULL || data == NULL)
        return cmd_usage_error(cmd, "--model and --data are required");
    const md_model_def_t *m = md_model_find(model);
    if (m == NULL) {
        char names[256] = "";
        for (size_t i = 0; i < md_model_count; i++) {
            size_t o = strlen(names);
            snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", md_models[i]->name);
        }
        return cmd_usage_error(cmd, "unknown model '%s' (models: %s)", model, names);
    }
    char **files = NULL;
    size_t n = 0;
    int rc = expand(data, &files, &n);
    if (rc) {
        fprintf(stderr, "pitwall %s: %s: %s\n", cmd, data, strerror(-rc));
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "pitwall %s: %s: no files\n", cmd, data);
        free_files(files, n);
        return 1;
    }
    md_gsl_init();
    pw_err_t err = {0};
    if (!strcmp(cmd, "train"))
        rc = m->train((const char *const *)files, n, out ? out : m->default_out, stdout, &err);
    else
        rc = m->eval(file ? file : m->default_out, (const char *const *)files, n, json != 0,
                     stdout, &err);
    free_files(files, n);
    if (rc) {
        fprintf(stderr, "pitwall %s: %s\n", cmd, err.msg[0] ? err.msg : pw_strerror(rc));
        return 1;
    }
    return 0;
}

int cmd_train_main(int argc, char **argv)
{
    return model_main("train", argc, argv);
}

int cmd_eval_main(int argc, char **argv)
{
    return model_main("eval", argc, argv);
}

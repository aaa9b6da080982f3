#include "cmd/app.h"

#include <stdio.h>
#include <string.h>

#include "core/pw_fs.h"
#include "store/st_conf.h"
#include "store/st_log.h"

int app_names_open(const app_conf_t *c, app_names_t *n, pw_err_t *err)
{
    memset(n, 0, sizeof *n);
    int rc = pw_intern_create(c->nchannels + APP_INTERN_SPARE, &n->channels);
    if (rc == 0)
        rc = pw_intern_create(c->nentities + APP_INTERN_SPARE, &n->entities);
    if (rc == 0)
        rc = pw_intern_create(c->nlabels + APP_INTERN_SPARE, &n->labels);
    if (rc)
        pw_err_set(err, rc, "cannot make name tables: %s", pw_strerror(rc));
    if (rc == 0)
        rc = pw_intern_add_all(n->channels, c->channels, c->nchannels, NULL, err);
    if (rc == 0)
        rc = pw_intern_add_all(n->entities, c->entities, c->nentities, NULL, err);
    if (rc == 0)
        rc = pw_intern_add_all(n->labels, c->labels, c->nlabels, NULL, err);
    if (rc)
        app_names_close(n);
    return rc;
}

void app_names_close(app_names_t *n)
{
    pw_intern_destroy(n->channels);
    pw_intern_destroy(n->entities);
    pw_intern_destroy(n->labels);
    memset(n, 0, sizeof *n);
}

void app_log_dir(const app_conf_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/log", c->data_dir ? c->data_dir : ".");
}

/* Create the configured topics that are missing. */
static int create_topics(const app_conf_t *c, pw_stream_t *s, pw_err_t *err)
{
    for (size_t i = 0; i < c->stream.ntopics; i++) {
        const st_topic_conf_t *t = &c->stream.topics[i];
        if (t->name == NULL)
            return pw_err_set(err, PW_ECONF, "stream.topics[%zu]: a topic needs a name", i);
        pw_stream_retention_t r = st_topic_conf_retention(t);
        pw_err_t e = {0};
        int rc = pw_stream_topic_create(s, t->name, (int32_t)t->partitions, &r, &e);
        if (rc == PW_EEXIST)
            continue;
        if (rc)
            return pw_err_set(err, rc, "stream.topics[%zu] '%s': %s", i, t->name, e.msg);
    }
    return 0;
}

int app_stream_open(const app_conf_t *c, int read_only, int create, pw_stream_t **out,
                    pw_err_t *err)
{
    char dir[4096];
    app_log_dir(c, dir, sizeof dir);
    if (!read_only) {
        int rc = pw_fs_mkdir_p(c->data_dir);
        if (rc)
            return pw_err_set(err, rc, "cannot make data_dir '%s': %s", c->data_dir,
                              pw_strerror(rc));
    }
    st_log_opts_t o = st_log_conf_opts(&c->log, dir);
    o.read_only = read_only != 0;
    pw_stream_t *s = NULL;
    int rc = st_stream_open_embedded(&o, &s, err);
    if (rc)
        return rc;
    if (create && (rc = create_topics(c, s, err)) != 0) {
        pw_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

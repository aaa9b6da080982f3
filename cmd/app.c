#include "cmd/app.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
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

static const char *const table_names[3] = {"channels", "entities", "labels"};

static pw_intern_t *table(app_names_t *n, int k)
{
    return k == 0 ? n->channels : k == 1 ? n->entities : n->labels;
}

/* Apply one dictionary entry; PW_ECONF when it contradicts what we hold. */
static int load_entry(app_names_t *n, const void *payload, size_t len, int64_t offset,
                      pw_err_t *err)
{
    json_error_t je;
    json_t *o = json_loadb(payload, len, 0, &je);
    json_t *t = json_object_get(o, "t"), *idv = json_object_get(o, "id");
    json_t *name = json_object_get(o, "name");
    int k = -1, rc = 0;
    for (int i = 0; i < 3 && json_is_string(t); i++)
        if (!strcmp(json_string_value(t), table_names[i]))
            k = i;
    if (!o || k < 0 || !json_is_integer(idv) || !json_is_string(name)) {
        rc = pw_err_set(err, PW_ECORRUPT, "%s offset %lld: not a dictionary entry",
                        APP_NAMES_TOPIC, (long long)offset);
        goto done;
    }
    pw_intern_t *tb = table(n, k);
    json_int_t id = json_integer_value(idv);
    size_t have = pw_intern_count(tb);
    const char *nm = json_string_value(name);
    if (id >= 1 && (size_t)id <= have) {
        if (strcmp(pw_intern_name(tb, (uint32_t)id), nm) != 0)
            rc = pw_err_set(err, PW_ECONF,
                            "the stream names %s id %lld '%s' but the configuration makes it "
                            "'%s': use the configuration the data was written with (or a new "
                            "data_dir)", table_names[k], (long long)id, nm,
                            pw_intern_name(tb, (uint32_t)id));
    } else if ((size_t)id == have + 1) {
        uint32_t got;
        rc = pw_intern_add(tb, nm, strlen(nm), &got);
        if (rc == 0 && got != (uint32_t)id)
            rc = pw_err_set(err, PW_ECONF, "%s '%s' is already id %u, the stream says %lld",
                            table_names[k], nm, got, (long long)id);
        else if (rc)
            pw_err_set(err, rc, "cannot hold %s '%s': %s", table_names[k], nm, pw_strerror(rc));
    } else {
        rc = pw_err_set(err, PW_ECORRUPT, "%s offset %lld: %s id %lld out of order (have %zu)",
                        APP_NAMES_TOPIC, (long long)offset, table_names[k], (long long)id, have);
    }
    if (rc == 0 && (uint32_t)id > n->published[k])
        n->published[k] = (uint32_t)id;
done:
    json_decref(o);
    return rc;
}

int app_names_load(app_names_t *n, pw_stream_t *s, pw_err_t *err)
{
    int64_t earliest, next;
    if (pw_stream_bounds(s, APP_NAMES_TOPIC, 0, &earliest, &next, NULL) != 0)
        return 0; /* no dictionary yet */
    if (n->next < earliest)
        n->next = earliest;
    while (n->next < next) {
        pw_stream_msg_t msgs[256];
        size_t got = 0;
        int rc = pw_stream_read(s, APP_NAMES_TOPIC, 0, n->next, msgs, 256, &got, err);
        if (rc)
            return rc;
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++) {
            rc = load_entry(n, msgs[i].payload, msgs[i].payload_len, msgs[i].offset, err);
            if (rc)
                return rc;
            n->next = msgs[i].offset + 1;
        }
    }
    return 0;
}

int app_names_publish(app_names_t *n, pw_stream_t *s, pw_err_t *err)
{
    for (int k = 0; k < 3; k++) {
        pw_intern_t *tb = table(n, k);
        uint32_t count = (uint32_t)pw_intern_count(tb);
        for (uint32_t id = n->published[k] + 1; id <= count; id++) {
            json_t *o = json_pack("{s:s, s:I, s:s}", "t", table_names[k], "id", (json_int_t)id,
                                  "name", pw_intern_name(tb, id));
            char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(o);
            if (!text)
                return pw_err_set(err, PW_ENOMEM, "cannot encode %s '%s'", table_names[k],
                                  pw_intern_name(tb, id));
            pw_stream_pos_t pos;
            int rc = pw_stream_append(s, APP_NAMES_TOPIC, 0, NULL, 0, text, strlen(text), &pos,
                                      err);
            free(text);
            if (rc)
                return rc;
            n->published[k] = id;
            n->next = pos.offset + 1;
        }
    }
    return 0;
}

int app_stream_open(const app_conf_t *c, app_names_t *names, int read_only, int create,
                    pw_stream_t **out, pw_err_t *err)
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
    if (!read_only) {
        pw_err_t e = {0};
        rc = pw_stream_topic_create(s, APP_NAMES_TOPIC, 1, NULL, &e);
        if (rc && rc != PW_EEXIST) {
            pw_stream_close(s);
            return pw_err_set(err, rc, "%s: %s", APP_NAMES_TOPIC, e.msg);
        }
    }
    /* A reader takes the stream's dictionary as it is, whatever its own
     * configuration names; a writer must agree with it. */
    int64_t e0, n0;
    if (read_only && pw_stream_bounds(s, APP_NAMES_TOPIC, 0, &e0, &n0, NULL) == 0 && n0 > e0) {
        app_names_t fresh;
        memset(&fresh, 0, sizeof fresh);
        rc = pw_intern_create(pw_intern_capacity(names->channels), &fresh.channels);
        if (rc == 0)
            rc = pw_intern_create(pw_intern_capacity(names->entities), &fresh.entities);
        if (rc == 0)
            rc = pw_intern_create(pw_intern_capacity(names->labels), &fresh.labels);
        if (rc) {
            app_names_close(&fresh);
            pw_stream_close(s);
            return pw_err_set(err, rc, "out of memory for the dictionary");
        }
        app_names_close(names);
        *names = fresh;
    }
    rc = app_names_load(names, s, err);
    if (rc == 0 && !read_only)
        rc = app_names_publish(names, s, err);
    if (rc) {
        pw_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

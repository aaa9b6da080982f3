/*
 * pitwall ingest --format F --input PATH [--dump | --to TOPIC]: decode a
 * recorded feed or file (or every file of a folder) with one of the
 * ingest decoders; print the records as JSON lines (--dump), append them
 * to a stream topic in batches (--to), or print counts, time span and rate.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/app.h"
#include "cmd/app_json.h"
#include "cmd/cmd.h"
#include "core/pw_codec.h"
#include "core/pw_time.h"
#include "ingest/ing_format.h"

#define CMD "ingest"
/* Largest input file (inflated) a decoder is handed. */
#define MAX_INPUT_BYTES ((size_t)4 << 30)
/* Most files a folder may hold. */
#define MAX_FILES 100000
/* Most channels --channels may name. */
#define MAX_CHANNELS 256

typedef struct ingest {
    const ing_format_t *fmt;
    app_names_t *names;
    int dump;
    pw_stream_t *stream;   /* --to */
    const char *topic;
    const char *key;       /* the input file: one file stays in one partition */
    pw_codec_buf_t buf;
    uint64_t batches;
    pw_err_t err;
} ingest_t;

static int append(ingest_t *g)
{
    pw_stream_pos_t pos;
    int rc = app_names_publish(g->names, g->stream, &g->err);
    if (rc == 0)
        rc = pw_stream_append(g->stream, g->topic, PW_STREAM_PARTITION_ANY, g->key,
                              strlen(g->key), g->buf.data, g->buf.len, &pos, &g->err);
    if (rc == 0) {
        g->batches++;
        rc = pw_stream_poll(g->stream, NULL, &g->err);
    }
    return rc;
}

static int on_points(void *ctx, const pw_points_t *b)
{
    ingest_t *g = ctx;
    if (g->dump) {
        for (size_t i = 0; i < b->n; i++)
            app_json_print(stdout, app_json_point(g->names, b, i));
        return ferror(stdout) ? -EPIPE : 0;
    }
    if (!g->stream)
        return 0;
    int rc = pw_codec_encode_points(&g->buf, b, &g->err);
    return rc ? rc : append(g);
}

static int on_frames(void *ctx, const pw_frames_t *b)
{
    ingest_t *g = ctx;
    if (g->dump) {
        for (size_t i = 0; i < b->n; i++)
            app_json_print(stdout, app_json_frame(g->names, b, i));
        return ferror(stdout) ? -EPIPE : 0;
    }
    if (!g->stream)
        return 0;
    int rc = pw_codec_encode_frames(&g->buf, b, &g->err);
    return rc ? rc : append(g);
}

static int on_session(void *ctx, const ing_session_t *s)
{
    ingest_t *g = ctx;
    if (g->dump)
        app_json_print(stdout, app_json_session(s));
    return 0;
}

static int has_ext(const ing_format_t *f, const char *path)
{
    char exts[128];
    snprintf(exts, sizeof exts, "%s", f->exts);
    size_t plen = strlen(path);
    if (plen > 3 && !strcmp(path + plen - 3, ".gz"))
        plen -= 3; /* name.tsv.gz is a .tsv */
    for (char *save = NULL, *e = strtok_r(exts, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
        size_t elen = strlen(e);
        if (plen >= elen && !strncmp(path + plen - elen, e, elen))
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under dir (recursively) the format reads, sorted by path. */
static int list_files(const char *dir, const ing_format_t *f, char ***out, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "pitwall ingest: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = list_files(path, f, out, n, cap);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !has_ext(f, path) || (f->wants && !f->wants(e->d_name)))
            continue;
        if (*n == MAX_FILES) {
            fprintf(stderr, "pitwall ingest: %s holds more than %d files\n", dir, MAX_FILES);
            rc = -1;
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            char **o2 = realloc(*out, *cap * sizeof *o2);
            if (!o2) {
                rc = -1;
                break;
            }
            *out = o2;
        }
        if (!((*out)[(*n)++] = strdup(path)))
            rc = -1;
    }
    closedir(d);
    return rc;
}

static void print_summary(const char *what, const ing_stats_t *st, double secs)
{
    printf("%s: %llu records, %llu points, %llu frames (%llu objects), %llu events",
           what, (unsigned long long)st->records, (unsigned long long)st->points,
           (unsigned long long)st->frames, (unsigned long long)st->objects,
           (unsigned long long)st->events);
    if (st->first_ts_ns <= st->last_ts_ns)
        printf(", span %.3f s", (double)(st->last_ts_ns - st->first_ts_ns) / 1e9);
    if (st->skipped)
        printf(", %llu skipped", (unsigned long long)st->skipped);
    if (st->truncated)
        printf(", truncated");
    double values = (double)(st->points + st->objects);
    printf(", decoded in %.3f s (%.1fM values/s, %.0f MB/s)\n", secs,
           secs > 0 ? values / secs / 1e6 : 0.0, secs > 0 ? (double)st->bytes / secs / 1e6 : 0.0);
}

static void add_stats(ing_stats_t *t, const ing_stats_t *s)
{
    t->bytes += s->bytes;
    t->records += s->records;
    t->points += s->points;
    t->frames += s->frames;
    t->objects += s->objects;
    t->events += s->events;
    t->skipped += s->skipped;
    t->truncated |= s->truncated;
    if (s->first_ts_ns < t->first_ts_ns)
        t->first_ts_ns = s->first_ts_ns;
    if (s->last_ts_ns > t->last_ts_ns)
        t->last_ts_ns = s->last_ts_ns;
}

int cmd_ingest_main(int argc, char **argv)
{
    app_conf_flags_t flags = {0};
    const char *format = NULL, *input = NULL, *to = NULL, *channels = NULL, *events = NULL;
    int dump = 0;
    for (int i = 1; i < argc; i++) {
        int t = app_conf_take_flag(&flags, argc, argv, &i, CMD);
        if (t < 0)
            return 2;
        if (t > 0)
            continue;
        const char **slot = !strcmp(argv[i], "--format") ? &format
                          : !strcmp(argv[i], "--input") ? &input
                          : !strcmp(argv[i], "--to") ? &to
                          : !strcmp(argv[i], "--channels") ? &channels
                          : !strcmp(argv[i], "--events") ? &events : NULL;
        if (!strcmp(argv[i], "--dump"))
            dump = 1;
        else if (slot && i + 1 < argc)
            *slot = argv[++i];
        else
            return cmd_usage_error(CMD, "unknown or incomplete argument '%s'", argv[i]);
    }
    if (!format || !input)
        return cmd_usage_error(CMD, "needs --format F and --input PATH");
    if (dump && to)
        return cmd_usage_error(CMD, "--dump and --to exclude each other");
    const ing_format_t *fmt = ing_format_find(format);
    if (!fmt) {
        fprintf(stderr, "pitwall ingest: unknown format '%s'; formats:", format);
        for (size_t k = 0; k < ing_nformats; k++)
            fprintf(stderr, " %s", ing_formats[k].name);
        fprintf(stderr, "\n");
        return 2;
    }
    /* --channels a,b,c: the subset decoders that have channels keep. */
    char chbuf[4096];
    const char *chlist[MAX_CHANNELS];
    size_t nch = 0;
    if (channels) {
        snprintf(chbuf, sizeof chbuf, "%s", channels);
        for (char *save = NULL, *c = strtok_r(chbuf, ",", &save); c && nch < MAX_CHANNELS;
             c = strtok_r(NULL, ",", &save))
            chlist[nch++] = c;
    }
    app_conf_t c;
    pw_err_t err = {0};
    if (app_conf_load(&flags, &c, &err)) {
        fprintf(stderr, "pitwall ingest: %s\n", err.msg);
        return 1;
    }
    app_names_t names = {0};
    int rc = app_names_open(&c, &names, &err);
    ingest_t g = {.fmt = fmt, .names = &names, .dump = dump, .topic = to};
    pw_codec_buf_init(&g.buf);
    if (rc == 0 && to)
        rc = app_stream_open(&c, &names, 0, 1, &g.stream, &err);
    if (rc) {
        fprintf(stderr, "pitwall ingest: %s\n", err.msg);
        app_names_close(&names);
        app_conf_fini(&c);
        return 1;
    }
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    struct stat st;
    if (stat(input, &st) != 0) {
        fprintf(stderr, "pitwall ingest: %s: %s\n", input, strerror(errno));
        rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
        rc = list_files(input, fmt, &files, &nfiles, &cap);
        if (rc == 0 && nfiles == 0) {
            fprintf(stderr, "pitwall ingest: %s holds no %s files (%s)\n", input, fmt->name,
                    fmt->exts);
            rc = -1;
        }
        if (rc == 0)
            qsort(files, nfiles, sizeof *files, cmp_str);
    } else {
        files = malloc(sizeof *files);
        rc = files && (files[0] = strdup(input)) ? 0 : -1;
        nfiles = rc ? 0 : 1;
    }
    ing_opts_t o = {.channels = nch ? chlist : NULL, .nchannels = nch, .events_path = events};
    ing_names_t in = {names.channels, names.entities, names.labels};
    ing_emit_t emit = {.points = on_points, .frames = on_frames, .session = on_session, .ctx = &g};
    ing_stats_t total;
    ing_stats_init(&total);
    int failed = 0;
    double total_secs = 0;
    for (size_t k = 0; rc == 0 && k < nfiles; k++) {
        uint8_t *data = NULL;
        size_t len = 0;
        ing_stats_t s;
        ing_stats_init(&s);
        pw_err_t e = {0};
        int frc = ing_file_load(files[k], MAX_INPUT_BYTES, &data, &len, &e);
        g.key = files[k];
        double secs = 0;
        if (frc == 0) {
            int64_t t0 = pw_mono_ns();
            frc = fmt->decode(files[k], data, len, &o, &in, &emit, &s, &e);
            secs = (double)(pw_mono_ns() - t0) / 1e9;
        }
        free(data);
        if (frc == -EPIPE)
            break; /* the reader of --dump went away */
        if (frc) {
            fprintf(stderr, "pitwall ingest: %s\n",
                    g.err.msg[0] ? g.err.msg : e.msg[0] ? e.msg : pw_strerror(frc));
            failed++;
            if (g.err.msg[0])
                rc = frc; /* the stream failed: stop */
            continue;
        }
        if (s.skipped || s.truncated)
            fprintf(stderr, "pitwall ingest: %s: %llu bad record%s skipped%s; first: %s\n",
                    files[k], (unsigned long long)s.skipped, s.skipped == 1 ? "" : "s",
                    s.truncated ? ", input truncated" : "", s.first_problem);
        if (!dump)
            print_summary(files[k], &s, secs);
        add_stats(&total, &s);
        total_secs += secs;
    }
    if (!dump && nfiles > 1)
        print_summary("total", &total, total_secs);
    if (rc == 0 && g.stream) {
        rc = pw_stream_flush(g.stream, 10000, NULL, &err);
        if (rc)
            fprintf(stderr, "pitwall ingest: %s\n", err.msg);
        else
            printf("appended %llu batches to '%s'\n", (unsigned long long)g.batches, to);
    }
    for (size_t k = 0; k < nfiles; k++)
        free(files[k]);
    free(files);
    pw_codec_buf_fini(&g.buf);
    pw_stream_close(g.stream);
    app_names_close(&names);
    app_conf_fini(&c);
    return rc || failed ? 1 : 0;
}

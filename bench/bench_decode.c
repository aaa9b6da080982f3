/*
 * File decoder benchmarks: a real recorded file, already in memory, decoded
 * again and again into batches that a callback only counts: the decoder's
 * own cost, without disk or output. The data comes from PITWALL_DATA
 * (default ../shared/data); without it the benchmark says so and reports
 * nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_format.h"

static int count_points(void *ctx, const pw_points_t *b)
{
    *(uint64_t *)ctx += b->n;
    return 0;
}

static int count_frames(void *ctx, const pw_frames_t *b)
{
    *(uint64_t *)ctx += b->nobj_total;
    return 0;
}

/* Decode the files (paths under the data folder) for o->seconds. */
static int bench_files(const bench_opts_t *o, bench_result_t *r, pw_err_t *err,
                       ing_decode_fn decode, const char *const *rel, size_t nrel,
                       const char *what)
{
    const char *root = getenv("PITWALL_DATA");
    if (!root || !*root)
        root = "../shared/data";
    uint8_t *data[64];
    size_t len[64], n = 0;
    int rc = 0;
    for (size_t i = 0; i < nrel && i < 64 && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, rel[i]);
        rc = ing_file_load(path, (size_t)1 << 31, &data[n], &len[n], err);
        if (rc == 0)
            n++;
    }
    if (rc) {
        snprintf(r->note, sizeof r->note, "skipped: %.100s (set PITWALL_DATA)", err->msg);
        for (size_t i = 0; i < n; i++)
            free(data[i]);
        return 0;
    }
    pw_intern_t *ch = NULL, *ent = NULL, *lab = NULL;
    rc = pw_intern_create(1 << 16, &ch);
    if (rc == 0)
        rc = pw_intern_create(1 << 16, &ent);
    if (rc == 0)
        rc = pw_intern_create(1 << 12, &lab);
    ing_names_t names = {ch, ent, lab};
    uint64_t values = 0, bytes = 0;
    ing_emit_t emit = {.points = count_points, .frames = count_frames, .ctx = &values};
    ing_opts_t opts = {0};
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    while (rc == 0 && pw_mono_ns() < stop) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            ing_stats_t st;
            ing_stats_init(&st);
            int64_t t0 = pw_mono_ns();
            rc = decode(rel[i], data[i], len[i], &opts, &names, &emit, &st, err);
            pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0));
            bytes += len[i];
        }
    }
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    r->points_per_s = (double)values / secs;
    r->mb_per_s = (double)bytes / secs / 1e6;
    snprintf(r->unit, sizeof r->unit, "file");
    snprintf(r->note, sizeof r->note, "%s; one core, file in memory", what);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    pw_intern_destroy(ch);
    pw_intern_destroy(ent);
    pw_intern_destroy(lab);
    return rc;
}

int bench_decode_ibt(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    static const char *const files[] = {"racing/iracing/nascar-truck-bristol.ibt"};
    return bench_files(o, r, err, ing_ibt_decode, files, 1,
                       "Bristol, 3446 samples x 279 channels, points/s");
}

/* The first NGS plays of the folder, by name (64 plays, ~4.5 MB of TSV). */
int bench_decode_ngs(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    const char *root = getenv("PITWALL_DATA");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/football/ngs", root && *root ? root : "../shared/data");
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(r->note, sizeof r->note, "skipped: %.100s: not found (set PITWALL_DATA)", dir);
        return 0;
    }
    static char names[64][300];
    const char *files[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t len = strlen(e->d_name);
        if (len > 7 && !strcmp(e->d_name + len - 7, ".tsv.gz") && !strstr(e->d_name, "index")) {
            snprintf(names[n], sizeof names[n], "football/ngs/%.250s", e->d_name);
            files[n] = names[n];
            n++;
        }
    }
    closedir(d);
    return bench_files(o, r, err, ing_ngs_decode, files, n,
                       "64 NGS plays, objects/s (7 values each)");
}

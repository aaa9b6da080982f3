/*
 * pitwall recap --store DIR --session ID [--duration 120] [--limit N] [--json]:
 * the highlight builder's answer from the command line. It asks the result
 * store the same question as GET /v1/moments?session=ID&duration=D&limit=N
 * (limit 1000 unless given: every moment that fits; api/api_query.c, so the
 * ranking and clip rules are one code): the session's key moments, ranked
 * by importance, taken while their clips fit the recap's duration, in time
 * order, and the footage to cut. --json prints that answer as the API
 * gives it; otherwise a table for people.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api_query.h"
#include "cmd/cmd.h"
#include "store/st_results.h"

#define CMD "recap"
/* Longest query string built for /v1/moments, bytes. */
#define QUERY_MAX 1024

/* DIR itself, or DIR/store when DIR is a data directory (pitwall run --data-dir). */
static void store_dir(const char *dir, char *buf, size_t len)
{
    struct stat st;
    snprintf(buf, len, "%s/store/data.mdb", dir);
    if (stat(buf, &st) == 0)
        snprintf(buf, len, "%s/store", dir);
    else
        snprintf(buf, len, "%s", dir);
}

/* Append name=value to q, %-escaping the value; false if it does not fit. */
static bool query_add(char *q, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(q);
    int w = snprintf(q + n, cap - n, "%s%s=", n ? "&" : "", name);
    if (w < 0 || (size_t)w >= cap - n)
        return false;
    n += (size_t)w;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-_.~", *p);
        w = plain ? snprintf(q + n, cap - n, "%c", *p) : snprintf(q + n, cap - n, "%%%02X", *p);
        if (w < 0 || (size_t)w >= cap - n)
            return false;
        n += (size_t)w;
    }
    return true;
}

/* UTC time of ns: 2019-11-12T02:22:31.400Z, or with date false 02:22:31.400Z. */
static void fmt_time(int64_t ns, bool date, char *buf, size_t len)
{
    int64_t rem = ns % 1000000000;
    time_t s = (time_t)(ns / 1000000000);
    if (rem < 0) { /* floor: -1 ns is 23:59:59.999 of the day before */
        rem += 1000000000;
        s--;
    }
    struct tm tm;
    char hms[32] = "?";
    if (gmtime_r(&s, &tm))
        strftime(hms, sizeof hms, date ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", hms, (int)(rem / 1000000));
}

static int64_t get_i64(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* The answer of /v1/moments as a table. */
static void print_table(const json_t *j, FILE *f)
{
    const json_t *moments = json_object_get(j, "moments"), *clips = json_object_get(j, "clips");
    const json_t *dur = json_object_get(j, "duration_s");
    fprintf(f, "recap of %s: %zu moments of %lld events, %.1f s of footage",
            json_string_value(json_object_get(j, "key")), json_array_size(moments),
            (long long)json_integer_value(json_object_get(j, "events")),
            json_number_value(json_object_get(j, "total_s")));
    if (json_is_number(dur))
        fprintf(f, " (at most %.0f s)", json_number_value(dur));
    fprintf(f, "%s\n\n", json_is_true(json_object_get(j, "truncated"))
                             ? "; only the first events of the session were read"
                             : "");
    fprintf(f, "%-5s %-24s %-14s %-10s %s\n", "rank", "time (UTC)", "type", "importance",
            "clip in .. out");
    size_t k;
    const json_t *m;
    json_array_foreach(moments, k, m) {
        char at[48], in[48], out[48];
        fmt_time(get_i64(m, "ts_ns"), true, at, sizeof at);
        fmt_time(get_i64(m, "in_ns"), true, in, sizeof in);
        fmt_time(get_i64(m, "out_ns"), false, out, sizeof out);
        fprintf(f, "%-5lld %-24s %-14s %-10.2f %s .. %s\n",
                (long long)json_integer_value(json_object_get(m, "rank")), at,
                json_string_value(json_object_get(m, "type")),
                json_number_value(json_object_get(m, "importance")), in, out);
    }
    fprintf(f, "\nfootage to cut (%zu clips):\n", json_array_size(clips));
    json_array_foreach(clips, k, m) {
        char in[48], out[48];
        int64_t a = get_i64(m, "in_ns"), b = get_i64(m, "out_ns");
        fmt_time(a, true, in, sizeof in);
        fmt_time(b, false, out, sizeof out);
        fprintf(f, "  %s .. %s  %5.1f s\n", in, out, (double)(b - a) / 1e9);
    }
}

/* The store's sessions (a line), for an error that names a session it does not hold. */
static void print_sessions(st_results_t *store, FILE *f)
{
    api_resp_t r = {0};
    if (api_query_handle(store, "/v1/sessions", "", &r) != 1 || r.status != 200) {
        fprintf(f, "the store's sessions cannot be listed\n");
        api_resp_free(&r);
        return;
    }
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    size_t k, shown = 0, more = 0;
    const json_t *s;
    fprintf(f, "sessions with events in the store:");
    json_array_foreach(json_object_get(j, "sessions"), k, s) {
        if (json_integer_value(json_object_get(s, "events")) <= 0)
            continue;
        if (shown == 20) {
            more++;
            continue;
        }
        fprintf(f, " %s", json_string_value(json_object_get(s, "session")));
        shown++;
    }
    if (shown == 0)
        fprintf(f, " none");
    if (more)
        fprintf(f, " and %zu more", more);
    fputc('\n', f);
    json_decref(j);
    api_resp_free(&r);
}

int cmd_recap_main(int argc, char **argv)
{
    const char *dir = NULL, *session = NULL, *duration = "120", *limit = "1000";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--store") && has)
            dir = argv[++i];
        else if (!strcmp(a, "--session") && has)
            session = argv[++i];
        else if (!strcmp(a, "--duration") && has)
            duration = argv[++i];
        else if (!strcmp(a, "--limit") && has)
            limit = argv[++i];
        else if (!strcmp(a, "--json"))
            json = 1;
        else
            return cmd_usage_error(CMD, "unknown or incomplete argument '%s'", a);
    }
    if (dir == NULL || session == NULL)
        return cmd_usage_error(CMD, "--store and --session are required");
    char q[QUERY_MAX] = "";
    if (!query_add(q, sizeof q, "session", session) ||
        !query_add(q, sizeof q, "duration", duration) || !query_add(q, sizeof q, "limit", limit))
        return cmd_usage_error(CMD, "--session, --duration or --limit is too long");

    char path[4096];
    store_dir(dir, path, sizeof path);
    st_results_opts_t so = st_results_opts_default();
    so.dir = path;
    so.read_only = true;
    st_results_t *store = NULL;
    pw_err_t err = {0};
    int rc = st_results_open(&so, &store, &err);
    if (rc) {
        fprintf(stderr, "pitwall %s: %s: %s\n", CMD, path,
                rc == PW_ENOTFOUND ? "no result store here (pitwall run and pitwall pipeline "
                                     "keep theirs in <data_dir>/store)"
                                   : err.msg);
        return 1;
    }
    api_resp_t r = {0};
    json_error_t je = {0};
    rc = api_query_handle(store, "/v1/moments", q, &r);
    json_t *j = rc == 1 ? json_loadb(r.body, r.body_len, 0, &je) : NULL;
    int status = 0;
    if (rc != 1) {
        fprintf(stderr, "pitwall %s: out of memory\n", CMD);
        status = 1;
    } else if (j == NULL) {
        fprintf(stderr, "pitwall %s: %s: the store's answer is not JSON: %s\n", CMD, path,
                je.text);
        status = 1;
    } else if (r.status == 400) {
        /* A bad --duration or --limit: the API names the parameter. */
        const char *what = json_string_value(json_object_get(j, "error"));
        status = cmd_usage_error(CMD, "%s", what ? what : r.body);
    } else if (r.status != 200) {
        const char *what = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "pitwall %s: %s: %s\n", CMD, path, what ? what : r.body);
        status = 1;
    } else if (json_integer_value(json_object_get(j, "events")) == 0) {
        fprintf(stderr, "pitwall %s: %s: no events for session %s; ", CMD, path, session);
        print_sessions(store, stderr);
        status = 1;
    } else if (json) {
        fwrite(r.body, 1, r.body_len, stdout);
        fputc('\n', stdout);
    } else {
        print_table(j, stdout);
    }
    json_decref(j);
    api_resp_free(&r);
    st_results_close(store);
    if (status == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "pitwall %s: cannot write the recap\n", CMD);
        status = 1;
    }
    return status;
}

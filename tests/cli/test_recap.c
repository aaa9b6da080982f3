/*
 * `pitwall recap` as the highlight builder uses it: a recorded play is
 * ingested into a topic, run through the default graph by `pitwall
 * pipeline --exit-at-end`, and the recap of its session lists the sack
 * first, with a clip that fits the recap's duration.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"

TestSuite(cli_recap, .fini = cli_scratch_remove, .timeout = 120);

/* A strip sack of a game the events model was not fitted on. */
#define PLAY "football/ngs/2019_SEA_2019111100_1618.tsv.gz"
#define SESSION "20191111001618" /* gameId * 10000 + playId */

/* The play's file, or skip (fail under CI) without the data. */
static const char *play_path(char *path, size_t cap)
{
    const char *root = getenv("PITWALL_DATA");
    snprintf(path, cap, "%s/%s", root && *root ? root : "../shared/data", PLAY);
    if (access(path, R_OK) != 0) {
        if (getenv("CI"))
            cr_assert_fail("%s is missing (CI must run on the data)", path);
        cr_skip_test("%s is missing: set PITWALL_DATA", path);
    }
    return path;
}

static void run_ok(const char *const *args, int timeout_ms)
{
    cli_result_t r = cli_run(args, NULL, 0, timeout_ms);
    cr_assert_eq(r.status, 0, "pitwall %s: status %d\n%s", args[0], r.status, r.err);
    cli_result_free(&r);
}

/* Ingest the play and run the pipeline over it into data. */
static void store_play(const char *data)
{
    char path[4096];
    play_path(path, sizeof path);
    const char *ingest[] = {"ingest", "--format", "ngs",       "--input", path,
                            "--to",   "tracking", "--data-dir", data,     NULL};
    run_ok(ingest, 30000);
    const char *pipeline[] = {"pipeline", "--exit-at-end", "--data-dir", data, NULL};
    run_ok(pipeline, 60000);
}

static const json_t *moment_of(const json_t *moments, const char *type)
{
    size_t k;
    const json_t *m;
    json_array_foreach(moments, k, m) {
        if (strcmp(json_string_value(json_object_get(m, "type")), type) == 0)
            return m;
    }
    return NULL;
}

Test(cli_recap, a_recorded_sack_is_the_top_moment_with_a_clip_that_fits)
{
    char data[4200];
    snprintf(data, sizeof data, "%s/data", cli_scratch_make());
    store_play(data);

    const char *json_args[] = {"recap", "--store", data, "--session", SESSION, "--json", NULL};
    cli_result_t r = cli_run(json_args, NULL, 0, 30000);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, r.out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "game/" SESSION);
    cr_assert_str_eq(json_string_value(json_object_get(j, "order")), "time");
    cr_assert_eq(json_number_value(json_object_get(j, "duration_s")), 120.0);
    cr_assert_leq(json_number_value(json_object_get(j, "total_s")), 120.0);
    const json_t *moments = json_object_get(j, "moments");
    const json_t *sack = moment_of(moments, "qb_sack");
    cr_assert_not_null(sack, "no sack in %s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(sack, "rank")), 1, "%s", r.out);
    /* Its clip: 5 s before to 3 s after, inside the footage to cut. */
    int64_t ts = json_integer_value(json_object_get(sack, "ts_ns"));
    cr_assert_eq(json_integer_value(json_object_get(sack, "in_ns")), ts - 5000000000LL);
    cr_assert_eq(json_integer_value(json_object_get(sack, "out_ns")), ts + 3000000000LL);
    bool covered = false;
    size_t k;
    const json_t *c;
    json_array_foreach(json_object_get(j, "clips"), k, c) {
        covered |= json_integer_value(json_object_get(c, "in_ns")) <= ts - 5000000000LL &&
                   json_integer_value(json_object_get(c, "out_ns")) >= ts + 3000000000LL;
    }
    cr_assert(covered, "the sack's clip is not in the footage: %s", r.out);
    json_decref(j);
    cli_result_free(&r);

    /* For people: a table naming the session and the sack. */
    const char *text_args[] = {"recap", "--store", data, "--session", SESSION, NULL};
    r = cli_run(text_args, NULL, 0, 30000);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "recap of game/" SESSION), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "qb_sack"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "footage to cut"), "%s", r.out);
    cli_result_free(&r);

    /* A 5 s recap has no room for the sack's 8 s clip. */
    const char *short_args[] = {"recap", "--store", data, "--session", SESSION,
                                "--duration", "5s", "--json", NULL};
    r = cli_run(short_args, NULL, 0, 30000);
    cr_assert_eq(r.status, 0, "%s", r.err);
    j = json_loads(r.out, 0, &je);
    cr_assert_not_null(j, "%s", r.out);
    cr_assert_leq(json_number_value(json_object_get(j, "total_s")), 5.0);
    cr_assert_null(moment_of(json_object_get(j, "moments"), "qb_sack"), "%s", r.out);
    json_decref(j);
    cli_result_free(&r);
}

Test(cli_recap, a_wrong_session_duration_or_store_is_a_clear_error)
{
    char data[4200];
    snprintf(data, sizeof data, "%s/data", cli_scratch_make());
    store_play(data);

    /* An unknown session: exit 1, naming the sessions the store holds. */
    const char *unknown[] = {"recap", "--store", data, "--session", "42", NULL};
    cli_result_t r = cli_run(unknown, NULL, 0, 30000);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "no events for session 42"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, SESSION), "%s", r.err);
    cr_assert_str_empty(r.out);
    cli_result_free(&r);

    /* A duration that is not one: a usage error naming it. */
    const char *bad[] = {"recap", "--store", data, "--session", SESSION, "--duration", "soon",
                         NULL};
    r = cli_run(bad, NULL, 0, 30000);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "duration: 'soon'"), "%s", r.err);
    cli_result_free(&r);

    /* No store there. */
    char none[4300];
    snprintf(none, sizeof none, "%s/nothing", data);
    const char *missing[] = {"recap", "--store", none, "--session", SESSION, NULL};
    r = cli_run(missing, NULL, 0, 30000);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "no result store"), "%s", r.err);
    cli_result_free(&r);

    /* A limit out of range, and a session id with '&' (sent escaped, so unknown). */
    const char *limit[] = {"recap", "--store", data, "--session", SESSION, "--limit", "0", NULL};
    r = cli_run(limit, NULL, 0, 30000);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "limit: '0'"), "%s", r.err);
    cli_result_free(&r);
    const char *amp[] = {"recap", "--store", data, "--session", SESSION "&limit=1", NULL};
    r = cli_run(amp, NULL, 0, 30000);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "no events for session " SESSION "&limit=1"), "%s", r.err);
    cli_result_free(&r);

    /* Required flags. */
    const char *bare[] = {"recap", "--store", data, NULL};
    r = cli_run(bare, NULL, 0, 30000);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cli_result_free(&r);
}

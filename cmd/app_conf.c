#include "cmd/app_conf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const pw_conf_key_t run_keys[] = {
    {.name = "stats_interval", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(app_run_conf_t, stats_interval_ms), .def = "1s",
     .min = "100ms", .desc = "how often `pitwall run` prints a line of rates"},
    {.name = "game_topic", .type = PW_CONF_STRING,
     .offset = offsetof(app_run_conf_t, game_topic),
     .desc = "`pitwall run` also plays a simulated football game (10 frames/s) into this "
             "topic; empty = no game"},
};

static const pw_conf_section_t run_section = {
    .name = "run", .desc = "`pitwall run`", .keys = run_keys,
    .nkeys = PW_CONF_NKEYS(run_keys),
};

static const pw_conf_key_t root_keys[] = {
    {.name = "data_dir", .type = PW_CONF_STRING, .offset = offsetof(app_conf_t, data_dir),
     .def = "build/data", .desc = "directory of the stream log and the store"},
    {.name = "channels", .type = PW_CONF_STRLIST, .offset = offsetof(app_conf_t, channels),
     .count_offset = offsetof(app_conf_t, nchannels),
     .def = "[speed_mps, throttle, brake, gear, rpm, lap_dist_pct, lap, fuel_level_l, "
            "fuel_flow_lps, position, pit]",
     .desc = "channel names, interned to ids 1, 2, ... in this order"},
    {.name = "entities", .type = PW_CONF_STRLIST, .offset = offsetof(app_conf_t, entities),
     .count_offset = offsetof(app_conf_t, nentities), .def = "[]",
     .desc = "entity names (cars, players), interned to ids 1, 2, ... in this "
             "order; sources add the ones they meet after these"},
    {.name = "labels", .type = PW_CONF_STRLIST, .offset = offsetof(app_conf_t, labels),
     .count_offset = offsetof(app_conf_t, nlabels),
     .def = "[ball_snap, pass_forward, pass_arrived, pass_outcome_caught, "
            "pass_outcome_incomplete, handoff, first_contact, tackle, qb_sack, out_of_bounds]",
     .desc = "event label names on frames, interned to ids 1, 2, ... in this order"},
    {.name = "log", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, log),
     .sub = &st_log_conf_section, .desc = "the embedded stream log"},
    {.name = "stream", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, stream),
     .sub = &st_stream_conf_section, .desc = "stream topics"},
    {.name = "sim", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, sim),
     .sub = &ing_sim_conf_section, .desc = "the race simulator"},
    {.name = "listen", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, listen),
     .sub = &ing_listen_conf_section, .desc = "live UDP/TCP listeners"},
    {.name = "run", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, run),
     .sub = &run_section, .desc = "`pitwall run`"},
    {.name = "pipeline", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, pipeline),
     .sub = &pl_conf_section, .desc = "the operator graph"},
    {.name = "store", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, store),
     .sub = &pl_store_conf_section, .desc = "the result store"},
    {.name = "api", .type = PW_CONF_SECTION, .offset = offsetof(app_conf_t, api),
     .sub = &api_conf_section, .desc = "the WebSocket and HTTP server"},
};

const pw_conf_section_t app_conf_section = {
    .name = "", .desc = "pitwall configuration", .keys = root_keys,
    .nkeys = PW_CONF_NKEYS(root_keys),
};

int app_conf_load(const app_conf_flags_t *f, app_conf_t *c, pw_err_t *err)
{
    memset(c, 0, sizeof *c);
    const char *path = f->conf_path;
    int rc;
    if (path == NULL && access(APP_CONF_DEFAULT_PATH, R_OK) == 0)
        path = APP_CONF_DEFAULT_PATH;
    if (path)
        rc = pw_conf_load_file(path, &app_conf_section, c, err);
    else
        rc = pw_conf_defaults(&app_conf_section, c, err);
    for (size_t i = 0; rc == 0 && i < f->nsets; i++)
        rc = pw_conf_set(&app_conf_section, c, f->sets[i], err);
    if (rc == 0 && f->data_dir) {
        char set[4096];
        snprintf(set, sizeof set, "data_dir=%s", f->data_dir);
        rc = pw_conf_set(&app_conf_section, c, set, err);
    }
    if (rc)
        pw_conf_fini(&app_conf_section, c);
    else
        c->path = path;
    return rc;
}

void app_conf_fini(app_conf_t *c)
{
    pw_conf_fini(&app_conf_section, c);
}

int app_conf_take_flag(app_conf_flags_t *f, int argc, char **argv, int *i,
                       const char *cmd)
{
    const char *a = argv[*i];
    const char **slot;
    if (!strcmp(a, "--conf"))
        slot = &f->conf_path;
    else if (!strcmp(a, "--data-dir"))
        slot = &f->data_dir;
    else if (!strcmp(a, "--set")) {
        if (f->nsets == sizeof f->sets / sizeof f->sets[0]) {
            fprintf(stderr, "pitwall %s: too many --set flags (at most %zu)\n", cmd,
                    sizeof f->sets / sizeof f->sets[0]);
            return -1;
        }
        slot = &f->sets[f->nsets];
    } else
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "pitwall %s: %s needs a value\n", cmd, a);
        return -1;
    }
    *slot = argv[++*i];
    if (slot == &f->sets[f->nsets])
        f->nsets++;
    return 1;
}

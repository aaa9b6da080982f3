/*
 * app_conf: the whole configuration file of the pitwall binary, gathered
 * from each module's section, and the flags every subcommand shares
 * (--conf, --data-dir, --set).
 */
#ifndef APP_CONF_H
#define APP_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "api/api_conf.h"
#include "core/pw_conf.h"
#include "core/pw_error.h"
#include "ingest/ing_listen_conf.h"
#include "ingest/ing_sim.h"
#include "pipeline/pl_conf.h"
#include "store/st_conf.h"

#define APP_CONF_DEFAULT_PATH "conf/pitwall.yaml"

/* The `run` section. */
typedef struct app_run_conf {
    int64_t stats_interval_ms; /* how often `pitwall run` prints its rates */
    char *game_topic;          /* `pitwall run` plays a football game here; NULL = no */
} app_run_conf_t;

typedef struct app_conf {
    char *data_dir;          /* where the log (and later the store) live */
    char **channels;         /* channel names, interned in this order */
    size_t nchannels;
    char **entities;         /* entity names, interned in this order */
    size_t nentities;
    char **labels;           /* event label names, interned in this order */
    size_t nlabels;
    st_log_conf_t log;
    st_stream_conf_t stream;
    ing_sim_conf_t sim;
    ing_listen_conf_t listen;
    app_run_conf_t run;
    pl_conf_t pipeline;
    pl_store_conf_t store;
    api_conf_t api;
    const char *path;        /* the file loaded, or NULL (defaults only) */
} app_conf_t;

extern const pw_conf_section_t app_conf_section;

/* Flags shared by subcommands, collected before loading. */
typedef struct app_conf_flags {
    const char *conf_path;   /* NULL: APP_CONF_DEFAULT_PATH if it exists */
    const char *data_dir;    /* NULL: from the file */
    const char *sets[64];    /* --set KEY=VALUE, in order */
    size_t nsets;
} app_conf_flags_t;

/*
 * Load the configuration: defaults, then the file (the default path only
 * if it exists), then --set overrides, then --data-dir. Returns 0 or an
 * error with err saying file:line:col or the override at fault. On
 * failure c holds no allocations.
 */
int app_conf_load(const app_conf_flags_t *flags, app_conf_t *c, pw_err_t *err);

/* Free what app_conf_load allocated. */
void app_conf_fini(app_conf_t *c);

/*
 * If argv[*i] is a shared flag (--conf, --data-dir, --set), consume it and
 * its value into flags and return 1; return 0 if it is not one; -1 (with a
 * message on stderr) if its value is missing or too many --set are given.
 */
int app_conf_take_flag(app_conf_flags_t *flags, int argc, char **argv, int *i,
                       const char *cmd);

#endif

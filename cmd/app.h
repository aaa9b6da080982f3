/*
 * app: what several subcommands share once the configuration is loaded:
 * the name tables and the stream.
 */
#ifndef APP_H
#define APP_H

#include "cmd/app_conf.h"
#include "core/pw_intern.h"
#include "core/pw_stream.h"

/* Room in each name table beyond what the configuration names. */
#define APP_INTERN_SPARE 65536

/* Channel, entity and label tables, filled from the configuration in order
 * (labels start empty). Laid out as ing_names_t so decoders take it. */
typedef struct app_names {
    pw_intern_t *channels;
    pw_intern_t *entities;
    pw_intern_t *labels;
} app_names_t;

int app_names_open(const app_conf_t *c, app_names_t *n, pw_err_t *err);
void app_names_close(app_names_t *n);

/*
 * Open the stream log under c->data_dir (created if missing unless
 * read_only). With create_topics, create every topic of `stream.topics`
 * that does not exist yet. Returns 0 or an error in err.
 */
int app_stream_open(const app_conf_t *c, int read_only, int create_topics,
                    pw_stream_t **out, pw_err_t *err);

/* The directory of the stream log for c, into buf. */
void app_log_dir(const app_conf_t *c, char *buf, size_t len);

#endif

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
    /* The dictionary kept in the stream (topic APP_NAMES_TOPIC): names up
     * to published[k] of table k are there; next is the topic offset the
     * next load reads from. */
    uint32_t published[3];
    int64_t next;
} app_names_t;

/*
 * Ids in the stream mean names only together with a dictionary, so the
 * dictionary travels in the stream too: one message per name,
 * {"t":"entities","id":57,"name":"nfl/2495438"}, in a topic of one
 * partition. Every process loads it when it opens the stream; a writer
 * publishes the names it adds before the batches that use them.
 */
#define APP_NAMES_TOPIC "__names"

int app_names_open(const app_conf_t *c, app_names_t *n, pw_err_t *err);
void app_names_close(app_names_t *n);

/*
 * Open the stream log under c->data_dir (created if missing unless
 * read_only) and load its dictionary into names. With create_topics, create
 * every topic of `stream.topics` that does not exist yet. Returns 0 or an
 * error in err (PW_ECONF when the stream's dictionary disagrees with the
 * configuration's names).
 */
int app_stream_open(const app_conf_t *c, app_names_t *names, int read_only,
                    int create_topics, pw_stream_t **out, pw_err_t *err);

/* Read dictionary entries published since the last load (by any process). */
int app_names_load(app_names_t *n, pw_stream_t *s, pw_err_t *err);

/*
 * Append the names added since the last publish to the stream's
 * dictionary; call before appending batches that may use them. Cheap when
 * nothing is new (three comparisons).
 */
int app_names_publish(app_names_t *n, pw_stream_t *s, pw_err_t *err);

/* The directory of the stream log for c, into buf. */
void app_log_dir(const app_conf_t *c, char *buf, size_t len);

#endif

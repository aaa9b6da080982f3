/*
 * st_conf: the store's configuration sections, `log` (how the embedded
 * stream log is kept) and `stream` (the topics it holds), and their
 * translation into st_log options.
 */
#ifndef ST_CONF_H
#define ST_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "core/pw_stream.h"
#include "store/st_log.h"

/* Durability modes, in the order of the `log.durability` choices. */
enum st_conf_durability { ST_CONF_SYNC, ST_CONF_GROUP, ST_CONF_NONE };

/* The `log` section. */
typedef struct st_log_conf {
    int durability;             /* enum st_conf_durability */
    int64_t group_commit_ms;    /* group mode: most time an append waits */
    uint64_t max_pending_bytes; /* group mode: commit early past this */
    uint64_t map_size;          /* LMDB map size, bytes */
} st_log_conf_t;

/* One element of `stream.topics`. */
typedef struct st_topic_conf {
    char *name;
    int64_t partitions;
    int64_t retention_age_ms;   /* 0 = keep forever */
    uint64_t retention_bytes;   /* per partition; 0 = no size limit */
} st_topic_conf_t;

/* The `stream` section. */
typedef struct st_stream_conf {
    st_topic_conf_t *topics;
    size_t ntopics;
} st_stream_conf_t;

extern const pw_conf_section_t st_log_conf_section;
extern const pw_conf_section_t st_stream_conf_section;
/* The keys of one topic (an element of `stream.topics`). */
extern const pw_conf_section_t st_topic_conf_section;

/* Log options from the `log` section, for the log in dir (borrowed). */
st_log_opts_t st_log_conf_opts(const st_log_conf_t *c, const char *dir);

/* A topic's retention as the stream interface takes it. */
pw_stream_retention_t st_topic_conf_retention(const st_topic_conf_t *t);

#endif

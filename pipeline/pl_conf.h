/*
 * pl_conf: the `pipeline` section: sources, the operator graph, workers
 * and checkpoints.
 *
 *   pipeline:
 *     workers: 0                 # 0 = one per core
 *     checkpoint_interval: 200ms
 *     sources:
 *       - {name: telemetry, topic: telemetry, kind: points, disorder: 100ms}
 *     operators:
 *       - {name: by_car, input: [telemetry], key_by: {by: [entity, channel]}}
 *       - ...
 */
#ifndef PL_CONF_H
#define PL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "pipeline/pl_ops.h"

enum pl_source_kind { PL_SOURCE_POINTS = 0, PL_SOURCE_FRAMES = 1 };
enum pl_source_start { PL_START_EARLIEST = 0, PL_START_LATEST = 1 };

/* One element of `pipeline.sources`: a stream topic read by the graph. */
typedef struct pl_source_conf {
    char *name;
    int line;
    char *topic;
    int kind;                /* enum pl_source_kind */
    int start;               /* enum pl_source_start, without a checkpoint */
    int64_t disorder_ms;     /* how far behind the newest record may arrive */
    int64_t idle_timeout_ms; /* a partition silent this long stops holding
                                the watermark back; 0 = never */
} pl_source_conf_t;

typedef struct pl_conf {
    bool enabled;                 /* `pitwall run` runs the pipeline */
    int64_t workers;              /* 0 = one per core */
    int64_t checkpoint_interval_ms;
    int64_t batch_records;        /* most records handed to the graph at once */
    char *group;                  /* checkpoints are kept under this name */
    uint64_t max_pending_bytes;   /* results waiting for a checkpoint; more
                                     forces one early */
    pl_source_conf_t *sources;
    size_t nsources;
    pl_node_conf_t *operators;
    size_t noperators;
} pl_conf_t;

extern const pw_conf_section_t pl_conf_section;

/* The `store` section: where results and checkpoints are kept. */
typedef struct pl_store_conf {
    uint64_t map_size;  /* LMDB map size, bytes */
    bool sync;          /* fsync every checkpoint commit */
    int64_t retention_age_ms;  /* results older than this are trimmed; 0 = never */
    uint64_t retention_bytes;  /* oldest results trimmed beyond this; 0 = no limit */
} pl_store_conf_t;

extern const pw_conf_section_t pl_store_conf_section;

#endif

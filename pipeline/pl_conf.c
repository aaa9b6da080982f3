/*
 * pl_conf: keys of the `pipeline` and `store` sections.
 */
#include "pipeline/pl_conf.h"

static const char *const kind_choices[] = {"points", "frames", NULL};
static const char *const start_choices[] = {"earliest", "latest", NULL};

static const pw_conf_key_t source_keys[] = {
    {.name = "name", .type = PW_CONF_STRING, .offset = offsetof(pl_source_conf_t, name),
     .desc = "the source's name, which operators give as their input"},
    {.name = "topic", .type = PW_CONF_STRING, .offset = offsetof(pl_source_conf_t, topic),
     .desc = "stream topic read; its partitions are spread over the workers"},
    {.name = "kind", .type = PW_CONF_ENUM, .offset = offsetof(pl_source_conf_t, kind),
     .def = "points", .choices = kind_choices,
     .desc = "what the topic's batches hold"},
    {.name = "start", .type = PW_CONF_ENUM, .offset = offsetof(pl_source_conf_t, start),
     .def = "earliest", .choices = start_choices,
     .desc = "where to start reading when no checkpoint exists"},
    {.name = "disorder", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_source_conf_t, disorder_ms), .def = "100ms", .max = "1h",
     .desc = "how far behind the newest event time a record may arrive and still be "
             "on time: the watermark is the newest event time minus this"},
    {.name = "idle_timeout", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_source_conf_t, idle_timeout_ms), .def = "2s",
     .desc = "a partition that delivers nothing for this long (wall time) stops "
             "holding the watermark back; 0 = never"},
};

static const pw_conf_section_t source_section = {
    .name = "source",
    .desc = "a stream topic the graph reads",
    .keys = source_keys,
    .nkeys = PW_CONF_NKEYS(source_keys),
};

static const pw_conf_key_t pipeline_keys[] = {
    {.name = "enabled", .type = PW_CONF_BOOL, .offset = offsetof(pl_conf_t, enabled),
     .def = "true", .desc = "`pitwall run` runs the pipeline (when operators are configured)"},
    {.name = "workers", .type = PW_CONF_INT, .offset = offsetof(pl_conf_t, workers),
     .def = "0", .min = "0", .max = "256",
     .desc = "worker threads; 0 = one per core. Partition p of every source goes to "
             "worker p % workers"},
    {.name = "checkpoint_interval", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_conf_t, checkpoint_interval_ms), .def = "200ms",
     .min = "1ms", .max = "1h",
     .desc = "how often each worker checkpoints its state, input offsets and "
             "results in one transaction; results reach the store this often"},
    {.name = "batch_records", .type = PW_CONF_INT,
     .offset = offsetof(pl_conf_t, batch_records), .def = "512", .min = "1",
     .max = "1048576",
     .desc = "most records handed to the graph at once (smaller: lower latency "
             "per operator; larger: higher throughput)"},
    {.name = "group", .type = PW_CONF_STRING, .offset = offsetof(pl_conf_t, group),
     .def = "pipeline",
     .desc = "name under which checkpoints are kept; two graphs over one store need "
             "two names"},
    {.name = "max_pending_bytes", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(pl_conf_t, max_pending_bytes), .def = "64MiB", .min = "64KiB",
     .desc = "results waiting for a checkpoint; beyond this a checkpoint is taken early"},
    {.name = "sources", .type = PW_CONF_LIST, .offset = offsetof(pl_conf_t, sources),
     .count_offset = offsetof(pl_conf_t, nsources), .elem_size = sizeof(pl_source_conf_t),
     .line_offset = offsetof(pl_source_conf_t, line), .sub = &source_section,
     .desc = "stream topics the graph reads"},
    {.name = "operators", .type = PW_CONF_LIST, .offset = offsetof(pl_conf_t, operators),
     .count_offset = offsetof(pl_conf_t, noperators), .elem_size = sizeof(pl_node_conf_t),
     .line_offset = offsetof(pl_node_conf_t, line), .sub = &pl_node_conf_section,
     .desc = "the graph's nodes (`pitwall ops` lists the operators and their keys)"},
};

const pw_conf_section_t pl_conf_section = {
    .name = "pipeline",
    .desc = "the operator graph",
    .keys = pipeline_keys,
    .nkeys = PW_CONF_NKEYS(pipeline_keys),
};

static const pw_conf_key_t store_keys[] = {
    {.name = "map_size", .type = PW_CONF_SIZE_BYTES, .offset = offsetof(pl_store_conf_t, map_size),
     .def = "1GiB", .min = "1MiB", .desc = "largest size of the result store on disk (LMDB map size)"},
    {.name = "sync", .type = PW_CONF_BOOL, .offset = offsetof(pl_store_conf_t, sync),
     .def = "true",
     .desc = "fsync every checkpoint commit (false: survives a process crash, not a power loss)"},
    {.name = "retention_age", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_store_conf_t, retention_age_ms), .def = "0", .max = "87600h",
     .desc = "delete results older than this, measured from the newest result's time "
             "(or now, if earlier); 0 keeps them forever. Checkpoints are never deleted"},
    {.name = "retention_bytes", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(pl_store_conf_t, retention_bytes), .def = "0",
     .desc = "delete the oldest results while the store's pages in use pass this; "
             "0 = no limit (keep it below map_size)"},
};

const pw_conf_section_t pl_store_conf_section = {
    .name = "store",
    .desc = "the result store (LMDB under data_dir/store)",
    .keys = store_keys,
    .nkeys = PW_CONF_NKEYS(store_keys),
};

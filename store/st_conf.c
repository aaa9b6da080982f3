#include "store/st_conf.h"

static const char *const durability_choices[] = {"sync", "group", "none", NULL};

static const pw_conf_key_t log_keys[] = {
    {.name = "durability", .type = PW_CONF_ENUM,
     .offset = offsetof(st_log_conf_t, durability), .def = "group",
     .choices = durability_choices,
     .desc = "sync: every append is on disk before it is acknowledged; group: "
             "appends are committed and fsynced together at most "
             "group_commit_ms after the first; none: no fsync (survives a "
             "process crash, not a power loss)"},
    {.name = "group_commit_ms", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(st_log_conf_t, group_commit_ms), .def = "10ms",
     .min = "0ms", .max = "10s",
     .desc = "group mode: longest an append waits for its commit"},
    {.name = "max_pending_bytes", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(st_log_conf_t, max_pending_bytes), .def = "64MiB",
     .min = "4KiB", .desc = "group mode: commit early once this much is pending"},
    {.name = "map_size", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(st_log_conf_t, map_size), .def = "1GiB", .min = "1MiB",
     .desc = "largest size of the log on disk (LMDB map size); retention "
             "must keep the log below it"},
};

const pw_conf_section_t st_log_conf_section = {
    .name = "log",
    .desc = "the embedded stream log (LMDB)",
    .keys = log_keys,
    .nkeys = PW_CONF_NKEYS(log_keys),
};

static const pw_conf_key_t topic_keys[] = {
    {.name = "name", .type = PW_CONF_STRING, .offset = offsetof(st_topic_conf_t, name),
     .desc = "topic name"},
    {.name = "partitions", .type = PW_CONF_INT,
     .offset = offsetof(st_topic_conf_t, partitions), .def = "1", .min = "1",
     .max = "1024", .desc = "partitions; a key always lands on the same one"},
    {.name = "retention_age", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(st_topic_conf_t, retention_age_ms), .def = "0",
     .desc = "delete batches older than this; 0 keeps them forever"},
    {.name = "retention_bytes", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(st_topic_conf_t, retention_bytes), .def = "0",
     .desc = "per partition, delete the oldest batches beyond this size; 0 = no limit"},
};

const pw_conf_section_t st_topic_conf_section = {
    .name = "topic",
    .desc = "a stream topic",
    .keys = topic_keys,
    .nkeys = PW_CONF_NKEYS(topic_keys),
};

static const pw_conf_key_t stream_keys[] = {
    {.name = "topics", .type = PW_CONF_LIST, .offset = offsetof(st_stream_conf_t, topics),
     .count_offset = offsetof(st_stream_conf_t, ntopics), .elem_size = sizeof(st_topic_conf_t),
     .sub = &st_topic_conf_section,
     .def = "[{name: telemetry, partitions: 4, retention_age: 1h, retention_bytes: 128MiB}, "
            "{name: tracking, partitions: 2, retention_age: 1h, retention_bytes: 64MiB}]",
     .desc = "topics created at start when missing"},
};

const pw_conf_section_t st_stream_conf_section = {
    .name = "stream",
    .desc = "stream topics",
    .keys = stream_keys,
    .nkeys = PW_CONF_NKEYS(stream_keys),
};

st_log_opts_t st_log_conf_opts(const st_log_conf_t *c, const char *dir)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.durability = c->durability == ST_CONF_SYNC    ? ST_LOG_SYNC
                   : c->durability == ST_CONF_GROUP ? ST_LOG_GROUP
                                                    : ST_LOG_NONE;
    o.group_commit_ms = (int)c->group_commit_ms;
    o.max_pending_bytes = (size_t)c->max_pending_bytes;
    o.map_size_mb = (size_t)(c->map_size >> 20);
    return o;
}

pw_stream_retention_t st_topic_conf_retention(const st_topic_conf_t *t)
{
    pw_stream_retention_t r = {
        .max_age_ms = t->retention_age_ms,
        .max_bytes = (int64_t)t->retention_bytes,
    };
    return r;
}

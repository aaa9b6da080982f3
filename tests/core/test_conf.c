/*
 * pw_conf: a realistic schema (nested sections, enums, durations, sizes,
 * lists of sections, string lists) loaded from YAML, defaulted, overridden
 * and printed. Error tests assert the exact text a person would read.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pw_conf.h"

/* ---- The test schema: what a store, simulator and stream might declare. */

enum { DUR_SYNC, DUR_GROUP, DUR_NONE };

typedef struct t_log {
    int durability;
    int64_t group_commit_ms;
    uint64_t map_size;
    char *path;
    bool sync_dir;
} t_log_t;

typedef struct t_limits {
    uint64_t max_bytes;
    int64_t max_age_ms;
} t_limits_t;

typedef struct t_topic {
    char *name;
    int64_t partitions;
    t_limits_t limits;
    char **tags;
    size_t ntags;
} t_topic_t;

typedef struct t_sim {
    int64_t rate_pps;
    double gain;
    bool enabled;
    char *title;
} t_sim_t;

typedef struct t_stream {
    int backend;
    t_topic_t *topics;
    size_t ntopics;
} t_stream_t;

typedef struct t_tls {
    bool enabled;
    char *cert;
} t_tls_t;

typedef struct t_api {
    int64_t port;
    int64_t idle_timeout_ms;
    t_tls_t tls;
} t_api_t;

typedef struct t_conf {
    int canary_before; /* fields the tables do not name are left alone */
    t_log_t log;
    t_sim_t sim;
    t_stream_t stream;
    t_api_t api;
    char **channels;
    size_t nchannels;
    int canary_after;
} t_conf_t;

static const char *const durability_choices[] = { "sync", "group", "none",
                                                  NULL };
static const char *const backend_choices[] = { "embedded", "kafka", NULL };

static const pw_conf_key_t log_keys[] = {
    { .name = "durability", .type = PW_CONF_ENUM,
      .offset = offsetof(t_log_t, durability), .def = "group",
      .choices = durability_choices,
      .desc = "When an append is durable: at once, per group commit, never." },
    { .name = "group_commit_ms", .type = PW_CONF_DURATION_MS,
      .offset = offsetof(t_log_t, group_commit_ms), .def = "10ms",
      .min = "1ms", .max = "10s",
      .desc = "Longest wait before a group commit." },
    { .name = "map_size", .type = PW_CONF_SIZE_BYTES,
      .offset = offsetof(t_log_t, map_size), .def = "1GiB", .min = "1MiB",
      .desc = "LMDB map size." },
    { .name = "path", .type = PW_CONF_STRING,
      .offset = offsetof(t_log_t, path), .def = "data/log",
      .desc = "Directory of the log." },
    { .name = "sync_dir", .type = PW_CONF_BOOL,
      .offset = offsetof(t_log_t, sync_dir),
      .desc = "Also fsync the directory." },
};
static const pw_conf_section_t log_section = {
    "log", "The embedded stream log.", log_keys, PW_CONF_NKEYS(log_keys),
};

static const pw_conf_key_t sim_keys[] = {
    { .name = "rate_pps", .type = PW_CONF_INT,
      .offset = offsetof(t_sim_t, rate_pps), .def = "1000", .min = "1",
      .max = "10000000", .desc = "Points per second." },
    { .name = "gain", .type = PW_CONF_DOUBLE,
      .offset = offsetof(t_sim_t, gain), .def = "0.5", .min = "0",
      .max = "1", .desc = "Noise gain." },
    { .name = "enabled", .type = PW_CONF_BOOL,
      .offset = offsetof(t_sim_t, enabled), .def = "true",
      .desc = "Run the simulator." },
    { .name = "title", .type = PW_CONF_STRING,
      .offset = offsetof(t_sim_t, title), .desc = "Session title." },
};
static const pw_conf_section_t sim_section = {
    "sim", "The simulator.", sim_keys, PW_CONF_NKEYS(sim_keys),
};

static const pw_conf_key_t limits_keys[] = {
    { .name = "max_bytes", .type = PW_CONF_SIZE_BYTES,
      .offset = offsetof(t_limits_t, max_bytes), .def = "64MiB",
      .desc = "Retention by size." },
    { .name = "max_age_ms", .type = PW_CONF_DURATION_MS,
      .offset = offsetof(t_limits_t, max_age_ms), .def = "1h",
      .desc = "Retention by age." },
};
static const pw_conf_section_t limits_section = {
    "limits", "Retention.", limits_keys, PW_CONF_NKEYS(limits_keys),
};

static const pw_conf_key_t topic_keys[] = {
    { .name = "name", .type = PW_CONF_STRING,
      .offset = offsetof(t_topic_t, name), .desc = "Topic name." },
    { .name = "partitions", .type = PW_CONF_INT,
      .offset = offsetof(t_topic_t, partitions), .def = "1", .min = "1",
      .max = "1024", .desc = "Number of partitions." },
    { .name = "limits", .type = PW_CONF_SECTION,
      .offset = offsetof(t_topic_t, limits), .sub = &limits_section,
      .desc = "Retention limits." },
    { .name = "tags", .type = PW_CONF_STRLIST,
      .offset = offsetof(t_topic_t, tags),
      .count_offset = offsetof(t_topic_t, ntags), .desc = "Free tags." },
};
static const pw_conf_section_t topic_section = {
    "topic", "One topic.", topic_keys, PW_CONF_NKEYS(topic_keys),
};

static const pw_conf_key_t stream_keys[] = {
    { .name = "backend", .type = PW_CONF_ENUM,
      .offset = offsetof(t_stream_t, backend), .choices = backend_choices,
      .desc = "Where topics live." },
    { .name = "topics", .type = PW_CONF_LIST,
      .offset = offsetof(t_stream_t, topics),
      .count_offset = offsetof(t_stream_t, ntopics),
      .elem_size = sizeof(t_topic_t), .sub = &topic_section,
      .def = "[{name: telemetry, partitions: 4}, {name: results}]",
      .desc = "Topics created at start." },
};
static const pw_conf_section_t stream_section = {
    "stream", "Streams.", stream_keys, PW_CONF_NKEYS(stream_keys),
};

static const pw_conf_key_t tls_keys[] = {
    { .name = "enabled", .type = PW_CONF_BOOL,
      .offset = offsetof(t_tls_t, enabled), .desc = "Serve TLS." },
    { .name = "cert", .type = PW_CONF_STRING,
      .offset = offsetof(t_tls_t, cert), .desc = "Certificate file." },
};
static const pw_conf_section_t tls_section = {
    "tls", "TLS.", tls_keys, PW_CONF_NKEYS(tls_keys),
};

static const pw_conf_key_t api_keys[] = {
    { .name = "port", .type = PW_CONF_INT, .offset = offsetof(t_api_t, port),
      .def = "8080", .min = "0", .max = "65535", .desc = "TCP port." },
    { .name = "idle_timeout_ms", .type = PW_CONF_DURATION_MS,
      .offset = offsetof(t_api_t, idle_timeout_ms), .def = "30s",
      .desc = "Close idle clients after this." },
    { .name = "tls", .type = PW_CONF_SECTION, .offset = offsetof(t_api_t, tls),
      .sub = &tls_section, .desc = "TLS settings." },
};
static const pw_conf_section_t api_section = {
    "api", "The API server.", api_keys, PW_CONF_NKEYS(api_keys),
};

static const pw_conf_key_t root_keys[] = {
    { .name = "log", .type = PW_CONF_SECTION, .offset = offsetof(t_conf_t, log),
      .sub = &log_section, .desc = "The embedded stream log." },
    { .name = "sim", .type = PW_CONF_SECTION, .offset = offsetof(t_conf_t, sim),
      .sub = &sim_section, .desc = "The simulator." },
    { .name = "stream", .type = PW_CONF_SECTION,
      .offset = offsetof(t_conf_t, stream), .sub = &stream_section,
      .desc = "Streams." },
    { .name = "api", .type = PW_CONF_SECTION, .offset = offsetof(t_conf_t, api),
      .sub = &api_section, .desc = "The API server." },
    { .name = "channels", .type = PW_CONF_STRLIST,
      .offset = offsetof(t_conf_t, channels),
      .count_offset = offsetof(t_conf_t, nchannels),
      .def = "[rpm, speed, throttle]", .desc = "Channels to intern." },
};
static const pw_conf_section_t root = {
    "", "Pitwall test configuration.", root_keys, PW_CONF_NKEYS(root_keys),
};

/* ---- Helpers. */

static int load(t_conf_t *c, const char *yaml, pw_err_t *err)
{
    memset(c, 0xA5, sizeof *c); /* uninitialised memory is fine */
    c->canary_before = 11;
    c->canary_after = 22;
    pw_err_clear(err);
    return pw_conf_load_string("conf/x.yaml", yaml, strlen(yaml), &root, c,
                               err);
}

/* Load yaml, expect failure with exactly msg, and defaults left behind. */
static void expect_error(const char *yaml, const char *msg)
{
    t_conf_t c;
    pw_err_t err;
    int rc = load(&c, yaml, &err);
    cr_assert_eq(rc, PW_ECONF, "rc %d (%s) for:\n%s", rc, pw_strerror(rc),
                 yaml);
    cr_assert_eq(err.code, PW_ECONF);
    cr_assert_str_eq(err.msg, msg);
    /* Failure leaves exactly the defaults, safe to fini. */
    cr_assert_eq(c.log.durability, DUR_GROUP);
    cr_assert_eq(c.sim.rate_pps, 1000);
    cr_assert_eq(c.stream.ntopics, 2);
    cr_assert_str_eq(c.stream.topics[0].name, "telemetry");
    cr_assert_eq(c.nchannels, 3);
    pw_conf_fini(&root, &c);
    pw_conf_fini(&root, &c);
}

static void expect_set_error(t_conf_t *c, const char *assign, const char *msg)
{
    pw_err_t err;
    pw_err_clear(&err);
    int rc = pw_conf_set(&root, c, assign, &err);
    cr_assert_eq(rc, PW_ECONF, "rc %d for %s", rc, assign);
    cr_assert_str_eq(err.msg, msg);
}

static void expect_defaults(const t_conf_t *c)
{
    cr_assert_eq(c->canary_before, 11);
    cr_assert_eq(c->canary_after, 22);
    cr_assert_eq(c->log.durability, DUR_GROUP);
    cr_assert_eq(c->log.group_commit_ms, 10);
    cr_assert_eq(c->log.map_size, 1ull << 30);
    cr_assert_str_eq(c->log.path, "data/log");
    cr_assert_eq(c->log.sync_dir, false);
    cr_assert_eq(c->sim.rate_pps, 1000);
    cr_assert_float_eq(c->sim.gain, 0.5, 1e-12);
    cr_assert_eq(c->sim.enabled, true);
    cr_assert_null(c->sim.title);
    cr_assert_eq(c->stream.backend, 0);
    cr_assert_eq(c->stream.ntopics, 2);
    cr_assert_str_eq(c->stream.topics[0].name, "telemetry");
    cr_assert_eq(c->stream.topics[0].partitions, 4);
    cr_assert_eq(c->stream.topics[0].limits.max_bytes, 64ull << 20);
    cr_assert_eq(c->stream.topics[0].limits.max_age_ms, 3600000);
    cr_assert_eq(c->stream.topics[0].ntags, 0);
    cr_assert_null(c->stream.topics[0].tags);
    cr_assert_str_eq(c->stream.topics[1].name, "results");
    cr_assert_eq(c->stream.topics[1].partitions, 1);
    cr_assert_eq(c->api.port, 8080);
    cr_assert_eq(c->api.idle_timeout_ms, 30000);
    cr_assert_eq(c->api.tls.enabled, false);
    cr_assert_null(c->api.tls.cert);
    cr_assert_eq(c->nchannels, 3);
    cr_assert_str_eq(c->channels[0], "rpm");
    cr_assert_str_eq(c->channels[1], "speed");
    cr_assert_str_eq(c->channels[2], "throttle");
    cr_assert_null(c->channels[3]);
}

static const char good_yaml[] =
    "# A realistic file.\n"
    "log:\n"
    "  durability: sync\n"
    "  group_commit_ms: 2s\n"
    "  map_size: 512MiB\n"
    "  path: \"/var/lib/pitwall/log\"\n"
    "  sync_dir: true\n"
    "sim:\n"
    "  rate_pps: 250000\n"
    "  gain: 0.125\n"
    "  enabled: false\n"
    "  title: 'Daytona 500: practice'\n"
    "stream:\n"
    "  backend: kafka\n"
    "  topics:\n"
    "    - name: telemetry\n"
    "      partitions: 8\n"
    "      limits: {max_bytes: 4GiB, max_age_ms: 5m}\n"
    "      tags: [raw, cars]\n"
    "    - name: events\n"
    "api:\n"
    "  port: 9000\n"
    "  tls:\n"
    "    enabled: true\n"
    "    cert: /etc/pitwall/cert.pem\n"
    "channels: [rpm, throttle, brake, \"fuel flow\"]\n";

static void expect_good(const t_conf_t *c)
{
    cr_assert_eq(c->log.durability, DUR_SYNC);
    cr_assert_eq(c->log.group_commit_ms, 2000);
    cr_assert_eq(c->log.map_size, 512ull << 20);
    cr_assert_str_eq(c->log.path, "/var/lib/pitwall/log");
    cr_assert_eq(c->log.sync_dir, true);
    cr_assert_eq(c->sim.rate_pps, 250000);
    cr_assert_float_eq(c->sim.gain, 0.125, 1e-12);
    cr_assert_eq(c->sim.enabled, false);
    cr_assert_str_eq(c->sim.title, "Daytona 500: practice");
    cr_assert_eq(c->stream.backend, 1);
    cr_assert_eq(c->stream.ntopics, 2);
    const t_topic_t *t = &c->stream.topics[0];
    cr_assert_str_eq(t->name, "telemetry");
    cr_assert_eq(t->partitions, 8);
    cr_assert_eq(t->limits.max_bytes, 4ull << 30);
    cr_assert_eq(t->limits.max_age_ms, 300000);
    cr_assert_eq(t->ntags, 2);
    cr_assert_str_eq(t->tags[0], "raw");
    cr_assert_str_eq(t->tags[1], "cars");
    cr_assert_null(t->tags[2]);
    t = &c->stream.topics[1];
    cr_assert_str_eq(t->name, "events");
    cr_assert_eq(t->partitions, 1, "list elements start from defaults");
    cr_assert_eq(t->limits.max_age_ms, 3600000);
    cr_assert_eq(c->api.port, 9000);
    cr_assert_eq(c->api.idle_timeout_ms, 30000);
    cr_assert_eq(c->api.tls.enabled, true);
    cr_assert_str_eq(c->api.tls.cert, "/etc/pitwall/cert.pem");
    cr_assert_eq(c->nchannels, 4);
    cr_assert_str_eq(c->channels[3], "fuel flow");
}

/* ---- Defaults and loading. */

Test(pw_conf, defaults_set_every_key)
{
    t_conf_t c;
    memset(&c, 0x5A, sizeof c);
    c.canary_before = 11;
    c.canary_after = 22;
    pw_err_t err;
    cr_assert_eq(pw_conf_defaults(&root, &c, &err), 0);
    expect_defaults(&c);
    pw_conf_fini(&root, &c);
    cr_assert_null(c.channels);
    cr_assert_eq(c.nchannels, 0);
    cr_assert_null(c.stream.topics);
    cr_assert_null(c.log.path);
}

Test(pw_conf, loads_a_realistic_file)
{
    t_conf_t c;
    pw_err_t err;
    int rc = load(&c, good_yaml, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    expect_good(&c);
    cr_assert_eq(c.canary_before, 11);
    cr_assert_eq(c.canary_after, 22);
    pw_conf_fini(&root, &c);
}

Test(pw_conf, empty_file_gives_defaults)
{
    const char *texts[] = { "", "# only a comment\n\n", "---\n", "~\n",
                            "---\n...\n" };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        t_conf_t c;
        pw_err_t err;
        cr_assert_eq(load(&c, texts[i], &err), 0, "%zu: %s", i, err.msg);
        expect_defaults(&c);
        pw_conf_fini(&root, &c);
    }
}

Test(pw_conf, empty_section_keeps_its_defaults)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "log:\nsim: {}\n", &err), 0, "%s", err.msg);
    expect_defaults(&c);
    pw_conf_fini(&root, &c);
}

Test(pw_conf, lists_are_replaced_not_merged)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "stream: {topics: [{name: only}]}\nchannels: []\n",
                      &err), 0, "%s", err.msg);
    cr_assert_eq(c.stream.ntopics, 1);
    cr_assert_str_eq(c.stream.topics[0].name, "only");
    cr_assert_eq(c.nchannels, 0);
    cr_assert_null(c.channels);
    pw_conf_fini(&root, &c);

    cr_assert_eq(load(&c, "stream:\n  topics:\nchannels:\n", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(c.stream.ntopics, 0);
    cr_assert_eq(c.nchannels, 0);
    pw_conf_fini(&root, &c);
}

Test(pw_conf, strings_null_empty_and_quoted)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "log: {path: ~}\nsim: {title: ''}\n"
                          "api: {tls: {cert: '~'}}\n", &err), 0, "%s",
                 err.msg);
    cr_assert_null(c.log.path);
    cr_assert_str_eq(c.sim.title, "");
    cr_assert_str_eq(c.api.tls.cert, "~");
    pw_conf_fini(&root, &c);

    /* A plain scalar that looks like a number is still a string. */
    cr_assert_eq(load(&c, "sim: {title: 2019090500}\n", &err), 0);
    cr_assert_str_eq(c.sim.title, "2019090500");
    pw_conf_fini(&root, &c);
}

Test(pw_conf, durations_accept_units)
{
    static const struct { const char *text; int64_t ms; } ok[] = {
        { "250", 250 }, { "250ms", 250 }, { "2s", 2000 }, { "5m", 300000 },
        { "1h", 3600000 }, { "1.5s", 1500 }, { "0.5h", 1800000 },
        { "10 ms", 10 }, { "\"3s\"", 3000 }, { "1.000s", 1000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "api: {idle_timeout_ms: %s}\n", ok[i].text);
        t_conf_t c;
        pw_err_t err;
        cr_assert_eq(load(&c, yaml, &err), 0, "%s: %s", ok[i].text, err.msg);
        cr_assert_eq(c.api.idle_timeout_ms, ok[i].ms, "%s", ok[i].text);
        pw_conf_fini(&root, &c);
    }
}

Test(pw_conf, sizes_accept_units)
{
    static const struct { const char *text; uint64_t bytes; } ok[] = {
        { "1048576", 1048576 }, { "64KiB", 65536 }, { "512MiB", 512ull << 20 },
        { "4GiB", 4ull << 30 }, { "1GB", 1000000000ull }, { "2TiB", 2ull << 40 },
        { "1.5KiB", 1536 }, { "100B", 100 }, { "3 MB", 3000000 },
        { "18446744073709551615", UINT64_MAX },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "log: {map_size: %s}\n", ok[i].text);
        t_conf_t c;
        pw_err_t err;
        /* map_size has a minimum of 1MiB; use the topic limit for small. */
        snprintf(yaml, sizeof yaml,
                 "stream: {topics: [{name: a, limits: {max_bytes: %s}}]}\n",
                 ok[i].text);
        cr_assert_eq(load(&c, yaml, &err), 0, "%s: %s", ok[i].text, err.msg);
        cr_assert_eq(c.stream.topics[0].limits.max_bytes, ok[i].bytes, "%s",
                     ok[i].text);
        pw_conf_fini(&root, &c);
    }
}

Test(pw_conf, numbers_accept_their_forms)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "sim: {rate_pps: +42, gain: 1e-3}\n"
                          "api: {port: 0}\n", &err), 0, "%s", err.msg);
    cr_assert_eq(c.sim.rate_pps, 42);
    cr_assert_float_eq(c.sim.gain, 0.001, 1e-15);
    cr_assert_eq(c.api.port, 0, "the minimum itself is allowed");
    pw_conf_fini(&root, &c);
    cr_assert_eq(load(&c, "sim: {rate_pps: 10000000, gain: 1}\n", &err), 0,
                 "%s", err.msg);
    cr_assert_eq(c.sim.rate_pps, 10000000, "the maximum itself is allowed");
    pw_conf_fini(&root, &c);

    /* Scientific form is fine for an integer when the value is whole. */
    static const struct { const char *text; int64_t v; } sci[] = {
        { "1e6", 1000000 }, { "2.5e3", 2500 }, { "1E+2", 100 },
        { "5000e-3", 5 },
    };
    for (size_t i = 0; i < sizeof sci / sizeof sci[0]; i++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "sim: {rate_pps: %s}\n", sci[i].text);
        cr_assert_eq(load(&c, yaml, &err), 0, "%s: %s", sci[i].text, err.msg);
        cr_assert_eq(c.sim.rate_pps, sci[i].v, "%s", sci[i].text);
        pw_conf_fini(&root, &c);
    }
}

Test(pw_conf, loads_a_file_from_disk)
{
    char dir[] = "/tmp/pw_conf_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/pitwall.yaml", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(good_yaml, f);
    fclose(f);

    t_conf_t c;
    memset(&c, 0, sizeof c);
    pw_err_t err;
    cr_assert_eq(pw_conf_load_file(path, &root, &c, &err), 0, "%s", err.msg);
    expect_good(&c);
    pw_conf_fini(&root, &c);

    /* An error names the file. */
    f = fopen(path, "w");
    fputs("log:\n  durability: fsync\n", f);
    fclose(f);
    cr_assert_eq(pw_conf_load_file(path, &root, &c, &err), PW_ECONF);
    char want[512];
    snprintf(want, sizeof want,
             "%s:2:15: log.durability: 'fsync' is not one of sync, group, "
             "none", path);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(c.log.durability, DUR_GROUP);
    pw_conf_fini(&root, &c);

    unlink(path);
    rmdir(dir);
}

Test(pw_conf, missing_file_is_an_errno_with_defaults_left)
{
    t_conf_t c;
    pw_err_t err;
    int rc = pw_conf_load_file("/nonexistent/pitwall.yaml", &root, &c, &err);
    cr_assert_eq(rc, -ENOENT);
    cr_assert_str_eq(err.msg,
                     "/nonexistent/pitwall.yaml: No such file or directory");
    cr_assert_eq(c.sim.rate_pps, 1000);
    pw_conf_fini(&root, &c);
}

/* ---- Errors, with exact file:line:column text. */

Test(pw_conf, rejects_unknown_key_with_line_and_column)
{
    expect_error("log:\n"
                 "  durability: sync\n"
                 "  durabilty: group\n",
                 "conf/x.yaml:3:3: unknown key 'durabilty' in section 'log' "
                 "(expected one of: durability, group_commit_ms, map_size, "
                 "path, sync_dir)");
    expect_error("sim: {}\nlgo: {}\n",
                 "conf/x.yaml:2:1: unknown key 'lgo' at the top level "
                 "(expected one of: log, sim, stream, api, channels)");
    expect_error("api:\n  tls:\n    enable: true\n",
                 "conf/x.yaml:3:5: unknown key 'enable' in section 'api.tls' "
                 "(expected one of: enabled, cert)");
}

Test(pw_conf, rejects_unknown_key_in_a_list_element)
{
    expect_error("stream:\n"
                 "  topics:\n"
                 "    - name: a\n"
                 "    - name: b\n"
                 "      partitons: 3\n",
                 "conf/x.yaml:5:7: unknown key 'partitons' in section "
                 "'stream.topics[1]' (expected one of: name, partitions, "
                 "limits, tags)");
}

Test(pw_conf, rejects_bad_duration)
{
    expect_error("log:\n  group_commit_ms: fast\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: expected a duration "
                 "like 10ms or 2s, got 'fast'");
    expect_error("log:\n  group_commit_ms: 10us\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: expected a duration "
                 "like 10ms or 2s, got '10us'");
    expect_error("log:\n  group_commit_ms: -5s\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: a duration cannot be "
                 "negative, got '-5s'");
    expect_error("log:\n  group_commit_ms: 1.0001s\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: duration '1.0001s' "
                 "is not a whole number of milliseconds");
    expect_error("api: {idle_timeout_ms: 99999999999999999999h}\n",
                 "conf/x.yaml:1:24: api.idle_timeout_ms: duration "
                 "'99999999999999999999h' is too large");
    expect_error("api: {idle_timeout_ms: 9999999999999999h}\n",
                 "conf/x.yaml:1:24: api.idle_timeout_ms: duration "
                 "'9999999999999999h' is too large");
    expect_error("log:\n  group_commit_ms: 1m\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: 1m is above the "
                 "maximum 10s");
    expect_error("log:\n  group_commit_ms: 0\n",
                 "conf/x.yaml:2:20: log.group_commit_ms: 0 is below the "
                 "minimum 1ms");
    expect_error("log:\n  group_commit_ms:\n",
                 "conf/x.yaml:2:3: log.group_commit_ms: expected a duration "
                 "like 10ms or 2s, got nothing");
}

Test(pw_conf, rejects_bad_size)
{
    expect_error("log: {map_size: big}\n",
                 "conf/x.yaml:1:17: log.map_size: expected a size like 64KiB "
                 "or 512MiB, got 'big'");
    expect_error("log: {map_size: -1MiB}\n",
                 "conf/x.yaml:1:17: log.map_size: a size cannot be negative, "
                 "got '-1MiB'");
    expect_error("log: {map_size: 64kib}\n",
                 "conf/x.yaml:1:17: log.map_size: expected a size like 64KiB "
                 "or 512MiB, got '64kib'");
    expect_error("log: {map_size: 20000000TiB}\n",
                 "conf/x.yaml:1:17: log.map_size: size '20000000TiB' is too "
                 "large");
    expect_error("log: {map_size: 18446744073709551616}\n",
                 "conf/x.yaml:1:17: log.map_size: size "
                 "'18446744073709551616' is too large");
    expect_error("log: {map_size: 64KiB}\n",
                 "conf/x.yaml:1:17: log.map_size: 64KiB is below the minimum "
                 "1MiB");
}

Test(pw_conf, rejects_bad_integers)
{
    expect_error("sim:\n  rate_pps: 10x\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'10x'");
    expect_error("sim:\n  rate_pps: 1.5\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'1.5'");
    expect_error("sim:\n  rate_pps: 0x10\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'0x10'");
    expect_error("sim:\n  rate_pps: 1.5e0\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'1.5e0'");
    expect_error("sim:\n  rate_pps: 1e-3\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'1e-3'");
    expect_error("sim:\n  rate_pps: 1e\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got "
                 "'1e'");
    expect_error("sim:\n  rate_pps: 1e19\n",
                 "conf/x.yaml:2:13: sim.rate_pps: 1e19 is out of range for a "
                 "64-bit integer");
    expect_error("sim:\n  rate_pps: 9223372036854775808\n",
                 "conf/x.yaml:2:13: sim.rate_pps: 9223372036854775808 is out "
                 "of range for a 64-bit integer");
    expect_error("sim:\n  rate_pps: 0\n",
                 "conf/x.yaml:2:13: sim.rate_pps: 0 is below the minimum 1");
    expect_error("sim:\n  rate_pps: -9223372036854775808\n",
                 "conf/x.yaml:2:13: sim.rate_pps: -9223372036854775808 is "
                 "below the minimum 1");
    expect_error("api: {port: 65536}\n",
                 "conf/x.yaml:1:13: api.port: 65536 is above the maximum "
                 "65535");
    expect_error("sim:\n  rate_pps: [1]\n",
                 "conf/x.yaml:2:13: sim.rate_pps: expected an integer, got a "
                 "list");
}

Test(pw_conf, rejects_nan_infinity_and_junk_numbers)
{
    expect_error("sim: {gain: .nan}\n",
                 "conf/x.yaml:1:13: sim.gain: expected a number, got '.nan'");
    expect_error("sim: {gain: nan}\n",
                 "conf/x.yaml:1:13: sim.gain: expected a number, got 'nan'");
    expect_error("sim: {gain: inf}\n",
                 "conf/x.yaml:1:13: sim.gain: expected a number, got 'inf'");
    expect_error("sim: {gain: 1e999}\n",
                 "conf/x.yaml:1:13: sim.gain: 1e999 is out of range for a "
                 "number");
    expect_error("sim: {gain: 0.5.1}\n",
                 "conf/x.yaml:1:13: sim.gain: expected a number, got '0.5.1'");
    expect_error("sim: {gain: 1.5}\n",
                 "conf/x.yaml:1:13: sim.gain: 1.5 is above the maximum 1");
}

Test(pw_conf, rejects_bad_enum_and_bool)
{
    expect_error("log:\n  durability: fsync\n",
                 "conf/x.yaml:2:15: log.durability: 'fsync' is not one of "
                 "sync, group, none");
    expect_error("log:\n  durability: SYNC\n",
                 "conf/x.yaml:2:15: log.durability: 'SYNC' is not one of "
                 "sync, group, none");
    expect_error("sim: {enabled: yes}\n",
                 "conf/x.yaml:1:16: sim.enabled: expected true or false, got "
                 "'yes'");
    expect_error("sim: {enabled: {a: 1}}\n",
                 "conf/x.yaml:1:16: sim.enabled: expected true or false, got "
                 "a map");
    expect_error("log: {durability: [sync]}\n",
                 "conf/x.yaml:1:19: log.durability: expected one of sync, "
                 "group, none, got a list");
}

Test(pw_conf, rejects_yaml_syntax_errors_with_libyaml_text)
{
    expect_error("log:\n  durability: sync\n    map_size: 1GiB\n",
                 "conf/x.yaml:3:13: mapping values are not allowed in this "
                 "context");
    expect_error("log: {durability: sync\n",
                 "conf/x.yaml:2:1: did not find expected ',' or '}' (while "
                 "parsing a flow mapping at line 1, column 6)");
    expect_error("log:\n  path: \"unterminated\n",
                 "conf/x.yaml:3:1: found unexpected end of stream (while "
                 "scanning a quoted scalar at line 2, column 9)");
    expect_error("log: *nowhere\n",
                 "conf/x.yaml:1:6: found undefined alias");
    expect_error("log:\n\tdurability: sync\n",
                 "conf/x.yaml:2:1: found character that cannot start any "
                 "token (while scanning for the next token at line 2, "
                 "column 1)");
}

Test(pw_conf, rejects_invalid_utf8_with_position)
{
    expect_error("log:\n  path: \"a\xff\"\n",
                 "conf/x.yaml:2:11: invalid leading UTF-8 octet (#xFF)");
}

Test(pw_conf, rejects_duplicate_keys)
{
    expect_error("log:\n  durability: sync\n  path: a\n  durability: none\n",
                 "conf/x.yaml:4:3: duplicate key 'durability' in section "
                 "'log' (first at line 2)");
    expect_error("log: {}\nsim: {}\nlog: {}\n",
                 "conf/x.yaml:3:1: duplicate key 'log' at the top level "
                 "(first at line 1)");
}

Test(pw_conf, rejects_wrong_shapes)
{
    expect_error("log: 5\n",
                 "conf/x.yaml:1:6: log: expected a map, got '5'");
    expect_error("log: [a, b]\n",
                 "conf/x.yaml:1:6: log: expected a map, got a list");
    expect_error("just a scalar\n",
                 "conf/x.yaml:1:1: expected a map of sections and keys at the "
                 "top level, got 'just a scalar'");
    expect_error("- log\n",
                 "conf/x.yaml:1:1: expected a map of sections and keys at the "
                 "top level, got a list");
    expect_error("stream:\n  topics: telemetry\n",
                 "conf/x.yaml:2:11: stream.topics: expected a list of maps, "
                 "got 'telemetry'");
    expect_error("stream:\n  topics: [telemetry]\n",
                 "conf/x.yaml:2:12: stream.topics[0]: expected a map, got "
                 "'telemetry'");
    expect_error("channels: rpm\n",
                 "conf/x.yaml:1:11: channels: expected a list of strings like "
                 "[a, b], got 'rpm'");
    expect_error("channels: [rpm, [a], gear]\n",
                 "conf/x.yaml:1:17: channels[1]: expected a string, got a "
                 "list");
    expect_error("channels: [rpm, ~]\n",
                 "conf/x.yaml:1:17: channels[1]: expected a string, got null");
    expect_error("sim: {title: {a: b}}\n",
                 "conf/x.yaml:1:14: sim.title: expected a string, got a map");
    expect_error("? [a, b]\n: 1\n",
                 "conf/x.yaml:1:3: expected a key name at the top level, got "
                 "a list");
}

Test(pw_conf, rejects_a_second_document)
{
    expect_error("log: {}\n---\nsim: {}\n",
                 "conf/x.yaml:3:1: expected one YAML document, found a second");
}

Test(pw_conf, failure_deep_in_a_list_leaves_defaults_and_no_leak)
{
    /* Fails after strings, a list and nested lists were allocated. */
    expect_error("log: {path: /a/b}\n"
                 "sim: {title: t}\n"
                 "channels: [a, b, c]\n"
                 "stream:\n"
                 "  topics:\n"
                 "    - {name: a, tags: [x, y]}\n"
                 "    - {name: b, tags: [z], partitions: 0}\n",
                 "conf/x.yaml:7:40: stream.topics[1].partitions: 0 is below "
                 "the minimum 1");
}

Test(pw_conf, fini_is_safe_on_zeroed_and_twice)
{
    t_conf_t c;
    memset(&c, 0, sizeof c);
    pw_conf_fini(&root, &c);
    pw_err_t err;
    cr_assert_eq(load(&c, good_yaml, &err), 0);
    pw_conf_fini(&root, &c);
    pw_conf_fini(&root, &c);
    pw_conf_fini(NULL, &c);
    pw_conf_fini(&root, NULL);
}

/* ---- Overrides. */

Test(pw_conf, set_overrides_by_dotted_path)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, good_yaml, &err), 0);
    cr_assert_eq(pw_conf_set(&root, &c, "log.durability=none", &err), 0,
                 "%s", err.msg);
    cr_assert_eq(c.log.durability, DUR_NONE);
    cr_assert_eq(pw_conf_set(&root, &c, "api.tls.cert=/x/y.pem", &err), 0);
    cr_assert_str_eq(c.api.tls.cert, "/x/y.pem");
    cr_assert_eq(pw_conf_set(&root, &c, "sim.title=a: b = c", &err), 0);
    cr_assert_str_eq(c.sim.title, "a: b = c");
    cr_assert_eq(pw_conf_set(&root, &c, "sim.title=", &err), 0);
    cr_assert_null(c.sim.title);
    cr_assert_eq(pw_conf_set(&root, &c, "log.group_commit_ms=250ms", &err),
                 0);
    cr_assert_eq(c.log.group_commit_ms, 250);
    cr_assert_eq(pw_conf_set(&root, &c, "log.map_size=2GiB", &err), 0);
    cr_assert_eq(c.log.map_size, 2ull << 30);
    cr_assert_eq(pw_conf_set(&root, &c, "sim.enabled=true", &err), 0);
    cr_assert_eq(c.sim.enabled, true);
    pw_conf_fini(&root, &c);
}

Test(pw_conf, set_reaches_into_list_elements)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &c, "stream.topics[1].partitions=16",
                             &err), 0, "%s", err.msg);
    cr_assert_eq(c.stream.topics[1].partitions, 16);
    cr_assert_eq(pw_conf_set(&root, &c,
                             "stream.topics[0].limits.max_age_ms=2h", &err),
                 0, "%s", err.msg);
    cr_assert_eq(c.stream.topics[0].limits.max_age_ms, 7200000);
    cr_assert_eq(pw_conf_set(&root, &c, "channels[1]=gear", &err), 0);
    cr_assert_str_eq(c.channels[1], "gear");
    pw_conf_fini(&root, &c);
}

Test(pw_conf, set_replaces_whole_lists_from_yaml)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &c, "channels=[a, \"b c\"]", &err), 0,
                 "%s", err.msg);
    cr_assert_eq(c.nchannels, 2);
    cr_assert_str_eq(c.channels[1], "b c");
    cr_assert_eq(pw_conf_set(&root, &c,
                             "stream.topics=[{name: x, partitions: 3, "
                             "tags: [t]}]", &err), 0, "%s", err.msg);
    cr_assert_eq(c.stream.ntopics, 1);
    cr_assert_str_eq(c.stream.topics[0].name, "x");
    cr_assert_eq(c.stream.topics[0].partitions, 3);
    cr_assert_str_eq(c.stream.topics[0].tags[0], "t");
    cr_assert_eq(pw_conf_set(&root, &c, "channels=", &err), 0);
    cr_assert_eq(c.nchannels, 0);
    cr_assert_null(c.channels);
    pw_conf_fini(&root, &c);
}

Test(pw_conf, set_errors_leave_the_value_unchanged)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(load(&c, "", &err), 0);
    expect_set_error(&c, "log.durability=fsync",
                     "log.durability: 'fsync' is not one of sync, group, "
                     "none");
    expect_set_error(&c, "log.durabilty=sync",
                     "unknown key 'durabilty' in section 'log' (expected one "
                     "of: durability, group_commit_ms, map_size, path, "
                     "sync_dir)");
    expect_set_error(&c, "lg.durability=sync",
                     "unknown key 'lg' at the top level (expected one of: "
                     "log, sim, stream, api, channels)");
    expect_set_error(&c, "sim.rate_pps=0",
                     "sim.rate_pps: 0 is below the minimum 1");
    expect_set_error(&c, "sim.rate_pps=12abc",
                     "sim.rate_pps: expected an integer, got '12abc'");
    expect_set_error(&c, "stream.topics[5].partitions=2",
                     "stream.topics[5]: no such element (the list has 2)");
    expect_set_error(&c, "stream.topics[1].partitions=0",
                     "stream.topics[1].partitions: 0 is below the minimum 1");
    expect_set_error(&c, "stream.topics.partitions=2",
                     "stream.topics: is a list; pick an element, e.g. "
                     "stream.topics[0].name");
    expect_set_error(&c, "stream.topics[0]=x",
                     "stream.topics[0]: is a section; set one of its keys, "
                     "e.g. stream.topics[0].name=...");
    expect_set_error(&c, "log=x",
                     "log: is a section; set one of its keys (durability, "
                     "group_commit_ms, map_size, path, sync_dir)");
    expect_set_error(&c, "log.path.x=1",
                     "log.path: not a section, has no keys");
    expect_set_error(&c, "log[0].path=1",
                     "log: not a list, cannot index it");
    expect_set_error(&c, "log.durability", "override 'log.durability': "
                     "expected key=value, e.g. log.durability=sync");
    expect_set_error(&c, "log..x=1", "override 'log..x': empty key name");
    expect_set_error(&c, "channels[x]=1",
                     "override 'channels[x]': expected a path like a.b, "
                     "a[0].b");
    expect_set_error(&c, "stream.topics=[{name: a, partitons: 2}]",
                     "unknown key 'partitons' in section 'stream.topics[0]' "
                     "(expected one of: name, partitions, limits, tags)");
    expect_set_error(&c, "channels=[a, b",
                     "channels: invalid YAML at the end: did not find "
                     "expected ',' or ']' (while parsing a flow sequence at "
                     "column 1)");
    expect_set_error(&c, "channels=[a, b: c: d]",
                     "channels: invalid YAML at column 9: did not find "
                     "expected ',' or ']' (while parsing a flow sequence at "
                     "column 1)");
    expect_set_error(&c, "channels=a",
                     "channels: expected a list of strings like [a, b], got "
                     "'a'");
    expect_defaults(&c);
    pw_conf_fini(&root, &c);
}

/* ---- Help and dump. */

Test(pw_conf, help_lists_every_key_with_type_default_and_range)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(pw_conf_print_help(f, &root), 0);
    fclose(f);
    static const char *const paths[] = {
        "log.durability", "log.group_commit_ms", "log.map_size", "log.path",
        "log.sync_dir", "sim.rate_pps", "sim.gain", "sim.enabled",
        "sim.title", "stream.backend", "stream.topics[]",
        "stream.topics[].name", "stream.topics[].partitions",
        "stream.topics[].limits.max_bytes",
        "stream.topics[].limits.max_age_ms", "stream.topics[].tags",
        "api.port", "api.idle_timeout_ms", "api.tls.enabled", "api.tls.cert",
        "channels",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s ", paths[i]);
        cr_assert_not_null(strstr(buf, line), "no %s in:\n%s", paths[i], buf);
    }
    cr_assert_not_null(strstr(buf, "enum, one of: sync, group, none; "
                                   "default: group\n    When an append is "
                                   "durable"), "%s", buf);
    cr_assert_not_null(strstr(buf, "duration, 1ms..10s; default: 10ms"));
    cr_assert_not_null(strstr(buf, "size, >= 1MiB; default: 1GiB"));
    cr_assert_not_null(strstr(buf, "list of topic; default: [{name: "
                                   "telemetry, partitions: 4}, {name: "
                                   "results}]"));
    cr_assert_not_null(strstr(buf, "string list; default: [rpm, speed, "
                                   "throttle]"));
    cr_assert_not_null(strstr(buf, "    Number of partitions.\n"));
    free(buf);
}

static char *dump_to_string(const t_conf_t *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(pw_conf_dump(f, &root, c), 0);
    fclose(f);
    return buf;
}

Test(pw_conf, dump_then_reload_gives_the_same_values)
{
    t_conf_t a, b;
    pw_err_t err;
    cr_assert_eq(load(&a, good_yaml, &err), 0);
    /* Values that need quoting or odd units. */
    cr_assert_eq(pw_conf_set(&root, &a, "log.path=", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "sim.title=say \"hi\"\\\n\tnull",
                             &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "api.tls.cert=null", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "channels[0]=~", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "channels[1]=- x", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "sim.gain=0.1", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "log.group_commit_ms=1500", &err), 0);
    cr_assert_eq(pw_conf_set(&root, &a, "stream.topics[1].limits.max_bytes="
                             "1500", &err), 0);
    char *text = dump_to_string(&a);
    cr_assert_eq(load(&b, text, &err), 0, "%s\n%s", err.msg, text);
    char *again = dump_to_string(&b);
    cr_assert_str_eq(text, again);
    cr_assert_str_eq(b.sim.title, "say \"hi\"\\\n\tnull");
    cr_assert_null(b.log.path);
    cr_assert_null(b.api.tls.cert, "plain null in a set means NULL");
    cr_assert_str_eq(b.channels[0], "~", "a string '~' stays a string");
    cr_assert_str_eq(b.channels[1], "- x");
    cr_assert_eq(b.sim.gain, 0.1);
    cr_assert_eq(b.log.group_commit_ms, 1500);
    cr_assert_eq(b.stream.topics[1].limits.max_bytes, 1500);
    cr_assert_eq(b.stream.topics[0].ntags, 2);
    cr_assert_not_null(strstr(text, "  group_commit_ms: 1500ms\n"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "  map_size: 512MiB\n"));
    cr_assert_not_null(strstr(text,
                              "  topics:\n"
                              "    - name: telemetry\n"
                              "      partitions: 8\n"
                              "      limits:\n"
                              "        max_bytes: 4GiB\n"
                              "        max_age_ms: 5m\n"
                              "      tags: [raw, cars]\n"
                              "    - name: events\n"), "%s", text);
    free(text);
    free(again);
    pw_conf_fini(&root, &a);
    pw_conf_fini(&root, &b);
}

Test(pw_conf, dump_of_defaults_reloads_to_defaults)
{
    t_conf_t a, b;
    pw_err_t err;
    cr_assert_eq(load(&a, "", &err), 0);
    char *text = dump_to_string(&a);
    cr_assert_eq(load(&b, text, &err), 0, "%s\n%s", err.msg, text);
    expect_defaults(&b);
    pw_conf_fini(&root, &a); /* load overwrites: fini what a held first */
    cr_assert_eq(load(&a, "stream: {topics: []}\nchannels: []\n", &err), 0);
    free(text);
    text = dump_to_string(&a);
    cr_assert_not_null(strstr(text, "  topics: []\n"), "%s", text);
    cr_assert_not_null(strstr(text, "channels: []\n"), "%s", text);
    pw_conf_fini(&root, &b);
    cr_assert_eq(load(&b, text, &err), 0, "%s\n%s", err.msg, text);
    cr_assert_eq(b.stream.ntopics, 0);
    free(text);
    pw_conf_fini(&root, &a);
    pw_conf_fini(&root, &b);
}

/* ---- Schema bugs are caught by pw_conf_defaults. */

typedef struct t_small {
    int64_t n;
    int e;
    char **list;
    size_t nlist;
} t_small_t;

static int defaults_of(const pw_conf_key_t *keys, size_t n, pw_err_t *err)
{
    pw_conf_section_t sec = { "small", "", keys, n };
    t_small_t s;
    int rc = pw_conf_defaults(&sec, &s, err);
    pw_conf_fini(&sec, &s);
    return rc;
}

Test(pw_conf, defaults_reject_schema_bugs)
{
    pw_err_t err;
    pw_conf_key_t bad_def[] = {
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n),
          .def = "ten" },
    };
    cr_assert_eq(defaults_of(bad_def, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: default of n: expected an "
                              "integer, got 'ten'");

    pw_conf_key_t out_of_range[] = {
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n),
          .def = "0", .min = "1" },
    };
    cr_assert_eq(defaults_of(out_of_range, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: default of n: 0 is below the "
                              "minimum 1");

    pw_conf_key_t no_choices[] = {
        { .name = "e", .type = PW_CONF_ENUM, .offset = offsetof(t_small_t, e) },
    };
    cr_assert_eq(defaults_of(no_choices, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: e: enum without choices");

    pw_conf_key_t bad_bound[] = {
        { .name = "n", .type = PW_CONF_DURATION_MS,
          .offset = offsetof(t_small_t, n), .min = "soon" },
    };
    cr_assert_eq(defaults_of(bad_bound, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: n: min: expected a duration like "
                              "10ms or 2s, got 'soon'");

    pw_conf_key_t bad_list_def[] = {
        { .name = "list", .type = PW_CONF_STRLIST,
          .offset = offsetof(t_small_t, list),
          .count_offset = offsetof(t_small_t, nlist), .def = "[a, [b]]" },
    };
    cr_assert_eq(defaults_of(bad_list_def, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: default of list: list[1]: "
                              "expected a string, got a list");

    /* A bad default inside list elements is caught with the list empty. */
    static const pw_conf_key_t elem_keys[] = {
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n),
          .def = "one" },
    };
    static const pw_conf_section_t elem = { "elem", "", elem_keys, 1 };
    pw_conf_key_t bad_in_list[] = {
        { .name = "list", .type = PW_CONF_LIST,
          .offset = offsetof(t_small_t, list),
          .count_offset = offsetof(t_small_t, nlist),
          .elem_size = sizeof(t_small_t), .sub = &elem },
    };
    cr_assert_eq(defaults_of(bad_in_list, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: default of list[].n: expected an "
                              "integer, got 'one'");

    pw_conf_key_t min_above_max[] = {
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n),
          .min = "2", .max = "1" },
    };
    cr_assert_eq(defaults_of(min_above_max, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: n: min above max");

    pw_conf_key_t twice[] = {
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n) },
        { .name = "n", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n) },
    };
    cr_assert_eq(defaults_of(twice, 2, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: n: declared twice");

    pw_conf_key_t no_type[] = { { .name = "n" } };
    cr_assert_eq(defaults_of(no_type, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: n: no type");

    pw_conf_key_t dotted[] = {
        { .name = "a.b", .type = PW_CONF_INT, .offset = offsetof(t_small_t, n) },
    };
    cr_assert_eq(defaults_of(dotted, 1, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "schema bug: small: key 0 ('a.b') has a bad "
                              "name");
}

Test(pw_conf, null_arguments_are_rejected)
{
    t_conf_t c;
    pw_err_t err;
    cr_assert_eq(pw_conf_defaults(NULL, &c, &err), PW_EARG);
    cr_assert_eq(pw_conf_load_string("x", NULL, 3, &root, &c, &err), PW_EARG);
    cr_assert_eq(pw_conf_load_file(NULL, &root, &c, &err), PW_EARG);
    cr_assert_eq(pw_conf_set(&root, &c, NULL, &err), PW_EARG);
    cr_assert_eq(pw_conf_dump(NULL, &root, &c), PW_EARG);
    cr_assert_eq(pw_conf_print_help(stdout, NULL), PW_EARG);
    /* A NULL err is allowed. */
    cr_assert_eq(pw_conf_load_string("x", "log: 5", 6, &root, &c, NULL),
                 PW_ECONF);
    pw_conf_fini(&root, &c);
}

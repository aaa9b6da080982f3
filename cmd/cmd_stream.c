/*
 * pitwall stream: operate the stream log from the shell.
 *   create TOPIC      make a topic with partitions and retention
 *   list              topics, partitions, offsets and bytes
 *   append TOPIC      append msgpack batches or JSON lines of points
 *   tail TOPIC        print records as JSON lines, optionally following
 *   positions         show or set consumer group positions
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/app.h"
#include "cmd/app_json.h"
#include "ingest/ing_format.h"
#include "cmd/cmd.h"
#include "core/pw_codec.h"
#include "core/pw_conf.h"
#include "core/pw_record.h"
#include "core/pw_time.h"

#define CMD "stream"

/* Messages fetched per read call by tail. */
#define TAIL_READ_MAX 64
/* How often tail --follow looks for new messages. */
#define FOLLOW_POLL_NS (50 * PW_NS_PER_MS)
/* Largest input `append` reads (it validates everything before writing). */
#define APPEND_INPUT_MAX ((size_t)1 << 30)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The flags every stream subcommand takes, parsed in one place. */
typedef struct stream_args {
    app_conf_flags_t conf;
    const char *topic;
    const char *partitions, *retention_age, *retention_bytes; /* create */
    const char *input, *format, *key, *partition, *batch;    /* append */
    const char *from, *group, *max, *set;                    /* tail, positions */
    int follow;
} stream_args_t;

static int parse_args(const char *sub, int argc, char **argv, stream_args_t *a)
{
    static const struct {
        const char *flag;
        size_t off;
    } valued[] = {
        {"--partitions", offsetof(stream_args_t, partitions)},
        {"--retention-age", offsetof(stream_args_t, retention_age)},
        {"--retention-bytes", offsetof(stream_args_t, retention_bytes)},
        {"--input", offsetof(stream_args_t, input)},
        {"--format", offsetof(stream_args_t, format)},
        {"--key", offsetof(stream_args_t, key)},
        {"--partition", offsetof(stream_args_t, partition)},
        {"--batch", offsetof(stream_args_t, batch)},
        {"--from", offsetof(stream_args_t, from)},
        {"--group", offsetof(stream_args_t, group)},
        {"--max", offsetof(stream_args_t, max)},
        {"--set-offset", offsetof(stream_args_t, set)},
    };
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        int t = app_conf_take_flag(&a->conf, argc, argv, &i, CMD);
        if (t < 0)
            return -1;
        if (t > 0)
            continue;
        if (!strcmp(argv[i], "--follow")) {
            a->follow = 1;
            continue;
        }
        size_t k = 0;
        while (k < sizeof valued / sizeof valued[0] && strcmp(valued[k].flag, argv[i]))
            k++;
        if (k < sizeof valued / sizeof valued[0]) {
            if (i + 1 >= argc) {
                cmd_usage_error(CMD, "%s %s needs a value", sub, argv[i]);
                return -1;
            }
            *(const char **)((char *)a + valued[k].off) = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cmd_usage_error(CMD, "%s: unknown flag '%s'", sub, argv[i]);
            return -1;
        } else if (a->topic == NULL) {
            a->topic = argv[i];
        } else {
            cmd_usage_error(CMD, "%s: unexpected argument '%s'", sub, argv[i]);
            return -1;
        }
    }
    return 0;
}

/* Parse a whole non-negative integer within [min, max]; -1 if malformed. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Load the configuration and open the stream; prints the error. */
static int open_all(const stream_args_t *a, int read_only, app_conf_t *c,
                    app_names_t *names, pw_stream_t **s)
{
    pw_err_t err = {0};
    memset(names, 0, sizeof *names);
    *s = NULL;
    if (app_conf_load(&a->conf, c, &err)) {
        fprintf(stderr, "pitwall stream: %s\n", err.msg);
        return -1;
    }
    int rc = app_names_open(c, names, &err);
    if (rc == 0)
        rc = app_stream_open(c, names, read_only, 0, s, &err);
    if (rc) {
        char dir[4096];
        app_log_dir(c, dir, sizeof dir);
        fprintf(stderr, "pitwall stream: %s: %s\n", dir, err.msg);
        app_names_close(names);
        app_conf_fini(c);
        return -1;
    }
    return 0;
}

static void close_all(app_conf_t *c, app_names_t *names, pw_stream_t *s)
{
    pw_stream_close(s);
    app_names_close(names);
    app_conf_fini(c);
}

/* Number of partitions of topic, or a negative error. */
static int32_t topic_partitions(pw_stream_t *s, const char *topic, pw_err_t *err)
{
    int64_t e, n;
    int rc = pw_stream_bounds(s, topic, 0, &e, &n, err);
    if (rc)
        return rc;
    int32_t p = 1;
    while (pw_stream_bounds(s, topic, p, &e, &n, NULL) == 0)
        p++;
    return p;
}

/* ---- create ------------------------------------------------------------- */

static int stream_create(const stream_args_t *a)
{
    if (!a->topic)
        return cmd_usage_error(CMD, "create needs a TOPIC");
    int64_t parts = 1;
    if (a->partitions && parse_int(a->partitions, 1, 4096, &parts))
        return cmd_usage_error(CMD, "--partitions wants 1..4096, got '%s'", a->partitions);
    /* Durations and sizes are read by the topic's configuration keys. */
    st_topic_conf_t t;
    pw_err_t err = {0};
    char set[300];
    int rc = pw_conf_defaults(&st_topic_conf_section, &t, &err);
    if (rc == 0 && a->retention_age) {
        snprintf(set, sizeof set, "retention_age=%s", a->retention_age);
        rc = pw_conf_set(&st_topic_conf_section, &t, set, &err);
    }
    if (rc == 0 && a->retention_bytes) {
        snprintf(set, sizeof set, "retention_bytes=%s", a->retention_bytes);
        rc = pw_conf_set(&st_topic_conf_section, &t, set, &err);
    }
    pw_conf_fini(&st_topic_conf_section, &t);
    if (rc) {
        fprintf(stderr, "pitwall stream: create: %s\n", err.msg);
        return 2;
    }
    app_conf_t c;
    app_names_t names;
    pw_stream_t *s;
    if (open_all(a, 0, &c, &names, &s))
        return 1;
    pw_stream_retention_t r = st_topic_conf_retention(&t);
    rc = pw_stream_topic_create(s, a->topic, (int32_t)parts, &r, &err);
    if (rc)
        fprintf(stderr, "pitwall stream: create '%s': %s\n", a->topic, err.msg);
    else
        printf("created topic '%s' with %lld partition%s\n", a->topic, (long long)parts,
               parts == 1 ? "" : "s");
    close_all(&c, &names, s);
    return rc ? 1 : 0;
}

/* ---- list --------------------------------------------------------------- */

static int print_topic(void *ctx, const pw_stream_topic_info_t *t)
{
    (void)ctx;
    int64_t bytes = 0, msgs = 0;
    for (int32_t p = 0; p < t->partitions; p++) {
        bytes += t->parts[p].bytes;
        msgs += t->parts[p].next - t->parts[p].earliest;
    }
    printf("%s: %d partition%s, %lld batches, %.1f MB, retention age %lld ms bytes %lld\n",
           t->name, t->partitions, t->partitions == 1 ? "" : "s", (long long)msgs,
           (double)bytes / 1e6, (long long)t->retention.max_age_ms,
           (long long)t->retention.max_bytes);
    for (int32_t p = 0; p < t->partitions; p++)
        printf("  partition %d: earliest %lld next %lld bytes %lld\n", p,
               (long long)t->parts[p].earliest, (long long)t->parts[p].next,
               (long long)t->parts[p].bytes);
    return 0;
}

static int stream_list(const stream_args_t *a)
{
    app_conf_t c;
    app_names_t names;
    pw_stream_t *s;
    if (open_all(a, 1, &c, &names, &s))
        return 1;
    pw_err_t err = {0};
    int rc = pw_stream_topic_list(s, print_topic, NULL, &err);
    if (rc)
        fprintf(stderr, "pitwall stream: list: %s\n", err.msg);
    close_all(&c, &names, s);
    return rc ? 1 : 0;
}

/* ---- append ------------------------------------------------------------- */

/* Read all of path ("-" = stdin) into a heap buffer. */
static int read_input(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "pitwall stream: append: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= APPEND_INPUT_MAX) {
                fprintf(stderr, "pitwall stream: append: %s is larger than %zu MiB; split it\n",
                        path, APPEND_INPUT_MAX >> 20);
                free(buf);
                buf = NULL;
                break;
            }
            char *b2 = realloc(buf, cap * 2);
            if (!b2) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b2;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        if (bad)
            fprintf(stderr, "pitwall stream: append: error reading %s\n", path);
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Encoded batches collected from the jsonl decoder before anything is appended. */
typedef struct collected {
    pw_codec_buf_t *bufs;
    size_t n, cap;
} collected_t;

static pw_codec_buf_t *collect_slot(collected_t *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        pw_codec_buf_t *b2 = realloc(c->bufs, cap * sizeof *b2);
        if (!b2)
            return NULL;
        c->bufs = b2;
        c->cap = cap;
    }
    pw_codec_buf_init(&c->bufs[c->n]);
    return &c->bufs[c->n++];
}

static int collect_points(void *ctx, const pw_points_t *b)
{
    pw_codec_buf_t *slot = collect_slot(ctx);
    return slot ? pw_codec_encode_points(slot, b, NULL) : PW_ENOMEM;
}

static int collect_frames(void *ctx, const pw_frames_t *b)
{
    pw_codec_buf_t *slot = collect_slot(ctx);
    return slot ? pw_codec_encode_frames(slot, b, NULL) : PW_ENOMEM;
}

static void collected_free(collected_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        pw_codec_buf_fini(&c->bufs[i]);
    free(c->bufs);
    memset(c, 0, sizeof *c);
}

/*
 * JSON lines (ingest/ing_jsonl.c, names must be in the configuration so
 * ids mean the same to every process) into encoded batches of at most
 * batch points. Any bad line refuses the whole input.
 */
static int jsonl_to_batches(const char *path, const char *data, size_t len, size_t batch,
                            app_names_t *names, collected_t *out, size_t *records)
{
    ing_opts_t o = {.batch_points = batch, .batch_frames = batch, .known_names_only = 1};
    ing_names_t in = {names->channels, names->entities, names->labels};
    ing_emit_t emit = {.points = collect_points, .frames = collect_frames, .ctx = out};
    ing_stats_t st;
    ing_stats_init(&st);
    pw_err_t err = {0};
    int rc = ing_jsonl_decode(path, (const uint8_t *)data, len, &o, &in, &emit, &st, &err);
    if (rc == 0 && st.skipped) {
        fprintf(stderr, "pitwall stream: append: %s; nothing appended\n", st.first_problem);
        rc = -1;
    } else if (rc) {
        fprintf(stderr, "pitwall stream: append: %s: %s\n", path,
                err.msg[0] ? err.msg : pw_strerror(rc));
    }
    if (rc)
        collected_free(out);
    else
        *records = (size_t)(st.points + st.frames);
    return rc;
}

/* Check that data[0..len) is one valid Pitwall batch of any kind. */
static int validate_batch(pw_codec_decoder_t *dec, const void *data, size_t len,
                          size_t *records, pw_err_t *err)
{
    enum pw_codec_kind kind;
    size_t n;
    int rc = pw_codec_peek(data, len, &kind, &n, err);
    if (rc)
        return rc;
    pw_points_t p;
    pw_frames_t f;
    pw_results_t r;
    pw_points_init(&p);
    pw_frames_init(&f);
    pw_results_init(&r);
    if (kind == PW_CODEC_POINTS)
        rc = pw_codec_decode_points(dec, data, len, &p, err);
    else if (kind == PW_CODEC_FRAMES)
        rc = pw_codec_decode_frames(dec, data, len, &f, err);
    else
        rc = pw_codec_decode_results(dec, data, len, &r, err);
    pw_points_fini(&p);
    pw_frames_fini(&f);
    pw_results_fini(&r);
    *records = n;
    return rc;
}

static int stream_append(const stream_args_t *a)
{
    if (!a->topic)
        return cmd_usage_error(CMD, "append needs a TOPIC");
    const char *path = a->input ? a->input : "-";
    int64_t batch = 1000, part = PW_STREAM_PARTITION_ANY;
    if (a->batch && parse_int(a->batch, 1, 1 << 20, &batch))
        return cmd_usage_error(CMD, "--batch wants 1..1048576 points, got '%s'", a->batch);
    if (a->partition && parse_int(a->partition, 0, 4095, &part))
        return cmd_usage_error(CMD, "--partition wants a partition number, got '%s'",
                               a->partition);
    if (a->format && strcmp(a->format, "msgpack") && strcmp(a->format, "jsonl"))
        return cmd_usage_error(CMD, "--format is msgpack or jsonl, got '%s'", a->format);
    char *data = NULL;
    size_t len = 0;
    if (read_input(path, &data, &len))
        return 1;
    app_conf_t c;
    app_names_t names;
    pw_stream_t *s;
    if (open_all(a, 0, &c, &names, &s)) {
        free(data);
        return 1;
    }
    /* JSON lines start with '{'; a msgpack batch starts with a map header. */
    size_t first = 0;
    while (first < len && (data[first] == ' ' || data[first] == '\n' || data[first] == '\r'))
        first++;
    int jsonl = a->format ? !strcmp(a->format, "jsonl") : (first < len && data[first] == '{');
    collected_t col = {0};
    size_t nb = 0, records = 0;
    pw_err_t err = {0};
    int rc = 0;
    /* Everything is validated first, so a bad input appends nothing. */
    const void **msg = NULL;
    size_t *msglen = NULL;
    if (jsonl) {
        rc = jsonl_to_batches(path, data, len, (size_t)batch, &names, &col, &records);
        nb = col.n;
        if (rc == 0) {
            msg = calloc(nb + 1, sizeof *msg);
            msglen = calloc(nb + 1, sizeof *msglen);
            rc = (!msg || !msglen) ? -1 : 0;
            for (size_t i = 0; rc == 0 && i < nb; i++) {
                msg[i] = col.bufs[i].data;
                msglen[i] = col.bufs[i].len;
            }
        }
    } else {
        pw_codec_decoder_t *dec = NULL;
        rc = pw_codec_decoder_create(&dec);
        size_t cap = 0;
        for (size_t off = 0; rc == 0 && off < len;) {
            size_t ml = 0, n = 0;
            rc = pw_codec_message_len(data + off, len - off, &ml, &err);
            if (rc == 0)
                rc = validate_batch(dec, data + off, ml, &n, &err);
            if (rc) {
                fprintf(stderr, "pitwall stream: append: %s: batch %zu at byte %zu: %s; "
                        "nothing appended\n", path, nb + 1, off, err.msg);
                break;
            }
            if (nb == cap) {
                cap = cap ? cap * 2 : 16;
                const void **m2 = realloc(msg, cap * sizeof *msg);
                size_t *l2 = m2 ? realloc(msglen, cap * sizeof *msglen) : NULL;
                if (m2)
                    msg = m2;
                if (!m2 || !l2) {
                    rc = -1;
                    break;
                }
                msglen = l2;
            }
            msg[nb] = data + off;
            msglen[nb++] = ml;
            records += n;
            off += ml;
        }
        pw_codec_decoder_destroy(dec);
    }
    if (rc == 0 && nb == 0) {
        fprintf(stderr, "pitwall stream: append: %s holds no records\n", path);
        rc = -1;
    }
    int32_t parts = 0;
    if (rc == 0 && (parts = topic_partitions(s, a->topic, &err)) < 0) {
        fprintf(stderr, "pitwall stream: append: %s\n", err.msg);
        rc = -1;
    }
    if (rc == 0 && part >= parts) {
        fprintf(stderr, "pitwall stream: append: topic '%s' has %d partitions; no "
                "partition %lld\n", a->topic, parts, (long long)part);
        rc = -1;
    }
    int64_t first_off = -1, last_off = -1;
    pw_stream_pos_t pos = {0};
    for (size_t i = 0; rc == 0 && i < nb; i++) {
        size_t klen = a->key ? strlen(a->key) : 0;
        rc = pw_stream_append(s, a->topic, (int32_t)part, a->key, klen, msg[i], msglen[i],
                              &pos, &err);
        if (rc)
            fprintf(stderr, "pitwall stream: append: batch %zu: %s\n", i + 1, err.msg);
        if (first_off < 0)
            first_off = pos.offset;
        last_off = pos.offset;
    }
    uint64_t acked = 0;
    if (rc == 0 && (rc = pw_stream_flush(s, 10000, &acked, &err)) != 0)
        fprintf(stderr, "pitwall stream: append: flush: %s\n", err.msg);
    if (rc == 0)
        printf("appended %zu batch%s (%zu records) to '%s' (last at partition %d offset "
               "%lld)\n", nb, nb == 1 ? "" : "es", records, a->topic, pos.partition,
               (long long)last_off);
    collected_free(&col);
    free(msg);
    free(msglen);
    free(data);
    close_all(&c, &names, s);
    return rc ? 1 : 0;
}

/* ---- tail --------------------------------------------------------------- */

typedef struct tail {
    app_names_t *names;
    pw_codec_decoder_t *dec;
    pw_points_t points;
    pw_frames_t frames;
    pw_results_t results;
    uint64_t printed, max;
} tail_t;

static void emit(tail_t *t, json_t *o)
{
    app_json_print(stdout, o);
    t->printed++;
}

/* Add every key of x to o and drop x. */
static void merge(json_t *o, json_t *x)
{
    json_object_update(o, x);
    json_decref(x);
}

static json_t *json_pos(const char *topic, const pw_stream_msg_t *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "topic", json_string(topic));
    json_object_set_new(o, "partition", json_integer(m->partition));
    json_object_set_new(o, "offset", json_integer(m->offset));
    return o;
}

/* Print every record of one message, as far as --max allows. */
static void tail_message(tail_t *t, const char *topic, const pw_stream_msg_t *m)
{
    enum pw_codec_kind kind = 0;
    size_t n = 0;
    pw_err_t err = {0};
    int rc = pw_codec_peek(m->payload, m->payload_len, &kind, &n, &err);
    if (rc == 0 && kind == PW_CODEC_POINTS)
        rc = pw_codec_decode_points(t->dec, m->payload, m->payload_len, &t->points, &err);
    else if (rc == 0 && kind == PW_CODEC_FRAMES)
        rc = pw_codec_decode_frames(t->dec, m->payload, m->payload_len, &t->frames, &err);
    else if (rc == 0)
        rc = pw_codec_decode_results(t->dec, m->payload, m->payload_len, &t->results, &err);
    if (rc) {
        /* Not a Pitwall batch: say so, with where it is, and go on. */
        json_t *o = json_pos(topic, m);
        json_object_set_new(o, "payload_bytes", json_integer((json_int_t)m->payload_len));
        json_object_set_new(o, "undecodable", json_string(err.msg));
        emit(t, o);
        return;
    }
    for (size_t i = 0; i < n && (!t->max || t->printed < t->max); i++) {
        json_t *o = json_pos(topic, m);
        if (kind == PW_CODEC_POINTS) {
            merge(o, app_json_point(t->names, &t->points, i));
        } else if (kind == PW_CODEC_FRAMES) {
            merge(o, app_json_frame(t->names, &t->frames, i));
        } else {
            const pw_result_t *r = &t->results.rec[i];
            json_object_set_new(o, "ts_ns", json_integer(r->ts_ns));
            json_object_set_new(o, "result_topic", json_stringn(r->topic, r->topic_len));
            json_object_set_new(o, "key", json_stringn(r->key, r->key_len));
            json_object_set_new(o, "version", json_integer(r->version));
            json_object_set_new(o, "body_bytes", json_integer(r->body_len));
        }
        emit(t, o);
    }
}

/* Where to start in one partition: an offset, earliest, latest or a group. */
static int tail_start(pw_stream_t *s, const stream_args_t *a, int32_t p, int64_t *from,
                      pw_err_t *err)
{
    if (a->group) {
        int rc = pw_stream_position_get(s, a->group, a->topic, p, from, err);
        if (rc != PW_ENOTFOUND)
            return rc;
    }
    const char *f = a->from ? a->from : "earliest";
    if (!strcmp(f, "earliest"))
        *from = PW_STREAM_OFFSET_BEGINNING;
    else if (!strcmp(f, "latest"))
        *from = PW_STREAM_OFFSET_END;
    else if (parse_int(f, 0, INT64_MAX, from))
        return pw_err_set(err, PW_EUSAGE,
                          "--from wants earliest, latest or an offset, got '%s'", f);
    /* Resolve symbolic starts now so offsets advance from a number. */
    int64_t earliest, next;
    int rc = pw_stream_bounds(s, a->topic, p, &earliest, &next, err);
    if (rc)
        return rc;
    if (*from == PW_STREAM_OFFSET_BEGINNING)
        *from = earliest;
    else if (*from == PW_STREAM_OFFSET_END)
        *from = next;
    return 0;
}

static int stream_tail(const stream_args_t *a)
{
    if (!a->topic)
        return cmd_usage_error(CMD, "tail needs a TOPIC");
    int64_t only = -1, max = 0;
    if (a->partition && parse_int(a->partition, 0, 4095, &only))
        return cmd_usage_error(CMD, "--partition wants a partition number, got '%s'",
                               a->partition);
    if (a->max && parse_int(a->max, 1, INT64_MAX, &max))
        return cmd_usage_error(CMD, "--max wants a number of records, got '%s'", a->max);
    /* A group commits positions, so it needs the write side. */
    app_conf_t c;
    app_names_t names;
    pw_stream_t *s;
    if (open_all(a, a->group ? 0 : 1, &c, &names, &s))
        return 1;
    pw_err_t err = {0};
    tail_t t = {.names = &names, .max = (uint64_t)max};
    pw_points_init(&t.points);
    pw_frames_init(&t.frames);
    pw_results_init(&t.results);
    int rc = pw_codec_decoder_create(&t.dec);
    int32_t parts = rc ? rc : topic_partitions(s, a->topic, &err);
    int64_t *next = NULL;
    if (parts < 0)
        rc = parts;
    else if (only >= parts)
        rc = pw_err_set(&err, PW_EARG, "topic '%s' has %d partitions; no partition %lld",
                        a->topic, parts, (long long)only);
    if (rc == 0 && !(next = calloc((size_t)parts, sizeof *next)))
        rc = pw_err_set(&err, PW_ENOMEM, "out of memory");
    for (int32_t p = 0; rc == 0 && p < parts; p++)
        if (only < 0 || p == only)
            rc = tail_start(s, a, p, &next[p], &err);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (rc == 0 && !stop_requested && (!t.max || t.printed < t.max)) {
        size_t total = 0;
        for (int32_t p = 0; rc == 0 && p < parts && (!t.max || t.printed < t.max); p++) {
            if (only >= 0 && p != only)
                continue;
            pw_stream_msg_t msgs[TAIL_READ_MAX];
            size_t n = 0;
            rc = pw_stream_read(s, a->topic, p, next[p], msgs, TAIL_READ_MAX, &n, &err);
            if (rc == PW_ERANGE) {
                /* Retention deleted what we were about to read: skip ahead. */
                int64_t earliest, nx;
                rc = pw_stream_bounds(s, a->topic, p, &earliest, &nx, &err);
                if (rc == 0 && next[p] < earliest) {
                    fprintf(stderr, "pitwall stream: tail: partition %d: offsets %lld..%lld "
                            "were deleted by retention; going on from %lld\n", p,
                            (long long)next[p], (long long)earliest - 1, (long long)earliest);
                    next[p] = earliest;
                }
                continue;
            }
            for (size_t i = 0; rc == 0 && i < n && (!t.max || t.printed < t.max); i++) {
                tail_message(&t, a->topic, &msgs[i]);
                next[p] = msgs[i].offset + 1;
            }
            total += n;
            if (rc == 0 && a->group && n)
                rc = pw_stream_position_commit(s, a->group, a->topic, p, next[p], &err);
        }
        if (ferror(stdout))
            break; /* reader went away (a closed pipe) */
        fflush(stdout);
        if (rc == 0 && a->group)
            rc = pw_stream_poll(s, NULL, &err);
        if (total == 0) {
            if (!a->follow)
                break;
            /* Names a writer publishes later, for the records it sends later. */
            if (rc == 0)
                rc = app_names_load(t.names, s, &err);
            pw_sleep_until_ns(pw_mono_ns() + FOLLOW_POLL_NS);
        }
    }
    if (rc == 0 && a->group)
        rc = pw_stream_flush(s, 5000, NULL, &err);
    if (rc)
        fprintf(stderr, "pitwall stream: tail '%s': %s\n", a->topic,
                err.msg[0] ? err.msg : pw_strerror(rc));
    free(next);
    pw_points_fini(&t.points);
    pw_frames_fini(&t.frames);
    pw_results_fini(&t.results);
    pw_codec_decoder_destroy(t.dec);
    close_all(&c, &names, s);
    return rc ? 1 : 0;
}

/* ---- positions ---------------------------------------------------------- */

typedef struct positions_ctx {
    pw_stream_t *s;
    const stream_args_t *a;
    int found;
} positions_ctx_t;

static int print_positions(void *ctx, const pw_stream_topic_info_t *t)
{
    positions_ctx_t *pc = ctx;
    if (pc->a->topic && strcmp(pc->a->topic, t->name))
        return 0;
    for (int32_t p = 0; p < t->partitions; p++) {
        int64_t pos;
        if (pw_stream_position_get(pc->s, pc->a->group, t->name, p, &pos, NULL) != 0)
            continue;
        printf("%s %s partition %d: position %lld (next %lld, lag %lld)\n", pc->a->group,
               t->name, p, (long long)pos, (long long)t->parts[p].next,
               (long long)(t->parts[p].next - pos));
        pc->found++;
    }
    return 0;
}

static int stream_positions(const stream_args_t *a)
{
    if (!a->group)
        return cmd_usage_error(CMD, "positions needs --group G");
    int64_t part = 0, off = 0;
    if (a->set) {
        if (!a->topic || !a->partition)
            return cmd_usage_error(CMD, "positions --set-offset needs TOPIC and --partition");
        if (parse_int(a->partition, 0, 4095, &part) || parse_int(a->set, 0, INT64_MAX, &off))
            return cmd_usage_error(CMD, "positions: bad --partition or --set-offset");
    }
    app_conf_t c;
    app_names_t names;
    pw_stream_t *s;
    if (open_all(a, a->set ? 0 : 1, &c, &names, &s))
        return 1;
    pw_err_t err = {0};
    int rc;
    if (a->set) {
        rc = pw_stream_position_commit(s, a->group, a->topic, (int32_t)part, off, &err);
        if (rc == 0)
            rc = pw_stream_flush(s, 5000, NULL, &err);
        if (rc == 0)
            printf("%s %s partition %lld: position %lld\n", a->group, a->topic,
                   (long long)part, (long long)off);
    } else {
        positions_ctx_t pc = {.s = s, .a = a};
        rc = pw_stream_topic_list(s, print_positions, &pc, &err);
        if (rc == 0 && pc.found == 0)
            printf("no positions stored for group '%s'\n", a->group);
    }
    if (rc)
        fprintf(stderr, "pitwall stream: positions: %s\n", err.msg);
    close_all(&c, &names, s);
    return rc ? 1 : 0;
}

int cmd_stream_main(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(CMD, "needs a subcommand: create, list, append, tail, positions");
    const char *sub = argv[1];
    stream_args_t a;
    if (parse_args(sub, argc, argv, &a))
        return 2;
    if (!strcmp(sub, "create"))
        return stream_create(&a);
    if (!strcmp(sub, "list"))
        return stream_list(&a);
    if (!strcmp(sub, "append"))
        return stream_append(&a);
    if (!strcmp(sub, "tail"))
        return stream_tail(&a);
    if (!strcmp(sub, "positions"))
        return stream_positions(&a);
    return cmd_usage_error(CMD, "unknown subcommand '%s'", sub);
}

/*
 * api_metrics: the Prometheus text of GET /metrics.
 */
#include "api/api_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_hist.h"
#include "pipeline/pl_pipeline.h"

void api_text_init(api_text_t *t)
{
    memset(t, 0, sizeof *t);
}

void api_text_fini(api_text_t *t)
{
    free(t->s);
    memset(t, 0, sizeof *t);
}

void api_text_printf(api_text_t *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        size_t room = t->cap - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (s == NULL) {
            t->oom = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

static void family(api_text_t *t, const char *name, const char *type, const char *help)
{
    api_text_printf(t, "# HELP pitwall_%s %s\n# TYPE pitwall_%s %s\n", name, help, name, type);
}

static void sample_u64(api_text_t *t, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    family(t, name, type, help);
    api_text_printf(t, "pitwall_%s %llu\n", name, (unsigned long long)v);
}

/*
 * Label values are operator names from the configuration: escape what the
 * text format needs escaped (backslash, quote, newline).
 */
static void label_value(api_text_t *t, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            api_text_printf(t, "\\%c", *p);
        else if (*p == '\n')
            api_text_printf(t, "\\n");
        else
            api_text_printf(t, "%c", *p);
    }
}

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999};

/* A summary's samples: quantiles, _sum and _count, in seconds. labels is
 * the inside of {...} without the quantile ("" for none). */
static void summary(api_text_t *t, const char *name, const char *labels, const pw_hist_t *h)
{
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
        api_text_printf(t, "pitwall_%s{%s%squantile=\"%g\"} %.9g\n", name, labels, sep,
                        quantiles[i], (double)pw_hist_quantile(h, quantiles[i]) / 1e9);
    api_text_printf(t, "pitwall_%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels,
                    labels[0] ? "}" : "", h->sum_ns / 1e9);
    api_text_printf(t, "pitwall_%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
                    labels[0] ? "}" : "", (unsigned long long)h->count);
}

/* The {operator="..",op=".."} labels of operator i, into a small text. */
static void op_labels(api_text_t *lab, const pl_op_stats_t *o)
{
    lab->len = 0;
    if (lab->s)
        lab->s[0] = '\0';
    api_text_printf(lab, "operator=\"");
    label_value(lab, o->name);
    api_text_printf(lab, "\",op=\"");
    label_value(lab, o->op);
    api_text_printf(lab, "\"");
}

enum { OP_IN, OP_OUT, OP_LATE, OP_DROPPED, OP_OUTSIDE, OP_KEYS };

static uint64_t op_value(const pl_op_stats_t *o, int which)
{
    switch (which) {
    case OP_IN: return o->cnt.in;
    case OP_OUT: return o->cnt.out;
    case OP_LATE: return o->cnt.late;
    case OP_DROPPED: return o->cnt.dropped;
    case OP_OUTSIDE: return o->cnt.outside;
    default: return o->cnt.keys;
    }
}

void api_metrics_pipeline(api_text_t *t, const pl_stats_t *s)
{
    sample_u64(t, "pipeline_workers", "gauge", "Pipeline worker threads.", (uint64_t)s->workers);
    sample_u64(t, "pipeline_records_total", "counter", "Records read from the sources.",
               s->records);
    sample_u64(t, "pipeline_messages_total", "counter", "Stream messages read.", s->messages);
    sample_u64(t, "pipeline_malformed_total", "counter",
               "Stream messages that did not decode (skipped).", s->malformed);
    sample_u64(t, "pipeline_skipped_retention_total", "counter",
               "Messages lost to the log's retention before the pipeline read them.",
               s->skipped_retention);
    sample_u64(t, "pipeline_checkpoints_total", "counter", "Checkpoints committed.",
               s->checkpoints);
    sample_u64(t, "pipeline_results_stored_total", "counter", "Results committed to the store.",
               s->results_stored);
    family(t, "pipeline_watermark_lag_seconds", "gauge",
           "Wall clock minus the slowest worker's watermark.");
    api_text_printf(t, "pitwall_pipeline_watermark_lag_seconds %.6f\n",
                    (double)s->watermark_lag_ns / 1e9);
    family(t, "pipeline_latency_seconds", "summary",
           "Stream append to: through the graph (graph), a sink (sink), the store commit "
           "(store).");
    summary(t, "pipeline_latency_seconds", "stage=\"graph\"", &s->graph);
    summary(t, "pipeline_latency_seconds", "stage=\"sink\"", &s->e2e);
    summary(t, "pipeline_latency_seconds", "stage=\"store\"", &s->e2e_store);

    static const struct {
        const char *name, *type, *help;
    } ops[] = {
        [OP_IN] = {"operator_records_in_total", "counter", "Records an operator received."},
        [OP_OUT] = {"operator_records_out_total", "counter", "Records an operator emitted."},
        [OP_LATE] = {"operator_late_total", "counter",
                     "Records past the allowed lateness (sent to the late port)."},
        [OP_DROPPED] = {"operator_dropped_total", "counter",
                        "Records an operator refused (bad value, state full)."},
        [OP_OUTSIDE] = {"operator_outside_total", "counter",
                        "Records no window covers by design (between segments); not lost."},
        [OP_KEYS] = {"operator_keys", "gauge", "Keys an operator holds now."},
    };
    api_text_t lab;
    api_text_init(&lab);
    for (int k = 0; k < (int)(sizeof ops / sizeof ops[0]); k++) {
        family(t, ops[k].name, ops[k].type, ops[k].help);
        for (int i = 0; i < s->nops; i++) {
            op_labels(&lab, &s->ops[i]);
            api_text_printf(t, "pitwall_%s{%s} %llu\n", ops[k].name, lab.s ? lab.s : "",
                            (unsigned long long)op_value(&s->ops[i], k));
        }
    }
    family(t, "operator_latency_seconds", "summary",
           "Time of one process or advance call of an operator.");
    for (int i = 0; i < s->nops; i++) {
        op_labels(&lab, &s->ops[i]);
        summary(t, "operator_latency_seconds", lab.s ? lab.s : "", &s->ops[i].latency);
    }
    if (lab.oom)
        t->oom = true;
    api_text_fini(&lab);
}

void api_metrics_hub(api_text_t *t, const api_hub_stats_t *s)
{
    sample_u64(t, "hub_offered_total", "counter",
               "Results the pipeline handed to the live hub.", s->offered);
    sample_u64(t, "hub_dropped_total", "counter",
               "Results the hub could not take (hand-off ring full, table full).",
               s->dropped_full);
    sample_u64(t, "hub_published_total", "counter", "Results the hub's loop took in.",
               s->published);
    sample_u64(t, "hub_names", "gauge", "Distinct topic/key names with a latest value.",
               s->names);
    sample_u64(t, "hub_clients", "gauge", "Connected WebSocket clients.", s->clients);
    sample_u64(t, "hub_subscriptions", "gauge", "Subscriptions of all clients.",
               s->subscriptions);
    sample_u64(t, "hub_queued_total", "counter", "Values given a client queue slot.", s->queued);
    sample_u64(t, "hub_conflated_total", "counter",
               "Values conflated because a client's queue was full or rate-limited.",
               s->conflated);
    sample_u64(t, "hub_missed_total", "counter",
               "Values replaced by a newer one before being sent.", s->missed);
    sample_u64(t, "hub_too_slow_total", "counter", "Clients closed for being too far behind.",
               s->too_slow);
    sample_u64(t, "hub_max_queue_depth", "gauge", "The longest client queue now.",
               s->max_queue_depth);
}

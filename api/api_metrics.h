/*
 * api_metrics: GET /metrics in the Prometheus text format (version 0.0.4):
 * what the pipeline, the live hub and the server count, for a scraper or
 * the System dashboard.
 *
 * Families (all prefixed pitwall_):
 *   pipeline_records_total, pipeline_messages_total, pipeline_malformed_total,
 *   pipeline_checkpoints_total, pipeline_results_stored_total,
 *   pipeline_watermark_lag_seconds, pipeline_workers,
 *   pipeline_latency_seconds{stage="graph|sink|store",quantile=...} (summary:
 *     stream append -> through the graph, -> a sink, -> the store commit),
 *   operator_records_in_total, operator_records_out_total,
 *   operator_late_total, operator_dropped_total, operator_outside_total,
 *   operator_keys,
 *   operator_latency_seconds{quantile=...} (per process/advance call), each
 *     labelled {operator="speed_1s",op="window"},
 *   hub_offered_total, hub_dropped_total (hand-off full), hub_published_total,
 *   hub_names, hub_clients, hub_subscriptions, hub_queued_total,
 *   hub_conflated_total, hub_missed_total, hub_too_slow_total,
 *   hub_max_queue_depth.
 *
 * The text is built in a growable buffer; api_text_* collects allocation
 * failure in .oom so callers check once at the end.
 */
#ifndef API_METRICS_H
#define API_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_hub.h"

struct pl_stats;

typedef struct api_text {
    char *s;    /* NUL-terminated while len > 0 */
    size_t len, cap;
    bool oom;   /* an append failed: the text is incomplete */
} api_text_t;

void api_text_init(api_text_t *t);
void api_text_fini(api_text_t *t);
void api_text_printf(api_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The pipeline's families from a pl_pipeline_stats() copy. */
void api_metrics_pipeline(api_text_t *t, const struct pl_stats *s);

/* The hub's families. */
void api_metrics_hub(api_text_t *t, const api_hub_stats_t *s);

#endif

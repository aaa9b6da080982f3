/*
 * app_json: records as JSON objects (jansson), the one shape `pitwall
 * ingest --dump` and `pitwall stream tail` print and ingest/ing_jsonl.c
 * reads back: names where the tables know them, ids otherwise, null for
 * NaN.
 */
#ifndef APP_JSON_H
#define APP_JSON_H

#include <jansson.h>
#include <stdio.h>

#include "cmd/app.h"
#include "core/pw_record.h"
#include "ingest/ing_format.h"

/* Point i of b as {"ts_ns","entity","channel","value"}; a new reference. */
json_t *app_json_point(const app_names_t *n, const pw_points_t *b, size_t i);

/* Frame i of b as {"ts_ns","session","labels","objects"}; a new reference. */
json_t *app_json_frame(const app_names_t *n, const pw_frames_t *b, size_t i);

/* A session's metadata as {"session","name","meta"}; a new reference. */
json_t *app_json_session(const ing_session_t *s);

/* Print o as one compact line to f and drop the reference. */
void app_json_print(FILE *f, json_t *o);

#endif

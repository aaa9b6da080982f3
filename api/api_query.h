/*
 * api_query: the HTTP query endpoints of the API, as plain functions from
 * a request (path and query string) to a response (status, content type,
 * body), reading the result store with its own read transactions (so they
 * never block the pipeline's writer). The server (api_server) does the
 * transport, authentication and scopes; this module does the meaning.
 *
 *   GET /v1/series    results of one topic (and key prefix) over a time range
 *   GET /v1/events    classified events of a session over a time range
 *   GET /v1/moments   a session's key moments, ranked by importance
 *   GET /v1/sessions  the sessions the store holds, with their spans
 *
 * Query parameters and answers are documented in api/HTTP.md (linked from
 * api/PROTOCOL.md). Times are Unix ns or ISO 8601; large answers are paged
 * with `limit` and an opaque `cursor` returned as `next` (and in
 * api_resp_t.next_cursor, for CSV answers, whose body has no room for it);
 * `format=csv` gives CSV for series and events. Bad parameters answer 400
 * with a JSON body {"error": ..., "parameter": ...} naming what was wrong.
 *
 * Threads: api_query_handle() may run on any thread, several at once; it
 * shares nothing between calls and reads the store through st_results_scan
 * and st_results_latest, each call a read transaction of its own (a page
 * may take several, so a page is not one snapshot: a result committed
 * meanwhile may or may not appear). Cost: a page reads the results it
 * returns plus, for a key prefix, one `latest` entry per key before the
 * cursor; answers are capped (rows by `limit`, bytes by
 * API_QUERY_PAGE_BYTES, moments and sessions by the counts below).
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/pw_error.h"

struct st_results;

/* Rows of a series or events page: default and most `limit` accepts. */
#define API_QUERY_LIMIT_DEFAULT 1000
#define API_QUERY_LIMIT_MAX 10000

/* A page stops early (with a `next` cursor) once its body passes this many
 * bytes; it always holds at least one row. */
#define API_QUERY_PAGE_BYTES (8u << 20)

/* Fields a `fields` list may name. */
#define API_QUERY_FIELDS_MAX 32

/* Moments: default and most `limit`; most events of a session ranked
 * (beyond, the answer says "truncated": true). */
#define API_QUERY_MOMENTS_DEFAULT 20
#define API_QUERY_MOMENTS_MAX 1000
#define API_QUERY_MOMENTS_EVENTS_MAX 100000

/* Most sessions listed (beyond: "truncated": true). */
#define API_QUERY_SESSIONS_MAX 10000

/* A response body being built; the caller owns and frees it. */
typedef struct api_resp {
    int status;               /* 200, 400, 404, 500 */
    const char *content_type; /* static string */
    char *body;               /* malloc'd, body_len bytes (NUL-terminated too) */
    size_t body_len;
    char *next_cursor;        /* malloc'd, or NULL: the cursor of the next
                                 page of a series or events answer (also in
                                 a JSON body as "next"); the server sends it
                                 as the `X-Next-Cursor` header, the only
                                 place a CSV answer has for it */
} api_resp_t;

/* Free body and next_cursor and set them to NULL. NULL is a no-op. */
void api_resp_free(api_resp_t *r);

/* Is path one of the endpoints above (so the server checks the token
 * before answering, and 404s anything else)? */
bool api_query_serves(const char *path);

/*
 * Answer GET path?query (query without the '?', may be NULL or "") from
 * store. Returns 1 when path is one of the endpoints above (*out filled,
 * including 4xx answers and a 500 for a store error), 0 when it is not
 * (*out untouched: the server answers 404 or serves a file), -ENOMEM
 * (*out untouched), or PW_EARG when out is NULL. path is compared exactly
 * ("/v1/series", not "/v1/series/"); a NULL path returns 0; a NULL store
 * answers 500. store, path and query are borrowed during the call.
 * Thread-safe (see above).
 */
int api_query_handle(struct st_results *store, const char *path, const char *query,
                     api_resp_t *out);

#endif

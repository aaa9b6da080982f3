/*
 * api_conf: the `api` configuration section (the WebSocket/HTTP server):
 * where it listens, the access tokens and their scopes, TLS, the limits
 * that keep one client from hurting the others, and the dashboards folder.
 * Loaded by the command layer with the rest of the file (core/pw_conf.h);
 * api_conf_check() makes the checks a table cannot (scope names, a TLS
 * pair given by halves) with file:line.
 */
#ifndef API_CONF_H
#define API_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "core/pw_error.h"

/* One element of `api.tokens`. */
typedef struct api_token_conf {
    char *token;      /* the secret itself; never logged */
    char **scopes;    /* read:live, read:history, admin */
    size_t nscopes;
    int line;         /* where the element is in the file (0: not from a file) */
} api_token_conf_t;

/* `api.tls`: TLS is on when both are set. */
typedef struct api_tls_conf {
    char *cert;       /* PEM certificate (chain) file */
    char *key;        /* PEM private key file */
} api_tls_conf_t;

/* `api.limits`. */
typedef struct api_limits_conf {
    int64_t max_clients;        /* WebSocket connections at once */
    int64_t max_subscriptions;  /* patterns per client */
    uint64_t max_message;       /* largest client message, bytes */
    int64_t idle_timeout_ms;    /* hang up after this long without any traffic */
    int64_t ping_interval_ms;   /* ping a connection silent for this long */
    int64_t client_queue;       /* updates queued per client before conflation */
    int64_t max_behind;         /* conflated names before a client is dropped */
} api_limits_conf_t;

/* The `api` section. */
typedef struct api_conf {
    char *listen;               /* address to bind: 127.0.0.1, 0.0.0.0, ::1 */
    int64_t port;               /* 0: an ephemeral port (tests) */
    api_token_conf_t *tokens;
    size_t ntokens;
    int tls_line;               /* line of `tls` in the file, 0 if absent */
    api_tls_conf_t tls;
    api_limits_conf_t limits;
    char *dashboards;           /* folder served as static files; NULL: none */
    char *results_topic;        /* stream topic `pitwall api` follows for live
                                   results; NULL or "": none */
} api_conf_t;

extern const pw_conf_section_t api_conf_section;

/*
 * Check what the table cannot: every scope is a known one, every token is
 * non-empty, and TLS has both a cert and a key or neither. path names the
 * file in messages (may be NULL). Returns 0 or PW_ECONF with
 * "path:line: api.tokens[1]: unknown scope 'read:all' (expected one of:
 * read:live, read:history, admin)".
 */
int api_conf_check(const api_conf_t *c, const char *path, pw_err_t *err);

#endif

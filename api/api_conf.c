#include "api/api_conf.h"

#include <stdbool.h>
#include <string.h>

#include "api/api_auth.h"

static const pw_conf_key_t token_keys[] = {
    {.name = "token", .type = PW_CONF_STRING, .offset = offsetof(api_token_conf_t, token),
     .desc = "the secret a client presents (Authorization: Bearer, or ?token=); never logged"},
    {.name = "scopes", .type = PW_CONF_STRLIST, .offset = offsetof(api_token_conf_t, scopes),
     .count_offset = offsetof(api_token_conf_t, nscopes), .def = "[read:live]",
     .desc = "what the token may do: read:live (WebSocket), read:history (HTTP "
             "queries), admin (everything)"},
};

static const pw_conf_section_t token_section = {
    .name = "token", .desc = "an access token", .keys = token_keys,
    .nkeys = PW_CONF_NKEYS(token_keys),
};

static const pw_conf_key_t tls_keys[] = {
    {.name = "cert", .type = PW_CONF_STRING, .offset = offsetof(api_tls_conf_t, cert),
     .desc = "PEM certificate file; TLS is on when cert and key are both set"},
    {.name = "key", .type = PW_CONF_STRING, .offset = offsetof(api_tls_conf_t, key),
     .desc = "PEM private key file"},
};

static const pw_conf_section_t tls_section = {
    .name = "tls", .desc = "TLS", .keys = tls_keys, .nkeys = PW_CONF_NKEYS(tls_keys),
};

static const pw_conf_key_t limits_keys[] = {
    {.name = "max_clients", .type = PW_CONF_INT,
     .offset = offsetof(api_limits_conf_t, max_clients), .def = "1000", .min = "1",
     .max = "100000", .desc = "WebSocket clients at once; more are refused (503)"},
    {.name = "max_subscriptions", .type = PW_CONF_INT,
     .offset = offsetof(api_limits_conf_t, max_subscriptions), .def = "64", .min = "1",
     .max = "100000", .desc = "topic patterns one client may subscribe to"},
    {.name = "max_message", .type = PW_CONF_SIZE_BYTES,
     .offset = offsetof(api_limits_conf_t, max_message), .def = "64KiB", .min = "256B",
     .max = "16MiB", .desc = "largest message a client may send; larger ones get an "
                             "error, and a close when repeated"},
    {.name = "idle_timeout", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(api_limits_conf_t, idle_timeout_ms), .def = "60s", .min = "1s",
     .max = "18h", .desc = "hang up a connection silent (not even a pong) for this long "
                           "(whole seconds)"},
    {.name = "ping_interval", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(api_limits_conf_t, ping_interval_ms), .def = "20s", .min = "1s",
     .max = "18h", .desc = "send a WebSocket ping to a connection silent for this long "
                           "(whole seconds; below idle_timeout)"},
    {.name = "client_queue", .type = PW_CONF_INT,
     .offset = offsetof(api_limits_conf_t, client_queue), .def = "256", .min = "1",
     .max = "1000000", .desc = "updates queued per client before updates are conflated "
                               "to the newest value per key"},
    {.name = "max_behind", .type = PW_CONF_INT,
     .offset = offsetof(api_limits_conf_t, max_behind), .def = "65536", .min = "1",
     .max = "10000000", .desc = "keys conflated for a client before it is disconnected "
                                "as too slow (judged as results arrive: keep it above "
                                "the most keys one window fires at once)"},
};

static const pw_conf_section_t limits_section = {
    .name = "limits", .desc = "limits per client and in all", .keys = limits_keys,
    .nkeys = PW_CONF_NKEYS(limits_keys),
};

static const pw_conf_key_t api_keys[] = {
    {.name = "listen", .type = PW_CONF_STRING, .offset = offsetof(api_conf_t, listen),
     .def = "127.0.0.1", .desc = "address the server binds (0.0.0.0 for every interface)"},
    {.name = "port", .type = PW_CONF_INT, .offset = offsetof(api_conf_t, port), .def = "8080",
     .min = "0", .max = "65535", .desc = "TCP port of WebSocket and HTTP; 0 = any free port"},
    {.name = "tokens", .type = PW_CONF_LIST, .offset = offsetof(api_conf_t, tokens),
     .count_offset = offsetof(api_conf_t, ntokens), .elem_size = sizeof(api_token_conf_t),
     .sub = &token_section, .line_offset = offsetof(api_token_conf_t, line), .def = "[]",
     .desc = "access tokens with their scopes; with none, `pitwall run` and `pitwall api` "
             "make an admin token at start and print it"},
    {.name = "tls", .type = PW_CONF_SECTION, .offset = offsetof(api_conf_t, tls),
     .sub = &tls_section, .line_offset = offsetof(api_conf_t, tls_line),
     .desc = "TLS certificate and key"},
    {.name = "limits", .type = PW_CONF_SECTION, .offset = offsetof(api_conf_t, limits),
     .sub = &limits_section, .desc = "limits per client"},
    {.name = "dashboards", .type = PW_CONF_STRING, .offset = offsetof(api_conf_t, dashboards),
     .def = "dashboards", .desc = "folder served as static files at /; empty = none"},
    {.name = "results_topic", .type = PW_CONF_STRING, .offset = offsetof(api_conf_t, results_topic),
     .def = "", .desc = "`pitwall api` follows this stream topic of the embedded log (results "
                        "batches a pipeline's `stream` sink appends) and pushes them to "
                        "WebSocket subscribers; empty = off"},
};

const pw_conf_section_t api_conf_section = {
    .name = "api", .desc = "the WebSocket and HTTP server", .keys = api_keys,
    .nkeys = PW_CONF_NKEYS(api_keys),
};

int api_conf_check(const api_conf_t *c, const char *path, pw_err_t *err)
{
    const char *p = path ? path : "configuration";
    for (size_t i = 0; i < c->ntokens; i++) {
        const api_token_conf_t *t = &c->tokens[i];
        if (t->token == NULL || t->token[0] == '\0')
            return pw_err_set(err, PW_ECONF, "%s:%d: api.tokens[%zu]: the token is empty", p,
                              t->line, i);
        if (strlen(t->token) > API_AUTH_TOKEN_MAX)
            return pw_err_set(err, PW_ECONF, "%s:%d: api.tokens[%zu]: the token is longer "
                              "than %d bytes", p, t->line, i, API_AUTH_TOKEN_MAX);
        if (t->nscopes == 0)
            return pw_err_set(err, PW_ECONF, "%s:%d: api.tokens[%zu]: no scopes", p, t->line,
                              i);
        for (size_t k = 0; k < t->nscopes; k++)
            if (api_auth_scope_parse(t->scopes[k]) == 0)
                return pw_err_set(err, PW_ECONF, "%s:%d: api.tokens[%zu]: unknown scope '%s' "
                                  "(expected one of: read:live, read:history, admin)", p,
                                  t->line, i, t->scopes[k]);
    }
    bool cert = c->tls.cert && *c->tls.cert, key = c->tls.key && *c->tls.key;
    if (cert != key)
        return pw_err_set(err, PW_ECONF, "%s:%d: api.tls: %s is set but %s is not: TLS needs "
                          "both", p, c->tls_line, cert ? "cert" : "key", cert ? "key" : "cert");
    if (c->limits.ping_interval_ms >= c->limits.idle_timeout_ms)
        return pw_err_set(err, PW_ECONF, "%s: api.limits: ping_interval (%lld ms) must be "
                          "below idle_timeout (%lld ms)", p,
                          (long long)c->limits.ping_interval_ms,
                          (long long)c->limits.idle_timeout_ms);
    return 0;
}
